/*
 * fleet.h - the nodes of one deployment on PostgreSQL serving the same
 * versions of the apps, and `borough reload` on one reaching them all.
 * Nothing runs on SQLite, where one process serves the data folder.
 *
 * On the main thread's loop, every BO_FLEET_TICK_MS:
 *  - once every worker serves the catalog, the node records in the platform
 *    database the version (the source's content hash, snapshot.h) of each
 *    app it serves and the last reload it carried out (nodes.h), and beats;
 *  - when a reload was asked on another node since the last this one
 *    carried out, it reloads as asked (every app, or the one named), as a
 *    SIGHUP would.
 *
 * A reload asked on the control socket (control.h) is first carried out on
 * this node; then bo_fleet_ask records it for the others and the client is
 * answered when every node alive has carried it out, or after
 * BO_FLEET_WAIT_MS, with a line per node: the versions it serves, and for a
 * node that serves other versions than this one (its apps folder differs)
 * or has not reloaded in time, an error line naming it and exit status 1.
 * With no other node alive, the answer is the node's own, as on SQLite.
 * A rollback stays on the node it is asked on (the others' earlier versions
 * may differ); the answer of the next reload names the nodes that differ.
 */
#ifndef BO_FLEET_H
#define BO_FLEET_H

#include "control.h"

#include <uv.h>

#define BO_FLEET_TICK_MS 250
#define BO_FLEET_WAIT_MS 15000

struct bo_server;
typedef struct bo_fleet bo_fleet;

/* Reloads app (NULL: every app that changed) on the node, as SIGHUP does. */
typedef void (*bo_fleet_reload_fn)(struct bo_server *s, const char *app);

/* Starts on s's main loop; *out is NULL on SQLite. */
void bo_fleet_start(bo_fleet **out, struct bo_server *s, bo_fleet_reload_fn reload);
/* A reload of app (NULL: every app) asked by cl ended on this node with
   status, every worker serving its outcome. Returns true when f answers cl
   (later); false when the caller ends cl as before (no fleet). */
bool bo_fleet_ask(bo_fleet *f, const char *app, bo_control_client *cl, int status);
/* Answers the clients still waiting, forgets this node in the database
   and closes (f may be NULL). */
void bo_fleet_stop(bo_fleet *f);

#endif
