// GgufFile::open and the validation of every field of a GGUF file, in file order:
// header, metadata, tensor infos, tensor data extents. Nothing read from the file
// is trusted: each length is checked against the bytes left before it is used, and
// each size computation is checked for overflow. See gguf_format.md.
#include <algorithm>
#include <bit>
#include <limits>

#include "byte_cursor.hpp"
#include "llmos/gguf/gguf_text.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "mapped_file.hpp"

namespace llmos::gguf {
namespace {

constexpr uint64_t kHeaderBytes = 24;     // magic, version, tensor count, kv count
constexpr uint64_t kMinKvBytes = 14;      // 8 key length + 1 key byte + 4 type + 1 value byte
constexpr uint64_t kMinTensorBytes = 33;  // 8 + 1 name, 4 n_dims, 8 dim, 4 type, 8 offset
constexpr uint64_t kMaxKeyBytes = 65535;  // the GGUF spec's limit on key length
constexpr uint64_t kMaxReserve = 4096;    // entries reserved before they are seen

std::string num(uint64_t v) { return std::to_string(v); }

// The first four bytes as hex, e.g. "7f 45 4c 46".
std::string describe_magic(const uint8_t* p) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 4; ++i) {
    if (i) s += ' ';
    s += kHex[p[i] >> 4];
    s += kHex[p[i] & 15];
  }
  return s;
}

}  // namespace

GgufFile::GgufFile(PrivateTag, std::string path) : path_(std::move(path)) {}
GgufFile::~GgufFile() = default;

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  auto file = std::make_unique<GgufFile>(PrivateTag{}, path);
  LLMOS_ASSIGN_OR_RETURN(file->map_, MappedFile::open(path));
  LLMOS_RETURN_IF_ERROR(file->parse());
  return file;
}

Status GgufFile::error(std::string message) const {
  return invalid_argument(path_ + ": " + message);
}

// "<what> at offset O needs N bytes, past end of file (size S)".
#define LLMOS_GGUF_NEED(in, n, what)                                                          \
  do {                                                                                        \
    if (!(in).fits(n))                                                                        \
      return error(std::string(what) + " at offset " + num((in).pos()) + " needs " + num(n) + \
                   " bytes, past end of file (size " + num((in).size()) + ")");               \
  } while (0)

Status GgufFile::parse() {
  const uint64_t size = map_->size();
  if (size == 0) return error("file is empty (0 bytes), not a GGUF file");
  if (size < 4) return error("file is " + num(size) + " bytes, too small to be a GGUF file");
  ByteCursor in(map_->data(), size);
  if (in.read<uint32_t>() != kGgufMagic)
    return error("bad magic " + describe_magic(map_->data()) +
                 " at offset 0, expected 47 47 55 46 (\"GGUF\"): not a GGUF file");
  LLMOS_GGUF_NEED(in, 4, "truncated header: version");
  version_ = in.read<uint32_t>();
  if (version_ < kMinVersion || version_ > kMaxVersion) {
    const uint32_t swapped = __builtin_bswap32(version_);
    if (swapped >= kMinVersion && swapped <= kMaxVersion)
      return error("big-endian GGUF (version field " + num(version_) +
                   " at offset 4) is not supported");
    return error("GGUF version " + num(version_) +
                 " at offset 4 is not supported (llmos reads versions 2 and 3)");
  }
  LLMOS_GGUF_NEED(in, 16, "truncated header: tensor and metadata counts");
  const uint64_t tensor_count = in.read<uint64_t>();
  const uint64_t kv_count = in.read<uint64_t>();
  const uint64_t body = size - kHeaderBytes;
  if (kv_count > body / kMinKvBytes)
    return error("metadata key count " + num(kv_count) + " at offset 16 is impossible for a file of " +
                 num(size) + " bytes");
  if (tensor_count > body / kMinTensorBytes ||
      tensor_count * kMinTensorBytes + kv_count * kMinKvBytes > body)
    return error("tensor count " + num(tensor_count) + " at offset 8 is impossible for a file of " +
                 num(size) + " bytes with " + num(kv_count) + " metadata keys");

  LLMOS_RETURN_IF_ERROR(parse_metadata(in, kv_count));

  if (const MetadataEntry* e = find_metadata(kAlignmentKey)) {
    auto a = get_uint(kAlignmentKey);
    if (!a.ok()) return a.status();
    if (*a == 0 || *a > (uint64_t{1} << 30) || !std::has_single_bit(*a))
      return error("key '" + std::string(kAlignmentKey) + "' at offset " + num(e->value_offset) +
                   " is " + num(*a) + ", not a power of two up to 2^30");
    alignment_ = uint32_t(*a);
  }

  LLMOS_RETURN_IF_ERROR(parse_tensor_infos(in, tensor_count));
  return place_tensor_data(in.pos());
}

