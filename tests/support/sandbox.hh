// The shared setup of the specifications that drive a Sandbox inside the test process: one engine
// per test binary (as a real process would have), sandboxes made from it, and evaluations that
// must end a given way, failing the test with the source and what it produced when they do not.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "quickbox/quickbox.hh"
#include "printers.hh"
#include "text.hh"

namespace quickbox::test_support {

/// One engine for the whole test binary.
inline const Engine &engine() {
  static const Engine shared = Engine::create().unwrap();
  return shared;
}

inline Sandbox make_sandbox(const SandboxOptions &options = {}) { return Sandbox::create(engine(), options).unwrap(); }

/// A result as one line for a failure message, with everything a reader needs to see why.
inline std::string describe(const Result &r) {
  if (r.ok()) return "Done(" + to_json(r.value()) + ")";
  if (r.is_suspended()) return "Suspended(" + std::to_string(r.pending().size()) + " pending)";
  const Error &e = r.error();
  return "Error(" + std::string(to_string(e.kind)) + ", name '" + e.name + "', message '" + e.message + "'" +
         (e.instance_discarded ? ", instance discarded" : "") + ")";
}

/// Evaluates and requires a Done result; returns its value.
inline Value eval_ok(Sandbox &sandbox, std::string_view source, const EvalOptions &options = {}) {
  Result r = sandbox.eval(source, options);
  EXPECT_TRUE(r.ok()) << source << "\n  -> " << describe(r);
  return r.ok() ? r.value() : Value();
}

/// Evaluates and requires an Error result (not Done, not Suspended); returns the error.
inline Error eval_error(Sandbox &sandbox, std::string_view source, const EvalOptions &options = {}) {
  Result r = sandbox.eval(source, options);
  EXPECT_TRUE(r.failed()) << source << "\n  -> " << describe(r);
  return r.failed() ? r.error() : Error{};
}

}  // namespace quickbox::test_support
