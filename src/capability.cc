// Capabilities: registration (names, kinds, the rule of two), calls from the guest (budgets, size
// caps, audit), and the loop that drives an evaluation while its async calls run: dispatch within
// in-flight caps, wait for completions and timeouts, settle in the guest, resume.
#include <algorithm>
#include <utility>

#include "error_text.hh"
#include "sandbox_impl.hh"

namespace quickbox {

using internal::format_bytes;
using internal::HostCall;
using internal::HostMemoryCharge;
using internal::RegisteredCapability;

namespace {

Error invalid(std::string message) { return Error{.kind = ErrorKind::InvalidInput, .message = std::move(message)}; }

std::string quoted(const std::string &name) { return "'" + name + "'"; }

// Audit details are messages (refusals, handler errors) that may quote guest data: each is kept
// to this size, cut at a character boundary, with a visible marker.
constexpr size_t kAuditDetailBytes = 1024;
constexpr std::string_view kClipped = "... [truncated]";

std::string clip_detail(std::string text) {
  if (text.size() <= kAuditDetailBytes) return text;
  size_t cut = kAuditDetailBytes - kClipped.size();
  while (cut > 0 && (static_cast<uint8_t>(text[cut]) & 0xC0) == 0x80) cut--;
  text.resize(cut);
  text += kClipped;
  return text;
}

uint64_t requests_cost(const std::vector<NetworkRequest> &requests) {
  uint64_t n = 0;
  for (const auto &r : requests) n += sizeof(NetworkRequest) + r.method.size() + r.url.size() + r.error.size();
  return n;
}

uint64_t audit_cost(const AuditEntry &e) {
  return sizeof(AuditEntry) + e.capability.size() + e.argument_digest.size() + e.detail.size() +
         requests_cost(e.requests);
}

std::vector<uint8_t> encode_for_guest(const Value &value, bool &ok) {
  try {
    // Error text sent into JS is cut like the guest's own (docs/limits.md, "Error text").
    if (!ok && value.is_error()) return encode_cbor(Value(internal::bounded_error(value.as_error())));
    return encode_cbor(value);
  } catch (const std::exception &e) {
    ok = false;
    return internal::encode_js_error("Error", std::string("the host's answer cannot be passed to JS: ") + e.what());
  }
}

}  // namespace

uint64_t internal::value_footprint(const Value &value) {
  uint64_t n = sizeof(Value);
  if (value.is_string()) n += value.as_string().size();
  else if (value.is_bytes()) n += value.as_bytes().data.size();
  else if (value.is_bigint()) n += value.as_bigint().magnitude.size();
  else if (value.is_error())
    n += value.as_error().name.size() + value.as_error().message.size() + value.as_error().stack.size();
  else if (value.is_array())
    for (const auto &item : value.as_array()) n += value_footprint(item);
  else if (value.is_object())
    for (const auto &[key, item] : value.as_object()) n += sizeof(std::string) + key.size() + value_footprint(item);
  return n;
}

uint64_t internal::pending_call_cost(std::span<const uint8_t> args_cbor, std::span<const Value> args) {
  uint64_t n = sizeof(HostCall) + args_cbor.size() + sizeof(Value);
  for (const auto &arg : args) n += value_footprint(arg);
  return n;
}

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

void Completion::record_request(size_t index, NetworkRequest request) const {
  // Clipped like audit details: the URL and error may quote what the program sent.
  if (request.url.size() > kAuditDetailBytes) request.url = clip_detail(std::move(request.url));
  request.error = clip_detail(std::move(request.error));
  std::lock_guard lock(state_->mutex);
  if (state_->settled || index > Completion::State::kMaxRequests) return;
  if (index >= state_->requests.size()) state_->requests.resize(index + 1);
  state_->requests[index] = std::move(request);
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
// A pending call's arguments, decoded again from the one copy the host keeps (they were checked
// when the call was made, or when the snapshot holding them was restored).
std::vector<Value> decode_args(const HostCall &call) {
  Decoded decoded = decode_cbor(call.args_cbor, DecodeLimits{.max_depth = 10002, .max_bytes = UINT64_MAX});
  return decoded.ok && decoded.value.is_array() ? decoded.value.as_array() : std::vector<Value>{};
}
}  // namespace

namespace {

bool js_async(const Capability &c) {
  return c.kind != Capability::Kind::Sync || c.policy.requires_approval || c.policy.approval_for;
}

/// Whether this call waits for approval; a predicate that throws counts as yes (fail closed).
bool approval_needed(const CapabilityPolicy &policy, std::span<const Value> args) {
  if (policy.requires_approval) return true;
  if (!policy.approval_for) return false;
  try {
    return policy.approval_for(args);
  } catch (...) {
    return true;
  }
}

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
  if (c.policy.call_timeout)
    if (auto err = internal::check_duration(*c.policy.call_timeout, Setting::CallTimeout)) {
      err->message = "capability " + quoted(c.name) + ": " + err->message;
      return err;
    }
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
  message += "); drop one, or set " + std::string(to_string(Setting::AllowAllThreeLabels)) + " to accept the risk";
  Error error = invalid(std::move(message));
  error.setting = Setting::AllowAllThreeLabels;
  return error;
}

Status Sandbox::register_capability(Capability capability) {
  Impl &s = *impl_;
  // Exclusive: it enters the guest, and rebinding would replace a handler that may be running.
  OperationGuard guard(s, "register_capability()", internal::Access::Exclusive);
  if (guard.refused()) return *guard.refused();
  return s.add_capability(std::move(capability));
}

Status Sandbox::Impl::add_capability(Capability capability, uint32_t define_flags) {
  Impl &s = *this;
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
    if (s.restored_unsigned && (capability.policy.requires_approval || capability.policy.approval_for)) {
      for (auto &call : s.calls) {
        if (call.capability_id == existing->id && call.state != HostCall::State::AwaitingApproval &&
            approval_needed(capability.policy, decode_args(call))) {
          s.release_slot(call);
          call.state = HostCall::State::AwaitingApproval;
        }
      }
    }
    existing->capability = std::move(capability);
    existing->bound = true;
    existing->define_flags = define_flags;
    return std::monostate{};
  }
  uint32_t id = 1;
  for (const auto &c : s.capabilities) id = std::max(id, c.id + 1);
  std::string name = capability.name;
  if (auto err = s.write_input({name})) return *err;
  Result r = s.run_simple(s.func(&internal::GuestExports::define_capability),
                          {static_cast<uint32_t>(name.size()), id,
                           (js_async(capability) ? QB_CAPABILITY_ASYNC : 0u) | define_flags});
  if (r.failed()) {
    Error e = r.error();
    e.message = "defining capability " + quoted(name) + " in the sandbox failed: " + e.message;
    return e;
  }
  s.capabilities.push_back(RegisteredCapability{.name = name,
                                                .id = id,
                                                .js_async = js_async(capability),
                                                .bound = true,
                                                .capability = std::move(capability),
                                                .define_flags = define_flags});
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
  entry.detail = clip_detail(std::move(entry.detail));
  audit_bytes += audit_cost(entry);
  audit.push_back(std::move(entry));
  size_t index = audit_dropped + audit.size() - 1;
  trim_audit();
  return index;
}

