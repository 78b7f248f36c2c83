# cmake -DINPUT=quickjs.c -DOUTPUT=patched/quickjs.c -P PatchQuickJS.cmake
#
# The build compiles a copy of quickjs.c with the few edits below. Each edit replaces an exact
# piece of quickjs-ng's source that must occur exactly as often as stated; a quickjs-ng upgrade
# that moves one fails the build here, by name, instead of silently dropping a guarantee.
file(READ ${INPUT} source)

# patch(<what it is for> <expected count> <pattern> <replacement>)
function(patch why count pattern replacement)
  string(REPLACE "${pattern}" "" rest "${source}")
  string(LENGTH "${source}" a)
  string(LENGTH "${rest}" b)
  string(LENGTH "${pattern}" p)
  math(EXPR found "(${a} - ${b}) / ${p}")
  if(NOT found EQUAL ${count})
    message(FATAL_ERROR "PatchQuickJS (${why}): expected the pattern ${count} time(s) in ${INPUT}, "
                        "found ${found}; quickjs-ng changed, update cmake/PatchQuickJS.cmake")
  endif()
  string(REPLACE "${pattern}" "${replacement}" patched "${source}")
  set(source "${patched}" PARENT_SCOPE)
endfunction()

# 1. Out-of-memory is catchable. quickjs-ng makes every InternalError uncatchable, which leaves JS
#    no way to recover from one; Quickbox promises a catchable error at the soft memory limit.
#    JS_ResetUncatchableError() is quickjs-ng's public API. Interrupts (timeouts) stay uncatchable.
patch("catchable out-of-memory" 1
  "        JS_ThrowInternalError(ctx, \"out of memory\");\n        rt->in_out_of_memory = false;"
  "        JS_ThrowInternalError(ctx, \"out of memory\");\n        JS_ResetUncatchableError(ctx); /* quickbox: OOM is catchable */\n        rt->in_out_of_memory = false;")

# 2. A failure never reaches JS without an exception value. Code that allocates through the
#    runtime (atoms, shapes, js_malloc_rt) reports an allocation failure by returning failure
#    without throwing, so the interpreter's catch, promise rejections and the embedder all took
#    QuickJS's internal "no exception" marker (JS_UNINITIALIZED: typeof "unknown", not even equal
#    to itself) as the thrown value. Every place that takes the pending exception now first
#    turns "failed with nothing pending" into the out-of-memory error it stands for, or null when
#    even that cannot be allocated (as QuickJS itself does).
patch("an exception is pending whenever one is taken" 1
  "/* return the pending exception (cannot be called twice). */\nJSValue JS_GetException(JSContext *ctx)\n{\n    JSValue val;\n    JSRuntime *rt = ctx->rt;\n    val = rt->current_exception;"
  "/* quickbox: see cmake/PatchQuickJS.cmake (2) */\nstatic void js_ensure_exception(JSContext *ctx)\n{\n    if (!JS_IsUninitialized(ctx->rt->current_exception))\n        return;\n    JS_ThrowOutOfMemory(ctx);\n    if (JS_IsUninitialized(ctx->rt->current_exception))\n        JS_Throw(ctx, JS_NULL);\n}\n\n/* return the pending exception (cannot be called twice). */\nJSValue JS_GetException(JSContext *ctx)\n{\n    JSValue val;\n    JSRuntime *rt = ctx->rt;\n    js_ensure_exception(ctx);\n    val = rt->current_exception;")
# The out-of-memory error is InternalError "out of memory" or null, nothing in between: when its
# message cannot be allocated, quickjs-ng would substitute "Invalid error message".
patch("the out-of-memory error has its message or is null" 1
  "    msg = JS_NewString(ctx, message);\n    if (JS_IsException(msg))\n        msg = JS_NewString(ctx, \"Invalid error message\");"
  "    msg = JS_NewString(ctx, message);\n    if (JS_IsException(msg) && ctx->rt->in_out_of_memory) {\n        JS_FreeValue(ctx, obj); /* quickbox: see cmake/PatchQuickJS.cmake (2) */\n        return JS_EXCEPTION;\n    }\n    if (JS_IsException(msg))\n        msg = JS_NewString(ctx, \"Invalid error message\");")
