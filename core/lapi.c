/*
 * lapi.c - the platform's C functions for app code: the C half of the
 * borough table (response makers, escape, sleep, token, sha256) and log;
 * and the loop that opens the platform's libraries into a new app state
 * from one table (the table itself is linit.c's, as Lua's own linit.c
 * lists its libraries).
 */
#include "lapi.h"
#include "app.h"
#include "buf.h"
#include "crypto.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "router.h"
#include "safeurl.h"
#include "sandbox.h"
#include "task.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char scratch_key = 0;
static const char response_mt_key = 0;   /* registry[&response_mt_key] = the responses' metatable */

/* A buffer owned by the state (freed by __gc), reused by encoders: nothing
   leaks if a Lua error interrupts its user. */
static bo_buf *scratch(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &scratch_key);
    bo_buf *b = lua_touserdata(L, -1);
    lua_pop(L, 1);
    b->len = 0;
    return b;
}

static int scratch_gc(lua_State *L)
{
    bo_buf_free(lua_touserdata(L, 1));
    return 0;
}

/* The metatable of the responses the platform makes: res.headers is a new
   table the first time an app reads it, so a handler may add headers to
   any response (res.headers["Cache-Control"] = "no-store") while a
   response nobody touches costs no table for them. */
static int response_index(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    if (lua_type(L, 2) != LUA_TSTRING || strcmp(k, "headers") != 0)
        return 0;
    lua_newtable(L);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
}

/* Pushes {status = status, type = type, body = <the value at body>}, with
   the response metatable: a response an app may change before returning
   it (docs/apps.md, "Responses"); type and body are left out when NULL or
   0. */
void bo_lapi_push_response(lua_State *L, lua_Integer status, const char *type, int body)
{
    lua_createtable(L, 0, 4);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &response_mt_key);
    lua_setmetatable(L, -2);
    lua_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    if (type) {
        lua_pushstring(L, type);
        lua_setfield(L, -2, "type");
    }
    if (body) {
        lua_pushvalue(L, body);
        lua_setfield(L, -2, "body");
    }
}

static lua_Integer opt_status(lua_State *L, int arg, lua_Integer dflt, lua_Integer lo, lua_Integer hi)
{
    lua_Integer status = luaL_optinteger(L, arg, dflt);
    luaL_argcheck(L, status >= lo && status <= hi, arg, "not a valid status for this response");
    return status;
}

/* borough.json(value [, status]) */
static int l_json(lua_State *L)
{
    lua_Integer status = opt_status(L, 2, 200, 200, 599);
    bo_buf *b = scratch(L);
    char err[200];
    if (bo_json_encode(L, 1, b, err, sizeof err) < 0)
        return luaL_error(L, "borough.json: %s", err);
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    bo_lapi_push_response(L, status, "application/json", lua_gettop(L));
    return 1;
}

/* borough.text(text [, status]) */
static int l_text(lua_State *L)
{
    luaL_checkstring(L, 1);
    lua_Integer status = opt_status(L, 2, 200, 200, 599);
    bo_lapi_push_response(L, status, "text/plain; charset=utf-8", 1);
    return 1;
}

/* borough.status(code [, body]): the platform's page for code unless a body is given. */
static int l_status(lua_State *L)
{
    lua_Integer status = opt_status(L, 1, 200, 200, 599);
    if (lua_isnoneornil(L, 2)) {
        const char *reason = bo_http_reason((int)status);
        lua_pushfstring(L,
                        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title>"
                        "</head><body><main><h1>%s</h1></main></body></html>\n",
                        reason, reason);
    } else {
        luaL_checkstring(L, 2);
        lua_pushvalue(L, 2);
    }
    bo_lapi_push_response(L, status, "text/html; charset=utf-8", lua_gettop(L));
    return 1;
}

/* The HTML entity for a byte that needs one, or NULL. */
static const char *html_entity(char c, size_t *len)
{
    switch (c) {
    case '&': *len = 5; return "&amp;";
    case '<': *len = 4; return "&lt;";
    case '>': *len = 4; return "&gt;";
    case '"': *len = 6; return "&quot;";
    case '\'': *len = 5; return "&#39;";
    default: return NULL;
    }
}

