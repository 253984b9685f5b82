/*
 * lapi.h - the platform API as app code sees it: the globals borough, json,
 * log and db. The C parts live in lapi.c (borough.*, log.*), ldb.c (db.*) and
 * json.c (json.*); the Lua part of borough (borough.app and the building
 * blocks) is lua/borough/init.lua, loaded on top.
 */
#ifndef BO_LAPI_H
#define BO_LAPI_H

#include <lua.h>

struct bo_gen;
struct bo_request;
struct bo_db;
struct bo_stmt;

/* Installs the globals into a new app state; runs in protected mode. */
int bo_lapi_open(lua_State *L);

/* Pushes the db table (ldb.c). */
int bo_ldb_open(lua_State *L);
/* The app's database as db.* uses it, opened on first use (ldb.c); raises
   a Lua error if it cannot be opened. */
struct bo_db *bo_ldb_get(lua_State *L);
/* Raises db.*'s error for a failed step of stmt (reset first), or the
   sandbox's own when the request's budget ran out meanwhile. */
int bo_ldb_error(lua_State *L, struct bo_db *db, struct bo_stmt *stmt);
/* Rolls back whatever transaction a failed request left open (ldb.c). */
void bo_ldb_abandon(struct bo_gen *g);

/* The request running on this state now, or NULL (at load). */
struct bo_request *bo_lapi_current(lua_State *L);
/* The request or job whose coroutine runs now (what a platform function
   that waits waits for), or NULL (at load). A job's is a bo_request without
   a connection (r->job set). */
struct bo_request *bo_lapi_task(lua_State *L);

#endif
