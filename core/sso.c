/*
 * sso.c - single sign-on's settings, sign-ins in flight and accounts in
 * data/borough.db (see sso.h).
 */
#include "sso.h"
#include "crypto.h"
#include "jws.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const bo_sso_setting_names[] = {
    "issuer", "client_id", "client_secret_file", "client_secret_env", "scopes", "roles_claim",
    "subject_claim", "provider_name", "algorithms", "token_auth", "passwords", "two_factor", NULL,
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool bo_account_email_valid(const char *s)
{
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n < 3 || n > 254 || !at || at == s || !at[1] || strchr(at + 1, '@'))
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

/* ---- settings ---- */

/* An https:// URL with a host and no query, fragment, user part or space. */
static bool https_url(const char *v)
{
    if (strncmp(v, "https://", 8) != 0 || !v[8] || v[8] == '/' || strlen(v) > 500)
        return false;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr("?#@\"<>\\", *p))
            return false;
    return true;
}

/* Printable text without the characters that matter in HTML. */
static bool plain_text(const char *v, size_t max)
{
    size_t n = strlen(v);
    if (n == 0 || n > max)
        return false;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f || strchr("<>\"'&\\", *p))
            return false;
    return true;
}

/* Space-separated scope tokens (RFC 6749's characters), one of them openid. */
static bool scopes_ok(const char *v)
{
    bool openid = false;
    const char *p = v;
    if (strlen(v) > 500)
        return false;
    while (*p) {
        size_t n = strcspn(p, " ");
        for (size_t i = 0; i < n; i++)
            if (p[i] < 0x21 || p[i] == '"' || p[i] == '\\' || p[i] == 0x7f)
                return false;
        if (n == 6 && strncmp(p, "openid", 6) == 0)
            openid = true;
        p += n;
        p += strspn(p, " ");
    }
    return openid;
}

/* "RS256,ES256": the accepted algorithms as BO_JWS_* bits, or 0 if any
   name is not one we verify. */
static unsigned parse_algs(const char *v)
{
    unsigned bits = 0;
    char name[16];
    for (const char *p = v; *p;) {
        size_t n = strcspn(p, ", ");
        if (n == 0 || n >= sizeof name)
            return 0;
        memcpy(name, p, n);
        name[n] = '\0';
        unsigned bit = bo_jws_alg(name);
        if (!bit)
            return 0;
        bits |= bit;
        p += n;
        p += strspn(p, ", ");
    }
    return bits;
}