# The compiler's buffers stop growing when an allocation fails, and the truncated bytecode is
# then reported as an uncatchable InternalError "bytecode buffer overflow" (the bytecode is the
# compiler's own, so that is its only cause): it is the out-of-memory error it stands for.
patch("a truncated bytecode buffer is out-of-memory" 2
  "JS_ThrowInternalError(ctx, \"bytecode buffer overflow (op=%d, pc=%d)\", op, pos);"
  "JS_ThrowOutOfMemory(ctx); /* quickbox: see cmake/PatchQuickJS.cmake (2) */")
# build_backtrace saves and restores whatever is pending, which may legitimately be nothing.
patch("backtraces save the pending exception as it is" 2
  "saved_exception = JS_GetException(ctx);"
  "saved_exception = rt->current_exception; rt->current_exception = JS_UNINITIALIZED;")
patch("the interpreter's catch takes a real exception" 1
  " exception:\n    if (needs_backtrace(rt->current_exception)"
  " exception:\n    js_ensure_exception(ctx);\n    if (needs_backtrace(rt->current_exception)")
patch("iterator close takes a real exception" 1
  "        ex_obj = ctx->rt->current_exception;\n        ctx->rt->current_exception = JS_UNINITIALIZED;"
  "        ex_obj = JS_GetException(ctx);")
# With out-of-memory catchable (1), rejecting an async function's promise can fail with a
# catchable error, which quickjs-ng treats as impossible (abort). The failure propagates instead:
# the operation ends with it (OutOfMemory) and the process lives on.
patch("a failed rejection propagates instead of aborting" 1
  "                if (JS_IsUncatchableError(ctx->rt->current_exception)) {\n                    is_success = false;\n                } else {\n                    abort(); /* BUG */\n                }"
  "                is_success = false; /* quickbox: see cmake/PatchQuickJS.cmake */")
# An evaluation whose closure cannot be allocated (eval, new Function) fails with out-of-memory:
# quickjs-ng went on to call the failure marker as a function, so the program caught a TypeError
# "not a function" instead.
patch("a closure that could not be created is not called" 1
  "        fun_obj = js_closure(ctx, fun_obj, var_refs, sf);\n        ret_val = JS_CallFree(ctx, fun_obj, this_obj, 0, NULL);"
  "        fun_obj = js_closure(ctx, fun_obj, var_refs, sf);\n        if (JS_IsException(fun_obj)) /* quickbox: see cmake/PatchQuickJS.cmake (2) */\n            return JS_EXCEPTION;\n        ret_val = JS_CallFree(ctx, fun_obj, this_obj, 0, NULL);")

# 3. The stack check counts the native stack too. Wasm frames live on two stacks: the C shadow
#    stack in linear memory, which QuickJS's check measures, and the host thread's native stack,
#    which wasmtime caps (max_wasm_stack) with a trap that discards the instance. Per function the
#    two differ by up to 30x (the parser, JSON, Proxy forwarding), so recursion inside QuickJS's C
#    code ran out of native stack long before the JS stack limit tripped. qb_native_stack_low()
#    (guest/guest.c) asks the host how much native stack is left; running low is the same
#    catchable "Maximum call stack size exceeded" as the JS stack limit.
patch("the stack check counts the native stack" 1
  "static inline bool js_check_stack_overflow(JSRuntime *rt, size_t alloca_size)\n{\n    uintptr_t sp;\n    sp = js_get_stack_pointer() - alloca_size;\n    return unlikely(sp < rt->stack_limit);\n}"
  "bool qb_native_stack_low(void); /* quickbox: guest/guest.c */\n\nstatic inline bool js_check_stack_overflow(JSRuntime *rt, size_t alloca_size)\n{\n    uintptr_t sp;\n    sp = js_get_stack_pointer() - alloca_size;\n    return unlikely(sp < rt->stack_limit) || unlikely(qb_native_stack_low());\n}")

