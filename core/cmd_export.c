/*
 * cmd_export.c - `borough export APP [--format csv|json] OUT`: all of an
 * app's data, in files any other system can read (the council's exit
 * route), and safe while the server runs.
 *
 * First a consistent copy of data/APP/app.db is made with SQLite's online
 * backup API (OUT/app.db): it reads one snapshot while writers carry on.
 * On PostgreSQL the copy is made from the app's schema, read in one
 * REPEATABLE READ, READ ONLY transaction (bo_db_begin_read), into a new
 * SQLite file of its tables (the search index left out). Everything else
 * is read from that copy, so the files agree with each other and with the
 * backup, on either engine:
 *   OUT/<entity>.csv|json   one file per entity, in import order
 *   OUT/audit-trail.csv|json  the audit trail
 *   OUT/schema.sql          the database schema
 *   OUT/manifest.json       what is where, the fields of each entity, and
 *                           the order to import the files in
 * The export needs only the database, not the app's code. It is recorded
 * in the platform audit log (data/borough.db).
 *
 * Encrypted fields (the 'sealed' list in _borough_meta) are opened with
 * the data folder's keys as they are read, so the files hold what the app
 * shows; OUT/app.db keeps them sealed (it needs the same keys to open).
 *
 * In CSV, values are written as `borough import` reads them back: money in
 * pounds ("1250.50"), yes/no for booleans, empty for no value. In JSON,
 * values are as Lua code sees them: money in pence, true/false, null.
 */
#include "cli.h"
#include "crypto.h"
#include "csv.h"
#include "db.h"
#include "json.h"
#include "platformdb.h"

#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct export_field {
    char *name;
    char *type;
} export_field;

typedef struct export_ctx {
    const bo_cli *cli;
    bo_db *db;                 /* the backup copy */
    lua_State *L;              /* for the JSON encoder */
    bool json;
    const char *out;
    const char *app;
    char *sealed;              /* " entity.field ... " or NULL */
    bo_keyring *keys;          /* loaded when something is sealed */
    bo_buf line;
    char err[512];
} export_ctx;

static bool is_type(const export_field *f, const char *type)
{
    return f && strcmp(f->type, type) == 0;
}

/* ---- writing files ---- */

static FILE *create_file(export_ctx *x, const char *name)
{
    char *path = bo_sprintf("%s/%s", x->out, name);
    FILE *f = fopen(path, "w");
    if (!f)
        snprintf(x->err, sizeof x->err, "cannot write %s: %s", path, strerror(errno));
    free(path);
    return f;
}

static int close_file(export_ctx *x, FILE *f, const char *name)
{
    if (ferror(f) | (fclose(f) != 0)) {
        snprintf(x->err, sizeof x->err, "cannot write %s/%s: %s", x->out, name, strerror(errno));
        return -1;
    }
    return 0;
}

/* One CSV cell of column i of the current row of stmt, as the importer
   reads it back. */
static void csv_cell(bo_buf *b, bo_stmt *stmt, int i, const export_field *f)
{
    int type = bo_stmt_column_type(stmt, i);
    if (type == BO_DB_NULL)
        return;
    if (type == BO_DB_INTEGER && is_type(f, "money")) {
        long long p = bo_stmt_column_int64(stmt, i);
        unsigned long long a = p < 0 ? 0ULL - (unsigned long long)p : (unsigned long long)p;
        bo_buf_printf(b, "%s%llu.%02llu", p < 0 ? "-" : "", a / 100, a % 100);
    } else if (type == BO_DB_INTEGER && is_type(f, "boolean")) {
        bo_buf_puts(b, bo_stmt_column_int64(stmt, i) ? "yes" : "no");
    } else if (type == BO_DB_INTEGER) {
        bo_buf_put_int(b, bo_stmt_column_int64(stmt, i));
    } else if (type == BO_DB_FLOAT) {
        bo_buf_printf(b, "%.17g", bo_stmt_column_double(stmt, i));
    } else {
        bo_csv_put_field(b, (const char *)bo_stmt_column_blob(stmt, i), (size_t)bo_stmt_column_bytes(stmt, i));
    }
}

