/// \file snapshot.hh
/// \brief Whole-VM snapshots: capture, restore (in this or another process), fork, inspect.
///
/// A snapshot holds the sandbox's linear memory (only the 4 KiB chunks that differ from the
/// engine's base image), its mutable globals, and the host state needed to continue: capability
/// names and ids, pending calls with their arguments, and the budgets already used. Format:
/// magic "QBSNAP\r\n", format version, flags, the guest build id (SHA-256 of the guest module),
/// sizes, a zstd-compressed body, and a 32-byte trailer over everything before it: HMAC-SHA256
/// under the embedder's key when signed, SHA-256 otherwise (so any corruption is detected).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "quickbox/capability.hh"
#include "quickbox/result.hh"

namespace quickbox {

/// How to write a snapshot.
struct SnapshotOptions {
  /// When non-empty, the snapshot is signed with HMAC-SHA256 under this key.
  std::vector<uint8_t> hmac_key;
};

/// How to read a snapshot. Reading is fail-closed: any failed check refuses the whole snapshot
/// before an instance is touched, with an error that names the check.
struct RestoreOptions {
  /// The key the snapshot was signed with. A signed snapshot is refused without it, and an
  /// unsigned one is refused when a key is given.
  std::vector<uint8_t> hmac_key;
  /// Largest snapshot accepted, compressed and uncompressed.
  uint64_t max_snapshot_bytes = 512ull << 20;
};

/// What a snapshot holds, read without running anything.
struct SnapshotInfo {
  uint32_t format_version = 0;
  bool signed_ = false;
  std::string guest_build_id;  ///< hex
  uint64_t total_bytes = 0;
  uint64_t body_bytes = 0;     ///< uncompressed
  uint64_t memory_bytes = 0;   ///< linear memory size of the sandbox
  uint64_t changed_bytes = 0;  ///< memory differing from the base image (stored chunks)
  bool suspended = false;      ///< an evaluation waits on host calls
  std::vector<std::string> capabilities;
  std::vector<PendingCall> pending;  ///< calls waiting for the caller
};

/// Validates a snapshot (everything but the guest build id, which only an engine can check) and
/// describes it. Fails with InvalidInput naming the first check that failed.
Expected<SnapshotInfo> inspect_snapshot(std::span<const uint8_t> bytes, const RestoreOptions &options = {});

}  // namespace quickbox
