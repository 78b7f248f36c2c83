// decode_cbor on arbitrary bytes (the guest writes results and capability arguments as CBOR;
// snapshots carry CBOR host state). Whatever it accepts must re-encode, decode again to the same
// encoding, and go through the JSON text the CLI writes for it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>

#include "harness.hh"

using namespace quickbox_fuzz;

namespace {

std::vector<uint8_t> encode_or_fail(const Value &value, const char *what) {
  try {
    return encode_cbor(value);
  } catch (const std::exception &e) {
    invariant_failed(std::string(what) + " does not encode: " + e.what());
  }
}

// Nesting as JSON sees it: arrays and objects, and also bytes and errors (to_json writes them as
// objects).
uint32_t json_depth(const Value &value) {
  uint32_t deepest = 0;
  if (value.is_array())
    for (const Value &item : value.as_array()) deepest = std::max(deepest, json_depth(item));
  if (value.is_object())
    for (const auto &[key, item] : value.as_object()) deepest = std::max(deepest, json_depth(item));
  bool nests = value.is_array() || value.is_object() || value.is_bytes() || value.is_error();
  return deepest + (nests ? 1 : 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  Decoded decoded = decode_cbor(bytes);
  if (!decoded.ok) {
    if (decoded.error.empty()) invariant_failed("a refusal without a message");
    return 0;
  }
  // Encodings are canonical, so comparing them also compares values whose numbers are NaN.
  std::vector<uint8_t> encoded = encode_or_fail(decoded.value, "an accepted value");
  Decoded again = decode_cbor(encoded);
  if (!again.ok) invariant_failed("the encoding of an accepted value is refused: " + again.error);
  if (encode_or_fail(again.value, "a re-decoded value") != encoded)
    invariant_failed("decode(encode(value)) differs from value");

  // A tighter depth limit either refuses or yields the same value.
  Decoded shallow = decode_cbor(bytes, DecodeLimits{.max_depth = 2});
  if (shallow.ok && encode_or_fail(shallow.value, "a shallow value") != encoded)
    invariant_failed("a lower depth limit changed the decoded value");

  // The JSON text the CLI writes for values that came from a guest.
  std::string json = to_json(decoded.value);
  Decoded reparsed = parse_json(json);
  if (!reparsed.ok && json_depth(decoded.value) <= 256)
    invariant_failed("to_json wrote text parse_json refuses: " + reparsed.error);
  return 0;
}
