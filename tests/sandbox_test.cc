// Specifications of a Sandbox as the guest program and the host see it: how eval and call behave,
// what crosses the boundary and how, what the guest can reach, console capture, randomness,
// clocks, and every limit. Written from include/quickbox/*.hh and abi/quickbox_abi.h.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace std::chrono_literals;
using namespace test_support;

// ---- Helpers ------------------------------------------------------------------------------------

EvalOptions with_kind(EvalOptions::Kind kind) {
  EvalOptions options;
  options.kind = kind;
  return options;
}

double now_ms_since_epoch() {
  using namespace std::chrono;
  return static_cast<double>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

// ---- eval: scripts, modules, async --------------------------------------------------------------

TEST(Sandbox, ScriptCompletionValueIsTheResult) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "const a = 20; a * 2 + 2", with_kind(EvalOptions::Kind::Script)), Value(42));
  EXPECT_EQ(eval_ok(sandbox, "'just a string'"), Value("just a string"));
  EXPECT_EQ(eval_ok(sandbox, "if (true) { 'from a block' }"), Value("from a block"));
}

TEST(Sandbox, TopLevelDeclarationsPersistBetweenEvals) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "var v = 1; let l = 2; const c = 3; function f() { return 4; } class K { five() { return 5; } }");
  EXPECT_EQ(eval_ok(sandbox, "v + l + c + f() + new K().five()"), Value(15));
  eval_ok(sandbox, "v = 10; l = 20;");
  EXPECT_EQ(eval_ok(sandbox, "v + l"), Value(30));
}

TEST(Sandbox, DeclarationsOfAnAsyncEvalPersistToo) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "var fromVar = await Promise.resolve(1); let fromLet = await Promise.resolve(2);");
  EXPECT_EQ(eval_ok(sandbox, "fromVar + fromLet"), Value(3));
}

TEST(Sandbox, ModuleRunsWithTopLevelAwaitAndItsResultIsUndefined) {
  Sandbox sandbox = make_sandbox();
  Value result = eval_ok(sandbox,
                         "const local = await Promise.resolve('inside'); globalThis.fromModule = local; 'ignored';",
                         with_kind(EvalOptions::Kind::Module));
  EXPECT_TRUE(result.is_undefined()) << to_json(result);
  EXPECT_EQ(eval_ok(sandbox, "fromModule"), Value("inside"));
  EXPECT_EQ(eval_ok(sandbox, "typeof local"), Value("undefined")) << "module scope must not leak into the global scope";
}

TEST(Sandbox, ModuleSyntaxIsRejectedInAScript) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "export const x = 1;", with_kind(EvalOptions::Kind::Script));
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, "SyntaxError");
}

TEST(Sandbox, AsyncEvalAwaitsItsCompletionValue) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "(await Promise.resolve(41)) + 1", with_kind(EvalOptions::Kind::Async)), Value(42));
}

TEST(Sandbox, AutoPicksAsyncWhenTheSourceMentionsAwait) {
  Sandbox sandbox = make_sandbox();
  // As a classic script this is a SyntaxError; Auto must run it with top-level await.
  EXPECT_EQ(eval_ok(sandbox, "const x = await new Promise((resolve) => resolve(6)); x * 7"), Value(42));
  Error e = eval_error(sandbox, "await 1", with_kind(EvalOptions::Kind::Script));
  EXPECT_EQ(e.name, "SyntaxError") << "the same source as a Script must not parse";
}

TEST(Sandbox, APromiseResultIsAwaited) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "Promise.resolve(5)"), Value(5));
  EXPECT_EQ(eval_ok(sandbox, "new Promise((resolve) => Promise.resolve().then(() => resolve('later')))"),
            Value("later"));
}

TEST(Sandbox, ARejectedPromiseResultIsItsReason) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "Promise.reject(new RangeError('refused'))");
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, "RangeError");
  EXPECT_EQ(e.message, "refused") << "an awaited rejection is not an unhandled one";
}

TEST(Sandbox, WithoutAwaitResultAPromiseCannotCrossTheBoundary) {
  Sandbox sandbox = make_sandbox();
  EvalOptions options;
  options.await_result = false;
  Error e = eval_error(sandbox, "Promise.resolve(5)", options);
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, "TypeError");
  EXPECT_TRUE(contains(e.message, "Promise")) << e.message;
}

TEST(Sandbox, AnUnhandledRejectionFailsTheOperation) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "Promise.reject(new Error('x')); 'finished'");
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, "Error");
  EXPECT_EQ(e.message, "Unhandled promise rejection: x");
}

TEST(Sandbox, ARejectionHandledLaterInTheSameOperationIsNotReported) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "const p = Promise.reject(new Error('x')); await null; await p.catch(() => 'handled')"),
            Value("handled"));
}

TEST(Sandbox, AwaitingAPromiseThatCanNeverSettleIsADeadlock) {
  Sandbox sandbox = make_sandbox();
  auto started = std::chrono::steady_clock::now();
  Error e = eval_error(sandbox, "await new Promise(() => {})");
  EXPECT_EQ(e.kind, ErrorKind::Deadlock) << e.to_string();
  EXPECT_FALSE(e.message.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s) << "a deadlock is detected, not waited out";
  EXPECT_EQ(eval_ok(sandbox, "1 + 1"), Value(2));
}

TEST(Sandbox, StrictOptionForcesStrictMode) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "sloppyGlobal = 1"), Value(1));
  EvalOptions strict;
  strict.strict = true;
  Error e = eval_error(sandbox, "undeclaredInStrictMode = 1", strict);
  EXPECT_EQ(e.name, "ReferenceError");
}

TEST(Sandbox, UncaughtErrorsCarryNameMessageAndAStackNamingTheFile) {
  Sandbox sandbox = make_sandbox();
  EvalOptions options;
  options.filename = "checkout.js";
  Error e = eval_error(sandbox, "function pay() { throw new TypeError('card declined'); }\npay();", options);
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, "TypeError");
  EXPECT_EQ(e.message, "card declined");
  EXPECT_TRUE(contains(e.stack, "checkout.js")) << e.stack;
  EXPECT_TRUE(contains(e.stack, "pay")) << e.stack;
  EXPECT_FALSE(e.thrown.has_value()) << "Errors are described by name/message/stack";
  EXPECT_EQ(e.to_string(), "TypeError: card declined");
}

