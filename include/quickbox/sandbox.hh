/// \file sandbox.hh
/// \brief quickbox::Sandbox: one wasm instance holding one JavaScript realm.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "quickbox/capability.hh"
#include "quickbox/engine.hh"
#include "quickbox/network.hh"
#include "quickbox/result.hh"
#include "quickbox/snapshot.hh"
#include "quickbox/typescript.hh"
#include "quickbox/value.hh"

namespace quickbox {

/// Hard caps for one sandbox. Every limit, when hit, ends the operation with an Error whose
/// message names the limit and its value; the process and other sandboxes are unaffected.
struct Limits {
  /// QuickJS's allocation limit. Exceeding it throws a catchable InternalError in JS; uncaught,
  /// the operation ends as OutOfMemory. Behind it, wasmtime caps the linear memory at this plus
  /// a fixed margin for the stack and static data, which holds even for allocations QuickJS does
  /// not count.
  uint64_t memory_bytes = 64ull << 20;
  /// CPU time per evaluation (eval()/call()/run_jobs() and every resume() of it), 1 ms to 30
  /// days. One meter counts
  /// every instruction the guest runs for the evaluation, including code run while host calls
  /// settle (promise reactions, thenables, getters), and the host's own work per call (decoding,
  /// hashing, encoding, audit); only host handlers' own time is left to wall_time. It is the
  /// evaluating thread's CPU time, so a loaded machine does not shorten it. QuickJS's
  /// interrupt handler stops the program once it is spent (Timeout; the sandbox stays usable); an
  /// epoch deadline shortly after it is the hard backstop for code that never reaches an interrupt
  /// check (the instance is then discarded).
  std::chrono::milliseconds cpu_time{5000};
  /// JavaScript stack: deeper recursion throws a catchable RangeError (StackOverflow if uncaught).
  uint32_t stack_bytes = 640u << 10;
  /// Console bytes kept per evaluation (over all its operations); the rest is counted in
  /// Result::console_dropped_bytes. A line counts its text and one byte for its line break, so
  /// empty lines are bounded too.
  uint64_t console_bytes = 1ull << 20;
  /// Largest encoded result (OutputLimit beyond it).
  uint64_t result_bytes = 16ull << 20;
  /// Largest source text accepted by eval (InvalidInput beyond it).
  uint64_t source_bytes = 16ull << 20;
  /// Deepest nesting of values crossing the boundary.
  uint32_t max_depth = 256;
  /// Largest BigInt crossing the boundary, in bytes of magnitude (64 KiB: 524,288 bits, about
  /// 157,800 decimal digits; QuickJS itself holds up to 128 KiB). A result holding a larger one
  /// ends as OutputLimit, a host call with one in its arguments throws a catchable RangeError,
  /// and a value from the host holding one is refused the same way. 8 bytes to 1 MiB.
  uint32_t bigint_bytes = 64u << 10;
  /// Wall-clock deadline for one eval()/call()/run_jobs()/resume(), counting the time spent in
  /// host handlers, sync and async (cpu_time does not), and waiting on timers. It is checked while
  /// the guest runs, after every host call and while waiting on async calls; once it has run out
  /// the evaluation ends in Timeout. A running handler cannot be preempted: it learns the deadline
  /// from CallInfo::deadline and should bound its own work. When only timers are left and the
  /// next one is due after the deadline, the evaluation ends in Timeout at once instead of
  /// sleeping. Unset: no deadline, except that waiting on timers is still bounded: the waits on
  /// timers of one eval()/resume() may then add up to its CPU time limit (sleeping uses no CPU, so
  /// without this a timer could hold the thread for days). A suspended evaluation waiting on its caller is
  /// not running, so that wait never counts.
  std::optional<std::chrono::milliseconds> wall_time;
  /// Host calls allowed per evaluation, over all capabilities. Unset: no cap beyond each
  /// capability's own.
  std::optional<uint32_t> max_host_calls;
  /// Audit entries kept per sandbox; beyond it the oldest finished entries are dropped (and
  /// counted by Sandbox::audit_entries_dropped), so a long-lived sandbox does not grow forever.
  uint32_t max_audit_entries = 10000;
  /// Bytes the host may hold for this sandbox outside its wasm memory: the encoded and decoded
  /// arguments of pending and queued async calls, the arguments and result of a sync call while
  /// it is handled, console output kept for the evaluation, and audit-log entries. A call that
  /// does not fit fails in JS with an Error naming the "host memory budget"; console output
  /// beyond it is dropped and counted; the oldest finished audit entries are dropped to keep the
  /// log within a quarter of it. Unset: memory_bytes.
  std::optional<uint64_t> host_memory_bytes;
  /// ES modules the module loader may load over the sandbox's life (each module is loaded once
  /// and kept, as import semantics require); the import that would load one more fails in JS with
  /// a RangeError naming the "module limit". 1 to 1,000,000.
  uint32_t max_modules = 1000;
  /// Bytes of module source (UTF-8) the module loader may load over the sandbox's life; the import
  /// whose source does not fit fails in JS with a RangeError naming the "module source limit".
  /// 1 byte to 1 GiB.
  uint64_t module_source_bytes = 16ull << 20;
  /// Async host calls one evaluation may have pending at once (queued, running, or waiting for
  /// the caller); further calls fail in JS with an Error naming the cap on "pending calls".
  uint32_t max_pending_calls = 1024;
  /// Timers (setTimeout, setInterval) that may be pending at once; creating one more throws a
  /// catchable RangeError that says so. 0: the program cannot create timers. At most 1,000,000.
  uint32_t max_timers = 10000;
};

/// Where Date.now(), new Date(), performance.now() and timers get their time.
///
/// In Fixed and Deterministic mode, time is virtual: when an evaluation has nothing to do but
/// wait for a timer, its clock jumps to the timer's due time at once instead of sleeping (both
/// Date.now() and performance.now() move by the jump), so programs that use timers run instantly
/// and the same way every time. The jump still counts against the evaluation's time limit for
/// timers (Limits::wall_time). Virtual time does not move while host calls run: the driving loop
/// waits for them first.
struct Clock {
  enum class Mode {
    Real,           ///< the host's wall clock and monotonic clock
    Fixed,          ///< start_ms, moved only by jumps to timers
    Deterministic,  ///< start_ms, advancing by step_us on every read (and by jumps to timers)
  };
  Mode mode = Mode::Real;
  /// Unix time in milliseconds for Fixed and Deterministic: 0 (1970) to 10^13 (2286-11-20).
  int64_t start_ms = 0;
  int64_t step_us = 1000; ///< advance per read for Deterministic, 0 to one hour
};

/// Where `import` finds ES modules (docs/modules.md). Both functions run synchronously on the
/// thread running the operation, while the program waits for the import. Module names are
/// UTF-8 without NUL characters, at most 4096 bytes; the loader is asked about each name once per
/// sandbox (the loaded module is kept, also in snapshots).
///
/// Throwing quickbox::CapabilityError makes the import fail in JS with that error's name and
/// message; any other exception makes it fail with "the module loader failed on '<name>'" (its
/// text stays on the host).
struct ModuleLoader {
  /// The name of the module `specifier` means when imported by the module named `base` (for the
  /// code passed to eval, its EvalOptions::filename). nullopt: the specifier cannot be resolved.
  /// Unset: the specifier itself is the name.
  std::function<std::optional<std::string>(std::string_view base, std::string_view specifier)> normalize;
  /// The source text of the module `name` (as normalize returned it). nullopt: there is no such
  /// module. Unset (or no ModuleLoader at all): every import fails.
  std::function<std::optional<std::string>(std::string_view name)> load;
};

/// How a sandbox is set up.
struct SandboxOptions {
  Limits limits;
  /// Math.random seed. Unset: a fresh random seed per sandbox, so no two sandboxes share a
  /// sequence. Set: a reproducible sequence.
  std::optional<uint64_t> random_seed;
  Clock clock;
  /// Rule of two: unless this is set, registering capabilities that together carry all three
  /// labels (sensitive_data, untrusted_input, external_effect) is refused.
  bool allow_all_three_labels = false;
  /// Grants the program fetch() under this policy (include/quickbox/network.hh): the sandbox
  /// registers the capability "fetch" itself, on create, restore and reset. Unset: no network,
  /// and `typeof fetch === "undefined"`.
  std::optional<NetworkPolicy> network;
  /// Resolves and loads `import`ed ES modules, static and dynamic (docs/modules.md). Unset: every
  /// import fails with an Error saying that no module loader is set.
  ModuleLoader modules;
  /// Receives each console line (console.log, info, warn, error, debug) as the program prints
  /// it, on the thread running the operation, while the program waits for it to return: output
  /// can be shown or logged while a long evaluation runs. Lines it receives are not also in
  /// Result::console (which then holds only the rare output of the guest runtime itself). They
  /// count against Limits::console_bytes per evaluation as collected lines do: beyond it they are
  /// dropped and counted in Result::console_dropped_bytes; so is a line the host memory budget
  /// cannot hold while the listener runs. Its CPU time is not charged to the program (like a host
  /// function's). If it throws, the program stops at its next interrupt check and the operation
  /// ends with ErrorKind::Internal, "the console listener failed: <what()>" (the sandbox stays
  /// usable). It may call back into the sandbox as a host function may (the threading contract
  /// below). Unset (the default): lines are collected and come with the Result, at no cost per
  /// line.
  std::function<void(const ConsoleLine &)> on_console;
};

/// How eval treats its source.
struct EvalOptions {
  enum class Kind {
    Auto,    ///< Async when the source mentions `await`, else Script
    Script,  ///< classic script: the completion value is the result
    Async,   ///< script with top-level await: the completion value, awaited
    Module,  ///< ES module: runs it, the result is undefined (see module_namespace)
  };
  Kind kind = Kind::Auto;
  /// Name used in stack traces.
  std::string filename = "<eval>";
  /// When the result is a promise, run jobs until it settles and return its outcome.
  bool await_result = true;
  /// Force strict mode.
  bool strict = false;
  /// With Kind::Module: the result is the module's namespace, its exports as an object (a
  /// function among them makes the result fail to cross, like any function), once it has run.
  bool module_namespace = false;
  /// Overrides Limits::cpu_time for this operation (1 ms to 30 days).
  std::optional<std::chrono::milliseconds> cpu_time;
  /// For printing results (a CLI, a REPL): a Done result also carries the final value's text in
  /// Result::display, formatted inside the sandbox where the real JS value is seen (a Date, a
  /// class instance, a Map print as Node prints them). A value that cannot leave the sandbox as
  /// data (a function, a Map, a cycle...) is Done with its text and an undefined value() instead
  /// of failing with a TypeError. A thrown value that is not an Error has its util.inspect text
  /// as Error::message (`'x'` for `throw 'x'`, as Node's REPL reports it).
  enum class Display {
    None,      ///< no text; a value that cannot cross is an error
    NodePrint, ///< the text console.log / `node -p` prints (a string as it is)
    Inspect,   ///< the text util.inspect / Node's REPL prints (a string quoted)
  };
  Display display = Display::None;
  /// Compiles the source as a script (Auto, Script or Async) without running it: Done with
  /// undefined when it parses, else the SyntaxError as a JSException whose stack ends in
  /// "at FILENAME:LINE:COLUMN", where the parser stopped. Nothing is declared or run. For tools
  /// such as a REPL, which reads another line while the parser stopped at the end of the entry.
  /// Kind::Module is refused (InvalidInput).
  bool parse_only = false;
  /// The result stays in the sandbox: Done's value is a Handle to it (see "Handles" in Sandbox),
  /// whatever it is (a function, a promise when await_result is false...), instead of data.
  bool as_handle = false;
  /// The language of the source. TypeScript and TSX have their types stripped first
  /// (transform_source in quickbox/typescript.hh), keeping every line and column, so stack traces
  /// and SyntaxErrors point into the TypeScript; a TypeScript SyntaxError ends the eval as a
  /// JSException named SyntaxError before anything runs. TSX refuses JSX itself.
  SourceLanguage language = SourceLanguage::JavaScript;
  /// Called at most once, on the thread running the evaluation, once the evaluation is not short:
  /// when a run of its guest code has lasted 0.1 ms (seen at the program's next interrupt check,
  /// every ten thousand or so steps of JavaScript, or within about one EngineOptions::epoch_tick
  /// in the engine's own code), or when it is about to wait (for a timer, or for a call an async
  /// handler runs). Not called for an evaluation that ends sooner, nor while an operation nested
  /// inside one of its host functions runs. For a caller holding a lock that others need while a
  /// long evaluation runs, and that costs more to let go and take back than a short evaluation
  /// takes: Python's binding keeps the GIL through a plain `ctx.eval` until this is called. It
  /// must not use the sandbox.
  std::function<void()> on_running_long;
};

/// What Sandbox::handle_info() tells of a pinned value.
struct HandleInfo {
  /// typeof's answer ("undefined", "boolean", "number", "bigint", "string", "symbol",
  /// "function", "object"), except "null" for null and "array" for arrays.
  std::string type;
  bool is_promise = false;
};

/// Memory figures of one sandbox.
struct MemoryUsage {
  uint64_t js_malloc_bytes = 0;    ///< bytes QuickJS has allocated
  uint64_t js_malloc_limit = 0;    ///< QuickJS's allocation limit
  uint64_t js_object_count = 0;    ///< live JS objects
  uint64_t linear_memory_bytes = 0;///< size of the wasm linear memory
  /// Every counter QuickJS keeps (JSMemoryUsage: malloc_count, atom_count, obj_size,
  /// shape_count...), by its field name, for diagnostics.
  std::vector<std::pair<std::string, uint64_t>> quickjs;
};

/// One JavaScript realm in its own wasm instance, started from the engine's base image.
///
/// A Sandbox is movable, not copyable. Nothing inside can reach the host: there are no files, no
/// network, no environment, and only the capabilities the host registers.
///
/// Threading contract. Different sandboxes may be used from different threads at once. One
/// sandbox is used by one thread at a time, and the library enforces it: every public operation
/// first claims the sandbox, so misuse is refused, waits, or is deferred, and never corrupts the
/// operation that is running.
/// - From another thread while an operation runs: operations that return a Result, Status or
///   Expected fail at once with InvalidInput ("the sandbox is busy: another thread is running
///   eval(); ..."), touching nothing. The reads pending_calls(), audit_log() and
///   audit_entries_dropped(), which cannot report a refusal, wait until the running operation
///   returns; so does the destructor (and move-assigning over a busy sandbox). Do not do either
///   from a thread the running operation waits on (one that must settle a Completion for it):
///   that deadlocks until the call's timeout or the wall clock ends it, or forever without one.
///   suspended(), discarded() and options() answer at once, and interrupt() stops the running
///   operation.
/// - From inside a host function of this sandbox (a handler calling back in, on the thread
///   running the operation): eval, call, get_global, set_global, format, memory_usage and the
///   handle operations run *nested*. The running operation is set aside for their length and
///   carries on intact afterwards (the handler's arguments were copied out before it ran). A
///   nested operation runs within what the outer evaluation has left of its CPU time and wall
///   clock, and its guest CPU time is charged to the outer one (never to the handler), so
///   nesting buys no time; its host calls count against the outer evaluation's budgets, and it
///   shares the sandbox's memory and stack limits. It cannot wait: an async or approval-needing
///   capability it calls fails in JS, and where it would suspend (a promise waiting on a timer)
///   it ends in ErrorKind::Deadlock; timers it starts run in the outer evaluation. Nesting goes
///   at most 8 deep; a ninth level is refused with InvalidInput. If a nested operation ends the
///   instance (a hard deadline), the outer one ends with Internal and instance_discarded as soon
///   as its guest code has unwound. Refused there with InvalidInput ("cannot call reset() from
///   inside a host function while the sandbox runs eval(); ..."): run_jobs,
///   register_capability, resume, abandon, snapshot, reset. Allowed there: the reads; approve();
///   and resolve(), reject() and deny(), whose answers are kept and reach the program when the
///   running operation returns to its driving loop (or on the next resume()). Destroying the
///   Sandbox there is deferred: the running operation finishes (its host functions may still be
///   called) and the sandbox is destroyed as it returns.
/// A Completion may be settled from any thread at any time; it never claims the sandbox.
class Sandbox {
 public:
  /// Creates a sandbox from the engine's base image (microseconds). Fails with InvalidInput for
  /// out-of-range options, or Internal when the engine's sandbox pool is exhausted.
  static Expected<Sandbox> create(const Engine &engine, const SandboxOptions &options = {});

