// JSON text helpers shared inside the library (src/json.cc).
#pragma once

#include <string>
#include <string_view>

namespace quickbox::internal {

/// s as a JSON string literal, quoted and escaped as JSON.stringify does; bytes that are not
/// UTF-8 become U+FFFD, so the result always is.
std::string json_quote(std::string_view s);

}  // namespace quickbox::internal