# 4. The regexp engine's resource failures are the engine's own errors. The regexp compiler
#    reports running out of stack or memory as a SyntaxError with that text, and one exec path
#    throws an (uncatchable) InternalError "out of memory in regexp execution"; they become the
#    catchable RangeError of the stack check and the out-of-memory error, like everywhere else.
patch("regexp compile failures keep their kind" 1
  "    if (!re_bytecode_buf) {\n        JS_ThrowSyntaxError(ctx, \"%s\", error_msg);\n        return JS_EXCEPTION;\n    }"
  "    if (!re_bytecode_buf) {\n        /* quickbox: see cmake/PatchQuickJS.cmake (4) */\n        if (!strcmp(error_msg, \"stack overflow\"))\n            JS_ThrowStackOverflow(ctx);\n        else if (!strcmp(error_msg, \"out of memory\"))\n            JS_ThrowOutOfMemory(ctx);\n        else\n            JS_ThrowSyntaxError(ctx, \"%s\", error_msg);\n        return JS_EXCEPTION;\n    }")
patch("regexp exec out-of-memory is out-of-memory" 1
  "JS_ThrowInternalError(ctx, \"out of memory in regexp execution\");"
  "JS_ThrowOutOfMemory(ctx); /* quickbox: see cmake/PatchQuickJS.cmake (4) */")

# 5. A parse error does not replace an error that is already pending. The parser reports a
#    failed stack check or allocation (3, 2) and then, on its way out, sometimes a SyntaxError of
#    its own ("missing formal parameter") that replaced the real cause: a catchable stack
#    overflow turned into a SyntaxError. The first error is the true one.
patch("a parse error keeps the pending error" 1
  "    int backtrace_flags;\n\n    va_start(ap, fmt);\n    JS_ThrowError2(ctx, JS_SYNTAX_ERROR, false, fmt, ap);"
  "    int backtrace_flags;\n\n    if (JS_HasException(ctx)) /* quickbox: see cmake/PatchQuickJS.cmake (5) */\n        return -1;\n    va_start(ap, fmt);\n    JS_ThrowError2(ctx, JS_SYNTAX_ERROR, false, fmt, ap);")

# 6. A failed module graph leaves no dangling module records (ES modules, docs/modules.md).
#    Resolution marks a module resolved before loading its imports (that is how cycles end), so a
#    load failing half way leaves resolved modules whose import slot is empty, and modules of a
#    cycle pointing at the module whose resolution failed, which quickjs-ng then frees. A later
#    import of one of them read the empty slot or the freed record. Now a record is only freed
#    while no other record points at it, and the two walks over a graph that come before its
#    evaluation (creating the module functions, linking) refuse a module with an empty slot.
patch("module records are freed only when nothing points at them" 1
  "static void js_free_modules(JSContext *ctx, JSFreeModuleEnum flag)\n{\n    struct list_head *el, *el1;\n    list_for_each_safe(el, el1, &ctx->loaded_modules) {\n        JSModuleDef *m = list_entry(el, JSModuleDef, link);\n        if (flag == JS_FREE_MODULE_ALL ||\n            (flag == JS_FREE_MODULE_NOT_RESOLVED && !m->resolved)) {"
  "/* quickbox: see cmake/PatchQuickJS.cmake (6) */\nstatic bool js_module_is_required(JSContext *ctx, JSModuleDef *m)\n{\n    struct list_head *el;\n    int i;\n    list_for_each(el, &ctx->loaded_modules) {\n        JSModuleDef *m1 = list_entry(el, JSModuleDef, link);\n        if (m1 == m)\n            continue;\n        for (i = 0; i < m1->req_module_entries_count; i++)\n            if (m1->req_module_entries[i].module == m)\n                return true;\n    }\n    return false;\n}\n\nstatic void js_free_modules(JSContext *ctx, JSFreeModuleEnum flag)\n{\n    struct list_head *el, *el1;\n    list_for_each_safe(el, el1, &ctx->loaded_modules) {\n        JSModuleDef *m = list_entry(el, JSModuleDef, link);\n        if (flag == JS_FREE_MODULE_ALL ||\n            (flag == JS_FREE_MODULE_NOT_RESOLVED && !m->resolved && !js_module_is_required(ctx, m))) {")
