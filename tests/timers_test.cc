// Specifications of timers (setTimeout, setInterval, clearTimeout, clearInterval): they run from
// the host's driving loop, keep an evaluation alive, count against its time limit (ending it at
// once when the next one lies beyond), are capped, jump instead of sleeping on virtual clocks,
// and travel with snapshots as what was left of their delays. The cross-process case is in
// snapshot_process_test.cc.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace test_support;
using namespace std::chrono_literals;
using Clock_ = std::chrono::steady_clock;

constexpr const char *kSleep = "var sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));\n";

std::chrono::milliseconds since(Clock_::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock_::now() - start);
}

SandboxOptions with_wall_time(std::chrono::milliseconds wall) {
  SandboxOptions options;
  options.limits.wall_time = wall;
  return options;
}

SandboxOptions with_clock(Clock::Mode mode, std::optional<std::chrono::milliseconds> wall = 1h) {
  SandboxOptions options;
  options.clock = Clock{.mode = mode, .start_ms = 1'700'000'000'000, .step_us = 1000};
  options.limits.wall_time = wall;
  return options;
}

/// An async capability `slow` whose calls another thread answers with `answer` after `delay`.
class SlowCall {
 public:
  SlowCall(Sandbox &sandbox, std::chrono::milliseconds delay, std::string answer) {
    auto handler = [this, delay, answer](const CallInfo &, std::vector<Value>, Completion done) {
      workers_.emplace_back([done, delay, answer] {
        std::this_thread::sleep_for(delay);
        done.resolve(Value(answer));
      });
    };
    EXPECT_TRUE(sandbox.register_capability(Capability::async("slow", handler)).ok());
  }
  ~SlowCall() {
    for (auto &w : workers_) w.join();
  }

 private:
  std::vector<std::thread> workers_;
};

TEST(Timers, AwaitingATimerWaitsForItsDelayAndIsNotADeadlock) {
  Sandbox sandbox = make_sandbox();
  auto start = Clock_::now();
  EXPECT_EQ(eval_ok(sandbox, std::string(kSleep) + "await sleep(60); 'woke'"), Value("woke"));
  EXPECT_GE(since(start), 60ms);
  Error never = eval_error(sandbox, "await new Promise(() => {})");
  EXPECT_EQ(never.kind, ErrorKind::Deadlock) << "nothing pending is still a deadlock";
  EXPECT_NE(never.message.find("no host call or timer is pending"), std::string::npos) << never.message;
}

TEST(Timers, TheyRunInDueOrderThenInTheOrderTheyWereSetAfterPendingJobs) {
  Sandbox sandbox = make_sandbox();
  Value log = eval_ok(sandbox, std::string(kSleep) + R"(
    const log = [];
    setTimeout(() => log.push('b 20'), 20);
    setTimeout(() => log.push('a 10'), 10);
    setTimeout(() => log.push('c 0'), 0);
    setTimeout(() => log.push('d 0'), 0);
    Promise.resolve().then(() => log.push('job'));
    queueMicrotask(() => log.push('microtask'));
    log.push('sync');
    await sleep(40);
    log)");
  EXPECT_EQ(log, Value(Value::Array{"sync", "job", "microtask", "c 0", "d 0", "a 10", "b 20"}));
}

TEST(Timers, AnIntervalRepeatsWithItsArgumentsUntilClearedAndClearTimeoutCancels) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, std::string(kSleep) + R"(
    const ticks = [];
    const id = setInterval((a, b) => { ticks.push(a + b); if (ticks.length === 3) clearInterval(id); }, 5, 'x', 'y');
    const cancelled = setTimeout(() => ticks.push('cancelled ran'), 10);
    clearTimeout(cancelled);
    clearTimeout(undefined); clearTimeout('nonsense'); clearInterval(123456);
    await sleep(60);
    ({ ticks, idIsPositiveInteger: Number.isInteger(id) && id > 0 }))");
  EXPECT_EQ(v, Value(Value::Object{{"ticks", Value(Value::Array{"xy", "xy", "xy"})}, {"idIsPositiveInteger", true}}));
}

TEST(Timers, ACallbackMustBeAFunction) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "setTimeout('globalThis.x = 1', 1)");
  EXPECT_EQ(e.name, "TypeError");
  EXPECT_NE(e.message.find("code strings are not evaluated"), std::string::npos) << e.message;
}

TEST(Timers, AnExceptionInACallbackEndsTheEvaluationWithThatError) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, std::string(kSleep) +
                                    "setTimeout(() => { throw new RangeError('from a timer'); }, 1); await sleep(50); 'not reached'");
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, "RangeError");
  EXPECT_EQ(e.message, "from a timer");
  EXPECT_EQ(eval_ok(sandbox, "1 + 1"), Value(2)) << "the sandbox stays usable";
}

