#include "value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace llmos::jinja {

const Value* CallArgs::get(const std::string& name, size_t index) const {
  for (const auto& [key, value] : keyword) {
    if (key == name) return &value;
  }
  return index < positional.size() ? &positional[index] : nullptr;
}

Value* Dict::find(const std::string& key) {
  for (auto& [k, v] : items_) {
    if (k == key) return &v;
  }
  return nullptr;
}

const Value* Dict::find(const std::string& key) const {
  for (const auto& [k, v] : items_) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Dict::set(const std::string& key, Value value) {
  if (Value* v = find(key)) {
    *v = std::move(value);
  } else {
    items_.emplace_back(key, std::move(value));
    if (!non_string_keys_.empty()) non_string_keys_.resize(items_.size());
  }
}

void Dict::set_key(const Value& key, Value value) {
  if (key.is_string()) {
    set(key.as_string(), std::move(value));
    return;
  }
  const std::string name = key.to_output();
  if (Value* v = find(name)) {
    *v = std::move(value);
    return;
  }
  non_string_keys_.resize(items_.size());
  items_.emplace_back(name, std::move(value));
  non_string_keys_.push_back(key);
}

Value Dict::key_at(size_t i) const {
  if (i < non_string_keys_.size() && !non_string_keys_[i].is_undefined()) return non_string_keys_[i];
  return Value(items_[i].first);
}

bool Dict::erase(const std::string& key) {
  auto it = std::find_if(items_.begin(), items_.end(), [&](const auto& kv) { return kv.first == key; });
  if (it == items_.end()) return false;
  const auto i = it - items_.begin();
  items_.erase(it);
  if (static_cast<size_t>(i) < non_string_keys_.size()) non_string_keys_.erase(non_string_keys_.begin() + i);
  return true;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}
Value::Value(bool b) : kind_(Kind::kBool), b_(b) {}
Value::Value(int64_t i) : kind_(Kind::kInt), i_(i) {}
Value::Value(double d) : kind_(Kind::kFloat), d_(d) {}
Value::Value(std::string s) : kind_(Kind::kString), s_(std::make_shared<std::string>(std::move(s))) {}

Value::Value(Text t) : Value(std::move(t.str)) {
  if (!t.user.empty()) user_ = std::make_shared<const std::vector<TextSpan>>(std::move(t.user));
}

const std::vector<TextSpan>& Value::user_spans() const {
  static const std::vector<TextSpan> kNone;
  return user_ ? *user_ : kNone;
}

void Value::mark_user() {
  if (kind_ == Kind::kString && !s_->empty()) {
    user_ = std::make_shared<const std::vector<TextSpan>>(std::vector<TextSpan>{{0, s_->size()}});
  }
}

bool Value::all_user() const {
  return kind_ == Kind::kString && user_ && user_->size() == 1 && (*user_)[0].begin == 0 &&
         (*user_)[0].end == s_->size();
}

void Text::append(const Value& v) {
  if (!v.is_string()) {
    str += v.to_output();
    return;
  }
  const size_t base = str.size();
  for (const TextSpan& span : v.user_spans()) {
    if (!user.empty() && user.back().end == base + span.begin) {
      user.back().end = base + span.end;  // adjacent: one range
    } else {
      user.push_back({base + span.begin, base + span.end});
    }
  }
  str += v.as_string();
}

Value concat(const Value& a, const Value& b) {
  if (a.user_spans().empty() && b.user_spans().empty()) return Value(a.to_output() + b.to_output());
  Text t;
  t.append(a);
  t.append(b);
  return Value(std::move(t));
}

Value Value::list(List items) {
  Value v;
  v.kind_ = Kind::kList;
  v.list_ = std::make_shared<List>(std::move(items));
  return v;
}

Value Value::dict() {
  Value v;
  v.kind_ = Kind::kDict;
  v.dict_ = std::make_shared<Dict>();
  return v;
}

Value Value::function(std::string name, Function fn) {
  Value v;
  v.kind_ = Kind::kFunction;
  v.s_ = std::make_shared<std::string>(std::move(name));
  v.fn_ = std::make_shared<Function>(std::move(fn));
  return v;
}

Value Value::from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return none();
    case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned:
      return Value(static_cast<int64_t>(j.get<uint64_t>()));
    case nlohmann::ordered_json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json(e));
      return list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Value v = dict();
      for (const auto& [k, e] : j.items()) v.as_dict().set(k, from_json(e));
      return v;
    }
    default: return Value();
  }
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone: return false;
    case Kind::kBool: return b_;
    case Kind::kInt: return i_ != 0;
    case Kind::kFloat: return d_ != 0;
    case Kind::kString: return !s_->empty();
    case Kind::kList: return !list_->empty();
    case Kind::kDict: return dict_->size() != 0;
    case Kind::kFunction: return true;
  }
  return false;
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  // Python: exponent form from 1e16 up and below 1e-4, else fixed with ".0"
  // for integral values; shortest digits that round-trip either way.
  char buf[64];
  const double mag = std::fabs(d);
  const bool exponent = mag >= 1e16 || (mag != 0 && mag < 1e-4);
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d,
                                 exponent ? std::chars_format::scientific : std::chars_format::fixed);
  std::string s(buf, end);
  if (!exponent) {
    if (s.find('.') == std::string::npos) s += ".0";
    return s;
  }
  // "1e+16", "1.5e-05": a sign and at least two exponent digits.
  const size_t e = s.find('e');
  std::string mant = s.substr(0, e);
  std::string exp = s.substr(e + 1);
  char sign = '+';
  if (!exp.empty() && (exp[0] == '-' || exp[0] == '+')) {
    sign = exp[0];
    exp = exp.substr(1);
  }
  if (exp.size() < 2) exp = "0" + exp;
  s = mant + "e" + sign + exp;
  return s;
}