static bool env_name(const char *v)
{
    if (!(isupper((unsigned char)v[0]) || v[0] == '_') || strlen(v) > 100)
        return false;
    for (const char *p = v; *p; p++)
        if (!(isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
            return false;
    return true;
}

int bo_sso_setting_check(const char *key, const char *v, char *err, size_t errlen)
{
    const char *want = NULL;
    if (strcmp(key, "issuer") == 0) {
        if (!https_url(v))
            want = "the provider's issuer URL, such as https://login.microsoftonline.com/TENANT-ID/v2.0";
    } else if (strcmp(key, "client_id") == 0) {
        if (!plain_text(v, 255) || strchr(v, ' '))
            want = "the client (application) id the provider gave, without spaces";
    } else if (strcmp(key, "client_secret_file") == 0) {
        if (!*v || strlen(v) > 1000 || strchr(v, '\n'))
            want = "the path of a file whose first line is the client secret";
    } else if (strcmp(key, "client_secret_env") == 0) {
        if (!env_name(v))
            want = "the name of an environment variable, such as BOROUGH_SSO_SECRET";
    } else if (strcmp(key, "scopes") == 0) {
        if (!scopes_ok(v))
            want = "scopes separated by spaces, including openid, such as \"openid profile email\"";
    } else if (strcmp(key, "roles_claim") == 0) {
        if (strcmp(v, "groups") != 0 && strcmp(v, "roles") != 0)
            want = "groups or roles";
    } else if (strcmp(key, "subject_claim") == 0) {
        if (strcmp(v, "sub") != 0 && strcmp(v, "oid") != 0)
            want = "sub, or oid for Microsoft Entra ID";
    } else if (strcmp(key, "provider_name") == 0) {
        if (!plain_text(v, 60))
            want = "a short name for the sign-in button, such as Microsoft (at most 60 characters, no <>\"'&\\)";
    } else if (strcmp(key, "algorithms") == 0) {
        if (!parse_algs(v))
            want = "one or more of RS256, PS256 and ES256, separated by commas";
    } else if (strcmp(key, "token_auth") == 0) {
        if (strcmp(v, "client_secret_basic") != 0 && strcmp(v, "client_secret_post") != 0)
            want = "client_secret_basic or client_secret_post";
    } else if (strcmp(key, "passwords") == 0) {
        if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
            want = "on (the sign-in page shows the password form) or off";
    } else if (strcmp(key, "two_factor") == 0) {
        if (strcmp(v, "admin") != 0 && strcmp(v, "all") != 0)
            want = "admin (required for holders of the role admin) or all (every password account)";
    } else {
        snprintf(err, errlen, "no setting %s (the settings are issuer, client_id, client_secret_file, "
                              "client_secret_env, scopes, roles_claim, subject_claim, provider_name, algorithms, "
                              "token_auth, passwords, two_factor)", key);
        return BO_ENOENT;
    }
    if (want) {
        snprintf(err, errlen, "%s wants %s", key, want);
        return BO_EINVAL;
    }
    return 0;
}

int bo_sso_settings_load(bo_db *db, bo_sso_settings *s, char *err, size_t errlen)
{
    static const char sql[] = "SELECT key, value FROM sign_in_settings";
    memset(s, 0, sizeof *s);
    s->algs = BO_JWS_RS256;
    s->passwords = true;
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    int rc;
    while ((rc = bo_stmt_step(stmt)) == BO_DB_ROW) {
        const char *k = (const char *)bo_stmt_column_text(stmt, 0);
        const char *v = (const char *)bo_stmt_column_text(stmt, 1);
        if (!k || !v)
            continue;
        char **field = strcmp(k, "issuer") == 0 ? &s->issuer
                       : strcmp(k, "client_id") == 0 ? &s->client_id
                       : strcmp(k, "client_secret_file") == 0 ? &s->secret_file
                       : strcmp(k, "client_secret_env") == 0 ? &s->secret_env
                       : strcmp(k, "scopes") == 0 ? &s->scopes
                       : strcmp(k, "roles_claim") == 0 ? &s->roles_claim
                       : strcmp(k, "subject_claim") == 0 ? &s->subject_claim
                       : strcmp(k, "provider_name") == 0 ? &s->provider_name
                       : NULL;
        if (field) {
            free(*field);
            *field = bo_strdup(v);
        } else if (strcmp(k, "algorithms") == 0) {
            s->algs = parse_algs(v) ? parse_algs(v) : BO_JWS_RS256;
        } else if (strcmp(k, "token_auth") == 0) {
            s->secret_post = strcmp(v, "client_secret_post") == 0;
        } else if (strcmp(k, "passwords") == 0) {
            s->passwords = strcmp(v, "off") != 0;
        } else if (strcmp(k, "two_factor") == 0) {
            s->two_factor_all = strcmp(v, "all") == 0;
        }
    }
    bo_stmt_reset(stmt);
    if (rc != BO_DB_DONE) {
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
        bo_sso_settings_free(s);
        return BO_EDB;
    }
    if (!s->scopes)
        s->scopes = bo_strdup("openid profile email");
    if (!s->roles_claim)
        s->roles_claim = bo_strdup("groups");
    if (!s->subject_claim)
        s->subject_claim = bo_strdup("sub");
    return 0;
}

void bo_sso_settings_free(bo_sso_settings *s)
{
    free(s->issuer);
    free(s->client_id);
    free(s->secret_file);
    free(s->secret_env);
    free(s->scopes);
    free(s->roles_claim);
    free(s->subject_claim);
    free(s->provider_name);
    memset(s, 0, sizeof *s);
}

bool bo_sso_settings_on(const bo_sso_settings *s)
{
    return s->issuer && s->client_id && (s->secret_file || s->secret_env);
}

/* Runs sql with text parameters (NULL binds NULL) to its end. */
static int run_text(bo_db *db, const char *sql, int n, const char *const *values, char *err, size_t errlen)
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
    return rc == BO_DB_DONE || rc == BO_DB_ROW ? 0 : (rc);
}

int bo_sso_setting_store(bo_db *db, const char *key, const char *value, char *err, size_t errlen)
{
    const char *other = strcmp(key, "client_secret_file") == 0 ? "client_secret_env"
                        : strcmp(key, "client_secret_env") == 0 ? "client_secret_file"
                        : NULL;
    int rc = bo_db_begin(db, err, errlen);
    if (rc < 0)
        return rc;
    const char *kv[] = { key, value };
    if (value)
        rc = run_text(db, "INSERT INTO sign_in_settings (key, value) VALUES (?1, ?2) "
                          "ON CONFLICT (key) DO UPDATE SET value = ?2", 2, kv, err, errlen);
    else
        rc = run_text(db, "DELETE FROM sign_in_settings WHERE key = ?1", 1, kv, err, errlen);
    if (rc == 0 && other && value)
        rc = run_text(db, "DELETE FROM sign_in_settings WHERE key = ?1", 1, &other, err, errlen);
    if (rc == 0)
        return bo_db_commit(db, err, errlen);
    bo_db_rollback(db);
    return rc;
}

char *bo_sso_setting_get(bo_db *db, const char *key)
{
    static const char sql[] = "SELECT value FROM sign_in_settings WHERE key = ?";
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt)
        return NULL;
    bo_stmt_bind_text_copy(stmt, 1, key, -1);
    char *v = NULL;
    if (bo_stmt_step(stmt) == BO_DB_ROW)
        v = bo_strdup((const char *)bo_stmt_column_text(stmt, 0));
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return v;
}

