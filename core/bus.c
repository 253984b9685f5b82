/*
 * bus.c - wake-ups and stream counts shared by the workers (see bus.h).
 *
 * One mutex guards the lists: a kick happens once per committed publish,
 * a take and an end once per stream, so the lock is never hot. Apps are
 * found by name in a short array (a server holds few apps).
 */
#include "bus.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct bus_app {
    char *name;
    uint64_t version;
    unsigned streams;
} bus_app;

struct bo_bus {
    pthread_mutex_t lock;
    uv_async_t **wakes;
    unsigned nwakes;
    bus_app *apps;
    unsigned napps;
};

bo_bus *bo_bus_new(void)
{
    bo_bus *bus = bo_calloc(1, sizeof *bus);
    pthread_mutex_init(&bus->lock, NULL);
    return bus;
}

void bo_bus_free(bo_bus *bus)
{
    if (!bus)
        return;
    for (unsigned i = 0; i < bus->napps; i++)
        free(bus->apps[i].name);
    free(bus->apps);
    free(bus->wakes);
    pthread_mutex_destroy(&bus->lock);
    free(bus);
}

void bo_bus_join(bo_bus *bus, uv_async_t *wake)
{
    pthread_mutex_lock(&bus->lock);
    bus->wakes = bo_realloc(bus->wakes, sizeof *bus->wakes * (bus->nwakes + 1));
    bus->wakes[bus->nwakes++] = wake;
    pthread_mutex_unlock(&bus->lock);
}

void bo_bus_leave(bo_bus *bus, uv_async_t *wake)
{
    pthread_mutex_lock(&bus->lock);
    for (unsigned i = 0; i < bus->nwakes; i++) {
        if (bus->wakes[i] == wake) {
            bus->wakes[i] = bus->wakes[--bus->nwakes];
            break;
        }
    }
    pthread_mutex_unlock(&bus->lock);
}

/* The entry of app, added if missing; the lock is held. */
static bus_app *app_of(bo_bus *bus, const char *app)
{
    for (unsigned i = 0; i < bus->napps; i++)
        if (strcmp(bus->apps[i].name, app) == 0)
            return &bus->apps[i];
    bus->apps = bo_realloc(bus->apps, sizeof *bus->apps * (bus->napps + 1));
    bus_app *a = &bus->apps[bus->napps++];
    a->name = bo_strdup(app);
    a->version = 0;
    a->streams = 0;
    return a;
}

void bo_bus_kick(bo_bus *bus, const char *app)
{
    if (!bus)
        return;
    pthread_mutex_lock(&bus->lock);
    app_of(bus, app)->version++;
    for (unsigned i = 0; i < bus->nwakes; i++)
        uv_async_send(bus->wakes[i]);
    pthread_mutex_unlock(&bus->lock);
}

uint64_t bo_bus_version(bo_bus *bus, const char *app)
{
    pthread_mutex_lock(&bus->lock);
    uint64_t v = app_of(bus, app)->version;
    pthread_mutex_unlock(&bus->lock);
    return v;
}

bool bo_bus_stream_take(bo_bus *bus, const char *app, unsigned cap)
{
    pthread_mutex_lock(&bus->lock);
    bus_app *a = app_of(bus, app);
    bool ok = a->streams < cap;
    if (ok)
        a->streams++;
    pthread_mutex_unlock(&bus->lock);
    return ok;
}

void bo_bus_stream_end(bo_bus *bus, const char *app)
{
    pthread_mutex_lock(&bus->lock);
    bus_app *a = app_of(bus, app);
    if (a->streams > 0)
        a->streams--;
    pthread_mutex_unlock(&bus->lock);
}
