// The network policy: rule syntax, address ranges, secrets, and the decisions made from them.
#include "network/policy.hh"
#include "network/text.hh"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace quickbox::internal::net {
namespace {

using Refusal = std::string;

bool all_digits(std::string_view text) {
  return !text.empty() && text.size() <= 5 && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// ---- Paths ------------------------------------------------------------------------------------------

/// RFC 3986 5.2.4.
std::string remove_dot_segments(std::string input) {
  std::string output;
  while (!input.empty()) {
    if (input.starts_with("../")) input.erase(0, 3);
    else if (input.starts_with("./")) input.erase(0, 2);
    else if (input.starts_with("/./")) input.erase(0, 2);
    else if (input == "/.") input = "/";
    else if (input.starts_with("/../") || input == "/..") {
      input = input == "/.." ? "/" : input.substr(3);
      size_t last = output.rfind('/');
      output.erase(last == std::string::npos ? 0 : last);
    } else if (input == "." || input == "..") input.clear();
    else {
      size_t next = input.find('/', input[0] == '/' ? 1 : 0);
      output += input.substr(0, next);
      input.erase(0, next == std::string::npos ? input.size() : next);
    }
  }
  return output.empty() ? "/" : output;
}

/// The path as a server will most likely read it: percent-encoded unreserved characters decoded
/// (%61dmin is /admin), dot segments removed (%2e%2e too). `unclear` is set when it holds an
/// encoded slash or a backslash, which servers read in different ways.
std::string normalize_path(std::string_view path, bool &unclear) {
  std::string decoded;
  for (size_t i = 0; i < path.size(); i++) {
    if (path[i] == '%' && i + 2 < path.size() && hex_digit(path[i + 1]) >= 0 && hex_digit(path[i + 2]) >= 0) {
      char c = static_cast<char>(hex_digit(path[i + 1]) * 16 + hex_digit(path[i + 2]));
      if (is_unreserved(static_cast<unsigned char>(c))) {
        decoded += c;
        i += 2;
        continue;
      }
      if (c == '/' || c == '\\') unclear = true;
    }
    if (path[i] == '\\') unclear = true;
    decoded += path[i];
  }
  return remove_dot_segments(decoded);
}

bool path_has_prefix(const std::string &path, const std::string &prefix) {
  if (prefix.ends_with('/')) return path.starts_with(prefix);
  return path == prefix || path.starts_with(prefix + "/");
}

// ---- Addresses ---------------------------------------------------------------------------------------

Address unmapped(const Address &a) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!a.v6 || !std::equal(mapped, mapped + 12, a.bytes.begin())) return a;
  Address v4;
  std::copy(a.bytes.begin() + 12, a.bytes.end(), v4.bytes.begin());
  return v4;
}

std::optional<std::string_view> v4_range(const uint8_t *b) {
  uint8_t a = b[0], c1 = b[1], c2 = b[2];
  if (a == 0) return "unspecified (\"this network\")";
  if (a == 10) return "private";
  if (a == 100 && (c1 & 0xC0) == 64) return "shared (carrier-grade NAT)";
  if (a == 127) return "loopback";
  if (a == 169 && c1 == 254) return "link-local";
  if (a == 172 && (c1 & 0xF0) == 16) return "private";
  if (a == 192 && c1 == 0 && c2 == 0) return "IETF protocol assignment";
  if (a == 192 && c1 == 0 && c2 == 2) return "documentation";
  if (a == 192 && c1 == 168) return "private";
  if (a == 198 && (c1 & 0xFE) == 18) return "benchmarking";
  if (a == 198 && c1 == 51 && c2 == 100) return "documentation";
  if (a == 203 && c1 == 0 && c2 == 113) return "documentation";
  if (a >= 224 && a < 240) return "multicast";
  if (a >= 240) return "reserved";
  return std::nullopt;
}

}  // namespace

std::string Address::text() const {
  char buffer[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buffer, sizeof buffer);
  if (!v6) return buffer;
  std::string text(1, '[');  // appended: GCC 12 warns falsely about "[" + std::string
  return text.append(buffer).append(1, ']');
}

std::optional<Address> parse_address(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  std::string copy(text);
  Address a;
  if (inet_pton(AF_INET, copy.c_str(), a.bytes.data()) == 1) return a;
  a.v6 = true;
  if (inet_pton(AF_INET6, copy.c_str(), a.bytes.data()) == 1) return a;
  return std::nullopt;
}

