// Constants of the vector exp(x) used by the AVX2 and AVX-512 kernels
// (Cephes-style: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial for e^r;
// relative error ~1e-7). Plain constants: safe to include from any ISA file.
#pragma once

namespace llmos::cpu::simd_exp {

inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f;
inline constexpr float kLn2Lo = -2.12194440e-4f;
// Clamp so that 2^n stays a normal float: n in [-126, 127].
inline constexpr float kMinX = -87.3365447f;
inline constexpr float kMaxX = 88.3762626f;
inline constexpr float kP0 = 1.9875691500e-4f;
inline constexpr float kP1 = 1.3981999507e-3f;
inline constexpr float kP2 = 8.3334519073e-3f;
inline constexpr float kP3 = 4.1665795894e-2f;
inline constexpr float kP4 = 1.6666665459e-1f;
inline constexpr float kP5 = 5.0000001201e-1f;

}  // namespace llmos::cpu::simd_exp