/* borough.escape(text): HTML-escapes & < > " ' (safe in text and quoted attributes). */
static int l_escape(lua_State *L)
{
    size_t len, elen;
    const char *s = luaL_checklstring(L, 1, &len);
    size_t i = 0;
    while (i < len && !html_entity(s[i], &elen))
        i++;
    if (i == len) {                 /* nothing to escape: the same string */
        lua_settop(L, 1);
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinitsize(L, &b, len + len / 8 + 16);
    size_t start = 0;
    for (; i < len; i++) {
        const char *entity = html_entity(s[i], &elen);
        if (entity) {
            luaL_addlstring(&b, s + start, i - start);
            luaL_addlstring(&b, entity, elen);
            start = i + 1;
        }
    }
    luaL_addlstring(&b, s + start, len - start);
    luaL_pushresult(&b);
    return 1;
}

/* borough._url_allowed(url [, html [, prefix]]) or
   borough._url_allowed(out, i, j): whether a URL attribute may hold the
   value (safeurl.h): a string (html: it is HTML attribute text, else the
   URL itself; prefix: only the start of the value, nil if the rest
   decides), or the pieces out[i..j] a template wrote into one attribute,
   read as one HTML value. */
static int l_url_allowed(lua_State *L)
{
    bo_str pieces[16];
    if (lua_type(L, 1) != LUA_TTABLE) {
        pieces[0].ptr = luaL_checklstring(L, 1, &pieces[0].len);
        if (lua_toboolean(L, 3)) {
            int known = bo_safeurl_prefix(pieces[0].ptr, pieces[0].len, lua_toboolean(L, 2));
            if (known < 0)
                lua_pushnil(L);
            else
                lua_pushboolean(L, known);
            return 1;
        }
        lua_pushboolean(L, bo_safeurl_allowed(pieces, 1, lua_toboolean(L, 2)));
        return 1;
    }
    lua_Integer i = luaL_checkinteger(L, 2), j = luaL_checkinteger(L, 3);
    size_t n = 0;
    if (j - i < (lua_Integer)BO_COUNT(pieces)) {
        /* The strings stay in the table while they are read. */
        for (lua_Integer k = i; k <= j; k++, n++) {
            if (lua_rawgeti(L, 1, k) != LUA_TSTRING)
                return luaL_error(L, "a URL attribute holds a %s", luaL_typename(L, -1));
            pieces[n].ptr = lua_tolstring(L, -1, &pieces[n].len);
            lua_pop(L, 1);
        }
    } else {                         /* many pieces (a loop): joined first */
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (lua_Integer k = i; k <= j; k++) {
            if (lua_rawgeti(L, 1, k) != LUA_TSTRING)
                return luaL_error(L, "a URL attribute holds a %s", luaL_typename(L, -1));
            luaL_addvalue(&b);
        }
        luaL_pushresult(&b);
        pieces[0].ptr = lua_tolstring(L, -1, &pieces[0].len);
        n = 1;
    }
    lua_pushboolean(L, bo_safeurl_allowed(pieces, n, true));
    return 1;
}

/* Where a request that slept carries on: one that was ended while it slept
   (its time ran out, the server is stopping) fails here, so that the error
   names the line that called borough.sleep. */
static int sleep_done(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    BO_UNUSED(ctx);
    bo_sandbox *sb = bo_sandbox_of(L);
    if (sb && sb->budget->spent)
        return luaL_error(L, "%s", sb->budget->spent);
    return 0;
}

/* borough.sleep(seconds): the request (or job) waits; the worker goes on serving. */
static int l_sleep(lua_State *L)
{
    lua_Number secs = luaL_checknumber(L, 1);
    luaL_argcheck(L, secs >= 0 && isfinite(secs), 1, "seconds must be a positive number");
    bo_task *t = bo_task_of(L);
    if (!t)
        return luaL_error(L, "borough.sleep can only wait while a request or a job runs");
    if (!bo_ldb_can_wait(L))
        return luaL_error(L, "borough.sleep cannot wait here (inside db.tx, a metamethod or an iterator)");
    if (secs > 1e9)                    /* past any time limit; keeps the cast defined */
        secs = 1e9;
    bo_task_wait(t, BO_WAIT_SLEEP, (uint64_t)ceil(secs * 1000.0));
    bo_sandbox_push_sentinel(L);
    return lua_yieldk(L, 1, 0, sleep_done);
}

/* borough._where(level): "file:line:" of a caller, for platform messages
   (luaL_where's text without its trailing space), or "" if not known. */
static int l_where(lua_State *L)
{
    luaL_where(L, (int)luaL_checkinteger(L, 1));
    size_t len;
    const char *where = lua_tolstring(L, -1, &len);
    if (len > 0 && where[len - 1] == ' ')
        lua_pushlstring(L, where, len - 1);
    return 1;
}

/* borough._app_where(): "file:line:" of the innermost caller that is the
   app's own code (a file under its folder), or "" if none is: a mistake a
   building block finds names the app's line, however deep in the platform
   it is found. */
static int l_app_where(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    size_t dlen = sb && sb->app_dir ? strlen(sb->app_dir) : 0;
    lua_Debug ar;
    for (int level = 1; dlen && lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0)
            continue;
        if (ar.source[0] == '@' && strncmp(ar.source + 1, sb->app_dir, dlen) == 0 && ar.source[dlen + 1] == '/') {
            lua_pushfstring(L, "%s:%d:", ar.short_src, ar.currentline);
            return 1;
        }
    }
    lua_pushliteral(L, "");
    return 1;
}

