/*
 * json.c - JSON text <-> Lua values (see json.h for the contract).
 *
 * The encoder walks the value with raw table access only and never creates a
 * Lua object while it walks: every key and value it needs is already anchored
 * by the tables being encoded, and the few things it pushes (the two mark
 * metatables, the "__columns" name) are pushed before the walk starts. So no
 * garbage-collection step, and therefore no finalizer, can run Lua code
 * half-way through an encode, and a pointer to a key's bytes stays valid
 * for the whole walk. Setting up can still raise an out-of-memory error,
 * which is one reason no memory is ever held in C locals.
 *
 * A table is an array when its keys are exactly 1..n: one lua_next() pass
 * counts the keys and finds the largest. Otherwise it is an object: a second
 * pass leaves each value on the Lua stack and notes where each key's bytes
 * are (integer keys as their decimal digits; string keys stay anchored by
 * the table, which nothing can change during the walk), and a merge sort
 * puts the notes in byte order, so an object costs O(n log n) whatever its
 * keys. The one limit is the Lua stack: a million slots, one per key of the
 * objects open at once.
 *
 * Memory the coders need beyond the Lua stack (the notes, json.encode's
 * output, the bytes of a decoded string that had escapes) lives in one
 * scratch userdata per Lua state, kept in the registry and freed by its
 * __gc when the state closes. It is reused by every call, so an encode or
 * decode allocates nothing in steady state, and a Lua error (longjmp) at
 * any point leaks nothing. Nothing is kept in it across a call into Lua
 * code, so a finalizer that encodes or decodes in turn cannot disturb it.
 * Buffers that grew past a threshold are freed again after the call.
 *
 * The decoder is a recursive-descent parser over the bytes, strict RFC 8259,
 * pushing values as it goes; on error it restores the stack and reports the
 * 1-based byte position where the input went wrong.
 *
 * Both are metered in a metered state (meter.h), as pattern matching is (the count
 * hook never fires inside C): the encoder charges each value and the bytes
 * of each string as it walks, and stops when the request's budget is spent;
 * the decoder, whose work is bounded by the text it was given, charges its
 * values once it is done. A spent budget raises the run's error after
 * the coder has put everything back.
 */
#include "json.h"
#include "meter.h"

#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Registry keys (their addresses) and json.null (its address). */
static const char key_scratch = 0;
static const char key_array_mt = 0;
static const char key_object_mt = 0;
static const char json_null = 0;

/* Buffers larger than these are freed once a call is done with them. */
#define KEEP_BUF_BYTES (64 * 1024)
#define KEEP_KEYS 1024

/* The longest text one encode may produce. Tables and strings can be shared,
   so the text can be exponentially larger than the Lua heap that holds the
   value ({t, t} nested 128 deep), and it grows in C memory, outside the
   sandbox's cap: this bound keeps an app from exhausting the process. */
#define MAX_TEXT_BYTES ((size_t)64 << 20)

/* Budget steps charged per value coded, per STRING_BYTES_PER_STEP bytes of
   a string, and how many the encoder gathers before charging them. */
#define STEPS_PER_VALUE 8
#define STRING_BYTES_PER_STEP 8
#define METER_BATCH 4096

/* The widest indentation json.encode accepts, per level. */
#define MAX_INDENT 16

/* Why an encode fails when the Lua stack cannot grow: Lua's limit of a
   million slots (each key of the objects open takes one), or the state's
   memory cap (lua_checkstack cannot tell us which). */
#define STACK_FULL "table too large to encode (the Lua stack is full)"

/* One key of an object being encoded. Its bytes belong to the table (which
   nothing can change during the walk); its value is on the Lua stack. */
typedef struct json_key {
    const char *str;    /* a string key's bytes; NULL for an integer key */
    size_t len;
    int slot;           /* stack index of the value */
    char num[24];       /* an integer key's decimal digits */
} json_key;

typedef struct json_scratch {
    bo_buf out;         /* json.encode's result */
    bo_buf str;         /* a decoded string with escapes, or a long number */
    json_key *keys;     /* keys of the objects being encoded, innermost last */
    size_t nkeys;
    size_t capkeys;
} json_scratch;

/* Bytes a JSON string cannot hold as they are (0 = copy as is): 1 for what
   must be escaped (control characters, '"', '\\'), 2 for the start of a
   multi-byte UTF-8 sequence, which must be checked. */
static const unsigned char char_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

static const char hex_digits[] = "0123456789abcdef";

#define IS_DIGIT(c) ((unsigned)(c) - '0' < 10u)

/* Returns the length of the well-formed UTF-8 sequence starting at p (whose
   first byte is >= 0x80), or 0 if it is malformed: a stray continuation
   byte, an overlong form, a surrogate, past U+10FFFF, or cut short. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);
    unsigned c = p[0], lo = 0x80, hi = 0xBF;
    if (c < 0xC2 || c > 0xF4)
        return 0;
    if (c < 0xE0)
        return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
        return avail >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    return avail >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 &&
                   (p[3] & 0xC0) == 0x80 ? 4 : 0;
}

/* Writes the decimal digits of v to dst (room for 20) and returns how many. */
static size_t int_digits(char *dst, lua_Integer v)
{
    char tmp[24];
    char *end = tmp + sizeof tmp, *p = end;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    memcpy(dst, p, (size_t)(end - p));
    return (size_t)(end - p);
}

/* Makes room for n more bytes in b and returns where they start. */
static inline char *room(bo_buf *b, size_t n)
{
    if (b->cap - b->len < n)
        bo_buf_reserve(b, n);
    return b->data + b->len;
}