  Sandbox(Sandbox &&) noexcept;
  Sandbox &operator=(Sandbox &&) noexcept;
  ~Sandbox();

  /// Evaluates source; top-level declarations persist for later operations in this sandbox.
  /// Ends Done, Error, or Suspended when the program waits on calls only the caller can settle.
  /// From inside one of this sandbox's host functions it runs nested (see the threading contract)
  /// and never suspends.
  Result eval(std::string_view source, const EvalOptions &options = {});
  /// Calls the global function `name` with args; a returned promise is awaited. The name
  /// resolves as a bare name in the program's code does: a top-level let, const or class binding,
  /// else a property of globalThis. A dotted name ("tools.search", "Math.max") is a path from
  /// there, and the function is called on its holder (`this`), as host functions registered
  /// under dotted names are reached.
  Result call(std::string_view name, std::span<const Value> args = {},
              std::optional<std::chrono::milliseconds> cpu_time = std::nullopt);
  /// Reads `name` as a bare name in the program's code reads it: its top-level let, const or class
  /// binding, else globalThis[name]; undefined when neither has it. A binding the program never
  /// reached (it threw first) is the program's ReferenceError.
  Result get_global(std::string_view name);
  /// Sets globalThis[name] = value.
  Result set_global(std::string_view name, const Value &value);
  /// Runs pending promise jobs until none are left.
  Result run_jobs();
  /// Memory figures (QuickJS's own accounting and the linear memory size). collect_garbage runs
  /// QuickJS's cycle collector first (what is unreachable but held in a cycle is freed).
  Expected<MemoryUsage> memory_usage(bool collect_garbage = false);
  /// The text people are shown for a value: as console.log prints it (style NodePrint: a string
  /// as it is) or as util.inspect does (style Inspect: `[ 'a', 1 ]`). The sandbox's own formatter
  /// does it, the one console.* and EvalOptions::display use; use it to show data such as a
  /// pending call's arguments. Allowed while an evaluation is suspended; runs under the
  /// sandbox's CPU time limit. Fails with InvalidInput for a value that cannot enter the sandbox
  /// (not valid UTF-8, deeper than Limits::max_depth) or for style None.
  Expected<std::string> format(const Value &value, EvalOptions::Display style = EvalOptions::Display::Inspect);

