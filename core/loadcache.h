/*
 * loadcache.h - what the judging load of an app version leaves for the
 * other loads of the same version (each worker's), so that they can skip
 * work whose result is the same for them all: compiled views, for now.
 *
 * A cache belongs to a bo_app_info (one app version). It is filled only by
 * the main thread's load that judges the version (bo_gen_load with
 * fill_info), while the info is not yet shared; once the catalog holding it
 * is published it is read-only, so workers read it without locks (the
 * catalog's mutex orders the writes before any read). Values are strings;
 * a later put of the same key is ignored.
 *
 * Lua (platform code only; app code has no use for it):
 *   borough._load_cache_get(key) -> string or nil
 *   borough._load_cache_put(key, value)   -- ignored outside the judging load
 */
#ifndef BO_LOADCACHE_H
#define BO_LOADCACHE_H

#include "bo.h"

#include <lua.h>

typedef struct bo_loadcache bo_loadcache;

/* Returns the value stored under key, or NULL. */
const char *bo_loadcache_get(const bo_loadcache *c, const char *key, size_t *len);
/* Stores a copy of value under key (in a new cache if *c is NULL). */
void bo_loadcache_put(bo_loadcache **c, const char *key, const char *value, size_t len);
void bo_loadcache_free(bo_loadcache *c);

/* Pushes a table of borough._load_cache_get and _load_cache_put. */
int bo_loadcache_open(lua_State *L);

#endif
