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

typedef struct hub_app {
    bo_db_waiter wait;          /* first: the read in flight (PostgreSQL) */
    bo_stmt *reading;           /* its statement, or NULL */
    bool again;                 /* a look was asked for while it read */
    bo_hub *hub;
    char *name;
    const char *data_dir;
    bo_db *db;                  /* the hub's own read-only connection, or NULL */
    bool has_table;             /* the events table was found */
    int64_t last_id;            /* the newest event the hub has read */
    uint64_t version;           /* the bus's version of the app last seen */
    bo_stream *streams;
    unsigned nstreams;
} hub_app;

struct bo_stream {
    bo_conn *conn;
    hub_app *app;
    struct bo_gen *gen;         /* the generation it began on (ended when retired) */
    bo_metrics_app *metrics;
    bo_stream *prev, *next;
    int64_t last_id;            /* the newest event it was sent or skipped */
    int64_t session;            /* the session behind it, or 0 (anyone) */
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

/* The hub's connection to a's database, opened on first need; NULL while
   it cannot be, or has no events table yet (an app that has never written
   has no file; one that never published, no table). On PostgreSQL the hub
   reads the same way, every node its own: an event published on another
   node is seen at the next tick (POLL_MS). */
static bo_db *app_db(hub_app *a)
{
    if (!a->db) {
        char err[256];
        if (!bo_db_app_made(a->data_dir, a->name) ||
            bo_db_open_app(&a->db, a->data_dir, a->name, BO_DB_READONLY, err, sizeof err) < 0)
            a->db = NULL;
    }
    if (a->db && !a->has_table)
        a->has_table = bo_db_has_table(a->db, BO_EVENTS_TABLE);
    return a->has_table ? a->db : NULL;
}

/* The newest and oldest event ids kept (0 and 0 when there are none, or no
   table yet). */
static void bounds(hub_app *a, int64_t *newest, int64_t *oldest)
{
    static const char sql[] = "SELECT coalesce(max(id), 0), coalesce(min(id), 0) FROM " BO_EVENTS_TABLE;
    *newest = *oldest = 0;
    bo_db *db = app_db(a);
    char err[256];
    bo_stmt *stmt = db ? bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err) : NULL;
    if (!stmt)
        return;
    if (bo_stmt_step(stmt) == BO_DB_ROW) {
        *newest = bo_stmt_column_int64(stmt, 0);
        *oldest = bo_stmt_column_int64(stmt, 1);
    }
    bo_stmt_reset(stmt);
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

/* Sends each event in stmt's answer to a's streams that follow its
   channel; returns how many rows it read. */
static int send_rows(bo_hub *h, hub_app *a, bo_stmt *stmt)
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
            if (s->ending || id <= s->last_id)
                continue;
            s->last_id = id;
            if (channel && follows(s, channel))
                queue(s, h->event.data, h->event.len);
        }
        a->last_id = id;
        n++;
    }
    if (rc < 0)
        bo_log(BO_LOG_ERROR, a->name, "reading events: %s", bo_db_errmsg(a->db));
    bo_stmt_reset(stmt);
    return n;
}

static void flush_streams(hub_app *a)
{
    for (bo_stream *s = a->streams, *next; s; s = next) {
        next = s->next;
        bo_conn_flush(s->conn);
    }
}

static void read_ready(bo_db_waiter *w);

/* Reads a's new events and sends each to the streams that follow its
   channel, then writes what each stream has queued. On PostgreSQL the
   read is sent and answered on the worker's loop (read_ready), which does
   not wait for it; a look asked for meanwhile comes after it. */
