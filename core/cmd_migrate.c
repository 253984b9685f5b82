/*
 * cmd_migrate.c - `borough migrate-to-postgres --data DIR --database URL
 * [--apps DIR] [--replace]`: moves a SQLite installation (data/borough.db
 * and each data/<app>/app.db) into a PostgreSQL database, which the nodes
 * then serve with `--database URL` (docs/operations.md).
 *
 * The source may be running: each of its databases is read inside one read
 * transaction, so what moves is one consistent snapshot of it (writes made
 * after that stay behind). Its platform audit log must verify before
 * anything moves.
 *
 * The target's schema is made by the code that makes it on PostgreSQL
 * every day: each app is loaded from the apps folder (its tables from its
 * declarations, the platform's tables beside them, its migrations
 * recorded), the platform's schema by its built-in migrations. Then every
 * table of the source is copied row by row, values as stored: encrypted
 * fields and blind indexes stay sealed as they are (the same keys open
 * them), ids are kept and the database's next ids follow them. A column
 * the source still has and the declarations no longer name (a removed
 * field keeps its data until a migration drops it) is added to the target
 * with its type; a table only the source has (made by a migration) is made
 * from its SQL. The search index is not copied: it is built again from the
 * records on the target, by loading the app once more.
 *
 * One transaction per part (each app, then the platform), so a failure
 * leaves that part unmoved. After each part, every table is compared: the
 * row count and a digest of every value (order-blind: the sum of each
 * row's SHA-256) on both sides, and the moved platform audit log is
 * verified with the code of `borough audit verify`. A mismatch stops the
 * command with one line (exit 1).
 *
 * A target that already holds records, accounts or audit rows is refused;
 * --replace empties the moved parts' tables first (not the platform audit
 * log, which is append-only: that needs an empty database).
 */
#include "app.h"
#include "cli.h"
#include "crypto.h"
#include "db.h"
#include "linit.h"
#include "log.h"
#include "platformdb.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct mv_table {
    char *name;
    char *sql;                 /* its CREATE statement in the source */
    char **cols;
    char **types;
    int ncols;
    int64_t rows;              /* copied */
} mv_table;

typedef struct mv_part {
    const char *name;          /* the app, or NULL for the platform */
    bo_db *src;
    mv_table *tables;
    size_t ntables;
    int64_t rows;
} mv_part;

typedef struct mv {
    const bo_cli *cli;
    const char *data;
    const char *apps;
    const char *url;
    char *lib;
    bool replace;
    char err[3072];
} mv;

/* Tables that the target's own load fills (the declarations it recorded,
   its migrations' record, its schedules): replaced by the source's rows,
   never counted as data the target already holds. */
static bool is_bookkeeping(const char *t)
{
    static const char *const list[] = { "_borough_migrations", "_borough_fields", "_borough_entities",
                                        "_borough_meta", "_borough_schedules" };
    for (size_t i = 0; i < BO_COUNT(list); i++)
        if (strcmp(t, list[i]) == 0)
            return true;
    return false;
}

static const char *part_name(const mv_part *p)
{
    return p->name ? p->name : "the platform";
}

static void part_free(mv_part *p)
{
    for (size_t i = 0; i < p->ntables; i++) {
        mv_table *t = &p->tables[i];
        free(t->name);
        free(t->sql);
        for (int c = 0; c < t->ncols; c++) {
            free(t->cols[c]);
            free(t->types[c]);
        }
        free(t->cols);
        free(t->types);
    }
    free(p->tables);
    bo_db_close(p->src);
    memset(p, 0, sizeof *p);
}

static void quote(bo_buf *b, const char *name)
{
    bo_buf_putc(b, '"');
    for (const char *s = name; *s; s++) {
        if (*s == '"')
            bo_buf_putc(b, '"');
        bo_buf_putc(b, *s);
    }
    bo_buf_putc(b, '"');
}

/* ---- the source ---- */

/* Opens the SQLite file at path and starts the read transaction that
   every read of it shares (its first read fixes the snapshot). */
