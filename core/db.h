/*
 * db.h - the core's database connection: one per app per worker (and one
 * for the platform database), on one of two engines.
 *
 * SQLite (db_sqlite.c), the embedded default: data/<app>/app.db and
 * data/borough.db. Opening sets WAL, synchronous=NORMAL, foreign keys, a
 * busy timeout and, for app connections, the authorizer that keeps an app
 * inside its own file.
 *
 * PostgreSQL (db_pg.c), chosen by the operator (serve --database, the
 * BOROUGH_DATABASE variable, or site.conf's database line): one database
 * for several nodes; the platform's tables in the schema `borough`, each
 * app's in a schema of its own reached through a login role of its own
 * that can reach nothing else (docs/security.md). A connection handle is a
 * small pool of connections; statements can run without blocking the
 * caller's loop (bo_stmt_start), and a transaction holds one connection
 * for the task that opened it across its waits (bo_db_detach/attach).
 *
 * Both: statements are prepared once and cached by their SQL text; a
 * progress callback lets the owner interrupt a long statement (the Lua
 * bindings use it to hold SQL to the request's budget).
 *
 * All SQL of the platform goes through here and lua/: no other module
 * names SQLite or libpq (tests/e2e/test_layers.py checks it). The
 * interface is the engines' common ground: statements with positional
 * parameters (?1, ?2, ...), typed binds and columns of five kinds, steps
 * that yield rows, the connection's changes and last id, transactions.
 * The SQL text is the caller's, in the portable subset docs/apps.md
 * describes; the PostgreSQL engine translates what differs only in
 * spelling (placeholders, type names, an INTEGER PRIMARY KEY), and
 * bo_db_dialect tells callers which engine they write for where more
 * differs.
 */
#ifndef BO_DB_H
#define BO_DB_H

#include "bo.h"
#include "buf.h"

typedef struct bo_db bo_db;
typedef struct bo_stmt bo_stmt;     /* a prepared statement */

/* What bo_stmt_step returns, besides a negative BO_E* code (BO_EBUSY: the
   database is locked past the busy timeout; BO_ECONSTRAINT: a constraint
   refused the change; BO_ELIMIT: interrupted by the progress check;
   BO_EPERM: refused by the authorizer; BO_EDB: anything else). */
enum {
    BO_DB_DONE = 0,           /* the statement has run to its end */
    BO_DB_ROW = 1,            /* a row is ready to be read */
};

/* The type of a column's value in the current row. */
typedef enum bo_db_type {
    BO_DB_NULL,
    BO_DB_INTEGER,
    BO_DB_FLOAT,
    BO_DB_TEXT,
    BO_DB_BLOB,
} bo_db_type;

/* Process-wide engine settings; call once, before any connection opens. */
void bo_db_global_init(void);

typedef enum bo_dialect {
    BO_SQLITE,
    BO_POSTGRES,
} bo_dialect;

/* Where the databases of data_dir are: url if given (serve --database),
   else $BOROUGH_DATABASE, else data_dir/site.conf's `database` line, else
   SQLite files under data_dir. Call once at start (before threads); a
   command that never calls it gets the same answer on first open.
   Returns 0, or BO_EINVAL with the reason in err (a URL that is not
   postgresql://). */
int bo_db_locate(const char *data_dir, const char *url, char *err, size_t errlen);
/* Locates the database as the first open would, unless it is located
   already: a command that loads an app calls it before the app's Lua state
   asks bo_db_dialect. Returns 0, or BO_EINVAL as bo_db_locate. */
int bo_db_located(const char *data_dir, char *err, size_t errlen);
/* The engine in use (after bo_db_locate, bo_db_located or the first open). */
bo_dialect bo_db_dialect(void);
/* PostgreSQL: whether the server could not be reached at the last try (and
   is not tried again before a backoff); always false on SQLite. */
bool bo_db_unreachable(void);
/* The URL in use with any password left out, for log lines; NULL on SQLite. */
const char *bo_db_url_shown(void);

/* Opens app's database: data_dir/<app>/app.db, or on PostgreSQL the app's
   schema (made with its role on first use), as the app (BO_DB_APP: the
   app's role and the authorizer) or as the platform. */
