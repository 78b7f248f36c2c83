// Specifications of snapshots that cross real OS processes: process A (a fork+exec of
// snapshot_peer) starts a program that makes side effects and then waits on its caller, writes the
// snapshot to a file and exits; process B (another exec) restores the file, answers, resumes and
// prints the result. The side-effect file shows what ran where: nothing may run twice.
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "quickbox/quickbox.hh"
#include "support/printers.hh"
#include "support/scratch_dir.hh"
#include "support/subprocess.hh"

#ifndef SNAPSHOT_PEER
#error "SNAPSHOT_PEER must name the snapshot_peer executable (see tests/CMakeLists.txt)"
#endif

namespace quickbox {
namespace {

namespace fs = std::filesystem;
using namespace test_support;

/// How a run of snapshot_peer ended, with its stdout parsed as JSON.
struct PeerRun : Outcome {
  Value json;  ///< undefined when stdout is not JSON
};

/// Runs snapshot_peer with args as a separate process (fork + exec) and waits for it.
PeerRun run_peer(const std::vector<std::string> &args) {
  PeerRun run{run_program(SNAPSHOT_PEER, args)};
  Decoded parsed = parse_json(run.out);
  if (parsed.ok) run.json = parsed.value;
  return run;
}

/// One line of the effects file: "<role> <pid> <capability> <argument>".
struct Effect {
  std::string role;
  long pid = 0;
  std::string capability, argument;
};

std::vector<Effect> read_effects(const fs::path &path) {
  std::vector<Effect> effects;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    Effect e;
    fields >> e.role >> e.pid >> e.capability >> e.argument;
    effects.push_back(e);
  }
  return effects;
}

std::string summary(const std::vector<Effect> &effects) {
  std::string out;
  for (const auto &e : effects) out += e.role + " " + e.capability + " " + e.argument + "\n";
  return out;
}

/// A fresh directory for one test's files, removed afterwards.
class CrossProcess : public ScratchDirTest {
 protected:
  CrossProcess() : ScratchDirTest("quickbox-snapshot") {}

  void SetUp() override {
    ScratchDirTest::SetUp();
    snapshot_ = path("program.qbsnap");
    effects_ = path("effects.txt");
  }

  PeerRun peer(const std::string &mode, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {mode, "--snapshot", snapshot_, "--effects", effects_};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_peer(args);
  }

