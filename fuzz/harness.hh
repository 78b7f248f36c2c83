// Shared by the fuzz targets and the seed generator: the fixed signing key, the one engine per
// process, the snapshot framing (mirrors the layout documented in src/snapshot.cc, which keeps it
// private), and the checks a successfully restored sandbox must pass.
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zstd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quickbox/quickbox.hh"
#include "quickbox/snapshot.hh"

namespace quickbox_fuzz {

using namespace quickbox;

/// Signed seeds are signed with this key, and the targets verify with it.
inline const std::vector<uint8_t> kSigningKey = {'q', 'u', 'i', 'c', 'k', 'b', 'o', 'x', '-',
                                                 'f', 'u', 'z', 'z', '-', 'k', 'e', 'y'};

// The snapshot header (src/snapshot.cc): magic, version, flags, build id, body and frame sizes.
// frame_body() below mirrors the writer there; make_seeds fails if the two drift apart.
constexpr char kMagic[8] = {'Q', 'B', 'S', 'N', 'A', 'P', '\r', '\n'};
constexpr uint32_t kFormatVersion = 2;
constexpr uint32_t kFlagSigned = 1;
constexpr size_t kHeaderSize = 64;
constexpr size_t kFlagsOffset = 12, kBuildIdOffset = 16, kBodySizeOffset = 48, kFrameSizeOffset = 56;

/// Stops the process the way libFuzzer records a crash, saying which property broke.
[[noreturn]] inline void invariant_failed(const std::string &what) {
  std::fprintf(stderr, "fuzz invariant failed: %s\n", what.c_str());
  std::abort();
}

/// Verifies with the fixed key exactly when the snapshot says it is signed, so that mutations of
/// unsigned seeds reach the body and signed seeds exercise the MAC check.
inline RestoreOptions restore_options_for(std::span<const uint8_t> snapshot) {
  RestoreOptions options;
  // Small enough that a mutated size field cannot make one input allocate gigabytes.
  options.max_snapshot_bytes = 64ull << 20;
  uint32_t flags = 0;
  if (snapshot.size() >= kFlagsOffset + 4) std::memcpy(&flags, snapshot.data() + kFlagsOffset, 4);
  if (flags & kFlagSigned) options.hmac_key = kSigningKey;
  return options;
}

/// One engine for the whole run: creating it compiles nothing (the guest is precompiled), but it
/// starts a thread and reserves the pool, which must not happen per input.
inline const Engine &engine() {
  static const Engine *shared = [] {
    EngineOptions options;
    options.max_sandboxes = 4;
    options.max_sandbox_memory_bytes = 256ull << 20;
    auto created = Engine::create(options);
    if (!created) invariant_failed("creating the engine failed: " + created.error().to_string());
    return new Engine(std::move(created).value());
  }();
  return *shared;
}

/// Deterministic sandboxes (a fixed seed and clock), so that an input behaves the same each run;
/// a 32 MiB memory limit (the seeds use a few MiB) keeps restores of mutated memory sizes cheap.
inline SandboxOptions sandbox_options() {
  SandboxOptions options;
  options.limits.memory_bytes = 32ull << 20;
  options.limits.cpu_time = std::chrono::milliseconds(500);
  options.random_seed = 1;
  options.clock.mode = Clock::Mode::Fixed;
  return options;
}

/// The engine's build id (lowercase hex) as the 32 raw bytes a snapshot header holds.
inline std::vector<uint8_t> raw_build_id(std::string_view hex) {
  auto nibble = [&](char c) -> uint8_t {
    if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
    invariant_failed("the engine's build id is not lowercase hex: " + std::string(hex));
  };
  if (hex.size() != 64) invariant_failed("the engine's build id is not a SHA-256: " + std::string(hex));
  std::vector<uint8_t> raw;
  for (size_t i = 0; i < hex.size(); i += 2) raw.push_back(static_cast<uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return raw;
}

/// A snapshot around `body` (uncompressed) under `header` (its first 48 bytes: magic, version,
/// flags, build id): the sizes are filled in, the zstd frame carries a content checksum as the
/// writer's do, and the trailer is an HMAC under kSigningKey when the flags say signed, else a
/// SHA-256. make_seeds checks that the reader accepts what this writes.
inline std::vector<uint8_t> frame_body(std::span<const uint8_t> body, std::span<const uint8_t, kBodySizeOffset> header) {
  static ZSTD_CCtx *const cctx = [] {
    ZSTD_CCtx *created = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(created, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(created, ZSTD_c_checksumFlag, 1);
    return created;
  }();
  std::vector<uint8_t> out(kHeaderSize + ZSTD_compressBound(body.size()));
  size_t frame = ZSTD_compress2(cctx, out.data() + kHeaderSize, out.size() - kHeaderSize, body.data(), body.size());
  if (ZSTD_isError(frame)) invariant_failed(std::string("zstd failed: ") + ZSTD_getErrorName(frame));
  out.resize(kHeaderSize + frame);
  const uint64_t body_size = body.size(), frame_size = frame;
  std::memcpy(out.data(), header.data(), header.size());
  std::memcpy(out.data() + kBodySizeOffset, &body_size, 8);
  std::memcpy(out.data() + kFrameSizeOffset, &frame_size, 8);
  uint32_t flags;
  std::memcpy(&flags, header.data() + kFlagsOffset, 4);
  uint8_t trailer[EVP_MAX_MD_SIZE];
  unsigned trailer_size = 0;
  if (flags & kFlagSigned) {
    HMAC(EVP_sha256(), kSigningKey.data(), static_cast<int>(kSigningKey.size()), out.data(), out.size(), trailer,
         &trailer_size);
  } else {
    EVP_Digest(out.data(), out.size(), trailer, &trailer_size, EVP_sha256(), nullptr);
  }
  out.insert(out.end(), trailer, trailer + trailer_size);
  return out;
}

/// An unsigned snapshot of this engine's guest build around `body`.
inline std::vector<uint8_t> frame_body(std::span<const uint8_t> body, std::string_view build_id_hex) {
  std::array<uint8_t, kBodySizeOffset> header{};
  const uint32_t flags = 0;
  std::memcpy(header.data(), kMagic, 8);
  std::memcpy(header.data() + 8, &kFormatVersion, 4);
  std::memcpy(header.data() + kFlagsOffset, &flags, 4);
  std::memcpy(header.data() + kBuildIdOffset, raw_build_id(build_id_hex).data(), 32);
  return frame_body(body, header);
}

/// The uncompressed body of a snapshot, or nothing when its frame does not decompress to the size
/// its header announces (or would be larger than max_body).
inline std::optional<std::vector<uint8_t>> body_of(std::span<const uint8_t> snapshot, uint64_t max_body) {
  if (snapshot.size() < kHeaderSize) return std::nullopt;
  uint64_t body_size, frame_size;
  std::memcpy(&body_size, snapshot.data() + kBodySizeOffset, 8);
  std::memcpy(&frame_size, snapshot.data() + kFrameSizeOffset, 8);
  if (frame_size > snapshot.size() - kHeaderSize || body_size > max_body ||
      ZSTD_getFrameContentSize(snapshot.data() + kHeaderSize, frame_size) != body_size)
    return std::nullopt;
  std::vector<uint8_t> body(body_size);
  size_t got = ZSTD_decompress(body.data(), body.size(), snapshot.data() + kHeaderSize, frame_size);
  if (ZSTD_isError(got) || got != body_size) return std::nullopt;
  return body;
}

/// What a restore accepted must be usable: it snapshots again, that snapshot reads back, and both
/// agree on the pending calls and on being suspended.
inline void check_restored(Sandbox &sandbox) {
  std::vector<PendingCall> pending = sandbox.pending_calls();
  auto again = sandbox.snapshot();
  if (!again) invariant_failed("a restored sandbox cannot be snapshotted: " + again.error().to_string());
  auto info = inspect_snapshot(again.value());
  if (!info) invariant_failed("the snapshot of a restored sandbox is refused: " + info.error().to_string());
  if (info.value().suspended != sandbox.suspended())
    invariant_failed("the re-taken snapshot disagrees on being suspended");
  const std::vector<PendingCall> &reread = info.value().pending;
  if (reread.size() != pending.size())
    invariant_failed("the re-taken snapshot has " + std::to_string(reread.size()) + " pending calls, the sandbox " +
                     std::to_string(pending.size()));
  for (size_t i = 0; i < pending.size(); i++) {
    const PendingCall &a = pending[i], &b = reread[i];
    if (a.call_id != b.call_id || a.capability != b.capability || a.needs_approval != b.needs_approval ||
        a.args.size() != b.args.size())
      invariant_failed("pending call " + std::to_string(a.call_id) + " changed across a snapshot");
  }
}

}  // namespace quickbox_fuzz
