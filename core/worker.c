/*
 * worker.c - worker threads (see worker.h).
 *
 * Generations: a worker holds one per app in its table (apps), and a list
 * of retired ones that requests still run on. A request counts itself on
 * its generation (inflight) for as long as it runs, even across waits; a
 * retired generation is freed by the request that ends last on it
 * (bo_worker_gen_release), or at once when it is replaced while idle.
 */
#include "worker.h"
#include "conn.h"
#include "jobs.h"
#include "log.h"
#include "server.h"
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SWEEP_MS 200

static void free_apps(bo_worker_app *apps, unsigned n, bo_worker *w);

const char *bo_worker_date(bo_worker *w)
{
    time_t now = time(NULL);
    if ((uint64_t)now != w->date_second) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(w->date, sizeof w->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        w->date_second = (uint64_t)now;
    }
    return w->date;
}

/* ---- generations ---- */

/* Counts a generation this worker takes (+1) or frees (-1), for /metrics. */
static void count_gen(bo_worker *w, bo_gen *g, int delta)
{
    bo_counter_add(&bo_metrics_app_row(&w->metrics, g->info->name)->generations, (uint64_t)(int64_t)delta);
}

static void free_gen(bo_worker *w, bo_gen *g)
{
    count_gen(w, g, -1);
    bo_gen_free(g);
}

static void retire(bo_worker *w, bo_gen *g)
{
    bo_hub_retire(w->hub, g);          /* its event streams end: their clients reconnect */
    if (g->inflight == 0) {
        free_gen(w, g);
        return;
    }
    g->retired = true;
    w->retired = bo_realloc(w->retired, sizeof *w->retired * (w->nretired + 1));
    w->retired[w->nretired++] = g;
}

/* Replaces a generation whose state is spent (poisoned) with a fresh load. */
static void replace_gen(bo_worker *w, bo_gen *old)
{
    for (unsigned i = 0; i < w->napps; i++) {
        if (w->apps[i].gen != old)
            continue;
        char err[1024];
        bo_gen *fresh;
        if (bo_gen_load(&fresh, old->info, &w->server->paths, false, false, err, sizeof err) < 0) {
            bo_log(BO_LOG_ERROR, old->info->name, "cannot reload the app after it ran out of memory: %s", err);
            old->poisoned = false;
            return;
        }
        bo_log(BO_LOG_WARN, old->info->name, "its Lua state was near its memory cap; started a fresh one");
        count_gen(w, fresh, 1);
        w->apps[i].gen = fresh;
        retire(w, old);
        return;
    }
}

void bo_worker_gen_release(bo_worker *w, bo_gen *g)
{
    g->inflight--;
    if (g->retired) {
        if (g->inflight > 0)
            return;
        for (unsigned i = 0; i < w->nretired; i++) {
            if (w->retired[i] == g) {
                w->retired[i] = w->retired[--w->nretired];
                break;
            }
        }
        free_gen(w, g);
        return;
    }
    if (g->poisoned)
        replace_gen(w, g);
}

/* ---- taking a new catalog ---- */

struct bo_worker_build {
    uv_work_t work;
    bo_worker *w;
    bo_catalog *cat;            /* a reference */
    bool *need;                 /* per catalog app: build a generation */
    bo_gen **gens;              /* per catalog app: what was built */
    char **errors;              /* per catalog app: why it was not */
    unsigned nneed;
};

/* Which apps of cat this worker has no generation for yet. */
static bo_worker_build *plan_build(bo_worker *w, bo_catalog *cat)
{
    bo_worker_build *b = bo_calloc(1, sizeof *b);
    unsigned n = cat->napps ? cat->napps : 1;
    b->w = w;
    b->cat = cat;
    b->need = bo_calloc(n, sizeof *b->need);
    b->gens = bo_calloc(n, sizeof *b->gens);
    b->errors = bo_calloc(n, sizeof *b->errors);
    b->work.data = b;
    for (unsigned i = 0; i < cat->napps; i++) {
        bo_app_info *info = cat->apps[i];
        bool have = false;
        for (unsigned j = 0; j < w->napps && !have; j++)
            have = w->apps[j].info == info && w->apps[j].gen;
        b->need[i] = !have && !info->error;
        b->nneed += b->need[i];
    }
    return b;
}