TEST(Sandbox, ThrownNonErrorValuesAreHandedBack) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "throw { code: 7, reason: 'no' }");
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, "");
  ASSERT_TRUE(e.thrown.has_value());
  EXPECT_EQ(*e.thrown, Value(Value::Object{{"code", 7}, {"reason", "no"}}));
  EXPECT_EQ(e.message, "{ code: 7, reason: 'no' }");

  Error number = eval_error(sandbox, "throw 42");
  ASSERT_TRUE(number.thrown.has_value());
  EXPECT_EQ(*number.thrown, Value(42));
}

TEST(Sandbox, SyntaxErrorsAreJSExceptions) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "let = = 1;");
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, "SyntaxError");
  EXPECT_FALSE(e.message.empty());
}

// ---- call, get_global, set_global ---------------------------------------------------------------

struct ArgumentCase {
  const char *what;
  Value value;
  const char *predicate;  // JS expression over `x` that must be true inside the sandbox
};

std::vector<ArgumentCase> argument_cases() {
  return {
      {"null", Value(nullptr), "x === null"},
      {"undefined", Value(), "x === undefined"},
      {"true", Value(true), "x === true"},
      {"false", Value(false), "x === false"},
      {"an integer", Value(-7), "x === -7"},
      {"a fraction", Value(1.5), "x === 1.5"},
      {"2^53", Value(9007199254740992.0), "x === 2 ** 53"},
      {"-2^53", Value(-9007199254740992.0), "x === -(2 ** 53)"},
      {"a large double", Value(1e300), "x === 1e300"},
      {"-0", Value(-0.0), "Object.is(x, -0)"},
      {"NaN", Value(std::nan("")), "Number.isNaN(x)"},
      {"Infinity", Value(HUGE_VAL), "x === Infinity"},
      {"a BigInt beyond 64 bits", Value(BigInt::from_decimal("-123456789012345678901234567890")),
       "x === -123456789012345678901234567890n"},
      {"2^64 + 1 as a BigInt", Value(BigInt::from_decimal("18446744073709551617")), "x === 18446744073709551617n"},
      {"a small BigInt", Value(BigInt::from_int64(5)), "x === 5n"},
      {"an empty string", Value(""), "x === ''"},
      {"a unicode string with an astral character", Value("h\xc3\xa9llo \xf0\x9f\x98\x80 \xe4\xb8\x96\xe7\x95\x8c"),
       "x === 'h\\u00e9llo \\u{1F600} \\u4e16\\u754c' && x.length === 11 && x.codePointAt(6) === 0x1F600"},
      {"bytes", Value(Bytes{{1, 2, 255}}),
       "x instanceof Uint8Array && x.length === 3 && x[0] === 1 && x[1] === 2 && x[2] === 255"},
      {"an array", Value(Value::Array{1, "two", Value::Array{3}}),
       "Array.isArray(x) && x.length === 3 && x[0] === 1 && x[1] === 'two' && x[2][0] === 3"},
      {"an object, keeping key order", Value(Value::Object{{"z", 1}, {"a", 2}, {"m", 3}}),
       "Object.keys(x).join() === 'z,a,m' && x.z === 1 && x.a === 2 && x.m === 3"},
      {"an error", Value(ErrorValue{"TypeError", "bad thing", ""}),
       "x instanceof Error && x.name === 'TypeError' && x.message === 'bad thing'"},
  };
}

TEST(SandboxCall, PassesEveryDataTypeIntoJavaScript) {
  Sandbox sandbox = make_sandbox();
  for (const auto &c : argument_cases()) {
    SCOPED_TRACE(c.what);
    eval_ok(sandbox, std::string("globalThis.probe = (x) => ") + c.predicate + "; 0");
    Result r = sandbox.call("probe", std::vector<Value>{c.value});
    ASSERT_TRUE(r.ok()) << describe(r);
    EXPECT_EQ(r.value(), Value(true)) << "the predicate `" << c.predicate << "` was false";
  }
}

TEST(SandboxCall, PassesSeveralArgumentsInOrder) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "function join(...parts) { return parts.length + ':' + parts.join('|'); }");
  Result r = sandbox.call("join", std::vector<Value>{"a", 1, true, nullptr});
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.value(), Value("4:a|1|true|"));
  Result none = sandbox.call("join");
  ASSERT_TRUE(none.ok()) << describe(none);
  EXPECT_EQ(none.value(), Value("0:"));
}

TEST(SandboxCall, EveryDataTypeSurvivesARoundTripThroughJavaScript) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "function identity(x) { return x; }");
  for (const auto &c : argument_cases()) {
    SCOPED_TRACE(c.what);
    Result r = sandbox.call("identity", std::vector<Value>{c.value});
    ASSERT_TRUE(r.ok()) << describe(r);
    const Value &back = r.value();
    if (c.value.is_number() && std::isnan(c.value.as_number())) {
      ASSERT_TRUE(back.is_number());
      EXPECT_TRUE(std::isnan(back.as_number()));
    } else if (c.value.is_number() && c.value.as_number() == 0) {
      ASSERT_TRUE(back.is_number());
      EXPECT_EQ(back.as_number(), 0);
      EXPECT_EQ(std::signbit(back.as_number()), std::signbit(c.value.as_number())) << "the sign of zero was lost";
    } else if (c.value.is_error()) {
      ASSERT_TRUE(back.is_error()) << to_json(back);
      EXPECT_EQ(back.as_error().name, c.value.as_error().name);
      EXPECT_EQ(back.as_error().message, c.value.as_error().message);
    } else {
      EXPECT_EQ(back, c.value) << "sent " << to_json(c.value) << ", got back " << to_json(back);
    }
  }
}

TEST(SandboxCall, AReturnedPromiseIsAwaited) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "async function later(x) { await null; return x * 2; }");
  Result r = sandbox.call("later", std::vector<Value>{21});
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.value(), Value(42));
}

TEST(SandboxCall, AnUnknownGlobalIsNotAFunction) {
  Sandbox sandbox = make_sandbox();
  Result missing = sandbox.call("noSuchFunction");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::JSException);
  EXPECT_EQ(missing.error().name, "TypeError");
  EXPECT_TRUE(contains(missing.error().message, "not a function")) << missing.error().message;
  EXPECT_TRUE(contains(missing.error().message, "noSuchFunction")) << missing.error().message;

  eval_ok(sandbox, "var notCallable = 1;");
  Result number = sandbox.call("notCallable");
  ASSERT_FALSE(number.ok());
  EXPECT_EQ(number.error().name, "TypeError");
  EXPECT_TRUE(contains(number.error().message, "not a function")) << number.error().message;
}

