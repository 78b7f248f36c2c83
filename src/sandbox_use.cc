// The in-use guard behind the threading contract of quickbox::Sandbox (see sandbox.hh).
#include "sandbox_use.hh"

#include <string>

namespace quickbox::internal {

namespace {
Error refusal(std::string message) { return Error{.kind = ErrorKind::InvalidInput, .message = std::move(message)}; }
}  // namespace

std::optional<Error> SandboxUse::enter(const char *operation, Access access, bool &nested) {
  std::unique_lock lock(mutex_);
  auto self = std::this_thread::get_id();
  nested = false;
  if (depth_ > 0 && owner_ == self) {
    // A host function of the running operation calling back into its own sandbox: a Nestable
    // operation runs nested (the caller sets the running one aside), a Reentrant one at once.
    if (access == Access::Exclusive)
      return refusal(std::string("cannot call ") + operation + " from inside a host function while the sandbox runs " +
                     operation_ + "; call it after " + operation_ + " returns");
    depth_++;
    nested = true;
    return std::nullopt;
  }
  auto destroyed = [&] { return refusal(std::string("cannot call ") + operation + ": the sandbox is being destroyed"); };
  if (retired_) return destroyed();
  if (depth_ > 0) {
    if (access != Access::Read)
      return refusal(std::string("the sandbox is busy: another thread is running ") + operation_ +
                     "; a sandbox is used by one thread at a time (call " + operation + " after it returns)");
    idle_.wait(lock, [&] { return depth_ == 0 || retired_; });
    if (retired_) return destroyed();
  }
  owner_ = self;
  operation_ = operation;
  depth_ = 1;
  return std::nullopt;
}

bool SandboxUse::leave() {
  std::lock_guard lock(mutex_);
  if (--depth_ > 0) return false;
  owner_ = {};
  operation_ = nullptr;
  idle_.notify_all();
  return destroy_on_leave_;
}

bool SandboxUse::retire() {
  std::unique_lock lock(mutex_);
  retired_ = true;
  if (depth_ == 0) return false;
  if (owner_ == std::this_thread::get_id()) return destroy_on_leave_ = true;
  idle_.wait(lock, [&] { return depth_ == 0; });
  return false;
}

bool SandboxUse::nested() const {
  std::lock_guard lock(mutex_);
  return depth_ > 1 && owner_ == std::this_thread::get_id();
}

}  // namespace quickbox::internal
