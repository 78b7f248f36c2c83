// One sandbox = one wasm instance from the engine's base image, plus the host state its imports
// see. Every operation: write the request into the guest's input buffer, call one export with a
// CPU deadline armed, then read and validate the reply. The guest is untrusted: every pointer and
// length it hands back is bounds-checked, every CBOR reply decoded with limits.

#include <cstring>

#include "sandbox_impl.hh"
#include "utf8.hh"

namespace quickbox {

using internal::format_bytes;

static_assert(static_cast<int>(ErrorKind::JSException) == QB_ERROR_JS_EXCEPTION);
static_assert(static_cast<int>(ErrorKind::Timeout) == QB_ERROR_TIMEOUT);
static_assert(static_cast<int>(ErrorKind::OutOfMemory) == QB_ERROR_OUT_OF_MEMORY);
static_assert(static_cast<int>(ErrorKind::StackOverflow) == QB_ERROR_STACK_OVERFLOW);
static_assert(static_cast<int>(ErrorKind::OutputLimit) == QB_ERROR_OUTPUT_LIMIT);
static_assert(static_cast<int>(ErrorKind::InvalidInput) == QB_ERROR_INVALID_INPUT);
static_assert(static_cast<int>(ErrorKind::Internal) == QB_ERROR_INTERNAL);
static_assert(static_cast<int>(ErrorKind::Deadlock) == QB_ERROR_DEADLOCK);

namespace {

constexpr auto kHardDeadlineGrace = std::chrono::milliseconds(100);
// Room for the shadow stack, static data and malloc's own overhead above QuickJS's count.
constexpr uint64_t kMemoryOverheadDivisor = 4;  // hard limit = soft + soft/4 + base image

Error make_error(ErrorKind kind, std::string message) {
  return Error{.kind = kind, .message = std::move(message)};
}

/// An out-of-range setting: "<its name> must be ...".
Error bad_setting(Setting setting, const std::string &must_be) {
  return Error{.kind = ErrorKind::InvalidInput, .message = std::string(to_string(setting)) + " " + must_be,
               .setting = setting};
}

}  // namespace

uint32_t internal::max_stack_bytes() { return QUICKBOX_GUEST_STACK_SIZE - (256u << 10); }

std::optional<Error> internal::check_duration(std::chrono::milliseconds value, Setting setting) {
  if (value.count() <= 0 || value > kMaxDuration)
    return bad_setting(setting, "must be between 1 ms and " + std::to_string(kMaxDuration.count()) +
                                    " ms (30 days), got " + std::to_string(value.count()) + " ms");
  return std::nullopt;
}

std::optional<Error> internal::check_sandbox_options(const SandboxOptions &o, const EngineOptions &engine) {
  const Limits &l = o.limits;
  if (l.memory_bytes < (1u << 20) || l.memory_bytes > engine.max_sandbox_memory_bytes / 2)
    return bad_setting(Setting::MemoryBytes, "must be between 1 MiB and " +
                                                 format_bytes(engine.max_sandbox_memory_bytes / 2) +
                                                 " (half the engine's memory per sandbox), got " +
                                                 format_bytes(l.memory_bytes));
  if (auto err = check_duration(l.cpu_time, Setting::CpuTime)) return err;
  if (l.wall_time)
    if (auto err = check_duration(*l.wall_time, Setting::WallTime)) return err;
  uint32_t max_stack = max_stack_bytes();
  if (l.stack_bytes < (64u << 10) || l.stack_bytes > max_stack)
    return bad_setting(Setting::StackBytes, "must be between 64 KiB and " + format_bytes(max_stack) +
                                                " (the guest's stack less a safety margin), got " +
                                                format_bytes(l.stack_bytes));
  if (l.console_bytes > (1ull << 30)) return bad_setting(Setting::ConsoleBytes, "must be at most 1 GiB");
  if (l.result_bytes < 64 || l.result_bytes > (1ull << 30))
    return bad_setting(Setting::ResultBytes, "must be between 64 bytes and 1 GiB");
  if (l.source_bytes == 0 || l.source_bytes > (1ull << 30))
    return bad_setting(Setting::SourceBytes, "must be between 1 byte and 1 GiB");
  if (l.max_depth == 0 || l.max_depth > 10000) return bad_setting(Setting::MaxDepth, "must be between 1 and 10000");
  if (l.host_memory_bytes && (*l.host_memory_bytes < (1u << 20) || *l.host_memory_bytes > (1ull << 40)))
    return bad_setting(Setting::HostMemoryBytes,
                       "must be between 1 MiB and 1 TiB, got " + format_bytes(*l.host_memory_bytes));
  if (l.max_pending_calls == 0 || l.max_pending_calls > 1000000)
    return bad_setting(Setting::MaxPendingCalls,
                       "must be between 1 and 1000000, got " + std::to_string(l.max_pending_calls));
  if (l.max_timers > 1000000)
    return bad_setting(Setting::MaxTimers, "must be between 0 and 1000000, got " + std::to_string(l.max_timers));
  if (l.bigint_bytes < 8 || l.bigint_bytes > (1u << 20))
    return bad_setting(Setting::BigIntBytes, "must be between 8 bytes and 1 MiB, got " + format_bytes(l.bigint_bytes));
  if (l.max_modules == 0 || l.max_modules > 1000000)
    return bad_setting(Setting::MaxModules, "must be between 1 and 1000000, got " + std::to_string(l.max_modules));
  if (l.module_source_bytes == 0 || l.module_source_bytes > (1ull << 30))
    return bad_setting(Setting::ModuleSourceBytes,
                       "must be between 1 byte and 1 GiB, got " + format_bytes(l.module_source_bytes));
  if (o.clock.mode != Clock::Mode::Real && (o.clock.start_ms < 0 || o.clock.start_ms > kMaxClockStartMs))
    return bad_setting(Setting::ClockStartMs, "must be between 0 (1970-01-01) and " +
                                                  std::to_string(kMaxClockStartMs) + " (2286-11-20), got " +
                                                  std::to_string(o.clock.start_ms));
  if (o.clock.mode == Clock::Mode::Deterministic && (o.clock.step_us < 0 || o.clock.step_us > kMaxClockStepUs))
    return bad_setting(Setting::ClockStepUs, "must be between 0 and " + std::to_string(kMaxClockStepUs) +
                                                 " (one hour), got " + std::to_string(o.clock.step_us));
  return std::nullopt;
}

// ---- Instance lifecycle ---------------------------------------------------------------------------

void Sandbox::Impl::release() {
  // The slot joins the warm pool, whose least recently freed slot beyond its size has its memory
  // go back to the system (warm_pool.hh).
  if (store && host.has_memory)
    engine->warm_pool->release(wasmtime_memory_data(context, &host.memory),
                               wasmtime_memory_data_size(context, &host.memory),
                               [this] { wasmtime_store_delete(store); });
  else if (store)
    wasmtime_store_delete(store);
  store = nullptr;
  context = nullptr;
}

uint64_t Sandbox::Impl::hard_memory_limit() const {
  return options.limits.memory_bytes + options.limits.memory_bytes / kMemoryOverheadDivisor +
         engine->base_memory_bytes;
}

std::optional<Error> Sandbox::Impl::instantiate() {
  host = internal::HostState{};
  host.clock = options.clock;
  host.stray_limit = options.limits.console_bytes;
  host.random_seeded = options.random_seed.has_value();
  host.random_state = options.random_seed.value_or(0);
  host.sink = this;
  host.interrupt_request = &signal->interrupt;
  host.epoch_tick = engine->options.epoch_tick;
  host.hard_deadline_grace = kHardDeadlineGrace;
  store = wasmtime_store_new(engine->engine, &host, nullptr);
  context = wasmtime_store_context(store);
  wasmtime_store_epoch_deadline_callback(store, internal::on_epoch_deadline, &host, nullptr);
  wasmtime_store_limiter(store, static_cast<int64_t>(hard_memory_limit()), -1, 1, 1, 1);
  wasmtime_context_set_epoch_deadline(context, UINT64_MAX / 2);
  wasm_trap_t *trap = nullptr;
  auto holding_slots = engine->warm_pool->hold_slots();
  wasmtime_error_t *error =
      wasmtime_instance_pre_instantiate(engine->instance_pre, context, &instance, &trap);
  if (error || trap) {
    holding_slots.unlock();
    std::string why = error ? internal::take_error(error) : internal::take_trap(trap);
    release();
    return make_error(ErrorKind::Internal,
                      "cannot create a sandbox (the engine allows " +
                          std::to_string(engine->options.max_sandboxes) + " at once): " + why);
  }
  auto bound = bind_exports();
  if (!bound) engine->warm_pool->taken(wasmtime_memory_data(context, &host.memory));
  holding_slots.unlock();
  if (bound) return bound;
  discarded = false;
  return configure();
}

const wasmtime_func_t &Sandbox::Impl::func(size_t internal::GuestExports::*which) {
  size_t index = engine->exports.*which;
  // A released instance (no context) has nothing to look up; its callers refuse to run anyway.
  if (context && !(funcs_bound >> index & 1)) {
    wasmtime_extern_t item;
    char *name;
    size_t len;
    wasmtime_instance_export_nth(context, &instance, index, &name, &len, &item);
    funcs[index] = item.of.func;
    funcs_bound |= uint64_t{1} << index;
  }
  return funcs[index];
}

std::optional<Error> Sandbox::Impl::bind_exports() {
  auto get = [&](size_t index) {
    wasmtime_extern_t item;
    char *name;
    size_t len;
    wasmtime_instance_export_nth(context, &instance, index, &name, &len, &item);
    return item;
  };
  const auto &e = engine->exports;
  host.memory = get(e.memory).of.memory;
  host.has_memory = true;
  stack_pointer = get(e.stack_pointer).of.global;
  funcs_bound = 0;  // a new instance: every function is looked up again

  int32_t address = 0;
  wasm_trap_t *trap = nullptr;
  std::string call_error;
  arm_control_deadline();
  if (!internal::call_i32(context, get(e.exchange).of.func, {}, &address, &trap, &call_error)) {
    release();
    return make_error(ErrorKind::Internal, "the guest failed to start: " +
                                              (trap ? internal::take_trap(trap) : call_error));
  }
  exchange_address = static_cast<uint32_t>(address);
  qb_exchange ex;
  if (auto err = read_exchange(ex)) {
    release();
    return err;
  }
  if (ex.abi_version != QB_ABI_VERSION) {
    release();
    return make_error(ErrorKind::Internal, "the guest speaks ABI version " + std::to_string(ex.abi_version) +
                                               ", the host " + std::to_string(QB_ABI_VERSION));
  }
  input_ptr = ex.input_ptr;
  input_cap = ex.input_cap;
  return std::nullopt;
}

void Sandbox::Impl::arm_control_deadline() {
  auto cpu_now = internal::ThreadCpuClock::now();
  host.deadline = cpu_now + options.limits.cpu_time;
  internal::arm_epoch_deadline(context, host, cpu_now);
  host.deadline = internal::ThreadCpuClock::time_point::max();
}

std::optional<Error> Sandbox::Impl::configure() {
  const Limits &l = options.limits;
  uint64_t seed = options.random_seed ? *options.random_seed : internal::random_seed();
  qb_config config{.random_seed = seed,
                   .memory_limit = static_cast<uint32_t>(l.memory_bytes),
                   .stack_limit = l.stack_bytes,
                   .console_limit = static_cast<uint32_t>(l.console_bytes),
                   .result_limit = static_cast<uint32_t>(l.result_bytes),
                   .max_depth = l.max_depth,
                   .bigint_limit = l.bigint_bytes,
                   .max_modules = l.max_modules,
                   .module_source_limit = static_cast<uint32_t>(l.module_source_bytes),
                   .max_timers = l.max_timers,
                   .flags = options.on_console ? QB_CONFIG_LIVE_CONSOLE : 0u};
  if (auto err = write_input({std::string_view(reinterpret_cast<const char *>(&config), sizeof config)}))
    return err;
  int32_t status = 0;
  wasm_trap_t *trap = nullptr;
  std::string call_error;
  arm_control_deadline();
  if (!internal::call_i32(context, func(&internal::GuestExports::configure), {}, &status, &trap, &call_error) ||
      status != QB_STATUS_DONE) {
    std::string why = trap ? internal::take_trap(trap) : call_error;
    release();
    return make_error(ErrorKind::Internal, "configuring the guest failed" + (why.empty() ? "" : ": " + why));
  }
  return std::nullopt;
}

std::optional<Error> Sandbox::Impl::read_exchange(qb_exchange &out) {
  uint8_t *base = wasmtime_memory_data(context, &host.memory);
  size_t size = wasmtime_memory_data_size(context, &host.memory);
  if (uint64_t{exchange_address} + sizeof out > size)
    return make_error(ErrorKind::Internal, "the guest's exchange block lies outside its memory");
  std::memcpy(&out, base + exchange_address, sizeof out);
  return std::nullopt;
}

// Writes the parts back to back, each followed by a NUL.
std::optional<Error> Sandbox::Impl::write_input(std::initializer_list<std::string_view> parts) {
  if (discarded || !context) return discarded_result().error();
  uint64_t total = 0;
  for (auto p : parts) total += p.size() + 1;
  if (total > UINT32_MAX) return make_error(ErrorKind::InvalidInput, "request larger than 4 GiB");
  if (total > input_cap) {
    int32_t status = 0;
    wasm_trap_t *trap = nullptr;
    std::string call_error;
    arm_control_deadline();
    if (!internal::call_i32(context, func(&internal::GuestExports::reserve), {static_cast<uint32_t>(total)}, &status, &trap,
                            &call_error) ||
        status != QB_STATUS_DONE) {
      if (trap) internal::take_trap(trap);
      return make_error(ErrorKind::OutOfMemory,
                        "the sandbox cannot hold a request of " + format_bytes(total) +
                            " within its memory limit of " + format_bytes(options.limits.memory_bytes));
    }
    qb_exchange ex;
    if (auto err = read_exchange(ex)) return err;
    input_ptr = ex.input_ptr;
    input_cap = ex.input_cap;
  }
  uint8_t *base = wasmtime_memory_data(context, &host.memory);
  size_t size = wasmtime_memory_data_size(context, &host.memory);
  if (uint64_t{input_ptr} + input_cap > size)
    return make_error(ErrorKind::Internal, "the guest's input buffer lies outside its memory");
  uint8_t *dest = base + input_ptr;
  for (auto p : parts) {
    std::memcpy(dest, p.data(), p.size());
    dest += p.size();
    *dest++ = 0;
  }
  return std::nullopt;
}

// ---- Errors ----------------------------------------------------------------------------------------

// The error for a kind, with a message that names the limit and its value.
Error Sandbox::Impl::limit_error(ErrorKind kind, std::string name, std::string message,
                                 std::string stack) const {
  Error e{.kind = kind, .name = std::move(name), .message = {}, .stack = std::move(stack)};
  switch (kind) {
    case ErrorKind::Timeout:
      e.message = timeout_error().message;
      break;
    case ErrorKind::OutOfMemory:
      e.message = "memory limit of " + format_bytes(options.limits.memory_bytes) + " exceeded";
      if (!message.empty() && message != "out of memory") e.message += " (" + message + ")";
      break;
    case ErrorKind::StackOverflow:
      e.message = "Maximum call stack size exceeded (JavaScript stack limit of " +
                  format_bytes(options.limits.stack_bytes) + ")";
      break;
    case ErrorKind::OutputLimit:
      // The guest names what it hit when that is not the result limit (a BigInt over its limit).
      e.message = message.empty() ? "the result is larger than the result limit of " +
                                        format_bytes(options.limits.result_bytes)
                                  : std::move(message);
      break;
    default:
      e.message = std::move(message);
  }
  return e;
}

Error Sandbox::Impl::timeout_error() const {
  if (host.interrupted_by_caller) return make_error(ErrorKind::Timeout, "the evaluation was interrupted");
  if (host.wall_expired && options.limits.wall_time)
    return make_error(ErrorKind::Timeout,
                      "wall-clock limit of " + std::to_string(options.limits.wall_time->count()) + " ms exceeded");
  return make_error(ErrorKind::Timeout, "CPU time limit of " + std::to_string(op_cpu_time.count()) + " ms exceeded");
}

Error Sandbox::Impl::hard_deadline_error() {
  Error e = limit_error(ErrorKind::Timeout, "", "", "");
  e.message += " (hard deadline: the program was stopped outside the interpreter loop)";
  e.instance_discarded = true;
  discard_reason = "a hard CPU deadline";
  drop_instance();
  return e;
}

void Sandbox::Impl::drop_instance() {
  discarded = true;
  // An outer operation's guest code is still on the stack (this one ran nested inside a host
  // function): releasing the store under it would pull its memory away. host_call traps instead
  // as it returns, and the outermost operation releases the instance once the guest has unwound.
  if (guest_frames > 0) {
    host.abort_guest = true;
    return;
  }
  host.abort_guest = false;
  release();
}

void Sandbox::Impl::start_meter(std::chrono::milliseconds budget) {
  eval_cpu_budget = budget;
  eval_cpu_used = {};
  // Nested: what the outer evaluation has left bounds it, so nesting never buys more CPU time.
  if (nested_cpu_left && *nested_cpu_left < std::chrono::nanoseconds(budget))
    eval_cpu_used = std::chrono::nanoseconds(budget) - *nested_cpu_left;
}

Error Sandbox::Impl::nested_abort_error() {
  Error e = make_error(ErrorKind::Internal, "the sandbox's instance was discarded after " + discard_reason +
                                                " in an operation nested inside a host function");
  e.instance_discarded = true;
  drop_instance();
  return e;
}

Error Sandbox::Impl::trap_error(wasm_trap_t *trap) {
  wasmtime_trap_code_t code;
  bool has_code = wasmtime_trap_code(trap, &code);
  std::string text = internal::take_trap(trap);
  Error e;
  if (has_code && code == WASMTIME_TRAP_CODE_INTERRUPT) {
    return hard_deadline_error();
  } else if (has_code && code == WASMTIME_TRAP_CODE_STACK_OVERFLOW) {
    e = limit_error(ErrorKind::StackOverflow, "", "", "");
    e.message += " (the wasm stack was exhausted)";
    discard_reason = "a wasm stack overflow";
  } else {
    // With --stack-first, running off the shadow stack's end wraps below address 0 and faults.
    wasmtime_val_t sp;
    wasmtime_global_get(context, &stack_pointer, &sp);
    if (has_code && code == WASMTIME_TRAP_CODE_MEMORY_OUT_OF_BOUNDS &&
        static_cast<uint32_t>(sp.of.i32) < (64u << 10)) {
      e = limit_error(ErrorKind::StackOverflow, "", "", "");
      e.message += " (the guest's C stack was exhausted)";
      discard_reason = "a guest stack overflow";
    } else {
      e = make_error(ErrorKind::Internal, "the guest trapped: " + text);
      discard_reason = "a trap (" + text + ")";
    }
  }
  e.instance_discarded = true;
  drop_instance();
  return e;
}

Result Sandbox::Impl::discarded_result() const {
  Error e = make_error(ErrorKind::Internal, "this sandbox's instance was discarded after " +
                                                discard_reason + "; call reset() for a fresh one");
  e.instance_discarded = true;
  return Result::failure(std::move(e));
}

std::optional<Error> Sandbox::Impl::refuse_while_suspended(const char *what) const {
  if (!evaluating) return std::nullopt;
  std::string ids;
  for (const auto &c : calls) ids += (ids.empty() ? "#" : ", #") + std::to_string(c.id);
  return make_error(ErrorKind::InvalidInput,
                    std::string("cannot ") + what + " while an evaluation is suspended on host calls (" +
                        ids + "); settle them and resume(), or abandon() it");
}

// ---- Running operations ------------------------------------------------------------------------

Expected<int32_t> Sandbox::Impl::run_op(const wasmtime_func_t &func, std::initializer_list<uint32_t> args,
                                        std::optional<std::chrono::milliseconds> own_budget,
                                        std::optional<std::chrono::steady_clock::time_point> now) {
  using std::chrono::nanoseconds;
  // An instance a nested operation discarded, seen from the outer operation's driving loop.
  if (discarded || !context) return discarded_result().error();
  auto wall_start = now ? *now : std::chrono::steady_clock::now();  // not value_or: it reads the clock anyway
  auto start = internal::ThreadCpuClock::at(wall_start);
  nanoseconds remaining = own_budget ? nanoseconds(*own_budget) : nanoseconds(eval_cpu_budget) - eval_cpu_used;
  op_cpu_time = own_budget.value_or(eval_cpu_budget);
  host.interrupted = false;
  host.hard_stopped = false;
  host.wall_expired = false;
  host.interrupted_by_caller = false;
  host.wall_deadline = !own_budget && wall_deadline ? *wall_deadline : std::chrono::steady_clock::time_point::max();
  if (remaining <= nanoseconds::zero() || wall_start >= host.wall_deadline) {
    host.wall_expired = wall_start >= host.wall_deadline;
    return timeout_error();
  }
  host.stray_output.clear();
  host.stray_bytes = 0;
  host.stray_dropped = 0;
  host.deadline = start + remaining;
  host.running_long_at = wall_start + internal::kRunningLongAfter;
  internal::arm_epoch_deadline(context, host, start);
  auto handlers_before = handler_time;
  int32_t status = 0;
  wasm_trap_t *trap = nullptr;
  std::string call_error;
  guest_frames++;
  bool ok = internal::call_i32(context, func, args, &status, &trap, &call_error);
  guest_frames--;
  // Everything but the handlers' own time was spent for the evaluation: guest code, and the
  // host's work per call (decoding, hashing, audit, encoding), which the guest's data drives.
  if (!own_budget) eval_cpu_used += (internal::ThreadCpuClock::now() - start) - (handler_time - handlers_before);
  bool timed_out = host.interrupted;
  host.deadline = internal::ThreadCpuClock::time_point::max();
  host.wall_deadline = std::chrono::steady_clock::time_point::max();
  if (!ok) {
    // Unwound because an operation nested inside one of its host functions ended the instance.
    if (host.abort_guest) {
      if (trap) internal::take_trap(trap);
      return nested_abort_error();
    }
    if (trap || host.hard_stopped) {
      collect_console();  // what the program printed before the trap is still worth reporting
      return trap ? trap_error(trap) : hard_deadline_error();
    }
    discard_reason = "a host error (" + call_error + ")";
    drop_instance();
    Error e = make_error(ErrorKind::Internal, "calling the guest failed: " + call_error);
    e.instance_discarded = true;
    return e;
  }
  wasmtime_context_set_epoch_deadline(context, UINT64_MAX / 2);
  if (auto err = collect_console()) return *err;
  // A deadline passed (possibly in a host call, after the guest's last interrupt check): the
  // operation ends in Timeout even if the guest finished first. An error reply is read as one.
  if (timed_out && !own_budget && status != QB_STATUS_ERROR) {
    if (status == QB_STATUS_PENDING) guest_driving = true;
    return timeout_error();
  }
  return status;
}

Expected<int32_t> Sandbox::Impl::abandon_in_guest() {
  guest_driving = false;
  return run_op(func(&internal::GuestExports::abandon), {}, options.limits.cpu_time);
}

void Sandbox::Impl::charge_host_work(internal::ThreadCpuClock::time_point started,
                                     std::chrono::nanoseconds handler_before) {
  eval_cpu_used += (internal::ThreadCpuClock::now() - started) - (handler_time - handler_before);
}

std::optional<Error> Sandbox::Impl::collect_console() {
  qb_exchange ex;
  if (auto err = read_exchange(ex)) return err;
  uint8_t *base = wasmtime_memory_data(context, &host.memory);
  size_t size = wasmtime_memory_data_size(context, &host.memory);
  if (uint64_t{ex.console_ptr} + ex.console_len > size)
    return make_error(ErrorKind::Internal, "the guest replied with a buffer outside its memory");
  std::span<const uint8_t> records(base + ex.console_ptr, ex.console_len);
  for (size_t pos = 0; pos < records.size();) {
    if (records.size() - pos < QB_CONSOLE_RECORD_HEADER)
      return make_error(ErrorKind::Internal, "malformed console record from the guest");
    uint8_t level = records[pos];
    uint32_t len;
    std::memcpy(&len, records.data() + pos + 1, 4);
    pos += QB_CONSOLE_RECORD_HEADER;
    if (records.size() - pos < len || level > QB_CONSOLE_DEBUG)
      return make_error(ErrorKind::Internal, "malformed console record from the guest");
    keep_console_line({static_cast<ConsoleLevel>(level),
                       std::string(reinterpret_cast<const char *>(records.data() + pos), len)});
    pos += len;
  }
  for (auto &line : host.stray_output) keep_console_line(std::move(line));
  host.stray_output.clear();
  console_dropped += ex.console_dropped + host.stray_dropped;
  return std::nullopt;
}

// What a line costs against Limits::console_bytes: its text and the line break every reader
// prints after it, so that empty lines cannot flood a terminal for free.
namespace {
uint64_t console_line_cost(size_t text_bytes) { return uint64_t{text_bytes} + 1; }
}  // namespace

// The host keeps at most Limits::console_bytes of an evaluation's output, within the host memory
// budget; the rest is counted as dropped.
void Sandbox::Impl::keep_console_line(ConsoleLine line) {
  uint64_t size = console_line_cost(line.text.size());
  if (console_held_bytes + size > options.limits.console_bytes || !host_memory_fits(size)) {
    console_dropped += size;
    return;
  }
  console_held_bytes += size;
  console.push_back(std::move(line));
}

std::chrono::nanoseconds Sandbox::Impl::on_console_line(uint32_t level, std::span<const uint8_t> text) {
  std::chrono::nanoseconds spent{0};
  if (!options.on_console || console_failure) return spent;
  uint64_t size = console_line_cost(text.size());
  // The same limits as collected lines: the evaluation's console limit, and the host memory
  // budget for the copy the listener is handed.
  if (level > QB_CONSOLE_DEBUG || console_live_bytes + size > options.limits.console_bytes ||
      !host_memory_fits(size)) {
    console_dropped += size;
    return spent;
  }
  console_live_bytes += size;
  internal::HostMemoryCharge held(&console_held_bytes, size);
  ConsoleLine line{static_cast<ConsoleLevel>(level), std::string(reinterpret_cast<const char *>(text.data()), text.size())};
  try {
    timed_handler([&] { options.on_console(line); }, &spent);
  } catch (const std::exception &e) {
    console_failure = std::string("the console listener failed: ") + e.what();
  } catch (...) {
    console_failure = "the console listener failed (it threw something other than a std::exception)";
  }
  if (console_failure) host.interrupted = true;  // the program stops at its next interrupt check
  return spent;
}

Result Sandbox::Impl::with_console_failure(Result result) {
  if (!console_failure) return result;
  Result failed = Result::failure(make_error(ErrorKind::Internal, *std::exchange(console_failure, std::nullopt)));
  failed.console = std::move(result.console);
  failed.console_dropped_bytes = result.console_dropped_bytes;
  failed.unsettled_calls = std::move(result.unsettled_calls);
  return failed;
}

std::vector<ConsoleLine> Sandbox::Impl::take_console() {
  console_held_bytes = 0;
  return std::exchange(console, {});
}

Result Sandbox::Impl::read_reply(int32_t status) {
  qb_exchange ex;
  if (auto err = read_exchange(ex)) return Result::failure(*err);
  uint8_t *base = wasmtime_memory_data(context, &host.memory);
  size_t size = wasmtime_memory_data_size(context, &host.memory);
  if (uint64_t{ex.output_ptr} + ex.output_len > size)
    return Result::failure(make_error(ErrorKind::Internal, "the guest replied with a buffer outside its memory"));
  // A display reply holds a value and its text, each within the result limit.
  uint64_t result_bytes = options.limits.result_bytes * (status == QB_STATUS_DISPLAY ? 2 : 1);
  DecodeLimits limits{.max_depth = options.limits.max_depth + 2,
                      .max_bytes = result_bytes + (1u << 20),
                      .max_bigint_bytes = options.limits.bigint_bytes};
  Decoded decoded = decode_cbor({base + ex.output_ptr, ex.output_len}, limits);
  if (!decoded.ok)
    return Result::failure(make_error(ErrorKind::Internal, "malformed reply from the guest: " + decoded.error));
  if (status == QB_STATUS_DONE) return Result::done(std::move(decoded.value));
  if (status == QB_STATUS_DISPLAY) {
    const Value &pair = decoded.value;
    if (!pair.is_array() || pair.as_array().size() != 2 || !pair.as_array()[1].is_string())
      return Result::failure(make_error(ErrorKind::Internal, "malformed display reply from the guest"));
    Result shown = Result::done(pair.as_array()[0]);
    shown.display = pair.as_array()[1].as_string();
    return shown;
  }
  const Value &v = decoded.value;
  if (status != QB_STATUS_ERROR || !v.is_array() || v.as_array().size() < 4 ||
      !v.as_array()[0].is_number() || !v.as_array()[1].is_string() ||
      !v.as_array()[2].is_string() || !v.as_array()[3].is_string())
    return Result::failure(make_error(ErrorKind::Internal, "malformed error reply from the guest"));
  const auto &a = v.as_array();
  double kind_number = a[0].as_number();
  if (kind_number < QB_ERROR_JS_EXCEPTION || kind_number > QB_ERROR_DEADLOCK)
    return Result::failure(make_error(ErrorKind::Internal, "unknown error kind from the guest"));
  auto kind = static_cast<ErrorKind>(static_cast<int>(kind_number));
  // A deadline passed during the operation: however the program then failed, it ran out of time.
  if (host.interrupted) kind = ErrorKind::Timeout;
  Error e = limit_error(kind, a[1].as_string(), a[2].as_string(), a[3].as_string());
  if (a.size() > 4) e.thrown = a[4];
  return Result::failure(std::move(e));
}

Result Sandbox::Impl::start_evaluation(const wasmtime_func_t &func, std::initializer_list<uint32_t> args,
                                       std::chrono::milliseconds cpu_time) {
  evaluating = true;
  guest_driving = false;
  ended.reset();
  start_meter(cpu_time);
  take_console();
  console_dropped = 0;
  console_live_bytes = 0;
  console_failure.reset();
  // Host-call budgets are per outermost evaluation: a nested one counts against its outer one's.
  if (nest_depth == 0) {
    host_calls_this_eval = 0;
    for (auto &c : capabilities) c.calls_this_eval = 0;
  }
  // One reading starts the wall-clock limit, the timers' clock and the guest's run.
  auto now = std::chrono::steady_clock::now();
  if (options.limits.wall_time) wall_deadline = now + *options.limits.wall_time;
  else wall_deadline.reset();
  if (nested_wall_cap) wall_deadline = wall_deadline ? std::min(*wall_deadline, *nested_wall_cap) : *nested_wall_cap;
  start_timer_clock(now);
  auto status = run_op(func, args, std::nullopt, now);
  if (!status) return finish_evaluation(Result::failure(status.error()));
  return drive(status.value());
}

Result Sandbox::Impl::finish_evaluation(Result result) {
  evaluating = false;
  wall_deadline.reset();
  // Ended by the host (a deadline, a failed settle) while the guest still drives it.
  if (guest_driving && !discarded) abandon_in_guest();
  guest_driving = false;
  for (const auto &call : calls)
    if (const auto *cap = find_capability(call.capability_id))
      result.unsettled_calls.push_back(cap->name);
  cancel_outstanding_calls("the evaluation ended before the call settled");
  result.console = take_console();
  result.console_dropped_bytes = console_dropped;
  console_dropped = 0;
  return with_console_failure(std::move(result));
}

namespace {
// What a non-evaluating operation sets aside of a suspended evaluation's state, and gives back:
// one list, swapped in on the way in (the operation starts with none of it) and again on the way
// out, so a field cannot be taken without being returned.
class EvaluationSetAside {
 public:
  explicit EvaluationSetAside(Sandbox::Impl &s) : s_(s) { swap(); }
  ~EvaluationSetAside() { swap(); }
  EvaluationSetAside(const EvaluationSetAside &) = delete;
  EvaluationSetAside &operator=(const EvaluationSetAside &) = delete;

