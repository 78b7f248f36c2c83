// Specification: a program cannot drive the terminal quickbox prints to. On a terminal, control
// characters in anything quickbox writes (console lines, values, errors, the arguments shown in
// the pending-call listing a person approves from) appear as visible escapes (\x1b, \u009b), so
// program text can neither move the cursor, erase or overwrite lines, nor reorder text; only line
// feeds and tabs pass. Into a pipe or a file, output stays byte-exact.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/scratch_dir.hh"
#include "support/subprocess.hh"
#include "support/text.hh"

namespace {

using namespace quickbox::test_support;

constexpr int kExitSuspended = 10;

// JS source for a string holding the dangerous characters: ESC with a CSI that erases the screen,
// a carriage return, a backspace, BEL, DEL, the C1 CSI (U+009B) and a right-to-left override.
constexpr const char *kHostileText =
    R"('A\x1b[2J\x1b[HB\rC\bD\x07E\x7fF\u009bG\u202eH')";

/// What no terminal output may contain: the raw bytes of those characters.
void expect_no_raw_controls(const std::string &shown) {
  for (char c : std::string("\x1b\b\x07\x7f")) EXPECT_EQ(shown.find(c), std::string::npos) << int(c) << " in: " << shown;
  EXPECT_EQ(shown.find("\xc2\x9b"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("\xe2\x80\xae"), std::string::npos) << shown;
  // The terminal itself turns each line feed into CR LF; any other CR would be the program's.
  for (size_t at = shown.find('\r'); at != std::string::npos; at = shown.find('\r', at + 1))
    EXPECT_TRUE(at + 1 < shown.size() && shown[at + 1] == '\n') << "a raw carriage return in: " << shown;
}

/// The escapes the hostile text must appear as, in order.
void expect_visible_escapes(const std::string &shown) {
  EXPECT_TRUE(contains(shown, R"(A\x1b[2J\x1b[HB\x0dC\x08D\x07E\x7fF\u009bG\u202eH)")) << shown;
}

class CliTerminal : public ScratchDirTest {
 protected:
  CliTerminal() : ScratchDirTest("quickbox-tty") {}
};

TEST_F(CliTerminal, ConsoleLinesAndTheFinalValueShowControlsAsEscapesOnATerminal) {
  Outcome shown = run_on_terminal({"eval", std::string("console.log(") + kHostileText + "); " + kHostileText}, "");
  EXPECT_EQ(shown.exit_code, 0) << shown;
  expect_no_raw_controls(shown.out);
  expect_visible_escapes(shown.out);
  size_t first = shown.out.find(R"(A\x1b)");
  EXPECT_NE(first, shown.out.rfind(R"(A\x1b)")) << "both the console line and the value are shown: " << shown.out;
}

TEST_F(CliTerminal, ErrorsShowControlsAsEscapesOnATerminal) {
  Outcome shown = run_on_terminal({"eval", std::string("throw new Error(") + kHostileText + ")"}, "");
  EXPECT_EQ(shown.exit_code, 1) << shown;
  expect_no_raw_controls(shown.out);
  expect_visible_escapes(shown.out);
}

TEST_F(CliTerminal, ThePendingCallListingCannotBeRewrittenByTheProgram) {
  std::string caps = write_file("caps.json", R"({"capabilities": {
      "publish": {"handler": "echo", "requires_approval": true}}})");
  // The program tries to erase what came before and to pass an argument that, printed raw,
  // would rewrite its own line of the listing into something harmless-looking.
  std::string program = write_file(
      "p.js", "console.log('\\x1b[2J\\x1b[H');\n"
              "await publish('rm -rf /\\r\\x1b[2K  #1 publish(hello)');\n");
  Outcome shown = run_on_terminal({"run", program, "--caps", caps, "--suspend-to", path("s.qbs")}, "");
  EXPECT_EQ(shown.exit_code, kExitSuspended) << shown;
  expect_no_raw_controls(shown.out);
  EXPECT_TRUE(contains(shown.out, "#1 publish('rm -rf /\\r\\x1B[2K  #1 publish(hello)')")) << shown.out;
  EXPECT_TRUE(contains(shown.out, "\r\nSuspended: the program waits on 1 call")) << "the listing starts a line: "
                                                                                  << shown.out;
}

TEST_F(CliTerminal, BytesThatAreNotUtf8AreShownAsEscapes) {
  // Program strings are always UTF-8, but a file name needs not be: a lone 0x9b byte is CSI to a
  // terminal in 8-bit mode. quickbox's message naming the missing file must not send it raw.
  Outcome shown = run_on_terminal({"run", path("x\x9b" "2J.js")}, "");
  EXPECT_EQ(shown.exit_code, 2) << shown;
  EXPECT_EQ(shown.out.find('\x9b'), std::string::npos) << shown.out;
  EXPECT_TRUE(contains(shown.out, "x\\x9b2J.js")) << shown.out;
}

TEST_F(CliTerminal, OutputIntoAPipeIsByteExact) {
  Outcome piped = run_quickbox({"eval", std::string("console.log(") + kHostileText + "); " + kHostileText});
  EXPECT_EQ(piped.exit_code, 0) << piped;
  std::string raw = "A\x1b[2J\x1b[HB\rC\bD\x07" "E\x7f" "F\xc2\x9bG\xe2\x80\xaeH\n";
  EXPECT_EQ(piped.out, raw + raw);
}

TEST_F(CliTerminal, JsonOnATerminalStaysValidJsonWithTheSameValue) {
  Outcome shown = run_on_terminal({"eval", "--json", "'x\\u009by\\u202ez'"}, "");
  EXPECT_EQ(shown.exit_code, 0) << shown;
  expect_no_raw_controls(shown.out);
  std::string line = shown.out.substr(0, shown.out.find("\r\n"));
  quickbox::Decoded parsed = quickbox::parse_json(line);
  ASSERT_TRUE(parsed.ok) << parsed.error << ": " << line;
  EXPECT_EQ(field(parsed.value, "value"), quickbox::Value("x\u009by\u202ez"));
}

}  // namespace