static int source_open(mv *m, const char *path, bo_db **out)
{
    char err[512];
    if (bo_db_open(out, path, 0, err, sizeof err) < 0) {
        snprintf(m->err, sizeof m->err, "%s: %s", path, err);
        return -1;
    }
    bo_stmt *s = NULL;
    if (bo_db_begin_read(*out, err, sizeof err) < 0 ||
        bo_stmt_prepare(*out, "SELECT count(*) FROM sqlite_master", -1, &s) != BO_OK ||
        bo_stmt_step(s) != BO_DB_ROW) {
        snprintf(m->err, sizeof m->err, "%s: %s", path, bo_db_errmsg(*out));
        bo_stmt_finalize(s);
        bo_db_close(*out);
        *out = NULL;
        return -1;
    }
    bo_stmt_finalize(s);
    return 0;
}

static mv_table *add_table(mv_part *p, const char *name, const char *sql)
{
    p->tables = bo_realloc(p->tables, (p->ntables + 1) * sizeof *p->tables);
    mv_table *t = &p->tables[p->ntables++];
    memset(t, 0, sizeof *t);
    t->name = bo_strdup(name);
    t->sql = bo_strdup(sql ? sql : "");
    return t;
}

/* Whether name is a full-text index (a virtual table) or one of its
   shadow tables, listed in virt (" a_fts b_fts "). */
static bool is_search_table(const char *name, const char *virt)
{
    static const char *const shadows[] = { "", "_data", "_idx", "_content", "_docsize", "_config" };
    for (size_t i = 0; i < BO_COUNT(shadows); i++) {
        size_t n = strlen(name), k = strlen(shadows[i]);
        if (n <= k || strcmp(name + n - k, shadows[i]) != 0)
            continue;
        char *key = bo_sprintf(" %.*s ", (int)(n - k), name);
        bool found = strstr(virt, key) != NULL;
        free(key);
        if (found)
            return true;
    }
    return false;
}

/* The tables to move, in an order the target's references allow: the
   platform's and other tables as made, then the entities in the order
   `borough export` lists them for import. */
static int source_tables(mv *m, mv_part *p)
{
    bo_db *src = p->src;
    bo_buf virt;
    bo_buf_init(&virt);
    bo_buf_putc(&virt, ' ');
    bo_stmt *s = NULL;
    int rc = 0;
    if (bo_stmt_prepare(src, "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL%'",
                        -1, &s) == BO_OK) {
        while (bo_stmt_step(s) == BO_DB_ROW)
            bo_buf_printf(&virt, "%s ", bo_stmt_column_text(s, 0));
    }
    bo_stmt_finalize(s);
    bo_buf_putc(&virt, '\0');
    /* entities last, in import order */
    bool entities = bo_db_has_table(src, "_borough_entities");
    const char *list_sql =
        entities ? "SELECT m.name, m.sql FROM sqlite_master m LEFT JOIN _borough_entities e ON e.name = m.name "
                   "WHERE m.type = 'table' ORDER BY e.name IS NOT NULL, e.declared DESC, e.position, m.rowid"
                 : "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY rowid";
    if (bo_stmt_prepare(src, list_sql, -1, &s) != BO_OK) {
        snprintf(m->err, sizeof m->err, "%s: %s", part_name(p), bo_db_errmsg(src));
        bo_buf_free(&virt);
        return -1;
    }
    while (bo_stmt_step(s) == BO_DB_ROW) {
        const char *name = bo_stmt_column_text(s, 0);
        if (strncmp(name, "sqlite_", 7) == 0 || is_search_table(name, virt.data) ||
            strcmp(name, "_borough_nodes") == 0)        /* the nodes' own registry */
            continue;
        if (!p->name && strcmp(name, "_borough_migrations") == 0)
            continue;                                   /* the platform's schema is the target's own */
        add_table(p, name, bo_stmt_column_text(s, 1));
    }
    bo_stmt_finalize(s);
    bo_buf_free(&virt);
    for (size_t i = 0; rc == 0 && i < p->ntables; i++) {
        mv_table *t = &p->tables[i];
        if (bo_stmt_prepare(src, "SELECT name, type FROM pragma_table_info(?1) ORDER BY cid", -1, &s) != BO_OK) {
            snprintf(m->err, sizeof m->err, "%s: %s", part_name(p), bo_db_errmsg(src));
            return -1;
        }
        bo_stmt_bind_text(s, 1, t->name, -1);
        while (bo_stmt_step(s) == BO_DB_ROW) {
            t->cols = bo_realloc(t->cols, (size_t)(t->ncols + 1) * sizeof *t->cols);
            t->types = bo_realloc(t->types, (size_t)(t->ncols + 1) * sizeof *t->types);
            t->cols[t->ncols] = bo_strdup(bo_stmt_column_text(s, 0));
            t->types[t->ncols] = bo_strdup(bo_stmt_column_text(s, 1));
            t->ncols++;
        }
        bo_stmt_finalize(s);
    }
    return rc;
}

