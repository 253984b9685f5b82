/*
 * lsso.c - single sign-on with OpenID Connect's authorization code flow,
 * the C half of auth.lua's "Sign in with <provider>" (see lsso.h).
 *
 *   sso_begin(callback_path, next)   discovery (cached) -> a sign-in in
 *                                    flight (sso.c) -> the provider's URL
 *   sso_finish(callback_path, state, code, error)
 *                                    the flow taken (once, this browser)
 *                                    -> discovery -> the token request
 *                                    -> the key set (cached) -> the ID
 *                                    token verified (jws.c, oidc.c) ->
 *                                    the account (sso.c) -> a session
 *   sso_sign_out(path)               the provider's end_session URL for a
 *                                    session single sign-on started
 *   sso_info()                       what the sign-in page offers
 *
 * Every exchange with the provider runs on the worker's loop (httpc.c)
 * while the sign-in's coroutine waits (bo_task_wait_io), exactly as
 * http.request does, so the worker serves others meanwhile. The
 * exchanges of one step share a deadline of five seconds, so a provider
 * that is down, slow or answers nonsense gives the person a plain page in
 * that time; nothing is written before the token verifies, and sessions
 * already open never depend on the provider.
 *
 * The process keeps one copy of what it learnt about the provider (its
 * discovery document and its key set, an hour each), shared by the
 * workers under a mutex: a worker each would multiply the calls to the
 * provider by the workers for no gain, since a parsed key set is
 * immutable and any thread may verify with it (jws.h). Objects in the
 * cache are reference counted, so a worker keeps using the set it took
 * while another replaces it. A token whose key id the set lacks makes
 * the process fetch the set again once (the provider rotated its keys),
 * at most once a minute whoever asks, so forged key ids cannot make us
 * hammer the provider.
 *
 * The client secret is read at each token request from the file or
 * environment variable the settings name; it is never logged or shown.
 * Every outcome is in the platform audit log (sign-in, sso-failed,
 * sso-roles), and each sign-in logs how long the server worked on it
 * apart from the provider's time.
 */
#include "lsso.h"
#include "app.h"
#include "conn.h"
#include "crypto.h"
#include "httpc.h"
#include "jws.h"
#include "lauth.h"
#include "log.h"
#include "lreq.h"
#include "netaddr.h"
#include "oidc.h"
#include "platformdb.h"
#include "request.h"
#include "sandbox.h"
#include "server.h"
#include "session.h"
#include "sso.h"
#include "worker.h"

#include <lauxlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEADLINE_MS 5000                   /* a step's exchanges with the provider, together */
#define DISCOVERY_TTL_MS (60 * 60 * 1000)
#define KEYS_TTL_MS (60 * 60 * 1000)
#define REFETCH_GAP_MS (60 * 1000)         /* unknown key ids fetch the set at most this often */
#define SKEW_S 60                          /* clock difference tolerated in exp, iat, nbf */
#define MAX_DOCUMENT (64 * 1024)
#define SECRET_MAX 1024

static const char call_mt_key = 0;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- what the process knows of the provider ---- */

/* A document fetched from the provider and shared by the workers: the
   discovery document of an issuer, or the key set at a jwks_uri. The
   cache holds the newest of each kind; a call takes a reference while
   it uses one, so a newer document can replace it meanwhile. */
typedef struct cached {
    atomic_int refs;
    char *key;               /* the issuer, or the key set's address */
    int64_t until;           /* fresh until (wall clock, ms) */
    void (*release)(struct cached *);   /* frees what the kind adds */
} cached;

typedef struct provider {
    cached base;             /* base.key: the issuer */
    char *authorization;
    char *token;
    char *jwks_uri;
    char *end_session;       /* NULL: the provider offers no RP-initiated logout */
} provider;

typedef struct keyset {
    cached base;             /* base.key: the jwks_uri */
    bo_jwks *keys;
} keyset;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cached *cached_provider;
static cached *cached_keys;
static int64_t refetch_after;

static void cached_unref(cached *d)
{
    if (!d || atomic_fetch_sub(&d->refs, 1) > 1)
        return;
    d->release(d);
    free(d->key);
    free(d);
}

/* A new reference to the document in *slot if it is key's and still fresh. */
static cached *cache_get(cached **slot, const char *key)
{
    pthread_mutex_lock(&cache_lock);
    cached *d = *slot;
    if (d && (strcmp(d->key, key) != 0 || wall_ms() >= d->until))
        d = NULL;
    if (d)
        atomic_fetch_add(&d->refs, 1);
    pthread_mutex_unlock(&cache_lock);
    return d;
}

/* Puts d in *slot (the cache takes a reference of its own). */
static void cache_put(cached **slot, cached *d)
{
    atomic_fetch_add(&d->refs, 1);
    pthread_mutex_lock(&cache_lock);
    cached *old = *slot;
    *slot = d;
    pthread_mutex_unlock(&cache_lock);
    cached_unref(old);
}

