/*
 * db.c - the front of the SQL seam (db.h): where the databases are (SQLite
 * files, or a PostgreSQL database), opening them on the engine in use, and
 * every statement and connection call passed to the engine's table
 * (db_impl.h). The engines themselves are db_sqlite.c and db_pg.c.
 */
#include "db_impl.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---- where the databases are ---- */

static pthread_mutex_t where_lock = PTHREAD_MUTEX_INITIALIZER;
static bool located;
static char *pg_url;            /* NULL: SQLite under the data folder */
static char *pg_url_shown;

void bo_db_global_init(void)
{
    bo_sqlite_global_init();
}

/* site.conf's database line (key = value, # comments), or NULL. */
static char *site_conf_database(const char *data_dir)
{
    char *path = bo_sprintf("%s/site.conf", data_dir);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return NULL;
    char line[2048];
    char *found = NULL;
    while (!found && fgets(line, sizeof line, f)) {
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (strncmp(p, "database", 8) != 0)
            continue;
        p += 8;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '=')
            continue;
        p++;
        while (isspace((unsigned char)*p))
            p++;
        size_t n = strlen(p);
        while (n > 0 && isspace((unsigned char)p[n - 1]))
            n--;
        if (n > 0)
            found = bo_strndup(p, n);
    }
    fclose(f);
    return found;
}

/* The URL with its password (user:password@) left out. */
static char *without_password(const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    char *out;
    if (at && (!slash || at < slash) && colon && colon < at)
        out = bo_sprintf("%.*s:***%s", (int)(colon - url), url, at);
    else
        out = bo_strdup(url);
    /* password=... among the parameters */
    char *pw = strstr(out, "password=");
    if (pw && (pw == out || pw[-1] == '?' || pw[-1] == '&')) {
        char *end = strchr(pw, '&');
        char *rest = end ? bo_strdup(end) : bo_strdup("");
        strcpy(pw + 9, "***");
        char *joined = bo_sprintf("%s%s", out, rest);
        free(rest);
        free(out);
        out = joined;
    }
    return out;
}

static int locate(const char *data_dir, const char *url, char *err, size_t errlen)
{
    char *found = NULL;
    if (url && *url)
        found = bo_strdup(url);
    else if (getenv("BOROUGH_DATABASE") && *getenv("BOROUGH_DATABASE"))
        found = bo_strdup(getenv("BOROUGH_DATABASE"));
    else if (data_dir)
        found = site_conf_database(data_dir);
    if (found && strcmp(found, "sqlite") == 0) {
        free(found);
        found = NULL;
    }
    if (found && strncmp(found, "postgresql://", 13) != 0 && strncmp(found, "postgres://", 11) != 0) {
        snprintf(err, errlen, "the database must be a postgresql:// URL (or none, for SQLite under the data "
                              "folder), not '%.60s'", found);
        free(found);
        return BO_EINVAL;
    }
    free(pg_url);
    free(pg_url_shown);
    pg_url = found;
    pg_url_shown = found ? without_password(found) : NULL;
    located = true;
    return 0;
}

int bo_db_locate(const char *data_dir, const char *url, char *err, size_t errlen)
{
    pthread_mutex_lock(&where_lock);
    int rc = locate(data_dir, url, err, errlen);
    pthread_mutex_unlock(&where_lock);
    return rc;
}

/* The URL to use, locating it on first need. */
static int where(const char *data_dir, const char **url, char *err, size_t errlen)
{
    int rc = 0;
    pthread_mutex_lock(&where_lock);
    if (!located)
        rc = locate(data_dir, NULL, err, errlen);
    *url = pg_url;
    pthread_mutex_unlock(&where_lock);
    return rc;
}

int bo_db_located(const char *data_dir, char *err, size_t errlen)
{
    const char *url;
    return where(data_dir, &url, err, errlen);
}

bool bo_db_unreachable(void)
{
    return pg_url && bo_pg_unreachable();
}

bo_dialect bo_db_dialect(void)
{
    return pg_url ? BO_POSTGRES : BO_SQLITE;
}

const char *bo_db_url_shown(void)
{
    return pg_url_shown;
}

const char *bo_db_version(void)
{
    return pg_url ? bo_pg_version() : bo_sqlite_version();
}

int bo_db_open(bo_db **out, const char *path, unsigned flags, char *err, size_t errlen)
{
    return bo_sqlite_open(out, path, flags, err, errlen);
}

