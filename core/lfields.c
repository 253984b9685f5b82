/*
 * lfields.c - borough._fields, the lexical helpers of fields.lua (see
 * lfields.h).
 */
#include "lfields.h"
#include "csv.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#define BYTES_PER_STEP 16

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static const char *check_string(lua_State *L, size_t *len)
{
    const char *s = luaL_checklstring(L, 1, len);
    bo_sandbox_charge(L, (unsigned)(*len / BYTES_PER_STEP + 1));
    return s;
}

/* Trims s[0..len) at both ends; returns the start, *n the length left. */
static const char *trim(const char *s, size_t len, size_t *n)
{
    size_t a = 0, b = len;
    while (a < b && is_space((unsigned char)s[a]))
        a++;
    while (b > a && is_space((unsigned char)s[b - 1]))
        b--;
    *n = b - a;
    return s + a;
}

/* text(s, multiline) -> trimmed | nil, "control" | "lines" */
static int l_text(lua_State *L)
{
    size_t len, n;
    const char *s = check_string(L, &len);
    bool multiline = lua_toboolean(L, 2);
    const char *t = trim(s, len, &n);
    bool has_cr = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c >= 0x20 && c != 0x7f)
            continue;
        if (c == '\t')
            continue;
        if (c == '\n' || c == '\r') {
            if (!multiline) {
                luaL_pushfail(L);
                lua_pushliteral(L, "lines");
                return 2;
            }
            has_cr |= c == '\r';
            continue;
        }
        luaL_pushfail(L);
        lua_pushliteral(L, "control");
        return 2;
    }
    if (!bo_utf8_valid(t, n)) {
        luaL_pushfail(L);
        lua_pushliteral(L, "control");
        return 2;
    }
    if (!has_cr) {
        if (n == len)
            lua_settop(L, 1);                 /* unchanged: the same string */
        else
            lua_pushlstring(L, t, n);
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinitsize(L, &b, n);
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '\r') {
            luaL_addchar(&b, '\n');
            if (i + 1 < n && t[i + 1] == '\n')
                i++;
        } else {
            luaL_addchar(&b, t[i]);
        }
    }
    luaL_pushresult(&b);
    return 1;
}

/* digits(s [, extra]) -> the digits | nil */
static int l_digits(lua_State *L)
{
    size_t len;
    const char *s = check_string(L, &len);
    const char *extra = luaL_optstring(L, 2, "");
    char small[64];
    luaL_Buffer b;
    bool big = len >= sizeof small;
    size_t n = 0;
    if (big)
        luaL_buffinitsize(L, &b, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_digit(c)) {
            if (big)
                luaL_addchar(&b, (char)c);
            else
                small[n] = (char)c;
            n++;
        } else if (!(is_space(c) || c == '-' || c == '.' || c == '(' || c == ')' || (c && strchr(extra, c)))) {
            luaL_pushfail(L);
            return 1;
        }
    }
    if (n == 0) {
        luaL_pushfail(L);
        return 1;
    }
    if (big)
        luaL_pushresult(&b);
    else
        lua_pushlstring(L, small, n);
    return 1;
}

