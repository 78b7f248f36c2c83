#include "snapshots.hh"

#include <chrono>
#include <cstdint>
#include <deque>
#include <iostream>
#include <optional>
#include <string>
#include <utility>

namespace bench {

namespace {

using quickbox::Engine;
using quickbox::RestoreOptions;
using quickbox::Sandbox;
using quickbox::SnapshotOptions;
using quickbox::Value;
using Clock = bench::Clock;
using Bytes = std::vector<uint8_t>;

// What a sandbox did before its snapshot was taken, and how to tell it came back.
struct StateSpec {
  std::string label;
  std::string setup;  // evaluated once in a fresh sandbox; empty: nothing
  std::string probe;  // evaluated in a restored sandbox...
  Value expected;     // ...must give this
};

// The few-variables state is the one the issue sets targets for; the fresh one tells what a
// capture costs when next to nothing changed.
const std::string kFresh = "fresh";
const std::string kFewVars = "few vars";
constexpr double kFewVarsSizeLimit = 8 * 1024;
const Target kFewVarsTimeTarget{Target::Kind::MedianAtMost, 200e3, "≤ 200 µs"};
constexpr int kForkCount = 100;

std::vector<StateSpec> state_specs() {
  return {
      {kFresh, "", "typeof greet", Value("undefined")},
      {"function", "function greet(name) { return 'hello ' + name }", "greet('you')", Value("hello you")},
      {kFewVars, "let a = 1, b = 'two', c = [3]", "a + b + c[0]", Value("1two3")},
      // 2^17 numbers of 8 bytes (QuickJS's NaN-boxed values on wasm32): 1 MiB of elements.
      {"1 MB array", "globalThis.big = new Array(131072).fill(0).map((_, i) => i); big.length",
       "big.length + big[131071]", Value(262143)},
  };
}

std::string capture_row(const std::string &label) { return "snapshot capture, " + label; }
std::string restore_row(const std::string &label) { return "snapshot restore, " + label; }
const std::string kSignedCaptureRow = "snapshot capture+MAC, " + kFewVars;
const std::string kSignedRestoreRow = "snapshot restore+MAC, " + kFewVars;
const std::string kInspectRow = "snapshot inspect, " + kFewVars;

// A sandbox in one state and its snapshots.
struct SnapshotState {
  StateSpec spec;
  Sandbox sandbox;
  Bytes snapshot;
  Bytes signed_snapshot;
};

const Bytes kKey(32, 0x5a);

SnapshotState make_state(const Engine &engine, StateSpec spec) {
  Sandbox sandbox = checked(Sandbox::create(engine), "creating a sandbox to snapshot");
  if (!spec.setup.empty()) checked(sandbox.eval(spec.setup), "quickbox: `" + spec.setup + "`");
  Bytes snapshot = checked(sandbox.snapshot(), "snapshot of the '" + spec.label + "' sandbox");
  Bytes signed_snapshot =
      checked(sandbox.snapshot(SnapshotOptions{.hmac_key = kKey}), "signed snapshot of the '" + spec.label + "' sandbox");
  return {std::move(spec), std::move(sandbox), std::move(snapshot), std::move(signed_snapshot)};
}

RestoreOptions signed_with_key() { return RestoreOptions{.hmac_key = kKey}; }

// Times capturing the sandbox; the snapshot is freed after the clock stopped.
Measure timed_capture(Sandbox &sandbox, SnapshotOptions options = {}) {
  return [&sandbox, options = std::move(options)] {
    auto start = Clock::now();
    auto snapshot = sandbox.snapshot(options);
    Nanos took(Clock::now() - start);
    checked(std::move(snapshot), "Sandbox::snapshot");
    return took;
  };
}

// Times restoring `snapshot`; the sandbox is destroyed after the clock stopped.
Measure timed_restore(const Engine &engine, const Bytes &snapshot, RestoreOptions options, std::string what) {
  return [&engine, &snapshot, options = std::move(options), what = std::move(what)] {
    auto start = Clock::now();
    auto restored = Sandbox::restore(engine, snapshot, {}, options);
    Nanos took(Clock::now() - start);
    checked(std::move(restored), what);
    return took;
  };
}

// Restores the snapshot and checks the state came back.
void expect_restored(const Engine &engine, const Bytes &snapshot, const RestoreOptions &options,
                     const StateSpec &spec) {
  Sandbox restored = checked(Sandbox::restore(engine, snapshot, {}, options),
                             "restoring the '" + spec.label + "' snapshot");
  expect_eval(restored, spec.probe, spec.expected);
}

}  // namespace

struct SnapshotBench::State {
  Engine engine;
  std::deque<SnapshotState> states;  // a deque: workloads keep references to its elements

