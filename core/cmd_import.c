/*
 * cmd_import.c - `borough import APP ENTITY FILE.csv`: a validated bulk
 * import. The app is loaded as the server loads it (migrating its database
 * if needed), and the file is read by the CSV reader of csv.c and given to
 * borough.import in the app's own Lua state, so every row is checked by
 * exactly the validators a form would use. Bad rows are listed with line,
 * column and message (on stderr, or all of them in a CSV file with
 * --rejects); a progress bar is drawn while stderr is a terminal; the last
 * line sums it up.
 *
 * All or nothing by default: one bad row and nothing is imported (exit 1).
 * --skip-bad-rows imports the good rows (exit 0) and reports the rest.
 */
#include "app.h"
#include "cli.h"
#include "csv.h"
#include "lcsv.h"
#include "lentity.h"
#include "linit.h"
#include "log.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHOWN_REJECTS 20

typedef struct import_opts {
    const char *app;
    const char *entity;
    const char *file;
    const char *apps_dir;
    const char *data_dir;
    const char *mapping_file;
    const char *rejects_file;
    bool skip_bad_rows;
    char **maps;               /* --map col=field, borrowed from argv */
    int nmaps;
} import_opts;

/* Where rejects go: a CSV file, or stderr (the first few). Owned by a
   userdata so a Lua error cannot leak the FILE. */
typedef struct rejects_out {
    FILE *csv;
    const char *file;          /* the input, for "FILE:LINE: ..." on stderr */
    unsigned long count;
    bool tty;                  /* a progress bar is on the current line */
} rejects_out;

static int rejects_gc(lua_State *L)
{
    rejects_out *r = lua_touserdata(L, 1);
    if (r->csv)
        fclose(r->csv);
    r->csv = NULL;
    return 0;
}

static void put_csv_field(FILE *f, const char *s, size_t len)
{
    bo_buf b;
    bo_buf_init(&b);
    bo_csv_put_field(&b, s, len);
    fwrite(b.data ? b.data : "", 1, b.len, f);
    bo_buf_free(&b);
}

/* on_reject(line, column, message): the upvalue is the rejects_out. */
static int on_reject(lua_State *L)
{
    rejects_out *r = lua_touserdata(L, lua_upvalueindex(1));
    lua_Integer line = luaL_checkinteger(L, 1);
    size_t clen, mlen;
    const char *column = luaL_checklstring(L, 2, &clen);
    const char *message = luaL_checklstring(L, 3, &mlen);
    r->count++;
    if (r->csv) {
        fprintf(r->csv, "%lld,", (long long)line);
        put_csv_field(r->csv, column, clen);
        fputc(',', r->csv);
        put_csv_field(r->csv, message, mlen);
        fputs("\r\n", r->csv);
    } else if (r->count <= SHOWN_REJECTS) {
        if (r->tty)
            fputs("\r\033[K", stderr);
        if (clen)
            fprintf(stderr, "%s:%lld: %s: %s\n", r->file, (long long)line, column, message);
        else
            fprintf(stderr, "%s:%lld: %s\n", r->file, (long long)line, message);
    }
    return 0;
}

/* progress(bytes_read, bytes_total, rows): a bar on stderr. */
static int on_progress(lua_State *L)
{
    lua_Integer read = luaL_checkinteger(L, 1), total = luaL_checkinteger(L, 2);
    lua_Integer rows = luaL_checkinteger(L, 3);
    int pct = total > 0 ? (int)(read * 100 / total) : 100;
    int filled = pct * 30 / 100;
    char bar[31];
    memset(bar, '=', (size_t)filled);
    memset(bar + filled, ' ', (size_t)(30 - filled));
    bar[30] = '\0';
    fprintf(stderr, "\r[%s] %3d%%  %lld rows", bar, pct, (long long)rows);
    fflush(stderr);
    return 0;
}

/* Reads "column = field" lines (# comments; an empty field or "-" ignores
   the column) into the mapping table at idx. Returns 0 or 1 after saying
   what is wrong. */
