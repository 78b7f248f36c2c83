// Capabilities: registration (names, kinds, the rule of two), calls from the guest (budgets, size
// caps, audit), and the loop that drives an evaluation while its async calls run: dispatch within
// in-flight caps, wait for completions and timeouts, settle in the guest, resume.
#include <algorithm>
#include <utility>

#include "sandbox_impl.hh"

namespace quickbox {

using internal::format_bytes;
using internal::HostCall;
using internal::RegisteredCapability;

namespace {

Error invalid(std::string message) { return Error{.kind = ErrorKind::InvalidInput, .message = std::move(message)}; }

std::string quoted(const std::string &name) { return "'" + name + "'"; }

}  // namespace

// ---- Completion, Capability -------------------------------------------------------------------------

void Completion::resolve(Value value) const {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->settled) return;
    state_->settled = true;
    state_->ok = true;
    state_->value = std::move(value);
  }
  if (state_->signal) state_->signal->notify();
}

void Completion::reject(std::string message, std::string name) const {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->settled) return;
    state_->settled = true;
    state_->ok = false;
    state_->error_message = std::move(message);
    state_->error_name = std::move(name);
  }
  if (state_->signal) state_->signal->notify();
}

bool Completion::settled() const {
  std::lock_guard lock(state_->mutex);
  return state_->settled;
}

Capability Capability::sync(std::string name, SyncHandler handler, CapabilityPolicy policy) {
  Capability c;
  c.name = std::move(name);
  c.kind = Kind::Sync;
  c.sync_handler = std::move(handler);
  c.policy = policy;
  return c;
}

Capability Capability::async(std::string name, AsyncHandler handler, CapabilityPolicy policy) {
  Capability c;
  c.name = std::move(name);
  c.kind = Kind::Async;
  c.async_handler = std::move(handler);
  c.policy = policy;
  return c;
}

Capability Capability::external(std::string name, CapabilityPolicy policy) {
  Capability c;
  c.name = std::move(name);
  c.kind = Kind::External;
  c.policy = policy;
  return c;
}

std::string_view to_string(CallOutcome outcome) {
  switch (outcome) {
    case CallOutcome::Ok: return "ok";
    case CallOutcome::Error: return "error";
    case CallOutcome::Denied: return "denied";
    case CallOutcome::BudgetExceeded: return "budget_exceeded";
    case CallOutcome::Timeout: return "timeout";
    case CallOutcome::Cancelled: return "cancelled";
    case CallOutcome::Pending: return "pending";
  }
  return "pending";
}

// ---- Registration ----------------------------------------------------------------------------------

namespace {

bool js_async(const Capability &c) { return c.kind != Capability::Kind::Sync || c.policy.requires_approval; }

std::optional<Error> check_capability(const Capability &c) {
  if (c.name.empty() || c.name.front() == '.' || c.name.back() == '.' ||
      c.name.find("..") != std::string::npos || c.name.find('\0') != std::string::npos)
    return invalid("a capability name must be a JS name or a dotted path like \"tools.search\", got \"" +
                   c.name + "\"");
  if (c.kind == Capability::Kind::Sync && !c.sync_handler)
    return invalid("capability " + quoted(c.name) + " is Sync but has no sync handler");
  if (c.kind == Capability::Kind::Async && !c.async_handler)
    return invalid("capability " + quoted(c.name) + " is Async but has no async handler");
  if (c.policy.max_in_flight && *c.policy.max_in_flight == 0)
    return invalid("capability " + quoted(c.name) + ": max_in_flight must be at least 1");
  if (c.policy.call_timeout && c.policy.call_timeout->count() <= 0)
    return invalid("capability " + quoted(c.name) + ": call_timeout must be positive");
  if (c.policy.labels & ~7u) return invalid("capability " + quoted(c.name) + ": unknown label bits");
  return std::nullopt;
}

}  // namespace

