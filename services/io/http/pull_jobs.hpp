// PullJobs: the threads that run /api/pull downloads, off the HTTP threads.
// Each job claims a key (its .partial file) so two pulls of one source do not
// write the same file; HttpServer::stop() closes the set and joins every job
// (cancelled by then). Owned by the ServerContext; thread-safe.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "llmos/common/status.hpp"

namespace llmos::http {

class PullJobs {
 public:
  PullJobs() = default;
  ~PullJobs() { join_all(); }
  PullJobs(const PullJobs&) = delete;
  PullJobs& operator=(const PullJobs&) = delete;

  // The job's argument turns true when the server stops: the job should return soon.
  using Job = std::function<void(const std::atomic<bool>& stopping)>;

  // Runs `job` on a thread of its own, holding `key` until it returns, then
  // `after` on the same thread (so what `after` reports finds the key free).
  // overloaded when a job holds the key; disconnected once closed.
  Status start(const std::string& key, Job job, std::function<void()> after = {});
  // Refuses later jobs, tells the running ones to stop and waits for them.
  void join_all();

 private:
  struct Running {
    std::thread thread;
    std::shared_ptr<bool> finished;  // guarded by mu_
  };
  void reap_locked();  // joins the jobs that have returned

  std::mutex mu_;
  bool closed_ = false;
  std::set<std::string> keys_;
  std::vector<Running> jobs_;
  std::atomic<bool> stopping_{false};
};

}  // namespace llmos::http
