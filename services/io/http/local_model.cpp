#include "llmos/http/local_model.hpp"

#include <algorithm>

#include "llmos/driver/driver.hpp"
#include "llmos/gguf/gguf_file.hpp"

namespace llmos::http {

Result<LocalModel> open_local_model(const std::string& path, const LocalModelOptions& options) {
  LocalModel out;
  LLMOS_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::open(path));
  LLMOS_ASSIGN_OR_RETURN(out.text, model_text_from_gguf(*file, options.chat_template_file));
  driver::DriverOptions dopts;
  dopts.threads = options.threads;
  LLMOS_ASSIGN_OR_RETURN(auto drv, driver::make_cpu_driver(dopts));
  out.device = drv->info().name;
  engine::ModelOptions mopts;
  mopts.max_batch_tokens = options.max_batch_tokens;
  mopts.max_outputs = options.max_seqs;
  LLMOS_ASSIGN_OR_RETURN(out.model, engine::load_model(std::move(file), std::move(drv), mopts));
  const auto& cfg = out.model->config();
  if (out.text->tok.n_tokens() != cfg.n_vocab) {
    return invalid_argument(path + ": vocabulary has " + std::to_string(out.text->tok.n_tokens()) +
                            " tokens but token_embd.weight has " + std::to_string(cfg.n_vocab) + " rows");
  }
  engine::EngineOptions eopts;
  eopts.max_seqs = options.max_seqs;
  eopts.ctx_len = options.ctx;
  const int ctx = options.ctx == 0 ? cfg.ctx_len : options.ctx;
  eopts.kv_tokens = options.kv_tokens == 0 ? 0 : std::max(options.kv_tokens, ctx);
  LLMOS_ASSIGN_OR_RETURN(out.engine, engine::Engine::create(*out.model, eopts));
  // The cache as allocated: a sliding-window layer holds only its window blocks.
  out.memory_bytes =
      out.model->weight_bytes() + out.model->activation_bytes() + out.engine->kv_layout().bytes();
  return out;
}

}  // namespace llmos::http
