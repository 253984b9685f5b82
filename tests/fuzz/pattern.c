/*
 * pattern.c - fuzzes the metered pattern matcher (core/lpattern.c) against
 * Lua 5.4's own string library, side by side in one sandboxed state.
 *
 * The input chooses a function (find, match, gmatch or gsub), its init
 * argument, find's plain flag, gsub's replacement (a string, a table or a
 * function) and its limit, then a pattern of up to 24 bytes, a replacement
 * and the subject. Ours runs first under a step budget; if it refuses for
 * the budget, that is fine and Lua's own is not run (it could backtrack for
 * ever). Otherwise both must give the same results, value for value and
 * type for type, or the same error message.
 */
#include "fuzz.h"

#include "buf.h"
#include "lpattern.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

static bo_sandbox sb;
static int ours_ref, theirs_ref;     /* the two string tables, in the registry */

enum { FIND, MATCH, GMATCH, GSUB };
static const char *const names[] = { "find", "match", "gmatch", "gsub" };

/* A replacement function: its first argument with "!" added, or false
   (keep the match) when that argument has an odd length. */
static int repl_fn(lua_State *L)
{
    size_t n;
    const char *s = luaL_tolstring(L, 1, &n);
    if (n % 2)
        lua_pushboolean(L, 0);
    else
        lua_pushfstring(L, "%s!", s);
    return 1;
}

static void setup(void)
{
    bo_limits limits = bo_limits_default;
    limits.instructions = 200000;
    limits.wall_ms = 0;
    FUZZ_CHECK(bo_sandbox_open(&sb, &limits, FUZZ_ROOT "/tests/fuzz", FUZZ_ROOT "/lua") == 0);
    lua_State *L = sb.L;
    lua_getglobal(L, "string");
    ours_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    /* Lua's own string library, whose luaopen also sets the metatable of
       strings: keep the sandbox's. */
    lua_pushliteral(L, "");
    FUZZ_CHECK(lua_getmetatable(L, -1));
    lua_pushcfunction(L, luaopen_string);
    lua_call(L, 0, 1);
    theirs_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
}

/* Appends a description of the values on the stack from index from. */
static void describe(lua_State *L, int from, bo_buf *o)
{
    for (int i = from; i <= lua_gettop(L); i++) {
        int t = lua_type(L, i);
        if (t == LUA_TSTRING) {
            size_t n;
            const char *s = lua_tolstring(L, i, &n);
            bo_buf_printf(o, " s%zu:", n);
            bo_buf_append(o, s, n);
        } else if (t == LUA_TNUMBER) {
            if (lua_isinteger(L, i))
                bo_buf_printf(o, " i%lld", (long long)lua_tointeger(L, i));
            else
                bo_buf_printf(o, " f%.17g", lua_tonumber(L, i));
        } else {
            bo_buf_printf(o, " %s", lua_typename(L, t));
            if (t == LUA_TBOOLEAN)
                bo_buf_puts(o, lua_toboolean(L, i) ? "=true" : "=false");
        }
    }
}

typedef struct call {
    int fn;
    lua_Integer init;
    bool has_init, plain;
    int repl;               /* 0 string, 1 table, 2 function */
    lua_Integer max_n;      /* gsub's limit, or -1 */
    const char *pat, *rep, *subj;
    size_t pat_len, rep_len, subj_len;
} call;

/* Pushes the arguments of c; returns how many. */
static int push_args(lua_State *L, const call *c)
{
    lua_pushlstring(L, c->subj, c->subj_len);
    lua_pushlstring(L, c->pat, c->pat_len);
    if (c->fn == GSUB) {
        if (c->repl == 0) {
            lua_pushlstring(L, c->rep, c->rep_len);
        } else if (c->repl == 1) {
            lua_createtable(L, 0, 3);
            lua_pushliteral(L, "<A>");
            lua_setfield(L, -2, "a");
            lua_pushboolean(L, 0);
            lua_setfield(L, -2, "b");
            lua_pushinteger(L, 7);
            lua_setfield(L, -2, "1");
        } else {
            lua_pushcfunction(L, repl_fn);
        }
        if (c->max_n < 0)
            return 3;
        lua_pushinteger(L, c->max_n);
        return 4;
    }
    if (!c->has_init)
        return 2;
    lua_pushinteger(L, c->init);
    if (c->fn != FIND)
        return 3;
    lua_pushboolean(L, c->plain);
    return 4;
}

/* Runs c with the string table ref; describes what came back into o.
   Returns false if the budget ran out. */
static bool run(int ref, const call *c, bo_buf *o)
{
    lua_State *L = sb.L;
    bo_budget budget;
    bo_budget_start(&budget, &sb.limits);
    bo_budget *previous = bo_sandbox_enter(&sb, &budget);
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_getfield(L, 1, names[c->fn]);
    int nargs = push_args(L, c);
    int rc = lua_pcall(L, nargs, LUA_MULTRET, 0);
    if (rc == LUA_OK && c->fn == GMATCH) {
        /* Every value of every iteration, and one call past the end. */
        FUZZ_CHECK(lua_gettop(L) == 2 && lua_isfunction(L, 2));
        for (int i = 0; i < 64 && rc == LUA_OK; i++) {
            lua_settop(L, 2);
            lua_pushvalue(L, 2);
            rc = lua_pcall(L, 0, LUA_MULTRET, 0);
            if (rc != LUA_OK)
                break;
            bo_buf_puts(o, "\n next");
            describe(L, 3, o);
            if (lua_isnil(L, 3))
                break;
        }
    } else if (rc == LUA_OK) {
        bo_buf_puts(o, "ok");
        describe(L, 2, o);
    }
    if (rc != LUA_OK) {
        bo_buf_puts(o, "\n error ");
        describe(L, lua_gettop(L), o);
    }
    bool spent = budget.spent != NULL;
    bo_sandbox_leave(&sb, previous);
    lua_settop(L, 0);
    return !spent;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sb.L)
        setup();
    if (size < 4)
        return 0;
    call c;
    unsigned op = data[0];
    c.fn = op & 3;
    c.has_init = op & 4;
    c.plain = op & 8;
    c.repl = (op >> 4) % 3;
    c.max_n = op & 0x40 ? (int8_t)data[1] % 5 : -1;
    c.init = (int8_t)data[1] % 12;
    size_t pl = data[2] % 25;
    data += 3;
    size -= 3;
    if (pl > size)
        pl = size;
    c.pat = (const char *)data;
    c.pat_len = pl;
    data += pl;
    size -= pl;
    size_t rl = size ? data[0] % 9 : 0;
    if (size) {
        data++;
        size--;
    }
    if (rl > size)
        rl = size;
    c.rep = (const char *)data;
    c.rep_len = rl;
    c.subj = (const char *)data + rl;
    c.subj_len = size - rl < 300 ? size - rl : 300;

    bo_buf ours, theirs;
    bo_buf_init(&ours);
    bo_buf_init(&theirs);
    if (run(ours_ref, &c, &ours)) {
        run(theirs_ref, &c, &theirs);
        bo_buf_putc(&ours, '\0');
        bo_buf_putc(&theirs, '\0');
        if (getenv("FUZZ_SHOW"))
            fprintf(stderr, "%s\n", ours.data);
        FUZZ_CHECK_SAME(theirs.data, ours.data);
    } else if (getenv("FUZZ_SHOW")) {
        fprintf(stderr, "refused: the step budget ran out\n");
    }
    bo_buf_free(&ours);
    bo_buf_free(&theirs);
    return 0;
}
