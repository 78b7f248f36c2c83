// Specifications of suspended evaluations and snapshots within one process: how an evaluation
// pauses on calls only its caller can settle, how the caller settles them and resumes, which
// misuses are refused, and how snapshots are captured, validated (fail-closed, naming the failed
// check), restored, forked and inspected. Cross-process behaviour is in snapshot_process_test.cc.
// Written from include/quickbox/sandbox.hh, snapshot.hh and result.hh.
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace std::chrono_literals;
using namespace test_support;
using Bytes8 = std::vector<uint8_t>;

// ---- Helpers ------------------------------------------------------------------------------------

Result eval_suspended(Sandbox &sandbox, std::string_view source) {
  Result r = sandbox.eval(source);
  EXPECT_TRUE(r.is_suspended()) << source << "\n  -> " << describe(r);
  return r;
}

void expect_ok(const Status &status, const std::string &what) {
  EXPECT_TRUE(status.ok()) << what << ": " << (status.ok() ? "" : status.error().to_string());
}

/// A sandbox with an External capability `ask` (and `tools.lookup`), the caller's to answer.
Sandbox asking_sandbox(const SandboxOptions &options = {}) {
  Sandbox sandbox = make_sandbox(options);
  expect_ok(sandbox.register_capability(Capability::external("ask")), "registering ask");
  expect_ok(sandbox.register_capability(Capability::external("tools.lookup")), "registering tools.lookup");
  return sandbox;
}

/// Registers the names asking_sandbox() has on a restored sandbox.
void register_asking(Sandbox &sandbox) {
  expect_ok(sandbox.register_capability(Capability::external("ask")), "registering ask");
  expect_ok(sandbox.register_capability(Capability::external("tools.lookup")), "registering tools.lookup");
}

/// A suspended evaluation waiting on ask('question?'), with some state around it.
Bytes8 suspended_snapshot(const SnapshotOptions &options = {}, const SandboxOptions &sandbox_options = {}) {
  Sandbox sandbox = asking_sandbox(sandbox_options);
  eval_ok(sandbox, "globalThis.counter = 41");
  eval_suspended(sandbox, "const answer = await ask('question?'); `${answer} ${counter + 1}`");
  return sandbox.snapshot(options).unwrap();
}

void put32(Bytes8 &bytes, size_t at, uint32_t v) { std::memcpy(bytes.data() + at, &v, 4); }
uint64_t get64(const Bytes8 &bytes, size_t at) {
  uint64_t v;
  std::memcpy(&v, bytes.data() + at, 8);
  return v;
}

/// Restores and requires a refusal (InvalidInput) whose message contains `check`.
// Recomputes an unsigned snapshot's SHA-256 trailer after a test altered it on purpose, so that the
// check under test is reached (a real foreign or damaged-in-transit-but-resealed snapshot).
void reseal(Bytes8 &bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(bytes.data(), bytes.size() - 32, digest);
  std::memcpy(bytes.data() + bytes.size() - 32, digest, 32);
}

void expect_refused(const Bytes8 &bytes, const std::string &check, const RestoreOptions &options = {},
                    const SandboxOptions &sandbox_options = {}) {
  auto restored = Sandbox::restore(engine(), bytes, sandbox_options, options);
  ASSERT_FALSE(restored.ok()) << "expected a refusal naming \"" << check << "\"";
  EXPECT_EQ(restored.error().kind, ErrorKind::InvalidInput) << restored.error().to_string();
  EXPECT_TRUE(contains(restored.error().message, check))
      << "the message should name the failed check \"" << check << "\": " << restored.error().message;
}

/// Five Math.random() draws, as text.
std::string random_sequence(Sandbox &sandbox) {
  Value v = eval_ok(sandbox, "Array.from({ length: 5 }, () => Math.random()).join()");
  return v.is_string() ? v.as_string() : "";
}

// ---- Suspended evaluations ----------------------------------------------------------------------

TEST(Suspension, AnEvalWaitingOnTheCallerEndsSuspendedWithItsPendingCalls) {
  Sandbox sandbox = asking_sandbox();
  Result r = eval_suspended(sandbox, "const reply = await ask('proceed?', { amount: 3 }); reply");
  ASSERT_TRUE(r.is_suspended());
  ASSERT_EQ(r.pending().size(), 1u);
  const PendingCall &call = r.pending()[0];
  EXPECT_NE(call.call_id, 0u);
  EXPECT_EQ(call.capability, "ask");
  EXPECT_EQ(call.args, (std::vector<Value>{"proceed?", Value(Value::Object{{"amount", 3}})}));
  EXPECT_FALSE(call.needs_approval);
  EXPECT_TRUE(sandbox.suspended());
  ASSERT_EQ(sandbox.pending_calls().size(), 1u);
  EXPECT_EQ(sandbox.pending_calls()[0].call_id, call.call_id);
}

