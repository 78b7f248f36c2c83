// The clock the CPU budget is measured with.
#pragma once

#include <chrono>

namespace quickbox::internal {

/// The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID). Limits::cpu_time is measured with it,
/// so time a sandbox's thread spends descheduled on a loaded machine does not eat its budget,
/// and the budget means the same on an idle machine and a busy one. Every operation runs on one
/// thread from start to end, so differences of readings taken within one operation are
/// meaningful; readings from different threads must never be compared.
///
/// The kernel's thread CPU clock is a system call (about 0.4 µs in a VM), and an evaluation needs
/// several readings: at its start and end, and around each host function. So the clock asks the
/// kernel at most once per `kernel_read_interval` of wall time per thread, and in between adds
/// the wall time since that reading, which never runs slower than the thread's CPU time. A
/// reading is therefore never below the thread's true CPU time and at most
/// `kernel_read_interval` above it (when the thread was descheduled since the kernel's last
/// answer), and readings never go backwards.
struct ThreadCpuClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<ThreadCpuClock>;
  static constexpr bool is_steady = true;

  /// The longest a reading goes without asking the kernel, so the most it can overstate.
  static constexpr std::chrono::microseconds kernel_read_interval{50};

  static time_point now() noexcept;
  /// now(), given a steady_clock reading the caller just took: one clock read fewer where the
  /// caller needs both (about 20 ns each in a VM, and an evaluation took four).
  static time_point at(std::chrono::steady_clock::time_point wall) noexcept;
};

}  // namespace quickbox::internal
