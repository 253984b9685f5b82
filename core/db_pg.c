/*
 * db_pg.c - the PostgreSQL engine behind db.h, over libpq. The only file
 * that names libpq (tests/e2e/test_layers.py checks it).
 *
 * Where things are. One database serves every node. The platform's tables
 * live in the schema `borough` (and its few functions in `borough_fn`),
 * owned by the node's login role (the operator's URL). Each app has the
 * schema "app_<name>", owned by the platform, in which the app's own login
 * role (made here on first use, its password kept in borough.app_roles)
 * may create and use tables. The app's connections log in as that role, so
 * SET ROLE and RESET ROLE lead nowhere, and the role can reach no other
 * schema. The platform's tables inside an app's schema (_borough_audit,
 * _borough_outbox, ...) belong to the platform: the app's role may read
 * them, and a statement trigger (borough_fn.guard) refuses its writes
 * unless the platform unlocked them in that transaction with the
 * platform's key (borough_fn.unlock, SECURITY DEFINER), which only C code
 * holds and sends as a parameter, never as session state an app could
 * read. The platform's DDL on its tables in an app's schema runs through
 * borough_fn.platform_exec (the same key), so those tables are the
 * platform's even when made inside the app's transaction.
 *
 * A bo_db is a small pool of connections with one statement cache. Each
 * connection is in pipeline mode: a statement goes out as its prefix
 * commands (BEGIN and the app's write lock, a savepoint, unlocking), the
 * statement itself (an unnamed extended-protocol statement, its
 * placeholders translated to $n) and a sync, in one write; the answers come
 * back in order. bo_stmt_step on a statement not yet run runs it and waits
 * (poll(2), the progress check every 50 ms); bo_stmt_start sends it and
 * returns, and a uv_poll on the connection's socket reads the answer on the
 * caller's loop and calls its waiter.
 *
 * Transactions. db.tx's BEGIN is not sent at once: it goes in front of the
 * transaction's first statement, with pg_advisory_xact_lock on the app's
 * key, so an app's write transactions run one at a time across every node,
 * as SQLite's BEGIN IMMEDIATE makes them. The connection stays with the
 * caller until the end of the transaction; bo_db_detach/attach hand it over
 * across the caller's waits.
 *
 * Types. Values are sent as text without a type (the server infers it from
 * where the parameter stands), blobs as bytea in binary; columns come back
 * as text and are read by their type: integers (int2/4/8, oid, bool as 0
 * and 1, numeric without a fraction) as integers, float4/8 and other
 * numerics as floats, bytea as blobs, the rest as text.
 */
#include "db_impl.h"
#include "crypto.h"
#include "log.h"

#include <libpq-fe.h>
#include <uv.h>

#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define POOL_MAX 4                 /* connections a bo_db keeps for waiting callers */
#define POOL_HARD_MAX 12           /* and at most, with callers that block */
#define CACHE_MAX 256
#define CONNECT_TIMEOUT_S "5"
#define STATEMENT_TIMEOUT_MS 60000
#define PROGRESS_MS 50

#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

typedef struct pg_db pg_db;
typedef struct pg_conn pg_conn;
typedef struct pg_stmt pg_stmt;

/* What a statement is, read from its text once. */
typedef struct sql_info {
    char *text;                /* translated */
    int nparams;
    uint64_t named;            /* the parameters the text names (bit i-1: ?i; all past 64) */
    bool insert;               /* an INSERT without RETURNING: its new id is asked for */
    bool platform_ddl;         /* DDL on a _borough_* object */
    bool tx_control;           /* BEGIN, COMMIT, ... (refused) */
} sql_info;

typedef struct cache_entry {
    char *sql;
    size_t len;
    bool platform;
    uint64_t used;
    sql_info info;
    int user_ref;
    int64_t generation;
    uint64_t columns_hash;
    pg_stmt *stmts;            /* instances; one per caller using it at once */
    struct cache_entry *next;  /* hash chain */
} cache_entry;

/* One slot of what a connection waits for, in the order sent. */
enum { SLOT_PREFIX, SLOT_STMT, SLOT_LASTID, SLOT_COMMIT };

struct pg_conn {
    pg_db *db;
    PGconn *pg;
    uv_poll_t *poll;           /* on the socket, when a waiter's loop reads it */
    int poll_fd;
    bool in_use;               /* a statement's exchange is in flight or held */
    bool pinned;               /* held by a transaction */
    int64_t outage;            /* outages_now() when it was made */
    int tx_depth;              /* transactions asked for (BEGIN sent when sent > 0) */
    int tx_sent;               /* of them, those the server knows of */
    bool tx_read;              /* the transaction is bo_db_begin_read's */
    bool tx_aborted;           /* a statement failed inside the transaction */
    /* the exchange in flight */
    int slots[8];
    int nslots, slot;
    bool got_null;
    pg_stmt *stmt;             /* whose answer it is (NULL: a commit or a drain) */
    bo_db_waiter *waiter;
    bool abandoned;            /* its waiter went away: drop the answer */
    bool failed;               /* the connection broke */
    char error[512];
    char sqlstate[6];
    int64_t last_id;
    bool has_last_id;
    PGresult *commit_res;
    pg_conn *next;
};

struct pg_stmt {
    bo_stmt base;
    cache_entry *entry;        /* NULL: prepared outside the cache */
    sql_info own;              /* the info when entry is NULL */
    pg_stmt *next;             /* the entry's next instance */
    /* parameters */
    int nparams;
    char **values;
    int *lengths;
    int *formats;
    Oid *types;
    bool *owned;
    /* the answer */
    bool ran;                  /* the answer is in (res, or error) */
    bool pending;              /* sent, answer not in yet */
    PGresult *res;
    int row;                   /* the current row, -1 before the first step */
    int nrows;
    int error;                 /* BO_E* of the answer */
    bo_buf *blobs;             /* decoded bytea of the current row, per column */
    int nblobs;
    pg_conn *conn;
};

struct pg_db {
    bo_db base;
    char *url;
    char *app;                 /* NULL: the platform */
    char *schema;
    char *role;                /* login role of an app's connections (NULL: the URL's) */
    char *password;
    char *key;                 /* the platform's key (unlocking its tables) */
    int64_t lock_key;          /* the advisory lock of write transactions */
    pg_conn *conns;
    int nconns;
    pg_conn *cur;              /* the running caller's transaction connection */
    cache_entry *buckets[CACHE_MAX];
    unsigned cached;
    uint64_t tick;
    uint64_t next_id;
    char errmsg[512];
    int64_t changes;
    int64_t last_id;
    /* a commit that waits for its answer */
    bo_db_waiter *commit_waiter;
    pg_conn *commit_conn;
    int commit_rc;                 /* how it ended */
    char commit_error[512];
};

#define DB(d) ((pg_db *)(d))
#define ST(s) ((pg_stmt *)(s))

static const bo_db_ops pg_ops;

const char *bo_pg_version(void)
{
    static char v[40];
    if (!v[0]) {
        int n = PQlibVersion();
        snprintf(v, sizeof v, "PostgreSQL (libpq %d.%d)", n / 10000, n % 100);
    }
    return v;
}

/* ---- errors ---- */

static int error_of(const char *state)
{
    if (!state || !state[0])
        return BO_EIO;                          /* no answer: the connection */
    if (strncmp(state, "23", 2) == 0)
        return BO_ECONSTRAINT;
    if (strcmp(state, "57014") == 0)
        return BO_ELIMIT;                       /* cancelled: the budget */
    if (strcmp(state, "42501") == 0)
        return BO_EPERM;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
        return BO_EBUSY;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 || strcmp(state, "53300") == 0)
        return BO_EIO;                          /* connection, shutdown, too many */
    return BO_EDB;
}

static void set_err(pg_db *db, const char *msg)
{
    snprintf(db->errmsg, sizeof db->errmsg, "%s", msg ? msg : "unknown error");
    size_t n = strlen(db->errmsg);
    while (n > 0 && (db->errmsg[n - 1] == '\n' || db->errmsg[n - 1] == ' '))
        db->errmsg[--n] = '\0';
}

/* ---- SQL text: the portable subset, translated ---- */

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           (unsigned char)c >= 0x80;
}

/* Words of the SQLite dialect that stand for something else here. */
static const struct {
    const char *from;
    const char *to;
} spelled[] = {
    { "BLOB", "BYTEA" },
    { "REAL", "DOUBLE PRECISION" },
    { "INTEGER", "BIGINT" },
    { "LIKE", "ILIKE" },
    { "NOCASE", "borough_fn.nocase" },
    { "julianday", "borough_fn.julianday" },
    { "group_concat", "string_agg" },   /* with its separator: group_concat(x, ', ') */
    { "instr", "borough_fn.instr" },
};

/* Statements an app's SQL may not start with here: they change the
   session (which later callers share) or the server, or do nothing
   portable. */
static const char *const refused_first[] = {
    "SET", "RESET", "SHOW", "COPY", "DO", "LISTEN", "NOTIFY", "UNLISTEN", "LOAD", "DISCARD", "PREPARE",
    "EXECUTE", "DEALLOCATE", "LOCK", "GRANT", "REVOKE", "PRAGMA", "ATTACH", "DETACH", "VACUUM", "ANALYZE",
    "REINDEX", "CALL", "CHECKPOINT", "CLUSTER", "FETCH", "MOVE", "CLOSE", "DECLARE", "SECURITY", "IMPORT",
    "REFRESH", "COMMENT", NULL
};
static const char *const tx_words[] = { "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "START",
                                        "ABORT", NULL };

static bool word_in(const char *p, size_t n, const char *const *list)
{
    for (; *list; list++)
        if (strlen(*list) == n && strncasecmp(*list, p, n) == 0)
            return true;
    return false;
}

/* Where the dollar-quoted string starting at p ($tag$ ... $tag$) ends
   (past its closing tag, or end when it is not closed), or NULL when p does
   not start one. */
static const char *dollar_quoted_end(const char *p, const char *end)
{
    const char *t = p + 1;
    while (t < end && ident_char(*t))
        t++;
    if (t >= end || *t != '$')
        return NULL;
    size_t tag = (size_t)(t + 1 - p);
    const char *q = t + 1;
    while (q + tag <= end && memcmp(q, p, tag) != 0)
        q++;
    return q + tag <= end ? q + tag : end;
}

/* Translates sql into info (a new string). Returns NULL, or why the text
   is outside the subset (static). app: judged as an app's statement. */