std::optional<std::string_view> non_public_range(const Address &address) {
  Address a = unmapped(address);
  const uint8_t *b = a.bytes.data();
  if (!a.v6) return v4_range(b);
  auto zero = [&](int from, int to) { return std::all_of(b + from, b + to, [](uint8_t x) { return x == 0; }); };
  if (zero(0, 16)) return "unspecified";
  if (zero(0, 15) && b[15] == 1) return "loopback";
  if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {
    if (zero(4, 12)) return v4_range(b + 12);  // NAT64: judged by the IPv4 address inside
    if (b[4] == 0 && b[5] == 1) return "private (local-use NAT64)";
  }
  if (zero(0, 12)) return "reserved (IPv4-compatible)";
  if (b[0] == 0x01 && b[1] == 0 && zero(2, 8)) return "discard";
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return "documentation";
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) return "reserved (Teredo)";
  if (b[0] == 0x20 && b[1] == 0x02) return v4_range(b + 2);  // 6to4: judged by the IPv4 address inside
  if ((b[0] & 0xFE) == 0xFC) return "unique local (private)";
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return "link-local";
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return "site-local";
  if (b[0] == 0xFF) return "multicast";
  return std::nullopt;
}

bool Cidr::contains(const Address &address) const {
  Address a = unmapped(address), base_ = unmapped(base);
  if (a.v6 != base_.v6) return false;
  int bits = prefix;
  for (int i = 0; bits > 0; i++, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xFF : static_cast<uint8_t>(0xFF << (8 - bits));
    if ((a.bytes[i] & mask) != (base_.bytes[i] & mask)) return false;
  }
  return true;
}

std::variant<Cidr, std::string> parse_cidr(std::string_view text) {
  std::string_view address_text = text, prefix_text;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    address_text = text.substr(0, slash);
    prefix_text = text.substr(slash + 1);
  }
  auto address = parse_address(address_text);
  if (!address) return "'" + std::string(text) + "' is not an address range like 10.0.0.0/8 or fd00::/8";
  int max = address->v6 ? 128 : 32;
  int prefix = max;
  if (!prefix_text.empty() || text.find('/') != std::string_view::npos) {
    if (!all_digits(prefix_text) || std::stoi(std::string(prefix_text)) > max)
      return "'" + std::string(text) + "': the prefix length must be 0 to " + std::to_string(max);
    prefix = std::stoi(std::string(prefix_text));
  }
  return Cidr{*address, prefix};
}

bool is_loopback_host(const std::string &host) {
  if (host == "localhost" || host.ends_with(".localhost")) return true;
  auto address = parse_address(host);
  return address && non_public_range(*address) == std::string_view("loopback");
}

// ---- Rules -------------------------------------------------------------------------------------------

namespace {

enum class Unclear { NoMatch, Match };

bool rule_matches(const Rule &rule, std::string_view method, const Target &target, Unclear unclear) {
  if (!rule.methods.empty() && !method.empty() &&
      std::find(rule.methods.begin(), rule.methods.end(), ascii_upper(method)) == rule.methods.end())
    return false;
  if (rule.scheme && *rule.scheme != target.scheme) return false;
  switch (rule.host_kind) {
    case Rule::HostKind::Any: break;
    case Rule::HostKind::Exact:
      if (target.host != rule.host) return false;
      break;
    case Rule::HostKind::Subdomains:
      if (target.host.size() <= rule.host.size() + 1 || !target.host.ends_with("." + rule.host)) return false;
      break;
  }
  if (rule.port && *rule.port != target.port) return false;
  if (rule.path.empty()) return true;
  bool is_unclear = false;
  std::string path = normalize_path(target.path, is_unclear);
  if (is_unclear) return unclear == Unclear::Match;
  return path_has_prefix(path, rule.path);
}

}  // namespace

bool Rule::matches(std::string_view method, const Target &target) const {
  return rule_matches(*this, method, target, Unclear::NoMatch);
}

