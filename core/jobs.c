/*
 * jobs.c - background jobs (see jobs.h).
 *
 * The tables and the declarations are ljobs.c's.
 *
 * A runner per worker polls every POLL_MS. For each app the worker serves
 * whose generation declares jobs, it
 *   1. once per process, queues again the jobs a previous server left
 *      'running' (their claimer's run id is not this process's);
 *   2. for each schedule whose next tick has come (a cache of next_at per
 *      generation saves the transaction otherwise), in one IMMEDIATE
 *      transaction re-reads next_at and, if it is still due, moves it to
 *      the next tick after now and inserts a job row for the tick: the
 *      transaction makes the claim, so exactly one worker of the server
 *      (and one server, since a data folder has one) runs each tick. Ticks
 *      missed while the server was down run once, not once each;
 *   3. claims due jobs, one UPDATE ... RETURNING each, while the app has
 *      fewer than PER_APP runs on this worker, and starts each as a task
 *      (task.h, the coroutine a request runs on too), whose body is
 *      job_main: the handler, its arguments decoded, called with lua_callk
 *      so it may wait.
 * When a run ends, job_ended records the outcome on the runner's own
 * connection to the database (the platform's, without the app's
 * authorizer), counts it for /metrics and frees the run.
 */
#include "jobs.h"
#include "app.h"
#include "ljobs.h"
#include "json.h"
#include "lapi.h"
#include "lentity.h"
#include "log.h"
#include "nodes.h"
#include "task.h"
#include "sandbox.h"
#include "server.h"
#include "worker.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_MS 500
#define KICK_MS 20
#define PER_APP 4                      /* runs of one app at once on one worker */
#define MAX_DELAY_MS (6LL * 3600 * 1000)
#define PRUNE_EVERY_MS (3600LL * 1000)
#define KEEP_DONE_DAYS 7
#define KEEP_FAILED_DAYS 30

/* ---- the runner ---- */

typedef struct runner_app {
    char *name;
    bo_db *db;                         /* the platform's connection, or NULL */
    bool failed;                       /* it could not be opened (logged once) */
    bool recovered;                    /* jobs left running by an earlier server are queued again */
    int64_t next_beat;                 /* PostgreSQL: this node's next beat (nodes.h) and look for dead ones' jobs */
    unsigned running;
    int64_t next_prune;
} runner_app;

struct bo_jobs {
    bo_worker *w;
    uv_timer_t timer;
    runner_app **apps;
    unsigned napps;
    struct bo_job *runs;
    unsigned nruns;
    bool stopping;
    char claimer[32];                  /* "<claim id>.<worker>" */
};

struct bo_job {
    bo_task task;                      /* the run's coroutine (task.id names the run) */
    bo_gen *gen;                       /* the generation it runs on (inflight counted) */
    bo_jobs *runner;
    runner_app *app;
    struct bo_job *prev, *next;
    int64_t id;
    char *name;
    bool every;
    char *args;
    int attempt;
    int max_attempts;
    int64_t backoff_ms;
    char *error;
    bool killed;
    char via[160];
};

static runner_app *app_state(bo_jobs *j, const char *name, const char *data_dir)
{
    for (unsigned i = 0; i < j->napps; i++)
        if (strcmp(j->apps[i]->name, name) == 0)
            return j->apps[i];
    runner_app *a = bo_calloc(1, sizeof *a);
    a->name = bo_strdup(name);
    char err[512];
    if (bo_db_open_app(&a->db, data_dir, name, 0, err, sizeof err) < 0) {
        bo_log(BO_LOG_ERROR, name, "jobs: %s", err);
        a->db = NULL;
        a->failed = true;
    }
    j->apps = bo_realloc(j->apps, sizeof *j->apps * (j->napps + 1));
    j->apps[j->napps++] = a;
    return a;
}

/* Steps a statement to its end; logs a failure. Returns the SQLite code. */
static int step_done(runner_app *a, bo_stmt *stmt, const char *what)
{
    int rc = bo_stmt_step(stmt);
    if (rc != BO_DB_DONE && rc != BO_DB_ROW)
        bo_log(BO_LOG_ERROR, a->name, "jobs: %s: %s", what, bo_db_errmsg(a->db));
    bo_stmt_reset(stmt);
    return rc;
}

