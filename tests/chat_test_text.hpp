// Text the chat system tests share: a ChatML template (as Qwen and many
// fine-tunes carry it) and a helper that writes a file and returns its path.
// Test-only, header-only.
#pragma once
#include <filesystem>
#include <fstream>
#include <string>

namespace llmos::testing {

inline constexpr const char* kChatMl =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' "
    "+ '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

inline std::string write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

}  // namespace llmos::testing
