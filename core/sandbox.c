/*
 * sandbox.c - the Lua state an app runs in (see sandbox.h).
 *
 * Memory: lua_newstate() gets a counting allocator that refuses to grow past
 * the cap, which Lua turns into an ordinary "not enough memory" error after
 * an emergency collection.
 *
 * Time: a count hook fires every HOOK_EVERY VM instructions (new threads
 * inherit it) and charges the current budget; pattern matching charges its
 * steps through bo_sandbox_charge(). When a budget is spent the hook raises
 * an error and re-arms itself to fire after every instruction, so code that
 * catches the error (pcall) cannot carry on: the very next instruction
 * raises again, until the error reaches the request's top level. Hooks are
 * per thread, so the coroutine library checks the budget each time a
 * coroutine gives control back, and re-arms the hook of the thread that
 * resumed it.
 *
 * The hook never fires inside a C function, so the library functions whose
 * work is not bounded by the size of their result are metered too:
 * table.move, insert, remove and sort charge the elements they touch, and
 * string.rep of an empty string returns at once.
 *
 * Finalizers: Lua runs __gc metamethods with hooks off, so a finalizer
 * would run outside every budget (a loop in one would hang the worker).
 * App code therefore cannot make an object finalizable: setmetatable
 * refuses a metatable with a __gc field, and a metatable that platform C
 * code set (a request's, a row's, a JSON mark) is guarded before
 * getmetatable hands it out, so that no __gc can be added to it and then
 * given to new objects. Objects are marked for finalization only when
 * their metatable is set, so a __gc added later to an app's own metatable
 * does nothing.
 *
 * Lua also calls an xpcall message handler with hooks off when the error
 * came from the hook, so xpcall runs its handler after the error has
 * unwound, as a pcall followed by a call would.
 *
 * Libraries: base (without dofile, loadfile, and with load limited to text),
 * string (without dump, with metered patterns), table, math, utf8, coroutine
 * (wrapped so platform waits pass through app coroutines, and a request's own
 * coroutine cannot be resumed or closed by app code) and os.time/date/clock.
 * require() resolves dotted names to files in the app folder, then lua/;
 * names under "borough." only in lua/.
 */
#include "sandbox.h"
#include "log.h"
#include "lpattern.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define HOOK_EVERY 1000
#define MAX_SOURCE (16 * 1024 * 1024)

const bo_limits bo_limits_default = {
    .memory = 64 * 1024 * 1024,
    .instructions = 50 * 1000 * 1000,
    .wall_ms = 30 * 1000,
};

const bo_limits bo_limits_max = {
    .memory = 1024 * 1024 * 1024,
    .instructions = 2000 * 1000 * 1000,
    .wall_ms = 10 * 60 * 1000,
};

static const char yield_sentinel = 0;
static const char request_threads_key = 0;
static const char loaded_key = 0;
static const char app_metatables_key = 0;
static const char guard_key = 0;

/* ---- memory ---- */

static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    bo_sandbox *sb = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        if (ptr)
            bo_pool_free(&sb->pool, ptr, osize);
        sb->mem_used -= old;
        return NULL;
    }
    if (nsize > old && sb->mem_used - old + nsize > sb->mem_limit)
        return NULL;
    void *p = ptr ? bo_pool_realloc(&sb->pool, ptr, osize, nsize) : bo_pool_alloc(&sb->pool, nsize);
    if (!p)
        return NULL;
    sb->mem_used = sb->mem_used - old + nsize;
    if (sb->mem_used > sb->mem_peak)
        sb->mem_peak = sb->mem_used;
    return p;
}

bo_sandbox *bo_sandbox_of(lua_State *L)
{
    void *ud;
    return lua_getallocf(L, &ud) == sandbox_alloc ? ud : NULL;
}

/* ---- budgets ---- */

void bo_budget_start(bo_budget *b, const bo_limits *limits)
{
    b->used = 0;
    b->max = limits->instructions;
    b->deadline_ns = limits->wall_ms ? uv_hrtime() + limits->wall_ms * 1000000ULL : 0;
    b->spent = NULL;
}