int bo_sso_client_secret(const bo_sso_settings *s, char *out, size_t cap, char *err, size_t errlen)
{
    out[0] = '\0';
    size_t n;
    if (s->secret_env) {
        const char *v = getenv(s->secret_env);
        if (!v || !*v) {
            snprintf(err, errlen, "the environment variable %s (client_secret_env) is not set", s->secret_env);
            return BO_ENOENT;
        }
        n = strlen(v);
        if (n >= cap) {
            snprintf(err, errlen, "the client secret in %s is longer than %zu bytes", s->secret_env, cap - 1);
            return BO_EINVAL;
        }
        memcpy(out, v, n + 1);
        return 0;
    }
    if (!s->secret_file) {
        snprintf(err, errlen, "neither client_secret_file nor client_secret_env is set");
        return BO_ENOENT;
    }
    int fd = open(s->secret_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        snprintf(err, errlen, "%s (client_secret_file): %s", s->secret_file, strerror(e));
        return e == ENOENT ? BO_ENOENT : BO_EIO;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 0007)) {
        close(fd);
        snprintf(err, errlen, "%s (client_secret_file) is %s: make it a file only its owner can read (chmod 600)",
                 s->secret_file, S_ISREG(st.st_mode) ? "readable by anyone" : "not a file");
        return BO_EPERM;
    }
    ssize_t got = read(fd, out, cap - 1);
    close(fd);
    if (got < 0) {
        snprintf(err, errlen, "%s (client_secret_file): %s", s->secret_file, strerror(errno));
        return BO_EIO;
    }
    out[got] = '\0';
    n = strcspn(out, "\r\n");
    if (n == (size_t)got && n == cap - 1) {     /* no line end within cap - 1 bytes */
        memset(out, 0, cap);
        snprintf(err, errlen, "the client secret in %s is longer than %zu bytes", s->secret_file, cap - 2);
        return BO_EINVAL;
    }
    memset(out + n, 0, cap - n);
    if (n == 0) {
        snprintf(err, errlen, "%s (client_secret_file) is empty: put the secret on its first line", s->secret_file);
        return BO_EINVAL;
    }
    return 0;
}

/* ---- sign-ins in flight ---- */

