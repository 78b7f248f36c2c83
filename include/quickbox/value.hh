/// \file value.hh
/// \brief quickbox::Value: the data that crosses the sandbox boundary, its CBOR codec and its
/// JSON text. To show a value to people as JavaScript would, use Sandbox::format.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace quickbox {

class Value;

/// JavaScript `undefined` (distinct from `null`).
struct Undefined {
  friend bool operator==(Undefined, Undefined) = default;
};

/// A JavaScript BigInt of any size: sign and big-endian magnitude without leading zero bytes.
/// It crosses the sandbox boundary in binary (a CBOR bignum), in time linear in its size, and
/// at most Limits::bigint_bytes of magnitude.
struct BigInt {
  bool negative = false;
  std::vector<uint8_t> magnitude;

  /// From a 64-bit integer.
  static BigInt from_int64(int64_t v);
  /// From a decimal string such as "-123456789012345678901234567890"; throws
  /// std::invalid_argument naming the offending character when the text is not an integer.
  /// Quadratic in the number of digits: meant for numbers the host itself writes.
  static BigInt from_decimal(std::string_view text);
  /// Decimal text, e.g. "-42". Quadratic in the size of the magnitude (about 0.1 s for
  /// 100 KiB): check magnitude.size() first, or use to_hex(), for numbers from a sandbox.
  std::string to_decimal() const;
  /// Hexadecimal text as JavaScript writes a literal, e.g. "-0x2a"; linear time.
  std::string to_hex() const;
  friend bool operator==(const BigInt &, const BigInt &) = default;
};

/// Bytes: a JavaScript Uint8Array (ArrayBuffers arrive as Uint8Array too).
struct Bytes {
  std::vector<uint8_t> data;
  friend bool operator==(const Bytes &, const Bytes &) = default;
};

/// A JavaScript Error reduced to its three strings.
struct ErrorValue {
  std::string name;
  std::string message;
  std::string stack;
  friend bool operator==(const ErrorValue &, const ErrorValue &) = default;
};

/// A date going into the sandbox, where it becomes a JavaScript Date (a Date leaving the sandbox
/// arrives as its ISO text, as JSON.stringify writes it).
struct Date {
  double epoch_ms = 0;  ///< milliseconds since 1970-01-01T00:00:00Z
  friend bool operator==(const Date &, const Date &) = default;
};

/// A JavaScript value the sandbox keeps pinned for the host, by id (Sandbox's handle operations).
/// It refers to that one sandbox's value until Sandbox::release(); an id the sandbox does not know
/// (released, or another sandbox's) is refused, never mistaken for another value. Id 0 is the
/// global object (Handle::global()).
struct Handle {
  uint32_t id = 0;
  static constexpr Handle global() { return Handle{0}; }
  friend bool operator==(Handle, Handle) = default;
};

/// A JavaScript data value: undefined, null, boolean, number, BigInt, string (UTF-8), bytes,
/// array, plain object (keys in insertion order) or Error; or a Handle to a value pinned inside
/// (functions, symbols and other live objects never leave the sandbox: the host may only hold
/// them by handle). See abi/quickbox_abi.h for the exact wire mapping.
class Value {
 public:
  using Array = std::vector<Value>;
  /// Keys in JavaScript property order; duplicate keys are not allowed.
  using Object = std::vector<std::pair<std::string, Value>>;
  using Storage = std::variant<Undefined, std::nullptr_t, bool, double, BigInt, std::string, Bytes,
                               Array, Object, ErrorValue, Handle, Date>;

  /// `undefined`.
  Value() = default;
  Value(Undefined) {}
  Value(std::nullptr_t) : storage_(nullptr) {}
  Value(bool b) : storage_(b) {}
  Value(double d) : storage_(d) {}
  /// Integers become numbers; they are exact up to 2^53 (use BigInt beyond).
  Value(int i) : storage_(static_cast<double>(i)) {}
  Value(int64_t i) : storage_(static_cast<double>(i)) {}
  Value(BigInt b) : storage_(std::move(b)) {}
  Value(std::string s) : storage_(std::move(s)) {}
  Value(std::string_view s) : storage_(std::string(s)) {}
  Value(const char *s) : storage_(std::string(s)) {}
  Value(Bytes b) : storage_(std::move(b)) {}
  Value(Array a) : storage_(std::move(a)) {}
  Value(Object o) : storage_(std::move(o)) {}
  Value(ErrorValue e) : storage_(std::move(e)) {}
  Value(Handle h) : storage_(h) {}
  Value(Date d) : storage_(d) {}

