/*
 * nodes.h - the borough processes (nodes) sharing one database, as the job
 * runner (jobs.c) and the Notify sender (notify.c) see them: which of them
 * are alive, so that work one of them claimed is taken over only when it
 * died, never while it runs.
 *
 * A node claims work under its claim id: its node id (BO_NODE_ID_LEN hex
 * digits, the same each time the same data folder on the same host starts,
 * bo_nodes_id) followed by the run id (random, new at each start). Each
 * app's database with jobs or an outbox has the table _borough_nodes
 * (BO_NODES_SCHEMA): a row per running node, its claim id (column run_id)
 * and when it was last seen.
 * On PostgreSQL every node beats in each such database (bo_nodes_beat)
 * every BO_NODE_BEAT_MS; a claim whose claimer's run id has no beat within
 * BO_NODE_LEASE_MS is free to take (BO_NODE_DEAD). On SQLite one process
 * owns the data folder and beats nowhere: the table stays empty, and every
 * claim of another run id is a dead process's, as before. A node that
 * starts again takes back at once what its earlier run left claimed
 * (BO_NODE_FREE): that run is over, whether or not its lease ran out.
 */
#ifndef BO_NODES_H
#define BO_NODES_H

#include "bo.h"
#include "db.h"

#define BO_NODE_BEAT_MS 2000
#define BO_NODE_LEASE_MS 10000
#define BO_NODE_ID_LEN 6

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

/* SQL: true when the claim in column col, not this run's (the caller checks
   that), is free to take: an earlier run of this node made it (the node id,
   the SQL expression node, opens col), or its claimer is dead
   (BO_NODE_DEAD). The 6 is BO_NODE_ID_LEN. */
#define BO_NODE_FREE(col, now, node) \
    "(substr(" col ", 1, 6) = " node " OR " BO_NODE_DEAD(col, now) ")"

/* Writes this node's id to out: BO_NODE_ID_LEN hex digits of a hash of the
   host's name and the data folder's real path, so that a node started again
   on the same host with the same data folder has the same id, and two nodes
   on one host with their own data folders have different ones. */
void bo_nodes_id(const char *data_dir, char out[BO_NODE_ID_LEN + 1]);

/* Records that run_id is alive at now (unix ms) in db; returns 0 or a BO_E*
   code with the reason in err. On PostgreSQL only (a no-op on SQLite). */
int bo_nodes_beat(bo_db *db, const char *run_id, int64_t now, char *err, size_t errlen);

#endif
