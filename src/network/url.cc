// URLs for fetch() through libcurl's URL API (see url.hh).
#include "network/url.hh"
#include "network/text.hh"

#include <arpa/inet.h>

#include <algorithm>
#include <vector>

namespace quickbox::internal::net {
namespace {

/// A string curl allocated, freed when this goes out of scope.
struct CurlString {
  char *text = nullptr;
  ~CurlString() { curl_free(text); }
  std::string value() const { return text ? text : ""; }
};

std::string percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); i++) {
    if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 && hex_digit(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
      i += 2;
    } else {
      out += text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

std::string describe(CURLUcode code) { return curl_url_strerror(code); }

}  // namespace

std::optional<std::string> canonical_host(std::string_view host) {
  // "example.com." is example.com to DNS: one spelling, or a deny rule could be stepped around.
  if (host.size() > 1 && host.back() == '.') host.remove_suffix(1);
  std::string text = ascii_lower(host);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    std::string inner = text.substr(1, text.size() - 2);
    in6_addr address{};
    if (inner.find('%') != std::string::npos || inet_pton(AF_INET6, inner.c_str(), &address) != 1) return std::nullopt;
    char buffer[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &address, buffer, sizeof buffer);
    std::string canonical(1, '[');  // appended: GCC 12 warns falsely about "[" + std::string
    return canonical.append(buffer).append(1, ']');
  }
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    char buffer[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &v4, buffer, sizeof buffer);
    text = buffer;
  }
  return text;
}

namespace {

/// `text` with every byte `keep` refuses written as %XX.
template <class Keep>
std::string percent_encode_unless(std::string_view text, Keep keep) {
  static const char *hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (keep(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string percent_encode(std::string_view text) { return percent_encode_unless(text, is_unreserved); }

std::string percent_encode_non_ascii(std::string_view text) {
  return percent_encode_unless(text, [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

std::optional<std::string> Url::read_target() {
  CURLU *h = handle_.get();
  // Fragments are never sent; dropping them keeps them out of what is checked and recorded.
  curl_url_set(h, CURLUPART_FRAGMENT, nullptr, 0);
  CurlString scheme, user, password, host, zone, port, path;
  if (CURLUcode rc = curl_url_get(h, CURLUPART_SCHEME, &scheme.text, 0)) return describe(rc);
  target_.scheme = ascii_lower(scheme.value());
  if (target_.scheme != "http" && target_.scheme != "https")
    return "the scheme '" + target_.scheme + ":' is not supported (only http: and https:)";
  if (curl_url_get(h, CURLUPART_USER, &user.text, 0) == CURLUE_OK ||
      curl_url_get(h, CURLUPART_PASSWORD, &password.text, 0) == CURLUE_OK)
    return "a URL may not contain credentials (user:password@); the host attaches credentials itself";
  if (curl_url_get(h, CURLUPART_ZONEID, &zone.text, 0) == CURLUE_OK)
    return "a URL may not name an IPv6 zone";
  if (CURLUcode rc = curl_url_get(h, CURLUPART_HOST, &host.text, 0)) return describe(rc);
  // curl 7.88's CURLU_PUNYCODE fails; rather than compare names in two spellings, the policy
  // takes ASCII names only.
  std::string name = host.value();
  if (std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
    return "the host name '" + name + "' is not ASCII: write an internationalized name in punycode (xn--...)";
  auto canonical = canonical_host(name);
  if (!canonical) return "'" + name + "' is not an IPv6 address";
  target_.host = *canonical;
  if (target_.host.empty()) return "the URL has no host";
  if (CURLUcode rc = curl_url_get(h, CURLUPART_PORT, &port.text, CURLU_DEFAULT_PORT)) return describe(rc);
  target_.port = static_cast<uint16_t>(std::stoul(port.value()));
  if (CURLUcode rc = curl_url_get(h, CURLUPART_PATH, &path.text, 0)) return describe(rc);
  target_.path = path.value().empty() ? "/" : path.value();
  return std::nullopt;
}

std::variant<Url, std::string> Url::parse(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return std::string("the URL contains a NUL character");
  Url url(curl_url());
  if (!url.handle_) return std::string("out of memory");
  std::string quoted(1, '\'');  // appended: GCC 12 warns falsely about "'" + std::string
  quoted.append(text).append(1, '\'');
  if (CURLUcode rc = curl_url_set(url.handle(), CURLUPART_URL, std::string(text).c_str(), 0))
    return quoted + " is not a valid absolute URL (" + describe(rc) + ")";
  if (auto error = url.read_target()) return quoted + ": " + *error;
  return url;
}

std::variant<Url, std::string> Url::resolve(std::string_view location) const {
  std::string encoded = percent_encode_non_ascii(location);
  Url next(curl_url_dup(handle()));
  if (!next.handle_) return std::string("out of memory");
  if (CURLUcode rc = curl_url_set(next.handle(), CURLUPART_URL, encoded.c_str(), 0))
    return "the redirect location '" + encoded + "' is not a valid URL (" + describe(rc) + ")";
  if (auto error = next.read_target()) return "the redirect location '" + encoded + "': " + *error;
  return next;
}

Url::Url(const Url &other) : handle_(curl_url_dup(other.handle())), target_(other.target_) {}

Url &Url::operator=(const Url &other) {
  if (this != &other) {
    handle_.reset(curl_url_dup(other.handle()));
    target_ = other.target_;
  }
  return *this;
}

std::string Url::text() const {
  CurlString out;
  curl_url_get(handle(), CURLUPART_URL, &out.text, 0);
  return out.value();
}

void Url::set_query_parameter(const std::string &name, const std::string &value) {
  CurlString query;
  curl_url_get(handle(), CURLUPART_QUERY, &query.text, 0);
  std::string kept;
  std::string_view rest = query.text ? std::string_view(query.text) : std::string_view();
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view item = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (item.empty() || percent_decode(item.substr(0, item.find('='))) == name) continue;
    kept.append(kept.empty() ? "" : "&").append(item);
  }
  kept.append(kept.empty() ? "" : "&").append(percent_encode(name)).append("=").append(percent_encode(value));
  curl_url_set(handle(), CURLUPART_QUERY, kept.c_str(), 0);
}

bool Url::same_origin(const Url &other) const {
  return target_.scheme == other.target_.scheme && target_.host == other.target_.host &&
         target_.port == other.target_.port;
}

}  // namespace quickbox::internal::net
