# cmake -DMODE=install|subdirectory -DSOURCE_DIR=... -DTESTS_DIR=... -DWORK_DIR=...
#       -DGENERATOR=... -DCXX_COMPILER=... -DBUILD_TYPE=... -P consume.cmake
#
# install:      configures the source tree afresh in WORK_DIR/build (nothing but the
#               library: tests, benchmarks and examples off), installs it into
#               WORK_DIR/prefix, checks the installed layout and the version file
#               (0.1 is found, 0.0 and 0.2 are not: SameMinorVersion), then builds and
#               runs consumer/ with find_package(diffauction 0.1 CONFIG REQUIRED).
# subdirectory: builds and runs subdir_consumer/, which add_subdirectory()s the
#               source tree and fails to configure if the library brought its tests,
#               benchmarks or examples along; checks no such build folders appear.
# Every step runs in WORK_DIR, which is wiped first: nothing depends on how the
# build tree that runs this test was configured.
foreach(var MODE SOURCE_DIR TESTS_DIR WORK_DIR GENERATOR CXX_COMPILER BUILD_TYPE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "consume.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# Configure, build, run one consumer project; checks what it prints.
function(build_and_run_consumer source_dir binary_dir)
  run_step("configuring ${source_dir}"
    ${CMAKE_COMMAND} -S ${source_dir} -B ${binary_dir} -G ${GENERATOR}
      -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
      -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON ${ARGN})
  run_step("building ${source_dir}" ${CMAKE_COMMAND} --build ${binary_dir} --config ${BUILD_TYPE})
  file(GLOB_RECURSE programs ${binary_dir}/diffauction_consumer ${binary_dir}/diffauction_consumer.exe)
  if(NOT programs)
    message(FATAL_ERROR "the consumer program was not built in ${binary_dir}")
  endif()
  list(GET programs 0 program)
  run_step("running ${program}" ${program})
  if(NOT step_output MATCHES "diffauction consumer: ok")
    message(FATAL_ERROR "unexpected consumer output:\n${step_output}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

if(MODE STREQUAL "install")
  set(prefix ${WORK_DIR}/prefix)
  run_step("configuring the library"
    ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
      -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
      -DCMAKE_INSTALL_PREFIX=${prefix} -DDIFFAUCTION_BUILD_TESTS=OFF
      -DDIFFAUCTION_BUILD_BENCHMARKS=OFF -DDIFFAUCTION_BUILD_EXAMPLES=OFF)
  run_step("building the library" ${CMAKE_COMMAND} --build ${WORK_DIR}/build --config ${BUILD_TYPE})
  run_step("installing the library" ${CMAKE_COMMAND} --install ${WORK_DIR}/build --config ${BUILD_TYPE})

  # GNUInstallDirs defaults: include/ and share/ (the package is architecture independent).
  foreach(file IN ITEMS
      include/diffauction/diffauction.hpp
      include/diffauction/core/auction.hpp
      include/diffauction/mechanisms/baselines/gsp.hpp
      share/diffauction/cmake/diffauctionConfig.cmake
      share/diffauction/cmake/diffauctionConfigVersion.cmake
      share/diffauction/cmake/diffauctionTargets.cmake)
    if(NOT EXISTS ${prefix}/${file})
      message(FATAL_ERROR "install is missing ${file}")
    endif()
  endforeach()

  # The version file: a probe project asks for several versions.
  file(WRITE ${WORK_DIR}/probe/CMakeLists.txt [=[
cmake_minimum_required(VERSION 3.20)
project(diffauction_version_probe LANGUAGES CXX)
foreach(version IN ITEMS 0.1 0.1.0 0.0 0.2 1.0)
  find_package(diffauction ${version} CONFIG QUIET)
  if(diffauction_FOUND)
    message(STATUS "probe ${version}: found")
  else()
    message(STATUS "probe ${version}: not found")
  endif()
  unset(diffauction_FOUND)
  unset(diffauction_DIR CACHE)
endforeach()
]=])
  run_step("configuring the version probe"
    ${CMAKE_COMMAND} -S ${WORK_DIR}/probe -B ${WORK_DIR}/probe-build -G ${GENERATOR}
      -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON)
  foreach(expect IN ITEMS "0.1: found" "0.1.0: found" "0.0: not found" "0.2: not found" "1.0: not found")
    if(NOT step_output MATCHES "probe ${expect}\n")
      message(FATAL_ERROR "version check: expected 'probe ${expect}' in\n${step_output}")
    endif()
  endforeach()

  build_and_run_consumer(${TESTS_DIR}/consumer ${WORK_DIR}/consumer-build
    -DCMAKE_PREFIX_PATH=${prefix})
  # The package must have come from the temporary prefix, not from elsewhere on the machine.
  file(STRINGS ${WORK_DIR}/consumer-build/CMakeCache.txt found_dir REGEX "^diffauction_DIR:")
  if(NOT found_dir STREQUAL "diffauction_DIR:PATH=${prefix}/share/diffauction/cmake")
    message(FATAL_ERROR "the consumer found the package elsewhere: ${found_dir}")
  endif()
elseif(MODE STREQUAL "subdirectory")
  build_and_run_consumer(${TESTS_DIR}/subdir_consumer ${WORK_DIR}/consumer-build
    -DDIFFAUCTION_SOURCE_DIR=${SOURCE_DIR})
  foreach(folder IN ITEMS tests bench examples)
    if(EXISTS ${WORK_DIR}/consumer-build/diffauction/${folder})
      message(FATAL_ERROR "add_subdirectory built the library's ${folder}/ by default")
    endif()
  endforeach()
else()
  message(FATAL_ERROR "consume.cmake: MODE must be install or subdirectory, not '${MODE}'")
endif()
message(STATUS "package ${MODE}: ok")
