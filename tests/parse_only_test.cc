// Specification of EvalOptions::parse_only: the source is compiled, not run, and a SyntaxError
// says where the parser stopped (a REPL reads another line when that is the end of the entry).
// Written from include/quickbox/sandbox.hh.
#include <gtest/gtest.h>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace test_support;

EvalOptions parse_only() {
  EvalOptions options;
  options.parse_only = true;
  options.filename = "<check>";
  return options;
}

TEST(ParseOnly, ParsesWithoutRunningOrDeclaring) {
  Sandbox sandbox = make_sandbox();
  Result r = sandbox.eval("globalThis.ran = true; let declared = 1; declared", parse_only());
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_TRUE(r.value().is_undefined());
  EXPECT_EQ(eval_ok(sandbox, "typeof ran"), Value("undefined"));
  // Not declared: declaring it now does not clash.
  EXPECT_EQ(eval_ok(sandbox, "let declared = 2; declared"), Value(2));
}

TEST(ParseOnly, ReportsTheSyntaxErrorWithWhereTheParserStopped) {
  Sandbox sandbox = make_sandbox();
  Error error = eval_error(sandbox, "const f = (x) =>\n", parse_only());
  EXPECT_EQ(error.kind, ErrorKind::JSException);
  EXPECT_EQ(error.name, "SyntaxError");
  EXPECT_TRUE(contains(error.stack, "at <check>:2:1")) << error.stack;  // the end of the source
  error = eval_error(sandbox, "let s = 'a[';\n)\n", parse_only());
  EXPECT_TRUE(contains(error.stack, "at <check>:2:1")) << error.stack;  // the stray `)`
}

TEST(ParseOnly, AcceptsTopLevelAwait) {
  Sandbox sandbox = make_sandbox();
  Result r = sandbox.eval("await 1", parse_only());
  EXPECT_TRUE(r.ok()) << describe(r);
}

TEST(ParseOnly, RefusesModules) {
  Sandbox sandbox = make_sandbox();
  EvalOptions options = parse_only();
  options.kind = EvalOptions::Kind::Module;
  Error error = eval_error(sandbox, "export const x = 1", options);
  EXPECT_EQ(error.kind, ErrorKind::InvalidInput);
  EXPECT_TRUE(contains(error.message, "parse_only")) << error.message;
}

}  // namespace
}  // namespace quickbox
