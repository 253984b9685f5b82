/*
 * metrics.c - per-thread counter tables and their Prometheus rendering (see
 * metrics.h).
 */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

const double bo_metrics_bounds[BO_METRICS_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

/* The bounds in nanoseconds, for the request path. */
static const uint64_t bounds_ns[BO_METRICS_BUCKETS] = {
    500000ULL, 1000000ULL, 2500000ULL, 5000000ULL, 10000000ULL, 25000000ULL, 50000000ULL,
    100000000ULL, 250000000ULL, 500000000ULL, 1000000000ULL, 2500000000ULL, 5000000000ULL,
    10000000000ULL,
};

void bo_metrics_init(bo_metrics *m)
{
    memset(m, 0, sizeof *m);
    atomic_init(&m->napps, 0);
}

void bo_metrics_free(bo_metrics *m)
{
    unsigned n = atomic_load(&m->napps);
    for (unsigned i = 0; i < n; i++) {
        free(m->apps[i]->name);
        free(m->apps[i]);
        m->apps[i] = NULL;
    }
    atomic_store(&m->napps, 0);
}

bo_metrics_app *bo_metrics_app_row(bo_metrics *m, const char *app)
{
    if (!app)
        app = "-";
    unsigned n = atomic_load_explicit(&m->napps, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++)
        if (strcmp(m->apps[i]->name, app) == 0)
            return m->apps[i];
    if (n == BO_METRICS_APPS)
        return m->apps[n - 1];
    bo_metrics_app *a = bo_calloc(1, sizeof *a);
    a->name = bo_strdup(n == BO_METRICS_APPS - 1 ? "(other)" : app);
    m->apps[n] = a;
    atomic_store_explicit(&m->napps, n + 1, memory_order_release);
    return a;
}

void bo_metrics_request(bo_metrics_app *a, int status, uint64_t ns)
{
    unsigned n = atomic_load_explicit(&a->ncodes, memory_order_relaxed);
    bo_metrics_code *c = NULL;
    for (unsigned i = 0; i < n; i++) {
        if (a->codes[i].code == status || a->codes[i].code == -1) {
            c = &a->codes[i];
            break;
        }
    }
    if (!c) {
        c = &a->codes[n];
        c->code = n == BO_METRICS_CODES - 1 ? -1 : status;
        atomic_store_explicit(&a->ncodes, n + 1, memory_order_release);
    }
    unsigned b = 0;
    while (b < BO_METRICS_BUCKETS && ns > bounds_ns[b])
        b++;
    bo_counter_add(&c->buckets[b], 1);
    bo_counter_add(&c->sum_us, ns / 1000);
}

/* ---- rendering ---- */

static int compare_sum_apps(const void *a, const void *b)
{
    return strcmp(((const bo_metrics_summary *)a)->name, ((const bo_metrics_summary *)b)->name);
}

static int compare_codes(const void *a, const void *b)
{
    int x = ((const bo_metrics_code_sum *)a)->code, y = ((const bo_metrics_code_sum *)b)->code;
    if ((x < 0) != (y < 0))
        return x < 0 ? 1 : -1;          /* "other" (-1) last */
    return (x > y) - (x < y);
}

static bo_metrics_summary *find_sum(bo_metrics_summary **apps, unsigned *n, const char *name)
{
    for (unsigned i = 0; i < *n; i++)
        if (strcmp((*apps)[i].name, name) == 0)
            return &(*apps)[i];
    *apps = bo_realloc(*apps, sizeof **apps * (*n + 1));
    bo_metrics_summary *s = &(*apps)[(*n)++];
    memset(s, 0, sizeof *s);
    s->name = name;
    return s;
}

/* Appends a label value with Prometheus escaping (\\, \", \n). */
static void put_label(bo_buf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            bo_buf_putc(out, '\\');
        if (*v == '\n') {
            bo_buf_puts(out, "\\n");
            continue;
        }
        bo_buf_putc(out, *v);
    }
}

static void put_app(bo_buf *out, const char *metric, const char *app)
{
    bo_buf_puts(out, metric);
    bo_buf_puts(out, "{app=\"");
    put_label(out, app);
    bo_buf_putc(out, '"');
}

static void put_code(bo_buf *out, int code)
{
    if (code < 0)
        bo_buf_puts(out, ",status=\"other\"");
    else
        bo_buf_printf(out, ",status=\"%d\"", code);
}

