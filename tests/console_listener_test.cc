// Specifications of SandboxOptions::on_console: console lines reach the listener as the program
// prints them, once, within the console limit, and a listener that throws stops the evaluation
// with an error that says so.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace std::chrono_literals;
using namespace test_support;

/// A sandbox whose console lines go to `lines` as they are printed.
Sandbox listening_sandbox(std::vector<ConsoleLine> &lines, SandboxOptions options = {}) {
  options.on_console = [&lines](const ConsoleLine &line) { lines.push_back(line); };
  return make_sandbox(options);
}

TEST(ConsoleListener, ALineArrivesBeforeTheProgramGoesOnAndNotAgainWithTheResult) {
  std::vector<ConsoleLine> lines;
  Sandbox sandbox = listening_sandbox(lines);
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::sync("lines_seen",
                                                        [&](const CallInfo &, std::span<const Value>) {
                                                          return Value(static_cast<double>(lines.size()));
                                                        }))
                  .ok());
  Result r = sandbox.eval("console.log('started', 1); const seen = lines_seen();\n"
                          "{ const t = Date.now(); while (Date.now() - t < 50) {} }\n"
                          "console.warn('done'); [seen, lines_seen()]");
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.value(), Value(Value::Array{1.0, 2.0})) << "each line was handed over as it was printed";
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].text, "started 1");
  EXPECT_EQ(lines[0].level, ConsoleLevel::Log);
  EXPECT_EQ(lines[1].text, "done");
  EXPECT_EQ(lines[1].level, ConsoleLevel::Warn);
  EXPECT_TRUE(r.console.empty()) << "lines the listener received are not delivered twice";
}

TEST(ConsoleListener, LinesBeyondTheConsoleLimitAreDroppedAndCountedPerEvaluation) {
  std::vector<ConsoleLine> lines;
  SandboxOptions options;
  options.limits.console_bytes = 12;  // a line costs its text and its line break
  Sandbox sandbox = listening_sandbox(lines, options);
  Result r = sandbox.eval("console.log('12345678'); console.log('abcdef'); console.log('90')");
  ASSERT_TRUE(r.ok()) << describe(r);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].text, "12345678");
  EXPECT_EQ(lines[1].text, "90");
  EXPECT_EQ(r.console_dropped_bytes, 7u);
  lines.clear();
  r = sandbox.eval("console.log('next eval')");
  ASSERT_TRUE(r.ok()) << describe(r);
  ASSERT_EQ(lines.size(), 1u) << "the limit is per evaluation";
  EXPECT_EQ(r.console_dropped_bytes, 0u);
}

TEST(ConsoleListener, EmptyLinesCountTowardTheLimitToo) {
  // Each is a line break on the reader's terminal: without a cost, a loop of console.log() was
  // bounded only by the CPU time.
  std::vector<ConsoleLine> lines;
  SandboxOptions options;
  options.limits.console_bytes = 1000;
  Sandbox sandbox = listening_sandbox(lines, options);
  Result r = sandbox.eval("for (let i = 0; i < 100000; i++) console.log(); 1");
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(lines.size(), 1000u);
  EXPECT_EQ(r.console_dropped_bytes, 99000u);
  // Collected rather than listened to, the same.
  Sandbox collecting = make_sandbox(options);
  r = collecting.eval("for (let i = 0; i < 100000; i++) console.log(); 1");
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_LE(r.console.size(), 1000u);
  EXPECT_GE(r.console_dropped_bytes, 99000u);
}

TEST(ConsoleListener, ALineTheHostMemoryBudgetCannotHoldIsDropped) {
  std::vector<ConsoleLine> lines;
  SandboxOptions options;
  options.limits.host_memory_bytes = 1u << 20;
  options.limits.console_bytes = 4u << 20;
  Sandbox sandbox = listening_sandbox(lines, options);
  Result r = sandbox.eval("console.log('x'.repeat(2 * 1024 * 1024)); console.log('small')");
  ASSERT_TRUE(r.ok()) << describe(r);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].text, "small");
  EXPECT_EQ(r.console_dropped_bytes, (2u << 20) + 1) << "the line and its line break";
}

TEST(ConsoleListener, AListenerThatThrowsStopsTheEvaluationWithAClearErrorAndTheSandboxStaysUsable) {
  int calls = 0;
  SandboxOptions options;
  options.on_console = [&calls](const ConsoleLine &line) {
    calls++;
    if (line.text == "boom") throw std::runtime_error("the log is full");
  };
  Sandbox sandbox = make_sandbox(options);
  auto started = std::chrono::steady_clock::now();
  Result r = sandbox.eval("console.log('boom'); for (;;) {}");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s) << "stopped at once, not at the CPU limit";
  ASSERT_TRUE(r.failed()) << describe(r);
  EXPECT_EQ(r.error().kind, ErrorKind::Internal);
  EXPECT_EQ(r.error().message, "the console listener failed: the log is full");
  EXPECT_FALSE(r.error().instance_discarded);
  // Also when the program would have finished right after the line.
  r = sandbox.eval("console.log('boom'); 'finished'");
  ASSERT_TRUE(r.failed()) << describe(r);
  EXPECT_EQ(r.error().message, "the console listener failed: the log is full");
  EXPECT_EQ(eval_ok(sandbox, "console.log('fine'); 6 * 7"), Value(42.0));
  EXPECT_EQ(calls, 3);
}

TEST(ConsoleListener, AListenerMayReadTheSandboxWhileTheProgramRuns) {
  std::vector<std::string> seen;
  std::optional<Sandbox> holder;
  SandboxOptions options;
  options.on_console = [&](const ConsoleLine &line) {
    Result progress = holder->get_global("progress");
    seen.push_back(line.text + "@" + (progress.ok() ? to_json(progress.value()) : progress.error().message));
  };
  holder.emplace(make_sandbox(options));
  eval_ok(*holder, "for (globalThis.progress = 0; progress < 3; progress++) console.log('step')");
  EXPECT_EQ(seen, (std::vector<std::string>{"step@0", "step@1", "step@2"}));
}

TEST(ConsoleListener, NestedEvaluationsPrintToTheListenerToo) {
  std::vector<ConsoleLine> lines;
  Sandbox sandbox = listening_sandbox(lines);
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::sync("inner",
                                                        [&](const CallInfo &, std::span<const Value>) {
                                                          return sandbox.eval("console.log('inner')").value();
                                                        }))
                  .ok());
  eval_ok(sandbox, "console.log('before'); inner(); console.log('after')");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].text, "before");
  EXPECT_EQ(lines[1].text, "inner");
  EXPECT_EQ(lines[2].text, "after");
}

}  // namespace
}  // namespace quickbox
