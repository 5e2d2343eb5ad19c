#include "llmos/modelgen/model_gen.hpp"

#include <algorithm>
#include <thread>
#include <vector>

#include "llmos/common/quant.hpp"
#include "llmos/gguf/gguf_writer.hpp"
#include "llmos/modelgen/synthetic_vocab.hpp"
#include "weight_rng.hpp"

namespace llmos::modelgen {
namespace {

constexpr float kWeightStd = 0.02f;  // keeps activations finite through deep stacks
constexpr float kNormStd = 0.02f;    // norm gains are 1 + this much noise
constexpr size_t kChunkBytes = size_t{1} << 18;

// One weight tensor of the model, ne0 first.
struct TensorShape {
  std::string name;
  int64_t cols;  // ne0
  int64_t rows;  // ne1 (1 for a norm gain)
  bool is_norm;
  int64_t experts = 0;  // ne2 of stacked expert tensors; 0 = 2-D (or 1-D)
  bool is_router = false;  // f32 like the norms, but random around 0
};

bool has_qk_norm(const ModelSpec& s) { return s.architecture == "qwen3" || s.architecture == "qwen3moe"; }

std::vector<TensorShape> model_tensors(const ModelSpec& s) {
  const int64_t dim = s.dim, hd = s.head_dim(), q_dim = int64_t(s.n_heads) * hd;
  const int64_t kv_dim = int64_t(s.n_kv_heads) * hd, ffn = s.ffn_dim;
  std::vector<TensorShape> t;
  t.push_back({"token_embd.weight", dim, s.vocab_size, false});
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    t.push_back({p + "attn_norm.weight", dim, 1, true});
    t.push_back({p + "attn_q.weight", dim, q_dim, false});
    t.push_back({p + "attn_k.weight", dim, kv_dim, false});
    t.push_back({p + "attn_v.weight", dim, kv_dim, false});
    t.push_back({p + "attn_output.weight", q_dim, dim, false});
    if (has_qk_norm(s)) {
      t.push_back({p + "attn_q_norm.weight", hd, 1, true});
      t.push_back({p + "attn_k_norm.weight", hd, 1, true});
    }
    t.push_back({p + "ffn_norm.weight", dim, 1, true});
    if (s.n_experts > 0) {
      const int64_t e = s.n_experts, eff = s.expert_ffn_dim;
      t.push_back({p + "ffn_gate_inp.weight", dim, e, false, 0, true});
      t.push_back({p + "ffn_gate_exps.weight", dim, eff, false, e});
      t.push_back({p + "ffn_up_exps.weight", dim, eff, false, e});
      t.push_back({p + "ffn_down_exps.weight", eff, dim, false, e});
    } else {
      t.push_back({p + "ffn_gate.weight", dim, ffn, false});
      t.push_back({p + "ffn_up.weight", dim, ffn, false});
      t.push_back({p + "ffn_down.weight", ffn, dim, false});
    }
  }
  t.push_back({"output_norm.weight", dim, 1, true});
  if (!s.tied_output) t.push_back({"output.weight", dim, s.vocab_size, false});
  return t;
}


// Streams `rows` rows of `cols` seeded values (mean + std * normal), converted to
// `type`, a chunk of rows at a time.
gguf::TensorDataFn random_rows(DType type, int64_t cols, int64_t rows, uint64_t seed, float mean,
                               float std) {
  return [=](gguf::TensorDataSink& sink) -> Status {
    WeightRng rng(seed);
    const size_t row_bytes = size_t(dtype_row_bytes(type, cols));
    const int64_t rows_per_chunk = std::max<int64_t>(1, int64_t(kChunkBytes / row_bytes));
    std::vector<float> values(size_t(rows_per_chunk) * size_t(cols));  // [rows_per_chunk][cols] f32
    std::vector<uint8_t> chunk(size_t(rows_per_chunk) * row_bytes);  // [rows_per_chunk] rows of `type`
    // The values are drawn in order on this thread; the slow block quantizers
    // (K-quants) then share the chunk's rows between threads.
    const int64_t threads = dtype_block_elems(type) == kSuperBlock
                                ? std::max<int64_t>(1, std::thread::hardware_concurrency())
                                : 1;
    const auto convert = [&](int64_t a, int64_t b) {
      for (int64_t r = a; r < b; ++r)
        quantize_row(type, values.data() + size_t(r * cols), chunk.data() + size_t(r) * row_bytes, cols);
    };
    for (int64_t r0 = 0; r0 < rows; r0 += rows_per_chunk) {
      const int64_t n = std::min(rows_per_chunk, rows - r0);
      for (size_t i = 0; i < size_t(n * cols); ++i) values[i] = mean + std * rng.next_normal();
      const int64_t per = (n + threads - 1) / threads;
      std::vector<std::thread> pool;
      for (int64_t a = per; a < n; a += per) pool.emplace_back(convert, a, std::min(n, a + per));
      convert(0, std::min(n, per));
      for (auto& t : pool) t.join();
      LLMOS_RETURN_IF_ERROR(sink.write(chunk.data(), size_t(n) * row_bytes));
    }
    return ok_status();
  };
}

}  // namespace