static void provider_release(cached *d)
{
    provider *p = (provider *)d;
    free(p->authorization);
    free(p->token);
    free(p->jwks_uri);
    free(p->end_session);
}

static void keyset_release(cached *d)
{
    bo_jwks_free(((keyset *)d)->keys);
}

/* A new cached document of the kind release frees, fresh for ttl_ms. */
static void *cached_new(size_t size, const char *key, int64_t ttl_ms, void (*release)(cached *))
{
    cached *d = bo_calloc(1, size);
    atomic_init(&d->refs, 1);
    d->key = bo_strdup(key);
    d->until = wall_ms() + ttl_ms;
    d->release = release;
    return d;
}

static provider *provider_get(const char *issuer)
{
    return (provider *)cache_get(&cached_provider, issuer);
}

static keyset *keys_get(const char *jwks_uri)
{
    return (keyset *)cache_get(&cached_keys, jwks_uri);
}

static void provider_unref(provider *p)
{
    cached_unref(p ? &p->base : NULL);
}

static void keyset_unref(keyset *k)
{
    cached_unref(k ? &k->base : NULL);
}

/* Whether a token naming a key the set lacks may fetch the set again now
   (and if so, no other may for a minute). */
static bool refetch_allowed(void)
{
    int64_t now = wall_ms();
    pthread_mutex_lock(&cache_lock);
    bool yes = now >= refetch_after;
    if (yes)
        refetch_after = now + REFETCH_GAP_MS;
    pthread_mutex_unlock(&cache_lock);
    return yes;
}

void bo_lsso_cache_free(void)
{
    pthread_mutex_lock(&cache_lock);
    cached *p = cached_provider;
    cached *k = cached_keys;
    cached_provider = NULL;
    cached_keys = NULL;
    refetch_after = 0;
    pthread_mutex_unlock(&cache_lock);
    cached_unref(p);
    cached_unref(k);
}

/* ---- one call from auth.lua, and its exchanges ---- */

typedef struct sso_call sso_call;
typedef int (*sso_step)(lua_State *L, sso_call *c);

#define WAIT (-1)            /* a step started an exchange: yield until it ends */

struct sso_call {
    bo_request *r;
    sso_step run;            /* begin, finish or sign-out: the next part of it */
    int step;
    bo_httpc *h;             /* in flight, or NULL */
    bool starting;           /* inside bo_httpc_start: a completion must not wake r */
    bool done;               /* the exchange's result is set */
    int error;
    char message[400];
    int status;
    bo_buf body;
    uint64_t deadline;       /* bo_now_ms */
    uint64_t t0_ns;          /* when the call began */
    uint64_t wait_ns;        /* spent waiting for the provider */
    uint64_t wait_from_ns;
    int exchanges;
    bo_sso_settings s;
    provider *p;
    keyset *k;
    bo_sso_flow flow;
    bool flow_taken;
    char *callback;          /* the redirect_uri (or post-logout URI) */
    char *id_token;
    char *roles;             /* the account's roles from the provider, for the audit */
    bool no_secret;          /* the client secret could not be read */
    bool refetched;
};

static int call_gc(lua_State *L)
{
    sso_call *c = lua_touserdata(L, 1);
    if (c->h)
        bo_httpc_cancel(c->h);
    c->h = NULL;
    bo_buf_free(&c->body);
    bo_sso_settings_free(&c->s);
    provider_unref(c->p);
    keyset_unref(c->k);
    c->p = NULL;
    c->k = NULL;
    if (c->flow_taken)
        bo_sso_flow_release(&c->flow);
    c->flow_taken = false;
    free(c->callback);
    free(c->id_token);
    free(c->roles);
    c->callback = c->id_token = c->roles = NULL;
    return 0;
}

static void on_done(bo_httpc *h, const bo_httpc_result *res, void *ud)
{
    BO_UNUSED(h);
    sso_call *c = ud;
    c->h = NULL;
    c->done = true;
    c->error = res->error;
    if (res->error)
        snprintf(c->message, sizeof c->message, "%s", res->message ? res->message : bo_strerror(res->error));
    c->status = res->status;
    bo_buf_append(&c->body, res->body.data, res->body.len);
    c->wait_ns += uv_hrtime() - c->wait_from_ns;
    if (!c->starting)
        bo_task_wake(&c->r->task);
}

/* bo_task_wait_io's cancel: the request ends before the answer came. */
static void cancel(void *ctx)
{
    sso_call *c = ctx;
    if (c->h)
        bo_httpc_cancel(c->h);
    c->h = NULL;
}

/* Starts an exchange with the provider within the call's deadline. When
   it cannot start, or ends at once, c->done is set on return. */
