// Sandbox::Impl: the state of one sandbox, shared by sandbox.cc (operations), capability.cc (host
// calls and their driving loop) and snapshot.cc (capture and restore).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

#include "engine_impl.hh"
#include "quickbox/snapshot.hh"

namespace quickbox {

/// Shared by a Completion and the sandbox that waits for it.
struct Completion::State {
  std::mutex mutex;
  bool settled = false;
  bool ok = false;
  Value value;
  std::string error_name, error_message;
  /// Wakes the sandbox's driving loop; shared by all calls of one sandbox.
  std::shared_ptr<struct CompletionSignal> signal;
};

/// How a sandbox waits for its handlers: completions bump `generation` and notify.
struct CompletionSignal {
  std::mutex mutex;
  std::condition_variable wake;
  uint64_t generation = 0;
  void notify() {
    {
      std::lock_guard lock(mutex);
      generation++;
    }
    wake.notify_all();
  }
};

namespace internal {

/// A capability known to a sandbox. After a restore, entries come from the snapshot with
/// `bound == false` until the new host registers the same name.
struct RegisteredCapability {
  std::string name;
  uint32_t id = 0;
  bool js_async = false;  ///< how the JS function behaves (fixed when it was defined)
  bool bound = false;
  Capability capability;  ///< handler and policy (empty until bound)
  uint32_t calls_this_eval = 0;
  uint32_t in_flight = 0;
};

/// An async call the host has accepted and not yet settled in the guest.
struct HostCall {
  enum class State : uint8_t {
    Queued = 0,            ///< waiting for an in-flight slot
    AwaitingApproval = 1,  ///< the caller must approve() or deny()
    Approved = 2,          ///< approved; its handler runs on the next resume()
    AwaitingExternal = 3,  ///< the caller must resolve() or reject()
    Running = 4,           ///< its handler was started; waiting for its Completion
  };
  uint32_t id = 0;
  uint32_t capability_id = 0;
  std::vector<uint8_t> args_cbor;
  std::vector<Value> args;
  State state = State::Queued;
  std::shared_ptr<Completion::State> completion;
  std::chrono::steady_clock::time_point started;
  std::optional<std::chrono::steady_clock::time_point> timeout_at;
  size_t audit_index = 0;
  bool holds_slot = false;
};

/// Validates SandboxOptions against the engine's; the error names the bad option and its range.
std::optional<Error> check_sandbox_options(const SandboxOptions &options, const EngineOptions &engine);

}  // namespace internal

struct Sandbox::Impl : internal::HostCallSink {
  std::shared_ptr<Engine::Impl> engine;
  SandboxOptions options;
  internal::HostState host;
  wasmtime_store_t *store = nullptr;
  wasmtime_context_t *context = nullptr;
  wasmtime_instance_t instance{};
  struct {
    wasmtime_func_t reserve, configure, eval, call, get_global, set_global, run_jobs, memory_usage,
        define_capability, settle, resume, abandon;
  } fn{};
  wasmtime_global_t stack_pointer{};
  uint32_t exchange_address = 0;
  uint32_t input_ptr = 0, input_cap = 0;
  bool discarded = false;
  std::string discard_reason;

  // ---- the evaluation in progress ----
  /// An eval/call that has not ended (it is being driven, or it is Suspended).
  bool evaluating = false;
  /// CPU budget of the evaluation and how much of it its operations used so far.
  std::chrono::milliseconds eval_cpu_budget{0};
  std::chrono::nanoseconds eval_cpu_used{0};
  /// Wall-clock deadline of the current eval()/resume() call (Limits::wall_time).
  std::optional<std::chrono::steady_clock::time_point> wall_deadline;
  /// Console output of the evaluation's operations, delivered with its final result.
  std::vector<ConsoleLine> console;
  uint64_t console_dropped = 0;
  /// The CPU budget of the running operation (what a Timeout message reports).
  std::chrono::milliseconds op_cpu_time{0};

