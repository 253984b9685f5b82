/*
 * test_json.c - unit tests for core/json.c: encoding rules and exact output,
 * string escapes and UTF-8, numbers, key order, __columns, the array/object
 * marks, both depth limits, every decode error with its message and byte
 * position, the Lua API's return conventions, and behaviour under a Lua
 * memory cap and with finalizers that re-enter the coder.
 */
#include "unit.h"

#include "json.h"
#include "meter.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static char result[1 << 16];

static lua_State *new_state(void)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "json", bo_json_open, 1);
    lua_pop(L, 1);
    return L;
}

static const char *keep(const char *s, size_t n)
{
    if (n >= sizeof result)
        n = sizeof result - 1;
    memcpy(result, s, n);
    result[n] = '\0';
    return result;
}

/* Runs a chunk that returns one value and gives it as a string, or
   "raised: <message>". */
static const char *run(lua_State *L, const char *chunk)
{
    int top = lua_gettop(L);
    const char *r;
    if (luaL_loadstring(L, chunk) || lua_pcall(L, 0, 1, 0)) {
        snprintf(result, sizeof result, "raised: %s", lua_tostring(L, -1));
        r = result;
    } else {
        size_t n;
        const char *s = luaL_tolstring(L, -1, &n);
        r = keep(s, n);
    }
    lua_settop(L, top);
    return r;
}

/* Evaluates expr and encodes it with bo_json_encode: the text, or
   "error: <message>". Also checks the stack is left as it was. */
static const char *enc(lua_State *L, const char *expr)
{
    char chunk[4096];
    char err[128];
    bo_buf out;
    const char *r;
    snprintf(chunk, sizeof chunk, "return %s", expr);
    if (luaL_loadstring(L, chunk) || lua_pcall(L, 0, 1, 0)) {
        snprintf(result, sizeof result, "lua: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return result;
    }
    int top = lua_gettop(L);
    bo_buf_init(&out);
    int rc = bo_json_encode(L, -1, &out, err, sizeof err);
    CHECK_EQ_INT(lua_gettop(L), top);
    if (rc) {
        CHECK_EQ_INT(rc, BO_EINVAL);
        CHECK_EQ_INT(out.len, 0);
        snprintf(result, sizeof result, "error: %s", err);
        r = result;
    } else {
        r = keep(out.data, out.len);
    }
    bo_buf_free(&out);
    lua_pop(L, 1);
    return r;
}

/* Decodes text[0..len) into a buffer of exactly that size (so a read past
   the end is caught by ASan): "ok" or the error. Checks the stack. */
static const char *dec_n(lua_State *L, const char *text, size_t len)
{
    char err[128];
    char *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);
    int top = lua_gettop(L);
    int rc = bo_json_decode(L, copy, len, err, sizeof err);
    free(copy);
    if (rc) {
        CHECK_EQ_INT(rc, BO_EPARSE);
        CHECK_EQ_INT(lua_gettop(L), top);
        return keep(err, strlen(err));
    }
    CHECK_EQ_INT(lua_gettop(L), top + 1);
    lua_pop(L, 1);
    return "ok";
}

static const char *dec(lua_State *L, const char *text)
{
    return dec_n(L, text, strlen(text));
}

/* Decodes text and encodes the result again (compact). */
static const char *redecode_n(lua_State *L, const char *text, size_t len)
{
    char err[128];
    bo_buf out;
    const char *r;
    if (bo_json_decode(L, text, len, err, sizeof err)) {
        snprintf(result, sizeof result, "decode: %s", err);
        return result;
    }
    bo_buf_init(&out);
    if (bo_json_encode(L, -1, &out, err, sizeof err)) {
        snprintf(result, sizeof result, "encode: %s", err);
        r = result;
    } else {
        r = keep(out.data, out.len);
    }
    bo_buf_free(&out);
    lua_pop(L, 1);
    return r;
}

static const char *redecode(lua_State *L, const char *text)
{
    return redecode_n(L, text, strlen(text));
}

/* ---- Encoding ---- */

TEST(encodes_scalars)
{
    lua_State *L = new_state();
    CHECK_STR(enc(L, "nil"), "null");
    CHECK_STR(enc(L, "json.null"), "null");
    CHECK_STR(enc(L, "true"), "true");
    CHECK_STR(enc(L, "false"), "false");
    CHECK_STR(enc(L, "''"), "\"\"");
    CHECK_STR(enc(L, "'hello'"), "\"hello\"");
    CHECK_STR(enc(L, "{json.null, nil}"), "[null]");
    lua_close(L);
}

TEST(encodes_integers)
{
    lua_State *L = new_state();
    CHECK_STR(enc(L, "0"), "0");
    CHECK_STR(enc(L, "7"), "7");
    CHECK_STR(enc(L, "-1"), "-1");
    CHECK_STR(enc(L, "1234567890123"), "1234567890123");
    CHECK_STR(enc(L, "math.maxinteger"), "9223372036854775807");
    CHECK_STR(enc(L, "math.mininteger"), "-9223372036854775808");
    CHECK_STR(enc(L, "{math.mininteger, math.maxinteger}"),
              "[-9223372036854775808,9223372036854775807]");
    lua_close(L);
}