static void fetch(sso_call *c, const char *method, const char *url, const char *body,
                  const bo_httpc_header *headers, size_t nheaders)
{
    c->done = false;
    c->error = 0;
    c->status = 0;
    c->body.len = 0;
    uint64_t now = bo_now_ms();
    char err[256];
    bo_tls_config *tls = NULL;
    if (now >= c->deadline) {
        c->done = true;
        c->error = BO_ETIMEDOUT;
        snprintf(c->message, sizeof c->message, "no time left for %s", url);
        return;
    }
    if (!(tls = bo_httpc_tls_default(err, sizeof err))) {
        c->done = true;
        c->error = BO_EIO;
        snprintf(c->message, sizeof c->message, "%s", err);
        return;
    }
    bo_httpc_options o = {
        .method = method,
        .url = url,
        .headers = headers,
        .nheaders = nheaders,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .timeout_ms = c->deadline - now,
        .max_response = MAX_DOCUMENT,
        .max_redirects = 0,
        .tls = tls,
    };
    c->exchanges++;
    c->wait_from_ns = uv_hrtime();
    c->starting = true;
    int rc = bo_httpc_start(&c->h, &c->r->worker->loop, &o, on_done, c, err, sizeof err);
    c->starting = false;
    if (rc < 0) {
        c->h = NULL;
        c->done = true;
        c->error = rc;
        snprintf(c->message, sizeof c->message, "%s", err);
    }
}

static int drive(lua_State *L, sso_call *c, int idx);

/* Where a waiting call carries on, inside the coroutine. */
static int resume_k(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    bo_sandbox *sb = bo_sandbox_of(L);
    if (sb && sb->budget->spent)
        return luaL_error(L, "%s", sb->budget->spent);
    sso_call *c = lua_touserdata(L, (int)ctx);
    if (!c->done)
        return luaL_error(L, "single sign-on: the exchange with the provider was abandoned");
    return drive(L, c, (int)ctx);
}

/* Runs the call's steps until it has its results or must wait. */
static int drive(lua_State *L, sso_call *c, int idx)
{
    int n = c->run(L, c);
    if (n != WAIT)
        return n;
    bo_task_wait_io(&c->r->task, cancel, c);
    bo_sandbox_push_sentinel(L);
    return lua_yieldk(L, 1, idx, resume_k);
}

/* ---- helpers ---- */

static bo_request *current(lua_State *L, const char *fn)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_request *r = sb ? sb->current : NULL;
    if (!r || !r->conn)
        luaL_error(L, "%s: only while a request is being handled", fn);
    return r;
}

static bo_db *platform(lua_State *L, bo_request *r)
{
    bo_db *db = bo_worker_platform_db(r->worker);
    if (!db)
        luaL_error(L, "the platform database is not available (see the log)");
    return db;
}

static void audit(bo_db *db, bo_request *r, const char *who, const char *action, const char *detail)
{
    char err[256];
    if (bo_platformdb_audit(db, who, action, r->app ? r->app->name : NULL, detail, err, sizeof err) < 0)
        bo_log(BO_LOG_ERROR, NULL, "platform audit log: %s", err);
}

/* A new call userdata on top of the stack, for request r. */
static sso_call *new_call(lua_State *L, bo_request *r, sso_step run)
{
    sso_call *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    bo_buf_init(&c->body);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &call_mt_key);
    lua_setmetatable(L, -2);
    c->r = r;
    c->run = run;
    c->t0_ns = uv_hrtime();
    c->deadline = bo_now_ms() + DEADLINE_MS;
    return c;
}

/* The address of this site as the provider's redirects must name it, with
   path (a path of this app, from borough.url): the site's public URL
   (--public-url, site.conf's public_url, else the listen address), or for
   an app on a host of its own, that host. A new string. */
static char *site_url(bo_request *r, const char *path)
{
    const char *base = r->worker->server->public_url;
    if (r->app && r->app->host)
        return bo_sprintf("%s://%s%s", strncmp(base, "https:", 6) == 0 ? "https" : "http", r->app->host, path);
    return bo_sprintf("%s%s", base, path);
}

/* A path argument: one borough.url made ("/app/_account/..."). */
static const char *check_path(lua_State *L, int arg)
{
    const char *path = luaL_checkstring(L, arg);
    if (path[0] != '/' || path[1] == '/' || strpbrk(path, "?# \\\r\n"))
        luaL_argerror(L, arg, "a path of this site");
    return path;
}

/* A JSON object from the exchange's answer (200), or NULL with why. */
static bo_jval *answer_object(sso_call *c, const char *what, char *why, size_t cap)
{
    if (c->error) {
        snprintf(why, cap, "%s: %s", what, c->message);
        return NULL;
    }
    if (c->status != 200) {
        snprintf(why, cap, "%s: the provider answered %d", what, c->status);
        return NULL;
    }
    bo_jval *doc = NULL;
    char jerr[96];
    if (bo_json_parse(c->body.data ? c->body.data : "", c->body.len, &doc, jerr, sizeof jerr) < 0 ||
        doc->type != BO_JSON_OBJECT) {
        snprintf(why, cap, "%s: not a JSON object (%s)", what, doc ? "another value" : jerr);
        bo_jval_free(doc);
        return NULL;
    }
    return doc;
}

