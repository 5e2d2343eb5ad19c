#include "llmos/model/model_store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>

#include "llmos/gguf/gguf_file.hpp"
#include "llmos/model/sha256.hpp"
#include "llmos/model/store_files.hpp"

namespace llmos::model {
namespace {

namespace fs = std::filesystem;

Status make_dir(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return failed("create folder " + path + ": " + ec.message());
  return ok_status();
}

// Copies `from` into `to` (an open temp file) and returns (sha256, size).
Result<std::pair<std::string, uint64_t>> copy_hashing(const std::string& from, TempFile& to) {
  FILE* in = std::fopen(from.c_str(), "rb");
  if (in == nullptr) return errno_status("open " + from);
  Sha256 h;
  std::vector<char> buf(1 << 20);
  uint64_t size = 0;
  Status s;
  for (;;) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), in);
    if (n > 0) {
      const std::string_view chunk(buf.data(), n);
      h.update(chunk);
      s = to.write_all(chunk);
      if (!s.ok()) break;
      size += n;
    }
    if (n < buf.size()) {
      if (std::ferror(in)) s = failed("read " + from);
      break;
    }
  }
  std::fclose(in);
  if (!s.ok()) return s;
  return std::make_pair(h.hex_digest(), size);
}

}  // namespace

Result<std::string> resolve_models_dir(const std::optional<std::string>& flag, const char* llmos_models,
                                       const char* xdg_data_home, const char* home) {
  auto set = [](const char* v) { return v != nullptr && *v != '\0'; };
  if (flag) {
    if (flag->empty()) return invalid_argument("--models-dir is empty");
    return *flag;
  }
  if (set(llmos_models)) return std::string(llmos_models);
  if (set(xdg_data_home)) return std::string(xdg_data_home) + "/llmos/models";
  if (set(home)) return std::string(home) + "/.local/share/llmos/models";
  return invalid_argument("no model store folder: pass --models-dir or set LLMOS_MODELS (HOME is not set)");
}

Result<ModelStore> ModelStore::open(const std::string& dir) {
  if (dir.empty()) return invalid_argument("the model store folder is empty");
  for (const char* sub : {"", "/blobs", "/manifests", "/tmp"}) LLMOS_RETURN_IF_ERROR(make_dir(dir + sub));
  return ModelStore(dir);
}

std::string ModelStore::manifest_path(const ModelName& name) const {
  return dir_ + "/manifests/" + name.name + "/" + name.tag + ".json";
}

Result<std::vector<ModelManifest>> ModelStore::list() const {
  std::vector<ModelManifest> out;
  std::error_code ec;
  for (fs::directory_iterator names(dir_ + "/manifests", ec), end; !ec && names != end; names.increment(ec)) {
    if (!names->is_directory()) continue;
    std::error_code ec2;
    for (fs::directory_iterator tags(names->path(), ec2); !ec2 && tags != end; tags.increment(ec2)) {
      const fs::path& p = tags->path();
      if (p.extension() != ".json" || p.filename().string().front() == '.') continue;
      LLMOS_ASSIGN_OR_RETURN(std::string text, read_whole_file(p.string()));
      LLMOS_ASSIGN_OR_RETURN(ModelManifest m, manifest_from_json(text, p.string()));
      out.push_back(std::move(m));
    }
    if (ec2) return failed("list " + names->path().string() + ": " + ec2.message());
  }
  if (ec) return failed("list " + dir_ + "/manifests: " + ec.message());
  std::sort(out.begin(), out.end(), [](const ModelManifest& a, const ModelManifest& b) {
    return a.name.name != b.name.name ? a.name.name < b.name.name : a.name.tag < b.name.tag;
  });
  return out;
}

Result<ModelManifest> ModelStore::find(const ModelName& name) const {
  const std::string path = manifest_path(name);
  if (::access(path.c_str(), F_OK) != 0)
    return not_found("model '" + name.str() + "' is not in the store " + dir_);
  LLMOS_ASSIGN_OR_RETURN(std::string text, read_whole_file(path));
  return manifest_from_json(text, path);
}

Result<ModelFileFacts> ModelStore::check_model_file(const std::string& path, const std::string& shown) const {
  auto file = gguf::GgufFile::open(path);
  if (!file.ok()) {
    std::string msg = file.status().message();
    if (msg.rfind(path, 0) == 0) msg = shown + msg.substr(path.size());  // name what the user gave
    return invalid_argument(msg);
  }
  auto facts = read_model_file_facts(**file);
  if (!facts.ok()) {
    std::string msg = facts.status().message();
    if (msg.rfind(path, 0) == 0) msg = shown + msg.substr(path.size());
    return Status(facts.status().code(), msg);
  }
  return facts;
}