TEST(Suspension, ResolveThenResumeContinuesAsIfTheCallHadJustReturned) {
  Sandbox sandbox = asking_sandbox();
  Result r = eval_suspended(sandbox, R"(
    let counter = 40;
    const bump = () => ++counter;
    bump();
    const reply = await ask('name?');
    bump();
    `${reply} ${counter}`)");
  expect_ok(sandbox.resolve(r.pending()[0].call_id, "ada"), "resolve");
  Result resumed = sandbox.resume();
  ASSERT_TRUE(resumed.ok()) << describe(resumed);
  EXPECT_EQ(resumed.value(), Value("ada 42"));
  EXPECT_FALSE(sandbox.suspended());
}

TEST(Suspension, RejectMakesTheAwaitThrowTheCallersError) {
  Sandbox sandbox = asking_sandbox();
  Result r = eval_suspended(sandbox, "try { await ask('ok?') } catch (e) { [e instanceof Error, e.name, e.message] }");
  expect_ok(sandbox.reject(r.pending()[0].call_id, "the user said no", "TypeError"), "reject");
  Result resumed = sandbox.resume();
  ASSERT_TRUE(resumed.ok()) << describe(resumed);
  EXPECT_EQ(resumed.value(), Value(Value::Array{true, "TypeError", "the user said no"}));
}

TEST(Suspension, AnUncaughtRejectionEndsTheEvaluationAsAnError) {
  Sandbox sandbox = asking_sandbox();
  Result r = eval_suspended(sandbox, "await ask('ok?'); 'not reached'");
  expect_ok(sandbox.reject(r.pending()[0].call_id, "no"), "reject");
  Result resumed = sandbox.resume();
  ASSERT_TRUE(resumed.failed()) << describe(resumed);
  EXPECT_EQ(resumed.error().kind, ErrorKind::JSException);
  EXPECT_EQ(resumed.error().message, "no");
}

TEST(Suspension, TryCatchAroundACallDoesNotSeeThePause) {
  Sandbox sandbox = asking_sandbox();
  Result r = eval_suspended(sandbox, R"(
    const log = [];
    try {
      log.push('before');
      log.push('got ' + await ask('q'));
    } catch (e) {
      log.push('caught ' + e.message);
    } finally {
      log.push('finally');
    }
    log)");
  expect_ok(sandbox.resolve(r.pending()[0].call_id, "yes"), "resolve");
  Result resumed = sandbox.resume();
  ASSERT_TRUE(resumed.ok()) << describe(resumed);
  EXPECT_EQ(resumed.value(), Value(Value::Array{"before", "got yes", "finally"}));
}

TEST(Suspension, SequentialCallsSuspendOneAfterAnother) {
  Sandbox sandbox = asking_sandbox();
  Result r = eval_suspended(sandbox, "const a = await ask('first'); const b = await tools.lookup(a); [a, b]");
  ASSERT_EQ(r.pending().size(), 1u);
  EXPECT_EQ(r.pending()[0].capability, "ask");
  expect_ok(sandbox.resolve(r.pending()[0].call_id, "one"), "resolve first");
  Result second = sandbox.resume();
  ASSERT_TRUE(second.is_suspended()) << describe(second);
  ASSERT_EQ(second.pending().size(), 1u);
  EXPECT_EQ(second.pending()[0].capability, "tools.lookup");
  EXPECT_EQ(second.pending()[0].args, (std::vector<Value>{"one"}));
  EXPECT_NE(second.pending()[0].call_id, r.pending()[0].call_id);
  expect_ok(sandbox.resolve(second.pending()[0].call_id, "two"), "resolve second");
  Result done = sandbox.resume();
  ASSERT_TRUE(done.ok()) << describe(done);
  EXPECT_EQ(done.value(), Value(Value::Array{"one", "two"}));
}

