/*
 * lauth.c - the C half of staff sign-in (lua/borough/auth.lua): checking a
 * password, starting and ending sessions, changing a password, and the
 * throttle on failed attempts. Given to auth.lua once, as the private table
 * borough._auth() returns (nil to anyone asking after it).
 *
 * Hashing (argon2id, about 45 ms and 19 MiB) runs on libuv's thread pool
 * while the request waits (bo_request_wait_io), so a sign-in never stalls
 * the worker's other connections. An address nobody has an account for is
 * checked against a dummy hash made with the same parameters, so the time
 * an answer takes does not tell whether the account exists; throttling
 * counts attempts per address given, account or not, so neither does it.
 *
 * Everything here is recorded in the platform audit log: sign-in,
 * sign-in-failed, sign-in-throttled, sign-out, password-change,
 * password-change-failed.
 */
#include "lauth.h"
#include "netaddr.h"
#include "app.h"
#include "conn.h"
#include "crypto.h"
#include "log.h"
#include "lreq.h"
#include "password.h"
#include "platformdb.h"
#include "request.h"
#include "sandbox.h"
#include "server.h"
#include "session.h"
#include "worker.h"

#include <lauxlib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_MS (15 * 60 * 1000)     /* failures count for 15 minutes */
#define ACCOUNT_LIMIT 5                /* failures per account address in the window */
#define ADDRESS_LIMIT 20               /* failures per client IP address in the window */
#define EMAIL_MAX 254

static const char private_key = 0;
static const char work_mt_key = 0;

/* ---- hashing off the loop ---- */

/* One password check (and, for a change, one new hash) on the thread pool.
   Two owners: the pool until after_work, and the Lua userdata that points
   at it; whichever lets go last frees it. */
typedef struct auth_work {
    uv_work_t req;
    int refs;
    bo_request *r;
    bool abandoned;        /* the request ended while this ran: wake nobody */
    char *hash;            /* the stored hash, or NULL: check the dummy */
    char *password;
    size_t len;
    char *new_password;    /* set for a change: hash it if the check passes */
    size_t new_len;
    char *new_hash;        /* the result of that */
    int verified;          /* bo_password_verify's result */
    char err[160];
} auth_work;

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char *dummy_hash;

static void make_dummy(void)
{
    char err[160];
    dummy_hash = bo_password_hash("not anybody's password, only the time it takes", 46, err, sizeof err);
}

static void wipe(char *s, size_t n)
{
    if (s) {
        volatile char *p = s;
        while (n--)
            *p++ = 0;
    }
}

static void work_unref(auth_work *w)
{
    if (--w->refs > 0)
        return;
    wipe(w->password, w->len);
    wipe(w->new_password, w->new_len);
    free(w->password);
    free(w->new_password);
    free(w->hash);
    free(w->new_hash);
    free(w);
}

static void on_work(uv_work_t *req)
{
    auth_work *w = req->data;
    const char *hash = w->hash;
    if (!hash) {
        pthread_once(&dummy_once, make_dummy);
        hash = dummy_hash;
    }
    w->verified = hash ? bo_password_verify(hash, w->password, w->len) : BO_EINVAL;
    if (!w->hash)
        w->verified = BO_EPERM;      /* nobody has that address */
    if (w->verified == 0 && w->new_password)
        w->new_hash = bo_password_hash(w->new_password, w->new_len, w->err, sizeof w->err);
    else if (w->verified == 0 && bo_password_needs_rehash(w->hash))
        /* Made with older parameters: hash it again with today's. */
        w->new_hash = bo_password_hash(w->password, w->len, w->err, sizeof w->err);
}

static void after_work(uv_work_t *req, int status)
{
    BO_UNUSED(status);
    auth_work *w = req->data;
    if (!w->abandoned)
        bo_request_wake(w->r);
    work_unref(w);
}

/* bo_request_wait_io's cancel: the request ends first. */
static void cancel_work(void *ctx)
{
    auth_work *w = ctx;
    w->abandoned = true;
    uv_cancel((uv_req_t *)&w->req);
}

typedef struct work_box {
    auth_work *w;
} work_box;

static int work_gc(lua_State *L)
{
    work_box *b = lua_touserdata(L, 1);
    if (b->w) {
        b->w->abandoned = true;
        work_unref(b->w);
        b->w = NULL;
    }
    return 0;
}

