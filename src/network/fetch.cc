// fetch() on the host. The guest sends {method, url, headers, body, redirect}; a FetchJob makes
// the request on the engine's HTTP client and answers {status, statusText, url, redirected,
// headers, body}. Every hop (the request and each redirect) is checked against the policy before
// it is made, every connection's address after DNS resolution, and secrets are added to the wire
// request only, after the checks, for the hosts they match.
#include "network/fetch.hh"
#include "network/text.hh"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace quickbox::internal::net {
namespace {

using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr uint64_t kMaxResponseHeaderBytes = 256u << 10;
// Room in the encoded argument list for the URL and headers besides the body.
constexpr uint64_t kRequestOverheadBytes = 1u << 20;
// The capability's own timeout is a backstop behind the job's deadline, which ends it first.
constexpr std::chrono::milliseconds kTimeoutGrace{2000};

// Connection-level headers the client sets itself; a program's values are dropped, as browsers do.
constexpr std::string_view kDroppedHeaders[] = {"host",    "content-length", "transfer-encoding", "connection",
                                                "keep-alive", "upgrade",     "te",                "trailer",
                                                "expect",  "proxy-authorization", "proxy-connection"};

/// Header bytes as the fetch standard reads them (each byte one code point), as UTF-8.
std::string latin1_to_utf8(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

// ---- The request from the guest -----------------------------------------------------------------

enum class Redirect { Follow, Error, Manual };

struct Request {
  std::string method;
  std::string url;
  Headers headers;
  std::vector<uint8_t> body;
  bool has_body = false;
  Redirect redirect = Redirect::Follow;
};

/// Thrown while decoding; the call rejects with a TypeError carrying the message.
struct BadRequest {
  std::string message;
};

const std::string &string_field(const Value &request, std::string_view key) {
  const Value *v = request.find(key);
  if (!v || !v->is_string()) throw BadRequest{"fetch: the request's " + std::string(key) + " must be a string"};
  return v->as_string();
}

Request decode_request(std::span<const Value> args, const Policy &policy) {
  if (args.size() != 1 || !args[0].is_object()) throw BadRequest{"fetch: malformed request"};
  const Value &in = args[0];
  Request r;
  r.method = string_field(in, "method");
  if (!is_token(r.method)) throw BadRequest{"fetch: '" + r.method + "' is not a valid HTTP method"};
  std::string m = ascii_upper(r.method);
  if (m == "CONNECT" || m == "TRACE" || m == "TRACK") throw BadRequest{"fetch: the method " + m + " is not allowed"};
  r.url = string_field(in, "url");
  if (const Value *headers = in.find("headers"); headers && !headers->is_undefined()) {
    if (!headers->is_array()) throw BadRequest{"fetch: the request's headers must be a list of [name, value] pairs"};
    for (const Value &pair : headers->as_array()) {
      if (!pair.is_array() || pair.as_array().size() != 2 || !pair.as_array()[0].is_string() ||
          !pair.as_array()[1].is_string())
        throw BadRequest{"fetch: the request's headers must be a list of [name, value] pairs"};
      const std::string &name = pair.as_array()[0].as_string();
      const std::string &value = pair.as_array()[1].as_string();
      if (!is_token(name)) throw BadRequest{"fetch: '" + name + "' is not a valid header name"};
      if (value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos)
        throw BadRequest{"fetch: the value of the header '" + name + "' holds a line break or NUL"};
      r.headers.emplace_back(ascii_lower(name), value);
    }
  }
  if (const Value *body = in.find("body"); body && !body->is_undefined() && !body->is_null()) {
    if (!body->is_bytes()) throw BadRequest{"fetch: the request's body must be bytes"};
    r.body = body->as_bytes().data;
    r.has_body = true;
  }
  if (r.has_body && (m == "GET" || m == "HEAD"))
    throw BadRequest{"fetch: a " + m + " request cannot have a body"};
  uint64_t max = policy.settings().max_request_bytes;
  if (r.body.size() > max)
    throw BadRequest{"fetch: the request body is " + std::to_string(r.body.size()) +
                     " bytes, more than the network policy's max_request_bytes of " + std::to_string(max)};
  if (const Value *redirect = in.find("redirect"); redirect && redirect->is_string()) {
    const std::string &mode = redirect->as_string();
    if (mode == "error") r.redirect = Redirect::Error;
    else if (mode == "manual") r.redirect = Redirect::Manual;
    else if (mode != "follow") throw BadRequest{"fetch: redirect must be 'follow', 'error' or 'manual'"};
  }
  return r;
}

// ---- One fetch() and its redirects ------------------------------------------------------------------

class FetchJob : public HttpClient::Job {
 public:
  FetchJob(std::shared_ptr<const Policy> policy, Completion done, Request request, Url url, Clock::time_point deadline)
      : policy_(std::move(policy)), done_(std::move(done)), request_(std::move(request)), current_(std::move(url)),
        deadline_(deadline), record_{.method = request_.method, .url = shown_url()}, hop_started_(Clock::now()) {}
  ~FetchJob() override { free_lists(); }

  bool prepare(CURL *easy) override;
  void finished(CURL *easy, CURLcode code) override;
  bool cancelled() const override { return done_.settled(); }
  void abort(const std::string &why) override { fail("fetch to " + shown_url() + " failed: " + why); }

 private:
  std::string shown_url() const { return policy_->redact(current_.text()); }
  /// Ends the job with a TypeError (after recording the hop with the same message).
  bool fail(const std::string &message) {
    record_.error = message;
    record_hop();
    ended_ = true;
    done_.reject(message, "TypeError");
    return false;
  }
  void record_hop() {
    record_.duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - hop_started_);
    done_.record_request(hops_, record_);
  }
  void free_lists() {
    curl_slist_free_all(header_list_);
    curl_slist_free_all(resolve_list_);
    header_list_ = resolve_list_ = nullptr;
  }
  void configure(CURL *easy, Clock::duration remaining);
  void follow(const std::string &location, long status);

  static size_t on_body(char *data, size_t size, size_t count, void *self);
  static size_t on_header(char *data, size_t size, size_t count, void *self);
  /// Why a connection to `peer` (unknown: nullopt) may not carry this hop; nullopt when it may.
  std::optional<std::string> refusal_for(const std::optional<Address> &peer) const;
  static curl_socket_t on_open_socket(void *self, curlsocktype purpose, curl_sockaddr *address);
  static int on_connected(void *self, char *primary_ip, char *local_ip, int primary_port, int local_port);

  std::shared_ptr<const Policy> policy_;
  Completion done_;
  Request request_;
  Url current_;  ///< the URL of this hop as the program may see it (no injected secrets)
  Clock::time_point deadline_;
  bool ended_ = false;
  bool redirected_ = false;
  uint32_t hops_ = 0;

  // ---- the hop in progress ----
  const Rule *rule_ = nullptr;  ///< the allow rule that let it through
  std::optional<Url> wire_;     ///< current_ with query secrets: what curl requests
  curl_slist *header_list_ = nullptr;
  curl_slist *resolve_list_ = nullptr;
  NetworkRequest record_;
  Clock::time_point hop_started_;
  std::string refused_connection_;
  bool body_too_large_ = false, headers_too_large_ = false;
  std::vector<uint8_t> body_;
  std::string status_text_;
  Headers response_headers_;
  uint64_t header_bytes_ = 0;
  char error_buffer_[CURL_ERROR_SIZE] = {};
};

bool FetchJob::prepare(CURL *easy) {
  if (ended_) return false;
  hop_started_ = Clock::now();
  record_ = NetworkRequest{.method = request_.method, .url = shown_url()};
  refused_connection_.clear();
  body_.clear();
  status_text_.clear();
  response_headers_.clear();
  header_bytes_ = 0;
  body_too_large_ = headers_too_large_ = false;
  error_buffer_[0] = 0;
  const Target &target = current_.target();
  Decision decision = policy_->decide(request_.method, target);
  if (!decision.allowed_by)
    return fail("fetch to " + record_.url + " was refused by the network policy: " + decision.refusal);
  if (hops_ > 0 && policy_->needs_approval(request_.method, target))
    return fail("fetch was redirected to " + record_.url +
                ", which needs approval, and a redirect cannot wait for one; use redirect: 'manual' and "
                "fetch the Location yourself");
  auto now = Clock::now();
  if (now >= deadline_)
    return fail("fetch to " + record_.url + " timed out after " + std::to_string(policy_->settings().timeout.count()) +
                " ms (the network policy's timeout)");
  rule_ = decision.allowed_by;
  configure(easy, deadline_ - now);
  done_.record_request(hops_, record_);
  return true;
}

void FetchJob::configure(CURL *easy, Clock::duration remaining) {
  const NetworkPolicy &settings = policy_->settings();
  free_lists();
  wire_ = current_;
  auto secrets = policy_->secrets_for(current_.target());
  for (const Secret *s : secrets)
    if (!s->query.empty()) wire_->set_query_parameter(s->query, s->value);
  bool has_content_type = false, has_user_agent = false;
  for (const auto &[name, value] : request_.headers) {
    if (std::find(std::begin(kDroppedHeaders), std::end(kDroppedHeaders), name) != std::end(kDroppedHeaders)) continue;
    // A secret header replaces the program's header of that name.
    bool replaced = std::any_of(secrets.begin(), secrets.end(),
                                [&](const Secret *s) { return !s->header.empty() && ascii_lower(s->header) == name; });
    if (replaced) continue;
    has_content_type |= name == "content-type";
    has_user_agent |= name == "user-agent";
    // "Name;" sends a header with an empty value (curl reads "Name:" as "remove it").
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    header_list_ = curl_slist_append(header_list_, line.c_str());
  }
  for (const Secret *s : secrets)
    if (!s->header.empty()) header_list_ = curl_slist_append(header_list_, (s->header + ": " + s->value).c_str());
  // No "Expect: 100-continue" round trip, and no form content type curl would add to a body.
  header_list_ = curl_slist_append(header_list_, "Expect:");
  if (!has_content_type) header_list_ = curl_slist_append(header_list_, "Content-Type:");
  for (const std::string &entry : settings.resolve) resolve_list_ = curl_slist_append(resolve_list_, entry.c_str());

  auto ms = std::max<long>(1, static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(remaining).count()));
  curl_easy_setopt(easy, CURLOPT_CURLU, wire_->handle());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);  // redirects are followed here, each one checked
  curl_easy_setopt(easy, CURLOPT_PROXY, "");           // never a proxy from the environment
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, ms);
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");  // every encoding curl can decode
  curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(settings.max_response_bytes));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &FetchJob::on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &FetchJob::on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &FetchJob::on_open_socket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, &FetchJob::on_connected);
  curl_easy_setopt(easy, CURLOPT_PREREQDATA, this);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer_);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, header_list_);
  if (resolve_list_) curl_easy_setopt(easy, CURLOPT_RESOLVE, resolve_list_);
  if (!settings.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, settings.ca_file.c_str());
  if (!has_user_agent) curl_easy_setopt(easy, CURLOPT_USERAGENT, "quickbox-fetch");
  std::string method = ascii_upper(request_.method);
  if (method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else if (method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else {
    if (request_.has_body || method == "POST" || method == "PUT" || method == "PATCH") {
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request_.body.size()));
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request_.body.empty() ? "" : reinterpret_cast<const char *>(request_.body.data()));
      record_.request_bytes = request_.body.size();
    }
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request_.method.c_str());
  }
}