void Sandbox::Impl::trim_audit() {
  size_t cap = std::max<size_t>(1, options.limits.max_audit_entries);
  uint64_t byte_cap = host_memory_budget() / 4;
  if (audit.size() <= cap && audit_bytes <= byte_cap) return;
  // Drop the oldest finished entries down to three quarters of both caps (amortised); an entry
  // whose call is still pending stays, and everything after it too.
  size_t n = 0;
  uint64_t kept_bytes = audit_bytes;
  while (n < audit.size() && audit[n].outcome != CallOutcome::Pending &&
         (audit.size() - n > cap - cap / 4 || kept_bytes > byte_cap - byte_cap / 4))
    kept_bytes -= audit_cost(audit[n++]);
  audit.erase(audit.begin(), audit.begin() + static_cast<std::ptrdiff_t>(n));
  audit_bytes = kept_bytes;
  audit_dropped += n;
}

void Sandbox::Impl::set_audit_detail(AuditEntry &entry, std::string detail) {
  audit_bytes -= entry.detail.size();
  entry.detail = clip_detail(std::move(detail));
  audit_bytes += entry.detail.size();
  trim_audit();  // may drop `entry` itself once it is finished
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
  entry.duration = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now() - entry.start);
  set_audit_detail(entry, std::move(detail));
}