/* Pushes a box (its __gc lets go of the work) and starts the work; the
   caller yields. Returns the box's stack index. */
static int start_work(lua_State *L, bo_request *r, char *hash, const char *password, size_t len,
                      const char *new_password, size_t new_len)
{
    work_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->w = NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &work_mt_key);
    lua_setmetatable(L, -2);
    auth_work *w = bo_calloc(1, sizeof *w);
    w->refs = 2;
    w->r = r;
    w->verified = BO_EPERM;
    w->hash = hash;
    w->password = bo_strndup(password, len);
    w->len = len;
    if (new_password) {
        w->new_password = bo_strndup(new_password, new_len);
        w->new_len = new_len;
    }
    w->req.data = w;
    b->w = w;
    if (uv_queue_work(&r->worker->loop, &w->req, on_work, after_work) < 0) {
        w->refs = 1;                 /* the box alone owns it */
        on_work(&w->req);            /* cannot queue: do it here, once */
        return -lua_gettop(L);
    }
    bo_request_wait_io(r, cancel_work, w);
    return lua_gettop(L);
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
    bo_db *db = bo_session_db(r->worker);
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

/* "account:<lower-case address>" and "address:<client>": the client's
   IPv4 address, or the /64 of its IPv6 one (which one subscriber holds
   whole: counting each of its addresses apart would let it guess on). */
static void throttle_keys(const char *email, const char *ip, char account[EMAIL_MAX + 16], char address[64])
{
    int n = snprintf(account, EMAIL_MAX + 16, "account:");
    for (const char *p = email; *p && n < EMAIL_MAX + 14; p++)
        account[n++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
    account[n] = '\0';
    char client[BO_NETADDR_KEY_MAX];
    bo_netaddr_client_key(ip, client, sizeof client);
    snprintf(address, 64, "address:%s", client);
}

/* Minutes until a throttled key frees a place (at least 1), or 0 if neither
   is throttled. */
static int throttled(bo_db *db, const char *account, const char *address)
{
    int64_t now = bo_session_now(), until = 0, at;
    if (bo_session_failures(db, account, WINDOW_MS, &at) >= ACCOUNT_LIMIT)
        until = at;
    if (bo_session_failures(db, address, WINDOW_MS, &at) >= ADDRESS_LIMIT && at > until)
        until = at;
    if (!until)
        return 0;
    int64_t minutes = (until - now + 59999) / 60000;
    return minutes < 1 ? 1 : (int)minutes;
}

/* Starts a session for user id, ending the request's current one (a new
   token at every sign-in, and a new CSRF nonce); pushes the Set-Cookie
   value. */
static void push_new_session(lua_State *L, bo_request *r, bo_db *db, int64_t id)
{
    char token[BO_SESSION_TOKEN_CHARS + 1], err[256], cookie[160];
    int64_t sid;
    if (r->user)
        bo_session_end(db, r->user->session);
    if (bo_session_create(db, id, r->conn->ip, &r->worker->server->cfg.sessions, token, &sid, err, sizeof err) < 0)
        luaL_error(L, "cannot start a session: %s", err);
    bo_lreq_csrf_rotate(L, r);
    bo_session_cookie(cookie, sizeof cookie, token, bo_conn_secure(r->conn));
    lua_pushstring(L, cookie);
}

/* ---- sign in ---- */

typedef struct user_row {
    int64_t id;
    bool disabled;
    char *hash;            /* new, or NULL */
} user_row;

static user_row find_user(bo_db *db, const char *sql, const char *email, int64_t id)
{
    user_row u = { 0 };
    char err[256];
    sqlite3_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, sizeof err);
    if (!stmt) {
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", err);
        return u;
    }
    if (email)
        sqlite3_bind_text(stmt, 1, email, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_int64(stmt, 1, id);
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        u.id = sqlite3_column_int64(stmt, 0);
        u.disabled = sqlite3_column_int(stmt, 1) != 0;
        u.hash = bo_strdup((const char *)sqlite3_column_text(stmt, 2));
    }
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return u;
}

