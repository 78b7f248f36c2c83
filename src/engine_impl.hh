// Engine::Impl, shared by engine.cc and sandbox.cc.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "internal.hh"
#include "warm_pool.hh"

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

  /// Which free slots keep their memory (options.warm_sandboxes of them); made with the engine.
  std::unique_ptr<internal::WarmPool> warm_pool;

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
