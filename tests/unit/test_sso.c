/*
 * test_sso.c - what single sign-on keeps in a platform database
 * (core/sso.c): settings checked, stored and read with their defaults; the
 * client secret from a file or the environment; sign-ins in flight taken
 * once, in their browser, within ten minutes; accounts found by identity,
 * made, refreshed, their mapped roles replaced and hand-given ones kept,
 * and the sign-ins refused with nothing written.
 */
#include "jws.h"
#include "platformdb.h"
#include "sso.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/borough-test-sso-XXXXXX";
static bo_db *db;

static void sql(const char *text)
{
    char err[256];
    if (bo_db_exec_script(db, text, err, sizeof err) < 0)
        printf("  sql: %s\n", err);
}

static char *text(const char *query)
{
    char err[256];
    bo_stmt *st = bo_db_prepare(db, query, strlen(query), err, sizeof err);
    char *v = NULL;
    if (st && bo_stmt_step(st) == BO_DB_ROW && bo_stmt_column_text(st, 0))
        v = bo_strdup((const char *)bo_stmt_column_text(st, 0));
    if (st)
        bo_stmt_reset(st);
    return v;
}

#define CHECK_QUERY(q, want) do { char *got_ = text(q); CHECK_STR(got_, want); free(got_); } while (0)

