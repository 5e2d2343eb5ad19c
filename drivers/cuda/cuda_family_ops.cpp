// CudaDriverImpl, part 4: the ops the model families beyond plain llama need
// (GELU gating, biases, scaling, fused-projection splits, mixture of experts).
// Expert FFNs group the step's tokens by expert on the host (the routing is
// copied back, one small synchronous copy) and run each expert's matmuls once
// over its rows: float experts as views into the stacked tensor, quantized
// ones (any type matmul takes) by their rows dequantized to f16 for cuBLAS.
#include <cstdint>
#include <cstring>
#include <string>

#include "cuda_driver_impl.hpp"

namespace llmos::cuda {

void CudaDriverImpl::geglu(const float* gate, const float* up, float* out, int64_t n_elems) {
  if (!err_.ok()) return;
  launched(launch_geglu(gate, up, out, n_elems, stream_.s), "geglu kernel");
}

void CudaDriverImpl::add_bias(float* x, const Weight& bias, int n) {
  LLMOS_REQUIRE(bias.type == DType::kF32 && bias.rows == 1, "bias must be f32 [cols]");
  if (!err_.ok()) return;
  launched(launch_add_bias(x, static_cast<const float*>(bias.data), n, bias.cols, stream_.s), "add_bias kernel");
}

void CudaDriverImpl::scale(float* x, float s, int64_t n_elems) {
  if (!err_.ok()) return;
  launched(launch_scale(x, s, n_elems, stream_.s), "scale kernel");
}

void CudaDriverImpl::copy_columns(const float* src, int src_cols, int col0, int cols, float* dst, int n) {
  LLMOS_REQUIRE(col0 >= 0 && cols >= 0 && col0 + cols <= src_cols, "columns past the source rows");
  if (!err_.ok()) return;
  launched(launch_copy_columns(src, src_cols, col0, cols, dst, n, stream_.s), "copy_columns kernel");
}

void CudaDriverImpl::moe_route(const float* logits, int n, int n_experts, int k, int32_t* ids, float* weights) {
  LLMOS_REQUIRE(k >= 1 && k <= n_experts, "experts used out of range");
  if (!err_.ok()) return;
  launched(launch_moe_route(logits, n, n_experts, k, ids, weights, stream_.s), "moe_route kernel");
}

void CudaDriverImpl::moe_ffn(const driver::ExpertWeights& w, const float* x, const int32_t* ids,
                             const float* weights, int n, int k, float* y, float* scratch) {
  const int64_t dim = w.gate.cols, ffn = w.ffn;
  LLMOS_REQUIRE(w.gate.rows == int64_t(w.n_experts) * ffn && w.up.rows == w.gate.rows &&
                    w.down.rows == int64_t(w.n_experts) * dim && w.down.cols == ffn,
                "expert tensor shapes");
  if (!err_.ok() || n == 0) return;
  const int pairs = n * k;
  moe_ids_host_.resize(size_t(pairs));
  if (!err_.cuda(cudaMemcpyAsync(moe_ids_host_.data(), ids, size_t(pairs) * sizeof(int32_t), cudaMemcpyDeviceToHost,
                                 stream_.s),
                 "cudaMemcpyAsync (expert ids)") ||
      !err_.cuda(cudaStreamSynchronize(stream_.s), "cudaStreamSynchronize (expert ids)")) {
    return;
  }
  moe_start_.assign(size_t(w.n_experts) + 1, 0);
  for (int i = 0; i < pairs; ++i) {
    const int32_t e = moe_ids_host_[size_t(i)];
    LLMOS_REQUIRE(e >= 0 && e < w.n_experts, "expert id out of range");
    ++moe_start_[size_t(e) + 1];
  }
  for (int e = 0; e < w.n_experts; ++e) moe_start_[size_t(e) + 1] += moe_start_[size_t(e)];
  const size_t meta_bytes = 2 * size_t(pairs) * sizeof(int32_t);
  if (!err_.record(moe_meta_host_.reserve(meta_bytes)) || !err_.record(moe_meta_.ensure(pool_, stream_.s, meta_bytes))) {
    return;
  }
  auto* token_of_row = static_cast<int32_t*>(moe_meta_host_.data());  // [pairs]
  int32_t* row_of_pair = token_of_row + pairs;                          // [pairs]
  moe_cursor_.assign(moe_start_.begin(), moe_start_.end() - 1);
  for (int i = 0; i < pairs; ++i) {
    const int row = moe_cursor_[size_t(moe_ids_host_[size_t(i)])]++;
    token_of_row[row] = i / k;
    row_of_pair[i] = row;
  }
  if (!err_.cuda(cudaMemcpyAsync(moe_meta_.data(), token_of_row, meta_bytes, cudaMemcpyHostToDevice, stream_.s),
                 "cudaMemcpyAsync (expert groups)")) {
    return;
  }
  const int32_t* d_token_of_row = moe_meta_.as<int32_t>();
  const int32_t* d_row_of_pair = d_token_of_row + pairs;
  float* xg = scratch;                  // [pairs][dim]
  float* g = xg + size_t(pairs) * dim;  // [pairs][ffn]
  float* u = g + size_t(pairs) * ffn;   // [pairs][ffn]
  float* o = u + size_t(pairs) * ffn;   // [pairs][dim]
  if (!launched(launch_gather_rows(x, d_token_of_row, pairs, int(dim), xg, stream_.s), "expert gather kernel")) return;
  for (int e = 0; e < w.n_experts; ++e) {
    const int p0 = moe_start_[size_t(e)], m = moe_start_[size_t(e) + 1] - p0;
    if (m == 0) continue;
    matmul_rows(w.gate, int64_t(e) * ffn, ffn, xg + size_t(p0) * dim, g + size_t(p0) * ffn, m);
    matmul_rows(w.up, int64_t(e) * ffn, ffn, xg + size_t(p0) * dim, u + size_t(p0) * ffn, m);
    swiglu(g + size_t(p0) * ffn, u + size_t(p0) * ffn, g + size_t(p0) * ffn, int64_t(m) * ffn);
    matmul_rows(w.down, int64_t(e) * dim, dim, g + size_t(p0) * ffn, o + size_t(p0) * dim, m);
  }
  launched(launch_moe_combine(o, d_row_of_pair, weights, n, k, int(dim), y, stream_.s), "expert combine kernel");
}

}  // namespace llmos::cuda