static inline void put(bo_buf *b, const char *s, size_t n)
{
    memcpy(room(b, n), s, n);
    b->len += n;
}

/* ---- Per-state scratch and the mark metatables ---- */

static int scratch_gc(lua_State *L)
{
    json_scratch *sc = lua_touserdata(L, 1);
    bo_buf_free(&sc->out);
    bo_buf_free(&sc->str);
    free(sc->keys);
    sc->keys = NULL;
    sc->nkeys = sc->capkeys = 0;
    return 0;
}

/* Returns the state's scratch, creating it on first use (which may raise an
   out-of-memory error, before anything depends on it). The registry keeps it
   alive; the stack is left as it was. */
static json_scratch *scratch_get(lua_State *L)
{
    json_scratch *sc;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &key_scratch) == LUA_TUSERDATA) {
        sc = lua_touserdata(L, -1);
        lua_pop(L, 1);
        return sc;
    }
    lua_pop(L, 1);
    sc = lua_newuserdatauv(L, sizeof *sc, 0);
    bo_buf_init(&sc->out);
    bo_buf_init(&sc->str);
    sc->keys = NULL;
    sc->nkeys = sc->capkeys = 0;
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, scratch_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "json scratch");
    lua_setfield(L, -2, "__name");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_scratch);
    return sc;
}

static void scratch_reserve_keys(json_scratch *sc, size_t n)
{
    if (sc->capkeys - sc->nkeys >= n)
        return;
    size_t cap = sc->capkeys ? sc->capkeys : 16;
    while (cap - sc->nkeys < n)
        cap *= 2;
    sc->keys = bo_realloc(sc->keys, cap * sizeof *sc->keys);
    sc->capkeys = cap;
}

static void scratch_trim(json_scratch *sc)
{
    bo_buf_reset(&sc->out, KEEP_BUF_BYTES);
    bo_buf_reset(&sc->str, KEEP_BUF_BYTES);
    sc->nkeys = 0;
    if (sc->capkeys > KEEP_KEYS) {
        free(sc->keys);
        sc->keys = NULL;
        sc->capkeys = 0;
    }
}

/* Pushes the metatable that marks arrays (or objects), creating it on first
   use. */
static void push_mark(lua_State *L, const void *key, const char *name)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

void bo_json_push_null(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&json_null);
}

void bo_json_mark_array(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 3, NULL);
    push_mark(L, &key_array_mt, "json.array");
    lua_setmetatable(L, idx);
}

/* ---- Encoding ---- */

typedef struct encoder {
    lua_State *L;
    bo_buf *out;
    size_t start;       /* out->len when the encode began */
    json_scratch *sc;   /* NULL when the value holds no table */
    int indent;         /* spaces per level; 0 for compact text */
    int depth;          /* tables open */
    int array_mt;       /* stack slots of the marks and of "__columns" */
    int object_mt;
    int columns_name;
    char *err;
    size_t errlen;
    bo_meter *meter;    /* the budget to charge, or NULL when the state is not metered */
    uint64_t pending;   /* steps not yet charged */
    bool spent;         /* stopped because the budget ran out */
} encoder;

static int encode_value(encoder *e, int idx);

