// Running out of memory is one well-defined outcome whatever allocated last: JS code can catch a
// real `InternalError: out of memory` (or null, when not even that fits), uncaught it is
// OutOfMemory, and the sandbox goes on. QuickJS's internal "no exception" marker, which an
// allocation failure without a context used to leak into `catch`, never reaches user code.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace test_support;

// Programs that allocate until the heap is full, each in a different part of the engine.
const std::vector<std::pair<std::string, std::string>> kFloods = {
    {"distinct property names", "const o = {}; for (let i = 0; ; i++) o['k' + i] = i;"},
    {"defineProperty", "const o = {}; for (let i = 0; ; i++) Object.defineProperty(o, 'd' + i, {value: i});"},
    {"symbol keys", "const o = {}; for (let i = 0; ; i++) o[Symbol(i)] = i;"},
    {"array growth", "const a = []; for (let i = 0; ; i++) a.push({i});"},
    {"string concatenation", "let s = ''; for (let i = 0; ; i++) s += 'abcdefgh' + i;"},
    {"Map growth", "const m = new Map(); for (let i = 0; ; i++) m.set('k' + i, i);"},
    {"Set growth", "const s = new Set(); for (let i = 0; ; i++) s.add(i);"},
    {"JSON.parse", "const t = JSON.stringify(Array.from({length: 1000}, (_, i) => ({i}))); const k = []; for (;;) k.push(JSON.parse(t));"},
    {"regexp matches", "const k = []; for (;;) k.push([...'ab'.repeat(1000).matchAll(/(a)(b)?/g)]);"},
    {"regexp compilation", "const k = []; for (let i = 0; ; i++) k.push(new RegExp('a' + i + '(b|c)*d'));"},
    {"closures", "let f = null; for (;;) { const g = f; f = () => g; }"},
    {"pending promises", "const k = []; for (;;) k.push(new Promise(() => {}));"},
    {"typed arrays", "const k = []; for (;;) k.push(new Float64Array(1e4));"},
    {"BigInts", "const k = []; for (let i = 0n; ; i++) k.push(i << 1000n);"},
    {"compiled functions", "const k = []; for (let i = 0; ; i++) k.push(new Function('return ' + i));"},
};

// What a catch block received, in words; "error" and "null" are the two allowed answers.
constexpr const char *kCaughtValue = R"JS(
  (() => {
    let caught = 'nothing was thrown';
    try { (() => { BODY })(); } catch (e) { caught = e; }
    if (caught === null) return 'null';
    if (typeof caught === 'object' && Object.is(caught, caught) && caught instanceof Error &&
        caught.name === 'InternalError' && caught.message === 'out of memory') return 'error';
    return 'leaked: typeof ' + typeof caught + ', equal to itself: ' + Object.is(caught, caught);
  })()
)JS";

std::string with_body(std::string program, const std::string &body) {
  program.replace(program.find("BODY"), 4, body);
  return program;
}

SandboxOptions with_memory(uint64_t bytes) {
  SandboxOptions options;
  options.limits.memory_bytes = bytes;
  options.limits.cpu_time = std::chrono::seconds(60);  // a busy machine must not turn these into Timeouts
  return options;
}

void expect_usable(Sandbox &sandbox, const std::string &where) {
  EXPECT_EQ(eval_ok(sandbox, "['x'.repeat(1000).length, {a: 1}.a].join()"), Value("1000,1")) << where;
}

TEST(OutOfMemory, IsAlwaysOutOfMemoryAndNeverLeaksAnInternalValue) {
  for (uint64_t limit : {uint64_t{2} << 20, uint64_t{16} << 20}) {
    for (const auto &[what, body] : kFloods) {
      std::string where = what + " under " + std::to_string(limit >> 20) + " MiB";
      Sandbox sandbox = make_sandbox(with_memory(limit));
      Result caught = sandbox.eval(with_body(kCaughtValue, body));
      ASSERT_TRUE(caught.ok()) << where << ": " << describe(caught);
      EXPECT_TRUE(caught.value() == Value("error") || caught.value() == Value("null"))
          << where << ": catch received " << to_json(caught.value());
      expect_usable(sandbox, where);

      Result uncaught = sandbox.eval("{ " + body + " }");
      ASSERT_TRUE(uncaught.failed()) << where << ": " << describe(uncaught);
      EXPECT_EQ(uncaught.error().kind, ErrorKind::OutOfMemory) << where << ": " << describe(uncaught);
      EXPECT_FALSE(uncaught.error().instance_discarded) << where;
      expect_usable(sandbox, where);
    }
  }
}

TEST(OutOfMemory, AFloodOfPropertyNamesAtTheDefaultLimitIsCaughtAsARealError) {
  // The case that leaked QuickJS's "uninitialized" marker: the atom table's growth failed
  // without an exception, at the default 64 MiB.
  Sandbox sandbox = make_sandbox(with_memory(Limits{}.memory_bytes));
  EXPECT_EQ(eval_ok(sandbox, with_body(kCaughtValue, kFloods[0].second)), Value("error"));
  Error e = eval_error(sandbox, "{ " + kFloods[0].second + " }");
  EXPECT_EQ(e.kind, ErrorKind::OutOfMemory) << e.to_string();
  EXPECT_TRUE(contains(e.message, "64 MiB")) << e.message;
  expect_usable(sandbox, "after the flood");
}

TEST(OutOfMemory, InsideAnAsyncFunctionItRejectsWithTheSameErrorOrEndsAsOutOfMemory) {
  for (const auto &[what, body] : kFloods) {
    Sandbox sandbox = make_sandbox(with_memory(4u << 20));
    Result r = sandbox.eval("let verdict = 'no error';\n"
                            "try { await (async () => { await null; " + body + " })(); }\n"
                            "catch (e) { verdict = e === null ? 'null' : e instanceof Error ? e.message : 'leaked ' + typeof e; }\n"
                            "verdict");
    if (r.ok()) {
      EXPECT_TRUE(r.value() == Value("out of memory") || r.value() == Value("null"))
          << what << ": " << to_json(r.value());
    } else {
      // The rejection itself can run out of memory; then the evaluation ends with it.
      EXPECT_EQ(r.error().kind, ErrorKind::OutOfMemory) << what << ": " << describe(r);
      EXPECT_FALSE(r.error().instance_discarded) << what;
    }
    expect_usable(sandbox, what);
  }
}

}  // namespace
}  // namespace quickbox