/* Loads the generations planned; runs on a thread-pool thread (or the
   worker's own at start). Touches nothing of the worker's. */
static void build_gens(bo_worker_build *b)
{
    for (unsigned i = 0; i < b->cat->napps; i++) {
        if (!b->need[i])
            continue;
        char err[1024];
        if (bo_gen_load(&b->gens[i], b->cat->apps[i], &b->w->server->paths, false, false, err, sizeof err) < 0)
            b->errors[i] = bo_strdup(err);
    }
}

static void build_free(bo_worker_build *b)
{
    for (unsigned i = 0; i < b->cat->napps; i++) {
        bo_gen_free(b->gens[i]);
        free(b->errors[i]);
    }
    bo_catalog_unref(b->cat);
    free(b->need);
    free(b->gens);
    free(b->errors);
    free(b);
}

/* Swaps in the catalog of b at once: generations kept (same info), built,
   or (when this worker could not build the new version) the running one of
   the same folder; rebuilds the mounts, retires what it replaces and tells
   the main thread. The platform's own app answers under /_admin (whole
   paths) and, when no app holds the root, under /_account and at "/"
   itself (request.c). */
static void install(bo_worker *w, bo_worker_build *b)
{
    bo_server *s = w->server;
    bo_catalog *cat = b->cat;
    bool failed = false;
    bo_worker_app *apps = bo_calloc(cat->napps ? cat->napps : 1, sizeof *apps);
    bo_mounts mounts;
    bo_mounts_init(&mounts);
    bool has_root = false;
    int site = -1;              /* the platform's own app, if it loaded */
    for (unsigned i = 0; i < cat->napps; i++) {
        bo_app_info *info = cat->apps[i];
        for (unsigned j = 0; j < w->napps && !apps[i].gen; j++) {
            if (w->apps[j].info == info && w->apps[j].gen) {
                apps[i].gen = w->apps[j].gen;
                w->apps[j].gen = NULL;
            }
        }
        if (!apps[i].gen && b->gens[i]) {
            apps[i].gen = b->gens[i];
            b->gens[i] = NULL;
            count_gen(w, apps[i].gen, 1);
        }
        if (!apps[i].gen && b->errors[i]) {
            failed = true;
            for (unsigned j = 0; j < w->napps && !apps[i].gen; j++) {
                if (w->apps[j].gen && strcmp(w->apps[j].info->dir, info->dir) == 0) {
                    apps[i].gen = w->apps[j].gen;
                    w->apps[j].gen = NULL;
                    info = apps[i].gen->info;
                }
            }
            bo_log(BO_LOG_ERROR, info->name, "worker %d could not load the new version (%s)%s", w->id,
                   b->errors[i], apps[i].gen ? "; it keeps the running one" : "");
        }
        apps[i].info = bo_app_info_ref(info);
        apps[i].metrics = bo_metrics_app_row(&w->metrics, info->name);
        if (b->errors[i])
            bo_counter_add(&apps[i].metrics->reload_failures, 1);
        if (info->platform) {
            site = apps[i].gen ? (int)i : -1;       /* mounted below, once the root is known */
            continue;
        }
        if (info->host)
            bo_mounts_add(&mounts, info->host, NULL, (int)i);
        if (info->mount) {
            bo_mounts_add(&mounts, NULL, info->mount[0] ? info->mount : "/", (int)i);
            has_root |= info->mount[0] == '\0';
        }
    }
    if (site >= 0) {
        bo_mounts_add_whole(&mounts, BO_SITE_ADMIN, site);
        if (!has_root)
            bo_mounts_add_whole(&mounts, BO_SITE_ACCOUNT, site);
    }
    free_apps(w->apps, w->napps, w);
    bo_mounts_free(&w->mounts);
    w->apps = apps;
    w->napps = cat->napps;
    w->mounts = mounts;
    w->has_root = has_root;
    w->site = site;
    w->catalog_version = cat->version;
    if (failed)
        atomic_store(&w->failed_version, cat->version);
    atomic_store(&w->synced_version, cat->version);
    bo_server_worker_synced(s);
}

static void sync_apps(bo_worker *w);

static void on_build(uv_work_t *req)
{
    build_gens(req->data);
}

