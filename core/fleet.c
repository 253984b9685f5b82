/*
 * fleet.c - the nodes serving the same app versions (see fleet.h).
 */
#include "fleet.h"
#include "db.h"
#include "log.h"
#include "nodes.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A reload asked here, waiting for the other nodes to carry it out. */
typedef struct ask {
    struct ask *next;
    bo_control_client *client;
    char *app;                 /* NULL: every app */
    int64_t number;            /* the reload's number (nodes.h) */
    int64_t deadline;          /* unix ms */
    int status;                /* this node's outcome */
} ask;

struct bo_fleet {
    struct bo_server *s;
    bo_fleet_reload_fn reload;
    uv_timer_t timer;
    bo_db *db;                 /* the platform's database, NULL until it opens */
    char node[BO_NODE_ID_LEN + 1];
    char name[300];            /* host:port, for people */
    bool started;              /* the reloads asked before it started are not its to carry out */
    int64_t done;              /* the last reload carried out */
    uint64_t recorded;         /* the catalog version recorded in the database (0: none yet) */
    int64_t recorded_done;
    int64_t next_beat;
    int64_t next_open;
    bool warned;               /* the database could not be written: said once */
    ask *asks;
};

/* Every worker serves the catalog. */
static bool synced(struct bo_server *s)
{
    for (int i = 0; i < s->nworkers; i++)
        if (atomic_load(&s->workers[i].synced_version) < s->catalog->version)
            return false;
    return true;
}

/* Records the versions this node serves (and done), or only beats. */
static void record(bo_fleet *f, int64_t now, bool versions)
{
    struct bo_server *s = f->s;
    bo_catalog *c = s->catalog;    /* only this thread replaces it */
    bo_nodes_app *apps = NULL;
    unsigned n = 0;
    if (versions) {
        apps = bo_calloc(c->napps ? c->napps : 1, sizeof *apps);
        for (unsigned i = 0; i < c->napps; i++) {
            const bo_app_info *info = c->apps[i];
            if (info->platform)
                continue;
            apps[n].app = info->name;
            apps[n].hash = !info->error && info->snapshot ? info->snapshot->hash : "";
            n++;
        }
    }
    char err[512];
    if (bo_nodes_register(f->db, f->node, f->name, now, f->done, apps, n, err, sizeof err) < 0) {
        if (!f->warned)                /* once until it works again */
            bo_log(BO_LOG_WARN, NULL, "nodes: recording what this node serves: %s", err);
        f->warned = true;
    } else {
        f->warned = false;
        if (versions) {
            f->recorded = c->version;
            f->recorded_done = f->done;
        }
    }
    free(apps);
    f->next_beat = now + BO_NODE_BEAT_MS;
}

/* ---- the answer to a reload asked here ---- */

typedef struct peer {
    char *node, *name;
    int64_t done;
    bo_buf versions;           /* "app hash\n" of the apps the answer is about */
} peer;

typedef struct peers {
    peer *list;
    unsigned n;
    const char *app;           /* NULL: every app */
} peers;

static int collect(void *ud, const bo_nodes_row *row)
{
    peers *p = ud;
    if (p->n == 0 || strcmp(p->list[p->n - 1].node, row->node) != 0) {
        p->list = bo_realloc(p->list, sizeof *p->list * (p->n + 1));
        peer *x = &p->list[p->n++];
        x->node = bo_strdup(row->node);
        x->name = bo_strdup(row->name);
        x->done = row->done;
        bo_buf_init(&x->versions);
    }
    if (row->app && (!p->app || strcmp(p->app, row->app) == 0))
        bo_buf_printf(&p->list[p->n - 1].versions, "%s %s\n", row->app, row->hash);
    return 0;
}

static void peers_free(peers *p)
{
    for (unsigned i = 0; i < p->n; i++) {
        free(p->list[i].node);
        free(p->list[i].name);
        bo_buf_free(&p->list[i].versions);
    }
    free(p->list);
}

static bool same(const peer *a, const peer *b)
{
    return a->versions.len == b->versions.len &&
           (a->versions.len == 0 || memcmp(a->versions.data, b->versions.data, a->versions.len) == 0);
}

/* "alpha 1a2b3c4d5e6f, beta (does not load)" */
static void describe(const peer *x, bo_buf *out)
{
    const char *p = x->versions.data, *end = p + x->versions.len;
    if (p == end)
        bo_buf_puts(out, "no app");
    for (bool first = true; p < end; first = false) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *sp = memchr(p, ' ', (size_t)(nl - p));
        bo_buf_printf(out, "%s%.*s ", first ? "" : ", ", (int)(sp - p), p);
        if (sp + 1 == nl)
            bo_buf_puts(out, "(does not load)");
        else
            bo_buf_printf(out, "%.12s", sp + 1);
        p = nl + 1;
    }
}

/* Answers a's client if every node alive carried out its reload, or its
   time is up; returns whether it did. */
