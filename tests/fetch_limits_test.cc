// Specification: how much fetch() may do — size caps, timeouts (a slow server, a slow drip),
// the in-flight cap, the per-evaluation budget, many sandboxes at once — and fetches that wait
// for approval across snapshots; then https against a real TLS server with a CA the test makes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/http_server.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace std::chrono_literals;
using test_support::contains;
using test_support::describe;
using test_support::eval_ok;
using test_support::make_sandbox;
using test_support::Reply;
using test_support::SeenRequest;
using test_support::TestHttpServer;

SandboxOptions allowing(const TestHttpServer &server, NetworkPolicy network = {}) {
  network.allow.push_back(server.origin() + "/");
  SandboxOptions options;
  options.network = std::move(network);
  return options;
}

std::string outcome_of(Sandbox &sandbox, const std::string &program) {
  Value v = eval_ok(sandbox, "try { " + program + " } catch (e) { e.name + ': ' + e.message }");
  return v.is_string() ? v.as_string() : to_json(v);
}

using Clock = std::chrono::steady_clock;

// ---- sizes ---------------------------------------------------------------------------------------

TEST(FetchLimits, AResponseLargerThanTheCapIsRefused) {
  for (bool with_length : {true, false}) {
    TestHttpServer server([&](const SeenRequest &) { return Reply{.body = std::string(5000, 'x'), .no_length = !with_length}; });
    Sandbox sandbox = make_sandbox(allowing(server, NetworkPolicy{.max_response_bytes = 1000}));
    std::string outcome = outcome_of(sandbox, "await (await fetch('" + server.url("/") + "')).text()");
    EXPECT_TRUE(contains(outcome, "larger than the network policy's max_response_bytes of 1000 bytes"))
        << (with_length ? "with" : "without") << " Content-Length: " << outcome;
  }
}

TEST(FetchLimits, ARequestBodyLargerThanTheCapIsNeverSent) {
  TestHttpServer server([](const SeenRequest &) { return Reply{}; });
  Sandbox sandbox = make_sandbox(allowing(server, NetworkPolicy{.max_request_bytes = 10}));
  std::string outcome = outcome_of(sandbox, "await fetch('" + server.url("/") + "', {method: 'POST', body: 'x'.repeat(11)})");
  EXPECT_TRUE(contains(outcome, "TypeError: fetch: the request body is 11 bytes, more than the network policy's "
                                "max_request_bytes of 10"))
      << outcome;
  EXPECT_EQ(server.request_count(), 0u);
}

// ---- time ----------------------------------------------------------------------------------------

TEST(FetchLimits, ASlowServerTimesOut) {
  TestHttpServer server([](const SeenRequest &) { return Reply{.body = "late", .delay = 5s}; });
  Sandbox sandbox = make_sandbox(allowing(server, NetworkPolicy{.timeout = 300ms}));
  auto started = Clock::now();
  std::string outcome = outcome_of(sandbox, "await fetch('" + server.url("/") + "')");
  EXPECT_TRUE(contains(outcome, "timed out after 300 ms (the network policy's timeout)")) << outcome;
  EXPECT_LT(Clock::now() - started, 3s);
}

TEST(FetchLimits, ASlowDripTimesOutAsAWhole) {
  // One byte every 20 ms keeps the connection busy for 4 s; the timeout covers the whole request.
  TestHttpServer server([](const SeenRequest &) {
    return Reply{.body = std::string(200, 'x'), .drip_bytes = 1, .drip_interval = 20ms};
  });
  Sandbox sandbox = make_sandbox(allowing(server, NetworkPolicy{.timeout = 500ms}));
  auto started = Clock::now();
  std::string outcome = outcome_of(sandbox, "await (await fetch('" + server.url("/") + "')).text()");
  EXPECT_TRUE(contains(outcome, "timed out after 500 ms")) << outcome;
  EXPECT_LT(Clock::now() - started, 3s);
}