TEST(encodes_floats)
{
    lua_State *L = new_state();
    CHECK_STR(enc(L, "1.0"), "1.0");
    CHECK_STR(enc(L, "-1.0"), "-1.0");
    CHECK_STR(enc(L, "0.0"), "0.0");
    CHECK_STR(enc(L, "-0.0"), "-0.0");
    CHECK_STR(enc(L, "100.0"), "100.0");
    CHECK_STR(enc(L, "0.1"), "0.1");
    CHECK_STR(enc(L, "1.5"), "1.5");
    CHECK_STR(enc(L, "-2.25"), "-2.25");
    CHECK_STR(enc(L, "1/3"), "0.3333333333333333");
    CHECK_STR(enc(L, "2/3"), "0.6666666666666666");
    CHECK_STR(enc(L, "0.1 + 0.2"), "0.30000000000000004");
    CHECK_STR(enc(L, "1e300"), "1e+300");
    CHECK_STR(enc(L, "-1e300"), "-1e+300");
    CHECK_STR(enc(L, "1e15"), "1e+15");
    CHECK_STR(enc(L, "1e-7"), "1e-07");
    CHECK_STR(enc(L, "123456789012345.0"), "123456789012345.0");
    CHECK_STR(enc(L, "2.0^53"), "9007199254740992.0");
    CHECK_STR(enc(L, "2.0^63"), "9.223372036854776e+18");
    CHECK_STR(enc(L, "math.pi"), "3.141592653589793");
    CHECK_STR(enc(L, "1.7976931348623157e308"), "1.7976931348623157e+308");
    CHECK_STR(enc(L, "5e-324"), "4.9406564584125e-324");
    CHECK_STR(enc(L, "0.1 * 3"), "0.30000000000000004");
    CHECK_STR(enc(L, "1 - 2^-52"), "0.9999999999999998");
    CHECK_STR(enc(L, "2.2250738585072014e-308"), "2.2250738585072014e-308");
    lua_close(L);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

TEST(floats_round_trip)
{
    lua_State *L = new_state();
    bo_buf out;
    char err[128];
    int bad = 0;
    bo_buf_init(&out);
    for (int i = 0; i < 200000; i++) {
        uint64_t bits = rng();
        double d;
        if (i % 4 == 0) /* also plenty of short decimals */
            d = (double)(int64_t)(bits % 2000001) / 1000.0 - 1000.0;
        else
            memcpy(&d, &bits, sizeof d);
        if (!isfinite(d))
            continue;
        out.len = 0;
        lua_pushnumber(L, d);
        if (bo_json_encode(L, -1, &out, err, sizeof err)) {
            bad++;
            lua_pop(L, 1);
            continue;
        }
        lua_pop(L, 1);
        if (!memchr(out.data, '.', out.len) && !memchr(out.data, 'e', out.len))
            bad++;
        if (bo_json_decode(L, out.data, out.len, err, sizeof err)) {
            bad++;
            continue;
        }
        double back = (double)lua_tonumber(L, -1);
        if (lua_isinteger(L, -1) || memcmp(&back, &d, sizeof d) != 0)
            bad++;
        lua_pop(L, 1);
    }
    CHECK_EQ_INT(bad, 0);
    bo_buf_free(&out);
    lua_close(L);
}

TEST(refuses_nan_and_infinity)
{
    lua_State *L = new_state();
    CHECK_STR(enc(L, "0/0"), "error: cannot encode NaN");
    CHECK_STR(enc(L, "math.huge"), "error: cannot encode infinity");
    CHECK_STR(enc(L, "{a = {-math.huge}}"), "error: cannot encode infinity");
    lua_close(L);
}

TEST(escapes_control_characters)
{
    static const char *const expected[32] = {
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b", "\\t", "\\n", "\\u000b", "\\f", "\\r", "\\u000e", "\\u000f",
        "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
        "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
    };
    lua_State *L = new_state();
    for (int c = 0; c < 32; c++) {
        char expr[32], want[32];
        snprintf(expr, sizeof expr, "'a\\%d'", c);
        snprintf(want, sizeof want, "\"a%s\"", expected[c]);
        CHECK_STR(enc(L, expr), want);
    }
    CHECK_STR(enc(L, "'\\0\\0'"), "\"\\u0000\\u0000\"");
    CHECK_STR(enc(L, "'line1\\nline2\\r\\n\\ttab'"), "\"line1\\nline2\\r\\n\\ttab\"");
    lua_close(L);
}

TEST(escapes_only_what_json_requires)
{
    lua_State *L = new_state();
    CHECK_STR(enc(L, "'say \"hi\"'"), "\"say \\\"hi\\\"\"");
    CHECK_STR(enc(L, "'back\\\\slash'"), "\"back\\\\slash\"");
    CHECK_STR(enc(L, "'</script> & \\'x\\' / y'"), "\"</script> & 'x' / y\"");
    CHECK_STR(enc(L, "'\\127'"), "\"\x7f\"");
    CHECK_STR(enc(L, "'Hamza Jones & Smith'"), "\"Hamza Jones & Smith\"");
    CHECK_STR(enc(L, "'caf\\u{e9} \\u{20ac} \\u{1F600}'"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* A long string with escapes spread through it (buffer growth). */
    CHECK_STR(run(L, "local s = string.rep('ab\"c\\n', 5000) "
                     "local e = json.encode(s) "
                     "return #e == 2 + 5000 * 7 and e:sub(1, 8) == '\"ab\\\\\"c\\\\n'"),
              "true");
    CHECK_STR(run(L, "return json.encode(string.rep('\\1', 3000)) == "
                     "'\"' .. string.rep('\\\\u0001', 3000) .. '\"'"),
              "true");
    lua_close(L);
}

TEST(accepts_valid_utf8)
{
    static const char *const ok[] = {
        "\xc2\x80",             /* U+0080 */
        "\xdf\xbf",             /* U+07FF */
        "\xe0\xa0\x80",         /* U+0800 */
        "\xed\x9f\xbf",         /* U+D7FF */
        "\xee\x80\x80",         /* U+E000 */
        "\xef\xbf\xbf",         /* U+FFFF */
        "\xf0\x90\x80\x80",     /* U+10000 */
        "\xf4\x8f\xbf\xbf",     /* U+10FFFF */
        "a\xc3\xa9z\xe2\x82\xac\xf0\x9f\x98\x80",
    };
    lua_State *L = new_state();
    for (size_t i = 0; i < BO_COUNT(ok); i++) {
        char want[64];
        lua_pushstring(L, ok[i]);
        lua_setglobal(L, "s");
        snprintf(want, sizeof want, "\"%s\"", ok[i]);
        CHECK_STR(enc(L, "s"), want);
        CHECK_STR(redecode(L, want), want);
    }
    lua_close(L);
}

/* Malformed UTF-8: the encoder refuses it anywhere in a string or a key, and
   the decoder reports the byte where the sequence starts. */
static const char *const bad_utf8[] = {
    "\x80",                 /* stray continuation byte */
    "\xbf",
    "\xc0\xaf",             /* overlong '/' */
    "\xc1\xbf",             /* overlong */
    "\xe0\x80\xaf",         /* overlong 3-byte */
    "\xe0\x9f\xbf",         /* overlong U+07FF */
    "\xf0\x80\x80\xaf",     /* overlong 4-byte */
    "\xf0\x8f\xbf\xbf",     /* overlong U+FFFF */
    "\xed\xa0\x80",         /* U+D800, a surrogate */
    "\xed\xbf\xbf",         /* U+DFFF */
    "\xed\xa0\xbd\xed\xb8\x80", /* a surrogate pair as CESU-8 */
    "\xf4\x90\x80\x80",     /* U+110000 */
    "\xf5\x80\x80\x80",
    "\xf8\x88\x80\x80\x80",
    "\xfe",
    "\xff",
    "\xc3",                 /* cut short */
    "\xe2\x82",
    "\xf0\x9f\x98",
    "\xc3(",                /* bad continuation */
    "\xe2(\xa1",
    "\xf0\x9f(\x80",
};

TEST(encoder_refuses_invalid_utf8)
{
    lua_State *L = new_state();
    for (size_t i = 0; i < BO_COUNT(bad_utf8); i++) {
        lua_pushfstring(L, "ok %s ok", bad_utf8[i]);
        lua_setglobal(L, "s");
        CHECK_STR(enc(L, "s"), "error: invalid UTF-8 in a string");
        CHECK_STR(enc(L, "{[s] = 1}"), "error: invalid UTF-8 in a string");
        CHECK_STR(enc(L, "{1, {x = s}}"), "error: invalid UTF-8 in a string");
    }
    CHECK_STR(run(L, "local ok, e = pcall(json.encode, '\\xff') return e"),
              "bad argument #1 to 'json.encode' (invalid UTF-8 in a string)");
    lua_close(L);
}

TEST(decoder_refuses_invalid_utf8)
{
    lua_State *L = new_state();
    for (size_t i = 0; i < BO_COUNT(bad_utf8); i++) {
        char text[64];
        snprintf(text, sizeof text, "[\"ok %s ok\"]", bad_utf8[i]);
        CHECK_STR(dec(L, text), "invalid UTF-8 in a string at byte 6");
        snprintf(text, sizeof text, "{\"%s\": 1}", bad_utf8[i]);
        CHECK_STR(dec(L, text), "invalid UTF-8 in a string at byte 3");
        /* The same bytes after an escape (the slow path). */
        snprintf(text, sizeof text, "\"\\n%s\"", bad_utf8[i]);
        CHECK_STR(dec(L, text), "invalid UTF-8 in a string at byte 4");
    }
    /* Outside a string, a non-ASCII byte is just unexpected. */
    CHECK_STR(dec(L, "[\xc3\xa9]"), "unexpected byte 0xc3 at byte 2");
    /* At the very end of the input. */
    CHECK_STR(dec_n(L, "\"\xe2\x82", 3), "invalid UTF-8 in a string at byte 2");
    lua_close(L);
}

TEST(sorts_object_keys)
{
    lua_State *L = new_state();
    CHECK_STR(enc(L, "{b = 1, a = 2, c = 3}"), "{\"a\":2,\"b\":1,\"c\":3}");
    CHECK_STR(enc(L, "{b = 1, B = 2, [''] = 3, ['a b'] = 4, a = 5, _ = 6}"),
              "{\"\":3,\"B\":2,\"_\":6,\"a\":5,\"a b\":4,\"b\":1}");
    /* Bytewise: prefixes first, non-ASCII after ASCII. */
    CHECK_STR(enc(L, "{['\\u{e9}'] = 1, z = 2, zz = 3, ['z\\0'] = 4}"),
              "{\"z\":2,\"z\\u0000\":4,\"zz\":3,\"\xc3\xa9\":1}");
    /* The same output whatever the insertion order. */
    CHECK_STR(run(L, "local a, b = {}, {} "
                     "for i = 1, 500 do a['k' .. i] = i end "
                     "for i = 500, 1, -1 do b['k' .. i] = i end "
                     "return json.encode(a) == json.encode(b)"),
              "true");
    /* Escaped keys. */
    CHECK_STR(enc(L, "{['a\"b'] = 1, ['\\n'] = 2}"), "{\"\\n\":2,\"a\\\"b\":1}");
    lua_close(L);
}

TEST(sorts_large_objects)
{
    lua_State *L = new_state();
    /* Random keys, checked in order by decoding the keys back in sequence. */
    CHECK_STR(run(L, "local t, n = {}, 0 "
                     "math.randomseed(7) "
                     "for i = 1, 20000 do t[tostring(math.random(1, 1e9))] = i end "
                     "for _ in pairs(t) do n = n + 1 end "
                     "local s = json.encode(t) "
                     "local prev, count = nil, 0 "
                     "for k in s:gmatch('\"(%d+)\":') do "
                     "  if prev and not (prev < k) then return 'out of order: ' .. prev .. ' ' .. k end "
                     "  prev, count = k, count + 1 "
                     "end "
                     "return count == n"),
              "true");
    /* Keys already sorted and reverse sorted, with integer keys mixed in. */
    CHECK_STR(run(L, "local t = {} "
                     "for i = 1, 3000 do t[i * 7] = i; t[string.format('s%05d', 3001 - i)] = i end "
                     "local back = json.decode(json.encode(t)) "
                     "for i = 1, 3000 do "
                     "  if back[tostring(i * 7)] ~= i or back[string.format('s%05d', 3001 - i)] ~= i then return i end "
                     "end "
                     "return 'ok'"),
              "ok");
    lua_close(L);
}

TEST(encodes_integer_keys_as_strings)
{
    lua_State *L = new_state();
    CHECK_STR(enc(L, "{[10] = 'a', [2] = 'b', x = 'c'}"), "{\"10\":\"a\",\"2\":\"b\",\"x\":\"c\"}");
    CHECK_STR(enc(L, "{[1] = 1, [3] = 3}"), "{\"1\":1,\"3\":3}");
    CHECK_STR(enc(L, "{[0] = 'z'}"), "{\"0\":\"z\"}");
    CHECK_STR(enc(L, "{[-5] = 1, [math.mininteger] = 2}"),
              "{\"-5\":1,\"-9223372036854775808\":2}");
    CHECK_STR(enc(L, "{1, 2, x = 3}"), "{\"1\":1,\"2\":2,\"x\":3}");
    CHECK_STR(enc(L, "{[2.0] = 'f'}"), "{\"2\":\"f\"}");   /* 2.0 is the key 2 */
    lua_close(L);
}

TEST(refuses_bad_keys)
{
    lua_State *L = new_state();
    CHECK_STR(enc(L, "{[1.5] = 1}"), "error: cannot encode a table key of type float");
    CHECK_STR(enc(L, "{[true] = 1}"), "error: cannot encode a table key of type boolean");
    CHECK_STR(enc(L, "{[{}] = 1}"), "error: cannot encode a table key of type table");
    CHECK_STR(enc(L, "{[print] = 1}"), "error: cannot encode a table key of type function");
    CHECK_STR(enc(L, "{a = 1, [json.null] = 1}"), "error: cannot encode a table key of type userdata");
    CHECK_STR(enc(L, "{x = {[false] = 1}}"), "error: cannot encode a table key of type boolean");
    CHECK_STR(enc(L, "{[1] = 'n', ['1'] = 's'}"), "error: table has both 1 and \"1\" as keys");
    CHECK_STR(enc(L, "{[-7] = 'n', ['-7'] = 's', a = 1}"), "error: table has both -7 and \"-7\" as keys");
    lua_close(L);
}

TEST(refuses_unencodable_values)
{
    lua_State *L = new_state();
    CHECK_STR(enc(L, "print"), "error: cannot encode a function");
    CHECK_STR(enc(L, "{1, print}"), "error: cannot encode a function");
    CHECK_STR(enc(L, "{a = coroutine.create(print)}"), "error: cannot encode a thread");
    CHECK_STR(enc(L, "io.stdout"), "error: cannot encode a userdata");
    lua_pushlightuserdata(L, &result);
    lua_setglobal(L, "lud");
    CHECK_STR(enc(L, "{lud}"), "error: cannot encode a userdata");
    lua_close(L);
}

TEST(detects_arrays)
{
    lua_State *L = new_state();
    CHECK_STR(enc(L, "{1, 2, 3}"), "[1,2,3]");
    CHECK_STR(enc(L, "{'a', {'b', {}}, true}"), "[\"a\",[\"b\",{}],true]");
    CHECK_STR(enc(L, "{[1] = 'a', [2] = 'b', [3] = 'c'}"), "[\"a\",\"b\",\"c\"]");
    CHECK_STR(enc(L, "{[3] = 'c', [2] = 'b', [1] = 'a'}"), "[\"a\",\"b\",\"c\"]");
    CHECK_STR(enc(L, "{1, 2, nil, 4}"), "{\"1\":1,\"2\":2,\"4\":4}");
    CHECK_STR(enc(L, "{[2] = 2}"), "{\"2\":2}");
    CHECK_STR(enc(L, "{[1] = 1, [1000000000] = 2}"), "{\"1\":1,\"1000000000\":2}");
    CHECK_STR(run(L, "local t = {} for i = 1, 100000 do t[i] = i end "
                     "local s = json.encode(t) "
                     "return #s .. ' ' .. s:sub(1, 10) .. ' ' .. s:sub(-8)"),
              "588896 [1,2,3,4,5 ,100000]");
    lua_close(L);
}

TEST(empty_tables_and_marks)
{
    lua_State *L = new_state();
    CHECK_STR(enc(L, "{}"), "{}");
    CHECK_STR(enc(L, "json.array({})"), "[]");
    CHECK_STR(enc(L, "json.array()"), "[]");
    CHECK_STR(enc(L, "json.object({})"), "{}");
    CHECK_STR(enc(L, "json.object()"), "{}");
    CHECK_STR(enc(L, "{a = {}, b = json.array({}), c = {{}}}"), "{\"a\":{},\"b\":[],\"c\":[{}]}");
    CHECK_STR(enc(L, "json.array({1, 2})"), "[1,2]");
    CHECK_STR(enc(L, "json.object({1, 2})"), "{\"1\":1,\"2\":2}");
    CHECK_STR(enc(L, "json.object({'x', y = 2})"), "{\"1\":\"x\",\"y\":2}");
    CHECK_STR(enc(L, "json.array({a = 1})"), "error: json.array() table has keys other than 1..n");
    CHECK_STR(enc(L, "json.array({1, nil, 3})"), "error: json.array() table has keys other than 1..n");
    lua_close(L);
}

TEST(marks_return_the_table)
{
    lua_State *L = new_state();
    CHECK_STR(run(L, "local t = {} return json.array(t) == t"), "true");
    CHECK_STR(run(L, "local t = {} return json.object(t) == t"), "true");
    CHECK_STR(run(L, "return getmetatable(json.array({})) == getmetatable(json.array({}))"), "true");
    CHECK_STR(run(L, "return getmetatable(json.array({})) ~= getmetatable(json.object({}))"), "true");
    CHECK_STR(run(L, "return getmetatable(json.array()).__name .. ' ' .. getmetatable(json.object()).__name"),
              "json.array json.object");
    /* bo_json_mark_array is json.array for C callers. */
    lua_pushinteger(L, 5);
    lua_newtable(L);
    bo_json_mark_array(L, -1);
    CHECK_EQ_INT(lua_gettop(L), 2);
    lua_setglobal(L, "marked");
    lua_pop(L, 1);
    CHECK_STR(run(L, "return json.encode(marked) .. tostring(getmetatable(marked) == getmetatable(json.array()))"),
              "[]true");
    /* Marking again switches the mark. */
    CHECK_STR(run(L, "return json.encode(json.object(json.array({})))"), "{}");
    CHECK_STR(run(L, "local ok, e = pcall(json.array, 5) return e"),
              "bad argument #1 to 'json.array' (table expected, got number)");
    CHECK_STR(run(L, "local t = setmetatable({}, {__metatable = 'no'}) "
                     "local ok, e = pcall(json.object, t) return e"),
              "cannot change a protected metatable");
    lua_close(L);
}

TEST(encodes_columns_in_order)
{
    lua_State *L = new_state();
    CHECK_STR(run(L, "row_mt = {__columns = {'id', 'name', 'postcode', 'vulnerable'}} return true"), "true");
    CHECK_STR(enc(L, "setmetatable({id = 7, name = 'Hamza Jones & Smith', postcode = 'CF1 7BA', "
                     "vulnerable = 0}, row_mt)"),
              "{\"id\":7,\"name\":\"Hamza Jones & Smith\",\"postcode\":\"CF1 7BA\",\"vulnerable\":0}");
    /* Absent columns are null; keys not named are left out. */
    CHECK_STR(enc(L, "setmetatable({name = 'x', extra = 1}, row_mt)"),
              "{\"id\":null,\"name\":\"x\",\"postcode\":null,\"vulnerable\":null}");
    CHECK_STR(enc(L, "setmetatable({}, {__columns = {}})"), "{}");
    CHECK_STR(enc(L, "{setmetatable({b = 1, a = 2}, {__columns = {'b', 'a'}})}"), "[{\"b\":1,\"a\":2}]");
    /* Raw access: __index is not consulted. */
    CHECK_STR(enc(L, "setmetatable({}, {__columns = {'a'}, __index = function() return 1 end})"),
              "{\"a\":null}");
    CHECK_STR(enc(L, "setmetatable({['a\"'] = true}, {__columns = {'a\"'}})"), "{\"a\\\"\":true}");
    CHECK_STR(enc(L, "setmetatable({}, {__columns = 'id'})"), "error: __columns must be an array of strings");
    CHECK_STR(enc(L, "setmetatable({}, {__columns = {'id', 2}})"),
              "error: __columns must be an array of strings");
    CHECK_STR(enc(L, "setmetatable({a = print}, {__columns = {'a'}})"), "error: cannot encode a function");
    /* Another metatable without __columns leaves the usual rules. */
    CHECK_STR(enc(L, "setmetatable({1, 2}, {})"), "[1,2]");
    CHECK_STR(enc(L, "setmetatable({}, {__index = {}})"), "{}");
    lua_close(L);
}

TEST(pretty_prints)
{
    lua_State *L = new_state();
    CHECK_STR(run(L, "return json.encode({a = {1, 2, {}}, b = 'x', c = json.array(), "
                     "d = {e = {f = true}}}, {indent = 2})"),
              "{\n"
              "  \"a\": [\n"
              "    1,\n"
              "    2,\n"
              "    {}\n"
              "  ],\n"
              "  \"b\": \"x\",\n"
              "  \"c\": [],\n"
              "  \"d\": {\n"
              "    \"e\": {\n"
              "      \"f\": true\n"
              "    }\n"
              "  }\n"
              "}");
    CHECK_STR(run(L, "return json.encode({1, {2}}, {indent = 4})"), "[\n    1,\n    [\n        2\n    ]\n]");
    CHECK_STR(run(L, "return json.encode(setmetatable({id = 1}, {__columns = {'id', 'n'}}), {indent = 1})"),
              "{\n \"id\": 1,\n \"n\": null\n}");
    CHECK_STR(run(L, "return json.encode('s', {indent = 2})"), "\"s\"");
    CHECK_STR(run(L, "return json.encode({}, {indent = 2})"), "{}");
    CHECK_STR(run(L, "return json.encode({a = 1, b = {2}}, {indent = 0})"), "{\"a\":1,\"b\":[2]}");
    CHECK_STR(run(L, "return json.encode({a = 1, b = {2}}, {})"), "{\"a\":1,\"b\":[2]}");
    CHECK_STR(run(L, "return json.encode({a = 1, b = {2}})"), "{\"a\":1,\"b\":[2]}");
    CHECK_STR(run(L, "return select(2, pcall(json.encode, 1, {indent = -1}))"),
              "bad argument #2 to 'json.encode' (indent must be an integer from 0 to 16)");
    CHECK_STR(run(L, "return select(2, pcall(json.encode, 1, {indent = 17}))"),
              "bad argument #2 to 'json.encode' (indent must be an integer from 0 to 16)");
    CHECK_STR(run(L, "return select(2, pcall(json.encode, 1, {indent = 1.5}))"),
              "bad argument #2 to 'json.encode' (indent must be an integer from 0 to 16)");
    CHECK_STR(run(L, "return select(2, pcall(json.encode, 1, 2))"),
              "bad argument #2 to 'json.encode' (table expected, got number)");
    lua_close(L);
}

TEST(encode_depth_limit)
{
    lua_State *L = new_state();
    CHECK_STR(run(L, "function nest(n) local t = {} for i = 2, n do t = {t} end return t end "
                     "return true"), "true");
    CHECK_STR(run(L, "local s = json.encode(nest(128)) "
                     "return #s == 256 and s:find('{}', 1, true) == 128 and s:sub(-3) == ']]]'"),
              "true");
    CHECK_STR(enc(L, "nest(129)"), "error: nesting too deep (over 128 levels, or a cycle)");
    CHECK_STR(enc(L, "{a = nest(128)}"), "error: nesting too deep (over 128 levels, or a cycle)");
    CHECK_STR(enc(L, "(function() local t = {} t.self = t return t end)()"),
              "error: nesting too deep (over 128 levels, or a cycle)");
    CHECK_STR(enc(L, "(function() local t = {} t[1] = t return t end)()"),
              "error: nesting too deep (over 128 levels, or a cycle)");
    /* Pretty printing at full depth. */
    CHECK_STR(run(L, "return #json.encode(nest(128), {indent = 2})"), "32768");
    lua_close(L);
}

TEST(encode_limits_text_size)
{
    lua_State *L = new_state();
    /* Sharing makes the text far larger than the value in memory. */
    CHECK_STR(enc(L, "(function() local t = {string.rep('x', 1 << 16)} "
                     "for i = 1, 60 do t = {t, t} end return t end)()"),
              "error: JSON text too large (over 64 MiB)");
    CHECK_STR(enc(L, "(function() local s, t = string.rep('x', 1 << 20), {} "
                     "for i = 1, 70 do t[i] = s end return t end)()"),
              "error: JSON text too large (over 64 MiB)");
    CHECK_STR(enc(L, "{a = string.rep('\1', 12 << 20)}"), "error: JSON text too large (over 64 MiB)");
    CHECK_STR(run(L, "local s, t = string.rep('x', 1 << 20), {} for i = 1, 60 do t[i] = s end "
                     "return #json.encode(t)"),
              "62914741");
    lua_close(L);
}

TEST(encode_appends_and_restores_on_error)
{
    lua_State *L = new_state();
    bo_buf out;
    char err[64];
    bo_buf_init(&out);
    bo_buf_puts(&out, "prefix:");
    CHECK_EQ_INT(luaL_dostring(L, "return {b = 'x', a = {1, 2}}, {ok = 1, bad = {1, 2, print}}"), 0);
    lua_pushinteger(L, 99);
    CHECK_EQ_INT(bo_json_encode(L, -3, &out, err, sizeof err), 0);
    CHECK_MEM(out.data, out.len, "prefix:{\"a\":[1,2],\"b\":\"x\"}");
    CHECK_EQ_INT(bo_json_encode(L, -2, &out, err, sizeof err), BO_EINVAL);
    CHECK_STR(err, "cannot encode a function");
    CHECK_MEM(out.data, out.len, "prefix:{\"a\":[1,2],\"b\":\"x\"}");
    CHECK_EQ_INT(bo_json_encode(L, -1, &out, NULL, 0), 0);
    CHECK_MEM(out.data, out.len, "prefix:{\"a\":[1,2],\"b\":\"x\"}99");
    CHECK_EQ_INT(lua_gettop(L), 3);
    /* A short error buffer is truncated, not overrun. */
    CHECK_EQ_INT(bo_json_encode(L, 2, &out, err, 8), BO_EINVAL);
    CHECK_STR(err, "cannot ");
    CHECK_EQ_INT(bo_json_encode(L, 2, &out, NULL, 0), BO_EINVAL);
    bo_buf_free(&out);
    lua_close(L);
}

/* ---- Decoding ---- */

TEST(decodes_values)
{
    lua_State *L = new_state();
    CHECK_STR(run(L, "return json.decode('true')"), "true");
    CHECK_STR(run(L, "return json.decode('false')"), "false");
    CHECK_STR(run(L, "return json.decode('null') == json.null"), "true");
    CHECK_STR(run(L, "return json.decode('\"hi\"')"), "hi");
    CHECK_STR(run(L, "return json.decode(' \\t\\r\\n 42 \\t\\r\\n ')"), "42");
    CHECK_STR(run(L, "local v = json.decode('{\"a\": [1, \"two\", {\"b\": null}], \"c\": {}}') "
                     "return v.a[1] .. v.a[2] .. tostring(v.a[3].b == json.null) .. #v.a "
                     ".. tostring(next(v.c) == nil)"),
              "1twotrue3true");
    CHECK_STR(run(L, "local v = json.decode('[null, null]') return #v .. tostring(v[2] == json.null)"),
              "2true");
    CHECK_STR(run(L, "local v = json.decode('{\"\":1, \"1\":2}') return v[''] .. v['1'] .. tostring(v[1])"),
              "12nil");
    CHECK_STR(dec(L, "[ 1 , 2 ]"), "ok");
    CHECK_STR(dec(L, "{ \"a\" : 1 , \"b\" : [ ] }"), "ok");
    lua_close(L);
}

TEST(decodes_escapes)
{
    lua_State *L = new_state();
    CHECK_STR(run(L, "return json.decode([[\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"]]) == "
                     "'\" \\\\ / \\b \\f \\n \\r \\t'"),
              "true");
    CHECK_STR(run(L, "return json.decode([[\"\\u0041\\u00e9\\u00E9\\u20ac\\uFFFF\"]]) == "
                     "'A\\u{e9}\\u{e9}\\u{20ac}\\u{ffff}'"),
              "true");
    CHECK_STR(run(L, "return json.decode([[\"\\ud83d\\ude00 \\uD800\\uDC00 \\uDBFF\\uDFFF\"]]) == "
                     "'\\u{1f600} \\u{10000} \\u{10ffff}'"),
              "true");
    CHECK_STR(run(L, "local s = json.decode([[\"a\\u0000b\"]]) return #s .. tostring(s == 'a\\0b')"),
              "3true");
    CHECK_STR(run(L, "return json.decode([[\"\\u0080\\u07ff\\u0800\"]]) == '\\u{80}\\u{7ff}\\u{800}'"),
              "true");
    /* Escapes in keys, and a long string with escapes throughout. */
    CHECK_STR(run(L, "local v = json.decode([[{\"a\\nb\": 1}]]) return v['a\\nb']"), "1");
    CHECK_STR(run(L, "local s = string.rep('x\\\\n', 100000) "
                     "return json.decode('\"' .. s .. '\"') == string.rep('x\\n', 100000)"),
              "true");
    /* Non-ASCII text around escapes. */
    CHECK_STR(run(L, "return json.decode('\"caf\\u{e9}\\\\t\\u{1f600}\"') == 'caf\\u{e9}\\t\\u{1f600}'"),
              "true");
    lua_close(L);
}

