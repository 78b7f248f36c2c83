// Specification: the fetch() a program gets when the host grants a network policy — the WHATWG
// shapes (fetch, Request, Response, Headers, AbortController) against a real server on loopback,
// and nothing at all without a policy.
#include <gtest/gtest.h>

#include "support/http_server.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using test_support::eval_error;
using test_support::eval_ok;
using test_support::make_sandbox;
using test_support::Reply;
using test_support::SeenRequest;
using test_support::TestHttpServer;

SandboxOptions with_network(const TestHttpServer &server) {
  SandboxOptions options;
  options.network = NetworkPolicy{.allow = {server.origin() + "/"}};
  return options;
}

/// Answers every request with what it received, as JSON.
Reply echo(const SeenRequest &r) {
  Value::Object headers;  // repeated names combined, as the standard combines them
  for (const auto &[k, v] : r.headers) {
    if (k == "host" || k == "accept-encoding") continue;
    auto same = std::find_if(headers.begin(), headers.end(), [&](const auto &h) { return h.first == k; });
    if (same == headers.end()) headers.emplace_back(k, Value(v));
    else same->second = Value(same->second.as_string() + ", " + v);
  }
  Value body = Value::Object{{"method", Value(r.method)}, {"target", Value(r.target)},
                             {"headers", Value(std::move(headers))}, {"body", Value(r.body)}};
  return Reply{.headers = {{"Content-Type", "application/json"}, {"X-Reply", "yes"}}, .body = to_json(body)};
}

TEST(FetchApi, DoesNotExistWithoutANetworkPolicy) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "[typeof fetch, typeof Request, typeof Response, typeof Headers].join()"),
            Value("undefined,undefined,undefined,undefined"));
}

TEST(FetchApi, ExistsWithAPolicy) {
  TestHttpServer server(echo);
  Sandbox sandbox = make_sandbox(with_network(server));
  EXPECT_EQ(eval_ok(sandbox, "[typeof fetch, typeof Request, typeof Response, typeof Headers, "
                             "typeof AbortController, typeof AbortSignal].join()"),
            Value("function,function,function,function,function,function"));
  // Like a built-in: not enumerable on globalThis.
  EXPECT_EQ(eval_ok(sandbox, "Object.keys(globalThis).includes('fetch')"), Value(false));
}

TEST(FetchApi, GetsTextJsonStatusAndHeaders) {
  TestHttpServer server(echo);
  Sandbox sandbox = make_sandbox(with_network(server));
  Value v = eval_ok(sandbox, "const r = await fetch('" + server.url("/hello?x=1") +
                                 "');\n"
                                 "const body = await r.json();\n"
                                 "[r.status, r.ok, r.statusText, r.headers.get('x-reply'), r.headers.get('Content-Type'),\n"
                                 " body.method, body.target, r.url, r.redirected, r.type, r.bodyUsed]");
  EXPECT_EQ(v, Value(Value::Array{Value(200), Value(true), Value("OK"), Value("yes"), Value("application/json"),
                                  Value("GET"), Value("/hello?x=1"), Value(server.url("/hello?x=1")), Value(false),
                                  Value("basic"), Value(true)}));
}

TEST(FetchApi, SendsMethodHeadersAndBody) {
  TestHttpServer server(echo);
  Sandbox sandbox = make_sandbox(with_network(server));
  Value v = eval_ok(sandbox, "const r = await fetch('" + server.url("/items") +
                                 "', {method: 'post', headers: {'X-Trace': 'abc', 'Content-Type': 'application/json'},\n"
                                 "  body: JSON.stringify({name: 'héllo'})});\n"
                                 "const seen = await r.json();\n"
                                 "[seen.method, seen.headers['x-trace'], seen.headers['content-type'], seen.body]");
  EXPECT_EQ(v, Value(Value::Array{Value("POST"), Value("abc"), Value("application/json"),
                                  Value("{\"name\":\"héllo\"}")}));
  // A string body without a type is text/plain, as the standard says; bytes go as they are.
  v = eval_ok(sandbox, "const a = await (await fetch('" + server.url("/") +
                           "', {method: 'PUT', body: 'plain'})).json();\n"
                           "const b = await (await fetch('" +
                           server.url("/") +
                           "', {method: 'PUT', body: new Uint8Array([104, 105])})).json();\n"
                           "[a.headers['content-type'], b.headers['content-type'] ?? null, b.body]");
  EXPECT_EQ(v, Value(Value::Array{Value("text/plain;charset=UTF-8"), Value(nullptr), Value("hi")}));
}

