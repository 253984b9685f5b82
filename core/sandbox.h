/*
 * sandbox.h - the Lua state an app runs in, and the limits on it.
 *
 * One sandbox per app per worker (and one for each load or check). It owns a
 * lua_State made with a counting allocator (the memory cap), opens only the
 * libraries DESIGN.md allows, confines require() to the app folder and the
 * platform's lua/ folder, loads source text only, and meters every run of Lua
 * code against a budget: VM instructions (a count hook), pattern-matching
 * steps (lpattern.c charges them), and a wall-clock deadline. A spent budget
 * raises a Lua error in the running code and in any code that tries to carry
 * on after catching it, so it always reaches the request's top level.
 */
#ifndef BO_SANDBOX_H
#define BO_SANDBOX_H

#include "bo.h"
#include "meter.h"
#include "pool.h"
#include "snapshot.h"

#include <lua.h>

typedef struct bo_limits {
    size_t memory;            /* bytes of Lua heap in one app state */
    uint64_t instructions;    /* VM instructions (and pattern steps) per run */
    uint64_t wall_ms;         /* wall-clock milliseconds per run */
} bo_limits;

/* The defaults, and the server maxima an app's manifest cannot exceed. */
extern const bo_limits bo_limits_default;
extern const bo_limits bo_limits_max;

/* What one run of Lua code (a request, an app load) may still use. */
typedef struct bo_budget {
    uint64_t used;            /* instructions and steps charged so far */
    uint64_t max;
    uint64_t deadline_ns;     /* on the uv_hrtime() clock; 0 = none */
    const char *spent;        /* why the budget ran out, or NULL */
} bo_budget;

typedef struct bo_sandbox {
    lua_State *L;
    bo_pool pool;             /* free lists behind the allocator */
    size_t mem_used;
    size_t mem_limit;
    size_t mem_peak;
    bo_budget *budget;        /* the run now executing; never NULL */
    bo_budget idle;           /* used when no run is current (finalizers) */
    bo_meter meter;           /* how C code charges the current budget (meter.h) */
    bo_limits limits;
    char *app_dir;            /* absolute; require() looks here first */
    char *lib_dir;            /* absolute; the platform's lua/ */
    const struct bo_snapshot *snapshot; /* the app's source (borrowed), or NULL: the disk */
    void *owner;              /* the app generation, for the bindings */
    void *current;            /* the request running now (a bo_request), or NULL */
    void *task;               /* the task (task.h) whose coroutine runs now, a
                                 request's or a job's: what a platform function
                                 that waits waits for; NULL outside one */
    void (*abandon_wait)(void *task); /* forgets the wait task recorded, when its
                                 yield could not reach task's coroutine (set by
                                 task.c) */
} bo_sandbox;

/* Creates the state: allowed libraries, require, hooks, the yield sentinel.
   Returns 0 or BO_ENOMEM (the cap is too small for the base libraries). */
int bo_sandbox_open(bo_sandbox *sb, const bo_limits *limits, const char *app_dir,
                    const char *lib_dir);
void bo_sandbox_close(bo_sandbox *sb);

/* Returns the sandbox a state (or any of its threads) belongs to. */
bo_sandbox *bo_sandbox_of(lua_State *L);

/* Starts a budget from the sandbox limits and makes it current; returns the
   one that was current, to be given back to bo_sandbox_leave(). */
void bo_budget_start(bo_budget *b, const bo_limits *limits);
bo_budget *bo_sandbox_enter(bo_sandbox *sb, bo_budget *b);
void bo_sandbox_leave(bo_sandbox *sb, bo_budget *previous);

/* Charges steps of work done in C (pattern matching) to the current budget;
   raises a Lua error if the budget is spent. Cheap enough to call every few
   hundred steps. */
void bo_sandbox_charge(lua_State *L, unsigned steps);

/* Charges steps without raising: returns true if the budget is now spent
   (for C code that must unwind itself first, like an SQLite statement). */
bool bo_sandbox_over_budget(bo_sandbox *sb, unsigned steps);

/* Makes a thread whose budget is spent fail at its next instruction (used
   before resuming a request killed while it waited). */
void bo_sandbox_poison(lua_State *co, const char *reason);

/* Loads Lua source (never bytecode) as a function on top of L's stack.
   Returns a lua_load status; on error the message is on the stack. */
int bo_sandbox_load(lua_State *L, const char *chunk, size_t len, const char *chunkname);
int bo_sandbox_loadfile(lua_State *L, const char *path, const char *chunkname);
/* Loads the app's own file rel (e.g. "app.lua") from the sandbox's snapshot,
   or from the app folder when it has none; the chunk is named
   "@<app_dir>/<rel>" so errors read "apps/grants/app.lua:12: ...". */
int bo_sandbox_load_app_file(lua_State *L, const char *rel);

/* Pushes the light userdata a platform function yields to ask the request's
   scheduler to wait: `return lua_yield(L, 1)` after pushing it (and the
   caller's coroutine wrappers pass it up). */
void bo_sandbox_push_sentinel(lua_State *L);
bool bo_sandbox_is_sentinel(lua_State *L, int idx);

/* Marks a thread as a request's coroutine, which app code may not resume or
   close; the mark is dropped with the thread. */
void bo_sandbox_mark_request_thread(lua_State *L, lua_State *co);

/* Runs a full GC with the idle budget. */
void bo_sandbox_collect(bo_sandbox *sb);

#endif
