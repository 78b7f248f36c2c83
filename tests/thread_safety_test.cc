// Specifications of the threading contract of a Sandbox (include/quickbox/sandbox.hh): every public
// operation on a busy sandbox is refused, waits, is deferred, or (from inside a host function of
// the same sandbox) runs nested, and never crashes the process or disturbs the operation that is
// running.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace std::chrono_literals;
using namespace test_support;

/// One public operation, called for the effect of being called; the result says whether it was
/// refused and why (nullopt: it ran).
struct Operation {
  std::string name;
  std::function<std::optional<Error>(Sandbox &)> run;
};

std::optional<Error> error_of(const Result &r) { return r.failed() ? std::optional(r.error()) : std::nullopt; }
std::optional<Error> error_of(const Status &s) { return s.ok() ? std::nullopt : std::optional(s.error()); }
template <typename T>
std::optional<Error> error_of(const Expected<T> &e) {
  return e.ok() ? std::nullopt : std::optional(e.error());
}

/// Every public operation that can report a refusal, with harmless arguments.
std::vector<Operation> fallible_operations() {
  return {
      {"eval", [](Sandbox &s) { return error_of(s.eval("1 + 1")); }},
      {"call", [](Sandbox &s) { return error_of(s.call("Math.max")); }},
      {"get_global", [](Sandbox &s) { return error_of(s.get_global("x")); }},
      {"set_global", [](Sandbox &s) { return error_of(s.set_global("x", Value(1.0))); }},
      {"run_jobs", [](Sandbox &s) { return error_of(s.run_jobs()); }},
      {"memory_usage", [](Sandbox &s) { return error_of(s.memory_usage()); }},
      {"register_capability",
       [](Sandbox &s) { return error_of(s.register_capability(Capability::external("late"))); }},
      {"resume", [](Sandbox &s) { return error_of(s.resume()); }},
      {"abandon", [](Sandbox &s) { return error_of(s.abandon()); }},
      {"snapshot", [](Sandbox &s) { return error_of(s.snapshot()); }},
      {"reset", [](Sandbox &s) { return error_of(s.reset()); }},
      {"resolve", [](Sandbox &s) { return error_of(s.resolve(999, Value(1.0))); }},
      {"reject", [](Sandbox &s) { return error_of(s.reject(999, "no")); }},
      {"approve", [](Sandbox &s) { return error_of(s.approve(999)); }},
      {"deny", [](Sandbox &s) { return error_of(s.deny(999)); }},
  };
}

/// A sandbox whose program signals through `started()` that it runs, then spins until its CPU
/// budget ends it: busy for a known time, on the thread that calls run().
struct SpinningSandbox {
  std::optional<Sandbox> sandbox;
  std::atomic<bool> started = false;

  SpinningSandbox() {
    sandbox.emplace(make_sandbox());
    EXPECT_TRUE(sandbox
                    ->register_capability(Capability::sync("started",
                                                           [this](const CallInfo &, std::span<const Value>) {
                                                             started = true;
                                                             return Value();
                                                           }))
                    .ok());
  }
  Result run(std::chrono::milliseconds budget) {
    EvalOptions options;
    options.cpu_time = budget;
    return sandbox->eval("started(); for (;;) {}", options);
  }
  void wait_until_started() {
    while (!started) std::this_thread::sleep_for(1ms);
  }
};

TEST(ThreadSafety, EveryOperationFromAnotherThreadWhileAnEvalRunsIsRefusedNamingWhatIsBusy) {
  SpinningSandbox s;
  std::optional<Result> ended;
  std::thread runner([&] { ended = s.run(3000ms); });
  s.wait_until_started();
  for (const Operation &op : fallible_operations()) {
    std::optional<Error> refused = op.run(*s.sandbox);
    ASSERT_TRUE(refused) << op.name << " ran while another thread was evaluating";
    EXPECT_EQ(refused->kind, ErrorKind::InvalidInput) << op.name;
    EXPECT_EQ(refused->message.find("the sandbox is busy: another thread is running eval()"), 0u)
        << op.name << ": " << refused->message;
  }
  EXPECT_TRUE(s.sandbox->suspended()) << "suspended() answers at once from any thread: the eval has not ended";
  EXPECT_FALSE(s.sandbox->discarded());
  runner.join();
  ASSERT_TRUE(ended && ended->failed());
  EXPECT_EQ(ended->error().kind, ErrorKind::Timeout) << "the running eval ends as it would have: "
                                                     << describe(*ended);
  EXPECT_FALSE(ended->error().instance_discarded);
  EXPECT_EQ(eval_ok(*s.sandbox, "6 * 7"), Value(42.0)) << "the sandbox works afterwards";
}

