/*
 * levents.c - borough._events (see levents.h): publishing an event in the
 * caller's transaction, the newest event's id, and the body of a stream
 * response.
 */
#include "levents.h"
#include "app.h"
#include "bus.h"
#include "db.h"
#include "lapi.h"
#include "sandbox.h"
#include "task.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#define PRUNE_EVERY 64     /* every so many ids, old rows go */

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS " BO_EVENTS_TABLE " (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  channel TEXT NOT NULL,\n"
    "  data TEXT NOT NULL,\n"
    "  at_ms INTEGER NOT NULL\n"
    ");\n";

bool bo_levents_channel_ok(const char *s, size_t len)
{
    if (len == 0 || len > BO_EVENT_CHANNEL_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("_-.:/", c)) ||
            c == '\0')
            return false;
    }
    return true;
}

static bo_gen *gen_of(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    if (!sb || !sb->owner)
        luaL_error(L, "borough.events is only available to apps");
    return sb->owner;
}

/* bo_db_on_commit's function: the transaction that published has
   committed, so the rows can be read: wake every worker's hub. */
static void announce(void *ud)
{
    bo_gen *g = ud;
    if (!g->events_pending)
        return;
    g->events_pending = false;
    g->events_table = true;            /* a publish committed: the table is there */
    g->events_made_tx = false;
    bo_bus_kick(g->paths->bus, g->info->name);
}

/* PostgreSQL: whether g's events table is there (looked for until it is).
   A statement on a missing table would end the caller's transaction there,
   where SQLite only refuses to prepare it. */
static bool table_there(bo_gen *g, bo_db *db)
{
    if (g->events_table)
        return true;
    bool there = bo_db_has_table(db, BO_EVENTS_TABLE);
    if (there && !g->events_made_tx)
        g->events_table = true;        /* (made in a transaction: once it commits, announce says) */
    return there;
}

/* Runs sql with the platform's rights, binding channel and data (texts)
   then ints; makes the table first if it is missing (also when a statement
   prepared while it existed finds it gone: a transaction that made it was
   rolled back). Returns BO_DB_DONE or the failing code (the message in
   err). */
static int run(bo_gen *g, bo_db *db, const char *sql, const char *channel, const char *data, size_t dlen,
               int nint, const int64_t *ints, char *err, size_t errlen)
{
    bool was = bo_db_set_platform(db, true);
    int rc = BO_EDB;
    bool pg = bo_db_dialect() == BO_POSTGRES;
    for (int attempt = pg ? 1 : 0; attempt < 2 && rc != BO_DB_DONE; attempt++) {
        if (attempt > 0 && !(pg && table_there(g, db))) {
            if (bo_db_exec_script(db, schema, err, errlen) < 0)
                break;
            if (bo_db_in_tx(db))
                g->events_made_tx = true;
        }
        bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, errlen);
        if (!stmt)
            continue;
        int i = 1;
        if (channel) {
            bo_stmt_bind_text(stmt, i++, channel, -1);
            bo_stmt_bind_text(stmt, i++, data, (int64_t)dlen);
        }
        for (int k = 0; k < nint; k++)
            bo_stmt_bind_int64(stmt, i++, ints[k]);
        rc = bo_stmt_step(stmt);
        if (rc != BO_DB_DONE) {
            snprintf(err, errlen, "%s", bo_db_errmsg(db));
            g->events_table = false;   /* (made in a transaction rolled back since: look again) */
        }
        bo_stmt_reset(stmt);
        bo_stmt_clear(stmt);
    }
    bo_db_set_platform(db, was);
    return rc;
}

#define INSERT_EVENT "INSERT INTO " BO_EVENTS_TABLE " (channel, data, at_ms) VALUES (?1, ?2, ?3)"

/* The end of a publish: announces the event (now, or when the caller's
   transaction commits) and returns its id (stack index 4). */
