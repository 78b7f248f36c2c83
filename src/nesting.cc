// Operations nested inside a host function of their own sandbox (Nesting in sandbox_impl.hh): a
// host function that evaluates in the sandbox running it. The outer operation is set aside, in the
// guest (qb_nest) and here, for the length of the nested one, and comes back intact.
#include "sandbox_impl.hh"

namespace quickbox {

namespace {
Error nesting_error(ErrorKind kind, std::string message) { return Error{.kind = kind, .message = std::move(message)}; }
}  // namespace

Nesting::Nesting(Sandbox::Impl &s, bool nested) : s_(s) {
  using std::chrono::nanoseconds;
  // Not nested, or nothing to set aside (the operation reports the discarded instance itself).
  if (!nested || s.discarded || !s.context) return;
  if (s.nest_depth >= QB_MAX_NESTING) {
    refused_ = nesting_error(ErrorKind::InvalidInput,
                             "operations nested inside host functions may go " + std::to_string(QB_MAX_NESTING) +
                                 " deep (a host function that evaluates in its own sandbox, whose program calls "
                                 "a host function that does the same...); this one would be " +
                                 std::to_string(QB_MAX_NESTING + 1) + " deep");
    return;
  }
  started_ = internal::ThreadCpuClock::now();
  internal::HostState &h = s.host;
  // What the outer evaluation has left: by its running guest code's deadline, or, from the
  // driving loop between guest calls (an approved call's handler), by its meter.
  std::optional<nanoseconds> cpu_left;
  if (h.deadline != internal::ThreadCpuClock::time_point::max())
    cpu_left = std::max(nanoseconds::zero(), nanoseconds(h.deadline - started_));
  else if (s.evaluating)
    cpu_left = std::max(nanoseconds::zero(), nanoseconds(s.eval_cpu_budget) - s.eval_cpu_used);
  std::optional<std::chrono::steady_clock::time_point> wall_cap = s.wall_deadline;
  if (h.wall_deadline != std::chrono::steady_clock::time_point::max()) wall_cap = h.wall_deadline;

  // The host state of the operation in progress; guest_nest() below arms its own deadline. The
  // nested operation starts from the same values but an empty stray output and reply.
  deadline_ = h.deadline;
  host_wall_deadline_ = h.wall_deadline;
  interrupted_ = h.interrupted;
  hard_stopped_ = h.hard_stopped;
  wall_expired_ = h.wall_expired;
  interrupted_by_caller_ = h.interrupted_by_caller;
  backstop_mark_ = h.backstop_mark;
  stray_bytes_ = h.stray_bytes;
  stray_dropped_ = h.stray_dropped;
  swap_host_state();
  if (!guest_nest(1)) {
    if (!refused_)
      refused_ = nesting_error(ErrorKind::OutOfMemory,
                               "the sandbox has no memory left to set the running evaluation aside for a nested one");
    // What was taken away comes back; what the failed call set in the rest stands.
    h.deadline = deadline_;
    h.wall_deadline = host_wall_deadline_;
    h.stray_output = std::move(stray_output_);
    h.reply_bytes = std::move(reply_bytes_);
    return;
  }
  active_ = true;
  s.nest_depth++;
  // The nested operation keeps the outer one's meter, budget and clocks (it is charged to it) and
  // starts with no console, calls or result of its own.
  eval_cpu_budget_ = s.eval_cpu_budget;
  eval_cpu_used_ = s.eval_cpu_used;
  op_cpu_time_ = s.op_cpu_time;
  wall_deadline_ = s.wall_deadline;
  timer_clock_start_ = s.timer_clock_start;
  timer_jumped_ = s.timer_jumped;
  timer_waited_ = s.timer_waited;
  nested_cpu_left_ = cpu_left;
  nested_wall_cap_ = wall_cap;
  swap_sandbox_state();
  s.parked_console_bytes += console_held_bytes_;  // still held: still counted
}

Nesting::~Nesting() {
  if (!active_) return;
  Sandbox::Impl &s = s_;
  // The nested operation's own state goes; what it printed went out with its result.
  s.take_console();
  if (!s.discarded) guest_nest(0);
  s.nest_depth--;
  s.parked_console_bytes -= console_held_bytes_;
  swap_sandbox_state();
  swap_host_state();
  if (s.context && s.guest_frames > 0) internal::arm_epoch_deadline(s.context, s.host);
  // Charged to the outer evaluation: host handlers' time leaves this out (timed_handler).
  s.nested_time += internal::ThreadCpuClock::now() - started_;
}

// One list of the host's per-operation state: swapped in to set the outer operation aside, and
// swapped again to bring it back (the nested operation's leftovers go with this object).
void Nesting::swap_host_state() {
  internal::HostState &h = s_.host;
  std::swap(h.deadline, deadline_);
  std::swap(h.wall_deadline, host_wall_deadline_);
  std::swap(h.interrupted, interrupted_);
  std::swap(h.hard_stopped, hard_stopped_);
  std::swap(h.wall_expired, wall_expired_);
  std::swap(h.interrupted_by_caller, interrupted_by_caller_);
  std::swap(h.backstop_mark, backstop_mark_);
  std::swap(h.stray_output, stray_output_);
  std::swap(h.stray_bytes, stray_bytes_);
  std::swap(h.stray_dropped, stray_dropped_);
  std::swap(h.reply_bytes, reply_bytes_);
  std::swap(h.on_running_long, on_running_long_);  // the nested operation's caller holds no lock for it
}

// The same for the sandbox's per-evaluation state.
void Nesting::swap_sandbox_state() {
  Sandbox::Impl &s = s_;
  evaluating_ = s.evaluating.exchange(evaluating_);
  std::swap(s.guest_driving, guest_driving_);
  std::swap(s.settled_since_resume, settled_since_resume_);
  std::swap(s.eval_cpu_budget, eval_cpu_budget_);
  std::swap(s.eval_cpu_used, eval_cpu_used_);
  std::swap(s.op_cpu_time, op_cpu_time_);
  std::swap(s.wall_deadline, wall_deadline_);
  std::swap(s.console, console_);
  std::swap(s.console_dropped, console_dropped_);
  std::swap(s.console_held_bytes, console_held_bytes_);
  std::swap(s.console_live_bytes, console_live_bytes_);
  std::swap(s.ended, ended_);
  std::swap(s.timer_clock_start, timer_clock_start_);
  std::swap(s.timer_jumped, timer_jumped_);
  std::swap(s.timer_waited, timer_waited_);
  std::swap(s.calls, calls_);
  std::swap(s.nested_cpu_left, nested_cpu_left_);
  std::swap(s.nested_wall_cap, nested_wall_cap_);
}

bool Nesting::guest_nest(uint32_t enter) {
  int32_t status = 0;
  wasm_trap_t *trap = nullptr;
  std::string call_error;
  s_.arm_control_deadline();
  s_.guest_frames++;
  bool ok = internal::call_i32(s_.context, s_.func(&internal::GuestExports::nest), {enter}, &status, &trap,
                               &call_error);
  s_.guest_frames--;
  if (ok) return status == QB_STATUS_DONE;
  // It runs no JavaScript: a trap here means the instance is broken.
  std::string why = trap ? internal::take_trap(trap) : call_error;
  s_.discard_reason = "a failure while nesting an operation (" + why + ")";
  refused_ = nesting_error(ErrorKind::Internal, "the sandbox failed while setting an operation aside: " + why);
  refused_->instance_discarded = true;
  s_.drop_instance();
  return false;
}

}  // namespace quickbox
