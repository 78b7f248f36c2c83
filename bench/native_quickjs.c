/* See native_quickjs.h. Plain quickjs-ng: no interrupt handler, no memory limit, no CBOR, so the
 * quickbox/native ratios show everything the sandbox adds (wasm code, the boundary, the codec). */
#include "native_quickjs.h"

#include <stdlib.h>
#include <string.h>

#include "quickjs.h"

struct native_js {
  JSRuntime *rt;
  JSContext *ctx;
};

native_js *native_js_create(void) {
  native_js *js = malloc(sizeof *js);
  if (!js) return NULL;
  js->rt = JS_NewRuntime();
  js->ctx = js->rt ? JS_NewContext(js->rt) : NULL;
  if (!js->ctx) {
    if (js->rt) JS_FreeRuntime(js->rt);
    free(js);
    return NULL;
  }
  return js;
}

void native_js_destroy(native_js *js) {
  JS_FreeContext(js->ctx);
  JS_FreeRuntime(js->rt);
  free(js);
}

int native_js_eval(native_js *js, const char *source, size_t len) {
  JSValue v = JS_Eval(js->ctx, source, len, "<bench>", JS_EVAL_TYPE_GLOBAL);
  if (JS_IsException(v)) {
    JS_FreeValue(js->ctx, JS_GetException(js->ctx));
    return -1;
  }
  JS_FreeValue(js->ctx, v);
  return 0;
}

char *native_js_eval_to_string(native_js *js, const char *source, size_t len, int *threw) {
  JSValue v = JS_Eval(js->ctx, source, len, "<bench>", JS_EVAL_TYPE_GLOBAL);
  *threw = JS_IsException(v);
  if (*threw) v = JS_GetException(js->ctx);
  size_t text_len;
  const char *text = JS_ToCStringLen(js->ctx, &text_len, v);
  JS_FreeValue(js->ctx, v);
  if (!text) return NULL;
  char *copy = malloc(text_len + 1);
  if (copy) memcpy(copy, text, text_len + 1);
  JS_FreeCString(js->ctx, text);
  return copy;
}

int native_js_set_global_string(native_js *js, const char *name, const char *text, size_t len) {
  JSValue global = JS_GetGlobalObject(js->ctx);
  int r = JS_SetPropertyStr(js->ctx, global, name, JS_NewStringLen(js->ctx, text, len));
  JS_FreeValue(js->ctx, global);
  return r < 0 ? -1 : 0;
}

const char *native_js_version(void) { return JS_GetVersion(); }