  // ---- Capabilities and suspended evaluations ----

  /// Offers a host function to the program as globalThis[name] (or a dotted path). Fails with
  /// InvalidInput for a bad name or policy, a duplicate, a rule-of-two violation, or a name the
  /// function could not be reached by: a non-configurable global (a top-level `var`), a frozen
  /// namespace, or a top-level `let`/`const`/`class` the program declared. On a restored
  /// sandbox, registering a name the snapshot knows binds the handler to the existing function.
  Status register_capability(Capability capability);
  /// True while an evaluation has not ended: suspended on host calls, or (seen from another
  /// thread or a host function) still running. Answers at once from any thread.
  bool suspended() const;
  /// The calls a suspended evaluation waits on (approvals and external answers). From another
  /// thread it waits for a running operation to return (see the threading contract above).
  std::vector<PendingCall> pending_calls() const;
  /// Answers an External capability's call: its promise resolves with value in JS. From inside a
  /// host function the answer is kept and delivered when the running operation can take it.
  Status resolve(uint32_t call_id, const Value &value);
  /// Answers an External capability's call with an error: its promise rejects in JS. outcome
  /// (Error or Timeout) is what the audit log records, for callers that time calls out themselves;
  /// audit_detail, when given, is the audit log's detail instead of the message (the program sees
  /// only the message).
  Status reject(uint32_t call_id, std::string message, std::string name = "Error",
                CallOutcome outcome = CallOutcome::Error, std::optional<std::string> audit_detail = std::nullopt);
  /// Approves a call of a requires_approval capability: its handler runs on resume().
  Status approve(uint32_t call_id);
  /// Denies a call waiting for approval or for an answer: it rejects in JS with an Error saying
  /// it was denied (and why), "the call to 'publish' was denied: not today". The audit log
  /// records it as denied.
  Status deny(uint32_t call_id, std::string reason = "");
  /// Continues a suspended evaluation after calls were settled or approved. Returns Done, Error,
  /// or Suspended again.
  Result resume();
  /// How long until the suspended evaluation's earliest timer is due (zero when one is due now);
  /// nullopt when it has none, or no evaluation is suspended. A suspended evaluation's timers run
  /// when it is resumed: a caller that waits on its own work (external calls) and wants them on
  /// time calls resume() by then; with nothing settled, resume() runs the timers that are due and
  /// returns Suspended again. From another thread it waits for a running operation to return.
  std::optional<std::chrono::nanoseconds> next_timer() const;
  /// Drops a suspended evaluation; its pending calls are cancelled and no more JS runs for it.
  Status abandon();
  /// The host calls this sandbox made, in order (the newest Limits::max_audit_entries). The
  /// reference is valid until the next operation on this sandbox; from another thread the call
  /// waits for a running operation to return.
  const std::vector<AuditEntry> &audit_log() const;
  /// How many old audit entries were dropped to respect Limits::max_audit_entries.
  uint64_t audit_entries_dropped() const;

