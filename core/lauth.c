/*
 * lauth.c - the C half of staff sign-in (lua/borough/auth.lua): checking a
 * password, starting and ending sessions, changing a password, and the
 * throttle on failed attempts. Given to auth.lua once, as the private table
 * borough._auth() returns (nil to anyone asking after it).
 *
 * Hashing (argon2id, about 45 ms and 19 MiB) runs on libuv's thread pool
 * while the request waits (bo_task_wait_io), so a sign-in never stalls
 * the worker's other connections. An address nobody has an account for is
 * checked against a dummy hash made with the same parameters, so the time
 * an answer takes does not tell whether the account exists; throttling
 * counts attempts per address given, account or not, so neither does it.
 *
 * Two-factor codes (RFC 6238 TOTP, totp.c) for password accounts: an
 * account that has them set up, holds the role admin in any app, or is on
 * a site whose two_factor setting is "all" gets no session from its
 * password alone. Sign-in then records a sign-in waiting for its second
 * factor (two_factor_pending, keyed by the SHA-256 of a cookie, ten
 * minutes) and the second step, a code or a single-use recovery code,
 * starts the session. A code is accepted one 30-second step either side
 * of now and never for a step already used; the same throttle as
 * passwords counts wrong codes. The secret is sealed with the keyring,
 * bound to its account; a recovery code is kept as a SHA-256.
 *
 * Everything here is recorded in the platform audit log: sign-in,
 * sign-in-failed, sign-in-throttled, sign-out, password-change,
 * password-change-failed, two-factor-enrol, two-factor-failed,
 * recovery-code-used.
 */
#include "lauth.h"
#include "netaddr.h"
#include "app.h"
#include "assets.h"
#include "conn.h"
#include "crypto.h"
#include "log.h"
#include "lreq.h"
#include "lsso.h"
#include "password.h"
#include "platformdb.h"
#include "qr.h"
#include "request.h"
#include "sandbox.h"
#include "server.h"
#include "session.h"
#include "sso.h"
#include "totp.h"
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
    bool hash_only;        /* no check: hash new_password (bo_lauth_hash) */
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
    if (w->hash_only) {
        w->new_hash = bo_password_hash(w->new_password, w->new_len, w->err, sizeof w->err);
        return;
    }
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
        bo_task_wake(&w->r->task);
    work_unref(w);
}

/* bo_task_wait_io's cancel: the request ends first. */
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
                      const char *new_password, size_t new_len, bool hash_only)
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
    w->hash_only = hash_only;
    w->password = password ? bo_strndup(password, len) : NULL;
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
    bo_task_wait_io(&r->task, cancel_work, w);
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
    int64_t now = bo_unix_ms(), until = 0, at;
    if (bo_session_failures(db, account, WINDOW_MS, &at) >= ACCOUNT_LIMIT)
        until = at;
    if (bo_session_failures(db, address, WINDOW_MS, &at) >= ADDRESS_LIMIT && at > until)
        until = at;
    if (!until)
        return 0;
    int64_t minutes = (until - now + 59999) / 60000;
    return minutes < 1 ? 1 : (int)minutes;
}

int64_t bo_lauth_push_session(lua_State *L, bo_request *r, bo_db *db, int64_t id)
{
    char token[BO_SESSION_TOKEN_CHARS + 1], err[256], cookie[160];
    int64_t sid;
    if (r->user)
        bo_session_end(db, r->user->session);
    if (bo_session_create(db, id, r->conn->ip, &r->worker->cfg->sessions, token, &sid, err, sizeof err) < 0)
        luaL_error(L, "cannot start a session: %s", err);
    bo_lreq_csrf_rotate(L, r);
    bo_session_cookie(cookie, sizeof cookie, token, bo_conn_secure(r->conn));
    lua_pushstring(L, cookie);
    return sid;
}

/* ---- two-factor codes: the waiting sign-in ---- */

#define PENDING_COOKIE "borough_2fa"
#define PENDING_MS (10 * 60 * 1000)     /* the second step must follow within ten minutes */
#define RECOVERY_CODES 10
#define RECOVERY_BYTES 10               /* 80 random bits: 16 base32 characters */
#define RECOVERY_CHARS 16

/* 0: the account needs no second factor; 1: it has codes set up; 2: it
   must set them up first (it holds the role admin in an app, or the site
   asks it of every password account: two_factor = all). */
