// quickbox-bench: the performance figures of Quickbox, as a table on stdout and as JSON in a file.
// JS workloads run next to a native (non-wasm) build of the same quickjs-ng; capability calls
// (host_calls.cc) next to the same JS without the calls; snapshots (snapshots.cc) on their own.
// It prints figures; targets are reported (OK / MISSED), never enforced through the exit status.

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "growth.hh"
#include "harness.hh"
#include "host_calls.hh"
#include "native_quickjs.h"
#include "quickbox/quickbox.hh"
#include "snapshots.hh"
#include "workload.hh"

namespace {

using bench::Measure;
using bench::Nanos;
using bench::Outcome;
using bench::Stats;
using bench::Target;
using bench::Workload;
using bench::checked;
using bench::expect_eval;
using bench::number;
using bench::pad;
using bench::pad_left;
using quickbox::Engine;
using quickbox::Sandbox;
using quickbox::Value;
using Clock = bench::Clock;

// ---- Command line ----------------------------------------------------------------------------

struct Options {
  bool quick = false;
  bool cpu_time = false;
  bool perf_map = false;
  std::string json_path = QUICKBOX_BENCH_DEFAULT_JSON;
  std::string filter;
  std::vector<std::string> only;  // whole names; any workload when empty
};

void print_usage(std::ostream &out) {
  out << "usage: quickbox-bench [--quick] [--cpu-time] [--perf-map] [--json FILE] [--filter SUBSTR] [--only NAME]...\n"
         "  --quick          a smoke run: a few samples per workload (figures are rough)\n"
         "  --cpu-time       time samples with the thread's CPU time instead of wall time (steadier\n"
         "                   on a machine other processes keep busy)\n"
         "  --perf-map       name the guest's compiled code in /tmp/perf-PID.map, for `perf record`\n"
         "                   and `perf report` (EngineOptions::perf_map)\n"
         "  --json FILE      where to write the figures as JSON (default " QUICKBOX_BENCH_DEFAULT_JSON ")\n"
         "  --filter SUBSTR  only the workloads whose name contains SUBSTR\n"
         "  --only NAME      only the workload named NAME (repeatable; `eval 1+2` alone, where\n"
         "                   --filter would also take `first eval 1+2`)\n"
         "Targets are reported as OK / MISSED; the exit status is non-zero only when a workload\n"
         "failed to run or returned a wrong result.\n";
}

Options parse_options(int argc, char **argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "quickbox-bench: " << arg << " needs a value\n";
        print_usage(std::cerr);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--cpu-time") {
      options.cpu_time = true;
    } else if (arg == "--perf-map") {
      options.perf_map = true;
    } else if (arg == "--json") {
      options.json_path = value();
    } else if (arg == "--filter") {
      options.filter = value();
    } else if (arg == "--only") {
      options.only.push_back(value());
    } else if (arg == "--help" || arg == "-h") {
      print_usage(std::cout);
      std::exit(0);
    } else {
      std::cerr << "quickbox-bench: unknown argument '" << arg << "'\n";
      print_usage(std::cerr);
      std::exit(2);
    }
  }
  return options;
}

// ---- The machine -----------------------------------------------------------------------------

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

// The 1-, 5- and 15-minute load averages, as /proc/loadavg gives them: on a shared machine they
// say how much the figures of this run were disturbed.
std::string load_average() {
  std::ifstream file("/proc/loadavg");
  std::string one, five, fifteen;
  if (!(file >> one >> five >> fifteen)) return "unknown";
  return one + " " + five + " " + fifteen;
}

// A memory figure of this process from /proc/self/status, e.g. "VmRSS" (everything resident,
// where a page of the base image mapped by n sandboxes counts n times) or "RssAnon" (private
// pages only: what the sandboxes' copy-on-write writes really cost).
double process_status_bytes(const std::string &field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) * 1024;  // kB
  }
  throw std::runtime_error(field + " missing from /proc/self/status");
}

// Resident (VmRSS) and private (RssAnon) bytes, read together.
struct Resident {
  double total = process_status_bytes("VmRSS");
  double anonymous = process_status_bytes("RssAnon");
};