static void on_built(uv_work_t *req, int status)
{
    BO_UNUSED(status);
    bo_worker_build *b = req->data;
    bo_worker *w = b->w;
    w->building = NULL;
    if (!w->stopping)
        install(w, b);
    build_free(b);
    if (w->resync && !w->stopping) {
        w->resync = false;
        sync_apps(w);
    }
}

/* Takes the server's current catalog: generations it needs are built on the
   thread pool and swapped in when ready (a newer catalog that arrives
   meanwhile is taken after). */
static void sync_apps(bo_worker *w)
{
    if (w->building) {
        w->resync = true;
        return;
    }
    bo_catalog *cat = bo_server_catalog(w->server);
    if (cat->version == w->catalog_version) {
        bo_catalog_unref(cat);
        return;
    }
    bo_worker_build *b = plan_build(w, cat);
    if (b->nneed > 0 && uv_queue_work(&w->loop, &b->work, on_build, on_built) == 0) {
        w->building = b;
        return;
    }
    build_gens(b);
    install(w, b);
    build_free(b);
}

/* The same, done at once on this thread (before the worker listens). */
static void sync_now(bo_worker *w)
{
    bo_worker_build *b = plan_build(w, bo_server_catalog(w->server));
    build_gens(b);
    install(w, b);
    build_free(b);
}

static void free_apps(bo_worker_app *apps, unsigned n, bo_worker *w)
{
    for (unsigned i = 0; i < n; i++) {
        if (apps[i].gen)
            retire(w, apps[i].gen);
        bo_app_info_unref(apps[i].info);
    }
    free(apps);
}

/* ---- connections and stopping ---- */

void bo_worker_forget(bo_worker *w, bo_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
}

static void on_connection(uv_stream_t *listener, int status)
{
    bo_worker *w = listener->data;
    if (status < 0) {
        bo_log(BO_LOG_WARN, NULL, "accept: %s", uv_strerror(status));
        return;
    }
    bo_conn_accept(w, listener);
}

static void finish_stop(bo_worker *w)
{
    bo_jobs_close(w->jobs);
    bo_hub_close(w->hub);
    if (!uv_is_closing((uv_handle_t *)&w->sweep))
        uv_close((uv_handle_t *)&w->sweep, NULL);
    if (!uv_is_closing((uv_handle_t *)&w->flush))
        uv_close((uv_handle_t *)&w->flush, NULL);
    if (!uv_is_closing((uv_handle_t *)&w->wake))
        uv_close((uv_handle_t *)&w->wake, NULL);
}

static void on_sweep(uv_timer_t *t)
{
    bo_worker *w = t->data;
    uint64_t now = uv_now(&w->loop);
    for (bo_conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        bo_conn_sweep(c, now);
    }
    if (!w->stopping)
        return;
    if (now >= w->stop_deadline) {
        /* Time is up: end what still waits, close what is still open. */
        for (bo_conn *c = w->conns, *next; c; c = next) {
            next = c->next;
            bo_task_kill(&c->req.task, "the server is stopping");
        }
        bo_jobs_kill(w->jobs, "the server is stopping");
        for (bo_conn *c = w->conns, *next; c; c = next) {
            next = c->next;
            bo_conn_close(c);
        }
    } else {
        for (bo_conn *c = w->conns, *next; c; c = next) {
            next = c->next;
            bo_conn_drain(c);
        }
    }
    if (w->nconns == 0 && bo_jobs_running(w->jobs) == 0)
        finish_stop(w);
}

static void begin_stop(bo_worker *w)
{
    w->stopping = true;
    w->stop_deadline = uv_now(&w->loop) + w->cfg->drain_ms;
    uv_close((uv_handle_t *)&w->listener, NULL);
    if (w->has_redirect)
        uv_close((uv_handle_t *)&w->redirect, NULL);
    bo_jobs_stop(w->jobs);
    for (bo_conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        bo_conn_drain(c);
    }
    if (w->nconns == 0 && bo_jobs_running(w->jobs) == 0)
        finish_stop(w);
}

static void on_wake(uv_async_t *a)
{
    bo_worker *w = a->data;
    if (atomic_load(&w->server->stopping)) {
        if (!w->stopping)
            begin_stop(w);
        return;
    }
    sync_apps(w);
}

static void on_flush(uv_prepare_t *p)
{
    BO_UNUSED(p);
    bo_log_flush();
}

