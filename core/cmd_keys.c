/*
 * cmd_keys.c - `borough keys list|rotate|retire [--data DIR]`: the keyring
 * of a data folder (crypto.h) and the values sealed with it.
 *
 *   list         each key, which is current, and how many values of each
 *                app's encrypted fields it seals
 *   rotate       adds a new key (unless the keys come from BOROUGH_KEYS,
 *                whose last line is then the new key), seals every value
 *                of every app again with it and recomputes the blind
 *                indexes, one transaction per app (an app whose
 *                transaction fails is left as it was: run rotate again)
 *   retire ID    removes a key that seals nothing from data/keys
 *
 * The encrypted fields of an app are those its last load recorded in
 * _borough_meta ('sealed': "entity.field ..."), so this needs the data
 * folder only, not the apps; its Notify outbox's recipients and bodies are
 * sealed the same way (notify.h) and are treated as two more fields (a
 * purged value, '', seals nothing; rotate seals a value an older version
 * kept in plain text). A running server keeps the keys it started
 * with, so rotate refuses while one answers on the data folder's control
 * socket: stop the server, rotate, start it again. The platform database's
 * sealed values (the two-factor secrets of staff accounts, and those being
 * set up) are counted, and sealed again, with them.
 */
#include "cli.h"
#include "control.h"
#include "crypto.h"
#include "db.h"
#include "platformdb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BATCH 1000

/* True if a server answers on data's control socket. */
static bool server_running(const char *data)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    int n = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/%s", data, BO_CONTROL_NAME);
    if (n < 0 || (size_t)n >= sizeof addr.sun_path)
        return false;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool up = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return up;
}

/* One app database and what it seals. */
typedef struct app_db {
    char name[256];
    bo_db *db;
    char *sealed;          /* "entity.field entity.field", the outbox's columns included (owned) */
    int blind_key;         /* 0 if it has no blind indexes */
} app_db;

#define OUTBOX "_borough_outbox"

static char *meta(bo_db *db, const char *key)
{
    bo_stmt *stmt = NULL;
    char *value = NULL;
    if (bo_stmt_prepare(db, "SELECT value FROM _borough_meta WHERE key = ?", -1, &stmt) ==
        BO_OK) {
        bo_stmt_bind_text(stmt, 1, key, -1);
        if (bo_stmt_step(stmt) == BO_DB_ROW)
            value = bo_strdup((const char *)bo_stmt_column_text(stmt, 0));
    }
    bo_stmt_finalize(stmt);
    return value;
}

static void app_close(app_db *a)
{
    bo_db_close(a->db);
    free(a->sealed);
    a->db = NULL;
    a->sealed = NULL;
}

typedef struct each_ctx {
    const bo_cli *cli;
    const char *data;
    int (*fn)(app_db *, void *);
    void *ud;
} each_ctx;

static int each_one(const char *name, void *ud)
{
    each_ctx *x = ud;
    app_db a = { .db = NULL };
    snprintf(a.name, sizeof a.name, "%s", name);
    char err[512];
    if (bo_db_open_app(&a.db, x->data, name, 0, err, sizeof err) < 0)
        return bo_cli_fail(x->cli, "%s", err);
    a.sealed = meta(a.db, "sealed");
    if (bo_db_has_table(a.db, OUTBOX)) {
        char *all = bo_sprintf("%s " OUTBOX ".recipient " OUTBOX ".body", a.sealed ? a.sealed : "");
        free(a.sealed);
        a.sealed = all;
    }
    char *bk = meta(a.db, "blind_key");
    a.blind_key = bk ? atoi(bk) : 0;
    free(bk);
    int rc = 0;
    if (a.sealed && a.sealed[0])
        rc = x->fn(&a, x->ud);
    app_close(&a);
    return rc;
}

/* Calls fn for each app database of data (data/<app>/app.db, or its schema
   on PostgreSQL) that has encrypted fields; stops at the first non-zero
   return. */
