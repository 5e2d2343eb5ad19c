// The Jinja lexer: template source to tokens (text, tag delimiters, expression
// tokens), applying whitespace control: `{%-`/`-%}` and, as llama.cpp sets them,
// trim_blocks and lstrip_blocks; one trailing newline of the source is dropped.
// Pure function; the tokens own their text.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "llmos/common/status.hpp"

namespace llmos::jinja {

struct Token {
  enum class Kind : uint8_t {
    kText, kExprOpen, kExprClose, kStmtOpen, kStmtClose, kName, kString, kInt, kFloat, kOp, kEnd
  };
  Kind kind;
  std::string text;  // text, name, string value, number spelling or operator
  int line;
};

// Errors name the line: an unterminated tag, comment or string, a stray character.
Result<std::vector<Token>> tokenize(std::string_view source);

}  // namespace llmos::jinja
