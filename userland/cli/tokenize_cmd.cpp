// `llmos tokenize --model MODEL.gguf [--parse-special] [--json] [--bos] TEXT`:
// the token ids of TEXT under the model's vocabulary (SentencePiece or
// byte-level BPE; a vocab-only GGUF file is enough), as llama.cpp would
// produce them.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/tokenizer/tokenizer.hpp"

namespace llmos::cli {
namespace {

namespace po = boost::program_options;

int fail(const std::string& message, int code) {
  std::fprintf(stderr, "llmos tokenize: %s\n", message.c_str());
  return code;
}

// Length of the well-formed UTF-8 character at s[i], or 0 when it is not one.
size_t utf8_char_length(std::string_view s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  const size_t n = lead >= 0xF0 && lead <= 0xF4 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 0;
  if (n == 0 || lead > 0xF4 || i + n > s.size()) return 0;
  const auto second = static_cast<unsigned char>(s[i + 1]);
  if ((lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F) ||
      (lead == 0xF0 && second < 0x90) || (lead == 0xF4 && second > 0x8F)) {
    return 0;
  }
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

// The piece in double quotes: \" \\ \n \t \r escaped, other control bytes and
// bytes that are not part of a well-formed UTF-8 character as \xNN.
std::string quote_piece(std::string_view piece) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < piece.size();) {
    const auto c = static_cast<unsigned char>(piece[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c >= 0x80) {
      if (size_t n = utf8_char_length(piece, i); n > 0) {
        out.append(piece, i, n);
        i += n;
        continue;
      }
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
  return out;
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  std::string model_path;
  std::vector<std::string> texts;
  po::options_description visible(
      "usage: llmos tokenize --model MODEL.gguf [--parse-special] [--json] [--bos] [--] TEXT\n"
      "Prints one line per token: the id, then the text it stands for in double quotes\n"
      "(\\n, \\t, \\\", \\xNN escaped); control tokens such as <s> show their name unquoted.\n"
      "Use -- before a TEXT that starts with '-'.\n\noptions");
  visible.add_options()
      ("help,h", "show this help")
      ("model,m", po::value(&model_path)->value_name("MODEL.gguf"), "GGUF file whose vocabulary to use")
      ("json", "print {\"ids\":[...]} instead")
      ("bos", "put the BOS token first (never added unless asked)")
      ("parse-special", "match control tokens such as <|im_end|> in TEXT (user-defined tokens always are)");
  po::options_description all;
  all.add(visible).add_options()("text", po::value(&texts));
  po::positional_options_description positional;
  positional.add("text", -1);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(e.what(), 2);
  }
  if (vm.count("help")) {
    std::cout << visible << "\n";
    return 0;
  }
  if (model_path.empty()) return fail("--model is required", 2);
  if (texts.size() != 1) {
    return fail("expected one TEXT argument (quote text with spaces), got " + std::to_string(texts.size()), 2);
  }

  auto file = gguf::GgufFile::open(model_path);
  if (!file.ok()) return fail(file.status().message(), 1);
  auto tok = tokenizer::tokenizer_from_gguf(**file);
  if (!tok.ok()) return fail(tok.status().message(), 1);

  const std::vector<tokenizer::TokenId> ids =
      tok->encode(texts[0], vm.count("bos") > 0, vm.count("parse-special") > 0);
  if (vm.count("json")) {
    std::cout << nlohmann::json{{"ids", ids}}.dump() << "\n";
    return 0;
  }
  for (tokenizer::TokenId id : ids) {
    const uint32_t attributes = tok->token_attributes(id);
    const bool named = (attributes & tokenizer::kAttrUserDefined) == 0 &&
                       (attributes & (tokenizer::kAttrControl | tokenizer::kAttrUnknown | tokenizer::kAttrUnused)) != 0;
    std::cout << id << ' ' << (named ? tok->token_text(id) : quote_piece(tok->token_to_piece(id))) << "\n";
  }
  return 0;
}

}  // namespace llmos::cli
