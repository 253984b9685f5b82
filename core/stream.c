/*
 * stream.c - event streams and each worker's hub (see stream.h).
 *
 * An event goes out as
 *
 *     id: 42
 *     data: {"channel":"measures","data":{"id":7}}
 *
 * (the default event type, so one onmessage handler sees every channel),
 * formatted once per event and appended to each stream that follows its
 * channel. The platform's own events have a type: borough-reset tells a
 * client that events it asked for are gone (it resumed from before what
 * the table keeps, or asked for too many), so it should read afresh what
 * it shows.
 *
 * Reading. Each worker's hub reads an app's events table through its own
 * connection (db.h): what the bus kicks (a publish on this node) at once,
 * and every POLL_MS what other processes wrote (on PostgreSQL, the other
 * nodes: a client on any node sees every node's events within a second).
 * One read runs at a time per app, never blocking the worker: it is
 * started (bo_stmt_start) and its rows are taken when the answer comes
 * (at once on SQLite). A new stream's catch-up (the table's bounds, then
 * the events it missed) goes first; meanwhile the app's other streams wait
 * for the next read, so none misses an event or gets one twice.
 */
#include "stream.h"
#include "app.h"
#include "bus.h"
#include "conn.h"
#include "db.h"
#include "levents.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "server.h"
#include "session.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS 1000            /* the hub looks this often without a kick */
#define BATCH 256               /* rows read at a time */
#define REPLAY_MAX 1000         /* events sent again to a stream that resumes */
#define REPLAY_ROWS 1002        /* rows read for it: the one it saw, and one too many */
#define RECENT_MS 10000         /* a page's newest event is sent again if this recent */
#define STR_(x) #x
#define STR(x) STR_(x)

/* What an app's read in progress is. */
typedef enum { READ_NONE, READ_NEW, READ_BOUNDS, READ_MISSED } read_kind;

typedef struct hub_app {
    bo_db_waiter wait;          /* first: the read's answer (wait.impl is the engine's) */
    struct bo_hub *hub;
    char *name;
    bo_db *db;                  /* the hub's own read-only connection, or NULL */
    int64_t last_id;            /* the newest event the hub has read */
    uint64_t version;           /* the bus's version of the app last seen */
    bo_stream *streams;
    unsigned nstreams;
    read_kind reading;          /* the read in progress */
    bool answered;              /* its answer came later (the streams are flushed) */
    bo_stmt *stmt;              /* its statement (cached by db) */
    bo_stream *catching;        /* READ_BOUNDS, READ_MISSED: the stream it is for (NULL: it ended) */
    bool more;                  /* events may be waiting: read again */
    bool read_once;             /* the last read worked (its table is there) */
} hub_app;

struct bo_stream {
    bo_conn *conn;
    hub_app *app;
    struct bo_gen *gen;         /* the generation it began on (ended when retired) */
    bo_metrics_app *metrics;
    bo_stream *prev, *next;
    int64_t last_id;            /* the newest event it was sent or skipped */
    int64_t session;            /* the session behind it, or 0 (anyone) */
    int64_t from;               /* until it has caught up: the id it resumes after (-1: none) */
    int64_t opened_ms;          /* when it opened (unix ms) */
    bool page;                  /* ... given by the page (?last_event_id=) */
    bool waiting;               /* it has not caught up yet: no events go to it */
    uint8_t session_hash[32];
    char *roles;                /* the route's roles ("a b"), or NULL */
    uint64_t started_ms;
    bool ending;
    char channels[];            /* " a b " */
};

struct bo_hub {
    bo_worker *w;
    bo_bus *bus;
    uv_async_t wake;            /* the bus's kicks */
    uv_timer_t tick;            /* polling, heartbeats and session checks */
    uint64_t last_beat;
    hub_app **apps;
    unsigned napps;
    unsigned nstreams;
    bo_buf event;               /* the event being sent, formatted */
    bool closed;
};

/* ---- reading events ---- */

static void deliver(hub_app *a);

/* The hub's connection to a's database, opened on first need; NULL while
   it cannot be (an app that has never written has no file yet). */
static bo_db *app_db(hub_app *a)
{
    if (!a->db) {
        char err[256];
        if (bo_db_open_app(&a->db, a->hub->w->server->paths.data_dir, a->name, BO_DB_READONLY, err,
                           sizeof err) < 0)
            a->db = NULL;
    }
    return a->db;
}