static const char *translate(const char *sql, size_t len, bool app, sql_info *info)
{
    memset(info, 0, sizeof *info);
    const char *refused = app ? bo_sql_refused(sql, len) : NULL;   /* as on SQLite (VACUUM) */
    if (refused)
        return refused;
    bo_buf out;
    bo_buf_init(&out);
    const char *p = sql, *end = sql + len;
    int next_param = 0, max_param = 0;
    int words = 0;
    const char *first = NULL;
    size_t first_len = 0;
    bool ddl = false, returning = false;
    const char *why = NULL;
    /* the words after CREATE/ALTER/DROP, to find the object's name */
    char ddl_name[128] = "";
    int ddl_words = 0;
    bool after_on = false, prev_integer = false;
    size_t integer_at = 0;
    while (p < end && !why) {
        char c = *p;
        if (c == '\'' || c == '"') {                    /* strings and quoted names */
            const char *q = p + 1;
            while (q < end && !(*q == c && !(q + 1 < end && q[1] == c)))
                q += (*q == c) ? 2 : 1;
            q = q < end ? q + 1 : end;
            if (c == '"' && ddl && (ddl_words <= 4 || after_on) && !ddl_name[0])
                snprintf(ddl_name, sizeof ddl_name, "%.*s", (int)(q - p - 2 > 0 ? q - p - 2 : 0), p + 1);
            bo_buf_append(&out, p, (size_t)(q - p));
            p = q;
            prev_integer = false;
            continue;
        }
        if (c == '-' && p + 1 < end && p[1] == '-') {
            while (p < end && *p != '\n')
                p++;
            continue;
        }
        if (c == '/' && p + 1 < end && p[1] == '*') {
            const char *q = p + 2;
            while (q + 1 < end && !(q[0] == '*' && q[1] == '/'))
                q++;
            p = q + 1 < end ? q + 2 : end;
            bo_buf_putc(&out, ' ');
            continue;
        }
        if (c == '?') {
            p++;
            int n = 0;
            if (p < end && *p >= '0' && *p <= '9') {
                while (p < end && *p >= '0' && *p <= '9')
                    n = n * 10 + (*p++ - '0');
            } else {
                n = ++next_param;
            }
            if (n > next_param)
                next_param = n;
            if (n > max_param)
                max_param = n;
            if (n >= 1 && n <= 64)
                info->named |= 1ULL << (n - 1);
            bo_buf_printf(&out, "$%d", n);
            prev_integer = false;
            continue;
        }
        if (c == '$' && app) {
            why = "$ is not in the portable subset (write ? for a parameter)";
            break;
        }
        const char *quoted = c == '$' ? dollar_quoted_end(p, end) : NULL;
        if (quoted) {                                   /* $tag$ ... $tag$, copied as it is */
            bo_buf_append(&out, p, (size_t)(quoted - p));
            p = quoted;
            prev_integer = false;
            continue;
        }
        if (c == ';' && words == 0) {                  /* an empty statement, as SQLite skips it */
            p++;
            continue;
        }
        if (c == ';') {
            const char *rest = bo_sql_skip_space(p, end);
            if (rest != end) {
                why = "only one SQL statement is allowed per call";
                break;
            }
            p = end;
            continue;
        }
        if (ident_char(c) && !(c >= '0' && c <= '9')) {
            const char *w = p;
            while (p < end && ident_char(*p))
                p++;
            size_t n = (size_t)(p - w);
            words++;
            if (words == 1) {
                first = w;
                first_len = n;
                ddl = word_in(w, n, (const char *const[]){ "CREATE", "ALTER", "DROP", NULL });
                if (word_in(w, n, tx_words)) {
                    info->tx_control = true;
                    if (app) {
                        why = "transaction statements are not allowed; use db.tx(fn) for a transaction";
                        break;
                    }
                }
                if (app && word_in(w, n, refused_first)) {
                    why = "this statement is not in the portable SQL subset (docs/apps.md)";
                    break;
                }
            }
            if (ddl) {
                ddl_words++;
                if (after_on && !ddl_name[0] && !word_in(w, n, (const char *const[]){ "ONLY", NULL }))
                    snprintf(ddl_name, sizeof ddl_name, "%.*s", (int)n, w);
                if (n == 2 && strncasecmp(w, "ON", 2) == 0)
                    after_on = true;
                else if (ddl_words >= 3 && ddl_words <= 7 && !ddl_name[0] &&
                         !word_in(w, n, (const char *const[]){ "TABLE", "INDEX", "UNIQUE", "IF", "NOT", "EXISTS",
                                                               "TRIGGER", "VIEW", "TEMP", "TEMPORARY",
                                                               "VIRTUAL", "COLUMN", "ADD", NULL }) &&
                         strncasecmp(first, "ALTER", 5) != 0)
                    snprintf(ddl_name, sizeof ddl_name, "%.*s", (int)n, w);
                else if (strncasecmp(first, "ALTER", 5) == 0 && ddl_words == 3 && !ddl_name[0])
                    snprintf(ddl_name, sizeof ddl_name, "%.*s", (int)n, w);
            }
            /* X'00FF41', SQLite's blob literal (here a bit string) */
            if (n == 1 && (*w == 'x' || *w == 'X') && p < end && *p == '\'') {
                const char *q = p + 1;
                while (q < end && *q != '\'')
                    q++;
                q = q < end ? q + 1 : end;
                bo_buf_puts(&out, "decode(");
                bo_buf_append(&out, p, (size_t)(q - p));
                bo_buf_puts(&out, ", 'hex')");
                p = q;
                prev_integer = false;
                continue;
            }
            if (n == 9 && strncasecmp(w, "RETURNING", 9) == 0)
                returning = true;
            if (app && (word_in(w, n, (const char *const[]){ "GLOB", "MATCH", "REGEXP", "PRAGMA", NULL }))) {
                why = "this is not in the portable SQL subset (docs/apps.md)";
                break;
            }
            /* INTEGER PRIMARY KEY: a key the database assigns, as SQLite's rowid */
            if (prev_integer && n == 7 && strncasecmp(w, "PRIMARY", 7) == 0) {
                out.len = integer_at;
                bo_buf_puts(&out, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY");
                prev_integer = false;
                continue;
            }
            if (n == 13 && strncasecmp(w, "AUTOINCREMENT", 13) == 0)
                continue;
            if (n == 7 && strncasecmp(w, "WITHOUT", 7) == 0) {          /* WITHOUT ROWID */
                const char *q = bo_sql_skip_space(p, end);
                if (bo_sql_keyword(q, (size_t)(end - q), "ROWID")) {
                    p = q + 5;
                    continue;
                }
            }
            bool done = false;
            for (size_t i = 0; i < BO_COUNT(spelled); i++)
                if (strlen(spelled[i].from) == n && strncasecmp(w, spelled[i].from, n) == 0) {
                    if (i == 2) {
                        integer_at = out.len;
                        prev_integer = true;
                    } else {
                        prev_integer = false;
                    }
                    bo_buf_puts(&out, spelled[i].to);
                    done = true;
                    break;
                }
            if (!done) {
                bo_buf_append(&out, w, n);
                prev_integer = false;
            }
            continue;
        }
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            prev_integer = false;
        bo_buf_putc(&out, c);
        p++;
    }
    if (!why && words == 0)
        why = "no SQL statement given";
    if (why) {
        bo_buf_free(&out);
        return why;
    }
    bo_buf_putc(&out, '\0');
    info->text = out.data;
    info->nparams = max_param;
    info->insert = first_len == 6 && strncasecmp(first, "INSERT", 6) == 0 && !returning;
    info->platform_ddl = ddl && strncmp(ddl_name, "_borough_", 9) == 0;
    return NULL;
}

/* ---- connections ---- */

static void conn_stop_poll(pg_conn *c);

static void poll_closed(uv_handle_t *h)
{
    free(h);
}

static void conn_free(pg_conn *c)
{
    conn_stop_poll(c);
    if (c->commit_res)
        PQclear(c->commit_res);
    if (c->pg)
        PQfinish(c->pg);
    free(c);
}

/* Runs one command and waits (connection setup and provisioning only). */
static int simple(PGconn *pg, const char *sql, int nparams, const char *const *values, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(pg, sql, nparams, NULL, values, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        snprintf(err, errlen, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(pg));
        rc = error_of(state);
        if (rc == 0)
            rc = BO_EDB;
    }
    PQclear(r);
    return rc;
}

/* The server's notices (a table that exists already) are not for the log. */
static void quiet(void *ud, const char *message)
{
    BO_UNUSED(ud);
    BO_UNUSED(message);
}

/* Whether the server can be reached, shared by every connection of the
   process: after a failed connection, others are tried again only after a
   backoff (100 ms doubling to BACKOFF_MAX_MS), and meanwhile fail at once,
   so a request needing the database gets its 503 quickly however the
   server is lost, and /healthz says the node is not ready. */
#define BACKOFF_MAX_MS 2000
static pthread_mutex_t reach_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t down_since, next_try, backoff;
static int64_t outages;                 /* how many times the server went away */

static int64_t outages_now(void)
{
    pthread_mutex_lock(&reach_lock);
    int64_t n = outages;
    pthread_mutex_unlock(&reach_lock);
    return n;
}
static char *probe_url;                 /* the platform's login, for the probe */
static bool probing;

static void reached(bool ok, const char *why);

/* While the server is away, a thread of its own tries it again at each
   backoff, so the node comes back (and /healthz says so) without waiting
   for a request to try. */
static void *probe_main(void *arg)
{
    BO_UNUSED(arg);
    for (;;) {
        pthread_mutex_lock(&reach_lock);
        int64_t wait = next_try - bo_unix_ms();
        pthread_mutex_unlock(&reach_lock);
        if (wait > 0) {
            struct timespec ts = { (time_t)(wait / 1000), (long)(wait % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
        const char *keys[] = { "dbname", "connect_timeout", "application_name", NULL };
        const char *vals[] = { probe_url, CONNECT_TIMEOUT_S, "borough probe", NULL };
        PGconn *pg = PQconnectdbParams(keys, vals, 1);
        bool ok = pg && PQstatus(pg) == CONNECTION_OK;
        PQfinish(pg);
        pthread_mutex_lock(&reach_lock);
        bool still_down = down_since != 0;
        if (ok || !still_down)
            probing = false;
        pthread_mutex_unlock(&reach_lock);
        if (ok || !still_down) {
            if (ok)
                reached(true, NULL);
            return NULL;
        }
        reached(false, "probe");
    }
}

bool bo_pg_unreachable(void)
{
    pthread_mutex_lock(&reach_lock);
    bool down = down_since != 0;
    pthread_mutex_unlock(&reach_lock);
    return down;
}

/* false (with why in err) when a connection may not be tried yet. */
static bool may_try(char *err, size_t errlen)
{
    pthread_mutex_lock(&reach_lock);
    int64_t now = bo_unix_ms(), wait = down_since && now < next_try ? next_try - now : 0;
    pthread_mutex_unlock(&reach_lock);
    if (wait > 0)
        snprintf(err, errlen, "the database is unreachable (trying again in %lld ms)", (long long)wait);
    return wait == 0;
}

static void reached(bool ok, const char *why)
{
    pthread_mutex_lock(&reach_lock);
    int64_t now = bo_unix_ms();
    bool was_down = down_since != 0;
    if (ok) {
        down_since = backoff = 0;
    } else {
        if (!was_down) {
            down_since = now;
            outages++;
        }
        backoff = backoff ? backoff * 2 : 100;
        if (backoff > BACKOFF_MAX_MS)
            backoff = BACKOFF_MAX_MS;
        next_try = now + backoff;
    }
    int64_t since = down_since;
    bool probe = !ok && !probing && probe_url;
    if (probe)
        probing = true;
    pthread_mutex_unlock(&reach_lock);
    if (probe) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, probe_main, NULL) != 0) {
            pthread_mutex_lock(&reach_lock);
            probing = false;
            pthread_mutex_unlock(&reach_lock);
        }
        pthread_attr_destroy(&attr);
    }
    if (ok && was_down)
        bo_log(BO_LOG_INFO, NULL, "the database is reachable again");
    else if (!ok && !was_down)
        bo_log(BO_LOG_ERROR, NULL, "the database is unreachable: %s; trying again with backoff", why);
    BO_UNUSED(since);
}

static PGconn *connect_as(const char *url, const char *user, const char *password, const char *schema,
                          char *err, size_t errlen)
{
    if (!may_try(err, errlen))
        return NULL;
    /* The schema alone on the path, temporary objects last: PostgreSQL
       then looks in pg_catalog first, so a function or operator an app
       makes in its schema, named as one of PostgreSQL's, never stands for
       it in the platform's statements (the owner's rights run those on the
       platform's connections to the app's schema); new objects go into the
       schema. As borough_fn.platform_exec pins it. */
    char opts[300];
    snprintf(opts, sizeof opts, "-c search_path=\"%s\",pg_temp -c statement_timeout=%d "
                                "-c idle_in_transaction_session_timeout=120000", schema, STATEMENT_TIMEOUT_MS);
    const char *keys[8], *vals[8];
    int n = 0;
    keys[n] = "dbname"; vals[n++] = url;
    if (user) {
        keys[n] = "user"; vals[n++] = user;
    }
    if (password) {
        keys[n] = "password"; vals[n++] = password;
    }
    keys[n] = "options"; vals[n++] = opts;
    keys[n] = "connect_timeout"; vals[n++] = CONNECT_TIMEOUT_S;
    keys[n] = "application_name"; vals[n++] = "borough";
    keys[n] = NULL; vals[n] = NULL;
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to the database (%s): %s", bo_db_url_shown() ? bo_db_url_shown() : "",
                 pg ? PQerrorMessage(pg) : "out of memory");
        size_t l = strlen(err);
        while (l > 0 && err[l - 1] == '\n')
            err[--l] = '\0';
        /* refused for a reason of its own (a wrong password, no such
           database) is an answer: the server is there */
        bool answered = pg && PQconnectionNeedsPassword(pg);
        PQfinish(pg);
        reached(answered, err);
        return NULL;
    }
    if (!user) {
        pthread_mutex_lock(&reach_lock);
        if (!probe_url)
            probe_url = bo_strdup(url);     /* kept for the process's life */
        pthread_mutex_unlock(&reach_lock);
    }
    reached(true, NULL);
    PQsetClientEncoding(pg, "UTF8");
    PQsetNoticeProcessor(pg, quiet, NULL);
    return pg;
}

