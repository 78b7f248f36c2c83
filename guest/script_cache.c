/* Compiled scripts for sources a sandbox evaluates again.
 *
 * Parsing and compiling is most of what a short eval costs: natively, quickjs-ng takes about
 * 1.2 µs to evaluate `1+2` from source and 0.07 µs to run its compiled code again. A host that
 * evaluates the same snippet in a loop (`step()`, `handle(input)`) pays the compile once here.
 *
 * Running compiled code again is what evaluating its source again does: JS_Eval is compile then
 * JS_EvalFunction, global declarations are checked by the code itself (a second `let x` throws
 * the same SyntaxError), and every literal, closure and regular expression is created anew by
 * each run. The one exception is a tagged template, whose strings array belongs to the compiled
 * site; the language makes each evaluation of the source a new site, so sources holding a
 * backtick are never kept.
 *
 * Admission is on the second sighting: a source is only remembered by its hash the first time, so
 * one-off programs (what agents mostly send) keep nothing alive and cost only the hash. Both
 * tables are small and the kept code counts toward the sandbox's memory limit like any other;
 * being in linear memory, they travel with snapshots and forks. */
#include <string.h>

#include "guest.h"

enum {
  KEPT_SCRIPTS = 16,          /* compiled scripts kept */
  KEPT_KEY_MAX = 2048,        /* longest name + source kept, bytes */
  SIGHTINGS = 64,             /* hashes of sources seen once */
};

typedef struct kept_script {
  uint32_t hash; /* 0: empty */
  int js_flags;
  uint32_t key_len;
  uint32_t last_use;
  char *key; /* name, NUL, source */
  JSValue function; /* the script's top-level function, made from its bytecode once */
} kept_script;

static kept_script kept[KEPT_SCRIPTS];
static uint32_t sightings[SIGHTINGS];
static uint32_t use_clock;

/* FNV-1a over the key, mixed with the flags; never 0, which marks an empty slot. */
static uint32_t hash_of(const char *key, size_t len, int js_flags) {
  uint32_t h = 2166136261u ^ (uint32_t)js_flags;
  for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)key[i]) * 16777619u;
  return h ? h : 1;
}

static kept_script *find(uint32_t hash, const char *key, size_t len, int js_flags) {
  for (int i = 0; i < KEPT_SCRIPTS; i++) {
    kept_script *k = &kept[i];
    if (k->hash == hash && k->key_len == len && k->js_flags == js_flags && memcmp(k->key, key, len) == 0)
      return k;
  }
  return NULL;
}

static void forget(JSContext *ctx, kept_script *k) {
  JS_FreeValue(ctx, k->function);
  js_free(ctx, k->key);
  memset(k, 0, sizeof *k);
}

/* The slot a new script takes: an empty one, else the least recently used (whose script goes). */
static kept_script *slot_for_new(JSContext *ctx) {
  kept_script *oldest = &kept[0];
  for (int i = 0; i < KEPT_SCRIPTS; i++) {
    if (kept[i].hash == 0) return &kept[i];
    if (kept[i].last_use < oldest->last_use) oldest = &kept[i];
  }
  forget(ctx, oldest);
  return oldest;
}

/* Keeps the script's function, made from `compiled`, which it takes; a function, or the exception. */
static JSValue keep(JSContext *ctx, uint32_t hash, const char *key, size_t len, int js_flags, JSValue compiled) {
  JSValue function = JS_NewScriptFunction(ctx, compiled);
  if (JS_IsException(function)) return function;
  kept_script *k = slot_for_new(ctx);
  char *copy = qb_malloc_if_room(ctx, len);
  if (!copy) return function; /* not kept, and nothing lost: the eval goes on with its own reference */
  memcpy(copy, key, len);
  *k = (kept_script){hash, js_flags, (uint32_t)len, ++use_clock, copy, JS_DupValue(ctx, function)};
  return function;
}

/* Runs a script's function as JS_EvalFunction runs its bytecode. The caller's reference keeps it
 * alive while it runs, even if an evaluation nested in a host function drops it from the cache. */
static JSValue run_function(JSContext *ctx, JSValue function) {
  JSValue global = JS_GetGlobalObject(ctx);
  JSValue value = JS_Call(ctx, function, global, 0, NULL);
  JS_FreeValue(ctx, global);
  JS_FreeValue(ctx, function);
  return value;
}

JSValue qb_script_eval(JSContext *ctx, const char *key, size_t key_len, const char *source, size_t source_len,
                       int js_flags) {
  const char *name = key;
  bool keepable = key_len <= KEPT_KEY_MAX && !memchr(source, '`', source_len);
  uint32_t hash = keepable ? hash_of(key, key_len, js_flags) : 0;
  if (keepable) {
    kept_script *k = find(hash, key, key_len, js_flags);
    if (k) {
      k->last_use = ++use_clock;
      return run_function(ctx, JS_DupValue(ctx, k->function));
    }
  }
  JSValue compiled = JS_Eval(ctx, source, source_len, name, js_flags | JS_EVAL_FLAG_COMPILE_ONLY);
  if (JS_IsException(compiled)) return compiled;
  if (keepable) {
    uint32_t *seen = &sightings[hash % SIGHTINGS];
    if (*seen == hash) {
      JSValue function = keep(ctx, hash, key, key_len, js_flags, compiled);
      return JS_IsException(function) ? function : run_function(ctx, function);
    }
    *seen = hash;
  }
  return JS_EvalFunction(ctx, compiled);
}

void qb_script_cache_clear(JSContext *ctx) {
  for (int i = 0; i < KEPT_SCRIPTS; i++)
    if (kept[i].hash) forget(ctx, &kept[i]);
}
