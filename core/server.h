/*
 * server.h - the running server: configuration, the catalog of apps, the
 * workers, and the main thread's loop (signals, the control socket, --watch,
 * reloads, graceful stop).
 *
 * The configuration is config.h's bo_config, copied into the server.
 *
 * The main thread loads every app folder once to judge it (and to migrate
 * its database), publishes the result as an immutable catalog, and starts
 * the workers, which each build their own generation of every good app
 * from the same source snapshot. On SIGTERM or SIGINT it stops accepting,
 * lets in-flight requests finish (up to drain_ms), and returns 0.
 *
 * Reload (`borough reload`, SIGHUP, --watch): the main thread judges the new
 * version of each app asked for (all: only those whose source changed), and
 * publishes a new catalog only with the versions that loaded cleanly; an
 * app whose new version fails keeps its running version. Each worker builds
 * generations for the apps whose info changed, swaps them in at once, and
 * acknowledges the catalog version; a reload is answered when every worker
 * has acknowledged it, so from then on every new request sees the new
 * version. The previous good version of each app stays in the catalog for
 * `--rollback`.
 */
#ifndef BO_SERVER_H
#define BO_SERVER_H

#include "app.h"
#include "config.h"
#include "control.h"
#include "https.h"
#include "metrics.h"
#include "walkeeper.h"
#include "watch.h"
#include "session.h"
#include "worker.h"

#include <pthread.h>
#include <stdatomic.h>

struct bo_server;

/* The apps the server serves now: immutable, reference counted. apps[i]
   is the version serving (or an info carrying the error that keeps the app
   unavailable); previous[i] the good version that served before it, kept
   for rollback, or NULL. Sorted by folder name. */
typedef struct bo_catalog {
    atomic_int refs;
    uint64_t version;
    bo_app_info **apps;
    bo_app_info **previous;
    unsigned napps;
} bo_catalog;

void bo_catalog_unref(bo_catalog *c);

typedef struct bo_reload_wait bo_reload_wait;

/* The outcome of the last reload or rollback asked for each app (not the
   first load at start, which the catalog's info tells): for the admin
   console. */
typedef struct bo_reload_note {
    char *app;
    int64_t at_ms;              /* when it was judged (Unix ms) */
    bool ok;                    /* a new version (or the earlier one) serves */
    bool rollback;
    uint64_t generation;        /* the generation serving after it (0: none) */
    char *error;                /* why it was refused ("apps/x/app.lua:12: ..."), or NULL */
} bo_reload_note;

typedef struct bo_server {
    bo_config cfg;
    bo_paths paths;
    pthread_mutex_t lock;       /* guards catalog, cert and notes */
    bo_catalog *catalog;
    bo_worker *workers;
    int nworkers;
    atomic_uint conns;          /* open connections, all workers */
    atomic_bool stopping;
    int port;                   /* the port actually bound */
    int redirect_port;          /* the redirect listener's, or 0 */
    char *public_url;           /* paths.public_url: owned */
    bo_https_cert *cert;        /* HTTPS: the certificate new connections get (guarded by lock) */
    char run_id[8];             /* random, starts every request id */
    char claim_id[16];          /* node id + run id: claims work in the database (nodes.h) */
    uv_loop_t loop;             /* the main thread's */
    uv_async_t worker_event;    /* a worker became ready or finished */
    uv_signal_t signals[3];
    bo_walkeeper keeper;        /* WAL checkpoints, on the main loop */
    struct bo_notify *notify;   /* the one Notify sender, on the main loop (notify.c) */
    struct bo_fleet *fleet;     /* PostgreSQL: the other nodes (fleet.h), or NULL */
    bo_control control;         /* `borough reload` talks here */
    bo_watch watch;             /* --watch */
    bo_metrics metrics;         /* the main thread's: reloads */
    bo_reload_wait *waits;      /* reloads published, not yet taken by every worker */
    bo_reload_note *notes;      /* by app, in the order first noted (guarded by lock) */
    unsigned nnotes;
    int64_t started_ms;         /* when the server started (Unix ms) */
    atomic_int ready;
    atomic_int done;
    bool announced;
    bool closed;                /* the main loop's handles are closing */
} bo_server;

/* Called by a worker thread once it listens, once it has taken a new
   catalog (its synced_version), and once its loop has ended. */
void bo_server_worker_ready(bo_server *s);
void bo_server_worker_synced(bo_server *s);
void bo_server_worker_done(bo_server *s);

/* Stops the server gracefully, as SIGTERM does (any thread). */
void bo_server_stop(bo_server *s);

/* Appends the Prometheus text of /metrics (any worker thread). */
void bo_server_metrics(bo_server *s, bo_buf *out);

/* Returns a new reference to the certificate new HTTPS connections get
   (any worker thread; NULL when the server speaks plain HTTP). */
bo_https_cert *bo_server_cert(bo_server *s);

/* Returns a new reference to the current catalog. */
bo_catalog *bo_server_catalog(bo_server *s);

/* The last reload of app (see bo_reload_note), copied into *out, its
   error (if any) into error (cap bytes, cut short if need be; out->error
   points there) and out->app set to NULL; false if none was asked for
   since the start. Any thread. */
bool bo_server_reload_note(bo_server *s, const char *app, bo_reload_note *out, char *error, size_t cap);

/* Loads the apps, binds, runs until stopped. Returns the exit status. */
int bo_server_run(const bo_config *cfg);

/* Loads every app of the apps folder as the server would (or one app when
   path is an app folder) and reports each failure on stderr as one
   "file:line: message" line. Returns the number of broken apps, or -1 when
   path is neither. */
int bo_server_check(const char *path, const bo_paths *paths);

#endif
