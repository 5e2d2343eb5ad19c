// WeightRng: the fast, seeded generator behind synthetic weights (splitmix64).
// Same seed -> same sequence on every platform. Not thread-safe: one per tensor.
#pragma once
#include <cstdint>
#include <string_view>

namespace llmos::modelgen {

class WeightRng {
 public:
  explicit WeightRng(uint64_t seed) : state_(seed) {}

  uint64_t next_u64() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  // Approximately standard normal: the sum of four 16-bit uniforms (Irwin-Hall),
  // centred and scaled to mean 0, variance 1; bounded by +-3.47.
  float next_normal() {
    const uint64_t r = next_u64();
    const uint32_t sum = uint32_t(r & 0xffff) + uint32_t((r >> 16) & 0xffff) +
                         uint32_t((r >> 32) & 0xffff) + uint32_t(r >> 48) + 2;  // + 4 * 0.5
    return (float(sum) * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
  }

 private:
  uint64_t state_;
};

// A seed for one tensor: the model seed mixed with the tensor's name (FNV-1a), so
// each tensor's values do not depend on which tensors come before it.
inline uint64_t tensor_seed(uint64_t model_seed, std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : name) h = (h ^ uint8_t(c)) * 0x100000001b3ull;
  WeightRng mix(model_seed ^ h);
  return mix.next_u64();
}

}  // namespace llmos::modelgen
