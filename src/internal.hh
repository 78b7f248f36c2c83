// Internal declarations of the host library (not installed; shared with tools/bake.cc and tests).
#pragma once

#include <wasmtime.h>

#include "cpu_clock.hh"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "quickbox/engine.hh"
#include "quickbox/result.hh"
#include "quickbox/sandbox.hh"
#include "quickbox_abi.h"

namespace quickbox::internal {

/// The guest module an Engine runs: its base image as wasm, the same precompiled for this host
/// (may be empty or stale; then the wasm is compiled), and its build id.
struct GuestImage {
  std::span<const uint8_t> precompiled;
  std::span<const uint8_t> wasm;
  std::string_view build_id;
};

/// The guest embedded in the `quickbox` library (src/embedded.cc, which also defines Engine::create).
GuestImage embedded_guest();

/// Creates an engine for the given guest image.
Expected<Engine> create_engine(const EngineOptions &options, const GuestImage &guest);
/// EngineOptions::prefaulted_sandboxes for an engine just made (Engine::create).
void prefault_slots(const Engine &engine);

// ---- wasmtime plumbing shared by the engine and the bake tool (src/runtime.cc) ----------------

/// Native stack wasm code may use per entry into the guest (wasmtime's max_wasm_stack). wasmtime
/// refuses (by panicking) anything above its 2 MiB async stack size, even without async.
constexpr uintptr_t kMaxWasmStack = uintptr_t{2} << 20;
/// Native stack a thread must have left to call into the guest: the wasm stack, and room below
/// it for the host functions the guest calls (capability handlers among them).
constexpr uintptr_t kThreadStackNeeded = kMaxWasmStack + (uintptr_t{1} << 20);
/// Native stack left for the guest's wasm code on this thread (UINT32_MAX outside the guest).
/// The guest's stack check asks for it through the native_stack_left import.
uint32_t guest_native_stack_left();

/// wasmtime's configuration for quickbox. Precompiled guests are only valid for engines built
/// from the same configuration, so the bake tool and the runtime both use this one function.
wasm_config_t *make_wasmtime_config(const EngineOptions &options);

/// Message of a wasmtime error; deletes it.
std::string take_error(wasmtime_error_t *error);
/// Message of a trap; deletes it.
std::string take_trap(wasm_trap_t *trap);

/// The host's answer to a host_call import (see qb_host_reply).
struct HostReply {
  uint32_t status = QB_HOST_ERROR;
  std::vector<uint8_t> bytes;  ///< CBOR value or Error, taken by host_take
  uint32_t call_id = 0;
  /// CPU time the capability's own handler used: the one part of a host call not charged.
  std::chrono::nanoseconds handler_time{0};
  /// The thread's CPU clock as the handler returned, if it ran: close enough to re-arm the
  /// deadlines with, and one reading (a system call) fewer per call.
  std::optional<ThreadCpuClock::time_point> cpu_after_handler;
};

/// Whoever handles capability calls for a store (the sandbox).
struct HostCallSink {
  virtual HostReply on_host_call(uint32_t capability_id, std::span<const uint8_t> args) = 0;
  /// One console line as the guest prints it (QB_IMPORT_CONSOLE_LINE); returns the CPU time the
  /// listener used, which the CPU meter leaves out as it does a handler's.
  virtual std::chrono::nanoseconds on_console_line(uint32_t level, std::span<const uint8_t> text) = 0;
  virtual ~HostCallSink() = default;
};

/// An encoded JS Error carrying message, for HostReply bytes and qb_settle; its text bounded as
/// internal::bounded_error says (src/error_text.cc).
std::vector<uint8_t> encode_js_error(const std::string &name, const std::string &message);

/// What the host functions need to know about the sandbox that calls them (the store's data).
struct HostState {
  /// The running operation must stop once its thread's CPU clock passes this (soft CPU budget).
  /// Host calls move it back by their handlers' CPU time, which the budget does not count.
  ThreadCpuClock::time_point deadline = ThreadCpuClock::time_point::max();
  /// The evaluation's wall-clock deadline (Limits::wall_time), which nothing moves.
  std::chrono::steady_clock::time_point wall_deadline = std::chrono::steady_clock::time_point::max();
  /// Set once either deadline passed: the guest's interrupt check then stops the program, and
  /// further host calls are refused without running their handlers.
  bool interrupted = false;
  /// Set when the epoch backstop stopped the guest outside its interrupt checks (the operation
  /// then fails with an error from the epoch callback, and the instance is discarded).
  bool hard_stopped = false;
  /// The thread's CPU time when the backstop first found a soft deadline due (or when the host
  /// handed control back with one already due); max() while none is.
  ThreadCpuClock::time_point backstop_mark = ThreadCpuClock::time_point::max();
  /// The interruption was the wall clock's (for the Timeout message).
  bool wall_expired = false;
  /// Sandbox::interrupt()'s request, which another thread sets; and whether it stopped the
  /// operation (for the Timeout message).
  const std::atomic<bool> *interrupt_request = nullptr;
  bool interrupted_by_caller = false;
  Clock clock;
  uint64_t clock_reads = 0;
  /// Where the guest's monotonic clock (performance.now(), timers) reads 0 in Real mode; a
  /// restore moves it so that the clock goes on from the snapshot's reading.
  std::chrono::steady_clock::time_point monotonic_origin = std::chrono::steady_clock::now();
  /// Fixed and Deterministic mode: how far the driving loop has moved the virtual clock forward
  /// to due timers (added to both clocks the guest reads).
  uint64_t virtual_ns = 0;
  uint64_t random_state = 0;  ///< random_get's deterministic stream, when seeded
  bool random_seeded = false;
  /// Output the guest runtime wrote to stdout/stderr outside console.* (rare), capped.
  std::vector<ConsoleLine> stray_output;
  uint64_t stray_bytes = 0;
  uint64_t stray_limit = 1 << 20;
  uint64_t stray_dropped = 0;
  wasmtime_memory_t memory{};
  bool has_memory = false;
  /// Capability calls go here (null: the guest has no capabilities, e.g. while baking).
  HostCallSink *sink = nullptr;
  /// The last host_call's reply bytes, until host_take copies them into the guest.
  std::vector<uint8_t> reply_bytes;
  /// An operation nested inside a host function ended the instance (a trap, the hard deadline):
  /// the host_call it ran under traps as it returns, so the outer guest code stops too, and the
  /// outermost operation discards the instance.
  bool abort_guest = false;
  /// The running evaluation's EvalOptions::on_running_long until it is called (running_long), or
  /// null. While set, the epoch deadline is armed one tick ahead, so that its callback comes.
  const std::function<void()> *on_running_long = nullptr;
  /// When the guest call in progress stops being short (running_long_if_due).
  std::chrono::steady_clock::time_point running_long_at{};
  /// For re-arming the epoch deadline after time spent in the host.
  std::chrono::milliseconds epoch_tick{2};
  std::chrono::milliseconds hard_deadline_grace{100};
};

/// Calls the running evaluation's on_running_long hook, if it has one not yet called: the
/// operation is about to wait.
void running_long(HostState &state);
/// How long a guest call runs before it counts as running long.
inline constexpr std::chrono::microseconds kRunningLongAfter{100};
/// running_long() once the guest call in progress has run for kRunningLongAfter: called where
/// the guest is seen running (its interrupt checks, the epoch callback).
void running_long_if_due(HostState &state);

/// Arms the epoch deadline (the hard backstop) for when the earlier soft deadline is due, or, if
/// one already is, for hard_deadline_grace from now. The CPU deadline is converted at the rate of
/// wall time, the soonest it can pass; on_epoch_deadline then reads the clocks and decides.
/// cpu_now: the thread's CPU time if the caller has just read it (each reading is a system call,
/// about 0.4 us, and a sync host call took eight).
void arm_epoch_deadline(wasmtime_context_t *context, HostState &state,
                        std::optional<ThreadCpuClock::time_point> cpu_now = std::nullopt);

/// The store's epoch deadline callback (data: the HostState): stops the guest once it has used
/// hard_deadline_grace of CPU time while a soft deadline was due, and otherwise re-arms.
wasmtime_error_t *on_epoch_deadline(wasmtime_context_t *context, void *data, uint64_t *delta,
                                    wasmtime_update_deadline_kind_t *kind);

/// What the guest's monotonic clock (WASI clock 1) reads now, without counting as a read (the
/// Deterministic clock advances on every read the guest makes).
uint64_t guest_monotonic_ns(const HostState &state);
/// Moves the guest's monotonic clock so that it reads `ns` now (a restore continues the
/// snapshot's clock, so timers keep what was left of their delays).
void set_guest_monotonic_ns(HostState &state, uint64_t ns);

/// Sets state.interrupted (and wall_expired) once a deadline has passed, or
/// (interrupted_by_caller) once Sandbox::interrupt() asked; returns interrupted. cpu_now as for
/// arm_epoch_deadline.
bool check_deadlines(HostState &state, std::optional<ThreadCpuClock::time_point> cpu_now = std::nullopt);

/// Defines every import the guest may use (quickbox.* and the wasi_snapshot_preview1 subset) on
/// a linker. Host functions find their HostState through the store's data pointer.
void define_host_functions(wasmtime_linker_t *linker);

/// Exports of the guest, resolved by index once per engine (export_nth is O(1) per instance).
/// Export indexes the guest may use (Sandbox::Impl binds exported functions lazily in a bitmask).
constexpr size_t kMaxGuestExports = 64;

struct GuestExports {
  size_t memory = SIZE_MAX;
  size_t stack_pointer = SIZE_MAX;
  size_t exchange = SIZE_MAX, reserve = SIZE_MAX, configure = SIZE_MAX, eval = SIZE_MAX,
         call = SIZE_MAX, get_global = SIZE_MAX, set_global = SIZE_MAX, format = SIZE_MAX, run_jobs = SIZE_MAX,
         memory_usage = SIZE_MAX, bootstrap = SIZE_MAX, initialize = SIZE_MAX,
         define_capability = SIZE_MAX, settle = SIZE_MAX, resume = SIZE_MAX, abandon = SIZE_MAX,
         handle = SIZE_MAX, nest = SIZE_MAX;
};
/// Finds the export indices; fails naming the first missing export.
Expected<GuestExports> find_exports(const wasmtime_module_t *module);

/// Calls a guest function with i32 arguments returning one i32 (or nothing).
/// On a trap returns false and sets trap_out (owned by the caller).
bool call_i32(wasmtime_context_t *context, const wasmtime_func_t &func,
              std::initializer_list<uint32_t> args, int32_t *result, wasm_trap_t **trap_out,
              std::string *error_out);

// ---- Base image (src/wasm_image.cc) -----------------------------------------------------------

/// The state of an initialised instance: its linear memory and the values of its mutable
/// globals (by index in the module's global index space).
struct InstanceState {
  std::vector<uint8_t> memory;
  std::vector<std::pair<uint32_t, uint64_t>> globals;
};

/// Rewrites a module so that it starts in `state`: the memory section's minimum becomes the
/// snapshot's size, mutable globals' initialisers become their snapshot values, and the data
/// section becomes the snapshot's non-zero ranges (the Wizer technique). Throws
/// std::runtime_error naming the construct it cannot handle.
std::vector<uint8_t> bake_module(std::span<const uint8_t> wasm, const InstanceState &state);

/// The linear memory a fresh instance of the module starts with: its memory section's minimum,
/// filled by its active data segments. Throws std::runtime_error on constructs it cannot handle.
std::vector<uint8_t> initial_memory(std::span<const uint8_t> wasm);

/// The mutable globals of a module and the export names under which they can be read.
/// Throws std::runtime_error if a mutable global is not exported.
std::vector<std::pair<uint32_t, std::string>> exported_mutable_globals(std::span<const uint8_t> wasm);

/// 64 bits from the kernel's random source (getrandom(2)). std::random_device costs ~50 us per
/// construction on virtual machines where it executes CPUID; this costs well under a microsecond.
uint64_t random_seed();

/// Fills bytes from the kernel's random source.
void fill_random(std::span<uint8_t> bytes);

/// SHA-256 of bytes.
std::array<uint8_t, 32> sha256(std::span<const uint8_t> bytes);

/// SHA-256 of bytes as lowercase hex.
std::string sha256_hex(std::span<const uint8_t> bytes);

/// Bytes as lowercase hex.
std::string to_hex(std::span<const uint8_t> bytes);

/// "64 MiB", "640 KiB" or "1234 bytes".
std::string format_bytes(uint64_t n);

// ---- Option ranges shared by the engine and its sandboxes ------------------------------------------

/// The longest duration any limit accepts (CPU time, wall time, a call's timeout): far beyond any
/// real use, and far from where deadlines computed from it could overflow the clock.
inline constexpr std::chrono::milliseconds kMaxDuration{30ll * 24 * 3600 * 1000};
/// The latest Clock::start_ms (2286-11-20): the guest reads the time as unsigned nanoseconds.
inline constexpr int64_t kMaxClockStartMs = 10'000'000'000'000;
inline constexpr int64_t kMaxClockStepUs = 3'600'000'000;
/// The largest Limits::stack_bytes: the guest's stack less a safety margin.
uint32_t max_stack_bytes();
/// InvalidInput unless value lies within 1 ms and kMaxDuration; the error is about `setting`.
std::optional<Error> check_duration(std::chrono::milliseconds value, Setting setting);

}  // namespace quickbox::internal
