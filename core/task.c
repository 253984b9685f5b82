/*
 * task.c - a coroutine with a budget, its waits and its end (see task.h).
 */
#include "task.h"
#include "app.h"
#include "lapi.h"
#include "lentity.h"
#include "log.h"
#include "metrics.h"

#include <lauxlib.h>
#include <string.h>

static void resume(bo_task *t, int nargs);

void bo_task_init(bo_task *t, uv_loop_t *loop, const bo_task_ops *ops, const char *late)
{
    t->ops = ops;
    t->late = late;
    t->loop = loop;
    t->co = NULL;
    t->co_ref = LUA_NOREF;
    t->wait = BO_WAIT_NONE;
    t->db_held = NULL;
    uv_timer_init(loop, &t->timer);
    t->timer.data = t;
}

void bo_task_close(bo_task *t, void (*done)(uv_handle_t *))
{
    uv_close((uv_handle_t *)&t->timer, done);
}

bo_task *bo_task_of(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    return sb ? sb->task : NULL;
}

/* ---- ending ---- */

/* No transaction outlives the turn of app code that opened it. One still
   open when the coroutine stops (to wait, or at its end) would hold the
   app's write lock and take in the writes of every task after it, none of
   them ever committed: it is rolled back, and the task named. */
static void end_open_tx(bo_task *t)
{
    bo_gen *g = t->gen;
    if (g && g->db && t->db_held) {          /* held across a wait that ended otherwise */
        bo_db_attach(g->db, t->db_held);
        t->db_held = NULL;
    }
    if (!g || !g->db || !bo_db_in_tx(g->db))
        return;
    bo_ldb_abandon(g);
    char what[600];
    t->ops->describe(t, what, sizeof what);
    bo_log(BO_LOG_ERROR, g->info->name, "%s left a transaction open; it was rolled back", what);
}

void bo_task_end(bo_task *t)
{
    if (t->export)
        bo_lentity_export_end(t);
    if (t->gen) {
        end_open_tx(t);
        if (t->co) {
            bo_gen_thread_release(t->gen, t->co, t->co_ref, true);
            t->co = NULL;
        }
    }
    uv_timer_stop(&t->timer);
    t->wait = BO_WAIT_NONE;
    t->io_cancel = NULL;
    t->io_ctx = NULL;
}

/* Builds "message\n<traceback>" for the log; runs on the main state. */
static int traceback(lua_State *L)
{
    lua_State *co = lua_touserdata(L, 1);
    luaL_traceback(L, co, lua_tostring(L, 2), 0);
    return 1;
}

void bo_task_fail(bo_task *t, const char *why)
{
    bo_gen *g = t->gen;
    lua_State *L = g->sb.L;
    if (t->metrics)
        bo_counter_add(&t->metrics->lua_errors, 1);
    if (!t->ops->failing(t, why)) {
        bo_log(BO_LOG_INFO, g->info->name, "%s (the client had gone)", why);
    } else {
        lua_pushcfunction(L, traceback);
        lua_pushlightuserdata(L, t->co);
        lua_pushstring(L, why);
        bool traced = lua_pcall(L, 2, 1, 0) == LUA_OK;
        const char *text = traced ? lua_tostring(L, -1) : why;
        const char *nl = strchr(text, '\n');
        bo_log(BO_LOG_ERROR, g->info->name, "%.*s", nl ? (int)(nl - text) : (int)strlen(text), text);
        if (nl)
            bo_log(BO_LOG_DEBUG, g->info->name, "%s", nl + 1);
        lua_pop(L, 1);
    }
    bo_ldb_abandon(g);
    bo_gen_thread_release(g, t->co, t->co_ref, false);
    t->co = NULL;
    /* A state left near its memory cap (globals kept growing) is replaced. */
    if (g->sb.mem_used > g->sb.mem_limit / 2) {
        bo_sandbox_collect(&g->sb);
        if (g->sb.mem_used > g->sb.mem_limit / 10 * 9)
            g->poisoned = true;
    }
    t->ops->failed(t);
}