/* borough._check_route(pattern): true, or nil and why the pattern is bad. */
static int l_check_route(lua_State *L)
{
    const char *pattern = luaL_checkstring(L, 1);
    bo_routes rs;
    char err[256];
    bo_routes_init(&rs);
    int rc = bo_routes_add(&rs, 1, pattern, 0, err, sizeof err);
    bo_routes_free(&rs);
    if (rc < 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* borough.token([bytes]): a token no one can guess, from the system's
   random source: `bytes` random bytes (32 unless given, 16 to 64) as
   base64url without padding (43 characters for 32 bytes). For the secret
   of an emailed link, a key an app hands out; keep its borough.sha256. */
static int l_token(lua_State *L)
{
    lua_Integer n = luaL_optinteger(L, 1, 32);
    luaL_argcheck(L, n >= 16 && n <= 64, 1, "a token is 16 to 64 bytes");
    uint8_t raw[64];
    if (bo_random(raw, (size_t)n) < 0)
        return luaL_error(L, "borough.token: the system's random source failed");
    char out[(64 * 4 + 2) / 3 + 1];
    size_t len = bo_base64url_encode(raw, (size_t)n, out);
    lua_pushlstring(L, out, len);
    return 1;
}

/* borough.sha256(text): the SHA-256 of text as 64 lower-case hex digits:
   what to keep of a token, so a copy of the database holds none that work. */
static int l_sha256(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    uint8_t digest[32];
    char hex[65];
    bo_sha256(s, len, digest);
    bo_hex(digest, sizeof digest, hex);
    lua_pushlstring(L, hex, 64);
    return 1;
}

static const luaL_Reg borough_fns[] = {
    { "json", l_json },
    { "text", l_text },
    { "status", l_status },
    { "escape", l_escape },
    { "sleep", l_sleep },
    { "token", l_token },
    { "sha256", l_sha256 },
    { "_where", l_where },
    { "_app_where", l_app_where },
    { "_check_route", l_check_route },
    { "_url_allowed", l_url_allowed },
    { NULL, NULL },
};

/* log.info(...), log.warn(...), log.error(...): the values, separated by spaces. */
static int log_at(lua_State *L, int level)
{
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, ' ');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    lua_getfield(L, LUA_REGISTRYINDEX, "bo.app_name");
    bo_log(level, lua_tostring(L, -1), "%s", lua_tostring(L, -2));
    return 0;
}

static int l_log_info(lua_State *L) { return log_at(L, BO_LOG_INFO); }
static int l_log_warn(lua_State *L) { return log_at(L, BO_LOG_WARN); }
static int l_log_error(lua_State *L) { return log_at(L, BO_LOG_ERROR); }

static const luaL_Reg log_fns[] = {
    { "info", l_log_info },
    { "warn", l_log_warn },
    { "error", l_log_error },
    { NULL, NULL },
};

int bo_lapi_open(lua_State *L)
{
    bo_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
    bo_buf_init(b);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, scratch_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &scratch_key);
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, response_index);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "borough.response");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &response_mt_key);

    luaL_newlib(L, borough_fns);
    return 1;
}

int bo_lapi_log_open(lua_State *L)
{
    luaL_newlib(L, log_fns);
    return 1;
}

/* Each library's value goes to its name: a global, or "g.x" for field x
   of the global g; a table given where a table already is
   adds its fields to it (several modules put functions into borough). */
void bo_lapi_open_libs(lua_State *L, const luaL_Reg *libs)
{
    for (const luaL_Reg *lib = libs; lib->name; lib++) {
        const char *name = lib->name, *dot = strchr(name, '.');
        if (dot) {
            char parent[32];
            snprintf(parent, sizeof parent, "%.*s", (int)(dot - name), name);
            lua_getglobal(L, parent);
            name = dot + 1;
        } else {
            lua_pushglobaltable(L);
        }
        int into = lua_gettop(L);
        luaL_checktype(L, into, LUA_TTABLE);
        lib->func(L);
        lua_pushstring(L, name);
        if (lua_rawget(L, into) == LUA_TTABLE && lua_istable(L, -2)) {
            lua_pushnil(L);            /* merge: the new table's fields into the old */
            while (lua_next(L, -3)) {
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_rawset(L, -4);
            }
            lua_pop(L, 2);
        } else {
            lua_pop(L, 1);
            lua_pushstring(L, name);
            lua_insert(L, -2);
            lua_rawset(L, into);
        }
        lua_pop(L, 1);
    }
}