TEST(SandboxCall, ADottedNameIsAPathCalledOnItsHolder) {
  // As host functions are registered under dotted names ("tools.search"), so they are called.
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "globalThis.tools = { base: 40, search(x) { return this.base + x } }; 0");
  Result r = sandbox.call("tools.search", std::vector<Value>{2});
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.value(), Value(42));
  r = sandbox.call("Math.max", std::vector<Value>{1, 5, 3});
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.value(), Value(5));

  Error missing = sandbox.call("nowhere.search").error();
  EXPECT_EQ(missing.name, "TypeError");
  EXPECT_EQ(missing.message, "nowhere is not an object, so it holds no search");
  Error not_callable = sandbox.call("tools.base").error();
  EXPECT_EQ(not_callable.message, "tools.base is not a function");
}

TEST(SandboxCall, ANameResolvesAsTheProgramsOwnCodeWouldResolveIt) {
  // A top-level let, const or class is no property of globalThis, yet the program calls it by
  // its bare name, and where it shares a name with a property of globalThis, it is the one found.
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox,
          "const twice = (x) => 2 * x; let api = { base: 40, add(x) { return this.base + x } };"
          "class Point { static origin() { return 'origin' } }; globalThis.shadowed = () => 'property';"
          "let shadowed = () => 'binding'; let later = () => 1; 0");
  EXPECT_EQ(sandbox.call("twice", std::vector<Value>{21}).value(), Value(42));
  EXPECT_EQ(sandbox.call("api.add", std::vector<Value>{2}).value(), Value(42)) << "called on its holder";
  EXPECT_EQ(sandbox.call("Point.origin").value(), Value("origin"));
  EXPECT_EQ(sandbox.call("shadowed").value(), Value("binding"));
  // A binding its program never reached (it threw first) is in its temporal dead zone for good:
  // calling it is the ReferenceError the program's own code gets.
  ASSERT_TRUE(sandbox.eval("throw new Error('stop'); let never = () => 1").failed());
  Result early = sandbox.call("never");
  ASSERT_TRUE(early.failed());
  EXPECT_EQ(early.error().name, "ReferenceError") << describe(early);
  EXPECT_EQ(eval_ok(sandbox, "try { never() } catch (e) { e.name }"), Value("ReferenceError"));
}

TEST(SandboxCall, AnAsyncFunctionThatNeverSettlesIsADeadlock) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "async function never() { await new Promise(() => {}); }");
  Result r = sandbox.call("never");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Deadlock) << describe(r);
}

TEST(SandboxCall, ArgumentsThatAreNotValidUtf8AreInvalidInput) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "function identity(x) { return x; }");
  Result r = sandbox.call("identity", std::vector<Value>{Value(std::string("ok\xff"))});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput) << describe(r);
  EXPECT_EQ(eval_ok(sandbox, "1 + 1"), Value(2));
}

TEST(SandboxGlobals, SetGlobalMakesAValueVisibleToJavaScript) {
  Sandbox sandbox = make_sandbox();
  Value config(Value::Object{{"name", "quickbox"}, {"sizes", Value::Array{1, 2, 3}}});
  Result set = sandbox.set_global("config", config);
  ASSERT_TRUE(set.ok()) << describe(set);
  EXPECT_EQ(eval_ok(sandbox, "config.name + ':' + config.sizes.length"), Value("quickbox:3"));
}

TEST(SandboxGlobals, GetGlobalReadsGlobalThis) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "var answer = 42; globalThis.list = ['a', { b: 1n }];");
  Result answer = sandbox.get_global("answer");
  ASSERT_TRUE(answer.ok()) << describe(answer);
  EXPECT_EQ(answer.value(), Value(42));
  Result list = sandbox.get_global("list");
  ASSERT_TRUE(list.ok()) << describe(list);
  EXPECT_EQ(list.value(), Value(Value::Array{"a", Value::Object{{"b", BigInt::from_int64(1)}}}));
  Result missing = sandbox.get_global("neverDefined");
  ASSERT_TRUE(missing.ok()) << describe(missing);
  EXPECT_TRUE(missing.value().is_undefined());
}

TEST(SandboxGlobals, GetGlobalReadsANameAsTheProgramsCodeDoes) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "const limit = 10; let config = { mode: 'fast' }; globalThis.both = 'property'; let both = 'binding'; 0");
  EXPECT_EQ(sandbox.get_global("limit").value(), Value(10));
  EXPECT_EQ(sandbox.get_global("config").value(), Value(Value::Object{{"mode", "fast"}}));
  EXPECT_EQ(sandbox.get_global("both").value(), Value("binding")) << "the binding hides the property, as in code";
  EXPECT_TRUE(sandbox.get_global("this").value().is_undefined()) << "a keyword is no global";
  ASSERT_TRUE(sandbox.eval("throw 0; let unreached = 1").failed());
  Result unreached = sandbox.get_global("unreached");
  ASSERT_TRUE(unreached.failed());
  EXPECT_EQ(unreached.error().name, "ReferenceError");
}

TEST(SandboxGlobals, SetThenGetRoundTrips) {
  Sandbox sandbox = make_sandbox();
  Value value(Value::Object{{"bytes", Bytes{{0, 1}}}, {"big", BigInt::from_decimal("99999999999999999999999")}});
  ASSERT_TRUE(sandbox.set_global("stored", value).ok());
  Result back = sandbox.get_global("stored");
  ASSERT_TRUE(back.ok()) << describe(back);
  EXPECT_EQ(back.value(), value);
}

TEST(SandboxGlobals, AFunctionCannotBeRead) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "function secret() {}");
  Result r = sandbox.get_global("secret");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::JSException);
  EXPECT_EQ(r.error().name, "TypeError");
}

// ---- What crosses the boundary ------------------------------------------------------------------