TEST(decodes_numbers)
{
    lua_State *L = new_state();
    CHECK_STR(run(L, "local v = json.decode('0') return math.type(v) .. v"), "integer0");
    CHECK_STR(run(L, "local v = json.decode('-0') return math.type(v) .. v"), "integer0");
    CHECK_STR(run(L, "local v = json.decode('123') return math.type(v) .. v"), "integer123");
    CHECK_STR(run(L, "local v = json.decode('-123') return math.type(v) .. v"), "integer-123");
    CHECK_STR(run(L, "return json.decode('9223372036854775807') == math.maxinteger"), "true");
    CHECK_STR(run(L, "return json.decode('-9223372036854775808') == math.mininteger"), "true");
    CHECK_STR(run(L, "local v = json.decode('9223372036854775808') return math.type(v) .. ' ' .. tostring(v == 2.0^63)"),
              "float true");
    CHECK_STR(run(L, "local v = json.decode('-9223372036854775809') return math.type(v) .. ' ' .. tostring(v == -2.0^63)"),
              "float true");
    CHECK_STR(run(L, "local v = json.decode('18446744073709551616') return math.type(v) .. ' ' .. tostring(v == 2.0^64)"),
              "float true");
    CHECK_STR(run(L, "local v = json.decode('123456789012345678901234567890') return tostring(v == 1.2345678901234568e29)"),
              "true");
    CHECK_STR(run(L, "local v = json.decode('1.0') return math.type(v) .. v"), "float1.0");
    CHECK_STR(run(L, "local v = json.decode('1e2') return math.type(v) .. v"), "float100.0");
    CHECK_STR(run(L, "return json.decode('1E2') .. ' ' .. json.decode('1e+2') .. ' ' .. json.decode('1e-2')"),
              "100.0 100.0 0.01");
    CHECK_STR(run(L, "return json.decode('-1.5e-3')"), "-0.0015");
    CHECK_STR(run(L, "local v = json.decode('-0.0') return math.type(v) .. ' ' .. 1 / v"), "float -inf");
    CHECK_STR(run(L, "return json.decode('0.1') == 0.1"), "true");
    CHECK_STR(run(L, "return json.decode('1.7976931348623157e308') == 1.7976931348623157e308"), "true");
    CHECK_STR(run(L, "return json.decode('5e-324') == 5e-324"), "true");
    CHECK_STR(run(L, "local v = json.decode('1e-400') return math.type(v) .. v"), "float0.0");
    CHECK_STR(run(L, "return json.decode('1E400')"), "nil");
    /* A mantissa longer than the on-stack copy. */
    CHECK_STR(run(L, "return json.decode('0.' .. string.rep('0', 100) .. '1e100') == 0.1"), "true");
    CHECK_STR(run(L, "local s = string.rep('1', 300) .. '.5' return json.decode('[' .. s .. ']')[1] == tonumber(s)"),
              "true");
    /* A number at the very end of an unterminated buffer. */
    CHECK_STR(dec_n(L, "1.5", 3), "ok");
    CHECK_STR(dec_n(L, "12", 2), "ok");
    CHECK_STR(dec_n(L, "[1e5]", 5), "ok");
    lua_close(L);
}

