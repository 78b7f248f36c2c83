// Reading and checking a capability manifest (--caps FILE): which host functions a program gets,
// from which built-in handler, under which policy.
//
//   {"capabilities": {"<JS name>": {"handler": "<built-in>", <handler and policy fields>}},
//    "allow_all_three_labels": false, "max_host_calls": 100, "wall_time_ms": 30000,
//    "fetch": {...}}   (the network policy behind fetch(): manifest_fetch.cc)
//
// Anything not understood is refused: a typo in a policy field must not silently drop a limit.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli.hh"
#include "manifest_fields.hh"

namespace quickbox::cli {

// ---- Field readers (manifest_fields.hh), shared with the "fetch" section ---------------------------

namespace manifest {

[[noreturn]] void fail(const std::string &where, const std::string &what) { throw ManifestError{where + ": " + what}; }

std::string joined(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view name : names) out.append(out.empty() ? "" : ", ").append(name);
  return out;
}

struct LabelName {
  CapabilityLabel label;
  std::string_view name;
};
constexpr LabelName kLabels[] = {{kSensitiveData, "sensitive_data"},
                                 {kUntrustedInput, "untrusted_input"},
                                 {kExternalEffect, "external_effect"}};
constexpr std::string_view kLabelNames[] = {"sensitive_data", "untrusted_input", "external_effect"};

// JSON integers are exact up to 2^53; nothing in a manifest needs more.
constexpr uint64_t kMaxExactInteger = uint64_t{1} << 53;
constexpr uint64_t kMaxMilliseconds = 1'000'000'000;  // about 11 days

uint64_t whole_number(const Value &value, const std::string &where, uint64_t min, uint64_t max) {
  bool whole = value.is_number() && std::floor(value.as_number()) == value.as_number();
  if (!whole || value.as_number() < static_cast<double>(min) || value.as_number() > static_cast<double>(max))
    fail(where, "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max) + ", got " +
                    to_json(value));
  return static_cast<uint64_t>(value.as_number());
}

bool boolean(const Value &value, const std::string &where) {
  if (!value.is_bool()) fail(where, "expected true or false, got " + to_json(value));
  return value.as_bool();
}

const std::string &nonempty_string(const Value &value, const std::string &where) {
  if (!value.is_string() || value.as_string().empty()) fail(where, "expected a non-empty string, got " + to_json(value));
  return value.as_string();
}

uint8_t labels(const Value &value, const std::string &where) {
  if (!value.is_array()) fail(where, "expected an array of labels (" + joined(kLabelNames) + "), got " + to_json(value));
  uint8_t bits = 0;
  for (const Value &label : value.as_array()) {
    auto known = std::find_if(std::begin(kLabels), std::end(kLabels),
                              [&](const LabelName &l) { return label.is_string() && label.as_string() == l.name; });
    if (known == std::end(kLabels))
      fail(where, "unknown label " + to_json(label) + " (labels: " + joined(kLabelNames) + ")");
    bits |= known->label;
  }
  return bits;
}

}  // namespace manifest

