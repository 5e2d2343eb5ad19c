#include "validate.hpp"

#include <string>

namespace llmos::ipc {
namespace {

bool is_pointer(capnp::Type t) {
  switch (t.which()) {
    case capnp::schema::Type::TEXT:
    case capnp::schema::Type::DATA:
    case capnp::schema::Type::LIST:
    case capnp::schema::Type::STRUCT:
    case capnp::schema::Type::INTERFACE:
    case capnp::schema::Type::ANY_POINTER:
      return true;
    default:
      return false;
  }
}

class Validator {
 public:
  explicit Validator(const DecodeLimits& limits) : limits_(limits) {}

  Status walk_struct(capnp::DynamicStruct::Reader s) {
    auto schema = s.getSchema();
    for (auto field : schema.getNonUnionFields()) LLMOS_RETURN_IF_ERROR(walk_field(s, field));
    if (schema.getUnionFields().size() == 0) return ok_status();
    KJ_IF_MAYBE(active, s.which()) { return walk_field(s, *active); }
    return invalid_argument(where() + ": unknown union member (from a newer protocol?)");
  }

 private:
  Status walk_field(capnp::DynamicStruct::Reader s, capnp::StructSchema::Field field) {
    size_t saved = path_.size();
    if (!path_.empty()) path_ += '.';
    auto name = field.getProto().getName();
    path_.append(name.cStr(), name.size());
    Status st;
    if (field.getProto().isGroup()) {
      st = walk_struct(s.get(field).as<capnp::DynamicStruct>());
    } else {
      capnp::Type type = field.getType();
      if (!is_pointer(type) || s.has(field, capnp::HasMode::NON_NULL)) st = walk_value(s.get(field), type);
    }
    path_.resize(saved);
    return st;
  }

  Status walk_value(capnp::DynamicValue::Reader value, capnp::Type type) {
    switch (type.which()) {
      case capnp::schema::Type::TEXT:
        return check_size(value.as<capnp::Text>().size(), limits_.max_text_bytes, "text of", "bytes");
      case capnp::schema::Type::DATA:
        return check_size(value.as<capnp::Data>().size(), limits_.max_data_bytes, "data of", "bytes");
      case capnp::schema::Type::LIST: {
        auto list = value.as<capnp::DynamicList>();
        LLMOS_RETURN_IF_ERROR(check_size(list.size(), limits_.max_list_elements, "list of", "elements"));
        capnp::Type element = type.asList().getElementType();
        if (!is_pointer(element) && !element.isEnum() && !element.isStruct()) return ok_status();
        for (uint32_t i = 0; i < list.size(); ++i) {
          size_t saved = path_.size();
          path_ += '[' + std::to_string(i) + ']';
          Status st = walk_value(list[i], element);
          path_.resize(saved);
          LLMOS_RETURN_IF_ERROR(st);
        }
        return ok_status();
      }
      case capnp::schema::Type::STRUCT:
        return walk_struct(value.as<capnp::DynamicStruct>());
      case capnp::schema::Type::ENUM: {
        auto e = value.as<capnp::DynamicEnum>();
        if (e.getEnumerant() == nullptr) {
          return invalid_argument(where() + ": unknown enum value " + std::to_string(e.getRaw()));
        }
        return ok_status();
      }
      case capnp::schema::Type::ANY_POINTER:
      case capnp::schema::Type::INTERFACE:
        return invalid_argument(where() + ": field type not allowed on the wire");
      default:
        return ok_status();  // scalars are always valid
    }
  }

  Status check_size(uint64_t size, uint64_t limit, const char* what, const char* unit) {
    if (size <= limit) return ok_status();
    return invalid_argument(where() + ": " + what + " " + std::to_string(size) + " " + unit +
                            " exceeds the limit of " + std::to_string(limit));
  }

  std::string where() const { return path_.empty() ? std::string("envelope") : "field " + path_; }

  const DecodeLimits& limits_;
  std::string path_;
};

}  // namespace

Status validate_struct(capnp::DynamicStruct::Reader root, const DecodeLimits& limits) {
  return Validator(limits).walk_struct(root);
}

}  // namespace llmos::ipc
