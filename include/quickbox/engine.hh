/// \file engine.hh
/// \brief quickbox::Engine: one per process; the compiled guest, its base image and the pools.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "quickbox/result.hh"

namespace quickbox {

/// The default of EngineOptions::max_sandboxes on this machine: one sandbox per 2 MiB of physical
/// memory, at least 1,000 and at most 10,000 (24 GiB gives 10,000).
uint32_t default_max_sandboxes();

/// Settings fixed for the life of an Engine.
struct EngineOptions {
  /// How many sandboxes may be alive at once (slots in wasmtime's pooling allocator), up to
  /// 100,000. Each slot reserves address space (max_sandbox_memory_bytes plus a guard), not memory.
  uint32_t max_sandboxes = default_max_sandboxes();
  /// How many closed sandboxes keep their memory for the next ones to reuse (the warm pool; a
  /// value above max_sandboxes means all of them). A sandbox created in a warm slot finds the pages its first evaluation
  /// touches already in place; the memory of a sandbox closed while the pool is full goes back to
  /// the system, so RSS falls after a burst.
  uint32_t warm_sandboxes = 100;
  /// How many slots Engine::create pre-faults (at most warm_sandboxes): it evaluates `1+2` in
  /// that many sandboxes at once and closes them, so that their slots join the warm pool with
  /// the pages a first evaluation touches already in place, and the first sandboxes of the
  /// process start as fast as later ones (a first `1+2` takes about 7 µs on such a slot and 45
  /// on a slot never used, on the machine the README measures). Each costs about 0.1 ms of
  /// engine creation and 70 KB of the warm pool's memory. A process that runs one sandbox (the
  /// CLI) gains nothing from it: 0.
  uint32_t prefaulted_sandboxes = 16;
  /// The largest memory limit any sandbox of this engine may ask for.
  uint64_t max_sandbox_memory_bytes = uint64_t{4} << 30;
  /// Period of the epoch ticker that backs the hard CPU deadline.
  std::chrono::milliseconds epoch_tick{2};
  /// Writes /tmp/perf-PID.map, naming the guest's compiled code for `perf report` (its
  /// functions appear as wasm[0]::function[N], numbered as in the guest module). For profiling
  /// only: off, nothing is written.
  bool perf_map = false;
};

/// Versions and identity of the guest an Engine runs.
struct EngineInfo {
  std::string quickjs_version;   ///< e.g. "0.18.0"
  std::string wasmtime_version;  ///< e.g. "48.0.8"
  std::string guest_build_id;    ///< SHA-256 (hex) of the guest module with its base image
  uint32_t max_stack_bytes = 0;  ///< the largest Limits::stack_bytes this guest accepts
};

/// The per-process engine: wasmtime's Engine with the pooling allocator, the precompiled guest
/// (quickjs-ng with its base image baked in), the host functions it imports and an epoch ticker.
///
/// An Engine is a cheap, copyable handle; copies share one engine. It is thread-safe: sandboxes
/// may be created from any thread at the same time. Sandboxes keep their engine alive.
class Engine {
 public:
  /// Loads the guest embedded in this library and starts the epoch ticker. Fails when the options
  /// are out of range, when the pooling allocator cannot reserve its address space (about
  /// max_sandboxes x 4 GiB or more of virtual memory, e.g. under `ulimit -v`), or when the
  /// embedded guest cannot be loaded; the error says which, and the process carries on.
  static Expected<Engine> create(const EngineOptions &options = {});

  const EngineInfo &info() const;
  const EngineOptions &options() const;

  struct Impl;
  /// For the library's own use.
  explicit Engine(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  /// For the library's own use.
  const std::shared_ptr<Impl> &impl() const { return impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace quickbox