bo_budget *bo_sandbox_enter(bo_sandbox *sb, bo_budget *b)
{
    bo_budget *previous = sb->budget;
    sb->budget = b;
    return previous;
}

void bo_sandbox_leave(bo_sandbox *sb, bo_budget *previous)
{
    sb->budget = previous ? previous : &sb->idle;
    sb->idle.used = 0;
}

static void count_hook(lua_State *L, lua_Debug *ar);

/* Records what ran out; returns the reason if the budget is spent. */
static const char *judge(bo_budget *b)
{
    if (!b->spent) {
        if (b->used > b->max)
            b->spent = "the code ran too many instructions (limits.instructions)";
        else if (b->deadline_ns && uv_hrtime() > b->deadline_ns)
            b->spent = "the code ran for too long (limits.time)";
    }
    return b->spent;
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    BO_UNUSED(ar);
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_budget *b = sb->budget;
    int every = lua_gethookcount(L);
    b->used += (uint64_t)every;
    const char *spent = judge(b);
    if (spent) {
        lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
        /* A hook has no frame of its own: level 0 is the Lua code running. */
        luaL_where(L, 0);
        lua_pushstring(L, spent);
        lua_concat(L, 2);
        lua_error(L);
    } else if (every != HOOK_EVERY) {
        lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
    }
}

void bo_sandbox_charge(lua_State *L, unsigned steps)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    if (!sb)
        return;
    sb->budget->used += steps;
    const char *spent = judge(sb->budget);
    if (spent) {
        lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "%s", spent);
    }
}

/* Charges work that may be far larger than one charge can say. */
static void charge_wide(lua_State *L, uint64_t steps)
{
    bo_sandbox_charge(L, steps > UINT_MAX ? UINT_MAX : (unsigned)steps);
}

bool bo_sandbox_over_budget(bo_sandbox *sb, unsigned steps)
{
    sb->budget->used += steps;
    return judge(sb->budget) != NULL;
}

void bo_sandbox_poison(lua_State *co, const char *reason)
{
    bo_sandbox *sb = bo_sandbox_of(co);
    if (sb && !sb->budget->spent)
        sb->budget->spent = reason;
    lua_sethook(co, count_hook, LUA_MASKCOUNT, 1);
}

/* ---- loading source ---- */

int bo_sandbox_load(lua_State *L, const char *chunk, size_t len, const char *chunkname)
{
    if (len >= 3 && memcmp(chunk, "\xEF\xBB\xBF", 3) == 0)
        chunk += 3, len -= 3;
    return luaL_loadbufferx(L, chunk, len, chunkname, "t");
}

/* Reads a whole file; returns a malloc'd buffer or NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_SOURCE) {
        if (errno == 0 || S_ISDIR(st.st_mode))
            errno = S_ISDIR(st.st_mode) ? EISDIR : EFBIG;
        close(fd);
        return NULL;
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = bo_malloc(n + 1);
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
}

int bo_sandbox_loadfile(lua_State *L, const char *path, const char *chunkname)
{
    size_t len;
    char *src = read_file(path, &len);
    if (!src) {
        lua_pushfstring(L, "cannot read %s: %s", path, strerror(errno));
        return LUA_ERRFILE;
    }
    int status = bo_sandbox_load(L, src, len, chunkname);   /* protected: no longjmp */
    free(src);
    return status;
}

/* ---- require ---- */

