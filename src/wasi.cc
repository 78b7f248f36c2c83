// The functions the guest imports, implemented by the host, deny-by-default: quickbox's own
// (interrupt check) and the wasi_snapshot_preview1 subset wasi-libc needs. There are no files, no
// sockets, no environment and no arguments; stdout/stderr feed the console; clocks follow the
// sandbox's Clock setting.
#include <algorithm>
#include <cstring>
#include <optional>

#include "internal.hh"

namespace quickbox::internal {

// ---- Host functions ---------------------------------------------------------------------------
namespace {

// WASI errno values used here.
constexpr int32_t kSuccess = 0, kBadf = 8, kInval = 28, kSpipe = 70, kFault = 21;

HostState &state_of(wasmtime_caller_t *caller) {
  return *static_cast<HostState *>(wasmtime_context_get_data(wasmtime_caller_context(caller)));
}

// A bounds-checked view of guest memory; nullptr when [ptr, ptr+len) is outside it.
uint8_t *guest_bytes(wasmtime_caller_t *caller, HostState &state, uint32_t ptr, uint64_t len) {
  if (!state.has_memory) return nullptr;
  wasmtime_context_t *context = wasmtime_caller_context(caller);
  uint8_t *base = wasmtime_memory_data(context, &state.memory);
  size_t size = wasmtime_memory_data_size(context, &state.memory);
  if (uint64_t{ptr} + len > size) return nullptr;
  return base + ptr;
}

wasm_trap_t *interrupt_check(void *, wasmtime_caller_t *caller, wasmtime_val_raw_t *args, size_t) {
  HostState &state = state_of(caller);
  running_long_if_due(state);  // the guest checks after about ten thousand steps of JavaScript
  args[0].i32 = check_deadlines(state) ? 1 : 0;
  return nullptr;
}

// native_stack_left() -> u32: see QB_IMPORT_NATIVE_STACK_LEFT.
wasm_trap_t *native_stack_left(void *, wasmtime_caller_t *, wasmtime_val_raw_t *args, size_t) {
  args[0].i32 = static_cast<int32_t>(guest_native_stack_left());
  return nullptr;
}

// Virtual time (Fixed, Deterministic) since the clock started: the Deterministic steps taken by
// `reads` reads, plus the driving loop's jumps to due timers.
uint64_t virtual_offset_ns(const HostState &state, uint64_t reads) {
  return reads * static_cast<uint64_t>(state.clock.step_us) * 1000 + state.virtual_ns;
}

uint64_t real_monotonic_ns(const HostState &state) {
  using namespace std::chrono;
  auto elapsed = duration_cast<nanoseconds>(steady_clock::now() - state.monotonic_origin).count();
  return elapsed > 0 ? static_cast<uint64_t>(elapsed) : 0;
}

uint64_t clock_now_ns(HostState &state, uint32_t clock_id) {
  using namespace std::chrono;
  const Clock &clock = state.clock;
  if (clock.mode == Clock::Mode::Real) {
    if (clock_id == 0)  // realtime
      return static_cast<uint64_t>(
          duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count());
    return real_monotonic_ns(state);
  }
  uint64_t reads = clock.mode == Clock::Mode::Deterministic ? state.clock_reads++ : 0;
  uint64_t offset_ns = virtual_offset_ns(state, reads);
  if (clock_id == 0) return static_cast<uint64_t>(clock.start_ms) * 1000000 + offset_ns;
  return offset_ns;
}

// clock_time_get(id: i32, precision: i64, out: i32) -> errno
wasm_trap_t *clock_time_get(void *, wasmtime_caller_t *caller, wasmtime_val_raw_t *args, size_t) {
  HostState &state = state_of(caller);
  uint32_t id = static_cast<uint32_t>(args[0].i32);
  uint32_t out = static_cast<uint32_t>(args[2].i32);
  if (id > 3) {
    args[0].i32 = kInval;
    return nullptr;
  }
  uint8_t *dest = guest_bytes(caller, state, out, 8);
  if (!dest) {
    args[0].i32 = kFault;
    return nullptr;
  }
  uint64_t ns = clock_now_ns(state, id);
  std::memcpy(dest, &ns, 8);
  args[0].i32 = kSuccess;
  return nullptr;
}

// fd_write(fd, iovs, iovs_len, nwritten) -> errno. stdout/stderr feed the console; nothing else.
wasm_trap_t *fd_write(void *, wasmtime_caller_t *caller, wasmtime_val_raw_t *args, size_t) {
  HostState &state = state_of(caller);
  int32_t fd = args[0].i32;
  uint32_t iovs = static_cast<uint32_t>(args[1].i32);
  uint32_t count = static_cast<uint32_t>(args[2].i32);
  uint32_t nwritten_ptr = static_cast<uint32_t>(args[3].i32);
  if (fd != 1 && fd != 2) {
    args[0].i32 = kBadf;
    return nullptr;
  }
  uint8_t *vec = guest_bytes(caller, state, iovs, uint64_t{count} * 8);
  if (!vec) {
    args[0].i32 = kFault;
    return nullptr;
  }
  std::string text;
  uint64_t total = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t ptr, len;
    std::memcpy(&ptr, vec + 8 * i, 4);
    std::memcpy(&len, vec + 8 * i + 4, 4);
    uint8_t *bytes = guest_bytes(caller, state, ptr, len);
    if (!bytes) {
      args[0].i32 = kFault;
      return nullptr;
    }
    total += len;
    if (state.stray_bytes + text.size() + len <= state.stray_limit)
      text.append(reinterpret_cast<char *>(bytes), len);
    else
      state.stray_dropped += len;
  }
  if (!text.empty()) {
    state.stray_bytes += text.size();
    if (!text.empty() && text.back() == '\n') text.pop_back();
    state.stray_output.push_back(
        {fd == 1 ? ConsoleLevel::Log : ConsoleLevel::Error, std::move(text)});
  }
  uint8_t *out = guest_bytes(caller, state, nwritten_ptr, 4);
  if (!out) {
    args[0].i32 = kFault;
    return nullptr;
  }
  uint32_t written = static_cast<uint32_t>(total);
  std::memcpy(out, &written, 4);
  args[0].i32 = kSuccess;
  return nullptr;
}

// fd_fdstat_get(fd, out) -> errno: stdout/stderr are write-only character devices; there are no
// other descriptors (nothing is preopened).
wasm_trap_t *fd_fdstat_get(void *, wasmtime_caller_t *caller, wasmtime_val_raw_t *args, size_t) {
  HostState &state = state_of(caller);
  int32_t fd = args[0].i32;
  if (fd != 1 && fd != 2) {
    args[0].i32 = kBadf;
    return nullptr;
  }
  uint8_t *out = guest_bytes(caller, state, static_cast<uint32_t>(args[1].i32), 24);
  if (!out) {
    args[0].i32 = kFault;
    return nullptr;
  }
  std::memset(out, 0, 24);
  out[0] = 2;                         // filetype: character device
  uint64_t rights = uint64_t{1} << 6; // fd_write
  std::memcpy(out + 8, &rights, 8);
  args[0].i32 = kSuccess;
  return nullptr;
}

wasm_trap_t *fd_close(void *, wasmtime_caller_t *, wasmtime_val_raw_t *args, size_t) {
  args[0].i32 = kBadf;
  return nullptr;
}

wasm_trap_t *fd_seek(void *, wasmtime_caller_t *, wasmtime_val_raw_t *args, size_t) {
  int32_t fd = args[0].i32;
  args[0].i32 = (fd == 1 || fd == 2) ? kSpipe : kBadf;
  return nullptr;
}

wasm_trap_t *proc_exit(void *, wasmtime_caller_t *, wasmtime_val_raw_t *args, size_t) {
  std::string message = "the guest called proc_exit(" + std::to_string(args[0].i32) + ")";
  return wasmtime_trap_new(message.data(), message.size());
}

// random_get(buf, len) -> errno. Deterministic when the sandbox has a seed.
wasm_trap_t *random_get(void *, wasmtime_caller_t *caller, wasmtime_val_raw_t *args, size_t) {
  HostState &state = state_of(caller);
  uint32_t len = static_cast<uint32_t>(args[1].i32);
  uint8_t *out = guest_bytes(caller, state, static_cast<uint32_t>(args[0].i32), len);
  if (!out) {
    args[0].i32 = kFault;
    return nullptr;
  }
  if (state.random_seeded) {
    for (uint32_t i = 0; i < len; i++) {
      uint64_t z = (state.random_state += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      out[i] = static_cast<uint8_t>(z >> 56);
    }
  } else {
    fill_random({out, len});
  }
  args[0].i32 = kSuccess;
  return nullptr;
}

// Back from host code the guest called (a handler, the console listener): the time that code took
// moves the soft CPU deadline back (it is not the program's), then the deadlines are checked and
// the backstop re-armed, as the host may have run past either. cpu_now: the clock as that code
// returned, when it was read then.
void back_to_the_guest(wasmtime_caller_t *caller, HostState &state, std::chrono::nanoseconds host_time,
                       std::optional<ThreadCpuClock::time_point> cpu_now) {
  if (state.deadline != ThreadCpuClock::time_point::max()) state.deadline += host_time;
  if (!cpu_now) cpu_now = ThreadCpuClock::now();
  check_deadlines(state, cpu_now);
  arm_epoch_deadline(wasmtime_caller_context(caller), state, cpu_now);
}

// host_call(capability_id, args_ptr, args_len, reply_ptr): a JS capability call. The host's own
// work for the call (decoding, hashing, audit, encoding) is guest-driven and counts as CPU; only
// the handler's time moves the soft CPU deadline back. The wall clock is checked when it returns.
wasm_trap_t *host_call(void *, wasmtime_caller_t *caller, wasmtime_val_raw_t *args, size_t) {
  HostState &state = state_of(caller);
  uint32_t id = static_cast<uint32_t>(args[0].i32);
  uint32_t ptr = static_cast<uint32_t>(args[1].i32), len = static_cast<uint32_t>(args[2].i32);
  uint32_t reply_ptr = static_cast<uint32_t>(args[3].i32);
  const uint8_t *bytes = guest_bytes(caller, state, ptr, len);
  if (!bytes || !guest_bytes(caller, state, reply_ptr, sizeof(qb_host_reply))) {
    static const char message[] = "host_call: arguments outside the guest's memory";
    return wasmtime_trap_new(message, sizeof message - 1);
  }
  HostReply reply;
  if (state.sink) {
    reply = state.sink->on_host_call(id, {bytes, len});
    if (state.abort_guest) {
      static const char message[] = "an operation nested inside a host function ended the instance";
      return wasmtime_trap_new(message, sizeof message - 1);
    }
  } else {
    reply.bytes = encode_js_error("Error", "this sandbox has no capabilities");
  }
  back_to_the_guest(caller, state, reply.handler_time, reply.cpu_after_handler);
  qb_host_reply out{.status = reply.status,
                    .value_len = static_cast<uint32_t>(reply.bytes.size()),
                    .call_id = reply.call_id,
                    .reserved = 0};
  state.reply_bytes = std::move(reply.bytes);
  // memory may have moved while the host ran (it cannot grow here, but re-fetch to be safe)
  std::memcpy(guest_bytes(caller, state, reply_ptr, sizeof out), &out, sizeof out);
  return nullptr;
}

// console_line(level, ptr, len): a line the program printed, for the sandbox's console listener.
wasm_trap_t *console_line(void *, wasmtime_caller_t *caller, wasmtime_val_raw_t *args, size_t) {
  HostState &state = state_of(caller);
  uint32_t level = static_cast<uint32_t>(args[0].i32);
  uint32_t ptr = static_cast<uint32_t>(args[1].i32), len = static_cast<uint32_t>(args[2].i32);
  const uint8_t *bytes = guest_bytes(caller, state, ptr, len);
  if (!bytes) {
    static const char message[] = "console_line: text outside the guest's memory";
    return wasmtime_trap_new(message, sizeof message - 1);
  }
  if (!state.sink) return nullptr;
  std::chrono::nanoseconds listener_time = state.sink->on_console_line(level, {bytes, len});
  if (state.abort_guest) {
    static const char message[] = "an operation nested inside the console listener ended the instance";
    return wasmtime_trap_new(message, sizeof message - 1);
  }
  back_to_the_guest(caller, state, listener_time, std::nullopt);
  return nullptr;
}

// host_take(ptr): copies the last reply's bytes into the guest.
wasm_trap_t *host_take(void *, wasmtime_caller_t *caller, wasmtime_val_raw_t *args, size_t) {
  HostState &state = state_of(caller);
  uint8_t *dest = guest_bytes(caller, state, static_cast<uint32_t>(args[0].i32), state.reply_bytes.size());
  if (!dest) {
    static const char message[] = "host_take: destination outside the guest's memory";
    return wasmtime_trap_new(message, sizeof message - 1);
  }
  std::memcpy(dest, state.reply_bytes.data(), state.reply_bytes.size());
  state.reply_bytes.clear();
  return nullptr;
}

void define(wasmtime_linker_t *linker, std::string_view module, std::string_view name,
            std::initializer_list<wasm_valkind_t> params, std::initializer_list<wasm_valkind_t> results,
            wasmtime_func_unchecked_callback_t callback) {
  wasm_valtype_vec_t p, r;
  wasm_valtype_vec_new_uninitialized(&p, params.size());
  size_t i = 0;
  for (wasm_valkind_t k : params) p.data[i++] = wasm_valtype_new(k);
  wasm_valtype_vec_new_uninitialized(&r, results.size());
  i = 0;
  for (wasm_valkind_t k : results) r.data[i++] = wasm_valtype_new(k);
  wasm_functype_t *type = wasm_functype_new(&p, &r);
  wasmtime_error_t *error = wasmtime_linker_define_func_unchecked(
      linker, module.data(), module.size(), name.data(), name.size(), type, callback, nullptr,
      nullptr);
  wasm_functype_delete(type);
  if (error) throw std::runtime_error("defining " + std::string(name) + ": " + take_error(error));
}

}  // namespace

uint64_t guest_monotonic_ns(const HostState &state) {
  if (state.clock.mode == Clock::Mode::Real) return real_monotonic_ns(state);
  return virtual_offset_ns(state, state.clock.mode == Clock::Mode::Deterministic ? state.clock_reads : 0);
}

void set_guest_monotonic_ns(HostState &state, uint64_t ns) {
  if (state.clock.mode == Clock::Mode::Real) {
    state.monotonic_origin = std::chrono::steady_clock::now() - std::chrono::nanoseconds(ns);
    return;
  }
  state.virtual_ns = 0;
  uint64_t stepped = virtual_offset_ns(state, state.clock.mode == Clock::Mode::Deterministic ? state.clock_reads : 0);
  state.virtual_ns = ns > stepped ? ns - stepped : 0;
}

namespace {

// The caller's reading of the thread's CPU clock, or a new one (optional::value_or would read the
// clock even when the caller's reading is there: its argument is evaluated first).
ThreadCpuClock::time_point reading_or_now(std::optional<ThreadCpuClock::time_point> cpu_now) {
  return cpu_now ? *cpu_now : ThreadCpuClock::now();
}

}  // namespace

bool check_deadlines(HostState &state, std::optional<ThreadCpuClock::time_point> cpu_now) {
  if (state.interrupted) return true;
  if (state.interrupt_request && state.interrupt_request->load(std::memory_order_relaxed))
    return state.interrupted = state.interrupted_by_caller = true;
  if (state.wall_deadline != std::chrono::steady_clock::time_point::max() &&
      std::chrono::steady_clock::now() >= state.wall_deadline)
    state.wall_expired = true;
  state.interrupted = state.wall_expired || reading_or_now(cpu_now) >= state.deadline;
  return state.interrupted;
}

namespace {

// Time until the earlier soft deadline is due, by each deadline's own clock (zero when one
// already is); nullopt when neither is set.
std::optional<std::chrono::nanoseconds> until_soft_deadline(
    const HostState &state, std::optional<ThreadCpuClock::time_point> cpu_now = std::nullopt) {
  using std::chrono::nanoseconds;
  std::optional<nanoseconds> remaining;
  if (state.deadline != ThreadCpuClock::time_point::max())
    remaining = state.deadline - reading_or_now(cpu_now);
  if (state.wall_deadline != std::chrono::steady_clock::time_point::max()) {
    nanoseconds wall = state.wall_deadline - std::chrono::steady_clock::now();
    remaining = remaining ? std::min(*remaining, wall) : wall;
  }
  if (remaining && *remaining < nanoseconds::zero()) remaining = nanoseconds::zero();
  return remaining;
}

uint64_t ticks_for(std::chrono::nanoseconds remaining, std::chrono::milliseconds tick) {
  if (remaining < std::chrono::nanoseconds::zero()) remaining = {};
  return static_cast<uint64_t>(remaining / tick) + 1;
}

// The most ticks the epoch deadline may be set ahead: one while on_running_long waits to be
// called (each tick's callback then checks whether it is due), else no bound.
uint64_t ticks_at_most(const HostState &state) { return state.on_running_long ? 1 : UINT64_MAX / 2; }

}  // namespace

// The backstop stops only a guest that keeps running once a soft deadline is due: it must have
// used hard_deadline_grace of CPU time since then (or since the host last handed it control, when
// a deadline was already due: a sync handler may have slept past the wall clock, and the guest
// still needs a moment to reach its interrupt check). CPU time, so that a thread waiting for a
// core is never stopped for the wait.
void arm_epoch_deadline(wasmtime_context_t *context, HostState &state,
                        std::optional<ThreadCpuClock::time_point> cpu_now) {
  auto remaining = until_soft_deadline(state, cpu_now);
  state.backstop_mark = ThreadCpuClock::time_point::max();
  const uint64_t at_most = ticks_at_most(state);
  if (!remaining) {
    wasmtime_context_set_epoch_deadline(context, at_most);
    return;
  }
  if (*remaining == std::chrono::nanoseconds::zero()) {
    state.backstop_mark = reading_or_now(cpu_now);
    remaining = state.hard_deadline_grace;
  }
  wasmtime_context_set_epoch_deadline(context, std::min(at_most, ticks_for(*remaining, state.epoch_tick)));
}

void running_long(HostState &state) {
  if (const auto *hook = std::exchange(state.on_running_long, nullptr)) (*hook)();
}

void running_long_if_due(HostState &state) {
  if (state.on_running_long && std::chrono::steady_clock::now() >= state.running_long_at) running_long(state);
}

wasmtime_error_t *on_epoch_deadline(wasmtime_context_t *, void *data, uint64_t *delta,
                                    wasmtime_update_deadline_kind_t *kind) {
  auto &state = *static_cast<HostState *>(data);
  *kind = WASMTIME_UPDATE_DEADLINE_CONTINUE;
  running_long_if_due(state);
  const uint64_t at_most = ticks_at_most(state);
  auto remaining = until_soft_deadline(state);
  if (!remaining) {
    *delta = at_most;
    return nullptr;
  }
  if (*remaining > std::chrono::nanoseconds::zero()) {  // not due yet: the thread was descheduled
    *delta = std::min(at_most, ticks_for(*remaining, state.epoch_tick));
    return nullptr;
  }
  auto cpu_now = ThreadCpuClock::now();
  if (state.backstop_mark == ThreadCpuClock::time_point::max())  // first seen due now
    state.backstop_mark = std::min(cpu_now, state.deadline);
  auto grace_left = state.backstop_mark + state.hard_deadline_grace - cpu_now;
  if (grace_left > std::chrono::nanoseconds::zero()) {
    *delta = std::min(at_most, ticks_for(grace_left, state.epoch_tick));
    return nullptr;
  }
  state.hard_stopped = true;
  state.interrupted = true;
  static const char message[] = "hard deadline";
  return wasmtime_error_new(message);
}

void define_host_functions(wasmtime_linker_t *linker) {
  constexpr wasm_valkind_t I32 = WASM_I32, I64 = WASM_I64;
  define(linker, QB_IMPORT_MODULE, QB_IMPORT_INTERRUPT_CHECK, {}, {I32}, interrupt_check);
  define(linker, QB_IMPORT_MODULE, QB_IMPORT_HOST_CALL, {I32, I32, I32, I32}, {}, host_call);
  define(linker, QB_IMPORT_MODULE, QB_IMPORT_HOST_TAKE, {I32}, {}, host_take);
  define(linker, QB_IMPORT_MODULE, QB_IMPORT_NATIVE_STACK_LEFT, {}, {I32}, native_stack_left);
  define(linker, QB_IMPORT_MODULE, QB_IMPORT_CONSOLE_LINE, {I32, I32, I32}, {}, console_line);
  define(linker, QB_WASI_MODULE, "clock_time_get", {I32, I64, I32}, {I32}, clock_time_get);
  define(linker, QB_WASI_MODULE, "fd_write", {I32, I32, I32, I32}, {I32}, fd_write);
  define(linker, QB_WASI_MODULE, "fd_fdstat_get", {I32, I32}, {I32}, fd_fdstat_get);
  define(linker, QB_WASI_MODULE, "fd_close", {I32}, {I32}, fd_close);
  define(linker, QB_WASI_MODULE, "fd_seek", {I32, I64, I32, I32}, {I32}, fd_seek);
  define(linker, QB_WASI_MODULE, "proc_exit", {I32}, {}, proc_exit);
  define(linker, QB_WASI_MODULE, "random_get", {I32, I32}, {I32}, random_get);
}

}  // namespace quickbox::internal
