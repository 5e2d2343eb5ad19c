// Which SIMD instruction sets this CPU and its OS can run, and how the
// LLMOS_CPU_ISA environment variable caps the choice. Pure functions of the
// hardware and the environment: thread-safe.
#pragma once
#include <optional>
#include <string_view>

#include "llmos/common/status.hpp"

namespace llmos::cpu {

// Kernel levels, each a superset of the one before.
enum class IsaLevel : int {
  kScalar = 0,      // portable C++ (any CPU, any architecture)
  kAvx2 = 1,        // AVX2 + FMA + F16C
  kAvx512 = 2,      // + AVX-512 F/BW/VL/DQ (integer kernels stay on AVX2)
  kAvx512Vnni = 3,  // + AVX-512 VNNI (vpdpbusd integer kernels)
  kAmx = 4,         // + AMX-TILE/AMX-INT8 (tile matmul for many tokens)
};

// "scalar", "avx2", "avx512", "avx512-vnni", "amx".
std::string_view isa_level_name(IsaLevel level);

// Accepts "scalar", "avx2", "avx512" (the best AVX-512 level: with VNNI where
// present), "avx512-novnni", "avx512-vnni" and "amx".
std::optional<IsaLevel> parse_isa_level(std::string_view name);

// The best level the CPU supports with the OS saving the wide registers
// (cpuid + xgetbv). kScalar off x86-64. Where AMX is present on Linux this
// asks the kernel for the process's permission to use the tile data state
// (idempotent; without it AMX counts as absent).
IsaLevel detect_isa_level();

// detect_isa_level(), capped by LLMOS_CPU_ISA when set. An unknown value is an
// invalid-argument error that names the variable and the accepted values.
Result<IsaLevel> isa_level_from_env();

}  // namespace llmos::cpu
