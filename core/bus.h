/*
 * bus.h - what the workers of one process tell each other about live
 * updates: that an app has published events (so each worker's hub reads
 * them from the app's database and sends them to its own streams), and how
 * many event streams each app has open across the workers (its cap).
 *
 * The events themselves are rows of the app's database (levents.c), which
 * is what every reader trusts: the bus only says "look now", by bumping the
 * app's version and waking every hub that joined (uv_async_send, safe from
 * any thread). A hub that misses a wake-up still finds the rows at its next
 * look, and one in another process (a command, another node) finds them by
 * polling. The bus belongs to the server, which makes it before the workers
 * start and frees it after they have ended; app code reaches it through
 * bo_paths.bus.
 */
#ifndef BO_BUS_H
#define BO_BUS_H

#include "bo.h"

#include <uv.h>

typedef struct bo_bus bo_bus;

/* A new, empty bus; free with bo_bus_free once nobody has joined. */
bo_bus *bo_bus_new(void);
void bo_bus_free(bo_bus *bus);

/* Adds (or removes) a handle that every kick wakes: a worker's hub, on its
   own loop. The handle must stay open while it is joined. */
void bo_bus_join(bo_bus *bus, uv_async_t *wake);
void bo_bus_leave(bo_bus *bus, uv_async_t *wake);

/* app has committed new events: bumps its version and wakes every joined
   handle. Any thread; bus may be NULL (no server: a command), which does
   nothing. */
void bo_bus_kick(bo_bus *bus, const char *app);
/* The number of kicks app has had (0 before the first). */
uint64_t bo_bus_version(bo_bus *bus, const char *app);

/* Counts one more open stream of app unless it has cap already: true if it
   was counted. bo_bus_stream_end uncounts one. */
bool bo_bus_stream_take(bo_bus *bus, const char *app, unsigned cap);
void bo_bus_stream_end(bo_bus *bus, const char *app);

#endif
