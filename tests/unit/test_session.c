/*
 * test_session.c - sessions and throttling in a platform database
 * (core/session.c): lookup with the app's roles, idle and absolute expiry,
 * the sliding last use, ending sessions, the cookie, failure counts.
 */
#include "platformdb.h"
#include "session.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/borough-test-session-XXXXXX";
static bo_db *db;
static const bo_session_limits lim = { 30 * 60 * 1000, 12 * 3600 * 1000 };

static void sql(const char *text)
{
    char err[256];
    if (bo_db_exec_script(db, text, err, sizeof err) < 0)
        printf("  sql: %s\n", err);
}

static int64_t number(const char *text)
{
    char err[256];
    bo_stmt *st = bo_db_prepare(db, text, strlen(text), err, sizeof err);
    int64_t v = st && bo_stmt_step(st) == BO_DB_ROW ? bo_stmt_column_int64(st, 0) : -1;
    if (st)
        bo_stmt_reset(st);
    return v;
}

TEST(lookup_finds_the_user_with_the_roles_of_the_app)
{
    char token[BO_SESSION_TOKEN_CHARS + 1], err[256];
    int64_t id;
    CHECK_EQ_INT(bo_session_create(db, 1, "10.0.0.1", &lim, token, &id, err, sizeof err), 0);
    CHECK_EQ_INT(strlen(token), BO_SESSION_TOKEN_CHARS);
    bo_user *u = bo_session_lookup(db, token, strlen(token), "cases", &lim);
    CHECK(u != NULL);
    if (u) {
        CHECK_EQ_INT(u->id, 1);
        CHECK_EQ_INT(u->session, id);
        CHECK_STR(u->email, "jo@example.gov.uk");
        CHECK_STR(u->name, "Jo");
        CHECK(bo_user_has_role(u, "assessor", 8));
        CHECK(bo_user_has_role(u, "admin", 5));
        CHECK(!bo_user_has_role(u, "ad", 2));            /* whole names only */
        CHECK(!bo_user_has_role(u, "boss", 4));          /* another app's */
        CHECK(bo_user_has_any_role(u, "manager admin"));
        CHECK(!bo_user_has_any_role(u, "manager boss"));
        free(u);
    }
    u = bo_session_lookup(db, token, strlen(token), "other", &lim);
    CHECK(u && bo_user_has_role(u, "boss", 4) && !bo_user_has_role(u, "admin", 5));
    free(u);
    /* Another token, a short one, a changed one: nobody. */
    char wrong[BO_SESSION_TOKEN_CHARS + 1];
    memcpy(wrong, token, sizeof wrong);
    wrong[5] = wrong[5] == 'A' ? 'B' : 'A';
    CHECK(bo_session_lookup(db, wrong, strlen(wrong), "cases", &lim) == NULL);
    CHECK(bo_session_lookup(db, token, 10, "cases", &lim) == NULL);
    /* Only the hash is stored. */
    CHECK_EQ_INT(number("SELECT length(token_hash) FROM sessions ORDER BY id DESC LIMIT 1"), 32);
    /* A disabled account has no session. */
    sql("UPDATE users SET disabled = 1 WHERE id = 1");
    CHECK(bo_session_lookup(db, token, strlen(token), "cases", &lim) == NULL);
    sql("UPDATE users SET disabled = 0 WHERE id = 1");
    CHECK_EQ_INT(bo_session_end(db, id), 0);
    CHECK(bo_session_lookup(db, token, strlen(token), "cases", &lim) == NULL);
}

