// A Jinja chat template: parsed once from its source, rendered many times with
// the variables of a request (messages, tools, bos_token, ...). The Template owns
// its parsed tree; it is immutable after parse, so render() may run on several
// threads at once. Errors name the construct and the template line.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmos/common/status.hpp"

namespace llmos::jinja {

struct ParsedTemplate;

struct RenderOptions {
  // The instant `strftime_now(format)` formats, in seconds since the epoch (UTC).
  int64_t now_unix_seconds = 0;
  // Strings of messages[i] (content, reasoning_content, content[j].text) are
  // user text: the output reports where they land (RenderedText::user).
  bool mark_message_content = false;
};

// Rendered text and the byte ranges [begin, end) of it that are user text
// (sorted, disjoint): what the template copied from message content.
struct RenderedText {
  std::string text;
  std::vector<std::pair<size_t, size_t>> user;
};

class Template {
 public:
  // Tokenizes and parses `source` (whitespace control as llama.cpp sets it:
  // trim_blocks and lstrip_blocks on, one trailing newline dropped).
  static Result<Template> parse(std::string_view source);

  // Renders with the members of `variables` (a JSON object) as template variables,
  // plus the functions range, namespace, dict, raise_exception and strftime_now.
  Result<std::string> render(const nlohmann::ordered_json& variables, const RenderOptions& options) const;
  // The same, with the user ranges.
  Result<RenderedText> render_spans(const nlohmann::ordered_json& variables, const RenderOptions& options) const;

 private:
  explicit Template(std::shared_ptr<const ParsedTemplate> parsed) : parsed_(std::move(parsed)) {}
  std::shared_ptr<const ParsedTemplate> parsed_;
};

// The clock templates read: SOURCE_DATE_EPOCH when set (reproducible output),
// else the wall clock. Reads the environment; call it where requests arrive.
int64_t template_clock_now();

}  // namespace llmos::jinja
