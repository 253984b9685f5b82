/*
 * nodes.h - the borough processes (nodes) sharing one database, as the job
 * runner (jobs.c) and the Notify sender (notify.c) see them: which of them
 * are alive, so that work one of them claimed is taken over only when it
 * died, never while it runs. Below that, the platform's tables the nodes
 * share on PostgreSQL: each Notify key's rate window (notify.c) and the
 * app versions each node serves (fleet.c).
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

/* ---- GOV.UK Notify's rate limit, shared (PostgreSQL only) ----
 *
 * Notify counts an API key's requests in any minute, whichever node sends
 * them. On PostgreSQL the nodes share each key's window in the platform's
 * table notify_windows: a row per key with the times (unix ms) of its
 * requests in the last window. Taking a place is one UPDATE that drops the
 * times out of the window and adds now only while fewer than the limit
 * remain; PostgreSQL runs concurrent UPDATEs of one row one after another
 * and checks the condition again on the row as the one before left it, so
 * the window never holds more than the limit, however many nodes take at
 * once. On SQLite one process sends, and notify.c's own window suffices. */

/* Takes a place in key's window of window_ms for a request at now, when
   fewer than limit are in it. Returns 1 (taken), 0 (full) or BO_EDB with
   the reason in err. platform: the platform's database. */
int bo_nodes_window_take(bo_db *platform, const char *key, unsigned limit, int64_t window_ms, int64_t now,
                         char *err, size_t errlen);
/* Moves the place taken at from to to (the request ended then: Notify
   counted it by then), or gives it back (to = 0: no request was made).
   Returns 0 or BO_EDB with the reason in err. */
int bo_nodes_window_move(bo_db *platform, const char *key, int64_t from, int64_t to, char *err, size_t errlen);

/* ---- the app versions each node serves (PostgreSQL only) ----
 *
 * `borough reload` on one node reaches the others through the platform's
 * tables (fleet.h runs it): node_reloads has a row per reload asked (its id
 * is the reload's number, its app NULL for every app); node_registry a row
 * per node (its node id, a name people read, when it was last seen, the
 * last reload it carried out); node_apps the version (the source's content
 * hash, snapshot.h) of each app the node serves. */

/* The version a node serves of one app. */
typedef struct bo_nodes_app {
    const char *app;
    const char *hash;          /* "" when the app does not load */
} bo_nodes_app;

/* Records that node (its id, and name) is alive at now and, when apps is
   not NULL, that it serves those n apps having carried out reload number
   done (all in one transaction). Returns 0 or BO_EDB with err. */
int bo_nodes_register(bo_db *platform, const char *node, const char *name, int64_t now, int64_t done,
                      const bo_nodes_app *apps, unsigned n, char *err, size_t errlen);
/* Forgets node (it stops). */
void bo_nodes_unregister(bo_db *platform, const char *node);
/* Records a reload asked on node (app NULL: every app); returns its number
   (> 0) or BO_EDB with err. */
int64_t bo_nodes_reload_ask(bo_db *platform, const char *node, const char *app, int64_t now, char *err,
                            size_t errlen);
/* The last reload asked: its number (0: none yet) and app (NULL: every
   app; in app, of appsize bytes). Returns 0 or BO_EDB with err. */
int bo_nodes_reload_last(bo_db *platform, int64_t *number, char *app, size_t appsize, char *err, size_t errlen);

/* One row of what the nodes alive serve: a node's app, or the node alone
   (app NULL) when it serves none. */
typedef struct bo_nodes_row {
    const char *node;
    const char *name;
    int64_t done;              /* the last reload it carried out */
    const char *app;
    const char *hash;
} bo_nodes_row;

/* Calls fn for each app of each node seen after since (unix ms), by node
   name and app. Returns 0, fn's first non-zero, or BO_EDB with err. */
int bo_nodes_each(bo_db *platform, int64_t since, int (*fn)(void *ud, const bo_nodes_row *row), void *ud,
                  char *err, size_t errlen);

/* Records that run_id is alive at now (unix ms) in db; returns 0 or a BO_E*
   code with the reason in err. On PostgreSQL only (a no-op on SQLite). */
int bo_nodes_beat(bo_db *db, const char *run_id, int64_t now, char *err, size_t errlen);

#endif
