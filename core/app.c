/*
 * app.c - loading an app folder into a generation (see app.h).
 *
 * A load opens a sandbox, installs the platform API, runs app.lua under a
 * load budget and expects it to return the app made by borough.app{...}.
 * The manifest fields are read and checked, and each route declared with
 * app:get/post/... is compiled into the generation's bo_routes with its
 * handler referenced in the registry.
 */
#include "app.h"
#include "buf.h"
#include "lapi.h"
#include "loadcache.h"
#include "ljobs.h"
#include "lentity.h"
#include "log.h"
#include "platformdb.h"
#include "netaddr.h"

#include <dirent.h>
#include <errno.h>
#include <http_parser.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define POOL_MAX 64
/* Loading may do more than a request (require chains, schema checks). */
#define LOAD_INSTRUCTION_FACTOR 4
#define LOAD_WALL_MS 10000

bo_app_info *bo_app_info_new(const char *dir)
{
    bo_app_info *info = bo_calloc(1, sizeof *info);
    atomic_init(&info->refs, 1);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    info->dir = bo_strndup(dir, n);
    const char *slash = strrchr(info->dir, '/');
    info->name = bo_strdup(slash ? slash + 1 : info->dir);
    info->mount = bo_sprintf("/%s", info->name);
    info->title = bo_strdup(info->name);
    info->limits = bo_limits_default;
    info->max_body = BO_DEFAULT_MAX_BODY;
    info->max_streams = BO_DEFAULT_MAX_STREAMS;
    return info;
}

bo_app_info *bo_app_info_ref(bo_app_info *info)
{
    atomic_fetch_add(&info->refs, 1);
    return info;
}

void bo_app_info_unref(bo_app_info *info)
{
    if (!info || atomic_fetch_sub(&info->refs, 1) != 1)
        return;
    free(info->name);
    free(info->dir);
    free(info->mount);
    free(info->host);
    free(info->title);
    free(info->description);
    free(info->error);
    for (unsigned i = 0; i < info->nallow_hosts; i++)
        free(info->allow_hosts[i]);
    free(info->allow_hosts);
    bo_snapshot_free(info->snapshot);
    bo_loadcache_free(info->cache);
    free(info);
}

bool bo_app_allows_host(const bo_app_info *info, const char *host, int port)
{
    size_t hlen = strlen(host);
    for (unsigned i = 0; i < info->nallow_hosts; i++) {
        const char *e = info->allow_hosts[i];
        const char *colon = strrchr(e, ':');
        size_t elen = colon ? (size_t)(colon - e) : strlen(e);
        if (colon && atoi(colon + 1) != port)
            continue;
        if (elen > 2 && e[0] == '*' && e[1] == '.') {
            size_t dlen = elen - 1;                       /* ".domain" */
            if (hlen > dlen && strncmp(host + hlen - dlen, e + 1, dlen) == 0)
                return true;
        } else if (elen == hlen && strncmp(host, e, elen) == 0) {
            return true;
        }
    }
    return false;
}

bool bo_app_allows_address(const bo_app_info *info, int port, const struct sockaddr *addr)
{
    if (!bo_netaddr_internal(addr))
        return true;
    for (unsigned i = 0; i < info->nallow_hosts; i++) {
        const char *e = info->allow_hosts[i];
        const char *colon = strrchr(e, ':');
        size_t elen = colon ? (size_t)(colon - e) : strlen(e);
        if ((colon && atoi(colon + 1) != port) || elen >= 64)
            continue;
        char host[64];
        memcpy(host, e, elen);
        host[elen] = '\0';
        if (bo_netaddr_is(addr, host))
            return true;
    }
    return false;
}

/* ---- reading the manifest ---- */

typedef struct load_ctx {
    bo_gen *g;
    bo_app_info *info;
    bool fill_info;
    char *err;
    size_t errlen;
} load_ctx;

