// Specifications of operations nested inside a host function of their own sandbox (the threading
// contract in include/quickbox/sandbox.hh): a host function may evaluate in the sandbox that is
// running it, and the evaluation that called it carries on intact; the nested one shares its
// limits, cannot wait, and is bounded in depth.
#include <gtest/gtest.h>

#include <chrono>
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

/// Registers `nest(source)`: evaluates source in the same sandbox and returns its value, or the
/// nested error as "Kind: message" (so the outer program sees how it ended).
void register_nest(Sandbox &sandbox, std::vector<Result> *results = nullptr, EvalOptions options = {}) {
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::sync(
                      "nest",
                      [&sandbox, results, options](const CallInfo &, std::span<const Value> args) {
                        Result r = sandbox.eval(args[0].as_string(), options);
                        if (results) results->push_back(r);
                        if (r.ok()) return r.value();
                        return Value(std::string(to_string(r.error().kind)) + ": " + r.error().message);
                      }))
                  .ok());
}

TEST(ReentrantEval, AHostFunctionEvaluatesInItsOwnSandboxAndTheOuterEvaluationCarriesOn) {
  Sandbox sandbox = make_sandbox();
  register_nest(sandbox);
  EXPECT_EQ(eval_ok(sandbox, "let a = 1; const inner = nest('globalThis.fromInner = a + 41; fromInner');\n"
                             "[inner, a, fromInner, 'after']"),
            Value(Value::Array{42.0, 1.0, 42.0, "after"}));
  EXPECT_EQ(eval_ok(sandbox, "fromInner"), Value(42.0)) << "what the nested eval declared persists";
}

TEST(ReentrantEval, TheHostFunctionsArgumentsAndTheOuterProgramSurviveANestedEvalThatGrowsMemory) {
  Sandbox sandbox = make_sandbox();
  std::vector<std::string> seen;
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::sync(
                      "record", [&](const CallInfo &, std::span<const Value> args) {
                        // Large enough to grow the guest's buffers (and maybe its memory) underneath.
                        Result big = sandbox.eval("new Uint8Array(300000).fill(7)");
                        EXPECT_TRUE(big.ok()) << describe(big);
                        if (big.ok()) EXPECT_EQ(big.value().as_bytes().data.size(), 300000u);
                        seen.push_back(args[0].as_string());
                        return Value(args[0].as_string() + "!" + std::to_string(args.size()));
                      }))
                  .ok());
  EXPECT_EQ(eval_ok(sandbox, "[record('alpha', {x: [1, 2]}), record('beta'), record('gamma', 1, 2)].join()"),
            Value("alpha!2,beta!1,gamma!3"));
  EXPECT_EQ(seen, (std::vector<std::string>{"alpha", "beta", "gamma"}));
}

TEST(ReentrantEval, AnOuterEvaluationAwaitingPromisesKeepsItsStateAcrossANestedOne) {
  Sandbox sandbox = make_sandbox();
  register_nest(sandbox);
  Value v = eval_ok(sandbox,
                    "const first = await Promise.resolve('one');\n"
                    "const second = nest('(async () => { await null; return \"two\"; })()');\n"
                    "const third = await new Promise(r => setTimeout(() => r('three'), 5));\n"
                    "[first, second, third]");
  EXPECT_EQ(v, Value(Value::Array{"one", "two", "three"}));
}

TEST(ReentrantEval, AGetterInACapabilitysArgumentsMayCallAnotherCapability) {
  Sandbox sandbox = make_sandbox();
  std::vector<std::string> calls;
  auto record = [&](std::string name) {
    return Capability::sync(name, [&calls, name](const CallInfo &, std::span<const Value> args) {
      calls.push_back(name + to_json(Value(Value::Array(args.begin(), args.end()))));
      return Value(name);
    });
  };
  ASSERT_TRUE(sandbox.register_capability(record("outer")).ok());
  ASSERT_TRUE(sandbox.register_capability(record("inner")).ok());
  // Reading the getter while encoding outer's arguments calls inner, whose arguments are encoded
  // meanwhile: each call gets its own.
  EXPECT_EQ(eval_ok(sandbox, "outer(1, {get g() { return inner('x', 99); }}, 'last')"), Value("outer"));
  EXPECT_EQ(calls, (std::vector<std::string>{R"(inner["x",99])", R"(outer[1,{"g":"inner"},"last"])"}));
}