Status GgufFile::parse_metadata(ByteCursor& in, uint64_t count) {
  // Counts come from the file: reserve no more than a real model needs up front.
  metadata_.reserve(size_t(std::min<uint64_t>(count, kMaxReserve)));
  key_index_.reserve(size_t(std::min<uint64_t>(count, kMaxReserve)));
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t key_offset = in.pos();
    const std::string which = "metadata key #" + num(i);
    LLMOS_GGUF_NEED(in, 8, "truncated file: " + which + " length");
    const uint64_t len = in.read<uint64_t>();
    if (len == 0) return error(which + " at offset " + num(key_offset) + " is empty");
    if (!in.fits(len))
      return error(which + " at offset " + num(key_offset) + ": length " + num(len) +
                   " runs past end of file (size " + num(in.size()) + ")");
    if (len > kMaxKeyBytes)
      return error(which + " at offset " + num(key_offset) + " is " + num(len) +
                   " bytes long (at most " + num(kMaxKeyBytes) + ")");
    MetadataEntry entry;
    entry.key = in.read_view(len);
    LLMOS_GGUF_NEED(in, 4, "truncated file: key " + quoted(entry.key) + " value type");
    const uint64_t type_offset = in.pos();
    const uint32_t type = in.read<uint32_t>();
    if (!is_valid_value_type(type))
      return error("key " + quoted(entry.key) + " at offset " + num(type_offset) +
                   " has unknown value type " + num(type));
    entry.type = ValueType(type);
    LLMOS_RETURN_IF_ERROR(parse_value(in, entry));
    if (!key_index_.emplace(entry.key, metadata_.size()).second)
      return error("duplicate key " + quoted(entry.key) + " at offset " + num(key_offset));
    metadata_.push_back(entry);
  }
  return ok_status();
}

Status GgufFile::parse_value(ByteCursor& in, MetadataEntry& entry) {
  const std::string what = "key " + quoted(entry.key);
  if (entry.type == ValueType::kString) {
    entry.value_offset = in.pos();
    LLMOS_GGUF_NEED(in, 8, "truncated file: " + what + " string length");
    const uint64_t len = in.read<uint64_t>();
    if (!in.fits(len))
      return error(what + ": string length " + num(len) + " at offset " + num(entry.value_offset) +
                   " runs past end of file (size " + num(in.size()) + ")");
    in.skip(len);
    return ok_status();
  }
  if (entry.type != ValueType::kArray) {
    entry.value_offset = in.pos();
    const uint64_t n = value_type_size(entry.type);
    LLMOS_GGUF_NEED(in, n, "truncated file: " + what + " value");
    if (entry.type == ValueType::kBool) {
      const uint8_t b = in.read<uint8_t>();
      if (b > 1)
        return error(what + ": bool value " + num(b) + " at offset " + num(entry.value_offset) +
                     " is not 0 or 1");
      return ok_status();
    }
    in.skip(n);
    return ok_status();
  }

  LLMOS_GGUF_NEED(in, 12, "truncated file: " + what + " array header");
  const uint64_t header_offset = in.pos();
  const uint32_t elem = in.read<uint32_t>();
  const uint64_t count = in.read<uint64_t>();
  if (!is_valid_value_type(elem))
    return error(what + ": array at offset " + num(header_offset) + " has unknown element type " +
                 num(elem));
  if (ValueType(elem) == ValueType::kArray)
    return error(what + ": array at offset " + num(header_offset) +
                 " holds arrays; arrays of arrays are not supported");
  entry.array_type = ValueType(elem);
  entry.array_length = count;
  entry.value_offset = in.pos();
  const std::string array_text = what + ": array of " + num(count) + " " +
                                 std::string(value_type_name(entry.array_type)) + " at offset " +
                                 num(header_offset);
  if (entry.array_type == ValueType::kString) {
    if (count > in.remaining() / 8)
      return error(array_text + " cannot fit in the " + num(in.remaining()) +
                   " bytes left in the file (size " + num(in.size()) + ")");
    for (uint64_t j = 0; j < count; ++j) {
      const uint64_t at = in.pos();
      LLMOS_GGUF_NEED(in, 8, "truncated file: " + what + " element " + num(j) + " length");
      const uint64_t len = in.read<uint64_t>();
      if (!in.fits(len))
        return error(what + ": element " + num(j) + " string length " + num(len) + " at offset " +
                     num(at) + " runs past end of file (size " + num(in.size()) + ")");
      in.skip(len);
    }
    return ok_status();
  }
  const uint64_t elem_size = value_type_size(entry.array_type);
  if (count > in.remaining() / elem_size)
    return error(array_text + " needs " +
                 (count > std::numeric_limits<uint64_t>::max() / elem_size
                      ? std::string("more than 2^64")
                      : num(count * elem_size)) +
                 " bytes, past end of file (size " + num(in.size()) + ")");
  if (entry.array_type == ValueType::kBool) {
    for (uint64_t j = 0; j < count; ++j) {
      const uint64_t at = in.pos();
      const uint8_t b = in.read<uint8_t>();
      if (b > 1)
        return error(what + ": element " + num(j) + " bool value " + num(b) + " at offset " +
                     num(at) + " is not 0 or 1");
    }
    return ok_status();
  }
  in.skip(count * elem_size);
  return ok_status();
}