  bool is_undefined() const { return std::holds_alternative<Undefined>(storage_); }
  bool is_null() const { return std::holds_alternative<std::nullptr_t>(storage_); }
  bool is_bool() const { return std::holds_alternative<bool>(storage_); }
  bool is_number() const { return std::holds_alternative<double>(storage_); }
  bool is_bigint() const { return std::holds_alternative<BigInt>(storage_); }
  bool is_string() const { return std::holds_alternative<std::string>(storage_); }
  bool is_bytes() const { return std::holds_alternative<Bytes>(storage_); }
  bool is_array() const { return std::holds_alternative<Array>(storage_); }
  bool is_object() const { return std::holds_alternative<Object>(storage_); }
  bool is_error() const { return std::holds_alternative<ErrorValue>(storage_); }
  bool is_handle() const { return std::holds_alternative<Handle>(storage_); }
  bool is_date() const { return std::holds_alternative<Date>(storage_); }

  /// Accessors; each throws std::bad_variant_access when the value holds another type.
  bool as_bool() const { return std::get<bool>(storage_); }
  double as_number() const { return std::get<double>(storage_); }
  const BigInt &as_bigint() const { return std::get<BigInt>(storage_); }
  const std::string &as_string() const { return std::get<std::string>(storage_); }
  const Bytes &as_bytes() const { return std::get<Bytes>(storage_); }
  const Array &as_array() const { return std::get<Array>(storage_); }
  const Object &as_object() const { return std::get<Object>(storage_); }
  const ErrorValue &as_error() const { return std::get<ErrorValue>(storage_); }
  Handle as_handle() const { return std::get<Handle>(storage_); }
  Date as_date() const { return std::get<Date>(storage_); }

  /// The property `key` of an object value, or nullptr when absent or not an object.
  const Value *find(std::string_view key) const;

  /// The underlying variant, for std::visit.
  const Storage &storage() const { return storage_; }

  friend bool operator==(const Value &, const Value &) = default;

 private:
  Storage storage_;
};

/// Limits applied when decoding CBOR that came from outside the process or from a guest.
struct DecodeLimits {
  uint32_t max_depth = 256;       ///< nesting of arrays and objects (tags do not count)
  uint64_t max_bytes = 64 << 20;  ///< size of the encoded input
  /// Items decoded (every value, map key and container counts one). A decoded value takes far
  /// more host memory than its one-byte encoding, so input from storage bounds this too.
  uint64_t max_items = UINT64_MAX;
  uint64_t max_bigint_bytes = UINT64_MAX;  ///< magnitude of one BigInt (beyond it: refused)
};

/// The outcome of decoding: a value, or a message that says what was wrong and at which byte.
struct Decoded {
  bool ok = false;
  Value value;
  std::string error;
};

/// Encodes a value as CBOR, following the mapping in abi/quickbox_abi.h.
/// Throws std::invalid_argument when a string is not valid UTF-8 or an object has a duplicate key,
/// naming the path of the offending value.
std::vector<uint8_t> encode_cbor(const Value &value);
/// Appends the CBOR encoding of value to out (same rules as encode_cbor).
void encode_cbor(const Value &value, std::vector<uint8_t> &out);

/// Decodes exactly one CBOR item. Never throws and never reads outside `bytes`; malformed,
/// truncated, over-deep or oversized input yields ok == false with a message.
Decoded decode_cbor(std::span<const uint8_t> bytes, const DecodeLimits &limits = {});

/// Converts a value to JSON text (for --json output). Undefined becomes null inside arrays and is
/// dropped from objects, like JSON.stringify; BigInts become decimal strings ("-42"), or "0x..."
/// hexadecimal strings beyond 1 KiB of magnitude (decimal conversion takes quadratic time);
/// bytes become {"$bytes": "<base64>"}; errors become {"name", "message", "stack"}; handles {"$handle": id}; dates {"$date": ms}; NaN and
/// Infinity become null.
std::string to_json(const Value &value);

/// How parse_json treats an object that has the same key twice.
struct JsonOptions {
  /// false: the key keeps its first position and takes the last value, as JSON.parse does.
  /// true: the text is refused, naming the key and the object ("$.capabilities.publish"), for
  /// files where a silently dropped entry would hurt (a manifest whose approval is overridden).
  bool refuse_duplicate_keys = false;
};

/// Parses JSON text into a value, as JSON.parse does: numbers become doubles (-0 included), and
/// nesting is limited to 256 levels. Numbers beyond the range of a double are refused (JSON.parse
/// would make them Infinity, which no JSON text can carry). Returns ok == false with a message
/// naming the line and column of the first error, or the object with a refused repeated key.
Decoded parse_json(std::string_view text, const JsonOptions &options = {});

}  // namespace quickbox