static int each_app(const bo_cli *cli, const char *data, int (*fn)(app_db *, void *), void *ud)
{
    each_ctx x = { cli, data, fn, ud };
    char err[512];
    int rc = bo_db_each_app(data, each_one, &x, err, sizeof err);
    if (rc < 0)
        return bo_cli_fail(cli, "%s", err);
    return rc;
}

/* Splits "entity.field" at *p into entity and field; advances *p. */
static bool next_field(const char **p, char entity[64], char field[64])
{
    while (**p == ' ')
        (*p)++;
    if (!**p)
        return false;
    const char *dot = strchr(*p, '.'), *end = strchr(*p, ' ');
    if (!end)
        end = *p + strlen(*p);
    if (!dot || dot > end || dot - *p >= 64 || end - dot - 1 >= 64) {
        *p = end;
        entity[0] = field[0] = '\0';
        return true;
    }
    snprintf(entity, 64, "%.*s", (int)(dot - *p), *p);
    snprintf(field, 64, "%.*s", (int)(end - dot - 1), dot + 1);
    *p = end;
    return true;
}

/* ---- the platform's own sealed values ---- */

/* The two-factor secrets in data/borough.db: each table, the query of its
   sealed values (row, account, value) and the statement that replaces one. */
static const struct {
    const char *select, *update;
} platform_secrets[] = {
    { "SELECT id, id, totp_secret FROM users WHERE totp_secret IS NOT NULL",
      "UPDATE users SET totp_secret = ? WHERE id = ?" },
    { "SELECT token_hash, user_id, secret FROM two_factor_pending WHERE secret IS NOT NULL",
      "UPDATE two_factor_pending SET secret = ? WHERE token_hash = ?" },
};

/* Counts (count, by the keyring's position, and *other) or, with
   resealed, seals again with the current key, in one transaction, the
   values of borough.db sealed with another. */