TEST(SandboxValues, ResultsKeepTheirTypes) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "({ z: 1, a: [true, null, undefined], m: 'text' })"),
            Value(Value::Object{{"z", 1}, {"a", Value::Array{true, nullptr, Value()}}, {"m", "text"}}));
  EXPECT_EQ(eval_ok(sandbox, "123456789012345678901234567890n"),
            Value(BigInt::from_decimal("123456789012345678901234567890")));
  EXPECT_EQ(eval_ok(sandbox, "-(2n ** 64n)"), Value(BigInt::from_decimal("-18446744073709551616")));
  EXPECT_EQ(eval_ok(sandbox, "new Uint8Array([1, 2, 3])"), Value(Bytes{{1, 2, 3}}));
  EXPECT_EQ(eval_ok(sandbox, "new Uint8Array([4, 5]).buffer"), Value(Bytes{{4, 5}}));
  EXPECT_EQ(eval_ok(sandbox, "2 ** 53"), Value(9007199254740992.0));
  EXPECT_EQ(eval_ok(sandbox, "2 ** 53 + 2"), Value(9007199254740994.0));
  EXPECT_EQ(eval_ok(sandbox, "'\\u{1F600}'"), Value("\xf0\x9f\x98\x80"));
  EXPECT_EQ(eval_ok(sandbox, "new Date(0)"), Value("1970-01-01T00:00:00.000Z"));
  EXPECT_EQ(eval_ok(sandbox, "[1, , 3]"), Value(Value::Array{1, Value(), 3})) << "holes become undefined";

  Value negative_zero = eval_ok(sandbox, "-0");
  ASSERT_TRUE(negative_zero.is_number());
  EXPECT_TRUE(std::signbit(negative_zero.as_number()));
  Value nan = eval_ok(sandbox, "NaN");
  ASSERT_TRUE(nan.is_number());
  EXPECT_TRUE(std::isnan(nan.as_number()));
}

TEST(SandboxValues, ErrorsAreReturnedAsErrorValues) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, "new RangeError('out of range')");
  ASSERT_TRUE(v.is_error()) << to_json(v);
  EXPECT_EQ(v.as_error().name, "RangeError");
  EXPECT_EQ(v.as_error().message, "out of range");
  EXPECT_FALSE(v.as_error().stack.empty());
}

TEST(SandboxValues, AStringWithALoneSurrogateIsRefused) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "({ text: 'ab\\uD800' })");
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, "TypeError");
  EXPECT_TRUE(contains(e.message, "lone surrogate")) << e.message;
  EXPECT_EQ(eval_ok(sandbox, "'\\uD83D\\uDE00'"), Value("\xf0\x9f\x98\x80")) << "a proper pair is fine";
}

TEST(SandboxValues, ACyclicValueIsRefused) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "const a = [1]; a.push({ back: a }); a");
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, "TypeError");
  EXPECT_TRUE(contains(e.message, "cyclic")) << e.message;
}

TEST(SandboxValues, SharedButAcyclicReferencesAreFine) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "const shared = { n: 1 }; [shared, shared]"),
            Value(Value::Array{Value::Object{{"n", 1}}, Value::Object{{"n", 1}}}));
}

TEST(SandboxValues, NonDataValuesAreRefusedWithTheirType) {
  Sandbox sandbox = make_sandbox();
  struct Case {
    const char *source, *type;
  } cases[] = {{"(function named() {})", "function"}, {"Symbol('s')", "Symbol"},
               {"new Map([[1, 2]])", "Map"},           {"new Set([1])", "Set"},
               {"new Int32Array(2)", "typed array"},   {"new WeakMap()", "weak"}};
  for (const auto &c : cases) {
    SCOPED_TRACE(c.source);
    Error e = eval_error(sandbox, c.source);
    EXPECT_EQ(e.kind, ErrorKind::JSException);
    EXPECT_EQ(e.name, "TypeError");
    EXPECT_TRUE(contains(e.message, c.type)) << e.message;
  }
}

TEST(SandboxValues, NestingBeyondMaxDepthIsARangeError) {
  SandboxOptions options;
  options.limits.max_depth = 10;
  Sandbox sandbox = make_sandbox(options);
  eval_ok(sandbox, "function nest(n) { let v = []; for (let i = 1; i < n; i++) v = [v]; return v; }");
  EXPECT_TRUE(sandbox.eval("nest(10)").ok()) << "exactly max_depth levels are allowed";
  Error e = eval_error(sandbox, "nest(11)");
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, "RangeError");
  EXPECT_TRUE(contains(e.message, "10")) << "names the limit: " << e.message;
}

// The guest keeps the path of a value it encodes on its own stack for the first levels and moves
// it to the heap beyond them: results and host-call arguments of any depth up to the limit cross
// whole, and the limit, cycles and the path in error messages hold at every depth.
TEST(SandboxValues, DeepValuesCrossUpToTheLimitAsResultsAndAsArguments) {
  Sandbox sandbox = make_sandbox();  // the default limit: 256 levels
  auto depth_of = [](const Value &v) {
    int depth = 0;
    for (const Value *at = &v; at->is_array(); at = &at->as_array().front()) depth++;
    return depth;
  };
  std::vector<int> received;
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::sync("depth",
                                                        [&](const CallInfo &, std::span<const Value> args) {
                                                          received.push_back(depth_of(args[1]));
                                                          return args[1];
                                                        }))
                  .ok());
  eval_ok(sandbox, "function nest(n) { let v = [0]; for (let i = 1; i < n; i++) v = [v]; return v; }");
  for (int n : {15, 16, 17, 40, 255}) {
    SCOPED_TRACE(n);
    EXPECT_EQ(depth_of(eval_ok(sandbox, "nest(" + std::to_string(n) + ")")), n);
    // The argument array is one level more: `n` levels inside it reach the host whole.
    EXPECT_EQ(depth_of(eval_ok(sandbox, "depth('x', nest(" + std::to_string(n) + "))")), n);
    EXPECT_EQ(received.back(), n);
  }
  Error too_deep = eval_error(sandbox, "nest(257)");
  EXPECT_EQ(too_deep.name, "RangeError");
  EXPECT_TRUE(contains(too_deep.message, "limit of 256 levels (at $[0][0][0]")) << too_deep.message;
  Error argument_too_deep = eval_error(sandbox, "depth('x', nest(256))");
  EXPECT_EQ(argument_too_deep.name, "RangeError");
  EXPECT_TRUE(contains(argument_too_deep.message, "limit of 256 levels (at $[1][0][0]")) << argument_too_deep.message;
  const char *deep_cycle = "(() => { const top = nest(30); let at = top; for (let i = 0; i < 25; i++) at = at[0];"
                           " at.push(top); return top })()";
  std::string down;  // the path from the top to where the cycle closes: 25 levels down, then [1]
  for (int i = 0; i < 25; i++) down += "[0]";
  Error cycle = eval_error(sandbox, deep_cycle);
  EXPECT_EQ(cycle.name, "TypeError");
  EXPECT_TRUE(contains(cycle.message, "cannot pass a cyclic structure to the host (at $" + down + "[1])"))
      << cycle.message;
  Error argument_cycle = eval_error(sandbox, std::string("depth('x', ") + deep_cycle + ")");
  EXPECT_EQ(argument_cycle.name, "TypeError");
  EXPECT_TRUE(contains(argument_cycle.message, "cannot pass a cyclic structure to the host (at $[1]" + down + "[1])"))
      << argument_cycle.message;
  EXPECT_EQ(received.size(), 5u) << "a refused argument never reaches the host";
}

