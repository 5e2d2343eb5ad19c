#include "parser.hpp"

#include <charconv>
#include <cstdlib>
#include <set>

namespace llmos::jinja {
namespace {

struct ParseError {
  std::string message;
  int line;
};

using K = Token::Kind;

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : t_(tokens) {}

  Body parse_all() {
    Body body = parse_body({});
    if (peek().kind != K::kEnd) fail("unexpected tag");
    return body;
  }

 private:
  // ---- statements ----------------------------------------------------------
  // Parses nodes until a `{% name %}` with name in `stops` (left unconsumed, at
  // the kStmtOpen) or the end.
  Body parse_body(const std::set<std::string>& stops) {
    Body body;
    while (true) {
      const Token& tok = peek();
      if (tok.kind == K::kEnd) {
        for (const std::string& stop : stops) {
          if (stop.rfind("end", 0) == 0) fail("missing '{% " + stop + " %}'");
        }
        return body;
      }
      if (tok.kind == K::kText) {
        Node n{Node::Kind::kText};
        n.line = tok.line;
        n.text = tok.text;
        body.push_back(std::move(n));
        ++i_;
      } else if (tok.kind == K::kExprOpen) {
        ++i_;
        Node n{Node::Kind::kOutput};
        n.line = tok.line;
        n.expr = parse_expr();
        expect(K::kExprClose, "'}}'");
        body.push_back(std::move(n));
      } else if (tok.kind == K::kStmtOpen) {
        const Token& kw = t_[i_ + 1];
        if (kw.kind != K::kName) fail("expected a statement name after '{%'", kw.line);
        if (stops.count(kw.text)) return body;
        i_ += 2;
        body.push_back(parse_statement(kw));
      } else {
        fail("unexpected token '" + tok.text + "'");
      }
    }
  }

  Node parse_statement(const Token& kw) {
    Nesting guard(this);
    const std::string& name = kw.text;
    Node n{Node::Kind::kText};
    n.line = kw.line;
    if (name == "if") {
      n.kind = Node::Kind::kIf;
      ExprPtr cond = parse_expr();
      close_stmt();
      Body b = parse_body({"elif", "else", "endif"});
      n.branches.emplace_back(std::move(cond), std::move(b));
      while (true) {
        const std::string& k = t_[i_ + 1].text;
        i_ += 2;
        if (k == "elif") {
          ExprPtr c = parse_expr();
          close_stmt();
          Body eb = parse_body({"elif", "else", "endif"});
          n.branches.emplace_back(std::move(c), std::move(eb));
        } else if (k == "else") {
          close_stmt();
          n.else_body = parse_body({"endif"});
        } else {
          close_stmt();
          break;
        }
      }
    } else if (name == "for") {
      n.kind = Node::Kind::kFor;
      do {
        n.targets.push_back(expect_name());
      } while (accept_op(","));
      if (!accept_name("in")) fail("expected 'in' in 'for'");
      n.expr = parse_ternary(/*allow_if=*/false);
      if (accept_name("if")) n.cond = parse_or();
      accept_name("recursive");
      close_stmt();
      n.body = parse_body({"else", "endfor"});
      if (t_[i_ + 1].text == "else") {
        i_ += 2;
        close_stmt();
        n.else_body = parse_body({"endfor"});
      }
      i_ += 2;
      close_stmt();
    } else if (name == "set") {
      std::string first = expect_name();
      if (accept_op(".")) {
        n.kind = Node::Kind::kSet;
        n.targets.push_back(first);
        n.attr = expect_name();
        expect_op("=");
        n.expr = parse_expr();
        close_stmt();
      } else if (peek_is(K::kStmtClose)) {
        n.kind = Node::Kind::kSetBlock;
        n.targets.push_back(first);
        close_stmt();
        n.body = parse_body({"endset"});
        i_ += 2;
        close_stmt();
      } else {
        n.kind = Node::Kind::kSet;
        n.targets.push_back(first);
        while (accept_op(",")) n.targets.push_back(expect_name());
        expect_op("=");
        n.expr = parse_expr();
        close_stmt();
      }
    } else if (name == "macro") {
      n.kind = Node::Kind::kMacro;
      n.text = expect_name();
      parse_params(n);
      close_stmt();
      n.body = parse_body({"endmacro"});
      i_ += 2;
      close_stmt();
    } else if (name == "call") {
      n.kind = Node::Kind::kCallBlock;
      if (peek_is(K::kOp) && peek().text == "(") parse_params(n);
      n.expr = parse_expr();
      close_stmt();
      n.body = parse_body({"endcall"});
      i_ += 2;
      close_stmt();
    } else if (name == "filter") {
      n.kind = Node::Kind::kFilterBlock;
      auto placeholder = std::make_unique<Expr>();
      placeholder->kind = Expr::Kind::kName;
      placeholder->line = n.line;
      n.expr = parse_filter_chain(std::move(placeholder), /*first_has_bar=*/false);
      close_stmt();
      n.body = parse_body({"endfilter"});
      i_ += 2;
      close_stmt();
    } else if (name == "generation") {
      n.kind = Node::Kind::kScope;
      close_stmt();
      n.body = parse_body({"endgeneration"});
      i_ += 2;
      close_stmt();
    } else if (name == "break" || name == "continue") {
      n.kind = name == "break" ? Node::Kind::kBreak : Node::Kind::kContinue;
      close_stmt();
    } else {
      fail("unknown statement '" + name + "'", kw.line);
    }
    return n;
  }