TEST(Timers, TimersStillPendingWhenTheEvaluationEndsAreDroppedWithIt) {
  Sandbox sandbox = make_sandbox();
  auto start = Clock_::now();
  EXPECT_EQ(eval_ok(sandbox, "globalThis.fired = false; setTimeout(() => { fired = true; }, 1); setInterval(() => {}, 1); 'done'"),
            Value("done"));
  EXPECT_LT(since(start), 1000ms) << "the evaluation did not wait for its unawaited timers";
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(eval_ok(sandbox, std::string(kSleep) + "await sleep(20); fired"), Value(false));
}

TEST(Timers, ATimerDueAfterTheWallClockLimitEndsTheEvaluationInTimeoutAtOnce) {
  Sandbox sandbox = make_sandbox(with_wall_time(300ms));
  auto start = Clock_::now();
  Error e = eval_error(sandbox, std::string(kSleep) + "await sleep(100); await sleep(10000)");
  EXPECT_EQ(e.kind, ErrorKind::Timeout);
  EXPECT_NE(e.message.find("wall-clock limit of 300 ms"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("timer due in"), std::string::npos) << e.message;
  EXPECT_GE(since(start), 100ms) << "the first timer, within the limit, ran";
  EXPECT_LT(since(start), 250ms) << "the second was not slept on";
  EXPECT_EQ(eval_ok(sandbox, std::string(kSleep) + "await sleep(50); 'fits'"), Value("fits"));
}

TEST(Timers, InterruptEndsAWaitOnATimerAtOnce) {
  // Ctrl-C and a cancelled task reach the sandbox as interrupt(): a program sleeping on a timer
  // must stop then, not when the timer comes due.
  SandboxOptions options;
  options.limits.cpu_time = 30s;
  Sandbox sandbox = make_sandbox(options);
  std::thread interrupter([&sandbox] {
    std::this_thread::sleep_for(200ms);
    sandbox.interrupt();
  });
  auto start = Clock_::now();
  Error e = eval_error(sandbox, std::string(kSleep) + "await sleep(10000); 'woke'");
  interrupter.join();
  EXPECT_EQ(e.kind, ErrorKind::Timeout);
  EXPECT_NE(e.message.find("interrupted"), std::string::npos) << e.message;
  EXPECT_LT(since(start), 2000ms) << "the timer was slept on";
  EXPECT_EQ(eval_ok(sandbox, std::string(kSleep) + "await sleep(20); 'usable'"), Value("usable"));
}

TEST(Timers, WithoutAWallClockLimitTimersWaitAtMostTheCpuTimeLimit) {
  SandboxOptions options;
  options.limits.cpu_time = 300ms;
  Sandbox sandbox = make_sandbox(options);
  auto start = Clock_::now();
  Error e = eval_error(sandbox, std::string(kSleep) + "await sleep(5000)");
  EXPECT_EQ(e.kind, ErrorKind::Timeout);
  EXPECT_NE(e.message.find("time limit for timers of 300 ms"), std::string::npos) << e.message;
  EXPECT_LT(since(start), 200ms);
  // An interval that never stops runs until the limit and then ends the evaluation, without
  // sleeping past it.
  start = Clock_::now();
  e = eval_error(sandbox, "let n = 0; setInterval(() => { n++; }, 20); await new Promise(() => {})");
  EXPECT_EQ(e.kind, ErrorKind::Timeout);
  EXPECT_GE(since(start), 250ms);
  EXPECT_LT(since(start), 800ms);
}

TEST(Timers, WithoutAWallClockLimitOnlyTheWaitsOnTimersCountTowardTheirLimit) {
  SandboxOptions options;
  options.limits.cpu_time = 300ms;
  Sandbox sandbox = make_sandbox(options);
  SlowCall slow(sandbox, 400ms, "slow");
  Value v = eval_ok(sandbox, std::string(kSleep) + "const a = await slow(); await sleep(100); await sleep(100); a");
  EXPECT_EQ(v, Value("slow")) << "400 ms on a host call and 200 ms on timers stay within 300 ms of timer waits";
}

TEST(Timers, PendingTimersAreCappedByMaxTimers) {
  SandboxOptions options;
  options.limits.max_timers = 3;
  Sandbox sandbox = make_sandbox(options);
  Value v = eval_ok(sandbox, R"(
    const ids = [setTimeout(() => {}, 1000), setTimeout(() => {}, 1000), setInterval(() => {}, 1000)];
    let refused;
    try { setTimeout(() => {}, 1); } catch (e) { refused = e.name + ': ' + e.message; }
    clearTimeout(ids[0]);
    const again = typeof setTimeout(() => {}, 1);
    ({ refused, again }))");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(*v.find("again"), Value("number")) << "clearing one makes room";
  ASSERT_TRUE(v.find("refused")->is_string());
  EXPECT_NE(v.find("refused")->as_string().find("RangeError: setTimeout: too many timers: this sandbox allows 3"),
            std::string::npos)
      << v.find("refused")->as_string();

  options.limits.max_timers = 0;
  Sandbox none = make_sandbox(options);
  EXPECT_EQ(eval_error(none, "setTimeout(() => {}, 1)").name, "RangeError");

  options.limits.max_timers = 1'000'001;
  auto refused = Sandbox::create(engine(), options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidInput);
  EXPECT_NE(refused.error().message.find("max_timers"), std::string::npos);
}

TEST(Timers, OnAFixedClockTimeJumpsToTheNextTimerInsteadOfSleeping) {
  Sandbox sandbox = make_sandbox(with_clock(Clock::Mode::Fixed));
  auto start = Clock_::now();
  Value v = eval_ok(sandbox, std::string(kSleep) + R"(
    const t0 = Date.now(), p0 = performance.now();
    await sleep(10 * 60 * 1000);
    [Date.now() - t0, performance.now() - p0, Date.now()])");
  EXPECT_LT(since(start), 500ms) << "ten virtual minutes take no real time";
  EXPECT_EQ(v, Value(Value::Array{600000, 600000, 1'700'000'600'000.0}));
}

TEST(Timers, OnADeterministicClockRunsAreInstantAndReproducible) {
  const std::string program = std::string(kSleep) + R"(
    const seen = [];
    let ticks = 0;
    const id = setInterval(() => { seen.push(Date.now()); if (++ticks === 4) clearInterval(id); }, 250);
    setTimeout(() => seen.push('t ' + Date.now()), 600);
    await sleep(2000);
    seen.push(performance.now());
    seen)";
  Sandbox first = make_sandbox(with_clock(Clock::Mode::Deterministic));
  Sandbox second = make_sandbox(with_clock(Clock::Mode::Deterministic));
  auto start = Clock_::now();
  Value a = eval_ok(first, program);
  Value b = eval_ok(second, program);
  EXPECT_LT(since(start), 500ms);
  EXPECT_EQ(a, b) << to_json(a) << " vs " << to_json(b);
  ASSERT_TRUE(a.is_array());
  ASSERT_EQ(a.as_array().size(), 6u) << to_json(a);
  EXPECT_GE(a.as_array()[5].as_number(), 2000) << "performance.now() moved past the awaited timer";
}

