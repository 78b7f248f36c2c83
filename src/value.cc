// quickbox::Value: the CBOR codec (abi/quickbox_abi.h), a port of Node's util.inspect for data
// values, and JSON conversion. BigInt conversions live in bigint.cc.
#include "quickbox/value.hh"
#include "bigint.hh"
#include "utf8.hh"

#include <cbor.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "quickbox_abi.h"

namespace quickbox {
namespace {

constexpr double kMaxSafeInteger = 9007199254740992.0;  // 2^53: the largest exactly-held integer
constexpr uint64_t kMaxSafeIntegerBits = uint64_t{1} << 53;

// =================================================================================================
// UTF-8
// =================================================================================================

}  // namespace

size_t internal::decode_utf8(std::string_view s, size_t i, char32_t &cp) {
  const auto lead = static_cast<uint8_t>(s[i]);
  if (lead < 0x80) {
    cp = lead;
    return 1;
  }
  size_t length;
  char32_t smallest;
  if ((lead & 0xe0) == 0xc0) {
    length = 2, cp = lead & 0x1f, smallest = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, cp = lead & 0x0f, smallest = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, cp = lead & 0x07, smallest = 0x10000;
  } else {
    return 0;
  }
  if (s.size() - i < length) return 0;
  for (size_t k = 1; k < length; k++) {
    const auto next = static_cast<uint8_t>(s[i + k]);
    if ((next & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (next & 0x3f);
  }
  if (cp < smallest || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return length;
}

size_t internal::find_invalid_utf8(std::string_view s) {
  char32_t cp;
  for (size_t i = 0; i < s.size();) {
    const size_t length = decode_utf8(s, i, cp);
    if (length == 0) return i;
    i += length;
  }
  return std::string_view::npos;
}

namespace {

using internal::decode_utf8;
using internal::find_invalid_utf8;

/// Code points of s; each byte that is not well-formed UTF-8 reads as U+FFFD, so text built by
/// host code can always be displayed.
std::u32string to_code_points(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  char32_t cp;
  for (size_t i = 0; i < s.size();) {
    const size_t length = decode_utf8(s, i, cp);
    out.push_back(length ? cp : U'\uFFFD');
    i += length ? length : 1;
  }
  return out;
}

void append_utf8(std::string &out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

/// JavaScript's String.prototype.length of UTF-8 text: UTF-16 code units.
size_t utf16_length(std::string_view s) {
  size_t units = 0;
  for (const char c : s) {
    const auto byte = static_cast<uint8_t>(c);
    if ((byte & 0xc0) != 0x80) units++;   // a lead byte or ASCII starts a code point
    if ((byte & 0xf8) == 0xf0) units++;   // four-byte sequences are surrogate pairs in UTF-16
  }
  return units;
}

std::string hex_byte(uint8_t byte) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  return {kDigits[byte >> 4], kDigits[byte & 15]};
}

// =================================================================================================
// JavaScript Number::toString (radix 10)
// =================================================================================================

/// Formats d as JavaScript's String(d) does: the shortest digits that round-trip, laid out with
/// the ECMAScript exponent rules (1e+21, 1e-7, 0.000001, 123456789012345680000).
std::string js_number_to_string(double d) {
  if (std::isnan(d)) return "NaN";
  if (d == 0) return "0";
  if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
  char buffer[64];
  const auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof buffer, d, std::chars_format::scientific);
  std::string_view scientific(buffer, static_cast<size_t>(end - buffer));  // e.g. "-1.5e-07"
  std::string out;
  if (scientific.front() == '-') {
    out = "-";
    scientific.remove_prefix(1);
  }
  const size_t e = scientific.find('e');
  std::string digits;
  for (const char c : scientific.substr(0, e)) {
    if (c != '.') digits += c;
  }
  std::string_view exponent_text = scientific.substr(e + 1);
  const bool negative_exponent = exponent_text.front() == '-';
  if (exponent_text.front() == '-' || exponent_text.front() == '+') exponent_text.remove_prefix(1);
  int exponent = 0;
  std::from_chars(exponent_text.data(), exponent_text.data() + exponent_text.size(), exponent);
  if (negative_exponent) exponent = -exponent;

  // In the spec's terms: value = digits × 10^(n - k).
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  if (k <= n && n <= 21) return out + digits + std::string(static_cast<size_t>(n - k), '0');
  if (0 < n && n <= 21) return out + digits.substr(0, n) + "." + digits.substr(n);
  if (-6 < n && n <= 0) return out + "0." + std::string(static_cast<size_t>(-n), '0') + digits;
  out += digits[0];
  if (k > 1) out += "." + digits.substr(1);
  out += n - 1 >= 0 ? "e+" : "e-";
  return out + std::to_string(std::abs(n - 1));
}

// =================================================================================================
// CBOR encoder
// =================================================================================================

/// One step of the path from the root to the value being encoded, for error messages.
struct PathStep {
  enum class Kind { Index, Key } kind;
  size_t index = 0;
  std::string_view key;
};

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

/// A key that reads as `.key` in a path: a JavaScript identifier made of ASCII.
bool is_identifier(std::string_view key) {
  if (key.empty() || !(is_ascii_letter(key[0]) || key[0] == '_' || key[0] == '$')) return false;
  return std::all_of(key.begin() + 1, key.end(), [](char c) {
    return is_ascii_letter(c) || is_ascii_digit(c) || c == '_' || c == '$';
  });
}

std::string json_quote(std::string_view s);

/// "$.a[2]['b c']": the path as a JavaScript accessor chain.
std::string format_path(const std::vector<PathStep> &path) {
  std::string out = "$";
  for (const PathStep &step : path) {
    if (step.kind == PathStep::Kind::Index) {
      out += "[" + std::to_string(step.index) + "]";
    } else if (is_identifier(step.key)) {
      out += "." + std::string(step.key);
    } else {
      out += "[" + json_quote(step.key) + "]";
    }
  }
  return out;
}

class CborWriter {
 public:
  explicit CborWriter(std::vector<uint8_t> &out) : out_(out) {}

  void write(const Value &value) {
    std::visit([this](const auto &item) { write_item(item); }, value.storage());
  }

 private:
  static constexpr size_t kMaxHeadSize = 9;

  /// Appends one head written by a libcbor encoder: encode(buffer, size) -> bytes written.
  template <typename Encode>
  void head(Encode encode) {
    unsigned char buffer[kMaxHeadSize];
    const size_t written = encode(buffer, kMaxHeadSize);
    out_.insert(out_.end(), buffer, buffer + written);
  }

  void append(const void *data, size_t size) {
    const auto *bytes = static_cast<const uint8_t *>(data);
    out_.insert(out_.end(), bytes, bytes + size);
  }

  void write_item(Undefined) { head(cbor_encode_undef); }
  void write_item(std::nullptr_t) { head(cbor_encode_null); }
  void write_item(bool b) {
    head([b](unsigned char *buffer, size_t size) { return cbor_encode_bool(b, buffer, size); });
  }

  void write_item(double d) {
    const bool exact_integer = d == std::floor(d) && std::fabs(d) <= kMaxSafeInteger &&
                               !(d == 0 && std::signbit(d));
    if (!exact_integer) {
      head([d](unsigned char *buffer, size_t size) { return cbor_encode_double(d, buffer, size); });
    } else if (d >= 0) {
      const auto n = static_cast<uint64_t>(d);
      head([n](unsigned char *buffer, size_t size) { return cbor_encode_uint(n, buffer, size); });
    } else {
      const auto n = static_cast<uint64_t>(-d) - 1;  // major type 1 carries -1 - value
      head([n](unsigned char *buffer, size_t size) { return cbor_encode_negint(n, buffer, size); });
    }
  }

  void write_item(const BigInt &big) {
    const uint64_t tag = big.negative && internal::magnitude_size(big) != 0 ? 3 : 2;
    head([tag](unsigned char *buffer, size_t size) { return cbor_encode_tag(tag, buffer, size); });
    write_bytes(internal::bignum_from_bigint(big));
  }

  void write_item(const std::string &s) {
    check_utf8(s, "string");
    write_text(s);
  }

  void write_item(const Bytes &bytes) { write_bytes(bytes.data); }

  void write_item(const Value::Array &array) {
    const size_t count = array.size();
    head([count](unsigned char *b, size_t n) { return cbor_encode_array_start(count, b, n); });
    for (size_t i = 0; i < array.size(); i++) {
      path_.push_back({PathStep::Kind::Index, i, {}});
      write(array[i]);
      path_.pop_back();
    }
  }

  void write_item(const Value::Object &object) {
    check_unique_keys(object);
    const size_t count = object.size();
    head([count](unsigned char *b, size_t size) { return cbor_encode_map_start(count, b, size); });
    for (const auto &[key, value] : object) {
      path_.push_back({PathStep::Kind::Key, 0, key});
      check_utf8(key, "object key");
      write_text(key);
      write(value);
      path_.pop_back();
    }
  }

  void write_item(const ErrorValue &error) {
    head([](unsigned char *b, size_t size) { return cbor_encode_tag(QB_CBOR_TAG_ERROR, b, size); });
    head([](unsigned char *b, size_t size) { return cbor_encode_array_start(3, b, size); });
    const std::pair<std::string_view, const std::string *> fields[] = {
        {"name", &error.name}, {"message", &error.message}, {"stack", &error.stack}};
    for (const auto &[field, text] : fields) {
      path_.push_back({PathStep::Kind::Key, 0, field});
      check_utf8(*text, "string");
      write_text(*text);
      path_.pop_back();
    }
  }

  void write_text(std::string_view s) {
    const size_t n = s.size();
    head([n](unsigned char *b, size_t size) { return cbor_encode_string_start(n, b, size); });
    append(s.data(), s.size());
  }

  void write_bytes(const std::vector<uint8_t> &bytes) {
    const size_t n = bytes.size();
    head([n](unsigned char *b, size_t size) { return cbor_encode_bytestring_start(n, b, size); });
    append(bytes.data(), bytes.size());
  }

  void check_utf8(std::string_view s, std::string_view what) const {
    const size_t bad = find_invalid_utf8(s);
    if (bad == std::string_view::npos) return;
    throw std::invalid_argument("the " + std::string(what) + " at " + format_path(path_) +
                                " is not valid UTF-8 (byte 0x" +
                                hex_byte(static_cast<uint8_t>(s[bad])) + " at offset " +
                                std::to_string(bad) + ")");
  }

  void check_unique_keys(const Value::Object &object) const {
    // Small objects: compare directly; large ones: a hash set keeps this linear.
    constexpr size_t kLinearScanLimit = 16;
    std::unordered_set<std::string_view> seen;
    for (size_t i = 0; i < object.size(); i++) {
      const std::string_view key = object[i].first;
      bool duplicate;
      if (object.size() <= kLinearScanLimit) {
        duplicate = std::any_of(object.begin(), object.begin() + static_cast<ptrdiff_t>(i),
                                [key](const auto &entry) { return entry.first == key; });
      } else {
        duplicate = !seen.insert(key).second;
      }
      if (duplicate) {
        throw std::invalid_argument("the object at " + format_path(path_) +
                                    " has the key " + json_quote(key) + " more than once");
      }
    }
  }

  std::vector<uint8_t> &out_;
  std::vector<PathStep> path_;
};

// =================================================================================================
// CBOR decoder: libcbor's streaming decoder reads one head at a time; the containers being built
// live on an explicit stack, so hostile nesting cannot exhaust the host's call stack.
// =================================================================================================

class CborReader {
 public:
  CborReader(std::span<const uint8_t> bytes, const DecodeLimits &limits)
      : bytes_(bytes), limits_(limits) {}

  Decoded run() {
    if (bytes_.size() > limits_.max_bytes) {
      return failure("the input is " + std::to_string(bytes_.size()) +
                     " bytes, over the limit of " + std::to_string(limits_.max_bytes) + " bytes");
    }
    const cbor_callbacks callbacks = make_callbacks();
    size_t offset = 0;
    while (!done_ && !failed_) {
      item_offset_ = offset;
      if (offset == bytes_.size()) {
        fail(offset == 0 ? "empty input (expected one CBOR value)"
                         : "truncated input: the value is incomplete");
        break;
      }
      const cbor_decoder_result result =
          cbor_stream_decode(bytes_.data() + offset, bytes_.size() - offset, &callbacks, this);
      if (failed_) break;
      if (result.status == CBOR_DECODER_NEDATA) {
        fail(describe_truncation());
      } else if (result.status == CBOR_DECODER_ERROR) {
        fail(describe_bad_head(bytes_[offset]));
      } else {
        offset += result.read;
      }
    }
    if (!failed_ && offset != bytes_.size()) {
      item_offset_ = offset;
      const size_t extra = bytes_.size() - offset;
      fail("trailing bytes after the value (" + std::to_string(extra) +
           (extra == 1 ? " byte)" : " bytes)"));
    }
    if (failed_) return failure(error_);
    return {true, std::move(root_), {}};
  }

 private:
  /// What may come next at the current position, beyond what the enclosing container allows.
  enum class Expect { Any, BignumBytes, ErrorArray };
  /// The kind of item a callback announces, for checking where it may appear.
  enum class Item { Text, Bytes, Array, Other };

  struct Frame {
    enum class Kind { Array, Map, Error } kind;
    uint64_t remaining;  // items still to come (a map entry counts once, when its value arrives)
    Value::Array array;
    Value::Object object;
    std::optional<std::string> key;            // map: the key whose value comes next
    std::unordered_set<std::string> key_set;   // map: keys seen so far, once the map is large
    std::vector<std::string> fields;           // error: name, message[, stack]
  };

  static constexpr size_t kLinearKeyScanLimit = 16;
  static constexpr size_t kMaxReserve = 1024;  // never trust a claimed length with memory

  static Decoded failure(std::string message) { return {false, Value(), std::move(message)}; }

  void fail(const std::string &message) {
    if (failed_) return;
    failed_ = true;
    error_ = message + " at byte " + std::to_string(item_offset_);
  }

  /// Size of the head of the item starting with `initial` (the length fields, not the content).
  static size_t head_size(uint8_t initial) {
    const uint8_t info = initial & 31;
    return info < 24 || info > 27 ? 1 : 1 + (size_t{1} << (info - 24));
  }

  size_t bytes_after_head() const {
    return bytes_.size() - item_offset_ - head_size(bytes_[item_offset_]);
  }

  /// Why the item at item_offset_ does not fit in the input. Computed here rather than taken from
  /// libcbor's `required`, which wraps around for lengths near 2^64.
  std::string describe_truncation() const {
    const size_t available = bytes_.size() - item_offset_;
    const uint8_t initial = bytes_[item_offset_];
    const size_t head = head_size(initial);
    if (available < head) {
      return "truncated input: the item's head needs " + std::to_string(head) +
             " bytes but only " + std::to_string(available) + " remain";
    }
    uint64_t length = initial & 31;
    if (head > 1) {
      length = 0;
      for (size_t i = 1; i < head; i++) length = length << 8 | bytes_[item_offset_ + i];
    }
    const char *what = (initial >> 5) == 2 ? "byte string" : "text string";
    return std::string("truncated input: a ") + what + " of " + std::to_string(length) +
           " bytes but only " + std::to_string(available - head) + " remain";
  }

  static std::string describe_bad_head(uint8_t initial) {
    const uint8_t major = initial >> 5, info = initial & 31;
    const std::string hex = "0x" + hex_byte(initial);
    if (major == 6 && info < 24) {
      return "unsupported tag " + std::to_string(info) + " (" + hex + ")";
    }
    if (major == 7 && (info < 20 || info == 24)) return "unsupported simple value (" + hex + ")";
    // 28..30 are reserved everywhere; 31 (indefinite length) has no meaning for these types
    return "reserved additional information in the head " + hex;
  }

  /// Checks that an item of this kind may appear here: map keys and error fields must be text,
  /// a bignum tag must wrap a byte string, the error tag must wrap an array.
  bool accept(Item item) {
    if (failed_) return false;
    if (++items_ > limits_.max_items) {
      fail("more than " + std::to_string(limits_.max_items) + " values");
      return false;
    }
    if (expect_ == Expect::BignumBytes && item != Item::Bytes) {
      fail("a bignum tag (2 or 3) must wrap a byte string");
    } else if (expect_ == Expect::ErrorArray && item != Item::Array) {
      fail("the error tag must wrap an array of [name, message, stack]");
    } else if (!stack_.empty() && item != Item::Text) {
      const Frame &top = stack_.back();
      if (top.kind == Frame::Kind::Map && !top.key) fail("map keys must be text strings");
      if (top.kind == Frame::Kind::Error) fail("error fields must be text strings");
    }
    return !failed_;
  }

  /// Places a complete item in its container, closing every container it completes.
  void deliver(Value value) {
    while (!stack_.empty()) {
      Frame &top = stack_.back();
      if (top.kind == Frame::Kind::Array) {
        top.array.push_back(std::move(value));
      } else {  // a map whose key has arrived (accept() lets nothing else reach a map or error)
        top.object.emplace_back(std::move(*top.key), std::move(value));
        top.key.reset();
      }
      if (--top.remaining > 0) return;
      value = close_top();
    }
    root_ = std::move(value);
    done_ = true;
  }

  Value close_top() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    switch (frame.kind) {
      case Frame::Kind::Array:
        depth_--;
        return Value(std::move(frame.array));
      case Frame::Kind::Map:
        depth_--;
        return Value(std::move(frame.object));
      case Frame::Kind::Error:
        break;
    }
    frame.fields.resize(3);
    return Value(ErrorValue{std::move(frame.fields[0]), std::move(frame.fields[1]),
                            std::move(frame.fields[2])});
  }

  bool enter_container() {
    if (depth_ >= limits_.max_depth) {
      fail("value nests deeper than the limit of " + std::to_string(limits_.max_depth) +
           " levels");
      return false;
    }
    return true;
  }

  void on_unsigned(uint64_t n) {
    if (!accept(Item::Other)) return;
    if (n > kMaxSafeIntegerBits) {
      fail("integer " + std::to_string(n) + " is beyond 2^53 (send a BigInt)");
      return;
    }
    deliver(Value(static_cast<double>(n)));
  }

  void on_negative(uint64_t n) {  // the value is -1 - n
    if (!accept(Item::Other)) return;
    if (n >= kMaxSafeIntegerBits) {
      const std::string magnitude =
          n == UINT64_MAX ? "18446744073709551616" : std::to_string(n + 1);
      fail("integer -" + magnitude + " is beyond -2^53 (send a BigInt)");
      return;
    }
    deliver(Value(-1.0 - static_cast<double>(n)));
  }

  void on_number(double d) {
    if (accept(Item::Other)) deliver(Value(d));
  }

  void on_simple(Value value) {
    if (accept(Item::Other)) deliver(std::move(value));
  }

  void on_bytes(const uint8_t *data, size_t size) {
    if (!accept(Item::Bytes)) return;
    std::vector<uint8_t> bytes(data, data + size);
    if (expect_ != Expect::BignumBytes) {
      deliver(Value(Bytes{std::move(bytes)}));
      return;
    }
    expect_ = Expect::Any;
    BigInt big = internal::bigint_from_bignum(bytes.data(), bytes.size(), bignum_negative_);
    if (internal::magnitude_size(big) > limits_.max_bigint_bytes) {
      fail("a BigInt of " + std::to_string(internal::magnitude_size(big)) +
           " bytes is over the limit of " + std::to_string(limits_.max_bigint_bytes) + " bytes");
      return;
    }
    deliver(Value(std::move(big)));
  }

  void on_text(const uint8_t *data, size_t size) {
    if (!accept(Item::Text)) return;
    std::string text(reinterpret_cast<const char *>(data), size);
    const size_t bad = find_invalid_utf8(text);
    if (bad != std::string::npos) {
      fail("text string is not valid UTF-8 (its byte " + std::to_string(bad) + " is 0x" +
           hex_byte(static_cast<uint8_t>(text[bad])) + ")");
      return;
    }
    if (stack_.empty()) {
      deliver(Value(std::move(text)));
      return;
    }
    Frame &top = stack_.back();
    if (top.kind == Frame::Kind::Map && !top.key) {
      if (is_duplicate_key(top, text)) {
        fail("duplicate map key " + json_quote(text));
        return;
      }
      top.key = std::move(text);
    } else if (top.kind == Frame::Kind::Error) {
      top.fields.push_back(std::move(text));
      if (--top.remaining == 0) deliver(close_top());
    } else {
      deliver(Value(std::move(text)));
    }
  }

  static bool is_duplicate_key(Frame &map, const std::string &key) {
    if (map.object.size() < kLinearKeyScanLimit) {
      return std::any_of(map.object.begin(), map.object.end(),
                         [&key](const auto &entry) { return entry.first == key; });
    }
    if (map.key_set.empty()) {
      for (const auto &entry : map.object) map.key_set.insert(entry.first);
    }
    return !map.key_set.insert(key).second;
  }

  void on_array(size_t count) {
    if (!accept(Item::Array)) return;
    if (count > bytes_after_head()) {
      fail("array length " + std::to_string(count) + " exceeds remaining input (" +
           std::to_string(bytes_after_head()) + " bytes)");
      return;
    }
    if (expect_ == Expect::ErrorArray) {
      expect_ = Expect::Any;
      if (count < 2 || count > 3) {
        fail("the error tag must wrap an array of [name, message, stack], not " +
             std::to_string(count) + " items");
        return;
      }
      stack_.push_back(Frame{Frame::Kind::Error, count, {}, {}, {}, {}, {}});
      return;
    }
    if (!enter_container()) return;
    if (count == 0) {
      deliver(Value(Value::Array{}));
      return;
    }
    stack_.push_back(Frame{Frame::Kind::Array, count, {}, {}, {}, {}, {}});
    stack_.back().array.reserve(std::min(count, kMaxReserve));
    depth_++;
  }

  void on_map(size_t count) {
    if (!accept(Item::Other)) return;
    if (count > bytes_after_head() / 2) {
      fail("map of " + std::to_string(count) + " entries exceeds remaining input (" +
           std::to_string(bytes_after_head()) + " bytes)");
      return;
    }
    if (!enter_container()) return;
    if (count == 0) {
      deliver(Value(Value::Object{}));
      return;
    }
    stack_.push_back(Frame{Frame::Kind::Map, count, {}, {}, {}, {}, {}});
    stack_.back().object.reserve(std::min(count, kMaxReserve));
    depth_++;
  }

  void on_tag(uint64_t tag) {
    if (!accept(Item::Other)) return;
    if (tag == 2 || tag == 3) {
      expect_ = Expect::BignumBytes;
      bignum_negative_ = tag == 3;
    } else if (tag == QB_CBOR_TAG_ERROR) {
      expect_ = Expect::ErrorArray;
    } else {
      fail("unsupported tag " + std::to_string(tag));
    }
  }

  void on_indefinite(const char *what) {
    fail(std::string("indefinite-length ") + what + " (only definite lengths are accepted)");
  }

  /// A libcbor callback that passes its arguments on to Method. No exception may unwind through
  /// libcbor's C frames, so running out of memory becomes a decode failure here.
  template <auto Method, typename... Args>
  static void forward(void *context, Args... args) {
    auto &reader = *static_cast<CborReader *>(context);
    try {
      (reader.*Method)(args...);
    } catch (const std::bad_alloc &) {
      reader.fail("out of memory");
    }
  }

  void on_undefined() { on_simple(Value()); }
  void on_null() { on_simple(Value(nullptr)); }
  void on_boolean(bool b) { on_simple(Value(b)); }
  void on_indefinite_bytes() { on_indefinite("byte string"); }
  void on_indefinite_text() { on_indefinite("text string"); }
  void on_indefinite_array() { on_indefinite("array"); }
  void on_indefinite_map() { on_indefinite("map"); }
  void on_break() { fail("unexpected break (0xff)"); }

  static cbor_callbacks make_callbacks() {
    using R = CborReader;
    cbor_callbacks c = cbor_empty_callbacks;
    c.uint8 = forward<&R::on_unsigned, uint8_t>;
    c.uint16 = forward<&R::on_unsigned, uint16_t>;
    c.uint32 = forward<&R::on_unsigned, uint32_t>;
    c.uint64 = forward<&R::on_unsigned, uint64_t>;
    c.negint8 = forward<&R::on_negative, uint8_t>;
    c.negint16 = forward<&R::on_negative, uint16_t>;
    c.negint32 = forward<&R::on_negative, uint32_t>;
    c.negint64 = forward<&R::on_negative, uint64_t>;
    c.byte_string = forward<&R::on_bytes, cbor_data, size_t>;
    c.string = forward<&R::on_text, cbor_data, size_t>;
    c.array_start = forward<&R::on_array, size_t>;
    c.map_start = forward<&R::on_map, size_t>;
    c.tag = forward<&R::on_tag, uint64_t>;
    c.float2 = forward<&R::on_number, float>;
    c.float4 = forward<&R::on_number, float>;
    c.float8 = forward<&R::on_number, double>;
    c.undefined = forward<&R::on_undefined>;
    c.null = forward<&R::on_null>;
    c.boolean = forward<&R::on_boolean, bool>;
    c.byte_string_start = forward<&R::on_indefinite_bytes>;
    c.string_start = forward<&R::on_indefinite_text>;
    c.indef_array_start = forward<&R::on_indefinite_array>;
    c.indef_map_start = forward<&R::on_indefinite_map>;
    c.indef_break = forward<&R::on_break>;
    return c;
  }

  std::span<const uint8_t> bytes_;
  DecodeLimits limits_;
  size_t item_offset_ = 0;  // where the item being decoded starts
  std::vector<Frame> stack_;
  uint32_t depth_ = 0;  // arrays and maps on the stack
  Expect expect_ = Expect::Any;
  bool bignum_negative_ = false;
  Value root_;
  bool done_ = false;
  bool failed_ = false;
  uint64_t items_ = 0;
  std::string error_;
};

// =================================================================================================
// util.inspect (Node v20 defaults: depth 2, breakLength 80, compact 3, maxArrayLength 100,
// maxStringLength 10000), restricted to the data values a Value can hold.
// =================================================================================================

constexpr int kBreakLength = 80;
constexpr int kMaxDepth = 2;
constexpr int kCompact = 3;
constexpr size_t kMaxArrayLength = 100;
constexpr size_t kMaxStringLength = 10000;
constexpr size_t kMinLineWidth = 16;

size_t utf16_length(const std::u32string &s) {
  size_t units = 0;
  for (const char32_t cp : s) units += cp > 0xffff ? 2 : 1;
  return units;
}

/// Node's escape for one code unit below 0x20 or in 0x7f..0x9f.
std::string control_escape(char32_t cp) {
  switch (cp) {
    case '\b': return "\\b";
    case '\t': return "\\t";
    case '\n': return "\\n";
    case '\f': return "\\f";
    case '\r': return "\\r";
    default: return "\\x" + hex_byte(static_cast<uint8_t>(cp));
  }
}

bool contains(const std::u32string &s, std::u32string_view needle) {
  return s.find(needle) != std::u32string::npos;
}

/// Node's strEscape: picks ' unless the text holds one (then ", then `), escapes the rest.
/// Code points D800..DFFF stand for lone surrogates (from truncating an astral character).
std::string quote_js(const std::u32string &s) {
  char32_t quote = '\'';
  if (contains(s, U"'")) {
    if (!contains(s, U"\"")) {
      quote = '"';
    } else if (!contains(s, U"`") && !contains(s, U"${")) {
      quote = '`';
    }
  }
  std::string out(1, static_cast<char>(quote));
  for (const char32_t cp : s) {
    if (cp == '\'' && quote == '\'') {
      out += "\\'";
    } else if (cp == '\\') {
      out += "\\\\";
    } else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
      out += control_escape(cp);
    } else if (cp >= 0xd800 && cp <= 0xdfff) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "%x", static_cast<unsigned>(cp));
      out += "\\u" + std::string(hex);
    } else {
      append_utf8(out, cp);
    }
  }
  out += static_cast<char>(quote);
  return out;
}

