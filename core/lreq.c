/*
 * lreq.c - the req table and the handler's response (see lreq.h).
 */
#include "lreq.h"
#include "apitoken.h"
#include "app.h"
#include "conn.h"
#include "crypto.h"
#include "csrf.h"
#include "json.h"
#include "lapi.h"
#include "lauth.h"
#include "lcsv.h"
#include "lentity.h"
#include "levents.h"
#include "log.h"
#include "multipart.h"
#include "stream.h"
#include "request.h"
#include "sandbox.h"
#include "session.h"
#include "task.h"

#include <lauxlib.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FIELDS 1000          /* query or form pairs decoded per request */

static const char handle_key = 0;    /* req[&handle_key] = the handle */
static const char req_mt_key = 0;
static const char pump_key = 0;

static void platform_headers(lua_State *L, bo_request *r);
static const char csrf_nonce_key = 0;   /* req[&csrf_nonce_key] = the browser's nonce */
static const char csrf_new_key = 0;     /* req[&csrf_new_key] = true: the nonce is new, set the cookie */

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

/* Walks the request's cookies: start with *hi = 0 and *pos = 0 and call
   until it returns false; each call gives one name=value pair (the value
   without trailing spaces). */
static bool next_cookie(const bo_http_request *h, unsigned *hi, size_t *pos, bo_str *name, bo_str *value)
{
    for (; *hi < h->nheaders; (*hi)++, *pos = 0) {
        const bo_http_header *hd = &h->headers[*hi];
        if (!bo_str_ieq((bo_str){ bo_http_str(h, hd->name), hd->name_len }, "cookie"))
            continue;
        const char *s = bo_http_str(h, hd->value);
        size_t n = hd->value_len, p = *pos;
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
            *pos = p;
            *name = (bo_str){ s + start, (size_t)(eq - s) - start };
            *value = (bo_str){ eq + 1, vend - (size_t)(eq - s) - 1 };
            return true;
        }
    }
    return false;
}

static void push_cookies(lua_State *L, const bo_http_request *h)
{
    lua_newtable(L);
    int t = lua_gettop(L);
    unsigned hi = 0;
    size_t pos = 0;
    bo_str name, value;
    while (next_cookie(h, &hi, &pos, &name, &value)) {
        lua_pushlstring(L, name.ptr, name.len);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, t) != LUA_TNIL) {     /* the first of a name wins */
            lua_pop(L, 2);
            continue;
        }
        lua_pop(L, 1);
        if (value.len >= 2 && value.ptr[0] == '"' && value.ptr[value.len - 1] == '"')
            value.ptr++, value.len -= 2;
        lua_pushlstring(L, value.ptr, value.len);
        lua_rawset(L, t);
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

/* The raw value of the first field name=... of an &-separated list such as
   a query string or a form body, or NULL. No %-decoding: for language codes
   and tokens, which have none. */
static const char *raw_field(const char *s, size_t n, const char *name, size_t *len)
{
    size_t nl = strlen(name), i = 0;
    while (s && i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - s) : n;
        if (end - i > nl && memcmp(s + i, name, nl) == 0 && s[i + nl] == '=') {
            *len = end - i - nl - 1;
            return s + i + nl + 1;
        }
        i = end + 1;
    }
    return NULL;
}

static const char *query_field(const bo_http_request *h, const char *name, size_t *len)
{
    return raw_field(bo_http_str(h, h->query), h->query_len, name, len);
}

