/*
 * queues.c - an app's outbox and jobs from outside it (see queues.h).
 */
#include "queues.h"
#include "platformdb.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What differs between the two tables, as SQL. */
typedef struct queue_sql {
    const char *table;
    const char *name;           /* in audit rows: "outbox" or "job" */
    const char *active;         /* the state of one being worked on */
    const char *done;
    const char *since;          /* when an active one began */
    const char *columns;        /* the 15 columns of an item, in bo_queue_item's order */
    bool iso;                   /* its times are ISO 8601 text (bo_iso_time), else Unix ms */
} queue_sql;

static const queue_sql sqls[] = {
    [BO_QUEUE_OUTBOX] = {
        "_borough_outbox", "outbox", "sending", "sent", "coalesce(last_try, created_ms)",
        "id, state, kind, template_id, reference, attempts, 0, created_ms, next_at, coalesce(last_try, 0), "
        "status, status_at, error, recipient = '', coalesce(last_try, created_ms)", false },
    [BO_QUEUE_JOBS] = {
        "_borough_jobs", "job", "running", "done", "started_at",
        "id, state, name, kind, args, attempts, max_attempts, created_at, run_at, coalesce(finished_at, started_at), "
        "NULL, NULL, error, 0, started_at", true },
};

/* A time of the queue as it is kept: compared in SQL with the column
   itself, so that neither engine has to convert it (their date functions
   differ). */
static void bind_time(bo_stmt *stmt, int i, const queue_sql *s, int64_t ms)
{
    char iso[32];
    if (!s->iso) {
        bo_stmt_bind_int64(stmt, i, ms);
        return;
    }
    bo_iso_time(ms, iso, sizeof iso);
    bo_stmt_bind_text_copy(stmt, i, iso, -1);
}

/* A time column of an item, in Unix ms (0 for none). */
static int64_t ms_of(bo_stmt *stmt, int col)
{
    if (bo_stmt_column_type(stmt, col) == BO_DB_TEXT)
        return bo_iso_ms(bo_stmt_column_text(stmt, col));
    return bo_stmt_column_int64(stmt, col);
}

const char *bo_queue_name(bo_queue q)
{
    return q == BO_QUEUE_OUTBOX ? "outbox" : "jobs";
}

