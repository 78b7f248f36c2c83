// Specifications of the web-standard globals the guest provides (docs/web-globals.md): TextEncoder
// and TextDecoder, atob/btoa, structuredClone, crypto, Event/EventTarget/AbortController, and
// en-US toLocaleString without Intl. They live in the base image: a fresh sandbox's snapshot stays
// small, and nothing that reaches outside the sandbox appears.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <chrono>
#include <string>
#include <vector>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace test_support;
using namespace std::chrono_literals;

Value bytes(std::vector<uint8_t> b) { return Value(Bytes{std::move(b)}); }

// ---- TextEncoder, TextDecoder ------------------------------------------------------------------------

TEST(TextEncoding, EncodesUtf8WithLoneSurrogatesAsReplacementCharacters) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "new TextEncoder().encode('aé€😀')"),
            bytes({0x61, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80}));
  EXPECT_EQ(eval_ok(sandbox, "new TextEncoder().encode('\\ud800x')"), bytes({0xEF, 0xBF, 0xBD, 0x78}));
  EXPECT_EQ(eval_ok(sandbox, "new TextEncoder().encode()"), bytes({}));
  EXPECT_EQ(eval_ok(sandbox, "new TextEncoder().encoding"), Value("utf-8"));
}

TEST(TextEncoding, EncodeIntoWritesOnlyWholeCharactersAndCountsUtf16Units) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "const u = new Uint8Array(4); [new TextEncoder().encodeInto('a😀b', u), u]"),
            Value(Value::Array{Value(Value::Object{{"read", 1}, {"written", 1}}), bytes({0x61, 0, 0, 0})}));
  EXPECT_EQ(eval_ok(sandbox, "new TextEncoder().encodeInto('a😀b', new Uint8Array(6))"),
            Value(Value::Object{{"read", 4}, {"written", 6}}));
  EXPECT_EQ(eval_error(sandbox, "new TextEncoder().encodeInto('a', new Uint16Array(2))").name, "TypeError");
}

TEST(TextEncoding, DecodingReplacesEachMaximalInvalidSubpartAsTheWhatwgDecoderDoes) {
  Sandbox sandbox = make_sandbox();
  auto decode = [&](const std::string &bytes_js) {
    return eval_ok(sandbox, "Array.from(new TextDecoder().decode(new Uint8Array(" + bytes_js +
                                ")), (c) => c.codePointAt(0).toString(16)).join(' ')");
  };
  EXPECT_EQ(decode("[0x68, 0xC3, 0xA9]"), Value("68 e9"));
  EXPECT_EQ(decode("[0xF0, 0x80, 0x80]"), Value("fffd fffd fffd")) << "overlong lead";
  EXPECT_EQ(decode("[0xED, 0xA0, 0x80]"), Value("fffd fffd fffd")) << "an encoded surrogate";
  EXPECT_EQ(decode("[0xF4, 0x90, 0x80, 0x80]"), Value("fffd fffd fffd fffd")) << "beyond U+10FFFF";
  EXPECT_EQ(decode("[0xE2, 0x82, 0x41]"), Value("fffd 41")) << "a truncated sequence is one replacement";
  EXPECT_EQ(decode("[0xE2, 0x82]"), Value("fffd")) << "truncated at the end";
  EXPECT_EQ(decode("[0xFF, 0xC0, 0x80]"), Value("fffd fffd fffd"));
}

TEST(TextEncoding, FatalModeThrowsTheWebsTypeError) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0x61, 0xC3]))");
  EXPECT_EQ(e.name, "TypeError");
  EXPECT_EQ(e.message, "The encoded data was not valid for encoding utf-8");
  EXPECT_EQ(eval_ok(sandbox, "new TextDecoder('utf-8', { fatal: true }).fatal"), Value(true));
}

