// Copies one metadata key/value of a GGUF file into a GgufWriter unchanged (same
// key, same value type, arrays element by element). Used by quantize_model to
// keep a model's metadata. Stateless: thread-safe on distinct writers.
#pragma once
#include "llmos/common/status.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/gguf/gguf_writer.hpp"

namespace llmos::quantize {

// Errors: unimplemented for arrays of arrays (naming the key and the file).
Status copy_metadata(const gguf::GgufFile& in, const gguf::MetadataEntry& entry,
                     gguf::GgufWriter& out);

}  // namespace llmos::quantize
