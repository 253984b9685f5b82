/*
 * json.c - fuzzes the JSON coder (core/json.c): decode, encode, decode.
 *
 * The input is JSON text. When it decodes, the value must encode (every
 * decoded value is one JSON can hold, nested no deeper than the encoder
 * allows), the text must decode to the same value (the same types, integer
 * or float, strings, array marks and keys) and encode again to the very
 * same text; json.encode with indentation must decode to the same value
 * too. A refusal must name a byte position within the input.
 */
#include "fuzz.h"

#include "json.h"

#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

static lua_State *L;

/* True if the values at a and b (absolute indices) are the same JSON value. */
static bool same(int a, int b, int depth)
{
    FUZZ_CHECK(depth <= BO_JSON_MAX_DEPTH + 1);
    FUZZ_CHECK(lua_checkstack(L, 8));
    int t = lua_type(L, a);
    if (t != lua_type(L, b))
        return false;
    switch (t) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, a) != lua_isinteger(L, b))
            return false;
        if (lua_isinteger(L, a))
            return lua_tointeger(L, a) == lua_tointeger(L, b);
        double x = lua_tonumber(L, a), y = lua_tonumber(L, b);
        return memcmp(&x, &y, sizeof x) == 0;     /* -0.0 is not 0.0 */
    case LUA_TSTRING: {
        size_t na, nb;
        const char *sa = lua_tolstring(L, a, &na), *sb = lua_tolstring(L, b, &nb);
        return na == nb && memcmp(sa, sb, na) == 0;
    }
    case LUA_TTABLE: {
        /* The same mark (array or not), then every key of each in the other. */
        bool ma = lua_getmetatable(L, a), mb = lua_getmetatable(L, b);
        bool marks = ma == mb && (!ma || lua_rawequal(L, -1, -2));
        lua_pop(L, (int)ma + (int)mb);
        if (!marks)
            return false;
        for (int pass = 0; pass < 2; pass++) {
            int from = pass ? b : a, to = pass ? a : b;
            lua_pushnil(L);
            while (lua_next(L, from)) {
                lua_pushvalue(L, -2);
                lua_rawget(L, to);
                bool ok = pass ? !lua_isnil(L, -1) : same(lua_gettop(L) - 1, lua_gettop(L), depth + 1);
                lua_pop(L, 2);
                if (!ok) {
                    lua_pop(L, 1);
                    return false;
                }
            }
        }
        return true;
    }
    default:
        return lua_rawequal(L, a, b);     /* booleans, json.null */
    }
}

/* Encodes the value at idx; the text is pushed as a string. */
static void encode(int idx)
{
    bo_buf out;
    bo_buf_init(&out);
    char err[256];
    int rc = bo_json_encode(L, idx, &out, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "encode: %s\n", err);
    FUZZ_CHECK(rc == 0);
    lua_pushlstring(L, out.data ? out.data : "", out.len);
    bo_buf_free(&out);
}

static void decode_ok(const char *text, size_t len)
{
    char err[256];
    int rc = bo_json_decode(L, text, len, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "decode of our own text: %s\n%.*s\n", err, (int)len, text);
    FUZZ_CHECK(rc == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!L) {
        L = luaL_newstate();
        luaL_openlibs(L);
        luaL_requiref(L, "json", bo_json_open, 1);
        lua_pop(L, 1);
    }
    lua_settop(L, 0);
    char err[256];
    int rc = bo_json_decode(L, (const char *)data, size, err, sizeof err);
    if (rc != 0) {
        FUZZ_CHECK(rc == BO_EPARSE && lua_gettop(L) == 0);
        const char *at = strstr(err, "at byte ");
        FUZZ_CHECK(at != NULL);
        long pos = atol(at + 8);
        FUZZ_CHECK(pos >= 1 && (size_t)pos <= size + 1);
        return 0;
    }
    FUZZ_CHECK(lua_gettop(L) == 1);
    encode(1);                                             /* 2: text */
    size_t n1;
    const char *t1 = lua_tolstring(L, 2, &n1);
    decode_ok(t1, n1);                                     /* 3: value again */
    FUZZ_CHECK(same(1, 3, 0));
    encode(3);                                             /* 4: text again */
    FUZZ_CHECK(lua_rawequal(L, 2, 4));
    /* Indented text holds the same value. */
    lua_getglobal(L, "json");
    lua_getfield(L, -1, "encode");
    lua_pushvalue(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushinteger(L, 2);
    lua_setfield(L, -2, "indent");
    FUZZ_CHECK(lua_pcall(L, 2, 1, 0) == LUA_OK);           /* 6: indented text */
    size_t n2;
    const char *t2 = lua_tolstring(L, -1, &n2);
    decode_ok(t2, n2);                                     /* 7 */
    FUZZ_CHECK(same(1, lua_gettop(L), 0));
    lua_settop(L, 0);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