std::string quote_js(std::string_view s) { return quote_js(to_code_points(s)); }

/// Node's isFullWidthCodePoint (its table for builds without ICU's width data).
bool is_full_width(char32_t cp) {
  return cp >= 0x1100 &&
         (cp <= 0x115f || cp == 0x2329 || cp == 0x232a ||
          (cp >= 0x2e80 && cp <= 0x3247 && cp != 0x303f) ||
          (cp >= 0x3250 && cp <= 0x4dbf) || (cp >= 0x4e00 && cp <= 0xa4c6) ||
          (cp >= 0xa960 && cp <= 0xa97c) || (cp >= 0xac00 && cp <= 0xd7a3) ||
          (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe10 && cp <= 0xfe19) ||
          (cp >= 0xfe30 && cp <= 0xfe6b) || (cp >= 0xff01 && cp <= 0xff60) ||
          (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1b000 && cp <= 0x1b001) ||
          (cp >= 0x1f200 && cp <= 0x1f251) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
          (cp >= 0x20000 && cp <= 0x3fffd));
}

/// Node's isZeroWidthCodePoint.
bool is_zero_width(char32_t cp) {
  return cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x300 && cp <= 0x36f) ||
         (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x20d0 && cp <= 0x20ff) ||
         (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xfe20 && cp <= 0xfe2f) ||
         (cp >= 0xe0100 && cp <= 0xe01ef);
}

