/*
 * server.h - the running server: configuration, the catalog of apps, the
 * workers, and the main thread's loop (signals, graceful stop).
 *
 * The main thread loads every app folder once to judge it (and, later, to
 * migrate it), publishes the result as an immutable catalog, and starts the
 * workers, which each load their own generation of every good app. On
 * SIGTERM or SIGINT it stops accepting, lets in-flight requests finish (up
 * to drain_ms), and returns 0.
 */
#ifndef BO_SERVER_H
#define BO_SERVER_H

#include "app.h"
#include "walkeeper.h"
#include "worker.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct bo_config {
    const char *apps_dir;
    const char *data_dir;
    const char *lib_dir;
    const char *host;           /* listen address */
    int port;                   /* 0: any free port (logged) */
    int workers;
    unsigned max_conns;
    uint64_t header_timeout_ms;
    uint64_t body_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t send_timeout_ms;
    uint64_t drain_ms;
    bool access_log;
} bo_config;

/* Fills the defaults of DESIGN.md (apps, data, 127.0.0.1:8080, one worker
   per core). */
void bo_config_defaults(bo_config *cfg);

/* The apps the server serves now: immutable, reference counted. */
typedef struct bo_catalog {
    atomic_int refs;
    uint64_t version;
    bo_app_info **apps;
    unsigned napps;
} bo_catalog;

void bo_catalog_unref(bo_catalog *c);

typedef struct bo_server {
    bo_config cfg;
    bo_paths paths;
    pthread_mutex_t lock;       /* guards catalog */
    bo_catalog *catalog;
    bo_worker *workers;
    int nworkers;
    atomic_uint conns;          /* open connections, all workers */
    atomic_bool stopping;
    int port;                   /* the port actually bound */
    char run_id[8];             /* random, starts every request id */
    uv_loop_t loop;             /* the main thread's */
    uv_async_t worker_event;    /* a worker became ready or finished */
    uv_signal_t signals[3];
    bo_walkeeper keeper;        /* WAL checkpoints, on the main loop */
    atomic_int ready;
    atomic_int done;
    bool announced;
} bo_server;

/* Called by a worker thread once it listens, and once its loop has ended. */
void bo_server_worker_ready(bo_server *s);
void bo_server_worker_done(bo_server *s);

/* Returns a new reference to the current catalog. */
bo_catalog *bo_server_catalog(bo_server *s);

/* Loads the apps, binds, runs until stopped. Returns the exit status. */
int bo_server_run(const bo_config *cfg);

/* Loads every app of the apps folder as the server would (or one app when
   path is an app folder) and reports each failure on stderr as one
   "file:line: message" line. Returns the number of broken apps, or -1 when
   path is neither. */
int bo_server_check(const char *path, const bo_paths *paths);

#endif