static pg_conn *conn_open(pg_db *db, char *err, size_t errlen)
{
    PGconn *pg = connect_as(db->url, db->role, db->password, db->schema, err, errlen);
    if (!pg)
        return NULL;
    if (PQenterPipelineMode(pg) != 1 || PQsetnonblocking(pg, 1) != 0) {
        snprintf(err, errlen, "the database connection cannot pipeline: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    pg_conn *c = bo_calloc(1, sizeof *c);
    c->db = db;
    c->pg = pg;
    c->poll_fd = -1;
    c->outage = outages_now();
    c->next = db->conns;
    db->conns = c;
    db->nconns++;
    return c;
}

static void conn_remove(pg_db *db, pg_conn *c)
{
    for (pg_conn **pp = &db->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            db->nconns--;
            break;
        }
    if (db->cur == c)
        db->cur = NULL;
    conn_free(c);
}

/* An idle connection (opening one while there are fewer than max), or NULL. */
static pg_conn *conn_idle(pg_db *db, int max, char *err, size_t errlen)
{
    /* an idle connection older than the last outage is dead (the server
       restarted or failed over meanwhile), whether it knows it yet or not */
    int64_t outage = outages_now();
    for (pg_conn *c = db->conns; c; c = c->next)
        if (!c->in_use && !c->pinned && c->outage != outage)
            c->failed = true;
    for (pg_conn *c = db->conns; c; c = c->next)
        if (!c->in_use && !c->pinned && !c->failed)
            return c;
    /* broken idle connections are replaced */
    for (pg_conn *c = db->conns, *next; c; c = next) {
        next = c->next;
        if (c->failed && !c->in_use && !c->pinned)
            conn_remove(db, c);
    }
    if (db->nconns >= max) {
        snprintf(err, errlen, "all %d connections to the database are busy", db->nconns);
        return NULL;
    }
    return conn_open(db, err, errlen);
}

/* ---- exchanges ---- */

static void stmt_clear_result(pg_stmt *s)
{
    if (s->res)
        PQclear(s->res);
    s->res = NULL;
    s->ran = false;
    s->row = -1;
    s->nrows = 0;
    s->error = 0;
    for (int i = 0; i < s->nblobs; i++)
        s->blobs[i].len = 0;
}

/* The prefix commands due before the next statement on c: the
   transaction's BEGIN, lock and savepoints, and the platform's unlocking. */
static int send_prefix(pg_conn *c, bool platform_write)
{
    pg_db *db = c->db;
    while (c->tx_sent < c->tx_depth) {
        /* a name per depth: ROLLBACK TO keeps its savepoint, and the next
           one out must not find that one first */
        char sql[64] = "BEGIN";
        if (c->tx_sent > 0)
            snprintf(sql, sizeof sql, "SAVEPOINT bo_tx%d", c->tx_sent);
        else if (c->tx_read)
            snprintf(sql, sizeof sql, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        if (!PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0))
            return -1;
        c->slots[c->nslots++] = SLOT_PREFIX;
        if (c->tx_sent == 0 && !c->tx_read) {
            char key[32];
            snprintf(key, sizeof key, "%lld", (long long)db->lock_key);
            const char *v[1] = { key };
            if (!PQsendQueryParams(c->pg, "SELECT pg_advisory_xact_lock($1::bigint)", 1, NULL, v, NULL, NULL, 0))
                return -1;
            c->slots[c->nslots++] = SLOT_PREFIX;
        }
        c->tx_sent++;
    }
    if (platform_write) {
        const char *v[1] = { db->key };
        if (!PQsendQueryParams(c->pg, "SELECT borough_fn.unlock($1)", 1, NULL, v, NULL, NULL, 0))
            return -1;
        c->slots[c->nslots++] = SLOT_PREFIX;
    }
    return 0;
}

static void conn_broken(pg_conn *c, const char *why)
{
    if (!c->failed)
        reached(false, why);
    c->failed = true;
    if (!c->error[0])
        snprintf(c->error, sizeof c->error, "the connection to the database was lost: %s", why);
}

/* Sends s on c (which the caller has taken). Returns 0 or -1 (c broken). */
static int send_stmt(pg_conn *c, pg_stmt *s)
{
    pg_db *db = c->db;
    sql_info *info = s->entry ? &s->entry->info : &s->own;
    /* (a savepoint's end goes alone: after a failure the server refuses
       all but it, the platform's unlocking too) */
    bool platform_app = db->app && (db->base.flags & BO_DB_APP) && db->base.platform && !info->tx_control;
    c->nslots = c->slot = 0;
    c->got_null = false;
    c->error[0] = c->sqlstate[0] = '\0';
    c->has_last_id = false;
    c->abandoned = false;
    c->stmt = s;
    s->conn = c;
    stmt_clear_result(s);
    bool ddl_route = platform_app && info->platform_ddl;
    if (send_prefix(c, platform_app && !ddl_route) < 0)
        goto broken;
    int ok;
    if (ddl_route) {
        const char *v[2] = { db->key, info->text };
        ok = PQsendQueryParams(c->pg, "SELECT borough_fn.platform_exec($1, $2)", 2, NULL, v, NULL, NULL, 0);
    } else {
        /* SQLite lets a statement skip a parameter (?1 and ?3, no ?2);
           PostgreSQL wants a type for each, so one never named is text. */
        for (int i = 0; i < s->nparams && i < 64; i++)
            if (!(info->named & (1ULL << i)) && !s->types[i])
                s->types[i] = OID_TEXT;
        ok = PQsendQueryParams(c->pg, info->text, s->nparams, s->types, (const char *const *)s->values,
                               s->lengths, s->formats, 0);
    }
    if (!ok)
        goto broken;
    /* (the DDL's carrier returns a row of void: the statement has none) */
    c->slots[c->nslots++] = ddl_route ? SLOT_PREFIX : SLOT_STMT;
    if (info->insert && !ddl_route) {
        if (!PQsendQueryParams(c->pg, "SELECT borough_fn.last_id()", 0, NULL, NULL, NULL, NULL, 0))
            goto broken;
        c->slots[c->nslots++] = SLOT_LASTID;
    }
    if (platform_app && !ddl_route) {
        if (!PQsendQueryParams(c->pg, "SELECT borough_fn.lock()", 0, NULL, NULL, NULL, NULL, 0))
            goto broken;
        c->slots[c->nslots++] = SLOT_PREFIX;
    }
    if (!PQpipelineSync(c->pg))
        goto broken;
    c->in_use = true;
    s->pending = true;
    return 0;
broken:
    conn_broken(c, PQerrorMessage(c->pg));
    return -1;
}

/* Sends a transaction's end (COMMIT, or ROLLBACK when rollback). */
static int send_end(pg_conn *c, bool rollback)
{
    c->nslots = c->slot = 0;
    c->got_null = false;
    c->error[0] = c->sqlstate[0] = '\0';
    c->stmt = NULL;
    c->abandoned = false;
    if (!PQsendQueryParams(c->pg, rollback ? "ROLLBACK" : "COMMIT", 0, NULL, NULL, NULL, NULL, 0) ||
        !PQpipelineSync(c->pg)) {
        conn_broken(c, PQerrorMessage(c->pg));
        return -1;
    }
    c->slots[c->nslots++] = SLOT_COMMIT;
    c->in_use = true;
    return 0;
}

static void note_error(pg_conn *c, PGresult *r)
{
    if (c->error[0])
        return;                 /* the first one says why */
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state ? state : "");
    const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (state && (strncmp(state, "57P", 3) == 0 || strncmp(state, "08", 2) == 0))
        reached(false, primary ? primary : state);  /* the server is going away */
    /* A privilege refused reads as SQLite's authorizer says it, with why. */
    snprintf(c->error, sizeof c->error, "%s%s", state && strcmp(state, "42501") == 0 ? "not authorized: " : "",
             primary ? primary : PQresultErrorMessage(r));
}

/* Reads what has arrived. Returns 1 when the exchange is complete, 0 when
   more is to come, -1 when the connection broke. */
static int conn_read(pg_conn *c)
{
    if (!PQconsumeInput(c->pg)) {
        conn_broken(c, PQerrorMessage(c->pg));
        return -1;
    }
    while (!PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            if (c->slot < c->nslots)
                c->slot++;
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            return 1;
        }
        int kind = c->slot < c->nslots ? c->slots[c->slot] : SLOT_PREFIX;
        if (st == PGRES_FATAL_ERROR) {
            note_error(c, r);
            if (c->tx_sent > 0)
                c->tx_aborted = true;
            PQclear(r);
        } else if (st == PGRES_PIPELINE_ABORTED) {
            PQclear(r);
        } else if (kind == SLOT_STMT && c->stmt && !c->abandoned) {
            if (c->stmt->res)
                PQclear(c->stmt->res);
            c->stmt->res = r;
        } else if (kind == SLOT_LASTID) {
            if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
                c->last_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
                c->has_last_id = true;
            }
            PQclear(r);
        } else {
            PQclear(r);
        }
    }
    return 0;
}