/// Node's getStringWidth: columns on a terminal (East Asian wide characters take two).
size_t display_width(std::string_view s) {
  size_t width = 0;
  for (const char32_t cp : to_code_points(s)) {
    if (is_full_width(cp)) {
      width += 2;
    } else if (!is_zero_width(cp)) {
      width += 1;
    }
  }
  return width;
}

std::string pad_start(const std::string &s, size_t target) {
  const size_t length = utf16_length(s);
  return length >= target ? s : std::string(target - length, ' ') + s;
}

std::string pad_end(const std::string &s, size_t target) {
  const size_t length = utf16_length(s);
  return length >= target ? s : s + std::string(target - length, ' ');
}

std::string join(const std::vector<std::string> &parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); i++) {
    if (i) out += separator;
    out += parts[i];
  }
  return out;
}

bool is_js_whitespace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0xa0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
         cp == 0x205f || cp == 0x3000 || cp == 0xfeff;
}

/// String.prototype.trimEnd.
std::string trim_end(std::string_view s) {
  size_t keep = 0;
  char32_t cp;
  for (size_t i = 0; i < s.size();) {
    const size_t length = decode_utf8(s, i, cp);
    if (length == 0 || !is_js_whitespace(cp)) keep = i + (length ? length : 1);
    i += length ? length : 1;
  }
  return std::string(s.substr(0, keep));
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

/// Node's `/^[a-zA-Z_][a-zA-Z_0-9]*$/`: keys shown without quotes.
bool is_plain_key(std::string_view key) {
  if (key.empty() || !(is_ascii_letter(key[0]) || key[0] == '_')) return false;
  return std::all_of(key.begin() + 1, key.end(),
                     [](char c) { return is_ascii_letter(c) || is_ascii_digit(c) || c == '_'; });
}

class Inspector {
 public:
  std::string format(const Value &value, int recurse_times) {
    return std::visit([&](const auto &item) { return format_item(item, recurse_times); },
                      value.storage());
  }

 private:
  std::string format_item(Undefined, int) { return "undefined"; }
  std::string format_item(std::nullptr_t, int) { return "null"; }
  std::string format_item(bool b, int) { return b ? "true" : "false"; }
  std::string format_item(double d, int) { return format_number(d); }
  std::string format_item(const BigInt &big, int) {
    return internal::bigint_digits_for_display(big) + "n";
  }
  std::string format_item(const std::string &s, int) { return format_string(s); }

  static std::string format_number(double d) {
    return d == 0 && std::signbit(d) ? "-0" : js_number_to_string(d);
  }

  /// Node's formatPrimitive for strings: truncated beyond maxStringLength, and split after each
  /// newline into `'...' +` lines when it does not fit the line.
  std::string format_string(std::string_view s) const {
    std::u32string text = to_code_points(s);
    std::string trailer;
    const size_t length = utf16_length(text);
    if (length > kMaxStringLength) {
      const size_t remaining = length - kMaxStringLength;
      text = truncate_utf16(text, kMaxStringLength);
      trailer = "... " + std::to_string(remaining) + " more character" + (remaining > 1 ? "s" : "");
    }
    const size_t units = utf16_length(text);
    if (units > kMinLineWidth &&
        static_cast<long>(units) > kBreakLength - indentation_ - 4) {
      std::vector<std::string> lines;
      size_t start = 0;
      for (size_t i = 0; i < text.size(); i++) {
        if (text[i] == '\n' && i + 1 < text.size()) {
          lines.push_back(quote_js(text.substr(start, i + 1 - start)));
          start = i + 1;
        }
      }
      lines.push_back(quote_js(text.substr(start)));
      return join(lines, " +\n" + std::string(static_cast<size_t>(indentation_) + 2, ' ')) +
             trailer;
    }
    return quote_js(text) + trailer;
  }

  /// The first `units` UTF-16 code units; an astral character cut in half leaves its high
  /// surrogate, as String.prototype.slice does.
  static std::u32string truncate_utf16(const std::u32string &text, size_t units) {
    std::u32string out;
    size_t used = 0;
    for (const char32_t cp : text) {
      if (used == units) break;
      if (cp > 0xffff && used + 2 > units) {
        out.push_back(0xd800 + ((cp - 0x10000) >> 10));
        break;
      }
      out.push_back(cp);
      used += cp > 0xffff ? 2 : 1;
    }
    return out;
  }

  /// An error shows as its stack ("Name: message\n    at ...") or, without one, as
  /// "[Name: message]"; nested errors have their lines indented (Node's formatError).
  std::string format_item(const ErrorValue &error, int) const {
    std::string head;
    if (error.name.empty()) {
      head = error.message;
    } else if (error.message.empty()) {
      head = error.name;
    } else {
      head = error.name + ": " + error.message;
    }
    const std::string stack = trim_end(error.stack);
    std::string text = stack.empty() ? "[" + head + "]" : head + "\n" + stack;
    if (indentation_ != 0) {
      const std::string indentation(static_cast<size_t>(indentation_), ' ');
      text = replace_all(std::move(text), "\n", "\n" + indentation);
    }
    return text;
  }

  std::string format_item(const Value::Array &array, int recurse_times) {
    if (array.empty()) return "[]";
    if (recurse_times > kMaxDepth) return "[Array]";
    recurse_times++;
    current_depth_ = recurse_times;
    std::vector<std::string> output;
    const size_t shown = std::min(array.size(), kMaxArrayLength);
    for (size_t i = 0; i < shown; i++) {
      indentation_ += 2;
      output.push_back(format(array[i], recurse_times));
      indentation_ -= 2;
    }
    const bool more = array.size() > shown;
    if (more) output.push_back(more_items(array.size() - shown));
    // Node right-aligns the columns when the entries it checks are all numbers or BigInts; it
    // checks one index per output entry, which includes the first unshown item.
    bool numeric = true;
    for (size_t i = 0; i < output.size() && i < array.size(); i++) {
      numeric = numeric && (array[i].is_number() || array[i].is_bigint());
    }
    return reduce_to_single_string(std::move(output), "[", "]", true, more, numeric, recurse_times);
  }

  std::string format_item(const Bytes &bytes, int recurse_times) {
    const std::string open = "Uint8Array(" + std::to_string(bytes.data.size()) + ") [";
    if (bytes.data.empty()) return open + "]";
    if (recurse_times > kMaxDepth) return "[Uint8Array]";
    recurse_times++;
    current_depth_ = recurse_times;
    std::vector<std::string> output;
    const size_t shown = std::min(bytes.data.size(), kMaxArrayLength);
    for (size_t i = 0; i < shown; i++) output.push_back(std::to_string(bytes.data[i]));
    const bool more = bytes.data.size() > shown;
    if (more) output.push_back(more_items(bytes.data.size() - shown));
    return reduce_to_single_string(std::move(output), open, "]", true, more, true, recurse_times);
  }

  std::string format_item(const Value::Object &object, int recurse_times) {
    if (object.empty()) return "{}";
    if (recurse_times > kMaxDepth) return "[Object]";
    recurse_times++;
    current_depth_ = recurse_times;
    std::vector<std::string> output;
    for (const auto &[key, value] : object) {
      indentation_ += 2;
      std::string text = format(value, recurse_times);
      indentation_ -= 2;
      output.push_back((is_plain_key(key) ? key : quote_js(key)) + ": " + text);
    }
    return reduce_to_single_string(std::move(output), "{", "}", false, false, false, recurse_times);
  }

  static std::string more_items(size_t n) {
    return "... " + std::to_string(n) + " more item" + (n > 1 ? "s" : "");
  }

  /// Node's reduceToSingleString with compact = 3: entries on one line when they fit in
  /// breakLength, else one entry (or one row of grouped entries) per line.
  std::string reduce_to_single_string(std::vector<std::string> output, const std::string &open,
                                      std::string_view close, bool array_like, bool more,
                                      bool numeric, int recurse_times) const {
    const size_t entries = output.size();
    if (array_like && entries > 6) output = group_array_elements(std::move(output), more, numeric);
    if (current_depth_ - recurse_times < kCompact && entries == output.size()) {
      const size_t start =
          output.size() + static_cast<size_t>(indentation_) + utf16_length(open) + 10;
      if (is_below_break_length(output, start)) {
        const std::string joined = join(output, ", ");
        if (joined.find('\n') == std::string::npos) {
          return open + " " + joined + " " + std::string(close);
        }
      }
    }
    const std::string indentation = "\n" + std::string(static_cast<size_t>(indentation_), ' ');
    return open + indentation + "  " + join(output, "," + indentation + "  ") + indentation +
           std::string(close);
  }

  static bool is_below_break_length(const std::vector<std::string> &output, size_t start) {
    size_t total = output.size() + start;
    if (total + output.size() > static_cast<size_t>(kBreakLength)) return false;
    for (const std::string &entry : output) {
      total += utf16_length(entry);
      if (total > static_cast<size_t>(kBreakLength)) return false;
    }
    return true;
  }

  /// Node's groupArrayElements: lays many short entries out in aligned columns.
  std::vector<std::string> group_array_elements(std::vector<std::string> output, bool more,
                                                bool numeric) const {
    constexpr size_t kSeparatorSpace = 2;  // ", "
    const size_t output_length = output.size() - (more ? 1 : 0);
    size_t total_length = 0, max_length = 0;
    std::vector<size_t> data_length(output_length);
    for (size_t i = 0; i < output_length; i++) {
      data_length[i] = display_width(output[i]);
      total_length += data_length[i] + kSeparatorSpace;
      max_length = std::max(max_length, data_length[i]);
    }
    const size_t actual_max = max_length + kSeparatorSpace;
    const auto indentation = static_cast<size_t>(indentation_);
    if (!(actual_max * 3 + indentation < kBreakLength &&
          (static_cast<double>(total_length) / actual_max > 5 || max_length <= 6))) {
      return output;
    }
    const double average_bias =
        std::sqrt(actual_max - static_cast<double>(total_length) / output.size());
    const double biased_max = std::max(actual_max - 3 - average_bias, 1.0);
    const size_t columns = std::min<size_t>(
        {static_cast<size_t>(std::round(std::sqrt(2.5 * biased_max * output_length) / biased_max)),
         (kBreakLength - indentation) / actual_max, size_t{kCompact} * 4, 15});
    if (columns <= 1) return output;
    std::vector<size_t> max_line_length;
    for (size_t i = 0; i < columns; i++) {
      size_t line_length = 0;
      for (size_t j = i; j < output_length; j += columns) {
        line_length = std::max(line_length, data_length[j]);
      }
      max_line_length.push_back(line_length + kSeparatorSpace);
    }
    std::vector<std::string> rows;
    for (size_t i = 0; i < output_length; i += columns) {
      const size_t end = std::min(i + columns, output_length);
      std::string row;
      size_t j = i;
      for (; j < end - 1; j++) {
        // Padding is in code units; widths differ from them for wide characters.
        const size_t padding = max_line_length[j - i] + utf16_length(output[j]) - data_length[j];
        row += numeric ? pad_start(output[j] + ", ", padding) : pad_end(output[j] + ", ", padding);
      }
      if (numeric) {
        const size_t padding =
            max_line_length[j - i] + utf16_length(output[j]) - data_length[j] - kSeparatorSpace;
        row += pad_start(output[j], padding);
      } else {
        row += output[j];
      }
      rows.push_back(std::move(row));
    }
    if (more) rows.push_back(std::move(output.back()));
    return rows;
  }

  int indentation_ = 0;    // Node's ctx.indentationLvl
  int current_depth_ = 0;  // Node's ctx.currentDepth: the level of the object formatted last
};

// =================================================================================================
// JSON
// =================================================================================================

/// JSON.stringify's quoting; bytes that are not UTF-8 become U+FFFD so the output always is.
std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (const char32_t cp : to_code_points(s)) {
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (cp < 0x20) {
          char escape[8];
          std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(cp));
          out += escape;
        } else {
          append_utf8(out, cp);
        }
    }
  }
  return out + "\"";
}

