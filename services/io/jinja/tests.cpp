// Jinja tests: `value is name(args)`.
#include "renderer.hpp"

namespace llmos::jinja {

bool run_test(Renderer& r, const std::string& name, const Value& v, CallArgs& args) {
  (void)r;
  auto arg = [&](size_t i) -> const Value& {
    if (i >= args.positional.size()) fail("test '" + name + "' needs an argument");
    return args.positional[i];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string();
  if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string();
  if (name == "callable") return v.is_function();
  if (name == "odd" || name == "even") {
    if (!v.is_int()) fail("test '" + name + "' needs an integer, not a " + v.type_name());
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    const Value& d = arg(0);
    if (!v.is_int() || !d.is_int() || d.as_int() == 0) fail("test 'divisibleby' needs non-zero integers");
    return v.as_int() % d.as_int() == 0;
  }
  if (name == "lower" || name == "upper") {
    if (!v.is_string()) return false;
    for (char c : v.as_string()) {
      if (name == "lower" ? (c >= 'A' && c <= 'Z') : (c >= 'a' && c <= 'z')) return false;
    }
    return true;
  }
  if (name == "equalto" || name == "eq" || name == "==" || name == "sameas") return v.equals(arg(0));
  if (name == "ne" || name == "!=") return !v.equals(arg(0));
  if (name == "lt" || name == "lessthan" || name == "<") return less_than(v, arg(0));
  if (name == "gt" || name == "greaterthan" || name == ">") return less_than(arg(0), v);
  if (name == "le" || name == "<=") return !less_than(arg(0), v);
  if (name == "ge" || name == ">=") return !less_than(v, arg(0));
  if (name == "in") {
    const Value& c = arg(0);
    if (c.is_string()) return v.is_string() && c.as_string().find(v.as_string()) != std::string::npos;
    if (c.is_dict()) return v.is_string() && c.as_dict().find(v.as_string());
    for (const Value& item : iterate(c)) {
      if (item.equals(v)) return true;
    }
    return false;
  }
  fail("unknown test '" + name + "'");
}

}  // namespace llmos::jinja
