// Specifications of capabilities: the host functions a sandbox may call, how JavaScript sees them,
// how host failures reach it, the policy around every call (budgets, concurrency, timeouts, size
// caps, wall clock, approval, the rule of two) and the audit log. Written from
// include/quickbox/capability.hh and sandbox.hh.
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace std::chrono_literals;
using namespace test_support;
using Clock = std::chrono::steady_clock;

// ---- Helpers ------------------------------------------------------------------------------------

void register_ok(Sandbox &sandbox, Capability capability) {
  std::string name = capability.name;
  Status status = sandbox.register_capability(std::move(capability));
  ASSERT_TRUE(status.ok()) << "registering " << name << ": " << status.error().to_string();
}

/// A sync handler that returns a fixed value.
SyncHandler returning(Value value) {
  return [value](const CallInfo &, std::span<const Value>) { return value; };
}

/// Async handlers that settle on threads of their own; joins them when it goes away, so a test
/// never leaves a thread running behind it.
class HandlerThreads {
 public:
  ~HandlerThreads() { join(); }
  /// Runs work on a new thread.
  void start(std::function<void()> work) {
    std::lock_guard lock(mutex_);
    threads_.emplace_back(std::move(work));
  }
  void join() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      threads.swap(threads_);
    }
    for (auto &t : threads) t.join();
  }

 private:
  std::mutex mutex_;
  std::vector<std::thread> threads_;
};

/// An async handler that resolves with its first argument after `delay`, on its own thread.
AsyncHandler echo_after(HandlerThreads &threads, std::chrono::milliseconds delay) {
  return [&threads, delay](const CallInfo &, std::vector<Value> args, Completion done) {
    Value answer = args.empty() ? Value() : args[0];
    threads.start([done, answer, delay] {
      std::this_thread::sleep_for(delay);
      done.resolve(answer);
    });
  };
}

std::string sha256_hex(const std::vector<uint8_t> &bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(bytes.data(), bytes.size(), digest);
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

const AuditEntry *find_audit(const Sandbox &sandbox, const std::string &capability, CallOutcome outcome) {
  for (const auto &entry : sandbox.audit_log())
    if (entry.capability == capability && entry.outcome == outcome) return &entry;
  return nullptr;
}

// ---- How JavaScript sees capabilities ----------------------------------------------------------

TEST(Capabilities, ASyncCapabilityIsAGlobalFunctionReturningItsValue) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("add", [](const CallInfo &, std::span<const Value> args) {
                return Value(args[0].as_number() + args[1].as_number());
              }));
  EXPECT_EQ(eval_ok(sandbox, "typeof add"), Value("function"));
  EXPECT_EQ(eval_ok(sandbox, "add.name"), Value("add"));
  EXPECT_EQ(eval_ok(sandbox, "const sum = add(2, 40); sum"), Value(42)) << "a plain value, not a promise";
}

TEST(Capabilities, ADottedNameLivesUnderANamespaceObject) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("tools.search", [](const CallInfo &, std::span<const Value> args) {
                return Value("results for " + args[0].as_string());
              }));
  register_ok(sandbox, Capability::sync("tools.fetch", returning("page")));
  EXPECT_EQ(eval_ok(sandbox, "typeof tools"), Value("object"));
  EXPECT_EQ(eval_ok(sandbox, "Object.getOwnPropertyNames(tools).sort().join()"), Value("fetch,search"));
  EXPECT_EQ(eval_ok(sandbox, "tools.search('cats')"), Value("results for cats"));
  EXPECT_EQ(eval_ok(sandbox, "typeof search"), Value("undefined")) << "only the namespace is global";
}

TEST(Capabilities, ANameThatCannotBeDefinedIsRefusedNotIgnored) {
  // A top-level var is a non-configurable property of globalThis, and a frozen object takes no
  // new one: the function would never be there, so registering says so instead of succeeding.
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "var search = 5; globalThis.frozen = Object.freeze({}); 0");
  for (const char *name : {"search", "frozen.tool"}) {
    Status status = sandbox.register_capability(Capability::sync(name, returning(1)));
    ASSERT_FALSE(status.ok()) << name;
    EXPECT_EQ(status.error().kind, ErrorKind::InvalidInput);
    EXPECT_TRUE(contains(status.error().message, "cannot be redefined")) << status.error().message;
  }
  EXPECT_EQ(eval_ok(sandbox, "search"), Value(5));
}

TEST(Capabilities, ANameTheProgramDeclaredAtTopLevelIsRefusedNotHidden) {
  // A top-level let, const or class is no property of globalThis, but the program's bare name
  // reaches it first: a capability under that name would be defined and never reached.
  Sandbox sandbox = make_sandbox();
  eval_ok(sandbox, "const search = 5; let tools = {}; class Finder {}; let later; 0");
  for (const char *name : {"search", "tools.find", "Finder", "later"}) {
    Status status = sandbox.register_capability(Capability::sync(name, returning(1)));
    ASSERT_FALSE(status.ok()) << name;
    EXPECT_EQ(status.error().kind, ErrorKind::InvalidInput);
    EXPECT_TRUE(contains(status.error().message, "declared this name at its top level")) << status.error().message;
  }
  EXPECT_EQ(eval_ok(sandbox, "[search, typeof tools.find, typeof globalThis.search]"),
            Value(Value::Array{Value(5), Value("undefined"), Value("undefined")}))
      << "nothing was defined on the way";
  // Names that only start or end like a declared one are free.
  register_ok(sandbox, Capability::sync("searchAll", returning(1)));
  register_ok(sandbox, Capability::sync("find.search", returning(2)));
  EXPECT_EQ(eval_ok(sandbox, "searchAll() + find.search()"), Value(3));
}

