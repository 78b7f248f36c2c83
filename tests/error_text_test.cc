// Error text is truncated with a marker and never lost: an error's name, message and stack cross
// the boundary cut to the sizes abi/quickbox_abi.h documents (1,024 / 65,536 / 65,536 characters,
// counted in UTF-16 code units as JavaScript does), followed by "… [truncated N more characters]".
// NUL bytes survive. This holds for uncaught errors, Error values inside results, and errors the
// host sends into JavaScript; a huge or unreadable error is never turned into Internal.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "error_text.hh"
#include "quickbox/quickbox.hh"
#include "quickbox_abi.h"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using namespace test_support;

std::string marker(unsigned long long dropped) {
  return "\xe2\x80\xa6 [truncated " + std::to_string(dropped) + " more characters]";
}

/// UTF-16 code units of ASCII text holding U+2026 (the marker's only other character).
size_t js_length(const std::string &text) {
  size_t units = 0;
  for (unsigned char byte : text) units += (byte & 0xc0) != 0x80;  // one per UTF-8 lead byte
  return units;
}

/// `total` copies of c as they cross: as many as fit in `max` characters together with the
/// marker for the rest.
std::string cut(char c, unsigned long long total, unsigned long long max) {
  for (unsigned long long kept = max;; kept--) {
    const std::string m = marker(total - kept);
    if (kept + js_length(m) <= max) return std::string(kept, c) + m;
  }
}

SandboxOptions roomy() {
  SandboxOptions options;
  options.limits.memory_bytes = 256ull << 20;  // room for the huge strings themselves
  return options;
}

TEST(ErrorText, AHugeThrownStringIsAJSExceptionWithItsTextTruncatedNotAMalformedReply) {
  Sandbox sandbox = make_sandbox(roomy());
  Error e = eval_error(sandbox, "throw 'w'.repeat(1.7e7)");
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.message, cut('w', 17000000, QB_ERROR_MESSAGE_MAX_CHARS));
  EXPECT_FALSE(e.thrown) << "a thrown value larger than the result limit is not attached";
  EXPECT_EQ(eval_ok(sandbox, "1 + 1"), Value(2));
}

TEST(ErrorText, AHugeErrorMessageIsTruncatedNotEmptied) {
  Sandbox sandbox = make_sandbox(roomy());
  Error e = eval_error(sandbox, "throw new Error('x'.repeat(5e7))");
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, "Error");
  EXPECT_EQ(e.message, cut('x', 50000000, QB_ERROR_MESSAGE_MAX_CHARS));
  EXPECT_NE(e.stack.find("<eval>"), std::string::npos) << e.stack;
}

TEST(ErrorText, TextAtTheLimitIsKeptWhole) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "throw new Error('x'.repeat(65536))");
  EXPECT_EQ(e.message, std::string(QB_ERROR_MESSAGE_MAX_CHARS, 'x'));
}

TEST(ErrorText, NulBytesSurviveInNameMessageStackAndThrownStrings) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "const e = new Error('a\\0b'); e.name = 'N\\0ame'; e.stack = 's\\0tack'; throw e");
  EXPECT_EQ(e.message, "a\0b"s);
  EXPECT_EQ(e.name, "N\0ame"s);
  EXPECT_EQ(e.stack, "s\0tack"s);

  e = eval_error(sandbox, "throw 'before\\0after'");
  EXPECT_EQ(e.message, "before\0after"s);
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(*e.thrown, Value("before\0after"s));
}

TEST(ErrorText, HugeNamesAndStacksAreTruncatedToTheirOwnSizes) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "const e = new Error('m'); e.name = 'N'.repeat(1e6); e.stack = 's'.repeat(1e6); throw e");
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, cut('N', 1000000, QB_ERROR_NAME_MAX_CHARS));
  EXPECT_EQ(e.message, "m");
  EXPECT_EQ(e.stack, cut('s', 1000000, QB_ERROR_STACK_MAX_CHARS));
}

TEST(ErrorText, CuttingACutTextAgainChangesNothing) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "throw new Error('x'.repeat(1e6))");
  EXPECT_EQ(js_length(e.message), QB_ERROR_MESSAGE_MAX_CHARS) << "the marker counts toward the limit";
  Sandbox again = make_sandbox();
  ASSERT_TRUE(again.set_global("cutMessage", Value(e.message)).ok());
  EXPECT_EQ(eval_error(again, "throw new Error(cutMessage)").message, e.message);
}

TEST(ErrorText, ACutNeverSplitsASurrogatePair) {
  Sandbox sandbox = make_sandbox();
  // 65,636 characters: 65,503 of them fit with the marker for the other 133, and the 65,503rd is
  // the first half of an emoji, so the whole emoji goes.
  Error e = eval_error(sandbox, "throw new Error('x'.repeat(65502) + '\\u{1F600}' + 'y'.repeat(132))");
  EXPECT_EQ(e.message, std::string(65502, 'x') + marker(134));
}

TEST(ErrorText, FieldsWhoseGettersThrowSaySoInsteadOfVanishing) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, R"(
    const e = new TypeError('kept');
    Object.defineProperty(e, 'name', { get() { throw new Error('no name for you'); } });
    throw e)");
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, "[the error's name could not be read: Error: no name for you]");
  EXPECT_EQ(e.message, "kept");

  e = eval_error(sandbox, "throw Object.defineProperty(new Error(), 'message', { get() { throw 'nope'; } })");
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.message, "[the error's message could not be read: nope]");
  EXPECT_EQ(eval_ok(sandbox, "'usable'"), Value("usable"));
}