static int second_factor(bo_db *db, int64_t id)
{
    static const char sql[] = "SELECT totp_secret IS NOT NULL, "
                              "EXISTS (SELECT 1 FROM user_roles WHERE user_id = ?1 AND role = 'admin') "
                              "FROM users WHERE id = ?1";
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt) {
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", err);
        return 2;        /* cannot tell: ask for the stronger */
    }
    bo_stmt_bind_int64(stmt, 1, id);
    bool enrolled = false, admin = false;
    if (bo_stmt_step(stmt) == BO_DB_ROW) {
        enrolled = bo_stmt_column_int64(stmt, 0) != 0;
        admin = bo_stmt_column_int64(stmt, 1) != 0;
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    if (enrolled)
        return 1;
    if (admin)
        return 2;
    char *all = bo_sso_setting_get(db, "two_factor");
    bool every = all && strcmp(all, "all") == 0;
    free(all);
    return every ? 2 : 0;
}

static void pending_cookie(char *out, size_t cap, const char *token, bool secure)
{
    snprintf(out, cap, "%s=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%d%s", PENDING_COOKIE, token ? token : "",
             token ? PENDING_MS / 1000 : 0, secure ? "; Secure" : "");
}

/* Starts a sign-in waiting for the second factor of user id; pushes the
   Set-Cookie value that names it to this browser. */
static void push_pending(lua_State *L, bo_request *r, bo_db *db, int64_t id, uint8_t hash_out[32])
{
    static const char old_sql[] = "DELETE FROM two_factor_pending WHERE created_ms < ?";
    static const char sql[] = "INSERT INTO two_factor_pending (token_hash, user_id, created_ms) VALUES (?, ?, ?)";
    uint8_t raw[32], hash[32];
    char token[BO_SESSION_TOKEN_CHARS + 1], err[256], cookie[200];
    if (bo_random(raw, sizeof raw) < 0)
        luaL_error(L, "no randomness from the kernel");
    bo_base64url_encode(raw, sizeof raw, token);
    bo_sha256(token, strlen(token), hash);
    int64_t now = bo_unix_ms(), old = now - PENDING_MS;
    bo_stmt *stmt = bo_db_prepare(db, old_sql, sizeof old_sql - 1, err, sizeof err);
    if (stmt) {
        bo_stmt_bind_int64(stmt, 1, old);
        bo_stmt_step(stmt);
        bo_stmt_reset(stmt);
    }
    stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    int rc = BO_EDB;
    if (stmt) {
        bo_stmt_bind_blob_copy(stmt, 1, hash, sizeof hash);
        bo_stmt_bind_int64(stmt, 2, id);
        bo_stmt_bind_int64(stmt, 3, now);
        rc = bo_stmt_step(stmt);
        bo_stmt_reset(stmt);
        bo_stmt_clear(stmt);
    }
    if (rc != BO_DB_DONE)
        luaL_error(L, "cannot record the sign-in: %s", stmt ? bo_db_errmsg(db) : err);
    pending_cookie(cookie, sizeof cookie, token, bo_conn_secure(r->conn));
    lua_pushstring(L, cookie);
    if (hash_out)
        memcpy(hash_out, hash, sizeof hash);
}

/* A sign-in waiting for its second factor, and its account. */
typedef struct pending {
    bool found;
    uint8_t hash[32];      /* of the cookie's token: the row's key */
    int64_t id;            /* the account */
    char email[EMAIL_MAX + 1];
    bool password;         /* the account has a password (not single sign-on only) */
    char *secret;          /* a secret being set up (sealed), new or NULL */
    char *totp;            /* the account's secret (sealed), new or NULL */
    int64_t step;          /* the last step a code was used for */
} pending;

static void pending_release(pending *p)
{
    free(p->secret);
    free(p->totp);
    memset(p, 0, sizeof *p);
}

/* Finds the waiting sign-in the request's cookie names: there, less than
   ten minutes old, its account enabled. */
static pending find_pending(bo_db *db, bo_request *r)
{
    static const char sql[] = "SELECT p.user_id, p.created_ms, p.secret, u.email, u.password_hash <> '', "
                              "u.totp_secret, u.totp_step FROM two_factor_pending p "
                              "JOIN users u ON u.id = p.user_id WHERE p.token_hash = ? AND u.disabled = 0";
    pending p = { 0 };
    size_t len;
    const char *token = bo_lreq_cookie(r->http, PENDING_COOKIE, &len);
    if (!token || len != BO_SESSION_TOKEN_CHARS)
        return p;
    bo_sha256(token, len, p.hash);
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt) {
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", err);
        return p;
    }
    bo_stmt_bind_blob_copy(stmt, 1, p.hash, sizeof p.hash);
    if (bo_stmt_step(stmt) == BO_DB_ROW && bo_unix_ms() - bo_stmt_column_int64(stmt, 1) < PENDING_MS) {
        p.found = true;
        p.id = bo_stmt_column_int64(stmt, 0);
        const char *secret = (const char *)bo_stmt_column_text(stmt, 2);
        p.secret = secret ? bo_strdup(secret) : NULL;
        snprintf(p.email, sizeof p.email, "%s", (const char *)bo_stmt_column_text(stmt, 3));
        p.password = bo_stmt_column_int64(stmt, 4) != 0;
        const char *totp = (const char *)bo_stmt_column_text(stmt, 5);
        p.totp = totp ? bo_strdup(totp) : NULL;
        p.step = bo_stmt_column_int64(stmt, 6);
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return p;
}

