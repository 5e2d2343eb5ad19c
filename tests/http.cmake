# End-to-end checks of the HTTP API with real clients: `llmos serve --local`
# on stories260K driven by curl and by the official `openai` npm package, whose
# text must equal `llmos generate --local` for the same prompt (greedy and
# seeded). Included from tests/CMakeLists.txt; skipped (exit 77) without
# ../shared, curl or jq. The npm package is cached under the build folder.
add_test(NAME llmos_http_clients_test
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/http_clients_test.sh
          $<TARGET_FILE:llmos> ${LLMOS_SHARED_DIR} ${CMAKE_BINARY_DIR}/http-clients-npm)
set_tests_properties(llmos_http_clients_test PROPERTIES
  LABELS "golden;http" SKIP_RETURN_CODE 77 TIMEOUT 300)