int bo_queue_open(bo_db **out, const char *data_dir, const char *app, char *err, size_t errlen)
{
    *out = NULL;
    if (!bo_db_app_made(data_dir, app)) {
        snprintf(err, errlen, "the app %s has no database yet (no %s/%s/app.db)", app, data_dir, app);
        return BO_ENOENT;
    }
    return bo_db_open_app(out, data_dir, app, 0, err, errlen);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct names_ctx {
    char **names;
    int n;
} names_ctx;

static int add_name(const char *app, void *ud)
{
    names_ctx *x = ud;
    x->names = bo_realloc(x->names, sizeof *x->names * (size_t)(x->n + 1));
    x->names[x->n++] = bo_strdup(app);
    return 0;
}

int bo_queue_apps(const char *data_dir, char ***names, char *err, size_t errlen)
{
    names_ctx x = { NULL, 0 };
    if (bo_db_each_app(data_dir, add_name, &x, err, errlen) < 0) {
        for (int i = 0; i < x.n; i++)
            free(x.names[i]);
        free(x.names);
        *names = NULL;
        return -1;
    }
    if (x.n > 1)
        qsort(x.names, (size_t)x.n, sizeof *x.names, compare_names);
    *names = x.names;
    return x.n;
}

static const char *text(bo_stmt *stmt, int col)
{
    return bo_stmt_column_text(stmt, col);
}

int bo_queue_list(bo_db *db, bo_queue q, const char *filter, unsigned offset, unsigned limit, bo_queue_fn fn,
                  void *ud, char *err, size_t errlen)
{
    const queue_sql *s = &sqls[q];
    if (!bo_db_has_table(db, s->table))
        return 0;
    bool stuck = filter && strcmp(filter, "stuck") == 0;
    char *sql = bo_sprintf("SELECT %s FROM %s WHERE (CAST(?1 AS TEXT) IS NULL OR state = ?1) AND "
                           "(?2 = 0 OR (state = '%s' AND %s < ?3)) ORDER BY id DESC LIMIT ?4 OFFSET ?5",
                           s->columns, s->table, s->active, s->since);
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, errlen);
    free(sql);
    if (!stmt)
        return BO_EDB;
    int64_t before = bo_unix_ms() - BO_QUEUE_STUCK_MS;
    bo_stmt_bind_text_copy(stmt, 1, stuck ? NULL : filter, -1);
    bo_stmt_bind_int64(stmt, 2, stuck);
    bind_time(stmt, 3, s, before);
    bo_stmt_bind_int64(stmt, 4, limit);
    bo_stmt_bind_int64(stmt, 5, offset);
    int rc, stop = 0;
    while (!stop && (rc = bo_stmt_step(stmt)) == BO_DB_ROW) {
        bo_queue_item it = {
            .id = bo_stmt_column_int64(stmt, 0),
            .state = text(stmt, 1),
            .name = text(stmt, 2),
            .detail = text(stmt, 3),
            .reference = text(stmt, 4),
            .attempts = bo_stmt_column_int64(stmt, 5),
            .max_attempts = bo_stmt_column_int64(stmt, 6),
            .made_ms = ms_of(stmt, 7),
            .next_ms = bo_stmt_column_int64(stmt, 8),
            .last_ms = ms_of(stmt, 9),
            .status = text(stmt, 10),
            .status_at = text(stmt, 11),
            .error = text(stmt, 12),
            .purged = bo_stmt_column_int64(stmt, 13) != 0,
        };
        it.stuck = strcmp(it.state, s->active) == 0 && ms_of(stmt, 14) < before;
        stop = fn(ud, &it);
    }
    if (!stop && rc != BO_DB_DONE) {
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
        stop = BO_EDB;
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return stop;
}

int bo_queue_count(bo_db *db, bo_queue q, bo_queue_counts *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const queue_sql *s = &sqls[q];
    if (!bo_db_has_table(db, s->table))
        return 0;
    char *sql = bo_sprintf("SELECT state, count(*), count(*) FILTER (WHERE %s < ?1) FROM %s GROUP BY state",
                           s->since, s->table);
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, errlen);
    free(sql);
    if (!stmt)
        return BO_EDB;
    bind_time(stmt, 1, s, bo_unix_ms() - BO_QUEUE_STUCK_MS);
    int rc;
    while ((rc = bo_stmt_step(stmt)) == BO_DB_ROW) {
        const char *state = text(stmt, 0);
        unsigned n = (unsigned)bo_stmt_column_int64(stmt, 1);
        if (strcmp(state, "queued") == 0) {
            out->queued += n;
        } else if (strcmp(state, s->active) == 0) {
            out->active += n;
            out->stuck += (unsigned)bo_stmt_column_int64(stmt, 2);
        } else if (strcmp(state, s->done) == 0) {
            out->done += n;
        } else if (strcmp(state, "failed") == 0) {
            out->failed += n;
        }
    }
    if (rc != BO_DB_DONE)
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
    bo_stmt_reset(stmt);
    return rc == BO_DB_DONE ? 0 : BO_EDB;
}

/* ---- retry and cancel ---- */

/* The item as it is now: its state, whether it is stuck, its name and
   whether its personal details are gone. Returns 0 or BO_ENOENT. */
typedef struct found {
    char state[16];
    bool stuck;
    bool purged;
    char what[200];
} found;

static int find_one(void *ud, const bo_queue_item *it)
{
    found *f = ud;
    snprintf(f->state, sizeof f->state, "%s", it->state);
    f->stuck = it->stuck;
    f->purged = it->purged;
    snprintf(f->what, sizeof f->what, "%s %s", it->name ? it->name : "", it->detail ? it->detail : "");
    return 1;
}

