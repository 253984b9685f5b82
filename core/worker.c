/*
 * worker.c - worker threads (see worker.h).
 */
#include "worker.h"
#include "conn.h"
#include "log.h"
#include "server.h"

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

static void retire(bo_worker *w, bo_gen *g)
{
    if (g->inflight == 0) {
        bo_gen_free(g);
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
        bo_gen_free(g);
        return;
    }
    if (g->poisoned)
        replace_gen(w, g);
}

/* Takes the server's current catalog: loads a generation of every good app,
   rebuilds the mounts, retires what it replaces. */
static void sync_apps(bo_worker *w)
{
    bo_server *s = w->server;
    bo_catalog *cat = bo_server_catalog(s);
    if (cat->version == w->catalog_version) {
        bo_catalog_unref(cat);
        return;
    }
    bo_worker_app *apps = bo_calloc(cat->napps ? cat->napps : 1, sizeof *apps);
    bo_mounts mounts;
    bo_mounts_init(&mounts);
    bool has_root = false;
    for (unsigned i = 0; i < cat->napps; i++) {
        bo_app_info *info = cat->apps[i];
        apps[i].info = bo_app_info_ref(info);
        /* Keep the generation we have if the app did not change. */
        for (unsigned j = 0; j < w->napps; j++) {
            if (w->apps[j].info == info && w->apps[j].gen) {
                apps[i].gen = w->apps[j].gen;
                w->apps[j].gen = NULL;
            }
        }
        if (!apps[i].gen && !info->error) {
            char err[1024];
            if (bo_gen_load(&apps[i].gen, info, &s->paths, false, false, err, sizeof err) < 0)
                bo_log(BO_LOG_ERROR, info->name, "worker %d could not load it: %s", w->id, err);
        }
        if (info->host)
            bo_mounts_add(&mounts, info->host, NULL, (int)i);
        if (info->mount) {
            bo_mounts_add(&mounts, NULL, info->mount[0] ? info->mount : "/", (int)i);
            has_root |= info->mount[0] == '\0';
        }
    }
    free_apps(w->apps, w->napps, w);
    bo_mounts_free(&w->mounts);
    w->apps = apps;
    w->napps = cat->napps;
    w->mounts = mounts;
    w->has_root = has_root;
    w->catalog_version = cat->version;
    bo_catalog_unref(cat);
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
    if (!uv_is_closing((uv_handle_t *)&w->sweep))
        uv_close((uv_handle_t *)&w->sweep, NULL);
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
            bo_request_kill(&c->req, "the server is stopping");
        }
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
    if (w->nconns == 0)
        finish_stop(w);
}

static void begin_stop(bo_worker *w)
{
    w->stopping = true;
    w->stop_deadline = uv_now(&w->loop) + w->server->cfg.drain_ms;
    uv_close((uv_handle_t *)&w->listener, NULL);
    for (bo_conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        bo_conn_drain(c);
    }
    if (w->nconns == 0)
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

static void worker_main(void *arg)
{
    bo_worker *w = arg;
    sync_apps(w);
    int rc = uv_listen((uv_stream_t *)&w->listener, 511, on_connection);
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
        bo_gen_free(w->retired[i]);
    free(w->retired);
    w->retired = NULL;
    w->nretired = 0;
    bo_mounts_free(&w->mounts);
    bo_server_worker_done(w->server);
}

int bo_worker_init(bo_worker *w, bo_server *s, int id, int listen_fd)
{
    memset(w, 0, sizeof *w);
    w->id = id;
    w->server = s;
    w->listen_fd = listen_fd;
    snprintf(w->id_prefix, sizeof w->id_prefix, "%s.%d-", s->run_id, id);
    int rc = uv_loop_init(&w->loop);
    if (rc < 0)
        return BO_EIO;
    w->read_buf = bo_malloc(BO_READ_BUF_SIZE);
    bo_mounts_init(&w->mounts);
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->sweep);
    w->sweep.data = w;
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    rc = uv_tcp_open(&w->listener, listen_fd);
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
