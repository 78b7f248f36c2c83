# Third-party code comes from package registries only:
#   - wasmtime's C API: crates.io, pinned in deps/wasmtime (built once, cached outside the clone)
#   - quickjs-ng's C sources: crates.io, pinned in deps/quickjs-ng (checksum in its Cargo.lock)
#   - ada's C++ sources (URL in the guest): crates.io, pinned in deps/ada-url (checksum in its Cargo.lock)
#   - everything else: Debian packages (see scripts/install-deps.sh)

# Runs scripts/SCRIPT, which sets up one dependency (once, cached outside the clone) and prints
# where it is; that path goes into VAR. WHAT names the step in the error if the script fails.
function(run_dependency_script script var what)
  execute_process(COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/${script}
                  OUTPUT_VARIABLE path OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE status)
  if(NOT status EQUAL 0 OR NOT EXISTS "${path}")
    message(FATAL_ERROR "${what} failed (scripts/${script})")
  endif()
  set(${var} "${path}" PARENT_SCOPE)
endfunction()

run_dependency_script(build-wasmtime.sh WASMTIME_PREFIX "building wasmtime")
message(STATUS "wasmtime: ${WASMTIME_PREFIX}")
# The wrapper crate also holds quickbox's own Rust (the TypeScript stripper): editing it re-runs
# this configure step, which builds the new library into a new cache entry.
file(GLOB wasmtime_crate_files ${PROJECT_SOURCE_DIR}/deps/wasmtime/*.rs
     ${PROJECT_SOURCE_DIR}/deps/wasmtime/Cargo.toml ${PROJECT_SOURCE_DIR}/deps/wasmtime/Cargo.lock)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${wasmtime_crate_files})

add_library(wasmtime STATIC IMPORTED GLOBAL)
set_target_properties(wasmtime PROPERTIES
  IMPORTED_LOCATION ${WASMTIME_PREFIX}/lib/libwasmtime.a
  INTERFACE_INCLUDE_DIRECTORIES ${WASMTIME_PREFIX}/include
  INTERFACE_LINK_LIBRARIES "pthread;dl;m")

run_dependency_script(fetch-quickjs.sh QUICKJS_SOURCE_DIR "fetching quickjs-ng")
file(STRINGS ${QUICKJS_SOURCE_DIR}/quickjs.h qjs_version_lines REGEX "#define QJS_VERSION_(MAJOR|MINOR|PATCH) ")
foreach(line ${qjs_version_lines})
  string(REGEX MATCH "QJS_VERSION_([A-Z]+) ([0-9]+)" _ "${line}")
  set(QJS_${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
endforeach()
set(QUICKJS_VERSION "${QJS_MAJOR}.${QJS_MINOR}.${QJS_PATCH}")
message(STATUS "quickjs-ng ${QUICKJS_VERSION}: ${QUICKJS_SOURCE_DIR}")

run_dependency_script(fetch-ada.sh ADA_SOURCE_DIR "fetching ada")
file(STRINGS ${ADA_SOURCE_DIR}/ada.h ada_version_line REGEX "#define ADA_VERSION \"")
string(REGEX MATCH "[0-9.]+" ADA_VERSION "${ada_version_line}")
message(STATUS "ada ${ADA_VERSION}: ${ADA_SOURCE_DIR}")

find_package(PkgConfig REQUIRED)
pkg_check_modules(CBOR REQUIRED IMPORTED_TARGET libcbor)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
# fetch(): the HTTP client (Debian's libcurl4-openssl-dev, 7.88: CURLOPT_PREREQFUNCTION needs 7.80)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl>=7.80)
if(QUICKBOX_BUILD_CLI)
  # The repl's line editing, history and completion. libedit (BSD licence) rather than readline,
  # whose GPL would cover the whole program.
  pkg_check_modules(LIBEDIT REQUIRED IMPORTED_TARGET libedit)
endif()
find_package(OpenSSL REQUIRED)
find_package(Threads REQUIRED)
# JSON text (src/json.cc): Debian's nlohmann-json3-dev, header-only.
find_package(nlohmann_json 3.11 REQUIRED)
