/* Timers: setTimeout, setInterval, clearTimeout and clearInterval.
 *
 * The timer table lives here, in linear memory (its callbacks in the JS heap), so a snapshot
 * carries it. Due times are read from the guest's monotonic clock (WASI clock_time_get, the clock
 * performance.now() reads), which the host keeps running across snapshots: a restored timer waits
 * for what was left of its delay. Nothing here sleeps. The guest's drive loop runs due timers when
 * no job is left (guest.c), and replies PENDING with the earliest due time in the exchange block;
 * the host then sleeps until then, or jumps its virtual clock there (Fixed and Deterministic
 * clocks), or ends the evaluation in Timeout when that lies beyond its time limit.
 *
 * Timers belong to the evaluation that is running: when it ends, the ones still pending are
 * dropped with it (qb_timers_clear), as unawaited host calls are. */
#include <string.h>
#include <time.h>

#include "guest.h"

typedef struct timer {
  uint32_t id;
  uint64_t due_ns;      /* on the guest's monotonic clock */
  uint64_t order;       /* creation order: timers due at the same time run in this order */
  uint64_t interval_ns; /* 0 for a one-shot timer */
  JSValue callback;
  int argc;
  JSValue *argv; /* extra arguments for the callback (js_malloc'd; NULL when argc is 0) */
} timer;

/* Sorted by (due_ns, order). Allocated on the JS heap, so it counts against the memory limit. */
static timer *timers;
static size_t timer_count, timer_cap;
static uint32_t next_id = 1;
static uint64_t next_order;
static uint32_t max_timers;

void qb_timers_configure(uint32_t limit) { max_timers = limit; }

uint32_t qb_timers_count(void) { return (uint32_t)timer_count; }

uint64_t qb_timers_next_due(void) { return timer_count ? timers[0].due_ns : UINT64_MAX; }

static uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void free_timer(JSContext *ctx, timer *t) {
  JS_FreeValue(ctx, t->callback);
  for (int i = 0; i < t->argc; i++) JS_FreeValue(ctx, t->argv[i]);
  js_free(ctx, t->argv);
}

/* Inserts t at its place in due order; false with an exception pending when out of memory. */
static bool insert(JSContext *ctx, timer t) {
  if (timer_count == timer_cap) {
    size_t cap = timer_cap ? 2 * timer_cap : 8;
    timer *grown = js_realloc(ctx, timers, cap * sizeof *grown);
    if (!grown) return false;
    timers = grown;
    timer_cap = cap;
  }
  size_t lo = 0, hi = timer_count;
  while (lo < hi) { /* first timer due after t */
    size_t mid = lo + (hi - lo) / 2;
    if (timers[mid].due_ns <= t.due_ns) lo = mid + 1;
    else hi = mid;
  }
  memmove(timers + lo + 1, timers + lo, (timer_count - lo) * sizeof *timers);
  timers[lo] = t;
  timer_count++;
  return true;
}

static void remove_at(size_t i) {
  memmove(timers + i, timers + i + 1, (timer_count - i - 1) * sizeof *timers);
  timer_count--;
}

void qb_timers_clear(JSContext *ctx) {
  for (size_t i = 0; i < timer_count; i++) free_timer(ctx, &timers[i]);
  timer_count = 0;
}

/* The delay argument as the web reads it: a WebIDL long (ToInt32), negative meaning 0. */
static int to_delay_ms(JSContext *ctx, JSValueConst value, double *ms) {
  int32_t n = 0;
  if (!JS_IsUndefined(value) && JS_ToInt32(ctx, &n, value)) return -1;
  *ms = n < 0 ? 0 : n;
  return 0;
}

