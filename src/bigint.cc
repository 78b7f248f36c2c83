// quickbox::BigInt: conversions between magnitudes, CBOR bignums, hexadecimal and decimal text.
// Everything here is linear in the size of the number except the decimal conversions (OpenSSL's
// BIGNUM), which are quadratic and therefore used by the library only below
// internal::kDecimalBigIntMaxBytes.
#include "bigint.hh"

#include <openssl/bn.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <memory>
#include <new>
#include <stdexcept>
#include <string_view>

namespace quickbox {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// OpenSSL's BIGNUM does the decimal arithmetic (a well-kept library rather than our own limb code).
using BigNum = std::unique_ptr<BIGNUM, decltype(&BN_free)>;

BigNum new_bignum(BIGNUM *raw) {
  if (!raw) throw std::bad_alloc();
  return BigNum(raw, &BN_free);
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
  BIGNUM *raw = nullptr;
  const std::string digits(text.substr(i));  // BN_dec2bn reads a NUL-terminated string
  if (BN_dec2bn(&raw, digits.c_str()) != static_cast<int>(digits.size())) {
    BN_free(raw);
    throw std::bad_alloc();  // the digits were checked above: only memory can be short
  }
  BigNum value = new_bignum(raw);
  BigInt big;
  big.magnitude.resize(static_cast<size_t>(BN_num_bytes(value.get())));
  BN_bn2bin(value.get(), big.magnitude.data());
  big.negative = negative && !big.magnitude.empty();
  return big;
}

std::string BigInt::to_decimal() const {
  BigNum value = new_bignum(BN_bin2bn(magnitude.data(), static_cast<int>(magnitude.size()), nullptr));
  if (BN_is_zero(value.get())) return "0";
  std::unique_ptr<char, void (*)(char *)> digits(BN_bn2dec(value.get()), [](char *p) { OPENSSL_free(p); });
  if (!digits) throw std::bad_alloc();
  std::string text = negative ? "-" : "";
  return text.append(digits.get());
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