  // ---- Handles ----
  //
  // A Handle refers to a JS value the sandbox keeps pinned for the host (EvalOptions::as_handle,
  // get_property, call_handle...) until release(); Handle::global() is the global object. Handles
  // may be passed wherever a Value goes into the sandbox (arguments, property values), alone or
  // nested, and stand for the pinned value itself. A handle this sandbox does not hold (released,
  // or another sandbox's) fails with InvalidInput, naming it; it never reaches another value. A
  // snapshot carries the pinned values; reset() drops them all. Like get_global(), the property
  // operations and to_value() run no evaluation (they are allowed while one is suspended); the
  // calls and await_handle() are evaluations, which may suspend on host calls like eval().

  /// A handle to object[key] (key: a string or an integer). Getters run.
  Result get_property(Handle object, const Value &key);
  /// object[key] = value.
  Result set_property(Handle object, const Value &key, const Value &value);
  /// `key in object` (false when the value is not an object).
  Expected<bool> has_property(Handle object, const Value &key);
  /// Calls the function with `this` undefined; Done holds a handle to its result (not awaited).
  Result call_handle(Handle function, std::span<const Value> args = {});
  /// Calls object[name](...args) with `this` the object; Done holds a handle to the result.
  Result call_method(Handle object, std::string_view name, std::span<const Value> args = {});
  /// `new constructor(...args)`; Done holds a handle to the instance.
  Result construct(Handle constructor, std::span<const Value> args = {});
  /// Awaits a promise (running jobs and host calls as eval() does); Done holds a handle to its
  /// value, and a rejection is the Error. A value that is not a promise gives a new handle to it.
  Result await_handle(Handle promise);
  /// The value as data. With pin_opaque, what cannot cross as data (functions, symbols,
  /// promises, Maps...) comes back as new handles in its place; cycles still fail.
  Result to_value(Handle handle, bool pin_opaque = false);
  /// Its type, and whether it is a promise.
  Expected<HandleInfo> handle_info(Handle handle);
  /// A second handle to the same value (each is released on its own).
  Result duplicate(Handle handle);
  /// Unpins the value (the global object cannot be released).
  Status release(Handle handle);