  // ---- capabilities ----
  std::vector<internal::RegisteredCapability> capabilities;
  std::vector<internal::HostCall> calls;
  /// Restored from an unsigned snapshot: its call states are not trusted for approvals.
  bool restored_unsigned = false;
  uint32_t next_call_id = 1;
  uint32_t host_calls_this_eval = 0;
  /// Set when resolve()/reject()/deny() settled a call in the guest: resume must run jobs.
  bool settled_since_resume = false;
  std::vector<AuditEntry> audit;
  /// Finished entries dropped from the front to respect Limits::max_audit_entries. HostCall keeps
  /// absolute indexes: entry i lives at audit[i - audit_dropped].
  uint64_t audit_dropped = 0;
  std::shared_ptr<CompletionSignal> signal = std::make_shared<CompletionSignal>();

  ~Impl() { release(); }
  void release();

  uint64_t hard_memory_limit() const;
  std::optional<Error> instantiate();
  std::optional<Error> bind_exports();
  std::optional<Error> configure();
  /// Arms the hard deadline for a control call (exchange, reserve, configure): after a restore
  /// these run guest code on memory the snapshot supplied, which must not hang the host.
  void arm_control_deadline();
  std::optional<Error> read_exchange(qb_exchange &out);
  std::optional<Error> write_input(std::initializer_list<std::string_view> parts);

  /// Runs one guest export under the evaluation's remaining CPU budget (or, for control
  /// operations that run no user code, under own_budget without charging the evaluation).
  /// Returns the guest's status, or an Error (a trap discards the instance). Collects console
  /// output.
  Expected<int32_t> run_op(const wasmtime_func_t &func, std::initializer_list<uint32_t> args,
                           std::optional<std::chrono::milliseconds> own_budget = std::nullopt);
  /// run_op for settle/abandon: they run no user code and must work even when the budget is spent.
  Expected<int32_t> run_control_op(const wasmtime_func_t &func, std::initializer_list<uint32_t> args) {
    return run_op(func, args, options.limits.cpu_time);
  }
  /// Starts an evaluation: resets per-eval budgets and runs the first operation.
  Result start_evaluation(const wasmtime_func_t &func, std::initializer_list<uint32_t> args,
                          std::chrono::milliseconds cpu_time);
  /// Runs an operation that is not an evaluation (globals, memory usage).
  Result run_simple(const wasmtime_func_t &func, std::initializer_list<uint32_t> args);
  /// Drives the evaluation from a guest status to Done, Error or Suspended.
  Result drive(int32_t status);
  /// Reads the guest's reply (value or error) after a DONE/ERROR status.
  Result read_reply(int32_t status);
  Result finish_evaluation(Result result);
  Error trap_error(wasm_trap_t *trap);
  /// Appends the console records the guest published in its exchange block to `console`.
  std::optional<Error> collect_console();
  Error limit_error(ErrorKind kind, std::string name, std::string message, std::string stack) const;
  Result discarded_result() const;
  std::optional<Error> refuse_while_suspended(const char *what) const;

  // ---- capabilities (capability.cc) ----
  internal::HostReply on_host_call(uint32_t capability_id, std::span<const uint8_t> args) override;
  std::optional<Error> check_rule_of_two(const Capability &extra) const;
  void dispatch_ready_calls();
  /// Delivers settled completions and timeouts to the guest; returns how many calls it settled.
  Expected<size_t> deliver_completions();
  Status settle_in_guest(internal::HostCall &call, bool ok, const Value &value);
  void close_audit(size_t index, CallOutcome outcome, std::string detail);
  /// Appends an entry (trimming old finished ones beyond the cap); returns its absolute index.
  size_t record_audit(AuditEntry entry);
  /// The entry with this absolute index, or nullptr once it was dropped.
  AuditEntry *audit_entry(size_t index);
  void cancel_outstanding_calls(const std::string &why);
  void release_slot(internal::HostCall &call);
  std::vector<PendingCall> pending_for_caller() const;
  internal::RegisteredCapability *find_capability(uint32_t id);
  const internal::RegisteredCapability *find_capability(uint32_t id) const;
  internal::HostCall *find_call(uint32_t id);
};

}  // namespace quickbox
