#include "llmos/model/model_manifest.hpp"

#include <ctime>
#include <nlohmann/json.hpp>

#include "llmos/gguf/gguf_file.hpp"
#include "llmos/model/memory_estimate.hpp"
#include "llmos/model/sha256.hpp"

namespace llmos::model {
namespace {

using Json = nlohmann::ordered_json;

Json hparams_json(const Hyperparameters& h) {
  return {{"architecture", h.architecture},   {"general_name", h.name},
          {"vocab_size", h.n_vocab},          {"embedding_length", h.dim},
          {"block_count", h.n_layers},        {"head_count", h.n_heads},
          {"head_count_kv", h.n_kv_heads},    {"head_dim", h.head_dim},
          {"value_head_dim", h.v_head_dim},   {"feed_forward_length", h.ffn_dim},
          {"context_length", h.ctx_len},      {"rope_dimension_count", h.rope_dim},
          {"rope_freq_base", h.rope_freq_base}, {"rms_norm_eps", h.rms_eps},
          {"expert_count", h.n_experts},      {"expert_used_count", h.n_experts_used},
          {"tied_output", h.tied_output}};
}

void read_hparams(const Json& j, Hyperparameters& h) {
  h.architecture = j.at("architecture").get<std::string>();
  h.name = j.at("general_name").get<std::string>();
  h.n_vocab = j.at("vocab_size").get<int>();
  h.dim = j.at("embedding_length").get<int>();
  h.n_layers = j.at("block_count").get<int>();
  h.n_heads = j.at("head_count").get<int>();
  h.n_kv_heads = j.at("head_count_kv").get<int>();
  h.head_dim = j.at("head_dim").get<int>();
  h.v_head_dim = j.at("value_head_dim").get<int>();
  h.ffn_dim = j.at("feed_forward_length").get<int>();
  h.ctx_len = j.at("context_length").get<int>();
  h.rope_dim = j.at("rope_dimension_count").get<int>();
  h.rope_freq_base = j.at("rope_freq_base").get<float>();
  h.rms_eps = j.at("rms_norm_eps").get<float>();
  h.n_experts = j.at("expert_count").get<int>();
  h.n_experts_used = j.at("expert_used_count").get<int>();
  h.tied_output = j.at("tied_output").get<bool>();
}

}  // namespace

Result<ModelFileFacts> read_model_file_facts(const gguf::GgufFile& file) {
  ModelFileFacts f;
  f.gguf_version = file.version();
  f.tensor_count = file.tensors().size();
  if (auto t = file.get_int("general.file_type"); t.ok()) f.file_type = *t;
  LLMOS_ASSIGN_OR_RETURN(f.hparams, read_hyperparameters(file));
  LLMOS_ASSIGN_OR_RETURN(auto memory, estimate_model_memory(file, f.hparams, uint64_t(f.hparams.ctx_len),
                                                            kManifestKvBlockSize, DType::kF16));
  f.weights_bytes = memory.weights_bytes;
  f.kv_cache_bytes = memory.kv_bytes;
  return f;
}

std::string manifest_to_json(const ModelManifest& m) {
  Json j;
  j["schema"] = 1;
  j["name"] = m.name.name;
  j["tag"] = m.name.tag;
  j["file"] = m.file;
  j["size"] = m.size;
  j["sha256"] = m.sha256;
  j["source"] = m.source;
  j["created"] = m.created;
  j["gguf_version"] = m.facts.gguf_version;
  j["tensor_count"] = m.facts.tensor_count;
  j["file_type"] = m.facts.file_type;
  j["hyperparameters"] = hparams_json(m.facts.hparams);
  j["memory"] = {{"weights_bytes", m.facts.weights_bytes},
                 {"kv_cache_bytes", m.facts.kv_cache_bytes},
                 {"kv_cache_type", "f16"},
                 {"kv_block_size", kManifestKvBlockSize}};
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Result<ModelManifest> manifest_from_json(std::string_view text, const std::string& origin) {
  const Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return invalid_argument(origin + ": not a JSON object");
  ModelManifest m;
  try {
    const std::string full = j.at("name").get<std::string>() + ":" + j.at("tag").get<std::string>();
    auto name = parse_model_name(full);
    if (!name.ok()) return invalid_argument(origin + ": " + name.status().message());
    m.name = *name;
    m.file = j.at("file").get<std::string>();
    m.size = j.at("size").get<uint64_t>();
    m.sha256 = j.at("sha256").get<std::string>();
    m.source = j.at("source").get<std::string>();
    m.created = j.at("created").get<std::string>();
    m.facts.gguf_version = j.at("gguf_version").get<uint32_t>();
    m.facts.tensor_count = j.at("tensor_count").get<uint64_t>();
    m.facts.file_type = j.at("file_type").get<int64_t>();
    read_hparams(j.at("hyperparameters"), m.facts.hparams);
    m.facts.weights_bytes = j.at("memory").at("weights_bytes").get<uint64_t>();
    m.facts.kv_cache_bytes = j.at("memory").at("kv_cache_bytes").get<uint64_t>();
  } catch (const Json::exception& e) {
    return invalid_argument(origin + ": " + e.what());
  }
  if (!is_sha256_hex(m.sha256)) return invalid_argument(origin + ": sha256 is not 64 hex digits");
  if (m.file != "blobs/sha256-" + m.sha256)
    return invalid_argument(origin + ": file '" + m.file + "' is not blobs/sha256-<its sha256>");
  return m;
}

std::string utc_timestamp(int64_t unix_seconds) {
  const std::time_t t = std::time_t(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace llmos::model
