#include "llmos/kernel/model_registry.hpp"

#include <doctest/doctest.h>

namespace llmos::kernel {
namespace {

ModelSpec spec(std::string name, uint32_t ctx = 512) {
  return ModelSpec{std::move(name), "/models/" + name + ".gguf", ctx, 4, Device::kCpu};
}

TEST_CASE("a model goes loading -> ready -> draining -> unloaded and gives its memory back") {
  ModelRegistry reg(1000);
  REQUIRE(reg.begin_load(spec("a"), {600, 100}).ok());
  CHECK(reg.find("a")->state == ModelState::kLoading);
  CHECK(reg.reserved_bytes() == 700);
  CHECK(reg.available_bytes() == 300);
  REQUIRE(reg.mark_ready("a").ok());
  REQUIRE(reg.begin_drain("a").ok());
  CHECK(reg.reserved_bytes() == 700);  // draining still holds its memory
  REQUIRE(reg.mark_unloaded("a").ok());
  CHECK(reg.find("a")->state == ModelState::kUnloaded);
  CHECK(reg.reserved_bytes() == 0);
  REQUIRE(reg.forget("a").ok());
  CHECK(reg.find("a") == nullptr);
}

TEST_CASE("only legal transitions are allowed") {
  ModelRegistry reg(1000);
  REQUIRE(reg.begin_load(spec("a"), {10, 10}).ok());
  Status st = reg.begin_drain("a");
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  CHECK(st.message() == "model 'a' is loading and cannot become draining");
  CHECK(reg.mark_unloaded("a").code() == ErrorCode::kInvalidArgument);
  REQUIRE(reg.mark_ready("a").ok());
  CHECK(reg.mark_ready("a").message() == "model 'a' is ready and cannot become ready");
  CHECK(reg.forget("a").code() == ErrorCode::kInvalidArgument);
  CHECK(reg.mark_ready("nope").code() == ErrorCode::kNotFound);
  CHECK(reg.mark_ready("nope").message() == "no model named 'nope'");
}

TEST_CASE("a failed model keeps its reason, frees its memory and its name") {
  ModelRegistry reg(1000);
  REQUIRE(reg.begin_load(spec("a"), {500, 0}).ok());
  REQUIRE(reg.mark_failed("a", "tensor blk.0.attn_q.weight: truncated at offset 4096").ok());
  const ModelRecord* a = reg.find("a");
  CHECK(a->state == ModelState::kFailed);
  CHECK(a->failure == "tensor blk.0.attn_q.weight: truncated at offset 4096");
  CHECK(reg.reserved_bytes() == 0);
  CHECK(reg.mark_failed("a", "again").code() == ErrorCode::kInvalidArgument);
  REQUIRE(reg.begin_load(spec("a"), {500, 0}).ok());  // the name can be reused
  CHECK(reg.find("a")->state == ModelState::kLoading);
  CHECK(reg.find("a")->failure.empty());
}

TEST_CASE("a load that does not fit the budget is refused with the numbers") {
  ModelRegistry reg(1000);
  REQUIRE(reg.begin_load(spec("small"), {300, 100}).ok());
  Status st = reg.begin_load(spec("big", 2048), {500, 200});
  CHECK(st.code() == ErrorCode::kFailed);
  CHECK(st.message() ==
        "model 'big' needs 700 bytes (weights 500 + KV 200 for a context of 2048 tokens) but only "
        "600 of the 1000-byte budget are available");
  CHECK(reg.find("big") == nullptr);
  CHECK(reg.reserved_bytes() == 400);
  CHECK(reg.begin_load(spec("fits"), {500, 100}).ok());  // exactly the rest
  CHECK(reg.available_bytes() == 0);
}

TEST_CASE("names are unique and well-formed") {
  ModelRegistry reg(1000);
  REQUIRE(reg.begin_load(spec("a"), {1, 1}).ok());
  Status st = reg.begin_load(spec("a"), {1, 1});
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  CHECK(st.message() == "a model named 'a' is already loading; unload it first or choose another name");
  CHECK(reg.begin_load(spec(""), {1, 1}).code() == ErrorCode::kInvalidArgument);
  CHECK(reg.begin_load(spec("has space"), {1, 1}).code() == ErrorCode::kInvalidArgument);
  CHECK(reg.begin_load(spec(std::string(65, 'x')), {1, 1}).code() == ErrorCode::kInvalidArgument);
  CHECK(reg.begin_load(spec("ok_name-1.5"), {1, 1}).ok());
  CHECK(reg.begin_load(spec("zero", 0), {1, 1}).code() == ErrorCode::kInvalidArgument);
  // Tags, as the model store names models: one ':' between two non-empty parts.
  CHECK(reg.begin_load(spec("qwen3:0.6b-q4_k_m"), {1, 1}).ok());
  for (const char* bad : {":tag", "name:", "a:b:c", "a/b"}) {
    CAPTURE(bad);
    CHECK(reg.begin_load(spec(bad), {1, 1}).code() == ErrorCode::kInvalidArgument);
  }
  auto all = reg.list();
  REQUIRE(all.size() == 3);
  CHECK(all[0].spec.name == "a");
  CHECK(all[1].spec.name == "ok_name-1.5");
  CHECK(all[2].spec.name == "qwen3:0.6b-q4_k_m");
}

}  // namespace
}  // namespace llmos::kernel
