/*
 * walkeeper.h - the WAL keeper. Commits checkpoint as SQLite does by
 * default (every 1,000 pages, in the committing thread: measured faster on
 * one core than handing the copy to another thread, see performance.md).
 * That checkpoint cannot complete while a long reader still needs old
 * pages, and it never runs for an app that has gone quiet, so the main
 * thread also checkpoints every app database every few seconds (PASSIVE:
 * readers and writers carry on) and cuts a long log back once it is fully
 * copied. This is the "checkpoints are scheduled" of DESIGN.md: the log
 * cannot grow without bound.
 */
#ifndef BO_WALKEEPER_H
#define BO_WALKEEPER_H

#include "bo.h"

#include <uv.h>

struct bo_server;

typedef struct bo_walkeeper {
    uv_timer_t timer;
    struct bo_server *server;
    struct wal_db *dbs;       /* one connection per app database seen */
    unsigned ndbs;
} bo_walkeeper;

/* Starts checkpointing every interval_ms on loop. */
void bo_walkeeper_start(bo_walkeeper *k, uv_loop_t *loop, struct bo_server *s, uint64_t interval_ms);
/* Stops the timer and closes the connections (a last checkpoint each). */
void bo_walkeeper_stop(bo_walkeeper *k);

#endif
