// quickbox._quickbox: the nanobind extension behind the Python package. It is deliberately thin:
// one _Sandbox class mirroring quickbox::Sandbox, value conversion in C++ (the hot path), and the
// GIL released while guest code runs. Policy, asyncio and error classes live in Python.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cmath>
#include <mutex>
#include <optional>

#include "quickbox/quickbox.hh"

namespace nb = nanobind;
using namespace nb::literals;
using namespace quickbox;

namespace {

// ---- The process-wide engine ------------------------------------------------------------------

Engine &engine() {
  static std::once_flag once;
  static std::optional<Engine> instance;
  std::call_once(once, [] { instance.emplace(Engine::create().unwrap()); });
  return *instance;
}

// ---- Values -----------------------------------------------------------------------------------

/// The UNDEFINED sentinel type (a singleton; `quickbox.UNDEFINED`).
struct UndefinedType {};

nb::object undefined_object;  // the singleton instance
nb::object js_error_class;    // quickbox.JSError, installed by the package at import
nb::object marshal_error;     // quickbox.MarshalError
nb::object status_error;      // (kind, message) -> exception instance, installed by the package

constexpr double kMaxSafe = 9007199254740992.0;  // 2^53
constexpr int kMaxDepth = 256;

[[noreturn]] void fail_marshal(const std::string &message) {
  if (marshal_error.is_valid()) {
    PyErr_SetString(marshal_error.ptr(), message.c_str());
    throw nb::python_error();
  }
  throw nb::type_error(message.c_str());
}

Value to_value(nb::handle h, int depth = 0);

/// Python's int type, whose from_bytes/to_bytes convert in linear time (decimal text would take
/// quadratic time, and Python refuses it beyond 4300 digits).
nb::handle int_type() { return nb::handle(reinterpret_cast<PyObject *>(&PyLong_Type)); }

Value int_to_value(nb::handle h) {
  int overflow = 0;
  long long small = PyLong_AsLongLongAndOverflow(h.ptr(), &overflow);
  if (!overflow && small >= -static_cast<long long>(kMaxSafe) && small <= static_cast<long long>(kMaxSafe))
    return Value(static_cast<double>(small));
  // Beyond 2^53 a JS number would round: send an exact BigInt, as its big-endian magnitude. Its
  // size is checked against the sandbox's BigInt limit where it enters JS.
  nb::object magnitude = nb::steal(PyNumber_Absolute(h.ptr()));
  if (!magnitude.is_valid()) throw nb::python_error();
  const auto bits = nb::cast<size_t>(magnitude.attr("bit_length")());
  nb::bytes bytes = nb::borrow<nb::bytes>(magnitude.attr("to_bytes")((bits + 7) / 8, "big"));
  const auto *data = static_cast<const uint8_t *>(bytes.data());
  return Value(BigInt{.negative = overflow < 0 || (overflow == 0 && small < 0),
                      .magnitude = std::vector<uint8_t>(data, data + bytes.size())});
}

Value to_value(nb::handle h, int depth) {
  if (depth > kMaxDepth) fail_marshal("value nests deeper than " + std::to_string(kMaxDepth) + " levels (or is cyclic)");
  if (h.is_none()) return Value(nullptr);
  if (h.is(undefined_object)) return Value(Undefined{});
  if (PyBool_Check(h.ptr())) return Value(h.ptr() == Py_True);
  if (PyLong_Check(h.ptr())) return int_to_value(h);
  if (PyFloat_Check(h.ptr())) return Value(PyFloat_AS_DOUBLE(h.ptr()));
  if (PyUnicode_Check(h.ptr())) {
    Py_ssize_t size;
    const char *data = PyUnicode_AsUTF8AndSize(h.ptr(), &size);
    if (!data) {
      PyErr_Clear();
      fail_marshal("cannot pass a str with lone surrogates to JavaScript");
    }
    return Value(std::string(data, static_cast<size_t>(size)));
  }
  if (PyBytes_Check(h.ptr())) {
    auto *p = reinterpret_cast<const uint8_t *>(PyBytes_AS_STRING(h.ptr()));
    return Value(Bytes{std::vector<uint8_t>(p, p + PyBytes_GET_SIZE(h.ptr()))});
  }
  if (PyByteArray_Check(h.ptr()) || PyMemoryView_Check(h.ptr())) {
    nb::bytes b(nb::steal(PyBytes_FromObject(h.ptr())));
    if (!b.is_valid()) throw nb::python_error();
    auto *p = static_cast<const uint8_t *>(b.data());
    return Value(Bytes{std::vector<uint8_t>(p, p + b.size())});
  }
  if (PyList_Check(h.ptr()) || PyTuple_Check(h.ptr())) {
    Value::Array items;
    nb::sequence seq = nb::borrow<nb::sequence>(h);
    size_t n = nb::len(seq);
    items.reserve(n);
    for (size_t i = 0; i < n; i++) items.push_back(to_value(seq[i], depth + 1));
    return Value(std::move(items));
  }
  if (PyDict_Check(h.ptr())) {
    Value::Object fields;
    for (auto [key, item] : nb::borrow<nb::dict>(h)) {
      if (!PyUnicode_Check(key.ptr()))
        fail_marshal("dict keys must be str to cross into JavaScript, got " +
                     std::string(nb::str(nb::type_name(key.type())).c_str()));
      Py_ssize_t size;
      const char *data = PyUnicode_AsUTF8AndSize(key.ptr(), &size);
      if (!data) {
        PyErr_Clear();
        fail_marshal("cannot pass a dict key with lone surrogates to JavaScript");
      }
      fields.emplace_back(std::string(data, static_cast<size_t>(size)), to_value(item, depth + 1));
    }
    return Value(std::move(fields));
  }
  if (js_error_class.is_valid() && nb::isinstance(h, js_error_class)) {
    return Value(ErrorValue{.name = nb::cast<std::string>(h.attr("name")),
                            .message = nb::cast<std::string>(h.attr("message")),
                            .stack = nb::cast<std::string>(nb::str(h.attr("stack")))});
  }
  if (PyExceptionInstance_Check(h.ptr())) {
    return Value(ErrorValue{.name = nb::cast<std::string>(nb::str(nb::type_name(h.type()))),
                            .message = nb::cast<std::string>(nb::str(h)),
                            .stack = ""});
  }
  fail_marshal("cannot pass a Python " + std::string(nb::str(nb::type_name(h.type())).c_str()) +
               " to JavaScript (supported: None, UNDEFINED, bool, int, float, str, bytes, list, "
               "tuple, dict with str keys)");
}

nb::object from_value(const Value &v);

struct FromValue {
  nb::object operator()(const Undefined &) const { return undefined_object; }
  nb::object operator()(std::nullptr_t) const { return nb::none(); }
  nb::object operator()(bool b) const { return nb::bool_(b); }
  nb::object operator()(double d) const {
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= kMaxSafe && !(d == 0 && std::signbit(d)))
      return nb::int_(static_cast<long long>(d));
    return nb::float_(d);
  }
  nb::object operator()(const BigInt &b) const {
    nb::object magnitude = int_type().attr("from_bytes")(
        nb::bytes(reinterpret_cast<const char *>(b.magnitude.data()), b.magnitude.size()), "big");
    if (!b.negative) return magnitude;
    nb::object negated = nb::steal(PyNumber_Negative(magnitude.ptr()));
    if (!negated.is_valid()) throw nb::python_error();
    return negated;
  }
  nb::object operator()(const std::string &s) const {
    return nb::steal(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace"));
  }
  nb::object operator()(const Bytes &b) const {
    return nb::bytes(reinterpret_cast<const char *>(b.data.data()), b.data.size());
  }
  nb::object operator()(const Value::Array &a) const {
    nb::list out;
    for (const auto &item : a) out.append(from_value(item));
    return out;
  }
  nb::object operator()(const Value::Object &o) const {
    nb::dict out;
    for (const auto &[key, item] : o) out[nb::str(key.c_str(), key.size())] = from_value(item);
    return out;
  }
  nb::object operator()(const ErrorValue &e) const {
    if (!js_error_class.is_valid()) return nb::make_tuple(e.name, e.message, e.stack);
    return js_error_class(e.name, e.message, e.stack);
  }
};

nb::object from_value(const Value &v) { return std::visit(FromValue{}, v.storage()); }

std::vector<Value> to_values(nb::handle seq) {
  std::vector<Value> out;
  for (nb::handle item : nb::borrow<nb::sequence>(seq)) out.push_back(to_value(item, 1));
  return out;
}

nb::list from_values(const std::vector<Value> &values) {
  nb::list out;
  for (const auto &v : values) out.append(from_value(v));
  return out;
}

// ---- Results ----------------------------------------------------------------------------------

/// (status, payload, console, console_dropped_bytes) with status 0 done, 1 error, 2 suspended.
/// payload: the value; (kind, name, message, stack, thrown or UNDEFINED, discarded); or a list of
/// pending calls (call_id, capability, args, needs_approval).
nb::tuple outcome(const Result &r) {
  nb::list console;
  for (const auto &line : r.console) console.append(nb::make_tuple(std::string(to_string(line.level)), line.text));
  if (r.ok()) return nb::make_tuple(0, from_value(r.value()), console, r.console_dropped_bytes);
  if (r.failed()) {
    const Error &e = r.error();
    nb::object thrown = e.thrown ? from_value(*e.thrown) : undefined_object;
    return nb::make_tuple(1, nb::make_tuple(std::string(to_string(e.kind)), e.name, e.message, e.stack, thrown,
                                            e.instance_discarded),
                          console, r.console_dropped_bytes);
  }
  nb::list pending;
  for (const auto &p : r.pending())
    pending.append(nb::make_tuple(p.call_id, p.capability, from_values(p.args), p.needs_approval));
  return nb::make_tuple(2, pending, console, r.console_dropped_bytes);
}

/// Raises the package's exception for a refusal or misuse (the package maps kinds to classes).
[[noreturn]] void raise_status(const Error &e) {
  if (!status_error.is_valid()) throw nb::value_error(e.message.c_str());
  nb::object exc = status_error(std::string(to_string(e.kind)), e.message);
  PyErr_SetObject(reinterpret_cast<PyObject *>(Py_TYPE(exc.ptr())), exc.ptr());
  throw nb::python_error();
}

void check(const Status &s) {
  if (!s.ok()) raise_status(s.error());
}

// ---- Options ------------------------------------------------------------------------------------

std::chrono::milliseconds seconds_to_ms(double seconds, const char *what) {
  if (!(seconds > 0) || !std::isfinite(seconds))
    throw nb::value_error((std::string(what) + " must be a positive number of seconds").c_str());
  return std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(std::llround(seconds * 1000))));
}