static bool real_date(int y, int m, int d)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (y < 1000 || y > 9999 || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

/* Reads 1 to max digits at *p; returns the number or -1. */
static int number(const char **p, const char *end, int min, int max)
{
    int v = 0, n = 0;
    while (*p < end && is_digit((unsigned char)**p) && n < max) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return n >= min ? v : -1;
}

static bool date_separator(char c)
{
    return c == '/' || c == '-' || c == '.' || c == ' ';
}

/* date(s) -> "YYYY-MM-DD" | nil */
static int l_date(lua_State *L)
{
    size_t len, n;
    const char *s = check_string(L, &len);
    s = trim(s, len, &n);
    const char *p = s, *end = s + n;
    int y, m, d;
    if (n >= 8 && is_digit((unsigned char)s[0]) && is_digit((unsigned char)s[3]) && s[4] == '-') {
        y = number(&p, end, 4, 4);
        p++;
        m = number(&p, end, 1, 2);
        if (p < end && *p == '-')
            p++;
        else
            m = -1;
        d = number(&p, end, 1, 2);
    } else {
        d = number(&p, end, 1, 2);
        bool sep = false;
        while (p < end && date_separator(*p))
            p++, sep = true;
        m = sep ? number(&p, end, 1, 2) : -1;
        sep = false;
        while (p < end && date_separator(*p))
            p++, sep = true;
        y = sep ? number(&p, end, 4, 4) : -1;
    }
    if (p != end || y < 0 || m < 0 || d < 0 || !real_date(y, m, d)) {
        luaL_pushfail(L);
        return 1;
    }
    char out[32];
    snprintf(out, sizeof out, "%04d-%02d-%02d", y, m, d);
    lua_pushstring(L, out);
    return 1;
}

static bool in_set(char c, const char *set)
{
    return c && strchr(set, c) != NULL;
}

/* postcode(s) -> "SW1A 1AA" | nil */
static int l_postcode(lua_State *L)
{
    size_t len;
    const char *s = check_string(L, &len);
    char pc[8];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_space(c))
            continue;
        if (n == 7 || !is_alnum(c)) {
            luaL_pushfail(L);
            return 1;
        }
        pc[n++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    pc[n] = '\0';
    if (strcmp(pc, "GIR0AA") == 0) {
        lua_pushliteral(L, "GIR 0AA");
        return 1;
    }
    /* The inward code: a digit and two letters Royal Mail uses there. */
    static const char inward_letters[] = "ABDEFGHJLNPQRSTUWXYZ";
    if (n < 5 || !is_digit((unsigned char)pc[n - 3]) || !in_set(pc[n - 2], inward_letters) ||
        !in_set(pc[n - 1], inward_letters)) {
        luaL_pushfail(L);
        return 1;
    }
    /* The outward code: A9, A99, AA9, AA99, A9A or AA9A. */
    size_t out = n - 3, i = 0;
    bool ok = in_set(pc[i++], "ABCDEFGHIJKLMNOPRSTUWYZ");
    if (ok && i < out && in_set(pc[i], "ABCDEFGHKLMNOPQRSTUVWXY"))
        i++;
    ok = ok && i < out && is_digit((unsigned char)pc[i++]);
    if (ok && i < out && (is_digit((unsigned char)pc[i]) || in_set(pc[i], "ABCDEFGHJKMNPRSTUVWXY")))
        i++;
    if (!ok || i != out) {
        luaL_pushfail(L);
        return 1;
    }
    char norm[9];
    snprintf(norm, sizeof norm, "%.*s %s", (int)out, pc, pc + out);
    lua_pushstring(L, norm);
    return 1;
}

/* email(s) -> true | false */
static int l_email(lua_State *L)
{
    size_t len;
    const char *s = check_string(L, &len);
    const char *at = memchr(s, '@', len);
    bool ok = at && at > s && bo_utf8_valid(s, len) && !memchr(at + 1, '@', len - (size_t)(at + 1 - s));
    for (const char *p = s; ok && p < at; p++)
        ok = !is_space((unsigned char)*p);
    const char *domain = at ? at + 1 : NULL, *end = s + len;
    bool dot = false;
    if (ok)
        ok = domain < end && is_alnum((unsigned char)domain[0]) && is_alnum((unsigned char)end[-1]);
    for (const char *p = domain; ok && p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '.') {
            dot = true;
            ok = p[1] != '.';
        } else {
            ok = is_alnum(c) || c == '-';
        }
    }
    for (const char *p = s; ok && p + 1 < at; p++)
        ok = !(p[0] == '.' && p[1] == '.');
    lua_pushboolean(L, ok && dot);
    return 1;
}

/* record(n) -> a new table with room for n fields (no rehash as it fills) */
static int l_record(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0 && n <= 4096, 1, "from 0 to 4096");
    lua_createtable(L, 0, (int)n);
    return 1;
}

int bo_lfields_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "record", l_record },
        { "text", l_text },
        { "digits", l_digits },
        { "date", l_date },
        { "postcode", l_postcode },
        { "email", l_email },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
    return 1;
}