TEST(idle_and_absolute_time_end_a_session)
{
    char token[BO_SESSION_TOKEN_CHARS + 1], err[256];
    int64_t id;
    bo_session_create(db, 1, NULL, &lim, token, &id, err, sizeof err);
    /* Used 20 minutes ago: still good, and the last use moves to now. */
    sql("UPDATE sessions SET seen_ms = seen_ms - 20 * 60000");
    bo_user *u = bo_session_lookup(db, token, strlen(token), "cases", &lim);
    CHECK(u != NULL);
    free(u);
    CHECK(bo_unix_ms() - number("SELECT seen_ms FROM sessions") < 5000);
    /* Used 31 minutes ago: ended, and its row gone. */
    sql("UPDATE sessions SET seen_ms = seen_ms - 31 * 60000");
    CHECK(bo_session_lookup(db, token, strlen(token), "cases", &lim) == NULL);
    CHECK_EQ_INT(number("SELECT count(*) FROM sessions"), 0);
    /* Started 12 hours ago, used a moment ago: ended too. */
    bo_session_create(db, 1, NULL, &lim, token, &id, err, sizeof err);
    sql("UPDATE sessions SET created_ms = created_ms - 12 * 3600000");
    CHECK(bo_session_lookup(db, token, strlen(token), "cases", &lim) == NULL);
    /* Every session of a user ends at once. */
    char t2[BO_SESSION_TOKEN_CHARS + 1];
    bo_session_create(db, 1, NULL, &lim, token, &id, err, sizeof err);
    bo_session_create(db, 1, NULL, &lim, t2, &id, err, sizeof err);
    CHECK(strcmp(token, t2) != 0);
    CHECK_EQ_INT(bo_session_end_user(db, 1), 0);
    CHECK(bo_session_lookup(db, token, strlen(token), "cases", &lim) == NULL);
    CHECK(bo_session_lookup(db, t2, strlen(t2), "cases", &lim) == NULL);
}

TEST(the_cookie)
{
    char out[160];
    bo_session_cookie(out, sizeof out, "abc", false);
    CHECK_STR(out, "borough_session=abc; Path=/; HttpOnly; SameSite=Lax");
    bo_session_cookie(out, sizeof out, "abc", true);
    CHECK_STR(out, "borough_session=abc; Path=/; HttpOnly; SameSite=Lax; Secure");
    bo_session_cookie(out, sizeof out, NULL, true);
    CHECK_STR(out, "borough_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure");
}

TEST(failures_are_counted_within_the_window)
{
    int64_t free_at;
    CHECK_EQ_INT(bo_session_failures(db, "account:a@b.c", 60000, &free_at), 0);
    CHECK_EQ_INT(free_at, 0);
    for (int i = 0; i < 3; i++)
        bo_session_fail(db, "account:a@b.c", 60000);
    bo_session_fail(db, "account:other@b.c", 60000);
    CHECK_EQ_INT(bo_session_failures(db, "account:a@b.c", 60000, &free_at), 3);
    CHECK(free_at > bo_unix_ms() + 55000 && free_at <= bo_unix_ms() + 60000);
    sql("UPDATE sign_in_failures SET at_ms = at_ms - 61000 WHERE id = (SELECT min(id) FROM sign_in_failures)");
    CHECK_EQ_INT(bo_session_failures(db, "account:a@b.c", 60000, &free_at), 2);
    CHECK_EQ_INT(bo_session_forgive(db, "account:a@b.c", false), 0);     /* the newest only */
    CHECK_EQ_INT(bo_session_failures(db, "account:a@b.c", 60000, &free_at), 1);
    CHECK_EQ_INT(bo_session_forgive(db, "account:a@b.c", true), 0);
    CHECK_EQ_INT(bo_session_failures(db, "account:a@b.c", 60000, &free_at), 0);
    CHECK_EQ_INT(bo_session_failures(db, "account:other@b.c", 60000, &free_at), 1);
}

static const unit_case cases[] = {
    UNIT_CASE(lookup_finds_the_user_with_the_roles_of_the_app)
    UNIT_CASE(idle_and_absolute_time_end_a_session)
    UNIT_CASE(the_cookie)
    UNIT_CASE(failures_are_counted_within_the_window)
};

int main(void)
{
    char err[512];
    if (!mkdtemp(dir) || bo_platformdb_open(&db, dir, err, sizeof err) < 0) {
        printf("cannot make the database: %s\n0 passed, 1 failed\n", err);
        return 1;
    }
    sql("INSERT INTO users (id, email, name, password_hash, created_ms, password_ms) "
        "VALUES (1, 'jo@example.gov.uk', 'Jo', 'x', 0, 0);"
        "INSERT INTO user_roles (user_id, app, role) VALUES (1, 'cases', 'assessor'), (1, 'cases', 'admin'), (1, 'other', 'boss');");
    int rc = UNIT_RUN("session", cases);
    bo_db_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("  could not remove %s\n", dir);
    return rc;
}
