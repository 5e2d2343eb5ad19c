// A stored model's manifest: its name, the GGUF blob it names (by sha256), where
// it came from, and the facts `llmos inspect` reads from the file (so list/show
// and the Ollama API answer without opening it). Stored as one small JSON file
// per model. Plain values and pure functions: thread-safe.
#pragma once
#include <cstdint>
#include <string>

#include "llmos/common/status.hpp"
#include "llmos/model/hyperparameters.hpp"
#include "llmos/model/model_name.hpp"

namespace llmos::gguf {
class GgufFile;
}

namespace llmos::model {

// The KV cache in the manifest's memory estimate: f16 in blocks of this many
// tokens (the engine's default), at the model's own context length.
inline constexpr uint32_t kManifestKvBlockSize = 16;

struct ModelFileFacts {
  uint32_t gguf_version = 0;
  uint64_t tensor_count = 0;
  int64_t file_type = -1;        // general.file_type (GGML's numbering), -1 when absent
  Hyperparameters hparams;       // architecture, general.name and the shape
  uint64_t weights_bytes = 0;    // every tensor
  uint64_t kv_cache_bytes = 0;   // f16 KV for hparams.ctx_len tokens
};

struct ModelManifest {
  ModelName name;
  std::string file;      // the blob, relative to the store: "blobs/sha256-<hex>"
  uint64_t size = 0;     // bytes of the file
  std::string sha256;    // 64 lowercase hex digits
  std::string source;    // "file:/abs/path", "https://...", "hf:org/repo/file.gguf"
  std::string created;   // when it entered the store, "2026-01-31T12:00:00Z"
  ModelFileFacts facts;
};

// Reads the facts from an open GGUF file; errors name the file and key (a file
// whose hyper-parameters cannot be read does not enter the store).
Result<ModelFileFacts> read_model_file_facts(const gguf::GgufFile& file);

std::string manifest_to_json(const ModelManifest& m);  // pretty-printed, ends in '\n'
// invalid_argument naming `origin` (the manifest's path) and the field.
Result<ModelManifest> manifest_from_json(std::string_view text, const std::string& origin);

// "2026-01-31T12:00:00Z" for a time in seconds since the epoch.
std::string utc_timestamp(int64_t unix_seconds);

}  // namespace llmos::model
