#include "llmos/ipc/kv_arena.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>

namespace llmos::ipc {
namespace {

constexpr char kMagic[8] = {'L', 'L', 'M', 'O', 'S', 'K', 'V', '1'};
constexpr uint32_t kVersion = 4;

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string prefix_of(const std::filesystem::path& runtime_dir) {
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(fnv1a(runtime_dir.lexically_normal().string())));
  return "llmos-" + std::to_string(::geteuid()) + "-" + std::string(hash, 12) + "-";
}

std::string describe(const KvGeometry& l) { return describe_kv_geometry(l); }

}  // namespace

KvTableGeometry kv_table_geometry(const KvGeometry& layout) {
  KvTableGeometry g;
  const uint32_t n_blocks = uint32_t(std::max(layout.n_blocks, 0));
  g.slots = std::min(n_blocks, kKvTableMaxSlots);
  g.max_blocks = n_blocks;
  g.max_tokens = uint32_t(uint64_t{n_blocks} * uint32_t(std::max(layout.block_size, 0)));
  const uint64_t raw = 64 + 4 * (uint64_t{g.max_tokens} + g.max_blocks);
  g.slot_bytes = (raw + 63) / 64 * 64;
  return g;
}

uint64_t kv_arena_data_offset(const KvGeometry& layout) {
  return kKvArenaHeaderBytes + (kv_table_geometry(layout).bytes() + 4095) / 4096 * 4096;
}

std::string kv_arena_name(const std::filesystem::path& runtime_dir, std::string_view model) {
  return "/" + prefix_of(runtime_dir) + std::string(model);
}

int remove_stale_kv_arenas(const std::filesystem::path& runtime_dir) {
  const std::string prefix = prefix_of(runtime_dir);
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
    std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) == 0 && ::shm_unlink(("/" + name).c_str()) == 0) {
      ++removed;
    }
  }
  return removed;
}

Result<KvArenaOwner> KvArenaOwner::create(const std::string& name, const KvGeometry& layout) {
  if (Status valid = validate_kv_geometry(layout); !valid.ok()) {
    return invalid_argument("KV arena " + name + ": " + valid.message());
  }
  const uint64_t offset = kv_arena_data_offset(layout);
  if (offset > UINT32_MAX || uint64_t(layout.n_blocks) * uint64_t(layout.block_size) > UINT32_MAX) {
    return invalid_argument("KV arena " + name + ": " + std::to_string(layout.n_blocks) +
                            " blocks need a sequence table larger than the arena header can describe");
  }
  const uint64_t bytes = offset + layout.bytes();
  int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) {
    ::shm_unlink(name.c_str());  // left by a kernel that was killed
    fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  }
  if (fd < 0) return errno_status("shm_open " + name);
  auto fail = [&](const char* what) {
    Status st = errno_status(std::string(what) + " KV arena " + name);
    ::close(fd);
    ::shm_unlink(name.c_str());
    return st;
  };
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) return fail("ftruncate");
  KvArenaHeader h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.header_bytes = static_cast<uint32_t>(offset);
  h.layout = layout;
  h.data_bytes = layout.bytes();
  h.attach_count = 0;
  const KvTableGeometry table = kv_table_geometry(layout);
  h.table_slots = table.slots;
  h.table_slot_bytes = static_cast<uint32_t>(table.slot_bytes);
  if (::pwrite(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) return fail("write header of");
  ::close(fd);
  return KvArenaOwner(name, bytes, layout);
}

KvArenaOwner::KvArenaOwner(KvArenaOwner&& other) noexcept
    : name_(std::move(other.name_)), bytes_(other.bytes_), layout_(other.layout_) {
  other.name_.clear();
}

KvArenaOwner& KvArenaOwner::operator=(KvArenaOwner&& other) noexcept {
  if (this != &other) {
    if (!name_.empty()) ::shm_unlink(name_.c_str());
    name_ = std::move(other.name_);
    bytes_ = other.bytes_;
    layout_ = other.layout_;
    other.name_.clear();
  }
  return *this;
}

KvArenaOwner::~KvArenaOwner() {
  if (!name_.empty()) ::shm_unlink(name_.c_str());
}

Result<KvArenaMapping> KvArenaMapping::map(const std::string& name, const KvGeometry& expected) {
  int fd = ::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) return errno_status("shm_open KV arena " + name);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status s = errno_status("fstat KV arena " + name);
    ::close(fd);
    return s;
  }
  const uint64_t bytes = kv_arena_data_offset(expected) + expected.bytes();
  if (static_cast<uint64_t>(st.st_size) != bytes) {
    ::close(fd);
    return invalid_argument("KV arena " + name + " is " + std::to_string(st.st_size) +
                            " bytes; this model needs " + std::to_string(bytes) + " (" +
                            describe(expected) + ")");
  }
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (base == MAP_FAILED) return errno_status("mmap KV arena " + name);
  KvArenaMapping m(base, bytes);
  auto* h = static_cast<KvArenaHeader*>(base);
  if (std::memcmp(h->magic, kMagic, sizeof kMagic) != 0 || h->version != kVersion ||
      h->header_bytes != kv_arena_data_offset(expected)) {
    return invalid_argument("KV arena " + name + ": bad header (not an llmos KV arena, or another version)");
  }
  if (!(h->layout == expected)) {
    return invalid_argument("KV arena " + name + " holds " + describe(h->layout) +
                            "; this model needs " + describe(expected));
  }
  ++h->attach_count;
  return m;
}

KvArenaMapping::KvArenaMapping(KvArenaMapping&& other) noexcept
    : base_(other.base_), bytes_(other.bytes_) {
  other.base_ = nullptr;
}

KvArenaMapping& KvArenaMapping::operator=(KvArenaMapping&& other) noexcept {
  if (this != &other) {
    if (base_) ::munmap(base_, bytes_);
    base_ = other.base_;
    bytes_ = other.bytes_;
    other.base_ = nullptr;
  }
  return *this;
}

KvArenaMapping::~KvArenaMapping() {
  if (base_) ::munmap(base_, bytes_);
}

}  // namespace llmos::ipc