static int flush(pg_conn *c)
{
    int f = PQflush(c->pg);
    if (f < 0)
        conn_broken(c, PQerrorMessage(c->pg));
    return f;
}

/* The exchange on c is complete: its answer goes to its statement. */
static void finish(pg_conn *c)
{
    pg_db *db = c->db;
    pg_stmt *s = c->stmt;
    c->in_use = false;
    c->stmt = NULL;
    if (s && !c->abandoned) {
        s->pending = false;
        s->ran = true;
        s->conn = NULL;
        if (c->failed && !c->error[0])
            conn_broken(c, "no answer");
        if (c->error[0]) {
            s->error = c->failed ? BO_EIO : error_of(c->sqlstate);
            if (s->error == 0)
                s->error = BO_EDB;
            set_err(db, c->error);
            if (s->res) {
                PQclear(s->res);
                s->res = NULL;
            }
        } else {
            s->nrows = s->res ? PQntuples(s->res) : 0;
            const char *t = s->res ? PQcmdTuples(s->res) : "";
            db->changes = t && *t ? strtoll(t, NULL, 10) : 0;
            if (c->has_last_id)
                db->last_id = c->last_id;
            /* the columns changed since last time: what was learnt of them is stale */
            if (s->entry && s->res) {
                uint64_t h = 1469598103934665603ULL;
                int n = PQnfields(s->res);
                for (int i = 0; i < n; i++)
                    for (const char *q = PQfname(s->res, i); *q; q++)
                        h = (h ^ (unsigned char)*q) * 1099511628211ULL;
                h ^= (uint64_t)n;
                if (h != s->entry->columns_hash) {
                    if (s->entry->columns_hash)
                        s->entry->generation++;
                    s->entry->columns_hash = h;
                }
            }
        }
    } else if (s) {
        s->pending = false;
        s->conn = NULL;
    }
    if (c->abandoned && c->tx_depth > 0 && !c->failed) {
        /* its waiter went away inside a transaction: end it here */
        c->tx_depth = c->tx_sent = 0;
        c->tx_aborted = false;
        c->pinned = false;
        send_end(c, true);
        c->abandoned = true;
    }
}

/* Waits for the exchange on c (blocking), running the progress check.
   Returns 0, or -1 when the connection broke. */
static int wait_blocking(pg_conn *c)
{
    pg_db *db = c->db;
    bool cancelled = false;
    for (;;) {
        int f = flush(c);
        if (f < 0)
            return -1;
        int rc = conn_read(c);
        if (rc < 0)
            return -1;
        if (rc == 1)
            return 0;
        struct pollfd pfd = { .fd = PQsocket(c->pg), .events = POLLIN | (f == 1 ? POLLOUT : 0) };
        int n = poll(&pfd, 1, PROGRESS_MS);
        if (n < 0 && errno != EINTR) {
            conn_broken(c, strerror(errno));
            return -1;
        }
        if (n == 0 && !cancelled && db->base.progress && !db->base.progress_paused &&
            db->base.progress(db->base.progress_ud)) {
            PGcancel *cn = PQgetCancel(c->pg);
            char buf[256];
            if (cn) {
                PQcancel(cn, buf, sizeof buf);
                PQfreeCancel(cn);
            }
            cancelled = true;
        }
    }
}

/* ---- waiting on the loop ---- */

static void on_poll(uv_poll_t *h, int status, int events);

static void conn_stop_poll(pg_conn *c)
{
    if (c->poll) {
        uv_poll_stop(c->poll);
        uv_close((uv_handle_t *)c->poll, poll_closed);
        c->poll = NULL;
    }
    c->poll_fd = -1;
}

static int conn_watch(pg_conn *c, uv_loop_t *loop)
{
    int fd = PQsocket(c->pg);
    if (c->poll && (c->poll_fd != fd || c->poll->loop != loop))
        conn_stop_poll(c);
    if (!c->poll) {
        c->poll = bo_malloc(sizeof *c->poll);
        if (uv_poll_init(loop, c->poll, fd) < 0) {
            free(c->poll);
            c->poll = NULL;
            return -1;
        }
        c->poll->data = c;
        c->poll_fd = fd;
    }
    int f = flush(c);
    if (f < 0)
        return -1;
    uv_poll_start(c->poll, UV_READABLE | (f == 1 ? UV_WRITABLE : 0), on_poll);
    return 0;
}

/* The exchange on c ended (or broke) while a waiter was on the loop. */
static void conn_done(pg_conn *c)
{
    pg_db *db = c->db;
    if (c->poll)
        uv_poll_stop(c->poll);
    bo_db_waiter *w = c->waiter;
    c->waiter = NULL;
    bool was_commit = db->commit_conn == c && c->stmt == NULL;
    bool abandoned = c->abandoned;
    finish(c);
    if (c->in_use) {            /* finish sent a rollback for an abandoned transaction */
        c->waiter = NULL;
        conn_watch(c, c->poll ? c->poll->loop : NULL);
        return;
    }
    if (was_commit) {
        db->commit_conn = NULL;
        db->commit_waiter = NULL;
        db->commit_rc = 0;
        if (c->error[0]) {
            db->commit_rc = c->failed ? BO_EIO : error_of(c->sqlstate);
            if (db->commit_rc == 0)
                db->commit_rc = BO_EDB;
            snprintf(db->commit_error, sizeof db->commit_error, "%s", c->error);
        }
    }
    if (abandoned && c->failed)
        conn_remove(db, c);
    if (w && !abandoned)
        w->ready(w);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    pg_conn *c = h->data;
    BO_UNUSED(events);
    if (status < 0) {
        conn_broken(c, uv_strerror(status));
        conn_done(c);
        return;
    }
    int f = flush(c);
    if (f < 0) {
        conn_done(c);
        return;
    }
    int rc = conn_read(c);
    if (rc != 0) {
        conn_done(c);
        return;
    }
    uv_poll_start(h, UV_READABLE | (f == 1 ? UV_WRITABLE : 0), on_poll);
}

/* Starts s on c for waiter w. Returns BO_DB_PENDING, or (the connection
   broke) 0 with s's answer the error. */
static int launch(pg_conn *c, pg_stmt *s, bo_db_waiter *w)
{
    if (send_stmt(c, s) < 0 || conn_watch(c, w->loop) < 0) {
        c->in_use = true;
        finish(c);
        return 0;
    }
    c->waiter = w;
    return BO_DB_PENDING;
}

/* ---- opening ---- */

/* The platform's schema and functions, made once per database and again
   when this version of them is new to it. */
#define BOOTSTRAP_VERSION "3"
static const char bootstrap_sql[] =
    "CREATE SCHEMA IF NOT EXISTS borough;\n"
    "CREATE SCHEMA IF NOT EXISTS borough_fn;\n"
    "REVOKE ALL ON SCHEMA borough FROM PUBLIC;\n"
    "CREATE TABLE IF NOT EXISTS borough.secrets (name text PRIMARY KEY, value text NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS borough.app_roles (app text PRIMARY KEY, role text NOT NULL,\n"
    "  password text NOT NULL);\n"
    "INSERT INTO borough.secrets VALUES ('owner', current_user) ON CONFLICT DO NOTHING;\n"
    "INSERT INTO borough.secrets VALUES ('platform_key', md5(random()::text || clock_timestamp()::text)\n"
    "  || md5(random()::text || pg_backend_pid()::text)) ON CONFLICT DO NOTHING;\n"
    "CREATE OR REPLACE FUNCTION borough_fn.key_ok(key text) RETURNS boolean LANGUAGE sql STABLE\n"
    "  SECURITY DEFINER SET search_path = pg_catalog AS\n"
    "  $$ SELECT key = (SELECT value FROM borough.secrets WHERE name = 'platform_key') $$;\n"
    "CREATE OR REPLACE FUNCTION borough_fn.unlock(key text) RETURNS void LANGUAGE plpgsql\n"
    "  SECURITY DEFINER SET search_path = pg_catalog AS $$\n"
    "BEGIN\n"
    "  IF NOT coalesce(borough_fn.key_ok(key), false) THEN\n"
    "    RAISE EXCEPTION 'only the platform writes its tables' USING ERRCODE = '42501';\n"
    "  END IF;\n"
    "  PERFORM set_config('borough.unlocked', md5(key || pg_current_xact_id()::text), true);\n"
    "END $$;\n"
    "CREATE OR REPLACE FUNCTION borough_fn.lock() RETURNS void LANGUAGE sql AS\n"
    "  $$ SELECT set_config('borough.unlocked', '', true) $$;\n"
    "CREATE OR REPLACE FUNCTION borough_fn.guard() RETURNS trigger LANGUAGE plpgsql\n"
    "  SECURITY DEFINER SET search_path = pg_catalog AS $$\n"
    "BEGIN\n"
    "  IF session_user::text = (SELECT value FROM borough.secrets WHERE name = 'owner') THEN RETURN NULL; END IF;\n"
    "  IF current_setting('borough.unlocked', true) = md5((SELECT value FROM borough.secrets\n"
    "       WHERE name = 'platform_key') || pg_current_xact_id()::text) THEN RETURN NULL; END IF;\n"
    "  RAISE EXCEPTION 'only the platform writes %', TG_TABLE_NAME USING ERRCODE = '42501';\n"
    "END $$;\n"
    "CREATE OR REPLACE FUNCTION borough_fn.platform_exec(key text, script text) RETURNS void\n"
    "  LANGUAGE plpgsql SECURITY DEFINER AS $$\n"
    "DECLARE t record; app_role text := session_user;\n"
    "  app_path text := pg_catalog.current_setting('search_path');\n"
    "BEGIN\n"
    "  IF NOT coalesce(borough_fn.key_ok(key), false) THEN\n"
    "    RAISE EXCEPTION 'only the platform changes its tables' USING ERRCODE = '42501';\n"
    "  END IF;\n"
    /* The owner's rights run the script: with the app's schema alone on
       the path (and temporary objects last), PostgreSQL's own names are
       found first, so nothing the app made (a function or operator named as
       one of PostgreSQL's) runs with them, and the platform's tables are
       still made in the app's schema. */
    "  PERFORM pg_catalog.set_config('search_path',\n"
    "    pg_catalog.quote_ident(pg_catalog.current_schema()) || ', pg_temp', true);\n"
    "  EXECUTE script;\n"
    "  FOR t IN SELECT c.relname, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
    "      WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE '\\_borough\\_%'\n"
    "        AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = 'borough_guard')\n"
    "  LOOP\n"
    "    EXECUTE format('CREATE TRIGGER borough_guard BEFORE INSERT OR UPDATE OR DELETE ON %I.%I '\n"
    "      'FOR EACH STATEMENT EXECUTE FUNCTION borough_fn.guard()', t.nspname, t.relname);\n"
    "    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.%I TO %I', t.nspname, t.relname, app_role);\n"
    "  END LOOP;\n"
    "  EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO %I', current_schema(), app_role);\n"
    "  PERFORM pg_catalog.set_config('search_path', app_path, true);\n"
    "END $$;\n"
    "CREATE OR REPLACE FUNCTION borough_fn.last_id() RETURNS bigint LANGUAGE plpgsql AS $$\n"
    "BEGIN RETURN lastval(); EXCEPTION WHEN others THEN RETURN NULL; END $$;\n"
    "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA borough_fn FROM PUBLIC;\n"
    /* SQLite's functions of the portable subset PostgreSQL lacks, for every
       role (docs/apps.md), and the case-blind collation (NOCASE). */
    "CREATE OR REPLACE FUNCTION borough_fn.julianday(t text) RETURNS double precision LANGUAGE sql STABLE\n"
    "  SET TimeZone = 'UTC' AS\n"
    "  $$ SELECT extract(epoch FROM CAST(t AS timestamptz)) / 86400 + 2440587.5 $$;\n"
    "GRANT EXECUTE ON FUNCTION borough_fn.julianday(text) TO PUBLIC;\n"
    /* instr: strpos, with the case-blind collation's columns compared as
       they are (PostgreSQL refuses a substring search under it). */
    "CREATE OR REPLACE FUNCTION borough_fn.instr(t text, part text) RETURNS integer LANGUAGE sql IMMUTABLE AS\n"
    "  $$ SELECT pg_catalog.strpos(t COLLATE \"C\", part COLLATE \"C\") $$;\n"
    "GRANT EXECUTE ON FUNCTION borough_fn.instr(text, text) TO PUBLIC;\n"
    "DO $$ BEGIN\n"
    "  CREATE COLLATION IF NOT EXISTS borough_fn.nocase (provider = icu, locale = 'und-u-ks-level2',\n"
    "    deterministic = false);\n"
    "EXCEPTION WHEN others THEN\n"
    "  CREATE COLLATION IF NOT EXISTS borough_fn.nocase FROM \"C\";\n"
    "END $$;\n"
    /* Full-text search (lua/borough/sql.lua): words as they are, lower case,
       without diacritics where the server has unaccent (a trusted
       extension: the database's owner may add it). */
    "DO $$ BEGIN\n"
    "  IF NOT EXISTS (SELECT 1 FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace\n"
    "                 WHERE n.nspname = 'borough_fn' AND c.cfgname = 'search') THEN\n"
    "    CREATE TEXT SEARCH CONFIGURATION borough_fn.search (COPY = pg_catalog.simple);\n"
    "    BEGIN\n"
    "      CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA borough_fn;\n"
    "      ALTER TEXT SEARCH CONFIGURATION borough_fn.search ALTER MAPPING FOR hword, hword_part, word\n"
    "        WITH borough_fn.unaccent, pg_catalog.simple;\n"
    "    EXCEPTION WHEN others THEN NULL;\n"
    "    END;\n"
    "  END IF;\n"
    "END $$;\n"
    "INSERT INTO borough.secrets VALUES ('bootstrap', '" BOOTSTRAP_VERSION "')\n"
    "  ON CONFLICT (name) DO UPDATE SET value = excluded.value;\n";

