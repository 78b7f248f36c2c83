// Specification of fetch() on the command line: --allow-net, the manifest's "fetch" section with a
// secret from the environment, the audit log, and a fetch that waits for approval in one process
// and runs, once, in another. Every step runs the real `quickbox` binary against a real server.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "support/http_server.hh"
#include "support/scratch_dir.hh"
#include "support/snapshot_body.hh"
#include "support/subprocess.hh"
#include "support/text.hh"

namespace {

using quickbox::Value;
using namespace quickbox::test_support;

constexpr int kExitOk = 0, kExitJSException = 1, kExitUsage = 2, kExitSuspended = 10;
constexpr const char *kToken = "cli-secret-token-7f3a9";

Reply echo_auth(const SeenRequest &r) {
  return Reply{.body = r.method + " " + r.target + " auth=" + (r.has_header("authorization") ? "yes" : "no")};
}

class CliFetch : public ScratchDirTest {
 protected:
  CliFetch() : ScratchDirTest("quickbox-fetch") { setenv("QUICKBOX_CLI_TOKEN", kToken, 1); }
  std::string manifest(std::string_view json) { return write_file("caps.json", json); }
};

TEST_F(CliFetch, AllowNetGrantsFetchToTheListedHosts) {
  TestHttpServer server(echo_auth);
  std::string program = "(await fetch('" + server.url("/x") + "')).text()";
  Outcome r = run_quickbox({"eval", "--allow-net=127.0.0.1:" + std::to_string(server.port()), program});
  EXPECT_EQ(r.exit_code, kExitOk) << r;
  EXPECT_EQ(r.out, "GET /x auth=no\n");

  r = run_quickbox({"eval", "--allow-net=example.com,127.0.0.1:1", program});
  EXPECT_EQ(r.exit_code, kExitJSException) << r;
  EXPECT_TRUE(contains(r.err, "refused by the network policy: no allow rule matches it (allowed: 'example.com', "
                              "'127.0.0.1:1')"))
      << r;
  r = run_quickbox({"eval", "typeof fetch"});
  EXPECT_EQ(r.out, "undefined\n") << r;
  EXPECT_EQ(server.request_count(), 1u);
}

TEST_F(CliFetch, BadAllowNetListsAreUsageErrors) {
  for (std::string list : {"", "ftp://x", "a,,b", "x:99999"}) {
    Outcome r = run_quickbox({"eval", "--allow-net=" + list, "1"});
    EXPECT_EQ(r.exit_code, kExitUsage) << list << ": " << r;
    EXPECT_TRUE(contains(r.err, "--allow-net")) << r;
  }
}

TEST_F(CliFetch, TheManifestSectionAttachesASecretFromTheEnvironment) {
  TestHttpServer server([](const SeenRequest &r) { return Reply{.body = "token ok: " + std::string(r.header("authorization") == std::string("Bearer ") + kToken ? "yes" : "no")}; });
  std::string origin = server.origin();
  std::string caps = manifest(R"({"fetch": {"allow": [")" + origin + R"(/"],
    "secrets": [{"host": "127.0.0.1:)" + std::to_string(server.port()) +
                              R"(", "header": "Authorization", "prefix": "Bearer ", "value_env": "QUICKBOX_CLI_TOKEN"}]}})");
  Outcome r = run_quickbox({"eval", "--caps", caps, "--audit", "--json",
                            "const r = await fetch('" + origin + "/data'); console.log([...r.headers].length > 0); await r.text()"});
  ASSERT_EQ(r.exit_code, kExitOk) << r;
  Value out = parse_json_output(r);
  EXPECT_EQ(field(out, "value"), Value("token ok: yes"));
  const Value &audit = field(out, "audit");
  ASSERT_TRUE(audit.is_array() && audit.as_array().size() == 1) << r.out;
  const Value &request = field(audit.as_array()[0], "requests").as_array().at(0);
  EXPECT_EQ(field(request, "method"), Value("GET"));
  EXPECT_EQ(field(request, "url"), Value(origin + "/data"));
  EXPECT_EQ(field(request, "status"), Value(200));
  EXPECT_FALSE(contains(r.out + r.err, kToken)) << r;
}