std::string base64(const std::vector<uint8_t> &data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < data.size(); i += 3) {
    const size_t n = std::min<size_t>(3, data.size() - i);
    uint32_t group = uint32_t{data[i]} << 16;
    if (n > 1) group |= uint32_t{data[i + 1]} << 8;
    if (n > 2) group |= data[i + 2];
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += n > 1 ? kAlphabet[(group >> 6) & 63] : '=';
    out += n > 2 ? kAlphabet[group & 63] : '=';
  }
  return out;
}

void write_json(const Value &value, std::string &out);

struct JsonWriter {
  std::string &out;
  void operator()(Undefined) const { out += "null"; }
  void operator()(std::nullptr_t) const { out += "null"; }
  void operator()(bool b) const { out += b ? "true" : "false"; }
  void operator()(double d) const { out += std::isfinite(d) ? js_number_to_string(d) : "null"; }
  void operator()(const BigInt &big) const {
    out += "\"" + internal::bigint_digits_for_display(big) + "\"";
  }
  void operator()(const std::string &s) const { out += json_quote(s); }
  void operator()(const Bytes &bytes) const {
    out += "{\"$bytes\":\"" + base64(bytes.data) + "\"}";
  }
  void operator()(const Value::Array &array) const {
    out += '[';
    for (size_t i = 0; i < array.size(); i++) {
      if (i) out += ',';
      write_json(array[i], out);
    }
    out += ']';
  }
  void operator()(const Value::Object &object) const {
    out += '{';
    bool first = true;
    for (const auto &[key, value] : object) {
      if (value.is_undefined()) continue;
      if (!first) out += ',';
      first = false;
      out += json_quote(key) + ":";
      write_json(value, out);
    }
    out += '}';
  }
  void operator()(const ErrorValue &error) const {
    out += "{\"name\":" + json_quote(error.name) + ",\"message\":" + json_quote(error.message) +
           ",\"stack\":" + json_quote(error.stack) + "}";
  }
};

