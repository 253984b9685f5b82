/*
 * lreq.c - the req table and the handler's response (see lreq.h).
 */
#include "lreq.h"
#include "app.h"
#include "conn.h"
#include "json.h"
#include "log.h"
#include "request.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_FIELDS 1000          /* query or form pairs decoded per request */

static const char handle_key = 0;    /* req[&handle_key] = the handle */
static const char req_mt_key = 0;
static const char pump_key = 0;

static void platform_headers(bo_request *r);

typedef struct lreq_handle {
    bo_request *r;
} lreq_handle;

/* ---- decoding ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Pushes the form-decoded text ('+' is a space; a malformed escape stays as
   it is). */
static void push_form_decoded(lua_State *L, const char *s, size_t n)
{
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, n);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int hi, lo;
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
                   (lo = hexval(s[i + 2])) >= 0) {
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        out[o++] = c;
    }
    luaL_pushresultsize(&b, o);
}

/* Pushes a table of name -> value (first wins) or, if all, name -> {values}. */
static void push_fields(lua_State *L, const char *s, size_t n, bool all)
{
    lua_createtable(L, 0, 4);
    int t = lua_gettop(L);
    size_t i = 0;
    int count = 0;
    while (i < n && count < MAX_FIELDS) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - s) : n;
        if (end > i) {
            const char *eq = memchr(s + i, '=', end - i);
            size_t name_end = eq ? (size_t)(eq - s) : end;
            push_form_decoded(L, s + i, name_end - i);
            if (eq)
                push_form_decoded(L, eq + 1, end - name_end - 1);
            else
                lua_pushliteral(L, "");
            if (all) {
                lua_pushvalue(L, -2);
                if (lua_rawget(L, t) != LUA_TTABLE) {
                    lua_pop(L, 1);
                    lua_newtable(L);
                    lua_pushvalue(L, -3);
                    lua_pushvalue(L, -2);
                    lua_rawset(L, t);
                }
                lua_insert(L, -2);
                lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
                lua_pop(L, 2);
            } else {
                lua_pushvalue(L, -2);
                if (lua_rawget(L, t) == LUA_TNIL) {
                    lua_pop(L, 1);
                    lua_rawset(L, t);
                } else {
                    lua_pop(L, 3);
                }
            }
            count++;
        }
        i = end + 1;
    }
}

static bool is_form_body(const bo_http_request *h)
{
    size_t len;
    const char *ct = bo_http_header_get(h, "content-type", &len);
    const char *want = "application/x-www-form-urlencoded";
    size_t wl = strlen(want);
    return ct && len >= wl && strncasecmp(ct, want, wl) == 0 &&
           (len == wl || ct[wl] == ';' || ct[wl] == ' ');
}

static void push_headers(lua_State *L, const bo_http_request *h)
{
    lua_createtable(L, 0, (int)h->nheaders);
    int t = lua_gettop(L);
    for (unsigned i = 0; i < h->nheaders; i++) {
        const bo_http_header *hd = &h->headers[i];
        char name[256];
        size_t n = hd->name_len < sizeof name ? hd->name_len : sizeof name - 1;
        const char *src = bo_http_str(h, hd->name);
        for (size_t j = 0; j < n; j++)
            name[j] = (src[j] >= 'A' && src[j] <= 'Z') ? (char)(src[j] - 'A' + 'a') : src[j];
        lua_pushlstring(L, name, n);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, t) == LUA_TSTRING) {
            /* Repeated fields join with ", " (cookies with "; "). */
            bool cookie = n == 6 && memcmp(name, "cookie", 6) == 0;
            lua_pushstring(L, cookie ? "; " : ", ");
            lua_pushlstring(L, bo_http_str(h, hd->value), hd->value_len);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushlstring(L, bo_http_str(h, hd->value), hd->value_len);
        }
        lua_rawset(L, t);
    }
}

