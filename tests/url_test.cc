// Specifications of URL and URLSearchParams (docs/web-globals.md): the WHATWG URL Standard as ada,
// compiled into the guest, implements it — IDNA hosts, IPv4 and IPv6, percent-encoding, relative
// resolution, setters, the live link between a URL and its searchParams — plus what the sandbox
// adds: hostile input ends in a catchable error within the memory limit, the globals resist
// tampering, and fetch() takes a URL.
#include <gtest/gtest.h>

#include <string>

#include "quickbox/quickbox.hh"
#include "support/http_server.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace test_support;

Value strings(std::initializer_list<const char *> items) {
  Value::Array out;
  for (const char *s : items) out.emplace_back(s);
  return Value(std::move(out));
}

// Every part of a URL, as [href, origin, protocol, username, password, host, hostname, port,
// pathname, search, hash].
std::string parts_of(const std::string &expr) {
  return "{ const u = " + expr +
         "; [u.href, u.origin, u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname, "
         "u.search, u.hash] }";
}

TEST(Url, ParsesEveryPart) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, parts_of("new URL('HTTPS://user:pa%20ss@Example.COM:8080/a/./b/../c?q=1#frag')")),
            strings({"https://user:pa%20ss@example.com:8080/a/c?q=1#frag", "https://example.com:8080", "https:", "user",
                     "pa%20ss", "example.com:8080", "example.com", "8080", "/a/c", "?q=1", "#frag"}));
  // the default port is dropped; an empty query and fragment read as ""
  EXPECT_EQ(eval_ok(sandbox, parts_of("new URL('http://example.com:80/?#')")),
            strings({"http://example.com/?#", "http://example.com", "http:", "", "", "example.com", "example.com", "",
                     "/", "", ""}));
  EXPECT_EQ(eval_ok(sandbox, "String(new URL('https://a.example')) + ' ' + JSON.stringify({u: new URL('https://a.example')})"),
            Value("https://a.example/ {\"u\":\"https://a.example/\"}"));
}

TEST(Url, ResolvesRelativeReferencesAgainstABase) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, R"(
    const base = 'http://a/b/c/d;p?q';
    ['g', './g', 'g/', '/g', '//g', '?y', 'g?y', '#s', 'g#s', '..', '../g', '../..', '../../g', '../../../../g',
     '/./g', 'g.', '.g', 'g;x=1/../y', ''].map((r) => new URL(r, base).href))"),
            strings({"http://a/b/c/g", "http://a/b/c/g", "http://a/b/c/g/", "http://a/g", "http://g/",
                     "http://a/b/c/d;p?y", "http://a/b/c/g?y", "http://a/b/c/d;p?q#s", "http://a/b/c/g#s",
                     "http://a/b/", "http://a/b/g", "http://a/", "http://a/g", "http://a/g", "http://a/g",
                     "http://a/b/c/g.", "http://a/b/c/.g", "http://a/b/c/y", "http://a/b/c/d;p?q"}));
  // a base may be a URL object; backslashes are slashes in special URLs
  EXPECT_EQ(eval_ok(sandbox, R"(new URL('\\\\x\\y', new URL('https://h/p')).href)"), Value("https://x/y"));
  EXPECT_EQ(eval_ok(sandbox, R"(new URL('\\x', 'https://h/p').href)"), Value("https://h/x"));
}

TEST(Url, InternationalHostsBecomePunycodeAndAreCheckedAsTheStandardSays) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, R"(
    ['https://münchen.de/', 'https://ＥＸＡＭＰＬＥ．com/', 'https://faß.de/', 'https://xn--mnchen-3ya.de/',
     'https://日本語.jp/', 'http://a.b.c。d/'].map((u) => new URL(u).hostname))"),
            strings({"xn--mnchen-3ya.de", "example.com", "xn--fa-hia.de", "xn--mnchen-3ya.de", "xn--wgv71a119e.jp",
                     "a.b.c.d"}));
  // forbidden code points, a bad punycode label and a lone soft hyphen are not hosts
  EXPECT_EQ(eval_ok(sandbox, R"(
    ['https://a b/', 'https://a<b/', 'https://xn--a/', 'https://\u00AD/', 'https://%00/', 'http://[/', 'http://a%/']
      .map((u) => URL.canParse(u)))"),
            Value(Value::Array{false, false, false, false, false, false, false}));
  // non-special schemes keep an opaque host, percent-encoded rather than punycoded
  EXPECT_EQ(eval_ok(sandbox, "new URL('foo://münchen/x').host"), Value("m%C3%BCnchen"));
}

