/*
 * lfields.c - borough._fields, the lexical helpers of fields.lua (see
 * lfields.h).
 */
#include "lfields.h"
#include "csv.h"
#include "db.h"
#include "lapi.h"
#include "lcsv.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if LUA_FLOAT_TYPE != LUA_FLOAT_DOUBLE || LUA_INT_TYPE != LUA_INT_LONGLONG
#error "the number readers read as Lua does with 64-bit integers and double floats"
#endif

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

/* Reads text: trimmed (the start in *t, the length in *n), valid UTF-8
   without control characters (a tab is fine) and, unless multiline,
   without line breaks. Returns NULL, or why not: "control" or "lines".
   *has_cr says whether a CR is left to turn into LF (push_text does). */
static const char *read_text(const char *s, size_t len, bool multiline, const char **t, size_t *n, bool *has_cr)
{
    *t = trim(s, len, n);
    *has_cr = false;
    for (size_t i = 0; i < *n; i++) {
        unsigned char c = (unsigned char)(*t)[i];
        if (c >= 0x20 && c != 0x7f)
            continue;
        if (c == '\t')
            continue;
        if (c == '\n' || c == '\r') {
            if (!multiline)
                return "lines";
            *has_cr |= c == '\r';
            continue;
        }
        return "control";
    }
    if (!bo_utf8_valid(*t, *n))
        return "control";
    return NULL;
}

/* Pushes text read by read_text from the string at idx (itself, when
   nothing was trimmed or changed). */
static void push_text(lua_State *L, int idx, size_t len, const char *t, size_t n, bool has_cr)
{
    if (!has_cr) {
        if (n == len && idx)
            lua_pushvalue(L, idx);            /* unchanged: the same string */
        else
            lua_pushlstring(L, t, n);
        return;
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
}

/* text(s, multiline) -> trimmed | nil, "control" | "lines" */
static int l_text(lua_State *L)
{
    size_t len, n;
    const char *s = check_string(L, &len), *t;
    bool has_cr;
    const char *why = read_text(s, len, lua_toboolean(L, 2), &t, &n, &has_cr);
    if (why) {
        luaL_pushfail(L);
        lua_pushstring(L, why);
        return 2;
    }
    push_text(L, 1, len, t, n, has_cr);
    return 1;
}

/* How digits() reads byte c: 1 a digit, 0 a separator it skips, -1 a byte
   that makes the text not a number. */
static int digit_class(unsigned char c, const char *extra)
{
    if (is_digit(c))
        return 1;
    if (is_space(c) || c == '-' || c == '.' || c == '(' || c == ')' || (c && strchr(extra, c)))
        return 0;
    return -1;
}

/* The digits of s[0..len) into out (at most cap of them); returns how
   many, or -1 if s is not a number or has more than cap digits. */
static int small_digits(const char *s, size_t len, char *out, int cap)
{
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        int k = digit_class((unsigned char)s[i], "");
        if (k < 0 || (k == 1 && n == cap))
            return -1;
        if (k == 1)
            out[n++] = s[i];
    }
    return n > 0 ? n : -1;
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
        int k = digit_class(c, extra);
        if (k == 1) {
            if (big)
                luaL_addchar(&b, (char)c);
            else
                small[n] = (char)c;
            n++;
        } else if (k < 0) {
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

/* Reads a date into out ("YYYY-MM-DD"); false if s is not a real date. */
static bool read_date(const char *s, size_t len, char out[16])
{
    size_t n;
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
    if (p != end || y < 0 || m < 0 || d < 0 || !real_date(y, m, d))
        return false;
    /* real_date() holds y to 1000..9999, m to 1..12 and d to 1..31. */
    const char digits[] = "0123456789";
    char *o = out;
    *o++ = digits[y / 1000], *o++ = digits[y / 100 % 10], *o++ = digits[y / 10 % 10], *o++ = digits[y % 10];
    *o++ = '-', *o++ = digits[m / 10], *o++ = digits[m % 10];
    *o++ = '-', *o++ = digits[d / 10], *o++ = digits[d % 10];
    *o = '\0';
    return true;
}

/* date(s) -> "YYYY-MM-DD" | nil */
static int l_date(lua_State *L)
{
    size_t len;
    const char *s = check_string(L, &len);
    char out[16];
    if (!read_date(s, len, out)) {
        luaL_pushfail(L);
        return 1;
    }
    lua_pushlstring(L, out, 10);
    return 1;
}

static bool in_set(char c, const char *set)
{
    return c && strchr(set, c) != NULL;
}

/* Reads a UK postcode into out in its standard form ("SW1A 1AA");
   false if s is not one. */
static bool read_postcode(const char *s, size_t len, char out[9])
{
    char pc[8];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_space(c))
            continue;
        if (n == 7 || !is_alnum(c))
            return false;
        pc[n++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    pc[n] = '\0';
    if (strcmp(pc, "GIR0AA") == 0) {
        memcpy(out, "GIR 0AA", 8);
        return true;
    }
    /* The inward code: a digit and two letters Royal Mail uses there. */
    static const char inward_letters[] = "ABDEFGHJLNPQRSTUWXYZ";
    if (n < 5 || !is_digit((unsigned char)pc[n - 3]) || !in_set(pc[n - 2], inward_letters) ||
        !in_set(pc[n - 1], inward_letters))
        return false;
    /* The outward code: A9, A99, AA9, AA99, A9A or AA9A. */
    size_t outward = n - 3, i = 0;
    bool ok = in_set(pc[i++], "ABCDEFGHIJKLMNOPRSTUWYZ");
    if (ok && i < outward && in_set(pc[i], "ABCDEFGHKLMNOPQRSTUVWXY"))
        i++;
    ok = ok && i < outward && is_digit((unsigned char)pc[i++]);
    if (ok && i < outward && (is_digit((unsigned char)pc[i]) || in_set(pc[i], "ABCDEFGHJKMNPRSTUVWXY")))
        i++;
    if (!ok || i != outward)
        return false;
    memcpy(out, pc, outward);
    out[outward] = ' ';
    memcpy(out + outward + 1, pc + outward, 4);      /* the inward code and its NUL */
    return true;
}

/* postcode(s) -> "SW1A 1AA" | nil */
static int l_postcode(lua_State *L)
{
    size_t len;
    const char *s = check_string(L, &len);
    char out[9];
    if (!read_postcode(s, len, out)) {
        luaL_pushfail(L);
        return 1;
    }
    lua_pushstring(L, out);
    return 1;
}

/* True if s looks like an email address (see lfields.h). */
static bool email_ok(const char *s, size_t len)
{
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
    return ok && dot;
}

/* email(s) -> true | false */
static int l_email(lua_State *L)
{
    size_t len;
    const char *s = check_string(L, &len);
    lua_pushboolean(L, email_ok(s, len));
    return 1;
}

/* ---- whole numbers, numbers and money, as fields.lua's parse reads them ----

   Each drops the spaces and commas anywhere in the text (gsub "[%s,]"),
   then reads what is left as the parse's pattern and tonumber do. */

/* A number as Lua holds one: an integer or a float. */
typedef struct lnum {
    bool is_int;
    lua_Integer i;
    double d;
} lnum;

#define NUMBER_MAX 64        /* bytes a number keeps; a longer one is left to Lua */

/* s[0..len) without spaces and commas into out, NUL-terminated; its
   length, or -1 when that is NUMBER_MAX or more. */
static int squeeze(const char *s, size_t len, char out[NUMBER_MAX])
{
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_space(c) || c == ',')
            continue;
        if (n == NUMBER_MAX - 1)
            return -1;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return n;
}

/* How many digits start s[0..n). */
static size_t digit_run(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_digit((unsigned char)s[i]))
        i++;
    return i;
}

