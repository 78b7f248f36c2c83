// UTF-8 validation: text entering a sandbox (values, source, names) must be well-formed UTF-8,
// and error text is cut only between characters.
#include "utf8.hh"

#include <cstdint>

namespace quickbox {

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
}  // namespace quickbox