/* Module names are dotted identifiers: nothing that could leave a folder. */
static bool valid_module_name(const char *name, size_t len)
{
    if (len == 0 || len > 200 || name[0] == '.' || name[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ident = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '-';
        if (!ident && !(c == '.' && name[i + 1] != '.'))
            return false;
    }
    return true;
}

/* Pushes the file name for a module under dir, or nothing; returns found.
   With a snapshot, the app folder's modules are looked up in it: then the
   name pushed is relative to the app folder. */
static bool find_module(lua_State *L, const char *dir, const char *name, const bo_snapshot *snap)
{
    static const char *const forms[] = { "%s/%s.lua", "%s/%s/init.lua" };
    static const char *const rel_forms[] = { "%s.lua", "%s/init.lua" };
    char rel[256];
    size_t n = strlen(name);
    memcpy(rel, name, n + 1);
    for (size_t i = 0; i < n; i++)
        if (rel[i] == '.')
            rel[i] = '/';
    for (size_t i = 0; i < BO_COUNT(forms); i++) {
        if (snap) {
            const char *path = lua_pushfstring(L, rel_forms[i], rel);
            if (bo_snapshot_find(snap, path))
                return true;
            lua_pop(L, 1);
            continue;
        }
        const char *path = lua_pushfstring(L, forms[i], dir, rel);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            return true;
        lua_pop(L, 1);
    }
    return false;
}

int bo_sandbox_load_app_file(lua_State *L, const char *rel)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    const char *chunk = lua_pushfstring(L, "@%s/%s", sb->app_dir, rel);
    int status;
    if (sb->snapshot) {
        const bo_snapshot_file *f = bo_snapshot_find(sb->snapshot, rel);
        if (f)
            status = bo_sandbox_load(L, f->data, f->len, chunk);
        else {
            lua_pushfstring(L, "cannot read %s/%s: No such file or directory", sb->app_dir, rel);
            status = LUA_ERRFILE;
        }
    } else {
        status = bo_sandbox_loadfile(L, chunk + 1, chunk);
    }
    lua_remove(L, -2);                                      /* the chunk name */
    return status;
}

static int sb_require(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    bo_sandbox *sb = bo_sandbox_of(L);
    lua_settop(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &loaded_key);          /* 2: loaded */
    lua_getfield(L, 2, name);
    if (lua_toboolean(L, -1)) {
        if (lua_islightuserdata(L, -1) && lua_touserdata(L, -1) == (void *)&loaded_key)
            return luaL_error(L, "module '%s' requires itself (a require loop)", name);
        return 1;
    }
    lua_pop(L, 1);
    if (!valid_module_name(name, len))
        return luaL_error(L, "invalid module name '%s' (use dotted names like \"models\" or \"lib.money\")", name);

    bool platform = strncmp(name, "borough.", 8) == 0;
    bool in_app = !platform && find_module(L, sb->app_dir, name, sb->snapshot);
    if (!in_app && !find_module(L, sb->lib_dir, name, NULL))
        return luaL_error(L, "module '%s' not found in %s%s", name, platform ? "" : sb->app_dir,
                          platform ? sb->lib_dir : " or the platform library");
    int status;                                             /* 3: file */
    if (in_app && sb->snapshot) {
        status = bo_sandbox_load_app_file(L, lua_tostring(L, 3));
        lua_pushfstring(L, "%s/%s", sb->app_dir, lua_tostring(L, 3));
        lua_replace(L, 3);                                  /* the file, as on disk */
    } else {
        const char *path = lua_tostring(L, -1);
        lua_pushfstring(L, "@%s", path);
        status = bo_sandbox_loadfile(L, path, lua_tostring(L, -1));
        lua_remove(L, -2);                                  /* the chunk name */
    }
    if (status != LUA_OK)
        return lua_error(L);
    lua_pushlightuserdata(L, (void *)&loaded_key);          /* marks "loading" */
    lua_setfield(L, 2, name);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 3);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        lua_pushnil(L);                     /* forget "loading" so a retry reloads */
        lua_setfield(L, 2, name);
        return lua_error(L);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, 2, name);
    return 1;
}

/* ---- replaced base functions ---- */

/* Runs the wrapped library function (upvalue 1, a C function that uses no
   upvalues) in this call's own frame, so that its errors name the function
   and the caller's line as if the app had called it directly. */
static int call_wrapped(lua_State *L)
{
    lua_CFunction fn = lua_tocfunction(L, lua_upvalueindex(1));
    return fn(L);
}

/* load(chunk [, chunkname [, mode [, env]]]) with mode always "t". An
   absent env stays absent (load tells none from nil). */
static int sb_load(lua_State *L)
{
    if (lua_gettop(L) < 3)
        lua_settop(L, 3);
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    return call_wrapped(L);
}

