/*
 * status.c - the server's state gathered and put in words (see status.h).
 */
#include "status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void add_up(bo_metrics_summary *all, const bo_metrics_summary *a)
{
    all->requests += a->requests;
    all->client_errors += a->client_errors;
    all->server_errors += a->server_errors;
    for (unsigned b = 0; b <= BO_METRICS_BUCKETS; b++)
        all->buckets[b] += a->buckets[b];
    all->lua_errors += a->lua_errors;
    all->reloads += a->reloads;
    all->reload_failures += a->reload_failures;
    all->jobs_done += a->jobs_done;
    all->jobs_retried += a->jobs_retried;
    all->jobs_failed += a->jobs_failed;
    all->notify_sent += a->notify_sent;
    all->notify_retried += a->notify_retried;
    all->notify_failed += a->notify_failed;
    all->outbox_depth += a->outbox_depth;
    all->outbox_failed += a->outbox_failed;
    all->jobs_waiting += a->jobs_waiting;
    all->jobs_dead += a->jobs_dead;
}

void bo_status_gather(bo_server *s, bo_status *out)
{
    memset(out, 0, sizeof *out);
    out->now_ms = bo_unix_ms();
    out->started_ms = s->started_ms;
    out->workers = s->nworkers;
    out->open_conns = atomic_load(&s->conns);
    out->catalog = bo_server_catalog(s);
    bo_metrics **tables = bo_calloc((size_t)s->nworkers + 1, sizeof *tables);
    tables[0] = &s->metrics;
    for (int i = 0; i < s->nworkers; i++)
        tables[i + 1] = &s->workers[i].metrics;
    out->sums = bo_metrics_sum(tables, (unsigned)s->nworkers + 1, &out->nsums);
    free(tables);
    for (unsigned i = 0; i < out->nsums; i++)
        add_up(&out->all, &out->sums[i]);
    const bo_catalog *c = out->catalog;
    out->napps = c->napps;
    out->apps = bo_calloc(c->napps ? c->napps : 1, sizeof *out->apps);
    for (unsigned i = 0; i < c->napps; i++) {
        bo_status_app *a = &out->apps[i];
        a->info = c->apps[i];
        for (unsigned j = 0; j < out->nsums && !a->m; j++)
            if (strcmp(out->sums[j].name, a->info->name) == 0)
                a->m = &out->sums[j];
        a->db_bytes = bo_db_bytes(s->cfg.data_dir, a->info->name);
        a->reloaded = bo_server_reload_note(s, a->info->name, &a->note, a->error, sizeof a->error);
    }
    out->platform_db_bytes = bo_db_bytes(s->cfg.data_dir, NULL);
    bo_https_cert *cert = bo_server_cert(s);
    out->cert_expires = cert ? cert->expires : 0;
    bo_https_cert_unref(cert);
}

void bo_status_free(bo_status *st)
{
    bo_metrics_summary_free(st->sums, st->nsums);
    free(st->apps);
    bo_catalog_unref(st->catalog);
    memset(st, 0, sizeof *st);
}

/* ---- in words ---- */

static void put_bytes(bo_buf *out, int64_t n)
{
    if (n < 1000)
        bo_buf_printf(out, "%lld bytes", (long long)n);
    else if (n < 1000 * 1000)
        bo_buf_printf(out, "%.1f kB", (double)n / 1e3);
    else if (n < 1000LL * 1000 * 1000)
        bo_buf_printf(out, "%.1f MB", (double)n / 1e6);
    else
        bo_buf_printf(out, "%.1f GB", (double)n / 1e9);
}

static void put_seconds(bo_buf *out, double s)
{
    if (isinf(s))
        bo_buf_printf(out, "over %g s", bo_metrics_bounds[BO_METRICS_BUCKETS - 1]);
    else if (s < 1)
        bo_buf_printf(out, "%g ms", s * 1000);
    else
        bo_buf_printf(out, "%g s", s);
}

static void put_span(bo_buf *out, int64_t ms)
{
    int64_t m = ms / 60000, h = m / 60, d = h / 24;
    if (d > 0)
        bo_buf_printf(out, "%lld day%s %lld hour%s", (long long)d, d == 1 ? "" : "s", (long long)(h % 24),
                      h % 24 == 1 ? "" : "s");
    else if (h > 0)
        bo_buf_printf(out, "%lld hour%s %lld minute%s", (long long)h, h == 1 ? "" : "s", (long long)(m % 60),
                      m % 60 == 1 ? "" : "s");
    else if (m > 0)
        bo_buf_printf(out, "%lld minute%s", (long long)m, m == 1 ? "" : "s");
    else
        bo_buf_puts(out, "less than a minute");
}

/* "  last reload: 2026-12-07 21:58 UTC, reloaded, generation 2 serves"; a
   refused one says why ("apps/x/app.lua:12: ...") and what still serves. */
