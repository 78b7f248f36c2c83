// The per-process engine: wasmtime engine with the pooling allocator, the guest module with its
// base image, the linker holding the host functions, an InstancePre, and the epoch ticker.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string_view>
#include <vector>

#include "engine_impl.hh"

// deps/wasmtime/lib.rs: wasm_engine_new_with_config without its panic (which aborts the process).
extern "C" wasmtime_error_t *quickbox_engine_new(wasm_config_t *config, wasm_engine_t **engine_out);

namespace quickbox {

uint32_t default_max_sandboxes() {
  long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 1000;
  uint64_t per_2mib = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) / (2u << 20);
  return static_cast<uint32_t>(std::clamp<uint64_t>(per_2mib, 1000, 10000));
}

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

namespace {

// Engine creation fails mostly because the pooling allocator cannot reserve address space for
// every slot up front (max_sandboxes x max_sandbox_memory_bytes, plus guard regions): say so, with
// the process's address-space limit when one is set.
/// wasmtime's error chain ("what\n\nCaused by:\n    0: why\n    1: os error") on one line.
std::string one_line(const std::string &chain) {
  std::string out;
  size_t start = 0;
  while (start <= chain.size()) {
    size_t end = chain.find('\n', start);
    if (end == std::string::npos) end = chain.size();
    std::string_view line(chain.data() + start, end - start);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (size_t colon = line.find(": "); colon != std::string_view::npos && colon > 0 &&
                                        line.substr(0, colon).find_first_not_of("0123456789") == std::string_view::npos)
      line.remove_prefix(colon + 2);
    if (!line.empty() && line != "Caused by:") out += (out.empty() ? "" : ": ") + std::string(line);
    start = end + 1;
  }
  return out;
}

Error engine_creation_error(const EngineOptions &options, const std::string &why) {
  std::string message = "cannot create the engine: wasmtime failed to set up a pool of " +
                        std::to_string(options.max_sandboxes) + " sandboxes of up to " +
                        format_bytes(options.max_sandbox_memory_bytes) + " each (" + one_line(why) + ")";
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    message += "; the process may reserve at most " + format_bytes(limit.rlim_cur) +
               " of address space (ulimit -v)";
  message += ": allow fewer or smaller sandboxes, or raise the limit";
  return Error{.kind = ErrorKind::Internal, .message = std::move(message)};
}

}  // namespace

Expected<Engine> create_engine(const EngineOptions &options, const GuestImage &guest) {
  auto invalid = [](Setting setting, const std::string &must_be) {
    return Error{.kind = ErrorKind::InvalidInput, .message = std::string(to_string(setting)) + " " + must_be,
                 .setting = setting};
  };
  if (options.max_sandboxes == 0 || options.max_sandboxes > 100000)
    return invalid(Setting::MaxSandboxes,
                   "must be between 1 and 100000, got " + std::to_string(options.max_sandboxes));
  if (options.max_sandbox_memory_bytes < (16u << 20) || options.max_sandbox_memory_bytes > (4ull << 30))
    return invalid(Setting::MaxSandboxMemoryBytes,
                   "must be between 16 MiB and 4 GiB, got " + format_bytes(options.max_sandbox_memory_bytes));
  if (options.epoch_tick.count() < 1 || options.epoch_tick.count() > 1000)
    return invalid(Setting::EpochTick, "must be between 1 ms and 1000 ms");

  auto impl = std::make_shared<Engine::Impl>();
  impl->options = options;
  impl->options.warm_sandboxes = std::min(options.warm_sandboxes, options.max_sandboxes);
  impl->options.prefaulted_sandboxes = std::min(options.prefaulted_sandboxes, impl->options.warm_sandboxes);
  impl->warm_pool = std::make_unique<WarmPool>(impl->options.warm_sandboxes);
  if (wasmtime_error_t *e = quickbox_engine_new(make_wasmtime_config(options), &impl->engine))
    return engine_creation_error(options, take_error(e));

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
  impl->info.max_stack_bytes = max_stack_bytes();
  impl->ticker = std::thread([raw = impl.get()] { raw->run_ticker(); });
  return Engine(std::move(impl));
}

// What a first evaluation writes is spread over a few dozen pages of the base image (the stack,
// static data, the exchange buffers, shared objects' counts and links, the top of the heap), each
// a copy-on-write fault of about 2.5 µs on a VM; the process's first evaluation also faults in the
// compiled guest's code. Prefaulting pays that here, once per slot: a small evaluation in each of
// prefaulted_sandboxes sandboxes alive at once, so that each takes its own slot; closed, the slots
// join the warm pool with their pages resident, reset to the base image's contents. A small one,
// because every page it leaves private is rewritten at each later reset of the slot (WarmPool):
// a larger program here made create+close on these slots 40% slower. Failing here costs nothing
// but the speed-up.
void prefault_slots(const Engine &engine) {
  static constexpr std::string_view kFirstProgram = "1+2";
  std::vector<Sandbox> warming;
  warming.reserve(engine.options().prefaulted_sandboxes);
  for (uint32_t i = 0; i < engine.options().prefaulted_sandboxes; ++i) {
    Expected<Sandbox> sandbox = Sandbox::create(engine);
    if (!sandbox) break;
    if (!sandbox.value().eval(kFirstProgram).ok()) break;
    warming.push_back(std::move(sandbox).value());
  }
}

}  // namespace internal

const EngineInfo &Engine::info() const { return impl_->info; }
const EngineOptions &Engine::options() const { return impl_->options; }

}  // namespace quickbox
