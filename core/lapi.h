/*
 * lapi.h - the platform API as app code sees it: the globals borough, json,
 * log, db and http. The C parts live in lapi.c (borough.*, log.*), ldb.c
 * (db.*), json.c (json.*) and the modules linit.c lists; the Lua part of
 * borough (borough.app and the building blocks) is lua/borough/init.lua,
 * loaded on top.
 */
#ifndef BO_LAPI_H
#define BO_LAPI_H

#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>

struct bo_gen;
struct bo_db;
struct bo_stmt;

/* Opens each library of libs (a table ending with {NULL, NULL}) into a new
   app state, in order: its function pushes one value, stored at its name,
   a global or "g.x" (field x of the global g); a table given where a table
   already is adds its fields to it. Runs in protected mode. */
void bo_lapi_open_libs(lua_State *L, const luaL_Reg *libs);
/* Push the C half of the borough table (borough.json, text, status,
   escape, sleep, ...), and the log table. */
int bo_lapi_open(lua_State *L);
int bo_lapi_log_open(lua_State *L);
/* Pushes {status = status, type = type, body = <the value at body>}; type
   and body are left out when NULL or 0. */
void bo_lapi_push_response(lua_State *L, lua_Integer status, const char *type, int body);

/* Pushes the db table (ldb.c). */
int bo_ldb_open(lua_State *L);
/* The app's database as db.* uses it, opened on first use (ldb.c); raises
   a Lua error if it cannot be opened. */
struct bo_db *bo_ldb_get(lua_State *L);
/* Raises db.*'s error for a failed step of stmt (reset first), or the
   sandbox's own when the request's budget ran out meanwhile. */
int bo_ldb_error(lua_State *L, struct bo_db *db, struct bo_stmt *stmt);
/* Waiting for the database without blocking the worker (PostgreSQL), for
   the platform's functions as for db.*: bo_ldb_start sends stmt when L's
   task can yield and returns the stack index of its wait (0: step it in
   place); bo_ldb_commit_start begins the outermost commit the same way
   (0: committed in place; BO_E*: failed, with err). The caller then
   returns bo_ldb_wait(L, idx, k); k runs when the answer is in, with
   ctx = idx, and calls bo_ldb_answered(L, ctx) first (it raises if the
   wait was abandoned; for a statement it returns it, to step). */
int bo_ldb_start(lua_State *L, struct bo_stmt *stmt);
int bo_ldb_commit_start(lua_State *L, struct bo_db *db, char *err, size_t errlen);
int bo_ldb_wait(lua_State *L, int idx, lua_KFunction k);
struct bo_stmt *bo_ldb_answered(lua_State *L, int idx);
/* Rolls back whatever transaction a failed request left open (ldb.c). */
void bo_ldb_abandon(struct bo_gen *g);
/* Whether app code at L may wait (sleep, outbound HTTP): it can yield and
   holds no transaction (on PostgreSQL db.tx lets fn yield, for its
   statements only). */
bool bo_ldb_can_wait(lua_State *L);

#endif
