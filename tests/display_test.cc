// Printing results: a CLI or REPL asks for display, and then every final value prints the way
// Node prints it, also the ones that cannot leave the sandbox as data.
#include <gtest/gtest.h>

#include "quickbox/quickbox.hh"
#include "support/printers.hh"
#include "support/sandbox.hh"
#include "support/subprocess.hh"

namespace quickbox {
namespace {

using test_support::describe;
using test_support::make_sandbox;

Result eval_displayed(std::string_view source, EvalOptions::Display display) {
  Sandbox sandbox = make_sandbox({.limits = {.cpu_time = std::chrono::milliseconds(500)}});
  EvalOptions options;
  options.display = display;
  return sandbox.eval(source, options);
}

TEST(Display, AValueThatCannotCrossComesBackAsTheTextNodePrintsForIt) {
  Result r = eval_displayed("Math.max", EvalOptions::Display::NodePrint);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.display, std::optional<std::string>("[Function: max]"));
  EXPECT_TRUE(r.value().is_undefined());
  r = eval_displayed("const m = new Map([['a', 1]]); m.self = m; m", EvalOptions::Display::NodePrint);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.display, std::optional<std::string>("<ref *1> Map(1) { 'a' => 1, self: [Circular *1] }"));
}

TEST(Display, AStringCutInsideACharacterShowsU_FFFDWhereTheCutIs) {
  // "😀".slice(0, 1) is half a surrogate pair: not Unicode text, so it cannot cross as data, but
  // its text is shown, the broken half as U+FFFD (as console output shows it).
  Result r = eval_displayed("'a' + '\\u{1F600}'.slice(0, 1) + 'b'", EvalOptions::Display::NodePrint);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.display, std::optional<std::string>("a\xEF\xBF\xBD" "b"));
  EXPECT_TRUE(r.value().is_undefined());
  // util.inspect writes it as an escape, as Node does
  r = eval_displayed("['\\u{1F600}'.slice(0, 1)]", EvalOptions::Display::Inspect);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.display, std::optional<std::string>("[ '\\ud83d' ]"));
}

TEST(Display, NodePrintShowsStringsRawAndInspectQuotesThem) {
  Result printed = eval_displayed("[Symbol('s')][0].description + '!'", EvalOptions::Display::NodePrint);
  ASSERT_TRUE(printed.ok()) << describe(printed);
  EXPECT_EQ(printed.display, std::optional<std::string>("s!"));
  EXPECT_EQ(printed.value(), Value("s!")) << "a string is data: it comes back as a value too";
  Result inspected = eval_displayed("'s!'", EvalOptions::Display::Inspect);
  ASSERT_TRUE(inspected.ok()) << describe(inspected);
  EXPECT_EQ(inspected.display, std::optional<std::string>("'s!'"));
  inspected = eval_displayed("({ s: Symbol('x') })", EvalOptions::Display::Inspect);
  ASSERT_TRUE(inspected.ok()) << describe(inspected);
  EXPECT_EQ(inspected.display, std::optional<std::string>("{ s: Symbol(x) }"));
}

TEST(Display, DataValuesComeBackWithTheirTextAndLimitsStillEndTheEvaluation) {
  Result data = eval_displayed("({ a: [1, 2] })", EvalOptions::Display::NodePrint);
  ASSERT_TRUE(data.ok()) << describe(data);
  EXPECT_EQ(data.display, std::optional<std::string>("{ a: [ 1, 2 ] }"));
  EXPECT_EQ(data.value(), Value(Value::Object{{"a", Value(Value::Array{Value(1), Value(2)})}}));
  Result looping = eval_displayed("for (;;) {}", EvalOptions::Display::NodePrint);
  ASSERT_TRUE(looping.failed());
  EXPECT_EQ(looping.error().kind, ErrorKind::Timeout);
  Result without = eval_displayed("Math.max", EvalOptions::Display::None);
  ASSERT_TRUE(without.failed()) << "without display, a function cannot be a result";
  EXPECT_EQ(without.error().name, "TypeError");
  Result plain = eval_displayed("({ a: 1 })", EvalOptions::Display::None);
  ASSERT_TRUE(plain.ok()) << describe(plain);
  EXPECT_FALSE(plain.display) << "no text unless asked for";
}

TEST(Display, TheTextComesFromTheRealValueNotFromTheDataThatCrosses) {
  // A Date and a class instance cross as a string and a plain object; Node prints them as what
  // they are, and so does the sandbox's formatter.
  Result date = eval_displayed("new Date(0)", EvalOptions::Display::Inspect);
  ASSERT_TRUE(date.ok()) << describe(date);
  EXPECT_EQ(date.display, std::optional<std::string>("1970-01-01T00:00:00.000Z"));
  EXPECT_EQ(date.value(), Value("1970-01-01T00:00:00.000Z"));
  Result instance = eval_displayed("class Point { constructor() { this.x = 1 } }; new Point()",
                                   EvalOptions::Display::Inspect);
  ASSERT_TRUE(instance.ok()) << describe(instance);
  EXPECT_EQ(instance.display, std::optional<std::string>("Point { x: 1 }"));
}

TEST(Display, AThrownValueThatIsNotAnErrorIsDescribedAsUtilInspectShowsIt) {
  // As Node's REPL reports it: Uncaught 'plain'. Without display the message is console.log's text.
  Result shown = eval_displayed("throw 'plain'", EvalOptions::Display::NodePrint);
  ASSERT_TRUE(shown.failed());
  EXPECT_EQ(shown.error().message, "'plain'");
  EXPECT_EQ(shown.error().thrown, std::optional<Value>(Value("plain")));
  Result plain = eval_displayed("throw 'plain'", EvalOptions::Display::None);
  ASSERT_TRUE(plain.failed());
  EXPECT_EQ(plain.error().message, "plain");
  Result object = eval_displayed("throw { code: 7 }", EvalOptions::Display::Inspect);
  ASSERT_TRUE(object.failed());
  EXPECT_EQ(object.error().message, "{ code: 7 }");
}

TEST(Display, ItLastsAcrossASuspensionAndTheResume) {
  Sandbox sandbox = make_sandbox();
  ASSERT_TRUE(sandbox.register_capability(Capability::external("ask")));
  EvalOptions options;
  options.display = EvalOptions::Display::Inspect;
  Result r = sandbox.eval("const n = await ask(); new Map([['n', n]])", options);
  ASSERT_TRUE(r.is_suspended()) << describe(r);
  ASSERT_TRUE(sandbox.resolve(r.pending().at(0).call_id, Value(5)));
  Result done = sandbox.resume();
  ASSERT_TRUE(done.ok()) << describe(done);
  EXPECT_EQ(done.display, std::optional<std::string>("Map(1) { 'n' => 5 }"));
}

TEST(Display, TheCommandLinePrintsFunctionsAsNodeDoesAndJsonKeepsDataOnly) {
  auto r = test_support::run_quickbox({"eval", "Math.max"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "[Function: max]\n");
  auto json = test_support::run_quickbox({"eval", "--json", "Math.max"});
  EXPECT_EQ(json.exit_code, 1) << json;
  auto repl = test_support::run_quickbox({"repl"}, "function f() {}\nf\n");
  EXPECT_EQ(repl.out, "undefined\n[Function: f]\n") << repl;
}

}  // namespace
}  // namespace quickbox