TEST(Timers, VirtualTimeStillCountsAgainstTheWallClockLimit) {
  Sandbox sandbox = make_sandbox(with_clock(Clock::Mode::Fixed, 1000ms));
  Error e = eval_error(sandbox, std::string(kSleep) + "await sleep(600); await sleep(600)");
  EXPECT_EQ(e.kind, ErrorKind::Timeout);
  EXPECT_NE(e.message.find("wall-clock limit of 1000 ms"), std::string::npos) << e.message;
}

TEST(Timers, ATimerFiresWhileAnAsyncHostCallRuns) {
  Sandbox sandbox = make_sandbox(with_wall_time(5s));
  SlowCall slow(sandbox, 150ms, "call");
  Value log = eval_ok(sandbox, R"(
    const log = [];
    setTimeout(() => log.push('timer'), 20);
    log.push(await slow());
    log)");
  EXPECT_EQ(log, Value(Value::Array{"timer", "call"}));
}

TEST(Timers, AnEvaluationWaitingOnItsCallerSuspendsAtOnceAndItsTimersRunOnResume) {
  Sandbox sandbox = make_sandbox();
  ASSERT_TRUE(sandbox.register_capability(Capability::external("ask")).ok());
  auto start = Clock_::now();
  Result r = sandbox.eval(R"(
    const log = [];
    const timer = new Promise((resolve) => setTimeout(() => { log.push('timer'); resolve(); }, 200));
    log.push(await ask('ok?'));
    await timer;
    log)");
  ASSERT_TRUE(r.is_suspended()) << describe(r);
  EXPECT_LT(since(start), 150ms) << "a timer not yet due does not hold the suspension back";
  auto next = sandbox.next_timer();
  ASSERT_TRUE(next.has_value()) << "the caller learns when the timer is due";
  EXPECT_GT(*next, 0ms);
  EXPECT_LE(*next, 200ms);
  ASSERT_TRUE(sandbox.resolve(r.pending().at(0).call_id, Value("answer")).ok());
  Result done = sandbox.resume();
  ASSERT_TRUE(done.ok()) << describe(done);
  EXPECT_EQ(done.value(), Value(Value::Array{"answer", "timer"}));
  EXPECT_GE(since(start), 200ms);
}