static void push_cookies(lua_State *L, const bo_http_request *h)
{
    lua_newtable(L);
    int t = lua_gettop(L);
    for (unsigned i = 0; i < h->nheaders; i++) {
        const bo_http_header *hd = &h->headers[i];
        if (!bo_str_ieq((bo_str){ bo_http_str(h, hd->name), hd->name_len }, "cookie"))
            continue;
        const char *s = bo_http_str(h, hd->value);
        size_t n = hd->value_len, p = 0;
        while (p < n) {
            while (p < n && (s[p] == ' ' || s[p] == ';'))
                p++;
            size_t start = p;
            while (p < n && s[p] != ';')
                p++;
            const char *eq = memchr(s + start, '=', p - start);
            if (!eq)
                continue;
            size_t vend = p;
            while (vend > (size_t)(eq - s) + 1 && s[vend - 1] == ' ')
                vend--;
            lua_pushlstring(L, s + start, (size_t)(eq - s) - start);
            lua_pushvalue(L, -1);
            if (lua_rawget(L, t) != LUA_TNIL) {
                lua_pop(L, 2);
                continue;
            }
            lua_pop(L, 1);
            const char *v = eq + 1;
            size_t vlen = vend - (size_t)(v - s);
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
                v++, vlen -= 2;
            lua_pushlstring(L, v, vlen);
            lua_rawset(L, t);
        }
    }
}

/* ---- the language ---- */

/* The languages borough has messages for (lua/borough/messages/). */
static const char *const languages[] = { "en", "cy" };

/* The supported language named by s[0..n), or NULL. */
static const char *language_of(const char *s, size_t n)
{
    for (size_t i = 0; i < BO_COUNT(languages); i++)
        if (n == 2 && strncasecmp(s, languages[i], 2) == 0)
            return languages[i];
    return NULL;
}

/* The value of the first query field name=..., or NULL. */
static const char *query_field(const bo_http_request *h, const char *name, size_t *len)
{
    const char *q = bo_http_str(h, h->query);
    size_t n = h->query_len, nl = strlen(name), i = 0;
    while (i < n) {
        const char *amp = memchr(q + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - q) : n;
        if (end - i > nl && memcmp(q + i, name, nl) == 0 && q[i + nl] == '=') {
            *len = end - i - nl - 1;
            return q + i + nl + 1;
        }
        i = end + 1;
    }
    return NULL;
}

/* The value of the cookie name, or NULL. */
static const char *cookie_value(const bo_http_request *h, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (unsigned i = 0; i < h->nheaders; i++) {
        const bo_http_header *hd = &h->headers[i];
        if (!bo_str_ieq((bo_str){ bo_http_str(h, hd->name), hd->name_len }, "cookie"))
            continue;
        const char *s = bo_http_str(h, hd->value);
        size_t n = hd->value_len, p = 0;
        while (p < n) {
            while (p < n && (s[p] == ' ' || s[p] == ';'))
                p++;
            size_t start = p;
            while (p < n && s[p] != ';')
                p++;
            if (p - start > nl && memcmp(s + start, name, nl) == 0 && s[start + nl] == '=') {
                *len = p - start - nl - 1;
                while (*len && s[start + nl + *len] == ' ')
                    (*len)--;
                return s + start + nl + 1;
            }
        }
    }
    return NULL;
}

const char *bo_lreq_lang_asked(const bo_http_request *h)
{
    size_t n;
    const char *v = query_field(h, "lang", &n);
    return v ? language_of(v, n) : NULL;
}

const char *bo_lreq_lang(const bo_http_request *h)
{
    const char *lang = bo_lreq_lang_asked(h);
    if (lang)
        return lang;
    size_t n;
    const char *v = cookie_value(h, "borough_lang", &n);
    if (v && (lang = language_of(v, n)))
        return lang;
    /* Accept-Language: the first supported one listed ("cy-GB,cy;q=0.9,en"). */
    v = bo_http_header_get(h, "accept-language", &n);
    for (size_t i = 0; v && i < n;) {
        while (i < n && (v[i] == ' ' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < n && v[i] != ',' && v[i] != ';' && v[i] != '-' && v[i] != ' ')
            i++;
        if ((lang = language_of(v + start, i - start)))
            return lang;
        while (i < n && v[i] != ',')
            i++;
    }
    return NULL;
}

/* borough._lang(): the language the request asks for (?lang=, the
   borough_lang cookie, Accept-Language), or nil. */
static int l_lang(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_request *r = sb ? sb->current : NULL;
    const char *lang = r ? bo_lreq_lang(r->http) : NULL;
    if (!lang)
        return 0;
    lua_pushstring(L, lang);
    return 1;
}

/* borough._request(): the req table of the request running now, or nil. */
static int l_request(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_request *r = sb ? sb->current : NULL;
    if (!r || !r->handle)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->handle_ref);
    lua_getiuservalue(L, -1, 1);
    return 1;
}