std::optional<Error> Sandbox::Impl::check_rule_of_two(const Capability &extra) const {
  if (options.allow_all_three_labels) return std::nullopt;
  const CapabilityLabel labels[3] = {kSensitiveData, kUntrustedInput, kExternalEffect};
  const char *label_names[3] = {"sensitive_data", "untrusted_input", "external_effect"};
  std::string holders[3];
  auto consider = [&](const Capability &c) {
    for (int i = 0; i < 3; i++)
      if ((c.policy.labels & labels[i]) && holders[i].empty()) holders[i] = c.name;
  };
  for (const auto &c : capabilities)
    if (c.bound && c.name != extra.name) consider(c.capability);
  consider(extra);
  if (holders[0].empty() || holders[1].empty() || holders[2].empty()) return std::nullopt;
  std::string message = "rule of two: this sandbox's capabilities would together hold all three labels (";
  for (int i = 0; i < 3; i++)
    message += std::string(i ? ", " : "") + label_names[i] + ": " + quoted(holders[i]);
  message += "); drop one, or set SandboxOptions::allow_all_three_labels to accept the risk";
  return invalid(std::move(message));
}

Status Sandbox::register_capability(Capability capability) {
  Impl &s = *impl_;
  if (s.discarded) return s.discarded_result().error();
  if (auto err = check_capability(capability)) return *err;
  if (auto err = s.check_rule_of_two(capability)) return *err;
  auto existing = std::find_if(s.capabilities.begin(), s.capabilities.end(),
                               [&](const RegisteredCapability &c) { return c.name == capability.name; });
  if (existing != s.capabilities.end()) {
    if (existing->bound) return invalid("capability " + quoted(capability.name) + " is already registered");
    // Restored from a snapshot: bind the handler to the JS function that already exists.
    if (existing->js_async != js_async(capability))
      return invalid("capability " + quoted(capability.name) + " was " +
                     (existing->js_async ? "async" : "sync") +
                     " in JS when the snapshot was taken; register it the same way");
    // An unsigned snapshot is data anyone could have written: a person's approval cannot be
    // taken from it. Calls of a capability that needs approval ask for it again.
    if (s.restored_unsigned && capability.policy.requires_approval) {
      for (auto &call : s.calls) {
        if (call.capability_id == existing->id && call.state != HostCall::State::AwaitingApproval) {
          s.release_slot(call);
          call.state = HostCall::State::AwaitingApproval;
        }
      }
    }
    existing->capability = std::move(capability);
    existing->bound = true;
    return std::monostate{};
  }
  uint32_t id = 1;
  for (const auto &c : s.capabilities) id = std::max(id, c.id + 1);
  std::string name = capability.name;
  if (auto err = s.write_input({name})) return *err;
  Result r = s.run_simple(s.fn.define_capability,
                          {static_cast<uint32_t>(name.size()), id,
                           js_async(capability) ? QB_CAPABILITY_ASYNC : 0u});
  if (r.failed()) {
    Error e = r.error();
    e.message = "defining capability " + quoted(name) + " in the sandbox failed: " + e.message;
    return e;
  }
  s.capabilities.push_back(RegisteredCapability{.name = name,
                                                .id = id,
                                                .js_async = js_async(capability),
                                                .bound = true,
                                                .capability = std::move(capability)});
  return std::monostate{};
}

// ---- Calls from the guest ---------------------------------------------------------------------------

const RegisteredCapability *Sandbox::Impl::find_capability(uint32_t id) const {
  for (const auto &c : capabilities)
    if (c.id == id) return &c;
  return nullptr;
}

RegisteredCapability *Sandbox::Impl::find_capability(uint32_t id) {
  return const_cast<RegisteredCapability *>(std::as_const(*this).find_capability(id));
}

HostCall *Sandbox::Impl::find_call(uint32_t id) {
  for (auto &c : calls)
    if (c.id == id) return &c;
  return nullptr;
}

size_t Sandbox::Impl::record_audit(AuditEntry entry) {
  audit.push_back(std::move(entry));
  size_t cap = std::max<size_t>(1, options.limits.max_audit_entries);
  if (audit.size() > cap) {
    // Drop the oldest finished entries down to three quarters of the cap (amortised); an entry
    // whose call is still pending stays, and everything after it too.
    size_t target = audit.size() - cap + cap / 4, n = 0;
    while (n < target && n < audit.size() && audit[n].outcome != CallOutcome::Pending) n++;
    audit.erase(audit.begin(), audit.begin() + static_cast<std::ptrdiff_t>(n));
    audit_dropped += n;
  }
  return audit_dropped + audit.size() - 1;
}

