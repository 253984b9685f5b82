/*
 * db_sqlite.c - the SQLite engine behind db.h: connections with the
 * platform's pragmas, the app authorizer and a statement cache.
 *
 * The cache is an open-addressing table keyed by SQL text (FNV-1a), sized
 * for CACHE_SLOTS statements; when full, the least recently used half is
 * finalized. Statements are only ever used by the connection's own thread
 * and are fully stepped or reset before control returns to the event loop,
 * so one cached statement is never shared by two running requests.
 */
#include "db_impl.h"
#include "log.h"

#include <sqlite3.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define CACHE_SLOTS 256              /* a power of two */
#define CACHE_MAX (CACHE_SLOTS / 2)
#define BUSY_TIMEOUT_MS 5000
#define MAX_VALUE_BYTES (64 * 1024 * 1024)
#define PROGRESS_EVERY 10000

/* A statement: the common part, then SQLite's. */
typedef struct sq_stmt {
    bo_stmt base;
    sqlite3_stmt *st;
} sq_stmt;

typedef struct cache_entry {
    char *sql;                 /* NULL when the slot is free */
    size_t len;
    uint64_t hash;
    uint64_t used;             /* last use tick, for eviction */
    sq_stmt stmt;
    int user_ref;
    bool platform;             /* prepared for the platform (bo_db_set_platform) */
} cache_entry;

#define RECENT_SLOTS 16           /* a power of two */

typedef struct sq_db {
    bo_db base;
    sqlite3 *sqlite;
    /* The entry last prepared for a given SQL string address: app SQL is
       mostly string constants, whose address does not change, so a hit
       costs one comparison of the text instead of hashing it. */
    cache_entry *recent[RECENT_SLOTS];
    cache_entry *last;         /* the entry bo_db_prepare returned last */
    bool tx_control;           /* bo_db_begin/commit/rollback are running */
    const char *denied;        /* why the authorizer refused the last statement */
    int tx_depth;
    uint64_t tick;
    unsigned cached;
    cache_entry slots[CACHE_SLOTS];
} sq_db;

#define DB(d) ((sq_db *)(d))
#define ST(s) (((sq_stmt *)(s))->st)

static const bo_db_ops sq_ops;
static void sq_close(bo_db *d);

void bo_sqlite_global_init(void)
{
    /* Statistics would take a global mutex on every SQLite allocation. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
}

/* Translates an SQLite result code into a BO_E* code. */
static int db_error(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK: return BO_OK;
    case SQLITE_CONSTRAINT: return BO_ECONSTRAINT;
    case SQLITE_NOMEM: return BO_ENOMEM;
    case SQLITE_BUSY: case SQLITE_LOCKED: return BO_EBUSY;
    case SQLITE_CANTOPEN: return BO_ENOENT;
    case SQLITE_AUTH: case SQLITE_PERM: case SQLITE_READONLY: return BO_EPERM;
    case SQLITE_INTERRUPT: return BO_ELIMIT;
    case SQLITE_IOERR: return BO_EIO;
    default: return BO_EDB;
    }
}

/* PRAGMAs an app may run: ones that take a name as their argument, and
   read-only values queried without an argument. */
static const char *const pragmas_with_name[] = {
    "table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check", NULL
};
static const char *const pragmas_read_only[] = {
    "user_version", "data_version", "page_count", "page_size", "freelist_count",
    "journal_mode", "foreign_keys", "schema_version", "encoding", "table_list",
    "synchronous", "busy_timeout", "compile_options", NULL
};

static bool in_list(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcasecmp(*list, name) == 0)
            return true;
    return false;
}

/* True for the platform's own tables in an app database (the audit trail,
   the migration record): an app reads them but never writes them. */
static bool platform_table(const char *name)
{
    return name && strncasecmp(name, "_borough_", 9) == 0;
}