TEST(TextEncoding, TheBomIsDroppedUnlessIgnoreBOMAndStreamingJoinsSplitCharacters) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "new TextDecoder().decode(new Uint8Array([0xEF, 0xBB, 0xBF, 0x61]))"), Value("a"));
  EXPECT_EQ(eval_ok(sandbox, "new TextDecoder('utf-8', { ignoreBOM: true }).decode(new Uint8Array([0xEF, 0xBB, 0xBF, 0x61])).length"),
            Value(2));
  EXPECT_EQ(eval_ok(sandbox, R"(
    const d = new TextDecoder();
    const parts = [d.decode(new Uint8Array([0xEF, 0xBB]), { stream: true }),
                   d.decode(new Uint8Array([0xBF, 0xE2, 0x82]), { stream: true }),
                   d.decode(new Uint8Array([0xAC, 0x21]), { stream: true }),
                   d.decode(new Uint8Array([0xF0, 0x9F])),
                   d.decode(new Uint8Array([0xEF, 0xBB, 0xBF, 0x62]))];
    parts)"),
            Value(Value::Array{"", "", "€!", "\xEF\xBF\xBD", "b"}));
}

TEST(TextEncoding, DecodesEveryBufferSourceAndOnlyUtf8Labels) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, R"(
    const buf = new TextEncoder().encode('xhello').buffer;
    const d = new TextDecoder(' UTF8 ');
    [d.decode(buf), d.decode(new DataView(buf, 1, 2)), d.decode(new Uint8Array(buf, 3)), d.decode(), d.encoding])"),
            Value(Value::Array{"xhello", "he", "llo", "", "utf-8"}));
  Error e = eval_error(sandbox, "new TextDecoder('latin1')");
  EXPECT_EQ(e.name, "RangeError");
  EXPECT_NE(e.message.find("only UTF-8"), std::string::npos) << e.message;
  EXPECT_EQ(eval_error(sandbox, "new TextDecoder().decode('text')").name, "TypeError");
}

// ---- atob, btoa (quickjs-ng's own) ------------------------------------------------------------------

TEST(Base64, AtobAndBtoaRoundTripLatin1AndFailWithInvalidCharacterError) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, "[btoa('hello'), atob('aGVsbG8='), atob(' aGVs\\nbG8 '), atob('aGVsbG8'), btoa('\\xff')]"),
            Value(Value::Array{"aGVsbG8=", "hello", "hello", "hello", "/w=="}));
  Value bad = eval_ok(sandbox, R"(
    const errors = [];
    for (const f of [() => atob('a'), () => atob('aGVsbG8==='), () => atob('a!b='), () => btoa('€')])
      try { f(); } catch (e) { errors.push([e instanceof DOMException, e.name, e.code, e.message]); }
    errors)");
  ASSERT_TRUE(bad.is_array());
  ASSERT_EQ(bad.as_array().size(), 4u) << to_json(bad);
  for (const Value &e : bad.as_array()) {
    EXPECT_EQ(e.as_array()[0], Value(true));
    EXPECT_EQ(e.as_array()[1], Value("InvalidCharacterError"));
    EXPECT_EQ(e.as_array()[2], Value(5));
  }
  EXPECT_EQ(bad.as_array()[0].as_array()[3], Value("The string to be decoded is not correctly encoded"));
  EXPECT_EQ(bad.as_array()[3].as_array()[3], Value("String contains an invalid character"));
}

// ---- structuredClone ---------------------------------------------------------------------------------