size_t FetchJob::on_body(char *data, size_t size, size_t count, void *self_) {
  auto *self = static_cast<FetchJob *>(self_);
  size_t n = size * count;
  if (self->body_.size() + n > self->policy_->settings().max_response_bytes) {
    self->body_too_large_ = true;
    return 0;  // stops the transfer
  }
  self->body_.insert(self->body_.end(), data, data + n);
  return n;
}

size_t FetchJob::on_header(char *data, size_t size, size_t count, void *self_) {
  auto *self = static_cast<FetchJob *>(self_);
  size_t n = size * count;
  self->header_bytes_ += n;
  if (self->header_bytes_ > kMaxResponseHeaderBytes) {
    self->headers_too_large_ = true;
    return 0;
  }
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    // A new response (after a 100 Continue, say): only the last one's headers count.
    self->response_headers_.clear();
    std::string_view rest = line.substr(std::min(line.size(), line.find(' ') + 1));
    size_t space = rest.find(' ');
    self->status_text_ = space == std::string_view::npos ? "" : std::string(trim(rest.substr(space + 1)));
  } else if ((line.starts_with(" ") || line.starts_with("\t")) && !self->response_headers_.empty()) {
    self->response_headers_.back().second += " " + std::string(trim(line));  // an obsolete folded line
  } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    self->response_headers_.emplace_back(ascii_lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  }
  return n;
}

