#include "model_text_cache.hpp"

#include <boost/asio/post.hpp>

namespace llmos::io_service {

ModelTextPtr ModelTextCache::find(const std::string& model, const std::string& path,
                                  const std::string& chat_template_file) const {
  std::lock_guard lock(mu_);
  auto it = cache_.find(model);
  if (it == cache_.end()) return nullptr;
  if (!path.empty() && (it->second.path != path || it->second.chat_template_file != chat_template_file)) {
    return nullptr;
  }
  return it->second.text;
}

Result<ModelTextPtr> ModelTextCache::get(const std::string& model, const std::string& path,
                                         const std::string& chat_template_file) {
  if (auto text = find(model, path, chat_template_file)) return text;
  // Two threads may read the same file at once; the second insert wins, both
  // texts are equal.
  LLMOS_ASSIGN_OR_RETURN(ModelTextPtr text, http::load_model_text(path, chat_template_file));
  std::lock_guard lock(mu_);
  cache_[model] = Entry{path, chat_template_file, text};
  return text;
}

void ModelTextCache::load(const std::string& model, const std::string& path, const std::string& chat_template_file,
                          Ready ready) {
  boost::asio::post(pool_, [this, model, path, chat_template_file, ready = std::move(ready)]() mutable {
    Result<ModelTextPtr> result = get(model, path, chat_template_file);
    boost::asio::post(io_, [result = std::move(result), ready = std::move(ready)]() mutable { ready(std::move(result)); });
  });
}

void ModelTextCache::forget(const std::string& model) {
  std::lock_guard lock(mu_);
  cache_.erase(model);
}

}  // namespace llmos::io_service
