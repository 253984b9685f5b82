/*
 * cmd_sso.c - `borough sso`: how staff sign in (sso.h), in data/borough.db.
 *
 *   borough sso show                       the settings (never the client
 *                                          secret) and the role mapping
 *   borough sso set KEY=VALUE ...          change settings (checked first;
 *   borough sso unset KEY ...              all or none)
 *   borough sso map VALUE APP ROLE [--remove]
 *                                          people whose groups (or app
 *                                          roles) claim holds VALUE get
 *                                          ROLE in APP at their next
 *                                          sign-in; --remove takes the
 *                                          role from them at once
 *   borough sso test                       discovery and the key set
 *                                          fetched as the server would,
 *                                          and the client secret read
 *   borough sso link EMAIL SUBJECT         the existing account EMAIL
 *                                          signs in as the provider's
 *                                          SUBJECT (its sub or oid)
 *   borough sso unlink EMAIL
 *
 * every one with [--data DIR]. A running server reads the settings and the
 * mapping at each sign-in, so changes need no restart. Every change goes to
 * the platform audit log, naming the operating-system user who made it.
 */
#include "accounts.h"
#include "cli.h"
#include "crypto.h"
#include "httpc.h"
#include "jws.h"
#include "json.h"
#include "platformdb.h"
#include "session.h"
#include "sso.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEST_TIMEOUT_MS 10000


/* ---- show ---- */