std::variant<Rule, std::string> parse_rule(std::string_view original) {
  Rule rule;
  rule.text = std::string(trim(original));
  std::string_view text = rule.text;
  auto bad = [&](const std::string &why) { return "'" + rule.text + "' is not a rule: " + why; };
  if (text.empty()) return bad("it is empty");
  if (size_t space = text.find_first_of(" \t"); space != std::string_view::npos) {
    std::string_view methods = text.substr(0, space);
    text = trim(text.substr(space));
    for (;;) {
      size_t comma = methods.find(',');
      std::string_view method = methods.substr(0, comma);
      if (!is_token(method)) return bad("'" + std::string(method) + "' is not an HTTP method (methods: GET,POST,...)");
      rule.methods.push_back(ascii_upper(method));
      if (comma == std::string_view::npos) break;
      methods.remove_prefix(comma + 1);
    }
  }
  if (text == "*") return rule;
  if (size_t sep = text.find("://"); sep != std::string_view::npos) {
    std::string scheme = ascii_lower(text.substr(0, sep));
    if (scheme != "http" && scheme != "https") return bad("the scheme must be http or https");
    rule.scheme = scheme;
    text = text.substr(sep + 3);
  }
  std::string_view authority = text.substr(0, text.find('/'));
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    std::string path(text.substr(slash));
    if (path.find_first_of("?#") != std::string::npos) return bad("a path prefix cannot hold a query or fragment");
    bool unclear = false;
    path = normalize_path(path, unclear);
    if (unclear) return bad("a path prefix cannot hold an encoded slash or a backslash");
    if (path != "/") rule.path = path;
  }
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("an IPv6 address must end with ']'");
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected text after the IPv6 address");
      port = after.substr(1);
      if (port.empty()) return bad("an empty port");
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return bad("an empty port");
  }
  if (!port.empty()) {
    if (!all_digits(port) || std::stoul(std::string(port)) == 0 || std::stoul(std::string(port)) > 65535)
      return bad("the port must be a number from 1 to 65535");
    rule.port = static_cast<uint16_t>(std::stoul(std::string(port)));
  } else if (rule.scheme) {
    rule.port = *rule.scheme == "https" ? 443 : 80;
  }
  if (host.empty()) return bad("no host (use \"*\" for any host)");
  if (host == "*") return rule;
  if (host.starts_with("*.")) {
    rule.host_kind = Rule::HostKind::Subdomains;
    host.remove_prefix(2);
  } else if (host.find('*') != std::string_view::npos) {
    return bad("'*' may only start a host, as in *.example.com");
  } else {
    rule.host_kind = Rule::HostKind::Exact;
  }
  // The host is read by the same parser as request URLs, so both are in the same canonical form
  // (lower case, dotted IPv4, canonical IPv6).
  auto parsed = Url::parse("http://" + std::string(host) + "/");
  if (std::holds_alternative<std::string>(parsed)) return bad("the host is not valid");
  rule.host = std::get<Url>(parsed).target().host;
  if (rule.host_kind == Rule::HostKind::Exact) rule.address = parse_address(rule.host);
  else if (parse_address(rule.host)) return bad("'*.' applies to domain names, not addresses");
  return rule;
}

// ---- Policy ------------------------------------------------------------------------------------------

namespace {

Error invalid(std::string message) { return Error{.kind = ErrorKind::InvalidInput, .message = std::move(message)}; }

std::variant<std::string, std::string> read_secret(const NetworkSecret &s) {
  using Out = std::variant<std::string, std::string>;
  int sources = (s.value ? 1 : 0) + (s.value_env.empty() ? 0 : 1) + (s.value_file.empty() ? 0 : 1);
  if (sources != 1) return Out(std::in_place_index<1>, "needs exactly one of value, value_env and value_file");
  if (s.value) return Out(std::in_place_index<0>, *s.value);
  if (!s.value_env.empty()) {
    const char *v = std::getenv(s.value_env.c_str());
    if (!v) return Out(std::in_place_index<1>, "the environment variable " + s.value_env + " is not set");
    return Out(std::in_place_index<0>, std::string(v));
  }
  std::ifstream in(s.value_file, std::ios::binary);
  if (!in) return Out(std::in_place_index<1>, "the file '" + s.value_file + "' cannot be read");
  std::string value;
  char buffer[4096];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    value.append(buffer, static_cast<size_t>(in.gcount()));
    if (value.size() > 65536) return Out(std::in_place_index<1>, "the file '" + s.value_file + "' is larger than 64 KiB");
  }
  if (value.ends_with("\r\n")) value.resize(value.size() - 2);
  else if (value.ends_with("\n")) value.resize(value.size() - 1);
  return Out(std::in_place_index<0>, std::move(value));
}