static int bootstrapped_for(PGconn *pg, char *err, size_t errlen)
{
    int rc = simple(pg, "BEGIN", 0, NULL, err, errlen);
    if (rc == 0)
        rc = simple(pg, "SELECT pg_advisory_xact_lock(7150337)", 0, NULL, err, errlen);
    if (rc == 0) {
        PGresult *r = PQexec(pg, "SELECT 1 FROM pg_namespace n WHERE nspname = 'borough_fn' AND EXISTS "
                                 "(SELECT 1 FROM borough.secrets WHERE name = 'bootstrap' AND value = '"
                                 BOOTSTRAP_VERSION "')");
        bool have = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        PQclear(r);
        if (!have)      /* the query failed (no schema yet): the transaction goes on */
            PQclear(PQexec(pg, "ROLLBACK")), PQclear(PQexec(pg, "BEGIN")),
                PQclear(PQexec(pg, "SELECT pg_advisory_xact_lock(7150337)"));
        if (!have) {
            r = PQexec(pg, bootstrap_sql);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                snprintf(err, errlen, "making the platform's schema: %s", PQresultErrorMessage(r));
                rc = BO_EDB;
            }
            PQclear(r);
        }
    }
    if (rc == 0)
        rc = simple(pg, "COMMIT", 0, NULL, err, errlen);
    else
        PQexec(pg, "ROLLBACK");
    return rc;
}

/* The key of the platform's writes, read as the platform. */
static char *read_key(PGconn *pg, char *err, size_t errlen)
{
    PGresult *r = PQexec(pg, "SELECT value FROM borough.secrets WHERE name = 'platform_key'");
    char *key = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        key = bo_strdup(PQgetvalue(r, 0, 0));
    else
        snprintf(err, errlen, "reading the platform's key: %s", PQresultErrorMessage(r));
    PQclear(r);
    return key;
}

static void quote_ident(bo_buf *b, const char *s)
{
    bo_buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            bo_buf_putc(b, '"');
        bo_buf_putc(b, *s);
    }
    bo_buf_putc(b, '"');
}

/* The app's role and schema, made on first use (under a lock: another
   node may be doing the same); its password into *password. */
static int provision_app(PGconn *pg, const char *app, const char *schema, char **role, char **password,
                         char *err, size_t errlen)
{
    const char *login = PQuser(pg);
    *role = bo_sprintf("%s__%s", login, app);
    if (strlen(*role) > 63 || strlen(schema) > 63) {
        snprintf(err, errlen, "the app name '%s' is too long for a PostgreSQL role (at most 63 bytes with "
                              "the login role's name)", app);
        return BO_EINVAL;
    }
    const char *v[1] = { app };
    PGresult *r = PQexecParams(pg, "SELECT password FROM borough.app_roles WHERE app = $1", 1, NULL, v, NULL,
                               NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        *password = bo_strdup(PQgetvalue(r, 0, 0));
        PQclear(r);
        return 0;
    }
    PQclear(r);
    int rc = simple(pg, "BEGIN", 0, NULL, err, errlen);
    if (rc == 0)
        rc = simple(pg, "SELECT pg_advisory_xact_lock(7150338)", 0, NULL, err, errlen);
    r = rc == 0 ? PQexecParams(pg, "SELECT password FROM borough.app_roles WHERE app = $1", 1, NULL, v, NULL,
                               NULL, 0) : NULL;
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        *password = bo_strdup(PQgetvalue(r, 0, 0));
        PQclear(r);
        return simple(pg, "COMMIT", 0, NULL, err, errlen);
    }
    PQclear(r);
    uint8_t raw[24];
    char hex[49];
    bo_random(raw, sizeof raw);
    bo_hex(raw, sizeof raw, hex);
    char *verifier = PQencryptPasswordConn(pg, hex, *role, "scram-sha-256");
    bo_buf sql;
    bo_buf_init(&sql);
    bo_buf_puts(&sql, "DO $do$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ");
    bo_buf_printf(&sql, "'%s'", *role);     /* login and app names: no quotes (checked by the caller) */
    bo_buf_puts(&sql, ") THEN CREATE ROLE ");
    quote_ident(&sql, *role);
    bo_buf_puts(&sql, " LOGIN NOINHERIT; END IF; END $do$;\nALTER ROLE ");
    quote_ident(&sql, *role);
    bo_buf_printf(&sql, " PASSWORD '%s';\nGRANT ", verifier ? verifier : "");
    quote_ident(&sql, *role);
    bo_buf_puts(&sql, " TO CURRENT_USER;\nCREATE SCHEMA IF NOT EXISTS ");
    quote_ident(&sql, schema);
    bo_buf_puts(&sql, ";\nGRANT USAGE, CREATE ON SCHEMA ");
    quote_ident(&sql, schema);
    bo_buf_puts(&sql, " TO ");
    quote_ident(&sql, *role);
    bo_buf_puts(&sql, ";\nGRANT USAGE ON SCHEMA borough_fn TO ");
    quote_ident(&sql, *role);
    bo_buf_puts(&sql, ";\nGRANT EXECUTE ON FUNCTION borough_fn.unlock(text), borough_fn.lock(), "
                      "borough_fn.platform_exec(text, text), borough_fn.last_id() TO ");
    quote_ident(&sql, *role);
    bo_buf_puts(&sql, ";\n");
    bo_buf_putc(&sql, '\0');
    PQfreemem(verifier);
    if (rc == 0 && !verifier) {
        snprintf(err, errlen, "%s", PQerrorMessage(pg));
        rc = BO_EDB;
    }
    if (rc == 0) {
        r = PQexec(pg, sql.data);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            snprintf(err, errlen, "making the role and schema of %s: %s", app, PQresultErrorMessage(r));
            rc = BO_EDB;
        }
        PQclear(r);
    }
    bo_buf_free(&sql);
    if (rc == 0) {
        const char *iv[3] = { app, *role, hex };
        rc = simple(pg, "INSERT INTO borough.app_roles (app, role, password) VALUES ($1, $2, $3)", 3, iv, err,
                    errlen);
    }
    if (rc == 0)
        rc = simple(pg, "COMMIT", 0, NULL, err, errlen);
    if (rc != 0) {
        PQclear(PQexec(pg, "ROLLBACK"));
        return rc;
    }
    *password = bo_strdup(hex);
    return 0;
}

static bool name_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\'' || *s == '\\' || (unsigned char)*s < ' ')
            return false;
    return true;
}

int bo_pg_open(bo_db **out, const char *url, const char *name, unsigned flags, char *err, size_t errlen)
{
    *out = NULL;
    if (name && !name_ok(name)) {
        snprintf(err, errlen, "'%s' cannot name a schema", name);
        return BO_EINVAL;
    }
    pg_db *db = bo_calloc(1, sizeof *db);
    db->base.ops = &pg_ops;
    db->base.flags = flags;
    db->url = bo_strdup(url);
    db->app = name ? bo_strdup(name) : NULL;
    db->schema = name ? bo_sprintf("app_%s", name) : bo_strdup("borough");
    /* The platform's connection: makes what is missing and reads the key. */
    PGconn *pg = connect_as(url, NULL, NULL, db->schema, err, errlen);
    int rc = pg ? 0 : BO_EIO;
    if (rc == 0 && !name_ok(PQuser(pg))) {
        snprintf(err, errlen, "the login role's name cannot have quotes");
        rc = BO_EINVAL;
    }
    if (rc == 0)
        rc = bootstrapped_for(pg, err, errlen);
    if (rc == 0 && !(db->key = read_key(pg, err, errlen)))
        rc = BO_EDB;
    if (rc == 0 && name) {
        char *role = NULL, *password = NULL;
        rc = provision_app(pg, name, db->schema, &role, &password, err, errlen);
        if (flags & BO_DB_APP) {
            db->role = role;
            db->password = password;
        } else {
            free(role);
            free(password);
        }
    }
    /* The app's write transactions take one lock, across nodes. */
    uint8_t h[32];
    bo_sha256(db->schema, strlen(db->schema), h);
    memcpy(&db->lock_key, h, sizeof db->lock_key);
    if (rc == 0) {
        pg_conn *c = bo_calloc(1, sizeof *c);
        if (db->role) {
            PQfinish(pg);
            pg = NULL;
            free(c);
            c = conn_open(db, err, errlen);
            if (!c)
                rc = BO_EIO;
        } else if (PQenterPipelineMode(pg) != 1 || PQsetnonblocking(pg, 1) != 0) {
            snprintf(err, errlen, "the database connection cannot pipeline");
            free(c);
            rc = BO_EDB;
        } else {
            c->db = db;
            c->pg = pg;
            c->poll_fd = -1;
            c->outage = outages_now();
            db->conns = c;
            db->nconns = 1;
            pg = NULL;
        }
    }
    if (pg)
        PQfinish(pg);
    if (rc != 0) {
        pg_ops.close(&db->base);
        return rc;
    }
    *out = &db->base;
    return 0;
}

