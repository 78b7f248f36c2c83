// JavaScript's Number-to-text conversion, for the host's JSON output (src/number_format.cc).
#pragma once

#include <string>

namespace quickbox::internal {

/// Formats d as JavaScript's String(d) does: the shortest digits that round-trip (std::to_chars),
/// laid out with the ECMAScript exponent rules (1e+21, 1e-7, 0.000001, 123456789012345680000).
/// "NaN", "Infinity" and "-Infinity" for the non-finite; -0 gives "0", as in JavaScript.
std::string js_number_to_string(double d);

}  // namespace quickbox::internal
