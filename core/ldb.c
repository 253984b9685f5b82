/*
 * ldb.c - the db global: db.query, db.one, db.exec and db.tx over the app's
 * own SQLite database (see db.h). Parameters are always bound, never spliced
 * into SQL; nil and db.NULL (the same value as json.null) bind as NULL.
 * Rows are tables keyed by column name; NULL columns are absent;
 * integers stay integers, blobs are strings. Each row carries a shared
 * metatable whose __columns lists the columns in SELECT order, so
 * borough.json(row) keeps that order. Statement time counts against the
 * request's budget: the progress handler interrupts SQL when it is spent.
 *
 * On PostgreSQL a statement of a request or a job does not block the
 * worker: it is sent (bo_stmt_start), the task waits (bo_task_wait_db) and
 * yields, and the continuation reads the rows once the answer is in; the
 * worker serves others meanwhile. db.tx then runs fn with lua_pcallk, so
 * fn's statements can wait too, and its commit waits the same way. Where
 * the coroutine cannot yield (at load, in a metamethod or an iterator, in
 * `borough test`), the statement runs and waits in place.
 */
#include "app.h"
#include "db.h"
#include "json.h"
#include "lapi.h"
#include "sandbox.h"
#include "task.h"

#include <lauxlib.h>
#include <string.h>

static bo_gen *gen_of(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    if (!sb || !sb->owner)
        luaL_error(L, "db is only available to apps");
    return sb->owner;
}

static int over_budget(void *ud)
{
    return bo_sandbox_over_budget(ud, 10000);
}

static void unref_columns(void *ud, int ref)
{
    luaL_unref(ud, LUA_REGISTRYINDEX, ref);
}

static bo_db *db_of(lua_State *L)
{
    bo_gen *g = gen_of(L);
    if (!g->db) {
        char err[512];
        if (!bo_gen_db(g, err, sizeof err))
            luaL_error(L, "db: %s", err);
        bo_db_on_progress(g->db, over_budget, &g->sb);
        bo_db_on_evict(g->db, unref_columns, g->sb.L);
    }
    return g->db;
}

bo_db *bo_ldb_get(lua_State *L)
{
    return db_of(L);
}

/* Notes on the task that a database call failed while the server was away
   (its request answers 503, not 500). */
static void note_away(lua_State *L)
{
    bo_task *t = bo_task_of(L);
    if (t && bo_db_unreachable())
        t->db_away = true;
}

/* Raises the error for a failed step or prepare; the statement is reset so
   it holds no lock or snapshot. */
static int db_error(lua_State *L, bo_db *db, bo_stmt *stmt, const char *msg)
{
    note_away(L);
    bo_sandbox *sb = bo_sandbox_of(L);
    if (stmt)
        bo_stmt_reset(stmt);
    if (sb && sb->budget->spent) {
        bo_sandbox_poison(L, sb->budget->spent);
        return luaL_error(L, "%s", sb->budget->spent);
    }
    return luaL_error(L, "db: %s", msg ? msg : bo_db_errmsg(db));
}

int bo_ldb_error(lua_State *L, bo_db *db, bo_stmt *stmt)
{
    return db_error(L, db, stmt, NULL);
}