/* ---- the statement cache ---- */

static pg_stmt *stmt_new(pg_db *db, cache_entry *e, const sql_info *info)
{
    pg_stmt *s = bo_calloc(1, sizeof *s);
    s->base.db = &db->base;
    s->entry = e;
    if (!e)
        s->own = *info;
    s->nparams = info->nparams;
    int n = s->nparams > 0 ? s->nparams : 1;
    s->values = bo_calloc((size_t)n, sizeof *s->values);
    s->lengths = bo_calloc((size_t)n, sizeof *s->lengths);
    s->formats = bo_calloc((size_t)n, sizeof *s->formats);
    s->types = bo_calloc((size_t)n, sizeof *s->types);
    s->owned = bo_calloc((size_t)n, sizeof *s->owned);
    s->row = -1;
    return s;
}

static void stmt_clear_params(pg_stmt *s)
{
    for (int i = 0; i < s->nparams; i++) {
        if (s->owned[i])
            free(s->values[i]);
        s->values[i] = NULL;
        s->owned[i] = false;
        s->lengths[i] = 0;
        s->formats[i] = 0;
        s->types[i] = 0;
    }
}

static void stmt_free(pg_stmt *s)
{
    if (!s)
        return;
    if (s->pending && s->conn) {
        s->conn->abandoned = true;      /* the answer is dropped when it comes */
        s->conn->stmt = NULL;
    }
    stmt_clear_params(s);
    stmt_clear_result(s);
    for (int i = 0; i < s->nblobs; i++)
        bo_buf_free(&s->blobs[i]);
    free(s->blobs);
    free(s->values);
    free(s->lengths);
    free(s->formats);
    free(s->types);
    free(s->owned);
    if (!s->entry)
        free(s->own.text);
    free(s);
}

static void entry_free(pg_db *db, cache_entry *e)
{
    if (db->base.evict && e->user_ref)
        db->base.evict(db->base.evict_ud, e->user_ref);
    for (pg_stmt *s = e->stmts, *next; s; s = next) {
        next = s->next;
        stmt_free(s);
    }
    free(e->info.text);
    free(e->sql);
    free(e);
}

static bool entry_busy(cache_entry *e)
{
    for (pg_stmt *s = e->stmts; s; s = s->next)
        if (s->pending)
            return true;
    return false;
}

/* Drops the least recently used half of the entries no caller is using. */
static void cache_shrink(pg_db *db)
{
    uint64_t cut = db->tick - db->cached / 2;
    for (unsigned i = 0; i < CACHE_MAX; i++)
        for (cache_entry **pp = &db->buckets[i]; *pp;) {
            cache_entry *e = *pp;
            if (e->used < cut && !entry_busy(e)) {
                *pp = e->next;
                entry_free(db, e);
                db->cached--;
            } else {
                pp = &e->next;
            }
        }
}

static bo_stmt *pg_prepare(bo_db *d, const char *sql, size_t len, char *err, size_t errlen)
{
    pg_db *db = DB(d);
    uint64_t h = bo_fnv1a(sql, len) ^ d->platform;
    cache_entry **bucket = &db->buckets[h % CACHE_MAX];
    cache_entry *e = *bucket;
    while (e && !(e->len == len && e->platform == d->platform && memcmp(e->sql, sql, len) == 0))
        e = e->next;
    if (!e) {
        sql_info info;
        const char *why = translate(sql, len, (d->flags & BO_DB_APP) && !d->platform, &info);
        if (why) {
            snprintf(err, errlen, "%s", why);
            return NULL;
        }
        if (db->cached >= CACHE_MAX)
            cache_shrink(db);
        e = bo_calloc(1, sizeof *e);
        e->sql = bo_strndup(sql, len);
        e->len = len;
        e->platform = d->platform;
        e->info = info;
        e->next = *bucket;
        *bucket = e;
        db->cached++;
    }
    e->used = ++db->tick;
    pg_stmt *s = e->stmts;
    while (s && s->pending)
        s = s->next;
    if (!s) {
        s = stmt_new(db, e, &e->info);
        s->next = e->stmts;
        e->stmts = s;
    }
    stmt_clear_result(s);
    stmt_clear_params(s);
    return &s->base;
}

static int *pg_stmt_user_ref(bo_db *d, bo_stmt *st)
{
    BO_UNUSED(d);
    return ST(st)->entry ? &ST(st)->entry->user_ref : NULL;
}

static int pg_stmt_prepare(bo_db *d, const char *sql, int len, bo_stmt **out)
{
    pg_db *db = DB(d);
    *out = NULL;
    sql_info info;
    const char *why = translate(sql, len < 0 ? strlen(sql) : (size_t)len, false, &info);
    if (why) {
        set_err(db, why);
        return BO_EDB;
    }
    *out = &stmt_new(db, NULL, &info)->base;
    return 0;
}

static void pg_finalize(bo_stmt *s)
{
    stmt_free(ST(s));
}

/* ---- binding ---- */

static int bind_param(pg_stmt *s, int i, const char *p, int len, bool copy, int format, Oid type)
{
    if (i < 1 || i > s->nparams)
        return BO_EINVAL;
    i--;
    if (s->owned[i])
        free(s->values[i]);
    s->owned[i] = false;
    if (copy && p) {
        char *c = bo_malloc((size_t)len + 1);
        memcpy(c, p, (size_t)len);
        c[len] = '\0';
        s->values[i] = c;
        s->owned[i] = true;
    } else {
        s->values[i] = (char *)p;
    }
    s->lengths[i] = len;
    s->formats[i] = format;
    s->types[i] = type;
    return 0;
}

static int pg_bind_int64(bo_stmt *st, int i, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    return bind_param(ST(st), i, buf, n, true, 0, 0);
}

static int pg_bind_double(bo_stmt *st, int i, double v)
{
    char buf[40];
    int n;
    if (v != v)
        n = snprintf(buf, sizeof buf, "NaN");
    else if (v > 1e308 * 10)
        n = snprintf(buf, sizeof buf, "Infinity");
    else if (v < -1e308 * 10)
        n = snprintf(buf, sizeof buf, "-Infinity");
    else                        /* the shortest text that reads back as v: a NUMERIC keeps it as given */
        for (int digits = 15; digits <= 17; digits++)
            if ((n = snprintf(buf, sizeof buf, "%.*g", digits, v)) > 0 && strtod(buf, NULL) == v)
                break;
    return bind_param(ST(st), i, buf, n, true, 0, 0);
}

static int pg_bind_null(bo_stmt *st, int i)
{
    return bind_param(ST(st), i, NULL, 0, false, 0, 0);
}

static int pg_bind_text(bo_stmt *st, int i, const char *p, int64_t len, bool copy)
{
    if (len > INT32_MAX)
        return BO_ELIMIT;
    /* the server wants text NUL-terminated: a reference to a Lua string is */
    return bind_param(ST(st), i, p, (int)len, copy || p[len] != '\0', 0, 0);
}

static int pg_bind_blob(bo_stmt *st, int i, const void *p, int64_t len, bool copy)
{
    if (len > INT32_MAX)
        return BO_ELIMIT;
    if (!p)
        return pg_bind_null(st, i);
    return bind_param(ST(st), i, p, (int)len, copy, 1, OID_BYTEA);
}

static int pg_bind_column(bo_stmt *st, int i, bo_stmt *src, int col);

static int pg_param_count(bo_stmt *st)
{
    return ST(st)->nparams;
}

/* ---- running ---- */

/* The connection a statement of db runs on now, for a caller that blocks. */
static pg_conn *conn_for_blocking(pg_db *db, char *err, size_t errlen)
{
    if (db->cur)
        return db->cur;
    return conn_idle(db, POOL_HARD_MAX, err, errlen);
}

/* The connection a transaction asked for is taken now (before its first
   statement): the caller holds it until the end. */
static pg_conn *tx_conn(pg_db *db)
{
    return db->cur;
}

static int run_blocking(pg_stmt *s)
{
    pg_db *db = DB(s->base.db);
    char err[256];
    pg_conn *c = conn_for_blocking(db, err, sizeof err);
    if (!c) {
        set_err(db, err);
        s->ran = true;
        s->error = BO_EBUSY;
        return s->error;
    }
    if (c->in_use) {
        set_err(db, "the transaction's connection is busy");
        s->ran = true;
        s->error = BO_EBUSY;
        return s->error;
    }
    if (send_stmt(c, s) == 0)
        wait_blocking(c);
    c->in_use = true;
    finish(c);
    if (c->failed && !c->pinned && !c->in_use)
        conn_remove(db, c);
    return s->error;
}

static int pg_step(bo_stmt *st)
{
    pg_stmt *s = ST(st);
    if (s->pending)
        return BO_EBUSY;
    if (!s->ran) {
        int rc = run_blocking(s);
        if (rc < 0)
            return rc;
    }
    if (s->error)
        return s->error;
    for (int i = 0; i < s->nblobs; i++)
        s->blobs[i].len = 0;
    if (s->row + 1 < s->nrows) {
        s->row++;
        return BO_DB_ROW;
    }
    s->row = s->nrows;
    return BO_DB_DONE;
}

static void pg_reset(bo_stmt *st)
{
    pg_stmt *s = ST(st);
    if (s->pending)
        return;
    stmt_clear_result(s);
}

static void pg_clear(bo_stmt *st)
{
    stmt_clear_params(ST(st));
}

/* ---- columns ---- */

static bool on_row(pg_stmt *s, int col)
{
    return s->res && s->row >= 0 && s->row < s->nrows && col >= 0 && col < PQnfields(s->res);
}

static int pg_column_count(bo_stmt *st)
{
    pg_stmt *s = ST(st);
    return s->res ? PQnfields(s->res) : 0;
}

static const char *pg_column_name(bo_stmt *st, int col)
{
    pg_stmt *s = ST(st);
    return s->res && col < PQnfields(s->res) ? PQfname(s->res, col) : NULL;
}

static bool numeric_is_integer(const char *v)
{
    if (*v == '-')
        v++;
    if (!*v)
        return false;
    size_t n = 0;
    for (; *v; v++, n++)
        if (*v < '0' || *v > '9')
            return false;
    return n <= 18;
}

static bo_db_type pg_column_type(bo_stmt *st, int col)
{
    pg_stmt *s = ST(st);
    if (!on_row(s, col) || PQgetisnull(s->res, s->row, col))
        return BO_DB_NULL;
    switch (PQftype(s->res, col)) {
    case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID: case OID_BOOL:
        return BO_DB_INTEGER;
    case OID_FLOAT4: case OID_FLOAT8:
        return BO_DB_FLOAT;
    case OID_NUMERIC:
        return numeric_is_integer(PQgetvalue(s->res, s->row, col)) ? BO_DB_INTEGER : BO_DB_FLOAT;
    case OID_BYTEA:
        return BO_DB_BLOB;
    default:
        return BO_DB_TEXT;
    }
}