/* Stores a new password hash for user id; returns the SQLite result. */
static int set_hash(bo_db *db, int64_t id, const char *hash)
{
    static const char sql[] = "UPDATE users SET password_hash = ?, password_ms = ? WHERE id = ?";
    char err[256];
    sqlite3_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt) {
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", err);
        return SQLITE_ERROR;
    }
    sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, bo_session_now());
    sqlite3_bind_int64(stmt, 3, id);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE)
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", sqlite3_errmsg(bo_db_sqlite(db)));
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc;
}

/* The continuation of sign_in: the box is at ctx, email at 1. */
static int sign_in_done(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    bo_request *r = current(L, "sign_in");
    bo_db *db = platform(L, r);
    work_box *b = lua_touserdata(L, (int)(ctx < 0 ? -ctx : ctx));
    auth_work *w = b->w;
    if (!w || w->abandoned)
        return luaL_error(L, "sign_in: the request ended before the password was checked");
    const char *email = lua_tostring(L, 1);
    char account[EMAIL_MAX + 16], address[64], detail[128];
    throttle_keys(email, r->conn->ip, account, address);
    user_row u = find_user(db, "SELECT id, disabled, password_hash FROM users WHERE email = ?", email, 0);
    free(u.hash);
    bool known = w->hash != NULL;
    bool ok = w->verified == 0 && known && u.id && !u.disabled;
    if (ok && w->new_hash)
        set_hash(db, u.id, w->new_hash);
    b->w = NULL;
    work_unref(w);
    if (ok) {
        /* The attempt was counted as a failure when it began. */
        bo_session_forgive(db, account, true);
        bo_session_forgive(db, address, false);
        push_new_session(L, r, db, u.id);
        snprintf(detail, sizeof detail, "from %s", r->conn->ip);
        audit(db, r, email, "sign-in", detail);
        lua_pushboolean(L, 1);
        lua_insert(L, -2);
        return 2;
    }
    snprintf(detail, sizeof detail, "%s, from %s",
             !known ? "no such account" : u.disabled ? "account disabled" : "wrong password", r->conn->ip);
    audit(db, r, email, "sign-in-failed", detail);
    luaL_pushfail(L);
    lua_pushliteral(L, "wrong");
    return 2;
}

/* sign_in(email, password): true and the Set-Cookie value; or nil and
   "wrong" (no such account, a wrong password, a disabled account: all
   the same to the person asking), or nil, "throttled" and the minutes to
   wait. Waits while the password is checked. */
static int p_sign_in(lua_State *L)
{
    size_t elen, plen;
    const char *email = luaL_checklstring(L, 1, &elen);
    const char *password = luaL_checklstring(L, 2, &plen);
    bo_request *r = current(L, "sign_in");
    bo_db *db = platform(L, r);
    if (elen > EMAIL_MAX || plen > BO_PASSWORD_MAX) {
        luaL_pushfail(L);
        lua_pushliteral(L, "wrong");
        return 2;
    }
    char account[EMAIL_MAX + 16], address[64], detail[128];
    throttle_keys(email, r->conn->ip, account, address);
    int minutes = throttled(db, account, address);
    if (minutes) {
        snprintf(detail, sizeof detail, "from %s", r->conn->ip);
        audit(db, r, email, "sign-in-throttled", detail);
        luaL_pushfail(L);
        lua_pushliteral(L, "throttled");
        lua_pushinteger(L, minutes);
        return 3;
    }
    /* Counted as a failure now, before the password is checked, so that
       guesses sent all at once cannot all pass the throttle above while
       the first of them is still being checked; a success forgives it. */
    bo_session_fail(db, account, WINDOW_MS);
    bo_session_fail(db, address, WINDOW_MS);
    user_row u = find_user(db, "SELECT id, disabled, password_hash FROM users WHERE email = ?", email, 0);
    lua_settop(L, 2);
    int box = start_work(L, r, u.hash, password, plen, NULL, 0);
    if (box < 0)
        return sign_in_done(L, LUA_OK, -box);
    bo_sandbox_push_sentinel(L);
    return lua_yieldk(L, 1, box, sign_in_done);
}

/* sign_out(): ends the request's session and gives the browser a new CSRF
   nonce; returns the Set-Cookie value that removes the session cookie. */
