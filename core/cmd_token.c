/*
 * cmd_token.c - `borough token`: API tokens for apps' data feeds, in
 * data/borough.db (apitoken.h).
 *
 *   borough token create APP --entities A,B --name NAME [--role R,S] [--expires 90d]
 *   borough token list [APP]
 *   borough token revoke ID
 *
 * every one with [--data DIR]. create prints the token once, on a line of
 * its own (only its SHA-256 is kept: it cannot be shown again), then what
 * it is for on standard error. Its service account gets the roles given
 * (change them later with `borough user role EMAIL APP ROLE`). Every change
 * goes to the platform audit log, naming the operating-system user who
 * made it.
 */
#include "apitoken.h"
#include "cli.h"
#include "platformdb.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *operator_name(char *buf, size_t cap)
{
    struct passwd *pw = getpwuid(getuid());
    snprintf(buf, cap, "cli:%s", pw ? pw->pw_name : "unknown");
    return buf;
}

/* "90d" or "12h" -> milliseconds; -1 if it is neither. */
static int64_t parse_expiry(const char *s)
{
    unsigned long n;
    size_t len = strlen(s);
    if (len < 2 || (s[len - 1] != 'd' && s[len - 1] != 'h'))
        return -1;
    char num[24];
    if (len - 1 >= sizeof num)
        return -1;
    memcpy(num, s, len - 1);
    num[len - 1] = '\0';
    if (bo_cli_parse_uint(num, 100000, &n) < 0 || n == 0)
        return -1;
    return (int64_t)n * 3600 * 1000 * (s[len - 1] == 'd' ? 24 : 1);
}

/* "2027-03-07 09:30" (UTC), or "-" for 0. */
static const char *when(int64_t ms, char *buf, size_t cap)
{
    if (!ms)
        return "-";
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

static int print_row(void *ud, const bo_apitoken_row *t)
{
    BO_UNUSED(ud);
    char c[32], e[32], u[32];
    int64_t now = bo_unix_ms();
    const char *state = t->revoked_ms ? "revoked" : now >= t->expires_ms ? "expired" : "active";
    size_t n = strlen(t->entities);
    printf("%-4lld %-12s %-20s %s...  entities: %.*s; roles: %s\n"
           "     account %s; made %s by %s; expires %s; %s; used %lld time%s, last %s\n",
           (long long)t->id, t->app, t->name, t->prefix, n > 2 ? (int)(n - 2) : 0, t->entities + (n > 2),
           t->roles ? t->roles : "none", t->email,
           when(t->created_ms, c, sizeof c), t->created_by, when(t->expires_ms, e, sizeof e), state,
           (long long)t->uses, t->uses == 1 ? "" : "s", when(t->used_ms, u, sizeof u));
    return 0;
}

int bo_cmd_token(int argc, char **argv, const bo_cli *cli)
{
    const char *data = "data", *entities = NULL, *name = NULL, *roles = NULL, *expires = "90d";
    const char *pos[3];
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = strcmp(a, "--data") == 0       ? &data
                            : strcmp(a, "--entities") == 0 ? &entities
                            : strcmp(a, "--name") == 0     ? &name
                            : strcmp(a, "--role") == 0     ? &roles
                            : strcmp(a, "--expires") == 0  ? &expires
                                                           : NULL;
        if (slot) {
            if (i + 1 >= argc)
                return bo_cli_usage(cli, "%s needs a value", a);
            *slot = argv[++i];
        } else if (a[0] == '-') {
            return bo_cli_usage(cli, "unknown option %s", a);
        } else if (npos < 3) {
            pos[npos++] = a;
        } else {
            return bo_cli_usage(cli, "too many arguments");
        }
    }
    if (npos == 0)
        return bo_cli_usage(cli, "which: create, list or revoke?");
    const char *sub = pos[0];
    bool create = strcmp(sub, "create") == 0, list = strcmp(sub, "list") == 0, revoke = strcmp(sub, "revoke") == 0;
    if (!create && !list && !revoke)
        return bo_cli_usage(cli, "unknown subcommand %s", sub);
    if ((create || revoke) && npos != 2)
        return bo_cli_usage(cli, "token %s takes one argument (%s)", sub, create ? "APP" : "ID");
    if (list && npos > 2)
        return bo_cli_usage(cli, "token list takes at most one argument (APP)");
    if (!create && (entities || name || roles || strcmp(expires, "90d") != 0))
        return bo_cli_usage(cli, "--entities, --name, --role and --expires go with token create");
    if (create && (!entities || !name))
        return bo_cli_usage(cli, "token create needs --entities A,B and --name NAME (what it is for: \"Power BI\")");
    int64_t expires_ms = parse_expiry(expires);
    if (create && expires_ms < 0)
        return bo_cli_usage(cli, "--expires wants days or hours, like 90d or 12h, not %s", expires);
    unsigned long id = 0;
    if (revoke && bo_cli_parse_uint(pos[1], 1UL << 62, &id) < 0)
        return bo_cli_usage(cli, "token revoke wants a token's number (borough token list), not %s", pos[1]);

    bo_db *db;
    char err[512], who[96];
    if (bo_platformdb_open(&db, data, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    operator_name(who, sizeof who);
    int rc = 0;
    if (create) {
        char token[BO_APITOKEN_CHARS + 1], email[300], at[32];
        int64_t tid;
        if (bo_apitoken_create(db, who, pos[1], name, entities, roles, expires_ms, token, &tid, email, sizeof email,
                               err, sizeof err) < 0) {
            rc = bo_cli_fail(cli, "%s", err);
        } else {
            printf("%s\n", token);
            bo_iso_time(bo_unix_ms() + expires_ms, at, sizeof at);
            fprintf(stderr,
                    "token %lld for %s (%s): entities %s; account %s with roles %s; expires %.10s.\n"
                    "This is the only time the token is shown: put it in the tool's credentials now.\n",
                    (long long)tid, pos[1], name, entities, email, roles ? roles : "(none)", at);
        }
    } else if (list) {
        if (bo_apitoken_list(db, npos == 2 ? pos[1] : NULL, print_row, NULL, err, sizeof err) < 0)
            rc = bo_cli_fail(cli, "%s", err);
    } else if (bo_apitoken_revoke(db, who, (int64_t)id, err, sizeof err) < 0) {
        rc = bo_cli_fail(cli, "%s", err);
    } else {
        printf("token %lu revoked\n", id);
    }
    bo_db_close(db);
    return rc;
}