/* Runs sql with the blob hash (32 bytes) and then the integers given. */
static int exec_hash(bo_db *db, const char *sql, const uint8_t *hash, int n, const int64_t *values)
{
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, sizeof err);
    if (!stmt) {
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", err);
        return BO_EDB;
    }
    int i = 1;
    if (hash)
        bo_stmt_bind_blob_copy(stmt, i++, hash, 32);
    for (int j = 0; j < n; j++)
        bo_stmt_bind_int64(stmt, i++, values[j]);
    int rc = bo_stmt_step(stmt);
    if (rc != BO_DB_DONE)
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", bo_db_errmsg(db));
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return rc == BO_DB_DONE ? 0 : (rc);
}

static const bo_keyring *keyring(lua_State *L, bo_request *r)
{
    char err[256];
    const bo_keyring *k = bo_keyring_shared(r->worker->server->cfg.data_dir, err, sizeof err);
    if (!k)
        luaL_error(L, "the keyring: %s", err);
    return k;
}

/* Opens the sealed secret of account id into key. */
static bool open_secret(const bo_keyring *k, int64_t id, const char *sealed, uint8_t key[BO_TOTP_SECRET_BYTES])
{
    char aad[64], err[256];
    bo_platformdb_totp_aad(aad, sizeof aad, id);
    bo_buf plain;
    bo_buf_init(&plain);
    int rc = bo_unseal(k, aad, sealed, strlen(sealed), &plain, err, sizeof err);
    bool ok = rc == 0 && plain.len == BO_TOTP_SECRET_BYTES;
    if (ok)
        memcpy(key, plain.data, BO_TOTP_SECRET_BYTES);
    else
        bo_log(BO_LOG_ERROR, NULL, "the two-factor secret of account %lld: %s", (long long)id,
               rc ? err : "the wrong length");
    if (plain.data)
        memset(plain.data, 0, plain.len);
    bo_buf_free(&plain);
    return ok;
}

/* A code as typed, without spaces and hyphens, in lower case; false if
   that is longer than cap - 1. */
static bool normal_code(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in; in++) {
        if (*in == ' ' || *in == '-' || *in == '\t')
            continue;
        if (n + 1 >= cap)
            return false;
        out[n++] = (*in >= 'A' && *in <= 'Z') ? (char)(*in - 'A' + 'a') : *in;
    }
    out[n] = '\0';
    return true;
}

/* The stored form of a recovery code (normalised) of account id: SHA-256
   over the purpose, the account and the code. 80 random bits are beyond
   guessing, so a fast hash is enough. */
static void recovery_hash(int64_t id, const char *code, uint8_t out[32])
{
    char text[96];
    int n = snprintf(text, sizeof text, "borough recovery code%c%lld%c%s", 0, (long long)id, 0, code);
    bo_sha256(text, (size_t)n, out);
}

/* Checks code, six digits or a recovery code, for the account of p and
   records its use so it never works again. Returns 0 (with *recovery set
   when it was a recovery code and *left the ones left), or BO_EVERIFY. */
static int check_code(bo_db *db, const bo_keyring *k, const pending *p, const char *typed, bool *recovery,
                      int *left)
{
    char code[40];
    *recovery = false;
    if (!normal_code(typed, code, sizeof code) || !p->totp)
        return BO_EVERIFY;
    if (strlen(code) == BO_TOTP_DIGITS) {
        uint8_t key[BO_TOTP_SECRET_BYTES];
        int64_t step;
        if (!open_secret(k, p->id, p->totp, key))
            return BO_EVERIFY;
        int rc = bo_totp_check(key, sizeof key, code, bo_unix_ms() / 1000, p->step, &step);
        memset(key, 0, sizeof key);
        if (rc)
            return BO_EVERIFY;
        /* Only if no other request used this step meanwhile. */
        static const char sql[] = "UPDATE users SET totp_step = ?1 WHERE id = ?2 AND totp_step < ?1";
        int64_t v[2] = { step, p->id };
        if (exec_hash(db, sql, NULL, 2, v) < 0 || bo_db_changes(db) != 1)
            return BO_EVERIFY;
        return 0;
    }
    if (strlen(code) != RECOVERY_CHARS)
        return BO_EVERIFY;
    uint8_t hash[32];
    recovery_hash(p->id, code, hash);
    static const char use[] = "UPDATE recovery_codes SET used_ms = ?3 WHERE code_hash = ?1 AND user_id = ?2 "
                              "AND used_ms IS NULL";
    int64_t v[2] = { p->id, bo_unix_ms() };
    if (exec_hash(db, use, hash, 2, v) < 0 || bo_db_changes(db) != 1)
        return BO_EVERIFY;
    *recovery = true;
    char err[256];
    static const char count[] = "SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_ms IS NULL";
    bo_stmt *stmt = bo_db_prepare(db, count, sizeof count - 1, err, sizeof err);
    *left = 0;
    if (stmt) {
        bo_stmt_bind_int64(stmt, 1, p->id);
        if (bo_stmt_step(stmt) == BO_DB_ROW)
            *left = bo_stmt_column_int64(stmt, 0);
        bo_stmt_reset(stmt);
        bo_stmt_clear(stmt);
    }
    return 0;
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
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, sizeof err);
    if (!stmt) {
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", err);
        return u;
    }
    if (email)
        bo_stmt_bind_text_copy(stmt, 1, email, -1);
    else
        bo_stmt_bind_int64(stmt, 1, id);
    if (bo_stmt_step(stmt) == BO_DB_ROW) {
        u.id = bo_stmt_column_int64(stmt, 0);
        u.disabled = bo_stmt_column_int64(stmt, 1) != 0;
        u.hash = bo_strdup((const char *)bo_stmt_column_text(stmt, 2));
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return u;
}