SandboxOptions make_options(nb::dict o) {
  SandboxOptions opts;
  auto get = [&](const char *key) -> nb::object {
    return o.contains(key) ? nb::borrow(o[key]) : nb::none();
  };
  if (auto v = get("memory_limit"); !v.is_none()) opts.limits.memory_bytes = nb::cast<uint64_t>(v);
  if (auto v = get("timeout"); !v.is_none()) opts.limits.cpu_time = seconds_to_ms(nb::cast<double>(v), "timeout");
  if (auto v = get("stack_limit"); !v.is_none()) opts.limits.stack_bytes = nb::cast<uint32_t>(v);
  if (auto v = get("console_limit"); !v.is_none()) opts.limits.console_bytes = nb::cast<uint64_t>(v);
  if (auto v = get("result_limit"); !v.is_none()) opts.limits.result_bytes = nb::cast<uint64_t>(v);
  if (auto v = get("max_depth"); !v.is_none()) opts.limits.max_depth = nb::cast<uint32_t>(v);
  if (auto v = get("wall_timeout"); !v.is_none()) opts.limits.wall_time = seconds_to_ms(nb::cast<double>(v), "wall_timeout");
  if (auto v = get("max_host_calls"); !v.is_none()) opts.limits.max_host_calls = nb::cast<uint32_t>(v);
  if (auto v = get("host_memory_limit"); !v.is_none()) opts.limits.host_memory_bytes = nb::cast<uint64_t>(v);
  if (auto v = get("max_pending_calls"); !v.is_none()) opts.limits.max_pending_calls = nb::cast<uint32_t>(v);
  if (auto v = get("bigint_limit"); !v.is_none()) opts.limits.bigint_bytes = nb::cast<uint32_t>(v);
  if (auto v = get("seed"); !v.is_none()) opts.random_seed = nb::cast<uint64_t>(v);
  if (auto v = get("fixed_time_ms"); !v.is_none()) {
    opts.clock.mode = Clock::Mode::Fixed;
    opts.clock.start_ms = nb::cast<int64_t>(v);
  }
  if (auto v = get("allow_all_three_labels"); !v.is_none()) opts.allow_all_three_labels = nb::cast<bool>(v);
  return opts;
}