/* `math.tointeger(tonumber(s)) or tonumber(s)` for s[0..n) (NUL-terminated:
   an optional sign, then digits with at most one '.', and a digit): the
   integer tonumber reads, or its float, made an integer when it is a
   whole number in the integers' range. False if strtod does not read all
   of s (a locale whose decimal point is not '.'; Lua then reads it). */
static bool tonumber_as_lua(const char *s, size_t n, lnum *v)
{
    /* A decimal integer first, as Lua's l_str2int reads it: one past the
       integers (or with a '.') is read as a float, by strtod, as Lua does. */
    const lua_Unsigned maxby10 = (lua_Unsigned)LUA_MAXINTEGER / 10;
    const int maxlastd = (int)((lua_Unsigned)LUA_MAXINTEGER % 10);
    bool neg = s[0] == '-';
    size_t i = s[0] == '-' || s[0] == '+';
    lua_Unsigned a = 0;
    for (; i < n && is_digit((unsigned char)s[i]); i++) {
        int d = s[i] - '0';
        if (a >= maxby10 && (a > maxby10 || d > maxlastd + neg))
            break;
        a = a * 10 + (lua_Unsigned)d;
    }
    if (i == n) {
        v->is_int = true;
        v->i = (lua_Integer)(neg ? 0u - a : a);
        return true;
    }
    char *end;
    v->d = strtod(s, &end);
    if (end != s + n)
        return false;
    v->is_int = v->d >= -0x1p63 && v->d < 0x1p63 && v->d == floor(v->d);    /* math.tointeger */
    if (v->is_int)
        v->i = (lua_Integer)v->d;
    return true;
}

/* An integer field's text as types.integer's parse reads it: an optional
   sign and digits, a whole number Lua holds as an integer. */
static bool read_integer(const char *s, size_t len, char buf[NUMBER_MAX], lnum *v)
{
    int n = squeeze(s, len, buf);
    if (n <= 0)
        return false;
    size_t i = buf[0] == '-' || buf[0] == '+';
    return i < (size_t)n && digit_run(buf + i, (size_t)n - i) == (size_t)n - i &&
           tonumber_as_lua(buf, (size_t)n, v) && v->is_int;
}

