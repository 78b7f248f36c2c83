// Small text checks shared by the specification files.
#pragma once

#include <string_view>

namespace quickbox::test_support {

/// Whether `part` occurs anywhere in `text`.
inline bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

}  // namespace quickbox::test_support
