#include "llmos/client/system.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "llmos/client/client.hpp"
#include "llmos/ipc/kv_arena.hpp"
#include "llmos/ipc/runtime_dir.hpp"

namespace llmos::client {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The process exists and is not a zombie.
bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

std::string log_tail(const std::filesystem::path& log, size_t lines) {
  std::ifstream in(log);
  std::vector<std::string> all;
  for (std::string l; std::getline(in, l);) all.push_back(l);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += "\n  " + all[i];
  return out;
}

// Forks twice so llmosd is not our child (it outlives us, in its own
// session); returns its pid.
Result<pid_t> spawn_detached(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return errno_status("pipe2");
  const pid_t child = ::fork();
  if (child < 0) {
    Status st = errno_status("fork");
    ::close(report[0]);
    ::close(report[1]);
    return st;
  }
  if (child == 0) {
    ::close(report[0]);
    ::setsid();
    const pid_t daemon = ::fork();
    if (daemon != 0) {
      ssize_t w = ::write(report[1], &daemon, sizeof daemon);
      (void)w;
      ::_exit(daemon < 0 ? 1 : 0);
    }
    int null = ::open("/dev/null", O_RDWR);
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (null >= 0) ::dup2(null, 0);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    for (int fd = 3; fd < 1024; ++fd) {
      if (fd != report[1]) ::close(fd);
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(args[0], args.data());
    int e = errno;
    ssize_t w = ::write(report[1], &e, sizeof e);
    (void)w;
    ::_exit(127);
  }
  ::close(report[1]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  pid_t daemon = -1;
  ssize_t n = ::read(report[0], &daemon, sizeof daemon);
  int exec_errno = 0;
  ssize_t m = n == sizeof daemon ? ::read(report[0], &exec_errno, sizeof exec_errno) : 0;
  ::close(report[0]);
  if (n != sizeof daemon || daemon <= 0) return failed("could not start " + argv[0] + " (fork failed)");
  if (m == sizeof exec_errno) {
    errno = exec_errno;
    return errno_status("exec " + argv[0]);
  }
  return daemon;
}

}  // namespace

Result<std::filesystem::path> runtime_dir() { return ipc::ensure_runtime_dir(); }

std::optional<uint32_t> running_kernel_pid(const std::filesystem::path& dir) {
  const std::string path = (dir / "llmosd.lock").string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<uint32_t> pid;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    pid = n > 0 ? uint32_t(std::strtoul(buf, nullptr, 10)) : 0u;
  }
  ::close(fd);  // also drops a lock we got
  return pid;
}

Result<UpResult> start_system(const std::filesystem::path& dir, const UpOptions& options) {
  LLMOS_RETURN_IF_ERROR(ipc::ensure_private_dir(dir));
  LLMOS_ASSIGN_OR_RETURN(auto kernel, KernelClient::connect(dir));
  const auto deadline = Clock::now() + options.timeout;
  UpResult result;
  pid_t pid = 0;
  if (auto running = running_kernel_pid(dir)) {
    result.already_running = true;
    pid = pid_t(*running);
  } else {
    if (::access(options.llmosd.c_str(), X_OK) != 0) {
      return not_found("the kernel program " + options.llmosd.string() + " is missing or not executable");
    }
    std::vector<std::string> argv = {options.llmosd.string(), "--runtime-dir", dir.string()};
    if (options.budget) {
      argv.push_back("--budget");
      argv.push_back(std::to_string(*options.budget));
    }
    argv.insert(argv.end(), options.kernel_args.begin(), options.kernel_args.end());
    LLMOS_ASSIGN_OR_RETURN(pid, spawn_detached(argv, (dir / "llmosd.log").string()));
  }
  for (;;) {
    auto pong = kernel.ping(300ms);
    if (pong.ok() && pong->ready) {
      result.pong = *pong;
      return result;
    }
    if (pid > 0 && !alive(pid)) {
      // Lost a race with another `llmos up` in this directory? Wait for that kernel.
      auto other = running_kernel_pid(dir);
      if (other && pid_t(*other) != pid && alive(pid_t(*other))) {
        pid = pid_t(*other);
        result.already_running = true;
        continue;
      }
      return failed("llmosd exited during startup; the end of " + (dir / "llmosd.log").string() + ":" +
                    log_tail(dir / "llmosd.log", 8));
    }
    if (Clock::now() > deadline) {
      return disconnected("llmosd (pid " + std::to_string(pid) + ") was not ready within " +
                          std::to_string(options.timeout.count()) + " ms; see " + (dir / "llmosd.log").string());
    }
    std::this_thread::sleep_for(50ms);
  }
}

namespace {

// True when `pid` is gone or a zombie. A killed llmosd can still hold its lock
// for a moment after that: its main thread is a zombie while its other threads
// finish exiting, and they share the file that holds the lock.
bool exited(uint32_t pid) {
  if (pid == 0 || ::kill(pid_t(pid), 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && (line[close + 2] == 'Z' || line[close + 2] == 'X');
}

}  // namespace

Result<DownResult> stop_system(const std::filesystem::path& dir, std::chrono::milliseconds timeout) {
  DownResult result;
  auto pid = running_kernel_pid(dir);
  if (pid && exited(*pid)) {  // died (kill -9, a crash): wait for its lock to go, then it was not running
    const auto until = Clock::now() + 2s;
    while (pid && Clock::now() < until) {
      std::this_thread::sleep_for(10ms);
      pid = running_kernel_pid(dir);
    }
  }
  if (!pid) {
    ipc::remove_stale_kv_arenas(dir);
    return result;
  }
  result.was_running = true;
  result.kernel_pid = *pid;
  {
    LLMOS_ASSIGN_OR_RETURN(auto kernel, KernelClient::connect(dir));
    if (!kernel.shutdown(3000ms).ok() && *pid > 0) ::kill(pid_t(*pid), SIGTERM);
  }
  const auto deadline = Clock::now() + timeout;
  while (running_kernel_pid(dir)) {
    if (Clock::now() > deadline) {
      if (*pid > 0) ::kill(pid_t(*pid), SIGKILL);  // its services die with it
      std::this_thread::sleep_for(500ms);
      if (running_kernel_pid(dir)) return failed("llmosd (pid " + std::to_string(*pid) + ") did not stop");
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  ipc::remove_stale_kv_arenas(dir);
  for (auto name : {ipc::kKernelSocket, ipc::kClientSocket, ipc::kTokenSocket, ipc::kMemorySocket}) {
    std::error_code ec;  // left by services that were killed
    std::filesystem::remove(dir / (std::string(name) + ".sock"), ec);
  }
  return result;
}

Result<uint64_t> parse_bytes(std::string_view text) {
  std::string q = "'";  // built with += (GCC 12 warns falsely on "'" + std::string)
  q += text;
  q += "'";
  size_t i = 0;
  uint64_t v = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t d = uint64_t(text[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return invalid_argument(q + " is too large");
    v = v * 10 + d;
    ++i;
  }
  if (i == 0) return invalid_argument(q + " is not a byte count (e.g. 4G, 512M, 1000000)");
  std::string suffix;
  for (; i < text.size(); ++i) suffix += char(std::toupper(static_cast<unsigned char>(text[i])));
  int shift = 0;
  if (!suffix.empty()) {
    const std::string units = "KMGT";
    auto u = units.find(suffix[0]);
    std::string rest = u == std::string::npos ? suffix : suffix.substr(1);
    if (u != std::string::npos) shift = int(u + 1) * 10;
    if (!(rest.empty() || rest == "B" || rest == "IB")) {
      return invalid_argument(q + ": unknown unit (use K, M, G or T)");
    }
  }
  if (shift && v > (UINT64_MAX >> shift)) return invalid_argument(q + " is too large");
  return v << shift;
}

std::optional<std::string> http_url(const std::filesystem::path& dir) {
  std::ifstream in(dir / "http.url");
  std::string url;
  if (!std::getline(in, url) || url.rfind("http://", 0) != 0) return std::nullopt;
  return url;
}

std::filesystem::path program_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::current_path() : exe.parent_path();
}

Result<ModelInfo> BenchSystem::load_bench_model(const std::string& path, int threads, int ctx) const {
  LLMOS_ASSIGN_OR_RETURN(auto kernel, KernelClient::connect(dir_));
  LoadOptions lo;
  lo.path = path;
  lo.name = "bench";
  lo.threads = uint32_t(threads);
  lo.ctx = uint32_t(ctx);
  return kernel.load(lo, nullptr);
}

Result<BenchSystem> BenchSystem::use_or_start(const std::string& runtime_dir, const std::string& bin_dir,
                                              std::vector<std::string> kernel_args) {
  if (!runtime_dir.empty()) {
    if (!running_kernel_pid(runtime_dir)) return not_found("no llmos system runs in " + runtime_dir);
    return BenchSystem(runtime_dir, false);
  }
  std::string pattern = "/tmp/llmos-bench-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) return failed("mkdtemp " + pattern + ": " + std::strerror(errno));
  BenchSystem system(pattern, true);  // removes the directory again if the start fails
  UpOptions up;
  up.llmosd = (bin_dir.empty() ? program_dir() : std::filesystem::path(bin_dir)) / "llmosd";
  up.kernel_args = std::move(kernel_args);
  LLMOS_RETURN_IF_ERROR(start_system(system.dir(), up).status());
  return system;
}

BenchSystem::~BenchSystem() {
  if (!owned_) return;
  (void)stop_system(dir_);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace llmos::client