std::optional<Error> check_resolve(const std::string &entry, const std::string &where) {
  // HOST:PORT:ADDRESS[,ADDRESS...]; an IPv6 address is written in brackets.
  size_t first = entry.find(':');
  size_t second = first == std::string::npos ? std::string::npos : entry.find(':', first + 1);
  if (second == std::string::npos || first == 0)
    return invalid(where + ": '" + entry + "' is not HOST:PORT:ADDRESS");
  std::string port = entry.substr(first + 1, second - first - 1);
  if (!all_digits(port) || std::stoul(port) == 0 || std::stoul(port) > 65535)
    return invalid(where + ": '" + entry + "': the port must be a number from 1 to 65535");
  std::string_view addresses = std::string_view(entry).substr(second + 1);
  while (true) {
    size_t comma = addresses.find(',');
    if (!parse_address(addresses.substr(0, comma)))
      return invalid(where + ": '" + entry + "': '" + std::string(addresses.substr(0, comma)) + "' is not an IP address");
    if (comma == std::string_view::npos) break;
    addresses.remove_prefix(comma + 1);
  }
  return std::nullopt;
}

}  // namespace

std::variant<std::shared_ptr<const Policy>, Error> Policy::compile(const NetworkPolicy &settings) {
  auto policy = std::make_shared<Policy>();
  policy->settings_ = settings;
  struct RuleList {
    const std::vector<std::string> &texts;
    std::vector<Rule> &rules;
    const char *name;
  };
  for (RuleList list : {RuleList{settings.allow, policy->allow_, "allow"}, RuleList{settings.deny, policy->deny_, "deny"},
                        RuleList{settings.approve, policy->approve_, "approve"}}) {
    for (size_t i = 0; i < list.texts.size(); i++) {
      auto rule = parse_rule(list.texts[i]);
      if (auto *error = std::get_if<std::string>(&rule))
        return invalid("NetworkPolicy::" + std::string(list.name) + "[" + std::to_string(i) + "]: " + *error);
      list.rules.push_back(std::move(std::get<Rule>(rule)));
    }
  }
  for (size_t i = 0; i < settings.private_networks.size(); i++) {
    auto cidr = parse_cidr(settings.private_networks[i]);
    if (auto *error = std::get_if<std::string>(&cidr))
      return invalid("NetworkPolicy::private_networks[" + std::to_string(i) + "]: " + *error);
    policy->private_networks_.push_back(std::get<Cidr>(cidr));
  }
  for (size_t i = 0; i < settings.resolve.size(); i++)
    if (auto error = check_resolve(settings.resolve[i], "NetworkPolicy::resolve[" + std::to_string(i) + "]"))
      return *error;
  if (!settings.ca_file.empty() && !std::ifstream(settings.ca_file))
    return invalid("NetworkPolicy::ca_file: '" + settings.ca_file + "' cannot be read");
  auto range = [](uint64_t value, uint64_t min, uint64_t max, const char *name, const char *unit) -> std::optional<Error> {
    if (value >= min && value <= max) return std::nullopt;
    return invalid(std::string("NetworkPolicy::") + name + " must be between " + std::to_string(min) + " and " +
                   std::to_string(max) + unit + ", got " + std::to_string(value));
  };
  constexpr uint64_t GiB = uint64_t{1} << 30;
  if (auto e = range(settings.max_redirects, 0, 20, "max_redirects", "")) return *e;
  if (auto e = range(settings.max_request_bytes, 1, GiB, "max_request_bytes", " bytes")) return *e;
  if (auto e = range(settings.max_response_bytes, 1, GiB, "max_response_bytes", " bytes")) return *e;
  if (auto e = range(static_cast<uint64_t>(std::max<int64_t>(settings.timeout.count(), 0)), 1, 86'400'000, "timeout", " ms"))
    return *e;
  if (auto e = range(settings.max_requests_per_eval, 1, 1'000'000, "max_requests_per_eval", "")) return *e;
  if (auto e = range(settings.max_in_flight, 1, 1000, "max_in_flight", "")) return *e;
  if (settings.labels & ~7u) return invalid("NetworkPolicy::labels: unknown label bits");
  for (size_t i = 0; i < settings.secrets.size(); i++) {
    const NetworkSecret &s = settings.secrets[i];
    std::string where = "NetworkPolicy::secrets[" + std::to_string(i) + "] (for '" + s.match + "')";
    auto rule = parse_rule(s.match);
    if (auto *error = std::get_if<std::string>(&rule)) return invalid(where + ": match " + *error);
    if (s.header.empty() == s.query.empty()) return invalid(where + ": needs exactly one of header and query");
    if (!s.header.empty() && !is_token(s.header)) return invalid(where + ": '" + s.header + "' is not a header name");
    auto value = read_secret(s);
    if (value.index() == 1) return invalid(where + ": " + std::get<1>(value));
    std::string secret = std::get<0>(std::move(value));
    if (secret.empty()) return invalid(where + ": the value is empty");
    std::string sent = s.prefix + secret;
    if (sent.find_first_of(std::string("\r\n\0", 3)) != std::string::npos)
      return invalid(where + ": the value (or its prefix) holds a line break or a NUL character");
    policy->secrets_.push_back(Secret{.rule = std::move(std::get<Rule>(rule)),
                                      .header = s.header,
                                      .query = s.query,
                                      .value = std::move(sent),
                                      .secret = std::move(secret)});
  }
  // The values were read: the copy of the settings keeps only where they came from.
  for (auto &s : policy->settings_.secrets)
    if (s.value) s.value = std::string();
  return std::shared_ptr<const Policy>(std::move(policy));
}

