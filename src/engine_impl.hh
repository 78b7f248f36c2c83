// Engine::Impl, shared by engine.cc and sandbox.cc.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "internal.hh"

namespace quickbox {

namespace internal::net {
class HttpClient;
}

struct Engine::Impl {
  EngineOptions options;
  EngineInfo info;
  wasm_engine_t *engine = nullptr;
  wasmtime_module_t *module = nullptr;
  wasmtime_linker_t *linker = nullptr;
  wasmtime_instance_pre_t *instance_pre = nullptr;
  internal::GuestExports exports;
  /// Linear memory of a fresh instance (the base image's size).
  uint64_t base_memory_bytes = 0;
  /// The guest module's wasm (it must outlive the engine: the embedded guest is static data).
  std::span<const uint8_t> guest_wasm;

  /// The base image's linear memory, computed on first use (snapshots diff against it).
  const std::vector<uint8_t> &base_memory();

  // The epoch ticker: advances wasmtime's epoch every options.epoch_tick, which is what makes
  // epoch deadlines (the hard CPU backstop) fire.
  std::thread ticker;
  std::mutex ticker_mutex;
  std::condition_variable ticker_wake;
  bool stopping = false;
  void run_ticker();

  /// Closed sandboxes whose slots still hold their memory, as far as this engine can tell: a
  /// closing sandbox keeps its memory while fewer than options.warm_sandboxes do, and a new one
  /// is assumed to take one of them (wasmtime reuses the most recently freed slot of the module).
  std::atomic<uint32_t> warm_slots{0};
  /// Whether a closing sandbox may keep its memory (and takes a place in the warm pool).
  bool keep_warm();
  /// A sandbox was created: it took a warm slot if there was one.
  void took_slot();

  /// The HTTP client behind fetch(), started on first use (src/network/grant.cc).
  std::shared_ptr<internal::net::HttpClient> http_client();

  ~Impl();

 private:
  std::once_flag base_memory_once_;
  std::vector<uint8_t> base_memory_;
  std::mutex http_mutex_;
  std::shared_ptr<internal::net::HttpClient> http_;
};

}  // namespace quickbox