int bo_db_open_app(bo_db **out, const char *data_dir, const char *app, unsigned flags, char *err,
                   size_t errlen)
{
    const char *url;
    *out = NULL;
    int rc = where(data_dir, &url, err, errlen);
    if (rc < 0)
        return rc;
    if (url)
        return bo_pg_open(out, url, app, flags, err, errlen);
    char *path = bo_sprintf("%s/%s/app.db", data_dir, app);
    rc = bo_sqlite_open(out, path, flags, err, errlen);
    free(path);
    return rc;
}

bool bo_db_app_made(const char *data_dir, const char *app)
{
    const char *url;
    char err[256];
    if (where(data_dir, &url, err, sizeof err) < 0)
        return false;
    if (url)
        return true;
    char *path = bo_sprintf("%s/%s/app.db", data_dir, app);
    struct stat st;
    bool made = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    free(path);
    return made;
}

int64_t bo_db_bytes(const char *data_dir, const char *app)
{
    const char *url;
    char err[256];
    if (where(data_dir, &url, err, sizeof err) < 0)
        return -1;
    if (!url) {
        char *path = app ? bo_sprintf("%s/%s/app.db", data_dir, app) : bo_sprintf("%s/borough.db", data_dir);
        char *wal = bo_sprintf("%s-wal", path);
        struct stat st;
        int64_t n = -1;
        if (stat(path, &st) == 0) {
            n = (int64_t)st.st_size;
            if (stat(wal, &st) == 0)
                n += (int64_t)st.st_size;
        }
        free(wal);
        free(path);
        return n;
    }
    static const char sql[] = "SELECT count(*), coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                              "JOIN pg_namespace n ON n.oid = c.relnamespace "
                              "WHERE n.nspname = ?1 AND c.relkind IN ('r', 'm')";
    bo_db *db = NULL;
    bo_stmt *stmt = NULL;
    int64_t n = -1;
    if (bo_pg_unreachable() || bo_pg_open(&db, url, NULL, 0, err, sizeof err) < 0)
        return -1;
    char *schema = app ? bo_sprintf("app_%s", app) : bo_strdup("borough");
    if (bo_stmt_prepare(db, sql, -1, &stmt) == 0) {
        bo_stmt_bind_text(stmt, 1, schema, -1);
        if (bo_stmt_step(stmt) == BO_DB_ROW && bo_stmt_column_int64(stmt, 0) > 0)
            n = bo_stmt_column_int64(stmt, 1);
        bo_stmt_finalize(stmt);
    }
    free(schema);
    bo_db_close(db);
    return n;
}

int bo_db_open_platform(bo_db **out, const char *data_dir, unsigned flags, char *err, size_t errlen)
{
    const char *url;
    *out = NULL;
    int rc = where(data_dir, &url, err, errlen);
    if (rc < 0)
        return rc;
    if (url)
        return bo_pg_open(out, url, NULL, flags, err, errlen);
    char *path = bo_sprintf("%s/borough.db", data_dir);
    rc = bo_sqlite_open(out, path, flags, err, errlen);
    free(path);
    return rc;
}

int bo_db_each_app(const char *data_dir, int (*fn)(const char *app, void *ud), void *ud, char *err,
                   size_t errlen)
{
    const char *url;
    int rc = where(data_dir, &url, err, errlen);
    if (rc < 0)
        return rc;
    char **names = NULL;
    size_t n = 0;
    if (url) {                      /* the apps the platform made a role and schema for */
        bo_db *db = NULL;
        bo_stmt *stmt = NULL;
        rc = bo_pg_open(&db, url, NULL, 0, err, errlen);
        if (rc == 0 && (rc = bo_stmt_prepare(db, "SELECT app FROM borough.app_roles ORDER BY app", -1, &stmt)) == 0) {
            int step;
            while ((step = bo_stmt_step(stmt)) == BO_DB_ROW) {
                names = bo_realloc(names, (n + 1) * sizeof *names);
                names[n++] = bo_strdup(bo_stmt_column_text(stmt, 0));
            }
            if (step != BO_DB_DONE) {
                snprintf(err, errlen, "%s", bo_db_errmsg(db));
                rc = BO_EDB;
            }
        } else if (db) {
            snprintf(err, errlen, "%s", bo_db_errmsg(db));
        }
        bo_stmt_finalize(stmt);
        bo_db_close(db);
    } else {                        /* data/<app>/app.db */
        DIR *d = opendir(data_dir);
        if (!d) {
            snprintf(err, errlen, "cannot read the data folder %s: %s", data_dir, strerror(errno));
            return BO_EIO;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.' || strlen(de->d_name) >= 256)
                continue;
            char *path = bo_sprintf("%s/%s/app.db", data_dir, de->d_name);
            struct stat st;
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                names = bo_realloc(names, (n + 1) * sizeof *names);
                names[n++] = bo_strdup(de->d_name);
            }
            free(path);
        }
        closedir(d);
    }
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = fn(names[i], ud);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ---- SQL text ---- */

