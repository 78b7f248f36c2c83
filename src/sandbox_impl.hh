// Sandbox::Impl: the state of one sandbox, shared by sandbox.cc (operations), capability.cc (host
// calls and their driving loop) and snapshot.cc (capture and restore).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "engine_impl.hh"
#include "quickbox/snapshot.hh"
#include "sandbox_use.hh"

namespace quickbox {

/// Shared by a Completion and the sandbox that waits for it.
struct Completion::State {
  std::mutex mutex;
  bool settled = false;
  bool ok = false;
  Value value;
  std::string error_name, error_message;
  /// The network requests the call made (Completion::record_request), for its audit entry; at
  /// most kMaxRequests + 1 of them.
  std::vector<NetworkRequest> requests;
  static constexpr size_t kMaxRequests = 64;
  /// Wakes the sandbox's driving loop; shared by all calls of one sandbox.
  std::shared_ptr<struct CompletionSignal> signal;
};

/// How a sandbox waits for its handlers: completions bump `generation` and notify. Shared with
/// every thread that may wake the sandbox, which is also how Sandbox::interrupt() reaches it.
struct CompletionSignal {
  std::mutex mutex;
  std::condition_variable wake;
  uint64_t generation = 0;
  /// Set by Sandbox::interrupt(); cleared when the next public operation starts (OperationGuard).
  std::atomic<bool> interrupt = false;
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
  /// QB_CAPABILITY_* flags beyond ASYNC it was defined with (QB_CAPABILITY_FETCH), kept so that
  /// reset() defines it the same way.
  uint32_t define_flags = 0;
};

/// Bytes counted against a sandbox's host-memory budget (Limits::host_memory_bytes) for as long
/// as the charge lives; moving it moves the charge.
class HostMemoryCharge {
 public:
  HostMemoryCharge() = default;
  HostMemoryCharge(uint64_t *meter, uint64_t bytes) : meter_(meter), bytes_(bytes) { *meter_ += bytes_; }
  HostMemoryCharge(HostMemoryCharge &&other) noexcept
      : meter_(std::exchange(other.meter_, nullptr)), bytes_(other.bytes_) {}
  HostMemoryCharge &operator=(HostMemoryCharge &&other) noexcept {
    if (this != &other) {
      release();
      meter_ = std::exchange(other.meter_, nullptr);
      bytes_ = other.bytes_;
    }
    return *this;
  }
  HostMemoryCharge(const HostMemoryCharge &) = delete;
  HostMemoryCharge &operator=(const HostMemoryCharge &) = delete;
  ~HostMemoryCharge() { release(); }
  uint64_t bytes() const { return meter_ ? bytes_ : 0; }

 private:
  void release() {
    if (meter_) *meter_ -= bytes_;
    meter_ = nullptr;
  }
  uint64_t *meter_ = nullptr;
  uint64_t bytes_ = 0;
};

/// An async call the host has accepted and not yet settled in the guest. Its arguments are kept
/// once, encoded; they are decoded when a handler or the caller needs them.
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
  State state = State::Queued;
  std::shared_ptr<Completion::State> completion;
  std::chrono::steady_clock::time_point started;
  std::optional<std::chrono::steady_clock::time_point> timeout_at;
  size_t audit_index = 0;
  bool holds_slot = false;
  /// What the host holds for the call: its encoded arguments, what decoding them takes, and the
  /// bookkeeping around them.
  HostMemoryCharge charge;
};

/// Roughly the host memory a decoded value occupies (the Value nodes and their strings/bytes).
uint64_t value_footprint(const Value &value);