TEST(SandboxValues, ArgumentsNestedBeyondMaxDepthAreRefused) {
  SandboxOptions options;
  options.limits.max_depth = 10;
  Sandbox sandbox = make_sandbox(options);
  Value deep = Value::Array{};
  for (int i = 0; i < 20; i++) deep = Value::Array{deep};
  Result r = sandbox.set_global("deep", deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput) << describe(r);
}

// ---- Nothing ambient ----------------------------------------------------------------------------

TEST(SandboxIsolation, NoAmbientCapabilitiesAreReachable) {
  Sandbox sandbox = make_sandbox();
  // Timers and the web-standard globals exist, but live entirely inside the guest (they reach
  // nothing on the host); these would reach outside.
  for (const char *name : {"require", "process", "fetch", "std", "os", "XMLHttpRequest", "WebAssembly",
                           "Deno", "Bun", "importScripts", "Worker"}) {
    EXPECT_EQ(eval_ok(sandbox, std::string("typeof ") + name), Value("undefined")) << name;
  }
}

TEST(SandboxIsolation, TheFunctionConstructorReachesNothingMore) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "const g = Function('return this')(); typeof g.process + typeof g.require"),
            Value("undefinedundefined"));
}

TEST(SandboxIsolation, SandboxesAreIndependent) {
  Sandbox first = make_sandbox();
  Sandbox second = make_sandbox();
  eval_ok(first, "globalThis.secret = 'first only'; Object.prototype.polluted = true;");
  EXPECT_EQ(eval_ok(second, "typeof secret"), Value("undefined"));
  EXPECT_EQ(eval_ok(second, "'polluted' in {}"), Value(false));
  EXPECT_EQ(eval_ok(first, "secret"), Value("first only"));
}

TEST(SandboxIsolation, ResetGivesAFreshRealm) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "globalThis.leftover = 1; Array.prototype.push = null;");
  ASSERT_TRUE(sandbox.reset().ok());
  EXPECT_EQ(eval_ok(sandbox, "typeof leftover"), Value("undefined"));
  EXPECT_EQ(eval_ok(sandbox, "[].push(1)"), Value(1));
}

TEST(SandboxIsolation, EightThreadsOfTwoHundredEvalsDoNotCrossTalk) {
  constexpr int kThreads = 8, kEvals = 200;
  std::atomic<int> mismatches{0};
  std::vector<std::string> first_problem(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      auto created = Sandbox::create(engine());
      if (!created) {
        mismatches++;
        first_problem[t] = created.error().to_string();
        return;
      }
      Sandbox sandbox = std::move(created.value());
      sandbox.eval("var owner = " + std::to_string(t) + "; var count = 0;");
      for (int i = 0; i < kEvals; i++) {
        Result r = sandbox.eval("count += 1; [owner, count, " + std::to_string(i) + "]");
        Value expected(Value::Array{t, i + 1, i});
        if (!r.ok() || r.value() != expected) {
          if (mismatches++ == 0 || first_problem[t].empty())
            first_problem[t] = "eval " + std::to_string(i) + ": " + describe(r);
        }
      }
    });
  }
  for (auto &thread : threads) thread.join();
  std::string problems;
  for (const auto &p : first_problem) problems += p.empty() ? "" : p + "\n";
  EXPECT_EQ(mismatches.load(), 0) << problems;
}

// ---- Console ------------------------------------------------------------------------------------

TEST(SandboxConsole, EveryLevelIsCapturedInOrder) {
  Sandbox sandbox = make_sandbox();
  Result r = sandbox.eval("console.log('l'); console.info('i'); console.warn('w'); console.error('e'); console.debug('d'); 0");
  ASSERT_TRUE(r.ok()) << describe(r);
  ASSERT_EQ(r.console.size(), 5u);
  const std::pair<ConsoleLevel, const char *> expected[] = {{ConsoleLevel::Log, "l"},
                                                            {ConsoleLevel::Info, "i"},
                                                            {ConsoleLevel::Warn, "w"},
                                                            {ConsoleLevel::Error, "e"},
                                                            {ConsoleLevel::Debug, "d"}};
  for (size_t i = 0; i < 5; i++) {
    EXPECT_EQ(r.console[i].level, expected[i].first) << i;
    EXPECT_EQ(r.console[i].text, expected[i].second) << i;
  }
  EXPECT_EQ(r.console_dropped_bytes, 0u);
}

TEST(SandboxConsole, ConsoleIsCapturedEvenWhenTheOperationFails) {
  Sandbox sandbox = make_sandbox();
  Result r = sandbox.eval("console.log('before'); throw new Error('after')");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.console.size(), 1u);
  EXPECT_EQ(r.console[0].text, "before");
}

TEST(SandboxConsole, FormatsLikeNode) {
  Sandbox sandbox = make_sandbox();
  struct Case {
    const char *call, *text;
  } cases[] = {
      {"console.log('a', 1, {x: [1, 'b']})", "a 1 { x: [ 1, 'b' ] }"},
      {"console.log('%s is %d years and %o', 'Bob', 42.5, {a: 1})", "Bob is 42.5 years and { a: 1 }"},
      {"console.log('%i|%f|%j|%%|%c.', 42.9, '1.5', {a: [1]}, 'color: red')", "42|1.5|{\"a\":[1]}|%|."},
      {"console.log(null, undefined, true, 5n, -0, 'str')", "null undefined true 5n -0 str"},
      {"console.log(['s', 1])", "[ 's', 1 ]"},
      {"console.log(new Map([['k', 1]]), new Set([2]))", "Map(1) { 'k' => 1 } Set(1) { 2 }"},
      {"const o = {}; o.self = o; console.log(o)", "<ref *1> { self: [Circular *1] }"},
      {"console.log({ a: { b: { c: { d: 1 } } } })", "{ a: { b: { c: [Object] } } }"},
      {"console.log(function named() {}, class K {})", "[Function: named] [class K]"},
  };
  for (const auto &c : cases) {
    SCOPED_TRACE(c.call);
    Result r = sandbox.eval(std::string(c.call) + "; 0");
    ASSERT_TRUE(r.ok()) << describe(r);
    ASSERT_EQ(r.console.size(), 1u);
    EXPECT_EQ(r.console[0].text, c.text);
  }
}

