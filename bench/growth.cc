#include "growth.hh"

#include <algorithm>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "workload.hh"

namespace bench {

namespace {

using quickbox::Engine;
using quickbox::Sandbox;
using quickbox::Value;

// The median of `runs` timings of fn().
Nanos median_of(int runs, const std::function<void()> &fn) {
  std::vector<Nanos> samples;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    fn();
    samples.push_back(Nanos(Clock::now() - start));
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

struct Size {
  const char *label;
  double bytes;
};

}  // namespace

Value growth(const Engine &engine, bool quick) {
  const int runs = quick ? 3 : 15;
  Value::Array rows;
  for (Size size : {Size{"1 KB", 1024}, Size{"1 MB", 1 << 20}, Size{"32 MB", 32 << 20}}) {
    // Live data as strings of 1 KB in an array (what a program's state mostly is), plus the
    // interpreter's own overhead per string.
    const int strings = static_cast<int>(size.bytes / 1024);
    const std::string setup = "globalThis.data = Array.from({length: " + std::to_string(strings) +
                              "}, (_, i) => String(i).padEnd(1024, '.')); data.length";
    Sandbox sandbox = checked(Sandbox::create(engine), "growth: creating a sandbox");
    checked(sandbox.eval(setup), "growth: filling " + std::string(size.label));
    Nanos eval = median_of(runs, [&] { checked(sandbox.eval("data.length + 1"), "growth: eval"); });
    std::vector<uint8_t> snapshot;
    Nanos capture = median_of(runs, [&] { snapshot = checked(sandbox.snapshot(), "growth: snapshot"); });
    Nanos restore = median_of(runs, [&] {
      checked(Sandbox::restore(engine, snapshot), "growth: restore");  // destroyed inside the timing
    });
    Nanos destroy_fresh = median_of(runs, [&] { Sandbox::create(engine).unwrap(); });
    auto usage = checked(sandbox.memory_usage(), "growth: memory_usage");
    print_extra(std::string(kGrowth) + ", " + size.label,
                "eval " + format_duration(eval) + ", snapshot " + format_duration(capture) + " (" +
                    format_bytes(double(snapshot.size())) + "), restore+destroy " + format_duration(restore) +
                    " (empty create+destroy " + format_duration(destroy_fresh) + "), linear memory " +
                    format_bytes(double(usage.linear_memory_bytes)));
    rows.push_back(Value::Object{{"size", Value(size.label)},
                                 {"eval_ns", number(eval.count())},
                                 {"snapshot_capture_ns", number(capture.count())},
                                 {"snapshot_bytes", number(double(snapshot.size()))},
                                 {"restore_and_destroy_ns", number(restore.count())},
                                 {"create_and_destroy_empty_ns", number(destroy_fresh.count())},
                                 {"linear_memory_bytes", number(double(usage.linear_memory_bytes))}});
  }
  return rows;
}

}  // namespace bench