static bo_stmt *prepare(runner_app *a, const char *sql, size_t len)
{
    char err[512];
    bo_stmt *stmt = bo_db_prepare(a->db, sql, len, err, sizeof err);
    if (!stmt)
        bo_log(BO_LOG_ERROR, a->name, "jobs: %s", err);
    return stmt;
}

#define PREPARE(a, sql) prepare((a), (sql), sizeof(sql) - 1)

/* Queues again what a server before this one left running (it stopped or
   died during the run), or, on PostgreSQL, an earlier run of this node or
   another node that stopped beating (nodes.h): the attempt counts, so a job
   that keeps killing its server ends up failed. */
static void recover(bo_jobs *j, runner_app *a)
{
    static const char sql[] =
        "UPDATE _borough_jobs SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, "
        "claimed_by = NULL, error = 'interrupted: the server stopped while it ran', "
        "finished_at = CASE WHEN attempts >= max_attempts THEN ?2 END "
        "WHERE state = 'running' AND (claimed_by IS NULL OR (substr(claimed_by, 1, length(?1)) <> ?1 AND "
        BO_NODE_FREE("claimed_by", "?3", "substr(?1, 1, 6)") "))";
    bo_stmt *stmt = PREPARE(a, sql);
    if (!stmt)
        return;
    char prefix[24], now[32];
    snprintf(prefix, sizeof prefix, "%s.", j->w->server->claim_id);
    int64_t now_ms = bo_unix_ms();
    bo_iso_time(now_ms, now, sizeof now);
    bo_stmt_bind_text(stmt, 1, prefix, -1);
    bo_stmt_bind_text(stmt, 2, now, -1);
    bo_stmt_bind_int64(stmt, 3, now_ms - BO_NODE_LEASE_MS);
    if (step_done(a, stmt, "recovering interrupted jobs") == BO_DB_DONE) {
        int n = bo_db_changes(a->db);
        if (n > 0)
            bo_log(BO_LOG_WARN, a->name, "%d job%s interrupted by a stop or crash queued again", n, n == 1 ? "" : "s");
    }
    a->recovered = true;
}

/* Turns the due tick of s (if it is still due in the database) into a job
   row, and moves the schedule to its next tick; see the top of the file. */
static void claim_tick(runner_app *a, bo_schedule *s, int64_t now_ms)
{
    static const char get[] = "SELECT schedule, next_at FROM _borough_schedules WHERE name = ?1";
    static const char put[] =
        "INSERT INTO _borough_schedules (name, schedule, next_at, last_at) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (name) DO UPDATE SET schedule = ?2, next_at = ?3, last_at = coalesce(?4, _borough_schedules.last_at)";
    static const char add[] =
        "INSERT INTO _borough_jobs (name, kind, args, state, attempts, max_attempts, backoff_ms, run_at, created_at) "
        "VALUES (?1, 'every', ?2, 'queued', 0, ?3, ?4, ?5, ?6)";
    int64_t now = now_ms / 1000;
    char err[512];
    if (bo_db_begin(a->db, err, sizeof err) < 0) {
        bo_log(BO_LOG_WARN, a->name, "jobs: schedule %s: %s", s->name, err);
        return;
    }
    bo_stmt *stmt = PREPARE(a, get);
    if (!stmt)
        goto fail;
    bo_stmt_bind_text(stmt, 1, s->name, -1);
    int rc = bo_stmt_step(stmt);
    bool known = rc == BO_DB_ROW;
    bool same = known && strcmp((const char *)bo_stmt_column_text(stmt, 0), s->text) == 0;
    int64_t next_at = known ? bo_stmt_column_int64(stmt, 1) : 0;
    bo_stmt_reset(stmt);
    if (rc != BO_DB_ROW && rc != BO_DB_DONE)
        goto fail;
    int64_t tick = 0;                  /* the tick this worker claims, if any */
    if (!same) {
        next_at = bo_schedule_next_tick(s, now);   /* a new (or changed) schedule starts from now */
    } else if (next_at <= now) {
        tick = next_at;
        next_at = bo_schedule_next_tick(s, now);
    } else {
        bo_db_commit(a->db, err, sizeof err);
        s->next_due = next_at;
        return;
    }
    if (!(stmt = PREPARE(a, put)))
        goto fail;
    bo_stmt_bind_text(stmt, 1, s->name, -1);
    bo_stmt_bind_text(stmt, 2, s->text, -1);
    bo_stmt_bind_int64(stmt, 3, next_at);
    if (tick)
        bo_stmt_bind_int64(stmt, 4, tick);
    if (step_done(a, stmt, "schedule") != BO_DB_DONE)
        goto fail;
    if (tick) {
        if (!(stmt = PREPARE(a, add)))
            goto fail;
        char args[48], created[32];
        snprintf(args, sizeof args, "{\"tick\":%lld}", (long long)tick);
        bo_iso_time(now_ms, created, sizeof created);
        bo_stmt_bind_text(stmt, 1, s->name, -1);
        bo_stmt_bind_text(stmt, 2, args, -1);
        bo_stmt_bind_int64(stmt, 3, s->attempts);
        bo_stmt_bind_int64(stmt, 4, s->backoff_ms);
        bo_stmt_bind_int64(stmt, 5, now_ms);
        bo_stmt_bind_text(stmt, 6, created, -1);
        if (step_done(a, stmt, "schedule") != BO_DB_DONE)
            goto fail;
    }
    if (bo_db_commit(a->db, err, sizeof err) < 0) {
        bo_log(BO_LOG_WARN, a->name, "jobs: schedule %s: %s", s->name, err);
        goto fail;
    }
    s->next_due = next_at;
    return;
fail:
    bo_db_rollback(a->db);
    s->next_due = now + 5;             /* try again a little later */
}