TEST(SandboxConsole, ErrorsPrintTheirStack) {
  Sandbox sandbox = make_sandbox();
  EvalOptions options;
  options.filename = "report.js";
  Result r = sandbox.eval("function fail() { return new Error('boom'); }\nconsole.log(fail()); 0", options);
  ASSERT_TRUE(r.ok()) << describe(r);
  ASSERT_EQ(r.console.size(), 1u);
  const std::string &text = r.console[0].text;
  EXPECT_EQ(text.rfind("Error: boom\n", 0), 0u) << text;
  EXPECT_TRUE(contains(text, "    at ")) << text;
  EXPECT_TRUE(contains(text, "report.js")) << text;
  EXPECT_EQ(text.find("Error: boom"), text.rfind("Error: boom")) << "the headline must appear once: " << text;
}

TEST(SandboxConsole, OutputBeyondTheCapIsDroppedAndCounted) {
  SandboxOptions options;
  options.limits.console_bytes = 1000;
  Sandbox sandbox = make_sandbox(options);
  // 50 lines of 99 characters: 5000 bytes counting a newline per line.
  Result r = sandbox.eval("for (let i = 0; i < 50; i++) console.log('x'.repeat(99)); console.log('tail'); 0");
  ASSERT_TRUE(r.ok()) << describe(r);
  uint64_t kept = 0;
  for (const auto &line : r.console) kept += line.text.size();
  EXPECT_GT(kept, 0u) << "output up to the cap is kept";
  EXPECT_LT(kept, 1000u);
  EXPECT_GE(r.console_dropped_bytes, 4000u) << "every byte that was not kept is counted";
  ASSERT_FALSE(r.console.empty());
  EXPECT_NE(r.console.back().text, "tail") << "once output is cut, nothing after the cut is kept";
}

TEST(SandboxConsole, TheCapIsPerOperation) {
  SandboxOptions options;
  options.limits.console_bytes = 100;
  Sandbox sandbox = make_sandbox(options);
  Result flood = sandbox.eval("console.log('y'.repeat(500)); 0");
  ASSERT_TRUE(flood.ok()) << describe(flood);
  EXPECT_GT(flood.console_dropped_bytes, 0u);
  Result next = sandbox.eval("console.log('fits'); 0");
  ASSERT_TRUE(next.ok()) << describe(next);
  ASSERT_EQ(next.console.size(), 1u);
  EXPECT_EQ(next.console[0].text, "fits");
  EXPECT_EQ(next.console_dropped_bytes, 0u);
}

// ---- Randomness and time ------------------------------------------------------------------------

constexpr const char *kFourRandoms = "[Math.random(), Math.random(), Math.random(), Math.random()]";

TEST(SandboxRandom, UnseededSandboxesDoNotShareASequence) {
  Sandbox first = make_sandbox();
  Sandbox second = make_sandbox();
  Value a = eval_ok(first, kFourRandoms);
  Value b = eval_ok(second, kFourRandoms);
  EXPECT_NE(a, b) << "two sandboxes cloned from one base image must be reseeded";
  for (const auto &v : a.as_array()) {
    EXPECT_GE(v.as_number(), 0.0);
    EXPECT_LT(v.as_number(), 1.0);
  }
}

TEST(SandboxRandom, TheSameSeedGivesTheSameSequence) {
  SandboxOptions options;
  options.random_seed = 1234;
  Sandbox first = make_sandbox(options);
  Sandbox second = make_sandbox(options);
  EXPECT_EQ(eval_ok(first, kFourRandoms), eval_ok(second, kFourRandoms));
  EXPECT_EQ(eval_ok(first, kFourRandoms), eval_ok(second, kFourRandoms));

  options.random_seed = 1235;
  Sandbox other = make_sandbox(options);
  Sandbox reference = make_sandbox(SandboxOptions{.random_seed = 1234});
  EXPECT_NE(eval_ok(other, kFourRandoms), eval_ok(reference, kFourRandoms));
}

TEST(SandboxRandom, ResetWithASeedReplaysTheSequence) {
  Sandbox sandbox = make_sandbox(SandboxOptions{.random_seed = 99});
  Value before = eval_ok(sandbox, kFourRandoms);
  ASSERT_TRUE(sandbox.reset().ok());
  EXPECT_EQ(eval_ok(sandbox, kFourRandoms), before);
}

TEST(SandboxClock, RealClockFollowsTheHost) {
  Sandbox sandbox = make_sandbox();
  double host_before = now_ms_since_epoch();
  Value guest = eval_ok(sandbox, "Date.now()");
  double host_after = now_ms_since_epoch();
  ASSERT_TRUE(guest.is_number());
  EXPECT_GE(guest.as_number(), host_before - 1000);
  EXPECT_LE(guest.as_number(), host_after + 1000);
}

TEST(SandboxClock, FixedClockAlwaysReadsStart) {
  SandboxOptions options;
  options.clock = Clock{.mode = Clock::Mode::Fixed, .start_ms = 1700000000000};
  Sandbox sandbox = make_sandbox(options);
  EXPECT_EQ(eval_ok(sandbox, "[Date.now(), Date.now(), new Date().getTime()]"),
            Value(Value::Array{1700000000000.0, 1700000000000.0, 1700000000000.0}));
  EXPECT_EQ(eval_ok(sandbox, "new Date().toISOString()"), Value("2023-11-14T22:13:20.000Z"));
  EXPECT_EQ(eval_ok(sandbox, "Date.now()"), Value(1700000000000.0)) << "later operations too";
}

