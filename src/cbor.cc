// The CBOR codec for values (abi/quickbox_abi.h has the mapping), on libcbor: encode_cbor and
// decode_cbor.
#include <cbor.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_set>

#include "bigint.hh"
#include "json.hh"
#include "quickbox/value.hh"
#include "quickbox_abi.h"
#include "utf8.hh"
#include "value_path.hh"

namespace quickbox {
namespace {

using internal::find_invalid_utf8;
using internal::format_path;
using internal::json_quote;
using internal::PathStep;

constexpr double kMaxSafeInteger = 9007199254740992.0;  // 2^53: the largest exactly-held integer
constexpr uint64_t kMaxSafeIntegerBits = uint64_t{1} << 53;

std::string hex_byte(uint8_t byte) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  return {kDigits[byte >> 4], kDigits[byte & 15]};
}

// =================================================================================================
// Encoder
// =================================================================================================

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

  void write_item(Date date) {
    const double seconds = date.epoch_ms / 1000.0;
    head([](unsigned char *b, size_t size) { return cbor_encode_tag(1, b, size); });
    head([seconds](unsigned char *b, size_t size) { return cbor_encode_double(seconds, b, size); });
  }

  void write_item(Handle handle) {
    head([](unsigned char *b, size_t size) { return cbor_encode_tag(QB_CBOR_TAG_HANDLE, b, size); });
    head([&](unsigned char *b, size_t size) { return cbor_encode_uint(handle.id, b, size); });
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
// Decoder: libcbor's streaming decoder reads one head at a time; the containers being built
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
  enum class Expect { Any, BignumBytes, ErrorArray, HandleId, DateNumber };
  /// The kind of item a callback announces, for checking where it may appear.
  enum class Item { Text, Bytes, Array, Unsigned, Number, Other };

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
    } else if (expect_ == Expect::DateNumber && item != Item::Unsigned && item != Item::Number) {
      fail("the date tag (1) must wrap a number of seconds");
    } else if (expect_ == Expect::HandleId && item != Item::Unsigned) {
      fail("the handle tag must wrap an unsigned integer");
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
    if (!accept(Item::Unsigned)) return;
    if (expect_ == Expect::DateNumber) {
      expect_ = Expect::Any;
      deliver(Value(Date{static_cast<double>(n) * 1000.0}));
      return;
    }
    if (expect_ == Expect::HandleId) {
      expect_ = Expect::Any;
      if (n > UINT32_MAX) {
        fail("handle id " + std::to_string(n) + " is beyond 2^32 - 1");
        return;
      }
      deliver(Value(Handle{static_cast<uint32_t>(n)}));
      return;
    }
    if (n > kMaxSafeIntegerBits) {
      fail("integer " + std::to_string(n) + " is beyond 2^53 (send a BigInt)");
      return;
    }
    deliver(Value(static_cast<double>(n)));
  }

  void on_negative(uint64_t n) {  // the value is -1 - n
    if (!accept(Item::Number)) return;
    if (expect_ == Expect::DateNumber) {
      expect_ = Expect::Any;
      deliver(Value(Date{(-1.0 - static_cast<double>(n)) * 1000.0}));
      return;
    }
    if (n >= kMaxSafeIntegerBits) {
      const std::string magnitude =
          n == UINT64_MAX ? "18446744073709551616" : std::to_string(n + 1);
      fail("integer -" + magnitude + " is beyond -2^53 (send a BigInt)");
      return;
    }
    deliver(Value(-1.0 - static_cast<double>(n)));
  }

  void on_number(double d) {
    if (!accept(Item::Number)) return;
    if (expect_ == Expect::DateNumber) {
      expect_ = Expect::Any;
      deliver(Value(Date{d * 1000.0}));
      return;
    }
    deliver(Value(d));
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
    open_container(Frame::Kind::Array, count);
  }

  void on_map(size_t count) {
    if (!accept(Item::Other)) return;
    if (count > bytes_after_head() / 2) {
      fail("map of " + std::to_string(count) + " entries exceeds remaining input (" +
           std::to_string(bytes_after_head()) + " bytes)");
      return;
    }
    open_container(Frame::Kind::Map, count);
  }

  /// Opens an array or a map of `count` items; an empty one is complete at once.
  void open_container(Frame::Kind kind, size_t count) {
    if (!enter_container()) return;
    const bool array = kind == Frame::Kind::Array;
    if (count == 0) {
      deliver(array ? Value(Value::Array{}) : Value(Value::Object{}));
      return;
    }
    stack_.push_back(Frame{kind, count, {}, {}, {}, {}, {}});
    if (array) {
      stack_.back().array.reserve(std::min(count, kMaxReserve));
    } else {
      stack_.back().object.reserve(std::min(count, kMaxReserve));
    }
    depth_++;
  }

  void on_tag(uint64_t tag) {
    if (!accept(Item::Other)) return;
    if (tag == 2 || tag == 3) {
      expect_ = Expect::BignumBytes;
      bignum_negative_ = tag == 3;
    } else if (tag == QB_CBOR_TAG_ERROR) {
      expect_ = Expect::ErrorArray;
    } else if (tag == QB_CBOR_TAG_HANDLE) {
      expect_ = Expect::HandleId;
    } else if (tag == 1) {
      expect_ = Expect::DateNumber;
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

}  // namespace

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

}  // namespace quickbox