TEST(Capabilities, ANamespaceIsAnOwnPropertyNeverAnInheritedBuiltIn) {
  // "__proto__.x" or "toString.x" must not hang a capability on Object.prototype or a built-in
  // every object shares.
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("__proto__.polluted", returning(1)));
  register_ok(sandbox, Capability::sync("toString.x", returning(2)));
  EXPECT_EQ(eval_ok(sandbox, "typeof ({}).polluted"), Value("undefined"));
  EXPECT_EQ(eval_ok(sandbox, "typeof Object.prototype.toString.x"), Value("undefined"));
  EXPECT_EQ(eval_ok(sandbox, "globalThis.toString.x()"), Value(2));
}

TEST(Capabilities, NothingIsCallableThatWasNotRegistered) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("tools.search", returning(1)));
  for (const char *name : {"fetch", "require", "process", "XMLHttpRequest", "ask", "charge", "host", "std", "os"})
    EXPECT_EQ(eval_ok(sandbox, std::string("typeof globalThis.") + name), Value("undefined")) << name;
  EXPECT_EQ(eval_ok(sandbox, "typeof tools.fetch"), Value("undefined"));
  Error e = eval_error(sandbox, "tools.fetch('https://example.com')");
  EXPECT_EQ(e.name, "TypeError") << e.to_string();
  EXPECT_TRUE(sandbox.audit_log().empty()) << "no host call was made";
}

TEST(Capabilities, AnAsyncCapabilityReturnsAPromise) {
  HandlerThreads threads;
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::async("later", echo_after(threads, 10ms)));
  EXPECT_EQ(eval_ok(sandbox, "const p = later('x'); [p instanceof Promise, await p]"),
            Value(Value::Array{true, "x"}));
}

TEST(Capabilities, AnAsyncHandlerMaySettleFromAnotherThread) {
  HandlerThreads threads;
  std::thread::id handler_thread, settling_thread;
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::async("remote", [&](const CallInfo &, std::vector<Value>, Completion done) {
                handler_thread = std::this_thread::get_id();
                threads.start([&settling_thread, done] {
                  settling_thread = std::this_thread::get_id();
                  std::this_thread::sleep_for(30ms);
                  done.resolve("from afar");
                });
              }));
  EXPECT_EQ(eval_ok(sandbox, "await remote()"), Value("from afar"));
  threads.join();
  EXPECT_EQ(handler_thread, std::this_thread::get_id()) << "handlers start on the thread driving the sandbox";
  EXPECT_NE(settling_thread, std::this_thread::get_id());
}

TEST(Capabilities, AnAsyncHandlerMayAlsoSettleAtOnce) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::async("now", [](const CallInfo &, std::vector<Value> args, Completion done) {
                done.resolve(args[0]);
                done.resolve("ignored: a call settles at most once");
                EXPECT_TRUE(done.settled());
              }));
  EXPECT_EQ(eval_ok(sandbox, "await now(7)"), Value(7));
}

TEST(Capabilities, AsyncCallsRunConcurrentlyOnTheHost) {
  HandlerThreads threads;
  std::atomic<int> running{0}, peak{0};
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::async("slow", [&](const CallInfo &, std::vector<Value> args, Completion done) {
                peak = std::max(peak.load(), ++running);
                threads.start([&running, done, args] {
                  std::this_thread::sleep_for(200ms);
                  --running;
                  done.resolve(args[0]);
                });
              }));
  auto started = Clock::now();
  EXPECT_EQ(eval_ok(sandbox, "await Promise.all([1, 2, 3, 4].map((i) => slow(i)))"),
            Value(Value::Array{1, 2, 3, 4}));
  auto elapsed = Clock::now() - started;
  EXPECT_EQ(peak.load(), 4);
  EXPECT_LT(elapsed, 600ms) << "4 calls of 200 ms each, one after another, would take 800 ms";
}

TEST(Capabilities, EveryCallHasItsOwnIdAndTheHandlerSeesIt) {
  HandlerThreads threads;
  std::vector<CallInfo> seen;
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("tick", [&](const CallInfo &info, std::span<const Value>) {
                seen.push_back(info);
                return Value();
              }));
  register_ok(sandbox, Capability::async("tock", [&](const CallInfo &info, std::vector<Value>, Completion done) {
                seen.push_back(info);
                done.resolve(Value());
              }));
  eval_ok(sandbox, "tick(); await Promise.all([tock(), tock()]); tick()");
  ASSERT_EQ(seen.size(), 4u);
  std::set<uint32_t> ids;
  for (const auto &info : seen) ids.insert(info.call_id);
  EXPECT_EQ(ids.size(), 4u) << "call ids are unique";
  EXPECT_EQ(seen[0].capability, "tick");
  EXPECT_EQ(seen[1].capability, "tock");
  ASSERT_EQ(sandbox.audit_log().size(), 4u);
  for (size_t i = 0; i < 4; i++) EXPECT_EQ(sandbox.audit_log()[i].call_id, seen[i].call_id);
}

