// Error text that the host sends into a sandbox (failed host calls, rejections) is cut to the same
// documented sizes as the guest's own error reports, so that a handler's huge message neither
// costs the sandbox its input buffer nor fails to arrive.
#include "error_text.hh"

#include <cstdio>

#include "internal.hh"
#include "quickbox_abi.h"
#include "utf8.hh"

namespace quickbox::internal {

std::string bounded_error_text(std::string_view text, uint32_t max_chars) {
  static constexpr std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD
  std::string out;
  out.reserve(std::min<size_t>(text.size(), size_t{max_chars} * 3));
  uint64_t units = 0;
  size_t i = 0;
  while (i < text.size()) {
    char32_t cp;
    const size_t length = decode_utf8(text, i, cp);
    const unsigned width = cp >= 0x10000 && length != 0 ? 2 : 1;  // UTF-16 code units
    if (units + width > max_chars) break;
    units += width;
    if (length == 0) {
      out += kReplacement;
      i++;
    } else {
      out.append(text, i, length);
      i += length;
    }
  }
  if (i == text.size()) return out;
  uint64_t dropped = 0;  // characters left, counted the same way
  while (i < text.size()) {
    char32_t cp;
    const size_t length = decode_utf8(text, i, cp);
    dropped += cp >= 0x10000 && length != 0 ? 2 : 1;
    i += length == 0 ? 1 : length;
  }
  char marker[64];
  const int n = std::snprintf(marker, sizeof marker, QB_TRUNCATION_MARKER,
                              static_cast<unsigned long long>(dropped));
  out.append(marker, static_cast<size_t>(n));
  return out;
}

ErrorValue bounded_error(const ErrorValue &error) {
  return ErrorValue{.name = bounded_error_text(error.name, QB_ERROR_NAME_MAX_CHARS),
                    .message = bounded_error_text(error.message, QB_ERROR_MESSAGE_MAX_CHARS),
                    .stack = bounded_error_text(error.stack, QB_ERROR_STACK_MAX_CHARS)};
}

std::vector<uint8_t> encode_js_error(const std::string &name, const std::string &message) {
  return encode_cbor(Value(bounded_error(ErrorValue{.name = name, .message = message, .stack = ""})));
}

}  // namespace quickbox::internal
