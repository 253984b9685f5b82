/*
 * ljobs.c - background jobs as app code declares and queues them (see
 * ljobs.h); the runner that claims and runs them is jobs.c.
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
 */
#include "ljobs.h"
#include "app.h"
#include "lapi.h"
#include "task.h"
#include "nodes.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    ");\n" BO_NODES_SCHEMA;

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

/* The first tick of s strictly after t (unix seconds). */
int64_t bo_schedule_next_tick(const bo_schedule *s, int64_t t)
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
            bo_job_handler *h = &j->handlers[j->nhandlers++];
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
            bo_schedule *s = &j->schedules[j->nschedules++];
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

bo_job_handler *bo_jobs_find_handler(bo_gen *g, const char *name)
{
    for (unsigned i = 0; g->jobs && i < g->jobs->nhandlers; i++)
        if (strcmp(g->jobs->handlers[i].name, name) == 0)
            return &g->jobs->handlers[i];
    return NULL;
}

bo_schedule *bo_jobs_find_schedule(bo_gen *g, const char *name)
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
    bo_task *task = bo_task_of(L);
    bo_gen *g = task ? task->gen : NULL;
    if (!task || !g)
        return luaL_error(L, "jobs.enqueue can only be called while a request or a job runs");
    bo_job_handler *h = bo_jobs_find_handler(g, name);
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
    if (task->ops->jobs_queued)
        task->ops->jobs_queued(task);
    return 1;
}

int bo_ljobs_open(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, p_insert);
    lua_setfield(L, -2, "insert");
    return 1;
}

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