static int enc_fail(encoder *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int enc_fail(encoder *e, const char *fmt, ...)
{
    if (e->err && e->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->err, e->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Starts a new line indented for the given level (pretty printing only). */
static void put_newline(encoder *e, int level)
{
    size_t n = (size_t)level * (size_t)e->indent;
    char *o = room(e->out, n + 1);
    o[0] = '\n';
    memset(o + 1, ' ', n);
    e->out->len += n + 1;
}

/* Writes s as a JSON string: clean runs are copied whole, escapes written
   as JSON requires and no more, UTF-8 checked. */
static int put_string(encoder *e, const char *s, size_t len)
{
    bo_buf *b = e->out;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    /* Room for the quotes and every byte copied as is; an escape makes
       room for itself and the rest. */
    char *o = room(b, len + 2);
    *o++ = '"';
    for (;;) {
        const unsigned char *run = p;
        while (p < end && char_class[*p] == 0)
            p++;
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
        if (p == end)
            break;
        unsigned c = *p;
        if (c >= 0x80) {
            size_t n = utf8_len(p, end);
            if (n == 0)
                return enc_fail(e, "invalid UTF-8 in a string");
            memcpy(o, p, n);
            o += n;
            p += n;
            continue;
        }
        b->len = (size_t)(o - b->data);
        o = room(b, (size_t)(end - p) + 7);
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            o[0] = 'u';
            o[1] = '0';
            o[2] = '0';
            o[3] = hex_digits[c >> 4];
            o[4] = hex_digits[c & 15];
            o += 5;
            break;
        }
        p++;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return 0;
}

static void put_integer(bo_buf *b, lua_Integer v)
{
    char *o = room(b, 24);
    b->len += int_digits(o, v);
}

/* The shortest of %.14g..%.17g that reads back as the same double, made to
   look like a float if it would read as an integer ("1.0", "-0.0"). */
static int put_float(encoder *e, double d)
{
    char tmp[40];
    int n = 0;
    if (isnan(d))
        return enc_fail(e, "cannot encode NaN");
    if (isinf(d))
        return enc_fail(e, "cannot encode infinity");
    for (int prec = 14; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (prec == 17 || strtod(tmp, NULL) == d)
            break;
    }
    if (!strpbrk(tmp, ".e")) {
        tmp[n++] = '.';
        tmp[n++] = '0';
    }
    put(e->out, tmp, (size_t)n);
    return 0;
}

enum { SHAPE_EMPTY, SHAPE_ARRAY, SHAPE_OTHER };

/* One pass over the keys of the table at t: SHAPE_ARRAY (with *n) when they
   are exactly 1..n, SHAPE_EMPTY, or SHAPE_OTHER. Keys are distinct, so
   positive integer keys whose largest equals their count are 1..n. */
static int table_shape(lua_State *L, int t, lua_Integer *n)
{
    lua_Integer count = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            return SHAPE_OTHER;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k < 1) {
            lua_pop(L, 1);
            return SHAPE_OTHER;
        }
        if (k > max)
            max = k;
        count++;
    }
    *n = count;
    if (count == 0)
        return SHAPE_EMPTY;
    return max == count ? SHAPE_ARRAY : SHAPE_OTHER;
}

static int encode_array(encoder *e, int t, lua_Integer n)
{
    lua_State *L = e->L;
    bo_buf_putc(e->out, '[');
    for (lua_Integer i = 1; i <= n; i++) {
        if (i > 1)
            bo_buf_putc(e->out, ',');
        if (e->indent)
            put_newline(e, e->depth);
        lua_rawgeti(L, t, i);
        int rc = encode_value(e, lua_gettop(L));
        lua_pop(L, 1);
        if (rc)
            return rc;
    }
    if (e->indent && n > 0)
        put_newline(e, e->depth - 1);
    bo_buf_putc(e->out, ']');
    return 0;
}

/* Writes a key (already a JSON string's contents) and the separator. */
static int put_key(encoder *e, const char *s, size_t len)
{
    if (put_string(e, s, len))
        return -1;
    if (e->indent)
        put(e->out, ": ", 2);
    else
        bo_buf_putc(e->out, ':');
    return 0;
}

static inline const char *key_bytes(const json_key *k)
{
    return k->str ? k->str : k->num;
}

/* Byte order; the one possible tie (1 and "1" in one table) puts the
   string first so the order is still total. */
static int key_cmp(const json_key *x, const json_key *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(key_bytes(x), key_bytes(y), n);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return (x->str == NULL) - (y->str == NULL);
}

/* Sorts a[0..n) with tmp (room for n / 2 + 1 keys): a merge sort, so
   O(n log n) whatever the keys, with insertion sort for short runs. */
static void sort_keys(json_key *a, json_key *tmp, size_t n)
{
    if (n <= 8) {
        for (size_t i = 1; i < n; i++) {
            if (key_cmp(&a[i - 1], &a[i]) <= 0)
                continue;
            json_key k = a[i];
            size_t j = i;
            do {
                a[j] = a[j - 1];
                j--;
            } while (j > 0 && key_cmp(&a[j - 1], &k) > 0);
            a[j] = k;
        }
        return;
    }
    size_t h = n / 2;
    sort_keys(a, tmp, h);
    sort_keys(a + h, tmp, n - h);
    if (key_cmp(&a[h - 1], &a[h]) <= 0)
        return;
    memcpy(tmp, a, h * sizeof *a);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        a[k++] = key_cmp(&a[j], &tmp[i]) < 0 ? a[j++] : tmp[i++];
    while (i < h)
        a[k++] = tmp[i++];
}

/* Writes the table at t as an object with its keys in byte order. */
static int encode_object(encoder *e, int t)
{
    lua_State *L = e->L;
    json_scratch *sc = e->sc;
    size_t base = sc->nkeys, n;
    int rc = -1;

    /* Leave every value on the stack and note each key: where its bytes
       are (the table anchors it) and where its value is. */
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (!lua_checkstack(L, 2)) {
            enc_fail(e, STACK_FULL);
            goto out;
        }
        scratch_reserve_keys(sc, 1);
        json_key *k = &sc->keys[sc->nkeys];
        int type = lua_type(L, -2);
        if (type == LUA_TSTRING) {
            k->str = lua_tolstring(L, -2, &k->len);
        } else if (type == LUA_TNUMBER && lua_isinteger(L, -2)) {
            k->str = NULL;
            k->len = int_digits(k->num, lua_tointeger(L, -2));
        } else {
            enc_fail(e, "cannot encode a table key of type %s",
                     type == LUA_TNUMBER ? "float" : lua_typename(L, type));
            goto out;
        }
        sc->nkeys++;
        lua_rotate(L, -2, 1);   /* the value stays, the key goes on to lua_next */
        k->slot = lua_gettop(L) - 1;
    }
    n = sc->nkeys - base;

    scratch_reserve_keys(sc, n / 2 + 1);
    sort_keys(sc->keys + base, sc->keys + base + n, n);
    for (size_t i = 1; i < n; i++) {
        const json_key *a = &sc->keys[base + i - 1], *b = &sc->keys[base + i];
        if (a->len == b->len && memcmp(key_bytes(a), key_bytes(b), a->len) == 0) {
            enc_fail(e, "table has both %.*s and \"%.*s\" as keys", (int)a->len,
                     key_bytes(a), (int)a->len, key_bytes(a));
            goto out;
        }
    }

    bo_buf_putc(e->out, '{');
    for (size_t i = 0; i < n; i++) {
        /* Nested objects may move sc->keys: index it afresh each time. */
        const json_key *k = &sc->keys[base + i];
        int slot = k->slot;
        if (i > 0)
            bo_buf_putc(e->out, ',');
        if (e->indent)
            put_newline(e, e->depth);
        if (put_key(e, key_bytes(k), k->len) || encode_value(e, slot))
            goto out;
    }
    if (e->indent && n > 0)
        put_newline(e, e->depth - 1);
    bo_buf_putc(e->out, '}');
    rc = 0;
out:
    sc->nkeys = base;
    return rc;
}

