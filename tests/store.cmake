# The model store and `llmos pull` end to end (tests/store_pull_test.sh): the
# store commands on a model llmos-mkmodel writes, and pulls from a local HTTP
# server the test starts (redirects, hf: sources, resume, bad SHA-256, not
# GGUF), and Ollama's store endpoints of a running system with curl and the
# official `ollama` npm package, store (pull included) and generation (generate, chat, ps)
# (cached under the build folder; that part is
# skipped without node or npm). Included from tests/CMakeLists.txt; skipped
# (exit 77) without python3.
add_test(NAME llmos_store_pull_test
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/store_pull_test.sh $<TARGET_FILE:llmos> $<TARGET_FILE:llmos-mkmodel>
          ${CMAKE_BINARY_DIR}/ollama-npm)
set_tests_properties(llmos_store_pull_test PROPERTIES LABELS "cli;store" SKIP_RETURN_CODE 77 TIMEOUT 180
                     RESOURCE_LOCK ollama-npm)
