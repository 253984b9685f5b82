/*
 * lhttp.c - the `http` global: http.request{...} for app code, an outbound
 * HTTP/1.1 exchange (httpc.c) on the worker's loop while the coroutine of
 * the request (or job) that asked waits and the worker serves others.
 *
 *   local res, err = http.request { method = "POST", url = "https://...",
 *                                    headers = {...}, body = "...", timeout = 10 }
 *
 * The data flow: l_request checks the arguments, starts the exchange with a
 * pending call (a userdata, so a Lua error can never leak it: its __gc
 * cancels the exchange), records the wait with bo_task_wait_io (the wall
 * clock or a server stop cancels the exchange before the coroutine resumes
 * to fail) and yields. on_done copies the result into the call and wakes the
 * request; the continuation (request_done) turns it into Lua values inside
 * the coroutine, where a memory error is an ordinary Lua error.
 *
 * Expected failures (the host is not in the manifest's allow_hosts, DNS,
 * connection, TLS verification, time-out, size and redirect limits) return
 * nil and a message; mistakes in the arguments raise.
 */
#include "lhttp.h"
#include "app.h"
#include "httpc.h"
#include "lapi.h"
#include "task.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_S 30
#define DEFAULT_MAX_SIZE (5 * 1024 * 1024)
#define MAX_SIZE (64 * 1024 * 1024)
#define DEFAULT_REDIRECTS 5
#define MAX_REDIRECTS 20

static const char call_mt_key = 0;

/* One exchange, from start to the continuation that reads its result. */
typedef struct lhttp_call {
    bo_httpc *h;            /* in flight, or NULL */
    bo_task *r;             /* the request or job waiting for it */
    bool starting;          /* inside bo_httpc_start: a completion must not wake r */
    bool done;              /* the result fields are set */
    int error;
    char message[320];
    int status;
    bo_buf headers;         /* "name\0value\0" pairs, names lower case */
    size_t nheaders;
    bo_buf body;
    char *url;
} lhttp_call;

static int call_gc(lua_State *L)
{
    lhttp_call *c = lua_touserdata(L, 1);
    if (c->h)
        bo_httpc_cancel(c->h);
    c->h = NULL;
    bo_buf_free(&c->headers);
    bo_buf_free(&c->body);
    free(c->url);
    c->url = NULL;
    return 0;
}

static void on_done(bo_httpc *h, const bo_httpc_result *res, void *ud)
{
    BO_UNUSED(h);
    lhttp_call *c = ud;
    c->h = NULL;
    c->done = true;
    c->error = res->error;
    if (res->error)
        snprintf(c->message, sizeof c->message, "%s", res->message ? res->message : bo_strerror(res->error));
    c->status = res->status;
    bo_buf_append(&c->headers, res->headers.data, res->headers.len);
    c->nheaders = res->nheaders;
    bo_buf_append(&c->body, res->body.data, res->body.len);
    c->url = res->url ? bo_strdup(res->url) : NULL;
    if (!c->starting)
        bo_task_wake(c->r);
}

/* bo_task_wait_io's cancel: the request ends before the response came. */
static void cancel(void *ctx)
{
    lhttp_call *c = ctx;
    if (c->h)
        bo_httpc_cancel(c->h);
    c->h = NULL;
}

static bool allow(void *ud, const char *host, int port)
{
    return bo_app_allows_host(ud, host, port);
}

static bool allow_address(void *ud, int port, const struct sockaddr *addr)
{
    return bo_app_allows_address(ud, port, addr);
}

