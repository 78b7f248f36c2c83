// Specification: a saved state is resumed by one process at a time. `quickbox resume` claims the
// state file atomically before anything in it runs, so of several resumes racing on one state,
// one runs its approved call and the others are refused (exit code 11) without running anything;
// with --consume the call runs exactly once. A resume that dies mid-way leaves its claim behind,
// and the state is refused until a person takes it over with --reclaim. Every test races or
// kills real `quickbox` processes and counts the side effects the approved call left in a file.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/scratch_dir.hh"
#include "support/subprocess.hh"
#include "support/text.hh"

namespace {

namespace fs = std::filesystem;
using namespace quickbox::test_support;

constexpr int kExitOk = 0, kExitUsage = 2, kExitSuspended = 10, kExitClaimed = 11;

size_t line_count(const fs::path &file) {
  std::ifstream in(file);
  size_t lines = 0;
  for (std::string line; std::getline(in, line);) lines++;
  return lines;
}

/// Starts `quickbox args...` in the background with its output discarded; returns its pid.
pid_t start_quickbox(const std::vector<std::string> &args) {
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    subprocess_detail::exec_program(kQuickboxBinary, args, {null, null, null});
  }
  return pid;
}

class ResumeOnce : public ScratchDirTest {
 protected:
  ResumeOnce() : ScratchDirTest("quickbox-once") {}

  /// `publish` appends its argument to published.txt once approved: the side effect counted.
  /// `slow_publish` waits `delay_ms` first, then resolves (a resume that can be killed mid-call).
  std::string manifest() {
    return write_file("caps.json", R"({"capabilities": {
      "publish": {"handler": "append", "file": "published.txt", "requires_approval": true},
      "slow_publish": {"handler": "echo", "delay_ms": 30000, "requires_approval": true}}})");
  }

  /// Runs `call('report')` until it waits for approval; returns the state file.
  std::string suspended_state(const std::string &caps, const std::string &call, const std::string &name) {
    std::string program = write_file(name + ".js", "await " + call + "('report'); 'done'");
    std::string state = path(name + ".qbs");
    Outcome run = run_quickbox({"run", program, "--caps", caps, "--suspend-to", state});
    EXPECT_EQ(run.exit_code, kExitSuspended) << run;
    return state;
  }
};

TEST_F(ResumeOnce, OfConcurrentConsumingResumesOfOneStateExactlyOneRunsTheApprovedCall) {
  std::string caps = manifest();
  constexpr int kRounds = 12, kRacers = 4;
  for (int round = 0; round < kRounds; round++) {
    fs::remove(dir_ / "published.txt");
    std::string state = suspended_state(caps, "publish", "round" + std::to_string(round));
    std::promise<void> go;
    std::shared_future<void> start = go.get_future().share();
    std::vector<std::future<Outcome>> racers;
    for (int i = 0; i < kRacers; i++)
      racers.push_back(std::async(std::launch::async, [&, start] {
        start.wait();
        return run_quickbox({"resume", state, "--caps", caps, "--approve", "1", "--consume"});
      }));
    go.set_value();
    int finished = 0;
    for (auto &racer : racers) {
      Outcome outcome = racer.get();
      if (outcome.exit_code == kExitOk) {
        finished++;
        EXPECT_EQ(outcome.out, "done\n") << outcome;
      } else if (outcome.exit_code == kExitClaimed) {
        // Refused while the winner held the claim.
        EXPECT_TRUE(contains(outcome.err, "is being resumed by another process")) << outcome;
        EXPECT_EQ(outcome.out, "") << outcome;
      } else {
        // Came after the winner had consumed the state: there is nothing left to run.
        EXPECT_EQ(outcome.exit_code, kExitUsage) << outcome;
        EXPECT_TRUE(contains(outcome.err, "cannot open")) << outcome;
      }
    }
    EXPECT_EQ(finished, 1) << "round " << round;
    EXPECT_EQ(line_count(dir_ / "published.txt"), 1u) << "round " << round << ": the approved call ran "
                                                      << line_count(dir_ / "published.txt") << " times";
    EXPECT_FALSE(fs::exists(state)) << "--consume deletes the state";
    EXPECT_FALSE(fs::exists(state + ".claim")) << "a finished resume releases its claim";
  }
}

TEST_F(ResumeOnce, ASymbolicLinkToAStateSharesItsClaim) {
  std::string caps = manifest();
  std::string state = suspended_state(caps, "slow_publish", "linked");
  fs::create_symlink(state, dir_ / "alias.qbs");
  pid_t resume = start_quickbox({"resume", state, "--caps", caps, "--approve", "1"});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(state + ".claim") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  Outcome through_link = run_quickbox({"resume", path("alias.qbs"), "--caps", caps, "--approve", "1"});
  EXPECT_EQ(through_link.exit_code, kExitClaimed) << through_link;
  kill(resume, SIGKILL);
  waitpid(resume, nullptr, 0);
}

