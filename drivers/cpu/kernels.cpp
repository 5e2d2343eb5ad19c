#include "kernels.hpp"

namespace llmos::cpu {

size_t attention_scratch_floats(int head_dim, int n_tokens, int n_heads_task) {
  constexpr size_t kMaxWidth = 16;  // widest vector of any level
  const size_t hdp = (size_t(head_dim) + kMaxWidth - 1) / kMaxWidth * kMaxWidth;
  const size_t qh = size_t(n_tokens) * size_t(n_heads_task);
  // single query: acc [nh][head_dim], scores [nh][chunk], running max and sum [nh]
  const size_t single = size_t(n_heads_task) * (size_t(head_dim) + kAttentionChunk + 2);
  // tile: K chunk [hdp][W], V chunk [W][hdp], per (query, head) row: acc [hdp], sums [W], probs [W], max
  const size_t tile = 2 * hdp * kMaxWidth + qh * (hdp + 2 * kMaxWidth + 1);
  return (single > tile ? single : tile) + 16;
}

CpuKernels make_cpu_kernels(IsaLevel level) {
  CpuKernels k;
  fill_scalar_kernels(k);
  fill_scalar_ext_quant_kernels(k);
#if defined(__x86_64__)
  if (level >= IsaLevel::kAvx2) {
    fill_avx2_float_kernels(k);
    fill_avx2_quant_kernels(k);
    fill_avx2_ext_quant_kernels(k);
  }
  if (level >= IsaLevel::kAvx512) fill_avx512_float_kernels(k);
  if (level >= IsaLevel::kAvx512Vnni) fill_avx512_vnni_quant_kernels(k);
  if (level >= IsaLevel::kAmx) fill_amx_quant_kernels(k);
#endif
  k.level = level;
  return k;
}

}  // namespace llmos::cpu