AuditEntry *Sandbox::Impl::audit_entry(size_t index) {
  if (index < audit_dropped || index - audit_dropped >= audit.size()) return nullptr;
  return &audit[index - audit_dropped];
}

void Sandbox::Impl::close_audit(size_t index, CallOutcome outcome, std::string detail) {
  AuditEntry *found = audit_entry(index);
  if (!found) return;
  AuditEntry &entry = *found;
  if (entry.outcome != CallOutcome::Pending) return;  // the first ending is the true one
  entry.outcome = outcome;
  entry.detail = std::move(detail);
  entry.duration = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now() - entry.start);
}

internal::HostReply Sandbox::Impl::on_host_call(uint32_t capability_id, std::span<const uint8_t> args) {
  using internal::encode_js_error;
  internal::HostReply reply;
  RegisteredCapability *cap = find_capability(capability_id);
  size_t audit_index = record_audit(AuditEntry{.capability = cap ? cap->name : "#" + std::to_string(capability_id),
                                               .call_id = 0,
                                               .argument_bytes = args.size(),
                                               .argument_digest = internal::sha256_hex(args),
                                               .start = std::chrono::system_clock::now()});
  auto refuse = [&](CallOutcome outcome, std::string message) {
    close_audit(audit_index, outcome, message);
    reply.status = QB_HOST_ERROR;
    reply.bytes = encode_js_error("Error", message);
    return reply;
  };
  if (!cap) return refuse(CallOutcome::Error, "unknown capability #" + std::to_string(capability_id));
  if (!cap->bound)
    return refuse(CallOutcome::Error, "capability " + quoted(cap->name) +
                                          " is not registered in this process (the snapshot was taken "
                                          "with it; register it before resuming)");
  const CapabilityPolicy &policy = cap->capability.policy;
  if (options.limits.max_host_calls && host_calls_this_eval >= *options.limits.max_host_calls)
    return refuse(CallOutcome::BudgetExceeded,
                  "host call budget exceeded: this sandbox allows " +
                      std::to_string(*options.limits.max_host_calls) + " host calls per evaluation");
  if (policy.max_calls_per_eval && cap->calls_this_eval >= *policy.max_calls_per_eval)
    return refuse(CallOutcome::BudgetExceeded,
                  "budget exceeded: " + quoted(cap->name) + " allows " +
                      std::to_string(*policy.max_calls_per_eval) +
                      (*policy.max_calls_per_eval == 1 ? " call" : " calls") + " per evaluation");
  if (args.size() > policy.max_argument_bytes)
    return refuse(CallOutcome::BudgetExceeded,
                  "the arguments of " + quoted(cap->name) + " are " + format_bytes(args.size()) +
                      ", more than its limit of " + format_bytes(policy.max_argument_bytes));
  Decoded decoded = decode_cbor(args, DecodeLimits{.max_depth = options.limits.max_depth + 2,
                                                   .max_bytes = policy.max_argument_bytes});
  if (!decoded.ok || !decoded.value.is_array())
    return refuse(CallOutcome::Error, "malformed arguments from the guest: " + decoded.error);
  cap->calls_this_eval++;
  host_calls_this_eval++;
  std::vector<Value> arg_values = decoded.value.as_array();

  if (cap->capability.kind == Capability::Kind::Sync && !policy.requires_approval) {
    CallInfo info{.call_id = next_call_id++, .capability = cap->name};
    if (AuditEntry *entry = audit_entry(audit_index)) entry->call_id = info.call_id;
    try {
      Value result = cap->capability.sync_handler(info, arg_values);
      std::vector<uint8_t> bytes = encode_cbor(result);
      if (bytes.size() > policy.max_result_bytes)
        return refuse(CallOutcome::Error, "the result of " + quoted(cap->name) + " is " +
                                              format_bytes(bytes.size()) + ", more than its limit of " +
                                              format_bytes(policy.max_result_bytes));
      close_audit(audit_index, CallOutcome::Ok, "");
      reply.status = QB_HOST_VALUE;
      reply.bytes = std::move(bytes);
      return reply;
    } catch (const CapabilityError &e) {
      close_audit(audit_index, CallOutcome::Error, e.what());
      reply.status = QB_HOST_ERROR;
      reply.bytes = encode_js_error(e.name(), e.what());
      return reply;
    } catch (const std::exception &e) {
      // Host internals stay in the audit log; JS only learns that the call failed.
      close_audit(audit_index, CallOutcome::Error, e.what());
      reply.status = QB_HOST_ERROR;
      reply.bytes = encode_js_error("Error", "the call to " + quoted(cap->name) + " failed");
      return reply;
    } catch (...) {
      // Not even a std::exception: it must still not unwind through wasm frames.
      close_audit(audit_index, CallOutcome::Error, "the handler threw a non-standard exception");
      reply.status = QB_HOST_ERROR;
      reply.bytes = encode_js_error("Error", "the call to " + quoted(cap->name) + " failed");
      return reply;
    }
  }

  HostCall call{.id = next_call_id++,
                .capability_id = cap->id,
                .args_cbor = std::vector<uint8_t>(args.begin(), args.end()),
                .args = std::move(arg_values),
                .state = policy.requires_approval ? HostCall::State::AwaitingApproval
                                                  : HostCall::State::Queued,
                .audit_index = audit_index};
  if (AuditEntry *entry = audit_entry(audit_index)) entry->call_id = call.id;
  reply.status = QB_HOST_QUEUED;
  reply.call_id = call.id;
  calls.push_back(std::move(call));
  return reply;
}