void write_json(const Value &value, std::string &out) {
  std::visit(JsonWriter{out}, value.storage());
}

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  Decoded run() {
    try {
      skip_whitespace();
      Value value = parse_value(0);
      skip_whitespace();
      if (pos_ != text_.size()) fail("unexpected " + describe_here() + " after the JSON value");
      return {true, std::move(value), {}};
    } catch (const ParseError &error) {
      return {false, Value(), error.message};
    }
  }

 private:
  struct ParseError {
    std::string message;
  };

  static constexpr int kMaxDepth = 256;

  [[noreturn]] void fail(const std::string &what) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); i++) {
      if (text_[i] == '\n') {
        line++, column = 1;
      } else if ((static_cast<uint8_t>(text_[i]) & 0xc0) != 0x80) {
        column++;  // columns count characters, not UTF-8 bytes
      }
    }
    throw ParseError{"invalid JSON at line " + std::to_string(line) + ", column " +
                     std::to_string(column) + ": " + what};
  }

  std::string describe_here() const {
    if (pos_ >= text_.size()) return "end of input";
    const char c = text_[pos_];
    if (static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f) {
      return std::string("character '") + c + "'";
    }
    return "byte 0x" + hex_byte(static_cast<uint8_t>(c));
  }

  void skip_whitespace() {
    constexpr std::string_view kWhitespace = " \t\n\r";
    while (pos_ < text_.size() && kWhitespace.find(text_[pos_]) != std::string_view::npos) pos_++;
  }

  bool consume(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Value parse_value(int depth) {
    if (pos_ >= text_.size()) fail("unexpected end of input (expected a value)");
    const char c = text_[pos_];
    if (c == '{') return parse_object(depth + 1);
    if (c == '[') return parse_array(depth + 1);
    if (c == '"') return Value(parse_string());
    if (c == '-' || (c >= '0' && c <= '9')) return Value(parse_number());
    if (consume("true")) return Value(true);
    if (consume("false")) return Value(false);
    if (consume("null")) return Value(nullptr);
    fail("unexpected " + describe_here() + " (expected a value)");
  }

  void check_depth(int depth) const {
    if (depth > kMaxDepth) fail("value nests deeper than the limit of 256 levels");
  }

  Value parse_array(int depth) {
    check_depth(depth);
    pos_++;  // [
    Value::Array array;
    skip_whitespace();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      pos_++;
      return Value(std::move(array));
    }
    for (;;) {
      skip_whitespace();
      array.push_back(parse_value(depth));
      skip_whitespace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        pos_++;
      } else if (pos_ < text_.size() && text_[pos_] == ']') {
        pos_++;
        return Value(std::move(array));
      } else {
        fail("unexpected " + describe_here() + " (expected ',' or ']' in an array)");
      }
    }
  }

  Value parse_object(int depth) {
    check_depth(depth);
    pos_++;  // {
    Value::Object object;
    std::unordered_map<std::string, size_t> index;  // key -> position, for repeated keys
    skip_whitespace();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      pos_++;
      return Value(std::move(object));
    }
    for (;;) {
      skip_whitespace();
      if (pos_ >= text_.size() || text_[pos_] != '"') {
        fail("unexpected " + describe_here() + " (expected a string key in an object)");
      }
      std::string key = parse_string();
      skip_whitespace();
      if (pos_ >= text_.size() || text_[pos_] != ':') {
        fail("unexpected " + describe_here() + " (expected ':' after an object key)");
      }
      pos_++;
      skip_whitespace();
      Value value = parse_value(depth);
      // Like JSON.parse: a repeated key keeps its first position and takes the last value.
      const auto [it, inserted] = index.try_emplace(key, object.size());
      if (inserted) {
        object.emplace_back(std::move(key), std::move(value));
      } else {
        object[it->second].second = std::move(value);
      }
      skip_whitespace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        pos_++;
      } else if (pos_ < text_.size() && text_[pos_] == '}') {
        pos_++;
        return Value(std::move(object));
      } else {
        fail("unexpected " + describe_here() + " (expected ',' or '}' in an object)");
      }
    }
  }

  uint32_t parse_hex4() {
    if (text_.size() - pos_ < 4) {
      pos_ = text_.size();
      fail("unexpected end of input in a \\u escape");
    }
    uint32_t unit = 0;
    for (int i = 0; i < 4; i++, pos_++) {
      const char c = text_[pos_];
      int digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
        digit = (c | 0x20) - 'a' + 10;
      } else {
        fail("unexpected " + describe_here() + " in a \\u escape (expected 4 hex digits)");
      }
      unit = unit << 4 | static_cast<uint32_t>(digit);
    }
    return unit;
  }

  /// One \uXXXX escape (pos_ at the 'u'), joined with a following low surrogate escape.
  char32_t parse_unicode_escape() {
    const size_t escape_start = pos_ - 1;
    pos_++;  // u
    const uint32_t unit = parse_hex4();
    if (unit >= 0xdc00 && unit <= 0xdfff) {
      pos_ = escape_start;
      fail("lone surrogate \\u" + to_hex4(unit) + " (strings must be well-formed Unicode)");
    }
    if (unit < 0xd800 || unit > 0xdbff) return unit;
    if (text_.substr(pos_, 2) == "\\u") {
      const size_t saved = pos_;
      pos_ += 2;
      const uint32_t low = parse_hex4();
      if (low >= 0xdc00 && low <= 0xdfff) return 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
      pos_ = saved;
    }
    pos_ = escape_start;
    fail("lone surrogate \\u" + to_hex4(unit) + " (strings must be well-formed Unicode)");
  }

  static std::string to_hex4(uint32_t unit) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "%04X", unit);
    return hex;
  }

  std::string parse_string() {
    pos_++;  // opening quote
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) fail("unterminated string");
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        pos_++;
        return out;
      }
      if (c < 0x20) fail("unescaped control character 0x" + hex_byte(c) + " in a string");
      if (c == '\\') {
        pos_++;
        if (pos_ >= text_.size()) fail("unterminated string");
        const char e = text_[pos_];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u':
            append_utf8(out, parse_unicode_escape());
            continue;
          default:
            fail("invalid escape \\" + std::string(1, e) + " in a string");
        }
        pos_++;
        continue;
      }
      char32_t cp;
      const size_t length = decode_utf8(text_, pos_, cp);
      if (length == 0) fail("invalid UTF-8 (byte 0x" + hex_byte(c) + ") in a string");
      out.append(text_.substr(pos_, length));
      pos_ += length;
    }
  }

  double parse_number() {
    const size_t start = pos_;
    auto digits = [this] {
      const size_t from = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') pos_++;
      return pos_ - from;
    };
    if (text_[pos_] == '-') pos_++;
    if (pos_ < text_.size() && text_[pos_] == '0') {
      pos_++;
    } else if (digits() == 0) {
      fail("unexpected " + describe_here() + " (expected a digit)");
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      pos_++;
      if (digits() == 0) fail("unexpected " + describe_here() + " (expected a digit after '.')");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      pos_++;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) pos_++;
      if (digits() == 0) fail("unexpected " + describe_here() + " (expected an exponent)");
    }
    const std::string_view number = text_.substr(start, pos_ - start);
    double value = 0;
    const auto result = std::from_chars(number.data(), number.data() + number.size(), value);
    if (result.ec == std::errc::result_out_of_range) return out_of_range_value(number);
    return value;
  }

  /// What JSON.parse yields for a number beyond double's range: ±Infinity when it is huge, ±0
  /// when it is tiny. With the number written as 0.d1d2... × 10^E (d1 its first significant
  /// digit), it overflowed exactly when E > 0.
  static double out_of_range_value(std::string_view number) {
    const bool negative = number.front() == '-';
    if (negative) number.remove_prefix(1);
    const size_t e = number.find_first_of("eE");
    const std::string_view mantissa = number.substr(0, e);
    long exponent = 0;
    if (e != std::string_view::npos) {
      std::string_view digits = number.substr(e + 1);
      const bool negative_exponent = digits.front() == '-';
      if (digits.front() == '+' || digits.front() == '-') digits.remove_prefix(1);
      for (const char c : digits) exponent = std::min(exponent * 10 + (c - '0'), 1L << 40);
      if (negative_exponent) exponent = -exponent;
    }
    const size_t point = std::min(mantissa.find('.'), mantissa.size());
    const size_t first = mantissa.find_first_of("123456789");  // exists: zero never overflows
    const long scale = first < point ? static_cast<long>(point - first)
                                     : -static_cast<long>(first - point - 1);
    const double magnitude = exponent + scale > 0 ? HUGE_VAL : 0.0;
    return negative ? -magnitude : magnitude;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

// =================================================================================================
// Public API
// =================================================================================================

const Value *Value::find(std::string_view key) const {
  const auto *object = std::get_if<Object>(&storage_);
  if (!object) return nullptr;
  for (const auto &[name, value] : *object) {
    if (name == key) return &value;
  }
  return nullptr;
}

std::vector<uint8_t> encode_cbor(const Value &value) {
  std::vector<uint8_t> out;
  encode_cbor(value, out);
  return out;
}

void encode_cbor(const Value &value, std::vector<uint8_t> &out) {
  const size_t original_size = out.size();
  try {
    CborWriter(out).write(value);
  } catch (...) {
    out.resize(original_size);  // leave out as it was
    throw;
  }
}

Decoded decode_cbor(std::span<const uint8_t> bytes, const DecodeLimits &limits) {
  try {
    return CborReader(bytes, limits).run();
  } catch (const std::bad_alloc &) {
    return {false, Value(),
            "out of memory while decoding " + std::to_string(bytes.size()) + " bytes"};
  }
}

std::string inspect(const Value &value) { return Inspector().format(value, 0); }

std::string format_for_display(const Value &value) {
  if (value.is_string()) return value.as_string();
  return inspect(value);
}

std::string to_json(const Value &value) {
  std::string out;
  write_json(value, out);
  return out;
}

Decoded parse_json(std::string_view text) { return JsonParser(text).run(); }

}  // namespace quickbox