/* The value of the cookie name, or NULL. */
const char *bo_lreq_cookie(const bo_http_request *h, const char *name, size_t *len)
{
    unsigned hi = 0;
    size_t pos = 0;
    bo_str n, v;
    while (next_cookie(h, &hi, &pos, &n, &v))
        if (n.len == strlen(name) && memcmp(n.ptr, name, n.len) == 0) {
            *len = v.len;
            return v.ptr;
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
    const char *v = bo_lreq_cookie(h, "borough_lang", &n);
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

/* ---- CSRF (see csrf.h) ---- */

/* What a token is bound to besides the browser's nonce: the session the
   form was made in, so that a token is good only within it; anonymous
   forms bind to nothing. The session is named by its token's SHA-256
   ("s<hex>"), which no later session repeats, not by its row id, which
   SQLite gives again once the newest session has ended. */
#define CSRF_BINDING_SIZE 66
static const char *csrf_binding(bo_request *r, char buf[CSRF_BINDING_SIZE])
{
    if (!r->user)
        return "";
    buf[0] = 's';
    bo_hex(r->user->session_hash, sizeof r->user->session_hash, buf + 1);
    return buf;
}

/* Pushes the req table of r, or nil. */
static void push_req(lua_State *L, bo_request *r)
{
    if (!r || !r->handle) {
        lua_pushnil(L);
        return;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->handle_ref);
    lua_getiuservalue(L, -1, 1);
    lua_remove(L, -2);
}


static bool is_form_body(const bo_http_request *h);

/* Checks the CSRF token of an unsafe request; NULL if it passes, else why. */
static const char *csrf_refusal(bo_request *r)
{
    const bo_http_request *h = r->http;
    const unsigned char *key = bo_csrf_key(r->gen->paths->data_dir);
    if (!key)
        return "no CSRF key (see the log above)";
    size_t nlen = 0, tlen = 0;
    const char *nonce = bo_lreq_cookie(h, "borough_csrf", &nlen);
    if (!nonce || !bo_csrf_nonce_ok(nonce, nlen))
        return "no CSRF cookie";
    const char *token = bo_http_header_get(h, "x-csrf-token", &tlen);
    if (!token && is_form_body(h))
        token = raw_field(h->body.data, h->body.len, "csrf_token", &tlen);
    if (!token && h->multipart)
        token = bo_multipart_field(h->multipart, "csrf_token", &tlen);
    if (!token)
        return "no CSRF token";
    char n[BO_CSRF_NONCE_LEN + 1], binding[CSRF_BINDING_SIZE];
    memcpy(n, nonce, BO_CSRF_NONCE_LEN);
    n[BO_CSRF_NONCE_LEN] = '\0';
    int rc = bo_csrf_check(key, n, csrf_binding(r, binding), token, tlen, (int64_t)time(NULL));
    if (rc == BO_ETIMEDOUT)
        return "an expired CSRF token";
    return rc < 0 ? "a wrong CSRF token" : NULL;
}

/* Sets req's nonce to nonce; fresh: the response sets the cookie. */
static void set_csrf_nonce(lua_State *L, int req, const char *nonce, bool fresh)
{
    if (fresh) {
        lua_pushboolean(L, 1);
        lua_rawsetp(L, req, &csrf_new_key);
    }
    lua_pushstring(L, nonce);
    lua_rawsetp(L, req, &csrf_nonce_key);
}

void bo_lreq_csrf_rotate(lua_State *L, bo_request *r)
{
    push_req(L, r);
    if (lua_istable(L, -1)) {
        char nonce[BO_CSRF_NONCE_LEN + 1];
        bo_csrf_nonce(nonce);
        set_csrf_nonce(L, lua_gettop(L), nonce, true);
    }
    lua_pop(L, 1);
}

/* borough.csrf_token(): the token for a form on this request's page. The
   browser's nonce comes from its cookie, or is made now (and the response
   sets the cookie). */
static int l_csrf_token(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_request *r = sb ? sb->current : NULL;
    if (!r || !r->handle)
        return luaL_error(L, "borough.csrf_token: only while a request is being handled");
    const unsigned char *key = bo_csrf_key(r->gen->paths->data_dir);
    if (!key)
        return luaL_error(L, "borough.csrf_token: the deployment has no CSRF key (see the log)");
    push_req(L, r);
    int req = lua_gettop(L);
    char nonce[BO_CSRF_NONCE_LEN + 1];
    if (lua_rawgetp(L, req, &csrf_nonce_key) == LUA_TSTRING) {
        memcpy(nonce, lua_tostring(L, -1), BO_CSRF_NONCE_LEN + 1);
    } else {
        size_t n = 0;
        const char *v = bo_lreq_cookie(r->http, "borough_csrf", &n);
        bool fresh = !(v && bo_csrf_nonce_ok(v, n));
        if (fresh) {
            bo_csrf_nonce(nonce);
        } else {
            memcpy(nonce, v, n);
            nonce[n] = '\0';
        }
        set_csrf_nonce(L, req, nonce, fresh);
    }
    char token[BO_CSRF_TOKEN_MAX], binding[CSRF_BINDING_SIZE];
    bo_csrf_token(key, nonce, csrf_binding(r, binding), (int64_t)time(NULL), token);
    lua_pushstring(L, token);
    return 1;
}

/* ---- uploads (see multipart.h) ---- */

static const char rules_key = 0;      /* registry[&rules_key] = { [route index] = { rule, ... } } */

typedef struct rules_read {
    int route;
    bo_upload_rule rules[BO_UPLOAD_RULES_MAX];
    unsigned n;
} rules_read;

/* Copies the upload rules of a route out of the registry; run protected. */
static int read_rules(lua_State *L)
{
    rules_read *rr = lua_touserdata(L, 1);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &rules_key) != LUA_TTABLE ||
        lua_rawgeti(L, -1, rr->route) != LUA_TTABLE)
        return 0;
    int t = lua_gettop(L);
    for (lua_Integer i = 1; rr->n < BO_UPLOAD_RULES_MAX && lua_rawgeti(L, t, i) == LUA_TTABLE; i++) {
        bo_upload_rule *u = &rr->rules[rr->n];
        lua_getfield(L, -1, "field");
        lua_getfield(L, -2, "max");
        lua_getfield(L, -3, "types");
        const char *f = lua_tostring(L, -3);
        if (f && strlen(f) < sizeof u->field) {
            strcpy(u->field, f);
            u->max = (uint64_t)lua_tointeger(L, -2);
            u->types = (unsigned)lua_tointeger(L, -1);
            rr->n++;
        }
        lua_pop(L, 4);
    }
    return 0;
}