TEST(Capabilities, RegisteringANameTwiceIsRefused) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("alpha", returning(1)));
  Status status = sandbox.register_capability(Capability::sync("alpha", returning(2)));
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(contains(status.error().message, "already registered")) << status.error().message;
}

TEST(Capabilities, BadNamesAndPoliciesAreRefusedSayingWhy) {
  Sandbox sandbox = make_sandbox();
  for (const char *name : {"", ".x", "x.", "a..b"}) {
    Status status = sandbox.register_capability(Capability::sync(name, returning(1)));
    ASSERT_FALSE(status.ok()) << '"' << name << '"';
    EXPECT_EQ(status.error().kind, ErrorKind::InvalidInput);
  }
  Status zero = sandbox.register_capability(Capability::sync("x", returning(1), {.max_in_flight = 0}));
  ASSERT_FALSE(zero.ok());
  EXPECT_TRUE(contains(zero.error().message, "max_in_flight")) << zero.error().message;
  Status no_handler = sandbox.register_capability(Capability::sync("y", nullptr));
  ASSERT_FALSE(no_handler.ok());
  EXPECT_TRUE(contains(no_handler.error().message, "handler")) << no_handler.error().message;
}

// ---- Host failures as JavaScript sees them -------------------------------------------------------

TEST(CapabilityErrors, ACapabilityErrorReachesJsWithTheHostsMessageAndName) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("lookup", [](const CallInfo &, std::span<const Value>) -> Value {
                throw CapabilityError("no user named bob", "TypeError");
              }));
  EXPECT_EQ(eval_ok(sandbox, "try { lookup('bob') } catch (e) { [e instanceof Error, e.name, e.message] }"),
            Value(Value::Array{true, "TypeError", "no user named bob"}));
}

TEST(CapabilityErrors, AnAsyncCapabilityRejectsWithTheHostsMessage) {
  HandlerThreads threads;
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::async("thrower", [](const CallInfo &, std::vector<Value>, Completion) {
                throw CapabilityError("quota used up", "RangeError");
              }));
  register_ok(sandbox, Capability::async("rejecter", [&](const CallInfo &, std::vector<Value>, Completion done) {
                threads.start([done] { done.reject("remote said no", "TypeError"); });
              }));
  EXPECT_EQ(eval_ok(sandbox, "await thrower().catch((e) => [e instanceof Error, e.name, e.message])"),
            Value(Value::Array{true, "RangeError", "quota used up"}));
  EXPECT_EQ(eval_ok(sandbox, "await rejecter().catch((e) => [e.name, e.message])"),
            Value(Value::Array{"TypeError", "remote said no"}));
}

constexpr const char *kSecret = "postgres://admin:hunter2@10.0.0.7/payments";

TEST(CapabilityErrors, AnyOtherExceptionIsSanitizedInJsAndKeptInTheAudit) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("lookup", [](const CallInfo &, std::span<const Value>) -> Value {
                throw std::runtime_error(std::string("connection to ") + kSecret + " refused");
              }));
  Value message = eval_ok(sandbox, "try { lookup(1); 'no error' } catch (e) { `${e.name}: ${e.message}\\n${e.stack}` }");
  ASSERT_TRUE(message.is_string());
  EXPECT_FALSE(contains(message.as_string(), "hunter2")) << message.as_string();
  EXPECT_FALSE(contains(message.as_string(), "postgres")) << message.as_string();
  EXPECT_TRUE(contains(message.as_string(), "lookup")) << "it says which call failed: " << message.as_string();
  const AuditEntry *entry = find_audit(sandbox, "lookup", CallOutcome::Error);
  ASSERT_NE(entry, nullptr);
  EXPECT_TRUE(contains(entry->detail, kSecret)) << "the host keeps the real reason: " << entry->detail;
}

TEST(CapabilityErrors, AnAsyncHandlersOtherExceptionIsSanitizedToo) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::async("lookup", [](const CallInfo &, std::vector<Value>, Completion) {
                throw std::logic_error(kSecret);
              }));
  Value message = eval_ok(sandbox, "await lookup().then(() => 'no error', (e) => e.message + '\\n' + e.stack)");
  ASSERT_TRUE(message.is_string());
  EXPECT_FALSE(contains(message.as_string(), "hunter2")) << message.as_string();
  EXPECT_TRUE(contains(message.as_string(), "lookup")) << message.as_string();
  const AuditEntry *entry = find_audit(sandbox, "lookup", CallOutcome::Error);
  ASSERT_NE(entry, nullptr);
  EXPECT_TRUE(contains(entry->detail, kSecret)) << entry->detail;
}

TEST(CapabilityErrors, AnExceptionThatIsNotAStdExceptionIsSanitizedToo) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("legacy", [](const CallInfo &, std::span<const Value>) -> Value {
                throw 42;  // old code throws anything
              }));
  Value message = eval_ok(sandbox, "try { legacy(); 'no error' } catch (e) { e.message }");
  ASSERT_TRUE(message.is_string()) << to_json(message);
  EXPECT_TRUE(contains(message.as_string(), "legacy")) << message.as_string();
  EXPECT_EQ(eval_ok(sandbox, "1 + 1"), Value(2)) << "the sandbox is still usable";
}