/* Reads an optional string field of the table at idx into *out (new). */
static int opt_string(lua_State *L, int idx, const char *field, char **out, const char *where)
{
    int t = lua_getfield(L, idx, field);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (t != LUA_TSTRING)
        return luaL_error(L, "%s: borough.app{%s = ...} must be a string", where, field);
    free(*out);
    *out = bo_strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return 1;
}

static uint64_t opt_limit(lua_State *L, int idx, const char *field, uint64_t dflt, uint64_t max,
                          const char *where)
{
    int t = lua_getfield(L, idx, field);
    uint64_t v = dflt;
    if (t != LUA_TNIL) {
        lua_Integer n;
        int isnum;
        n = lua_tointegerx(L, -1, &isnum);
        if (!isnum || n <= 0)
            luaL_error(L, "%s: limits.%s must be a positive whole number", where, field);
        v = (uint64_t)n;
        if (v > max) {
            bo_log(BO_LOG_WARN, NULL, "%s: limits.%s = %llu is over the server maximum %llu; using the maximum",
                   where, field, (unsigned long long)v, (unsigned long long)max);
            v = max;
        }
    }
    lua_pop(L, 1);
    return v;
}

/* Reads the manifest from the app table at index 1; runs in protected mode. */
static void read_manifest(lua_State *L, load_ctx *c, const char *where)
{
    bo_app_info *info = c->info;
    opt_string(L, 1, "title", &info->title, where);
    opt_string(L, 1, "description", &info->description, where);
    char *host = NULL, *mount = NULL;
    opt_string(L, 1, "host", &host, where);
    if (opt_string(L, 1, "mount", &mount, where)) {
        char *norm = bo_mount_normalise(mount);
        free(mount);
        if (!norm)
            luaL_error(L, "%s: mount must be a path such as \"/grants\"", where);
        free(info->mount);
        info->mount = norm;
    } else if (host) {
        free(info->mount);
        info->mount = NULL;   /* an app with a host and no mount is reached only by host */
    }
    if (host) {
        free(info->host);
        info->host = host;
    }
    lua_getfield(L, 1, "public");
    info->public_ = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "allow_hosts") == LUA_TTABLE) {  /* checked by borough.app */
        lua_Integer n = luaL_len(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, -1, i) == LUA_TSTRING) {
                info->allow_hosts = bo_realloc(info->allow_hosts, sizeof *info->allow_hosts * (info->nallow_hosts + 1));
                char *e = bo_strdup(lua_tostring(L, -1));
                for (char *p = e; *p; p++)
                    if (*p >= 'A' && *p <= 'Z')
                        *p = (char)(*p - 'A' + 'a');
                info->allow_hosts[info->nallow_hosts++] = e;
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "limits") == LUA_TTABLE) {
        int t = lua_gettop(L);
        info->limits.memory = opt_limit(L, t, "memory", bo_limits_default.memory, bo_limits_max.memory, where);
        info->limits.instructions = opt_limit(L, t, "instructions", bo_limits_default.instructions,
                                              bo_limits_max.instructions, where);
        info->limits.wall_ms = 1000 * opt_limit(L, t, "time", bo_limits_default.wall_ms / 1000,
                                                bo_limits_max.wall_ms / 1000, where);
        info->max_body = opt_limit(L, t, "body", BO_DEFAULT_MAX_BODY, 1024ULL * 1024 * 1024, where);
        info->max_streams = (unsigned)opt_limit(L, t, "streams", BO_DEFAULT_MAX_STREAMS, BO_MAX_STREAMS_MAX, where);
    }
    lua_pop(L, 1);
}

static int method_of(const char *name)
{
    static const struct { const char *name; int method; } methods[] = {
        { "GET", HTTP_GET }, { "POST", HTTP_POST }, { "PUT", HTTP_PUT },
        { "PATCH", HTTP_PATCH }, { "DELETE", HTTP_DELETE }, { "HEAD", HTTP_HEAD },
        { "OPTIONS", HTTP_OPTIONS },
    };
    for (size_t i = 0; i < BO_COUNT(methods); i++)
        if (strcmp(methods[i].name, name) == 0)
            return methods[i].method;
    return -1;
}