/* Pushes the result of a finished call: the response table, or nil and why. */
static int push_result(lua_State *L, lhttp_call *c)
{
    if (c->error) {
        luaL_pushfail(L);
        lua_pushstring(L, c->message);
        return 2;
    }
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, c->status);
    lua_setfield(L, -2, "status");
    lua_createtable(L, 0, (int)c->nheaders);
    const char *p = c->headers.data;
    for (size_t i = 0; i < c->nheaders; i++) {
        const char *value = p + strlen(p) + 1;
        if (lua_getfield(L, -1, p) == LUA_TSTRING) {    /* a repeated field: joined */
            lua_pushliteral(L, ", ");
            lua_pushstring(L, value);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushstring(L, value);
        }
        lua_setfield(L, -2, p);
        p = value + strlen(value) + 1;
    }
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, c->body.data ? c->body.data : "", c->body.len);
    lua_setfield(L, -2, "body");
    if (c->url) {
        lua_pushstring(L, c->url);
        lua_setfield(L, -2, "url");
    }
    return 1;
}

/* Where a waiting http.request carries on, inside the coroutine. */
static int request_done(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    bo_sandbox *sb = bo_sandbox_of(L);
    if (sb && sb->budget->spent)
        return luaL_error(L, "%s", sb->budget->spent);
    lhttp_call *c = lua_touserdata(L, (int)ctx);
    if (!c->done)
        return luaL_error(L, "http.request: the exchange was abandoned");
    return push_result(L, c);
}

static const char *const fields[] = { "method", "url", "headers", "body", "timeout", "max_size", "redirects", NULL };
static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", NULL };
/* Framing is the client's own. */
static const char *const reserved[] = { "host", "content-length", "transfer-encoding", "connection", NULL };

static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 127 || strchr("\"(),/:;<=>?@[\\]{}", c))
            return false;
    }
    return true;
}

static bool in_list(const char *const *list, const char *s, bool nocase)
{
    for (; *list; list++)
        if (nocase ? strcasecmp(*list, s) == 0 : strcmp(*list, s) == 0)
            return true;
    return false;
}