static int each_platform_secret(const bo_cli *cli, const char *data, const bo_keyring *k, long long *count,
                                long long *other, long long *resealed)
{
    bo_db *db;
    char err[512];
    if (bo_platformdb_open(&db, data, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    int rc = resealed ? bo_db_begin(db, err, sizeof err) : 0;
    int current = bo_keyring_current(k);
    bo_db *s = db;
    for (size_t t = 0; t < BO_COUNT(platform_secrets) && rc == 0; t++) {
        bo_stmt *sel = NULL, *upd = NULL;
        if (bo_stmt_prepare(s, platform_secrets[t].select, -1, &sel) != BO_OK ||
            bo_stmt_prepare(s, platform_secrets[t].update, -1, &upd) != BO_OK) {
            snprintf(err, sizeof err, "borough.db: %s", bo_db_errmsg(s));
            rc = BO_EDB;
        }
        while (rc == 0 && bo_stmt_step(sel) == BO_DB_ROW) {
            const char *v = (const char *)bo_stmt_column_text(sel, 2);
            size_t len = (size_t)bo_stmt_column_bytes(sel, 2);
            int id = bo_sealed_key_id(v, len);
            if (!resealed) {
                int i = 0;
                while (i < bo_keyring_count(k) && bo_keyring_id(k, i) != id)
                    i++;
                if (i < bo_keyring_count(k))
                    count[i]++;
                else
                    (*other)++;
                continue;
            }
            if (id == current)
                continue;
            char aad[64];
            bo_platformdb_totp_aad(aad, sizeof aad, bo_stmt_column_int64(sel, 1));
            bo_buf plain;
            bo_buf_init(&plain);
            char why[256];
            if (bo_unseal(k, aad, v, len, &plain, why, sizeof why) < 0) {
                snprintf(err, sizeof err, "borough.db: the two-factor secret of account %lld: %s",
                         (long long)bo_stmt_column_int64(sel, 1), why);
                rc = BO_EPERM;
            } else {
                char *sealed = bo_seal(k, aad, plain.data, plain.len);
                bo_stmt_bind_text_copy(upd, 1, sealed, -1);
                bo_stmt_bind_column(upd, 2, sel, 0);
                if (bo_stmt_step(upd) != BO_DB_DONE) {
                    snprintf(err, sizeof err, "borough.db: %s", bo_db_errmsg(s));
                    rc = BO_EDB;
                }
                bo_stmt_reset(upd);
                free(sealed);
                (*resealed)++;
            }
            if (plain.data)
                memset(plain.data, 0, plain.len);
            bo_buf_free(&plain);
        }
        bo_stmt_finalize(sel);
        bo_stmt_finalize(upd);
    }
    if (resealed && rc == 0)
        rc = bo_db_commit(db, err, sizeof err);
    if (resealed && rc < 0)
        bo_db_rollback(db);
    bo_db_close(db);
    if (rc < 0)
        return bo_cli_fail(cli, "%s%s", err, resealed ? " (nothing of borough.db changed)" : "");
    return 0;
}

/* ---- list ---- */

typedef struct usage {
    const bo_keyring *k;
    long long *count;      /* by the keyring's position */
    long long other;       /* values sealed with a key not in the ring */
    bo_buf blind;          /* "app (key N), ..." */
} usage;

static int count_app(app_db *a, void *ud)
{
    usage *u = ud;
    const char *p = a->sealed;
    char entity[64], field[64];
    while (next_field(&p, entity, field)) {
        if (!entity[0] || !bo_db_has_column(a->db, entity, field))
            continue;
        char *sql = bo_sprintf("SELECT \"%s\" FROM \"%s\" WHERE \"%s\" IS NOT NULL AND \"%s\" <> ''", field,
                               entity, field, field);
        bool outbox = strcmp(entity, OUTBOX) == 0;
        bo_stmt *stmt = NULL;
        if (bo_stmt_prepare(a->db, sql, -1, &stmt) == BO_OK) {
            while (bo_stmt_step(stmt) == BO_DB_ROW) {
                int id = bo_sealed_key_id((const char *)bo_stmt_column_text(stmt, 0),
                                          (size_t)bo_stmt_column_bytes(stmt, 0));
                if (id < 0 && outbox)
                    continue;                  /* kept in plain text by an older version: sealed by nothing */
                int i = 0;
                while (i < bo_keyring_count(u->k) && bo_keyring_id(u->k, i) != id)
                    i++;
                if (i < bo_keyring_count(u->k))
                    u->count[i]++;
                else
                    u->other++;
            }
        }
        bo_stmt_finalize(stmt);
        free(sql);
    }
    if (a->blind_key)
        bo_buf_printf(&u->blind, "%s%s (key %d)", u->blind.len ? ", " : "", a->name, a->blind_key);
    return 0;
}

/* Counts the values each key seals; count has one slot per key. */
static int count_usage(const bo_cli *cli, const char *data, usage *u)
{
    bo_buf_init(&u->blind);
    u->count = bo_calloc((size_t)bo_keyring_count(u->k), sizeof *u->count);
    u->other = 0;
    int rc = each_app(cli, data, count_app, u);
    return rc ? rc : each_platform_secret(cli, data, u->k, u->count, &u->other, NULL);
}

static int keys_list(const bo_cli *cli, const char *data, const bo_keyring *k)
{
    usage u = { .k = k };
    int rc = count_usage(cli, data, &u);
    if (rc == 0) {
        const char *env = getenv("BOROUGH_KEYS");
        printf("keys from %s%s\n", env && *env ? "BOROUGH_KEYS" : data, env && *env ? "" : "/keys");
        for (int i = 0; i < bo_keyring_count(k); i++)
            printf("key %d%s: seals %lld value%s\n", bo_keyring_id(k, i),
                   i == bo_keyring_count(k) - 1 ? " (current)" : "", u.count[i], u.count[i] == 1 ? "" : "s");
        if (u.other)
            printf("%lld value%s sealed with keys not in the ring\n", u.other, u.other == 1 ? " is" : "s are");
        printf("blind indexes: %s\n", u.blind.len ? u.blind.data : "none");
    }
    free(u.count);
    bo_buf_free(&u.blind);
    return rc;
}

/* ---- rotate ---- */

typedef struct rotation {
    const bo_cli *cli;
    const bo_keyring *k;
    long long resealed, indexed;
    unsigned apps;
} rotation;

/* Seals again, with the current key, the values of entity.field not
   sealed with it, and recomputes its blind index (if it has one) when the
   app's indexes were made with another key. Inside the app's transaction. */
static int rotate_field(rotation *r, app_db *a, const char *entity, const char *field, char *err, size_t errlen)
{
    char aad[400];
    snprintf(aad, sizeof aad, "%s/%s/%s", a->name, entity, field);
    int current = bo_keyring_current(r->k);
    char blind_col[80];
    snprintf(blind_col, sizeof blind_col, "%s__blind", field);
    bool reindex = a->blind_key != current && bo_db_has_column(a->db, entity, blind_col);
    bool outbox = strcmp(entity, OUTBOX) == 0;
    char *select = bo_sprintf("SELECT \"id\", \"%s\" FROM \"%s\" WHERE \"id\" > ? AND \"%s\" IS NOT NULL "
                              "AND \"%s\" <> '' ORDER BY \"id\" LIMIT %d", field, entity, field, field, BATCH);
    char *update = bo_sprintf("UPDATE \"%s\" SET \"%s\" = ?%s%s%s WHERE \"id\" = ?", entity, field,
                              reindex ? ", \"" : "", reindex ? blind_col : "", reindex ? "\" = ?" : "");
    bo_db *s = a->db;
    bo_stmt *sel = NULL, *upd = NULL;
    int rc = bo_stmt_prepare(s, select, -1, &sel);
    if (rc == BO_OK)
        rc = bo_stmt_prepare(s, update, -1, &upd);
    free(select);
    free(update);
    if (rc != BO_OK) {
        snprintf(err, errlen, "%s: %s.%s: %s", a->name, entity, field, bo_db_errmsg(s));
        bo_stmt_finalize(sel);
        bo_stmt_finalize(upd);
        return BO_EDB;
    }
    /* A batch is read in full before any row of it is written. */
    int64_t after = 0;
    long long n;
    bo_buf plain;
    bo_buf_init(&plain);
    int result = 0;
    do {
        n = 0;
        int64_t *ids = bo_calloc(BATCH, sizeof *ids);
        char **values = bo_calloc(BATCH, sizeof *values);
        bo_stmt_bind_int64(sel, 1, after);
        while ((rc = bo_stmt_step(sel)) == BO_DB_ROW) {
            ids[n] = bo_stmt_column_int64(sel, 0);
            values[n] = bo_strdup((const char *)bo_stmt_column_text(sel, 1));
            n++;
        }
        bo_stmt_reset(sel);
        for (long long i = 0; i < n && result == 0; i++) {
            after = ids[i];
            size_t len = strlen(values[i]);
            bool stale = bo_sealed_key_id(values[i], len) != current;
            if (!stale && !reindex)
                continue;
            plain.len = 0;
            char why[256];
            if (outbox && bo_sealed_key_id(values[i], len) < 0) {
                bo_buf_append(&plain, values[i], len);      /* kept in plain text by an older version */
            } else if (bo_unseal(r->k, aad, values[i], len, &plain, why, sizeof why) < 0) {
                snprintf(err, errlen, "%s: %s.%s of record %lld: %s", a->name, entity, field, (long long)ids[i], why);
                result = BO_EPERM;
                break;
            }
            char *sealed = stale ? bo_seal(r->k, aad, plain.data ? plain.data : "", plain.len) : NULL;
            bo_stmt_bind_text_copy(upd, 1, sealed ? sealed : values[i], -1);
            int last = 2;
            if (reindex) {
                char index[BO_BLIND_INDEX_CHARS + 1];
                bo_blind_index(r->k, aad, plain.data ? plain.data : "", plain.len, index);
                bo_stmt_bind_text_copy(upd, 2, index, -1);
                last = 3;
                r->indexed++;
            }
            bo_stmt_bind_int64(upd, last, ids[i]);
            if (plain.data)
                memset(plain.data, 0, plain.len);
            free(sealed);
            if (bo_stmt_step(upd) != BO_DB_DONE) {
                snprintf(err, errlen, "%s: %s.%s: %s", a->name, entity, field, bo_db_errmsg(s));
                result = BO_EDB;
            }
            bo_stmt_reset(upd);
            if (stale)
                r->resealed++;
        }
        for (long long i = 0; i < n; i++)
            free(values[i]);
        free(values);
        free(ids);
    } while (result == 0 && n == BATCH);
    bo_buf_free(&plain);
    bo_stmt_finalize(sel);
    bo_stmt_finalize(upd);
    return result;
}

static int rotate_app(app_db *a, void *ud)
{
    rotation *r = ud;
    char err[1024];
    int current = bo_keyring_current(r->k);
    bo_db_set_platform(a->db, true);
    if (bo_db_begin(a->db, err, sizeof err) < 0)
        return bo_cli_fail(r->cli, "%s: %s", a->name, err);
    const char *p = a->sealed;
    char entity[64], field[64];
    int rc = 0;
    while (rc == 0 && next_field(&p, entity, field))
        if (entity[0] && bo_db_has_column(a->db, entity, field))
            rc = rotate_field(r, a, entity, field, err, sizeof err);
    if (rc == 0 && a->blind_key && a->blind_key != current) {
        char *sql = bo_sprintf("UPDATE _borough_meta SET value = '%d' WHERE key = 'blind_key'", current);
        rc = bo_db_exec_script(a->db, sql, err, sizeof err);
        free(sql);
    }
    if (rc == 0)
        rc = bo_db_commit(a->db, err, sizeof err);
    if (rc < 0) {
        bo_db_rollback(a->db);
        return bo_cli_fail(r->cli, "%s (nothing of %s changed; fix this and run borough keys rotate again)", err,
                           a->name);
    }
    r->apps++;
    return 0;
}

static void record(const char *data, const char *action, const char *detail)
{
    bo_db *pdb;
    char err[512];
    const char *who = getenv("USER");
    if (bo_platformdb_open(&pdb, data, err, sizeof err) == 0) {
        if (bo_platformdb_audit(pdb, who && *who ? who : "operator", action, NULL, detail, err, sizeof err) < 0)
            fprintf(stderr, "borough keys: the platform audit log: %s\n", err);
        bo_db_close(pdb);
    } else {
        fprintf(stderr, "borough keys: %s\n", err);
    }
}

static int keys_rotate(const bo_cli *cli, const char *data)
{
    if (server_running(data))
        return bo_cli_fail(cli, "a server is running with the data folder %s: it keeps the keys it started with, "
                                "so stop it, rotate, and start it again", data);
    char err[512];
    const char *env = getenv("BOROUGH_KEYS");
    bool from_env = env && *env;
    int id = 0;
    if (!from_env && bo_keyring_rotate(data, &id, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    bo_keyring *k;
    if (bo_keyring_load(&k, data, false, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    rotation r = { .cli = cli, .k = k };
    int rc = each_app(cli, data, rotate_app, &r);
    if (rc == 0)
        rc = each_platform_secret(cli, data, k, NULL, NULL, &r.resealed);
    if (rc == 0) {
        printf("key %d is current%s; %lld value%s sealed again and %lld blind ind%s recomputed in %u app%s\n",
               bo_keyring_current(k), from_env ? " (the last line of BOROUGH_KEYS)" : " (new)", r.resealed,
               r.resealed == 1 ? "" : "s", r.indexed, r.indexed == 1 ? "ex" : "exes", r.apps, r.apps == 1 ? "" : "s");
        if (bo_keyring_count(k) > 1)
            printf("older keys seal nothing now: `borough keys retire ID` removes one from the keyring\n");
        char detail[200];
        snprintf(detail, sizeof detail, "key %d current; %lld values sealed again, %lld blind indexes recomputed",
                 bo_keyring_current(k), r.resealed, r.indexed);
        record(data, "keys rotate", detail);
    }
    bo_keyring_free(k);
    return rc;
}

/* ---- retire ---- */

static int keys_retire(const bo_cli *cli, const char *data, const bo_keyring *k, const char *arg)
{
    unsigned long id;
    if (bo_cli_parse_uint(arg, 1000000000, &id) < 0)
        return bo_cli_usage(cli, "%s is not a key id", arg);
    const char *env = getenv("BOROUGH_KEYS");
    if (env && *env)
        return bo_cli_fail(cli, "the keys come from BOROUGH_KEYS: remove the line of key %lu there", id);
    int pos = -1;
    for (int i = 0; i < bo_keyring_count(k); i++)
        if (bo_keyring_id(k, i) == (int)id)
            pos = i;
    if (pos < 0)
        return bo_cli_fail(cli, "there is no key %lu in %s/keys", id, data);
    if (pos == bo_keyring_count(k) - 1)
        return bo_cli_fail(cli, "key %lu is the current key: rotate first", id);
    usage u = { .k = k };
    int rc = count_usage(cli, data, &u);
    long long used = u.count ? u.count[pos] : 0;
    free(u.count);
    bo_buf_free(&u.blind);
    if (rc != 0)
        return rc;
    if (used > 0)
        return bo_cli_fail(cli, "key %lu still seals %lld value%s: run borough keys rotate first", id, used,
                           used == 1 ? "" : "s");
    /* The file again without that key's line, replaced in one rename. */
    char *path = bo_sprintf("%s/keys", data), *tmp = bo_sprintf("%s/keys.new", data);
    FILE *in = fopen(path, "r");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    bool ok = in && out;
    char line[512];
    while (ok && fgets(line, sizeof line, in)) {
        char *end;
        long lid = strtol(line, &end, 10);
        if (end != line && *end == ' ' && lid == (long)id)
            continue;
        ok = fputs(line, out) >= 0;
    }
    memset(line, 0, sizeof line);
    if (in)
        fclose(in);
    if (out) {
        ok = ok && fflush(out) == 0 && fsync(fileno(out)) == 0;
        ok = (fclose(out) == 0) && ok;
    } else if (fd >= 0) {
        close(fd);
    }
    if (ok)
        ok = rename(tmp, path) == 0;
    int e = errno;
    if (!ok)
        unlink(tmp);
    free(tmp);
    free(path);
    if (!ok)
        return bo_cli_fail(cli, "cannot rewrite %s/keys: %s", data, strerror(e));
    printf("key %lu retired\n", id);
    char detail[64];
    snprintf(detail, sizeof detail, "key %lu retired", id);
    record(data, "keys retire", detail);
    return 0;
}

int bo_cmd_keys(int argc, char **argv, const bo_cli *cli)
{
    const char *data = "data", *verb = NULL, *arg = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0) {
            if (i + 1 >= argc)
                return bo_cli_usage(cli, "--data needs a value");
            data = argv[++i];
        } else if (argv[i][0] == '-') {
            return bo_cli_usage(cli, "unknown option %s", argv[i]);
        } else if (!verb) {
            verb = argv[i];
        } else if (!arg) {
            arg = argv[i];
        } else {
            return bo_cli_usage(cli, "unexpected %s", argv[i]);
        }
    }
    if (!verb)
        return bo_cli_usage(cli, "say list, rotate or retire ID");
    bool retire = strcmp(verb, "retire") == 0;
    if (strcmp(verb, "list") != 0 && strcmp(verb, "rotate") != 0 && !retire)
        return bo_cli_usage(cli, "unknown keys command %s", verb);
    if (retire != (arg != NULL))
        return bo_cli_usage(cli, retire ? "retire needs a key id" : "unexpected %s", arg);
    if (!bo_cli_is_dir(data))
        return bo_cli_fail(cli, "no data folder %s", data);
    if (strcmp(verb, "rotate") == 0)
        return keys_rotate(cli, data);
    bo_keyring *k;
    char err[512];
    if (bo_keyring_load(&k, data, false, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    int rc = retire ? keys_retire(cli, data, k, arg) : keys_list(cli, data, k);
    bo_keyring_free(k);
    return rc;
}
