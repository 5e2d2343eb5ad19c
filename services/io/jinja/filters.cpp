// Jinja filters: `value | name(args)`.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "renderer.hpp"
#include "string_ops.hpp"

namespace llmos::jinja {
namespace {

// The value of attribute `path` ("a.b" or "0") of `v`, as Jinja's attribute= arguments read it.
Value attribute_of(const Value& v, const std::string& path) {
  Value cur = v;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (cur.is_dict()) {
      const Value* f = cur.as_dict().find(part);
      cur = f ? *f : Value();
    } else if (cur.is_list() && !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) {
      size_t i = 0;
      auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), i);
      cur = ec == std::errc() && i < cur.as_list().size() ? cur.as_list()[i] : Value();
    } else {
      return Value();
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

std::string string_arg(const std::string& filter, const Value* v, const std::string& def) {
  if (!v || v->is_undefined() || v->is_none()) return def;
  if (!v->is_string()) fail("filter '" + filter + "' needs a string argument, not a " + v->type_name());
  return v->as_string();
}

Value::List sequence(const std::string& filter, const Value& v) {
  if (!(v.is_list() || v.is_dict() || v.is_string() || v.is_undefined() || v.is_none())) {
    fail("filter '" + filter + "' needs a sequence, not a " + v.type_name());
  }
  return iterate(v);
}

Value select_like(Renderer& r, const std::string& name, const Value& v, CallArgs& args) {
  const bool by_attr = name == "selectattr" || name == "rejectattr";
  const bool keep_if = name == "select" || name == "selectattr";
  size_t next = 0;
  std::string attr;
  if (by_attr) {
    if (args.positional.empty() || !args.positional[0].is_string()) fail("filter '" + name + "' needs an attribute name");
    attr = args.positional[0].as_string();
    next = 1;
  }
  std::string test;
  if (next < args.positional.size()) test = args.positional[next++].to_output();
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<long>(std::min(next, args.positional.size())),
                              args.positional.end());
  Value::List out;
  for (const Value& item : sequence(name, v)) {
    const Value subject = by_attr ? attribute_of(item, attr) : item;
    const bool pass = test.empty() ? subject.truthy() : r.apply_test(test, subject, test_args);
    if (pass == keep_if) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value sorted(const std::string& name, const Value& v, CallArgs& args) {
  Value::List items = sequence(name, v);
  const Value* rev = args.get("reverse", 0);
  const Value* cs = args.get("case_sensitive", 1);
  const Value* attr = args.get("attribute", 2);
  const bool case_sensitive = cs && cs->truthy();
  auto key = [&](const Value& item) {
    Value k = attr && attr->is_string() ? attribute_of(item, attr->as_string()) : item;
    if (!case_sensitive && k.is_string()) return Value(lower(k.as_string()));
    return k;
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) { return less_than(key(a), key(b)); });
  if (rev && rev->truthy()) std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

std::string indent(const std::string& s, const Value* width_v, bool first, bool blank) {
  std::string pad = width_v && width_v->is_string() ? width_v->as_string()
                                                    : std::string(width_v && width_v->is_int() ? width_v->as_int() : 4, ' ');
  std::vector<std::string> lines = split_lines(s + "\n");
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += '\n';
    if ((i > 0 || first) && (blank || !lines[i].empty())) out += pad;
    out += lines[i];
  }
  return out;
}

}  // namespace

Value run_filter(Renderer& r, const std::string& name, const Value& v, CallArgs& args) {
  // String filters read an undefined value as "" (as Jinja's do).
  static const std::string kEmpty;
  auto need_string = [&]() -> const std::string& {
    if (v.is_undefined()) return kEmpty;
    if (!v.is_string()) fail("filter '" + name + "' needs a string, not a " + v.type_name());
    return v.as_string();
  };
  if (name == "safe" || name == "forceescape_off") return v;
  if (name == "trim") return Value(strip(need_string(), string_arg(name, args.get("chars", 0), " \t\n\r\f\v"), true, true));
  if (name == "upper") return Value(upper(need_string()));
  if (name == "lower") return Value(lower(need_string()));
  if (name == "title") return Value(title(need_string()));
  if (name == "capitalize") {
    std::string s = lower(need_string());
    if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    return Value(s);
  }
  if (name == "length" || name == "count") return Value(length_of(v));
  if (name == "string") return v.is_string() ? v : Value(v.to_output());
  if (name == "tojson") {
    JsonStyle style;
    if (const Value* ind = args.get("indent", 0); ind && ind->is_int()) style.indent = static_cast<int>(ind->as_int());
    if (const Value* sep = args.get("separators", 1); sep && sep->is_list() && sep->as_list().size() == 2) {
      style.item_separator = sep->as_list()[0].to_output();
      style.key_separator = sep->as_list()[1].to_output();
    }
    if (const Value* a = args.get("ensure_ascii", 99)) style.ensure_ascii = a->truthy();
    if (const Value* s = args.get("sort_keys", 99)) style.sort_keys = s->truthy();
    return Value(to_json_text(v, style));
  }
  if (name == "from_json") {
    auto j = nlohmann::ordered_json::parse(need_string(), nullptr, false);
    if (j.is_discarded()) fail("filter 'from_json': not JSON");
    return Value::from_json(j);
  }
  if (name == "replace") {
    const std::string from = string_arg(name, args.get("old", 0), "");
    const std::string to = string_arg(name, args.get("new", 1), "");
    const Value* count = args.get("count", 2);
    return Value(replace(need_string(), from, to, count && count->is_int() ? count->as_int() : -1));
  }
  if (name == "join") {
    const std::string sep = string_arg(name, args.get("d", 0), "");
    const Value* attr = args.get("attribute", 1);
    std::string out;
    bool first = true;
    for (const Value& item : sequence(name, v)) {
      out += first ? "" : sep;
      out += (attr && attr->is_string() ? attribute_of(item, attr->as_string()) : item).to_output();
      first = false;
    }
    return Value(out);
  }
  if (name == "map") {
    Value::List out;
    const Value* attr = args.get("attribute", 99);
    if (attr) {
      const Value* def = args.get("default", 99);
      for (const Value& item : sequence(name, v)) {
        Value a = attribute_of(item, attr->to_output());
        out.push_back(a.is_undefined() && def ? *def : a);
      }
    } else {
      if (args.positional.empty()) fail("filter 'map' needs a filter name or attribute=");
      const std::string filter = args.positional[0].to_output();
      CallArgs rest;
      rest.positional.assign(args.positional.begin() + 1, args.positional.end());
      rest.keyword = args.keyword;
      for (const Value& item : sequence(name, v)) out.push_back(r.apply_filter(filter, item, rest));
    }
    return Value::list(std::move(out));
  }
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    return select_like(r, name, v, args);
  }
  if (name == "first" || name == "last") {
    Value::List items = sequence(name, v);
    if (items.empty()) return Value();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "default" || name == "d") {
    const Value* def = args.get("default_value", 0);
    const Value* boolean = args.get("boolean", 1);
    const bool use_default = (boolean && boolean->truthy()) ? !v.truthy() : v.is_undefined();
    return use_default ? (def ? *def : Value(std::string())) : v;
  }
  if (name == "items") {
    if (v.is_undefined() || v.is_none()) return Value::list();
    if (!v.is_dict()) fail("filter 'items' needs a dict, not a " + v.type_name());
    Value::List out;
    const Dict& d = v.as_dict();
    for (size_t i = 0; i < d.size(); ++i) out.push_back(Value::list({d.key_at(i), d.items()[i].second}));
    return Value::list(std::move(out));
  }
  if (name == "dictsort") {
    if (!v.is_dict()) fail("filter 'dictsort' needs a dict, not a " + v.type_name());
    Value::List out;
    const Dict& d = v.as_dict();
    for (size_t i = 0; i < d.size(); ++i) out.push_back(Value::list({d.key_at(i), d.items()[i].second}));
    const Value* cs = args.get("case_sensitive", 0);
    const Value* by = args.get("by", 1);
    const Value* rev = args.get("reverse", 2);
    const size_t idx = by && by->is_string() && by->as_string() == "value" ? 1 : 0;
    auto key = [&](const Value& kv) {
      Value k = kv.as_list()[idx];
      return (!(cs && cs->truthy()) && k.is_string()) ? Value(lower(k.as_string())) : k;
    };
    std::stable_sort(out.begin(), out.end(), [&](const Value& a, const Value& b) { return less_than(key(a), key(b)); });
    if (rev && rev->truthy()) std::reverse(out.begin(), out.end());
    return Value::list(std::move(out));
  }
  if (name == "list") return Value::list(sequence(name, v));
  if (name == "unique") {
    Value::List out;
    for (const Value& item : sequence(name, v)) {
      if (std::none_of(out.begin(), out.end(), [&](const Value& o) { return o.equals(item); })) out.push_back(item);
    }
    return Value::list(std::move(out));
  }
  if (name == "sort") return sorted(name, v, args);
  if (name == "reverse") {
    if (v.is_string()) {
      auto cps = code_points(v.as_string());
      std::string s;
      for (auto it = cps.rbegin(); it != cps.rend(); ++it) s += *it;
      return Value(s);
    }
    Value::List items = sequence(name, v);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (name == "min" || name == "max") {
    Value::List items = sequence(name, v);
    if (items.empty()) return Value();
    Value best = items[0];
    for (const Value& item : items) {
      if (name == "min" ? less_than(item, best) : less_than(best, item)) best = item;
    }
    return best;
  }
  if (name == "sum") {
    const Value* attr = args.get("attribute", 0);
    const Value* start = args.get("start", 1);
    Value total = start ? *start : Value(int64_t{0});
    for (const Value& item : sequence(name, v)) {
      Value x = attr && attr->is_string() ? attribute_of(item, attr->as_string()) : item;
      if (!x.is_number() || !total.is_number()) fail("filter 'sum' needs numbers");
      int64_t r = 0;
      total = total.is_int() && x.is_int() && !__builtin_add_overflow(total.as_int(), x.as_int(), &r)
                  ? Value(r)
                  : Value(total.as_number() + x.as_number());
    }
    return total;
  }
  if (name == "abs") {
    if (!v.is_number()) fail("filter 'abs' needs a number");
    if (v.is_int() && v.as_int() == INT64_MIN) return Value(std::fabs(v.as_number()));
    return v.is_int() ? Value(v.as_int() < 0 ? -v.as_int() : v.as_int()) : Value(std::fabs(v.as_number()));
  }
  if (name == "int") {
    const Value* def = args.get("default", 0);
    if (v.is_int()) return v;
    if (v.is_float()) {
      const double d = v.as_number();
      if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) fail("filter 'int': " + float_repr(d) + " is out of range");
      return Value(static_cast<int64_t>(d));
    }
    if (v.is_bool()) return Value(static_cast<int64_t>(v.as_bool()));
    if (v.is_string()) {
      {
        const std::string s = strip(v.as_string(), " \t\n\r", true, true);
        int64_t i = 0;
        if (auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i); ec == std::errc() && p == s.data() + s.size()) {
          return Value(i);
        }
        char* end = nullptr;
        const double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d) && std::fabs(d) < 9.2e18) {
          return Value(static_cast<int64_t>(d));
        }
      }
    }
    return def ? *def : Value(int64_t{0});
  }
  if (name == "float") {
    if (v.is_number()) return Value(v.as_number());
    if (v.is_string()) {
      const std::string& s = v.as_string();
      char* end = nullptr;
      const double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && end == s.c_str() + s.size()) return Value(d);
    }
    const Value* def = args.get("default", 0);
    return def ? *def : Value(0.0);
  }
  if (name == "round") {
    if (!v.is_number()) fail("filter 'round' needs a number");
    const Value* p = args.get("precision", 0);
    const Value* m = args.get("method", 1);
    const double scale = std::pow(10.0, p && p->is_int() ? static_cast<double>(p->as_int()) : 0.0);
    const std::string method = m && m->is_string() ? m->as_string() : "common";
    const double x = v.as_number() * scale;
    const double rounded = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::round(x);
    return Value(rounded / scale);
  }
  if (name == "indent") {
    const Value* first = args.get("first", 1);
    const Value* blank = args.get("blank", 2);
    return Value(indent(need_string(), args.get("width", 0), first && first->truthy(), blank && blank->truthy()));
  }
  if (name == "escape" || name == "e" || name == "forceescape") {
    std::string out;
    for (char c : v.to_output()) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&#34;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
      }
    }
    return Value(out);
  }
  if (name == "batch") {
    const Value* n = args.get("linecount", 0);
    if (!n || !n->is_int() || n->as_int() <= 0) fail("filter 'batch' needs a positive count");
    Value::List out, cur;
    for (const Value& item : sequence(name, v)) {
      cur.push_back(item);
      if (static_cast<int64_t>(cur.size()) == n->as_int()) out.push_back(Value::list(std::exchange(cur, {})));
    }
    if (!cur.empty()) out.push_back(Value::list(std::move(cur)));
    return Value::list(std::move(out));
  }
  fail("unknown filter '" + name + "'");
}

}  // namespace llmos::jinja
