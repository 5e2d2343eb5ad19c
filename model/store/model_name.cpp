#include "llmos/model/model_name.hpp"

#include <cstdio>

namespace llmos::model {
namespace {

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_name_char(char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; }

Status check_part(std::string_view whole, std::string_view part, std::string_view what, bool underscore_first) {
  const std::string quoted = "model name '" + std::string(whole) + "'";
  if (part.empty()) return invalid_argument(quoted + ": the " + std::string(what) + " is empty");
  if (part.size() > kMaxNamePartLength)
    return invalid_argument(quoted + ": the " + std::string(what) + " is longer than " +
                            std::to_string(kMaxNamePartLength) + " characters");
  if (!is_alnum(part[0]) && !(underscore_first && part[0] == '_'))
    return invalid_argument(quoted + ": the " + std::string(what) + " must start with a letter or digit");
  for (char c : part) {
    if (!is_name_char(c)) {
      char shown[8];
      if (c >= 0x20 && c < 0x7f) std::snprintf(shown, sizeof(shown), "%c", c);
      else std::snprintf(shown, sizeof(shown), "\\x%02x", unsigned(uint8_t(c)));
      return invalid_argument(quoted + ": '" + std::string(shown) + "' is not allowed (letters, digits, '.', '_', '-')");
    }
  }
  return ok_status();
}

}  // namespace

Result<ModelName> parse_model_name(std::string_view text) {
  if (text.empty()) return invalid_argument("model name is empty");
  const size_t colon = text.find(':');
  ModelName n;
  if (colon == std::string_view::npos) {
    LLMOS_RETURN_IF_ERROR(check_part(text, text, "name", false));
    n.name = std::string(text);
    n.tag = std::string(kDefaultTag);
    return n;
  }
  if (text.find(':', colon + 1) != std::string_view::npos)
    return invalid_argument("model name '" + std::string(text) + "': more than one ':'");
  LLMOS_RETURN_IF_ERROR(check_part(text, text.substr(0, colon), "name", false));
  LLMOS_RETURN_IF_ERROR(check_part(text, text.substr(colon + 1), "tag", true));
  n.name = std::string(text.substr(0, colon));
  n.tag = std::string(text.substr(colon + 1));
  return n;
}

Result<ModelName> model_name_from_file(std::string_view path) {
  std::string_view base = path;
  if (const size_t slash = base.rfind('/'); slash != std::string_view::npos) base = base.substr(slash + 1);
  constexpr std::string_view kExt = ".gguf";
  if (base.size() > kExt.size()) {
    std::string tail(base.substr(base.size() - kExt.size()));
    for (char& c : tail) c = char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (tail == kExt) base = base.substr(0, base.size() - kExt.size());
  }
  while (!base.empty() && !is_alnum(base.front())) base.remove_prefix(1);
  std::string name(base.substr(0, kMaxNamePartLength));
  for (char& c : name)
    if (!is_name_char(c)) c = '-';
  if (name.empty())
    return invalid_argument("'" + std::string(path) + "': no model name can be made from the file name; give one");
  return ModelName{std::move(name), std::string(kDefaultTag)};
}

}  // namespace llmos::model
