/*
 * cmd_audit.c - `borough audit [--app A] [--since DATE] [--limit N] [--data DIR]`
 * shows the platform audit log (data/borough.db: sign-ins, role changes,
 * exports, reads of encrypted fields, key rotations), oldest first, one
 * line an event; `borough audit verify` recomputes its hash chain
 * (platformdb.c) and exits 1 naming the first row that is not as it was
 * written.
 */
#include "cli.h"
#include "platformdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints s with control characters shown as spaces, so one event is one line. */
static void put_clean(const char *s)
{
    for (; s && *s; s++)
        putchar((unsigned char)*s < 32 || *s == 127 ? ' ' : *s);
}

static int show(const bo_cli *cli, bo_db *db, const char *app, const char *since, unsigned long limit)
{
    /* The last `limit` events that match, printed oldest first. */
    static const char sql[] =
        "SELECT id, at, who, action, app, detail FROM (SELECT * FROM platform_audit "
        "WHERE (?1 IS NULL OR app = ?1) AND (?2 IS NULL OR at >= ?2) ORDER BY id DESC LIMIT ?3) ORDER BY id";
    bo_stmt *stmt = NULL;
    if (bo_stmt_prepare(db, sql, -1, &stmt) != BO_OK)
        return bo_cli_fail(cli, "%s", bo_db_errmsg(db));
    if (app)
        bo_stmt_bind_text(stmt, 1, app, -1);
    if (since)
        bo_stmt_bind_text(stmt, 2, since, -1);
    bo_stmt_bind_int64(stmt, 3, (int64_t)limit);
    while (bo_stmt_step(stmt) == BO_DB_ROW) {
        printf("%6lld  %.19s  ", (long long)bo_stmt_column_int64(stmt, 0), (const char *)bo_stmt_column_text(stmt, 1));
        put_clean((const char *)bo_stmt_column_text(stmt, 2));
        fputs("  ", stdout);
        put_clean((const char *)bo_stmt_column_text(stmt, 3));
        const char *a = (const char *)bo_stmt_column_text(stmt, 4);
        if (a) {
            fputs("  ", stdout);
            put_clean(a);
        }
        const char *d = (const char *)bo_stmt_column_text(stmt, 5);
        if (d) {
            fputs(": ", stdout);
            put_clean(d);
        }
        putchar('\n');
    }
    bo_stmt_finalize(stmt);
    return 0;
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

/* A date or time to start from: "2026-11-26" or "2026-11-26T09:30". */
static bool is_date(const char *s)
{
    size_t n = strlen(s);
    if (n < 10 || n > 24 || s[4] != '-' || s[7] != '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789-:T.Z", s[i]))
            return false;
    return true;
}

int bo_cmd_audit(int argc, char **argv, const bo_cli *cli)
{
    const char *data = "data", *app = NULL, *since = NULL;
    unsigned long limit = 100;
    bool check = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--data") == 0 || strcmp(a, "--app") == 0 || strcmp(a, "--since") == 0 ||
            strcmp(a, "--limit") == 0) {
            if (i + 1 >= argc)
                return bo_cli_usage(cli, "%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 'd')
                data = v;
            else if (a[2] == 'a')
                app = v;
            else if (a[2] == 's' && !is_date(v))
                return bo_cli_usage(cli, "--since takes a date such as 2026-11-26, not %s", v);
            else if (a[2] == 's')
                since = v;
            else if (bo_cli_parse_uint(v, 1000000000, &limit) < 0 || limit == 0)
                return bo_cli_usage(cli, "--limit takes a number of events, not %s", v);
        } else if (strcmp(a, "verify") == 0 && !check) {
            check = true;
        } else {
            return bo_cli_usage(cli, "unexpected %s", a);
        }
    }
    if (!bo_cli_is_dir(data))
        return bo_cli_fail(cli, "no data folder %s", data);
    bo_db *db;
    char err[512];
    if (bo_platformdb_open(&db, data, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    int rc = check ? verify(cli, db) : show(cli, db, app, since, limit);
    bo_db_close(db);
    return rc;
}