TEST(StructuredClone, CopiesMapsSetsDatesRegExpsTypedArraysAndErrors) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, R"(
    const buffer = new ArrayBuffer(8);
    const original = {
      map: new Map([[{ k: 1 }, new Set([1, 'two'])]]),
      date: new Date(86400000),
      re: /a+b/giu,
      ints: new Int16Array(buffer, 2, 2),
      bytes: new Uint8Array(buffer),
      view: new DataView(buffer, 4),
      error: new TypeError('bad', { cause: 7 }),
      boxed: [new Number(1), new String('s'), Object(2n), new Boolean(false)],
      holes: [1, , 3],
      big: 10n ** 30n,
    };
    original.ints[0] = -2;
    const c = structuredClone(original);
    c.bytes[0] = 99;  // the clone's views share one cloned buffer, not the original's
    [c.map instanceof Map && [...c.map.keys()][0].k === 1 && [...c.map.values()][0].has('two'),
     c.date instanceof Date && c.date.getTime() === 86400000 && c.date !== original.date,
     c.re instanceof RegExp && c.re.source === 'a+b' && c.re.flags === 'giu',
     c.ints instanceof Int16Array && c.ints[0] === -2 && c.ints.byteOffset === 2 && c.ints.length === 2,
     c.ints.buffer === c.bytes.buffer && c.view.buffer === c.bytes.buffer && c.bytes.buffer !== buffer,
     original.bytes[0] === 0,
     c.error instanceof TypeError && c.error.message === 'bad' && c.error.cause === 7,
     c.boxed.map((b) => typeof b + ':' + b.valueOf()).join(),
     1 in c.holes, c.holes.length, c.big === 10n ** 30n])");
  EXPECT_EQ(v, Value(Value::Array{true, true, true, true, true, true, true,
                                  "object:1,object:s,object:2,object:false", false, 3, true}));
}

TEST(StructuredClone, KeepsCyclesAndSharedReferencesAndDropsPrototypesAndAccessors) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, R"(
    class Point { constructor() { this.x = 1; } get twice() { return 2; } }
    const shared = { n: 1 };
    const o = { a: shared, b: shared, p: new Point(), get g() { return 'got'; } };
    o.self = o;
    const list = [o];
    list.push(list);
    const c = structuredClone({ o, list });
    [c.o.self === c.o, c.o.a === c.o.b, c.o !== o, c.list[1] === c.list, c.list[0] === c.o,
     Object.getPrototypeOf(c.o.p) === Object.prototype, c.o.p.x, Object.getOwnPropertyDescriptor(c.o, 'g').value])");
  EXPECT_EQ(v, Value(Value::Array{true, true, true, true, true, true, 1, "got"}));
}

TEST(StructuredClone, RefusesWhatCannotBeClonedWithADataCloneError) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, R"(
    const refused = [() => 1, Symbol('s'), new WeakMap(), new WeakSet(), Promise.resolve(), new Proxy({}, {}),
                     { nested: [function named() {}] }, (function* () {})()];
    refused.map((x) => {
      try { structuredClone(x); return 'cloned'; }
      catch (e) { return e instanceof DOMException && e.name === 'DataCloneError' && e.code === 25 ? e.message : String(e); }
    }))");
  ASSERT_TRUE(v.is_array());
  for (const Value &m : v.as_array()) {
    ASSERT_TRUE(m.is_string());
    EXPECT_NE(m.as_string().find("could not be cloned"), std::string::npos) << m.as_string();
  }
  EXPECT_EQ(v.as_array()[1], Value("Symbol(s) could not be cloned."));
  EXPECT_EQ(v.as_array()[6], Value("function named could not be cloned."));
  EXPECT_EQ(eval_error(sandbox, "structuredClone()").name, "TypeError");
}

TEST(StructuredClone, TransferredBuffersMoveToTheCloneAndAreDetachedInTheOriginal) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, R"(
    const buffer = new Uint8Array([1, 2, 3]).buffer;
    const c = structuredClone({ buffer }, { transfer: [buffer] });
    let twice;
    try { structuredClone(1, { transfer: [c.buffer, c.buffer] }); } catch (e) { twice = e.name; }
    [buffer.detached, buffer.byteLength, [...new Uint8Array(c.buffer)], twice])");
  EXPECT_EQ(v, Value(Value::Array{true, 0, Value(Value::Array{1, 2, 3}), "DataCloneError"}));
}

// ---- crypto ------------------------------------------------------------------------------------------

