# cmake -DINPUT=quickjs.c -DOUTPUT=patched/quickjs.c -P PatchQuickJS.cmake
#
# quickjs-ng (since it made every InternalError uncatchable) gives JS no way to recover from an
# out-of-memory error. Quickbox promises a *catchable* error at the soft memory limit, so the
# build copies quickjs.c and adds one call after the OOM throw: JS_ResetUncatchableError(), part
# of quickjs-ng's public API. Interrupts (timeouts) stay uncatchable. The pattern must match
# exactly once; a quickjs-ng upgrade that changes it fails the build here, by name.
file(READ ${INPUT} source)
set(pattern "        JS_ThrowInternalError(ctx, \"out of memory\");\n        rt->in_out_of_memory = false;")
set(replacement "        JS_ThrowInternalError(ctx, \"out of memory\");\n        JS_ResetUncatchableError(ctx); /* quickbox: OOM is catchable */\n        rt->in_out_of_memory = false;")
string(FIND "${source}" "${pattern}" first)
if(first EQUAL -1)
  message(FATAL_ERROR "PatchQuickJS: the out-of-memory throw in ${INPUT} changed; update cmake/PatchQuickJS.cmake")
endif()
string(REPLACE "${pattern}" "${replacement}" patched "${source}")
string(REPLACE "${pattern}" "" rest "${source}")
string(LENGTH "${source}" a)
string(LENGTH "${rest}" b)
string(LENGTH "${pattern}" p)
math(EXPR count "(${a} - ${b}) / ${p}")
if(NOT count EQUAL 1)
  message(FATAL_ERROR "PatchQuickJS: expected the out-of-memory throw once in ${INPUT}, found ${count}")
endif()
file(WRITE ${OUTPUT} "${patched}")