static const struct {
    const char *text;
    size_t len;         /* 0: strlen(text) */
    const char *err;
} decode_errors[] = {
    { "", 0, "unexpected end of input at byte 1" },
    { "   ", 0, "unexpected end of input at byte 4" },
    { "[", 0, "unexpected end of input at byte 2" },
    { "[1,", 0, "unexpected end of input at byte 4" },
    { "[1,[2,[3]]", 0, "unexpected end of input at byte 11" },
    { "{", 0, "unexpected end of input at byte 2" },
    { "{\"a\"", 0, "unexpected end of input at byte 5" },
    { "{\"a\":", 0, "unexpected end of input at byte 6" },
    { "{\"a\":1", 0, "unexpected end of input at byte 7" },
    { "{\"a\":1,", 0, "unexpected end of input at byte 8" },
    /* Trailing commas, missing commas, bad keys. */
    { "[1,]", 0, "unexpected character ']' at byte 4" },
    { "[1 2]", 0, "unexpected character '2' at byte 4" },
    { "[,1]", 0, "unexpected character ',' at byte 2" },
    { "[1,,2]", 0, "unexpected character ',' at byte 4" },
    { "{\"a\":1,}", 0, "unexpected character '}' at byte 8" },
    { "{\"a\":1 \"b\":2}", 0, "unexpected character '\"' at byte 8" },
    { "{\"a\" 1}", 0, "unexpected character '1' at byte 6" },
    { "{\"a\":}", 0, "unexpected character '}' at byte 6" },
    { "{a:1}", 0, "unexpected character 'a' at byte 2" },
    { "{1:1}", 0, "unexpected character '1' at byte 2" },
    { "{,}", 0, "unexpected character ',' at byte 2" },
    { "[\"a\":1]", 0, "unexpected character ':' at byte 5" },
    { "{\"a\":1]", 0, "unexpected character ']' at byte 7" },
    { "[1}", 0, "unexpected character '}' at byte 3" },
    { "]", 0, "unexpected character ']' at byte 1" },
    /* Anything after the value. */
    { "1 2", 0, "unexpected character '2' at byte 3" },
    { "[1]x", 0, "unexpected character 'x' at byte 4" },
    { "{} {}", 0, "unexpected character '{' at byte 4" },
    { "\"a\"\"b\"", 0, "unexpected character '\"' at byte 4" },
    /* Comments, JavaScript values, single quotes. */
    { "// c\n1", 0, "unexpected character '/' at byte 1" },
    { "/* c */ 1", 0, "unexpected character '/' at byte 1" },
    { "[1] // c", 0, "unexpected character '/' at byte 5" },
    { "NaN", 0, "unexpected character 'N' at byte 1" },
    { "Infinity", 0, "unexpected character 'I' at byte 1" },
    { "-Infinity", 0, "unexpected character 'I' at byte 2" },
    { "undefined", 0, "unexpected character 'u' at byte 1" },
    { "'a'", 0, "unexpected character ''' at byte 1" },
    { "{'a':1}", 0, "unexpected character ''' at byte 2" },
    /* Literals. */
    { "tru", 0, "unexpected end of input at byte 4" },
    { "trUe", 0, "unexpected character 'U' at byte 3" },
    { "True", 0, "unexpected character 'T' at byte 1" },
    { "nul", 0, "unexpected end of input at byte 4" },
    { "nulll", 0, "unexpected character 'l' at byte 5" },
    { "falsey", 0, "unexpected character 'y' at byte 6" },
    { "[truefalse]", 0, "unexpected character 'f' at byte 6" },
    /* Numbers. */
    { "01", 0, "unexpected character '1' at byte 2" },
    { "-01", 0, "unexpected character '1' at byte 3" },
    { "00", 0, "unexpected character '0' at byte 2" },
    { "[012]", 0, "unexpected character '1' at byte 3" },
    { "1.", 0, "unexpected end of input at byte 3" },
    { "1.e5", 0, "unexpected character 'e' at byte 3" },
    { "[1.]", 0, "unexpected character ']' at byte 4" },
    { ".5", 0, "unexpected character '.' at byte 1" },
    { "+1", 0, "unexpected character '+' at byte 1" },
    { "1e", 0, "unexpected end of input at byte 3" },
    { "1e+", 0, "unexpected end of input at byte 4" },
    { "1e+x", 0, "unexpected character 'x' at byte 4" },
    { "1.5.2", 0, "unexpected character '.' at byte 4" },
    { "1e5e5", 0, "unexpected character 'e' at byte 4" },
    { "-", 0, "unexpected end of input at byte 2" },
    { "- 1", 0, "unexpected character ' ' at byte 2" },
    { "--1", 0, "unexpected character '-' at byte 2" },
    { "0x10", 0, "unexpected character 'x' at byte 2" },
    { "1e400", 0, "number out of range at byte 1" },
    { "[0, -1e400]", 0, "number out of range at byte 5" },
    /* Strings. */
    { "\"abc", 0, "unexpected end of input at byte 5" },
    { "[\"a\\n", 0, "unexpected end of input at byte 6" },
    { "\"a\nb\"", 0, "control character in a string at byte 3" },
    { "\"a\tb\"", 0, "control character in a string at byte 3" },
    { "\"\\n\x1f\"", 0, "control character in a string at byte 4" },
    { "\"a\0b\"", 5, "control character in a string at byte 3" },
    { "\"\\x\"", 0, "invalid escape '\\x' at byte 2" },
    { "\"\\'\"", 0, "invalid escape '\\'' at byte 2" },
    { "\"\\U0041\"", 0, "invalid escape '\\U' at byte 2" },
    { "\"ab\\\x01\"", 0, "invalid escape at byte 4" },
    { "\"\\", 0, "unexpected end of input at byte 3" },
    { "\"\\u12\"", 0, "invalid \\u escape at byte 2" },
    { "\"\\u00g0\"", 0, "invalid \\u escape at byte 2" },
    { "\"\\u12", 0, "unexpected end of input at byte 6" },
    { "\"\\uD800\"", 0, "lone surrogate \\ud800 at byte 2" },
    { "\"\\udbff\"", 0, "lone surrogate \\udbff at byte 2" },
    { "\"\\uDC00\"", 0, "lone surrogate \\udc00 at byte 2" },
    { "\"x\\uDFFF\\uD800\"", 0, "lone surrogate \\udfff at byte 3" },
    { "\"\\uD800\\u0041\"", 0, "lone surrogate \\ud800 at byte 2" },
    { "\"\\uD800\\uD800\"", 0, "lone surrogate \\ud800 at byte 2" },
    { "\"\\uD800\\n\"", 0, "lone surrogate \\ud800 at byte 2" },
    { "\"\\uD800\"  ", 0, "lone surrogate \\ud800 at byte 2" },
    { "\"\\uD800\\uZZZZ\"", 0, "invalid \\u escape at byte 8" },
    /* Whitespace is only space, tab, CR and LF; no BOM; no NUL. */
    { "\f1", 0, "unexpected byte 0x0c at byte 1" },
    { "[1,\v2]", 0, "unexpected byte 0x0b at byte 4" },
    { "\xc2\xa0" "1", 0, "unexpected byte 0xc2 at byte 1" },
    { "\xef\xbb\xbf" "1", 0, "unexpected byte 0xef at byte 1" },
    { "1\0", 2, "unexpected byte 0x00 at byte 2" },
    { "\0", 1, "unexpected byte 0x00 at byte 1" },
    { "[1]\x7f", 0, "unexpected byte 0x7f at byte 4" },
};