static int p_sign_out(lua_State *L)
{
    bo_request *r = current(L, "sign_out");
    if (r->user) {
        bo_db *db = platform(L, r);
        bo_session_end(db, r->user->session);
        char detail[64];
        snprintf(detail, sizeof detail, "from %s", r->conn->ip);
        audit(db, r, r->user->email, "sign-out", detail);
    }
    bo_lreq_csrf_rotate(L, r);
    char cookie[160];
    bo_session_cookie(cookie, sizeof cookie, NULL, bo_conn_secure(r->conn));
    lua_pushstring(L, cookie);
    return 1;
}

/* ---- change password ---- */

static int change_done(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    bo_request *r = current(L, "change_password");
    bo_db *db = platform(L, r);
    work_box *b = lua_touserdata(L, (int)(ctx < 0 ? -ctx : ctx));
    auth_work *w = b->w;
    if (!w || w->abandoned || !r->user)
        return luaL_error(L, "change_password: the request ended before the password was checked");
    char account[EMAIL_MAX + 16], address[64];
    throttle_keys(r->user->email, r->conn->ip, account, address);
    if (w->verified != 0 || !w->new_hash) {
        bool hash_failed = w->verified == 0;
        if (hash_failed)
            bo_log(BO_LOG_ERROR, NULL, "password hash: %s", w->err);
        b->w = NULL;
        work_unref(w);
        if (hash_failed)
            return luaL_error(L, "the new password could not be hashed (see the log)");
        audit(db, r, r->user->email, "password-change-failed", "wrong current password");
        luaL_pushfail(L);
        lua_pushliteral(L, "current");
        return 2;
    }
    int rc = set_hash(db, r->user->id, w->new_hash);
    b->w = NULL;
    work_unref(w);
    if (rc != SQLITE_DONE)
        return luaL_error(L, "cannot change the password (see the log)");
    /* Every session of the account ends; this browser gets a new one. */
    bo_session_end_user(db, r->user->id);
    bo_session_forgive(db, account, true);
    audit(db, r, r->user->email, "password-change", "every session ended");
    int64_t id = r->user->id;
    free(r->user);           /* its session is gone */
    r->user = NULL;
    push_new_session(L, r, db, id);
    lua_pushboolean(L, 1);
    lua_insert(L, -2);
    return 2;
}

/* change_password(current, new): true and the Set-Cookie value of a new
   session (all others have ended); or nil, "current" (wrong current
   password), nil, "new", message (the policy refuses it) or nil,
   "throttled", minutes. */
static int p_change_password(lua_State *L)
{
    size_t clen, nlen;
    const char *cur = luaL_checklstring(L, 1, &clen);
    const char *new_password = luaL_checklstring(L, 2, &nlen);
    bo_request *r = current(L, "change_password");
    if (!r->user)
        return luaL_error(L, "change_password: nobody is signed in");
    bo_db *db = platform(L, r);
    char account[EMAIL_MAX + 16], address[64];
    throttle_keys(r->user->email, r->conn->ip, account, address);
    int minutes = throttled(db, account, address);
    if (minutes) {
        audit(db, r, r->user->email, "password-change-failed", "throttled");
        luaL_pushfail(L);
        lua_pushliteral(L, "throttled");
        lua_pushinteger(L, minutes);
        return 3;
    }
    const char *problem = bo_password_problem(new_password, nlen, r->user->email);
    if (problem) {
        luaL_pushfail(L);
        lua_pushliteral(L, "new");
        lua_pushstring(L, problem);
        return 3;
    }
    user_row u = find_user(db, "SELECT id, disabled, password_hash FROM users WHERE id = ?", NULL, r->user->id);
    if (!u.hash)
        return luaL_error(L, "change_password: the account is gone");
    bo_session_fail(db, account, WINDOW_MS);     /* counted now, as for sign-in */
    if (clen > BO_PASSWORD_MAX)
        clen = BO_PASSWORD_MAX + 1;
    lua_settop(L, 2);
    int box = start_work(L, r, u.hash, cur, clen, new_password, nlen);
    if (box < 0)
        return change_done(L, LUA_OK, -box);
    bo_sandbox_push_sentinel(L);
    return lua_yieldk(L, 1, box, change_done);
}

/* password_problem(password [, email]): the policy's message, or nil. */
static int p_password_problem(lua_State *L)
{
    size_t len;
    const char *password = luaL_checklstring(L, 1, &len);
    const char *problem = bo_password_problem(password, len, luaL_optstring(L, 2, NULL));
    if (!problem)
        return 0;
    lua_pushstring(L, problem);
    return 1;
}

