/*
 * cmd_queue.c - `borough outbox` and `borough jobs`: the messages and the
 * background jobs of every app, or one, from the command line (queues.h;
 * the admin console's Outbox and jobs page is the other front end).
 *
 *   borough outbox|jobs list [APP] [--state STATE] [--limit N]
 *   borough outbox|jobs retry|cancel APP ID
 *
 * every one with [--data DIR]. list shows each app's counts and its
 * items newest first (--limit of them, 20 by default; STATE is queued,
 * sending or running, sent or done, failed, or stuck). Messages show
 * their metadata only: recipients and personalisation stay sealed.
 * retry and cancel go to the platform audit log, naming the
 * operating-system user.
 */
#include "cli.h"
#include "platformdb.h"
#include "queues.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Prints s with control characters shown as spaces, so one item is one line. */
static void put_clean(const char *s)
{
    for (; s && *s; s++)
        putchar((unsigned char)*s < 32 || *s == 127 ? ' ' : *s);
}

static void put_when(int64_t ms)
{
    char when[32];
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    fputs(when, stdout);
}

static int print_item(void *ud, const bo_queue_item *it)
{
    bo_queue q = *(const bo_queue *)ud;
    printf("  %6lld  %-8s  ", (long long)it->id, it->stuck ? "stuck" : it->state);
    put_when(it->made_ms);
    fputs("  ", stdout);
    put_clean(it->name);
    if (q == BO_QUEUE_OUTBOX) {
        fputs("  template ", stdout);
        put_clean(it->detail);
        fputs("  reference ", stdout);
        put_clean(it->reference);
        printf("  %d attempt%s", it->attempts, it->attempts == 1 ? "" : "s");
        if (it->status) {
            fputs("  delivery ", stdout);
            put_clean(it->status);
        }
        if (it->purged)
            fputs("  (personal details removed)", stdout);
    } else {
        if (strcmp(it->detail, "every") == 0)
            fputs(" (schedule)", stdout);
        printf("  attempt %d of %d", it->attempts, it->max_attempts);
    }
    if (it->error) {
        fputs("  error: ", stdout);
        put_clean(it->error);
    }
    putchar('\n');
    return 0;
}

static int list_app(const bo_cli *cli, const char *data, bo_queue q, const char *app, const char *state,
                    unsigned long limit)
{
    bo_db *db;
    char err[512];
    int rc = bo_queue_open(&db, data, app, err, sizeof err);
    if (rc < 0)
        return bo_cli_fail(cli, "%s", err);
    bo_queue_counts n;
    rc = bo_queue_count(db, q, &n, err, sizeof err);
    if (rc == 0) {
        if (q == BO_QUEUE_OUTBOX)
            printf("%s: %u queued, %u sending, %u sent, %u failed, %u stuck\n", app, n.queued, n.active, n.done,
                   n.failed, n.stuck);
        else
            printf("%s: %u queued, %u running, %u done, %u failed, %u stuck\n", app, n.queued, n.active, n.done,
                   n.failed, n.stuck);
        rc = bo_queue_list(db, q, state, 0, (unsigned)limit, print_item, &q, err, sizeof err);
    }
    bo_db_close(db);
    return rc < 0 ? bo_cli_fail(cli, "%s", err) : 0;
}

static int change(const bo_cli *cli, const char *data, bo_queue q, bool retry, const char *app, const char *ids)
{
    unsigned long id;
    if (bo_cli_parse_uint(ids, INT64_MAX, &id) < 0 || id == 0)
        return bo_cli_usage(cli, "ID is the number the list shows, not %s", ids);
    bo_db *db, *platform;
    char err[512], who[80];
    if (bo_platformdb_open(&platform, data, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    int rc = bo_queue_open(&db, data, app, err, sizeof err);
    if (rc == 0) {
        bo_cli_who(who, sizeof who);
        rc = retry ? bo_queue_retry(db, platform, who, q, app, (int64_t)id, err, sizeof err)
                   : bo_queue_cancel(db, platform, who, q, app, (int64_t)id, err, sizeof err);
        bo_db_close(db);
    }
    bo_db_close(platform);
    if (rc < 0)
        return bo_cli_fail(cli, "%s", err);
    const char *what = q == BO_QUEUE_OUTBOX ? "message" : "job";
    if (retry)
        printf("%s %s %lu will be tried again\n", app, what, id);
    else
        printf("%s %s %lu is cancelled\n", app, what, id);
    return 0;
}

static int run(int argc, char **argv, const bo_cli *cli, bo_queue q)
{
    const char *data = "data", *state = NULL;
    const char *pos[3];
    int npos = 0;
    unsigned long limit = 20;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--data") == 0 || strcmp(a, "--state") == 0 || strcmp(a, "--limit") == 0) {
            if (i + 1 >= argc)
                return bo_cli_usage(cli, "%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 'd')
                data = v;
            else if (a[2] == 's')
                state = v;
            else if (bo_cli_parse_uint(v, 1000000, &limit) < 0 || limit == 0)
                return bo_cli_usage(cli, "--limit takes a number of items, not %s", v);
        } else if (a[0] == '-') {
            return bo_cli_usage(cli, "unknown option %s", a);
        } else if (npos < 3) {
            pos[npos++] = a;
        } else {
            return bo_cli_usage(cli, "too many arguments");
        }
    }
    if (state) {
        static const char *const states[2][5] = {
            { "queued", "sending", "sent", "failed", "stuck" },
            { "queued", "running", "done", "failed", "stuck" },
        };
        bool ok = false;
        for (int i = 0; i < 5; i++)
            ok |= strcmp(state, states[q][i]) == 0;
        if (!ok)
            return bo_cli_usage(cli, "--state is one of %s, %s, %s, %s or %s", states[q][0], states[q][1],
                                states[q][2], states[q][3], states[q][4]);
    }
    if (npos == 0)
        return bo_cli_usage(cli, "which: list, retry or cancel?");
    if (!bo_cli_is_dir(data))
        return bo_cli_fail(cli, "no data folder %s", data);
    if (strcmp(pos[0], "list") == 0) {
        if (npos > 2)
            return bo_cli_usage(cli, "list takes at most one APP");
        if (npos == 2)
            return list_app(cli, data, q, pos[1], state, limit);
        char **apps, err[512];
        int n = bo_queue_apps(data, &apps, err, sizeof err);
        if (n < 0)
            return bo_cli_fail(cli, "%s", err);
        int rc = 0;
        for (int i = 0; i < n; i++) {
            if (rc == 0)
                rc = list_app(cli, data, q, apps[i], state, limit);
            free(apps[i]);
        }
        free(apps);
        if (n == 0)
            printf("No app has a database yet\n");
        return rc;
    }
    bool retry = strcmp(pos[0], "retry") == 0;
    if (!retry && strcmp(pos[0], "cancel") != 0)
        return bo_cli_usage(cli, "unknown subcommand %s", pos[0]);
    if (npos != 3 || state)
        return bo_cli_usage(cli, "%s takes APP and ID", pos[0]);
    return change(cli, data, q, retry, pos[1], pos[2]);
}

int bo_cmd_outbox(int argc, char **argv, const bo_cli *cli)
{
    return run(argc, argv, cli, BO_QUEUE_OUTBOX);
}

int bo_cmd_jobs(int argc, char **argv, const bo_cli *cli)
{
    return run(argc, argv, cli, BO_QUEUE_JOBS);
}
