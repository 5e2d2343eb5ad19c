#include "model_text_cache.hpp"

#include <boost/asio/post.hpp>

namespace llmos::io_service {

ModelTextPtr ModelTextCache::find(const std::string& model, const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = cache_.find(model);
  if (it == cache_.end() || (!path.empty() && it->second.path != path)) return nullptr;
  return it->second.text;
}

Result<ModelTextPtr> ModelTextCache::get(const std::string& model, const std::string& path) {
  if (auto text = find(model, path)) return text;
  // Two threads may read the same file at once; the second insert wins, both
  // texts are equal.
  LLMOS_ASSIGN_OR_RETURN(ModelTextPtr text, http::load_model_text(path));
  std::lock_guard lock(mu_);
  cache_[model] = Entry{path, text};
  return text;
}

void ModelTextCache::load(const std::string& model, const std::string& path, Ready ready) {
  boost::asio::post(pool_, [this, model, path, ready = std::move(ready)]() mutable {
    Result<ModelTextPtr> result = get(model, path);
    boost::asio::post(io_, [result = std::move(result), ready = std::move(ready)]() mutable { ready(std::move(result)); });
  });
}

void ModelTextCache::forget(const std::string& model) {
  std::lock_guard lock(mu_);
  cache_.erase(model);
}

}  // namespace llmos::io_service
