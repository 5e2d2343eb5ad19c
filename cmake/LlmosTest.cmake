# llmos_add_test(NAME name SOURCES ... LIBS ... [LABELS ...])
# Builds a doctest executable (main from llmos_doctest_main) and registers it
# with ctest. Unit tests sit beside the code they test (conventions.md, rule 1).
function(llmos_add_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE llmos_doctest_main ${T_LIBS})
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "unit;${T_LABELS}" SKIP_RETURN_CODE 77)
endfunction()
