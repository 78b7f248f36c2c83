// Specification of Sandbox::interrupt(): another thread stops the running evaluation, which ends
// in Timeout ("the evaluation was interrupted") and leaves the sandbox usable with its state.
// Written from include/quickbox/sandbox.hh.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace std::chrono_literals;
using namespace test_support;

/// Calls interrupt() from another thread once `started` says the evaluation runs (plus a pause, so
/// the program is well inside its loop or wait), until `stop`.
class Interrupter {
 public:
  Interrupter(Sandbox &sandbox, std::atomic<bool> &started)
      : thread_([&sandbox, &started, this] {
          while (!started && !stop_) std::this_thread::sleep_for(1ms);
          std::this_thread::sleep_for(100ms);
          if (!stop_) sandbox.interrupt();
        }) {}
  ~Interrupter() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_ = false;
  std::thread thread_;
};

SandboxOptions long_cpu_limit() {
  SandboxOptions options;
  options.limits.cpu_time = 60s;  // only interrupt() can end these programs in time
  return options;
}

TEST(Interrupt, StopsALoopFromAnotherThreadAndKeepsTheState) {
  Sandbox sandbox = make_sandbox(long_cpu_limit());
  eval_ok(sandbox, "let kept = 41");
  std::atomic<bool> started = true;
  auto began = std::chrono::steady_clock::now();
  Error error;
  {
    Interrupter interrupter(sandbox, started);
    error = eval_error(sandbox, "while (true) {}");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - began, 10s);
  EXPECT_EQ(error.kind, ErrorKind::Timeout);
  EXPECT_EQ(error.message, "the evaluation was interrupted");
  EXPECT_FALSE(error.instance_discarded);
  EXPECT_FALSE(sandbox.discarded());
  EXPECT_EQ(eval_ok(sandbox, "kept + 1"), Value(42));
}

TEST(Interrupt, CannotBeCaughtByTheProgram) {
  Sandbox sandbox = make_sandbox(long_cpu_limit());
  std::atomic<bool> started = true;
  Interrupter interrupter(sandbox, started);
  Error error = eval_error(sandbox, "for (;;) { try { while (true) {} } catch (e) {} }");
  EXPECT_EQ(error.kind, ErrorKind::Timeout) << error.message;
}

TEST(Interrupt, StopsAWaitOnAnAsyncHostCall) {
  Sandbox sandbox = make_sandbox(long_cpu_limit());
  std::atomic<bool> started = false;
  // A handler that never completes on its own: only the interrupt ends the wait.
  ASSERT_TRUE(sandbox.register_capability(Capability::async(
      "hang", [&started](const CallInfo &, std::vector<Value>, Completion) { started = true; })));
  auto began = std::chrono::steady_clock::now();
  Error error;
  {
    Interrupter interrupter(sandbox, started);
    error = eval_error(sandbox, "await hang()");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - began, 10s);
  EXPECT_EQ(error.kind, ErrorKind::Timeout);
  EXPECT_EQ(error.message, "the evaluation was interrupted");
  EXPECT_EQ(eval_ok(sandbox, "1 + 1"), Value(2));
}

TEST(Interrupt, ARequestMadeWhileNothingRunsIsDroppedWhenTheNextEvaluationStarts) {
  Sandbox sandbox = make_sandbox();
  sandbox.interrupt();
  EXPECT_EQ(eval_ok(sandbox, "let n = 0; for (let i = 0; i < 100000; i++) n += i; n"), Value(4999950000.0));
}

TEST(Interrupt, OnAMovedFromSandboxDoesNothing) {
  Sandbox sandbox = make_sandbox();
  Sandbox moved = std::move(sandbox);
  sandbox.interrupt();  // NOLINT(bugprone-use-after-move): what a moved-from sandbox does is specified
  EXPECT_EQ(eval_ok(moved, "2"), Value(2));
}

}  // namespace
}  // namespace quickbox
