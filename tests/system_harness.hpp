// Test harness for the end-to-end system tests: a whole llmos system in its
// own temporary runtime directory, driven through the `llmos` command line and
// the client library, and always torn down (llmos down, then SIGKILL of any
// process left, which the test then reports). The test process becomes a child
// subreaper, so llmosd (detached by `llmos up`) is reaped here and "no process
// left" can be checked by pid. One System at a time per test process.
#pragma once
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "llmos/client/client.hpp"
#include "llmos/client/system.hpp"
#include "shared_dir.hpp"
#include "subprocess.hpp"

namespace llmos::testing {

inline const std::string kLlmos = LLMOS_BIN_DIR "/llmos";

inline void reap_children() {
  int status;
  while (::waitpid(-1, &status, WNOHANG) > 0) {
  }
}

// Alive and not a zombie (zombies of ours are reaped first).
inline bool process_alive(pid_t pid) {
  reap_children();
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

// Waits until none of `pids` is alive; returns those still alive at the end.
inline std::vector<pid_t> wait_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<pid_t> alive;
    for (pid_t p : pids) {
      if (process_alive(p)) alive.push_back(p);
    }
    if (alive.empty() || std::chrono::steady_clock::now() > deadline) return alive;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

inline std::string models_dir() { return shared_dir() + "/models"; }
inline std::string stories_model() { return models_dir() + "/stories260K.gguf"; }

inline nlohmann::json golden_generate() {
  std::ifstream in(shared_dir() + "/golden/generate-stories260K.json");
  return nlohmann::json::parse(in);
}

// Leading ids that must match llama.cpp: up to the first near-tie step.
inline size_t golden_strict_prefix(const nlohmann::json& c) {
  const auto& margins = c["step_margins"];
  for (size_t i = 0; i < margins.size(); ++i) {
    if (margins[i].get<double>() < 0.005) return i;
  }
  return margins.size();
}

// run_process with `input` written to the program's stdin.
inline ProcessResult run_with_input(const std::vector<std::string>& argv, const std::string& input) {
  char path[] = "/tmp/llmos-st-input-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) return {};
  ssize_t w = ::write(fd, input.data(), input.size());
  (void)w;
  ::close(fd);
  std::string cmd = "exec";
  for (const auto& a : argv) cmd += " '" + a + "'";
  cmd += std::string(" < ") + path;
  auto r = run_process({"/bin/sh", "-c", cmd});
  ::unlink(path);
  return r;
}

class System {
 public:
  // `env` entries ("NAME=value") are set for llmosd and its services.
  explicit System(std::vector<std::string> up_args = {}, std::vector<std::string> env = {}) {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::string pattern = "/tmp/llmos-st-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = pattern;
    ::setenv("LLMOS_RUNTIME_DIR", dir_.c_str(), 1);
    env.push_back("LLMOS_WATCH_PID=" + std::to_string(::getpid()));  // dies with this test, even on a crash
    for (const auto& e : env) {
      auto eq = e.find('=');
      ::setenv(e.substr(0, eq).c_str(), e.substr(eq + 1).c_str(), 1);
      env_names_.push_back(e.substr(0, eq));
    }
    std::vector<std::string> argv = {kLlmos, "up"};
    argv.insert(argv.end(), up_args.begin(), up_args.end());
    without_http(argv);
    up_ = run_process(argv);
    for (const auto& name : env_names_) ::unsetenv(name.c_str());
    if (up_.exit_code == 0) record_pids();
    watchdog_ = std::thread([this] { watch(); });
  }
  System(const System&) = delete;
  System& operator=(const System&) = delete;
  ~System() {
    {
      std::lock_guard<std::mutex> lock(watch_mu_);
      done_ = true;
    }
    watch_cv_.notify_all();
    watchdog_.join();
    // A REQUIRE that failed is unwinding: the log says what the system saw.
    if (std::uncaught_exceptions() > 0) std::cerr << "llmosd.log of the failed test:\n" << log_tail() << std::endl;
    run_process({kLlmos, "down"});
    for (pid_t p : wait_gone(pids_, std::chrono::milliseconds(5000))) ::kill(p, SIGKILL);
    reap_children();
    // The services' stderr is the log: a sanitizer report there fails the test.
    const std::string text = log();
    const bool clean = text.find("Sanitizer") == std::string::npos && text.find("runtime error:") == std::string::npos;
    CHECK_MESSAGE(clean, "sanitizer report in llmosd.log:\n" << text);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    ::unsetenv("LLMOS_RUNTIME_DIR");
  }

  const ProcessResult& up_result() const { return up_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::string log() const {
    std::ifstream in(dir_ / "llmosd.log");
    return {std::istreambuf_iterator<char>(in), {}};
  }
  std::string log_tail(size_t bytes = 16000) const {
    std::string text = log();
    return text.size() > bytes ? text.substr(text.size() - bytes) : text;
  }

  // `llmos ARGS...` in this system. A `load` without --device gets --device
  // cpu: the tests compare with the CPU engine run in-process.
  ProcessResult llmos(std::vector<std::string> args) {
    if (!args.empty() && args[0] == "load" && std::find(args.begin(), args.end(), "--device") == args.end()) {
      args.insert(args.end(), {"--device", "cpu"});
    }
    args.insert(args.begin(), kLlmos);
    if (args.size() > 1 && args[1] == "up") without_http(args);
    auto r = run_process(args);
    record_pids();
    return r;
  }
  nlohmann::json ps() {
    auto r = llmos({"ps", "--json"});
    if (r.exit_code != 0) return nlohmann::json::object();
    return nlohmann::json::parse(r.out);
  }
  // The pid of service `name` ("io", "memory", "model:<m>"), 0 when not running.
  pid_t service_pid(const std::string& name) {
    auto j = ps();
    if (!j.contains("services")) return 0;
    for (const auto& s : j["services"]) {
      if (s["name"] == name) return pid_t(s["pid"].get<uint32_t>());
    }
    return 0;
  }
  pid_t kernel_pid() {
    auto j = ps();
    return j.contains("kernel_pid") ? pid_t(j["kernel_pid"].get<uint32_t>()) : 0;
  }
  // Every pid this system has shown so far (kernel and services).
  const std::vector<pid_t>& pids() const { return pids_; }
  void record_pids() {
    auto r = run_process({kLlmos, "ps", "--json"});
    if (r.exit_code != 0) return;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded()) return;
    remember(pid_t(j["kernel_pid"].get<uint32_t>()));
    for (const auto& s : j["services"]) remember(pid_t(s["pid"].get<uint32_t>()));
  }

  client::IoClient io() {
    auto c = client::IoClient::connect(dir_);
    if (!c.ok()) throw std::runtime_error(c.status().to_string());
    return std::move(c).value();
  }
  client::KernelClient kernel() {
    auto c = client::KernelClient::connect(dir_);
    if (!c.ok()) throw std::runtime_error(c.status().to_string());
    return std::move(c).value();
  }

  // Where the HTTP API listens (a test that wants it passes --http 127.0.0.1:0).
  uint16_t http_port() const {
    auto url = client::http_url(dir_);
    if (!url) return 0;
    return uint16_t(std::stoi(url->substr(url->rfind(':') + 1)));
  }

 private:
  // Tests run side by side: a system gets no HTTP API unless the test asks
  // (the default, 127.0.0.1:8080, would be shared).
  static void without_http(std::vector<std::string>& argv) {
    if (std::find(argv.begin(), argv.end(), "--http") == argv.end()) argv.insert(argv.end(), {"--http", "off"});
  }
  void remember(pid_t p) {
    if (p > 0 && std::find(pids_.begin(), pids_.end(), p) == pids_.end()) pids_.push_back(p);
  }
  // A test that hangs is aborted after kWatchdog with what the system was
  // doing, rather than running into ctest's timeout with no output.
  static constexpr std::chrono::seconds kWatchdog{150};
  void watch() {
    std::unique_lock<std::mutex> lock(watch_mu_);
    if (watch_cv_.wait_for(lock, kWatchdog, [this] { return done_; })) return;
    std::cerr << "system test still running after " << kWatchdog.count() << " s; llmos ps:\n"
              << run_process({kLlmos, "ps", "--json"}).out << "\nllmosd.log (tail):\n"
              << log_tail() << std::endl;
    std::abort();
  }
  std::thread watchdog_;
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool done_ = false;
  std::filesystem::path dir_;
  std::vector<std::string> env_names_;
  ProcessResult up_;
  std::vector<pid_t> pids_;
};

// Greedy options for a golden prompt.
inline client::GenerateOptions greedy(const std::string& model, const std::string& prompt, uint32_t max_tokens = 64) {
  client::GenerateOptions g;
  g.model = model;
  g.prompt = prompt;
  g.sampling.temperature = 0;
  g.max_tokens = max_tokens;
  return g;
}

}  // namespace llmos::testing