TEST(ReentrantEval, ANestedErrorReachesTheHostFunctionAndTheOuterProgramGoesOn) {
  Sandbox sandbox = make_sandbox();
  std::vector<Result> results;
  register_nest(sandbox, &results);
  EXPECT_EQ(eval_ok(sandbox, "const e = nest('throw new TypeError(\"inner\")'); e + ' / outer fine'"),
            Value("JSException: inner / outer fine"));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].error().name, "TypeError");
  EXPECT_EQ(eval_ok(sandbox, "nest('Promise.reject(new Error(\"late\"))')"), Value("JSException: late"));
}

TEST(ReentrantEval, ANestedEvaluationCannotWaitOnAsyncCallsOrTimersAndTheOuterOnesStayIntact) {
  Sandbox sandbox = make_sandbox();
  std::vector<Result> results;
  register_nest(sandbox, &results);
  ASSERT_TRUE(sandbox.register_capability(Capability::external("ask")).ok());
  Result outer = sandbox.eval(
      "const timer = new Promise(r => setTimeout(() => r('outer timer'), 5));\n"
      "const asked = ask('outer');\n"
      "const a = nest('await ask(\"inner\")');\n"
      "const b = nest('await new Promise(r => setTimeout(r, 1))');\n"
      "[a, b, await timer, await asked]");
  ASSERT_TRUE(outer.is_suspended()) << describe(outer);
  ASSERT_EQ(outer.pending().size(), 1u) << "only the outer program's call waits for the caller";
  EXPECT_EQ(outer.pending()[0].args, (std::vector<Value>{Value("outer")}));
  ASSERT_TRUE(sandbox.resolve(outer.pending()[0].call_id, Value("answered")).ok());
  Result done = sandbox.resume();
  ASSERT_TRUE(done.ok()) << describe(done);
  const auto &a = done.value().as_array();
  EXPECT_NE(a[0].as_string().find("JSException: the call to 'ask' cannot wait: this code runs nested inside a "
                                  "host function"),
            std::string::npos)
      << a[0].as_string();
  EXPECT_EQ(a[1].as_string(),
            "Deadlock: an evaluation nested inside a host function cannot wait for timers or async host calls: "
            "its promise must settle before the host function returns");
  EXPECT_EQ(a[2], Value("outer timer"));
  EXPECT_EQ(a[3], Value("answered"));
}

TEST(ReentrantEval, ANestedEvaluationsCpuTimeCountsAgainstTheOuterOnesLimit) {
  Sandbox sandbox = make_sandbox();
  std::vector<Result> results;
  EvalOptions generous;
  generous.cpu_time = 20s;  // the nested eval asks for more than its outer one has left
  register_nest(sandbox, &results, generous);
  EvalOptions options;
  options.cpu_time = 300ms;
  auto started = std::chrono::steady_clock::now();
  Error e = eval_error(sandbox, "nest('for (;;) {}'); 'escaped'", options);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_EQ(e.kind, ErrorKind::Timeout) << e.message;
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].error().kind, ErrorKind::Timeout);
  EXPECT_FALSE(e.instance_discarded);

  // Short nested spins each within the outer limit, but together beyond it: a host function's
  // own time is not charged to the program, its nested guest code is.
  results.clear();
  e = eval_error(sandbox,
                 "for (let i = 0; i < 20; i++) nest('{ const t = Date.now(); while (Date.now() - t < 60) {} }');"
                 "'escaped'",
                 options);
  EXPECT_EQ(e.kind, ErrorKind::Timeout) << e.message;
  // About five 60 ms spins on an idle machine; a loaded one gets less CPU per spin, never 1200 ms.
  EXPECT_LT(results.size(), 20u) << "the outer evaluation ran out before its twenty spins were done";
  EXPECT_EQ(eval_ok(sandbox, "'usable'"), Value("usable"));
}

TEST(ReentrantEval, ANestedEvaluationSharesTheOuterOnesWallClock) {
  SandboxOptions options;
  options.limits.wall_time = 300ms;
  Sandbox sandbox = make_sandbox(options);
  std::vector<Result> results;
  register_nest(sandbox, &results);
  ASSERT_TRUE(sandbox.register_capability(Capability::sync("nap", [](const CallInfo &, std::span<const Value>) {
                std::this_thread::sleep_for(200ms);  // host time: wall clock, not CPU
                return Value();
              })).ok());
  auto started = std::chrono::steady_clock::now();
  Error e = eval_error(sandbox, "nap(); nest('for (;;) {}'); 'escaped'");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(e.kind, ErrorKind::Timeout) << e.message;
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].error().message, "wall-clock limit of 300 ms exceeded");
}

