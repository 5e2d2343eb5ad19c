// Binary operators and the Python sequence helpers the renderer and builtins share.
#include <cmath>

#include "renderer.hpp"

namespace llmos::jinja {

std::vector<std::string> code_points(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    n = std::min(n, s.size() - i);
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

Value::List iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return {};
    case Value::Kind::kList: return v.as_list();
    case Value::Kind::kDict: {
      Value::List keys;
      for (size_t i = 0; i < v.as_dict().size(); ++i) keys.push_back(v.as_dict().key_at(i));
      return keys;
    }
    case Value::Kind::kString: {
      Value::List chars;
      for (auto& cp : code_points(v.as_string())) chars.emplace_back(std::move(cp));
      return chars;
    }
    default: fail("a " + v.type_name() + " is not iterable");
  }
}

int64_t length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kString: {
      int64_t n = 0;
      for (char c : v.as_string()) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
      return n;
    }
    case Value::Kind::kList: return static_cast<int64_t>(v.as_list().size());
    case Value::Kind::kDict: return static_cast<int64_t>(v.as_dict().size());
    case Value::Kind::kUndefined: return 0;
    default: fail("a " + v.type_name() + " has no length");
  }
}

bool less_than(const Value& a, const Value& b) {
  if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool())) {
    auto num = [](const Value& v) { return v.is_bool() ? static_cast<double>(v.as_bool()) : v.as_number(); };
    if (a.is_int() && b.is_int()) return a.as_int() < b.as_int();
    return num(a) < num(b);
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_list() && b.is_list()) {
    const auto &x = a.as_list(), &y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (less_than(x[i], y[i])) return true;
      if (less_than(y[i], x[i])) return false;
    }
    return x.size() < y.size();
  }
  fail("cannot compare a " + a.type_name() + " with a " + b.type_name());
}

namespace {

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) fail("'in <string>' needs a string on the left, not a " + item.type_name());
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_list()) {
    for (const Value& v : container.as_list()) {
      if (v.equals(item)) return true;
    }
    return false;
  }
  if (container.is_dict()) {
    return container.as_dict().find(item.is_string() ? item.as_string() : item.to_output()) != nullptr;
  }
  if (container.is_undefined() || container.is_none()) return false;
  fail("'in' on a " + container.type_name());
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (!a.is_number() || !b.is_number()) {
    fail("'" + op + "' on a " + a.type_name() + " and a " + b.type_name());
  }
  if (a.is_int() && b.is_int()) {
    const int64_t x = a.as_int(), y = b.as_int();
    int64_t r = 0;
    if (op == "+" && !__builtin_add_overflow(x, y, &r)) return Value(r);
    if (op == "-" && !__builtin_sub_overflow(x, y, &r)) return Value(r);
    if (op == "*" && !__builtin_mul_overflow(x, y, &r)) return Value(r);
    if (op == "//" || op == "%") {
      if (y == 0) fail("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) return op == "//" ? Value(static_cast<double>(x) * -1) : Value(int64_t{0});
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        --q;
        m += y;
      }
      return op == "//" ? Value(q) : Value(m);
    }
    if (op == "**" && y >= 0) {
      int64_t acc = 1;
      bool overflow = false;
      for (int64_t i = 0; i < y && !overflow; ++i) overflow = __builtin_mul_overflow(acc, x, &acc);
      if (!overflow) return Value(acc);
    }
  }
  const double x = a.as_number(), y = b.as_number();
  if (op == "+") return Value(x + y);
  if (op == "-") return Value(x - y);
  if (op == "*") return Value(x * y);
  if (op == "/") {
    if (y == 0) fail("division by zero");
    return Value(x / y);
  }
  if (op == "//") {
    if (y == 0) fail("division by zero");
    return Value(std::floor(x / y));
  }
  if (op == "%") {
    if (y == 0) fail("modulo by zero");
    double m = std::fmod(x, y);
    if (m != 0 && ((m < 0) != (y < 0))) m += y;
    return Value(m);
  }
  return Value(std::pow(x, y));
}

}  // namespace

Value Renderer::eval_binary(const Expr& e) {
  const Value a = eval(*e.children[0]);
  const Value b = eval(*e.children[1]);
  line_ = e.line;
  const std::string& op = e.name;
  if (op == "==") return Value(a.equals(b));
  if (op == "!=") return Value(!a.equals(b));
  if (op == "<") return Value(less_than(a, b));
  if (op == ">") return Value(less_than(b, a));
  if (op == "<=") return Value(!less_than(b, a));
  if (op == ">=") return Value(!less_than(a, b));
  if (op == "in") return Value(contains(b, a) != e.negated);
  if (op == "~") return concat(a, b);
  if (op == "+") {
    // An undefined operand next to a string reads as "" (as llama.cpp renders it).
    if ((a.is_string() || a.is_undefined()) && (b.is_string() || b.is_undefined()) && !(a.is_undefined() && b.is_undefined())) {
      return concat(a, b);
    }
    if (a.is_list() && b.is_list()) {
      Value::List items = a.as_list();
      items.insert(items.end(), b.as_list().begin(), b.as_list().end());
      return Value::list(std::move(items));
    }
  }
  if (op == "*" && (a.is_string() || a.is_list()) && b.is_int()) {
    const int64_t unit = a.is_string() ? static_cast<int64_t>(a.as_string().size()) : length_of(a);
    if (b.as_int() > 0 && unit > 0 && b.as_int() > kMaxRepeatBytes / unit) fail("'*' result too large");
    if (a.is_string()) {
      std::string s;
      for (int64_t i = 0; i < b.as_int(); ++i) s += a.as_string();
      return Value(std::move(s));
    }
    Value::List items;
    for (int64_t i = 0; i < b.as_int(); ++i) items.insert(items.end(), a.as_list().begin(), a.as_list().end());
    return Value::list(std::move(items));
  }
  return arithmetic(op, a, b);
}

}  // namespace llmos::jinja
