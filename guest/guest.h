/* Internal declarations shared by the guest's translation units (not part of the ABI). */
#ifndef QUICKBOX_GUEST_H
#define QUICKBOX_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quickbox_abi.h"
#include "quickjs.h"

/* A growable byte buffer. A failed growth leaves the buffer unchanged and returns false. */
typedef struct qb_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
  size_t limit;    /* when non-zero, len may never exceed it: growth past it fails up front */
  bool over_limit; /* set when a growth failed because of `limit` (not for lack of memory) */
} qb_buf;

bool qb_buf_reserve(qb_buf *b, size_t extra);
bool qb_buf_append(qb_buf *b, const void *bytes, size_t n);

/* Why the CBOR encoder stopped; it leaves a pending JS exception only for QB_ENCODE_THROWN. */
typedef enum qb_encode_status {
  QB_ENCODE_OK = 0,
  QB_ENCODE_THROWN,       /* a JS exception is pending (TypeError, a throwing getter, ...) */
  QB_ENCODE_TOO_LARGE,    /* the output would exceed the result limit */
  QB_ENCODE_BIGINT_TOO_LARGE, /* a BigInt is over the BigInt limit; a RangeError saying so is
                               * pending */
} qb_encode_status;

/* Caps on what one encode or decode may produce or accept. */
typedef struct qb_value_limits {
  uint32_t max_depth;     /* nesting of arrays and objects */
  size_t max_bytes;       /* encoded output (encoder only) */
  uint32_t bigint_bytes;  /* magnitude of one BigInt; 0: no cap */
  bool pin_opaque;        /* encoder only: pin what is not data instead of refusing it */
} qb_value_limits;

/* The handle table (guest/handles.c). qb_pin takes value and returns its new id, or 0 when the
 * table cannot grow (value is then freed). qb_pinned dups the value of a live id (the global
 * object for QB_HANDLE_GLOBAL) and returns false for any other id. qb_unpin releases one. */
uint32_t qb_pin(JSContext *ctx, JSValue value);
bool qb_pinned(JSContext *ctx, uint32_t id, JSValue *out);
bool qb_unpin(JSContext *ctx, uint32_t id);

/* Encodes a JS value as CBOR into out (appending), within limits. With pin_opaque, values that
 * are not data (functions, symbols, promises, Maps...) are pinned (qb_pin) and encoded as
 * QB_CBOR_TAG_HANDLE instead of failing. */
qb_encode_status qb_cbor_encode(JSContext *ctx, JSValueConst value, qb_buf *out,
                                qb_value_limits limits);
/* qb_cbor_encode of an array holding argv's argc values, without making the array. */
qb_encode_status qb_cbor_encode_args(JSContext *ctx, int argc, JSValueConst *argv, qb_buf *out,
                                     qb_value_limits limits);

/* Decodes exactly one CBOR item spanning [data, data+len). On malformed input returns
 * JS_EXCEPTION with a pending TypeError that says what was wrong and at which byte offset; a
 * BigInt over limits.bigint_bytes leaves a RangeError naming the limit. */
JSValue qb_cbor_decode(JSContext *ctx, const uint8_t *data, size_t len, qb_value_limits limits);

/* Functions the prelude hands to C at bootstrap; captured before any user code runs, so that
 * tampering with globals or prototypes cannot change how the guest formats or converts values. */
typedef struct qb_helper_fns {
  JSValue format;          /* (args: any[]) => string, like Node's util.format */
  JSValue inspect;         /* (value) => string, like Node's util.inspect */
  JSValue bigint_from_hex; /* (hex: string) => bigint */
  JSValue bigint_to_hex;   /* (n: bigint) => string, with the intrinsic toString */
  JSValue negate;          /* (n: bigint) => -n */
  JSValue make_error;      /* (name, message, capability) => Error, stack starting at the capability */
  JSValue string_slice;    /* the intrinsic String.prototype.slice (a C function: no user code) */
  JSValue date_to_iso_string; /* the intrinsic Date.prototype.toISOString (no user code) */
  JSValue install_fetch;   /* (capability) => defines fetch & co. around it (guest/fetch.js) */
} qb_helper_fns;
extern qb_helper_fns qb_helpers;

/* Whether the memory limit leaves room for `bytes` more on the heap; a refusal is recorded, so that
 * the out-of-memory error the caller throws is reported as OutOfMemory. For C++ code (ada, under
 * URL) that allocates outside QuickJS's accounting for the length of one call. */