/* Stores a new password hash for user id; returns the SQLite result. */
static int set_hash(bo_db *db, int64_t id, const char *hash)
{
    static const char sql[] = "UPDATE users SET password_hash = ?, password_ms = ? WHERE id = ?";
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt) {
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", err);
        return BO_EDB;
    }
    bo_stmt_bind_text_copy(stmt, 1, hash, -1);
    bo_stmt_bind_int64(stmt, 2, bo_unix_ms());
    bo_stmt_bind_int64(stmt, 3, id);
    int rc = bo_stmt_step(stmt);
    if (rc != BO_DB_DONE)
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", bo_db_errmsg(db));
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
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
        int second = second_factor(db, u.id);
        if (second) {
            /* No session yet: the second step finishes the sign-in. */
            push_pending(L, r, db, u.id, NULL);
            lua_pushboolean(L, 1);
            lua_insert(L, -2);
            lua_pushstring(L, second == 1 ? "two-factor" : "enrol");
            return 3;
        }
        bo_lauth_push_session(L, r, db, u.id);
        snprintf(detail, sizeof detail, "from %s", r->conn->ip);
        audit(db, r, email, "sign-in", detail);
        lua_pushboolean(L, 1);
        lua_insert(L, -2);
        return 2;
    }
    snprintf(detail, sizeof detail, "%s, from %s",
             !known ? (u.id ? "no password (a single sign-on account)" : "no such account")
             : u.disabled ? "account disabled" : "wrong password", r->conn->ip);
    audit(db, r, email, "sign-in-failed", detail);
    luaL_pushfail(L);
    lua_pushliteral(L, "wrong");
    return 2;
}

/* sign_in(email, password): true and the Set-Cookie value of a session;
   or, when the account needs a second factor, true, the Set-Cookie value
   of a sign-in waiting for it and "two-factor" (ask for a code) or "enrol"
   (set up codes first); or nil and "wrong" (no such account, a wrong
   password, a disabled account, an account that signs in only with single
   sign-on: all the same to the person asking), or nil, "throttled" and
   the minutes to wait. Waits while the password is checked. */
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
    if (u.hash && !*u.hash) {
        /* Made by single sign-on: no password opens it, in the time a
           wrong one takes. */
        free(u.hash);
        u.hash = NULL;
    }
    lua_settop(L, 2);
    int box = start_work(L, r, u.hash, password, plen, NULL, 0, false);
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
    if (rc != BO_DB_DONE)
        return luaL_error(L, "cannot change the password (see the log)");
    /* Every session of the account ends; this browser gets a new one. */
    bo_session_end_user(db, r->user->id);
    bo_session_forgive(db, account, true);
    audit(db, r, r->user->email, "password-change", "every session ended");
    int64_t id = r->user->id;
    free(r->user);           /* its session is gone */
    r->user = NULL;
    bo_lauth_push_session(L, r, db, id);
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
    int box = start_work(L, r, u.hash, cur, clen, new_password, nlen, false);
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

/* bo_lauth_hash's continuation: the hash made on the pool. */
static int hash_done(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    work_box *b = lua_touserdata(L, (int)(ctx < 0 ? -ctx : ctx));
    auth_work *w = b->w;
    if (!w || w->abandoned)
        return luaL_error(L, "the request ended before the password was hashed");
    b->w = NULL;
    if (!w->new_hash) {
        bo_log(BO_LOG_ERROR, NULL, "password hash: %s", w->err);
        work_unref(w);
        return luaL_error(L, "the password could not be hashed (see the log)");
    }
    lua_pushstring(L, w->new_hash);
    work_unref(w);
    return 1;
}