TEST_F(ResumeOnce, AResumeThatFinishedReleasesItsClaimSoTheKeptStateCanBeResumedAgain) {
  std::string caps = manifest();
  std::string state = suspended_state(caps, "publish", "kept");
  ASSERT_EQ(run_quickbox({"resume", state, "--caps", caps, "--approve", "1"}).exit_code, kExitOk);
  EXPECT_FALSE(fs::exists(state + ".claim"));
  // Without --consume the state is a checkpoint: resuming it again repeats the call (documented).
  ASSERT_EQ(run_quickbox({"resume", state, "--caps", caps, "--approve", "1"}).exit_code, kExitOk);
  EXPECT_EQ(line_count(dir_ / "published.txt"), 2u);
}

TEST_F(ResumeOnce, AResumeRefusedBeforeRunningReleasesItsClaim) {
  std::string caps = manifest();
  std::string state = suspended_state(caps, "publish", "refused");
  Outcome wrong_call = run_quickbox({"resume", state, "--caps", caps, "--approve", "7"});
  EXPECT_EQ(wrong_call.exit_code, kExitUsage) << wrong_call;
  EXPECT_FALSE(fs::exists(state + ".claim"));
  EXPECT_EQ(run_quickbox({"resume", state, "--caps", caps, "--approve", "1", "--consume"}).exit_code, kExitOk);
  EXPECT_EQ(line_count(dir_ / "published.txt"), 1u);
}

TEST_F(ResumeOnce, AResumeKilledMidCallLeavesItsClaimAndTheStateIsRefusedUntilReclaimed) {
  std::string caps = manifest();
  std::string state = suspended_state(caps, "slow_publish", "killed");
  pid_t resume = start_quickbox({"resume", state, "--caps", caps, "--approve", "1", "--consume"});
  ASSERT_GT(resume, 0);

  // While it runs, the state is claimed by it: another resume is refused, and inspect says so.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(state + ".claim") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(fs::exists(state + ".claim"));
  Outcome racing = run_quickbox({"resume", state, "--caps", caps, "--approve", "1"});
  EXPECT_EQ(racing.exit_code, kExitClaimed) << racing;
  EXPECT_TRUE(contains(racing.err, "is being resumed by another process (pid " + std::to_string(resume)))
      << racing;
  Outcome inspect_running = run_quickbox({"inspect", state});
  EXPECT_TRUE(contains(inspect_running.out, "being resumed now by pid " + std::to_string(resume))) << inspect_running;

  kill(resume, SIGKILL);
  int status = 0;
  waitpid(resume, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));

  // Dead mid-resume: the claim stays, and nothing resumes the state silently.
  ASSERT_TRUE(fs::exists(state + ".claim"));
  Outcome after_crash = run_quickbox({"resume", state, "--caps", caps, "--approve", "1"});
  EXPECT_EQ(after_crash.exit_code, kExitClaimed) << after_crash;
  EXPECT_TRUE(contains(after_crash.err, "claimed by a resume that never finished")) << after_crash;
  EXPECT_TRUE(contains(after_crash.err, "--reclaim")) << after_crash;
  Outcome inspect_dead = run_quickbox({"inspect", state, "--json"});
  EXPECT_EQ(field(field(parse_json_output(inspect_dead), "claim"), "running"), quickbox::Value(false)) << inspect_dead;

  // A person decides: --reclaim takes the state over and the program finishes.
  std::string program_after = write_file("fast.json", R"({"capabilities": {
      "publish": {"handler": "append", "file": "published.txt", "requires_approval": true},
      "slow_publish": {"handler": "echo", "requires_approval": true}}})");
  Outcome reclaimed = run_quickbox({"resume", state, "--caps", program_after, "--approve", "1", "--consume", "--reclaim"});
  EXPECT_EQ(reclaimed.exit_code, kExitOk) << reclaimed;
  EXPECT_EQ(reclaimed.out, "done\n") << reclaimed;
  EXPECT_FALSE(fs::exists(state + ".claim"));
  EXPECT_FALSE(fs::exists(state));
}

TEST_F(ResumeOnce, ReclaimDoesNotTakeAStateFromAResumeThatIsStillRunning) {
  std::string caps = manifest();
  std::string state = suspended_state(caps, "slow_publish", "alive");
  pid_t resume = start_quickbox({"resume", state, "--caps", caps, "--approve", "1"});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(state + ".claim") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  Outcome reclaim = run_quickbox({"resume", state, "--caps", caps, "--approve", "1", "--reclaim"});
  EXPECT_EQ(reclaim.exit_code, kExitClaimed) << reclaim;
  EXPECT_TRUE(contains(reclaim.err, "is being resumed by another process")) << reclaim;
  kill(resume, SIGKILL);
  waitpid(resume, nullptr, 0);
}

}  // namespace
