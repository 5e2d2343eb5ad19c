// Python methods of strings, lists and dicts that templates call (`s.strip()`,
// `xs.append(x)`, `d.get(k)`).
#include <algorithm>
#include <charconv>

#include "renderer.hpp"
#include "string_ops.hpp"

namespace llmos::jinja {
namespace {

const char* const kWhitespace = " \t\n\r\f\v";

std::string str_arg(const CallArgs& a, size_t i, const std::string& method) {
  if (i >= a.positional.size() || !a.positional[i].is_string()) {
    fail("'" + method + "' needs a string argument");
  }
  return a.positional[i].as_string();
}

// "{} and {0} and {name}".format(...)
std::string format(const std::string& fmt, const CallArgs& a) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      const size_t end = fmt.find('}', i);
      if (end == std::string::npos) fail("'format': unmatched '{'");
      std::string field = fmt.substr(i + 1, end - i - 1);
      if (auto colon = field.find(':'); colon != std::string::npos) field = field.substr(0, colon);
      const Value* v = nullptr;
      if (field.empty()) {
        v = a.get("", auto_index++);
      } else if (std::all_of(field.begin(), field.end(), ::isdigit)) {
        size_t index = 0;
        auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), index);
        v = ec == std::errc() ? a.get("", index) : nullptr;
      } else {
        v = a.get(field, SIZE_MAX);
      }
      if (!v) fail("'format': no argument for {" + field + "}");
      out += v->to_output();
      i = end;
    } else {
      out += c;
    }
  }
  return out;
}

bool prefix_test(const Value& arg, const std::string& s, bool ends) {
  auto one = [&](const std::string& p) {
    if (p.size() > s.size()) return false;
    return ends ? s.compare(s.size() - p.size(), p.size(), p) == 0 : s.compare(0, p.size(), p) == 0;
  };
  if (arg.is_string()) return one(arg.as_string());
  if (arg.is_list()) {
    for (const Value& p : arg.as_list()) {
      if (p.is_string() && one(p.as_string())) return true;
    }
    return false;
  }
  fail(std::string(ends ? "'endswith'" : "'startswith'") + " needs a string or a tuple of strings");
}

Value string_method(const std::string& s, const std::string& name, CallArgs& a, bool& found) {
  auto strip_chars = [&]() -> std::string {
    const Value* c = a.get("chars", 0);
    return c && c->is_string() ? c->as_string() : kWhitespace;
  };
  if (name == "strip") return Value(strip(s, strip_chars(), true, true));
  if (name == "lstrip") return Value(strip(s, strip_chars(), true, false));
  if (name == "rstrip") return Value(strip(s, strip_chars(), false, true));
  if (name == "upper") return Value(upper(s));
  if (name == "lower") return Value(lower(s));
  if (name == "title") return Value(title(s));
  if (name == "capitalize") {
    std::string out = lower(s);
    if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
    return Value(out);
  }
  if (name == "startswith" || name == "endswith") {
    if (a.positional.empty()) fail("'" + name + "' needs an argument");
    return Value(prefix_test(a.positional[0], s, name == "endswith"));
  }
  if (name == "split" || name == "rsplit") {
    const Value* sep = a.get("sep", 0);
    const Value* max = a.get("maxsplit", 1);
    const bool given = sep && sep->is_string();
    if (given && sep->as_string().empty()) fail("'" + name + "': empty separator");
    Value::List out;
    for (auto& part : split(s, given ? sep->as_string() : "", given, max && max->is_int() ? max->as_int() : -1,
                            name == "rsplit")) {
      out.emplace_back(std::move(part));
    }
    return Value::list(std::move(out));
  }
  if (name == "splitlines") {
    Value::List out;
    for (auto& line : split_lines(s)) out.emplace_back(std::move(line));
    return Value::list(std::move(out));
  }
  if (name == "replace") {
    const Value* count = a.get("count", 2);
    return Value(replace(s, str_arg(a, 0, name), str_arg(a, 1, name), count && count->is_int() ? count->as_int() : -1));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "count") {
    const std::string sub = str_arg(a, 0, name);
    if (name == "count") {
      if (sub.empty()) return Value(length_of(Value(s)) + 1);
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return Value(n);
    }
    const size_t p = name == "rfind" ? s.rfind(sub) : s.find(sub);
    if (p == std::string::npos && name == "index") fail("'index': substring not found");
    // Byte offset to code point offset.
    return Value(p == std::string::npos ? int64_t{-1} : length_of(Value(s.substr(0, p))));
  }
  if (name == "join") {
    if (a.positional.empty()) fail("'join' needs an argument");
    std::string out;
    bool first = true;
    for (const Value& v : iterate(a.positional[0])) {
      out += (first ? "" : s) + v.to_output();
      first = false;
    }
    return Value(out);
  }
  if (name == "format") return Value(format(s, a));
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "isupper" ||
      name == "islower") {
    if (s.empty()) return Value(false);
    auto all = [&](int (*pred)(int)) {
      return std::all_of(s.begin(), s.end(), [&](char c) { return pred(static_cast<unsigned char>(c)) != 0; });
    };
    if (name == "isdigit") return Value(all(::isdigit));
    if (name == "isalpha") return Value(all(::isalpha));
    if (name == "isalnum") return Value(all(::isalnum));
    if (name == "isspace") return Value(all(::isspace));
    const bool want_upper = name == "isupper";
    bool cased = false;
    for (char c : s) {
      if (std::isalpha(static_cast<unsigned char>(c))) {
        cased = true;
        if ((std::isupper(static_cast<unsigned char>(c)) != 0) != want_upper) return Value(false);
      }
    }
    return Value(cased);
  }
  found = false;
  return Value();
}