  void parse_params(Node& n) {
    expect_op("(");
    if (!accept_op(")")) {
      do {
        std::string p = expect_name();
        ExprPtr def;
        if (accept_op("=")) def = parse_expr();
        n.params.emplace_back(std::move(p), std::move(def));
      } while (accept_op(","));
      expect_op(")");
    }
  }

  // ---- expressions ---------------------------------------------------------
  ExprPtr parse_expr() { return parse_ternary(true); }

  ExprPtr parse_ternary(bool allow_if) {
    ExprPtr e = parse_or();
    while (allow_if && peek_name("if")) {
      const int line = peek().line;
      ++i_;
      auto t = make(Expr::Kind::kTernary, line);
      t->children.push_back(parse_or());
      t->children.push_back(std::move(e));
      t->children.push_back(accept_name("else") ? parse_ternary(true) : nullptr);
      e = std::move(t);
    }
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (peek_name("or")) {
      auto n = make(Expr::Kind::kOr, t_[i_++].line);
      n->children.push_back(std::move(e));
      n->children.push_back(parse_and());
      e = std::move(n);
    }
    return e;
  }

  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (peek_name("and")) {
      auto n = make(Expr::Kind::kAnd, t_[i_++].line);
      n->children.push_back(std::move(e));
      n->children.push_back(parse_not());
      e = std::move(n);
    }
    return e;
  }

