# `pip install .` reuses the engine of a build tree of this checkout (the one `make build` made)
# instead of compiling the guest, the base image, the library and the CLI a second time in its own
# tree. The engine tree exports its targets (quickbox-engine.cmake); here they are imported under
# their own names, and one build step brings them up to date in that tree first (a no-op when
# they are current), so the package never links a stale engine.
#
# Sets QUICKBOX_ENGINE_REUSED (TRUE when the tree at QUICKBOX_ENGINE_FROM was usable); when it is
# FALSE the caller builds the engine itself. A tree is usable when it was configured from this
# source directory with the same build type and compiler, no sanitizers, and the CLI.

set(QUICKBOX_ENGINE_REUSED FALSE)
set(engine_dir "${QUICKBOX_ENGINE_FROM}")
set(engine_exports "${engine_dir}/quickbox-engine.cmake")
if(NOT EXISTS "${engine_dir}/CMakeCache.txt" OR NOT EXISTS "${engine_exports}")
  message(STATUS "engine: building it here (no configured engine tree at ${engine_dir})")
  return()
endif()
load_cache("${engine_dir}" READ_WITH_PREFIX engine_
  CMAKE_HOME_DIRECTORY CMAKE_BUILD_TYPE CMAKE_CXX_COMPILER QUICKBOX_SANITIZE QUICKBOX_BUILD_CLI)
# Paths are compared resolved: /usr/bin/c++ and /usr/bin/g++ may be the same compiler.
get_filename_component(engine_source "${engine_CMAKE_HOME_DIRECTORY}" REALPATH)
get_filename_component(this_source "${PROJECT_SOURCE_DIR}" REALPATH)
get_filename_component(engine_compiler "${engine_CMAKE_CXX_COMPILER}" REALPATH)
get_filename_component(this_compiler "${CMAKE_CXX_COMPILER}" REALPATH)
if(NOT engine_source STREQUAL this_source)
  set(mismatch "it was configured from ${engine_CMAKE_HOME_DIRECTORY}")
elseif(NOT engine_CMAKE_BUILD_TYPE STREQUAL CMAKE_BUILD_TYPE)
  set(mismatch "its build type is ${engine_CMAKE_BUILD_TYPE}, not ${CMAKE_BUILD_TYPE}")
elseif(NOT engine_compiler STREQUAL this_compiler)
  set(mismatch "it compiles with ${engine_compiler}, not ${this_compiler}")
elseif(engine_QUICKBOX_SANITIZE)
  set(mismatch "it is built with sanitizers (${engine_QUICKBOX_SANITIZE})")
elseif(NOT engine_QUICKBOX_BUILD_CLI)
  set(mismatch "it does not build the CLI")
endif()
if(DEFINED mismatch)
  message(STATUS "engine: building it here, not reusing ${engine_dir}: ${mismatch}")
  return()
endif()

# The imported targets name wasmtime, PkgConfig::CBOR and the other dependencies that
# Dependencies.cmake defines; their own names become aliases, so the rest of the build is the same.
include("${engine_exports}")
foreach(target quickbox quickbox_core)
  add_library(${target} ALIAS engine::${target})
endforeach()
add_executable(quickbox-cli ALIAS engine::quickbox-cli)

string(TOUPPER "${CMAKE_BUILD_TYPE}" config)
set(engine_files)
foreach(target quickbox quickbox_core quickbox-cli)
  get_target_property(file engine::${target} IMPORTED_LOCATION_${config})
  list(APPEND engine_files "${file}")
endforeach()
add_custom_target(quickbox_engine
  COMMAND ${CMAKE_COMMAND} --build "${engine_dir}" --target quickbox quickbox-cli
  BYPRODUCTS ${engine_files}
  COMMENT "Bringing the engine in ${engine_dir} up to date"
  USES_TERMINAL)
foreach(target quickbox quickbox_core quickbox-cli)
  add_dependencies(engine::${target} quickbox_engine)
endforeach()
message(STATUS "engine: reusing the build tree ${engine_dir}")
set(QUICKBOX_ENGINE_REUSED TRUE)
