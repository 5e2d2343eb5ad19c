// Quantizers of the 256-element super-block types Q2_K to Q6_K and IQ4_XS.
// Each sub-block gets its error-minimising scale (and min) from quant_fit; the
// super-block scale maps the largest of them onto the integer scale range; each
// sub-block then picks the stored integer scale (+-1 around the rounded one) and
// elements that minimise its squared error; finally the super-block scales are
// refitted by least squares and kept when that lowers the error.
#include <cmath>
#include <cstring>

#include "llmos/common/dtype.hpp"
#include "llmos/common/fp16.hpp"
#include "quant_encode_internal.hpp"
#include "quant_fit.hpp"

namespace llmos::quant_detail {
namespace {

template <class Block>
void store(void* dst, int64_t k, const Block& b) {
  std::memcpy(static_cast<uint8_t*>(dst) + size_t(k) * sizeof(Block), &b, sizeof b);
}

float f16_round(float v) { return f16_to_f32(f32_to_f16(v)); }

int round_clamp(float v, int lo, int hi) {
  const float r = std::nearbyint(v);
  if (!(r >= float(lo))) return lo;
  if (r > float(hi)) return hi;
  return int(r);
}

// ---- affine super-blocks: x = d * ls * q - dmin * lm (Q2_K, Q4_K, Q5_K) ------

struct AffineSuper {
  float d = 0, dmin = 0;  // f16-exact
  int ls[16] = {}, lm[16] = {};
  uint8_t q[kSuperBlock] = {};
};

// Picks each sub-block's integer scale/min and elements for fixed d, dmin.
double assign_affine(const float* x, int nsub, int qmax, int smax, const float* sc,
                     const float* mn, AffineSuper& s) {
  const int len = kSuperBlock / nsub;
  double total = 0;
  uint8_t tmp[32];
  for (int j = 0; j < nsub; ++j) {
    const float* xs = x + j * len;
    const int a0 = s.d > 0 ? round_clamp(sc[j] / s.d, 0, smax) : 0;
    const int b0 = s.dmin > 0 ? round_clamp(mn[j] / s.dmin, 0, smax) : 0;
    double best = INFINITY;
    for (int a = a0 - 1; a <= a0 + 1; ++a) {
      if (a < 0 || a > smax) continue;
      for (int b = b0 - 1; b <= b0 + 1; ++b) {
        if (b < 0 || b > smax) continue;
        const float dd = s.d * float(a), mm = -(s.dmin * float(b));
        round_affine(xs, len, dd, mm, qmax, tmp);
        const double e = sse_affine(xs, len, dd, mm, tmp);
        if (e < best) {
          best = e;
          s.ls[j] = a;
          s.lm[j] = b;
          std::memcpy(s.q + j * len, tmp, size_t(len));
        }
      }
    }
    total += best;
  }
  return total;
}

AffineSuper encode_affine(const float* x, int nsub, int qmax, int smax) {
  const int len = kSuperBlock / nsub;
  float sc[16], mn[16], max_sc = 0, max_mn = 0;
  AffineSuper s;
  for (int j = 0; j < nsub; ++j) {
    const AffineFit f = fit_affine(x + j * len, len, qmax, true, s.q + j * len);
    sc[j] = f.d;
    mn[j] = -f.m;
    max_sc = std::fmax(max_sc, sc[j]);
    max_mn = std::fmax(max_mn, mn[j]);
  }
  s.d = f16_round(max_sc / float(smax));
  s.dmin = f16_round(max_mn / float(smax));
  const double e0 = assign_affine(x, nsub, qmax, smax, sc, mn, s);
  // Least-squares (d, dmin) for the chosen integers: x = d * A - dmin * B.
  double aa = 0, ab = 0, bb = 0, xa = 0, xb = 0;
  for (int i = 0; i < kSuperBlock; ++i) {
    const double a = double(s.ls[i / len]) * s.q[i], b = s.lm[i / len];
    aa += a * a;
    ab += a * b;
    bb += b * b;
    xa += x[i] * a;
    xb += x[i] * b;
  }
  const double det = aa * bb - ab * ab;
  if (det > 0) {
    AffineSuper t = s;
    const double d = (xa * bb - xb * ab) / det;
    const double dmin = -(aa * xb - ab * xa) / det;
    if (d > 0 && dmin >= 0) {
      t.d = f16_round(float(d));
      t.dmin = f16_round(float(dmin));
      if (assign_affine(x, nsub, qmax, smax, sc, mn, t) < e0) s = t;
    }
  }
  return s;
}

// ---- symmetric super-blocks: x = d * ls * v(q) (Q3_K, Q6_K, IQ4_XS) ----------

struct SymSuper {
  float d = 0;  // f16-exact
  int ls[16] = {};
  int8_t q[kSuperBlock] = {};  // the signed level, or the IQ4 table index
};

struct SymKind {
  int nsub, qmin, qmax, smin, smax;
  bool iq4;
  float value(int8_t q) const { return iq4 ? float(kIq4nlValues[q]) : float(q); }
  double round_sse(const float* x, int len, float dd, int8_t* q) const {
    if (iq4) {
      uint8_t u[32];
      round_iq4(x, len, dd, u);
      for (int i = 0; i < len; ++i) q[i] = int8_t(u[i]);
      return sse_iq4(x, len, dd, u);
    }
    round_symmetric(x, len, dd, qmin, qmax, q);
    return sse_symmetric(x, len, dd, q);
  }
  float fit(const float* x, int len, int8_t* q) const {
    if (iq4) {
      uint8_t u[32];
      const float d = fit_iq4(x, len, u);
      for (int i = 0; i < len; ++i) q[i] = int8_t(u[i]);
      return d;
    }
    return fit_symmetric(x, len, qmin, qmax, q);
  }
};

double assign_symmetric(const float* x, const SymKind& k, const float* sc, SymSuper& s) {
  const int len = kSuperBlock / k.nsub;
  double total = 0;
  int8_t tmp[32];
  for (int j = 0; j < k.nsub; ++j) {
    const float* xs = x + j * len;
    const int a0 = s.d != 0 ? round_clamp(sc[j] / s.d, k.smin, k.smax) : 0;
    double best = INFINITY;
    for (int a = a0 - 1; a <= a0 + 1; ++a) {
      if (a < k.smin || a > k.smax) continue;
      const double e = k.round_sse(xs, len, s.d * float(a), tmp);
      if (e < best) {
        best = e;
        s.ls[j] = a;
        std::memcpy(s.q + j * len, tmp, size_t(len));
      }
    }
    total += best;
  }
  return total;
}

SymSuper encode_symmetric(const float* x, const SymKind& k) {
  const int len = kSuperBlock / k.nsub;
  float sc[16], vmax = 0;
  SymSuper s;
  for (int j = 0; j < k.nsub; ++j) {
    sc[j] = k.fit(x + j * len, len, s.q + j * len);
    if (std::fabs(sc[j]) > std::fabs(vmax)) vmax = sc[j];
  }
  // A sub-block whose levels also fit negated may take either sign: give it the
  // sign of the largest scale so that both share one end of the integer range.
  for (int j = 0; j < k.nsub && !k.iq4; ++j) {
    if ((sc[j] < 0) == (vmax < 0)) continue;
    bool fits = true;
    for (int i = 0; i < len; ++i) fits = fits && -s.q[j * len + i] >= k.qmin && -s.q[j * len + i] <= k.qmax;
    if (fits) sc[j] = -sc[j];
  }
  // The largest scale takes one end of the integer range: the negative end has
  // one step more, the positive one leaves it to scales of the other sign.
  s.d = f16_round(vmax / float(k.smin));
  double e0 = assign_symmetric(x, k, sc, s);
  {
    SymSuper t = s;
    t.d = f16_round(vmax / float(k.smax));
    const double e1 = assign_symmetric(x, k, sc, t);
    if (e1 < e0) {
      s = t;
      e0 = e1;
    }
  }
  double aa = 0, xa = 0;
  for (int i = 0; i < kSuperBlock; ++i) {
    const double a = double(s.ls[i / len]) * k.value(s.q[i]);
    aa += a * a;
    xa += x[i] * a;
  }
  if (aa > 0) {
    SymSuper t = s;
    t.d = f16_round(float(xa / aa));
    if (t.d != 0 && assign_symmetric(x, k, sc, t) < e0) s = t;
  }
  return s;
}

// Element i = 128h + 32j + l of a 2-bit field: bits 2j of byte 32h + l.
void pack_2bit(const uint8_t* q, uint8_t* qs) {
  std::memset(qs, 0, kSuperBlock / 4);
  for (int i = 0; i < kSuperBlock; ++i) {
    const int h = i / 128, j = (i % 128) / 32, l = i % 32;
    qs[32 * h + l] = uint8_t(qs[32 * h + l] | ((q[i] & 3) << (2 * j)));
  }
}

// Q4_K / Q5_K 6-bit scales and mins (the inverse of kquant_scale_min).
void pack_scale_min(const int* ls, const int* lm, uint8_t* out) {
  for (int j = 0; j < 4; ++j) {
    out[j] = uint8_t((ls[j] & 63) | ((ls[j + 4] >> 4) << 6));
    out[j + 4] = uint8_t((lm[j] & 63) | ((lm[j + 4] >> 4) << 6));
    out[j + 8] = uint8_t((ls[j + 4] & 15) | ((lm[j + 4] & 15) << 4));
  }
}

// Sub-block s of 32: nibble s % 2 of byte 32 * (s / 2) + l.
void pack_4bit_k(const uint8_t* q, uint8_t* qs) {
  std::memset(qs, 0, kSuperBlock / 2);
  for (int i = 0; i < kSuperBlock; ++i) {
    const int s = i / 32, l = i % 32;
    qs[32 * (s / 2) + l] = uint8_t(qs[32 * (s / 2) + l] | ((q[i] & 15) << (4 * (s % 2))));
  }
}

}  // namespace

void quantize_q2_k(const float* x, void* dst, int64_t n) {
  for (int64_t k = 0; k < n / kSuperBlock; ++k) {
    const AffineSuper s = encode_affine(x + k * kSuperBlock, 16, 3, 15);
    BlockQ2_K b{};
    b.d = f32_to_f16(s.d);
    b.dmin = f32_to_f16(s.dmin);
    for (int j = 0; j < 16; ++j) b.scales[j] = uint8_t(s.ls[j] | (s.lm[j] << 4));
    pack_2bit(s.q, b.qs);
    store(dst, k, b);
  }
}

void quantize_q4_k(const float* x, void* dst, int64_t n) {
  for (int64_t k = 0; k < n / kSuperBlock; ++k) {
    const AffineSuper s = encode_affine(x + k * kSuperBlock, 8, 15, 63);
    BlockQ4_K b{};
    b.d = f32_to_f16(s.d);
    b.dmin = f32_to_f16(s.dmin);
    pack_scale_min(s.ls, s.lm, b.scales);
    pack_4bit_k(s.q, b.qs);
    store(dst, k, b);
  }
}

void quantize_q5_k(const float* x, void* dst, int64_t n) {
  for (int64_t k = 0; k < n / kSuperBlock; ++k) {
    const AffineSuper s = encode_affine(x + k * kSuperBlock, 8, 31, 63);
    BlockQ5_K b{};
    b.d = f32_to_f16(s.d);
    b.dmin = f32_to_f16(s.dmin);
    pack_scale_min(s.ls, s.lm, b.scales);
    pack_4bit_k(s.q, b.qs);
    for (int i = 0; i < kSuperBlock; ++i)  // fifth bit: bit s of qh[l] for element 32s + l
      b.qh[i % 32] = uint8_t(b.qh[i % 32] | (((s.q[i] >> 4) & 1) << (i / 32)));
    store(dst, k, b);
  }
}

void quantize_q3_k(const float* x, void* dst, int64_t n) {
  const SymKind kind{16, -4, 3, -32, 31, false};
  for (int64_t k = 0; k < n / kSuperBlock; ++k) {
    const SymSuper s = encode_symmetric(x + k * kSuperBlock, kind);
    BlockQ3_K b{};
    b.d = f32_to_f16(s.d);
    uint8_t q3[kSuperBlock];
    for (int i = 0; i < kSuperBlock; ++i) q3[i] = uint8_t(s.q[i] + 4);
    pack_2bit(q3, b.qs);
    for (int i = 0; i < kSuperBlock; ++i) {  // a set bit keeps the 4 the low bits lack
      const int h = i / 128, j = (i % 128) / 32, l = i % 32;
      b.hmask[l] = uint8_t(b.hmask[l] | ((q3[i] >> 2) << (4 * h + j)));
    }
    for (int j = 0; j < 16; ++j) {
      const int v = s.ls[j] + 32;
      b.scales[j % 8] = uint8_t(b.scales[j % 8] | ((v & 15) << (j < 8 ? 0 : 4)));
      b.scales[8 + j % 4] = uint8_t(b.scales[8 + j % 4] | ((v >> 4) << (2 * (j / 4))));
    }
    store(dst, k, b);
  }
}

void quantize_q6_k(const float* x, void* dst, int64_t n) {
  const SymKind kind{16, -32, 31, -128, 127, false};
  for (int64_t k = 0; k < n / kSuperBlock; ++k) {
    const SymSuper s = encode_symmetric(x + k * kSuperBlock, kind);
    BlockQ6_K b{};
    b.d = f32_to_f16(s.d);
    for (int j = 0; j < 16; ++j) b.scales[j] = int8_t(s.ls[j]);
    for (int i = 0; i < kSuperBlock; ++i) {
      const int q6 = s.q[i] + 32;
      const int h = i / 128, j = (i % 128) / 32, l = i % 32;
      uint8_t& lb = b.ql[64 * h + 32 * (j % 2) + l];
      lb = uint8_t(lb | ((q6 & 15) << (j < 2 ? 0 : 4)));
      b.qh[32 * h + l] = uint8_t(b.qh[32 * h + l] | ((q6 >> 4) << (2 * j)));
    }
    store(dst, k, b);
  }
}

void quantize_iq4_xs(const float* x, void* dst, int64_t n) {
  const SymKind kind{8, 0, 15, -32, 31, true};
  for (int64_t k = 0; k < n / kSuperBlock; ++k) {
    const SymSuper s = encode_symmetric(x + k * kSuperBlock, kind);
    BlockIQ4_XS b{};
    b.d = f32_to_f16(s.d);
    uint16_t sh = 0;
    for (int j = 0; j < 8; ++j) {
      const int v = s.ls[j] + 32;
      b.scales_l[j / 2] = uint8_t(b.scales_l[j / 2] | ((v & 15) << (4 * (j % 2))));
      sh = uint16_t(sh | ((v >> 4) << (2 * j)));
      for (int l = 0; l < 16; ++l)
        b.qs[16 * j + l] = uint8_t(s.q[32 * j + l] | (s.q[32 * j + l + 16] << 4));
    }
    b.scales_h = sh;
    store(dst, k, b);
  }
}

}  // namespace llmos::quant_detail