CapabilityPolicy make_policy(nb::dict p) {
  CapabilityPolicy policy;
  auto get = [&](const char *key) -> nb::object {
    return p.contains(key) ? nb::borrow(p[key]) : nb::none();
  };
  if (auto v = get("max_calls_per_eval"); !v.is_none()) policy.max_calls_per_eval = nb::cast<uint32_t>(v);
  if (auto v = get("max_in_flight"); !v.is_none()) policy.max_in_flight = nb::cast<uint32_t>(v);
  if (auto v = get("call_timeout"); !v.is_none()) policy.call_timeout = seconds_to_ms(nb::cast<double>(v), "call_timeout");
  if (auto v = get("max_argument_bytes"); !v.is_none()) policy.max_argument_bytes = nb::cast<uint64_t>(v);
  if (auto v = get("max_result_bytes"); !v.is_none()) policy.max_result_bytes = nb::cast<uint64_t>(v);
  if (auto v = get("requires_approval"); !v.is_none()) policy.requires_approval = nb::cast<bool>(v);
  if (auto v = get("labels"); !v.is_none()) policy.labels = nb::cast<uint8_t>(v);
  return policy;
}

/// Seconds left on the evaluation's wall clock for a handler (None: no wall-clock limit).
nb::object seconds_left(const CallInfo &info) {
  if (!info.deadline) return nb::none();
  std::chrono::duration<double> left = *info.deadline - std::chrono::steady_clock::now();
  return nb::float_(std::max(0.0, left.count()));
}