static int look_up(bo_db *db, bo_queue q, int64_t id, found *f, char *err, size_t errlen)
{
    const queue_sql *s = &sqls[q];
    memset(f, 0, sizeof *f);
    if (!bo_db_has_table(db, s->table)) {
        snprintf(err, errlen, "there is no %s %lld", s->name, (long long)id);
        return BO_ENOENT;
    }
    char *sql = bo_sprintf("SELECT %s FROM %s WHERE id = ?1", s->columns, s->table);
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, errlen);
    free(sql);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_int64(stmt, 1, id);
    int64_t before = bo_unix_ms() - BO_QUEUE_STUCK_MS;
    int rc = bo_stmt_step(stmt);
    if (rc == BO_DB_ROW) {
        bo_queue_item it = { .id = id, .state = text(stmt, 1), .name = text(stmt, 2), .detail = text(stmt, 3),
                             .purged = bo_stmt_column_int64(stmt, 13) != 0 };
        it.stuck = strcmp(it.state, s->active) == 0 && ms_of(stmt, 14) < before;
        find_one(f, &it);
    } else if (rc == BO_DB_DONE) {
        snprintf(err, errlen, "there is no %s %lld", s->name, (long long)id);
    } else {
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return rc == BO_DB_ROW ? 0 : rc == BO_DB_DONE ? BO_ENOENT : BO_EDB;
}

/* Runs an UPDATE of queue q with id (?1), now in Unix ms (?2), the stuck
   limit as the queue keeps times (?3), who (?4) and, if it takes one, now
   as the queue keeps times (?5); returns the rows changed or BO_EDB. */
static int change(bo_db *db, bo_queue q, const char *sql, int64_t id, const char *who, char *err, size_t errlen)
{
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, errlen);
    if (!stmt)
        return BO_EDB;
    int64_t now = bo_unix_ms();
    bo_stmt_bind_int64(stmt, 1, id);
    bo_stmt_bind_int64(stmt, 2, now);
    bind_time(stmt, 3, &sqls[q], now - BO_QUEUE_STUCK_MS);
    bo_stmt_bind_text_copy(stmt, 4, who, -1);
    if (bo_stmt_param_count(stmt) >= 5)
        bind_time(stmt, 5, &sqls[q], now);
    int rc = bo_stmt_step(stmt);
    if (rc != BO_DB_DONE)
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return rc == BO_DB_DONE ? (int)bo_db_changes(db) : BO_EDB;
}

static int audited(bo_db *platform, const char *who, const char *action, const char *app, int64_t id,
                   const found *f, char *err, size_t errlen)
{
    char detail[300], why[400];
    snprintf(detail, sizeof detail, "#%lld %s (was %s%s)", (long long)id, f->what, f->stuck ? "stuck " : "", f->state);
    if (bo_platformdb_audit(platform, who, action, app, detail, why, sizeof why) < 0) {
        snprintf(err, errlen, "the platform audit log: %s", why);
        return BO_EDB;
    }
    return 0;
}

