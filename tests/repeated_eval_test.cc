// Specification of evaluating the same source again: a sandbox keeps the compiled code of sources
// it sees more than once (see "Repeated sources" in docs/architecture.md), and nothing a program
// can observe tells a repeat from the first evaluation. Each source below runs at least three
// times, so that the later runs use the kept code.
// Written from include/quickbox/sandbox.hh and docs/architecture.md.
#include <gtest/gtest.h>

#include <string>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace test_support;

constexpr int kRepeats = 4;

TEST(RepeatedEval, ADeclarationClashesOnEveryRepeatAsItDidTheSecondTime) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "let declared = 1; declared"), Value(1));
  for (int i = 1; i < kRepeats; i++) {
    Error error = eval_error(sandbox, "let declared = 1; declared");
    EXPECT_EQ(error.name, "SyntaxError");
    EXPECT_TRUE(contains(error.message, "redeclaration of 'declared'")) << error.message;
  }
}

TEST(RepeatedEval, EachRunSeesTheStateThePreviousRunsLeft) {
  Sandbox sandbox = make_sandbox();
  for (int i = 1; i <= kRepeats; i++)
    EXPECT_EQ(eval_ok(sandbox, "var runs = (globalThis.runs ?? 0) + 1; function count() { return runs } count()"),
              Value(i));
}

TEST(RepeatedEval, EachRunCreatesItsOwnObjectsFunctionsAndRegExps) {
  Sandbox sandbox = make_sandbox();
  const char *source = "(globalThis.made ||= []).push({ list: [1] }, function () {}, /a/g, class {}); made.length";
  for (int i = 1; i <= kRepeats; i++) EXPECT_EQ(eval_ok(sandbox, source), Value(4 * i));
  EXPECT_EQ(eval_ok(sandbox, "new Set(made).size === made.length && made[0].list !== made[4].list"), Value(true));
  // A regular expression's lastIndex starts at 0 in each run's own object.
  for (int i = 0; i < kRepeats; i++) EXPECT_EQ(eval_ok(sandbox, "{ const r = /a/g; r.test('aa'); r.lastIndex }"), Value(1));
}

// The language makes each evaluation of a source a new tagged-template site with its own strings
// array; code compiled once would hand every run the same array.
TEST(RepeatedEval, ATaggedTemplateGetsANewStringsArrayEachTime) {
  Sandbox sandbox = make_sandbox();
  for (int i = 1; i <= kRepeats; i++)
    EXPECT_EQ(eval_ok(sandbox, "(globalThis.sites ||= []).push(((strings) => strings)`a${1}b`); sites.length"),
              Value(i));
  EXPECT_EQ(eval_ok(sandbox, "new Set(sites).size"), Value(kRepeats));
}

TEST(RepeatedEval, TheFilenameIsPartOfTheSource) {
  Sandbox sandbox = make_sandbox();
  for (int i = 0; i < kRepeats; i++) {
    for (const char *name : {"<first>", "<second>"}) {
      EvalOptions options;
      options.filename = name;
      Error error = eval_error(sandbox, "throw new Error('where')", options);
      EXPECT_TRUE(contains(error.stack, name)) << error.stack;
    }
  }
}

TEST(RepeatedEval, StrictModeAndTopLevelAwaitArePartOfTheSource) {
  Sandbox sandbox = make_sandbox();
  const char *source = "(function () { return this === undefined })()";
  EvalOptions strict;
  strict.strict = true;
  EvalOptions script;
  script.kind = EvalOptions::Kind::Script;
  EvalOptions async;
  async.kind = EvalOptions::Kind::Async;
  for (int i = 0; i < kRepeats; i++) {
    EXPECT_EQ(eval_ok(sandbox, source, strict), Value(true));
    EXPECT_EQ(eval_ok(sandbox, source), Value(false));
    EXPECT_EQ(eval_ok(sandbox, "await 1; 2", async), Value(2));
    EXPECT_EQ(eval_error(sandbox, "await 1; 2", script).name, "SyntaxError");
  }
}

TEST(RepeatedEval, KeptCodeTravelsWithASnapshotAndAFork) {
  Sandbox sandbox = make_sandbox();
  const char *source = "var n = (globalThis.n ?? 0) + 1; n";
  for (int i = 1; i <= kRepeats; i++) EXPECT_EQ(eval_ok(sandbox, source), Value(i));
  auto snapshot = sandbox.snapshot().unwrap();
  Sandbox restored = Sandbox::restore(engine(), snapshot).unwrap();
  Sandbox forked = std::move(Sandbox::fork(engine(), snapshot, 1).unwrap().front());
  for (int i = kRepeats + 1; i <= 2 * kRepeats; i++) {
    EXPECT_EQ(eval_ok(restored, source), Value(i));
    EXPECT_EQ(eval_ok(forked, source), Value(i));
  }
  EXPECT_EQ(eval_ok(sandbox, source), Value(kRepeats + 1));
}

