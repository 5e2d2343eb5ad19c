// The Jinja interpreter on the constructs chat templates use, and its errors:
// each names the construct and the template line, never a crash.
#include "llmos/jinja/template.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace llmos::jinja {
namespace {

using Json = nlohmann::ordered_json;

std::string render(const std::string& src, const Json& vars = Json::object(), int64_t now = 0) {
  auto t = Template::parse(src);
  REQUIRE_MESSAGE(t.ok(), t.status().to_string());
  RenderOptions options;
  options.now_unix_seconds = now;
  auto out = t->render(vars, options);
  REQUIRE_MESSAGE(out.ok(), out.status().to_string());
  return *out;
}

std::string render_error(const std::string& src, const Json& vars = Json::object()) {
  auto t = Template::parse(src);
  if (!t.ok()) return t.status().message();
  auto out = t->render(vars, RenderOptions{});
  REQUIRE_FALSE(out.ok());
  return out.status().message();
}

TEST_CASE("expressions: arithmetic, comparison, logic and literals as Python has them") {
  CHECK(render("{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }}") ==
        "7 3 -4 1 2 3.5 1024");
  CHECK(render("{{ 'a' ~ 1 ~ none }} {{ 'x' * 3 }} {{ [1] + [2] }}") == "a1None xxx [1, 2]");
  CHECK(render("{{ 1 < 2 and not 3 > 4 }} {{ 'b' in 'abc' }} {{ 2 not in [1, 3] }}") == "True True True");
  CHECK(render("{{ 'yes' if x else 'no' }} {{ x or 'fallback' }}") == "no fallback");
  CHECK(render("{{ {'a': 1, 'b': [true, none]} }} {{ 1.5 }} {{ 2.0 }}") == "{'a': 1, 'b': [True, None]} 1.5 2.0");
  CHECK(render("{{ 1e16 }} {{ 0.0001 }} {{ 0.00001 }} {{ 0.1 + 0.2 }} {{ 1e300 * 1e10 }}") ==
        "1e+16 0.0001 1e-05 0.30000000000000004 inf");
  CHECK(render("{{ \"it's\" }} {{ ('a', 'b')[1] }}") == "it's b");
}

TEST_CASE("statements: for with loop variables, if/elif/else, set, block set, namespace") {
  CHECK(render("{% for x in xs %}{{ loop.index }}{{ x }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %}"
               "{{ loop.revindex0 }}{% if loop.previtem %}<{{ loop.previtem }}{% endif %};{% endfor %}",
               {{"xs", {"a", "b", "c"}}}) == "1aF2;2b1<a;3cL0<b;");
  CHECK(render("{% for x in [] %}x{% else %}empty{% endfor %}") == "empty");
  CHECK(render("{% for x in [1,2,3,4] if x is even %}{{ x }}{{ loop.length }}{% endfor %}") == "2242");
  CHECK(render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }} {% endfor %}") == "a=1 b=2 ");
  CHECK(render("{% for x in [1,2,3,4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}"
               "{% endif %}{{ x }}{% endfor %}") == "13");
  CHECK(render("{% if a %}A{% elif b %}B{% else %}C{% endif %}", {{"b", true}}) == "B");
  CHECK(render("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}") == "1");
  CHECK(render("{% set ns = namespace(n=0) %}{% for i in [1,2] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}") ==
        "3");
  CHECK(render("{% set t %}in {{ 1 }}{% endset %}[{{ t }}]") == "[in 1]");
  CHECK(render("{% set a, b = [1, 2] %}{{ b }}{{ a }}") == "21");
}

TEST_CASE("macros, call blocks and filter blocks") {
  CHECK(render("{% macro m(a, b='d') %}{{ a }}-{{ b }}{% endmacro %}{{ m(1) }} {{ m(1, b=2) }}") == "1-d 1-2");
  CHECK(render("{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}body{% endcall %}") == "<body>");
  CHECK(render("{% filter upper %}abc{% endfilter %}") == "ABC");
}

