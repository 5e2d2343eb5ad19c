// Metadata copying for quantize_model (see metadata_copy.hpp).
#include "metadata_copy.hpp"

#include <string>
#include <vector>

namespace llmos::quantize {
namespace {

using gguf::MetadataScalar;
using gguf::ValueType;

template <class T>
T as(const MetadataScalar& v) {
  if (auto* u = std::get_if<uint64_t>(&v)) return T(*u);
  if (auto* i = std::get_if<int64_t>(&v)) return T(*i);
  if (auto* d = std::get_if<double>(&v)) return T(*d);
  if (auto* b = std::get_if<bool>(&v)) return T(*b);
  return T{};
}

template <class T>
std::vector<T> numbers(const std::vector<MetadataScalar>& items) {
  std::vector<T> out;
  out.reserve(items.size());
  for (const auto& v : items) out.push_back(as<T>(v));
  return out;
}

Status copy_scalar(ValueType type, std::string key, const MetadataScalar& v, gguf::GgufWriter& w) {
  switch (type) {
    case ValueType::kUint8: w.add_uint8(std::move(key), as<uint8_t>(v)); break;
    case ValueType::kInt8: w.add_int8(std::move(key), as<int8_t>(v)); break;
    case ValueType::kUint16: w.add_uint16(std::move(key), as<uint16_t>(v)); break;
    case ValueType::kInt16: w.add_int16(std::move(key), as<int16_t>(v)); break;
    case ValueType::kUint32: w.add_uint32(std::move(key), as<uint32_t>(v)); break;
    case ValueType::kInt32: w.add_int32(std::move(key), as<int32_t>(v)); break;
    case ValueType::kUint64: w.add_uint64(std::move(key), as<uint64_t>(v)); break;
    case ValueType::kInt64: w.add_int64(std::move(key), as<int64_t>(v)); break;
    case ValueType::kFloat32: w.add_float32(std::move(key), as<float>(v)); break;
    case ValueType::kFloat64: w.add_float64(std::move(key), as<double>(v)); break;
    case ValueType::kBool: w.add_bool(std::move(key), as<bool>(v)); break;
    case ValueType::kString: {
      const auto* s = std::get_if<std::string_view>(&v);
      w.add_string(std::move(key), s ? *s : std::string_view());
      break;
    }
    case ValueType::kArray: return internal_error("copy_scalar: an array");
  }
  return ok_status();
}

}  // namespace

Status copy_metadata(const gguf::GgufFile& in, const gguf::MetadataEntry& e, gguf::GgufWriter& w) {
  std::string key(e.key);
  if (e.type != ValueType::kArray) {
    LLMOS_ASSIGN_OR_RETURN(auto v, in.get_scalar(e.key));
    return copy_scalar(e.type, std::move(key), v, w);
  }
  if (e.array_type == ValueType::kArray)
    return unimplemented(in.path() + ": key '" + key + "' is an array of arrays, which quantize cannot copy");
  LLMOS_ASSIGN_OR_RETURN(auto items, in.get_array_items(e.key, size_t(e.array_length)));
  switch (e.array_type) {
    case ValueType::kString: {
      std::vector<std::string_view> s;
      s.reserve(items.size());
      for (const auto& v : items) {
        const auto* p = std::get_if<std::string_view>(&v);
        s.push_back(p ? *p : std::string_view());
      }
      w.add_string_array(std::move(key), std::span<const std::string_view>(s));
      break;
    }
    case ValueType::kBool: {
      std::vector<bool> b;
      for (const auto& v : items) b.push_back(as<bool>(v));
      w.add_bool_array(std::move(key), b);
      break;
    }
    case ValueType::kUint8: w.add_array(std::move(key), numbers<uint8_t>(items)); break;
    case ValueType::kInt8: w.add_array(std::move(key), numbers<int8_t>(items)); break;
    case ValueType::kUint16: w.add_array(std::move(key), numbers<uint16_t>(items)); break;
    case ValueType::kInt16: w.add_array(std::move(key), numbers<int16_t>(items)); break;
    case ValueType::kUint32: w.add_array(std::move(key), numbers<uint32_t>(items)); break;
    case ValueType::kInt32: w.add_array(std::move(key), numbers<int32_t>(items)); break;
    case ValueType::kUint64: w.add_array(std::move(key), numbers<uint64_t>(items)); break;
    case ValueType::kInt64: w.add_array(std::move(key), numbers<int64_t>(items)); break;
    case ValueType::kFloat32: w.add_array(std::move(key), numbers<float>(items)); break;
    case ValueType::kFloat64: w.add_array(std::move(key), numbers<double>(items)); break;
    case ValueType::kArray: break;
  }
  return ok_status();
}

}  // namespace llmos::quantize
