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
