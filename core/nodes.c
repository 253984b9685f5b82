/*
 * nodes.c - the nodes sharing one database (see nodes.h).
 */
#include "nodes.h"

#include "crypto.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void bo_nodes_id(const char *data_dir, char out[BO_NODE_ID_LEN + 1])
{
    char text[256 + PATH_MAX + 2] = "";
    if (gethostname(text, 256) < 0)
        text[0] = '\0';
    text[255] = '\0';
    size_t n = strlen(text);
    text[n++] = '\n';
    char *real = realpath(data_dir, NULL);
    snprintf(text + n, sizeof text - n, "%s", real ? real : data_dir);
    free(real);
    uint8_t hash[32];
    bo_sha256(text, strlen(text), hash);
    for (int i = 0; i < BO_NODE_ID_LEN / 2; i++)
        snprintf(out + 2 * i, 3, "%02x", hash[i]);
}

int bo_nodes_beat(bo_db *db, const char *run_id, int64_t now, char *err, size_t errlen)
{
    static const char sql[] =
        "INSERT INTO _borough_nodes (run_id, seen_at) VALUES (?1, ?2) "
        "ON CONFLICT (run_id) DO UPDATE SET seen_at = excluded.seen_at";
    if (bo_db_dialect() != BO_POSTGRES)
        return 0;
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_text(stmt, 1, run_id, -1);
    bo_stmt_bind_int64(stmt, 2, now);
    int rc = bo_stmt_step(stmt);
    if (rc != BO_DB_DONE)
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
    bo_stmt_reset(stmt);
    return rc == BO_DB_DONE ? 0 : BO_EDB;
}

/* Runs sql with key and up to three numbers (those it names) bound;
   returns the rows changed or BO_EDB. */
static int run(bo_db *db, const char *sql, size_t len, const char *key, int64_t a, int64_t b, int64_t c,
               char *err, size_t errlen)
{
    bo_stmt *stmt = bo_db_prepare(db, sql, len, err, errlen);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_text(stmt, 1, key, -1);
    bo_stmt_bind_int64(stmt, 2, a);
    bo_stmt_bind_int64(stmt, 3, b);
    bo_stmt_bind_int64(stmt, 4, c);
    int rc = bo_stmt_step(stmt);
    if (rc != BO_DB_DONE)
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
    bo_stmt_reset(stmt);
    return rc == BO_DB_DONE ? (int)bo_db_changes(db) : BO_EDB;
}

#define RUN(db, sql, key, a, b, c, err, errlen) run((db), (sql), sizeof(sql) - 1, (key), (a), (b), (c), (err), (errlen))

int bo_nodes_window_take(bo_db *platform, const char *key, unsigned limit, int64_t window_ms, int64_t now,
                         char *err, size_t errlen)
{
    static const char make[] =
        "INSERT INTO notify_windows (key, times) VALUES (?1, '{}') ON CONFLICT (key) DO NOTHING";
    static const char take[] =
        "UPDATE notify_windows SET times = ARRAY(SELECT t FROM unnest(times) t WHERE t > CAST(?2 AS BIGINT) - ?4) "
        "|| CAST(?2 AS BIGINT) "
        "WHERE key = ?1 AND (SELECT count(*) FROM unnest(times) t WHERE t > CAST(?2 AS BIGINT) - ?4) < ?3";
    int rc = RUN(platform, take, key, now, limit, window_ms, err, errlen);
    if (rc == 0) {                         /* no row yet for the key, or full */
        if (RUN(platform, make, key, 0, 0, 0, err, errlen) < 0)
            return BO_EDB;
        rc = RUN(platform, take, key, now, limit, window_ms, err, errlen);
    }
    return rc < 0 ? BO_EDB : rc > 0;
}

int bo_nodes_window_move(bo_db *platform, const char *key, int64_t from, int64_t to, char *err, size_t errlen)
{
    /* one entry of from (others may share its value: they stay) */
    static const char move[] =
        "UPDATE notify_windows SET times = times[:array_position(times, CAST(?2 AS BIGINT)) - 1] "
        "|| CASE WHEN ?3 = 0 THEN CAST('{}' AS BIGINT[]) ELSE ARRAY[CAST(?3 AS BIGINT)] END "
        "|| times[array_position(times, CAST(?2 AS BIGINT)) + 1:] "
        "WHERE key = ?1 AND array_position(times, CAST(?2 AS BIGINT)) IS NOT NULL";
    return RUN(platform, move, key, from, to, 0, err, errlen) < 0 ? BO_EDB : 0;
}

static int step(bo_db *db, bo_stmt *stmt, char *err, size_t errlen)
{
    int rc = bo_stmt_step(stmt);
    if (rc != BO_DB_DONE && rc != BO_DB_ROW)
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
    return rc;
}