int bo_queue_retry(bo_db *db, bo_db *platform, const char *who, bo_queue q, const char *app, int64_t id,
                   char *err, size_t errlen)
{
    /* Each guarded by the state judged here: the sender or a runner may
       have moved it on since. */
    static const char *const failed_sql[] = {
        [BO_QUEUE_OUTBOX] = "UPDATE _borough_outbox SET state = 'queued', attempts = 0, next_at = ?2, "
                            "claimed_by = NULL, error = NULL WHERE id = ?1 AND state = 'failed' AND recipient <> ''",
        [BO_QUEUE_JOBS] = "UPDATE _borough_jobs SET state = 'queued', attempts = 0, run_at = ?2, claimed_by = NULL, "
                          "finished_at = NULL WHERE id = ?1 AND state = 'failed'",
    };
    static const char *const stuck_sql[] = {
        [BO_QUEUE_OUTBOX] = "UPDATE _borough_outbox SET claimed_by = NULL, next_at = ?2 "
                            "WHERE id = ?1 AND state = 'sending' AND coalesce(last_try, created_ms) < ?3",
        [BO_QUEUE_JOBS] = "UPDATE _borough_jobs SET state = 'queued', attempts = 0, run_at = ?2, claimed_by = NULL "
                          "WHERE id = ?1 AND state = 'running' AND started_at < ?3",
    };
    found f;
    int rc = look_up(db, q, id, &f, err, errlen);
    if (rc < 0)
        return rc;
    const char *sql = NULL;
    if (strcmp(f.state, "failed") == 0 && f.purged) {
        snprintf(err, errlen, "message %lld cannot be sent again: its recipient and personalisation were removed "
                              "(notify.conf's purge_after)", (long long)id);
        return BO_EINVAL;
    }
    if (strcmp(f.state, "failed") == 0)
        sql = failed_sql[q];
    else if (f.stuck)
        sql = stuck_sql[q];
    if (!sql) {
        snprintf(err, errlen, "%s %lld is %s: only a failed or stuck one can be retried", sqls[q].name,
                 (long long)id, f.state);
        return BO_EINVAL;
    }
    rc = change(db, q, sql, id, who, err, errlen);
    if (rc == 0) {
        snprintf(err, errlen, "%s %lld changed meanwhile; look again", sqls[q].name, (long long)id);
        return BO_EINVAL;
    }
    if (rc < 0)
        return rc;
    return audited(platform, who, q == BO_QUEUE_OUTBOX ? "outbox-retry" : "job-retry", app, id, &f, err, errlen);
}

int bo_queue_cancel(bo_db *db, bo_db *platform, const char *who, bo_queue q, const char *app, int64_t id,
                    char *err, size_t errlen)
{
    static const char *const queued_sql[] = {
        [BO_QUEUE_OUTBOX] = "UPDATE _borough_outbox SET state = 'failed', claimed_by = NULL, last_try = ?2, "
                            "error = 'cancelled by ' || ?4 WHERE id = ?1 AND state = 'queued'",
        [BO_QUEUE_JOBS] = "UPDATE _borough_jobs SET state = 'failed', claimed_by = NULL, "
                          "finished_at = ?5, error = 'cancelled by ' || ?4 WHERE id = ?1 AND state = 'queued'",
    };
    static const char stuck_job_sql[] =
        "UPDATE _borough_jobs SET state = 'failed', claimed_by = NULL, finished_at = ?5, "
        "error = 'cancelled by ' || ?4 WHERE id = ?1 AND state = 'running' AND started_at < ?3";
    found f;
    int rc = look_up(db, q, id, &f, err, errlen);
    if (rc < 0)
        return rc;
    const char *sql = NULL;
    if (strcmp(f.state, "queued") == 0)
        sql = queued_sql[q];
    else if (f.stuck && q == BO_QUEUE_JOBS)
        sql = stuck_job_sql;
    if (!sql) {
        snprintf(err, errlen, "%s %lld is %s%s: only a queued one%s can be cancelled", sqls[q].name, (long long)id,
                 f.stuck ? "stuck " : "", f.state, q == BO_QUEUE_JOBS ? " or a stuck one" : "");
        return BO_EINVAL;
    }
    rc = change(db, q, sql, id, who, err, errlen);
    if (rc == 0) {
        snprintf(err, errlen, "%s %lld changed meanwhile; look again", sqls[q].name, (long long)id);
        return BO_EINVAL;
    }
    if (rc < 0)
        return rc;
    return audited(platform, who, q == BO_QUEUE_OUTBOX ? "outbox-cancel" : "job-cancel", app, id, &f, err, errlen);
}