static bo_stmt *prepare_and_bind(lua_State *L, bo_db *db)
{
    size_t len;
    const char *sql = luaL_checklstring(L, 1, &len);
    char err[512];
    bo_stmt *stmt = bo_db_prepare(db, sql, len, err, sizeof err);
    if (!stmt)
        db_error(L, db, NULL, err);
    int top = lua_gettop(L);
    int wanted = bo_stmt_param_count(stmt);
    if (top - 1 != wanted) {
        bo_stmt_reset(stmt);
        luaL_error(L, "db: the SQL has %d parameter%s but %d value%s given", wanted,
                   wanted == 1 ? "" : "s", top - 1, top - 1 == 1 ? " was" : "s were");
    }
    for (int i = 2; i <= top; i++) {
        int rc;
        switch (lua_type(L, i)) {
        case LUA_TNIL:
            rc = bo_stmt_bind_null(stmt, i - 1);
            break;
        case LUA_TBOOLEAN:
            rc = bo_stmt_bind_int64(stmt, i - 1, lua_toboolean(L, i));
            break;
        case LUA_TNUMBER:
            if (lua_isinteger(L, i))
                rc = bo_stmt_bind_int64(stmt, i - 1, lua_tointeger(L, i));
            else
                rc = bo_stmt_bind_double(stmt, i - 1, lua_tonumber(L, i));
            break;
        case LUA_TSTRING: {
            /* Not copied: the string stays on this call's stack while the
               statement runs, and the cache clears a statement's bindings
               each time it hands the statement out (bo_db_prepare). */
            size_t n;
            const char *s = lua_tolstring(L, i, &n);
            rc = bo_stmt_bind_text(stmt, i - 1, s, n);
            break;
        }
        case LUA_TLIGHTUSERDATA: {
            /* json.null binds as NULL */
            bo_json_push_null(L);
            bool is_null = lua_rawequal(L, -1, i);
            lua_pop(L, 1);
            if (is_null) {
                rc = bo_stmt_bind_null(stmt, i - 1);
                break;
            }
        }
        /* fall through */
        default:
            bo_stmt_reset(stmt);
            luaL_error(L, "db: cannot bind a %s (parameter %d)", luaL_typename(L, i), i - 1);
            return NULL;
        }
        if (rc != BO_OK)
            db_error(L, db, stmt, NULL);
    }
    return stmt;
}

static const char stamp_key = 0;    /* mt[&stamp_key] = the statement's re-prepare count */

/* Pushes the shared row metatable for stmt's columns. Call it after the first
   step: SQLite re-prepares a statement whose schema changed (ALTER TABLE, or
   another connection's migration) inside a step, and its columns may
   change with it. The cached table is rebuilt when the re-prepare count has
   moved since it was made. */
static void push_row_mt(lua_State *L, bo_db *db, bo_stmt *stmt, int ncols)
{
    int *ref = bo_db_stmt_user_ref(db, stmt);
    lua_Integer stamp = bo_stmt_generation(stmt);
    if (ref && *ref > 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, *ref);
        lua_rawgetp(L, -1, &stamp_key);
        bool current = lua_tointeger(L, -1) == stamp;
        lua_pop(L, 1);
        if (current)
            return;
        lua_pop(L, 1);
        luaL_unref(L, LUA_REGISTRYINDEX, *ref);
        *ref = 0;
    }
    lua_createtable(L, 0, 2);
    lua_createtable(L, ncols, 0);
    for (int i = 0; i < ncols; i++) {
        lua_pushstring(L, bo_stmt_column_name(stmt, i));
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "__columns");
    lua_pushliteral(L, "borough.row");
    lua_setfield(L, -2, "__name");
    lua_pushinteger(L, stamp);
    lua_rawsetp(L, -2, &stamp_key);
    if (ref) {
        lua_pushvalue(L, -1);
        *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
}

/* Pushes the current row; keys come from the __columns table at cols, so no
   column name is hashed again per row. */
static void push_row(lua_State *L, bo_stmt *stmt, int ncols, int mt, int cols)
{
    lua_createtable(L, 0, ncols);
    for (int i = 0; i < ncols; i++) {
        int type = bo_stmt_column_type(stmt, i);
        if (type == BO_DB_NULL)
            continue;   /* NULL: the key is absent */
        lua_rawgeti(L, cols, i + 1);
        switch (type) {
        case BO_DB_INTEGER:
            lua_pushinteger(L, bo_stmt_column_int64(stmt, i));
            break;
        case BO_DB_FLOAT:
            lua_pushnumber(L, bo_stmt_column_double(stmt, i));
            break;
        default: {
            const void *p = bo_stmt_column_blob(stmt, i);
            lua_pushlstring(L, p ? p : "", (size_t)bo_stmt_column_bytes(stmt, i));
            break;
        }
        }
        lua_rawset(L, -3);
    }
    lua_pushvalue(L, mt);
    lua_setmetatable(L, -2);
}

/* ---- waiting for the database (PostgreSQL) ---- */

static const char wait_mt_key = 0;

/* A statement or commit in flight for a task; a userdata, so a coroutine
   dropped while it waits cannot leak it (its __gc abandons the answer). */
typedef struct db_wait {
    bo_db_waiter w;
    bo_task *task;
    bo_stmt *stmt;
    bool waiting;
    bool done;
} db_wait;

static void wait_ready(bo_db_waiter *w)
{
    db_wait *dw = (db_wait *)w;
    dw->waiting = false;
    dw->done = true;
    bo_task_wake(dw->task);
}

