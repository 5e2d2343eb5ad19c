// The families llmos runs, one per file in this folder; model_family.cpp lists
// them in its table. Each returns constant data: thread-safe.
#pragma once
#include "llmos/engine/model_family.hpp"

namespace llmos::engine {

const ModelFamily& llama_family();  // llama.cpp: Llama 1/2/3 shapes, TinyLlama, Mistral

}  // namespace llmos::engine