int bo_lauth_hash(lua_State *L)
{
    size_t len;
    const char *password = luaL_checklstring(L, 1, &len);
    const char *problem = bo_password_problem(password, len, luaL_optstring(L, 2, NULL));
    if (problem) {
        luaL_pushfail(L);
        lua_pushstring(L, problem);
        return 2;
    }
    bo_request *r = current(L, "hash_password");
    lua_settop(L, 1);
    int box = start_work(L, r, NULL, NULL, 0, password, len, true);
    if (box < 0)
        return hash_done(L, LUA_OK, -box);
    bo_sandbox_push_sentinel(L);
    return lua_yieldk(L, 1, box, hash_done);
}

/* ---- two-factor codes: the second step and setting up ---- */

/* Pushes the session's Set-Cookie value (bo_lauth_push_session) and the one
   that removes the waiting sign-in's cookie, as a list. */
static void push_cookies(lua_State *L, bo_request *r, bo_db *db, int64_t id)
{
    lua_createtable(L, 2, 0);
    bo_lauth_push_session(L, r, db, id);
    lua_rawseti(L, -2, 1);
    char cookie[200];
    pending_cookie(cookie, sizeof cookie, NULL, bo_conn_secure(r->conn));
    lua_pushstring(L, cookie);
    lua_rawseti(L, -2, 2);
}

/* A failure of the second step, counted and recorded. */
static int code_failed(lua_State *L, bo_db *db, bo_request *r, const pending *p, const char *what)
{
    char detail[128];
    snprintf(detail, sizeof detail, "%s, from %s", what, r->conn->ip);
    audit(db, r, p->email, "two-factor-failed", detail);
    luaL_pushfail(L);
    lua_pushliteral(L, "wrong");
    return 2;
}

/* Applies the throttle of passwords to the account of p: returns the
   minutes to wait (after recording it) or 0, having counted this attempt
   as a failure until it succeeds. */
static int throttle_code(bo_db *db, bo_request *r, const pending *p, char account[EMAIL_MAX + 16], char address[64])
{
    throttle_keys(p->email, r->conn->ip, account, address);
    int minutes = throttled(db, account, address);
    if (minutes) {
        char detail[128];
        snprintf(detail, sizeof detail, "throttled, from %s", r->conn->ip);
        audit(db, r, p->email, "two-factor-failed", detail);
        return minutes;
    }
    bo_session_fail(db, account, WINDOW_MS);
    bo_session_fail(db, address, WINDOW_MS);
    return 0;
}

static int push_throttled(lua_State *L, int minutes)
{
    luaL_pushfail(L);
    lua_pushliteral(L, "throttled");
    lua_pushinteger(L, minutes);
    return 3;
}

/* two_factor_pending(): "two-factor" (asks for a code) or "enrol" (must set
   codes up) when the request's browser has a sign-in waiting for its
   second factor; nil otherwise. */
static int p_two_factor_pending(lua_State *L)
{
    bo_request *r = current(L, "two_factor_pending");
    pending p = find_pending(platform(L, r), r);
    if (!p.found)
        return 0;
    lua_pushstring(L, p.totp ? "two-factor" : "enrol");
    pending_release(&p);
    return 1;
}

/* two_factor(code): finishes the waiting sign-in with a code from the
   authenticator app or a recovery code: true, the Set-Cookie values (a
   list: the session, and the waiting cookie removed) and, for a recovery
   code, how many are left; or nil and "wrong" (also a code used before),
   "expired" (no sign-in waits: start again) or "enrol"; or nil,
   "throttled", minutes. */
static int p_two_factor(lua_State *L)
{
    const char *code = luaL_checkstring(L, 1);
    bo_request *r = current(L, "two_factor");
    bo_db *db = platform(L, r);
    const bo_keyring *k = keyring(L, r);
    pending p = find_pending(db, r);
    if (!p.found || !p.totp) {
        luaL_pushfail(L);
        lua_pushstring(L, p.found ? "enrol" : "expired");
        pending_release(&p);
        return 2;
    }
    char account[EMAIL_MAX + 16], address[64], detail[128];
    int minutes = throttle_code(db, r, &p, account, address);
    if (minutes) {
        pending_release(&p);
        return push_throttled(L, minutes);
    }
    bool recovery;
    int left = 0;
    if (check_code(db, k, &p, code, &recovery, &left) < 0) {
        int n = code_failed(L, db, r, &p, "wrong code");
        pending_release(&p);
        return n;
    }
    bo_session_forgive(db, account, true);
    bo_session_forgive(db, address, false);
    exec_hash(db, "DELETE FROM two_factor_pending WHERE token_hash = ?", p.hash, 0, NULL);
    if (recovery) {
        snprintf(detail, sizeof detail, "%d left, from %s", left, r->conn->ip);
        audit(db, r, p.email, "recovery-code-used", detail);
    }
    snprintf(detail, sizeof detail, "with a %s, from %s", recovery ? "recovery code" : "two-factor code", r->conn->ip);
    audit(db, r, p.email, "sign-in", detail);
    int64_t id = p.id;
    pending_release(&p);
    lua_pushboolean(L, 1);
    push_cookies(L, r, db, id);
    if (!recovery)
        return 2;
    lua_pushinteger(L, left);
    return 3;
}

