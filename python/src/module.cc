// quickbox._quickbox: the nanobind extension behind the Python package. It is deliberately thin:
// one _Sandbox class mirroring quickbox::Sandbox, value conversion in C++ (the hot path), and the
// GIL released while guest code runs. Policy, asyncio and error classes live in Python.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cmath>
#include <cstdio>
#include <mutex>
#include <optional>
#include <utility>

#include "quickbox/quickbox.hh"
#include "library_timer.hh"
#include "context_eval.hh"
#include "sigint.hh"

namespace nb = nanobind;
using namespace nb::literals;
using namespace quickbox;

namespace {

// ---- The process-wide engine ------------------------------------------------------------------

[[noreturn]] void raise_status(const Error &e);

/// What quickbox.configure_engine() set (the library's defaults until then). Read and written
/// with the GIL held.
EngineOptions engine_options;
bool engine_started = false;

/// The engine, created on first use. When it cannot be created (e.g. the process may not reserve
/// the address space its sandbox pool needs) every use raises the same error, naming why.
Engine &engine() {
  static std::once_flag once;
  static std::optional<Expected<Engine>> instance;
  std::call_once(once, [] {
    engine_started = true;
    EngineOptions options = engine_options;
    nb::gil_scoped_release release;
    instance.emplace(Engine::create(options));
  });
  if (!instance->ok()) raise_status(Error{.kind = ErrorKind::Internal, .message = instance->error().message});
  return instance->value();
}

// ---- Values -----------------------------------------------------------------------------------

/// The UNDEFINED sentinel type (a singleton; `quickbox.UNDEFINED`).
struct UndefinedType {};

/// A value pinned in a sandbox, by id (quickbox::Handle): what the package's Handle wraps, after
/// checking that it belongs to the context it is used with. The guest checks the id again.
struct HandleRef {
  uint32_t id;
};

nb::object undefined_object;  // the singleton instance
nb::object not_plain_object;  // what PySandbox::eval_plain returns for an outcome it hands over whole
nb::object not_run_object;    // what PySandbox::eval_plain returns when it did not run the program
nb::object datetime_class;    // datetime.datetime and datetime.date, for dates entering JS
nb::object date_class;
nb::object utc;               // datetime.timezone.utc
nb::object unix_epoch;        // datetime(1970, 1, 1, tzinfo=utc)
nb::object one_millisecond;   // timedelta(milliseconds=1)
nb::object js_error_class;    // quickbox.JSError, installed by the package at import
nb::object marshal_error;     // quickbox.MarshalError
nb::object status_error;      // (kind, message) -> exception instance, installed by the package
// What the program learns of any host function's failure (quickbox._context.HOST_ERROR_*).
std::string host_error_name = "HostError", host_error_message = "Host function failed";
nb::object call_deadline;     // quickbox's ContextVar behind time_remaining(), installed by the package
nb::object isawaitable;       // inspect.isawaitable

constexpr double kMaxSafe = 9007199254740992.0;  // 2^53
// How deep a Python value may nest to enter JavaScript: 128 levels, as quickjs-rs allows (values
// coming out of JavaScript may nest up to the engine's 256; docs/python.md, "Values").
constexpr int kMaxDepth = 128;

/// Where in the value being converted the conversion is, for MarshalError messages: "$" is
/// the value itself, "$.config.items[3]" a part of it. Kept per thread, pushed and popped around
/// each container entry (PathStep), so the hot path never builds text.
struct PathEntry {
  bool is_index;
  size_t index;
  PyObject *key;  // borrowed: the dict being converted holds it
};
thread_local std::vector<PathEntry> marshal_path;

/// The sandbox of the innermost operation running on this thread (PySandbox::Use).
thread_local Sandbox *running_sandbox = nullptr;
/// A KeyboardInterrupt or SystemExit that a Python callback of the engine's (the module loader)
/// raised on this thread while an operation ran: the operation was interrupted at once, and
/// raises it when it returns (released()). JavaScript never gets to catch it.
thread_local std::optional<nb::python_error> stopping_exception;

/// Called under the GIL with what a callback raised: a BaseException that is not an Exception
/// stops the running operation. Host functions have their own path (the package's failure
/// handler), which also keeps the exception for the caller.
void stop_for_base_exception(nb::python_error &raised) {
  if (raised.matches(PyExc_Exception)) return;
  if (running_sandbox) running_sandbox->interrupt();
  if (!stopping_exception) stopping_exception.emplace(std::move(raised));
}

struct PathStep {
  explicit PathStep(PathEntry entry) { marshal_path.push_back(entry); }
  ~PathStep() { marshal_path.pop_back(); }
  PathStep(const PathStep &) = delete;
  PathStep &operator=(const PathStep &) = delete;
};

std::string marshal_path_text() {
  std::string out = "$";
  constexpr size_t kShown = 12;  // a deep path shows its first and last steps
  for (size_t i = 0; i < marshal_path.size(); i++) {
    if (marshal_path.size() > 2 * kShown && i == kShown) {
      out += "...";
      i = marshal_path.size() - kShown;
    }
    const PathEntry &step = marshal_path[i];
    if (step.is_index) {
      out += "[" + std::to_string(step.index) + "]";
      continue;
    }
    Py_ssize_t size = 0;
    const char *key = PyUnicode_AsUTF8AndSize(step.key, &size);
    if (!key) {
      PyErr_Clear();
      out += "[?]";
    } else if (PyUnicode_IsIdentifier(step.key)) {
      out += "." + std::string(key, static_cast<size_t>(size));
    } else {
      out += "[" + nb::cast<std::string>(nb::repr(nb::handle(step.key))) + "]";
    }
  }
  return out;
}

[[noreturn]] void fail_marshal(const std::string &message) {
  std::string text = message + (marshal_path.empty() ? std::string() : " (at " + marshal_path_text() + ")");
  if (marshal_error.is_valid()) {
    PyErr_SetString(marshal_error.ptr(), text.c_str());
    throw nb::python_error();
  }
  throw nb::type_error(text.c_str());
}

Value to_value(nb::handle h, int depth = 0);

// ---- Arguments: the text and ids the package passes on from its caller ---------------------------
// Declared as C++ types, a wrong argument would be refused by nanobind in its own words (the
// binding's signature, `quickbox._quickbox._Sandbox`); these say what was wrong in Python's.

std::string type_name_of(nb::handle h) { return nb::str(nb::type_name(h.type())).c_str(); }

/// Index and code point of the first lone surrogate in a str that has one.
std::pair<Py_ssize_t, Py_UCS4> first_lone_surrogate(nb::handle h) {
  Py_ssize_t n = PyUnicode_GetLength(h.ptr());
  for (Py_ssize_t i = 0; i < n; i++) {
    Py_UCS4 c = PyUnicode_ReadChar(h.ptr(), i);
    if (c >= 0xD800 && c <= 0xDFFF) return {i, c};
  }
  return {-1, 0};
}

/// The str argument `what` as UTF-8: a TypeError for another type, a ValueError for a lone
/// surrogate (not Unicode text, so it cannot enter the sandbox). Valid while h lives.
std::string_view text_arg(nb::handle h, const char *what) {
  if (!PyUnicode_Check(h.ptr())) throw nb::type_error((std::string(what) + " must be str, got " + type_name_of(h)).c_str());
  Py_ssize_t size = 0;
  const char *data = PyUnicode_AsUTF8AndSize(h.ptr(), &size);
  if (data) return {data, static_cast<size_t>(size)};
  PyErr_Clear();
  auto [index, unit] = first_lone_surrogate(h);
  char code[8];
  std::snprintf(code, sizeof code, "%04X", static_cast<unsigned>(unit));
  throw nb::value_error((std::string(what) + " holds a lone surrogate (U+" + code + " at index " +
                         std::to_string(index) + "), which is not Unicode text: only text can enter the sandbox")
                            .c_str());
}

/// Text the caller reports with (a denial's reason, an error's message): a lone surrogate becomes
/// U+FFFD rather than losing the report, as the sandbox does for its own error text. Python's own
/// codecs do the repair: through UTF-16 with the surrogates passed, and back replacing each lone one.
std::string report_text(nb::handle h, const char *what) {
  if (!PyUnicode_Check(h.ptr())) throw nb::type_error((std::string(what) + " must be str, got " + type_name_of(h)).c_str());
  Py_ssize_t size = 0;
  if (const char *data = PyUnicode_AsUTF8AndSize(h.ptr(), &size)) return std::string(data, static_cast<size_t>(size));
  PyErr_Clear();
  nb::object units = nb::steal(PyUnicode_AsEncodedString(h.ptr(), "utf-16-le", "surrogatepass"));
  if (!units.is_valid()) throw nb::python_error();
  nb::object repaired = nb::steal(
      PyUnicode_Decode(PyBytes_AS_STRING(units.ptr()), PyBytes_GET_SIZE(units.ptr()), "utf-16-le", "replace"));
  if (!repaired.is_valid()) throw nb::python_error();
  const char *data = PyUnicode_AsUTF8AndSize(repaired.ptr(), &size);
  if (!data) throw nb::python_error();
  return std::string(data, static_cast<size_t>(size));
}

/// A pending call's id as the caller gave it: any int names a call or no call (the library's own
/// refusal, in its words, for ids beyond what it hands out), anything else is a TypeError.
uint32_t call_id_arg(nb::handle h) {
  if (!PyLong_Check(h.ptr()) || PyBool_Check(h.ptr()))
    throw nb::type_error(("call_id must be an int, got " + type_name_of(h)).c_str());
  int overflow = 0;
  long long id = PyLong_AsLongLongAndOverflow(h.ptr(), &overflow);
  if (overflow || id < 0 || id > static_cast<long long>(UINT32_MAX))
    raise_status(Error{.kind = ErrorKind::InvalidInput,
                       .message = "no pending call has id #" + std::string(nb::str(h).c_str())});
  return static_cast<uint32_t>(id);
}

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
  if (depth > kMaxDepth) fail_marshal("value nests deeper than the recursion limit of " + std::to_string(kMaxDepth) + " levels (or is cyclic)");
  if (h.is_none()) return Value(nullptr);
  if (h.is(undefined_object)) return Value(Undefined{});
  if (nb::isinstance<HandleRef>(h)) return Value(Handle{nb::cast<HandleRef>(h).id});
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
    for (size_t i = 0; i < n; i++) {
      PathStep step({true, i, nullptr});
      items.push_back(to_value(seq[i], depth + 1));
    }
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
      PathStep step({false, 0, key.ptr()});
      fields.emplace_back(std::string(data, static_cast<size_t>(size)), to_value(item, depth + 1));
    }
    return Value(std::move(fields));
  }
  if (date_class.is_valid() && nb::isinstance(h, date_class)) {
    // A naive datetime is taken as UTC (as JSON APIs do), a date as its midnight UTC.
    nb::object moment = nb::isinstance(h, datetime_class)
                            ? (h.attr("tzinfo").is_none() ? h.attr("replace")("tzinfo"_a = utc) : nb::borrow(h))
                            : datetime_class(h.attr("year"), h.attr("month"), h.attr("day"), "tzinfo"_a = utc);
    // The whole milliseconds since the epoch, exactly (timedelta arithmetic, no float): JavaScript
    // keeps milliseconds and drops what is finer, as `new Date(y, m, d, h, mi, s, 999.6)` does.
    // Rounding carried the last microsecond of 9999 into the year 10000.
    nb::object since_epoch = nb::steal(PyNumber_Subtract(moment.ptr(), unix_epoch.ptr()));
    if (!since_epoch.is_valid()) throw nb::python_error();
    nb::object ms = nb::steal(PyNumber_FloorDivide(since_epoch.ptr(), one_millisecond.ptr()));
    if (!ms.is_valid()) throw nb::python_error();
    return Value(Date{static_cast<double>(nb::cast<int64_t>(ms))});
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
  fail_marshal("cannot marshal a Python " + std::string(nb::str(nb::type_name(h.type())).c_str()) +
               " to JavaScript (supported: None, UNDEFINED, bool, int, float, str, bytes, list, "
               "tuple, dict with str keys, datetime, date, a Handle)");
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
  nb::object operator()(Handle h) const { return nb::cast(HandleRef{h.id}); }
  nb::object operator()(Date d) const { return datetime_class.attr("fromtimestamp")(d.epoch_ms / 1000.0, utc); }
  nb::object operator()(const ErrorValue &e) const {
    if (!js_error_class.is_valid()) return nb::make_tuple(e.name, e.message, e.stack);
    return js_error_class(e.name, e.message, e.stack);
  }
};