TEST(CapabilityErrors, AnUncaughtHostErrorEndsTheEvalNamingTheCapability) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("lookup", [](const CallInfo &, std::span<const Value>) -> Value {
                throw std::runtime_error(kSecret);
              }));
  Error e = eval_error(sandbox, "lookup(1); 'not reached'");
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_TRUE(contains(e.message, "lookup")) << e.to_string();
  EXPECT_FALSE(contains(e.to_string() + e.stack, "hunter2")) << e.to_string() << "\n" << e.stack;
}

TEST(CapabilityErrors, AnUncaughtCapabilityErrorEndsTheEvalWithTheHostsMessageAndTheCapabilityInTheStack) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("lookup", [](const CallInfo &, std::span<const Value>) -> Value {
                throw CapabilityError("no such order");
              }));
  Error e = eval_error(sandbox, "lookup(1); 'not reached'");
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.message, "no such order");
  EXPECT_TRUE(contains(e.message + "\n" + e.stack, "lookup")) << e.to_string() << "\n" << e.stack;
}

// ---- Policy: budgets --------------------------------------------------------------------------------

TEST(CapabilityPolicy, BudgetExceededThrowsACatchableErrorInJs) {
  int handled = 0;
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("send",
                                        [&](const CallInfo &, std::span<const Value>) {
                                          ++handled;
                                          return Value("sent");
                                        },
                                        {.max_calls_per_eval = 2}));
  Value outcome = eval_ok(sandbox, R"(
    const results = [];
    for (let i = 0; i < 3; i++) {
      try { results.push(send(i)); } catch (e) { results.push(e.message); }
    }
    results)");
  ASSERT_TRUE(outcome.is_array()) << to_json(outcome);
  ASSERT_EQ(outcome.as_array().size(), 3u);
  EXPECT_EQ(outcome.as_array()[0], Value("sent"));
  EXPECT_EQ(outcome.as_array()[1], Value("sent"));
  EXPECT_TRUE(contains(outcome.as_array()[2].as_string(), "budget exceeded")) << to_json(outcome);
  EXPECT_TRUE(contains(outcome.as_array()[2].as_string(), "2")) << "it names the limit: " << to_json(outcome);
  EXPECT_EQ(handled, 2) << "the refused call never reached the handler";
  EXPECT_NE(find_audit(sandbox, "send", CallOutcome::BudgetExceeded), nullptr);
}

TEST(CapabilityPolicy, AnAsyncCapabilitysBudgetRejectsThePromise) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::async("fetch",
                                         [](const CallInfo &, std::vector<Value>, Completion done) { done.resolve("ok"); },
                                         {.max_calls_per_eval = 1}));
  Value message = eval_ok(sandbox, "await fetch(); await fetch().then(() => 'no error', (e) => e.message)");
  ASSERT_TRUE(message.is_string()) << to_json(message);
  EXPECT_TRUE(contains(message.as_string(), "budget exceeded")) << message.as_string();
  EXPECT_TRUE(contains(message.as_string(), "fetch")) << message.as_string();
}

TEST(CapabilityPolicy, ResumingIsTheSameEvaluationSoTheBudgetCarriesOn) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("send", returning("sent"), {.max_calls_per_eval = 1}));
  register_ok(sandbox, Capability::external("ask"));
  Result r = sandbox.eval("const first = send(); await ask(); try { send() } catch (e) { e.message }");
  ASSERT_TRUE(r.is_suspended()) << describe(r);
  ASSERT_TRUE(sandbox.resolve(r.pending()[0].call_id, Value()).ok());
  Result resumed = sandbox.resume();
  ASSERT_TRUE(resumed.ok()) << describe(resumed);
  ASSERT_TRUE(resumed.value().is_string());
  EXPECT_TRUE(contains(resumed.value().as_string(), "budget exceeded")) << resumed.value().as_string();
}

TEST(CapabilityPolicy, TheBudgetResetsForTheNextEvaluation) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("send", returning("sent"), {.max_calls_per_eval = 1}));
  EXPECT_EQ(eval_ok(sandbox, "send()"), Value("sent"));
  EXPECT_EQ(eval_ok(sandbox, "send()"), Value("sent"));
  EXPECT_TRUE(sandbox.call("send").ok()) << "call() is an evaluation too";
}

TEST(CapabilityPolicy, TheSandboxWideHostCallLimitCountsEveryCapability) {
  SandboxOptions options;
  options.limits.max_host_calls = 3;
  Sandbox sandbox = make_sandbox(options);
  register_ok(sandbox, Capability::sync("a", returning("a")));
  register_ok(sandbox, Capability::async("b", [](const CallInfo &, std::vector<Value>, Completion done) {
                done.resolve("b");
              }));
  Value outcome = eval_ok(sandbox, R"(
    const got = [a(), await b(), a()];
    try { got.push(a()); } catch (e) { got.push(e.message); }
    try { got.push(await b()); } catch (e) { got.push(e.message); }
    got)");
  ASSERT_TRUE(outcome.is_array()) << to_json(outcome);
  ASSERT_EQ(outcome.as_array().size(), 5u);
  EXPECT_EQ(outcome.as_array()[2], Value("a"));
  for (size_t i : {3, 4}) {
    ASSERT_TRUE(outcome.as_array()[i].is_string()) << to_json(outcome);
    EXPECT_TRUE(contains(outcome.as_array()[i].as_string(), "budget exceeded")) << to_json(outcome);
    EXPECT_TRUE(contains(outcome.as_array()[i].as_string(), "3")) << to_json(outcome);
  }
  EXPECT_EQ(eval_ok(sandbox, "a() + a() + a()"), Value("aaa")) << "the limit is per evaluation";
}