// A script's top-level code runs as a function, which only the V8 stack-trace API reaches: a call
// site's getFunction(). Were it the same function on every run of a kept source, a program could
// compare it with the first run's, or leave a property on it. It answers undefined for that frame
// on every run, and still answers the function of any other frame.
TEST(RepeatedEval, TheTopLevelCodesFunctionIsHiddenFromCallSitesOnEveryRun) {
  Sandbox sandbox = make_sandbox();
  const char *source =
      "(() => {\n"
      "  Error.prepareStackTrace = (error, sites) => sites;\n"
      "  function inner() { return new Error().stack }\n"
      "  const sites = inner();\n"
      "  Error.prepareStackTrace = undefined;\n"
      "  return [sites[0].getFunction() === inner, typeof sites.at(-1).getFunction(), sites.length];\n"
      "})()";
  for (int i = 0; i < kRepeats; i++)
    EXPECT_EQ(eval_ok(sandbox, source), Value(Value::Array{true, "undefined", 3.0})) << "run " << i + 1;
}

// The kept code of a source may be running while a host function evaluates the same source again,
// nested, or evaluates enough other sources to push it out of the cache: every run carries on
// unharmed. Here each run nests itself twice, and the innermost pushes everything out.
TEST(RepeatedEval, KeptCodeRunsOnWhileANestedEvaluationRunsItOrDropsIt) {
  Sandbox sandbox = make_sandbox();
  const std::string source =
      "(() => {\n"
      "  globalThis.depth = (globalThis.depth ?? 0) + 1;\n"
      "  try {\n"
      "    const before = [1, 2, 3];\n"
      "    const inner = depth < 3 ? nest('again') : nest('flush');\n"
      "    return [inner, before.length, depth];\n"
      "  } finally { depth-- }\n"
      "})()";
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::sync(
                      "nest",
                      [&sandbox, &source](const CallInfo &, std::span<const Value> args) {
                        if (args[0].as_string() == "flush") {
                          for (int i = 0; i < 40; i++)  // more sources, each seen twice, than are kept
                            for (int repeat = 0; repeat < 2; repeat++) sandbox.eval("[" + std::to_string(i) + "]");
                          return Value("flushed");
                        }
                        Result again = sandbox.eval(source);
                        return again.ok() ? again.value() : Value("failed: " + again.error().message);
                      }))
                  .ok());
  Value innermost(Value::Array{"flushed", 3.0, 3.0});
  Value middle(Value::Array{innermost, 3.0, 2.0});
  for (int i = 0; i < kRepeats; i++)
    EXPECT_EQ(eval_ok(sandbox, source), Value(Value::Array{middle, 3.0, 1.0})) << "run " << i + 1;
}

// What is kept is bounded: a program that evaluates many different sources, each more than once,
// holds no more memory for it than one that evaluates a few.
TEST(RepeatedEval, KeptCodeStaysWithinItsBound) {
  Sandbox sandbox = make_sandbox();
  auto source = [](int i) { return "globalThis.v" + std::to_string(i % 4) + " = [" + std::to_string(i) + ", 'x']"; };
  auto evaluate_twice = [&](int from, int to) {
    for (int i = from; i < to; i++) {
      eval_ok(sandbox, source(i));
      eval_ok(sandbox, source(i));
    }
    return sandbox.memory_usage(true).unwrap().js_malloc_bytes;
  };
  uint64_t after_a_few = evaluate_twice(0, 64);
  uint64_t after_many = evaluate_twice(64, 1064);
  // Kept without a bound, the 1000 more would hold about 300 KB.
  EXPECT_LT(after_many, after_a_few + 16 * 1024) << after_a_few << " → " << after_many;
}

// A program that runs out of memory is not left short by code kept for earlier sources: the
// next operation starts with none kept.
TEST(RepeatedEval, RunningOutOfMemoryDropsKeptCode) {
  SandboxOptions options;
  options.limits.memory_bytes = 4 << 20;
  Sandbox sandbox = make_sandbox(options);
  std::string padding(1500, ' ');
  auto kept_sources = [&] {
    for (int i = 0; i < 16; i++)
      for (int repeat = 0; repeat < 2; repeat++)
        eval_ok(sandbox, "[" + std::to_string(i) + "].map((x) => [x, x * 2, { x }])" + padding);
    return sandbox.memory_usage(true).unwrap().js_malloc_bytes;
  };
  uint64_t with_kept = kept_sources();
  Error error = eval_error(sandbox, "(() => { const a = []; for (;;) a.push(new Array(1000).fill(1)) })()");
  EXPECT_EQ(error.kind, ErrorKind::OutOfMemory);
  uint64_t after = sandbox.memory_usage(true).unwrap().js_malloc_bytes;
  EXPECT_LT(after + 16 * 1024, with_kept) << with_kept << " → " << after;
  EXPECT_GT(kept_sources(), after + 16 * 1024);  // and they are kept again as they come back
}

}  // namespace
}  // namespace quickbox
