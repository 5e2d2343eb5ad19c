// Element types of weights, KV cache and activations, with GGML's numbering
// (the values stored in GGUF tensor infos) and the quantized block layouts.
// Pure data and constexpr helpers: thread-safe.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace llmos {

enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ8_0 = 8,
  kBF16 = 30,
};

inline constexpr int kQuantBlock = 32;  // elements per Q8_0 / Q4_0 block

// Q8_0: 32 int8 values sharing one f16 scale: x[i] = d * qs[i].
struct BlockQ8_0 {
  uint16_t d;  // f16 bits
  int8_t qs[kQuantBlock];
};
static_assert(sizeof(BlockQ8_0) == 34);

// Q4_0: 32 4-bit values sharing one f16 scale. Byte j holds element j in its
// low nibble and element j + 16 in its high nibble: x = d * (nibble - 8).
struct BlockQ4_0 {
  uint16_t d;  // f16 bits
  uint8_t qs[kQuantBlock / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// Elements per storage block (1 for plain floats).
constexpr int64_t dtype_block_elems(DType t) {
  return (t == DType::kQ8_0 || t == DType::kQ4_0) ? kQuantBlock : 1;
}
// Bytes per storage block.
constexpr int64_t dtype_block_bytes(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kQ8_0: return sizeof(BlockQ8_0);
    case DType::kQ4_0: return sizeof(BlockQ4_0);
  }
  return 0;
}
// Bytes of one row of `n` elements; REQUIRES: n is a multiple of dtype_block_elems(t).
constexpr int64_t dtype_row_bytes(DType t, int64_t n) {
  return n / dtype_block_elems(t) * dtype_block_bytes(t);
}

// The DType for a GGML type id, or nullopt when llmos does not support it.
constexpr std::optional<DType> dtype_from_ggml(uint32_t id) {
  switch (id) {
    case 0: return DType::kF32;
    case 1: return DType::kF16;
    case 2: return DType::kQ4_0;
    case 8: return DType::kQ8_0;
    case 30: return DType::kBF16;
    default: return std::nullopt;
  }
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kQ8_0: return "q8_0";
    case DType::kQ4_0: return "q4_0";
  }
  return "?";
}

// The name GGML gives a type id (for error messages about types we lack).
std::string_view ggml_type_name(uint32_t id);

}  // namespace llmos
