/*
 * accounts.c - staff accounts and roles as an operator manages them (see
 * accounts.h).
 */
#include "accounts.h"
#include "apitoken.h"
#include "platformdb.h"
#include "session.h"
#include "sso.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool bo_account_role_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return false;
    return true;
}

bool bo_account_app_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255 || s[0] == '.')
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '-' || *p == '.'))
            return false;
    return true;
}

/* Runs sql with text parameters (NULL binds NULL) to its end; returns the
   rows changed, or BO_EDB / BO_EEXIST (a constraint) with err. */
static int run(bo_db *db, const char *sql, int n, const char *const *values, char *err, size_t errlen)
{
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, errlen);
    if (!stmt)
        return BO_EDB;
    for (int i = 0; i < n; i++)
        bo_stmt_bind_text_copy(stmt, i + 1, values[i], -1);
    int rc = bo_stmt_step(stmt);
    if (rc != BO_DB_DONE && rc != BO_DB_ROW)
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    if (rc == BO_ECONSTRAINT)
        return BO_EEXIST;
    return rc == BO_DB_DONE || rc == BO_DB_ROW ? (int)bo_db_changes(db) : BO_EDB;
}

/* The id of the account of email, or 0 (with err saying so). */
static int64_t find(bo_db *db, const char *email, char *err, size_t errlen)
{
    static const char sql[] = "SELECT id FROM users WHERE email = ?";
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, errlen);
    if (!stmt)
        return 0;
    bo_stmt_bind_text_copy(stmt, 1, email, -1);
    int64_t id = bo_stmt_step(stmt) == BO_DB_ROW ? bo_stmt_column_int64(stmt, 0) : 0;
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    if (!id)
        snprintf(err, errlen, "no account for %s", email);
    return id;
}

static int audit(bo_db *db, const char *who, const char *action, const char *app, const char *detail, char *err,
                 size_t errlen)
{
    char why[400];
    if (bo_platformdb_audit(db, who, action, app, detail, why, sizeof why) < 0) {
        snprintf(err, errlen, "the platform audit log: %s", why);
        return BO_EDB;
    }
    return 0;
}

/* Ends the transaction an action began: committed if rc is not an error,
   else rolled back. Returns 0 or the error. */
static int finish(bo_db *db, int rc, char *err, size_t errlen)
{
    if (rc >= 0)
        rc = bo_db_commit(db, err, errlen);
    if (rc < 0)
        bo_db_rollback(db);
    return rc < 0 ? rc : 0;
}

/* ---- reading ---- */

#define ACCOUNT_COLUMNS                                                                                      \
    "u.id, u.email, u.name, u.disabled, u.password_hash <> '', u.totp_secret IS NOT NULL, "                  \
    "EXISTS (SELECT 1 FROM sso_identities WHERE user_id = u.id), u.created_ms, "                             \
    "(SELECT count(*) FROM sessions WHERE user_id = u.id), "                                                 \
    "coalesce((SELECT max(seen_ms) FROM sessions WHERE user_id = u.id), 0), "                                \
    "(SELECT group_concat(app || ':' || role, ', ') FROM "                                                    \
    "  (SELECT app, role FROM user_roles WHERE user_id = u.id ORDER BY app, role) AS r)"

/* Who matches a search: the address or the name holds it, in any case. */
#define SEARCH_WHERE "(CAST(?1 AS TEXT) IS NULL OR instr(lower(u.email), lower(?1)) > 0 OR instr(lower(u.name), lower(?1)) > 0)"

static int each_account(bo_stmt *stmt, bo_account_fn fn, void *ud, int *count)
{
    int rc, stop = 0;
    while (!stop && (rc = bo_stmt_step(stmt)) == BO_DB_ROW) {
        bo_account a = {
            .id = bo_stmt_column_int64(stmt, 0),
            .email = bo_stmt_column_text(stmt, 1),
            .name = bo_stmt_column_text(stmt, 2),
            .disabled = bo_stmt_column_int64(stmt, 3) != 0,
            .password = bo_stmt_column_int64(stmt, 4) != 0,
            .two_factor = bo_stmt_column_int64(stmt, 5) != 0,
            .sso = bo_stmt_column_int64(stmt, 6) != 0,
            .created_ms = bo_stmt_column_int64(stmt, 7),
            .sessions = bo_stmt_column_int64(stmt, 8),
            .seen_ms = bo_stmt_column_int64(stmt, 9),
            .roles = bo_stmt_column_text(stmt, 10),
        };
        (*count)++;
        stop = fn ? fn(ud, &a) : 0;
    }
    return stop ? stop : rc == BO_DB_DONE ? 0 : BO_EDB;
}