/* ---- waiting ---- */

/* Spends the waiting task's budget, so that its code fails with why where
   it waited. The budget must be the sandbox's current one while it is
   marked: between resumes the sandbox holds its idle budget, which must not
   be the one spent. */
static void poison(bo_task *t, const char *why)
{
    bo_sandbox *sb = &t->gen->sb;
    bo_budget *prev = bo_sandbox_enter(sb, &t->budget);
    bo_sandbox_poison(t->co, why);
    bo_sandbox_leave(sb, prev);
}

/* Abandons the operation a task waits for (BO_WAIT_IO), so that its
   completion never comes. */
static void cancel_io(bo_task *t)
{
    void (*cancel)(void *) = t->io_cancel;
    t->io_cancel = NULL;
    if ((t->wait == BO_WAIT_IO || t->wait == BO_WAIT_DB) && cancel)
        cancel(t->io_ctx);
    t->io_ctx = NULL;
}

static void arm_timer(bo_task *t);

static void on_timer(uv_timer_t *timer)
{
    bo_task *t = timer->data;
    if (t->wait == BO_WAIT_NONE)
        return;
    bool late = t->budget.deadline_ns && uv_hrtime() >= t->budget.deadline_ns;
    if (t->wait == BO_WAIT_IO || t->wait == BO_WAIT_DB) {
        if (!late) {                   /* only the deadline ends an I/O wait */
            arm_timer(t);
            return;
        }
        cancel_io(t);
    }
    if (late)
        poison(t, t->late);
    t->wait = BO_WAIT_NONE;
    resume(t, 0);
}

static void arm_timer(bo_task *t)
{
    /* Loop time is cached at the top of each loop iteration and lags the
       clock by however long this iteration has run: refresh it so that
       borough.sleep(s) never wakes before s has passed. Loop time and
       uv_hrtime() are the same monotonic clock, and loop time is whole
       milliseconds rounded down, so with the +1 a timer set for the
       deadline cannot fire before on_timer sees the deadline passed. */
    uv_update_time(t->loop);
    uint64_t now = uv_now(t->loop) * 1000000ULL;
    uint64_t left = UINT64_MAX;
    if (t->budget.deadline_ns)
        left = t->budget.deadline_ns > now ? (t->budget.deadline_ns - now) / 1000000 + 1 : 0;
    /* A sleep gets one more millisecond, for the same rounding down. */
    uint64_t sleep_ms = t->wait_ms ? t->wait_ms + 1 : 0;
    uint64_t due = t->wait == BO_WAIT_SLEEP && sleep_ms < left ? sleep_ms : left;
    if (due == UINT64_MAX)
        return;
    uv_timer_start(&t->timer, on_timer, due, 0);
}

void bo_task_wait(bo_task *t, bo_wait kind, uint64_t ms)
{
    t->wait = kind;
    t->wait_ms = ms;
    t->drained = false;
}

void bo_task_wait_io(bo_task *t, void (*cancel)(void *ctx), void *ctx)
{
    t->wait = BO_WAIT_IO;
    t->wait_ms = 0;
    t->io_cancel = cancel;
    t->io_ctx = ctx;
    t->drained = false;
}

void bo_task_wait_db(bo_task *t, void (*cancel)(void *ctx), void *ctx)
{
    bo_task_wait_io(t, cancel, ctx);
    t->wait = BO_WAIT_DB;
}

void bo_task_wake(bo_task *t)
{
    if (t->wait != BO_WAIT_IO && t->wait != BO_WAIT_DB)
        return;
    t->io_cancel = NULL;
    t->io_ctx = NULL;
    uv_timer_stop(&t->timer);
    t->wait = BO_WAIT_NONE;
    resume(t, 0);
}