// ---- The sandbox --------------------------------------------------------------------------------

/// Runs f with the GIL released: guest code never needs Python, and other threads may run.
template <typename F>
auto released(F &&f) {
  nb::gil_scoped_release release;
  return f();
}

class PySandbox {
 public:
  explicit PySandbox(Sandbox sandbox) : sandbox_(std::move(sandbox)) {}

  static PySandbox create(nb::dict options) {
    SandboxOptions opts = make_options(options);
    Engine &e = engine();
    Expected<Sandbox> s = [&] {
      nb::gil_scoped_release release;
      return Sandbox::create(e, opts);
    }();
    if (!s) raise_status(s.error());
    return PySandbox(std::move(s).value());
  }

  nb::tuple eval(const std::string &code, int kind, const std::string &filename, bool strict,
                 std::optional<double> timeout) {
    EvalOptions opts;
    opts.kind = static_cast<EvalOptions::Kind>(kind);
    opts.filename = filename;
    opts.strict = strict;
    if (timeout) opts.cpu_time = seconds_to_ms(*timeout, "timeout");
    Result r = released([&, &s = sandbox()] { return s.eval(code, opts); });
    return outcome(r);
  }

  nb::tuple call(const std::string &name, nb::handle args) {
    std::vector<Value> values = to_values(args);
    Result r = released([&, &s = sandbox()] { return s.call(name, values); });
    return outcome(r);
  }

  nb::tuple get_global(const std::string &name) {
    Result r = released([&, &s = sandbox()] { return s.get_global(name); });
    return outcome(r);
  }