int bo_accounts_list(bo_db *db, const char *search, unsigned offset, unsigned limit, bo_account_fn fn,
                     void *ud, unsigned *total, char *err, size_t errlen)
{
    static const char list_sql[] = "SELECT " ACCOUNT_COLUMNS " FROM users u WHERE " SEARCH_WHERE
                                   " ORDER BY u.email LIMIT ?2 OFFSET ?3";
    static const char count_sql[] = "SELECT count(*) FROM users u WHERE " SEARCH_WHERE;
    if (search && !*search)
        search = NULL;
    if (total) {
        bo_stmt *stmt = bo_db_prepare(db, count_sql, sizeof count_sql - 1, err, errlen);
        if (!stmt)
            return BO_EDB;
        bo_stmt_bind_text_copy(stmt, 1, search, -1);
        *total = bo_stmt_step(stmt) == BO_DB_ROW ? (unsigned)bo_stmt_column_int64(stmt, 0) : 0;
        bo_stmt_reset(stmt);
        bo_stmt_clear(stmt);
    }
    bo_stmt *stmt = bo_db_prepare(db, list_sql, sizeof list_sql - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_text_copy(stmt, 1, search, -1);
    bo_stmt_bind_int64(stmt, 2, limit);
    bo_stmt_bind_int64(stmt, 3, offset);
    int count = 0;
    int rc = each_account(stmt, fn, ud, &count);
    if (rc == BO_EDB)
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return rc;
}

int bo_account_get(bo_db *db, const char *email, bo_account_fn fn, void *ud, char *err, size_t errlen)
{
    static const char sql[] = "SELECT " ACCOUNT_COLUMNS " FROM users u WHERE u.email = ?1";
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_text_copy(stmt, 1, email, -1);
    int count = 0;
    int rc = each_account(stmt, fn, ud, &count);
    if (rc == BO_EDB)
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    if (rc == 0 && count == 0) {
        snprintf(err, errlen, "no account for %s", email);
        return BO_ENOENT;
    }
    return rc;
}

int bo_account_roles(bo_db *db, int64_t id, bo_account_role_fn fn, void *ud, char *err, size_t errlen)
{
    static const char sql[] = "SELECT app, role, source FROM user_roles WHERE user_id = ? ORDER BY app, role";
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_int64(stmt, 1, id);
    int rc, stop = 0;
    while (!stop && (rc = bo_stmt_step(stmt)) == BO_DB_ROW)
        stop = fn(ud, bo_stmt_column_text(stmt, 0), bo_stmt_column_text(stmt, 1),
                  bo_stmt_column_text(stmt, 2));
    if (!stop && rc != BO_DB_DONE) {
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
        stop = BO_EDB;
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return stop;
}

/* ---- the actions ---- */

int bo_account_add(bo_db *db, const char *who, const char *email, const char *name, const char *hash,
                   char *err, size_t errlen)
{
    if (!bo_account_email_valid(email)) {
        snprintf(err, errlen, "%s is not an email address such as jo.bloggs@example.gov.uk", email);
        return BO_EINVAL;
    }
    if (bo_apitoken_is_account(email)) {
        snprintf(err, errlen, "%s is the form of an API token's service account, not a person's address", email);
        return BO_EINVAL;
    }
    if (!name || !*name || strlen(name) > BO_ACCOUNT_NAME_MAX) {
        snprintf(err, errlen, "the name must be 1 to %d characters", BO_ACCOUNT_NAME_MAX);
        return BO_EINVAL;
    }
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)bo_unix_ms());
    const char *v[] = { email, name, hash, now };
    int rc = bo_db_begin(db, err, errlen);
    if (rc == 0)
        rc = run(db, "INSERT INTO users (email, name, password_hash, created_ms, password_ms) "
                     "VALUES (?1, ?2, ?3, ?4, ?4)", 4, v, err, errlen);
    if (rc == BO_EEXIST)
        snprintf(err, errlen, "there is already an account for %s", email);
    if (rc >= 0)
        rc = audit(db, who, "user-add", NULL, email, err, errlen);
    return finish(db, rc, err, errlen);
}

