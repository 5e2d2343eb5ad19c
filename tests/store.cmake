# The model store and `llmos pull` end to end (tests/store_pull_test.sh): the
# store commands on a model llmos-mkmodel writes, and pulls from a local HTTP
# server the test starts (redirects, hf: sources, resume, bad SHA-256, not
# GGUF). Included from tests/CMakeLists.txt; skipped (exit 77) without python3.
add_test(NAME llmos_store_pull_test
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/store_pull_test.sh $<TARGET_FILE:llmos> $<TARGET_FILE:llmos-mkmodel>)
set_tests_properties(llmos_store_pull_test PROPERTIES LABELS "cli;store" SKIP_RETURN_CODE 77 TIMEOUT 120)