// ---- Policy: concurrency, timeouts, sizes, wall clock ------------------------------------------------

TEST(CapabilityPolicy, CallsBeyondMaxInFlightWaitTheirTurnInOrder) {
  HandlerThreads threads;
  std::mutex mutex;
  std::vector<int> start_order;
  std::atomic<int> running{0}, peak{0};
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::async("work",
                                         [&](const CallInfo &, std::vector<Value> args, Completion done) {
                                           {
                                             std::lock_guard lock(mutex);
                                             start_order.push_back(static_cast<int>(args[0].as_number()));
                                           }
                                           peak = std::max(peak.load(), ++running);
                                           threads.start([&running, done, args] {
                                             std::this_thread::sleep_for(40ms);
                                             --running;
                                             done.resolve(args[0]);
                                           });
                                         },
                                         {.max_in_flight = 2}));
  EXPECT_EQ(eval_ok(sandbox, "await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => work(i)))"),
            Value(Value::Array{0, 1, 2, 3, 4, 5, 6, 7}))
      << "no call fails for want of a slot";
  EXPECT_EQ(start_order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_LE(peak.load(), 2) << "never more than max_in_flight at once";
  EXPECT_EQ(peak.load(), 2) << "but the cap is used";
  for (const auto &entry : sandbox.audit_log()) EXPECT_EQ(entry.outcome, CallOutcome::Ok);
}

TEST(CapabilityPolicy, AHandlerThatNeverCompletesTimesOut) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::async("hang", [](const CallInfo &, std::vector<Value>, Completion) {},
                                         {.call_timeout = 100ms}));
  auto started = Clock::now();
  Value message = eval_ok(sandbox, "try { await hang(); 'no error' } catch (e) { e.message }");
  ASSERT_TRUE(message.is_string()) << to_json(message);
  EXPECT_TRUE(contains(message.as_string(), "timed out after 100 ms")) << message.as_string();
  EXPECT_TRUE(contains(message.as_string(), "hang")) << message.as_string();
  EXPECT_LT(Clock::now() - started, 1s);
  const AuditEntry *entry = find_audit(sandbox, "hang", CallOutcome::Timeout);
  ASSERT_NE(entry, nullptr);
  EXPECT_GE(entry->duration, 100ms);
}

TEST(CapabilityPolicy, ALateCompletionAfterATimeoutIsIgnored) {
  HandlerThreads threads;
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::async("late", echo_after(threads, 150ms), {.call_timeout = 50ms}));
  EXPECT_EQ(eval_ok(sandbox, "await late('x').catch((e) => 'timed out')"), Value("timed out"));
  threads.join();
  EXPECT_EQ(eval_ok(sandbox, "'still fine'"), Value("still fine"));
}

TEST(CapabilityPolicy, ArgumentsOverTheSizeCapAreRefusedBeforeTheHandler) {
  int handled = 0;
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("store",
                                        [&](const CallInfo &, std::span<const Value>) {
                                          ++handled;
                                          return Value();
                                        },
                                        {.max_argument_bytes = 100}));
  eval_ok(sandbox, "store('x'.repeat(50))");
  Value message = eval_ok(sandbox, "try { store('x'.repeat(1000)); 'no error' } catch (e) { e.message }");
  ASSERT_TRUE(message.is_string());
  EXPECT_TRUE(contains(message.as_string(), "store")) << message.as_string();
  EXPECT_TRUE(contains(message.as_string(), "100")) << "names the limit: " << message.as_string();
  EXPECT_EQ(handled, 1);
  EXPECT_NE(find_audit(sandbox, "store", CallOutcome::BudgetExceeded), nullptr);
}

TEST(CapabilityPolicy, AResultOverTheSizeCapFailsTheCall) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("dump", returning(std::string(1000, 'y')), {.max_result_bytes = 100}));
  register_ok(sandbox, Capability::async("dump_later",
                                         [](const CallInfo &, std::vector<Value>, Completion done) {
                                           done.resolve(std::string(1000, 'y'));
                                         },
                                         {.max_result_bytes = 100}));
  for (const char *source : {"try { dump(); 'no error' } catch (e) { e.message }",
                             "await dump_later().then(() => 'no error', (e) => e.message)"}) {
    Value message = eval_ok(sandbox, source);
    ASSERT_TRUE(message.is_string()) << source;
    EXPECT_TRUE(contains(message.as_string(), "dump")) << message.as_string();
    EXPECT_TRUE(contains(message.as_string(), "100")) << "names the limit: " << message.as_string();
  }
}

