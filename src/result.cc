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

std::string_view to_string(Setting setting) {
  switch (setting) {
    case Setting::MemoryBytes: return "Limits::memory_bytes";
    case Setting::CpuTime: return "Limits::cpu_time";
    case Setting::WallTime: return "Limits::wall_time";
    case Setting::StackBytes: return "Limits::stack_bytes";
    case Setting::ConsoleBytes: return "Limits::console_bytes";
    case Setting::ResultBytes: return "Limits::result_bytes";
    case Setting::SourceBytes: return "Limits::source_bytes";
    case Setting::MaxDepth: return "Limits::max_depth";
    case Setting::HostMemoryBytes: return "Limits::host_memory_bytes";
    case Setting::MaxPendingCalls: return "Limits::max_pending_calls";
    case Setting::BigIntBytes: return "Limits::bigint_bytes";
    case Setting::ClockStartMs: return "Clock::start_ms";
    case Setting::ClockStepUs: return "Clock::step_us";
    case Setting::AllowAllThreeLabels: return "SandboxOptions::allow_all_three_labels";
    case Setting::EvalCpuTime: return "EvalOptions::cpu_time";
    case Setting::CallCpuTime: return "the cpu_time of call()";
    case Setting::CallTimeout: return "CapabilityPolicy::call_timeout";
    case Setting::HmacKey: return "RestoreOptions::hmac_key";
    case Setting::MaxSandboxes: return "EngineOptions::max_sandboxes";
    case Setting::MaxSandboxMemoryBytes: return "EngineOptions::max_sandbox_memory_bytes";
    case Setting::EpochTick: return "EngineOptions::epoch_tick";
  }
  return "an unknown setting";
}

std::string Error::message_naming(std::string_view name) const {
  if (!setting) return message;
  std::string out = message;
  const std::string_view ours = quickbox::to_string(*setting);
  for (size_t at = out.find(ours); at != std::string::npos; at = out.find(ours, at + name.size()))
    out.replace(at, ours.size(), name);
  return out;
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
