#include "llmos/engine/model.hpp"

#include <string>

#include "llmos/engine/model_family.hpp"
#include "llmos/gguf/gguf_file.hpp"

namespace llmos::engine {

Model::Model(ModelConfig config, const ModelOptions& options, std::unique_ptr<gguf::GgufFile> file,
             std::unique_ptr<driver::Driver> driver)
    : config_(std::move(config)), options_(options), file_(std::move(file)), driver_(std::move(driver)) {}

Model::~Model() = default;

Result<std::unique_ptr<Model>> load_model(std::unique_ptr<gguf::GgufFile> file,
                                          std::unique_ptr<driver::Driver> driver, const ModelOptions& options) {
  if (options.max_batch_tokens <= 0 || options.max_outputs <= 0 ||
      options.max_outputs > options.max_batch_tokens) {
    return invalid_argument("model options: need 0 < max_outputs <= max_batch_tokens");
  }
  LLMOS_ASSIGN_OR_RETURN(std::string_view arch, file->get_string("general.architecture"));
  const ModelFamily* family = find_model_family(arch);
  if (family == nullptr) {
    return unimplemented(file->path() + ": architecture '" + std::string(arch) +
                         "' is not supported (supported: " + supported_architectures() + ")");
  }
  return family->load(std::move(file), std::move(driver), options);
}

}  // namespace llmos::engine
