/*
 * ljobs.h - background jobs as app code declares and queues them: one-off
 * work queued by jobs.enqueue(name, args) for a handler declared with
 * app:job(name, fn), and recurring work declared with app:every(schedule,
 * fn). Both are durable in the app's own database (tables _borough_jobs and
 * _borough_schedules, made by the primary load of an app that declares
 * any). The runner that claims and runs them, one per worker, is jobs.h's.
 */
#ifndef BO_LJOBS_H
#define BO_LJOBS_H

#include "bo.h"
#include "db.h"

#include <lua.h>

struct bo_gen;

/* A handler declared with app:job. */
typedef struct bo_job_handler {
    char *name;
    int ref;                           /* the function, in the registry */
    int attempts;
    int64_t backoff_ms;
} bo_job_handler;

/* A schedule declared with app:every. */
typedef struct bo_schedule {
    char *name;
    char *text;
    int ref;
    int64_t every;                     /* seconds, or 0 for a time of day */
    int at;                            /* minutes after midnight, UK time */
    unsigned days;                     /* bit 0 Monday ... bit 6 Sunday */
    int attempts;
    int64_t backoff_ms;
    int64_t next_due;                  /* this worker's idea of next_at (seconds) */
} bo_schedule;

/* What a generation declares (g->jobs). */
typedef struct bo_gen_jobs {
    bo_job_handler *handlers;
    unsigned nhandlers;
    bo_schedule *schedules;
    unsigned nschedules;
} bo_gen_jobs;

/* Reads the handlers and schedules app:job and app:every put in the app
   table at index app into g (what the runner and jobs.enqueue use); the
   primary load also creates the job tables when there are any. Raises a Lua
   error on failure; runs in protected mode. */
void bo_jobs_load(lua_State *L, int app, struct bo_gen *g);
/* Frees what bo_jobs_load kept in g. */
void bo_jobs_gen_free(struct bo_gen *g);
/* The handler or schedule of g named name, or NULL. */
bo_job_handler *bo_jobs_find_handler(struct bo_gen *g, const char *name);
bo_schedule *bo_jobs_find_schedule(struct bo_gen *g, const char *name);
/* The first tick of s strictly after t (unix seconds). */
int64_t bo_schedule_next_tick(const bo_schedule *s, int64_t t);

/* Pushes borough._jobs, the C half of lua/borough/jobs.lua: insert(name,
   args_json, delay_s, attempts|nil, backoff_s|nil) -> id, a queued job in
   the caller's transaction if one is open (a request's or a job's only). */
int bo_ljobs_open(lua_State *L);

/* Counts jobs queued or running, and jobs that failed for good, in an app
   database (0 and 0 when it has no job tables); for /metrics. */
int bo_jobs_count(bo_db *db, int64_t *waiting, int64_t *failed);

#endif