int bo_sso_flow_save(bo_db *db, const char *state, const char *browser, const char *client, const bo_sso_flow *f,
                     char *err, size_t errlen)
{
    static const char old_sql[] = "DELETE FROM sso_flows WHERE created_ms < ?";
    static const char count_sql[] = "SELECT count(*) FROM sso_flows WHERE client = ?";
    static const char sql[] = "INSERT INTO sso_flows (state_hash, browser_hash, nonce, verifier, redirect_uri, next, "
                              "created_ms, client) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    uint8_t sh[32], bh[32];
    bo_sha256(state, strlen(state), sh);
    bo_sha256(browser, strlen(browser), bh);
    bo_stmt *old = bo_db_prepare(db, old_sql, sizeof old_sql - 1, err, errlen);
    if (!old)
        return BO_EDB;
    bo_stmt_bind_int64(old, 1, now_ms() - BO_SSO_FLOW_MS);
    bo_stmt_step(old);
    bo_stmt_reset(old);
    bo_stmt *count = bo_db_prepare(db, count_sql, sizeof count_sql - 1, err, errlen);
    if (!count)
        return BO_EDB;
    bo_stmt_bind_text_copy(count, 1, client, -1);
    int64_t n = bo_stmt_step(count) == BO_DB_ROW ? bo_stmt_column_int64(count, 0) : 0;
    bo_stmt_reset(count);
    bo_stmt_clear(count);
    if (n >= BO_SSO_FLOWS_PER_CLIENT) {
        snprintf(err, errlen, "%lld sign-ins begun from %s in ten minutes and not finished", (long long)n, client);
        return BO_ELIMIT;
    }
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_blob_copy(stmt, 1, sh, sizeof sh);
    bo_stmt_bind_blob_copy(stmt, 2, bh, sizeof bh);
    bo_stmt_bind_text_copy(stmt, 3, f->nonce, -1);
    bo_stmt_bind_text_copy(stmt, 4, f->verifier, -1);
    bo_stmt_bind_text_copy(stmt, 5, f->redirect_uri, -1);
    if (f->next)
        bo_stmt_bind_text_copy(stmt, 6, f->next, -1);
    else
        bo_stmt_bind_null(stmt, 6);
    bo_stmt_bind_int64(stmt, 7, f->created_ms);
    bo_stmt_bind_text_copy(stmt, 8, client, -1);
    int rc = bo_stmt_step(stmt);
    if (rc != BO_DB_DONE)
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return rc == BO_DB_DONE ? 0 : (rc);
}

int bo_sso_flow_take(bo_db *db, const char *state, const char *browser, bo_sso_flow *out, char *err,
                     size_t errlen)
{
    static const char sql[] = "DELETE FROM sso_flows WHERE state_hash = ? "
                              "RETURNING browser_hash, nonce, verifier, redirect_uri, next, created_ms";
    memset(out, 0, sizeof *out);
    uint8_t sh[32];
    bo_sha256(state, strlen(state), sh);
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_blob_copy(stmt, 1, sh, sizeof sh);
    int rc = bo_stmt_step(stmt), result = 0;
    bool same_browser = false;
    if (rc == BO_DB_ROW) {
        uint8_t bh[32];
        if (browser)
            bo_sha256(browser, strlen(browser), bh);
        const void *stored = bo_stmt_column_blob(stmt, 0);
        same_browser = browser && stored && bo_stmt_column_bytes(stmt, 0) == 32 && bo_equal_ct(stored, bh, 32);
        snprintf(out->nonce, sizeof out->nonce, "%s", (const char *)bo_stmt_column_text(stmt, 1));
        snprintf(out->verifier, sizeof out->verifier, "%s", (const char *)bo_stmt_column_text(stmt, 2));
        out->redirect_uri = bo_strdup((const char *)bo_stmt_column_text(stmt, 3));
        const char *next = (const char *)bo_stmt_column_text(stmt, 4);
        out->next = next ? bo_strdup(next) : NULL;
        out->created_ms = bo_stmt_column_int64(stmt, 5);
        rc = bo_stmt_step(stmt);
    } else if (rc == BO_DB_DONE) {
        result = BO_ENOENT;
        snprintf(err, errlen, "no sign-in in flight has this state (never begun, or already used)");
    }
    if (rc != BO_DB_DONE) {
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
        result = (rc);
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    if (result == 0 && !same_browser) {
        snprintf(err, errlen, "the sign-in was begun in another browser (its cookie is %s)",
                 browser ? "another" : "missing");
        result = BO_EPERM;
    } else if (result == 0 && now_ms() - out->created_ms > BO_SSO_FLOW_MS) {
        snprintf(err, errlen, "the sign-in was begun more than ten minutes ago");
        result = BO_ETIMEDOUT;
    }
    if (result)
        bo_sso_flow_release(out);
    return result;
}

void bo_sso_flow_release(bo_sso_flow *f)
{
    free(f->redirect_uri);
    free(f->next);
    memset(f, 0, sizeof *f);
}

/* ---- accounts ---- */

/* The text of the first column of sql's first row, with id as its
   parameter: a new string, or NULL when there is no row or value. */
static char *one_text(bo_db *db, const char *sql, int64_t id)
{
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, sizeof err);
    if (!stmt)
        return NULL;
    bo_stmt_bind_int64(stmt, 1, id);
    char *v = NULL;
    if (bo_stmt_step(stmt) == BO_DB_ROW && bo_stmt_column_text(stmt, 0))
        v = bo_strdup((const char *)bo_stmt_column_text(stmt, 0));
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return v;
}