std::optional<std::string> FetchJob::refusal_for(const std::optional<Address> &peer) const {
  if (!peer) return std::string("only IPv4 and IPv6 connections are allowed");
  return policy_->refuse_address(*rule_, current_.target(), *peer);
}

curl_socket_t FetchJob::on_open_socket(void *self_, curlsocktype, curl_sockaddr *address) {
  auto *self = static_cast<FetchJob *>(self_);
  std::optional<Address> peer;
  if (address->family == AF_INET || address->family == AF_INET6) {
    Address a;
    a.v6 = address->family == AF_INET6;
    if (a.v6) std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in6 *>(&address->addr)->sin6_addr, 16);
    else std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in *>(&address->addr)->sin_addr, 4);
    peer = a;
  }
  if (auto refusal = self->refusal_for(peer)) {
    self->refused_connection_ = *refusal;
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

// Runs for every request once its connection is up, new or reused: the address is checked again,
// so a connection another request opened cannot carry this one somewhere its policy refuses.
int FetchJob::on_connected(void *self_, char *primary_ip, char *, int, int) {
  auto *self = static_cast<FetchJob *>(self_);
  if (auto refusal = self->refusal_for(parse_address(primary_ip ? primary_ip : ""))) {
    self->refused_connection_ = *refusal;
    return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
}

bool is_redirect(long status) { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }

void FetchJob::finished(CURL *easy, CURLcode code) {
  if (ended_) return;
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  record_.status = static_cast<int>(status);
  record_.response_bytes = body_.size();
  if (cancelled()) {
    record_.error = "cancelled: the program no longer waits for it";
    record_hop();
    ended_ = true;
    return;
  }
  const std::string url = record_.url;
  if (code != CURLE_OK) {
    record_.status = 0;
    if (!refused_connection_.empty())
      return (void)fail("fetch to " + url + " was refused by the network policy: " + refused_connection_);
    if (body_too_large_ || code == CURLE_FILESIZE_EXCEEDED)
      return (void)fail("the response of " + url + " is larger than the network policy's max_response_bytes of " +
                        std::to_string(policy_->settings().max_response_bytes) + " bytes");
    if (headers_too_large_)
      return (void)fail("the response headers of " + url + " are larger than " + std::to_string(kMaxResponseHeaderBytes) +
                        " bytes");
    if (code == CURLE_OPERATION_TIMEDOUT)
      return (void)fail("fetch to " + url + " timed out after " + std::to_string(policy_->settings().timeout.count()) +
                        " ms (the network policy's timeout)");
    std::string why = error_buffer_[0] ? error_buffer_ : curl_easy_strerror(code);
    return (void)fail("fetch to " + url + " failed: " + policy_->redact(why));
  }
  auto location = std::find_if(response_headers_.begin(), response_headers_.end(),
                               [](const auto &h) { return h.first == "location"; });
  if (is_redirect(status) && location != response_headers_.end() && request_.redirect != Redirect::Manual) {
    if (request_.redirect == Redirect::Error)
      return (void)fail("fetch to " + url + " was redirected, and its redirect mode is 'error'");
    if (hops_ >= policy_->settings().max_redirects)
      return (void)fail("fetch to " + url + " was redirected more than " +
                        std::to_string(policy_->settings().max_redirects) + " times (the network policy's max_redirects)");
    return follow(location->second, status);
  }
  record_hop();
  ended_ = true;
  Value::Array headers;
  for (const auto &[name, value] : response_headers_)
    headers.push_back(Value::Array{Value(name), Value(policy_->redact(latin1_to_utf8(value)))});
  done_.resolve(Value::Object{{"status", Value(static_cast<int>(status))},
                              {"statusText", Value(policy_->redact(latin1_to_utf8(status_text_)))},
                              {"url", Value(url)},
                              {"redirected", Value(redirected_)},
                              {"headers", Value(std::move(headers))},
                              {"body", Value(Bytes{std::move(body_)})}});
}

void FetchJob::follow(const std::string &location, long status) {
  // A server may echo a secret into Location: it is removed before the URL goes anywhere, so a
  // redirect to another host never carries it.
  auto next = current_.resolve(policy_->redact(location));
  if (auto *error = std::get_if<std::string>(&next)) return (void)fail("fetch to " + record_.url + " failed: " + *error);
  record_hop();
  Url target = std::move(std::get<Url>(next));
  // The fetch standard's rules: 303 turns into GET (unless HEAD), and 301/302 turn a POST into
  // GET; either way the body and its headers are dropped.
  std::string method = ascii_upper(request_.method);
  if ((status == 303 && method != "HEAD") || ((status == 301 || status == 302) && method == "POST")) {
    request_.method = "GET";
    request_.body.clear();
    request_.has_body = false;
    std::erase_if(request_.headers, [](const auto &h) {
      return h.first == "content-type" || h.first == "content-encoding" || h.first == "content-language" ||
             h.first == "content-location";
    });
  }
  // Credentials the program set itself do not follow it to another origin.
  if (!target.same_origin(current_))
    std::erase_if(request_.headers, [](const auto &h) { return h.first == "authorization" || h.first == "cookie"; });
  current_ = std::move(target);
  hops_++;
  redirected_ = true;
}

}  // namespace

Capability fetch_capability(std::shared_ptr<const Policy> policy, std::shared_ptr<HttpClient> client) {
  const NetworkPolicy &settings = policy->settings();
  CapabilityPolicy limits;
  limits.max_calls_per_eval = settings.max_requests_per_eval;
  limits.max_in_flight = settings.max_in_flight;
  limits.call_timeout = settings.timeout + kTimeoutGrace;
  limits.max_argument_bytes = settings.max_request_bytes + kRequestOverheadBytes;
  limits.max_result_bytes = settings.max_response_bytes + kMaxResponseHeaderBytes + kRequestOverheadBytes;
  limits.labels = settings.labels;
  if (settings.approve_unsafe_methods || !settings.approve.empty()) {
    limits.approval_for = [policy](std::span<const Value> args) {
      if (args.size() != 1) return false;
      const Value *method = args[0].find("method");
      const Value *url = args[0].find("url");
      if (!method || !url || !method->is_string() || !url->is_string()) return false;
      auto parsed = Url::parse(url->as_string());
      // A request that cannot be made is refused by the handler, with the reason.
      if (!std::holds_alternative<Url>(parsed)) return false;
      return policy->needs_approval(method->as_string(), std::get<Url>(parsed).target());
    };
  }
  auto handler = [policy, client](const CallInfo &, std::vector<Value> args, Completion done) {
    Request request;
    try {
      request = decode_request(args, *policy);
    } catch (const BadRequest &bad) {
      done.record_request(0, NetworkRequest{.method = "?", .url = "?", .error = bad.message});
      return done.reject(bad.message, "TypeError");
    }
    auto parsed = Url::parse(request.url);
    if (auto *error = std::get_if<std::string>(&parsed)) {
      std::string message = "fetch: " + *error;
      done.record_request(0, NetworkRequest{.method = request.method, .url = policy->redact(request.url.substr(0, 2048)),
                                            .error = message});
      return done.reject(message, "TypeError");
    }
    Url url = std::move(std::get<Url>(parsed));
    // Recorded now, so the audit log names the request even if the call is cancelled before the
    // client starts it.
    done.record_request(0, NetworkRequest{.method = request.method, .url = policy->redact(url.text())});
    auto deadline = Clock::now() + policy->settings().timeout;
    client->submit(std::make_shared<FetchJob>(policy, done, std::move(request), std::move(url), deadline));
  };
  return Capability::async(kFetchCapability, std::move(handler), limits);
}

}  // namespace quickbox::internal::net
