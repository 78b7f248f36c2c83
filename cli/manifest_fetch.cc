// The "fetch" section of a capability manifest, and --allow-net: what gives a program fetch() and
// under which NetworkPolicy (include/quickbox/network.hh, docs/network.md).
//
//   "fetch": {"allow": ["https://api.example.com/v1/", "127.0.0.1:8080"], "deny": [...],
//             "approve": [...], "approve_unsafe_methods": true, "private_networks": ["10.0.0.0/8"],
//             "secrets": [{"host": "api.example.com", "header": "Authorization", "prefix": "Bearer ",
//                          "value_env": "API_TOKEN"}],
//             "resolve": [...], "ca_file": "ca.pem", "max_redirects": 5, "max_request_bytes": ...,
//             "max_response_bytes": ..., "timeout_ms": 30000, "max_requests_per_eval": 100,
//             "max_in_flight": 8, "labels": ["untrusted_input", "external_effect"]}
//
// A secret's value comes from an environment variable or a file, never from the manifest itself.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <string_view>

#include "cli.hh"
#include "manifest_fields.hh"

namespace quickbox::cli {
namespace {

namespace fs = std::filesystem;
using namespace manifest;

constexpr std::string_view kFields[] = {"allow", "deny", "approve", "approve_unsafe_methods", "private_networks",
                                        "secrets", "resolve", "ca_file", "max_redirects", "max_request_bytes",
                                        "max_response_bytes", "timeout_ms", "max_requests_per_eval",
                                        "max_in_flight", "labels"};
constexpr std::string_view kSecretFields[] = {"host", "header", "query", "prefix", "value_env", "value_file"};

std::vector<std::string> strings(const Value &value, const std::string &where) {
  if (!value.is_array()) fail(where, "expected an array of strings, got " + to_json(value));
  std::vector<std::string> out;
  for (const Value &item : value.as_array()) {
    if (!item.is_string() || item.as_string().empty()) fail(where, "expected non-empty strings, got " + to_json(item));
    out.push_back(item.as_string());
  }
  return out;
}

NetworkSecret secret(const Value &entry, const std::string &where, const fs::path &base) {
  if (!entry.is_object()) fail(where, "expected an object {\"host\", \"header\" or \"query\", \"value_env\" or \"value_file\"}");
  NetworkSecret s;
  for (const auto &[key, value] : entry.as_object()) {
    std::string field = where + "." + key;
    if (key == "host") s.match = nonempty_string(value, field);
    else if (key == "header") s.header = nonempty_string(value, field);
    else if (key == "query") s.query = nonempty_string(value, field);
    else if (key == "prefix") s.prefix = nonempty_string(value, field);
    else if (key == "value_env") s.value_env = nonempty_string(value, field);
    else if (key == "value_file") s.value_file = (base / nonempty_string(value, field)).string();
    else if (key == "value")
      fail(field, "a manifest does not hold secret values; name an environment variable (value_env) or a file "
                  "(value_file)");
    else fail(where, "unknown field '" + key + "' (a secret takes: " + joined(kSecretFields) + ")");
  }
  if (s.match.empty()) fail(where, "no \"host\": the requests the secret is attached to");
  return s;
}

void apply_field(NetworkPolicy &p, const std::string &key, const Value &value, const fs::path &base) {
  const std::string where = "fetch." + key;
  constexpr uint64_t GiB = uint64_t{1} << 30;
  if (key == "allow") p.allow = strings(value, where);
  else if (key == "deny") p.deny = strings(value, where);
  else if (key == "approve") p.approve = strings(value, where);
  else if (key == "approve_unsafe_methods") p.approve_unsafe_methods = boolean(value, where);
  else if (key == "private_networks") p.private_networks = strings(value, where);
  else if (key == "resolve") p.resolve = strings(value, where);
  else if (key == "ca_file") p.ca_file = (base / nonempty_string(value, where)).string();
  else if (key == "max_redirects") p.max_redirects = static_cast<uint32_t>(whole_number(value, where, 0, 20));
  else if (key == "max_request_bytes") p.max_request_bytes = whole_number(value, where, 1, GiB);
  else if (key == "max_response_bytes") p.max_response_bytes = whole_number(value, where, 1, GiB);
  else if (key == "timeout_ms") p.timeout = std::chrono::milliseconds(whole_number(value, where, 1, 86'400'000));
  else if (key == "max_requests_per_eval") p.max_requests_per_eval = static_cast<uint32_t>(whole_number(value, where, 1, 1'000'000));
  else if (key == "max_in_flight") p.max_in_flight = static_cast<uint32_t>(whole_number(value, where, 1, 1000));
  else if (key == "labels") p.labels = labels(value, where);
  else if (key == "secrets") {
    if (!value.is_array()) fail(where, "expected an array of secrets, got " + to_json(value));
    for (size_t i = 0; i < value.as_array().size(); i++)
      p.secrets.push_back(secret(value.as_array()[i], where + "[" + std::to_string(i) + "]", base));
  } else {
    fail("fetch", "unknown field '" + key + "' (the fetch section takes: " + joined(kFields) + ")");
  }
}

// The library names the policy's fields as C++ spells them ("NetworkPolicy::allow[0]: ..."); the
// fetch section has the same field names, so its path says where: "fetch.allow[0]: ...".
[[noreturn]] void fail_in_fetch_section(std::string message) {
  static constexpr std::string_view kStruct = "NetworkPolicy::";
  if (!message.starts_with(kStruct)) fail("fetch", message);
  for (size_t at = message.find(kStruct); at != std::string::npos; at = message.find(kStruct, at))
    message.replace(at, kStruct.size(), "fetch.");
  throw ManifestError{message};
}

}  // namespace

NetworkPolicy fetch_policy(const Value &section, const fs::path &base) {
  if (!section.is_object()) fail("fetch", "expected an object {\"allow\": [...], ...}, got " + to_json(section));
  NetworkPolicy policy;
  for (const auto &[key, value] : section.as_object()) apply_field(policy, key, value, base);
  // Rules, ranges and secret sources are checked now, before anything runs.
  if (auto error = check_network_policy(policy)) fail_in_fetch_section(error->message);
  return policy;
}

std::optional<std::string> parse_allow_net(std::string_view list, std::vector<std::string> &rules) {
  if (list.empty()) return "HOST[:PORT][,...], e.g. api.example.com,127.0.0.1:8080 (\"*\": any public host)";
  while (true) {
    size_t comma = list.find(',');
    std::string item(list.substr(0, comma));
    NetworkPolicy alone;
    alone.allow = {item};
    if (auto error = check_network_policy(alone)) {
      std::string message = error->message;
      if (size_t colon = message.find(": "); colon != std::string::npos) message = message.substr(colon + 2);
      return "HOST[:PORT][,...]: " + message;
    }
    rules.push_back(std::move(item));
    if (comma == std::string_view::npos) return std::nullopt;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace quickbox::cli