/* A number field of the options at index 1, or dflt when absent. */
static lua_Number opt_number(lua_State *L, const char *name, lua_Number dflt)
{
    int t = lua_getfield(L, 1, name);
    lua_Number v = dflt;
    if (t != LUA_TNIL) {
        if (t != LUA_TNUMBER)
            luaL_error(L, "http.request: %s must be a number, not a %s", name, luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* http.request{method, url, headers, body, timeout, max_size, redirects} */
static int l_request(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    for (lua_pushnil(L); lua_next(L, 1); lua_pop(L, 1))
        if (lua_type(L, -2) != LUA_TSTRING || !in_list(fields, lua_tostring(L, -2), false))
            return luaL_error(L, "http.request: unknown option '%s' (the options are method, url, headers, "
                                 "body, timeout, max_size and redirects)", luaL_tolstring(L, -2, NULL));
    bo_task *r = bo_task_of(L);
    if (!r)
        return luaL_error(L, "http.request can only be used while a request or a job runs");
    if (!bo_ldb_can_wait(L))
        return luaL_error(L, "http.request cannot wait here (inside db.tx, a metamethod or an iterator)");

    if (lua_getfield(L, 1, "url") != LUA_TSTRING)                       /* 2 */
        return luaL_error(L, "http.request: url must be a string such as \"https://api.example.gov.uk/\"");
    const char *method = "GET";
    int mt = lua_getfield(L, 1, "method");                              /* 3 */
    if (mt != LUA_TNIL) {
        method = mt == LUA_TSTRING ? lua_tostring(L, -1) : "";
        if (!in_list(methods, method, false))
            return luaL_error(L, "http.request: method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    }
    size_t body_len = 0;
    const char *body = NULL;
    int bt = lua_getfield(L, 1, "body");                                /* 4 */
    if (bt != LUA_TNIL) {
        if (bt != LUA_TSTRING)
            return luaL_error(L, "http.request: body must be a string, not a %s", luaL_typename(L, -1));
        body = lua_tolstring(L, -1, &body_len);
    }
    lua_Number timeout = opt_number(L, "timeout", DEFAULT_TIMEOUT_S);
    lua_Number max_size = opt_number(L, "max_size", DEFAULT_MAX_SIZE);
    lua_Number redirects = opt_number(L, "redirects", DEFAULT_REDIRECTS);
    if (!(timeout > 0 && timeout <= 3600))
        return luaL_error(L, "http.request: timeout must be a number of seconds, more than 0 and at most 3600");
    if (!(max_size >= 1 && max_size <= MAX_SIZE))
        return luaL_error(L, "http.request: max_size must be between 1 and %d bytes", MAX_SIZE);
    if (!(redirects >= 0 && redirects <= MAX_REDIRECTS) || redirects != floor(redirects))
        return luaL_error(L, "http.request: redirects must be a whole number from 0 to %d", MAX_REDIRECTS);

    /* Headers: their names and values stay referenced by the options table
       while bo_httpc_start copies them; the array is a userdata. */
    size_t nheaders = 0;
    int ht = lua_getfield(L, 1, "headers");                             /* 5 */
    if (ht != LUA_TNIL && ht != LUA_TTABLE)
        return luaL_error(L, "http.request: headers must be a table of names and values");
    if (ht == LUA_TTABLE)
        for (lua_pushnil(L); lua_next(L, 5); lua_pop(L, 1))
            nheaders++;
    bo_httpc_header *headers = lua_newuserdatauv(L, sizeof *headers * (nheaders ? nheaders : 1), 0);  /* 6 */
    size_t n = 0;
    if (ht == LUA_TTABLE) {
        for (lua_pushnil(L); lua_next(L, 5); lua_pop(L, 1)) {
            size_t klen, vlen;
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "http.request: header names and values must be strings");
            const char *k = lua_tolstring(L, -2, &klen), *v = lua_tolstring(L, -1, &vlen);
            if (!is_token(k, klen))
                return luaL_error(L, "http.request: '%s' is not a header name", k);
            if (in_list(reserved, k, true))
                return luaL_error(L, "http.request: the %s header is set by the client itself", k);
            for (size_t i = 0; i < vlen; i++)
                if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
                    return luaL_error(L, "http.request: the value of header %s may not contain CR, LF or NUL", k);
            headers[n].name = k;
            headers[n].value = v;
            n++;
        }
    }

    lhttp_call *c = lua_newuserdatauv(L, sizeof *c, 0);                 /* 7 */
    memset(c, 0, sizeof *c);
    bo_buf_init(&c->headers);
    bo_buf_init(&c->body);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &call_mt_key);
    lua_setmetatable(L, -2);
    int call = lua_gettop(L);

    char err[320];
    const char *url = lua_tostring(L, 2);
    bo_tls_config *tls = NULL;
    if (strncasecmp(url, "https:", 6) == 0 && !(tls = bo_httpc_tls_default(err, sizeof err))) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    bo_httpc_options o = {
        .method = method,
        .url = url,
        .headers = headers,
        .nheaders = n,
        .body = body,
        .body_len = body_len,
        .timeout_ms = (uint64_t)(timeout * 1000.0 + 0.5),
        .max_response = (size_t)max_size,
        .max_redirects = (int)redirects,
        .tls = tls,
        .allow = allow,
        .allow_address = allow_address,
        .allow_ud = r->gen->info,
    };
    c->r = r;
    c->starting = true;
    int rc = bo_httpc_start(&c->h, r->loop, &o, on_done, c, err, sizeof err);
    c->starting = false;
    if (rc < 0) {
        c->h = NULL;
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    if (c->done)                      /* failed at once (on_done ran inside start) */
        return push_result(L, c);
    bo_task_wait_io(r, cancel, c);
    bo_sandbox_push_sentinel(L);
    return lua_yieldk(L, 1, call, request_done);
}

static const luaL_Reg http_fns[] = {
    { "request", l_request },
    { NULL, NULL },
};

int bo_lhttp_open(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, call_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "borough.http_call");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &call_mt_key);
    luaL_newlib(L, http_fns);
    return 1;
}