/* ---- counting and comparing ---- */

/* The number of rows of table in db, or -1 with the reason in err. */
static int64_t count_rows(bo_db *db, const char *table, char *err, size_t errlen)
{
    bo_buf b;
    bo_buf_init(&b);
    bo_buf_puts(&b, "SELECT count(*) FROM ");
    quote(&b, table);
    bo_buf_putc(&b, '\0');
    bo_stmt *s = NULL;
    int64_t n = -1;
    if (bo_stmt_prepare(db, b.data, -1, &s) == BO_OK && bo_stmt_step(s) == BO_DB_ROW)
        n = bo_stmt_column_int64(s, 0);
    else
        snprintf(err, errlen, "%s: %s", table, bo_db_errmsg(db));
    bo_stmt_finalize(s);
    bo_buf_free(&b);
    return n;
}

typedef struct digest_ctx {
    int ncols;
    int64_t rows;
    uint64_t sum[4];
    bo_buf row;
} digest_ctx;

/* Adds one row to the digest: its values as text (an integer in decimal,
   a float as the shortest text that reads back the same, text and blobs as
   their bytes), so the engines' spellings of one value agree. */
static int digest_row(void *ud, bo_stmt *s)
{
    digest_ctx *d = ud;
    d->row.len = 0;
    for (int c = 0; c < d->ncols; c++) {
        char num[40];
        const char *v = NULL;
        size_t n = 0;
        switch (bo_stmt_column_type(s, c)) {
        case BO_DB_NULL:
            break;
        case BO_DB_INTEGER:
            n = (size_t)snprintf(num, sizeof num, "%lld", (long long)bo_stmt_column_int64(s, c));
            v = num;
            break;
        case BO_DB_FLOAT: {
            double x = bo_stmt_column_double(s, c);
            if (x == (double)(long long)x && x > -9e15 && x < 9e15)
                n = (size_t)snprintf(num, sizeof num, "%lld", (long long)x);
            else
                for (int prec = 15; prec <= 17; prec++) {
                    n = (size_t)snprintf(num, sizeof num, "%.*g", prec, x);
                    if (strtod(num, NULL) == x)
                        break;
                }
            v = num;
            break;
        }
        default:
            v = bo_stmt_column_blob(s, c);
            n = (size_t)bo_stmt_column_bytes(s, c);
            if (!v)
                v = "";
            break;
        }
        if (!v) {
            bo_buf_puts(&d->row, "N;");
        } else {
            bo_buf_printf(&d->row, "%zu:", n);
            bo_buf_append(&d->row, v, n);
        }
    }
    uint8_t h[32];
    bo_sha256(d->row.data ? d->row.data : "", d->row.len, h);
    for (int lane = 0; lane < 4; lane++) {
        uint64_t x = 0;
        for (int k = 0; k < 8; k++)
            x = x << 8 | h[lane * 8 + k];
        d->sum[lane] += x;
    }
    d->rows++;
    return 0;
}

/* Reads every row of the table's source columns in db: their count and a
   digest that does not depend on the order of the rows (the sum, lane by
   lane, of each row's SHA-256). Returns 0, or -1 with err. */
static int digest(bo_db *db, const mv_table *t, int64_t *rows, uint64_t sum[4], char *err, size_t errlen)
{
    digest_ctx d = { .ncols = t->ncols };
    bo_buf_init(&d.row);
    int rc = bo_db_scan(db, t->name, (const char *const *)t->cols, t->ncols, digest_row, &d, err, errlen);
    bo_buf_free(&d.row);
    *rows = d.rows;
    memcpy(sum, d.sum, sizeof d.sum);
    return rc < 0 ? -1 : 0;
}

