/*
 * worker.h - a worker thread: its own uv loop and listening socket (the
 * kernel spreads connections across workers with SO_REUSEPORT), its own
 * generation of every app, its connections, and the periodic sweep that
 * enforces connection timeouts. Nothing Lua-visible is shared between
 * workers; the main thread talks to a worker only through its async handle
 * (to stop it, or to take a new app catalog).
 *
 * Taking a new catalog: the generations a worker needs (apps whose info is
 * new to it) are built on libuv's thread pool, so the worker keeps serving
 * meanwhile; when they are ready the worker swaps its whole app table at
 * once, retires the generations it replaced (each is freed when its last
 * request ends), and acknowledges the catalog version to the main thread.
 */
#ifndef BO_WORKER_H
#define BO_WORKER_H

#include "app.h"
#include "config.h"
#include "metrics.h"
#include "router.h"

#include <stdatomic.h>

#include <uv.h>

struct bo_server;
struct bo_conn;
struct bo_catalog;

typedef struct bo_worker_app {
    bo_app_info *info;      /* a reference */
    bo_gen *gen;            /* NULL when the app failed to load */
    bo_metrics_app *metrics;    /* its row in the worker's table */
} bo_worker_app;

typedef struct bo_worker_build bo_worker_build;

typedef struct bo_worker {
    int id;
    struct bo_server *server;
    const bo_config *cfg;       /* the server's configuration (config.h) */
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_tcp_t redirect;          /* the plain-HTTP listener that redirects to HTTPS */
    bool has_redirect;
    uv_async_t wake;
    uv_timer_t sweep;
    uv_prepare_t flush;         /* writes the batched access lines once per loop turn */
    uv_thread_t thread;
    int listen_fd;
    bool started;
    struct bo_conn *conns;
    unsigned nconns;
    char *read_buf;             /* shared by all connections of this worker */
    bo_worker_app *apps;
    unsigned napps;
    bo_mounts mounts;
    bool has_root;              /* an app mounts at "/" */
    int site;                   /* the platform's own app (its index), or -1 when it did not
                                   load here: it answers "/" too if no app holds the root */
    uint64_t catalog_version;
    atomic_uint_fast64_t synced_version;    /* catalog_version, for the main thread */
    atomic_uint_fast64_t failed_version;    /* the last catalog an app of failed to load here */
    bo_worker_build *building;  /* generations being built on the thread pool, or NULL */
    struct bo_jobs *jobs;       /* the background job runner (jobs.c) */
    struct bo_hub *hub;         /* its event streams and their hub (stream.c) */
    bo_db *platform_db;         /* its connection to data/borough.db (sessions), or NULL:
                                   bo_worker_platform_db opens it on first use
                                   until first used (session.c) */
    bool resync;                /* a newer catalog came while building */
    bo_gen **retired;           /* replaced generations still running requests */
    unsigned nretired;
    bo_metrics metrics;         /* this worker's counters (it is their only writer) */
    bo_metrics_app *metrics_none;   /* the row of requests no app answered */
    bool stopping;
    uint64_t stop_deadline;
    char date[48];              /* "Date: ...\r\n", refreshed each second */
    uint64_t date_second;
    uint64_t requests;
    char id_prefix[16];         /* request ids: "<run>.<worker>-<n>" */
} bo_worker;

#define BO_READ_BUF_SIZE (64 * 1024)

/* Prepares worker id with its listening socket listen_fd and, unless it is
   -1, its socket of the redirect listener (both taken over). */
int bo_worker_init(bo_worker *w, struct bo_server *s, int id, int listen_fd, int redirect_fd);
/* Starts the thread. */
int bo_worker_start(bo_worker *w);
/* Asks the worker to check the stop flag and catalog (any thread). */
void bo_worker_wake(bo_worker *w);
/* Waits for the thread to end and closes its loop. */
void bo_worker_join(bo_worker *w);
/* Frees what other threads may read until every worker has ended (its
   metrics table). */
void bo_worker_free(bo_worker *w);

/* The current "Date: ...\r\n" header line. */
const char *bo_worker_date(bo_worker *w);
/* A request on g has finished: frees g if it is retired and now idle. */
void bo_worker_gen_release(bo_worker *w, bo_gen *g);
/* Removes a closed connection from the worker's list. */
void bo_worker_forget(bo_worker *w, struct bo_conn *c);

/* The worker's connection to data/borough.db (sessions, the platform audit
   log), opened on first use; NULL (after logging why) if it cannot be
   opened. Owned by the worker. */
bo_db *bo_worker_platform_db(bo_worker *w);

#endif