/* borough._upload_rules(t): t[route index] = { { field =, max =, types = bits }, ... } */
static int l_upload_rules(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &rules_key);
    return 0;
}

/* borough._file_types(): { pdf = bit, ... }, for checking route options. */
static int l_file_types(lua_State *L)
{
    static const char *const names[] = { "pdf", "png", "jpeg", "jpg", "gif", "docx", "xlsx", "csv", "txt" };
    lua_createtable(L, 0, (int)BO_COUNT(names));
    for (size_t i = 0; i < BO_COUNT(names); i++) {
        lua_pushinteger(L, bo_file_type_of(names[i]));
        lua_setfield(L, -2, names[i]);
    }
    return 1;
}

int bo_lreq_upload_rules(bo_gen *g, unsigned route, bo_upload_rule *rules, unsigned cap)
{
    rules_read rr;
    memset(&rr, 0, sizeof rr);
    rr.route = (int)route;
    lua_State *L = g->sb.L;
    lua_pushcfunction(L, read_rules);
    lua_pushlightuserdata(L, &rr);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        lua_pop(L, 1);
        return -1;
    }
    unsigned n = rr.n < cap ? rr.n : cap;
    memcpy(rules, rr.rules, n * sizeof *rules);
    return (int)n;
}

/* Pushes req.files: field name -> { name, size, type, content_type, error,
   message } (an array of them for a field sent more than once). */
