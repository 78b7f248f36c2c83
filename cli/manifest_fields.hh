/// \file manifest_fields.hh
/// \brief Readers of manifest fields, shared by manifest.cc and the "fetch" section
/// (manifest_fetch.cc): each checks one JSON value and names the field when it is wrong.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "quickbox/value.hh"

namespace quickbox::cli::manifest {

/// Thrown while reading a manifest; load_manifest() turns it into a UsageError naming the file.
struct ManifestError {
  std::string message;
};

/// Throws ManifestError{"where: what"}.
[[noreturn]] void fail(const std::string &where, const std::string &what);

/// "a, b, c".
std::string joined(std::span<const std::string_view> names);

/// A JSON number that is a whole number within [min, max].
uint64_t whole_number(const Value &value, const std::string &where, uint64_t min, uint64_t max);
bool boolean(const Value &value, const std::string &where);
const std::string &nonempty_string(const Value &value, const std::string &where);
/// An array of label names ("sensitive_data", "untrusted_input", "external_effect") as bits.
uint8_t labels(const Value &value, const std::string &where);

}  // namespace quickbox::cli::manifest