/* The waiting sign-in whose codes may be set up now: one that must enrol,
   or, for someone signed in with a password, their own (made here: its
   cookie is pushed, else nil is). */
static pending setup_pending(lua_State *L, bo_request *r, bo_db *db)
{
    pending p = find_pending(db, r);
    bool mine = p.found && r->user && r->user->id == p.id;
    if (p.found && (mine || !p.totp)) {
        lua_pushnil(L);
        return p;
    }
    pending_release(&p);
    user_row u = r->user ? find_user(db, "SELECT id, disabled, password_hash FROM users WHERE id = ?", NULL,
                                     r->user->id) : (user_row){ 0 };
    bool password = u.hash && *u.hash;
    free(u.hash);
    if (!password) {
        lua_pushnil(L);
        return p;
    }
    /* find_pending reads the cookie of the request; this one is new. */
    push_pending(L, r, db, r->user->id, p.hash);
    p.found = true;
    p.id = r->user->id;
    snprintf(p.email, sizeof p.email, "%s", r->user->email);
    p.password = true;
    return p;
}

/* totp_setup(qr_title): for the page that sets up codes: the secret as
   text in groups of four, the QR code of its otpauth:// URI as SVG (with
   qr_title as its accessible name), and the Set-Cookie value of the
   waiting sign-in when one was made here (else nil); or nil, "expired"
   when nothing may be set up (no sign-in waiting, or an account without a
   password). The secret stays the same until it is confirmed. */
static int p_totp_setup(lua_State *L)
{
    const char *title = luaL_checkstring(L, 1);
    bo_request *r = current(L, "totp_setup");
    bo_db *db = platform(L, r);
    const bo_keyring *k = keyring(L, r);
    lua_settop(L, 1);
    pending p = setup_pending(L, r, db);                      /* 2: cookie or nil */
    if (!p.found) {
        luaL_pushfail(L);
        lua_pushliteral(L, "expired");
        return 2;
    }
    uint8_t key[BO_TOTP_SECRET_BYTES];
    if (!p.secret || !open_secret(k, p.id, p.secret, key)) {
        char aad[64];
        bo_platformdb_totp_aad(aad, sizeof aad, p.id);
        if (bo_totp_secret(key) < 0) {
            pending_release(&p);
            return luaL_error(L, "no randomness from the kernel");
        }
        char *sealed = bo_seal(k, aad, key, sizeof key);
        static const char sql[] = "UPDATE two_factor_pending SET secret = ? WHERE token_hash = ?";
        char err[256];
        bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
        int rc = BO_EDB;
        if (stmt) {
            bo_stmt_bind_text_copy(stmt, 1, sealed, -1);
            bo_stmt_bind_blob_copy(stmt, 2, p.hash, 32);
            rc = bo_stmt_step(stmt);
            bo_stmt_reset(stmt);
            bo_stmt_clear(stmt);
        }
        free(sealed);
        if (rc != BO_DB_DONE) {
            memset(key, 0, sizeof key);
            pending_release(&p);
            return luaL_error(L, "cannot keep the new secret (see the log)");
        }
    }
    char text[BO_TOTP_SECRET_CHARS + 1], grouped[BO_TOTP_SECRET_CHARS * 5 / 4 + 1];
    bo_base32_encode(key, sizeof key, text);
    size_t n = 0;
    for (size_t i = 0; text[i]; i++) {
        if (i && i % 4 == 0)
            grouped[n++] = ' ';
        grouped[n++] = text[i];
    }
    grouped[n] = '\0';
    const bo_site *site = bo_site_get(r->worker->server->cfg.data_dir);
    char *uri = bo_totp_uri(site->name && *site->name ? site->name : "borough", p.email, key, sizeof key);
    memset(key, 0, sizeof key);
    memset(text, 0, sizeof text);
    pending_release(&p);
    bo_qr q;
    int rc = bo_qr_encode(uri, strlen(uri), BO_QR_MEDIUM, 1, 40, -1, &q);
    memset(uri, 0, strlen(uri));
    free(uri);
    if (rc < 0)
        return luaL_error(L, "cannot draw the QR code: %s", bo_strerror(rc));
    char *svg = bo_qr_svg(&q, title, 4);
    bo_qr_release(&q);
    lua_pushstring(L, grouped);
    memset(grouped, 0, sizeof grouped);
    lua_pushstring(L, svg);
    free(svg);
    lua_pushvalue(L, 2);
    return 3;
}

