#include "every_message.hpp"

#include <capnp/schema.h>

#include <string>

namespace llmos::ipc::testing {
namespace {

uint32_t g_counter = 0;

// prefix + counter (built with += to avoid a GCC 12 -Wrestrict false positive).
std::string tagged(const char* prefix) {
  std::string s = prefix;
  s += std::to_string(g_counter);
  return s;
}

void fill_field(capnp::DynamicStruct::Builder s, capnp::StructSchema::Field field);

void set_element(capnp::DynamicList::Builder list, uint32_t i, capnp::Type type) {
  ++g_counter;
  switch (type.which()) {
    case capnp::schema::Type::STRUCT: fill_struct(list[i].as<capnp::DynamicStruct>()); break;
    case capnp::schema::Type::TEXT: {
      std::string t = tagged("t");
      list.set(i, capnp::Text::Reader(t.c_str(), t.size()));
      break;
    }
    case capnp::schema::Type::DATA: {
      std::string d = tagged("d");
      list.set(i, capnp::Data::Reader(reinterpret_cast<const kj::byte*>(d.data()), d.size()));
      break;
    }
    case capnp::schema::Type::ENUM: {
      auto enumerants = type.asEnum().getEnumerants();
      list.set(i, capnp::DynamicEnum(enumerants[enumerants.size() - 1]));
      break;
    }
    case capnp::schema::Type::BOOL: list.set(i, true); break;
    case capnp::schema::Type::FLOAT32:
    case capnp::schema::Type::FLOAT64: list.set(i, 0.25 + g_counter); break;
    default: list.set(i, static_cast<uint64_t>(g_counter % 100 + 2)); break;
  }
}

void fill_field(capnp::DynamicStruct::Builder s, capnp::StructSchema::Field field) {
  if (field.getProto().isGroup()) {
    fill_struct(s.init(field).as<capnp::DynamicStruct>());
    return;
  }
  ++g_counter;
  capnp::Type type = field.getType();
  switch (type.which()) {
    case capnp::schema::Type::VOID: s.set(field, capnp::VOID); break;
    case capnp::schema::Type::BOOL: s.set(field, true); break;
    case capnp::schema::Type::FLOAT32:
    case capnp::schema::Type::FLOAT64: s.set(field, 0.5 + g_counter); break;
    case capnp::schema::Type::TEXT: {
      std::string t = tagged("text");
      s.set(field, capnp::Text::Reader(t.c_str(), t.size()));
      break;
    }
    case capnp::schema::Type::DATA: {
      std::string d = tagged("data");
      s.set(field, capnp::Data::Reader(reinterpret_cast<const kj::byte*>(d.data()), d.size()));
      break;
    }
    case capnp::schema::Type::ENUM: {
      auto enumerants = type.asEnum().getEnumerants();
      s.set(field, capnp::DynamicEnum(enumerants[enumerants.size() - 1]));
      break;
    }
    case capnp::schema::Type::STRUCT:
      fill_struct(s.init(field).as<capnp::DynamicStruct>());
      break;
    case capnp::schema::Type::LIST: {
      auto list = s.init(field, 2).as<capnp::DynamicList>();
      for (uint32_t i = 0; i < 2; ++i) set_element(list, i, type.asList().getElementType());
      break;
    }
    default:  // integers: small, distinct, valid for every width
      s.set(field, static_cast<uint64_t>(g_counter % 100 + 2));
      break;
  }
}

}  // namespace

void fill_struct(capnp::DynamicStruct::Builder s) {
  auto schema = s.getSchema();
  for (auto field : schema.getNonUnionFields()) fill_field(s, field);
  auto members = schema.getUnionFields();
  if (members.size() > 0) fill_field(s, members[members.size() - 1]);
}

std::vector<capnp::StructSchema::Field> every_body_member() {
  std::vector<capnp::StructSchema::Field> out;
  for (auto f : capnp::Schema::from<wire::Envelope::Body>().getUnionFields()) out.push_back(f);
  return out;
}

void fill_body(OutgoingMessage& out, capnp::StructSchema::Field member) {
  auto body = capnp::toDynamic(out.body());
  fill_field(body, member);
}

}  // namespace llmos::ipc::testing
