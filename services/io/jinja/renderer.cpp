#include "renderer.hpp"

#include <cmath>

namespace llmos::jinja {

void fail(std::string message) { throw RenderError{std::move(message)}; }

Value* Scope::find(const std::string& name) {
  for (Scope* s = this; s; s = s->parent.get()) {
    for (auto& [k, v] : s->vars) {
      if (k == name) return &v;
    }
  }
  return nullptr;
}

void Scope::set(const std::string& name, Value value) {
  for (auto& [k, v] : vars) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  vars.emplace_back(name, std::move(value));
}

namespace {

// Runs `fn` with `scope` as the current scope, restoring the previous one after.
template <class Fn>
auto with_scope(std::shared_ptr<Scope>& current, std::shared_ptr<Scope> scope, Fn&& fn) {
  std::shared_ptr<Scope> saved = std::exchange(current, std::move(scope));
  struct Restore {
    std::shared_ptr<Scope>& current;
    std::shared_ptr<Scope> saved;
    ~Restore() { current = std::move(saved); }
  } restore{current, std::move(saved)};
  return fn();
}

std::shared_ptr<Scope> child_of(std::shared_ptr<Scope> parent) {
  auto s = std::make_shared<Scope>();
  s->parent = std::move(parent);
  return s;
}

// A filter's or method's result on user text stays user text where it is a
// piece of it (trim, strip, slices, split items); anything else is template text.
Value keep_user(const Value& operand, Value result) {
  if (!operand.all_user()) return result;
  const std::string& whole = operand.as_string();
  auto mark = [&](Value& v) {
    if (v.is_string() && !v.as_string().empty() && whole.find(v.as_string()) != std::string::npos) v.mark_user();
  };
  if (result.is_string()) {
    mark(result);
  } else if (result.is_list()) {
    for (Value& item : result.as_list()) mark(item);
  }
  return result;
}

}  // namespace

void Renderer::render(const Body& body, Text& out) {
  if (exec(body, out) != Flow::kNormal) fail("'break' or 'continue' outside a loop");
}

Renderer::Flow Renderer::exec(const Body& body, Text& out) {
  for (const Node& n : body) {
    const Flow f = exec_node(n, out);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Renderer::Flow Renderer::exec_node(const Node& n, Text& out) {
  line_ = n.line;
  switch (n.kind) {
    case Node::Kind::kText: out += n.text; return Flow::kNormal;
    case Node::Kind::kOutput: out.append(eval(*n.expr)); return Flow::kNormal;
    case Node::Kind::kIf:
      for (const auto& [cond, body] : n.branches) {
        if (eval(*cond).truthy()) return exec(body, out);
        line_ = n.line;
      }
      return exec(n.else_body, out);
    case Node::Kind::kFor: return exec_for(n, out);
    case Node::Kind::kSet: exec_set(n); return Flow::kNormal;
    case Node::Kind::kSetBlock: {
      Text text;
      render(n.body, text);
      scope_->set(n.targets[0], Value(std::move(text)));
      return Flow::kNormal;
    }
    case Node::Kind::kMacro: scope_->set(n.text, make_macro(n)); return Flow::kNormal;
    case Node::Kind::kCallBlock: {
      // The call expression gets `caller=` (the block) as one more keyword argument.
      const Expr& call = *n.expr;
      if (call.kind != Expr::Kind::kCall) fail("'call' block needs a macro call");
      Value fn = eval(*call.children[0]);
      CallArgs args = eval_args(call, 1);
      args.keyword.emplace_back("caller", make_caller(n));
      out.append(this->call(fn, args));
      return Flow::kNormal;
    }
    case Node::Kind::kFilterBlock: {
      Text text;
      render(n.body, text);
      // Apply the chain innermost first: the placeholder operand is the block's text.
      std::vector<const Expr*> chain;
      for (const Expr* e = n.expr.get(); e->kind == Expr::Kind::kFilter; e = e->children[0].get()) chain.push_back(e);
      Value v(std::move(text));
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        CallArgs args = eval_args(**it, 1);
        v = apply_filter((*it)->name, v, args);
      }
      out.append(v);
      return Flow::kNormal;
    }
    case Node::Kind::kBreak: return Flow::kBreak;
    case Node::Kind::kContinue: return Flow::kContinue;
    case Node::Kind::kScope: return exec(n.body, out);
  }
  return Flow::kNormal;
}

Renderer::Flow Renderer::exec_for(const Node& n, Text& out) {
  const Value iterable = eval(*n.expr);
  Value::List items = iterate(iterable);
  auto loop_scope = child_of(scope_);
  auto bind = [&](Scope& s, const Value& item) {
    if (n.targets.size() == 1) {
      s.set(n.targets[0], item);
      return;
    }
    Value::List parts = iterate(item);
    if (parts.size() != n.targets.size()) {
      fail("'for' cannot unpack " + std::to_string(parts.size()) + " values into " +
           std::to_string(n.targets.size()) + " names");
    }
    for (size_t i = 0; i < parts.size(); ++i) s.set(n.targets[i], parts[i]);
  };
  if (n.cond) {  // `for x in xs if cond`: filtered before loop.length is known
    Value::List kept;
    with_scope(scope_, loop_scope, [&] {
      for (const Value& item : items) {
        bind(*scope_, item);
        if (eval(*n.cond).truthy()) kept.push_back(item);
      }
      return 0;
    });
    items = std::move(kept);
  }
  if (items.empty()) return exec(n.else_body, out);
  const int64_t len = static_cast<int64_t>(items.size());
  return with_scope(scope_, loop_scope, [&] {
    for (int64_t i = 0; i < len; ++i) {
      Value loop = Value::dict();
      Dict& d = loop.as_dict();
      d.set("index", Value(i + 1));
      d.set("index0", Value(i));
      d.set("revindex", Value(len - i));
      d.set("revindex0", Value(len - i - 1));
      d.set("first", Value(i == 0));
      d.set("last", Value(i == len - 1));
      d.set("length", Value(len));
      d.set("depth", Value(int64_t{1}));
      d.set("depth0", Value(int64_t{0}));
      d.set("previtem", i > 0 ? items[i - 1] : Value());
      d.set("nextitem", i + 1 < len ? items[i + 1] : Value());
      d.set("cycle", Value::function("loop.cycle", [i](Renderer&, CallArgs& a) {
              if (a.positional.empty()) fail("loop.cycle() needs arguments");
              return a.positional[static_cast<size_t>(i) % a.positional.size()];
            }));
      scope_->set("loop", loop);
      bind(*scope_, items[i]);
      line_ = n.line;
      if (exec(n.body, out) == Flow::kBreak) break;
    }
    return Flow::kNormal;
  });
}

void Renderer::exec_set(const Node& n) {
  Value v = eval(*n.expr);
  if (!n.attr.empty()) {
    Value* obj = scope_->find(n.targets[0]);
    if (!obj || !obj->is_namespace()) fail("'set " + n.targets[0] + "." + n.attr + "': '" + n.targets[0] + "' is not a namespace");
    obj->as_dict().set(n.attr, std::move(v));
    return;
  }
  if (n.targets.size() == 1) {
    scope_->set(n.targets[0], std::move(v));
    return;
  }
  Value::List parts = iterate(v);
  if (parts.size() != n.targets.size()) fail("'set' cannot unpack " + std::to_string(parts.size()) + " values");
  for (size_t i = 0; i < parts.size(); ++i) scope_->set(n.targets[i], parts[i]);
}

Value Renderer::make_macro(const Node& n) {
  std::weak_ptr<Scope> defined_in = scope_;
  const Node* node = &n;
  return Value::function(n.text, [node, defined_in](Renderer& r, CallArgs& args) {
    auto s = child_of(defined_in.lock());
    size_t next = 0;
    for (const auto& [name, def] : node->params) {
      const Value* given = nullptr;
      for (const auto& [k, v] : args.keyword) {
        if (k == name) given = &v;
      }
      if (!given && next < args.positional.size()) given = &args.positional[next++];
      if (given) {
        s->set(name, *given);
      } else if (def) {
        s->set(name, with_scope(r.scope_, s, [&] { return r.eval(*def); }));
      } else {
        s->set(name, Value());
      }
    }
    for (const auto& [k, v] : args.keyword) {
      if (k == "caller") s->set("caller", v);
    }
    Text text;
    const int saved_line = r.line_;
    with_scope(r.scope_, s, [&] {
      r.render(node->body, text);
      return 0;
    });
    r.line_ = saved_line;
    return Value(std::move(text));
  });
}

Value Renderer::make_caller(const Node& n) {
  std::weak_ptr<Scope> defined_in = scope_;
  const Node* node = &n;
  return Value::function("caller", [node, defined_in](Renderer& r, CallArgs& args) {
    auto s = child_of(defined_in.lock());
    for (size_t i = 0; i < node->params.size(); ++i) {
      const Value* given = args.get(node->params[i].first, i);
      s->set(node->params[i].first, given ? *given : Value());
    }
    Text text;
    with_scope(r.scope_, s, [&] {
      r.render(node->body, text);
      return 0;
    });
    return Value(std::move(text));
  });
}

Value Renderer::call(const Value& fn, CallArgs& args) {
  if (!fn.is_function()) fail("cannot call a " + fn.type_name());
  if (call_depth_ >= kMaxCallDepth) fail("calls nested deeper than " + std::to_string(kMaxCallDepth) + " ('" + fn.function_name() + "')");
  ++call_depth_;
  struct Leave {
    int& depth;
    ~Leave() { --depth; }
  } leave{call_depth_};
  return fn.as_function()(*this, args);
}

Value Renderer::apply_filter(const std::string& name, const Value& operand, CallArgs& args) {
  return keep_user(operand, run_filter(*this, name, operand, args));
}

bool Renderer::apply_test(const std::string& name, const Value& operand, CallArgs& args) {
  return run_test(*this, name, operand, args);
}

Value Renderer::lookup(const std::string& name) {
  Value* v = scope_->find(name);
  return v ? *v : Value();
}

CallArgs Renderer::eval_args(const Expr& e, size_t first) {
  CallArgs args;
  for (size_t i = first; i < e.children.size(); ++i) args.positional.push_back(eval(*e.children[i]));
  for (const auto& [k, v] : e.kwargs) args.keyword.emplace_back(k, eval(*v));
  return args;
}

Value Renderer::get_attr(const Value& obj, const std::string& name) {
  if (obj.is_dict()) {
    const Value* v = obj.as_dict().find(name);
    return v ? *v : Value();
  }
  return Value();
}

Value Renderer::get_item(const Value& obj, const Value& key) {
  if (obj.is_dict()) {
    if (!key.is_string()) {
      const Value* v = obj.as_dict().find(key.to_output());
      return v ? *v : Value();
    }
    const Value* v = obj.as_dict().find(key.as_string());
    return v ? *v : Value();
  }
  if (obj.is_list() || obj.is_string()) {
    if (!key.is_int()) fail("index of a " + obj.type_name() + " must be an integer, not " + key.type_name());
    const int64_t n = length_of(obj);
    int64_t i = key.as_int();
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value();
    if (obj.is_list()) return obj.as_list()[static_cast<size_t>(i)];
    return Value(code_points(obj.as_string())[static_cast<size_t>(i)]);
  }
  return Value();
}

Value Renderer::eval(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kLiteral: return e.literal;
    case Expr::Kind::kName: return lookup(e.name);
    case Expr::Kind::kList:
    case Expr::Kind::kTuple: {
      Value::List items;
      for (const auto& c : e.children) items.push_back(eval(*c));
      return Value::list(std::move(items));
    }
    case Expr::Kind::kDict: {
      Value d = Value::dict();
      for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
        Value k = eval(*e.children[i]);
        d.as_dict().set_key(k, eval(*e.children[i + 1]));
      }
      return d;
    }
    case Expr::Kind::kGetAttr: return get_attr(eval(*e.children[0]), e.name);
    case Expr::Kind::kGetItem: return get_item(eval(*e.children[0]), eval(*e.children[1]));
    case Expr::Kind::kSlice: {
      const Value obj = eval(*e.children[0]);
      auto part = [&](size_t i) { return e.children[i] ? eval(*e.children[i]) : Value::none(); };
      const Value start = part(1), stop = part(2), step_v = part(3);
      const int64_t step = step_v.is_int() ? step_v.as_int() : 1;
      if (step == 0) fail("slice step cannot be zero");
      std::vector<Value> src;
      const bool is_str = obj.is_string();
      if (is_str) {
        for (auto& cp : code_points(obj.as_string())) src.emplace_back(std::move(cp));
      } else if (obj.is_list()) {
        src = obj.as_list();
      } else {
        fail("cannot slice a " + obj.type_name());
      }
      const int64_t n = static_cast<int64_t>(src.size());
      auto clamp = [&](const Value& v, int64_t def) {
        if (!v.is_int()) return def;
        int64_t i = v.as_int();
        if (i < 0) i += n;
        if (step > 0) return std::clamp<int64_t>(i, 0, n);
        return std::clamp<int64_t>(i, -1, n - 1);
      };
      int64_t lo = clamp(start, step > 0 ? 0 : n - 1);
      int64_t hi = clamp(stop, step > 0 ? n : -1);
      Value::List out;
      for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) out.push_back(src[static_cast<size_t>(i)]);
      if (!is_str) return Value::list(std::move(out));
      std::string s;
      for (const auto& v : out) s += v.as_string();
      return Value(std::move(s));
    }
    case Expr::Kind::kCall: return eval_call(e);
    case Expr::Kind::kFilter: {
      const Value operand = eval(*e.children[0]);
      CallArgs args = eval_args(e, 1);
      line_ = e.line;
      return apply_filter(e.name, operand, args);
    }
    case Expr::Kind::kTest: {
      const Value operand = eval(*e.children[0]);
      CallArgs args = eval_args(e, 1);
      line_ = e.line;
      return Value(apply_test(e.name, operand, args) != e.negated);
    }
    case Expr::Kind::kUnary: {
      const Value v = eval(*e.children[0]);
      if (e.name == "not") return Value(!v.truthy());
      if (!v.is_number()) fail("unary '" + e.name + "' on a " + v.type_name());
      if (e.name == "+") return v;
      if (v.is_int() && v.as_int() != INT64_MIN) return Value(-v.as_int());
      return Value(-v.as_number());
    }
    case Expr::Kind::kBinary: return eval_binary(e);
    case Expr::Kind::kAnd: {
      Value a = eval(*e.children[0]);
      return a.truthy() ? eval(*e.children[1]) : a;
    }
    case Expr::Kind::kOr: {
      Value a = eval(*e.children[0]);
      return a.truthy() ? a : eval(*e.children[1]);
    }
    case Expr::Kind::kTernary:
      if (eval(*e.children[0]).truthy()) return eval(*e.children[1]);
      return e.children[2] ? eval(*e.children[2]) : Value();
  }
  return Value();
}

Value Renderer::eval_call(const Expr& e) {
  const Expr& callee = *e.children[0];
  if (callee.kind == Expr::Kind::kGetAttr) {
    const Value obj = eval(*callee.children[0]);
    CallArgs args = eval_args(e, 1);
    line_ = e.line;
    if (obj.is_string() || obj.is_list() || (obj.is_dict() && !obj.as_dict().find(callee.name))) {
      bool found = true;
      Value v = call_method(*this, obj, callee.name, args, found);
      if (found) return keep_user(obj, std::move(v));
    }
    Value fn = get_attr(obj, callee.name);
    if (!fn.is_function()) fail("'" + obj.type_name() + "' has no method '" + callee.name + "'");
    return call(fn, args);
  }
  Value fn = eval(callee);
  CallArgs args = eval_args(e, 1);
  line_ = e.line;
  if (!fn.is_function()) {
    fail(callee.kind == Expr::Kind::kName ? "'" + callee.name + "' is undefined or not callable"
                                          : "cannot call a " + fn.type_name());
  }
  return call(fn, args);
}

}  // namespace llmos::jinja