/* An https URL member of a document, or NULL. */
static const char *https_member(const bo_jval *doc, const char *name)
{
    const char *v = bo_jval_string(doc, name);
    return v && strncmp(v, "https://", 8) == 0 && v[8] && !strpbrk(v, " \r\n") ? v : NULL;
}

static void start_discovery(sso_call *c)
{
    size_t n = strlen(c->s.issuer);
    char *url = bo_sprintf("%s%s.well-known/openid-configuration", c->s.issuer,
                           n && c->s.issuer[n - 1] == '/' ? "" : "/");
    fetch(c, "GET", url, NULL, NULL, 0);
    free(url);
}

/* The provider from the discovery document just fetched, cached; or NULL
   with why (an answer that is not a discovery document of this issuer). */
static provider *take_discovery(sso_call *c, char *why, size_t cap)
{
    bo_jval *doc = answer_object(c, "discovery", why, cap);
    if (!doc)
        return NULL;
    const char *issuer = bo_jval_string(doc, "issuer");
    const char *authz = https_member(doc, "authorization_endpoint");
    const char *token = https_member(doc, "token_endpoint");
    const char *jwks = https_member(doc, "jwks_uri");
    const bo_jval *end = bo_jval_get(doc, "end_session_endpoint");
    provider *p = NULL;
    if (!issuer || strcmp(issuer, c->s.issuer) != 0)
        snprintf(why, cap, "discovery: the document's issuer is not %s", c->s.issuer);
    else if (!authz || !token || !jwks)
        snprintf(why, cap, "discovery: no https authorization_endpoint, token_endpoint or jwks_uri");
    else if (end && !https_member(doc, "end_session_endpoint"))
        snprintf(why, cap, "discovery: end_session_endpoint is not an https URL");
    else {
        p = cached_new(sizeof *p, issuer, DISCOVERY_TTL_MS, provider_release);
        p->authorization = bo_strdup(authz);
        p->token = bo_strdup(token);
        p->jwks_uri = bo_strdup(jwks);
        p->end_session = end ? bo_strdup(end->str) : NULL;
        cache_put(&cached_provider, &p->base);
    }
    bo_jval_free(doc);
    return p;
}

/* The key set just fetched, cached; or NULL with why. */
static keyset *take_keys(sso_call *c, char *why, size_t cap)
{
    if (c->error || c->status != 200) {
        if (c->error)
            snprintf(why, cap, "key set: %s", c->message);
        else
            snprintf(why, cap, "key set: the provider answered %d", c->status);
        return NULL;
    }
    bo_jwks *keys;
    char err[200];
    if (bo_jwks_parse(c->body.data ? c->body.data : "", c->body.len, &keys, err, sizeof err) < 0) {
        snprintf(why, cap, "key set: %s", err);
        return NULL;
    }
    keyset *k = cached_new(sizeof *k, c->p->jwks_uri, KEYS_TTL_MS, keyset_release);
    k->keys = keys;
    cache_put(&cached_keys, &k->base);
    return k;
}

/* Pushes the text of the call's scratch buffer (c->body, free once the
   exchanges are over; owned by the call, so a Lua error cannot leak it). */
static void push_scratch(lua_State *L, sso_call *c)
{
    lua_pushlstring(L, c->body.data ? c->body.data : "", c->body.len);
    c->body.len = 0;
}

/* Pushes the Set-Cookie value of the cookie that binds a sign-in in
   flight to its browser (value "" and max_age 0 remove it). */
static void push_flow_cookie(lua_State *L, sso_call *c, const char *value, int max_age)
{
    c->body.len = 0;
    bo_buf_printf(&c->body, "%s=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%d%s", BO_SSO_COOKIE, value, max_age,
                  bo_conn_secure(c->r->conn) ? "; Secure" : "");
    push_scratch(L, c);
}

/* ---- sso_begin ---- */

/* Pushes nil and kind after logging why; for sso_begin and sso_sign_out,
   which change nothing. */
static int unavailable(lua_State *L, sso_call *c, const char *why)
{
    bo_log(BO_LOG_WARN, c->r->app ? c->r->app->name : NULL, "single sign-on: %s", why);
    luaL_pushfail(L);
    lua_pushliteral(L, "unavailable");
    return 2;
}