/* Stores the confirmed secret of p's account (with the step its code
   used) and ten new recovery codes, and ends the waiting sign-in, in one
   transaction; then pushes the codes as a list. */
static int enrol(lua_State *L, bo_db *db, const pending *p, int64_t step)
{
    static const char set_sql[] = "UPDATE users SET totp_secret = ?, totp_step = ? WHERE id = ?";
    char codes[RECOVERY_CODES][RECOVERY_CHARS + 4], err[256];
    int rc = bo_db_begin(db, err, sizeof err);
    if (rc < 0)
        return rc;
    bo_stmt *stmt = bo_db_prepare(db, set_sql, sizeof set_sql - 1, err, sizeof err);
    rc = BO_EDB;
    if (stmt) {
        bo_stmt_bind_text_copy(stmt, 1, p->secret, -1);
        bo_stmt_bind_int64(stmt, 2, step);
        bo_stmt_bind_int64(stmt, 3, p->id);
        rc = bo_stmt_step(stmt) == BO_DB_DONE ? 0 : BO_EDB;
        bo_stmt_reset(stmt);
        bo_stmt_clear(stmt);
    }
    if (rc == 0)
        rc = exec_hash(db, "DELETE FROM recovery_codes WHERE user_id = ?", NULL, 1, &p->id);
    if (rc == 0)
        rc = exec_hash(db, "DELETE FROM two_factor_pending WHERE token_hash = ?", p->hash, 0, NULL);
    for (int i = 0; i < RECOVERY_CODES && rc == 0; i++) {
        uint8_t raw[RECOVERY_BYTES], hash[32];
        char code[RECOVERY_CHARS + 1];
        if (bo_random(raw, sizeof raw) < 0) {
            rc = BO_EIO;
            break;
        }
        bo_base32_encode(raw, sizeof raw, code);
        for (char *c = code; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        recovery_hash(p->id, code, hash);
        rc = exec_hash(db, "INSERT INTO recovery_codes (code_hash, user_id) VALUES (?, ?)", hash, 1, &p->id);
        snprintf(codes[i], sizeof codes[i], "%.4s-%.4s-%.4s-%.4s", code, code + 4, code + 8, code + 12);
    }
    if (rc == 0)
        rc = bo_db_commit(db, err, sizeof err);
    if (rc < 0) {
        bo_db_rollback(db);
        return rc;
    }
    lua_createtable(L, RECOVERY_CODES, 0);
    for (int i = 0; i < RECOVERY_CODES; i++) {
        lua_pushstring(L, codes[i]);
        lua_rawseti(L, -2, i + 1);
    }
    memset(codes, 0, sizeof codes);
    return 0;
}

/* totp_confirm(code): sets up the secret totp_setup showed once a code
   made with it matches: true, the Set-Cookie values (a list: a new session,
   and the waiting cookie removed), and the ten recovery codes (a list, to
   be shown once); or nil and "wrong" or "expired"; or nil, "throttled",
   minutes. */
static int p_totp_confirm(lua_State *L)
{
    const char *typed = luaL_checkstring(L, 1);
    bo_request *r = current(L, "totp_confirm");
    bo_db *db = platform(L, r);
    const bo_keyring *k = keyring(L, r);
    pending p = find_pending(db, r);
    bool allowed = p.found && p.secret && (!p.totp || (r->user && r->user->id == p.id));
    if (!allowed) {
        pending_release(&p);
        luaL_pushfail(L);
        lua_pushliteral(L, "expired");
        return 2;
    }
    char account[EMAIL_MAX + 16], address[64], detail[128], code[40];
    int minutes = throttle_code(db, r, &p, account, address);
    if (minutes) {
        pending_release(&p);
        return push_throttled(L, minutes);
    }
    uint8_t key[BO_TOTP_SECRET_BYTES];
    int64_t step;
    bool ok = normal_code(typed, code, sizeof code) && open_secret(k, p.id, p.secret, key);
    ok = ok && bo_totp_check(key, sizeof key, code, bo_unix_ms() / 1000, -1, &step) == 0;
    memset(key, 0, sizeof key);
    if (!ok) {
        int n = code_failed(L, db, r, &p, "wrong code while setting up");
        pending_release(&p);
        return n;
    }
    lua_pushboolean(L, 1);                                   /* true */
    lua_pushnil(L);                                          /* the cookies, below */
    int rc = enrol(L, db, &p, step);                         /* the codes */
    if (rc < 0) {
        pending_release(&p);
        return luaL_error(L, "cannot set up two-factor codes: %s", bo_strerror(rc));
    }
    bo_session_forgive(db, account, true);
    bo_session_forgive(db, address, false);
    snprintf(detail, sizeof detail, "from %s", r->conn->ip);
    audit(db, r, p.email, "two-factor-enrol", detail);
    snprintf(detail, sizeof detail, "after setting up two-factor codes, from %s", r->conn->ip);
    audit(db, r, p.email, "sign-in", detail);
    int64_t id = p.id;
    pending_release(&p);
    push_cookies(L, r, db, id);
    lua_replace(L, -3);
    return 3;
}

/* account(): what the signed-in person's account has: { password = bool,
   two_factor = bool, sso = bool (this session began with single sign-on) },
   or nil when nobody is signed in. */
static int p_account(lua_State *L)
{
    static const char sql[] = "SELECT password_hash <> '', totp_secret IS NOT NULL FROM users WHERE id = ?";
    bo_request *r = current(L, "account");
    if (!r->user)
        return 0;
    bo_db *db = platform(L, r);
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt)
        return luaL_error(L, "borough.db: %s", err);
    bo_stmt_bind_int64(stmt, 1, r->user->id);
    bool password = false, totp = false;
    if (bo_stmt_step(stmt) == BO_DB_ROW) {
        password = bo_stmt_column_int64(stmt, 0) != 0;
        totp = bo_stmt_column_int64(stmt, 1) != 0;
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    lua_createtable(L, 0, 3);
    lua_pushboolean(L, password);
    lua_setfield(L, -2, "password");
    lua_pushboolean(L, totp);
    lua_setfield(L, -2, "two_factor");
    lua_pushboolean(L, bo_sso_session_is(db, r->user->session));
    lua_setfield(L, -2, "sso");
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

int bo_lauth_open(lua_State *L)
{
    static const luaL_Reg private_fns[] = {
        { "sign_in", p_sign_in },
        { "sign_out", p_sign_out },
        { "change_password", p_change_password },
        { "password_problem", p_password_problem },
        { "two_factor_pending", p_two_factor_pending },
        { "two_factor", p_two_factor },
        { "totp_setup", p_totp_setup },
        { "totp_confirm", p_totp_confirm },
        { "account", p_account },
        { NULL, NULL },
    };
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, work_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "borough.auth_work");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &work_mt_key);
    luaL_newlib(L, private_fns);
    bo_lsso_open(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &private_key);
    lua_pushcfunction(L, l_auth);
    return 1;
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
    bo_db *s = db;
    bo_stmt *st = NULL;
    int64_t id = 0;
    if (rc == 0 && bo_stmt_prepare(s,
            "INSERT INTO users (email, name, password_hash, created_ms, password_ms) VALUES (?1, ?2, ?3, ?4, ?4) "
            "ON CONFLICT (email) DO UPDATE SET name = ?2, disabled = 0 RETURNING id", -1, &st) == BO_OK) {
        bo_stmt_bind_text_copy(st, 1, email, -1);
        bo_stmt_bind_text_copy(st, 2, name, -1);
        bo_stmt_bind_text_copy(st, 3, hash, -1);
        bo_stmt_bind_int64(st, 4, bo_unix_ms());
        if (bo_stmt_step(st) == BO_DB_ROW)
            id = bo_stmt_column_int64(st, 0);
    }
    bo_stmt_finalize(st);
    free(hash);
    if (id) {
        st = NULL;
        if (bo_stmt_prepare(s, "DELETE FROM user_roles WHERE user_id = ? AND app = ?", -1, &st) == BO_OK) {
            bo_stmt_bind_int64(st, 1, id);
            bo_stmt_bind_text_copy(st, 2, app, -1);
            bo_stmt_step(st);
        }
        bo_stmt_finalize(st);
        lua_Integer n = luaL_len(L, 3);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, 3, i);
            const char *role = lua_tostring(L, -1);
            st = NULL;
            if (role && bo_stmt_prepare(s, "INSERT INTO user_roles (user_id, app, role) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                                           -1, &st) == BO_OK) {
                bo_stmt_bind_int64(st, 1, id);
                bo_stmt_bind_text_copy(st, 2, app, -1);
                bo_stmt_bind_text_copy(st, 3, role, -1);
                bo_stmt_step(st);
            }
            bo_stmt_finalize(st);
            lua_pop(L, 1);
        }
    }
    char token[BO_SESSION_TOKEN_CHARS + 1];
    int64_t sid;
    bo_session_limits lim = { BO_SESSION_IDLE_DEFAULT, BO_SESSION_MAX_DEFAULT };
    if (!id && rc == 0)
        snprintf(err, sizeof err, "cannot make the account: %s", bo_db_errmsg(s));
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