int bo_db_open_app(bo_db **out, const char *data_dir, const char *app, unsigned flags, char *err,
                   size_t errlen);
/* Whether app has a database yet: its file on SQLite; on PostgreSQL
   always (its schema is made when it is opened). */
bool bo_db_app_made(const char *data_dir, const char *app);
/* The space app's database takes (app NULL: the platform's): its file and
   WAL on SQLite; on PostgreSQL its schema's tables with their indexes,
   asked over a connection of its own. -1 when there is none yet or the
   server cannot be reached. */
int64_t bo_db_bytes(const char *data_dir, const char *app);
/* Calls fn for each app that has a database (data_dir/<app>/app.db, or an
   app schema on PostgreSQL), stopping at the first non-zero return, which
   it returns; or a BO_E* code with the reason in err. */
int bo_db_each_app(const char *data_dir, int (*fn)(const char *app, void *ud), void *ud, char *err,
                   size_t errlen);
/* Opens the platform's database: data_dir/borough.db, or the schema
   `borough`. */
int bo_db_open_platform(bo_db **out, const char *data_dir, unsigned flags, char *err, size_t errlen);

enum {
    BO_DB_APP = 1 << 0,       /* an app's database: authorizer on */
    BO_DB_READONLY = 1 << 1,
    BO_DB_CREATE = 1 << 2,    /* create the file (and its folder) if missing */
};

/* Opens the SQLite file at path with the pragmas above, whatever engine
   the data folder uses (an export's copy). Returns 0 and *out, or a BO_E*
   code with the reason in err. The new handle is freed with bo_db_close(). */
int bo_db_open(bo_db **out, const char *path, unsigned flags, char *err, size_t errlen);
void bo_db_close(bo_db *db);

/* The engine and its version, for `borough version`. */
const char *bo_db_version(void);
/* The message of the last failure on db. */
const char *bo_db_errmsg(bo_db *db);
/* Rows changed by the last INSERT, UPDATE or DELETE, and the id of the
   last row inserted, on db. */
int64_t bo_db_changes(bo_db *db);
int64_t bo_db_last_insert_id(bo_db *db);

/* Returns the cached statement for sql (reset, bindings cleared), preparing
   it on first use, or NULL with the reason in err. Exactly one statement is
   allowed; a second one, or a statement the app may not run (VACUUM), is an
   error. The statement stays owned by the cache. */
bo_stmt *bo_db_prepare(bo_db *db, const char *sql, size_t len, char *err, size_t errlen);

/* Prepares sql (len bytes, or up to its NUL when len < 0) outside the
   cache, for a statement run once; free it with bo_stmt_finalize. Returns
   0 and *out, or a BO_E* code (the message in bo_db_errmsg). */
int bo_stmt_prepare(bo_db *db, const char *sql, int len, bo_stmt **out);
void bo_stmt_finalize(bo_stmt *s);

/* Binding the 1-based parameter i. A text or blob given by reference must
   stay unchanged until the statement is reset or bound again; the _copy
   forms copy it. len < 0: the text runs to its NUL; a NULL text or blob
   binds NULL. Return 0 or BO_E*. */
int bo_stmt_bind_int64(bo_stmt *s, int i, int64_t v);
int bo_stmt_bind_double(bo_stmt *s, int i, double v);
int bo_stmt_bind_null(bo_stmt *s, int i);
int bo_stmt_bind_text(bo_stmt *s, int i, const char *p, int64_t len);
int bo_stmt_bind_text_copy(bo_stmt *s, int i, const char *p, int64_t len);
int bo_stmt_bind_blob(bo_stmt *s, int i, const void *p, int64_t len);
int bo_stmt_bind_blob_copy(bo_stmt *s, int i, const void *p, int64_t len);
/* Binds parameter i of s to column col of src's current row, as it is (src may be on
   the other engine). */
int bo_stmt_bind_column(bo_stmt *s, int i, bo_stmt *src, int col);
/* The number of parameters the statement takes. */
int bo_stmt_param_count(bo_stmt *s);

/* Runs the statement to its next row: BO_DB_ROW, BO_DB_DONE, or BO_E*. */
int bo_stmt_step(bo_stmt *s);
/* As bo_stmt_step, for a statement whose failure the caller handles and
   goes on from inside its transaction (a row a constraint refuses): only
   the statement is undone, as SQLite always does; on PostgreSQL, where a
   failed statement aborts the whole transaction, it runs in a savepoint. */