/* xpcall's second half (and its continuation after a yield): on success
   returns true and the results; on an error calls the message handler with
   it, now that it has unwound, and returns false and what the handler gave
   ("error in error handling" if it failed; as in Lua, a memory error is
   returned as it is). A spent budget is raised again at once, with its
   first message, without running the handler. */
static int xpcall_done(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(ctx);
    if (status == LUA_OK || status == LUA_YIELD)
        return lua_gettop(L) - 2;           /* true and the results */
    bo_sandbox *sb = bo_sandbox_of(L);
    if (sb->budget->spent)
        return lua_error(L);
    lua_pushvalue(L, 2);
    lua_insert(L, -2);
    if (status == LUA_ERRMEM) {             /* as in Lua: no handler for it */
        lua_remove(L, -2);
    } else if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        if (sb->budget->spent)
            return lua_error(L);
        lua_pop(L, 1);
        lua_pushliteral(L, "error in error handling");
    }
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

/* xpcall(f, msgh, ...): Lua calls the handler where the error was raised,
   which for an error raised by the count hook is inside the hook, where
   hooks are off: a handler that looped would never be stopped. This one
   calls it once the error has unwound, which app code (without the debug
   library) cannot tell apart. */
static int sb_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushboolean(L, 1);                  /* the first result if all goes well */
    lua_pushvalue(L, 1);
    lua_rotate(L, 3, 2);                    /* f, msgh, true, f, args... */
    return xpcall_done(L, lua_pcallk(L, n - 2, LUA_MULTRET, 0, 0, xpcall_done), 0);
}

static int sb_print(lua_State *L)
{
    luaL_Buffer b;
    int n = lua_gettop(L);
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    lua_getfield(L, LUA_REGISTRYINDEX, "bo.app_name");
    bo_log(BO_LOG_INFO, lua_tostring(L, -1), "%s", lua_tostring(L, -2));
    return 0;
}

/* collectgarbage("count" | "collect" | "step"): nothing that tunes or stops it. */
static int sb_collectgarbage(lua_State *L)
{
    static const char *const opts[] = { "collect", "count", "step", NULL };
    int o = luaL_checkoption(L, 1, "collect", opts);
    switch (o) {
    case 0:
        lua_gc(L, LUA_GCCOLLECT);
        lua_pushinteger(L, 0);
        return 1;
    case 1: {
        int kb = lua_gc(L, LUA_GCCOUNT), b = lua_gc(L, LUA_GCCOUNTB);
        lua_pushnumber(L, (lua_Number)kb + (lua_Number)b / 1024);
        return 1;
    }
    default:
        lua_pushboolean(L, lua_gc(L, LUA_GCSTEP, 0));
        return 1;
    }
}

/* ---- metatables without finalizers (see the top of the file) ---- */

static bool is_app_metatable(lua_State *L, int mt)
{
    mt = lua_absindex(L, mt);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &app_metatables_key);
    lua_pushvalue(L, mt);
    bool mine = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 2);
    return mine;
}

static bool is_guarded(lua_State *L, int t)
{
    if (!lua_getmetatable(L, t))
        return false;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &guard_key);
    bool guarded = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return guarded;
}

static int no_finalizers(lua_State *L)
{
    return luaL_error(L, "__gc metamethods are not available to apps (finalizers would run outside the "
                         "request's limits)");
}

/* setmetatable(t, mt): Lua's, but refuses a metatable with a __gc field and
   notes mt as the app's own. */
static int sb_setmetatable(lua_State *L)
{
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    if (t == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return no_finalizers(L);
        lua_pop(L, 1);
        lua_rawgetp(L, LUA_REGISTRYINDEX, &app_metatables_key);
        lua_pushvalue(L, 2);
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
    lua_setmetatable(L, 1);
    return 1;
}

/* getmetatable(v): Lua's, but a table's or userdata's metatable that the
   app did not set itself is guarded first. */
static int sb_getmetatable(lua_State *L)
{
    luaL_checkany(L, 1);
    if (!lua_getmetatable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return 1;
    int type = lua_type(L, 1);
    if ((type == LUA_TTABLE || type == LUA_TUSERDATA) && !is_app_metatable(L, 2) &&
        !lua_getmetatable(L, 2)) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &guard_key);
        lua_setmetatable(L, 2);
    }
    lua_settop(L, 2);
    return 1;
}