TEST(ThreadSafety, ReadsFromAnotherThreadWaitForTheRunningOperationToReturn) {
  SpinningSandbox s;
  std::atomic<bool> eval_returned = false;
  std::thread runner([&] {
    s.run(600ms);
    eval_returned = true;
  });
  s.wait_until_started();
  auto before = std::chrono::steady_clock::now();
  std::vector<PendingCall> pending = s.sandbox->pending_calls();
  auto waited = std::chrono::steady_clock::now() - before;
  EXPECT_TRUE(pending.empty());
  EXPECT_GE(waited, 300ms) << "pending_calls() returned while the eval was still running";
  EXPECT_EQ(s.sandbox->audit_log().size(), 1u) << "the audit log as the eval left it (one call of started)";
  EXPECT_EQ(s.sandbox->audit_entries_dropped(), 0u);
  runner.join();
  EXPECT_TRUE(eval_returned);
}

TEST(ThreadSafety, DestroyingASandboxFromAnotherThreadWaitsForItsOperationToReturn) {
  SpinningSandbox s;
  std::optional<Result> ended;
  std::thread runner([&] { ended = s.run(600ms); });
  s.wait_until_started();
  auto before = std::chrono::steady_clock::now();
  s.sandbox.reset();
  EXPECT_GE(std::chrono::steady_clock::now() - before, 300ms) << "the destructor did not wait for the eval";
  runner.join();
  ASSERT_TRUE(ended && ended->failed());
  EXPECT_EQ(ended->error().kind, ErrorKind::Timeout) << describe(*ended);
}

TEST(ThreadSafety, FromInsideAHostFunctionOperationsThatCannotNestAreRefusedAndTheEvalCarriesOn) {
  Sandbox sandbox = make_sandbox();
  std::vector<std::pair<std::string, std::optional<Error>>> seen;
  std::vector<PendingCall> pending_inside;
  size_t audit_inside = 0;
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::sync("probe",
                                                        [&](const CallInfo &, std::span<const Value>) {
                                                          for (const Operation &op : fallible_operations())
                                                            seen.emplace_back(op.name, op.run(sandbox));
                                                          pending_inside = sandbox.pending_calls();
                                                          audit_inside = sandbox.audit_log().size();
                                                          return Value("probed");
                                                        }))
                  .ok());
  EXPECT_EQ(eval_ok(sandbox, "let x = 40; probe() + ':' + (x + 2)"), Value("probed:42"));
  ASSERT_EQ(seen.size(), fallible_operations().size());
  for (const auto &[name, refused] : seen) {
    bool nests = name == "eval" || name == "call" || name == "get_global" || name == "set_global" ||
                 name == "memory_usage";
    bool settles_a_call = name == "resolve" || name == "reject" || name == "approve" || name == "deny";
    if (nests) {
      // They run nested (tests/reentrant_eval_test.cc): no refusal, at most their own error.
      EXPECT_TRUE(!refused || refused->message.find("from inside a host function") == std::string::npos)
          << name << ": " << refused->message;
    } else if (settles_a_call) {
      // Allowed there: they got as far as looking the call up.
      ASSERT_TRUE(refused) << name;
      EXPECT_EQ(refused->message, "no pending call has id #999") << name;
    } else {
      ASSERT_TRUE(refused) << name << " ran from inside a host function";
      EXPECT_EQ(refused->message, "cannot call " + name + "() from inside a host function while the sandbox runs "
                                  "eval(); call it after eval() returns")
          << name;
    }
  }
  EXPECT_TRUE(pending_inside.empty());
  EXPECT_EQ(audit_inside, 1u) << "the audit log is readable from a host function";
  EXPECT_EQ(eval_ok(sandbox, "x"), Value(40.0)) << "the lexical x is the program's own";
}

