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
} qb_encode_status;

/* Encodes a JS value as CBOR into out (appending). Caps: max_depth nesting, max_bytes output. */
qb_encode_status qb_cbor_encode(JSContext *ctx, JSValueConst value, qb_buf *out, uint32_t max_depth,
                                size_t max_bytes);

/* Decodes exactly one CBOR item spanning [data, data+len). On malformed input returns
 * JS_EXCEPTION with a pending TypeError that says what was wrong and at which byte offset. */
JSValue qb_cbor_decode(JSContext *ctx, const uint8_t *data, size_t len, uint32_t max_depth);

/* Functions the prelude hands to C at bootstrap; captured before any user code runs, so that
 * tampering with globals or prototypes cannot change how the guest formats or converts values. */
typedef struct qb_helper_fns {
  JSValue format;          /* (args: any[]) => string, like Node's util.format */
  JSValue inspect;         /* (value) => string, like Node's util.inspect */
  JSValue bigint_from_hex; /* (hex: string) => bigint */
  JSValue bigint_to_hex;   /* (n: bigint) => string, with the intrinsic toString */
  JSValue negate;          /* (n: bigint) => -n */
  JSValue make_error;      /* (name, message, capability) => Error, stack starting at the capability */
} qb_helper_fns;
extern qb_helper_fns qb_helpers;

/* QuickJS writes a lone surrogate as the 3-byte sequence ED A0..BF xx, which is not UTF-8.
 * Replaces each such sequence in place with U+FFFD (also 3 bytes), for text that must always get
 * through (error messages, console output) where refusing would lose the report. */
void qb_replace_lone_surrogates(char *text, size_t len);

/* Low-level CBOR writers used by both the value encoder and the reply encoder. */
bool qb_cbor_put_head(qb_buf *b, uint8_t major, uint64_t arg);
bool qb_cbor_put_text(qb_buf *b, const char *s, size_t n);

#endif
