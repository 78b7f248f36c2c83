// Names and messages of results.
#include "quickbox/result.hh"

namespace quickbox {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::JSException: return "JSException";
    case ErrorKind::Timeout: return "Timeout";
    case ErrorKind::OutOfMemory: return "OutOfMemory";
    case ErrorKind::StackOverflow: return "StackOverflow";
    case ErrorKind::OutputLimit: return "OutputLimit";
    case ErrorKind::InvalidInput: return "InvalidInput";
    case ErrorKind::Internal: return "Internal";
    case ErrorKind::Deadlock: return "Deadlock";
  }
  return "Internal";
}

std::string_view to_string(ConsoleLevel level) {
  switch (level) {
    case ConsoleLevel::Log: return "log";
    case ConsoleLevel::Info: return "info";
    case ConsoleLevel::Warn: return "warn";
    case ConsoleLevel::Error: return "error";
    case ConsoleLevel::Debug: return "debug";
  }
  return "log";
}

std::string Error::to_string() const {
  if (kind == ErrorKind::JSException) {
    if (name.empty()) return "Uncaught " + message;
    return name + ": " + message;
  }
  return std::string(quickbox::to_string(kind)) + ": " + message;
}

}  // namespace quickbox
