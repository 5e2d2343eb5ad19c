# The Jinja interpreter against llama.cpp's renderings of real chat templates
# (golden/chat-templates). Included from tests/CMakeLists.txt; skipped (exit 77)
# without ../shared.
llmos_add_golden_test(NAME llmos_golden_chat_template_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/golden_chat_template_test.cpp
  LIBS llmos_jinja nlohmann_json::nlohmann_json)
