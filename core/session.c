/*
 * session.c - sessions and throttling in data/borough.db (see session.h).
 */
#include "session.h"
#include "crypto.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOUCH_MS (60 * 1000)      /* last use is written at most this often */

bool bo_user_has_role(const bo_user *u, const char *role, size_t len)
{
    if (!u || len == 0)
        return false;
    for (const char *p = u->roles; (p = strstr(p, " ")) && p[1]; p++)
        if (strncmp(p + 1, role, len) == 0 && p[1 + len] == ' ')
            return true;
    return false;
}

bool bo_user_has_any_role(const bo_user *u, const char *list)
{
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, " ");
        if (bo_user_has_role(u, p, n))
            return true;
        p += n;
        p += strspn(p, " ");
    }
    return false;
}

/* Runs a prepared statement with integer parameters to its end. */
static int exec_ints(bo_db *db, const char *sql, int n, const int64_t *values)
{
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, sizeof err);
    if (!stmt) {
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", err);
        return BO_EDB;
    }
    for (int i = 0; i < n; i++)
        bo_stmt_bind_int64(stmt, i + 1, values[i]);
    int rc = bo_stmt_step(stmt);
    if (rc != BO_DB_DONE)
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", bo_db_errmsg(db));
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return rc == BO_DB_DONE ? 0 : (rc);
}

bo_user *bo_session_lookup(bo_db *db, const char *token, size_t len, const char *app,
                           const bo_session_limits *lim)
{
    static const char sql[] =
        "SELECT s.id, s.user_id, s.created_ms, s.seen_ms, u.email, u.name, "
        "(SELECT group_concat(role, ' ') FROM user_roles WHERE user_id = u.id AND app = ?2) "
        "FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_hash = ?1 AND u.disabled = 0";
    if (len != BO_SESSION_TOKEN_CHARS)
        return NULL;
    uint8_t hash[32];
    bo_sha256(token, len, hash);
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt) {
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", err);
        return NULL;
    }
    bo_stmt_bind_blob(stmt, 1, hash, sizeof hash);
    bo_stmt_bind_text(stmt, 2, app, -1);
    bo_user *u = NULL;
    int64_t now = bo_unix_ms(), sid = 0, seen = 0;
    bool expired = false;
    int rc = bo_stmt_step(stmt);
    if (rc == BO_DB_ROW) {
        sid = bo_stmt_column_int64(stmt, 0);
        int64_t created = bo_stmt_column_int64(stmt, 2);
        seen = bo_stmt_column_int64(stmt, 3);
        if (now - created >= (int64_t)lim->max_ms || now - seen >= (int64_t)lim->idle_ms) {
            expired = true;
        } else {
            const char *email = (const char *)bo_stmt_column_text(stmt, 4);
            const char *name = (const char *)bo_stmt_column_text(stmt, 5);
            const char *roles = (const char *)bo_stmt_column_text(stmt, 6);
            size_t el = strlen(email ? email : ""), nl = strlen(name ? name : ""), rl = strlen(roles ? roles : "");
            char *p = bo_malloc(sizeof *u + el + nl + rl + 5);
            u = (bo_user *)p;
            p += sizeof *u;
            u->id = bo_stmt_column_int64(stmt, 1);
            u->session = sid;
            memcpy(u->session_hash, hash, sizeof hash);
            u->email = p;
            memcpy(p, email ? email : "", el + 1);
            p += el + 1;
            u->name = p;
            memcpy(p, name ? name : "", nl + 1);
            p += nl + 1;
            u->roles = p;
            *p++ = ' ';
            memcpy(p, roles ? roles : "", rl);
            p += rl;
            if (rl)
                *p++ = ' ';
            *p = '\0';
        }
    } else if (rc != BO_DB_DONE) {
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", bo_db_errmsg(db));
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    if (expired) {
        bo_session_end(db, sid);
    } else if (u) {
        /* Slide the idle time, writing at most once a minute (or a quarter
           of a short idle time, so it still slides). */
        int64_t touch = lim->idle_ms / 4 < TOUCH_MS ? (int64_t)lim->idle_ms / 4 : TOUCH_MS;
        if (now - seen >= touch) {
            int64_t v[2] = { now, sid };
            exec_ints(db, "UPDATE sessions SET seen_ms = ?1 WHERE id = ?2", 2, v);
        }
    }
    return u;
}

int bo_session_valid(bo_db *db, int64_t id, const uint8_t hash[32], const char *app, const char *roles,
                     const bo_session_limits *lim)
{
    static const char sql[] =
        "SELECT s.created_ms, s.seen_ms, "
        "(SELECT group_concat(role, ' ') FROM user_roles WHERE user_id = u.id AND app = ?3) "
        "FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.id = ?1 AND s.token_hash = ?2 AND u.disabled = 0";
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt) {
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", err);
        return BO_EDB;
    }
    bo_stmt_bind_int64(stmt, 1, id);
    bo_stmt_bind_blob(stmt, 2, hash, 32);
    bo_stmt_bind_text(stmt, 3, app, -1);
    int valid = 0, rc = bo_stmt_step(stmt);
    if (rc == BO_DB_ROW) {
        int64_t now = bo_unix_ms();
        valid = now - bo_stmt_column_int64(stmt, 0) < (int64_t)lim->max_ms &&
                now - bo_stmt_column_int64(stmt, 1) < (int64_t)lim->idle_ms;
        if (valid && roles) {
            const char *have = bo_stmt_column_text(stmt, 2);
            char *spaced = bo_sprintf(" %s ", have ? have : "");
            bo_user u = { .roles = spaced };
            valid = bo_user_has_any_role(&u, roles);
            free(spaced);
        }
    } else if (rc != BO_DB_DONE) {
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", bo_db_errmsg(db));
        valid = BO_EDB;
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return valid;
}

