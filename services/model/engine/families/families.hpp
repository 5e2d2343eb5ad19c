// The families llmos runs, one per file in this folder; model_family.cpp lists
// them in its table. Each returns constant data: thread-safe.
#pragma once
#include "llmos/engine/model_family.hpp"

namespace llmos::engine {

const ModelFamily& llama_family();  // llama.cpp: Llama 1/2/3 shapes, TinyLlama, Mistral, Mixtral
const ModelFamily& qwen_family();   // qwen.cpp: Qwen 2, Qwen 3, Qwen 3 MoE
const ModelFamily& phi3_family();   // phi3.cpp: Phi-3 (fused q/k/v and gate/up)
const ModelFamily& gemma3_family(); // gemma3.cpp: Gemma 3 (sliding-window layers)

}  // namespace llmos::engine