/* Writes to the schema table are not judged here: SQLite reports every
   CREATE, DROP and ALTER as an INSERT, DELETE or UPDATE of sqlite_schema, so
   refusing those would refuse all DDL. A direct write to the schema table is
   refused by SQLite itself unless writable_schema is on, which
   SQLITE_DBCONFIG_DEFENSIVE and the PRAGMA allowlist both rule out.
   While the platform runs its own statements (db->platform) it may write
   its tables and set pragmas; app code never runs then.
   Transaction control (BEGIN, COMMIT, END, ROLLBACK, SAVEPOINT, RELEASE) is
   the platform's alone (db.tx), however the SQL is written: SQLite's own
   parse names the statement here, not its text. A transaction an app
   opened would outlive its request, hold the write lock and swallow the
   writes of later requests. */
static int app_authorizer(void *ud, int action, const char *a, const char *b, const char *dbname,
                          const char *trigger)
{
    sq_db *db = ud;
    BO_UNUSED(dbname);
    BO_UNUSED(trigger);
    switch (action) {
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
    case SQLITE_DROP_TABLE:
    case SQLITE_CREATE_TABLE:
        return platform_table(a) && !db->base.platform ? SQLITE_DENY : SQLITE_OK;
    case SQLITE_ALTER_TABLE:
    case SQLITE_CREATE_INDEX:
    case SQLITE_DROP_INDEX:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_DROP_TRIGGER:
        return (platform_table(a) || platform_table(b)) && !db->base.platform ? SQLITE_DENY : SQLITE_OK;
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
        return SQLITE_DENY;
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        if (db->tx_control)
            return SQLITE_OK;
        db->denied = "transaction statements are not allowed; use db.tx(fn) for a transaction";
        return SQLITE_DENY;
    case SQLITE_PRAGMA:
        if (db->base.platform || in_list(pragmas_with_name, a))
            return SQLITE_OK;
        return (in_list(pragmas_read_only, a) && b == NULL) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_FUNCTION:
        return (strcasecmp(b, "load_extension") == 0 || strcasecmp(b, "fts3_tokenizer") == 0)
                   ? SQLITE_DENY : SQLITE_OK;
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_VTABLE:
        return (strcasecmp(b, "fts5") == 0 || strcasecmp(b, "fts4") == 0 || strcasecmp(b, "rtree") == 0)
                   ? SQLITE_OK : SQLITE_DENY;
    default:
        return SQLITE_OK;
    }
}

static int progress_trampoline(void *ud)
{
    bo_db *db = ud;         /* the common part */
    return db->progress && !db->progress_paused ? db->progress(db->progress_ud) : 0;
}

/* mkdir -p for the folder that will hold path (owner-only). */
static int make_parent(const char *path)
{
    char *dir = bo_strdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; *p; p++) {
            if (*p != '/')
                continue;
            *p = '\0';
            if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                rc = -1;
            *p = '/';
        }
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            rc = -1;
    }
    free(dir);
    return rc;
}

static int pragma(sq_db *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db->sqlite, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", sql, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return db_error(rc);
    }
    return 0;
}