static int read_mapping_file(lua_State *L, int idx, const bo_cli *cli, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return bo_cli_fail(cli, "cannot read the mapping %s: %s", path, strerror(errno));
    char line[1024];
    int n = 0, status = 0;
    while (fgets(line, sizeof line, f)) {
        n++;
        char *s = line;
        s[strcspn(s, "\r\n")] = '\0';
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strrchr(s, '=');
        if (!eq) {
            status = bo_cli_fail(cli, "%s:%d: a mapping line is \"CSV column = field\"", path, n);
            break;
        }
        char *end = eq;
        while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        char *field = eq + 1;
        while (*field == ' ' || *field == '\t')
            field++;
        size_t flen = strlen(field);
        while (flen > 0 && (field[flen - 1] == ' ' || field[flen - 1] == '\t'))
            field[--flen] = '\0';
        lua_pushlstring(L, s, (size_t)(end - s));
        if (flen == 0 || strcmp(field, "-") == 0)
            lua_pushboolean(L, 0);
        else
            lua_pushstring(L, field);
        lua_settable(L, idx);
    }
    fclose(f);
    return status;
}

/* The import itself, in protected mode: 1: the generation's state is L. */
typedef struct import_run {
    const import_opts *o;
    const bo_cli *cli;
    rejects_out *rejects;
    int status;
    double seconds;
} import_run;

static void summary_line(lua_State *L, import_run *run, int summary, const char *entity_name)
{
    const import_opts *o = run->o;
    lua_getfield(L, summary, "rows");
    lua_getfield(L, summary, "imported");
    lua_getfield(L, summary, "rejected");
    lua_getfield(L, summary, "valid");
    long long rows = lua_tointeger(L, -4), imported = lua_tointeger(L, -3), rejected = lua_tointeger(L, -2);
    lua_pop(L, 4);
    if (run->rejects->count > SHOWN_REJECTS && !run->rejects->csv)
        fprintf(stderr, "... and %lu more (--rejects FILE lists them all)\n",
                run->rejects->count - SHOWN_REJECTS);
    const char *see = o->rejects_file ? o->rejects_file : NULL;
    if (rejected > 0 && !o->skip_bad_rows) {
        fprintf(stderr, "nothing imported: %lld of %lld row%s of %s %s wrong%s%s%s; fix %s or use --skip-bad-rows\n",
                rejected, rows, rows == 1 ? "" : "s", o->file, rejected == 1 ? "is" : "are",
                see ? " (see " : "", see ? see : "", see ? ")" : "", rejected == 1 ? "it" : "them");
        run->status = 1;
        return;
    }
    printf("imported %lld %s from %s in %.2f s", imported, entity_name, o->file, run->seconds);
    if (rejected > 0)
        printf("; %lld row%s rejected%s%s%s", rejected, rejected == 1 ? "" : "s", see ? " (see " : "",
               see ? see : "", see ? ")" : "");
    printf("\n");
}

static int import_main(lua_State *L)
{
    import_run *run = lua_touserdata(L, 1);
    const import_opts *o = run->o;
    lua_settop(L, 0);

    if (bo_lentity_push(L, o->entity) != LUA_TTABLE) {
        lua_pushfstring(L, "the app has no entity '%s'", o->entity);
        return lua_error(L);
    }
    int entity = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "borough.import");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "run");
    lua_remove(L, -2);
    lua_pushvalue(L, entity);
    char err[512];
    if (bo_lcsv_push_file(L, o->file, err, sizeof err) < 0) {
        lua_pushstring(L, err);
        return lua_error(L);
    }
    lua_createtable(L, 0, 5);
    int opts = lua_gettop(L);
    lua_pushboolean(L, o->skip_bad_rows);
    lua_setfield(L, opts, "skip_bad_rows");
    lua_pushlightuserdata(L, run->rejects);
    lua_pushcclosure(L, on_reject, 1);
    lua_setfield(L, opts, "on_reject");
    if (run->rejects->tty) {
        lua_pushcfunction(L, on_progress);
        lua_setfield(L, opts, "progress");
    }
    if (o->mapping_file || o->nmaps) {
        lua_newtable(L);
        int mapping = lua_gettop(L);
        if (o->mapping_file && read_mapping_file(L, mapping, run->cli, o->mapping_file) != 0) {
            run->status = 1;
            return 0;
        }
        for (int i = 0; i < o->nmaps; i++) {
            const char *eq = strrchr(o->maps[i], '=');
            lua_pushlstring(L, o->maps[i], (size_t)(eq - o->maps[i]));
            if (eq[1] == '\0' || strcmp(eq + 1, "-") == 0)
                lua_pushboolean(L, 0);
            else
                lua_pushstring(L, eq + 1);
            lua_settable(L, mapping);
        }
        lua_setfield(L, opts, "mapping");
    }
    uint64_t start = bo_now_ms();
    lua_call(L, 3, 2);
    run->seconds = (double)(bo_now_ms() - start) / 1000.0;
    if (run->rejects->tty)
        fputs("\r\033[K", stderr);
    if (lua_isnil(L, -2)) {
        fprintf(stderr, "borough import: %s: %s\n", o->file, lua_tostring(L, -1));
        run->status = 1;
        return 0;
    }
    summary_line(L, run, lua_gettop(L) - 1, o->entity);
    return 0;
}

