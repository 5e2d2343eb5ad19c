// `llmos-bench tokenizer`: encode and decode speed (MB/s of UTF-8 text) on a
// ~1 MB mixed text (English prose, C++ code, Chinese and Japanese) with each
// given vocabulary; by default llama-bpe and qwen2 from ../shared/models/vocab.
// Also times rendering a 20-turn conversation with a real chat template from
// ../shared/golden/chat-templates/templates, and tokenizing the prompt.
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_commands.hpp"
#include "chat_template.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/tokenizer/tokenizer.hpp"

namespace llmos::bench {
namespace {

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

// Written for this benchmark; varied by a counter so no two blocks are equal.
constexpr std::string_view kProse =
    "The scheduler wakes up when a request arrives, looks at the free blocks of the cache and "
    "decides whether the new sequence fits. If it doesn't, the request waits; nobody's work is "
    "thrown away. Around 3.5 GB of weights stream through memory for every token, so batching "
    "twelve users costs barely more than serving one.\n\n";
constexpr std::string_view kCode =
    "for (size_t i = 0; i < blocks.size(); ++i) {\n"
    "    if (blocks[i].ref_count == 0 && !blocks[i].pinned) {\n"
    "        free_list.push_back(static_cast<uint32_t>(i));  // reuse later\n"
    "    }\n"
    "}\n"
    "return Status{ErrorCode::kOverloaded, \"no free block for request \" + std::to_string(id)};\n\n";
constexpr std::string_view kCjk =
    "调度器在请求到达时醒来，查看缓存中的空闲块，并决定新的序列是否放得下。"
    "放不下的请求会等待，已经完成的工作不会被丢弃。\n"
    "スケジューラはリクエストが届くと起動し、キャッシュの空きブロックを確認します。"
    "入りきらない場合は待機し、作業は失われません。\n\n";

std::string mixed_text(size_t bytes) {
  std::string text;
  text.reserve(bytes + 1024);
  for (int n = 0; text.size() < bytes; ++n) {
    text += "Section ";
    text += std::to_string(n);
    text += ".\n";
    text += kProse;
    text += kCode;
    text += kCjk;
  }
  return text;
}

double best_seconds(int repeats, const auto& run) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    run();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

std::vector<std::string> default_models() {
  std::vector<std::string> found;
  for (const char* name : {"ggml-vocab-llama-bpe.gguf", "ggml-vocab-qwen2.gguf"}) {
    for (const char* dir : {"../shared/models/vocab", "../../shared/models/vocab", "/work/shared/models/vocab"}) {
      const std::filesystem::path path = std::filesystem::path(dir) / name;
      if (std::filesystem::exists(path)) {
        found.push_back(path.string());
        break;
      }
    }
  }
  return found;
}

std::optional<std::filesystem::path> find_chat_template(const std::string& name) {
  for (const char* dir : {"../shared/golden/chat-templates/templates", "../../shared/golden/chat-templates/templates",
                          "/work/shared/golden/chat-templates/templates"}) {
    const std::filesystem::path path = std::filesystem::path(dir) / (name + ".jinja");
    if (std::filesystem::exists(path)) return path;
  }
  return std::nullopt;
}

// A system message and 20 alternating user / assistant turns, the last a user's.
std::vector<http::ChatMessage> twenty_turns() {
  std::vector<http::ChatMessage> messages{{"system", "You are a helpful assistant who answers briefly."}};
  for (int turn = 0; turn < 20; ++turn) {
    const std::string n = std::to_string(turn);
    if (turn % 2 == 0) {
      messages.push_back({"user", "Question " + n + ": " + std::string(kProse)});
    } else {
      messages.push_back({"assistant", "Answer " + n + ":\n" + std::string(kCode)});
    }
  }
  return messages;
}

// Renders twenty_turns() with the template `name` (best of `repeats`) and
// tokenizes the prompt with `tok` when given; nullopt when ../shared is absent.
std::optional<nlohmann::json> chat_template_bench(const std::string& name, const tokenizer::Tokenizer* tok,
                                                  int repeats) {
  const auto path = find_chat_template(name);
  if (!path) return std::nullopt;
  std::ifstream in(*path, std::ios::binary);
  std::ostringstream source;
  source << in.rdbuf();
  auto tmpl = http::ChatTemplate::load(source.str(), "<s>", "</s>");
  if (!tmpl.ok()) return nlohmann::json{{"template", path->string()}, {"error", tmpl.status().to_string()}};
  http::ChatTemplateInput input;
  input.messages = http::chat_messages_json(twenty_turns());
  std::string prompt;
  std::string error;
  const double render_s = best_seconds(repeats, [&] {
    auto r = (*tmpl)->apply(input, 1749988800);
    if (r.ok()) prompt = std::move(*r);
    else error = r.status().to_string();
  });
  if (!error.empty()) return nlohmann::json{{"template", path->string()}, {"error", error}};
  nlohmann::json r = {{"template", path->string()}, {"turns", 20}, {"prompt_bytes", prompt.size()},
                      {"render_ms", render_s * 1e3}};
  if (tok != nullptr) {
    std::vector<tokenizer::TokenId> ids;
    const double encode_s = best_seconds(repeats, [&] { ids = tok->encode(prompt, false, true); });
    r["prompt_tokens"] = ids.size();
    r["encode_ms"] = encode_s * 1e3;
  }
  return r;
}

}  // namespace

int run_tokenizer_bench(int argc, char** argv) {
  std::vector<std::string> models;
  size_t kib = 1024;
  int repeats = 3;
  std::string chat_template = "Qwen-Qwen2.5-7B-Instruct";
  po::options_description opts(
      "usage: llmos-bench tokenizer [--model FILE]... [--kib N] [--repeats R] [--template NAME] [--json]\n"
      "Encode and decode MB/s on a mixed English / code / CJK text; without --model, the\n"
      "llama-bpe and qwen2 vocabularies of ../shared/models/vocab. Then the time to render a\n"
      "20-turn conversation with ../shared/golden/chat-templates/templates/NAME.jinja and to\n"
      "tokenize the prompt with the last vocabulary.\n\noptions");
  opts.add_options()("help,h", "show this help")(
      "model,m", po::value(&models)->composing(), "GGUF file whose vocabulary to use (repeatable)")(
      "kib", po::value(&kib), "size of the text in KiB (default 1024)")(
      "repeats", po::value(&repeats), "runs per measurement, best kept (default 3)")(
      "template", po::value(&chat_template), "chat template name (default Qwen-Qwen2.5-7B-Instruct)")(
      "json", "print JSON");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "llmos-bench tokenizer: %s\n", e.what());
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (models.empty()) models = default_models();
  if (models.empty()) {
    std::fprintf(stderr, "llmos-bench tokenizer: no --model and no ../shared/models/vocab\n");
    return 2;
  }
  const std::string text = mixed_text(kib * 1024);
  const double mb = double(text.size()) / 1e6;
  nlohmann::json results = nlohmann::json::array();
  std::optional<tokenizer::Tokenizer> last_tok;
  for (const std::string& path : models) {
    auto file = gguf::GgufFile::open(path);
    if (!file.ok()) {
      std::fprintf(stderr, "llmos-bench tokenizer: %s\n", file.status().to_string().c_str());
      return 1;
    }
    const auto t_load = Clock::now();
    auto tok = tokenizer::tokenizer_from_gguf(**file);
    const double load_s = std::chrono::duration<double>(Clock::now() - t_load).count();
    if (!tok.ok()) {
      std::fprintf(stderr, "llmos-bench tokenizer: %s\n", tok.status().to_string().c_str());
      return 1;
    }
    std::vector<tokenizer::TokenId> ids;
    const double encode_s = best_seconds(repeats, [&] { ids = tok->encode(text, false); });
    std::string decoded;
    const double decode_s = best_seconds(repeats, [&] { decoded = tok->decode(ids); });
    const nlohmann::json r = {{"model", path},
                              {"pre", tok->pre_tokenizer()},
                              {"bytes", text.size()},
                              {"tokens", ids.size()},
                              {"load_s", load_s},
                              {"encode_mb_s", mb / encode_s},
                              {"decode_mb_s", mb / decode_s},
                              {"round_trip", decoded == text}};
    results.push_back(r);
    if (!vm.count("json")) {
      std::printf("%-40s %-10s %8zu bytes %7zu tokens  encode %7.2f MB/s  decode %8.1f MB/s  load %.2f s%s\n",
                  std::filesystem::path(path).filename().c_str(), tok->pre_tokenizer().c_str(), text.size(),
                  ids.size(), mb / encode_s, mb / decode_s, load_s, decoded == text ? "" : "  (round trip differs)");
    }
    last_tok.emplace(std::move(*tok));
  }
  const auto chat = chat_template_bench(chat_template, last_tok ? &*last_tok : nullptr, repeats);
  if (!chat) {
    std::fprintf(stderr, "llmos-bench tokenizer: chat template %s not found (no ../shared): skipped\n",
                 chat_template.c_str());
  } else if (vm.count("json")) {
    results.push_back(*chat);
  } else if (chat->contains("error")) {
    std::printf("chat template %s: %s\n", chat_template.c_str(), (*chat)["error"].get<std::string>().c_str());
  } else {
    std::printf("chat template %-26s %d turns %8zu bytes  render %7.3f ms", chat_template.c_str(), 20,
                (*chat)["prompt_bytes"].get<size_t>(), (*chat)["render_ms"].get<double>());
    if (chat->contains("encode_ms")) {
      std::printf("  %zu tokens, encode %7.3f ms", (*chat)["prompt_tokens"].get<size_t>(),
                  (*chat)["encode_ms"].get<double>());
    }
    std::printf("\n");
  }
  if (vm.count("json")) std::cout << results.dump(1) << "\n";
  return 0;
}

}  // namespace llmos::bench
