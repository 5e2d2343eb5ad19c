// A stored model's name: NAME with an optional ":TAG" ("qwen3:0.6b-q4_k_m";
// without a tag it is "latest", as Ollama names them). Validated so that a name
// is also a safe file name in the store. Plain values and pure functions: thread-safe.
#pragma once
#include <string>
#include <string_view>

#include "llmos/common/status.hpp"

namespace llmos::model {

inline constexpr std::string_view kDefaultTag = "latest";
inline constexpr size_t kMaxNamePartLength = 128;

struct ModelName {
  std::string name;  // [A-Za-z0-9][A-Za-z0-9._-]*
  std::string tag;   // [A-Za-z0-9_][A-Za-z0-9._-]*, "latest" when none was given

  std::string str() const { return name + ":" + tag; }  // always with the tag
  bool operator==(const ModelName&) const = default;
};

// invalid_argument naming `text` and the rule it breaks: empty, too long, a
// character outside the sets above, more than one ':', an empty tag.
Result<ModelName> parse_model_name(std::string_view text);

// The name a file gets when none is given: its file name without a ".gguf"
// extension, characters outside the name set replaced by '-'
// ("stories260K.gguf" -> "stories260K"). invalid_argument when nothing usable is left.
Result<ModelName> model_name_from_file(std::string_view path);

}  // namespace llmos::model
