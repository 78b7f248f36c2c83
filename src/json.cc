// JSON text for values: to_json writes what JSON.stringify would (with the mapping value.hh gives
// for BigInts, bytes and errors); parse_json reads as JSON.parse does, through nlohmann/json's
// SAX parser, building a Value directly.
#include "json.hh"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "bigint.hh"
#include "number_format.hh"
#include "quickbox/value.hh"
#include "value_path.hh"

namespace quickbox {

std::string internal::json_quote(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

using internal::json_quote;

// ---- Writing ------------------------------------------------------------------------------------

std::string base64(const std::vector<uint8_t> &data) {
  // EVP_EncodeBlock takes an int length, so it gets whole groups of three bytes at a time (the
  // padding stays at the very end); it writes a NUL after each chunk, hence the extra byte.
  constexpr size_t kChunk = 3 << 20;
  std::string out((data.size() + 2) / 3 * 4 + 1, '\0');
  size_t written = 0;
  for (size_t at = 0; at < data.size(); at += kChunk) {
    const size_t n = std::min(kChunk, data.size() - at);
    written += static_cast<size_t>(
        EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()) + written, data.data() + at, static_cast<int>(n)));
  }
  out.resize(written);
  return out;
}

void write_json(const Value &value, std::string &out);

struct JsonWriter {
  std::string &out;
  void operator()(Undefined) const { out += "null"; }
  void operator()(std::nullptr_t) const { out += "null"; }
  void operator()(bool b) const { out += b ? "true" : "false"; }
  void operator()(double d) const { out += std::isfinite(d) ? internal::js_number_to_string(d) : "null"; }
  void operator()(const BigInt &big) const {
    out.append(1, '"').append(internal::bigint_digits_for_display(big)).append(1, '"');  // appended: GCC 12 warns falsely on "\"" + ...
  }
  void operator()(const std::string &s) const { out += json_quote(s); }
  void operator()(const Bytes &bytes) const { out += "{\"$bytes\":\"" + base64(bytes.data) + "\"}"; }
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
  void operator()(Date date) const {
    out += "{\"$date\":";
    write_json(Value(date.epoch_ms), out);
    out += "}";
  }
  void operator()(Handle handle) const { out += "{\"$handle\":" + std::to_string(handle.id) + "}"; }
  void operator()(const ErrorValue &error) const {
    out += "{\"name\":" + json_quote(error.name) + ",\"message\":" + json_quote(error.message) +
           ",\"stack\":" + json_quote(error.stack) + "}";
  }
};

void write_json(const Value &value, std::string &out) { std::visit(JsonWriter{out}, value.storage()); }

// ---- Reading ------------------------------------------------------------------------------------

constexpr size_t kMaxDepth = 256;

/// An iterator over the text that records how far the parser has read. SAX events carry no
/// position, and a container that nests too deep is still reported where it opens.
class TrackedIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char *;
  using reference = const char &;

  TrackedIterator(const char *at, const char **read_to) : at_(at), read_to_(read_to) {}
  reference operator*() const { return *at_; }
  TrackedIterator &operator++() {
    *read_to_ = ++at_;
    return *this;
  }
  TrackedIterator operator++(int) {
    TrackedIterator before = *this;
    ++*this;
    return before;
  }
  bool operator==(const TrackedIterator &other) const { return at_ == other.at_; }

 private:
  const char *at_;
  const char **read_to_;
};