void bo_task_kill(bo_task *t, const char *why)
{
    if (t->wait == BO_WAIT_NONE)
        return;
    uv_timer_stop(&t->timer);
    cancel_io(t);
    poison(t, why);
    t->wait = BO_WAIT_NONE;
    resume(t, 0);
}

void bo_task_drained(bo_task *t)
{
    if (t->wait != BO_WAIT_DRAIN || t->drained)
        return;
    /* Resumed from the loop, never from inside the caller's write path. */
    t->drained = true;
    uv_timer_start(&t->timer, on_timer, 0, 0);
}

/* sandbox.h's abandon_wait: a wait the task recorded could not reach its
   coroutine (it was made in an app's coroutine inside db.tx, a metamethod
   or an iterator): the operation is abandoned, so its end never wakes the
   task, or the one after it. */
static void abandon_wait(void *task)
{
    bo_task *t = task;
    cancel_io(t);
    t->wait = BO_WAIT_NONE;
}

/* ---- running ---- */

static void resume(bo_task *t, int nargs)
{
    bo_gen *g = t->gen;
    bo_sandbox *sb = &g->sb;
    lua_State *co = t->co;
    bo_budget *prev = bo_sandbox_enter(sb, &t->budget);
    sb->current = t->request;          /* what req and responses see: never a job */
    sb->task = t;                      /* what waits go to */
    sb->abandon_wait = abandon_wait;
    bo_log_set_request(t->id);
    t->wait = BO_WAIT_NONE;
    if (g->db && t->db_held) {            /* the transaction it held while it waited */
        bo_db_attach(g->db, t->db_held);
        t->db_held = NULL;
    }
    int nres = 0;
    int status = lua_resume(co, sb->L, nargs, &nres);
    sb->current = NULL;
    sb->task = NULL;
    bo_sandbox_leave(sb, prev);
    /* A transaction stays with the task across a wait for the database
       (PostgreSQL), and no other: it is handed back when the task runs. */
    if (status == LUA_YIELD && t->wait == BO_WAIT_DB && g->db)
        t->db_held = bo_db_detach(g->db);
    else
        end_open_tx(t);

    if (status == LUA_YIELD) {
        bool platform = nres >= 1 && bo_sandbox_is_sentinel(co, -nres) && t->wait != BO_WAIT_NONE;
        lua_pop(co, nres);
        if (platform) {
            /* A new wait (whoever recorded it): no drain has been seen for it
               yet, or a streamed body would sleep through the next one. */
            t->drained = false;
            arm_timer(t);
            bo_log_set_request(NULL);
            return;
        }
        lua_pushliteral(co, "coroutine.yield was called outside a coroutine the app created");
        status = LUA_ERRRUN;
    }
    if (status != LUA_OK) {
        bo_task_fail(t, lua_tostring(co, -1) ? lua_tostring(co, -1) : "(an error without a message)");
        return;
    }
    t->ops->returned(t, nres);
}

void bo_task_resume(bo_task *t, int nargs)
{
    resume(t, nargs);
}

void bo_task_start(bo_task *t, lua_CFunction main, void *arg)
{
    bo_gen *g = t->gen;
    t->wait = BO_WAIT_NONE;
    t->db_away = false;
    bo_log_set_request(t->id);
    bo_budget_start(&t->budget, &g->sb.limits);
    t->co = bo_gen_thread(g, &t->co_ref);
    lua_pushcfunction(t->co, main);
    lua_pushlightuserdata(t->co, arg);
    resume(t, 1);
}

int bo_task_pcall(bo_task *t, int nargs)
{
    bo_sandbox *sb = &t->gen->sb;
    bo_budget *prev = bo_sandbox_enter(sb, &t->budget);
    sb->current = t->request;
    sb->task = t;
    int status = lua_pcall(t->co, nargs, 1, 0);
    sb->current = NULL;
    sb->task = NULL;
    bo_sandbox_leave(sb, prev);
    return status;
}
