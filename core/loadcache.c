/*
 * loadcache.c - a small string map per app version (see loadcache.h).
 */
#include "loadcache.h"
#include "app.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

struct bo_loadcache {
    char **keys;
    char **values;
    size_t *lens;
    unsigned n, cap;
};

static int find(const bo_loadcache *c, const char *key)
{
    for (unsigned i = 0; c && i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0)
            return (int)i;
    return -1;
}

const char *bo_loadcache_get(const bo_loadcache *c, const char *key, size_t *len)
{
    int i = find(c, key);
    if (i < 0)
        return NULL;
    *len = c->lens[i];
    return c->values[i];
}

void bo_loadcache_put(bo_loadcache **pc, const char *key, const char *value, size_t len)
{
    if (!*pc)
        *pc = bo_calloc(1, sizeof **pc);
    bo_loadcache *c = *pc;
    if (find(c, key) >= 0)
        return;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->keys = bo_realloc(c->keys, sizeof *c->keys * c->cap);
        c->values = bo_realloc(c->values, sizeof *c->values * c->cap);
        c->lens = bo_realloc(c->lens, sizeof *c->lens * c->cap);
    }
    c->keys[c->n] = bo_strdup(key);
    c->values[c->n] = bo_malloc(len + 1);
    memcpy(c->values[c->n], value, len);
    c->values[c->n][len] = '\0';
    c->lens[c->n] = len;
    c->n++;
}

void bo_loadcache_free(bo_loadcache *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->n; i++) {
        free(c->keys[i]);
        free(c->values[i]);
    }
    free(c->keys);
    free(c->values);
    free(c->lens);
    free(c);
}

static bo_gen *gen_of(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    return sb ? sb->owner : NULL;
}

static int l_get(lua_State *L)
{
    const char *key = luaL_checkstring(L, 1);
    bo_gen *g = gen_of(L);
    size_t len;
    const char *v = g ? bo_loadcache_get(g->info->cache, key, &len) : NULL;
    if (!v)
        return 0;
    lua_pushlstring(L, v, len);
    return 1;
}

static int l_put(lua_State *L)
{
    const char *key = luaL_checkstring(L, 1);
    size_t len;
    const char *value = luaL_checklstring(L, 2, &len);
    bo_gen *g = gen_of(L);
    if (g && g->judging)
        bo_loadcache_put(&g->info->cache, key, value, len);
    return 0;
}

int bo_loadcache_open(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, l_get);
    lua_setfield(L, -2, "_load_cache_get");
    lua_pushcfunction(L, l_put);
    lua_setfield(L, -2, "_load_cache_put");
    return 1;
}