/* Formats one event into out: its id, and the channel and data (JSON) as
   data lines (a line break in data starts another data line, as the
   format needs). */
static void format_event(bo_buf *out, int64_t id, const char *channel, const char *data, size_t len)
{
    out->len = 0;
    bo_buf_printf(out, "id: %lld\ndata: {\"channel\":\"%s\",\"data\":", (long long)id, channel);
    for (size_t i = 0; i < len; i++) {
        char ch = data[i];
        if (ch == '\r' || ch == '\n') {
            if (ch == '\r' && i + 1 < len && data[i + 1] == '\n')
                i++;
            bo_buf_append(out, "\ndata: ", 7);
        } else {
            bo_buf_putc(out, ch);
        }
    }
    bo_buf_append(out, "}\n\n", 3);
}

/* True if s follows channel. */
static bool follows(const bo_stream *s, const char *channel)
{
    size_t n = strlen(channel);
    for (const char *p = s->channels; (p = strstr(p, channel)); p++)
        if (p[-1] == ' ' && p[n] == ' ')
            return true;
    return false;
}

/* Appends text to s's queue; drops a client whose queue is over its bound
   (s is then freed). Returns false if it was dropped. */
static bool queue(bo_stream *s, const char *text, size_t len)
{
    bo_conn *c = s->conn;
    bo_conn_response_chunk(c, text, len);
    if (bo_conn_pending(c) <= BO_STREAM_QUEUE_MAX / 4)
        return true;
    bo_conn_flush(c);                  /* what the kernel takes is not queued here */
    if (c->closing)
        return false;                  /* the write failed: s is gone */
    if (bo_conn_pending(c) <= BO_STREAM_QUEUE_MAX)
        return true;
    bo_log_set_request(NULL);
    bo_log(BO_LOG_INFO, s->app->name, "%s: event stream dropped: the client reads too slowly (%zu bytes waiting)",
           c->ip, bo_conn_pending(c));
    bo_counter_add(&s->metrics->streams_dropped, 1);
    bo_conn_close(c);
    return false;
}

/* Takes the rows of a's read of new events: sends each to the streams
   that follow its channel, then writes what each stream has queued. */
static void took_new(bo_hub *h, hub_app *a, bo_stmt *stmt)
{
    int n = 0, rc;
    while ((rc = bo_stmt_step(stmt)) == BO_DB_ROW) {
        int64_t id = bo_stmt_column_int64(stmt, 0);
        const char *channel = bo_stmt_column_text(stmt, 1);
        const char *data = bo_stmt_column_text(stmt, 2);
        format_event(&h->event, id, channel ? channel : "", data ? data : "null",
                     data ? (size_t)bo_stmt_column_bytes(stmt, 2) : 4);
        for (bo_stream *s = a->streams, *next; s; s = next) {
            next = s->next;
            if (s->ending || s->waiting || id <= s->last_id)
                continue;
            s->last_id = id;
            if (channel && follows(s, channel))
                queue(s, h->event.data, h->event.len);
        }
        a->last_id = id;
        n++;
    }
    /* (before a read works: no table yet; after one failed: said once) */
    if (rc < 0 && a->read_once)
        bo_log(BO_LOG_ERROR, a->name, "reading events: %s", bo_db_errmsg(a->db));
    a->read_once = rc >= 0;
    bo_stmt_reset(stmt);
    a->more = n == BATCH;
    for (bo_stream *s = a->streams, *next; s; s = next) {
        next = s->next;
        if (!s->waiting)
            bo_conn_flush(s->conn);
    }
}

/* ---- the hub ---- */

static void on_wake(uv_async_t *async)
{
    bo_hub *h = async->data;
    for (unsigned i = 0; i < h->napps; i++) {
        hub_app *a = h->apps[i];
        if (!a->streams)
            continue;
        uint64_t v = bo_bus_version(h->bus, a->name);
        if (v != a->version) {
            a->version = v;
            deliver(a);
        }
    }
}

/* A comment to every stream (so proxies and browsers keep the connection),
   and the check that its session still stands. */