nb::object from_value(const Value &v) { return std::visit(FromValue{}, v.storage()); }

std::vector<Value> to_values(nb::handle seq) {
  std::vector<Value> out;
  size_t i = 0;
  for (nb::handle item : nb::borrow<nb::sequence>(seq)) {
    PathStep step({true, i++, nullptr});  // the arguments, as one array
    out.push_back(to_value(item, 1));
  }
  return out;
}

nb::list from_values(const std::vector<Value> &values) {
  nb::list out;
  for (const auto &v : values) out.append(from_value(v));
  return out;
}

// ---- Results ----------------------------------------------------------------------------------

/// (status, payload, console, console_dropped_bytes, unsettled_calls) with status 0 done, 1 error,
/// 2 suspended; unsettled_calls names the calls the program never awaited (Result::unsettled_calls).
/// payload: the value; (kind, name, message, stack, thrown or UNDEFINED, discarded); or a list of
/// pending calls (call_id, capability, args, needs_approval).
/// How a Python caller sets a setting of the library: the keyword argument (or the phrase for the
/// few it cannot set). A switch over every Setting, so a new one cannot go unnamed (-Wswitch).
std::string_view python_name(Setting setting) {
  switch (setting) {
    case Setting::MemoryBytes: return "memory_limit";
    case Setting::CpuTime: return "timeout";
    case Setting::WallTime: return "wall_timeout";
    case Setting::StackBytes: return "stack_limit";
    case Setting::ConsoleBytes: return "console_limit";
    case Setting::ResultBytes: return "result_limit";
    case Setting::SourceBytes: return "the source size limit";
    case Setting::MaxDepth: return "the nesting limit";
    case Setting::HostMemoryBytes: return "host_memory_limit";
    case Setting::MaxPendingCalls: return "max_pending_calls";
    case Setting::MaxTimers: return "max_timers";
    case Setting::BigIntBytes: return "bigint_limit";
    case Setting::MaxModules: return "max_modules";
    case Setting::ModuleSourceBytes: return "module_source_limit";
    case Setting::ClockStartMs: return "fixed_time_ms";
    case Setting::ClockStepUs: return "the clock's step";
    case Setting::AllowAllThreeLabels: return "Runtime(allow_all_three_labels=True)";
    case Setting::EvalCpuTime: return "timeout";
    case Setting::CallCpuTime: return "timeout";
    case Setting::CallTimeout: return "call_timeout";
    case Setting::HmacKey: return "key=";
    case Setting::MaxSandboxes: return "the engine's number of sandboxes";
    case Setting::MaxSandboxMemoryBytes: return "the engine's memory per sandbox";
    case Setting::EpochTick: return "the engine's clock tick";
  }
  return "a setting";
}

/// A library message in Python's words: the library names the setting an error is about as C++
/// spells it (Error::setting says which), a Python caller knows it by its Python name.
std::string python_wording(const Error &e) {
  if (e.setting) return e.message_naming(python_name(*e.setting));
  // The network policy's checks name its fields as C++ spells the struct; Python's Network(...)
  // takes the same field names, so only the type's spelling changes.
  static constexpr std::string_view kPolicy = "NetworkPolicy::";
  std::string message = e.message;
  for (size_t at = message.find(kPolicy); at != std::string::npos; at = message.find(kPolicy, at))
    message.replace(at, kPolicy.size(), "Network ");
  return message;
}

nb::tuple outcome(const Result &r) {
  // Most evaluations print nothing and leave no call unsettled: the empty tuple (a singleton)
  // costs nothing to make, where two empty lists would be allocated each time.
  nb::object console = nb::tuple(), unsettled = nb::tuple();
  if (!r.console.empty()) {
    nb::list lines;
    for (const auto &line : r.console) lines.append(nb::make_tuple(std::string(to_string(line.level)), line.text));
    console = std::move(lines);
  }
  if (!r.unsettled_calls.empty()) {
    nb::list names;
    for (const auto &name : r.unsettled_calls) names.append(nb::str(name.c_str(), name.size()));
    unsettled = std::move(names);
  }
  if (r.ok()) return nb::make_tuple(0, from_value(r.value()), console, r.console_dropped_bytes, unsettled);
  if (r.failed()) {
    const Error &e = r.error();
    nb::object thrown = e.thrown ? from_value(*e.thrown) : undefined_object;
    // A JavaScript exception's message is the program's own text; the rest are the library's.
    std::string message = e.kind == ErrorKind::JSException ? e.message : python_wording(e);
    return nb::make_tuple(1, nb::make_tuple(std::string(to_string(e.kind)), e.name, message, e.stack, thrown,
                                            e.instance_discarded),
                          console, r.console_dropped_bytes, unsettled);
  }
  nb::list pending;
  for (const auto &p : r.pending())
    pending.append(nb::make_tuple(p.call_id, p.capability, from_values(p.args), p.needs_approval));
  return nb::make_tuple(2, pending, console, r.console_dropped_bytes, unsettled);
}

/// Raises the package's exception for a refusal or misuse (the package maps kinds to classes).
[[noreturn]] void raise_status(const Error &e) {
  std::string message = python_wording(e);
  if (!status_error.is_valid()) throw nb::value_error(message.c_str());
  nb::object exc = status_error(std::string(to_string(e.kind)), message);
  PyErr_SetObject(reinterpret_cast<PyObject *>(Py_TYPE(exc.ptr())), exc.ptr());
  throw nb::python_error();
}

void check(const Status &s) {
  if (!s.ok()) raise_status(s.error());
}

// ---- Options ------------------------------------------------------------------------------------
//
// Every option is checked here, in the caller's vocabulary: a message names the option, the value
// given and the accepted range. The package calls these checks when an option is given (Runtime,
// Policy, new_context, eval), so nothing reaches the engine that it would refuse in its own words.

constexpr double kMaxSeconds = 30.0 * 24 * 3600;  // the engine's longest duration (30 days)
constexpr uint64_t kMiB = 1ull << 20, kGiB = 1ull << 30;
constexpr int64_t kMaxFixedTimeMs = 10'000'000'000'000;  // 2286-11-20, the engine's latest clock

