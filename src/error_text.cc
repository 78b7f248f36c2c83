// Error text that the host sends into a sandbox (failed host calls, rejections) is cut to the same
// documented sizes as the guest's own error reports, so that a handler's huge message neither
// costs the sandbox its input buffer nor fails to arrive.
#include "error_text.hh"

#include <cstdio>
#include <utility>

#include "internal.hh"
#include "quickbox_abi.h"
#include "utf8.hh"

namespace quickbox::internal {

namespace {

/// UTF-16 code units of the character at text[i] (a byte that is not UTF-8 counts as U+FFFD)
/// and its length in bytes.
std::pair<unsigned, size_t> character_at(std::string_view text, size_t i) {
  char32_t cp;
  const size_t length = decode_utf8(text, i, cp);
  if (length == 0) return {1, 1};
  return {cp >= 0x10000 ? 2u : 1u, length};
}

/// Characters (UTF-16 code units) of QB_TRUNCATION_MARKER for `dropped`: U+2026 is one, the
/// rest is ASCII.
uint64_t marker_chars(uint64_t dropped) { return 30 + std::to_string(dropped).size(); }

}  // namespace

std::string bounded_error_text(std::string_view text, uint32_t max_chars) {
  static constexpr std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD
  uint64_t total = 0;
  for (size_t i = 0; i < text.size();) {
    const auto [units, bytes] = character_at(text, i);
    total += units;
    i += bytes;
  }
  // Keep as many characters as fit with the marker for the rest, so that cutting an already cut
  // text again changes nothing (the guest counts the same way: guest/error_text.c).
  uint64_t keep = total;
  if (total > max_chars) {
    keep = max_chars > 31 ? max_chars - 31 : 0;
    while (keep > 0 && keep + marker_chars(total - keep) > max_chars) keep--;
  }
  std::string out;
  out.reserve(std::min<size_t>(text.size(), size_t{max_chars} * 3));
  uint64_t kept = 0;
  for (size_t i = 0; i < text.size();) {
    const auto [units, bytes] = character_at(text, i);
    if (kept + units > keep) break;  // a surrogate pair that does not fit is dropped whole
    kept += units;
    char32_t cp;
    if (decode_utf8(text, i, cp) == 0) {
      out += kReplacement;
    } else {
      out.append(text, i, bytes);
    }
    i += bytes;
  }
  if (kept == total) return out;
  const uint64_t dropped = total - kept;
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
