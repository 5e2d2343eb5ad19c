// The renderer: evaluates a parsed template's tree against variables and writes
// the text. One Renderer per render call; it borrows the tree (which must
// outlive it) and owns the scopes and values of that render. Not thread-safe.
// Errors are thrown as RenderError inside this module and returned as Status,
// naming the construct and template line, at Template::render.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ast.hpp"
#include "value.hpp"

namespace llmos::jinja {

struct RenderError {
  std::string message;
};
[[noreturn]] void fail(std::string message);

// Variables of one block level (a for body, a macro call); lookups walk to the parent.
struct Scope {
  std::vector<std::pair<std::string, Value>> vars;
  std::shared_ptr<Scope> parent;
  Value* find(const std::string& name);
  void set(const std::string& name, Value value);
};

class Renderer {
 public:
  // REQUIRES: `globals` holds the template's variables and built-in functions.
  explicit Renderer(std::shared_ptr<Scope> globals) : scope_(std::move(globals)) {}

  // Renders `body` into `out`; throws RenderError.
  void render(const Body& body, Text& out);
  // The line of the construct being evaluated, for error messages.
  int line() const { return line_; }

  // For filters and tests that take the name of another filter or test.
  Value apply_filter(const std::string& name, const Value& operand, CallArgs& args);
  bool apply_test(const std::string& name, const Value& operand, CallArgs& args);
  Value call(const Value& fn, CallArgs& args);

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  Flow exec(const Body& body, Text& out);
  Flow exec_node(const Node& node, Text& out);
  Flow exec_for(const Node& node, Text& out);
  void exec_set(const Node& node);
  Value make_macro(const Node& node);
  Value make_caller(const Node& node);

  Value eval(const Expr& e);
  Value eval_call(const Expr& e);
  Value eval_binary(const Expr& e);
  CallArgs eval_args(const Expr& e, size_t first);
  Value get_attr(const Value& obj, const std::string& name);
  Value get_item(const Value& obj, const Value& key);
  Value lookup(const std::string& name);

  std::shared_ptr<Scope> scope_;
  int line_ = 0;
  int call_depth_ = 0;  // macro and caller() calls in progress
};

// Calls nested deeper than this fail (a macro calling itself forever).
inline constexpr int kMaxCallDepth = 256;
// Strings and lists built by `*` larger than this fail.
inline constexpr int64_t kMaxRepeatBytes = int64_t{1} << 28;

// Builtins (filters.cpp, tests.cpp, methods.cpp).
Value run_filter(Renderer& r, const std::string& name, const Value& operand, CallArgs& args);
bool run_test(Renderer& r, const std::string& name, const Value& operand, CallArgs& args);
// A string, list or dict method; sets `found` false when `obj` has no method `name`.
Value call_method(Renderer& r, const Value& obj, const std::string& name, CallArgs& args, bool& found);
// Python's sequence view of a value: a list's items, a dict's keys, a string's
// characters; an undefined value is empty. Fails on anything else.
Value::List iterate(const Value& v);
// Python's len() on strings (code points), lists and dicts.
int64_t length_of(const Value& v);
// Python's < for numbers and strings (and lists of them); fails on other types.
bool less_than(const Value& a, const Value& b);
// Splits UTF-8 text into code points (each one a string).
std::vector<std::string> code_points(const std::string& s);

}  // namespace llmos::jinja