patch("a module whose resolution failed is freed only when nothing points at it" 1
  " fail1:\n    /* XXX: should free all the unresolved dependencies */\n    if (m)\n        js_free_module_def(ctx, m);"
  " fail1:\n    /* XXX: should free all the unresolved dependencies */\n    if (m && !js_module_is_required(ctx, m)) /* quickbox: see cmake/PatchQuickJS.cmake (6) */\n        js_free_module_def(ctx, m);")
patch("creating module functions refuses a module with an import that failed to load" 1
  "        JSReqModuleEntry *rme = &m->req_module_entries[i];\n        if (js_create_module_function(ctx, rme->module) < 0)\n            return -1;"
  "        JSReqModuleEntry *rme = &m->req_module_entries[i];\n        if (!rme->module) { /* quickbox: see cmake/PatchQuickJS.cmake (6) */\n            char buf1[ATOM_GET_STR_BUF_SIZE], buf2[ATOM_GET_STR_BUF_SIZE];\n            JS_ThrowReferenceError(ctx, \"module '%s' cannot be linked: its import '%s' failed to load earlier\",\n                                   JS_AtomGetStr(ctx, buf1, sizeof(buf1), m->module_name),\n                                   JS_AtomGetStr(ctx, buf2, sizeof(buf2), rme->module_name));\n            return -1;\n        }\n        if (js_create_module_function(ctx, rme->module) < 0)\n            return -1;")
patch("linking refuses a module with an import that failed to load" 1
  "        JSReqModuleEntry *rme = &m->req_module_entries[i];\n        m1 = rme->module;\n        index = js_inner_module_linking(ctx, m1, pstack_top, index);"
  "        JSReqModuleEntry *rme = &m->req_module_entries[i];\n        m1 = rme->module;\n        if (!m1) { /* quickbox: see cmake/PatchQuickJS.cmake (6) */\n            char buf1[ATOM_GET_STR_BUF_SIZE], buf2[ATOM_GET_STR_BUF_SIZE];\n            JS_ThrowReferenceError(ctx, \"module '%s' cannot be linked: its import '%s' failed to load earlier\",\n                                   JS_AtomGetStr(ctx, buf1, sizeof(buf1), m->module_name),\n                                   JS_AtomGetStr(ctx, buf2, sizeof(buf2), rme->module_name));\n            goto fail;\n        }\n        index = js_inner_module_linking(ctx, m1, pstack_top, index);")

# 7. An import specifier holding a NUL character is refused: QuickJS hands specifiers to the
#    module loader as C strings, which would silently cut "a\0b" down to "a".
patch("a static import's specifier holds no NUL" 1
  "    cname = JS_AtomToCString(ctx, module_name1);\n    if (!cname) {\n        JS_FreeCString(ctx, base_cname);\n        return NULL;\n    }\n    m = js_host_resolve_imported_module(ctx, base_cname, cname, attributes);"
  "    size_t cname_len; /* quickbox: see cmake/PatchQuickJS.cmake (7) */\n    cname = JS_AtomToCStringLen(ctx, &cname_len, module_name1);\n    if (!cname) {\n        JS_FreeCString(ctx, base_cname);\n        return NULL;\n    }\n    if (strlen(cname) != cname_len) {\n        JS_ThrowTypeError(ctx, \"an import specifier cannot contain a NUL character\");\n        JS_FreeCString(ctx, base_cname);\n        JS_FreeCString(ctx, cname);\n        return NULL;\n    }\n    m = js_host_resolve_imported_module(ctx, base_cname, cname, attributes);")
patch("a dynamic import's specifier holds no NUL" 1
  "    filename = JS_ToCString(ctx, specifier);\n    if (!filename)\n        goto exception;\n    if (rt->dynamic_import) {"
  "    size_t filename_len; /* quickbox: see cmake/PatchQuickJS.cmake (7) */\n    filename = JS_ToCStringLen(ctx, &filename_len, specifier);\n    if (!filename)\n        goto exception;\n    if (strlen(filename) != filename_len) {\n        JS_ThrowTypeError(ctx, \"an import specifier cannot contain a NUL character\");\n        goto exception;\n    }\n    if (rt->dynamic_import) {")