/* bo_task_wait_db's cancel: the task ends before the answer came. */
static void wait_cancel(void *ctx)
{
    db_wait *dw = ctx;
    if (dw->waiting)
        bo_db_cancel(&dw->w);
    dw->waiting = false;
}

static int wait_gc(lua_State *L)
{
    wait_cancel(lua_touserdata(L, 1));
    return 0;
}

/* A new waiting userdata of task t, on the top of L's stack. */
static db_wait *new_wait(lua_State *L, bo_task *t)
{
    db_wait *dw = lua_newuserdatauv(L, sizeof *dw, 0);
    memset(dw, 0, sizeof *dw);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &wait_mt_key);
    lua_setmetatable(L, -2);
    dw->w.ready = wait_ready;
    dw->w.loop = t->loop;
    dw->task = t;
    return dw;
}

int bo_ldb_start(lua_State *L, bo_stmt *stmt)
{
    bo_task *t = bo_task_of(L);
    if (!t || !lua_isyieldable(L) || bo_db_dialect() != BO_POSTGRES)
        return 0;
    db_wait *dw = new_wait(L, t);
    dw->stmt = stmt;
    if (bo_stmt_start(stmt, &dw->w) != BO_DB_PENDING) {
        lua_pop(L, 1);
        return 0;
    }
    dw->waiting = true;
    bo_task_wait_db(t, wait_cancel, dw);
    return lua_gettop(L);
}

int bo_ldb_wait(lua_State *L, int idx, lua_KFunction k)
{
    bo_sandbox_push_sentinel(L);
    return lua_yieldk(L, 1, idx, k);
}

static db_wait *answered(lua_State *L, int idx)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    db_wait *dw = lua_touserdata(L, idx);
    if (sb && sb->budget->spent) {
        bo_sandbox_poison(L, sb->budget->spent);
        luaL_error(L, "%s", sb->budget->spent);
    }
    if (!dw->done)
        luaL_error(L, "db: the statement was abandoned");
    return dw;
}

bo_stmt *bo_ldb_answered(lua_State *L, int idx)
{
    return answered(L, idx)->stmt;
}

int bo_ldb_commit_start(lua_State *L, bo_db *db, char *err, size_t errlen)
{
    bo_task *t = bo_task_of(L);
    if (!t || !lua_isyieldable(L) || bo_db_dialect() != BO_POSTGRES || bo_db_tx_depth(db) != 1)
        return bo_db_commit(db, err, errlen) < 0 ? BO_EDB : 0;
    db_wait *dw = new_wait(L, t);
    int rc = bo_db_commit_start(db, &dw->w, err, errlen);
    if (rc == BO_DB_PENDING) {
        dw->waiting = true;
        bo_task_wait_db(t, wait_cancel, dw);
        return lua_gettop(L);
    }
    lua_pop(L, 1);
    return rc < 0 ? rc : 0;
}

static int query_rows(lua_State *L, bo_db *db, bo_stmt *stmt);
static int one_row(lua_State *L, bo_db *db, bo_stmt *stmt);
static int exec_done(lua_State *L, bo_db *db, bo_stmt *stmt);

static int query_cont(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    db_wait *dw = answered(L, (int)ctx);
    return query_rows(L, db_of(L), dw->stmt);
}

static int one_cont(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    db_wait *dw = answered(L, (int)ctx);
    return one_row(L, db_of(L), dw->stmt);
}

static int exec_cont(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    db_wait *dw = answered(L, (int)ctx);
    return exec_done(L, db_of(L), dw->stmt);
}

/* db.query, db.one and db.exec: the same start, their own reading; and
   db.tx's begin (TX), which may wait for a connection as they may. */
enum { QUERY, ONE, EXEC, TX };
static const lua_KFunction statement_conts[] = { query_cont, one_cont, exec_cont };
static int (*const statement_ends[])(lua_State *, bo_db *, bo_stmt *) = { query_rows, one_row, exec_done };

static int statement(lua_State *L, int kind, int tries);
static int tx_begin(lua_State *L, int base, int tries);