TEST(settings_are_checked_stored_and_read_with_defaults)
{
    char err[300];
    bo_sso_settings s;
    CHECK_EQ_INT(bo_sso_settings_load(db, &s, err, sizeof err), 0);
    CHECK(!bo_sso_settings_on(&s) && s.issuer == NULL);
    CHECK_STR(s.scopes, "openid profile email");
    CHECK_STR(s.roles_claim, "groups");
    CHECK_STR(s.subject_claim, "sub");
    CHECK(s.algs == BO_JWS_RS256 && s.passwords && !s.two_factor_all && !s.secret_post);
    bo_sso_settings_free(&s);

    CHECK_EQ_INT(bo_sso_setting_check("issuer", "https://login.example/tenant/v2.0", err, sizeof err), 0);
    CHECK_EQ_INT(bo_sso_setting_check("issuer", "http://login.example", err, sizeof err), BO_EINVAL);
    CHECK_EQ_INT(bo_sso_setting_check("issuer", "https://login.example/?x=1", err, sizeof err), BO_EINVAL);
    CHECK_EQ_INT(bo_sso_setting_check("issuer", "https://user@login.example", err, sizeof err), BO_EINVAL);
    CHECK_EQ_INT(bo_sso_setting_check("scopes", "profile email", err, sizeof err), BO_EINVAL);
    CHECK_EQ_INT(bo_sso_setting_check("scopes", "openid  groups", err, sizeof err), 0);
    CHECK_EQ_INT(bo_sso_setting_check("algorithms", "RS256,ES256", err, sizeof err), 0);
    CHECK_EQ_INT(bo_sso_setting_check("algorithms", "RS256,HS256", err, sizeof err), BO_EINVAL);
    CHECK_STR(err, "algorithms wants one or more of RS256, PS256 and ES256, separated by commas");
    CHECK_EQ_INT(bo_sso_setting_check("client_secret_env", "lower", err, sizeof err), BO_EINVAL);
    CHECK_EQ_INT(bo_sso_setting_check("provider_name", "<b>", err, sizeof err), BO_EINVAL);
    CHECK_EQ_INT(bo_sso_setting_check("client_secret", "x", err, sizeof err), BO_ENOENT);

    CHECK_EQ_INT(bo_sso_setting_store(db, "issuer", "https://login.example", err, sizeof err), 0);
    CHECK_EQ_INT(bo_sso_setting_store(db, "client_id", "borough", err, sizeof err), 0);
    CHECK_EQ_INT(bo_sso_setting_store(db, "client_secret_file", "/etc/secret", err, sizeof err), 0);
    CHECK_EQ_INT(bo_sso_setting_store(db, "algorithms", "PS256, ES256", err, sizeof err), 0);
    CHECK_EQ_INT(bo_sso_setting_store(db, "passwords", "off", err, sizeof err), 0);
    CHECK_EQ_INT(bo_sso_setting_store(db, "two_factor", "all", err, sizeof err), 0);
    CHECK_EQ_INT(bo_sso_setting_store(db, "token_auth", "client_secret_post", err, sizeof err), 0);
    CHECK_EQ_INT(bo_sso_settings_load(db, &s, err, sizeof err), 0);
    CHECK(bo_sso_settings_on(&s));
    CHECK(s.algs == (BO_JWS_PS256 | BO_JWS_ES256) && !s.passwords && s.two_factor_all && s.secret_post);
    CHECK_STR(s.secret_file, "/etc/secret");
    bo_sso_settings_free(&s);
    /* One source of the secret at a time. */
    CHECK_EQ_INT(bo_sso_setting_store(db, "client_secret_env", "SSO_SECRET", err, sizeof err), 0);
    char *v = bo_sso_setting_get(db, "client_secret_file");
    CHECK(v == NULL);
    free(v);
    CHECK_EQ_INT(bo_sso_setting_store(db, "client_secret_env", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(bo_sso_settings_load(db, &s, err, sizeof err), 0);
    CHECK(!bo_sso_settings_on(&s));
    bo_sso_settings_free(&s);
    sql("DELETE FROM sign_in_settings");
}

TEST(the_client_secret_comes_from_a_file_or_the_environment)
{
    char secret[64], err[400], path[200];
    bo_sso_settings s = { 0 };
    CHECK_EQ_INT(bo_sso_client_secret(&s, secret, sizeof secret, err, sizeof err), BO_ENOENT);
    s.secret_env = "BOROUGH_TEST_SSO_SECRET";
    unsetenv(s.secret_env);
    CHECK_EQ_INT(bo_sso_client_secret(&s, secret, sizeof secret, err, sizeof err), BO_ENOENT);
    CHECK_STR(err, "the environment variable BOROUGH_TEST_SSO_SECRET (client_secret_env) is not set");
    setenv(s.secret_env, "from the environment", 1);
    CHECK_EQ_INT(bo_sso_client_secret(&s, secret, sizeof secret, err, sizeof err), 0);
    CHECK_STR(secret, "from the environment");
    s.secret_env = NULL;
    snprintf(path, sizeof path, "%s/secret", dir);
    s.secret_file = path;
    FILE *f = fopen(path, "w");
    fputs("from a file\r\nsecond line\n", f);
    fclose(f);
    chmod(path, 0644);
    CHECK_EQ_INT(bo_sso_client_secret(&s, secret, sizeof secret, err, sizeof err), BO_EPERM);
    CHECK(strstr(err, "readable by anyone") != NULL);
    chmod(path, 0600);
    CHECK_EQ_INT(bo_sso_client_secret(&s, secret, sizeof secret, err, sizeof err), 0);
    CHECK_STR(secret, "from a file");
    f = fopen(path, "w");
    fputs("\n", f);
    fclose(f);
    CHECK_EQ_INT(bo_sso_client_secret(&s, secret, sizeof secret, err, sizeof err), BO_EINVAL);
    f = fopen(path, "w");
    for (int i = 0; i < 80; i++)
        fputc('x', f);
    fclose(f);
    CHECK_EQ_INT(bo_sso_client_secret(&s, secret, sizeof secret, err, sizeof err), BO_EINVAL);
    unlink(path);
    CHECK_EQ_INT(bo_sso_client_secret(&s, secret, sizeof secret, err, sizeof err), BO_ENOENT);
}

static const char state[] = "sssssssssssssssssssssssssssssssssssssssssss";
static const char browser[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static void save_flow(int64_t created)
{
    char err[256];
    bo_sso_flow f = { .redirect_uri = "https://site/app/_account/sso/callback", .next = "/app/x", .created_ms = created };
    memset(f.nonce, 'n', BO_OIDC_TOKEN_CHARS);
    memset(f.verifier, 'v', BO_OIDC_TOKEN_CHARS);
    CHECK_EQ_INT(bo_sso_flow_save(db, state, browser, "10.0.0.1", &f, err, sizeof err), 0);
}

static int64_t now_ms(void)
{
    return (int64_t)time(NULL) * 1000;
}

TEST(a_sign_in_in_flight_is_taken_once_in_its_browser_within_ten_minutes)
{
    char err[256];
    bo_sso_flow f;
    save_flow(now_ms());
    CHECK_QUERY("SELECT count(*) FROM sso_flows WHERE length(state_hash) = 32 AND length(browser_hash) = 32", "1");
    CHECK_EQ_INT(bo_sso_flow_take(db, state, browser, &f, err, sizeof err), 0);
    CHECK_STR(f.next, "/app/x");
    CHECK_STR(f.redirect_uri, "https://site/app/_account/sso/callback");
    CHECK_EQ_INT(strlen(f.nonce), BO_OIDC_TOKEN_CHARS);
    bo_sso_flow_release(&f);
    CHECK_EQ_INT(bo_sso_flow_take(db, state, browser, &f, err, sizeof err), BO_ENOENT);    /* once */
    save_flow(now_ms());
    CHECK_EQ_INT(bo_sso_flow_take(db, state, "ccccccccccccccccccccccccccccccccccccccccccc", &f, err, sizeof err),
                 BO_EPERM);
    CHECK_EQ_INT(bo_sso_flow_take(db, state, browser, &f, err, sizeof err), BO_ENOENT);    /* gone with it */
    save_flow(now_ms());
    CHECK_EQ_INT(bo_sso_flow_take(db, state, NULL, &f, err, sizeof err), BO_EPERM);
    save_flow(now_ms() - BO_SSO_FLOW_MS - 1000);
    CHECK_EQ_INT(bo_sso_flow_take(db, state, browser, &f, err, sizeof err), BO_ETIMEDOUT);
    /* Saving forgets flows past their time. */
    save_flow(now_ms() - BO_SSO_FLOW_MS - 1000);
    CHECK_EQ_INT(bo_sso_flow_save(db, "t", browser, "10.0.0.1",
                                  &(bo_sso_flow){ .redirect_uri = "x", .created_ms = now_ms() }, err, sizeof err), 0);
    CHECK_QUERY("SELECT count(*) FROM sso_flows", "1");
    /* One client cannot fill the table with sign-ins it never finishes. */
    sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 299) "
        "INSERT INTO sso_flows (state_hash, browser_hash, nonce, verifier, redirect_uri, client, created_ms) "
        "SELECT randomblob(32), x'00', '', '', '', '10.0.0.9', strftime('%s', 'now') * 1000 FROM n");
    bo_sso_flow f2 = { .redirect_uri = "x", .created_ms = now_ms() };
    CHECK_EQ_INT(bo_sso_flow_save(db, "u", browser, "10.0.0.9", &f2, err, sizeof err), 0);
    CHECK_EQ_INT(bo_sso_flow_save(db, "v", browser, "10.0.0.9", &f2, err, sizeof err), BO_ELIMIT);
    CHECK_STR(err, "300 sign-ins begun from 10.0.0.9 in ten minutes and not finished");
    CHECK_EQ_INT(bo_sso_flow_save(db, "w", browser, "10.0.0.8", &f2, err, sizeof err), 0);
    sql("DELETE FROM sso_flows");
}

/* Claims as oidc.c hands them over, from a JSON payload. */
static bo_oidc_claims claims_of(const char *json)
{
    bo_oidc_claims c;
    char err[200];
    bo_oidc_expect e = { .issuer = "https://idp", .client_id = "borough", .nonce = "n", .now = 1000, .skew = 60 };
    char payload[2000];
    snprintf(payload, sizeof payload,
             "{\"iss\":\"https://idp\",\"aud\":\"borough\",\"nonce\":\"n\",\"iat\":1000,\"exp\":2000,%s}", json);
    if (bo_oidc_check(payload, strlen(payload), &e, &c, err, sizeof err) != 0)
        printf("  claims: %s\n", err);
    return c;
}

static int sign_in(const bo_sso_settings *s, const char *json, bo_sso_account *a, char *err, size_t errlen)
{
    bo_oidc_claims c = claims_of(json);
    int rc = bo_sso_account_sign_in(db, s, "https://idp", &c, a, err, errlen);
    bo_oidc_claims_release(&c);
    return rc;
}

TEST(accounts_are_found_by_identity_and_roles_follow_the_mapping)
{
    char err[400];
    bo_sso_settings s;
    bo_sso_account a;
    CHECK_EQ_INT(bo_sso_settings_load(db, &s, err, sizeof err), 0);
    sql("INSERT INTO sso_role_map VALUES ('g-planning', 'planning', 'officer'), ('g-planning', 'grants', 'viewer'),"
        " ('g-boss', 'planning', 'manager')");
    CHECK_EQ_INT(sign_in(&s, "\"sub\":\"u1\",\"email\":\"ann@example.org\",\"name\":\"Ann\","
                             "\"groups\":[\"g-planning\",\"other\"]", &a, err, sizeof err), 0);
    CHECK(a.created && a.roles_changed);
    CHECK_STR(a.email, "ann@example.org");
    CHECK_STR(a.subject, "sub u1");
    CHECK_STR(a.roles, "grants:viewer, planning:officer");
    int64_t id = a.user_id;
    bo_sso_account_release(&a);
    CHECK_QUERY("SELECT name || ' ' || password_hash || '.' FROM users", "Ann .");
    CHECK_QUERY("SELECT group_concat(source, ',') FROM user_roles", "sso g-planning,sso g-planning");
    /* A role given by hand stays; the mapped ones follow the groups. */
    sql("INSERT INTO user_roles (user_id, app, role) SELECT id, 'planning', 'admin' FROM users");
    CHECK_EQ_INT(sign_in(&s, "\"sub\":\"u1\",\"email\":\"ann.new@example.org\",\"name\":\"Ann New\","
                             "\"groups\":[\"g-boss\"]", &a, err, sizeof err), 0);
    CHECK(!a.created && a.roles_changed && a.user_id == id);
    CHECK_STR(a.roles, "planning:manager");
    bo_sso_account_release(&a);
    CHECK_QUERY("SELECT email || ' ' || name FROM users", "ann.new@example.org Ann New");
    CHECK_QUERY("SELECT group_concat(role, ',') FROM (SELECT role FROM user_roles ORDER BY role)", "admin,manager");
    CHECK_EQ_INT(sign_in(&s, "\"sub\":\"u1\",\"email\":\"ann.new@example.org\",\"groups\":[\"g-boss\"]", &a, err,
                         sizeof err), 0);
    CHECK(!a.roles_changed);
    bo_sso_account_release(&a);
    /* No groups at all: no mapped roles. */
    CHECK_EQ_INT(sign_in(&s, "\"sub\":\"u1\",\"email\":\"ann.new@example.org\"", &a, err, sizeof err), 0);
    CHECK(a.roles == NULL && a.roles_changed);
    bo_sso_account_release(&a);
    CHECK_QUERY("SELECT group_concat(role) FROM user_roles", "admin");
    /* The provider's sign-in name when it gives no email claim. */
    CHECK_EQ_INT(sign_in(&s, "\"sub\":\"u2\",\"preferred_username\":\"bo@example.org\"", &a, err, sizeof err), 0);
    CHECK(a.created);
    CHECK_STR(a.email, "bo@example.org");
    bo_sso_account_release(&a);
    CHECK_QUERY("SELECT name FROM users WHERE email = 'bo@example.org'", "bo@example.org");
    bo_sso_settings_free(&s);
}

TEST(refused_sign_ins_write_nothing)
{
    char err[400];
    bo_sso_settings s;
    bo_sso_account a;
    CHECK_EQ_INT(bo_sso_settings_load(db, &s, err, sizeof err), 0);
    char *before = text("SELECT count(*) || ' ' || (SELECT count(*) FROM sso_identities) || ' ' || "
                        "(SELECT count(*) FROM user_roles) FROM users");
    /* Another identity with an address an account has: not merged. */
    CHECK_EQ_INT(sign_in(&s, "\"sub\":\"u9\",\"email\":\"ANN.NEW@example.org\",\"groups\":[\"g-boss\"]", &a, err,
                         sizeof err), BO_EEXIST);
    CHECK(strstr(err, "borough sso link ANN.NEW@example.org 'u9'") != NULL);
    CHECK_EQ_INT(sign_in(&s, "\"sub\":\"u9\",\"name\":\"No Mail\"", &a, err, sizeof err), BO_EINVAL);
    CHECK_EQ_INT(sign_in(&s, "\"sub\":\"u9\",\"email\":\"x@example.org\",\"_claim_names\":{\"groups\":\"src1\"}", &a,
                         err, sizeof err), BO_ELIMIT);
    /* A disabled account. */
    sql("UPDATE users SET disabled = 1 WHERE email = 'ann.new@example.org'");
    CHECK_EQ_INT(sign_in(&s, "\"sub\":\"u1\",\"email\":\"ann.new@example.org\",\"groups\":[\"g-planning\"]", &a, err,
                         sizeof err), BO_EPERM);
    sql("UPDATE users SET disabled = 0");
    /* Entra's oid, when the site says so: missing is refused. */
    free(s.subject_claim);
    s.subject_claim = bo_strdup("oid");
    CHECK_EQ_INT(sign_in(&s, "\"sub\":\"pairwise\",\"email\":\"z@example.org\"", &a, err, sizeof err), BO_EINVAL);
    CHECK_STR(err, "the ID token has no \"oid\" claim (subject_claim)");
    char *after = text("SELECT count(*) || ' ' || (SELECT count(*) FROM sso_identities) || ' ' || "
                       "(SELECT count(*) FROM user_roles) FROM users");
    CHECK_STR(after, before);
    free(before);
    free(after);
    CHECK_EQ_INT(sign_in(&s, "\"sub\":\"pairwise\",\"oid\":\"0000-1111\",\"email\":\"z@example.org\"", &a, err,
                         sizeof err), 0);
    CHECK_STR(a.subject, "oid 0000-1111");
    bo_sso_account_release(&a);
    bo_sso_settings_free(&s);
}

TEST(sessions_started_by_single_sign_on_are_marked)
{
    sql("INSERT INTO sessions (id, token_hash, user_id, created_ms, seen_ms) VALUES (77, x'01', 1, 0, 0)");
    CHECK(!bo_sso_session_is(db, 77));
    CHECK_EQ_INT(bo_sso_session_mark(db, 77), 0);
    CHECK(bo_sso_session_is(db, 77));
    CHECK(!bo_sso_session_is(db, 78));
    CHECK(bo_account_email_valid("a@b.c") && !bo_account_email_valid("a b@c.d") && !bo_account_email_valid("a@b@c"));
}

static const unit_case cases[] = {
    UNIT_CASE(settings_are_checked_stored_and_read_with_defaults)
    UNIT_CASE(the_client_secret_comes_from_a_file_or_the_environment)
    UNIT_CASE(a_sign_in_in_flight_is_taken_once_in_its_browser_within_ten_minutes)
    UNIT_CASE(accounts_are_found_by_identity_and_roles_follow_the_mapping)
    UNIT_CASE(refused_sign_ins_write_nothing)
    UNIT_CASE(sessions_started_by_single_sign_on_are_marked)
};

int main(void)
{
    char err[512];
    if (!mkdtemp(dir) || bo_platformdb_open(&db, dir, err, sizeof err) < 0) {
        printf("cannot make the database: %s\n0 passed, 1 failed\n", err);
        return 1;
    }
    int rc = UNIT_RUN("sso", cases);
    bo_db_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("  could not remove %s\n", dir);
    return rc;
}