TEST(FetchLimits, TheWallClockEndsAnEvaluationWaitingOnTheNetwork) {
  TestHttpServer server([](const SeenRequest &) { return Reply{.body = "late", .delay = 5s}; });
  SandboxOptions options = allowing(server);
  options.limits.wall_time = 300ms;
  Sandbox sandbox = make_sandbox(options);
  Result r = sandbox.eval("await fetch('" + server.url("/slow") + "')");
  ASSERT_TRUE(r.failed()) << describe(r);
  EXPECT_EQ(r.error().kind, ErrorKind::Timeout);
  const AuditEntry &entry = sandbox.audit_log().back();
  EXPECT_EQ(entry.outcome, CallOutcome::Timeout);
  ASSERT_EQ(entry.requests.size(), 1u);  // the request is on record although it never answered
  EXPECT_EQ(entry.requests[0].url, server.url("/slow"));
  EXPECT_EQ(entry.requests[0].status, 0);
}

TEST(FetchLimits, AFetchTheProgramLeavesBehindIsCancelledAndRecorded) {
  TestHttpServer server([](const SeenRequest &r) {
    return r.target == "/fast" ? Reply{.body = "fast"} : Reply{.body = "late", .delay = 5s};
  });
  Sandbox sandbox = make_sandbox(allowing(server));
  auto started = Clock::now();
  // The slow request is on its way when the program ends without awaiting it.
  EXPECT_EQ(eval_ok(sandbox, "fetch('" + server.url("/forgotten") + "'); (await fetch('" + server.url("/fast") +
                                 "')).text()"),
            Value("fast"));
  EXPECT_LT(Clock::now() - started, 2s);
  const AuditEntry &entry = sandbox.audit_log().front();
  EXPECT_EQ(entry.outcome, CallOutcome::Cancelled);
  ASSERT_EQ(entry.requests.size(), 1u);
  EXPECT_EQ(entry.requests[0].url, server.url("/forgotten"));
  EXPECT_EQ(entry.requests[0].status, 0);
}

TEST(FetchLimits, AnAbortedFetchStopsItsTransferAndFreesItsPlaceAtOnce) {
  TestHttpServer server([](const SeenRequest &r) {
    return r.target == "/fast" ? Reply{.body = "fast"} : Reply{.body = "late", .delay = 5s};
  });
  // One request at a time: the fast one can only start once the aborted one is gone.
  Sandbox sandbox = make_sandbox(allowing(server, NetworkPolicy{.max_in_flight = 1}));
  auto started = Clock::now();
  Value v = eval_ok(sandbox, "const c = new AbortController();\n"
                             "const slow = fetch('" + server.url("/slow") + "', {signal: c.signal});\n"
                             "setTimeout(() => c.abort(), 200);\n"
                             "const reason = await slow.then(() => 'fetched', (e) => e.name);\n"
                             "[reason, await (await fetch('" + server.url("/fast") + "')).text()]");
  EXPECT_EQ(v, Value(Value::Array{Value("AbortError"), Value("fast")}));
  EXPECT_LT(Clock::now() - started, 3s) << "the fast request waited for the aborted one";
  const auto &log = sandbox.audit_log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].outcome, CallOutcome::Cancelled);
  EXPECT_TRUE(contains(log[0].detail, "AbortSignal aborted")) << log[0].detail;
  ASSERT_EQ(log[0].requests.size(), 1u);
  EXPECT_EQ(log[0].requests[0].url, server.url("/slow"));
  EXPECT_EQ(log[0].requests[0].status, 0);
  EXPECT_EQ(log[1].outcome, CallOutcome::Ok);
}

// ---- concurrency and budgets ------------------------------------------------------------------------

