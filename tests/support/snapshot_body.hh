// The body of a snapshot (or a CLI state file) decompressed, for specifications that search it for
// what must never be in it (a secret). The format is in docs/architecture.md, "Snapshots".
#pragma once

#include <zstd.h>

#include <cstdint>
#include <span>
#include <string>

namespace quickbox::test_support {

/// The zstd body between the 64-byte header and the 32-byte trailer, decompressed; "" when the
/// bytes are not a snapshot.
inline std::string snapshot_body(std::span<const uint8_t> bytes) {
  constexpr size_t kHeader = 64, kTrailer = 32;
  if (bytes.size() < kHeader + kTrailer) return "";
  std::span<const uint8_t> frame = bytes.subspan(kHeader, bytes.size() - kHeader - kTrailer);
  unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) return "";
  std::string body(size, '\0');
  size_t n = ZSTD_decompress(body.data(), body.size(), frame.data(), frame.size());
  return ZSTD_isError(n) ? "" : body;
}

}  // namespace quickbox::test_support