// ---- Driving an evaluation ------------------------------------------------------------------------

void Sandbox::Impl::release_slot(HostCall &call) {
  if (!call.holds_slot) return;
  if (RegisteredCapability *cap = find_capability(call.capability_id); cap && cap->in_flight) cap->in_flight--;
  call.holds_slot = false;
}

void Sandbox::Impl::dispatch_ready_calls() {
  for (auto &call : calls) {
    if (call.state != HostCall::State::Queued && call.state != HostCall::State::Approved) continue;
    RegisteredCapability *cap = find_capability(call.capability_id);
    if (!cap || !cap->bound) continue;  // settled as an error by deliver_completions
    const CapabilityPolicy &policy = cap->capability.policy;
    if (policy.max_in_flight && cap->in_flight >= *policy.max_in_flight) continue;  // waits its turn
    cap->in_flight++;
    call.holds_slot = true;
    call.started = std::chrono::steady_clock::now();
    if (cap->capability.kind == Capability::Kind::External) {
      call.state = HostCall::State::AwaitingExternal;
      if (policy.call_timeout) call.timeout_at = call.started + *policy.call_timeout;
      continue;
    }
    call.state = HostCall::State::Running;
    call.completion = std::make_shared<Completion::State>();
    call.completion->signal = signal;
    if (policy.call_timeout) call.timeout_at = call.started + *policy.call_timeout;
    Completion done(call.completion);
    CallInfo info{.call_id = call.id, .capability = cap->name};
    try {
      if (cap->capability.kind == Capability::Kind::Sync) {
        done.resolve(cap->capability.sync_handler(info, call.args));
      } else {
        cap->capability.async_handler(info, call.args, done);
      }
    } catch (const CapabilityError &e) {
      done.reject(e.what(), e.name());
    } catch (const std::exception &e) {
      if (AuditEntry *entry = audit_entry(call.audit_index)) entry->detail = e.what();
      done.reject("the call to " + quoted(cap->name) + " failed");
    } catch (...) {
      if (AuditEntry *entry = audit_entry(call.audit_index)) entry->detail = "the handler threw a non-standard exception";
      done.reject("the call to " + quoted(cap->name) + " failed");
    }
  }
}