static const char roles_sql[] =
    "SELECT group_concat(r, ', ') FROM (SELECT app || ':' || role AS r FROM user_roles "
    "WHERE user_id = ? AND source IS NOT NULL ORDER BY app, role) AS mapped";

/* The account's email address from the claims: "email", else an
   address-shaped "preferred_username" or "upn" (Entra's sign-in name). */
static const char *claims_email(const bo_oidc_claims *c)
{
    const char *candidates[] = { c->email, bo_jval_string(c->claims, "preferred_username"),
                                 bo_jval_string(c->claims, "upn") };
    for (size_t i = 0; i < BO_COUNT(candidates); i++)
        if (candidates[i] && bo_account_email_valid(candidates[i]))
            return candidates[i];
    return NULL;
}

/* Replaces the account's roles from the mapping with those the claim's
   values map to. Inside the sign-in's transaction. */
static int map_roles(bo_db *db, int64_t id, const bo_jval *values, char *err, size_t errlen)
{
    static const char clear[] = "DELETE FROM user_roles WHERE user_id = ? AND source IS NOT NULL";
    static const char add[] = "INSERT INTO user_roles (user_id, app, role, source) "
                              "SELECT ?1, app, role, 'sso ' || value FROM sso_role_map WHERE value = ?2 "
                              "ON CONFLICT DO NOTHING";
    bo_stmt *stmt = bo_db_prepare(db, clear, sizeof clear - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_int64(stmt, 1, id);
    int rc = bo_stmt_step(stmt);
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    for (const bo_jval *v = values ? values->first : NULL; v && rc == BO_DB_DONE; v = v->next) {
        if (!(stmt = bo_db_prepare(db, add, sizeof add - 1, err, errlen)))
            return BO_EDB;
        bo_stmt_bind_int64(stmt, 1, id);
        bo_stmt_bind_text_copy(stmt, 2, v->str, (int)v->len);
        rc = bo_stmt_step(stmt);
        bo_stmt_reset(stmt);
        bo_stmt_clear(stmt);
    }
    if (rc != BO_DB_DONE)
        return bo_fail((rc), err, errlen, "%s", bo_db_errmsg(db));
    return 0;
}

/* The body of bo_sso_account_sign_in, inside its transaction. */
static int sign_in_tx(bo_db *db, const bo_sso_settings *s, const char *issuer, const bo_oidc_claims *c,
                      bo_sso_account *out, char *err, size_t errlen)
{
    static const char find_sql[] = "SELECT i.user_id, u.disabled, u.email FROM sso_identities i "
                                   "JOIN users u ON u.id = i.user_id "
                                   "WHERE i.issuer = ? AND i.claim = ? AND i.subject = ?";
    static const char taken_sql[] = "SELECT id FROM users WHERE email = ?1 AND id <> ?2";
    static const char add_user_sql[] = "INSERT INTO users (email, name, password_hash, created_ms, password_ms) "
                                       "VALUES (?1, ?2, '', ?3, ?3)";
    static const char add_identity_sql[] = "INSERT INTO sso_identities (issuer, claim, subject, user_id, created_ms) "
                                           "VALUES (?, ?, ?, ?, ?)";
    static const char refresh_sql[] = "UPDATE users SET name = ?1, email = ?2 WHERE id = ?3";
    const char *claim = s->subject_claim;
    bool oid = strcmp(claim, "oid") == 0;
    const char *subject = oid ? c->oid : c->sub;
    if (!subject || !*subject)
        return bo_fail(BO_EINVAL, err, errlen, "the ID token has no \"%s\" claim (subject_claim)", claim);
    snprintf(out->subject, sizeof out->subject, "%s %.150s", claim, subject);
    bool by_roles = strcmp(s->roles_claim, "roles") == 0;
    const bo_jval *names = bo_jval_get(c->claims, "_claim_names");
    if (!by_roles && names && bo_jval_get(names, "groups"))
        return bo_fail(BO_ELIMIT, err, errlen, "the provider left out the groups (too many for a token: \"group "
                                            "overage\"); send only the groups assigned to the application, or use "
                                            "app roles (roles_claim = roles)");
    const char *email = claims_email(c);
    const char *name = c->name && *c->name ? c->name : email;
    char short_name[BO_SSO_NAME_MAX + 1];
    if (name) {
        snprintf(short_name, sizeof short_name, "%s", name);
        name = short_name;
    }
    int64_t now = now_ms();

    bo_stmt *stmt = bo_db_prepare(db, find_sql, sizeof find_sql - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_text_copy(stmt, 1, issuer, -1);
    bo_stmt_bind_text_copy(stmt, 2, claim, -1);
    bo_stmt_bind_text_copy(stmt, 3, subject, -1);
    bool disabled = false;
    int rc = bo_stmt_step(stmt);
    if (rc == BO_DB_ROW) {
        out->user_id = bo_stmt_column_int64(stmt, 0);
        disabled = bo_stmt_column_int64(stmt, 1) != 0;
        snprintf(out->email, sizeof out->email, "%s", (const char *)bo_stmt_column_text(stmt, 2));
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    if (rc != BO_DB_ROW && rc != BO_DB_DONE)
        return bo_fail((rc), err, errlen, "%s", bo_db_errmsg(db));
    if (disabled)
        return bo_fail(BO_EPERM, err, errlen, "the account %s is disabled", out->email);

    /* Is the address the claims give used by another account? */
    bool taken = false;
    if (email) {
        if (!(stmt = bo_db_prepare(db, taken_sql, sizeof taken_sql - 1, err, errlen)))
            return BO_EDB;
        bo_stmt_bind_text_copy(stmt, 1, email, -1);
        bo_stmt_bind_int64(stmt, 2, out->user_id);
        taken = bo_stmt_step(stmt) == BO_DB_ROW;
        bo_stmt_reset(stmt);
        bo_stmt_clear(stmt);
    }

    if (!out->user_id) {
        if (!email)
            return bo_fail(BO_EINVAL, err, errlen, "the provider gave no email address (claim \"email\", "
                                                "\"preferred_username\" or \"upn\")");
        if (taken)
            return bo_fail(BO_EEXIST, err, errlen, "%s already has an account that this identity (%s) is not linked "
                                                "to: `borough sso link %s '%s'` links them", email, out->subject,
                           email, subject);
        if (!(stmt = bo_db_prepare(db, add_user_sql, sizeof add_user_sql - 1, err, errlen)))
            return BO_EDB;
        bo_stmt_bind_text_copy(stmt, 1, email, -1);
        bo_stmt_bind_text_copy(stmt, 2, name, -1);
        bo_stmt_bind_int64(stmt, 3, now);
        rc = bo_stmt_step(stmt);
        bo_stmt_reset(stmt);
        bo_stmt_clear(stmt);
        if (rc != BO_DB_DONE)
            return bo_fail((rc), err, errlen, "%s", bo_db_errmsg(db));
        out->user_id = bo_db_last_insert_id(db);
        out->created = true;
        if (!(stmt = bo_db_prepare(db, add_identity_sql, sizeof add_identity_sql - 1, err, errlen)))
            return BO_EDB;
        bo_stmt_bind_text_copy(stmt, 1, issuer, -1);
        bo_stmt_bind_text_copy(stmt, 2, claim, -1);
        bo_stmt_bind_text_copy(stmt, 3, subject, -1);
        bo_stmt_bind_int64(stmt, 4, out->user_id);
        bo_stmt_bind_int64(stmt, 5, now);
        rc = bo_stmt_step(stmt);
        bo_stmt_reset(stmt);
        bo_stmt_clear(stmt);
        if (rc != BO_DB_DONE)
            return bo_fail((rc), err, errlen, "%s", bo_db_errmsg(db));
        snprintf(out->email, sizeof out->email, "%s", email);
    } else {
        /* The name and email as the provider has them now; an address
           another account holds is not taken from it. */
        if (email && taken)
            bo_log(BO_LOG_WARN, NULL, "single sign-on: %s now has the email address of another account; "
                                      "keeping %s", out->subject, out->email);
        const char *new_email = email && !taken ? email : out->email;
        if (!(stmt = bo_db_prepare(db, refresh_sql, sizeof refresh_sql - 1, err, errlen)))
            return BO_EDB;
        if (name)
            bo_stmt_bind_text_copy(stmt, 1, name, -1);
        else
            bo_stmt_bind_text_copy(stmt, 1, new_email, -1);
        bo_stmt_bind_text_copy(stmt, 2, new_email, -1);
        bo_stmt_bind_int64(stmt, 3, out->user_id);
        rc = bo_stmt_step(stmt);
        bo_stmt_reset(stmt);
        bo_stmt_clear(stmt);
        if (rc != BO_DB_DONE)
            return bo_fail((rc), err, errlen, "%s", bo_db_errmsg(db));
        snprintf(out->email, sizeof out->email, "%s", new_email);
    }

    char *before = one_text(db, roles_sql, out->user_id);
    rc = map_roles(db, out->user_id, by_roles ? c->roles : c->groups, err, errlen);
    if (rc == 0) {
        out->roles = one_text(db, roles_sql, out->user_id);
        out->roles_changed = !before != !out->roles || (before && strcmp(before, out->roles) != 0);
    }
    free(before);
    return rc;
}

int bo_sso_account_sign_in(bo_db *db, const bo_sso_settings *s, const char *issuer, const bo_oidc_claims *c,
                           bo_sso_account *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = bo_db_begin(db, err, errlen);
    if (rc < 0)
        return rc;
    rc = sign_in_tx(db, s, issuer, c, out, err, errlen);
    if (rc == 0)
        rc = bo_db_commit(db, err, errlen);
    if (rc < 0) {
        bo_db_rollback(db);
        bo_sso_account_release(out);
    }
    return rc;
}

void bo_sso_account_release(bo_sso_account *a)
{
    free(a->roles);
    a->roles = NULL;
}

int bo_sso_session_mark(bo_db *db, int64_t id)
{
    static const char sql[] = "UPDATE sessions SET sso = 1 WHERE id = ?";
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_int64(stmt, 1, id);
    int rc = bo_stmt_step(stmt);
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return rc == BO_DB_DONE ? 0 : (rc);
}

bool bo_sso_session_is(bo_db *db, int64_t id)
{
    static const char sql[] = "SELECT sso FROM sessions WHERE id = ?";
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt)
        return false;
    bo_stmt_bind_int64(stmt, 1, id);
    bool yes = bo_stmt_step(stmt) == BO_DB_ROW && bo_stmt_column_int64(stmt, 0) != 0;
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return yes;
}