/* Compares every table of the part on both sides. */
static int verify_part(mv *m, mv_part *p, bo_db *dst)
{
    char err[512];
    for (size_t i = 0; i < p->ntables; i++) {
        mv_table *t = &p->tables[i];
        int64_t a, b;
        uint64_t da[4], db[4];
        if (digest(p->src, t, &a, da, err, sizeof err) < 0 || digest(dst, t, &b, db, err, sizeof err) < 0) {
            snprintf(m->err, sizeof m->err, "%s: verifying: %s", part_name(p), err);
            return -1;
        }
        int64_t ca = count_rows(p->src, t->name, err, sizeof err), cb = count_rows(dst, t->name, err, sizeof err);
        if (ca != a || cb != b) {       /* the scan by id missed rows: ids not the table's key */
            snprintf(m->err, sizeof m->err, "%s: table %s: its \"id\" column is not a key (null or repeated ids)",
                     part_name(p), t->name);
            return -1;
        }
        if (a != b) {
            snprintf(m->err, sizeof m->err, "%s: table %s has %lld row%s in SQLite and %lld in PostgreSQL after the move",
                     part_name(p), t->name, (long long)a, a == 1 ? "" : "s", (long long)b);
            return -1;
        }
        if (memcmp(da, db, sizeof da) != 0) {
            snprintf(m->err, sizeof m->err, "%s: table %s holds other values in PostgreSQL than in SQLite after the move",
                     part_name(p), t->name);
            return -1;
        }
    }
    return 0;
}

/* Whether the target's tables of the part hold rows the move would
   overwrite; 1 with the first one named in m->err, 0, or -1. */
static int holds_data(mv *m, mv_part *p, bo_db *dst)
{
    char err[512];
    for (size_t i = 0; i < p->ntables; i++) {
        mv_table *t = &p->tables[i];
        if (is_bookkeeping(t->name) || !bo_db_has_table(dst, t->name))
            continue;
        int64_t n = count_rows(dst, t->name, err, sizeof err);
        if (n < 0) {
            snprintf(m->err, sizeof m->err, "%s: %s", part_name(p), err);
            return -1;
        }
        if (n > 0 && (!m->replace || strcmp(t->name, "platform_audit") == 0)) {
            snprintf(m->err, sizeof m->err,
                     "the database already holds data (%s: %s has %lld row%s): move into an empty database%s",
                     part_name(p), t->name, (long long)n, n == 1 ? "" : "s",
                     m->replace ? " (the platform audit log is append-only)" : ", or give --replace");
            return 1;
        }
    }
    return 0;
}

/* ---- copying ---- */

static int copy_table(mv *m, mv_part *p, mv_table *t, bo_db *dst)
{
    char err[512];
    bo_buf b;
    bo_buf_init(&b);
    int rc = 0;
    if (!bo_db_has_table(dst, t->name) && bo_db_exec_script(dst, t->sql, err, sizeof err) < 0) {
        snprintf(m->err, sizeof m->err, "%s: making table %s: %s", part_name(p), t->name, err);
        return -1;
    }
    for (int c = 0; c < t->ncols; c++) {
        if (bo_db_has_column(dst, t->name, t->cols[c]))
            continue;
        b.len = 0;
        bo_buf_puts(&b, "ALTER TABLE ");
        quote(&b, t->name);
        bo_buf_puts(&b, " ADD COLUMN ");
        quote(&b, t->cols[c]);
        bo_buf_printf(&b, " %s", t->types[c]);
        bo_buf_putc(&b, '\0');
        if (bo_db_exec_script(dst, b.data, err, sizeof err) < 0) {
            snprintf(m->err, sizeof m->err, "%s: adding %s.%s: %s", part_name(p), t->name, t->cols[c], err);
            bo_buf_free(&b);
            return -1;
        }
    }
    if (bo_db_copy_rows(dst, p->src, t->name, (const char *const *)t->cols, t->ncols, &t->rows, err, sizeof err) < 0) {
        snprintf(m->err, sizeof m->err, "%s: %s", part_name(p), err);
        rc = -1;
    }
    if (rc == 0 && bo_db_ids_follow(dst, t->name, err, sizeof err) < 0) {
        snprintf(m->err, sizeof m->err, "%s: %s", part_name(p), err);
        rc = -1;
    }
    bo_buf_free(&b);
    p->rows += t->rows;
    return rc;
}