  // ---- Snapshots ----

  /// Captures the whole VM and the host state needed to continue. Works whenever no operation is
  /// running: after Done/Error and while Suspended.
  Expected<std::vector<uint8_t>> snapshot(const SnapshotOptions &options = {});
  /// Creates a sandbox from a snapshot (taken in this process or another with the same guest
  /// build). Validates everything before touching an instance. Register the capabilities the
  /// snapshot names before resuming. Math.random gets a fresh seed unless options sets one.
  static Expected<Sandbox> restore(const Engine &engine, std::span<const uint8_t> snapshot,
                                   const SandboxOptions &options = {},
                                   const RestoreOptions &restore_options = {});
  /// Restores one snapshot into count independent sandboxes (each with its own Math.random seed
  /// unless options sets one).
  static Expected<std::vector<Sandbox>> fork(const Engine &engine, std::span<const uint8_t> snapshot,
                                             size_t count, const SandboxOptions &options = {},
                                             const RestoreOptions &restore_options = {});

  /// Asks the operation running now (eval(), call(), run_jobs(), resume(), or the program's
  /// reactions that resolve(), reject() and deny() run) to stop: the evaluation ends soon with
  /// ErrorKind::Timeout and the message "the evaluation was interrupted", and the sandbox stays
  /// usable with its state (as after a CPU timeout). Safe from any thread at any time: like
  /// suspended(), it does not claim the sandbox (see the threading contract), but the Sandbox
  /// object must outlive the call. Not async-signal-safe: a signal handler should wake a thread
  /// that calls it. Guest code stops at its next interrupt check, a wait on async host calls at
  /// once (their handlers are not preempted; their calls are cancelled). A request made while no
  /// operation runs (a suspended evaluation is not running) is dropped when the next one starts.
  void interrupt();

  /// True after a hard trap discarded the instance; every operation then fails with Internal
  /// until reset().
  bool discarded() const;
  /// Replaces the instance with a fresh one from the base image (all JS state is lost), keeping
  /// the options. Fails only when the pool is exhausted.
  Result reset();

  const SandboxOptions &options() const;

  struct Impl;

 private:
  explicit Sandbox(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace quickbox
