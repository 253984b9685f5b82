/*
 * apitoken.c - API tokens in data/borough.db (see apitoken.h).
 */
#include "apitoken.h"
#include "crypto.h"
#include "log.h"
#include "platformdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ACCOUNT_DOMAIN ".token.invalid"

bool bo_apitoken_is_account(const char *email)
{
    size_t n = strlen(email), k = sizeof ACCOUNT_DOMAIN - 1;
    return n > k && strchr(email, '@') && strcasecmp(email + n - k, ACCOUNT_DOMAIN) == 0;
}

#define HOUR_MS (3600 * 1000LL)
#define NAME_MAX_LEN 100

static int fail(int rc, char *err, size_t errlen, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    return rc;
}

/* A name of the kind given: lower-case letters, digits and '_' (an
   entity), or with '-' too (a role), starting with a letter, at most 64. */
static bool word_ok(const char *s, size_t n, bool dash)
{
    if (n == 0 || n > 64 || s[0] < 'a' || s[0] > 'z')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (dash && c == '-')))
            return false;
    }
    return true;
}

/* An app's folder name: letters, digits, '.', '_' and '-', not starting
   with '.'. */
static bool app_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 100 || s[0] == '.')
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("._-", *p)))
            return false;
    return true;
}

/* Reads a list separated by commas or spaces into out as " a b " (each
   checked as a word); returns the count, or -1 after naming the bad one in
   err. */
static int read_list(const char *list, bool dash, const char *what, bo_buf *out, char *err, size_t errlen)
{
    int n = 0;
    bo_buf_putc(out, ' ');
    for (const char *p = list ? list : ""; *p;) {
        p += strspn(p, ", ");
        size_t len = strcspn(p, ", ");
        if (!len)
            break;
        if (!word_ok(p, len, dash)) {
            snprintf(err, errlen, "%s %.*s must be lower-case letters, digits%s and _, starting with a letter", what,
                     (int)len, p, dash ? ", -" : "");
            return -1;
        }
        bo_buf_append(out, p, len);
        bo_buf_putc(out, ' ');
        p += len;
        n++;
    }
    bo_buf_putc(out, '\0');
    return n;
}

/* Runs sql (no rows wanted) with texts then ints bound in order. */
static int exec(bo_db *db, const char *sql, int ntext, const char *const *text, int nint, const int64_t *ints,
                char *err, size_t errlen)
{
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, errlen);
    if (!stmt)
        return BO_EDB;
    for (int i = 0; i < ntext; i++)
        bo_stmt_bind_text(stmt, i + 1, text[i], -1);
    for (int i = 0; i < nint; i++)
        bo_stmt_bind_int64(stmt, ntext + i + 1, ints[i]);
    int rc = bo_stmt_step(stmt);
    if (rc != BO_DB_DONE)
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return rc == BO_DB_DONE ? 0 : BO_EDB;
}

/* The account's address: the name as a slug, four random hex digits, and
   the app under a domain that cannot exist (RFC 2606). */
static void account_email(const char *name, const char *app, char *out, size_t cap)
{
    char slug[40];
    size_t n = 0;
    bool dash = false;
    for (const char *p = name; *p && n < sizeof slug - 1; p++) {
        char c = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (dash && n)
                slug[n++] = '-';
            if (n < sizeof slug - 1)
                slug[n++] = c;
            dash = false;
        } else {
            dash = true;
        }
    }
    slug[n] = '\0';
    uint8_t rnd[2] = { 0 };
    bo_random(rnd, sizeof rnd);
    char hex[5];
    bo_hex(rnd, sizeof rnd, hex);
    snprintf(out, cap, "%s%s%s@%s" ACCOUNT_DOMAIN, n ? slug : "token", "-", hex, app);
}