/* ---- the req table ---- */

static bo_request *request_of(lua_State *L, int t)
{
    lua_rawgetp(L, t, &handle_key);
    lreq_handle *h = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return h ? h->r : NULL;
}

static int req_index(lua_State *L)
{
    bo_request *r = request_of(L, 1);
    size_t klen;
    const char *k = lua_tolstring(L, 2, &klen);
    if (!r || !k || lua_type(L, 2) != LUA_TSTRING)
        return 0;
    const bo_http_request *h = r->http;
    const char *path = bo_http_str(h, h->path);
    if (strcmp(k, "method") == 0) {
        lua_pushstring(L, h->method_name);
    } else if (strcmp(k, "path") == 0) {
        if (r->rest_len)
            lua_pushlstring(L, path + r->rest, r->rest_len);
        else
            lua_pushliteral(L, "/");
    } else if (strcmp(k, "params") == 0) {
        lua_createtable(L, 0, (int)r->match.nparams);
        for (unsigned i = 0; i < r->match.nparams; i++) {
            const bo_route_param *p = &r->match.params[i];
            lua_pushlstring(L, p->name.ptr, p->name.len);
            lua_pushlstring(L, p->value.ptr, p->value.len);
            lua_rawset(L, -3);
        }
    } else if (strcmp(k, "query") == 0 || strcmp(k, "query_all") == 0) {
        push_fields(L, bo_http_str(h, h->query), h->query_len, k[5] == '_');
    } else if (strcmp(k, "form") == 0 || strcmp(k, "form_all") == 0) {
        if (is_form_body(h))
            push_fields(L, h->body.data ? h->body.data : "", h->body.len, k[4] == '_');
        else
            lua_newtable(L);
    } else if (strcmp(k, "headers") == 0) {
        push_headers(L, h);
    } else if (strcmp(k, "body") == 0) {
        lua_pushlstring(L, h->body.data ? h->body.data : "", h->body.len);
    } else if (strcmp(k, "cookies") == 0) {
        push_cookies(L, h);
    } else if (strcmp(k, "ip") == 0) {
        lua_pushstring(L, r->conn->ip);
    } else if (strcmp(k, "id") == 0) {
        lua_pushstring(L, r->id);
    } else if (strcmp(k, "mount") == 0) {
        lua_pushlstring(L, path, r->rest);
    } else if (strcmp(k, "host") == 0) {
        size_t n;
        const char *host = bo_http_header_get(h, "host", &n);
        if (!host)
            return 0;
        lua_pushlstring(L, host, n);
    } else if (strcmp(k, "files") == 0) {
        lua_newtable(L);
    } else {
        return 0;
    }
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
}

/* The continuation of bo_lreq_main: the handler's results are the stack. */
static int main_done(lua_State *co, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    BO_UNUSED(ctx);
    return lua_gettop(co);
}