TEST(Crypto, GetRandomValuesFollowsTheSandboxSeedSoSeededRunsRepeat) {
  SandboxOptions seeded;
  seeded.random_seed = 42;
  const char *program = "[...crypto.getRandomValues(new Uint8Array(16)), crypto.randomUUID()]";
  Sandbox a = make_sandbox(seeded), b = make_sandbox(seeded);
  EXPECT_EQ(eval_ok(a, program), eval_ok(b, program));
  Sandbox c = make_sandbox(), d = make_sandbox();
  EXPECT_NE(eval_ok(c, program), eval_ok(d, program)) << "unseeded sandboxes draw from the kernel";
  EXPECT_EQ(eval_ok(c, "const a = new Uint32Array(4); crypto.getRandomValues(a) === a"), Value(true));
}

TEST(Crypto, GetRandomValuesRefusesNonIntegerArraysAndMoreThan64KiB) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, R"(
    const name = (f) => { try { f(); return 'ok'; } catch (e) { return e.name + (e instanceof DOMException ? ' (DOMException)' : ''); } };
    [name(() => crypto.getRandomValues(new Float64Array(2))), name(() => crypto.getRandomValues(new DataView(new ArrayBuffer(2)))),
     name(() => crypto.getRandomValues([1, 2])), name(() => crypto.getRandomValues(new Uint8Array(65537))),
     name(() => crypto.getRandomValues(new BigUint64Array(8192)))])");
  EXPECT_EQ(v, Value(Value::Array{"TypeMismatchError (DOMException)", "TypeMismatchError (DOMException)", "TypeError",
                                  "QuotaExceededError (DOMException)", "ok"}));
}

TEST(Crypto, RandomUUIDIsAVersion4UUID) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, R"(
    const ids = Array.from({ length: 50 }, () => crypto.randomUUID());
    ids.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)) && new Set(ids).size === 50)"),
            Value(true));
}

TEST(Crypto, SubtleDigestMatchesTheNistVectors) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, R"(
    const hex = (b) => new Uint8Array(b).toHex();
    const abc = new TextEncoder().encode('abc');
    const two = new TextEncoder().encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq');
    const out = [];
    for (const name of ['SHA-1', 'sha-256', { name: 'SHA-384' }, 'SHA-512'])
      out.push(hex(await crypto.subtle.digest(name, abc)), hex(await crypto.subtle.digest(name, new ArrayBuffer(0))));
    out.push(hex(await crypto.subtle.digest('SHA-256', two)));
    out)");
  EXPECT_EQ(v, Value(Value::Array{
                   "a9993e364706816aba3e25717850c26c9cd0d89d",
                   "da39a3ee5e6b4b0d3255bfef95601890afd80709",
                   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                   "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
                   "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b",
                   "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
                   "454d4423643ce80e2a9ac94fa54ca49f",
                   "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f"
                   "63b931bd47417a81a538327af927da3e",
                   "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"}));
}

std::string openssl_hex(const char *name, const std::vector<uint8_t> &data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, EVP_get_digestbyname(name), nullptr);
  static const char *digits = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < n; i++) hex += std::string{digits[out[i] >> 4], digits[out[i] & 15]};
  return hex;
}

TEST(Crypto, SubtleDigestAgreesWithOpenSslAtEveryBlockBoundaryAndOnLargeInputs) {
  Sandbox sandbox = make_sandbox();
  const std::vector<std::pair<const char *, const char *>> algorithms = {
      {"SHA-1", "SHA1"}, {"SHA-256", "SHA256"}, {"SHA-384", "SHA384"}, {"SHA-512", "SHA512"}};
  std::vector<size_t> sizes;
  for (size_t n = 0; n <= 260; n++) sizes.push_back(n);
  sizes.push_back(3'000'001);  // spans several of the guest's 1 MiB digest slices
  for (size_t n : sizes) {
    std::vector<uint8_t> data(n);
    for (size_t i = 0; i < n; i++) data[i] = static_cast<uint8_t>(i * 131 + n);
    ASSERT_TRUE(sandbox.set_global("data", Value(Bytes{data})).ok());
    for (const auto &[web, ssl] : algorithms) {
      Value got = eval_ok(sandbox, std::string("new Uint8Array(await crypto.subtle.digest('") + web + "', data)).toHex()");
      ASSERT_EQ(got, Value(openssl_hex(ssl, data))) << web << " of " << n << " bytes";
    }
  }
}