int bo_account_set_password(bo_db *db, const char *who, const char *email, const char *hash, char *err,
                            size_t errlen)
{
    /* No one signs in as a token: it is stopped by revoking it or disabling
       its account, never given a password. */
    if (bo_apitoken_is_account(email)) {
        snprintf(err, errlen, "%s is an API token's service account: it has no password (revoke the token with "
                              "borough token revoke)", email);
        return BO_EINVAL;
    }
    int64_t id = find(db, email, err, errlen);
    if (!id)
        return BO_ENOENT;
    char now[24], ids[24];
    snprintf(now, sizeof now, "%lld", (long long)bo_unix_ms());
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *v[] = { hash, now, ids };
    int rc = bo_db_begin(db, err, errlen);
    if (rc == 0)
        rc = run(db, "UPDATE users SET password_hash = ?1, password_ms = ?2 WHERE id = ?3", 3, v, err, errlen);
    if (rc >= 0)
        rc = run(db, "DELETE FROM sessions WHERE user_id = ?1", 1, v + 2, err, errlen);
    if (rc >= 0)
        rc = audit(db, who, "password-set", NULL, email, err, errlen);
    return finish(db, rc, err, errlen);
}

int bo_account_set_role(bo_db *db, const char *who, const char *email, const char *app, const char *role,
                        bool remove, bool *changed, char *err, size_t errlen)
{
    *changed = false;
    if (!bo_account_app_ok(app)) {
        snprintf(err, errlen, "%s is not an app name (the app's folder name, such as grants)", app);
        return BO_EINVAL;
    }
    if (!bo_account_role_ok(role)) {
        snprintf(err, errlen, "%s is not a role name: lower-case letters, digits, '_' and '-', starting with a "
                              "letter", role);
        return BO_EINVAL;
    }
    int64_t id = find(db, email, err, errlen);
    if (!id)
        return BO_ENOENT;
    char ids[24], detail[400];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *v[] = { ids, app, role };
    int rc = bo_db_begin(db, err, errlen);
    if (rc == 0)
        rc = run(db, remove ? "DELETE FROM user_roles WHERE user_id = ?1 AND app = ?2 AND role = ?3"
                            : "INSERT INTO user_roles (user_id, app, role) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                 3, v, err, errlen);
    *changed = rc > 0;
    snprintf(detail, sizeof detail, "%s %s", email, role);
    if (rc > 0)
        rc = audit(db, who, remove ? "role-remove" : "role-add", app, detail, err, errlen);
    return finish(db, rc, err, errlen);
}

int bo_account_set_disabled(bo_db *db, const char *who, const char *email, bool disabled, char *err,
                            size_t errlen)
{
    int64_t id = find(db, email, err, errlen);
    if (!id)
        return BO_ENOENT;
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *v[] = { disabled ? "1" : "0", ids };
    int rc = bo_db_begin(db, err, errlen);
    if (rc == 0)
        rc = run(db, "UPDATE users SET disabled = ?1 WHERE id = ?2", 2, v, err, errlen);
    if (rc >= 0 && disabled)
        rc = run(db, "DELETE FROM sessions WHERE user_id = ?1", 1, v + 1, err, errlen);
    if (rc >= 0)
        rc = audit(db, who, disabled ? "user-disable" : "user-enable", NULL, email, err, errlen);
    return finish(db, rc, err, errlen);
}

int bo_account_reset_two_factor(bo_db *db, const char *who, const char *email, char *err, size_t errlen)
{
    int64_t id = find(db, email, err, errlen);
    if (!id)
        return BO_ENOENT;
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *v[] = { ids };
    int rc = bo_db_begin(db, err, errlen);
    if (rc == 0)
        rc = run(db, "UPDATE users SET totp_secret = NULL, totp_step = -1 WHERE id = ?1", 1, v, err, errlen);
    if (rc >= 0)
        rc = run(db, "DELETE FROM recovery_codes WHERE user_id = ?1", 1, v, err, errlen);
    if (rc >= 0)
        rc = run(db, "DELETE FROM two_factor_pending WHERE user_id = ?1", 1, v, err, errlen);
    if (rc >= 0)
        rc = run(db, "DELETE FROM sessions WHERE user_id = ?1", 1, v, err, errlen);
    if (rc >= 0)
        rc = audit(db, who, "two-factor-reset", NULL, email, err, errlen);
    return finish(db, rc, err, errlen);
}

int bo_account_end_sessions(bo_db *db, const char *who, const char *email, int *ended, char *err,
                            size_t errlen)
{
    *ended = 0;
    int64_t id = find(db, email, err, errlen);
    if (!id)
        return BO_ENOENT;
    char ids[24], detail[400];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *v[] = { ids };
    int rc = bo_db_begin(db, err, errlen);
    if (rc == 0)
        rc = run(db, "DELETE FROM sessions WHERE user_id = ?1", 1, v, err, errlen);
    if (rc >= 0) {
        *ended = rc;
        snprintf(detail, sizeof detail, "%s (%d session%s)", email, rc, rc == 1 ? "" : "s");
        rc = audit(db, who, "sessions-end", NULL, detail, err, errlen);
    }
    return finish(db, rc, err, errlen);
}