namespace {

using namespace manifest;
namespace fs = std::filesystem;
using std::chrono::milliseconds;

struct HandlerInfo {
  Handler handler;
  std::string_view name;
  std::string_view own_field;  ///< the one field only this handler takes; empty when none
  bool own_field_required;
};

constexpr HandlerInfo kHandlers[] = {
    {Handler::Ask, "ask", "", false},
    {Handler::Echo, "echo", "delay_ms", false},
    {Handler::ReadText, "read_text", "root", true},
    {Handler::Append, "append", "file", true},
};

constexpr std::string_view kHandlerNames[] = {"ask", "echo", "read_text", "append"};

constexpr std::string_view kPolicyFields[] = {"max_calls_per_eval", "max_in_flight",   "timeout_ms",
                                              "max_argument_bytes", "max_result_bytes", "requires_approval",
                                              "labels"};

constexpr std::string_view kTopLevelFields[] = {"capabilities", "allow_all_three_labels", "max_host_calls",
                                                "wall_time_ms", "fetch"};

/// Sets the CapabilityPolicy field `key` from its manifest value.
void apply_policy_field(CapabilityPolicy &policy, std::string_view key, const Value &value, const std::string &where) {
  if (key == "max_calls_per_eval") {
    policy.max_calls_per_eval = static_cast<uint32_t>(whole_number(value, where, 0, UINT32_MAX));
  } else if (key == "max_in_flight") {
    policy.max_in_flight = static_cast<uint32_t>(whole_number(value, where, 1, UINT32_MAX));
  } else if (key == "timeout_ms") {
    policy.call_timeout = milliseconds(whole_number(value, where, 1, kMaxMilliseconds));
  } else if (key == "max_argument_bytes") {
    policy.max_argument_bytes = whole_number(value, where, 1, kMaxExactInteger);
  } else if (key == "max_result_bytes") {
    policy.max_result_bytes = whole_number(value, where, 1, kMaxExactInteger);
  } else if (key == "requires_approval") {
    policy.requires_approval = boolean(value, where);
  } else if (key == "labels") {
    policy.labels = labels(value, where);
  }
}

const HandlerInfo &handler_of(const Value &entry, const std::string &where) {
  const Value *handler = entry.find("handler");
  if (!handler) fail(where, "no \"handler\" (built-in handlers: " + joined(kHandlerNames) + ")");
  const std::string &name = nonempty_string(*handler, where + ".handler");
  for (const HandlerInfo &info : kHandlers)
    if (info.name == name) return info;
  fail(where + ".handler", "unknown handler " + in_quotes(name) + " (built-in handlers: " + joined(kHandlerNames) + ")");
}

/// The directory a manifest's relative paths start from: its own.
fs::path manifest_directory(const std::string &file) {
  fs::path directory = fs::absolute(fs::path(file)).parent_path();
  return directory.empty() ? fs::path(".") : directory;
}

fs::path read_text_root(const Value &value, const std::string &where, const fs::path &base) {
  const std::string &root = nonempty_string(value, where);
  std::error_code error;
  fs::path canonical = fs::canonical(base / root, error);
  if (error || !fs::is_directory(canonical, error))
    fail(where, in_quotes(root) + " is not a directory (relative paths start at the manifest's directory, " +
                    base.string() + ")");
  return canonical;
}

fs::path append_file(const Value &value, const std::string &where, const fs::path &base) {
  const std::string &file = nonempty_string(value, where);
  fs::path path = base / file;
  std::error_code error;
  fs::file_status status = fs::symlink_status(path, error);
  if (fs::exists(status) && !fs::is_regular_file(status))
    fail(where, in_quotes(file) + " is not a regular file (" +
                    (fs::is_directory(status) ? "a directory" : fs::is_symlink(status) ? "a symbolic link" : "a FIFO, device or socket") +
                    "); append writes only to regular files");
  if (!fs::is_directory(path.parent_path(), error))
    fail(where, "the directory of " + in_quotes(file) + " does not exist (relative paths start at the manifest's "
                "directory, " + base.string() + ")");
  return path;
}

void apply_own_field(CapabilitySpec &spec, const Value &value, const std::string &where, const fs::path &base) {
  switch (spec.handler) {
    case Handler::ReadText: spec.path = read_text_root(value, where, base); break;
    case Handler::Append: spec.path = append_file(value, where, base); break;
    case Handler::Echo: spec.delay = milliseconds(whole_number(value, where, 0, kMaxMilliseconds)); break;
    case Handler::Ask: break;
  }
}

CapabilitySpec capability_spec(const std::string &name, const Value &entry, const fs::path &base) {
  const std::string where = "capabilities." + name;
  if (!entry.is_object()) fail(where, "expected an object with a \"handler\", got " + to_json(entry));
  const HandlerInfo &info = handler_of(entry, where);
  CapabilitySpec spec;
  spec.name = name;
  spec.handler = info.handler;
  for (const auto &[key, value] : entry.as_object()) {
    const std::string field_where = where + "." + key;
    if (key == "handler") continue;
    if (std::find(std::begin(kPolicyFields), std::end(kPolicyFields), key) != std::end(kPolicyFields)) {
      apply_policy_field(spec.policy, key, value, field_where);
    } else if (!info.own_field.empty() && key == info.own_field) {
      apply_own_field(spec, value, field_where, base);
    } else {
      std::string allowed = "handler, " + joined(kPolicyFields);
      if (!info.own_field.empty()) allowed += ", " + std::string(info.own_field);
      fail(where, "unknown field " + in_quotes(key) + " (a " + std::string(info.name) + " capability takes: " +
                      allowed + ")");
    }
  }
  if (info.own_field_required && !entry.find(info.own_field))
    fail(where, "a " + std::string(info.name) + " capability needs \"" + std::string(info.own_field) + "\"");
  if (spec.handler == Handler::Ask && spec.policy.requires_approval)
    fail(where + ".requires_approval", "does not apply to an ask capability: the person's answer is the approval");
  return spec;
}

void apply_top_level_field(Manifest &manifest, const std::string &key, const Value &value, const fs::path &base) {
  if (key == "capabilities") {
    if (!value.is_object()) fail(key, "expected an object of capabilities by JS name, got " + to_json(value));
    for (const auto &[name, entry] : value.as_object())
      manifest.capabilities.push_back(capability_spec(name, entry, base));
  } else if (key == "allow_all_three_labels") {
    manifest.allow_all_three_labels = boolean(value, key);
  } else if (key == "max_host_calls") {
    manifest.max_host_calls = static_cast<uint32_t>(whole_number(value, key, 0, UINT32_MAX));
  } else if (key == "wall_time_ms") {
    manifest.wall_time = milliseconds(whole_number(value, key, 1, kMaxMilliseconds));
  } else if (key == "fetch") {
    manifest.network = fetch_policy(value, base);
  } else {
    fail(in_quotes(key), "unknown field (a manifest takes: " + joined(kTopLevelFields) + ")");
  }
}

Manifest parse_manifest(const std::string &file, std::string_view text) {
  // A key written twice would keep only its last value, so `"requires_approval": true,
  // "requires_approval": false` would silently drop an approval: refused.
  Decoded parsed = parse_json(text, JsonOptions{.refuse_duplicate_keys = true});
  if (!parsed.ok) throw ManifestError{parsed.error};
  if (!parsed.value.is_object())
    throw ManifestError{"expected an object {\"capabilities\": {...}}, got " + to_json(parsed.value)};
  if (!parsed.value.find("capabilities") && !parsed.value.find("fetch"))
    throw ManifestError{"no \"capabilities\" object (nor a \"fetch\" section)"};
  Manifest manifest;
  manifest.file = file;
  const fs::path base = manifest_directory(file);
  for (const auto &[key, value] : parsed.value.as_object()) apply_top_level_field(manifest, key, value, base);
  return manifest;
}

}  // namespace

std::variant<Manifest, UsageError> load_manifest(const std::string &file) {
  auto text = read_file(file, kMaxManifestBytes);
  if (auto *error = std::get_if<UsageError>(&text)) return *error;
  try {
    return parse_manifest(file, std::get<std::string>(text));
  } catch (const ManifestError &error) {
    return UsageError{"invalid capability manifest " + file + ": " + error.message};
  }
}

void apply_manifest(const Manifest &manifest, SandboxOptions &options) {
  options.allow_all_three_labels = manifest.allow_all_three_labels;
  options.limits.max_host_calls = manifest.max_host_calls;
  options.limits.wall_time = manifest.wall_time;
  options.network = manifest.network;
}

std::optional<UsageError> register_capabilities(Sandbox &sandbox, const Manifest &manifest) {
  for (const CapabilitySpec &spec : manifest.capabilities) {
    Status status = sandbox.register_capability(make_capability(spec));
    if (status) continue;
    const Error &error = status.error();
    return UsageError{manifest.file + ": capability " + in_quotes(spec.name) +
                      " was refused: " + in_cli_words(error)};
  }
  return std::nullopt;
}

}  // namespace quickbox::cli
