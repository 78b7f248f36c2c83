// ES modules on the host side: the guest's module loader asks, through host_call under
// QB_MODULE_LOADER_ID, for a module name (normalize) or a module's source (load); this answers
// from SandboxOptions::modules. Module records and their counts live in the guest.
#include "sandbox_impl.hh"
#include "utf8.hh"

namespace quickbox {

namespace {

std::string quoted(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out.append(1, '\'').append(name).append(1, '\'');
  return out;
}

}  // namespace

internal::HostReply Sandbox::Impl::on_module_request(std::span<const uint8_t> args) {
  internal::HostReply reply;
  auto fail = [&](const std::string &name, const std::string &message) {
    reply.status = QB_HOST_ERROR;
    reply.bytes = internal::encode_js_error(name, message);
    return reply;
  };
  // A deadline passed after the guest's last interrupt check: the loader does not run any more.
  if (internal::check_deadlines(host)) return fail("Error", timeout_error().message);
  // Specifiers and names are at most QB_MODULE_NAME_MAX_BYTES; a base may be an eval's filename,
  // which the host chose itself, so the request's own size bounds it.
  Decoded decoded = decode_cbor(args, DecodeLimits{.max_depth = 2, .max_bytes = args.size()});
  bool well_formed = decoded.ok && decoded.value.is_array() && !decoded.value.as_array().empty();
  if (well_formed)
    for (const Value &item : decoded.value.as_array()) well_formed = well_formed && item.is_string();
  if (!well_formed) return fail("Error", "malformed module request from the guest");
  const auto &request = decoded.value.as_array();
  const std::string &what = request[0].as_string();
  bool normalizing = what == QB_MODULE_NORMALIZE && request.size() == 3;
  if (!normalizing && !(what == QB_MODULE_LOAD && request.size() == 2))
    return fail("Error", "malformed module request from the guest");
  const std::string &name = normalizing ? request[2].as_string() : request[1].as_string();
  if (!options.modules.load)
    return fail("Error", "cannot import " + quoted(name) + ": no module loader is set for this sandbox");

  std::optional<std::string> answer;
  if (normalizing && !options.modules.normalize) {
    answer = name;  // the specifier itself is the name
  } else {
    try {
      timed_handler(
          [&] {
            answer = normalizing ? options.modules.normalize(request[1].as_string(), name)
                                 : options.modules.load(name);
          },
          &reply.handler_time);
    } catch (const CapabilityError &e) {
      return fail(e.name(), e.message());
    } catch (...) {
      // Host internals stay on the host: JS only learns that the loader failed.
      return fail("Error", "the module loader failed on " + quoted(name));
    }
  }
  if (!answer) {
    if (normalizing)
      return fail("Error", "cannot resolve module " + quoted(name) + " imported by " + quoted(request[1].as_string()));
    return fail("Error", "cannot find module " + quoted(name));
  }
  if (internal::find_invalid_utf8(*answer) != std::string_view::npos)
    return fail("TypeError", "the module loader answered " + quoted(name) + " with text that is not valid UTF-8");
  if (!normalizing && answer->size() > options.limits.module_source_bytes)
    return fail("RangeError", "module source limit exceeded: " + quoted(name) + " is " +
                                  internal::format_bytes(answer->size()) + ", more than the limit of " +
                                  internal::format_bytes(options.limits.module_source_bytes));
  reply.status = QB_HOST_VALUE;
  reply.bytes = encode_cbor(Value(std::move(*answer)));
  return reply;
}

}  // namespace quickbox