int bo_session_create(bo_db *db, int64_t user_id, const char *ip, const bo_session_limits *lim,
                      char token[BO_SESSION_TOKEN_CHARS + 1], int64_t *id, char *err, size_t errlen)
{
    static const char sql[] = "INSERT INTO sessions (token_hash, user_id, created_ms, seen_ms, ip) "
                              "VALUES (?, ?, ?, ?, ?)";
    uint8_t raw[32], hash[32];
    if (bo_random(raw, sizeof raw) < 0) {
        snprintf(err, errlen, "no randomness from the kernel");
        return BO_EIO;
    }
    bo_base64url_encode(raw, sizeof raw, token);
    bo_sha256(token, BO_SESSION_TOKEN_CHARS, hash);
    int64_t now = bo_unix_ms();
    int64_t old[2] = { now - (int64_t)lim->idle_ms, now - (int64_t)lim->max_ms };
    exec_ints(db, "DELETE FROM sessions WHERE seen_ms < ?1 OR created_ms < ?2", 2, old);
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_blob(stmt, 1, hash, sizeof hash);
    bo_stmt_bind_int64(stmt, 2, user_id);
    bo_stmt_bind_int64(stmt, 3, now);
    bo_stmt_bind_int64(stmt, 4, now);
    if (ip)
        bo_stmt_bind_text(stmt, 5, ip, -1);
    else
        bo_stmt_bind_null(stmt, 5);
    int rc = bo_stmt_step(stmt);
    if (rc != BO_DB_DONE)
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    if (rc != BO_DB_DONE)
        return (rc);
    *id = bo_db_last_insert_id(db);
    return 0;
}

int bo_session_end(bo_db *db, int64_t id)
{
    return exec_ints(db, "DELETE FROM sessions WHERE id = ?1", 1, &id);
}

int bo_session_end_user(bo_db *db, int64_t user_id)
{
    return exec_ints(db, "DELETE FROM sessions WHERE user_id = ?1", 1, &user_id);
}

size_t bo_session_cookie(char *out, size_t cap, const char *token, bool secure)
{
    int n = snprintf(out, cap, "%s=%s; Path=/; HttpOnly; SameSite=Lax%s%s", BO_SESSION_COOKIE,
                     token ? token : "", token ? "" : "; Max-Age=0", secure ? "; Secure" : "");
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

int bo_session_failures(bo_db *db, const char *key, int64_t window_ms, int64_t *free_at_ms)
{
    static const char sql[] = "SELECT count(*), min(at_ms) FROM sign_in_failures WHERE key = ? AND at_ms > ?";
    char err[256];
    *free_at_ms = 0;
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt) {
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", err);
        return 0;
    }
    bo_stmt_bind_text(stmt, 1, key, -1);
    bo_stmt_bind_int64(stmt, 2, bo_unix_ms() - window_ms);
    int count = 0;
    if (bo_stmt_step(stmt) == BO_DB_ROW) {
        count = bo_stmt_column_int64(stmt, 0);
        if (count)
            *free_at_ms = bo_stmt_column_int64(stmt, 1) + window_ms;
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return count;
}

int bo_session_fail(bo_db *db, const char *key, int64_t window_ms)
{
    static const char sql[] = "INSERT INTO sign_in_failures (key, at_ms) VALUES (?, ?)";
    int64_t now = bo_unix_ms(), old = now - window_ms;
    exec_ints(db, "DELETE FROM sign_in_failures WHERE at_ms < ?1", 1, &old);
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt) {
        bo_log(BO_LOG_ERROR, NULL, "borough.db: %s", err);
        return BO_EDB;
    }
    bo_stmt_bind_text(stmt, 1, key, -1);
    bo_stmt_bind_int64(stmt, 2, now);
    int rc = bo_stmt_step(stmt);
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return rc == BO_DB_DONE ? 0 : (rc);
}

int bo_session_forgive(bo_db *db, const char *key, bool all)
{
    static const char every[] = "DELETE FROM sign_in_failures WHERE key = ?";
    static const char newest[] = "DELETE FROM sign_in_failures WHERE id = "
                                 "(SELECT max(id) FROM sign_in_failures WHERE key = ?1)";
    const char *sql = all ? every : newest;
    size_t len = all ? sizeof every - 1 : sizeof newest - 1;
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, len, err, sizeof err);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_text(stmt, 1, key, -1);
    int rc = bo_stmt_step(stmt);
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return rc == BO_DB_DONE ? 0 : (rc);
}