Status GgufFile::parse_tensor_infos(ByteCursor& in, uint64_t count) {
  tensors_.reserve(size_t(std::min<uint64_t>(count, kMaxReserve)));
  tensor_index_.reserve(size_t(std::min<uint64_t>(count, kMaxReserve)));
  constexpr uint64_t kMaxDim = uint64_t(std::numeric_limits<int64_t>::max());
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t info_offset = in.pos();
    const std::string which = "tensor #" + num(i);
    LLMOS_GGUF_NEED(in, 8, "truncated file: " + which + " name length");
    const uint64_t len = in.read<uint64_t>();
    if (len == 0) return error(which + " at offset " + num(info_offset) + " has an empty name");
    if (!in.fits(len))
      return error(which + " at offset " + num(info_offset) + ": name length " + num(len) +
                   " runs past end of file (size " + num(in.size()) + ")");
    const std::string_view name = in.read_view(len);
    const std::string what = "tensor " + quoted(name);
    LLMOS_GGUF_NEED(in, 4, "truncated file: " + what + " n_dims");
    const uint32_t n_dims = in.read<uint32_t>();
    if (n_dims == 0 || n_dims > kMaxDims)
      return error(what + " at offset " + num(info_offset) + " has n_dims " + num(n_dims) +
                   " (must be 1 to " + num(kMaxDims) + ")");
    LLMOS_GGUF_NEED(in, 8 * n_dims, "truncated file: " + what + " dims");
    TensorInfo t;
    t.name = std::string(name);
    t.n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t at = in.pos();
      const uint64_t v = in.read<uint64_t>();
      if (v == 0 || v > kMaxDim)
        return error(what + " dimension " + num(d) + " at offset " + num(at) + " is " + num(v) +
                     (v == 0 ? " (must be > 0)" : " (too large)"));
      t.dims.push_back(int64_t(v));
      if (__builtin_mul_overflow(t.n_elements, int64_t(v), &t.n_elements))
        return error(what + " at offset " + num(info_offset) +
                     ": element count overflows (a dimension is " + num(v) + ")");
    }
    LLMOS_GGUF_NEED(in, 12, "truncated file: " + what + " type and offset");
    const uint64_t type_offset = in.pos();
    const uint32_t ggml_type = in.read<uint32_t>();
    const uint64_t rel_offset = in.read<uint64_t>();
    const auto dtype = dtype_from_ggml(ggml_type);
    if (!dtype) {
      const std::string_view type_name = ggml_type_name(ggml_type);
      if (type_name == "unknown")
        return error(what + " at offset " + num(type_offset) + " has unknown type " + num(ggml_type));
      return unimplemented(path_ + ": " + what + " has type " + std::string(type_name) + " (" +
                           num(ggml_type) + ", at offset " + num(type_offset) +
                           "), which llmos does not support (supported: f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, "
                           "q8_0, q2_k to q6_k, iq4_nl, iq4_xs, iq3_s, tq1_0, tq2_0, mxfp4, q1_0, q2_0)");
    }
    t.type = *dtype;
    const int64_t block = dtype_block_elems(t.type);
    if (t.dims[0] % block != 0)
      return error(what + " at offset " + num(info_offset) + " has type " +
                   std::string(dtype_name(t.type)) + " but its row length ne0=" + num(t.dims[0]) +
                   " is not a multiple of the block size " + num(block));
    t.n_bytes = uint64_t(t.n_elements / block) * uint64_t(dtype_block_bytes(t.type));
    if (rel_offset % alignment_ != 0)
      return error(what + " data offset " + num(rel_offset) + " (field at offset " +
                   num(type_offset + 4) + ") is not a multiple of the alignment " + num(alignment_));
    t.offset = rel_offset;  // made absolute in place_tensor_data
    if (!tensor_index_.emplace(name, tensors_.size()).second)
      return error("duplicate tensor " + quoted(name) + " at offset " + num(info_offset));
    tensors_.push_back(std::move(t));
  }
  return ok_status();
}

Status GgufFile::place_tensor_data(uint64_t header_end) {
  const uint64_t size = map_->size();
  const uint64_t rem = header_end % alignment_;
  data_offset_ = header_end + (rem == 0 ? 0 : alignment_ - rem);
  for (TensorInfo& t : tensors_) {
    const uint64_t rel = t.offset;
    uint64_t begin = 0, end = 0;
    if (__builtin_add_overflow(data_offset_, rel, &begin) ||
        __builtin_add_overflow(begin, t.n_bytes, &end))
      return error("tensor " + quoted(t.name) + " data offset " + num(rel) + " + " +
                   num(t.n_bytes) + " bytes overflows");
    if (end > size)
      return error("tensor " + quoted(t.name) + " data [" + num(begin) + ", " + num(end) +
                   ") ends past end of file (size " + num(size) + ")");
    t.offset = begin;
    t.data = map_->data() + begin;
  }
  return ok_status();
}

#undef LLMOS_GGUF_NEED

}  // namespace llmos::gguf
