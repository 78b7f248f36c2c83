// Sandbox's handle operations: JS values pinned in the guest's handle table, which the host names
// by id (abi/quickbox_abi.h, "Handles"). Every operation is one qb_handle call; the guest checks
// the id, so a released or foreign handle is refused there and never reaches another value.
#include <string>

#include "quickbox_abi.h"
#include "sandbox_impl.hh"

namespace quickbox {
namespace {

Error make_error(ErrorKind kind, std::string message) { return Error{.kind = kind, .message = std::move(message)}; }

/// What each operation is called in refusals ("cannot call call_handle() from inside ...").
const char *operation_name(uint32_t op) {
  switch (op) {
    case QB_HANDLE_GET: return "get_property()";
    case QB_HANDLE_SET: return "set_property()";
    case QB_HANDLE_HAS: return "has_property()";
    case QB_HANDLE_CALL: return "call_handle()";
    case QB_HANDLE_CALL_METHOD: return "call_method()";
    case QB_HANDLE_NEW: return "construct()";
    case QB_HANDLE_AWAIT: return "await_handle()";
    case QB_HANDLE_TO_VALUE: return "to_value()";
    case QB_HANDLE_DESCRIBE: return "handle_info()";
    case QB_HANDLE_DUP: return "duplicate()";
    case QB_HANDLE_RELEASE: return "release()";
  }
  return "a handle operation";
}

bool is_evaluation(uint32_t op) {
  return op == QB_HANDLE_CALL || op == QB_HANDLE_CALL_METHOD || op == QB_HANDLE_NEW || op == QB_HANDLE_AWAIT;
}

/// Runs one handle operation with its CBOR request: calls, `new` and awaits as evaluations (they
/// may suspend and are refused while another is suspended), the rest as simple operations.
Result handle_op(Sandbox::Impl &s, uint32_t op, Handle handle, const Value &request) {
  const char *what = operation_name(op);
  OperationGuard guard(s, what, internal::Access::Nestable);
  if (guard.refused()) return Result::failure(*guard.refused());
  Nesting nesting(s, guard.nested());
  if (nesting.refused()) return Result::failure(*nesting.refused());
  if (s.discarded) return s.discarded_result();
  if (is_evaluation(op))
    if (auto err = s.refuse_while_suspended("start an evaluation")) return Result::failure(*err);
  std::vector<uint8_t> payload;
  try {
    encode_cbor(request, payload);
  } catch (const std::exception &e) {
    return Result::failure(make_error(ErrorKind::InvalidInput, e.what()));
  }
  std::string_view bytes(reinterpret_cast<const char *>(payload.data()), payload.size());
  if (auto err = s.write_input({bytes})) return Result::failure(*err);
  std::initializer_list<uint32_t> args = {op, handle.id, static_cast<uint32_t>(payload.size())};
  if (is_evaluation(op)) return s.start_evaluation(s.func(&internal::GuestExports::handle), args, s.options.limits.cpu_time);
  return s.run_simple(s.func(&internal::GuestExports::handle), args);
}

Value args_array(std::span<const Value> args) { return Value(Value::Array(args.begin(), args.end())); }

/// The Done value of an operation that replies with a handle, checked to be one.
Result expect_handle(Result r) {
  if (r.ok() && !r.value().is_handle())
    return Result::failure(make_error(ErrorKind::Internal, "malformed handle reply from the guest"));
  return r;
}

}  // namespace

Result Sandbox::get_property(Handle object, const Value &key) {
  return expect_handle(handle_op(*impl_, QB_HANDLE_GET, object, key));
}

Result Sandbox::set_property(Handle object, const Value &key, const Value &value) {
  return handle_op(*impl_, QB_HANDLE_SET, object, Value(Value::Array{key, value}));
}

Expected<bool> Sandbox::has_property(Handle object, const Value &key) {
  Result r = handle_op(*impl_, QB_HANDLE_HAS, object, key);
  if (!r.ok()) return r.error();
  if (!r.value().is_bool()) return make_error(ErrorKind::Internal, "malformed has_property reply from the guest");
  return r.value().as_bool();
}

Result Sandbox::call_handle(Handle function, std::span<const Value> args) {
  return expect_handle(handle_op(*impl_, QB_HANDLE_CALL, function, args_array(args)));
}

Result Sandbox::call_method(Handle object, std::string_view name, std::span<const Value> args) {
  return expect_handle(handle_op(*impl_, QB_HANDLE_CALL_METHOD, object,
                                 Value(Value::Array{Value(name), args_array(args)})));
}

Result Sandbox::construct(Handle constructor, std::span<const Value> args) {
  return expect_handle(handle_op(*impl_, QB_HANDLE_NEW, constructor, args_array(args)));
}

Result Sandbox::await_handle(Handle promise) {
  return expect_handle(handle_op(*impl_, QB_HANDLE_AWAIT, promise, Value(nullptr)));
}

Result Sandbox::to_value(Handle handle, bool pin_opaque) {
  return handle_op(*impl_, QB_HANDLE_TO_VALUE, handle, Value(pin_opaque));
}

Expected<HandleInfo> Sandbox::handle_info(Handle handle) {
  Result r = handle_op(*impl_, QB_HANDLE_DESCRIBE, handle, Value(nullptr));
  if (!r.ok()) return r.error();
  const Value &v = r.value();
  if (!v.is_array() || v.as_array().size() != 2 || !v.as_array()[0].is_string() || !v.as_array()[1].is_bool())
    return make_error(ErrorKind::Internal, "malformed describe reply from the guest");
  return HandleInfo{.type = v.as_array()[0].as_string(), .is_promise = v.as_array()[1].as_bool()};
}

Result Sandbox::duplicate(Handle handle) {
  return expect_handle(handle_op(*impl_, QB_HANDLE_DUP, handle, Value(nullptr)));
}

Status Sandbox::release(Handle handle) {
  Result r = handle_op(*impl_, QB_HANDLE_RELEASE, handle, Value(nullptr));
  if (!r.ok()) return r.error();
  return std::monostate{};
}

}  // namespace quickbox
