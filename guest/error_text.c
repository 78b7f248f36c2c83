/* Bounded error text: an error's name, message and stack, cut to the sizes abi/quickbox_abi.h
 * documents (QB_ERROR_*_MAX_CHARS) with a visible marker, so that a huge error can always be
 * reported and never turns into a malformed reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

void qb_text_free(qb_text *t) {
  free(t->data);
  t->data = NULL;
  t->len = 0;
}

bool qb_text_copy(qb_text *out, const char *s, size_t n) {
  out->data = malloc(n + 1);
  if (!out->data) {
    out->len = 0;
    return false;
  }
  memcpy(out->data, s, n);
  out->data[n] = 0;
  out->len = n;
  return true;
}

/* A slice that ends inside a surrogate pair keeps its high half, which QuickJS writes as
 * ED A0..AF xx: drop it rather than show U+FFFD for half a character. */
static size_t without_trailing_high_surrogate(const char *s, size_t n) {
  const uint8_t *u = (const uint8_t *)s;
  if (n >= 3 && u[n - 3] == 0xed && u[n - 2] >= 0xa0 && u[n - 2] <= 0xaf) return n - 3;
  return n;
}

/* Characters (UTF-16 code units) of QB_TRUNCATION_MARKER for `dropped`: U+2026 is one, the
 * rest is ASCII. */
static uint64_t marker_chars(uint64_t dropped) {
  uint64_t digits = 1;
  for (uint64_t n = dropped; n >= 10; n /= 10) digits++;
  return 30 + digits;
}

/* How many characters of a `length`-character text to keep so that they and the marker for the
 * rest fit in max_chars: cutting an already cut text again changes nothing. */
static uint64_t chars_to_keep(uint64_t length, uint32_t max_chars) {
  uint64_t keep = max_chars > 31 ? max_chars - 31 : 0;
  while (keep > 0 && keep + marker_chars(length - keep) > max_chars) keep--;
  return keep;
}

bool qb_bounded_text(JSContext *ctx, JSValue value, uint32_t max_chars, qb_text *out) {
  out->data = NULL;
  out->len = 0;
  JSValue str = JS_IsString(value) ? value : JS_ToString(ctx, value);
  if (!JS_IsString(value)) JS_FreeValue(ctx, value);
  if (JS_IsException(str)) return false;
  int64_t length = 0;
  if (JS_GetLength(ctx, str, &length) < 0) {
    JS_FreeValue(ctx, str);
    return false;
  }
  uint64_t dropped = 0;
  if ((uint64_t)length > max_chars) {
    /* Cut before converting: the whole text may not fit in memory twice. The slice is the
     * intrinsic captured at bootstrap, so a program cannot change how errors are reported. */
    uint64_t keep = chars_to_keep((uint64_t)length, max_chars);
    JSValue args[2] = {JS_NewInt32(ctx, 0), JS_NewInt64(ctx, (int64_t)keep)};
    JSValue cut = JS_Call(ctx, qb_helpers.string_slice, str, 2, (JSValueConst *)args);
    JS_FreeValue(ctx, str);
    if (JS_IsException(cut)) return false;
    str = cut;
    dropped = (uint64_t)length - keep;
  }
  size_t n;
  const char *s = JS_ToCStringLen(ctx, &n, str);
  JS_FreeValue(ctx, str);
  if (!s) return false;
  if (dropped) {
    size_t kept = without_trailing_high_surrogate(s, n);
    if (kept != n) dropped++;
    n = kept;
  }
  char marker[64];
  int marker_len = dropped ? snprintf(marker, sizeof marker, QB_TRUNCATION_MARKER,
                                      (unsigned long long)dropped)
                           : 0;
  out->data = malloc(n + (size_t)marker_len + 1);
  if (!out->data) {
    JS_FreeCString(ctx, s);
    JS_ThrowOutOfMemory(ctx);
    return false;
  }
  memcpy(out->data, s, n);
  JS_FreeCString(ctx, s);
  qb_replace_lone_surrogates(out->data, n);
  memcpy(out->data + n, marker, (size_t)marker_len);
  out->len = n + (size_t)marker_len;
  out->data[out->len] = 0;
  return true;
}

bool qb_error_field(JSContext *ctx, JSValueConst error, const char *field, uint32_t max_chars,
                    qb_text *out) {
  JSValue v = JS_GetPropertyStr(ctx, error, field);
  if (JS_IsException(v)) return false;
  if (JS_IsUndefined(v)) return qb_text_copy(out, "", 0);
  return qb_bounded_text(ctx, v, max_chars, out);
}

uint32_t qb_error_field_limit(const char *field) {
  if (!strcmp(field, "name")) return QB_ERROR_NAME_MAX_CHARS;
  if (!strcmp(field, "message")) return QB_ERROR_MESSAGE_MAX_CHARS;
  return QB_ERROR_STACK_MAX_CHARS;
}