std::optional<std::string> Sandbox::Impl::host_memory_refusal(const std::string &capability,
                                                               uint64_t bytes) const {
  if (host_memory_fits(bytes)) return std::nullopt;
  uint64_t budget = host_memory_budget(), used = host_memory_used();
  return "host memory budget exceeded: the call to " + quoted(capability) + " needs " + format_bytes(bytes) +
         " and only " + format_bytes(used < budget ? budget - used : 0) + " of this sandbox's host memory budget of " +
         format_bytes(budget) + " is free (it holds pending calls' arguments, console output and the audit log)";
}

internal::HostReply Sandbox::Impl::on_host_call(uint32_t capability_id, std::span<const uint8_t> args) {
  using internal::encode_js_error;
  // Imports are not capability calls: no audit entry, no call budget (docs/modules.md).
  if (capability_id == QB_MODULE_LOADER_ID) return on_module_request(args);
  if (capability_id == QB_CANCEL_CALL_ID) return on_cancel_request(args);
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
  // A deadline passed after the guest's last interrupt check: no handler runs any more.
  if (internal::check_deadlines(host)) return refuse(CallOutcome::Timeout, timeout_error().message);
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
  bool runs_now = cap->capability.kind == Capability::Kind::Sync && !policy.requires_approval;
  if (!runs_now && nest_depth > 0)
    return refuse(CallOutcome::Error,
                  "the call to " + quoted(cap->name) + " cannot wait: this code runs nested inside a host function "
                  "(an evaluation a host function started in its own sandbox), which must return before async "
                  "calls, approvals and answers can be handled");
  if (!runs_now && calls.size() >= options.limits.max_pending_calls)
    return refuse(CallOutcome::BudgetExceeded,
                  "too many pending calls: this sandbox allows " + std::to_string(options.limits.max_pending_calls) +
                      " pending calls per evaluation; await some before calling " + quoted(cap->name) + " again");
  // The arguments must fit the host memory budget before they are decoded (decoding may take
  // several times their encoded size)...
  if (auto refusal = host_memory_refusal(cap->name, args.size()))
    return refuse(CallOutcome::BudgetExceeded, *refusal);
  Decoded decoded = decode_cbor(args, DecodeLimits{.max_depth = options.limits.max_depth + 2,
                                                   .max_bytes = policy.max_argument_bytes,
                                                   .max_bigint_bytes = options.limits.bigint_bytes});
  if (!decoded.ok || !decoded.value.is_array())
    return refuse(CallOutcome::Error, "malformed arguments from the guest: " + decoded.error);
  // ...and once decoded, what the host holds for the call (for as long as it is pending).
  uint64_t cost = internal::pending_call_cost(args, decoded.value.as_array());
  if (auto refusal = host_memory_refusal(cap->name, cost)) return refuse(CallOutcome::BudgetExceeded, *refusal);
  cap->calls_this_eval++;
  host_calls_this_eval++;

  if (runs_now) {
    HostMemoryCharge held(&call_bytes, cost);
    CallInfo info{.call_id = next_call_id++, .capability = cap->name, .deadline = wall_deadline};
    if (AuditEntry *entry = audit_entry(audit_index)) entry->call_id = info.call_id;
    try {
      Value result;
      timed_handler([&] { result = cap->capability.sync_handler(info, decoded.value.as_array()); },
                    &reply.handler_time, &reply.cpu_after_handler);
      std::vector<uint8_t> bytes = encode_cbor(result);
      if (bytes.size() > policy.max_result_bytes)
        return refuse(CallOutcome::Error, "the result of " + quoted(cap->name) + " is " +
                                              format_bytes(bytes.size()) + ", more than its limit of " +
                                              format_bytes(policy.max_result_bytes));
      if (auto refusal = host_memory_refusal(cap->name, bytes.size())) return refuse(CallOutcome::BudgetExceeded, *refusal);
      close_audit(audit_index, CallOutcome::Ok, "");
      reply.status = QB_HOST_VALUE;
      reply.bytes = std::move(bytes);
      return reply;
    } catch (const CapabilityError &e) {
      close_audit(audit_index, CallOutcome::Error, e.audit_detail());
      reply.status = QB_HOST_ERROR;
      reply.bytes = encode_js_error(e.name(), e.message());
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
                .state = approval_needed(policy, decoded.value.as_array()) ? HostCall::State::AwaitingApproval
                                                                           : HostCall::State::Queued,
                .audit_index = audit_index,
                .charge = HostMemoryCharge(&call_bytes, cost)};
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
  // Host work for the evaluation (decoding arguments), charged to its CPU meter; the handlers'
  // own time is left to the wall clock.
  auto started = internal::ThreadCpuClock::now();
  auto handlers_before = handler_time;
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
    CallInfo info{.call_id = call.id, .capability = cap->name, .deadline = wall_deadline};
    std::vector<Value> args = decode_args(call);  // host work, charged; the handler's time is not
    std::string failure;
    try {
      timed_handler([&] {
        if (cap->capability.kind == Capability::Kind::Sync) {
          done.resolve(cap->capability.sync_handler(info, args));
        } else {
          cap->capability.async_handler(info, std::move(args), done);
        }
      });
    } catch (const CapabilityError &e) {
      done.reject(e.message(), e.name());
    } catch (const std::exception &e) {
      failure = e.what();
    } catch (...) {
      failure = "the handler threw a non-standard exception";
    }
    if (!failure.empty()) {
      if (AuditEntry *entry = audit_entry(call.audit_index)) set_audit_detail(*entry, failure);
      done.reject("the call to " + quoted(cap->name) + " failed");
    }
  }
  charge_host_work(started, handlers_before);
}