static int begin_run(lua_State *L, sso_call *c)
{
    char why[400];
    for (;;) {
        switch (c->step) {
        case 0:
            if ((c->p = provider_get(c->s.issuer))) {
                c->step = 2;
                break;
            }
            c->step = 1;
            start_discovery(c);
            if (!c->done)
                return WAIT;
            break;
        case 1:
            if (!(c->p = take_discovery(c, why, sizeof why)))
                return unavailable(L, c, why);
            c->step = 2;
            break;
        default: {
            char state[BO_OIDC_TOKEN_CHARS + 1], browser[BO_OIDC_TOKEN_CHARS + 1];
            char challenge[BO_PKCE_CHALLENGE_CHARS + 1], err[256];
            bo_sso_flow f = { 0 };
            if (bo_oidc_random_token(state) || bo_oidc_random_token(browser) || bo_oidc_random_token(f.nonce) ||
                bo_oidc_random_token(f.verifier) || bo_pkce_challenge(f.verifier, challenge))
                return luaL_error(L, "no randomness from the kernel");
            f.redirect_uri = c->callback;
            f.next = (char *)lua_tostring(L, 2);
            f.created_ms = wall_ms();
            char client[BO_NETADDR_KEY_MAX];
            bo_netaddr_client_key(c->r->conn->ip, client, sizeof client);
            int rc = bo_sso_flow_save(platform(L, c->r), state, browser, client, &f, err, sizeof err);
            if (rc == BO_ELIMIT) {
                bo_log(BO_LOG_WARN, c->r->app ? c->r->app->name : NULL, "single sign-on: %s", err);
                luaL_pushfail(L);
                lua_pushliteral(L, "busy");
                return 2;
            }
            if (rc < 0)
                return luaL_error(L, "cannot record the sign-in: %s", err);
            bo_buf *url = &c->body;
            url->len = 0;
            bo_buf_puts(url, c->p->authorization);
            bo_buf_puts(url, strchr(c->p->authorization, '?') ? "&" : "?");
            bo_buf_puts(url, "response_type=code&client_id=");
            bo_buf_put_escaped(url, c->s.client_id);
            bo_buf_puts(url, "&redirect_uri=");
            bo_buf_put_escaped(url, c->callback);
            bo_buf_puts(url, "&scope=");
            bo_buf_put_escaped(url, c->s.scopes);
            bo_buf_printf(url, "&state=%s&nonce=%s&code_challenge=%s&code_challenge_method=S256", state, f.nonce,
                          challenge);
            memset(&f, 0, sizeof f);
            push_scratch(L, c);
            push_flow_cookie(L, c, browser, BO_SSO_FLOW_MS / 1000);
            return 2;
        }
        }
    }
}

/* sso_begin(callback_path, next): starts a sign-in at the provider: its
   authorization URL to send the browser to and the Set-Cookie value that
   binds the sign-in to this browser; or nil and "off" (not set up),
   "unavailable" (the provider cannot be reached or answers nonsense; the
   reason is logged) or "busy" (too many sign-ins begun from the client's
   address and not finished). next (a path, or nil) is where the browser goes
   afterwards. May wait for the provider's discovery document. */
static int p_sso_begin(lua_State *L)
{
    const char *path = check_path(L, 1);
    luaL_optstring(L, 2, NULL);
    lua_settop(L, 2);
    bo_request *r = current(L, "sso_begin");
    bo_db *db = platform(L, r);
    sso_call *c = new_call(L, r, begin_run);                 /* 3 */
    char err[256];
    if (bo_sso_settings_load(db, &c->s, err, sizeof err) < 0)
        return luaL_error(L, "the sign-in settings: %s", err);
    if (!bo_sso_settings_on(&c->s)) {
        luaL_pushfail(L);
        lua_pushliteral(L, "off");
        return 2;
    }
    c->callback = site_url(r, path);
    return drive(L, c, 3);
}

/* ---- sso_finish ---- */

/* A failed sign-in: logged, audited, and nil and kind pushed. Nothing of
   it was written. */
static int refuse(lua_State *L, sso_call *c, const char *who, const char *kind, const char *why)
{
    bo_request *r = c->r;
    char detail[600];
    bo_log(BO_LOG_WARN, r->app ? r->app->name : NULL, "single sign-on refused (%s): %s", kind, why);
    snprintf(detail, sizeof detail, "%s: %s, from %s", kind, why, r->conn->ip);
    audit(platform(L, r), r, who ? who : "unknown", "sso-failed", detail);
    luaL_pushfail(L);
    lua_pushstring(L, kind);
    return 2;
}