TEST(Crypto, SubtleDigestRejectsUnknownAlgorithmsAndBadData) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, R"(
    const reason = (p) => p.then(() => 'resolved', (e) => e.name);
    [await reason(crypto.subtle.digest('MD5', new Uint8Array(1))), await reason(crypto.subtle.digest('SHA-256', 'text')),
     await reason(crypto.subtle.digest({}, new Uint8Array(1)))])");
  EXPECT_EQ(v, Value(Value::Array{"NotSupportedError", "TypeError", "TypeError"}));
  EXPECT_EQ(eval_error(sandbox, "new Crypto()").message, "Illegal constructor");
}

// ---- Event, EventTarget, AbortController -------------------------------------------------------------

TEST(AbortController, AbortFiresOneTrustedAbortEventWithTheReason) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, R"(
    const c = new AbortController();
    const log = [];
    c.signal.onabort = (e) => log.push('onabort ' + e.type + ' ' + e.isTrusted);
    c.signal.addEventListener('abort', (e) => log.push('listener ' + (e.target === c.signal)));
    c.abort();
    c.abort('again');  // a second abort does nothing
    let thrown;
    try { c.signal.throwIfAborted(); } catch (e) { thrown = e.name; }
    const custom = new AbortController();
    custom.abort('my reason');
    [log, c.signal.aborted, c.signal.reason instanceof DOMException && c.signal.reason.name, thrown, custom.signal.reason])");
  EXPECT_EQ(v, Value(Value::Array{Value(Value::Array{"onabort abort true", "listener true"}), true, "AbortError",
                                  "AbortError", "my reason"}));
}

TEST(AbortController, StaticAbortTimeoutAndAny) {
  SandboxOptions options;
  options.clock = Clock{.mode = Clock::Mode::Fixed, .start_ms = 0};
  options.limits.wall_time = 1h;
  Sandbox sandbox = make_sandbox(options);
  auto start = std::chrono::steady_clock::now();
  Value v = eval_ok(sandbox, R"(
    const timed = AbortSignal.timeout(30_000);
    const controller = new AbortController();
    const any = AbortSignal.any([controller.signal, timed]);
    await new Promise((resolve) => timed.addEventListener('abort', resolve));
    [AbortSignal.abort().reason.name, AbortSignal.abort(5).reason, timed.reason.name, any.aborted,
     any.reason === timed.reason, Date.now()])");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << "the fixed clock jumped to the timeout";
  EXPECT_EQ(v, Value(Value::Array{"AbortError", 5, "TimeoutError", true, true, 30000}));
  EXPECT_EQ(eval_error(sandbox, "new AbortSignal()").message, "Illegal constructor");
}

TEST(EventTarget, ListenersRunInOrderOnceAndUntilTheirSignalAborts) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, R"(
    const target = new EventTarget();
    const log = [];
    const off = new AbortController();
    const handler = { handleEvent(e) { log.push('object ' + e.type); } };
    const f = () => log.push('f');
    target.addEventListener('ping', f);
    target.addEventListener('ping', f);  // the same listener twice is added once
    target.addEventListener('ping', () => log.push('once'), { once: true });
    target.addEventListener('ping', handler);
    target.addEventListener('ping', () => log.push('until aborted'), { signal: off.signal });
    target.dispatchEvent(new Event('ping'));
    off.abort();
    target.removeEventListener('ping', handler);
    target.dispatchEvent(new Event('ping'));
    log)");
  EXPECT_EQ(v, Value(Value::Array{"f", "once", "object ping", "until aborted", "f"}));
}

TEST(EventTarget, DispatchReportsPreventDefaultAndStopImmediatePropagation) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, R"(
    const t = new EventTarget();
    t.addEventListener('x', (e) => { e.preventDefault(); e.stopImmediatePropagation(); });
    t.addEventListener('x', () => { throw new Error('not reached'); });
    const cancelable = new Event('x', { cancelable: true });
    const plain = new CustomEvent('x', { detail: { n: 1 } });
    [t.dispatchEvent(cancelable), cancelable.defaultPrevented, t.dispatchEvent(plain), plain.detail.n,
     cancelable.eventPhase, cancelable.target === t])");
  EXPECT_EQ(v, Value(Value::Array{false, true, true, 1, 0, true}));
}