Status Sandbox::Impl::settle_in_guest(const HostCall &call, bool ok, std::vector<uint8_t> payload) {
  auto copying = internal::ThreadCpuClock::now();
  auto copied = write_input({std::string_view(reinterpret_cast<const char *>(payload.data()), payload.size())});
  eval_cpu_used += internal::ThreadCpuClock::now() - copying;
  if (copied) return *copied;
  // Settling runs user code (a thenable's `then`, a getter on Object.prototype.then), so it runs
  // under the evaluation's CPU meter and wall clock like any of its guest code.
  auto status = run_op(func(&internal::GuestExports::settle), {call.id, ok ? 1u : 0u, static_cast<uint32_t>(payload.size())});
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
    // Encoding the answer is host work for the evaluation: it counts against its CPU budget.
    auto encoding = internal::ThreadCpuClock::now();
    bool encoded_ok = ok;
    std::vector<uint8_t> payload = encode_for_guest(value, encoded_ok);
    if (ok && encoded_ok && cap) {
      std::optional<std::string> refusal;
      if (payload.size() > cap->capability.policy.max_result_bytes)
        refusal = "the result of " + quoted(name) + " is " + format_bytes(payload.size()) +
                  ", more than its limit of " + format_bytes(cap->capability.policy.max_result_bytes);
      else
        refusal = host_memory_refusal(name, payload.size());
      if (refusal) {
        detail = *refusal;
        outcome = CallOutcome::Error;
        encoded_ok = false;
        payload = internal::encode_js_error("Error", detail);
      }
    }
    ok = encoded_ok;
    value = Value();
    eval_cpu_used += internal::ThreadCpuClock::now() - encoding;
    take_requests(call);
    AuditEntry *entry = audit_entry(call.audit_index);
    std::string recorded = entry && !entry->detail.empty() ? entry->detail : detail;
    close_audit(call.audit_index, outcome, recorded);
    release_slot(call);
    HostCall settled = std::move(call);
    calls.erase(calls.begin() + static_cast<std::ptrdiff_t>(i));
    if (auto status = settle_in_guest(settled, ok, std::move(payload)); !status) return status.error();
    delivered++;
  }
  return delivered;
}

void Sandbox::Impl::take_requests(const HostCall &call) {
  if (!call.completion) return;
  std::vector<NetworkRequest> requests;
  {
    std::lock_guard lock(call.completion->mutex);
    requests = call.completion->requests;
  }
  AuditEntry *entry = audit_entry(call.audit_index);
  if (!entry || requests.empty()) return;
  audit_bytes -= requests_cost(entry->requests);
  entry->requests = std::move(requests);
  audit_bytes += requests_cost(entry->requests);
}

void Sandbox::Impl::cancel_call(HostCall &call, const std::string &why) {
  // Settling the completion is what a running handler watches (Completion::settled): a fetch
  // stops its transfer. Its own answer, if it comes, finds the completion settled and is dropped.
  if (call.completion) Completion(call.completion).reject("");
  take_requests(call);
  close_audit(call.audit_index, CallOutcome::Cancelled, why);
  release_slot(call);
}