/* Writes the table at t as an object with the keys named by the array at
   cols, in that order; absent keys are null. */
static int encode_columns(encoder *e, int t, int cols)
{
    lua_State *L = e->L;
    if (lua_type(L, cols) != LUA_TTABLE)
        return enc_fail(e, "__columns must be an array of strings");
    lua_Integer n = (lua_Integer)lua_rawlen(L, cols);
    bo_buf_putc(e->out, '{');
    for (lua_Integer i = 1; i <= n; i++) {
        size_t len;
        if (lua_rawgeti(L, cols, i) != LUA_TSTRING)
            return enc_fail(e, "__columns must be an array of strings");
        const char *name = lua_tolstring(L, -1, &len);
        if (i > 1)
            bo_buf_putc(e->out, ',');
        if (e->indent)
            put_newline(e, e->depth);
        if (put_key(e, name, len))
            return -1;
        lua_pushvalue(L, -1);
        lua_rawget(L, t);
        if (encode_value(e, lua_gettop(L)))
            return -1;
        lua_pop(L, 2);
    }
    if (e->indent && n > 0)
        put_newline(e, e->depth - 1);
    bo_buf_putc(e->out, '}');
    return 0;
}

enum { MARK_NONE, MARK_ARRAY, MARK_OBJECT, MARK_COLUMNS };

static int encode_table(encoder *e, int t)
{
    lua_State *L = e->L;
    int top = lua_gettop(L), mark = MARK_NONE, rc;
    lua_Integer n = 0;

    if (e->depth >= BO_JSON_MAX_DEPTH)
        return enc_fail(e, "nesting too deep (over %d levels, or a cycle)", BO_JSON_MAX_DEPTH);
    if (!lua_checkstack(L, 6))
        return enc_fail(e, STACK_FULL);
    e->depth++;
    if (lua_getmetatable(L, t)) {
        if (lua_rawequal(L, -1, e->array_mt)) {
            mark = MARK_ARRAY;
        } else if (lua_rawequal(L, -1, e->object_mt)) {
            mark = MARK_OBJECT;
        } else {
            lua_pushvalue(L, e->columns_name);
            if (lua_rawget(L, -2) != LUA_TNIL)
                mark = MARK_COLUMNS;
        }
    }

    if (mark == MARK_COLUMNS) {
        rc = encode_columns(e, t, lua_gettop(L));
    } else if (mark == MARK_OBJECT) {
        rc = encode_object(e, t);
    } else {
        int shape = table_shape(L, t, &n);
        if (shape == SHAPE_ARRAY || (shape == SHAPE_EMPTY && mark == MARK_ARRAY))
            rc = encode_array(e, t, n);
        else if (mark == MARK_ARRAY)
            rc = enc_fail(e, "json.array() table has keys other than 1..n");
        else if (shape == SHAPE_EMPTY)
            rc = (put(e->out, "{}", 2), 0);
        else
            rc = encode_object(e, t);
    }

    e->depth--;
    lua_settop(L, top);
    return rc;
}

/* Charges steps of work to the run's budget (meter.h), in batches; fails
   the encode when the budget is spent. */
static int meter(encoder *e, size_t steps)
{
    if (!e->meter)
        return 0;
    e->pending += steps;
    if (e->pending < METER_BATCH)
        return 0;
    unsigned n = e->pending > UINT32_MAX ? UINT32_MAX : (unsigned)e->pending;
    e->pending = 0;
    const char *spent = e->meter->charge(e->meter, n);
    if (!spent)
        return 0;
    e->spent = true;
    return enc_fail(e, "%s", spent);
}

static int encode_value(encoder *e, int idx)
{
    lua_State *L = e->L;
    int type = lua_type(L, idx), rc = 0;
    if (meter(e, STEPS_PER_VALUE) < 0)
        return -1;
    switch (type) {
    case LUA_TNIL:
        put(e->out, "null", 4);
        return 0;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            put(e->out, "true", 4);
        else
            put(e->out, "false", 5);
        return 0;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            put_integer(e->out, lua_tointeger(L, idx));
            return 0;
        }
        return put_float(e, (double)lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        rc = meter(e, len / STRING_BYTES_PER_STEP);
        if (rc == 0)
            rc = put_string(e, s, len);
        break;
    }
    case LUA_TTABLE:
        rc = encode_table(e, idx);
        break;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == &json_null) {
            put(e->out, "null", 4);
            return 0;
        }
        return enc_fail(e, "cannot encode a %s", lua_typename(L, type));
    default:
        return enc_fail(e, "cannot encode a %s", lua_typename(L, type));
    }
    /* Only strings and tables can add much; a scalar adds a few bytes. */
    if (rc == 0 && e->out->len - e->start > MAX_TEXT_BYTES)
        rc = enc_fail(e, "JSON text too large (over %zu MiB)", MAX_TEXT_BYTES >> 20);
    return rc;
}

/* Encodes the value at the absolute index idx into out; on failure out is
   as it was and err says why. */