/* The guard's __newindex: a guarded metatable takes any new field but __gc. */
static int guard_newindex(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "__gc") == 0)
        return no_finalizers(L);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 0;
}

/* rawset(t, k, v): Lua's, but not __gc into a guarded metatable. */
static int sb_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "__gc") == 0 && is_guarded(L, 1))
        return no_finalizers(L);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* ---- C functions whose work the count hook cannot see ---- */

/* string.rep(s, n [, sep]): Lua's copies an empty string n times, one empty
   copy at a time, so ("").rep(2^62) would never end. */
static int sb_rep(lua_State *L)
{
    size_t l, lsep;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || (l == 0 && (lsep == 0 || n == 1))) {
        lua_pushliteral(L, "");
        return 1;
    }
    return call_wrapped(L);     /* at least n bytes: bounded by the memory cap */
}

/* The length of the table argument, if it is a table (else the wrapped
   function raises its own error). */
static lua_Integer table_len(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TTABLE ? luaL_len(L, idx) : 0;
}

/* table.move(a1, f, e, t [, a2]): e - f + 1 elements, whatever a1 holds. */
static int sb_table_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
    if (e >= f)
        charge_wide(L, (uint64_t)e - (uint64_t)f + 1);
    return call_wrapped(L);
}

/* table.insert(t, pos, v) and table.remove(t, pos) shift the elements
   after pos; the forms at the end are cheap. */
static int sb_table_insert(lua_State *L)
{
    if (lua_gettop(L) >= 3)
        charge_wide(L, (uint64_t)table_len(L, 1));
    return call_wrapped(L);
}

static int sb_table_remove(lua_State *L)
{
    if (lua_gettop(L) >= 2)
        charge_wide(L, (uint64_t)table_len(L, 1));
    return call_wrapped(L);
}

/* table.sort(t [, comp]): about n log2 n comparisons (a comparator written
   in Lua is metered as well, as it runs). */
static int sb_table_sort(lua_State *L)
{
    lua_Integer n = table_len(L, 1);
    uint64_t steps = 0;
    for (lua_Integer k = n; k > 1; k >>= 1)
        steps += (uint64_t)n;
    charge_wide(L, steps);
    return call_wrapped(L);
}

/* Replaces t[name] (t at the top of the stack) with fn wrapping it. */
static void wrap_field(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, name);
}

static void warn_to_log(void *ud, const char *msg, int tocont)
{
    BO_UNUSED(ud);
    BO_UNUSED(tocont);
    if (msg[0] != '@')   /* control messages ("@on") are not warnings */
        bo_log(BO_LOG_WARN, NULL, "lua: %s", msg);
}

/* ---- the coroutine library ---- */

/* check_budget(ok, err), after a coroutine gave control back: if the
   budget ran out meanwhile, arms the count hook of the calling thread (hooks
   are per thread) and raises, with err if the coroutine ended with one. */
static int sb_check_budget(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    if (!sb->budget->spent)
        return 0;
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    if (lua_toboolean(L, 1) || lua_type(L, 2) != LUA_TSTRING)
        lua_pushstring(L, sb->budget->spent);
    return lua_error(L);
}

/* abandon_wait(): a platform function in an app's coroutine recorded a
   wait, but the coroutine that resumed it cannot yield (inside db.tx, a
   metamethod or an iterator), so the wait never reaches the request: its
   operation is abandoned, so that its end wakes nothing later. */
static int sb_abandon_wait(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    if (sb->task && sb->abandon_wait)
        sb->abandon_wait(sb->task);
    return 0;
}

/* The coroutine library as apps see it; runs once per state with the
   original functions, the yield sentinel, the request-thread set,
   check_budget and abandon_wait. */