TEST(decode_errors_name_the_byte)
{
    lua_State *L = new_state();
    for (size_t i = 0; i < BO_COUNT(decode_errors); i++) {
        size_t len = decode_errors[i].len ? decode_errors[i].len : strlen(decode_errors[i].text);
        const char *got = dec_n(L, decode_errors[i].text, len);
        if (strcmp(got, decode_errors[i].err) != 0)
            printf("  input #%zu \"%s\":\n", i, decode_errors[i].text);
        CHECK_STR(got, decode_errors[i].err);
    }
    lua_close(L);
}

TEST(decode_depth_limit)
{
    lua_State *L = new_state();
    char text[600];
    memset(text, '[', 128);
    memset(text + 128, ']', 128);
    CHECK_STR(dec_n(L, text, 256), "ok");
    memset(text, '[', 129);
    memset(text + 129, ']', 129);
    CHECK_STR(dec_n(L, text, 258), "nesting too deep at byte 129");
    CHECK_STR(dec_n(L, text, 200), "nesting too deep at byte 129");
    /* Objects count too, mixed with arrays. */
    size_t n = 0;
    for (int i = 0; i < 64; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "{\"a\":[");
    CHECK_STR(dec_n(L, text, n), "unexpected end of input at byte 385");
    n += (size_t)snprintf(text + n, sizeof text - n, "{");
    CHECK_STR(dec_n(L, text, n), "nesting too deep at byte 385");
    /* Deep but fine, and re-encodes the same. */
    CHECK_STR(run(L, "local s = string.rep('[', 128) .. string.rep(']', 128) "
                     "return json.encode(json.decode(s)) == s"),
              "true");
    lua_close(L);
}