// ---- Output helpers --------------------------------------------------------------------------

Value stats_json(const Stats &s) {
  return Value::Object{{"samples", number(static_cast<double>(s.samples))},
                       {"median_ns", number(s.median.count())},
                       {"p99_ns", s.p99 ? number(s.p99->count()) : Value(nullptr)},
                       {"min_ns", number(s.min.count())}};
}

// ---- Workloads -------------------------------------------------------------------------------

Outcome run_workload(const Workload &w, const bench::Plan &plan) {
  Outcome out;
  if (w.native) {
    std::tie(out.quickbox, out.native) = bench::measure_interleaved(w.quickbox, w.native, plan);
    out.ratio = out.quickbox.median / out.native->median;
  } else if (w.baseline) {
    std::tie(out.quickbox, out.baseline) = bench::measure_interleaved(w.quickbox, w.baseline, plan);
  } else {
    out.quickbox = bench::measure(w.quickbox, plan);
  }
  if (w.per_unit) {
    Nanos net = out.quickbox.median - (out.baseline ? out.baseline->median : Nanos(0));
    out.per_unit_ns = net.count() / w.per_unit->count;
  }
  if (w.target) out.target_met = w.target->met(out.quickbox, out.ratio, out.per_unit_ns);
  return out;
}

// The column after the timings: the native twin and the ratio, or the cost per unit (and the
// baseline subtracted before dividing).
std::string comparison_column(const Workload &w, const Outcome &o) {
  auto dur = [](Nanos d) { return pad_left(bench::format_duration(d), 8); };
  std::string text;
  if (o.native) {
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.1fx", *o.ratio);
    text = "   native " + dur(o.native->median) + "   ratio " + pad_left(ratio, 7);
  } else if (o.per_unit_ns) {
    text = "   per " + w.per_unit->unit + " " + dur(Nanos(*o.per_unit_ns));
    if (o.baseline) text += "  (base " + bench::format_duration(o.baseline->median) + ")";
  }
  return pad(text, 40);
}

void print_row(const Workload &w, const Outcome &o) {
  auto dur = [](Nanos d) { return pad_left(bench::format_duration(d), 8); };
  std::string row = "  " + pad(w.name, bench::kNameWidth) + " median " + dur(o.quickbox.median) +
                    "   p99 " + (o.quickbox.p99 ? dur(*o.quickbox.p99) : pad_left("-", 8)) +
                    "   min " + dur(o.quickbox.min) + "   n " +
                    pad_left(std::to_string(o.quickbox.samples), 6) + comparison_column(w, o);
  if (w.target) row += " target " + w.target->text + (*o.target_met ? "  OK" : "  MISSED");
  std::cout << row << std::endl;
}

Value outcome_json(const Workload &w, const Outcome &o) {
  Value target = nullptr;
  if (w.target) target = Value::Object{{"goal", Value(w.target->text)}, {"met", Value(*o.target_met)}};
  Value per_unit = nullptr;
  if (o.per_unit_ns)
    per_unit = Value::Object{{"unit", Value(w.per_unit->unit)},
                             {"count", number(w.per_unit->count)},
                             {"ns", number(*o.per_unit_ns)}};
  return Value::Object{{"name", Value(w.name)},
                       {"quickbox", stats_json(o.quickbox)},
                       {"native", o.native ? stats_json(*o.native) : Value(nullptr)},
                       {"ratio", o.ratio ? number(*o.ratio) : Value(nullptr)},
                       {"baseline", o.baseline ? stats_json(*o.baseline) : Value(nullptr)},
                       {"per_unit", per_unit},
                       {"target", target}};
}

