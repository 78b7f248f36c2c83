// Printing what an evaluation produced: as text the way Node would, or as one JSON object.
#include <iostream>
#include <string>

#include "cli.hh"

namespace quickbox::cli {

int exit_code_for(ErrorKind kind) {
  for (const ExitStatus &status : kExitStatuses) {
    if (status.kind == kind) return status.code;
  }
  return kExitInternal;  // every ErrorKind has a row; a kind without one would be our bug
}

namespace {

// ---- Text ------------------------------------------------------------------------------------------

/// Node sends console.warn and console.error to stderr, everything else to stdout.
std::ostream &stream_for(ConsoleLevel level) {
  return level == ConsoleLevel::Warn || level == ConsoleLevel::Error ? std::cerr : std::cout;
}

// std::cerr is tied to std::cout, so stdout is flushed before every stderr write and lines on
// the two streams keep their order on a terminal.
void print_console(const Result &result, uint64_t console_limit) {
  for (const ConsoleLine &line : result.console) stream_for(line.level) << line.text << '\n';
  if (result.console_dropped_bytes != 0) {
    std::cerr << "quickbox: console output reached its limit of " << console_limit
              << " bytes per evaluation; " << result.console_dropped_bytes
              << " more bytes were dropped\n";
  }
}

/// "Uncaught TypeError: x is not a function" (as Node's REPL says it), "Uncaught 'a string'" for a
/// thrown non-Error, or "Timeout: CPU time limit of 200 ms exceeded" for a limit.
std::string headline(const Error &error) {
  if (error.kind != ErrorKind::JSException) return std::string(to_string(error.kind)) + ": " + error.message;
  if (error.thrown) return "Uncaught " + inspect(*error.thrown);
  if (error.name.empty()) return "Uncaught " + error.message;
  if (error.message.empty()) return "Uncaught " + error.name;
  return "Uncaught " + error.name + ": " + error.message;
}

void print_error(const Error &error) {
  std::cerr << headline(error) << '\n' << error.stack;
  if (!error.stack.empty() && !error.stack.ends_with('\n')) std::cerr << '\n';
}

void print_value(const Value &value, ValueDisplay display) {
  switch (display) {
    case ValueDisplay::NodePrintUnlessUndefined:
      if (value.is_undefined()) return;
      [[fallthrough]];
    case ValueDisplay::NodePrint:
      std::cout << format_for_display(value) << '\n';
      return;
    case ValueDisplay::Inspect:
      std::cout << inspect(value) << '\n';
      return;
  }
}

// ---- JSON ------------------------------------------------------------------------------------------

Value error_object(const Error &error) {
  Value::Object object{{"kind", to_string(error.kind)},
                       {"name", error.name},
                       {"message", error.message},
                       {"stack", error.stack}};
  // `throw {code: 42}`: keep the thrown value itself for machine readers.
  if (error.thrown) object.emplace_back("thrown", *error.thrown);
  return object;
}

Value console_array(const std::vector<ConsoleLine> &lines) {
  Value::Array array;
  array.reserve(lines.size());
  for (const ConsoleLine &line : lines) {
    array.emplace_back(Value::Object{{"level", to_string(line.level)}, {"text", line.text}});
  }
  return array;
}

/// {"ok":true,"value":...} or {"ok":false,"error":{...}}, then the console fields. An undefined
/// value is written as null: JSON has no undefined, and the key should always be there.
void print_envelope(const Value *value, const Error *error, const std::vector<ConsoleLine> &console,
                    uint64_t console_dropped_bytes) {
  Value::Object envelope{{"ok", value != nullptr}};
  if (value) envelope.emplace_back("value", value->is_undefined() ? Value(nullptr) : *value);
  if (error) envelope.emplace_back("error", error_object(*error));
  envelope.emplace_back("console", console_array(console));
  envelope.emplace_back("console_dropped_bytes", static_cast<double>(console_dropped_bytes));
  std::cout << to_json(envelope) << '\n';
}

}  // namespace

int report(const Result &result, bool json, ValueDisplay display, uint64_t console_limit) {
  if (json) {
    print_envelope(result.ok() ? &result.value() : nullptr, result.ok() ? nullptr : &result.error(),
                   result.console, result.console_dropped_bytes);
  } else {
    print_console(result, console_limit);
    if (result.ok()) {
      print_value(result.value(), display);
    } else {
      print_error(result.error());
    }
  }
  std::cout.flush();
  return result.ok() ? kExitOk : exit_code_for(result.error().kind);
}

int report_setup_error(const Error &error, bool json) {
  if (json) {
    print_envelope(nullptr, &error, {}, 0);
  } else {
    std::cerr << "quickbox: cannot start the sandbox: " << error.to_string() << '\n';
  }
  return exit_code_for(error.kind);
}

}  // namespace quickbox::cli