static int published(lua_State *L, bo_gen *g, bo_db *db, bool own_tx)
{
    if (own_tx) {
        g->events_table = true;        /* committed: the table is there to stay */
        g->events_made_tx = false;
    }
    if (bo_db_in_tx(db)) {
        g->events_pending = true;
        bo_db_on_commit(db, announce, g);
    } else {
        bo_bus_kick(g->paths->bus, g->info->name);
    }
    lua_settop(L, 4);
    return 1;
}

static int publish_committed(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    bo_ldb_answered(L, (int)ctx);
    bo_db *db = bo_ldb_get(L);
    char err[512];
    if (bo_db_commit_finish(db, err, sizeof err) < 0)
        return luaL_error(L, "borough.events.publish: %s", err);
    return published(L, gen_of(L), db, true);
}

/* The row is in (rc, with err): now and then the oldest rows go; a publish
   of its own commits. Stack: channel, data, own_tx. */
static int publish_inserted(lua_State *L, bo_gen *g, bo_db *db, int rc, char *err, size_t errlen)
{
    bool own_tx = lua_toboolean(L, 3);
    int64_t now = bo_unix_ms();
    int64_t id = rc == BO_DB_DONE ? bo_db_last_insert_id(db) : 0;
    if (rc == BO_DB_DONE && id % PRUNE_EVERY == 0) {
        int64_t keep[3] = { id - 1, now - BO_EVENTS_KEEP_MS, id - BO_EVENTS_KEEP };
        rc = run(g, db, "DELETE FROM " BO_EVENTS_TABLE " WHERE id <= ?1 AND (at_ms < ?2 OR id <= ?3)", NULL, NULL, 0,
                 3, keep, err, errlen);
    }
    if (rc != BO_DB_DONE) {
        if (own_tx)
            bo_db_rollback(db);
        return luaL_error(L, "borough.events.publish: %s", err);
    }
    lua_settop(L, 3);
    lua_pushinteger(L, id);
    if (!own_tx)
        return published(L, g, db, false);
    int w = bo_ldb_commit_start(L, db, err, errlen);
    if (w > 0)
        return bo_ldb_wait(L, w, publish_committed);
    if (w < 0) {
        bo_db_rollback(db);
        return luaL_error(L, "borough.events.publish: %s", err);
    }
    return published(L, g, db, true);
}