/* Compiles app.routes (index 1 is the app); runs in protected mode. */
static void compile_routes(lua_State *L, load_ctx *c, const char *where)
{
    bo_gen *g = c->g;
    if (lua_getfield(L, 1, "routes") != LUA_TTABLE)
        luaL_error(L, "%s: the app has no route table (was it made by borough.app?)", where);
    int routes = lua_gettop(L);
    lua_Integer n = luaL_len(L, routes);
    g->route_opts = bo_calloc((size_t)n + 1, sizeof *g->route_opts);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, routes, i);
        int r = lua_gettop(L);
        lua_getfield(L, r, "method");
        lua_getfield(L, r, "pattern");
        lua_getfield(L, r, "where");
        const char *method = lua_tostring(L, -3), *pattern = lua_tostring(L, -2);
        const char *at = lua_tostring(L, -1) && *lua_tostring(L, -1) ? lua_tostring(L, -1) : where;
        int m = method ? method_of(method) : -1;
        if (m < 0 || !pattern)
            luaL_error(L, "%s: malformed route entry %d", where, (int)i);
        bool start = m == HTTP_GET && strcmp(pattern, "/") == 0;
        char why[256];
        if (bo_routes_add(&g->routes, m, pattern, (int)g->nroutes, why, sizeof why) < 0)
            luaL_error(L, "%s %s", at, why);
        lua_pop(L, 3);

        bo_gen_route *ro = &g->route_opts[g->nroutes++];
        ro->where = bo_strdup(at);
        ro->public_ = c->info->public_;
        ro->csrf = true;
        ro->max_body = c->info->max_body;
        if (lua_getfield(L, r, "opts") == LUA_TTABLE) {
            int o = lua_gettop(L);
            if (lua_getfield(L, o, "public") != LUA_TNIL)
                ro->public_ = lua_toboolean(L, -1);
            if (lua_getfield(L, o, "csrf") != LUA_TNIL)
                ro->csrf = lua_toboolean(L, -1);
            /* token: set by borough.feed, never by an app's own route */
            if (lua_getfield(L, o, "token") != LUA_TNIL && (ro->token = lua_toboolean(L, -1)))
                ro->public_ = false;
            int rt = lua_getfield(L, o, "role");
            if (rt == LUA_TSTRING || rt == LUA_TTABLE) {
                /* "assessor", or { "assessor", "manager" }: kept as
                   "assessor manager" (names checked by borough.app). A
                   route with a role is never public. */
                bo_buf roles;
                bo_buf_init(&roles);
                lua_Integer nroles = rt == LUA_TTABLE ? luaL_len(L, -1) : 1;
                for (lua_Integer k = 1; k <= nroles; k++) {
                    if (rt == LUA_TTABLE)
                        lua_rawgeti(L, -1, k);
                    else
                        lua_pushvalue(L, -1);
                    if (lua_type(L, -1) == LUA_TSTRING) {
                        if (roles.len)
                            bo_buf_putc(&roles, ' ');
                        bo_buf_puts(&roles, lua_tostring(L, -1));
                    }
                    lua_pop(L, 1);
                }
                bo_buf_putc(&roles, '\0');
                if (roles.len > 1) {
                    ro->role = bo_strdup(roles.data);
                    ro->public_ = false;
                }
                bo_buf_free(&roles);
            }
            if (lua_getfield(L, o, "max_body") != LUA_TNIL) {
                lua_Integer mb = lua_tointeger(L, -1);
                if (mb <= 0)
                    luaL_error(L, "%s max_body must be a positive number of bytes", at);
                ro->max_body = (size_t)mb;
            }
            lua_pop(L, 5);
        }
        lua_pop(L, 1);
        if (c->fill_info && start)
            c->info->open_start = ro->public_;      /* the front door lists the app */
        if (lua_getfield(L, r, "handler") != LUA_TFUNCTION)
            luaL_error(L, "%s the handler must be a function", at);
        ro->handler_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* Message handler: keeps the message, adds nothing (tracebacks go to the log
   at debug level only). */
