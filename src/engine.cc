// The per-process engine: wasmtime engine with the pooling allocator, the guest module with its
// base image, the linker holding the host functions, an InstancePre, and the epoch ticker.
#include <condition_variable>
#include <mutex>

#include "engine_impl.hh"

namespace quickbox {

Engine::Impl::~Impl() {
  {
    std::lock_guard lock(ticker_mutex);
    stopping = true;
  }
  ticker_wake.notify_all();
  if (ticker.joinable()) ticker.join();
  if (instance_pre) wasmtime_instance_pre_delete(instance_pre);
  if (linker) wasmtime_linker_delete(linker);
  if (module) wasmtime_module_delete(module);
  if (engine) wasm_engine_delete(engine);
}

const std::vector<uint8_t> &Engine::Impl::base_memory() {
  std::call_once(base_memory_once_, [this] { base_memory_ = internal::initial_memory(guest_wasm); });
  return base_memory_;
}

void Engine::Impl::run_ticker() {
  std::unique_lock lock(ticker_mutex);
  while (!stopping) {
    ticker_wake.wait_for(lock, options.epoch_tick);
    wasmtime_engine_increment_epoch(engine);
  }
}

namespace internal {

Expected<Engine> create_engine(const EngineOptions &options, const GuestImage &guest) {
  auto invalid = [](std::string message) {
    return Error{.kind = ErrorKind::InvalidInput, .message = std::move(message)};
  };
  if (options.max_sandboxes == 0 || options.max_sandboxes > 100000)
    return invalid("EngineOptions::max_sandboxes must be between 1 and 100000, got " +
                   std::to_string(options.max_sandboxes));
  if (options.max_sandbox_memory_bytes < (16u << 20) || options.max_sandbox_memory_bytes > (4ull << 30))
    return invalid("EngineOptions::max_sandbox_memory_bytes must be between 16 MiB and 4 GiB, got " +
                   format_bytes(options.max_sandbox_memory_bytes));
  if (options.epoch_tick.count() < 1 || options.epoch_tick.count() > 1000)
    return invalid("EngineOptions::epoch_tick must be between 1 ms and 1000 ms");

  auto impl = std::make_shared<Engine::Impl>();
  impl->options = options;
  impl->engine = wasm_engine_new_with_config(make_wasmtime_config(options));
  if (!impl->engine) return Error{.kind = ErrorKind::Internal, .message = "wasmtime engine creation failed"};

  // Prefer the precompiled guest; a host whose CPU or wasmtime build differs compiles the wasm.
  wasmtime_error_t *error = nullptr;
  if (!guest.precompiled.empty())
    error = wasmtime_module_deserialize(impl->engine, guest.precompiled.data(), guest.precompiled.size(),
                                       &impl->module);
  if (guest.precompiled.empty() || error) {
    take_error(error);
    impl->module = nullptr;
    if (wasmtime_error_t *e = wasmtime_module_new(impl->engine, guest.wasm.data(), guest.wasm.size(),
                                                  &impl->module))
      return Error{.kind = ErrorKind::Internal, .message = "compiling the guest failed: " + take_error(e)};
  }
  auto exports = find_exports(impl->module);
  if (!exports) return exports.error();
  impl->exports = exports.value();

  impl->linker = wasmtime_linker_new(impl->engine);
  try {
    define_host_functions(impl->linker);
  } catch (const std::exception &e) {
    return Error{.kind = ErrorKind::Internal, .message = e.what()};
  }
  if (wasmtime_error_t *e = wasmtime_linker_instantiate_pre(impl->linker, impl->module, &impl->instance_pre))
    return Error{.kind = ErrorKind::Internal,
                 .message = "the guest's imports cannot be satisfied: " + take_error(e)};

  // The base image's linear memory size: sandboxes need this much before any JS allocates.
  wasm_exporttype_vec_t export_types;
  wasmtime_module_exports(impl->module, &export_types);
  const wasm_externtype_t *memory_type = wasm_exporttype_type(export_types.data[impl->exports.memory]);
  const wasm_memorytype_t *mt = wasm_externtype_as_memorytype_const(memory_type);
  impl->base_memory_bytes = wasmtime_memorytype_minimum(mt) * 65536;
  wasm_exporttype_vec_delete(&export_types);

  impl->guest_wasm = guest.wasm;
  impl->info.quickjs_version = QUICKBOX_QUICKJS_VERSION;
  impl->info.wasmtime_version = WASMTIME_VERSION;
  impl->info.guest_build_id = std::string(guest.build_id);
  impl->ticker = std::thread([raw = impl.get()] { raw->run_ticker(); });
  return Engine(std::move(impl));
}

}  // namespace internal

const EngineInfo &Engine::info() const { return impl_->info; }
const EngineOptions &Engine::options() const { return impl_->options; }

}  // namespace quickbox
