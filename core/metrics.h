/*
 * metrics.h - counters for GET /metrics (Prometheus text format), kept
 * without locks on the request path.
 *
 * Every thread that counts has its own table (each worker one, the main
 * thread one for reloads): a table has exactly one writer, so a counter is
 * bumped with a relaxed load and a relaxed store (plain moves on x86, no
 * locked instruction, no shared cache line). A scrape, on whichever worker
 * answers /metrics, reads every table with relaxed loads and sums them; it
 * may see one table a request ahead of another, which Prometheus tolerates.
 *
 * Rows are found by app name, added by the writer and published with a
 * release store of the row count, so a reader never sees a half-made row.
 * Rows are never removed before the table is freed (counters of an app that
 * was unmounted stay, as Prometheus counters must): a table holds at most
 * BO_METRICS_APPS names (the last row, "(other)", takes the rest) and each
 * row at most BO_METRICS_CODES status codes (the last, "other", the rest).
 */
#ifndef BO_METRICS_H
#define BO_METRICS_H

#include "bo.h"
#include "buf.h"
#include "netaddr.h"

#include <stdatomic.h>

#define BO_METRICS_APPS 128
#define BO_METRICS_CODES 16
#define BO_METRICS_BUCKETS 14       /* finite upper bounds; +Inf comes after */

typedef _Atomic uint64_t bo_counter;

/* Adds n to a counter of a table this thread writes. */
static inline void bo_counter_add(bo_counter *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static inline uint64_t bo_counter_get(bo_counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Sets a gauge of a table this thread writes. */
static inline void bo_gauge_set(bo_counter *c, uint64_t v)
{
    atomic_store_explicit(c, v, memory_order_relaxed);
}

/* Requests of one app answered with one status code: a latency histogram. */
typedef struct bo_metrics_code {
    int code;                               /* -1: every code past the table's room */
    bo_counter buckets[BO_METRICS_BUCKETS + 1]; /* per bucket (not cumulative); last: +Inf */
    bo_counter sum_us;                      /* total latency, microseconds */
} bo_metrics_code;

typedef struct bo_metrics_app {
    char *name;
    bo_counter lua_errors;                  /* handlers that raised or broke a limit */
    bo_counter reloads;                     /* new generations published (main thread) */
    bo_counter reload_failures;             /* versions refused (main thread) or not loaded by a worker */
    bo_counter generations;                 /* a gauge: generations a worker holds (serving or
                                               retired, finishing requests) */
    bo_counter jobs_done;                   /* job runs that succeeded (workers) */
    bo_counter jobs_retried;                /* runs that failed and will run again */
    bo_counter jobs_failed;                 /* jobs that failed for good */
    bo_counter notify_sent;                 /* messages Notify accepted (main thread) */
    bo_counter notify_retried;              /* sends to try again (429, 5xx, time-outs) */
    bo_counter notify_failed;               /* messages Notify refused for good */
    bo_counter outbox_depth;                /* gauges, set by the main thread: messages not yet */
    bo_counter outbox_failed;               /*   accepted; messages refused for good; */
    bo_counter jobs_waiting;                /*   jobs queued or running; */
    bo_counter jobs_dead;                   /*   jobs failed for good */
    bo_counter streams;                     /* a gauge: event streams open (workers, stream.c) */
    bo_counter streams_dropped;             /* streams dropped: the client read too slowly */
    bo_counter streams_refused;             /* streams refused: a cap was reached */
    atomic_uint ncodes;
    bo_metrics_code codes[BO_METRICS_CODES];
} bo_metrics_app;

typedef struct bo_metrics {
    atomic_uint napps;
    bo_metrics_app *apps[BO_METRICS_APPS];
} bo_metrics;

/* The upper bounds of the latency buckets, in seconds. */
extern const double bo_metrics_bounds[BO_METRICS_BUCKETS];

void bo_metrics_init(bo_metrics *m);
/* Frees the rows; no reader may be left. */
void bo_metrics_free(bo_metrics *m);

/* Returns the row of app (NULL: requests no app answered, named "-"),
   adding it if needed. Only the table's writer may call it. The row lives
   as long as the table. */
bo_metrics_app *bo_metrics_app_row(bo_metrics *m, const char *app);

/* Counts one request answered with status after ns nanoseconds. Only the
   table's writer may call it. */
void bo_metrics_request(bo_metrics_app *a, int status, uint64_t ns);

/* What a scrape shows besides the tables: one entry per app in the catalog. */
typedef struct bo_metrics_app_state {
    const char *name;
    uint64_t generation;
    bool up;                                /* a good version serves */
} bo_metrics_app_state;

/* The tables summed by app: what a scrape shows, for the status summary
   (server.c) to put in words. */
typedef struct bo_metrics_code_sum {
    int code;                               /* -1: "other" */
    uint64_t buckets[BO_METRICS_BUCKETS + 1];
    uint64_t sum_us;
} bo_metrics_code_sum;

typedef struct bo_metrics_summary {
    const char *name;                       /* the app ("-": requests no app answered) */
    uint64_t lua_errors, reloads, reload_failures, generations;
    uint64_t jobs_done, jobs_retried, jobs_failed, notify_sent, notify_retried, notify_failed;
    uint64_t outbox_depth, outbox_failed, jobs_waiting, jobs_dead;
    uint64_t streams, streams_dropped, streams_refused;
    bo_metrics_code_sum *codes;             /* by status code */
    unsigned ncodes;
    /* Filled by bo_metrics_sum: every request, those answered 4xx and 5xx,
       and the latency of all of them per bucket. */
    uint64_t requests, client_errors, server_errors;
    uint64_t buckets[BO_METRICS_BUCKETS + 1];
} bo_metrics_summary;

/* Sums the tables by app: returns a new array of *n summaries in name
   order (free with bo_metrics_summary_free). */
bo_metrics_summary *bo_metrics_sum(bo_metrics *const *tables, unsigned ntables, unsigned *n);
void bo_metrics_summary_free(bo_metrics_summary *apps, unsigned n);
/* The latency under which the fraction q of a's requests were answered:
   the upper bound of the bucket that holds it, in seconds (INFINITY past
   the last bound; 0 when there were no requests). */
double bo_metrics_quantile(const bo_metrics_summary *a, double q);

/* Appends the Prometheus text exposition of the tables (summed), the app
   states and the open connection count to out. */
void bo_metrics_render(bo_buf *out, bo_metrics *const *tables, unsigned ntables,
                       const bo_metrics_app_state *apps, unsigned napps, unsigned open_conns);

/* Whether ip may read /metrics: inside one of the ranges (--metrics-from),
   or loopback (127.0.0.0/8, ::1) when the list is empty. */
bool bo_metrics_allowed(const bo_cidr *list, unsigned n, const char *ip);

#endif