TEST(EventTarget, AListenersExceptionIsReportedAfterTheOthersRan) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, R"(
    globalThis.ran = [];
    const t = new EventTarget();
    t.addEventListener('x', () => { throw new RangeError('from a listener'); });
    t.addEventListener('x', () => ran.push('second'));
    ran.push(t.dispatchEvent(new Event('x')));
    await null;
    'not reached')");
  EXPECT_EQ(e.name, "RangeError");
  EXPECT_EQ(e.message, "from a listener");
  EXPECT_EQ(eval_ok(sandbox, "ran"), Value(Value::Array{"second", true}));
}

// ---- toLocaleString: en-US without Intl --------------------------------------------------------------

TEST(Locale, NumbersFormatAsEnUS) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, R"([
    (1234567.891).toLocaleString(), (1234.5).toLocaleString('en-US'), (0).toLocaleString(), (-0).toLocaleString(),
    (-1234.5678).toLocaleString(undefined, { maximumFractionDigits: 2 }), (1.005).toLocaleString(undefined, { maximumFractionDigits: 2 }),
    (5).toLocaleString('en', { minimumFractionDigits: 2 }), (1e21).toLocaleString(), (1.5e-7).toLocaleString(),
    (0.256).toLocaleString('en-US', { style: 'percent' }), (1234.5).toLocaleString('en-US', { style: 'currency', currency: 'USD' }),
    (-5).toLocaleString('en-US', { style: 'currency', currency: 'EUR' }), (1234.5).toLocaleString('en-US', { style: 'currency', currency: 'JPY' }),
    (12).toLocaleString('en-US', { style: 'currency', currency: 'CHF' }), (9.9996).toLocaleString(),
    (123456).toLocaleString('en-US', { useGrouping: false }), (7).toLocaleString('en-US', { minimumIntegerDigits: 3 }),
    NaN.toLocaleString(), (-Infinity).toLocaleString(), (12345678901234567890n).toLocaleString(), [1234, 5678.9].toLocaleString()])");
  EXPECT_EQ(v, Value(Value::Array{"1,234,567.891", "1,234.5", "0", "-0", "-1,234.57", "1.01", "5.00",
                                  "1,000,000,000,000,000,000,000", "0", "26%", "$1,234.50", "-€5.00", "¥1,235",
                                  "CHF\u00a012.00", "10", "123456", "007", "NaN", "-∞", "12,345,678,901,234,567,890",
                                  "1,234,5,678.9"}));
}

TEST(Locale, DatesFormatAsEnUSInUtc) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, R"(
    const d = new Date(Date.UTC(2024, 0, 2, 15, 4, 5));
    const midnight = new Date(Date.UTC(2024, 11, 31, 0, 7, 0));
    [d.toLocaleString(), d.toLocaleDateString('en-US'), d.toLocaleTimeString(), midnight.toLocaleTimeString(),
     d.toLocaleDateString('en-US', { dateStyle: 'full' }), d.toLocaleDateString(undefined, { dateStyle: 'medium' }),
     d.toLocaleString('en-US', { dateStyle: 'long', timeStyle: 'short' }), d.toLocaleString('en-US', { dateStyle: 'short', timeStyle: 'long', timeZone: 'UTC' }),
     d.toLocaleTimeString('en-US', { hour12: false }), new Date(NaN).toLocaleString()])");
  EXPECT_EQ(v, Value(Value::Array{"1/2/2024, 3:04:05\u202fPM", "1/2/2024", "3:04:05\u202fPM", "12:07:00\u202fAM",
                                  "Tuesday, January 2, 2024", "Jan 2, 2024", "January 2, 2024 at 3:04\u202fPM",
                                  "1/2/24, 3:04:05\u202fPM UTC", "15:04:05", "Invalid Date"}));
}