  explicit State(const Engine &e) : engine(e) {
    for (auto &spec : state_specs()) states.push_back(make_state(engine, std::move(spec)));
  }
  SnapshotState &find(const std::string &label) {
    for (auto &s : states)
      if (s.spec.label == label) return s;
    throw std::logic_error("the '" + label + "' state is missing");
  }
};

const std::string SnapshotBench::kSizes = "snapshot sizes";
const std::string SnapshotBench::kPhases = "snapshot phases, " + kFewVars;

SnapshotBench::SnapshotBench(const Engine &engine) : state_(std::make_unique<State>(engine)) {}
SnapshotBench::~SnapshotBench() = default;

Value SnapshotBench::sizes() const {
  Value::Array rows;
  bool first = true;
  for (const auto &s : state_->states) {
    auto info = checked(quickbox::inspect_snapshot(s.snapshot), "inspecting the '" + s.spec.label + "' snapshot");
    std::string text = pad(s.spec.label, 11) + pad_left(format_bytes(double(info.total_bytes)), 8) +
                       "   changed memory " + pad_left(format_bytes(double(info.changed_bytes)), 8) + " of " +
                       format_bytes(double(info.memory_bytes)) + ", body " +
                       format_bytes(double(info.body_bytes)) + " before zstd";
    bool limited = s.spec.label == kFewVars;
    if (limited)
      text += std::string("   target ≤ 8 KiB") + (double(info.total_bytes) <= kFewVarsSizeLimit ? "  OK" : "  MISSED");
    print_extra(first ? kSizes : "", text);
    first = false;
    Value target = nullptr;
    if (limited)
      target = Value::Object{{"goal", Value("≤ 8 KiB")}, {"met", Value(double(info.total_bytes) <= kFewVarsSizeLimit)}};
    rows.push_back(Value::Object{{"state", Value(s.spec.label)},
                                 {"setup", Value(s.spec.setup)},
                                 {"bytes", number(double(info.total_bytes))},
                                 {"signed_bytes", number(double(s.signed_snapshot.size()))},
                                 {"body_bytes", number(double(info.body_bytes))},
                                 {"changed_memory_bytes", number(double(info.changed_bytes))},
                                 {"memory_bytes", number(double(info.memory_bytes))},
                                 {"target", target}});
  }
  return Value(std::move(rows));
}

std::vector<Workload> SnapshotBench::workloads() {
  const Engine &engine = state_->engine;
  std::vector<Workload> workloads;
  for (auto &s : state_->states) {
    bool targeted = s.spec.label == kFewVars;
    std::optional<Target> target = targeted ? std::optional(kFewVarsTimeTarget) : std::nullopt;
    workloads.push_back({.name = capture_row(s.spec.label),
                         .quickbox = timed_capture(s.sandbox),
                         .target = target});
    workloads.push_back({.name = restore_row(s.spec.label),
                         .quickbox = timed_restore(engine, s.snapshot, {}, "restoring the '" + s.spec.label + "' snapshot"),
                         .target = target,
                         .check = [&engine, &s] { expect_restored(engine, s.snapshot, {}, s.spec); }});
  }

  // The few-variables state, signed, timed in alternation with the unsigned rows above: the
  // difference is the cost of the MAC.
  SnapshotState &vars = state_->find(kFewVars);
  workloads.push_back({.name = kSignedCaptureRow,
                       .quickbox = timed_capture(vars.sandbox, SnapshotOptions{.hmac_key = kKey}),
                       .baseline = timed_capture(vars.sandbox),
                       .per_unit = PerUnit{1, "HMAC"}});
  workloads.push_back({.name = kSignedRestoreRow,
                       .quickbox = timed_restore(engine, vars.signed_snapshot, signed_with_key(),
                                                 "restoring the signed snapshot"),
                       .check = [&engine, &vars] {
                         expect_restored(engine, vars.signed_snapshot, signed_with_key(), vars.spec);
                       },
                       .baseline = timed_restore(engine, vars.snapshot, {}, "restoring the unsigned snapshot"),
                       .per_unit = PerUnit{1, "HMAC"}});
  // Validation and decompression alone: the part of a restore that touches no instance.
  workloads.push_back({.name = kInspectRow,
                       .quickbox = timed([&vars] {
                         checked(quickbox::inspect_snapshot(vars.snapshot), "inspect_snapshot()");
                       })});
  workloads.push_back(
      {.name = "snapshot fork " + std::to_string(kForkCount) + ", " + kFewVars,
       .quickbox =
           [&engine, &vars] {
             auto start = Clock::now();
             auto forked = Sandbox::fork(engine, vars.snapshot, kForkCount);
             Nanos took(Clock::now() - start);
             checked(std::move(forked), "Sandbox::fork");  // the sandboxes die after the clock stopped
             return took;
           },
       .check =
           [&engine, &vars] {
             auto forked = checked(Sandbox::fork(engine, vars.snapshot, kForkCount), "Sandbox::fork");
             if (forked.size() != kForkCount)
               throw std::runtime_error("Sandbox::fork returned " + std::to_string(forked.size()) +
                                        " sandboxes, expected " + std::to_string(kForkCount));
             for (auto &sandbox : forked) expect_eval(sandbox, vars.spec.probe, vars.spec.expected);
           },
       .per_unit = PerUnit{kForkCount, "sandbox"}});
  return workloads;
}

Value SnapshotBench::phases(const std::function<const Outcome *(const std::string &)> &outcome,
                            const Plan &plan) const {
  auto median = [&](const std::string &row) {
    const Outcome *o = outcome(row);
    return o ? std::optional(o->quickbox.median) : std::nullopt;
  };
  // The signed rows were timed in alternation with their unsigned twins: the MAC's cost is their
  // per-unit figure.
  auto mac_cost = [&](const std::string &row) {
    const Outcome *o = outcome(row);
    return o && o->per_unit_ns ? std::optional(Nanos(*o->per_unit_ns)) : std::nullopt;
  };
  auto capture = median(capture_row(kFewVars)), fresh_capture = median(capture_row(kFresh)),
       restore = median(restore_row(kFewVars)), inspect = median(kInspectRow);
  auto mac = mac_cost(kSignedCaptureRow), mac_check = mac_cost(kSignedRestoreRow);
  if (!capture || !fresh_capture || !restore || !inspect || !mac || !mac_check) return nullptr;
  const Engine &engine = state_->engine;
  Nanos instance = measure(
      [&engine] {
        auto start = Clock::now();
        auto sandbox = Sandbox::create(engine);
        Nanos took(Clock::now() - start);
        checked(std::move(sandbox), "Sandbox::create");
        return took;
      },
      plan).median;
  auto vars = checked(quickbox::inspect_snapshot(state_->find(kFewVars).snapshot), "inspecting a snapshot");
  auto fresh = checked(quickbox::inspect_snapshot(state_->find(kFresh).snapshot), "inspecting a snapshot");

  // Capturing the fresh sandbox scans the same memory but compresses almost nothing: the rest of
  // the few-variables capture is the XOR and zstd of the memory it changed beyond that.
  Nanos scan = *fresh_capture, changed = *capture - *fresh_capture;
  // A restore validates and decompresses (all inspect_snapshot does), makes a new instance (all
  // Sandbox::create does), then applies the chunks, the options and the host state.
  Nanos apply = *restore - *inspect - instance;
  auto d = [](Nanos n) { return format_duration(n); };
  std::cout << "\n";
  print_extra(kPhases, "capture " + d(*capture) + " = scan " + format_bytes(double(vars.memory_bytes)) + " " +
                           d(scan) + " (the fresh sandbox's capture) + XOR and zstd of " +
                           format_bytes(double(vars.changed_bytes - fresh.changed_bytes)) + " more " + d(changed) +
                           "; HMAC +" + d(*mac));
  print_extra("", "restore " + d(*restore) + " = validate and decompress " + d(*inspect) + " (inspect) + new instance " +
                      d(instance) + " (create) + apply " + format_bytes(double(vars.changed_bytes)) + " " + d(apply) +
                      "; HMAC check +" + d(*mac_check));
  return Value::Object{{"capture_ns", number(capture->count())},
                       {"scan_ns", number(scan.count())},
                       {"changed_memory_ns", number(changed.count())},
                       {"mac_ns", number(mac->count())},
                       {"restore_ns", number(restore->count())},
                       {"validate_decompress_ns", number(inspect->count())},
                       {"new_instance_ns", number(instance.count())},
                       {"apply_ns", number(apply.count())},
                       {"mac_check_ns", number(mac_check->count())}};
}

}  // namespace bench
