// The host's side of timers. The guest keeps the timer table (guest/timers.c) and runs the timers
// that are due; when nothing else can make progress it tells the host, in the exchange block, when
// its earliest timer is due, and the driving loop (capability.cc) waits for it here: it sleeps on
// the Real clock, or moves the virtual clock forward at once (Fixed, Deterministic), then resumes
// the guest.
//
// Waiting is bounded by time, not CPU: sleeping uses none, so the CPU budget alone would let a
// program hold the evaluating thread for the 24.8 days a timer may be set to. Within one
// eval()/resume() call, a timer must come due before Limits::wall_time runs out (virtual jumps
// count as time passed); without a wall-clock limit, the time spent waiting on timers alone may
// add up to the CPU time limit. A timer due after that ends the evaluation in Timeout at once,
// without sleeping.
#include "sandbox_impl.hh"

namespace quickbox {

namespace {
// Longer than any delay a program can set (2^31 - 1 ms), short of overflowing a time_point.
constexpr std::chrono::nanoseconds kFarFuture = std::chrono::hours(24 * 365 * 100);
}  // namespace

void Sandbox::Impl::start_timer_clock(std::chrono::steady_clock::time_point now) {
  timer_clock_start = now;
  timer_jumped = {};
  timer_waited = {};
}

Expected<std::optional<std::chrono::nanoseconds>> Sandbox::Impl::time_to_next_timer() {
  qb_exchange ex;
  if (auto err = read_exchange(ex)) return *err;
  if (ex.timer_count == 0) return std::optional<std::chrono::nanoseconds>();
  uint64_t now = internal::guest_monotonic_ns(host);
  uint64_t left = ex.next_timer_ns > now ? ex.next_timer_ns - now : 0;
  return std::optional(std::chrono::nanoseconds(
      std::min<uint64_t>(left, static_cast<uint64_t>(kFarFuture.count()))));
}

std::optional<Error> Sandbox::Impl::wait_for_timer(std::chrono::nanoseconds in) {
  using namespace std::chrono;
  auto now = steady_clock::now();
  const std::optional<milliseconds> &wall = options.limits.wall_time;
  milliseconds limit = wall.value_or(eval_cpu_budget);
  nanoseconds used = wall ? (now - timer_clock_start) + timer_jumped : timer_waited;
  if (used + in > limit) {
    std::string what = std::to_string(limit.count()) + " ms exceeded: the program waits on a timer due in " +
                       std::to_string(duration_cast<milliseconds>(in).count()) + " ms, after the limit runs out";
    if (wall) return Error{.kind = ErrorKind::Timeout, .message = "wall-clock limit of " + what};
    return Error{.kind = ErrorKind::Timeout,
                 .message = "time limit for timers of " + what +
                            " (without a wall-clock limit, an evaluation may wait on timers as long as its CPU time "
                            "limit)"};
  }
  if (options.clock.mode == Clock::Mode::Real) {
    // Sleeps on the completion signal, so that Sandbox::interrupt() (Ctrl-C, a cancelled task)
    // ends the wait at once: the driving loop then finds the interrupt and stops.
    internal::running_long(host);
    std::unique_lock lock(signal->mutex);
    uint64_t generation = signal->generation;
    signal->wake.wait_until(lock, now + in, [&] { return signal->interrupt || signal->generation != generation; });
    timer_waited += steady_clock::now() - now;
  } else {
    host.virtual_ns += static_cast<uint64_t>(in.count());
    timer_jumped += in;
    timer_waited += in;
  }
  return std::nullopt;
}

std::optional<std::chrono::nanoseconds> Sandbox::next_timer() const {
  OperationGuard guard(*impl_, "next_timer()", internal::Access::Read);
  if (guard.refused() || impl_->discarded || !impl_->evaluating) return std::nullopt;
  auto in = impl_->time_to_next_timer();
  return in ? in.value() : std::nullopt;
}

}  // namespace quickbox
