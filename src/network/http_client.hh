// The HTTP client: one libcurl multi handle driven by one worker thread per engine. Jobs (a
// fetch() with its redirects) are handed over from any thread and run concurrently there, so no
// thread that drives a sandbox ever waits on the network itself.
#pragma once

#include <curl/curl.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace quickbox::internal::net {

class HttpClient {
 public:
  /// A sequence of requests on one easy handle; all of its methods run on the worker thread.
  struct Job {
    virtual ~Job() = default;
    /// Sets up `easy` (fresh, or reset after the previous request) for the next request. False
    /// when the job has ended (it settled its call) and makes no more requests.
    virtual bool prepare(CURL *easy) = 0;
    /// The request on `easy` ended with `code` (CURLE_ABORTED_BY_CALLBACK once cancelled()).
    virtual void finished(CURL *easy, CURLcode code) = 0;
    /// True once nobody waits for the job any more; its request is then stopped.
    virtual bool cancelled() const = 0;
    /// The client stops (the engine is going away) before the job ended.
    virtual void abort(const std::string &why) = 0;
  };

  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient &) = delete;
  HttpClient &operator=(const HttpClient &) = delete;

  /// Starts a job; from any thread.
  void submit(std::shared_ptr<Job> job);

 private:
  void run();
  void start(std::shared_ptr<Job> job);
  void stop_cancelled();
  void collect_finished();
  void next_request(CURL *easy, std::shared_ptr<Job> job);

  CURLM *multi_ = nullptr;
  std::mutex mutex_;
  std::vector<std::shared_ptr<Job>> incoming_;
  bool stopping_ = false;
  /// Worker thread only: the jobs whose request is on the multi handle.
  std::unordered_map<CURL *, std::shared_ptr<Job>> active_;
  std::thread worker_;
};

}  // namespace quickbox::internal::net