static int publish_answered(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    bo_stmt *stmt = bo_ldb_answered(L, (int)ctx);
    bo_gen *g = gen_of(L);
    bo_db *db = bo_ldb_get(L);
    char err[512] = "";
    int rc = bo_stmt_step(stmt);
    if (rc != BO_DB_DONE) {
        snprintf(err, sizeof err, "%s", bo_db_errmsg(db));
        g->events_table = false;       /* (made in a transaction rolled back since: look again) */
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    lua_settop(L, 3);
    return publish_inserted(L, g, db, rc, err, sizeof err);
}

/* publish(channel, text) -> the event's id. Inside db.tx the row joins the
   transaction and is announced when it commits; outside, it is committed
   and announced at once. On PostgreSQL the task waits for the database's
   answers without holding up the worker, as db.* does. */
static int p_publish(lua_State *L)
{
    size_t clen, dlen;
    const char *channel = luaL_checklstring(L, 1, &clen);
    const char *data = luaL_checklstring(L, 2, &dlen);
    if (!bo_levents_channel_ok(channel, clen))
        return luaL_error(L, "borough.events.publish: a channel is 1 to %d letters, digits and _ - . : /, not %s",
                          BO_EVENT_CHANNEL_MAX, luaL_tolstring(L, 1, NULL));
    if (dlen > BO_EVENT_DATA_MAX)
        return luaL_error(L, "borough.events.publish: the data is %d bytes; an event holds at most %d (publish "
                             "what changed, and let the page read the rest)", (int)dlen, BO_EVENT_DATA_MAX);
    if (!bo_task_of(L))
        return luaL_error(L, "borough.events.publish: only while a request or a job runs");
    bo_gen *g = gen_of(L);
    bo_db *db = bo_ldb_get(L);
    char err[512];
    int64_t now = bo_unix_ms();
    /* PostgreSQL: events must take their ids in the order they commit, or
       a hub that read a newer one would pass over an older one committed
       after it. The app's write lock (db_pg.c) keeps that order for
       transactions only, so outside db.tx a publish makes one of its own. */
    bool pg = bo_db_dialect() == BO_POSTGRES;
    bool own_tx = pg && !bo_db_in_tx(db);
    if (own_tx && bo_db_begin(db, err, sizeof err) < 0)
        return luaL_error(L, "borough.events.publish: %s", err);
    lua_settop(L, 2);
    lua_pushboolean(L, own_tx);
    if (pg && table_there(g, db)) {
        /* the insert is sent, and the task waits for its answer */
        bool was = bo_db_set_platform(db, true);
        bo_stmt *stmt = bo_db_prepare(db, INSERT_EVENT, sizeof INSERT_EVENT - 1, err, sizeof err);
        int w = 0;
        if (stmt) {
            bo_stmt_bind_text(stmt, 1, channel, -1);
            bo_stmt_bind_text(stmt, 2, data, (int64_t)dlen);
            bo_stmt_bind_int64(stmt, 3, now);
            w = bo_ldb_start(L, stmt);
        }
        bo_db_set_platform(db, was);
        if (w)
            return bo_ldb_wait(L, w, publish_answered);
        if (stmt) {
            bo_stmt_reset(stmt);
            bo_stmt_clear(stmt);
        }
    }
    int rc = run(g, db, INSERT_EVENT, channel, data, dlen, 1, &now, err, sizeof err);
    return publish_inserted(L, g, db, rc, err, sizeof err);
}

/* last_id() -> the newest event's id (0 before the first). */
static int p_last_id(lua_State *L)
{
    bo_gen *g = gen_of(L);
    bo_db *db = bo_ldb_get(L);
    static const char sql[] = "SELECT coalesce(max(id), 0) FROM " BO_EVENTS_TABLE;
    char err[256];
    bool there = bo_db_dialect() != BO_POSTGRES || table_there(g, db);
    bo_stmt *stmt = there ? bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err) : NULL;
    int64_t id = 0;
    if (stmt) {                 /* no table: nothing was ever published */
        if (bo_stmt_step(stmt) == BO_DB_ROW)
            id = bo_stmt_column_int64(stmt, 0);
        bo_stmt_reset(stmt);
    }
    lua_pushinteger(L, id);
    return 1;
}

/* stream(channels) -> the body of a response that opens an event stream
   following channels (a list of names). */
static int p_stream(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    if (n < 1 || n > BO_STREAM_CHANNELS_MAX)
        return luaL_error(L, "a stream follows 1 to %d channels, not %d", BO_STREAM_CHANNELS_MAX, (int)n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, ' ');
    for (lua_Integer i = 1; i <= n; i++) {
        size_t len;
        lua_rawgeti(L, 1, i);
        const char *c = lua_tolstring(L, -1, &len);
        if (lua_type(L, -1) != LUA_TSTRING || !bo_levents_channel_ok(c, len))
            return luaL_error(L, "channel %d: a channel is 1 to %d letters, digits and _ - . : /", (int)i,
                              BO_EVENT_CHANNEL_MAX);
        lua_pop(L, 1);
        luaL_addlstring(&b, c, len);
        luaL_addchar(&b, ' ');
    }
    luaL_pushresult(&b);
    size_t len;
    const char *packed = lua_tolstring(L, -1, &len);
    char *ud = lua_newuserdatauv(L, len + 1, 0);
    memcpy(ud, packed, len + 1);
    if (luaL_newmetatable(L, "borough.stream")) {
        lua_pushliteral(L, "a platform metatable");
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
    return 1;
}

const char *bo_levents_channels(lua_State *L, int idx)
{
    return luaL_testudata(L, idx, "borough.stream");
}

int bo_levents_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "publish", p_publish },
        { "last_id", p_last_id },
        { "stream", p_stream },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
    return 1;
}
