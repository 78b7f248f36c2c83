# Compiles quickjs-ng's core files and guest/ to a wasm32-wasi reactor, links it against Debian's
# wasi-libc, then optimises the linked module with binaryen's wasm-opt.
# Only the core files: no quickjs-libc, no std/os modules.

# The C compiler is zig's bundled clang 20, hash-pinned from PyPI and installed once outside the
# clone (scripts/guest-compiler.sh): its wasm code runs the interpreter about 10% faster than
# Debian's clang 14 (fib(30) 122 -> 111 ms, README "Performance"). `-mcpu=mvp` plus the features
# below keeps the objects within what Debian's wasm-ld 14 links and the engine enables.
run_dependency_script(guest-compiler.sh ZIG "installing the guest compiler")
# A new lock re-runs this configure step, which installs that compiler into a new cache entry.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${PROJECT_SOURCE_DIR}/python/requirements/guest-compiler.txt)
set(WASM_CC ${ZIG} cc -target wasm32-wasi -mcpu=mvp)
find_program(WASM_CXX NAMES clang++-14 REQUIRED)  # ada (URL) is C++, with Debian's wasm32 libc++ 14; it links too
set(GUEST_STACK_SIZE 1048576 CACHE STRING "wasm shadow stack of the guest, bytes")
set(GUEST_OPT_LEVEL -O2 CACHE STRING "clang optimisation level of the guest")

set(GUEST_CFLAGS
  ${GUEST_OPT_LEVEL}
  -mmutable-globals -mbulk-memory -msign-ext -mnontrapping-fptoint
  -D_GNU_SOURCE -DNDEBUG
  -I${QUICKJS_SOURCE_DIR} -I${PROJECT_SOURCE_DIR}/abi -I${PROJECT_SOURCE_DIR}/guest
  -Wall -Wno-unused-parameter)
# quickjs-ng itself is not ours to lint
set(QUICKJS_EXTRA_CFLAGS -w)

set(GUEST_OBJ_DIR ${CMAKE_BINARY_DIR}/guest)
file(MAKE_DIRECTORY ${GUEST_OBJ_DIR})

# The guest's JavaScript (guest/NAME.js) -> C arrays qb_NAME_source, evaluated at bootstrap (fetch's
# layer is built then too, but installed only when the host grants a network).
set(GUEST_SCRIPTS prelude web web_events url fetch)
foreach(script ${GUEST_SCRIPTS})
  add_custom_command(
    OUTPUT ${GUEST_OBJ_DIR}/${script}_js.c
    COMMAND ${CMAKE_COMMAND} -DINPUT=${PROJECT_SOURCE_DIR}/guest/${script}.js
            -DOUTPUT=${GUEST_OBJ_DIR}/${script}_js.c -DSYMBOL=qb_${script}_source
            -P ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
    DEPENDS ${PROJECT_SOURCE_DIR}/guest/${script}.js ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
    COMMENT "Embedding guest/${script}.js")
endforeach()

set(GUEST_OBJECTS)
function(guest_object src extra)
  get_filename_component(name ${src} NAME_WE)
  set(obj ${GUEST_OBJ_DIR}/${name}.o)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${WASM_CC} ${GUEST_CFLAGS} ${extra} -c ${src} -o ${obj}
    DEPENDS ${src} ${PROJECT_SOURCE_DIR}/abi/quickbox_abi.h ${PROJECT_SOURCE_DIR}/guest/guest.h
            ${PROJECT_SOURCE_DIR}/guest/sha.h
    COMMENT "wasm32-wasi: ${name}.c"
    VERBATIM COMMAND_EXPAND_LISTS)
  set(GUEST_OBJECTS ${GUEST_OBJECTS} ${obj} PARENT_SCOPE)
endfunction()

# quickjs.c is patched (see cmake/PatchQuickJS.cmake); the others compile as shipped.
set(PATCHED_QUICKJS ${GUEST_OBJ_DIR}/patched/quickjs.c)
add_custom_command(
  OUTPUT ${PATCHED_QUICKJS}
  COMMAND ${CMAKE_COMMAND} -DINPUT=${QUICKJS_SOURCE_DIR}/quickjs.c -DOUTPUT=${PATCHED_QUICKJS}
          -P ${PROJECT_SOURCE_DIR}/cmake/PatchQuickJS.cmake
  DEPENDS ${QUICKJS_SOURCE_DIR}/quickjs.c ${PROJECT_SOURCE_DIR}/cmake/PatchQuickJS.cmake
  COMMENT "Patching quickjs.c (cmake/PatchQuickJS.cmake)")