/* Pushes column i of the current row as Lua sees it. */
static void push_cell(lua_State *L, bo_stmt *stmt, int i, const export_field *f)
{
    switch (bo_stmt_column_type(stmt, i)) {
    case BO_DB_NULL:
        bo_json_push_null(L);
        break;
    case BO_DB_INTEGER:
        if (is_type(f, "boolean"))
            lua_pushboolean(L, bo_stmt_column_int64(stmt, i) != 0);
        else
            lua_pushinteger(L, bo_stmt_column_int64(stmt, i));
        break;
    case BO_DB_FLOAT:
        lua_pushnumber(L, bo_stmt_column_double(stmt, i));
        break;
    default:
        lua_pushlstring(L, (const char *)bo_stmt_column_blob(stmt, i), (size_t)bo_stmt_column_bytes(stmt, i));
        break;
    }
}

/* Writes every row of stmt to f as CSV (with a header) or as a JSON array
   of objects. fields[i] describes column i (NULL: no type). Columns named
   in json_columns hold JSON text and are embedded as values. Returns the
   row count, or -1 with x->err set. */
static long long write_rows(export_ctx *x, bo_stmt *stmt, FILE *f, export_field **fields,
                            const char *what, bool json_columns)
{
    int ncols = bo_stmt_column_count(stmt);
    lua_State *L = x->L;
    bo_buf *b = &x->line;
    long long rows = 0;
    if (!x->json) {
        b->len = 0;
        for (int i = 0; i < ncols; i++) {
            if (i)
                bo_buf_putc(b, ',');
            const char *name = bo_stmt_column_name(stmt, i);
            bo_csv_put_field(b, name, strlen(name));
        }
        bo_csv_end_record(b, 0);
        fwrite(b->data, 1, b->len, f);
    } else {
        fputs("[", f);
        /* The row metatable: __columns keeps the columns in table order. */
        lua_settop(L, 0);
        lua_createtable(L, 0, 1);
        lua_createtable(L, ncols, 0);
        for (int i = 0; i < ncols; i++) {
            lua_pushstring(L, bo_stmt_column_name(stmt, i));
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "__columns");
    }
    int rc;
    while ((rc = bo_stmt_step(stmt)) == BO_DB_ROW) {
        b->len = 0;
        if (!x->json) {
            for (int i = 0; i < ncols; i++) {
                if (i)
                    bo_buf_putc(b, ',');
                csv_cell(b, stmt, i, fields ? fields[i] : NULL);
            }
            bo_csv_end_record(b, 0);
        } else {
            lua_settop(L, 1);
            lua_createtable(L, 0, ncols);
            for (int i = 0; i < ncols; i++) {
                const char *name = bo_stmt_column_name(stmt, i);
                bool embed = json_columns && bo_stmt_column_type(stmt, i) == BO_DB_TEXT &&
                             (strcmp(name, "before") == 0 || strcmp(name, "after") == 0);
                if (!embed || bo_json_decode(L, (const char *)bo_stmt_column_text(stmt, i),
                                             (size_t)bo_stmt_column_bytes(stmt, i), x->err, sizeof x->err) < 0)
                    push_cell(L, stmt, i, fields ? fields[i] : NULL);
                lua_setfield(L, -2, name);
            }
            lua_pushvalue(L, 1);
            lua_setmetatable(L, -2);
            bo_buf_puts(b, rows ? ",\n" : "\n");
            if (bo_json_encode(L, -1, b, x->err, sizeof x->err) < 0) {
                char why[sizeof x->err];
                memcpy(why, x->err, sizeof why);
                snprintf(x->err, sizeof x->err, "%s row %lld: %.300s", what, rows + 1, why);
                bo_stmt_reset(stmt);
                return -1;
            }
        }
        fwrite(b->data, 1, b->len, f);
        rows++;
    }
    if (x->json)
        fputs(rows ? "\n]\n" : "]\n", f);
    if (rc != BO_DB_DONE) {
        snprintf(x->err, sizeof x->err, "%s: %s", what, bo_db_errmsg(x->db));
        return -1;
    }
    return rows;
}