TEST(SandboxClock, DeterministicClockAdvancesByStepOnEveryRead) {
  SandboxOptions options;
  options.clock = Clock{.mode = Clock::Mode::Deterministic, .start_ms = 1000000, .step_us = 5000};
  Sandbox sandbox = make_sandbox(options);
  Value reads = eval_ok(sandbox, "[Date.now(), Date.now(), Date.now(), Date.now()]");
  ASSERT_TRUE(reads.is_array());
  const auto &t = reads.as_array();
  ASSERT_EQ(t.size(), 4u);
  EXPECT_GE(t[0].as_number(), 1000000.0);
  EXPECT_LT(t[0].as_number(), 1000000.0 + 100 * 5) << "starts at start_ms";
  for (size_t i = 1; i < t.size(); i++) EXPECT_EQ(t[i].as_number() - t[i - 1].as_number(), 5.0) << i;

  // The same options give the same readings in another sandbox.
  Sandbox twin = make_sandbox(options);
  EXPECT_EQ(eval_ok(twin, "[Date.now(), Date.now(), Date.now(), Date.now()]"), reads);
}

// ---- Memory -------------------------------------------------------------------------------------

TEST(SandboxMemory, AllocatingBeyondTheLimitIsOutOfMemory) {
  SandboxOptions options;
  options.limits.memory_bytes = 8 << 20;
  Sandbox sandbox = make_sandbox(options);
  Error e = eval_error(sandbox, "new Array(1e7).fill(1)");
  EXPECT_EQ(e.kind, ErrorKind::OutOfMemory) << e.to_string();
  EXPECT_TRUE(contains(e.message, "8 MiB")) << "names the limit: " << e.message;
  EXPECT_EQ(eval_ok(sandbox, "1 + 1"), Value(2)) << "the sandbox survives";
}

TEST(SandboxMemory, TheOutOfMemoryErrorCanBeCaughtInJavaScript) {
  SandboxOptions options;
  options.limits.memory_bytes = 8 << 20;
  Sandbox sandbox = make_sandbox(options);
  EXPECT_EQ(eval_ok(sandbox, "function big() { return new Array(1e7).fill(1); }\n"
                             "try { big() } catch (e) { 'caught ' + e.name }"),
            Value("caught InternalError"));
}

TEST(SandboxMemory, MemoryIsReclaimedAfterAnOutOfMemoryError) {
  SandboxOptions options;
  options.limits.memory_bytes = 8 << 20;
  Sandbox sandbox = make_sandbox(options);
  for (int round = 0; round < 3; round++) {
    SCOPED_TRACE(round);
    Error e = eval_error(sandbox, "{ const kept = []; for (;;) kept.push(new Float64Array(1 << 14)); }");
    EXPECT_EQ(e.kind, ErrorKind::OutOfMemory) << e.to_string();
    EXPECT_EQ(eval_ok(sandbox, "new Float64Array(1 << 17).length"), Value(1 << 17))
        << "1 MiB must fit again once the bomb's garbage is gone";
  }
}

TEST(SandboxMemory, DataParkedInGlobalsStaysAllocatedUntilReset) {
  SandboxOptions options;
  options.limits.memory_bytes = 8 << 20;
  Sandbox sandbox = make_sandbox(options);
  Error e = eval_error(sandbox, "globalThis.hog = []; for (;;) hog.push({ n: hog.length });");
  EXPECT_EQ(e.kind, ErrorKind::OutOfMemory) << e.to_string();
  // The heap is legitimately full of live data: the next operation may fail, but only as what it is.
  Result next = sandbox.eval("1 + 1");
  if (!next.ok()) EXPECT_EQ(next.error().kind, ErrorKind::OutOfMemory) << describe(next);
  ASSERT_TRUE(sandbox.reset().ok());
  EXPECT_EQ(eval_ok(sandbox, "typeof hog"), Value("undefined"));
}

TEST(SandboxMemory, UsageFiguresAreSensibleAndGrowWithAllocation) {
  SandboxOptions options;
  options.limits.memory_bytes = 32 << 20;
  Sandbox sandbox = make_sandbox(options);
  auto before = sandbox.memory_usage();
  ASSERT_TRUE(before.ok()) << before.error().to_string();
  const MemoryUsage &b = before.value();
  EXPECT_GT(b.js_malloc_bytes, 0u);
  EXPECT_EQ(b.js_malloc_limit, uint64_t{32} << 20);
  EXPECT_GT(b.js_object_count, 0u);
  EXPECT_GE(b.linear_memory_bytes, b.js_malloc_bytes);
  EXPECT_EQ(b.linear_memory_bytes % 65536, 0u) << "whole wasm pages";

  eval_ok(sandbox, "globalThis.keep = Array.from({ length: 100000 }, (_, i) => ({ i })); 0");
  auto after = sandbox.memory_usage();
  ASSERT_TRUE(after.ok()) << after.error().to_string();
  EXPECT_GT(after.value().js_malloc_bytes, b.js_malloc_bytes + (1u << 20));
  EXPECT_GE(after.value().js_object_count, b.js_object_count + 100000);
  EXPECT_GE(after.value().linear_memory_bytes, after.value().js_malloc_bytes);
}

// ---- CPU ----------------------------------------------------------------------------------------

TEST(SandboxCpu, AnInfiniteLoopTimesOutAndTheSandboxStaysUsable) {
  SandboxOptions options;
  options.limits.cpu_time = 100ms;
  Sandbox sandbox = make_sandbox(options);
  auto started = std::chrono::steady_clock::now();
  Error e = eval_error(sandbox, "for (;;) {}");
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(e.kind, ErrorKind::Timeout) << e.to_string();
  EXPECT_TRUE(contains(e.message, "100 ms")) << e.message;
  EXPECT_FALSE(e.instance_discarded) << "the interrupt handler stops plain JS gracefully";
  EXPECT_GE(elapsed, 100ms);
  EXPECT_LT(elapsed, 3s);
  EXPECT_EQ(eval_ok(sandbox, "1 + 1"), Value(2));
}

TEST(SandboxCpu, TheTimeoutCannotBeCaught) {
  SandboxOptions options;
  options.limits.cpu_time = 100ms;
  Sandbox sandbox = make_sandbox(options);
  Error e = eval_error(sandbox, "try { for (;;) {} } catch (e) { 'caught' } finally { 'finally' }");
  EXPECT_EQ(e.kind, ErrorKind::Timeout) << e.to_string();
}

