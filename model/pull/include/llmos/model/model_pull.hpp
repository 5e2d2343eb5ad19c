// `llmos pull`: downloads a model into the store. The download goes to a
// .partial file in the store's tmp/ (kept after a failure or Ctrl-C so the
// same pull resumes it; locked meanwhile, see PullLock), is checked against the expected SHA-256 and as a GGUF
// model, and only then enters the store (ModelStore::adopt). Blocking; any thread.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "llmos/common/status.hpp"
#include "llmos/model/http_download.hpp"
#include "llmos/model/model_store.hpp"
#include "llmos/model/pull_source.hpp"

namespace llmos::model {

struct PullRequest {
  std::string source;                // http(s)://... or hf:ORG/REPO/FILE.gguf
  std::optional<ModelName> name;     // default: the file name without .gguf
  std::string expected_sha256;       // "" = the server's (Hugging Face's X-Linked-Etag) when it gives one
  std::string hf_endpoint = std::string(kDefaultHfEndpoint);
};

struct PullResult {
  ModelManifest manifest;
  DownloadResult download;
};

// The .partial file a pull of `url` writes in `store`'s tmp/ (one per URL).
std::string partial_path_for(const ModelStore& store, const HttpUrl& url);
// The lock (PullLock) a pull holds while it writes `partial` and adopts it.
std::string pull_lock_path(const std::string& partial);

// Called as a pull moves past its download: "verifying sha256 digest" (also
// when there is no digest to compare), then "writing manifest" (the GGUF
// check and the move into the store), on the pulling thread.
using PullStageHook = std::function<void(std::string_view stage)>;

// Errors name the source: what resolve_pull_source and download_to_file
// return (the partial file kept for a resume), invalid_argument for a SHA-256
// mismatch or a file that is not a GGUF model (nothing kept), overloaded
// naming the holder when another pull of the same URL into the store (in any
// process) is under way: the second pull does not wait, it is refused.
Result<PullResult> pull_model(ModelStore& store, const PullRequest& request, const DownloadHooks& hooks,
                              const PullStageHook& on_stage = {});

}  // namespace llmos::model
