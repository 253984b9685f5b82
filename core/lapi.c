/*
 * lapi.c - the platform's C functions for app code: the C half of the
 * borough table (response makers, escape, url, sleep, token, sha256) and
 * log. bo_lapi_open installs them with json and db as globals of a new app
 * state.
 */
#include "lapi.h"
#include "ldraft.h"
#include "jobs.h"
#include "lentity.h"
#include "lhttp.h"
#include "lnotify.h"
#include "app.h"
#include "buf.h"
#include "crypto.h"
#include "http.h"
#include "json.h"
#include "loadcache.h"
#include "log.h"
#include "lreq.h"
#include "lview.h"
#include "request.h"
#include "router.h"
#include "safeurl.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <math.h>
#include <string.h>

static const char scratch_key = 0;
static const char mount_key = 0;     /* registry[&mount_key] = the prefix borough.app declared */
static const char response_mt_key = 0;   /* registry[&response_mt_key] = the responses' metatable */
static const char settled_key = 0;   /* registry[&settled_key] = true: no app path can start with the
                                        mount, so a path that does is already a URL (borough._url_settled) */

struct bo_request *bo_lapi_current(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    return sb ? sb->current : NULL;
}

struct bo_request *bo_lapi_task(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    return sb ? sb->task : NULL;
}

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
static void push_response(lua_State *L, lua_Integer status, const char *type, int body)
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
    push_response(L, status, "application/json", lua_gettop(L));
    return 1;
}

/* borough.text(text [, status]) */
static int l_text(lua_State *L)
{
    luaL_checkstring(L, 1);
    lua_Integer status = opt_status(L, 2, 200, 200, 599);
    push_response(L, status, "text/plain; charset=utf-8", 1);
    return 1;
}

/* borough.redirect(url [, status]): 302 after GET, 303 after a form post. */
static int l_redirect(lua_State *L)
{
    size_t len;
    const char *url = luaL_checklstring(L, 1, &len);
    for (size_t i = 0; i < len; i++)
        if (url[i] == '\r' || url[i] == '\n' || url[i] == '\0')
            return luaL_argerror(L, 1, "a redirect URL may not contain CR, LF or NUL");
    bo_request *r = bo_lapi_current(L);
    int method = r ? r->http->method : HTTP_GET;
    lua_Integer dflt = (method == HTTP_GET || method == HTTP_HEAD) ? 302 : 303;
    lua_Integer status = luaL_optinteger(L, 2, dflt);
    luaL_argcheck(L, status == 301 || status == 302 || status == 303 || status == 307 || status == 308,
                  2, "a redirect status is 301, 302, 303, 307 or 308");
    push_response(L, status, NULL, 0);
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "Location");
    lua_setfield(L, -2, "headers");
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
    push_response(L, status, "text/html; charset=utf-8", lua_gettop(L));
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

/* borough.url(path [, { absolute = true }]): path inside the app, as a URL
   path from the site root. In a request the prefix is the one the request
   came in by; at load time it is the one borough.app{...} declared (the
   server reads the manifest only once app.lua has returned), else the app's
   configured mount. Once the app has loaded, if none of its routes can
   start with its mount, a path that already does is returned as it is:
   borough.url never doubles the mount. With absolute = true the
   URL is whole, for links sent out in emails and text messages: the site's
   public URL (never the request's Host header) or, for an app on a host of
   its own, that host; it is known while a request or a job runs. */