# 8. A sandbox's first allocations touch few pages. Each sandbox starts from the base image, and
#    every image page it writes is a copy-on-write fault (about 2.5 us here on a pool slot never
#    used before) and a private page for as long as it lives. quickjs-ng serves blocks up to 512
#    bytes from 4 KB arenas, one list per size class: after bootstrap every class had a part-used
#    arena somewhere in the image, so an evaluation as small as `1+2` wrote about 36 pages spread
#    over 1 MB. Now bootstrap allocates through malloc (the image's objects lie in creation order,
#    so those every evaluation touches sit together), and JS_StartArenas(), called at the end of
#    bootstrap, switches arenas on with one small arena per size class at the top of the heap,
#    each later arena of a class twice the size of the one before, up to 4 KB. The last arena of
#    a class is kept when it empties, so a loop of small evaluations does not allocate and free
#    one each time.
patch("arenas remember whether they started and their next size" 1
  "    struct list_head free_arena_list[JS_ARENA_BLOCK_SIZE_COUNT];\n"
  "    struct list_head free_arena_list[JS_ARENA_BLOCK_SIZE_COUNT];\n    bool started; /* quickbox (8): small blocks come from arenas */\n    uint16_t next_arena_bytes[JS_ARENA_BLOCK_SIZE_COUNT]; /* quickbox (8): 0 = JS_ARENA_SIZE */\n")
patch("small blocks come from malloc until arenas start" 2
  "    if (!JS_ARENA_LARGE_BLOCKS_ONLY && total_size <= JS_ARENA_MAX_SMALL_SIZE) {"
  "    if (!JS_ARENA_LARGE_BLOCKS_ONLY && total_size <= JS_ARENA_MAX_SMALL_SIZE && rt->arena_state.started) {")
patch("arenas start small and double" 1
  "    block_size = arena_block_sizes[block_size_idx];\n    n_blocks = (JS_ARENA_SIZE - sizeof(JSArena)) / block_size;"
  "    block_size = arena_block_sizes[block_size_idx];\n    uint16_t *next_bytes = &rt->arena_state.next_arena_bytes[block_size_idx]; /* quickbox (8) */\n    size_t arena_bytes = *next_bytes ? *next_bytes : JS_ARENA_SIZE;\n    if (*next_bytes)\n        *next_bytes = arena_bytes * 2 >= JS_ARENA_SIZE ? 0 : arena_bytes * 2;\n    n_blocks = (arena_bytes - sizeof(JSArena)) / block_size;\n    if (n_blocks < 1)\n        n_blocks = 1;")
patch("arenas can be started" 1
  "void JS_RunGC(JSRuntime *rt)\n{"
  "/* quickbox: see cmake/PatchQuickJS.cmake (8) */\nbool JS_StartArenas(JSRuntime *rt, size_t first_arena_bytes)\n{\n    rt->arena_state.started = true;\n    for (int i = 0; i < JS_ARENA_BLOCK_SIZE_COUNT; i++) {\n        rt->arena_state.next_arena_bytes[i] = first_arena_bytes < JS_ARENA_SIZE ? first_arena_bytes : 0;\n        if (!arena_new(rt, i))\n            return false;\n    }\n    return true;\n}\n\nvoid JS_RunGC(JSRuntime *rt)\n{")

patch("the last arena of a size class stays when it empties" 1
  "        if (unlikely(ar->n_used_blocks == 0)) {"
  "        if (unlikely(ar->n_used_blocks == 0 && ar->link.next != ar->link.prev)) { /* quickbox (8) */")

