#include "harness.hh"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace bench {

Clock::time_point Clock::now() {
  if (!cpu_time) return time_point(std::chrono::steady_clock::now().time_since_epoch());
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

Plan Plan::full() {
  return {Nanos(std::chrono::milliseconds(200)), 2, Nanos(std::chrono::seconds(1)), 5, 200'000};
}

Plan Plan::quick() {
  return {Nanos(0), 1, Nanos(std::chrono::milliseconds(20)), 3, 1'000};
}

Nanos percentile(const std::vector<Nanos> &sorted, double p) {
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

namespace {

// Returns the mean duration of one warm-up run.
Nanos warm_up(const Measure &run, const Plan &plan) {
  auto start = std::chrono::steady_clock::now();
  size_t runs = 0;
  Nanos measured{};
  while (runs < plan.min_warmups || Nanos(std::chrono::steady_clock::now() - start) < plan.warmup_budget) {
    measured += run();
    ++runs;
  }
  return measured / static_cast<double>(runs);
}

// How many samples fit the budget at the warm-up's speed.
size_t sample_count(Nanos per_run, const Plan &plan) {
  // A run that measures as zero (timer resolution) must not ask for infinitely many samples.
  double wanted = plan.sample_budget / std::max(per_run, Nanos(1));
  return std::clamp(static_cast<size_t>(wanted), plan.min_samples, plan.max_samples);
}

Stats summarize(std::vector<Nanos> samples) {
  std::sort(samples.begin(), samples.end());
  Stats stats;
  stats.samples = samples.size();
  stats.median = percentile(samples, 0.5);
  stats.min = samples.front();
  if (samples.size() >= 100) stats.p99 = percentile(samples, 0.99);
  return stats;
}

}  // namespace

Stats measure(const Measure &run, const Plan &plan) {
  size_t count = sample_count(warm_up(run, plan), plan);
  std::vector<Nanos> samples;
  samples.reserve(count);
  for (size_t i = 0; i < count; ++i) samples.push_back(run());
  return summarize(std::move(samples));
}

std::pair<Stats, Stats> measure_interleaved(const Measure &a, const Measure &b, const Plan &plan) {
  size_t count_a = sample_count(warm_up(a, plan), plan);
  size_t count_b = sample_count(warm_up(b, plan), plan);
  // Alternate in rounds of about 20 ms per side rather than sample by sample: within a round each
  // side keeps its code and data in the caches, as a program running one engine would.
  const Nanos round(std::chrono::milliseconds(20));
  size_t rounds = std::clamp<size_t>(static_cast<size_t>(plan.sample_budget / round), 1,
                                     std::min(count_a, count_b));
  std::vector<Nanos> samples_a, samples_b;
  samples_a.reserve(count_a);
  samples_b.reserve(count_b);
  for (size_t r = 1; r <= rounds; ++r) {
    while (samples_a.size() < count_a * r / rounds) samples_a.push_back(a());
    while (samples_b.size() < count_b * r / rounds) samples_b.push_back(b());
  }
  return {summarize(std::move(samples_a)), summarize(std::move(samples_b))};
}

std::string format_duration(Nanos d) {
  double ns = d.count();
  char text[32];
  if (ns < 1e3)
    std::snprintf(text, sizeof text, "%.0f ns", ns);
  else if (ns < 1e5)
    std::snprintf(text, sizeof text, "%.1f µs", ns / 1e3);
  else if (ns < 1e6)
    std::snprintf(text, sizeof text, "%.0f µs", ns / 1e3);
  else if (ns < 1e9)
    std::snprintf(text, sizeof text, "%.1f ms", ns / 1e6);
  else
    std::snprintf(text, sizeof text, "%.2f s", ns / 1e9);
  return text;
}

std::string format_bytes(double bytes) {
  char text[32];
  double magnitude = std::fabs(bytes);
  if (magnitude < 1024)
    std::snprintf(text, sizeof text, "%.0f B", bytes);
  else if (magnitude < 1024.0 * 1024)
    std::snprintf(text, sizeof text, "%.1f KB", bytes / 1024);
  else
    std::snprintf(text, sizeof text, "%.1f MB", bytes / (1024.0 * 1024));
  return text;
}

}  // namespace bench