TEST(Url, IpAddressesAreNormalised) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, R"(
    ['http://[0:0:0:0:0:0:0:1]/', 'http://[2001:DB8::1:0:0:1]/', 'http://[::ffff:192.168.0.1]/', 'http://0x7f.1/',
     'http://3232235777/', 'http://0300.0250.0.01/', 'http://[1:0::]:8080/'].map((u) => new URL(u).host))"),
            strings({"[::1]", "[2001:db8::1:0:0:1]", "[::ffff:c0a8:1]", "127.0.0.1", "192.168.1.1", "192.168.0.1",
                     "[1::]:8080"}));
  EXPECT_EQ(eval_ok(sandbox, R"(
    ['http://[1:2:3:4:5:6:7:8:9]/', 'http://[::1::]/', 'http://[1.2.3.4]/', 'http://256.0.0.1/', 'http://1.2.3.4.5/',
     'http://[::1]:65536/'].map((u) => URL.canParse(u)))"),
            Value(Value::Array{false, false, false, false, false, false}));
}

TEST(Url, PercentEncodesWhatEachPartMust) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "new URL('https://h/a b/€/%41/\"<>`?x y\\'&é#f g`é').href"),
            Value("https://h/a%20b/%E2%82%AC/%41/%22%3C%3E%60?x%20y%27&%C3%A9#f%20g%60%C3%A9"));
  EXPECT_EQ(eval_ok(sandbox, "new URL('foo://h/?\\'').search"), Value("?'")) << "' is encoded in special queries only";
  // tabs and newlines vanish, leading and trailing C0 controls and spaces are trimmed
  EXPECT_EQ(eval_ok(sandbox, "new URL(' \\t\\nht\\ttp://h\\n/p\\r ').href"), Value("http://h/p"));
  // a lone surrogate is a USVString's U+FFFD
  EXPECT_EQ(eval_ok(sandbox, "new URL('https://h/\\uD800').pathname"), Value("/%EF%BF%BD"));
  EXPECT_EQ(eval_ok(sandbox, "new URL('data:text/plain,a b#c d').href"), Value("data:text/plain,a b#c%20d"));
}

TEST(Url, InvalidInputThrowsTypeErrorNamingIt) {
  Sandbox sandbox = make_sandbox();
  for (const char *source : {"new URL('not a url')", "new URL('/relative')", "new URL('x', 'not a base')",
                             "new URL('http://')", "new URL('https://exa mple.com')", "new URL()"}) {
    Error e = eval_error(sandbox, source);
    EXPECT_EQ(e.name, "TypeError") << source;
  }
  EXPECT_EQ(eval_error(sandbox, "new URL('not a url')").message, "Invalid URL: 'not a url'");
  EXPECT_EQ(eval_error(sandbox, "new URL('x', 'nope')").message, "Invalid URL: 'x' against the base 'nope'");
  EXPECT_EQ(eval_error(sandbox, "new URL(Symbol())").name, "TypeError");
  // a long input is cut short in the message
  EXPECT_LT(eval_error(sandbox, "new URL('x'.repeat(100000))").message.size(), 300u);
  EXPECT_EQ(eval_ok(sandbox, "[URL.canParse('x'), URL.canParse('x', 'https://h'), URL.parse('x'), URL.parse('/p', 'https://h').href]"),
            Value(Value::Array{false, true, Value(nullptr), "https://h/p"}));
}

TEST(Url, SettersFollowTheStandard) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, R"(
    const u = new URL('https://h/p?q#f');
    const seen = [];
    u.protocol = 'http'; seen.push(u.href);
    u.protocol = 'mailto'; seen.push(u.href);      // special to non-special: ignored
    u.host = 'example.org:81'; seen.push(u.href);
    u.port = '80'; seen.push(u.href);              // the default port
    u.port = 'abc'; seen.push(u.port);             // ignored
    u.hostname = 'münchen.de'; seen.push(u.host);
    u.username = 'a b'; u.password = 'p@ss'; seen.push(u.href);
    u.pathname = '/x y/../z'; seen.push(u.pathname);
    u.search = 'a=1 2'; seen.push(u.search);
    u.hash = 'h j'; seen.push(u.hash);
    u.search = ''; u.hash = ''; seen.push(u.href);
    seen)"),
            strings({"http://h/p?q#f", "http://h/p?q#f", "http://example.org:81/p?q#f", "http://example.org/p?q#f", "",
                     "xn--mnchen-3ya.de", "http://a%20b:p%40ss@xn--mnchen-3ya.de/p?q#f", "/z", "?a=1%202", "#h%20j",
                     "http://a%20b:p%40ss@xn--mnchen-3ya.de/z"}));
  EXPECT_EQ(eval_error(sandbox, "new URL('https://h').href = 'nope'").name, "TypeError");
}

