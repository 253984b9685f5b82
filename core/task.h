/*
 * task.h - running app code as a Lua coroutine with a budget: the one piece
 * a request (request.c) and a background job (jobs.c) share.
 *
 * A task takes a pooled thread of its generation, starts it on a C
 * function and resumes it with the task's budget current and the task
 * recorded as the sandbox's task, so the bindings find it (bo_task_of).
 * When a platform function must wait (borough.sleep, http.request, a
 * password hash, a streamed body waiting for its client), it records what
 * it waits for (bo_task_wait, bo_task_wait_io) and yields the sandbox's
 * sentinel; the task then arms its timer: the sleep's length, and the wall
 * clock of the budget in every case. The wait ends with bo_task_wake (the
 * operation completed), the timer, or bo_task_kill (the server stops); a
 * wait cut short is cancelled first (its cancel function, so its end never
 * comes) and the coroutine resumed to fail where it waited. A transaction
 * the app code left open when its coroutine stops is rolled back, and the
 * task named in the log.
 *
 * The owner embeds the task, counts it on its generation, and supplies
 * bo_task_ops: what to do with the coroutine's results and with its
 * failure, and how to name it in a log line. It says who is acting (for
 * the audit rows app code writes) in `who` and `via`, and ends the task
 * with bo_task_end once it has answered.
 */
#ifndef BO_TASK_H
#define BO_TASK_H

#include "bo.h"
#include "sandbox.h"

#include <lua.h>
#include <uv.h>

struct bo_gen;
struct bo_metrics_app;
struct bo_export;

/* What the coroutine waits for while it is suspended. */
typedef enum bo_wait {
    BO_WAIT_NONE,
    BO_WAIT_SLEEP,
    BO_WAIT_DRAIN,         /* a streamed body waits for the client to read */
    BO_WAIT_IO,            /* an operation another module started (outbound HTTP) */
    BO_WAIT_DB,            /* a statement on the database (PostgreSQL), the same way */
} bo_wait;

typedef struct bo_task bo_task;

typedef struct bo_task_ops {
    /* The coroutine returned nres values (on t->co's stack): the owner
       answers with them and calls bo_task_end. */
    void (*returned)(bo_task *t, int nres);
    /* The coroutine failed with why (valid during the call only). Returns
       true to have why logged as an error with its traceback, false when
       it is not worth one (the client had gone). */
    bool (*failing)(bo_task *t, const char *why);
    /* After a failure is logged and its thread dropped: the owner answers
       if it can and calls bo_task_end. */
    void (*failed)(bo_task *t);
    /* Names the task in a log line ("GET /x (route /y)", "job remind"). */
    void (*describe)(bo_task *t, char *out, size_t cap);
    /* The task's code queued a job: the runner may look sooner (or NULL). */
    void (*jobs_queued)(bo_task *t);
} bo_task_ops;

struct bo_task {
    const bo_task_ops *ops;
    struct bo_gen *gen;             /* where the coroutine runs (the owner counts it) */
    struct bo_metrics_app *metrics; /* counts its Lua errors */
    void *request;                  /* what the sandbox's `current` shows while it runs:
                                       the request it serves, or NULL (a job) */
    const char *who;                /* who acts, for audit rows ("public", an email,
                                       "system"); the owner's, valid while it runs */
    const char *via;                /* through what (a request id, "job x #12") */
    const char *late;               /* the error when the wall clock runs out (static) */
    struct bo_export *export;       /* a download being sent (lentity.h), or NULL; owned */
    char id[32];                    /* the request's or run's id, for log lines */
    lua_State *co;                  /* the coroutine, or NULL */
    int co_ref;
    bo_budget budget;
    bo_wait wait;
    uint64_t wait_ms;
    void (*io_cancel)(void *ctx);   /* BO_WAIT_IO, _DB: abandons the operation waited for */
    void *io_ctx;
    void *db_held;                  /* the transaction the task holds on its app's database
                                       while it waits (bo_db_detach) */
    bool drained;
    bool db_away;                   /* a database call failed with the server away (a 503) */
    uv_loop_t *loop;
    uv_timer_t timer;               /* sleeps, and the wall clock while waiting */
};

/* Sets up a task on loop (its timer included); late is the error a run
   gets when its wall clock runs out. */
void bo_task_init(bo_task *t, uv_loop_t *loop, const bo_task_ops *ops, const char *late);
/* Closes the timer handle; done(&t->timer) runs once it is closed. */
void bo_task_close(bo_task *t, void (*done)(uv_handle_t *));

/* Starts main(arg) as a coroutine on t->gen (set by the owner), with a new
   budget from the generation's limits; main finds arg as a light userdata
   at index 1. May finish (calling the ops) before it returns. */
void bo_task_start(bo_task *t, lua_CFunction main, void *arg);
/* Resumes the coroutine with nargs values pushed on it (a streamed body's
   pump starting on the same coroutine). */
void bo_task_resume(bo_task *t, int nargs);
/* Calls the function below nargs arguments on t->co, protected, with the
   task's budget current and the task the sandbox's; one result stays.
   Returns a lua_pcall status. */
int bo_task_pcall(bo_task *t, int nargs);
/* Fails the task with why: the owner's failing, the log line, the open
   transaction rolled back, the thread dropped, then the owner's failed. */
void bo_task_fail(bo_task *t, const char *why);
/* The owner has answered: a download's export row written, an open
   transaction rolled back, the thread back to its pool, the timer and the
   wait stopped. The log lines of the thread still name the task until the
   owner calls bo_log_set_request(NULL). */
void bo_task_end(bo_task *t);

/* The task whose coroutine runs on L now, or NULL (at load, in a command). */
bo_task *bo_task_of(lua_State *L);

/* Records what a suspending platform function waits for; for a sleep, ms
   is its length. The wall-clock cap still applies while it waits. */
void bo_task_wait(bo_task *t, bo_wait kind, uint64_t ms);
/* Records that the coroutine waits for an operation another module has
   started. If the task must end first (its wall clock runs out, the server
   stops), cancel(ctx) is called to abandon the operation, so that its
   completion never comes, before the coroutine is resumed to fail where it
   waited. Otherwise the module calls bo_task_wake when it completes; the
   platform function pushes its results in its continuation (lua_yieldk),
   inside the coroutine, so a memory error there stays protected. */
void bo_task_wait_io(bo_task *t, void (*cancel)(void *ctx), void *ctx);
/* The same for a statement on the database: the task keeps its
   transaction (if any) across this wait, and only this one. */
void bo_task_wait_db(bo_task *t, void (*cancel)(void *ctx), void *ctx);
/* The operation t waits for has completed: resumes the coroutine. Call it
   from a loop callback, never from inside Lua code. */
void bo_task_wake(bo_task *t);
/* Ends a waiting task at once: its code fails with why where it waited. */
void bo_task_kill(bo_task *t, const char *why);
/* The client has read enough for a streamed body waiting on it to go on. */
void bo_task_drained(bo_task *t);

#endif
