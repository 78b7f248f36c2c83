// Specification: where fetch() may go. The allow/deny matrix, non-public addresses (by literal,
// by a name that resolves to one, after redirects), redirects that try to leave the policy, and
// secrets: attached only where they match, and never visible to the program, in the audit log, in
// errors, in console output or in a snapshot.
#include <gtest/gtest.h>

#include "network/policy.hh"
#include "support/http_server.hh"
#include "support/sandbox.hh"
#include "support/snapshot_body.hh"

namespace quickbox {
namespace {

using test_support::contains;
using test_support::eval_ok;
using test_support::make_sandbox;
using test_support::Reply;
using test_support::SeenRequest;
using test_support::TestHttpServer;

Reply ok(const SeenRequest &) { return Reply{.body = "ok"}; }

/// "ok", or the error message the fetch rejected with.
std::string fetch_outcome(Sandbox &sandbox, const std::string &url, const std::string &method = "GET") {
  Value v = eval_ok(sandbox, "try { const r = await fetch(" + to_json(Value(url)) + ", {method: " +
                                 to_json(Value(method)) + "}); await r.text() } catch (e) { e.name + ': ' + e.message }");
  return v.is_string() ? v.as_string() : to_json(v);
}

SandboxOptions policy(NetworkPolicy network) {
  SandboxOptions options;
  options.network = std::move(network);
  return options;
}

// ---- rules --------------------------------------------------------------------------------------

TEST(FetchPolicy, AllowDenyMatrix) {
  TestHttpServer server(ok);
  std::string p = std::to_string(server.port());
  std::string origin = "http://127.0.0.1:" + p;
  struct Case {
    std::vector<std::string> allow, deny;
    std::string method, path;
    bool allowed;
  };
  const Case cases[] = {
      {{origin + "/"}, {}, "GET", "/anything", true},
      {{origin + "/api"}, {}, "GET", "/api", true},
      {{origin + "/api"}, {}, "GET", "/api/v1/x", true},
      {{origin + "/api"}, {}, "GET", "/apix", false},            // prefixes match whole segments
      {{origin + "/api/"}, {}, "GET", "/api/../admin", false},    // dot segments are resolved first
      {{origin + "/api/"}, {}, "GET", "/api/%2e%2e/admin", false},  // ... encoded ones too
      {{origin + "/api/"}, {}, "GET", "/api/a%2fb", false},       // an encoded slash is unclear: refused
      {{"GET,HEAD " + origin + "/"}, {}, "GET", "/", true},
      {{"GET,HEAD " + origin + "/"}, {}, "POST", "/", false},
      {{"get " + origin + "/"}, {}, "GET", "/", true},            // methods compare case-insensitively
      {{"127.0.0.1"}, {}, "GET", "/", true},                      // no port: any port
      {{"127.0.0.1:" + p}, {}, "GET", "/", true},
      {{"127.0.0.1:1"}, {}, "GET", "/", false},
      {{"https://127.0.0.1:" + p + "/"}, {}, "GET", "/", false},   // scheme mismatch
      {{"http://127.0.0.1/"}, {}, "GET", "/", false},              // a scheme without port means port 80
      {{origin + "/"}, {origin + "/admin"}, "GET", "/admin/users", false},  // deny wins
      {{origin + "/"}, {origin + "/admin"}, "GET", "/administrator", true},
      {{origin + "/"}, {origin + "/admin"}, "GET", "/%61dmin", false},    // %61 is 'a'
      {{origin + "/"}, {origin + "/admin"}, "GET", "/x/../admin", false},
      {{origin + "/"}, {origin + "/admin"}, "GET", "/admin%2fx", false},  // unclear paths match deny rules
      {{origin + "/"}, {"POST " + origin + "/"}, "POST", "/", false},
      {{origin + "/"}, {"POST " + origin + "/"}, "GET", "/", true},
      {{origin + "/"}, {"127.0.0.1"}, "GET", "/", false},
      {{"*"}, {}, "GET", "/", false},  // "*" does not name a loopback address
      {{}, {}, "GET", "/", false},     // nothing allowed
  };
  for (const Case &c : cases) {
    Sandbox sandbox = make_sandbox(policy(NetworkPolicy{.allow = c.allow, .deny = c.deny}));
    size_t before = server.request_count();
    std::string outcome = fetch_outcome(sandbox, origin + c.path, c.method);
    std::string label = "allow [" + (c.allow.empty() ? "" : c.allow[0]) + "] deny [" + (c.deny.empty() ? "" : c.deny[0]) +
                        "] " + c.method + " " + c.path + " -> " + outcome;
    if (c.allowed) {
      EXPECT_EQ(outcome, "ok") << label;
      EXPECT_EQ(server.request_count(), before + 1) << label;
    } else {
      EXPECT_TRUE(contains(outcome, "TypeError: fetch to ") && contains(outcome, "refused by the network policy")) << label;
      EXPECT_EQ(server.request_count(), before) << "a refused request reached the server: " << label;
    }
  }
}

TEST(FetchPolicy, RulesNameHostsExactlyOrBySubdomain) {
  using internal::net::parse_rule;
  using internal::net::Rule;
  using internal::net::Target;
  auto rule = [](const std::string &text) { return std::get<Rule>(parse_rule(text)); };
  Target api{.scheme = "https", .host = "api.example.com", .port = 443, .path = "/v1/x"};
  Target apex{.scheme = "https", .host = "example.com", .port = 443, .path = "/"};
  Target evil{.scheme = "https", .host = "api.example.com.evil.net", .port = 443, .path = "/"};
  Target suffix{.scheme = "https", .host = "notexample.com", .port = 443, .path = "/"};
  EXPECT_TRUE(rule("*.example.com").matches("GET", api));
  EXPECT_FALSE(rule("*.example.com").matches("GET", apex));
  EXPECT_FALSE(rule("*.example.com").matches("GET", evil));
  EXPECT_FALSE(rule("*.example.com").matches("GET", suffix));
  EXPECT_TRUE(rule("API.Example.COM").matches("GET", api));  // host names compare case-insensitively
  EXPECT_TRUE(rule("https://api.example.com/v1").matches("GET", api));
  EXPECT_FALSE(rule("https://api.example.com:8443/").matches("GET", api));
  for (const char *bad : {"bücher.example", "", "ftp://x", "x:0", "x:99999", "*x.com", "a.*.com", "*.10.0.0.1", "GET, x", "[::1",
                          "https://x/?q", "BAD\"METHOD x"})
    EXPECT_TRUE(std::holds_alternative<std::string>(parse_rule(bad))) << bad;
}

TEST(FetchPolicy, ClassifiesNonPublicAddresses) {
  using internal::net::non_public_range;
  using internal::net::parse_address;
  for (const char *address : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0",
                              "100.64.0.1", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1",
                              "fd12::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::",
                              "ff02::1"})
    EXPECT_TRUE(non_public_range(*parse_address(address))) << address << " counts as public";
  for (const char *address : {"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"})
    EXPECT_FALSE(non_public_range(*parse_address(address))) << address << " counts as non-public";
}

// ---- non-public addresses --------------------------------------------------------------------------

TEST(FetchPolicy, ANameResolvingToLoopbackIsRefusedWhileLoopbackIsNotAllowed) {
  TestHttpServer server(ok);
  std::string p = std::to_string(server.port());
  // api.test resolves to 127.0.0.1 (as a rebinding DNS server would make a public name do).
  NetworkPolicy network{.allow = {"http://api.test:" + p + "/"}, .resolve = {"api.test:" + p + ":127.0.0.1"}};
  Sandbox refused = make_sandbox(policy(network));
  std::string outcome = fetch_outcome(refused, "http://api.test:" + p + "/");
  EXPECT_TRUE(contains(outcome, "the address 127.0.0.1 is loopback (api.test resolved to it)")) << outcome;
  EXPECT_EQ(server.request_count(), 0u);

  network.private_networks = {"127.0.0.0/8"};
  Sandbox allowed = make_sandbox(policy(network));
  EXPECT_EQ(fetch_outcome(allowed, "http://api.test:" + p + "/"), "ok");
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(FetchPolicy, LocalhostNeedsARuleNamingIt) {
  TestHttpServer server(ok);
  std::string url = server.url("/", "localhost");
  Sandbox any = make_sandbox(policy(NetworkPolicy{.allow = {"*"}}));
  EXPECT_TRUE(contains(fetch_outcome(any, url), "is loopback (localhost resolved to it)"));
  Sandbox named = make_sandbox(policy(NetworkPolicy{.allow = {"http://localhost:" + std::to_string(server.port()) + "/"}}));
  EXPECT_EQ(fetch_outcome(named, url), "ok");
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(FetchPolicy, AHostNameWithATrailingDotIsTheSameHost) {
  TestHttpServer server(ok);
  std::string p = std::to_string(server.port());
  Sandbox sandbox = make_sandbox(policy(NetworkPolicy{.allow = {"*"}, .deny = {"localhost"},
                                                      .private_networks = {"127.0.0.0/8"}}));
  EXPECT_TRUE(contains(fetch_outcome(sandbox, "http://LOCALHOST.:" + p + "/"), "matches the deny rule 'localhost'"));
  EXPECT_EQ(fetch_outcome(sandbox, "http://127.0.0.1:" + p + "/"), "ok");
}

TEST(FetchPolicy, OtherSpellingsOfLoopbackAreTheSameAddress) {
  TestHttpServer server(ok);
  std::string p = std::to_string(server.port());
  Sandbox sandbox = make_sandbox(policy(NetworkPolicy{.allow = {"*"}}));
  for (std::string host : {"2130706433", "0x7f.1", "127.1", "[::ffff:127.0.0.1]", "0.0.0.0"}) {
    std::string outcome = fetch_outcome(sandbox, "http://" + host + ":" + p + "/");
    EXPECT_TRUE(contains(outcome, "refused by the network policy")) << host << ": " << outcome;
  }
  EXPECT_EQ(server.request_count(), 0u);
}

// ---- redirects ---------------------------------------------------------------------------------------

TEST(FetchPolicy, RedirectsAreFollowedOnlyWithinThePolicy) {
  TestHttpServer outside(ok);
  TestHttpServer inside([&](const SeenRequest &r) {
    if (r.target == "/to-outside") return Reply{.status = 302, .reason = "Found", .headers = {{"Location", outside.url("/")}}};
    if (r.target == "/to-localhost")
      return Reply{.status = 307, .headers = {{"Location", outside.url("/", "localhost")}}};
    if (r.target == "/to-metadata")
      return Reply{.status = 301, .headers = {{"Location", "http://169.254.169.254/latest/meta-data/"}}};
    if (r.target == "/to-file") return Reply{.status = 302, .headers = {{"Location", "file:///etc/passwd"}}};
    if (r.target == "/relative") return Reply{.status = 303, .headers = {{"Location", "/final"}}};
    if (r.target == "/loop") return Reply{.status = 302, .headers = {{"Location", "/loop"}}};
    return Reply{.body = "arrived at " + r.method + " " + r.target};
  });
  Sandbox sandbox = make_sandbox(policy(NetworkPolicy{.allow = {inside.origin() + "/", "*"}, .max_redirects = 3}));
  for (const char *path : {"/to-outside", "/to-localhost", "/to-metadata"}) {
    std::string outcome = fetch_outcome(sandbox, inside.url(path));
    EXPECT_TRUE(contains(outcome, "refused by the network policy")) << path << ": " << outcome;
  }
  EXPECT_EQ(outside.request_count(), 0u) << "a redirect escaped the policy";
  EXPECT_TRUE(contains(fetch_outcome(sandbox, inside.url("/to-file")), "only http: and https:"));
  EXPECT_EQ(fetch_outcome(sandbox, inside.url("/relative"), "POST"), "arrived at GET /final");  // 303: GET
  EXPECT_TRUE(contains(fetch_outcome(sandbox, inside.url("/loop")), "redirected more than 3 times"));

  Value v = eval_ok(sandbox, "const r = await fetch('" + inside.url("/relative") + "');\n"
                             "const m = await fetch('" + inside.url("/relative") + "', {redirect: 'manual'});\n"
                             "let e; try { await fetch('" + inside.url("/relative") + "', {redirect: 'error'}); } catch (x) { e = x.name; }\n"
                             "[r.redirected, r.url, m.status, m.headers.get('location'), e]");
  EXPECT_EQ(v, Value(Value::Array{Value(true), Value(inside.url("/final")), Value(303), Value("/final"), Value("TypeError")}));
}

TEST(FetchPolicy, EveryHopIsInTheAuditLog) {
  TestHttpServer server([](const SeenRequest &r) {
    if (r.target == "/a") return Reply{.status = 302, .headers = {{"Location", "/b"}}};
    return Reply{.body = "end"};
  });
  Sandbox sandbox = make_sandbox(policy(NetworkPolicy{.allow = {server.origin() + "/"}}));
  EXPECT_EQ(fetch_outcome(sandbox, server.url("/a")), "end");
  const auto &requests = sandbox.audit_log().back().requests;
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].url, server.url("/a"));
  EXPECT_EQ(requests[0].status, 302);
  EXPECT_EQ(requests[1].url, server.url("/b"));
  EXPECT_EQ(requests[1].status, 200);
  EXPECT_EQ(requests[1].response_bytes, 3u);
}

// ---- secrets -------------------------------------------------------------------------------------------

constexpr const char *kToken = "sk-test-0123456789abcdef-SECRET";

/// Every place a secret could leak to: what the program returned and printed, the audit log, and
/// the snapshot (decompressed).
std::string everything_visible(Sandbox &sandbox, const Result &result) {
  std::string text = result.ok() ? to_json(result.value()) : result.failed() ? result.error().to_string() : "";
  for (const auto &line : result.console) text += "\n" + line.text;
  for (const auto &entry : sandbox.audit_log()) {
    text += "\n" + entry.detail;
    for (const auto &r : entry.requests) text += "\n" + r.method + " " + r.url + " " + r.error;
  }
  auto snapshot = sandbox.snapshot();
  EXPECT_TRUE(snapshot.ok());
  std::string body = snapshot.ok() ? test_support::snapshot_body(snapshot.value()) : "";
  EXPECT_FALSE(body.empty());
  text += body;
  return text;
}

TEST(FetchSecrets, AreAttachedForMatchingHostsAndNeverVisible) {
  setenv("QUICKBOX_TEST_TOKEN", kToken, 1);
  TestHttpServer other(ok);
  TestHttpServer api([&](const SeenRequest &r) {
    if (r.target.starts_with("/hop")) return Reply{.status = 302, .headers = {{"Location", other.url("/landed")}}};
    if (r.target.starts_with("/echo-location"))
      return Reply{.status = 302, .headers = {{"Location", other.url(std::string("/x?stolen=") + kToken)}}};
    if (r.target.starts_with("/error")) return Reply{.status = 500, .reason = std::string("Bad ") + kToken};
    return Reply{.headers = {{"X-Seen-Auth", r.header("authorization")}}, .body = "fine"};
  });
  NetworkPolicy network{.allow = {api.origin() + "/", other.origin() + "/"},
                        .secrets = {NetworkSecret{.match = "127.0.0.1:" + std::to_string(api.port()),
                                                  .header = "Authorization",
                                                  .prefix = "Bearer ",
                                                  .value_env = "QUICKBOX_TEST_TOKEN"},
                                    NetworkSecret{.match = api.origin() + "/",
                                                  .query = "api_key",
                                                  .value_env = "QUICKBOX_TEST_TOKEN"}}};
  Sandbox sandbox = make_sandbox(policy(network));
  Result result = sandbox.eval(
      "const r = await fetch('" + api.url("/data?q=1") + "', {headers: {Authorization: 'mine'}});\n"
      "const req = new Request('" + api.url("/data") + "');\n"
      "console.log('auth header seen by JS:', req.headers.get('authorization'), r.headers.get('x-seen-auth'), r.url);\n"
      "const hop = await fetch('" + api.url("/hop") + "');\n"
      "const echoed = await fetch('" + api.url("/echo-location") + "');\n"
      "const failed = await fetch('" + api.url("/error") + "');\n"
      "[await r.text(), r.url, hop.url, echoed.url, failed.statusText, [...r.headers].join()]");
  ASSERT_TRUE(result.ok()) << test_support::describe(result);

  // The matching server got both secrets, the program's own Authorization replaced.
  auto seen = api.requests();
  ASSERT_GE(seen.size(), 1u);
  EXPECT_EQ(seen[0].header("authorization"), std::string("Bearer ") + kToken);
  EXPECT_TRUE(contains(seen[0].target, std::string("api_key=") + kToken)) << seen[0].target;
  EXPECT_TRUE(contains(seen[0].target, "q=1")) << seen[0].target;
  // The other server, reached by redirects, got neither (not even the one echoed into Location).
  ASSERT_EQ(other.request_count(), 2u);
  for (const auto &r : other.requests()) EXPECT_FALSE(contains(r.text(), kToken)) << r.text();
  for (const auto &r : other.requests()) EXPECT_FALSE(r.has_header("authorization")) << r.text();

  std::string visible = everything_visible(sandbox, result);
  EXPECT_FALSE(contains(visible, kToken)) << "the secret leaked into: " << visible.substr(0, 4000);
  EXPECT_TRUE(contains(visible, "[redacted]"));  // the echoed Location and the reason phrase
}

TEST(FetchSecrets, AreNotSentOverPlainHttpToAnotherMachineUnlessTheRuleSaysHttp) {
  internal::net::Target remote_http{.scheme = "http", .host = "api.example.com", .port = 80, .path = "/"};
  internal::net::Target remote_https{.scheme = "https", .host = "api.example.com", .port = 443, .path = "/"};
  setenv("QUICKBOX_TEST_TOKEN", kToken, 1);
  auto compile = [](std::string match) {
    return std::get<std::shared_ptr<const internal::net::Policy>>(internal::net::Policy::compile(NetworkPolicy{
        .secrets = {NetworkSecret{.match = std::move(match), .header = "X-Key", .value_env = "QUICKBOX_TEST_TOKEN"}}}));
  };
  EXPECT_EQ(compile("api.example.com")->secrets_for(remote_https).size(), 1u);
  EXPECT_EQ(compile("api.example.com")->secrets_for(remote_http).size(), 0u);
  EXPECT_EQ(compile("http://api.example.com/")->secrets_for(remote_http).size(), 1u);
}

TEST(FetchSecrets, ProblemsAreReportedWithoutTheValue) {
  setenv("QUICKBOX_TEST_BAD", "line\nbreak-SECRETVALUE", 1);
  unsetenv("QUICKBOX_TEST_MISSING");
  auto refusal = [](NetworkSecret secret) {
    auto error = check_network_policy(NetworkPolicy{.secrets = {std::move(secret)}});
    return error ? error->message : std::string("accepted");
  };
  EXPECT_TRUE(contains(refusal({.match = "x.com", .header = "A", .value_env = "QUICKBOX_TEST_MISSING"}),
                       "the environment variable QUICKBOX_TEST_MISSING is not set"));
  std::string bad = refusal({.match = "x.com", .header = "A", .value_env = "QUICKBOX_TEST_BAD"});
  EXPECT_TRUE(contains(bad, "line break")) << bad;
  EXPECT_FALSE(contains(bad, "SECRETVALUE")) << bad;
  EXPECT_TRUE(contains(refusal({.match = "x.com", .header = "A", .query = "b", .value = "v"}), "exactly one of header"));
  EXPECT_TRUE(contains(refusal({.match = "x.com", .header = "A", .value_file = "/nonexistent/token"}), "cannot be read"));
}

}  // namespace
}  // namespace quickbox
