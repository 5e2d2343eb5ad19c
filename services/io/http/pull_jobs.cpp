#include "pull_jobs.hpp"

namespace llmos::http {

Status PullJobs::start(const std::string& key, Job job, std::function<void()> after) {
  std::lock_guard lock(mu_);
  if (closed_) return disconnected("the server is stopping");
  reap_locked();
  if (!keys_.insert(key).second) return overloaded("a pull of the same source is already running");
  auto finished = std::make_shared<bool>(false);
  try {
    std::thread t([this, key, finished, job = std::move(job), after = std::move(after)] {
      job(stopping_);
      {
        std::lock_guard lock(mu_);
        keys_.erase(key);
      }
      if (after) after();
      std::lock_guard lock(mu_);
      *finished = true;
    });
    jobs_.push_back(Running{std::move(t), std::move(finished)});
  } catch (const std::system_error& e) {
    keys_.erase(key);
    return failed(std::string("cannot start a pull thread: ") + e.what());
  }
  return ok_status();
}

void PullJobs::reap_locked() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (*it->finished) {
      it->thread.join();  // it has released the lock for good: only its return is left
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

void PullJobs::join_all() {
  std::vector<Running> jobs;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    stopping_.store(true);
    jobs.swap(jobs_);
  }
  for (auto& j : jobs) j.thread.join();
}

}  // namespace llmos::http