TEST_F(CliFetch, ManifestMistakesAreUsageErrorsNamingTheField) {
  struct Case {
    std::string fetch, message;
  };
  const Case cases[] = {
      {R"({"allow": ["ftp://x"]})", "fetch.allow[0]: 'ftp://x' is not a rule"},
      {R"({"allow": [], "timeout_ms": 0})", "fetch.timeout_ms: expected a whole number from 1"},
      {R"({"allow": [], "secrets": [{"host": "x.com", "header": "A", "value": "sk-1"}]})",
       "fetch.secrets[0].value: a manifest does not hold secret values"},
      {R"({"allow": [], "secrets": [{"host": "x.com", "header": "A", "value_env": "QUICKBOX_NOT_SET_ANYWHERE"}]})",
       "fetch.secrets[0] (for 'x.com'): the environment variable QUICKBOX_NOT_SET_ANYWHERE is not set"},
      {R"({"allow": [], "proxy": "x"})", "unknown field 'proxy'"},
  };
  unsetenv("QUICKBOX_NOT_SET_ANYWHERE");
  for (const Case &c : cases) {
    std::string caps = manifest(R"({"fetch": )" + c.fetch + "}");
    Outcome r = run_quickbox({"eval", "--caps", caps, "1"});
    EXPECT_EQ(r.exit_code, kExitUsage) << c.fetch << ": " << r;
    EXPECT_TRUE(contains(r.err, c.message)) << c.fetch << ": " << r;
    EXPECT_FALSE(contains(r.err, "sk-1")) << r;
    EXPECT_FALSE(contains(r.err, "NetworkPolicy")) << "the manifest's words, not C++'s: " << r;
  }
}

TEST_F(CliFetch, AnApprovedFetchRunsOnceInAnotherProcess) {
  TestHttpServer server(echo_auth);
  std::string origin = server.origin();
  std::string caps = manifest(R"({"fetch": {"allow": [")" + origin + R"(/"], "approve_unsafe_methods": true,
    "secrets": [{"host": ")" + origin + R"(/", "header": "Authorization", "value_env": "QUICKBOX_CLI_TOKEN"}]}})");
  std::string state = path("state.qb");
  std::string program = write_file("post.js", "const r = await fetch('" + origin +
                                                  "/orders', {method: 'POST', body: 'one'});\n"
                                                  "console.log(await r.text());\n");
  Outcome r = run_quickbox({"run", "--caps", caps, "--suspend-to", state, program});
  ASSERT_EQ(r.exit_code, kExitSuspended) << r;
  EXPECT_TRUE(contains(r.out, "#1 fetch(")) << r;
  EXPECT_TRUE(contains(r.out, "POST")) << r;
  EXPECT_EQ(server.request_count(), 0u);

  // The state holds the program and its pending request, never the secret.
  std::ifstream in(state, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string body = snapshot_body(bytes);
  EXPECT_TRUE(contains(body, "/orders"));
  EXPECT_FALSE(contains(body, kToken));

  r = run_quickbox({"resume", state, "--caps", caps, "--approve", "1", "--consume"});
  ASSERT_EQ(r.exit_code, kExitOk) << r;
  EXPECT_EQ(r.out, "POST /orders auth=yes\n");
  EXPECT_EQ(server.request_count(), 1u);
  // Consumed: it cannot run a second time.
  r = run_quickbox({"resume", state, "--caps", caps, "--approve", "1"});
  EXPECT_NE(r.exit_code, kExitOk) << r;
  EXPECT_EQ(server.request_count(), 1u);
}

TEST_F(CliFetch, ResumingAProgramThatHadFetchNeedsTheNetworkAgain) {
  TestHttpServer server(echo_auth);
  std::string caps = manifest(R"({"capabilities": {"ask": {"handler": "ask"}}})");
  std::string state = path("state.qb");
  std::string allow = "--allow-net=127.0.0.1:" + std::to_string(server.port());
  Outcome r = run_quickbox({"eval", "--caps", caps, allow, "--suspend-to", state,
                            "await ask('go?'); (await fetch('" + server.url("/after") + "')).text()"});
  ASSERT_EQ(r.exit_code, kExitSuspended) << r;
  EXPECT_TRUE(contains(r.out, allow)) << "the printed resume command must keep --allow-net: " << r;
  r = run_quickbox({"resume", state, "--caps", caps, "--answer", "1=true"});
  EXPECT_EQ(r.exit_code, kExitUsage) << r;
  EXPECT_TRUE(contains(r.err, "does not declare: 'fetch'")) << r;
  r = run_quickbox({"resume", state, "--caps", caps, allow, "--answer", "1=true"});
  EXPECT_EQ(r.exit_code, kExitOk) << r;
  EXPECT_EQ(r.out, "GET /after auth=no\n");
}

}  // namespace