static const char coroutine_wrapper[] =
    "local sentinel, request_threads, check_budget, abandon_wait = ...\n"
    "local create, resume, yield, status, close = coroutine.create, coroutine.resume,\n"
    "  coroutine.yield, coroutine.status, coroutine.close\n"
    "local isyieldable = coroutine.isyieldable\n"
    "local error, type, format = error, type, string.format\n"
    "local function expect(v, want, fn)\n"
    "  if type(v) ~= want then\n"
    "    error(format(\"bad argument #1 to '%s' (%s expected, got %s)\", fn,\n"
    "      want == 'thread' and 'coroutine' or want, type(v)), 3)\n"
    "  end\n"
    "end\n"
    "local function pass(co, ok, ...)\n"
    "  check_budget(ok, (...))\n"
    "  if ok and ... == sentinel and status(co) == 'suspended' then\n"
    "    if not isyieldable() then\n"
    "      abandon_wait()\n"
    "      error('cannot wait here: a coroutine waited (borough.sleep, http.request) inside db.tx, '\n"
    "        .. 'a metamethod or an iterator', 0)\n"
    "    end\n"
    "    return pass(co, resume(co, yield(...)))\n"
    "  end\n"
    "  return ok, ...\n"
    "end\n"
    "local function closed(ok, ...)\n"
    "  check_budget(ok, (...))\n"
    "  return ok, ...\n"
    "end\n"
    "local function guarded_resume(co, ...)\n"
    "  expect(co, 'thread', 'resume')\n"
    "  if request_threads[co] then return false, \"cannot resume a request's own coroutine\" end\n"
    "  return pass(co, resume(co, ...))\n"
    "end\n"
    "coroutine.resume = guarded_resume\n"
    "coroutine.close = function(co)\n"
    "  expect(co, 'thread', 'close')\n"
    "  if request_threads[co] then error(\"cannot close a request's own coroutine\", 2) end\n"
    "  return closed(close(co))\n"
    "end\n"
    "coroutine.wrap = function(f)\n"
    "  expect(f, 'function', 'wrap')\n"
    "  local co = create(f)\n"
    "  local function check(ok, ...)\n"
    "    if not ok then\n"
    "      if status(co) == 'dead' then close(co) end\n"
    "      error((...), 0)\n"
    "    end\n"
    "    return ...\n"
    "  end\n"
    "  return function(...) return check(guarded_resume(co, ...)) end\n"
    "end\n";

void bo_sandbox_push_sentinel(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&yield_sentinel);
}

bool bo_sandbox_is_sentinel(lua_State *L, int idx)
{
    return lua_islightuserdata(L, idx) && lua_touserdata(L, idx) == (void *)&yield_sentinel;
}

void bo_sandbox_mark_request_thread(lua_State *L, lua_State *co)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &request_threads_key);
    lua_pushthread(co);
    lua_xmove(co, L, 1);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

static void open_lib(lua_State *L, const char *name, lua_CFunction open)
{
    luaL_requiref(L, name, open, 1);
    lua_pop(L, 1);
}

static void remove_field(lua_State *L, int table, const char *name)
{
    table = lua_absindex(L, table);
    lua_pushnil(L);
    lua_setfield(L, table, name);
}

/* Builds the environment; run under lua_pcall. */
/* bo_meter's charge: the sandbox's current budget. */
static const char *meter_charge(bo_meter *m, unsigned steps)
{
    bo_sandbox *sb = (bo_sandbox *)((char *)m - offsetof(bo_sandbox, meter));
    return bo_sandbox_over_budget(sb, steps) ? sb->budget->spent : NULL;
}