std::optional<std::string> Policy::refuse_address(const Rule &rule, const Target &target, const Address &address) const {
  Address a = unmapped(address);
  auto range = non_public_range(a);
  if (!range) return std::nullopt;
  if (rule.address && unmapped(*rule.address) == a) return std::nullopt;  // the rule names this address
  if (rule.host_kind == Rule::HostKind::Exact && rule.host == "localhost" && *range == "loopback") return std::nullopt;
  for (const Cidr &cidr : private_networks_)
    if (cidr.contains(a)) return std::nullopt;
  std::string message = "the address " + a.text() + " is " + std::string(*range);
  if (target.host != a.text()) message += " (" + target.host + " resolved to it)";
  return message +
         ", and non-public addresses are refused unless an allow rule names the address or private_networks "
         "includes it";
}

Decision Policy::decide(std::string_view method, const Target &target) const {
  for (const Rule &rule : deny_)
    if (rule_matches(rule, method, target, Unclear::Match)) return Decision{nullptr, "it matches the deny rule '" + rule.text + "'"};
  for (const Rule &rule : allow_) {
    if (!rule_matches(rule, method, target, Unclear::NoMatch)) continue;
    // An address in the URL itself is judged now, before anything connects.
    if (auto address = parse_address(target.host))
      if (auto refusal = refuse_address(rule, target, *address)) return Decision{nullptr, *refusal};
    return Decision{&rule, ""};
  }
  std::string allowed;
  for (const Rule &rule : allow_) {
    if (allowed.size() > 2000) {
      allowed += ", ...";
      break;
    }
    allowed += (allowed.empty() ? "'" : ", '") + rule.text + "'";
  }
  return Decision{nullptr, "no allow rule matches it (" +
                               (allowed.empty() ? std::string("nothing is allowed") : "allowed: " + allowed) + ")"};
}

bool Policy::needs_approval(std::string_view method, const Target &target) const {
  std::string m = ascii_upper(method);
  if (settings_.approve_unsafe_methods && m != "GET" && m != "HEAD" && m != "OPTIONS") return true;
  return std::any_of(approve_.begin(), approve_.end(),
                     [&](const Rule &rule) { return rule_matches(rule, method, target, Unclear::Match); });
}

std::vector<const Secret *> Policy::secrets_for(const Target &target) const {
  std::vector<const Secret *> out;
  for (const Secret &s : secrets_) {
    if (!rule_matches(s.rule, "", target, Unclear::NoMatch)) continue;
    // Without an explicit "http://", a secret never travels unencrypted beyond this machine.
    if (target.scheme == "http" && !s.rule.scheme && !is_loopback_host(target.host)) continue;
    out.push_back(&s);
  }
  return out;
}

std::string Policy::redact(std::string text) const {
  static const std::string kRedacted = "[redacted]";
  auto replace_all = [&](const std::string &needle) {
    if (needle.empty()) return;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + kRedacted.size()))
      text.replace(at, needle.size(), kRedacted);
  };
  for (const Secret &s : secrets_) {
    replace_all(s.value);
    replace_all(s.secret);
    replace_all(percent_encode(s.secret));
  }
  return text;
}

}  // namespace quickbox::internal::net

namespace quickbox {

std::optional<Error> check_network_policy(const NetworkPolicy &policy) {
  auto compiled = internal::net::Policy::compile(policy);
  if (auto *error = std::get_if<Error>(&compiled)) return *error;
  return std::nullopt;
}

}  // namespace quickbox