/* borough._auth(): the private table, once; nil after that. */
static int l_auth(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &private_key);
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &private_key);
    return 1;
}

void bo_lauth_open(lua_State *L)
{
    static const luaL_Reg private_fns[] = {
        { "sign_in", p_sign_in },
        { "sign_out", p_sign_out },
        { "change_password", p_change_password },
        { "password_problem", p_password_problem },
        { NULL, NULL },
    };
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, work_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "borough.auth_work");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &work_mt_key);
    luaL_newlib(L, private_fns);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &private_key);
    lua_getglobal(L, "borough");
    lua_pushcfunction(L, l_auth);
    lua_setfield(L, -2, "_auth");
    lua_pop(L, 1);
}

/* ---- borough test ---- */

/* borough._test_session(email, name, roles): makes (or updates) the account
   with these roles in the app under test, starts a session and returns its
   token. Only `borough test` has it, in its temporary data folder. */
static int test_session(lua_State *L)
{
    const char *data_dir = lua_tostring(L, lua_upvalueindex(1));
    const char *app = lua_tostring(L, lua_upvalueindex(2));
    const char *email = luaL_checkstring(L, 1);
    const char *name = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    bo_db *db;
    char err[512];
    if (bo_platformdb_open(&db, data_dir, err, sizeof err) < 0)
        return luaL_error(L, "t.login: %s", err);
    /* Nobody signs in with this password: it is random and forgotten. */
    uint8_t raw[24];
    char random_pw[40];
    bo_random(raw, sizeof raw);
    bo_hex(raw, 16, random_pw);
    char *hash = bo_password_hash(random_pw, 32, err, sizeof err);
    int rc = hash ? 0 : BO_EINVAL;
    sqlite3 *s = bo_db_sqlite(db);
    sqlite3_stmt *st = NULL;
    int64_t id = 0;
    if (rc == 0 && sqlite3_prepare_v2(s,
            "INSERT INTO users (email, name, password_hash, created_ms, password_ms) VALUES (?1, ?2, ?3, ?4, ?4) "
            "ON CONFLICT (email) DO UPDATE SET name = ?2, disabled = 0 RETURNING id", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, email, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, bo_session_now());
        if (sqlite3_step(st) == SQLITE_ROW)
            id = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    free(hash);
    if (id) {
        st = NULL;
        if (sqlite3_prepare_v2(s, "DELETE FROM user_roles WHERE user_id = ? AND app = ?", -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_text(st, 2, app, -1, SQLITE_TRANSIENT);
            sqlite3_step(st);
        }
        sqlite3_finalize(st);
        lua_Integer n = luaL_len(L, 3);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, 3, i);
            const char *role = lua_tostring(L, -1);
            st = NULL;
            if (role && sqlite3_prepare_v2(s, "INSERT OR IGNORE INTO user_roles (user_id, app, role) VALUES (?, ?, ?)",
                                           -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_int64(st, 1, id);
                sqlite3_bind_text(st, 2, app, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 3, role, -1, SQLITE_TRANSIENT);
                sqlite3_step(st);
            }
            sqlite3_finalize(st);
            lua_pop(L, 1);
        }
    }
    char token[BO_SESSION_TOKEN_CHARS + 1];
    int64_t sid;
    bo_session_limits lim = { BO_SESSION_IDLE_DEFAULT, BO_SESSION_MAX_DEFAULT };
    if (!id && rc == 0)
        snprintf(err, sizeof err, "cannot make the account: %s", sqlite3_errmsg(s));
    else if (id)
        rc = bo_session_create(db, id, "127.0.0.1", &lim, token, &sid, err, sizeof err);
    bo_db_close(db);
    if (!id || rc < 0)
        return luaL_error(L, "t.login: %s", err);
    lua_pushstring(L, token);
    return 1;
}

void bo_lauth_test_open(lua_State *L, const char *data_dir, const char *app)
{
    lua_getglobal(L, "borough");
    lua_pushstring(L, data_dir);
    lua_pushstring(L, app);
    lua_pushcclosure(L, test_session, 2);
    lua_setfield(L, -2, "_test_session");
    lua_pop(L, 1);
}
