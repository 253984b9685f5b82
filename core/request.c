/*
 * request.c - a request from its routed head to its finished response (see
 * request.h): built-in pages, static files, and app routes run as Lua
 * coroutines that may wait and be resumed.
 */
#include "request.h"
#include "apitoken.h"
#include "app.h"
#include "assets.h"
#include "conn.h"
#include "db.h"
#include "i18n.h"
#include "jobs.h"
#include "task.h"
#include "lapi.h"
#include "lentity.h"
#include "log.h"
#include "multipart.h"
#include "lreq.h"
#include "server.h"
#include "session.h"
#include "static.h"
#include "worker.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define STATIC_MAX (32 * 1024 * 1024)


static const bo_task_ops request_ops;

void bo_request_init(bo_request *r, bo_conn *c, bo_worker *w)
{
    memset(r, 0, sizeof *r);
    r->conn = c;
    r->worker = w;
    r->handle_ref = LUA_NOREF;
    bo_buf_init(&r->scratch);
    bo_task_init(&r->task, &w->loop, &request_ops, "the request ran for too long (limits.time)");
}

void bo_request_close(bo_request *r, void (*done)(uv_handle_t *))
{
    bo_buf_free(&r->scratch);
    bo_task_close(&r->task, done);
}

/* ---- pages ---- */

/* The language of the platform's own pages for this request. */
static const char *page_lang(bo_request *r)
{
    const char *lang = r->http ? bo_lreq_lang(r->http) : NULL;
    return lang ? lang : "en";
}

/* A message of lua/borough/messages/ in the request's language. */
static const char *msg(bo_request *r, const char *key)
{
    return bo_i18n(r->worker->cfg->lib_dir, page_lang(r), key);
}

void bo_request_respond_page(bo_request *r, int status, const char *title, const char *text)
{
    bo_conn *c = r->conn;
    bo_buf page;
    bo_buf_init(&page);
    bo_buf_printf(&page,
                  "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<title>%s</title></head>\n<body><main>\n<h1>%s</h1>\n%s\n</main></body></html>\n",
                  page_lang(r), title, title, text);
    bo_conn_response_begin(c, status);
    bo_conn_response_header(c, "Content-Type", 12, "text/html; charset=utf-8", 24);
    if (status == 405 || r->target == BO_TARGET_OPTIONS) {
        char allow[128] = "";
        static const int methods[] = { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_PATCH,
                                       HTTP_DELETE, HTTP_OPTIONS };
        for (size_t i = 0; i < BO_COUNT(methods); i++)
            if ((r->match.allowed & (1u << methods[i])) || methods[i] == HTTP_OPTIONS) {
                if (allow[0])
                    strcat(allow, ", ");
                strcat(allow, http_method_str((enum http_method)methods[i]));
            }
        bo_conn_response_header(c, "Allow", 5, allow, strlen(allow));
    }
    if (status >= 400)
        bo_conn_response_header(c, "Cache-Control", 13, "no-store", 8);
    bo_conn_response_end(c, page.data, page.len);
    bo_buf_free(&page);
}

/* The platform's page for an error status, in the request's language
   (messages error.<status>.title and .text). */
static void error_page(bo_request *r, int status)
{
    char key[32], text[600];
    snprintf(key, sizeof key, "error.%d.title", status);
    const char *title = msg(r, key);
    if (strcmp(title, key) == 0) {        /* no page of its own */
        bo_request_respond_page(r, status, bo_http_reason(status), "");
        return;
    }
    snprintf(key, sizeof key, "error.%d.text", status);
    if (status == 500) {
        /* "Reference: %{id}" */
        const char *ref = msg(r, "error.500.reference");
        const char *at = strstr(ref, "%{id}");
        snprintf(text, sizeof text, "<p>%s</p>\n<p>%.*s%s%s</p>", msg(r, key), at ? (int)(at - ref) : (int)strlen(ref),
                 ref, at ? r->task.id : "", at ? at + 5 : "");
    } else {
        snprintf(text, sizeof text, "<p>%s</p>", msg(r, key));
    }
    bo_request_respond_page(r, status, title, text);
}

