// The clock behind the CPU budget: the thread's CPU time, read from the kernel at most once per
// kernel_read_interval and extrapolated by the wall clock in between (src/cpu_clock.hh).
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "cpu_clock.hh"

namespace {

using quickbox::internal::ThreadCpuClock;
using namespace std::chrono_literals;

ThreadCpuClock::time_point kernel_cpu_time() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ThreadCpuClock::time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

void spin_for(std::chrono::microseconds wall) {
  auto until = std::chrono::steady_clock::now() + wall;
  while (std::chrono::steady_clock::now() < until) {
  }
}

TEST(ThreadCpuClock, AReadingLiesBetweenTheKernelsClockAndAtMostOneReadIntervalAboveIt) {
  for (int i = 0; i < 20000; ++i) {
    auto before = kernel_cpu_time();
    auto reading = ThreadCpuClock::now();
    auto after = kernel_cpu_time();
    ASSERT_GE(reading, before) << "at reading " << i;
    ASSERT_LE(reading, after + ThreadCpuClock::kernel_read_interval) << "at reading " << i;
    if (i % 7 == 0) spin_for(std::chrono::microseconds(i % 90));
  }
}

TEST(ThreadCpuClock, ReadingsNeverGoBackwards) {
  auto previous = ThreadCpuClock::now();
  for (int i = 0; i < 20000; ++i) {
    if (i % 500 == 0) std::this_thread::sleep_for(100us);  // descheduled: the estimate overshoots
    auto reading = ThreadCpuClock::now();
    ASSERT_GE(reading, previous) << "at reading " << i;
    previous = reading;
  }
}

TEST(ThreadCpuClock, TimeSpentAsleepIsNotCounted) {
  auto start = ThreadCpuClock::now();
  std::this_thread::sleep_for(20ms);
  auto slept = ThreadCpuClock::now() - start;
  // Waking up costs a little CPU; the 20 ms of sleep must not show.
  EXPECT_LT(slept, ThreadCpuClock::kernel_read_interval + 2ms);
}

TEST(ThreadCpuClock, BusyTimeIsCounted) {
  auto start = ThreadCpuClock::now();
  spin_for(20ms);
  auto busy = ThreadCpuClock::now() - start;
  auto kernel_start = kernel_cpu_time();
  spin_for(20ms);
  auto kernel_busy = kernel_cpu_time() - kernel_start;
  // Both 20 ms spins got (about) the same CPU time unless the machine took the core away; the
  // clock agrees with the kernel within the read interval either way it went.
  EXPECT_GT(busy, 1ms);
  EXPECT_LE(busy, 20ms + ThreadCpuClock::kernel_read_interval);
  EXPECT_GT(kernel_busy, 1ms);
}

TEST(ThreadCpuClock, EachThreadHasItsOwnClock) {
  spin_for(30ms);  // this thread has used at least 30 ms
  ThreadCpuClock::time_point other_start{}, other_end{};
  std::thread([&] {
    other_start = ThreadCpuClock::now();
    spin_for(2ms);
    other_end = ThreadCpuClock::now();
  }).join();
  EXPECT_LT(other_start, ThreadCpuClock::now());  // a new thread starts near zero
  EXPECT_GE(other_end, other_start);
  EXPECT_LT(other_start.time_since_epoch(), 30ms);
}

TEST(ThreadCpuClock, AForkedChildStartsFromItsOwnClock) {
  spin_for(30ms);
  auto parent = ThreadCpuClock::now();  // taken just before the fork, so the child cannot reuse it
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto before = kernel_cpu_time();
    auto reading = ThreadCpuClock::now();
    auto after = kernel_cpu_time();
    _exit(reading >= before && reading <= after + ThreadCpuClock::kernel_read_interval ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the child's first reading was not its own CPU time (the parent's was "
      << parent.time_since_epoch().count() << " ns)";
}

}  // namespace