/* ---- reading the copy ---- */

/* Exports one entity; adds its entry to the manifest's entity list (the
   table on top of x->L's stack, under the row metatable slot). */
static long long export_entity(export_ctx *x, const char *name, FILE *f)
{
    /* Its fields, from what the platform recorded at the last load. */
    bo_stmt *stmt;
    export_field *fields = NULL;
    size_t nfields = 0;
    if (bo_stmt_prepare(x->db, "SELECT name, type FROM _borough_fields WHERE entity = ? ORDER BY position", -1,
                           &stmt) == BO_OK) {
        bo_stmt_bind_text(stmt, 1, name, -1);
        while (bo_stmt_step(stmt) == BO_DB_ROW) {
            fields = bo_realloc(fields, (nfields + 1) * sizeof *fields);
            fields[nfields].name = bo_strdup((const char *)bo_stmt_column_text(stmt, 0));
            fields[nfields].type = bo_strdup((const char *)bo_stmt_column_text(stmt, 1));
            nfields++;
        }
    }
    bo_stmt_finalize(stmt);
    /* The columns: id, the recorded fields that the table has, timestamps. */
    bo_buf sql;
    bo_buf_init(&sql);
    bo_buf_puts(&sql, "SELECT \"id\"");
    export_field **cols = bo_calloc(nfields + 3, sizeof *cols);
    int ncols = 1;
    for (size_t i = 0; i < nfields; i++) {
        /* names are [a-z0-9_] (entity.lua) */
        char *key = bo_sprintf(" %s.%s ", name, fields[i].name);
        if (x->sealed && strstr(x->sealed, key))
            bo_buf_printf(&sql, ", bo_unseal('%s', '%s', \"%s\") AS \"%s\"", name, fields[i].name, fields[i].name,
                          fields[i].name);
        else
            bo_buf_printf(&sql, ", \"%s\"", fields[i].name);
        free(key);
        cols[ncols++] = &fields[i];
    }
    bo_buf_printf(&sql, ", \"created_at\", \"updated_at\" FROM \"%s\" ORDER BY \"id\"", name);
    bo_buf_putc(&sql, '\0');
    long long rows = -1;
    if (bo_stmt_prepare(x->db, sql.data, -1, &stmt) != BO_OK)
        snprintf(x->err, sizeof x->err, "%s: %s", name, bo_db_errmsg(x->db));
    else
        rows = write_rows(x, stmt, f, cols, name, false);
    bo_stmt_finalize(stmt);
    bo_buf_free(&sql);
    free(cols);
    for (size_t i = 0; i < nfields; i++) {
        free(fields[i].name);
        free(fields[i].type);
    }
    free(fields);
    return rows;
}

/* SQL bo_unseal(entity, field, value): the value of an encrypted field,
   opened; an error if it does not open. */
static int sql_unseal(void *ud, int argc, const char *const *argv, const size_t *lens, bo_buf *out)
{
    (void)argc;
    export_ctx *x = ud;
    if (!argv[2])
        return 1;
    char *aad = bo_sprintf("%s/%s/%s", x->app, argv[0] ? argv[0] : "", argv[1] ? argv[1] : "");
    char err[256];
    int rc = 0;
    if (bo_unseal(x->keys, aad, argv[2], lens[2], out, err, sizeof err) < 0) {
        out->len = 0;
        bo_buf_printf(out, "%s cannot be opened: %s", aad, err);
        rc = -1;
    }
    free(aad);
    return rc;
}

/* Finds what the copy seals and loads the keys to open it; 0 or -1 with
   x->err. */
