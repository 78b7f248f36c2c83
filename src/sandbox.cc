// One sandbox = one wasm instance from the engine's base image, plus the host state its imports
// see. Every operation: write the request into the guest's input buffer, call one export with a
// CPU deadline armed, then read and validate the reply. The guest is untrusted: every pointer and
// length it hands back is bounds-checked, every CBOR reply decoded with limits.
#include <cstring>
#include <random>

#include "engine_impl.hh"

namespace quickbox {

using internal::format_bytes;

namespace {

constexpr auto kHardDeadlineGrace = std::chrono::milliseconds(100);
// Room for the shadow stack, static data and malloc's own overhead above QuickJS's count.
constexpr uint64_t kMemoryOverheadDivisor = 4;  // hard limit = soft + soft/4 + base image

Error make_error(ErrorKind kind, std::string message) {
  return Error{.kind = kind, .message = std::move(message)};
}

// Returns the byte offset of the first invalid UTF-8 sequence, or npos.
size_t invalid_utf8_offset(std::string_view s) {
  const auto *p = reinterpret_cast<const unsigned char *>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07;
    else return i;
    if (n - i < len) return i;
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return i;
    i += len;
  }
  return std::string_view::npos;
}

std::optional<Error> check_options(const SandboxOptions &o, const EngineOptions &engine) {
  const Limits &l = o.limits;
  auto bad = [](std::string m) { return make_error(ErrorKind::InvalidInput, std::move(m)); };
  if (l.memory_bytes < (1u << 20) || l.memory_bytes > engine.max_sandbox_memory_bytes / 2)
    return bad("Limits::memory_bytes must be between 1 MiB and " +
               format_bytes(engine.max_sandbox_memory_bytes / 2) + " (half the engine's "
               "max_sandbox_memory_bytes), got " + format_bytes(l.memory_bytes));
  if (l.cpu_time.count() <= 0) return bad("Limits::cpu_time must be positive");
  uint32_t max_stack = QUICKBOX_GUEST_STACK_SIZE - (256u << 10);
  if (l.stack_bytes < (64u << 10) || l.stack_bytes > max_stack)
    return bad("Limits::stack_bytes must be between 64 KiB and " + format_bytes(max_stack) +
               " (the guest's stack less a safety margin), got " + format_bytes(l.stack_bytes));
  if (l.console_bytes > (1ull << 30)) return bad("Limits::console_bytes must be at most 1 GiB");
  if (l.result_bytes < 64 || l.result_bytes > (1ull << 30))
    return bad("Limits::result_bytes must be between 64 bytes and 1 GiB");
  if (l.source_bytes == 0 || l.source_bytes > (1ull << 30))
    return bad("Limits::source_bytes must be between 1 byte and 1 GiB");
  if (l.max_depth == 0 || l.max_depth > 10000) return bad("Limits::max_depth must be between 1 and 10000");
  if (o.clock.mode == Clock::Mode::Deterministic && o.clock.step_us < 0)
    return bad("Clock::step_us must not be negative");
  return std::nullopt;
}

}  // namespace

struct Sandbox::Impl {
  std::shared_ptr<Engine::Impl> engine;
  SandboxOptions options;
  internal::HostState host;
  wasmtime_store_t *store = nullptr;
  wasmtime_context_t *context = nullptr;
  wasmtime_instance_t instance{};
  struct {
    wasmtime_func_t reserve, configure, eval, call, get_global, set_global, run_jobs, memory_usage;
  } fn{};
  wasmtime_global_t stack_pointer{};
  uint32_t exchange_address = 0;
  uint32_t input_ptr = 0, input_cap = 0;
  bool discarded = false;
  std::string discard_reason;
  /// The CPU budget of the running operation (limits.cpu_time unless overridden per call).
  std::chrono::milliseconds op_cpu_time{0};

  ~Impl() { release(); }

  void release() {
    if (store) wasmtime_store_delete(store);
    store = nullptr;
    context = nullptr;
  }

  uint64_t hard_memory_limit() const {
    return options.limits.memory_bytes + options.limits.memory_bytes / kMemoryOverheadDivisor +
           engine->base_memory_bytes;
  }

  std::optional<Error> instantiate();
  std::optional<Error> configure();
  std::optional<Error> read_exchange(qb_exchange &out);
  std::optional<Error> write_input(std::initializer_list<std::string_view> parts);
  Result invoke(const wasmtime_func_t &func, std::initializer_list<uint32_t> args,
                std::chrono::milliseconds cpu_time);
  Result read_reply(int32_t status);
  Error trap_error(wasm_trap_t *trap);
  Error limit_error(ErrorKind kind, std::string name, std::string message, std::string stack) const;
  Result discarded_result() const {
    Error e = make_error(ErrorKind::Internal, "this sandbox's instance was discarded after " +
                                                  discard_reason + "; call reset() for a fresh one");
    e.instance_discarded = true;
    return Result::failure(std::move(e));
  }
};

