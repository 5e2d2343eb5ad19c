// Where tests find ../shared (models and llama.cpp reference outputs).
// Returns an empty string when the folder is absent; callers then skip.
// Thread-safe: reads only the environment and the compiled-in default.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>

namespace llmos::testing {

inline std::string shared_dir() {
  const char* env = std::getenv("LLMOS_SHARED_DIR");
  std::string dir = env && *env ? env : LLMOS_SHARED_DIR_DEFAULT;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir + "/models", ec)) return {};
  return dir;
}

}  // namespace llmos::testing