guest_object(${PATCHED_QUICKJS} "${QUICKJS_EXTRA_CFLAGS}")
foreach(f libregexp libunicode dtoa)
  guest_object(${QUICKJS_SOURCE_DIR}/${f}.c "${QUICKJS_EXTRA_CFLAGS}")
endforeach()
foreach(f guest cbor error_text timers web sha handles script_cache)
  guest_object(${PROJECT_SOURCE_DIR}/guest/${f}.c "")
endforeach()
foreach(script ${GUEST_SCRIPTS})
  guest_object(${GUEST_OBJ_DIR}/${script}_js.c "")
endforeach()

# ada (the WHATWG URL parser behind URL and URLSearchParams) and guest/url.cc, its glue, are C++:
# no exceptions (wasm32 has none here; ada does not throw) and no RTTI.
set(GUEST_CXXFLAGS
  --target=wasm32-wasi -O2 -std=c++17 -fno-exceptions -fno-rtti
  -mmutable-globals -mbulk-memory -msign-ext -mnontrapping-fptoint
  -DNDEBUG -I${ADA_SOURCE_DIR} -I${QUICKJS_SOURCE_DIR} -I${PROJECT_SOURCE_DIR}/abi -I${PROJECT_SOURCE_DIR}/guest)
function(guest_cxx_object src extra)
  get_filename_component(name ${src} NAME_WE)
  get_filename_component(file ${src} NAME)
  set(obj ${GUEST_OBJ_DIR}/${name}.o)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${WASM_CXX} ${GUEST_CXXFLAGS} ${extra} -c ${src} -o ${obj}
    DEPENDS ${src} ${ADA_SOURCE_DIR}/ada.h ${PROJECT_SOURCE_DIR}/abi/quickbox_abi.h
            ${PROJECT_SOURCE_DIR}/guest/guest.h
    COMMENT "wasm32-wasi: ${file}"
    VERBATIM COMMAND_EXPAND_LISTS)
  set(GUEST_OBJECTS ${GUEST_OBJECTS} ${obj} PARENT_SCOPE)
endfunction()
guest_cxx_object(${ADA_SOURCE_DIR}/ada.cpp "-w")  # ada is not ours to lint
guest_cxx_object(${PROJECT_SOURCE_DIR}/guest/url.cc "-Wall;-Wno-unused-parameter")

set(GUEST_LINKED ${GUEST_OBJ_DIR}/guest-linked.wasm)
add_custom_command(
  OUTPUT ${GUEST_LINKED}
  COMMAND ${WASM_CXX} --target=wasm32-wasi -mexec-model=reactor -fno-exceptions ${GUEST_OBJECTS}
          -Wl,--stack-first -Wl,-z,stack-size=${GUEST_STACK_SIZE}
          -Wl,--export=__stack_pointer -Wl,--strip-debug -o ${GUEST_LINKED}
  DEPENDS ${GUEST_OBJECTS}
  COMMENT "Linking the guest module"
  VERBATIM COMMAND_EXPAND_LISTS)

# binaryen's optimiser over the whole linked module (install-deps.sh installs Debian's binaryen).
set(GUEST_WASM ${GUEST_OBJ_DIR}/guest.wasm)
set(GUEST_WASM_OPT_FLAGS -O3 CACHE STRING "wasm-opt passes for the linked guest (empty: no wasm-opt)")
if(GUEST_WASM_OPT_FLAGS)
  find_program(WASM_OPT NAMES wasm-opt REQUIRED)
  add_custom_command(
    OUTPUT ${GUEST_WASM}
    COMMAND ${WASM_OPT} ${GUEST_WASM_OPT_FLAGS} --enable-bulk-memory --enable-sign-ext
            --enable-nontrapping-float-to-int --enable-mutable-globals ${GUEST_LINKED} -o ${GUEST_WASM}
    DEPENDS ${GUEST_LINKED}
    COMMENT "Optimising the guest module (wasm-opt ${GUEST_WASM_OPT_FLAGS})"
    VERBATIM COMMAND_EXPAND_LISTS)
else()
  add_custom_command(OUTPUT ${GUEST_WASM}
    COMMAND ${CMAKE_COMMAND} -E copy ${GUEST_LINKED} ${GUEST_WASM} DEPENDS ${GUEST_LINKED} VERBATIM)
endif()
add_custom_target(guest_wasm DEPENDS ${GUEST_WASM})
