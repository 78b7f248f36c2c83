// quickbox::BigInt: conversions between magnitudes, CBOR bignums, hexadecimal and decimal text.
// Everything here is linear in the size of the number except the decimal conversions, which are
// quadratic and therefore used by the library only below internal::kDecimalBigIntMaxBytes.
#include "bigint.hh"

#include <algorithm>
#include <stdexcept>
#include <string_view>

namespace quickbox {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Magnitudes as little-endian 32-bit limbs, for the decimal conversions.
using Limbs = std::vector<uint32_t>;

Limbs limbs_from_magnitude(const std::vector<uint8_t> &magnitude) {
  Limbs limbs((magnitude.size() + 3) / 4, 0);
  for (size_t i = 0; i < magnitude.size(); i++) {
    const size_t from_end = magnitude.size() - 1 - i;
    limbs[from_end / 4] |= uint32_t{magnitude[i]} << (8 * (from_end % 4));
  }
  return limbs;
}

std::vector<uint8_t> magnitude_from_limbs(const Limbs &limbs) {
  std::vector<uint8_t> magnitude;
  for (size_t i = limbs.size(); i-- > 0;) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      const auto byte = static_cast<uint8_t>(limbs[i] >> shift);
      if (byte != 0 || !magnitude.empty()) magnitude.push_back(byte);
    }
  }
  return magnitude;
}

/// limbs = limbs * factor + addend
void multiply_add(Limbs &limbs, uint32_t factor, uint32_t addend) {
  uint64_t carry = addend;
  for (uint32_t &limb : limbs) {
    const uint64_t product = uint64_t{limb} * factor + carry;
    limb = static_cast<uint32_t>(product);
    carry = product >> 32;
  }
  if (carry) limbs.push_back(static_cast<uint32_t>(carry));
}

/// limbs = limbs / divisor; returns the remainder. Drops leading zero limbs.
uint32_t divide(Limbs &limbs, uint32_t divisor) {
  uint64_t remainder = 0;
  for (size_t i = limbs.size(); i-- > 0;) {
    const uint64_t current = (remainder << 32) | limbs[i];
    limbs[i] = static_cast<uint32_t>(current / divisor);
    remainder = current % divisor;
  }
  while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
  return static_cast<uint32_t>(remainder);
}

std::vector<uint8_t> strip_leading_zeros(const uint8_t *data, size_t size) {
  const uint8_t *first = std::find_if(data, data + size, [](uint8_t b) { return b != 0; });
  return {first, data + size};
}

std::string quoted_for_error(std::string_view text) {
  constexpr size_t kShown = 40;  // a mistyped number of a million digits need not be echoed whole
  if (text.size() <= kShown) return "\"" + std::string(text) + "\"";
  return "\"" + std::string(text.substr(0, kShown)) + "...\" (" + std::to_string(text.size()) +
         " characters)";
}

}  // namespace

BigInt BigInt::from_int64(int64_t v) {
  BigInt big;
  big.negative = v < 0;
  // Negate in unsigned arithmetic so INT64_MIN works.
  uint64_t magnitude = big.negative ? ~static_cast<uint64_t>(v) + 1 : static_cast<uint64_t>(v);
  for (; magnitude != 0; magnitude >>= 8) {
    big.magnitude.insert(big.magnitude.begin(), static_cast<uint8_t>(magnitude));
  }
  return big;
}

BigInt BigInt::from_decimal(std::string_view text) {
  size_t i = 0;
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    i = 1;
  }
  if (i == text.size()) {
    throw std::invalid_argument("BigInt decimal text " + quoted_for_error(text) + " has no digits");
  }
  for (size_t at = i; at < text.size(); at++) {
    if (text[at] >= '0' && text[at] <= '9') continue;
    const auto u = static_cast<unsigned char>(text[at]);
    const std::string shown = u >= 0x20 && u < 0x7f
                                  ? std::string("'") + text[at] + "'"
                                  : std::string("byte 0x") + kHexDigits[u >> 4] + kHexDigits[u & 15];
    throw std::invalid_argument("invalid character " + shown + " at position " +
                                std::to_string(at) + " in BigInt decimal text " +
                                quoted_for_error(text));
  }
  Limbs limbs;
  while (i < text.size()) {  // nine digits at a time: 10^9 fits a limb
    const size_t count = std::min<size_t>(9, text.size() - i);
    uint32_t chunk = 0, scale = 1;
    for (size_t k = 0; k < count; k++, i++) {
      chunk = chunk * 10 + static_cast<uint32_t>(text[i] - '0');
      scale *= 10;
    }
    multiply_add(limbs, scale, chunk);
  }
  BigInt big;
  big.magnitude = magnitude_from_limbs(limbs);
  big.negative = negative && !big.magnitude.empty();
  return big;
}

std::string BigInt::to_decimal() const {
  Limbs limbs = limbs_from_magnitude(magnitude);
  while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
  if (limbs.empty()) return "0";
  std::string reversed;  // least significant digit first
  while (!limbs.empty()) {
    uint32_t chunk = divide(limbs, 1000000000);
    for (int i = 0; i < 9 && (chunk != 0 || !limbs.empty()); i++) {
      reversed += static_cast<char>('0' + chunk % 10);
      chunk /= 10;
    }
  }
  if (negative) reversed += '-';
  return {reversed.rbegin(), reversed.rend()};
}

std::string BigInt::to_hex() const {
  const std::vector<uint8_t> digits = strip_leading_zeros(magnitude.data(), magnitude.size());
  std::string out = negative && !digits.empty() ? "-0x" : "0x";
  if (digits.empty()) return out + "0";
  out.reserve(out.size() + 2 * digits.size());
  if (digits[0] >= 16) out += kHexDigits[digits[0] >> 4];  // no leading zero digit
  out += kHexDigits[digits[0] & 15];
  for (size_t i = 1; i < digits.size(); i++) {
    out += kHexDigits[digits[i] >> 4];
    out += kHexDigits[digits[i] & 15];
  }
  return out;
}

namespace internal {

size_t magnitude_size(const BigInt &big) {
  const auto first = std::find_if(big.magnitude.begin(), big.magnitude.end(),
                                   [](uint8_t b) { return b != 0; });
  return static_cast<size_t>(big.magnitude.end() - first);
}

std::string bigint_digits_for_display(const BigInt &big) {
  return magnitude_size(big) <= kDecimalBigIntMaxBytes ? big.to_decimal() : big.to_hex();
}

BigInt bigint_from_bignum(const uint8_t *content, size_t size, bool negative) {
  BigInt big;
  big.magnitude = strip_leading_zeros(content, size);
  if (negative) {  // tag 3 holds -1 - value: the magnitude is content + 1
    big.negative = true;
    size_t i = big.magnitude.size();
    while (i > 0 && ++big.magnitude[i - 1] == 0) i--;
    if (i == 0) big.magnitude.insert(big.magnitude.begin(), 1);
  }
  return big;
}

std::vector<uint8_t> bignum_from_bigint(const BigInt &big) {
  std::vector<uint8_t> content = strip_leading_zeros(big.magnitude.data(), big.magnitude.size());
  if (big.negative && !content.empty()) {  // tag 3 carries -1 - value: magnitude - 1
    for (size_t i = content.size(); i-- > 0;) {
      if (content[i]-- != 0) break;
    }
    content = strip_leading_zeros(content.data(), content.size());
  }
  return content;
}

}  // namespace internal
}  // namespace quickbox
