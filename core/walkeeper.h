/*
 * walkeeper.h - the WAL checkpointer. Request threads commit with
 * wal_autocheckpoint off, so no request ever waits on the fsync of a
 * checkpoint; instead the main thread copies committed WAL frames into each
 * app's database a few times a second (PASSIVE: readers and writers carry
 * on), and truncates a large log once it is fully copied. This is the
 * "checkpoints are scheduled" of DESIGN.md: long readers cannot make the log
 * grow without bound, and write latency stays flat.
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
