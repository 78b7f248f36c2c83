// quickbox-bake GUEST.wasm OUT_PREFIX
//
// Builds the guest's base image at build time: instantiates the raw guest, runs its constructors
// and qb_bootstrap() (runtime, context, prelude), captures linear memory and mutable globals, and
// writes
//   OUT_PREFIX.wasm   the module rewritten to start in that state (data segments = the memory)
//   OUT_PREFIX.cwasm  the same, precompiled for this host with the runtime's exact configuration
//   OUT_PREFIX.id     SHA-256 of OUT_PREFIX.wasm: the guest build id stamped into snapshots
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "internal.hh"

using namespace quickbox;
using namespace quickbox::internal;

namespace {

std::vector<uint8_t> read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string &path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

template <typename T, void (*Delete)(T *)>
struct Owned {
  T *ptr = nullptr;
  ~Owned() {
    if (ptr) Delete(ptr);
  }
};

wasmtime_module_t *compile(wasm_engine_t *engine, std::span<const uint8_t> wasm) {
  wasmtime_module_t *module = nullptr;
  if (wasmtime_error_t *e = wasmtime_module_new(engine, wasm.data(), wasm.size(), &module))
    throw std::runtime_error("compiling the guest: " + take_error(e));
  return module;
}

void call(wasmtime_context_t *context, wasmtime_instance_t &instance, size_t index,
          const char *what, bool check_status) {
  wasmtime_extern_t item;
  char *name;
  size_t name_len;
  if (!wasmtime_instance_export_nth(context, &instance, index, &name, &name_len, &item) ||
      item.kind != WASMTIME_EXTERN_FUNC)
    throw std::runtime_error(std::string("missing export ") + what);
  int32_t status = 0;
  wasm_trap_t *trap = nullptr;
  std::string error;
  if (!call_i32(context, item.of.func, {}, check_status ? &status : nullptr, &trap, &error))
    throw std::runtime_error(std::string(what) + " failed: " + (trap ? take_trap(trap) : error));
  if (check_status && status != QB_STATUS_DONE)
    throw std::runtime_error(std::string(what) + " returned status " + std::to_string(status));
}

InstanceState capture(std::span<const uint8_t> raw_wasm, wasm_engine_t *engine) {
  Owned<wasmtime_module_t, wasmtime_module_delete> module{compile(engine, raw_wasm)};
  auto exports = find_exports(module.ptr);
  if (!exports) throw std::runtime_error(exports.error().message);
  Owned<wasmtime_linker_t, wasmtime_linker_delete> linker{wasmtime_linker_new(engine)};
  define_host_functions(linker.ptr);

  // A fixed clock and seeded randomness: bootstrap state (QuickJS seeds from the clock) must not
  // depend on when the build ran, so the same sources always bake the same image and build id,
  // and snapshots stay restorable across rebuilds.
  HostState host;
  host.clock.mode = Clock::Mode::Fixed;
  host.clock.start_ms = 0;
  host.random_seeded = true;
  host.random_state = 0;
  Owned<wasmtime_store_t, wasmtime_store_delete> store{wasmtime_store_new(engine, &host, nullptr)};
  wasmtime_context_t *context = wasmtime_store_context(store.ptr);
  wasmtime_context_set_epoch_deadline(context, UINT64_MAX / 2);
  wasmtime_instance_t instance;
  wasm_trap_t *trap = nullptr;
  if (wasmtime_error_t *e = wasmtime_linker_instantiate(linker.ptr, context, module.ptr, &instance, &trap))
    throw std::runtime_error("instantiating the guest: " + take_error(e));
  if (trap) throw std::runtime_error("instantiating the guest: " + take_trap(trap));

  wasmtime_extern_t item;
  char *name;
  size_t name_len;
  wasmtime_instance_export_nth(context, &instance, exports.value().memory, &name, &name_len, &item);
  host.memory = item.of.memory;
  host.has_memory = true;

  call(context, instance, exports.value().initialize, "_initialize", false);
  call(context, instance, exports.value().bootstrap, QB_EXPORT_BOOTSTRAP, true);

  InstanceState state;
  for (const auto &[index, export_name] : exported_mutable_globals(raw_wasm)) {
    if (!wasmtime_instance_export_get(context, &instance, export_name.data(), export_name.size(), &item) ||
        item.kind != WASMTIME_EXTERN_GLOBAL)
      throw std::runtime_error("cannot read global " + export_name);
    wasmtime_val_t value;
    wasmtime_global_get(context, &item.of.global, &value);
    uint64_t bits = value.kind == WASMTIME_I32 ? static_cast<uint32_t>(value.of.i32)
                                               : static_cast<uint64_t>(value.of.i64);
    state.globals.emplace_back(index, bits);
  }
  uint8_t *base = wasmtime_memory_data(context, &host.memory);
  size_t size = wasmtime_memory_data_size(context, &host.memory);
  state.memory.assign(base, base + size);

  // Everything below the stack pointer is dead stack: zero it so the image only holds live state.
  wasmtime_instance_export_nth(context, &instance, exports.value().stack_pointer, &name, &name_len, &item);
  wasmtime_val_t sp;
  wasmtime_global_get(context, &item.of.global, &sp);
  uint32_t stack_pointer = static_cast<uint32_t>(sp.of.i32);
  if (stack_pointer > state.memory.size()) throw std::runtime_error("stack pointer outside memory");
  std::memset(state.memory.data(), 0, stack_pointer);
  return state;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::cerr << "usage: quickbox-bake GUEST.wasm OUT_PREFIX\n";
    return 2;
  }
  try {
    auto raw = read_file(argv[1]);
    Owned<wasm_engine_t, wasm_engine_delete> engine{
        wasm_engine_new_with_config(make_wasmtime_config(EngineOptions{.max_sandboxes = 2}))};
    InstanceState state = capture(raw, engine.ptr);
    auto baked = bake_module(raw, state);

    Owned<wasmtime_module_t, wasmtime_module_delete> module{compile(engine.ptr, baked)};
    wasm_byte_vec_t serialized;
    if (wasmtime_error_t *e = wasmtime_module_serialize(module.ptr, &serialized))
      throw std::runtime_error("serializing the guest: " + take_error(e));
    std::string prefix = argv[2];
    write_file(prefix + ".wasm", baked);
    write_file(prefix + ".cwasm", {reinterpret_cast<uint8_t *>(serialized.data), serialized.size});
    wasm_byte_vec_delete(&serialized);
    std::string id = sha256_hex(baked);
    write_file(prefix + ".id", {reinterpret_cast<const uint8_t *>(id.data()), id.size()});
    std::cout << "base image: " << state.memory.size() / 65536 << " pages, module "
              << baked.size() << " bytes, id " << id << "\n";
  } catch (const std::exception &e) {
    std::cerr << "quickbox-bake: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
