/* JS value <-> CBOR, following the mapping documented in abi/quickbox_abi.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

/* ---------------------------------------------------------------------------------------------
 * Buffers and CBOR heads
 * ------------------------------------------------------------------------------------------- */
bool qb_buf_reserve(qb_buf *b, size_t extra) {
  if (b->len + extra <= b->cap) return true;
  if (b->limit && b->len + extra > b->limit) {
    b->over_limit = true;
    return false;
  }
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra) cap *= 2;
  if (b->limit && cap > b->limit) cap = b->limit; /* never allocate past what may be used */
  uint8_t *data = realloc(b->data, cap);
  if (!data) return false;
  b->data = data;
  b->cap = cap;
  return true;
}

bool qb_buf_append(qb_buf *b, const void *bytes, size_t n) {
  if (!qb_buf_reserve(b, n)) return false;
  memcpy(b->data + b->len, bytes, n);
  b->len += n;
  return true;
}

bool qb_cbor_put_head(qb_buf *b, uint8_t major, uint64_t arg) {
  uint8_t head[9];
  size_t n;
  head[0] = (uint8_t)(major << 5);
  if (arg < 24) {
    head[0] |= (uint8_t)arg;
    n = 1;
  } else if (arg <= 0xff) {
    head[0] |= 24;
    head[1] = (uint8_t)arg;
    n = 2;
  } else if (arg <= 0xffff) {
    head[0] |= 25;
    head[1] = (uint8_t)(arg >> 8);
    head[2] = (uint8_t)arg;
    n = 3;
  } else if (arg <= 0xffffffffu) {
    head[0] |= 26;
    for (int i = 0; i < 4; i++) head[1 + i] = (uint8_t)(arg >> (24 - 8 * i));
    n = 5;
  } else {
    head[0] |= 27;
    for (int i = 0; i < 8; i++) head[1 + i] = (uint8_t)(arg >> (56 - 8 * i));
    n = 9;
  }
  return qb_buf_append(b, head, n);
}

bool qb_cbor_put_text(qb_buf *b, const char *s, size_t n) {
  return qb_cbor_put_head(b, 3, n) && qb_buf_append(b, s, n);
}

static bool put_double(qb_buf *b, double d) {
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  uint8_t out[9];
  out[0] = 0xfb;
  for (int i = 0; i < 8; i++) out[1 + i] = (uint8_t)(bits >> (56 - 8 * i));
  return qb_buf_append(b, out, sizeof out);
}

#define MAX_SAFE_INTEGER 9007199254740992.0 /* 2^53 */

static bool put_number(qb_buf *b, double d) {
  if (d == floor(d) && fabs(d) <= MAX_SAFE_INTEGER && !(d == 0 && signbit(d))) {
    if (d >= 0) return qb_cbor_put_head(b, 0, (uint64_t)d);
    return qb_cbor_put_head(b, 1, (uint64_t)(-d) - 1);
  }
  return put_double(b, d);
}

/* ---------------------------------------------------------------------------------------------
 * Encoder
 * ------------------------------------------------------------------------------------------- */
typedef struct path_seg {
  bool is_index;
  uint32_t index;
  JSAtom key;
} path_seg;

/* How deep a value's path may go before the encoder's path moves to the heap. The values that
 * cross the boundary (results, host-call arguments) are mostly shallow; allocating the path for
 * every one of them, a result of 3 included, took two heap blocks of max_depth + 1 entries and
 * their frees per value, and the pages those blocks touched (README, "Benchmarks"). */
enum { ENCODER_INLINE_DEPTH = 16 };

typedef struct encoder {
  JSContext *ctx;
  qb_buf *out;
  size_t base;      /* out->len when encoding started */
  size_t max_bytes;
  uint32_t max_depth;
  uint32_t bigint_bytes; /* 0: no cap */
  uint32_t depth;
  void **stack;     /* objects on the current path, for cycle detection */
  path_seg *path;   /* keys on the current path, for error messages */
  bool too_large;
  bool bigint_too_large;
  bool pin_opaque;
  bool on_heap;     /* stack and path moved to the heap (max_depth + 1 entries each) */
  void *inline_stack[ENCODER_INLINE_DEPTH];
  path_seg inline_path[ENCODER_INLINE_DEPTH];
} encoder;