static int encode_root(lua_State *L, int idx, bo_buf *out, int indent, char *err,
                       size_t errlen)
{
    size_t start = out->len;
    encoder e = { L, out, start, NULL, indent, 0, 0, 0, 0, err, errlen, bo_meter_of(L), 0, false };
    int top = lua_gettop(L);

    if (lua_type(L, idx) == LUA_TTABLE) {
        /* Everything the walk needs from Lua is made now, before it starts. */
        luaL_checkstack(L, 8, NULL);
        e.sc = scratch_get(L);
        e.sc->nkeys = 0;
        push_mark(L, &key_array_mt, "json.array");
        e.array_mt = lua_gettop(L);
        push_mark(L, &key_object_mt, "json.object");
        e.object_mt = lua_gettop(L);
        lua_pushliteral(L, "__columns");
        e.columns_name = lua_gettop(L);
    }
    int rc = encode_value(&e, idx);
    lua_settop(L, top);
    if (e.sc && e.sc->capkeys > KEEP_KEYS) {
        free(e.sc->keys);
        e.sc->keys = NULL;
        e.sc->capkeys = e.sc->nkeys = 0;
    }
    if (rc)
        out->len = start;
    if (e.meter && (e.spent || e.pending))
        e.meter->charge_or_raise(L, (unsigned)e.pending);   /* raises if the budget is spent */
    return rc ? BO_EINVAL : 0;
}

int bo_json_encode(lua_State *L, int idx, bo_buf *out, char *err, size_t errlen)
{
    return encode_root(L, lua_absindex(L, idx), out, 0, err, errlen);
}

/* ---- Decoding ---- */

typedef struct decoder {
    lua_State *L;
    const unsigned char *start, *p, *end;
    json_scratch *sc;   /* fetched when first needed */
    uint64_t values;    /* decoded so far, charged at the end */
    int depth;
    int array_mt;       /* stack slots of the marks */
    int object_mt;
    char *err;
    size_t errlen;
    bo_buf *tmp;        /* the Lua-free decoder's buffer (L is NULL) */
} decoder;

static int parse_value(decoder *d);

/* Reports what at the byte at (1-based in the message). */
static int dec_fail(decoder *d, const unsigned char *at, const char *what)
{
    if (d->err && d->errlen)
        snprintf(d->err, d->errlen, "%s at byte %zu", what, (size_t)(at - d->start) + 1);
    return -1;
}

static int dec_unexpected(decoder *d, const unsigned char *at)
{
    char what[48];
    if (at >= d->end)
        return dec_fail(d, at, "unexpected end of input");
    if (*at >= 0x20 && *at < 0x7f)
        snprintf(what, sizeof what, "unexpected character '%c'", *at);
    else
        snprintf(what, sizeof what, "unexpected byte 0x%02x", *at);
    return dec_fail(d, at, what);
}

static json_scratch *dec_scratch(decoder *d)
{
    if (!d->sc)
        d->sc = scratch_get(d->L);
    return d->sc;
}

/* The buffer for a string with escapes or a long number. */
static bo_buf *dec_buf(decoder *d)
{
    return d->L ? &dec_scratch(d)->str : d->tmp;
}

static inline void skip_space(decoder *d)
{
    const unsigned char *p = d->p, *end = d->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    d->p = p;
}

/* Checks that the input continues with the rest of a literal. */
static int expect_literal(decoder *d, const char *lit, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (d->p + i >= d->end || d->p[i] != (unsigned char)lit[i])
            return dec_unexpected(d, d->p + i);
    }
    d->p += len;
    return 0;
}

/* A number read by read_number: an integer when it has no fraction or
   exponent and fits in 64 bits, else a double. */
typedef struct number {
    bool integral;
    long long i;
    double f;
} number;

static int read_number(decoder *d, number *out)
{
    const unsigned char *s = d->p, *p = s, *end = d->end;
    unsigned long long acc = 0;
    bool neg = false, integral = true, overflow = false;

    if (*p == '-') {
        neg = true;
        p++;
    }
    if (p < end && *p == '0') {
        p++;
    } else if (p < end && *p >= '1' && *p <= '9') {
        do {
            unsigned digit = *p - '0';
            if (acc > (~0ULL - digit) / 10)
                overflow = true;
            else
                acc = acc * 10 + digit;
            p++;
        } while (p < end && IS_DIGIT(*p));
    } else {
        return dec_unexpected(d, p);
    }
    if (p < end && *p == '.') {
        integral = false;
        p++;
        if (p == end || !IS_DIGIT(*p))
            return dec_unexpected(d, p);
        while (p < end && IS_DIGIT(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integral = false;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !IS_DIGIT(*p))
            return dec_unexpected(d, p);
        while (p < end && IS_DIGIT(*p))
            p++;
    }
    d->p = p;

    if (integral && !overflow) {
        if (!neg && acc <= (unsigned long long)LLONG_MAX) {
            *out = (number){ true, (long long)acc, (double)acc };
            return 0;
        }
        if (neg && acc <= (unsigned long long)LLONG_MAX + 1) {
            long long v = acc == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)acc;
            *out = (number){ true, v, (double)v };
            return 0;
        }
    }

    /* strtod needs a terminated copy: the input need not be terminated. */
    char tmp[64], *text = tmp;
    size_t len = (size_t)(p - s);
    if (len >= sizeof tmp) {
        bo_buf *b = dec_buf(d);
        b->len = 0;
        text = room(b, len + 1);
    }
    memcpy(text, s, len);
    text[len] = '\0';
    double v = strtod(text, NULL);
    if (isinf(v))
        return dec_fail(d, s, "number out of range");
    *out = (number){ false, 0, v };
    return 0;
}

