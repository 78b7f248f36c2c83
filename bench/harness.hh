/// \file harness.hh
/// \brief A small timing harness: warm-up, adaptive sample count, median / p99 / min.
///
/// Each sample is one run of the workload, timed on its own, so percentiles describe single
/// operations (what a caller waits for), not averages over batches.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bench {

using Nanos = std::chrono::duration<double, std::nano>;

/// One run of a workload; returns the duration of the part being measured (set-up and tear-down
/// that is not part of the figure may happen outside the timed region). Throws on failure.
using Measure = std::function<Nanos()>;

/// The clock every sample is read with: wall time (steady_clock) unless `cpu_time` is set, then
/// the CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID, kernel time included). On a
/// machine shared with other busy processes, wall time also counts the time the thread waited
/// for a core, which varies from second to second; CPU time does not. Sandboxes run their guest
/// on the calling thread, so its CPU time is theirs.
struct Clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<Clock>;
  static constexpr bool is_steady = true;
  static inline bool cpu_time = false;  // set once, before measuring
  static time_point now();
};

/// Times fn() as a whole.
template <typename Fn>
Measure timed(Fn fn) {
  return [fn = std::move(fn)]() mutable {
    auto start = Clock::now();
    fn();
    return Nanos(Clock::now() - start);
  };
}

/// How long to warm up and how many samples to take.
struct Plan {
  Nanos warmup_budget;  ///< warm up at least this long...
  size_t min_warmups;   ///< ...and at least this many runs
  Nanos sample_budget;  ///< aim for this much measured time in total...
  size_t min_samples;   ///< ...but never fewer samples than this
  size_t max_samples;   ///< ...nor more than this

  static Plan full();   ///< about a second per workload and side
  static Plan quick();  ///< a smoke run: a few samples each
};

/// Order statistics of the samples (nearest-rank percentiles).
struct Stats {
  size_t samples = 0;
  Nanos median{};
  Nanos min{};
  /// Only when there are enough samples for the 99th percentile to be one of them (>= 100).
  std::optional<Nanos> p99;
};

/// Warms up, picks the sample count from the warm-up's speed, and takes the samples.
Stats measure(const Measure &run, const Plan &plan);

/// measure() for two workloads at once, taking their samples in alternating rounds. On a
/// shared machine the load shifts from second to second; interleaving makes both sides see the
/// same load, so the ratio of their medians does not carry that shift.
std::pair<Stats, Stats> measure_interleaved(const Measure &a, const Measure &b, const Plan &plan);

/// Nearest-rank percentile (0 < p <= 1) of sorted, non-empty samples.
Nanos percentile(const std::vector<Nanos> &sorted, double p);

/// "850 ns", "1.9 µs", "312 µs", "4.2 ms", "1.35 s".
std::string format_duration(Nanos d);
/// "3.2 MB", "640 KB", "512 B" (powers of 1024).
std::string format_bytes(double bytes);

}  // namespace bench
