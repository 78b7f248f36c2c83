/* The C half of the web-standard globals: UTF-8 encoding and decoding for TextEncoder and
 * TextDecoder, random bytes for crypto.getRandomValues and crypto.randomUUID, and SHA digests for
 * crypto.subtle.digest. guest/web.js builds the globals on top of these; qb_web_natives() hands
 * them over at bootstrap in an object no global refers to. Argument checking (types, ranges, the
 * errors the web specifies) is done in web.js; these trust their callers. */
#include <string.h>
#include <wasi/api.h>

#include "guest.h"
#include "sha.h"

/* Bytes hashed between two checks of the CPU budget: a digest of a large buffer runs in C, where
 * QuickJS's own interrupt checks do not reach. */
#define DIGEST_SLICE (1u << 20)

/* The bytes a Uint8Array views (web.js turns every BufferSource into one). NULL with a pending
 * exception when it is not one or its buffer is detached; an empty view may give NULL without. */
static const uint8_t *uint8_bytes(JSContext *ctx, JSValueConst view, size_t *len) {
  const uint8_t *p = JS_GetUint8Array(ctx, len, view);
  if (!p && !JS_HasException(ctx) && *len == 0) return (const uint8_t *)"";
  return p;
}

/* ---- UTF-8 ---------------------------------------------------------------------------------- */

/* The string as UTF-8, each lone surrogate replaced by U+FFFD (what the web's USVString
 * conversion does). Free with JS_FreeCString. */
static const char *usv_utf8(JSContext *ctx, JSValueConst s, size_t *len) {
  const char *text = JS_ToCStringLen(ctx, len, s);
  if (text) qb_replace_lone_surrogates((char *)text, *len);
  return text;
}

/* encode(string) -> Uint8Array */
static JSValue text_encode(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
  (void)this_val;
  (void)argc;
  size_t len;
  const char *text = usv_utf8(ctx, argv[0], &len);
  if (!text) return JS_EXCEPTION;
  JSValue out = JS_NewUint8ArrayCopy(ctx, (const uint8_t *)text, len);
  JS_FreeCString(ctx, text);
  return out;
}

static size_t utf8_sequence_length(uint8_t lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

/* encodeInto(string, Uint8Array) -> [read (UTF-16 code units), written (bytes)]: as many whole
 * characters as fit. */
static JSValue text_encode_into(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
  (void)this_val;
  (void)argc;
  size_t len, room;
  const char *text = usv_utf8(ctx, argv[0], &len);
  if (!text) return JS_EXCEPTION;
  uint8_t *dest = JS_GetUint8Array(ctx, &room, argv[1]);
  if (!dest && JS_HasException(ctx)) {
    JS_FreeCString(ctx, text);
    return JS_EXCEPTION;
  }
  size_t read = 0, written = 0;
  while (written < len) {
    size_t n = utf8_sequence_length((uint8_t)text[written]);
    if (written + n > room) break;
    memcpy(dest + written, text + written, n);
    written += n;
    read += n == 4 ? 2 : 1; /* a 4-byte character is a surrogate pair in JS */
  }
  JS_FreeCString(ctx, text);
  JSValue out = JS_NewArray(ctx);
  JS_SetPropertyUint32(ctx, out, 0, JS_NewInt64(ctx, (int64_t)read));
  JS_SetPropertyUint32(ctx, out, 1, JS_NewInt64(ctx, (int64_t)written));
  return out;
}

/* The WHATWG UTF-8 decoder over [in, in+n). Valid sequences are copied to out (when out is not
 * NULL; it needs room for 3n bytes), and each maximal invalid subpart becomes U+FFFD. With
 * stream, an incomplete sequence at the end is left for the next chunk. Returns the bytes written;
 * *consumed says how much of the input was used, *invalid whether any of it was malformed. */
static size_t utf8_decode(const uint8_t *in, size_t n, bool stream, uint8_t *out, size_t *consumed,
                          bool *invalid) {
  static const uint8_t replacement[3] = {0xEF, 0xBF, 0xBD};
  size_t i = 0, o = 0;
  *invalid = false;
  while (i < n) {
    uint8_t b = in[i];
    if (b < 0x80) {
      if (out) out[o] = b;
      o++, i++;
      continue;
    }
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F; /* no surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F; /* nothing beyond U+10FFFF */
    } else {
      *invalid = true;
      if (out) memcpy(out + o, replacement, 3);
      o += 3, i++;
      continue;
    }
    size_t j = i + 1, seen = 0;
    for (; seen < need && j < n && in[j] >= lo && in[j] <= hi; seen++, j++) lo = 0x80, hi = 0xBF;
    if (seen == need) {
      if (out) memcpy(out + o, in + i, j - i);
      o += j - i;
      i = j;
      continue;
    }
    if (j == n && stream) break; /* the rest may come with the next chunk */
    *invalid = true;
    if (out) memcpy(out + o, replacement, 3);
    o += 3;
    i = j;
  }
  *consumed = i;
  return o;
}

/* decode(Uint8Array, fatal, stream, stripBom) -> [string, bytes consumed]. Fatal: malformed
 * input throws the TypeError the web specifies. stripBom drops a leading U+FEFF. */
