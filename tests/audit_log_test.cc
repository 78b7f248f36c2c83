// The audit log records every host call, and keeps a bounded number of them.
#include <gtest/gtest.h>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using test_support::engine;

Capability noop() {
  return Capability::sync("noop", [](const CallInfo &, std::span<const Value> args) { return args[0]; });
}

TEST(AuditLog, KeepsTheNewestEntriesUpToTheLimitAndCountsTheRest) {
  SandboxOptions options;
  options.limits.max_audit_entries = 100;
  Sandbox sandbox = Sandbox::create(engine(), options).unwrap();
  sandbox.register_capability(noop()).unwrap();
  Result r = sandbox.eval("let s = 0; for (let i = 0; i < 1000; i++) s += noop(i); s");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r.value(), Value(499500));
  const auto &log = sandbox.audit_log();
  ASSERT_FALSE(log.empty());
  EXPECT_LE(log.size(), 100u);
  EXPECT_EQ(sandbox.audit_entries_dropped() + log.size(), 1000u) << "every call is either kept or counted";
  EXPECT_EQ(log.back().call_id, 1000u) << "the newest entries are the ones kept";
  for (size_t i = 1; i < log.size(); i++) EXPECT_EQ(log[i].call_id, log[i - 1].call_id + 1);
}

TEST(AuditLog, APendingCallsEntryIsNeverDroppedAndIsClosedWhenItSettles) {
  SandboxOptions options;
  options.limits.max_audit_entries = 10;
  Sandbox sandbox = Sandbox::create(engine(), options).unwrap();
  sandbox.register_capability(noop()).unwrap();
  sandbox.register_capability(Capability::external("ask")).unwrap();
  Result r = sandbox.eval("const answer = ask('first'); for (let i = 0; i < 100; i++) noop(i); await answer");
  ASSERT_TRUE(r.is_suspended());
  ASSERT_EQ(sandbox.audit_log().front().capability, "ask") << "the pending call's entry stays at the front";
  sandbox.resolve(r.pending()[0].call_id, Value("yes")).unwrap();
  Result done = sandbox.resume();
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done.value(), Value("yes"));
  EXPECT_EQ(sandbox.audit_log().front().outcome, CallOutcome::Ok);
}

}  // namespace
}  // namespace quickbox