static int l_url(lua_State *L)
{
    size_t plen;
    const char *path = luaL_checklstring(L, 1, &plen);
    luaL_argcheck(L, path[0] == '/', 1, "an app path starts with '/'");
    bool absolute = false;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            if (lua_type(L, -2) != LUA_TSTRING || strcmp(lua_tostring(L, -2), "absolute") != 0)
                return luaL_error(L, "borough.url: unknown option '%s' (the option is absolute)",
                                  luaL_tolstring(L, -2, NULL));
            lua_pop(L, 1);
        }
        lua_getfield(L, 2, "absolute");
        absolute = lua_toboolean(L, -1);
    }
    lua_settop(L, 1);
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_gen *g = sb ? sb->owner : NULL;
    bo_request *r = bo_lapi_current(L);
    if (r) {
        lua_pushlstring(L, bo_http_str(r->http, r->http->path), r->rest);
    } else if (lua_rawgetp(L, LUA_REGISTRYINDEX, &mount_key) != LUA_TSTRING) {
        lua_pop(L, 1);
        lua_pushstring(L, g && g->info->mount ? g->info->mount : "");
    }
    size_t mlen;
    const char *mount = lua_tolstring(L, 2, &mlen);
    /* (strchr finds the terminator too: the path may be the mount itself.) */
    bool settled = lua_rawgetp(L, LUA_REGISTRYINDEX, &settled_key) == LUA_TBOOLEAN && lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (settled && mlen > 0 && plen >= mlen && memcmp(path, mount, mlen) == 0 && strchr("/?#", path[mlen]))
        lua_settop(L, 1);                 /* already from the site root */
    else
        lua_rotate(L, 1, 1);              /* the prefix, then the path */
    if (absolute) {
        const char *base = g ? g->paths->public_url : NULL;
        if (!base || !bo_lapi_task(L))
            return luaL_error(L, "borough.url: an absolute URL is made while a request or a job runs "
                                 "(the site's public URL is the server's: --public-url)");
        if (g->info->host) {              /* an app on a host of its own */
            lua_pushfstring(L, "%s://%s", strncmp(base, "https:", 6) == 0 ? "https" : "http", g->info->host);
        } else {
            lua_pushstring(L, base);
        }
        lua_insert(L, 1);
    }
    lua_concat(L, lua_gettop(L));
    return 1;
}

/* borough._declare_mount(prefix): remembers the URL prefix borough.app{...}
   declared ("" for the root or a host-only app) for borough.url at load time. */
static int l_declare_mount(lua_State *L)
{
    luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &mount_key);
    return 0;
}

/* borough._url_settled(): called once the app has loaded and none of its
   routes can start with its mount: borough.url then returns a path that
   already starts with the mount as it is. */
static int l_url_settled(lua_State *L)
{
    lua_pushboolean(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &settled_key);
    return 0;
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
    bo_request *r = bo_lapi_task(L);
    if (!r)
        return luaL_error(L, "borough.sleep can only wait while a request or a job runs");
    if (!lua_isyieldable(L))
        return luaL_error(L, "borough.sleep cannot wait here (inside db.tx, a metamethod or an iterator)");
    if (secs > 1e9)                    /* past any time limit; keeps the cast defined */
        secs = 1e9;
    bo_request_wait(r, BO_WAIT_SLEEP, (uint64_t)ceil(secs * 1000.0));
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
    { "redirect", l_redirect },
    { "status", l_status },
    { "escape", l_escape },
    { "url", l_url },
    { "sleep", l_sleep },
    { "token", l_token },
    { "sha256", l_sha256 },
    { "_where", l_where },
    { "_app_where", l_app_where },
    { "_check_route", l_check_route },
    { "_url_allowed", l_url_allowed },
    { "_declare_mount", l_declare_mount },
    { "_url_settled", l_url_settled },
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
    bo_jobs_open(L);
    bo_lnotify_open(L);
    bo_ldraft_open(L);
    bo_lview_open(L);
    bo_loadcache_open(L);
    lua_setglobal(L, "borough");
    luaL_newlib(L, log_fns);
    lua_setglobal(L, "log");
    bo_json_open(L);
    lua_setglobal(L, "json");
    bo_ldb_open(L);
    lua_setglobal(L, "db");
    bo_lhttp_open(L);
    lua_setglobal(L, "http");
    bo_lentity_open(L);
    bo_lreq_open(L);
    return 0;
}