  nb::tuple set_global(const std::string &name, nb::handle value) {
    Value v = to_value(value);
    Result r = released([&, &s = sandbox()] { return s.set_global(name, v); });
    return outcome(r);
  }

  /// dispatch(call_id, args, seconds_left) -> (True, value) | (False, name, message), called
  /// under the GIL; seconds_left is what remains of the wall clock (None: no limit).
  void register_sync(const std::string &name, nb::object dispatch, nb::dict policy) {
    // held_ owns the only reference, where the garbage collector sees it (tp_traverse); the
    // handler borrows it, so destroying handlers never touches Python reference counts.
    held_.push_back(dispatch);
    auto handler = [dispatch = nb::handle(dispatch.ptr())](const CallInfo &info,
                                                            std::span<const Value> args) -> Value {
      nb::gil_scoped_acquire gil;
      nb::tuple answer;
      try {
        nb::list py_args;
        for (const auto &a : args) py_args.append(from_value(a));
        answer = nb::cast<nb::tuple>(dispatch(info.call_id, py_args, seconds_left(info)));
        if (nb::cast<bool>(answer[0])) return to_value(answer[1]);
      } catch (nb::python_error &e) {
        // The result cannot cross (MarshalError) or the dispatcher failed: report it to JS as a
        // TypeError carrying the exception's own message (the caller sees a MarshalError).
        std::string message = nb::cast<std::string>(nb::str(e.value()));
        throw CapabilityError(message, "TypeError");
      }
      throw CapabilityError(nb::cast<std::string>(answer[2]), nb::cast<std::string>(answer[1]));
    };
    check(sandbox().register_capability(Capability::sync(name, std::move(handler), make_policy(policy))));
  }

  void register_external(const std::string &name, nb::dict policy) {
    check(sandbox().register_capability(Capability::external(name, make_policy(policy))));
  }

  void resolve(uint32_t id, nb::handle value) {
    Value v = to_value(value);
    check(released([&, &s = sandbox()] { return s.resolve(id, v); }));
  }
  void reject(uint32_t id, const std::string &message, const std::string &name, bool timed_out) {
    CallOutcome outcome = timed_out ? CallOutcome::Timeout : CallOutcome::Error;
    check(released([&, &s = sandbox()] { return s.reject(id, message, name, outcome); }));
  }
  void approve(uint32_t id) { check(sandbox().approve(id)); }
  void deny(uint32_t id, const std::string &reason) {
    check(released([&, &s = sandbox()] { return s.deny(id, reason); }));
  }
  nb::tuple resume() {
    Result r = released([&, &s = sandbox()] { return s.resume(); });
    return outcome(r);
  }
  void abandon() { check(released([&, &s = sandbox()] { return s.abandon(); })); }

  nb::list pending() {
    nb::list out;
    for (const auto &p : sandbox().pending_calls())
      out.append(nb::make_tuple(p.call_id, p.capability, from_values(p.args), p.needs_approval));
    return out;
  }

  nb::list audit_log() {
    nb::list out;
    for (const auto &e : sandbox().audit_log()) {
      double start = std::chrono::duration<double>(e.start.time_since_epoch()).count();
      out.append(nb::make_tuple(e.capability, e.call_id, e.argument_bytes, e.argument_digest, start,
                                std::chrono::duration<double>(e.duration).count(),
                                std::string(to_string(e.outcome)), e.detail));
    }
    return out;
  }

  nb::bytes snapshot(std::optional<nb::bytes> key) {
    SnapshotOptions opts;
    if (key) opts.hmac_key.assign(static_cast<const uint8_t *>(key->data()),
                                  static_cast<const uint8_t *>(key->data()) + key->size());
    auto bytes = released([&, &s = sandbox()] { return s.snapshot(opts); });
    if (!bytes) raise_status(bytes.error());
    return nb::bytes(reinterpret_cast<const char *>(bytes.value().data()), bytes.value().size());
  }

  static PySandbox restore(nb::bytes data, nb::dict options, std::optional<nb::bytes> key) {
    auto all = fork(data, 1, options, key);
    return std::move(all.front());
  }