/* Empties the target's table (what its own load wrote, or with --replace
   what it held); 0 or -1. */
static int empty_table(mv *m, mv_part *p, mv_table *t, bo_db *dst)
{
    char err[512];
    if (!bo_db_has_table(dst, t->name))
        return 0;
    int64_t there = count_rows(dst, t->name, err, sizeof err);
    if (there > 0) {
        bo_buf b;
        bo_buf_init(&b);
        bo_buf_puts(&b, "DELETE FROM ");
        quote(&b, t->name);
        bo_buf_putc(&b, '\0');
        there = bo_db_exec_script(dst, b.data, err, sizeof err) < 0 ? -1 : 0;
        bo_buf_free(&b);
    }
    if (there < 0) {
        snprintf(m->err, sizeof m->err, "%s: %s", part_name(p), err);
        return -1;
    }
    return 0;
}

/* Copies every table of the part into dst in one transaction: the
   target's tables emptied first, in the reverse of the order they are
   filled in (a record before those it refers to). */
static int copy_part(mv *m, mv_part *p, bo_db *dst)
{
    char err[512];
    bool was = bo_db_set_platform(dst, true);
    int rc = bo_db_begin(dst, err, sizeof err);
    if (rc < 0)
        snprintf(m->err, sizeof m->err, "%s: %s", part_name(p), err);
    for (size_t i = p->ntables; rc == 0 && i-- > 0;)
        rc = empty_table(m, p, &p->tables[i], dst);
    for (size_t i = 0; rc == 0 && i < p->ntables; i++)
        rc = copy_table(m, p, &p->tables[i], dst);
    if (rc == 0 && (rc = bo_db_commit(dst, err, sizeof err)) < 0)
        snprintf(m->err, sizeof m->err, "%s: %s", part_name(p), err);
    if (rc < 0)
        bo_db_rollback_all(dst);
    bo_db_set_platform(dst, was);
    return rc < 0 ? -1 : 0;
}

/* ---- the parts ---- */

static int load_app(mv *m, const char *app, bo_app_info **info, bo_gen **g)
{
    char *dir = bo_sprintf("%s/%s", m->apps, app);
    static bo_paths paths;          /* the generation keeps a pointer to it */
    paths = (bo_paths){ m->data, m->lib, NULL, bo_platform_libs, NULL };
    *info = bo_app_info_new(dir);
    char err[2048];
    int rc = 0;
    if (bo_gen_load(g, *info, &paths, true, true, err, sizeof err) < 0) {
        snprintf(m->err, sizeof m->err, "%.200s: loading it on PostgreSQL: %s", app, err);
        rc = -1;
    }
    free(dir);
    return rc;
}

static void unload_app(bo_app_info **info, bo_gen **g)
{
    bo_gen_free(*g);
    *g = NULL;
    if (*info)
        bo_app_info_unref(*info);
    *info = NULL;
}

static int move_app(mv *m, mv_part *p)
{
    bo_app_info *info = NULL;
    bo_gen *g = NULL;
    char err[512];
    if (load_app(m, p->name, &info, &g) < 0) {
        unload_app(&info, &g);
        return -1;
    }
    bo_db *dst = bo_gen_db(g, err, sizeof err);
    int rc = 0;
    if (!dst) {
        snprintf(m->err, sizeof m->err, "%s: %s", p->name, err);
        rc = -1;
    }
    if (rc == 0)
        rc = copy_part(m, p, dst);
    if (rc == 0)
        rc = verify_part(m, p, dst);
    /* The moved records have no search index yet. Without the fingerprint
       of the schema last applied, the next load brings the schema in step
       with the declarations again, which builds it from the records. */
    if (rc == 0) {
        bool was = bo_db_set_platform(dst, true);
        if (bo_db_exec_script(dst, "DELETE FROM _borough_meta WHERE key = 'schema'", err, sizeof err) < 0) {
            snprintf(m->err, sizeof m->err, "%s: %s", p->name, err);
            rc = -1;
        }
        bo_db_set_platform(dst, was);
    }
    unload_app(&info, &g);
    /* Loaded again on the moved data, as the first node will. */
    if (rc == 0 && load_app(m, p->name, &info, &g) < 0)
        rc = -1;
    unload_app(&info, &g);
    return rc;
}