TEST(CapabilityPolicy, WallTimeCountsTimeSpentWaitingOnHandlers) {
  std::vector<Completion> never_settled;
  SandboxOptions options;
  options.limits.wall_time = 200ms;
  Sandbox sandbox = make_sandbox(options);
  register_ok(sandbox, Capability::async("slow", [&](const CallInfo &, std::vector<Value>, Completion done) {
                never_settled.push_back(done);
              }));
  auto started = Clock::now();
  Error e = eval_error(sandbox, "await slow(); 'not reached'");
  EXPECT_EQ(e.kind, ErrorKind::Timeout) << e.to_string();
  EXPECT_TRUE(contains(e.message, "wall-clock")) << e.message;
  EXPECT_TRUE(contains(e.message, "200 ms")) << e.message;
  EXPECT_LT(Clock::now() - started, 1s);
  ASSERT_EQ(sandbox.audit_log().size(), 1u);
  EXPECT_EQ(sandbox.audit_log()[0].outcome, CallOutcome::Timeout)
      << "the call the wall clock cut short is audited as timed out; detail: " << sandbox.audit_log()[0].detail;
  for (auto &done : never_settled) done.resolve("too late");  // ignored, harmless
  EXPECT_EQ(eval_ok(sandbox, "'usable again'"), Value("usable again"));
}

TEST(CapabilityPolicy, CpuTimeDoesNotCountTimeSpentWaitingOnHandlers) {
  HandlerThreads threads;
  SandboxOptions options;
  options.limits.cpu_time = 100ms;
  Sandbox sandbox = make_sandbox(options);
  register_ok(sandbox, Capability::async("slow", echo_after(threads, 300ms)));
  register_ok(sandbox, Capability::sync("blocking", [](const CallInfo &, std::span<const Value>) {
                std::this_thread::sleep_for(300ms);
                return Value("waited");
              }));
  EXPECT_EQ(eval_ok(sandbox, "await slow('waited')"), Value("waited"));
  EXPECT_EQ(eval_ok(sandbox, "blocking()"), Value("waited"));
}

// ---- Policy: approval ---------------------------------------------------------------------------------

TEST(CapabilityApproval, CallingSuspendsUntilTheHostDecides) {
  int paid = 0;
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("pay",
                                        [&](const CallInfo &, std::span<const Value> args) {
                                          ++paid;
                                          return Value("paid " + to_json(args[0]));
                                        },
                                        {.requires_approval = true}));
  Result r = sandbox.eval("const receipt = await pay(10); receipt");
  ASSERT_TRUE(r.is_suspended()) << describe(r);
  ASSERT_EQ(r.pending().size(), 1u);
  const PendingCall &call = r.pending()[0];
  EXPECT_EQ(call.capability, "pay");
  EXPECT_TRUE(call.needs_approval);
  EXPECT_EQ(call.args, (std::vector<Value>{10}));
  EXPECT_EQ(paid, 0) << "nothing runs before approval";
  ASSERT_TRUE(sandbox.approve(call.call_id).ok());
  EXPECT_EQ(paid, 0) << "the handler runs on resume";
  Result resumed = sandbox.resume();
  ASSERT_TRUE(resumed.ok()) << describe(resumed);
  EXPECT_EQ(resumed.value(), Value("paid 10"));
  EXPECT_EQ(paid, 1);
  EXPECT_NE(find_audit(sandbox, "pay", CallOutcome::Ok), nullptr);
}

TEST(CapabilityApproval, ADeniedCallRejectsInJsSayingSo) {
  int paid = 0;
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("pay",
                                        [&](const CallInfo &, std::span<const Value>) {
                                          ++paid;
                                          return Value("paid");
                                        },
                                        {.requires_approval = true}));
  Result r = sandbox.eval("try { await pay(1000000) } catch (e) { 'refused: ' + e.message }");
  ASSERT_TRUE(r.is_suspended()) << describe(r);
  ASSERT_TRUE(sandbox.deny(r.pending()[0].call_id, "amount too large").ok());
  Result resumed = sandbox.resume();
  ASSERT_TRUE(resumed.ok()) << describe(resumed);
  ASSERT_TRUE(resumed.value().is_string());
  EXPECT_TRUE(contains(resumed.value().as_string(), "denied")) << resumed.value().as_string();
  EXPECT_TRUE(contains(resumed.value().as_string(), "amount too large")) << resumed.value().as_string();
  EXPECT_EQ(paid, 0);
  EXPECT_NE(find_audit(sandbox, "pay", CallOutcome::Denied), nullptr);
}

TEST(CapabilityApproval, ACallWaitingForAnAnswerIsDeniedTheSameWay) {
  // One word for a person's "no", whatever the call waits for (the CLI's --deny, Python's deny()).
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::external("ask"));
  Result r = sandbox.eval("try { await ask('publish?') } catch (e) { [e.name, e.message] }");
  ASSERT_TRUE(r.is_suspended()) << describe(r);
  ASSERT_FALSE(r.pending()[0].needs_approval);
  ASSERT_TRUE(sandbox.deny(r.pending()[0].call_id, "not today").ok());
  Result resumed = sandbox.resume();
  ASSERT_TRUE(resumed.ok()) << describe(resumed);
  EXPECT_EQ(resumed.value(), Value(Value::Array{"Error", "the call to 'ask' was denied: not today"}));
  EXPECT_NE(find_audit(sandbox, "ask", CallOutcome::Denied), nullptr);
  Status again = sandbox.deny(r.pending()[0].call_id);
  ASSERT_FALSE(again.ok()) << "a settled call cannot be denied";
  EXPECT_TRUE(contains(again.error().message, "no pending call")) << again.error().message;
}

