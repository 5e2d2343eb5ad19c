# End-to-end checks of the HTTP API with real clients (curl and the official
# `openai` npm package), whose text must equal `llmos generate` for the same
# prompt (greedy and seeded): llmos_http_clients_test on `llmos serve --local`,
# llmos_http_system_clients_test on a whole system (`llmos up`, HTTP served by
# llmos-io through the kernel and a model service). Included from
# tests/CMakeLists.txt; skipped (exit 77) without ../shared, curl or jq. The npm
# package is cached under the build folder (one test installs it at a time).
foreach(mode local system)
  if(mode STREQUAL "local")
    set(name llmos_http_clients_test)
  else()
    set(name llmos_http_system_clients_test)
  endif()
  add_test(NAME ${name}
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/http_clients_test.sh
            $<TARGET_FILE:llmos> ${LLMOS_SHARED_DIR} ${CMAKE_BINARY_DIR}/http-clients-npm ${mode})
  set_tests_properties(${name} PROPERTIES
    LABELS "golden;http" SKIP_RETURN_CODE 77 TIMEOUT 300 RESOURCE_LOCK http-clients-npm)
endforeach()