static void start_token_request(sso_call *c, const char *code)
{
    char secret[SECRET_MAX], err[300];
    if (bo_sso_client_secret(&c->s, secret, sizeof secret, err, sizeof err) < 0) {
        c->done = true;
        c->no_secret = true;
        c->error = BO_ENOENT;
        snprintf(c->message, sizeof c->message, "the client secret: %s", err);
        return;
    }
    bo_buf body;
    bo_buf_init(&body);
    bo_buf_puts(&body, "grant_type=authorization_code&code=");
    bo_buf_put_escaped(&body, code);
    bo_buf_puts(&body, "&redirect_uri=");
    bo_buf_put_escaped(&body, c->flow.redirect_uri);
    bo_buf_printf(&body, "&code_verifier=%s", c->flow.verifier);
    bo_httpc_header headers[3] = {
        { "Content-Type", "application/x-www-form-urlencoded" },
        { "Accept", "application/json" },
    };
    size_t nheaders = 2;
    bo_buf auth;
    bo_buf_init(&auth);
    if (c->s.secret_post) {
        bo_buf_puts(&body, "&client_id=");
        bo_buf_put_escaped(&body, c->s.client_id);
        bo_buf_puts(&body, "&client_secret=");
        bo_buf_put_escaped(&body, secret);
    } else {
        /* RFC 6749 2.3.1: each form-encoded, then HTTP Basic. */
        bo_buf pair;
        bo_buf_init(&pair);
        bo_buf_put_escaped(&pair, c->s.client_id);
        bo_buf_putc(&pair, ':');
        bo_buf_put_escaped(&pair, secret);
        bo_buf_puts(&auth, "Basic ");
        char *b = bo_buf_reserve(&auth, (pair.len + 2) / 3 * 4 + 1);
        auth.len += bo_base64_encode((const uint8_t *)pair.data, pair.len, b);
        bo_buf_putc(&auth, '\0');
        memset(pair.data, 0, pair.len);
        bo_buf_free(&pair);
        headers[nheaders].name = "Authorization";
        headers[nheaders++].value = auth.data;
    }
    bo_buf_putc(&body, '\0');
    memset(secret, 0, sizeof secret);
    fetch(c, "POST", c->p->token, body.data, headers, nheaders);
    /* httpc copied them. */
    memset(body.data, 0, body.len);
    bo_buf_free(&body);
    if (auth.data)
        memset(auth.data, 0, auth.len);
    bo_buf_free(&auth);
}

/* The ID token from the token endpoint's answer, or NULL with kind and
   why: "refused" when the provider refused the code (used before, wrong
   verifier, wrong client), "unavailable" when it answered nonsense. */
static char *take_id_token(sso_call *c, const char **kind, char *why, size_t cap)
{
    *kind = "unavailable";
    if (!c->error && (c->status == 400 || c->status == 401)) {
        bo_jval *doc = NULL;
        char jerr[96];
        const char *error = NULL;
        if (bo_json_parse(c->body.data ? c->body.data : "", c->body.len, &doc, jerr, sizeof jerr) == 0)
            error = bo_jval_string(doc, "error");
        if (error) {
            *kind = strcmp(error, "invalid_client") == 0 ? "config" : "refused";
            snprintf(why, cap, "the token endpoint refused the code: %.60s", error);
        } else {
            snprintf(why, cap, "token endpoint: the provider answered %d", c->status);
        }
        bo_jval_free(doc);
        return NULL;
    }
    if (c->no_secret) {
        *kind = "config";
        snprintf(why, cap, "%s", c->message);
        return NULL;
    }
    bo_jval *doc = answer_object(c, "token endpoint", why, cap);
    if (!doc)
        return NULL;
    const char *token = bo_jval_string(doc, "id_token");
    char *out = token && *token && strlen(token) <= BO_JWS_MAX_TOKEN ? bo_strdup(token) : NULL;
    if (!out)
        snprintf(why, cap, "token endpoint: no id_token in the answer");
    bo_jval_free(doc);
    return out;
}