std::optional<Error> Sandbox::Impl::instantiate() {
  host = internal::HostState{};
  host.clock = options.clock;
  host.stray_limit = options.limits.console_bytes;
  host.random_seeded = options.random_seed.has_value();
  host.random_state = options.random_seed.value_or(0);
  store = wasmtime_store_new(engine->engine, &host, nullptr);
  context = wasmtime_store_context(store);
  wasmtime_store_limiter(store, static_cast<int64_t>(hard_memory_limit()), -1, 1, 1, 1);
  wasmtime_context_set_epoch_deadline(context, UINT64_MAX / 2);
  wasm_trap_t *trap = nullptr;
  wasmtime_error_t *error =
      wasmtime_instance_pre_instantiate(engine->instance_pre, context, &instance, &trap);
  if (error || trap) {
    std::string why = error ? internal::take_error(error) : internal::take_trap(trap);
    release();
    return make_error(ErrorKind::Internal,
                      "cannot create a sandbox (the engine allows " +
                          std::to_string(engine->options.max_sandboxes) + " at once): " + why);
  }
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
  fn.reserve = get(e.reserve).of.func;
  fn.configure = get(e.configure).of.func;
  fn.eval = get(e.eval).of.func;
  fn.call = get(e.call).of.func;
  fn.get_global = get(e.get_global).of.func;
  fn.set_global = get(e.set_global).of.func;
  fn.run_jobs = get(e.run_jobs).of.func;
  fn.memory_usage = get(e.memory_usage).of.func;

  int32_t address = 0;
  std::string call_error;
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
  discarded = false;
  return configure();
}