int bo_apitoken_create(bo_db *db, const char *who, const char *app, const char *name, const char *entities,
                       const char *roles, int64_t expires_in_ms, char token[BO_APITOKEN_CHARS + 1], int64_t *id,
                       char *email, size_t cap, char *err, size_t errlen)
{
    if (!app_ok(app))
        return fail(BO_EINVAL, err, errlen, "%s is not an app's folder name", app);
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen > NAME_MAX_LEN)
        return fail(BO_EINVAL, err, errlen, "%s", "a token's name is 1 to 100 characters (what it is for: \"Power BI\")");
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            return fail(BO_EINVAL, err, errlen, "%s", "a token's name may not hold control characters");
    if (expires_in_ms <= 0 || expires_in_ms > BO_APITOKEN_MAX_DAYS * 24 * HOUR_MS)
        return fail(BO_EINVAL, err, errlen, "%s", "a token expires within 366 days");
    bo_buf ents, rls;
    bo_buf_init(&ents);
    bo_buf_init(&rls);
    int rc = BO_EINVAL;
    int nents = read_list(entities, false, "the entity", &ents, err, errlen);
    if (nents == 0)
        snprintf(err, errlen, "a token is for at least one entity (--entities a,b)");
    if (nents <= 0 || read_list(roles, true, "the role", &rls, err, errlen) < 0)
        goto out;

    uint8_t raw[32], hash[32];
    if (bo_random(raw, sizeof raw) < 0) {
        rc = fail(BO_EIO, err, errlen, "%s", "no randomness for a token");
        goto out;
    }
    memcpy(token, BO_APITOKEN_PREFIX, 8);
    bo_base64url_encode(raw, sizeof raw, token + 8);
    token[BO_APITOKEN_CHARS] = '\0';
    bo_sha256(token, BO_APITOKEN_CHARS, hash);
    char prefix[16];
    snprintf(prefix, sizeof prefix, "%.12s", token);
    account_email(name, app, email, cap);
    char *account = bo_sprintf("%s (API token)", name);
    int64_t now = bo_unix_ms();

    if ((rc = bo_db_begin(db, err, errlen)) < 0) {
        free(account);
        goto out;
    }
    const char *user_text[] = { email, account };
    int64_t user_ints[] = { now, now };
    rc = exec(db, "INSERT INTO users (email, name, password_hash, created_ms, password_ms) VALUES (?1, ?2, '', ?3, ?4)",
              2, user_text, 2, user_ints, err, errlen);
    free(account);
    int64_t uid = bo_db_last_insert_id(db);
    for (const char *p = rls.data + 1; rc == 0 && *p;) {
        size_t len = strcspn(p, " ");
        char *role = bo_strndup(p, len);
        const char *role_text[] = { app, role };
        rc = exec(db, "INSERT INTO user_roles (app, role, user_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING", 2, role_text, 1,
                  &uid, err, errlen);
        free(role);
        p += len + 1;
    }
    if (rc == 0) {
        static const char sql[] = "INSERT INTO api_tokens (token_hash, prefix, app, name, entities, user_id, "
                                  "created_ms, created_by, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
        bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, errlen);
        rc = BO_EDB;
        if (stmt) {
            bo_stmt_bind_blob(stmt, 1, hash, sizeof hash);
            bo_stmt_bind_text(stmt, 2, prefix, -1);
            bo_stmt_bind_text(stmt, 3, app, -1);
            bo_stmt_bind_text(stmt, 4, name, -1);
            bo_stmt_bind_text(stmt, 5, ents.data, -1);
            bo_stmt_bind_int64(stmt, 6, uid);
            bo_stmt_bind_int64(stmt, 7, now);
            bo_stmt_bind_text(stmt, 8, who, -1);
            bo_stmt_bind_int64(stmt, 9, now + expires_in_ms);
            rc = bo_stmt_step(stmt) == BO_DB_DONE ? 0 : BO_EDB;
            if (rc)
                snprintf(err, errlen, "%s", bo_db_errmsg(db));
            bo_stmt_reset(stmt);
            bo_stmt_clear(stmt);
            *id = bo_db_last_insert_id(db);
        }
    }
    if (rc == 0) {
        char at[32];
        bo_iso_time(now + expires_in_ms, at, sizeof at);
        char *detail = bo_sprintf("API token #%lld \"%s\" (%s...) made for entities %.*s as %s, roles %.*s; "
                                  "expires %.10s", (long long)*id, name, prefix, (int)(ents.len - 3), ents.data + 1,
                                  email, rls.len > 2 ? (int)(rls.len - 3) : 4, rls.len > 2 ? rls.data + 1 : "none",
                                  at);
        rc = bo_platformdb_audit(db, who, "token create", app, detail, err, errlen);
        free(detail);
    }
    if (rc == 0)
        rc = bo_db_commit(db, err, errlen);
    if (rc < 0)
        bo_db_rollback(db);
out:
    bo_buf_free(&ents);
    bo_buf_free(&rls);
    return rc;
}

