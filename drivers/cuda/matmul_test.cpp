// matmul on the GPU for every weight type and both quantized paths (dp4a
// matrix-vector up to 8 tokens, f16 tiles + cuBLAS above), odd shapes, against
// a double-precision product of the exact weight values and against the CPU
// driver. Tolerances follow from what each path rounds, per output row r of
// token t with mag = sum_c |w[r][c] * x[t][c]|:
//   F32 (cuBLAS, f32, no TF32)      2e-5 * mag + 1e-6
//   F16 (activations rounded to f16) 1e-3 * mag + 1e-6   (2^-11 per product, worst case)
//   BF16 (activations to bf16)       8e-3 * mag + 1e-6   (2^-8)
//   Q8_0/Q4_0 dp4a (activations to int8 per 32-block, as Q8_0):
//       sum_c |w| * amax(block of c) / 254 + 1e-3 * mag + 1e-5
//   Q8_0/Q4_0 via f16 tiles (weights and activations rounded to f16): 2e-3 * mag + 1e-5
// Against the CPU driver (which quantizes activations for Q8_0/Q4_0 itself)
// the two tolerances add.
#include <doctest/doctest.h>

#include "cuda_test_util.hpp"
#include "llmos/driver/testing/random_blocks.hpp"

namespace llmos::cuda::testing {
namespace {

struct Expected {
  std::vector<float> y;      // [n][rows] double-precision result
  std::vector<double> mag;   // [n][rows] sum |w x|
  std::vector<double> qerr;  // [n][rows] bound of the int8 activation rounding
};

Expected reference(const HostWeight& w, const std::vector<float>& x, int n) {
  const int64_t rows = w.w.rows, cols = w.w.cols;
  Expected e;
  e.y.resize(size_t(n * rows));
  e.mag.resize(e.y.size());
  e.qerr.resize(e.y.size());
  for (int t = 0; t < n; ++t) {
    const float* xt = x.data() + t * cols;
    std::vector<double> amax((size_t(cols) + 31) / 32, 0.0);
    for (int64_t c = 0; c < cols; ++c) amax[size_t(c / 32)] = std::max(amax[size_t(c / 32)], double(std::fabs(xt[c])));
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0, m = 0, q = 0;
      for (int64_t c = 0; c < cols; ++c) {
        const double wv = w.values[size_t(r * cols + c)];
        s += wv * xt[c];
        m += std::fabs(wv * xt[c]);
        q += std::fabs(wv) * amax[size_t(c / 32)] / 254.0;
      }
      e.y[size_t(t * rows + r)] = float(s);
      e.mag[size_t(t * rows + r)] = m;
      e.qerr[size_t(t * rows + r)] = q;
    }
  }
  return e;
}

std::vector<double> gpu_tolerance(DType t, bool matvec, const Expected& e) {
  std::vector<double> tol(e.y.size());
  for (size_t i = 0; i < tol.size(); ++i) {
    switch (t) {
      case DType::kF32: tol[i] = 2e-5 * e.mag[i] + 1e-6; break;
      case DType::kF16: tol[i] = 1e-3 * e.mag[i] + 1e-6; break;
      case DType::kBF16: tol[i] = 8e-3 * e.mag[i] + 1e-6; break;
      default: tol[i] = matvec ? e.qerr[i] + 1e-3 * e.mag[i] + 1e-5 : 2e-3 * e.mag[i] + 1e-5; break;
    }
  }
  return tol;
}

void check_matmul(Driver& gpu, Driver& cpu, int matvec_max, DType type, int64_t rows, int64_t cols, int n,
                  uint32_t seed) {
  CAPTURE(dtype_name(type));
  CAPTURE(rows);
  CAPTURE(cols);
  CAPTURE(n);
  HostWeight hw = random_weight(type, rows, cols, seed);
  const auto x = random_floats(size_t(n * cols), seed + 1);
  auto dev = gpu.upload_weight(hw.w);
  REQUIRE_MESSAGE(dev.ok(), dev.status().to_string());
  auto dx = to_device(gpu, x);
  auto dy = to_device(gpu, std::vector<float>(size_t(n * rows), -99.0f));
  gpu.matmul(*dev, dx.ptr(), dy.ptr(), n);
  const auto got = to_host(gpu, dy);
  const Expected e = reference(hw, x, n);
  const bool quant = type == DType::kQ8_0 || type == DType::kQ4_0;
  const auto tol = gpu_tolerance(type, quant && n <= matvec_max, e);
  check_close(got, e.y, tol, "gpu vs double reference");

  std::vector<float> cpu_y(size_t(n * rows));
  cpu.matmul(hw.w, x.data(), cpu_y.data(), n);
  std::vector<double> both(tol);
  for (size_t i = 0; i < both.size(); ++i) both[i] += quant ? e.qerr[i] + 1e-3 * e.mag[i] : 1e-5 * e.mag[i];
  check_close(got, cpu_y, both, "gpu vs cpu driver");
}

TEST_CASE("matmul of every weight type at odd shapes and token counts, both quantized paths") {
  auto gpu = make_gpu();
  auto cpu = make_cpu();
  struct Shape { int64_t rows, cols; };
  uint32_t seed = 1;
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
    for (Shape s : {Shape{67, 96}, Shape{1, 32}, Shape{300, 2080}, Shape{513, 4096}, Shape{5, 37}}) {
      if (dtype_block_elems(t) == 32 && s.cols % 32 != 0) continue;
      for (int n : {1, 2, 5, 8, 9, 16, 33, 130}) {
        if (s.rows * s.cols > 1 << 20 && n > 16 && n != 130) continue;  // keep the reference cheap
        check_matmul(*gpu, *cpu, 8, t, s.rows, s.cols, n, seed++);
      }
    }
  }
}

