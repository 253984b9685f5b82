/*
 * i18n.c - messages for the pages the core writes (see i18n.h).
 */
#include "i18n.h"
#include "log.h"

#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct message {
    char *key;
    char *text;
} message;

typedef struct table {
    const char *lang;
    message *messages;
    size_t n;
} table;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static table tables[] = { { "en", NULL, 0 }, { "cy", NULL, 0 } };
static bool loaded;

/* Runs messages/<lang>.lua and copies its string pairs; run protected. */
static int load_lang(lua_State *L)
{
    table *t = lua_touserdata(L, 1);
    const char *path = lua_tostring(L, 2);
    if (luaL_loadfilex(L, path, "t") != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, 1);
    luaL_checktype(L, -1, LUA_TTABLE);
    size_t cap = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
            if (t->n == cap) {
                cap = cap ? 2 * cap : 64;
                t->messages = bo_realloc(t->messages, sizeof *t->messages * cap);
            }
            t->messages[t->n].key = bo_strdup(lua_tostring(L, -2));
            t->messages[t->n].text = bo_strdup(lua_tostring(L, -1));
            t->n++;
        }
        lua_pop(L, 1);
    }
    return 0;
}

static void load_all(const char *lib_dir)
{
    for (size_t i = 0; i < BO_COUNT(tables); i++) {
        lua_State *L = luaL_newstate();
        if (!L)
            continue;
        char *path = bo_sprintf("%s/borough/messages/%s.lua", lib_dir, tables[i].lang);
        lua_pushcfunction(L, load_lang);
        lua_pushlightuserdata(L, &tables[i]);
        lua_pushstring(L, path);
        if (lua_pcall(L, 2, 0, 0) != LUA_OK)
            bo_log(BO_LOG_ERROR, NULL, "messages: %s", lua_tostring(L, -1));
        lua_close(L);
        free(path);
    }
}

static const char *find(const table *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->messages[i].key, key) == 0)
            return t->messages[i].text;
    return NULL;
}

const char *bo_i18n(const char *lib_dir, const char *lang, const char *key)
{
    pthread_mutex_lock(&lock);
    if (!loaded) {
        load_all(lib_dir);
        loaded = true;
    }
    pthread_mutex_unlock(&lock);
    const char *text = NULL;
    if (lang && strcmp(lang, "cy") == 0)
        text = find(&tables[1], key);
    if (!text)
        text = find(&tables[0], key);
    return text ? text : key;
}