/* The apps of the source, in name order: folders of data with an app.db. */
static char **source_apps(mv *m, size_t *n)
{
    *n = 0;
    DIR *d = opendir(m->data);
    if (!d) {
        snprintf(m->err, sizeof m->err, "cannot read the data folder %s: %s", m->data, strerror(errno));
        return NULL;
    }
    char **names = bo_calloc(1, sizeof *names);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *path = bo_sprintf("%s/%s/app.db", m->data, de->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            names = bo_realloc(names, (*n + 2) * sizeof *names);
            names[(*n)++] = bo_strdup(de->d_name);
        }
        free(path);
    }
    closedir(d);
    for (size_t i = 1; i < *n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *x = names[j];
            names[j] = names[j - 1];
            names[j - 1] = x;
        }
    return names;
}

static int on_target_app(const char *app, void *ud)
{
    bo_buf *b = ud;
    bo_buf_printf(b, " %s ", app);
    return 0;
}

static int run(mv *m)
{
    size_t napps = 0;
    char **apps = source_apps(m, &napps);
    if (!apps)
        return -1;
    mv_part *parts = bo_calloc(napps + 1, sizeof *parts);
    size_t nparts = napps + 1;
    bo_db *target_platform = NULL;
    bo_buf made;
    bo_buf_init(&made);
    char err[512];
    int rc = 0;
    /* The sources, each in its read transaction. */
    char *path = bo_sprintf("%s/borough.db", m->data);
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(m->err, sizeof m->err, "%s does not exist: give the data folder of an installation (borough "
                 "serve makes its borough.db)", path);
        rc = -1;
    }
    mv_part *platform = &parts[napps];
    if (rc == 0 && (rc = source_open(m, path, &platform->src)) == 0)
        rc = source_tables(m, platform);
    free(path);
    for (size_t i = 0; rc == 0 && i < napps; i++) {        /* every app's code, before anything moves */
        char *probe = bo_sprintf("%s/%s/app.lua", m->apps, apps[i]);
        if (stat(probe, &st) < 0) {
            snprintf(m->err, sizeof m->err, "%s/%s/app.db has no app to load: %s is missing (give --apps DIR)",
                     m->data, apps[i], probe);
            rc = -1;
        }
        free(probe);
    }
    for (size_t i = 0; rc == 0 && i < napps; i++) {
        parts[i].name = apps[i];
        path = bo_sprintf("%s/%s/app.db", m->data, apps[i]);
        if ((rc = source_open(m, path, &parts[i].src)) == 0)
            rc = source_tables(m, &parts[i]);
        free(path);
    }
    /* The source's audit log must be as it was written. */
    if (rc == 0) {
        long long bad = 0, nrows = 0;
        char last[65];
        if (bo_platformdb_verify(platform->src, &bad, &nrows, last, err, sizeof err) < 0 || bad) {
            snprintf(m->err, sizeof m->err, "%s/borough.db: the platform audit log %s: %s; nothing moved", m->data,
                     bad ? "has been tampered with" : "cannot be read", err);
            rc = -1;
        }
    }
    /* The target must not hold data already. */
    if (rc == 0 && bo_platformdb_open(&target_platform, m->data, err, sizeof err) < 0) {
        snprintf(m->err, sizeof m->err, "%s", err);
        rc = -1;
    }
    if (rc == 0)
        rc = holds_data(m, platform, target_platform) == 0 ? 0 : -1;
    if (rc == 0 && bo_db_each_app(m->data, on_target_app, &made, err, sizeof err) < 0) {
        snprintf(m->err, sizeof m->err, "%s", err);
        rc = -1;
    }
    bo_buf_putc(&made, '\0');
    for (size_t i = 0; rc == 0 && i < napps; i++) {
        char *key = bo_sprintf(" %s ", apps[i]);
        bool exists = strstr(made.data, key) != NULL;
        free(key);
        if (!exists)
            continue;
        bo_db *dst = NULL;
        if (bo_db_open_app(&dst, m->data, apps[i], BO_DB_APP, err, sizeof err) < 0) {
            snprintf(m->err, sizeof m->err, "%s: %s", apps[i], err);
            rc = -1;
        } else {
            rc = holds_data(m, &parts[i], dst) == 0 ? 0 : -1;
        }
        bo_db_close(dst);
    }
    /* Each app, then the platform. */
    for (size_t i = 0; rc == 0 && i < napps; i++) {
        rc = move_app(m, &parts[i]);
        if (rc == 0) {
            printf("moved %s: %zu tables, %lld rows, the same on both sides\n", apps[i], parts[i].ntables,
                   (long long)parts[i].rows);
            fflush(stdout);
        }
    }
    if (rc == 0 && (rc = copy_part(m, platform, target_platform)) == 0)
        rc = verify_part(m, platform, target_platform);
    if (rc == 0) {
        long long bad = 0, nrows = 0;
        char last[65];
        if (bo_platformdb_verify(target_platform, &bad, &nrows, last, err, sizeof err) < 0 || bad) {
            snprintf(m->err, sizeof m->err, "the platform audit log does not verify after the move: %s", err);
            rc = -1;
        } else {
            printf("moved the platform: %zu tables, %lld rows, the same on both sides; its audit log verifies "
                   "(%lld rows)\n", platform->ntables, (long long)platform->rows, nrows);
        }
    }
    if (rc == 0) {
        for (size_t i = 0; i < napps; i++)
            platform->rows += parts[i].rows;
        char *detail = bo_sprintf("from=%s apps=%zu rows=%lld", m->data, napps, (long long)platform->rows);
        if (bo_cli_audit(m->cli, target_platform, "migrate-to-postgres", NULL, detail) != 0)
            rc = 1;
        free(detail);
        if (rc == 0)
            printf("moved %zu app%s and the platform (%lld rows) from %s into %s; serve it with --database "
                   "(uploaded files stay in each app's files/ folder: put them on storage every node shares)\n",
                   napps, napps == 1 ? "" : "s", (long long)platform->rows, m->data, bo_db_url_shown());
    }
    bo_db_close(target_platform);
    for (size_t i = 0; i < nparts; i++)
        part_free(&parts[i]);
    free(parts);
    for (size_t i = 0; i < napps; i++)
        free(apps[i]);
    free(apps);
    bo_buf_free(&made);
    return rc;
}

