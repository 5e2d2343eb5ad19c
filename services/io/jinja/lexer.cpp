#include "lexer.hpp"

#include <cctype>

namespace llmos::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string at_line(int line) { return " (template line " + std::to_string(line) + ")"; }

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {
    if (!src_.empty() && src_.back() == '\n') {  // keep_trailing_newline = false
      src_.remove_suffix(1);
      if (!src_.empty() && src_.back() == '\r') src_.remove_suffix(1);
    }
  }

  Result<std::vector<Token>> run() {
    size_t pos = 0;
    bool strip_next = false;    // the previous tag ended with '-'
    bool trim_newline = false;  // the previous tag was a block or comment (trim_blocks)
    while (pos <= src_.size()) {
      size_t start = find_open(pos);
      std::string text(src_.substr(pos, start == std::string_view::npos ? std::string_view::npos : start - pos));
      if (strip_next) {
        size_t k = 0;
        while (k < text.size() && is_space(text[k])) ++k;
        text.erase(0, k);
      } else if (trim_newline) {
        if (text.rfind("\r\n", 0) == 0) {
          text.erase(0, 2);
        } else if (!text.empty() && text[0] == '\n') {
          text.erase(0, 1);
        }
      }
      if (start == std::string_view::npos) {
        emit_text(std::move(text), pos);
        break;
      }
      const char type = src_[start + 1];  // '{', '%' or '#'
      const char mod = start + 2 < src_.size() ? src_[start + 2] : '\0';
      if (mod == '-') {
        while (!text.empty() && is_space(text.back())) text.pop_back();
      } else if (mod != '+' && type != '{') {
        // lstrip_blocks: spaces and tabs from the line's start to the tag go.
        size_t j = start;
        while (j > 0 && (src_[j - 1] == ' ' || src_[j - 1] == '\t')) --j;
        if (j == 0 || src_[j - 1] == '\n') {
          size_t n = start - j;
          size_t k = 0;
          while (k < n && !text.empty() && (text.back() == ' ' || text.back() == '\t')) {
            text.pop_back();
            ++k;
          }
        }
      }
      emit_text(std::move(text), pos);
      const int tag_line = line_of(start);
      size_t body = start + 2 + ((mod == '-' || mod == '+') ? 1 : 0);
      if (type == '#') {
        size_t end = src_.find("#}", body);
        if (end == std::string_view::npos) return invalid_argument("unterminated comment" + at_line(tag_line));
        strip_next = end > body && src_[end - 1] == '-';
        trim_newline = true;
        pos = end + 2;
        continue;
      }
      tokens_.push_back({type == '{' ? Token::Kind::kExprOpen : Token::Kind::kStmtOpen, "", tag_line});
      auto end = lex_tag(body, type == '{' ? '}' : '%', tag_line);
      if (!end.ok()) return end.status();
      pos = *end;
      trim_newline = type == '%';
      strip_next = close_dash_;
    }
    tokens_.push_back({Token::Kind::kEnd, "", line_of(src_.size())});
    return std::move(tokens_);
  }

 private:
  size_t find_open(size_t pos) const {
    while (true) {
      size_t p = src_.find('{', pos);
      if (p == std::string_view::npos || p + 1 >= src_.size()) return std::string_view::npos;
      const char c = src_[p + 1];
      if (c == '{' || c == '%' || c == '#') return p;
      pos = p + 1;
    }
  }

  int line_of(size_t offset) {
    // Lines are counted incrementally: offsets only grow.
    while (line_pos_ < offset && line_pos_ < src_.size()) {
      if (src_[line_pos_] == '\n') ++line_;
      ++line_pos_;
    }
    return line_;
  }

  void emit_text(std::string text, size_t pos) {
    if (!text.empty()) tokens_.push_back({Token::Kind::kText, std::move(text), line_of(pos)});
  }

  // Tokens of one tag from `pos` to its closing `close`}`; returns the offset past it.
  Result<size_t> lex_tag(size_t pos, char close, int tag_line) {
    int depth = 0;  // open brackets: `}}` inside `{...}` is not the end
    while (true) {
      while (pos < src_.size() && is_space(src_[pos])) ++pos;
      if (pos >= src_.size()) return invalid_argument("unterminated tag" + at_line(tag_line));
      const int line = line_of(pos);
      const std::string_view rest = src_.substr(pos);
      const std::string end2 = std::string(1, close) + "}";
      if (depth == 0 && (rest.substr(0, 2) == end2 || (rest[0] == '-' && rest.substr(1, 2) == end2))) {
        const size_t len = rest[0] == '-' ? 3 : 2;
        close_dash_ = rest[0] == '-';
        tokens_.push_back({close == '}' ? Token::Kind::kExprClose : Token::Kind::kStmtClose, "", line});
        return pos + len;
      }
      const char c = rest[0];
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t n = 1;
        while (n < rest.size() && (std::isalnum(static_cast<unsigned char>(rest[n])) || rest[n] == '_')) ++n;
        tokens_.push_back({Token::Kind::kName, std::string(rest.substr(0, n)), line});
        pos += n;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t n = 0;
        bool is_float = false;
        while (n < rest.size() && (std::isdigit(static_cast<unsigned char>(rest[n])) || rest[n] == '_')) ++n;
        if (n + 1 < rest.size() && rest[n] == '.' && std::isdigit(static_cast<unsigned char>(rest[n + 1]))) {
          is_float = true;
          ++n;
          while (n < rest.size() && std::isdigit(static_cast<unsigned char>(rest[n]))) ++n;
        }
        if (n < rest.size() && (rest[n] == 'e' || rest[n] == 'E')) {
          size_t m = n + 1;
          if (m < rest.size() && (rest[m] == '+' || rest[m] == '-')) ++m;
          if (m < rest.size() && std::isdigit(static_cast<unsigned char>(rest[m]))) {
            is_float = true;
            n = m;
            while (n < rest.size() && std::isdigit(static_cast<unsigned char>(rest[n]))) ++n;
          }
        }
        std::string digits;
        for (char d : rest.substr(0, n)) {
          if (d != '_') digits += d;
        }
        tokens_.push_back({is_float ? Token::Kind::kFloat : Token::Kind::kInt, digits, line});
        pos += n;
      } else if (c == '\'' || c == '"') {
        auto s = lex_string(pos, line);
        if (!s.ok()) return s.status();
        pos = *s;
      } else {
        static const char* const kOps2[] = {"**", "//", "==", "!=", "<=", ">="};
        std::string op(1, c);
        for (const char* two : kOps2) {
          if (rest.substr(0, 2) == two) op = two;
        }
        if (op.size() == 1 && std::string_view("+-*/%~<>=()[]{}.,:|!").find(c) == std::string_view::npos) {
          return invalid_argument(std::string("unexpected character '") + c + "' in tag" + at_line(line));
        }
        if (op == "{" || op == "[" || op == "(") ++depth;
        if ((op == "}" || op == "]" || op == ")") && depth > 0) --depth;
        tokens_.push_back({Token::Kind::kOp, op, line});
        pos += op.size();
      }
    }
  }

  Result<size_t> lex_string(size_t pos, int line) {
    const char quote = src_[pos++];
    std::string value;
    while (pos < src_.size() && src_[pos] != quote) {
      char c = src_[pos++];
      if (c == '\\' && pos < src_.size()) {
        const char e = src_[pos++];
        switch (e) {
          case 'n': value += '\n'; break;
          case 't': value += '\t'; break;
          case 'r': value += '\r'; break;
          case 'b': value += '\b'; break;
          case 'f': value += '\f'; break;
          case '0': value += '\0'; break;
          case '\\': value += '\\'; break;
          case '\'': value += '\''; break;
          case '"': value += '"'; break;
          case '\n': break;
          case 'u':
          case 'x': {
            const size_t digits = e == 'u' ? 4 : 2;
            uint32_t cp = 0;
            for (size_t k = 0; k < digits; ++k) {
              const char h = pos + k < src_.size() ? src_[pos + k] : '\0';
              if (!std::isxdigit(static_cast<unsigned char>(h))) {
                return invalid_argument(std::string("bad \\") + e + " escape in string" + at_line(line));
              }
              cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0'
                                                                                                : (h | 0x20) - 'a' + 10);
            }
            pos += digits;
            append_utf8(value, cp);
            break;
          }
          default:
            value += '\\';
            value += e;
        }
      } else {
        value += c;
      }
    }
    if (pos >= src_.size()) return invalid_argument("unterminated string" + at_line(line));
    tokens_.push_back({Token::Kind::kString, std::move(value), line});
    return pos + 1;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string_view src_;
  std::vector<Token> tokens_;
  size_t line_pos_ = 0;
  int line_ = 1;
  bool close_dash_ = false;  // the last tag closed with `-%}` or `-}}`
};

}  // namespace

Result<std::vector<Token>> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace llmos::jinja