static int parse_number(decoder *d)
{
    number n;
    if (read_number(d, &n))
        return -1;
    if (n.integral)
        lua_pushinteger(d->L, (lua_Integer)n.i);
    else
        lua_pushnumber(d->L, (lua_Number)n.f);
    return 0;
}

static int hex_value(unsigned c)
{
    if (IS_DIGIT(c))
        return (int)(c - '0');
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    return -1;
}

/* Reads the four hex digits of the \u escape at p (the backslash). */
static int read_u_escape(decoder *d, const unsigned char *p, unsigned *cp)
{
    unsigned v = 0;
    for (int i = 2; i < 6; i++) {
        if (p + i >= d->end)
            return dec_unexpected(d, d->end);
        int h = hex_value(p[i]);
        if (h < 0)
            return dec_fail(d, p, "invalid \\u escape");
        v = v << 4 | (unsigned)h;
    }
    *cp = v;
    return 0;
}

static void put_utf8(bo_buf *b, unsigned cp)
{
    char *o = room(b, 4);
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | cp >> 18);
        o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    b->len += n;
}

/* Decodes the escape at *pp (a backslash) into b and moves past it. */
static int parse_escape(decoder *d, const unsigned char **pp, bo_buf *b)
{
    const unsigned char *p = *pp;
    unsigned cp, lo;
    char c;
    if (p + 1 >= d->end)
        return dec_unexpected(d, d->end);
    switch (p[1]) {
    case '"': c = '"'; break;
    case '\\': c = '\\'; break;
    case '/': c = '/'; break;
    case 'b': c = '\b'; break;
    case 'f': c = '\f'; break;
    case 'n': c = '\n'; break;
    case 'r': c = '\r'; break;
    case 't': c = '\t'; break;
    case 'u':
        if (read_u_escape(d, p, &cp))
            return -1;
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            char what[40];
            snprintf(what, sizeof what, "lone surrogate \\u%04x", cp);
            if (cp >= 0xDC00 || d->end - p < 12 || p[6] != '\\' || p[7] != 'u')
                return dec_fail(d, p, what);
            if (read_u_escape(d, p + 6, &lo))
                return -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return dec_fail(d, p, what);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        }
        put_utf8(b, cp);
        *pp = p + 6;
        return 0;
    default: {
        char what[40];
        if (p[1] >= 0x20 && p[1] < 0x7f)
            snprintf(what, sizeof what, "invalid escape '\\%c'", p[1]);
        else
            snprintf(what, sizeof what, "invalid escape");
        return dec_fail(d, p, what);
    }
    }
    bo_buf_putc(b, c);
    *pp = p + 2;
    return 0;
}

/* Skips bytes that stand for themselves in a string, checking UTF-8.
   Returns where they end, or NULL after reporting malformed UTF-8. */
static const unsigned char *scan_plain(decoder *d, const unsigned char *p)
{
    const unsigned char *end = d->end;
    for (;;) {
        while (p < end && char_class[*p] == 0)
            p++;
        if (p == end || *p < 0x80)
            return p;
        size_t n = utf8_len(p, end);
        if (n == 0) {
            dec_fail(d, p, "invalid UTF-8 in a string");
            return NULL;
        }
        p += n;
    }
}

/* Reads the string at d->p (the opening quote): *s and *n receive its
   bytes, in the input when it has no escapes, else in dec_buf(d) (valid
   until the next string or number is read). */
static int read_string(decoder *d, const char **s, size_t *n)
{
    const unsigned char *run = d->p + 1, *p;
    bo_buf *b = NULL;
    for (;;) {
        if (!(p = scan_plain(d, run)))
            return -1;
        if (p == d->end)
            return dec_unexpected(d, p);
        if (*p == '"') {
            if (b) {
                bo_buf_append(b, run, (size_t)(p - run));
                *s = b->data;
                *n = b->len;
            } else {
                *s = (const char *)run;
                *n = (size_t)(p - run);
            }
            d->p = p + 1;
            return 0;
        }
        if (*p != '\\')
            return dec_fail(d, p, "control character in a string");
        if (!b) {
            b = dec_buf(d);
            b->len = 0;
        }
        bo_buf_append(b, run, (size_t)(p - run));
        if (parse_escape(d, &p, b))
            return -1;
        run = p;
    }
}

/* Parses the string at d->p (the opening quote) and pushes it. */
static int parse_string(decoder *d)
{
    const char *s;
    size_t n;
    if (read_string(d, &s, &n))
        return -1;
    lua_pushlstring(d->L, s, n);
    return 0;
}

static int open_container(decoder *d)
{
    if (d->depth >= BO_JSON_MAX_DEPTH)
        return dec_fail(d, d->p, "nesting too deep");
    d->depth++;
    luaL_checkstack(d->L, 4, NULL);
    lua_createtable(d->L, 0, 0);
    d->p++;
    skip_space(d);
    return 0;
}

static int parse_array(decoder *d)
{
    lua_State *L = d->L;
    lua_Integer n = 0;
    if (open_container(d))
        return -1;
    if (d->p < d->end && *d->p == ']') {
        d->p++;
    } else {
        for (;;) {
            if (parse_value(d))
                return -1;
            lua_rawseti(L, -2, ++n);
            skip_space(d);
            if (d->p < d->end && *d->p == ',') {
                d->p++;
                continue;
            }
            if (d->p < d->end && *d->p == ']') {
                d->p++;
                break;
            }
            return dec_unexpected(d, d->p);
        }
    }
    lua_pushvalue(L, d->array_mt);
    lua_setmetatable(L, -2);
    d->depth--;
    return 0;
}

