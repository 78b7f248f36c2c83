// The soak test: several threads share one engine (as a real process would) and, for a set time,
// each runs program after program, every one in a new sandbox, drawn at random (seeded, printed)
// from the hostile corpus (tests/js/hostile) and the normal programs (tests/js/normal). Every run
// is judged by its header exactly as hostile_test judges it, including that the same sandbox and
// a fresh one still work afterwards. RSS is sampled throughout.
//
// It fails (exit status 1) when
//   - any run ends outside its documented outcome, or leaves a sandbox unusable, or spends more
//     CPU than its budget allows;
//   - one program runs longer than --stuck-seconds of wall time (a hang: the process is stopped);
//   - RSS ever exceeds the absolute bound: RSS after the engine is created plus
//     kPerThreadAllowance per thread. Each thread has at most two sandboxes alive at once (the
//     program's and the fresh one that proves the next sandbox is pristine); one sandbox's linear
//     memory is at most memory_bytes x 1.25 + the 1.5 MiB base image (82 MiB at the 64 MiB
//     default), and the host keeps at most one result (16 MiB encoded, about as much decoded)
//     and the call arguments its host memory budget allows. 256 MiB per thread covers all that;
//   - RSS grows in steady state: the floor of RSS (the lowest sample) in the last fifth of the run
//     exceeds the floor in the second fifth by more than --max-growth-mib (64 MiB by default).
//     The first fifth is warm-up (pool slots and allocator arenas touched for the first time).
//     The floor, not the median, because RSS swings by up to 82 MiB per thread with whichever
//     memory bomb happens to be running; the floor is what stays when little is in flight, and
//     a leak raises it with every program run while a healthy process plateaus.
// Otherwise it prints its figures and exits 0. A crash ends the process, which is a failure too.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "quickbox/quickbox.hh"
#include "rss.hh"
#include "support/hostile_corpus.hh"
#include "support/sanitizers.hh"

namespace quickbox::soak {
namespace {

using namespace std::chrono_literals;
using test_support::CorpusProgram;
using test_support::RunReport;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kPerThreadAllowance = 256 * kMiB;

// Under AddressSanitizer RSS says little about the program: freed memory waits in a quarantine of
// up to 256 MiB and every allocation has shadow memory. The RSS bounds are then reported, not
// enforced (make test-asan runs this binary to find memory errors, not to measure memory).
constexpr bool kEnforceRssBounds = !quickbox::test_support::kAddressSanitizer;

struct Settings {
  double seconds = 30;
  unsigned threads = 4;
  uint64_t seed = 0;  // 0: pick one
  double hostile_share = 0.6;
  uint64_t max_growth_mib = 64;
  double stuck_seconds = 120;
  unsigned sample_ms = 200;
  std::vector<std::string> skip;  // families ("settle") or file names
};

[[noreturn]] void usage(const char *problem) {
  std::fprintf(stderr,
               "quickbox-soak: %s\n"
               "usage: quickbox-soak [--seconds S] [--threads N] [--seed N] [--hostile-share F]\n"
               "                     [--max-growth-mib M] [--stuck-seconds S] [--skip family-or-file,...]\n",
               problem);
  std::exit(2);
}

Settings parse_arguments(int argc, char **argv) {
  Settings s;
  for (int i = 1; i < argc; i++) {
    std::string flag = argv[i];
    if (i + 1 >= argc) usage(("missing a value after " + flag).c_str());
    std::string value = argv[++i];
    try {
      if (flag == "--seconds") s.seconds = std::stod(value);
      else if (flag == "--threads") s.threads = static_cast<unsigned>(std::stoul(value));
      else if (flag == "--seed") s.seed = std::stoull(value);
      else if (flag == "--hostile-share") s.hostile_share = std::stod(value);
      else if (flag == "--max-growth-mib") s.max_growth_mib = std::stoull(value);
      else if (flag == "--stuck-seconds") s.stuck_seconds = std::stod(value);
      else if (flag == "--skip") {
        std::stringstream list(value);
        for (std::string family; std::getline(list, family, ',');)
          if (!family.empty()) s.skip.push_back(family);
      } else usage(("unknown option " + flag).c_str());
    } catch (const std::logic_error &) {
      usage(("not a number: " + flag + " " + value).c_str());
    }
  }
  if (s.seconds <= 0 || s.threads == 0 || s.threads > 64 || s.hostile_share < 0 || s.hostile_share > 1)
    usage("--seconds must be positive, --threads 1..64, --hostile-share 0..1");
  if (s.seed == 0) s.seed = std::random_device{}() | 1;
  return s;
}

/// What every worker thread adds up, under one lock.
struct Tally {
  std::mutex mutex;
  uint64_t runs = 0, hostile_runs = 0, normal_runs = 0, discarded = 0;
  std::map<std::string, uint64_t> by_family, by_outcome;
  std::vector<std::string> problems;
  std::chrono::microseconds max_thread_cpu{0};
  std::string max_thread_cpu_program;

