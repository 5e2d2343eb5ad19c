#include "llmos/gguf/gguf_writer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>

#include "llmos/gguf/gguf_text.hpp"
#include "llmos/common/quant.hpp"

namespace llmos::gguf {
namespace {

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void put_string(std::string& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.append(s);
}

uint64_t padding(uint64_t pos, uint64_t alignment) {
  const uint64_t rem = pos % alignment;
  return rem == 0 ? 0 : alignment - rem;
}

std::string errno_text(int e) { return std::generic_category().message(e); }

// A buffered output file that is removed again unless commit() succeeds.
class OutputFile {
 public:
  OutputFile(std::string final_path) : path_(std::move(final_path)), tmp_(path_ + ".partial") {}
  ~OutputFile() {
    if (file_ != nullptr) std::fclose(file_);
    if (!committed_ && opened_) std::remove(tmp_.c_str());
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  Status open() {
    file_ = std::fopen(tmp_.c_str(), "wb");
    if (file_ == nullptr) return failed(path_ + ": cannot create " + tmp_ + ": " + errno_text(errno));
    opened_ = true;
    buffer_ = std::make_unique<char[]>(kBufferBytes);
    std::setvbuf(file_, buffer_.get(), _IOFBF, kBufferBytes);
    return ok_status();
  }
  Status write(const void* data, size_t n) {
    if (n != 0 && std::fwrite(data, 1, n, file_) != n)
      return failed(path_ + ": write failed at offset " + std::to_string(pos_) + ": " +
                    errno_text(errno));
    pos_ += n;
    return ok_status();
  }
  Status pad(uint64_t alignment) {
    static constexpr char kZeros[256] = {};
    for (uint64_t left = padding(pos_, alignment); left != 0;) {
      const size_t n = size_t(std::min<uint64_t>(left, sizeof(kZeros)));
      LLMOS_RETURN_IF_ERROR(write(kZeros, n));
      left -= n;
    }
    return ok_status();
  }
  Status commit() {
    const int rc = std::fclose(file_);
    file_ = nullptr;
    if (rc != 0) return failed(path_ + ": closing " + tmp_ + " failed: " + errno_text(errno));
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
      return failed(path_ + ": rename from " + tmp_ + " failed: " + errno_text(errno));
    committed_ = true;
    return ok_status();
  }
  uint64_t pos() const { return pos_; }

 private:
  static constexpr size_t kBufferBytes = size_t{1} << 20;
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<char[]> buffer_;
  uint64_t pos_ = 0;
  bool opened_ = false, committed_ = false;
};

// Passes one tensor's bytes through to the file, refusing more than its size.
class BoundedSink final : public TensorDataSink {
 public:
  BoundedSink(OutputFile& out, std::string_view name, uint64_t n_bytes)
      : out_(out), name_(name), left_(n_bytes) {}
  Status write(const void* data, size_t n) override {
    if (n > left_)
      return internal_error("tensor " + quoted(name_) + ": data callback wrote " +
                            std::to_string(n - left_) + " bytes more than the tensor's size");
    left_ -= n;
    return out_.write(data, n);
  }
  uint64_t left() const { return left_; }

