// Integer Q8_0/Q4_0 matmul on AMX tiles, for calls with many tokens (prefill).
// Weights are packed into the 16-row panels of vnni_panel_impl.hpp as signed
// bytes, which is exactly an AMX B tile for one 32-element block (8 rows x 64
// bytes); the A tile is one block of 16 tokens' Q8_0 activations. One tdpbssd
// gives the 16 tokens x 16 rows integer dot products of a block; the f32
// epilogue scales them by row scale x token scale (Q8_0 scales differ per block)
// into 16 vector accumulators. Fewer tokens go to the AVX-512 VNNI kernels.
// Compiled with AMX and AVX-512 flags; used only at IsaLevel::kAmx, after the
// process was granted the tile state (detect_isa_level).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels.hpp"
#include "vnni_panel_impl.hpp"

namespace llmos::cpu {
namespace {

constexpr int kTileTokens = 16;
// From this many tokens the tiles beat the VNNI panels (below, the padding of
// a partial 16-token tile and the per-block epilogue cost more than they save).
constexpr int kAmxMinTokens = 12;
// Two 16 x 16 int32 result buffers (one per tile register in flight).
constexpr size_t kResultBytes = 2 * 16 * 64;

// The tile shapes (palette 1): tmm0, tmm1 results (16 tokens x 16 rows of
// int32); tmm2, tmm3 activations (16 tokens x 32 bytes); tmm4, tmm5 weights
// (8 x 64 bytes: 16 rows x 4 bytes per K quad).
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {64, 64, 32, 32, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 8, 8};
};
static_assert(sizeof(TileConfig) == 64);

// acc[m] += (result row m, i.e. token m against the 16 rows) * dw * dx[token m].
inline void scale_block(const int32_t* c, __m512 dw, const float* const dx[kTileTokens], int64_t b,
                        __m512 acc[kTileTokens]) {
#pragma GCC unroll 16
  for (int m = 0; m < kTileTokens; ++m) {
    const __m512 v = _mm512_cvtepi32_ps(_mm512_load_si512(c + 16 * m));
    acc[m] = _mm512_fmadd_ps(v, _mm512_mul_ps(dw, _mm512_set1_ps(dx[m][b])), acc[m]);
  }
}

// Tokens [t0, t0 + 16) (rows past x.n are zero padding: pad_acts_from_tokens) against one packed
// panel: y[t][r] for the panel's `valid` rows and the real tokens.
void tile_panel(const uint8_t* panel, int64_t nb, const QuantizedActs& x, int t0, float* y, int64_t ldy,
                int valid, int32_t* results) {
  const int8_t* a = x.qs + int64_t(t0) * x.cols;
  const float* dx[kTileTokens];
  for (int m = 0; m < kTileTokens; ++m) dx[m] = x.d + int64_t(t0 + m) * (x.cols / kQuantBlock);
  __m512 acc[kTileTokens];
  for (int m = 0; m < kTileTokens; ++m) acc[m] = _mm512_setzero_ps();
  int32_t* c0 = results;
  int32_t* c1 = results + 256;
  int64_t b = 0;
  // Two blocks per round on separate tile registers, so the tile unit works on
  // one while the vector units scale the other.
  for (; b + 2 <= nb; b += 2) {
    const uint8_t* p0 = panel + size_t(b) * kPanelBlockBytes;
    const uint8_t* p1 = p0 + kPanelBlockBytes;
    _tile_zero(0);
    _tile_loadd(2, a + b * kQuantBlock, x.cols);
    _tile_loadd(4, p0, 64);
    _tile_dpbssd(0, 2, 4);
    _tile_zero(1);
    _tile_loadd(3, a + (b + 1) * kQuantBlock, x.cols);
    _tile_loadd(5, p1, 64);
    _tile_dpbssd(1, 3, 5);
    _tile_stored(0, c0, 64);
    _tile_stored(1, c1, 64);
    scale_block(c0, _mm512_load_ps(p0 + 512), dx, b, acc);
    scale_block(c1, _mm512_load_ps(p1 + 512), dx, b + 1, acc);
  }
  if (b < nb) {
    const uint8_t* p0 = panel + size_t(b) * kPanelBlockBytes;
    _tile_zero(0);
    _tile_loadd(2, a + b * kQuantBlock, x.cols);
    _tile_loadd(4, p0, 64);
    _tile_dpbssd(0, 2, 4);
    _tile_stored(0, c0, 64);
    scale_block(c0, _mm512_load_ps(p0 + 512), dx, b, acc);
  }
  const __mmask16 mask = __mmask16((1u << valid) - 1);
  const int tokens = std::min(x.n - t0, kTileTokens);
  for (int m = 0; m < tokens; ++m) _mm512_mask_storeu_ps(y + int64_t(t0 + m) * ldy, mask, acc[m]);
}

template <bool kQ8>
void amx_panels(const Weight& w, const QuantizedActs& x, float* y, int64_t r0, int64_t r1, uint8_t* scratch) {
  const int64_t nb = w.cols / kQuantBlock;
  const size_t row_bytes = size_t(nb) * (kQ8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0));
  const size_t panel_bytes = size_t(nb) * kPanelBlockBytes;
  const auto* base = static_cast<const uint8_t*>(w.data);
  const int64_t n_panels = (r1 - r0 + kPanelRows - 1) / kPanelRows;
  auto valid_rows = [&](int64_t p) { return int(std::min<int64_t>(r1 - r0 - p * kPanelRows, kPanelRows)); };
  auto rows_of = [&](int64_t p) { return base + (r0 + p * kPanelRows) * row_bytes; };
  auto* results = reinterpret_cast<int32_t*>(scratch);
  uint8_t* panels = scratch + kResultBytes;
  for (int64_t p = 0; p < n_panels; ++p) {
    GroupPrefetcher prefetch = p + 1 < n_panels
                                   ? GroupPrefetcher(rows_of(p + 1), size_t(valid_rows(p + 1)) * row_bytes, nb)
                                   : GroupPrefetcher(nullptr, 0, nb);
    pack_panel<kQ8, /*kSigned=*/true>(PanelRows(rows_of(p), row_bytes, valid_rows(p)), nb,
                                      panels + p * panel_bytes, prefetch);
  }
  const TileConfig config;
  _tile_loadconfig(&config);
  for (int t0 = 0; t0 < x.n; t0 += kTileTokens)
    for (int64_t p = 0; p < n_panels; ++p)
      tile_panel(panels + p * panel_bytes, nb, x, t0, y + r0 + p * kPanelRows, w.rows, valid_rows(p), results);
  _tile_release();
}

void matmul_quant_amx(const Weight& w, const QuantizedActs& x, float* y, int64_t r0, int64_t r1,
                      uint8_t* scratch) {
  if (x.n < kAmxMinTokens) {
    matmul_quant_avx512_vnni(w, x, y, r0, r1, scratch);
  } else if (w.type == DType::kQ8_0) {
    amx_panels<true>(w, x, y, r0, r1, scratch);
  } else {
    amx_panels<false>(w, x, y, r0, r1, scratch);
  }
}

size_t matmul_quant_scratch_amx(int64_t cols, int64_t rows) {
  return kResultBytes + matmul_quant_scratch_avx512_vnni(cols, rows);
}

}  // namespace

void fill_amx_quant_kernels(CpuKernels& k) {
  // Activations as for VNNI (the AMX path ignores their offset corrections).
  k.matmul_quant = &matmul_quant_amx;
  k.matmul_quant_scratch = &matmul_quant_scratch_amx;
  k.pad_acts_from_tokens = kAmxMinTokens;
}

}  // namespace llmos::cpu
