/*
 * test_db.c - the app connection's guard on transaction control (SQLite's
 * authorizer, not the SQL text), the platform's own transactions beside
 * it, the rollback of a transaction left open, a read snapshot, and rows
 * copied between databases as stored.
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

static int64_t count_of(bo_db *db, const char *sql)
{
    bo_stmt *st = NULL;
    int64_t n = -1;
    if (bo_stmt_prepare(db, sql, -1, &st) == BO_OK && bo_stmt_step(st) == BO_DB_ROW)
        n = bo_stmt_column_int64(st, 0);
    bo_stmt_finalize(st);
    return n;
}

TEST(a_read_snapshot_does_not_see_later_writes_nor_hold_them_back)
{
    char path[64], err[256];
    bo_db *writer = open_db(0, path);
    CHECK_EQ_INT(bo_db_exec_script(writer, "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)", err, sizeof err), 0);
    bo_db *reader = NULL;
    CHECK_EQ_INT(bo_db_open(&reader, path, 0, err, sizeof err), 0);
    CHECK_EQ_INT(bo_db_begin_read(reader, err, sizeof err), 0);
    CHECK_EQ_INT(count_of(reader, "SELECT count(*) FROM t"), 1);
    /* The writer is not held back (BEGIN IMMEDIATE goes through) ... */
    CHECK_EQ_INT(bo_db_begin(writer, err, sizeof err), 0);
    CHECK_EQ_INT(bo_db_exec_script(writer, "INSERT INTO t VALUES (2)", err, sizeof err), 0);
    CHECK_EQ_INT(bo_db_commit(writer, err, sizeof err), 0);
    /* ... and the snapshot does not see what it wrote until it ends. */
    CHECK_EQ_INT(count_of(reader, "SELECT count(*) FROM t"), 1);
    CHECK(bo_db_begin_read(reader, err, sizeof err) < 0);        /* not inside a transaction */
    CHECK_EQ_INT(bo_db_commit(reader, err, sizeof err), 0);
    CHECK_EQ_INT(count_of(reader, "SELECT count(*) FROM t"), 2);
    bo_db_close(reader);
    close_db(writer, path);
}

static int note_column(void *ud, const char *table, const char *column, const char *type)
{
    bo_buf_printf(ud, "%s.%s:%s ", table, column, type);
    return 0;
}

TEST(rows_copy_as_stored_and_columns_are_listed_with_their_kind)
{
    char a_path[64], b_path[64], err[256];
    bo_db *a = open_db(0, a_path), *b = open_db(0, b_path);
    const char *schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, x REAL, s TEXT, v BLOB)";
    CHECK_EQ_INT(bo_db_exec_script(a, schema, err, sizeof err), 0);
    CHECK_EQ_INT(bo_db_exec_script(b, schema, err, sizeof err), 0);
    CHECK_EQ_INT(bo_db_exec_script(a, "INSERT INTO t VALUES (7, -3, 0.1, 'caf\u00e9', x'00ff'); "
                                      "INSERT INTO t VALUES (9, NULL, NULL, NULL, NULL)", err, sizeof err), 0);
    bo_buf cols;
    bo_buf_init(&cols);
    CHECK_EQ_INT(bo_db_each_column(a, note_column, &cols, err, sizeof err), 0);
    bo_buf_putc(&cols, '\0');
    CHECK_STR(cols.data, "t.id:INTEGER t.n:INTEGER t.x:REAL t.s:TEXT t.v:BLOB ");
    bo_buf_free(&cols);
    static const char *const names[] = { "id", "n", "x", "s", "v" };
    int64_t rows = 0;
    CHECK_EQ_INT(bo_db_copy_rows(b, a, "t", names, 5, &rows, err, sizeof err), 0);
    CHECK_EQ_INT(rows, 2);
    CHECK_EQ_INT(count_of(b, "SELECT count(*) FROM t WHERE id = 7 AND n = -3 AND x = 0.1 AND s = 'caf\u00e9' "
                             "AND v = x'00ff' AND typeof(v) = 'blob'"), 1);
    CHECK_EQ_INT(count_of(b, "SELECT count(*) FROM t WHERE id = 9 AND n IS NULL AND v IS NULL"), 1);
    /* Copied again, the ids collide: the rows are named (they go in by batches). */
    CHECK(bo_db_copy_rows(b, a, "t", names, 5, &rows, err, sizeof err) < 0);
    CHECK(strncmp(err, "t rows 1 to 2: ", 15) == 0);
    CHECK_EQ_INT(bo_db_ids_follow(b, "t", err, sizeof err), 0);       /* nothing to do on SQLite */
    /* A table of many pages (read by id, a few thousand rows at a time), ids with gaps. */
    CHECK_EQ_INT(bo_db_exec_script(a, "CREATE TABLE big (id INTEGER PRIMARY KEY, s TEXT); "
                                      "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 12001) "
                                      "INSERT INTO big SELECT i * 3 - 4000, 'r' || i FROM k", err, sizeof err), 0);
    CHECK_EQ_INT(bo_db_exec_script(b, "CREATE TABLE big (id INTEGER PRIMARY KEY, s TEXT)", err, sizeof err), 0);
    static const char *const big[] = { "s", "id" };
    rows = 0;
    CHECK_EQ_INT(bo_db_copy_rows(b, a, "big", big, 2, &rows, err, sizeof err), 0);
    CHECK_EQ_INT(rows, 12001);
    CHECK_EQ_INT(count_of(b, "SELECT count(*) FROM big WHERE s = 'r' || ((id + 4000) / 3)"), 12001);
    close_db(a, a_path);
    close_db(b, b_path);
}

static const unit_case cases[] = {
    UNIT_CASE(app_sql_cannot_open_or_end_a_transaction_however_written)
    UNIT_CASE(the_platform_still_holds_transactions_on_an_app_connection)
    UNIT_CASE(a_transaction_left_open_is_rolled_back_whole)
    UNIT_CASE(a_read_snapshot_does_not_see_later_writes_nor_hold_them_back)
    UNIT_CASE(rows_copy_as_stored_and_columns_are_listed_with_their_kind)
};

int main(void)
{
    bo_db_global_init();
    return UNIT_RUN("db", cases);
}