// A deterministic JSON document of a little over 10 KB whose JSON.stringify(JSON.parse(text))
// is the text itself (compact, numbers in canonical form), so a round trip can be checked.
std::string json_document() {
  std::string text = "{\"items\":[";
  for (int i = 0; text.size() < 10 * 1024; ++i) {
    if (i) text += ',';
    std::string n = std::to_string(i);
    text += "{\"id\":" + n + ",\"name\":\"item-" + n + "\",\"price\":" + std::to_string(i * 3) +
            ".5,\"active\":" + (i % 2 ? "true" : "false") + ",\"tags\":[\"t" +
            std::to_string(i % 7) + "\",\"u" + std::to_string(i % 5) +
            "\"],\"size\":{\"w\":" + std::to_string(i % 13) + ",\"h\":" + std::to_string(i % 11) + "}}";
  }
  return text + "]}";
}

// An owned native runtime+context.
struct NativeJs {
  native_js *js;
  NativeJs() : js(native_js_create()) {
    if (!js) throw std::runtime_error("native: creating a runtime and context failed (out of memory)");
  }
  ~NativeJs() { native_js_destroy(js); }
  NativeJs(const NativeJs &) = delete;
  NativeJs &operator=(const NativeJs &) = delete;

  void eval(const std::string &source) {
    if (native_js_eval(js, source.c_str(), source.size()) != 0)
      throw std::runtime_error("native: `" + source + "` threw");
  }
  // Evaluates once and checks the result's string form.
  void expect(const std::string &source, const std::string &expected) {
    int threw = 0;
    char *text = native_js_eval_to_string(js, source.c_str(), source.size(), &threw);
    std::string got = text ? text : "(out of memory)";
    std::free(text);
    if (threw) throw std::runtime_error("native: `" + source + "` threw " + got);
    if (got != expected)
      throw std::runtime_error("native: `" + source + "` returned " + got.substr(0, 80) +
                               ", expected " + expected.substr(0, 80));
  }
};

// One JS evaluation run on a warm sandbox and on a warm native context.
struct EvalCase {
  std::string name;
  std::string source;
  Value expected;
  std::string native_expected;
  std::optional<Target> target;
};

const char *const kFib = "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }";
// 2^17 appends of 8 bytes: a 1 MiB string. Inside a function so no global binding is redeclared
// by the next run.
const char *const kStringBuild =
    "(() => { let out = ''; for (let i = 0; i < 1 << 17; i++) out += 'abcdefgh'; return out.length })()";

std::vector<EvalCase> eval_cases(const std::string &document) {
  return {
      {"eval undefined", "undefined", Value(), "undefined", std::nullopt},
      {"eval 1+2", "1+2", Value(3), "3", Target{Target::Kind::MedianAtMost, 5e3, "≤ 5 µs"}},
      {"fib(30)", "fib(30)", Value(832040), "832040",
       Target{Target::Kind::RatioAtMost, 1.5, "≤ 1.5x native"}},
      {"JSON 10 KB round trip", "JSON.stringify(JSON.parse(s))", Value(document), document, std::nullopt},
      {"1 MB string build", kStringBuild, Value(1 << 20), std::to_string(1 << 20), std::nullopt},
  };
}

// The eval workloads. `warm` and `native` must already hold fib and the document in `s`.
std::vector<Workload> eval_workloads(Sandbox &warm, NativeJs &native, const std::string &document) {
  std::vector<Workload> workloads;
  for (auto &c : eval_cases(document)) {
    workloads.push_back({c.name,
                         bench::timed([&warm, source = c.source] {
                           checked(warm.eval(source), "quickbox: `" + source + "`");
                         }),
                         bench::timed([&native, source = c.source] { native.eval(source); }),
                         c.target,
                         [&warm, &native, c] {
                           expect_eval(warm, c.source, c.expected);
                           native.expect(c.source, c.native_expected);
                         }});
  }
  // The rows above repeat their source, so a sandbox runs its kept compiled code; a source it has
  // not seen is parsed and compiled first, as the native twin does every time.
  auto fresh_source = [n = uint64_t{0}]() mutable { return "1+2 // " + std::to_string(n++); };
  auto fresh_eval = [fresh_source](auto &&eval) mutable {
    return [fresh_source, eval]() mutable {
      std::string source = fresh_source();
      auto start = Clock::now();
      eval(source);
      return Nanos(Clock::now() - start);
    };
  };
  workloads.push_back(
      {"eval 1+2, new source",
       fresh_eval([&warm](const std::string &source) { checked(warm.eval(source), "quickbox: `1+2` from a new source"); }),
       fresh_eval([&native](const std::string &source) { native.eval(source); }),
       std::nullopt, nullptr});
  return workloads;
}