// ---- Policy: the rule of two -----------------------------------------------------------------------

TEST(CapabilityRuleOfTwo, AllThreeLabelsTogetherAreRefusedNamingTheCapabilities) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("read_mail", returning(1), {.labels = kSensitiveData}));
  register_ok(sandbox, Capability::sync("browse", returning(1), {.labels = kUntrustedInput}));
  Status third = sandbox.register_capability(Capability::sync("send_mail", returning(1), {.labels = kExternalEffect}));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().kind, ErrorKind::InvalidInput);
  for (const char *name : {"read_mail", "browse", "send_mail"})
    EXPECT_TRUE(contains(third.error().message, name)) << third.error().message;
  EXPECT_EQ(eval_ok(sandbox, "typeof send_mail"), Value("undefined")) << "the refused capability does not exist";
}

TEST(CapabilityRuleOfTwo, OneCapabilityCarryingAllThreeIsRefusedToo) {
  Sandbox sandbox = make_sandbox();
  Status status = sandbox.register_capability(
      Capability::sync("agent", returning(1), {.labels = kSensitiveData | kUntrustedInput | kExternalEffect}));
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(contains(status.error().message, "agent")) << status.error().message;
}

TEST(CapabilityRuleOfTwo, TheEmbedderMayAcceptTheRisk) {
  SandboxOptions options;
  options.allow_all_three_labels = true;
  Sandbox sandbox = make_sandbox(options);
  register_ok(sandbox, Capability::sync("read_mail", returning(1), {.labels = kSensitiveData}));
  register_ok(sandbox, Capability::sync("browse", returning(1), {.labels = kUntrustedInput}));
  register_ok(sandbox, Capability::sync("send_mail", returning(1), {.labels = kExternalEffect}));
  EXPECT_EQ(eval_ok(sandbox, "read_mail() + browse() + send_mail()"), Value(3));
}

// ---- The audit log ------------------------------------------------------------------------------------

TEST(CapabilityAudit, EachEntryCarriesTheSha256OfTheCborArguments) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("record", returning(Value())));
  auto before = std::chrono::system_clock::now();
  eval_ok(sandbox, "record('hello', 42, [1.5, null, true], { nested: 'ü' }, -7)");
  auto after = std::chrono::system_clock::now();
  ASSERT_EQ(sandbox.audit_log().size(), 1u);
  const AuditEntry &entry = sandbox.audit_log()[0];
  std::vector<uint8_t> cbor = encode_cbor(Value(Value::Array{
      "hello", 42, Value(Value::Array{1.5, nullptr, true}), Value(Value::Object{{"nested", "ü"}}), -7}));
  EXPECT_EQ(entry.capability, "record");
  EXPECT_NE(entry.call_id, 0u);
  EXPECT_EQ(entry.argument_bytes, cbor.size());
  EXPECT_EQ(entry.argument_digest, sha256_hex(cbor));
  EXPECT_GE(entry.start, before);
  EXPECT_LE(entry.start, after);
  EXPECT_EQ(entry.outcome, CallOutcome::Ok);
}

TEST(CapabilityAudit, DurationCoversTheHandler) {
  HandlerThreads threads;
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("nap", [](const CallInfo &, std::span<const Value>) {
                std::this_thread::sleep_for(50ms);
                return Value();
              }));
  register_ok(sandbox, Capability::async("nap_later", echo_after(threads, 50ms)));
  eval_ok(sandbox, "nap(); await nap_later()");
  ASSERT_EQ(sandbox.audit_log().size(), 2u);
  for (const auto &entry : sandbox.audit_log()) {
    EXPECT_GE(entry.duration, 50ms) << entry.capability;
    EXPECT_LT(entry.duration, 2s) << entry.capability;
  }
}

TEST(CapabilityAudit, EveryOutcomeIsRecorded) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::sync("fine", returning(1)));
  register_ok(sandbox, Capability::sync("broken", [](const CallInfo &, std::span<const Value>) -> Value {
                throw CapabilityError("broken on purpose");
              }));
  register_ok(sandbox, Capability::sync("guarded", returning(1), {.requires_approval = true}));
  register_ok(sandbox, Capability::sync("once", returning(1), {.max_calls_per_eval = 1}));
  register_ok(sandbox, Capability::async("hang", [](const CallInfo &, std::vector<Value>, Completion) {},
                                         {.call_timeout = 20ms}));
  register_ok(sandbox, Capability::external("ask"));

  eval_ok(sandbox, "fine(); try { broken() } catch {} once(); try { once() } catch {}");
  eval_ok(sandbox, "await hang().catch(() => {})");
  eval_ok(sandbox, "ask('never awaited'); 'done'");
  Result r = sandbox.eval("await guarded().catch(() => {})");
  ASSERT_TRUE(r.is_suspended()) << describe(r);
  ASSERT_TRUE(sandbox.deny(r.pending()[0].call_id).ok());
  ASSERT_TRUE(sandbox.resume().ok());

  std::vector<std::pair<std::string, std::string>> seen;
  for (const auto &entry : sandbox.audit_log())
    seen.emplace_back(entry.capability, std::string(to_string(entry.outcome)));
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{{"fine", "ok"},
                                                                   {"broken", "error"},
                                                                   {"once", "ok"},
                                                                   {"once", "budget_exceeded"},
                                                                   {"hang", "timeout"},
                                                                   {"ask", "cancelled"},
                                                                   {"guarded", "denied"}}));
  EXPECT_EQ(sandbox.audit_log()[1].detail, "broken on purpose");
}

