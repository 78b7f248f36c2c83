/// \file result.hh
/// \brief What an operation on a sandbox produced: exactly one of Done(value) or Error(...).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "quickbox/capability.hh"
#include "quickbox/value.hh"

namespace quickbox {

/// Why an operation failed. A closed set: every failure is exactly one of these.
enum class ErrorKind {
  /// An uncaught JavaScript exception; name, message and stack come from the thrown value.
  JSException = 1,
  /// The CPU time budget (or the hard deadline behind it) was spent, or the caller stopped the
  /// evaluation with Sandbox::interrupt().
  Timeout = 2,
  /// The memory limit was reached and the program did not recover.
  OutOfMemory = 3,
  /// The JavaScript stack limit (or the wasm stack behind it) was exceeded.
  StackOverflow = 4,
  /// The result is larger than the result size limit.
  OutputLimit = 5,
  /// The request was malformed: invalid UTF-8 source, oversized source, unknown global, bad
  /// arguments, misuse of the API.
  InvalidInput = 6,
  /// A bug or an unexpected trap; the sandbox's instance was discarded.
  Internal = 7,
  /// The awaited promise can never settle: no job is left to run and nothing outside the
  /// sandbox is going to settle it.
  Deadlock = 8,
};

/// The stable name of a kind: "JSException", "Timeout", ...
std::string_view to_string(ErrorKind kind);

/// A setting of this library that an error is about: an option out of range, or the one to change
/// to get past a refusal. Messages name it as to_string() spells it ("Limits::memory_bytes"); a
/// front end with names of its own (the Python package, the command line) rewords the message
/// with Error::message_naming(), so its users read their own vocabulary.
enum class Setting {
  MemoryBytes,            ///< Limits::memory_bytes
  CpuTime,                ///< Limits::cpu_time
  WallTime,               ///< Limits::wall_time
  StackBytes,             ///< Limits::stack_bytes
  ConsoleBytes,           ///< Limits::console_bytes
  ResultBytes,            ///< Limits::result_bytes
  SourceBytes,            ///< Limits::source_bytes
  MaxDepth,               ///< Limits::max_depth
  HostMemoryBytes,        ///< Limits::host_memory_bytes
  MaxPendingCalls,        ///< Limits::max_pending_calls
  BigIntBytes,            ///< Limits::bigint_bytes
  ClockStartMs,           ///< Clock::start_ms
  ClockStepUs,            ///< Clock::step_us
  AllowAllThreeLabels,    ///< SandboxOptions::allow_all_three_labels
  EvalCpuTime,            ///< EvalOptions::cpu_time
  CallCpuTime,            ///< the cpu_time argument of Sandbox::call()
  CallTimeout,            ///< CapabilityPolicy::call_timeout
  HmacKey,                ///< RestoreOptions::hmac_key
  MaxSandboxes,           ///< EngineOptions::max_sandboxes
  MaxSandboxMemoryBytes,  ///< EngineOptions::max_sandbox_memory_bytes
  EpochTick,              ///< EngineOptions::epoch_tick
};

/// The setting's name as this library's messages write it: "Limits::memory_bytes".
std::string_view to_string(Setting setting);

/// A failed operation.
struct Error {
  ErrorKind kind = ErrorKind::Internal;
  /// The JS error's name (e.g. "TypeError") for JSException; empty when a non-Error was thrown.
  std::string name;
  /// What went wrong; for limits it names the limit and its value.
  std::string message;
  /// The JS stack trace, when there is one.
  std::string stack;
  /// For `throw <non-Error value>`: the thrown value, when it could be converted.
  std::optional<Value> thrown;
  /// True when the wasm instance was discarded (a hard trap). The sandbox refuses further work
  /// until Sandbox::reset() gives it a fresh instance.
  bool instance_discarded = false;
  /// The setting the message is about, which it names as to_string(setting) does; unset when it
  /// names none.
  std::optional<Setting> setting;

  /// The message with the setting's name written as `name` instead ("memory_limit", "--memory"),
  /// for a front end that calls its settings otherwise; the message as it is without a setting.
  std::string message_naming(std::string_view name) const;