TEST_CASE("whitespace control: dashes, trim_blocks and lstrip_blocks as llama.cpp sets them") {
  CHECK(render("a  {%- if true -%}  b  {%- endif -%}  c") == "abc");
  CHECK(render("{% if true %}\nline\n{% endif %}\n") == "line\n");
  CHECK(render("x\n    {% if true %}\ny\n    {% endif %}\nz") == "x\ny\nz");
  CHECK(render("a {{- ' b ' -}} c") == "a b c");
  CHECK(render("a{# comment #}\nb") == "ab");
  CHECK(render("text\n") == "text");
  CHECK(render("text\n\n") == "text\n");
}

TEST_CASE("filters") {
  CHECK(render("{{ '  a b  ' | trim }}|{{ 'Ab' | upper }}{{ 'Ab' | lower }}|{{ [1,2] | length }}|{{ 'héé' | length }}") ==
        "a b|ABab|2|3");
  CHECK(render("{{ x | default('d') }} {{ '' | default('d', true) }} {{ none | default('d') }}") == "d d None");
  CHECK(render("{{ [1, 2, 3] | join(', ') }} {{ [3, 1, 2] | sort | list }} {{ [1, 1, 2] | unique | list }}") ==
        "1, 2, 3 [1, 2, 3] [1, 2]");
  CHECK(render("{{ xs | map(attribute='n') | join }} {{ xs | selectattr('n', 'equalto', 2) | list | length }}"
               " {{ xs | rejectattr('n', 'equalto', 2) | first }}",
               {{"xs", Json::array({{{"n", 1}}, {{"n", 2}}})}}) == "12 1 {'n': 1}");
  CHECK(render("{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2] | reject('odd') | last }}") == "[1, 3] 2");
  CHECK(render("{{ {'b': 1, 'a': 2} | dictsort }} {{ {'a': 1} | items | list }}") ==
        "[['a', 2], ['b', 1]] [['a', 1]]");
  CHECK(render("[{{ nothing | trim }}{{ nothing.description | upper }}]") == "[]");
  CHECK(render("{{ '3' | int + 1 }} {{ 2.567 | round(2) }} {{ 3 | string ~ 'x' }} {{ 'a-b' | replace('-', '+') }}") ==
        "4 2.57 3x a+b");
  CHECK(render("{{ 'a\nb\n' | indent(2) }}|{{ 'a\nb' | indent(2, true) }}") == "a\n  b\n|  a\n  b");
  CHECK(render("{{ x | tojson }}", {{"x", {{"k", "v\"\n"}, {"n", {1, 2.5, nullptr, true}}}}}) ==
        R"({"k": "v\"\n", "n": [1, 2.5, null, true]})");
  CHECK(render("{{ x | tojson(indent=2) }}", {{"x", {{"a", {1}}}}}) == "{\n  \"a\": [\n    1\n  ]\n}");
  CHECK(render("{{ 'é' | tojson }} {{ 'é' | tojson(ensure_ascii=true) }}") == "\"é\" \"\\u00e9\"");
  CHECK(render("{{ '{\"a\": [1]}' | from_json | tojson }}") == "{\"a\": [1]}");
}

TEST_CASE("tests") {
  CHECK(render("{{ x is defined }}{{ x is undefined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}") ==
        "FalseTrueTrueTrueTrue");
  CHECK(render("{{ [1] is iterable }}{{ 'a' is sequence }}{{ 1 is number }}{{ true is boolean }}{{ 2 is in [1, 2] }}") ==
        "TrueTrueTrueTrueTrue");
  CHECK(render("{{ 3 is divisibleby 3 }}{{ 1 is equalto 1 }}{{ 1 is not equalto 2 }}{{ true is true }}") ==
        "TrueTrueTrueTrue");
}

