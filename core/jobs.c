/*
 * jobs.c - background jobs (see jobs.h).
 *
 * The tables, in the app's own database (the platform's: app SQL may read
 * them, never write them):
 *
 *   _borough_jobs       one row per job: its handler (name; kind 'job' for
 *                       jobs.enqueue, 'every' for a schedule's tick), its
 *                       arguments as JSON, its state (queued, running, done,
 *                       failed), attempts made and allowed, the delay before
 *                       a retry (doubling after each failure), when it may
 *                       run next (run_at, unix ms), who runs it (claimed_by,
 *                       "<run id>.<worker>") and its last error.
 *   _borough_schedules  one row per schedule (by name): its text and the
 *                       time of its next tick (next_at, unix seconds).
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
 *      fewer than PER_APP runs on this worker, and starts each on a
 *      bo_request without a connection (request.c), whose coroutine body is
 *      job_main: the handler, its arguments decoded, called with lua_callk
 *      so it may wait.
 * When a run ends, bo_job_ended records the outcome on the runner's own
 * connection to the database (the platform's, without the app's
 * authorizer), counts it for /metrics and frees the run.
 */
#include "jobs.h"
#include "app.h"
#include "json.h"
#include "lapi.h"
#include "lentity.h"
#include "log.h"
#include "request.h"
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

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS _borough_jobs (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  args TEXT NOT NULL,\n"
    "  state TEXT NOT NULL,\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  max_attempts INTEGER NOT NULL,\n"
    "  backoff_ms INTEGER NOT NULL,\n"
    "  run_at INTEGER NOT NULL,\n"
    "  claimed_by TEXT,\n"
    "  created_at TEXT NOT NULL,\n"
    "  started_at TEXT,\n"
    "  finished_at TEXT,\n"
    "  error TEXT\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS _borough_jobs_due ON _borough_jobs (state, run_at);\n"
    "CREATE TABLE IF NOT EXISTS _borough_schedules (\n"
    "  name TEXT PRIMARY KEY,\n"
    "  schedule TEXT NOT NULL,\n"
    "  next_at INTEGER NOT NULL,\n"
    "  last_at INTEGER\n"
    ");\n";

/* ---- time ---- */

/* Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms,
   as lua/borough/fields.lua has them). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t year_of_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10);
}

/* The day (since the epoch) of the last Sunday of month m of year y. */
static int64_t last_sunday(int64_t y, int m)
{
    int64_t last = days_from_civil(y, m + 1, 1) - 1;
    return last - (last + 4) % 7;            /* 1970-01-01 was a Thursday */
}

/* Seconds UK time is ahead of UTC at the UTC time t: BST runs from 01:00
   UTC on the last Sunday of March to 01:00 UTC on the last Sunday of
   October. */
static int64_t uk_offset(int64_t t)
{
    int64_t y = year_of_days(t / 86400);
    int64_t starts = last_sunday(y, 3) * 86400 + 3600, ends = last_sunday(y, 10) * 86400 + 3600;
    return t >= starts && t < ends ? 3600 : 0;
}

/* ---- declarations ---- */

typedef struct job_handler {
    char *name;
    int ref;                           /* the function, in the registry */
    int attempts;
    int64_t backoff_ms;
} job_handler;

typedef struct schedule {
    char *name;
    char *text;
    int ref;
    int64_t every;                     /* seconds, or 0 for a time of day */
    int at;                            /* minutes after midnight, UK time */
    unsigned days;                     /* bit 0 Monday ... bit 6 Sunday */
    int attempts;
    int64_t backoff_ms;
    int64_t next_due;                  /* this worker's idea of next_at (seconds) */
} schedule;

typedef struct bo_gen_jobs {
    job_handler *handlers;
    unsigned nhandlers;
    schedule *schedules;
    unsigned nschedules;
} bo_gen_jobs;

/* The first tick of s strictly after t (unix seconds). */
static int64_t next_tick(const schedule *s, int64_t t)
{
    if (s->every > 0)
        return (t / s->every + 1) * s->every;
    int64_t day = (t + uk_offset(t)) / 86400;
    for (int k = 0; k < 9; k++) {
        int64_t d = day + k;
        int weekday = (int)((d + 3) % 7);  /* 0: Monday */
        if (!(s->days & (1u << weekday)))
            continue;
        int64_t local = d * 86400 + s->at * 60;
        int64_t utc = local - uk_offset(local - 3600);
        if (utc > t)
            return utc;
    }
    return t + 86400;                  /* unreachable with a non-empty day set */
}

static int64_t int_field(lua_State *L, int t, const char *name, int64_t dflt)
{
    lua_getfield(L, t, name);
    int64_t v = lua_isnumber(L, -1) ? (int64_t)lua_tonumber(L, -1) : dflt;
    lua_pop(L, 1);
    return v;
}

static int64_t backoff_field(lua_State *L, int t)
{
    lua_getfield(L, t, "backoff");
    lua_Number v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 30;
    lua_pop(L, 1);
    return (int64_t)(v * 1000 + 0.5);
}

static char *string_field(lua_State *L, int t, const char *name)
{
    lua_getfield(L, t, name);
    char *s = bo_strdup(lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
    lua_pop(L, 1);
    return s;
}

/* Runs the job schema with the platform's rights. */
static int create_tables(bo_db *db, char *err, size_t errlen)
{
    bool was = bo_db_set_platform(db, true);
    bool paused = bo_db_pause_progress(db, true);
    int rc = bo_db_exec_script(db, schema, err, errlen);
    bo_db_pause_progress(db, paused);
    bo_db_set_platform(db, was);
    return rc;
}

void bo_jobs_load(lua_State *L, int app, bo_gen *g)
{
    app = lua_absindex(L, app);
    bo_gen_jobs *j = bo_calloc(1, sizeof *j);
    g->jobs = j;
    if (lua_getfield(L, app, "jobs") == LUA_TTABLE) {
        lua_Integer n = luaL_len(L, -1);
        j->handlers = bo_calloc((size_t)n + 1, sizeof *j->handlers);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            int t = lua_gettop(L);
            job_handler *h = &j->handlers[j->nhandlers++];
            h->ref = LUA_NOREF;
            h->name = string_field(L, t, "name");
            h->attempts = (int)int_field(L, t, "attempts", 5);
            h->backoff_ms = backoff_field(L, t);
            lua_getfield(L, t, "fn");
            h->ref = luaL_ref(L, LUA_REGISTRYINDEX);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    if (lua_getfield(L, app, "schedules") == LUA_TTABLE) {
        lua_Integer n = luaL_len(L, -1);
        j->schedules = bo_calloc((size_t)n + 1, sizeof *j->schedules);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            int t = lua_gettop(L);
            schedule *s = &j->schedules[j->nschedules++];
            s->ref = LUA_NOREF;
            s->name = string_field(L, t, "name");
            s->text = string_field(L, t, "text");
            s->every = int_field(L, t, "every", 0);
            s->at = (int)int_field(L, t, "at", 0);
            s->days = (unsigned)int_field(L, t, "days", 127);
            s->attempts = (int)int_field(L, t, "attempts", 5);
            s->backoff_ms = backoff_field(L, t);
            lua_getfield(L, t, "fn");
            s->ref = luaL_ref(L, LUA_REGISTRYINDEX);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    if (g->primary && (j->nhandlers || j->nschedules)) {
        char err[512];
        if (create_tables(bo_ldb_get(L), err, sizeof err) < 0)
            luaL_error(L, "%s/app.lua: cannot create the job tables: %s", g->info->dir, err);
    }
}

void bo_jobs_gen_free(bo_gen *g)
{
    bo_gen_jobs *j = g->jobs;
    if (!j)
        return;
    for (unsigned i = 0; i < j->nhandlers; i++)
        free(j->handlers[i].name);
    for (unsigned i = 0; i < j->nschedules; i++) {
        free(j->schedules[i].name);
        free(j->schedules[i].text);
    }
    free(j->handlers);
    free(j->schedules);
    free(j);
    g->jobs = NULL;
}

static job_handler *find_handler(bo_gen *g, const char *name)
{
    for (unsigned i = 0; g->jobs && i < g->jobs->nhandlers; i++)
        if (strcmp(g->jobs->handlers[i].name, name) == 0)
            return &g->jobs->handlers[i];
    return NULL;
}

static schedule *find_schedule(bo_gen *g, const char *name)
{
    for (unsigned i = 0; g->jobs && i < g->jobs->nschedules; i++)
        if (strcmp(g->jobs->schedules[i].name, name) == 0)
            return &g->jobs->schedules[i];
    return NULL;
}

/* ---- jobs.enqueue's C half ---- */

/* insert(name, args_json, delay_s, attempts|nil, backoff_s|nil) -> id: a
   queued job, in the caller's transaction if one is open. */
static int p_insert(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    size_t alen;
    const char *args = luaL_checklstring(L, 2, &alen);
    lua_Number delay = luaL_checknumber(L, 3);
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_request *task = sb ? sb->task : NULL;
    bo_gen *g = sb ? sb->owner : NULL;
    if (!task || !g)
        return luaL_error(L, "jobs.enqueue can only be called while a request or a job runs");
    job_handler *h = find_handler(g, name);
    if (!h)
        return luaL_error(L, "jobs.enqueue: no job named %s", name);
    lua_Integer attempts = luaL_optinteger(L, 4, h->attempts);
    lua_Number backoff = luaL_optnumber(L, 5, (lua_Number)h->backoff_ms / 1000.0);
    luaL_argcheck(L, attempts >= 1 && attempts <= 100, 4, "attempts must be from 1 to 100");
    luaL_argcheck(L, backoff > 0 && backoff <= 86400, 5, "backoff must be more than 0 and at most 86400 seconds");
    luaL_argcheck(L, delay >= 0 && delay <= 366.0 * 86400, 3, "delay must be from 0 to a year in seconds");
    bo_db *db = bo_ldb_get(L);
    static const char sql[] =
        "INSERT INTO _borough_jobs (name, kind, args, state, attempts, max_attempts, backoff_ms, run_at, created_at) "
        "VALUES (?1, 'job', ?2, 'queued', 0, ?3, ?4, ?5, ?6)";
    char err[512], created[32];
    int64_t now = bo_unix_ms();
    bo_iso_time(now, created, sizeof created);
    bool was = bo_db_set_platform(db, true);
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    int rc = BO_EDB;
    if (stmt) {
        bo_stmt_bind_text(stmt, 1, name, -1);
        bo_stmt_bind_text(stmt, 2, args, alen);
        bo_stmt_bind_int64(stmt, 3, attempts);
        bo_stmt_bind_int64(stmt, 4, (int64_t)(backoff * 1000 + 0.5));
        bo_stmt_bind_int64(stmt, 5, now + (int64_t)(delay * 1000));
        bo_stmt_bind_text(stmt, 6, created, -1);
        rc = bo_stmt_step(stmt);
        if (rc != BO_DB_DONE)
            snprintf(err, sizeof err, "%s", bo_db_errmsg(db));
        bo_stmt_reset(stmt);
    }
    bo_db_set_platform(db, was);
    if (rc != BO_DB_DONE)
        return luaL_error(L, "jobs.enqueue: %s", err);
    lua_pushinteger(L, bo_db_last_insert_id(db));
    if (task->worker && task->worker->jobs)
        bo_jobs_kick(task->worker->jobs);
    return 1;
}

void bo_jobs_open(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, p_insert);
    lua_setfield(L, -2, "insert");
    lua_setfield(L, -2, "_jobs");
}

/* ---- the runner ---- */

typedef struct runner_app {
    char *name;
    bo_db *db;                         /* the platform's connection, or NULL */
    bool failed;                       /* it could not be opened (logged once) */
    bool recovered;                    /* jobs left running by an earlier server are queued again */
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
    char claimer[32];                  /* "<run id>.<worker>" */
};

struct bo_job {
    bo_request req;
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
    char *path = bo_sprintf("%s/%s/app.db", data_dir, name);
    char err[512];
    if (bo_db_open(&a->db, path, 0, err, sizeof err) < 0) {
        bo_log(BO_LOG_ERROR, name, "jobs: %s", err);
        a->db = NULL;
        a->failed = true;
    }
    free(path);
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
   died during the run): the attempt counts, so a job that keeps killing
   its server ends up failed. */
static void recover(bo_jobs *j, runner_app *a)
{
    static const char sql[] =
        "UPDATE _borough_jobs SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, "
        "claimed_by = NULL, error = 'interrupted: the server stopped while it ran', "
        "finished_at = CASE WHEN attempts >= max_attempts THEN ?2 END "
        "WHERE state = 'running' AND (claimed_by IS NULL OR substr(claimed_by, 1, length(?1)) <> ?1)";
    bo_stmt *stmt = PREPARE(a, sql);
    if (!stmt)
        return;
    char prefix[16], now[32];
    snprintf(prefix, sizeof prefix, "%s.", j->w->server->run_id);
    bo_iso_time(bo_unix_ms(), now, sizeof now);
    bo_stmt_bind_text(stmt, 1, prefix, -1);
    bo_stmt_bind_text(stmt, 2, now, -1);
    if (step_done(a, stmt, "recovering interrupted jobs") == BO_DB_DONE) {
        int n = bo_db_changes(a->db);
        if (n > 0)
            bo_log(BO_LOG_WARN, a->name, "%d job%s interrupted by a stop or crash queued again", n, n == 1 ? "" : "s");
    }
    a->recovered = true;
}

/* Turns the due tick of s (if it is still due in the database) into a job
   row, and moves the schedule to its next tick; see the top of the file. */
static void claim_tick(runner_app *a, schedule *s, int64_t now_ms)
{
    static const char get[] = "SELECT schedule, next_at FROM _borough_schedules WHERE name = ?1";
    static const char put[] =
        "INSERT INTO _borough_schedules (name, schedule, next_at, last_at) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (name) DO UPDATE SET schedule = ?2, next_at = ?3, last_at = coalesce(?4, last_at)";
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
        next_at = next_tick(s, now);   /* a new (or changed) schedule starts from now */
    } else if (next_at <= now) {
        tick = next_at;
        next_at = next_tick(s, now);
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
    struct bo_job *job = (struct bo_job *)((char *)h - offsetof(struct bo_job, req.timer));
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
    bo_request *r = lua_touserdata(co, 1);
    struct bo_job *job = r->job;
    bo_gen *g = r->gen;
    lua_settop(co, 0);
    job_handler *h = job->every ? NULL : find_handler(g, job->name);
    schedule *s = job->every ? find_schedule(g, job->name) : NULL;
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

/* Claims one due job of a and starts it; false if there was none. */
static bool claim_one(bo_jobs *j, runner_app *a, bo_worker_app *wa, int64_t now)
{
    static const char due[] = "SELECT 1 FROM _borough_jobs WHERE state = 'queued' AND run_at <= ?1 LIMIT 1";
    static const char claim[] =
        "UPDATE _borough_jobs SET state = 'running', attempts = attempts + 1, claimed_by = ?1, started_at = ?2 "
        "WHERE id = (SELECT id FROM _borough_jobs WHERE state = 'queued' AND run_at <= ?3 ORDER BY run_at, id LIMIT 1) "
        "RETURNING id, name, kind, args, attempts, max_attempts, backoff_ms";
    bo_stmt *stmt = PREPARE(a, due);
    if (!stmt)
        return false;
    bo_stmt_bind_int64(stmt, 1, now);
    int rc = bo_stmt_step(stmt);
    bo_stmt_reset(stmt);
    if (rc != BO_DB_ROW)
        return false;
    if (!(stmt = PREPARE(a, claim)))
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

    bo_request_init(&job->req, NULL, j->w);
    job->req.job = job;
    snprintf(job->req.id, sizeof job->req.id, "%sj%llx", j->w->id_prefix, (unsigned long long)job->id);
    job->next = j->runs;
    if (j->runs)
        j->runs->prev = job;
    j->runs = job;
    j->nruns++;
    a->running++;
    bo_request_run_job(&job->req, wa->gen, wa->metrics, job_main);
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
        if (!a->recovered)
            recover(j, a);
        if (w->id == 1 && now >= a->next_prune) {
            prune(a, now);
            a->next_prune = now + PRUNE_EVERY_MS;
        }
        for (unsigned k = 0; k < g->jobs->nschedules; k++) {
            schedule *s = &g->jobs->schedules[k];
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
    snprintf(j->claimer, sizeof j->claimer, "%s.%d", w->server->run_id, w->id);
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
        bo_request_kill(&job->req, why);
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

static int set_actor(lua_State *L)
{
    bo_lentity_set_actor(L, "system", lua_touserdata(L, 1));
    return 0;
}

void bo_job_enter(struct bo_job *job, lua_State *L)
{
    lua_pushcfunction(L, set_actor);
    lua_pushlightuserdata(L, job->via);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK)
        lua_pop(L, 1);
}

const char *bo_job_name(const struct bo_job *job)
{
    return job->name;
}

void bo_job_failed(struct bo_job *job, const char *why)
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

void bo_job_ended(struct bo_job *job)
{
    bo_jobs *j = job->runner;
    runner_app *a = job->app;
    bo_metrics_app *m = job->req.metrics;
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
    bo_request_close(&job->req, on_run_closed);
    if (more)
        bo_jobs_kick(j);               /* room for another run of the app */
}

/* ---- /metrics ---- */

int bo_jobs_count(bo_db *db, int64_t *waiting, int64_t *failed)
{
    static const char sql[] =
        "SELECT count(*) FILTER (WHERE state IN ('queued', 'running')), count(*) FILTER (WHERE state = 'failed') "
        "FROM _borough_jobs";
    *waiting = *failed = 0;
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt)
        return BO_ENOENT;              /* no job tables */
    int rc = bo_stmt_step(stmt);
    if (rc == BO_DB_ROW) {
        *waiting = bo_stmt_column_int64(stmt, 0);
        *failed = bo_stmt_column_int64(stmt, 1);
    }
    bo_stmt_reset(stmt);
    return rc == BO_DB_ROW ? 0 : (rc);
}
