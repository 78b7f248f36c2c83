// Paths to values inside values, written as JavaScript accessor chains (src/value_path.hh).
#include "value_path.hh"

#include <algorithm>

#include "json.hh"

namespace quickbox {
namespace {

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

/// A key that reads as `.key` in a path: a JavaScript identifier made of ASCII.
bool is_identifier(std::string_view key) {
  if (key.empty() || !(is_ascii_letter(key[0]) || key[0] == '_' || key[0] == '$')) return false;
  return std::all_of(key.begin() + 1, key.end(), [](char c) {
    return is_ascii_letter(c) || is_ascii_digit(c) || c == '_' || c == '$';
  });
}

}  // namespace

std::string internal::format_path(const std::vector<PathStep> &path) {
  std::string out = "$";
  for (const PathStep &step : path) {
    if (step.kind == PathStep::Kind::Index) {
      out.append("[").append(std::to_string(step.index)).append("]");
    } else if (is_identifier(step.key)) {
      out.append(".").append(step.key);
    } else {
      out.append("[").append(json_quote(step.key)).append("]");
    }
  }
  return out;
}

}  // namespace quickbox
