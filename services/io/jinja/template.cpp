#include "llmos/jinja/template.hpp"

#include <cstdlib>
#include <ctime>

#include "lexer.hpp"
#include "parser.hpp"
#include "renderer.hpp"

namespace llmos::jinja {

struct ParsedTemplate {
  Body body;
};

namespace {

Value range_fn(Renderer&, CallArgs& a) {
  int64_t start = 0, stop = 0, step = 1;
  for (const Value& v : a.positional) {
    if (!v.is_int()) fail("range() needs integers, not a " + v.type_name());
  }
  if (a.positional.size() == 1) {
    stop = a.positional[0].as_int();
  } else if (a.positional.size() >= 2) {
    start = a.positional[0].as_int();
    stop = a.positional[1].as_int();
    if (a.positional.size() >= 3) step = a.positional[2].as_int();
  } else {
    fail("range() needs an argument");
  }
  if (step == 0) fail("range() step cannot be zero");
  // The count first (in 128 bits: no overflow), then the items.
  const __int128 span = step > 0 ? static_cast<__int128>(stop) - start : static_cast<__int128>(start) - stop;
  const __int128 magnitude = step > 0 ? step : -static_cast<__int128>(step);
  const __int128 count = span <= 0 ? 0 : (span + magnitude - 1) / magnitude;
  if (count > 10'000'000) fail("range() too long");
  Value::List out;
  out.reserve(static_cast<size_t>(count));
  for (__int128 k = 0; k < count; ++k) out.emplace_back(static_cast<int64_t>(start + k * step));
  return Value::list(std::move(out));
}

Value namespace_fn(Renderer&, CallArgs& a) {
  Value ns = Value::dict();
  ns.mark_namespace();
  for (const Value& v : a.positional) {
    if (!v.is_dict()) fail("namespace() takes a dict or keyword arguments");
    for (const auto& [k, e] : v.as_dict().items()) ns.as_dict().set(k, e);
  }
  for (const auto& [k, v] : a.keyword) ns.as_dict().set(k, v);
  return ns;
}

Value dict_fn(Renderer&, CallArgs& a) {
  Value d = Value::dict();
  for (const auto& [k, v] : a.keyword) d.as_dict().set(k, v);
  return d;
}

Value raise_fn(Renderer&, CallArgs& a) {
  fail("raise_exception: " + (a.positional.empty() ? std::string() : a.positional[0].to_output()));
}

}  // namespace

Result<Template> Template::parse(std::string_view source) {
  auto tokens = tokenize(source);
  if (!tokens.ok()) return tokens.status();
  auto body = jinja::parse(*tokens);
  if (!body.ok()) return body.status();
  auto parsed = std::make_shared<ParsedTemplate>();
  parsed->body = std::move(body).value();
  return Template(std::move(parsed));
}

namespace {

// Marks the user text of `messages` (see RenderOptions::mark_message_content).
void mark_messages(Value& messages) {
  if (!messages.is_list()) return;
  for (Value& msg : messages.as_list()) {
    if (!msg.is_dict()) continue;
    for (const char* key : {"content", "reasoning_content"}) {
      Value* v = msg.as_dict().find(key);
      if (v == nullptr) continue;
      v->mark_user();
      if (!v->is_list()) continue;
      for (Value& part : v->as_list()) {
        if (Value* text = part.is_dict() ? part.as_dict().find("text") : nullptr) text->mark_user();
      }
    }
  }
}

}  // namespace

Result<std::string> Template::render(const nlohmann::ordered_json& variables, const RenderOptions& options) const {
  LLMOS_ASSIGN_OR_RETURN(RenderedText out, render_spans(variables, options));
  return std::move(out.text);
}

Result<RenderedText> Template::render_spans(const nlohmann::ordered_json& variables,
                                            const RenderOptions& options) const {
  if (!variables.is_object()) return invalid_argument("template variables must be a JSON object");
  auto globals = std::make_shared<Scope>();
  globals->set("range", Value::function("range", range_fn));
  globals->set("namespace", Value::function("namespace", namespace_fn));
  globals->set("dict", Value::function("dict", dict_fn));
  globals->set("raise_exception", Value::function("raise_exception", raise_fn));
  const int64_t now = options.now_unix_seconds;
  globals->set("strftime_now", Value::function("strftime_now", [now](Renderer&, CallArgs& a) {
                 if (a.positional.empty() || !a.positional[0].is_string()) fail("strftime_now() needs a format string");
                 const std::time_t t = static_cast<std::time_t>(now);
                 std::tm tm{};
                 gmtime_r(&t, &tm);
                 char buf[256];
                 const size_t n = std::strftime(buf, sizeof(buf), a.positional[0].as_string().c_str(), &tm);
                 return Value(std::string(buf, n));
               }));
  for (const auto& [k, v] : variables.items()) {
    Value value = Value::from_json(v);
    if (options.mark_message_content && k == "messages") mark_messages(value);
    globals->set(k, std::move(value));
  }
  auto scope = std::make_shared<Scope>();
  scope->parent = globals;
  Renderer renderer(scope);
  Text out;
  try {
    renderer.render(parsed_->body, out);
  } catch (const RenderError& e) {
    return invalid_argument(e.message + " (template line " + std::to_string(renderer.line()) + ")");
  }
  RenderedText result{std::move(out.str), {}};
  result.user.reserve(out.user.size());
  for (const TextSpan& span : out.user) result.user.emplace_back(span.begin, span.end);
  return result;
}

int64_t template_clock_now() {
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch && *epoch) {
    char* end = nullptr;
    const long long v = std::strtoll(epoch, &end, 10);
    if (end && *end == '\0') return v;
  }
  return static_cast<int64_t>(std::time(nullptr));
}

}  // namespace llmos::jinja
