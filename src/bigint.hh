// BigInt helpers shared by the value codec and the JSON text (src/bigint.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "quickbox/value.hh"

namespace quickbox::internal {

/// Largest magnitude, in bytes, that the host's JSON text writes in decimal. Decimal conversion
/// is quadratic in the size; at this bound it costs about a hundred operations per byte, so
/// printing any value stays linear in its size. Larger BigInts print exactly in hex. The guest's
/// formatter applies the same bound (decimalBigIntMaxHexDigits in guest/prelude.js).
inline constexpr size_t kDecimalBigIntMaxBytes = 1024;

/// The BigInt's digits for a printer: decimal ("-42") up to kDecimalBigIntMaxBytes, hexadecimal
/// ("-0x1f...") beyond it. Linear in the size of the magnitude.
std::string bigint_digits_for_display(const BigInt &big);

/// The BigInt whose CBOR bignum (RFC 8949 tag 2, or tag 3 when negative) holds `content`.
BigInt bigint_from_bignum(const uint8_t *content, size_t size, bool negative);

/// The content of big's CBOR bignum: |big| for tag 2, |big| - 1 for tag 3 (negative).
std::vector<uint8_t> bignum_from_bigint(const BigInt &big);

/// Bytes of big's magnitude, leading zero bytes not counted.
size_t magnitude_size(const BigInt &big);

}  // namespace quickbox::internal
