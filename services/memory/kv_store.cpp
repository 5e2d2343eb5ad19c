#include "kv_store.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>

namespace llmos::memory {
namespace {

constexpr char kMagic[8] = {'L', 'L', 'M', 'O', 'S', 'S', 'S', '1'};
constexpr const char* kSuffix = ".session";

uint64_t now_unix_ms() {
  return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count());
}

template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <class T>
bool get(const std::string& in, size_t& pos, T& v) {
  if (in.size() - pos < sizeof v) return false;
  std::memcpy(&v, in.data() + pos, sizeof v);
  pos += sizeof v;
  return true;
}

HostBuffer copy_of(std::span<const uint8_t> bytes) {
  HostBuffer b(bytes.size());
  if (b.data()) std::memcpy(b.data(), bytes.data(), bytes.size());
  return b;
}

}  // namespace

bool valid_session_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

KvStore::KvStore(uint64_t cap_bytes, std::filesystem::path session_dir)
    : cap_(cap_bytes), dir_(std::move(session_dir)) {
  if (!dir_.empty()) load_index();
}

Status KvStore::reserve(uint64_t bytes, const std::string& what) {
  if (bytes > cap_ - used_) {
    return overloaded(what + " needs " + std::to_string(bytes) + " bytes but the memory service holds " +
                      std::to_string(used_) + " of its " + std::to_string(cap_) + "-byte cap");
  }
  return ok_status();
}

Status KvStore::put_swap(uint64_t request_id, std::span<const uint8_t> snapshot) {
  drop_swap(request_id);
  LLMOS_RETURN_IF_ERROR(reserve(snapshot.size(), "the KV of request " + std::to_string(request_id)));
  HostBuffer b = copy_of(snapshot);
  if (b.size() != snapshot.size()) return overloaded("out of host memory");
  used_ += b.size();
  swaps_[request_id] = std::move(b);
  return ok_status();
}

Result<std::vector<uint8_t>> KvStore::get_swap(uint64_t request_id, bool release) {
  auto it = swaps_.find(request_id);
  if (it == swaps_.end()) return not_found("no swapped-out KV for request " + std::to_string(request_id));
  std::vector<uint8_t> out(it->second.data(), it->second.data() + it->second.size());
  if (release) drop_swap(request_id);
  return out;
}

void KvStore::drop_swap(uint64_t request_id) {
  auto it = swaps_.find(request_id);
  if (it == swaps_.end()) return;
  used_ -= it->second.size();
  swaps_.erase(it);
}

Status KvStore::put_session(const std::string& name, std::span<const uint8_t> snapshot, const std::string& model,
                            uint32_t tokens) {
  if (!valid_session_name(name)) {
    return invalid_argument("session name '" + name + "' must be 1-64 characters of letters, digits, '.', '_' or '-'");
  }
  uint64_t old = 0;
  if (auto it = sessions_.find(name); it != sessions_.end()) old = it->second.data.size();
  used_ -= old;
  if (Status st = reserve(snapshot.size(), "session '" + name + "'"); !st.ok()) {
    used_ += old;
    return st;
  }
  Session s;
  s.data = copy_of(snapshot);
  if (s.data.size() != snapshot.size()) {
    used_ += old;
    return overloaded("out of host memory");
  }
  s.summary = {name, model, tokens, snapshot.size(), now_unix_ms()};
  if (!dir_.empty()) {
    std::string file(kMagic, sizeof kMagic);
    put(file, uint32_t(model.size()));
    file += model;
    put(file, tokens);
    put(file, s.summary.saved_unix_ms);
    file.append(reinterpret_cast<const char*>(snapshot.data()), snapshot.size());
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    const auto path = dir_ / (name + kSuffix);
    const auto tmp = dir_ / (name + kSuffix + std::string(".tmp"));
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(file.data(), std::streamsize(file.size()));
      if (!out.good()) {
        used_ += old;
        return failed("writing " + tmp.string() + " failed");
      }
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
      used_ += old;
      return failed("renaming " + tmp.string() + ": " + ec.message());
    }
  }
  used_ += s.data.size();
  sessions_[name] = std::move(s);
  return ok_status();
}

Result<std::vector<uint8_t>> KvStore::get_session(const std::string& name) {
  auto it = sessions_.find(name);
  if (it == sessions_.end()) return not_found("no saved session named '" + name + "'");
  const HostBuffer& b = it->second.data;
  return std::vector<uint8_t>(b.data(), b.data() + b.size());
}

Status KvStore::delete_session(const std::string& name) {
  auto it = sessions_.find(name);
  if (it == sessions_.end()) return not_found("no saved session named '" + name + "'");
  used_ -= it->second.data.size();
  sessions_.erase(it);
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove(dir_ / (name + kSuffix), ec);
  }
  return ok_status();
}

std::vector<SessionSummary> KvStore::sessions() const {
  std::vector<SessionSummary> out;
  for (const auto& [name, s] : sessions_) out.push_back(s.summary);
  return out;
}

void KvStore::load_index() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string file_name = entry.path().filename().string();
    if (file_name.size() <= std::strlen(kSuffix) ||
        file_name.compare(file_name.size() - std::strlen(kSuffix), std::string::npos, kSuffix) != 0) {
      continue;
    }
    const std::string name = file_name.substr(0, file_name.size() - std::strlen(kSuffix));
    if (!valid_session_name(name)) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    size_t pos = sizeof kMagic;
    uint32_t model_len = 0, tokens = 0;
    uint64_t saved = 0;
    if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) continue;
    if (!get(bytes, pos, model_len) || bytes.size() - pos < model_len) continue;
    std::string model = bytes.substr(pos, model_len);
    pos += model_len;
    if (!get(bytes, pos, tokens) || !get(bytes, pos, saved)) continue;
    std::span<const uint8_t> snapshot(reinterpret_cast<const uint8_t*>(bytes.data()) + pos, bytes.size() - pos);
    if (!reserve(snapshot.size(), "session").ok()) continue;
    Session s;
    s.data = copy_of(snapshot);
    s.summary = {name, model, tokens, snapshot.size(), saved};
    used_ += s.data.size();
    sessions_[name] = std::move(s);
  }
}

}  // namespace llmos::memory
