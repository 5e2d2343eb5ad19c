// The parsed template: expression and statement trees, built once by the parser
// and read (never changed) by every render. A Template owns its nodes; the
// renderer only borrows them, so one parsed template may render on many threads.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "value.hpp"

namespace llmos::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind : uint8_t {
    kLiteral,   // literal
    kName,      // name
    kList,      // children: items
    kTuple,     // children: items
    kDict,      // children: key, value, key, value...
    kGetAttr,   // children[0] . name
    kGetItem,   // children[0] [ children[1] ]
    kSlice,     // children[0] [ children[1] : children[2] : children[3] ] (null when absent)
    kCall,      // children[0] ( children[1..], kwargs )
    kFilter,    // children[0] | name ( children[1..], kwargs )
    kTest,      // children[0] is [not] name ( children[1..] )
    kUnary,     // name ("-", "+", "not") children[0]
    kBinary,    // children[0] name children[1]: arithmetic, comparison, in, ~
    kAnd,
    kOr,
    kTernary,   // children[1] if children[0] else children[2] (null when absent)
  };
  Kind kind;
  int line = 0;
  std::string name;
  Value literal;
  bool negated = false;  // `is not`, `not in`
  std::vector<ExprPtr> children;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Node;
using Body = std::vector<Node>;

struct Node {
  enum class Kind : uint8_t {
    kText,        // text
    kOutput,      // {{ expr }}
    kIf,          // branches: (cond, body)...; else_body
    kFor,         // targets in expr [if cond]: body; else_body
    kSet,         // targets (or attr_target.attr) = expr
    kSetBlock,    // {% set targets[0] %} body {% endset %}
    kMacro,       // name(params) body
    kCallBlock,   // {% call(params) expr %} body: `caller()` renders body
    kFilterBlock, // {% filter expr %} body: expr is a filter chain over a kName "" placeholder
    kBreak,
    kContinue,
    kScope,       // body rendered in place ({% generation %})
  };
  explicit Node(Kind k = Kind::kText) : kind(k) {}
  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr cond;
  std::vector<std::string> targets;
  std::string attr;                                      // kSet on `ns.attr`
  std::vector<std::pair<std::string, ExprPtr>> params;   // macro/call parameters with defaults
  std::vector<std::pair<ExprPtr, Body>> branches;        // kIf
  Body body;
  Body else_body;
};

}  // namespace llmos::jinja