static int parse_object(decoder *d)
{
    lua_State *L = d->L;
    if (open_container(d))
        return -1;
    if (d->p < d->end && *d->p == '}') {
        d->p++;
        lua_pushvalue(L, d->object_mt);
        lua_setmetatable(L, -2);
        d->depth--;
        return 0;
    }
    for (;;) {
        if (d->p == d->end || *d->p != '"')
            return dec_unexpected(d, d->p);
        if (parse_string(d))
            return -1;
        skip_space(d);
        if (d->p == d->end || *d->p != ':')
            return dec_unexpected(d, d->p);
        d->p++;
        if (parse_value(d))
            return -1;
        lua_rawset(L, -3);
        skip_space(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            skip_space(d);
            continue;
        }
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            break;
        }
        return dec_unexpected(d, d->p);
    }
    d->depth--;
    return 0;
}

static int parse_value(decoder *d)
{
    d->values++;
    skip_space(d);
    if (d->p == d->end)
        return dec_unexpected(d, d->p);
    switch (*d->p) {
    case '{':
        return parse_object(d);
    case '[':
        return parse_array(d);
    case '"':
        return parse_string(d);
    case 't':
        if (expect_literal(d, "true", 4))
            return -1;
        lua_pushboolean(d->L, 1);
        return 0;
    case 'f':
        if (expect_literal(d, "false", 5))
            return -1;
        lua_pushboolean(d->L, 0);
        return 0;
    case 'n':
        if (expect_literal(d, "null", 4))
            return -1;
        bo_json_push_null(d->L);
        return 0;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return parse_number(d);
    default:
        return dec_unexpected(d, d->p);
    }
}

int bo_json_decode(lua_State *L, const char *text, size_t len, char *err, size_t errlen)
{
    if (!text)
        text = "";
    decoder d = { L, (const unsigned char *)text, (const unsigned char *)text,
                  (const unsigned char *)text + len, NULL, 0, 0, 0, 0, err, errlen, NULL };
    int top = lua_gettop(L);
    luaL_checkstack(L, 4, NULL);
    bo_meter *m = bo_meter_of(L);
    push_mark(L, &key_array_mt, "json.array");
    d.array_mt = lua_gettop(L);
    push_mark(L, &key_object_mt, "json.object");
    d.object_mt = lua_gettop(L);

    int rc = parse_value(&d);
    if (rc == 0) {
        skip_space(&d);
        if (d.p != d.end)
            rc = dec_unexpected(&d, d.p);
    }
    if (d.sc)
        bo_buf_reset(&d.sc->str, KEEP_BUF_BYTES);
    if (rc)
        lua_settop(L, top);
    if (m) {
        uint64_t steps = d.values * STEPS_PER_VALUE + len / STRING_BYTES_PER_STEP;
        m->charge_or_raise(L, steps > UINT32_MAX ? UINT32_MAX : (unsigned)steps);
    }
    if (rc)
        return BO_EPARSE;
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return 0;
}

/* ---- The Lua-free tree ---- */

static int tree_value(decoder *d, bo_jval **out);

static bo_jval *tree_node(bo_jtype type)
{
    bo_jval *v = bo_calloc(1, sizeof *v);
    v->type = type;
    return v;
}

/* Copies the string at d->p into a new NUL-terminated string. */
static int tree_string(decoder *d, char **s, size_t *n)
{
    const char *bytes;
    if (read_string(d, &bytes, n))
        return -1;
    *s = bo_strndup(bytes, *n);
    return 0;
}

static int tree_container(decoder *d, bo_jval *c)
{
    bool object = c->type == BO_JSON_OBJECT;
    char close = object ? '}' : ']';
    bo_jval **tail = &c->first;
    if (d->depth >= BO_JSON_MAX_DEPTH)
        return dec_fail(d, d->p, "nesting too deep");
    d->depth++;
    d->p++;
    skip_space(d);
    if (d->p < d->end && *d->p == close) {
        d->p++;
        d->depth--;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        size_t keylen = 0;
        if (object) {
            const unsigned char *at = d->p;
            if (d->p == d->end || *d->p != '"')
                return dec_unexpected(d, d->p);
            if (c->count == BO_JSON_MAX_MEMBERS)
                return dec_fail(d, at, "too many members in an object");
            if (tree_string(d, &key, &keylen))
                return -1;
            for (const bo_jval *m = c->first; m; m = m->next)
                if (m->keylen == keylen && memcmp(m->key, key, keylen) == 0) {
                    free(key);
                    return dec_fail(d, at, "duplicate member name");
                }
            skip_space(d);
            if (d->p == d->end || *d->p != ':') {
                free(key);
                return dec_unexpected(d, d->p);
            }
            d->p++;
        }
        bo_jval *v = NULL;
        if (tree_value(d, &v)) {
            bo_jval_free(v);
            free(key);
            return -1;
        }
        v->key = key;
        v->keylen = keylen;
        *tail = v;
        tail = &v->next;
        c->count++;
        skip_space(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            skip_space(d);
            continue;
        }
        if (d->p < d->end && *d->p == close) {
            d->p++;
            d->depth--;
            return 0;
        }
        return dec_unexpected(d, d->p);
    }
}

/* Parses the value at d->p into *out (set, possibly half-built, even on
   failure, so the caller frees it). */