  static std::vector<PySandbox> fork(nb::bytes data, size_t count, nb::dict options, std::optional<nb::bytes> key) {
    SandboxOptions opts = make_options(options);
    RestoreOptions ropts;
    if (key) ropts.hmac_key.assign(static_cast<const uint8_t *>(key->data()),
                                   static_cast<const uint8_t *>(key->data()) + key->size());
    std::span<const uint8_t> bytes(static_cast<const uint8_t *>(data.data()), data.size());
    Engine &e = engine();
    Expected<std::vector<Sandbox>> sandboxes = [&] {
      nb::gil_scoped_release release;
      return Sandbox::fork(e, bytes, count, opts, ropts);
    }();
    if (!sandboxes) raise_status(sandboxes.error());
    std::vector<PySandbox> out;
    for (auto &s : sandboxes.value()) out.emplace_back(std::move(s));
    return out;
  }

  nb::dict memory_usage() {
    auto usage = released([&, &s = sandbox()] { return s.memory_usage(); });
    if (!usage) raise_status(usage.error());
    nb::dict d;
    d["malloc_size"] = usage.value().js_malloc_bytes;
    d["malloc_limit"] = usage.value().js_malloc_limit;
    d["obj_count"] = usage.value().js_object_count;
    d["linear_memory"] = usage.value().linear_memory_bytes;
    return d;
  }

  bool suspended() { return sandbox().suspended(); }
  bool discarded() { return sandbox().discarded(); }
  nb::tuple reset() {
    Result r = released([&, &s = sandbox()] { return s.reset(); });
    return outcome(r);
  }
  /// Destroys the sandbox (with the GIL released unless called from the garbage collector), then
  /// drops the Python objects its handlers borrowed.
  void close(bool release_gil = true) {
    std::optional<Sandbox> doomed = std::move(sandbox_);
    sandbox_.reset();
    if (release_gil) {
      nb::gil_scoped_release release;
      doomed.reset();
    }
    doomed.reset();
    held_.clear();
  }
  bool closed() const { return !sandbox_.has_value(); }

  /// Python objects the sandbox's handlers refer to, for the garbage collector.
  const std::vector<nb::object> &held() const { return held_; }

 private:
  Sandbox &sandbox() {
    if (!sandbox_) raise_status(Error{.kind = ErrorKind::InvalidInput, .message = "the context is closed"});
    return *sandbox_;
  }

  std::optional<Sandbox> sandbox_;
  std::vector<nb::object> held_;
};

// A context's host functions usually refer back to the context (closures capturing `ctx`), which
// refers to its _Sandbox: without these slots that cycle would never be collected.
int sandbox_traverse(PyObject *self, visitproc visit, void *arg) {
  Py_VISIT(Py_TYPE(self));
  if (!nb::inst_ready(self)) return 0;
  for (const nb::object &o : nb::inst_ptr<PySandbox>(self)->held()) Py_VISIT(o.ptr());
  return 0;
}

int sandbox_clear(PyObject *self) {
  if (nb::inst_ready(self)) nb::inst_ptr<PySandbox>(self)->close(/*release_gil=*/false);
  return 0;
}

PyType_Slot sandbox_slots[] = {{Py_tp_traverse, reinterpret_cast<void *>(sandbox_traverse)},
                               {Py_tp_clear, reinterpret_cast<void *>(sandbox_clear)},
                               {0, nullptr}};

nb::dict snapshot_info(nb::bytes data, std::optional<nb::bytes> key) {
  RestoreOptions ropts;
  if (key) ropts.hmac_key.assign(static_cast<const uint8_t *>(key->data()),
                                 static_cast<const uint8_t *>(key->data()) + key->size());
  auto info = inspect_snapshot({static_cast<const uint8_t *>(data.data()), data.size()}, ropts);
  if (!info) raise_status(info.error());
  const SnapshotInfo &i = info.value();
  nb::dict d;
  d["format_version"] = i.format_version;
  d["signed"] = i.signed_;
  d["guest_build_id"] = i.guest_build_id;
  d["total_bytes"] = i.total_bytes;
  d["body_bytes"] = i.body_bytes;
  d["memory_bytes"] = i.memory_bytes;
  d["changed_bytes"] = i.changed_bytes;
  d["suspended"] = i.suspended;
  d["capabilities"] = i.capabilities;
  nb::list pending;
  for (const auto &p : i.pending)
    pending.append(nb::make_tuple(p.call_id, p.capability, from_values(p.args), p.needs_approval));
  d["pending"] = pending;
  return d;
}