static int connection_wait_over(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    bo_sandbox *sb = bo_sandbox_of(L);
    if (sb && sb->budget->spent)
        return luaL_error(L, "%s", sb->budget->spent);
    int top = (int)(ctx >> 16), kind = (int)(ctx & 0xf), tries = (int)((ctx >> 4) & 0xfff);
    lua_settop(L, top);
    return kind == TX ? tx_begin(L, top, tries) : statement(L, kind, tries);
}

/* The task (which can yield) waits a moment for a connection of the pool
   to be let go, then tries kind again with the same arguments: after 2,
   4, ... then every 50 ms, until its time limit. */
static int wait_for_connection(lua_State *L, int kind, int tries)
{
    bo_task_wait(bo_task_of(L), BO_WAIT_SLEEP, tries < 5 ? 2u << tries : 50);
    lua_KContext ctx = (lua_KContext)kind | (lua_KContext)(tries < 0xfff ? tries + 1 : tries) << 4 |
                       (lua_KContext)lua_gettop(L) << 16;
    bo_sandbox_push_sentinel(L);
    return lua_yieldk(L, 1, ctx, connection_wait_over);
}

/* Runs the statement the arguments give. On PostgreSQL, when every
   connection of the worker's pool is held by other requests (their
   transactions wait their turn for the app's write lock), a task waits for
   one to be let go, looking again after 2, 4, ... then every 50 ms until
   its time limit, rather than failing; the worker serves others meanwhile. */
static int statement(lua_State *L, int kind, int tries)
{
    bo_db *db = db_of(L);
    if (bo_task_of(L) && lua_isyieldable(L) && bo_db_saturated(db))
        return wait_for_connection(L, kind, tries);
    bo_stmt *stmt = prepare_and_bind(L, db);
    int w = bo_ldb_start(L, stmt);
    if (w)
        return bo_ldb_wait(L, w, statement_conts[kind]);
    return statement_ends[kind](L, db, stmt);
}

/* db.query(sql, ...) -> array of rows */
static int l_query(lua_State *L)
{
    return statement(L, QUERY, 0);
}

static int query_rows(lua_State *L, bo_db *db, bo_stmt *stmt)
{
    int rc = bo_stmt_step(stmt);        /* columns are known after it (see push_row_mt) */
    if (rc != BO_DB_ROW && rc != BO_DB_DONE)
        return db_error(L, db, stmt, NULL);
    int ncols = bo_stmt_column_count(stmt);
    push_row_mt(L, db, stmt, ncols);
    int mt = lua_gettop(L);
    lua_getfield(L, mt, "__columns");
    int cols = lua_gettop(L);
    lua_newtable(L);
    lua_Integer n = 0;
    for (; rc == BO_DB_ROW; rc = bo_stmt_step(stmt)) {
        push_row(L, stmt, ncols, mt, cols);
        lua_rawseti(L, -2, ++n);
    }
    if (rc != BO_DB_DONE)
        return db_error(L, db, stmt, NULL);
    bo_stmt_reset(stmt);
    bo_json_mark_array(L, -1);
    return 1;
}

/* db.one(sql, ...) -> the first row, or nil */
static int l_one(lua_State *L)
{
    return statement(L, ONE, 0);
}

static int one_row(lua_State *L, bo_db *db, bo_stmt *stmt)
{
    int rc = bo_stmt_step(stmt);
    if (rc == BO_DB_ROW) {
        int ncols = bo_stmt_column_count(stmt);     /* after the step (see push_row_mt) */
        push_row_mt(L, db, stmt, ncols);
        lua_getfield(L, -1, "__columns");
        push_row(L, stmt, ncols, lua_gettop(L) - 1, lua_gettop(L));
        bo_stmt_reset(stmt);
        return 1;
    }
    if (rc != BO_DB_DONE)
        return db_error(L, db, stmt, NULL);
    bo_stmt_reset(stmt);
    lua_pushnil(L);
    return 1;
}

/* db.exec(sql, ...) -> changes, last_insert_id */
static int l_exec(lua_State *L)
{
    return statement(L, EXEC, 0);
}

static int exec_done(lua_State *L, bo_db *db, bo_stmt *stmt)
{
    int rc;
    while ((rc = bo_stmt_step(stmt)) == BO_DB_ROW)
        ;
    if (rc != BO_DB_DONE)
        return db_error(L, db, stmt, NULL);
    bo_stmt_reset(stmt);
    bo_db *s = db;
    lua_pushinteger(L, bo_db_changes(s));
    lua_pushinteger(L, bo_db_last_insert_id(s));
    return 2;
}

