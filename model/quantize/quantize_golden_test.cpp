// `llmos quantize` against llama.cpp's llama-quantize (../shared/models/quant):
// quantizing the same source model gives every tensor the type llama.cpp chose
// in each mix (the stories260K fallbacks included), the output loads with the
// GGUF reader with its metadata kept, and each matrix's RMSE against the source
// is no worse than that of llama.cpp's quantization of it.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "llmos/common/quant.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/quantize/quantize_model.hpp"
#include "shared_dir.hpp"

namespace llmos::quantize {
namespace {

using gguf::GgufFile;

std::string quant_dir() { return llmos::testing::shared_dir() + "/models/quant/"; }

std::unique_ptr<GgufFile> open_or_fail(const std::string& path) {
  auto f = GgufFile::open(path);
  REQUIRE_MESSAGE(f.ok(), f.status().message());
  return std::move(*f);
}

std::string upper(std::string_view s) {
  std::string u(s);
  for (auto& c : u) c = char(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

constexpr Mix kAllMixes[] = {Mix::kQ8_0, Mix::kQ4_0, Mix::kQ4_1, Mix::kQ5_0, Mix::kQ5_1, Mix::kQ2_K,
                             Mix::kQ3_K_M, Mix::kQ4_K_S, Mix::kQ4_K_M, Mix::kQ5_K_M, Mix::kQ6_K, Mix::kIQ4_XS};

void check_plan_matches(const std::string& source, const std::string& reference, Mix mix) {
  INFO(reference);
  const auto src = open_or_fail(source);
  const auto ref = open_or_fail(reference);
  auto plan = plan_quantization(*src, mix);
  REQUIRE_MESSAGE(plan.ok(), plan.status().message());
  REQUIRE(plan->size() == ref->tensors().size());
  for (size_t i = 0; i < plan->size(); ++i) {
    const auto& p = (*plan)[i];
    const auto* r = ref->find_tensor(p.name);
    REQUIRE_MESSAGE(r != nullptr, p.name);
    CHECK_MESSAGE(p.to == r->type, p.name, ": ours ", dtype_name(p.to), ", llama.cpp ", dtype_name(r->type));
  }
  CHECK(*ref->get_uint("general.file_type") == mix_file_type(mix));
}

TEST_CASE("every mix gives rand3m's tensors the types llama-quantize gave them") {
  for (Mix m : kAllMixes)
    check_plan_matches(quant_dir() + "rand3m-BF16.gguf", quant_dir() + "rand3m-" + upper(mix_name(m)) + ".gguf", m);
}

TEST_CASE("the stories260K mixes fall back where llama-quantize did (rows of 64 and 172)") {
  for (Mix m : {Mix::kQ3_K_M, Mix::kQ4_K_M, Mix::kQ5_K_M, Mix::kIQ4_XS})
    check_plan_matches(llmos::testing::shared_dir() + "/models/stories260K.gguf",
                       quant_dir() + "stories260K-" + upper(mix_name(m)) + ".gguf", m);
}

std::vector<float> dequantize_tensor(const gguf::TensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.n_elements));
  const int64_t cols = t.dims[0], rows = t.n_elements / cols;
  const size_t row_bytes = size_t(dtype_row_bytes(t.type, cols));
  for (int64_t r = 0; r < rows; ++r)
    dequantize_row(t.type, static_cast<const uint8_t*>(t.data) + size_t(r) * row_bytes,
                   out.data() + size_t(r * cols), cols);
  return out;
}

double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(s / double(a.size()));
}

TEST_CASE("quantized rand3m files load, keep the metadata, and are no less accurate than llama.cpp's") {
  const std::string dir = std::filesystem::temp_directory_path() / ("llmos_quantize_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto src = open_or_fail(quant_dir() + "rand3m-BF16.gguf");
  std::map<DType, std::pair<double, double>> worst;  // per type: largest ours / llama.cpp RMSE ratio
  for (Mix m : kAllMixes) {
    const std::string name = "rand3m-" + upper(mix_name(m)) + ".gguf";
    INFO(name);
    const std::string out = dir + "/" + name;
    uint64_t last_done = 0, calls = 0;
    QuantizeOptions opt{m, 2, [&](const QuantizeProgress& p) {
                          CHECK(p.done > last_done);
                          CHECK(p.done <= p.total);
                          last_done = p.done;
                          ++calls;
                        }};
    auto summary = quantize_model(quant_dir() + "rand3m-BF16.gguf", out, opt);
    REQUIRE_MESSAGE(summary.ok(), summary.status().message());
    CHECK(calls > 0);
    const auto ours = open_or_fail(out);
    const auto ref = open_or_fail(quant_dir() + name);
    CHECK(*ours->get_uint("general.file_type") == mix_file_type(m));
    CHECK(*ours->get_uint("general.quantization_version") == 2);
    // Every source key is kept (file type and quantization version set anew).
    for (const auto& e : src->metadata()) {
      CHECK_MESSAGE(ours->find_metadata(e.key) != nullptr, e.key);
      if (e.key != "general.file_type" && ours->find_metadata(e.key))
        CHECK(ours->format_value(*ours->find_metadata(e.key), 4) == src->format_value(e, 4));
    }
    CHECK(*ours->get_string_array("tokenizer.ggml.tokens") == *src->get_string_array("tokenizer.ggml.tokens"));
    REQUIRE(ours->tensors().size() == ref->tensors().size());
    for (const auto& t : ours->tensors()) {
      const auto* r = ref->find_tensor(t.name);
      REQUIRE(r != nullptr);
      CHECK_MESSAGE(t.type == r->type, t.name);
      if (t.type != r->type || !dtype_is_quantized(t.type)) continue;
      const auto x = dequantize_tensor(*src->find_tensor(t.name));
      const double e_ours = rmse(x, dequantize_tensor(t)), e_ref = rmse(x, dequantize_tensor(*r));
      CHECK_MESSAGE(e_ours <= e_ref * 1.001, t.name, " ", dtype_name(t.type), ": ours ", e_ours, ", llama.cpp ", e_ref);
      auto& w = worst[t.type];
      if (w.second == 0 || e_ours / e_ref > w.first / w.second) w = {e_ours, e_ref};
    }
  }
  for (const auto& [type, w] : worst)
    std::printf("  %-7s worst tensor RMSE vs source: ours %.6g, llama.cpp %.6g (ratio %.4f)\n",
                std::string(dtype_name(type)).c_str(), w.first, w.second, w.first / w.second);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_CASE("IQ4_NL (no mix of its own here) is no less accurate than llama.cpp's rand3m-IQ4_NL") {
  const auto src = open_or_fail(quant_dir() + "rand3m-BF16.gguf");
  const auto ref = open_or_fail(quant_dir() + "rand3m-IQ4_NL.gguf");
  for (const auto& r : ref->tensors()) {
    if (r.type != DType::kIQ4_NL) continue;
    const auto x = dequantize_tensor(*src->find_tensor(r.name));
    const int64_t cols = r.dims[0];
    std::vector<uint8_t> q(size_t(dtype_row_bytes(DType::kIQ4_NL, cols)));
    std::vector<float> y(x.size());
    for (size_t off = 0; off < x.size(); off += size_t(cols)) {
      quantize_row(DType::kIQ4_NL, x.data() + off, q.data(), cols);
      dequantize_row(DType::kIQ4_NL, q.data(), y.data() + off, cols);
    }
    const double e_ours = rmse(x, y), e_ref = rmse(x, dequantize_tensor(r));
    CHECK_MESSAGE(e_ours <= e_ref * 1.001, r.name, ": ours ", e_ours, ", llama.cpp ", e_ref);
    if (r.name == "blk.0.ffn_down.weight")
      std::printf("  iq4_nl  blk.0.ffn_down RMSE vs source: ours %.6g, llama.cpp %.6g\n", e_ours, e_ref);
  }
}

}  // namespace
}  // namespace llmos::quantize
