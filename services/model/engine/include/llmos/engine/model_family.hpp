// The table of model families llmos runs: each maps the `general.architecture`
// values it runs to the function that loads such a file into a Model (its
// forward pass over the driver's ops). A new family is one file under
// families/ plus its tests, and one entry here (model_family.cpp).
// Constant data: thread-safe.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "llmos/engine/model.hpp"

namespace llmos::engine {

struct ModelFamily {
  std::string_view name;                            // "llama"
  std::span<const std::string_view> architectures;  // general.architecture values: "llama", "mistral"
  // REQUIRES: the file's architecture is one of `architectures`; options validated.
  Result<std::unique_ptr<Model>> (*load)(std::unique_ptr<gguf::GgufFile> file,
                                         std::unique_ptr<driver::Driver> driver, const ModelOptions& options);
};

std::span<const ModelFamily> model_families();
// The family that runs `architecture`, or nullptr.
const ModelFamily* find_model_family(std::string_view architecture);
// Every architecture some family runs, in table order: "llama, mistral".
std::string supported_architectures();

}  // namespace llmos::engine
