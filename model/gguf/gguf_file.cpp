// GgufFile's typed metadata getters, listings and tensor lookups. Every offset used
// here was validated by parse() (gguf_parse.cpp), so reads stay inside the mapping.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>

#include "llmos/gguf/gguf_text.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "mapped_file.hpp"

namespace llmos::gguf {
namespace {

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// open + text + close (spelled out: GCC 12 warns falsely on "x" + std::string).
std::string wrap(char open, std::string text, char close) {
  text.insert(text.begin(), open);
  text.push_back(close);
  return text;
}

std::string format_scalar(const MetadataScalar& v) {
  if (const auto* u = std::get_if<uint64_t>(&v)) return std::to_string(*u);
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* s = std::get_if<std::string_view>(&v)) return wrap('"', escape_text(*s, 64), '"');
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.7g", std::get<double>(v));
  return buf;
}

}  // namespace

const uint8_t* GgufFile::bytes() const { return map_->data(); }
uint64_t GgufFile::file_size() const { return map_->size(); }

MetadataScalar GgufFile::read_scalar(ValueType type, uint64_t offset, uint64_t* size) const {
  const uint8_t* p = bytes() + offset;
  *size = value_type_size(type);
  switch (type) {
    case ValueType::kUint8: return uint64_t(load<uint8_t>(p));
    case ValueType::kInt8: return int64_t(load<int8_t>(p));
    case ValueType::kUint16: return uint64_t(load<uint16_t>(p));
    case ValueType::kInt16: return int64_t(load<int16_t>(p));
    case ValueType::kUint32: return uint64_t(load<uint32_t>(p));
    case ValueType::kInt32: return int64_t(load<int32_t>(p));
    case ValueType::kUint64: return load<uint64_t>(p);
    case ValueType::kInt64: return load<int64_t>(p);
    case ValueType::kFloat32: return double(load<float>(p));
    case ValueType::kFloat64: return load<double>(p);
    case ValueType::kBool: return p[0] != 0;
    case ValueType::kString: {
      const uint64_t len = load<uint64_t>(p);
      *size = 8 + len;
      return std::string_view(reinterpret_cast<const char*>(p + 8), size_t(len));
    }
    case ValueType::kArray: break;
  }
  LLMOS_ASSERT(false);  // arrays are walked element by element by the callers
  return uint64_t{0};
}

const MetadataEntry* GgufFile::find_metadata(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second];
}

bool GgufFile::has(std::string_view key) const { return find_metadata(key) != nullptr; }

Result<const MetadataEntry*> GgufFile::lookup(std::string_view key) const {
  const MetadataEntry* e = find_metadata(key);
  if (e == nullptr) return not_found(path_ + ": missing required key " + quoted(key));
  return e;
}

std::string GgufFile::type_string(const MetadataEntry& e) {
  if (e.type != ValueType::kArray) return std::string(value_type_name(e.type));
  return "array[" + std::string(value_type_name(e.array_type)) + "]";
}

Status GgufFile::type_mismatch(const MetadataEntry& e, std::string_view expected) const {
  return invalid_argument(path_ + ": key " + quoted(e.key) + " has type " + type_string(e) +
                          ", expected " + std::string(expected));
}

Result<uint64_t> GgufFile::get_uint(std::string_view key) const {
  LLMOS_ASSIGN_OR_RETURN(const MetadataEntry* e, lookup(key));
  if (!is_integer_type(e->type)) return type_mismatch(*e, "an unsigned integer");
  uint64_t size = 0;
  const MetadataScalar v = read_scalar(e->type, e->value_offset, &size);
  if (const auto* i = std::get_if<int64_t>(&v)) {
    if (*i < 0)
      return invalid_argument(path_ + ": key " + quoted(key) + " is " + std::to_string(*i) +
                              ", expected a non-negative integer");
    return uint64_t(*i);
  }
  return std::get<uint64_t>(v);
}

Result<int64_t> GgufFile::get_int(std::string_view key) const {
  LLMOS_ASSIGN_OR_RETURN(const MetadataEntry* e, lookup(key));
  if (!is_integer_type(e->type)) return type_mismatch(*e, "an integer");
  uint64_t size = 0;
  const MetadataScalar v = read_scalar(e->type, e->value_offset, &size);
  if (const auto* u = std::get_if<uint64_t>(&v)) {
    if (*u > uint64_t(std::numeric_limits<int64_t>::max()))
      return invalid_argument(path_ + ": key " + quoted(key) + " is " + std::to_string(*u) +
                              ", too large for int64");
    return int64_t(*u);
  }
  return std::get<int64_t>(v);
}

Result<float> GgufFile::get_float(std::string_view key) const {
  LLMOS_ASSIGN_OR_RETURN(const MetadataEntry* e, lookup(key));
  if (e->type != ValueType::kFloat32 && e->type != ValueType::kFloat64)
    return type_mismatch(*e, "float32");
  uint64_t size = 0;
  return float(std::get<double>(read_scalar(e->type, e->value_offset, &size)));
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  LLMOS_ASSIGN_OR_RETURN(const MetadataEntry* e, lookup(key));
  if (e->type != ValueType::kBool) return type_mismatch(*e, "bool");
  return bytes()[e->value_offset] != 0;
}