/* Room on the path for one more level: past ENCODER_INLINE_DEPTH, the path moves to the heap. */
static bool path_has_room(encoder *e) {
  if (e->on_heap || e->depth < ENCODER_INLINE_DEPTH) return true;
  void **stack = malloc(sizeof(void *) * (e->max_depth + 1));
  path_seg *path = malloc(sizeof(path_seg) * (e->max_depth + 1));
  if (!stack || !path) {
    free(stack);
    free(path);
    JS_ThrowOutOfMemory(e->ctx);
    return false;
  }
  memcpy(stack, e->inline_stack, sizeof e->inline_stack);
  memcpy(path, e->inline_path, sizeof e->inline_path);
  e->stack = stack;
  e->path = path;
  e->on_heap = true;
  return true;
}

static void format_path(encoder *e, char *buf, size_t size);

/* Goes one level down into the container at ptr (NULL: one no cycle can pass through), within
 * max_depth; -1 with a RangeError naming the path when the limit is reached. */
static int enter_level(encoder *e, void *ptr) {
  if (e->depth >= e->max_depth) {
    char path[256];
    format_path(e, path, sizeof path);
    JS_ThrowRangeError(e->ctx, "value nests deeper than the limit of %u levels (at %s)", e->max_depth,
                       path);
    return -1;
  }
  if (!path_has_room(e)) return -1;
  e->stack[e->depth++] = ptr;
  return 0;
}

/* Renders the current path as "$.a[3].b" into buf. */
static void format_path(encoder *e, char *buf, size_t size) {
  size_t n = (size_t)snprintf(buf, size, "$");
  for (uint32_t i = 0; i < e->depth && n < size; i++) {
    if (e->path[i].is_index) {
      n += (size_t)snprintf(buf + n, size - n, "[%u]", e->path[i].index);
    } else {
      const char *k = JS_AtomToCString(e->ctx, e->path[i].key);
      n += (size_t)snprintf(buf + n, size - n, ".%s", k ? k : "?");
      JS_FreeCString(e->ctx, k);
    }
  }
}

static int fail_type(encoder *e, const char *what) {
  char path[256];
  format_path(e, path, sizeof path);
  JS_ThrowTypeError(e->ctx, "cannot pass %s to the host (at %s): only data values cross the sandbox "
                    "boundary", what, path);
  return -1;
}

static bool check_size(encoder *e) {
  if (e->out->len - e->base > e->max_bytes) {
    e->too_large = true;
    return false;
  }
  return true;
}

/* Appends bytes; fails (too large, or out of memory) without a pending exception for too large. */
static int emit(encoder *e, bool ok) {
  if (!ok) {
    if (e->out->over_limit) {
      e->too_large = true;
      return -1;
    }
    JS_ThrowOutOfMemory(e->ctx);
    return -1;
  }
  if (!check_size(e)) return -1;
  return 0;
}

/* UTF-8 produced by QuickJS encodes a lone surrogate as ED A0..BF xx; CBOR text must be valid
 * UTF-8, so such strings are refused. Returns the UTF-16 index of the first lone surrogate or -1. */
static long find_lone_surrogate(const uint8_t *s, size_t n) {
  long units = 0;
  for (size_t i = 0; i < n;) {
    uint8_t c = s[i];
    if (c == 0xed && i + 1 < n && s[i + 1] >= 0xa0) return units;
    size_t step = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    units += step == 4 ? 2 : 1;
    i += step;
  }
  return -1;
}

void qb_replace_lone_surrogates(char *text, size_t len) {
  uint8_t *s = (uint8_t *)text;
  for (size_t i = 0; i + 2 < len; i++) {
    if (s[i] == 0xed && s[i + 1] >= 0xa0) {
      s[i] = 0xef;
      s[i + 1] = 0xbf;
      s[i + 2] = 0xbd;
      i += 2;
    }
  }
}