/// What the host holds for one pending call with these encoded and decoded arguments.
uint64_t pending_call_cost(std::span<const uint8_t> args_cbor, std::span<const Value> args);

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
  /// The guest's exported function `which`, looked up on first use in this instance: each
  /// lookup costs wasmtime a search for the function's code, and binding all fourteen up front
  /// was about half of sandbox creation, while most sandboxes call only a few.
  const wasmtime_func_t &func(size_t internal::GuestExports::*which);
  std::array<wasmtime_func_t, internal::kMaxGuestExports> funcs{};
  uint64_t funcs_bound = 0;  // bit i: funcs[i] holds export i of this instance
  wasmtime_global_t stack_pointer{};
  uint32_t exchange_address = 0;
  uint32_t input_ptr = 0, input_cap = 0;
  /// Atomic: discarded() and suspended() answer from any thread, even while an operation runs.
  std::atomic<bool> discarded = false;
  std::string discard_reason;
  /// Which thread runs which public operation (the threading contract in sandbox.hh).
  internal::SandboxUse use;

  // ---- the evaluation in progress ----
  /// An eval/call that has not ended (it is being driven, or it is Suspended).
  std::atomic<bool> evaluating = false;
  /// The guest may still be driving the evaluation (its last status was PENDING): an evaluation
  /// the host ends early must be abandoned in the guest too.
  bool guest_driving = false;
  /// The evaluation's one CPU meter: its budget, and how much of it guest code run for it (eval,
  /// call, settle, resume, run_jobs) and the host's work per call used so far.
  std::chrono::milliseconds eval_cpu_budget{0};
  std::chrono::nanoseconds eval_cpu_used{0};
  /// Total CPU time host handlers used on the calling thread (the one part of a host call the
  /// CPU meter leaves out).
  std::chrono::nanoseconds handler_time{0};
  /// Wall-clock deadline of the current eval()/resume() call (Limits::wall_time).
  std::optional<std::chrono::steady_clock::time_point> wall_deadline;
  /// Console output of the evaluation's operations, delivered with its final result.
  std::vector<ConsoleLine> console;
  uint64_t console_dropped = 0;
  /// Bytes of the evaluation's console lines handed to SandboxOptions::on_console so far (they
  /// count against Limits::console_bytes as kept lines do).
  uint64_t console_live_bytes = 0;
  /// Set when the console listener threw: the operation stops and ends with this message.
  std::optional<std::string> console_failure;
  /// The CPU budget of the running operation (what a Timeout message reports).
  std::chrono::milliseconds op_cpu_time{0};
  /// An evaluation that ended while the caller settled one of its calls (resolve/reject/deny ran
  /// guest code that failed, e.g. ran out of CPU): the next resume() returns it.
  std::optional<Result> ended;

  // ---- timers (timers.cc) ----
  /// When the current eval()/resume() call started, for its wall-clock limit on timers.
  std::chrono::steady_clock::time_point timer_clock_start{};
  /// Virtual time the driving loop jumped over in this call (Fixed and Deterministic clocks), which
  /// counts as time passed.
  std::chrono::nanoseconds timer_jumped{0};
  /// Time this call spent waiting on timers alone (sleeping or jumping), which the CPU time limit
  /// bounds when there is no wall-clock limit.
  std::chrono::nanoseconds timer_waited{0};

  // ---- host memory (Limits::host_memory_bytes) ----
  /// Bytes held for pending calls (through their HostMemoryCharge), the console and the audit log.
  uint64_t call_bytes = 0, console_held_bytes = 0, audit_bytes = 0;
  /// Console bytes of operations set aside while one runs nested (they are still held).
  uint64_t parked_console_bytes = 0;
  uint64_t host_memory_budget() const { return options.limits.host_memory_bytes.value_or(options.limits.memory_bytes); }
  uint64_t host_memory_used() const { return call_bytes + console_held_bytes + parked_console_bytes + audit_bytes; }
  /// Whether `bytes` more fit in the budget now.
  bool host_memory_fits(uint64_t bytes) const {
    return host_memory_used() <= host_memory_budget() && bytes <= host_memory_budget() - host_memory_used();
  }

  // ---- nesting: operations run from inside one of this sandbox's host functions (Nesting) ----
  /// Operations set aside for a nested one (0: none runs nested). Atomic: suspended() reads it.
  std::atomic<uint32_t> nest_depth = 0;
  /// Guest frames on the stack: calls into the guest that have not returned (an outer one stays
  /// while a nested one runs). While any is, a dead instance cannot be released yet.
  uint32_t guest_frames = 0;
  /// CPU time nested operations took on the calling thread. A host handler's time leaves it out,
  /// so the outer evaluation's meter is charged for its nested guest code.
  std::chrono::nanoseconds nested_time{0};
  /// What the outer evaluation has left, which bounds a nested operation: CPU time, and the
  /// wall-clock deadline. Unset outside nesting.
  std::optional<std::chrono::nanoseconds> nested_cpu_left;
  std::optional<std::chrono::steady_clock::time_point> nested_wall_cap;
  /// Starts the CPU meter of an operation with this budget, within what the outer evaluation
  /// has left when it runs nested.
  void start_meter(std::chrono::milliseconds budget);
  /// Marks the instance discarded and releases it, or, while guest frames of an outer operation
  /// are on the stack, has them unwound first (HostState::abort_guest): the outermost operation
  /// releases it.
  void drop_instance();

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
  /// Destroys a sandbox, or hands it to the operation running it when called from inside one of
  /// its host functions (that operation destroys it when it returns).
  static void dispose(std::unique_ptr<Impl> impl);
  /// register_capability without the in-use guard (reset() re-registers under its own).
  /// define_flags: QB_CAPABILITY_* flags for the guest beyond ASYNC (built-in capabilities).
  Status add_capability(Capability capability, uint32_t define_flags = 0);
  /// Registers fetch() when options.network grants it (src/network/grant.cc); on a restored
  /// sandbox it binds the snapshot's fetch.
  std::optional<Error> grant_network();

  uint64_t hard_memory_limit() const;
  std::optional<Error> instantiate();
  std::optional<Error> bind_exports();
  std::optional<Error> configure();
  /// Arms the hard deadline for a control call (exchange, reserve, configure): after a restore
  /// these run guest code on memory the snapshot supplied, which must not hang the host.
  void arm_control_deadline();
  std::optional<Error> read_exchange(qb_exchange &out);
  std::optional<Error> write_input(std::initializer_list<std::string_view> parts);

  /// Runs one guest export under the evaluation's remaining CPU budget and wall clock, and
  /// charges its time (less handler time) to the evaluation's meter; or, for a cleanup that runs
  /// no user code, under own_budget without charging it. The epoch backstop is armed either way.
  /// Returns the guest's status, or an Error: Timeout once a deadline passed (even if the guest
  /// finished first), or a trap (which discards the instance). Collects console output.
  /// `now` is a steady_clock reading the caller took just before, if it has one.
  Expected<int32_t> run_op(const wasmtime_func_t &func, std::initializer_list<uint32_t> args,
                           std::optional<std::chrono::milliseconds> own_budget = std::nullopt,
                           std::optional<std::chrono::steady_clock::time_point> now = std::nullopt);
  /// Drops the guest's side of the evaluation (its driven promise and pending calls). It runs no
  /// JS: freeing values queues FinalizationRegistry callbacks as jobs, and no job runs after it.
  /// So it must, and may, work when the evaluation's budget is spent.
  Expected<int32_t> abandon_in_guest();
  /// The Timeout error for the deadline that passed (the wall clock's or the CPU budget's).
  Error timeout_error() const;
  /// Charges host work done for the evaluation outside guest code to its CPU meter.
  void charge_host_work(internal::ThreadCpuClock::time_point started, std::chrono::nanoseconds handler_before);
  /// Runs a capability's handler (which may throw), adding its time to handler_time and to
  /// *spent when given.
  template <class F>
  void timed_handler(F &&run, std::chrono::nanoseconds *spent = nullptr,
                     std::optional<internal::ThreadCpuClock::time_point> *ended = nullptr) {
    struct Stop {
      Impl &s;
      std::chrono::nanoseconds *spent;
      std::optional<internal::ThreadCpuClock::time_point> *ended;
      internal::ThreadCpuClock::time_point started = internal::ThreadCpuClock::now();
      std::chrono::nanoseconds nested_before = s.nested_time;
      ~Stop() {
        auto now = internal::ThreadCpuClock::now();
        // A nested operation the handler ran is guest work for the evaluation: not handler time.
        auto took = now - started - (s.nested_time - nested_before);
        s.handler_time += took;
        if (spent) *spent += took;
        if (ended) *ended = now;
      }
    } stop{*this, spent, ended};
    run();
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
  /// The error of an outer operation whose guest code was unwound because an operation nested
  /// inside one of its host functions ended the instance (HostState::abort_guest); discards it.
  Error nested_abort_error();
  /// The Timeout for an operation the epoch backstop stopped; discards the instance.
  Error hard_deadline_error();
  /// Appends the console records the guest published in its exchange block to `console`.
  std::optional<Error> collect_console();
  void keep_console_line(ConsoleLine line);
  /// Hands over the console kept so far (it no longer counts against the host memory budget).
  std::vector<ConsoleLine> take_console();
  Error limit_error(ErrorKind kind, std::string name, std::string message, std::string stack) const;
  Result discarded_result() const;
  std::optional<Error> refuse_while_suspended(const char *what) const;

  /// Starts the timer time limit of an eval()/resume() call, `now` being a steady_clock reading.
  void start_timer_clock(std::chrono::steady_clock::time_point now);
  /// How long until the guest's earliest timer is due (zero when it is due), from the exchange
  /// block the guest wrote with its last reply; nullopt when it holds no timer.
  Expected<std::optional<std::chrono::nanoseconds>> time_to_next_timer();
  /// Waits until a timer due `in` from now: sleeps on the Real clock, moves the virtual clock
  /// forward otherwise. A Timeout, without waiting, when that lies beyond the timer time limit.
  std::optional<Error> wait_for_timer(std::chrono::nanoseconds in);

  // ---- capabilities (capability.cc) ----
  internal::HostReply on_host_call(uint32_t capability_id, std::span<const uint8_t> args) override;
  std::chrono::nanoseconds on_console_line(uint32_t level, std::span<const uint8_t> text) override;
  /// An operation the console listener stopped ends with its failure, however it ended.
  Result with_console_failure(Result result);
  /// The guest's module loader asking for a module name or source (src/modules.cc).
  internal::HostReply on_module_request(std::span<const uint8_t> args);
  std::optional<Error> check_rule_of_two(const Capability &extra) const;
  void dispatch_ready_calls();
  /// Delivers settled completions and timeouts to the guest; returns how many calls it settled.
  Expected<size_t> deliver_completions();
  /// Settles one call in the guest (metered like any guest code); payload is the encoded value.
  Status settle_in_guest(const internal::HostCall &call, bool ok, std::vector<uint8_t> payload);
  /// Ends the evaluation with an error from settling a call outside drive() (resolve, reject,
  /// deny): the guest drops the evaluation, and resume() returns the error.
  void end_while_settling(Error error);
  /// A refusal of a call when the host memory budget cannot hold `bytes` more; nullopt if it can.
  std::optional<std::string> host_memory_refusal(const std::string &capability, uint64_t bytes) const;
  void close_audit(size_t index, CallOutcome outcome, std::string detail);
  /// Drops the oldest finished entries beyond Limits::max_audit_entries or a quarter of the host
  /// memory budget.
  void trim_audit();
  /// Sets an entry's detail, clipped to a fixed size and counted against the host memory budget.
  void set_audit_detail(AuditEntry &entry, std::string detail);
  /// Appends an entry (trimming old finished ones beyond the cap); returns its absolute index.
  size_t record_audit(AuditEntry entry);
  /// The entry with this absolute index, or nullptr once it was dropped.
  AuditEntry *audit_entry(size_t index);
  /// Cancels one call: its completion settled, its audit entry closed, its slot given back. The
  /// caller removes it from `calls`.
  void cancel_call(internal::HostCall &call, const std::string &why);
  void cancel_outstanding_calls(const std::string &why);
  /// The guest no longer waits for a call (QB_CANCEL_CALL_ID: fetch() aborted): it is cancelled.
  internal::HostReply on_cancel_request(std::span<const uint8_t> args);
  /// Copies the network requests a call's handler recorded into its audit entry.
  void take_requests(const internal::HostCall &call);
  void release_slot(internal::HostCall &call);
  std::vector<PendingCall> pending_for_caller() const;
  internal::RegisteredCapability *find_capability(uint32_t id);
  const internal::RegisteredCapability *find_capability(uint32_t id) const;
  internal::HostCall *find_call(uint32_t id);
};