static int setup(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    sb->meter.charge = meter_charge;
    sb->meter.charge_or_raise = bo_sandbox_charge;
    bo_meter_install(L, &sb->meter);
    open_lib(L, LUA_GNAME, luaopen_base);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    open_lib(L, LUA_UTF8LIBNAME, luaopen_utf8);
    open_lib(L, LUA_COLIBNAME, luaopen_coroutine);

    lua_pushglobaltable(L);
    int g = lua_gettop(L);
    remove_field(L, g, "dofile");
    remove_field(L, g, "loadfile");
    remove_field(L, g, "warn");
    lua_getfield(L, g, "load");
    lua_pushcclosure(L, sb_load, 1);
    lua_setfield(L, g, "load");
    lua_pushcfunction(L, sb_print);
    lua_setfield(L, g, "print");
    lua_pushcfunction(L, sb_collectgarbage);
    lua_setfield(L, g, "collectgarbage");
    lua_pushcfunction(L, sb_require);
    lua_setfield(L, g, "require");
    lua_pushcfunction(L, sb_setmetatable);
    lua_setfield(L, g, "setmetatable");
    lua_pushcfunction(L, sb_getmetatable);
    lua_setfield(L, g, "getmetatable");
    lua_pushcfunction(L, sb_rawset);
    lua_setfield(L, g, "rawset");
    lua_pushcfunction(L, sb_xpcall);
    lua_setfield(L, g, "xpcall");

    lua_newtable(L);                          /* the app's own metatables, weak keys */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &app_metatables_key);
    lua_createtable(L, 0, 2);                 /* the guard of platform metatables */
    lua_pushcfunction(L, guard_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "a platform metatable");
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &guard_key);

    lua_getfield(L, g, "string");
    remove_field(L, -1, "dump");
    bo_lpattern_install(L);
    wrap_field(L, "rep", sb_rep);
    lua_pop(L, 1);

    lua_getfield(L, g, "table");
    wrap_field(L, "move", sb_table_move);
    wrap_field(L, "insert", sb_table_insert);
    wrap_field(L, "remove", sb_table_remove);
    wrap_field(L, "sort", sb_table_sort);
    lua_pop(L, 1);

    /* os: only the clock and calendar functions. */
    luaopen_os(L);
    lua_createtable(L, 0, 3);
    lua_getfield(L, -2, "time");
    lua_setfield(L, -2, "time");
    lua_getfield(L, -2, "date");
    lua_setfield(L, -2, "date");
    lua_getfield(L, -2, "clock");
    lua_setfield(L, -2, "clock");
    lua_setfield(L, g, "os");
    lua_pop(L, 1);

    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &loaded_key);

    lua_newtable(L);                          /* request threads, weak keys */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &request_threads_key);
    if (luaL_loadbufferx(L, coroutine_wrapper, sizeof coroutine_wrapper - 1, "=coroutine", "t"))
        return lua_error(L);
    bo_sandbox_push_sentinel(L);
    lua_pushvalue(L, -3);
    lua_pushcfunction(L, sb_check_budget);
    lua_pushcfunction(L, sb_abandon_wait);
    lua_call(L, 4, 0);
    lua_pop(L, 1);
    return 0;
}

int bo_sandbox_open(bo_sandbox *sb, const bo_limits *limits, const char *app_dir,
                    const char *lib_dir)
{
    memset(sb, 0, sizeof *sb);
    sb->limits = *limits;
    sb->mem_limit = limits->memory;
    sb->idle.max = limits->instructions;
    sb->budget = &sb->idle;
    sb->app_dir = bo_strdup(app_dir);
    sb->lib_dir = bo_strdup(lib_dir);
    lua_State *L = lua_newstate(sandbox_alloc, sb);
    if (!L)
        goto err;
    sb->L = L;
    lua_setwarnf(L, warn_to_log, sb);
    lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
    /* Requests make short-lived garbage: young collections find it cheaply. */
    lua_gc(L, LUA_GCGEN, 0, 0);
    lua_pushcfunction(L, setup);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK)
        goto err;
    return 0;
err:
    bo_sandbox_close(sb);
    return BO_ENOMEM;
}

void bo_sandbox_close(bo_sandbox *sb)
{
    if (sb->L) {
        /* Finalizers run now, under the idle budget. */
        sb->budget = &sb->idle;
        sb->idle.used = 0;
        lua_close(sb->L);
        sb->L = NULL;
    }
    bo_pool_drain(&sb->pool);
    free(sb->app_dir);
    free(sb->lib_dir);
    sb->app_dir = sb->lib_dir = NULL;
}

void bo_sandbox_collect(bo_sandbox *sb)
{
    bo_budget *previous = bo_sandbox_enter(sb, &sb->idle);
    sb->idle.used = 0;
    lua_gc(sb->L, LUA_GCCOLLECT);
    bo_sandbox_leave(sb, previous == &sb->idle ? NULL : previous);
}
