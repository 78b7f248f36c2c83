// Specification of the command line's help: `quickbox help` is a short overview, each command's
// help lists exactly the flags that command takes (and the command refuses the others), and the
// reference text several commands share lives in topics (`quickbox help output|caps|exit-codes`).
// Every test runs the real `quickbox` binary.
#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/subprocess.hh"
#include "support/text.hh"

namespace {

using namespace quickbox::test_support;

constexpr int kExitUsage = 2;

/// Help that fits a terminal: no command's help is longer than this, no line wider.
constexpr size_t kMaxCommandHelpLines = 45, kMaxOverviewLines = 30, kMaxColumns = 80;

// Every command that runs a sandbox takes these (--allow-net grants fetch() in any of them).
const std::set<std::string> kLimitFlags{"--memory", "--timeout", "--stack", "--seed", "--clock", "--allow-net"};
const std::set<std::string> kProgramFlags{"--json", "--caps", "--suspend-to", "--key-file", "--audit"};

std::set<std::string> operator+(std::set<std::string> a, const std::set<std::string> &b) {
  a.insert(b.begin(), b.end());
  return a;
}

/// The flags each command takes: what its help must list, and all that it accepts.
const std::map<std::string, std::set<std::string>> kFlagsOf{
    {"eval", kLimitFlags + kProgramFlags + std::set<std::string>{"--module", "--typescript", "--modules-dir", "--help"}},
    {"run", kLimitFlags + kProgramFlags + std::set<std::string>{"--module", "--typescript", "--modules-dir", "--help"}},
    {"repl", kLimitFlags + std::set<std::string>{"--json", "--caps", "--typescript", "--modules-dir", "--help"}},
    {"resume", kLimitFlags + kProgramFlags +
                   std::set<std::string>{"--answer", "--approve", "--deny", "--modules-dir", "--consume", "--reclaim",
                                         "--help"}},
    {"inspect", {"--json", "--key-file", "--help"}},
};

/// The operands a command needs to get past argument checking.
const std::map<std::string, std::vector<std::string>> kOperandsOf{
    {"eval", {"1"}}, {"run", {"program.js"}}, {"repl", {}}, {"resume", {"state.qbs"}}, {"inspect", {"state.qbs"}}};

/// A valid value for each flag that takes one (empty: a switch).
const std::map<std::string, std::string> kSampleValue{
    {"--memory", "64M"},     {"--timeout", "1s"},       {"--stack", "256K"},    {"--seed", "7"},
    {"--clock", "real"},     {"--allow-net", "127.0.0.1"}, {"--caps", "caps.json"},   {"--suspend-to", "s"},  {"--key-file", "key"},
    {"--answer", "1=true"},  {"--approve", "1"},        {"--deny", "1"},        {"--module", ""},  {"--typescript", ""},
    {"--json", ""},          {"--audit", ""},           {"--consume", ""},      {"--reclaim", ""},
    {"--modules-dir", "."}};

std::vector<std::string> lines_of(const std::string &text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// The flags listed under "Flags:" ("  -h, --help   show this help" lists --help).
std::set<std::string> listed_flags(const std::string &help) {
  std::set<std::string> flags;
  bool in_section = false;
  static const std::regex kLongFlag("--[a-z-]+");
  for (const std::string &line : lines_of(help)) {
    if (line == "Flags:") {
      in_section = true;
    } else if (in_section && line.empty()) {
      break;
    } else if (in_section && line.starts_with("  -")) {
      std::smatch match;
      if (std::regex_search(line, match, kLongFlag)) flags.insert(match.str());
    }
  }
  return flags;
}

/// The line of a command's help that starts with `prefix`, continuation lines joined.
std::string paragraph_starting(const std::string &help, const std::string &prefix) {
  size_t start = help.find("\n" + prefix);
  if (start == std::string::npos) return "";
  std::string out;
  for (const std::string &line : lines_of(help.substr(start + 1))) {
    if (!out.empty() && !line.starts_with("  ")) break;
    out += (out.empty() ? "" : " ") + line.substr(line.find_first_not_of(' '));
  }
  return out;
}

Outcome help_of(const std::string &command) { return run_quickbox({"help", command}); }

// ---- each command's help -----------------------------------------------------------------------------

TEST(CliHelp, EachCommandsHelpListsExactlyTheFlagsItTakes) {
  for (const auto &[command, flags] : kFlagsOf) {
    Outcome help = help_of(command);
    ASSERT_EQ(help.exit_code, 0) << help;
    EXPECT_TRUE(help.out.starts_with("Usage: quickbox " + command + " [flags]")) << help;
    EXPECT_EQ(listed_flags(help.out), flags) << command << "\n" << help.out;
  }
}

TEST(CliHelp, TheHelpFlagShowsTheSameHelpAsTheHelpCommand) {
  for (const auto &[command, flags] : kFlagsOf) {
    Outcome by_command = help_of(command);
    for (const char *flag : {"--help", "-h"}) {
      Outcome by_flag = run_quickbox({command, flag});
      EXPECT_EQ(by_flag.exit_code, 0) << by_flag;
      EXPECT_EQ(by_flag.out, by_command.out) << command << " " << flag;
    }
  }
}

TEST(CliHelp, ACommandRefusesTheFlagsItsHelpDoesNotList) {
  std::set<std::string> all_flags;
  for (const auto &[command, flags] : kFlagsOf) all_flags.insert(flags.begin(), flags.end());
  all_flags.erase("--help");
  for (const auto &[command, flags] : kFlagsOf) {
    for (const std::string &flag : all_flags) {
      if (flags.contains(flag)) continue;
      std::vector<std::string> args{command};
      for (const std::string &operand : kOperandsOf.at(command)) args.push_back(operand);
      args.push_back(flag);
      if (!kSampleValue.at(flag).empty()) args.push_back(kSampleValue.at(flag));
      Outcome r = run_quickbox(args);
      EXPECT_EQ(r.exit_code, kExitUsage) << r;
      // "--answer does not apply to eval", or a reason ("--module cannot be used with repl: ...").
      EXPECT_TRUE(contains(r.err, "quickbox: " + flag + " ") && contains(r.err, " " + command)) << r;
    }
  }
}

TEST(CliHelp, HelpIsShortAndFitsATerminal) {
  std::vector<std::string> subjects{"", "output", "caps", "exit-codes"};
  for (const auto &[command, flags] : kFlagsOf) subjects.push_back(command);
  for (const std::string &subject : subjects) {
    Outcome help = subject.empty() ? run_quickbox({"help"}) : help_of(subject);
    ASSERT_EQ(help.exit_code, 0) << help;
    std::vector<std::string> lines = lines_of(help.out);
    size_t bound = subject.empty() ? kMaxOverviewLines : kMaxCommandHelpLines;
    EXPECT_LE(lines.size(), bound) << "quickbox help " << subject << "\n" << help.out;
    for (const std::string &line : lines) EXPECT_LE(line.size(), kMaxColumns) << subject << ": " << line;
  }
}

TEST(CliHelp, ACommandsHelpListsTheExitCodesItCanEndWith) {
  EXPECT_EQ(paragraph_starting(help_of("inspect").out, "Exit codes:"),
            "Exit codes: 0 ok, 2 usage, 7 InvalidInput, 8 Internal, 12 output");
  // a piped repl ends with its first failed entry's code
  EXPECT_EQ(paragraph_starting(help_of("repl").out, "Exit codes:"),
            "Exit codes: 0 ok, 1 JSException, 2 usage, 3 Timeout, 4 OutOfMemory, 5 StackOverflow, 6 OutputLimit, "
            "7 InvalidInput, 8 Internal, 9 Deadlock, 10 suspended, 12 output");
  std::string resume = paragraph_starting(help_of("resume").out, "Exit codes:");
  EXPECT_TRUE(contains(resume, "3 Timeout, ")) << resume;
  EXPECT_TRUE(contains(resume, "10 suspended, 11 claimed")) << resume;
  std::string eval = paragraph_starting(help_of("eval").out, "Exit codes:");
  EXPECT_TRUE(contains(eval, "1 JSException, ")) << eval;
  EXPECT_FALSE(contains(eval, "claimed")) << "only resume meets claims: " << eval;
}

TEST(CliHelp, ACommandsHelpPointsToTheTopicsThatConcernIt) {
  std::string eval = paragraph_starting(help_of("eval").out, "More:");
  for (const char *topic : {"`quickbox help output`", "`quickbox help caps`", "`quickbox help exit-codes`"})
    EXPECT_TRUE(contains(eval, topic)) << eval;
  EXPECT_EQ(paragraph_starting(help_of("inspect").out, "More:"), "More: `quickbox help exit-codes`");
}

TEST(CliHelp, InspectsHelpSaysTheKeyChecksTheStateNotThatItSigns) {
  std::string inspect = help_of("inspect").out;
  std::replace(inspect.begin(), inspect.end(), '\n', ' ');
  EXPECT_TRUE(contains(inspect, "--key-file it was saved with: its MAC is checked")) << inspect;
  EXPECT_FALSE(contains(inspect, "sign the")) << inspect;
  EXPECT_FALSE(contains(inspect, "--suspend-to")) << inspect;
}

// ---- the overview and the topics ------------------------------------------------------------------------

TEST(CliHelp, TheOverviewNamesEveryCommandAndTopicButNoCommandsFlags) {
  for (const auto &args : {std::vector<std::string>{"help"}, {"--help"}, {"-h"}}) {
    Outcome overview = run_quickbox(args);
    ASSERT_EQ(overview.exit_code, 0) << overview;
    for (const char *text : {"quickbox eval [flags] CODE", "quickbox run [flags] FILE", "quickbox repl [flags]",
                             "quickbox resume [flags] STATE", "quickbox inspect [flags] STATE",
                             "quickbox help [COMMAND|TOPIC]", "quickbox --version", "\n  output ", "\n  caps ",
                             "\n  exit-codes "})
      EXPECT_TRUE(contains(overview.out, text)) << text << "\n" << overview.out;
    EXPECT_FALSE(contains(overview.out, "--memory")) << overview.out;
    EXPECT_FALSE(contains(overview.out, "Flags:")) << overview.out;
  }
}

TEST(CliHelp, TheExitCodesTopicDocumentsEveryExitCode) {
  Outcome r = help_of("exit-codes");
  ASSERT_EQ(r.exit_code, 0) << r;
  // The rows look like "  3   Timeout        the CPU time limit ...".
  std::map<int, std::string> documented;
  for (const std::string &line : lines_of(r.out)) {
    int code;
    std::string name;
    if (std::istringstream(line) >> code >> name) documented[code] = name;
  }
  std::map<int, std::string> expected{{0, "ok"},          {1, "JSException"},  {2, "usage"},
                                      {3, "Timeout"},     {4, "OutOfMemory"},  {5, "StackOverflow"},
                                      {6, "OutputLimit"}, {7, "InvalidInput"}, {8, "Internal"},
                                      {9, "Deadlock"},    {10, "suspended"},   {11, "claimed"},
                                      {12, "output"}};
  EXPECT_EQ(documented, expected);
}

TEST(CliHelp, TheCapsTopicDescribesTheManifestAndItsHandlers) {
  Outcome r = help_of("caps");
  ASSERT_EQ(r.exit_code, 0) << r;
  for (const char *text : {"\"capabilities\"", "\n  ask ", "\n  echo ", "\n  read_text ", "\n  append ",
                           "requires_approval", "allow_all_three_labels"})
    EXPECT_TRUE(contains(r.out, text)) << text << "\n" << r.out;
}

TEST(CliHelp, TheOutputTopicShowsTheJsonShapes) {
  Outcome r = help_of("output");
  ASSERT_EQ(r.exit_code, 0) << r;
  for (const char *text : {"{\"ok\":true,\"value\":", "{\"ok\":false,\"error\":", "{\"suspended\":true,"})
    EXPECT_TRUE(contains(r.out, text)) << text << "\n" << r.out;
}

TEST(CliHelp, HelpOnAnUnknownSubjectIsAUsageError) {
  Outcome r = help_of("evaluate");
  EXPECT_EQ(r.exit_code, kExitUsage) << r;
  EXPECT_TRUE(contains(r.err, "no help for 'evaluate': expected a command (eval, run, resume, inspect, repl or "
                              "help) or a topic (output, caps or exit-codes)"))
      << r;
  EXPECT_EQ(r.out, "");
}

}  // namespace
