// transform_source: the C++ face of the TypeScript stripper, which is Rust (oxc) and lives in the
// wasmtime wrapper library (deps/wasmtime/typescript.rs) for the reason deps/wasmtime/Cargo.toml
// gives. This file turns its C result into quickbox's Error vocabulary.
#include "quickbox/typescript.hh"

#include <cstddef>
#include <cstdint>

#include "internal.hh"
#include "utf8.hh"

extern "C" {
// deps/wasmtime/typescript.rs
struct QuickboxTsResult {
  int32_t status;
  uint32_t line;
  uint32_t column;
  uint8_t *text;
  size_t len;
};
int32_t quickbox_ts_strip(const uint8_t *source, size_t len, uint32_t flags, QuickboxTsResult *out);
void quickbox_ts_free(QuickboxTsResult *result);
}

namespace quickbox {
namespace {

// typescript.rs: flags and statuses
constexpr uint32_t kModule = 1, kTsx = 2, kStrip = 4, kConstToVar = 8;
constexpr int32_t kOk = 0, kSyntax = 1, kLimit = 2;

Error error_of(ErrorKind kind, std::string message) {
  Error e;
  e.kind = kind;
  e.message = std::move(message);
  return e;
}

}  // namespace

Expected<std::string> transform_source(std::string_view source, const TransformOptions &options) {
  if (source.size() > kMaxTransformBytes)
    return error_of(ErrorKind::InvalidInput, "the source to transform is " + internal::format_bytes(source.size()) +
                                                 ", more than the transform limit of " +
                                                 internal::format_bytes(kMaxTransformBytes));
  if (size_t bad = internal::find_invalid_utf8(source); bad != std::string_view::npos)
    return error_of(ErrorKind::InvalidInput,
                    "the source is not valid UTF-8 (first bad byte at offset " + std::to_string(bad) + ")");
  uint32_t flags = (options.module ? kModule : 0) | (options.top_level_const_to_var ? kConstToVar : 0);
  if (options.language == SourceLanguage::TypeScript) flags |= kStrip;
  if (options.language == SourceLanguage::TSX) flags |= kStrip | kTsx;
  QuickboxTsResult result{};
  quickbox_ts_strip(reinterpret_cast<const uint8_t *>(source.data()), source.size(), flags, &result);
  std::string text(reinterpret_cast<const char *>(result.text), result.len);
  quickbox_ts_free(&result);
  if (result.status == kOk) return text;
  if (result.status == kSyntax || result.status == kLimit) {
    Error e = error_of(ErrorKind::JSException, std::move(text));
    e.name = "SyntaxError";
    e.stack = "    at " + options.filename + ":" + std::to_string(result.line) + ":" +
              std::to_string(result.column) + "\n";
    return e;
  }
  return error_of(ErrorKind::Internal, "the source transform failed: " + text);
}

}  // namespace quickbox