/* A number field's text as types.number's parse reads it: an optional
   sign, digits, a '.' and digits ("12", "12.", "12.5", ".5"). */
static bool read_number(const char *s, size_t len, char buf[NUMBER_MAX], lnum *v)
{
    int n = squeeze(s, len, buf);
    if (n <= 0)
        return false;
    size_t i = buf[0] == '-' || buf[0] == '+';
    size_t whole = digit_run(buf + i, (size_t)n - i), frac = 0;
    i += whole;
    if (i < (size_t)n && buf[i] == '.') {
        i++;
        frac = digit_run(buf + i, (size_t)n - i);
        i += frac;
    }
    return i == (size_t)n && (whole > 0 || frac > 0) && tonumber_as_lua(buf, (size_t)n, v);
}

/* A money field's text as fields.lua's parse_money_text reads it
   ("£1,250.50", "-£5", "12"), in whole pence. */
static bool read_money(const char *s, size_t len, char buf[NUMBER_MAX], lnum *v)
{
    int n = squeeze(s, len, buf);
    if (n < 0)
        return false;
    const char *p = buf, *end = buf + n;
    bool neg = false;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    if (end - p >= 2 && p[0] == '\xC2' && p[1] == '\xA3')         /* "£" */
        p += 2;
    if (!neg && p < end && *p == '-')
        neg = true, p++;
    size_t whole = digit_run(p, (size_t)(end - p)), frac = 0;
    if (whole > 15)
        return false;
    lua_Integer pounds = 0, pence = 0;
    for (size_t k = 0; k < whole; k++)
        pounds = pounds * 10 + (*p++ - '0');
    if (p < end && *p == '.')
        p++;
    for (; frac < 2 && p < end && is_digit((unsigned char)*p); frac++)
        pence = pence * 10 + (*p++ - '0');
    if (p != end || (whole == 0 && frac == 0))
        return false;
    v->is_int = true;
    v->i = pounds * 100 + (frac == 1 ? pence * 10 : pence);
    if (neg)
        v->i = -v->i;
    return true;
}

/* -1, 0 or 1 as the integer i is less than, equal to or more than the
   float d, exactly (as Lua compares them); 2 when d is NaN. */
static int compare_int_float(lua_Integer i, double d)
{
    if (d != d)
        return 2;
    if (d >= 0x1p63)
        return -1;
    if (d < -0x1p63)
        return 1;
    double whole = floor(d);                   /* fits: -2^63 <= whole < 2^63 */
    lua_Integer w = (lua_Integer)whole;
    if (i != w)
        return i < w ? -1 : 1;
    return whole == d ? 0 : -1;
}

/* a < b, as Lua's < is for numbers, whatever their kinds. */
static bool less(const lnum *a, const lnum *b)
{
    if (a->is_int && b->is_int)
        return a->i < b->i;
    if (!a->is_int && !b->is_int)
        return a->d < b->d;
    if (a->is_int)
        return compare_int_float(a->i, b->d) == -1;
    return compare_int_float(b->i, a->d) == 1;
}

/* ---- a new record's fields, read in one call (Entity:validate) ----

   A plan says, for each field of an entity, what read_fields can do for
   it: the types below, read exactly as their parse in fields.lua reads
   text, and the checks it can make (length, the range of a date or a
   number). Everything else (other types, values that are not text,
   pattern, validators, unique, references) and every value that fails is
   left to Entity:validate's loops, so a message always comes from
   fields.lua. */

enum kind {
    K_LUA, K_TEXT, K_LONG_TEXT, K_EMAIL, K_POSTCODE, K_NHS, K_DATE, K_CHOICE, K_BOOLEAN, K_PHONE,
    K_INTEGER, K_NUMBER, K_MONEY
};

#define MAX_PLANNED 62       /* fields a plan covers: bits of a Lua integer */

enum bound { NO_BOUND, FIXED, TODAY };

typedef struct planned {
    enum kind kind;
    bool required;
    bool has_default;        /* an absent value takes it: left to Lua */
    bool lua_check;          /* something only Lua checks: always left to it */
    bool unique;             /* Lua checks it too, or (insert_rows) the table's index */
    double min_length, max_length;    /* -1: none */
    enum bound min, max;     /* the range of a date (TODAY or FIXED) or a number (FIXED) */
    char min_date[16], max_date[16];
    lnum min_num, max_num;
} planned;

typedef struct plan {
    int n;                   /* fields, or -1: more than MAX_PLANNED */
    planned f[MAX_PLANNED];
} plan;

static const char *const kind_names[] = {
    "", "text", "long_text", "email", "postcode", "nhs_number", "date", "choice", "boolean", "phone",
    "integer", "number", "money", NULL
};

static int plans_key;        /* registry: fields list -> plan (weak keys) */

static bool field_bool(lua_State *L, int f, const char *key)
{
    lua_getfield(L, f, key);
    bool b = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return b;
}

