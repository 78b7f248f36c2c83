// Who is using a sandbox right now. Every public Sandbox operation takes a UseGuard first, so a
// second thread is refused (or, for host-side reads, waits), and a host function calling back
// into its own sandbox gets only what may run there: a nested operation, which sets the running
// one aside in the guest (Sandbox::Impl::Nesting), or host-side work the running one tolerates.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include "quickbox/result.hh"

namespace quickbox::internal {

/// What an operation does to a sandbox, which decides whether it may run while the sandbox is busy.
enum class Access {
  /// Enters the guest or changes what the running operation holds: refused while another
  /// operation runs, on any thread.
  Exclusive,
  /// Enters the guest for an operation that can run nested inside a host function of the running
  /// operation (eval, call, globals, handles): refused from another thread; from inside a host
  /// function it runs nested, and Sandbox::Impl::Nesting sets the running operation aside.
  Nestable,
  /// Changes host-side state only, in a way the running operation tolerates: allowed from
  /// inside a host function of the running operation; refused from another thread.
  Reentrant,
  /// Reads host-side state: at once from inside a host function; from another thread it waits
  /// for the running operation to return (such calls have no way to report a refusal).
  Read,
};

/// The in-use state of one sandbox: which thread runs which operation, and how deep its host
/// functions have called back in.
class SandboxUse {
 public:
  /// Claims the sandbox for `operation` on this thread, or returns the error that refuses it.
  /// `nested` is set to whether the claim is nested() (one lock, where asking after took another).
  std::optional<Error> enter(const char *operation, Access access, bool &nested);
  /// Ends a claim. True when the last claim ended and the sandbox was retired meanwhile: the
  /// caller then destroys it.
  bool leave();
  /// Called when the sandbox is about to be destroyed. Waits for another thread's operation to
  /// return; from inside a host function of this sandbox it cannot wait, so it returns true and
  /// the outermost operation destroys the sandbox when it returns (see leave()).
  bool retire();
  /// True when the operation this thread just entered was called from inside a host function of
  /// another operation of this sandbox.
  bool nested() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable idle_;
  std::thread::id owner_;
  const char *operation_ = nullptr;  ///< the outermost operation running
  uint32_t depth_ = 0;
  bool retired_ = false;
  bool destroy_on_leave_ = false;  ///< retired from inside a host function: leave() destroys it
};

}  // namespace quickbox::internal