int bo_nodes_register(bo_db *platform, const char *node, const char *name, int64_t now, int64_t done,
                      const bo_nodes_app *apps, unsigned n, char *err, size_t errlen)
{
    static const char seen[] =
        "INSERT INTO node_registry (node, name, seen_ms, done) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (node) DO UPDATE SET name = excluded.name, seen_ms = excluded.seen_ms, "
        "done = CASE WHEN ?5 = 1 THEN excluded.done ELSE node_registry.done END";
    static const char forget[] = "DELETE FROM node_apps WHERE node = ?1";
    static const char add[] = "INSERT INTO node_apps (node, app, hash) VALUES (?1, ?2, ?3)";
    if (apps && bo_db_begin(platform, err, errlen) < 0)
        return BO_EDB;
    bo_stmt *stmt = bo_db_prepare(platform, seen, sizeof seen - 1, err, errlen);
    int rc = stmt ? BO_DB_DONE : BO_EDB;
    if (stmt) {
        bo_stmt_bind_text(stmt, 1, node, -1);
        bo_stmt_bind_text(stmt, 2, name, -1);
        bo_stmt_bind_int64(stmt, 3, now);
        bo_stmt_bind_int64(stmt, 4, done);
        bo_stmt_bind_int64(stmt, 5, apps != NULL);
        rc = step(platform, stmt, err, errlen);
        bo_stmt_reset(stmt);
    }
    if (apps && rc == BO_DB_DONE && (stmt = bo_db_prepare(platform, forget, sizeof forget - 1, err, errlen))) {
        bo_stmt_bind_text(stmt, 1, node, -1);
        rc = step(platform, stmt, err, errlen);
        bo_stmt_reset(stmt);
    } else if (apps && rc == BO_DB_DONE) {
        rc = BO_EDB;
    }
    for (unsigned i = 0; apps && rc == BO_DB_DONE && i < n; i++) {
        if (!(stmt = bo_db_prepare(platform, add, sizeof add - 1, err, errlen))) {
            rc = BO_EDB;
            break;
        }
        bo_stmt_bind_text(stmt, 1, node, -1);
        bo_stmt_bind_text(stmt, 2, apps[i].app, -1);
        bo_stmt_bind_text(stmt, 3, apps[i].hash, -1);
        rc = step(platform, stmt, err, errlen);
        bo_stmt_reset(stmt);
    }
    if (apps) {
        if (rc == BO_DB_DONE && bo_db_commit(platform, err, errlen) == 0)
            return 0;
        bo_db_rollback(platform);
        return BO_EDB;
    }
    return rc == BO_DB_DONE ? 0 : BO_EDB;
}

void bo_nodes_unregister(bo_db *platform, const char *node)
{
    static const char apps[] = "DELETE FROM node_apps WHERE node = ?1";
    static const char reg[] = "DELETE FROM node_registry WHERE node = ?1";
    char err[256];
    bo_stmt *stmt;
    if ((stmt = bo_db_prepare(platform, apps, sizeof apps - 1, err, sizeof err))) {
        bo_stmt_bind_text(stmt, 1, node, -1);
        bo_stmt_step(stmt);
        bo_stmt_reset(stmt);
    }
    if ((stmt = bo_db_prepare(platform, reg, sizeof reg - 1, err, sizeof err))) {
        bo_stmt_bind_text(stmt, 1, node, -1);
        bo_stmt_step(stmt);
        bo_stmt_reset(stmt);
    }
}

int64_t bo_nodes_reload_ask(bo_db *platform, const char *node, const char *app, int64_t now, char *err,
                            size_t errlen)
{
    static const char sql[] = "INSERT INTO node_reloads (app, node, at_ms) VALUES (?1, ?2, ?3) RETURNING id";
    bo_stmt *stmt = bo_db_prepare(platform, sql, sizeof sql - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_text(stmt, 1, app, -1);
    bo_stmt_bind_text(stmt, 2, node, -1);
    bo_stmt_bind_int64(stmt, 3, now);
    int64_t id = step(platform, stmt, err, errlen) == BO_DB_ROW ? bo_stmt_column_int64(stmt, 0) : BO_EDB;
    bo_stmt_reset(stmt);
    return id;
}

int bo_nodes_reload_last(bo_db *platform, int64_t *number, char *app, size_t appsize, char *err, size_t errlen)
{
    static const char sql[] = "SELECT id, app FROM node_reloads ORDER BY id DESC LIMIT 1";
    *number = 0;
    app[0] = '\0';
    bo_stmt *stmt = bo_db_prepare(platform, sql, sizeof sql - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    int rc = step(platform, stmt, err, errlen);
    if (rc == BO_DB_ROW) {
        *number = bo_stmt_column_int64(stmt, 0);
        const char *a = bo_stmt_column_text(stmt, 1);
        snprintf(app, appsize, "%s", a ? a : "");
    }
    bo_stmt_reset(stmt);
    return rc == BO_DB_ROW || rc == BO_DB_DONE ? 0 : BO_EDB;
}

int bo_nodes_each(bo_db *platform, int64_t since, int (*fn)(void *ud, const bo_nodes_row *row), void *ud,
                  char *err, size_t errlen)
{
    static const char sql[] =
        "SELECT r.node, r.name, r.done, a.app, a.hash FROM node_registry r "
        "LEFT JOIN node_apps a ON a.node = r.node WHERE r.seen_ms > ?1 ORDER BY r.name, r.node, a.app";
    bo_stmt *stmt = bo_db_prepare(platform, sql, sizeof sql - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    bo_stmt_bind_int64(stmt, 1, since);
    int rc, out = 0;
    while ((rc = step(platform, stmt, err, errlen)) == BO_DB_ROW) {
        bo_nodes_row row = {
            .node = bo_stmt_column_text(stmt, 0),
            .name = bo_stmt_column_text(stmt, 1),
            .done = bo_stmt_column_int64(stmt, 2),
            .app = bo_stmt_column_text(stmt, 3),
            .hash = bo_stmt_column_text(stmt, 4),
        };
        if ((out = fn(ud, &row)) != 0)
            break;
    }
    bo_stmt_reset(stmt);
    if (out)
        return out;
    return rc == BO_DB_DONE ? 0 : BO_EDB;
}
