#include "cpu_features.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace llmos::cpu {

std::string_view isa_level_name(IsaLevel level) {
  switch (level) {
    case IsaLevel::kScalar: return "scalar";
    case IsaLevel::kAvx2: return "avx2";
    case IsaLevel::kAvx512: return "avx512";
    case IsaLevel::kAvx512Vnni: return "avx512-vnni";
    case IsaLevel::kAmx: return "amx";
  }
  return "?";
}

std::optional<IsaLevel> parse_isa_level(std::string_view name) {
  if (name == "scalar") return IsaLevel::kScalar;
  if (name == "avx2") return IsaLevel::kAvx2;
  if (name == "avx512" || name == "avx512-vnni") return IsaLevel::kAvx512Vnni;
  if (name == "avx512-novnni") return IsaLevel::kAvx512;
  if (name == "amx") return IsaLevel::kAmx;
  return std::nullopt;
}

#if defined(__x86_64__)
namespace {

uint64_t read_xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}

// Linux gives a process the AMX tile data state only on request.
bool request_amx_permission() {
#if defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

}  // namespace

IsaLevel detect_isa_level() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return IsaLevel::kScalar;
  const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28),
             f16c = c & (1u << 29);
  if (!osxsave || !avx) return IsaLevel::kScalar;
  const uint64_t xcr0 = read_xcr0();
  if ((xcr0 & 0x6) != 0x6) return IsaLevel::kScalar;  // XMM and YMM state saved by the OS
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return IsaLevel::kScalar;
  const bool avx2 = b & (1u << 5);
  if (!(avx2 && fma && f16c)) return IsaLevel::kScalar;
  const bool f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
  const bool vnni = c & (1u << 11);
  const bool zmm_state = (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM_Hi256, Hi16_ZMM
  if (!(f && dq && bw && vl && zmm_state)) return IsaLevel::kAvx2;
  if (!vnni) return IsaLevel::kAvx512;
  const bool amx_tile = d & (1u << 24), amx_int8 = d & (1u << 25);
  const bool tile_state = (xcr0 & 0x60000) == 0x60000;  // XTILECFG, XTILEDATA
  if (amx_tile && amx_int8 && tile_state && request_amx_permission()) return IsaLevel::kAmx;
  return IsaLevel::kAvx512Vnni;
}
#else
IsaLevel detect_isa_level() { return IsaLevel::kScalar; }
#endif

Result<IsaLevel> isa_level_from_env() {
  const IsaLevel hw = detect_isa_level();
  const char* env = std::getenv("LLMOS_CPU_ISA");
  if (!env || !*env) return hw;
  const auto cap = parse_isa_level(env);
  if (!cap) {
    return invalid_argument(std::string("LLMOS_CPU_ISA=") + env +
                            ": expected scalar, avx2, avx512, avx512-novnni or amx");
  }
  return std::min(hw, *cap);
}

}  // namespace llmos::cpu