TEST(FetchApi, ReadsBinaryBodiesAsArrayBufferAndBytes) {
  TestHttpServer server([](const SeenRequest &) { return Reply{.body = std::string("\x00\xff\x10", 3)}; });
  Sandbox sandbox = make_sandbox(with_network(server));
  Value v = eval_ok(sandbox, "const r = await fetch('" + server.url("/") +
                                 "');\n"
                                 "const copy = r.clone();\n"
                                 "const buffer = await r.arrayBuffer();\n"
                                 "const bytes = await copy.bytes();\n"
                                 "let again; try { await r.text(); } catch (e) { again = e.name; }\n"
                                 "[buffer instanceof ArrayBuffer, [...new Uint8Array(buffer)], [...bytes], again]");
  EXPECT_EQ(v, Value(Value::Array{Value(true), Value(Value::Array{Value(0), Value(255), Value(16)}),
                                  Value(Value::Array{Value(0), Value(255), Value(16)}), Value("TypeError")}));
}

TEST(FetchApi, DecodesInvalidUtf8WithReplacementCharacters) {
  TestHttpServer server([](const SeenRequest &) { return Reply{.body = "a\xff" "b"}; });
  Sandbox sandbox = make_sandbox(with_network(server));
  EXPECT_EQ(eval_ok(sandbox, "(await fetch('" + server.url("/") + "')).text()"), Value("a\xef\xbf\xbd" "b"));
}

TEST(FetchApi, RequestObjectsAndHeadersBehaveAsTheStandardSays) {
  TestHttpServer server(echo);
  Sandbox sandbox = make_sandbox(with_network(server));
  Value v = eval_ok(sandbox,
                    "const h = new Headers([['B', '2'], ['a', '1']]);\n"
                    "h.append('b', '3');\n"
                    "const req = new Request('" + server.url("/r") + "', {method: 'DELETE', headers: h});\n"
                    "const errors = [];\n"
                    "for (const bad of [() => new Headers({'bad name': 'x'}), () => new Request('/relative'),\n"
                    "                   () => new Request('" + server.url("/") + "', {body: 'x'}),\n"
                    "                   () => new Response('x', {status: 99})])\n"
                    "  try { bad(); errors.push('none'); } catch (e) { errors.push(e.name); }\n"
                    "const seen = await (await fetch(req)).json();\n"
                    "[[...h].join('|'), h.get('B'), req.method, seen.method, seen.headers.b, errors.join()]");
  EXPECT_EQ(v, Value(Value::Array{Value("a,1|b,2, 3"), Value("2, 3"), Value("DELETE"), Value("DELETE"),
                                  Value("2, 3"), Value("TypeError,TypeError,TypeError,RangeError")}));
}

TEST(FetchApi, ResponseHeadersFromTheNetworkAreImmutable) {
  TestHttpServer server(echo);
  Sandbox sandbox = make_sandbox(with_network(server));
  EXPECT_EQ(eval_ok(sandbox, "const r = await fetch('" + server.url("/") +
                                 "');\n"
                                 "try { r.headers.set('x', 'y'); 'mutable' } catch (e) { e.name }"),
            Value("TypeError"));
}

TEST(FetchApi, ResponseStaticsWork) {
  Sandbox sandbox = make_sandbox(SandboxOptions{.network = NetworkPolicy{}});
  Value v = eval_ok(sandbox,
                    "const j = Response.json({a: 1}, {status: 201});\n"
                    "[j.status, j.headers.get('content-type'), await j.text(), Response.error().type,\n"
                    " Response.redirect('http://example.com/', 301).headers.get('location')]");
  EXPECT_EQ(v, Value(Value::Array{Value(201), Value("application/json"), Value("{\"a\":1}"), Value("error"),
                                  Value("http://example.com/")}));
}

