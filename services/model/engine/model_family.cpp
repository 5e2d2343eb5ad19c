#include "llmos/engine/model_family.hpp"

#include "families/families.hpp"

namespace llmos::engine {

std::span<const ModelFamily> model_families() {
  static const ModelFamily kFamilies[] = {llama_family(), qwen_family(), phi3_family(), gemma3_family()};
  return kFamilies;
}

const ModelFamily* find_model_family(std::string_view architecture) {
  for (const ModelFamily& family : model_families()) {
    for (std::string_view a : family.architectures) {
      if (a == architecture) return &family;
    }
  }
  return nullptr;
}

std::string supported_architectures() {
  std::string out;
  for (const ModelFamily& family : model_families()) {
    for (std::string_view a : family.architectures) out += (out.empty() ? "" : ", ") + std::string(a);
  }
  return out;
}

}  // namespace llmos::engine