TEST(Url, ClassesHaveTheirWebIdlShape) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, R"([
    Object.prototype.toString.call(new URL('https://h')), Object.prototype.toString.call(new URLSearchParams()),
    URL.length, URLSearchParams.length, Object.getOwnPropertyDescriptor(URL.prototype, 'href').enumerable,
    Object.getOwnPropertyDescriptor(globalThis, 'URL').enumerable, Object.keys(new URL('https://h')).length,
    URLSearchParams.prototype[Symbol.iterator] === URLSearchParams.prototype.entries])"),
            Value(Value::Array{"[object URL]", "[object URLSearchParams]", 1, 0, true, false, 0, true}));
  EXPECT_EQ(eval_error(sandbox, "Object.getOwnPropertyDescriptor(URL.prototype, 'href').get.call({})").name,
            "TypeError");
}

TEST(UrlSearchParams, ParsesEveryKindOfInit) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, R"([
    [...new URLSearchParams('?a=1&b=x+y&c=%26%3D&&d&=e&a=2')],
    [...new URLSearchParams([['x', 1], new Set(['y', 'z'])])],
    [...new URLSearchParams({ p: 'q', r: 2 })],
    [...new URLSearchParams(new URLSearchParams('k=v'))],
    [...new URLSearchParams('a=%FF%zz')],
    new URLSearchParams(null).toString(),
  ])"),
            Value(Value::Array{
                Value(Value::Array{strings({"a", "1"}), strings({"b", "x y"}), strings({"c", "&="}), strings({"d", ""}),
                                   strings({"", "e"}), strings({"a", "2"})}),
                Value(Value::Array{strings({"x", "1"}), strings({"y", "z"})}),
                Value(Value::Array{strings({"p", "q"}), strings({"r", "2"})}),
                Value(Value::Array{strings({"k", "v"})}),
                Value(Value::Array{strings({"a", "\xEF\xBF\xBD%zz"})}),
                "null=",
            }));
  EXPECT_EQ(eval_error(sandbox, "new URLSearchParams([['a', 'b', 'c']])").name, "TypeError");
  EXPECT_EQ(eval_error(sandbox, "new URLSearchParams([1])").name, "TypeError");
  EXPECT_EQ(eval_error(sandbox, "new URLSearchParams({ [Symbol()]: 1 })").name, "TypeError");
}

TEST(UrlSearchParams, MethodsFollowTheStandard) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, R"(
    const p = new URLSearchParams('b=2&a=1&b=3&c=4');
    const out = [p.get('b'), p.get('z'), p.getAll('b'), p.has('a'), p.has('b', '3'), p.has('b', '9'), p.size];
    p.append('d', 'é &'); out.push(p.toString());
    p.set('b', 'x'); out.push(p.toString());
    p.delete('c', '5'); p.delete('a'); out.push(p.toString());
    p.append('c', '0'); p.append('\uD83D\uDE00', '1'); p.append('\uFF41', '2'); p.sort(); out.push([...p.keys()].join(','));
    const seen = []; p.forEach(function (v, k, self) { seen.push(k + '=' + v, self === p, this.t); }, { t: 1 });
    out.push(seen.length, [...p.values()].join(','), [...p.entries()].length, p.size);
    out)"),
            Value(Value::Array{"2", Value(nullptr), strings({"2", "3"}), true, true, false, 4, "b=2&a=1&b=3&c=4&d=%C3%A9+%26",
                               "b=x&a=1&c=4&d=%C3%A9+%26", "b=x&c=4&d=%C3%A9+%26", "b,c,c,d,\xF0\x9F\x98\x80,\xEF\xBD\x81",
                               18, "x,4,0,\xC3\xA9 &,1,2", 6, 6}));
  // iteration is live, as the standard's is
  EXPECT_EQ(eval_ok(sandbox, "{ const p = new URLSearchParams('a=1'); const seen = []; for (const [k] of p) { seen.push(k); if (p.size < 3) p.append('n' + p.size, ''); } seen }"),
            strings({"a", "n1", "n2"}));
  EXPECT_EQ(eval_error(sandbox, "new URLSearchParams().append('a')").name, "TypeError");
}

