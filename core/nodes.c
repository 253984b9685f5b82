/*
 * nodes.c - the nodes sharing one database (see nodes.h).
 */
#include "nodes.h"

#include <stdio.h>

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
