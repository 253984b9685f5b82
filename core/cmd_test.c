/*
 * cmd_test.c - `borough test [PATH]`: runs app tests (apps/<app>/tests/
 * *_test.lua, written with lua/borough/test.lua) in-process.
 *
 * PATH is an app folder, an app's name (apps/NAME), or an apps folder (every
 * app in it that has tests); by default `apps`. For each app the real server
 * starts on this thread with that app alone, one worker, a free loopback
 * port and an empty temporary data folder (removed afterwards). Once it
 * listens, the tests run here, on the main thread, in a Lua state of the
 * app built from the snapshot the server judged (so `require "models"` and
 * `db` work in tests), and speak HTTP to the worker through borough.test's
 * client. The main thread's loop waits meanwhile; the worker serves.
 *
 * Output: "ok   APP: NAME" or "FAIL APP: NAME" with the reason indented
 * below, one line per test, and last "N passed, N failed". Exit status 1 if
 * any test failed (or an app did not load), else 0.
 */
#include "cli.h"
#include "lauth.h"
#include "log.h"
#include "ltest.h"
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What one test may use: generous, but a test that loops for ever ends. */
static const bo_limits test_limits = {
    .memory = 0,                            /* the app's own cap applies */
    .instructions = 2000ULL * 1000 * 1000,
    .wall_ms = 5 * 60 * 1000,
};

typedef struct run {
    const char *dir;        /* the app folder */
    const char *name;
    char **files;           /* its test files, sorted */
    int nfiles;
    int passed, failed;
} run;

static void print_failure(const char *name, const char *what, const char *why)
{
    printf("FAIL %s: %s\n", name, what);
    /* The reason, indented, one line at a time. */
    while (why && *why) {
        const char *nl = strchr(why, '\n');
        int n = nl ? (int)(nl - why) : (int)strlen(why);
        printf("     %.*s\n", n, why);
        why = nl ? nl + 1 : NULL;
    }
}

/* Keeps the message; adds a traceback only for errors outside assertions. */
static int msgh(lua_State *L)
{
    if (!lua_isstring(L, 1))
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    return 1;
}

/* Runs fn(arg) under a test's budget; leaves the error message on failure. */
static int call(bo_gen *g, int nargs)
{
    lua_State *L = g->sb.L;
    bo_limits limits = test_limits;
    limits.memory = g->sb.limits.memory;
    bo_budget budget;
    bo_budget_start(&budget, &limits);
    bo_budget *previous = bo_sandbox_enter(&g->sb, &budget);
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msgh);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, 1, base);
    lua_remove(L, base);
    bo_sandbox_leave(&g->sb, previous);
    return status;
}

/* Loads and runs one test file (it declares tests), then runs each test. */
static void run_file(run *r, bo_gen *g, const char *file)
{
    lua_State *L = g->sb.L;
    const char *rel = file + strlen(r->dir) + 1;
    lua_settop(L, 0);
    /* 1: the module borough.test */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "borough.test");
    if (call(g, 1) != LUA_OK) {
        print_failure(r->name, "borough.test did not load", lua_tostring(L, -1));
        r->failed++;
        return;
    }
    lua_pushfstring(L, "@%s", file);
    int status = bo_sandbox_loadfile(L, file, lua_tostring(L, -1));
    lua_remove(L, -2);
    if (status == LUA_OK)
        status = call(g, 0);
    if (status != LUA_OK) {
        char *what = bo_sprintf("%s did not run", rel);
        print_failure(r->name, what, lua_tostring(L, -1));
        free(what);
        r->failed++;
        lua_getfield(L, 1, "_take");      /* forget what it declared */
        call(g, 0);
        lua_settop(L, 1);
        return;
    }
    lua_settop(L, 1);
    lua_getfield(L, 1, "_take");
    if (call(g, 0) != LUA_OK || !lua_istable(L, -1)) {
        print_failure(r->name, rel, lua_tostring(L, -1));
        r->failed++;
        return;
    }
    int list = lua_gettop(L);               /* 2: the tests */
    lua_Integer n = luaL_len(L, list);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, list, i);
        lua_getfield(L, -1, "name");
        char *name = bo_strdup(lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
        lua_pop(L, 1);
        lua_getfield(L, 1, "_run");
        lua_insert(L, -2);
        if (call(g, 1) == LUA_OK) {
            printf("ok   %s: %s\n", r->name, name);
            r->passed++;
        } else {
            print_failure(r->name, name, lua_tostring(L, -1));
            r->failed++;
        }
        lua_settop(L, list);
        fflush(stdout);
        free(name);
    }
    lua_settop(L, 0);
}

static int open_client(lua_State *L)
{
    bo_ltest_open(L, (int)lua_tointeger(L, 1), lua_tostring(L, 2));
    bo_lauth_test_open(L, lua_tostring(L, 3), lua_tostring(L, 4));   /* t.login */
    return 0;
}

/* Called on the main thread once the server listens: runs every test file
   of the app, then stops the server. */