int bo_lreq_main(lua_State *co)
{
    bo_request *r = lua_touserdata(co, 1);
    bo_gen *g = r->gen;
    lua_settop(co, 0);
    lua_rawgeti(co, LUA_REGISTRYINDEX, g->route_opts[r->match.route->index].handler_ref);

    lua_createtable(co, 0, 4);
    lreq_handle *h = lua_newuserdatauv(co, sizeof *h, 1);
    h->r = r;
    lua_pushvalue(co, -2);
    lua_setiuservalue(co, -2, 1);            /* the handle finds req: borough._request() */
    lua_pushvalue(co, -1);
    r->handle_ref = luaL_ref(co, LUA_REGISTRYINDEX);
    r->handle = h;
    lua_rawsetp(co, -2, &handle_key);
    lua_rawgetp(co, LUA_REGISTRYINDEX, &req_mt_key);
    lua_setmetatable(co, -2);

    /* With a continuation, so the handler may wait (borough.sleep, outbound
       I/O): a plain lua_call would make every yield inside it an error. */
    lua_callk(co, 1, LUA_MULTRET, 0, main_done);
    return main_done(co, LUA_OK, 0);
}

void bo_lreq_release(bo_request *r)
{
    if (!r->handle)
        return;
    ((lreq_handle *)r->handle)->r = NULL;
    luaL_unref(r->gen->sb.L, LUA_REGISTRYINDEX, r->handle_ref);
    r->handle = NULL;
    r->handle_ref = LUA_NOREF;
}

/* ---- the response ---- */

/* Adds the header named at name_idx (0: Content-Type) with the value at
   value_idx. */
static void add_header(lua_State *L, bo_conn *c, int name_idx, int value_idx)
{
    size_t nlen = 12, vlen;
    const char *name = name_idx ? lua_tolstring(L, name_idx, &nlen) : "Content-Type";
    const char *value = lua_tolstring(L, value_idx, &vlen);
    if (bo_conn_response_header(c, name, nlen, value, vlen) < 0)
        luaL_error(L, "invalid response header %s (a name must be a token; a value may not hold CR, LF or NUL)",
                   name);
}

