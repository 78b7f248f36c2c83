// The HTTP client's worker: adds jobs' requests to one curl multi handle, runs them, and hands
// each finished request back to its job, which may start the next (a redirect) on the same handle.
#include "network/http_client.hh"

#include <mutex>

namespace quickbox::internal::net {
namespace {

// While requests run, the worker wakes at least this often to stop the ones nobody waits for
// (an evaluation that ended, a call that timed out) even when they are idle on the network.
constexpr int kCancelCheckMs = 50;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

HttpClient::HttpClient() {
  global_init();
  multi_ = curl_multi_init();
  worker_ = std::thread([this] { run(); });
}

HttpClient::~HttpClient() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  curl_multi_wakeup(multi_);
  worker_.join();
  curl_multi_cleanup(multi_);
}

void HttpClient::submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      incoming_.push_back(std::move(job));
      job = nullptr;
    }
  }
  if (job) job->abort("the engine is shutting down");
  else curl_multi_wakeup(multi_);
}

void HttpClient::next_request(CURL *easy, std::shared_ptr<Job> job) {
  if (!job->cancelled() && job->prepare(easy)) {
    curl_multi_add_handle(multi_, easy);
    active_[easy] = std::move(job);
  } else {
    curl_easy_cleanup(easy);
  }
}

void HttpClient::start(std::shared_ptr<Job> job) {
  CURL *easy = curl_easy_init();
  if (!easy) return job->abort("out of memory");
  next_request(easy, std::move(job));
}

void HttpClient::stop_cancelled() {
  std::vector<CURL *> stopped;
  for (auto &[easy, job] : active_)
    if (job->cancelled()) stopped.push_back(easy);
  for (CURL *easy : stopped) {
    curl_multi_remove_handle(multi_, easy);
    auto job = std::move(active_[easy]);
    active_.erase(easy);
    job->finished(easy, CURLE_ABORTED_BY_CALLBACK);
    curl_easy_cleanup(easy);
  }
}

void HttpClient::collect_finished() {
  int left = 0;
  while (CURLMsg *message = curl_multi_info_read(multi_, &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL *easy = message->easy_handle;
    CURLcode code = message->data.result;
    curl_multi_remove_handle(multi_, easy);
    auto found = active_.find(easy);
    if (found == active_.end()) {
      curl_easy_cleanup(easy);
      continue;
    }
    auto job = std::move(found->second);
    active_.erase(found);
    job->finished(easy, code);
    curl_easy_reset(easy);
    next_request(easy, std::move(job));
  }
}

void HttpClient::run() {
  for (;;) {
    std::vector<std::shared_ptr<Job>> arrived;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      arrived.swap(incoming_);
    }
    for (auto &job : arrived) start(std::move(job));
    stop_cancelled();
    int running = 0;
    curl_multi_perform(multi_, &running);
    collect_finished();
    int wait_ms = active_.empty() ? 60'000 : kCancelCheckMs;
    curl_multi_poll(multi_, nullptr, 0, wait_ms, nullptr);
  }
  // Shutting down: every job still running or waiting ends with an error.
  for (auto &[easy, job] : active_) {
    curl_multi_remove_handle(multi_, easy);
    job->abort("the engine is shutting down");
    curl_easy_cleanup(easy);
  }
  active_.clear();
  std::lock_guard lock(mutex_);
  for (auto &job : incoming_) job->abort("the engine is shutting down");
  incoming_.clear();
}

}  // namespace quickbox::internal::net
