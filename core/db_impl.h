/*
 * db_impl.h - what the two engines behind db.h provide (db_sqlite.c,
 * db_pg.c) and what db.c, the seam's front, shares with them. Nothing but
 * those three files includes it.
 *
 * A connection and a statement start with the engine's table of functions;
 * db.c's public functions call through it. What both engines keep the same
 * way (the progress check, the eviction callback) lives in the common part.
 */
#ifndef BO_DB_IMPL_H
#define BO_DB_IMPL_H

#include "db.h"

typedef struct bo_db_ops {
    void (*close)(bo_db *db);
    const char *(*errmsg)(bo_db *db);
    int64_t (*changes)(bo_db *db);
    int64_t (*last_insert_id)(bo_db *db);
    bo_stmt *(*prepare)(bo_db *db, const char *sql, size_t len, char *err, size_t errlen);
    int *(*stmt_user_ref)(bo_db *db, bo_stmt *s);
    int (*exec_script)(bo_db *db, const char *sql, char *err, size_t errlen);
    int (*run_app_script)(bo_db *db, const char *sql, size_t len, int *line, char *err, size_t errlen);
    void (*set_platform)(bo_db *db, bool on);
    int (*begin)(bo_db *db, char *err, size_t errlen);
    int (*begin_read)(bo_db *db, char *err, size_t errlen);
    int (*commit)(bo_db *db, char *err, size_t errlen);
    int (*rollback)(bo_db *db);
    int (*tx_depth)(bo_db *db);
    bool (*in_tx)(bo_db *db);
    void (*rollback_all)(bo_db *db);
    void (*reset_busy)(bo_db *db);
    int (*create_function)(bo_db *db, const char *name, int nargs, bo_db_text_fn fn, void *ud);
    int (*backup)(bo_db *src, const char *path, bo_db **copy, char *err, size_t errlen);
    int (*checkpoint)(bo_db *db, int *frames);
    int (*ids_follow)(bo_db *db, const char *table, char *err, size_t errlen);
    /* One row when the database's own schema has the table ?1; the table ?1
       has the column ?2. */
    const char *has_table_sql;
    const char *has_column_sql;
    /* Rows of (table, column, INTEGER|REAL|TEXT|BLOB) of the own schema's
       tables, a table's columns together and in order. */
    const char *columns_sql;
    /* A failed statement aborts the transaction it is in (PostgreSQL), so
       bo_stmt_step_guarded puts it in a savepoint. */
    bool failure_aborts_tx;
    /* Non-blocking use (db.h: bo_stmt_start and its kin). */
    int (*start)(bo_stmt *s, bo_db_waiter *w);
    bool (*saturated)(bo_db *db);   /* NULL: never (SQLite) */
    int (*commit_start)(bo_db *db, bo_db_waiter *w, char *err, size_t errlen);
    int (*commit_finish)(bo_db *db, char *err, size_t errlen);
    void (*cancel)(bo_db_waiter *w);
    void *(*detach)(bo_db *db);
    void (*attach)(bo_db *db, void *held);

    int (*stmt_prepare)(bo_db *db, const char *sql, int len, bo_stmt **out);
    void (*finalize)(bo_stmt *s);
    int (*bind_int64)(bo_stmt *s, int i, int64_t v);
    int (*bind_double)(bo_stmt *s, int i, double v);
    int (*bind_null)(bo_stmt *s, int i);
    int (*bind_text)(bo_stmt *s, int i, const char *p, int64_t len, bool copy);
    int (*bind_blob)(bo_stmt *s, int i, const void *p, int64_t len, bool copy);
    int (*bind_column)(bo_stmt *s, int i, bo_stmt *src, int col);
    int (*param_count)(bo_stmt *s);
    int (*step)(bo_stmt *s);
    void (*reset)(bo_stmt *s);
    void (*clear)(bo_stmt *s);
    int (*column_count)(bo_stmt *s);
    const char *(*column_name)(bo_stmt *s, int col);
    bo_db_type (*column_type)(bo_stmt *s, int col);
    int64_t (*column_int64)(bo_stmt *s, int col);
    double (*column_double)(bo_stmt *s, int col);
    const char *(*column_text)(bo_stmt *s, int col);
    const void *(*column_blob)(bo_stmt *s, int col);
    int (*column_bytes)(bo_stmt *s, int col);
    int64_t (*generation)(bo_stmt *s);
} bo_db_ops;

struct bo_db {
    const bo_db_ops *ops;
    unsigned flags;
    bool platform;                 /* bo_db_set_platform */
    bo_db_evict_fn evict;
    void *evict_ud;
    int (*progress)(void *);
    void *progress_ud;
    bool progress_paused;
    void (*committed)(void *);     /* after each outermost COMMIT (bo_db_on_commit) */
    void *committed_ud;
};

struct bo_stmt {
    bo_db *db;
};

/* The engines' openers. */
int bo_sqlite_open(bo_db **out, const char *path, unsigned flags, char *err, size_t errlen);
const char *bo_sqlite_version(void);
void bo_sqlite_global_init(void);
/* name: the app (its schema and role), or NULL for the platform's schema. */
int bo_pg_open(bo_db **out, const char *url, const char *name, unsigned flags, char *err, size_t errlen);
const char *bo_pg_version(void);
bool bo_pg_unreachable(void);

/* SQL text: skips spaces, comments and empty statements (';') as the
   engines do before a statement; whether the statement at p starts with
   the keyword kw. */
const char *bo_sql_skip_space(const char *p, const char *end);
bool bo_sql_keyword(const char *p, size_t left, const char *kw);
/* Why an app may not run the statement at sql (VACUUM), or NULL. */
const char *bo_sql_refused(const char *sql, size_t len);

#endif