bool qb_heap_has_room(size_t bytes);

/* js_malloc for memory a cache can do without: NULL when the memory limit leaves no room, with
 * neither a pending exception nor a recorded refusal, since no operation fails because of it. */
void *qb_malloc_if_room(JSContext *ctx, size_t size);

/* Compiled scripts kept for sources evaluated again (guest/script_cache.c). qb_script_eval
 * evaluates source as JS_Eval does (compile, then JS_EvalFunction), named by key's first
 * NUL-terminated part; key is that name, its NUL and source, contiguous. qb_script_cache_clear
 * drops every kept script. */
JSValue qb_script_eval(JSContext *ctx, const char *key, size_t key_len, const char *source,
                       size_t source_len, int js_flags);
/* What cmake/PatchQuickJS.cmake (10) adds to quickjs.c: the function JS_EvalFunction would make
 * of a global script's bytecode (which it takes), to be called with the global object as this. */
JSValue JS_NewScriptFunction(JSContext *ctx, JSValue bytecode);
void qb_script_cache_clear(JSContext *ctx);

/* URL and URLSearchParams's C++ half (guest/url.cc), handed to guest/url.js at bootstrap. */
JSValue qb_url_natives(JSContext *ctx);

/* QuickJS writes a lone surrogate as the 3-byte sequence ED A0..BF xx, which is not UTF-8.
 * Replaces each such sequence in place with U+FFFD (also 3 bytes), for text that must always get
 * through (error messages, console output) where refusing would lose the report. */
void qb_replace_lone_surrogates(char *text, size_t len);

/* Text owned by C (malloc), with its length: it may hold NUL bytes. */
typedef struct qb_text {
  char *data; /* NUL-terminated for convenience; len is authoritative */
  size_t len;
} qb_text;

void qb_text_free(qb_text *t);
/* Copies n bytes of s. Returns false when out of memory (out is then empty). */
bool qb_text_copy(qb_text *out, const char *s, size_t n);

/* The text of value (consumes it; String(value) for non-strings), as well-formed UTF-8 of at
 * most max_chars characters (UTF-16 code units) plus QB_TRUNCATION_MARKER when it was longer.
 * Returns false with a pending exception when the text cannot be had (a throwing toString, the
 * CPU budget, memory). */
bool qb_bounded_text(JSContext *ctx, JSValue value, uint32_t max_chars, qb_text *out);

/* error[field] as bounded text (undefined reads as ""); false with a pending exception when
 * reading it throws. */
bool qb_error_field(JSContext *ctx, JSValueConst error, const char *field, uint32_t max_chars,
                    qb_text *out);

/* QB_ERROR_NAME/MESSAGE/STACK_MAX_CHARS for "name", "message" or "stack". */
uint32_t qb_error_field_limit(const char *field);

/* Low-level CBOR writers used by both the value encoder and the reply encoder. */
bool qb_cbor_put_head(qb_buf *b, uint8_t major, uint64_t arg);
bool qb_cbor_put_text(qb_buf *b, const char *s, size_t n);

/* For C code that runs long outside QuickJS's own interrupt checks (a digest of a large buffer):
 * asks the host whether the CPU budget or the wall clock ran out, and if so throws the same
 * uncatchable error QuickJS's interrupt handler would and returns true. */
bool qb_interrupt(JSContext *ctx);

/* The natives of the web-standard globals (guest/web.c), handed to guest/web.js at bootstrap. */
JSValue qb_web_natives(JSContext *ctx);

/* A plain object holding the given C functions: how each guest script receives its natives.
 * JS_EXCEPTION when out of memory. */
JSValue qb_natives_object(JSContext *ctx, const JSCFunctionListEntry *natives, int count);

/* Timers (guest/timers.c). */
/* Defines setTimeout, setInterval, clearTimeout and clearInterval on global. */
bool qb_timers_install(JSContext *ctx, JSValueConst global);
/* How many timers may be pending at once (qb_config.max_timers). */
void qb_timers_configure(uint32_t max_timers);
/* Runs the earliest timer if it is due: 1 if one ran, 0 if none is due, -1 if its callback threw
 * (the exception is pending). */
int qb_timers_run_due(JSContext *ctx);
/* Drops every pending timer (the evaluation they belong to is over). */
void qb_timers_clear(JSContext *ctx);
uint32_t qb_timers_count(void);
/* When the earliest timer is due on the monotonic clock, in ns; UINT64_MAX when there is none. */
uint64_t qb_timers_next_due(void);

#endif
