/*
 * test_db.c - the app connection's guard on transaction control (SQLite's
 * authorizer, not the SQL text), the platform's own transactions beside
 * it, and the rollback of a transaction left open.
 */
#include "db.h"
#include "unit.h"

#include <stdlib.h>
#include <unistd.h>

static bo_db *open_db(unsigned flags, char path[64])
{
    snprintf(path, 64, "/tmp/borough-test-db-XXXXXX");
    int fd = mkstemp(path);
    close(fd);
    bo_db *db = NULL;
    char err[256];
    CHECK_EQ_INT(bo_db_open(&db, path, flags, err, sizeof err), 0);
    return db;
}

static void close_db(bo_db *db, const char *path)
{
    bo_db_close(db);
    char p[80];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

TEST(app_sql_cannot_open_or_end_a_transaction_however_written)
{
    char path[64], err[256];
    bo_db *db = open_db(BO_DB_APP, path);
    static const char *const tricks[] = {
        "BEGIN", "; BEGIN IMMEDIATE", ";;begin exclusive", "/* x */ ; BEGIN", "-- c\n;BEGIN",
        "COMMIT", "END", "ROLLBACK", "SAVEPOINT s", "; SAVEPOINT s", "RELEASE s",
    };
    for (size_t i = 0; i < BO_COUNT(tricks); i++) {
        err[0] = '\0';
        CHECK(bo_db_prepare(db, tricks[i], strlen(tricks[i]), err, sizeof err) == NULL);
        CHECK_STR(err, "transaction statements are not allowed; use db.tx(fn) for a transaction");
        CHECK(!bo_db_in_tx(db));
    }
    CHECK(bo_db_prepare(db, "; VACUUM", 8, err, sizeof err) == NULL);
    CHECK_STR(err, "VACUUM is not allowed");
    CHECK(bo_db_prepare(db, "SELECT 1; BEGIN", 15, err, sizeof err) == NULL);
    CHECK_STR(err, "only one SQL statement is allowed per call");
    /* A trigger's BEGIN ... END is not transaction control. */
    CHECK_EQ_INT(bo_db_exec_script(db, "CREATE TABLE t (a)", err, sizeof err), 0);
    const char *trigger = "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END";
    bo_stmt *st = bo_db_prepare(db, trigger, strlen(trigger), err, sizeof err);
    CHECK(st != NULL);
    /* A migration file is judged the same way, its line named. */
    int line = 0;
    const char *script = "CREATE TABLE u (a);\n\n; BEGIN;\n";
    CHECK(bo_db_run_app_script(db, script, strlen(script), &line, err, sizeof err) < 0);
    CHECK_EQ_INT(line, 3);
    CHECK_STR(err, "transaction statements are not allowed; use db.tx(fn) for a transaction");
    close_db(db, path);
}

TEST(the_platform_still_holds_transactions_on_an_app_connection)
{
    char path[64], err[256];
    bo_db *db = open_db(BO_DB_APP, path);
    CHECK_EQ_INT(bo_db_exec_script(db, "CREATE TABLE t (a)", err, sizeof err), 0);
    CHECK_EQ_INT(bo_db_begin(db, err, sizeof err), 0);
    CHECK_EQ_INT(bo_db_begin(db, err, sizeof err), 0);       /* a savepoint */
    CHECK(bo_db_in_tx(db));
    CHECK_EQ_INT(bo_db_exec_script(db, "INSERT INTO t VALUES (1)", err, sizeof err), 0);
    CHECK_EQ_INT(bo_db_rollback(db), 0);
    CHECK_EQ_INT(bo_db_exec_script(db, "INSERT INTO t VALUES (2)", err, sizeof err), 0);
    CHECK_EQ_INT(bo_db_commit(db, err, sizeof err), 0);
    CHECK(!bo_db_in_tx(db));
    bo_stmt *st = bo_db_prepare(db, "SELECT group_concat(a) FROM t", 29, err, sizeof err);
    CHECK(st && bo_stmt_step(st) == BO_DB_ROW);
    CHECK_STR((const char *)bo_stmt_column_text(st, 0), "2");
    bo_stmt_reset(st);
    close_db(db, path);
}

TEST(a_transaction_left_open_is_rolled_back_whole)
{
    char path[64], err[256];
    bo_db *db = open_db(0, path);                            /* no authorizer: BEGIN by hand */
    CHECK_EQ_INT(bo_db_exec_script(db, "CREATE TABLE t (a); BEGIN; INSERT INTO t VALUES (1)", err, sizeof err), 0);
    CHECK(bo_db_in_tx(db));
    bo_db_rollback_all(db);
    CHECK(!bo_db_in_tx(db));
    CHECK_EQ_INT(bo_db_begin(db, err, sizeof err), 0);
    CHECK_EQ_INT(bo_db_begin(db, err, sizeof err), 0);
    bo_db_rollback_all(db);
    CHECK(!bo_db_in_tx(db));
    CHECK_EQ_INT(bo_db_tx_depth(db), 0);
    bo_stmt *st = bo_db_prepare(db, "SELECT count(*) FROM t", 22, err, sizeof err);
    CHECK(st && bo_stmt_step(st) == BO_DB_ROW && bo_stmt_column_int64(st, 0) == 0);
    bo_stmt_reset(st);
    close_db(db, path);
}

static const unit_case cases[] = {
    UNIT_CASE(app_sql_cannot_open_or_end_a_transaction_however_written)
    UNIT_CASE(the_platform_still_holds_transactions_on_an_app_connection)
    UNIT_CASE(a_transaction_left_open_is_rolled_back_whole)
};

int main(void)
{
    bo_db_global_init();
    return UNIT_RUN("db", cases);
}
