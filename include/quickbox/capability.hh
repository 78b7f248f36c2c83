/// \file capability.hh
/// \brief Host functions a sandbox may call: capabilities, their policy, and the audit log.
///
/// A sandbox starts with nothing. Everything it can do beyond computing is a named capability the
/// host registers on it, each with a budget, a concurrency cap, size caps, an optional approval
/// step and labels for the rule of two. Every call is recorded in the sandbox's audit log.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "quickbox/value.hh"

namespace quickbox {

/// Labels for the rule of two: a sandbox whose capabilities together carry all three is refused
/// unless the embedder opts out (SandboxOptions::allow_all_three_labels).
enum CapabilityLabel : uint8_t {
  kSensitiveData = 1,   ///< reads data the user would not want leaked
  kUntrustedInput = 2,  ///< returns content an attacker may control (web pages, email)
  kExternalEffect = 4,  ///< changes the world outside (sends, writes, pays)
};

/// Limits and rules for one capability.
struct CapabilityPolicy {
  /// Calls allowed per evaluation (eval/call and its resumes); further calls fail in JS with a
  /// "budget exceeded" error. Unset: no cap beyond the sandbox's own.
  std::optional<uint32_t> max_calls_per_eval;
  /// Calls of this capability running at once; further calls wait their turn, in order.
  std::optional<uint32_t> max_in_flight;
  /// How long the host may take to settle one async call before it rejects in JS as timed out.
  /// For External capabilities the clock starts when the call is handed to the caller and is
  /// checked whenever the program is driven (eval/resume).
  std::optional<std::chrono::milliseconds> call_timeout;
  /// Largest encoded argument list accepted, bytes.
  uint64_t max_argument_bytes = 1ull << 20;
  /// Largest encoded result accepted, bytes (a larger result rejects the call).
  uint64_t max_result_bytes = 16ull << 20;
  /// Calling it suspends the program until the host approves (the handler then runs; for an
  /// External capability, the call then waits for its answer) or denies (the call rejects in JS).
  /// Such capabilities are async in JS.
  bool requires_approval = false;
  /// Decides per call whether it waits for approval like requires_approval (fetch's
  /// NetworkPolicy::approve uses it). Called with the call's arguments on the thread running the
  /// program; it must not call back into the sandbox. Such capabilities are async in JS.
  std::function<bool(std::span<const Value> args)> approval_for;
  /// CapabilityLabel bits.
  uint8_t labels = 0;
};

/// Thrown by a handler to fail the call with a message JS may see. Any other exception fails the
/// call with a generic message that reveals nothing about the host.
class CapabilityError : public std::runtime_error {
 public:
  /// audit_detail, when given, is what the audit log records instead of the message: the host
  /// keeps the detail of a failure (a Python traceback's last line, say) while the untrusted
  /// program only learns a fixed message.
  explicit CapabilityError(const std::string &message, std::string name = "Error", std::string audit_detail = "")
      : std::runtime_error(message), name_(std::move(name)), message_(message), audit_detail_(std::move(audit_detail)) {}
  /// The JS error name (e.g. "Error", "TypeError").
  const std::string &name() const { return name_; }
  /// The whole message, NUL bytes included (what() stops at the first one). JS receives it cut
  /// to the documented error-text size (docs/limits.md).
  const std::string &message() const { return message_; }
  /// What the audit log records: audit_detail when one was given, else the message.
  const std::string &audit_detail() const { return audit_detail_.empty() ? message_ : audit_detail_; }

