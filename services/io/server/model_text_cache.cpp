#include "tokenizer_cache.hpp"

#include <boost/asio/post.hpp>

#include "llmos/gguf/gguf_file.hpp"

namespace llmos::io_service {

std::shared_ptr<const tokenizer::Tokenizer> TokenizerCache::find(const std::string& model) const {
  auto it = cache_.find(model);
  return it == cache_.end() ? nullptr : it->second;
}

void TokenizerCache::load(const std::string& model, const std::string& path, Ready ready) {
  auto& waiting = loading_[model];
  waiting.push_back(std::move(ready));
  if (waiting.size() > 1) return;  // a read is under way
  boost::asio::post(pool_, [this, model, path] {
    Result<std::shared_ptr<const tokenizer::Tokenizer>> result = [&]() -> Result<std::shared_ptr<const tokenizer::Tokenizer>> {
      LLMOS_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::open(path));
      LLMOS_ASSIGN_OR_RETURN(auto tok, tokenizer::tokenizer_from_gguf(*file));
      return std::shared_ptr<const tokenizer::Tokenizer>(std::make_shared<tokenizer::Tokenizer>(std::move(tok)));
    }();
    boost::asio::post(io_, [this, model, result = std::move(result)]() mutable {
      auto waiting = std::move(loading_[model]);
      loading_.erase(model);
      if (result.ok()) cache_[model] = *result;
      for (auto& r : waiting) r(result);
    });
  });
}

}  // namespace llmos::io_service