static void push_files(lua_State *L, bo_multipart *m)
{
    unsigned n = m ? bo_multipart_nfiles(m) : 0;
    lua_createtable(L, 0, (int)n);
    int t = lua_gettop(L);
    for (unsigned i = 0; i < n; i++) {
        const bo_upload *f = bo_multipart_file(m, i);
        lua_createtable(L, 0, 8);
        lua_pushstring(L, f->name);
        lua_setfield(L, -2, "name");
        lua_pushinteger(L, (lua_Integer)f->size);
        lua_setfield(L, -2, "size");
        if (f->type) {
            lua_pushstring(L, bo_file_type_name(f->type));
            lua_setfield(L, -2, "type");
            lua_pushstring(L, bo_file_type_media(f->type));
            lua_setfield(L, -2, "content_type");
        }
        static const char *const errors[] = { NULL, "too_large", "wrong_type", "empty" };
        lua_pushinteger(L, (lua_Integer)f->max);
        lua_setfield(L, -2, "max");
        lua_pushinteger(L, (lua_Integer)f->allowed);
        lua_setfield(L, -2, "allowed");
        if (f->error) {
            lua_pushstring(L, errors[f->error]);
            lua_setfield(L, -2, "error");
            /* The message in the request's language (lua/borough/upload.lua). */
            lua_getglobal(L, "borough");
            if (lua_getfield(L, -1, "_upload_message") == LUA_TFUNCTION) {
                lua_pushvalue(L, -3);
                lua_call(L, 1, 1);
                lua_setfield(L, -3, "message");
            } else {
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pushinteger(L, (lua_Integer)i);
        lua_setfield(L, -2, "_index");
        if (lua_getfield(L, t, f->field) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_setfield(L, t, f->field);
        } else {
            /* A second file for the field: make it an array. */
            if (lua_getfield(L, -1, "_index") != LUA_TNIL) {
                lua_pop(L, 1);
                lua_createtable(L, 2, 0);
                lua_insert(L, -2);
                lua_rawseti(L, -2, 1);
                lua_pushvalue(L, -1);
                lua_setfield(L, t, f->field);
            } else {
                lua_pop(L, 1);
            }
            lua_insert(L, -2);
            lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
            lua_pop(L, 1);
        }
    }
}

/* Pushes the multipart text fields as push_fields does for a form body. */
static void push_multipart_fields(lua_State *L, bo_multipart *m, bool all)
{
    lua_newtable(L);
    int t = lua_gettop(L);
    for (unsigned i = 0; i < bo_multipart_nfields(m); i++) {
        const char *name, *value;
        size_t nl, vl;
        bo_multipart_field_at(m, i, &name, &nl, &value, &vl);
        lua_pushlstring(L, name, nl);
        if (all) {
            lua_pushvalue(L, -1);
            if (lua_rawget(L, t) != LUA_TTABLE) {
                lua_pop(L, 1);
                lua_newtable(L);
                lua_pushvalue(L, -2);
                lua_pushvalue(L, -2);
                lua_rawset(L, t);
            }
            lua_pushlstring(L, value, vl);
            lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
            lua_pop(L, 2);
        } else {
            lua_pushvalue(L, -1);
            if (lua_rawget(L, t) == LUA_TNIL) {
                lua_pop(L, 1);
                lua_pushlstring(L, value, vl);
                lua_rawset(L, t);
            } else {
                lua_pop(L, 2);
            }
        }
    }
}

/* borough.keep_file(file): keeps an uploaded file (from req.files) under
   data/<app>/files/; returns its reference, or nil and why. */
static int l_keep_file(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_request *r = sb ? sb->current : NULL;
    bo_multipart *m = r ? r->http->multipart : NULL;
    if (!m)
        return luaL_error(L, "borough.keep_file: only a file of this request's req.files can be kept");
    lua_getfield(L, 1, "_index");
    int isnum;
    lua_Integer i = lua_tointegerx(L, -1, &isnum);
    bo_upload *f = isnum && i >= 0 ? bo_multipart_file(m, (unsigned)i) : NULL;
    if (!f)
        return luaL_argerror(L, 1, "not a file of req.files");
    if (f->ref[0]) {
        lua_pushstring(L, f->ref);
        return 1;
    }
    if (f->error) {
        luaL_pushfail(L);
        lua_pushliteral(L, "the file was not accepted (see file.error)");
        return 2;
    }
    bo_gen *g = r->gen;
    const char *dir = lua_pushfstring(L, "%s/%s/files", g->paths->data_dir, g->info->name);
    if (bo_multipart_keep(m, (unsigned)i, dir) < 0) {
        bo_log(BO_LOG_ERROR, g->info->name, "cannot keep an uploaded file in %s: %s", dir, strerror(errno));
        return luaL_error(L, "borough.keep_file: the file could not be stored");
    }
    lua_pushstring(L, f->ref);
    return 1;
}

/* A stored file being sent: owned by a userdata so that a Lua error cannot
   leak the descriptor. */
typedef struct stored_file {
    int fd;
    uint64_t size;
} stored_file;

static int stored_file_gc(lua_State *L)
{
    stored_file *sf = lua_touserdata(L, 1);
    if (sf->fd >= 0)
        close(sf->fd);
    sf->fd = -1;
    return 0;
}

/* True if ref is "<64 hex>.<type>" for a known type; sets *type. */
static bool valid_ref(const char *ref, size_t n, unsigned *type)
{
    if (n < 66 || n > 70 || ref[64] != '.')
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((ref[i] >= '0' && ref[i] <= '9') || (ref[i] >= 'a' && ref[i] <= 'f')))
            return false;
    char ext[8];
    memcpy(ext, ref + 65, n - 65);
    ext[n - 65] = '\0';
    *type = bo_file_type_of(ext);
    return *type != 0 && strcmp(ext, "jpg") != 0;
}

/* borough.file(ref [, { name =, download = }]): a response that sends a
   stored file: its type from the reference, inline for PDF and images,
   otherwise (or with download = true) as an attachment named name. */
static int l_file(lua_State *L)
{
    size_t n;
    const char *ref = luaL_checklstring(L, 1, &n);
    unsigned type;
    if (!valid_ref(ref, n, &type))
        return luaL_argerror(L, 1, "not a file reference from borough.keep_file");
    bool download = false;
    const char *name = NULL;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "download");
        download = lua_toboolean(L, -1);
        lua_getfield(L, 2, "name");
        name = lua_tostring(L, -1);
    }
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_gen *g = sb ? sb->owner : NULL;
    if (!g)
        return luaL_error(L, "borough.file: no app");
    stored_file *sf = lua_newuserdatauv(L, sizeof *sf, 0);   /* before the descriptor exists */
    sf->fd = -1;
    if (luaL_newmetatable(L, "borough.file")) {
        lua_pushcfunction(L, stored_file_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "a platform metatable");
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
    int body = lua_gettop(L);
    const char *path = lua_pushfstring(L, "%s/%s/files/%s", g->paths->data_dir, g->info->name, ref);
    sf->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (sf->fd < 0 || fstat(sf->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        lua_getglobal(L, "borough");
        lua_getfield(L, -1, "status");
        lua_pushinteger(L, 404);
        lua_call(L, 1, 1);
        return 1;
    }
    sf->size = (uint64_t)st.st_size;
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, 200);
    lua_setfield(L, -2, "status");
    lua_pushstring(L, bo_file_type_media(type));
    lua_setfield(L, -2, "type");
    lua_pushvalue(L, body);
    lua_setfield(L, -2, "body");
    lua_createtable(L, 0, 3);
    bool inline_ok = !download && (type & (BO_FILE_PDF | BO_FILE_PNG | BO_FILE_JPEG | BO_FILE_GIF));
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, inline_ok ? "inline" : "attachment");
    if (name) {
        /* A quoted ASCII name with anything else replaced by '_'. */
        luaL_addstring(&b, "; filename=\"");
        for (const char *p = name; *p; p++)
            luaL_addchar(&b, ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || *p == '"' || *p == '\\') ? '_' : *p);
        luaL_addchar(&b, '"');
    }
    luaL_pushresult(&b);
    lua_setfield(L, -2, "Content-Disposition");
    lua_pushliteral(L, "private, no-store");
    lua_setfield(L, -2, "Cache-Control");
    lua_pushliteral(L, "default-src 'none'; sandbox");
    lua_setfield(L, -2, "Content-Security-Policy");
    lua_setfield(L, -2, "headers");
    return 1;
}