Value list_method(const Value& obj, const std::string& name, CallArgs& a, bool& found) {
  Value::List& items = obj.as_list();
  const int64_t n = static_cast<int64_t>(items.size());
  if (name == "append") {
    if (a.positional.size() != 1) fail("'append' needs one argument");
    items.push_back(a.positional[0]);
    return Value::none();
  }
  if (name == "extend") {
    if (a.positional.size() != 1) fail("'extend' needs one argument");
    for (const Value& v : iterate(a.positional[0])) items.push_back(v);
    return Value::none();
  }
  if (name == "pop") {
    if (items.empty()) fail("'pop' from an empty list");
    int64_t i = a.positional.empty() ? n - 1 : (a.positional[0].is_int() ? a.positional[0].as_int() : n);
    if (i < 0) i += n;
    if (i < 0 || i >= n) fail("'pop' index out of range");
    Value v = items[static_cast<size_t>(i)];
    items.erase(items.begin() + i);
    return v;
  }
  if (name == "insert") {
    if (a.positional.size() != 2 || !a.positional[0].is_int()) fail("'insert' needs an index and a value");
    int64_t i = a.positional[0].as_int();
    if (i < 0) i += n;
    i = std::clamp<int64_t>(i, 0, n);
    items.insert(items.begin() + i, a.positional[1]);
    return Value::none();
  }
  if (name == "index" || name == "count") {
    if (a.positional.empty()) fail("'" + name + "' needs an argument");
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (items[static_cast<size_t>(i)].equals(a.positional[0])) {
        if (name == "index") return Value(i);
        ++count;
      }
    }
    if (name == "index") fail("'index': value not in list");
    return Value(count);
  }
  if (name == "copy") return Value::list(items);
  if (name == "reverse") {
    std::reverse(items.begin(), items.end());
    return Value::none();
  }
  found = false;
  return Value();
}

Value dict_method(const Value& obj, const std::string& name, CallArgs& a, bool& found) {
  Dict& d = obj.as_dict();
  if (name == "get") {
    if (a.positional.empty()) fail("'get' needs a key");
    const Value& key = a.positional[0];
    const Value* v = d.find(key.is_string() ? key.as_string() : key.to_output());
    if (v) return *v;
    return a.positional.size() > 1 ? a.positional[1] : Value::none();
  }
  if (name == "items" || name == "keys" || name == "values") {
    Value::List out;
    for (size_t i = 0; i < d.size(); ++i) {
      if (name == "items") out.push_back(Value::list({d.key_at(i), d.items()[i].second}));
      if (name == "keys") out.push_back(d.key_at(i));
      if (name == "values") out.push_back(d.items()[i].second);
    }
    return Value::list(std::move(out));
  }
  if (name == "pop") {
    if (a.positional.empty() || !a.positional[0].is_string()) fail("'pop' needs a key");
    const std::string key = a.positional[0].as_string();
    if (const Value* v = d.find(key)) {
      Value out = *v;
      d.erase(key);
      return out;
    }
    if (a.positional.size() > 1) return a.positional[1];
    fail("'pop': no key '" + key + "'");
  }
  if (name == "update") {
    for (const Value& other : a.positional) {
      if (!other.is_dict()) fail("'update' needs a dict");
      for (const auto& [k, v] : other.as_dict().items()) d.set(k, v);
    }
    for (const auto& [k, v] : a.keyword) d.set(k, v);
    return Value::none();
  }
  if (name == "setdefault") {
    if (a.positional.empty() || !a.positional[0].is_string()) fail("'setdefault' needs a key");
    const std::string key = a.positional[0].as_string();
    if (const Value* v = d.find(key)) return *v;
    Value def = a.positional.size() > 1 ? a.positional[1] : Value::none();
    d.set(key, def);
    return def;
  }
  if (name == "copy") {
    Value out = Value::dict();
    for (const auto& [k, v] : d.items()) out.as_dict().set(k, v);
    return out;
  }
  found = false;
  return Value();
}

}  // namespace

Value call_method(Renderer& r, const Value& obj, const std::string& name, CallArgs& args, bool& found) {
  (void)r;
  found = true;
  if (obj.is_string()) return string_method(obj.as_string(), name, args, found);
  if (obj.is_list()) return list_method(obj, name, args, found);
  if (obj.is_dict()) return dict_method(obj, name, args, found);
  found = false;
  return Value();
}

}  // namespace llmos::jinja