static void home_page(bo_request *r)
{
    bo_worker *w = r->worker;
    bo_buf list;
    bo_buf_init(&list);
    bo_buf_puts(&list, "<p>These services run here:</p>\n<ul>\n");
    for (unsigned i = 0; i < w->napps; i++) {
        bo_app_info *info = w->apps[i].info;
        if (!info->mount || info->platform)
            continue;
        bo_buf_puts(&list, "<li><a href=\"");
        bo_buf_puts(&list, info->mount[0] ? info->mount : "");
        bo_buf_puts(&list, "/\">");
        for (const char *p = info->title; *p; p++) {
            switch (*p) {
            case '&': bo_buf_puts(&list, "&amp;"); break;
            case '<': bo_buf_puts(&list, "&lt;"); break;
            case '>': bo_buf_puts(&list, "&gt;"); break;
            case '"': bo_buf_puts(&list, "&quot;"); break;
            default: bo_buf_putc(&list, *p);
            }
        }
        bo_buf_puts(&list, "</a>");
        if (!w->apps[i].gen)
            bo_buf_puts(&list, " (unavailable)");
        bo_buf_puts(&list, "</li>\n");
    }
    if (w->napps == 0)
        bo_buf_puts(&list, "<li>No apps yet: add a folder with an app.lua to the apps folder.</li>\n");
    bo_buf_puts(&list, "</ul>");
    bo_buf_putc(&list, '\0');
    bo_request_respond_page(r, 200, "borough", list.data);
    bo_buf_free(&list);
}

void bo_request_moved(bo_request *r, bo_buf *loc)
{
    const bo_http_request *h = r->http;
    if (h->query_len) {
        bo_buf_putc(loc, '?');
        bo_buf_append(loc, bo_http_str(h, h->query), h->query_len);
    }
    bool safe = h->method == HTTP_GET || h->method == HTTP_HEAD;
    bo_conn_response_begin(r->conn, safe ? 301 : 308);
    bo_conn_response_header(r->conn, "Location", 8, loc->data, loc->len);
    bo_conn_response_end(r->conn, NULL, 0);
    bo_buf_free(loc);
}

/* The redirect listener's answer: 301 or 308 to
   https://<its host>[:<the HTTPS port>]<path>?<query>, or 400 when it
   names no valid host. */
static void redirect_to_https(bo_request *r)
{
    const bo_http_request *h = r->http;
    size_t hlen = 0;
    const char *host = bo_http_header_get(h, "host", &hlen);
    size_t name_len = host ? bo_http_host_name_length(host, hlen) : 0;
    if (name_len == 0) {
        bo_request_respond_page(r, 400, bo_http_reason(400), "");
        return;
    }
    bo_buf loc;
    bo_buf_init(&loc);
    bo_buf_append(&loc, "https://", 8);
    bo_buf_append(&loc, host, name_len);
    int port = r->worker->server->port;
    if (port != 443)
        bo_buf_printf(&loc, ":%d", port);
    bo_buf_append(&loc, bo_http_str(h, h->path), h->path_len);
    bo_request_moved(r, &loc);
}

static void redirect_to_slash(bo_request *r)
{
    const bo_http_request *h = r->http;
    bo_buf loc;
    bo_buf_init(&loc);
    bo_buf_append(&loc, bo_http_str(h, h->path), h->path_len);
    bo_buf_putc(&loc, '/');
    bo_request_moved(r, &loc);
}

/* Sends the file at the %-encoded path under root (NULL: nothing there)
   with the given Cache-Control; app names the log lines (NULL: the server). */
