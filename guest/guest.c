/* The Quickbox guest: quickjs-ng behind the coarse exports declared in abi/quickbox_abi.h.
 *
 * One instance holds one runtime and one context. qb_bootstrap() builds them once at build time;
 * the host captures the resulting memory as the base image, so every sandbox starts here with
 * qb_configure() as its only set-up call. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

#define QB_EXPORT(name) __attribute__((export_name(name)))

__attribute__((import_module(QB_IMPORT_MODULE), import_name(QB_IMPORT_INTERRUPT_CHECK))) int32_t
qb_host_interrupt_check(void);
__attribute__((import_module(QB_IMPORT_MODULE), import_name(QB_IMPORT_HOST_CALL))) void
qb_host_call(uint32_t capability_id, uint32_t args_ptr, uint32_t args_len, uint32_t reply_ptr);
__attribute__((import_module(QB_IMPORT_MODULE), import_name(QB_IMPORT_HOST_TAKE))) void
qb_host_take(uint32_t ptr);
__attribute__((import_module(QB_IMPORT_MODULE), import_name(QB_IMPORT_NATIVE_STACK_LEFT))) uint32_t
qb_host_native_stack_left(void);
__attribute__((import_module(QB_IMPORT_MODULE), import_name(QB_IMPORT_CONSOLE_LINE))) void
qb_host_console_line(uint32_t level, uint32_t text_ptr, uint32_t text_len);

/* The guest's JavaScript, embedded from guest/NAME.js by the build (cmake/Guest.cmake). */
extern const char qb_prelude_source[];
extern const unsigned qb_prelude_source_len;
extern const char qb_fetch_source[];
extern const unsigned qb_fetch_source_len;
extern const char qb_web_source[];
extern const unsigned qb_web_source_len;
extern const char qb_web_events_source[];
extern const unsigned qb_web_events_source_len;
extern const char qb_url_source[];
extern const unsigned qb_url_source_len;

qb_helper_fns qb_helpers;

/* What cmake/PatchQuickJS.cmake (9) adds to quickjs.c: the program's top-level bindings. */
bool JS_HasGlobalLexical(JSContext *ctx, JSAtom prop);
JSValue JS_GetGlobalBinding(JSContext *ctx, JSAtom prop);

static qb_exchange exchange = {.abi_version = QB_ABI_VERSION};
static qb_config config;
static JSRuntime *rt;
static JSContext *ctx;
static qb_buf input, output, console_buf;
static bool interrupted;
static uint64_t random_state[2];

/* Promises rejected with no handler during the current operation (removed again if a handler is
 * attached later, as Node does); reported when the operation ends. */
typedef struct rejection {
  JSValue promise;
  JSValue reason;
} rejection;
static rejection *rejections;
static size_t rejection_count, rejection_cap;

/* Async host calls in flight: the promise's resolving functions, by host-assigned call id. They
 * live in linear memory and the JS heap, so a snapshot carries them. */
typedef struct pending_call {
  uint32_t call_id;
  JSValue promise; /* what the program holds, for fetch_cancel_call */
  JSValue resolve;
  JSValue reject;
  JSValue capability; /* its name, for errors */
} pending_call;
static pending_call *pending_calls;
static size_t pending_count, pending_cap;

/* The evaluation in progress: the value being awaited and what to do with it once settled. It
 * survives between operations while the evaluation is suspended on host calls. */
#define DRIVE_UNWRAP 1u  /* the value is an async script's promise of {value} */
#define DRIVE_AWAIT 2u   /* a promise result is awaited */
#define DRIVE_DISCARD 4u /* the result is undefined once settled (modules) */
#define DRIVE_PRINT 8u    /* the value comes back with its console.log text too (node -p) */
#define DRIVE_INSPECT 16u /* ... with its util.inspect text (a REPL) */
#define DRIVE_DISPLAY (DRIVE_PRINT | DRIVE_INSPECT)
#define DRIVE_NAMESPACE 32u /* the result is driven_module's namespace once its promise settles */
#define DRIVE_HANDLE 64u    /* the value is pinned and replied as a handle (QB_EVAL_RESULT_HANDLE) */
static JSValue driven;
static JSModuleDef *driven_module; /* the module evaluation in progress (DRIVE_NAMESPACE) */
static uint32_t drive_mode;
static bool driving;
/* DRIVE_DISPLAY bits of the evaluation the operation in progress replies for (0 for any other
 * operation): thrown values are then described as util.inspect shows them. */
static uint32_t reply_display;
/* How many operations are set aside by qb_nest (0: the operation in progress is the outermost). */
static uint32_t nest_depth;

/* ---------------------------------------------------------------------------------------------
 * Memory: QuickJS allocates through these, so the soft limit is enforced here, where a refusal
 * can be recorded. When the heap is so full that QuickJS cannot even allocate its out-of-memory
 * error, it throws null; the record is what still identifies the failure as OutOfMemory.
 * ------------------------------------------------------------------------------------------- */
static size_t heap_used;         /* bytes QuickJS holds, as malloc_usable_size counts them */
static bool allocation_refused;  /* an allocation failed during the current operation */

static bool heap_allows(size_t more) {
  if (config.memory_limit && heap_used + more > config.memory_limit) {
    allocation_refused = true;
    return false;
  }
  return true;
}

bool qb_heap_has_room(size_t bytes) { return heap_allows(bytes); }

static void *heap_record(void *p) {
  if (!p) {
    allocation_refused = true; /* the hard limit: linear memory could not grow */
    return NULL;
  }
  heap_used += malloc_usable_size(p);
  return p;
}

static void *js_heap_calloc(void *opaque, size_t count, size_t size) {
  (void)opaque;
  if (size && count > SIZE_MAX / size) return NULL;
  return heap_allows(count * size) ? heap_record(calloc(count, size)) : NULL;
}

static void *js_heap_malloc(void *opaque, size_t size) {
  (void)opaque;
  return heap_allows(size) ? heap_record(malloc(size)) : NULL;
}

static void js_heap_free(void *opaque, void *ptr) {
  (void)opaque;
  if (!ptr) return;
  heap_used -= malloc_usable_size(ptr);
  free(ptr);
}

void *qb_malloc_if_room(JSContext *c, size_t size) {
  if (config.memory_limit && heap_used + size > config.memory_limit) return NULL;
  bool refused_before = allocation_refused;
  void *p = js_malloc(c, size);
  if (!p) { /* linear memory could not grow */
    allocation_refused = refused_before;
    JS_FreeValue(c, JS_GetException(c));
  }
  return p;
}

static void *js_heap_realloc(void *opaque, void *ptr, size_t size) {
  (void)opaque;
  if (!ptr) return js_heap_malloc(opaque, size);
  size_t old = malloc_usable_size(ptr);
  if (size > old && !heap_allows(size - old)) return NULL;
  void *p = realloc(ptr, size);
  if (!p) {
    if (size) allocation_refused = true;
    if (!size) heap_used -= old;
    return NULL;
  }
  heap_used = heap_used - old + malloc_usable_size(p);
  return p;
}

static size_t js_heap_usable_size(const void *ptr) { return malloc_usable_size((void *)ptr); }

static const JSMallocFunctions heap_functions = {js_heap_calloc, js_heap_malloc, js_heap_free,
                                                 js_heap_realloc, js_heap_usable_size};

/* ---------------------------------------------------------------------------------------------
 * Native stack: QuickJS's stack check calls this besides comparing the shadow stack pointer with
 * its limit (cmake/PatchQuickJS.cmake, 3). Running low throws the same catchable RangeError.
 * The reserve covers what runs after a check without checking again: building the RangeError and
 * its backtrace, and the C frames between two checks.
 *
 * Asking the host is an import call, and QuickJS checks on every JS call: asking each time cost
 * about 8% of fib(30). So an answer is trusted for as many further checks as it leaves room for:
 * the native stack grows by at most NATIVE_STACK_PER_CHECK from one check to the next, so after
 * an answer of `left` the next (left - reserve) / NATIVE_STACK_PER_CHECK checks cannot reach the
 * reserve. The largest growth between two consecutive checks measured over the stack and hostile
 * tests (parser nesting, JSON, Proxy chains, regexps) is about 5 KiB; the bound is 32 KiB. Near
 * the reserve the count is 0 and every check asks, as before. (A fixed "every 8th check" was not
 * safe: it ignored how close the last answer already was to the reserve.) An operation starts on
 * a fresh native stack, never deeper than the one counted for, so the count may carry over.
 * ------------------------------------------------------------------------------------------- */
#define NATIVE_STACK_RESERVE (256u << 10)
#define NATIVE_STACK_PER_CHECK (32u << 10)

static uint32_t checks_before_asking;

bool qb_native_stack_low(void) {
  if (checks_before_asking) {
    checks_before_asking--;
    return false;
  }
  uint32_t left = qb_host_native_stack_left();
  if (left < NATIVE_STACK_RESERVE) return true;
  checks_before_asking = (left - NATIVE_STACK_RESERVE) / NATIVE_STACK_PER_CHECK;
  return false;
}

/* ---------------------------------------------------------------------------------------------
 * Runtime hooks
 * ------------------------------------------------------------------------------------------- */
static int on_interrupt(JSContext *unused_ctx, void *unused) {
  (void)unused_ctx;
  (void)unused;
  if (qb_host_interrupt_check()) interrupted = true;
  return interrupted;
}

bool qb_interrupt(JSContext *c) {
  if (!on_interrupt(c, NULL)) return false;
  JS_ThrowInternalError(c, "interrupted");
  JSValue exc = JS_GetException(c);
  JS_SetUncatchableError(c, exc);
  JS_Throw(c, exc);
  return true;
}

static void on_rejection(JSContext *c, JSValueConst promise, JSValueConst reason, bool is_handled,
                         void *unused) {
  (void)unused;
  if (is_handled) {
    for (size_t i = 0; i < rejection_count; i++) {
      if (JS_VALUE_GET_PTR(rejections[i].promise) == JS_VALUE_GET_PTR(promise)) {
        JS_FreeValue(c, rejections[i].promise);
        JS_FreeValue(c, rejections[i].reason);
        rejections[i] = rejections[--rejection_count];
        return;
      }
    }
    return;
  }
  if (rejection_count == rejection_cap) {
    size_t cap = rejection_cap ? 2 * rejection_cap : 8;
    rejection *grown = realloc(rejections, cap * sizeof *grown);
    if (!grown) return; /* tracking is best effort under memory pressure */
    rejections = grown;
    rejection_cap = cap;
  }
  rejections[rejection_count++] = (rejection){JS_DupValue(c, promise), JS_DupValue(c, reason)};
}

static void forget_rejection(JSValueConst promise) { on_rejection(ctx, promise, JS_UNDEFINED, true, NULL); }

static void clear_rejections(void) {
  for (size_t i = 0; i < rejection_count; i++) {
    JS_FreeValue(ctx, rejections[i].promise);
    JS_FreeValue(ctx, rejections[i].reason);
  }
  rejection_count = 0;
}