/* db.tx(fn, ...) -> fn's results. Commits if fn returns values; rolls back
   if fn returns nil (or false) and an error, the expected failure of Lua's
   convention, and returns them; rolls back and re-raises if fn raises.
   Nested calls use savepoints: an inner failure undoes only the inner part.
   fn cannot wait (sleep, outbound I/O): a transaction never spans a yield. */
static int tx_commit_cont(lua_State *L, int status, lua_KContext ctx);

/* fn has returned (or failed) inside db.tx: the stack is the function
   (index 1) and fn's results, or the error on top. */
static int tx_end(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(ctx);
    bo_db *db = db_of(L);
    if (status != LUA_OK && status != LUA_YIELD) {
        bo_db_rollback(db);
        return lua_error(L);
    }
    int nres = lua_gettop(L) - 1;
    if (nres >= 2 && !lua_toboolean(L, 2) && !lua_isnil(L, 3)) {
        bo_db_rollback(db);         /* nil, err: the work failed as expected */
        return nres;
    }
    char err[512];
    int w = bo_ldb_commit_start(L, db, err, sizeof err);
    if (w > 0)
        return bo_ldb_wait(L, w, tx_commit_cont);
    if (w < 0) {
        bo_db_rollback(db);
        return note_away(L), luaL_error(L, "db.tx: %s", err);
    }
    return nres;
}

/* The commit's answer is in: fn's results are below the waiting userdata. */
static int tx_commit_cont(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    answered(L, (int)ctx);
    bo_db *db = db_of(L);
    lua_settop(L, (int)ctx - 1);
    char err[512];
    if (bo_db_commit_finish(db, err, sizeof err) < 0)
        return note_away(L), luaL_error(L, "db.tx: %s", err);
    return lua_gettop(L) - 1;
}

/* Begins the transaction, then runs fn (index 1; its arguments up to
   base). On PostgreSQL every connection of the worker's pool may be held
   by other requests' transactions (db_pg.c): a task then waits for one to
   end, looking again after 2, 4, ... then every 50 ms, until its time
   limit, rather than failing; the worker serves others meanwhile. */
static int tx_begin(lua_State *L, int base, int tries)
{
    lua_settop(L, base);
    bo_db *db = db_of(L);
    char err[512];
    int rc = bo_db_begin(db, err, sizeof err);
    if (rc == BO_EBUSY && bo_db_saturated(db) && bo_task_of(L) && lua_isyieldable(L))
        return wait_for_connection(L, TX, tries);
    if (rc < 0)
        return note_away(L), luaL_error(L, "db.tx: %s", err);
    lua_pushvalue(L, 1);
    lua_rotate(L, 2, 1);            /* fn, fn, args... */
    int status;
    if (bo_db_dialect() == BO_POSTGRES)  /* fn's statements may wait for their answers */
        status = lua_pcallk(L, base - 1, LUA_MULTRET, 0, 0, tx_end);
    else
        status = lua_pcall(L, base - 1, LUA_MULTRET, 0);
    return tx_end(L, status, 0);
}

static int l_tx(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    return tx_begin(L, lua_gettop(L), 0);
}

static const luaL_Reg db_fns[] = {
    { "query", l_query },
    { "one", l_one },
    { "exec", l_exec },
    { "tx", l_tx },
    { NULL, NULL },
};

int bo_ldb_open(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, wait_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "borough.db_wait");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &wait_mt_key);
    luaL_newlib(L, db_fns);
    bo_json_push_null(L);            /* db.NULL is json.null: one sentinel for "no value" */
    lua_setfield(L, -2, "NULL");
    /* which engine the SQL runs on: lua/borough/sql.lua writes what differs */
    lua_pushstring(L, bo_db_dialect() == BO_POSTGRES ? "postgresql" : "sqlite");
    lua_setfield(L, -2, "dialect");
    return 1;
}

bool bo_ldb_can_wait(lua_State *L)
{
    if (!lua_isyieldable(L))
        return false;
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_gen *g = sb ? sb->owner : NULL;
    return !(g && g->db && bo_db_in_tx(g->db));
}

void bo_ldb_abandon(bo_gen *g)
{
    if (!g->db)
        return;
    bo_db_reset_busy(g->db);
    bo_db_rollback_all(g->db);
}
