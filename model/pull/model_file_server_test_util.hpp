// ModelFileServer: tests/model_file_server.py started for a test (the path
// comes from LLMOS_TEST_MODEL_SERVER) over a folder holding tiny.gguf (a
// synthetic model) and junk.gguf. Test-only; one per test, stopped (and its
// folder removed) by the destructor.
#pragma once
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "llmos/modelgen/model_gen.hpp"

namespace llmos::model::testing {

// The test server over a folder holding tiny.gguf and junk.gguf; stopped (and
// the folder removed) by the destructor.
class ModelFileServer {
 public:
  ModelFileServer() {
    dir_ = "/tmp/llmos_pull_test_" + std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ + "/www");
    auto spec = modelgen::preset_spec("tiny");
    REQUIRE(spec.ok());
    REQUIRE(modelgen::write_model(*spec, dir_ + "/www/tiny.gguf").ok());
    std::ofstream(dir_ + "/www/junk.gguf") << std::string(5000, 'j');
    const std::string port_file = dir_ + "/port";
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::execlp("python3", "python3", LLMOS_TEST_MODEL_SERVER, (dir_ + "/www").c_str(), port_file.c_str(),
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !std::filesystem::exists(port_file); ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;  // python3 is missing or failed: available() is false
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::ifstream(port_file) >> port_;
  }
  ~ModelFileServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }
  bool available() const { return port_ != 0; }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  const std::string& dir() const { return dir_; }
  std::string model() const { return dir_ + "/www/tiny.gguf"; }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace llmos::model::testing
