// Value: what a Jinja expression evaluates to (undefined, none, bool, int,
// float, string, list, dict, callable). Lists, dicts and callables are shared
// by reference as in Python (`x.append(...)` changes every holder); the rest are
// copies. A string may carry the byte ranges of it that came from a request's
// message content (user text), so the renderer can report them. Not
// thread-safe: one render owns its values.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace llmos::jinja {

class Value;
class Renderer;

// Arguments of a call: positional, then keyword (in call order).
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  // The keyword `name`, else positional `index`, else nullptr.
  const Value* get(const std::string& name, size_t index) const;
};

using Function = std::function<Value(Renderer&, CallArgs&)>;

// A byte range [begin, end) of a string.
struct TextSpan {
  size_t begin = 0;
  size_t end = 0;
};

// Rendered text with the ranges of it that are user text (sorted, disjoint).
struct Text {
  std::string str;
  std::vector<TextSpan> user;
  Text& operator+=(const std::string& s) {
    str += s;
    return *this;
  }
  // What `{{ v }}` prints, with v's user ranges moved to where they land.
  void append(const Value& v);
};

// A dict keeps its keys in insertion order (as Python does). Keys are found by
// their string form; a key that was not a string (`{1024: 256}`) keeps its value.
class Dict {
 public:
  // The key of entry `i` as written: a string, or the number it was.
  Value key_at(size_t i) const;
  void set_key(const Value& key, Value value);
  Value* find(const std::string& key);
  const Value* find(const std::string& key) const;
  void set(const std::string& key, Value value);
  bool erase(const std::string& key);
  const std::vector<std::pair<std::string, Value>>& items() const { return items_; }
  size_t size() const { return items_.size(); }

 private:
  std::vector<std::pair<std::string, Value>> items_;
  std::vector<Value> non_string_keys_;  // [items_.size()] once any key is not a string
};

class Value {
 public:
  enum class Kind : uint8_t { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction };
  using List = std::vector<Value>;

  Value() = default;  // undefined
  static Value none();
  Value(bool b);                // NOLINT: implicit like a literal
  Value(int64_t i);             // NOLINT
  Value(int i) : Value(static_cast<int64_t>(i)) {}  // NOLINT
  Value(double d);              // NOLINT
  Value(std::string s);         // NOLINT
  Value(const char* s) : Value(std::string(s)) {}  // NOLINT
  explicit Value(Text t);       // a string with its user ranges
  static Value list(List items = {});
  static Value dict();
  static Value function(std::string name, Function fn);
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_function() const { return kind_ == Kind::kFunction; }
  // A namespace() object: a dict whose attributes may be assigned.
  bool is_namespace() const { return kind_ == Kind::kDict && namespace_; }
  void mark_namespace() { namespace_ = true; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return i_; }
  double as_number() const { return kind_ == Kind::kInt ? static_cast<double>(i_) : d_; }
  const std::string& as_string() const { return *s_; }
  List& as_list() const { return *list_; }
  Dict& as_dict() const { return *dict_; }
  const Function& as_function() const { return *fn_; }
  const std::string& function_name() const { return *s_; }
  // A string's user ranges (empty for other kinds and plain template text).
  const std::vector<TextSpan>& user_spans() const;
  // Marks the whole of a non-empty string as user text.
  void mark_user();
  // A non-empty string that is user text from end to end.
  bool all_user() const;

  // Python truthiness: undefined, none, false, 0, "" and empty containers are false.
  bool truthy() const;
  // What `{{ value }}` prints: strings as is, none as "None", True/False, lists and
  // dicts as Python's repr.
  std::string to_output() const;
  // Python's repr(): strings quoted.
  std::string repr() const;
  // Python's ==, numbers compared by value.
  bool equals(const Value& other) const;
  // The type's name, for error messages.
  std::string type_name() const;
  nlohmann::ordered_json to_json() const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool namespace_ = false;
  bool b_ = false;
  int64_t i_ = 0;
  double d_ = 0;
  std::shared_ptr<std::string> s_;
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Function> fn_;
  std::shared_ptr<const std::vector<TextSpan>> user_;  // strings only; null: none
};

// a ~ b: the texts joined, user ranges kept.
Value concat(const Value& a, const Value& b);

// Python's repr of a float: shortest round trip, "1.0" for integral values.
std::string float_repr(double d);

// json.dumps(value, ensure_ascii=False) with the given indent (< 0: one line) and
// separators, keys in insertion order unless sort_keys.
struct JsonStyle {
  int indent = -1;
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
std::string to_json_text(const Value& value, const JsonStyle& style);

}  // namespace llmos::jinja
