# Load on demand, keep-alive and eviction end to end (tests/residency_test.sh):
# a fresh model store of models llmos-mkmodel writes, a running system with
# budgets that fit two of three models, requests over HTTP (curl) and the CLI.
# Skipped (exit 77) without python3 or curl. Included from tests/CMakeLists.txt.
add_test(NAME llmos_residency_test
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/residency_test.sh $<TARGET_FILE:llmos> $<TARGET_FILE:llmos-mkmodel>)
set_tests_properties(llmos_residency_test PROPERTIES LABELS "cli;system" SKIP_RETURN_CODE 77 TIMEOUT 240)

# keep_alive and load on demand with the official `ollama` npm client (cached
# under the build folder; skipped without node, npm or the package).
add_test(NAME llmos_ollama_keep_alive_test
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/ollama_keep_alive_test.sh $<TARGET_FILE:llmos> $<TARGET_FILE:llmos-mkmodel>
          ${CMAKE_BINARY_DIR}/ollama-npm)
set_tests_properties(llmos_ollama_keep_alive_test PROPERTIES LABELS "cli;store" SKIP_RETURN_CODE 77 TIMEOUT 120
                     RESOURCE_LOCK ollama-npm)