static int load_msgh(lua_State *L)
{
    if (!lua_isstring(L, 1))
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    return 1;
}

static int run_app(lua_State *L)
{
    load_ctx *c = lua_touserdata(L, 1);
    bo_gen *g = c->g;
    lua_settop(L, 0);
    bo_lapi_open_libs(L, g->paths->libs);

    lua_pushstring(L, c->info->name);
    lua_setfield(L, LUA_REGISTRYINDEX, "bo.app_name");

    /* The Lua half of the platform: borough.app and friends. */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "borough");
    lua_call(L, 1, 0);

    lua_pushfstring(L, "%s/app.lua", c->info->dir); /* 1: where, for messages */
    int status = bo_sandbox_load_app_file(L, "app.lua");
    if (status != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, 1);
    if (!lua_istable(L, -1) || lua_getfield(L, -1, "routes") != LUA_TTABLE)
        luaL_error(L, "%s: must end with `return app`, the app made by borough.app{...}",
                   lua_tostring(L, 1));
    lua_pop(L, 1);
    /* The platform's work once app.lua has run (compiling the views). */
    lua_getglobal(L, "borough");
    if (lua_getfield(L, -1, "_loaded") == LUA_TFUNCTION) {
        lua_pushvalue(L, -3);
        lua_call(L, 1, 0);
    } else {
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_insert(L, 1);                               /* 1: the app, 2: where */
    lua_settop(L, 2);
    const char *where = lua_tostring(L, 2);
    if (c->fill_info)
        read_manifest(L, c, where);
    compile_routes(L, c, where);
    bo_lentity_load(L, g);          /* the database in step with the app's entities and migrations */
    bo_jobs_load(L, 1, g);          /* app:job and app:every */
    g->sb.limits = c->info->limits;
    g->sb.mem_limit = c->info->limits.memory;
    return 0;
}

int bo_gen_load(bo_gen **out, bo_app_info *info, const bo_paths *paths, bool primary,
                bool fill_info, char *err, size_t errlen)
{
    *out = NULL;
    bo_gen *g = bo_calloc(1, sizeof *g);
    g->info = bo_app_info_ref(info);
    g->paths = paths;
    g->primary = primary;
    bo_routes_init(&g->routes);
    g->db_path = bo_sprintf("%s/%s/app.db", paths->data_dir, info->name);

    /* db.dialect is set as the state opens: a command has not opened a
       database yet (a bad URL is reported by the first open) */
    char ignored[256];
    bo_db_located(paths->data_dir, ignored, sizeof ignored);
    int rc = bo_sandbox_open(&g->sb, &info->limits, info->dir, paths->lib_dir);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot create a Lua state: %s", info->dir, bo_strerror(rc));
        goto fail;
    }
    g->sb.owner = g;
    g->sb.snapshot = info->snapshot;
    g->judging = fill_info;
    lua_State *L = g->sb.L;

    bo_limits load_limits = info->limits;
    load_limits.instructions *= LOAD_INSTRUCTION_FACTOR;
    load_limits.wall_ms = LOAD_WALL_MS;
    bo_budget budget;
    bo_budget_start(&budget, &load_limits);
    bo_budget *previous = bo_sandbox_enter(&g->sb, &budget);

    load_ctx c = { g, info, fill_info, err, errlen };
    lua_pushcfunction(L, load_msgh);
    lua_pushcfunction(L, run_app);
    lua_pushlightuserdata(L, &c);
    int status = lua_pcall(L, 1, 0, 1);
    bo_sandbox_leave(&g->sb, previous);
    g->judging = false;
    if (status != LUA_OK) {
        if (status == LUA_ERRMEM)       /* Lua's message for it names no file */
            snprintf(err, errlen, "%s/app.lua: not enough memory while loading the app (limits.memory)",
                     info->dir);
        else
            snprintf(err, errlen, "%s", lua_tostring(L, -1));
        rc = status == LUA_ERRMEM ? BO_ENOMEM : BO_ELUA;
        goto fail;
    }
    lua_settop(L, 0);
    char *static_dir = bo_sprintf("%s/static", info->dir);
    g->static_root = realpath(static_dir, NULL);
    free(static_dir);
    *out = g;
    return 0;