 private:
  std::string name_;
  std::string message_;
  std::string audit_detail_;
};

/// Identifies one call to a handler, and how long it may take.
struct CallInfo {
  uint32_t call_id = 0;
  std::string capability;
  /// When the evaluation's wall clock (Limits::wall_time) runs out; unset when it has none. The
  /// host cannot preempt a running handler: one that runs past this instant makes the evaluation
  /// end in Timeout as soon as it returns, so a handler doing long work should bound it by this.
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

/// One HTTP request a call made (fetch()), as its audit entry records it. Credentials are never
/// in it: no user:password, no injected header or query parameter.
struct NetworkRequest {
  std::string method;
  std::string url;
  int status = 0;  ///< the HTTP status; 0 when no response came (refused, failed, cancelled)
  uint64_t request_bytes = 0;   ///< body bytes sent
  uint64_t response_bytes = 0;  ///< body bytes received (after content decoding)
  std::chrono::microseconds duration{0};
  std::string error;  ///< why it was refused or failed; empty when a response came
};

/// Settles one async call, from any thread, at most once (later calls are ignored). Copyable:
/// copies settle the same call.
class Completion {
 public:
  /// The JS promise resolves with value.
  void resolve(Value value) const;
  /// The JS promise rejects with an Error carrying message (and name).
  void reject(std::string message, std::string name = "Error") const;
  /// True once resolved or rejected.
  bool settled() const;
  /// Records (or, for an index recorded before, updates) the index-th network request the call
  /// made, for its audit entry. Ignored once the call is settled: record before settling.
  void record_request(size_t index, NetworkRequest request) const;

  struct State;
  explicit Completion(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;
};

/// A handler that returns its value at once. JS sees a plain function (or an async one when the
/// capability needs approval).
using SyncHandler = std::function<Value(const CallInfo &, std::span<const Value> args)>;
/// A handler that settles later through its Completion, possibly from another thread. It is called
/// on the thread driving the sandbox and should return quickly. JS sees an async function.
using AsyncHandler = std::function<void(const CallInfo &, std::vector<Value> args, Completion done)>;

/// A named host function offered to one sandbox.
struct Capability {
  enum class Kind {
    Sync,      ///< runs SyncHandler inside the JS call
    Async,     ///< runs AsyncHandler; JS gets a Promise
    External,  ///< no handler: calls surface as pending calls the caller settles (a person's
               ///< answer, another process, an event loop in a language binding)
  };
  /// The JS name: a global function, or a dotted path ("tools.search") under namespace objects.
  std::string name;
  Kind kind = Kind::External;
  SyncHandler sync_handler;
  AsyncHandler async_handler;
  CapabilityPolicy policy;

  static Capability sync(std::string name, SyncHandler handler, CapabilityPolicy policy = {});
  static Capability async(std::string name, AsyncHandler handler, CapabilityPolicy policy = {});
  static Capability external(std::string name, CapabilityPolicy policy = {});
};

/// How a call ended (or that it has not yet).
enum class CallOutcome {
  Ok,              ///< the handler (or the caller) resolved it
  Error,           ///< the handler failed or the caller rejected it
  Denied,          ///< approval was denied
  BudgetExceeded,  ///< refused: per-eval budget or argument size cap
  Timeout,         ///< the handler did not settle within call_timeout, or the eval's wall clock ran out
  Cancelled,       ///< the evaluation ended (or was abandoned) before the call settled
  Pending,         ///< still waiting (approval, an external answer, or a free slot)
};

/// "ok", "error", "denied", "budget_exceeded", "timeout", "cancelled", "pending".
std::string_view to_string(CallOutcome outcome);

/// One line of the audit log.
struct AuditEntry {
  std::string capability;
  uint32_t call_id = 0;
  uint64_t argument_bytes = 0;
  std::string argument_digest;  ///< SHA-256 (hex) of the CBOR-encoded arguments
  std::chrono::system_clock::time_point start;
  std::chrono::microseconds duration{0};
  CallOutcome outcome = CallOutcome::Pending;
  std::string detail;  ///< the error or refusal message, if any
  /// The HTTP requests the call made (fetch(): one per redirect hop), in order.
  std::vector<NetworkRequest> requests;
};

/// A call waiting for the host's caller: approval, or an external answer.
struct PendingCall {
  uint32_t call_id = 0;
  std::string capability;
  std::vector<Value> args;
  /// True when the call waits for approve()/deny(); false when it waits for resolve()/reject().
  bool needs_approval = false;
};

}  // namespace quickbox