/// An operation a host function of this sandbox runs in it (an eval from inside a host function)
/// runs nested: this sets the running operation aside for its length and brings it back intact,
/// the guest's side through qb_nest and the host's per-operation state (CPU meter, deadlines,
/// console, pending calls) here. The nested operation runs within what the outer evaluation has
/// left of its CPU time and wall clock, and its guest time is charged to the outer one. At most
/// QB_MAX_NESTING deep. Does nothing for an operation that is not nested. Declared after the
/// OperationGuard, so that it ends first.
class Nesting {
 public:
  /// `nested`: the operation's OperationGuard::nested().
  Nesting(Sandbox::Impl &s, bool nested);
  ~Nesting();
  Nesting(const Nesting &) = delete;
  Nesting &operator=(const Nesting &) = delete;
  /// Why the operation may not run nested, if it may not.
  const std::optional<Error> &refused() const { return refused_; }

 private:
  /// Calls qb_nest (1: set aside, 0: bring back); false when the guest refused or trapped.
  bool guest_nest(uint32_t enter);
  /// Exchange the fields below with the host's and the sandbox's: before, they hold what the
  /// nested operation starts with; after, the outer operation's state, set aside.
  void swap_host_state();
  void swap_sandbox_state();
  Sandbox::Impl &s_;
  bool active_ = false;
  std::optional<Error> refused_;
  internal::ThreadCpuClock::time_point started_{};
  // The outer operation's state while it is set aside.
  bool evaluating_ = false, guest_driving_ = false, settled_since_resume_ = false;
  std::chrono::milliseconds eval_cpu_budget_{0}, op_cpu_time_{0};
  std::chrono::nanoseconds eval_cpu_used_{0};
  std::optional<std::chrono::steady_clock::time_point> wall_deadline_;
  std::vector<ConsoleLine> console_;
  uint64_t console_dropped_ = 0, console_held_bytes_ = 0, console_live_bytes_ = 0;
  std::optional<Result> ended_;
  std::chrono::steady_clock::time_point timer_clock_start_{};
  std::chrono::nanoseconds timer_jumped_{0}, timer_waited_{0};
  std::vector<internal::HostCall> calls_;
  std::optional<std::chrono::nanoseconds> nested_cpu_left_;
  std::optional<std::chrono::steady_clock::time_point> nested_wall_cap_;
  internal::ThreadCpuClock::time_point deadline_{};
  std::chrono::steady_clock::time_point host_wall_deadline_{};
  bool interrupted_ = false, hard_stopped_ = false, wall_expired_ = false, interrupted_by_caller_ = false;
  internal::ThreadCpuClock::time_point backstop_mark_{};
  std::vector<ConsoleLine> stray_output_;
  uint64_t stray_bytes_ = 0, stray_dropped_ = 0;
  std::vector<uint8_t> reply_bytes_;
  const std::function<void()> *on_running_long_ = nullptr;
};

/// The claim a public operation holds on its sandbox for its whole duration (see SandboxUse).
/// When the sandbox was destroyed from inside one of its host functions, the outermost guard
/// destroys it as the operation returns, so the operation must not touch it after the guard.
class OperationGuard {
 public:
  OperationGuard(Sandbox::Impl &impl, const char *operation, internal::Access access)
      : impl_(impl), refused_(impl.use.enter(operation, access, nested_)) {
    // Sandbox::interrupt() is for the operation running when it was called: one made while none
    // ran is dropped here. A call back in from a host function belongs to the running one.
    if (!refused_ && !nested_) impl.signal->interrupt = false;
  }
  ~OperationGuard() {
    if (!refused_ && impl_.use.leave()) delete &impl_;
  }
  OperationGuard(const OperationGuard &) = delete;
  OperationGuard &operator=(const OperationGuard &) = delete;
  /// Why the operation may not run now, if it may not.
  const std::optional<Error> &refused() const { return refused_; }
  /// True when the operation was called from inside a host function of this sandbox's running one.
  bool nested() const { return nested_; }

 private:
  Sandbox::Impl &impl_;
  bool nested_ = false;  // set by enter(), before refused_ is
  std::optional<Error> refused_;
};

}  // namespace quickbox