# 9. The host sees the program's top-level let, const and class bindings. QuickJS keeps them in
#    a context object of its own and offers no way to ask. Such a binding hides a global property
#    of the same name from the program's bare references, so a capability registered under that
#    name would be unreachable (qb_define_capability refuses it), and a host call by name must
#    find the function the program would: JS_GetGlobalBinding resolves a bare name as the
#    program's code does (the binding first, then globalThis; undefined when neither has it).
#    Appended at the end of the file, and written out rather than calling JS_GetGlobalVar: a
#    second caller kept that function from being inlined into the interpreter, where every
#    global read (`fib` in fib(30)) goes through it, and fib(30) ran 6% slower.
patch("the file ends where (9) is appended" 1
  "#undef malloc\n#undef free\n#undef realloc\n"
  "#undef malloc\n#undef free\n#undef realloc\n\n/* quickbox: see cmake/PatchQuickJS.cmake (9) */\nJSValue JS_GetGlobalBinding(JSContext *ctx, JSAtom prop)\n{\n    JSProperty *pr;\n    JSShapeProperty *prs = find_own_property(&pr, JS_VALUE_GET_OBJ(ctx->global_var_obj), prop);\n    if (prs) {\n        if (JS_IsUninitialized(pr->u.value))\n            return JS_ThrowReferenceErrorUninitialized(ctx, prs->atom);\n        return js_dup(pr->u.value);\n    }\n    return JS_GetProperty(ctx, ctx->global_obj, prop);\n}\n\nbool JS_HasGlobalLexical(JSContext *ctx, JSAtom prop)\n{\n    return find_own_property1(JS_VALUE_GET_OBJ(ctx->global_var_obj), prop) != NULL;\n}\n")

# 10. A script the host evaluates again runs the function it was made into the first time it was
#    kept (guest/script_cache.c), instead of a new function made from its bytecode at every
#    evaluation, as JS_EvalFunction does: making and freeing that function (an object with its
#    `length` and `name`, counted by the garbage collector) was a quarter of a repeated
#    `1+2`. JS_NewScriptFunction makes it. No program can tell the two apart: the function of a
#    script's top-level code is unreachable from JavaScript except through the V8 stack-trace API
#    (Error.prepareStackTrace's call sites), whose getFunction() now answers undefined for it, kept
#    or not, as V8's does for strict code.
patch("bytecode knows a host-evaluated script's top level" 1
  "    uint8_t backtrace_barrier : 1; /* stop backtrace on this function */\n"
  "    uint8_t backtrace_barrier : 1; /* stop backtrace on this function */\n    uint8_t is_global_script : 1; /* quickbox (10): a JS_EVAL_TYPE_GLOBAL script's top level */\n")
patch("the compiler marks a host-evaluated script's top level" 1
  "    b->backtrace_barrier = fd->backtrace_barrier;\n"
  "    b->backtrace_barrier = fd->backtrace_barrier;\n    b->is_global_script = fd->is_eval && fd->eval_type == JS_EVAL_TYPE_GLOBAL; /* quickbox (10) */\n")
patch("a call site hides a script's top-level function" 1
  "    csd->constructor = sf->is_constructor;\n    csd->func = js_dup(sf->cur_func);\n"
  "    csd->constructor = sf->is_constructor;\n    csd->func = js_dup(sf->cur_func);\n    if (js_class_has_bytecode(JS_VALUE_GET_OBJ(sf->cur_func)->class_id) &&\n        JS_VALUE_GET_OBJ(sf->cur_func)->u.func.function_bytecode->is_global_script) { /* quickbox (10) */\n        JS_FreeValue(ctx, csd->func);\n        csd->func = JS_UNDEFINED;\n    }\n")
patch("a script's function can be made once" 1
  "#undef malloc\n#undef free\n#undef realloc\n\n/* quickbox: see cmake/PatchQuickJS.cmake (9) */"
  "#undef malloc\n#undef free\n#undef realloc\n\n/* quickbox: see cmake/PatchQuickJS.cmake (10) */\nJSValue JS_NewScriptFunction(JSContext *ctx, JSValue bytecode)\n{\n    if (JS_VALUE_GET_TAG(bytecode) != JS_TAG_FUNCTION_BYTECODE ||\n        !((JSFunctionBytecode *)JS_VALUE_GET_PTR(bytecode))->is_global_script ||\n        ((JSFunctionBytecode *)JS_VALUE_GET_PTR(bytecode))->closure_var_count != 0) {\n        JS_FreeValue(ctx, bytecode);\n        return JS_ThrowTypeError(ctx, \"a global script's bytecode expected\");\n    }\n    return js_closure(ctx, bytecode, NULL, NULL);\n}\n\n/* quickbox: see cmake/PatchQuickJS.cmake (9) */")

file(WRITE ${OUTPUT} "${source}")