Result<ModelSpec> preset_spec(std::string_view name) {
  ModelSpec s;
  if (name == "tiny") {
    s.dim = 64, s.n_layers = 2, s.n_heads = 4, s.n_kv_heads = 2, s.ffn_dim = 192;
    s.vocab_size = 512, s.context_length = 256;
  } else if (name == "110m") {
    s.dim = 768, s.n_layers = 12, s.n_heads = 12, s.n_kv_heads = 12, s.ffn_dim = 2048;
    s.vocab_size = 32000, s.context_length = 1024;
  } else if (name == "1b") {
    s.dim = 2048, s.n_layers = 22, s.n_heads = 32, s.n_kv_heads = 4, s.ffn_dim = 5632;
    s.vocab_size = 32000, s.context_length = 2048;
  } else if (name == "qwen3-0.6b") {
    s.architecture = "qwen3";
    s.dim = 1024, s.n_layers = 28, s.n_heads = 16, s.n_kv_heads = 8, s.key_length = 128, s.ffn_dim = 3072;
    s.vocab_size = kMaxSyntheticVocab, s.context_length = 4096, s.tied_output = true;
    s.rope_freq_base = 1000000.0f, s.rms_eps = 1e-6f;
  } else if (name == "qwen3moe-small") {
    s.architecture = "qwen3moe";
    s.dim = 1024, s.n_layers = 16, s.n_heads = 16, s.n_kv_heads = 4, s.key_length = 128, s.ffn_dim = 3072;
    s.n_experts = 8, s.n_experts_used = 2, s.expert_ffn_dim = 1024;
    s.vocab_size = 32000, s.context_length = 4096;
    s.rope_freq_base = 1000000.0f, s.rms_eps = 1e-6f;
  } else {
    return invalid_argument("unknown preset '" + std::string(name) +
                            "' (expected tiny, 110m, 1b, qwen3-0.6b or qwen3moe-small)");
  }
  s.name = "llmos-synthetic-" + std::string(name);
  return s;
}

Result<DType> parse_weight_type(std::string_view name) {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0})
    if (name == dtype_name(t)) return t;
  return invalid_argument("unknown weight type '" + std::string(name) +
                          "' (expected f32, f16, bf16, q8_0 or q4_0)");
}

uint32_t ggml_file_type(DType type) {
  switch (type) {
    case DType::kF32: return 0;
    case DType::kF16: return 1;
    case DType::kQ4_0: return 2;
    case DType::kQ8_0: return 7;
    case DType::kBF16: return 32;
    default: break;  // other types come only through a mix (quantize::mix_file_type)
  }
  return 0;
}