/* Writes a stored file's bytes as the response body; false if it is not
   one. No Lua call runs while the bytes are copied. */
static bool respond_file(lua_State *L, int idx, bo_conn *c)
{
    stored_file *sf = luaL_testudata(L, idx, "borough.file");
    if (!sf || sf->fd < 0)
        return false;
    char *dst = bo_conn_response_end_reserve(c, (size_t)sf->size);
    size_t got = 0;
    while (dst && got < sf->size) {
        ssize_t k = pread(sf->fd, dst + got, (size_t)sf->size - got, (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    if (dst && got < sf->size) {
        memset(dst + got, 0, (size_t)sf->size - got);
        c->close_after_write = true;
    }
    close(sf->fd);
    sf->fd = -1;
    return true;
}

/* Answers 400 in place of a handler (its argument is req). */
static int bad_request(lua_State *L)
{
    lua_getglobal(L, "borough");
    lua_getfield(L, -1, "status");
    lua_pushinteger(L, 400);
    lua_call(L, 1, 1);
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

/* Pushes { id =, email =, name =, roles = { <role> = true, ... } }. */
static void push_user(lua_State *L, const bo_user *u)
{
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, u->id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, u->email);
    lua_setfield(L, -2, "email");
    lua_pushstring(L, u->name);
    lua_setfield(L, -2, "name");
    lua_createtable(L, 0, 2);
    for (const char *p = u->roles; *p;) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        if (n) {
            lua_pushlstring(L, p, n);
            lua_pushboolean(L, 1);
            lua_rawset(L, -3);
        }
        p += n;
    }
    lua_setfield(L, -2, "roles");
}

/* borough.user(): the member of staff signed in to the request being
   handled (the table req.user holds), or nil: anonymous, or no request
   (a job, an import). */
static int l_user(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_request *r = sb ? sb->current : NULL;
    if (!r || !r->handle || !r->user) {
        lua_pushnil(L);
        return 1;
    }
    push_req(L, r);
    lua_getfield(L, -1, "user");
    return 1;
}

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
        if (h->multipart)
            push_multipart_fields(L, h->multipart, k[4] == '_');
        else if (is_form_body(h))
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
        lua_pushstring(L, r->task.id);
    } else if (strcmp(k, "mount") == 0) {
        lua_pushlstring(L, path, r->rest);
    } else if (strcmp(k, "host") == 0) {
        size_t n;
        const char *host = bo_http_header_get(h, "host", &n);
        if (!host)
            return 0;
        lua_pushlstring(L, host, n);
    } else if (strcmp(k, "files") == 0) {
        push_files(L, h->multipart);
    } else if (strcmp(k, "user") == 0) {
        if (!r->user)
            return 0;
        push_user(L, r->user);
    } else if (strcmp(k, "token") == 0) {
        /* The API token of a route for other systems (borough.feed):
           { id =, name =, entities = { "a", "b" } } */
        if (!r->token)
            return 0;
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, r->token->id);
        lua_setfield(L, -2, "id");
        lua_pushstring(L, r->token->name);
        lua_setfield(L, -2, "name");
        lua_newtable(L);
        int i = 0;
        for (const char *p = r->token->entities; *p;) {
            p += strspn(p, " ");
            size_t n = strcspn(p, " ");
            if (n) {
                lua_pushlstring(L, p, n);
                lua_rawseti(L, -2, ++i);
            }
            p += n;
        }
        lua_setfield(L, -2, "entities");
    } else if (strcmp(k, "secure") == 0) {
        lua_pushboolean(L, bo_conn_secure(r->conn));
    } else if (strcmp(k, "scheme") == 0) {
        lua_pushstring(L, bo_conn_secure(r->conn) ? "https" : "http");
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

    /* A multipart body must have ended with its closing boundary, and
       unsafe methods need a good CSRF token unless the route says
       csrf = false; a refused request never reaches its handler. */
    int m = r->http->method;
    if (r->refusal == BO_REFUSAL_ROLE) {
        /* Signed in, without a role the route needs (request.c decided). */
        bo_log(BO_LOG_INFO, g->info->name, "%s %.*s refused: %s lacks the role", r->http->method_name,
               (int)r->http->path_len, bo_http_str(r->http, r->http->path), r->user->email);
        lua_getglobal(co, "borough");
        lua_getfield(co, -1, "_forbidden");
        lua_replace(co, 1);
        lua_pop(co, 1);
    } else if (r->http->multipart && !bo_multipart_done(r->http->multipart)) {
        bo_log(BO_LOG_INFO, g->info->name, "%s %.*s refused: a multipart body that ended before its last boundary",
               r->http->method_name, (int)r->http->path_len, bo_http_str(r->http, r->http->path));
        lua_pushcfunction(co, bad_request);
        lua_replace(co, 1);
    } else if ((m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH || m == HTTP_DELETE) &&
               g->route_opts[r->match.route->index].csrf) {
        const char *why = csrf_refusal(r);
        if (why) {
            bo_log(BO_LOG_INFO, g->info->name, "%s %.*s refused: %s", r->http->method_name,
                   (int)r->http->path_len, bo_http_str(r->http, r->http->path), why);
            lua_getglobal(co, "borough");
            lua_getfield(co, -1, "_csrf_refused");
            lua_replace(co, 1);
            lua_pop(co, 1);
        }
    }

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

/* Raises the error about what a handler returned, naming its route and
   the app's line that declared the route: the mistake is the app's, and
   the traceback would only show the platform. */
static int bad_result(lua_State *L, const bo_request *r, const char *why)
{
    const bo_gen_route *ro = &r->gen->route_opts[r->match.route->index];
    return luaL_error(L, "%s%s%s %s: %s", ro->where ? ro->where : "", ro->where && *ro->where ? " " : "",
                      r->http->method_name, r->match.route->pattern, why);
}

/* Checks the headers table before anything is written. */
static void check_headers(lua_State *L, const bo_request *r, int t)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            bad_result(L, r, "response header names must be strings");
        int vt = lua_type(L, -1);
        if (vt == LUA_TTABLE) {
            lua_Integer n = luaL_len(L, -1);
            for (lua_Integer i = 1; i <= n; i++) {
                int et = lua_rawgeti(L, -1, i);
                if (et != LUA_TSTRING && et != LUA_TNUMBER)
                    bad_result(L, r, lua_pushfstring(L, "response header %s: values must be strings",
                                                     lua_tostring(L, -4)));
                lua_pop(L, 1);
            }
        } else if (vt != LUA_TSTRING && vt != LUA_TNUMBER) {
            bad_result(L, r, lua_pushfstring(L, "response header %s must be a string, not a %s",
                                             lua_tostring(L, -2), luaL_typename(L, -1)));
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
        platform_headers(co, r);
        bo_conn_response_header(c, "Content-Type", 12, "text/html; charset=utf-8", 24);
        bo_conn_response_end(c, body, len);
        return 0;
    }
    if (type == LUA_TNIL) {
        bo_conn_response_begin(c, 204);
        platform_headers(co, r);
        bo_conn_response_end(c, NULL, 0);
        return 0;
    }
    if (type != LUA_TTABLE)
        return bad_result(co, r, lua_pushfstring(co, "the handler returned a %s; return a string, a response "
                                                     "(borough.view, borough.json, borough.redirect, ...), "
                                                     "a table { status =, headers =, body = } or nothing",
                                                 luaL_typename(co, 2)));

    /* Raw reads: a response of the platform makes its headers table only
       when an app asks for it (lapi.c), and this read is not asking. */
    lua_settop(co, 2);
    lua_Integer status = 200;
    lua_pushliteral(co, "status");
    if (lua_rawget(co, 2) != LUA_TNIL) {
        int isint;
        status = lua_tointegerx(co, -1, &isint);
        if (!isint || status < 200 || status > 599)
            return bad_result(co, r, "the response status must be a whole number from 200 to 599");
    }
    int headers = 0;
    lua_pushliteral(co, "headers");
    if (lua_rawget(co, 2) != LUA_TNIL) {
        if (!lua_istable(co, -1))
            return bad_result(co, r, "the response headers must be a table");
        headers = lua_gettop(co);
        check_headers(co, r, headers);
    }
    /* type: the Content-Type, for responses that need no other header. */
    lua_pushliteral(co, "type");
    int tt = lua_rawget(co, 2);
    int ctype = lua_gettop(co);
    if (tt != LUA_TNIL && tt != LUA_TSTRING)
        return bad_result(co, r, "the response type must be a string such as \"text/csv\"");
    lua_pushliteral(co, "body");
    int bt = lua_rawget(co, 2);
    int body = lua_gettop(co);
    const char *channels = bt == LUA_TUSERDATA ? bo_levents_channels(co, body) : NULL;
    if (channels) {
        bo_stream_respond(r, channels);   /* an event stream (app:events): the platform's response */
        return 0;
    }
    if ((bt == LUA_TUSERDATA && !luaL_testudata(co, body, "borough.file")) ||
        (bt != LUA_TNIL && bt != LUA_TSTRING && bt != LUA_TFUNCTION && bt != LUA_TUSERDATA))
        return bad_result(co, r, lua_pushfstring(co, "the response body must be a string or a function, not a %s",
                                                 luaL_typename(co, body)));

    bo_conn_response_begin(c, (int)status);
    platform_headers(co, r);
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
    if (bt == LUA_TUSERDATA && respond_file(co, body, c))
        return 0;
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
        return bad_result(L, r, lua_pushfstring(L, "a streamed body must return strings (or nil at the end), "
                                                   "not a %s", luaL_typename(L, 1)));
    if (!bo_conn_alive(r->conn))
        return luaL_error(L, "the client went away");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    bo_conn_response_chunk(r->conn, s, len);
    if (bo_conn_pending(r->conn) >= BO_CONN_OUT_HIGH) {
        bo_conn_flush(r->conn);
        if (bo_conn_pending(r->conn) >= BO_CONN_OUT_HIGH) {
            r->task.wait = BO_WAIT_DRAIN;
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

/* Adds what the platform adds to every response of a handler: the CSRF
   cookie when the nonce is new, the language cookie when ?lang= chose one.
   Over HTTPS both are Secure, so a browser never sends them in clear. */
static void platform_headers(lua_State *L, bo_request *r)
{
    int top = lua_gettop(L);
    push_req(L, r);
    if (lua_istable(L, -1) && lua_rawgetp(L, -1, &csrf_new_key) == LUA_TBOOLEAN &&
        lua_rawgetp(L, -2, &csrf_nonce_key) == LUA_TSTRING) {
        char cookie[136];
        int n = snprintf(cookie, sizeof cookie, "borough_csrf=%s; Path=/; HttpOnly; SameSite=Lax%s",
                         lua_tostring(L, -1), bo_conn_secure(r->conn) ? "; Secure" : "");
        bo_conn_response_header(r->conn, "Set-Cookie", 10, cookie, (size_t)n);
    }
    lua_settop(L, top);
    const char *lang = bo_lreq_lang_asked(r->http);
    if (lang) {
        char cookie[104];
        int n = snprintf(cookie, sizeof cookie, "borough_lang=%s; Path=/; Max-Age=31536000; SameSite=Lax%s", lang,
                         bo_conn_secure(r->conn) ? "; Secure" : "");
        bo_conn_response_header(r->conn, "Set-Cookie", 10, cookie, (size_t)n);
    }
}

/* ---- borough.* that need the request ---- */

static const char mount_key = 0;     /* registry[&mount_key] = the prefix borough.app declared */
static const char settled_key = 0;   /* registry[&settled_key] = true: no app path can start with the
                                        mount, so a path that does is already a URL (borough._url_settled) */

/* borough.redirect(url [, status]): 302 after GET, 303 after a form post. */
static int l_redirect(lua_State *L)
{
    size_t len;
    const char *url = luaL_checklstring(L, 1, &len);
    for (size_t i = 0; i < len; i++)
        if (url[i] == '\r' || url[i] == '\n' || url[i] == '\0')
            return luaL_argerror(L, 1, "a redirect URL may not contain CR, LF or NUL");
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_request *r = sb ? sb->current : NULL;
    int method = r ? r->http->method : HTTP_GET;
    lua_Integer dflt = (method == HTTP_GET || method == HTTP_HEAD) ? 302 : 303;
    lua_Integer status = luaL_optinteger(L, 2, dflt);
    luaL_argcheck(L, status == 301 || status == 302 || status == 303 || status == 307 || status == 308,
                  2, "a redirect status is 301, 302, 303, 307 or 308");
    bo_lapi_push_response(L, status, NULL, 0);
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "Location");
    lua_setfield(L, -2, "headers");
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
    bo_request *r = sb ? sb->current : NULL;
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
        if (!base || !bo_task_of(L))
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


/* borough.csv.upload(file) -> a reader over a file of this request's
   req.files (an upload page's CSV, read where it was streamed to), or nil
   and why. Only the request's own uploads can be read: apps open no files. */
static int l_upload(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_request *r = sb ? sb->current : NULL;
    bo_multipart *m = r && r->http ? r->http->multipart : NULL;
    lua_getfield(L, 1, "_index");
    int isnum;
    lua_Integer i = lua_tointegerx(L, -1, &isnum);
    lua_pop(L, 1);
    bo_upload *f = m && isnum && i >= 0 ? bo_multipart_file(m, (unsigned)i) : NULL;
    if (!f)
        return luaL_argerror(L, 1, "not a file of this request's req.files");
    if (f->error || !f->tmp_path) {
        luaL_pushfail(L);
        lua_pushliteral(L, "the file was not accepted, or was already kept");
        return 2;
    }
    char err[256];
    if (bo_lcsv_push_file(L, f->tmp_path, err, sizeof err) < 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    return 1;
}

int bo_lreq_open(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, req_index);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "borough.request");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &req_mt_key);

    static const luaL_Reg borough_fns[] = {
        { "_lang", l_lang },
        { "_request", l_request },
        { "user", l_user },
        { "csrf_token", l_csrf_token },
        { "_upload_rules", l_upload_rules },
        { "_file_types", l_file_types },
        { "keep_file", l_keep_file },
        { "file", l_file },
        { "redirect", l_redirect },
        { "url", l_url },
        { "_declare_mount", l_declare_mount },
        { "_url_settled", l_url_settled },
        { NULL, NULL },
    };
    if (luaL_loadbufferx(L, pump_source, sizeof pump_source - 1, "=stream", "t") != LUA_OK)
        lua_error(L);
    lua_pushcfunction(L, stream_write);
    lua_call(L, 1, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &pump_key);
    luaL_newlib(L, borough_fns);
    return 1;
}

int bo_lreq_csv_open(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_upload);
    lua_setfield(L, -2, "upload");
    return 1;
}
