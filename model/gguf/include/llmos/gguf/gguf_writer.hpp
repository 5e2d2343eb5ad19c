// GgufWriter: builds a GGUF v3 file from metadata and tensors added in order.
// Metadata and tensor shapes are held in memory; tensor data is either owned bytes
// or a callback that streams the data into the file at write() time, so a model
// larger than memory can be written. Not thread-safe; one writer per file.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <vector>

#include "llmos/common/dtype.hpp"
#include "llmos/common/status.hpp"
#include "llmos/gguf/gguf_types.hpp"

namespace llmos::gguf {

// Where a tensor's data callback writes its bytes, in order.
class TensorDataSink {
 public:
  // Fails when the write exceeds the tensor's size or the file write fails.
  virtual Status write(const void* data, size_t n_bytes) = 0;

 protected:
  ~TensorDataSink() = default;
};

// Writes exactly the tensor's n_bytes into the sink; called once per write().
using TensorDataFn = std::function<Status(TensorDataSink& sink)>;

// Bytes of a tensor of `type` and `dims` (ne0 first).
// REQUIRES: dims[0] is a multiple of dtype_block_elems(type).
uint64_t tensor_bytes(DType type, std::span<const int64_t> dims);

class GgufWriter {
 public:
  // REQUIRES: alignment is a power of two. The writer stores it as `general.alignment`.
  explicit GgufWriter(uint32_t alignment = kDefaultAlignment);

  // ---- metadata, written in the order added --------------------------------
  // REQUIRES (all): key is non-empty and not added before (nor "general.alignment").
  void add_uint8(std::string key, uint8_t v);
  void add_int8(std::string key, int8_t v);
  void add_uint16(std::string key, uint16_t v);
  void add_int16(std::string key, int16_t v);
  void add_uint32(std::string key, uint32_t v);
  void add_int32(std::string key, int32_t v);
  void add_uint64(std::string key, uint64_t v);
  void add_int64(std::string key, int64_t v);
  void add_float32(std::string key, float v);
  void add_float64(std::string key, double v);
  void add_bool(std::string key, bool v);
  void add_string(std::string key, std::string_view v);
  // Arrays of numbers: T is one of uint8_t ... int64_t, float, double.
  template <class T>
  void add_array(std::string key, std::span<const T> values) {
    static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>);
    add_raw_array(std::move(key), scalar_type<T>(), values.data(), values.size(), sizeof(T));
  }
  template <class T>
  void add_array(std::string key, const std::vector<T>& values) {
    add_array(std::move(key), std::span<const T>(values));
  }
  void add_bool_array(std::string key, const std::vector<bool>& values);
  void add_string_array(std::string key, std::span<const std::string> values);
  void add_string_array(std::string key, std::span<const std::string_view> values);

  // ---- tensors, stored in the order added -----------------------------------
  // REQUIRES (all): name is non-empty and new; 1 to 4 dims, each > 0; dims[0] is a
  // multiple of the type's block size.
  // Data streamed at write() time: `fill` must write exactly tensor_bytes(type, dims).
  void add_tensor(std::string name, DType type, std::vector<int64_t> dims, TensorDataFn fill);
  // Data owned by the writer. REQUIRES: bytes.size() == tensor_bytes(type, dims).
  void add_tensor(std::string name, DType type, std::vector<int64_t> dims,
                  std::vector<uint8_t> bytes);
  // f32 values converted (quantized) to `type` row by row. REQUIRES: values.size()
  // is the element count.
  void add_tensor_from_f32(std::string name, DType type, std::vector<int64_t> dims,
                           std::span<const float> values);

  size_t tensor_count() const { return tensors_.size(); }

  // Writes the file: header, metadata, tensor infos, then each tensor's data padded
  // to the alignment. Writes `path`.partial and renames it to `path` on success; on
  // failure removes it. Returns the file size. Errors name the path and the step.
  Result<uint64_t> write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    DType type;
    std::vector<int64_t> dims;
    uint64_t n_bytes;
    TensorDataFn fill;
  };

  template <class T>
  static constexpr ValueType scalar_type() {
    if constexpr (std::is_same_v<T, uint8_t>) return ValueType::kUint8;
    else if constexpr (std::is_same_v<T, int8_t>) return ValueType::kInt8;
    else if constexpr (std::is_same_v<T, uint16_t>) return ValueType::kUint16;
    else if constexpr (std::is_same_v<T, int16_t>) return ValueType::kInt16;
    else if constexpr (std::is_same_v<T, uint32_t>) return ValueType::kUint32;
    else if constexpr (std::is_same_v<T, int32_t>) return ValueType::kInt32;
    else if constexpr (std::is_same_v<T, uint64_t>) return ValueType::kUint64;
    else if constexpr (std::is_same_v<T, int64_t>) return ValueType::kInt64;
    else if constexpr (std::is_same_v<T, float>) return ValueType::kFloat32;
    else {
      static_assert(std::is_same_v<T, double>, "not a GGUF scalar type");
      return ValueType::kFloat64;
    }
  }

  // Appends "key, type" to the metadata bytes and returns them for the value.
  std::string& begin_kv(std::string key, ValueType type);
  void add_scalar(std::string key, ValueType type, const void* v, size_t size);
  void add_raw_array(std::string key, ValueType elem, const void* data, size_t count,
                     size_t elem_size);
  std::string header_bytes() const;  // everything before the tensor data, unpadded

  uint32_t alignment_;
  uint64_t kv_count_ = 0;
  std::string kv_bytes_;  // encoded metadata, in order
  std::unordered_set<std::string> keys_;
  std::vector<Tensor> tensors_;
  std::unordered_set<std::string> tensor_names_;
};

}  // namespace llmos::gguf