TEST(SandboxCpu, EvalOptionsOverrideTheBudget) {
  Sandbox sandbox = make_sandbox();  // 5 s by default
  EvalOptions options;
  options.cpu_time = 50ms;
  auto started = std::chrono::steady_clock::now();
  Error e = eval_error(sandbox, "while (true) {}", options);
  EXPECT_EQ(e.kind, ErrorKind::Timeout) << e.to_string();
  EXPECT_TRUE(contains(e.message, "50 ms")) << e.message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

TEST(SandboxCpu, CallCanOverrideTheBudget) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "function spin() { for (;;) {} }");
  Result r = sandbox.call("spin", {}, 50ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Timeout);
  EXPECT_TRUE(contains(r.error().message, "50 ms")) << r.error().message;
}

TEST(SandboxCpu, TheBudgetIsPerOperation) {
  SandboxOptions options;
  options.limits.cpu_time = 300ms;
  Sandbox sandbox = make_sandbox(options);
  // Each eval busy-waits 120 ms: three of them exceed one budget, but each fits its own.
  for (int i = 0; i < 3; i++) {
    SCOPED_TRACE(i);
    EXPECT_EQ(eval_ok(sandbox, "{ const t0 = Date.now(); while (Date.now() - t0 < 120) {} 'done' }"),
              Value("done"));
  }
}

TEST(SandboxCpu, ALoopInsideABuiltinHitsTheHardDeadlineAndResetRecovers) {
  SandboxOptions options;
  options.limits.cpu_time = 100ms;
  Sandbox sandbox = make_sandbox(options);
  eval_ok(sandbox, "globalThis.before = 1");
  // join walks 4 billion holes in C without reaching QuickJS's interrupt check.
  Error e = eval_error(sandbox, "new Array(2 ** 32 - 1).join('')");
  EXPECT_EQ(e.kind, ErrorKind::Timeout) << e.to_string();
  EXPECT_TRUE(contains(e.message, "100 ms")) << e.message;
  if (e.instance_discarded) {
    EXPECT_TRUE(sandbox.discarded());
    Result refused = sandbox.eval("1");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().kind, ErrorKind::Internal);
    ASSERT_TRUE(sandbox.reset().ok());
    EXPECT_FALSE(sandbox.discarded());
    EXPECT_EQ(eval_ok(sandbox, "typeof before"), Value("undefined")) << "reset starts from the base image";
  }
  EXPECT_EQ(eval_ok(sandbox, "1 + 1"), Value(2));
}

// ---- Stack --------------------------------------------------------------------------------------

TEST(SandboxStack, UnboundedRecursionIsAStackOverflow) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "function down(n) { return down(n + 1) + 1; } down(0)");
  EXPECT_EQ(e.kind, ErrorKind::StackOverflow) << e.to_string();
  EXPECT_TRUE(contains(e.message, "640 KiB")) << "names the limit: " << e.message;
  EXPECT_FALSE(e.instance_discarded);
  EXPECT_EQ(eval_ok(sandbox, "1 + 1"), Value(2));
}

TEST(SandboxStack, ACaughtStackOverflowIsAnOrdinaryRangeError) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "function down() { down(); }\n"
                             "try { down() } catch (e) { e instanceof RangeError ? 'caught ' + e.message : 'other' }"),
            Value("caught Maximum call stack size exceeded"));
}

TEST(SandboxStack, TheStackLimitBoundsRecursionDepth) {
  const char *measure = "let depth = 0; function down() { depth++; down(); } try { down() } catch {} depth";
  SandboxOptions small;
  small.limits.stack_bytes = 64 << 10;
  Sandbox shallow = make_sandbox(small);
  Sandbox deep = make_sandbox();  // 640 KiB
  double small_depth = eval_ok(shallow, measure).as_number();
  double default_depth = eval_ok(deep, measure).as_number();
  EXPECT_GT(small_depth, 10);
  EXPECT_GT(default_depth, 4 * small_depth) << "ten times the stack allows several times the depth";
}

// ---- Input validation ---------------------------------------------------------------------------

TEST(SandboxInput, SourceOverTheLimitIsInvalidInput) {
  SandboxOptions options;
  options.limits.source_bytes = 1000;
  Sandbox sandbox = make_sandbox(options);
  std::string exactly_at_limit = "'" + std::string(998, 'a') + "'";
  ASSERT_EQ(exactly_at_limit.size(), 1000u);
  EXPECT_TRUE(sandbox.eval(exactly_at_limit).ok()) << "the limit itself is accepted";
  Error e = eval_error(sandbox, exactly_at_limit + " ");
  EXPECT_EQ(e.kind, ErrorKind::InvalidInput) << e.to_string();
  EXPECT_TRUE(contains(e.message, "1000")) << "names the limit: " << e.message;
  EXPECT_EQ(eval_ok(sandbox, "1 + 1"), Value(2));
}

TEST(SandboxInput, SourceThatIsNotUtf8IsInvalidInputNamingTheOffset) {
  Sandbox sandbox = make_sandbox();
  std::string prefix = "1 + 1; // " + std::string(113, 'x');
  ASSERT_EQ(prefix.size(), 123u);
  Error e = eval_error(sandbox, prefix + "\xff\xfe");
  EXPECT_EQ(e.kind, ErrorKind::InvalidInput) << e.to_string();
  EXPECT_TRUE(contains(e.message, "UTF-8")) << e.message;
  EXPECT_TRUE(contains(e.message, "123")) << "names the byte offset: " << e.message;

  Error surrogate = eval_error(sandbox, "'\xed\xa0\x80'");  // a UTF-16 surrogate encoded as UTF-8
  EXPECT_EQ(surrogate.kind, ErrorKind::InvalidInput) << surrogate.to_string();
  EXPECT_TRUE(contains(surrogate.message, "offset 1")) << surrogate.message;
}

TEST(SandboxInput, OutOfRangeOptionsAreRefusedAtCreation) {
  SandboxOptions options;
  options.limits.cpu_time = 0ms;
  auto created = Sandbox::create(engine(), options);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().kind, ErrorKind::InvalidInput);
  EXPECT_TRUE(contains(created.error().message, "cpu_time")) << created.error().message;
}

TEST(SandboxInput, ResultsOverTheResultLimitAreOutputLimit) {
  SandboxOptions options;
  options.limits.result_bytes = 1000;
  Sandbox sandbox = make_sandbox(options);
  EXPECT_TRUE(sandbox.eval("'a'.repeat(900)").ok());
  Error e = eval_error(sandbox, "'a'.repeat(2000)");
  EXPECT_EQ(e.kind, ErrorKind::OutputLimit) << e.to_string();
  EXPECT_TRUE(contains(e.message, "1000")) << "names the limit: " << e.message;
}

}  // namespace
}  // namespace quickbox