static void put_help(bo_buf *out, const char *name, const char *type, const char *help)
{
    bo_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Adds the rows of the tables into *pa (by name). */
static void sum_tables(bo_metrics_summary **pa, unsigned *pn, bo_metrics *const *tables, unsigned ntables)
{
    bo_metrics_summary *apps = *pa;
    unsigned napps = *pn;
    for (unsigned t = 0; t < ntables; t++) {
        bo_metrics *m = tables[t];
        unsigned n = atomic_load_explicit(&m->napps, memory_order_acquire);
        for (unsigned i = 0; i < n; i++) {
            bo_metrics_app *a = m->apps[i];
            bo_metrics_summary *s = find_sum(&apps, &napps, a->name);
            s->lua_errors += bo_counter_get(&a->lua_errors);
            s->reloads += bo_counter_get(&a->reloads);
            s->reload_failures += bo_counter_get(&a->reload_failures);
            s->generations += bo_counter_get(&a->generations);
            s->jobs_done += bo_counter_get(&a->jobs_done);
            s->jobs_retried += bo_counter_get(&a->jobs_retried);
            s->jobs_failed += bo_counter_get(&a->jobs_failed);
            s->notify_sent += bo_counter_get(&a->notify_sent);
            s->notify_retried += bo_counter_get(&a->notify_retried);
            s->notify_failed += bo_counter_get(&a->notify_failed);
            s->outbox_depth += bo_counter_get(&a->outbox_depth);
            s->outbox_failed += bo_counter_get(&a->outbox_failed);
            s->jobs_waiting += bo_counter_get(&a->jobs_waiting);
            s->jobs_dead += bo_counter_get(&a->jobs_dead);
            s->streams += bo_counter_get(&a->streams);
            s->streams_dropped += bo_counter_get(&a->streams_dropped);
            s->streams_refused += bo_counter_get(&a->streams_refused);
            unsigned nc = atomic_load_explicit(&a->ncodes, memory_order_acquire);
            for (unsigned j = 0; j < nc; j++) {
                bo_metrics_code *c = &a->codes[j];
                bo_metrics_code_sum *sc = NULL;
                for (unsigned k = 0; k < s->ncodes && !sc; k++)
                    if (s->codes[k].code == c->code)
                        sc = &s->codes[k];
                if (!sc) {
                    s->codes = bo_realloc(s->codes, sizeof *s->codes * (s->ncodes + 1));
                    sc = &s->codes[s->ncodes++];
                    memset(sc, 0, sizeof *sc);
                    sc->code = c->code;
                }
                for (unsigned b = 0; b <= BO_METRICS_BUCKETS; b++)
                    sc->buckets[b] += bo_counter_get(&c->buckets[b]);
                sc->sum_us += bo_counter_get(&c->sum_us);
            }
        }
    }
    *pa = apps;
    *pn = napps;
}

static void sort_sums(bo_metrics_summary *apps, unsigned napps)
{
    if (napps > 1)
        qsort(apps, napps, sizeof *apps, compare_sum_apps);
    for (unsigned i = 0; i < napps; i++)
        if (apps[i].ncodes > 1)
            qsort(apps[i].codes, apps[i].ncodes, sizeof *apps[i].codes, compare_codes);
}

bo_metrics_summary *bo_metrics_sum(bo_metrics *const *tables, unsigned ntables, unsigned *n)
{
    bo_metrics_summary *apps = NULL;
    *n = 0;
    sum_tables(&apps, n, tables, ntables);
    sort_sums(apps, *n);
    for (unsigned i = 0; i < *n; i++) {
        bo_metrics_summary *a = &apps[i];
        a->name = bo_strdup(a->name);     /* the rows' names live as long as their tables */
        for (unsigned j = 0; j < a->ncodes; j++) {
            uint64_t total = 0;
            for (unsigned b = 0; b <= BO_METRICS_BUCKETS; b++) {
                total += a->codes[j].buckets[b];
                a->buckets[b] += a->codes[j].buckets[b];
            }
            a->requests += total;
            int code = a->codes[j].code;
            if (code >= 500 || code < 0)
                a->server_errors += total;
            else if (code >= 400)
                a->client_errors += total;
        }
    }
    return apps;
}

void bo_metrics_summary_free(bo_metrics_summary *apps, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        free((char *)apps[i].name);
        free(apps[i].codes);
    }
    free(apps);
}