static void put_reload(bo_buf *out, const bo_reload_note *n)
{
    char when[32];
    time_t t = (time_t)(n->at_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    bo_buf_printf(out, "  last %s: %s, ", n->rollback ? "rollback" : "reload", when);
    if (n->ok)
        bo_buf_printf(out, "%s, generation %llu serves\n", n->rollback ? "rolled back" : "reloaded",
                      (unsigned long long)n->generation);
    else if (n->generation)
        bo_buf_printf(out, "refused: %s; generation %llu still serves\n", n->error ? n->error : "?",
                      (unsigned long long)n->generation);
    else
        bo_buf_printf(out, "refused: %s\n", n->error ? n->error : "?");
}

/* "1234 requests, 3 client errors (4xx), 1 server error (5xx); half within
   5 ms, 95% within 25 ms, 99% within 100 ms" */
static void put_requests(bo_buf *out, const bo_metrics_summary *m)
{
    bo_buf_printf(out, "%llu request%s, %llu client error%s (4xx), %llu server error%s (5xx)",
                  (unsigned long long)m->requests, m->requests == 1 ? "" : "s",
                  (unsigned long long)m->client_errors, m->client_errors == 1 ? "" : "s",
                  (unsigned long long)m->server_errors, m->server_errors == 1 ? "" : "s");
    if (m->requests == 0)
        return;
    bo_buf_puts(out, "; half within ");
    put_seconds(out, bo_metrics_quantile(m, 0.5));
    bo_buf_puts(out, ", 95% within ");
    put_seconds(out, bo_metrics_quantile(m, 0.95));
    bo_buf_puts(out, ", 99% within ");
    put_seconds(out, bo_metrics_quantile(m, 0.99));
}

void bo_status_text(const bo_status *st, bo_buf *out)
{
    bo_buf_printf(out, "borough %s: up ", BO_VERSION);
    put_span(out, st->now_ms - st->started_ms);
    bo_buf_printf(out, ", %d worker%s, %u connection%s open\n", st->workers, st->workers == 1 ? "" : "s",
                  st->open_conns, st->open_conns == 1 ? "" : "s");
    bo_buf_puts(out, "requests: ");
    put_requests(out, &st->all);
    bo_buf_printf(out, "\nhandler errors: %llu; reloads: %llu, refused %llu\n", (unsigned long long)st->all.lua_errors,
                  (unsigned long long)st->all.reloads, (unsigned long long)st->all.reload_failures);
    bo_buf_printf(out, "outbox: %llu waiting, %llu failed; jobs: %llu waiting, %llu failed\n",
                  (unsigned long long)st->all.outbox_depth, (unsigned long long)st->all.outbox_failed,
                  (unsigned long long)st->all.jobs_waiting, (unsigned long long)st->all.jobs_dead);
    bo_buf_puts(out, "platform database: ");
    if (st->platform_db_bytes >= 0)
        put_bytes(out, st->platform_db_bytes);
    else
        bo_buf_puts(out, "missing");
    bo_buf_putc(out, '\n');
    if (st->cert_expires) {
        char day[16];
        time_t t = (time_t)st->cert_expires;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(day, sizeof day, "%Y-%m-%d", &tm);
        int64_t left = st->cert_expires * 1000 - st->now_ms;
        if (left > 0) {
            bo_buf_printf(out, "TLS certificate: valid until %s (", day);
            put_span(out, left);
            bo_buf_puts(out, ")\n");
        } else {
            bo_buf_printf(out, "TLS certificate: expired on %s\n", day);
        }
    } else {
        bo_buf_puts(out, "TLS: off (plain HTTP)\n");
    }
    for (unsigned i = 0; i < st->napps; i++) {
        const bo_status_app *a = &st->apps[i];
        const bo_app_info *info = a->info;
        bo_buf_printf(out, "app %s: ", info->name);
        if (info->error) {
            bo_buf_printf(out, "unavailable: %s\n", info->error);
            if (a->reloaded)
                put_reload(out, &a->note);
            continue;
        }
        bo_buf_printf(out, "generation %llu, version %.12s, at %s\n", (unsigned long long)info->generation,
                      info->snapshot ? info->snapshot->hash : "?",
                      info->mount ? (info->mount[0] ? info->mount : "/") : info->host ? info->host : "?");
        if (a->reloaded)
            put_reload(out, &a->note);
        if (a->m) {
            bo_buf_puts(out, "  requests: ");
            put_requests(out, a->m);
            bo_buf_printf(out, "\n  handler errors: %llu; outbox: %llu waiting, %llu failed; jobs: %llu waiting, "
                               "%llu failed\n", (unsigned long long)a->m->lua_errors,
                          (unsigned long long)a->m->outbox_depth, (unsigned long long)a->m->outbox_failed,
                          (unsigned long long)a->m->jobs_waiting, (unsigned long long)a->m->jobs_dead);
        }
        if (a->db_bytes >= 0) {
            bo_buf_puts(out, "  database: ");
            put_bytes(out, a->db_bytes);
            bo_buf_putc(out, '\n');
        }
    }
}
