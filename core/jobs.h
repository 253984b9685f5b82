/*
 * jobs.h - the runner of background jobs (declared and queued as ljobs.h
 * says), one per worker. Each run is a task (task.h) with the app's limits,
 * the same coroutine, budget and waits as a request's, so it may wait on
 * http.request or borough.sleep.
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

#include <lua.h>

struct bo_gen;
struct bo_worker;
struct bo_job;

typedef struct bo_jobs bo_jobs;

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

#endif
