/*
 * lentity.h - the C half of the entity layer (lua/borough/entity.lua): the
 * platform's private functions that the Lua half needs and app code must
 * not reach, and the schema step of an app load.
 *
 * Private functions. bo_lentity_open() puts borough._platform() in a new
 * state; lua/borough/entity.lua calls it once, when the platform library
 * loads (before any app code runs), and it gives out a table of functions
 * only that once: exec (schema SQL with the platform's rights and outside
 * the app's budget, at load only), audit (a row of the audit trail, written
 * by C with who and when decided here), register (the Lua functions the
 * schema step calls), seal/unseal/blind (encrypted fields), log and
 * log_reads (rows of the platform audit log), and export_begin,
 * export_rows and loaded (a download's export row, which entity.lua hands
 * on to borough.download).
 *
 * The schema step. After app.lua has run, bo_lentity_load() brings the app
 * database in line with the app: on the main thread's load (primary) it
 * applies pending migration files, then the additive changes of the entity
 * declarations, in one transaction, and records a fingerprint of what it
 * applied; any failure rolls all of it back and the app does not load. Any
 * other load (a worker's) only checks the fingerprint, so a worker never
 * changes the schema.
 *
 * Who. The audit trail records who made each write: the running task's
 * `who` and `via` (task.h: the signed-in user of a request, "public" for a
 * request nobody is signed in to, "system" for a job), or the actor a
 * command set with bo_lentity_set_actor ("system" when nothing says
 * otherwise).
 */
#ifndef BO_LENTITY_H
#define BO_LENTITY_H

#include <lua.h>

struct bo_gen;
struct bo_task;

/* Pushes borough._platform, the function that hands entity.lua its private
   functions once. */
int bo_lentity_open(lua_State *L);

/* The schema step of a load (see above). Runs in protected mode inside the
   load; raises a Lua error whose message names the file and line at fault. */
void bo_lentity_load(lua_State *L, struct bo_gen *g);

/* Sets who writes made outside a request are by (who) and what made them
   (via, e.g. "borough import residents.csv"), for commands. */
void bo_lentity_set_actor(lua_State *L, const char *who, const char *via);

/* Pushes the entity named name (from the entity layer's registry), or nil. */
int bo_lentity_push(lua_State *L, const char *name);

/* Pushes an empty buffer owned by the state, for opened text: its __gc
   wipes and frees it, so nothing leaks if pushing its content raises. */
struct bo_buf;
struct bo_buf *bo_lentity_push_plain(lua_State *L);

/* Writes the platform audit log's row of a read of encrypted values: "read
   encrypted", by whoever acts now, with the detail "<what> of <n> records:
   <ids as ranges>" ("applications (account_number) of 3 records: 1-2, 7";
   sorts ids). Raises if the row cannot be written. Nothing for n = 0. */
void bo_lentity_log_reads(lua_State *L, const char *what, lua_Integer *ids, size_t n);

/* A download being sent (borough.download.csv, through the private
   functions export_begin, export_rows and loaded): what its export row in
   the platform audit log will say. */
typedef struct bo_export bo_export;

/* The task t ends (however: sent whole, cut short by an error, the time
   limit or the client going away): writes the export row of its download,
   if it sent one, and frees it. An export row that cannot be written is
   logged as an error (the response is gone by then). Called by
   bo_task_end, before the owner lets go of its generation. */
void bo_lentity_export_end(struct bo_task *t);

#endif