static void deliver(bo_hub *h, hub_app *a)
{
    static const char sql[] =
        "SELECT id, channel, data FROM " BO_EVENTS_TABLE " WHERE id > ?1 ORDER BY id LIMIT " STR(BATCH);
    if (a->reading) {
        a->again = true;
        return;
    }
    bo_db *db = app_db(a);
    if (!db || !a->streams)
        return;
    for (;;) {
        char err[256];
        bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
        if (!stmt)
            break;              /* no table yet: nothing was published */
        bo_stmt_bind_int64(stmt, 1, a->last_id);
        a->wait.ready = read_ready;
        a->wait.loop = &h->w->loop;
        if (bo_stmt_start(stmt, &a->wait) == BO_DB_PENDING) {
            a->reading = stmt;
            return;
        }
        if (send_rows(h, a, stmt) < BATCH)
            break;
    }
    flush_streams(a);
}

static void read_ready(bo_db_waiter *w)
{
    hub_app *a = (hub_app *)w;
    bo_stmt *stmt = a->reading;
    a->reading = NULL;
    bool more = send_rows(a->hub, a, stmt) == BATCH || a->again;
    a->again = false;
    flush_streams(a);
    if (more)
        deliver(a->hub, a);
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
            deliver(h, a);
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
        deliver(h, h->apps[i]);
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
    bo_bus_leave(h->bus, &h->wake);
    uv_close((uv_handle_t *)&h->wake, NULL);
    uv_close((uv_handle_t *)&h->tick, NULL);
}

void bo_hub_free(bo_hub *h)
{
    if (!h)
        return;
    for (unsigned i = 0; i < h->napps; i++) {
        if (h->apps[i]->reading)
            bo_db_cancel(&h->apps[i]->wait);
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
    a->data_dir = h->w->server->paths.data_dir;
    a->version = bo_bus_version(h->bus, name);
    int64_t oldest;
    bounds(a, &a->last_id, &oldest);
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

/* Sends s the events after the one it asks to resume after, or a reset
   when they are gone or too many; sets where s goes on from. */
static void catch_up(bo_stream *s, const bo_http_request *h, bo_buf *event)
{
    bool page;
    int64_t from = asked_id(h, &page), newest, oldest;
    bounds(s->app, &newest, &oldest);
    s->last_id = newest;
    if (from < 0 || (from == newest && !page))
        return;
    if (from > newest) {
        reset(s, newest, "unknown");
        return;
    }
    if (oldest > 0 && from < oldest - 1) {
        reset(s, newest, "gone");
        return;
    }
    if (!app_db(s->app))
        return;                 /* the app has no events table yet: nothing was published */
    static const char sql[] = "SELECT id, channel, data, at_ms FROM " BO_EVENTS_TABLE " WHERE id >= ?1 ORDER BY id "
                              "LIMIT " STR(REPLAY_ROWS);
    char err[256];
    bo_stmt *stmt = bo_db_prepare(s->app->db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt)
        return;
    bo_conn *c = s->conn;
    size_t mark = c->out.len;
    uint64_t mark_bytes = c->req.response_bytes;
    int64_t recent = bo_unix_ms() - RECENT_MS, last = from;
    int n = 0;
    bool too_many = false;
    bo_stmt_bind_int64(stmt, 1, from);
    while (bo_stmt_step(stmt) == BO_DB_ROW) {
        int64_t id = bo_stmt_column_int64(stmt, 0);
        const char *channel = bo_stmt_column_text(stmt, 1);
        last = id;
        /* The event the client saw last is not sent again, unless it is
           the page's newest and so recent that the page may have been
           made before it committed. */
        if (id == from && (!page || bo_stmt_column_int64(stmt, 3) < recent))
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
    if (too_many) {
        c->out.len = mark;      /* unsent yet: taken back */
        c->req.response_bytes = mark_bytes;
        reset(s, newest > last ? newest : last, "too many");
        return;
    }
    s->last_id = last > newest ? last : newest;
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
    catch_up(s, r->http, &h->event);

    hub_app *a = s->app;
    if (!a->streams && a->last_id < s->last_id)
        a->last_id = s->last_id;       /* nothing older is for anyone here */
    s->next = a->streams;
    if (a->streams)
        a->streams->prev = s;
    a->streams = s;
    a->nstreams++;
    h->nstreams++;
    bo_counter_add(&s->metrics->streams, 1);
    c->stream = s;
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