static void worker_main(void *arg)
{
    bo_worker *w = arg;
    bo_log_batch_begin();
    uv_prepare_start(&w->flush, on_flush);
    sync_now(w);
    bo_jobs_start(&w->jobs, w);
    int rc = uv_listen((uv_stream_t *)&w->listener, 511, on_connection);
    if (rc == 0 && w->has_redirect)
        rc = uv_listen((uv_stream_t *)&w->redirect, 511, on_connection);
    if (rc < 0)
        bo_log(BO_LOG_ERROR, NULL, "worker %d cannot listen: %s", w->id, uv_strerror(rc));
    uv_timer_start(&w->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    bo_server_worker_ready(w->server);
    if (atomic_load(&w->server->stopping))
        begin_stop(w);
    uv_run(&w->loop, UV_RUN_DEFAULT);

    free_apps(w->apps, w->napps, w);
    w->apps = NULL;
    w->napps = 0;
    for (unsigned i = 0; i < w->nretired; i++)
        free_gen(w, w->retired[i]);
    free(w->retired);
    w->retired = NULL;
    w->nretired = 0;
    bo_mounts_free(&w->mounts);
    bo_hub_free(w->hub);
    w->hub = NULL;
    if (w->platform_db)
        bo_db_close(w->platform_db);
    w->platform_db = NULL;
    /* the handles those closed (a PostgreSQL connection's socket watch)
       finish closing, so the loop closes in bo_worker_join */
    uv_run(&w->loop, UV_RUN_NOWAIT);
    bo_log_batch_end();
    bo_server_worker_done(w->server);
}

int bo_worker_init(bo_worker *w, bo_server *s, int id, int listen_fd, int redirect_fd)
{
    memset(w, 0, sizeof *w);
    w->id = id;
    w->server = s;
    w->cfg = &s->cfg;
    w->listen_fd = listen_fd;
    snprintf(w->id_prefix, sizeof w->id_prefix, "%s.%d-", s->run_id, id);
    int rc = uv_loop_init(&w->loop);
    if (rc < 0)
        return BO_EIO;
    w->read_buf = bo_malloc(BO_READ_BUF_SIZE);
    bo_mounts_init(&w->mounts);
    w->site = -1;
    bo_metrics_init(&w->metrics);
    w->metrics_none = bo_metrics_app_row(&w->metrics, NULL);
    atomic_init(&w->synced_version, 0);
    atomic_init(&w->failed_version, 0);
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->sweep);
    w->sweep.data = w;
    uv_prepare_init(&w->loop, &w->flush);
    w->hub = bo_hub_new(w);
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    rc = uv_tcp_open(&w->listener, listen_fd);
    if (rc == 0 && redirect_fd >= 0) {
        uv_tcp_init(&w->loop, &w->redirect);
        w->redirect.data = w;
        w->has_redirect = true;
        rc = uv_tcp_open(&w->redirect, redirect_fd);
    }
    if (rc < 0) {
        bo_log(BO_LOG_ERROR, NULL, "worker %d: %s", id, uv_strerror(rc));
        return BO_EIO;
    }
    return 0;
}

int bo_worker_start(bo_worker *w)
{
    if (uv_thread_create(&w->thread, worker_main, w) < 0)
        return BO_EIO;
    w->started = true;
    return 0;
}

void bo_worker_wake(bo_worker *w)
{
    uv_async_send(&w->wake);
}

void bo_worker_join(bo_worker *w)
{
    if (w->started)
        uv_thread_join(&w->thread);
    w->started = false;
    uv_loop_close(&w->loop);
    free(w->read_buf);
    w->read_buf = NULL;
}

void bo_worker_free(bo_worker *w)
{
    bo_metrics_free(&w->metrics);
}

bo_db *bo_worker_platform_db(bo_worker *w)
{
    if (w->platform_db)
        return w->platform_db;
    char err[512];
    int rc = bo_db_open_platform(&w->platform_db, w->cfg->data_dir, 0, err, sizeof err);
    if (rc < 0) {
        bo_log(BO_LOG_ERROR, NULL, "worker %d: %s/borough.db: %s", w->id, w->cfg->data_dir, err);
        w->platform_db = NULL;
    }
    return w->platform_db;
}
