// Error text crossing into JavaScript, bounded as abi/quickbox_abi.h documents (src/error_text.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "quickbox/value.hh"

namespace quickbox::internal {

/// text as well-formed UTF-8 (each byte that is not becomes U+FFFD) of at most max_chars
/// characters, counted in UTF-16 code units as JavaScript does, followed by QB_TRUNCATION_MARKER
/// when it was longer. NUL bytes are kept. Linear in the length of text.
std::string bounded_error_text(std::string_view text, uint32_t max_chars);

/// error with its name, message and stack bounded to QB_ERROR_*_MAX_CHARS.
ErrorValue bounded_error(const ErrorValue &error);

}  // namespace quickbox::internal
