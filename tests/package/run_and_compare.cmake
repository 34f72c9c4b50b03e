# cmake -DPROGRAM=<exe> -DEXPECTED_FILE=<file> -P run_and_compare.cmake
# Runs PROGRAM; passes when it exits with 0 and its standard output equals the
# contents of EXPECTED_FILE (trailing whitespace ignored on both sides).
foreach(var PROGRAM EXPECTED_FILE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_and_compare.cmake: -D${var}=... is required")
  endif()
endforeach()
execute_process(COMMAND ${PROGRAM} RESULT_VARIABLE rc OUTPUT_VARIABLE actual ERROR_VARIABLE errors)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} failed (${rc}):\n${actual}${errors}")
endif()
file(READ ${EXPECTED_FILE} expected)
string(STRIP "${expected}" expected)
string(STRIP "${actual}" actual)
if(NOT actual STREQUAL expected)
  message(FATAL_ERROR "${PROGRAM} printed\n${actual}\nbut README.md promises\n${expected}")
endif()
message(STATUS "output matches README.md:\n${actual}")
