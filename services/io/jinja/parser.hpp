// The Jinja parser: tokens to the statement tree, once per template. Errors name
// the construct and the template line ("unexpected 'endfor' at line 12: no open
// 'for'"). Pure function; the returned tree owns its nodes.
#pragma once
#include <vector>

#include "ast.hpp"
#include "lexer.hpp"
#include "llmos/common/status.hpp"

namespace llmos::jinja {

Result<Body> parse(const std::vector<Token>& tokens);

}  // namespace llmos::jinja