TEST(ErrorText, AGetterThatLoopsWhileTheErrorIsReportedEndsAsTimeoutNotInternal) {
  Sandbox sandbox = make_sandbox();
  EvalOptions options;
  options.cpu_time = 200ms;
  for (const char *field : {"name", "message", "stack"}) {
    const std::string source = "throw Object.defineProperty(new Error('m'), '"s + field + "', { get() { for (;;) {} } })";
    Error e = eval_error(sandbox, source, options);
    EXPECT_EQ(e.kind, ErrorKind::Timeout) << field << ": " << e.message;
    EXPECT_EQ(e.name.find("could not be read"), std::string::npos) << "a timeout reports no unread field: " << e.name;
    EXPECT_EQ(e.stack.find("could not be read"), std::string::npos) << e.stack;
  }
  EXPECT_EQ(eval_ok(sandbox, "'usable'"), Value("usable"));
}

TEST(ErrorText, ErrorValuesInsideResultsAreTruncatedToo) {
  Sandbox sandbox = make_sandbox();
  Value v = eval_ok(sandbox, "[new RangeError('r'.repeat(70000)), new Error('a\\0b')]");
  ASSERT_TRUE(v.is_array());
  const ErrorValue &big = v.as_array().at(0).as_error();
  EXPECT_EQ(big.name, "RangeError");
  EXPECT_EQ(big.message, cut('r', 70000, QB_ERROR_MESSAGE_MAX_CHARS));
  EXPECT_EQ(v.as_array().at(1).as_error().message, "a\0b"s);
}

TEST(ErrorText, UnhandledRejectionsKeepTheirPrefixAndTruncatedText) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "Promise.reject('q'.repeat(100000)); 'done'");
  EXPECT_EQ(e.message, "Unhandled promise rejection: " + cut('q', 100000, QB_ERROR_MESSAGE_MAX_CHARS));
}

TEST(ErrorText, HostErrorsThrownIntoJavaScriptAreTruncatedTheSameWayAndKeepNulBytes) {
  Sandbox sandbox = make_sandbox();
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::sync(
                      "fails", [](const CallInfo &, std::span<const Value> args) -> Value {
                        if (args[0].as_string() == "huge") throw CapabilityError(std::string(1000000, 'h'), "TypeError");
                        throw CapabilityError("a\0b"s);
                      }))
                  .ok());
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::async(
                      "rejects", [](const CallInfo &, std::vector<Value>, Completion done) {
                        done.reject(std::string(200000, 'r') + "\0tail"s, std::string(5000, 'N'));
                      }))
                  .ok());
  ASSERT_TRUE(sandbox.register_capability(Capability::external("askHost")).ok());

  // The marker as JavaScript sees it, for the checks below.
  eval_ok(sandbox, R"(
    var marker = (n) => `\u2026 [truncated ${n} more characters]`;
    var cut = (c, total, max) => {  // as many as fit in max together with the marker
      for (let kept = max; ; kept--) if (kept + marker(total - kept).length <= max) return c.repeat(kept) + marker(total - kept);
    };)");
  EXPECT_EQ(eval_ok(sandbox, R"(
    try { fails('huge') } catch (e) {
      [e instanceof TypeError, e.message === cut('h', 1000000, 65536)]
    })"),
            Value(Value::Array{true, true}));
  EXPECT_EQ(eval_ok(sandbox, "try { fails('nul') } catch (e) { e.message === 'a\\0b' }"), Value(true));
  EXPECT_EQ(eval_ok(sandbox, R"(
    rejects().catch((e) => [e.name === cut('N', 5000, 1024),
                            e.message.startsWith('r'.repeat(65000)) && e.message.endsWith(cut('r', 200005, 65536).slice(-40))]))"),
            Value(Value::Array{true, true}));

  Result r = sandbox.eval("askHost().catch((e) => e.message === cut('z', 3000000, 65536))");
  ASSERT_TRUE(r.is_suspended()) << describe(r);
  ASSERT_TRUE(sandbox.reject(r.pending().at(0).call_id, std::string(3000000, 'z')).ok());
  r = sandbox.resume();
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.value(), Value(true));
}

TEST(ErrorText, TheHostsTruncationCountsCharactersAsJavaScriptDoesAndRepairsInvalidUtf8) {
  using internal::bounded_error_text;
  EXPECT_EQ(bounded_error_text(std::string(40, 'a'), 40), std::string(40, 'a'));
  EXPECT_EQ(bounded_error_text(std::string(50, 'a'), 40), std::string(8, 'a') + marker(42));
  EXPECT_EQ(bounded_error_text(bounded_error_text(std::string(50, 'a'), 40), 40), std::string(8, 'a') + marker(42));
  // U+1F600 is two UTF-16 code units: when only its first would fit, it goes whole.
  EXPECT_EQ(bounded_error_text(std::string(7, 'a') + "\xf0\x9f\x98\x80" + std::string(40, 'b'), 40),
            std::string(7, 'a') + marker(42));
  EXPECT_EQ(bounded_error_text("a\xff" "b", 10), "a\xef\xbf\xbd" "b");
  EXPECT_EQ(bounded_error_text("a\0b"s, 10), "a\0b"s);
}

}  // namespace
}  // namespace quickbox