TEST(Suspension, PromiseAllPresentsEveryCallAtOnceAndTheyAreSettledOneByOne) {
  Sandbox sandbox = asking_sandbox();
  Result r = eval_suspended(sandbox, "await Promise.all([ask('a'), ask('b'), tools.lookup('c')])");
  ASSERT_EQ(r.pending().size(), 3u);
  std::map<std::string, uint32_t> id_of;
  for (const auto &call : r.pending()) id_of[call.args.at(0).as_string()] = call.call_id;
  ASSERT_EQ(id_of.size(), 3u);

  expect_ok(sandbox.resolve(id_of["b"], "B"), "resolve b");
  Result partly = sandbox.resume();
  ASSERT_TRUE(partly.is_suspended()) << "two calls are still open: " << describe(partly);
  EXPECT_EQ(partly.pending().size(), 2u);

  expect_ok(sandbox.resolve(id_of["c"], "C"), "resolve c");
  expect_ok(sandbox.resolve(id_of["a"], "A"), "resolve a");
  Result done = sandbox.resume();
  ASSERT_TRUE(done.ok()) << describe(done);
  EXPECT_EQ(done.value(), Value(Value::Array{"A", "B", "C"}));
}

TEST(Suspension, ASuspendedResultCarriesTheConsoleOutputSoFar) {
  Sandbox sandbox = asking_sandbox();
  Result r = eval_suspended(sandbox, "console.log('before'); await ask(); console.log('after'); 1");
  ASSERT_EQ(r.console.size(), 1u);
  EXPECT_EQ(r.console[0].text, "before");
  expect_ok(sandbox.resolve(r.pending()[0].call_id, Value()), "resolve");
  Result done = sandbox.resume();
  ASSERT_TRUE(done.ok()) << describe(done);
  ASSERT_EQ(done.console.size(), 1u) << "each line is delivered once";
  EXPECT_EQ(done.console[0].text, "after");
}

TEST(Suspension, WaitingOnTheCallerCountsNeitherCpuNorWallTime) {
  SandboxOptions options;
  options.limits.cpu_time = 100ms;
  options.limits.wall_time = 100ms;
  Sandbox sandbox = asking_sandbox(options);
  Result r = eval_suspended(sandbox, "await ask()");
  std::this_thread::sleep_for(250ms);
  expect_ok(sandbox.resolve(r.pending()[0].call_id, "late but fine"), "resolve");
  Result done = sandbox.resume();
  ASSERT_TRUE(done.ok()) << describe(done);
  EXPECT_EQ(done.value(), Value("late but fine"));
}

TEST(Suspension, CallsNeverAwaitedAreCancelledWhenTheEvaluationEnds) {
  Sandbox sandbox = asking_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "globalThis.orphan = ask('nobody waits'); 'finished'"), Value("finished"));
  EXPECT_FALSE(sandbox.suspended());
  ASSERT_EQ(sandbox.audit_log().size(), 1u);
  EXPECT_EQ(sandbox.audit_log()[0].outcome, CallOutcome::Cancelled);
  Result later = sandbox.eval("await orphan");
  ASSERT_TRUE(later.failed()) << describe(later);
  EXPECT_EQ(later.error().kind, ErrorKind::Deadlock) << later.error().to_string();
}

TEST(Suspension, AbandonCancelsTheEvaluationAndItsCalls) {
  Sandbox sandbox = asking_sandbox();
  Result r = eval_suspended(sandbox, "globalThis.progress = 'started'; await Promise.all([ask(1), ask(2)]); progress = 'finished'");
  expect_ok(sandbox.abandon(), "abandon");
  EXPECT_FALSE(sandbox.suspended());
  EXPECT_TRUE(sandbox.pending_calls().empty());
  for (const auto &entry : sandbox.audit_log()) EXPECT_EQ(entry.outcome, CallOutcome::Cancelled) << entry.call_id;
  EXPECT_EQ(eval_ok(sandbox, "progress"), Value("started")) << "no more JS ran for it";
  Status late = sandbox.resolve(r.pending()[0].call_id, "too late");
  EXPECT_FALSE(late.ok()) << "its calls are gone";
}

// ---- Misuse -------------------------------------------------------------------------------------------

TEST(SuspensionMisuse, ResolvingAnUnknownIdIsInvalidInput) {
  Sandbox sandbox = asking_sandbox();
  eval_suspended(sandbox, "await ask()");
  for (const Status &status : {sandbox.resolve(9999, 1), sandbox.reject(9999, "x"), sandbox.approve(9999),
                               sandbox.deny(9999)}) {
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().kind, ErrorKind::InvalidInput);
    EXPECT_TRUE(contains(status.error().message, "9999")) << status.error().message;
  }
  EXPECT_TRUE(sandbox.suspended()) << "a refused answer changes nothing";
}