static void on_run_closed(uv_handle_t *h)
{
    struct bo_job *job = (struct bo_job *)((char *)h - offsetof(struct bo_job, task.timer));
    free(job->name);
    free(job->args);
    free(job->error);
    free(job);
}

static int job_done(lua_State *co, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    BO_UNUSED(ctx);
    lua_settop(co, 0);
    return 0;
}

/* The coroutine body of a run: handler(args, job) or, for a schedule's
   tick, handler(job). */
static int job_main(lua_State *co)
{
    struct bo_job *job = lua_touserdata(co, 1);
    bo_gen *g = job->gen;
    lua_settop(co, 0);
    bo_job_handler *h = job->every ? NULL : bo_jobs_find_handler(g, job->name);
    bo_schedule *s = job->every ? bo_jobs_find_schedule(g, job->name) : NULL;
    if (!h && !s)
        return luaL_error(co, "the app declares no %s named %s any more", job->every ? "schedule" : "job", job->name);
    lua_rawgeti(co, LUA_REGISTRYINDEX, h ? h->ref : s->ref);
    char err[200];
    if (bo_json_decode(co, job->args, strlen(job->args), err, sizeof err) < 0)
        return luaL_error(co, "the job's arguments cannot be read: %s", err);
    lua_createtable(co, 0, 5);
    lua_pushinteger(co, job->id);
    lua_setfield(co, -2, "id");
    lua_pushstring(co, job->name);
    lua_setfield(co, -2, "name");
    lua_pushinteger(co, job->attempt);
    lua_setfield(co, -2, "attempt");
    lua_pushinteger(co, job->max_attempts);
    lua_setfield(co, -2, "max_attempts");
    if (s) {
        if (lua_istable(co, -2)) {
            lua_getfield(co, -2, "tick");
            lua_setfield(co, -2, "tick");
        }
        lua_remove(co, -2);            /* the arguments were only the tick */
    }
    lua_callk(co, s ? 1 : 2, 0, 0, job_done);
    return job_done(co, LUA_OK, 0);
}

/* ---- a run's task (task.h) ---- */

static void job_ended(struct bo_job *job);
static void job_failed(struct bo_job *job, const char *why);

static struct bo_job *job_of(bo_task *t)
{
    return (struct bo_job *)((char *)t - offsetof(struct bo_job, task));
}

/* Ends the run: its task, then the generation it held, then its row. */
static void run_over(struct bo_job *job)
{
    bo_task_end(&job->task);
    job->task.gen = NULL;
    bo_worker_gen_release(job->runner->w, job->gen);
    job->gen = NULL;
    bo_log_set_request(NULL);
    job_ended(job);
}

static void on_returned(bo_task *t, int nres)
{
    BO_UNUSED(nres);
    lua_settop(t->co, 0);              /* a job's results go nowhere */
    run_over(job_of(t));
}

static bool on_failing(bo_task *t, const char *why)
{
    job_failed(job_of(t), why);        /* before the thread (and why with it) goes */
    return true;
}

static void on_failed(bo_task *t)
{
    run_over(job_of(t));
}