/* xorshift128+, seeded per sandbox by the host (the base image must not fix the sequence). */
static JSValue math_random(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
  (void)this_val;
  (void)argc;
  (void)argv;
  uint64_t s1 = random_state[0];
  const uint64_t s0 = random_state[1];
  random_state[0] = s0;
  s1 ^= s1 << 23;
  random_state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
  uint64_t bits = (random_state[1] + s0) >> 11; /* 53 random bits */
  return JS_NewFloat64(c, (double)bits / 9007199254740992.0);
}

static void seed_random(uint64_t seed) {
  /* splitmix64 spreads any seed (0 included) over both words */
  for (int i = 0; i < 2; i++) {
    uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    random_state[i] = z ^ (z >> 31);
  }
}

/* console.* lands here through the prelude: (level, text). */
static JSValue console_write(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
  (void)this_val;
  int32_t level = 0;
  if (argc < 2 || JS_ToInt32(c, &level, argv[0])) return JS_UNDEFINED;
  size_t len;
  const char *text = JS_ToCStringLen(c, &len, argv[1]);
  if (!text) return JS_EXCEPTION;
  qb_replace_lone_surrogates((char *)text, len);
  if (config.flags & QB_CONFIG_LIVE_CONSOLE) {
    /* the host listens: each line goes out as it is printed (the host applies the limit) */
    qb_host_console_line((uint32_t)level, (uint32_t)(uintptr_t)text, (uint32_t)len);
    JS_FreeCString(c, text);
    return JS_UNDEFINED;
  }
  size_t record = QB_CONSOLE_RECORD_HEADER + len;
  if (exchange.console_dropped || console_buf.len + record > config.console_limit ||
      !qb_buf_reserve(&console_buf, record)) {
    exchange.console_dropped += (uint32_t)(len + 1);
  } else {
    uint8_t head[QB_CONSOLE_RECORD_HEADER] = {(uint8_t)level, (uint8_t)len, (uint8_t)(len >> 8),
                                              (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
    qb_buf_append(&console_buf, head, sizeof head);
    qb_buf_append(&console_buf, text, len);
    /* published at once, so the host still finds it if a hard trap ends the operation */
    exchange.console_ptr = (uint32_t)(uintptr_t)console_buf.data;
    exchange.console_len = (uint32_t)console_buf.len;
  }
  JS_FreeCString(c, text);
  return JS_UNDEFINED;
}

static void free_pending_call(pending_call call) {
  JS_FreeValue(ctx, call.promise);
  JS_FreeValue(ctx, call.resolve);
  JS_FreeValue(ctx, call.reject);
  JS_FreeValue(ctx, call.capability);
}

static void drop_pending_calls(void) {
  for (size_t i = 0; i < pending_count; i++) free_pending_call(pending_calls[i]);
  pending_count = 0;
}

/* Host calls and timers the evaluation leaves behind end with it. */
static void drop_evaluation_work(void) {
  drop_pending_calls();
  if (!nest_depth) qb_timers_clear(ctx); /* a nested operation's timers go on with the outer one */
}

static void stop_driving(void) {
  if (driving) JS_FreeValue(ctx, driven);
  driven = JS_UNDEFINED;
  driven_module = NULL;
  driving = false;
  drop_evaluation_work();
}

/* What a value leaving the sandbox may be (results, host-call arguments). */
static qb_value_limits outgoing_limits(void) {
  return (qb_value_limits){.max_depth = config.max_depth, .max_bytes = config.result_limit,
                           .bigint_bytes = config.bigint_limit};
}

/* What a value from the host may be; extra_depth allows for the wrapping of call arguments. */
static qb_value_limits incoming_limits(uint32_t extra_depth) {
  return (qb_value_limits){.max_depth = config.max_depth + extra_depth,
                           .bigint_bytes = config.bigint_limit};
}

/* ---------------------------------------------------------------------------------------------
 * Capabilities: JS functions that call the host
 * ------------------------------------------------------------------------------------------- */
/* The encoded arguments of the capability call in progress, reused from call to call. Encoding
 * runs getters, which may call a capability themselves: that call encodes into a buffer of its
 * own (call_args_busy), so the outer call's arguments are not overwritten half way. */
static qb_buf call_args;
static bool call_args_busy;

/* Takes the bytes of the host's last reply and decodes them (a value, or an Error). A small
 * reply (most are) is taken onto the stack rather than the heap. */
static JSValue take_host_value(uint32_t len) {
  uint8_t small[256];
  uint8_t *bytes = len <= sizeof small ? small : malloc(len);
  if (!bytes) return JS_ThrowOutOfMemory(ctx);
  qb_host_take((uint32_t)(uintptr_t)bytes);
  JSValue v = qb_cbor_decode(ctx, bytes, len, incoming_limits(2));
  if (bytes != small) free(bytes);
  return v;
}

/* Rebuilds an Error the host sent (decoded from CBOR: name and message only) with the right
 * constructor and a stack that starts at the capability. Consumes error. */
static JSValue host_error(JSValue error, JSValueConst capability) {
  if (!JS_IsObject(error)) return error;
  JSValue args[3] = {JS_GetPropertyStr(ctx, error, "name"), JS_GetPropertyStr(ctx, error, "message"),
                     JS_DupValue(ctx, capability)};
  JS_FreeValue(ctx, error);
  JSValue rebuilt = JS_Call(ctx, qb_helpers.make_error, JS_UNDEFINED, 3, (JSValueConst *)args);
  for (int i = 0; i < 3; i++) JS_FreeValue(ctx, args[i]);
  return rebuilt;
}

static JSValue rejected_with(JSValue reason) {
  JSValue funcs[2];
  JSValue promise = JS_NewPromiseCapability(ctx, funcs);
  if (JS_IsException(promise)) {
    JS_FreeValue(ctx, reason);
    return promise;
  }
  JSValue r = JS_Call(ctx, funcs[1], JS_UNDEFINED, 1, (JSValueConst *)&reason);
  JS_FreeValue(ctx, r);
  JS_FreeValue(ctx, reason);
  JS_FreeValue(ctx, funcs[0]);
  JS_FreeValue(ctx, funcs[1]);
  return promise;
}

/* Throws (sync) or returns a rejected promise (async) with the pending exception. */
static JSValue fail_call(bool is_async) {
  if (!is_async) return JS_EXCEPTION;
  return rejected_with(JS_GetException(ctx));
}

static JSValue capability_call(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv,
                               int magic, JSValueConst *data) {
  (void)this_val;
  (void)magic;
  uint32_t id, flags;
  JS_ToUint32(c, &id, data[0]);
  JS_ToUint32(c, &flags, data[1]);
  bool is_async = flags & QB_CAPABILITY_ASYNC;
  qb_buf own = {0};
  bool reentered = call_args_busy;
  qb_buf *encoded = reentered ? &own : &call_args;
  encoded->len = 0;
  call_args_busy = true;
  qb_encode_status st = qb_cbor_encode_args(c, argc, argv, encoded, outgoing_limits());
  call_args_busy = reentered;
  if (st == QB_ENCODE_TOO_LARGE)
    JS_ThrowRangeError(c, "the arguments are larger than the sandbox's value limit");
  /* any other failure (a BigInt over its limit included) left its exception pending */
  if (st != QB_ENCODE_OK) {
    free(own.data);
    return fail_call(is_async);
  }

  /* the host copies the arguments before anything else runs (a nested eval may reuse call_args) */
  qb_host_reply host_reply = {0};
  qb_host_call(id, (uint32_t)(uintptr_t)encoded->data, (uint32_t)encoded->len, (uint32_t)(uintptr_t)&host_reply);
  free(own.data);
  if (host_reply.status == QB_HOST_QUEUED) {
    if (pending_count == pending_cap) {
      size_t cap = pending_cap ? 2 * pending_cap : 16;
      pending_call *grown = realloc(pending_calls, cap * sizeof *grown);
      if (!grown) {
        JS_ThrowOutOfMemory(c);
        return fail_call(is_async);
      }
      pending_calls = grown;
      pending_cap = cap;
    }
    JSValue funcs[2];
    JSValue promise = JS_NewPromiseCapability(c, funcs);
    if (JS_IsException(promise)) return promise;
    pending_calls[pending_count++] =
        (pending_call){host_reply.call_id, JS_DupValue(c, promise), funcs[0], funcs[1], JS_DupValue(c, data[2])};
    return promise;
  }
  JSValue v = take_host_value(host_reply.value_len);
  if (JS_IsException(v)) return fail_call(is_async);
  if (host_reply.status == QB_HOST_ERROR) {
    v = host_error(v, data[2]);
    if (JS_IsException(v)) return fail_call(is_async);
    if (!is_async) return JS_Throw(c, v);
    return rejected_with(v);
  }
  return v; /* a sync capability's value */
}

/* ---------------------------------------------------------------------------------------------
 * ES modules: QuickJS asks the host to resolve and load every import, through host_call under
 * QB_MODULE_LOADER_ID. The counts below live in linear memory, so a snapshot carries them along
 * with the module records they count.
 * ------------------------------------------------------------------------------------------- */
static uint32_t modules_loaded;
static uint64_t module_source_loaded;
static qb_buf module_args;

/* A module name for messages: a specifier may be megabytes long, so at most its first 64 bytes
 * (QuickJS formats an error message into 256 bytes). */
static const char *short_name(const char *name, char *buf, size_t cap) {
  size_t len = strlen(name);
  if (len < cap) return name;
  size_t keep = cap - 4;
  while (keep && (name[keep] & 0xC0) == 0x80) keep--; /* not inside a UTF-8 sequence */
  memcpy(buf, name, keep);
  memcpy(buf + keep, "...", 4);
  return buf;
}

/* Appends a name as CBOR text. QuickJS hands names over as WTF-8, whose lone surrogates the host
 * would refuse as malformed: they become U+FFFD, as they do in console output. */
static bool put_name(const char *name, size_t len) {
  if (!qb_cbor_put_text(&module_args, name, len)) return false;
  qb_replace_lone_surrogates((char *)module_args.data + module_args.len - len, len);
  return true;
}

/* Asks the host's module loader (what: QB_MODULE_NORMALIZE or QB_MODULE_LOAD). Returns the text it
 * answered as a C string the caller frees with JS_FreeCString, or NULL with an exception thrown:
 * the loader's own Error, or a RangeError when the answer is over max_bytes. */
static const char *ask_module_loader(const char *what, const char *a, const char *b, size_t max_bytes,
                                     const char *limit_message, size_t *len) {
  char shown[64];
  if (qb_native_stack_low()) {
    JS_ThrowRangeError(ctx, "Maximum call stack size exceeded");
    return NULL;
  }
  const char *checked = b ? b : a;
  if (strlen(checked) > QB_MODULE_NAME_MAX_BYTES) {
    JS_ThrowRangeError(ctx, "the import specifier '%s' is %zu bytes, more than the limit of %u bytes",
                       short_name(checked, shown, sizeof shown), strlen(checked), QB_MODULE_NAME_MAX_BYTES);
    return NULL;
  }
  module_args.len = 0;
  if (!qb_cbor_put_head(&module_args, 4, b ? 3 : 2) || !qb_cbor_put_text(&module_args, what, strlen(what)) ||
      !put_name(a, strlen(a)) || (b && !put_name(b, strlen(b)))) {
    JS_ThrowOutOfMemory(ctx);
    return NULL;
  }
  qb_host_reply reply = {0};
  qb_host_call(QB_MODULE_LOADER_ID, (uint32_t)(uintptr_t)module_args.data, (uint32_t)module_args.len,
               (uint32_t)(uintptr_t)&reply);
  if (reply.status == QB_HOST_VALUE && reply.value_len > max_bytes + 9) {
    /* refused before the text is copied in: 9 bytes is the longest CBOR head */
    JS_ThrowRangeError(ctx, "%s", limit_message);
    return NULL;
  }
  JSValue v = take_host_value(reply.value_len);
  if (JS_IsException(v)) return NULL;
  if (reply.status != QB_HOST_VALUE) {
    JSValue import_name = JS_NewString(ctx, "import");
    v = host_error(v, import_name);
    JS_FreeValue(ctx, import_name);
    if (!JS_IsException(v)) JS_Throw(ctx, v);
    return NULL;
  }
  if (!JS_IsString(v)) {
    JS_FreeValue(ctx, v);
    JS_ThrowTypeError(ctx, "the module loader answered something other than text");
    return NULL;
  }
  const char *text = JS_ToCStringLen(ctx, len, v);
  JS_FreeValue(ctx, v);
  if (text && *len > max_bytes) {
    JS_FreeCString(ctx, text);
    JS_ThrowRangeError(ctx, "%s", limit_message);
    return NULL;
  }
  return text;
}

static char *module_normalize(JSContext *c, const char *base, const char *specifier, void *opaque) {
  (void)opaque;
  char message[400], shown[64];
  snprintf(message, sizeof message, "the module loader resolved '%s' to a name longer than %u bytes",
           short_name(specifier, shown, sizeof shown), QB_MODULE_NAME_MAX_BYTES);
  size_t len = 0;
  const char *name = ask_module_loader(QB_MODULE_NORMALIZE, base, specifier, QB_MODULE_NAME_MAX_BYTES,
                                       message, &len);
  if (!name) return NULL;
  char *copy = NULL;
  if (len == 0 || strlen(name) != len)
    JS_ThrowTypeError(c, "the module loader resolved '%s' to a name that is empty or holds a NUL character",
                      short_name(specifier, shown, sizeof shown));
  else
    copy = js_strndup(c, name, len);
  JS_FreeCString(c, name);
  return copy;
}

static JSModuleDef *module_load(JSContext *c, const char *name, void *opaque) {
  (void)opaque;
  char shown[64], message[400];
  if (modules_loaded >= config.max_modules) {
    JS_ThrowRangeError(c, "module limit exceeded: this sandbox may load %u modules, so '%s' cannot be loaded",
                       config.max_modules, short_name(name, shown, sizeof shown));
    return NULL;
  }
  uint64_t left = config.module_source_limit > module_source_loaded
                      ? config.module_source_limit - module_source_loaded : 0;
  snprintf(message, sizeof message,
           "module source limit exceeded: this sandbox may load %u bytes of module source, and '%s' "
           "does not fit in the %llu bytes left", config.module_source_limit,
           short_name(name, shown, sizeof shown), (unsigned long long)left);
  size_t len = 0;
  const char *source = ask_module_loader(QB_MODULE_LOAD, name, NULL, left, message, &len);
  if (!source) return NULL;
  modules_loaded++;
  module_source_loaded += len;
  JSValue compiled = JS_Eval(c, source, len, name, JS_EVAL_TYPE_MODULE | JS_EVAL_FLAG_COMPILE_ONLY);
  JS_FreeCString(c, source);
  if (JS_IsException(compiled)) return NULL;
  JSModuleDef *m = JS_VALUE_GET_PTR(compiled);
  JS_FreeValue(c, compiled);
  return m;
}

/* ---------------------------------------------------------------------------------------------
 * The fetch layer's text codec (guest/fetch.js): bodies are UTF-8 bytes
 * ------------------------------------------------------------------------------------------- */

/* (string) => Uint8Array of its UTF-8; lone surrogates become U+FFFD, as TextEncoder does. */
static JSValue fetch_utf8_encode(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
  size_t len = 0;
  const char *text = JS_ToCStringLen(c, &len, argc > 0 ? argv[0] : JS_UNDEFINED);
  if (!text) return JS_EXCEPTION;
  char *copy = malloc(len + 1);
  if (!copy) {
    JS_FreeCString(c, text);
    return JS_ThrowOutOfMemory(c);
  }
  memcpy(copy, text, len);
  JS_FreeCString(c, text);
  qb_replace_lone_surrogates(copy, len);
  JSValue bytes = JS_NewUint8ArrayCopy(c, (const uint8_t *)copy, len);
  free(copy);
  return bytes;
}

/* (Uint8Array) => string; invalid UTF-8 becomes U+FFFD and a leading BOM is dropped, as
 * Response.text() decodes. */
static JSValue fetch_utf8_decode(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
  size_t len = 0;
  const uint8_t *bytes = JS_GetUint8Array(c, &len, argc > 0 ? argv[0] : JS_UNDEFINED);
  if (!bytes) return JS_EXCEPTION;
  if (len >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF) {
    bytes += 3;
    len -= 3;
  }
  return JS_NewStringLen(c, (const char *)bytes, len);
}

/* (promise) => undefined: the fetch layer stops waiting for a host call (its AbortSignal aborted).
 * The call leaves the pending table and the host cancels it (QB_CANCEL_CALL_ID), so a transfer
 * under way stops and frees its place under the in-flight cap at once. The promise itself stays
 * pending and unreachable: the fetch layer has already settled what the program awaits. */
static JSValue fetch_cancel_call(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
  if (argc < 1 || !JS_IsObject(argv[0])) return JS_UNDEFINED;
  size_t i = 0;
  while (i < pending_count && JS_VALUE_GET_PTR(pending_calls[i].promise) != JS_VALUE_GET_PTR(argv[0])) i++;
  if (i == pending_count) return JS_UNDEFINED; /* answered already */
  qb_buf args = {0};
  if (!qb_cbor_put_head(&args, 4, 1) || !qb_cbor_put_head(&args, 0, pending_calls[i].call_id)) {
    free(args.data);
    return JS_ThrowOutOfMemory(c);
  }
  pending_call call = pending_calls[i];
  pending_calls[i] = pending_calls[--pending_count];
  qb_host_reply reply = {0};
  qb_host_call(QB_CANCEL_CALL_ID, (uint32_t)(uintptr_t)args.data, (uint32_t)args.len, (uint32_t)(uintptr_t)&reply);
  free(args.data);
  free_pending_call(call);
  return JS_UNDEFINED;
}

static int define_on(JSValueConst target, const char *name, JSValue value) {
  return JS_DefinePropertyValueStr(ctx, target, name, value, JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
}

/* target's own data property `name`: undefined when it has none, an exception for an accessor
 * (reading it would run the program's code). */
static JSValue own_data_property(JSValueConst target, const char *name) {
  JSAtom atom = JS_NewAtom(ctx, name);
  if (atom == JS_ATOM_NULL) return JS_EXCEPTION;
  JSPropertyDescriptor desc;
  int has = JS_GetOwnProperty(ctx, &desc, target, atom);
  JS_FreeAtom(ctx, atom);
  if (has < 0) return JS_EXCEPTION;
  if (has == 0) return JS_UNDEFINED;
  bool accessor = desc.flags & JS_PROP_GETSET;
  JS_FreeValue(ctx, desc.getter);
  JS_FreeValue(ctx, desc.setter);
  if (!accessor) return desc.value;
  JS_FreeValue(ctx, desc.value);
  return JS_ThrowTypeError(ctx, "globalThis's '%s' is an accessor, not a namespace", name);
}

/* ---------------------------------------------------------------------------------------------
 * Replies
 * ------------------------------------------------------------------------------------------- */
static void begin_op(void) {
  reply_display = 0;
  output.len = 0;
  console_buf.len = 0;
  exchange.console_len = 0;
  exchange.console_dropped = 0;
  interrupted = false;
  /* what the last operation ran out of memory for may have been taken by kept scripts */
  if (allocation_refused) qb_script_cache_clear(ctx);
  allocation_refused = false;
  /* A nested operation runs deeper on the same stack: it keeps the outermost one's stack top, so
   * nesting never buys more stack than the limit. */
  if (!nest_depth) JS_UpdateStackTop(rt);
}

static int32_t reply(int32_t status) {
  exchange.timer_count = qb_timers_count();
  exchange.next_timer_ns = qb_timers_next_due();
  exchange.output_ptr = (uint32_t)(uintptr_t)output.data;
  exchange.output_len = (uint32_t)output.len;
  exchange.console_ptr = (uint32_t)(uintptr_t)console_buf.data;
  exchange.console_len = (uint32_t)console_buf.len;
  return status;
}

/* An operation stopped at a deadline leaves the jobs it queued behind (promise reactions,
 * finalizers). They belong to the evaluation that ran out, and must not run on in a later one: with
 * the interrupt still set, each stops at its first interrupt check, so this only drops them. */
static void drop_jobs_after_interrupt(void) {
  JSContext *job_ctx;
  for (int r; (r = JS_ExecutePendingJob(rt, &job_ctx)) != 0;)
    if (r < 0) JS_FreeValue(ctx, JS_GetException(ctx));
  clear_rejections();
}


/* [kind, name, message, stack] (+ the thrown value when it was not an Error and can be encoded).
 * The texts carry their lengths, so a NUL inside them survives. If even this reply cannot be
 * written (linear memory exhausted), a fixed one takes its place in the capacity reserved at
 * bootstrap: an error report must never come out malformed. */
static int32_t reply_error_text(uint32_t kind, qb_text name, qb_text message, qb_text stack) {
  if (kind == QB_ERROR_TIMEOUT && interrupted) drop_jobs_after_interrupt();
  output.len = 0;
  bool written = qb_cbor_put_head(&output, 4, 4) && qb_cbor_put_head(&output, 0, kind) &&
                 qb_cbor_put_text(&output, name.data ? name.data : "", name.len) &&
                 qb_cbor_put_text(&output, message.data ? message.data : "", message.len) &&
                 qb_cbor_put_text(&output, stack.data ? stack.data : "", stack.len);
  if (!written) {
    static const char fallback[] = "the error report did not fit in the sandbox's memory";
    output.len = 0;
    qb_cbor_put_head(&output, 4, 4);
    qb_cbor_put_head(&output, 0, kind);
    qb_cbor_put_text(&output, "", 0);
    qb_cbor_put_text(&output, fallback, sizeof fallback - 1);
    qb_cbor_put_text(&output, "", 0);
  }
  return reply(QB_STATUS_ERROR);
}

static qb_text borrowed(const char *s) { return (qb_text){(char *)s, strlen(s)}; }

static int32_t reply_error(uint32_t kind, const char *name, const char *message, const char *stack) {
  return reply_error_text(kind, borrowed(name), borrowed(message), borrowed(stack));
}

/* What an error field reads as when reading it failed: says so, with the reason when that can be
 * read itself (takes the pending exception). Never fails but for lack of memory. */
static qb_text unreadable_field(const char *field) {
  JSValue why = JS_GetException(ctx);
  qb_text reason = {0};
  bool have_reason = false;
  if (interrupted) { /* the budget is spent: the reply says Timeout, and nothing was read */
    JS_FreeValue(ctx, why);
    qb_text empty = {0};
    qb_text_copy(&empty, "", 0);
    return empty;
  }
  if (JS_IsUninitialized(why)) {
    JS_FreeValue(ctx, why);
  } else {
    /* room for the words around the reason: the whole stays within the field's limit */
    have_reason = qb_bounded_text(ctx, why, qb_error_field_limit(field) - 64, &reason);
    if (!have_reason) JS_FreeValue(ctx, JS_GetException(ctx));
  }
  char head[64];
  int head_len = snprintf(head, sizeof head, "[the error's %s could not be read%s", field,
                          have_reason ? ": " : "");
  qb_text out = {0};
  out.data = malloc((size_t)head_len + reason.len + 2);
  if (out.data) {
    memcpy(out.data, head, (size_t)head_len);
    if (have_reason) memcpy(out.data + head_len, reason.data, reason.len);
    out.len = (size_t)head_len + reason.len;
    out.data[out.len++] = ']';
    out.data[out.len] = 0;
  }
  qb_text_free(&reason);
  return out;
}

/* error[field], bounded; a field that cannot be read says so instead of vanishing. */
static qb_text error_field(JSValueConst error, const char *field) {
  qb_text text;
  if (qb_error_field(ctx, error, field, qb_error_field_limit(field), &text)) return text;
  return unreadable_field(field);
}

/* The text people are shown for a value: util.inspect's (a REPL) or console.log's (node -p,
 * which prints a string as it is). */
static JSValue text_of(JSValueConst value, bool inspect) {
  if (inspect) return JS_Call(ctx, qb_helpers.inspect, JS_UNDEFINED, 1, &value);
  JSValue args = JS_NewArray(ctx);
  JS_SetPropertyInt64(ctx, args, 0, JS_DupValue(ctx, value));
  JSValue text = JS_Call(ctx, qb_helpers.format, JS_UNDEFINED, 1, (JSValueConst *)&args);
  JS_FreeValue(ctx, args);
  return text;
}

/* Formats a thrown non-Error value (throw "x", throw {code: 1}) the way console.log would, or,
 * for an evaluation printed for people, as util.inspect does (Node's REPL says `Uncaught 'x'`);
 * bounded like an error message. For console.log a thrown string is its own text (no copy). */
static qb_text describe_thrown(JSValueConst value) {
  JSValue text = JS_IsString(value) && !reply_display ? JS_DupValue(ctx, value)
                                                      : text_of(value, reply_display != 0);
  qb_text out;
  if (!JS_IsException(text) && qb_bounded_text(ctx, text, QB_ERROR_MESSAGE_MAX_CHARS, &out))
    return out;
  JS_FreeValue(ctx, JS_GetException(ctx));
  static const char fallback[] = "(a value that cannot be displayed)";
  qb_text_copy(&out, fallback, sizeof fallback - 1);
  return out;
}

static bool text_is(qb_text t, const char *s) {
  return t.data && t.len == strlen(s) && !memcmp(t.data, s, t.len);
}

static uint32_t classify(JSValueConst exc, qb_text name, qb_text message) {
  if (interrupted) return QB_ERROR_TIMEOUT;
  if (!JS_IsError(exc)) {
    /* QuickJS throws null when it cannot allocate even the out-of-memory error */
    if (allocation_refused && JS_IsNull(exc)) return QB_ERROR_OUT_OF_MEMORY;
    return QB_ERROR_JS_EXCEPTION;
  }
  if (text_is(name, "InternalError") && text_is(message, "out of memory")) return QB_ERROR_OUT_OF_MEMORY;
  if (text_is(name, "RangeError") && text_is(message, "Maximum call stack size exceeded"))
    return QB_ERROR_STACK_OVERFLOW;
  return QB_ERROR_JS_EXCEPTION;
}

/* Turns a thrown value into an error reply. prefix marks where it came from (e.g. a rejection). */
static int32_t reply_exception(JSValue exc, const char *prefix) {
  qb_text name = {0}, message = {0}, stack = {0};
  bool is_error = JS_IsError(exc);
  if (is_error) {
    name = error_field(exc, "name");
    message = error_field(exc, "message");
    stack = error_field(exc, "stack");
  } else {
    message = describe_thrown(exc);
  }
  uint32_t kind = classify(exc, name, message);
  if (kind == QB_ERROR_OUT_OF_MEMORY && !is_error) {
    /* null: the heap could not hold even the error object. Report the error it stands for. */
    qb_text_free(&name);
    qb_text_free(&message);
    qb_text_copy(&name, "InternalError", strlen("InternalError"));
    qb_text_copy(&message, "out of memory", strlen("out of memory"));
  }
  if (prefix && kind == QB_ERROR_JS_EXCEPTION && message.data) {
    size_t prefix_len = strlen(prefix);
    char *m = malloc(prefix_len + message.len + 1);
    if (m) {
      memcpy(m, prefix, prefix_len);
      memcpy(m + prefix_len, message.data, message.len + 1);
      free(message.data);
      message = (qb_text){m, prefix_len + message.len};
    }
  }
  int32_t status = reply_error_text(kind, name, message, stack);
  if (!is_error && kind == QB_ERROR_JS_EXCEPTION && output.len && output.data[0] == 0x84) {
    /* Append the thrown value itself so hosts can recover `throw {code: 42}`. */
    size_t mark = output.len;
    output.data[0] = 0x85; /* array of 5 */
    if (qb_cbor_encode(ctx, exc, &output, outgoing_limits()) != QB_ENCODE_OK) {
      JS_FreeValue(ctx, JS_GetException(ctx));
      output.len = mark;
      output.data[0] = 0x84;
    }
    reply(status);
  }
  qb_text_free(&name);
  qb_text_free(&message);
  qb_text_free(&stack);
  JS_FreeValue(ctx, exc);
  return status;
}

static int32_t reply_pending_exception(void) {
  return reply_exception(JS_GetException(ctx), NULL);
}

/* Runs queued jobs until there are none. Returns false with the exception taken on failure. */
/* Runs one pending job: 1 if it ran, 0 if there was none, -1 if it threw (the exception is
 * pending). An operation the host ended at a deadline can leave jobs whose promise holds the
 * uncatchable interrupt error (QuickJS turns a throw while resolving, such as from a `then`
 * getter, into a rejection). Rethrown in a later operation that was not interrupted, it is stale:
 * the evaluation it stopped is over. It is dropped instead of failing this operation. */
static int run_one_job(void) {
  JSContext *job_ctx;
  int r = JS_ExecutePendingJob(rt, &job_ctx);
  if (r < 0 && !interrupted) {
    JSValue exc = JS_GetException(ctx);
    if (JS_IsUncatchableError(exc)) {
      JS_FreeValue(ctx, exc);
      return 1;
    }
    JS_Throw(ctx, exc);
  }
  return r;
}

static bool drain_jobs(JSValue *exc) {
  for (;;) {
    int r = run_one_job();
    if (r == 0) return true;
    if (r < 0) {
      *exc = JS_GetException(ctx);
      return false;
    }
  }
}

/* Replies with a value without touching the evaluation in progress (which may be suspended). */
/* The reply for a result that could not be encoded for being too large: the result limit (an
 * empty message; the host names the limit) or a BigInt over its limit (the pending RangeError's
 * message, which names the BigInt's place and size). */
static int32_t reply_output_limit(qb_encode_status st) {
  if (st == QB_ENCODE_TOO_LARGE) return reply_error(QB_ERROR_OUTPUT_LIMIT, "", "", "");
  qb_text message = error_field(JS_GetException(ctx), "message");
  int32_t status = reply_error_text(QB_ERROR_OUTPUT_LIMIT, borrowed(""), message, borrowed(""));
  qb_text_free(&message);
  return status;
}

static int32_t reply_value(JSValue value) {
  if (JS_IsException(value)) return reply_pending_exception();
  qb_encode_status st = qb_cbor_encode(ctx, value, &output, outgoing_limits());
  JS_FreeValue(ctx, value);
  if (st == QB_ENCODE_TOO_LARGE || st == QB_ENCODE_BIGINT_TOO_LARGE) return reply_output_limit(st);
  if (st == QB_ENCODE_THROWN) return reply_pending_exception();
  return reply(QB_STATUS_DONE);
}

/* Pins value (consumed) and replies with its handle. */
static int32_t reply_handle(JSValue value) {
  if (JS_IsException(value)) return reply_pending_exception();
  uint32_t id = qb_pin(ctx, value);
  if (!id) return reply_error(QB_ERROR_OUT_OF_MEMORY, "", "out of memory", "");
  output.len = 0;
  qb_cbor_put_head(&output, 6, QB_CBOR_TAG_HANDLE); /* short heads always fit: see bootstrap */
  qb_cbor_put_head(&output, 0, id);
  return reply(QB_STATUS_DONE);
}

/* Like reply_value, for an evaluation printed for people (EvalOptions::display): replies
 * QB_STATUS_DISPLAY with [value, text], the value as data (undefined when it cannot leave the
 * sandbox: a function, a Map, a cycle...) and the text node -p or a REPL would print for it, each
 * within the result limit. Limits still hold for the value: a timeout, running out of memory or
 * an oversized value while encoding stays an error. Consumes value. */
static int32_t reply_displayed(JSValue value) {
  output.len = 0;
  qb_cbor_put_head(&output, 4, 2);  /* short heads always fit: the output keeps room for a reply */
  qb_encode_status st = qb_cbor_encode(ctx, value, &output, outgoing_limits());
  if (st == QB_ENCODE_TOO_LARGE || st == QB_ENCODE_BIGINT_TOO_LARGE) {
    JS_FreeValue(ctx, value);
    return reply_output_limit(st);
  }
  if (st == QB_ENCODE_THROWN) {
    if (interrupted || allocation_refused) {
      JS_FreeValue(ctx, value);
      return reply_pending_exception();
    }
    JS_FreeValue(ctx, JS_GetException(ctx));  /* it cannot cross as data: its text alone shows it */
    qb_cbor_put_head(&output, 7, 23);         /* undefined */
  }
  JSValue text = text_of(value, drive_mode & DRIVE_INSPECT);
  JS_FreeValue(ctx, value);
  if (JS_IsException(text)) return reply_pending_exception();
  /* The text is for people: a lone surrogate in it (a string cut inside an emoji) shows as U+FFFD,
   * as in console output, where the value itself could not cross as data. */
  size_t len;
  const char *chars = JS_ToCStringLen(ctx, &len, text);
  JS_FreeValue(ctx, text);
  if (!chars) return reply_pending_exception();
  qb_replace_lone_surrogates((char *)chars, len);
  size_t head = len < 24 ? 1 : len < 256 ? 2 : len < 65536 ? 3 : len <= UINT32_MAX ? 5 : 9;
  bool fits = head + len <= config.result_limit; /* the limit of one encoded value, as for the value */
  bool written = fits && qb_cbor_put_text(&output, chars, len);
  JS_FreeCString(ctx, chars);
  if (!fits) return reply_output_limit(QB_ENCODE_TOO_LARGE);
  if (!written) return reply_error(QB_ERROR_OUT_OF_MEMORY, "", "out of memory", "");
  return reply(QB_STATUS_DISPLAY);
}

/* No job is left, no host call and no timer is pending. A limit hit while jobs ran (the interrupt, or a
 * refused allocation) is thrown inside a job, where QuickJS turns it into a rejection of some
 * intermediate promise (an async generator's step, a reaction): that can break the chain the
 * awaited promise hangs on. The stall is then the limit's doing and is reported as the limit;
 * Deadlock is left for programs that really wait on nothing. */
static int32_t reply_deadlock(void) {
  stop_driving();
  if (interrupted) return reply_error(QB_ERROR_TIMEOUT, "", "", "");
  if (allocation_refused) return reply_error(QB_ERROR_OUT_OF_MEMORY, "", "out of memory", "");
  return reply_error(QB_ERROR_DEADLOCK, "", "the awaited promise can never settle: no jobs are left "
                     "to run and no host call or timer is pending", "");
}

/* Drives the current evaluation: settles the awaited promise by running jobs and then the timers
 * that are due, unwraps and awaits as drive_mode says, reports PENDING while only host calls or
 * timers not yet due can make progress, and finally runs the remaining jobs, checks for unhandled
 * rejections and encodes the value. */
static int32_t drive(void) {
  for (;;) {
    if (!(drive_mode & (DRIVE_UNWRAP | DRIVE_AWAIT)) || !JS_IsPromise(driven)) break;
    JSPromiseStateEnum state = JS_PromiseState(ctx, driven);
    if (state == JS_PROMISE_FULFILLED) {
      JSValue v = JS_PromiseResult(ctx, driven);
      JS_FreeValue(ctx, driven);
      if (drive_mode & DRIVE_UNWRAP) {
        JSValue inner = JS_GetPropertyStr(ctx, v, "value");
        JS_FreeValue(ctx, v);
        v = inner;
        drive_mode &= ~DRIVE_UNWRAP;
      } else {
        drive_mode &= ~DRIVE_AWAIT;
      }
      if (drive_mode & DRIVE_NAMESPACE) {
        JS_FreeValue(ctx, v);
        v = driven_module ? JS_GetModuleNamespace(ctx, driven_module) : JS_UNDEFINED;
        drive_mode &= ~DRIVE_NAMESPACE;
        driven_module = NULL;
      }
      driven = v;
      if (JS_IsException(v)) {
        driving = false;
        stop_driving();
        return reply_pending_exception();
      }
      continue;
    }
    if (state == JS_PROMISE_REJECTED) {
      JSValue reason = JS_PromiseResult(ctx, driven);
      forget_rejection(driven); /* awaited here, so not unhandled */
      stop_driving();
      return reply_exception(reason, NULL);
    }
    int r = run_one_job();
    /* a timer runs once no job is left, as on the web; timers belong to the outermost evaluation */
    if (r == 0 && !nest_depth) r = qb_timers_run_due(ctx);
    if (r < 0) {
      stop_driving();
      return reply_pending_exception();
    }
    if (r == 0) {
      if (nest_depth) {
        /* the host function that runs it waits for it: nothing can settle the promise meanwhile */
        stop_driving();
        return reply_error(QB_ERROR_DEADLOCK, "", "an evaluation nested inside a host function cannot wait "
                           "for timers or async host calls: its promise must settle before the host "
                           "function returns", "");
      }
      if (pending_count || qb_timers_count()) return reply(QB_STATUS_PENDING);
      return reply_deadlock();
    }
  }
  JSValue value = driven;
  driven = JS_UNDEFINED;
  driving = false;
  drop_evaluation_work(); /* calls nobody awaited and timers still pending end with it */
  if (drive_mode & DRIVE_DISCARD) {
    JS_FreeValue(ctx, value);
    value = JS_UNDEFINED;
  }
  JSValue exc;
  if (!drain_jobs(&exc)) {
    JS_FreeValue(ctx, value);
    drop_evaluation_work();
    return reply_exception(exc, NULL);
  }
  drop_evaluation_work();
  /* a promise handed to the host as a handle is the host's to await: not unhandled */
  if ((drive_mode & DRIVE_HANDLE) && JS_IsPromise(value)) forget_rejection(value);
  if (rejection_count) {
    JS_FreeValue(ctx, value);
    JSValue reason = JS_DupValue(ctx, rejections[0].reason);
    clear_rejections();
    return reply_exception(reason, "Unhandled promise rejection: ");
  }
  if (drive_mode & DRIVE_DISPLAY) return reply_displayed(value);
  if (drive_mode & DRIVE_HANDLE) return reply_handle(value);
  return reply_value(value);
}

/* Starts driving a fresh evaluation's result (the caller cleared the previous evaluation with
 * stop_driving() before running any JS, so that calls made while it ran stay pending).
 * Consumes value. */
static int32_t finish(JSValue value, uint32_t mode) {
  reply_display = mode & DRIVE_DISPLAY;
  if (JS_IsException(value)) {
    driven_module = NULL;
    drop_evaluation_work();
    return reply_pending_exception();
  }
  driven = value;
  drive_mode = mode;
  driving = true;
  return drive();
}

/* Input layout shared by eval/call/get/set: a NUL-terminated name, then a payload. */
static bool input_fits(uint32_t a, uint32_t b) {
  return (uint64_t)a + 1 + (uint64_t)b <= input.cap;
}

static int32_t invalid(const char *message) {
  begin_op();
  return reply_error(QB_ERROR_INVALID_INPUT, "", message, "");
}

/* The request's CBOR value could not be decoded: reply InvalidInput with the decoder's message. */
static int32_t invalid_request_value(void) {
  JSValue exc = JS_GetException(ctx);
  const char *m = JS_ToCString(ctx, exc);
  int32_t status = invalid(m ? m : "malformed value");
  JS_FreeCString(ctx, m);
  JS_FreeValue(ctx, exc);
  return status;
}

/* ---------------------------------------------------------------------------------------------
 * Exports
 * ------------------------------------------------------------------------------------------- */
QB_EXPORT(QB_EXPORT_EXCHANGE) uint32_t qb_exchange_address(void) {
  return (uint32_t)(uintptr_t)&exchange;
}

QB_EXPORT(QB_EXPORT_RESERVE) int32_t qb_reserve(uint32_t len) {
  if (len > input.cap) {
    uint8_t *grown = realloc(input.data, len);
    if (!grown) return QB_STATUS_ERROR;
    input.data = grown;
    input.cap = len;
  }
  exchange.input_ptr = (uint32_t)(uintptr_t)input.data;
  exchange.input_cap = (uint32_t)input.cap;
  return QB_STATUS_DONE;
}

/* Runs one of the guest's own scripts (embedded from guest/NAME.js) at bootstrap: a function
 * expression, called with the global object as `this` and one argument (consumed). */
static JSValue run_script(const char *source, size_t len, const char *name, JSValue arg) {
  JSValue fn = JS_Eval(ctx, source, len, name, JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_STRICT);
  JSValue global = JS_GetGlobalObject(ctx);
  JSValue r = JS_IsException(fn) || JS_IsException(arg) ? JS_EXCEPTION
                                                         : JS_Call(ctx, fn, global, 1, (JSValueConst *)&arg);
  JS_FreeValue(ctx, global);
  JS_FreeValue(ctx, fn);
  JS_FreeValue(ctx, arg);
  return r;
}

/* Runs a script that only installs globals. */
static bool install_globals(const char *source, size_t len, const char *name, JSValue arg) {
  JSValue r = run_script(source, len, name, arg);
  if (JS_IsException(r)) return false;
  JS_FreeValue(ctx, r);
  return true;
}

/* Added to quickjs.c by cmake/PatchQuickJS.cmake (8): from now on small blocks come from
 * per-size-class arenas, the first of each class first_arena_bytes long. */
bool JS_StartArenas(JSRuntime *rt, size_t first_arena_bytes);

/* Holds every free chunk left inside the base image. Bootstrap frees its temporaries (parser
 * buffers, helper objects) all over the heap, and malloc reuses such holes first: a sandbox's
 * first allocations would land on pages scattered through the image, each one a copy-on-write
 * fault on a pool slot never used before (about 2.5 us each here) and a private page for as long
 * as the sandbox lives. Held, the holes cost nothing (their pages stay shared with the image) and
 * new allocations come from the top of the heap, a few contiguous pages. */
static void plug_heap_holes(void) {
  /* Where the top of the heap begins: a request larger than the holes is carved from it. A
   * larger hole would only end the plugging early. */
  char *top = malloc(64 * 1024);
  if (!top) return;
  free(top);
  for (size_t size = 32 * 1024; size >= 8; size /= 2) {
    for (;;) {
      char *chunk = malloc(size);
      if (!chunk) break;
      if (chunk >= top) {
        free(chunk);
        break;
      }
    }
  }
}

QB_EXPORT(QB_EXPORT_BOOTSTRAP) int32_t qb_bootstrap(void) {
  if (rt) return QB_STATUS_ERROR;
  config = (qb_config){.memory_limit = 0, .stack_limit = 0, .console_limit = 1 << 20,
                       .result_limit = 1 << 24, .max_depth = 256};
  if (qb_reserve(64 * 1024) != QB_STATUS_DONE) return QB_STATUS_ERROR;
  rt = JS_NewRuntime2(&heap_functions, NULL);
  if (!rt) return QB_STATUS_ERROR;
  ctx = JS_NewContext(rt);
  if (!ctx) return QB_STATUS_ERROR;
  JS_SetInterruptHandler(rt, on_interrupt, NULL);
  JS_SetHostPromiseRejectionTracker(rt, on_rejection, NULL);
  JS_SetCanBlock(rt, false);
  JS_SetModuleLoaderFunc(rt, module_normalize, module_load, NULL);

  JSValue global = JS_GetGlobalObject(ctx);
  if (!qb_timers_install(ctx, global)) return QB_STATUS_ERROR;
  JSValue math = JS_GetPropertyStr(ctx, global, "Math");
  JS_DefinePropertyValueStr(ctx, math, "random", JS_NewCFunction(ctx, math_random, "random", 0),
                            JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
  JS_FreeValue(ctx, math);

  /* The prelude takes the native console writer; it installs console and returns the helpers C
   * needs. The writer never becomes reachable from a global. */
  JS_FreeValue(ctx, global);
  JSValue helpers = run_script(qb_prelude_source, qb_prelude_source_len, "<quickbox prelude>",
                               JS_NewCFunction(ctx, console_write, "write", 2));
  if (JS_IsException(helpers)) return QB_STATUS_ERROR;
  if (!install_globals(qb_web_source, qb_web_source_len, "<quickbox web>", qb_web_natives(ctx)) ||
      !install_globals(qb_web_events_source, qb_web_events_source_len, "<quickbox web events>", JS_UNDEFINED) ||
      !install_globals(qb_url_source, qb_url_source_len, "<quickbox url>", qb_url_natives(ctx)))
    return QB_STATUS_ERROR;
  qb_helpers.format = JS_GetPropertyStr(ctx, helpers, "format");
  qb_helpers.inspect = JS_GetPropertyStr(ctx, helpers, "inspect");
  qb_helpers.bigint_from_hex = JS_GetPropertyStr(ctx, helpers, "bigintFromHex");
  qb_helpers.bigint_to_hex = JS_GetPropertyStr(ctx, helpers, "bigintToHex");
  qb_helpers.negate = JS_GetPropertyStr(ctx, helpers, "negate");
  qb_helpers.make_error = JS_GetPropertyStr(ctx, helpers, "makeError");
  qb_helpers.string_slice = JS_GetPropertyStr(ctx, helpers, "stringSlice");
  qb_helpers.date_to_iso_string = JS_GetPropertyStr(ctx, helpers, "dateToISOString");
  /* The fetch layer is built now, into the base image, and installed only for sandboxes the host
   * grants a network policy (QB_CAPABILITY_FETCH). */
  JSValue make_fetch = JS_Eval(ctx, qb_fetch_source, qb_fetch_source_len, "<quickbox fetch>",
                               JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_STRICT);
  if (JS_IsException(make_fetch)) return QB_STATUS_ERROR;
  JSValue natives[3] = {JS_NewCFunction(ctx, fetch_utf8_encode, "utf8Encode", 1),
                        JS_NewCFunction(ctx, fetch_utf8_decode, "utf8Decode", 1),
                        JS_NewCFunction(ctx, fetch_cancel_call, "cancelCall", 1)};
  qb_helpers.install_fetch = JS_Call(ctx, make_fetch, JS_UNDEFINED, 3, (JSValueConst *)natives);
  for (int i = 0; i < 3; i++) JS_FreeValue(ctx, natives[i]);
  JS_FreeValue(ctx, make_fetch);
  if (JS_IsException(qb_helpers.install_fetch)) return QB_STATUS_ERROR;
  /* room for the fixed error reply of reply_error_text, whatever memory is left later */
  if (!qb_buf_reserve(&output, 4096)) return QB_STATUS_ERROR;
  JS_FreeValue(ctx, helpers);
  JS_RunGC(rt);
  /* What a sandbox allocates first goes to a few contiguous pages at the top of the heap: the
   * image's objects were malloc'd in creation order (so the ones every evaluation touches sit
   * together), its holes are held, and the arenas QuickJS serves small blocks from start there,
   * small (256 bytes: all 31 size classes fit in two pages) and doubling as they fill. */
  plug_heap_holes();
  if (!JS_StartArenas(rt, 256)) return QB_STATUS_ERROR;
  return QB_STATUS_DONE;
}

QB_EXPORT(QB_EXPORT_CONFIGURE) int32_t qb_configure(void) {
  if (!rt || input.cap < sizeof(qb_config)) return QB_STATUS_ERROR;
  memcpy(&config, input.data, sizeof config);
  if (config.max_depth == 0) config.max_depth = 1;
  /* the soft limit lives in heap_allows(); QuickJS's own stays off so refusals are recorded */
  JS_SetMaxStackSize(rt, config.stack_limit);
  seed_random(config.random_seed);
  qb_timers_configure(config.max_timers);
  return QB_STATUS_DONE;
}

/* The DRIVE_DISPLAY bits an eval's QB_EVAL_DISPLAY_* flags ask for. */
/* What the caller asked to get back besides the value itself: its display text, or a handle. */
static uint32_t result_mode(uint32_t flags) {
  return ((flags & QB_EVAL_DISPLAY_PRINT) ? DRIVE_PRINT : 0) | ((flags & QB_EVAL_DISPLAY_INSPECT) ? DRIVE_INSPECT : 0) |
         ((flags & QB_EVAL_RESULT_HANDLE) ? DRIVE_HANDLE : 0);
}

QB_EXPORT(QB_EXPORT_EVAL) int32_t qb_eval(uint32_t name_len, uint32_t source_len, uint32_t flags) {
  if (!input_fits(name_len, source_len + 1)) return invalid("request larger than the input buffer");
  begin_op();
  const char *name = (const char *)input.data;
  const char *source = name + name_len + 1;
  if (name[name_len] != 0 || source[source_len] != 0) return invalid("request is not NUL-terminated");
  uint32_t kind = flags & QB_EVAL_KIND_MASK;
  int js_flags = kind == QB_EVAL_MODULE ? JS_EVAL_TYPE_MODULE : JS_EVAL_TYPE_GLOBAL;
  if (kind == QB_EVAL_ASYNC) js_flags |= JS_EVAL_FLAG_ASYNC;
  if (flags & QB_EVAL_STRICT) js_flags |= JS_EVAL_FLAG_STRICT;
  stop_driving();
  if (flags & QB_EVAL_PARSE_ONLY) {
    /* A compiled module would stay registered (and cannot be freed as a value): scripts only. */
    if (kind == QB_EVAL_MODULE) return invalid("only scripts can be parsed without running them");
    JSValue compiled = JS_Eval(ctx, source, source_len, name, js_flags | JS_EVAL_FLAG_COMPILE_ONLY);
    if (JS_IsException(compiled)) return finish(compiled, 0);
    JS_FreeValue(ctx, compiled);
    return finish(JS_UNDEFINED, 0);
  }
  if (kind == QB_EVAL_MODULE) {
    /* compiled first, to keep the module record: its namespace may be the result */
    JSValue compiled = JS_Eval(ctx, source, source_len, name, js_flags | JS_EVAL_FLAG_COMPILE_ONLY);
    if (JS_IsException(compiled)) return finish(compiled, 0);
    JSModuleDef *m = JS_VALUE_GET_PTR(compiled);
    JSValue promise = JS_EvalFunction(ctx, compiled); /* a module evaluates to a promise */
    bool want_namespace = flags & QB_EVAL_MODULE_NAMESPACE;
    driven_module = want_namespace ? m : NULL;
    return finish(promise, DRIVE_AWAIT | (want_namespace ? DRIVE_NAMESPACE : DRIVE_DISCARD) | result_mode(flags));
  }
  JSValue value = qb_script_eval(ctx, name, name_len + 1 + source_len, source, source_len, js_flags);
  uint32_t mode = (flags & QB_EVAL_AWAIT_RESULT) ? DRIVE_AWAIT : 0;
  if (kind == QB_EVAL_ASYNC) mode |= DRIVE_UNWRAP;
  return finish(value, mode | result_mode(flags));
}

/* The value a bare `name` has in the program's code: its top-level let, const or class binding,
 * else globalThis[name] (undefined when neither has it). */
static JSValue get_global(const char *name) {
  JSAtom atom = JS_NewAtom(ctx, name);
  if (atom == JS_ATOM_NULL) return JS_EXCEPTION;
  JSValue v = JS_GetGlobalBinding(ctx, atom);
  JS_FreeAtom(ctx, atom);
  return v;
}

QB_EXPORT(QB_EXPORT_CALL) int32_t qb_call(uint32_t name_len, uint32_t args_len, uint32_t flags) {
  if (!input_fits(name_len, args_len)) return invalid("request larger than the input buffer");
  begin_op();
  const char *name = (const char *)input.data;
  if (name[name_len] != 0) return invalid("function name is not NUL-terminated");
  /* A dotted name is a path, as host functions are registered ("tools.search"): its first step is
   * the name as the program's code would resolve it (a top-level let, const or class binding, or
   * a property of globalThis), each further step a property access, and the function is called
   * on its holder. */
  JSValue holder = JS_GetGlobalObject(ctx), fn = JS_UNDEFINED;
  for (const char *step = name;;) {
    const char *dot = strchr(step, '.');
    size_t step_len = dot ? (size_t)(dot - step) : strlen(step);
    JSAtom key = JS_NewAtomLen(ctx, step, step_len);
    fn = key == JS_ATOM_NULL ? JS_EXCEPTION
         : step == name      ? JS_GetGlobalBinding(ctx, key)
                             : JS_GetProperty(ctx, holder, key);
    JS_FreeAtom(ctx, key);
    if (JS_IsException(fn)) {
      JS_FreeValue(ctx, holder);
      return reply_pending_exception();
    }
    if (!dot) break;
    if (!JS_IsObject(fn)) {
      JS_FreeValue(ctx, fn);
      JS_FreeValue(ctx, holder);
      return reply_exception(JS_NewTypeError(ctx, "%.*s is not an object, so it holds no %s",
                                             (int)(dot - name), name, dot + 1),
                             NULL);
    }
    JS_FreeValue(ctx, holder);
    holder = fn;
    step = dot + 1;
  }
  if (!JS_IsFunction(ctx, fn)) {
    JS_FreeValue(ctx, fn);
    JS_FreeValue(ctx, holder);
    return reply_exception(JS_NewTypeError(ctx, "%s is not a function", name), NULL);
  }
  /* a plain global is called as a plain function (this undefined), a path's on its holder */
  JSValue this_value = strchr(name, '.') ? holder : JS_UNDEFINED;
  JSValue args = qb_cbor_decode(ctx, input.data + name_len + 1, args_len, incoming_limits(0));
  if (JS_IsException(args) || !JS_IsArray(args)) {
    JS_FreeValue(ctx, fn);
    JS_FreeValue(ctx, holder);
    if (!JS_IsException(args)) {
      JS_FreeValue(ctx, args);
      return invalid("call arguments must be a CBOR array");
    }
    return invalid_request_value();
  }
  int64_t argc = 0;
  JS_GetLength(ctx, args, &argc);
  JSValue *argv = calloc((size_t)argc + 1, sizeof(JSValue));
  for (int64_t i = 0; i < argc; i++) argv[i] = JS_GetPropertyInt64(ctx, args, i);
  stop_driving();
  JSValue result = JS_Call(ctx, fn, this_value, (int)argc, (JSValueConst *)argv);
  for (int64_t i = 0; i < argc; i++) JS_FreeValue(ctx, argv[i]);
  free(argv);
  JS_FreeValue(ctx, args);
  JS_FreeValue(ctx, fn);
  JS_FreeValue(ctx, holder);
  return finish(result, (flags & QB_EVAL_AWAIT_RESULT) ? DRIVE_AWAIT : 0);
}

QB_EXPORT(QB_EXPORT_GET_GLOBAL) int32_t qb_get_global(uint32_t name_len) {
  if (!input_fits(name_len, 0)) return invalid("request larger than the input buffer");
  begin_op();
  if (input.data[name_len] != 0) return invalid("global name is not NUL-terminated");
  return reply_value(get_global((const char *)input.data));
}

QB_EXPORT(QB_EXPORT_SET_GLOBAL) int32_t qb_set_global(uint32_t name_len, uint32_t value_len) {
  if (!input_fits(name_len, value_len)) return invalid("request larger than the input buffer");
  begin_op();
  const char *name = (const char *)input.data;
  if (name[name_len] != 0) return invalid("global name is not NUL-terminated");
  JSValue v = qb_cbor_decode(ctx, input.data + name_len + 1, value_len, incoming_limits(0));
  if (JS_IsException(v)) return invalid_request_value();
  JSValue global = JS_GetGlobalObject(ctx);
  int r = JS_SetPropertyStr(ctx, global, name, v);
  JS_FreeValue(ctx, global);
  if (r < 0) return reply_pending_exception();
  return reply_value(JS_UNDEFINED);
}

QB_EXPORT(QB_EXPORT_FORMAT) int32_t qb_format(uint32_t value_len, uint32_t flags) {
  if (value_len > input.cap) return invalid("request larger than the input buffer");
  begin_op();
  JSValue v = qb_cbor_decode(ctx, input.data, value_len, incoming_limits(0));
  if (JS_IsException(v)) return invalid_request_value();
  JSValue text = text_of(v, flags & QB_EVAL_DISPLAY_INSPECT);
  JS_FreeValue(ctx, v);
  return reply_value(text);
}

QB_EXPORT(QB_EXPORT_RUN_JOBS) int32_t qb_run_jobs(void) {
  begin_op();
  stop_driving();
  return finish(JS_NULL, 0);
}

QB_EXPORT(QB_EXPORT_MEMORY_USAGE) int32_t qb_memory_usage(uint32_t flags) {
  begin_op();
  if (flags & QB_MEMORY_COLLECT) JS_RunGC(rt);
  JSMemoryUsage u;
  JS_ComputeMemoryUsage(rt, &u);
  struct {
    const char *key;
    int64_t value;
  } rows[] = {
      {QB_MEM_MALLOC_SIZE, u.malloc_size},
      {QB_MEM_MALLOC_LIMIT, config.memory_limit},
      {QB_MEM_MEMORY_USED, u.memory_used_size},
      {QB_MEM_OBJ_COUNT, u.obj_count},
      {QB_MEM_LINEAR_MEMORY, (int64_t)__builtin_wasm_memory_size(0) * 65536},
#define QB_MEM_FIELD(f) {#f, u.f},
      QB_MEM_FIELD(malloc_count) QB_MEM_FIELD(memory_used_count) QB_MEM_FIELD(atom_count)
      QB_MEM_FIELD(atom_size) QB_MEM_FIELD(str_count) QB_MEM_FIELD(str_size) QB_MEM_FIELD(obj_size)
      QB_MEM_FIELD(prop_count) QB_MEM_FIELD(prop_size) QB_MEM_FIELD(shape_count) QB_MEM_FIELD(shape_size)
      QB_MEM_FIELD(js_func_count) QB_MEM_FIELD(js_func_size) QB_MEM_FIELD(js_func_code_size)
      QB_MEM_FIELD(js_func_pc2line_count) QB_MEM_FIELD(js_func_pc2line_size) QB_MEM_FIELD(c_func_count)
      QB_MEM_FIELD(array_count) QB_MEM_FIELD(fast_array_count) QB_MEM_FIELD(fast_array_elements)
      QB_MEM_FIELD(binary_object_count) QB_MEM_FIELD(binary_object_size)
#undef QB_MEM_FIELD
  };
  qb_cbor_put_head(&output, 5, sizeof rows / sizeof rows[0]);
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    qb_cbor_put_text(&output, rows[i].key, strlen(rows[i].key));
    qb_cbor_put_head(&output, 0, rows[i].value < 0 ? 0 : (uint64_t)rows[i].value);
  }
  return reply(QB_STATUS_DONE);
}


/* Whether a capability named `path` (dotted for a namespace) would be hidden from the program's
 * bare references by a top-level let, const or class of its first segment. */
static bool declared_at_top_level(const char *path) {
  const char *dot = strchr(path, '.');
  JSAtom atom = JS_NewAtomLen(ctx, path, dot ? (size_t)(dot - path) : strlen(path));
  if (atom == JS_ATOM_NULL) {
    JS_FreeValue(ctx, JS_GetException(ctx));
    return false; /* out of memory: defining the capability fails next, with that error */
  }
  bool declared = JS_HasGlobalLexical(ctx, atom);
  JS_FreeAtom(ctx, atom);
  return declared;
}

QB_EXPORT(QB_EXPORT_DEFINE_CAPABILITY) int32_t qb_define_capability(uint32_t name_len, uint32_t id,
                                                                   uint32_t flags) {
  if (!input_fits(name_len, 0)) return invalid("request larger than the input buffer");
  begin_op();
  char *path = (char *)input.data;
  if (path[name_len] != 0 || name_len == 0) return invalid("capability name is empty or not NUL-terminated");
  if (flags & QB_CAPABILITY_FETCH) {
    /* The function stays private to the fetch layer, which defines fetch() around it. */
    JSValue data[3] = {JS_NewUint32(ctx, id), JS_NewUint32(ctx, flags), JS_NewString(ctx, path)};
    JSValue fn = JS_NewCFunctionData(ctx, capability_call, 0, 0, 3, data);
    JS_FreeValue(ctx, data[2]);
    if (JS_IsException(fn)) return reply_pending_exception();
    JSValue r = JS_Call(ctx, qb_helpers.install_fetch, JS_UNDEFINED, 1, (JSValueConst *)&fn);
    JS_FreeValue(ctx, fn);
    if (JS_IsException(r)) return reply_pending_exception();
    JS_FreeValue(ctx, r);
    return reply_value(JS_UNDEFINED);
  }
  if (declared_at_top_level(path))
    return invalid("the program declared this name at its top level (let, const or class), which would hide the "
                   "function from it; register it under another name, or before the program declares its own");
  JSValue holder = JS_GetGlobalObject(ctx);
  char *segment = path;
  for (char *dot; (dot = strchr(segment, '.'));) {
    *dot = 0;
    if (!*segment) {
      JS_FreeValue(ctx, holder);
      return invalid("capability name has an empty segment");
    }
    /* Own properties only: an inherited one (__proto__, constructor, toString) would put the
     * capability on a built-in shared by every object. */
    JSValue next = own_data_property(holder, segment);
    if (JS_IsException(next)) {
      JS_FreeValue(ctx, holder);
      return reply_pending_exception();
    }
    if (JS_IsUndefined(next)) {
      next = JS_NewObject(ctx);
      if (define_on(holder, segment, JS_DupValue(ctx, next)) < 0) {
        JS_FreeValue(ctx, next);
        JS_FreeValue(ctx, holder);
        return reply_pending_exception();
      }
    } else if (!JS_IsObject(next)) {
      JS_FreeValue(ctx, next);
      JS_FreeValue(ctx, holder);
      return invalid("a capability's namespace clashes with a global that is not an object");
    }
    JS_FreeValue(ctx, holder);
    holder = next;
    segment = dot + 1;
  }
  if (!*segment) {
    JS_FreeValue(ctx, holder);
    return invalid("capability name has an empty segment");
  }
  /* path's dots were cut into NULs while walking it: the full name is rebuilt for error stacks */
  bool namespaced = segment != path;
  for (char *p = path; p < segment; p++)
    if (!*p) *p = '.';
  JSValue data[3] = {JS_NewUint32(ctx, id), JS_NewUint32(ctx, flags), JS_NewString(ctx, path)};
  JSValue fn = JS_NewCFunctionData(ctx, capability_call, 0, 0, 3, data);
  JS_FreeValue(ctx, data[2]);
  if (!JS_IsException(fn)) {
    JS_DefinePropertyValueStr(ctx, fn, "name", JS_NewString(ctx, segment), JS_PROP_CONFIGURABLE);
  }
  /* tools.* are listed by Object.keys(tools); a global capability stays out of Object.keys like a
   * built-in */
  int r = JS_IsException(fn) ? -1
                             : JS_DefinePropertyValueStr(ctx, holder, segment, fn,
                                                         JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE |
                                                             (namespaced ? JS_PROP_ENUMERABLE : 0));
  JS_FreeValue(ctx, holder);
  if (r < 0) return reply_pending_exception();
  /* refused without an exception: a non-configurable property, or a frozen namespace */
  if (r == 0) return invalid("the name is taken by a property that cannot be redefined (non-configurable, or in a "
                             "frozen or non-extensible object)");
  return reply_value(JS_UNDEFINED);
}

QB_EXPORT(QB_EXPORT_SETTLE) int32_t qb_settle(uint32_t call_id, uint32_t ok, uint32_t value_len) {
  if (value_len > input.cap) return invalid("request larger than the input buffer");
  begin_op();
  size_t i = 0;
  while (i < pending_count && pending_calls[i].call_id != call_id) i++;
  if (i == pending_count) return invalid("no pending host call has this id");
  JSValue v = qb_cbor_decode(ctx, input.data, value_len, incoming_limits(2));
  pending_call call = pending_calls[i];
  pending_calls[i] = pending_calls[--pending_count];
  if (JS_IsException(v)) {
    /* the answer cannot become a JS value (a BigInt over the limit, ...): the call rejects with
     * the reason, as it would for any other failed call */
    ok = 0;
    v = JS_GetException(ctx);
  } else if (!ok) {
    v = host_error(v, call.capability);
  }
  JSValue r = JS_IsException(v) ? JS_EXCEPTION
                                : JS_Call(ctx, ok ? call.resolve : call.reject, JS_UNDEFINED, 1, (JSValueConst *)&v);
  JS_FreeValue(ctx, v);
  free_pending_call(call);
  if (JS_IsException(r)) return reply_pending_exception();
  JS_FreeValue(ctx, r);
  return reply_value(JS_UNDEFINED);
}

QB_EXPORT(QB_EXPORT_RESUME) int32_t qb_resume(void) {
  begin_op();
  if (!driving) return invalid("no evaluation is suspended");
  reply_display = drive_mode & DRIVE_DISPLAY;
  return drive();
}

QB_EXPORT(QB_EXPORT_ABANDON) int32_t qb_abandon(void) {
  begin_op();
  stop_driving();
  return reply_value(JS_UNDEFINED);
}

/* What qb_nest(1) sets aside: everything "the operation in progress" means to the guest. */
typedef struct nested_frame {
  JSValue driven;
  JSModuleDef *driven_module;
  uint32_t drive_mode, reply_display;
  bool driving, interrupted, allocation_refused;
  qb_buf output, console_buf;
  qb_exchange exchange;
  rejection *rejections;
  size_t rejection_count, rejection_cap;
  pending_call *pending_calls;
  size_t pending_count, pending_cap;
} nested_frame;
static nested_frame nested_frames[QB_MAX_NESTING];

QB_EXPORT(QB_EXPORT_NEST) int32_t qb_nest(uint32_t enter) {
  if (enter) {
    if (nest_depth >= QB_MAX_NESTING) return QB_STATUS_ERROR;
    /* a fresh reply buffer with room for the fixed error reply, as bootstrap gives the first */
    qb_buf fresh = {0};
    if (!qb_buf_reserve(&fresh, 4096)) return QB_STATUS_ERROR;
    nested_frames[nest_depth++] = (nested_frame){
        .driven = driven, .driven_module = driven_module, .drive_mode = drive_mode,
        .reply_display = reply_display, .driving = driving, .interrupted = interrupted,
        .allocation_refused = allocation_refused, .output = output, .console_buf = console_buf,
        .exchange = exchange, .rejections = rejections, .rejection_count = rejection_count,
        .rejection_cap = rejection_cap, .pending_calls = pending_calls, .pending_count = pending_count,
        .pending_cap = pending_cap};
    driven = JS_UNDEFINED;
    driven_module = NULL;
    drive_mode = 0;
    driving = false;
    output = fresh;
    console_buf = (qb_buf){0};
    rejections = NULL;
    rejection_count = rejection_cap = 0;
    pending_calls = NULL;
    pending_count = pending_cap = 0;
    exchange.console_ptr = exchange.console_len = exchange.console_dropped = 0;
    /* the host's code between the outer operation's last stack check and here used native stack */
    checks_before_asking = 0;
    return QB_STATUS_DONE;
  }
  if (!nest_depth) return QB_STATUS_ERROR;
  /* what the nested operation left: its evaluation (already replied), calls and rejections */
  stop_driving();
  clear_rejections();
  free(rejections);
  free(pending_calls);
  free(output.data);
  free(console_buf.data);
  nested_frame *f = &nested_frames[--nest_depth];
  driven = f->driven;
  driven_module = f->driven_module;
  drive_mode = f->drive_mode;
  reply_display = f->reply_display;
  driving = f->driving;
  interrupted = f->interrupted;
  allocation_refused = f->allocation_refused;
  output = f->output;
  console_buf = f->console_buf;
  rejections = f->rejections;
  rejection_count = f->rejection_count;
  rejection_cap = f->rejection_cap;
  pending_calls = f->pending_calls;
  pending_count = f->pending_count;
  pending_cap = f->pending_cap;
  /* the input buffer may have moved for the nested request: it stays where it is now */
  uint32_t input_ptr = exchange.input_ptr, input_cap = exchange.input_cap;
  exchange = f->exchange;
  exchange.input_ptr = input_ptr;
  exchange.input_cap = input_cap;
  checks_before_asking = 0;
  return QB_STATUS_DONE;
}

/* typeof's answer, told apart for null and arrays (what a Python caller asks of a handle). */
static const char *type_name(JSValueConst v) {
  if (JS_IsNull(v)) return "null";
  if (JS_IsUndefined(v)) return "undefined";
  if (JS_IsBool(v)) return "boolean";
  if (JS_IsNumber(v)) return "number";
  if (JS_IsBigInt(v)) return "bigint";
  if (JS_IsString(v)) return "string";
  if (JS_IsSymbol(v)) return "symbol";
  if (JS_IsFunction(ctx, v)) return "function";
  if (JS_IsArray(v)) return "array";
  return "object";
}

/* Runs fn (consumed) with argv as an evaluation whose result is pinned. */
static int32_t call_pinned(JSValue fn, JSValueConst this_val, JSValueConst args, bool construct) {
  int64_t argc = 0;
  if (!JS_IsArray(args) || JS_GetLength(ctx, args, &argc) < 0 || argc > 65535) {
    JS_FreeValue(ctx, fn);
    return invalid("handle call arguments must be an array of at most 65535 values");
  }
  JSValue *argv = calloc((size_t)argc + 1, sizeof(JSValue));
  if (!argv) {
    JS_FreeValue(ctx, fn);
    JS_ThrowOutOfMemory(ctx);
    return reply_pending_exception();
  }
  for (int64_t i = 0; i < argc; i++) argv[i] = JS_GetPropertyInt64(ctx, args, i);
  stop_driving();
  JSValue result;
  if (!JS_IsFunction(ctx, fn)) result = JS_ThrowTypeError(ctx, "the value is not a function");
  else if (construct) result = JS_CallConstructor(ctx, fn, (int)argc, (JSValueConst *)argv);
  else result = JS_Call(ctx, fn, this_val, (int)argc, (JSValueConst *)argv);
  for (int64_t i = 0; i < argc; i++) JS_FreeValue(ctx, argv[i]);
  free(argv);
  JS_FreeValue(ctx, fn);
  return finish(result, DRIVE_HANDLE);
}

static JSAtom key_atom(JSValueConst key) {
  if (!JS_IsString(key) && !JS_IsNumber(key)) {
    JS_ThrowTypeError(ctx, "a property key must be a string or an integer");
    return JS_ATOM_NULL;
  }
  return JS_ValueToAtom(ctx, key);
}

/* Whether request is [key, x], as a handle set and a method call take it. */
static bool is_pair(JSValueConst request) {
  int64_t n = 0;
  return JS_IsArray(request) && JS_GetLength(ctx, request, &n) >= 0 && n == 2;
}

/* The first element of a pair as an atom (JS_ATOM_NULL with an exception pending when it is no
 * property key). */
static JSAtom pair_key(JSValueConst pair) {
  JSValue k = JS_GetPropertyInt64(ctx, pair, 0);
  JSAtom key = key_atom(k);
  JS_FreeValue(ctx, k);
  return key;
}

/* One operation on a pinned value; see QB_EXPORT_HANDLE. */
static int32_t handle_op(uint32_t op, JSValueConst target, JSValueConst request) {
  switch (op) {
    case QB_HANDLE_GET: {
      JSAtom key = key_atom(request);
      if (key == JS_ATOM_NULL) return reply_pending_exception();
      JSValue v = JS_GetProperty(ctx, target, key);
      JS_FreeAtom(ctx, key);
      return reply_handle(v);
    }
    case QB_HANDLE_SET: {
      if (!is_pair(request)) return invalid("a handle set needs [key, value]");
      JSAtom key = pair_key(request);
      if (key == JS_ATOM_NULL) return reply_pending_exception();
      if (!JS_IsObject(target)) {
        JS_FreeAtom(ctx, key);
        JS_ThrowTypeError(ctx, "cannot set a property of a %s", type_name(target));
        return reply_pending_exception();
      }
      int r = JS_SetProperty(ctx, target, key, JS_GetPropertyInt64(ctx, request, 1));
      JS_FreeAtom(ctx, key);
      if (r < 0) return reply_pending_exception();
      return reply_value(JS_UNDEFINED);
    }
    case QB_HANDLE_HAS: {
      if (!JS_IsObject(target)) return reply_value(JS_FALSE);
      JSAtom key = key_atom(request);
      if (key == JS_ATOM_NULL) return reply_pending_exception();
      int r = JS_HasProperty(ctx, target, key);
      JS_FreeAtom(ctx, key);
      if (r < 0) return reply_pending_exception();
      return reply_value(JS_NewBool(ctx, r));
    }
    case QB_HANDLE_CALL:
      return call_pinned(JS_DupValue(ctx, target), JS_UNDEFINED, request, false);
    case QB_HANDLE_NEW:
      return call_pinned(JS_DupValue(ctx, target), JS_UNDEFINED, request, true);
    case QB_HANDLE_CALL_METHOD: {
      if (!is_pair(request)) return invalid("a handle method call needs [name, [args...]]");
      JSAtom key = pair_key(request);
      if (key == JS_ATOM_NULL) return reply_pending_exception();
      JSValue fn = JS_GetProperty(ctx, target, key);
      JS_FreeAtom(ctx, key);
      if (JS_IsException(fn)) return reply_pending_exception();
      JSValue args = JS_GetPropertyInt64(ctx, request, 1);
      int32_t status = call_pinned(fn, target, args, false);
      JS_FreeValue(ctx, args);
      return status;
    }
    case QB_HANDLE_AWAIT:
      stop_driving();
      return finish(JS_DupValue(ctx, target), DRIVE_AWAIT | DRIVE_HANDLE);
    case QB_HANDLE_TO_VALUE: {
      qb_value_limits limits = outgoing_limits();
      limits.pin_opaque = JS_ToBool(ctx, request) > 0;
      qb_encode_status st = qb_cbor_encode(ctx, target, &output, limits);
      if (st == QB_ENCODE_TOO_LARGE || st == QB_ENCODE_BIGINT_TOO_LARGE) return reply_output_limit(st);
      if (st == QB_ENCODE_THROWN) return reply_pending_exception();
      return reply(QB_STATUS_DONE);
    }
    case QB_HANDLE_DESCRIBE: {
      qb_cbor_put_head(&output, 4, 2);
      const char *t = type_name(target);
      qb_cbor_put_text(&output, t, strlen(t));
      qb_cbor_put_head(&output, 7, JS_IsPromise(target) ? 21 : 20);
      return reply(QB_STATUS_DONE);
    }
    case QB_HANDLE_DUP:
      return reply_handle(JS_DupValue(ctx, target));
    default:
      return invalid("unknown handle operation");
  }
}

QB_EXPORT(QB_EXPORT_HANDLE) int32_t qb_handle(uint32_t op, uint32_t id, uint32_t request_len) {
  if (request_len > input.cap) return invalid("request larger than the input buffer");
  begin_op();
  if (op == QB_HANDLE_RELEASE) {
    if (id == QB_HANDLE_GLOBAL || !qb_unpin(ctx, id)) return invalid("no live handle has this id");
    return reply_value(JS_UNDEFINED);
  }
  JSValue target;
  if (!qb_pinned(ctx, id, &target)) return invalid("no live handle has this id");
  JSValue request = qb_cbor_decode(ctx, input.data, request_len, incoming_limits(2));
  if (JS_IsException(request)) {
    JS_FreeValue(ctx, target);
    return invalid_request_value();
  }
  int32_t status = handle_op(op, target, request);
  JS_FreeValue(ctx, request);
  JS_FreeValue(ctx, target);
  return status;
}
