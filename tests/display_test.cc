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

TEST(Display, NodePrintShowsStringsRawAndInspectQuotesThem) {
  Result printed = eval_displayed("[Symbol('s')][0].description + '!'", EvalOptions::Display::NodePrint);
  ASSERT_TRUE(printed.ok()) << describe(printed);
  EXPECT_FALSE(printed.display) << "a string is data: it comes back as a value";
  EXPECT_EQ(printed.value(), Value("s!"));
  Result inspected = eval_displayed("({ s: Symbol('x') })", EvalOptions::Display::Inspect);
  ASSERT_TRUE(inspected.ok()) << describe(inspected);
  EXPECT_EQ(inspected.display, std::optional<std::string>("{ s: Symbol(x) }"));
}

TEST(Display, DataValuesAreUnchangedAndLimitsStillEndTheEvaluation) {
  Result data = eval_displayed("({ a: [1, 2] })", EvalOptions::Display::NodePrint);
  ASSERT_TRUE(data.ok()) << describe(data);
  EXPECT_FALSE(data.display);
  EXPECT_EQ(data.value(), Value(Value::Object{{"a", Value(Value::Array{Value(1), Value(2)})}}));
  Result looping = eval_displayed("for (;;) {}", EvalOptions::Display::NodePrint);
  ASSERT_TRUE(looping.failed());
  EXPECT_EQ(looping.error().kind, ErrorKind::Timeout);
  Result without = eval_displayed("Math.max", EvalOptions::Display::None);
  ASSERT_TRUE(without.failed()) << "without display, a function cannot be a result";
  EXPECT_EQ(without.error().name, "TypeError");
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