  ExprPtr parse_not() {
    if (peek_name("not")) {
      auto n = make(Expr::Kind::kUnary, t_[i_++].line);
      n->name = "not";
      n->children.push_back(parse_not());
      return n;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    ExprPtr e = parse_add();
    while (true) {
      const Token& tok = peek();
      std::string op;
      bool negated = false;
      if (tok.kind == K::kOp && (tok.text == "==" || tok.text == "!=" || tok.text == "<" || tok.text == ">" ||
                                 tok.text == "<=" || tok.text == ">=")) {
        op = tok.text;
        ++i_;
      } else if (peek_name("in")) {
        op = "in";
        ++i_;
      } else if (peek_name("not") && t_[i_ + 1].kind == K::kName && t_[i_ + 1].text == "in") {
        op = "in";
        negated = true;
        i_ += 2;
      } else {
        return e;
      }
      auto n = make(Expr::Kind::kBinary, tok.line);
      n->name = op;
      n->negated = negated;
      n->children.push_back(std::move(e));
      n->children.push_back(parse_add());
      e = std::move(n);
    }
  }

  ExprPtr parse_add() {
    ExprPtr e = parse_concat();
    while (peek_op("+") || peek_op("-")) {
      auto n = make(Expr::Kind::kBinary, peek().line);
      n->name = t_[i_++].text;
      n->children.push_back(std::move(e));
      n->children.push_back(parse_concat());
      e = std::move(n);
    }
    return e;
  }

  ExprPtr parse_concat() {
    ExprPtr e = parse_mul();
    while (peek_op("~")) {
      auto n = make(Expr::Kind::kBinary, t_[i_++].line);
      n->name = "~";
      n->children.push_back(std::move(e));
      n->children.push_back(parse_mul());
      e = std::move(n);
    }
    return e;
  }

  ExprPtr parse_mul() {
    ExprPtr e = parse_pow();
    while (peek_op("*") || peek_op("/") || peek_op("//") || peek_op("%")) {
      auto n = make(Expr::Kind::kBinary, peek().line);
      n->name = t_[i_++].text;
      n->children.push_back(std::move(e));
      n->children.push_back(parse_pow());
      e = std::move(n);
    }
    return e;
  }

  ExprPtr parse_pow() {
    ExprPtr e = parse_unary();
    while (peek_op("**")) {
      auto n = make(Expr::Kind::kBinary, t_[i_++].line);
      n->name = "**";
      n->children.push_back(std::move(e));
      n->children.push_back(parse_unary());
      e = std::move(n);
    }
    return e;
  }

  ExprPtr parse_unary() {
    Nesting guard(this);
    if (peek_op("-") || peek_op("+")) {
      auto n = make(Expr::Kind::kUnary, peek().line);
      n->name = t_[i_++].text;
      n->children.push_back(parse_unary());
      return n;
    }
    return parse_filter_chain(parse_postfix(parse_primary()), true);
  }

  // `| name(args)` and `is [not] name(args)` after an operand.
  ExprPtr parse_filter_chain(ExprPtr e, bool first_has_bar) {
    bool first = true;
    while (true) {
      if ((first && !first_has_bar) || peek_op("|")) {
        if (!(first && !first_has_bar)) ++i_;
        first = false;
        auto n = make(Expr::Kind::kFilter, peek().line);
        n->name = expect_name();
        n->children.push_back(std::move(e));
        if (peek_op("(")) parse_call_args(*n);
        e = std::move(n);
      } else if (peek_name("is")) {
        first = false;
        auto n = make(Expr::Kind::kTest, t_[i_++].line);
        n->negated = accept_name("not");
        n->name = expect_name();
        n->children.push_back(std::move(e));
        if (peek_op("(")) {
          parse_call_args(*n);
        } else if (starts_test_argument()) {
          n->children.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(n);
      } else {
        return e;
      }
    }
  }

  bool starts_test_argument() const {
    const Token& tok = peek();
    if (tok.kind == K::kString || tok.kind == K::kInt || tok.kind == K::kFloat) return true;
    if (tok.kind == K::kOp && (tok.text == "[" || tok.text == "{")) return true;
    static const std::set<std::string> kStop = {"and", "or", "else", "if", "not", "in", "is"};
    return tok.kind == K::kName && !kStop.count(tok.text);
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      if (peek_op(".")) {
        auto n = make(Expr::Kind::kGetAttr, t_[i_++].line);
        const Token& tok = peek();
        if (tok.kind == K::kInt) {  // x.0
          n->kind = Expr::Kind::kGetItem;
          auto idx = make(Expr::Kind::kLiteral, tok.line);
          int64_t v = 0;
          auto [p, ec] = std::from_chars(tok.text.data(), tok.text.data() + tok.text.size(), v);
          if (ec != std::errc()) fail("integer out of range: " + tok.text);
          idx->literal = Value(v);
          ++i_;
          n->children.push_back(std::move(e));
          n->children.push_back(std::move(idx));
        } else {
          n->name = expect_name();
          n->children.push_back(std::move(e));
        }
        e = std::move(n);
      } else if (peek_op("[")) {
        const int line = t_[i_++].line;
        ExprPtr parts[3];
        int colons = 0;
        for (;;) {
          if (peek_op("]")) break;
          if (peek_op(":")) {
            ++i_;
            if (++colons > 2) fail("too many ':' in slice");
            continue;
          }
          if (parts[colons]) fail("expected ':' or ']'");
          parts[colons] = parse_expr();
        }
        ++i_;
        auto n = make(colons ? Expr::Kind::kSlice : Expr::Kind::kGetItem, line);
        n->children.push_back(std::move(e));
        if (colons) {
          for (auto& p : parts) n->children.push_back(std::move(p));
        } else {
          if (!parts[0]) fail("empty subscript");
          n->children.push_back(std::move(parts[0]));
        }
        e = std::move(n);
      } else if (peek_op("(")) {
        auto n = make(Expr::Kind::kCall, peek().line);
        n->children.push_back(std::move(e));
        parse_call_args(*n);
        e = std::move(n);
      } else {
        return e;
      }
    }
  }

  void parse_call_args(Expr& n) {
    expect_op("(");
    while (!accept_op(")")) {
      if (peek().kind == K::kName && t_[i_ + 1].kind == K::kOp && t_[i_ + 1].text == "=") {
        std::string key = t_[i_].text;
        i_ += 2;
        n.kwargs.emplace_back(std::move(key), parse_expr());
      } else {
        n.children.push_back(parse_expr());
      }
      if (!peek_op(")")) expect_op(",");
    }
  }

  ExprPtr parse_primary() {
    const Token& tok = peek();
    switch (tok.kind) {
      case K::kString: {
        auto n = make(Expr::Kind::kLiteral, tok.line);
        std::string s;
        while (peek().kind == K::kString) s += t_[i_++].text;  // "a" "b" concatenates
        n->literal = Value(std::move(s));
        return n;
      }
      case K::kInt: {
        auto n = make(Expr::Kind::kLiteral, tok.line);
        int64_t v = 0;
        auto [p, ec] = std::from_chars(tok.text.data(), tok.text.data() + tok.text.size(), v);
        if (ec != std::errc()) fail("integer literal out of range: " + tok.text);
        n->literal = Value(v);
        ++i_;
        return n;
      }
      case K::kFloat: {
        auto n = make(Expr::Kind::kLiteral, tok.line);
        n->literal = Value(std::strtod(tok.text.c_str(), nullptr));  // out of range: +-inf or 0, as Python
        ++i_;
        return n;
      }
      case K::kName: {
        auto n = make(Expr::Kind::kLiteral, tok.line);
        ++i_;
        if (tok.text == "true" || tok.text == "True") {
          n->literal = Value(true);
        } else if (tok.text == "false" || tok.text == "False") {
          n->literal = Value(false);
        } else if (tok.text == "none" || tok.text == "None") {
          n->literal = Value::none();
        } else {
          n->kind = Expr::Kind::kName;
          n->name = tok.text;
        }
        return n;
      }
      case K::kOp:
        if (tok.text == "(") {
          ++i_;
          if (accept_op(")")) return make(Expr::Kind::kTuple, tok.line);
          ExprPtr e = parse_expr();
          if (peek_op(",")) {
            auto n = make(Expr::Kind::kTuple, tok.line);
            n->children.push_back(std::move(e));
            while (accept_op(",")) {
              if (peek_op(")")) break;
              n->children.push_back(parse_expr());
            }
            e = std::move(n);
          }
          expect_op(")");
          return e;
        }
        if (tok.text == "[") {
          ++i_;
          auto n = make(Expr::Kind::kList, tok.line);
          while (!accept_op("]")) {
            n->children.push_back(parse_expr());
            if (!peek_op("]")) expect_op(",");
          }
          return n;
        }
        if (tok.text == "{") {
          ++i_;
          auto n = make(Expr::Kind::kDict, tok.line);
          while (!accept_op("}")) {
            n->children.push_back(parse_expr());
            expect_op(":");
            n->children.push_back(parse_expr());
            if (!peek_op("}")) expect_op(",");
          }
          return n;
        }
        break;
      default: break;
    }
    fail(std::string("unexpected ") + describe(tok) + " in expression");
  }

  // ---- helpers -------------------------------------------------------------
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case K::kExprClose: return "'}}'";
      case K::kStmtClose: return "'%}'";
      case K::kEnd: return "end of template";
      case K::kString: return "string";
      default: return "'" + t.text + "'";
    }
  }
  const Token& peek() const { return t_[i_]; }
  bool peek_is(K k) const { return t_[i_].kind == k; }
  bool peek_op(const char* op) const { return t_[i_].kind == K::kOp && t_[i_].text == op; }
  bool peek_name(const char* n) const { return t_[i_].kind == K::kName && t_[i_].text == n; }
  bool accept_op(const char* op) {
    if (!peek_op(op)) return false;
    ++i_;
    return true;
  }
  bool accept_name(const char* n) {
    if (!peek_name(n)) return false;
    ++i_;
    return true;
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) fail(std::string("expected '") + op + "', found " + describe(peek()));
  }
  void expect(K kind, const char* what) {
    if (!peek_is(kind)) fail(std::string("expected ") + what + ", found " + describe(peek()));
    ++i_;
  }
  std::string expect_name() {
    if (!peek_is(K::kName)) fail("expected a name, found " + describe(peek()));
    return t_[i_++].text;
  }
  void close_stmt() { expect(K::kStmtClose, "'%}'"); }
  ExprPtr make(Expr::Kind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }
  [[noreturn]] void fail(const std::string& msg, int line = -1) const {
    throw ParseError{msg, line < 0 ? t_[i_].line : line};
  }

  // Bounds the parser's recursion: a template nested deeper fails, not the stack.
  struct Nesting {
    explicit Nesting(Parser* p) : p(p) {
      if (++p->depth_ > kMaxNesting) p->fail("expressions or blocks nested too deeply");
    }
    ~Nesting() { --p->depth_; }
    Parser* p;
  };
  static constexpr int kMaxNesting = 200;

  const std::vector<Token>& t_;
  size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<Body> parse(const std::vector<Token>& tokens) {
  try {
    return Parser(tokens).parse_all();
  } catch (const ParseError& e) {
    return invalid_argument(e.message + " (template line " + std::to_string(e.line) + ")");
  }
}

}  // namespace llmos::jinja
