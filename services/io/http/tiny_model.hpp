// Test helper: a seeded synthetic llama model ("tiny" preset of llmos_modelgen:
// dim 64, 2 layers, vocab 512, context 256), written once per test process to
// a temporary folder that is removed at exit. Test-only.
#pragma once
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "llmos/modelgen/model_gen.hpp"

namespace llmos::http::testing {

inline std::filesystem::path tiny_model_dir() {
  return std::filesystem::temp_directory_path() / ("llmos-http-test-" + std::to_string(::getpid()));
}

inline const std::string& tiny_model_path() {
  struct Dir {
    std::string path;
    Dir() {
      std::filesystem::create_directories(tiny_model_dir());
      auto spec = modelgen::preset_spec("tiny");
      REQUIRE(spec.ok());
      path = (tiny_model_dir() / "tiny.gguf").string();
      REQUIRE(modelgen::write_model(*spec, path).ok());
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(tiny_model_dir(), ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

}  // namespace llmos::http::testing
