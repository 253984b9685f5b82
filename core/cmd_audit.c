/*
 * cmd_audit.c - `borough audit [--who TEXT] [--app A] [--action ACTION]
 * [--since DATE] [--until DATE] [--limit N] [--data DIR]` shows the
 * platform audit log (data/borough.db: sign-ins, role changes, exports,
 * reads of encrypted fields, key rotations, what the admin console did),
 * the last N events that match, oldest first, one line an event;
 * `borough audit verify` recomputes its hash chain (platformdb.c) and
 * exits 1 naming the first row that is not as it was written. The admin
 * console's Audit page reads and verifies the same log the same way.
 */
#include "cli.h"
#include "platformdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The rows as read (newest first), kept to be printed oldest first. */
typedef struct rows {
    bo_buf text;
    size_t *ends;
    size_t n;
} kept;

static int keep(void *ud, const bo_audit_row *r)
{
    kept *k = ud;
    char head[64];
    snprintf(head, sizeof head, "%6lld  %.19s  ", (long long)r->id, r->at ? r->at : "");
    bo_buf_puts(&k->text, head);
    const char *parts[] = { r->who, "  ", r->action, r->app ? "  " : NULL, r->app, r->detail ? ": " : NULL,
                            r->detail };
    for (size_t i = 0; i < BO_COUNT(parts); i++)
        for (const char *p = parts[i]; p && *p; p++)
            bo_buf_putc(&k->text, (unsigned char)*p < 32 || *p == 127 ? ' ' : *p);
    k->ends = bo_realloc(k->ends, sizeof *k->ends * (k->n + 1));
    k->ends[k->n++] = k->text.len;
    return 0;
}

static int show(const bo_cli *cli, bo_db *db, const bo_audit_filter *f, unsigned long limit)
{
    kept k = { .n = 0 };
    bo_buf_init(&k.text);
    char err[512];
    int rc = bo_platformdb_audit_list(db, f, 0, (unsigned)limit, keep, &k, NULL, err, sizeof err);
    for (size_t i = k.n; rc == 0 && i-- > 0;) {
        size_t start = i ? k.ends[i - 1] : 0;
        fwrite(k.text.data + start, 1, k.ends[i] - start, stdout);
        putchar('\n');
    }
    bo_buf_free(&k.text);
    free(k.ends);
    return rc < 0 ? bo_cli_fail(cli, "%s", err) : 0;
}

static int verify(const bo_cli *cli, bo_db *db)
{
    long long bad, rows;
    char last[65], err[512];
    if (bo_platformdb_verify(db, &bad, &rows, last, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    if (bad)
        return bo_cli_fail(cli, "the audit log has been tampered with: %s", err);
    printf("the audit log is intact: %lld row%s, last hash %s\n", rows, rows == 1 ? "" : "s", last);
    return 0;
}

int bo_cmd_audit(int argc, char **argv, const bo_cli *cli)
{
    static const char *const options[] = { "--data", "--who", "--app", "--action", "--since", "--until", "--limit" };
    const char *values[BO_COUNT(options)] = { "data" };
    unsigned long limit = 100;
    bool check = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        size_t k = 0;
        while (k < BO_COUNT(options) && strcmp(a, options[k]) != 0)
            k++;
        if (k < BO_COUNT(options)) {
            if (i + 1 >= argc)
                return bo_cli_usage(cli, "%s needs a value", a);
            const char *v = argv[++i];
            if ((k == 4 || k == 5) && !bo_platformdb_audit_date_ok(v))
                return bo_cli_usage(cli, "%s takes a date such as 2026-11-26, not %s", a, v);
            if (k == 6 && (bo_cli_parse_uint(v, 1000000000, &limit) < 0 || limit == 0))
                return bo_cli_usage(cli, "--limit takes a number of events, not %s", v);
            values[k] = v;
        } else if (strcmp(a, "verify") == 0 && !check) {
            check = true;
        } else {
            return bo_cli_usage(cli, "unexpected %s", a);
        }
    }
    const char *data = values[0];
    if (!bo_cli_is_dir(data))
        return bo_cli_fail(cli, "no data folder %s", data);
    bo_db *db;
    char err[512];
    if (bo_platformdb_open(&db, data, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    bo_audit_filter f = { values[1], values[2], values[3], values[4], values[5] };
    int rc = check ? verify(cli, db) : show(cli, db, &f, limit);
    bo_db_close(db);
    return rc;
}
