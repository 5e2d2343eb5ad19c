#include "llmos/model/model_name.hpp"

#include <doctest/doctest.h>

using namespace llmos;
using namespace llmos::model;

TEST_CASE("a model name without a tag is NAME:latest; with one it keeps it") {
  auto a = parse_model_name("stories260K");
  REQUIRE(a.ok());
  CHECK(a->name == "stories260K");
  CHECK(a->tag == "latest");
  CHECK(a->str() == "stories260K:latest");
  auto b = parse_model_name("qwen3:0.6b-q4_k_m");
  REQUIRE(b.ok());
  CHECK(b->name == "qwen3");
  CHECK(b->tag == "0.6b-q4_k_m");
  CHECK(*parse_model_name("m") == *parse_model_name("m:latest"));
}

TEST_CASE("bad model names are refused naming the name and the rule") {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c : {Case{"", "empty"}, Case{":x", "name is empty"}, Case{"m:", "tag is empty"},
                        Case{"a:b:c", "more than one ':'"}, Case{"../etc", "must start with a letter"},
                        Case{"a/b", "'/' is not allowed"}, Case{".hidden", "must start"},
                        Case{"m:.x", "tag must start"}, Case{"a b", "' ' is not allowed"}}) {
    CAPTURE(c.text);
    auto r = parse_model_name(c.text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == ErrorCode::kInvalidArgument);
    CHECK(r.status().message().find(c.says) != std::string::npos);
    if (*c.text) CHECK(r.status().message().find(std::string("'") + c.text + "'") != std::string::npos);
  }
  CHECK_FALSE(parse_model_name(std::string(kMaxNamePartLength + 1, 'a')).ok());
  CHECK(parse_model_name(std::string(kMaxNamePartLength, 'a')).ok());
}

TEST_CASE("a file's default model name is its base name without .gguf") {
  CHECK(model_name_from_file("/x/y/stories260K.gguf")->str() == "stories260K:latest");
  CHECK(model_name_from_file("Llama 3.GGUF")->name == "Llama-3");
  CHECK(model_name_from_file("model")->name == "model");
  CHECK_FALSE(model_name_from_file("/x/-.gguf").ok());
  CHECK_FALSE(model_name_from_file("/x/").ok());
}