static int encode_string(encoder *e, JSValueConst v) {
  size_t len;
  const char *s = JS_ToCStringLen(e->ctx, &len, v);
  if (!s) return -1;
  long bad = find_lone_surrogate((const uint8_t *)s, len);
  if (bad >= 0) {
    JS_FreeCString(e->ctx, s);
    char path[256];
    format_path(e, path, sizeof path);
    JS_ThrowTypeError(e->ctx, "cannot pass a string with a lone surrogate (at index %ld) to the "
                      "host (at %s): strings must be well-formed Unicode", bad, path);
    return -1;
  }
  int r = emit(e, qb_cbor_put_text(e->out, s, len));
  JS_FreeCString(e->ctx, s);
  return r;
}

/* BigInt -> tag 2/3 bignum, through its hexadecimal string (the only exact public accessor). */
static int encode_bigint(encoder *e, JSValueConst v) {
  /* the intrinsic toString captured at bootstrap: the program may have replaced the property */
  JSValue str = JS_Call(e->ctx, qb_helpers.bigint_to_hex, JS_UNDEFINED, 1, &v);
  if (JS_IsException(str)) return -1;
  size_t len;
  const char *hex = JS_ToCStringLen(e->ctx, &len, str);
  JS_FreeValue(e->ctx, str);
  if (!hex) return -1;
  const char *digits = hex;
  bool negative = false;
  if (*digits == '-') {
    negative = true;
    digits++;
  }
  size_t ndigits = strlen(digits);
  size_t nbytes = (ndigits + 1) / 2; /* toString(16) has no leading zeros: the exact size */
  if (e->bigint_bytes && nbytes > e->bigint_bytes) {
    unsigned lead = (unsigned)(digits[0] <= '9' ? digits[0] - '0' : (digits[0] | 0x20) - 'a' + 10);
    unsigned long long bits = 4ull * (ndigits - 1) + (lead >= 8 ? 4 : lead >= 4 ? 3 : lead >= 2 ? 2 : 1);
    JS_FreeCString(e->ctx, hex);
    char path[256];
    format_path(e, path, sizeof path);
    JS_ThrowRangeError(e->ctx, "BigInt at %s has %zu bytes (%llu bits), more than the sandbox's "
                       "BigInt limit of %u bytes", path, nbytes, bits, e->bigint_bytes);
    e->bigint_too_large = true;
    return -1;
  }
  uint8_t *mag = malloc(nbytes ? nbytes : 1);
  if (!mag) {
    JS_FreeCString(e->ctx, hex);
    JS_ThrowOutOfMemory(e->ctx);
    return -1;
  }
  /* parse hex into big-endian bytes */
  for (size_t i = 0; i < nbytes; i++) mag[i] = 0;
  for (size_t i = 0; i < ndigits; i++) {
    char c = digits[ndigits - 1 - i];
    uint8_t d = (uint8_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    mag[nbytes - 1 - i / 2] |= (uint8_t)(d << (4 * (i % 2)));
  }
  JS_FreeCString(e->ctx, hex);
  if (negative) { /* tag 3 carries -1 - n, i.e. magnitude - 1 */
    for (size_t i = nbytes; i-- > 0;) {
      if (mag[i]--) break;
    }
  }
  size_t skip = 0;
  while (skip < nbytes && mag[skip] == 0) skip++;
  int r = emit(e, qb_cbor_put_head(e->out, 6, negative ? 3 : 2) &&
                      qb_cbor_put_head(e->out, 2, nbytes - skip) &&
                      qb_buf_append(e->out, mag + skip, nbytes - skip));
  free(mag);
  return r;
}

static int encode_value(encoder *e, JSValueConst v);

/* An Error as [name, message, stack], each cut to its documented size (see error_text.c). */
static int encode_error(encoder *e, JSValueConst v) {
  static const char *const fields[3] = {"name", "message", "stack"};
  if (emit(e, qb_cbor_put_head(e->out, 6, QB_CBOR_TAG_ERROR) && qb_cbor_put_head(e->out, 4, 3)))
    return -1;
  for (int i = 0; i < 3; i++) {
    qb_text text;
    if (!qb_error_field(e->ctx, v, fields[i], qb_error_field_limit(fields[i]), &text)) return -1;
    int r = emit(e, qb_cbor_put_text(e->out, text.data, text.len));
    qb_text_free(&text);
    if (r) return -1;
  }
  return 0;
}

static int encode_array(encoder *e, JSValueConst v) {
  int64_t len;
  if (JS_GetLength(e->ctx, v, &len)) return -1;
  if (emit(e, qb_cbor_put_head(e->out, 4, (uint64_t)len))) return -1;
  for (int64_t i = 0; i < len; i++) {
    e->path[e->depth - 1] = (path_seg){.is_index = true, .index = (uint32_t)i};
    JSValue item = JS_GetPropertyInt64(e->ctx, v, i);
    if (JS_IsException(item)) return -1;
    int r = encode_value(e, item);
    JS_FreeValue(e->ctx, item);
    if (r) return -1;
  }
  return 0;
}

static int encode_object(encoder *e, JSValueConst v) {
  JSPropertyEnum *props;
  uint32_t count;
  if (JS_GetOwnPropertyNames(e->ctx, &props, &count, v, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY))
    return -1;
  int r = emit(e, qb_cbor_put_head(e->out, 5, count));
  for (uint32_t i = 0; i < count && r == 0; i++) {
    e->path[e->depth - 1] = (path_seg){.is_index = false, .key = props[i].atom};
    JSValue key = JS_AtomToString(e->ctx, props[i].atom);
    r = JS_IsException(key) ? -1 : encode_string(e, key);
    JS_FreeValue(e->ctx, key);
    if (r) break;
    JSValue item = JS_GetProperty(e->ctx, v, props[i].atom);
    if (JS_IsException(item)) {
      r = -1;
      break;
    }
    r = encode_value(e, item);
    JS_FreeValue(e->ctx, item);
  }
  JS_FreePropertyEnum(e->ctx, props, count);
  return r;
}

/* With the intrinsic toISOString: a program's own Date.prototype methods must not change or
 * break how a Date leaves the sandbox. */
static int encode_date(encoder *e, JSValueConst v) {
  JSValue s = JS_Call(e->ctx, qb_helpers.date_to_iso_string, v, 0, NULL);
  if (JS_IsException(s)) return -1;
  int r = encode_string(e, s);
  JS_FreeValue(e->ctx, s);
  return r;
}

/* A value that is not data: pinned and sent as a handle when the caller asked for that
 * (QB_HANDLE_TO_VALUE), else refused with a TypeError naming `what` and the path. */
static int opaque(encoder *e, JSValueConst v, const char *what) {
  if (!e->pin_opaque) return fail_type(e, what);
  uint32_t id = qb_pin(e->ctx, JS_DupValue(e->ctx, v));
  if (!id) {
    JS_ThrowOutOfMemory(e->ctx);
    return -1;
  }
  return emit(e, qb_cbor_put_head(e->out, 6, QB_CBOR_TAG_HANDLE) && qb_cbor_put_head(e->out, 0, id));
}

static int encode_compound(encoder *e, JSValueConst v) {
  JSContext *ctx = e->ctx;
  if (JS_IsFunction(ctx, v)) return opaque(e, v, "a function");
  if (JS_IsPromise(v)) return opaque(e, v, "a Promise (await it first)");
  if (JS_IsMap(v)) return opaque(e, v, "a Map (convert it with Object.fromEntries)");
  if (JS_IsSet(v)) return opaque(e, v, "a Set (convert it with Array.from)");
  if (JS_IsWeakMap(v) || JS_IsWeakSet(v) || JS_IsWeakRef(v)) return opaque(e, v, "a weak collection");
  if (JS_IsDate(v)) return encode_date(e, v);
  if (JS_IsError(v)) return encode_error(e, v);
  int ta = JS_GetTypedArrayType(v);
  if (ta >= 0) {
    if (ta != JS_TYPED_ARRAY_UINT8) return opaque(e, v, "a typed array other than Uint8Array");
    size_t size;
    uint8_t *bytes = JS_GetUint8Array(ctx, &size, v);
    if (!bytes && size) return -1;
    return emit(e, qb_cbor_put_head(e->out, 2, size) && qb_buf_append(e->out, bytes, size));
  }
  if (JS_IsArrayBuffer(v)) {
    size_t size;
    uint8_t *bytes = JS_GetArrayBuffer(ctx, &size, v);
    if (!bytes && size) return -1;
    return emit(e, qb_cbor_put_head(e->out, 2, size) && qb_buf_append(e->out, bytes, size));
  }
  /* arrays and objects: depth and cycle checks, then recurse */
  void *ptr = JS_VALUE_GET_PTR(v);
  for (uint32_t i = 0; i < e->depth; i++) {
    if (e->stack[i] == ptr) return fail_type(e, "a cyclic structure");
  }
  if (enter_level(e, ptr)) return -1;
  int r = JS_IsArray(v) ? encode_array(e, v) : encode_object(e, v);
  e->depth--;
  return r;
}

static int encode_value(encoder *e, JSValueConst v) {
  switch (JS_VALUE_GET_NORM_TAG(v)) {
    case JS_TAG_INT:
      return emit(e, put_number(e->out, JS_VALUE_GET_INT(v)));
    case JS_TAG_FLOAT64:
      return emit(e, put_number(e->out, JS_VALUE_GET_FLOAT64(v)));
    case JS_TAG_BOOL:
      return emit(e, qb_cbor_put_head(e->out, 7, JS_VALUE_GET_BOOL(v) ? 21 : 20));
    case JS_TAG_NULL:
      return emit(e, qb_cbor_put_head(e->out, 7, 22));
    case JS_TAG_UNDEFINED:
      return emit(e, qb_cbor_put_head(e->out, 7, 23));
    case JS_TAG_STRING:
    case JS_TAG_STRING_ROPE:
      return encode_string(e, v);
    case JS_TAG_BIG_INT:
    case JS_TAG_SHORT_BIG_INT:
      return encode_bigint(e, v);
    case JS_TAG_SYMBOL:
      return opaque(e, v, "a Symbol");
    case JS_TAG_OBJECT:
      return encode_compound(e, v);
    default:
      return fail_type(e, "an internal value");
  }
}

/* Encodes into out what `encode` writes with an encoder set up for these limits. */
static qb_encode_status encode_with(JSContext *ctx, qb_buf *out, qb_value_limits limits,
                                    int (*encode)(encoder *e, const void *what), const void *what) {
  encoder e = {.ctx = ctx, .out = out, .base = out->len, .max_bytes = limits.max_bytes,
               .max_depth = limits.max_depth, .bigint_bytes = limits.bigint_bytes,
               .pin_opaque = limits.pin_opaque};
  e.stack = e.inline_stack;
  e.path = e.inline_path;
  size_t saved_limit = out->limit;
  out->limit = out->len + limits.max_bytes;
  out->over_limit = false;
  int r = encode(&e, what);
  out->limit = saved_limit;
  if (e.on_heap) {
    free(e.stack);
    free(e.path);
  }
  if (r == 0) return QB_ENCODE_OK;
  out->len = e.base;
  if (e.too_large) return QB_ENCODE_TOO_LARGE;
  return e.bigint_too_large ? QB_ENCODE_BIGINT_TOO_LARGE : QB_ENCODE_THROWN;
}

static int encode_one(encoder *e, const void *value) { return encode_value(e, *(const JSValueConst *)value); }

qb_encode_status qb_cbor_encode(JSContext *ctx, JSValueConst value, qb_buf *out,
                                qb_value_limits limits) {
  return encode_with(ctx, out, limits, encode_one, &value);
}

typedef struct arguments {
  int count;
  JSValueConst *values;
} arguments;

/* The arguments as encode_array writes an array holding them: one level deep, each at $[i]. The
 * array itself is never on the path of a cycle, so it takes its level with no object. */
static int encode_arguments(encoder *e, const void *what) {
  const arguments *args = what;
  if (enter_level(e, NULL)) return -1;
  if (emit(e, qb_cbor_put_head(e->out, 4, (uint64_t)args->count))) return -1;
  for (int i = 0; i < args->count; i++) {
    e->path[e->depth - 1] = (path_seg){.is_index = true, .index = (uint32_t)i};
    if (encode_value(e, args->values[i])) return -1;
  }
  e->depth--;
  return 0;
}

qb_encode_status qb_cbor_encode_args(JSContext *ctx, int argc, JSValueConst *argv, qb_buf *out,
                                     qb_value_limits limits) {
  arguments args = {argc, argv};
  return encode_with(ctx, out, limits, encode_arguments, &args);
}

/* ---------------------------------------------------------------------------------------------
 * Decoder
 * ------------------------------------------------------------------------------------------- */
typedef struct decoder {
  JSContext *ctx;
  const uint8_t *data;
  size_t len;
  size_t pos;
  uint32_t max_depth;
  uint32_t bigint_bytes; /* 0: no cap */
} decoder;

static JSValue bad(decoder *d, const char *why) {
  return JS_ThrowTypeError(d->ctx, "malformed value from the host: %s at byte %zu", why, d->pos);
}

static bool read_head(decoder *d, uint8_t *major, uint8_t *info, uint64_t *arg) {
  if (d->pos >= d->len) return false;
  uint8_t b = d->data[d->pos++];
  *major = b >> 5;
  *info = b & 31;
  if (*info < 24) {
    *arg = *info;
    return true;
  }
  if (*info > 27) return false; /* reserved or indefinite length: not produced by the host */
  size_t n = (size_t)1 << (*info - 24);
  if (d->len - d->pos < n) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = (v << 8) | d->data[d->pos++];
  *arg = v;
  return true;
}

static bool valid_utf8(const uint8_t *s, size_t n) {
  for (size_t i = 0; i < n;) {
    uint8_t c = s[i];
    size_t k;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      k = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      k = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      k = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i <= k) return false;
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + j] & 0x3f);
    }
    if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += k + 1;
  }
  return true;
}