static void on_describe(bo_task *t, char *out, size_t cap)
{
    snprintf(out, cap, "job %s", job_of(t)->name);
}

static void on_jobs_queued(bo_task *t)
{
    bo_jobs_kick(job_of(t)->runner);
}

static const bo_task_ops job_ops = {
    .returned = on_returned,
    .failing = on_failing,
    .failed = on_failed,
    .describe = on_describe,
    .jobs_queued = on_jobs_queued,
};

/* Claims one due job of a and starts it; false if there was none. */
static bool claim_one(bo_jobs *j, runner_app *a, bo_worker_app *wa, int64_t now)
{
    static const char due[] = "SELECT 1 FROM _borough_jobs WHERE state = 'queued' AND run_at <= ?1 LIMIT 1";
    /* The outer state check makes a job taken at the same moment by another
       node (PostgreSQL: the row it locked first) no match; SKIP LOCKED lets
       each node take the next free one instead of waiting. */
    static const char claim[] =
        "UPDATE _borough_jobs SET state = 'running', attempts = attempts + 1, claimed_by = ?1, started_at = ?2 "
        "WHERE id = (SELECT id FROM _borough_jobs WHERE state = 'queued' AND run_at <= ?3 ORDER BY run_at, id LIMIT 1) "
        "AND state = 'queued' RETURNING id, name, kind, args, attempts, max_attempts, backoff_ms";
    static const char claim_pg[] =
        "UPDATE _borough_jobs SET state = 'running', attempts = attempts + 1, claimed_by = ?1, started_at = ?2 "
        "WHERE id = (SELECT id FROM _borough_jobs WHERE state = 'queued' AND run_at <= ?3 ORDER BY run_at, id LIMIT 1 "
        "FOR UPDATE SKIP LOCKED) AND state = 'queued' RETURNING id, name, kind, args, attempts, max_attempts, backoff_ms";
    bo_stmt *stmt = PREPARE(a, due);
    if (!stmt)
        return false;
    bo_stmt_bind_int64(stmt, 1, now);
    int rc = bo_stmt_step(stmt);
    bo_stmt_reset(stmt);
    if (rc != BO_DB_ROW)
        return false;
    if (!(stmt = bo_db_dialect() == BO_POSTGRES ? PREPARE(a, claim_pg) : PREPARE(a, claim)))
        return false;
    char started[32];
    bo_iso_time(now, started, sizeof started);
    bo_stmt_bind_text(stmt, 1, j->claimer, -1);
    bo_stmt_bind_text(stmt, 2, started, -1);
    bo_stmt_bind_int64(stmt, 3, now);
    rc = bo_stmt_step(stmt);
    if (rc != BO_DB_ROW) {
        if (rc != BO_DB_DONE && rc != BO_EBUSY)
            bo_log(BO_LOG_ERROR, a->name, "jobs: claiming: %s", bo_db_errmsg(a->db));
        bo_stmt_reset(stmt);
        return false;
    }
    struct bo_job *job = bo_calloc(1, sizeof *job);
    job->runner = j;
    job->app = a;
    job->id = bo_stmt_column_int64(stmt, 0);
    job->name = bo_strdup((const char *)bo_stmt_column_text(stmt, 1));
    job->every = strcmp((const char *)bo_stmt_column_text(stmt, 2), "every") == 0;
    job->args = bo_strdup((const char *)bo_stmt_column_text(stmt, 3));
    job->attempt = bo_stmt_column_int64(stmt, 4);
    job->max_attempts = bo_stmt_column_int64(stmt, 5);
    job->backoff_ms = bo_stmt_column_int64(stmt, 6);
    while (bo_stmt_step(stmt) == BO_DB_ROW)
        ;
    bo_stmt_reset(stmt);
    snprintf(job->via, sizeof job->via, "%s %s #%lld", job->every ? "schedule" : "job", job->name,
             (long long)job->id);

    bo_task_init(&job->task, &j->w->loop, &job_ops, "the job ran for too long (limits.time)");
    snprintf(job->task.id, sizeof job->task.id, "%sj%llx", j->w->id_prefix, (unsigned long long)job->id);
    job->next = j->runs;
    if (j->runs)
        j->runs->prev = job;
    j->runs = job;
    j->nruns++;
    a->running++;
    job->gen = wa->gen;
    wa->gen->inflight++;
    bo_task *t = &job->task;
    t->gen = wa->gen;
    t->metrics = wa->metrics;
    t->request = NULL;
    t->who = "system";
    t->via = job->via;
    bo_task_start(t, job_main, job);
    return true;
}