static int tree_value(decoder *d, bo_jval **out)
{
    skip_space(d);
    if (d->p == d->end)
        return dec_unexpected(d, d->p);
    switch (*d->p) {
    case '{':
        *out = tree_node(BO_JSON_OBJECT);
        return tree_container(d, *out);
    case '[':
        *out = tree_node(BO_JSON_ARRAY);
        return tree_container(d, *out);
    case '"':
        *out = tree_node(BO_JSON_STRING);
        return tree_string(d, &(*out)->str, &(*out)->len);
    case 't':
        if (expect_literal(d, "true", 4))
            return -1;
        *out = tree_node(BO_JSON_TRUE);
        return 0;
    case 'f':
        if (expect_literal(d, "false", 5))
            return -1;
        *out = tree_node(BO_JSON_FALSE);
        return 0;
    case 'n':
        if (expect_literal(d, "null", 4))
            return -1;
        *out = tree_node(BO_JSON_NULL);
        return 0;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': {
        number n;
        if (read_number(d, &n))
            return -1;
        *out = tree_node(n.integral ? BO_JSON_INTEGER : BO_JSON_FLOAT);
        (*out)->integer = n.i;
        (*out)->number = n.f;
        return 0;
    }
    default:
        return dec_unexpected(d, d->p);
    }
}

int bo_json_parse(const char *text, size_t len, bo_jval **out, char *err, size_t errlen)
{
    bo_buf tmp;
    bo_buf_init(&tmp);
    if (!text)
        text = "";
    decoder d = { NULL, (const unsigned char *)text, (const unsigned char *)text,
                  (const unsigned char *)text + len, NULL, 0, 0, 0, 0, err, errlen, &tmp };
    bo_jval *v = NULL;
    int rc = tree_value(&d, &v);
    if (rc == 0) {
        skip_space(&d);
        if (d.p != d.end)
            rc = dec_unexpected(&d, d.p);
    }
    bo_buf_free(&tmp);
    if (rc) {
        bo_jval_free(v);
        *out = NULL;
        return BO_EPARSE;
    }
    *out = v;
    return 0;
}

void bo_jval_free(bo_jval *v)
{
    while (v) {
        bo_jval *next = v->next;
        bo_jval_free(v->first);
        free(v->key);
        free(v->str);
        free(v);
        v = next;
    }
}

const bo_jval *bo_jval_get(const bo_jval *obj, const char *key)
{
    if (!obj || obj->type != BO_JSON_OBJECT)
        return NULL;
    size_t n = strlen(key);
    for (const bo_jval *m = obj->first; m; m = m->next)
        if (m->keylen == n && memcmp(m->key, key, n) == 0)
            return m;
    return NULL;
}

const char *bo_jval_string(const bo_jval *obj, const char *key)
{
    const bo_jval *v = bo_jval_get(obj, key);
    return v && v->type == BO_JSON_STRING ? v->str : NULL;
}

const bo_jval *bo_jval_at(const bo_jval *v, const char *const *path)
{
    for (; v && *path; path++) {
        if ((*path)[0] == '#') {
            if (v->type != BO_JSON_ARRAY)
                return NULL;
            unsigned long i = strtoul(*path + 1, NULL, 10);
            for (v = v->first; v && i > 0; i--)
                v = v->next;
        } else {
            v = bo_jval_get(v, *path);
        }
    }
    return v;
}

bool bo_jval_copy_string(const bo_jval *v, char *out, size_t cap)
{
    if (!v || v->type != BO_JSON_STRING || v->len >= cap || memchr(v->str, '\0', v->len))
        return false;
    memcpy(out, v->str, v->len + 1);
    return true;
}

/* ---- The Lua library ---- */

/* json.encode(v [, {indent = n}]) -> text; raises on values JSON cannot hold. */
static int l_encode(lua_State *L)
{
    int indent = 0;
    char err[160];
    luaL_checkany(L, 1);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "indent");
        if (!lua_isnil(L, -1)) {
            int isint;
            lua_Integer n = lua_tointegerx(L, -1, &isint);
            luaL_argcheck(L, isint && n >= 0 && n <= MAX_INDENT, 2,
                          "indent must be an integer from 0 to 16");
            indent = (int)n;
        }
    }
    lua_settop(L, 1);
    json_scratch *sc = scratch_get(L);
    sc->out.len = 0;
    if (encode_root(L, 1, &sc->out, indent, err, sizeof err))
        return luaL_argerror(L, 1, err);
    lua_pushlstring(L, sc->out.data ? sc->out.data : "", sc->out.len);
    scratch_trim(sc);
    return 1;
}

/* json.decode(text) -> value | nil, message */
static int l_decode(lua_State *L)
{
    size_t len;
    char err[160];
    const char *text = luaL_checklstring(L, 1, &len);
    if (bo_json_decode(L, text, len, err, sizeof err)) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    return 1;
}

/* Sets the mark metatable on t (a new table when t is absent) and returns t. */
static int mark_table(lua_State *L, const void *key, const char *name)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    push_mark(L, key, name);
    lua_setmetatable(L, 1);
    return 1;
}

static int l_array(lua_State *L)
{
    return mark_table(L, &key_array_mt, "json.array");
}

static int l_object(lua_State *L)
{
    return mark_table(L, &key_object_mt, "json.object");
}

int bo_json_open(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        { "encode", l_encode },
        { "decode", l_decode },
        { "array", l_array },
        { "object", l_object },
        { NULL, NULL },
    };
    luaL_newlib(L, funcs);
    bo_json_push_null(L);
    lua_setfield(L, -2, "null");
    return 1;
}