static JSValue decode_item(decoder *d, uint32_t depth);

static JSValue decode_text(decoder *d, uint64_t n) {
  if (d->len - d->pos < n) return bad(d, "truncated text string");
  const uint8_t *s = d->data + d->pos;
  if (!valid_utf8(s, (size_t)n)) return bad(d, "text string is not valid UTF-8");
  d->pos += (size_t)n;
  return JS_NewStringLen(d->ctx, (const char *)s, (size_t)n);
}

static JSValue decode_bignum(decoder *d, bool negative) {
  uint8_t major, info;
  uint64_t n;
  if (!read_head(d, &major, &info, &n) || major != 2) return bad(d, "bignum tag without byte string");
  if (d->len - d->pos < n) return bad(d, "truncated bignum");
  const uint8_t *mag = d->data + d->pos;
  d->pos += (size_t)n;
  while (n > 0 && mag[0] == 0) { /* leading zeros do not count against the limit */
    mag++;
    n--;
  }
  uint64_t size = n; /* of the value's magnitude: tag 3's -1 - m carries into a new byte when m is all ones */
  if (negative && n > 0) {
    uint64_t ones = 0;
    while (ones < n && mag[ones] == 0xff) ones++;
    if (ones == n) size++;
  }
  if (d->bigint_bytes && size > d->bigint_bytes)
    return JS_ThrowRangeError(d->ctx, "a BigInt from the host has %llu bytes, more than the "
                              "sandbox's BigInt limit of %u bytes", (unsigned long long)size,
                              d->bigint_bytes);
  /* Tag 3 holds -1 - m: write m + 1 as "0x..." (one spare digit for the carry), let BigInt()
   * parse it, then negate with the prelude's helper. */
  char *hex = malloc(2 * (size_t)n + 4);
  if (!hex) return JS_ThrowOutOfMemory(d->ctx);
  static const char digits[] = "0123456789abcdef";
  size_t k = 2 * (size_t)n + 3;
  hex[k] = 0;
  unsigned carry = negative ? 1 : 0;
  for (uint64_t i = n; i-- > 0;) {
    unsigned byte = mag[i] + carry;
    carry = byte >> 8;
    hex[--k] = digits[byte & 15];
    hex[--k] = digits[(byte >> 4) & 15];
  }
  hex[--k] = digits[carry];
  hex[--k] = 'x';
  hex[--k] = '0';
  JSValue str = JS_NewString(d->ctx, hex);
  free(hex);
  if (JS_IsException(str)) return str;
  JSValueConst args[1] = {str};
  JSValue big = JS_Call(d->ctx, qb_helpers.bigint_from_hex, JS_UNDEFINED, 1, args);
  JS_FreeValue(d->ctx, str);
  if (JS_IsException(big) || !negative) return big;
  JSValue out = JS_Call(d->ctx, qb_helpers.negate, JS_UNDEFINED, 1, (JSValueConst *)&big);
  JS_FreeValue(d->ctx, big);
  return out;
}

