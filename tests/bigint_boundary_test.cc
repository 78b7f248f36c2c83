// BigInts cross the sandbox boundary in binary, in linear time, and at most Limits::bigint_bytes
// of magnitude, in every direction: results, host-call arguments, host answers (sync, async,
// external), call arguments and globals. Whatever quickbox prints (the sandbox's formatter, JSON) costs time
// linear in the size of the value.
#include <gtest/gtest.h>

#include <time.h>

#include <chrono>
#include <string>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace std::chrono_literals;
using namespace test_support;

constexpr uint32_t kLimit = 1024;  // bytes of magnitude, for the tests that probe the edge

SandboxOptions with_bigint_limit(uint32_t bytes) {
  SandboxOptions options;
  options.limits.bigint_bytes = bytes;
  return options;
}

/// A BigInt whose magnitude is `bytes` bytes of 0xff.
BigInt all_ones(size_t bytes, bool negative = false) {
  return BigInt{.negative = negative, .magnitude = std::vector<uint8_t>(bytes, 0xff)};
}

/// CPU time of the calling thread: the host's work, whatever else the machine is doing.
std::chrono::duration<double> thread_cpu_time() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

TEST(BigIntBoundary, ABigIntUpToTheLimitComesBackExactlyAndOneByteMoreIsAnOutputLimit) {
  Sandbox sandbox = make_sandbox(with_bigint_limit(kLimit));
  EXPECT_EQ(eval_ok(sandbox, "(1n << 8192n) - 1n"), Value(all_ones(kLimit)));
  EXPECT_EQ(eval_ok(sandbox, "-((1n << 8192n) - 1n)"), Value(all_ones(kLimit, true)));

  for (const char *source : {"1n << 8192n", "-(1n << 8192n)"}) {
    Error e = eval_error(sandbox, source);
    EXPECT_EQ(e.kind, ErrorKind::OutputLimit) << source;
    EXPECT_NE(e.message.find("BigInt"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("1025 bytes"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("limit of 1024 bytes"), std::string::npos) << e.message;
  }
  EXPECT_EQ(eval_ok(sandbox, "'still usable'"), Value("still usable"));
}

TEST(BigIntBoundary, TheOutputLimitMessageNamesWhereTheBigIntIs) {
  Sandbox sandbox = make_sandbox(with_bigint_limit(kLimit));
  Error e = eval_error(sandbox, "({ rows: [1n, 2n, 3n ** 6000n] })");
  EXPECT_EQ(e.kind, ErrorKind::OutputLimit);
  EXPECT_NE(e.message.find("$.rows[2]"), std::string::npos) << e.message;
}

TEST(BigIntBoundary, AnOverLimitBigIntInHostCallArgumentsThrowsACatchableRangeError) {
  Sandbox sandbox = make_sandbox(with_bigint_limit(kLimit));
  int calls = 0;
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::sync(
                      "echo", [&](const CallInfo &, std::span<const Value> args) {
                        calls++;
                        return args.empty() ? Value() : args[0];
                      }))
                  .ok());
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::async(
                      "later", [](const CallInfo &, std::vector<Value> args, Completion done) {
                        done.resolve(args[0]);
                      }))
                  .ok());
  EXPECT_EQ(eval_ok(sandbox, R"(
    let caught;
    try { echo({ n: 1n << 9000n }); } catch (e) { caught = e; }
    [caught instanceof RangeError, caught.message]
  )"),
            Value(Value::Array{true, "BigInt at $[0].n has 1126 bytes (9001 bits), more than the "
                                     "sandbox's BigInt limit of 1024 bytes"}));
  EXPECT_EQ(eval_ok(sandbox, "later(-(1n << 9000n)).then(() => 'resolved', (e) => e.name)"), Value("RangeError"));
  EXPECT_EQ(calls, 0) << "the host must never see the refused arguments";
  EXPECT_EQ(eval_ok(sandbox, "echo((1n << 8192n) - 1n) === (1n << 8192n) - 1n"), Value(true));
}

TEST(BigIntBoundary, AnOverLimitBigIntFromTheHostIsRefusedWhereItEntersJavaScript) {
  Sandbox sandbox = make_sandbox(with_bigint_limit(kLimit));
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::sync(
                      "huge", [](const CallInfo &, std::span<const Value>) { return Value(all_ones(kLimit + 1)); }))
                  .ok());
  ASSERT_TRUE(sandbox
                  .register_capability(Capability::async(
                      "hugeLater", [](const CallInfo &, std::vector<Value>, Completion done) {
                        done.resolve(Value(all_ones(kLimit + 1, true)));
                      }))
                  .ok());
  ASSERT_TRUE(sandbox.register_capability(Capability::external("askHost")).ok());

  EXPECT_EQ(eval_ok(sandbox, "try { huge(); 'no error' } catch (e) { e.name + ': ' + e.message }"),
            Value("RangeError: a BigInt from the host has 1025 bytes, more than the sandbox's BigInt "
                  "limit of 1024 bytes"));
  EXPECT_EQ(eval_ok(sandbox, "hugeLater().then(() => 'resolved', (e) => e instanceof RangeError)"), Value(true));

  Result r = sandbox.eval("askHost().then(() => 'resolved', (e) => e instanceof RangeError)");
  ASSERT_TRUE(r.is_suspended()) << describe(r);
  ASSERT_TRUE(sandbox.resolve(r.pending().at(0).call_id, Value(all_ones(kLimit + 1))).ok());
  r = sandbox.resume();
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.value(), Value(true));
}