  /// "TypeError: x is not a function" or "Timeout: CPU time limit of 5000 ms exceeded".
  std::string to_string() const;
};

/// Console severity, as the guest's console.* method that produced a line.
enum class ConsoleLevel { Log = 0, Info = 1, Warn = 2, Error = 3, Debug = 4 };

/// "log", "info", "warn", "error" or "debug".
std::string_view to_string(ConsoleLevel level);

/// One console.* call (or one write to stdout/stderr by the guest runtime).
struct ConsoleLine {
  ConsoleLevel level = ConsoleLevel::Log;
  std::string text;
};

/// An evaluation that waits on host calls only its caller can settle (approvals and external
/// capabilities). Settle them on the Sandbox, then resume().
struct Suspension {
  std::vector<PendingCall> pending;
};

/// The outcome of one operation: exactly one of Done(value), Error, or Suspended (evaluations
/// waiting on the caller), plus the console output it produced.
class Result {
 public:
  /// A Done result.
  static Result done(Value value) { return Result(std::move(value)); }
  /// An Error result.
  static Result failure(Error error) { return Result(std::move(error)); }
  /// A Suspended result.
  static Result suspended(std::vector<PendingCall> pending) { return Result(Suspension{std::move(pending)}); }

  /// True for Done.
  bool ok() const { return std::holds_alternative<Value>(outcome_); }
  /// True for Error.
  bool failed() const { return std::holds_alternative<Error>(outcome_); }
  /// True for Suspended.
  bool is_suspended() const { return std::holds_alternative<Suspension>(outcome_); }
  /// The value of a Done result; throws std::bad_variant_access otherwise.
  const Value &value() const { return std::get<Value>(outcome_); }
  /// The error of an Error result; throws std::bad_variant_access otherwise.
  const Error &error() const { return std::get<Error>(outcome_); }
  /// The calls a Suspended result waits on; throws std::bad_variant_access otherwise.
  const std::vector<PendingCall> &pending() const { return std::get<Suspension>(outcome_).pending; }

  /// Set on a Done result when EvalOptions::display was asked for: the final value's text,
  /// formatted inside the sandbox. value() holds the value as data too, or undefined when it could
  /// not leave the sandbox (a function, a Map, a cycle...).
  std::optional<std::string> display;
  /// Console lines captured during the operation, in order.
  std::vector<ConsoleLine> console;
  /// Bytes of console output dropped because the console limit was reached (0 if none). When
  /// non-zero, the last captured line is followed by nothing: output was cut, not lost silently.
  uint64_t console_dropped_bytes = 0;

 private:
  explicit Result(Value v) : outcome_(std::move(v)) {}
  explicit Result(Error e) : outcome_(std::move(e)) {}
  explicit Result(Suspension s) : outcome_(std::move(s)) {}
  std::variant<Value, Error, Suspension> outcome_;
};

/// A value or an Error, for fallible calls that are not JavaScript evaluations (creating a
/// sandbox, reading a global). Same style as wasmtime's Result<T>.
template <typename T>
class Expected {
 public:
  Expected(T value) : data_(std::move(value)) {}
  Expected(Error error) : data_(std::move(error)) {}

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T &value() & { return std::get<0>(data_); }
  T &&value() && { return std::get<0>(std::move(data_)); }
  const T &value() const & { return std::get<0>(data_); }
  const Error &error() const { return std::get<1>(data_); }
  /// The value, or throws std::runtime_error carrying the error's text.
  T unwrap() &&;

 private:
  std::variant<T, Error> data_;
};

/// Success or an Error, for fallible calls that return nothing.
using Status = Expected<std::monostate>;

/// Thrown by Expected::unwrap().
class QuickboxError : public std::runtime_error {
 public:
  explicit QuickboxError(Error e) : std::runtime_error(e.to_string()), error_(std::move(e)) {}
  const Error &error() const { return error_; }

 private:
  Error error_;
};

template <typename T>
T Expected<T>::unwrap() && {
  if (!ok()) throw QuickboxError(error());
  return std::get<0>(std::move(data_));
}

}  // namespace quickbox