static int finish_run(lua_State *L, sso_call *c)
{
    char why[600];
    const char *kind;
    bo_request *r = c->r;
    for (;;) {
        switch (c->step) {
        case 0:             /* the provider */
            if ((c->p = provider_get(c->s.issuer))) {
                c->step = 2;
                break;
            }
            c->step = 1;
            start_discovery(c);
            if (!c->done)
                return WAIT;
            break;
        case 1:
            if (!(c->p = take_discovery(c, why, sizeof why)))
                return refuse(L, c, NULL, "unavailable", why);
            c->step = 2;
            break;
        case 2:             /* the code for tokens */
            c->step = 3;
            start_token_request(c, lua_tostring(L, 3));
            if (!c->done)
                return WAIT;
            break;
        case 3:
            if (!(c->id_token = take_id_token(c, &kind, why, sizeof why)))
                return refuse(L, c, NULL, kind, why);
            c->step = 4;
            break;
        case 4:             /* the keys */
            if ((c->k = keys_get(c->p->jwks_uri))) {
                c->step = 6;
                break;
            }
            c->step = 5;
            fetch(c, "GET", c->p->jwks_uri, NULL, NULL, 0);
            if (!c->done)
                return WAIT;
            break;
        case 5:
            if (!(c->k = take_keys(c, why, sizeof why)))
                return refuse(L, c, NULL, "unavailable", why);
            c->step = 6;
            break;
        default: {          /* the token, the account, the session */
            bo_oidc_expect e = {
                .issuer = c->p->base.key,
                .client_id = c->s.client_id,
                .nonce = c->flow.nonce,
                .now = wall_ms() / 1000,
                .skew = SKEW_S,
            };
            bo_oidc_claims claims;
            char err[300];
            int rc = bo_oidc_verify_id_token(c->id_token, strlen(c->id_token), c->k->keys, c->s.algs, &e, &claims,
                                             err, sizeof err);
            if (rc == BO_ENOENT && !c->refetched && refetch_allowed()) {
                /* A key the set lacks: the provider may have rotated. */
                c->refetched = true;
                keyset_unref(c->k);
                c->k = NULL;
                c->step = 5;
                fetch(c, "GET", c->p->jwks_uri, NULL, NULL, 0);
                if (!c->done)
                    return WAIT;
                break;
            }
            if (rc) {
                snprintf(why, sizeof why, "the ID token: %s", err);
                return refuse(L, c, NULL, "refused", why);
            }
            bo_db *db = platform(L, r);
            bo_sso_account a;
            uint64_t t_account = uv_hrtime();
            rc = bo_sso_account_sign_in(db, &c->s, c->p->base.key, &claims, &a, err, sizeof err);
            const char *email = claims.email;
            if (rc < 0) {
                kind = rc == BO_EPERM ? "disabled" : rc == BO_EEXIST ? "conflict" : rc == BO_EINVAL ? "claims"
                       : rc == BO_ELIMIT ? "overage" : "error";
                char who[256];
                snprintf(who, sizeof who, "%s", email && bo_account_email_valid(email) ? email : "unknown");
                bo_oidc_claims_release(&claims);
                if (rc == BO_EDB)
                    return luaL_error(L, "single sign-on: %s", err);
                return refuse(L, c, who, kind, err);
            }
            bo_oidc_claims_release(&claims);
            c->roles = a.roles;                     /* the call owns it now */
            a.roles = NULL;
            int64_t sid = bo_lauth_push_session(L, r, db, a.user_id);        /* the session's cookie */
            bo_sso_session_mark(db, sid);
            char detail[700];
            snprintf(detail, sizeof detail, "single sign-on (%s)%s, from %s", a.subject,
                     a.created ? ", account made" : "", r->conn->ip);
            audit(db, r, a.email, "sign-in", detail);
            if (a.roles_changed) {
                snprintf(detail, sizeof detail, "roles from the provider now: %s", c->roles ? c->roles : "none");
                audit(db, r, a.email, "sso-roles", detail);
            }
            uint64_t end = uv_hrtime();
            bo_log(BO_LOG_INFO, r->app ? r->app->name : NULL,
                   "single sign-on: %.2f ms of server work (%.2f ms for the account and session), %.2f ms waiting "
                   "for the provider in %d exchange%s",
                   (double)(end - c->t0_ns - c->wait_ns) / 1e6, (double)(end - t_account) / 1e6,
                   (double)c->wait_ns / 1e6, c->exchanges, c->exchanges == 1 ? "" : "s");
            /* true, { session cookie, flow cookie removed }, next */
            lua_createtable(L, 2, 0);
            lua_insert(L, -2);
            lua_rawseti(L, -2, 1);
            push_flow_cookie(L, c, "", 0);
            lua_rawseti(L, -2, 2);
            lua_pushboolean(L, 1);
            lua_insert(L, -2);
            if (c->flow.next)
                lua_pushstring(L, c->flow.next);
            else
                lua_pushnil(L);
            return 3;
        }
        }
    }
}

/* An error code from the provider's redirect, fit for the log. */
static void error_code(const char *in, char out[48])
{
    size_t n = 0;
    for (; in && *in && n < 47; in++)
        out[n++] = (*in >= 'a' && *in <= 'z') || *in == '_' ? *in : '?';
    out[n] = '\0';
}

/* sso_finish(callback_path, state, code, error): the provider's redirect
   back. Takes the sign-in in flight that state names (once; only in the
   browser that began it; within ten minutes), exchanges code for tokens,
   verifies the ID token and signs the account in. Returns true, the
   Set-Cookie values (a list) and where to go next (a path or nil); or nil
   and why: "off", "expired" (no such sign-in, used, another browser, too
   old: start again), "cancelled" (the person stopped at the provider),
   "refused" (the provider or the token said no), "unavailable" (the
   provider cannot be reached or answers nonsense), "config" (the client
   secret cannot be read or is wrong), "disabled", "conflict", "claims",
   "overage". Nothing is written unless the sign-in succeeds. */