 private:
  OutputFile& out_;
  std::string_view name_;
  uint64_t left_;
};

}  // namespace

uint64_t tensor_bytes(DType type, std::span<const int64_t> dims) {
  LLMOS_REQUIRE(!dims.empty() && dims[0] % dtype_block_elems(type) == 0,
                "row length must be a multiple of the type's block size");
  uint64_t n = 1;
  for (int64_t d : dims) n *= uint64_t(d);
  return n / uint64_t(dtype_block_elems(type)) * uint64_t(dtype_block_bytes(type));
}

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  LLMOS_REQUIRE(alignment != 0 && (alignment & (alignment - 1)) == 0,
                "alignment must be a power of two");
  keys_.insert(kAlignmentKey);
}

std::string& GgufWriter::begin_kv(std::string key, ValueType type) {
  LLMOS_REQUIRE(!key.empty(), "metadata key must not be empty");
  put_string(kv_bytes_, key);
  put<uint32_t>(kv_bytes_, uint32_t(type));
  LLMOS_REQUIRE(keys_.insert(std::move(key)).second, "metadata key added twice");
  ++kv_count_;
  return kv_bytes_;
}

void GgufWriter::add_scalar(std::string key, ValueType type, const void* v, size_t size) {
  begin_kv(std::move(key), type).append(static_cast<const char*>(v), size);
}

void GgufWriter::add_uint8(std::string k, uint8_t v) { add_scalar(std::move(k), ValueType::kUint8, &v, 1); }
void GgufWriter::add_int8(std::string k, int8_t v) { add_scalar(std::move(k), ValueType::kInt8, &v, 1); }
void GgufWriter::add_uint16(std::string k, uint16_t v) { add_scalar(std::move(k), ValueType::kUint16, &v, 2); }
void GgufWriter::add_int16(std::string k, int16_t v) { add_scalar(std::move(k), ValueType::kInt16, &v, 2); }
void GgufWriter::add_uint32(std::string k, uint32_t v) { add_scalar(std::move(k), ValueType::kUint32, &v, 4); }
void GgufWriter::add_int32(std::string k, int32_t v) { add_scalar(std::move(k), ValueType::kInt32, &v, 4); }
void GgufWriter::add_uint64(std::string k, uint64_t v) { add_scalar(std::move(k), ValueType::kUint64, &v, 8); }
void GgufWriter::add_int64(std::string k, int64_t v) { add_scalar(std::move(k), ValueType::kInt64, &v, 8); }
void GgufWriter::add_float32(std::string k, float v) { add_scalar(std::move(k), ValueType::kFloat32, &v, 4); }
void GgufWriter::add_float64(std::string k, double v) { add_scalar(std::move(k), ValueType::kFloat64, &v, 8); }
void GgufWriter::add_bool(std::string k, bool v) {
  const uint8_t b = v ? 1 : 0;
  add_scalar(std::move(k), ValueType::kBool, &b, 1);
}
void GgufWriter::add_string(std::string k, std::string_view v) {
  put_string(begin_kv(std::move(k), ValueType::kString), v);
}

void GgufWriter::add_raw_array(std::string key, ValueType elem, const void* data, size_t count,
                               size_t elem_size) {
  std::string& out = begin_kv(std::move(key), ValueType::kArray);
  put<uint32_t>(out, uint32_t(elem));
  put<uint64_t>(out, count);
  if (count != 0) out.append(static_cast<const char*>(data), count * elem_size);
}

void GgufWriter::add_bool_array(std::string key, const std::vector<bool>& values) {
  std::vector<uint8_t> bytes(values.begin(), values.end());
  add_raw_array(std::move(key), ValueType::kBool, bytes.data(), bytes.size(), 1);
}

void GgufWriter::add_string_array(std::string key, std::span<const std::string> values) {
  std::vector<std::string_view> views(values.begin(), values.end());
  add_string_array(std::move(key), std::span<const std::string_view>(views));
}

void GgufWriter::add_string_array(std::string key, std::span<const std::string_view> values) {
  std::string& out = begin_kv(std::move(key), ValueType::kArray);
  put<uint32_t>(out, uint32_t(ValueType::kString));
  put<uint64_t>(out, values.size());
  for (std::string_view s : values) put_string(out, s);
}

void GgufWriter::add_tensor(std::string name, DType type, std::vector<int64_t> dims,
                            TensorDataFn fill) {
  LLMOS_REQUIRE(!name.empty(), "tensor name must not be empty");
  LLMOS_REQUIRE(!dims.empty() && dims.size() <= kMaxDims, "a tensor has 1 to 4 dims");
  for (int64_t d : dims) LLMOS_REQUIRE(d > 0, "tensor dims must be positive");
  LLMOS_REQUIRE(tensor_names_.insert(name).second, "tensor added twice");
  const uint64_t n_bytes = tensor_bytes(type, dims);
  tensors_.push_back(Tensor{std::move(name), type, std::move(dims), n_bytes, std::move(fill)});
}

void GgufWriter::add_tensor(std::string name, DType type, std::vector<int64_t> dims,
                            std::vector<uint8_t> bytes) {
  LLMOS_REQUIRE(bytes.size() == tensor_bytes(type, dims), "tensor bytes do not match its shape");
  auto data = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  add_tensor(std::move(name), type, std::move(dims),
             [data](TensorDataSink& sink) { return sink.write(data->data(), data->size()); });
}

void GgufWriter::add_tensor_from_f32(std::string name, DType type, std::vector<int64_t> dims,
                                     std::span<const float> values) {
  const uint64_t n_bytes = tensor_bytes(type, dims);
  const int64_t row = dims[0];
  LLMOS_REQUIRE(values.size() % uint64_t(row) == 0 &&
                    values.size() / uint64_t(row) * uint64_t(dtype_row_bytes(type, row)) == n_bytes,
                "value count does not match the tensor's shape");
  std::vector<uint8_t> bytes(n_bytes);
  const uint64_t row_bytes = uint64_t(dtype_row_bytes(type, row));
  for (uint64_t r = 0; r < values.size() / uint64_t(row); ++r)
    quantize_row(type, values.data() + r * uint64_t(row), bytes.data() + r * row_bytes, row);
  add_tensor(std::move(name), type, std::move(dims), std::move(bytes));
}

std::string GgufWriter::header_bytes() const {
  std::string out;
  put<uint32_t>(out, kGgufMagic);
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, kv_count_ + 1);
  out += kv_bytes_;
  put_string(out, kAlignmentKey);
  put<uint32_t>(out, uint32_t(ValueType::kUint32));
  put<uint32_t>(out, alignment_);
  uint64_t offset = 0;  // relative to the data section
  for (const Tensor& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, uint32_t(t.dims.size()));
    for (int64_t d : t.dims) put<uint64_t>(out, uint64_t(d));
    put<uint32_t>(out, uint32_t(t.type));  // DType values are GGML's type ids
    put<uint64_t>(out, offset);
    offset += t.n_bytes + padding(t.n_bytes, alignment_);
  }
  return out;
}

Result<uint64_t> GgufWriter::write(const std::string& path) const {
  OutputFile out(path);
  LLMOS_RETURN_IF_ERROR(out.open());
  const std::string header = header_bytes();
  LLMOS_RETURN_IF_ERROR(out.write(header.data(), header.size()));
  LLMOS_RETURN_IF_ERROR(out.pad(alignment_));
  for (const Tensor& t : tensors_) {
    BoundedSink sink(out, t.name, t.n_bytes);
    Status st = t.fill(sink);
    if (!st.ok()) {
      if (st.message().starts_with(path)) return st;  // a write error: already names the file
      return Status(st.code(), path + ": writing tensor " + quoted(t.name) + ": " + st.message());
    }
    if (sink.left() != 0)
      return internal_error(path + ": tensor " + quoted(t.name) + ": data callback wrote " +
                            std::to_string(t.n_bytes - sink.left()) + " of " +
                            std::to_string(t.n_bytes) + " bytes");
    LLMOS_RETURN_IF_ERROR(out.pad(alignment_));
  }
  const uint64_t size = out.pos();
  LLMOS_RETURN_IF_ERROR(out.commit());
  return size;
}

}  // namespace llmos::gguf