static int msgh(lua_State *L)
{
    if (!lua_isstring(L, 1))
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    return 1;
}

/* APP: an app folder (a path holding app.lua) or a name under apps_dir. */
static char *app_folder(const char *app, const char *apps_dir)
{
    char *probe = bo_sprintf("%s/app.lua", app);
    struct stat st;
    bool is_app = strchr(app, '/') && stat(probe, &st) == 0;
    free(probe);
    return is_app ? bo_strdup(app) : bo_sprintf("%s/%s", apps_dir, app);
}

static int parse_args(int argc, char **argv, const bo_cli *cli, import_opts *o)
{
    const char *pos[3];
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **value = NULL;
        if (strcmp(a, "--skip-bad-rows") == 0) {
            o->skip_bad_rows = true;
            continue;
        }
        if (strcmp(a, "--mapping") == 0)
            value = &o->mapping_file;
        else if (strcmp(a, "--rejects") == 0)
            value = &o->rejects_file;
        else if (strcmp(a, "--data") == 0)
            value = &o->data_dir;
        else if (strcmp(a, "--apps") == 0)
            value = &o->apps_dir;
        if (value || strcmp(a, "--map") == 0) {
            if (i + 1 >= argc)
                return bo_cli_usage(cli, "%s needs a value", a);
            if (value) {
                *value = argv[++i];
            } else {
                const char *m = argv[++i];
                if (!strchr(m, '=') || m[0] == '=')
                    return bo_cli_usage(cli, "--map takes COLUMN=FIELD, not %s", m);
                o->maps[o->nmaps++] = argv[i];
            }
            continue;
        }
        if (a[0] == '-' && a[1] == '-')
            return bo_cli_usage(cli, "unknown option %s", a);
        if (npos == 3)
            return bo_cli_usage(cli, "takes APP ENTITY FILE.csv, not also %s", a);
        pos[npos++] = a;
    }
    if (npos < 3)
        return bo_cli_usage(cli, "needs APP, ENTITY and FILE.csv");
    o->app = pos[0];
    o->entity = pos[1];
    o->file = pos[2];
    return 0;
}

