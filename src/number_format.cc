// Number::toString (radix 10) as ECMAScript defines it. std::to_chars finds the shortest digits
// that round-trip; only the placement of the decimal point and the exponent is JavaScript's own.
#include "number_format.hh"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string_view>

namespace quickbox {

std::string internal::js_number_to_string(double d) {
  if (std::isnan(d)) return "NaN";
  if (d == 0) return "0";
  if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
  char buffer[64];
  const auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof buffer, d, std::chars_format::scientific);
  std::string_view scientific(buffer, static_cast<size_t>(end - buffer));  // e.g. "-1.5e-07"
  std::string out;
  if (scientific.front() == '-') {
    out = "-";
    scientific.remove_prefix(1);
  }
  const size_t e = scientific.find('e');
  std::string digits;
  for (const char c : scientific.substr(0, e)) {
    if (c != '.') digits += c;
  }
  std::string_view exponent_text = scientific.substr(e + 1);
  const bool negative_exponent = exponent_text.front() == '-';
  if (exponent_text.front() == '-' || exponent_text.front() == '+') exponent_text.remove_prefix(1);
  int exponent = 0;
  std::from_chars(exponent_text.data(), exponent_text.data() + exponent_text.size(), exponent);
  if (negative_exponent) exponent = -exponent;

  // In the spec's terms: value = digits × 10^(n - k).
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  if (k <= n && n <= 21) return out + digits + std::string(static_cast<size_t>(n - k), '0');
  if (0 < n && n <= 21) return out + digits.substr(0, n) + "." + digits.substr(n);
  if (-6 < n && n <= 0) return out + "0." + std::string(static_cast<size_t>(-n), '0') + digits;
  out += digits[0];
  if (k > 1) out.append(".").append(digits, 1);
  out += n - 1 >= 0 ? "e+" : "e-";
  return out + std::to_string(std::abs(n - 1));
}

}  // namespace quickbox
