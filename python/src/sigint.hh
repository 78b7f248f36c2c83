// Ctrl-C during an operation that runs JavaScript on Python's main thread (sigint.cc).
#pragma once

#include "quickbox/sandbox.hh"

namespace quickbox_python {

/// Finds Python's main thread (signal handlers only ever run there) and the wakeup fd's setter.
/// Called once, at import, with the GIL held; false with a Python exception set on failure.
bool init_sigint_watch();

/// While alive on the main thread, Ctrl-C interrupts `sandbox` at once (the operation ends in
/// Timeout, and Python raises KeyboardInterrupt as soon as the thread is back in Python); on
/// any other thread it does nothing. Made and destroyed with the GIL held; `sandbox` must
/// outlive it. Nests: an inner watch (an evaluation of another context from inside a host
/// function) takes over until it ends.
class SigintWatch {
 public:
  explicit SigintWatch(quickbox::Sandbox &sandbox);
  ~SigintWatch();
  SigintWatch(const SigintWatch &) = delete;
  SigintWatch &operator=(const SigintWatch &) = delete;

 private:
  bool armed_ = false;
  quickbox::Sandbox *previous_ = nullptr;
};

}  // namespace quickbox_python