static JSValue text_decode(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
  (void)this_val;
  (void)argc;
  size_t n;
  const uint8_t *in = uint8_bytes(ctx, argv[0], &n);
  if (!in) return JS_EXCEPTION;
  bool fatal = JS_ToBool(ctx, argv[1]), stream = JS_ToBool(ctx, argv[2]), strip_bom = JS_ToBool(ctx, argv[3]);
  size_t consumed;
  bool invalid;
  size_t size = utf8_decode(in, n, stream, NULL, &consumed, &invalid);
  if (invalid && fatal) return JS_ThrowTypeError(ctx, "The encoded data was not valid for encoding utf-8");
  JSValue text;
  size_t skip = strip_bom && consumed >= 3 && !memcmp(in, "\xEF\xBB\xBF", 3) ? 3 : 0;
  if (!invalid) {
    text = JS_NewStringLen(ctx, (const char *)in + skip, consumed - skip);
  } else {
    uint8_t *out = js_malloc(ctx, size ? size : 1);
    if (!out) return JS_EXCEPTION;
    utf8_decode(in, n, stream, out, &consumed, &invalid);
    text = JS_NewStringLen(ctx, (const char *)out + skip, size - skip);
    js_free(ctx, out);
  }
  if (JS_IsException(text)) return text;
  JSValue pair = JS_NewArray(ctx);
  JS_SetPropertyUint32(ctx, pair, 0, text);
  JS_SetPropertyUint32(ctx, pair, 1, JS_NewInt64(ctx, (int64_t)consumed));
  return pair;
}

/* ---- crypto --------------------------------------------------------------------------------- */

/* fillRandom(Uint8Array) -> undefined: from WASI random_get, which the host serves from the
 * sandbox's seeded stream when it has a seed (so runs repeat) and from the kernel otherwise. */
static JSValue fill_random(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
  (void)this_val;
  (void)argc;
  size_t n;
  uint8_t *p = JS_GetUint8Array(ctx, &n, argv[0]);
  if (!p) return JS_HasException(ctx) ? JS_EXCEPTION : JS_UNDEFINED;
  if (n && __wasi_random_get(p, n) != 0) return JS_ThrowInternalError(ctx, "no random bytes are available");
  return JS_UNDEFINED;
}

/* digest(kind, Uint8Array) -> ArrayBuffer; kind is a qb_sha_kind. */
static JSValue digest(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
  (void)this_val;
  (void)argc;
  int32_t kind;
  if (JS_ToInt32(ctx, &kind, argv[0])) return JS_EXCEPTION;
  if (kind < QB_SHA1 || kind > QB_SHA512) return JS_ThrowRangeError(ctx, "unknown digest");
  size_t n;
  const uint8_t *in = uint8_bytes(ctx, argv[1], &n);
  if (!in) return JS_EXCEPTION;
  qb_sha sha;
  qb_sha_init(&sha, (qb_sha_kind)kind);
  for (size_t done = 0; done < n; done += DIGEST_SLICE) {
    if (done && qb_interrupt(ctx)) return JS_EXCEPTION;
    qb_sha_update(&sha, in + done, n - done < DIGEST_SLICE ? n - done : DIGEST_SLICE);
  }
  uint8_t out[64];
  size_t size = qb_sha_final(&sha, out);
  return JS_NewArrayBufferCopy(ctx, out, size);
}

/* ---- structuredClone ------------------------------------------------------------------------ */

/* kind(value) -> what structuredClone must do with an object, from its internal class (which a
 * program cannot fake, unlike Symbol.toStringTag). The numbers are web.js's CloneKind. */
static JSValue clone_kind(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
  (void)this_val;
  (void)argc;
  JSValueConst v = argv[0];
  int kind;
  if (JS_IsProxy(v)) kind = 0;                              /* not cloneable */
  else if (JS_IsFunction(ctx, v)) kind = 0;
  else if (JS_IsArray(v)) kind = 1;
  else if (JS_IsDate(v)) kind = 2;
  else if (JS_IsRegExp(v)) kind = 3;
  else if (JS_IsMap(v)) kind = 4;
  else if (JS_IsSet(v)) kind = 5;
  else if (JS_IsArrayBuffer(v)) kind = 6;
  else if (JS_GetTypedArrayType(v) >= 0) kind = 7;
  else if (JS_IsDataView(v)) kind = 8;
  else if (JS_IsError(v)) kind = 9;
  else if (JS_GetClassID(v) == 1) kind = 10;                /* JS_CLASS_OBJECT: an ordinary object */
  else kind = 11;                                           /* a boxed primitive, or not cloneable */
  return JS_NewInt32(ctx, kind);
}

JSValue qb_web_natives(JSContext *ctx) {
  static const JSCFunctionListEntry natives[] = {
      JS_CFUNC_DEF("encode", 1, text_encode),
      JS_CFUNC_DEF("encodeInto", 2, text_encode_into),
      JS_CFUNC_DEF("decode", 4, text_decode),
      JS_CFUNC_DEF("fillRandom", 1, fill_random),
      JS_CFUNC_DEF("digest", 2, digest),
      JS_CFUNC_DEF("cloneKind", 1, clone_kind),
  };
  return qb_natives_object(ctx, natives, sizeof natives / sizeof natives[0]);
}

JSValue qb_natives_object(JSContext *ctx, const JSCFunctionListEntry *natives, int count) {
  JSValue obj = JS_NewObject(ctx);
  if (JS_IsException(obj)) return obj;
  if (JS_SetPropertyFunctionList(ctx, obj, natives, count) < 0) {
    JS_FreeValue(ctx, obj);
    return JS_EXCEPTION;
  }
  return obj;
}
