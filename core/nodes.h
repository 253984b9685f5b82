/*
 * nodes.h - the borough processes (nodes) sharing one database, as the job
 * runner (jobs.c) and the Notify sender (notify.c) see them: which of them
 * are alive, so that work one of them claimed is taken over only when it
 * died, never while it runs.
 *
 * Each app's database with jobs or an outbox has the table _borough_nodes
 * (BO_NODES_SCHEMA): a row per node, its run id and when it was last seen.
 * On PostgreSQL every node beats in each such database (bo_nodes_beat)
 * every BO_NODE_BEAT_MS; a claim whose claimer's run id has no beat within
 * BO_NODE_LEASE_MS is free to take (BO_NODE_DEAD). On SQLite one process
 * owns the data folder and beats nowhere: the table stays empty, and every
 * claim of another run id is a dead process's, as before.
 */
#ifndef BO_NODES_H
#define BO_NODES_H

#include "bo.h"
#include "db.h"

#define BO_NODE_BEAT_MS 2000
#define BO_NODE_LEASE_MS 10000

#define BO_NODES_SCHEMA \
    "CREATE TABLE IF NOT EXISTS _borough_nodes (\n" \
    "  run_id TEXT PRIMARY KEY,\n" \
    "  seen_at INTEGER NOT NULL\n" \
    ");\n"

/* SQL: true when the claimer in column col (a run id, or "<run id>.<n>")
   has not been seen since the time bound to ?NOW (unix ms, lease taken
   off by the caller). */
#define BO_NODE_DEAD(col, now)                                                                \
    "NOT EXISTS (SELECT 1 FROM _borough_nodes WHERE _borough_nodes.seen_at > " now " AND ("  \
    col " = _borough_nodes.run_id OR substr(" col ", 1, length(_borough_nodes.run_id) + 1) = " \
    "_borough_nodes.run_id || '.'))"

/* Records that run_id is alive at now (unix ms) in db; returns 0 or a BO_E*
   code with the reason in err. On PostgreSQL only (a no-op on SQLite). */
int bo_nodes_beat(bo_db *db, const char *run_id, int64_t now, char *err, size_t errlen);

#endif