fail:
    bo_gen_free(g);
    return rc < 0 ? rc : BO_ELUA;
}

void bo_gen_free(bo_gen *g)
{
    if (!g)
        return;
    if (g->db)
        bo_ldb_abandon(g);
    /* The Lua state goes first: finalizers may still use the database.
       Cached statements then need no unref in a state that is gone. */
    bo_sandbox_close(&g->sb);
    if (g->db)
        bo_db_on_evict(g->db, NULL, NULL);
    bo_db_close(g->db);
    bo_db_close(g->platform_db);
    bo_routes_free(&g->routes);
    bo_jobs_gen_free(g);
    for (unsigned i = 0; i < g->nroutes; i++) {
        free(g->route_opts[i].role);
        free(g->route_opts[i].where);
    }
    free(g->route_opts);
    free(g->pool);
    free(g->pool_refs);
    free(g->db_path);
    free(g->static_root);
    bo_app_info_unref(g->info);
    free(g);
}

bo_db *bo_gen_db(bo_gen *g, char *err, size_t errlen)
{
    if (!g->db && bo_db_open_app(&g->db, g->paths->data_dir, g->info->name, BO_DB_APP | BO_DB_CREATE, err,
                                 errlen) < 0)
        return NULL;
    return g->db;
}

bo_db *bo_gen_platform_db(bo_gen *g, char *err, size_t errlen)
{
    if (!g->platform_db && bo_platformdb_open(&g->platform_db, g->paths->data_dir, err, errlen) < 0)
        return NULL;
    return g->platform_db;
}

lua_State *bo_gen_thread(bo_gen *g, int *ref)
{
    if (g->npool > 0) {
        g->npool--;
        *ref = g->pool_refs[g->npool];
        return g->pool[g->npool];
    }
    lua_State *L = g->sb.L;
    lua_State *co = lua_newthread(L);
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    bo_sandbox_mark_request_thread(L, co);
    return co;
}

void bo_gen_thread_release(bo_gen *g, lua_State *co, int ref, bool clean)
{
    if (clean && lua_status(co) == LUA_OK && g->npool < POOL_MAX) {
        lua_settop(co, 0);
        if (!g->pool) {
            g->pool = bo_malloc(sizeof *g->pool * POOL_MAX);
            g->pool_refs = bo_malloc(sizeof *g->pool_refs * POOL_MAX);
        }
        g->pool[g->npool] = co;
        g->pool_refs[g->npool] = ref;
        g->npool++;
        return;
    }
    lua_resetthread(co);
    luaL_unref(g->sb.L, LUA_REGISTRYINDEX, ref);
}

char *bo_app_site_dir(const char *lib_dir)
{
    return bo_sprintf("%s/%s", lib_dir, BO_SITE_DIR);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int bo_app_scan(const char *apps_dir, char ***dirs, char *err, size_t errlen)
{
    *dirs = NULL;
    DIR *d = opendir(apps_dir);
    if (!d) {
        snprintf(err, errlen, "cannot open the apps folder %s: %s", apps_dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *path = bo_sprintf("%s/%s/app.lua", apps_dir, e->d_name);
        struct stat st;
        bool is_app = stat(path, &st) == 0 && S_ISREG(st.st_mode);
        free(path);
        if (!is_app)
            continue;
        names = bo_realloc(names, sizeof *names * (size_t)(n + 1));
        names[n++] = bo_strdup(e->d_name);
    }
    closedir(d);
    if (n > 1)                  /* names is NULL when there are none */
        qsort(names, (size_t)n, sizeof *names, compare_names);
    size_t len = strlen(apps_dir);
    while (len > 1 && apps_dir[len - 1] == '/')
        len--;
    for (int i = 0; i < n; i++) {
        char *full = bo_sprintf("%.*s/%s", (int)len, apps_dir, names[i]);
        free(names[i]);
        names[i] = full;
    }
    *dirs = names;
    return n;
}