TEST(SuspensionMisuse, ApprovingACallThatIsNotAwaitingApprovalIsInvalidInput) {
  Sandbox sandbox = asking_sandbox();
  Result r = eval_suspended(sandbox, "await ask()");
  Status status = sandbox.approve(r.pending()[0].call_id);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::InvalidInput);
  EXPECT_TRUE(contains(status.error().message, "not waiting for approval")) << status.error().message;
  // deny() is not refused here: it settles a call waiting for an answer too (capability_test.cc).
}

TEST(SuspensionMisuse, ResolvingACallThatAwaitsApprovalIsInvalidInput) {
  Sandbox sandbox = make_sandbox();
  expect_ok(sandbox.register_capability(Capability::sync(
                "pay", [](const CallInfo &, std::span<const Value>) { return Value(); }, {.requires_approval = true})),
            "registering pay");
  Result r = eval_suspended(sandbox, "await pay()");
  Status status = sandbox.resolve(r.pending()[0].call_id, "forged result");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::InvalidInput);
  EXPECT_TRUE(contains(status.error().message, "approval")) << status.error().message;
}

TEST(SuspensionMisuse, EvaluatingWhileSuspendedIsInvalidInput) {
  Sandbox sandbox = asking_sandbox();
  eval_suspended(sandbox, "await ask()");
  for (const Result &r : {sandbox.eval("1 + 1"), sandbox.call("Math.max"), sandbox.run_jobs()}) {
    ASSERT_TRUE(r.failed()) << describe(r);
    EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
    EXPECT_TRUE(contains(r.error().message, "suspended")) << r.error().message;
  }
  EXPECT_TRUE(sandbox.suspended());
}

TEST(SuspensionMisuse, ResumingWhenNothingIsSuspendedIsInvalidInput) {
  Sandbox sandbox = asking_sandbox();
  Result r = sandbox.resume();
  ASSERT_TRUE(r.failed()) << describe(r);
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
  EXPECT_TRUE(contains(r.error().message, "nothing to resume")) << r.error().message;
}

TEST(SuspensionMisuse, ResumingWithoutSettlingAnythingJustSuspendsAgain) {
  Sandbox sandbox = asking_sandbox();
  Result r = eval_suspended(sandbox, "await ask()");
  Result again = sandbox.resume();
  ASSERT_TRUE(again.is_suspended()) << describe(again);
  ASSERT_EQ(again.pending().size(), 1u);
  EXPECT_EQ(again.pending()[0].call_id, r.pending()[0].call_id);
}

// ---- Taking and restoring snapshots --------------------------------------------------------------

TEST(Snapshot, WorksAfterDone) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "globalThis.kept = { list: [1, 2, 3] }; function twice(x) { return 2 * x }");
  Sandbox restored = Sandbox::restore(engine(), sandbox.snapshot().unwrap()).unwrap();
  EXPECT_EQ(eval_ok(restored, "twice(kept.list.length)"), Value(6));
}

TEST(Snapshot, WorksAfterAnError) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "globalThis.kept = 'before the error'");
  ASSERT_TRUE(sandbox.eval("throw new Error('boom')").failed());
  Sandbox restored = Sandbox::restore(engine(), sandbox.snapshot().unwrap()).unwrap();
  EXPECT_EQ(eval_ok(restored, "kept"), Value("before the error"));
}

TEST(Snapshot, WorksWhileSuspendedAndTheRestoredCopyContinues) {
  Bytes8 snapshot = suspended_snapshot();
  Sandbox restored = Sandbox::restore(engine(), snapshot).unwrap();
  EXPECT_TRUE(restored.suspended());
  register_asking(restored);
  std::vector<PendingCall> pending = restored.pending_calls();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].capability, "ask");
  EXPECT_EQ(pending[0].args, (std::vector<Value>{"question?"}));
  expect_ok(restored.resolve(pending[0].call_id, "answer"), "resolve");
  Result done = restored.resume();
  ASSERT_TRUE(done.ok()) << describe(done);
  EXPECT_EQ(done.value(), Value("answer 42"));
}

