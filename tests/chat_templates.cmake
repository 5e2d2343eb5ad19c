# The Jinja interpreter against llama.cpp's renderings of real chat templates
# (golden/chat-templates). Included from tests/CMakeLists.txt; skipped (exit 77)
# without ../shared.
llmos_add_golden_test(NAME llmos_golden_chat_template_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/golden_chat_template_test.cpp
  LIBS llmos_jinja llmos_http nlohmann_json::nlohmann_json)
# The request side (ChatTemplate) lives in the HTTP service's private headers.
target_include_directories(llmos_golden_chat_template_test PRIVATE ${PROJECT_SOURCE_DIR}/services/io/http)
