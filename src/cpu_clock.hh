// The clock the CPU budget is measured with.
#pragma once

#include <chrono>
#include <ctime>

namespace quickbox::internal {

/// The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID). Limits::cpu_time is measured with it,
/// so time a sandbox's thread spends descheduled on a loaded machine does not eat its budget,
/// and the budget means the same on an idle machine and a busy one. Every operation runs on one
/// thread from start to end, so differences of readings taken within one operation are
/// meaningful; readings from different threads must never be compared.
struct ThreadCpuClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<ThreadCpuClock>;
  static constexpr bool is_steady = true;

  static time_point now() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
  }
};

}  // namespace quickbox::internal
