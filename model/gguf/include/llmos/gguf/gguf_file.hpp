// GgufFile: a validated, read-only, mmapped view of a GGUF v2/v3 model file
// (docs/gguf.md); every field is checked in open(), nothing is copied.
// It owns the mapping: the string_views and TensorInfo::data it hands out live as
// long as it does. Immutable after open(): const methods are thread-safe.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "llmos/common/dtype.hpp"
#include "llmos/common/status.hpp"
#include "llmos/gguf/gguf_types.hpp"

namespace llmos::gguf {

class MappedFile;
class ByteCursor;

struct TensorInfo {
  std::string name;
  DType type = DType::kF32;
  std::vector<int64_t> dims;  // ne0 first (ne0 = elements of one row)
  uint64_t offset = 0;        // absolute file offset of the data
  int64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const void* data = nullptr;  // into the mmap; n_bytes long
};

// One metadata key/value pair as found in the file (in file order).
struct MetadataEntry {
  std::string_view key;                    // into the mmap
  ValueType type = ValueType::kUint8;
  ValueType array_type = ValueType::kUint8;  // element type, when type == kArray
  uint64_t array_length = 0;                 // elements, when type == kArray
  uint64_t value_offset = 0;  // absolute offset of the value (of the first element for arrays)
};

// A decoded scalar: unsigned ints as uint64_t, signed as int64_t, floats as double.
using MetadataScalar = std::variant<uint64_t, int64_t, double, bool, std::string_view>;

class GgufFile {
  struct PrivateTag {};

 public:
  // Maps and validates `path`. Errors name the file, the field or tensor and the
  // byte offset: not_found (no such file), unimplemented (a tensor type llmos
  // lacks, e.g. q4_k), invalid_argument (anything malformed), failed (I/O).
  static Result<std::unique_ptr<GgufFile>> open(const std::string& path);

  GgufFile(PrivateTag, std::string path);  // use open()
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t file_size() const;
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the tensor data section

  // ---- metadata -------------------------------------------------------------
  // Errors: not_found("<file>: missing required key 'x'"),
  //         invalid_argument("<file>: key 'x' has type T, expected U").
  bool has(std::string_view key) const;
  Result<uint64_t> get_uint(std::string_view key) const;  // any integer type, value >= 0
  Result<int64_t> get_int(std::string_view key) const;    // any integer type, fits int64
  Result<float> get_float(std::string_view key) const;    // float32 or float64
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string_view> get_string(std::string_view key) const;
  Result<std::vector<std::string_view>> get_string_array(std::string_view key) const;
  Result<std::vector<float>> get_float_array(std::string_view key) const;  // of f32 or f64
  Result<std::vector<int32_t>> get_int_array(std::string_view key) const;  // of ints fitting int32

  // Every key/value pair, in file order.
  const std::vector<MetadataEntry>& metadata() const { return metadata_; }
  const MetadataEntry* find_metadata(std::string_view key) const;  // nullptr if absent
  // The value of a scalar or string key (invalid_argument for arrays).
  Result<MetadataScalar> get_scalar(std::string_view key) const;
  // The first min(max_items, length) elements of an array key.
  Result<std::vector<MetadataScalar>> get_array_items(std::string_view key, size_t max_items) const;
  // A short printable value: `"llama"`, `64`, `1e-05`, `true`, or for arrays
  // `[int32 x 512] [2, 3, 3, ...]` showing at most max_items elements. Strings are
  // escaped and cut at 64 bytes.
  std::string format_value(const MetadataEntry& entry, size_t max_items = 6) const;
  // The type as text: "uint32", "string", "array[string]".
  static std::string type_string(const MetadataEntry& entry);

  // ---- tensors --------------------------------------------------------------
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;  // nullptr if absent
  uint64_t total_tensor_bytes() const;

 private:
  Status parse();  // gguf_parse.cpp
  Status parse_metadata(ByteCursor& in, uint64_t count);
  Status parse_value(ByteCursor& in, MetadataEntry& entry);
  Status parse_tensor_infos(ByteCursor& in, uint64_t count);
  Status place_tensor_data(uint64_t header_end);
  Status error(std::string message) const;  // invalid_argument("<path>: message")

  Result<const MetadataEntry*> lookup(std::string_view key) const;
  Status type_mismatch(const MetadataEntry& e, std::string_view expected) const;
  MetadataScalar read_scalar(ValueType type, uint64_t offset, uint64_t* size) const;
  const uint8_t* bytes() const;

  std::string path_;
  std::unique_ptr<MappedFile> map_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<MetadataEntry> metadata_;
  std::unordered_map<std::string_view, size_t> key_index_;  // key -> metadata_ index
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;  // name -> tensors_ index
};

}  // namespace llmos::gguf