static double field_number(lua_State *L, int f, const char *key)
{
    lua_getfield(L, f, key);
    double v = lua_type(L, -1) == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : -1;
    lua_pop(L, 1);
    return v;
}

/* A date field's min or max: none, "today", or "YYYY-MM-DD"; false for
   anything else (then Lua checks it). */
static bool date_bound(lua_State *L, int f, const char *key, enum bound *b, char out[16])
{
    lua_getfield(L, f, key);
    size_t len = 0;
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    bool ok = true;
    *b = NO_BOUND;
    if (lua_isnil(L, -1)) {
        /* no bound */
    } else if (s && strcmp(s, "today") == 0) {
        *b = TODAY;
    } else if (s && len == 10) {
        *b = FIXED;
        memcpy(out, s, 11);
    } else {
        ok = false;
    }
    lua_pop(L, 1);
    return ok;
}

/* A number field's min or max (as fields.read_bound left it): none or a
   number; false for anything else (then Lua checks it). */
static bool number_bound(lua_State *L, int f, const char *key, enum bound *b, lnum *out)
{
    int type = lua_getfield(L, f, key);
    *b = type == LUA_TNUMBER ? FIXED : NO_BOUND;
    out->is_int = lua_isinteger(L, -1);
    out->i = out->is_int ? lua_tointeger(L, -1) : 0;
    out->d = (double)lua_tonumber(L, -1);
    lua_pop(L, 1);
    return type == LUA_TNUMBER || type == LUA_TNIL;
}

/* Makes the plan of the fields list at 1 (types: the table at 4); leaves
   it on the stack, with its names and choice options as its user value. */
static plan *make_plan(lua_State *L)
{
    int nf = (int)luaL_len(L, 1);
    plan *p = lua_newuserdatauv(L, sizeof *p, 1);
    int pi = lua_gettop(L);
    memset(p, 0, sizeof *p);
    if (nf > MAX_PLANNED) {
        p->n = -1;
        return p;
    }
    p->n = nf;
    lua_createtable(L, 2 * nf, 0);
    int uv = lua_gettop(L);
    for (int i = 0; i < nf; i++) {
        planned *pf = &p->f[i];
        lua_rawgeti(L, 1, i + 1);
        int f = lua_gettop(L);
        luaL_checktype(L, f, LUA_TTABLE);
        lua_getfield(L, f, "name");
        lua_rawseti(L, uv, i + 1);
        lua_getfield(L, f, "type");
        const char *type = lua_tostring(L, -1);
        /* The type's own parse, as fields.lua has it. */
        lua_pushvalue(L, -1);
        lua_gettable(L, 4);
        int t = lua_gettop(L);
        lua_getfield(L, t, "parse");
        lua_getfield(L, f, "parse");
        bool own_parse = lua_type(L, -1) == LUA_TFUNCTION && lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        pf->kind = K_LUA;
        for (int k = 1; own_parse && type && kind_names[k]; k++)
            if (strcmp(type, kind_names[k]) == 0)
                pf->kind = (enum kind)k;
        pf->required = field_bool(L, f, "required");
        lua_getfield(L, f, "default");
        pf->has_default = !lua_isnil(L, -1);
        lua_pop(L, 1);
        lua_getfield(L, f, "validators");
        bool validators = lua_type(L, -1) == LUA_TTABLE && luaL_len(L, -1) > 0;
        lua_pop(L, 1);
        lua_getfield(L, f, "pattern");
        bool pattern = !lua_isnil(L, -1);
        lua_pop(L, 1);
        pf->lua_check = validators || pattern;
        pf->unique = field_bool(L, f, "unique");
        pf->min_length = pf->max_length = -1;
        if (field_bool(L, t, "text")) {
            pf->min_length = field_number(L, f, "min_length");
            pf->max_length = field_number(L, f, "max_length");
        }
        if (field_bool(L, t, "ordered")) {
            bool ok = false;
            if (pf->kind == K_DATE)
                ok = date_bound(L, f, "min", &pf->min, pf->min_date) &&
                     date_bound(L, f, "max", &pf->max, pf->max_date);
            else if (pf->kind == K_INTEGER || pf->kind == K_NUMBER || pf->kind == K_MONEY)
                ok = number_bound(L, f, "min", &pf->min, &pf->min_num) &&
                     number_bound(L, f, "max", &pf->max, &pf->max_num);
            if (!ok)
                pf->lua_check = true;
        }
        if (pf->kind == K_CHOICE) {
            lua_getfield(L, f, "option_set");
            if (!lua_istable(L, -1))
                pf->kind = K_LUA;
            lua_rawseti(L, uv, nf + i + 1);
        }
        lua_settop(L, uv);
    }
    lua_setiuservalue(L, pi, 1);
    return p;
}

/* The plan for the fields list at 1, from the registry or made now; its
   user value is pushed above it. */
