/* The handle table: JS values pinned for the host (abi/quickbox_abi.h, "Handles").
 *
 * Ids grow and are never reused, so the table stays sorted by id and a lookup is a binary search;
 * a released id is refused instead of reaching whichever value took its slot. Released entries
 * are compacted away once they are the majority. The table lives in linear memory and its values
 * in the JS heap, so a snapshot carries it whole. */
#include <stdlib.h>

#include "guest.h"

typedef struct pinned {
  uint32_t id;
  JSValue value; /* JS_UNINITIALIZED once released */
} pinned;

static pinned *table;
static size_t used, capacity, live;
static uint32_t next_id = 1;

static pinned *find(uint32_t id) {
  size_t lo = 0, hi = used;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (table[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  if (lo == used || table[lo].id != id || JS_IsUninitialized(table[lo].value)) return NULL;
  return &table[lo];
}

uint32_t qb_pin(JSContext *ctx, JSValue value) {
  if (next_id == UINT32_MAX) { /* 4 billion pins in one instance: refuse rather than reuse */
    JS_FreeValue(ctx, value);
    return 0;
  }
  if (used == capacity) {
    size_t cap = capacity ? 2 * capacity : 64;
    pinned *grown = realloc(table, cap * sizeof *grown);
    if (!grown) {
      JS_FreeValue(ctx, value);
      return 0;
    }
    table = grown;
    capacity = cap;
  }
  table[used++] = (pinned){next_id, value};
  live++;
  return next_id++;
}

bool qb_pinned(JSContext *ctx, uint32_t id, JSValue *out) {
  if (id == QB_HANDLE_GLOBAL) {
    *out = JS_GetGlobalObject(ctx);
    return true;
  }
  pinned *p = find(id);
  if (!p) return false;
  *out = JS_DupValue(ctx, p->value);
  return true;
}

bool qb_unpin(JSContext *ctx, uint32_t id) {
  pinned *p = find(id);
  if (!p) return false;
  JSValue value = p->value;
  p->value = JS_UNINITIALIZED;
  live--;
  if (used > 64 && live < used / 2) {
    size_t kept = 0;
    for (size_t i = 0; i < used; i++)
      if (!JS_IsUninitialized(table[i].value)) table[kept++] = table[i];
    used = kept;
  }
  JS_FreeValue(ctx, value); /* last: a finalizer it runs must not see a half-updated table */
  return true;
}