int bo_sqlite_open(bo_db **out, const char *path, unsigned flags, char *err, size_t errlen)
{
    *out = NULL;
    int oflags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    oflags |= (flags & BO_DB_READONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (flags & BO_DB_CREATE) {
        oflags |= SQLITE_OPEN_CREATE;
        if (make_parent(path) < 0) {
            snprintf(err, errlen, "cannot create the folder for %s: %s", path, strerror(errno));
            return BO_EIO;
        }
    }
    sq_db *db = bo_calloc(1, sizeof *db);
    db->base.ops = &sq_ops;
    db->base.flags = flags;
    int rc = sqlite3_open_v2(path, &db->sqlite, oflags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path,
                 db->sqlite ? sqlite3_errmsg(db->sqlite) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(db->sqlite, 1);
    sqlite3_busy_timeout(db->sqlite, BUSY_TIMEOUT_MS);
    sqlite3_limit(db->sqlite, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(db->sqlite, SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES);
    sqlite3_db_config(db->sqlite, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
    sqlite3_db_config(db->sqlite, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(db->sqlite, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    if (!(flags & BO_DB_READONLY)) {
        if ((rc = pragma(db, "PRAGMA journal_mode=WAL", err, errlen)) < 0)
            goto fail_code;
    }
    /* When the log restarts, its file is cut back to this size. */
    if (!(flags & BO_DB_READONLY) &&
        (rc = pragma(db, "PRAGMA journal_size_limit=67108864", err, errlen)) < 0)
        goto fail_code;
    if ((rc = pragma(db, "PRAGMA synchronous=NORMAL", err, errlen)) < 0 ||
        (rc = pragma(db, "PRAGMA foreign_keys=ON", err, errlen)) < 0)
        goto fail_code;
    sqlite3_progress_handler(db->sqlite, PROGRESS_EVERY, progress_trampoline, db);
    if (flags & BO_DB_APP)
        sqlite3_set_authorizer(db->sqlite, app_authorizer, db);
    *out = &db->base;
    return 0;
fail:
    rc = db_error(rc);
    if (rc == 0)
        rc = BO_EDB;
fail_code:
    sq_close(&db->base);
    return rc;
}

static void entry_clear(sq_db *db, cache_entry *e)
{
    if (db->base.evict && e->user_ref)
        db->base.evict(db->base.evict_ud, e->user_ref);
    sqlite3_finalize(e->stmt.st);
    free(e->sql);
    memset(e, 0, sizeof *e);
}

/* Runs the platform's own transaction statement sql. */
static int tx_exec(sq_db *db, const char *sql, char *err, size_t errlen)
{
    db->tx_control = true;
    char *msg = NULL;
    int rc = sqlite3_exec(db->sqlite, sql, NULL, NULL, err ? &msg : NULL);
    db->tx_control = false;
    if (rc != SQLITE_OK && err)
        snprintf(err, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rc;
}

static void sq_close(bo_db *d)
{
    sq_db *db = DB(d);
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        if (db->slots[i].sql)
            entry_clear(db, &db->slots[i]);
    if (!sqlite3_get_autocommit(db->sqlite))
        tx_exec(db, "ROLLBACK", NULL, 0);
    sqlite3_close_v2(db->sqlite);
    free(db);
}

const char *bo_sqlite_version(void)
{
    static char v[40];
    if (!v[0])
        snprintf(v, sizeof v, "SQLite %s", sqlite3_libversion());
    return v;
}

static const char *sq_errmsg(bo_db *d)
{
    sq_db *db = DB(d);
    return db->denied ? db->denied : sqlite3_errmsg(db->sqlite);
}

static int64_t sq_changes(bo_db *d)
{
    return sqlite3_changes64(DB(d)->sqlite);
}

static int64_t sq_last_insert_id(bo_db *d)
{
    return sqlite3_last_insert_rowid(DB(d)->sqlite);
}

static int compare_ticks(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Finalizes the least recently used half, then rehashes the survivors. */
static void cache_shrink(sq_db *db)
{
    uint64_t ticks[CACHE_SLOTS];
    unsigned n = 0;
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        if (db->slots[i].sql)
            ticks[n++] = db->slots[i].used;
    qsort(ticks, n, sizeof *ticks, compare_ticks);
    uint64_t cut = ticks[n / 2];
    cache_entry keep[CACHE_SLOTS];
    unsigned kept = 0;
    for (unsigned i = 0; i < CACHE_SLOTS; i++) {
        cache_entry *e = &db->slots[i];
        if (!e->sql)
            continue;
        if (e->used >= cut) {
            keep[kept++] = *e;
            memset(e, 0, sizeof *e);
        } else {
            entry_clear(db, e);
        }
    }
    db->cached = 0;
    memset(db->recent, 0, sizeof db->recent);
    db->last = NULL;
    for (unsigned i = 0; i < kept; i++) {
        unsigned slot = (unsigned)keep[i].hash & (CACHE_SLOTS - 1);
        while (db->slots[slot].sql)
            slot = (slot + 1) & (CACHE_SLOTS - 1);
        db->slots[slot] = keep[i];
        db->cached++;
    }
}

static bo_stmt *cache_hit(sq_db *db, cache_entry *e, unsigned recent)
{
    e->used = ++db->tick;
    db->recent[recent] = e;
    db->last = e;
    sqlite3_reset(e->stmt.st);
    sqlite3_clear_bindings(e->stmt.st);
    return &e->stmt.base;
}

static bo_stmt *sq_prepare(bo_db *d, const char *sql, size_t len, char *err, size_t errlen)
{
    sq_db *db = DB(d);
    unsigned recent = (unsigned)((uintptr_t)sql >> 4) & (RECENT_SLOTS - 1);
    cache_entry *r = db->recent[recent];
    if (r && r->sql && r->len == len && r->platform == d->platform && memcmp(r->sql, sql, len) == 0)
        return cache_hit(db, r, recent);
    uint64_t h = bo_fnv1a(sql, len) ^ d->platform;
    unsigned slot = (unsigned)h & (CACHE_SLOTS - 1);
    while (db->slots[slot].sql) {
        cache_entry *e = &db->slots[slot];
        if (e->hash == h && e->len == len && e->platform == d->platform && memcmp(e->sql, sql, len) == 0)
            return cache_hit(db, e, recent);
        slot = (slot + 1) & (CACHE_SLOTS - 1);
    }
    const char *refused = (d->flags & BO_DB_APP) ? bo_sql_refused(sql, len) : NULL;
    if (refused) {
        snprintf(err, errlen, "%s", refused);
        return NULL;
    }
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL;
    db->denied = NULL;
    int rc = sqlite3_prepare_v3(db->sqlite, sql, (int)len, SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s", db->denied ? db->denied : sqlite3_errmsg(db->sqlite));
        return NULL;
    }
    if (!stmt) {
        snprintf(err, errlen, "no SQL statement given");
        return NULL;
    }
    if (tail && bo_sql_skip_space(tail, sql + len) != sql + len) {
        sqlite3_finalize(stmt);
        snprintf(err, errlen, "only one SQL statement is allowed per call");
        return NULL;
    }
    if (db->cached >= CACHE_MAX) {
        cache_shrink(db);
        slot = (unsigned)h & (CACHE_SLOTS - 1);
        while (db->slots[slot].sql)
            slot = (slot + 1) & (CACHE_SLOTS - 1);
    }
    cache_entry *e = &db->slots[slot];
    e->sql = bo_strndup(sql, len);
    e->len = len;
    e->hash = h;
    e->used = ++db->tick;
    e->stmt.base.db = d;
    e->stmt.st = stmt;
    e->user_ref = 0;
    e->platform = d->platform;
    db->cached++;
    db->recent[recent] = e;
    db->last = e;
    return &e->stmt.base;
}

static int *sq_stmt_user_ref(bo_db *d, bo_stmt *st)
{
    sq_db *db = DB(d);
    if (db->last && &db->last->stmt.base == st)
        return &db->last->user_ref;
    const char *sql = sqlite3_sql(ST(st));
    size_t len = strlen(sql);
    uint64_t h = bo_fnv1a(sql, len) ^ d->platform;
    unsigned slot = (unsigned)h & (CACHE_SLOTS - 1);
    while (db->slots[slot].sql) {
        if (&db->slots[slot].stmt.base == st)
            return &db->slots[slot].user_ref;
        slot = (slot + 1) & (CACHE_SLOTS - 1);
    }
    return NULL;
}

static int sq_exec_script(bo_db *d, const char *sql, char *err, size_t errlen)
{
    sq_db *db = DB(d);
    char *msg = NULL;
    int rc = sqlite3_exec(db->sqlite, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return db_error(rc);
    }
    return 0;
}

static int sq_run_app_script(bo_db *d, const char *sql, size_t len, int *line, char *err, size_t errlen)
{
    sq_db *db = DB(d);
    const char *end = sql + len, *p = sql;
    *line = 0;
    for (;;) {
        p = bo_sql_skip_space(p, end);
        if (p >= end)
            return 0;
        const char *refused = (d->flags & BO_DB_APP) ? bo_sql_refused(p, (size_t)(end - p)) : NULL;
        sqlite3_stmt *stmt = NULL;
        const char *tail = end;
        db->denied = NULL;
        int rc = refused ? SQLITE_AUTH
                         : sqlite3_prepare_v3(db->sqlite, p, (int)(end - p), 0, &stmt, &tail);
        if (!refused)
            refused = db->denied;
        if (rc == SQLITE_OK && stmt) {
            while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
                ;
            if (rc == SQLITE_DONE)
                rc = SQLITE_OK;
        }
        if (rc != SQLITE_OK) {
            snprintf(err, errlen, "%s", refused ? refused : sqlite3_errmsg(db->sqlite));
            sqlite3_finalize(stmt);
            *line = 1;
            for (const char *q = sql; q < p; q++)
                *line += *q == '\n';
            return db_error(rc);
        }
        sqlite3_finalize(stmt);
        p = tail ? tail : end;
    }
}

static void sq_set_platform(bo_db *d, bool on)
{
    BO_UNUSED(d);
    BO_UNUSED(on);      /* the authorizer reads d->platform */
}

static int sq_begin(bo_db *d, char *err, size_t errlen)
{
    sq_db *db = DB(d);
    const char *sql = db->tx_depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT bo_tx";
    int rc = db_error(tx_exec(db, sql, err, errlen));
    if (rc == 0)
        db->tx_depth++;
    return rc;
}

static int sq_begin_read(bo_db *d, char *err, size_t errlen)
{
    sq_db *db = DB(d);
    int rc = db_error(tx_exec(db, "BEGIN", err, errlen));
    if (rc == 0)
        db->tx_depth++;
    return rc;
}

static int sq_commit(bo_db *d, char *err, size_t errlen)
{
    sq_db *db = DB(d);
    if (db->tx_depth == 0) {
        snprintf(err, errlen, "no transaction is open");
        return BO_EINVAL;
    }
    const char *sql = db->tx_depth == 1 ? "COMMIT" : "RELEASE bo_tx";
    int rc = db_error(tx_exec(db, sql, err, errlen));
    if (rc == 0)
        db->tx_depth--;
    return rc;
}

static int sq_rollback(bo_db *d)
{
    sq_db *db = DB(d);
    if (db->tx_depth == 0)
        return BO_EINVAL;
    const char *sql = db->tx_depth == 1 ? "ROLLBACK" : "ROLLBACK TO bo_tx; RELEASE bo_tx";
    int rc = tx_exec(db, sql, NULL, 0);
    db->tx_depth--;
    if (db->tx_depth == 0 && !sqlite3_get_autocommit(db->sqlite))
        tx_exec(db, "ROLLBACK", NULL, 0);
    return db_error(rc);
}

/* A log this long (about 40 MiB of 4 KiB pages) is cut back once copied. */
#define TRUNCATE_FRAMES 10000

static int sq_checkpoint(bo_db *d, int *frames)
{
    sq_db *db = DB(d);
    int log = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(db->sqlite, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    if (rc == SQLITE_OK && log >= TRUNCATE_FRAMES && copied == log) {
        /* Everything is copied: try (without waiting) to reset the file. */
        sqlite3_busy_timeout(db->sqlite, 0);
        rc = sqlite3_wal_checkpoint_v2(db->sqlite, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &copied);
        sqlite3_busy_timeout(db->sqlite, BUSY_TIMEOUT_MS);
        if ((rc & 0xff) == SQLITE_BUSY)
            rc = SQLITE_OK;
    }
    if (frames)
        *frames = log;
    return db_error(rc);
}

static int sq_tx_depth(bo_db *d)
{
    return DB(d)->tx_depth;
}

static bool sq_in_tx(bo_db *d)
{
    sq_db *db = DB(d);
    return db->tx_depth > 0 || !sqlite3_get_autocommit(db->sqlite);
}

static void sq_rollback_all(bo_db *d)
{
    sq_db *db = DB(d);
    if (!sqlite3_get_autocommit(db->sqlite))
        tx_exec(db, "ROLLBACK", NULL, 0);
    db->tx_depth = 0;
}

/* ---- statements ---- */

static int sq_stmt_prepare(bo_db *d, const char *sql, int len, bo_stmt **out)
{
    sq_db *db = DB(d);
    sqlite3_stmt *stmt = NULL;
    db->denied = NULL;
    *out = NULL;
    int rc = sqlite3_prepare_v2(db->sqlite, sql, len, &stmt, NULL);
    if (rc == SQLITE_OK && !stmt)
        rc = SQLITE_MISUSE;        /* no statement in the text */
    if (rc != SQLITE_OK)
        return db_error(rc);
    sq_stmt *s = bo_malloc(sizeof *s);
    s->base.db = d;
    s->st = stmt;
    *out = &s->base;
    return 0;
}

static void sq_finalize(bo_stmt *s)
{
    sqlite3_finalize(ST(s));
    free(s);
}

static int sq_bind_int64(bo_stmt *s, int i, int64_t v)
{
    return db_error(sqlite3_bind_int64(ST(s), i, v));
}

static int sq_bind_double(bo_stmt *s, int i, double v)
{
    return db_error(sqlite3_bind_double(ST(s), i, v));
}

static int sq_bind_null(bo_stmt *s, int i)
{
    return db_error(sqlite3_bind_null(ST(s), i));
}

static int sq_bind_text(bo_stmt *s, int i, const char *p, int64_t len, bool copy)
{
    return db_error(sqlite3_bind_text64(ST(s), i, p, (sqlite3_uint64)len, copy ? SQLITE_TRANSIENT : SQLITE_STATIC,
                                        SQLITE_UTF8));
}

static int sq_bind_blob(bo_stmt *s, int i, const void *p, int64_t len, bool copy)
{
    return db_error(sqlite3_bind_blob64(ST(s), i, p, (sqlite3_uint64)len, copy ? SQLITE_TRANSIENT : SQLITE_STATIC));
}

static int sq_bind_column(bo_stmt *s, int i, bo_stmt *src, int col)
{
    return db_error(sqlite3_bind_value(ST(s), i, sqlite3_column_value(ST(src), col)));
}

static int sq_param_count(bo_stmt *s)
{
    return sqlite3_bind_parameter_count(ST(s));
}

static int sq_step(bo_stmt *s)
{
    int rc = sqlite3_step(ST(s));
    if (rc == SQLITE_ROW)
        return BO_DB_ROW;
    if (rc == SQLITE_DONE)
        return BO_DB_DONE;
    rc = db_error(rc);
    return rc ? rc : BO_EDB;
}

static void sq_reset(bo_stmt *s)
{
    sqlite3_reset(ST(s));
}

static void sq_clear(bo_stmt *s)
{
    sqlite3_clear_bindings(ST(s));
}

static int sq_column_count(bo_stmt *s)
{
    return sqlite3_column_count(ST(s));
}

static const char *sq_column_name(bo_stmt *s, int col)
{
    return sqlite3_column_name(ST(s), col);
}

static bo_db_type sq_column_type(bo_stmt *s, int col)
{
    switch (sqlite3_column_type(ST(s), col)) {
    case SQLITE_INTEGER: return BO_DB_INTEGER;
    case SQLITE_FLOAT: return BO_DB_FLOAT;
    case SQLITE_TEXT: return BO_DB_TEXT;
    case SQLITE_BLOB: return BO_DB_BLOB;
    default: return BO_DB_NULL;
    }
}

static int64_t sq_column_int64(bo_stmt *s, int col)
{
    return sqlite3_column_int64(ST(s), col);
}

static double sq_column_double(bo_stmt *s, int col)
{
    return sqlite3_column_double(ST(s), col);
}

static const char *sq_column_text(bo_stmt *s, int col)
{
    return (const char *)sqlite3_column_text(ST(s), col);
}

static const void *sq_column_blob(bo_stmt *s, int col)
{
    return sqlite3_column_blob(ST(s), col);
}

static int sq_column_bytes(bo_stmt *s, int col)
{
    return sqlite3_column_bytes(ST(s), col);
}

static int64_t sq_generation(bo_stmt *s)
{
    return sqlite3_stmt_status(ST(s), SQLITE_STMTSTATUS_REPREPARE, 0);
}

static void sq_reset_busy(bo_db *d)
{
    sq_db *db = DB(d);
    for (sqlite3_stmt *st = sqlite3_next_stmt(db->sqlite, NULL); st; st = sqlite3_next_stmt(db->sqlite, st))
        if (sqlite3_stmt_busy(st))
            sqlite3_reset(st);
}

/* ---- functions, backups ---- */

typedef struct text_fn {
    bo_db_text_fn fn;
    void *ud;
} text_fn;

#define FN_MAX_ARGS 8

static void text_fn_call(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    text_fn *f = sqlite3_user_data(ctx);
    const char *args[FN_MAX_ARGS];
    size_t lens[FN_MAX_ARGS];
    for (int i = 0; i < argc && i < FN_MAX_ARGS; i++) {
        args[i] = sqlite3_value_type(argv[i]) == SQLITE_NULL ? NULL : (const char *)sqlite3_value_text(argv[i]);
        lens[i] = args[i] ? (size_t)sqlite3_value_bytes(argv[i]) : 0;
    }
    bo_buf out;
    bo_buf_init(&out);
    int rc = f->fn(f->ud, argc, args, lens, &out);
    if (rc == 0)
        sqlite3_result_text64(ctx, out.data ? out.data : "", out.len, SQLITE_TRANSIENT, SQLITE_UTF8);
    else if (rc > 0)
        sqlite3_result_null(ctx);
    else
        sqlite3_result_error(ctx, out.data ? out.data : "error", (int)out.len);
    if (out.data)
        memset(out.data, 0, out.len);
    bo_buf_free(&out);
}

static int sq_create_function(bo_db *d, const char *name, int nargs, bo_db_text_fn fn, void *ud)
{
    if (nargs > FN_MAX_ARGS)
        return BO_EINVAL;
    text_fn *f = bo_malloc(sizeof *f);
    f->fn = fn;
    f->ud = ud;
    return db_error(sqlite3_create_function_v2(DB(d)->sqlite, name, nargs, SQLITE_UTF8 | SQLITE_DETERMINISTIC, f,
                                               text_fn_call, NULL, NULL, free));
}

static int sq_backup(bo_db *d, const char *path, bo_db **copy, char *err, size_t errlen)
{
    sq_db *src = DB(d);
    sq_db *db = bo_calloc(1, sizeof *db);
    db->base.ops = &sq_ops;
    *copy = NULL;
    int rc = sqlite3_open_v2(path, &db->sqlite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_backup *bk = sqlite3_backup_init(db->sqlite, "main", src->sqlite, "main");
        if (!bk) {
            rc = sqlite3_errcode(db->sqlite);
        } else {
            do {
                rc = sqlite3_backup_step(bk, -1);
                if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
                    sqlite3_sleep(20);
            } while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
            sqlite3_backup_finish(bk);
            if (rc == SQLITE_DONE)
                rc = SQLITE_OK;
        }
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s", db->sqlite ? sqlite3_errmsg(db->sqlite) : sqlite3_errstr(rc));
        sqlite3_close_v2(db->sqlite);
        free(db);
        return db_error(rc) ? db_error(rc) : BO_EDB;
    }
    *copy = &db->base;
    return 0;
}

/* ---- without blocking: SQLite always runs at once ---- */

static int sq_start(bo_stmt *s, bo_db_waiter *w)
{
    BO_UNUSED(s);
    BO_UNUSED(w);
    return 0;
}

static int sq_commit_start(bo_db *d, bo_db_waiter *w, char *err, size_t errlen)
{
    BO_UNUSED(w);
    return sq_commit(d, err, errlen);
}

static int sq_commit_finish(bo_db *d, char *err, size_t errlen)
{
    BO_UNUSED(d);
    BO_UNUSED(err);
    BO_UNUSED(errlen);
    return 0;
}

static void sq_cancel(bo_db_waiter *w)
{
    BO_UNUSED(w);
}

/* A transaction never spans a wait on SQLite: nothing to hand over. */
static void *sq_detach(bo_db *d)
{
    BO_UNUSED(d);
    return NULL;
}

static void sq_attach(bo_db *d, void *held)
{
    BO_UNUSED(d);
    BO_UNUSED(held);
}

static int sq_ids_follow(bo_db *d, const char *table, char *err, size_t errlen)
{
    BO_UNUSED(d);
    BO_UNUSED(table);
    BO_UNUSED(err);
    BO_UNUSED(errlen);
    return 0;                      /* a rowid follows the largest by itself */
}

static const bo_db_ops sq_ops = {
    .close = sq_close,
    .errmsg = sq_errmsg,
    .changes = sq_changes,
    .last_insert_id = sq_last_insert_id,
    .prepare = sq_prepare,
    .stmt_user_ref = sq_stmt_user_ref,
    .exec_script = sq_exec_script,
    .run_app_script = sq_run_app_script,
    .set_platform = sq_set_platform,
    .begin = sq_begin,
    .begin_read = sq_begin_read,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .tx_depth = sq_tx_depth,
    .in_tx = sq_in_tx,
    .rollback_all = sq_rollback_all,
    .reset_busy = sq_reset_busy,
    .create_function = sq_create_function,
    .backup = sq_backup,
    .checkpoint = sq_checkpoint,
    .ids_follow = sq_ids_follow,
    .has_table_sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
    .has_column_sql = "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
    .columns_sql = "SELECT m.name, p.name, CASE WHEN p.type LIKE '%INT%' THEN 'INTEGER' "
                   "WHEN p.type LIKE '%REAL%' OR p.type LIKE '%FLOA%' OR p.type LIKE '%DOUB%' THEN 'REAL' "
                   "WHEN p.type LIKE '%BLOB%' OR p.type = '' THEN 'BLOB' ELSE 'TEXT' END "
                   "FROM sqlite_master m JOIN pragma_table_info(m.name) p "
                   "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY m.rowid, p.cid",
    .start = sq_start,
    .commit_start = sq_commit_start,
    .commit_finish = sq_commit_finish,
    .cancel = sq_cancel,
    .detach = sq_detach,
    .attach = sq_attach,
    .stmt_prepare = sq_stmt_prepare,
    .finalize = sq_finalize,
    .bind_int64 = sq_bind_int64,
    .bind_double = sq_bind_double,
    .bind_null = sq_bind_null,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .bind_column = sq_bind_column,
    .param_count = sq_param_count,
    .step = sq_step,
    .reset = sq_reset,
    .clear = sq_clear,
    .column_count = sq_column_count,
    .column_name = sq_column_name,
    .column_type = sq_column_type,
    .column_int64 = sq_column_int64,
    .column_double = sq_column_double,
    .column_text = sq_column_text,
    .column_blob = sq_column_blob,
    .column_bytes = sq_column_bytes,
    .generation = sq_generation,
};
