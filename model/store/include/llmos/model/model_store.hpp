// The model store: a folder of GGUF files, each kept once under its sha256
// (blobs/sha256-<hex>), and one JSON manifest per model name
// (manifests/<name>/<tag>.json) naming its blob. Files enter through tmp/
// and are renamed into place, blob before manifest, so a reader never sees a
// half-written entry and a failure leaves nothing in the store. Changes take
// an flock on the folder; a ModelStore itself is a value: use it from one thread.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/model/model_manifest.hpp"
#include "llmos/model/model_name.hpp"

namespace llmos::model {

// The store folder: `flag` (--models-dir) when given, else $LLMOS_MODELS, else
// $XDG_DATA_HOME/llmos/models, else $HOME/.local/share/llmos/models (each env
// value passed in; null or empty = unset). invalid_argument when none is set.
Result<std::string> resolve_models_dir(const std::optional<std::string>& flag, const char* llmos_models,
                                       const char* xdg_data_home, const char* home);

class ModelStore {
 public:
  // Opens (creating when missing) the store folder and its blobs/, manifests/, tmp/.
  static Result<ModelStore> open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  // Where downloads are written before they are adopted (same filesystem as blobs/).
  std::string temp_dir() const { return dir_ + "/tmp"; }
  std::string blob_path(const ModelManifest& m) const { return dir_ + "/" + m.file; }

  // Every model, sorted by name then tag. Errors name the manifest that cannot be read.
  Result<std::vector<ModelManifest>> list() const;
  // not_found "model 'm:latest' is not in the store <dir>".
  Result<ModelManifest> find(const ModelName& name) const;

  // Copies `path` into the store as `name` (replacing what had that name),
  // hashing it on the way; the file must be a GGUF model whose hyper-parameters
  // read. `source` defaults to "file:<absolute path>".
  Result<ModelManifest> import_file(const std::string& path, const ModelName& name, std::string source = "");
  // Moves `temp_path` (a file in temp_dir() whose sha256 the caller computed)
  // into the store as `name`, after checking it is a GGUF model. On failure
  // the file is removed.
  Result<ModelManifest> adopt(const std::string& temp_path, const std::string& sha256, const ModelName& name,
                              std::string source);
  // Removes the manifest, and the blob when no other name uses it. not_found when absent.
  Status remove(const ModelName& name);
  // `dst` names the same blob as `src` (replacing what had that name).
  Result<ModelManifest> copy(const ModelName& src, const ModelName& dst);

 private:
  explicit ModelStore(std::string dir) : dir_(std::move(dir)) {}
  std::string manifest_path(const ModelName& name) const;
  // Checks the file is GGUF and reads its facts; errors name `shown` (what the user gave).
  Result<ModelFileFacts> check_model_file(const std::string& path, const std::string& shown) const;
  Result<ModelManifest> commit_blob(const std::string& temp_path, const std::string& sha256, uint64_t size,
                                    const ModelName& name, std::string source, ModelFileFacts facts);
  Status write_manifest(const ModelManifest& m);

  std::string dir_;
};

}  // namespace llmos::model