static int prepare_unseal(export_ctx *x, const char *data)
{
    bo_stmt *stmt = NULL;
    if (bo_stmt_prepare(x->db, "SELECT value FROM _borough_meta WHERE key = 'sealed'", -1, &stmt) ==
            BO_OK &&
        bo_stmt_step(stmt) == BO_DB_ROW && bo_stmt_column_bytes(stmt, 0) > 0)
        x->sealed = bo_sprintf(" %s ", (const char *)bo_stmt_column_text(stmt, 0));
    bo_stmt_finalize(stmt);
    if (!x->sealed)
        return 0;
    char err[400];
    if (bo_keyring_load(&x->keys, data, false, err, sizeof err) < 0) {
        snprintf(x->err, sizeof x->err, "%s has encrypted fields and their keys cannot be read: %s", x->app, err);
        return -1;
    }
    bo_db_create_function(x->db, "bo_unseal", 3, sql_unseal, x);
    return 0;
}

/* Runs a query whose rows become an array of objects at the top of L
   (for the manifest). */
static void push_query(lua_State *L, bo_db *db, const char *sql, const char *arg)
{
    bo_stmt *stmt;
    lua_newtable(L);
    bo_json_mark_array(L, -1);
    if (bo_stmt_prepare(db, sql, -1, &stmt) != BO_OK)
        return;
    if (arg)
        bo_stmt_bind_text(stmt, 1, arg, -1);
    lua_Integer n = 0;
    while (bo_stmt_step(stmt) == BO_DB_ROW) {
        lua_createtable(L, 0, bo_stmt_column_count(stmt));
        for (int i = 0; i < bo_stmt_column_count(stmt); i++) {
            if (bo_stmt_column_type(stmt, i) == BO_DB_NULL)
                continue;
            const char *name = bo_stmt_column_name(stmt, i);
            if (strcmp(name, "options") == 0 &&
                bo_json_decode(L, (const char *)bo_stmt_column_text(stmt, i), (size_t)bo_stmt_column_bytes(stmt, i),
                               NULL, 0) == 0) {
                /* decoded */
            } else if (strcmp(name, "required") == 0 || strcmp(name, "unique") == 0) {
                lua_pushboolean(L, bo_stmt_column_int64(stmt, i));
            } else {
                push_cell(L, stmt, i, NULL);
            }
            lua_setfield(L, -2, name);
        }
        lua_rawseti(L, -2, ++n);
    }
    bo_stmt_finalize(stmt);
}