int bo_apitoken_revoke(bo_db *db, const char *who, int64_t id, char *err, size_t errlen)
{
    static const char sql[] = "SELECT app, name, revoked_ms, user_id FROM api_tokens WHERE id = ?1";
    int rc = bo_db_begin(db, err, errlen);
    if (rc < 0)
        return rc;
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, errlen);
    char *app = NULL, *name = NULL;
    int64_t uid = 0;
    rc = BO_EDB;
    if (stmt) {
        bo_stmt_bind_int64(stmt, 1, id);
        int step = bo_stmt_step(stmt);
        if (step == BO_DB_ROW && bo_stmt_column_type(stmt, 2) != BO_DB_NULL) {
            rc = BO_EEXIST;
            snprintf(err, errlen, "token %lld is revoked already", (long long)id);
        } else if (step == BO_DB_ROW) {
            app = bo_strdup(bo_stmt_column_text(stmt, 0));
            name = bo_strdup(bo_stmt_column_text(stmt, 1));
            uid = bo_stmt_column_int64(stmt, 3);
            rc = 0;
        } else if (step == BO_DB_DONE) {
            rc = BO_ENOENT;
            snprintf(err, errlen, "there is no token %lld (borough token list)", (long long)id);
        } else {
            snprintf(err, errlen, "%s", bo_db_errmsg(db));
        }
        bo_stmt_reset(stmt);
    }
    int64_t now = bo_unix_ms();
    if (rc == 0) {
        const char *text[] = { who };
        int64_t ints[] = { now, id };
        rc = exec(db, "UPDATE api_tokens SET revoked_by = ?1, revoked_ms = ?2 WHERE id = ?3", 1, text, 2, ints, err,
                  errlen);
    }
    if (rc == 0)
        rc = exec(db, "UPDATE users SET disabled = 1 WHERE id = ?1", 0, NULL, 1, &uid, err, errlen);
    if (rc == 0) {
        char *detail = bo_sprintf("API token #%lld \"%s\" revoked", (long long)id, name);
        rc = bo_platformdb_audit(db, who, "token revoke", app, detail, err, errlen);
        free(detail);
    }
    if (rc == 0)
        rc = bo_db_commit(db, err, errlen);
    if (rc < 0)
        bo_db_rollback(db);
    free(app);
    free(name);
    return rc;
}

