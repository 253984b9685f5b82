/*
 * notify.c - Notify settings, the outbox schema and the sender (see
 * notify.h for the design and the delivery guarantee).
 *
 * The sender's data flow, once per tick of its timer (and after every
 * exchange that ends):
 *
 *   for each app of the catalog: its database (the platform's connection,
 *   opened once the app has an outbox, whose plain-text rows from an older
 *   version are sealed then) -> the gauges for /metrics, once a second ->
 *   the purge of messages done, when due -> with an API key: a batch of
 *   rows due (queued, or left 'sending' by an earlier process) -> while
 *   fewer than MAX_INFLIGHT exchanges run for the app and the key's window
 *   has room: claim a row (UPDATE ... WHERE its state is still the one
 *   read) and start its exchange (a send, which opens the row's sealed
 *   body just before it posts, or a look-up by reference for a row an
 *   earlier process left 'sending') -> when there is nothing to send,
 *   status polls of sent rows whose time has come.
 *
 *   an exchange ends -> its row is updated (sent, queued again, failed, or
 *   its status) in one statement guarded by the claim, so a callback that
 *   got there first is never undone.
 *
 * Everything here runs on the main thread: no locks but the settings
 * cache's, which workers read too (the callback route).
 */
#include "notify.h"
#include "outbox.h"
#include "crypto.h"
#include "httpc.h"
#include "ljobs.h"
#include "json.h"
#include "jwt.h"
#include "log.h"
#include "nodes.h"
#include "metrics.h"
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 100
#define FETCH_IDLE_MS 250        /* how soon to look again after finding nothing to send */
#define GAUGE_MS 1000
#define BATCH 64
#define MAX_INFLIGHT 16          /* exchanges at once per app */
#define WINDOW_MS 61000          /* Notify counts a minute; one second of margin */
#define PAUSE_429_MS 5000
#define PAUSE_AUTH_MS 60000
#define MAX_RETRY_MS (3600LL * 1000)
#define MAX_POLL_MS (6LL * 3600 * 1000)
#define POLL_FOR_MS (7LL * 86400 * 1000)
#define MAX_RESPONSE (1024 * 1024)
#define MAX_PURGE_EVERY_MS (600 * 1000)    /* the purge looks at most this long apart */

/* ---- the sender ---- */

/* The sliding window of one API key: the times of its last requests. */
typedef struct limiter {
    char key[128];
    int64_t *times;            /* a ring of limit entries: when each request ended, or began while in flight */
    unsigned limit, n, head;   /* head: the oldest */
    int64_t paused_until;      /* after a 429 */
    int64_t shared_full_until; /* PostgreSQL: the nodes' shared window was full (nodes.h) */
} limiter;

typedef enum { ACT_SEND, ACT_LOOKUP, ACT_POLL } action;

typedef struct row {
    int64_t id;
    action act;
    char kind[8];
    char *body;
    char *reference;
    char *notify_id;
    int attempts;
    int polls;
    int64_t created_ms;
    char state[12];            /* what it was when read: the claim checks it */
} row;

typedef struct sender_app {
    char *name;
    bo_db *db;                 /* NULL until the app has a database */
    bool has_tables;           /* it has an outbox or job tables */
    int64_t next_open;         /* when to look for them again */
    int64_t next_gauge;
    int64_t next_beat;         /* PostgreSQL: when this node next says it is alive (nodes.h) */
    int64_t next_fetch;
    int64_t next_purge;
    double purge_s;            /* the setting the last purge used: a new one purges at once */
    int64_t paused_until;      /* the key was refused (401/403) */
    uint64_t paused_conf;      /* the settings' version then: a new one ends the pause */
    bool warned_auth;
    char seeded_key[128];      /* the key its recent requests were counted for */
    row *rows;                 /* a batch read from the outbox */
    unsigned nrows, next;
    unsigned inflight;
    bo_metrics_app *metrics;
} sender_app;

typedef struct exchange {
    struct exchange *prev, *next;
    bo_notify *n;
    sender_app *a;
    bo_httpc *h;
    row r;
    bool poll_ok;              /* a status poll may follow a send */
    uint64_t conf_version;     /* of the settings it was sent with */
    double retry_s, give_up_s, poll_s;
    limiter *l;                /* the key's window, and this request's entry in it */
    unsigned slot;
    int64_t began;
    bool shared;               /* it holds a place in the nodes' shared window at began */
} exchange;

struct bo_notify {
    struct bo_server *server;
    uv_loop_t *loop;
    uv_timer_t timer;
    sender_app **apps;
    unsigned napps;
    limiter **limiters;
    unsigned nlimiters;
    exchange *exchanges;
    char claimer[16];          /* this process's claim id (nodes.h) */
    bo_db *platform;           /* PostgreSQL: the platform's database (the shared windows) */
    bool window_warned;        /* the shared window could not be read: said once */
    bool stopping;
};

static void row_clear(row *r)
{
    if (r->body)
        memset(r->body, 0, strlen(r->body));     /* it may be the opened message */
    free(r->body);
    free(r->reference);
    free(r->notify_id);
    memset(r, 0, sizeof *r);
}