const char *bo_sql_skip_space(const char *p, const char *end)
{
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == ';'))
            p++;
        if (p + 1 < end && p[0] == '-' && p[1] == '-') {
            while (p < end && *p != '\n')
                p++;
        } else if (p + 1 < end && p[0] == '/' && p[1] == '*') {
            const char *close = p + 2;
            while (close + 1 < end && !(close[0] == '*' && close[1] == '/'))
                close++;
            p = close + 1 < end ? close + 2 : end;
        } else {
            return p;
        }
    }
}

bool bo_sql_keyword(const char *p, size_t left, const char *kw)
{
    size_t n = strlen(kw);
    return left >= n && strncasecmp(p, kw, n) == 0 &&
           (left == n || !((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
                           (p[n] >= '0' && p[n] <= '9') || p[n] == '_'));
}

/* VACUUM could write anywhere (VACUUM INTO) and stalls every writer.
   SQLite's authorizer has no code for VACUUM, so its first keyword
   decides, found past what the engine itself skips. */
const char *bo_sql_refused(const char *sql, size_t len)
{
    const char *p = bo_sql_skip_space(sql, sql + len);
    if (bo_sql_keyword(p, (size_t)(sql + len - p), "VACUUM"))
        return "VACUUM is not allowed";
    return NULL;
}

/* ---- the calls, passed to the engine ---- */

void bo_db_close(bo_db *db)
{
    if (db)
        db->ops->close(db);
}

const char *bo_db_errmsg(bo_db *db)
{
    return db->ops->errmsg(db);
}

int64_t bo_db_changes(bo_db *db)
{
    return db->ops->changes(db);
}

int64_t bo_db_last_insert_id(bo_db *db)
{
    return db->ops->last_insert_id(db);
}

bo_stmt *bo_db_prepare(bo_db *db, const char *sql, size_t len, char *err, size_t errlen)
{
    return db->ops->prepare(db, sql, len, err, errlen);
}

int bo_stmt_prepare(bo_db *db, const char *sql, int len, bo_stmt **out)
{
    return db->ops->stmt_prepare(db, sql, len, out);
}

void bo_stmt_finalize(bo_stmt *s)
{
    if (s)
        s->db->ops->finalize(s);
}

int bo_stmt_bind_int64(bo_stmt *s, int i, int64_t v)
{
    return s->db->ops->bind_int64(s, i, v);
}

int bo_stmt_bind_double(bo_stmt *s, int i, double v)
{
    return s->db->ops->bind_double(s, i, v);
}

int bo_stmt_bind_null(bo_stmt *s, int i)
{
    return s->db->ops->bind_null(s, i);
}

static int bind_text(bo_stmt *s, int i, const char *p, int64_t len, bool copy)
{
    if (!p)
        return s->db->ops->bind_null(s, i);
    if (len < 0)
        len = (int64_t)strlen(p);
    return s->db->ops->bind_text(s, i, p, len, copy);
}

int bo_stmt_bind_text(bo_stmt *s, int i, const char *p, int64_t len)
{
    return bind_text(s, i, p, len, false);
}

int bo_stmt_bind_text_copy(bo_stmt *s, int i, const char *p, int64_t len)
{
    return bind_text(s, i, p, len, true);
}

int bo_stmt_bind_blob(bo_stmt *s, int i, const void *p, int64_t len)
{
    return s->db->ops->bind_blob(s, i, p, len, false);
}

int bo_stmt_bind_blob_copy(bo_stmt *s, int i, const void *p, int64_t len)
{
    return s->db->ops->bind_blob(s, i, p, len, true);
}

int bo_stmt_bind_column(bo_stmt *s, int i, bo_stmt *src, int col)
{
    if (src->db->ops == s->db->ops)
        return s->db->ops->bind_column(s, i, src, col);
    switch (bo_stmt_column_type(src, col)) {        /* from the other engine: by value */
    case BO_DB_NULL:
        return bo_stmt_bind_null(s, i);
    case BO_DB_INTEGER:
        return bo_stmt_bind_int64(s, i, bo_stmt_column_int64(src, col));
    case BO_DB_FLOAT:
        return bo_stmt_bind_double(s, i, bo_stmt_column_double(src, col));
    case BO_DB_BLOB:
        return bo_stmt_bind_blob_copy(s, i, bo_stmt_column_blob(src, col), bo_stmt_column_bytes(src, col));
    default:
        return bo_stmt_bind_text_copy(s, i, bo_stmt_column_text(src, col), bo_stmt_column_bytes(src, col));
    }
}

int bo_stmt_param_count(bo_stmt *s)
{
    return s->db->ops->param_count(s);
}

int bo_stmt_step(bo_stmt *s)
{
    return s->db->ops->step(s);
}

int bo_stmt_step_guarded(bo_stmt *s)
{
    bo_db *db = s->db;
    if (!db->ops->failure_aborts_tx || db->ops->tx_depth(db) == 0)
        return db->ops->step(s);
    char err[256];
    int rc = db->ops->begin(db, err, sizeof err);
    if (rc < 0)
        return rc;
    int step = db->ops->step(s);
    if (step == BO_DB_DONE || step == BO_DB_ROW)
        rc = db->ops->commit(db, err, sizeof err);
    else
        db->ops->rollback(db);
    return rc < 0 ? rc : step;
}

void bo_stmt_reset(bo_stmt *s)
{
    s->db->ops->reset(s);
}

void bo_stmt_clear(bo_stmt *s)
{
    s->db->ops->clear(s);
}

int bo_stmt_column_count(bo_stmt *s)
{
    return s->db->ops->column_count(s);
}

const char *bo_stmt_column_name(bo_stmt *s, int col)
{
    return s->db->ops->column_name(s, col);
}

bo_db_type bo_stmt_column_type(bo_stmt *s, int col)
{
    return s->db->ops->column_type(s, col);
}

int64_t bo_stmt_column_int64(bo_stmt *s, int col)
{
    return s->db->ops->column_int64(s, col);
}

double bo_stmt_column_double(bo_stmt *s, int col)
{
    return s->db->ops->column_double(s, col);
}

const char *bo_stmt_column_text(bo_stmt *s, int col)
{
    return s->db->ops->column_text(s, col);
}

const void *bo_stmt_column_blob(bo_stmt *s, int col)
{
    return s->db->ops->column_blob(s, col);
}

int bo_stmt_column_bytes(bo_stmt *s, int col)
{
    return s->db->ops->column_bytes(s, col);
}

int64_t bo_stmt_generation(bo_stmt *s)
{
    return s->db->ops->generation(s);
}

void bo_db_reset_busy(bo_db *db)
{
    db->ops->reset_busy(db);
}

int bo_db_create_function(bo_db *db, const char *name, int nargs, bo_db_text_fn fn, void *ud)
{
    return db->ops->create_function(db, name, nargs, fn, ud);
}

int bo_db_backup(bo_db *src, const char *path, bo_db **copy, char *err, size_t errlen)
{
    return src->ops->backup(src, path, copy, err, errlen);
}

int bo_db_exec_script(bo_db *db, const char *sql, char *err, size_t errlen)
{
    return db->ops->exec_script(db, sql, err, errlen);
}

int bo_db_run_app_script(bo_db *db, const char *sql, size_t len, int *line, char *err, size_t errlen)
{
    return db->ops->run_app_script(db, sql, len, line, err, errlen);
}

bool bo_db_set_platform(bo_db *db, bool on)
{
    bool was = db->platform;
    db->platform = on;
    if (was != on)
        db->ops->set_platform(db, on);
    return was;
}

void bo_db_on_evict(bo_db *db, bo_db_evict_fn fn, void *ud)
{
    db->evict = fn;
    db->evict_ud = ud;
}

int *bo_db_stmt_user_ref(bo_db *db, bo_stmt *stmt)
{
    return db->ops->stmt_user_ref(db, stmt);
}

void bo_db_on_commit(bo_db *db, void (*fn)(void *), void *ud)
{
    db->committed = fn;
    db->committed_ud = ud;
}

void bo_db_on_progress(bo_db *db, int (*fn)(void *), void *ud)
{
    db->progress = fn;
    db->progress_ud = ud;
}

bool bo_db_pause_progress(bo_db *db, bool pause)
{
    bool was = db->progress_paused;
    db->progress_paused = pause;
    return was;
}

int bo_db_begin(bo_db *db, char *err, size_t errlen)
{
    return db->ops->begin(db, err, errlen);
}

/* After the outermost commit: the hook of bo_db_on_commit. */
static int committed(bo_db *db, int rc)
{
    if (rc == 0 && db->committed && db->ops->tx_depth(db) == 0)
        db->committed(db->committed_ud);
    return rc;
}

int bo_db_begin_read(bo_db *db, char *err, size_t errlen)
{
    if (db->ops->tx_depth(db) > 0) {
        snprintf(err, errlen, "a read snapshot cannot start inside a transaction");
        return BO_EINVAL;
    }
    return db->ops->begin_read(db, err, errlen);
}

int bo_db_commit(bo_db *db, char *err, size_t errlen)
{
    return committed(db, db->ops->commit(db, err, errlen));
}

int bo_db_rollback(bo_db *db)
{
    return db->ops->rollback(db);
}

int bo_db_tx_depth(const bo_db *db)
{
    return db->ops->tx_depth((bo_db *)db);
}

bool bo_db_in_tx(bo_db *db)
{
    return db->ops->in_tx(db);
}

void bo_db_rollback_all(bo_db *db)
{
    db->ops->rollback_all(db);
}

bool bo_db_has_table(bo_db *db, const char *name)
{
    bo_stmt *stmt = NULL;
    bool yes = false;
    if (bo_stmt_prepare(db, db->ops->has_table_sql, -1, &stmt) == BO_OK) {
        bo_stmt_bind_text(stmt, 1, name, -1);
        yes = bo_stmt_step(stmt) == BO_DB_ROW;
    }
    bo_stmt_finalize(stmt);
    return yes;
}

int bo_db_each_column(bo_db *db, int (*fn)(void *ud, const char *table, const char *column, const char *type),
                      void *ud, char *err, size_t errlen)
{
    bo_stmt *stmt = NULL;
    if (bo_stmt_prepare(db, db->ops->columns_sql, -1, &stmt) != BO_OK) {
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
        return BO_EDB;
    }
    int rc = 0, step;
    while ((step = bo_stmt_step(stmt)) == BO_DB_ROW && rc == 0)
        rc = fn(ud, bo_stmt_column_text(stmt, 0), bo_stmt_column_text(stmt, 1), bo_stmt_column_text(stmt, 2));
    if (rc == 0 && step != BO_DB_DONE) {
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
        rc = step < 0 ? step : BO_EDB;
    }
    bo_stmt_finalize(stmt);
    return rc;
}

static void put_name(bo_buf *b, const char *name)
{
    bo_buf_putc(b, '"');
    for (; *name; name++) {
        if (*name == '"')
            bo_buf_putc(b, '"');
        bo_buf_putc(b, *name);
    }
    bo_buf_putc(b, '"');
}

#define SCAN_PAGE 5000

int bo_db_scan(bo_db *db, const char *table, const char *const *cols, int ncols,
               int (*fn)(void *ud, bo_stmt *row), void *ud, char *err, size_t errlen)
{
    int key = -1;
    for (int c = 0; c < ncols && key < 0; c++)
        if (strcmp(cols[c], "id") == 0)
            key = c;
    bo_buf sel;
    bo_buf_init(&sel);
    bo_buf_puts(&sel, "SELECT ");
    for (int c = 0; c < ncols; c++) {
        bo_buf_puts(&sel, c ? ", " : "");
        put_name(&sel, cols[c]);
    }
    bo_buf_puts(&sel, " FROM ");
    put_name(&sel, table);
    if (key >= 0)
        bo_buf_printf(&sel, " WHERE \"id\" > ? ORDER BY \"id\" LIMIT %d", SCAN_PAGE);
    bo_buf_putc(&sel, '\0');
    bo_stmt *s = NULL;
    int rc = 0;
    if (bo_stmt_prepare(db, sel.data, -1, &s) != BO_OK) {
        snprintf(err, errlen, "%s: %s", table, bo_db_errmsg(db));
        rc = BO_EDB;
    }
    int64_t after = INT64_MIN;
    for (bool more = true; rc == 0 && more;) {
        if (key >= 0)
            bo_stmt_bind_int64(s, 1, after);
        int step = BO_DB_DONE, n = 0;
        while (rc == 0 && (step = bo_stmt_step(s)) == BO_DB_ROW) {
            n++;
            if (key >= 0)
                after = bo_stmt_column_int64(s, key);
            rc = fn(ud, s);
        }
        if (rc == 0 && step != BO_DB_DONE) {
            snprintf(err, errlen, "%s: %s", table, bo_db_errmsg(db));
            rc = step < 0 ? step : BO_EDB;
        }
        bo_stmt_reset(s);
        more = key >= 0 && n == SCAN_PAGE;
    }
    bo_stmt_finalize(s);
    bo_buf_free(&sel);
    return rc;
}

/* Rows go in by batches: one INSERT of many rows is one round trip to
   PostgreSQL where a row each was one per row (20,000 records and their
   audit rows moved by migrate-to-postgres: 18.4 s -> 3.3 s on a local
   socket). */
#define COPY_BATCH 250
#define COPY_VALUES 30000              /* of a statement: within both engines' limits */

typedef struct copy_value {
    bo_db_type type;
    int64_t i;
    double d;
    size_t off, len;                   /* text or blob: in bytes */
} copy_value;

typedef struct copy_ctx {
    bo_db *dst;
    const char *table;
    const char *const *cols;
    int ncols;
    int batch;                         /* rows a full batch holds */
    bo_stmt *full;                     /* the INSERT of a full batch */
    copy_value *values;                /* the rows held, ncols each */
    int held;
    bo_buf bytes;
    int64_t n;                         /* rows inserted */
    char *err;
    size_t errlen;
} copy_ctx;

static bo_stmt *insert_stmt(copy_ctx *x, int rows)
{
    bo_buf b;
    bo_buf_init(&b);
    bo_buf_puts(&b, "INSERT INTO ");
    put_name(&b, x->table);
    bo_buf_puts(&b, " (");
    for (int c = 0; c < x->ncols; c++) {
        bo_buf_puts(&b, c ? ", " : "");
        put_name(&b, x->cols[c]);
    }
    bo_buf_puts(&b, ") VALUES ");
    for (int r = 0; r < rows; r++) {
        bo_buf_puts(&b, r ? ", (" : "(");
        for (int c = 0; c < x->ncols; c++)
            bo_buf_puts(&b, c ? ", ?" : "?");
        bo_buf_putc(&b, ')');
    }
    bo_buf_putc(&b, '\0');
    bo_stmt *s = NULL;
    if (bo_stmt_prepare(x->dst, b.data, -1, &s) != BO_OK) {
        snprintf(x->err, x->errlen, "%s: %s", x->table, bo_db_errmsg(x->dst));
        s = NULL;
    }
    bo_buf_free(&b);
    return s;
}

/* Inserts the rows held. */
static int copy_flush(copy_ctx *x)
{
    if (x->held == 0)
        return 0;
    bo_stmt *s = x->held == x->batch ? x->full : insert_stmt(x, x->held);
    if (!s)
        return BO_EDB;
    int rc = 0;
    for (int k = 0; k < x->held * x->ncols && rc == 0; k++) {
        const copy_value *v = &x->values[k];
        const char *p = x->bytes.data ? x->bytes.data + v->off : "";
        switch (v->type) {
        case BO_DB_NULL:
            rc = bo_stmt_bind_null(s, k + 1);
            break;
        case BO_DB_INTEGER:
            rc = bo_stmt_bind_int64(s, k + 1, v->i);
            break;
        case BO_DB_FLOAT:
            rc = bo_stmt_bind_double(s, k + 1, v->d);
            break;
        case BO_DB_BLOB:
            rc = bo_stmt_bind_blob(s, k + 1, p, (int64_t)v->len);
            break;
        default:
            rc = bo_stmt_bind_text(s, k + 1, p, (int64_t)v->len);
            break;
        }
    }
    int done = rc == 0 ? bo_stmt_step(s) : rc;
    if (done != BO_DB_DONE && done != BO_DB_ROW) {
        if (x->held == 1)
            snprintf(x->err, x->errlen, "%s row %lld: %s", x->table, (long long)x->n + 1, bo_db_errmsg(x->dst));
        else
            snprintf(x->err, x->errlen, "%s rows %lld to %lld: %s", x->table, (long long)x->n + 1,
                     (long long)(x->n + x->held), bo_db_errmsg(x->dst));
        rc = done < 0 ? done : BO_EDB;
    } else {
        x->n += x->held;
    }
    bo_stmt_reset(s);
    bo_stmt_clear(s);
    if (s != x->full)
        bo_stmt_finalize(s);
    x->held = 0;
    x->bytes.len = 0;
    return rc;
}

static int copy_row(void *ud, bo_stmt *from)
{
    copy_ctx *x = ud;
    copy_value *row = &x->values[x->held * x->ncols];
    for (int c = 0; c < x->ncols; c++) {
        copy_value *v = &row[c];
        v->type = bo_stmt_column_type(from, c);
        if (v->type == BO_DB_INTEGER) {
            v->i = bo_stmt_column_int64(from, c);
        } else if (v->type == BO_DB_FLOAT) {
            v->d = bo_stmt_column_double(from, c);
        } else if (v->type != BO_DB_NULL) {
            const void *p = v->type == BO_DB_BLOB ? bo_stmt_column_blob(from, c) : bo_stmt_column_text(from, c);
            v->len = (size_t)bo_stmt_column_bytes(from, c);
            v->off = x->bytes.len;
            bo_buf_append(&x->bytes, p ? p : "", v->len);
            bo_buf_putc(&x->bytes, '\0');    /* bound by reference: text ends at its NUL */
        }
    }
    return ++x->held == x->batch ? copy_flush(x) : 0;
}

int bo_db_copy_rows(bo_db *dst, bo_db *src, const char *table, const char *const *cols, int ncols, int64_t *rows,
                    char *err, size_t errlen)
{
    copy_ctx x = { .dst = dst, .table = table, .cols = cols, .ncols = ncols, .err = err, .errlen = errlen };
    x.batch = ncols > 0 && COPY_VALUES / ncols < COPY_BATCH ? COPY_VALUES / ncols : COPY_BATCH;
    if (x.batch < 1)
        x.batch = 1;
    x.values = bo_calloc((size_t)x.batch * (size_t)(ncols > 0 ? ncols : 1), sizeof *x.values);
    bo_buf_init(&x.bytes);
    int rc = (x.full = insert_stmt(&x, x.batch)) ? 0 : BO_EDB;
    if (rc == 0)
        rc = bo_db_scan(src, table, cols, ncols, copy_row, &x, err, errlen);
    if (rc == 0)
        rc = copy_flush(&x);
    bo_stmt_finalize(x.full);
    free(x.values);
    bo_buf_free(&x.bytes);
    *rows += x.n;
    return rc;
}

bool bo_db_has_column(bo_db *db, const char *table, const char *column)
{
    bo_stmt *stmt = NULL;
    bool yes = false;
    if (bo_stmt_prepare(db, db->ops->has_column_sql, -1, &stmt) == BO_OK) {
        bo_stmt_bind_text(stmt, 1, table, -1);
        bo_stmt_bind_text(stmt, 2, column, -1);
        yes = bo_stmt_step(stmt) == BO_DB_ROW;
    }
    bo_stmt_finalize(stmt);
    return yes;
}

int bo_db_ids_follow(bo_db *db, const char *table, char *err, size_t errlen)
{
    return db->ops->ids_follow(db, table, err, errlen);
}

int bo_db_checkpoint(bo_db *db, int *frames)
{
    return db->ops->checkpoint(db, frames);
}

int bo_stmt_start(bo_stmt *s, bo_db_waiter *w)
{
    return s->db->ops->start(s, w);
}

bool bo_db_saturated(bo_db *db)
{
    return db->ops->saturated && db->ops->saturated(db);
}

int bo_db_commit_start(bo_db *db, bo_db_waiter *w, char *err, size_t errlen)
{
    return db->ops->commit_start(db, w, err, errlen);
}

int bo_db_commit_finish(bo_db *db, char *err, size_t errlen)
{
    return committed(db, db->ops->commit_finish(db, err, errlen));
}

void bo_db_cancel(bo_db_waiter *w)
{
    if (w->impl)
        ((bo_db *)w->impl)->ops->cancel(w);
}

void *bo_db_detach(bo_db *db)
{
    return db->ops->detach(db);
}

void bo_db_attach(bo_db *db, void *held)
{
    db->ops->attach(db, held);
}
