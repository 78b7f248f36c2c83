#include "host_calls.hh"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace bench {

namespace {

using quickbox::Capability;
using quickbox::CallInfo;
using quickbox::Completion;
using quickbox::Engine;
using quickbox::Sandbox;
using quickbox::Value;
using Clock = bench::Clock;

// Settles completions on its own thread, as a handler that hands its work to a thread pool does.
class ResolverThread {
 public:
  ResolverThread() : thread_([this] { loop(); }) {}
  ~ResolverThread() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  ResolverThread(const ResolverThread &) = delete;
  ResolverThread &operator=(const ResolverThread &) = delete;

  void post(Completion done, Value value) {
    {
      std::lock_guard lock(mutex_);
      queue_.emplace_back(std::move(done), std::move(value));
    }
    wake_.notify_one();
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to settle
      auto [done, value] = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      done.resolve(std::move(value));
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<Completion, Value>> queue_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts running loop() once the members above exist
};

Value first_argument(std::span<const Value> args) { return args.empty() ? Value() : args.front(); }

// A sandbox offering `noop` (sync), `echoInline` (async, resolved inside the handler) and
// `echoWorker` (async, resolved by the worker thread); each returns its first argument.
//
// The audit log keeps every call for the life of the sandbox, so a loop of calls measured for a
// second would hold millions of entries (and time their reallocation): the sandbox is replaced
// once its log is long, outside the timed region.
class CallSandbox {
 public:
  CallSandbox(const Engine &engine, ResolverThread &worker) : engine_(engine), worker_(worker) {}

  // The sandbox to time the next run on.
  Sandbox &ready() {
    if (!sandbox_ || sandbox_->audit_log().size() > kMaxAuditEntries) replace();
    return *sandbox_;
  }

 private:
  static constexpr size_t kMaxAuditEntries = 20'000;

  void replace() {
    sandbox_.reset();
    sandbox_.emplace(checked(Sandbox::create(engine_), "creating the host-call sandbox"));
    register_capability(Capability::sync("noop", [](const CallInfo &, std::span<const Value> args) {
      return first_argument(args);
    }));
    register_capability(Capability::async(
        "echoInline",
        [](const CallInfo &, std::vector<Value> args, Completion done) { done.resolve(first_argument(args)); }));
    register_capability(Capability::async(
        "echoWorker", [&worker = worker_](const CallInfo &, std::vector<Value> args, Completion done) {
          worker.post(std::move(done), first_argument(args));
        }));
    // The first operations of a sandbox touch pages still shared with the base image; keep that
    // out of the samples.
    checked(sandbox_->eval("noop(1)"), "warming up the host-call sandbox");
  }

  void register_capability(Capability capability) {
    std::string name = capability.name;
    checked(sandbox_->register_capability(std::move(capability)), "registering capability '" + name + "'");
  }

  Engine engine_;
  ResolverThread &worker_;
  std::optional<Sandbox> sandbox_;
};

// Times one eval of source, without the check of its result.
Measure timed_eval(CallSandbox &calls, std::string source) {
  return [&calls, source = std::move(source)] {
    Sandbox &sandbox = calls.ready();
    auto start = Clock::now();
    quickbox::Result result = sandbox.eval(source);
    Nanos took(Clock::now() - start);
    checked(std::move(result), "quickbox: `" + source + "`");
    return took;
  };
}

// Short enough that few samples are cut by the scheduler on a loaded machine; the baseline
// takes the eval's own cost out of the per-call figure.
constexpr int kLoopCalls = 100;
constexpr int kLoopSum = kLoopCalls * (kLoopCalls - 1) / 2;
constexpr int kFanOut = 100;
constexpr int kFanOutSum = kFanOut * (kFanOut - 1) / 2;

// A loop of kLoopCalls iterations adding up `each(i)`, which must return i.
std::string sum_loop(const std::string &each) {
  return "(() => { let s = 0; for (let i = 0; i < " + std::to_string(kLoopCalls) + "; i++) s += " + each +
         "; return s })()";
}

// kFanOut promises made by `each(i)`, which must resolve to i, awaited together and added up.
std::string fan_out(const std::string &each) {
  return "(await Promise.all(Array.from({ length: " + std::to_string(kFanOut) + " }, (_, i) => " + each +
         "))).reduce((s, x) => s + x, 0)";
}

const Target kSyncCallTarget{Target::Kind::PerUnitAtMost, 1e3, "≤ 1 µs per call"};

}  // namespace

struct HostCallBench::State {
  ResolverThread worker;
  CallSandbox calls;
  explicit State(const Engine &engine) : calls(engine, worker) {}
};

HostCallBench::HostCallBench(const Engine &engine) : state_(std::make_unique<State>(engine)) {}
HostCallBench::~HostCallBench() = default;

std::vector<Workload> HostCallBench::workloads() {
  CallSandbox &calls = state_->calls;
  auto check = [&calls](std::vector<std::pair<std::string, Value>> cases) {
    return [&calls, cases = std::move(cases)] {
      for (const auto &[source, expected] : cases) expect_eval(calls.ready(), source, expected);
    };
  };
  std::vector<Workload> workloads;

  // Per call: (loop with the call - the same loop adding i directly) / kLoopCalls.
  std::string sync_loop = sum_loop("noop(i)"), plain_loop = sum_loop("i");
  workloads.push_back({.name = "sync call, loop of " + std::to_string(kLoopCalls),
                       .quickbox = timed_eval(calls, sync_loop),
                       .target = kSyncCallTarget,
                       .check = check({{sync_loop, Value(kLoopSum)}, {plain_loop, Value(kLoopSum)}}),
                       .baseline = timed_eval(calls, plain_loop),
                       .per_unit = PerUnit{kLoopCalls, "call"}});
  // Per call: one eval of a single call - one eval of the same expression without it.
  workloads.push_back({.name = "sync call, single",
                       .quickbox = timed_eval(calls, "noop(1)"),
                       .target = kSyncCallTarget,
                       .check = check({{"noop(1)", Value(1)}, {"(1)", Value(1)}}),
                       .baseline = timed_eval(calls, "(1)"),
                       .per_unit = PerUnit{1, "call"}});

  // Per call: (the fan-out of capability calls - the same fan-out of resolved JS promises) / kFanOut.
  std::string js_promises = fan_out("Promise.resolve(i)");
  for (const auto &[label, capability] : {std::pair{"inline", "echoInline"}, std::pair{"worker", "echoWorker"}}) {
    std::string source = fan_out(std::string(capability) + "(i)");
    workloads.push_back({.name = std::to_string(kFanOut) + " async calls, " + label,
                         .quickbox = timed_eval(calls, source),
                         .check = check({{source, Value(kFanOutSum)}, {js_promises, Value(kFanOutSum)}}),
                         .baseline = timed_eval(calls, js_promises),
                         .per_unit = PerUnit{kFanOut, "call"}});
  }
  return workloads;
}

}  // namespace bench