TEST(UrlSearchParams, StayInStepWithTheirUrl) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, R"(
    const u = new URL('https://h/p?a=1&b=2#f');
    const p = u.searchParams;
    const out = [p === u.searchParams, p.get('b')];
    p.append('c', 'x y'); out.push(u.href);
    u.search = '?z=9'; out.push([...p].join(';'), p === u.searchParams);
    u.href = 'https://h/?q=%20'; out.push(p.get('q'));
    p.delete('q'); out.push(u.href);                  // an empty list removes the query
    const o = new URL('data:space    ?query');
    o.searchParams.delete('query'); out.push(o.href); // and strips the opaque path's trailing spaces
    const w = new URL('https://h/??a=b'); out.push([...w.searchParams].join(';'));
    out)"),
            Value(Value::Array{true, "2", "https://h/p?a=1&b=2&c=x+y#f", "z,9", true, " ", "https://h/", "data:space",
                               "?a,b"}));
}

TEST(Url, HugeInputsEndWithinTheMemoryLimitAndLeaveTheSandboxUsable) {
  SandboxOptions options;
  options.limits.memory_bytes = 32u << 20;
  Sandbox sandbox = make_sandbox(options);
  // A 1 MiB path parses: its percent-encoding fits the limit.
  EXPECT_EQ(eval_ok(sandbox, "new URL('https://h/' + 'é'.repeat(1 << 19)).pathname.length"), Value(1 + 6 * (1 << 19)));
  // Hosts that IDNA would expand many times over, and percent-encoding past the limit, end in a
  // catchable error (never a trap), and the sandbox goes on.
  for (const char *source : {"new URL('https://' + '\\uFDFA'.repeat(3 << 20) + '/')",
                             "new URL('https://h/' + '€'.repeat(8 << 20))",
                             "new URLSearchParams('a=' + '€'.repeat(8 << 20)).toString()"}) {
    Value v = eval_ok(sandbox, std::string("try { ") + source + "; 'parsed' } catch (e) { e.name + ': ' + e.message }");
    EXPECT_NE(v.as_string().find("out of memory"), std::string::npos) << source << ": " << v.as_string();
  }
  EXPECT_EQ(eval_ok(sandbox, "new URL('https://ok.example/').host"), Value("ok.example"));
  // Uncaught, it is the OutOfMemory kind.
  Error e = eval_error(sandbox, "new URL('https://' + '\\uFDFA'.repeat(3 << 20) + '/')");
  EXPECT_EQ(e.kind, ErrorKind::OutOfMemory) << e.message;
  EXPECT_FALSE(e.instance_discarded);
}

TEST(Url, KeepsWorkingWhenAProgramTampersWithBuiltIns) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, R"(
    Array.prototype.push = () => { throw new Error('tampered push'); };
    Array.prototype.sort = () => { throw new Error('tampered sort'); };
    String.prototype.slice = () => { throw new Error('tampered slice'); };
    String.prototype.toWellFormed = () => 'tampered';
    Object.getOwnPropertyDescriptor = () => { throw new Error('tampered descriptor'); };
    const u = new URL('https://h/p?b=2&a=1');
    u.searchParams.sort();
    u.searchParams.append('c', '3');
    [u.href, u.searchParams.get('a'), URL.canParse('nope')])"),
            Value(Value::Array{"https://h/p?a=1&b=2&c=3", "1", false}));
}

TEST(Url, TravelsWithASnapshot) {
  Sandbox sandbox = make_sandbox();
  ASSERT_TRUE(sandbox.eval("globalThis.u = new URL('https://h/p?a=1'); globalThis.p = u.searchParams; 0").ok());
  auto restored = Sandbox::restore(engine(), sandbox.snapshot().value()).unwrap();
  EXPECT_EQ(eval_ok(restored, "p.append('b', '2'); [u.href, u.searchParams === p]"),
            Value(Value::Array{"https://h/p?a=1&b=2", true}));
}

TEST(Url, FetchTakesAUrlObjectAndSendsItsHref) {
  TestHttpServer server([](const SeenRequest &r) { return Reply{.body = r.target}; });
  SandboxOptions options;
  options.network = NetworkPolicy{.allow = {server.origin() + "/"}};
  Sandbox sandbox = make_sandbox(options);
  EXPECT_EQ(eval_ok(sandbox, "const u = new URL('/echo?x=1', '" + server.origin() +
                                 "'); u.searchParams.append('y', 'a b');\n"
                                 "await (await fetch(u)).text()"),
            Value("/echo?x=1&y=a+b"));
  EXPECT_EQ(eval_ok(sandbox, "(await fetch(new Request(new URL('/r', '" + server.origin() + "')))).url"),
            Value(server.origin() + "/r"));
  EXPECT_EQ(eval_ok(sandbox, "(await fetch('" + server.origin() +
                                 "/f', { method: 'POST', body: new URLSearchParams({ a: 'é' }) })).status"),
            Value(200));
}

}  // namespace
}  // namespace quickbox
