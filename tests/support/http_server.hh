// A real HTTP/1.1 server on 127.0.0.1 for the fetch() specifications: one thread per connection,
// one request per connection, answers from a handler the test gives. It records every request it
// received (so a test can tell that a refused request never left the host), how many it was
// handling at once, and can answer slowly (a delay, a drip of bytes) or over TLS.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace quickbox::test_support {

/// One request as the server received it.
struct SeenRequest {
  std::string method, target;
  std::vector<std::pair<std::string, std::string>> headers;  ///< names in lower case
  std::string body;
  /// The value of a header, or "" when absent.
  std::string header(const std::string &name) const {
    for (const auto &[k, v] : headers)
      if (k == name) return v;
    return "";
  }
  bool has_header(const std::string &name) const {
    return std::any_of(headers.begin(), headers.end(), [&](const auto &h) { return h.first == name; });
  }
  /// The whole request as text, for searching it.
  std::string text() const {
    std::string out = method + " " + target + "\n";
    for (const auto &[k, v] : headers) out += k + ": " + v + "\n";
    return out + "\n" + body;
  }
};

/// What the handler answers.
struct Reply {
  int status = 200;
  std::string reason = "OK";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Wait this long before answering.
  std::chrono::milliseconds delay{0};
  /// Send the body this many bytes at a time, waiting drip_interval between pieces.
  size_t drip_bytes = 0;
  std::chrono::milliseconds drip_interval{0};
  /// Leave out Content-Length and close the connection to end the body.
  bool no_length = false;
};

/// Certificate and key files (PEM) for serving https.
struct TlsFiles {
  std::string certificate, key;
};

class TestHttpServer {
 public:
  using Handler = std::function<Reply(const SeenRequest &)>;

  explicit TestHttpServer(Handler handler, const TlsFiles *tls = nullptr) : handler_(std::move(handler)) {
    if (tls) {
      ssl_ = SSL_CTX_new(TLS_server_method());
      if (!ssl_ || SSL_CTX_use_certificate_chain_file(ssl_, tls->certificate.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(ssl_, tls->key.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error("the test server cannot load its certificate");
    }
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener_, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 || listen(listener_, 256) != 0)
      throw std::runtime_error("the test server cannot listen");
    socklen_t length = sizeof address;
    getsockname(listener_, reinterpret_cast<sockaddr *>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~TestHttpServer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      threads.swap(connections_);
    }
    for (auto &t : threads) t.join();
    if (ssl_) SSL_CTX_free(ssl_);
  }

  uint16_t port() const { return port_; }
  std::string origin(const std::string &host = "127.0.0.1") const {
    return std::string(ssl_ ? "https" : "http") + "://" + host + ":" + std::to_string(port_);
  }
  std::string url(const std::string &path, const std::string &host = "127.0.0.1") const { return origin(host) + path; }

  std::vector<SeenRequest> requests() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  size_t request_count() const {
    std::lock_guard lock(mutex_);
    return seen_.size();
  }
  /// The most requests it was handling at the same time.
  int peak_concurrency() const { return peak_.load(); }

 private:
  struct Connection {
    int fd;
    SSL *ssl = nullptr;
    ssize_t read(char *buffer, size_t n) const { return ssl ? SSL_read(ssl, buffer, static_cast<int>(n)) : ::read(fd, buffer, n); }
    bool write_all(std::string_view data) const {
      while (!data.empty()) {
        ssize_t n = ssl ? SSL_write(ssl, data.data(), static_cast<int>(data.size()))
                        : ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        data.remove_prefix(static_cast<size_t>(n));
      }
      return true;
    }
  };

  void accept_loop() {
    for (;;) {
      int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      std::lock_guard lock(mutex_);
      if (stopping_) {
        if (fd >= 0) close(fd);
        return;
      }
      if (fd < 0) continue;
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }

  /// Waits `how_long` unless the server stops first; false when it stopped.
  bool pause(std::chrono::milliseconds how_long) {
    std::unique_lock lock(mutex_);
    return !wake_.wait_for(lock, how_long, [&] { return stopping_; });
  }

  void serve(int fd) {
    timeval timeout{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    Connection c{fd};
    if (ssl_) {
      c.ssl = SSL_new(ssl_);
      SSL_set_fd(c.ssl, fd);
      if (SSL_accept(c.ssl) != 1) {
        SSL_free(c.ssl);
        close(fd);
        return;
      }
    }
    SeenRequest request;
    if (read_request(c, request)) {
      {
        std::lock_guard lock(mutex_);
        seen_.push_back(request);
      }
      int now = ++active_;
      for (int peak = peak_.load(); now > peak && !peak_.compare_exchange_weak(peak, now);) {
      }
      Reply reply = handler_(request);
      bool answer = reply.delay.count() == 0 || pause(reply.delay);
      // The request stops counting as active before its answer leaves: a client that reads the answer
      // and at once starts its next request must not be seen with both in flight.
      --active_;
      if (answer) respond(c, reply);
    }
    if (c.ssl) {
      SSL_shutdown(c.ssl);
      SSL_free(c.ssl);
    }
    close(fd);
  }

  static bool read_request(const Connection &c, SeenRequest &out) {
    std::string data;
    char buffer[16384];
    size_t end;
    while ((end = data.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = c.read(buffer, sizeof buffer);
      if (n <= 0 || data.size() > (1u << 20)) return false;
      data.append(buffer, static_cast<size_t>(n));
    }
    std::string head = data.substr(0, end);
    std::string body = data.substr(end + 4);
    size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    size_t a = first.find(' '), b = first.rfind(' ');
    out.method = first.substr(0, a);
    out.target = first.substr(a + 1, b - a - 1);
    size_t content_length = 0;
    for (size_t at = line_end; at != std::string::npos && at < head.size();) {
      size_t next = head.find("\r\n", at + 2);
      std::string line = head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
      at = next;
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char &ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (name == "content-length") content_length = std::stoul(value);
      out.headers.emplace_back(name, value);
    }
    while (body.size() < content_length) {
      ssize_t n = c.read(buffer, sizeof buffer);
      if (n <= 0) return false;
      body.append(buffer, static_cast<size_t>(n));
    }
    out.body = body;
    return true;
  }

  void respond(const Connection &c, const Reply &reply) {
    std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " " + reply.reason + "\r\n";
    for (const auto &[k, v] : reply.headers) head += k + ": " + v + "\r\n";
    if (!reply.no_length) head += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    head += "Connection: close\r\n\r\n";
    if (!c.write_all(head)) return;
    if (reply.drip_bytes == 0) {
      c.write_all(reply.body);
      return;
    }
    for (size_t at = 0; at < reply.body.size(); at += reply.drip_bytes) {
      if (!c.write_all(std::string_view(reply.body).substr(at, reply.drip_bytes))) return;
      if (!pause(reply.drip_interval)) return;
    }
  }

  Handler handler_;
  SSL_CTX *ssl_ = nullptr;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<std::thread> connections_;
  std::vector<SeenRequest> seen_;
  std::atomic<int> active_{0}, peak_{0};
};

}  // namespace quickbox::test_support
