#include "llmos/model/model_pull.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "llmos/model/pull_lock.hpp"
#include "llmos/model/sha256.hpp"

namespace llmos::model {

std::string partial_path_for(const ModelStore& store, const HttpUrl& url) {
  Sha256 h;
  h.update(url.str());
  return store.temp_dir() + "/pull-" + h.hex_digest().substr(0, 16) + ".partial";
}

std::string pull_lock_path(const std::string& partial) { return partial + ".lock"; }

Result<PullResult> pull_model(ModelStore& store, const PullRequest& request, const DownloadHooks& hooks,
                              const PullStageHook& on_stage) {
  LLMOS_ASSIGN_OR_RETURN(PullSource source, resolve_pull_source(request.source, request.hf_endpoint));
  std::string expected = request.expected_sha256;
  std::transform(expected.begin(), expected.end(), expected.begin(), [](char c) { return char(std::tolower(c)); });
  if (!expected.empty() && !is_sha256_hex(expected))
    return invalid_argument("sha256 '" + request.expected_sha256 + "' is not 64 hex digits");
  const ModelName name = request.name ? *request.name : source.default_name;
  const std::string partial = partial_path_for(store, source.url);
  // Held until the file is in the store (or the pull failed).
  LLMOS_ASSIGN_OR_RETURN(PullLock lock, PullLock::acquire(pull_lock_path(partial), request.source));
  auto download = download_to_file(source.url, partial, hooks);
  if (!download.ok()) {
    const Status& st = download.status();
    struct stat partial_stat{};
    if (::stat(partial.c_str(), &partial_stat) == 0 && partial_stat.st_size == 0) ::unlink(partial.c_str());
    else if (st.code() == ErrorCode::kFailed)  // network or HTTP trouble: what arrived stays for a resume
      return Status(st.code(), request.source + ": " + st.message() + " (pull again to resume)");
    ::unlink(partial.c_str());
    return Status(st.code(), request.source + ": " + st.message());
  }
  if (on_stage) on_stage("verifying sha256 digest");
  const std::string& want = expected.empty() ? download->server_sha256 : expected;
  if (!want.empty() && want != download->sha256) {
    ::unlink(partial.c_str());
    return invalid_argument(request.source + ": sha256 mismatch: the download is " + download->sha256 +
                            ", expected " + want + (expected.empty() ? " (from the server)" : "") +
                            "; nothing was stored");
  }
  if (on_stage) on_stage("writing manifest");
  LLMOS_ASSIGN_OR_RETURN(ModelManifest m, store.adopt(partial, download->sha256, name, request.source));
  return PullResult{std::move(m), *std::move(download)};
}

}  // namespace llmos::model