/// "line 3, column 7" for a byte offset; columns count characters, not UTF-8 bytes.
std::string place(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < std::min(offset, text.size()); i++) {
    if (text[i] == '\n') {
      line++, column = 1;
    } else if ((static_cast<uint8_t>(text[i]) & 0xc0) != 0x80) {
      column++;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

/// What nlohmann/json says went wrong, without its prefix ("[json.exception.parse_error.101]
/// parse error at line 1, column 8: "), whose column counts bytes: place() says where instead.
std::string explanation(const nlohmann::json::exception &error) {
  std::string_view what = error.what();
  if (size_t id_end = what.find("] "); id_end != std::string_view::npos) what.remove_prefix(id_end + 2);
  if (what.starts_with("parse error")) {
    if (size_t colon = what.find(": "); colon != std::string_view::npos) what.remove_prefix(colon + 2);
  }
  return std::string(what);
}

/// The SAX handler: builds the Value as the parser reports it, with JSON.parse's treatment of
/// numbers and repeated keys, the depth limit, and (when asked) a refusal of repeated keys.
class ValueBuilder {
 public:
  ValueBuilder(std::string_view text, const JsonOptions &options, const char *const *read_to)
      : text_(text), options_(options), read_to_(read_to) {}

  Decoded result() {
    if (!error_.empty()) return {false, Value(), std::move(error_)};
    return {true, std::move(root_), {}};
  }

  bool null() { return add(Value(nullptr)); }
  bool boolean(bool b) { return add(Value(b)); }
  // nlohmann/json types an integer by its sign: a negative one arrives here, any other at
  // number_unsigned. So 0 here was written "-0", which JSON.parse reads as -0.
  bool number_integer(int64_t n) { return add(Value(n == 0 ? -0.0 : static_cast<double>(n))); }
  bool number_unsigned(uint64_t n) { return add(Value(static_cast<double>(n))); }
  bool number_float(double d, const std::string &) { return add(Value(d)); }
  bool string(std::string &s) { return add(Value(std::move(s))); }
  bool binary(nlohmann::json::binary_t &) { return false; }  // JSON text never holds binary
  bool start_object(size_t) { return open(true); }
  bool start_array(size_t) { return open(false); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(std::string &key) {
    Frame &object = stack_.back();
    if (options_.refuse_duplicate_keys && object.index.contains(key)) {
      error_ = "duplicate key " + json_quote(key) + " in the object at " + path() + ": each key may appear once";
      return false;
    }
    object.key = std::move(key);
    return true;
  }

  bool parse_error(size_t position, const std::string &, const nlohmann::json::exception &error) {
    // position counts the characters read, the offending one included
    error_ = "invalid JSON at " + place(text_, position == 0 ? 0 : position - 1) + ": " + explanation(error);
    return false;
  }

 private:
  struct Frame {
    bool is_object;
    Value::Array array;
    Value::Object object;
    std::unordered_map<std::string, size_t> index;  // key -> position in object
    std::string key;                                // the key whose value comes next
  };

  bool open(bool is_object) {
    if (stack_.size() == kMaxDepth) {
      error_ = "invalid JSON at " + place(text_, static_cast<size_t>(*read_to_ - text_.data()) - 1) +
               ": value nests deeper than the limit of " + std::to_string(kMaxDepth) + " levels";
      return false;
    }
    stack_.push_back(Frame{.is_object = is_object});
    return true;
  }

  bool close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    return add(frame.is_object ? Value(std::move(frame.object)) : Value(std::move(frame.array)));
  }

  bool add(Value value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return true;
    }
    Frame &top = stack_.back();
    if (!top.is_object) {
      top.array.push_back(std::move(value));
      return true;
    }
    // Like JSON.parse: a repeated key keeps its first position and takes the last value.
    const auto [at, inserted] = top.index.try_emplace(top.key, top.object.size());
    if (inserted) {
      top.object.emplace_back(std::move(top.key), std::move(value));
    } else {
      top.object[at->second].second = std::move(value);
    }
    return true;
  }

  /// The path to the innermost open container: each container below it leads on by the key
  /// whose value is being read, or by the index of the element being read.
  std::string path() const {
    using internal::PathStep;
    std::vector<PathStep> steps;
    for (size_t i = 0; i + 1 < stack_.size(); i++) {
      const Frame &frame = stack_[i];
      steps.push_back(frame.is_object ? PathStep{PathStep::Kind::Key, 0, frame.key}
                                      : PathStep{PathStep::Kind::Index, frame.array.size(), {}});
    }
    return internal::format_path(steps);
  }

  std::string_view text_;
  const JsonOptions &options_;
  const char *const *read_to_;
  std::vector<Frame> stack_;
  Value root_;
  std::string error_;
};

}  // namespace

std::string to_json(const Value &value) {
  std::string out;
  write_json(value, out);
  return out;
}

Decoded parse_json(std::string_view text, const JsonOptions &options) {
  const char *read_to = text.data();
  ValueBuilder builder(text, options, &read_to);
  try {
    nlohmann::json::sax_parse(TrackedIterator(text.data(), &read_to),
                              TrackedIterator(text.data() + text.size(), &read_to), &builder);
  } catch (const std::bad_alloc &) {
    return {false, Value(), "out of memory while parsing " + std::to_string(text.size()) + " bytes of JSON"};
  }
  return builder.result();
}

}  // namespace quickbox