static limiter *limiter_of(bo_notify *n, const bo_notify_app_conf *conf)
{
    char key[128];
    snprintf(key, sizeof key, "%s|%s", conf->service_id, conf->base_url);
    for (unsigned i = 0; i < n->nlimiters; i++) {
        limiter *l = n->limiters[i];
        if (strcmp(l->key, key) != 0)
            continue;
        if (l->limit != (unsigned)conf->rate_limit) {    /* the setting changed: keep the newest times */
            int64_t *times = bo_calloc((size_t)conf->rate_limit, sizeof *times);
            unsigned keep = l->n < (unsigned)conf->rate_limit ? l->n : (unsigned)conf->rate_limit;
            for (unsigned k = 0; k < keep; k++)
                times[k] = l->times[(l->head + l->n - keep + k) % l->limit];
            free(l->times);
            l->times = times;
            l->limit = (unsigned)conf->rate_limit;
            l->n = keep;
            l->head = 0;
        }
        return l;
    }
    limiter *l = bo_calloc(1, sizeof *l);
    snprintf(l->key, sizeof l->key, "%s", key);
    l->limit = (unsigned)conf->rate_limit;
    l->times = bo_calloc(l->limit, sizeof *l->times);
    n->limiters = bo_realloc(n->limiters, sizeof *n->limiters * (n->nlimiters + 1));
    n->limiters[n->nlimiters++] = l;
    return l;
}

/* When the window next has room: now, or later. */
static int64_t limiter_next(const limiter *l, int64_t now)
{
    int64_t at = now;
    if (l->n == l->limit && l->times[l->head] + WINDOW_MS > at)
        at = l->times[l->head] + WINDOW_MS;
    if (l->paused_until > at)
        at = l->paused_until;
    return at;
}

/* Enters a request begun at t; returns its entry. */
static unsigned limiter_add(limiter *l, int64_t t)
{
    unsigned slot;
    if (l->n < l->limit) {
        slot = (l->head + l->n++) % l->limit;
    } else {
        slot = l->head;
        l->head = (l->head + 1) % l->limit;
    }
    l->times[slot] = t;
    return slot;
}

/* A request entered at began ended at now: its entry moves to now. Notify
   counts a request when it arrives, which is after it began and before it
   ended; a window of entries at their ends can hold no more than Notify
   counts in any of its windows, however long requests take on the way.
   (The ring stays safe unsorted: a new request takes the head only once
   the head has left the window.) */
static void limiter_done(limiter *l, unsigned slot, int64_t began, int64_t now)
{
    if (l && slot < l->limit && l->times[slot] == began && now > began)
        l->times[slot] = now;
}

/* PostgreSQL: takes a place for a request at now in the window the nodes
   share for l's key (nodes.h); false when it is full or cannot be read
   (nothing is sent then). On SQLite, l alone counts: always true. */
static bool shared_take(bo_notify *n, limiter *l, int64_t now)
{
    if (bo_db_dialect() != BO_POSTGRES)
        return true;
    if (now < l->shared_full_until)
        return false;
    char err[512];
    if (!n->platform && bo_db_open_platform(&n->platform, n->server->paths.data_dir, 0, err, sizeof err) < 0) {
        bo_log(BO_LOG_WARN, NULL, "notify: %s", err);
        n->platform = NULL;
    }
    int rc = n->platform ? bo_nodes_window_take(n->platform, l->key, l->limit, WINDOW_MS, now, err, sizeof err)
                         : BO_EDB;
    if (rc < 0 && n->platform && !n->window_warned)     /* once until it works again */
        bo_log(BO_LOG_WARN, NULL, "notify: the nodes' shared window: %s; nothing is sent meanwhile", err);
    n->window_warned = rc < 0;
    if (rc != 1)
        l->shared_full_until = now + FETCH_IDLE_MS;
    return rc == 1;
}

/* Moves the shared place taken at began to now, or gives it back (now = 0). */
static void shared_move(bo_notify *n, limiter *l, int64_t began, int64_t now)
{
    char err[512];
    if (n->platform && bo_nodes_window_move(n->platform, l->key, began, now, err, sizeof err) < 0)
        bo_log(BO_LOG_WARN, NULL, "notify: the nodes' shared window: %s", err);
}