static plan *plan_of(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &plans_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "k");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &plans_key);
    }
    int plans = lua_gettop(L);
    lua_pushvalue(L, 1);
    plan *p = lua_rawget(L, plans) == LUA_TUSERDATA ? lua_touserdata(L, -1) : NULL;
    lua_Unsigned nf = lua_rawlen(L, 1);
    if (p && (p->n < 0 ? nf <= MAX_PLANNED : nf != (lua_Unsigned)p->n))
        p = NULL;                              /* the list changed: made again */
    if (!p) {
        lua_pop(L, 1);
        p = make_plan(L);
        lua_pushvalue(L, 1);
        lua_pushvalue(L, -2);
        lua_rawset(L, plans);
    }
    lua_remove(L, plans);
    lua_getiuservalue(L, -1, 1);
    return p;
}

/* Lower-cases s[0..n) into out (ASCII letters, as string.lower does here). */
static void lower(const char *s, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
}

/* A telephone number as fields.lua's parse_phone reads it. */
static int read_phone(const char *s, size_t len, char out[16])
{
    size_t i = 0;
    while (i < len && is_space((unsigned char)s[i]))
        i++;
    bool plus = i < len && s[i] == '+';
    if (plus)
        s += i + 1, len -= i + 1;
    char d[16];
    int n = small_digits(s, len, d, 15);
    if (n < 0)
        return -1;
    int from = 0;
    if (plus) {
        if (n < 2 || d[0] != '4' || d[1] != '4')
            return -1;
        from = n > 2 && d[2] == '0' ? 3 : 2;
    } else if (n >= 4 && memcmp(d, "0044", 4) == 0) {
        from = n > 4 && d[4] == '0' ? 5 : 4;
    }
    int m = 0;
    if (from > 0)
        out[m++] = '0';
    memcpy(out + m, d + from, (size_t)(n - from));
    m += n - from;
    return out[0] == '0' && (m == 10 || m == 11) ? m : -1;
}

static bool nhs_check(const char *d)
{
    int sum = 0;
    for (int i = 0; i < 9; i++)
        sum += (d[i] - '0') * (10 - i);
    int check = 11 - sum % 11;
    if (check == 11)
        check = 0;
    return check != 10 && check == d[9] - '0';
}

/* A value as read_bytes reads it: text (p, n: into the text read, or into
   buf), a boolean or a number (none: a blank value, read_record's). A
   choice's text is still to be looked up in its options, and long text
   with CRs still to have them turned into LF (both make a Lua string:
   push_read). */
typedef struct read_out {
    enum { V_NONE, V_TEXT, V_BOOLEAN, V_NUMBER } type;
    const char *p;
    size_t n;
    bool boolean;
    lnum num;
    bool has_cr;
    char buf[NUMBER_MAX];
} read_out;

/* Reads the text s[0..len) as field pf into o; false if the value is
   wrong, or not a case read here. Allocates nothing. */
static bool read_bytes(const planned *pf, const char *s, size_t len, read_out *o)
{
    o->type = V_TEXT;
    o->has_cr = false;
    switch (pf->kind) {
    case K_TEXT:
    case K_LONG_TEXT:
        return read_text(s, len, pf->kind == K_LONG_TEXT, &o->p, &o->n, &o->has_cr) == NULL;
    case K_EMAIL:
        o->p = trim(s, len, &o->n);
        return email_ok(o->p, o->n);
    case K_POSTCODE:
        if (!read_postcode(s, len, o->buf))
            return false;
        o->p = o->buf;
        o->n = strlen(o->buf);
        return true;
    case K_NHS:
        o->p = o->buf;
        o->n = 10;
        return small_digits(s, len, o->buf, 10) == 10 && nhs_check(o->buf);
    case K_DATE:
        o->p = o->buf;
        o->n = 10;
        return read_date(s, len, o->buf);
    case K_PHONE: {
        int m = read_phone(s, len, o->buf);
        o->p = o->buf;
        o->n = m < 0 ? 0 : (size_t)m;
        return m >= 0;
    }
    case K_CHOICE:
        o->p = trim(s, len, &o->n);
        return true;
    case K_BOOLEAN: {
        static const char *const yes[] = { "yes", "y", "true", "1", "on", NULL };
        static const char *const no[] = { "no", "n", "false", "0", "off", NULL };
        size_t n;
        const char *t = trim(s, len, &n);
        if (n > 5 || memchr(t, '\0', n))       /* (a NUL would end the word early) */
            return false;
        lower(t, n, o->buf);
        o->buf[n] = '\0';
        for (int k = 0; yes[k]; k++) {
            if (strcmp(o->buf, yes[k]) == 0 || strcmp(o->buf, no[k]) == 0) {
                o->type = V_BOOLEAN;
                o->boolean = strcmp(o->buf, yes[k]) == 0;
                return true;
            }
        }
        return false;
    }
    case K_INTEGER:
        o->type = V_NUMBER;
        return read_integer(s, len, o->buf, &o->num);
    case K_NUMBER:
        o->type = V_NUMBER;
        return read_number(s, len, o->buf, &o->num);
    case K_MONEY:
        o->type = V_NUMBER;
        return read_money(s, len, o->buf, &o->num);
    case K_LUA:
        break;
    }
    return false;
}

