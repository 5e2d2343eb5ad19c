# End-to-end tests of a whole llmos system (llmosd and its services as
# processes, each test in its own temporary runtime directory). Included from
# tests/CMakeLists.txt; skipped (exit 77) without ../shared.
# llmos_add_system_test(system_foo_test): tests/system_foo_test.cpp as llmos_system_foo_test.
function(llmos_add_system_test file)
  set(name llmos_${file})
  llmos_add_golden_test(NAME ${name} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${file}.cpp
    LIBS llmos_client nlohmann_json::nlohmann_json)
  target_compile_definitions(${name} PRIVATE LLMOS_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/common/testing ${CMAKE_CURRENT_LIST_DIR})
  add_dependencies(${name} llmos llmosd llmos-io llmos-model llmos-memory)
  set_tests_properties(${name} PROPERTIES LABELS "golden;system" TIMEOUT 300)
endfunction()

llmos_add_system_test(system_test)
llmos_add_system_test(system_fault_test)
llmos_add_system_test(system_errors_test)
llmos_add_system_test(system_bench_test)
llmos_add_system_test(system_swap_test)
target_link_libraries(llmos_system_bench_test PRIVATE llmos_ipc_bench)
add_dependencies(llmos_system_bench_test llmos-bench)
llmos_add_system_test(system_families_test)
# A system test that talks HTTP with the test client (services/io/http).
function(llmos_add_system_http_test NAME)
  llmos_add_system_test(${NAME})
  target_include_directories(llmos_${NAME} PRIVATE ${CMAKE_SOURCE_DIR}/services/io/http)
  target_link_libraries(llmos_${NAME} PRIVATE Boost::headers)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(llmos_${NAME} PRIVATE -Wno-maybe-uninitialized)  # Beast's parser, as in llmos_http_test
  endif()
endfunction()
llmos_add_system_http_test(system_http_test)
llmos_add_system_http_test(system_chat_template_test)
llmos_add_system_http_test(system_chat_test)