// Norms and routers stay f32; other matrices take spec.type, or their mix's type.
static DType weight_type(const ModelSpec& spec, const TensorShape& t) {
  if (t.is_norm || t.is_router) return DType::kF32;
  if (!spec.mix) return spec.type;
  const quantize::ModelShape shape{spec.n_layers, spec.n_heads, spec.n_kv_heads, !spec.tied_output};
  const int64_t dims[2] = {t.cols, 2};  // the rules read the row length and that it is a matrix
  return quantize::tensor_type(*spec.mix, shape, t.name, dims).value_or(DType::kF32);
}

Status validate_spec(const ModelSpec& s) {
  const auto bad = [](std::string m) { return invalid_argument(std::move(m)); };
  const auto in_range = [](int v, int lo, int hi) { return v >= lo && v <= hi; };
  if (s.name.empty()) return bad("model name is empty");
  if (!in_range(s.dim, 1, 65536)) return bad("dim " + std::to_string(s.dim) + " is not in [1, 65536]");
  if (!in_range(s.n_layers, 1, 1024)) return bad("layers " + std::to_string(s.n_layers) + " is not in [1, 1024]");
  if (!in_range(s.n_heads, 1, s.dim)) return bad("heads " + std::to_string(s.n_heads) + " is not in [1, dim]");
  if (!in_range(s.n_kv_heads, 1, s.n_heads))
    return bad("kv-heads " + std::to_string(s.n_kv_heads) + " is not in [1, heads]");
  if (!in_range(s.ffn_dim, 1, 1 << 20)) return bad("ffn " + std::to_string(s.ffn_dim) + " is not in [1, 1048576]");
  if (!in_range(s.vocab_size, kFirstPieceId, kMaxSyntheticVocab))
    return bad("vocab " + std::to_string(s.vocab_size) + " is not in [" + std::to_string(kFirstPieceId) +
               ", " + std::to_string(kMaxSyntheticVocab) + "] (3 special + 256 byte tokens at least)");
  if (!in_range(s.context_length, 1, 1 << 24))
    return bad("ctx " + std::to_string(s.context_length) + " is not in [1, 16777216]");
  if (s.architecture != "llama" && s.architecture != "qwen3" && s.architecture != "qwen3moe")
    return bad("architecture '" + s.architecture + "' is not one the synthesizer writes (llama, qwen3, qwen3moe)");
  if (s.key_length < 0 || s.key_length > 4096) return bad("key length " + std::to_string(s.key_length) + " is not in [0, 4096]");
  if (s.key_length == 0 && s.dim % s.n_heads != 0)
    return bad("dim " + std::to_string(s.dim) + " is not a multiple of heads " + std::to_string(s.n_heads));
  if ((s.architecture == "qwen3moe") != (s.n_experts > 0))
    return bad("experts " + std::to_string(s.n_experts) + ": qwen3moe models have experts, others none");
  if (s.n_experts > 0) {
    if (!in_range(s.n_experts, 1, 1024)) return bad("experts " + std::to_string(s.n_experts) + " is not in [1, 1024]");
    if (!in_range(s.n_experts_used, 1, s.n_experts))
      return bad("experts used " + std::to_string(s.n_experts_used) + " is not in [1, experts]");
    if (!in_range(s.expert_ffn_dim, 1, 1 << 20))
      return bad("expert ffn " + std::to_string(s.expert_ffn_dim) + " is not in [1, 1048576]");
    if (s.expert_ffn_dim % int(dtype_block_elems(s.type)) != 0)
      return bad("expert ffn " + std::to_string(s.expert_ffn_dim) + " must be a multiple of the block size of " +
                 std::string(dtype_name(s.type)));
  }
  if (s.head_dim() % 2 != 0)
    return bad("head dim " + std::to_string(s.head_dim()) + " (dim / heads) must be even for rotary embeddings");
  if (s.n_heads % s.n_kv_heads != 0)
    return bad("heads " + std::to_string(s.n_heads) + " is not a multiple of kv-heads " +
               std::to_string(s.n_kv_heads));
  const int block = s.mix ? kQuantBlock : int(dtype_block_elems(s.type));
  if (s.dim % block != 0 || s.ffn_dim % block != 0)
    return bad("dim " + std::to_string(s.dim) + " and ffn " + std::to_string(s.ffn_dim) +
               " must be multiples of " + std::to_string(block) + " for " +
               std::string(s.mix ? quantize::mix_name(*s.mix) : dtype_name(s.type)));
  return ok_status();
}

