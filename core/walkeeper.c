/*
 * walkeeper.c - the WAL checkpointer (see walkeeper.h).
 */
#include "walkeeper.h"
#include "db.h"
#include "log.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct wal_db {
    char *path;
    bo_db *db;
    bool failed;      /* logged once; not retried until it exists again */
};

static struct wal_db *find_or_open(bo_walkeeper *k, const char *path)
{
    for (unsigned i = 0; i < k->ndbs; i++)
        if (strcmp(k->dbs[i].path, path) == 0)
            return &k->dbs[i];
    struct stat st;
    if (stat(path, &st) < 0)
        return NULL;   /* the app has not used its database yet */
    k->dbs = bo_realloc(k->dbs, sizeof *k->dbs * (k->ndbs + 1));
    struct wal_db *w = &k->dbs[k->ndbs++];
    w->path = bo_strdup(path);
    w->db = NULL;
    w->failed = false;
    char err[512];
    if (bo_db_open(&w->db, path, 0, err, sizeof err) < 0) {
        bo_log(BO_LOG_WARN, NULL, "checkpoints for %s: %s", path, err);
        w->failed = true;
    }
    return w;
}

static void on_tick(uv_timer_t *t)
{
    bo_walkeeper *k = t->data;
    bo_catalog *cat = bo_server_catalog(k->server);
    for (unsigned i = 0; i < cat->napps; i++) {
        char *path = bo_sprintf("%s/%s/app.db", k->server->paths.data_dir, cat->apps[i]->name);
        struct wal_db *w = find_or_open(k, path);
        free(path);
        if (!w || w->failed)
            continue;
        int rc = bo_db_checkpoint(w->db, NULL);
        if (rc < 0 && rc != BO_EBUSY)
            bo_log(BO_LOG_WARN, cat->apps[i]->name, "checkpoint: %s",
                   bo_db_errmsg(w->db));
    }
    bo_catalog_unref(cat);
}

void bo_walkeeper_start(bo_walkeeper *k, uv_loop_t *loop, bo_server *s, uint64_t interval_ms)
{
    memset(k, 0, sizeof *k);
    k->server = s;
    uv_timer_init(loop, &k->timer);
    k->timer.data = k;
    uv_timer_start(&k->timer, on_tick, interval_ms, interval_ms);
}

void bo_walkeeper_stop(bo_walkeeper *k)
{
    uv_timer_stop(&k->timer);
    uv_close((uv_handle_t *)&k->timer, NULL);
    for (unsigned i = 0; i < k->ndbs; i++) {
        bo_db_close(k->dbs[i].db);
        free(k->dbs[i].path);
    }
    free(k->dbs);
    k->dbs = NULL;
    k->ndbs = 0;
}