/* setTimeout(callback, delay, ...args) and setInterval (magic 1). */
static JSValue set_timer(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv, int magic) {
  (void)this_val;
  const char *what = magic ? "setInterval" : "setTimeout";
  if (argc < 1 || !JS_IsFunction(ctx, argv[0]))
    return JS_ThrowTypeError(ctx, "%s: the callback must be a function (code strings are not evaluated)",
                             what);
  double ms = 0;
  if (to_delay_ms(ctx, argc > 1 ? argv[1] : JS_UNDEFINED, &ms)) return JS_EXCEPTION;
  if (timer_count >= max_timers)
    return JS_ThrowRangeError(ctx, "%s: too many timers: this sandbox allows %u pending at once; clear "
                              "some with clearTimeout or clearInterval", what, max_timers);
  timer t = {.id = next_id, .order = next_order, .callback = JS_DupValue(ctx, argv[0])};
  /* an interval repeats at least a millisecond apart (as in Node), so that virtual time moves */
  if (magic && ms < 1) ms = 1;
  t.interval_ns = magic ? (uint64_t)(ms * 1e6) : 0;
  t.due_ns = monotonic_ns() + (uint64_t)(ms * 1e6);
  if (argc > 2) {
    t.argv = js_malloc(ctx, (size_t)(argc - 2) * sizeof(JSValue));
    if (!t.argv) {
      JS_FreeValue(ctx, t.callback);
      return JS_EXCEPTION;
    }
    t.argc = argc - 2;
    for (int i = 0; i < t.argc; i++) t.argv[i] = JS_DupValue(ctx, argv[i + 2]);
  }
  if (!insert(ctx, t)) {
    free_timer(ctx, &t);
    return JS_EXCEPTION;
  }
  next_order++;
  /* ids stay positive int32 values, as the web's are; after 2^31 - 1 timers they wrap to 1 */
  next_id = next_id == 0x7fffffff ? 1 : next_id + 1;
  return JS_NewUint32(ctx, t.id);
}

/* clearTimeout(id) and clearInterval(id): one list, as on the web; the id is read as a WebIDL
 * long, and unknown ids are ignored. */
static JSValue clear_timer(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
  (void)this_val;
  int32_t id = 0;
  if (argc < 1 || JS_IsUndefined(argv[0])) return JS_UNDEFINED;
  if (JS_ToInt32(ctx, &id, argv[0])) return JS_EXCEPTION;
  for (size_t i = 0; id > 0 && i < timer_count; i++) {
    if (timers[i].id == (uint32_t)id) {
      timer t = timers[i];
      remove_at(i);
      free_timer(ctx, &t);
      break;
    }
  }
  return JS_UNDEFINED;
}

int qb_timers_run_due(JSContext *ctx) {
  if (!timer_count) return 0;
  uint64_t now = monotonic_ns();
  if (timers[0].due_ns > now) return 0;
  timer t = timers[0];
  remove_at(0);
  /* Own references for the call: an interval goes back into the table first (so that the
   * callback can clear it), and the callback may clear it again. */
  JSValue callback = JS_DupValue(ctx, t.callback);
  JSValue *args = t.argc ? js_malloc(ctx, (size_t)t.argc * sizeof(JSValue)) : NULL;
  if (t.argc && !args) {
    JS_FreeValue(ctx, callback);
    free_timer(ctx, &t);
    return -1;
  }
  for (int i = 0; i < t.argc; i++) args[i] = JS_DupValue(ctx, t.argv[i]);
  if (t.interval_ns) {
    t.due_ns = now + t.interval_ns;
    t.order = next_order++;
    insert(ctx, t); /* cannot fail: it takes the slot remove_at(0) just freed */
  } else {
    free_timer(ctx, &t);
  }
  JSValue global = JS_GetGlobalObject(ctx);
  JSValue r = JS_Call(ctx, callback, global, t.argc, (JSValueConst *)args);
  JS_FreeValue(ctx, global);
  JS_FreeValue(ctx, callback);
  for (int i = 0; i < t.argc; i++) JS_FreeValue(ctx, args[i]);
  js_free(ctx, args);
  if (JS_IsException(r)) return -1;
  JS_FreeValue(ctx, r);
  return 1;
}

bool qb_timers_install(JSContext *ctx, JSValueConst global) {
  static const struct {
    const char *name;
    int length, magic;
  } setters[] = {{"setTimeout", 2, 0}, {"setInterval", 2, 1}};
  for (size_t i = 0; i < sizeof setters / sizeof setters[0]; i++) {
    JSValue fn = JS_NewCFunctionMagic(ctx, set_timer, setters[i].name, setters[i].length,
                                      JS_CFUNC_generic_magic, setters[i].magic);
    if (JS_DefinePropertyValueStr(ctx, global, setters[i].name, fn,
                                  JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE) < 0)
      return false;
  }
  static const char *const clearers[] = {"clearTimeout", "clearInterval"};
  for (size_t i = 0; i < 2; i++) {
    JSValue fn = JS_NewCFunction(ctx, clear_timer, clearers[i], 1);
    if (JS_DefinePropertyValueStr(ctx, global, clearers[i], fn,
                                  JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE) < 0)
      return false;
  }
  return true;
}