static void on_ready(bo_server *s, void *ud)
{
    run *r = ud;
    bo_catalog *c = bo_server_catalog(s);
    bo_app_info *info = c->napps ? c->apps[0] : NULL;
    char err[2048];
    bo_gen *g = NULL;
    if (!info || info->error) {
        print_failure(r->name, "the app did not load", info ? info->error : "no app.lua");
        r->failed++;
    } else if (bo_gen_load(&g, info, &s->paths, false, false, err, sizeof err) < 0) {
        print_failure(r->name, "the app did not load", err);
        r->failed++;
    } else {
        lua_State *L = g->sb.L;
        lua_pushcfunction(L, open_client);
        lua_pushinteger(L, s->port);
        lua_pushstring(L, info->mount ? info->mount : "");
        lua_pushstring(L, s->paths.data_dir);
        lua_pushstring(L, info->name);
        if (lua_pcall(L, 4, 0, 0) != LUA_OK) {
            print_failure(r->name, "the test client did not start", lua_tostring(L, -1));
            r->failed++;
        } else {
            for (int i = 0; i < r->nfiles; i++)
                run_file(r, g, r->files[i]);
        }
        bo_gen_free(g);
    }
    bo_catalog_unref(c);
    fflush(stdout);
    bo_server_stop(s);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The app's test files (tests/NAME_test.lua), sorted. */
static int list_tests(const char *dir, char ***out)
{
    char *tdir = bo_sprintf("%s/tests", dir);
    DIR *d = opendir(tdir);
    char **files = NULL;
    int n = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (e->d_name[0] == '.' || len <= 9 || strcmp(e->d_name + len - 9, "_test.lua") != 0)
                continue;
            files = bo_realloc(files, sizeof *files * (size_t)(n + 1));
            files[n++] = bo_sprintf("%s/%s", tdir, e->d_name);
        }
        closedir(d);
    }
    free(tdir);
    if (n > 1)
        qsort(files, (size_t)n, sizeof *files, compare_names);
    *out = files;
    return n;
}

static void run_app(run *r, const char *lib)
{
    char tmp[] = "/tmp/borough-test-XXXXXX";
    if (!mkdtemp(tmp)) {
        print_failure(r->name, "no temporary data folder", strerror(errno));
        r->failed++;
        return;
    }
    bo_config cfg;
    bo_config_defaults(&cfg);
    cfg.only_app = r->dir;
    cfg.data_dir = tmp;
    cfg.lib_dir = lib;
    cfg.port = 0;
    cfg.workers = 1;
    cfg.access_log = false;
    cfg.control = false;
    cfg.site = false;
    cfg.drain_ms = 2000;
    cfg.on_ready = on_ready;
    cfg.ready_ud = r;
    int before = r->passed + r->failed;
    bo_server_run(&cfg);
    if (r->passed + r->failed == before) {
        print_failure(r->name, "the server did not start", "see the messages above");
        r->failed++;
    }
    if (bo_cli_remove_tree(tmp) != 0)
        fprintf(stderr, "borough test: could not remove %s\n", tmp);
}

static bool is_app(const char *dir)
{
    char *p = bo_sprintf("%s/app.lua", dir);
    struct stat st;
    bool yes = stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return yes;
}

int bo_cmd_test(int argc, char **argv, const bo_cli *cli)
{
    if (argc > 1)
        return bo_cli_usage(cli, "takes one PATH, not %s", argv[1]);
    const char *path = argc ? argv[0] : "apps";
    char **dirs = NULL;
    int ndirs = 0;
    bool all = false;
    char *named = strchr(path, '/') ? NULL : bo_sprintf("apps/%s", path);
    if (is_app(path) || (named && argc && is_app(named))) {
        dirs = bo_calloc(1, sizeof *dirs);
        dirs[ndirs++] = bo_strdup(is_app(path) ? path : named);
    } else if (bo_cli_is_dir(path)) {
        char err[512];
        ndirs = bo_app_scan(path, &dirs, err, sizeof err);
        if (ndirs < 0) {
            free(named);
            return bo_cli_fail(cli, "%s", err);
        }
        all = true;
    } else {
        free(named);
        return bo_cli_fail(cli, "%s is not an app folder, an app of apps/ or an apps folder", path);
    }
    free(named);
    char *lib = bo_cli_lib(cli);
    if (!lib) {
        for (int i = 0; i < ndirs; i++)
            free(dirs[i]);
        free(dirs);
        return 1;
    }
    bo_log_set_level(BO_LOG_WARN);
    int passed = 0, failed = 0;
    for (int i = 0; i < ndirs; i++) {
        run r = { dirs[i], NULL, NULL, 0, 0, 0 };
        const char *slash = strrchr(dirs[i], '/');
        r.name = slash ? slash + 1 : dirs[i];
        r.nfiles = list_tests(dirs[i], &r.files);
        if (r.nfiles == 0) {
            if (!all)
                printf("%s: no tests (add tests/*_test.lua)\n", r.name);
        } else {
            run_app(&r, lib);
        }
        passed += r.passed;
        failed += r.failed;
        for (int j = 0; j < r.nfiles; j++)
            free(r.files[j]);
        free(r.files);
        free(dirs[i]);
    }
    free(dirs);
    free(lib);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