Result<ModelManifest> ModelStore::import_file(const std::string& path, const ModelName& name, std::string source) {
  std::error_code ec;
  const std::string abs = fs::absolute(path, ec).lexically_normal().string();
  if (source.empty()) source = "file:" + abs;
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return errno_status("stat " + path);
  if (!S_ISREG(st.st_mode)) return invalid_argument(path + ": not a regular file");
  LLMOS_ASSIGN_OR_RETURN(TempFile tmp, TempFile::create(temp_dir(), ".import-"));
  LLMOS_ASSIGN_OR_RETURN(auto hashed, copy_hashing(path, tmp));
  if (::fsync(tmp.fd()) != 0) return errno_status("fsync " + tmp.path());
  LLMOS_ASSIGN_OR_RETURN(ModelFileFacts facts, check_model_file(tmp.path(), path));
  return commit_blob(tmp.path(), hashed.first, hashed.second, name, std::move(source), std::move(facts));
  // tmp's destructor removes the temp file when commit_blob did not rename it.
}

Result<ModelManifest> ModelStore::adopt(const std::string& temp_path, const std::string& sha256,
                                        const ModelName& name, std::string source) {
  struct Remover {
    const std::string& p;
    ~Remover() { ::unlink(p.c_str()); }  // after a successful rename there is nothing left to remove
  } remover{temp_path};
  struct stat st{};
  if (::stat(temp_path.c_str(), &st) != 0) return errno_status("stat " + temp_path);
  LLMOS_ASSIGN_OR_RETURN(ModelFileFacts facts, check_model_file(temp_path, source));
  return commit_blob(temp_path, sha256, uint64_t(st.st_size), name, std::move(source), std::move(facts));
}

Result<ModelManifest> ModelStore::commit_blob(const std::string& temp_path, const std::string& sha256,
                                              uint64_t size, const ModelName& name, std::string source,
                                              ModelFileFacts facts) {
  if (!is_sha256_hex(sha256)) return internal_error("commit_blob: '" + sha256 + "' is not a sha256");
  ModelManifest m;
  m.name = name;
  m.sha256 = sha256;
  std::transform(m.sha256.begin(), m.sha256.end(), m.sha256.begin(), [](char c) { return char(std::tolower(c)); });
  m.file = "blobs/sha256-" + m.sha256;
  m.size = size;
  m.source = std::move(source);
  m.created = utc_timestamp(int64_t(std::time(nullptr)));
  m.facts = std::move(facts);
  LLMOS_ASSIGN_OR_RETURN(FileLock lock, FileLock::acquire(dir_ + "/.lock"));
  const std::string blob = blob_path(m);
  if (::access(blob.c_str(), F_OK) == 0) {
    ::unlink(temp_path.c_str());  // the same bytes are already stored
  } else {
    if (::chmod(temp_path.c_str(), 0644) != 0) return errno_status("chmod " + temp_path);
    LLMOS_RETURN_IF_ERROR(rename_durably(temp_path, blob));
  }
  LLMOS_RETURN_IF_ERROR(write_manifest(m));
  return m;
}

Status ModelStore::write_manifest(const ModelManifest& m) {
  LLMOS_RETURN_IF_ERROR(make_dir(dir_ + "/manifests/" + m.name.name));
  return write_file_atomically(manifest_path(m.name), manifest_to_json(m), temp_dir());
}

Status ModelStore::remove(const ModelName& name) {
  LLMOS_ASSIGN_OR_RETURN(FileLock lock, FileLock::acquire(dir_ + "/.lock"));
  LLMOS_ASSIGN_OR_RETURN(ModelManifest m, find(name));
  const std::string path = manifest_path(name);
  if (::unlink(path.c_str()) != 0) return errno_status("remove " + path);
  LLMOS_RETURN_IF_ERROR(fsync_dir(dir_ + "/manifests/" + name.name));
  ::rmdir((dir_ + "/manifests/" + name.name).c_str());  // only when it is empty
  LLMOS_ASSIGN_OR_RETURN(auto rest, list());
  const bool shared = std::any_of(rest.begin(), rest.end(), [&](const ModelManifest& o) { return o.file == m.file; });
  if (!shared && ::unlink(blob_path(m).c_str()) != 0 && errno != ENOENT) return errno_status("remove " + blob_path(m));
  return ok_status();
}

Result<ModelManifest> ModelStore::copy(const ModelName& src, const ModelName& dst) {
  LLMOS_ASSIGN_OR_RETURN(FileLock lock, FileLock::acquire(dir_ + "/.lock"));
  LLMOS_ASSIGN_OR_RETURN(ModelManifest m, find(src));
  if (::access(blob_path(m).c_str(), F_OK) != 0)
    return not_found("model '" + src.str() + "': its file " + blob_path(m) + " is missing");
  m.name = dst;
  m.created = utc_timestamp(int64_t(std::time(nullptr)));
  LLMOS_RETURN_IF_ERROR(write_manifest(m));
  return m;
}

}  // namespace llmos::model
