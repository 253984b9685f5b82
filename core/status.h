/*
 * status.h - what /healthz and /metrics say, in figures and in words: the
 * requests, errors and latency of each app, its outbox and jobs, the size
 * of each database, the TLS certificate's expiry. Gathered on any thread
 * from the server's catalog and the workers' counter tables (metrics.h),
 * for two front ends: `borough status` (the control socket's "status"
 * request, answered in the plain English of bo_status_text) and the admin
 * console's Health page (ladmin.c, which words it in the page's language).
 */
#ifndef BO_STATUS_H
#define BO_STATUS_H

#include "server.h"

typedef struct bo_status_app {
    bo_app_info *info;          /* borrowed from the status's catalog */
    const bo_metrics_summary *m;    /* its figures since the start, or NULL: none yet */
    int64_t db_bytes;           /* data/<app>/app.db and its WAL, or -1 if it has none */
    bool reloaded;              /* note holds its last reload since the start */
    bo_reload_note note;        /* (bo_server_reload_note); note.error points into error */
    char error[1024];
} bo_status_app;

typedef struct bo_status {
    int64_t now_ms, started_ms;
    int workers;
    unsigned open_conns;
    bo_catalog *catalog;        /* a reference */
    bo_status_app *apps;        /* one per app of the catalog, in its order */
    unsigned napps;
    bo_metrics_summary all;     /* every app's figures added up (no codes, no name) */
    bo_metrics_summary *sums;   /* bo_metrics_sum's, which apps[i].m point into */
    unsigned nsums;
    int64_t platform_db_bytes;  /* data/borough.db and its WAL */
    int64_t cert_expires;       /* Unix seconds; 0 when the server speaks plain HTTP */
} bo_status;

/* Fills *out (release with bo_status_free). Any thread. */
void bo_status_gather(bo_server *s, bo_status *out);
void bo_status_free(bo_status *st);

/* Appends the status as lines of plain English, each ending in '\n'. */
void bo_status_text(const bo_status *st, bo_buf *out);

#endif