int bo_cmd_import(int argc, char **argv, const bo_cli *cli)
{
    import_opts o = { .apps_dir = "apps", .data_dir = "data" };
    o.maps = bo_calloc((size_t)argc + 1, sizeof *o.maps);
    int status = parse_args(argc, argv, cli, &o);
    if (status) {
        free(o.maps);
        return status;
    }
    char *lib = bo_cli_lib(cli);
    char *dir = app_folder(o.app, o.apps_dir);
    bo_app_info *info = NULL;
    bo_gen *g = NULL;
    status = 1;
    if (!lib)
        goto out;
    struct stat st;
    if (stat(o.file, &st) < 0 || !S_ISREG(st.st_mode)) {
        bo_cli_fail(cli, "cannot read %s: %s", o.file, errno ? strerror(errno) : "not a file");
        goto out;
    }
    bo_log_set_level(BO_LOG_WARN);
    bo_paths paths = { o.data_dir, lib, NULL, bo_platform_libs, NULL };
    info = bo_app_info_new(dir);
    char err[2048];
    if (bo_db_locate(o.data_dir, NULL, err, sizeof err) < 0) {      /* the engine, before the app's code asks */
        bo_cli_fail(cli, "%s", err);
        goto out;
    }
    if (bo_gen_load(&g, info, &paths, true, true, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    lua_State *L = g->sb.L;
    const char *base = strrchr(o.file, '/') ? strrchr(o.file, '/') + 1 : o.file;
    char *via = bo_sprintf("borough import %s", base);
    bo_lentity_set_actor(L, "system", via);
    free(via);

    rejects_out *rejects = lua_newuserdatauv(L, sizeof *rejects, 0);   /* anchored on the stack */
    memset(rejects, 0, sizeof *rejects);
    rejects->file = o.file;
    rejects->tty = isatty(STDERR_FILENO);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, rejects_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    if (o.rejects_file) {
        rejects->csv = fopen(o.rejects_file, "w");
        if (!rejects->csv) {
            bo_cli_fail(cli, "cannot write %s: %s", o.rejects_file, strerror(errno));
            goto out;
        }
        fputs("line,column,message\r\n", rejects->csv);
    }

    /* A bulk load wants more of the database in memory than a request, and
       no checkpoint between its batches: the log is copied into the
       database once, at the end. The page cache is sized to the file
       (records take about eight times the bytes of their CSV, with their
       indexes, search index and audit rows), from 64 MiB to 256 MiB, taken
       only as pages are used. What must stay in it are the pages of the
       indexes, written all over (a million records' take about 70 MiB):
       with too small a cache they are spilled to the log and read back
       over and over. The rows' own pages are written once each, in order,
       so spilling them costs nothing more; a cache holding all of them (1
       GiB for a million) only made the kernel zero a gigabyte of memory
       (a million rows: system time 9.1 s -> 4.2 s, peak memory 1.07 GB ->
       0.68 GB).
       Temporary b-trees (the batch of ids the search index takes) stay in
       memory. (SQLite's own settings: PostgreSQL has none of them.) */
    bo_db *db = g->db;
    if (db && bo_db_dialect() == BO_SQLITE) {
        long long kib = (long long)st.st_size * 8 / 1024;
        kib = kib < 64 * 1024 ? 64 * 1024 : kib > 256 * 1024 ? 256 * 1024 : kib;
        char *pragmas = bo_sprintf("PRAGMA cache_size = -%lld; PRAGMA wal_autocheckpoint = 0; "
                                   "PRAGMA temp_store = MEMORY", kib);
        bool was = bo_db_set_platform(db, true);
        bo_db_exec_script(db, pragmas, err, sizeof err);
        bo_db_set_platform(db, was);
        free(pragmas);
    }
    /* A command's import is not held to a request's budget, so the count
       hook that enforces one is not needed either (it costs on every VM
       instruction). */
    bo_budget budget = { 0, UINT64_MAX, 0, NULL };
    bo_budget *previous = bo_sandbox_enter(&g->sb, &budget);
    lua_sethook(L, NULL, 0, 0);
    import_run run = { &o, cli, rejects, 0, 0 };
    lua_pushcfunction(L, msgh);
    lua_pushcfunction(L, import_main);
    lua_pushlightuserdata(L, &run);
    int rc = lua_pcall(L, 1, 0, -3);
    bo_sandbox_leave(&g->sb, previous);
    if (rejects->tty)
        fputs("\r\033[K", stderr);
    if (rc != LUA_OK) {
        fprintf(stderr, "borough import: %s\n", lua_tostring(L, -1));
        status = 1;
    } else {
        status = run.status;
    }
    if (rejects->csv && fclose(rejects->csv) != 0 && status == 0) {
        bo_cli_fail(cli, "cannot write %s: %s", o.rejects_file, strerror(errno));
        status = 1;
    }
    rejects->csv = NULL;
    if (db)
        bo_db_checkpoint(db, NULL);
out:
    bo_gen_free(g);
    if (info)
        bo_app_info_unref(info);
    free(dir);
    free(lib);
    free(o.maps);
    return status;
}
