// ModelTextCache: the ModelText (tokenizer, prompt encoder, chat template) of
// each loaded model, read from its GGUF file once and shared by every stream
// and HTTP request that names the model. Thread-safe: the I/O thread loads
// asynchronously (load), HTTP threads may read a missing entry themselves (get).
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "llmos/common/status.hpp"
#include "llmos/http/model_text.hpp"

namespace llmos::io_service {

using ModelTextPtr = std::shared_ptr<const http::ModelText>;

class ModelTextCache {
 public:
  using Ready = std::function<void(Result<ModelTextPtr>)>;

  explicit ModelTextCache(boost::asio::io_context& io) : io_(io) {}
  ~ModelTextCache() { pool_.join(); }

  // nullptr when `model` is not cached (or was cached from another file or
  // chat template file).
  ModelTextPtr find(const std::string& model, const std::string& path = {},
                    const std::string& chat_template_file = {}) const;
  // The cached text, or reads it from `path` (and the chat template from
  // `chat_template_file` when not empty) on this thread (blocking on the
  // files, never on another process) and caches it.
  Result<ModelTextPtr> get(const std::string& model, const std::string& path,
                           const std::string& chat_template_file = {});
  // get() on a pool thread; `ready` runs on the I/O thread.
  void load(const std::string& model, const std::string& path, const std::string& chat_template_file, Ready ready);
  void forget(const std::string& model);

 private:
  struct Entry {
    std::string path;
    std::string chat_template_file;
    ModelTextPtr text;
  };
  boost::asio::io_context& io_;
  boost::asio::thread_pool pool_{1};
  mutable std::mutex mu_;
  std::map<std::string, Entry> cache_;
};

}  // namespace llmos::io_service
