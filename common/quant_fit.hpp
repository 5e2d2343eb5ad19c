// Scale searches behind the quantizers (quant_encode_*.cpp): for a short run of
// values, the scale (and offset) whose rounded integers minimise the plain
// squared error, found by trying a grid of candidate ranges, refitting each by
// least squares and keeping the best. Pure functions on caller buffers: thread-safe.
#pragma once
#include <cstdint>

namespace llmos::quant_detail {

// x ~ d * q with integer q in [qmin, qmax] (qmin < 0 < qmax). Writes q, returns d
// (0 with all q = 0 for an all-zero run).
float fit_symmetric(const float* x, int n, int qmin, int qmax, int8_t* q);

// x ~ d * q + m with q in [0, qmax] and d >= 0. With nonpositive_m the offset is
// kept <= 0 (the K-quants store it as a subtracted non-negative min). Writes q.
struct AffineFit {
  float d = 0.0f;
  float m = 0.0f;
};
AffineFit fit_affine(const float* x, int n, int qmax, bool nonpositive_m, uint8_t* q);

// x ~ d * table[q] with q in [0, 16) over the non-linear IQ4 table. Writes q, returns d.
float fit_iq4(const float* x, int n, uint8_t* q);

// Rounding with the given step/offset, clamped; used after scales are stored.
void round_symmetric(const float* x, int n, float d, int qmin, int qmax, int8_t* q);
void round_affine(const float* x, int n, float d, float m, int qmax, uint8_t* q);
void round_iq4(const float* x, int n, float d, uint8_t* q);

// Squared errors of the three forms.
double sse_symmetric(const float* x, int n, float d, const int8_t* q);
double sse_affine(const float* x, int n, float d, float m, const uint8_t* q);
double sse_iq4(const float* x, int n, float d, const uint8_t* q);

// Index of the IQ4 table value nearest v.
int iq4_nearest(float v);

}  // namespace llmos::quant_detail
