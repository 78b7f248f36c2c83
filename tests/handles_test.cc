// Specifications of handles: JavaScript values the sandbox keeps pinned for the host, named by id
// (include/quickbox/sandbox.hh, "Handles"; abi/quickbox_abi.h, "Handles").
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace test_support;

Handle handle_of(const Result &r) {
  EXPECT_TRUE(r.ok()) << describe(r);
  return r.ok() && r.value().is_handle() ? r.value().as_handle() : Handle{UINT32_MAX};
}

Handle eval_handle(Sandbox &sandbox, std::string_view source) {
  EvalOptions options;
  options.as_handle = true;
  options.await_result = false;
  return handle_of(sandbox.eval(source, options));
}

Value value_of(Sandbox &sandbox, Handle h, bool pin_opaque = false) {
  Result r = sandbox.to_value(h, pin_opaque);
  EXPECT_TRUE(r.ok()) << describe(r);
  return r.ok() ? r.value() : Value();
}

TEST(Handles, AFunctionStaysInsideAndCanBeCalledWithDataAndHandles) {
  Sandbox sandbox = make_sandbox();
  Handle add = eval_handle(sandbox, "(a, b) => a.n + b");
  Handle obj = eval_handle(sandbox, "({n: 40})");
  Value args[] = {Value(obj), Value(2)};
  Handle sum = handle_of(sandbox.call_handle(add, args));
  EXPECT_EQ(value_of(sandbox, sum), Value(42));
  EXPECT_EQ(sandbox.handle_info(add).value().type, "function");
}

TEST(Handles, PropertiesMethodsAndConstructors) {
  Sandbox sandbox = make_sandbox();
  Handle obj = eval_handle(sandbox, "({x: 1, twice(v) { return this.x * 2 * v }})");
  ASSERT_TRUE(sandbox.set_property(obj, Value("x"), Value(5)).ok());
  EXPECT_TRUE(sandbox.has_property(obj, Value("twice")).value());
  EXPECT_FALSE(sandbox.has_property(obj, Value("missing")).value());
  Value three[] = {Value(3)};
  EXPECT_EQ(value_of(sandbox, handle_of(sandbox.call_method(obj, "twice", three))), Value(30));
  Handle date = handle_of(sandbox.get_property(Handle::global(), Value("Date")));
  Value args[] = {Value(0)};
  Handle epoch = handle_of(sandbox.construct(date, args));
  EXPECT_EQ(value_of(sandbox, handle_of(sandbox.call_method(epoch, "getTime"))), Value(0));
}

TEST(Handles, ToValuePinsWhatCannotCrossOnlyWhenAsked) {
  Sandbox sandbox = make_sandbox();
  Handle obj = eval_handle(sandbox, "({n: 1, f() { return 7 }})");
  Result refused = sandbox.to_value(obj);
  ASSERT_TRUE(refused.failed());
  EXPECT_NE(refused.error().message.find("cannot pass a function"), std::string::npos) << refused.error().message;
  Value v = value_of(sandbox, obj, /*pin_opaque=*/true);
  ASSERT_TRUE(v.find("f") && v.find("f")->is_handle()) << to_json(v);
  EXPECT_EQ(value_of(sandbox, handle_of(sandbox.call_handle(v.find("f")->as_handle()))), Value(7));
}

TEST(Handles, AReleasedOrUnknownHandleIsRefusedAndNeverReachesAnotherValue) {
  Sandbox sandbox = make_sandbox();
  Handle first = eval_handle(sandbox, "'first'");
  ASSERT_TRUE(sandbox.release(first).ok());
  Handle second = eval_handle(sandbox, "'second'");
  EXPECT_NE(second.id, first.id) << "ids are never reused";
  for (Handle stale : {first, Handle{9999}}) {
    Result r = sandbox.to_value(stale);
    ASSERT_TRUE(r.failed());
    EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
    EXPECT_FALSE(sandbox.release(stale).ok());
    Value args[] = {Value(stale)};
    Handle fn = eval_handle(sandbox, "(v) => v");
    Result passed = sandbox.call_handle(fn, args);
    ASSERT_TRUE(passed.failed()) << describe(passed);
    EXPECT_NE(passed.error().message.find("is not live"), std::string::npos) << passed.error().message;
  }
  EXPECT_FALSE(sandbox.release(Handle::global()).ok()) << "the global object is never released";
  EXPECT_EQ(value_of(sandbox, second), Value("second"));
}

TEST(Handles, AHandleOfAnotherSandboxIsUnknownThere) {
  Sandbox a = make_sandbox(), b = make_sandbox();
  Handle in_a = eval_handle(a, "({secret: 1})");
  EXPECT_TRUE(b.to_value(in_a).failed());
}

TEST(Handles, ReleasingUnpinsTheValue) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "globalThis.collected = false; globalThis.registry = new FinalizationRegistry(() => { collected = true })");
  Handle h = eval_handle(sandbox, "(() => { const o = {}; registry.register(o, 1); return o })()");
  ASSERT_TRUE(sandbox.memory_usage(/*collect_garbage=*/true).ok());
  eval_ok(sandbox, "0");
  EXPECT_EQ(eval_ok(sandbox, "collected"), Value(false)) << "a pinned value stays alive";
  ASSERT_TRUE(sandbox.release(h).ok());
  ASSERT_TRUE(sandbox.memory_usage(/*collect_garbage=*/true).ok());
  eval_ok(sandbox, "0");
  EXPECT_EQ(eval_ok(sandbox, "collected"), Value(true)) << "a released value is collected";
}

TEST(Handles, AwaitingAPromiseDrivesItAndAThrowIsAnError) {
  Sandbox sandbox = make_sandbox();
  Handle p = eval_handle(sandbox, "Promise.resolve(21).then(v => v * 2)");
  EXPECT_TRUE(sandbox.handle_info(p).value().is_promise);
  EXPECT_EQ(value_of(sandbox, handle_of(sandbox.await_handle(p))), Value(42));
  Handle thrower = eval_handle(sandbox, "() => { throw new RangeError('boom') }");
  Result r = sandbox.call_handle(thrower);
  ASSERT_TRUE(r.failed());
  EXPECT_EQ(r.error().name, "RangeError");
}

TEST(Handles, ResetDropsThemAndASnapshotCarriesThem) {
  Sandbox sandbox = make_sandbox();
  Handle h = eval_handle(sandbox, "[1, 2]");
  auto bytes = sandbox.snapshot().unwrap();
  Sandbox restored = Sandbox::restore(engine(), bytes).unwrap();
  EXPECT_EQ(value_of(restored, h), (Value(Value::Array{Value(1), Value(2)})));
  ASSERT_TRUE(sandbox.reset().ok());
  EXPECT_TRUE(sandbox.to_value(h).failed());
}

TEST(Handles, TypesAsQuickjsRsNamesThem) {
  Sandbox sandbox = make_sandbox();
  const std::pair<const char *, const char *> cases[] = {
      {"null", "null"}, {"undefined", "undefined"}, {"[]", "array"}, {"({})", "object"},
      {"1n", "bigint"}, {"Symbol()", "symbol"}, {"'s'", "string"}, {"() => 1", "function"}};
  for (const auto &[source, type] : cases)
    EXPECT_EQ(sandbox.handle_info(eval_handle(sandbox, source)).value().type, type) << source;
}

}  // namespace
}  // namespace quickbox