/* Deletes finished jobs past keeping (worker 1 only, once an hour). */
static void prune(runner_app *a, int64_t now)
{
    static const char sql[] =
        "DELETE FROM _borough_jobs WHERE (state = 'done' AND finished_at < ?1) OR (state = 'failed' AND finished_at < ?2)";
    bo_stmt *stmt = PREPARE(a, sql);
    if (!stmt)
        return;
    char done[32], failed[32];
    bo_iso_time(now - KEEP_DONE_DAYS * 86400000LL, done, sizeof done);
    bo_iso_time(now - KEEP_FAILED_DAYS * 86400000LL, failed, sizeof failed);
    bo_stmt_bind_text(stmt, 1, done, -1);
    bo_stmt_bind_text(stmt, 2, failed, -1);
    step_done(a, stmt, "pruning");
}

static void poll_apps(bo_jobs *j)
{
    bo_worker *w = j->w;
    for (unsigned i = 0; i < w->napps && !j->stopping; i++) {
        bo_gen *g = w->apps[i].gen;
        if (!g || !g->jobs || (g->jobs->nhandlers == 0 && g->jobs->nschedules == 0))
            continue;
        runner_app *a = app_state(j, w->apps[i].info->name, w->server->paths.data_dir);
        if (a->failed)
            continue;
        int64_t now = bo_unix_ms();
        if (bo_db_dialect() == BO_POSTGRES && now >= a->next_beat) {
            /* Several nodes: this one says it is alive, and takes over
               the jobs of those that stopped saying so. */
            char err[256];
            if (bo_nodes_beat(a->db, w->server->claim_id, now, err, sizeof err) < 0)
                bo_log(BO_LOG_WARN, a->name, "jobs: %s", err);
            a->next_beat = now + BO_NODE_BEAT_MS;
            a->recovered = false;
        }
        if (!a->recovered)
            recover(j, a);
        if (w->id == 1 && now >= a->next_prune) {
            prune(a, now);
            a->next_prune = now + PRUNE_EVERY_MS;
        }
        for (unsigned k = 0; k < g->jobs->nschedules; k++) {
            bo_schedule *s = &g->jobs->schedules[k];
            if (now / 1000 >= s->next_due)
                claim_tick(a, s, now);
        }
        /* A run may end at once and replace the generation (its state was
           near the memory cap): the table entry is read again each time. */
        while (a->running < PER_APP && !j->stopping && w->apps[i].gen &&
               claim_one(j, a, &w->apps[i], bo_unix_ms()))
            ;
    }
}

static void on_poll(uv_timer_t *t)
{
    bo_jobs *j = t->data;
    uv_timer_start(&j->timer, on_poll, POLL_MS, 0);   /* a kick meanwhile brings it closer */
    poll_apps(j);
}

void bo_jobs_start(bo_jobs **out, bo_worker *w)
{
    bo_jobs *j = bo_calloc(1, sizeof *j);
    j->w = w;
    snprintf(j->claimer, sizeof j->claimer, "%s.%d", w->server->claim_id, w->id);
    uv_timer_init(&w->loop, &j->timer);
    j->timer.data = j;
    uv_timer_start(&j->timer, on_poll, 100, 0);
    *out = j;
}

void bo_jobs_kick(bo_jobs *j)
{
    if (!j->stopping && uv_timer_get_due_in(&j->timer) > KICK_MS)
        uv_timer_start(&j->timer, on_poll, KICK_MS, 0);
}

void bo_jobs_stop(bo_jobs *j)
{
    if (!j)
        return;
    j->stopping = true;
    uv_timer_stop(&j->timer);
}

void bo_jobs_kill(bo_jobs *j, const char *why)
{
    if (!j)
        return;
    for (struct bo_job *job = j->runs, *next; job; job = next) {
        next = job->next;
        job->killed = true;
        bo_task_kill(&job->task, why);
    }
}

unsigned bo_jobs_running(const bo_jobs *j)
{
    return j ? j->nruns : 0;
}

