/*
 * db.h - the core's SQLite connection: one per app per worker (and one for
 * the platform database). Opening sets WAL, synchronous=NORMAL, foreign keys,
 * a busy timeout and, for app connections, the authorizer that keeps an app
 * inside its own file. Statements are prepared once and cached by their SQL
 * text. A progress callback lets the owner interrupt a long statement (the
 * Lua bindings use it to hold SQL to the request's budget).
 *
 * All SQL of the platform goes through here and lua/, so another engine can
 * slot in behind the same interface later.
 */
#ifndef BO_DB_H
#define BO_DB_H

#include "bo.h"

#include <sqlite3.h>

typedef struct bo_db bo_db;

/* Process-wide SQLite settings; call once, before any connection opens. */
void bo_db_global_init(void);

enum {
    BO_DB_APP = 1 << 0,       /* an app's database: authorizer on */
    BO_DB_READONLY = 1 << 1,
    BO_DB_CREATE = 1 << 2,    /* create the file (and its folder) if missing */
};

/* Opens path with the pragmas above. Returns 0 and *out, or a BO_E* code
   with the reason in err. The new handle is freed with bo_db_close(). */
int bo_db_open(bo_db **out, const char *path, unsigned flags, char *err, size_t errlen);
void bo_db_close(bo_db *db);
sqlite3 *bo_db_sqlite(bo_db *db);

/* Returns the cached statement for sql (reset, bindings cleared), preparing
   it on first use, or NULL with the reason in err. Exactly one statement is
   allowed; a second one, or a statement the app may not run (VACUUM), is an
   error. The statement stays owned by the cache. */
sqlite3_stmt *bo_db_prepare(bo_db *db, const char *sql, size_t len, char *err, size_t errlen);

/* Runs one or more statements without results (platform use: schema,
   migrations; the authorizer still applies to app connections). */
int bo_db_exec_script(bo_db *db, const char *sql, char *err, size_t errlen);

/* Runs an app's SQL script (a migration file) one statement at a time, each
   judged as an app's statement is (no transaction control, no VACUUM, the
   authorizer). On failure returns a BO_E* code, the reason in err and, in
   *line, the 1-based line of sql where the failing statement starts. */
int bo_db_run_app_script(bo_db *db, const char *sql, size_t len, int *line, char *err, size_t errlen);

/* The platform's own writes: while on, an app connection may also write the
   platform's tables (named _borough_*) and run any PRAGMA. Off by default;
   app code never runs while it is on. Returns the previous setting. */
bool bo_db_set_platform(bo_db *db, bool on);

/* Called with the user pointer of a cache entry when it is evicted. */
typedef void (*bo_db_evict_fn)(void *ud, int user_ref);
void bo_db_on_evict(bo_db *db, bo_db_evict_fn fn, void *ud);
/* A small integer the owner may attach to the cached statement for sql. */
int *bo_db_stmt_user_ref(bo_db *db, sqlite3_stmt *stmt);

/* Registers a progress check run every few thousand VM steps; returning
   non-zero interrupts the statement (it fails with SQLITE_INTERRUPT). */
void bo_db_on_progress(bo_db *db, int (*fn)(void *), void *ud);
/* Suspends the progress check (the platform's schema work at load is not
   the app's to pay for); returns the previous setting. */
bool bo_db_pause_progress(bo_db *db, bool pause);

/* Transactions: BEGIN IMMEDIATE at depth 0, savepoints inside. */
int bo_db_begin(bo_db *db, char *err, size_t errlen);
int bo_db_commit(bo_db *db, char *err, size_t errlen);
int bo_db_rollback(bo_db *db);
int bo_db_tx_depth(const bo_db *db);
/* True while any transaction is open on db: the platform's (bo_db_begin)
   or one SQLite holds for another reason. */
bool bo_db_in_tx(bo_db *db);
/* Rolls back whatever transaction is open, savepoints and all. */
void bo_db_rollback_all(bo_db *db);

/* Copies committed WAL frames into the database without blocking readers or
   writers (a PASSIVE checkpoint); when the log is long and fully copied,
   also tries (without waiting) to truncate it. *frames receives the frames
   in the log. */
int bo_db_checkpoint(bo_db *db, int *frames);

/* Translates an SQLite result code into a BO_E* code. */
int bo_db_error(int rc);

#endif