TEST(FetchLimits, RequestsRunConcurrentlyWithinTheInFlightCap) {
  TestHttpServer server([](const SeenRequest &) { return Reply{.body = "ok", .delay = 200ms}; });
  {
    Sandbox sandbox = make_sandbox(allowing(server, NetworkPolicy{.max_in_flight = 2}));
    auto started = Clock::now();
    EXPECT_EQ(eval_ok(sandbox, "(await Promise.all(Array.from({length: 6}, () => fetch('" + server.url("/") +
                                   "').then(r => r.text())))).join('')"),
              Value("okokokokokok"));
    auto took = Clock::now() - started;
    EXPECT_EQ(server.peak_concurrency(), 2);
    EXPECT_GE(took, 580ms);  // three rounds of two
  }
  {
    // Without a tight cap they overlap: the thread driving the sandbox never waits on one of them.
    TestHttpServer fresh([](const SeenRequest &) { return Reply{.body = "ok", .delay = 300ms}; });
    Sandbox sandbox = make_sandbox(allowing(fresh));
    auto started = Clock::now();
    eval_ok(sandbox, "await Promise.all(Array.from({length: 5}, () => fetch('" + fresh.url("/") + "')))");
    EXPECT_LT(Clock::now() - started, 1200ms);
    EXPECT_EQ(fresh.peak_concurrency(), 5);
  }
}

TEST(FetchLimits, TheBudgetCapsFetchesPerEvaluation) {
  TestHttpServer server([](const SeenRequest &) { return Reply{.body = "ok"}; });
  Sandbox sandbox = make_sandbox(allowing(server, NetworkPolicy{.max_requests_per_eval = 3}));
  std::string outcome = outcome_of(sandbox, "for (let i = 0; i < 4; i++) await fetch('" + server.url("/") + "'); 'all'");
  EXPECT_TRUE(contains(outcome, "budget exceeded: 'fetch' allows 3 calls per evaluation")) << outcome;
  EXPECT_EQ(server.request_count(), 3u);
  // The budget is per evaluation.
  EXPECT_EQ(eval_ok(sandbox, "(await fetch('" + server.url("/") + "')).status"), Value(200));
}

TEST(FetchLimits, AHundredConcurrentFetchesFromTenSandboxes) {
  TestHttpServer server([](const SeenRequest &r) { return Reply{.body = r.target, .delay = 200ms}; });
  std::vector<std::thread> threads;
  std::vector<Value> results(10);
  auto started = Clock::now();
  for (int t = 0; t < 10; t++) {
    threads.emplace_back([&, t] {
      Sandbox sandbox = make_sandbox(allowing(server, NetworkPolicy{.max_in_flight = 10}));
      results[t] = eval_ok(sandbox, "(await Promise.all(Array.from({length: 10}, (_, i) => fetch('" +
                                        server.url("/") + "' + " + std::to_string(t) +
                                        " + '-' + i).then(r => r.text())))).join(',')");
    });
  }
  for (auto &thread : threads) thread.join();
  auto took = Clock::now() - started;
  EXPECT_EQ(server.request_count(), 100u);
  for (int t = 0; t < 10; t++) {
    std::string expected;
    for (int i = 0; i < 10; i++) expected += (i ? ",/" : "/") + std::to_string(t) + "-" + std::to_string(i);
    EXPECT_EQ(results[t], Value(expected));
  }
  // 100 requests of 200 ms each: only concurrency gets them done in a few seconds.
  EXPECT_LT(took, 5s);
  EXPECT_GE(server.peak_concurrency(), 20);
}

// ---- approval and snapshots ---------------------------------------------------------------------------

TEST(FetchApproval, AnUnsafeRequestWaitsForApproval) {
  TestHttpServer server([](const SeenRequest &r) { return Reply{.body = r.method + " " + r.body}; });
  Sandbox sandbox = make_sandbox(allowing(server, NetworkPolicy{.approve_unsafe_methods = true}));
  // A GET goes at once.
  EXPECT_EQ(eval_ok(sandbox, "(await fetch('" + server.url("/") + "')).text()"), Value("GET "));
  Result r = sandbox.eval("(await fetch('" + server.url("/") + "', {method: 'POST', body: 'hi'})).text()");
  ASSERT_TRUE(r.is_suspended()) << describe(r);
  ASSERT_EQ(r.pending().size(), 1u);
  EXPECT_TRUE(r.pending()[0].needs_approval);
  EXPECT_EQ(r.pending()[0].capability, "fetch");
  EXPECT_EQ(*r.pending()[0].args[0].find("method"), Value("POST"));
  EXPECT_EQ(server.request_count(), 1u);
  ASSERT_TRUE(sandbox.approve(r.pending()[0].call_id).ok());
  Result done = sandbox.resume();
  ASSERT_TRUE(done.ok()) << describe(done);
  EXPECT_EQ(done.value(), Value("POST hi"));
  EXPECT_EQ(server.request_count(), 2u);

  Result again = sandbox.eval("try { await fetch('" + server.url("/") + "', {method: 'DELETE'}) } catch (e) { e.message }");
  ASSERT_TRUE(again.is_suspended());
  ASSERT_TRUE(sandbox.deny(again.pending()[0].call_id, "not today").ok());
  Result denied = sandbox.resume();
  ASSERT_TRUE(denied.ok()) << describe(denied);
  EXPECT_EQ(denied.value(), Value("the call to 'fetch' was denied: not today"));
  EXPECT_EQ(server.request_count(), 2u);
}