  void add(const CorpusProgram &program, bool hostile, const RunReport &report) {
    std::lock_guard lock(mutex);
    runs++;
    (hostile ? hostile_runs : normal_runs)++;
    by_family[(hostile ? "" : "normal/") + program.family()]++;
    by_outcome[report.kind ? std::string(to_string(*report.kind)) : "Done"]++;
    if (report.instance_discarded) discarded++;
    if (report.thread_cpu > max_thread_cpu) {
      max_thread_cpu = report.thread_cpu;
      max_thread_cpu_program = program.file_name;
    }
    for (const auto &p : report.problems) problems.push_back(p);
  }
};

/// What each worker is running right now, for the watchdog.
struct Activity {
  std::atomic<int64_t> started_ns{0};  // 0: between programs
  std::atomic<const CorpusProgram *> program{nullptr};
};

struct Sample {
  double at_seconds;
  uint64_t rss;
};

/// The lowest and the median RSS sampled in [from, to) seconds.
struct Window {
  uint64_t floor = 0, median = 0;
};

Window rss_window(const std::vector<Sample> &samples, double from, double to) {
  std::vector<uint64_t> values;
  for (const auto &s : samples)
    if (s.at_seconds >= from && s.at_seconds < to) values.push_back(s.rss);
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  return {values.front(), values[values.size() / 2]};
}

double mib(uint64_t bytes) { return static_cast<double>(bytes) / kMiB; }

int run(const Settings &settings) {
  auto skipped = [&](const CorpusProgram &p) {
    return std::any_of(settings.skip.begin(), settings.skip.end(),
                       [&](const std::string &s) { return s == p.family() || s == p.file_name; });
  };
  std::vector<CorpusProgram> hostile, normal;
  for (auto &p : test_support::load_programs(test_support::hostile_corpus_dir()))
    if (!skipped(p)) hostile.push_back(std::move(p));
  normal = test_support::load_programs(test_support::normal_programs_dir());
  if (hostile.empty() || normal.empty()) {
    std::fprintf(stderr, "quickbox-soak: no programs found under %s and %s\n",
                 test_support::hostile_corpus_dir().c_str(), test_support::normal_programs_dir().c_str());
    return 1;
  }

  auto engine = Engine::create();
  if (!engine) {
    std::fprintf(stderr, "quickbox-soak: cannot create the engine: %s\n", engine.error().to_string().c_str());
    return 1;
  }
  const uint64_t rss_at_start = current_rss_bytes();
  const uint64_t rss_bound = rss_at_start + settings.threads * kPerThreadAllowance;

  std::printf("soak: seed %llu, %u threads, %.0f s, %zu hostile and %zu normal programs, hostile share %.2f\n",
              static_cast<unsigned long long>(settings.seed), settings.threads, settings.seconds, hostile.size(),
              normal.size(), settings.hostile_share);
  if (!settings.skip.empty()) {
    std::printf("soak: skipping:");
    for (const auto &f : settings.skip) std::printf(" %s", f.c_str());
    std::printf("\n");
  }
  std::printf("soak: RSS after engine creation %.1f MiB; bound %.1f MiB (+%llu MiB per thread)\n",
              mib(rss_at_start), mib(rss_bound), static_cast<unsigned long long>(kPerThreadAllowance / kMiB));
  std::fflush(stdout);

  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(settings.seconds));
  auto seconds_since_start = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };

  Tally tally;
  std::vector<Activity> activity(settings.threads);
  std::atomic<bool> stop_sampling{false};
  std::vector<Sample> samples;
  uint64_t max_rss = 0;

