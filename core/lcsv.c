/*
 * lcsv.c - borough.csv (see lcsv.h).
 *
 * A reader is a userdata that owns the parser (and, for a file, the
 * mapping), freed by its __gc; the text it reads is kept alive as its user
 * value. The userdata is made before anything is acquired, so a Lua error
 * at any point leaks nothing.
 */
#include "lcsv.h"
#include "csv.h"
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define READER_MT "borough.csv.reader"
#define BUF_MT "borough.csv.buffer"
#define BYTES_PER_STEP 16

typedef struct lcsv_reader {
    bo_csv csv;
    void *map;                 /* a mapped file, or NULL */
    size_t maplen;
} lcsv_reader;

static int reader_gc(lua_State *L)
{
    lcsv_reader *r = luaL_checkudata(L, 1, READER_MT);
    bo_csv_free(&r->csv);
    bo_csv_init(&r->csv, NULL, 0);     /* a reader called after this reads nothing */
    if (r->map)
        munmap(r->map, r->maplen);
    r->map = NULL;
    return 0;
}

/* A new reader with no text yet, on top of the stack. */
static lcsv_reader *new_reader(lua_State *L)
{
    lcsv_reader *r = lua_newuserdatauv(L, sizeof *r, 1);
    memset(r, 0, sizeof *r);
    bo_csv_init(&r->csv, NULL, 0);
    luaL_setmetatable(L, READER_MT);
    return r;
}

/* borough.csv.reader(text) */
static int l_reader(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    lcsv_reader *r = new_reader(L);
    bo_csv_init(&r->csv, text, len);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

int bo_lcsv_push_file(lua_State *L, const char *path, char *err, size_t errlen)
{
    lcsv_reader *r = new_reader(L);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "cannot read %s: %s", path, fd < 0 || errno ? strerror(errno) : "not a file");
        if (fd >= 0)
            close(fd);
        lua_pop(L, 1);
        return BO_EIO;
    }
    if (st.st_size > 0) {
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
            close(fd);
            lua_pop(L, 1);
            return BO_EIO;
        }
        madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
        r->map = map;
        r->maplen = (size_t)st.st_size;
    }
    close(fd);
    bo_csv_init(&r->csv, r->map, r->maplen);
    return 0;
}

bo_csv *bo_lcsv_check(lua_State *L, int idx)
{
    return &((lcsv_reader *)luaL_checkudata(L, idx, READER_MT))->csv;
}

void bo_lcsv_put_fields(lua_State *L, const bo_csv *c, int into, int names)
{
    lua_Integer n = luaL_len(L, names);
    for (size_t i = 0; i < c->nfields && (lua_Integer)i < n; i++) {
        if (lua_rawgeti(L, names, (lua_Integer)i + 1) != LUA_TSTRING) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushlstring(L, bo_csv_field_ptr(c, i), c->fields[i].len);
        lua_settable(L, into);
    }
}

/* reader:next() -> row, line | false, line, message, column | nil
   reader:next(into, names) -> into, line, count | the same false... | nil:
   field i goes to into[names[i]] when names[i] is a string (an import's
   columns straight into the values it checks); count is the record's
   number of fields, for the caller to compare with #names. */
static int reader_next(lua_State *L)
{
    lcsv_reader *r = luaL_checkudata(L, 1, READER_MT);
    size_t before = r->csv.pos;
    bo_csv_record rec;
    int rc = bo_csv_next(&r->csv, &rec);
    bo_sandbox_charge(L, (unsigned)((r->csv.pos - before) / BYTES_PER_STEP + r->csv.nfields));
    if (rc == BO_CSV_END) {
        lua_pushnil(L);
        return 1;
    }
    if (rc == BO_CSV_BAD) {
        lua_pushboolean(L, 0);
        lua_pushinteger(L, (lua_Integer)rec.line);
        lua_pushstring(L, rec.error);
        lua_pushinteger(L, (lua_Integer)rec.column);
        return 4;
    }
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_settop(L, 3);
        bo_lcsv_put_fields(L, &r->csv, 2, 3);
        lua_pushvalue(L, 2);
        lua_pushinteger(L, (lua_Integer)rec.line);
        lua_pushinteger(L, (lua_Integer)r->csv.nfields);
        return 3;
    }
    lua_createtable(L, (int)r->csv.nfields, 0);
    for (size_t i = 0; i < r->csv.nfields; i++) {
        lua_pushlstring(L, bo_csv_field_ptr(&r->csv, i), r->csv.fields[i].len);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_pushinteger(L, (lua_Integer)rec.line);
    return 2;
}

/* reader:position() -> bytes read, total bytes */
static int reader_position(lua_State *L)
{
    lcsv_reader *r = luaL_checkudata(L, 1, READER_MT);
    lua_pushinteger(L, (lua_Integer)r->csv.pos);
    lua_pushinteger(L, (lua_Integer)r->csv.len);
    return 2;
}

/* The iterator of rows(): a generic for passes the last row as a second
   argument, which is not next's `into`. */
static int rows_next(lua_State *L)
{
    lua_settop(L, 1);
    return reader_next(L);
}

/* borough.csv.rows(text): for row, line, err, column in ... */
static int l_rows(lua_State *L)
{
    l_reader(L);
    lua_pushcfunction(L, rows_next);
    lua_insert(L, -2);
    return 2;
}

static int buf_gc(lua_State *L)
{
    bo_buf_free(lua_touserdata(L, 1));
    return 0;
}

/* borough.csv.line(values) -> one CSV record ending in CRLF; nil is an
   empty field, other values are converted as tostring does. */
static int l_line(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    bo_buf *out = lua_newuserdatauv(L, sizeof *out, 0);     /* freed by its __gc */
    bo_buf_init(out);
    luaL_setmetatable(L, BUF_MT);
    for (lua_Integer i = 1; i <= n; i++) {
        if (i > 1)
            bo_buf_putc(out, ',');
        if (lua_geti(L, 1, i) != LUA_TNIL) {
            size_t len;
            const char *s = luaL_tolstring(L, -1, &len);
            bo_csv_put_field(out, s, len);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    bo_csv_end_record(out, 0);
    lua_pushlstring(L, out->data, out->len);
    return 1;
}

int bo_lcsv_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "next", reader_next },
        { "position", reader_position },
        { NULL, NULL },
    };
    static const luaL_Reg fns[] = {
        { "reader", l_reader },
        { "rows", l_rows },
        { "line", l_line },
        { NULL, NULL },
    };
    if (luaL_newmetatable(L, READER_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, reader_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, BUF_MT)) {
        lua_pushcfunction(L, buf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    return 1;
}