static bool answer(bo_fleet *f, ask *a, int64_t now)
{
    peers p = { .app = a->app };
    char err[512];
    if (bo_nodes_each(f->db, now - BO_NODE_LEASE_MS, collect, &p, err, sizeof err) < 0) {
        peers_free(&p);
        if (now < a->deadline)
            return false;
        bo_control_reply(a->client, "err", "borough: the other nodes could not be read: %s", err);
        bo_control_end(a->client, 1);
        return true;
    }
    const peer *self = NULL;
    bool all = true;
    for (unsigned i = 0; i < p.n; i++) {
        if (strcmp(p.list[i].node, f->node) == 0)
            self = &p.list[i];
        else if (p.list[i].done < a->number)
            all = false;
    }
    if ((!all || !self) && now < a->deadline) {
        peers_free(&p);
        return false;
    }
    int status = a->status;
    if (self && p.n > 1) {
        bo_buf line;
        bo_buf_init(&line);
        describe(self, &line);
        bo_control_reply(a->client, "out", "node %s (this one): %.*s", self->name, (int)line.len, line.data);
        for (unsigned i = 0; i < p.n; i++) {
            const peer *x = &p.list[i];
            if (x == self)
                continue;
            line.len = 0;
            describe(x, &line);
            if (x->done < a->number) {
                bo_control_reply(a->client, "err", "node %s has not reloaded within %d s; it serves %.*s", x->name,
                                 BO_FLEET_WAIT_MS / 1000, (int)line.len, line.data);
                status = 1;
            } else if (!same(x, self)) {
                bo_control_reply(a->client, "err", "node %s differs: it serves %.*s (check its apps folder)",
                                 x->name, (int)line.len, line.data);
                status = 1;
            } else {
                bo_control_reply(a->client, "out", "node %s: %.*s", x->name, (int)line.len, line.data);
            }
        }
        bo_buf_free(&line);
    }
    peers_free(&p);
    bo_control_end(a->client, status);
    return true;
}

static void ask_free(ask *a)
{
    free(a->app);
    free(a);
}

/* ---- the tick ---- */

static bool open_db(bo_fleet *f, int64_t now)
{
    if (f->db)
        return true;
    if (now < f->next_open)
        return false;
    char err[512];
    if (bo_db_open_platform(&f->db, f->s->paths.data_dir, 0, err, sizeof err) < 0) {
        f->db = NULL;
        f->next_open = now + BO_NODE_BEAT_MS;
        return false;
    }
    return true;
}

static void on_tick(uv_timer_t *t)
{
    bo_fleet *f = t->data;
    struct bo_server *s = f->s;
    int64_t now = bo_unix_ms();
    if (atomic_load(&s->stopping) || !open_db(f, now))
        return;
    int64_t last;
    char app[256], err[512];
    if (bo_nodes_reload_last(f->db, &last, app, sizeof app, err, sizeof err) == 0) {
        if (!f->started) {
            f->done = last;            /* it loaded its apps as they are now */
            f->started = true;
        } else if (last > f->done) {
            f->done = last;
            bo_log(BO_LOG_INFO, NULL, "reload asked on another node: reloading %s", app[0] ? app : "the apps that changed");
            f->reload(s, app[0] ? app : NULL);
        }
    }
    if (!f->started)
        return;
    if (synced(s) && (s->catalog->version != f->recorded || f->done != f->recorded_done))
        record(f, now, true);
    else if (now >= f->next_beat)
        record(f, now, false);
    for (ask **p = &f->asks; *p;) {
        ask *a = *p;
        if (answer(f, a, now)) {
            *p = a->next;
            ask_free(a);
        } else {
            p = &a->next;
        }
    }
}

void bo_fleet_start(bo_fleet **out, struct bo_server *s, bo_fleet_reload_fn reload)
{
    *out = NULL;
    if (bo_db_dialect() != BO_POSTGRES)
        return;
    bo_fleet *f = bo_calloc(1, sizeof *f);
    f->s = s;
    f->reload = reload;
    memcpy(f->node, s->claim_id, BO_NODE_ID_LEN);     /* the node id opens the claim id */
    char host[256] = "";
    if (gethostname(host, sizeof host) < 0 || !host[0])
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(f->name, sizeof f->name, "%s:%d", host, s->port);
    uv_timer_init(&s->loop, &f->timer);
    f->timer.data = f;
    uv_timer_start(&f->timer, on_tick, BO_FLEET_TICK_MS, BO_FLEET_TICK_MS);
    *out = f;
}

bool bo_fleet_ask(bo_fleet *f, const char *app, bo_control_client *cl, int status)
{
    if (!f)
        return false;
    int64_t now = bo_unix_ms();
    char err[512];
    int64_t number = open_db(f, now) ? bo_nodes_reload_ask(f->db, f->node, app, now, err, sizeof err) : BO_EDB;
    if (number < 0) {
        bo_control_reply(cl, "err", "borough: the other nodes could not be asked to reload: %s",
                         f->db ? err : "the database is unreachable");
        bo_control_end(cl, 1);
        return true;
    }
    f->done = number;
    f->started = true;
    record(f, now, true);              /* its workers serve the outcome already */
    ask *a = bo_calloc(1, sizeof *a);
    a->client = cl;
    a->app = app ? bo_strdup(app) : NULL;
    a->number = number;
    a->deadline = now + BO_FLEET_WAIT_MS;
    a->status = status;
    if (answer(f, a, now)) {            /* no other node alive */
        ask_free(a);
        return true;
    }
    a->next = f->asks;
    f->asks = a;
    return true;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void bo_fleet_stop(bo_fleet *f)
{
    if (!f)
        return;
    while (f->asks) {
        ask *a = f->asks;
        f->asks = a->next;
        bo_control_reply(a->client, "err", "borough: the server is stopping");
        bo_control_end(a->client, 1);
        ask_free(a);
    }
    if (f->db) {
        bo_nodes_unregister(f->db, f->node);
        bo_db_close(f->db);
    }
    uv_timer_stop(&f->timer);
    uv_close((uv_handle_t *)&f->timer, on_closed);
}
