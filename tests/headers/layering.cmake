# cmake -DINCLUDE_DIR=<abs path of include/> -P layering.cmake
# Fails on a forbidden include edge between the library's folders. Every header
# belongs to the folder of the longest matching prefix below; a header may include
# headers of its own folder and of folders of a LOWER rank, nothing else (so peers
# of equal rank, e.g. metrics/ and data/, never include each other, and the include
# graph between folders has no cycle). Serving headers (mechanisms/) therefore never
# reach train/. A folder missing from the table fails too: a new folder needs a rank.
#   core 0 < io 10 < nn/detail 19 < nn, sort 20 < click_models 30
#   < mechanisms 40 (the interfaces) < mechanisms/baselines 41 < mechanisms/learned 42
#   < metrics, data 50 < train 60 < train/objectives 61 < train/recipes 62
if(NOT DEFINED INCLUDE_DIR)
  message(FATAL_ERROR "layering.cmake: -DINCLUDE_DIR=... is required")
endif()
set(folders core io nn/detail nn sort click_models mechanisms/baselines mechanisms/learned mechanisms
            metrics data train/objectives train/recipes train)
set(ranks   0    10 19        20 20   30           41                   42                  40
            50      50   61               62            60)

# folder_of(<path relative to diffauction/>) -> longest matching folder and its rank
function(folder_of path out_folder out_rank)
  set(best "")
  set(best_rank "")
  set(best_len -1)
  foreach(f r IN ZIP_LISTS folders ranks)
    string(LENGTH "${f}/" len)
    string(SUBSTRING "${path}" 0 ${len} head)
    if(head STREQUAL "${f}/" AND len GREATER best_len)
      set(best ${f})
      set(best_rank ${r})
      set(best_len ${len})
    endif()
  endforeach()
  set(${out_folder} "${best}" PARENT_SCOPE)
  set(${out_rank} "${best_rank}" PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE headers RELATIVE ${INCLUDE_DIR}/diffauction ${INCLUDE_DIR}/diffauction/*.hpp)
list(REMOVE_ITEM headers diffauction.hpp)
if(NOT headers)
  message(FATAL_ERROR "layering.cmake: no headers under ${INCLUDE_DIR}/diffauction")
endif()
set(include_re "^[ \t]*#[ \t]*include[ \t]*[<\"]diffauction/([^>\"]+)[>\"]")
set(report "")
set(edges 0)
foreach(header IN LISTS headers)
  folder_of(${header} from from_rank)
  if(from STREQUAL "")
    string(APPEND report "  ${header}: its folder has no rank in tests/headers/layering.cmake\n")
    continue()
  endif()
  file(STRINGS ${INCLUDE_DIR}/diffauction/${header} lines REGEX "${include_re}")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "${include_re}.*" "\\1" target "${line}")
    math(EXPR edges "${edges} + 1")
    if(target STREQUAL "diffauction.hpp")
      string(APPEND report "  forbidden include: ${header} -> the umbrella header\n")
      continue()
    endif()
    folder_of(${target} to to_rank)
    if(to STREQUAL "")
      string(APPEND report "  ${header} -> ${target}: no rank for its folder\n")
    elseif(NOT to STREQUAL from AND NOT to_rank LESS from_rank)
      string(APPEND report "  forbidden include: ${header} (${from}, rank ${from_rank}) -> ${target} (${to}, rank ${to_rank})\n")
    endif()
  endforeach()
endforeach()
if(report)
  message(FATAL_ERROR "include layering violated:\n${report}")
endif()
list(LENGTH headers count)
message(STATUS "include layering holds: ${count} headers, ${edges} includes")
