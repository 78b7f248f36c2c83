// Timing the library's eval in the Python process, as quickbox-bench times it in its own.
//
// The Python/C++ ratios compare_peers.py checks were taken from two processes a few seconds
// apart, and on a shared VM the speed of everything can change by half between them: two runs of
// one build put the eval ratio at 1.59x and 2.18x against quickbox-bench, where the library timed
// in the Python process gave 1.47x. Samples taken in alternating batches in one process see the
// same machine.

#include "library_timer.hh"

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "quickbox/quickbox.hh"

namespace nb = nanobind;
using namespace nb::literals;

namespace quickbox_python {

namespace {

/// A sandbox made as quickbox-bench makes its own: the library's default options and a sync
/// capability `noop` (C++) that returns its first argument.
class LibraryTimer {
 public:
  explicit LibraryTimer(quickbox::Engine &engine) : engine_(engine) {}

  /// `count` wall-clock samples (ns) of `sandbox.eval(code)`. Each sample times `calls` evaluations
  /// back to back and is their mean: with 1, each call is timed alone around the library's call, as
  /// quickbox-bench times its `eval 1+2` and `sync call, single`; with more, the clock's own cost
  /// (two readings a sample) is spread over them, as a Python loop timed with `timeit` spreads its.
  std::vector<int64_t> samples(const std::string &code, uint32_t count, uint32_t calls) {
    if (calls < 1) throw std::invalid_argument("calls must be at least 1");
    // The GIL goes while it times, so another thread could reach the same sandbox meanwhile.
    std::unique_lock timing(timing_, std::try_to_lock);
    if (!timing.owns_lock()) throw std::runtime_error("this _LibraryTimer is timing on another thread");
    nb::gil_scoped_release release;  // quickbox-bench has no GIL to hold
    std::vector<int64_t> out;
    out.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      quickbox::Sandbox &sandbox = ready();
      auto start = std::chrono::steady_clock::now();
      for (uint32_t call = 0; call < calls; ++call) {
        quickbox::Result result = sandbox.eval(code);
        if (!result.ok()) [[unlikely]]
          throw std::runtime_error("`" + code + "` did not return a value: " +
                                   (result.failed() ? result.error().to_string() : "it suspended"));
      }
      auto took = std::chrono::steady_clock::now() - start;
      out.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count() / calls);
    }
    return out;
  }

 private:
  // The audit log keeps every call: replaced once long, outside the timed region.
  static constexpr size_t kMaxAuditEntries = 20'000;

  quickbox::Sandbox &ready() {
    if (!sandbox_ || sandbox_->audit_log().size() > kMaxAuditEntries) replace();
    return *sandbox_;
  }

  void replace() {
    sandbox_.reset();
    quickbox::Expected<quickbox::Sandbox> made = quickbox::Sandbox::create(engine_);
    if (!made) throw std::runtime_error("creating the timing sandbox: " + made.error().message);
    sandbox_.emplace(std::move(made).value());
    auto noop = [](const quickbox::CallInfo &, std::span<const quickbox::Value> args) {
      return args.empty() ? quickbox::Value() : args.front();
    };
    if (quickbox::Status registered = sandbox_->register_capability(quickbox::Capability::sync("noop", noop));
        !registered)
      throw std::runtime_error("registering noop: " + registered.error().message);
    // Its first operations touch pages still shared with the base image: not in the samples.
    for (int i = 0; i < 2; ++i) sandbox_->eval("noop(1)");
  }

  quickbox::Engine &engine_;
  std::optional<quickbox::Sandbox> sandbox_;
  std::mutex timing_;
};

}  // namespace

void define_library_timer(nb::module_ &module, quickbox::Engine &(*engine)()) {
  nb::class_<LibraryTimer>(module, "_LibraryTimer",
                           "The library's own eval timed in this process, for bench/compare_peers.py.")
      .def("__init__", [engine](LibraryTimer *self) { new (self) LibraryTimer(engine()); })
      .def("samples", &LibraryTimer::samples, "code"_a, "count"_a, "calls"_a = 1,
           "count wall-clock samples (ns) of the library's eval of code, each the mean of calls "
           "evaluations timed together (1: each timed alone); the sandbox has a C++ sync "
           "capability noop(x) returning x.");
}

}  // namespace quickbox_python