TEST(Snapshot, OneSnapshotResumesTwiceIndependently) {
  Bytes8 snapshot = suspended_snapshot();
  for (const char *answer : {"first", "second"}) {
    Sandbox restored = Sandbox::restore(engine(), snapshot).unwrap();
    register_asking(restored);
    expect_ok(restored.resolve(restored.pending_calls().at(0).call_id, answer), "resolve");
    Result done = restored.resume();
    ASSERT_TRUE(done.ok()) << describe(done);
    EXPECT_EQ(done.value(), Value(std::string(answer) + " 42"));
  }
}

TEST(Snapshot, TheOriginalIsUnaffectedByTakingASnapshot) {
  Sandbox sandbox = asking_sandbox();
  Result r = eval_suspended(sandbox, "'got ' + await ask()");
  ASSERT_TRUE(sandbox.snapshot().ok());
  expect_ok(sandbox.resolve(r.pending()[0].call_id, "x"), "resolve");
  Result done = sandbox.resume();
  ASSERT_TRUE(done.ok()) << describe(done);
  EXPECT_EQ(done.value(), Value("got x"));
}

TEST(Snapshot, TheRestoringSandboxsCpuLimitGovernsTheResumedEvaluation) {
  Sandbox sandbox = asking_sandbox();  // the default CPU limit: 5 s
  Result r = eval_suspended(sandbox, "await ask(); for (;;) {}");
  Bytes8 snapshot = sandbox.snapshot().unwrap();
  SandboxOptions strict;
  strict.limits.cpu_time = 100ms;
  Sandbox restored = Sandbox::restore(engine(), snapshot, strict).unwrap();
  register_asking(restored);
  expect_ok(restored.resolve(r.pending()[0].call_id, Value()), "resolve");
  auto started = std::chrono::steady_clock::now();
  Result looped = restored.resume();
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(looped.failed()) << describe(looped);
  EXPECT_EQ(looped.error().kind, ErrorKind::Timeout);
  EXPECT_TRUE(contains(looped.error().message, "100 ms")) << looped.error().message;
  EXPECT_LT(elapsed, 2s) << "the snapshot's own budget must not override the restoring host's limit";
}

TEST(Snapshot, ASignedSnapshotRestoresWithItsKey) {
  SnapshotOptions sign{.hmac_key = {'k', 'e', 'y'}};
  Bytes8 snapshot = suspended_snapshot(sign);
  RestoreOptions with_key{.hmac_key = {'k', 'e', 'y'}};
  EXPECT_TRUE(Sandbox::restore(engine(), snapshot, {}, with_key).ok());
}

// ---- Refusals: each names the check that failed, and the process carries on ----------------------

TEST(SnapshotRefusal, WrongMagic) {
  Bytes8 bytes = suspended_snapshot();
  bytes[0] = 'X';
  expect_refused(bytes, "magic");
}

TEST(SnapshotRefusal, UnknownFormatVersion) {
  Bytes8 bytes = suspended_snapshot();
  put32(bytes, 8, 99);
  expect_refused(bytes, "version 99");
}

TEST(SnapshotRefusal, AnotherGuestBuild) {
  Bytes8 bytes = suspended_snapshot();
  for (size_t i = 16; i < 48; i++) bytes[i] ^= 0x5a;
  reseal(bytes);
  expect_refused(bytes, "another guest build");
}

TEST(SnapshotRefusal, TruncatedHeader) {
  Bytes8 bytes = suspended_snapshot();
  bytes.resize(40);
  expect_refused(bytes, "truncated header");
  expect_refused({}, "truncated header");
}

TEST(SnapshotRefusal, TruncatedBody) {
  Bytes8 bytes = suspended_snapshot();
  bytes.resize(bytes.size() - 10);
  expect_refused(bytes, "truncated body");
}

TEST(SnapshotRefusal, TrailingBytes) {
  Bytes8 bytes = suspended_snapshot();
  bytes.push_back(0);
  expect_refused(bytes, "trailing bytes");
}

TEST(SnapshotRefusal, BadMacWhenOneBitFlips) {
  SnapshotOptions sign{.hmac_key = {'k', 'e', 'y'}};
  RestoreOptions with_key{.hmac_key = {'k', 'e', 'y'}};
  Bytes8 original = suspended_snapshot(sign);
  for (size_t at : {size_t{20}, size_t{70}, original.size() / 2, original.size() - 1}) {
    Bytes8 bytes = original;
    bytes[at] ^= 0x01;
    expect_refused(bytes, "bad MAC", with_key);
  }
  RestoreOptions other_key{.hmac_key = {'o', 't', 'h', 'e', 'r'}};
  expect_refused(original, "bad MAC", other_key);
}