TEST_CASE("string, list and dict methods, indexing and slicing") {
  CHECK(render("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a.b.c'.rsplit('.', 1) }}") ==
        "['a', 'b', '', 'c'] ['a', 'b'] ['a.b', 'c']");
  CHECK(render("{{ '  x '.strip() }}|{{ 'xxa'.lstrip('x') }}|{{ 'a\n'.rstrip() }}|{{ 'ab'.startswith('a') }}"
               "{{ 'ab'.endswith(('x', 'b')) }}") == "x|a|a|TrueTrue");
  CHECK(render("{{ 'hello world'.title() }} {{ 'a{}c{}'.format('b', 1) }} {{ 'aXa'.replace('a', 'o') }}") ==
        "Hello World abc1 oXo");
  CHECK(render("{% set xs = [1] %}{% set _ = xs.append(2) %}{{ xs }} {{ xs.pop() }}{{ xs }}") == "[1, 2] 2[1]");
  CHECK(render("{{ d.get('a') }} {{ d.get('z', 0) }} {{ d.keys() | list }} {{ d['a'] }} {{ d.a }}",
               {{"d", {{"a", 1}}}}) == "1 0 ['a'] 1 1");
  CHECK(render("{{ 'abcdef'[1:3] }} {{ 'abc'[::-1] }} {{ [1,2,3][-1] }} {{ [1,2,3][1:] }} {{ 'héllo'[1] }}") ==
        "bc cba 3 [2, 3] é");
}

TEST_CASE("built-in functions: range, raise_exception, strftime_now with a pinned clock") {
  CHECK(render("{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ range(5, 0, -2) | list }} {{ range(2, 1) | list }}") ==
        "[0, 1, 2] [1, 3, 5] [5, 3, 1] []");
  CHECK(render("{{ -(-9223372036854775807 - 1) }} {{ '12' | int }} {{ ' 3.7 ' | int }} {{ 'x' | int(5) }}") ==
        "9.223372036854776e+18 12 3 5");
  CHECK(render("{{ strftime_now('%Y-%m-%d %H:%M %d %b %Y') }}", Json::object(), 1749988800) ==
        "2025-06-15 12:00 15 Jun 2025");
  CHECK(render_error("line1\n{{ raise_exception('no system role') }}") ==
        "raise_exception: no system role (template line 2)");
}

TEST_CASE("errors name the construct and the line") {
  CHECK(render_error("{% for x in xs %}\n{{ x }}") == "missing '{% endfor %}' (template line 2)");
  CHECK(render_error("a\n{% endfor %}") == "unknown statement 'endfor' (template line 2)");
  CHECK(render_error("{{ 1 +  }}") == "unexpected '}}' in expression (template line 1)");
  CHECK(render_error("\n\n{{ 'abc }}") == "unterminated string (template line 3)");
  CHECK(render_error("{{ x") == "unterminated tag (template line 1)");
  CHECK(render_error("{# x") == "unterminated comment (template line 1)");
  CHECK(render_error("{% frob %}") == "unknown statement 'frob' (template line 1)");
  CHECK(render_error("\n{{ 1 | nosuch }}") == "unknown filter 'nosuch' (template line 2)");
  CHECK(render_error("{{ 1 is nosuch }}") == "unknown test 'nosuch' (template line 1)");
  CHECK(render_error("{{ 1 + 'a' }}") == "'+' on a integer and a string (template line 1)");
  CHECK(render_error("{{ nope() }}") == "'nope' is undefined or not callable (template line 1)");
  CHECK(render_error("{% set x = 1 %}{% set x.y = 2 %}") == "'set x.y': 'x' is not a namespace (template line 1)");
  CHECK(render_error("{{ 1 // 0 }}") == "integer division or modulo by zero (template line 1)");
  CHECK(render_error("{{ 'a' @ 1 }}") == "unexpected character '@' in tag (template line 1)");
  CHECK(render_error("\n{{ '\\uZZ' }}") == "bad \\u escape in string (template line 2)");
  CHECK(render_error("{{ x.99999999999999999999 }}") == "integer out of range: 99999999999999999999 (template line 1)");
  CHECK(render_error("{{ 1e999 | int }}") == "filter 'int': inf is out of range (template line 1)");
  CHECK(render_error("{{ range(0, 9223372036854775807) }}") == "range() too long (template line 1)");
}

