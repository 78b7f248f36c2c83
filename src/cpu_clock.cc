// The thread CPU clock, asking the kernel at most once per kernel_read_interval (cpu_clock.hh).
#include "cpu_clock.hh"

#include <pthread.h>

#include <ctime>

namespace quickbox::internal {

namespace {

ThreadCpuClock::time_point kernel_reading() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ThreadCpuClock::time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

// This thread's last kernel reading, the wall time it was taken at, and the last value returned.
struct LastReading {
  std::chrono::steady_clock::time_point wall{};
  ThreadCpuClock::time_point kernel{};
  ThreadCpuClock::time_point returned{};
  bool taken = false;
};

thread_local LastReading last;

// A forked child's thread starts its CPU clock afresh: forget the parent's readings.
void forget_in_child() { last = {}; }

}  // namespace

ThreadCpuClock::time_point ThreadCpuClock::now() noexcept { return at(std::chrono::steady_clock::now()); }

ThreadCpuClock::time_point ThreadCpuClock::at(std::chrono::steady_clock::time_point wall) noexcept {
  static const bool fork_handled = pthread_atfork(nullptr, nullptr, forget_in_child) == 0;
  (void)fork_handled;
  time_point reading;
  if (last.taken && wall - last.wall < kernel_read_interval) {
    reading = last.kernel + (wall - last.wall);
  } else {
    reading = kernel_reading();
    last.wall = wall;
    last.kernel = reading;
    last.taken = true;
  }
  // After a kernel reading that showed the thread was descheduled, the wall-time estimate may have
  // run ahead: hold until the true clock catches up, so differences are never negative.
  if (reading < last.returned) reading = last.returned;
  last.returned = reading;
  return reading;
}

}  // namespace quickbox::internal
