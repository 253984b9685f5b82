/*
 * jobs.h - background jobs: one-off work queued by jobs.enqueue(name, args)
 * for a handler declared with app:job(name, fn), and recurring work declared
 * with app:every(schedule, fn). Both are durable in the app's own database
 * (tables _borough_jobs and _borough_schedules) and run by the workers, each
 * run a coroutine with the app's limits on a bo_request without a
 * connection (request.h), so it may wait on http.request or borough.sleep.
 *
 * Every worker runs a job runner (bo_jobs): a timer that claims due jobs in
 * SQLite (an UPDATE ... RETURNING, so exactly one worker gets each), turns
 * the due ticks of schedules into job rows (claimed in one IMMEDIATE
 * transaction, so a tick runs once across the whole server), starts them,
 * and records how each run ended: done, queued again after a delay that
 * doubles with each failure, or failed for good with its last error. A job
 * left running by a server that died is queued again by the next server.
 */
#ifndef BO_JOBS_H
#define BO_JOBS_H

#include "bo.h"
#include "db.h"

#include <lua.h>

struct bo_gen;
struct bo_worker;
struct bo_job;

typedef struct bo_jobs bo_jobs;

/* ---- declarations, at load ---- */

/* Reads the handlers and schedules app:job and app:every put in the app
   table at index app into g (what the runner and jobs.enqueue use); the
   primary load also creates the job tables when there are any. Raises a Lua
   error on failure; runs in protected mode. */
void bo_jobs_load(lua_State *L, int app, struct bo_gen *g);
/* Frees what bo_jobs_load kept in g. */
void bo_jobs_gen_free(struct bo_gen *g);

/* Puts borough._jobs (the C half of lua/borough/jobs.lua) into the borough
   table at the top of the stack. */
void bo_jobs_open(lua_State *L);

/* ---- the runner, one per worker ---- */

/* Starts w's runner: it polls the apps of w that declare jobs. */
void bo_jobs_start(bo_jobs **out, struct bo_worker *w);
/* Claims nothing more (the worker is stopping). */
void bo_jobs_stop(bo_jobs *j);
/* Ends every run that waits, with why: such a job is queued again without
   counting the attempt. */
void bo_jobs_kill(bo_jobs *j, const char *why);
/* Runs not yet ended. */
unsigned bo_jobs_running(const bo_jobs *j);
/* Closes the runner once no run is left; it is freed when its handles have
   closed. */
void bo_jobs_close(bo_jobs *j);
/* A job was queued on this worker: poll soon. */
void bo_jobs_kick(bo_jobs *j);

/* ---- the run of one job (request.c calls these) ---- */

/* The run's coroutine is about to resume on state L (the audit trail names
   the job as the actor). */
void bo_job_enter(struct bo_job *job, lua_State *L);
/* The run raised why (copied). */
void bo_job_failed(struct bo_job *job, const char *why);
/* The name the job was declared with (app:job or app:every). */
const char *bo_job_name(const struct bo_job *job);
/* The run is over: its outcome is recorded and the job freed. */
void bo_job_ended(struct bo_job *job);

/* ---- for /metrics ---- */

/* Counts jobs queued or running, and jobs that failed for good, in an app
   database (0 and 0 when it has no job tables). */
int bo_jobs_count(bo_db *db, int64_t *waiting, int64_t *failed);

#endif