/* Pushes the value read into o from the text s[0..len) (at stack index
   idx, or 0 when s is not a Lua string: the same string is pushed again
   when the value is all of it). A choice is looked up in field i's
   options: false, pushing nothing, when it is not one. uv: the plan's
   user value. */
static bool push_read(lua_State *L, const planned *pf, int i, int nf, int uv, int idx, const char *s, size_t len,
                      const read_out *o)
{
    if (o->type == V_BOOLEAN) {
        lua_pushboolean(L, o->boolean);
        return true;
    }
    if (o->type == V_NUMBER) {
        if (o->num.is_int)
            lua_pushinteger(L, o->num.i);
        else
            lua_pushnumber(L, o->num.d);
        return true;
    }
    if (pf->kind == K_CHOICE) {
        lua_rawgeti(L, uv, nf + i + 1);        /* option_set */
        lua_pushlstring(L, o->p, o->n);
        if (lua_rawget(L, -2) == LUA_TSTRING) {
            lua_remove(L, -2);
            return true;
        }
        lua_pop(L, 1);
        luaL_Buffer b;
        lower(o->p, o->n, luaL_buffinitsize(L, &b, o->n));
        luaL_pushresultsize(&b, o->n);
        if (lua_rawget(L, -2) == LUA_TSTRING) {
            lua_remove(L, -2);
            return true;
        }
        lua_pop(L, 2);
        return false;
    }
    if (o->has_cr || o->p != s)
        push_text(L, 0, len, o->p, o->n, o->has_cr);
    else
        push_text(L, idx, len, o->p, o->n, false);
    return true;
}

/* Reads the text s (at stack index idx, or 0 when s is not a Lua string)
   as field pf: pushes the value to store and returns true, or pushes
   nothing and returns false (the value is wrong, or not a case read
   here). uv: the plan's user value. */
static bool read_value(lua_State *L, const planned *pf, int i, int nf, int uv, int idx, const char *s, size_t len)
{
    read_out o;
    return read_bytes(pf, s, len, &o) && push_read(L, pf, i, nf, uv, idx, s, len, &o);
}

/* Compares the text v[0..n) with the string z, as strcmp does. */
static int compare(const char *v, size_t n, const char *z)
{
    size_t zn = strlen(z);
    int c = memcmp(v, z, n < zn ? n : zn);
    return c ? c : (n > zn) - (n < zn);
}

/* The checks of fields.check that pf's plan covers, on the text v[0..n). */
static bool checks_pass(const planned *pf, const char *v, size_t n, const char *today)
{
    if (pf->min_length >= 0 || pf->max_length >= 0) {
        double chars = 0;
        for (size_t i = 0; i < n; i++)
            chars += ((unsigned char)v[i] & 0xC0) != 0x80;
        if ((pf->min_length >= 0 && chars < pf->min_length) || (pf->max_length >= 0 && chars > pf->max_length))
            return false;
    }
    if (pf->min != NO_BOUND && compare(v, n, pf->min == TODAY ? today : pf->min_date) < 0)
        return false;
    if (pf->max != NO_BOUND && compare(v, n, pf->max == TODAY ? today : pf->max_date) > 0)
        return false;
    return true;
}

/* The range check of fields.check on a number. */
static bool in_range(const planned *pf, const lnum *v)
{
    return !(pf->min == FIXED && less(v, &pf->min_num)) && !(pf->max == FIXED && less(&pf->max_num, v));
}

/* The checks of pf's plan on the value on top of the stack (text or a
   number; a boolean has none). */
static bool top_checks_pass(lua_State *L, const planned *pf, const char *today)
{
    if (lua_type(L, -1) == LUA_TNUMBER) {
        lnum v = { .is_int = lua_isinteger(L, -1), .i = lua_tointeger(L, -1), .d = (double)lua_tonumber(L, -1) };
        return in_range(pf, &v);
    }
    size_t n = 0;
    const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : "";
    return checks_pass(pf, v, n, today);
}

/* Fills today (16 bytes, "" until then) from fields.today, the function
   at stack index 5, if pf's range needs it. */
static void need_today(lua_State *L, const planned *pf, char *today)
{
    if ((pf->min != TODAY && pf->max != TODAY) || today[0])
        return;
    lua_pushvalue(L, 5);
    lua_call(L, 0, 1);
    size_t tlen = 0;
    const char *t = lua_tolstring(L, -1, &tlen);
    if (!t || tlen >= 16)
        luaL_error(L, "fields.today() did not give a date");
    memcpy(today, t, tlen + 1);
    lua_pop(L, 1);
}

/* read_fields(fields, values, clean, types, today) -> unread, recheck
   Reads a new record's values as Entity:validate would, for the fields
   and values a plan covers, into clean. Returns two bit sets (bit i-1:
   field i): the fields left to read in Lua, and those read here that
   Lua must still check. -1, 0 when the entity has too many fields. */
