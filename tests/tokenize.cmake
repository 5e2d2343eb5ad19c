# The tokenizer's golden check against llama.cpp (golden/tokenize-llama2.json, the
# stories260K prompts, and every vocabulary of golden/tokenize/ with the vocab-only
# files of models/vocab/). Included from tests/CMakeLists.txt; skipped (exit 77)
# without ../shared.
llmos_add_golden_test(NAME llmos_golden_tokenize_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/golden_tokenize_test.cpp
  LIBS llmos_tokenizer llmos_gguf nlohmann_json::nlohmann_json)
# `llmos tokenize` on the vocab-only files, run as a user runs it.
llmos_add_golden_test(NAME llmos_golden_tokenize_cli_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/golden_tokenize_cli_test.cpp
  LIBS nlohmann_json::nlohmann_json)
target_compile_definitions(llmos_golden_tokenize_cli_test PRIVATE LLMOS_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
add_dependencies(llmos_golden_tokenize_cli_test llmos)