TEST(ReentrantEval, ANestedStopAtTheHardDeadlineDiscardsTheInstanceOnlyOnceTheOuterCodeHasUnwound) {
  SandboxOptions options;
  options.limits.cpu_time = 100ms;
  Sandbox sandbox = make_sandbox(options);
  std::vector<Result> results;
  register_nest(sandbox, &results);
  eval_ok(sandbox, "globalThis.before = 1");
  // join walks 4 billion holes in C without reaching QuickJS's interrupt check.
  Result r = sandbox.eval("const inner = nest(\"new Array(2 ** 32 - 1).join('')\"); 'after ' + inner");
  ASSERT_EQ(results.size(), 1u);
  ASSERT_TRUE(results[0].failed()) << describe(results[0]);
  EXPECT_EQ(results[0].error().kind, ErrorKind::Timeout);
  if (results[0].error().instance_discarded) {
    ASSERT_TRUE(r.failed()) << describe(r);
    EXPECT_EQ(r.error().kind, ErrorKind::Internal);
    EXPECT_EQ(r.error().message, "the sandbox's instance was discarded after a hard CPU deadline in an operation "
                                 "nested inside a host function");
    EXPECT_TRUE(r.error().instance_discarded);
    EXPECT_TRUE(sandbox.discarded());
    ASSERT_TRUE(sandbox.reset().ok());
  }
  EXPECT_EQ(eval_ok(sandbox, "1 + 1"), Value(2));
}

TEST(ReentrantEval, ANestedEvaluationCountsAgainstTheOuterOnesHostCallBudget) {
  SandboxOptions options;
  options.limits.max_host_calls = 3;
  Sandbox sandbox = make_sandbox(options);
  register_nest(sandbox);
  ASSERT_TRUE(sandbox.register_capability(Capability::sync("tick", [](const CallInfo &, std::span<const Value>) {
                return Value(1.0);
              })).ok());
  // nest (1), then tick and tick inside (2, 3): a fourth call anywhere is over the budget.
  Value v = eval_ok(sandbox, "const inner = nest('tick() + tick() + (() => { try { return tick(); } "
                             "catch (e) { return 100; } })()'); inner");
  EXPECT_EQ(v, Value(102.0));
}

TEST(ReentrantEval, NestingIsBoundedAndTheDeepestRefusalIsClear) {
  Sandbox sandbox = make_sandbox();
  int depth = 0, deepest = 0;
  std::optional<Error> refusal;
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::sync("recurse",
                                                        [&](const CallInfo &, std::span<const Value>) {
                                                          depth++;
                                                          deepest = std::max(deepest, depth);
                                                          Result r = sandbox.eval("recurse()");
                                                          depth--;
                                                          if (r.failed() && !refusal) refusal = r.error();
                                                          return Value(static_cast<double>(depth));
                                                        }))
                  .ok());
  EXPECT_EQ(eval_ok(sandbox, "recurse()"), Value(0.0));
  EXPECT_EQ(deepest, 9) << "the outer eval and 8 nested ones each called recurse";
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->kind, ErrorKind::InvalidInput);
  EXPECT_EQ(refusal->message,
            "operations nested inside host functions may go 8 deep (a host function that evaluates in its own "
            "sandbox, whose program calls a host function that does the same...); this one would be 9 deep");
  EXPECT_EQ(eval_ok(sandbox, "'usable'"), Value("usable"));
}

TEST(ReentrantEval, NestedRecursionHitsTheSameStackLimitAsACatchableError) {
  Sandbox sandbox = make_sandbox();
  std::vector<Result> results;
  register_nest(sandbox, &results);
  Value v = eval_ok(sandbox,
                    "function deep(n) { return n ? deep(n - 1) + 1 : nest('function f() { return f(); } f()'); }\n"
                    "deep(200)");
  EXPECT_EQ(v.as_string().find("StackOverflow: Maximum call stack size exceeded"), 0u) << to_json(v);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].error().instance_discarded);
  EXPECT_FALSE(sandbox.discarded());
}