static JSValue decode_error(decoder *d, uint32_t depth) {
  uint8_t major, info;
  uint64_t n;
  if (!read_head(d, &major, &info, &n) || major != 4 || n < 2 || n > 3)
    return bad(d, "error tag must wrap [name, message, stack?]");
  JSValue parts[3] = {JS_UNDEFINED, JS_UNDEFINED, JS_UNDEFINED};
  for (uint64_t i = 0; i < n; i++) {
    parts[i] = decode_item(d, depth + 1);
    if (JS_IsException(parts[i]) || !JS_IsString(parts[i])) {
      JSValue err = JS_IsException(parts[i]) ? JS_EXCEPTION : bad(d, "error fields must be strings");
      for (int j = 0; j < 3; j++) JS_FreeValue(d->ctx, parts[j]);
      return err;
    }
  }
  JSValue error = JS_NewError(d->ctx);
  JS_DefinePropertyValueStr(d->ctx, error, "name", parts[0], JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
  JS_DefinePropertyValueStr(d->ctx, error, "message", parts[1],
                            JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
  if (n == 3)
    JS_DefinePropertyValueStr(d->ctx, error, "stack", parts[2],
                              JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
  return error;
}

/* A handle the host holds: the pinned value itself. An id that is not live is refused like any
 * other malformed request, so a stale handle never reaches another value. */
static JSValue decode_handle(decoder *d) {
  uint8_t major, info;
  uint64_t id;
  if (!read_head(d, &major, &info, &id) || major != 0 || id > UINT32_MAX)
    return bad(d, "handle tag without an id");
  JSValue v;
  if (!qb_pinned(d->ctx, (uint32_t)id, &v)) {
    JS_ThrowTypeError(d->ctx, "handle %llu is not live (it was released, or belongs to another context)",
                      (unsigned long long)id);
    return JS_EXCEPTION;
  }
  return v;
}

/* RFC 8949 tag 1: seconds since the epoch, as a Date to the millisecond. */
static JSValue decode_date(decoder *d, uint32_t depth) {
  JSValue seconds = decode_item(d, depth);
  if (JS_IsException(seconds)) return seconds;
  double s;
  if (!JS_IsNumber(seconds) || JS_ToFloat64(d->ctx, &s, seconds) < 0) {
    JS_FreeValue(d->ctx, seconds);
    return bad(d, "the date tag (1) must wrap a number of seconds");
  }
  return JS_NewDate(d->ctx, round(s * 1000.0));
}

static JSValue decode_item(decoder *d, uint32_t depth) {
  JSContext *ctx = d->ctx;
  if (depth > d->max_depth) return bad(d, "value nests deeper than the depth limit");
  uint8_t major, info;
  uint64_t arg;
  size_t start = d->pos;
  if (!read_head(d, &major, &info, &arg)) {
    d->pos = start;
    return bad(d, d->pos >= d->len ? "truncated input" : "unsupported item head");
  }
  switch (major) {
    case 0:
      if (arg > (uint64_t)MAX_SAFE_INTEGER) return bad(d, "integer beyond 2^53 (send a BigInt)");
      return JS_NewFloat64(ctx, (double)arg);
    case 1:
      if (arg >= (uint64_t)MAX_SAFE_INTEGER) return bad(d, "integer beyond -2^53 (send a BigInt)");
      return JS_NewFloat64(ctx, -1.0 - (double)arg);
    case 2:
      if (d->len - d->pos < arg) return bad(d, "truncated byte string");
      d->pos += (size_t)arg;
      return JS_NewUint8ArrayCopy(ctx, d->data + d->pos - arg, (size_t)arg);
    case 3:
      return decode_text(d, arg);
    case 4: {
      if (arg > d->len - d->pos) return bad(d, "array longer than the input");
      JSValue arr = JS_NewArray(ctx);
      if (JS_IsException(arr)) return arr;
      for (uint64_t i = 0; i < arg; i++) {
        JSValue item = decode_item(d, depth + 1);
        if (JS_IsException(item) || JS_SetPropertyInt64(ctx, arr, (int64_t)i, item) < 0) {
          JS_FreeValue(ctx, arr);
          return JS_EXCEPTION;
        }
      }
      return arr;
    }
    case 5: {
      if (arg > (d->len - d->pos) / 2) return bad(d, "map longer than the input");
      JSValue obj = JS_NewObject(ctx);
      if (JS_IsException(obj)) return obj;
      for (uint64_t i = 0; i < arg; i++) {
        uint8_t kmajor, kinfo;
        uint64_t klen;
        size_t kpos = d->pos;
        if (!read_head(d, &kmajor, &kinfo, &klen) || kmajor != 3) {
          d->pos = kpos;
          JS_FreeValue(ctx, obj);
          return bad(d, "map keys must be text strings");
        }
        if (d->len - d->pos < klen || !valid_utf8(d->data + d->pos, (size_t)klen)) {
          JS_FreeValue(ctx, obj);
          return bad(d, "map key is truncated or not valid UTF-8");
        }
        JSAtom key = JS_NewAtomLen(ctx, (const char *)d->data + d->pos, (size_t)klen);
        d->pos += (size_t)klen;
        if (key == JS_ATOM_NULL) {
          JS_FreeValue(ctx, obj);
          return JS_EXCEPTION;
        }
        JSValue item = decode_item(d, depth + 1);
        /* define, not set: a key named __proto__ must stay a plain property */
        int r = JS_IsException(item)
                    ? -1
                    : JS_DefinePropertyValue(ctx, obj, key, item, JS_PROP_C_W_E);
        JS_FreeAtom(ctx, key);
        if (r < 0) {
          JS_FreeValue(ctx, obj);
          return JS_EXCEPTION;
        }
      }
      return obj;
    }
    case 6:
      if (arg == 2 || arg == 3) return decode_bignum(d, arg == 3);
      if (arg == QB_CBOR_TAG_ERROR) return decode_error(d, depth);
      if (arg == QB_CBOR_TAG_HANDLE) return decode_handle(d);
      if (arg == 1) return decode_date(d, depth);
      return bad(d, "unsupported tag");
    case 7:
      switch (info) {
        case 20: return JS_FALSE;
        case 21: return JS_TRUE;
        case 22: return JS_NULL;
        case 23: return JS_UNDEFINED;
        case 25: { /* half float */
          uint16_t h = (uint16_t)arg;
          int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
          double val = exp == 0 ? ldexp(mant, -24) : exp != 31 ? ldexp(mant + 1024, exp - 25)
                                                               : mant ? NAN : INFINITY;
          return JS_NewFloat64(ctx, (h & 0x8000) ? -val : val);
        }
        case 26: {
          uint32_t bits = (uint32_t)arg;
          float f;
          memcpy(&f, &bits, sizeof f);
          return JS_NewFloat64(ctx, f);
        }
        case 27: {
          double f;
          memcpy(&f, &arg, sizeof f);
          return JS_NewFloat64(ctx, f);
        }
        default:
          return bad(d, "unsupported simple value");
      }
  }
  return bad(d, "unsupported major type");
}

JSValue qb_cbor_decode(JSContext *ctx, const uint8_t *data, size_t len, qb_value_limits limits) {
  decoder d = {.ctx = ctx, .data = data, .len = len, .pos = 0, .max_depth = limits.max_depth,
               .bigint_bytes = limits.bigint_bytes};
  JSValue v = decode_item(&d, 0);
  if (!JS_IsException(v) && d.pos != len) {
    JS_FreeValue(ctx, v);
    return bad(&d, "trailing bytes after the value");
  }
  return v;
}