std::optional<Error> Sandbox::Impl::configure() {
  const Limits &l = options.limits;
  uint64_t seed = options.random_seed ? *options.random_seed : [] {
    std::random_device device;
    return (uint64_t{device()} << 32) ^ device();
  }();
  qb_config config{.random_seed = seed,
                   .memory_limit = static_cast<uint32_t>(l.memory_bytes),
                   .stack_limit = l.stack_bytes,
                   .console_limit = static_cast<uint32_t>(l.console_bytes),
                   .result_limit = static_cast<uint32_t>(l.result_bytes),
                   .max_depth = l.max_depth,
                   .reserved = 0};
  if (auto err = write_input({std::string_view(reinterpret_cast<const char *>(&config), sizeof config)}))
    return err;
  int32_t status = 0;
  wasm_trap_t *trap = nullptr;
  std::string call_error;
  if (!internal::call_i32(context, fn.configure, {}, &status, &trap, &call_error) ||
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

// Writes the parts back to back, each followed by a NUL except the last (a CBOR payload or a
// source text that the caller terminates itself).
std::optional<Error> Sandbox::Impl::write_input(std::initializer_list<std::string_view> parts) {
  uint64_t total = 0;
  for (auto p : parts) total += p.size() + 1;
  if (total > UINT32_MAX) return make_error(ErrorKind::InvalidInput, "request larger than 4 GiB");
  if (total > input_cap) {
    int32_t status = 0;
    wasm_trap_t *trap = nullptr;
    std::string call_error;
    if (!internal::call_i32(context, fn.reserve, {static_cast<uint32_t>(total)}, &status, &trap,
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

// The error for a kind, with a message that names the limit and its value.
Error Sandbox::Impl::limit_error(ErrorKind kind, std::string name, std::string message,
                                 std::string stack) const {
  Error e{.kind = kind, .name = std::move(name), .message = {}, .stack = std::move(stack)};
  switch (kind) {
    case ErrorKind::Timeout:
      e.message = "CPU time limit of " + std::to_string(op_cpu_time.count()) + " ms exceeded";
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
      e.message = "the result is larger than the result limit of " +
                  format_bytes(options.limits.result_bytes);
      break;
    default:
      e.message = std::move(message);
  }
  return e;
}

Error Sandbox::Impl::trap_error(wasm_trap_t *trap) {
  wasmtime_trap_code_t code;
  bool has_code = wasmtime_trap_code(trap, &code);
  std::string text = internal::take_trap(trap);
  Error e;
  if (has_code && code == WASMTIME_TRAP_CODE_INTERRUPT) {
    e = limit_error(ErrorKind::Timeout, "", "", "");
    e.message += " (hard deadline: the program was stopped outside the interpreter loop)";
    discard_reason = "a hard CPU deadline";
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
  discarded = true;
  release();
  return e;
}

Result Sandbox::Impl::invoke(const wasmtime_func_t &func, std::initializer_list<uint32_t> args,
                             std::chrono::milliseconds cpu_time) {
  op_cpu_time = cpu_time;
  host.interrupted = false;
  host.stray_output.clear();
  host.stray_bytes = 0;
  host.stray_dropped = 0;
  host.deadline = std::chrono::steady_clock::now() + cpu_time;
  auto hard = cpu_time + kHardDeadlineGrace;
  uint64_t ticks = static_cast<uint64_t>(hard / engine->options.epoch_tick) + 1;
  wasmtime_context_set_epoch_deadline(context, ticks);
  int32_t status = 0;
  wasm_trap_t *trap = nullptr;
  std::string call_error;
  bool ok = internal::call_i32(context, func, args, &status, &trap, &call_error);
  host.deadline = std::chrono::steady_clock::time_point::max();
  if (!ok) {
    if (trap) return Result::failure(trap_error(trap));
    discarded = true;
    discard_reason = "a host error (" + call_error + ")";
    release();
    Error e = make_error(ErrorKind::Internal, "calling the guest failed: " + call_error);
    e.instance_discarded = true;
    return Result::failure(std::move(e));
  }
  wasmtime_context_set_epoch_deadline(context, UINT64_MAX / 2);
  return read_reply(status);
}

Result Sandbox::Impl::read_reply(int32_t status) {
  qb_exchange ex;
  if (auto err = read_exchange(ex)) return Result::failure(*err);
  uint8_t *base = wasmtime_memory_data(context, &host.memory);
  size_t size = wasmtime_memory_data_size(context, &host.memory);
  auto view = [&](uint32_t ptr, uint32_t len) -> std::optional<std::span<const uint8_t>> {
    if (uint64_t{ptr} + len > size) return std::nullopt;
    return std::span<const uint8_t>(base + ptr, len);
  };
  auto output = view(ex.output_ptr, ex.output_len);
  auto console = view(ex.console_ptr, ex.console_len);
  if (!output || !console)
    return Result::failure(make_error(ErrorKind::Internal, "the guest replied with a buffer outside its memory"));

  std::vector<ConsoleLine> lines;
  for (size_t pos = 0; pos < console->size();) {
    if (console->size() - pos < QB_CONSOLE_RECORD_HEADER)
      return Result::failure(make_error(ErrorKind::Internal, "malformed console record from the guest"));
    uint8_t level = (*console)[pos];
    uint32_t len;
    std::memcpy(&len, console->data() + pos + 1, 4);
    pos += QB_CONSOLE_RECORD_HEADER;
    if (console->size() - pos < len || level > QB_CONSOLE_DEBUG)
      return Result::failure(make_error(ErrorKind::Internal, "malformed console record from the guest"));
    lines.push_back({static_cast<ConsoleLevel>(level),
                     std::string(reinterpret_cast<const char *>(console->data() + pos), len)});
    pos += len;
  }
  for (auto &line : host.stray_output) lines.push_back(std::move(line));
  uint64_t dropped = ex.console_dropped + host.stray_dropped;

  DecodeLimits limits{.max_depth = options.limits.max_depth + 2,
                      .max_bytes = options.limits.result_bytes + (1u << 20)};
  Decoded decoded = decode_cbor(*output, limits);
  if (!decoded.ok)
    return Result::failure(make_error(ErrorKind::Internal, "malformed reply from the guest: " + decoded.error));

  Result result = [&] {
    if (status == QB_STATUS_DONE) return Result::done(std::move(decoded.value));
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
    Error e = limit_error(kind, a[1].as_string(), a[2].as_string(), a[3].as_string());
    if (a.size() > 4) e.thrown = a[4];
    return Result::failure(std::move(e));
  }();
  result.console = std::move(lines);
  result.console_dropped_bytes = dropped;
  return result;
}

// ---- Public API ---------------------------------------------------------------------------------

Sandbox::Sandbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Sandbox::Sandbox(Sandbox &&) noexcept = default;
Sandbox &Sandbox::operator=(Sandbox &&) noexcept = default;
Sandbox::~Sandbox() = default;

Expected<Sandbox> Sandbox::create(const Engine &engine, const SandboxOptions &options) {
  if (auto err = check_options(options, engine.options())) return *err;
  auto impl = std::make_unique<Impl>();
  impl->engine = engine.impl();
  impl->options = options;
  if (auto err = impl->instantiate()) return *err;
  return Sandbox(std::move(impl));
}

const SandboxOptions &Sandbox::options() const { return impl_->options; }
bool Sandbox::discarded() const { return impl_->discarded; }

Result Sandbox::reset() {
  impl_->release();
  if (auto err = impl_->instantiate()) {
    impl_->discarded = true;
    impl_->discard_reason = "a failed reset";
    return Result::failure(*err);
  }
  return Result::done(Value());
}

Result Sandbox::eval(std::string_view source, const EvalOptions &options) {
  Impl &s = *impl_;
  if (s.discarded) return s.discarded_result();
  if (source.size() > s.options.limits.source_bytes)
    return Result::failure(make_error(
        ErrorKind::InvalidInput, "the source is " + format_bytes(source.size()) +
                                     ", more than the source limit of " +
                                     format_bytes(s.options.limits.source_bytes)));
  if (size_t bad = invalid_utf8_offset(source); bad != std::string_view::npos)
    return Result::failure(make_error(ErrorKind::InvalidInput,
                                      "the source is not valid UTF-8 (first bad byte at offset " +
                                          std::to_string(bad) + ")"));
  if (invalid_utf8_offset(options.filename) != std::string_view::npos ||
      options.filename.find('\0') != std::string::npos)
    return Result::failure(make_error(ErrorKind::InvalidInput, "the file name is not valid UTF-8 text"));
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
  if (auto err = s.write_input({options.filename, source})) return Result::failure(*err);
  return s.invoke(s.fn.eval,
                  {static_cast<uint32_t>(options.filename.size()), static_cast<uint32_t>(source.size()), flags},
                  options.cpu_time.value_or(s.options.limits.cpu_time));
}

namespace {
std::optional<Error> check_name(std::string_view name, const char *what) {
  if (name.empty() || name.find('\0') != std::string_view::npos ||
      invalid_utf8_offset(name) != std::string_view::npos)
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
}  // namespace

Result Sandbox::call(std::string_view name, std::span<const Value> args,
                     std::optional<std::chrono::milliseconds> cpu_time) {
  Impl &s = *impl_;
  if (s.discarded) return s.discarded_result();
  if (auto err = check_name(name, "a function name")) return Result::failure(*err);
  std::vector<uint8_t> payload;
  if (auto err = encode_payload(Value(Value::Array(args.begin(), args.end())), payload))
    return Result::failure(*err);
  std::string_view bytes(reinterpret_cast<const char *>(payload.data()), payload.size());
  if (auto err = s.write_input({name, bytes})) return Result::failure(*err);
  return s.invoke(s.fn.call,
                  {static_cast<uint32_t>(name.size()), static_cast<uint32_t>(payload.size()),
                   QB_EVAL_AWAIT_RESULT},
                  cpu_time.value_or(s.options.limits.cpu_time));
}

Result Sandbox::get_global(std::string_view name) {
  Impl &s = *impl_;
  if (s.discarded) return s.discarded_result();
  if (auto err = check_name(name, "a global's name")) return Result::failure(*err);
  if (auto err = s.write_input({name})) return Result::failure(*err);
  return s.invoke(s.fn.get_global, {static_cast<uint32_t>(name.size())}, s.options.limits.cpu_time);
}

Result Sandbox::set_global(std::string_view name, const Value &value) {
  Impl &s = *impl_;
  if (s.discarded) return s.discarded_result();
  if (auto err = check_name(name, "a global's name")) return Result::failure(*err);
  std::vector<uint8_t> payload;
  if (auto err = encode_payload(value, payload)) return Result::failure(*err);
  std::string_view bytes(reinterpret_cast<const char *>(payload.data()), payload.size());
  if (auto err = s.write_input({name, bytes})) return Result::failure(*err);
  return s.invoke(s.fn.set_global,
                  {static_cast<uint32_t>(name.size()), static_cast<uint32_t>(payload.size())},
                  s.options.limits.cpu_time);
}

Result Sandbox::run_jobs() {
  Impl &s = *impl_;
  if (s.discarded) return s.discarded_result();
  return s.invoke(s.fn.run_jobs, {}, s.options.limits.cpu_time);
}

Expected<MemoryUsage> Sandbox::memory_usage() {
  Impl &s = *impl_;
  if (s.discarded) return s.discarded_result().error();
  Result r = s.invoke(s.fn.memory_usage, {}, s.options.limits.cpu_time);
  if (!r.ok()) return r.error();
  auto field = [&](const char *key) -> uint64_t {
    const Value *v = r.value().find(key);
    return v && v->is_number() ? static_cast<uint64_t>(v->as_number()) : 0;
  };
  return MemoryUsage{.js_malloc_bytes = field(QB_MEM_MALLOC_SIZE),
                     .js_malloc_limit = field(QB_MEM_MALLOC_LIMIT),
                     .js_object_count = field(QB_MEM_OBJ_COUNT),
                     .linear_memory_bytes = field(QB_MEM_LINEAR_MEMORY)};
}

}  // namespace quickbox