// Sandbox life-cycle workloads; the native twin creates and frees a runtime and a context.
// `cold` is an engine without a warm pool: each of its sandboxes starts in a slot whose pages were
// all dropped, as a slot never used before.
std::vector<Workload> lifecycle_workloads(const Engine &engine, const Engine &cold) {
  std::vector<Workload> workloads;
  workloads.push_back(
      {"sandbox create",
       [&engine] {
         auto start = Clock::now();
         auto sandbox = Sandbox::create(engine);
         Nanos took(Clock::now() - start);
         if (!sandbox) throw std::runtime_error("Sandbox::create failed: " + sandbox.error().to_string());
         return took;  // the sandbox is destroyed after the clock stopped
       },
       [] {
         auto start = Clock::now();
         NativeJs fresh;
         return Nanos(Clock::now() - start);
       },
       Target{Target::Kind::MedianAtMost, 5e3, "≤ 5 µs"}, nullptr});
  workloads.push_back(
      {"sandbox destroy",
       [&engine] {
         std::optional<Sandbox> sandbox(Sandbox::create(engine).unwrap());
         auto start = Clock::now();
         sandbox.reset();
         return Nanos(Clock::now() - start);
       },
       [] {
         std::optional<NativeJs> fresh(std::in_place);
         auto start = Clock::now();
         fresh.reset();
         return Nanos(Clock::now() - start);
       },
       std::nullopt, nullptr});
  // The first operation of a sandbox touches pages still shared with the base image, so it costs
  // more than the same eval on a warm sandbox; on a slot never used before, more again.
  auto first_eval = [](const char *name, const Engine &from, const char *what) {
    return Workload{name,
                    [&from, what] {
                      Sandbox sandbox = Sandbox::create(from).unwrap();
                      auto start = Clock::now();
                      checked(sandbox.eval("1+2"), what);
                      return Nanos(Clock::now() - start);
                    },
                    [] {
                      NativeJs fresh;
                      auto start = Clock::now();
                      fresh.eval("1+2");
                      return Nanos(Clock::now() - start);
                    },
                    Target{Target::Kind::MedianAtMost, 20e3, "≤ 20 µs"}, nullptr};
  };
  workloads.push_back(first_eval("first eval 1+2", engine, "quickbox: `1+2` in a fresh sandbox"));
  workloads.push_back(first_eval("first eval 1+2, cold slot", cold, "quickbox: `1+2` in a sandbox on a cold slot"));
  workloads.push_back({"create+eval 1+2+destroy",
                       bench::timed([&engine] {
                         Sandbox sandbox = Sandbox::create(engine).unwrap();
                         checked(sandbox.eval("1+2"), "quickbox: `1+2` in a fresh sandbox");
                       }),
                       bench::timed([] {
                         NativeJs fresh;
                         fresh.eval("1+2");
                       }),
                       std::nullopt, nullptr});
  return workloads;
}

// ---- Extras: memory ----------------------------------------------------------------------------

const std::string kFootprint = "footprint";
const std::string kManySandboxes = "sandboxes alive";

Value footprint(const Engine &engine) {
  Sandbox sandbox = Sandbox::create(engine).unwrap();
  auto usage = sandbox.memory_usage();
  if (!usage) throw std::runtime_error("memory_usage() failed: " + usage.error().to_string());
  const auto &u = usage.value();
  std::cout << "  " << pad(kFootprint, bench::kNameWidth) << " fresh sandbox: linear memory "
            << bench::format_bytes(double(u.linear_memory_bytes)) << ", QuickJS heap "
            << bench::format_bytes(double(u.js_malloc_bytes)) << " in "
            << u.js_object_count << " objects\n";
  return Value::Object{{"linear_memory_bytes", number(double(u.linear_memory_bytes))},
                       {"js_malloc_bytes", number(double(u.js_malloc_bytes))},
                       {"js_object_count", number(double(u.js_object_count))}};
}

