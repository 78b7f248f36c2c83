/* The native twin of the guest: the same quickjs-ng core compiled for the host, behind a tiny C
 * interface so quickjs.h never meets quickbox's headers in one translation unit. */
#ifndef QUICKBOX_BENCH_NATIVE_QUICKJS_H
#define QUICKBOX_BENCH_NATIVE_QUICKJS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One JSRuntime with one JSContext. */
typedef struct native_js native_js;

/* A fresh runtime and context (NULL when out of memory). */
native_js *native_js_create(void);
void native_js_destroy(native_js *js);

/* Evaluates source (source[len] must be NUL) as a global script and drops the result.
 * Returns 0, or -1 when the script threw. */
int native_js_eval(native_js *js, const char *source, size_t len);

/* Evaluates like native_js_eval and returns the result (or, when the script threw and *threw is
 * set to 1, the exception) converted to a string. malloc'd; the caller frees it. NULL when out of
 * memory. */
char *native_js_eval_to_string(native_js *js, const char *source, size_t len, int *threw);

/* globalThis[name] = the string text[0..len). Returns 0, or -1 on failure. */
int native_js_set_global_string(native_js *js, const char *name, const char *text, size_t len);

/* quickjs-ng's version string, e.g. "0.18.0". */
const char *native_js_version(void);

#ifdef __cplusplus
}
#endif

#endif