TEST(Locale, WhatEnUSCannotHonourIsARangeErrorNotASilentlyWrongString) {
  Sandbox sandbox = make_sandbox();
  auto message = [&](const char *js) { return eval_error(sandbox, js).message; };
  EXPECT_NE(message("(1).toLocaleString('de-DE')").find("the locale \"de-DE\" is not available"), std::string::npos);
  EXPECT_NE(message("(1).toLocaleString('en-US', { notation: 'compact' })").find("the option \"notation\" is not supported"),
            std::string::npos);
  EXPECT_NE(message("new Date(0).toLocaleString('en-US', { timeZone: 'America/New_York' })").find("only the UTC time zone"),
            std::string::npos);
  EXPECT_NE(message("new Date(0).toLocaleDateString('en-US', { month: 'long' })").find("the option \"month\""),
            std::string::npos);
  EXPECT_NE(message("(1).toLocaleString('en-US', { style: 'unit', unit: 'meter' })").find("the option \"unit\""),
            std::string::npos);
  EXPECT_EQ(eval_ok(sandbox, "typeof Intl"), Value("undefined"));
}

// ---- cost and reach ----------------------------------------------------------------------------------

TEST(WebGlobals, LiveInTheBaseImageSoAFreshSnapshotStaysUnderOneKilobyte) {
  Sandbox sandbox = make_sandbox();
  auto snap = sandbox.snapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_LT(snap.value().size(), 1024u);
}

TEST(WebGlobals, ArePresentAndNothingThatReachesOutsideIs) {
  Sandbox sandbox = make_sandbox();
  EXPECT_EQ(eval_ok(sandbox, R"(
    ['TextEncoder', 'TextDecoder', 'structuredClone', 'crypto', 'atob', 'btoa', 'DOMException', 'Event', 'CustomEvent',
     'EventTarget', 'AbortController', 'AbortSignal', 'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval',
     'queueMicrotask', 'performance', 'URL', 'URLSearchParams'].filter((n) => typeof globalThis[n] === 'undefined'))"),
            Value(Value::Array{}));
  EXPECT_EQ(eval_ok(sandbox, "[typeof fetch, typeof require, typeof process, typeof Intl]"),
            Value(Value::Array{"undefined", "undefined", "undefined", "undefined"}));
  EXPECT_EQ(eval_ok(sandbox, R"(
    ['TextEncoder', 'TextDecoder', 'structuredClone', 'crypto', 'Crypto', 'SubtleCrypto', 'Event', 'CustomEvent',
     'EventTarget', 'AbortController', 'AbortSignal', 'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval',
     'URL', 'URLSearchParams'].filter((n) => Object.getOwnPropertyDescriptor(globalThis, n).enumerable))"),
            Value(Value::Array{}))
      << "like the built-ins, none of them is enumerable";
}

TEST(WebGlobals, KeepWorkingWhenAProgramTampersWithBuiltIns) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, R"(
    const data = { a: new Map([[1, 2]]), b: [1, 2] };
    Array.prototype.push = () => { throw new Error('tampered push'); };
    Array.prototype[Symbol.iterator] = function* () { throw new Error('tampered iterator'); };
    Map.prototype.set = () => { throw new Error('tampered set'); };
    Object.keys = () => { throw new Error('tampered keys'); };
    Uint8Array.prototype.slice = () => { throw new Error('tampered slice'); };
    String.prototype.toLowerCase = () => 'latin1';
    const clone = structuredClone(data);
    const text = new TextDecoder('UTF-8').decode(new TextEncoder().encode('ok'));
    const money = (1234.5).toLocaleString('en-US', { style: 'currency', currency: 'USD' });
    const c = new AbortController();
    c.abort();
    [clone.a.get(1), clone.b.length, text, money, c.signal.aborted])");
  EXPECT_EQ(v, Value(Value::Array{2, 2, "ok", "$1,234.50", true}));
}

}  // namespace
}  // namespace quickbox
