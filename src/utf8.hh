// UTF-8 validation shared by the value codec, the sandbox's input checks and error text (src/utf8.cc).
#pragma once

#include <cstddef>
#include <string_view>

namespace quickbox::internal {

/// Decodes the well-formed UTF-8 sequence at s[i] (no overlongs, surrogates or values beyond
/// U+10FFFF). Returns its length, or 0 when the bytes there are not well-formed.
size_t decode_utf8(std::string_view s, size_t i, char32_t &cp);

/// Offset of the first byte that is not part of well-formed UTF-8 (no overlongs, surrogates or
/// values beyond U+10FFFF), or std::string_view::npos.
size_t find_invalid_utf8(std::string_view s);

}  // namespace quickbox::internal