/* Checks the headers table before anything is written. */
static void check_headers(lua_State *L, int t)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "response header names must be strings");
        int vt = lua_type(L, -1);
        if (vt == LUA_TTABLE) {
            lua_Integer n = luaL_len(L, -1);
            for (lua_Integer i = 1; i <= n; i++) {
                int et = lua_rawgeti(L, -1, i);
                if (et != LUA_TSTRING && et != LUA_TNUMBER)
                    luaL_error(L, "response header %s: values must be strings", lua_tostring(L, -4));
                lua_pop(L, 1);
            }
        } else if (vt != LUA_TSTRING && vt != LUA_TNUMBER) {
            luaL_error(L, "response header %s must be a string, not a %s", lua_tostring(L, -2),
                       luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
}

int bo_lreq_respond(lua_State *co)
{
    bo_request *r = lua_touserdata(co, 1);
    bo_conn *c = r->conn;
    int nres = lua_gettop(co) - 1;
    int type = nres > 0 ? lua_type(co, 2) : LUA_TNIL;

    if (type == LUA_TSTRING) {
        size_t len;
        const char *body = lua_tolstring(co, 2, &len);
        bo_conn_response_begin(c, 200);
        platform_headers(r);
        bo_conn_response_header(c, "Content-Type", 12, "text/html; charset=utf-8", 24);
        bo_conn_response_end(c, body, len);
        return 0;
    }
    if (type == LUA_TNIL) {
        bo_conn_response_begin(c, 204);
        platform_headers(r);
        bo_conn_response_end(c, NULL, 0);
        return 0;
    }
    if (type != LUA_TTABLE)
        return luaL_error(co, "the handler returned a %s; return a string, a response table "
                              "(borough.json, borough.redirect, ...) or nothing", luaL_typename(co, 2));

    lua_settop(co, 2);
    lua_Integer status = 200;
    if (lua_getfield(co, 2, "status") != LUA_TNIL) {
        int isint;
        status = lua_tointegerx(co, -1, &isint);
        if (!isint || status < 200 || status > 599)
            return luaL_error(co, "response status must be a whole number from 200 to 599");
    }
    int headers = 0;
    if (lua_getfield(co, 2, "headers") != LUA_TNIL) {
        if (!lua_istable(co, -1))
            return luaL_error(co, "response headers must be a table");
        headers = lua_gettop(co);
        check_headers(co, headers);
    }
    /* type: the Content-Type, for responses that need no other header. */
    int tt = lua_getfield(co, 2, "type");
    int ctype = lua_gettop(co);
    if (tt != LUA_TNIL && tt != LUA_TSTRING)
        return luaL_error(co, "response type must be a string such as \"text/csv\"");
    int bt = lua_getfield(co, 2, "body");
    int body = lua_gettop(co);
    if (bt != LUA_TNIL && bt != LUA_TSTRING && bt != LUA_TFUNCTION)
        return luaL_error(co, "response body must be a string or a function, not a %s", lua_typename(co, bt));

    bo_conn_response_begin(c, (int)status);
    platform_headers(r);
    if (headers) {
        lua_pushnil(co);
        while (lua_next(co, headers)) {
            if (lua_istable(co, -1)) {
                lua_Integer n = luaL_len(co, -1);
                for (lua_Integer i = 1; i <= n; i++) {
                    lua_rawgeti(co, -1, i);
                    add_header(co, c, -3, -1);
                    lua_pop(co, 1);
                }
            } else {
                add_header(co, c, -2, -1);
            }
            lua_pop(co, 1);
        }
    }
    if (!bo_conn_response_has_type(c)) {
        if (tt == LUA_TSTRING)
            add_header(co, c, 0, ctype);
        else if (bt != LUA_TNIL)
            bo_conn_response_header(c, "Content-Type", 12, "text/html; charset=utf-8", 24);
    }
    if (bt == LUA_TFUNCTION) {
        bo_conn_response_stream_begin(c);
        lua_pushvalue(co, body);
        return 1;
    }
    size_t len = 0;
    const char *text = bt == LUA_TSTRING ? lua_tolstring(co, body, &len) : NULL;
    bo_conn_response_end(c, text, len);
    return 0;
}

/* write(chunk): the pump's way out; waits while the client is behind. */
static int stream_write(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_request *r = sb->current;
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_error(L, "a streamed body must return strings (or nil at the end), not a %s",
                          luaL_typename(L, 1));
    if (!bo_conn_alive(r->conn))
        return luaL_error(L, "the client went away");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    bo_conn_response_chunk(r->conn, s, len);
    if (bo_conn_pending(r->conn) >= BO_CONN_OUT_HIGH) {
        bo_conn_flush(r->conn);
        if (bo_conn_pending(r->conn) >= BO_CONN_OUT_HIGH) {
            r->wait = BO_WAIT_DRAIN;
            bo_sandbox_push_sentinel(L);
            return lua_yield(L, 1);
        }
    }
    return 0;
}

static const char pump_source[] =
    "local write = ...\n"
    "return function(body)\n"
    "  while true do\n"
    "    local chunk = body()\n"
    "    if chunk == nil then return end\n"
    "    write(chunk)\n"
    "  end\n"
    "end\n";

void bo_lreq_push_pump(lua_State *co)
{
    lua_rawgetp(co, LUA_REGISTRYINDEX, &pump_key);
}

/* Adds what the platform adds to every response of a handler: the language
   cookie when ?lang= chose one. */
static void platform_headers(bo_request *r)
{
    const char *lang = bo_lreq_lang_asked(r->http);
    if (lang) {
        char cookie[96];
        int n = snprintf(cookie, sizeof cookie, "borough_lang=%s; Path=/; Max-Age=31536000; SameSite=Lax", lang);
        bo_conn_response_header(r->conn, "Set-Cookie", 10, cookie, (size_t)n);
    }
}

void bo_lreq_open(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, req_index);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "borough.request");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &req_mt_key);

    lua_getglobal(L, "borough");
    lua_pushcfunction(L, l_lang);
    lua_setfield(L, -2, "_lang");
    lua_pushcfunction(L, l_request);
    lua_setfield(L, -2, "_request");
    lua_pop(L, 1);

    if (luaL_loadbufferx(L, pump_source, sizeof pump_source - 1, "=stream", "t") != LUA_OK)
        lua_error(L);
    lua_pushcfunction(L, stream_write);
    lua_call(L, 1, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &pump_key);
}