int bo_apitoken_list(bo_db *db, const char *app, int (*fn)(void *ud, const bo_apitoken_row *row), void *ud,
                     char *err, size_t errlen)
{
    static const char sql[] =
        "SELECT t.id, t.app, t.name, t.prefix, t.entities, u.email, "
        "(SELECT group_concat(role, ' ') FROM user_roles WHERE user_id = u.id AND app = t.app), "
        "t.created_ms, t.expires_ms, t.revoked_ms, t.used_ms, t.uses, t.created_by "
        "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE CAST(?1 AS TEXT) IS NULL OR t.app = ?1 ORDER BY t.id DESC";
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_text(stmt, 1, app, -1);
    int rc, stop = 0;
    while (!stop && (rc = bo_stmt_step(stmt)) == BO_DB_ROW) {
        bo_apitoken_row row = {
            .id = bo_stmt_column_int64(stmt, 0),
            .app = bo_stmt_column_text(stmt, 1),
            .name = bo_stmt_column_text(stmt, 2),
            .prefix = bo_stmt_column_text(stmt, 3),
            .entities = bo_stmt_column_text(stmt, 4),
            .email = bo_stmt_column_text(stmt, 5),
            .roles = bo_stmt_column_text(stmt, 6),
            .created_ms = bo_stmt_column_int64(stmt, 7),
            .expires_ms = bo_stmt_column_int64(stmt, 8),
            .revoked_ms = bo_stmt_column_int64(stmt, 9),
            .used_ms = bo_stmt_column_int64(stmt, 10),
            .uses = bo_stmt_column_int64(stmt, 11),
            .created_by = bo_stmt_column_text(stmt, 12),
        };
        stop = fn(ud, &row);
    }
    if (!stop && rc != BO_DB_DONE) {
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
        stop = BO_EDB;
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return stop;
}

const char *bo_apitoken_refusal_text(bo_apitoken_refusal why)
{
    switch (why) {
    case BO_APITOKEN_MISSING:
        return "this address needs an API token: send it as Authorization: Bearer <token>";
    case BO_APITOKEN_UNKNOWN:
        return "the token is not one of this app's";
    case BO_APITOKEN_EXPIRED:
        return "the token has expired: ask the app's administrator for a new one";
    case BO_APITOKEN_REVOKED:
        return "the token has been revoked";
    default:
        return "";
    }
}

/* Counts the use of token id, and writes its audit row when none was
   written in the last hour (one worker or process wins the hour). */
static void count_use(bo_db *db, int64_t id, const char *app, const char *email, const char *name,
                      int64_t audited, int64_t uses, const char *ip, const char *what)
{
    char err[256];
    int64_t now = bo_unix_ms();
    const char *text[] = { ip };
    int64_t ints[] = { now, id };
    if (exec(db, "UPDATE api_tokens SET uses = uses + 1, used_ms = ?2, used_ip = ?1 WHERE id = ?3", 1, text, 2, ints,
             err, sizeof err) < 0) {
        bo_log(BO_LOG_ERROR, app, "borough.db: counting the use of token %lld: %s", (long long)id, err);
        return;
    }
    if (now - audited < HOUR_MS)
        return;
    int64_t claim[] = { now, id, audited };
    if (exec(db, "UPDATE api_tokens SET audited_ms = ?1 WHERE id = ?2 AND audited_ms = ?3", 0, NULL, 3, claim, err,
             sizeof err) < 0 ||
        bo_db_changes(db) != 1)
        return;
    char *detail = bo_sprintf("API token #%lld \"%s\" used: %s from %s (use %lld; the first use of the hour)",
                              (long long)id, name, what, ip, (long long)uses + 1);
    if (bo_platformdb_audit(db, email, "token use", app, detail, err, sizeof err) < 0)
        bo_log(BO_LOG_ERROR, app, "borough.db: auditing the use of token %lld: %s", (long long)id, err);
    free(detail);
}

bo_apitoken_refusal bo_apitoken_admit(bo_db *db, const char *app, const char *authorization, size_t len,
                                      const char *ip, const char *what, bo_user **user, bo_apitoken **token)
{
    static const char sql[] =
        "SELECT t.id, t.name, t.entities, t.expires_ms, t.revoked_ms, t.audited_ms, t.uses, u.id, u.email, u.name, "
        "u.disabled, (SELECT group_concat(role, ' ') FROM user_roles WHERE user_id = u.id AND app = ?2) "
        "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?1 AND t.app = ?2";
    *user = NULL;
    *token = NULL;
    if (!authorization || len < 7 || strncasecmp(authorization, "Bearer ", 7) != 0)
        return BO_APITOKEN_MISSING;
    const char *t = authorization + 7;
    size_t n = len - 7;
    while (n && *t == ' ')
        t++, n--;
    while (n && t[n - 1] == ' ')
        n--;
    if (n != BO_APITOKEN_CHARS || memcmp(t, BO_APITOKEN_PREFIX, 8) != 0)
        return BO_APITOKEN_UNKNOWN;
    uint8_t hash[32];
    bo_sha256(t, n, hash);
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt) {
        bo_log(BO_LOG_ERROR, app, "borough.db: %s", err);
        return BO_APITOKEN_UNKNOWN;
    }
    bo_stmt_bind_blob(stmt, 1, hash, sizeof hash);
    bo_stmt_bind_text(stmt, 2, app, -1);
    bo_apitoken_refusal why = BO_APITOKEN_UNKNOWN;
    int rc = bo_stmt_step(stmt);
    int64_t id = 0, audited = 0, uses = 0;
    if (rc == BO_DB_ROW) {
        int64_t now = bo_unix_ms();
        id = bo_stmt_column_int64(stmt, 0);
        audited = bo_stmt_column_int64(stmt, 5);
        uses = bo_stmt_column_int64(stmt, 6);
        if (bo_stmt_column_type(stmt, 4) != BO_DB_NULL || bo_stmt_column_int64(stmt, 10))
            why = BO_APITOKEN_REVOKED;
        else if (now >= bo_stmt_column_int64(stmt, 3))
            why = BO_APITOKEN_EXPIRED;
        else
            why = BO_APITOKEN_OK;
    } else if (rc != BO_DB_DONE) {
        bo_log(BO_LOG_ERROR, app, "borough.db: %s", bo_db_errmsg(db));
    }
    if (why == BO_APITOKEN_OK) {
        const char *tname = bo_stmt_column_text(stmt, 1), *ents = bo_stmt_column_text(stmt, 2);
        const char *email = bo_stmt_column_text(stmt, 8), *uname = bo_stmt_column_text(stmt, 9);
        const char *roles = bo_stmt_column_text(stmt, 11);
        tname = tname ? tname : "";
        ents = ents ? ents : " ";
        email = email ? email : "";
        uname = uname ? uname : "";
        roles = roles ? roles : "";
        size_t tl = strlen(tname), el = strlen(ents);
        bo_apitoken *tok = bo_malloc(sizeof *tok + tl + el + 2);
        char *p = (char *)(tok + 1);
        tok->id = id;
        tok->name = memcpy(p, tname, tl + 1);
        tok->entities = memcpy(p + tl + 1, ents, el + 1);
        size_t ml = strlen(email), nl = strlen(uname), rl = strlen(roles);
        bo_user *u = bo_calloc(1, sizeof *u + ml + nl + rl + 5);
        p = (char *)(u + 1);
        u->id = bo_stmt_column_int64(stmt, 7);
        u->email = memcpy(p, email, ml + 1);
        u->name = memcpy(p + ml + 1, uname, nl + 1);
        p += ml + nl + 2;
        u->roles = p;
        *p++ = ' ';
        memcpy(p, roles, rl);
        p += rl;
        if (rl)
            *p++ = ' ';
        *p = '\0';
        *user = u;
        *token = tok;
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    if (why == BO_APITOKEN_OK)
        count_use(db, id, app, (*user)->email, (*token)->name, audited, uses, ip, what);
    return why;
}