// ---- Capabilities across snapshots -------------------------------------------------------------------

TEST(CapabilitySnapshots, CapabilitiesAreBoundByNameAfterARestore) {
  Sandbox original = make_sandbox();
  register_ok(original, Capability::sync("alpha", returning("old alpha")));
  register_ok(original, Capability::sync("tools.beta", returning("old beta")));
  eval_ok(original, "const keptAlpha = alpha; globalThis.both = () => keptAlpha() + ' & ' + tools.beta(); 0");
  std::vector<uint8_t> snapshot = original.snapshot().unwrap();

  Sandbox restored = Sandbox::restore(engine(), snapshot).unwrap();
  std::vector<std::string> handled_by;
  // Registered in the opposite order: binding goes by name, not by position.
  register_ok(restored, Capability::sync("tools.beta", [&](const CallInfo &info, std::span<const Value>) {
                handled_by.push_back(info.capability);
                return Value("new beta");
              }));
  register_ok(restored, Capability::sync("alpha", [&](const CallInfo &info, std::span<const Value>) {
                handled_by.push_back(info.capability);
                return Value("new alpha");
              }));
  Result r = restored.call("both");
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.value(), Value("new alpha & new beta"));
  EXPECT_EQ(handled_by, (std::vector<std::string>{"alpha", "tools.beta"}));
}

TEST(CapabilitySnapshots, BudgetsAlreadyUsedTravelWithTheSnapshot) {
  Sandbox original = make_sandbox();
  register_ok(original, Capability::sync("send", returning("sent"), {.max_calls_per_eval = 1}));
  register_ok(original, Capability::external("ask"));
  Result r = original.eval("send(); await ask(); try { send() } catch (e) { e.message }");
  ASSERT_TRUE(r.is_suspended()) << describe(r);
  Sandbox restored = Sandbox::restore(engine(), original.snapshot().unwrap()).unwrap();
  register_ok(restored, Capability::sync("send", returning("sent"), {.max_calls_per_eval = 1}));
  register_ok(restored, Capability::external("ask"));
  ASSERT_TRUE(restored.resolve(r.pending()[0].call_id, Value()).ok());
  Result resumed = restored.resume();
  ASSERT_TRUE(resumed.ok()) << describe(resumed);
  ASSERT_TRUE(resumed.value().is_string());
  EXPECT_TRUE(contains(resumed.value().as_string(), "budget exceeded"))
      << "a restore must not hand out a fresh budget: " << resumed.value().as_string();
}

TEST(CapabilitySnapshots, CallIdsKeepCountingAcrossARestore) {
  Sandbox original = make_sandbox();
  register_ok(original, Capability::sync("tick", returning(Value())));
  eval_ok(original, "tick(); tick()");
  uint32_t last_id = original.audit_log().back().call_id;
  Sandbox restored = Sandbox::restore(engine(), original.snapshot().unwrap()).unwrap();
  register_ok(restored, Capability::sync("tick", returning(Value())));
  eval_ok(restored, "tick()");
  ASSERT_EQ(restored.audit_log().size(), 1u);
  EXPECT_GT(restored.audit_log()[0].call_id, last_id) << "ids are never reused for another call";
}

TEST(CapabilitySnapshots, AnUnboundCapabilityFailsInJsSayingItIsNotRegistered) {
  Sandbox original = make_sandbox();
  register_ok(original, Capability::sync("alpha", returning(1)));
  Sandbox restored = Sandbox::restore(engine(), original.snapshot().unwrap()).unwrap();
  Value message = eval_ok(restored, "try { alpha(); 'no error' } catch (e) { e.message }");
  ASSERT_TRUE(message.is_string());
  EXPECT_TRUE(contains(message.as_string(), "alpha")) << message.as_string();
  EXPECT_TRUE(contains(message.as_string(), "not registered")) << message.as_string();
}

TEST(CapabilitySnapshots, ACapabilityMustBeRegisteredTheSameKindAsInTheSnapshot) {
  Sandbox original = make_sandbox();
  register_ok(original, Capability::sync("alpha", returning(1)));
  Sandbox restored = Sandbox::restore(engine(), original.snapshot().unwrap()).unwrap();
  Status status = restored.register_capability(Capability::external("alpha"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::InvalidInput);
  EXPECT_TRUE(contains(status.error().message, "alpha")) << status.error().message;
  EXPECT_TRUE(contains(status.error().message, "sync")) << status.error().message;
}

TEST(Capabilities, AResultNamesTheCallsTheProgramNeverAwaited) {
  Sandbox sandbox = make_sandbox();
  register_ok(sandbox, Capability::external("ask"));
  register_ok(sandbox, Capability::sync("now", returning(1)));
  Result r = sandbox.eval("ask('a'); ask('b'); now(); 'done'");
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.unsettled_calls, (std::vector<std::string>{"ask", "ask"}));
  Result awaited = sandbox.eval("now(); 'done'");
  ASSERT_TRUE(awaited.ok()) << describe(awaited);
  EXPECT_TRUE(awaited.unsettled_calls.empty());
}

}  // namespace
}  // namespace quickbox