TEST_CASE("matmul of the other block types (K-quants, Q4_1, Q5_x, IQ4, IQ3_S, MXFP4, TQ, Q1_0, Q2_0) through f16 tiles") {
  auto gpu = make_gpu();
  auto cpu = make_cpu();
  uint32_t seed = 500;
  for (DType t : {DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kIQ4_NL, DType::kMXFP4, DType::kQ2_K, DType::kQ3_K,
                  DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kIQ4_XS, DType::kTQ1_0, DType::kTQ2_0,
                  DType::kIQ3_S, DType::kQ1_0, DType::kQ2_0}) {
    for (int64_t rows : {1, 67, 300}) {
      const int64_t cols = 3 * 256;
      for (int n : {1, 5, 33}) {
        CAPTURE(dtype_name(t));
        CAPTURE(rows);
        CAPTURE(n);
        HostWeight hw;
        hw.bytes = driver::testing::random_blocks(t, rows, cols, seed++);
        hw.values.resize(size_t(rows * cols));
        const size_t row_bytes = size_t(dtype_row_bytes(t, cols));
        for (int64_t r = 0; r < rows; ++r)
          dequantize_row(t, hw.bytes.data() + size_t(r) * row_bytes, hw.values.data() + r * cols, cols);
        hw.w = Weight{t, hw.bytes.data(), rows, cols};
        const auto x = random_floats(size_t(n * cols), seed + 1000);
        auto dev = gpu->upload_weight(hw.w);
        REQUIRE_MESSAGE(dev.ok(), dev.status().to_string());
        auto dx = to_device(*gpu, x);
        auto dy = to_device(*gpu, std::vector<float>(size_t(n * rows), -99.0f));
        gpu->matmul(*dev, dx.ptr(), dy.ptr(), n);
        const auto got = to_host(*gpu, dy);
        const Expected e = reference(hw, x, n);
        const auto tol = gpu_tolerance(t, false, e);  // weights and activations rounded to f16
        check_close(got, e.y, tol, "gpu vs double reference");
        std::vector<float> cpu_y(size_t(n * rows));
        cpu->matmul(hw.w, x.data(), cpu_y.data(), n);
        std::vector<double> both(tol);  // the CPU rounds activations to int8 (Q8_0 / Q8_K blocks)
        for (size_t i = 0; i < both.size(); ++i) both[i] += 2 * e.qerr[i] + 1e-3 * e.mag[i];
        check_close(got, cpu_y, both, "gpu vs cpu driver");
      }
    }
  }
}

TEST_CASE("quant_matvec_max_tokens moves batches between the f16 tile path and the dp4a passes") {
  auto cpu = make_cpu();
  for (int max_tokens : {0, 3, 40}) {
    driver::CudaDriverOptions o;
    o.quant_matvec_max_tokens = max_tokens;
    auto gpu = make_gpu(o);
    for (DType t : {DType::kQ8_0, DType::kQ4_0}) {
      for (int n : {1, 3, 4, 17, 40}) check_matmul(*gpu, *cpu, max_tokens, t, 130, 256, n, uint32_t(40 + n));
    }
  }
}

TEST_CASE("a quantized weight larger than one dequantization tile is multiplied tile by tile") {
  auto gpu = make_gpu();
  auto cpu = make_cpu();
  // 16M f16 elements per tile: 4200 rows of 4096 columns need two tiles.
  check_matmul(*gpu, *cpu, 8, DType::kQ8_0, 4200, 4096, 12, 99);
}

}  // namespace
}  // namespace llmos::cuda::testing