/// repr(value), shortened: messages quote what the caller passed.
std::string shown(nb::handle value) {
  PyObject *repr = PyObject_Repr(value.ptr());
  if (!repr) {  // e.g. an int beyond Python's digit limit for str()
    PyErr_Clear();
    return "a " + std::string(nb::type_name(value.type()).c_str()) + " too large to show";
  }
  std::string text = nb::cast<std::string>(nb::steal<nb::str>(repr));
  return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

[[noreturn]] void bad_option(const std::string &message) {
  raise_status(Error{.kind = ErrorKind::InvalidInput, .message = message});
}

/// A whole number option: a Python int (not a bool) within [min, max].
uint64_t int_option(nb::handle value, const char *name, uint64_t min, uint64_t max, const std::string &range) {
  if (!PyLong_Check(value.ptr()) || PyBool_Check(value.ptr()))
    throw nb::type_error((std::string(name) + " must be a whole number (an int) " + range + ", got " + shown(value)).c_str());
  int overflow = 0;
  long long small = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
  uint64_t n = 0;
  bool in_range = false;
  if (!overflow && small >= 0) {
    n = static_cast<uint64_t>(small);
    in_range = n >= min && n <= max;
  } else if (overflow > 0) {
    n = PyLong_AsUnsignedLongLong(value.ptr());
    if (PyErr_Occurred()) PyErr_Clear();
    else in_range = n >= min && n <= max;
  }
  if (!in_range) bad_option(std::string(name) + " must be " + range + ", got " + shown(value));
  return n;
}

/// A duration in seconds: an int or float (not a bool), finite, between 1 ms and 30 days.
std::chrono::milliseconds seconds_option(nb::handle value, const char *name) {
  auto range = [] {  // only for a message: an eval's timeout is checked on the hot path
    return "between 0.001 and " + std::to_string(static_cast<int64_t>(kMaxSeconds)) + " seconds (30 days)";
  };
  if (PyBool_Check(value.ptr()) || !(PyLong_Check(value.ptr()) || PyFloat_Check(value.ptr())))
    throw nb::type_error((std::string(name) + " must be a number of seconds " + range() + ", got " + shown(value)).c_str());
  double seconds = PyFloat_AsDouble(value.ptr());  // an int too large for a double raises: out of range
  if (PyErr_Occurred()) {
    PyErr_Clear();
    seconds = HUGE_VAL;
  }
  if (!(seconds >= 0.001 && seconds <= kMaxSeconds)) bad_option(std::string(name) + " must be " + range() + ", got " + shown(value));
  return std::chrono::milliseconds(std::llround(seconds * 1000));
}

bool bool_option(nb::handle value, const char *name) {
  if (!PyBool_Check(value.ptr()))
    throw nb::type_error((std::string(name) + " must be True or False, got " + shown(value)).c_str());
  return value.ptr() == Py_True;
}

/// The option `key` of a dict, or None when it is absent.
nb::object option(nb::dict options, const char *key) {
  return options.contains(key) ? nb::borrow(options[key]) : nb::none();
}

/// A list of strings, for the rule lists of Network(...).
std::vector<std::string> strings_option(nb::handle value, const std::string &name) {
  std::vector<std::string> out;
  if (!nb::isinstance<nb::list>(value) && !nb::isinstance<nb::tuple>(value))
    throw nb::type_error((name + " must be a list of strings, got " + shown(value)).c_str());
  for (nb::handle item : value) {
    if (!nb::isinstance<nb::str>(item))
      throw nb::type_error((name + " must be a list of strings, got an item " + shown(item)).c_str());
    out.push_back(nb::cast<std::string>(item));
  }
  return out;
}

std::string string_option(nb::handle value, const std::string &name) {
  if (!nb::isinstance<nb::str>(value)) throw nb::type_error((name + " must be a str, got " + shown(value)).c_str());
  return nb::cast<std::string>(value);
}

/// quickbox.Network's fields (its _native() dict) as a NetworkPolicy, every field checked in
/// Python's words; secrets are read (environment, files) by the check, so a missing one fails
/// where the Network is made.
NetworkPolicy make_network(nb::dict n) {
  NetworkPolicy p;
  if (auto v = option(n, "allow"); !v.is_none()) p.allow = strings_option(v, "allow");
  if (auto v = option(n, "deny"); !v.is_none()) p.deny = strings_option(v, "deny");
  if (auto v = option(n, "approve"); !v.is_none()) p.approve = strings_option(v, "approve");
  if (auto v = option(n, "approve_unsafe_methods"); !v.is_none())
    p.approve_unsafe_methods = bool_option(v, "approve_unsafe_methods");
  if (auto v = option(n, "private_networks"); !v.is_none()) p.private_networks = strings_option(v, "private_networks");
  if (auto v = option(n, "resolve"); !v.is_none()) p.resolve = strings_option(v, "resolve");
  if (auto v = option(n, "ca_file"); !v.is_none()) p.ca_file = string_option(v, "ca_file");
  if (auto v = option(n, "max_redirects"); !v.is_none())
    p.max_redirects = static_cast<uint32_t>(int_option(v, "max_redirects", 0, 20, "between 0 and 20"));
  if (auto v = option(n, "max_request_bytes"); !v.is_none())
    p.max_request_bytes = int_option(v, "max_request_bytes", 1, kGiB, "between 1 and 1073741824 bytes (1 GiB)");
  if (auto v = option(n, "max_response_bytes"); !v.is_none())
    p.max_response_bytes = int_option(v, "max_response_bytes", 1, kGiB, "between 1 and 1073741824 bytes (1 GiB)");
  if (auto v = option(n, "timeout"); !v.is_none()) {
    p.timeout = seconds_option(v, "timeout");
    if (p.timeout > std::chrono::hours(24)) bad_option("timeout must be at most 86400 seconds (1 day), got " + shown(v));
  }
  if (auto v = option(n, "max_requests_per_eval"); !v.is_none())
    p.max_requests_per_eval =
        static_cast<uint32_t>(int_option(v, "max_requests_per_eval", 1, 1'000'000, "between 1 and 1000000"));
  if (auto v = option(n, "max_in_flight"); !v.is_none())
    p.max_in_flight = static_cast<uint32_t>(int_option(v, "max_in_flight", 1, 1000, "between 1 and 1000"));
  if (auto v = option(n, "labels"); !v.is_none())
    p.labels = static_cast<uint8_t>(int_option(v, "labels", 0, 7, "a combination of Label flags (an int between 0 and 7)"));
  if (auto v = option(n, "secrets"); !v.is_none()) {
    for (nb::handle item : v) {
      nb::dict d = nb::cast<nb::dict>(item);
      NetworkSecret secret;
      secret.match = string_option(d["host"], "Secret.host");
      if (auto f = option(d, "header"); !f.is_none()) secret.header = string_option(f, "Secret.header");
      if (auto f = option(d, "query"); !f.is_none()) secret.query = string_option(f, "Secret.query");
      if (auto f = option(d, "prefix"); !f.is_none()) secret.prefix = string_option(f, "Secret.prefix");
      if (auto f = option(d, "value"); !f.is_none()) secret.value = string_option(f, "Secret.value");
      if (auto f = option(d, "value_env"); !f.is_none()) secret.value_env = string_option(f, "Secret.value_env");
      if (auto f = option(d, "value_file"); !f.is_none()) secret.value_file = string_option(f, "Secret.value_file");
      p.secrets.push_back(std::move(secret));
    }
  }
  if (auto error = check_network_policy(p)) bad_option(error->message);
  return p;
}

/// The engine's side of quickbox._modules.ModuleLoader: both callbacks ask its dispatch() under
/// the GIL. The runtime owns the loader object and outlives its contexts' sandboxes (each Context
/// holds its Runtime), so the handle is borrowed: a sandbox dropped without the GIL must not
/// touch a reference count.
ModuleLoader make_module_loader(nb::handle holder) {
  auto ask = [holder](const char *what, std::string_view first, std::string_view second) -> std::optional<std::string> {
    nb::gil_scoped_acquire gil;
    std::string name(std::string_view(what) == "normalize" ? second : first);
    try {
      nb::tuple answer = nb::cast<nb::tuple>(holder.attr("dispatch")(what, nb::str(first.data(), first.size()),
                                                                      nb::str(second.data(), second.size())));
      std::string status = nb::cast<std::string>(answer[0]);
      if (status == "ok") return nb::cast<std::string>(answer[1]);
      if (status == "none") return std::nullopt;
      throw CapabilityError(nb::cast<std::string>(answer[2]), nb::cast<std::string>(answer[1]));
    } catch (nb::python_error &raised) {
      // dispatch() catches what the callbacks raise as Exceptions; this is a KeyboardInterrupt
      // or SystemExit, which stops the operation, or a broken loader object. JS learns only that
      // the loader failed.
      stop_for_base_exception(raised);
      throw CapabilityError("the module loader failed on '" + name + "'");
    }
  };
  ModuleLoader loader;
  loader.normalize = [ask](std::string_view base, std::string_view specifier) { return ask("normalize", base, specifier); };
  loader.load = [ask](std::string_view name) { return ask("load", name, ""); };
  return loader;
}

/// Runtime options as the engine takes them (None means the engine's default).
SandboxOptions make_options(nb::dict o) {
  SandboxOptions opts;
  const EngineOptions &limits = engine().options();
  uint64_t max_memory = limits.max_sandbox_memory_bytes / 2;
  if (auto v = option(o, "memory_limit"); !v.is_none())
    opts.limits.memory_bytes = int_option(v, "memory_limit", kMiB, max_memory,
                                          "between 1048576 and " + std::to_string(max_memory) + " bytes (1 MiB to " +
                                              std::to_string(max_memory >> 20) + " MiB)");
  if (auto v = option(o, "timeout"); !v.is_none()) opts.limits.cpu_time = seconds_option(v, "timeout");
  if (auto v = option(o, "stack_limit"); !v.is_none()) {
    uint32_t max_stack = engine().info().max_stack_bytes;
    opts.limits.stack_bytes = static_cast<uint32_t>(
        int_option(v, "stack_limit", 64 << 10, max_stack,
                   "between 65536 and " + std::to_string(max_stack) + " bytes (64 KiB to " +
                       std::to_string(max_stack >> 10) + " KiB)"));
  }
  if (auto v = option(o, "console_limit"); !v.is_none())
    opts.limits.console_bytes = int_option(v, "console_limit", 0, kGiB, "between 0 and 1073741824 bytes (1 GiB)");
  if (auto v = option(o, "result_limit"); !v.is_none())
    opts.limits.result_bytes = int_option(v, "result_limit", 64, kGiB, "between 64 and 1073741824 bytes (1 GiB)");
  if (auto v = option(o, "wall_timeout"); !v.is_none()) opts.limits.wall_time = seconds_option(v, "wall_timeout");
  if (auto v = option(o, "max_host_calls"); !v.is_none())
    opts.limits.max_host_calls =
        static_cast<uint32_t>(int_option(v, "max_host_calls", 0, UINT32_MAX, "between 0 and 4294967295"));
  if (auto v = option(o, "host_memory_limit"); !v.is_none())
    opts.limits.host_memory_bytes =
        int_option(v, "host_memory_limit", kMiB, kGiB << 10, "between 1048576 and 1099511627776 bytes (1 MiB to 1 TiB)");
  if (auto v = option(o, "max_pending_calls"); !v.is_none())
    opts.limits.max_pending_calls =
        static_cast<uint32_t>(int_option(v, "max_pending_calls", 1, 1'000'000, "between 1 and 1000000 calls"));
  if (auto v = option(o, "max_timers"); !v.is_none())
    opts.limits.max_timers =
        static_cast<uint32_t>(int_option(v, "max_timers", 0, 1'000'000, "between 0 and 1000000 timers"));
  if (auto v = option(o, "bigint_limit"); !v.is_none())
    opts.limits.bigint_bytes =
        static_cast<uint32_t>(int_option(v, "bigint_limit", 8, kMiB, "between 8 and 1048576 bytes (8 bytes to 1 MiB)"));
  if (auto v = option(o, "seed"); !v.is_none())
    opts.random_seed = int_option(v, "seed", 0, UINT64_MAX, "between 0 and 2**64 - 1");
  if (auto v = option(o, "fixed_time_ms"); !v.is_none()) {
    opts.clock.mode = Clock::Mode::Fixed;
    opts.clock.start_ms = static_cast<int64_t>(int_option(
        v, "fixed_time_ms", 0, kMaxFixedTimeMs,
        "between 0 (1970-01-01) and " + std::to_string(kMaxFixedTimeMs) + " (2286-11-20) milliseconds"));
  }
  if (auto v = option(o, "allow_all_three_labels"); !v.is_none())
    opts.allow_all_three_labels = bool_option(v, "allow_all_three_labels");
  if (auto v = option(o, "network"); !v.is_none()) opts.network = make_network(nb::cast<nb::dict>(v));
  if (auto v = option(o, "max_modules"); !v.is_none())
    opts.limits.max_modules = static_cast<uint32_t>(int_option(v, "max_modules", 1, 1'000'000, "between 1 and 1000000 modules"));
  if (auto v = option(o, "module_source_limit"); !v.is_none())
    opts.limits.module_source_bytes =
        int_option(v, "module_source_limit", 1, kGiB, "between 1 and 1073741824 bytes (1 GiB)");
  if (auto v = option(o, "modules"); !v.is_none()) opts.modules = make_module_loader(v);
  return opts;
}

CapabilityPolicy make_policy(nb::dict p) {
  CapabilityPolicy policy;
  if (auto v = option(p, "max_calls_per_eval"); !v.is_none())
    policy.max_calls_per_eval =
        static_cast<uint32_t>(int_option(v, "max_calls_per_eval", 0, UINT32_MAX, "between 0 and 4294967295"));
  if (auto v = option(p, "max_in_flight"); !v.is_none())
    policy.max_in_flight =
        static_cast<uint32_t>(int_option(v, "max_in_flight", 1, UINT32_MAX, "between 1 and 4294967295"));
  if (auto v = option(p, "call_timeout"); !v.is_none()) policy.call_timeout = seconds_option(v, "call_timeout");
  if (auto v = option(p, "max_argument_bytes"); !v.is_none())
    policy.max_argument_bytes =
        int_option(v, "max_argument_bytes", 0, kGiB, "between 0 and 1073741824 bytes (1 GiB)");
  if (auto v = option(p, "max_result_bytes"); !v.is_none())
    policy.max_result_bytes = int_option(v, "max_result_bytes", 0, kGiB, "between 0 and 1073741824 bytes (1 GiB)");
  if (auto v = option(p, "requires_approval"); !v.is_none())
    policy.requires_approval = bool_option(v, "requires_approval");
  if (auto v = option(p, "labels"); !v.is_none())
    policy.labels = static_cast<uint8_t>(
        int_option(v, "labels", 0, 7, "a combination of Label flags (an int between 0 and 7)"));
  return policy;
}

/// For the length of a sync host function's call, quickbox's call-deadline ContextVar holds the
/// evaluation's wall-clock deadline as time.monotonic() counts it (both it and steady_clock are
/// CLOCK_MONOTONIC), or None without a wall-clock limit; time_remaining() reads it.
class CallDeadline {
 public:
  explicit CallDeadline(const CallInfo &info) {
    if (!call_deadline.is_valid()) return;
    nb::object value;
    if (info.deadline) {
      value = nb::float_(std::chrono::duration<double>(info.deadline->time_since_epoch()).count());
    } else {
      PyObject *current = nullptr;  // the common case: None already, nothing to set or reset
      if (PyContextVar_Get(call_deadline.ptr(), nullptr, &current) < 0) throw nb::python_error();
      bool none = current == nullptr || current == Py_None;
      Py_XDECREF(current);
      if (none) return;
      value = nb::none();
    }
    token_ = nb::steal(PyContextVar_Set(call_deadline.ptr(), value.ptr()));
    if (!token_.is_valid()) throw nb::python_error();
  }
  ~CallDeadline() {
    if (token_.is_valid() && PyContextVar_Reset(call_deadline.ptr(), token_.ptr()) < 0) PyErr_Clear();
  }
  CallDeadline(const CallDeadline &) = delete;
  CallDeadline &operator=(const CallDeadline &) = delete;

 private:
  nb::object token_;
};

/// Values a host function commonly returns, which need no isawaitable() check.
bool plain_data(PyObject *v) {
  return v == Py_None || PyBool_Check(v) || PyLong_CheckExact(v) || PyFloat_CheckExact(v) || PyUnicode_CheckExact(v) ||
         PyList_CheckExact(v) || PyDict_CheckExact(v) || PyTuple_CheckExact(v) || PyBytes_CheckExact(v);
}

/// The value a host function returned, for JavaScript. Data converts as it is; only when that
/// fails does the package's `inbound(value)` get to replace the Handles inside it by references
/// (checking each is this context's and live), so the common case pays nothing for handles.
Value returned_value(nb::handle result, nb::handle inbound) {
  try {
    return to_value(result);
  } catch (nb::python_error &e) {
    if (!marshal_error.is_valid() || !e.matches(marshal_error)) throw;
    nb::object replaced = inbound(result);
    if (replaced.is(result)) throw;  // no Handle inside: the value cannot cross, as it said
    return to_value(replaced);
  }
}

/// Calls a sync host function with the arguments JavaScript passed (under the GIL, which the
/// caller holds). The package's `failed(exception, awaitable) -> (name, message, audit detail)`
/// says what JavaScript learns when the function raised or returned an awaitable, and keeps the
/// exception for the caller; the program sees name and message only.
Value call_host_function(nb::handle fn, nb::handle failed, nb::handle inbound, const CallInfo &info,
                         std::span<const Value> args) {
  nb::object result, exception;
  {
    std::vector<nb::object> items;
    items.reserve(args.size());
    for (const auto &a : args) items.push_back(from_value(a));
    std::vector<PyObject *> argv(items.size() + 1);  // argv[0] free for the callee (ARGUMENTS_OFFSET)
    for (size_t i = 0; i < items.size(); i++) argv[i + 1] = items[i].ptr();
    CallDeadline deadline(info);
    result = nb::steal(PyObject_Vectorcall(fn.ptr(), argv.data() + 1, items.size() | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                           nullptr));
    if (!result.is_valid()) {
      nb::python_error raised;  // takes the exception (and its traceback) off the error indicator
      exception = nb::borrow(raised.value());
    }
  }
  nb::object answer;
  if (exception.is_valid()) {
    answer = failed(exception, nb::none());
  } else if (!plain_data(result.ptr()) && nb::cast<bool>(isawaitable(result))) {
    answer = failed(nb::none(), result);
  } else {
    try {
      return returned_value(result, inbound);
    } catch (nb::python_error &e) {
      // A MarshalError says, in our words, why the value cannot cross. Anything else was raised
      // by the host's own code that converting ran (a __len__, a tzinfo): a failure of the host
      // function, whose text the program must not see.
      if (marshal_error.is_valid() && e.matches(marshal_error)) throw;
      answer = failed(nb::borrow(e.value()), nb::none());
    }
  }
  nb::tuple parts = nb::cast<nb::tuple>(answer);
  throw CapabilityError(nb::cast<std::string>(parts[1]), nb::cast<std::string>(parts[0]),
                        nb::cast<std::string>(parts[2]));
}

// ---- The sandbox --------------------------------------------------------------------------------

/// Raises what a callback of the operation that just ended raised to stop it (a
/// KeyboardInterrupt or SystemExit), if one did.
void raise_if_stopped() {
  if (!stopping_exception) return;
  nb::python_error raised = std::move(*stopping_exception);
  stopping_exception.reset();
  throw raised;
}

/// Runs f with the GIL released: guest code never needs Python, and other threads may run.
/// Raises what stopped it, if a callback raised a KeyboardInterrupt or SystemExit meanwhile.
template <typename F>
auto released(F &&f) {
  auto result = [&] {
    nb::gil_scoped_release release;
    return f();
  }();
  raise_if_stopped();
  return result;
}

/// The GIL an operation keeps while it is short (PySandbox::running_js_holding_gil): let_go, the
/// library's EvalOptions::on_running_long, releases it once, and the end of the operation takes it
/// back. One per such operation on the thread's stack: a host function may run another context's
/// plain eval inside one, which lets go and takes back what the host function holds.
class GilHeldWhileShort {
 public:
  GilHeldWhileShort() : outer_(current) { current = this; }
  ~GilHeldWhileShort() {
    if (released_) PyEval_RestoreThread(released_);
    current = outer_;
  }
  GilHeldWhileShort(const GilHeldWhileShort &) = delete;
  GilHeldWhileShort &operator=(const GilHeldWhileShort &) = delete;

  /// Called on the operation's own thread, by the library, which calls it at most once per
  /// evaluation and never while an operation nested in a host function runs: the thread holds
  /// the GIL then, as the operation's caller did.
  static void let_go() {
    if (current && !current->released_) current->released_ = PyEval_SaveThread();
  }

 private:
  static thread_local GilHeldWhileShort *current;
  GilHeldWhileShort *outer_;
  PyThreadState *released_ = nullptr;
};
thread_local GilHeldWhileShort *GilHeldWhileShort::current = nullptr;

/// Raises ConcurrentEvalError (the package maps the "Busy" kind to it).
[[noreturn]] void raise_busy(const std::string &message) {
  if (!status_error.is_valid()) throw nb::value_error(message.c_str());
  nb::object exc = status_error("Busy", message);
  PyErr_SetObject(reinterpret_cast<PyObject *>(Py_TYPE(exc.ptr())), exc.ptr());
  throw nb::python_error();
}

/// Where a sandbox's console lines go as the program prints them: the Python callable
/// set_console_listener() gave (borrowed: the PySandbox holds it in held_, and forgets it here
/// before letting it go). Shared with the sandbox's SandboxOptions::on_console, which may outlive
/// the PySandbox's reference without touching a Python reference count.
struct ConsoleTarget {
  PyObject *listener = nullptr;
  /// How many listener calls are running (under the GIL): operations they try on their own
  /// context are refused in on_console's words.
  int printing = 0;
};

/// What an operation tried from inside on_console is told.
std::string refused_from_on_console(std::string_view what) {
  return std::string(what) + " cannot run from on_console: the program that printed is stopped in console.* until "
         "on_console returns; do it after the evaluation returns";
}

/// A runtime's options parsed once (quickbox._Options): parsing the dict again for every context
/// cost about 2 µs of a 13 µs context creation. The runtime keeps one per timeout it uses.
struct ParsedOptions {
  SandboxOptions options;
};

/// Sandbox options whose console lines go to target's listener (under the GIL).
SandboxOptions listening_options(const ParsedOptions &parsed, const std::shared_ptr<ConsoleTarget> &target) {
  SandboxOptions opts = parsed.options;
  opts.on_console = [target](const ConsoleLine &line) {
    nb::gil_scoped_acquire gil;
    if (!target->listener) return;
    struct Printing {
      int &count;
      ~Printing() { count--; }
    } printing{++target->printing};
    try {
      nb::handle(target->listener)(nb::str(to_string(line.level).data(), to_string(line.level).size()),
                                   nb::str(line.text.data(), line.text.size()));
    } catch (nb::python_error &e) {
      // The package's listener handles what on_console raises itself; this is a broken listener.
      throw std::runtime_error(e.what());
    }
  };
  return opts;
}

/// How many of a sandbox's sync host functions are running, counted under the GIL and shared with
/// their handlers (which outlive no sandbox but may move with it): while one runs, the package
/// runs its context's own operations nested (Context._exclusive).
struct HostFunctionDepth {
  int running = 0;
};

class PySandbox {
 public:
  PySandbox(Sandbox sandbox, std::shared_ptr<ConsoleTarget> console)
      : sandbox_(std::move(sandbox)), console_(std::move(console)) {}

  /// May a call run while the context is busy with another on the same thread, i.e. from inside
  /// one of its host functions?
  enum class Nested { Refused, Allowed };

  /// A native operation in progress, claimed under the GIL before the GIL is released: the
  /// binding's twin of the library's in-use guard, so that misuse is refused in Python's words
  /// before the library sees it, and a close requested meanwhile waits for the operation to end.
  class Use {
   public:
    Use(PySandbox &owner, const char *what, Nested nested) : owner_(owner) {
      owner.sandbox();  // raises when closed
      unsigned long self = PyThread_get_thread_ident();
      if (owner.depth_ > 0 && owner.thread_ != self)
        raise_busy(std::string(what) + " cannot run now: another thread is running " + owner.running_ +
                   " in this context; a context is used by one thread at a time");
      if (owner.depth_ > 0 && owner.console_->printing > 0) raise_busy(refused_from_on_console(what));
      if (owner.depth_ > 0 && nested == Nested::Refused)
        raise_busy(std::string(what) + " cannot be called from inside a host function while its context runs " +
                   owner.running_ + "; call it after " + owner.running_ + " returns");
      if (owner.depth_++ == 0) {
        owner.thread_ = self;
        owner.running_ = what;
      }
      previous_running_ = std::exchange(running_sandbox, &owner.sandbox());
    }
    ~Use() {
      running_sandbox = previous_running_;
      if (--owner_.depth_ > 0) return;
      owner_.running_ = nullptr;
      if (owner_.close_requested_) owner_.close();
    }
    Use(const Use &) = delete;
    Use &operator=(const Use &) = delete;

   private:
    PySandbox &owner_;
    Sandbox *previous_running_ = nullptr;
  };

  /// Runs f, an operation that may run JavaScript, with the GIL released; on the main thread,
  /// Ctrl-C interrupts it meanwhile (sigint.hh). Every operation that can run program code goes
  /// through here: evaluations and calls, property and global reads and writes (getters,
  /// setters, proxies), converting a handle's value, and settling calls and resuming (promise
  /// reactions, thenables). The watch costs a clock read and a lock once the wakeup fd is lent.
  template <typename F>
  auto running_js(F &&f) {
    quickbox_python::SigintWatch watch(sandbox());
    return released(std::forward<F>(f));
  }

  /// running_js for an operation that keeps the GIL until the library reports it running long
  /// (EvalOptions::on_running_long, given GilHeldWhileShort::let_go): letting the GIL go and
  /// taking it back costs about as much as evaluating `1+2` in the guest, and most evaluations
  /// are that short.
  /// A long one lets the GIL go once its guest code has run 0.1 ms (noticed at the program's next
  /// interrupt check, or within an epoch tick, 2 ms, in the engine's C code: less than Python's
  /// own switch interval of 5 ms), and before it waits on a timer or an async call.
  template <typename F>
  auto running_js_holding_gil(F &&f) {
    quickbox_python::SigintWatch watch(sandbox());
    auto result = [&] {
      GilHeldWhileShort held;
      return f();
    }();
    raise_if_stopped();
    return result;
  }

  static PySandbox create(const ParsedOptions &options) {
    auto console = std::make_shared<ConsoleTarget>();
    SandboxOptions opts = listening_options(options, console);
    Engine &e = engine();
    Expected<Sandbox> s = [&] {
      nb::gil_scoped_release release;
      return Sandbox::create(e, opts);
    }();
    if (!s) raise_status(s.error());
    return PySandbox(std::move(s).value(), std::move(console));
  }

  /// Console lines go to listener(level, text) as the program prints them.
  void set_console_listener(nb::object listener) {
    console_->listener = listener.ptr();
    held_.push_back(std::move(listener));  // visible to the garbage collector, like handlers
  }

  nb::tuple eval(nb::handle code, int kind, nb::handle filename, bool strict, nb::handle timeout,
                 bool namespace_result, bool as_handle) {
    std::string_view source = text_arg(code, "code");
    EvalOptions opts;
    opts.as_handle = as_handle;
    opts.await_result = !as_handle;  // a handle holds whatever the program returned, promise included
    opts.kind = static_cast<EvalOptions::Kind>(kind);
    opts.module_namespace = namespace_result;
    opts.filename = text_arg(filename, "filename");
    opts.strict = strict;
    if (!timeout.is_none()) opts.cpu_time = seconds_option(timeout, "timeout");
    Use use(*this, "ctx.eval()", Nested::Allowed);
    Result r = running_js([&, &s = sandbox()] { return s.eval(source, opts); });
    return outcome(r);
  }

  // ---- The context's claim: which thread the package's Context is running an operation on ----
  //
  // The package's own lock, kept here so that eval_plain can take and give it back in the same
  // native call. Read and written under the GIL only, which makes claim() a test-and-set.

  /// Claims the context for the calling thread; false when some thread holds it.
  bool claim() {
    if (owner_ != 0) return false;
    owner_ = PyThread_get_thread_ident();
    return true;
  }
  void unclaim() { owner_ = 0; }
  /// The thread holding the claim, or None.
  std::optional<unsigned long> owner() const {
    return owner_ == 0 ? std::nullopt : std::optional<unsigned long>(owner_);
  }
  /// Hands a held claim to another thread (eval_async's worker runs the program meanwhile).
  void set_owner(unsigned long thread) {
    if (owner_ != 0) owner_ = thread;
  }

  /// Gives the caller's claim back when a plain operation ends, whatever happens (a
  /// KeyboardInterrupt raised as it returns must not leave the context claimed).
  struct ClaimGivenBack {
    PySandbox &owner;
    ~ClaimGivenBack() { owner.unclaim(); }
  };

  /// `ctx.eval(code)` with every option at its default, the call most programs make. It claims
  /// the context and gives the claim back whatever happens: the value itself when the evaluation
  /// just returned one (no console lines, nothing unsettled), else `not_plain`, and the whole
  /// outcome is take_outcome()'s. It saves the general path's Python (its options, the outcome
  /// tuple to build and take apart, the claim taken and given back in calls of their own) and,
  /// while the evaluation is short, letting go of the GIL and taking it back. `not_run`, with
  /// nothing done, when a thread holds the claim, or when the package's state is not `fresh`
  /// (the last operation left something the general path forgets first).
  nb::object eval_plain(nb::handle code, bool fresh) {
    static const EvalOptions defaults = [] {
      EvalOptions o;
      o.on_running_long = GilHeldWhileShort::let_go;
      return o;
    }();
    if (!fresh || !claim()) return not_run_object;
    ClaimGivenBack claim{*this};
    std::string_view source = text_arg(code, "code");
    Use use(*this, "ctx.eval()", Nested::Allowed);
    return plain_or_kept(running_js_holding_gil([&, &s = sandbox()] { return s.eval(source, defaults); }));
  }

  /// `ctx.call(name, *args)` as eval_plain runs `ctx.eval(code)`: under the caller's claim, which
  /// it gives back; the value itself, or `not_plain` and the outcome is take_outcome()'s. The
  /// GIL goes while the call runs (the library's call takes no on_running_long).
  nb::object call_plain(nb::handle function_name, nb::handle args) {
    ClaimGivenBack claim{*this};
    std::string name(text_arg(function_name, "the function's name"));
    std::vector<Value> values = to_values(args);
    Use use(*this, "ctx.call()", Nested::Allowed);
    return plain_or_kept(running_js([&, &s = sandbox()] { return s.call(name, values); }));
  }

  /// A plain operation's answer: its value when it just returned one (no console lines, no call
  /// left unsettled), else `not_plain`, keeping the whole outcome for take_outcome().
  nb::object plain_or_kept(const Result &r) {
    if (r.ok() && r.console.empty() && r.console_dropped_bytes == 0 && r.unsettled_calls.empty())
      return r.value().is_undefined() ? nb::none() : from_value(r.value());
    last_outcome_ = outcome(r);
    return not_plain_object;
  }

  /// The outcome eval_plain() or call_plain() did not return, once.
  nb::object take_outcome() { return std::exchange(last_outcome_, nb::none()); }

  nb::tuple call(nb::handle function_name, nb::handle args) {
    std::string name(text_arg(function_name, "the function's name"));
    std::vector<Value> values = to_values(args);
    Use use(*this, "ctx.call()", Nested::Allowed);
    Result r = running_js([&, &s = sandbox()] { return s.call(name, values); });
    return outcome(r);
  }

  // ---- Handles: each is one operation of the library's; ids are checked by the guest ----

  nb::tuple get_property(uint32_t id, nb::handle key) {
    Value k = to_value(key);
    Use use(*this, "Handle.get()", Nested::Allowed);
    return outcome(running_js([&, &s = sandbox()] { return s.get_property(Handle{id}, k); }));
  }
  nb::tuple set_property(uint32_t id, nb::handle key, nb::handle value) {
    Value k = to_value(key), v = to_value(value);
    Use use(*this, "Handle.set()", Nested::Allowed);
    return outcome(running_js([&, &s = sandbox()] { return s.set_property(Handle{id}, k, v); }));
  }
  /// An outcome like the other operations': a `has` trap that throws is the program's exception
  /// (JSError, with its name and stack), not a refusal of the call.
  nb::tuple has_property(uint32_t id, nb::handle key) {
    Value k = to_value(key);
    Use use(*this, "Handle.has()", Nested::Allowed);
    auto r = running_js([&, &s = sandbox()] { return s.has_property(Handle{id}, k); });
    return outcome(r ? Result::done(Value(r.value())) : Result::failure(r.error()));
  }
  nb::tuple call_handle(uint32_t id, nb::handle args) {
    std::vector<Value> values = to_values(args);
    Use use(*this, "Handle.call()", Nested::Allowed);
    return outcome(running_js([&, &s = sandbox()] { return s.call_handle(Handle{id}, values); }));
  }
  nb::tuple call_method(uint32_t id, nb::handle method, nb::handle args) {
    std::string name(text_arg(method, "the method's name"));
    std::vector<Value> values = to_values(args);
    Use use(*this, "Handle.call_method()", Nested::Allowed);
    return outcome(running_js([&, &s = sandbox()] { return s.call_method(Handle{id}, name, values); }));
  }
  nb::tuple construct(uint32_t id, nb::handle args) {
    std::vector<Value> values = to_values(args);
    Use use(*this, "Handle.new()", Nested::Allowed);
    return outcome(running_js([&, &s = sandbox()] { return s.construct(Handle{id}, values); }));
  }
  nb::tuple await_handle(uint32_t id) {
    Use use(*this, "Handle.await_promise()", Nested::Allowed);
    return outcome(running_js([&, &s = sandbox()] { return s.await_handle(Handle{id}); }));
  }
  nb::tuple handle_value(uint32_t id, bool pin_opaque) {
    Use use(*this, "Handle.to_python()", Nested::Allowed);
    return outcome(running_js([&, &s = sandbox()] { return s.to_value(Handle{id}, pin_opaque); }));
  }
  nb::tuple describe(uint32_t id) {
    Use use(*this, "Handle.type_of", Nested::Allowed);
    auto r = released([&, &s = sandbox()] { return s.handle_info(Handle{id}); });
    if (!r) raise_status(r.error());
    return nb::make_tuple(r.value().type, r.value().is_promise);
  }
  nb::tuple duplicate(uint32_t id) {
    Use use(*this, "Handle.dup()", Nested::Allowed);
    return outcome(released([&, &s = sandbox()] { return s.duplicate(Handle{id}); }));
  }
  void release(uint32_t id) {
    Use use(*this, "Handle.dispose()", Nested::Allowed);
    check(released([&, &s = sandbox()] { return s.release(Handle{id}); }));
  }

  nb::tuple get_global(nb::handle global) {
    std::string name(text_arg(global, "a global's name"));
    Use use(*this, "reading ctx.globals", Nested::Allowed);
    Result r = running_js([&, &s = sandbox()] { return s.get_global(name); });
    return outcome(r);
  }

  nb::tuple set_global(nb::handle global, nb::handle value) {
    std::string name(text_arg(global, "a global's name"));
    Value v = to_value(value);
    Use use(*this, "writing ctx.globals", Nested::Allowed);
    Result r = running_js([&, &s = sandbox()] { return s.set_global(name, v); });
    return outcome(r);
  }

  /// fn(*args) is called under the GIL for each call; failed(exception, awaitable) -> (name,
  /// message, audit detail) when it raises or returns an awaitable, and inbound(value) when what
  /// it returned holds Handles (call_host_function).
  void register_sync(nb::handle function_name, nb::object fn, nb::object failed, nb::object inbound,
                     nb::dict policy) {
    std::string name(text_arg(function_name, "a host function's name"));
    CapabilityPolicy native_policy = make_policy(policy);
    Use use(*this, "ctx.register()", Nested::Refused);
    // held_ owns the only references, where the garbage collector sees them (tp_traverse); the
    // handler borrows them, so destroying handlers never touches Python reference counts.
    held_.push_back(fn);
    held_.push_back(failed);
    held_.push_back(inbound);
    auto handler = [fn = nb::handle(fn.ptr()), failed = nb::handle(failed.ptr()), inbound = nb::handle(inbound.ptr()),
                    depth = host_functions_](const CallInfo &info, std::span<const Value> args) -> Value {
      nb::gil_scoped_acquire gil;
      depth->running++;
      struct Leave {
        HostFunctionDepth &depth;
        ~Leave() { depth.running--; }
      } leave{*depth};
      try {
        return call_host_function(fn, failed, inbound, info, args);
      } catch (nb::python_error &e) {
        // The result cannot cross: JS gets a TypeError saying why, in our words. Anything else
        // comes from the package's failure handler failing, and only the fixed host error text
        // may reach the program.
        if (marshal_error.is_valid() && e.matches(marshal_error))
          throw CapabilityError(nb::cast<std::string>(nb::str(e.value())), "TypeError");
        throw CapabilityError(host_error_message, host_error_name);
      }
    };
    check(sandbox().register_capability(Capability::sync(name, std::move(handler), native_policy)));
  }

  void register_external(nb::handle function_name, nb::dict policy) {
    std::string name(text_arg(function_name, "a host function's name"));
    CapabilityPolicy native_policy = make_policy(policy);
    Use use(*this, "ctx.register()", Nested::Refused);
    check(sandbox().register_capability(Capability::external(name, native_policy)));
  }

  // Answers are allowed from a host function: the library hands them to the program when the
  // running operation returns to its driving loop.
  void resolve(nb::handle call_id, nb::handle value) {
    uint32_t id = call_id_arg(call_id);
    Value v = to_value(value);
    Use use(*this, "ctx.resolve()", Nested::Allowed);
    check(running_js([&, &s = sandbox()] { return s.resolve(id, v); }));
  }
  void reject(nb::handle call_id, nb::handle error_message, nb::handle error_name, bool timed_out,
              nb::handle detail) {
    uint32_t id = call_id_arg(call_id);
    std::string message = report_text(error_message, "the error's message"), name = report_text(error_name, "the error's name");
    std::optional<std::string> audit_detail;
    if (!detail.is_none()) audit_detail = report_text(detail, "the audit detail");
    CallOutcome outcome = timed_out ? CallOutcome::Timeout : CallOutcome::Error;
    Use use(*this, "ctx.reject()", Nested::Allowed);
    check(running_js([&, &s = sandbox()] { return s.reject(id, message, name, outcome, audit_detail); }));
  }
  void approve(nb::handle call_id) {
    uint32_t id = call_id_arg(call_id);
    Use use(*this, "ctx.approve()", Nested::Allowed);
    check(sandbox().approve(id));
  }
  void deny(nb::handle call_id, nb::handle why) {
    uint32_t id = call_id_arg(call_id);
    std::string reason = report_text(why, "reason");
    Use use(*this, "ctx.deny()", Nested::Allowed);
    check(running_js([&, &s = sandbox()] { return s.deny(id, reason); }));
  }
  nb::tuple resume() {
    Use use(*this, "ctx.resume()", Nested::Refused);
    Result r = running_js([&, &s = sandbox()] { return s.resume(); });
    return outcome(r);
  }
  void abandon() {
    Use use(*this, "ctx.abandon()", Nested::Refused);
    check(released([&, &s = sandbox()] { return s.abandon(); }));
  }

  /// Seconds until the suspended evaluation's next timer is due, or None.
  nb::object next_timer() {
    Use use(*this, "ctx.resume()", Nested::Allowed);
    auto in = sandbox().next_timer();
    if (!in) return nb::none();
    return nb::float_(std::chrono::duration<double>(*in).count());
  }

  nb::list pending() {
    Use use(*this, "ctx.pending", Nested::Allowed);
    nb::list out;
    for (const auto &p : sandbox().pending_calls())
      out.append(nb::make_tuple(p.call_id, p.capability, from_values(p.args), p.needs_approval));
    return out;
  }

  nb::list audit_log() {
    Use use(*this, "ctx.audit_log", Nested::Allowed);
    nb::list out;
    for (const auto &e : sandbox().audit_log()) {
      double start = std::chrono::duration<double>(e.start.time_since_epoch()).count();
      nb::list requests;
      for (const auto &r : e.requests)
        requests.append(nb::make_tuple(r.method, r.url, r.status, r.request_bytes, r.response_bytes,
                                       std::chrono::duration<double>(r.duration).count(), r.error));
      out.append(nb::make_tuple(e.capability, e.call_id, e.argument_bytes, e.argument_digest, start,
                                std::chrono::duration<double>(e.duration).count(),
                                std::string(to_string(e.outcome)), e.detail, requests));
    }
    return out;
  }

  nb::bytes snapshot(std::optional<nb::bytes> key) {
    SnapshotOptions opts;
    if (key) opts.hmac_key.assign(static_cast<const uint8_t *>(key->data()),
                                  static_cast<const uint8_t *>(key->data()) + key->size());
    Use use(*this, "ctx.create_snapshot()", Nested::Refused);
    auto bytes = released([&, &s = sandbox()] { return s.snapshot(opts); });
    if (!bytes) raise_status(bytes.error());
    return nb::bytes(reinterpret_cast<const char *>(bytes.value().data()), bytes.value().size());
  }

  static PySandbox restore(nb::bytes data, const ParsedOptions &options, std::optional<nb::bytes> key) {
    auto all = fork(data, 1, options, key);
    return std::move(all.front());
  }

  static std::vector<PySandbox> fork(nb::bytes data, size_t count, const ParsedOptions &options,
                                     std::optional<nb::bytes> key) {
    RestoreOptions ropts;
    if (key) ropts.hmac_key.assign(static_cast<const uint8_t *>(key->data()),
                                   static_cast<const uint8_t *>(key->data()) + key->size());
    std::span<const uint8_t> bytes(static_cast<const uint8_t *>(data.data()), data.size());
    Engine &e = engine();
    if (count == 0) {  // nothing to restore, but the snapshot is still checked
      Expected<std::vector<Sandbox>> none = [&] {
        nb::gil_scoped_release release;
        return Sandbox::fork(e, bytes, 0, options.options, ropts);
      }();
      if (!none) raise_status(none.error());
      return {};
    }
    // One restore per sandbox, each with its own console target (each context listens on its own).
    std::vector<PySandbox> out;
    for (size_t i = 0; i < count; i++) {
      auto console = std::make_shared<ConsoleTarget>();
      SandboxOptions opts = listening_options(options, console);
      Expected<Sandbox> s = [&] {
        nb::gil_scoped_release release;
        return Sandbox::restore(e, bytes, opts, ropts);
      }();
      if (!s) raise_status(s.error());
      out.emplace_back(std::move(s).value(), std::move(console));
    }
    return out;
  }

  nb::dict memory_usage(bool collect_garbage) {
    Use use(*this, "ctx.memory_usage()", Nested::Allowed);
    auto usage = released([&, &s = sandbox()] { return s.memory_usage(collect_garbage); });
    if (!usage) raise_status(usage.error());
    nb::dict d;
    d["malloc_size"] = usage.value().js_malloc_bytes;
    d["malloc_limit"] = usage.value().js_malloc_limit;
    d["obj_count"] = usage.value().js_object_count;
    d["linear_memory"] = usage.value().linear_memory_bytes;
    for (const auto &[key, value] : usage.value().quickjs)
      if (!d.contains(key.c_str())) d[key.c_str()] = value;
    return d;
  }

  /// Stops the running evaluation soon (it ends in Timeout, "the evaluation was interrupted").
  /// Claims nothing, so any thread may call it while another evaluates (the library allows it).
  void interrupt() {
    if (sandbox_) sandbox_->interrupt();
  }

  bool suspended() { return sandbox().suspended(); }
  bool discarded() { return sandbox().discarded(); }
  nb::tuple reset() {
    Use use(*this, "ctx.reset()", Nested::Refused);
    Result r = released([&, &s = sandbox()] { return s.reset(); });
    return outcome(r);
  }

  /// Closes now, or, while an operation of this context runs (on this thread, from inside a host
  /// function, or when the runtime closes while another thread evaluates), as soon as it returns.
  /// Returns True when closed now. A close from another thread is refused unless `when_idle`.
  bool request_close(bool when_idle) {
    if (!sandbox_) return true;
    if (depth_ > 0) {
      if (thread_ != PyThread_get_thread_ident() && !when_idle)
        raise_busy(std::string("ctx.close() cannot run now: another thread is running ") + running_ +
                   " in this context; close it after that returns (Runtime.close() waits for it)");
      close_requested_ = true;
      return false;
    }
    close();
    return true;
  }

  /// Destroys the sandbox (with the GIL released unless called from the garbage collector), then
  /// drops the Python objects its handlers borrowed. Only when no operation runs (see Use).
  void close(bool release_gil = true) {
    close_requested_ = false;
    std::optional<Sandbox> doomed = std::move(sandbox_);
    sandbox_.reset();
    if (release_gil) {
      nb::gil_scoped_release release;
      doomed.reset();
    }
    doomed.reset();
    console_->listener = nullptr;
    held_.clear();
    last_outcome_ = nb::none();
  }
  bool closed() const { return !sandbox_.has_value(); }
  /// Whether one of this sandbox's sync host functions is running (on the thread running it).
  bool in_host_function() const { return host_functions_->running > 0; }
  /// Whether the context's on_console listener is running (the program waits in console.*).
  bool in_console_listener() const { return console_->printing > 0; }
  /// True while a native operation of this context runs (on any thread).
  bool busy() const { return depth_ > 0; }

  /// Python objects the sandbox's handlers refer to, for the garbage collector.
  const std::vector<nb::object> &held() const { return held_; }

 private:
  Sandbox &sandbox() {
    if (!sandbox_) raise_status(Error{.kind = ErrorKind::InvalidInput, .message = "the context is closed"});
    return *sandbox_;
  }

  std::optional<Sandbox> sandbox_;
  std::shared_ptr<ConsoleTarget> console_;
  std::shared_ptr<HostFunctionDepth> host_functions_ = std::make_shared<HostFunctionDepth>();
  std::vector<nb::object> held_;
  nb::object last_outcome_ = nb::none();  // eval_plain's, until take_outcome()
  // The operation in progress; read and written under the GIL only.
  unsigned long thread_ = 0;
  const char *running_ = nullptr;
  int depth_ = 0;
  bool close_requested_ = false;
  unsigned long owner_ = 0;  // claim()'s thread, 0 when unclaimed
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
  if (!quickbox_python::init_sigint_watch()) throw nb::python_error();
  nb::class_<HandleRef>(m, "_HandleRef", "A value pinned in a sandbox, by id; wrapped by quickbox.Handle.")
      .def(nb::init<uint32_t>(), "id"_a)
      .def_ro("id", &HandleRef::id)
      .def("__repr__", [](const HandleRef &h) { return "_HandleRef(" + std::to_string(h.id) + ")"; });
  nb::class_<UndefinedType>(m, "Undefined", "The type of quickbox.UNDEFINED (JavaScript's undefined).")
      .def("__repr__", [](const UndefinedType &) { return "UNDEFINED"; })
      .def("__bool__", [](const UndefinedType &) { return false; });
  undefined_object = nb::cast(UndefinedType{});
  not_plain_object = nb::steal(PyObject_CallNoArgs(reinterpret_cast<PyObject *>(&PyBaseObject_Type)));
  m.attr("NOT_PLAIN") = not_plain_object;
  not_run_object = nb::steal(PyObject_CallNoArgs(reinterpret_cast<PyObject *>(&PyBaseObject_Type)));
  PyObject *context_base = quickbox_python::make_context_base_type(not_run_object.ptr(), not_plain_object.ptr());
  if (!context_base) throw nb::python_error();
  m.attr("_ContextBase") = nb::steal(context_base);
  {
    nb::module_ datetime = nb::module_::import_("datetime");
    datetime_class = datetime.attr("datetime");
    date_class = datetime.attr("date");
    utc = datetime.attr("timezone").attr("utc");
    unix_epoch = datetime_class(1970, 1, 1, "tzinfo"_a = utc);
    one_millisecond = datetime.attr("timedelta")("milliseconds"_a = 1);
  }
  m.attr("UNDEFINED") = undefined_object;
  m.def("_set_error_classes", [](nb::object js_error, nb::object marshal, nb::object status) {
    js_error_class = std::move(js_error);
    marshal_error = std::move(marshal);
    status_error = std::move(status);
  });
  m.def("_set_host_error_text", [](std::string name, std::string message) {
    host_error_name = std::move(name);
    host_error_message = std::move(message);
  }, "Installs the name and message the program sees for a host function's failure.");
  m.def("_set_call_deadline", [](nb::object var) { call_deadline = std::move(var); }, "var"_a,
        "Installs the ContextVar that sync host functions find their evaluation's deadline in.");
  isawaitable = nb::module_::import_("inspect").attr("isawaitable");
  // The module-level references go when the module's own attributes do, so that finalizers the
  // interpreter runs while it shuts down (a __del__ evaluating, collected cycles) still find
  // them; an atexit hook dropped them first, and such a finalizer failed with std::bad_cast.
  m.attr("_release_module_references") = nb::capsule(&undefined_object, [](void *) noexcept {
    js_error_class = marshal_error = status_error = nb::object();
    undefined_object = nb::object();
    datetime_class = date_class = utc = unix_epoch = one_millisecond = nb::object();
    call_deadline = isawaitable = nb::object();
  });
  m.def("engine_info", &engine_info);
  quickbox_python::define_library_timer(m, &engine);
  m.def(
      "_configure_engine",
      [](nb::handle max_sandboxes, nb::handle warm_sandboxes, nb::handle prefaulted_sandboxes) {
        if (engine_started)
          raise_status(Error{.kind = ErrorKind::InvalidInput,
                             .message = "configure_engine() must be called before the first Runtime is "
                                        "created: the engine of this process already exists"});
        EngineOptions options = engine_options;
        if (!max_sandboxes.is_none())
          options.max_sandboxes = static_cast<uint32_t>(
              int_option(max_sandboxes, "max_sandboxes", 1, 100000, "between 1 and 100000"));
        if (!warm_sandboxes.is_none())
          options.warm_sandboxes = static_cast<uint32_t>(
              int_option(warm_sandboxes, "warm_sandboxes", 0, 100000, "between 0 and 100000"));
        if (!prefaulted_sandboxes.is_none())
          options.prefaulted_sandboxes = static_cast<uint32_t>(
              int_option(prefaulted_sandboxes, "prefaulted_sandboxes", 0, 100000, "between 0 and 100000"));
        engine_options = options;
        return nb::make_tuple(options.max_sandboxes, std::min(options.warm_sandboxes, options.max_sandboxes));
      },
      "max_sandboxes"_a.none(), "warm_sandboxes"_a.none(), "prefaulted_sandboxes"_a.none() = nb::none(),
      "Sets the engine's pool before its first use; returns the (max_sandboxes, warm_sandboxes) in force.");
  nb::class_<ParsedOptions>(m, "_Options",
                            "A runtime's options, checked and parsed once for the sandboxes it creates.")
      .def(
          "__init__", [](ParsedOptions *self, nb::dict options) { new (self) ParsedOptions{make_options(options)}; },
          "options"_a, "Raises when an option is out of range (the message names it, its value and the range).");
  m.def("check_network", [](nb::dict network) { make_network(network); }, "network"_a,
        "Checks quickbox.Network's fields (and reads its secrets) as a runtime would.");
  m.def("check_policy", [](nb::dict policy) { make_policy(policy); }, "policy"_a,
        "Raises when a policy option is out of range.");
  m.def("check_seconds", [](nb::handle value, const char *name) { seconds_option(value, name); }, "value"_a.none(),
        "name"_a, "Raises unless value is a number of seconds the engine accepts.");
  m.def(
      "transform_source",
      [](const std::string &source, int language, bool module, bool const_to_var, const std::string &filename) {
        TransformOptions options;
        options.language = static_cast<SourceLanguage>(language);
        options.module = module;
        options.top_level_const_to_var = const_to_var;
        options.filename = filename;
        Expected<std::string> js = [&] {
          nb::gil_scoped_release release;
          return transform_source(source, options);
        }();
        if (js) return nb::make_tuple(0, js.value());
        const Error &e = js.error();
        std::string message = e.kind == ErrorKind::JSException ? e.message : python_wording(e);
        return nb::make_tuple(1, nb::make_tuple(std::string(to_string(e.kind)), e.name, message, e.stack,
                                                undefined_object, false));
      },
      "source"_a, "language"_a, "module"_a, "const_to_var"_a, "filename"_a,
      "Strips TypeScript / rewrites top-level const (quickbox/typescript.hh): (0, js) or (1, error).");
  m.def("inspect_snapshot", &snapshot_info, "data"_a, "key"_a = nb::none());
  m.def("to_value_roundtrip", [](nb::handle h) { return from_value(to_value(h)); }, "value"_a.none(),
        "Converts a Python value to a quickbox Value and back (for tests).");

  nb::class_<PySandbox>(m, "_Sandbox", nb::type_slots(sandbox_slots))
      .def_static("create", &PySandbox::create, "options"_a)
      .def_static("restore", &PySandbox::restore, "data"_a, "options"_a, "key"_a = nb::none())
      .def_static("fork", &PySandbox::fork, "data"_a, "count"_a, "options"_a, "key"_a = nb::none())
      .def("eval", &PySandbox::eval, "code"_a.none(), "kind"_a, "filename"_a.none(), "strict"_a, "timeout"_a.none() = nb::none(),
           "namespace"_a = false, "as_handle"_a = false)
      .def("eval_plain", &PySandbox::eval_plain, "code"_a.none(), "fresh"_a)
      .def("call_plain", &PySandbox::call_plain, "name"_a.none(), "args"_a)
      .def("take_outcome", &PySandbox::take_outcome)
      .def("claim", &PySandbox::claim)
      .def("unclaim", &PySandbox::unclaim)
      .def("owner", &PySandbox::owner)
      .def("set_owner", &PySandbox::set_owner, "thread"_a)
      .def("get_property", &PySandbox::get_property, "id"_a, "key"_a.none())
      .def("set_property", &PySandbox::set_property, "id"_a, "key"_a.none(), "value"_a.none())
      .def("has_property", &PySandbox::has_property, "id"_a, "key"_a.none())
      .def("call_handle", &PySandbox::call_handle, "id"_a, "args"_a)
      .def("call_method", &PySandbox::call_method, "id"_a, "name"_a.none(), "args"_a)
      .def("construct", &PySandbox::construct, "id"_a, "args"_a)
      .def("await_handle", &PySandbox::await_handle, "id"_a)
      .def("handle_value", &PySandbox::handle_value, "id"_a, "pin_opaque"_a)
      .def("describe", &PySandbox::describe, "id"_a)
      .def("duplicate", &PySandbox::duplicate, "id"_a)
      .def("release", &PySandbox::release, "id"_a)
      .def("call", &PySandbox::call, "name"_a.none(), "args"_a)
      .def("get_global", &PySandbox::get_global, "name"_a.none())
      .def("set_global", &PySandbox::set_global, "name"_a.none(), "value"_a.none())
      .def("register_sync", &PySandbox::register_sync, "name"_a.none(), "fn"_a, "failed"_a, "inbound"_a, "policy"_a)
      .def("register_external", &PySandbox::register_external, "name"_a.none(), "policy"_a)
      .def("resolve", &PySandbox::resolve, "call_id"_a.none(), "value"_a.none())
      .def("reject", &PySandbox::reject, "call_id"_a.none(), "message"_a.none(), "name"_a.none(), "timed_out"_a = false,
           "audit_detail"_a.none() = nb::none())
      .def("approve", &PySandbox::approve, "call_id"_a.none())
      .def("deny", &PySandbox::deny, "call_id"_a.none(), "reason"_a.none())
      .def("resume", &PySandbox::resume)
      .def("abandon", &PySandbox::abandon)
      .def("pending", &PySandbox::pending)
      .def("next_timer", &PySandbox::next_timer)
      .def("audit_log", &PySandbox::audit_log)
      .def("snapshot", &PySandbox::snapshot, "key"_a = nb::none())
      .def("memory_usage", &PySandbox::memory_usage, "collect_garbage"_a = false)
      .def("suspended", &PySandbox::suspended)
      .def("discarded", &PySandbox::discarded)
      .def("reset", &PySandbox::reset)
      .def("close", &PySandbox::request_close, "when_idle"_a = false)
      .def("closed", &PySandbox::closed)
      .def("busy", &PySandbox::busy)
      .def("in_host_function", &PySandbox::in_host_function)
      .def("in_console_listener", &PySandbox::in_console_listener)
      .def_static("refused_from_on_console", [](std::string what) { return refused_from_on_console(what); })
      .def("interrupt", &PySandbox::interrupt)
      .def("set_console_listener", &PySandbox::set_console_listener, "listener"_a);
}