Status Sandbox::Impl::settle_in_guest(HostCall &call, bool ok, const Value &value) {
  std::vector<uint8_t> payload;
  try {
    payload = encode_cbor(value);
  } catch (const std::exception &e) {
    ok = false;
    payload = internal::encode_js_error("Error", std::string("the host's answer cannot be passed to JS: ") + e.what());
  }
  if (auto err = write_input({std::string_view(reinterpret_cast<const char *>(payload.data()), payload.size())}))
    return *err;
  auto status = run_control_op(fn.settle, {call.id, ok ? 1u : 0u, static_cast<uint32_t>(payload.size())});
  if (!status) return status.error();
  if (status.value() != QB_STATUS_DONE) {
    Result r = read_reply(status.value());
    return r.failed() ? r.error() : Error{.kind = ErrorKind::Internal, .message = "settling a call failed"};
  }
  return std::monostate{};
}

Expected<size_t> Sandbox::Impl::deliver_completions() {
  size_t delivered = 0;
  auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < calls.size();) {
    HostCall &call = calls[i];
    RegisteredCapability *cap = find_capability(call.capability_id);
    std::string name = cap ? cap->name : "#" + std::to_string(call.capability_id);
    bool ok = false;
    Value value;
    CallOutcome outcome;
    std::string detail;
    if ((call.state == HostCall::State::Queued || call.state == HostCall::State::Approved) &&
        (!cap || !cap->bound)) {
      value = ErrorValue{.name = "Error", .message = "capability " + quoted(name) + " is not registered in this process"};
      outcome = CallOutcome::Error;
      detail = value.as_error().message;
    } else if (call.state == HostCall::State::AwaitingExternal && call.timeout_at && now >= *call.timeout_at) {
      // The caller did not answer in time (checked whenever the program is driven).
      detail = "the call to " + quoted(name) + " timed out after " +
               std::to_string(cap->capability.policy.call_timeout->count()) + " ms";
      value = ErrorValue{.name = "Error", .message = detail};
      outcome = CallOutcome::Timeout;
    } else if (call.state == HostCall::State::Running) {
      std::unique_lock lock(call.completion->mutex);
      if (call.completion->settled) {
        ok = call.completion->ok;
        if (ok) {
          value = std::move(call.completion->value);
          outcome = CallOutcome::Ok;
          uint64_t size = 0;
          try {
            size = encode_cbor(value).size();
          } catch (const std::exception &) {
          }
          if (cap && size > cap->capability.policy.max_result_bytes) {
            ok = false;
            detail = "the result of " + quoted(name) + " is " + format_bytes(size) +
                     ", more than its limit of " + format_bytes(cap->capability.policy.max_result_bytes);
            value = ErrorValue{.name = "Error", .message = detail};
            outcome = CallOutcome::Error;
          }
        } else {
          value = ErrorValue{.name = call.completion->error_name, .message = call.completion->error_message};
          outcome = CallOutcome::Error;
          detail = call.completion->error_message;
        }
      } else if (call.timeout_at && now >= *call.timeout_at) {
        lock.unlock();
        Completion(call.completion).reject("");  // late completions are ignored from now on
        detail = "the call to " + quoted(name) + " timed out after " +
                 std::to_string(cap->capability.policy.call_timeout->count()) + " ms";
        value = ErrorValue{.name = "Error", .message = detail};
        outcome = CallOutcome::Timeout;
      } else {
        ++i;
        continue;
      }
    } else {
      ++i;
      continue;
    }
    AuditEntry *entry = audit_entry(call.audit_index);
    std::string recorded = entry && !entry->detail.empty() ? entry->detail : detail;
    close_audit(call.audit_index, outcome, recorded);
    release_slot(call);
    HostCall settled = std::move(call);
    calls.erase(calls.begin() + static_cast<std::ptrdiff_t>(i));
    if (auto status = settle_in_guest(settled, ok, value); !status) return status.error();
    delivered++;
  }
  return delivered;
}

void Sandbox::Impl::cancel_outstanding_calls(const std::string &why) {
  for (auto &call : calls) {
    if (call.completion) Completion(call.completion).reject("");
    close_audit(call.audit_index, CallOutcome::Cancelled, why);
    release_slot(call);
  }
  calls.clear();
}