nb::dict engine_info() {
  const EngineInfo &i = engine().info();
  nb::dict d;
  d["quickjs_version"] = i.quickjs_version;
  d["wasmtime_version"] = i.wasmtime_version;
  d["guest_build_id"] = i.guest_build_id;
  return d;
}

}  // namespace

NB_MODULE(_quickbox, m) {
  m.doc() = "Quickbox's native core; use the `quickbox` package instead.";
  nb::class_<UndefinedType>(m, "Undefined", "The type of quickbox.UNDEFINED (JavaScript's undefined).")
      .def("__repr__", [](const UndefinedType &) { return "UNDEFINED"; })
      .def("__bool__", [](const UndefinedType &) { return false; });
  undefined_object = nb::cast(UndefinedType{});
  m.attr("UNDEFINED") = undefined_object;
  m.def("_set_error_classes", [](nb::object js_error, nb::object marshal, nb::object status) {
    js_error_class = std::move(js_error);
    marshal_error = std::move(marshal);
    status_error = std::move(status);
  });
  // Release module-level references before the interpreter shuts down.
  nb::module_::import_("atexit").attr("register")(nb::cpp_function([] {
    js_error_class = nb::object();
    marshal_error = nb::object();
    status_error = nb::object();
    undefined_object = nb::object();  // the module attribute keeps it alive until teardown
  }));
  m.def("engine_info", &engine_info);
  m.def("inspect_snapshot", &snapshot_info, "data"_a, "key"_a = nb::none());
  m.def("to_value_roundtrip", [](nb::handle h) { return from_value(to_value(h)); }, "value"_a.none(),
        "Converts a Python value to a quickbox Value and back (for tests).");

  nb::class_<PySandbox>(m, "_Sandbox", nb::type_slots(sandbox_slots))
      .def_static("create", &PySandbox::create, "options"_a)
      .def_static("restore", &PySandbox::restore, "data"_a, "options"_a, "key"_a = nb::none())
      .def_static("fork", &PySandbox::fork, "data"_a, "count"_a, "options"_a, "key"_a = nb::none())
      .def("eval", &PySandbox::eval, "code"_a, "kind"_a, "filename"_a, "strict"_a, "timeout"_a = nb::none())
      .def("call", &PySandbox::call, "name"_a, "args"_a)
      .def("get_global", &PySandbox::get_global)
      .def("set_global", &PySandbox::set_global, "name"_a, "value"_a.none())
      .def("register_sync", &PySandbox::register_sync, "name"_a, "dispatch"_a, "policy"_a)
      .def("register_external", &PySandbox::register_external, "name"_a, "policy"_a)
      .def("resolve", &PySandbox::resolve, "call_id"_a, "value"_a.none())
      .def("reject", &PySandbox::reject, "call_id"_a, "message"_a, "name"_a, "timed_out"_a = false)
      .def("approve", &PySandbox::approve)
      .def("deny", &PySandbox::deny)
      .def("resume", &PySandbox::resume)
      .def("abandon", &PySandbox::abandon)
      .def("pending", &PySandbox::pending)
      .def("audit_log", &PySandbox::audit_log)
      .def("snapshot", &PySandbox::snapshot, "key"_a = nb::none())
      .def("memory_usage", &PySandbox::memory_usage)
      .def("suspended", &PySandbox::suspended)
      .def("discarded", &PySandbox::discarded)
      .def("reset", &PySandbox::reset)
      .def("close", [](PySandbox &s) { s.close(); })
      .def("closed", &PySandbox::closed);
}