 private:
  void swap() {
    std::swap(s_.eval_cpu_budget, eval_cpu_budget_);
    std::swap(s_.eval_cpu_used, eval_cpu_used_);
    std::swap(s_.wall_deadline, wall_deadline_);
    std::swap(s_.console, console_);
    std::swap(s_.console_held_bytes, console_held_bytes_);
    std::swap(s_.console_dropped, console_dropped_);
    std::swap(s_.console_live_bytes, console_live_bytes_);
    std::swap(s_.console_failure, console_failure_);
  }
  Sandbox::Impl &s_;
  decltype(s_.eval_cpu_budget) eval_cpu_budget_{};
  decltype(s_.eval_cpu_used) eval_cpu_used_{};
  decltype(s_.wall_deadline) wall_deadline_;
  decltype(s_.console) console_;
  uint64_t console_held_bytes_ = 0, console_dropped_ = 0, console_live_bytes_ = 0;
  decltype(s_.console_failure) console_failure_;
};
}  // namespace

Result Sandbox::Impl::run_simple(const wasmtime_func_t &func, std::initializer_list<uint32_t> args) {
  // Not an evaluation: its own budget and console, leaving a suspended evaluation's untouched.
  EvaluationSetAside suspended(*this);
  start_meter(options.limits.cpu_time);
  auto status = run_op(func, args);
  Result result = status ? read_reply(status.value()) : Result::failure(status.error());
  if (status && status.value() == QB_STATUS_PENDING)
    result = Result::failure(make_error(ErrorKind::Internal, "the guest suspended a non-evaluating operation"));
  result.console = take_console();
  result.console_dropped_bytes = console_dropped;
  return with_console_failure(std::move(result));
}

// ---- Public API ---------------------------------------------------------------------------------

Sandbox::Sandbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Sandbox::Sandbox(Sandbox &&) noexcept = default;
Sandbox &Sandbox::operator=(Sandbox &&other) noexcept {
  if (this != &other) {
    Impl::dispose(std::move(impl_));
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Sandbox::~Sandbox() { Impl::dispose(std::move(impl_)); }

void Sandbox::Impl::dispose(std::unique_ptr<Impl> impl) {
  // From inside a host function the running operation still needs the sandbox: it destroys it
  // when it returns (OperationGuard). From another thread, retire() waited for it to return.
  if (impl && impl->use.retire()) (void)impl.release();
}

Expected<Sandbox> Sandbox::create(const Engine &engine, const SandboxOptions &options) {
  if (auto err = internal::check_sandbox_options(options, engine.options())) return *err;
  auto impl = std::make_unique<Impl>();
  impl->engine = engine.impl();
  impl->options = options;
  if (auto err = impl->instantiate()) return *err;
  if (auto err = impl->grant_network()) return *err;
  return Sandbox(std::move(impl));
}

// Each public operation below claims the sandbox first (OperationGuard) and, because a host
// function may destroy the Sandbox object while the operation runs, uses only `s` after that.

const SandboxOptions &Sandbox::options() const { return impl_->options; }
bool Sandbox::discarded() const { return impl_->discarded; }
bool Sandbox::suspended() const { return impl_->evaluating || impl_->nest_depth > 0; }

void Sandbox::interrupt() {
  if (!impl_) return;  // moved from
  impl_->signal->interrupt = true;
  impl_->signal->notify();  // wakes a wait on async host calls
}

Result Sandbox::reset() {
  Impl &s = *impl_;
  OperationGuard guard(s, "reset()", internal::Access::Exclusive);
  if (guard.refused()) return Result::failure(*guard.refused());
  s.release();
  s.evaluating = false;
  s.guest_driving = false;
  s.ended.reset();
  s.cancel_outstanding_calls("the sandbox was reset");
  auto capabilities = std::move(s.capabilities);
  s.capabilities.clear();
  if (auto err = s.instantiate()) {
    s.discarded = true;
    s.discard_reason = "a failed reset";
    return Result::failure(*err);
  }
  for (auto &c : capabilities) {
    if (!c.bound) continue;
    if (auto status = s.add_capability(std::move(c.capability), c.define_flags); !status)
      return Result::failure(status.error());
  }
  return Result::done(Value());
}

Result Sandbox::eval(std::string_view source, const EvalOptions &options) {
  Impl &s = *impl_;
  OperationGuard guard(s, "eval()", internal::Access::Nestable);
  if (guard.refused()) return Result::failure(*guard.refused());
  Nesting nesting(s, guard.nested());
  if (nesting.refused()) return Result::failure(*nesting.refused());
  if (s.discarded) return s.discarded_result();
  if (auto err = s.refuse_while_suspended("evaluate")) return Result::failure(*err);
  if (options.cpu_time)
    if (auto err = internal::check_duration(*options.cpu_time, Setting::EvalCpuTime)) return Result::failure(*err);
  if (source.size() > s.options.limits.source_bytes)
    return Result::failure(make_error(
        ErrorKind::InvalidInput, "the source is " + format_bytes(source.size()) +
                                     ", more than the source limit of " +
                                     format_bytes(s.options.limits.source_bytes)));
  if (size_t bad = internal::find_invalid_utf8(source); bad != std::string_view::npos)
    return Result::failure(make_error(ErrorKind::InvalidInput,
                                      "the source is not valid UTF-8 (first bad byte at offset " +
                                          std::to_string(bad) + ")"));
  if (internal::find_invalid_utf8(options.filename) != std::string_view::npos ||
      options.filename.find('\0') != std::string::npos)
    return Result::failure(make_error(ErrorKind::InvalidInput, "the file name is not valid UTF-8 text"));
  if (options.parse_only && options.kind == EvalOptions::Kind::Module)
    return Result::failure(make_error(ErrorKind::InvalidInput,
                                      "EvalOptions::parse_only checks scripts; a module cannot be parsed without running it"));
  std::string stripped;
  if (options.language != SourceLanguage::JavaScript) {
    TransformOptions ts;
    ts.language = options.language;
    ts.module = options.kind == EvalOptions::Kind::Module;
    ts.filename = options.filename;
    auto js = transform_source(source, ts);
    if (!js) return Result::failure(js.error());
    stripped = std::move(js.value());
    source = stripped;
  }
  uint32_t flags = QB_EVAL_SCRIPT;
  switch (options.kind) {
    case EvalOptions::Kind::Auto:
      flags = source.find("await") != std::string_view::npos ? QB_EVAL_ASYNC : QB_EVAL_SCRIPT;
      break;
    case EvalOptions::Kind::Script: flags = QB_EVAL_SCRIPT; break;
    case EvalOptions::Kind::Async: flags = QB_EVAL_ASYNC; break;
    case EvalOptions::Kind::Module: flags = QB_EVAL_MODULE; break;
  }
  if (options.await_result) flags |= QB_EVAL_AWAIT_RESULT;
  if (options.strict) flags |= QB_EVAL_STRICT;
  if (options.display == EvalOptions::Display::NodePrint) flags |= QB_EVAL_DISPLAY_PRINT;
  if (options.display == EvalOptions::Display::Inspect) flags |= QB_EVAL_DISPLAY_INSPECT;
  if (options.parse_only) flags |= QB_EVAL_PARSE_ONLY;
  if (options.module_namespace && options.kind == EvalOptions::Kind::Module) flags |= QB_EVAL_MODULE_NAMESPACE;
  if (options.as_handle) flags |= QB_EVAL_RESULT_HANDLE;
  if (auto err = s.write_input({options.filename, source})) return Result::failure(*err);
  struct RunningLongHook {  // for this evaluation only, even when it suspends
    internal::HostState &host;
    ~RunningLongHook() { host.on_running_long = nullptr; }
  } hook{s.host};
  if (options.on_running_long) s.host.on_running_long = &options.on_running_long;
  return s.start_evaluation(
      s.func(&internal::GuestExports::eval),
      {static_cast<uint32_t>(options.filename.size()), static_cast<uint32_t>(source.size()), flags},
      options.cpu_time.value_or(s.options.limits.cpu_time));
}

namespace {
std::optional<Error> check_name(std::string_view name, const char *what) {
  if (name.empty() || name.find('\0') != std::string_view::npos ||
      internal::find_invalid_utf8(name) != std::string_view::npos)
    return make_error(ErrorKind::InvalidInput,
                      std::string(what) + " must be non-empty UTF-8 text without NUL characters");
  return std::nullopt;
}

std::optional<Error> encode_payload(const Value &value, std::vector<uint8_t> &out) {
  try {
    encode_cbor(value, out);
  } catch (const std::exception &e) {
    return make_error(ErrorKind::InvalidInput, e.what());
  }
  return std::nullopt;
}

std::string_view as_text(const std::vector<uint8_t> &bytes) {
  return {reinterpret_cast<const char *>(bytes.data()), bytes.size()};
}
}  // namespace

Result Sandbox::call(std::string_view name, std::span<const Value> args,
                     std::optional<std::chrono::milliseconds> cpu_time) {
  Impl &s = *impl_;
  OperationGuard guard(s, "call()", internal::Access::Nestable);
  if (guard.refused()) return Result::failure(*guard.refused());
  Nesting nesting(s, guard.nested());
  if (nesting.refused()) return Result::failure(*nesting.refused());
  if (s.discarded) return s.discarded_result();
  if (auto err = s.refuse_while_suspended("call a function")) return Result::failure(*err);
  if (auto err = check_name(name, "a function name")) return Result::failure(*err);
  if (cpu_time)
    if (auto err = internal::check_duration(*cpu_time, Setting::CallCpuTime)) return Result::failure(*err);
  std::vector<uint8_t> payload;
  if (auto err = encode_payload(Value(Value::Array(args.begin(), args.end())), payload))
    return Result::failure(*err);
  if (auto err = s.write_input({name, as_text(payload)})) return Result::failure(*err);
  return s.start_evaluation(
      s.func(&internal::GuestExports::call),
      {static_cast<uint32_t>(name.size()), static_cast<uint32_t>(payload.size()), QB_EVAL_AWAIT_RESULT},
      cpu_time.value_or(s.options.limits.cpu_time));
}

Result Sandbox::get_global(std::string_view name) {
  Impl &s = *impl_;
  OperationGuard guard(s, "get_global()", internal::Access::Nestable);
  if (guard.refused()) return Result::failure(*guard.refused());
  Nesting nesting(s, guard.nested());
  if (nesting.refused()) return Result::failure(*nesting.refused());
  if (s.discarded) return s.discarded_result();
  if (auto err = check_name(name, "a global's name")) return Result::failure(*err);
  if (auto err = s.write_input({name})) return Result::failure(*err);
  return s.run_simple(s.func(&internal::GuestExports::get_global), {static_cast<uint32_t>(name.size())});
}

Result Sandbox::set_global(std::string_view name, const Value &value) {
  Impl &s = *impl_;
  OperationGuard guard(s, "set_global()", internal::Access::Nestable);
  if (guard.refused()) return Result::failure(*guard.refused());
  Nesting nesting(s, guard.nested());
  if (nesting.refused()) return Result::failure(*nesting.refused());
  if (s.discarded) return s.discarded_result();
  if (auto err = check_name(name, "a global's name")) return Result::failure(*err);
  std::vector<uint8_t> payload;
  if (auto err = encode_payload(value, payload)) return Result::failure(*err);
  if (auto err = s.write_input({name, as_text(payload)})) return Result::failure(*err);
  return s.run_simple(s.func(&internal::GuestExports::set_global),
                      {static_cast<uint32_t>(name.size()), static_cast<uint32_t>(payload.size())});
}

Expected<std::string> Sandbox::format(const Value &value, EvalOptions::Display style) {
  Impl &s = *impl_;
  OperationGuard guard(s, "format()", internal::Access::Nestable);
  if (guard.refused()) return *guard.refused();
  Nesting nesting(s, guard.nested());
  if (nesting.refused()) return *nesting.refused();
  if (s.discarded) return s.discarded_result().error();
  if (style == EvalOptions::Display::None)
    return make_error(ErrorKind::InvalidInput, "format() needs a style: Display::NodePrint or Display::Inspect");
  std::vector<uint8_t> payload;
  if (auto err = encode_payload(value, payload)) return *err;
  if (auto err = s.write_input({as_text(payload)})) return *err;
  uint32_t flags = style == EvalOptions::Display::Inspect ? QB_EVAL_DISPLAY_INSPECT : QB_EVAL_DISPLAY_PRINT;
  Result r = s.run_simple(s.func(&internal::GuestExports::format), {static_cast<uint32_t>(payload.size()), flags});
  if (!r.ok()) return r.error();
  if (!r.value().is_string()) return make_error(ErrorKind::Internal, "malformed format reply from the guest");
  return r.value().as_string();
}

Result Sandbox::run_jobs() {
  Impl &s = *impl_;
  OperationGuard guard(s, "run_jobs()", internal::Access::Exclusive);
  if (guard.refused()) return Result::failure(*guard.refused());
  if (s.discarded) return s.discarded_result();
  if (auto err = s.refuse_while_suspended("run jobs")) return Result::failure(*err);
  return s.start_evaluation(s.func(&internal::GuestExports::run_jobs), {}, s.options.limits.cpu_time);
}

Expected<MemoryUsage> Sandbox::memory_usage(bool collect_garbage) {
  Impl &s = *impl_;
  OperationGuard guard(s, "memory_usage()", internal::Access::Nestable);
  if (guard.refused()) return *guard.refused();
  Nesting nesting(s, guard.nested());
  if (nesting.refused()) return *nesting.refused();
  if (s.discarded) return s.discarded_result().error();
  Result r = s.run_simple(s.func(&internal::GuestExports::memory_usage), {collect_garbage ? QB_MEMORY_COLLECT : 0u});
  if (!r.ok()) return r.error();
  auto field = [&](const char *key) -> uint64_t {
    const Value *v = r.value().find(key);
    return v && v->is_number() ? static_cast<uint64_t>(v->as_number()) : 0;
  };
  MemoryUsage usage{.js_malloc_bytes = field(QB_MEM_MALLOC_SIZE),
                     .js_malloc_limit = field(QB_MEM_MALLOC_LIMIT),
                     .js_object_count = field(QB_MEM_OBJ_COUNT),
                     .linear_memory_bytes = field(QB_MEM_LINEAR_MEMORY)};
  if (r.value().is_object())
    for (const auto &[key, value] : r.value().as_object())
      if (value.is_number()) usage.quickjs.emplace_back(key, static_cast<uint64_t>(value.as_number()));
  return usage;
}

}  // namespace quickbox
