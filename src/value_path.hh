// Where a value sits inside another, for error messages about it (src/value_path.cc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace quickbox::internal {

/// One step from a container to a value inside it: an array index or an object key.
struct PathStep {
  enum class Kind { Index, Key } kind;
  size_t index = 0;
  std::string_view key;  ///< borrowed: the key must outlive the step
};

/// The path as a JavaScript accessor chain from the root, `$`: "$.a[2]["b c"]". Keys that are
/// ASCII identifiers read as `.key`, the others as a quoted JSON string in brackets.
std::string format_path(const std::vector<PathStep> &path);

}  // namespace quickbox::internal