void Sandbox::Impl::cancel_outstanding_calls(const std::string &why) {
  for (auto &call : calls) cancel_call(call, why);
  calls.clear();
}

internal::HostReply Sandbox::Impl::on_cancel_request(std::span<const uint8_t> args) {
  internal::HostReply reply;
  Decoded decoded = decode_cbor(args, DecodeLimits{.max_depth = 2, .max_bytes = args.size()});
  const Value *id = decoded.ok && decoded.value.is_array() && decoded.value.as_array().size() == 1
                        ? &decoded.value.as_array()[0]
                        : nullptr;
  if (!id || !id->is_number() || id->as_number() < 0 || id->as_number() > UINT32_MAX) {
    reply.status = QB_HOST_ERROR;
    reply.bytes = internal::encode_js_error("Error", "malformed cancel request from the guest");
    return reply;
  }
  auto found = std::find_if(calls.begin(), calls.end(),
                            [&](const HostCall &c) { return c.id == static_cast<uint32_t>(id->as_number()); });
  // Not held any more (answered and delivered): nothing to stop.
  if (found != calls.end()) {
    cancel_call(*found, "the program stopped waiting for it (its AbortSignal aborted)");
    calls.erase(found);
  }
  reply.status = QB_HOST_VALUE;
  reply.bytes = {0xf7};  // CBOR undefined
  return reply;
}

std::vector<PendingCall> Sandbox::Impl::pending_for_caller() const {
  std::vector<PendingCall> out;
  for (const auto &call : calls) {
    if (call.state != HostCall::State::AwaitingApproval && call.state != HostCall::State::AwaitingExternal)
      continue;
    const RegisteredCapability *cap = find_capability(call.capability_id);
    out.push_back(PendingCall{.call_id = call.id,
                              .capability = cap ? cap->name : "",
                              .args = decode_args(call),
                              .needs_approval = call.state == HostCall::State::AwaitingApproval});
  }
  return out;
}

