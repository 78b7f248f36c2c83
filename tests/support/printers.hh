// Lets GoogleTest print quickbox values and enums the way a reader thinks of them ({"a":1},
// "Timeout", "rejected", "warn") instead of as raw bytes or numbers when an expectation fails.
// gtest finds these by argument-dependent lookup, so they live in namespace quickbox. Values print
// as JSON: the host has no JavaScript-style formatter of its own (the sandbox's is Sandbox::format).
#pragma once

#include <ostream>

#include "quickbox/quickbox.hh"

namespace quickbox {

inline void PrintTo(const Value &value, std::ostream *out) { *out << to_json(value); }
inline void PrintTo(ErrorKind kind, std::ostream *out) { *out << to_string(kind); }
inline void PrintTo(CallOutcome outcome, std::ostream *out) { *out << to_string(outcome); }
inline void PrintTo(ConsoleLevel level, std::ostream *out) { *out << to_string(level); }

}  // namespace quickbox