static int64_t pg_column_int64(bo_stmt *st, int col)
{
    pg_stmt *s = ST(st);
    if (!on_row(s, col) || PQgetisnull(s->res, s->row, col))
        return 0;
    const char *v = PQgetvalue(s->res, s->row, col);
    if (PQftype(s->res, col) == OID_BOOL)
        return v[0] == 't';
    if (PQftype(s->res, col) == OID_FLOAT4 || PQftype(s->res, col) == OID_FLOAT8 ||
        PQftype(s->res, col) == OID_NUMERIC)
        return (int64_t)strtod(v, NULL);
    return strtoll(v, NULL, 10);
}

static double pg_column_double(bo_stmt *st, int col)
{
    pg_stmt *s = ST(st);
    if (!on_row(s, col) || PQgetisnull(s->res, s->row, col))
        return 0;
    const char *v = PQgetvalue(s->res, s->row, col);
    if (PQftype(s->res, col) == OID_BOOL)
        return v[0] == 't';
    return strtod(v, NULL);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The decoded bytes of a bytea column of the current row. */
static bo_buf *blob_of(pg_stmt *s, int col)
{
    int n = PQnfields(s->res);
    if (s->nblobs < n) {
        s->blobs = bo_realloc(s->blobs, sizeof *s->blobs * (size_t)n);
        for (int i = s->nblobs; i < n; i++)
            bo_buf_init(&s->blobs[i]);
        s->nblobs = n;
    }
    bo_buf *b = &s->blobs[col];
    if (b->len == 0) {
        const char *v = PQgetvalue(s->res, s->row, col);
        size_t len = (size_t)PQgetlength(s->res, s->row, col);
        bo_buf_reserve(b, len / 2 + 1);
        if (len >= 2 && v[0] == '\\' && v[1] == 'x') {
            for (size_t i = 2; i + 1 < len; i += 2) {
                int hi = hexval(v[i]), lo = hexval(v[i + 1]);
                bo_buf_putc(b, (char)(hi * 16 + lo));
            }
        }
        bo_buf_putc(b, '\0');
        b->len--;
        if (b->len == 0)
            b->len = 0;
    }
    return b;
}

static const char *pg_column_text(bo_stmt *st, int col)
{
    pg_stmt *s = ST(st);
    if (!on_row(s, col) || PQgetisnull(s->res, s->row, col))
        return NULL;
    if (PQftype(s->res, col) == OID_BYTEA)
        return blob_of(s, col)->data ? blob_of(s, col)->data : "";
    if (PQftype(s->res, col) == OID_BOOL)
        return PQgetvalue(s->res, s->row, col)[0] == 't' ? "1" : "0";
    return PQgetvalue(s->res, s->row, col);
}

static const void *pg_column_blob(bo_stmt *st, int col)
{
    return pg_column_text(st, col);
}

static int pg_column_bytes(bo_stmt *st, int col)
{
    pg_stmt *s = ST(st);
    if (!on_row(s, col) || PQgetisnull(s->res, s->row, col))
        return 0;
    if (PQftype(s->res, col) == OID_BYTEA)
        return (int)blob_of(s, col)->len;
    if (PQftype(s->res, col) == OID_BOOL)
        return 1;
    return PQgetlength(s->res, s->row, col);
}

static int64_t pg_generation(bo_stmt *st)
{
    pg_stmt *s = ST(st);
    return s->entry ? s->entry->generation : 0;
}

static int pg_bind_column(bo_stmt *st, int i, bo_stmt *src, int col)
{
    switch (bo_stmt_column_type(src, col)) {
    case BO_DB_NULL:
        return pg_bind_null(st, i);
    case BO_DB_INTEGER:
        return pg_bind_int64(st, i, bo_stmt_column_int64(src, col));
    case BO_DB_FLOAT:
        return pg_bind_double(st, i, bo_stmt_column_double(src, col));
    case BO_DB_BLOB:
        return pg_bind_blob(st, i, bo_stmt_column_blob(src, col), bo_stmt_column_bytes(src, col), true);
    default:
        return pg_bind_text(st, i, bo_stmt_column_text(src, col), bo_stmt_column_bytes(src, col), true);
    }
}

/* ---- the connection's calls ---- */

static void pg_close(bo_db *d)
{
    pg_db *db = DB(d);
    for (unsigned i = 0; i < CACHE_MAX; i++)
        for (cache_entry *e = db->buckets[i], *next; e; e = next) {
            next = e->next;
            entry_free(db, e);
        }
    for (pg_conn *c = db->conns, *next; c; c = next) {
        next = c->next;
        conn_free(c);
    }
    free(db->url);
    free(db->app);
    free(db->schema);
    free(db->role);
    if (db->password)
        memset(db->password, 0, strlen(db->password));
    free(db->password);
    if (db->key)
        memset(db->key, 0, strlen(db->key));
    free(db->key);
    free(db);
}

static const char *pg_errmsg(bo_db *d)
{
    return DB(d)->errmsg;
}

static int64_t pg_changes(bo_db *d)
{
    return DB(d)->changes;
}

static int64_t pg_last_insert_id(bo_db *d)
{
    return DB(d)->last_id;
}

/* Runs sql (one statement, platform SQL) and waits. */
static int run_one(pg_db *db, const char *sql, size_t len, char *err, size_t errlen)
{
    sql_info info;
    const char *why = translate(sql, len, false, &info);
    if (why) {
        snprintf(err, errlen, "%s", why);
        return BO_EDB;
    }
    pg_stmt *s = stmt_new(db, NULL, &info);
    int rc = run_blocking(s);
    if (rc < 0)
        snprintf(err, errlen, "%s", db->errmsg);
    stmt_free(s);
    return rc;
}

/* The end of the statement at p: its ';' outside quotes and comments,
   or a dollar-quoted body's end. */
static const char *statement_end(const char *p, const char *end)
{
    while (p < end) {
        char c = *p;
        if (c == '\'' || c == '"') {
            p++;
            while (p < end && !(*p == c && !(p + 1 < end && p[1] == c)))
                p += (*p == c) ? 2 : 1;
            p = p < end ? p + 1 : end;
        } else if (c == '-' && p + 1 < end && p[1] == '-') {
            while (p < end && *p != '\n')
                p++;
        } else if (c == '/' && p + 1 < end && p[1] == '*') {
            p += 2;
            while (p + 1 < end && !(p[0] == '*' && p[1] == '/'))
                p++;
            p = p + 1 < end ? p + 2 : end;
        } else if (c == '$') {
            const char *quoted = dollar_quoted_end(p, end);
            p = quoted ? quoted : p + 1;
        } else if (c == ';') {
            return p;
        } else {
            p++;
        }
    }
    return end;
}

static int pg_exec_script(bo_db *d, const char *sql, char *err, size_t errlen)
{
    pg_db *db = DB(d);
    const char *p = sql, *end = sql + strlen(sql);
    for (;;) {
        p = bo_sql_skip_space(p, end);
        if (p >= end)
            return 0;
        const char *e = statement_end(p, end);
        int rc = run_one(db, p, (size_t)(e - p), err, errlen);
        if (rc < 0)
            return rc;
        p = e;
    }
}

static int pg_run_app_script(bo_db *d, const char *sql, size_t len, int *line, char *err, size_t errlen)
{
    pg_db *db = DB(d);
    const char *p = sql, *end = sql + len;
    *line = 0;
    for (;;) {
        p = bo_sql_skip_space(p, end);
        if (p >= end)
            return 0;
        const char *e = statement_end(p, end);
        sql_info info;
        const char *why = translate(p, (size_t)(e - p), (d->flags & BO_DB_APP) != 0, &info);
        int rc = 0;
        if (why) {
            snprintf(err, errlen, "%s", why);
            rc = BO_EPERM;
        } else {
            pg_stmt *s = stmt_new(db, NULL, &info);
            rc = run_blocking(s);
            if (rc < 0)
                snprintf(err, errlen, "%s", db->errmsg);
            stmt_free(s);
        }
        if (rc < 0) {
            *line = 1;
            for (const char *q = sql; q < p; q++)
                *line += *q == '\n';
            return rc;
        }
        p = e;
    }
}

static void pg_set_platform(bo_db *d, bool on)
{
    BO_UNUSED(d);
    BO_UNUSED(on);          /* send_stmt reads d->platform */
}

static int pg_begin(bo_db *d, char *err, size_t errlen)
{
    pg_db *db = DB(d);
    if (!db->cur) {
        pg_conn *c = conn_idle(db, POOL_HARD_MAX, err, errlen);
        if (!c)
            return BO_EBUSY;
        c->pinned = true;
        db->cur = c;
    }
    db->cur->tx_depth++;
    return 0;
}

/* One snapshot, read only, without the app's write lock: sent before the
   first statement as BEGIN is. */
static int pg_begin_read(bo_db *d, char *err, size_t errlen)
{
    int rc = pg_begin(d, err, errlen);
    if (rc == 0)
        DB(d)->cur->tx_read = true;
    return rc;
}

/* Ends the transaction of db->cur at depth 1 and lets its connection go. */
static void tx_release(pg_db *db)
{
    pg_conn *c = db->cur;
    c->tx_depth = c->tx_sent = 0;
    c->tx_read = false;
    c->tx_aborted = false;
    c->pinned = false;
    db->cur = NULL;
    if (c->failed && !c->in_use)
        conn_remove(db, c);
}

static int pg_commit(bo_db *d, char *err, size_t errlen)
{
    pg_db *db = DB(d);
    pg_conn *c = tx_conn(db);
    if (!c || c->tx_depth == 0) {
        snprintf(err, errlen, "no transaction is open");
        return BO_EINVAL;
    }
    if (c->tx_depth > c->tx_sent) {         /* never sent: nothing to end */
        c->tx_depth--;
        if (c->tx_depth == 0)
            tx_release(db);
        return 0;
    }
    if (c->tx_depth > 1) {                   /* RELEASE goes before the next statement */
        char text[32];
        snprintf(text, sizeof text, "RELEASE bo_tx%d", c->tx_depth - 1);
        sql_info info = { .text = text, .tx_control = true };
        pg_stmt *s = stmt_new(db, NULL, &info);
        int rc = 0;
        if (send_stmt(c, s) == 0)
            wait_blocking(c);
        c->in_use = true;
        finish(c);
        rc = s->error;
        s->own.text = NULL;             /* on the stack: not freed with s */
        stmt_free(s);
        c->tx_depth--;
        c->tx_sent--;
        if (rc < 0)
            snprintf(err, errlen, "%s", db->errmsg);
        return rc;
    }
    int rc = 0;
    if (c->failed) {
        snprintf(err, errlen, "%s", c->error[0] ? c->error : "the connection to the database was lost");
        rc = BO_EIO;
    } else if (send_end(c, false) == 0) {
        wait_blocking(c);
        c->in_use = false;
        if (c->error[0]) {
            snprintf(err, errlen, "%s", c->error);
            rc = c->failed ? BO_EIO : error_of(c->sqlstate);
            if (rc == 0)
                rc = BO_EDB;
        }
    } else {
        snprintf(err, errlen, "%s", c->error);
        rc = BO_EIO;
    }
    tx_release(db);
    return rc;
}

static int pg_rollback(bo_db *d)
{
    pg_db *db = DB(d);
    pg_conn *c = tx_conn(db);
    if (!c || c->tx_depth == 0)
        return BO_EINVAL;
    if (c->tx_depth > c->tx_sent) {
        c->tx_depth--;
        if (c->tx_depth == 0)
            tx_release(db);
        return 0;
    }
    int rc = 0;
    if (c->tx_depth > 1) {
        char text[32];
        snprintf(text, sizeof text, "ROLLBACK TO bo_tx%d", c->tx_depth - 1);
        sql_info info = { .text = text, .tx_control = true };
        pg_stmt *s = stmt_new(db, NULL, &info);
        if (send_stmt(c, s) == 0)
            wait_blocking(c);
        c->in_use = true;
        finish(c);
        rc = s->error;
        s->own.text = NULL;             /* on the stack: not freed with s */
        stmt_free(s);
        c->tx_depth--;
        c->tx_sent--;
        return rc;
    }
    if (!c->failed && send_end(c, true) == 0) {
        wait_blocking(c);
        c->in_use = false;
    }
    tx_release(db);
    return rc;
}

static int pg_tx_depth(bo_db *d)
{
    pg_db *db = DB(d);
    return db->cur ? db->cur->tx_depth : 0;
}

static bool pg_in_tx(bo_db *d)
{
    return pg_tx_depth(d) > 0;
}

static void pg_rollback_all(bo_db *d)
{
    pg_db *db = DB(d);
    pg_conn *c = db->cur;
    if (!c)
        return;
    if (c->in_use) {                  /* its answer is still to come: it ends the transaction */
        c->abandoned = true;
        db->cur = NULL;
        return;
    }
    if (c->tx_sent > 0 && !c->failed && send_end(c, true) == 0) {
        wait_blocking(c);
        c->in_use = false;
    }
    tx_release(db);
}

static void pg_reset_busy(bo_db *d)
{
    pg_db *db = DB(d);
    for (unsigned i = 0; i < CACHE_MAX; i++)
        for (cache_entry *e = db->buckets[i]; e; e = e->next)
            for (pg_stmt *s = e->stmts; s; s = s->next)
                if (!s->pending)
                    stmt_clear_result(s);
}

static int pg_create_function(bo_db *d, const char *name, int nargs, bo_db_text_fn fn, void *ud)
{
    BO_UNUSED(d);
    BO_UNUSED(name);
    BO_UNUSED(nargs);
    BO_UNUSED(fn);
    BO_UNUSED(ud);
    return BO_EINVAL;
}

static int pg_backup(bo_db *d, const char *path, bo_db **copy, char *err, size_t errlen)
{
    BO_UNUSED(d);
    BO_UNUSED(path);
    *copy = NULL;
    snprintf(err, errlen, "a PostgreSQL database is backed up with its own tools (docs/operations.md)");
    return BO_EINVAL;
}

static int pg_checkpoint(bo_db *d, int *frames)
{
    BO_UNUSED(d);
    if (frames)
        *frames = 0;
    return 0;
}

/* ---- without blocking ---- */

/* The identity columns of table (made from INTEGER PRIMARY KEY) are moved
   on past the largest id. On an app's connection, a platform table's
   sequence is the platform's: the statement goes through
   borough_fn.platform_exec, as the platform's DDL does. */
static int pg_ids_follow(bo_db *d, const char *table, char *err, size_t errlen)
{
    pg_db *db = DB(d);
    bo_buf name, sql;
    bo_buf_init(&name);
    bo_buf_init(&sql);
    quote_ident(&name, table);
    bo_buf_putc(&name, '\0');
    bo_stmt *cols = NULL;
    int rc = pg_stmt_prepare(d,
                             "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(?) "
                             "AND attidentity <> '' AND NOT attisdropped", -1, &cols);
    if (rc == 0)
        rc = pg_bind_text(cols, 1, name.data, (int64_t)strlen(name.data), false);
    int step = BO_DB_DONE;
    while (rc == 0 && (step = pg_step(cols)) == BO_DB_ROW) {
        const char *col = pg_column_text(cols, 0);
        sql.len = 0;
        bo_buf_puts(&sql, "SELECT setval(pg_get_serial_sequence('");
        for (const char *p = name.data; *p; p++)
            bo_buf_append(&sql, *p == '\'' ? "''" : p, *p == '\'' ? 2 : 1);
        bo_buf_puts(&sql, "', '");
        for (const char *p = col; *p; p++)
            bo_buf_append(&sql, *p == '\'' ? "''" : p, *p == '\'' ? 2 : 1);
        bo_buf_puts(&sql, "'), coalesce(max(");
        quote_ident(&sql, col);
        bo_buf_printf(&sql, "), 0) + 1, false) FROM %s", name.data);
        bo_buf_putc(&sql, '\0');
        sql_info info = { .text = bo_strdup(sql.data) };
        info.platform_ddl = strncmp(table, "_borough_", 9) == 0;
        bool was = d->platform;
        d->platform = true;
        pg_stmt *s = stmt_new(db, NULL, &info);
        rc = run_blocking(s);
        if (rc < 0)
            snprintf(err, errlen, "%s: %s", table, db->errmsg);
        stmt_free(s);
        d->platform = was;
    }
    if (rc == 0 && step != BO_DB_DONE) {
        snprintf(err, errlen, "%s: %s", table, db->errmsg);
        rc = step < 0 ? step : BO_EDB;
    } else if (cols == NULL && rc < 0) {
        snprintf(err, errlen, "%s: %s", table, db->errmsg);
    }
    if (cols)
        pg_finalize(cols);
    bo_buf_free(&name);
    bo_buf_free(&sql);
    return rc;
}

static int pg_start(bo_stmt *st, bo_db_waiter *w)
{
    pg_stmt *s = ST(st);
    pg_db *db = DB(st->db);
    if (s->ran || s->pending)
        return 0;
    w->impl = db;
    pg_conn *c = db->cur;
    if (c) {
        if (c->in_use)
            return 0;               /* step will say the connection is busy */
        return launch(c, s, w);
    }
    char err[256];
    c = conn_idle(db, POOL_MAX, err, sizeof err);
    if (!c) {
        /* blocking is better than failing: the pool is full */
        return 0;
    }
    return launch(c, s, w);
}

static bool pg_saturated(bo_db *d)
{
    pg_db *db = DB(d);
    if (db->cur || db->nconns < POOL_HARD_MAX)
        return false;
    for (pg_conn *c = db->conns; c; c = c->next)
        if (!c->in_use && !c->pinned)
            return false;         /* idle (or broken, and so replaced) */
    return true;
}

static int pg_commit_start(bo_db *d, bo_db_waiter *w, char *err, size_t errlen)
{
    pg_db *db = DB(d);
    pg_conn *c = db->cur;
    if (!c || c->tx_depth != 1 || c->tx_sent == 0 || c->failed || c->in_use)
        return pg_commit(d, err, errlen);
    if (send_end(c, false) < 0 || conn_watch(c, w->loop) < 0)
        return pg_commit(d, err, errlen);
    w->impl = db;
    c->waiter = w;
    db->commit_conn = c;
    db->commit_waiter = w;
    db->commit_rc = 0;
    /* the transaction is over for the caller; the answer says how */
    c->tx_depth = c->tx_sent = 0;
    c->pinned = false;
    c->tx_aborted = false;
    db->cur = NULL;
    snprintf(err, errlen, "%s", "");
    return BO_DB_PENDING;
}

static int pg_commit_finish(bo_db *d, char *err, size_t errlen)
{
    pg_db *db = DB(d);
    if (db->commit_rc < 0)
        snprintf(err, errlen, "%s", db->commit_error);
    int rc = db->commit_rc;
    db->commit_rc = 0;
    return rc;
}

static void pg_cancel(bo_db_waiter *w)
{
    pg_db *db = w->impl;
    for (pg_conn *c = db->conns; c; c = c->next)
        if (c->waiter == w) {
            c->waiter = NULL;
            c->abandoned = true;
            if (c->stmt) {
                c->stmt->pending = false;
                c->stmt->conn = NULL;
                c->stmt = NULL;
            }
            PGcancel *cn = PQgetCancel(c->pg);
            char buf[256];
            if (cn) {
                PQcancel(cn, buf, sizeof buf);
                PQfreeCancel(cn);
            }
        }
    if (db->commit_waiter == w) {
        db->commit_waiter = NULL;
        db->commit_conn = NULL;
    }
}

static void *pg_detach(bo_db *d)
{
    pg_db *db = DB(d);
    pg_conn *c = db->cur;
    db->cur = NULL;
    return c;
}

static void pg_attach(bo_db *d, void *held)
{
    pg_db *db = DB(d);
    db->cur = held;
}

static const bo_db_ops pg_ops = {
    .close = pg_close,
    .errmsg = pg_errmsg,
    .changes = pg_changes,
    .last_insert_id = pg_last_insert_id,
    .prepare = pg_prepare,
    .stmt_user_ref = pg_stmt_user_ref,
    .exec_script = pg_exec_script,
    .run_app_script = pg_run_app_script,
    .set_platform = pg_set_platform,
    .begin = pg_begin,
    .begin_read = pg_begin_read,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .tx_depth = pg_tx_depth,
    .in_tx = pg_in_tx,
    .rollback_all = pg_rollback_all,
    .reset_busy = pg_reset_busy,
    .create_function = pg_create_function,
    .backup = pg_backup,
    .checkpoint = pg_checkpoint,
    .ids_follow = pg_ids_follow,
    .has_table_sql = "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?1",
    .has_column_sql = "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                      "AND table_name = ?1 AND column_name = ?2",
    .columns_sql = "SELECT c.table_name, c.column_name, CASE WHEN c.data_type IN ('bigint', 'integer', "
                   "'smallint', 'boolean') THEN 'INTEGER' WHEN c.data_type IN ('double precision', 'real', "
                   "'numeric') THEN 'REAL' WHEN c.data_type = 'bytea' THEN 'BLOB' ELSE 'TEXT' END "
                   "FROM information_schema.columns c JOIN pg_tables t ON t.schemaname = c.table_schema "
                   "AND t.tablename = c.table_name WHERE c.table_schema = current_schema() "
                   "ORDER BY c.table_name, c.ordinal_position",
    .failure_aborts_tx = true,
    .start = pg_start,
    .saturated = pg_saturated,
    .commit_start = pg_commit_start,
    .commit_finish = pg_commit_finish,
    .cancel = pg_cancel,
    .detach = pg_detach,
    .attach = pg_attach,
    .stmt_prepare = pg_stmt_prepare,
    .finalize = pg_finalize,
    .bind_int64 = pg_bind_int64,
    .bind_double = pg_bind_double,
    .bind_null = pg_bind_null,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_column = pg_bind_column,
    .param_count = pg_param_count,
    .step = pg_step,
    .reset = pg_reset,
    .clear = pg_clear,
    .column_count = pg_column_count,
    .column_name = pg_column_name,
    .column_type = pg_column_type,
    .column_int64 = pg_column_int64,
    .column_double = pg_column_double,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .column_bytes = pg_column_bytes,
    .generation = pg_generation,
};