Result Sandbox::Impl::drive(int32_t status) {
  for (;;) {
    guest_driving = status == QB_STATUS_PENDING;
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
    // The wall clock, after every round of host calls (sync handlers run just above).
    if (wall_deadline && std::chrono::steady_clock::now() >= *wall_deadline) {
      host.wall_expired = true;
      for (auto &c : calls)
        if (c.state == HostCall::State::Running) {
          take_requests(c);
          close_audit(c.audit_index, CallOutcome::Timeout, "the evaluation's wall-clock limit ran out");
        }
      return finish_evaluation(Result::failure(timeout_error()));
    }
    // Sandbox::interrupt() while the program waits on its handlers (running guest code sees it
    // in its interrupt checks). interrupt() bumps the generation, so the wait below wakes for it.
    if (signal->interrupt) {
      host.interrupted_by_caller = true;
      return finish_evaluation(Result::failure(timeout_error()));
    }
    auto delivered = deliver_completions();
    if (!delivered) return finish_evaluation(Result::failure(delivered.error()));
    auto timer_in = time_to_next_timer();
    if (!timer_in) return finish_evaluation(Result::failure(timer_in.error()));
    bool timer_due = timer_in.value() && *timer_in.value() <= std::chrono::nanoseconds::zero();
    if (delivered.value() > 0 || settled_since_resume || timer_due) {
      settled_since_resume = false;
      auto next = run_op(func(&internal::GuestExports::resume), {});
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
      // A timer on the Real clock may come due while handlers run; virtual time stands still
      // while they do (it only jumps when nothing else can make progress).
      if (timer_in.value() && options.clock.mode == Clock::Mode::Real)
        until = std::min(until, std::chrono::steady_clock::now() + *timer_in.value());
      internal::running_long(host);
      std::unique_lock lock(signal->mutex);
      signal->wake.wait_until(lock, until, [&] { return signal->generation != generation; });
      lock.unlock();
      if (wall_deadline && std::chrono::steady_clock::now() >= *wall_deadline) {
        for (auto &c : calls)
          if (c.state == HostCall::State::Running) {
            take_requests(c);
            close_audit(c.audit_index, CallOutcome::Timeout, "the evaluation's wall-clock limit ran out");
          }
        return finish_evaluation(Result::failure(Error{
            .kind = ErrorKind::Timeout,
            .message = "wall-clock limit of " + std::to_string(options.limits.wall_time->count()) +
                       " ms exceeded while waiting on host calls"}));
      }
      continue;
    }
    if (calls.empty()) {
      if (!timer_in.value())
        return finish_evaluation(Result::failure(Error{
            .kind = ErrorKind::Internal, .message = "the guest waits on host calls the host does not know"}));
      // Only timers are left: wait for the earliest, then let the guest run it.
      if (auto err = wait_for_timer(*timer_in.value())) return finish_evaluation(Result::failure(*err));
      auto next = run_op(func(&internal::GuestExports::resume), {});
      if (!next) return finish_evaluation(Result::failure(next.error()));
      status = next.value();
      continue;
    }
    // Only the caller can make progress now: approvals, external answers, or calls queued behind
    // them. This eval()/resume() call is over, and its wall clock with it (what the caller's
    // resolve/reject/deny then run is bounded by the CPU meter). Timers not yet due wait too: they
    // run when the evaluation is resumed (on the Real clock, the time spent suspended counts
    // toward their delays).
    // The console listener failed before the program reached an interrupt check: the evaluation
    // ends with that failure (finish_evaluation puts its message in) rather than suspending.
    if (console_failure) return finish_evaluation(Result::failure(Error{.kind = ErrorKind::Internal}));
    wall_deadline.reset();
    Result result = Result::suspended(pending_for_caller());
    result.console = take_console();
    result.console_dropped_bytes = console_dropped;
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
  OperationGuard guard(s, "resume()", internal::Access::Exclusive);
  if (guard.refused()) return Result::failure(*guard.refused());
  if (s.discarded) return s.discarded_result();
  if (!s.evaluating && s.ended) {
    Result ended = std::move(*s.ended);
    s.ended.reset();
    return ended;
  }
  if (!s.evaluating) return Result::failure(invalid("nothing to resume: no evaluation is suspended"));
  auto now = std::chrono::steady_clock::now();
  if (s.options.limits.wall_time) s.wall_deadline = now + *s.options.limits.wall_time;
  s.start_timer_clock(now);
  return s.drive(QB_STATUS_PENDING);
}

void Sandbox::Impl::end_while_settling(Error error) {
  ended = finish_evaluation(Result::failure(std::move(error)));
}

namespace {
// Settles a pending call with an answer from the caller; payload is the encoded value or Error.
// `value` is the answer before encoding, kept when the answer must wait (see below).
Status answer(Sandbox::Impl &s, uint32_t call_id, HostCall::State expected, bool ok, const Value &value,
              std::vector<uint8_t> payload, CallOutcome outcome, const std::string &detail) {
  if (s.discarded) return s.discarded_result().error();
  HostCall *call = s.find_call(call_id);
  if (!call) return invalid("no pending call has id #" + std::to_string(call_id));
  if (call->state != expected)
    return invalid("call #" + std::to_string(call_id) + " is " + describe(call->state) + ", not " +
                   describe(expected));
  auto *cap = s.find_capability(call->capability_id);
  if (ok && cap && cap->bound && payload.size() > cap->capability.policy.max_result_bytes)
    return invalid("the answer to call #" + std::to_string(call_id) + " is " + format_bytes(payload.size()) +
                   ", more than the result limit of " + quoted(cap->name) + ", " +
                   format_bytes(cap->capability.policy.max_result_bytes));
  if (s.use.nested()) {
    // Called from a host function: the guest is in the middle of an operation and cannot take
    // the answer now. It is handed over like a handler's completion, and reaches the program
    // when the running operation returns to its driving loop (or on the next resume()).
    s.close_audit(call->audit_index, outcome, detail);
    call->state = HostCall::State::Running;
    call->timeout_at.reset();
    call->completion = std::make_shared<Completion::State>();
    call->completion->signal = s.signal;
    Completion done(call->completion);
    if (ok) done.resolve(value);
    else done.reject(value.as_error().message, value.as_error().name);
    return std::monostate{};
  }
  HostCall settled = std::move(*call);
  s.calls.erase(std::find_if(s.calls.begin(), s.calls.end(), [&](const HostCall &c) { return c.id == call_id; }));
  s.release_slot(settled);
  s.close_audit(settled.audit_index, outcome, detail);
  s.settled_since_resume = true;
  // The guest code this runs (then-getters, thenables) is the evaluation's: it is metered, and
  // an evaluation that fails here (out of CPU time) ends, its error returned by resume().
  Status settled_status = s.settle_in_guest(settled, ok, std::move(payload));
  if (!settled_status) s.end_while_settling(settled_status.error());
  return settled_status;
}
}  // namespace

Status Sandbox::resolve(uint32_t call_id, const Value &value) {
  Impl &s = *impl_;
  // Reentrant: from a host function the answer is deferred (see answer()).
  OperationGuard guard(s, "resolve()", internal::Access::Reentrant);
  if (guard.refused()) return *guard.refused();
  std::vector<uint8_t> payload;
  try {
    payload = encode_cbor(value);
  } catch (const std::exception &e) {
    return invalid(std::string("the answer cannot be passed to JS: ") + e.what());
  }
  return answer(s, call_id, HostCall::State::AwaitingExternal, true, value, std::move(payload), CallOutcome::Ok, "");
}

Status Sandbox::reject(uint32_t call_id, std::string message, std::string name, CallOutcome outcome,
                       std::optional<std::string> audit_detail) {
  Impl &s = *impl_;
  OperationGuard guard(s, "reject()", internal::Access::Reentrant);
  if (guard.refused()) return *guard.refused();
  if (outcome != CallOutcome::Error && outcome != CallOutcome::Timeout)
    return invalid("reject() records an outcome of error or timeout, not " + std::string(to_string(outcome)));
  Value error = ErrorValue{.name = std::move(name), .message = message, .stack = ""};
  bool ok = false;
  auto payload = encode_for_guest(error, ok);
  return answer(s, call_id, HostCall::State::AwaitingExternal, false, error, std::move(payload), outcome,
                audit_detail ? std::move(*audit_detail) : message);
}

Status Sandbox::deny(uint32_t call_id, std::string reason) {
  Impl &s = *impl_;
  OperationGuard guard(s, "deny()", internal::Access::Reentrant);
  if (guard.refused()) return *guard.refused();
  HostCall *call = s.find_call(call_id);
  std::string name;
  if (call)
    if (auto *cap = s.find_capability(call->capability_id)) name = cap->name;
  std::string message = "the call to " + quoted(name) + " was denied" + (reason.empty() ? "" : ": " + reason);
  Value error = ErrorValue{.name = "Error", .message = message, .stack = ""};
  bool ok = false;
  auto payload = encode_for_guest(error, ok);
  // A call waiting for an answer is denied as one waiting for approval is: the program sees the
  // same error either way, and a person's "no" needs no second word.
  HostCall::State waiting = call && call->state == HostCall::State::AwaitingExternal ? HostCall::State::AwaitingExternal
                                                                                      : HostCall::State::AwaitingApproval;
  return answer(s, call_id, waiting, false, error, std::move(payload), CallOutcome::Denied, message);
}

Status Sandbox::approve(uint32_t call_id) {
  Impl &s = *impl_;
  // Reentrant: it only marks the call; its handler runs from the driving loop.
  OperationGuard guard(s, "approve()", internal::Access::Reentrant);
  if (guard.refused()) return *guard.refused();
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
  OperationGuard guard(s, "abandon()", internal::Access::Exclusive);
  if (guard.refused()) return *guard.refused();
  if (s.discarded) return s.discarded_result().error();
  s.ended.reset();
  if (!s.evaluating) return std::monostate{};
  auto status = s.abandon_in_guest();
  s.finish_evaluation(Result::done(Value()));
  if (!status) return status.error();
  return std::monostate{};
}

// Reads: they cannot report a refusal, so from another thread they wait for the running
// operation to return (OperationGuard with Access::Read), and answer at once from a host function.
// A refusal here means the sandbox is being destroyed; they then answer with nothing.

std::vector<PendingCall> Sandbox::pending_calls() const {
  OperationGuard guard(*impl_, "pending_calls()", internal::Access::Read);
  if (guard.refused()) return {};
  return impl_->pending_for_caller();
}

const std::vector<AuditEntry> &Sandbox::audit_log() const {
  OperationGuard guard(*impl_, "audit_log()", internal::Access::Read);
  return impl_->audit;
}

uint64_t Sandbox::audit_entries_dropped() const {
  OperationGuard guard(*impl_, "audit_entries_dropped()", internal::Access::Read);
  return impl_->audit_dropped;
}

}  // namespace quickbox