static int l_read_fields(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_settop(L, 5);
    plan *p = plan_of(L);
    int uv = lua_gettop(L);
    if (p->n < 0) {
        lua_pushinteger(L, -1);
        lua_pushinteger(L, 0);
        return 2;
    }
    lua_Integer unread = 0, recheck = 0;
    char today[16] = "";
    size_t charged = 0;
    for (int i = 0; i < p->n; i++) {
        const planned *pf = &p->f[i];
        lua_Integer bit = (lua_Integer)1 << i;
        if (pf->kind == K_LUA) {
            unread |= bit;
            continue;
        }
        lua_rawgeti(L, uv, i + 1);             /* name */
        lua_pushvalue(L, -1);
        int type = lua_gettable(L, 2);         /* values[name] */
        if (type != LUA_TSTRING) {
            if (type != LUA_TNIL || pf->required || pf->has_default)
                unread |= bit;
            lua_settop(L, uv);
            continue;
        }
        size_t len, n;
        const char *s = lua_tolstring(L, -1, &len);
        charged += len / BYTES_PER_STEP + 1;
        trim(s, len, &n);
        if (n == 0) {                          /* only spaces: no value */
            if (pf->required)
                unread |= bit;
            lua_settop(L, uv);
            continue;
        }
        if (!read_value(L, pf, i, p->n, uv, uv + 2, s, len)) {
            unread |= bit;
            lua_settop(L, uv);
            continue;
        }
        need_today(L, pf, today);
        if (pf->lua_check || pf->unique || !top_checks_pass(L, pf, today))
            recheck |= bit;
        lua_remove(L, -2);                     /* name, value */
        lua_rawset(L, 3);
    }
    bo_sandbox_charge(L, (unsigned)charged);
    lua_pushinteger(L, unread);
    lua_pushinteger(L, recheck);
    return 2;
}

/* The time now as entity.lua's timestamp() writes it ("2024-04-01T09:30:00Z"). */
static const char *timestamp(char out[32], time_t *second)
{
    time_t now = time(NULL);
    if (now != *second) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
        *second = now;
    }
    return out;
}

/* Reads the current record of csv as insert_rows inserts it: the value of
   each field j (whose column is col[j], or -1) into out[j], text with
   p == NULL for none. Returns false for a record that read_fields would
   leave any of to Lua, or check again there (unique aside: the table's
   index checks that). A value that had to become a Lua string (a choice,
   long text with CRs) is left on the stack, where out[j] points. */
static bool read_record(lua_State *L, const plan *p, int uv, const bo_csv *csv, const int *col, char *today,
                        read_out *out)
{
    size_t charged = 0;
    bool ok = true;
    for (int j = 0; ok && j < p->n; j++) {
        const planned *pf = &p->f[j];
        read_out *o = &out[j];
        const char *s = NULL;
        size_t len = 0, n = 0;
        if (col[j] >= 0) {
            s = bo_csv_field_ptr(csv, (size_t)col[j]);
            len = csv->fields[col[j]].len;
            trim(s, len, &n);
            charged += len / BYTES_PER_STEP + 1;
        }
        if (n == 0) {                          /* no value (a blank one takes no default) */
            ok = !pf->required && !(s == NULL && pf->has_default);
            o->type = V_NONE;
            continue;
        }
        ok = read_bytes(pf, s, len, o);
        if (ok && (pf->kind == K_CHOICE || o->has_cr)) {
            ok = push_read(L, pf, j, p->n, uv, 0, s, len, o);
            if (ok)
                o->p = lua_tolstring(L, -1, &o->n);
        }
        ok = ok && !pf->lua_check;
        if (ok && o->type == V_TEXT) {
            need_today(L, pf, today);
            ok = checks_pass(pf, o->p, o->n, today);
        } else if (ok && o->type == V_NUMBER) {
            ok = in_range(pf, &o->num);
        }
    }
    bo_sandbox_charge(L, (unsigned)charged);
    return ok;
}

/* Binds the n values of read_record to parameters 1..n. Cannot raise. */
static int bind_values(bo_stmt *stmt, const read_out *out, int n)
{
    int rc = BO_OK;
    for (int j = 0; rc == BO_OK && j < n; j++) {
        const read_out *o = &out[j];
        if (o->type == V_BOOLEAN)
            rc = bo_stmt_bind_int64(stmt, j + 1, o->boolean);
        else if (o->type == V_NUMBER && o->num.is_int)
            rc = bo_stmt_bind_int64(stmt, j + 1, o->num.i);
        else if (o->type == V_NUMBER)
            rc = bo_stmt_bind_double(stmt, j + 1, o->num.d);
        else if (o->type == V_NONE)
            rc = bo_stmt_bind_null(stmt, j + 1);
        else
            rc = bo_stmt_bind_text(stmt, j + 1, o->p, o->n);
    }
    return rc;
}

