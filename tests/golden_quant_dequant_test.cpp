// Dequantization of every weight type llmos reads equals llama.cpp's reference
// values (../shared/golden/quant/dequant: raw blocks and the f32 they decode to),
// and the GGUF reader finds those blocks at the recorded offset of each file.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llmos/common/dtype.hpp"
#include "llmos/common/quant.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "shared_dir.hpp"

namespace llmos {
namespace {

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_CASE("dequantization equals llama.cpp's reference values for every supported type") {
  const std::string dir = testing::shared_dir() + "/golden/quant/dequant/";
  const auto index = nlohmann::json::parse(read_all(dir + "index.json"));
  int checked = 0;
  std::vector<std::string> waiting;
  for (const auto& e : index) {
    const std::string type = e["type"];
    const auto dtype = dtype_from_ggml(e["ggml_type_id"].get<uint32_t>());
    if (!dtype) {
      waiting.push_back(type);
      continue;
    }
    CAPTURE(type);
    CHECK(dtype_block_elems(*dtype) == e["block_elems"].get<int64_t>());
    CHECK(dtype_block_bytes(*dtype) == e["block_bytes"].get<int64_t>());
    const auto bin = read_all(dir + e["bin"].get<std::string>());
    const auto ref_bytes = read_all(dir + e["f32"].get<std::string>());
    const int64_t rows = e["rows"], cols = e["shape"][0];
    REQUIRE(int64_t(bin.size()) == rows * dtype_row_bytes(*dtype, cols));
    std::vector<float> ref(ref_bytes.size() / 4), got(size_t(rows * cols));
    std::memcpy(ref.data(), ref_bytes.data(), ref.size() * 4);
    REQUIRE(ref.size() == got.size());
    for (int64_t r = 0; r < rows; ++r)
      dequantize_row(*dtype, bin.data() + r * dtype_row_bytes(*dtype, cols), got.data() + r * cols, cols);
    int64_t bad = 0, first_bad = -1;
    for (size_t i = 0; i < ref.size(); ++i) {
      if (std::fabs(got[i] - ref[i]) > 1e-6f * std::fabs(ref[i])) {
        if (first_bad < 0) first_bad = int64_t(i);
        ++bad;
      }
    }
    CHECK_MESSAGE(bad == 0, type << ": " << bad << " values differ, first at " << first_bad << ": "
                                  << (first_bad >= 0 ? got[size_t(first_bad)] : 0.0f) << " vs "
                                  << (first_bad >= 0 ? ref[size_t(first_bad)] : 0.0f));

    // The reader places the same bytes at the same offset of the model file.
    auto file = gguf::GgufFile::open(testing::shared_dir() + "/" + e["file"].get<std::string>());
    REQUIRE_MESSAGE(file.ok(), file.status().message());
    const auto* t = (*file)->find_tensor(e["tensor"].get<std::string>());
    REQUIRE(t != nullptr);
    CHECK(t->type == *dtype);
    CHECK(t->offset == e["data_offset"].get<uint64_t>());
    CHECK(std::memcmp(t->data, bin.data(), bin.size()) == 0);
    ++checked;
  }
  MESSAGE("checked " << checked << " types; not supported yet: " << nlohmann::json(waiting).dump());
  CHECK(checked >= 17);
}

}  // namespace
}  // namespace llmos