TEST(SnapshotRefusal, SignedButNoKeyGiven) {
  SnapshotOptions sign{.hmac_key = {'k', 'e', 'y'}};
  expect_refused(suspended_snapshot(sign), "signed");
}

TEST(SnapshotRefusal, KeyGivenButUnsigned) {
  RestoreOptions with_key{.hmac_key = {'k', 'e', 'y'}};
  expect_refused(suspended_snapshot(), "not signed", with_key);
}

TEST(SnapshotRefusal, BadCompression) {
  Bytes8 bytes = suspended_snapshot();
  // The zstd frame starts right after the 64-byte header: break its magic number.
  for (size_t i = 64; i < 68; i++) bytes[i] ^= 0xff;
  reseal(bytes);
  expect_refused(bytes, "compression");
}

TEST(SnapshotRefusal, CorruptCompressedDataIsDetectedAsCompression) {
  Bytes8 bytes = suspended_snapshot();
  // Past the frame header, inside the compressed blocks; resealed, so zstd's own checks must see it.
  size_t middle = 64 + (bytes.size() - 96) / 2;
  for (size_t i = middle; i < middle + 16; i++) bytes[i] ^= 0xa5;
  reseal(bytes);
  expect_refused(bytes, "compression");
}

TEST(SnapshotRefusal, ASingleCorruptByteAnywhereIsRefusedByTheChecksum) {
  // Some flips inside a zstd frame decode to the very same body; the SHA-256 trailer still sees them.
  Bytes8 original = suspended_snapshot();
  for (size_t at = 0; at < original.size(); at += std::max<size_t>(1, original.size() / 97)) {
    Bytes8 bytes = original;
    bytes[at] ^= 0x10;
    auto restored = Sandbox::restore(engine(), bytes);
    ASSERT_FALSE(restored.ok()) << "a flip at byte " << at << " was restored";
    EXPECT_EQ(restored.error().kind, ErrorKind::InvalidInput) << restored.error().message;
  }
  Bytes8 trailer = original;
  trailer.back() ^= 1;
  expect_refused(trailer, "bad checksum");
}

TEST(SnapshotRefusal, LargerThanMaxSnapshotBytes) {
  Bytes8 bytes = suspended_snapshot();
  RestoreOptions small{.max_snapshot_bytes = bytes.size() - 1};
  expect_refused(bytes, "limit of", small);
}

TEST(SnapshotRefusal, BodyLargerThanMaxSnapshotBytesOnceDecompressed) {
  Bytes8 bytes = suspended_snapshot();
  uint64_t body = get64(bytes, 48);
  ASSERT_GT(body, bytes.size()) << "the body compresses";
  RestoreOptions small{.max_snapshot_bytes = bytes.size() + 1};
  expect_refused(bytes, "uncompressed", small);
}

TEST(SnapshotRefusal, MemoryLargerThanTheRestoringSandboxsLimit) {
  Sandbox big = make_sandbox();
  eval_ok(big, "globalThis.buffer = new Uint8Array(24 << 20); buffer[1000] = 1; buffer.length");
  Bytes8 bytes = big.snapshot().unwrap();
  SandboxOptions small;
  small.limits.memory_bytes = 4 << 20;
  expect_refused(bytes, "memory limit", {}, small);
  SnapshotInfo info = inspect_snapshot(bytes).unwrap();
  EXPECT_GE(info.memory_bytes, uint64_t{24} << 20);
}

TEST(SnapshotRefusal, TheProcessCarriesOnAndAGoodSnapshotStillRestores) {
  Bytes8 good = suspended_snapshot();
  Bytes8 bad = good;
  bad[0] = 0;
  ASSERT_FALSE(Sandbox::restore(engine(), bad).ok());
  ASSERT_FALSE(inspect_snapshot(bad).ok());
  Sandbox restored = Sandbox::restore(engine(), good).unwrap();
  EXPECT_TRUE(restored.suspended());
}

TEST(SnapshotRefusal, InspectAppliesTheSameChecks) {
  Bytes8 bytes = suspended_snapshot();
  Bytes8 truncated(bytes.begin(), bytes.end() - 1);
  auto info = inspect_snapshot(truncated);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().kind, ErrorKind::InvalidInput);
  EXPECT_TRUE(contains(info.error().message, "truncated body")) << info.error().message;
}