/* The whole export from the copy; returns 0 or -1 with x->err set. */
static int export_all(export_ctx *x, const char *app, long long *nentities, long long *nrecords,
                      long long *naudit)
{
    lua_State *L = x->L;
    const char *ext = x->json ? "json" : "csv";
    lua_settop(L, 0);
    lua_newtable(L);                                    /* 1: the manifest */
    lua_pushstring(L, app);
    lua_setfield(L, 1, "app");
    lua_pushstring(L, ext);
    lua_setfield(L, 1, "format");
    lua_newtable(L);                                    /* 2: its entity list */
    bo_json_mark_array(L, 2);
    if (bo_db_has_table(x->db, "_borough_entities")) {
        bo_stmt *list;
        if (bo_stmt_prepare(x->db,
                               "SELECT name, label, search FROM _borough_entities ORDER BY declared DESC, position, name",
                               -1, &list) != BO_OK) {
            snprintf(x->err, sizeof x->err, "%s", bo_db_errmsg(x->db));
            return -1;
        }
        while (bo_stmt_step(list) == BO_DB_ROW) {
            char *name = bo_strdup((const char *)bo_stmt_column_text(list, 0));
            if (!bo_db_has_table(x->db, name)) {
                free(name);
                continue;
            }
            char *file = bo_sprintf("%s.%s", name, ext);
            FILE *f = create_file(x, file);
            lua_State *T = lua_newthread(L);            /* rows are encoded on their own stack */
            lua_State *saved = x->L;
            x->L = T;
            long long rows = f ? export_entity(x, name, f) : -1;
            x->L = saved;
            lua_pop(L, 1);
            if (f && close_file(x, f, file) < 0)
                rows = -1;
            if (rows >= 0) {
                lua_createtable(L, 0, 5);
                lua_pushstring(L, name);
                lua_setfield(L, -2, "name");
                lua_pushstring(L, (const char *)bo_stmt_column_text(list, 1));
                lua_setfield(L, -2, "label");
                lua_pushstring(L, file);
                lua_setfield(L, -2, "file");
                lua_pushinteger(L, rows);
                lua_setfield(L, -2, "records");
                push_query(L, x->db,
                           "SELECT name, type, label, required, is_unique AS \"unique\", reference, options "
                           "FROM _borough_fields WHERE entity = ? ORDER BY position", name);
                lua_setfield(L, -2, "fields");
                lua_rawseti(L, 2, (lua_Integer)lua_rawlen(L, 2) + 1);
                (*nentities)++;
                *nrecords += rows;
            }
            free(file);
            free(name);
            if (rows < 0) {
                bo_stmt_finalize(list);
                return -1;
            }
        }
        bo_stmt_finalize(list);
    }
    lua_setfield(L, 1, "entities");

    /* The audit trail. */
    if (bo_db_has_table(x->db, "_borough_audit")) {
        char *file = bo_sprintf("audit-trail.%s", ext);
        FILE *f = create_file(x, file);
        bo_stmt *stmt = NULL;
        long long rows = -1;
        if (f && bo_stmt_prepare(x->db,
                                    "SELECT id, at, who, via, entity, record_id, action, before, after "
                                    "FROM _borough_audit ORDER BY id", -1, &stmt) == BO_OK) {
            lua_State *T = lua_newthread(L);
            lua_State *saved = x->L;
            x->L = T;
            rows = write_rows(x, stmt, f, NULL, "audit trail", true);
            x->L = saved;
            lua_pop(L, 1);
        } else if (f) {
            snprintf(x->err, sizeof x->err, "audit trail: %s", bo_db_errmsg(x->db));
        }
        bo_stmt_finalize(stmt);
        if (f && close_file(x, f, file) < 0)
            rows = -1;
        if (rows < 0) {
            free(file);
            return -1;
        }
        lua_createtable(L, 0, 2);
        lua_pushstring(L, file);
        lua_setfield(L, -2, "file");
        lua_pushinteger(L, rows);
        lua_setfield(L, -2, "entries");
        lua_setfield(L, 1, "audit_trail");
        *naudit = rows;
        free(file);
    }

    /* The schema. */
    FILE *f = create_file(x, "schema.sql");
    if (!f)
        return -1;
    bo_stmt *stmt;
    if (bo_stmt_prepare(x->db, "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid", -1, &stmt) == BO_OK) {
        while (bo_stmt_step(stmt) == BO_DB_ROW)
            fprintf(f, "%s;\n", (const char *)bo_stmt_column_text(stmt, 0));
    }
    bo_stmt_finalize(stmt);
    if (close_file(x, f, "schema.sql") < 0)
        return -1;
    lua_pushliteral(L, "schema.sql");
    lua_setfield(L, 1, "schema");
    lua_pushliteral(L, "app.db");
    lua_setfield(L, 1, "backup");
    lua_pushfstring(L, "borough import %s <entity> <entity>.csv --data <new data folder>, for each entity in "
                       "the order listed", app);
    lua_setfield(L, 1, "to_import");

    bo_buf *b = &x->line;
    b->len = 0;
    if (bo_json_encode(L, 1, b, x->err, sizeof x->err) < 0)
        return -1;
    bo_buf_putc(b, '\n');
    f = create_file(x, "manifest.json");
    if (!f)
        return -1;
    fwrite(b->data, 1, b->len, f);
    return close_file(x, f, "manifest.json");
}

/* Copies the live database into path, consistently (one snapshot). */
static int backup(export_ctx *x, const char *src_path, const char *path, bo_db **copy)
{
    bo_db *src;
    if (bo_db_open(&src, src_path, 0, x->err, sizeof x->err) < 0)
        return -1;
    char err[400];
    int rc = bo_db_backup(src, path, copy, err, sizeof err);
    if (rc < 0)
        snprintf(x->err, sizeof x->err, "cannot copy %s: %s", src_path, err);
    bo_db_close(src);
    return rc < 0 ? -1 : 0;
}