TEST(BigIntBoundary, CallArgumentsAndGlobalsOverTheLimitAreInvalidInputNamingTheLimit) {
  Sandbox sandbox = make_sandbox(with_bigint_limit(kLimit));
  eval_ok(sandbox, "function id(x) { return x; }");
  const Value over(all_ones(kLimit + 1));
  Result r = sandbox.call("id", std::vector<Value>{over});
  ASSERT_TRUE(r.failed()) << describe(r);
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
  EXPECT_NE(r.error().message.find("BigInt limit of 1024 bytes"), std::string::npos) << r.error().message;

  r = sandbox.set_global("big", over);
  ASSERT_TRUE(r.failed()) << describe(r);
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
  EXPECT_NE(r.error().message.find("BigInt limit"), std::string::npos) << r.error().message;

  ASSERT_TRUE(sandbox.set_global("big", Value(all_ones(kLimit))).ok());
  EXPECT_EQ(eval_ok(sandbox, "big === (1n << 8192n) - 1n"), Value(true));
}

TEST(BigIntBoundary, TheLimitIsValidated) {
  for (uint32_t bytes : {0u, 7u, (1u << 20) + 1}) {
    auto created = Sandbox::create(engine(), with_bigint_limit(bytes));
    ASSERT_FALSE(created.ok()) << bytes;
    EXPECT_EQ(created.error().kind, ErrorKind::InvalidInput);
    EXPECT_NE(created.error().message.find("Limits::bigint_bytes must be between 8 bytes and 1 MiB"),
              std::string::npos)
        << created.error().message;
  }
  EXPECT_EQ(SandboxOptions{}.limits.bigint_bytes, 64u << 10) << "the documented default";
}

// The review's case: ten copies of 2n**1000000n-1n (125 KiB each, near QuickJS's own maximum)
// took 22 s of host CPU to come back and print under a 200 ms budget, as the host converted each
// to decimal in quadratic time. Crossing and printing must be linear: well under a second.
TEST(BigIntBoundary, HugeBigIntsCrossAndPrintInLinearTime) {
  SandboxOptions options = with_bigint_limit(1u << 20);
  options.limits.cpu_time = 2000ms;  // the guest's own work: computing and encoding in hex
  Sandbox sandbox = make_sandbox(options);
  const auto before = thread_cpu_time();
  Value v = eval_ok(sandbox, "const x = 2n ** 1000000n - 1n; Array(10).fill(x)");
  ASSERT_TRUE(v.is_array());
  ASSERT_EQ(v.as_array().size(), 10u);
  EXPECT_EQ(v.as_array()[0].as_bigint().magnitude.size(), 125000u);
  Expected<std::string> shown = sandbox.format(v);  // the sandbox's formatter, as the CLI prints
  ASSERT_TRUE(shown.ok()) << shown.error().to_string();
  const std::string json = to_json(v);
  const auto host_cpu = thread_cpu_time() - before;
  EXPECT_LT(host_cpu.count(), 3.0) << "conversion and printing must not be quadratic";
  EXPECT_EQ(shown.value().substr(0, 10), "[\n  0xffff") << "beyond 1 KiB a BigInt prints exactly, in hex";
  EXPECT_EQ(json.substr(0, 8), "[\"0xffff");
}

TEST(BigIntPrinting, UpTo1KiBABigIntPrintsInDecimalAndBeyondExactlyInHex) {
  Sandbox sandbox = make_sandbox();
  auto shown = [&](const BigInt &big) { return sandbox.format(Value(big)).value(); };
  const BigInt at_bound = all_ones(1024);
  EXPECT_EQ(shown(at_bound), at_bound.to_decimal() + "n");
  EXPECT_EQ(to_json(Value(at_bound)), "\"" + at_bound.to_decimal() + "\"");

  std::string hex;
  for (int i = 0; i < 1025; i++) hex += "ff";
  EXPECT_EQ(shown(all_ones(1025)), "0x" + hex + "n");
  EXPECT_EQ(shown(all_ones(1025, true)), "-0x" + hex + "n");
  EXPECT_EQ(to_json(Value(all_ones(1025, true))), "\"-0x" + hex + "\"");
}

TEST(BigIntPrinting, ToHexWritesAJavaScriptLiteralWithoutLeadingZeros) {
  EXPECT_EQ(BigInt{}.to_hex(), "0x0");
  EXPECT_EQ((BigInt{true, {0, 0}}).to_hex(), "0x0") << "negative zero is zero";
  EXPECT_EQ((BigInt{false, {0, 0x0f, 0xa0}}).to_hex(), "0xfa0");
  EXPECT_EQ(BigInt::from_int64(-42).to_hex(), "-0x2a");
}

TEST(BigIntCodec, BignumsRoundTripAtEveryCarryEdge) {
  for (const BigInt &big : {all_ones(3), all_ones(3, true), BigInt{true, {1, 0, 0, 0}}, BigInt{true, {1}},
                            BigInt::from_int64(INT64_MIN)}) {
    Decoded decoded = decode_cbor(encode_cbor(Value(big)));
    ASSERT_TRUE(decoded.ok) << decoded.error;
    EXPECT_EQ(decoded.value, Value(big)) << big.to_hex();
  }
}

TEST(BigIntCodec, TheHostDecoderRefusesABigIntOverItsLimit) {
  const std::vector<uint8_t> nine_bytes = encode_cbor(Value(all_ones(9)));
  EXPECT_TRUE(decode_cbor(nine_bytes, DecodeLimits{.max_bigint_bytes = 9}).ok);
  Decoded decoded = decode_cbor(nine_bytes, DecodeLimits{.max_bigint_bytes = 8});
  ASSERT_FALSE(decoded.ok);
  EXPECT_NE(decoded.error.find("a BigInt of 9 bytes is over the limit of 8 bytes"), std::string::npos)
      << decoded.error;
}

}  // namespace
}  // namespace quickbox