static int sso_show(const bo_cli *cli, bo_db *db)
{
    bo_sso_settings s;
    char err[512];
    if (bo_sso_settings_load(db, &s, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    for (const char *const *k = bo_sso_setting_names; *k; k++) {
        char *v = bo_sso_setting_get(db, *k);
        printf("%s = %s%s\n", *k, v ? v : "", v ? "" : "(not set)");
        free(v);
    }
    char secret[1024];
    int rc = bo_sso_client_secret(&s, secret, sizeof secret, err, sizeof err);
    memset(secret, 0, sizeof secret);
    if (s.secret_file || s.secret_env)
        printf("client secret: %s\n", rc == 0 ? "******** (readable)" : err);
    bool on = bo_sso_settings_on(&s);
    printf("single sign-on: %s\n", on ? "on" : "off (set issuer, client_id and client_secret_file or "
                                               "client_secret_env to turn it on)");
    printf("password sign-in: %s; two-factor codes: required for %s\n", s.passwords || !on ? "shown" : "hidden",
           s.two_factor_all ? "every password account" : "holders of the role admin");
    bo_sso_settings_free(&s);
    static const char sql[] = "SELECT value, app, role FROM sso_role_map ORDER BY value, app, role";
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt)
        return bo_cli_fail(cli, "%s", err);
    int n = 0;
    while ((rc = bo_stmt_step(stmt)) == BO_DB_ROW) {
        if (n++ == 0)
            printf("role mapping:\n");
        printf("  %s -> %s:%s\n", bo_stmt_column_text(stmt, 0), bo_stmt_column_text(stmt, 1),
               bo_stmt_column_text(stmt, 2));
    }
    bo_stmt_reset(stmt);
    if (n == 0)
        printf("role mapping: none (borough sso map VALUE APP ROLE)\n");
    return 0;
}

/* ---- set, unset ---- */

static int sso_set(const bo_cli *cli, bo_db *db, char **args, int n, bool unset)
{
    char err[512];
    if (n == 0)
        return bo_cli_usage(cli, unset ? "unset which setting?" : "set KEY=VALUE ...");
    /* All checked before any is stored. */
    for (int i = 0; i < n; i++) {
        char *eq = strchr(args[i], '=');
        if (unset ? eq != NULL : eq == NULL)
            return bo_cli_usage(cli, unset ? "unset takes setting names, not %s" : "%s is not KEY=VALUE", args[i]);
        if (eq)
            *eq = '\0';
        int rc = bo_sso_setting_check(args[i], eq ? eq + 1 : "", err, sizeof err);
        if (rc == BO_ENOENT || (!unset && rc < 0)) {
            if (eq)
                *eq = '=';
            return bo_cli_fail(cli, "%s", err);
        }
        if (eq)
            *eq = '=';
    }
    for (int i = 0; i < n; i++) {
        char *eq = strchr(args[i], '=');
        if (eq)
            *eq = '\0';
        const char *value = eq ? eq + 1 : NULL;
        if (bo_sso_setting_store(db, args[i], value, err, sizeof err) < 0)
            return bo_cli_fail(cli, "%s", err);
        char detail[1200];
        snprintf(detail, sizeof detail, "%s%s%s", args[i], value ? " = " : "", value ? value : "");
        if (bo_cli_audit(cli, db, unset ? "sso-unset" : "sso-set", NULL, detail))
            return 1;
        printf(value ? "%s = %s\n" : "%s unset\n", args[i], value);
    }
    return 0;
}

/* ---- map ---- */

static int sso_map(const bo_cli *cli, bo_db *db, const char *value, const char *app, const char *role, bool remove)
{
    if (!*value || strlen(value) > 256)
        return bo_cli_fail(cli, "the value wants 1 to 256 characters: a group's id or name, or an app role");
    if (!bo_account_app_ok(app))
        return bo_cli_fail(cli, "%s is not an app name (the app's folder name, such as grants)", app);
    if (!bo_account_role_ok(role))
        return bo_cli_fail(cli, "%s is not a role name: lower-case letters, digits, '_' and '-', "
                                "starting with a letter", role);
    char err[512];
    int rc = bo_db_begin(db, err, sizeof err);
    if (rc < 0)
        return bo_cli_fail(cli, "%s", err);
    const char *sql = remove ? "DELETE FROM sso_role_map WHERE value = ?1 AND app = ?2 AND role = ?3"
                             : "INSERT INTO sso_role_map (value, app, role) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, sizeof err);
    int changes = -1, taken = 0;
    if (stmt) {
        bo_stmt_bind_text_copy(stmt, 1, value, -1);
        bo_stmt_bind_text_copy(stmt, 2, app, -1);
        bo_stmt_bind_text_copy(stmt, 3, role, -1);
        if (bo_stmt_step(stmt) == BO_DB_DONE)
            changes = bo_db_changes(db);
        else
            snprintf(err, sizeof err, "%s", bo_db_errmsg(db));
        bo_stmt_reset(stmt);
        bo_stmt_clear(stmt);
    }
    if (changes > 0 && remove) {
        /* Whoever has the role through this value loses it now, not at
           their next sign-in. */
        static const char strip[] = "DELETE FROM user_roles WHERE app = ?2 AND role = ?3 AND source = 'sso ' || ?1";
        stmt = bo_db_prepare(db, strip, sizeof strip - 1, err, sizeof err);
        if (stmt) {
            bo_stmt_bind_text_copy(stmt, 1, value, -1);
            bo_stmt_bind_text_copy(stmt, 2, app, -1);
            bo_stmt_bind_text_copy(stmt, 3, role, -1);
            if (bo_stmt_step(stmt) == BO_DB_DONE)
                taken = bo_db_changes(db);
            else
                changes = -1;
            bo_stmt_reset(stmt);
            bo_stmt_clear(stmt);
        } else {
            changes = -1;
        }
    }
    if (changes < 0) {
        bo_db_rollback(db);
        return bo_cli_fail(cli, "%s", err);
    }
    if (bo_db_commit(db, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    if (changes == 0) {
        printf(remove ? "%s was not mapped to %s in %s\n" : "%s is already mapped to %s in %s\n", value, role, app);
        return 0;
    }
    char detail[600];
    snprintf(detail, sizeof detail, "%s -> %s%s", value, role,
             remove ? (taken ? ", taken from those who had it" : "") : "");
    if (bo_cli_audit(cli, db, remove ? "sso-unmap" : "sso-map", app, detail))
        return 1;
    if (remove)
        printf("%s no longer gives %s in %s; %d account%s lost it\n", value, role, app, taken, taken == 1 ? "" : "s");
    else
        printf("%s gives %s in %s from each person's next sign-in\n", value, role, app);
    return 0;
}

/* ---- test ---- */

typedef struct fetched {
    bool done;
    int error;
    char message[400];
    int status;
    bo_buf body;
} fetched;

static void fetch_done(bo_httpc *h, const bo_httpc_result *res, void *ud)
{
    BO_UNUSED(h);
    fetched *f = ud;
    f->done = true;
    f->error = res->error;
    if (res->error)
        snprintf(f->message, sizeof f->message, "%s", res->message ? res->message : bo_strerror(res->error));
    f->status = res->status;
    bo_buf_append(&f->body, res->body.data, res->body.len);
}

static void close_walk(uv_handle_t *h, void *ud)
{
    BO_UNUSED(ud);
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* GETs url on a loop of its own, as the server's exchanges do (system CAs
   or SSL_CERT_FILE, no redirects). Returns 0 with the 200 answer's body
   in f->body, or 1 after saying why. */
static int get(const bo_cli *cli, const char *url, fetched *f)
{
    memset(f, 0, sizeof *f);
    bo_buf_init(&f->body);
    char err[400];
    bo_tls_config *tls = NULL;
    if (strncmp(url, "https://", 8) == 0 && !(tls = bo_httpc_tls_default(err, sizeof err)))
        return bo_cli_fail(cli, "%s", err);
    uv_loop_t loop;
    if (uv_loop_init(&loop) < 0)
        return bo_cli_fail(cli, "cannot make an event loop");
    bo_httpc_options o = {
        .method = "GET", .url = url, .timeout_ms = TEST_TIMEOUT_MS, .max_response = 64 * 1024, .tls = tls,
    };
    bo_httpc *h;
    int rc = bo_httpc_start(&h, &loop, &o, fetch_done, f, err, sizeof err);
    if (rc == 0)
        uv_run(&loop, UV_RUN_DEFAULT);
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (rc < 0)
        return bo_cli_fail(cli, "%s: %s", url, err);
    if (f->error)
        return bo_cli_fail(cli, "%s: %s", url, f->message);
    if (f->status != 200)
        return bo_cli_fail(cli, "%s: the provider answered %d", url, f->status);
    return 0;
}

static int sso_test(const bo_cli *cli, bo_db *db)
{
    bo_sso_settings s;
    char err[512];
    if (bo_sso_settings_load(db, &s, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    int rc = 1;
    fetched f = { 0 }, k = { 0 };
    bo_buf_init(&f.body);
    bo_buf_init(&k.body);
    bo_jval *doc = NULL;
    if (!bo_sso_settings_on(&s)) {
        bo_cli_fail(cli, "single sign-on is off: set issuer, client_id and client_secret_file or client_secret_env");
        goto out;
    }
    char secret[1024];
    int src = bo_sso_client_secret(&s, secret, sizeof secret, err, sizeof err);
    memset(secret, 0, sizeof secret);
    if (src < 0) {
        bo_cli_fail(cli, "%s", err);
        goto out;
    }
    printf("client secret: readable\n");
    size_t n = strlen(s.issuer);
    char *url = bo_sprintf("%s%s.well-known/openid-configuration", s.issuer, s.issuer[n - 1] == '/' ? "" : "/");
    int bad = get(cli, url, &f);
    free(url);
    if (bad)
        goto out;
    const char *issuer, *jwks;
    if (bo_json_parse(f.body.data ? f.body.data : "", f.body.len, &doc, err, sizeof err) < 0 ||
        doc->type != BO_JSON_OBJECT) {
        bo_cli_fail(cli, "discovery: not a JSON object");
        goto out;
    }
    issuer = bo_jval_string(doc, "issuer");
    jwks = bo_jval_string(doc, "jwks_uri");
    if (!issuer || strcmp(issuer, s.issuer) != 0) {
        bo_cli_fail(cli, "discovery: the document's issuer is %s, not %s (set issuer to exactly what the provider "
                         "says)", issuer ? issuer : "missing", s.issuer);
        goto out;
    }
    printf("discovery: ok (issuer %s)\n", issuer);
    printf("sign-out at the provider: %s\n", bo_jval_string(doc, "end_session_endpoint") ? "offered" : "not offered");
    if (!jwks || get(cli, jwks, &k))
        goto out;
    bo_jwks *keys;
    if (bo_jwks_parse(k.body.data ? k.body.data : "", k.body.len, &keys, err, sizeof err) < 0) {
        bo_cli_fail(cli, "key set: %s", err);
        goto out;
    }
    printf("key set: %zu key%s\n", bo_jwks_count(keys), bo_jwks_count(keys) == 1 ? "" : "s");
    bo_jwks_free(keys);
    rc = 0;
out:
    bo_jval_free(doc);
    bo_buf_free(&f.body);
    bo_buf_free(&k.body);
    bo_sso_settings_free(&s);
    bo_httpc_tls_default_free();
    return rc;
}

/* ---- link, unlink ---- */

static int64_t account_id(bo_db *db, const char *email)
{
    static const char sql[] = "SELECT id FROM users WHERE email = ?";
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt)
        return 0;
    bo_stmt_bind_text_copy(stmt, 1, email, -1);
    int64_t id = bo_stmt_step(stmt) == BO_DB_ROW ? bo_stmt_column_int64(stmt, 0) : 0;
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return id;
}

static int sso_link(const bo_cli *cli, bo_db *db, const char *email, const char *subject, bool unlink)
{
    int64_t id = account_id(db, email);
    if (!id)
        return bo_cli_fail(cli, "no account for %s", email);
    bo_sso_settings s;
    char err[512];
    if (bo_sso_settings_load(db, &s, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    if (!unlink && !s.issuer) {
        bo_sso_settings_free(&s);
        return bo_cli_fail(cli, "set the issuer first: borough sso set issuer=...");
    }
    if (!unlink && (!*subject || strlen(subject) > 256)) {
        bo_sso_settings_free(&s);
        return bo_cli_fail(cli, "the subject wants 1 to 256 characters: the provider's sub (or oid) for the person");
    }
    const char *sql = unlink ? "DELETE FROM sso_identities WHERE user_id = ?1"
                             : "INSERT INTO sso_identities (issuer, claim, subject, user_id, created_ms) "
                               "VALUES (?2, ?3, ?4, ?1, ?5)";
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, sizeof err);
    int rc = BO_EDB;
    if (stmt) {
        bo_stmt_bind_int64(stmt, 1, id);
        if (!unlink) {
            bo_stmt_bind_text_copy(stmt, 2, s.issuer, -1);
            bo_stmt_bind_text_copy(stmt, 3, s.subject_claim, -1);
            bo_stmt_bind_text_copy(stmt, 4, subject, -1);
            bo_stmt_bind_int64(stmt, 5, bo_unix_ms());
        }
        rc = bo_stmt_step(stmt);
        if (rc != BO_DB_DONE)
            snprintf(err, sizeof err, "%s", bo_db_errmsg(db));
        bo_stmt_reset(stmt);
        bo_stmt_clear(stmt);
    }
    char detail[700];
    snprintf(detail, sizeof detail, "%s %s%s%s", email, unlink ? "" : s.subject_claim, unlink ? "" : " ",
             unlink ? "" : subject);
    bo_sso_settings_free(&s);
    if (rc == BO_ECONSTRAINT)
        return bo_cli_fail(cli, "that identity is already linked to an account (borough sso unlink it first)");
    if (rc != BO_DB_DONE)
        return bo_cli_fail(cli, "%s", err);
    int changes = bo_db_changes(db);
    if (unlink && changes == 0) {
        printf("%s is not linked to the provider\n", email);
        return 0;
    }
    if (bo_cli_audit(cli, db, unlink ? "sso-unlink" : "sso-link", NULL, detail))
        return 1;
    if (unlink)
        printf("%s is no longer linked to the provider\n", email);
    else
        printf("%s signs in as %s at the provider\n", email, subject);
    return 0;
}

int bo_cmd_sso(int argc, char **argv, const bo_cli *cli)
{
    const char *data = "data";
    char **pos = bo_calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0;
    bool remove = false;
    int status;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--data") == 0) {
            if (i + 1 >= argc) {
                free(pos);
                return bo_cli_usage(cli, "--data needs a value");
            }
            data = argv[++i];
        } else if (strcmp(a, "--remove") == 0) {
            remove = true;
        } else if (a[0] == '-' && a[1]) {
            free(pos);
            return bo_cli_usage(cli, "unknown option %s", a);
        } else {
            pos[npos++] = argv[i];
        }
    }
    static const struct { const char *name; int min, max; } subs[] = {
        { "show", 0, 0 }, { "set", 1, 64 }, { "unset", 1, 64 }, { "map", 3, 3 }, { "test", 0, 0 },
        { "link", 2, 2 }, { "unlink", 1, 1 },
    };
    const char *sub = npos ? pos[0] : NULL;
    int which = -1;
    for (size_t i = 0; sub && i < BO_COUNT(subs); i++)
        if (strcmp(sub, subs[i].name) == 0)
            which = (int)i;
    if (!sub)
        status = bo_cli_usage(cli, "which: show, set, unset, map, test, link or unlink?");
    else if (which < 0)
        status = bo_cli_usage(cli, "unknown subcommand %s", sub);
    else if (npos - 1 < subs[which].min || npos - 1 > subs[which].max)
        status = bo_cli_usage(cli, "sso %s takes %s", sub,
                              which == 3 ? "VALUE APP ROLE" : which == 5 ? "EMAIL SUBJECT" : which == 6 ? "EMAIL"
                              : which == 1 ? "KEY=VALUE ..." : which == 2 ? "KEY ..." : "no arguments");
    else if (remove && which != 3)
        status = bo_cli_usage(cli, "--remove goes with sso map");
    else {
        bo_db *db;
        char err[512];
        if (bo_platformdb_open(&db, data, err, sizeof err) < 0) {
            free(pos);
            return bo_cli_fail(cli, "%s", err);
        }
        switch (which) {
        case 0: status = sso_show(cli, db); break;
        case 1: status = sso_set(cli, db, pos + 1, npos - 1, false); break;
        case 2: status = sso_set(cli, db, pos + 1, npos - 1, true); break;
        case 3: status = sso_map(cli, db, pos[1], pos[2], pos[3], remove); break;
        case 4: status = sso_test(cli, db); break;
        case 5: status = sso_link(cli, db, pos[1], pos[2], false); break;
        default: status = sso_link(cli, db, pos[1], NULL, true); break;
        }
        bo_db_close(db);
    }
    free(pos);
    return status;
}