static void beat(bo_hub *h)
{
    bo_worker *w = h->w;
    bo_db *platform = NULL;
    for (unsigned i = 0; i < h->napps; i++) {
        for (bo_stream *s = h->apps[i]->streams, *next; s; s = next) {
            next = s->next;
            if (s->ending)
                continue;
            if (s->session) {
                if (!platform)
                    platform = bo_worker_platform_db(w);
                if (platform && bo_session_valid(platform, s->session, s->session_hash, s->app->name, s->roles,
                                                 &w->cfg->sessions) == 0) {
                    bo_stream_end(s, "the session has ended, or lost the role");
                    continue;
                }
            }
            if (queue(s, ":\n\n", 3))
                bo_conn_flush(s->conn);
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    bo_hub *h = t->data;
    for (unsigned i = 0; i < h->napps; i++)
        if (h->apps[i]->streams)
            deliver(h->apps[i]);
    uint64_t now = uv_now(&h->w->loop);
    if (now - h->last_beat >= h->w->cfg->heartbeat_ms) {
        h->last_beat = now;
        beat(h);
    }
}

bo_hub *bo_hub_new(bo_worker *w)
{
    bo_hub *h = bo_calloc(1, sizeof *h);
    h->w = w;
    h->bus = w->server->paths.bus;
    bo_buf_init(&h->event);
    uv_async_init(&w->loop, &h->wake, on_wake);
    h->wake.data = h;
    uv_timer_init(&w->loop, &h->tick);
    h->tick.data = h;
    uint64_t every = w->cfg->heartbeat_ms < POLL_MS ? w->cfg->heartbeat_ms : POLL_MS;
    uv_timer_start(&h->tick, on_tick, every, every);
    h->last_beat = uv_now(&w->loop);
    bo_bus_join(h->bus, &h->wake);
    return h;
}

void bo_hub_close(bo_hub *h)
{
    if (!h || h->closed)
        return;
    h->closed = true;
    for (unsigned i = 0; i < h->napps; i++) {
        hub_app *a = h->apps[i];
        if (a->reading != READ_NONE) {     /* its answer is dropped when it comes */
            bo_db_cancel(&a->wait);
            a->reading = READ_NONE;
        }
    }
    bo_bus_leave(h->bus, &h->wake);
    uv_close((uv_handle_t *)&h->wake, NULL);
    uv_close((uv_handle_t *)&h->tick, NULL);
}

void bo_hub_free(bo_hub *h)
{
    if (!h)
        return;
    for (unsigned i = 0; i < h->napps; i++) {
        if (h->apps[i]->db)
            bo_db_close(h->apps[i]->db);
        free(h->apps[i]->name);
        free(h->apps[i]);
    }
    free(h->apps);
    bo_buf_free(&h->event);
    free(h);
}

/* The hub's entry for app, made on its first stream. */
static hub_app *app_for(bo_hub *h, const char *name)
{
    for (unsigned i = 0; i < h->napps; i++)
        if (strcmp(h->apps[i]->name, name) == 0)
            return h->apps[i];
    hub_app *a = bo_calloc(1, sizeof *a);
    a->hub = h;
    a->name = bo_strdup(name);
    a->version = bo_bus_version(h->bus, name);
    h->apps = bo_realloc(h->apps, sizeof *h->apps * (h->napps + 1));
    h->apps[h->napps++] = a;
    return a;
}

void bo_hub_retire(bo_hub *h, struct bo_gen *g)
{
    if (!h)
        return;
    for (unsigned i = 0; i < h->napps; i++) {
        for (bo_stream *s = h->apps[i]->streams, *next; s; s = next) {
            next = s->next;
            if (s->gen == g) {
                s->gen = NULL;
                bo_stream_end(s, "the app was reloaded");
            }
        }
    }
}

/* ---- a stream's life ---- */

/* The id a request asks to resume after: Last-Event-ID (a browser
   reconnecting), else ?last_event_id= (the page's newest event when it was
   made: *page is set). -1 when neither is a number. */
static int64_t asked_id(const bo_http_request *h, bool *page)
{
    size_t len = 0;
    const char *v = bo_http_header_get(h, "last-event-id", &len);
    *page = false;
    if (!v) {
        const char *q = bo_http_str(h, h->query), *end = q + h->query_len;
        for (const char *p = q; p && p < end; p = memchr(p, '&', (size_t)(end - p)), p = p ? p + 1 : NULL) {
            if ((size_t)(end - p) > 14 && memcmp(p, "last_event_id=", 14) == 0) {
                v = p + 14;
                const char *amp = memchr(v, '&', (size_t)(end - v));
                len = (size_t)((amp ? amp : end) - v);
                *page = true;
                break;
            }
        }
    }
    if (!v || len == 0 || len > 18)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    return n;
}

/* Tells the client to read afresh what it shows; the stream goes on from
   the newest event. */
static void reset(bo_stream *s, int64_t newest, const char *why)
{
    char line[200];
    int n = snprintf(line, sizeof line, "id: %lld\nevent: borough-reset\ndata: {\"reason\":\"%s\"}\n\n",
                     (long long)newest, why);
    bo_conn_response_chunk(s->conn, line, (size_t)n);
    s->last_id = newest;
}

/* Where s goes on from, once it caught up: a's streams that were there
   before it need nothing older. */
static void caught_up(hub_app *a, bo_stream *s)
{
    s->waiting = false;
    bool alone = true;
    for (bo_stream *o = a->streams; o; o = o->next)
        if (o != s && !o->waiting)
            alone = false;
    if (alone && a->last_id < s->last_id)
        a->last_id = s->last_id;       /* nothing older is for anyone here */
    if (a->answered)
        bo_conn_flush(s->conn);        /* (at once, the response that opens it writes it) */
}

/* Takes the table's bounds for s (the newest event id kept when s opened
   and the oldest kept; 0 and 0 when there are none, or no table yet):
   whether the events since are to be read (else it has caught up with a
   reset). The read may end after s opened: the events published since then
   go to it too, so that it misses none. */
static bool took_bounds(hub_app *a, bo_stream *s, bo_stmt *stmt)
{
    int64_t newest = 0, oldest = 0;
    if (stmt && bo_stmt_step(stmt) == BO_DB_ROW) {
        newest = bo_stmt_column_int64(stmt, 0);
        oldest = bo_stmt_column_int64(stmt, 1);
    }
    if (stmt)
        bo_stmt_reset(stmt);
    if (!s)
        return false;
    int64_t from = s->from;
    s->last_id = newest;
    if (from < 0) {                /* it begins after the newest event when it opened */
        from = newest;
        s->page = false;
    } else if (from > newest) {
        reset(s, newest, "unknown");
        return false;
    } else if (oldest > 0 && from < oldest - 1) {
        reset(s, newest, "gone");
        return false;
    }
    s->from = newest;              /* (kept for took_missed) */
    s->last_id = from;
    return a->db != NULL;          /* no database yet: nothing was published */
}

/* Takes the events s missed (from s->last_id on, up to the newest the
   bounds saw in s->from) and sends those of its channels, or a reset when
   they are too many. */
static void took_missed(hub_app *a, bo_stream *s, bo_stmt *stmt)
{
    bo_buf *event = &a->hub->event;
    int64_t from = s ? s->last_id : 0, newest = s ? s->from : 0;
    bo_conn *c = s ? s->conn : NULL;
    size_t mark = c ? c->out.len : 0;
    uint64_t mark_bytes = c ? c->req.response_bytes : 0;
    int64_t recent = bo_unix_ms() - RECENT_MS, last = from;
    int n = 0;
    bool too_many = false;
    while (s && bo_stmt_step(stmt) == BO_DB_ROW) {
        int64_t id = bo_stmt_column_int64(stmt, 0);
        const char *channel = bo_stmt_column_text(stmt, 1);
        last = id;
        /* The event the client saw last is not sent again, unless it is
           the page's newest and so recent that the page may have been
           made before it committed. */
        if (id == from && (!s->page || bo_stmt_column_int64(stmt, 3) < recent))
            continue;
        if (++n > REPLAY_MAX || c->out.len - mark > BO_STREAM_QUEUE_MAX / 2) {
            too_many = true;
            break;
        }
        if (!channel || !follows(s, channel))
            continue;
        const char *data = bo_stmt_column_text(stmt, 2);
        format_event(event, id, channel, data ? data : "null", data ? (size_t)bo_stmt_column_bytes(stmt, 2) : 4);
        bo_conn_response_chunk(c, event->data, event->len);
    }
    bo_stmt_reset(stmt);
    if (!s)
        return;
    if (too_many) {
        c->out.len = mark;      /* unsent yet: taken back */
        c->req.response_bytes = mark_bytes;
        reset(s, newest > last ? newest : last, "too many");
        return;
    }
    s->last_id = last > newest ? last : newest;
}

static void read_next(hub_app *a);

/* The answer to a's read is in (or came at once): its rows are taken, and
   the next read starts. */
static void took(hub_app *a)
{
    static const char missed[] = "SELECT id, channel, data, at_ms FROM " BO_EVENTS_TABLE " WHERE id >= ?1 ORDER BY id "
                                 "LIMIT " STR(REPLAY_ROWS);
    read_kind kind = a->reading;
    bo_stmt *stmt = a->stmt;
    bo_stream *s = a->catching;
    a->reading = READ_NONE;
    a->stmt = NULL;
    if (kind == READ_NEW) {
        took_new(a->hub, a, stmt);
    } else if (kind == READ_BOUNDS) {
        char err[256];
        bo_stmt *next = took_bounds(a, s, stmt) ? bo_db_prepare(a->db, missed, sizeof missed - 1, err, sizeof err)
                                                 : NULL;
        if (next) {
            bo_stmt_bind_int64(next, 1, s->last_id);
            a->reading = READ_MISSED;
            a->stmt = next;
            int rc = bo_stmt_start(next, &a->wait);
            if (rc == BO_DB_PENDING)
                return;
            took(a);
            return;
        }
        if (s)
            caught_up(a, s);
        a->catching = NULL;
    } else if (kind == READ_MISSED) {
        took_missed(a, s, stmt);
        if (s)
            caught_up(a, s);
        a->catching = NULL;
    }
    read_next(a);
}

static void on_read(bo_db_waiter *w)
{
    hub_app *a = (hub_app *)w;
    a->answered = true;
    took(a);
    a->answered = false;
}

/* Starts a's next read, if none runs: a waiting stream's catch-up first,
   else the new events when some may be waiting for its streams. */
static void read_next(hub_app *a)
{
    static const char bounds[] =
        "SELECT coalesce(max(CASE WHEN at_ms <= ?1 THEN id END), 0), coalesce(min(id), 0) FROM " BO_EVENTS_TABLE;
    static const char fresh[] =
        "SELECT id, channel, data FROM " BO_EVENTS_TABLE " WHERE id > ?1 ORDER BY id LIMIT " STR(BATCH);
    while (a->reading == READ_NONE) {
        bo_stream *s = NULL, *active = NULL;
        for (bo_stream *o = a->streams; o; o = o->next) {
            if (o->waiting && !o->ending)
                s = o;                 /* the oldest waiting (streams are added at the front) */
            else if (!o->waiting)
                active = o;
        }
        if (!s && (!a->more || !active))
            return;
        bo_db *db = app_db(a);
        char err[256];
        bo_stmt *stmt = NULL;
        if (db && s)
            stmt = bo_db_prepare(db, bounds, sizeof bounds - 1, err, sizeof err);
        else if (db)
            stmt = bo_db_prepare(db, fresh, sizeof fresh - 1, err, sizeof err);
        if (s && !stmt) {              /* no database or no table yet: nothing was published */
            a->catching = s;
            a->reading = READ_BOUNDS;
            took(a);
            return;
        }
        if (!stmt) {
            a->more = false;
            return;
        }
        bo_stmt_bind_int64(stmt, 1, s ? s->opened_ms : a->last_id);
        a->catching = s;
        a->reading = s ? READ_BOUNDS : READ_NEW;
        if (!s)
            a->more = false;           /* (took_new says if there is more) */
        a->stmt = stmt;
        a->wait.ready = on_read;
        a->wait.loop = &a->hub->w->loop;
        if (bo_stmt_start(stmt, &a->wait) == BO_DB_PENDING)
            return;
        took(a);
        return;
    }
}

/* Events may be waiting for a's streams: reads them (now, or after the
   read in progress). */
static void deliver(hub_app *a)
{
    a->more = true;
    read_next(a);
}

/* 503 with Retry-After, for a stream past a cap. */
static void refuse(bo_request *r, const char *why)
{
    bo_conn *c = r->conn;
    char body[200];
    int n = snprintf(body, sizeof body, "Too many live updates are open (%s). Try again soon.\n", why);
    bo_conn_response_begin(c, 503);
    bo_conn_response_header(c, "Retry-After", 11, "10", 2);
    bo_conn_response_header(c, "Content-Type", 12, "text/plain; charset=utf-8", 25);
    bo_conn_response_end(c, body, (size_t)n);
    bo_counter_add(&r->metrics->streams_refused, 1);
    bo_log(BO_LOG_INFO, r->app->name, "%s: event stream refused: %s", c->ip, why);
}

void bo_stream_respond(bo_request *r, const char *channels)
{
    bo_conn *c = r->conn;
    bo_worker *w = r->worker;
    bo_hub *h = w->hub;
    struct bo_gen *g = r->gen;
    bo_app_info *info = g->info;
    if (c->head_only) {
        bo_conn_response_begin(c, 200);
        bo_conn_response_header(c, "Content-Type", 12, "text/event-stream; charset=utf-8", 32);
        bo_conn_response_end(c, NULL, 0);
        return;
    }
    if (!h || h->closed || w->stopping) {
        refuse(r, "the server is stopping");
        return;
    }
    if (h->nstreams >= w->cfg->max_streams) {
        refuse(r, "the worker's limit, serve --max-streams");
        return;
    }
    if (!bo_bus_stream_take(h->bus, info->name, info->max_streams)) {
        refuse(r, "the app's limit, limits.streams");
        return;
    }
    size_t clen = strlen(channels);
    bo_stream *s = bo_calloc(1, sizeof *s + clen + 1);
    memcpy(s->channels, channels, clen + 1);
    s->conn = c;
    s->app = app_for(h, info->name);
    s->gen = g;
    s->metrics = r->metrics;
    s->started_ms = uv_now(&w->loop);
    if (r->user && r->user->session) {
        s->session = r->user->session;
        memcpy(s->session_hash, r->user->session_hash, sizeof s->session_hash);
    }
    const char *roles = g->route_opts[r->match.route->index].role;
    s->roles = roles ? bo_strdup(roles) : NULL;

    bo_conn_response_begin(c, 200);
    bo_conn_response_header(c, "Content-Type", 12, "text/event-stream; charset=utf-8", 32);
    bo_conn_response_header(c, "X-Accel-Buffering", 17, "no", 2);
    bo_conn_response_stream_begin(c);
    c->close_after_write = false;   /* an HTTP/1.0 stream too ends when it is ended */
    /* Reconnect after 2 to 5 s: spread, so a reload's clients do not all
       come back in the same millisecond. */
    char retry[32];
    int n = snprintf(retry, sizeof retry, "retry: %u\n\n", 2000 + (unsigned)(uv_hrtime() / 1000 % 3000));
    bo_conn_response_chunk(c, retry, (size_t)n);
    s->from = asked_id(r->http, &s->page);
    s->opened_ms = bo_unix_ms();
    s->waiting = true;

    hub_app *a = s->app;
    s->next = a->streams;
    if (a->streams)
        a->streams->prev = s;
    a->streams = s;
    a->nstreams++;
    h->nstreams++;
    bo_counter_add(&s->metrics->streams, 1);
    c->stream = s;
    read_next(a);                      /* its catch-up */
}

void bo_stream_end(bo_stream *s, const char *why)
{
    if (s->ending)
        return;
    s->ending = true;
    bo_conn *c = s->conn;
    bo_log(BO_LOG_INFO, s->app->name, "%s: event stream ended after %.0f s: %s", c->ip,
           (double)(uv_now(&c->worker->loop) - s->started_ms) / 1000, why);
    char line[160];
    int n = snprintf(line, sizeof line, ": %s\n\n", why);
    bo_conn_response_chunk(c, line, (size_t)n);
    bo_conn_response_stream_end(c);
    c->close_after_write = true;
    bo_conn_flush(c);                  /* may close the connection, and free s */
}

void bo_stream_closed(bo_stream *s)
{
    hub_app *a = s->app;
    if (a->catching == s)
        a->catching = NULL;            /* its read's answer is for no one */
    bo_hub *h = s->conn->worker->hub;
    if (s->prev)
        s->prev->next = s->next;
    else
        a->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    a->nstreams--;
    h->nstreams--;
    bo_bus_stream_end(h->bus, a->name);
    bo_counter_add(&s->metrics->streams, (uint64_t)-1);
    free(s->roles);
    free(s);
}