uint64_t weight_bytes(const ModelSpec& spec) {
  uint64_t total = 0;
  for (const TensorShape& t : model_tensors(spec))
    total += uint64_t(t.rows) * uint64_t(std::max<int64_t>(t.experts, 1)) *
             uint64_t(dtype_row_bytes(weight_type(spec, t), t.cols));
  return total;
}

Result<uint64_t> write_model(const ModelSpec& s, const std::string& path) {
  LLMOS_RETURN_IF_ERROR(validate_spec(s));
  gguf::GgufWriter w(gguf::kDefaultAlignment);
  const std::string a = s.architecture + ".";
  w.add_string("general.architecture", s.architecture);
  w.add_string("general.name", s.name);
  w.add_uint32("general.file_type", s.mix ? quantize::mix_file_type(*s.mix) : ggml_file_type(s.type));
  if (s.mix || s.type == DType::kQ8_0 || s.type == DType::kQ4_0) w.add_uint32("general.quantization_version", 2);
  w.add_uint32(a + "vocab_size", uint32_t(s.vocab_size));
  w.add_uint32(a + "context_length", uint32_t(s.context_length));
  w.add_uint32(a + "embedding_length", uint32_t(s.dim));
  w.add_uint32(a + "block_count", uint32_t(s.n_layers));
  w.add_uint32(a + "feed_forward_length", uint32_t(s.ffn_dim));
  w.add_uint32(a + "rope.dimension_count", uint32_t(s.head_dim()));
  w.add_uint32(a + "attention.head_count", uint32_t(s.n_heads));
  w.add_uint32(a + "attention.head_count_kv", uint32_t(s.n_kv_heads));
  if (s.key_length > 0) {
    w.add_uint32(a + "attention.key_length", uint32_t(s.key_length));
    w.add_uint32(a + "attention.value_length", uint32_t(s.key_length));
  }
  w.add_float32(a + "attention.layer_norm_rms_epsilon", s.rms_eps);
  w.add_float32(a + "rope.freq_base", s.rope_freq_base);
  if (s.n_experts > 0) {
    w.add_uint32(a + "expert_count", uint32_t(s.n_experts));
    w.add_uint32(a + "expert_used_count", uint32_t(s.n_experts_used));
    w.add_uint32(a + "expert_feed_forward_length", uint32_t(s.expert_ffn_dim));
  }

  const SyntheticVocab vocab = make_synthetic_vocab(s.vocab_size);
  w.add_string("tokenizer.ggml.model", "llama");
  w.add_string_array("tokenizer.ggml.tokens", vocab.tokens);
  w.add_array("tokenizer.ggml.scores", vocab.scores);
  w.add_array("tokenizer.ggml.token_type", vocab.types);
  w.add_uint32("tokenizer.ggml.unknown_token_id", 0);
  w.add_uint32("tokenizer.ggml.bos_token_id", 1);
  w.add_uint32("tokenizer.ggml.eos_token_id", 2);
  w.add_bool("tokenizer.ggml.add_bos_token", true);
  w.add_bool("tokenizer.ggml.add_eos_token", false);

  for (const TensorShape& t : model_tensors(s)) {
    const DType type = weight_type(s, t);
    std::vector<int64_t> dims = {t.cols};
    if (!t.is_norm) dims.push_back(t.rows);
    if (t.experts > 0) dims.push_back(t.experts);
    const int64_t rows = t.rows * std::max<int64_t>(t.experts, 1);
    const uint64_t seed = tensor_seed(s.seed, t.name);
    w.add_tensor(t.name, type, std::move(dims),
                 t.is_norm ? random_rows(type, t.cols, 1, seed, 1.0f, kNormStd)
                           : random_rows(type, t.cols, rows, seed, 0.0f, kWeightStd));
  }
  return w.write(path);
}

}  // namespace llmos::modelgen