// `count` sandboxes alive at once, each holding a small global; then all closed, when the memory
// above the engine's warm pool should go back to the system.
Value many_sandboxes(const Engine &engine, int count) {
  std::vector<Sandbox> sandboxes;
  sandboxes.reserve(count);
  Resident before;
  auto start = Clock::now();
  for (int i = 0; i < count; ++i) sandboxes.push_back(Sandbox::create(engine).unwrap());
  Nanos created(Clock::now() - start);
  Resident after_create;
  for (auto &sandbox : sandboxes)
    checked(sandbox.eval("globalThis.note = {id: 1, text: 'a small global'}; 1+2"),
            "quickbox: a small global in one of many sandboxes");
  Resident after_eval;
  start = Clock::now();
  sandboxes.clear();
  Nanos destroyed(Clock::now() - start);
  Resident after_close;

  auto growth = [&](const Resident &now) {
    double total = now.total - before.total, anonymous = now.anonymous - before.anonymous;
    return "RSS +" + bench::format_bytes(total) + " (" + bench::format_bytes(total / count) +
           " each), private +" + bench::format_bytes(anonymous) + " (" +
           bench::format_bytes(anonymous / count) + " each)";
  };
  double private_each = (after_eval.anonymous - before.anonymous) / count;
  std::cout << "  " << pad(std::to_string(count) + " " + kManySandboxes, bench::kNameWidth) << " created in "
            << bench::format_duration(created) << " (" << bench::format_duration(created / count)
            << " each), destroyed in " << bench::format_duration(destroyed) << "\n"
            << "  " << pad("", bench::kNameWidth) << " after create:         " << growth(after_create) << "\n"
            << "  " << pad("", bench::kNameWidth) << " after a global each:  " << growth(after_eval)
            << "   target ≤ 100 KB private each" << (private_each <= 100 * 1024 ? "  OK" : "  MISSED") << "\n"
            << "  " << pad("", bench::kNameWidth) << " after all closed:     " << growth(after_close)
            << " (warm pool " << engine.options().warm_sandboxes << ")\n";
  auto rss = [&](const Resident &now) { return number(now.total - before.total); };
  auto anonymous = [&](const Resident &now) { return number(now.anonymous - before.anonymous); };
  return Value::Object{{"count", number(count)},
                       {"create_total_ns", number(created.count())},
                       {"destroy_total_ns", number(destroyed.count())},
                       {"rss_growth_after_create_bytes", rss(after_create)},
                       {"private_growth_after_create_bytes", anonymous(after_create)},
                       {"rss_growth_after_eval_bytes", rss(after_eval)},
                       {"private_growth_after_eval_bytes", anonymous(after_eval)},
                       {"rss_growth_after_close_bytes", rss(after_close)},
                       {"private_growth_after_close_bytes", anonymous(after_close)}};
}

// The first evaluation on each slot Engine::create pre-faulted (EngineOptions::prefaulted_sandboxes),
// next to the same on an engine that pre-faults none, whose sandboxes start on slots never used:
// engines of 64 slots, each giving 32 samples (its 32 sandboxes kept alive, so each takes its own
// slot). Engine creation is timed too, since that is where the pre-faulting's cost goes.
const std::string kPrefaulted = "first eval, prefaulted slot";

