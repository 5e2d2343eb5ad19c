// Scale searches for the quantizers (see quant_fit.hpp).
#include "quant_fit.hpp"

#include <cmath>
#include <limits>

#include "llmos/common/dtype.hpp"

namespace llmos::quant_detail {
namespace {

constexpr int kGrid = 6;  // candidates per range end: the end level +- kGrid tenths

int clamp_int(float v, int lo, int hi) {
  const float r = std::nearbyint(v);
  if (!(r >= float(lo))) return lo;  // also catches NaN
  if (r > float(hi)) return hi;
  return int(r);
}

// Least-squares step for fixed integers: argmin_d sum (x - d q)^2.
float refit_symmetric(const float* x, int n, const int8_t* q) {
  double sxq = 0, sqq = 0;
  for (int i = 0; i < n; ++i) {
    sxq += double(x[i]) * q[i];
    sqq += double(q[i]) * q[i];
  }
  return sqq > 0 ? float(sxq / sqq) : 0.0f;
}

// Least-squares (d, m) for fixed integers, with m <= 0 when asked.
AffineFit refit_affine(const float* x, int n, const uint8_t* q, bool nonpositive_m) {
  double sq = 0, sqq = 0, sx = 0, sxq = 0;
  for (int i = 0; i < n; ++i) {
    sq += q[i];
    sqq += double(q[i]) * q[i];
    sx += x[i];
    sxq += double(x[i]) * q[i];
  }
  AffineFit f;
  const double det = n * sqq - sq * sq;
  if (det > 0) {
    f.d = float((n * sxq - sq * sx) / det);
    f.m = float((sqq * sx - sq * sxq) / det);
  } else {
    f.m = float(sx / n);
  }
  if (nonpositive_m && f.m > 0) {
    f.m = 0;
    f.d = sqq > 0 ? float(sxq / sqq) : 0.0f;
  }
  if (f.d < 0) f.d = 0;
  return f;
}

float refit_iq4(const float* x, int n, const uint8_t* q) {
  double sxt = 0, stt = 0;
  for (int i = 0; i < n; ++i) {
    const double t = kIq4nlValues[q[i]];
    sxt += x[i] * t;
    stt += t * t;
  }
  return stt > 0 ? float(sxt / stt) : 0.0f;
}

}  // namespace

int iq4_nearest(float v) {
  int idx = 0;
  for (int i = 0; i < 15; ++i)
    if (v > 0.5f * float(kIq4nlValues[i] + kIq4nlValues[i + 1])) idx = i + 1;
  return idx;
}

void round_symmetric(const float* x, int n, float d, int qmin, int qmax, int8_t* q) {
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int i = 0; i < n; ++i) q[i] = int8_t(clamp_int(x[i] * id, qmin, qmax));
}

void round_affine(const float* x, int n, float d, float m, int qmax, uint8_t* q) {
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int i = 0; i < n; ++i) q[i] = uint8_t(clamp_int((x[i] - m) * id, 0, qmax));
}

void round_iq4(const float* x, int n, float d, uint8_t* q) {
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int i = 0; i < n; ++i) q[i] = uint8_t(iq4_nearest(x[i] * id));
}

double sse_symmetric(const float* x, int n, float d, const int8_t* q) {
  double e = 0;
  for (int i = 0; i < n; ++i) {
    const double r = double(x[i]) - double(d) * q[i];
    e += r * r;
  }
  return e;
}

double sse_affine(const float* x, int n, float d, float m, const uint8_t* q) {
  double e = 0;
  for (int i = 0; i < n; ++i) {
    const double r = double(x[i]) - (double(d) * q[i] + m);
    e += r * r;
  }
  return e;
}

double sse_iq4(const float* x, int n, float d, const uint8_t* q) {
  double e = 0;
  for (int i = 0; i < n; ++i) {
    const double r = double(x[i]) - double(d) * kIq4nlValues[q[i]];
    e += r * r;
  }
  return e;
}

float fit_symmetric(const float* x, int n, int qmin, int qmax, int8_t* q) {
  float amax = 0.0f, vmax = 0.0f;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      vmax = x[i];
    }
  if (amax == 0.0f) {
    for (int i = 0; i < n; ++i) q[i] = 0;
    return 0.0f;
  }
  int8_t tmp[256];
  double best = std::numeric_limits<double>::infinity();
  float best_d = 0.0f;
  for (int end : {qmin, qmax}) {
    for (int t = -kGrid; t <= kGrid; ++t) {
      const float level = float(end) + (end < 0 ? -0.1f : 0.1f) * float(t);
      if (std::fabs(level) < 0.5f) continue;
      float d = vmax / level;
      round_symmetric(x, n, d, qmin, qmax, tmp);
      d = refit_symmetric(x, n, tmp);
      round_symmetric(x, n, d, qmin, qmax, tmp);
      d = refit_symmetric(x, n, tmp);
      const double e = sse_symmetric(x, n, d, tmp);
      if (e < best) {
        best = e;
        best_d = d;
        for (int i = 0; i < n; ++i) q[i] = tmp[i];
      }
    }
  }
  return best_d;
}

AffineFit fit_affine(const float* x, int n, int qmax, bool nonpositive_m, uint8_t* q) {
  float mn = x[0], mx = x[0];
  for (int i = 1; i < n; ++i) {
    mn = std::fmin(mn, x[i]);
    mx = std::fmax(mx, x[i]);
  }
  if (nonpositive_m && mn > 0) mn = 0;
  if (!(mx > mn)) {
    for (int i = 0; i < n; ++i) q[i] = 0;
    return AffineFit{0.0f, mn};
  }
  uint8_t tmp[256];
  double best = std::numeric_limits<double>::infinity();
  AffineFit best_fit{(mx - mn) / float(qmax), mn};
  for (int t = -kGrid; t <= 2 * kGrid; ++t) {
    AffineFit f{(mx - mn) / (float(qmax) + 0.1f * float(t)), mn};
    for (int pass = 0; pass < 2; ++pass) {
      round_affine(x, n, f.d, f.m, qmax, tmp);
      f = refit_affine(x, n, tmp, nonpositive_m);
    }
    const double e = sse_affine(x, n, f.d, f.m, tmp);
    if (e < best) {
      best = e;
      best_fit = f;
      for (int i = 0; i < n; ++i) q[i] = tmp[i];
    }
  }
  return best_fit;
}

float fit_iq4(const float* x, int n, uint8_t* q) {
  float amax = 0.0f, vmax = 0.0f;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      vmax = x[i];
    }
  if (amax == 0.0f) {
    for (int i = 0; i < n; ++i) q[i] = uint8_t(iq4_nearest(0.0f));
    return 0.0f;
  }
  uint8_t tmp[256];
  double best = std::numeric_limits<double>::infinity();
  float best_d = 0.0f;
  for (int end : {int(kIq4nlValues[0]), int(kIq4nlValues[15])}) {
    for (int t = -kGrid; t <= kGrid; ++t) {
      float d = vmax / (float(end) * (1.0f + 0.02f * float(t)));
      round_iq4(x, n, d, tmp);
      d = refit_iq4(x, n, tmp);
      round_iq4(x, n, d, tmp);
      d = refit_iq4(x, n, tmp);
      const double e = sse_iq4(x, n, d, tmp);
      if (e < best) {
        best = e;
        best_d = d;
        for (int i = 0; i < n; ++i) q[i] = tmp[i];
      }
    }
  }
  return best_d;
}

}  // namespace llmos::quant_detail
