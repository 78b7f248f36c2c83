/// \file workload.hh
/// \brief What one row of quickbox-bench is (a workload, its twin or baseline, its target), and
/// the helpers the groups of workloads share (bench.cc, host_calls.cc, snapshots.cc).
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "harness.hh"
#include "quickbox/quickbox.hh"

namespace bench {

/// A goal from the issue: the quickbox median at most some time, at most some multiple of the
/// native median, or a per-unit figure (see PerUnit) at most some time.
struct Target {
  enum class Kind { MedianAtMost, RatioAtMost, PerUnitAtMost };
  Kind kind;
  double limit;  // nanoseconds or a ratio
  std::string text;

  bool met(const Stats &quickbox, std::optional<double> ratio, std::optional<double> per_unit_ns) const;
};

/// Divides a run's time into the cost of one of the `count` units it holds (calls, sandboxes).
struct PerUnit {
  double count;
  std::string unit;  // singular: "call", "sandbox"
};

// The optional members have `{}` so designated initializers may leave them out.
struct Workload {
  std::string name;
  Measure quickbox;
  Measure native{};  // empty when the workload has no native twin
  std::optional<Target> target{};
  std::function<void()> check{};  // verifies the results once before timing; may be empty
  /// The same run without the operation being measured (a loop without the calls), timed in
  /// alternation with `quickbox`; its median is subtracted before dividing by per_unit. Only for
  /// workloads without a native twin.
  Measure baseline{};
  std::optional<PerUnit> per_unit{};
};

/// What measuring a workload gave.
struct Outcome {
  Stats quickbox;
  std::optional<Stats> native;
  std::optional<double> ratio;  // quickbox median / native median
  std::optional<Stats> baseline;
  std::optional<double> per_unit_ns;  // (quickbox median - baseline median, if any) / per_unit count
  std::optional<bool> target_met;
};

/// Width of the name column of the table.
constexpr size_t kNameWidth = 30;

/// Pads to `width` characters (not bytes: "µ" is two bytes of UTF-8).
std::string pad(std::string text, size_t width);
std::string pad_left(const std::string &text, size_t width);

/// Value has no constructor for unsigned or size_t; this makes every figure a double on purpose.
inline quickbox::Value number(double v) { return quickbox::Value(v); }

/// The result, or throws naming `what` and the error.
quickbox::Result checked(quickbox::Result result, const std::string &what);
/// The value, or throws naming `what` and the error.
template <typename T>
T checked(quickbox::Expected<T> expected, const std::string &what) {
  if (!expected) throw std::runtime_error(what + " failed: " + expected.error().to_string());
  return std::move(expected).value();
}

/// Evaluates source once and throws unless it is Done with `expected`.
void expect_eval(quickbox::Sandbox &sandbox, const std::string &source, const quickbox::Value &expected);

/// Where an extra (a figure that is not a timed row, such as sizes) puts its lines: the name
/// column, then the text.
void print_extra(const std::string &name, const std::string &text);

}  // namespace bench
