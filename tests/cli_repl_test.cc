// Specification of `quickbox repl`, checked by running the real binary: with piped input (what a
// script sees: results only, no prompts), and in a real terminal driven through tmux (what a
// person sees: line editing, history, completion, Ctrl-C and Ctrl-D, prompts for approvals).
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "quickbox/value.hh"
#include "support/scratch_dir.hh"
#include "support/subprocess.hh"
#include "support/text.hh"
#include "support/tmux.hh"

namespace {

using quickbox::Value;
using namespace quickbox::test_support;

// A manifest with one call that needs approval and one that waits for an answer.
constexpr const char *kCaps = R"({"capabilities": {
    "publish": {"handler": "echo", "requires_approval": true},
    "ask": {"handler": "ask"}}})";

class ReplPiped : public ScratchDirTest {
 protected:
  ReplPiped() : ScratchDirTest("quickbox-repl") {}
};

// ---- Piped input: results only -----------------------------------------------------------------------

TEST_F(ReplPiped, KeepsStateBetweenLinesAndPrintsNoPrompt) {
  Outcome r = run_quickbox({"repl"}, "let x = 2\nx * 21\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "undefined\n42\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(ReplPiped, QuotesStringsAsNodesReplDoes) {
  Outcome r = run_quickbox({"repl"}, "'hi'\n");
  EXPECT_EQ(r.out, "'hi'\n");
}

TEST_F(ReplPiped, ReportsErrorsAndGoesOn) {
  Outcome r = run_quickbox({"repl"}, "throw new Error('first')\n1 + 1\n");
  EXPECT_EQ(r.exit_code, 1) << "a script learns that an entry failed: " << r;
  EXPECT_TRUE(r.err.starts_with("Uncaught Error: first\n")) << r.err;
  EXPECT_EQ(r.out, "2\n");
}

TEST_F(ReplPiped, AnEntryGoesOnWhileTheParserWantsMore) {
  Outcome r = run_quickbox({"repl"}, "function add(a, b) {\n  return a + b;\n}\nadd(40, 2)\n"
                                     "const twice = (x) =>\n  x * 2\ntwice(4)\n"
                                     "`two\nlines`\n"
                                     "[1,\n 2].length /* a comment\n that goes on */\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "undefined\n42\nundefined\n8\n'two\\nlines'\n2\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(ReplPiped, BracketsInsideStringsAndRegularExpressionsDoNotContinueTheEntry) {
  Outcome r = run_quickbox({"repl"}, "'a[' + \"(\"\n/\\(/.test('(')\n1 + 1\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "'a[('\ntrue\n2\n");
}

TEST_F(ReplPiped, ASyntaxErrorBeforeTheEndIsReportedAtOnce) {
  Outcome r = run_quickbox({"repl"}, "let = = 1 (\n'abc\n2\n");
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(TmuxTerminal::count(r.err, "Uncaught SyntaxError"), 2u) << r;
  EXPECT_EQ(r.out, "2\n");
}

TEST_F(ReplPiped, EndOfInputInsideAnEntryEvaluatesIt) {
  Outcome r = run_quickbox({"repl"}, "1 + 1\nfunction f() {\n");
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(r.out, "2\n");
  EXPECT_TRUE(contains(r.err, "Uncaught SyntaxError")) << r;
}

TEST_F(ReplPiped, StopsAtDotExit) {
  Outcome r = run_quickbox({"repl"}, "1\n.exit\n2\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "1\n");
}

TEST_F(ReplPiped, DotBreakDiscardsTheEntryBeingTyped) {
  Outcome r = run_quickbox({"repl"}, "function broken() {\n.break\n3\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "3\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(ReplPiped, DotHelpListsTheCommands) {
  Outcome r = run_quickbox({"repl"}, ".help\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  for (const char *command : {".break", ".exit", ".help", ".load FILE", ".save FILE"})
    EXPECT_TRUE(contains(r.out, command)) << command << " missing from:\n" << r.out;
}

TEST_F(ReplPiped, DotLoadEvaluatesAFileInTheSession) {
  std::string file = write_file("lib.js", "const base = 40;\nfunction plus(n) { return base + n; }\n");
  Outcome r = run_quickbox({"repl"}, ".load " + file + "\nplus(2)\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "undefined\n42\n");
  Outcome missing = run_quickbox({"repl"}, ".load " + path("nope.js") + "\n1\n");
  EXPECT_TRUE(contains(missing.err, "quickbox: .load: cannot open")) << missing;
  EXPECT_EQ(missing.out, "1\n");
  EXPECT_EQ(missing.exit_code, 2) << missing;
}

TEST_F(ReplPiped, DotSaveWritesTheSessionSoDotLoadReplaysIt) {
  std::string file = path("session.js");
  Outcome r = run_quickbox({"repl"}, "let a = 20\nfunction twice(n) {\n  return 2 * n;\n}\n.save " + file + "\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "Session saved to " + file)) << r;
  std::ifstream saved(file);
  std::string text((std::istreambuf_iterator<char>(saved)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "let a = 20\nfunction twice(n) {\n  return 2 * n;\n}\n");
  Outcome replay = run_quickbox({"repl"}, ".load " + file + "\ntwice(a) + 2\n");
  EXPECT_EQ(replay.out, "undefined\n42\n") << replay;
}

TEST_F(ReplPiped, AnUnknownCommandIsNamed) {
  Outcome r = run_quickbox({"repl"}, ".nope\n.5 + 1\n");
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "unknown repl command '.nope'")) << r;
  EXPECT_EQ(r.out, "1.5\n");  // a dot and a digit is a number
}

TEST_F(ReplPiped, WithJsonPrintsOneEnvelopePerEntry) {
  Outcome r = run_quickbox({"repl", "--json"}, "let n = 1\nn + 1\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  std::istringstream lines(r.out);
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_TRUE(quickbox::parse_json(first).ok) << first;
  quickbox::Decoded last = quickbox::parse_json(second);
  ASSERT_TRUE(last.ok) << second;
  EXPECT_EQ(field(last.value, "value"), Value(2));
}

TEST_F(ReplPiped, ApprovalsAndAnswersAreReadFromTheNextLines) {
  std::string caps = write_file("caps.json", kCaps);
  Outcome r = run_quickbox({"repl", "--caps", caps},
                           "await publish('hello')\ny\n"
                           "await publish('again').catch((e) => e.message)\nn\n"
                           "await ask('name?')\n\"Ada\"\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out,
            "#1 publish('hello') needs approval\n'hello'\n"
            "#2 publish('again') needs approval\n\"the call to 'publish' was denied\"\n"
            "#3 ask('name?') waits for an answer\n'Ada'\n");
}

TEST_F(ReplPiped, EndOfInputAtAnApprovalAbandonsTheEvaluation) {
  std::string caps = write_file("caps.json", kCaps);
  Outcome r = run_quickbox({"repl", "--caps", caps}, "await publish('never')\n");
  EXPECT_EQ(r.exit_code, 10) << "left waiting on a person: " << r;
  EXPECT_TRUE(contains(r.err, "the evaluation was abandoned: #1 publish('never') was not settled")) << r;
}

TEST_F(ReplPiped, AnAnswerThatIsNotJsonDeniesTheCallAndTheNextLinesAreEntries) {
  std::string caps = write_file("caps.json", kCaps);
  Outcome r = run_quickbox({"repl", "--caps", caps},
                           "await ask('name?').catch((e) => e.message)\nAda\n1 + 1\n2 + 2\n");
  EXPECT_EQ(r.exit_code, 2) << "the bad answer is the session's first failure: " << r;
  EXPECT_EQ(r.out, "#1 ask('name?') waits for an answer\n\"the call to 'ask' was denied\"\n2\n4\n");
  EXPECT_TRUE(contains(r.err, "the answer to #1 ask('name?') is not JSON")) << r;
  EXPECT_TRUE(contains(r.err, "the call is denied")) << r;
}

TEST_F(ReplPiped, WithJsonACallWaitingOnAPersonPrintsASuspendedEnvelopeFirst) {
  std::string caps = write_file("caps.json", kCaps);
  Outcome r = run_quickbox({"repl", "--json", "--caps", caps},
                           "console.log('before'); await publish('hello')\ny\nawait publish('never')\n");
  EXPECT_EQ(r.exit_code, 10) << r;
  std::vector<quickbox::Value> envelopes;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    quickbox::Decoded decoded = quickbox::parse_json(line);
    ASSERT_TRUE(decoded.ok) << line;
    envelopes.push_back(decoded.value);
  }
  ASSERT_EQ(envelopes.size(), 3u) << r;
  EXPECT_EQ(field(envelopes[0], "suspended"), Value(true));
  EXPECT_EQ(field(envelopes[0], "state"), Value(nullptr)) << "settled in the session, not saved";
  const Value &pending = field(envelopes[0], "pending");
  ASSERT_TRUE(pending.is_array() && pending.as_array().size() == 1) << r.out;
  EXPECT_EQ(field(pending.as_array()[0], "capability"), Value("publish"));
  EXPECT_EQ(field(pending.as_array()[0], "needs_approval"), Value(true));
  EXPECT_EQ(field(envelopes[0], "console").as_array().size(), 1u) << "the console lines so far";
  EXPECT_EQ(field(envelopes[1], "value"), Value("hello"));
  EXPECT_EQ(field(envelopes[2], "suspended"), Value(true)) << "the call nobody settled is on stdout too";
  EXPECT_FALSE(contains(r.err, "--suspend-to")) << "the repl settles calls itself: " << r.err;
}

TEST_F(ReplPiped, ASessionEndsWithItsFirstFailuresExitCode) {
  Outcome r = run_quickbox({"repl", "--timeout", "50ms"}, "for (;;) {}\nthrow 1\n'still here'\n");
  EXPECT_EQ(r.exit_code, 3) << "Timeout, the first failure, not the JSException after it: " << r;
  EXPECT_EQ(r.out, "'still here'\n");
}

// ---- A person at a terminal -------------------------------------------------------------------------

class ReplTerminal : public ScratchDirTest {
 protected:
  ReplTerminal() : ScratchDirTest("quickbox-repl-tty") {}

  /// Starts the repl in a terminal, its history in this test's directory.
  std::unique_ptr<TmuxTerminal> start(std::vector<std::string> args = {}) {
    args.insert(args.begin(), "repl");
    auto terminal = std::make_unique<TmuxTerminal>(dir_, kQuickboxBinary, args,
                                                   std::vector<std::string>{"QUICKBOX_REPL_HISTORY=" + history()});
    terminal->wait_for("> ");
    return terminal;
  }

  std::string history() const { return path("history"); }

  /// Enters a line and waits for what it prints.
  static void enter(TmuxTerminal &terminal, const std::string &line, const std::string &shows) {
    size_t before = TmuxTerminal::count(terminal.screen(), shows);
    terminal.type(line);
    terminal.press({"Enter"});
    terminal.wait_for(shows, before + 1);
  }
};

TEST_F(ReplTerminal, ArrowKeysWalkTheHistoryAndCtrlAGoesToTheStartOfTheLine) {
  auto terminal = start();
  enter(*terminal, "1 + 1", "\n2\n");
  enter(*terminal, "40", "\n40\n");
  terminal->press({"Up", "Up"});
  terminal->wait_for("> 1 + 1", 2);
  terminal->press({"C-a"});
  terminal->type("10 * ");
  terminal->press({"Enter"});
  terminal->wait_for("\n11\n");
  EXPECT_FALSE(contains(terminal->screen(), "^[")) << "raw escape sequences: " << terminal->screen();
  terminal->press({"Left", "Right", "Home", "End"});
  enter(*terminal, "'still' + ' editing'", "'still editing'");
  EXPECT_FALSE(contains(terminal->screen(), "^[")) << terminal->screen();
}

TEST_F(ReplTerminal, HistoryIsKeptInAFileForTheNextSession) {
  {
    auto terminal = start();
    enter(*terminal, "const remembered = 7", "undefined");
    terminal->press({"C-d"});
    EXPECT_EQ(terminal->exit_status(), 0);
  }
  struct stat info{};
  ASSERT_EQ(stat(history().c_str(), &info), 0) << "no history file at " << history();
  EXPECT_EQ(info.st_mode & 0777, 0600u) << "entries can hold secrets";
  auto terminal = start();
  terminal->press({"Up"});
  terminal->wait_for("> const remembered = 7");
  terminal->press({"Enter"});  // a fresh realm: the declaration works again
  terminal->wait_for("undefined");
  enter(*terminal, "remembered * 6", "\n42\n");
}

TEST_F(ReplTerminal, TabCompletesGlobalsDeclarationsAndProperties) {
  auto terminal = start();
  enter(*terminal, "let myLongName = 5", "undefined");
  terminal->type("myLo");
  terminal->press({"Tab"});
  terminal->wait_for("> myLongName");
  terminal->press({"Enter"});
  terminal->wait_for("\n5\n");
  terminal->type("Math.ma");
  terminal->press({"Tab"});
  terminal->wait_for("> Math.max");
  terminal->type("(3, 4)");
  terminal->press({"Enter"});
  terminal->wait_for("\n4\n");
  enter(*terminal, "const point = {xCoord: 1, xSpeed: 2}", "undefined");
  terminal->type("point.x");
  terminal->press({"Tab"});  // the candidates have nothing more in common: Tab lists them
  terminal->wait_for("xCoord  xSpeed");
  terminal->type("S");
  terminal->press({"Tab"});
  terminal->press({"Enter"});
  terminal->wait_for("\n2\n");
}

TEST_F(ReplTerminal, AnEntryGoesOnOverLinesWhileItIsIncomplete) {
  auto terminal = start();
  terminal->type("const f = (x) =>");
  terminal->press({"Enter"});
  terminal->wait_for("... ");
  enter(*terminal, "x * 2", "undefined");
  enter(*terminal, "f(21)", "\n42\n");
  enter(*terminal, "'a[' + '('", "'a[('");  // a bracket inside a string opens nothing
  EXPECT_EQ(terminal->last_line(), ">");
}

TEST_F(ReplTerminal, CtrlCInterruptsARunningLoopAndTheSessionKeepsItsState) {
  auto terminal = start({"--timeout", "60s"});
  enter(*terminal, "let kept = 41", "undefined");
  terminal->type("while (true) {}");
  terminal->press({"Enter"});
  // The loop must be running when Ctrl-C comes; one typed before it started is read as a key.
  for (int tries = 0; tries < 30 && !contains(terminal->screen(), "the evaluation was interrupted"); tries++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    terminal->press({"C-c"});
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
  }
  terminal->wait_for("Timeout: the evaluation was interrupted");
  enter(*terminal, "kept + 1", "\n42\n");
}

TEST_F(ReplTerminal, CtrlCClearsAPartialLineOrEntry) {
  auto terminal = start();
  terminal->type("unfinished(");
  terminal->press({"C-c"});
  terminal->wait_for("> ", 2);
  terminal->type("function broken() {");
  terminal->press({"Enter"});
  terminal->wait_for("... ");
  terminal->type("let half =");
  terminal->press({"C-c"});
  terminal->wait_for("> ", 3);
  enter(*terminal, "3 * 3", "\n9\n");
  std::string shown = terminal->screen();
  EXPECT_FALSE(contains(shown, "Uncaught")) << "nothing cancelled was evaluated:\n" << shown;
  terminal->press({"C-c"});  // on an empty line: how to leave
  terminal->wait_for("(To leave, press Ctrl-D or type .exit)");
}

TEST_F(ReplTerminal, CtrlDOnAnEmptyLineLeaves) {
  auto terminal = start();
  enter(*terminal, "1", "\n1\n");
  terminal->press({"C-d"});
  EXPECT_EQ(terminal->exit_status(), 0);
}

TEST_F(ReplTerminal, DotCommands) {
  auto terminal = start();
  enter(*terminal, ".help", ".save FILE");
  terminal->type("function broken() {");
  terminal->press({"Enter"});
  terminal->wait_for("... ");
  terminal->type(".break");
  terminal->press({"Enter"});
  terminal->wait_for("> ", 3);
  enter(*terminal, "const saved = 'yes'", "undefined");
  enter(*terminal, ".save " + path("session.js"), "Session saved to");
  std::ifstream saved(path("session.js"));
  std::string text((std::istreambuf_iterator<char>(saved)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "const saved = 'yes'\n");
  std::string lib = write_file("lib.js", "const loaded = 'from a file';\n");
  enter(*terminal, ".load " + lib, "undefined");
  enter(*terminal, "loaded", "'from a file'");
  terminal->type(".exit");
  terminal->press({"Enter"});
  EXPECT_EQ(terminal->exit_status(), 0);
}

TEST_F(ReplTerminal, CallsThatNeedAPersonAreAskedForAtAPrompt) {
  std::string caps = write_file("caps.json", kCaps);
  auto terminal = start({"--caps", caps});
  terminal->type("console.log('first'); await publish('hello')");
  terminal->press({"Enter"});
  terminal->wait_for("#1 publish('hello') needs approval");
  terminal->wait_for("Approve? [y/N] ");
  EXPECT_TRUE(contains(terminal->screen(), "first\n#1")) << "console output before the prompt";
  terminal->type("y");
  terminal->press({"Enter"});
  terminal->wait_for("\n'hello'\n");
  terminal->type("await publish('nope')");
  terminal->press({"Enter"});
  terminal->wait_for("Approve? [y/N] ", 2);
  terminal->press({"Enter"});  // the default is no
  terminal->wait_for("Uncaught Error: the call to 'publish' was denied");
  terminal->type("await ask('name?')");
  terminal->press({"Enter"});
  terminal->wait_for("Answer (JSON; empty denies): ");
  terminal->type("Ada");
  terminal->press({"Enter"});
  terminal->wait_for("the answer is not JSON");
  terminal->type("\"Ada\"");
  terminal->press({"Enter"});
  terminal->wait_for("\n'Ada'\n");
  terminal->type("await ask('left?')");
  terminal->press({"Enter"});
  terminal->wait_for("Answer (JSON; empty denies): ", 3);
  terminal->press({"C-c"});
  terminal->wait_for("the evaluation was abandoned");
  enter(*terminal, "'still here'", "'still here'");
}

}  // namespace