int bo_cmd_migrate_to_postgres(int argc, char **argv, const bo_cli *cli)
{
    mv m = { .cli = cli, .data = "data", .apps = "apps" };
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **value = strcmp(a, "--data") == 0       ? &m.data
                             : strcmp(a, "--database") == 0 ? &m.url
                             : strcmp(a, "--apps") == 0     ? &m.apps
                                                            : NULL;
        if (value) {
            if (i + 1 >= argc)
                return bo_cli_usage(cli, "%s needs a value", a);
            *value = argv[++i];
        } else if (strcmp(a, "--replace") == 0) {
            m.replace = true;
        } else {
            return bo_cli_usage(cli, "unexpected %s", a);
        }
    }
    if (!m.url)
        return bo_cli_usage(cli, "needs --database postgresql://...");
    if (!bo_cli_is_dir(m.data))
        return bo_cli_fail(cli, "no data folder %s", m.data);
    char err[512];
    if (bo_db_locate(m.data, m.url, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    if (bo_db_dialect() != BO_POSTGRES)
        return bo_cli_usage(cli, "--database takes a postgresql:// URL");
    if (!(m.lib = bo_cli_lib(cli)))
        return 1;
    bo_log_set_level(BO_LOG_WARN);
    int rc = run(&m);
    free(m.lib);
    if (rc < 0)
        return bo_cli_fail(cli, "%s", m.err);
    return rc;
}