namespace {

std::string quote_python(const std::string& s) {
  // Python prefers single quotes unless the string holds one and no double quote.
  const char q = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, q);
  for (char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c == q) {
          out += '\\';
          out += c;
        } else {
          out += c;
        }
    }
  }
  return out + q;
}

void append_json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else if (c >= 0x80 && ensure_ascii) {
          // Decode one UTF-8 sequence; write \uXXXX (surrogate pairs above the BMP).
          uint32_t cp = 0;
          int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
          cp = c & (0x3F >> extra);
          for (int k = 0; k < extra && i + 1 < s.size(); ++k) cp = (cp << 6) | (s[++i] & 0x3F);
          char buf[16];
          if (cp >= 0x10000) {
            cp -= 0x10000;
            std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
          } else {
            std::snprintf(buf, sizeof(buf), "\\u%04x", cp);
          }
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void append_json(std::string& out, const Value& v, const JsonStyle& style, int depth) {
  auto newline = [&](int d) {
    if (style.indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(style.indent * d), ' ');
  };
  const std::string item_sep = style.indent >= 0 ? std::string(",") : style.item_separator;
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
    case Value::Kind::kFunction: out += "null"; break;
    case Value::Kind::kBool: out += v.as_bool() ? "true" : "false"; break;
    case Value::Kind::kInt: out += std::to_string(v.as_int()); break;
    case Value::Kind::kFloat: {
      const double d = v.as_number();
      out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity") : float_repr(d);
      break;
    }
    case Value::Kind::kString: append_json_string(out, v.as_string(), style.ensure_ascii); break;
    case Value::Kind::kList: {
      const auto& items = v.as_list();
      if (items.empty()) {
        out += "[]";
        break;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        append_json(out, items[i], style, depth + 1);
      }
      newline(depth);
      out += ']';
      break;
    }
    case Value::Kind::kDict: {
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.as_dict().items()) items.push_back(&kv);
      if (style.sort_keys) {
        std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      }
      if (items.empty()) {
        out += "{}";
        break;
      }
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        append_json_string(out, items[i]->first, style.ensure_ascii);
        out += style.key_separator;
        append_json(out, items[i]->second, style, depth + 1);
      }
      newline(depth);
      out += '}';
      break;
    }
  }
}

}  // namespace

std::string to_json_text(const Value& value, const JsonStyle& style) {
  std::string out;
  append_json(out, value, style, 0);
  return out;
}

std::string Value::repr() const {
  switch (kind_) {
    case Kind::kString: return quote_python(*s_);
    case Kind::kList: {
      std::string out = "[";
      for (size_t i = 0; i < list_->size(); ++i) out += (i ? ", " : "") + (*list_)[i].repr();
      return out + "]";
    }
    case Kind::kDict: {
      std::string out = "{";
      for (size_t i = 0; i < dict_->size(); ++i) {
        out += (i ? ", " : "") + dict_->key_at(i).repr() + ": " + dict_->items()[i].second.repr();
      }
      return out + "}";
    }
    default: return to_output();
  }
}

std::string Value::to_output() const {
  switch (kind_) {
    case Kind::kUndefined: return "";
    case Kind::kNone: return "None";
    case Kind::kBool: return b_ ? "True" : "False";
    case Kind::kInt: return std::to_string(i_);
    case Kind::kFloat: return float_repr(d_);
    case Kind::kString: return *s_;
    case Kind::kFunction: return "<function " + *s_ + ">";
    case Kind::kList:
    case Kind::kDict: return repr();
  }
  return "";
}

bool Value::equals(const Value& other) const {
  if (is_number() && other.is_number()) {
    if (is_int() && other.is_int()) return i_ == other.i_;
    return as_number() == other.as_number();
  }
  if (is_bool() && other.is_number()) return static_cast<double>(b_) == other.as_number();
  if (is_number() && other.is_bool()) return as_number() == static_cast<double>(other.b_);
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone: return true;
    case Kind::kBool: return b_ == other.b_;
    case Kind::kString: return *s_ == *other.s_;
    case Kind::kList: {
      if (list_->size() != other.list_->size()) return false;
      for (size_t i = 0; i < list_->size(); ++i) {
        if (!(*list_)[i].equals((*other.list_)[i])) return false;
      }
      return true;
    }
    case Kind::kDict: {
      if (dict_->size() != other.dict_->size()) return false;
      for (const auto& [k, v] : dict_->items()) {
        const Value* o = other.dict_->find(k);
        if (!o || !v.equals(*o)) return false;
      }
      return true;
    }
    case Kind::kFunction: return fn_ == other.fn_;
    default: return false;
  }
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::kUndefined: return "undefined";
    case Kind::kNone: return "none";
    case Kind::kBool: return "boolean";
    case Kind::kInt: return "integer";
    case Kind::kFloat: return "float";
    case Kind::kString: return "string";
    case Kind::kList: return "list";
    case Kind::kDict: return is_namespace() ? "namespace" : "dict";
    case Kind::kFunction: return "function";
  }
  return "?";
}

nlohmann::ordered_json Value::to_json() const {
  switch (kind_) {
    case Kind::kBool: return b_;
    case Kind::kInt: return i_;
    case Kind::kFloat: return d_;
    case Kind::kString: return *s_;
    case Kind::kList: {
      auto j = nlohmann::ordered_json::array();
      for (const auto& e : *list_) j.push_back(e.to_json());
      return j;
    }
    case Kind::kDict: {
      auto j = nlohmann::ordered_json::object();
      for (const auto& [k, v] : dict_->items()) j[k] = v.to_json();
      return j;
    }
    default: return nullptr;
  }
}

}  // namespace llmos::jinja
