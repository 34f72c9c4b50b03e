# cmake -DINCLUDE_DIR=<repo>/include -P umbrella_complete.cmake
# Fails unless diffauction/diffauction.hpp includes every public header, i.e. every
# .hpp under include/diffauction/ except itself and those in a detail/ folder
# (internal, reached through the public headers), and nothing that does not exist.
# Globs when the test runs, so a header added since the last configure counts.
if(NOT DEFINED INCLUDE_DIR)
  message(FATAL_ERROR "umbrella_complete.cmake: -DINCLUDE_DIR=... is required")
endif()
set(umbrella diffauction/diffauction.hpp)

file(GLOB_RECURSE headers RELATIVE ${INCLUDE_DIR} ${INCLUDE_DIR}/diffauction/*.hpp)
list(REMOVE_ITEM headers ${umbrella})
list(FILTER headers EXCLUDE REGEX "(^|/)detail/")
list(SORT headers)
if(NOT headers)
  message(FATAL_ERROR "umbrella_complete.cmake: no public headers under ${INCLUDE_DIR} (INCLUDE_DIR must be absolute)")
endif()

set(include_re "^[ \t]*#[ \t]*include[ \t]*[<\"](diffauction/[^>\"]+)[>\"]")
file(STRINGS ${INCLUDE_DIR}/${umbrella} lines REGEX "${include_re}")
set(included "")
foreach(line IN LISTS lines)
  string(REGEX REPLACE "${include_re}.*" "\\1" header "${line}")
  list(APPEND included ${header})
endforeach()

set(missing ${headers})
if(included)
  list(REMOVE_ITEM missing ${included})
endif()
set(unknown "")
foreach(header IN LISTS included)
  if(NOT EXISTS ${INCLUDE_DIR}/${header})
    list(APPEND unknown ${header})
  endif()
endforeach()

set(report "")
foreach(header IN LISTS missing)
  string(APPEND report "  missing:  #include \"${header}\"\n")
endforeach()
foreach(header IN LISTS unknown)
  string(APPEND report "  no such header: ${header}\n")
endforeach()
if(report)
  message(FATAL_ERROR "${umbrella} is out of date:\n${report}")
endif()
list(LENGTH headers count)
message(STATUS "${umbrella} includes all ${count} public headers")