static int p_sso_finish(lua_State *L)
{
    const char *path = check_path(L, 1);
    const char *state = luaL_optstring(L, 2, NULL);
    const char *code = luaL_optstring(L, 3, NULL);
    const char *error = luaL_optstring(L, 4, NULL);
    lua_settop(L, 4);
    bo_request *r = current(L, "sso_finish");
    bo_db *db = platform(L, r);
    sso_call *c = new_call(L, r, finish_run);                /* 5 */
    char err[300], browser[BO_OIDC_TOKEN_CHARS + 1];
    if (bo_sso_settings_load(db, &c->s, err, sizeof err) < 0)
        return luaL_error(L, "the sign-in settings: %s", err);
    if (!bo_sso_settings_on(&c->s)) {
        luaL_pushfail(L);
        lua_pushliteral(L, "off");
        return 2;
    }
    size_t blen = 0;
    const char *cookie = bo_lreq_cookie(r->http, BO_SSO_COOKIE, &blen);
    bool has_browser = cookie && blen == BO_OIDC_TOKEN_CHARS;
    if (has_browser) {
        memcpy(browser, cookie, blen);
        browser[blen] = '\0';
    }
    if (!state || strlen(state) != BO_OIDC_TOKEN_CHARS)
        return refuse(L, c, NULL, "expired", "the callback has no state of ours");
    int rc = bo_sso_flow_take(db, state, has_browser ? browser : NULL, &c->flow, err, sizeof err);
    if (rc == BO_EDB)
        return luaL_error(L, "single sign-on: %s", err);
    if (rc < 0)
        return refuse(L, c, NULL, "expired", err);
    c->flow_taken = true;
    char *here = site_url(r, path);
    bool same = strcmp(here, c->flow.redirect_uri) == 0;
    free(here);
    if (!same)
        return refuse(L, c, NULL, "expired", "the sign-in was begun for another address");
    if (error) {
        char ecode[48];
        error_code(error, ecode);
        snprintf(err, sizeof err, "the provider answered %s", ecode);
        return refuse(L, c, NULL, strcmp(error, "access_denied") == 0 ? "cancelled" : "refused", err);
    }
    if (!code || !*code || strlen(code) > 2048)
        return refuse(L, c, NULL, "refused", "the provider's redirect has no code");
    return drive(L, c, 5);
}

/* ---- sso_sign_out ---- */

static int sign_out_run(lua_State *L, sso_call *c)
{
    char why[400];
    for (;;) {
        switch (c->step) {
        case 0:
            if ((c->p = provider_get(c->s.issuer))) {
                c->step = 2;
                break;
            }
            c->step = 1;
            start_discovery(c);
            if (!c->done)
                return WAIT;
            break;
        case 1:
            if (!(c->p = take_discovery(c, why, sizeof why))) {
                unavailable(L, c, why);
                lua_pop(L, 1);          /* nil alone */
                return 1;
            }
            c->step = 2;
            break;
        default:
            if (!c->p->end_session)
                return 0;
            c->body.len = 0;
            bo_buf_puts(&c->body, c->p->end_session);
            bo_buf_puts(&c->body, strchr(c->p->end_session, '?') ? "&" : "?");
            bo_buf_puts(&c->body, "client_id=");
            bo_buf_put_escaped(&c->body, c->s.client_id);
            bo_buf_puts(&c->body, "&post_logout_redirect_uri=");
            bo_buf_put_escaped(&c->body, c->callback);
            push_scratch(L, c);
            return 1;
        }
    }
}

/* sso_sign_out(path): when the request's session began with single
   sign-on and the provider offers RP-initiated logout, the URL that signs
   the person out there too and brings them back to path; else nil. Call it
   before sign_out (which ends the session). May wait for discovery; a
   provider that cannot be reached gives nil (the session still ends). */
static int p_sso_sign_out(lua_State *L)
{
    const char *path = check_path(L, 1);
    lua_settop(L, 1);
    bo_request *r = current(L, "sso_sign_out");
    if (!r->user)
        return 0;
    bo_db *db = platform(L, r);
    if (!bo_sso_session_is(db, r->user->session))
        return 0;
    sso_call *c = new_call(L, r, sign_out_run);              /* 2 */
    char err[256];
    if (bo_sso_settings_load(db, &c->s, err, sizeof err) < 0 || !bo_sso_settings_on(&c->s))
        return 0;
    c->callback = site_url(r, path);
    return drive(L, c, 2);
}

/* sso_info(): what the sign-in page offers: { sso = bool, provider = the
   provider's name or nil, passwords = bool (the password form is shown) }. */
static int p_sso_info(lua_State *L)
{
    bo_request *r = current(L, "sso_info");
    bo_sso_settings s;
    char err[256], name[64] = "";
    if (bo_sso_settings_load(platform(L, r), &s, err, sizeof err) < 0)
        return luaL_error(L, "the sign-in settings: %s", err);
    bool on = bo_sso_settings_on(&s), passwords = s.passwords || !on;
    if (s.provider_name)
        snprintf(name, sizeof name, "%s", s.provider_name);
    bo_sso_settings_free(&s);
    lua_createtable(L, 0, 3);
    lua_pushboolean(L, on);
    lua_setfield(L, -2, "sso");
    if (name[0]) {
        lua_pushstring(L, name);
        lua_setfield(L, -2, "provider");
    }
    lua_pushboolean(L, passwords);
    lua_setfield(L, -2, "passwords");
    return 1;
}

void bo_lsso_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "sso_begin", p_sso_begin },
        { "sso_finish", p_sso_finish },
        { "sso_sign_out", p_sso_sign_out },
        { "sso_info", p_sso_info },
        { NULL, NULL },
    };
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, call_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "borough.sso_call");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &call_mt_key);
    luaL_setfuncs(L, fns, 0);
}