TEST(decode_marks_tables)
{
    lua_State *L = new_state();
    CHECK_STR(run(L, "return getmetatable(json.decode('[]')) == getmetatable(json.array())"), "true");
    CHECK_STR(run(L, "return getmetatable(json.decode('[1, 2]')) == getmetatable(json.array())"), "true");
    CHECK_STR(run(L, "return getmetatable(json.decode('{}')) == getmetatable(json.object())"), "true");
    CHECK_STR(run(L, "return getmetatable(json.decode('{\"a\": 1}'))"), "nil");
    CHECK_STR(redecode(L, "[]"), "[]");
    CHECK_STR(redecode(L, "{}"), "{}");
    CHECK_STR(redecode(L, "{\"a\":[],\"b\":{},\"c\":[[],{}]}"), "{\"a\":[],\"b\":{},\"c\":[[],{}]}");
    /* A decoded array stays an array after it is emptied. */
    CHECK_STR(run(L, "local a = json.decode('[1]') a[1] = nil return json.encode(a)"), "[]");
    lua_close(L);
}

TEST(decode_duplicate_keys_last_wins)
{
    lua_State *L = new_state();
    CHECK_STR(run(L, "return json.decode('{\"a\": 1, \"a\": 2}').a"), "2");
    CHECK_STR(redecode(L, "{\"a\":1,\"b\":2,\"a\":3}"), "{\"a\":3,\"b\":2}");
    CHECK_STR(redecode(L, "{\"a\":1,\"a\":null}"), "{\"a\":null}");
    lua_close(L);
}

TEST(round_trips)
{
    static const char *const texts[] = {
        "null", "true", "false", "0", "-1", "1.5", "\"\"", "\"a\"",
        "[]", "{}", "[[]]", "[{}]", "{\"a\":[]}", "{\"a\":{}}",
        "[1,2,3]", "[1,null,3]", "{\"a\":1,\"b\":[true,false,null]}",
        "\"\\u0001\\\"\\\\\\n\\t\"", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
        "[1.0,-0.0,1e+300,0.1,-2.5e-05]",
        "[9223372036854775807,-9223372036854775808,9.223372036854776e+18]",
        "{\"\":0,\"1\":1,\"A\":1,\"a\":2,\"\xc3\xa9\":3}",
        "{\"id\":7,\"name\":\"Hamza Jones & Smith\",\"postcode\":\"CF1 7BA\",\"vulnerable\":0}",
        "[[[[[[[[[[\"deep\"]]]]]]]]]]",
        "\"</script>\"",
    };
    lua_State *L = new_state();
    for (size_t i = 0; i < BO_COUNT(texts); i++)
        CHECK_STR(redecode(L, texts[i]), texts[i]);
    /* Non-canonical input comes back canonical. */
    CHECK_STR(redecode(L, " { \"b\" : [ 1 , 2 ] , \"a\" : \"\\u0041\\/\" } "), "{\"a\":\"A/\",\"b\":[1,2]}");
    CHECK_STR(redecode(L, "[1E2,1e-0,-0]"), "[100.0,1.0,0]");
    CHECK_STR(redecode(L, "\"\\u00e9\\u001F\\u007f\""), "\"\xc3\xa9\\u001f\x7f\"");
    lua_close(L);
}

/* ---- The Lua API ---- */

