// The hostile-program corpus: every file in tests/js/hostile is a program written to hurt the host
// (endless loops, memory bombs, deep recursion, tampering, unencodable results, work at settle
// time, huge BigInts and errors, floods of host calls). Each one must end exactly as its header
// says, with a message that explains itself, within the CPU its budget allows, and must leave both
// its own sandbox and the next one fully usable. The header format and the capabilities a program
// may ask for are documented in support/hostile_corpus.hh.
//
// Memory bombs keep their allocations in block scope, so the garbage dies with the operation and
// "the same sandbox still works" is a fair demand (data a program parks in globals is its own).

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "quickbox/quickbox.hh"
#include "support/hostile_corpus.hh"
#include "support/sandbox.hh"

namespace quickbox::test_support {

/// gtest prints a parameter by its file name.
void PrintTo(const CorpusProgram &program, std::ostream *out) { *out << program.file_name; }

namespace {

namespace fs = std::filesystem;

const std::vector<CorpusProgram> &corpus() {
  static const std::vector<CorpusProgram> programs = load_programs(hostile_corpus_dir());
  return programs;
}

const std::vector<CorpusProgram> &normal_programs() {
  static const std::vector<CorpusProgram> programs = load_programs(normal_programs_dir());
  return programs;
}

// ---- The corpus itself --------------------------------------------------------------------------

TEST(HostileCorpus, HoldsAtLeast150ProgramsWithReadableHeaders) {
  EXPECT_GE(corpus().size(), 150u) << "corpus directory: " << hostile_corpus_dir();
  for (const auto &program : corpus()) {
    EXPECT_EQ(program.header_problem, "") << program.file_name;
  }
}

// The classes of attack the corpus must keep covering, named by file prefix, with the fewest
// programs each must have: a class is a mechanism (a budget, a limit, a boundary), and several
// shapes of attack per mechanism are what make it a class rather than one exploit.
TEST(HostileCorpus, CoversEveryClassOfAttackWithSeveralPrograms) {
  const std::map<std::string, size_t> required = {
      {"loop", 20},    // CPU budget in code, builtins, getters, traps, jobs
      {"settle", 8},   // CPU budget for guest code run while host calls settle
      {"wall", 2},     // wall clock across host functions
      {"memory", 10},  // the QuickJS heap limit
      {"oom", 6},      // out-of-memory shapes that must stay OutOfMemory
      {"recursion", 10},
      {"stack", 6},    // recursion inside QuickJS's C code ("stack-c-...")
      {"bigint", 5},   // BigInt sizes inside and across the boundary
      {"pending", 4},  // floods of host calls (host memory budget, pending-call cap)
      {"error", 5},    // huge and odd error values
      {"return", 8},   // results that cannot or must not cross
      {"tamper", 12},  // tampering with intrinsics
  };
  std::map<std::string, size_t> found;
  for (const auto &program : corpus()) found[program.family()]++;
  for (const auto &[family, fewest] : required) {
    EXPECT_GE(found[family], fewest) << "the corpus has too few '" << family << "-...' programs";
  }
}

TEST(NormalPrograms, ExistForTheSoakToMixIn) {
  EXPECT_GE(normal_programs().size(), 10u) << "directory: " << normal_programs_dir();
  for (const auto &program : normal_programs()) {
    EXPECT_EQ(program.header_problem, "") << program.file_name;
    EXPECT_FALSE(program.kind.has_value()) << program.file_name << ": a normal program ends Done";
  }
}

// ---- The judge itself: a run that departs from its header is reported ---------------------------

bool judged_ok(const std::string &source) { return run_program(engine(), parse_program("judge.js", source)).ok(); }

TEST(CorpusJudge, AcceptsARunThatEndsAsItsHeaderSays) {
  EXPECT_TRUE(judged_ok("// expect: Done\n// result: 2\n// why: w\n1 + 1"));
  EXPECT_TRUE(judged_ok("// expect: Timeout\n// why: w\nfor (;;) {}"));
  EXPECT_TRUE(judged_ok("// expect: Done\n// result: 3\n// caps: echo\n// why: w\nawait echo(3)"));
}

TEST(CorpusJudge, ReportsEveryWayARunCanDepartFromItsHeader) {
  EXPECT_FALSE(judged_ok("// expect: Timeout\n// why: w\n1 + 1")) << "wrong kind";
  EXPECT_FALSE(judged_ok("// expect: Done\n// result: 3\n// why: w\n1 + 1")) << "wrong result";
  EXPECT_FALSE(judged_ok("// expect: JSException\n// name: TypeError\n// why: w\nthrow new Error('x')")) << "name";
  EXPECT_FALSE(judged_ok("// expect: JSException\n// message: y\n// why: w\nthrow new Error('x')")) << "message";
  EXPECT_FALSE(judged_ok("// expect: Timeout\n// limit: 12345 ms\n// why: w\nfor (;;) {}")) << "limit";
  EXPECT_FALSE(judged_ok("// expect: Done\n// console: z\n// why: w\nconsole.log('x')")) << "console";
  EXPECT_FALSE(judged_ok("// expect: Timeout\n// discarded: yes\n// why: w\nfor (;;) {}")) << "discarded";
}

TEST(CorpusJudge, RefusesHeadersItCannotUnderstand) {
  EXPECT_NE(parse_program("a.js", "1").header_problem, "");
  EXPECT_NE(parse_program("a.js", "// expect: Done\n1").header_problem, "") << "no why";
  EXPECT_NE(parse_program("a.js", "// expect: Finished\n// why: w\n1").header_problem, "");
  EXPECT_NE(parse_program("a.js", "// expect: Done\n// caps: network\n// why: w\n1").header_problem, "");
  EXPECT_NE(parse_program("a.js", "// expect: Done\n// cpu-time: soon\n// why: w\n1").header_problem, "");
}

// ---- One test per program -----------------------------------------------------------------------

class HostileProgramTest : public testing::TestWithParam<CorpusProgram> {};

TEST_P(HostileProgramTest, EndsAsItsHeaderSaysAndLeavesSandboxesUsable) {
  const CorpusProgram &program = GetParam();
  SCOPED_TRACE("why: " + program.why);
  RunReport report = run_program(engine(), program);
  EXPECT_TRUE(report.ok()) << report.text();
}

std::string test_name(const testing::TestParamInfo<CorpusProgram> &info) {
  std::string name = fs::path(info.param.file_name).stem().string();
  for (char &c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Hostile, HostileProgramTest, testing::ValuesIn(corpus()), test_name);
INSTANTIATE_TEST_SUITE_P(Normal, HostileProgramTest, testing::ValuesIn(normal_programs()), test_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(HostileProgramTest);

// ---- All of them at once ------------------------------------------------------------------------

TEST(HostileCorpus, RunsConcurrentlyOnTwoThreadsWithTheSameOutcomes) {
  ASSERT_FALSE(corpus().empty());
  std::atomic<size_t> next{0};
  std::vector<std::string> failures(2);
  auto worker = [&](size_t thread_index) {
    for (size_t i = next++; i < corpus().size(); i = next++) {
      RunReport report = run_program(engine(), corpus()[i]);
      if (!report.ok()) failures[thread_index] += report.text();
    }
  };
  std::thread first(worker, 0), second(worker, 1);
  first.join();
  second.join();
  EXPECT_EQ(failures[0] + failures[1], "");
}

}  // namespace
}  // namespace quickbox::test_support
