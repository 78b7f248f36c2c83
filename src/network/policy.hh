// The network policy, compiled: rules parsed, address ranges parsed, secrets read. Pure decisions,
// no I/O after compile(); shared (immutable) by a sandbox's fetch capability and its requests.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "network/url.hh"
#include "quickbox/network.hh"

namespace quickbox::internal::net {

/// An IPv4 or IPv6 address (IPv4 in the first 4 bytes).
struct Address {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
  friend bool operator==(const Address &, const Address &) = default;
  std::string text() const;
};

/// "1.2.3.4", "::1" or "[::1]"; nullopt for anything else.
std::optional<Address> parse_address(std::string_view text);

/// The name of the non-public range holding the address ("loopback", "private", "link-local", ...),
/// or nullopt for a public address. IPv4-mapped, NAT64 and 6to4 IPv6 addresses are judged by the
/// IPv4 address inside.
std::optional<std::string_view> non_public_range(const Address &address);

/// "10.0.0.0/8", "fd00::/8"; a bare address is a /32 or /128.
struct Cidr {
  Address base;
  int prefix = 0;
  bool contains(const Address &address) const;
};
std::variant<Cidr, std::string> parse_cidr(std::string_view text);

/// One rule (see NetworkPolicy for the syntax).
struct Rule {
  std::string text;
  std::vector<std::string> methods;   ///< upper case; empty: every method
  std::optional<std::string> scheme;  ///< "http" / "https"; unset: both
  enum class HostKind { Any, Exact, Subdomains } host_kind = HostKind::Any;
  std::string host;                   ///< canonical (Exact), or the parent domain (Subdomains)
  std::optional<uint16_t> port;       ///< unset: any port
  std::string path;                   ///< a path prefix; empty: any path
  std::optional<Address> address;     ///< the host is this IP address

  /// True when the rule covers this request (method compared case-insensitively).
  bool matches(std::string_view method, const Target &target) const;
};
/// Parses a rule; the error says what is wrong with it.
std::variant<Rule, std::string> parse_rule(std::string_view text);

/// A secret, read.
struct Secret {
  Rule rule;
  std::string header;  ///< or
  std::string query;
  std::string value;   ///< prefix + the secret: what is sent
  std::string secret;  ///< the secret alone (redacted wherever it shows up)
};

/// The policy's answer for one request.
struct Decision {
  const Rule *allowed_by = nullptr;  ///< null: refused
  std::string refusal;               ///< why, when refused
};

class Policy {
 public:
  /// Parses and checks everything and reads the secrets; the error names the field and never a
  /// secret value.
  static std::variant<std::shared_ptr<const Policy>, Error> compile(const NetworkPolicy &settings);

  const NetworkPolicy &settings() const { return settings_; }
  Decision decide(std::string_view method, const Target &target) const;
  /// True when the request must wait for approval (approve rules, approve_unsafe_methods).
  bool needs_approval(std::string_view method, const Target &target) const;
  /// Why a connection for this request (allowed by `rule`) may not go to `address`; nullopt when
  /// it may.
  std::optional<std::string> refuse_address(const Rule &rule, const Target &target, const Address &address) const;
  /// The secrets attached to a request for this target.
  std::vector<const Secret *> secrets_for(const Target &target) const;
  /// `text` with every secret value (raw, with its prefix, or percent-encoded) replaced.
  std::string redact(std::string text) const;
  /// The allow rules, as text, for messages and prompts.
  const std::vector<Rule> &allow_rules() const { return allow_; }

 private:
  NetworkPolicy settings_;
  std::vector<Rule> allow_, deny_, approve_;
  std::vector<Cidr> private_networks_;
  std::vector<Secret> secrets_;
};

/// True when a host name or literal is loopback by definition: localhost, 127.0.0.0/8, [::1].
bool is_loopback_host(const std::string &host);

}  // namespace quickbox::internal::net
