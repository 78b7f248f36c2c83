/// \file network.hh
/// \brief Network egress as a capability: the policy behind the sandbox's `fetch()`.
///
/// A sandbox has no network. Setting SandboxOptions::network gives its program a WHATWG-shaped
/// `fetch()` (with `Request`, `Response` and `Headers`) whose requests the host makes with libcurl,
/// asynchronously, only where this policy allows, and with credentials the program never sees.
/// See docs/network.md for the rule syntax and what each check stops.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "quickbox/capability.hh"
#include "quickbox/result.hh"

namespace quickbox {

/// A credential the host attaches to requests after the policy allowed them. The program never
/// sees it: not in its Request or Headers objects, errors, console output, the audit log or a
/// snapshot; and a request to a URL the secret does not match never carries it, redirects
/// included.
struct NetworkSecret {
  /// The requests that get it, as a rule (NetworkPolicy::allow's syntax), e.g. "api.example.com",
  /// "https://api.example.com/v1/" or "127.0.0.1:8080". A rule without a scheme matches https, and
  /// plain http only on a loopback host (127.0.0.1, [::1], localhost): a secret does not cross
  /// the network unencrypted unless the rule says "http://".
  std::string match;
  /// Exactly one of header and query: the request header set to the secret (replacing one the
  /// program set), e.g. "Authorization", or the query parameter set to it, e.g. "api_key".
  std::string header;
  std::string query;
  /// Text put before the value, e.g. "Bearer ".
  std::string prefix;
  /// Exactly one source of the value: the value itself, an environment variable holding it, or a
  /// file holding it (one trailing newline dropped). Read when a sandbox is created or restored.
  std::optional<std::string> value;
  std::string value_env;
  std::string value_file;
};

/// Where a sandbox's fetch() may go, and how much it may do.
///
/// Rules (allow, deny, approve, NetworkSecret::match) are strings:
///   [METHODS ]PATTERN      METHODS: "GET" or "GET,HEAD,..." (absent: every method)
///   PATTERN: "*" (any host) or [SCHEME://]HOST[:PORT][/PATH]
///     SCHEME  http or https (absent: both)
///     HOST    an ASCII name (api.example.com; IDNs in punycode), "*.example.com" (its
///             subdomains, not itself), an IPv4 address, or an IPv6 address in brackets
///     PORT    absent: the scheme's default port when a scheme is given, else any port
///     PATH    a path prefix, matched on whole segments ("/v1" matches /v1 and /v1/x, not /v10)
/// Deny wins over allow; a request no allow rule matches is refused.
///
/// Private, loopback, link-local and other non-public addresses are refused unless explicitly
/// allowed: by an allow rule naming that address (or "localhost", for loopback), or by
/// private_networks. The check is on the address each connection actually goes to, after DNS
/// resolution, so a public name that resolves to 127.0.0.1 (DNS rebinding) is refused too.
/// Redirects are followed by the host, each hop checked again like a new request.
struct NetworkPolicy {
  std::vector<std::string> allow;
  std::vector<std::string> deny;
  /// Requests matching one of these rules wait for approval (Sandbox::approve/deny), like a call
  /// of a capability with requires_approval: the program is Suspended until then.
  std::vector<std::string> approve;
  /// Every request whose method is not GET, HEAD or OPTIONS waits for approval.
  bool approve_unsafe_methods = false;
  /// CIDR ranges ("10.0.0.0/8", "fd00::/8", "127.0.0.1/32") a request may connect to although
  /// they are not public addresses.
  std::vector<std::string> private_networks;
  std::vector<NetworkSecret> secrets;
  /// Fixed name resolutions, "HOST:PORT:ADDRESS" (as curl's --resolve); the address is still
  /// checked like any other.
  std::vector<std::string> resolve;
  /// A PEM file of certificate authorities trusted for https instead of the system's.
  std::string ca_file;
  /// Redirects followed for one fetch() (redirect: "follow"), 0 to 20.
  uint32_t max_redirects = 5;
  /// Largest request body, bytes (1 byte to 1 GiB).
  uint64_t max_request_bytes = 1ull << 20;
  /// Largest response body, bytes, after content decoding (1 byte to 1 GiB).
  uint64_t max_response_bytes = 10ull << 20;
  /// Time one fetch() may take, redirects included (1 ms to 1 day).
  std::chrono::milliseconds timeout{30000};
  /// fetch() calls allowed per evaluation (1 to 1,000,000).
  uint32_t max_requests_per_eval = 100;
  /// fetch() calls of one sandbox in flight at once; more wait their turn (1 to 1000).
  uint32_t max_in_flight = 8;
  /// The rule-of-two labels of fetch: what it returns may be attacker-controlled, and what it
  /// sends leaves the host.
  uint8_t labels = kUntrustedInput | kExternalEffect;
};

/// Checks a policy as creating a sandbox with it would (rules, ranges, readable secrets), without
/// a sandbox. The error names the field ("NetworkPolicy::allow[1]: ...") and never a secret value.
std::optional<Error> check_network_policy(const NetworkPolicy &policy);

}  // namespace quickbox