  std::thread sampler([&] {
    while (!stop_sampling) {
      uint64_t rss = current_rss_bytes();
      samples.push_back({seconds_since_start(), rss});
      max_rss = std::max(max_rss, rss);
      int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
      for (auto &a : activity) {
        int64_t began = a.started_ns;
        const CorpusProgram *program = a.program;
        if (began && program && (now_ns - began) / 1e9 > settings.stuck_seconds) {
          // The thread cannot be stopped from outside; report and end the process.
          std::printf("soak: FAILED: %s has been running for more than %.0f s (a hang)\n",
                      program->file_name.c_str(), settings.stuck_seconds);
          std::fflush(stdout);
          std::_Exit(1);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(settings.sample_ms));
    }
  });

  std::vector<std::thread> workers;
  for (unsigned t = 0; t < settings.threads; t++) {
    workers.emplace_back([&, t] {
      std::mt19937_64 random(settings.seed + t);
      std::uniform_real_distribution<double> share(0, 1);
      while (Clock::now() < deadline) {
        bool pick_hostile = share(random) < settings.hostile_share;
        const auto &pool = pick_hostile ? hostile : normal;
        const CorpusProgram &program = pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(random)];
        activity[t].program = &program;
        activity[t].started_ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
        RunReport report = test_support::run_program(engine.value(), program);
        activity[t].started_ns = 0;
        tally.add(program, pick_hostile, report);
      }
    });
  }
  for (auto &w : workers) w.join();
  const double elapsed = seconds_since_start();
  stop_sampling = true;
  sampler.join();

  // ---- Figures --------------------------------------------------------------------------------
  std::printf("soak: %llu programs in %.1f s (%.1f per second): %llu hostile, %llu normal; %llu instances discarded\n",
              static_cast<unsigned long long>(tally.runs), elapsed, tally.runs / elapsed,
              static_cast<unsigned long long>(tally.hostile_runs), static_cast<unsigned long long>(tally.normal_runs),
              static_cast<unsigned long long>(tally.discarded));
  std::printf("soak: by outcome:");
  for (const auto &[kind, n] : tally.by_outcome) std::printf(" %s %llu", kind.c_str(), static_cast<unsigned long long>(n));
  std::printf("\nsoak: by class:");
  for (const auto &[family, n] : tally.by_family)
    std::printf(" %s %llu", family.c_str(), static_cast<unsigned long long>(n));
  std::printf("\nsoak: most CPU in one evaluation: %.0f ms (%s)\n", tally.max_thread_cpu.count() / 1000.0,
              tally.max_thread_cpu_program.c_str());

  const size_t shown = 20;
  size_t step = std::max<size_t>(1, samples.size() / shown);
  std::printf("soak: RSS samples (every %.1f s):", step * settings.sample_ms / 1000.0);
  for (size_t i = 0; i < samples.size(); i += step) std::printf(" %.0f", mib(samples[i].rss));
  std::printf(" MiB\n");

  const double fifth = elapsed / 5;
  const Window early = rss_window(samples, fifth, 2 * fifth), late = rss_window(samples, 4 * fifth, elapsed + 1);
  const double growth = mib(late.floor) - mib(early.floor);
  std::printf("soak: max RSS %.1f MiB (bound %.1f MiB)\n", mib(max_rss), mib(rss_bound));
  std::printf("soak: RSS floor / median: %.1f / %.1f MiB in the second fifth, %.1f / %.1f MiB in the last fifth; "
              "floor growth %+.1f MiB (bound %llu MiB)\n",
              mib(early.floor), mib(early.median), mib(late.floor), mib(late.median), growth,
              static_cast<unsigned long long>(settings.max_growth_mib));

  // ---- Verdict --------------------------------------------------------------------------------
  bool failed = false;
  if (!tally.problems.empty()) {
    failed = true;
    std::printf("soak: FAILED: %zu runs departed from their headers; the first ones:\n", tally.problems.size());
    for (size_t i = 0; i < std::min<size_t>(tally.problems.size(), 20); i++)
      std::printf("  %s\n", tally.problems[i].c_str());
  }
  if (!kEnforceRssBounds) std::printf("soak: RSS bounds not enforced: built with AddressSanitizer\n");
  if (kEnforceRssBounds && max_rss > rss_bound) {
    failed = true;
    std::printf("soak: FAILED: RSS reached %.1f MiB, above its bound of %.1f MiB\n", mib(max_rss), mib(rss_bound));
  }
  if (kEnforceRssBounds && growth > static_cast<double>(settings.max_growth_mib)) {
    failed = true;
    std::printf("soak: FAILED: RSS grew by %.1f MiB in steady state, more than %llu MiB\n", growth,
                static_cast<unsigned long long>(settings.max_growth_mib));
  }
  std::printf("soak: %s (seed %llu)\n", failed ? "FAILED" : "passed", static_cast<unsigned long long>(settings.seed));
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace quickbox::soak

int main(int argc, char **argv) { return quickbox::soak::run(quickbox::soak::parse_arguments(argc, argv)); }