Result<std::string_view> GgufFile::get_string(std::string_view key) const {
  LLMOS_ASSIGN_OR_RETURN(const MetadataEntry* e, lookup(key));
  if (e->type != ValueType::kString) return type_mismatch(*e, "string");
  uint64_t size = 0;
  return std::get<std::string_view>(read_scalar(e->type, e->value_offset, &size));
}

Result<std::vector<std::string_view>> GgufFile::get_string_array(std::string_view key) const {
  LLMOS_ASSIGN_OR_RETURN(const MetadataEntry* e, lookup(key));
  if (e->type != ValueType::kArray || e->array_type != ValueType::kString)
    return type_mismatch(*e, "array[string]");
  std::vector<std::string_view> out;
  out.reserve(size_t(e->array_length));
  uint64_t offset = e->value_offset, size = 0;
  for (uint64_t i = 0; i < e->array_length; ++i, offset += size)
    out.push_back(std::get<std::string_view>(read_scalar(ValueType::kString, offset, &size)));
  return out;
}

Result<std::vector<float>> GgufFile::get_float_array(std::string_view key) const {
  LLMOS_ASSIGN_OR_RETURN(const MetadataEntry* e, lookup(key));
  if (e->type != ValueType::kArray ||
      (e->array_type != ValueType::kFloat32 && e->array_type != ValueType::kFloat64))
    return type_mismatch(*e, "array[float32]");
  std::vector<float> out(size_t(e->array_length));
  const uint8_t* p = bytes() + e->value_offset;
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = e->array_type == ValueType::kFloat32 ? load<float>(p + 4 * i)
                                                  : float(load<double>(p + 8 * i));
  return out;
}

Result<std::vector<int32_t>> GgufFile::get_int_array(std::string_view key) const {
  LLMOS_ASSIGN_OR_RETURN(const MetadataEntry* e, lookup(key));
  if (e->type != ValueType::kArray || !is_integer_type(e->array_type))
    return type_mismatch(*e, "array[int32]");
  std::vector<int32_t> out(size_t(e->array_length));
  uint64_t offset = e->value_offset, size = 0;
  for (size_t i = 0; i < out.size(); ++i, offset += size) {
    const MetadataScalar v = read_scalar(e->array_type, offset, &size);
    const auto* u = std::get_if<uint64_t>(&v);
    const int64_t x = u ? int64_t(std::min<uint64_t>(*u, uint64_t{1} << 32)) : std::get<int64_t>(v);
    if (x < INT32_MIN || x > INT32_MAX)
      return invalid_argument(path_ + ": key " + quoted(key) + " element " + std::to_string(i) +
                              " = " + format_scalar(v) + " does not fit int32");
    out[i] = int32_t(x);
  }
  return out;
}

Result<MetadataScalar> GgufFile::get_scalar(std::string_view key) const {
  LLMOS_ASSIGN_OR_RETURN(const MetadataEntry* e, lookup(key));
  if (e->type == ValueType::kArray) return type_mismatch(*e, "a scalar or string");
  uint64_t size = 0;
  return read_scalar(e->type, e->value_offset, &size);
}

Result<std::vector<MetadataScalar>> GgufFile::get_array_items(std::string_view key,
                                                              size_t max_items) const {
  LLMOS_ASSIGN_OR_RETURN(const MetadataEntry* e, lookup(key));
  if (e->type != ValueType::kArray) return type_mismatch(*e, "an array");
  const uint64_t n = std::min<uint64_t>(e->array_length, max_items);
  std::vector<MetadataScalar> out;
  out.reserve(size_t(n));
  uint64_t offset = e->value_offset, size = 0;
  for (uint64_t i = 0; i < n; ++i, offset += size)
    out.push_back(read_scalar(e->array_type, offset, &size));
  return out;
}

std::string GgufFile::format_value(const MetadataEntry& e, size_t max_items) const {
  uint64_t size = 0;
  if (e.type != ValueType::kArray) return format_scalar(read_scalar(e.type, e.value_offset, &size));
  std::string s = wrap('[', std::string(value_type_name(e.array_type)), ' ');
  s += "x " + std::to_string(e.array_length) + "] [";
  const uint64_t n = std::min<uint64_t>(e.array_length, max_items);
  uint64_t offset = e.value_offset;
  for (uint64_t i = 0; i < n; ++i, offset += size) {
    if (i) s += ", ";
    s += format_scalar(read_scalar(e.array_type, offset, &size));
  }
  if (n < e.array_length) s += n ? ", ..." : "...";
  return s + "]";
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

uint64_t GgufFile::total_tensor_bytes() const {
  uint64_t total = 0;
  for (const TensorInfo& t : tensors_) total += t.n_bytes;
  return total;
}

}  // namespace llmos::gguf
