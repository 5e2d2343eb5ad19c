// TokenizerCache: the tokenizer of each loaded model, read from its GGUF file
// on a blocking pool the first time a request names the model, and shared by
// all its streams. The cache is used on the I/O thread only; the Tokenizers it
// hands out are immutable and safe to use from any thread.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/tokenizer/tokenizer.hpp"

namespace llmos::io_service {

class TokenizerCache {
 public:
  using Ready = std::function<void(Result<std::shared_ptr<const tokenizer::Tokenizer>>)>;

  explicit TokenizerCache(boost::asio::io_context& io) : io_(io) {}
  ~TokenizerCache() { pool_.join(); }

  // nullptr when `model` is not cached.
  std::shared_ptr<const tokenizer::Tokenizer> find(const std::string& model) const;
  // Reads the tokenizer of `model` from `path` off the I/O thread; `ready`
  // runs on the I/O thread. Concurrent loads of one model share the read.
  void load(const std::string& model, const std::string& path, Ready ready);
  void forget(const std::string& model) { cache_.erase(model); }

 private:
  boost::asio::io_context& io_;
  boost::asio::thread_pool pool_{1};
  std::map<std::string, std::shared_ptr<const tokenizer::Tokenizer>> cache_;
  std::map<std::string, std::vector<Ready>> loading_;
};

}  // namespace llmos::io_service