static int compare_times(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Counts the requests this app made in the last window (before a restart,
   say) against its key, once per key. */
static void seed(sender_app *a, limiter *l, int64_t now)
{
    if (strcmp(a->seeded_key, l->key) == 0)
        return;
    snprintf(a->seeded_key, sizeof a->seeded_key, "%s", l->key);
    static const char sql[] = "SELECT last_try FROM _borough_outbox WHERE last_try > ?1 ORDER BY last_try";
    char err[256];
    bo_stmt *stmt = bo_db_prepare(a->db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt)
        return;
    bo_stmt_bind_int64(stmt, 1, now - WINDOW_MS);
    size_t cap = l->n + 64, n = 0;
    int64_t *all = bo_malloc(sizeof *all * cap);
    for (unsigned k = 0; k < l->n; k++)
        all[n++] = l->times[(l->head + k) % l->limit];
    while (bo_stmt_step(stmt) == BO_DB_ROW) {
        if (n == cap)
            all = bo_realloc(all, sizeof *all * (cap *= 2));
        all[n++] = bo_stmt_column_int64(stmt, 0);
    }
    bo_stmt_reset(stmt);
    qsort(all, n, sizeof *all, compare_times);
    l->n = 0;
    l->head = 0;
    for (size_t k = n > l->limit ? n - l->limit : 0; k < n; k++)
        limiter_add(l, all[k]);
    free(all);
}

static sender_app *app_of(bo_notify *n, const char *name)
{
    for (unsigned i = 0; i < n->napps; i++)
        if (strcmp(n->apps[i]->name, name) == 0)
            return n->apps[i];
    sender_app *a = bo_calloc(1, sizeof *a);
    a->name = bo_strdup(name);
    a->metrics = bo_metrics_app_row(&n->server->metrics, name);
    n->apps = bo_realloc(n->apps, sizeof *n->apps * (n->napps + 1));
    n->apps[n->napps++] = a;
    return a;
}

static bool has_outbox(sender_app *a)
{
    return bo_db_has_table(a->db, "_borough_outbox");
}

/* Seals the recipients and bodies an outbox holds in plain text (kept by
   a version before they were sealed), in one transaction. False (logged)
   if they cannot be sealed now. */
static bool seal_plain(bo_notify *n, sender_app *a)
{
    static const char find[] =
        "SELECT id FROM _borough_outbox WHERE (recipient <> '' AND recipient NOT LIKE 'bo1.%') "
        "OR (body <> '' AND body NOT LIKE 'bo1.%')";
    static const char get[] = "SELECT recipient, body FROM _borough_outbox WHERE id = ?1";
    static const char seal[] = "UPDATE _borough_outbox SET recipient = ?2, body = ?3 WHERE id = ?1";
    if (!has_outbox(a))
        return true;
    char err[512];
    const bo_keyring *k = bo_keyring_shared(n->server->paths.data_dir, err, sizeof err);
    bo_stmt *sel = k ? bo_db_prepare(a->db, find, sizeof find - 1, err, sizeof err) : NULL;
    bo_stmt *one = sel ? bo_db_prepare(a->db, get, sizeof get - 1, err, sizeof err) : NULL;
    bo_stmt *upd = one ? bo_db_prepare(a->db, seal, sizeof seal - 1, err, sizeof err) : NULL;
    if (!upd || bo_db_begin(a->db, err, sizeof err) < 0) {
        bo_log(BO_LOG_ERROR, a->name, "notify: the outbox cannot be sealed: %s", err);
        return false;
    }
    /* The ids first: rows are not changed under a statement reading them. */
    size_t nids = 0, cap = 64;
    int64_t *ids = bo_malloc(cap * sizeof *ids);
    int rc;
    while ((rc = bo_stmt_step(sel)) == BO_DB_ROW) {
        if (nids == cap)
            ids = bo_realloc(ids, (cap *= 2) * sizeof *ids);
        ids[nids++] = bo_stmt_column_int64(sel, 0);
    }
    bo_stmt_reset(sel);
    char aad[2][300];
    bo_notify_aad(aad[0], sizeof aad[0], a->name, "recipient");
    bo_notify_aad(aad[1], sizeof aad[1], a->name, "body");
    for (size_t i = 0; i < nids && rc == BO_DB_DONE; i++) {
        bo_stmt_bind_int64(one, 1, ids[i]);
        if ((rc = bo_stmt_step(one)) != BO_DB_ROW)
            break;
        bo_stmt_bind_int64(upd, 1, ids[i]);
        for (int c = 0; c < 2; c++) {
            const char *v = (const char *)bo_stmt_column_text(one, c);
            size_t len = (size_t)bo_stmt_column_bytes(one, c);
            char *s = v && len && bo_sealed_key_id(v, len) < 0 ? bo_seal(k, aad[c], v, len) : NULL;
            if (s) {
                bo_stmt_bind_text_copy(upd, c + 2, s, -1);
                free(s);
            } else
                bo_stmt_bind_text_copy(upd, c + 2, v ? v : "", (int)len);
        }
        rc = bo_stmt_step(upd);
        bo_stmt_reset(upd);
        bo_stmt_reset(one);
    }
    free(ids);
    bool ok = rc == BO_DB_DONE;
    if (!ok)
        snprintf(err, sizeof err, "%s", bo_db_errmsg(a->db));
    bo_stmt_reset(one);
    bo_stmt_clear(upd);
    long long sealed = ok ? (long long)nids : 0;
    if (ok && bo_db_commit(a->db, err, sizeof err) < 0)
        ok = false;
    if (!ok) {
        bo_db_rollback(a->db);
        bo_log(BO_LOG_ERROR, a->name, "notify: the outbox cannot be sealed: %s", err);
    } else if (sealed) {
        bo_log(BO_LOG_INFO, a->name, "notify: sealed %lld message%s kept in plain text by an earlier version "
               "(VACUUM the database with the server stopped to drop the old pages)", sealed, sealed == 1 ? "" : "s");
    }
    return ok;
}

/* Opens the app's database once it exists, and says whether it has an
   outbox or job tables yet (looked for once a second until it has). */
static bool open_db(bo_notify *n, sender_app *a, int64_t now)
{
    if (a->has_tables)
        return true;
    if (now < a->next_open)
        return false;
    a->next_open = now + 1000;
    if (!a->db) {
        const char *data = n->server->paths.data_dir;
        char err[512];
        if (bo_db_app_made(data, a->name) && bo_db_open_app(&a->db, data, a->name, 0, err, sizeof err) < 0) {
            bo_log(BO_LOG_WARN, a->name, "notify: %s", err);
            a->db = NULL;
        }
        if (!a->db)
            return false;
    }
    a->has_tables = bo_db_has_table(a->db, "_borough_outbox") || bo_db_has_table(a->db, "_borough_jobs");
    /* Nothing is sent before the messages an older version kept in plain
       text are sealed. */
    if (a->has_tables && !seal_plain(n, a))
        a->has_tables = false;
    return a->has_tables;
}

/* The gauges of /metrics: the outbox's and the jobs'. */
static void gauges(sender_app *a)
{
    static const char sql[] =
        "SELECT count(*) FILTER (WHERE state IN ('queued', 'sending')), count(*) FILTER (WHERE state = 'failed') "
        "FROM _borough_outbox";
    char err[256];
    bo_stmt *stmt = bo_db_prepare(a->db, sql, sizeof sql - 1, err, sizeof err);
    if (stmt) {
        if (bo_stmt_step(stmt) == BO_DB_ROW) {
            bo_gauge_set(&a->metrics->outbox_depth, (uint64_t)bo_stmt_column_int64(stmt, 0));
            bo_gauge_set(&a->metrics->outbox_failed, (uint64_t)bo_stmt_column_int64(stmt, 1));
        }
        bo_stmt_reset(stmt);
    }
    int64_t waiting, failed;
    if (bo_jobs_count(a->db, &waiting, &failed) == 0) {
        bo_gauge_set(&a->metrics->jobs_waiting, (uint64_t)waiting);
        bo_gauge_set(&a->metrics->jobs_dead, (uint64_t)failed);
    }
}

static char *column_dup(bo_stmt *stmt, int i)
{
    const char *t = bo_stmt_column_text(stmt, i);
    return t ? bo_strdup((const char *)t) : NULL;
}

static void drop_batch(sender_app *a)
{
    for (unsigned i = a->next; i < a->nrows; i++)
        row_clear(&a->rows[i]);
    free(a->rows);
    a->rows = NULL;
    a->nrows = a->next = 0;
}

/* Reads the next batch: rows due to be sent or looked up, else (when
   polling) sent rows whose status check is due. */
static void fetch(bo_notify *n, sender_app *a, int64_t now, bool polling)
{
    static const char due[] =
        "SELECT id, kind, body, reference, attempts, state, created_ms FROM _borough_outbox "
        "WHERE state IN ('queued', 'sending') AND next_at <= ?1 AND (state = 'queued' OR claimed_by IS NULL OR "
        "(claimed_by <> ?2 AND " BO_NODE_FREE("claimed_by", "?4", "substr(?2, 1, 6)") ")) ORDER BY id LIMIT ?3";
    static const char polls[] =
        "SELECT id, notify_id, polls, created_ms FROM _borough_outbox "
        "WHERE poll_at IS NOT NULL AND poll_at <= ?1 AND state = 'sent' ORDER BY poll_at LIMIT ?2";
    char err[256];
    drop_batch(a);
    a->rows = bo_calloc(BATCH, sizeof *a->rows);
    bo_stmt *stmt = bo_db_prepare(a->db, due, sizeof due - 1, err, sizeof err);
    if (!stmt) {
        bo_log(BO_LOG_ERROR, a->name, "notify: %s", err);
        return;
    }
    bo_stmt_bind_int64(stmt, 1, now);
    bo_stmt_bind_text(stmt, 2, n->claimer, -1);
    bo_stmt_bind_int64(stmt, 3, BATCH);
    bo_stmt_bind_int64(stmt, 4, now - BO_NODE_LEASE_MS);
    while (a->nrows < BATCH && bo_stmt_step(stmt) == BO_DB_ROW) {
        row *r = &a->rows[a->nrows++];
        r->id = bo_stmt_column_int64(stmt, 0);
        snprintf(r->kind, sizeof r->kind, "%s", (const char *)bo_stmt_column_text(stmt, 1));
        r->body = column_dup(stmt, 2);
        r->reference = column_dup(stmt, 3);
        r->attempts = bo_stmt_column_int64(stmt, 4);
        snprintf(r->state, sizeof r->state, "%s", (const char *)bo_stmt_column_text(stmt, 5));
        r->created_ms = bo_stmt_column_int64(stmt, 6);
        r->act = strcmp(r->state, "sending") == 0 ? ACT_LOOKUP : ACT_SEND;
    }
    bo_stmt_reset(stmt);
    if (a->nrows > 0 || !polling)
        return;
    if (!(stmt = bo_db_prepare(a->db, polls, sizeof polls - 1, err, sizeof err)))
        return;
    bo_stmt_bind_int64(stmt, 1, now);
    bo_stmt_bind_int64(stmt, 2, BATCH);
    while (a->nrows < BATCH && bo_stmt_step(stmt) == BO_DB_ROW) {
        row *r = &a->rows[a->nrows++];
        r->id = bo_stmt_column_int64(stmt, 0);
        r->notify_id = column_dup(stmt, 1);
        r->polls = bo_stmt_column_int64(stmt, 2);
        r->created_ms = bo_stmt_column_int64(stmt, 3);
        r->act = ACT_POLL;
        snprintf(r->state, sizeof r->state, "sent");
    }
    bo_stmt_reset(stmt);
}

/* Runs a prepared update on the app's outbox; returns the rows changed. */
static int run(sender_app *a, bo_stmt *stmt, const char *what)
{
    int rc = bo_stmt_step(stmt);
    int changed = rc == BO_DB_DONE ? bo_db_changes(a->db) : 0;
    if (rc != BO_DB_DONE)
        bo_log(BO_LOG_ERROR, a->name, "notify: %s: %s", what, bo_db_errmsg(a->db));
    bo_stmt_reset(stmt);
    return changed;
}

static bo_stmt *prep(sender_app *a, const char *sql, size_t len)
{
    char err[256];
    bo_stmt *stmt = bo_db_prepare(a->db, sql, len, err, sizeof err);
    if (!stmt)
        bo_log(BO_LOG_ERROR, a->name, "notify: %s", err);
    return stmt;
}

#define PREP(a, sql) prep((a), (sql), sizeof(sql) - 1)

/* Claims r for this process: false if it changed since it was read. */
static bool claim(bo_notify *n, sender_app *a, row *r, int64_t now)
{
    static const char send[] =
        "UPDATE _borough_outbox SET state = 'sending', claimed_by = ?2, attempts = attempts + 1, last_try = ?3 "
        "WHERE id = ?1 AND state = ?4 AND (claimed_by IS NULL OR (claimed_by <> ?2 AND "
        BO_NODE_FREE("claimed_by", "?5", "substr(?2, 1, 6)") "))";
    static const char poll[] = "UPDATE _borough_outbox SET poll_at = ?2, last_try = ?3 WHERE id = ?1 AND state = 'sent'";
    bo_stmt *stmt;
    if (r->act == ACT_POLL) {
        if (!(stmt = PREP(a, poll)))
            return false;
        bo_stmt_bind_int64(stmt, 1, r->id);
        bo_stmt_bind_int64(stmt, 2, now + 3600 * 1000);    /* not again while this one runs */
        bo_stmt_bind_int64(stmt, 3, now);
        return run(a, stmt, "claiming a status check") == 1;
    }
    if (!(stmt = PREP(a, send)))
        return false;
    bo_stmt_bind_int64(stmt, 1, r->id);
    bo_stmt_bind_text(stmt, 2, n->claimer, -1);
    bo_stmt_bind_int64(stmt, 3, now);
    bo_stmt_bind_text(stmt, 4, r->state, -1);
    bo_stmt_bind_int64(stmt, 5, now - BO_NODE_LEASE_MS);
    if (run(a, stmt, "claiming a message") != 1)
        return false;
    r->attempts++;
    return true;
}

static void pump(bo_notify *n);

static void exchange_free(exchange *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        x->n->exchanges = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->a->inflight--;
    row_clear(&x->r);
    free(x);
}

/* The JSON document of a response's body, or NULL (none, or not JSON). */
static bo_jval *response_json(const bo_httpc_result *res)
{
    bo_jval *doc = NULL;
    if (res->body.data && bo_json_parse(res->body.data, res->body.len, &doc, NULL, 0) < 0)
        doc = NULL;
    return doc;
}

/* Notify's own words for a refusal: errors[0].message, or the status. */
static void refusal(const bo_httpc_result *res, const bo_jval *doc, char *out, size_t cap)
{
    static const char *const path[] = { "errors", "#0", "message", NULL };
    char msg[400];
    if (bo_jval_copy_string(bo_jval_at(doc, path), msg, sizeof msg))
        snprintf(out, cap, "Notify answered %d: %s", res->status, msg);
    else
        snprintf(out, cap, "Notify answered %d", res->status);
}

static bool final_status(const char *s)
{
    static const char *const finals[] = { "delivered", "permanent-failure", "temporary-failure",
                                          "technical-failure", "sent", "received", "cancelled",
                                          "validation-failed", "virus-scan-failed", "returned-letter", NULL };
    for (const char *const *f = finals; *f; f++)
        if (strcmp(*f, s) == 0)
            return true;
    return false;
}

/* The message is with Notify as notify_id (from a send or a look-up). */
static void mark_sent(exchange *x, const char *notify_id, const char *status, int64_t now)
{
    static const char sql[] =
        "UPDATE _borough_outbox SET state = 'sent', claimed_by = NULL, notify_id = ?2, sent_at = ?3, "
        "status = coalesce(status, ?4), status_at = coalesce(status_at, ?3), poll_at = ?5, error = NULL "
        "WHERE id = ?1 AND state = 'sending' AND claimed_by = ?6";
    bo_stmt *stmt = PREP(x->a, sql);
    if (!stmt)
        return;
    char at[32];
    bo_iso_time(now, at, sizeof at);
    bo_stmt_bind_int64(stmt, 1, x->r.id);
    bo_stmt_bind_text_copy(stmt, 2, notify_id, -1);
    bo_stmt_bind_text_copy(stmt, 3, at, -1);
    bo_stmt_bind_text_copy(stmt, 4, status, -1);
    if (x->poll_ok && !final_status(status))
        bo_stmt_bind_int64(stmt, 5, now + (int64_t)(x->poll_s * 1000));
    bo_stmt_bind_text(stmt, 6, x->n->claimer, -1);
    run(x->a, stmt, "recording a message sent");
    bo_counter_add(&x->a->metrics->notify_sent, 1);
}

/* The send did not happen (or is not known to have): queued again after a
   delay that doubles with each attempt, unless it has waited too long.
   give_back: the attempt does not count (the key was refused, or a look-up
   found nothing and it should be sent at once). */
static void requeue(exchange *x, const char *why, int64_t now, bool give_back, int64_t delay_ms)
{
    static const char again[] =
        "UPDATE _borough_outbox SET state = 'queued', claimed_by = NULL, next_at = ?2, error = ?3, "
        "attempts = attempts - ?5 WHERE id = ?1 AND state = 'sending' AND claimed_by = ?4";
    static const char failed[] =
        "UPDATE _borough_outbox SET state = 'failed', claimed_by = NULL, error = ?2 "
        "WHERE id = ?1 AND state = 'sending' AND claimed_by = ?3";
    sender_app *a = x->a;
    if (!give_back && now - x->r.created_ms > (int64_t)(x->give_up_s * 1000)) {
        bo_stmt *stmt = PREP(a, failed);
        if (!stmt)
            return;
        char msg[600];
        snprintf(msg, sizeof msg, "gave up after %d attempts over %.0f hours: %s", x->r.attempts,
                 x->give_up_s / 3600, why);
        bo_stmt_bind_int64(stmt, 1, x->r.id);
        bo_stmt_bind_text_copy(stmt, 2, msg, -1);
        bo_stmt_bind_text(stmt, 3, x->n->claimer, -1);
        if (run(a, stmt, "recording a message failed"))
            bo_log(BO_LOG_ERROR, a->name, "notify: message #%lld failed for good: %s", (long long)x->r.id, msg);
        bo_counter_add(&a->metrics->notify_failed, 1);
        return;
    }
    if (delay_ms < 0) {
        delay_ms = (int64_t)(x->retry_s * 1000);
        for (int i = 1; i < x->r.attempts && delay_ms < MAX_RETRY_MS; i++)
            delay_ms *= 2;
        if (delay_ms > MAX_RETRY_MS)
            delay_ms = MAX_RETRY_MS;
    }
    bo_stmt *stmt = PREP(a, again);
    if (!stmt)
        return;
    bo_stmt_bind_int64(stmt, 1, x->r.id);
    bo_stmt_bind_int64(stmt, 2, now + delay_ms);
    bo_stmt_bind_text_copy(stmt, 3, why, -1);
    bo_stmt_bind_text(stmt, 4, x->n->claimer, -1);
    bo_stmt_bind_int64(stmt, 5, give_back ? 1 : 0);
    run(a, stmt, "queueing a message again");
    if (!give_back)
        bo_counter_add(&a->metrics->notify_retried, 1);
}

static void fail_for_good(exchange *x, const char *why)
{
    static const char sql[] =
        "UPDATE _borough_outbox SET state = 'failed', claimed_by = NULL, error = ?2 "
        "WHERE id = ?1 AND state = 'sending' AND claimed_by = ?3";
    bo_stmt *stmt = PREP(x->a, sql);
    if (!stmt)
        return;
    bo_stmt_bind_int64(stmt, 1, x->r.id);
    bo_stmt_bind_text_copy(stmt, 2, why, -1);
    bo_stmt_bind_text(stmt, 3, x->n->claimer, -1);
    run(x->a, stmt, "recording a message failed");
    bo_counter_add(&x->a->metrics->notify_failed, 1);
    bo_log(BO_LOG_WARN, x->a->name, "notify: message #%lld refused: %s", (long long)x->r.id, why);
}

static void record_status(exchange *x, const char *status, int64_t now, bool stop_polling)
{
    static const char sql[] =
        "UPDATE _borough_outbox SET status = ?2, status_at = ?3, poll_at = ?4, polls = polls + 1 "
        "WHERE id = ?1 AND state = 'sent' AND (status IS NULL OR status NOT IN ('delivered', 'permanent-failure', "
        "'temporary-failure', 'technical-failure', 'received', 'cancelled', 'validation-failed', "
        "'virus-scan-failed', 'returned-letter'))";
    static const char stop[] = "UPDATE _borough_outbox SET poll_at = ?2, polls = polls + 1 WHERE id = ?1";
    int64_t next = (int64_t)(x->poll_s * 1000);
    for (int i = 0; i < x->r.polls + 1 && next < MAX_POLL_MS; i++)
        next *= 2;
    if (next > MAX_POLL_MS)
        next = MAX_POLL_MS;
    bool more = !stop_polling && next > 0 && now - x->r.created_ms < POLL_FOR_MS && !(status && final_status(status));
    bo_stmt *stmt = status ? PREP(x->a, sql) : PREP(x->a, stop);
    if (!stmt)
        return;
    char at[32];
    bo_iso_time(now, at, sizeof at);
    bo_stmt_bind_int64(stmt, 1, x->r.id);
    if (status) {
        bo_stmt_bind_text_copy(stmt, 2, status, -1);
        bo_stmt_bind_text_copy(stmt, 3, at, -1);
        if (more)
            bo_stmt_bind_int64(stmt, 4, now + next);
    } else if (more) {
        bo_stmt_bind_int64(stmt, 2, now + next);
    }
    run(x->a, stmt, "recording a status");
}

static void on_response(bo_httpc *h, const bo_httpc_result *res, void *ud)
{
    BO_UNUSED(h);
    exchange *x = ud;
    x->h = NULL;
    bo_notify *n = x->n;
    sender_app *a = x->a;
    int64_t now = bo_unix_ms();
    limiter_done(x->l, x->slot, x->began, now);
    if (x->shared && now > x->began)
        shared_move(n, x->l, x->began, now);
    int s = res->error ? 0 : res->status;
    char why[600];
    bo_jval *doc = res->error ? NULL : response_json(res);
    if (res->error)
        snprintf(why, sizeof why, "%s", res->message ? res->message : bo_strerror(res->error));
    else
        refusal(res, doc, why, sizeof why);
    if (s == 401 || s == 403) {
        /* The key (or the clock) is wrong: nothing of this app's can be
           sent until it is put right, so nothing is failed for it. */
        if (!a->warned_auth)
            bo_log(BO_LOG_ERROR, a->name, "notify: %s; messages are kept and sending pauses for %d s, or until "
                   "notify.conf changes (check its api_key, and the server's clock)", why, PAUSE_AUTH_MS / 1000);
        a->warned_auth = true;
        a->paused_until = now + PAUSE_AUTH_MS;
        a->paused_conf = x->conf_version;
        if (x->r.act == ACT_POLL)
            record_status(x, NULL, now, false);
        else
            requeue(x, why, now, true, 0);
    } else if (s == 429) {
        for (unsigned i = 0; i < n->nlimiters; i++)    /* the key's window: pause it */
            if (strcmp(n->limiters[i]->key, a->seeded_key) == 0)
                n->limiters[i]->paused_until = now + PAUSE_429_MS;
        if (x->r.act == ACT_POLL)
            record_status(x, NULL, now, false);
        else
            requeue(x, why, now, false, -1);
    } else if (x->r.act == ACT_SEND) {
        static const char *const id_path[] = { "id", NULL };
        char id[64];
        if (s == 201 && bo_jval_copy_string(bo_jval_at(doc, id_path), id, sizeof id)) {
            a->warned_auth = false;
            mark_sent(x, id, "created", now);
        } else if (s >= 400 && s < 500) {
            fail_for_good(x, why);
        } else {                                   /* 5xx, time-outs, network, a 2xx without an id */
            requeue(x, why, now, false, -1);
        }
    } else if (x->r.act == ACT_LOOKUP) {
        static const char *const id_path[] = { "notifications", "#0", "id", NULL };
        static const char *const status_path[] = { "notifications", "#0", "status", NULL };
        char id[64], status[40] = "created";
        if (s == 200 && bo_jval_copy_string(bo_jval_at(doc, id_path), id, sizeof id)) {
            if (!bo_jval_copy_string(bo_jval_at(doc, status_path), status, sizeof status))
                strcpy(status, "created");
            bo_log(BO_LOG_INFO, a->name, "notify: message #%lld had reached Notify before the restart (%s)",
                   (long long)x->r.id, id);
            mark_sent(x, id, status, now);
        } else if (s == 200) {
            requeue(x, "not at Notify after a restart: sent again", now, true, 0);   /* send it now */
        } else {
            requeue(x, why, now, false, -1);
        }
    } else {                                        /* ACT_POLL */
        static const char *const status_path[] = { "status", NULL };
        char status[40];
        if (s == 200 && bo_jval_copy_string(bo_jval_at(doc, status_path), status, sizeof status))
            record_status(x, status, now, false);
        else
            record_status(x, NULL, now, s == 404);  /* 404: past Notify's retention */
    }
    bo_jval_free(doc);
    exchange_free(x);
    if (!n->stopping)
        pump(n);
}

/* Replaces the sealed body of x's row with the message to post. A body
   that does not open (its key gone, or altered) fails the message for good:
   sending it again would not help. */
static bool open_body(bo_notify *n, exchange *x)
{
    char err[512], aad[300];
    const bo_keyring *k = bo_keyring_shared(n->server->paths.data_dir, err, sizeof err);
    bo_buf plain;
    bo_buf_init(&plain);
    bo_notify_aad(aad, sizeof aad, x->a->name, "body");
    const char *sealed = x->r.body ? x->r.body : "";
    if (k && bo_unseal(k, aad, sealed, strlen(sealed), &plain, err, sizeof err) == 0) {
        bo_buf_putc(&plain, '\0');
        free(x->r.body);
        x->r.body = plain.data;                     /* row_clear wipes it */
        return true;
    }
    if (plain.data)
        memset(plain.data, 0, plain.len);
    bo_buf_free(&plain);
    char why[600];
    snprintf(why, sizeof why, "the message cannot be opened: %s", err);
    fail_for_good(x, why);
    return false;
}

/* Starts the exchange of a claimed row. */
static void start(bo_notify *n, sender_app *a, row *r, const bo_notify_app_conf *conf, uint64_t version,
                  limiter *l, int64_t began, bool shared)
{
    exchange *x = bo_calloc(1, sizeof *x);
    x->n = n;
    x->a = a;
    x->l = l;
    x->began = began;
    x->slot = limiter_add(l, began);
    x->shared = shared;
    x->r = *r;
    memset(r, 0, sizeof *r);                        /* the row's strings move to x */
    x->poll_ok = conf->poll_s > 0 && !conf->callback_token;
    x->retry_s = conf->retry_s;
    x->give_up_s = conf->give_up_s;
    x->poll_s = conf->poll_s;
    x->conf_version = version;
    x->next = n->exchanges;
    if (n->exchanges)
        n->exchanges->prev = x;
    n->exchanges = x;
    a->inflight++;
    if (x->r.act == ACT_SEND && !open_body(n, x)) {
        exchange_free(x);
        return;
    }

    char *token = bo_notify_token(conf->service_id, conf->secret, time(NULL));
    char *auth = bo_sprintf("Bearer %s", token);
    free(token);
    bo_buf url;
    bo_buf_init(&url);
    bo_buf_puts(&url, conf->base_url);
    const char *method = "GET";
    if (x->r.act == ACT_SEND) {
        bo_buf_printf(&url, "/v2/notifications/%s", x->r.kind);
        method = "POST";
    } else if (x->r.act == ACT_LOOKUP) {
        bo_buf_puts(&url, "/v2/notifications?reference=");
        bo_buf_put_escaped(&url, x->r.reference);
    } else {
        bo_buf_puts(&url, "/v2/notifications/");
        bo_buf_put_escaped(&url, x->r.notify_id ? x->r.notify_id : "");
    }
    bo_buf_putc(&url, '\0');
    bo_httpc_header headers[] = {
        { "Authorization", auth },
        { "Content-Type", "application/json" },
        { "Accept", "application/json" },
    };
    char err[300];
    bo_tls_config *tls = strncmp(conf->base_url, "https:", 6) == 0 ? bo_httpc_tls_default(err, sizeof err) : NULL;
    bo_httpc_options o = {
        .method = method,
        .url = url.data,
        .headers = headers,
        .nheaders = BO_COUNT(headers),
        .body = x->r.act == ACT_SEND ? x->r.body : NULL,
        .body_len = x->r.act == ACT_SEND && x->r.body ? strlen(x->r.body) : 0,
        .timeout_ms = (uint64_t)(conf->timeout_s * 1000),
        .max_response = MAX_RESPONSE,
        .max_redirects = 0,
        .tls = tls,
    };
    int rc = bo_httpc_start(&x->h, n->loop, &o, on_response, x, err, sizeof err);
    free(auth);
    bo_buf_free(&url);
    if (rc < 0) {                                   /* a malformed base_url: retried after a delay */
        x->h = NULL;
        int64_t now = bo_unix_ms();
        if (x->r.act == ACT_POLL)
            record_status(x, NULL, now, false);
        else
            requeue(x, err, now, false, -1);
        exchange_free(x);
    }
}

/* Sends what the app has to send, as far as its key's window lets it. */
static void serve_app(bo_notify *n, sender_app *a, const bo_notify_app_conf *conf, uint64_t version, int64_t now)
{
    if (a->paused_until > now && a->paused_conf != version) {
        a->paused_until = 0;                        /* the settings changed: try the new ones */
        a->warned_auth = false;
    }
    if (now >= a->next_beat) {
        char err[256];
        if (bo_nodes_beat(a->db, n->claimer, now, err, sizeof err) < 0)
            bo_log(BO_LOG_WARN, a->name, "notify: %s", err);
        a->next_beat = now + BO_NODE_BEAT_MS;
    }
    limiter *l = limiter_of(n, conf);
    seed(a, l, now);
    bool polling = conf->poll_s > 0 && !conf->callback_token;
    while (a->inflight < MAX_INFLIGHT && !n->stopping && now >= a->paused_until) {
        if (a->next >= a->nrows) {
            if (now < a->next_fetch)
                return;
            fetch(n, a, now, polling);
            if (a->nrows == 0) {
                a->next_fetch = now + FETCH_IDLE_MS;
                return;
            }
        }
        if (limiter_next(l, now) > now || !shared_take(n, l, now))
            return;
        row *r = &a->rows[a->next++];
        if (claim(n, a, r, now))
            start(n, a, r, conf, version, l, now, bo_db_dialect() == BO_POSTGRES);
        else if (bo_db_dialect() == BO_POSTGRES)
            shared_move(n, l, now, 0);              /* another node took the row: no request */
        row_clear(r);
        if (a->next >= a->nrows)
            a->next_fetch = now;                    /* more may be waiting */
    }
}

/* Forgets the recipient and the personalisation (the whole body) of the
   messages done at least purge_s ago: failed for good, sent with a final
   status, or sent a week ago (Notify's own retention: no status will come
   any more). What delivery and audit need stays: kind, template, reference,
   states, status, Notify's id and the times. Looks again after purge_s,
   but at least every MAX_PURGE_EVERY_MS and at most once a second. */
static void purge(sender_app *a, const bo_notify_app_conf *conf, int64_t now)
{
    static const char sql[] =
        "UPDATE _borough_outbox SET recipient = '', body = '' WHERE body <> '' AND ("
        "(state = 'failed' AND coalesce(last_try, created_ms) <= ?1) "
        "OR (state = 'sent' AND coalesce(status_at, sent_at, created_at) <= ?2 AND status IN ('delivered', "
        "'permanent-failure', 'temporary-failure', 'technical-failure', 'sent', 'received', 'cancelled', "
        "'validation-failed', 'virus-scan-failed', 'returned-letter')) "
        "OR (state = 'sent' AND created_ms <= ?1 - ?3))";
    int64_t keep = (int64_t)(conf->purge_s * 1000);
    a->purge_s = conf->purge_s;
    a->next_purge = now + (keep < 1000 ? 1000 : keep > MAX_PURGE_EVERY_MS ? MAX_PURGE_EVERY_MS : keep);
    if (!has_outbox(a))
        return;
    bo_stmt *stmt = PREP(a, sql);
    if (!stmt)
        return;
    char cutoff[32];
    bo_iso_time(now - keep, cutoff, sizeof cutoff);
    bo_stmt_bind_int64(stmt, 1, now - keep);
    bo_stmt_bind_text_copy(stmt, 2, cutoff, -1);
    bo_stmt_bind_int64(stmt, 3, POLL_FOR_MS);
    int purged = run(a, stmt, "purging the personal data of messages done");
    if (purged)
        bo_log(BO_LOG_INFO, a->name, "notify: the recipients and personalisation of %d message%s done are purged",
               purged, purged == 1 ? "" : "s");
}

static void pump(bo_notify *n)
{
    bo_catalog *cat = bo_server_catalog(n->server);
    bo_notify_conf *conf = bo_notify_conf_get(n->server->paths.data_dir);
    int64_t now = bo_unix_ms();
    for (unsigned i = 0; i < cat->napps && !n->stopping; i++) {
        bo_app_info *info = cat->apps[i];
        sender_app *a = app_of(n, info->name);
        if (!open_db(n, a, now))
            continue;
        if (now >= a->next_gauge) {
            gauges(a);
            a->next_gauge = now + GAUGE_MS;
        }
        const bo_notify_app_conf *ac = bo_notify_conf_app(conf, info->name);
        if (now >= a->next_purge || ac->purge_s != a->purge_s)
            purge(a, ac, now);
        if (ac->api_key && !conf->error)
            serve_app(n, a, ac, conf->version, now);
        else if (a->nrows)
            drop_batch(a);                          /* the key went: keep nothing read under it */
    }
    bo_notify_conf_unref(conf);
    bo_catalog_unref(cat);
}

static void on_tick(uv_timer_t *t)
{
    pump(t->data);
}

void bo_notify_start(bo_notify **out, uv_loop_t *loop, bo_server *s)
{
    bo_notify *n = bo_calloc(1, sizeof *n);
    n->server = s;
    n->loop = loop;
    snprintf(n->claimer, sizeof n->claimer, "%s", s->claim_id);
    uv_timer_init(loop, &n->timer);
    n->timer.data = n;
    uv_timer_start(&n->timer, on_tick, TICK_MS, TICK_MS);
    *out = n;
}

static void on_closed(uv_handle_t *h)
{
    bo_notify *n = h->data;
    for (unsigned i = 0; i < n->napps; i++) {
        sender_app *a = n->apps[i];
        drop_batch(a);
        bo_db_close(a->db);
        free(a->name);
        free(a);
    }
    free(n->apps);
    for (unsigned i = 0; i < n->nlimiters; i++) {
        free(n->limiters[i]->times);
        free(n->limiters[i]);
    }
    free(n->limiters);
    bo_db_close(n->platform);
    free(n);
}

void bo_notify_stop(bo_notify *n)
{
    if (!n || n->stopping)
        return;
    n->stopping = true;
    while (n->exchanges) {
        exchange *x = n->exchanges;
        if (x->h)
            bo_httpc_cancel(x->h);
        x->h = NULL;
        exchange_free(x);
    }
    uv_timer_stop(&n->timer);
    uv_close((uv_handle_t *)&n->timer, on_closed);
}