/// Drives a sandbox restored from a damaged snapshot through its whole life: bind, answer, resume,
/// evaluate. Every step must return an answer (of any kind); returns how the last one ended.
std::string exercise(Sandbox &sandbox) {
  for (const char *name : {"ask", "tools.lookup"}) (void)sandbox.register_capability(Capability::external(name));
  for (const auto &call : sandbox.pending_calls()) (void)sandbox.resolve(call.call_id, "x");
  std::string how;
  if (sandbox.suspended()) {
    Result resumed = sandbox.resume();
    how = resumed.ok() ? (resumed.value() == Value("x 42") ? "resumed: as expected" : "resumed: another value")
          : resumed.is_suspended() ? "resumed: Suspended"
                                   : "resumed: " + std::string(to_string(resumed.error().kind));
    if (resumed.is_suspended()) (void)sandbox.abandon();
  }
  Result r = sandbox.eval("[1, 2, 3].map((x) => x * 2).join()");
  std::string then = r.ok() ? (r.value() == Value("2,4,6") ? "as expected" : "another value")
                            : std::string(to_string(r.error().kind));
  if (sandbox.discarded()) {
    // A trap discarded the damaged instance: reset() must give a working one.
    EXPECT_TRUE(sandbox.reset().ok());
    Result fresh = sandbox.eval("6 * 7");
    EXPECT_TRUE(fresh.ok() && fresh.value() == Value(42)) << describe(fresh);
    then += " (discarded, reset works)";
  }
  return "restored; " + how + "; then eval: " + then;
}

/// 2000 random single-byte changes of a valid snapshot: none crashes the process, and each yields
/// either a refusal (InvalidInput naming the check) or a sandbox that answers an operation.
TEST(SnapshotRefusal, RandomSingleByteMutationsNeverCrash) {
  // Damaged memory may loop: a small CPU budget, in the snapshot's own evaluation too, keeps this fast.
  SandboxOptions quick;
  quick.limits.cpu_time = 100ms;
  Bytes8 original = suspended_snapshot({}, quick);
  std::mt19937_64 random(20240611);
  std::map<std::string, int> outcomes;
  for (int round = 0; round < 2000; round++) {
    Bytes8 bytes = original;
    size_t at = random() % bytes.size();
    bytes[at] ^= static_cast<uint8_t>(1 + random() % 255);
    auto restored = Sandbox::restore(engine(), bytes, quick);
    if (!restored.ok()) {
      EXPECT_EQ(restored.error().kind, ErrorKind::InvalidInput) << "byte " << at << ": " << restored.error().to_string();
      EXPECT_TRUE(contains(restored.error().message, "snapshot refused")) << restored.error().message;
      std::string check = restored.error().message.substr(0, restored.error().message.find_first_of("(:", 18));
      for (char &c : check)
        if (c >= '0' && c <= '9') c = '#';
      outcomes[check]++;
      continue;
    }
    outcomes[exercise(restored.value())]++;
  }
  for (const auto &[what, count] : outcomes) std::cout << "  " << count << "  " << what << "\n";
}

// ---- Fork ---------------------------------------------------------------------------------------------

TEST(SnapshotFork, GivesIndependentSandboxes) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "globalThis.state = { visits: 0 }");
  std::vector<Sandbox> forks = Sandbox::fork(engine(), sandbox.snapshot().unwrap(), 3).unwrap();
  ASSERT_EQ(forks.size(), 3u);
  eval_ok(forks[0], "state.visits += 10");
  eval_ok(forks[1], "state.visits += 1");
  EXPECT_EQ(eval_ok(forks[0], "state.visits"), Value(10));
  EXPECT_EQ(eval_ok(forks[1], "state.visits"), Value(1));
  EXPECT_EQ(eval_ok(forks[2], "state.visits"), Value(0));
  EXPECT_EQ(eval_ok(sandbox, "state.visits"), Value(0));
}

TEST(SnapshotFork, EachForkResumesASuspendedEvaluationOnItsOwn) {
  std::vector<Sandbox> forks = Sandbox::fork(engine(), suspended_snapshot(), 2).unwrap();
  for (size_t i = 0; i < forks.size(); i++) {
    register_asking(forks[i]);
    expect_ok(forks[i].resolve(forks[i].pending_calls().at(0).call_id, "fork" + std::to_string(i)), "resolve");
    Result done = forks[i].resume();
    ASSERT_TRUE(done.ok()) << describe(done);
    EXPECT_EQ(done.value(), Value("fork" + std::to_string(i) + " 42"));
  }
}

