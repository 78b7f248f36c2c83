// URLs for fetch(), parsed by libcurl's URL API: the same parser that then makes the request reads
// the URL the policy checked (the handle itself is handed to curl), so the two cannot disagree.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace quickbox::internal::net {

/// What the policy looks at in a URL.
struct Target {
  std::string scheme;  ///< "http" or "https"
  std::string host;    ///< lower case, IDNs in punycode, IPv4 dotted, IPv6 canonical in brackets
  uint16_t port = 0;   ///< the explicit port or the scheme's default
  std::string path;    ///< as sent, starting with "/"
};

/// An absolute http(s) URL without credentials.
class Url {
 public:
  /// Parses an absolute URL; the error says what is wrong with it in fetch()'s words.
  static std::variant<Url, std::string> parse(std::string_view text);
  /// `location` (absolute, or relative to this URL) as a new URL; for redirects.
  std::variant<Url, std::string> resolve(std::string_view location) const;

  Url(const Url &other);
  Url &operator=(const Url &other);
  Url(Url &&) noexcept = default;
  Url &operator=(Url &&) noexcept = default;

  const Target &target() const { return target_; }
  /// The whole URL, without its fragment.
  std::string text() const;
  /// Sets the query parameter `name` to `value` (percent-encoded), replacing any it had.
  void set_query_parameter(const std::string &name, const std::string &value);
  /// True when scheme, host and port are the same (the fetch standard's "same origin").
  bool same_origin(const Url &other) const;
  /// The handle curl is given (CURLOPT_CURLU); owned by this Url.
  CURLU *handle() const { return handle_.get(); }

 private:
  struct Free {
    void operator()(CURLU *h) const { curl_url_cleanup(h); }
  };
  explicit Url(CURLU *handle) : handle_(handle) {}
  /// Checks the parsed handle and fills target_.
  std::optional<std::string> read_target();
  std::unique_ptr<CURLU, Free> handle_;
  Target target_;
};

/// The canonical text of a host as the policy compares hosts (see Target::host); nullopt for a
/// bracketed host that is not an IPv6 address.
std::optional<std::string> canonical_host(std::string_view host);

/// Percent-encodes every byte but RFC 3986's unreserved characters (for query parameters).
std::string percent_encode(std::string_view text);

/// Percent-encodes every byte outside printable ASCII, so a Location header in any encoding can
/// be parsed.
std::string percent_encode_non_ascii(std::string_view text);

}  // namespace quickbox::internal::net