TEST(lua_api_conventions)
{
    lua_State *L = new_state();
    CHECK_STR(run(L, "local v, e = json.decode('[1,]') return tostring(v) .. '|' .. e"),
              "nil|unexpected character ']' at byte 4");
    CHECK_STR(run(L, "return select('#', json.decode('[1,]'))"), "2");
    CHECK_STR(run(L, "return select('#', json.decode('[1]'))"), "1");
    CHECK_STR(run(L, "return select('#', json.encode({}))"), "1");
    CHECK_STR(run(L, "return type(json.null)"), "userdata");
    CHECK_STR(run(L, "local v, e = json.decode('null') return tostring(v == json.null) .. tostring(e)"),
              "truenil");
    CHECK_STR(run(L, "return json.encode(json.decode('[null]'))"), "[null]");
    CHECK_STR(run(L, "local ok, e = pcall(json.encode, {f = print}) return tostring(ok) .. ' ' .. e"),
              "false bad argument #1 to 'json.encode' (cannot encode a function)");
    CHECK_STR(run(L, "return select(2, pcall(function() return json.encode({print}) end))"),
              "[string \"return select(2, pcall(function() return json...\"]:1: "
              "bad argument #1 to 'encode' (cannot encode a function)");
    CHECK_STR(run(L, "return select(2, pcall(json.encode))"),
              "bad argument #1 to 'json.encode' (value expected)");
    CHECK_STR(run(L, "return select(2, pcall(json.decode, {}))"),
              "bad argument #1 to 'json.decode' (string expected, got table)");
    CHECK_STR(run(L, "return json.encode(nil)"), "null");
    CHECK_STR(run(L, "local t = {} for k in pairs(json) do t[#t + 1] = k end table.sort(t) "
                     "return table.concat(t, ' ')"),
              "array decode encode null object");

    /* json.null is the same light userdata in every state. */
    lua_State *L2 = new_state();
    lua_getglobal(L, "json");
    lua_getfield(L, -1, "null");
    lua_getglobal(L2, "json");
    lua_getfield(L2, -1, "null");
    CHECK(lua_islightuserdata(L, -1));
    CHECK(lua_touserdata(L, -1) == lua_touserdata(L2, -1));
    bo_json_push_null(L2);
    CHECK(lua_rawequal(L2, -1, -2));
    lua_close(L2);
    lua_settop(L, 0);

    /* bo_json_decode pushes exactly one value, or nothing on error. */
    char err[64];
    lua_pushinteger(L, 1);
    CHECK_EQ_INT(bo_json_decode(L, "{\"a\":[1]}", 9, err, sizeof err), 0);
    CHECK_EQ_INT(lua_gettop(L), 2);
    CHECK(lua_istable(L, -1));
    CHECK_EQ_INT(bo_json_decode(L, "[1, [2, {\"a\": x", 15, err, sizeof err), BO_EPARSE);
    CHECK_STR(err, "unexpected character 'x' at byte 15");
    CHECK_EQ_INT(lua_gettop(L), 2);
    CHECK_EQ_INT(bo_json_decode(L, NULL, 0, err, sizeof err), BO_EPARSE);
    CHECK_STR(err, "unexpected end of input at byte 1");
    CHECK_EQ_INT(bo_json_decode(L, "x", 1, NULL, 0), BO_EPARSE);
    CHECK_EQ_INT(bo_json_decode(L, "[1,]", 4, err, 11), BO_EPARSE);
    CHECK_STR(err, "unexpected");
    CHECK_EQ_INT(lua_gettop(L), 2);
    lua_close(L);
}

/* ---- Memory ---- */

typedef struct capped {
    size_t used;
    size_t limit;
} capped;

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    capped *c = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        c->used -= old;
        return NULL;
    }
    if (nsize > old && c->used + (nsize - old) > c->limit)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    c->used = c->used - old + nsize;
    return p;
}

/* Under a memory cap, every failure is a Lua memory error and nothing
   leaks (ASan checks the C side when the states close). */
TEST(survives_memory_limit)
{
    static const char setup[] =
        "text = '{\"rows\": [' .. string.rep('{\"id\": 1, \"name\": \"a\\\\nb \\\\u00e9\", "
        "\"tags\": [true, null, 1.5]},', 40) .. '{}], \"k\": \"' .. string.rep('x\\\\t', 300) .. '\"}' "
        "function f() "
        "  local v = assert(json.decode(text)) "
        "  local t = {} for i = 1, 200 do t['key' .. i] = {i, 'v' .. i, {x = i}} end "
        "  return #json.encode(v) + #json.encode(t, {indent = 2}) + #json.encode(v.rows) "
        "end";
    int ok_runs = 0, mem_errors = 0, stack_full = 0, other = 0;
    long expected = -1;
    for (size_t extra = 0; extra < 400000; extra += extra < 20000 ? 61 : 4099) {
        capped c = { 0, (size_t)-1 };
        lua_State *L = lua_newstate(capped_alloc, &c);
        luaL_openlibs(L);
        bo_json_open(L);
        lua_setglobal(L, "json");
        if (luaL_dostring(L, setup)) {
            other++;
            lua_close(L);
            continue;
        }
        lua_gc(L, LUA_GCCOLLECT);
        c.limit = c.used + extra;
        lua_getglobal(L, "f");
        int rc = lua_pcall(L, 0, 1, 0);
        if (rc == LUA_OK) {
            long n = (long)lua_tointeger(L, -1);
            if (expected < 0)
                expected = n;
            if (n != expected)
                other++;
            ok_runs++;
        } else if (rc == LUA_ERRMEM) {
            mem_errors++;
        } else if (strstr(lua_tostring(L, -1), "(the Lua stack is full)") ||
                   strstr(lua_tostring(L, -1), "stack overflow")) {
            /* The stack could not grow under the cap: lua_checkstack does
               not say why, so this is reported as a plain error. */
            stack_full++;
        } else {
            printf("  unexpected error: %s\n", lua_tostring(L, -1));
            other++;
        }
        c.limit = (size_t)-1;
        lua_close(L);
    }
    CHECK(ok_runs > 0);
    CHECK(mem_errors > 100);
    CHECK(stack_full < 20);
    CHECK_EQ_INT(other, 0);
}

/* Finalizers run during the decoder's allocations and themselves encode and
   decode: the shared scratch must not be disturbed. */
TEST(finalizers_may_reenter)
{
    lua_State *L = new_state();
    CHECK_STR(run(L,
        "local seen, bad = 0, 0 "
        "local want = '{\"a\":[\"x\\\\n\",1.5,{\"k\":[true]}]}' "
        "local mt = {__gc = function() "
        "  local s = json.encode({a = json.decode('[\"x\\\\n\", 1.5, {\"k\": [true]}]')}) "
        "  if s ~= want then bad = bad + 1 end "
        "  seen = seen + 1 "
        "end} "
        "local text = '{\"s\": \"a\\\\tb\\\\u00e9\", \"n\": [1, 2, 3], \"o\": {\"p\": \"q\\\\\"\"}}' "
        "for i = 1, 20000 do "
        "  setmetatable({}, mt) "
        "  local v = json.decode(text) "
        "  if v.s ~= 'a\\tb\\u{e9}' or v.o.p ~= 'q\"' or #v.n ~= 3 then bad = bad + 1 end "
        "  local e = json.encode(v) "
        "  if e ~= '{\"n\":[1,2,3],\"o\":{\"p\":\"q\\\\\"\"},\"s\":\"a\\\\tb\\u{e9}\"}' then bad = bad + 1 end "
        "end "
        "collectgarbage() "
        "return (seen > 1000) and bad or ('only ' .. seen)"),
        "0");
    lua_close(L);
}

/* ---- the Lua-free tree (bo_json_parse) ---- */

static int tree(const char *text, bo_jval **v, char *err, size_t errlen)
{
    return bo_json_parse(text, strlen(text), v, err, errlen);
}

TEST(tree_values)
{
    bo_jval *v;
    char err[96];
    CHECK_EQ_INT(tree(" {\"a\":[1,-2.5e1,\"x\\u00e9\\n\",true,false,null,{}],\"b\":9223372036854775807,"
                      "\"c\":18446744073709551616,\"\\u0000k\":\"\"} ", &v, err, sizeof err), 0);
    CHECK_EQ_INT(v->type, BO_JSON_OBJECT);
    CHECK_EQ_INT(v->count, 4);
    const bo_jval *a = bo_jval_get(v, "a");
    CHECK(a && a->type == BO_JSON_ARRAY && a->count == 7 && a->key && !a->first->key);
    const bo_jval *e = a->first;
    CHECK(e->type == BO_JSON_INTEGER && e->integer == 1);
    e = e->next;
    CHECK(e->type == BO_JSON_FLOAT && e->number == -25.0);
    e = e->next;
    CHECK(e->type == BO_JSON_STRING);
    CHECK_MEM(e->str, e->len, "x\xc3\xa9\n");
    CHECK_EQ_INT(e->next->type, BO_JSON_TRUE);
    CHECK_EQ_INT(e->next->next->type, BO_JSON_FALSE);
    CHECK_EQ_INT(e->next->next->next->type, BO_JSON_NULL);
    CHECK_EQ_INT(e->next->next->next->next->type, BO_JSON_OBJECT);
    CHECK_EQ_INT(bo_jval_get(v, "b")->integer, 9223372036854775807LL);
    CHECK_EQ_INT(bo_jval_get(v, "c")->type, BO_JSON_FLOAT);
    CHECK(bo_jval_get(v, "k") == NULL);          /* the key is "\0k" */
    CHECK(bo_jval_string(v, "a") == NULL);
    CHECK(bo_jval_get(a, "a") == NULL);          /* not an object */
    bo_jval_free(v);
    CHECK_EQ_INT(tree("\"s\"", &v, err, sizeof err), 0);
    CHECK_STR(v->str, "s");
    bo_jval_free(v);
}