TEST(ThreadSafety, AnAsyncHandlerStartedByTheDrivingLoopMayEvaluateNested) {
  Sandbox sandbox = make_sandbox();
  std::optional<Result> eval_inside;
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::async("fetch",
                                                         [&](const CallInfo &, std::vector<Value>, Completion done) {
                                                           eval_inside = sandbox.eval("typeof pending");
                                                           done.resolve(Value("fetched"));
                                                         }))
                  .ok());
  EXPECT_EQ(eval_ok(sandbox, "var pending = 1; await fetch()"), Value("fetched"));
  ASSERT_TRUE(eval_inside);
  ASSERT_TRUE(eval_inside->ok()) << describe(*eval_inside);
  EXPECT_EQ(eval_inside->value(), Value("number"));
}

TEST(ThreadSafety, AnAnswerGivenFromInsideAHostFunctionReachesTheProgramWhenItResumes) {
  Sandbox sandbox = make_sandbox();
  uint32_t asked = 0;
  std::optional<Error> answer_error;
  ASSERT_TRUE(sandbox.register_capability(Capability::external("ask")).ok());
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::sync("answer_it",
                                                        [&](const CallInfo &, std::span<const Value>) {
                                                          answer_error = error_of(sandbox.resolve(asked, Value("yes")));
                                                          return Value("answered");
                                                        }))
                  .ok());
  Result first = sandbox.eval("Object.defineProperty(globalThis, 'trigger', {get() { return answer_it(); }});\n"
                              "await ask()");
  ASSERT_TRUE(first.is_suspended()) << describe(first);
  asked = first.pending().at(0).call_id;
  // get_global is allowed while suspended; the getter reaches the host function that answers.
  Result got = sandbox.get_global("trigger");
  ASSERT_TRUE(got.ok()) << describe(got);
  EXPECT_EQ(got.value(), Value("answered"));
  EXPECT_FALSE(answer_error) << answer_error->message;
  EXPECT_TRUE(sandbox.pending_calls().empty()) << "the call is answered, no longer the caller's to settle";
  Result done = sandbox.resume();
  ASSERT_TRUE(done.ok()) << describe(done);
  EXPECT_EQ(done.value(), Value("yes"));
  ASSERT_FALSE(sandbox.audit_log().empty());
  EXPECT_EQ(sandbox.audit_log().front().outcome, CallOutcome::Ok);
}

TEST(ThreadSafety, DestroyingASandboxFromInsideItsHostFunctionTakesEffectWhenTheEvalReturns) {
  std::optional<Sandbox> holder(make_sandbox());
  bool was_destroyed_inside = false;
  ASSERT_TRUE(holder
                  ->register_capability(Capability::sync("close_me",
                                                         [&](const CallInfo &, std::span<const Value>) {
                                                           holder.reset();
                                                           was_destroyed_inside = !holder.has_value();
                                                           return Value(1.0);
                                                         }))
                  .ok());
  Sandbox &sandbox = *holder;
  // The program goes on after the call, and calls again: the sandbox is still whole until it returns.
  Result r = sandbox.eval("let n = close_me(); for (let i = 0; i < 1000; i++) n += i; n + close_me()");
  EXPECT_TRUE(was_destroyed_inside);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.value(), Value(1.0 + 499500.0 + 1.0));
  EXPECT_FALSE(holder.has_value());
}

TEST(ThreadSafety, AnEvalOnAnotherThreadRefusesOnlyItsOwnSandboxNotOthers) {
  SpinningSandbox busy;
  std::thread runner([&] { busy.run(500ms); });
  busy.wait_until_started();
  Sandbox other = make_sandbox();
  EXPECT_EQ(eval_ok(other, "'free'"), Value("free")) << "another sandbox is used at the same time";
  runner.join();
}

}  // namespace
}  // namespace quickbox