int bo_stmt_step_guarded(bo_stmt *s);
/* Makes the statement ready to run again (bindings kept); clears them. */
void bo_stmt_reset(bo_stmt *s);
void bo_stmt_clear(bo_stmt *s);

/* The current row's columns (0-based). Text is NUL-terminated and, like a
   blob, valid until the next step, reset or column call on that column. */
int bo_stmt_column_count(bo_stmt *s);
const char *bo_stmt_column_name(bo_stmt *s, int col);
bo_db_type bo_stmt_column_type(bo_stmt *s, int col);
int64_t bo_stmt_column_int64(bo_stmt *s, int col);
double bo_stmt_column_double(bo_stmt *s, int col);
const char *bo_stmt_column_text(bo_stmt *s, int col);
const void *bo_stmt_column_blob(bo_stmt *s, int col);
int bo_stmt_column_bytes(bo_stmt *s, int col);
/* A number that changes when the engine had to prepare the statement
   again (the schema changed), so what was learnt of its columns is stale. */
int64_t bo_stmt_generation(bo_stmt *s);

/* Resets every statement of db still in the middle of its rows (a run of
   app code that failed half way). */
void bo_db_reset_busy(bo_db *db);

/* A scalar SQL function over text: fills out with the result and returns
   0, returns 1 for SQL NULL, or -1 with a message in out. */
typedef int (*bo_db_text_fn)(void *ud, int argc, const char *const *argv, const size_t *lens, bo_buf *out);
/* Makes name(arg, ...) with nargs arguments callable in db's SQL. */
int bo_db_create_function(bo_db *db, const char *name, int nargs, bo_db_text_fn fn, void *ud);

/* Copies the whole of src, consistently, into a new database file at path,
   opened as *copy (plain: no WAL, no authorizer; close with bo_db_close).
   Returns 0, or a BO_E* code with the reason in err. */
int bo_db_backup(bo_db *src, const char *path, bo_db **copy, char *err, size_t errlen);

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
int *bo_db_stmt_user_ref(bo_db *db, bo_stmt *stmt);

/* Registers a progress check run every few thousand VM steps; returning
   non-zero interrupts the statement (it fails with BO_ELIMIT). */
void bo_db_on_progress(bo_db *db, int (*fn)(void *), void *ud);
/* Suspends the progress check (the platform's schema work at load is not
   the app's to pay for); returns the previous setting. */
bool bo_db_pause_progress(bo_db *db, bool pause);

/* Registers a function run after each outermost transaction of db commits
   (bo_db_commit at depth 1), so that what the transaction made can be
   announced only once others can read it (live updates). One per
   connection; NULL removes it. */
void bo_db_on_commit(bo_db *db, void (*fn)(void *), void *ud);

/* Transactions: BEGIN IMMEDIATE at depth 0, savepoints inside. */
int bo_db_begin(bo_db *db, char *err, size_t errlen);
/* A transaction that only reads and sees one snapshot of the database
   throughout, without holding writers back (an export, a move): on SQLite
   a deferred BEGIN (its first read fixes the snapshot), on PostgreSQL
   REPEATABLE READ, READ ONLY, without the app's write lock. Only at depth
   0; ended with bo_db_commit or bo_db_rollback. */
int bo_db_begin_read(bo_db *db, char *err, size_t errlen);
int bo_db_commit(bo_db *db, char *err, size_t errlen);
int bo_db_rollback(bo_db *db);
int bo_db_tx_depth(const bo_db *db);
/* True while any transaction is open on db: the platform's (bo_db_begin)
   or one SQLite holds for another reason. */
bool bo_db_in_tx(bo_db *db);
/* Rolls back whatever transaction is open, savepoints and all. */
void bo_db_rollback_all(bo_db *db);