std::vector<PendingCall> Sandbox::Impl::pending_for_caller() const {
  std::vector<PendingCall> out;
  for (const auto &call : calls) {
    if (call.state != HostCall::State::AwaitingApproval && call.state != HostCall::State::AwaitingExternal)
      continue;
    const RegisteredCapability *cap = find_capability(call.capability_id);
    out.push_back(PendingCall{.call_id = call.id,
                              .capability = cap ? cap->name : "",
                              .args = call.args,
                              .needs_approval = call.state == HostCall::State::AwaitingApproval});
  }
  return out;
}

Result Sandbox::Impl::drive(int32_t status) {
  for (;;) {
    if (status == QB_STATUS_DONE || status == QB_STATUS_ERROR || status == QB_STATUS_DISPLAY)
      return finish_evaluation(read_reply(status));
    if (status != QB_STATUS_PENDING)
      return finish_evaluation(Result::failure(Error{.kind = ErrorKind::Internal,
                                                     .message = "unknown status from the guest: " + std::to_string(status)}));
    uint64_t generation;
    {
      std::lock_guard lock(signal->mutex);
      generation = signal->generation;
    }
    dispatch_ready_calls();
    auto delivered = deliver_completions();
    if (!delivered) return finish_evaluation(Result::failure(delivered.error()));
    if (delivered.value() > 0 || settled_since_resume) {
      settled_since_resume = false;
      auto next = run_op(fn.resume, {});
      if (!next) return finish_evaluation(Result::failure(next.error()));
      status = next.value();
      continue;
    }
    bool running = std::any_of(calls.begin(), calls.end(),
                               [](const HostCall &c) { return c.state == HostCall::State::Running; });
    if (running) {
      auto until = std::chrono::steady_clock::time_point::max();
      for (const auto &c : calls)
        if (c.state == HostCall::State::Running && c.timeout_at) until = std::min(until, *c.timeout_at);
      if (wall_deadline) until = std::min(until, *wall_deadline);
      std::unique_lock lock(signal->mutex);
      signal->wake.wait_until(lock, until, [&] { return signal->generation != generation; });
      lock.unlock();
      if (wall_deadline && std::chrono::steady_clock::now() >= *wall_deadline) {
        for (auto &c : calls)
          if (c.state == HostCall::State::Running)
            close_audit(c.audit_index, CallOutcome::Timeout, "the evaluation's wall-clock limit ran out");
        run_control_op(fn.abandon, {});
        return finish_evaluation(Result::failure(Error{
            .kind = ErrorKind::Timeout,
            .message = "wall-clock limit of " + std::to_string(options.limits.wall_time->count()) +
                       " ms exceeded while waiting on host calls"}));
      }
      continue;
    }
    if (calls.empty()) {
      run_control_op(fn.abandon, {});
      return finish_evaluation(Result::failure(Error{
          .kind = ErrorKind::Internal, .message = "the guest waits on host calls the host does not know"}));
    }
    // Only the caller can make progress now: approvals, external answers, or calls queued behind them.
    Result result = Result::suspended(pending_for_caller());
    result.console = std::move(console);
    result.console_dropped_bytes = console_dropped;
    console.clear();
    console_dropped = 0;
    return result;
  }
}

// ---- Settling from the caller ----------------------------------------------------------------------

namespace {
const char *describe(HostCall::State state) {
  switch (state) {
    case HostCall::State::Queued: return "queued for a free slot";
    case HostCall::State::AwaitingApproval: return "waiting for approval";
    case HostCall::State::Approved: return "approved and about to run";
    case HostCall::State::AwaitingExternal: return "waiting for an answer";
    case HostCall::State::Running: return "running";
  }
  return "unknown";
}
}  // namespace

Result Sandbox::resume() {
  Impl &s = *impl_;
  if (s.discarded) return s.discarded_result();
  if (!s.evaluating) return Result::failure(invalid("nothing to resume: no evaluation is suspended"));
  if (s.options.limits.wall_time) s.wall_deadline = std::chrono::steady_clock::now() + *s.options.limits.wall_time;
  return s.drive(QB_STATUS_PENDING);
}