TEST(ReentrantEval, ANestedEvaluationRunsOutOfTheSandboxsMemoryAndTheOuterOneRecovers) {
  SandboxOptions options;
  options.limits.memory_bytes = 8u << 20;
  Sandbox sandbox = make_sandbox(options);
  register_nest(sandbox);
  Value v = eval_ok(sandbox, "const keep = 'x'.repeat(1000);\n"
                             "const r = nest('const a = []; for (;;) a.push(new Array(10000).fill(1))');\n"
                             "[r, keep.length]");
  ASSERT_TRUE(v.is_array()) << to_json(v);
  EXPECT_EQ(v.as_array()[0].as_string().find("OutOfMemory: memory limit of 8 MiB exceeded"), 0u) << to_json(v);
  EXPECT_EQ(v.as_array()[1], Value(1000.0));
}

TEST(ReentrantEval, NestedConsoleOutputComesWithTheNestedResultAndTheOuterKeepsItsOwn) {
  Sandbox sandbox = make_sandbox();
  std::vector<Result> results;
  register_nest(sandbox, &results);
  Result r = sandbox.eval("console.log('outer before'); nest('console.log(\"inner\")'); console.log('outer after')");
  ASSERT_TRUE(r.ok()) << describe(r);
  ASSERT_EQ(r.console.size(), 2u);
  EXPECT_EQ(r.console[0].text, "outer before");
  EXPECT_EQ(r.console[1].text, "outer after");
  ASSERT_EQ(results.size(), 1u);
  ASSERT_EQ(results[0].console.size(), 1u);
  EXPECT_EQ(results[0].console[0].text, "inner");
}

TEST(ReentrantEval, GlobalsCallsFormatAndHandlesWorkFromInsideAHostFunction) {
  Sandbox sandbox = make_sandbox();
  std::vector<std::string> seen;
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::sync(
                      "inspect", [&](const CallInfo &, std::span<const Value>) {
                        seen.push_back(to_json(sandbox.get_global("shared").value()));
                        EXPECT_TRUE(sandbox.set_global("fromHost", Value("set")).ok());
                        seen.push_back(to_json(sandbox.call("double", std::vector<Value>{Value(21.0)}).value()));
                        seen.push_back(sandbox.format(Value(Value::Array{1.0, "a"})).value());
                        Result object = sandbox.get_property(Handle::global(), Value("shared"));
                        EXPECT_TRUE(object.ok()) << describe(object);
                        if (object.ok()) {
                          Handle h = object.value().as_handle();
                          seen.push_back(to_json(sandbox.to_value(h).value()));
                          EXPECT_TRUE(sandbox.release(h).ok());
                        }
                        EXPECT_TRUE(sandbox.memory_usage().ok());
                        return Value("inspected");
                      }))
                  .ok());
  EXPECT_EQ(eval_ok(sandbox, "globalThis.shared = {n: 1}; globalThis.double = x => x * 2;\n"
                             "[inspect(), fromHost]"),
            Value(Value::Array{"inspected", "set"}));
  EXPECT_EQ(seen, (std::vector<std::string>{R"({"n":1})", "42", "[ 1, 'a' ]", R"({"n":1})"}));
}

TEST(ReentrantEval, OperationsThatCannotNestAreRefusedFromInsideAHostFunction) {
  Sandbox sandbox = make_sandbox();
  std::vector<std::pair<std::string, std::string>> refused;
  auto note = [&](const char *name, const std::optional<Error> &e) {
    refused.emplace_back(name, e ? e->message : "ran");
  };
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::sync(
                      "probe", [&](const CallInfo &, std::span<const Value>) {
                        auto error_of = [](const auto &r) -> std::optional<Error> {
                          if (r.ok()) return std::nullopt;
                          return r.error();
                        };
                        note("snapshot", error_of(sandbox.snapshot()));
                        note("reset", error_of(sandbox.reset()));
                        note("resume", error_of(sandbox.resume()));
                        note("abandon", error_of(sandbox.abandon()));
                        note("run_jobs", error_of(sandbox.run_jobs()));
                        note("register_capability", error_of(sandbox.register_capability(Capability::external("x"))));
                        return Value();
                      }))
                  .ok());
  eval_ok(sandbox, "probe()");
  ASSERT_EQ(refused.size(), 6u);
  for (const auto &[name, message] : refused)
    EXPECT_EQ(message, "cannot call " + name + "() from inside a host function while the sandbox runs eval(); "
                                               "call it after eval() returns")
        << name;
}

}  // namespace
}  // namespace quickbox
