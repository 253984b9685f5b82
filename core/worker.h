/*
 * worker.h - a worker thread: its own uv loop and listening socket (the
 * kernel spreads connections across workers with SO_REUSEPORT), its own
 * generation of every app, its connections, and the periodic sweep that
 * enforces connection timeouts. Nothing Lua-visible is shared between
 * workers; the main thread talks to a worker only through its async handle
 * (to stop it, or to take a new app catalog).
 */
#ifndef BO_WORKER_H
#define BO_WORKER_H

#include "app.h"
#include "router.h"

#include <uv.h>

struct bo_server;
struct bo_conn;
struct bo_catalog;

typedef struct bo_worker_app {
    bo_app_info *info;      /* a reference */
    bo_gen *gen;            /* NULL when the app failed to load */
} bo_worker_app;

typedef struct bo_worker {
    int id;
    struct bo_server *server;
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t wake;
    uv_timer_t sweep;
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
    uint64_t catalog_version;
    bo_gen **retired;           /* replaced generations still running requests */
    unsigned nretired;
    bool stopping;
    uint64_t stop_deadline;
    char date[48];              /* "Date: ...\r\n", refreshed each second */
    uint64_t date_second;
    uint64_t requests;
    char id_prefix[16];         /* request ids: "<run>.<worker>-<n>" */
} bo_worker;

#define BO_READ_BUF_SIZE (64 * 1024)

/* Prepares worker id; binds its listening socket (listen_fd is taken over,
   or a new one is bound to the same address when it is -1). */
int bo_worker_init(bo_worker *w, struct bo_server *s, int id, int listen_fd);
/* Starts the thread. */
int bo_worker_start(bo_worker *w);
/* Asks the worker to check the stop flag and catalog (any thread). */
void bo_worker_wake(bo_worker *w);
void bo_worker_join(bo_worker *w);

/* The current "Date: ...\r\n" header line. */
const char *bo_worker_date(bo_worker *w);
/* A request on g has finished: frees g if it is retired and now idle. */
void bo_worker_gen_release(bo_worker *w, bo_gen *g);
/* Removes a closed connection from the worker's list. */
void bo_worker_forget(bo_worker *w, struct bo_conn *c);

#endif