/* ---- without blocking (PostgreSQL; SQLite always runs at once) ----

   A statement (or a commit) started with a waiter either runs at once (0:
   step it as usual) or is sent and answered later (BO_DB_PENDING): the
   waiter's ready(w) is called from w->loop once the whole result is in,
   and only then may the statement be stepped (or the commit finished).
   bo_db_cancel abandons what w waits for: ready never comes, the result is
   dropped when it arrives. While the caller waits, other callers may use
   the same bo_db; a transaction's connection stays with whoever opened
   it: the caller detaches it before its wait and attaches it again when
   it runs (task.c does this for every task). */
enum { BO_DB_PENDING = 2 };
typedef struct bo_db_waiter bo_db_waiter;
struct bo_db_waiter {
    void (*ready)(bo_db_waiter *w);
    void *loop;                /* the uv_loop_t the answer comes on */
    void *impl;                /* the engine's */
};
int bo_stmt_start(bo_stmt *s, bo_db_waiter *w);
/* Whether a statement of db outside a transaction would find no
   connection now: every one of the pool is held by other callers'
   transactions or statements (PostgreSQL; never on SQLite). A caller that
   can wait waits for one to be let go rather than fail. */
bool bo_db_saturated(bo_db *db);
/* Commits the outermost transaction (an inner one, as bo_db_commit). 0
   (done), BO_DB_PENDING (the transaction is no longer the caller's; after
   ready, bo_db_commit_finish says how it ended), or BO_E* with the reason
   in err. */
int bo_db_commit_start(bo_db *db, bo_db_waiter *w, char *err, size_t errlen);
int bo_db_commit_finish(bo_db *db, char *err, size_t errlen);
void bo_db_cancel(bo_db_waiter *w);
/* Takes away (and returns) the transaction the running caller holds, so
   another may run; gives it back. NULL when it holds none. */
void *bo_db_detach(bo_db *db);
void bo_db_attach(bo_db *db, void *held);

/* Copies committed WAL frames into the database without blocking readers or
   writers (a PASSIVE checkpoint); when the log is long and fully copied,
   also tries (without waiting) to truncate it. *frames receives the frames
   in the log. */
int bo_db_checkpoint(bo_db *db, int *frames);
/* After rows were written with the ids they had elsewhere (borough
   migrate-to-postgres), makes the ids the database assigns next in table
   follow the largest one written: on PostgreSQL, moves the sequence of
   the table's identity column on; nothing to do on SQLite, whose rowid
   follows by itself. Returns 0, or a BO_E* code with the reason in err. */
int bo_db_ids_follow(bo_db *db, const char *table, char *err, size_t errlen);
/* Calls fn(ud, table, column, type) for each column of each table of db's
   own schema, a table's columns together and in order. type is INTEGER,
   REAL, TEXT or BLOB (the SQLite type a column's values fit). Stops at
   fn's first non-zero return, which it returns; or a BO_E* code with the
   reason in err. */
int bo_db_each_column(bo_db *db, int (*fn)(void *ud, const char *table, const char *column, const char *type),
                      void *ud, char *err, size_t errlen);
/* Calls fn(ud, row) for every row of table, with the columns cols[0..ncols)
   in that order, stopping at fn's first non-zero return, which it returns;
   or a BO_E* code with the reason in err. With an "id" among cols (which
   must then be the table's key) the rows come in pages of a few thousand,
   in the order of their ids, so a large
   table is never held whole (PostgreSQL hands a statement's result over
   whole); call it inside a transaction (bo_db_begin_read) for one
   snapshot. */
int bo_db_scan(bo_db *db, const char *table, const char *const *cols, int ncols,
               int (*fn)(void *ud, bo_stmt *row), void *ud, char *err, size_t errlen);
/* Copies every row of table from src into the same table of dst, the
   columns cols[0..ncols) values as stored (each engine's ids, sealed
   values and blind indexes kept), on whichever engines the two are; adds
   the rows copied to *rows. Returns 0, or a BO_E* code with the reason
   in err ("table row N: ..."). */
int bo_db_copy_rows(bo_db *dst, bo_db *src, const char *table, const char *const *cols, int ncols, int64_t *rows,
                    char *err, size_t errlen);
/* Whether db's own schema (the app's, or the platform's) has the table name. */
bool bo_db_has_table(bo_db *db, const char *name);
/* Whether the table of db's own schema has the column. */
bool bo_db_has_column(bo_db *db, const char *table, const char *column);

#endif