TEST(tree_errors)
{
    static const struct { const char *text, *err; } cases[] = {
        { "{\"a\":1,\"a\":2}", "duplicate member name at byte 8" },
        { "{\"a\":1,\"\\u0061\":2}", "duplicate member name at byte 8" },
        { "[1,2", "unexpected end of input at byte 5" },
        { "[1,]", "unexpected character ']' at byte 4" },
        { "{\"a\":[1,{\"b\":tru}]}", "unexpected character '}' at byte 17" },
        { "\"\\ud800\"", "lone surrogate \\ud800 at byte 2" },
        { "1 2", "unexpected character '2' at byte 3" },
        { "", "unexpected end of input at byte 1" },
        { "\"\xff\"", "invalid UTF-8 in a string at byte 2" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bo_jval *v = (bo_jval *)1;
        char err[96];
        CHECK_EQ_INT(tree(cases[i].text, &v, err, sizeof err), BO_EPARSE);
        CHECK(v == NULL);
        CHECK_STR(err, cases[i].err);
    }
    /* Nesting and member limits. */
    char deep[2 * BO_JSON_MAX_DEPTH + 3];
    memset(deep, '[', BO_JSON_MAX_DEPTH + 1);
    memset(deep + BO_JSON_MAX_DEPTH + 1, ']', BO_JSON_MAX_DEPTH + 1);
    deep[2 * BO_JSON_MAX_DEPTH + 2] = '\0';
    bo_jval *v;
    char err[96];
    CHECK_EQ_INT(tree(deep, &v, err, sizeof err), BO_EPARSE);
    CHECK_STR(err, "nesting too deep at byte 129");
    deep[BO_JSON_MAX_DEPTH + BO_JSON_MAX_DEPTH + 1] = '\0';
    CHECK_EQ_INT(tree(deep + 1, &v, err, sizeof err), 0);
    bo_jval_free(v);
    bo_buf b;
    bo_buf_init(&b);
    bo_buf_putc(&b, '{');
    for (int i = 0; i <= BO_JSON_MAX_MEMBERS; i++)
        bo_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    bo_buf_putc(&b, '}');
    CHECK_EQ_INT(bo_json_parse(b.data, b.len, &v, err, sizeof err), BO_EPARSE);
    CHECK(strstr(err, "too many members in an object") == err);
    bo_buf_free(&b);
}

/* bo_jval_at walks members and array elements; bo_jval_copy_string
   copies only a string that fits. (What notify.c reads from Notify's
   answers.) */
TEST(tree_paths)
{
    static const char doc[] = "{\"errors\":[{\"message\":\"bad key\"},{\"message\":\"second\"}],"
                              "\"id\":\"abc\",\"n\":5,\"nul\":\"a\\u0000b\"}";
    bo_jval *v;
    char err[128], out[16];
    CHECK_EQ_INT(bo_json_parse(doc, sizeof doc - 1, &v, err, sizeof err), 0);
    static const char *const first[] = { "errors", "#0", "message", NULL };
    static const char *const second[] = { "errors", "#1", "message", NULL };
    static const char *const third[] = { "errors", "#2", "message", NULL };
    static const char *const not_array[] = { "id", "#0", NULL };
    static const char *const id[] = { "id", NULL }, *const n[] = { "n", NULL }, *const nul[] = { "nul", NULL };
    CHECK(bo_jval_copy_string(bo_jval_at(v, first), out, sizeof out));
    CHECK_STR(out, "bad key");
    CHECK(bo_jval_copy_string(bo_jval_at(v, second), out, sizeof out));
    CHECK_STR(out, "second");
    CHECK(bo_jval_at(v, third) == NULL);
    CHECK(bo_jval_at(v, not_array) == NULL);
    CHECK(bo_jval_copy_string(bo_jval_at(v, id), out, 4));         /* "abc" and its NUL */
    CHECK(!bo_jval_copy_string(bo_jval_at(v, id), out, 3));        /* does not fit */
    CHECK(!bo_jval_copy_string(bo_jval_at(v, n), out, sizeof out)); /* not a string */
    CHECK(!bo_jval_copy_string(bo_jval_at(v, nul), out, sizeof out));
    CHECK(!bo_jval_copy_string(NULL, out, sizeof out));
    bo_jval_free(v);
}

/* The coder charges its work through the state's meter (meter.h), and a
   spent budget fails the encode with the meter's reason. */
static unsigned long long metered;
static const char *spent_after;
static const char *count_steps(bo_meter *m, unsigned steps)
{
    (void)m;
    metered += steps;
    return spent_after && metered > 1000 ? spent_after : NULL;
}
static void charge_or_raise(lua_State *L, unsigned steps)
{
    metered += steps;
    if (spent_after && metered > 1000)
        luaL_error(L, "%s", spent_after);
}
static int encode_top(lua_State *L)
{
    bo_buf *out = lua_touserdata(L, 1);
    char err[160];
    bo_json_encode(L, 2, out, err, sizeof err);
    return 0;
}
static int install_meter(lua_State *L)
{
    bo_meter_install(L, lua_touserdata(L, 1));
    return 0;
}

TEST(charges_the_meter)
{
    lua_State *L = luaL_newstate();
    bo_buf out;
    bo_buf_init(&out);
    char err[160];
    CHECK(bo_meter_of(L) == NULL);
    lua_createtable(L, 5000, 0);
    for (int i = 1; i <= 5000; i++) {
        lua_pushinteger(L, i);
        lua_rawseti(L, -2, i);
    }
    CHECK_EQ_INT(bo_json_encode(L, -1, &out, err, sizeof err), 0);   /* not metered: nothing charged */
    CHECK_EQ_INT(metered, 0);
    static bo_meter m = { count_steps, charge_or_raise };
    lua_pushcfunction(L, install_meter);
    lua_pushlightuserdata(L, &m);
    CHECK_EQ_INT(lua_pcall(L, 1, 0, 0), LUA_OK);
    CHECK(bo_meter_of(L) == &m);
    out.len = 0;
    CHECK_EQ_INT(bo_json_encode(L, -1, &out, err, sizeof err), 0);
    CHECK(metered >= 5000);
    metered = 0;
    CHECK_EQ_INT(bo_json_decode(L, out.data, out.len, err, sizeof err), 0);
    CHECK(metered >= 5000);
    lua_pop(L, 1);
    metered = 0;
    spent_after = "the budget is spent";
    out.len = 0;
    lua_pushcfunction(L, encode_top);
    lua_pushlightuserdata(L, &out);
    lua_pushvalue(L, -3);
    CHECK_EQ_INT(lua_pcall(L, 2, 0, 0), LUA_ERRRUN);
    CHECK(strstr(lua_tostring(L, -1), "the budget is spent") != NULL);
    lua_pop(L, 1);
    spent_after = NULL;
    bo_buf_free(&out);
    lua_close(L);
}

static const unit_case cases[] = {
    UNIT_CASE(tree_paths)
    UNIT_CASE(charges_the_meter)
    UNIT_CASE(tree_values)
    UNIT_CASE(tree_errors)
    UNIT_CASE(encodes_scalars)
    UNIT_CASE(encodes_integers)
    UNIT_CASE(encodes_floats)
    UNIT_CASE(floats_round_trip)
    UNIT_CASE(refuses_nan_and_infinity)
    UNIT_CASE(escapes_control_characters)
    UNIT_CASE(escapes_only_what_json_requires)
    UNIT_CASE(accepts_valid_utf8)
    UNIT_CASE(encoder_refuses_invalid_utf8)
    UNIT_CASE(decoder_refuses_invalid_utf8)
    UNIT_CASE(sorts_object_keys)
    UNIT_CASE(sorts_large_objects)
    UNIT_CASE(encodes_integer_keys_as_strings)
    UNIT_CASE(refuses_bad_keys)
    UNIT_CASE(refuses_unencodable_values)
    UNIT_CASE(detects_arrays)
    UNIT_CASE(empty_tables_and_marks)
    UNIT_CASE(marks_return_the_table)
    UNIT_CASE(encodes_columns_in_order)
    UNIT_CASE(pretty_prints)
    UNIT_CASE(encode_depth_limit)
    UNIT_CASE(encode_limits_text_size)
    UNIT_CASE(encode_appends_and_restores_on_error)
    UNIT_CASE(decodes_values)
    UNIT_CASE(decodes_escapes)
    UNIT_CASE(decodes_numbers)
    UNIT_CASE(decode_errors_name_the_byte)
    UNIT_CASE(decode_depth_limit)
    UNIT_CASE(decode_marks_tables)
    UNIT_CASE(decode_duplicate_keys_last_wins)
    UNIT_CASE(round_trips)
    UNIT_CASE(lua_api_conventions)
    UNIT_CASE(survives_memory_limit)
    UNIT_CASE(finalizers_may_reenter)
};

int main(void)
{
    return UNIT_RUN("json", cases);
}