static void on_runner_closed(uv_handle_t *h)
{
    bo_jobs *j = h->data;
    j->w->jobs = NULL;
    for (unsigned i = 0; i < j->napps; i++) {
        bo_db_close(j->apps[i]->db);
        free(j->apps[i]->name);
        free(j->apps[i]);
    }
    free(j->apps);
    free(j);
}

void bo_jobs_close(bo_jobs *j)
{
    if (!j || uv_is_closing((uv_handle_t *)&j->timer))
        return;
    j->stopping = true;
    uv_timer_stop(&j->timer);
    uv_close((uv_handle_t *)&j->timer, on_runner_closed);
}

/* ---- the end of a run ---- */

/* The run raised why: kept for the job's row. */
static void job_failed(struct bo_job *job, const char *why)
{
    free(job->error);
    job->error = bo_strdup(why ? why : "(an error without a message)");
}

/* The delay before attempt n+1 after n failed: backoff, doubling. */
static int64_t retry_delay(const struct bo_job *job)
{
    int64_t d = job->backoff_ms;
    for (int i = 1; i < job->attempt && d < MAX_DELAY_MS; i++)
        d *= 2;
    return d < MAX_DELAY_MS ? d : MAX_DELAY_MS;
}

/* The run is over: its outcome is recorded and the job freed. */
static void job_ended(struct bo_job *job)
{
    bo_jobs *j = job->runner;
    runner_app *a = job->app;
    bo_metrics_app *m = job->task.metrics;
    static const char done[] =
        "UPDATE _borough_jobs SET state = 'done', claimed_by = NULL, finished_at = ?2, error = NULL WHERE id = ?1";
    static const char retry[] =
        "UPDATE _borough_jobs SET state = 'queued', claimed_by = NULL, run_at = ?2, error = ?3, "
        "attempts = attempts - ?4 WHERE id = ?1";
    static const char failed[] =
        "UPDATE _borough_jobs SET state = 'failed', claimed_by = NULL, finished_at = ?2, error = ?3 WHERE id = ?1";
    int64_t now = bo_unix_ms();
    char at[32];
    bo_iso_time(now, at, sizeof at);
    const char *what = job->every ? "schedule" : "job";
    bo_stmt *stmt;
    if (!job->error) {
        if ((stmt = PREPARE(a, done))) {
            bo_stmt_bind_int64(stmt, 1, job->id);
            bo_stmt_bind_text(stmt, 2, at, -1);
            step_done(a, stmt, "recording a job done");
        }
        bo_counter_add(&m->jobs_done, 1);
    } else if (job->killed || job->attempt < job->max_attempts) {
        /* A run the server ended as it stopped is not the job's failure:
           its attempt is given back and it runs again at once. */
        int64_t delay = job->killed ? 0 : retry_delay(job);
        if ((stmt = PREPARE(a, retry))) {
            bo_stmt_bind_int64(stmt, 1, job->id);
            bo_stmt_bind_int64(stmt, 2, now + delay);
            bo_stmt_bind_text(stmt, 3, job->error, -1);
            bo_stmt_bind_int64(stmt, 4, job->killed ? 1 : 0);
            step_done(a, stmt, "queueing a job again");
        }
        if (!job->killed) {
            bo_counter_add(&m->jobs_retried, 1);
            bo_log(BO_LOG_WARN, a->name, "%s %s #%lld failed (attempt %d of %d); it runs again in %.1f s",
                   what, job->name, (long long)job->id, job->attempt, job->max_attempts, (double)delay / 1000);
        }
    } else {
        if ((stmt = PREPARE(a, failed))) {
            bo_stmt_bind_int64(stmt, 1, job->id);
            bo_stmt_bind_text(stmt, 2, at, -1);
            bo_stmt_bind_text(stmt, 3, job->error, -1);
            step_done(a, stmt, "recording a job failed");
        }
        bo_counter_add(&m->jobs_failed, 1);
        bo_log(BO_LOG_ERROR, a->name, "%s %s #%lld failed for good after %d attempt%s: %s", what, job->name,
               (long long)job->id, job->attempt, job->attempt == 1 ? "" : "s", job->error);
    }
    if (job->prev)
        job->prev->next = job->next;
    else
        j->runs = job->next;
    if (job->next)
        job->next->prev = job->prev;
    j->nruns--;
    a->running--;
    bool more = !j->stopping;
    bo_task_close(&job->task, on_run_closed);
    if (more)
        bo_jobs_kick(j);               /* room for another run of the app */
}

/* ---- /metrics ---- */
