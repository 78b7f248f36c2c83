// Specification of the `quickbox` command line, checked by running the real binary as a
// subprocess and looking at its stdout, stderr and exit code separately.
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "quickbox/value.hh"
#include "support/scratch_dir.hh"
#include "support/subprocess.hh"

namespace {

using quickbox::Value;
using namespace quickbox::test_support;

class CliTest : public ScratchDirTest {
 protected:
  CliTest() : ScratchDirTest("quickbox-cli") {}
};

// ---- console output shows as the program prints it --------------------------------------------------

TEST_F(CliTest, TextModePrintsEachConsoleLineWhileTheProgramRuns) {
  using Clock = std::chrono::steady_clock;
  // Prints, then computes for 1.5 s: the line must arrive long before the program ends.
  std::string command = kQuickboxBinary +
                        " eval --timeout 30s \"console.log('started'); const t = Date.now(); "
                        "while (Date.now() - t < 1500) {} 'done'\"";
  auto start = Clock::now();
  FILE *out = popen(command.c_str(), "r");
  ASSERT_NE(out, nullptr);
  char line[256] = {};
  ASSERT_NE(fgets(line, sizeof line, out), nullptr);
  auto first_line = Clock::now() - start;
  std::string rest;
  for (char buffer[256]; fgets(buffer, sizeof buffer, out);) rest += buffer;
  int status = pclose(out);
  auto ended = Clock::now() - start;
  EXPECT_EQ(status, 0);
  EXPECT_EQ(std::string(line), "started\n");
  EXPECT_EQ(rest, "done\n");
  EXPECT_LT(first_line + std::chrono::milliseconds(1000), ended)
      << "the line came " << std::chrono::duration<double>(first_line).count() << " s in, the program ended at "
      << std::chrono::duration<double>(ended).count() << " s";
}

// ---- eval prints its value the way `node -p` does ----------------------------------------------------

TEST_F(CliTest, EvalPrintsANumber) {
  Outcome r = run_quickbox({"eval", "1+2"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "3\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTest, EvalPrintsAStringRaw) {
  Outcome r = run_quickbox({"eval", "'quick' + 'box'"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "quickbox\n");
}

TEST_F(CliTest, EvalPrintsAnObjectAsNodeInspectsIt) {
  Outcome r = run_quickbox({"eval", "({a: 1, b: [1, 2]})"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "{ a: 1, b: [ 1, 2 ] }\n");
}

TEST_F(CliTest, EvalPrintsUndefined) {
  Outcome r = run_quickbox({"eval", "void 0"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "undefined\n");
}

TEST_F(CliTest, TopLevelAwaitIsAwaited) {
  Outcome r = run_quickbox({"eval", "await Promise.resolve(41) + 1"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "42\n");
}

TEST_F(CliTest, FlagsMayFollowTheOperands) {
  Outcome r = run_quickbox({"eval", "6 * 7", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(field(parse_json_output(r), "value"), Value(42));
}

TEST_F(CliTest, DoubleDashLetsCodeStartWithADash) {
  Outcome r = run_quickbox({"eval", "--", "-1 - 1"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "-2\n");
}

// ---- console output ------------------------------------------------------------------------------

TEST_F(CliTest, ConsoleGoesToStdoutOrStderrByLevelBeforeTheValue) {
  const std::string program =
      "console.log('log'); console.warn('warn'); console.info('info'); console.error('error');"
      "console.debug('debug'); 'value'";
  Outcome separate = run_quickbox({"eval", program});
  EXPECT_EQ(separate.exit_code, 0) << separate;
  EXPECT_EQ(separate.out, "log\ninfo\ndebug\nvalue\n");
  EXPECT_EQ(separate.err, "warn\nerror\n");

  Outcome merged = run_quickbox({"eval", program}, {}, /*merge_stderr=*/true);
  EXPECT_EQ(merged.out, "log\nwarn\ninfo\nerror\ndebug\nvalue\n");
}

TEST_F(CliTest, DroppedConsoleOutputIsAnnouncedWithTheCap) {
  // 1200 lines of 1000 characters: more than the 1 MiB console cap.
  Outcome r = run_quickbox({"eval", "for (let i = 0; i < 1200; i++) console.log('x'.repeat(1000)); 'done'"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.ends_with("\ndone\n"));
  EXPECT_LT(r.out.size(), 1200u * 1001u);
  EXPECT_NE(r.err.find("1048576"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("dropped"), std::string::npos) << r.err;
}

// ---- --json ---------------------------------------------------------------------------------------

TEST_F(CliTest, JsonPrintsOneEnvelopeWithValueAndConsole) {
  Outcome r = run_quickbox({"--json", "eval", "console.log('hi'); console.warn('careful'); ({n: 1, s: 'x'})"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err, "");
  Value envelope = parse_json_output(r);
  EXPECT_EQ(field(envelope, "ok"), Value(true));
  EXPECT_EQ(field(envelope, "value"), Value(Value::Object{{"n", 1}, {"s", "x"}}));
  EXPECT_EQ(field(envelope, "console"),
            Value(Value::Array{Value::Object{{"level", "log"}, {"text", "hi"}},
                               Value::Object{{"level", "warn"}, {"text", "careful"}}}));
  EXPECT_EQ(field(envelope, "console_dropped_bytes"), Value(0));
}

TEST_F(CliTest, JsonWritesUndefinedAsNull) {
  Outcome r = run_quickbox({"--json", "eval", "undefined"});
  EXPECT_EQ(field(parse_json_output(r), "value"), Value(nullptr));
}

TEST_F(CliTest, JsonDescribesAnErrorAndKeepsTheExitCode) {
  Outcome r = run_quickbox({"--json", "eval", "function fail() { throw new TypeError('bad'); }\nfail()"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(r.err, "");
  Value envelope = parse_json_output(r);
  EXPECT_EQ(field(envelope, "ok"), Value(false));
  const Value &error = field(envelope, "error");
  EXPECT_EQ(field(error, "kind"), Value("JSException"));
  EXPECT_EQ(field(error, "name"), Value("TypeError"));
  EXPECT_EQ(field(error, "message"), Value("bad"));
  ASSERT_TRUE(field(error, "stack").is_string());
  EXPECT_NE(field(error, "stack").as_string().find("fail"), std::string::npos);
  EXPECT_EQ(field(envelope, "console"), Value(Value::Array{}));
}

// ---- errors and exit codes ---------------------------------------------------------------------------

TEST_F(CliTest, UncaughtExceptionPrintsLikeNodeWithTheStack) {
  Outcome r = run_quickbox({"eval", "function boom() { throw new RangeError('nope'); }\nboom()"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(r.err.starts_with("Uncaught RangeError: nope\n")) << r.err;
  EXPECT_NE(r.err.find("boom"), std::string::npos) << "no stack trace: " << r.err;
}

TEST_F(CliTest, ThrownNonErrorIsShownInspected) {
  Outcome r = run_quickbox({"eval", "throw 'plain'"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(r.err, "Uncaught 'plain'\n");
}

struct ErrorKindCase {
  const char *kind;
  std::vector<std::string> args;
  int exit_code;
};

void PrintTo(const ErrorKindCase &c, std::ostream *os) { *os << c.kind; }

class CliExitCodeTest : public CliTest, public ::testing::WithParamInterface<ErrorKindCase> {};

TEST_P(CliExitCodeTest, EachErrorKindHasItsExitCodeAndNamesItselfOnStderr) {
  const ErrorKindCase &c = GetParam();
  Outcome r = run_quickbox(c.args);
  EXPECT_EQ(r.exit_code, c.exit_code) << r;
  std::string headline = c.exit_code == 1 ? "Uncaught " : std::string(c.kind) + ": ";
  EXPECT_TRUE(r.err.starts_with(headline)) << r;
}

INSTANTIATE_TEST_SUITE_P(
    ErrorKinds, CliExitCodeTest,
    ::testing::Values(
        ErrorKindCase{"JSException", {"eval", "null.property"}, 1},
        ErrorKindCase{"Timeout", {"--timeout", "200ms", "eval", "for (;;) {}"}, 3},
        ErrorKindCase{"OutOfMemory",
                      {"--memory", "8M", "eval", "const a = []; for (;;) a.push(new Array(10000).fill(1));"}, 4},
        ErrorKindCase{"StackOverflow", {"eval", "function f() { return f() + 1; } f()"}, 5},
        ErrorKindCase{"OutputLimit", {"eval", "'x'.repeat(17 * 1024 * 1024)"}, 6},
        ErrorKindCase{"InvalidInput", {"eval", "'\xff'"}, 7},
        ErrorKindCase{"Deadlock", {"eval", "await new Promise(() => {})"}, 9}),
    [](const auto &info) { return std::string(info.param.kind); });

TEST_F(CliTest, TimeoutNamesTheLimit) {
  Outcome r = run_quickbox({"--timeout", "200ms", "eval", "while (true) {}"});
  EXPECT_EQ(r.exit_code, 3) << r;
  EXPECT_NE(r.err.find("200"), std::string::npos) << r.err;
}

TEST_F(CliTest, InvalidUtf8FileIsInvalidInput) {
  std::string path = write_file("latin1.js", "'caf\xe9'\n");
  Outcome r = run_quickbox({"run", path});
  EXPECT_EQ(r.exit_code, 7) << r;
  EXPECT_TRUE(r.err.starts_with("InvalidInput: ")) << r.err;
}

struct UsageCase {
  const char *name;
  std::vector<std::string> args;
  std::vector<std::string> mentions;  ///< what the message must name
};

void PrintTo(const UsageCase &c, std::ostream *os) { *os << c.name; }

class CliUsageErrorTest : public CliTest, public ::testing::WithParamInterface<UsageCase> {};

TEST_P(CliUsageErrorTest, ExitsWithCode2AndSaysWhatWasWrong) {
  const UsageCase &c = GetParam();
  Outcome r = run_quickbox(c.args);
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.out, "");
  for (const std::string &text : c.mentions) EXPECT_NE(r.err.find(text), std::string::npos) << text << "\n" << r;
  EXPECT_EQ(r.err.find("::"), std::string::npos) << "the library's C++ names are the command line's flags: " << r;
}

INSTANTIATE_TEST_SUITE_P(
    UsageErrors, CliUsageErrorTest,
    ::testing::Values(UsageCase{"NoCommand", {}, {"missing command"}},
                      UsageCase{"UnknownCommand", {"evaluate", "1"}, {"evaluate"}},
                      UsageCase{"UnknownFlag", {"--fast", "eval", "1"}, {"--fast"}},
                      UsageCase{"BadMemory", {"--memory", "lots", "eval", "1"}, {"--memory", "lots"}},
                      UsageCase{"MemoryTooLarge", {"--memory", "64G", "eval", "1"}, {"--memory", "64G"}},
                      UsageCase{"BadTimeout", {"eval", "1", "--timeout", "5parsecs"}, {"--timeout", "5parsecs"}},
                      UsageCase{"BadSeed", {"--seed=-1", "eval", "1"}, {"--seed", "-1"}},
                      UsageCase{"StackTooLarge", {"--stack", "1G", "eval", "1"}, {"--stack"}},
                      // The largest stack depends on the guest build: the library refuses it.
                      UsageCase{"StackBeyondTheGuests", {"--stack", "10M", "eval", "1"},
                                {"--stack must be between 64 KiB and", "got 10 MiB"}},
                      UsageCase{"StackOfZero", {"--stack", "0", "eval", "1"},
                                {"--stack must be between 64 KiB and", "got 0 bytes"}},
                      // the second would silently replace the first (two --caps: a manifest lost)
                      UsageCase{"AValueFlagGivenTwice", {"--memory", "2M", "eval", "1", "--memory=64M"},
                                {"--memory is given twice"}},
                      UsageCase{"MissingValue", {"eval", "1", "--memory"}, {"--memory"}},
                      UsageCase{"MissingCode", {"eval"}, {"CODE"}},
                      UsageCase{"ExtraOperand", {"eval", "1", "2"}, {"'2'"}},
                      UsageCase{"MissingFile", {"run", "/nonexistent/program.js"}, {"/nonexistent/program.js"}}),
    [](const auto &info) { return std::string(info.param.name); });

// ---- run --------------------------------------------------------------------------------------------

TEST_F(CliTest, RunPrintsTheFinalValueOnlyWhenItIsNotUndefined) {
  std::string statement = write_file("statement.js", "console.log('hi');\nconst answer = 6 * 7;\n");
  Outcome r = run_quickbox({"run", statement});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "hi\n");

  std::string expression = write_file("expression.js", "const answer = 6 * 7;\nanswer\n");
  r = run_quickbox({"run", expression});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "42\n");
}

TEST_F(CliTest, RunNamesTheFileInStackTraces) {
  std::string path = write_file("thrower.js", "function explode() {\n  throw new Error('kaboom');\n}\nexplode();\n");
  Outcome r = run_quickbox({"run", path});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(r.err.starts_with("Uncaught Error: kaboom\n")) << r.err;
  EXPECT_NE(r.err.find("thrower.js"), std::string::npos) << r.err;
}

TEST_F(CliTest, RunDashReadsTheProgramFromStdin) {
  Outcome r = run_quickbox({"run", "-"}, "console.log('from stdin');\n40 + 2\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "from stdin\n42\n");
}

TEST_F(CliTest, ModuleFlagEvaluatesAnEsModule) {
  // import.meta is a syntax error outside a module.
  Outcome r = run_quickbox({"--module", "eval", "console.log(typeof import.meta)"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "object\nundefined\n");
}

TEST_F(CliTest, DemoExampleRuns) {
  Outcome r = run_quickbox({"run", QUICKBOX_SOURCE_DIR "/examples/demo.js"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out, "");
}

// ---- flags ---------------------------------------------------------------------------------------

TEST_F(CliTest, SeedMakesMathRandomReproducibleAcrossProcesses) {
  const std::string program = "[Math.random(), Math.random(), Math.random()]";
  Outcome first = run_quickbox({"--seed", "42", "eval", program});
  Outcome again = run_quickbox({"--seed", "42", "eval", program});
  Outcome other = run_quickbox({"--seed", "43", "eval", program});
  Outcome unseeded = run_quickbox({"eval", program});
  Outcome unseeded_again = run_quickbox({"eval", program});
  EXPECT_EQ(first.exit_code, 0) << first;
  EXPECT_EQ(first.out, again.out);
  EXPECT_NE(first.out, other.out);
  EXPECT_NE(unseeded.out, unseeded_again.out);
}

TEST_F(CliTest, FixedClockPinsDateNow) {
  Outcome r = run_quickbox({"--clock", "fixed:1700000000000", "eval", "Date.now()"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "1700000000000\n");
}

// ---- version ----------------------------------------------------------------------------------------

TEST_F(CliTest, VersionNamesTheEnginesAndTheGuestBuild) {
  Outcome r = run_quickbox({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(r.out.starts_with("quickbox ")) << r.out;
  EXPECT_NE(r.out.find("\nquickjs-ng "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nwasmtime "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nguest build id "), std::string::npos) << r.out;
}

}  // namespace
