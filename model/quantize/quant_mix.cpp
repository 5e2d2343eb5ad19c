// Per-tensor types of the quantization mixes (see quant_mix.hpp). The rules are
// llama-quantize's, stated per role: which layers of attn_v and ffn_down get
// more bits in the _M mixes, and what a row length that fits no block falls back to.
#include "llmos/quantize/quant_mix.hpp"

#include <cctype>
#include <charconv>
#include <string>

namespace llmos::quantize {
namespace {

struct MixInfo {
  Mix mix;
  std::string_view name;
  uint32_t file_type;
  DType base;
};

constexpr MixInfo kMixes[] = {
    {Mix::kQ8_0, "q8_0", 7, DType::kQ8_0},       {Mix::kQ4_0, "q4_0", 2, DType::kQ4_0},
    {Mix::kQ4_1, "q4_1", 3, DType::kQ4_1},       {Mix::kQ5_0, "q5_0", 8, DType::kQ5_0},
    {Mix::kQ5_1, "q5_1", 9, DType::kQ5_1},       {Mix::kQ2_K, "q2_k", 10, DType::kQ2_K},
    {Mix::kQ3_K_M, "q3_k_m", 12, DType::kQ3_K},  {Mix::kQ4_K_S, "q4_k_s", 14, DType::kQ4_K},
    {Mix::kQ4_K_M, "q4_k_m", 15, DType::kQ4_K},  {Mix::kQ5_K_M, "q5_k_m", 17, DType::kQ5_K},
    {Mix::kQ6_K, "q6_k", 18, DType::kQ6_K},      {Mix::kIQ4_XS, "iq4_xs", 30, DType::kIQ4_XS},
};

const MixInfo& info(Mix mix) {
  for (const auto& m : kMixes)
    if (m.mix == mix) return m;
  return kMixes[0];
}

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// "blk.12.attn_v.weight" -> 12 and role "attn_v"; -1 and the whole name otherwise.
struct TensorRole {
  int layer = -1;
  std::string_view role;
};
TensorRole role_of(std::string_view name) {
  TensorRole r;
  if (ends_with(name, ".weight")) name.remove_suffix(7);
  r.role = name;
  if (name.substr(0, 4) != "blk.") return r;
  const auto dot = name.find('.', 4);
  if (dot == std::string_view::npos) return r;
  int layer = 0;
  const auto [p, ec] = std::from_chars(name.data() + 4, name.data() + dot, layer);
  if (ec != std::errc() || p != name.data() + dot) return r;
  r.layer = layer;
  r.role = name.substr(dot + 1);
  return r;
}

// llama.cpp gives these layers of attn_v / ffn_down more bits in the _M mixes:
// the first and last eighth and every third layer between.
bool more_bits_layer(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

DType fallback(DType t) {
  switch (t) {
    case DType::kQ2_K:
    case DType::kQ3_K: return DType::kQ4_0;
    case DType::kQ4_K: return DType::kQ5_0;
    case DType::kQ5_K: return DType::kQ5_1;
    case DType::kQ6_K: return DType::kQ8_0;
    case DType::kIQ4_XS: return DType::kIQ4_NL;
    default: return t;
  }
}

DType mixed_type(Mix mix, const ModelShape& s, std::string_view name) {
  const DType base = info(mix).base;
  const TensorRole r = role_of(name);
  const int gqa = s.n_kv_heads > 0 ? s.n_heads / s.n_kv_heads : 1;
  if (name == "output.weight" || (!s.has_output && name == "token_embd.weight"))
    return base == DType::kQ8_0 ? DType::kQ8_0 : DType::kQ6_K;
  if (r.role == "attn_v") {
    switch (mix) {
      case Mix::kQ2_K: return gqa >= 4 ? DType::kQ4_K : DType::kQ3_K;
      case Mix::kQ3_K_M: return r.layer < 2 ? DType::kQ5_K : DType::kQ4_K;
      case Mix::kIQ4_XS: return gqa >= 4 ? DType::kQ5_K : base;
      case Mix::kQ4_K_M:
      case Mix::kQ5_K_M: return more_bits_layer(r.layer, s.n_layers) ? DType::kQ6_K : base;
      case Mix::kQ4_K_S: return r.layer < 4 ? DType::kQ5_K : base;
      default: return base;
    }
  }
  if (r.role == "ffn_down") {
    switch (mix) {
      case Mix::kQ2_K: return DType::kQ3_K;
      case Mix::kQ3_K_M: return r.layer < s.n_layers / 16 ? DType::kQ5_K : DType::kQ4_K;
      case Mix::kQ4_K_M:
      case Mix::kQ5_K_M: return more_bits_layer(r.layer, s.n_layers) ? DType::kQ6_K : base;
      case Mix::kQ4_K_S:
      case Mix::kIQ4_XS: return r.layer < s.n_layers / 8 ? DType::kQ5_K : base;
      default: return base;
    }
  }
  if (r.role == "attn_output") {
    switch (mix) {
      case Mix::kQ2_K: return DType::kQ3_K;
      case Mix::kQ3_K_M: return DType::kQ4_K;
      default: return base;
    }
  }
  return base;
}

}  // namespace

Result<Mix> parse_mix(std::string_view name) {
  std::string lower(name);
  for (auto& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& m : kMixes)
    if (lower == m.name) return m.mix;
  return invalid_argument("unknown quantization type '" + std::string(name) + "' (one of " +
                          std::string(mix_names()) + ")");
}

std::string_view mix_name(Mix mix) { return info(mix).name; }

std::string_view mix_names() {
  return "q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k_m, q4_k_s, q4_k_m, q5_k_m, q6_k, iq4_xs";
}

uint32_t mix_file_type(Mix mix) { return info(mix).file_type; }
DType mix_base_type(Mix mix) { return info(mix).base; }

bool is_quantizable(std::string_view name, std::span<const int64_t> dims) {
  return dims.size() >= 2 && ends_with(name, ".weight");
}

std::optional<DType> tensor_type(Mix mix, const ModelShape& shape, std::string_view name,
                                 std::span<const int64_t> dims) {
  if (!is_quantizable(name, dims)) return std::nullopt;
  DType t = mixed_type(mix, shape, name);
  if (dims[0] % dtype_block_elems(t) != 0) t = fallback(t);
  if (dims[0] % dtype_block_elems(t) != 0) t = DType::kF16;
  return t;
}

}  // namespace llmos::quantize