TEST(SnapshotFork, ForksDrawDifferentRandomSequences) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "Math.random()");
  std::vector<Sandbox> forks = Sandbox::fork(engine(), sandbox.snapshot().unwrap(), 4).unwrap();
  std::set<std::string> sequences;
  for (auto &fork : forks) sequences.insert(random_sequence(fork));
  sequences.insert(random_sequence(sandbox));
  EXPECT_EQ(sequences.size(), 5u) << "no two sandboxes share a sequence";
}

TEST(SnapshotFork, ASeedMakesEveryForkDrawTheSameSequence) {
  Sandbox sandbox = make_sandbox();
  SandboxOptions seeded;
  seeded.random_seed = 1234;
  std::vector<Sandbox> forks = Sandbox::fork(engine(), sandbox.snapshot().unwrap(), 3, seeded).unwrap();
  std::string first = random_sequence(forks[0]);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(random_sequence(forks[1]), first);
  EXPECT_EQ(random_sequence(forks[2]), first);
}

TEST(SnapshotFork, ABadSnapshotIsRefusedForAll) {
  Bytes8 bytes = suspended_snapshot();
  bytes[0] = 'X';
  auto forks = Sandbox::fork(engine(), bytes, 3);
  ASSERT_FALSE(forks.ok());
  EXPECT_TRUE(contains(forks.error().message, "magic")) << forks.error().message;
}

// ---- Inspect ------------------------------------------------------------------------------------------

TEST(SnapshotInspect, ReportsHeaderSizesAndPendingCalls) {
  SnapshotOptions sign{.hmac_key = {'k'}};
  Bytes8 bytes = suspended_snapshot(sign);
  SnapshotInfo info = inspect_snapshot(bytes, RestoreOptions{.hmac_key = {'k'}}).unwrap();
  EXPECT_EQ(info.format_version, 2u);
  EXPECT_TRUE(info.signed_);
  EXPECT_EQ(info.guest_build_id, engine().info().guest_build_id);
  EXPECT_EQ(info.total_bytes, bytes.size());
  EXPECT_GT(info.body_bytes, 0u);
  EXPECT_GT(info.memory_bytes, 0u);
  EXPECT_EQ(info.memory_bytes % 65536, 0u);
  EXPECT_GT(info.changed_bytes, 0u);
  EXPECT_LE(info.changed_bytes, info.memory_bytes);
  EXPECT_EQ(info.changed_bytes % 4096, 0u);
  EXPECT_TRUE(info.suspended);
  EXPECT_EQ(std::set<std::string>(info.capabilities.begin(), info.capabilities.end()),
            (std::set<std::string>{"ask", "tools.lookup"}));
  ASSERT_EQ(info.pending.size(), 1u);
  EXPECT_EQ(info.pending[0].capability, "ask");
  EXPECT_EQ(info.pending[0].args, (std::vector<Value>{"question?"}));
  EXPECT_FALSE(info.pending[0].needs_approval);
  std::cout << "  suspended snapshot: " << info.total_bytes << " bytes, body " << info.body_bytes
            << ", memory " << info.memory_bytes << ", changed " << info.changed_bytes << "\n";
}

TEST(SnapshotInspect, ADoneSnapshotIsNotSuspended) {
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "1");
  SnapshotInfo info = inspect_snapshot(sandbox.snapshot().unwrap()).unwrap();
  EXPECT_FALSE(info.signed_);
  EXPECT_FALSE(info.suspended);
  EXPECT_TRUE(info.pending.empty());
}

TEST(SnapshotInspect, ShowsCallsAwaitingApproval) {
  Sandbox sandbox = make_sandbox();
  expect_ok(sandbox.register_capability(Capability::sync(
                "pay", [](const CallInfo &, std::span<const Value>) { return Value(); }, {.requires_approval = true})),
            "registering pay");
  eval_suspended(sandbox, "await pay(5)");
  SnapshotInfo info = inspect_snapshot(sandbox.snapshot().unwrap()).unwrap();
  ASSERT_EQ(info.pending.size(), 1u);
  EXPECT_TRUE(info.pending[0].needs_approval);
  EXPECT_EQ(info.pending[0].args, (std::vector<Value>{5}));
}

}  // namespace
}  // namespace quickbox
