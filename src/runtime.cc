// wasmtime plumbing shared by the engine and the bake tool: configuration, errors, export lookup
// and calls into the guest, with the native stack they run on.
#include <pthread.h>

#include <algorithm>

#include "internal.hh"
#include "warm_pool.hh"

// Defined by our wasmtime wrapper crate (deps/wasmtime/lib.rs): a setting the C API lacks.
extern "C" void quickbox_pooling_allocation_config_pagemap_scan_auto(wasmtime_pooling_allocation_config_t *);

namespace quickbox::internal {

namespace {

uintptr_t native_stack_pointer() { return reinterpret_cast<uintptr_t>(__builtin_frame_address(0)); }

// Where this thread last entered the guest (0: it is not running guest code). Nested entries (a
// host function that runs another sandbox) save and restore it around their own call.
thread_local uintptr_t guest_entry_sp = 0;

// The entries into guests this thread is in, innermost first. wasmtime fixes a store's wasm stack
// limit when the thread first enters it and keeps it for entries nested inside (a host function
// evaluating in its own sandbox), so such an entry counts its stack from that first one.
struct GuestEntry {
  wasmtime_context_t *context;
  uintptr_t sp;
  const GuestEntry *outer;
};
thread_local const GuestEntry *innermost_entry = nullptr;

const GuestEntry *entry_of(wasmtime_context_t *context) {
  for (const GuestEntry *e = innermost_entry; e; e = e->outer)
    if (e->context == context) return e;
  return nullptr;
}

// The lowest address of this thread's stack, read once per thread (0 when the system cannot say).
uintptr_t thread_stack_low() {
  thread_local const uintptr_t low = [] {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return uintptr_t{0};
    void *address = nullptr;
    size_t size = 0;
    int r = pthread_attr_getstack(&attr, &address, &size);
    pthread_attr_destroy(&attr);
    return r == 0 ? reinterpret_cast<uintptr_t>(address) : uintptr_t{0};
  }();
  return low;
}

}  // namespace

uint32_t guest_native_stack_left() {
  if (!guest_entry_sp) return UINT32_MAX;
  uintptr_t used = guest_entry_sp - native_stack_pointer();
  return used >= kMaxWasmStack ? 0 : static_cast<uint32_t>(kMaxWasmStack - used);
}

wasm_config_t *make_wasmtime_config(const EngineOptions &options) {
  wasm_config_t *config = wasm_config_new();
  wasmtime_config_strategy_set(config, WASMTIME_STRATEGY_CRANELIFT);
  wasmtime_config_cranelift_opt_level_set(config, WASMTIME_OPT_LEVEL_SPEED);
  wasmtime_config_epoch_interruption_set(config, true);
  if (options.perf_map) wasmtime_config_profiler_set(config, WASMTIME_PROFILING_STRATEGY_PERFMAP);
  // The guest's stack check also watches this native stack (guest_native_stack_left), so
  // recursion ends in a catchable RangeError before wasmtime's stack-overflow trap.
  wasmtime_config_max_wasm_stack_set(config, kMaxWasmStack);
  wasmtime_config_wasm_simd_set(config, false);
  wasmtime_config_wasm_relaxed_simd_set(config, false);
  wasmtime_config_wasm_multi_memory_set(config, false);
  wasmtime_config_wasm_memory64_set(config, false);
  wasmtime_config_memory_init_cow_set(config, true);
  {
    wasmtime_pooling_allocation_config_t *pool = wasmtime_pooling_allocation_config_new();
    wasmtime_pooling_allocation_config_total_core_instances_set(pool, options.max_sandboxes);
    wasmtime_pooling_allocation_config_total_memories_set(pool, options.max_sandboxes);
    wasmtime_pooling_allocation_config_total_tables_set(pool, options.max_sandboxes);
    wasmtime_pooling_allocation_config_total_component_instances_set(pool, 0);
    wasmtime_pooling_allocation_config_max_memory_size_set(pool, options.max_sandbox_memory_bytes);
    wasmtime_pooling_allocation_config_table_elements_set(pool, 8192);
    wasmtime_pooling_allocation_config_max_unused_warm_slots_set(
        pool, std::min(options.warm_sandboxes, options.max_sandboxes));
    // Memory up to this size is reset in place (not madvise'd away) when a slot is reused, so a
    // new sandbox's first operation does not take a copy-on-write fault per page it touches.
    // It must cover the base image (1 MiB stack first, then the heap): at 1 MiB a fresh
    // sandbox's first eval took 64 us (35 faults), at 2 MiB 17 us, for +7 us on create.
    wasmtime_pooling_allocation_config_linear_memory_keep_resident_set(pool, kKeepResidentBytes);
    // Reset only the pages a sandbox dirtied when its slot is reused (where the kernel can tell):
    // without it every teardown rewrites the whole 2 MiB window (about 40 us).
    quickbox_pooling_allocation_config_pagemap_scan_auto(pool);
    wasmtime_pooling_allocation_strategy_set(config, pool);
    wasmtime_pooling_allocation_config_delete(pool);
  }
  return config;
}

std::string take_error(wasmtime_error_t *error) {
  if (!error) return {};
  wasm_name_t message;
  wasmtime_error_message(error, &message);
  std::string text(message.data, message.size);
  wasm_byte_vec_delete(&message);
  wasmtime_error_delete(error);
  return text;
}

namespace {
// wasmtime's trap message is "error while executing at wasm backtrace:" and a frame per line, then
// "Caused by:" and numbered causes. The causes say what happened ("memory fault at wasm address
// ..."; "wasm trap: out of bounds memory access"); frames of unnamed wasm functions tell a reader
// of an error message nothing.
std::string trap_causes(const std::string &text) {
  size_t caused = text.find("Caused by:");
  if (caused == std::string::npos) return text.substr(0, text.find('\n'));
  std::string causes;
  size_t at = text.find('\n', caused);
  while (at != std::string::npos && at + 1 < text.size()) {
    size_t end = text.find('\n', at + 1);
    std::string line = text.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
    size_t start = line.find_first_not_of(' ');
    if (start != std::string::npos) {
      line.erase(0, start);
      if (size_t colon = line.find(": "); colon != std::string::npos &&
                                          line.find_first_not_of("0123456789") == colon)
        line.erase(0, colon + 2);  // the cause's number
      if (!line.empty()) causes.append(causes.empty() ? "" : "; ").append(line);
    }
    at = end;
  }
  return causes.empty() ? text.substr(0, text.find('\n')) : causes;
}
}  // namespace

std::string take_trap(wasm_trap_t *trap) {
  if (!trap) return {};
  wasm_message_t message;
  wasm_trap_message(trap, &message);
  std::string text(message.data, message.size ? message.size - 1 : 0);  // NUL-terminated
  wasm_byte_vec_delete(&message);
  wasm_trap_delete(trap);
  return trap_causes(text);
}

Expected<GuestExports> find_exports(const wasmtime_module_t *module) {
  wasm_exporttype_vec_t exports;
  wasmtime_module_exports(module, &exports);
  GuestExports found;
  const std::pair<std::string_view, size_t GuestExports::*> wanted[] = {
      {"memory", &GuestExports::memory},
      {"__stack_pointer", &GuestExports::stack_pointer},
      {QB_EXPORT_EXCHANGE, &GuestExports::exchange},
      {QB_EXPORT_RESERVE, &GuestExports::reserve},
      {QB_EXPORT_CONFIGURE, &GuestExports::configure},
      {QB_EXPORT_EVAL, &GuestExports::eval},
      {QB_EXPORT_CALL, &GuestExports::call},
      {QB_EXPORT_GET_GLOBAL, &GuestExports::get_global},
      {QB_EXPORT_SET_GLOBAL, &GuestExports::set_global},
      {QB_EXPORT_FORMAT, &GuestExports::format},
      {QB_EXPORT_RUN_JOBS, &GuestExports::run_jobs},
      {QB_EXPORT_MEMORY_USAGE, &GuestExports::memory_usage},
      {QB_EXPORT_BOOTSTRAP, &GuestExports::bootstrap},
      {"_initialize", &GuestExports::initialize},
      {QB_EXPORT_DEFINE_CAPABILITY, &GuestExports::define_capability},
      {QB_EXPORT_SETTLE, &GuestExports::settle},
      {QB_EXPORT_RESUME, &GuestExports::resume},
      {QB_EXPORT_ABANDON, &GuestExports::abandon},
      {QB_EXPORT_HANDLE, &GuestExports::handle},
      {QB_EXPORT_NEST, &GuestExports::nest},
  };
  for (size_t i = 0; i < exports.size; i++) {
    const wasm_name_t *name = wasm_exporttype_name(exports.data[i]);
    std::string_view n(name->data, name->size);
    for (const auto &[want, field] : wanted) {
      if (n == want) found.*field = i;
    }
  }
  wasm_exporttype_vec_delete(&exports);
  for (const auto &[want, field] : wanted) {
    if (found.*field == SIZE_MAX) {
      return Error{.kind = ErrorKind::Internal,
                   .message = "the guest module does not export `" + std::string(want) + "`"};
    }
    if (found.*field >= kMaxGuestExports)
      return Error{.kind = ErrorKind::Internal,
                   .message = "the guest module exports `" + std::string(want) + "` at index " +
                              std::to_string(found.*field) + ", beyond the " +
                              std::to_string(kMaxGuestExports) + " the host binds"};
  }
  return found;
}

bool call_i32(wasmtime_context_t *context, const wasmtime_func_t &func,
              std::initializer_list<uint32_t> args, int32_t *result, wasm_trap_t **trap_out,
              std::string *error_out) {
  // wasmtime lets wasm use kMaxWasmStack of this thread's native stack and host functions more
  // below that; a thread without that much left would crash instead of trapping.
  uintptr_t sp = native_stack_pointer(), low = thread_stack_low();
  const GuestEntry *reentered = entry_of(context);
  // Re-entering a store this thread is already in: its first entry checked the thread's stack.
  if (reentered) sp = reentered->sp;
  else if (low && sp - low < kThreadStackNeeded) {
    *trap_out = nullptr;
    *error_out = "this thread has " + std::to_string((sp - low) >> 10) +
                 " KiB of stack left; running a sandbox needs " +
                 std::to_string(kThreadStackNeeded >> 10) +
                 " KiB (give the thread a stack of at least 4 MiB; see docs/limits.md)";
    return false;
  }
  uintptr_t outer_entry_sp = guest_entry_sp;
  guest_entry_sp = sp;
  GuestEntry entry{context, sp, innermost_entry};
  innermost_entry = &entry;
  struct RestoreEntry {
    uintptr_t sp;
    const GuestEntry *outer;
    ~RestoreEntry() {
      guest_entry_sp = sp;
      innermost_entry = outer;
    }
  } restore{outer_entry_sp, entry.outer};
  wasmtime_val_raw_t raw[4] = {};
  size_t n = 0;
  for (uint32_t a : args) raw[n++].i32 = static_cast<int32_t>(a);
  wasm_trap_t *trap = nullptr;
  wasmtime_error_t *error =
      wasmtime_func_call_unchecked(context, &func, raw, n > 1 ? n : 1, &trap);
  if (error) {
    *error_out = take_error(error);
    *trap_out = nullptr;
    return false;
  }
  if (trap) {
    *trap_out = trap;
    return false;
  }
  if (result) *result = raw[0].i32;
  return true;
}

}  // namespace quickbox::internal
