# The tokenizer's golden check against llama.cpp (golden/tokenize-llama2.json and
# the stories260K prompts). Included from tests/CMakeLists.txt; skipped (exit 77)
# without ../shared.
llmos_add_golden_test(NAME llmos_golden_tokenize_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/golden_tokenize_test.cpp
  LIBS llmos_tokenizer llmos_gguf nlohmann_json::nlohmann_json)