/* PostgreSQL: the app's schema, read in one snapshot, into a new SQLite
   file at path (its tables as columns of the types SQLite keeps; the search
   index left out), so the rest of the export reads it as it reads a
   backup. */
typedef struct pg_table {
    char *name;
    char **cols;
    int ncols;
} pg_table;

typedef struct pg_tables {
    pg_table *list;
    size_t n;
    bo_buf ddl;
} pg_tables;

static int add_column(void *ud, const char *table, const char *column, const char *type)
{
    pg_tables *ts = ud;
    size_t len = strlen(table);
    if (len > 4 && strcmp(table + len - 4, "_fts") == 0)
        return 0;                      /* the search index (entity names never end so) */
    pg_table *t = ts->n ? &ts->list[ts->n - 1] : NULL;
    if (!t || strcmp(t->name, table) != 0) {
        if (t)
            bo_buf_puts(&ts->ddl, "\n);\n");
        ts->list = bo_realloc(ts->list, (ts->n + 1) * sizeof *ts->list);
        t = &ts->list[ts->n++];
        memset(t, 0, sizeof *t);
        t->name = bo_strdup(table);
        bo_buf_printf(&ts->ddl, "CREATE TABLE \"%s\" (\n  ", table);   /* names are [a-z0-9_] */
    } else {
        bo_buf_puts(&ts->ddl, ",\n  ");
    }
    t->cols = bo_realloc(t->cols, (size_t)(t->ncols + 1) * sizeof *t->cols);
    t->cols[t->ncols++] = bo_strdup(column);
    bool key = strcmp(column, "id") == 0 && strcmp(type, "INTEGER") == 0;
    bo_buf_printf(&ts->ddl, "\"%s\" %s%s", column, type, key ? " PRIMARY KEY" : "");
    return 0;
}

static int snapshot(export_ctx *x, const char *data, const char *path, bo_db **copy)
{
    bo_db *src = NULL;
    pg_tables ts = { NULL, 0, { 0 } };
    bo_buf_init(&ts.ddl);
    char err[400];
    int rc = bo_db_open_app(&src, data, x->app, BO_DB_APP, err, sizeof err);
    if (rc == 0)
        rc = bo_db_open(copy, path, BO_DB_CREATE, err, sizeof err);
    if (rc == 0)
        rc = bo_db_begin_read(src, err, sizeof err);
    if (rc == 0)
        rc = bo_db_each_column(src, add_column, &ts, err, sizeof err);
    if (rc == 0 && ts.n) {
        bo_buf_puts(&ts.ddl, "\n);\n");
        bo_buf_putc(&ts.ddl, '\0');
        rc = bo_db_exec_script(*copy, ts.ddl.data, err, sizeof err);
    }
    if (rc == 0)
        rc = bo_db_begin(*copy, err, sizeof err);
    int64_t rows = 0;
    for (size_t i = 0; rc == 0 && i < ts.n; i++)
        rc = bo_db_copy_rows(*copy, src, ts.list[i].name, (const char *const *)ts.list[i].cols, ts.list[i].ncols,
                             &rows, err, sizeof err);
    if (rc == 0)
        rc = bo_db_commit(*copy, err, sizeof err);
    if (rc < 0) {
        snprintf(x->err, sizeof x->err, "cannot copy %s's data: %s", x->app, err);
        if (*copy)
            bo_db_rollback_all(*copy);
    }
    if (src)
        bo_db_rollback_all(src);
    bo_db_close(src);
    for (size_t i = 0; i < ts.n; i++) {
        for (int c = 0; c < ts.list[i].ncols; c++)
            free(ts.list[i].cols[c]);
        free(ts.list[i].cols);
        free(ts.list[i].name);
    }
    free(ts.list);
    bo_buf_free(&ts.ddl);
    return rc < 0 ? -1 : 0;
}

static int is_app(const char *name, void *ud)
{
    return strcmp(name, ud) == 0;
}

