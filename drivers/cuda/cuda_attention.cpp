// CudaDriverImpl, part 3: kv_store, attention (the step's plan picks the
// prefill and decode kernels) and device sampling.
#include <cstdint>
#include <cstring>
#include <string>

#include "cuda_driver_impl.hpp"

namespace llmos::cuda {

static_assert(kMaxSampleTopK == driver::kMaxDeviceTopK);

void CudaDriverImpl::kv_store(const KvGeometry& L, void* kv, int layer, const float* k, const float* v,
                              int window) {
  bounds_.check_kv_store(L, layer, window);
  const int32_t* slots = bounds_.uses_window_tables(window) ? d_window_kv_slots_ : d_kv_slots_;
  if (!err_.ok()) return;
  auto* base = static_cast<uint8_t*>(kv);
  launched(launch_kv_store(base + L.plane_offset(layer, 0) * L.elem_bytes(), base + L.plane_offset(layer, 1) * L.elem_bytes(),
                           L.type == DType::kF16, L.kv_dim(), k, v, slots, batch_.n_tokens, stream_.s),
           "kv_store kernel");
}

void CudaDriverImpl::attention(const KvGeometry& L, const void* kv, int layer, const float* q, float* out,
                               int n_heads, float scale, int window) {
  LLMOS_REQUIRE(window >= 0, "negative attention window");
  bounds_.check_attention(L, layer, n_heads, window);
  if (!err_.ok() || batch_.n_tokens == 0) return;
  if (L.head_dim > kMaxHeadDim) {
    err_.record(unimplemented("cuda attention: head_dim " + std::to_string(L.head_dim) + " is above " +
                              std::to_string(kMaxHeadDim)));
    return;
  }
  const auto* base = static_cast<const uint8_t*>(kv);
  AttentionParams p;
  p.k_plane = base + L.plane_offset(layer, 0) * L.elem_bytes();
  p.v_plane = base + L.plane_offset(layer, 1) * L.elem_bytes();
  p.kv_f16 = L.type == DType::kF16;
  const int vec = p.kv_f16 ? 8 : 4;  // elements per 16-byte load
  p.vec_ok = reinterpret_cast<uintptr_t>(kv) % 16 == 0 && L.head_dim % vec == 0;
  p.kv_dim = L.kv_dim();
  p.head_dim = L.head_dim;
  p.block_size = L.block_size;
  p.n_heads = n_heads;
  p.n_kv_heads = L.n_kv_heads;
  p.group = n_heads / L.n_kv_heads;
  p.scale = scale;
  p.window = window;
  p.q = q;
  p.out = out;
  p.positions = d_positions_;
  p.seq_index = d_seq_index_;
  p.block_tables = bounds_.uses_window_tables(window) ? d_window_block_tables_ : d_block_tables_;
  p.max_blocks = batch_.max_blocks;
  p.work = d_work_;
  p.reduce = d_reduce_;
  p.tiles = d_tiles_;
  // Later steps split small decode batches knowing how many blocks each work item makes.
  const int g = p.group;
  const int head_tile = g % 8 == 0 ? 8 : g % 4 == 0 ? 4 : g % 2 == 0 ? 2 : 1;  // as launch_decode_attention
  plan_opts_.blocks_per_work = L.n_kv_heads * (g / head_tile);
  const int n_work = int(plan_.work().size());
  const int n_reduce = int(plan_.reduce().size());
  const int n_tiles = int(plan_.tiles().size());
  if (n_reduce > 0) {
    const size_t acc = size_t(n_work) * size_t(n_heads) * size_t(L.head_dim);
    const size_t ml = size_t(n_work) * size_t(n_heads) * 2;
    if (!err_.record(partial_.ensure(pool_, stream_.s, (acc + ml) * sizeof(float)))) return;
    p.partial_acc = partial_.as<float>();
    p.partial_ml = p.partial_acc + acc;
  }
  if (!launched(launch_decode_attention(p, n_work, stream_.s), "decode attention kernel")) return;
  if (!launched(launch_reduce_attention(p, n_reduce, stream_.s), "attention split reduction kernel")) return;
  launched(launch_prefill_attention(p, n_tiles, stream_.s), "prefill attention kernel");
}

Status CudaDriverImpl::sample(const float* logits, int n_rows, int n_vocab,
                              std::span<const driver::DeviceSampleRow> rows, int32_t* out) {
  if (n_rows < 0 || n_vocab <= 0 || rows.size() != size_t(n_rows)) {
    return invalid_argument("cuda sample: " + std::to_string(rows.size()) + " row parameters for " +
                            std::to_string(n_rows) + " rows of " + std::to_string(n_vocab) + " logits");
  }
  for (int i = 0; i < n_rows; ++i) {
    const auto& r = rows[size_t(i)];
    if (r.temperature > 0.0f && (r.top_k < 1 || r.top_k > driver::kMaxDeviceTopK)) {
      return invalid_argument("cuda sample: row " + std::to_string(i) + " has top_k " + std::to_string(r.top_k) +
                              "; the device sampler needs 1..." + std::to_string(driver::kMaxDeviceTopK));
    }
    if (r.temperature > 0.0f && !(r.top_p > 0.0f && r.top_p <= 1.0f && r.min_p >= 0.0f && r.min_p <= 1.0f &&
                                  r.uniform >= 0.0 && r.uniform < 1.0)) {
      return invalid_argument("cuda sample: row " + std::to_string(i) +
                              " needs top_p in (0, 1], min_p in [0, 1] and uniform in [0, 1)");
    }
  }
  if (!err_.ok() || !use_device()) return err_.status();
  if (n_rows == 0) return ok_status();
  const size_t params_bytes = (size_t(n_rows) * sizeof(SampleRowParams) + 255) / 256 * 256;
  const size_t out_bytes = size_t(n_rows) * sizeof(int32_t);
  if (!err_.record(sample_dev_.ensure(pool_, stream_.s, params_bytes + out_bytes))) return err_.status();
  // The previous sample() waited for its copies, so the pinned buffer is free.
  if (!err_.record(sample_host_.reserve(params_bytes + out_bytes))) return err_.status();
  auto* host_rows = static_cast<SampleRowParams*>(sample_host_.data());
  for (int i = 0; i < n_rows; ++i) {
    const auto& r = rows[size_t(i)];
    host_rows[i] = SampleRowParams{r.temperature, r.top_k, r.top_p, r.min_p, r.uniform};
  }
  auto* dev_out = reinterpret_cast<int32_t*>(sample_dev_.as<uint8_t>() + params_bytes);
  auto* host_out = reinterpret_cast<int32_t*>(static_cast<uint8_t*>(sample_host_.data()) + params_bytes);
  err_.cuda(cudaMemcpyAsync(sample_dev_.data(), host_rows, size_t(n_rows) * sizeof(SampleRowParams),
                            cudaMemcpyHostToDevice, stream_.s),
            "cudaMemcpyAsync (sampling parameters)") &&
      launched(launch_sample(logits, n_rows, n_vocab, sample_dev_.as<SampleRowParams>(), dev_out, stream_.s),
               "sampling kernel") &&
      err_.cuda(cudaMemcpyAsync(host_out, dev_out, out_bytes, cudaMemcpyDeviceToHost, stream_.s),
                "cudaMemcpyAsync (sampled tokens)") &&
      err_.cuda(cudaStreamSynchronize(stream_.s), "cudaStreamSynchronize (sample)");
  if (!err_.ok()) return err_.status();
  std::memcpy(out, host_out, out_bytes);
  return ok_status();
}

}  // namespace llmos::cuda