double bo_metrics_quantile(const bo_metrics_summary *a, double q)
{
    if (a->requests == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)a->requests), cum = 0;
    for (unsigned b = 0; b < BO_METRICS_BUCKETS; b++) {
        cum += a->buckets[b];
        if (cum >= want)
            return bo_metrics_bounds[b];
    }
    return INFINITY;
}

void bo_metrics_render(bo_buf *out, bo_metrics *const *tables, unsigned ntables,
                       const bo_metrics_app_state *states, unsigned nstates, unsigned open_conns)
{
    bo_metrics_summary *apps = NULL;
    unsigned napps = 0;
    sum_tables(&apps, &napps, tables, ntables);
    for (unsigned i = 0; i < nstates; i++)
        find_sum(&apps, &napps, states[i].name);
    sort_sums(apps, napps);

    put_help(out, "borough_requests_total", "counter", "Requests answered, by app and status code.");
    for (unsigned i = 0; i < napps; i++) {
        for (unsigned j = 0; j < apps[i].ncodes; j++) {
            bo_metrics_code_sum *c = &apps[i].codes[j];
            uint64_t total = 0;
            for (unsigned b = 0; b <= BO_METRICS_BUCKETS; b++)
                total += c->buckets[b];
            put_app(out, "borough_requests_total", apps[i].name);
            put_code(out, c->code);
            bo_buf_printf(out, "} %llu\n", (unsigned long long)total);
        }
    }
    put_help(out, "borough_request_duration_seconds", "histogram",
             "Time from a request's head to its response, by app and status code.");
    for (unsigned i = 0; i < napps; i++) {
        for (unsigned j = 0; j < apps[i].ncodes; j++) {
            bo_metrics_code_sum *c = &apps[i].codes[j];
            uint64_t cum = 0;
            for (unsigned b = 0; b <= BO_METRICS_BUCKETS; b++) {
                cum += c->buckets[b];
                put_app(out, "borough_request_duration_seconds_bucket", apps[i].name);
                put_code(out, c->code);
                if (b < BO_METRICS_BUCKETS)
                    bo_buf_printf(out, ",le=\"%g\"} %llu\n", bo_metrics_bounds[b], (unsigned long long)cum);
                else
                    bo_buf_printf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
            }
            put_app(out, "borough_request_duration_seconds_sum", apps[i].name);
            put_code(out, c->code);
            bo_buf_printf(out, "} %.6f\n", (double)c->sum_us / 1e6);
            put_app(out, "borough_request_duration_seconds_count", apps[i].name);
            put_code(out, c->code);
            bo_buf_printf(out, "} %llu\n", (unsigned long long)cum);
        }
    }
    static const struct { const char *name, *help; size_t off; } counters[] = {
        { "borough_lua_errors_total", "Handlers that raised an error or broke a limit, by app.",
          offsetof(bo_metrics_summary, lua_errors) },
        { "borough_reloads_total", "New versions put into service by a reload or a rollback, by app.",
          offsetof(bo_metrics_summary, reloads) },
        { "borough_reload_failures_total",
          "Versions a reload refused (the running one kept serving), by app.",
          offsetof(bo_metrics_summary, reload_failures) },
    };
    for (size_t k = 0; k < BO_COUNT(counters); k++) {
        put_help(out, counters[k].name, "counter", counters[k].help);
        for (unsigned i = 0; i < napps; i++) {
            if (strcmp(apps[i].name, "-") == 0)
                continue;
            put_app(out, counters[k].name, apps[i].name);
            bo_buf_printf(out, "} %llu\n",
                          (unsigned long long)*(uint64_t *)((char *)&apps[i] + counters[k].off));
        }
    }
    put_help(out, "borough_app_up", "gauge", "1 while a good version of the app serves, else 0.");
    for (unsigned i = 0; i < nstates; i++) {
        put_app(out, "borough_app_up", states[i].name);
        bo_buf_printf(out, "} %d\n", states[i].up ? 1 : 0);
    }
    put_help(out, "borough_app_generation", "gauge", "The generation of the app that serves.");
    for (unsigned i = 0; i < nstates; i++) {
        put_app(out, "borough_app_generation", states[i].name);
        bo_buf_printf(out, "} %llu\n", (unsigned long long)states[i].generation);
    }
    put_help(out, "borough_generations_loaded", "gauge",
             "Generations of the app the workers hold: one each serving, plus replaced ones "
             "still finishing requests.");
    for (unsigned i = 0; i < napps; i++) {
        if (strcmp(apps[i].name, "-") == 0)
            continue;
        put_app(out, "borough_generations_loaded", apps[i].name);
        bo_buf_printf(out, "} %llu\n", (unsigned long long)apps[i].generations);
    }
    put_help(out, "borough_event_streams", "gauge", "Event streams (live updates) open now, by app.");
    for (unsigned i = 0; i < napps; i++) {
        if (strcmp(apps[i].name, "-") == 0)
            continue;
        put_app(out, "borough_event_streams", apps[i].name);
        bo_buf_printf(out, "} %llu\n", (unsigned long long)apps[i].streams);
    }
    /* Jobs and notifications: counters, by outcome; gauges, by state. */
    static const struct { const char *name, *type, *help, *label, *value; size_t off; } work[] = {
        { "borough_jobs_total", "counter", "Job runs that ended, by app and outcome (done, retry, failed).",
          "outcome", "done", offsetof(bo_metrics_summary, jobs_done) },
        { "borough_jobs_total", NULL, NULL, "outcome", "retry", offsetof(bo_metrics_summary, jobs_retried) },
        { "borough_jobs_total", NULL, NULL, "outcome", "failed", offsetof(bo_metrics_summary, jobs_failed) },
        { "borough_jobs", "gauge", "Jobs by app and state: waiting (queued or running) or failed for good.",
          "state", "waiting", offsetof(bo_metrics_summary, jobs_waiting) },
        { "borough_jobs", NULL, NULL, "state", "failed", offsetof(bo_metrics_summary, jobs_dead) },
        { "borough_notifications_total", "counter",
          "Notify sends that ended, by app and outcome (sent, retry, failed).", "outcome", "sent",
          offsetof(bo_metrics_summary, notify_sent) },
        { "borough_notifications_total", NULL, NULL, "outcome", "retry", offsetof(bo_metrics_summary, notify_retried) },
        { "borough_notifications_total", NULL, NULL, "outcome", "failed", offsetof(bo_metrics_summary, notify_failed) },
        { "borough_outbox_depth", "gauge",
          "Messages in the app's outbox by state: waiting (not yet accepted by Notify) or failed for good.",
          "state", "waiting", offsetof(bo_metrics_summary, outbox_depth) },
        { "borough_outbox_depth", NULL, NULL, "state", "failed", offsetof(bo_metrics_summary, outbox_failed) },
        { "borough_event_streams_ended_total", "counter",
          "Event streams the server ended or refused, by app and why: dropped (the client read too slowly) "
          "or refused (a cap was reached: 503).", "why", "dropped", offsetof(bo_metrics_summary, streams_dropped) },
        { "borough_event_streams_ended_total", NULL, NULL, "why", "refused", offsetof(bo_metrics_summary, streams_refused) },
    };
    for (size_t k = 0; k < BO_COUNT(work); k++) {
        if (work[k].type)
            put_help(out, work[k].name, work[k].type, work[k].help);
        for (unsigned i = 0; i < napps; i++) {
            if (strcmp(apps[i].name, "-") == 0)
                continue;
            put_app(out, work[k].name, apps[i].name);
            bo_buf_printf(out, ",%s=\"%s\"} %llu\n", work[k].label, work[k].value,
                          (unsigned long long)*(uint64_t *)((char *)&apps[i] + work[k].off));
        }
    }
    put_help(out, "borough_open_connections", "gauge", "Client connections open now.");
    bo_buf_printf(out, "borough_open_connections %u\n", open_conns);
    put_help(out, "borough_build_info", "gauge", "The running version of borough.");
    bo_buf_puts(out, "borough_build_info{version=\"" BO_VERSION "\"} 1\n");

    for (unsigned i = 0; i < napps; i++)
        free(apps[i].codes);
    free(apps);
}

/* ---- address ranges ---- */

bool bo_metrics_allowed(const bo_cidr *list, unsigned n, const char *ip)
{
    if (n > 0)
        return bo_cidr_match(list, n, ip);
    static const bo_cidr loopback[2] = {
        { AF_INET, { 127 }, 8 },
        { AF_INET6, { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 128 },
    };
    return bo_cidr_match(loopback, 2, ip);
}