static void send_file(bo_request *r, const char *root, const char *path, size_t len, const char *cache,
                      const char *app)
{
    bo_conn *c = r->conn;
    const bo_http_request *h = r->http;
    bo_static_file f;
    int rc = root ? bo_static_open(root, path, len, &f) : BO_ENOENT;
    if (rc < 0) {
        if (rc == BO_EIO)
            bo_log(BO_LOG_ERROR, app, "static file %.*s: %s", (int)len, path, strerror(errno));
        error_page(r, rc == BO_EIO ? 500 : 404);
        return;
    }
    if (f.size > STATIC_MAX) {
        bo_log(BO_LOG_ERROR, app, "static file %.*s is over %d MiB; serve it elsewhere",
               (int)len, path, STATIC_MAX >> 20);
        bo_static_close(&f);
        error_page(r, 500);
        return;
    }
    size_t inm_len;
    const char *inm = bo_http_header_get(h, "if-none-match", &inm_len);
    bool fresh = inm && bo_static_etag_matches(inm, inm_len, f.etag);
    bo_conn_response_begin(c, fresh ? 304 : 200);
    bo_conn_response_header(c, "ETag", 4, f.etag, strlen(f.etag));
    bo_conn_response_header(c, "Cache-Control", 13, cache, strlen(cache));
    if (!fresh)
        bo_conn_response_header(c, "Content-Type", 12, f.content_type, strlen(f.content_type));
    char *dst = bo_conn_response_end_reserve(c, fresh ? 0 : (size_t)f.size);
    if (dst) {
        size_t got = 0;
        while (got < f.size) {
            ssize_t n = pread(f.fd, dst + got, (size_t)f.size - got, (off_t)got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        if (got < f.size) {
            /* The head promised more than the file now holds: end the connection. */
            memset(dst + got, 0, (size_t)f.size - got);
            c->close_after_write = true;
            bo_log(BO_LOG_ERROR, app, "static file %.*s shrank while being read", (int)len, path);
        }
    }
    bo_static_close(&f);
}

static void serve_static(bo_request *r)
{
    const bo_http_request *h = r->http;
    const char *path = bo_http_str(h, h->path) + r->rest + 8;   /* after "/static/" */
    send_file(r, r->gen->static_root, path, r->rest_len - 8, "no-cache", r->app->name);
}

/* /assets/<version>/...: immutable for a year; /assets/site.css and
   /assets/site/...: the deployment's look, revalidated. */
static void serve_assets(bo_request *r)
{
    bo_conn *c = r->conn;
    const bo_http_request *h = r->http;
    const bo_config *cfg = r->worker->cfg;
    const char *path = bo_http_str(h, h->path) + 8;             /* after "/assets/" */
    size_t len = h->path_len - 8;
    if (h->method != HTTP_GET && h->method != HTTP_HEAD) {
        r->match.allowed = (1u << HTTP_GET) | (1u << HTTP_HEAD);
        error_page(r, 405);
        return;
    }
    if (len == 8 && memcmp(path, "site.css", 8) == 0) {
        const bo_site *site = bo_site_get(cfg->data_dir);
        size_t inm_len;
        const char *inm = bo_http_header_get(h, "if-none-match", &inm_len);
        bool fresh = inm && bo_static_etag_matches(inm, inm_len, site->etag);
        bo_conn_response_begin(c, fresh ? 304 : 200);
        bo_conn_response_header(c, "ETag", 4, site->etag, strlen(site->etag));
        bo_conn_response_header(c, "Cache-Control", 13, "no-cache", 8);
        bo_conn_response_header(c, "Content-Type", 12, "text/css; charset=utf-8", 23);
        bo_conn_response_end(c, fresh ? NULL : site->css, fresh ? 0 : strlen(site->css));
        return;
    }
    if (len > 5 && memcmp(path, "site/", 5) == 0) {
        send_file(r, bo_site_get(cfg->data_dir)->site_dir, path + 5, len - 5, "no-cache", NULL);
        return;
    }
    const bo_assets *a = bo_assets_get(cfg->lib_dir);
    size_t vlen = strlen(a->version);
    if (!a->root || len <= vlen + 1 || memcmp(path, a->version, vlen) != 0 || path[vlen] != '/') {
        error_page(r, 404);
        return;
    }
    send_file(r, a->root, path + vlen + 1, len - vlen - 1, "public, max-age=31536000, immutable", NULL);
}

/* GET /metrics: Prometheus text, for the addresses --metrics-from allows
   (loopback when it is not given). */
static void serve_metrics(bo_request *r)
{
    bo_conn *c = r->conn;
    bo_server *s = r->worker->server;
    if (!bo_metrics_allowed(r->worker->cfg->metrics_from, r->worker->cfg->nmetrics_from, c->ip)) {
        error_page(r, 403);
        return;
    }
    bo_buf text;
    bo_buf_init(&text);
    bo_server_metrics(s, &text);
    bo_conn_response_begin(c, 200);
    bo_conn_response_header(c, "Content-Type", 12, "text/plain; version=0.0.4; charset=utf-8", 40);
    bo_conn_response_header(c, "Cache-Control", 13, "no-store", 8);
    bo_conn_response_end(c, text.data, text.len);
    bo_buf_free(&text);
}

/* ---- routing ---- */

/* "<run>.<worker>-<hex count>", made without printf: it runs per request
   (inlined into routing, its caller per request). */
__attribute__((always_inline)) static inline void make_id(bo_request *r)
{
    bo_worker *w = r->worker;
    size_t n = strlen(w->id_prefix);
    memcpy(r->task.id, w->id_prefix, n);
    char hex[17];
    int h = 16;
    uint64_t v = ++w->requests;
    hex[16] = '\0';
    do {
        hex[--h] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    memcpy(r->task.id + n, hex + h, (size_t)(17 - h));
}

void bo_request_new_id(bo_request *r)
{
    make_id(r);
}

static size_t route_error(bo_request *r, int status)
{
    r->target = BO_TARGET_ERROR;
    r->status = status;
    return BO_DEFAULT_MAX_BODY;
}

/* Who is signed in (the session cookie), and whether the route lets them
   in: a route is for signed-in staff unless it is public, and a route
   with roles needs one of them in this app. Judged at the end of the head,
   so that the body of a request that will be refused is never stored. */
static void admit(bo_request *r)
{
    const bo_gen_route *ro = &r->gen->route_opts[r->match.route->index];
    size_t n;
    if (ro->token) {
        /* A route for other systems (a data feed): an API token in the
           Authorization header, never a session cookie. */
        const bo_http_request *h = r->http;
        const char *auth = bo_http_header_get(h, "authorization", &n);
        bo_db *db = bo_worker_platform_db(r->worker);
        char what[300];
        snprintf(what, sizeof what, "%s %.*s", h->method_name ? h->method_name : "-", (int)h->path_len,
                 bo_http_str(h, h->path));
        r->token_refusal = db ? bo_apitoken_admit(db, r->app->name, auth, auth ? n : 0, r->conn->ip, what, &r->user,
                                                  &r->token)
                              : BO_APITOKEN_UNKNOWN;
        if (r->token_refusal != BO_APITOKEN_OK)
            r->refusal = BO_REFUSAL_TOKEN;
        else if (ro->role && !bo_user_has_any_role(r->user, ro->role))
            r->refusal = BO_REFUSAL_ROLE;
        return;
    }
    const char *token = bo_lreq_cookie(r->http, BO_SESSION_COOKIE, &n);
    if (token) {
        bo_db *db = bo_worker_platform_db(r->worker);
        if (db)
            r->user = bo_session_lookup(db, token, n, r->app->name, &r->worker->cfg->sessions);
    }
    if (ro->public_)
        return;
    if (!r->user)
        r->refusal = BO_REFUSAL_SIGN_IN;
    else if (ro->role && !bo_user_has_any_role(r->user, ro->role))
        r->refusal = BO_REFUSAL_ROLE;
}

size_t bo_request_route(bo_request *r)
{
    bo_conn *c = r->conn;
    bo_worker *w = r->worker;
    bo_http_request *h = &c->http;
    r->http = h;
    r->target = BO_TARGET_NONE;
    r->refusal = BO_REFUSAL_NONE;
    r->app = NULL;
    r->gen = NULL;
    r->rest = r->rest_len = 0;
    r->match.route = NULL;
    r->match.nparams = 0;
    r->match.allowed = 0;
    r->streaming = false;
    r->response_status = 0;
    r->response_bytes = 0;
    r->start_ns = uv_hrtime();
    r->metrics = w->metrics_none;
    make_id(r);

    const char *path = bo_http_str(h, h->path);
    size_t plen = h->path_len;
    if (plen == 8 && memcmp(path, "/healthz", 8) == 0) {
        r->target = BO_TARGET_HEALTH;
        return BO_DEFAULT_MAX_BODY;
    }
    if (c->to_https) {
        r->target = BO_TARGET_HTTPS;
        return BO_DEFAULT_MAX_BODY;
    }
    if (plen == 8 && memcmp(path, "/metrics", 8) == 0) {
        r->target = BO_TARGET_METRICS;
        return BO_DEFAULT_MAX_BODY;
    }
    if (plen > 8 && memcmp(path, "/assets/", 8) == 0) {
        r->target = BO_TARGET_ASSETS;
        return BO_DEFAULT_MAX_BODY;
    }
    size_t host_len = 0, rest_off = 0;
    const char *host = bo_http_header_get(h, "host", &host_len);
    const bo_mount *m = bo_mounts_find(&w->mounts, host, host_len, path, plen, &rest_off);
    int index = m ? m->index : -1;
    if (!m) {
        if (plen != 1 || path[0] != '/')
            return route_error(r, 404);
        if (w->site < 0 || w->has_root) {
            r->target = BO_TARGET_HOME;
            return BO_DEFAULT_MAX_BODY;
        }
        index = w->site;                     /* the front door */
        rest_off = 0;
    }
    bo_worker_app *a = &w->apps[index];
    r->app = a->info;
    r->metrics = a->metrics;
    if (!a->gen)
        return route_error(r, 503);
    r->rest = (uint32_t)rest_off;
    r->rest_len = (uint32_t)(plen - rest_off);
    if (r->rest_len == 0 && rest_off > 0) {
        r->target = BO_TARGET_REDIRECT;
        return BO_DEFAULT_MAX_BODY;
    }
    const char *rest = r->rest_len ? path + rest_off : "/";
    size_t rlen = r->rest_len ? r->rest_len : 1;
    bool safe = h->method == HTTP_GET || h->method == HTTP_HEAD;
    if (rlen > 8 && memcmp(rest, "/static/", 8) == 0 && safe) {
        r->target = BO_TARGET_STATIC;
        r->gen = a->gen;
        a->gen->inflight++;
        return BO_DEFAULT_MAX_BODY;
    }
    bo_buf_reserve(&r->scratch, 2 * rlen + 1);
    int rc = bo_routes_match(&a->gen->routes, h->method, rest, rlen, r->scratch.data, &r->match);
    if (rc == 0) {
        r->target = BO_TARGET_ROUTE;
        r->gen = a->gen;
        a->gen->inflight++;
        size_t limit = a->gen->route_opts[r->match.route->index].max_body;
        admit(r);
        return r->refusal && limit > BO_REFUSED_BODY_MAX ? BO_REFUSED_BODY_MAX : limit;
    }
    if (rc == BO_EPERM) {
        if (h->method == HTTP_OPTIONS) {
            r->target = BO_TARGET_OPTIONS;
            return BO_DEFAULT_MAX_BODY;
        }
        return route_error(r, 405);
    }
    return route_error(r, rc == BO_EINVAL ? 400 : 404);
}

/* ---- the body ---- */

int bo_request_body_begin(bo_request *r, bo_http_parser *p)
{
    const bo_http_request *h = r->http;
    size_t ct_len;
    const char *ct = bo_http_header_get(h, "content-type", &ct_len);
    if (r->target != BO_TARGET_ROUTE || r->refusal || !h->has_body || !ct || ct_len < 19 ||
        strncasecmp(ct, "multipart/form-data", 19) != 0)
        return 0;               /* (a refused request's small body is read into memory and dropped) */
    bo_gen *g = r->gen;
    bo_upload_rule rules[BO_UPLOAD_RULES_MAX];
    int n = bo_lreq_upload_rules(g, r->match.route->index, rules, BO_UPLOAD_RULES_MAX);
    if (n < 0)
        return 500;
    const bo_gen_route *ro = &g->route_opts[r->match.route->index];
    char *tmp = bo_sprintf("%s/%s/files/tmp", g->paths->data_dir, g->info->name);
    bo_multipart *m;
    int rc = bo_multipart_new(&m, ct, ct_len, tmp, rules, (unsigned)n, ro->max_body, BO_FILE_ALL);
    free(tmp);
    if (rc < 0)
        return 400;
    bo_http_stream_multipart(p, m);
    return 0;
}

/* ---- finishing ---- */

static void finish(bo_request *r)
{
    bo_worker *w = r->worker;
    bo_conn *c = r->conn;
    uint64_t ns = uv_hrtime() - r->start_ns;
    bo_metrics_request(r->metrics, r->response_status, ns);
    if (w->cfg->access_log) {
        const bo_http_request *h = r->http;
        char path[512];
        size_t n = h->path_len < sizeof path - 1 ? h->path_len : sizeof path - 1;
        memcpy(path, bo_http_str(h, h->path), n);
        path[n] = '\0';
        bo_log_request line = {
            .app = r->app ? r->metrics->name : NULL,
            .method = h->method_name ? h->method_name : "-",
            .path = path,
            .status = r->response_status,
            .ms = (double)ns / 1e6,
            .bytes = r->response_bytes,
            .request_id = r->task.id,
            .ip = c->ip,
        };
        bo_log_access(&line);
    }
    bo_task_end(&r->task);
    r->task.gen = NULL;
    if (r->gen) {
        if (r->handle)
            bo_lreq_release(r);
        bo_worker_gen_release(w, r->gen);
        r->gen = NULL;
    }
    free(r->user);
    r->user = NULL;
    free(r->token);
    r->token = NULL;
    r->refusal = BO_REFUSAL_NONE;
    r->target = BO_TARGET_NONE;
    r->active = false;
    bo_log_set_request(NULL);
    bo_conn_request_done(c);
}

void bo_request_abort(bo_request *r)
{
    if (r->gen) {
        bo_worker_gen_release(r->worker, r->gen);
        r->gen = NULL;
    }
    free(r->user);
    r->user = NULL;
    free(r->token);
    r->token = NULL;
    r->refusal = BO_REFUSAL_NONE;
    r->target = BO_TARGET_NONE;
}

/* ---- the handler's coroutine (task.h) ---- */

static bo_request *request_of(bo_task *t)
{
    return (bo_request *)((char *)t - offsetof(bo_request, task));
}

/* The handler failed: is the client still there to be told? */
static bool on_failing(bo_task *t, const char *why)
{
    BO_UNUSED(why);
    return bo_conn_alive(request_of(t)->conn);
}

/* After the failure is logged: 500 if nothing was sent yet. */
static void on_failed(bo_task *t)
{
    bo_request *r = request_of(t);
    bo_conn *c = r->conn;
    if (bo_conn_alive(c)) {
        if (r->streaming)
            c->close_after_write = true;   /* the client sees the body cut short */
        else
            error_page(r, t->db_away || bo_db_unreachable() ? 503 : 500);   /* (503: the database is away) */
    }
    finish(r);
}

/* The handler returned: its results become the response (or, for a
   streamed body, the pump runs on the same coroutine, which may wait). */
static void on_returned(bo_task *t, int nres)
{
    bo_request *r = request_of(t);
    bo_conn *c = r->conn;
    lua_State *co = t->co;
    if (r->streaming) {
        if (bo_conn_alive(c))
            bo_conn_response_stream_end(c);
        lua_settop(co, 0);
        finish(r);
        return;
    }
    if (!bo_conn_alive(c)) {
        finish(r);
        return;
    }
    size_t mark = c->out.len;
    lua_pushcfunction(co, bo_lreq_respond);
    lua_insert(co, -(nres + 1));
    lua_pushlightuserdata(co, r);
    lua_insert(co, -(nres + 1));
    if (bo_task_pcall(t, nres + 1) != LUA_OK) {
        c->out.len = mark;                 /* drop the half-made head */
        r->response_status = 0;
        bo_task_fail(t, lua_tostring(co, -1) ? lua_tostring(co, -1) : "invalid response");
        return;
    }
    if (lua_isfunction(co, -1)) {
        r->streaming = true;
        lua_insert(co, 1);       /* the body function alone stays, at 1 */
        lua_settop(co, 1);
        bo_lreq_push_pump(co);
        lua_insert(co, 1);
        bo_task_resume(t, 1);
        return;
    }
    lua_settop(co, 0);
    finish(r);
}

static void on_describe(bo_task *t, char *out, size_t cap)
{
    bo_request *r = request_of(t);
    const bo_http_request *h = r->http;
    snprintf(out, cap, "%s %.*s (route %s)", h->method_name ? h->method_name : "-", (int)h->path_len,
             bo_http_str(h, h->path), r->match.route ? r->match.route->pattern : "-");
}

static void on_jobs_queued(bo_task *t)
{
    bo_worker *w = request_of(t)->worker;
    if (w->jobs)
        bo_jobs_kick(w->jobs);
}

static const bo_task_ops request_ops = {
    .returned = on_returned,
    .failing = on_failing,
    .failed = on_failed,
    .describe = on_describe,
    .jobs_queued = on_jobs_queued,
};

/* 303 to the app's sign-in page, which sends the person back here after
   (?next= holds this path and query, %-encoded). */
static void redirect_to_sign_in(bo_request *r)
{
    static const char hex[] = "0123456789ABCDEF";
    const bo_http_request *h = r->http;
    const char *path = bo_http_str(h, h->path);
    bo_buf loc;
    bo_buf_init(&loc);
    bo_buf_append(&loc, path, r->rest);          /* the mount */
    bo_buf_puts(&loc, BO_SIGN_IN_PATH "?next=");
    bo_buf here;
    bo_buf_init(&here);
    bo_buf_append(&here, path, h->path_len);
    if (h->query_len) {
        bo_buf_putc(&here, '?');
        bo_buf_append(&here, bo_http_str(h, h->query), h->query_len);
    }
    for (size_t i = 0; i < here.len; i++) {
        unsigned char ch = (unsigned char)here.data[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '/' || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            bo_buf_putc(&loc, (char)ch);
        } else {
            bo_buf_putc(&loc, '%');
            bo_buf_putc(&loc, hex[ch >> 4]);
            bo_buf_putc(&loc, hex[ch & 15]);
        }
    }
    bo_buf_free(&here);
    bo_conn *c = r->conn;
    bo_conn_response_begin(c, 303);
    bo_conn_response_header(c, "Location", 8, loc.data, loc.len);
    bo_conn_response_header(c, "Cache-Control", 13, "no-store", 8);
    bo_conn_response_end(c, NULL, 0);
    bo_buf_free(&loc);
}

/* 401 for a route for API tokens without a live one (RFC 6750): what
   went wrong, in the header and as JSON, for the tool's log. */
static void token_refused(bo_request *r)
{
    bo_conn *c = r->conn;
    const char *text = bo_apitoken_refusal_text(r->token_refusal);
    bool missing = r->token_refusal == BO_APITOKEN_MISSING;
    bo_buf v;
    bo_buf_init(&v);
    bo_buf_printf(&v, "Bearer realm=\"%s\"", r->app->name);
    if (!missing)
        bo_buf_printf(&v, ", error=\"invalid_token\", error_description=\"%s\"", text);
    bo_conn_response_begin(c, 401);
    bo_conn_response_header(c, "WWW-Authenticate", 16, v.data, v.len);
    bo_conn_response_header(c, "Content-Type", 12, "application/json", 16);
    v.len = 0;
    bo_buf_printf(&v, "{\"error\":\"%s\",\"message\":\"%s\"}\n", missing ? "unauthorized" : "invalid_token", text);
    bo_conn_response_end(c, v.data, v.len);
    bo_buf_free(&v);
    bo_log(BO_LOG_INFO, r->app->name, "%s: %.*s refused: %s", c->ip, (int)r->http->path_len,
           bo_http_str(r->http, r->http->path), text);
}

static void run_route(bo_request *r)
{
    bo_task *t = &r->task;
    t->gen = r->gen;
    t->metrics = r->metrics;
    t->request = r;
    t->who = r->user ? r->user->email : "public";
    t->via = t->id;
    bo_task_start(t, bo_lreq_main, r);
}

void bo_request_run(bo_request *r)
{
    bo_conn *c = r->conn;
    const bo_http_request *h = r->http;
    bool safe = h->method == HTTP_GET || h->method == HTTP_HEAD;
    r->active = true;
    bo_log_set_request(r->task.id);
    switch (r->target) {
    case BO_TARGET_ROUTE:
        if (r->refusal == BO_REFUSAL_SIGN_IN) {
            redirect_to_sign_in(r);
            break;
        }
        if (r->refusal == BO_REFUSAL_TOKEN) {
            token_refused(r);
            break;
        }
        run_route(r);                /* a role refusal: the app's 403 page */
        return;
    case BO_TARGET_HEALTH:
        if (!safe) {
            r->match.allowed = (1u << HTTP_GET) | (1u << HTTP_HEAD);
            error_page(r, 405);
            break;
        }
        /* not ready while the database (PostgreSQL) cannot be reached */
        if (bo_db_unreachable()) {
            bo_conn_response_begin(c, 503);
            bo_conn_response_header(c, "Content-Type", 12, "text/plain; charset=utf-8", 25);
            bo_conn_response_header(c, "Cache-Control", 13, "no-store", 8);
            bo_conn_response_end(c, "not ready: the database is unreachable\n", 39);
            break;
        }
        bo_conn_response_begin(c, 200);
        bo_conn_response_header(c, "Content-Type", 12, "text/plain; charset=utf-8", 25);
        bo_conn_response_header(c, "Cache-Control", 13, "no-store", 8);
        bo_conn_response_end(c, "ok\n", 3);
        break;
    case BO_TARGET_HOME:
        if (!safe) {
            r->match.allowed = (1u << HTTP_GET) | (1u << HTTP_HEAD);
            error_page(r, 405);
            break;
        }
        home_page(r);
        break;
    case BO_TARGET_REDIRECT:
        redirect_to_slash(r);
        break;
    case BO_TARGET_STATIC:
        serve_static(r);
        break;
    case BO_TARGET_ASSETS:
        serve_assets(r);
        break;
    case BO_TARGET_METRICS:
        if (!safe) {
            r->match.allowed = (1u << HTTP_GET) | (1u << HTTP_HEAD);
            error_page(r, 405);
            break;
        }
        serve_metrics(r);
        break;
    case BO_TARGET_OPTIONS:
        bo_request_respond_page(r, 204, "", "");
        break;
    case BO_TARGET_HTTPS:
        redirect_to_https(r);
        break;
    case BO_TARGET_ERROR:
    default:
        error_page(r, r->status ? r->status : 500);
        break;
    }
    finish(r);
}