/* insert_rows(fields, values, names, types, today, reader, sql, ids, max)
   -> inserted, first id, last id, then what stopped it:
        true                          max records were read
        nil                           the end of the text
        false, line, message, column  a record that cannot be read
        values, line, count           a record left to Lua, as
                                      reader:next(values, names) gives it
   An import's common case without a round trip through Lua per record
   (Entity:_insert_rows): reads up to max records of the CSV reader
   (names[i]: the field of column i, or false) and inserts each whose
   values read_fields reads whole, with sql (the entity's insert: the
   fields in order, then created_at and updated_at), appending the new ids
   to ids. It stops at the first record it cannot insert (any value not
   read here, or wrong, a ragged record, a duplicate the unique index
   refuses), so that Lua reports it or imports it as it does any other. */
static int l_insert_rows(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TTABLE);
    bo_csv *csv = bo_lcsv_check(L, 6);
    size_t sqllen;
    const char *sql = luaL_checklstring(L, 7, &sqllen);
    luaL_checktype(L, 8, LUA_TTABLE);
    lua_Integer max = luaL_checkinteger(L, 9);
    lua_settop(L, 9);
    plan *p = plan_of(L);
    int uv = lua_gettop(L);
    if (p->n < 0)
        return luaL_error(L, "insert_rows: too many fields");
    luaL_checkstack(L, p->n + 8, "insert_rows");

    /* The column of each field. */
    size_t ncols = (size_t)luaL_len(L, 3);
    int col[MAX_PLANNED];
    for (int j = 0; j < p->n; j++) {
        col[j] = -1;
        lua_rawgeti(L, uv, j + 1);
        for (size_t i = 0; i < ncols && col[j] < 0; i++) {
            lua_rawgeti(L, 3, (lua_Integer)i + 1);
            if (lua_rawequal(L, -1, -2))
                col[j] = (int)i;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }

    bo_db *db = bo_ldb_get(L);
    char err[512];
    bo_stmt *stmt = bo_db_prepare(db, sql, sqllen, err, sizeof err);
    if (!stmt)
        return luaL_error(L, "db: %s", err);
    if (bo_stmt_param_count(stmt) != p->n + 2)
        return luaL_error(L, "insert_rows: the statement does not take the fields and two timestamps");

    char today[16] = "", stamp[32];
    time_t second = -1;
    read_out out[MAX_PLANNED];
    lua_Integer inserted = 0, first = 0, last = 0, nids = (lua_Integer)lua_rawlen(L, 8);
    int base = lua_gettop(L), rc = BO_CSV_ROW;
    bool handed = false;
    bo_csv_record rec;
    for (lua_Integer k = 0; k < max && rc == BO_CSV_ROW && !handed; k++) {
        size_t before = csv->pos;
        rc = bo_csv_next(csv, &rec);
        bo_sandbox_charge(L, (unsigned)((csv->pos - before) / BYTES_PER_STEP + csv->nfields));
        if (rc != BO_CSV_ROW)
            break;
        bool ok = csv->nfields == ncols && read_record(L, p, uv, csv, col, today, out);
        if (ok) {
            /* From binding to clearing, nothing raises: the statement never
               keeps a pointer into a string the stack has let go. */
            timestamp(stamp, &second);
            int step = bind_values(stmt, out, p->n);
            if (step == BO_OK)
                step = bo_stmt_bind_text(stmt, p->n + 1, stamp, -1);
            if (step == BO_OK)
                step = bo_stmt_bind_text(stmt, p->n + 2, stamp, -1);
            if (step == BO_OK)
                step = bo_stmt_step_guarded(stmt);      /* a refused row goes on to Lua */
            bo_stmt_reset(stmt);
            bo_stmt_clear(stmt);
            if (step != BO_DB_DONE && step != BO_ECONSTRAINT)
                return bo_ldb_error(L, db, stmt);
            ok = step == BO_DB_DONE;
        }
        lua_settop(L, base);
        if (!ok) {
            handed = true;
            break;
        }
        last = bo_db_last_insert_id(db);
        if (!inserted++)
            first = last;
        lua_pushinteger(L, last);
        lua_rawseti(L, 8, ++nids);
    }
    lua_pushinteger(L, inserted);
    lua_pushinteger(L, first);
    lua_pushinteger(L, last);
    if (handed) {
        bo_lcsv_put_fields(L, csv, 2, 3);
        lua_pushvalue(L, 2);
        lua_pushinteger(L, (lua_Integer)rec.line);
        lua_pushinteger(L, (lua_Integer)csv->nfields);
        return 6;
    }
    if (rc == BO_CSV_BAD) {
        lua_pushboolean(L, 0);
        lua_pushinteger(L, (lua_Integer)rec.line);
        lua_pushstring(L, rec.error);
        lua_pushinteger(L, (lua_Integer)rec.column);
        return 7;
    }
    if (rc == BO_CSV_END)
        lua_pushnil(L);
    else
        lua_pushboolean(L, 1);                 /* max records read */
    return 4;
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
        { "read_fields", l_read_fields },
        { "insert_rows", l_insert_rows },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
    return 1;
}