  std::string snapshot_, effects_;
};

TEST_F(CrossProcess, ASuspendedProgramFinishesInAnotherProcessAndNothingRunsTwice) {
  PeerRun a = peer("start");
  ASSERT_EQ(a.exit_code, 0) << a;
  EXPECT_EQ(field(a.json, "status"), Value("suspended")) << a;
  ASSERT_TRUE(field(a.json, "pending").is_array()) << a;
  ASSERT_EQ(field(a.json, "pending").as_array().size(), 1u) << a;
  const Value &asked = field(a.json, "pending").as_array()[0];
  EXPECT_EQ(field(asked, "capability"), Value("ask"));
  EXPECT_EQ(field(asked, "args"), Value(Value::Array{"approve?"}));
  EXPECT_TRUE(fs::exists(snapshot_));
  ASSERT_EQ(read_effects(effects_).size(), 2u) << "A charged twice before waiting:\n" << summary(read_effects(effects_));

  PeerRun b = peer("finish");
  ASSERT_EQ(b.exit_code, 0) << b;
  EXPECT_EQ(field(b.json, "status"), Value("done")) << b;
  EXPECT_EQ(field(field(b.json, "pending").as_array().at(0), "id"), field(asked, "id"))
      << "B answers the very call A made";
  EXPECT_EQ(field(b.json, "value"),
            Value(Value::Object{{"answer", "yes"},
                                {"receipts", Value(Value::Array{"A:charge 1", "A:charge 2", "B:charge 3"})}}))
      << b;

  std::vector<Effect> effects = read_effects(effects_);
  ASSERT_EQ(effects.size(), 3u) << "exactly three charges, none repeated:\n" << summary(effects);
  EXPECT_EQ(summary(effects), "A charge 1\nA charge 2\nB charge 3\n");
  EXPECT_EQ(effects[0].pid, effects[1].pid);
  EXPECT_NE(effects[0].pid, effects[2].pid) << "A and B are different processes";
  EXPECT_NE(effects[0].pid, static_cast<long>(getpid()));
  EXPECT_NE(effects[2].pid, static_cast<long>(getpid()));
}

TEST_F(CrossProcess, AProgramSuspendedInsideAnImportedModuleFinishesInAnotherProcess) {
  PeerRun a = peer("start", {"--modules"});
  ASSERT_EQ(a.exit_code, 0) << a;
  EXPECT_EQ(field(a.json, "status"), Value("suspended")) << a;
  EXPECT_EQ(summary(read_effects(effects_)), "A load lib\nA charge 1\n");

  PeerRun b = peer("finish", {"--modules"});
  ASSERT_EQ(b.exit_code, 0) << b;
  EXPECT_EQ(field(b.json, "value"),
            Value(Value::Object{{"result", Value(Value::Object{{"answer", "YES"},
                                                               {"receipts", Value(Value::Array{"A:charge 1", "B:charge 2"})}})}}))
      << b;
  // lib came with the snapshot: B loads only the module imported after the answer.
  EXPECT_EQ(summary(read_effects(effects_)), "A load lib\nA charge 1\nB charge 2\nB load late\n");
}

TEST_F(CrossProcess, ARejectionInTheOtherProcessReachesTheProgramAndNothingMoreRuns) {
  ASSERT_EQ(peer("start").exit_code, 0);
  PeerRun b = peer("finish", {"--reject"});
  EXPECT_EQ(b.exit_code, 1) << b;
  EXPECT_EQ(field(b.json, "status"), Value("error")) << b;
  EXPECT_EQ(field(b.json, "kind"), Value("JSException")) << b;
  EXPECT_EQ(field(b.json, "message"), Value("the reviewer said no")) << b;
  EXPECT_EQ(summary(read_effects(effects_)), "A charge 1\nA charge 2\n");
}

TEST_F(CrossProcess, AnApprovalGivenInAnotherProcessRunsTheHandlerOnceThere) {
  PeerRun a = peer("start", {"--approval"});
  ASSERT_EQ(a.exit_code, 0) << a;
  const Value &waiting = field(a.json, "pending").as_array().at(0);
  EXPECT_EQ(field(waiting, "capability"), Value("pay"));
  EXPECT_EQ(field(waiting, "needs_approval"), Value(true));
  EXPECT_EQ(field(waiting, "args"), Value(Value::Array{100}));
  EXPECT_EQ(summary(read_effects(effects_)), "A charge 1\n") << "pay waits for approval";

  PeerRun b = peer("finish", {"--approval"});
  ASSERT_EQ(b.exit_code, 0) << b;
  EXPECT_EQ(field(b.json, "value"),
            Value(Value::Object{{"receipts", Value(Value::Array{"A:charge 1", "B:pay 100", "B:charge 2"})}}))
      << b;
  std::vector<Effect> effects = read_effects(effects_);
  EXPECT_EQ(summary(effects), "A charge 1\nB pay 100\nB charge 2\n");
  ASSERT_EQ(effects.size(), 3u);
  EXPECT_NE(effects[0].pid, effects[1].pid) << "pay ran in B, not in A";
}

TEST_F(CrossProcess, ATimerSetInOneProcessFiresInTheOtherAfterWhatWasLeftOfItsDelay) {
  PeerRun a = peer("start", {"--timer"});
  ASSERT_EQ(a.exit_code, 0) << a;
  EXPECT_EQ(field(a.json, "status"), Value("suspended")) << a;
  // Longer than the timer's delay: time spent stored in a file does not count toward it.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));

  PeerRun b = peer("finish", {"--timer"});
  ASSERT_EQ(b.exit_code, 0) << b;
  const Value &value = field(b.json, "value");
  EXPECT_EQ(field(value, "answer"), Value("yes")) << b;
  EXPECT_EQ(field(value, "receipts"), Value(Value::Array{"A:charge 1", "B:charge timer"})) << b;
  ASSERT_TRUE(field(b.json, "resume_ms").is_number()) << b;
  EXPECT_GE(field(b.json, "resume_ms").as_number(), 300) << "B waited for the rest of the delay: " << b;
  ASSERT_TRUE(field(value, "waited").is_number()) << b;
  EXPECT_GE(field(value, "waited").as_number(), 400) << b;
  EXPECT_LT(field(value, "waited").as_number(), 900)
      << "the program's clock went on from the snapshot, without the 600 ms stored: " << b;
  EXPECT_EQ(summary(read_effects(effects_)), "A charge 1\nB charge timer\n");
}

TEST_F(CrossProcess, ASignedSnapshotIsRefusedWithTheWrongKeyOrNoneAndAcceptedWithItsOwn) {
  ASSERT_EQ(peer("start", {"--key", "right key"}).exit_code, 0);

  PeerRun wrong = peer("finish", {"--key", "wrong key"});
  EXPECT_EQ(wrong.exit_code, 2) << wrong;
  EXPECT_EQ(field(wrong.json, "status"), Value("refused")) << wrong;
  ASSERT_TRUE(field(wrong.json, "message").is_string()) << wrong;
  EXPECT_NE(field(wrong.json, "message").as_string().find("bad MAC"), std::string::npos) << wrong;

  PeerRun keyless = peer("finish");
  EXPECT_EQ(keyless.exit_code, 2) << keyless;
  EXPECT_NE(keyless.out.find("signed"), std::string::npos) << keyless;
  EXPECT_EQ(summary(read_effects(effects_)), "A charge 1\nA charge 2\n") << "refused restores run nothing";

  PeerRun right = peer("finish", {"--key", "right key"});
  ASSERT_EQ(right.exit_code, 0) << right;
  EXPECT_EQ(summary(read_effects(effects_)), "A charge 1\nA charge 2\nB charge 3\n");
}

TEST_F(CrossProcess, ATamperedSnapshotFileIsRefusedByTheOtherProcess) {
  ASSERT_EQ(peer("start", {"--key", "k"}).exit_code, 0);
  {
    std::fstream file(snapshot_, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(100);
    char c = 0;
    file.read(&c, 1);
    file.seekp(100);
    c = static_cast<char>(c ^ 0x04);
    file.write(&c, 1);
  }
  PeerRun b = peer("finish", {"--key", "k"});
  EXPECT_EQ(b.exit_code, 2) << b;
  EXPECT_NE(b.out.find("bad MAC"), std::string::npos) << b;
  EXPECT_EQ(read_effects(effects_).size(), 2u);
}

}  // namespace
}  // namespace quickbox
