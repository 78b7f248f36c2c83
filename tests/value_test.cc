// Specification of quickbox::Value: BigInt text, the CBOR wire format of abi/quickbox_abi.h
// (exact bytes, round trips, every way a decode is refused), and JSON text. How values are shown
// to people is the sandbox's formatter's job (format_test.cc).
#include "quickbox/value.hh"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "quickbox_abi.h"

namespace quickbox {
namespace {

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

Value arr(std::initializer_list<Value> items) { return Value(Value::Array(items)); }

Value obj(std::initializer_list<std::pair<std::string, Value>> entries) {
  return Value(Value::Object(entries));
}

Value bytes(std::initializer_list<uint8_t> data) { return Value(Bytes{data}); }

/// "c3 40" -> {0xc3, 0x40}
std::vector<uint8_t> hex(std::string_view text) {
  std::vector<uint8_t> out;
  std::string digits;
  for (char c : text) {
    if (c != ' ') digits += c;
  }
  for (size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string to_hex(const std::vector<uint8_t> &bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i++) {
    if (i) out += ' ';
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out;
}

Value round_trip(const Value &value) {
  const std::vector<uint8_t> encoded = encode_cbor(value);
  Decoded decoded = decode_cbor(encoded);
  EXPECT_TRUE(decoded.ok) << decoded.error << " for " << to_hex(encoded);
  return decoded.value;
}

/// The message decode_cbor gives for input it must refuse.
std::string rejection(const std::vector<uint8_t> &input, const DecodeLimits &limits = {}) {
  Decoded decoded = decode_cbor(input, limits);
  EXPECT_FALSE(decoded.ok) << "accepted " << to_hex(input) << " as " << to_json(decoded.value);
  return decoded.error;
}

std::string rejection(std::string_view hex_text) { return rejection(hex(hex_text)); }

/// The message parse_json gives for text it must refuse.
std::string json_rejection(std::string_view text) {
  Decoded parsed = parse_json(text);
  EXPECT_FALSE(parsed.ok) << "accepted " << text << " as " << to_json(parsed.value);
  return parsed.error;
}

/// `depth` arrays, each holding the next, around a 0.
std::vector<uint8_t> nested_arrays(size_t depth) {
  std::vector<uint8_t> out(depth, 0x81);
  out.push_back(0x00);
  return out;
}

const std::string kTwoTo200 = "1606938044258990275541962092341162602522202993782792835301376";

// ---------------------------------------------------------------------------------------------
// BigInt
// ---------------------------------------------------------------------------------------------

TEST(BigIntTest, FromInt64KeepsSignAndBigEndianMagnitudeWithoutLeadingZeros) {
  EXPECT_EQ(BigInt::from_int64(0), (BigInt{false, {}}));
  EXPECT_EQ(BigInt::from_int64(1), (BigInt{false, {1}}));
  EXPECT_EQ(BigInt::from_int64(-1), (BigInt{true, {1}}));
  EXPECT_EQ(BigInt::from_int64(256), (BigInt{false, {1, 0}}));
  EXPECT_EQ(BigInt::from_int64(INT64_MAX),
            (BigInt{false, {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}));
  EXPECT_EQ(BigInt::from_int64(INT64_MIN), (BigInt{true, {0x80, 0, 0, 0, 0, 0, 0, 0}}));
}

TEST(BigIntTest, DecimalTextRoundTripsAtAnySize) {
  for (const std::string &text :
       std::vector<std::string>{"0", "7", "-1", "255", "-256", "9223372036854775807",
                                 "-9223372036854775808", "18446744073709551616",
                                 "1000000000000000000000000000000", kTwoTo200, "-" + kTwoTo200}) {
    EXPECT_EQ(BigInt::from_decimal(text).to_decimal(), text);
  }
  EXPECT_EQ(BigInt::from_decimal(std::to_string(INT64_MIN)), BigInt::from_int64(INT64_MIN));
}

TEST(BigIntTest, FromDecimalNormalisesLeadingZerosSignsAndNegativeZero) {
  EXPECT_EQ(BigInt::from_decimal("007"), BigInt::from_int64(7));
  EXPECT_EQ(BigInt::from_decimal("+42"), BigInt::from_int64(42));
  EXPECT_EQ(BigInt::from_decimal("-0"), BigInt::from_int64(0));
  EXPECT_EQ(BigInt::from_decimal("-0").to_decimal(), "0");
  // 2^200 is a one followed by 200 zero bits: 26 bytes, the first of them 0x01.
  const BigInt two_to_200 = BigInt::from_decimal(kTwoTo200);
  ASSERT_EQ(two_to_200.magnitude.size(), 26u);
  EXPECT_EQ(two_to_200.magnitude[0], 1);
}

TEST(BigIntTest, ToDecimalToleratesLeadingZeroBytes) {
  EXPECT_EQ((BigInt{false, {0, 0, 1, 0}}).to_decimal(), "256");
  EXPECT_EQ((BigInt{true, {0, 0}}).to_decimal(), "0");
}

TEST(BigIntTest, FromDecimalNamesTheOffendingCharacterAndItsPosition) {
  try {
    BigInt::from_decimal("12x4");
    FAIL() << "accepted 12x4";
  } catch (const std::invalid_argument &e) {
    EXPECT_STREQ(e.what(), "invalid character 'x' at position 2 in BigInt decimal text \"12x4\"");
  }
  EXPECT_THROW(BigInt::from_decimal(""), std::invalid_argument);
  EXPECT_THROW(BigInt::from_decimal("-"), std::invalid_argument);
  EXPECT_THROW(BigInt::from_decimal(" 1"), std::invalid_argument);
  EXPECT_THROW(BigInt::from_decimal("1.5"), std::invalid_argument);
  EXPECT_THROW(BigInt::from_decimal("0x10"), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Value::find
// ---------------------------------------------------------------------------------------------

TEST(ValueTest, FindReturnsThePropertyOrNull) {
  const Value value = obj({{"a", 1}, {"b", "two"}});
  ASSERT_NE(value.find("b"), nullptr);
  EXPECT_EQ(*value.find("b"), Value("two"));
  EXPECT_EQ(value.find("c"), nullptr);
  EXPECT_EQ(Value(arr({1})).find("0"), nullptr);
  EXPECT_EQ(Value("a").find("a"), nullptr);
}

// ---------------------------------------------------------------------------------------------
// CBOR: exact bytes
// ---------------------------------------------------------------------------------------------

TEST(CborEncodeTest, ProducesTheBytesOfTheAbiMapping) {
  const std::pair<Value, std::string> cases[] = {
      {Value(), "f7"},
      {Value(nullptr), "f6"},
      {Value(false), "f4"},
      {Value(true), "f5"},
      {Value(0), "00"},
      {Value(1), "01"},
      {Value(23), "17"},
      {Value(24), "18 18"},
      {Value(-1), "20"},
      {Value(-24), "37"},
      {Value(-25), "38 18"},
      {Value(1000000), "1a 00 0f 42 40"},
      {Value(9007199254740992.0), "1b 00 20 00 00 00 00 00 00"},    // 2^53: still an integer
      {Value(-9007199254740992.0), "3b 00 1f ff ff ff ff ff ff"},   // -2^53
      {Value(9007199254740994.0), "fb 43 40 00 00 00 00 00 01"},    // beyond 2^53: a float
      {Value(1.5), "fb 3f f8 00 00 00 00 00 00"},
      {Value(-0.0), "fb 80 00 00 00 00 00 00 00"},
      {Value(HUGE_VAL), "fb 7f f0 00 00 00 00 00 00"},
      {Value(1e300), "fb 7e 37 e4 3c 88 00 75 9c"},
      {BigInt::from_int64(0), "c2 40"},
      {BigInt::from_int64(1), "c2 41 01"},
      {BigInt::from_int64(256), "c2 42 01 00"},
      {BigInt::from_int64(-1), "c3 40"},  // tag 3 holds -1 - n
      {BigInt::from_int64(-256), "c3 41 ff"},
      {BigInt::from_int64(-257), "c3 42 01 00"},
      {BigInt{false, {0, 0, 5}}, "c2 41 05"},
      {BigInt{true, {}}, "c2 40"},  // a "negative zero" is plain zero
      {Value(""), "60"},
      {Value("a"), "61 61"},
      {Value(std::string("a\0b", 3)), "63 61 00 62"},
      {bytes({}), "40"},
      {bytes({1, 2}), "42 01 02"},
      {arr({}), "80"},
      {arr({1, arr({2})}), "82 01 81 02"},
      {obj({}), "a0"},
      {obj({{"b", 1}, {"a", 2}}), "a2 61 62 01 61 61 02"},
      {ErrorValue{"E", "m", "s"}, "da 71 62 00 01 83 61 45 61 6d 61 73"},
  };
  for (const auto &[value, expected] : cases) {
    EXPECT_EQ(to_hex(encode_cbor(value)), expected) << to_json(value);
  }
}

TEST(CborEncodeTest, ErrorTagIsTheAbiConstant) {
  EXPECT_EQ(QB_CBOR_TAG_ERROR, 0x71620001u);
  EXPECT_EQ(encode_cbor(ErrorValue{}), hex("da 71 62 00 01 83 60 60 60"));
}

TEST(CborEncodeTest, AppendingOverloadKeepsWhatWasThere) {
  std::vector<uint8_t> out = {0xaa};
  encode_cbor(Value(1), out);
  encode_cbor(Value(true), out);
  EXPECT_EQ(to_hex(out), "aa 01 f5");
}

TEST(CborEncodeTest, RefusesInvalidUtf8NamingThePath) {
  const Value value = obj({{"a", arr({1, 2, "ok", std::string("bad\xff")})}});
  try {
    encode_cbor(value);
    FAIL() << "encoded invalid UTF-8";
  } catch (const std::invalid_argument &e) {
    EXPECT_STREQ(e.what(), "the string at $.a[3] is not valid UTF-8 (byte 0xFF at offset 3)");
  }
  // overlong NUL, a surrogate, beyond U+10FFFF, a cut sequence, a lone continuation byte
  for (const std::string &bad : std::vector<std::string>{"\xc0\x80", "\xed\xa0\x80",
                                                         "\xf4\x90\x80\x80", "\xe2\x82", "\x80"}) {
    EXPECT_THROW(encode_cbor(Value(bad)), std::invalid_argument)
        << to_hex({bad.begin(), bad.end()});
  }
}

TEST(CborEncodeTest, RefusesInvalidUtf8InKeysAndErrorFields) {
  try {
    encode_cbor(obj({{"x y", obj({{"\xfe", 1}})}}));
    FAIL();
  } catch (const std::invalid_argument &e) {
    EXPECT_STREQ(e.what(), "the object key at $[\"x y\"][\"\xEF\xBF\xBD\"] is not valid UTF-8 "
                           "(byte 0xFE at offset 0)");
  }
  try {
    encode_cbor(arr({ErrorValue{"Error", "m\xff", ""}}));
    FAIL();
  } catch (const std::invalid_argument &e) {
    EXPECT_STREQ(e.what(), "the string at $[0].message is not valid UTF-8 (byte 0xFF at offset 1)");
  }
}

TEST(CborEncodeTest, RefusesDuplicateKeysAndLeavesTheOutputUntouched) {
  std::vector<uint8_t> out = {0x01};
  try {
    encode_cbor(obj({{"list", arr({obj({{"k", 1}, {"j", 2}, {"k", 3}})})}}), out);
    FAIL();
  } catch (const std::invalid_argument &e) {
    EXPECT_STREQ(e.what(), "the object at $.list[0] has the key \"k\" more than once");
  }
  EXPECT_EQ(out, std::vector<uint8_t>{0x01});

  Value::Object many;  // large enough to take the hashed path
  for (int i = 0; i < 40; i++) many.emplace_back("key" + std::to_string(i), i);
  EXPECT_NO_THROW(encode_cbor(Value(many)));
  many.emplace_back("key7", 0);
  EXPECT_THROW(encode_cbor(Value(many)), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// CBOR: round trips
// ---------------------------------------------------------------------------------------------

TEST(CborRoundTripTest, EveryTypeComesBackEqual) {
  const Value values[] = {
      Value(),
      Value(nullptr),
      Value(true),
      Value(false),
      Value(0),
      Value(9007199254740992.0),
      Value(-9007199254740992.0),
      Value(9007199254740993.0 + 2),
      Value(0.1),
      Value(1e300),
      Value(-1e-300),
      Value(5e-324),
      Value(HUGE_VAL),
      Value(-HUGE_VAL),
      Value(BigInt::from_decimal(kTwoTo200)),
      Value(BigInt::from_decimal("-" + kTwoTo200)),
      Value(BigInt::from_int64(-1)),
      Value(BigInt::from_int64(0)),
      Value(BigInt::from_int64(INT64_MIN)),
      Value(""),
      Value("héllo wörld 日本 😀𝄞"),
      Value(std::string("nul\0inside", 10)),
      bytes({}),
      bytes({0, 255, 1}),
      arr({}),
      arr({1, "two", arr({Value(), nullptr}), obj({{"k", bytes({9})}})}),
      obj({}),
      obj({{"zeta", 1}, {"alpha", 2}, {"mid", 3}, {"", 4}, {"__proto__", 5}}),
      Value(ErrorValue{"TypeError", "boom", "    at f (x.js:1:1)\n"}),
      Value(ErrorValue{"", "", ""}),
  };
  for (const Value &value : values) {
    EXPECT_EQ(round_trip(value), value) << to_json(value);
  }
}

TEST(CborRoundTripTest, NegativeZeroAndNaNKeepTheirIdentity) {
  const Value zero = round_trip(Value(-0.0));
  ASSERT_TRUE(zero.is_number());
  EXPECT_TRUE(std::signbit(zero.as_number()));
  const Value nan = round_trip(Value(std::nan("")));
  ASSERT_TRUE(nan.is_number());
  EXPECT_TRUE(std::isnan(nan.as_number()));
}

TEST(CborRoundTripTest, ObjectKeyOrderIsPreserved) {
  const Value value = round_trip(obj({{"c", 1}, {"a", 2}, {"b", 3}}));
  std::vector<std::string> keys;
  for (const auto &entry : value.as_object()) keys.push_back(entry.first);
  EXPECT_EQ(keys, (std::vector<std::string>{"c", "a", "b"}));
}

TEST(CborRoundTripTest, LargeCollectionsSurvive) {
  Value::Array items;
  Value::Object entries;
  for (int i = 0; i < 5000; i++) {
    items.emplace_back(i * 1.5);
    entries.emplace_back("k" + std::to_string(i), i);
  }
  EXPECT_EQ(round_trip(Value(items)), Value(items));
  EXPECT_EQ(round_trip(Value(entries)), Value(entries));
}

TEST(CborRoundTripTest, DepthAtTheLimitIsAccepted) {
  Decoded decoded = decode_cbor(nested_arrays(256));
  ASSERT_TRUE(decoded.ok) << decoded.error;
  const Value *v = &decoded.value;
  for (int i = 0; i < 256; i++) v = &v->as_array()[0];
  EXPECT_EQ(*v, Value(0));
}

// ---------------------------------------------------------------------------------------------
// CBOR: what the decoder accepts beyond what the encoder writes
// ---------------------------------------------------------------------------------------------

TEST(CborDecodeTest, AcceptsEveryIntegerWidthAndFloatSize) {
  const std::pair<std::string, double> cases[] = {
      {"18 ff", 255},
      {"19 01 00", 256},
      {"1a 00 01 00 00", 65536},
      {"1b 00 20 00 00 00 00 00 00", 9007199254740992.0},
      {"38 ff", -256},
      {"39 01 00", -257},
      {"3a 00 01 00 00", -65537},
      {"3b 00 1f ff ff ff ff ff ff", -9007199254740992.0},
      {"f9 3c 00", 1.0},
      {"f9 c4 00", -4.0},
      {"f9 00 01", 5.960464477539063e-8},  // smallest half subnormal
      {"f9 7c 00", HUGE_VAL},
      {"fa 3f c0 00 00", 1.5},
      {"fa ff 80 00 00", -HUGE_VAL},
      {"fb 3f b9 99 99 99 99 99 9a", 0.1},
  };
  for (const auto &[input, expected] : cases) {
    Decoded decoded = decode_cbor(hex(input));
    ASSERT_TRUE(decoded.ok) << input << ": " << decoded.error;
    EXPECT_EQ(decoded.value, Value(expected)) << input;
  }
  Decoded half_nan = decode_cbor(hex("f9 7e 00"));
  ASSERT_TRUE(half_nan.ok);
  EXPECT_TRUE(std::isnan(half_nan.value.as_number()));
}

TEST(CborDecodeTest, NormalisesBignumsAndAcceptsTwoFieldErrors) {
  Decoded padded = decode_cbor(hex("c3 43 00 00 ff"));  // -1 - 255
  ASSERT_TRUE(padded.ok) << padded.error;
  EXPECT_EQ(padded.value, Value(BigInt::from_int64(-256)));
  Decoded carry = decode_cbor(hex("c3 42 ff ff"));  // -1 - 65535 needs a third byte
  ASSERT_TRUE(carry.ok) << carry.error;
  EXPECT_EQ(carry.value, Value(BigInt::from_int64(-65536)));

  Decoded error = decode_cbor(hex("da 71 62 00 01 82 61 45 61 6d"));
  ASSERT_TRUE(error.ok) << error.error;
  EXPECT_EQ(error.value, Value(ErrorValue{"E", "m", ""}));
}

TEST(CborDecodeTest, ContainersClosingTogetherNestCorrectly) {
  // {"a": [[], {"b": [1]}], "c": 2}
  Decoded decoded = decode_cbor(hex("a2 61 61 82 80 a1 61 62 81 01 61 63 02"));
  ASSERT_TRUE(decoded.ok) << decoded.error;
  EXPECT_EQ(decoded.value, obj({{"a", arr({arr({}), obj({{"b", arr({1})}})})}, {"c", 2}}));
}

// ---------------------------------------------------------------------------------------------
// CBOR: every rejection, with its message and byte offset
// ---------------------------------------------------------------------------------------------

TEST(CborDecodeTest, RejectsIncompleteOrExtraInput) {
  EXPECT_EQ(rejection(""), "empty input (expected one CBOR value) at byte 0");
  EXPECT_EQ(rejection("19 01"),
            "truncated input: the item's head needs 3 bytes but only 2 remain at byte 0");
  EXPECT_EQ(rejection("82 82 01 02"), "truncated input: the value is incomplete at byte 4");
  EXPECT_EQ(rejection("a1 61 61"), "truncated input: the value is incomplete at byte 3");
  EXPECT_EQ(rejection("c2"), "truncated input: the value is incomplete at byte 1");
  EXPECT_EQ(rejection("81 63 61 62"),
            "truncated input: a text string of 3 bytes but only 2 remain at byte 1");
  EXPECT_EQ(rejection("81 42 01"),
            "truncated input: a byte string of 2 bytes but only 1 remain at byte 1");
  EXPECT_EQ(rejection("01 02"), "trailing bytes after the value (1 byte) at byte 1");
  EXPECT_EQ(rejection("01 02 03"), "trailing bytes after the value (2 bytes) at byte 1");
}

TEST(CborDecodeTest, RejectsIndefiniteLengths) {
  EXPECT_EQ(rejection("9f ff"),
            "indefinite-length array (only definite lengths are accepted) at byte 0");
  EXPECT_EQ(rejection("81 bf ff"),
            "indefinite-length map (only definite lengths are accepted) at byte 1");
  EXPECT_EQ(rejection("5f ff"),
            "indefinite-length byte string (only definite lengths are accepted) at byte 0");
  EXPECT_EQ(rejection("7f ff"),
            "indefinite-length text string (only definite lengths are accepted) at byte 0");
  EXPECT_EQ(rejection("ff"), "unexpected break (0xff) at byte 0");
}

TEST(CborDecodeTest, ReadsDatesAndHandles) {
  EXPECT_EQ(round_trip(Value(Date{1500})), Value(Date{1500}));
  EXPECT_EQ(decode_cbor(hex("c1 18 2a")).value, Value(Date{42000})) << "tag 1: seconds since 1970";
  EXPECT_EQ(round_trip(Value(Handle{7})), Value(Handle{7}));
  EXPECT_EQ(to_hex(encode_cbor(Value(Handle{7}))), "da 71 62 00 02 07");
  EXPECT_EQ(rejection("c1 61 78"), "the date tag (1) must wrap a number of seconds at byte 1");
  EXPECT_EQ(rejection("da 71 62 00 02 61 78"), "the handle tag must wrap an unsigned integer at byte 5");
  EXPECT_EQ(to_json(Value(Value::Array{Value(Date{5}), Value(Handle{3})})), "[{\"$date\":5},{\"$handle\":3}]");
}

TEST(CborDecodeTest, RejectsTagsSimpleValuesAndReservedHeadsOutsideTheMapping) {
  EXPECT_EQ(rejection("c4 00"), "unsupported tag 4 at byte 0");
  EXPECT_EQ(rejection("d8 20 60"), "unsupported tag 32 at byte 0");
  EXPECT_EQ(rejection("82 01 c6 00"), "unsupported tag 6 (0xC6) at byte 2");
  EXPECT_EQ(rejection("e0"), "unsupported simple value (0xE0) at byte 0");
  EXPECT_EQ(rejection("f8 20"), "unsupported simple value (0xF8) at byte 0");
  EXPECT_EQ(rejection("1c"), "reserved additional information in the head 0x1C at byte 0");
  EXPECT_EQ(rejection("fc"), "reserved additional information in the head 0xFC at byte 0");
  EXPECT_EQ(rejection("3f"), "reserved additional information in the head 0x3F at byte 0");
}

TEST(CborDecodeTest, RejectsIntegersBeyondTwoToThe53) {
  EXPECT_EQ(rejection("1b 00 20 00 00 00 00 00 01"),
            "integer 9007199254740993 is beyond 2^53 (send a BigInt) at byte 0");
  EXPECT_EQ(rejection("81 3b 00 20 00 00 00 00 00 00"),
            "integer -9007199254740993 is beyond -2^53 (send a BigInt) at byte 1");
  EXPECT_EQ(rejection("3b ff ff ff ff ff ff ff ff"),
            "integer -18446744073709551616 is beyond -2^53 (send a BigInt) at byte 0");
}

TEST(CborDecodeTest, RejectsBadMapsAndText) {
  EXPECT_EQ(rejection("a1 01 01"), "map keys must be text strings at byte 1");
  EXPECT_EQ(rejection("a1 c2 40 01"), "map keys must be text strings at byte 1");
  EXPECT_EQ(rejection("a2 61 61 01 61 61 02"), "duplicate map key \"a\" at byte 4");
  EXPECT_EQ(rejection("62 c3 28"), "text string is not valid UTF-8 (its byte 0 is 0xC3) at byte 0");
  EXPECT_EQ(rejection("a1 63 ed a0 80 01"),
            "text string is not valid UTF-8 (its byte 0 is 0xED) at byte 1");
  EXPECT_EQ(rejection("62 c0 80"), "text string is not valid UTF-8 (its byte 0 is 0xC0) at byte 0");

  std::vector<uint8_t> big_map = {0xb8, 40};  // 40 entries: the hashed duplicate check
  for (int i = 0; i < 40; i++) {
    const std::string key = "k" + std::to_string(i % 30);
    big_map.push_back(static_cast<uint8_t>(0x60 + key.size()));
    big_map.insert(big_map.end(), key.begin(), key.end());
    big_map.push_back(0x00);
  }
  EXPECT_EQ(rejection(big_map).substr(0, 23), "duplicate map key \"k0\" ");
}

TEST(CborDecodeTest, RejectsMalformedBignumsAndErrors) {
  EXPECT_EQ(rejection("c2 01"), "a bignum tag (2 or 3) must wrap a byte string at byte 1");
  EXPECT_EQ(rejection("c2 c2 40"), "a bignum tag (2 or 3) must wrap a byte string at byte 1");
  EXPECT_EQ(rejection("da 71 62 00 01 61 61"),
            "the error tag must wrap an array of [name, message, stack] at byte 5");
  EXPECT_EQ(rejection("da 71 62 00 01 81 61 61"),
            "the error tag must wrap an array of [name, message, stack], not 1 items at byte 5");
  EXPECT_EQ(rejection("da 71 62 00 01 84 60 60 60 60"),
            "the error tag must wrap an array of [name, message, stack], not 4 items at byte 5");
  EXPECT_EQ(rejection("da 71 62 00 01 82 61 61 01"), "error fields must be text strings at byte 8");
  EXPECT_EQ(rejection("da 71 62 00 01 82 61 61 81 60"),
            "error fields must be text strings at byte 8");
}

TEST(CborDecodeTest, HostileLengthHeadersFailBeforeAllocating) {
  EXPECT_EQ(rejection("9b 10 00 00 00 00 00 00 00"),
            "array length 1152921504606846976 exceeds remaining input (0 bytes) at byte 0");
  EXPECT_EQ(rejection("81 9a ff ff ff ff 01 02"),
            "array length 4294967295 exceeds remaining input (2 bytes) at byte 1");
  EXPECT_EQ(rejection("bb 10 00 00 00 00 00 00 00 60 00"),
            "map of 1152921504606846976 entries exceeds remaining input (2 bytes) at byte 0");
  EXPECT_EQ(rejection("7b 10 00 00 00 00 00 00 00 61"),
            "truncated input: a text string of 1152921504606846976 bytes but only 1 remain at byte 0");
  EXPECT_EQ(rejection("5b ff ff ff ff ff ff ff ff"),
            "truncated input: a byte string of 18446744073709551615 bytes but only 0 remain at byte 0");
}

TEST(CborDecodeTest, DeepNestingFailsCleanlyWithTheDepthMessage) {
  EXPECT_EQ(rejection(nested_arrays(10000)),
            "value nests deeper than the limit of 256 levels at byte 256");
  EXPECT_EQ(rejection(nested_arrays(257)),
            "value nests deeper than the limit of 256 levels at byte 256");
  std::vector<uint8_t> maps;
  for (int i = 0; i < 10000; i++) maps.insert(maps.end(), {0xa1, 0x60});
  maps.push_back(0x00);
  EXPECT_EQ(rejection(maps), "value nests deeper than the limit of 256 levels at byte 512");
}

TEST(CborDecodeTest, MaxItemsCountsEveryValueAndKeyBeforeBuildingMore) {
  DecodeLimits few;
  few.max_items = 4;
  EXPECT_TRUE(decode_cbor(hex("83 01 02 03"), few).ok) << "the array and its three elements";
  EXPECT_EQ(rejection(hex("84 01 02 03 04"), few), "more than 4 values at byte 4");
  EXPECT_TRUE(decode_cbor(hex("a1 61 6b 81 01"), few).ok) << "map, key, array, element";
  EXPECT_EQ(rejection(hex("a1 61 6b 82 01 02"), few), "more than 4 values at byte 5");
}

TEST(CborDecodeTest, EnforcesCallerLimits) {
  DecodeLimits shallow;
  shallow.max_depth = 2;
  EXPECT_TRUE(decode_cbor(hex("81 81 01"), shallow).ok);
  EXPECT_TRUE(decode_cbor(hex("81 c3 40"), shallow).ok) << "bignum tags do not add depth";
  EXPECT_TRUE(decode_cbor(hex("81 da 71 62 00 01 82 60 60"), shallow).ok) << "nor do errors";
  EXPECT_EQ(rejection(hex("81 81 80"), shallow),
            "value nests deeper than the limit of 2 levels at byte 2");
  EXPECT_EQ(rejection(hex("81 81 a0"), shallow),
            "value nests deeper than the limit of 2 levels at byte 2");

  DecodeLimits small;
  small.max_bytes = 4;
  EXPECT_TRUE(decode_cbor(hex("83 01 02 03"), small).ok);
  EXPECT_EQ(rejection(hex("84 01 02 03 04"), small),
            "the input is 5 bytes, over the limit of 4 bytes");
}

TEST(CborDecodeTest, EveryPrefixOfAValidEncodingIsRefusedCleanly) {
  const std::vector<uint8_t> encoded = encode_cbor(obj({
      {"n", arr({1, -300, 1.5, 70000, BigInt::from_decimal("-" + kTwoTo200)})},
      {"s", "héllo 😀"},
      {"b", bytes({1, 2, 3})},
      {"e", ErrorValue{"TypeError", "boom", "at x"}},
      {"o", obj({{"deep", arr({arr({nullptr, Value(), true})})}})},
  }));
  ASSERT_TRUE(decode_cbor(encoded).ok);
  for (size_t n = 0; n < encoded.size(); n++) {
    const std::vector<uint8_t> prefix(encoded.begin(), encoded.begin() + static_cast<ptrdiff_t>(n));
    Decoded decoded = decode_cbor(prefix);
    EXPECT_FALSE(decoded.ok) << "prefix of " << n << " bytes";
    EXPECT_NE(decoded.error.find(" at byte "), std::string::npos) << decoded.error;
  }
}

TEST(CborDecodeTest, RandomCorruptionNeverCrashesAndAlwaysExplains) {
  const std::vector<uint8_t> encoded = encode_cbor(obj({
      {"list", arr({1, 2.5, "three", bytes({4}), BigInt::from_int64(-5), nullptr})},
      {"error", ErrorValue{"Error", "x", "y"}},
  }));
  std::mt19937 random(12345);  // fixed seed: the same inputs on every run
  for (int round = 0; round < 20000; round++) {
    std::vector<uint8_t> input = encoded;
    const int flips = 1 + static_cast<int>(random() % 4);
    for (int i = 0; i < flips; i++) input[random() % input.size()] = static_cast<uint8_t>(random());
    Decoded decoded = decode_cbor(input);
    if (decoded.ok) {
      EXPECT_NO_THROW(encode_cbor(decoded.value)) << "accepted values must be encodable";
    } else {
      EXPECT_FALSE(decoded.error.empty());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

TEST(ToJsonTest, FollowsJsonStringifyAndTheHeaderMapping) {
  // Node: JSON.stringify({s: "a\"b\\c\n\u0001\u007f é 😀",
  //                       n: [0, -0, 1.5, 1e21, NaN, Infinity, null],
  //                       u: [undefined], o: {x: undefined, y: 1}})
  const Value value = obj({
      {"s", "a\"b\\c\n\x01\x7f é 😀"},
      {"n", arr({0, -0.0, 1.5, 1e21, std::nan(""), HUGE_VAL, nullptr})},
      {"u", arr({Value()})},
      {"o", obj({{"x", Value()}, {"y", 1}})},
  });
  EXPECT_EQ(to_json(value),
            R"({"s":"a\"b\\c\n\u0001)" "\x7f" R"( é 😀",)"
            R"("n":[0,0,1.5,1e+21,null,null,null],"u":[null],"o":{"y":1}})");
}

TEST(ToJsonTest, MapsBigIntsBytesAndErrors) {
  EXPECT_EQ(to_json(Value(BigInt::from_decimal("-" + kTwoTo200))), "\"-" + kTwoTo200 + "\"");
  EXPECT_EQ(to_json(bytes({0, 1, 2, 250, 251, 252, 253})), R"({"$bytes":"AAEC+vv8/Q=="})");
  EXPECT_EQ(to_json(bytes({'a', 'b'})), R"({"$bytes":"YWI="})");
  EXPECT_EQ(to_json(bytes({})), R"({"$bytes":""})");
  EXPECT_EQ(to_json(ErrorValue{"TypeError", "boom", "  at f\n"}),
            R"({"name":"TypeError","message":"boom","stack":"  at f\n"})");
  EXPECT_EQ(to_json(Value()), "null");
  EXPECT_EQ(to_json(obj({})), "{}");
  EXPECT_EQ(to_json(arr({})), "[]");
  EXPECT_EQ(to_json(Value(0.1)), "0.1");
  EXPECT_EQ(to_json(Value(-1.5e-7)), "-1.5e-7");
}

TEST(ToJsonTest, TextThatIsNotUtf8BecomesReplacementCharacters) {
  // Host code can build such strings; the JSON written is UTF-8 whatever they hold.
  EXPECT_EQ(to_json(Value(std::string("a\xff" "b"))), "\"a\xEF\xBF\xBD" "b\"");
  EXPECT_EQ(to_json(obj({{std::string("k\xc3"), 1}})), "{\"k\xEF\xBF\xBD\":1}");
}

TEST(ParseJsonTest, ParsesEveryJsonConstruct) {
  Decoded parsed = parse_json(
      R"( {"a": [1, -2.5e3, 0, -0, true, false, null],)"
      R"( "s": "q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00",)"
      R"( "o": {}, "e": [], "z": 1E2})"
      "\n");
  ASSERT_TRUE(parsed.ok) << parsed.error;
  EXPECT_EQ(parsed.value, obj({
                              {"a", arr({1, -2500, 0, -0.0, true, false, nullptr})},
                              {"s", "q\"\\/\b\f\n\r\t\u00e9😀"},
                              {"o", obj({})},
                              {"e", arr({})},
                              {"z", 100},
                          }));
  EXPECT_TRUE(std::signbit(parsed.value.find("a")->as_array()[3].as_number()));
}

TEST(ParseJsonTest, NumbersAreDoublesLikeJsonParse) {
  // Node: JSON.parse("-1e-400") === -0, "123e306" is 1.23e+308, integers round to the nearest double
  EXPECT_EQ(parse_json("0.000001e-320").value, Value(0.0));
  const Value tiny = parse_json("-1e-400").value;
  EXPECT_TRUE(tiny.as_number() == 0 && std::signbit(tiny.as_number()));
  const Value negative_zero = parse_json("-0").value;
  EXPECT_TRUE(negative_zero.as_number() == 0 && std::signbit(negative_zero.as_number()));
  EXPECT_FALSE(std::signbit(parse_json("0").value.as_number()));
  EXPECT_EQ(parse_json("123e306").value, Value(1.23e308));
  EXPECT_EQ(parse_json("1e-310").value, Value(1e-310));
  EXPECT_EQ(parse_json("9007199254740993").value, Value(9007199254740992.0));
  EXPECT_EQ(parse_json("-9007199254740993").value, Value(-9007199254740992.0));
  EXPECT_EQ(parse_json("18446744073709551617").value, Value(18446744073709551616.0)) << "beyond 64 bits";
}

TEST(ParseJsonTest, NumbersBeyondTheRangeOfADoubleAreRefused) {
  // JSON.parse makes them Infinity, which no JSON text can carry back (to_json writes null).
  EXPECT_EQ(json_rejection("[1, 1e400]"), "invalid JSON at line 1, column 9: number overflow parsing '1e400'");
  EXPECT_EQ(json_rejection("-1e400"), "invalid JSON at line 1, column 6: number overflow parsing '-1e400'");
}

TEST(ParseJsonTest, RepeatedKeysKeepTheFirstPositionAndTheLastValue) {
  // Node: JSON.stringify(JSON.parse('{"a":1,"b":2,"a":3}')) === '{"a":3,"b":2}'
  EXPECT_EQ(parse_json(R"({"a":1,"b":2,"a":3})").value, obj({{"a", 3}, {"b", 2}}));
}

TEST(ParseJsonTest, RepeatedKeysAreRefusedWhenAskedNamingTheKeyAndTheObject) {
  const JsonOptions refuse{.refuse_duplicate_keys = true};
  EXPECT_EQ(parse_json(R"({"c": {"p": {"r": true, "r": false}}})", refuse).error,
            "duplicate key \"r\" in the object at $.c.p: each key may appear once");
  EXPECT_EQ(parse_json(R"({"c": [1, {"p": 1, "p": 2}]})", refuse).error,
            "duplicate key \"p\" in the object at $.c[1]: each key may appear once");
  EXPECT_EQ(parse_json(R"({"p": 1, "\u0070": 2})", refuse).error,
            "duplicate key \"p\" in the object at $: each key may appear once")
      << "keys are compared decoded";
  EXPECT_TRUE(parse_json(R"({"a": {"k": 1}, "b": {"k": 2}})", refuse).ok) << "one key in two objects";
}

// The explanations are nlohmann/json's; the place is ours, counted in characters.
TEST(ParseJsonTest, ErrorsNameLineAndColumnAndWhatWasWrong) {
  EXPECT_EQ(json_rejection(""),
            "invalid JSON at line 1, column 1: syntax error while parsing value - unexpected end of input; "
            "expected '[', '{', or a literal");
  EXPECT_EQ(json_rejection("{\"a\":1,}"),
            "invalid JSON at line 1, column 8: syntax error while parsing object key - unexpected '}'; "
            "expected string literal");
  EXPECT_EQ(json_rejection("[1,\n  2,\n  x]"),
            "invalid JSON at line 3, column 3: syntax error while parsing value - invalid literal; "
            "last read: '2,<U+000A>  x'");
  EXPECT_EQ(json_rejection("[1 2]"),
            "invalid JSON at line 1, column 4: syntax error while parsing array - unexpected number literal; "
            "expected ']'");
  EXPECT_EQ(json_rejection("{\"é\":1 x"),
            "invalid JSON at line 1, column 8: syntax error while parsing object - invalid literal; "
            "last read: '1 x'; expected '}'");
  EXPECT_EQ(json_rejection("1 2"),
            "invalid JSON at line 1, column 3: syntax error while parsing value - unexpected number literal; "
            "expected end of input");
  EXPECT_EQ(json_rejection("\"abc"),
            "invalid JSON at line 1, column 5: syntax error while parsing value - invalid string: missing "
            "closing quote; last read: '\"abc'");
  EXPECT_EQ(json_rejection("\"a\tb\""),
            "invalid JSON at line 1, column 3: syntax error while parsing value - invalid string: control "
            "character U+0009 (HT) must be escaped to \\u0009 or \\t; last read: '\"a<U+0009>'");
  EXPECT_EQ(json_rejection("\"\\u12G4\""),
            "invalid JSON at line 1, column 6: syntax error while parsing value - invalid string: '\\u' must "
            "be followed by 4 hex digits; last read: '\"\\u12G'");
  EXPECT_TRUE(json_rejection("\"\xff\"").starts_with(
      "invalid JSON at line 1, column 2: syntax error while parsing value - invalid string: ill-formed UTF-8 byte"));
  EXPECT_EQ(json_rejection("01"),
            "invalid JSON at line 1, column 2: syntax error while parsing value - unexpected number literal; "
            "expected end of input");
  EXPECT_EQ(json_rejection("1."),
            "invalid JSON at line 1, column 3: syntax error while parsing value - invalid number; expected "
            "digit after '.'; last read: '1.'");
  EXPECT_EQ(json_rejection("NaN"),
            "invalid JSON at line 1, column 1: syntax error while parsing value - invalid literal; last read: 'N'");
}

TEST(ParseJsonTest, RefusesLoneSurrogates) {
  EXPECT_EQ(json_rejection(R"("ab\ud800")"),
            "invalid JSON at line 1, column 10: syntax error while parsing value - invalid string: surrogate "
            "U+D800..U+DBFF must be followed by U+DC00..U+DFFF; last read: '\"ab\\ud800\"'");
  EXPECT_EQ(json_rejection(R"("\udc00\ud800")"),
            "invalid JSON at line 1, column 7: syntax error while parsing value - invalid string: surrogate "
            "U+DC00..U+DFFF must follow U+D800..U+DBFF; last read: '\"\\udc00'");
  EXPECT_TRUE(json_rejection(R"("\ud800\u0041")").starts_with("invalid JSON at line 1, column 13:"));
}

TEST(ParseJsonTest, CapsNestingAt256Levels) {
  EXPECT_TRUE(parse_json(std::string(256, '[') + std::string(256, ']')).ok);
  EXPECT_EQ(json_rejection(std::string(10000, '[')),
            "invalid JSON at line 1, column 257: value nests deeper than the limit of 256 levels");
  std::string objects;
  for (int i = 0; i < 300; i++) objects += "{\"a\":";
  EXPECT_EQ(json_rejection(objects),
            "invalid JSON at line 1, column 1281: value nests deeper than the limit of 256 levels");
}

TEST(JsonRoundTripTest, ParseJsonReadsWhatToJsonWrites) {
  const Value value = obj({{"text", "tab\there \x01 é 😀"},
                           {"list", arr({1, 0.5, -3e-9, true, nullptr})},
                           {"nested", obj({{"k", arr({})}})}});
  Decoded parsed = parse_json(to_json(value));
  ASSERT_TRUE(parsed.ok) << parsed.error;
  EXPECT_EQ(parsed.value, value);
}

}  // namespace
}  // namespace quickbox