namespace {
Status answer(Sandbox::Impl &s, uint32_t call_id, HostCall::State expected, bool ok, const Value &value,
              CallOutcome outcome, const std::string &detail) {
  if (s.discarded) return s.discarded_result().error();
  HostCall *call = s.find_call(call_id);
  if (!call) return invalid("no pending call has id #" + std::to_string(call_id));
  if (call->state != expected)
    return invalid("call #" + std::to_string(call_id) + " is " + describe(call->state) + ", not " +
                   describe(expected));
  if (ok) {
    uint64_t size = encode_cbor(value).size();
    auto *cap = s.find_capability(call->capability_id);
    if (cap && cap->bound && size > cap->capability.policy.max_result_bytes)
      return invalid("the answer to call #" + std::to_string(call_id) + " is " + format_bytes(size) +
                     ", more than " + quoted(cap->name) + "'s limit of " +
                     format_bytes(cap->capability.policy.max_result_bytes));
  }
  HostCall settled = std::move(*call);
  s.calls.erase(std::find_if(s.calls.begin(), s.calls.end(), [&](const HostCall &c) { return c.id == call_id; }));
  s.release_slot(settled);
  s.close_audit(settled.audit_index, outcome, detail);
  s.settled_since_resume = true;
  return s.settle_in_guest(settled, ok, value);
}
}  // namespace

Status Sandbox::resolve(uint32_t call_id, const Value &value) {
  try {
    encode_cbor(value);
  } catch (const std::exception &e) {
    return invalid(std::string("the answer cannot be passed to JS: ") + e.what());
  }
  return answer(*impl_, call_id, HostCall::State::AwaitingExternal, true, value, CallOutcome::Ok, "");
}

Status Sandbox::reject(uint32_t call_id, std::string message, std::string name, CallOutcome outcome) {
  if (outcome != CallOutcome::Error && outcome != CallOutcome::Timeout)
    return invalid("reject() records an outcome of error or timeout, not " + std::string(to_string(outcome)));
  Value error = ErrorValue{.name = std::move(name), .message = message, .stack = ""};
  return answer(*impl_, call_id, HostCall::State::AwaitingExternal, false, error, outcome, message);
}

Status Sandbox::deny(uint32_t call_id, std::string reason) {
  Impl &s = *impl_;
  HostCall *call = s.find_call(call_id);
  std::string name;
  if (call)
    if (auto *cap = s.find_capability(call->capability_id)) name = cap->name;
  std::string message = "the call to " + quoted(name) + " was denied" + (reason.empty() ? "" : ": " + reason);
  Value error = ErrorValue{.name = "Error", .message = message, .stack = ""};
  return answer(s, call_id, HostCall::State::AwaitingApproval, false, error, CallOutcome::Denied, message);
}

Status Sandbox::approve(uint32_t call_id) {
  Impl &s = *impl_;
  if (s.discarded) return s.discarded_result().error();
  HostCall *call = s.find_call(call_id);
  if (!call) return invalid("no pending call has id #" + std::to_string(call_id));
  if (call->state != HostCall::State::AwaitingApproval)
    return invalid("call #" + std::to_string(call_id) + " is " + describe(call->state) + ", not waiting for approval");
  auto *cap = s.find_capability(call->capability_id);
  if (!cap || !cap->bound)
    return invalid("capability " + quoted(cap ? cap->name : "?") +
                   " is not registered in this process; register it before approving its calls");
  call->state = HostCall::State::Approved;
  return std::monostate{};
}

Status Sandbox::abandon() {
  Impl &s = *impl_;
  if (s.discarded) return s.discarded_result().error();
  if (!s.evaluating) return std::monostate{};
  auto status = s.run_control_op(s.fn.abandon, {});
  s.finish_evaluation(Result::done(Value()));
  if (!status) return status.error();
  return std::monostate{};
}

std::vector<PendingCall> Sandbox::pending_calls() const { return impl_->pending_for_caller(); }

const std::vector<AuditEntry> &Sandbox::audit_log() const { return impl_->audit; }

uint64_t Sandbox::audit_entries_dropped() const { return impl_->audit_dropped; }

}  // namespace quickbox