TEST(Timers, ResumingASuspendedEvaluationWithNothingSettledRunsItsDueTimers) {
  Sandbox sandbox = make_sandbox();
  ASSERT_TRUE(sandbox.register_capability(Capability::external("ask")).ok());
  Result r = sandbox.eval(R"(
    globalThis.log = [];
    setTimeout(() => log.push('timer'), 30);
    await ask();
    log)");
  ASSERT_TRUE(r.is_suspended()) << describe(r);
  EXPECT_EQ(sandbox.next_timer().value_or(-1ms) > 0ms, true);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(sandbox.next_timer(), std::chrono::nanoseconds::zero()) << "due now";
  Result again = sandbox.resume();
  ASSERT_TRUE(again.is_suspended()) << describe(again);
  EXPECT_EQ(sandbox.next_timer(), std::nullopt) << "it ran";
  ASSERT_TRUE(sandbox.resolve(again.pending().at(0).call_id, Value()).ok());
  Result done = sandbox.resume();
  ASSERT_TRUE(done.ok()) << describe(done);
  EXPECT_EQ(done.value(), Value(Value::Array{"timer"}));
  EXPECT_EQ(sandbox.next_timer(), std::nullopt) << "no evaluation is suspended";
}

TEST(Timers, ACallOfAFunctionThatAwaitsATimerWaitsForIt) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "async function later(x) { await new Promise((r) => setTimeout(r, 20)); return x * 2; }");
  Value args[] = {Value(21)};
  Result r = sandbox.call("later", args);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.value(), Value(42));
}

TEST(Timers, ARestoredEvaluationWaitsForWhatWasLeftOfItsTimersDelays) {
  Sandbox sandbox = make_sandbox();
  ASSERT_TRUE(sandbox.register_capability(Capability::external("ask")).ok());
  Result r = sandbox.eval(R"(
    const started = performance.now();
    const timer = new Promise((resolve) => setTimeout(resolve, 300));
    const answer = await ask('ok?');
    await timer;
    ({ answer, waited: performance.now() - started }))");
  ASSERT_TRUE(r.is_suspended()) << describe(r);
  auto bytes = sandbox.snapshot();
  ASSERT_TRUE(bytes.ok()) << bytes.error().to_string();
  std::this_thread::sleep_for(400ms);  // longer than the delay: stored time does not count

  auto restored = Sandbox::restore(engine(), bytes.value());
  ASSERT_TRUE(restored.ok()) << restored.error().to_string();
  Sandbox &again = restored.value();
  ASSERT_TRUE(again.register_capability(Capability::external("ask")).ok());
  ASSERT_TRUE(again.resolve(r.pending().at(0).call_id, Value("yes")).ok());
  auto start = Clock_::now();
  Result done = again.resume();
  ASSERT_TRUE(done.ok()) << describe(done);
  EXPECT_GE(since(start), 250ms) << "the timer still had most of its delay to go";
  EXPECT_EQ(*done.value().find("answer"), Value("yes"));
  double waited = done.value().find("waited")->as_number();
  EXPECT_GE(waited, 300);
  EXPECT_LT(waited, 650) << "performance.now() went on from the snapshot's reading, without the time stored";
}

TEST(Timers, ARestoredVirtualClockContinuesFromTheSnapshot) {
  SandboxOptions options = with_clock(Clock::Mode::Fixed);
  Sandbox sandbox = make_sandbox(options);
  ASSERT_TRUE(sandbox.register_capability(Capability::external("ask")).ok());
  Result r = sandbox.eval(std::string(kSleep) + R"(
    await sleep(1000);
    const timer = sleep(5000).then(() => Date.now());
    await ask();
    [await timer, performance.now()])");
  ASSERT_TRUE(r.is_suspended()) << describe(r);
  auto bytes = sandbox.snapshot();
  ASSERT_TRUE(bytes.ok());
  auto restored = Sandbox::restore(engine(), bytes.value(), options);
  ASSERT_TRUE(restored.ok()) << restored.error().to_string();
  ASSERT_TRUE(restored.value().register_capability(Capability::external("ask")).ok());
  ASSERT_TRUE(restored.value().resolve(r.pending().at(0).call_id, Value()).ok());
  Result done = restored.value().resume();
  ASSERT_TRUE(done.ok()) << describe(done);
  EXPECT_EQ(done.value(), Value(Value::Array{1'700'000'006'000.0, 6000}));
}

TEST(Timers, AFreshSandboxSnapshotStaysUnderOneKilobyte) {
  Sandbox sandbox = make_sandbox();
  auto bytes = sandbox.snapshot();
  ASSERT_TRUE(bytes.ok());
  EXPECT_LT(bytes.value().size(), 1024u);
}

}  // namespace
}  // namespace quickbox