TEST(FetchApproval, ApproveRulesPickTheRequests) {
  TestHttpServer server([](const SeenRequest &) { return Reply{.body = "ok"}; });
  Sandbox sandbox = make_sandbox(allowing(server, NetworkPolicy{.approve = {server.origin() + "/admin"}}));
  EXPECT_EQ(eval_ok(sandbox, "(await fetch('" + server.url("/public") + "')).text()"), Value("ok"));
  EXPECT_TRUE(sandbox.eval("await fetch('" + server.url("/admin/x") + "')").is_suspended());
}

TEST(FetchApproval, APendingFetchRunsOnceAfterRestoreAndAFinishedOneNeverAgain) {
  TestHttpServer server([](const SeenRequest &r) { return Reply{.body = "created " + r.body}; });
  SandboxOptions options = allowing(server, NetworkPolicy{.approve_unsafe_methods = true});
  const std::vector<uint8_t> key(32, 7);
  std::vector<uint8_t> paused;
  {
    Sandbox first = make_sandbox(options);
    Result r = first.eval("globalThis.answer = await (await fetch('" + server.url("/items") +
                          "', {method: 'POST', body: 'x'})).text(); answer");
    ASSERT_TRUE(r.is_suspended()) << describe(r);
    paused = first.snapshot(SnapshotOptions{.hmac_key = key}).unwrap();
  }
  EXPECT_EQ(server.request_count(), 0u);
  std::vector<uint8_t> finished;
  {
    Sandbox second = Sandbox::restore(test_support::engine(), paused, options, RestoreOptions{.hmac_key = key}).unwrap();
    auto pending = second.pending_calls();
    ASSERT_EQ(pending.size(), 1u);
    ASSERT_TRUE(second.approve(pending[0].call_id).ok());
    Result done = second.resume();
    ASSERT_TRUE(done.ok()) << describe(done);
    EXPECT_EQ(done.value(), Value("created x"));
    finished = second.snapshot(SnapshotOptions{.hmac_key = key}).unwrap();
  }
  EXPECT_EQ(server.request_count(), 1u);
  // The response lives in the program's memory: restoring the finished state makes no request.
  Sandbox third = Sandbox::restore(test_support::engine(), finished, options, RestoreOptions{.hmac_key = key}).unwrap();
  EXPECT_EQ(eval_ok(third, "answer"), Value("created x"));
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(FetchApproval, AnUnsignedSnapshotCannotCarryAnApproval) {
  TestHttpServer server([](const SeenRequest &) { return Reply{.body = "ok"}; });
  SandboxOptions options = allowing(server, NetworkPolicy{.approve_unsafe_methods = true});
  Sandbox first = make_sandbox(options);
  Result r = first.eval("await fetch('" + server.url("/") + "', {method: 'POST'})");
  ASSERT_TRUE(r.is_suspended());
  ASSERT_TRUE(first.approve(r.pending()[0].call_id).ok());
  auto bytes = first.snapshot().unwrap();  // approved, not yet run, unsigned
  Sandbox second = Sandbox::restore(test_support::engine(), bytes, options).unwrap();
  auto pending = second.pending_calls();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_TRUE(pending[0].needs_approval);
  EXPECT_EQ(server.request_count(), 0u);
}

TEST(FetchApproval, ARestoredFetchNeedsTheNetworkGrantedAgain) {
  TestHttpServer server([](const SeenRequest &) { return Reply{.body = "ok"}; });
  SandboxOptions options = allowing(server, NetworkPolicy{.approve_unsafe_methods = true});
  Sandbox first = make_sandbox(options);
  Result r = first.eval("try { await fetch('" + server.url("/") + "', {method: 'POST'}) } catch (e) { e.message }");
  ASSERT_TRUE(r.is_suspended());
  auto bytes = first.snapshot().unwrap();
  Sandbox offline = Sandbox::restore(test_support::engine(), bytes).unwrap();  // no network
  ASSERT_EQ(offline.pending_calls().size(), 1u);
  EXPECT_FALSE(offline.approve(offline.pending_calls()[0].call_id).ok());
  ASSERT_TRUE(offline.deny(offline.pending_calls()[0].call_id).ok());
  Result denied = offline.resume();
  ASSERT_TRUE(denied.ok()) << describe(denied);
  EXPECT_EQ(server.request_count(), 0u);
}

// ---- https ------------------------------------------------------------------------------------------

/// A certificate authority and a certificate for localhost/127.0.0.1 it signed, made with the
/// openssl command line in a directory of their own.
class TestCertificates {
 public:
  TestCertificates() {
    dir_ = std::filesystem::temp_directory_path() / ("quickbox-tls-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "ext.cnf") << "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                       "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n";
    std::string d = dir_.string();
    std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
    run("openssl req -x509" + ec + "-keyout " + d + "/ca.key -out " + d + "/ca.pem -days 2 -subj '/CN=Quickbox Test CA'");
    run("openssl req" + ec + "-keyout " + d + "/server.key -out " + d + "/server.csr -subj '/CN=localhost'");
    run("openssl x509 -req -in " + d + "/server.csr -CA " + d + "/ca.pem -CAkey " + d + "/ca.key -CAcreateserial -out " +
        d + "/server.pem -days 2 -extfile " + d + "/ext.cnf");
  }
  ~TestCertificates() { std::filesystem::remove_all(dir_); }
  std::string ca() const { return (dir_ / "ca.pem").string(); }
  test_support::TlsFiles server() const {
    return {.certificate = (dir_ / "server.pem").string(), .key = (dir_ / "server.key").string()};
  }

 private:
  static void run(const std::string &command) {
    ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command;
  }
  std::filesystem::path dir_;
};

TEST(FetchTls, HttpsWorksWithTheTrustedAuthorityAndFailsWithout) {
  TestCertificates certificates;
  auto files = certificates.server();
  TestHttpServer server([](const SeenRequest &r) { return Reply{.body = "secure " + r.header("authorization")}; },
                        &files);
  setenv("QUICKBOX_TLS_TOKEN", "tls-secret-token", 1);
  std::string origin = server.origin("localhost");
  NetworkPolicy network{.allow = {origin + "/"},
                        .secrets = {NetworkSecret{.match = "localhost", .header = "Authorization",
                                                  .value_env = "QUICKBOX_TLS_TOKEN"}},
                        .ca_file = certificates.ca()};
  SandboxOptions options;
  options.network = network;
  Sandbox trusted = make_sandbox(options);
  EXPECT_EQ(eval_ok(trusted, "(await fetch('" + origin + "/')).text()"), Value("secure tls-secret-token"));

  network.ca_file.clear();  // the system's authorities do not know the test CA
  options.network = network;
  Sandbox untrusted = make_sandbox(options);
  std::string outcome = outcome_of(untrusted, "await fetch('" + origin + "/')");
  EXPECT_TRUE(contains(outcome, "TypeError: fetch to " + origin + "/ failed:")) << outcome;
  EXPECT_TRUE(contains(outcome, "certificate")) << outcome;
  EXPECT_EQ(server.request_count(), 1u);
}

}  // namespace
}  // namespace quickbox