Value prefaulted_first_eval(bool quick) {
  constexpr uint32_t kSlots = 32;
  const int rounds = quick ? 2 : 12;
  struct Side {
    std::vector<Nanos> evals, creations;
  } prefaulted, unused;
  for (int round = 0; round < rounds; ++round)
    for (Side *side : {&prefaulted, &unused}) {
      quickbox::EngineOptions options{.max_sandboxes = 2 * kSlots, .warm_sandboxes = kSlots};
      options.prefaulted_sandboxes = side == &prefaulted ? kSlots : 0;
      auto start = Clock::now();
      Engine engine = Engine::create(options).unwrap();
      side->creations.push_back(Nanos(Clock::now() - start));
      std::vector<Sandbox> alive;
      for (uint32_t i = 0; i < kSlots; ++i) {
        alive.push_back(Sandbox::create(engine).unwrap());
        start = Clock::now();
        checked(alive.back().eval("1+2"), "quickbox: `1+2` on a prefaulted slot");
        side->evals.push_back(Nanos(Clock::now() - start));
      }
    }
  auto median = [](std::vector<Nanos> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  auto p99 = [](std::vector<Nanos> v) {
    std::sort(v.begin(), v.end());
    return bench::percentile(v, 0.99);
  };
  Nanos ours = median(prefaulted.evals);
  std::cout << "  " << pad(kPrefaulted, bench::kNameWidth) << " median " << bench::format_duration(ours)
            << "   p99 " << bench::format_duration(p99(prefaulted.evals)) << "   n " << prefaulted.evals.size()
            << "   target ≤ 20 µs" << (ours.count() <= 20e3 ? "  OK" : "  MISSED") << "\n"
            << "  " << pad("", bench::kNameWidth) << " on slots never used (prefaulted_sandboxes 0): median "
            << bench::format_duration(median(unused.evals)) << "   p99 " << bench::format_duration(p99(unused.evals))
            << "\n"
            << "  " << pad("", bench::kNameWidth) << " engine of " << 2 * kSlots << " slots created in "
            << bench::format_duration(median(prefaulted.creations)) << " pre-faulting " << kSlots << ", "
            << bench::format_duration(median(unused.creations)) << " without\n";
  return Value::Object{{"prefaulted_median_ns", number(ours.count())},
                       {"prefaulted_p99_ns", number(p99(prefaulted.evals).count())},
                       {"never_used_median_ns", number(median(unused.evals).count())},
                       {"never_used_p99_ns", number(p99(unused.evals).count())},
                       {"engine_create_prefaulting_ns", number(median(prefaulted.creations).count())},
                       {"engine_create_without_ns", number(median(unused.creations).count())},
                       {"samples", number(double(prefaulted.evals.size()))}};
}

// ---- The run -----------------------------------------------------------------------------------

// Prints the machine and the versions; returns the same as JSON fields.
Value::Object describe_setup(const Engine &engine, const Options &options) {
  const auto &info = engine.info();
  std::cout << "quickbox-bench" << (options.quick ? " --quick (rough figures)" : "")
            << (options.cpu_time ? " --cpu-time (thread CPU time)" : " (wall time)") << "\n"
            << "  machine   " << std::thread::hardware_concurrency() << " cores, " << cpu_model()
            << ", load average " << load_average() << "\n"
            << "  quickbox  quickjs-ng " << info.quickjs_version << " on wasmtime "
            << info.wasmtime_version << ", guest " << info.guest_build_id.substr(0, 16) << "\n"
            << "  native    quickjs-ng " << native_js_version() << ", " QUICKBOX_BENCH_NATIVE_BUILD "\n\n";
  return Value::Object{
      {"machine", Value::Object{{"cores", number(std::thread::hardware_concurrency())},
                                {"cpu", Value(cpu_model())},
                                {"load_average_at_start", Value(load_average())}}},
      {"versions", Value::Object{{"quickjs", Value(info.quickjs_version)},
                                 {"wasmtime", Value(info.wasmtime_version)},
                                 {"guest_build_id", Value(info.guest_build_id)},
                                 {"native_quickjs", Value(native_js_version())},
                                 {"native_build", Value(QUICKBOX_BENCH_NATIVE_BUILD)}}},
      {"mode", Value(options.quick ? "quick" : "full")},
      {"clock", Value(options.cpu_time ? "thread_cpu" : "wall")}};
}

int run(const Options &options) {
  // A bad report path should fail before a minute of measuring, not after. (Appending tests
  // that the file can be written without emptying the previous report.)
  if (!std::ofstream(options.json_path, std::ios::app))
    throw std::runtime_error("cannot write " + options.json_path + ": " + std::strerror(errno));

  Engine engine = Engine::create({.perf_map = options.perf_map}).unwrap();
  bench::Plan plan = options.quick ? bench::Plan::quick() : bench::Plan::full();
  auto selected = [&](const std::string &name) {
    return name.find(options.filter) != std::string::npos &&
           (options.only.empty() || std::find(options.only.begin(), options.only.end(), name) != options.only.end());
  };
  Value::Object report = describe_setup(engine, options);

  // Memory first, while the engine's pool is untouched by the timing loops.
  if (selected(kFootprint)) report.emplace_back("footprint", footprint(engine));
  // As many as the issue asks for (10,000), within the engine's cap; a --quick run takes 100.
  if (selected(kManySandboxes))
    report.emplace_back("many_sandboxes",
                        many_sandboxes(engine, options.quick ? 100 : std::min<int>(10000, engine.options().max_sandboxes)));
  bench::SnapshotBench snapshots(engine);
  const std::string &kSnapshotSizes = bench::SnapshotBench::kSizes;
  if (selected(kSnapshotSizes)) report.emplace_back("snapshot_sizes", snapshots.sizes());
  if (selected(bench::kGrowth)) report.emplace_back("growth", bench::growth(engine, options.quick));
  if (selected(kPrefaulted)) report.emplace_back("prefaulted_first_eval", prefaulted_first_eval(options.quick));
  std::cout << "\n";

  // The warm sandbox and its native twin, with fib defined and the JSON document in `s`.
  std::string document = json_document();
  Sandbox warm = Sandbox::create(engine).unwrap();
  checked(warm.eval(kFib), "quickbox: defining fib");
  checked(warm.set_global("s", Value(document)), "quickbox: set_global(\"s\")");
  NativeJs native;
  native.eval(kFib);
  if (native_js_set_global_string(native.js, "s", document.data(), document.size()) != 0)
    throw std::runtime_error("native: setting the global `s` failed");

  Engine cold_engine = Engine::create({.max_sandboxes = 2, .warm_sandboxes = 0}).unwrap();
  std::vector<Workload> workloads = lifecycle_workloads(engine, cold_engine);
  for (auto &w : eval_workloads(warm, native, document)) workloads.push_back(std::move(w));
  bench::HostCallBench host_calls(engine);
  for (auto &w : host_calls.workloads()) workloads.push_back(std::move(w));
  for (auto &w : snapshots.workloads()) workloads.push_back(std::move(w));

  Value::Array rows;
  std::map<std::string, Outcome> outcomes;
  std::string names = kFootprint + "; " + kManySandboxes + "; " + kSnapshotSizes + "; " + bench::kGrowth + "; " + kPrefaulted;
  for (const auto &w : workloads) {
    names += "; " + w.name;
    if (!selected(w.name)) continue;
    if (w.check) w.check();
    Outcome outcome = run_workload(w, plan);
    print_row(w, outcome);
    rows.push_back(outcome_json(w, outcome));
    outcomes[w.name] = outcome;
  }
  if (rows.empty() && !selected(kFootprint) && !selected(kManySandboxes) && !selected(kSnapshotSizes) &&
      !selected(bench::kGrowth) && !selected(kPrefaulted))
    throw std::runtime_error("no workload matches --filter/--only; the names are: " + names);
  report.emplace_back("workloads", std::move(rows));
  Value phases = snapshots.phases(
      [&](const std::string &name) {
        auto row = outcomes.find(name);
        return row == outcomes.end() ? nullptr : &row->second;
      },
      plan);
  if (!phases.is_null()) report.emplace_back("snapshot_phases", std::move(phases));

  std::cout << "\nload average at the end: " << load_average() << "\n";
  report.emplace_back("load_average_at_end", Value(load_average()));
  std::ofstream json(options.json_path);
  json << quickbox::to_json(Value(std::move(report))) << "\n";
  json.close();
  if (!json) throw std::runtime_error("writing " + options.json_path + " failed");
  std::cout << "\nJSON written to " << options.json_path << "\n";
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  Options options = parse_options(argc, argv);
  bench::Clock::cpu_time = options.cpu_time;
  try {
    return run(options);
  } catch (const std::exception &e) {
    std::cerr << "quickbox-bench: " << e.what() << "\n";
    return 1;
  }
}