static const char *user_name(void)
{
    struct passwd *pw = getpwuid(getuid());
    return pw ? pw->pw_name : "unknown";
}

int bo_cmd_export(int argc, char **argv, const bo_cli *cli)
{
    const char *app = NULL, *out = NULL, *data = "data", *format = "csv";
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--format") == 0 || strcmp(argv[i], "--data") == 0) {
            if (i + 1 >= argc)
                return bo_cli_usage(cli, "%s needs a value", argv[i]);
            *(strcmp(argv[i], "--data") == 0 ? &data : &format) = argv[i + 1];
            i++;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return bo_cli_usage(cli, "unknown option %s", argv[i]);
        } else if (!app) {
            app = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            return bo_cli_usage(cli, "takes APP and OUT, not also %s", argv[i]);
        }
    }
    if (!app || !out)
        return bo_cli_usage(cli, "needs APP and OUT");
    if (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
        return bo_cli_usage(cli, "--format is csv or json, not %s", format);
    if (strchr(app, '/') || app[0] == '.')
        return bo_cli_usage(cli, "APP is an app's name (its folder under apps/), not %s", app);

    char err[512];
    if (bo_db_locate(data, NULL, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    bool pg = bo_db_dialect() == BO_POSTGRES;
    char *src = pg ? bo_sprintf("the schema app_%s", app) : bo_sprintf("%s/%s/app.db", data, app);
    struct stat st;
    int made = pg ? bo_db_each_app(data, is_app, (void *)app, err, sizeof err) : stat(src, &st) == 0;
    if (made != 1) {
        int status = made < 0 ? bo_cli_fail(cli, "%s", err)
                              : bo_cli_fail(cli, "%s has no data: %s does not exist", app, src);
        free(src);
        return status;
    }
    if (mkdir(out, 0700) < 0) {
        int status = errno == EEXIST ? bo_cli_fail(cli, "%s already exists: export into a new folder", out)
                                     : bo_cli_fail(cli, "cannot create %s: %s", out, strerror(errno));
        free(src);
        return status;
    }
    export_ctx x = { .cli = cli, .json = strcmp(format, "json") == 0, .out = out, .app = app };
    bo_buf_init(&x.line);
    char *copy_path = bo_sprintf("%s/app.db", out);
    int status = 1;
    long long nentities = 0, nrecords = 0, naudit = 0;
    if ((pg ? snapshot(&x, data, copy_path, &x.db) : backup(&x, src, copy_path, &x.db)) == 0) {
        /* The copy is ours alone: a rollback journal keeps OUT to one file. */
        char jerr[200];
        bo_db_exec_script(x.db, "PRAGMA journal_mode=DELETE", jerr, sizeof jerr);
        x.L = luaL_newstate();
        if (!x.L) {
            fprintf(stderr, "borough export: out of memory\n");
            abort();
        }
        if (prepare_unseal(&x, data) == 0 && export_all(&x, app, &nentities, &nrecords, &naudit) == 0)
            status = 0;
        lua_close(x.L);
    }
    bo_db_close(x.db);
    free(x.sealed);
    bo_keyring_free(x.keys);
    if (status != 0) {
        bo_cli_fail(cli, "%s", x.err);
    } else {
        bo_db *pdb = NULL;
        char *detail = bo_sprintf("format=%s out=%s records=%lld audit=%lld", format, out, nrecords, naudit);
        if (bo_platformdb_open(&pdb, data, err, sizeof err) < 0 ||
            bo_platformdb_audit(pdb, user_name(), "export", app, detail, err, sizeof err) < 0)
            fprintf(stderr, "borough export: the export is done but could not be recorded: %s\n", err);
        bo_db_close(pdb);
        free(detail);
        printf("exported %lld entit%s (%lld record%s), %lld audit entr%s, the schema and a backup of %s to %s\n",
               nentities, nentities == 1 ? "y" : "ies", nrecords, nrecords == 1 ? "" : "s", naudit,
               naudit == 1 ? "y" : "ies", src, out);
    }
    bo_buf_free(&x.line);
    free(copy_path);
    free(src);
    return status;
}
