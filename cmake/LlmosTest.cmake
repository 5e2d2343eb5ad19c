# llmos_add_test(NAME name SOURCES ... LIBS ... [LABELS ...] [EXTERNAL_SUITE])
# Builds a doctest executable (main from llmos_doctest_main) and registers it
# with ctest. Unit tests sit beside the code they test (conventions.md, rule 1).
# The binary exits 77 (ctest: Skipped) when every case that ran skipped
# (common/testing/skip.hpp). EXTERNAL_SUITE: the cases in the doctest suite
# "external" (they need ../shared, python3, ...) are their own ctest entry,
# name_external, so that their skips show as Skipped, not hidden by the rest.
function(llmos_add_test)
  cmake_parse_arguments(T "EXTERNAL_SUITE" "NAME" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE llmos_doctest_main ${T_LIBS})
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  if(T_EXTERNAL_SUITE)
    add_test(NAME ${T_NAME} COMMAND ${T_NAME} --test-suite-exclude=external)
    add_test(NAME ${T_NAME}_external COMMAND ${T_NAME} --test-suite=external)
    set_tests_properties(${T_NAME}_external PROPERTIES LABELS "unit;${T_LABELS}" SKIP_RETURN_CODE 77)
  else()
    add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "unit;${T_LABELS}" SKIP_RETURN_CODE 77)
endfunction()