TEST(FetchApi, AnAbortedSignalRejectsWithoutARequest) {
  TestHttpServer server(echo);
  Sandbox sandbox = make_sandbox(with_network(server));
  EXPECT_EQ(eval_ok(sandbox, "const c = new AbortController(); c.abort();\n"
                             "try { await fetch('" + server.url("/") + "', {signal: c.signal}); 'fetched' }\n"
                             "catch (e) { e.name }"),
            Value("AbortError"));
  EXPECT_EQ(server.request_count(), 0u);
}

TEST(FetchApi, AbortingWhileTheRequestRunsRejectsAtOnce) {
  TestHttpServer server([](const SeenRequest &) { return Reply{.body = "late", .delay = std::chrono::seconds(5)}; });
  Sandbox sandbox = make_sandbox(with_network(server));
  // The program aborts from a then-callback once the request is on its way: another fetch to the
  // same server that fails fast (a refused path) is what lets it run while the slow one waits.
  auto started = std::chrono::steady_clock::now();
  Value v = eval_ok(sandbox, "const c = new AbortController();\n"
                             "const slow = fetch('" + server.url("/slow") + "', {signal: c.signal});\n"
                             "await fetch('http://not-allowed.example/').catch(() => c.abort(new Error('stop')));\n"
                             "try { await slow; 'fetched' } catch (e) { e.message }");
  EXPECT_EQ(v, Value("stop"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(4));
}

TEST(FetchApi, ErrorsAreTypeErrorsNamingTheUrl) {
  TestHttpServer server(echo);
  Sandbox sandbox = make_sandbox(with_network(server));
  Value v = eval_ok(sandbox, "const out = [];\n"
                             "for (const url of ['ftp://127.0.0.1/', 'http://user:pw@127.0.0.1/', 'not a url'])\n"
                             "  try { await fetch(url); out.push('fetched'); } catch (e) { out.push(e.name + ': ' + e.message); }\n"
                             "out");
  ASSERT_TRUE(v.is_array());
  EXPECT_TRUE(test_support::contains(v.as_array()[0].as_string(), "TypeError: fetch: 'ftp://127.0.0.1/'"))
      << to_json(v);
  EXPECT_TRUE(test_support::contains(v.as_array()[1].as_string(), "may not contain credentials")) << to_json(v);
  EXPECT_TRUE(test_support::contains(v.as_array()[2].as_string(), "TypeError: Invalid URL")) << to_json(v);
}

TEST(FetchApi, TheAuditLogRecordsEachRequest) {
  TestHttpServer server(echo);
  Sandbox sandbox = make_sandbox(with_network(server));
  eval_ok(sandbox, "await (await fetch('" + server.url("/a") + "', {method: 'POST', body: 'four'})).text()");
  const auto &log = sandbox.audit_log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].capability, "fetch");
  EXPECT_EQ(log[0].outcome, CallOutcome::Ok);
  ASSERT_EQ(log[0].requests.size(), 1u);
  const NetworkRequest &r = log[0].requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, server.url("/a"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.request_bytes, 4u);
  EXPECT_GT(r.response_bytes, 10u);
  EXPECT_GT(r.duration.count(), 0);
  EXPECT_EQ(r.error, "");
}

TEST(FetchApi, ResetKeepsFetch) {
  TestHttpServer server(echo);
  Sandbox sandbox = make_sandbox(with_network(server));
  ASSERT_TRUE(sandbox.reset().ok());
  EXPECT_EQ(eval_ok(sandbox, "(await fetch('" + server.url("/") + "')).status"), Value(200));
}

TEST(FetchApi, AnInvalidPolicyIsRefusedNamingTheField) {
  SandboxOptions options;
  options.network = NetworkPolicy{.allow = {"ftp://example.com"}};
  auto sandbox = Sandbox::create(test_support::engine(), options);
  ASSERT_FALSE(sandbox.ok());
  EXPECT_EQ(sandbox.error().kind, ErrorKind::InvalidInput);
  EXPECT_TRUE(test_support::contains(sandbox.error().message, "NetworkPolicy::allow[0]")) << sandbox.error().message;
}

}  // namespace
}  // namespace quickbox