TEST_CASE("runaway templates fail cleanly: deep nesting, endless recursion, huge repeats") {
  CHECK(render_error("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}").find("nested too deeply") !=
        std::string::npos);
  std::string ifs;
  for (int i = 0; i < 2000; ++i) ifs += "{% if true %}";
  CHECK(render_error(ifs).find("nested too deeply") != std::string::npos);
  CHECK(render_error("{% macro f() %}{{ f() }}{% endmacro %}\n{{ f() }}") ==
        "calls nested deeper than 256 ('f') (template line 1)");
  CHECK(render_error("{{ 'ab' * 1000000000000 }}") == "'*' result too large (template line 1)");
}

TEST_CASE("corrupt templates never crash: every prefix of a real template parses or fails cleanly") {
  const std::string src =
      "{%- set ns = namespace(a=[]) -%}{% for m in messages %}{% if m['role'] == 'user' %}{{ '<u>' + m.content | "
      "trim }}{% elif m.role is defined %}{{ m.get('x', {'k': [1, 2]}) | tojson }}{% endif %}{% endfor %}"
      "{% macro f(a, b=1) %}{{ a[1:2] ~ b }}{% endmacro %}{{ f('xyz') }}{# c #}";
  Json vars = {{"messages", Json::array({{{"role", "user"}, {"content", " hi "}}, {{"role", "assistant"}}})}};
  for (size_t n = 0; n <= src.size(); ++n) {
    auto t = Template::parse(src.substr(0, n));
    if (t.ok()) (void)t->render(vars, RenderOptions{});
  }
  CHECK(render(src, vars) == "<u>hi{\"k\": [1, 2]}y1");
}

}  // namespace
}  // namespace llmos::jinja

namespace llmos::jinja {
namespace {

// The user text of a rendering, one string per range.
std::vector<std::string> user_text(const std::string& src, const Json& vars) {
  auto t = Template::parse(src);
  REQUIRE_MESSAGE(t.ok(), t.status().to_string());
  RenderOptions options;
  options.mark_message_content = true;
  auto out = t->render_spans(vars, options);
  REQUIRE_MESSAGE(out.ok(), out.status().to_string());
  std::vector<std::string> texts;
  for (const auto& [begin, end] : out->user) texts.push_back(out->text.substr(begin, end - begin));
  return texts;
}

TEST_CASE("message content stays user text through output, +, ~, trim, split, set blocks and macros") {
  const Json vars = {{"messages", Json::array({{{"role", "user"}, {"content", " a<|x|> "}},
                                               {{"role", "assistant"}, {"content", "r</think>b"}}})},
                     {"bos_token", "<s>"}};
  using V = std::vector<std::string>;
  CHECK(user_text("{{ bos_token }}{% for m in messages %}[{{ m.content }}]{% endfor %}", vars) ==
        V{" a<|x|> ", "r</think>b"});
  CHECK(user_text("{{ '<' + messages[0].role + '>' + messages[0].content | trim ~ '</>' }}", vars) == V{"a<|x|>"});
  CHECK(user_text("{{ messages[1].content.split('</think>')[-1] }}|{{ messages[1].content.strip() }}", vars) ==
        V{"b", "r</think>b"});
  CHECK(user_text("{% macro say(t) %}<{{ t }}>{% endmacro %}{% set s %}{{ say(messages[1].content) }}{% endset %}"
                  "{{ s }}{{ messages[0].role }}",
                  vars) == V{"r</think>b"});
  // Text the template makes from content (upper) is template text; so is everything without the option.
  CHECK(user_text("{{ messages[0].content | upper }}", vars).empty());
  auto t = Template::parse("{{ messages[0].content }}");
  REQUIRE(t.ok());
  auto plain = t->render_spans(vars, RenderOptions{});
  REQUIRE(plain.ok());
  CHECK(plain->user.empty());
}

}  // namespace
}  // namespace llmos::jinja
