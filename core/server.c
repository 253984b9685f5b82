/*
 * server.c - the main thread (see server.h): loads the app catalog, binds
 * the listening sockets, runs the workers, and handles signals: SIGTERM and
 * SIGINT stop gracefully, SIGHUP reloads the apps that changed. Reloads
 * (from SIGHUP, the control socket or --watch) run here, one at a time:
 * the main thread judges each new version, publishes a catalog, and answers
 * the client once every worker has taken it (check_waits).
 */
#include "server.h"
#include "bus.h"
#include "assets.h"
#include "lreq.h"
#include "lsso.h"
#include "httpc.h"
#include "linit.h"
#include "log.h"
#include "notify.h"
#include "fleet.h"
#include "nodes.h"
#include "crypto.h"
#include "platformdb.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* How often the WAL keeper checkpoints every app database. */
#define WAL_CHECKPOINT_MS 2000

/* ---- the catalog ---- */

static bo_catalog *catalog_new(uint64_t version, unsigned cap)
{
    bo_catalog *c = bo_calloc(1, sizeof *c);
    atomic_init(&c->refs, 1);
    c->version = version;
    c->apps = bo_calloc(cap ? cap : 1, sizeof *c->apps);
    c->previous = bo_calloc(cap ? cap : 1, sizeof *c->previous);
    return c;
}

void bo_catalog_unref(bo_catalog *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    for (unsigned i = 0; i < c->napps; i++) {
        bo_app_info_unref(c->apps[i]);
        bo_app_info_unref(c->previous[i]);
    }
    free(c->apps);
    free(c->previous);
    free(c);
}

bo_catalog *bo_server_catalog(bo_server *s)
{
    pthread_mutex_lock(&s->lock);
    bo_catalog *c = s->catalog;
    atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&s->lock);
    return c;
}

static int find_app(const bo_catalog *c, const char *name)
{
    for (unsigned i = 0; c && i < c->napps; i++)
        if (strcmp(c->apps[i]->name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- the certificate ---- */

bo_https_cert *bo_server_cert(bo_server *s)
{
    pthread_mutex_lock(&s->lock);
    bo_https_cert *c = bo_https_cert_ref(s->cert);
    pthread_mutex_unlock(&s->lock);
    return c;
}

/* ---- judging new versions ----
 *
 * A reload (and the first load at start) works on a list of entries, one
 * per app folder in name order: what each will serve, what it served, and
 * why a new version was refused. Only after every entry is settled (and the
 * mounts checked) is a new catalog made from them.
 */

typedef struct entry {
    bo_app_info *info;          /* the version that will serve (a reference) */
    bo_app_info *previous;      /* the good one before it, for rollback (a reference) */
    bo_app_info *running;       /* the good version serving now (borrowed), or NULL */
    char *error;                /* why a new version was refused (owned) */
    bool existed;               /* the app was in the running catalog */
    bool loaded;                /* info is a new version that loaded cleanly */
    bool unchanged;             /* its source did not change: nothing was loaded */
    bool rolled_back;
    bool rollback;              /* a rollback was asked for */
    double ms;                  /* time to judge the new version */
} entry;

static void entry_clear(entry *e)
{
    bo_app_info_unref(e->info);
    bo_app_info_unref(e->previous);
    free(e->error);
    memset(e, 0, sizeof *e);
}

static uint64_t next_generation(const bo_catalog *cur, int ci)
{
    uint64_t g = 0;
    if (ci >= 0) {
        if (!cur->apps[ci]->error)
            g = cur->apps[ci]->generation;
        if (cur->previous[ci] && cur->previous[ci]->generation > g)
            g = cur->previous[ci]->generation;
    }
    return g + 1;
}

/* Whether dir is the platform's own app (BO_SITE_DIR under the library). */
static bool is_site_dir(const char *dir, const bo_paths *paths)
{
    if (!paths->lib_dir)
        return false;
    char *site = bo_app_site_dir(paths->lib_dir);
    bool yes = strcmp(dir, site) == 0;
    free(site);
    return yes;
}

/* Settles the entry of the app folder dir: reads its source and, unless it
   is unchanged (and force is off), loads it on this thread as the primary
   load (which migrates its database). ci is its index in cur, or -1. */
static void judge(entry *e, const char *dir, const bo_catalog *cur, int ci, bool force, const bo_paths *paths)
{
    memset(e, 0, sizeof *e);
    e->existed = ci >= 0;
    bo_app_info *old = ci >= 0 ? cur->apps[ci] : NULL;
    bo_app_info *prev = ci >= 0 ? cur->previous[ci] : NULL;
    e->running = old && !old->error ? old : NULL;
    uint64_t t0 = uv_hrtime();
    char err[2048];
    bo_snapshot *snap;
    if (bo_snapshot_read(&snap, dir, err, sizeof err) < 0) {
        e->error = bo_strdup(err);
        if (e->running) {
            e->info = bo_app_info_ref(e->running);
        } else {
            e->info = bo_app_info_new(dir);
            e->info->error = bo_strdup(err);
        }
        e->previous = prev ? bo_app_info_ref(prev) : NULL;
        return;
    }
    if (!force && e->running && bo_snapshot_equal(snap, e->running->snapshot)) {
        bo_snapshot_free(snap);
        e->info = bo_app_info_ref(e->running);
        e->previous = prev ? bo_app_info_ref(prev) : NULL;
        e->unchanged = true;
        return;
    }
    bo_app_info *info = bo_app_info_new(dir);
    info->snapshot = snap;
    info->generation = next_generation(cur, ci);
    info->loaded_ms = bo_unix_ms();
    info->platform = is_site_dir(dir, paths);
    bo_gen *g;
    int rc = bo_gen_load(&g, info, paths, true, true, err, sizeof err);
    e->ms = (double)(uv_hrtime() - t0) / 1e6;
    if (rc == 0) {
        bo_gen_free(g);
        e->info = info;
        e->loaded = true;
        bo_app_info *before = e->running ? e->running : prev;
        e->previous = before ? bo_app_info_ref(before) : NULL;
        return;
    }
    e->error = bo_strdup(err);
    e->previous = prev ? bo_app_info_ref(prev) : NULL;
    if (e->running) {
        bo_app_info_unref(info);
        e->info = bo_app_info_ref(e->running);
    } else {
        info->error = bo_strdup(err);     /* not shared yet: it may still change */
        e->info = info;
    }
}

/* Refuses the new version of e because of msg (taken): back to the running
   one, or unavailable. */
static void refuse(entry *e, char *msg)
{
    free(e->error);
    e->error = msg;
    e->loaded = false;
    e->rolled_back = false;
    bo_app_info *info = e->info;
    if (e->running) {
        e->info = bo_app_info_ref(e->running);
    } else {
        e->info = bo_app_info_new(info->dir);
        e->info->error = bo_strdup(msg);
    }
    bo_app_info_unref(info);
}

/* Whose mount is the platform's own app's (BO_SITE_ADMIN or
   BO_SITE_ACCOUNT, or under one): NULL if neither. */
static const char *platform_mount(const char *mount)
{
    static const struct { const char *prefix, *whose; } taken[] = {
        { BO_SITE_ADMIN, "the admin console" }, { BO_SITE_ACCOUNT, "the site's sign-in pages" },
    };
    for (size_t i = 0; i < BO_COUNT(taken); i++) {
        size_t n = strlen(taken[i].prefix);
        if (strncmp(mount, taken[i].prefix, n) == 0 && (mount[n] == '\0' || mount[n] == '/'))
            return taken[i].whose;
    }
    return NULL;
}

/* Two apps may not share a mount or a host, and no app may mount at the
   platform's own paths. Apps whose version does not change claim theirs
   first (they are serving); then new versions, in name order: one that
   conflicts is refused, and the check starts again, since the version it
   returns to may claim other paths. The platform's own app claims
   nothing: it takes the root only when no app does (worker.c). */
static void check_mounts(entry *entries, unsigned n)
{
    for (bool again = true; again;) {
        again = false;
        bo_mounts seen;
        bo_mounts_init(&seen);
        for (int pass = 0; pass < 2 && !again; pass++) {
            for (unsigned i = 0; i < n && !again; i++) {
                entry *e = &entries[i];
                bo_app_info *info = e->info;
                if (info->error || info->platform || e->loaded != (pass == 1))
                    continue;
                const char *what = NULL, *kind = NULL, *whose = "another app";
                if (info->host && bo_mounts_add(&seen, info->host, NULL, (int)i) < 0)
                    what = info->host, kind = "host";
                else if (info->mount && platform_mount(info->mount))
                    what = info->mount, kind = "mount", whose = platform_mount(info->mount);
                else if (info->mount && bo_mounts_add(&seen, NULL, info->mount[0] ? info->mount : "/", (int)i) < 0)
                    what = info->mount[0] ? info->mount : "/", kind = "mount";
                if (!what)
                    continue;
                refuse(e, bo_sprintf("%s/app.lua: %s %s is already used by %s", info->dir, kind, what, whose));
                again = e->info != NULL && !e->info->error;
            }
        }
        bo_mounts_free(&seen);
    }
}

static bo_catalog *catalog_of(entry *entries, unsigned n, uint64_t version)
{
    bo_catalog *c = catalog_new(version, n);
    for (unsigned i = 0; i < n; i++) {
        c->apps[c->napps] = bo_app_info_ref(entries[i].info);
        c->previous[c->napps++] = entries[i].previous ? bo_app_info_ref(entries[i].previous) : NULL;
    }
    return c;
}

static bool catalog_same(const bo_catalog *a, const bo_catalog *b)
{
    if (a->napps != b->napps)
        return false;
    for (unsigned i = 0; i < a->napps; i++)
        if (a->apps[i] != b->apps[i] || a->previous[i] != b->previous[i])
            return false;
    return true;
}

static const char *base_name(const char *dir)
{
    const char *slash = strrchr(dir, '/');
    return slash ? slash + 1 : dir;
}

static int compare_base_names(const void *a, const void *b)
{
    return strcmp(base_name(*(char *const *)a), base_name(*(char *const *)b));
}

/* The app folders to serve, in name order: the apps folder's (or the one
   app folder), and the platform's own app when cfg->site is on. A folder
   named like the platform's app is left out, with a line in the log. */
static int scan_dirs(const bo_config *cfg, char ***dirs, char *err, size_t errlen)
{
    int n;
    if (cfg->only_app) {
        size_t len = strlen(cfg->only_app);
        while (len > 1 && cfg->only_app[len - 1] == '/')
            len--;
        *dirs = bo_calloc(2, sizeof **dirs);
        (*dirs)[0] = bo_strndup(cfg->only_app, len);
        n = 1;
    } else {
        n = bo_app_scan(cfg->apps_dir, dirs, err, errlen);
        if (n < 0)
            return n;
        *dirs = bo_realloc(*dirs, sizeof **dirs * (size_t)(n + 1));
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(base_name((*dirs)[i]), BO_SITE_APP) != 0)
            continue;
        bo_log(BO_LOG_ERROR, NULL, "%s: the name %s is the platform's own app (the front door and %s); "
               "rename the folder", (*dirs)[i], BO_SITE_APP, BO_SITE_ADMIN);
        free((*dirs)[i]);
        memmove(&(*dirs)[i], &(*dirs)[i + 1], sizeof **dirs * (size_t)(n - i - 1));
        n--;
        i--;
    }
    if (cfg->site && cfg->lib_dir) {
        (*dirs)[n++] = bo_app_site_dir(cfg->lib_dir);
        qsort(*dirs, (size_t)n, sizeof **dirs, compare_base_names);
    }
    return n;
}

/* Settles an entry for every app folder in dirs (all of them, or only the
   one named app) against the running catalog cur; entries of apps out of
   scope are kept as they are. The names of apps whose folder is gone are
   added to *gone (new strings). Returns the number of entries, and sets
   *matched when the app named was found. */
static unsigned plan(entry **out, char **dirs, unsigned ndirs, const bo_catalog *cur, const char *app,
                     bool force, const bo_paths *paths, char ***gone, unsigned *ngone, bool *matched)
{
    entry *entries = bo_calloc(ndirs + cur->napps + 1, sizeof *entries);
    unsigned n = 0;
    *matched = false;
    unsigned di = 0, ci = 0;
    while (di < ndirs || ci < cur->napps) {
        /* Merge the two lists, both in name order. */
        int cmp;
        if (di == ndirs)
            cmp = 1;
        else if (ci == cur->napps)
            cmp = -1;
        else
            cmp = strcmp(base_name(dirs[di]), cur->apps[ci]->name);
        const char *name = cmp <= 0 ? base_name(dirs[di]) : cur->apps[ci]->name;
        bool in_scope = !app || strcmp(app, name) == 0;
        *matched |= in_scope && app;
        int at = cmp >= 0 ? (int)ci : -1;
        if (!in_scope) {
            if (at >= 0) {          /* kept as it is, even if its folder is gone */
                entry *e = &entries[n++];
                e->info = bo_app_info_ref(cur->apps[at]);
                e->previous = cur->previous[at] ? bo_app_info_ref(cur->previous[at]) : NULL;
                e->existed = true;
            }
        } else if (cmp > 0) {       /* in the catalog, no folder any more */
            *gone = bo_realloc(*gone, sizeof **gone * (*ngone + 1));
            (*gone)[(*ngone)++] = bo_strdup(name);
        } else {
            judge(&entries[n++], dirs[di], cur, at, force, paths);
        }
        if (cmp <= 0)
            di++;
        if (cmp >= 0)
            ci++;
    }
    check_mounts(entries, n);
    *out = entries;
    return n;
}

/* ---- reloading ---- */

/* A reload published and not yet taken by every worker. */
struct bo_reload_wait {
    bo_reload_wait *next;
    bo_control_client *client;  /* NULL: SIGHUP or --watch */
    uint64_t version;
    uint64_t started_ns;
    int status;
    bool asked;                 /* a reload asked on the control socket: the other nodes follow */
    char *app;                  /* the app it reloaded, or NULL (every app) */
};

/* Where a reload's outcome goes: the log, the client that asked, and the
   server's notes. */
typedef struct outcome {
    bo_control_client *client;
    bo_metrics *metrics;        /* NULL at start: loading is not reloading */
    bo_server *server;          /* NULL at start */
    int status;
    bool asked;                 /* a reload asked on the control socket (not a rollback) */
    const char *app;            /* the app it reloads, or NULL (every app) */
} outcome;

/* Keeps the outcome of e's reload as the last of its app (bo_reload_note). */
static void note(bo_server *s, const entry *e)
{
    const char *app = e->info->name;
    pthread_mutex_lock(&s->lock);
    bo_reload_note *n = NULL;
    for (unsigned i = 0; i < s->nnotes && !n; i++)
        if (strcmp(s->notes[i].app, app) == 0)
            n = &s->notes[i];
    if (!n) {
        s->notes = bo_realloc(s->notes, sizeof *s->notes * (s->nnotes + 1));
        n = &s->notes[s->nnotes++];
        n->app = bo_strdup(app);
        n->error = NULL;
    }
    free(n->error);
    n->at_ms = bo_unix_ms();
    n->ok = e->error == NULL;
    n->rollback = e->rollback;
    n->generation = e->error ? (e->running ? e->running->generation : 0) : e->info->generation;
    n->error = e->error ? bo_strdup(e->error) : NULL;
    pthread_mutex_unlock(&s->lock);
}

bool bo_server_reload_note(bo_server *s, const char *app, bo_reload_note *out, char *error, size_t cap)
{
    bool found = false;
    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < s->nnotes && !found; i++) {
        if (strcmp(s->notes[i].app, app) != 0)
            continue;
        *out = s->notes[i];
        out->app = NULL;
        if (out->error) {
            snprintf(error, cap, "%s", s->notes[i].error);
            out->error = error;
        }
        found = true;
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

static void tell(outcome *o, const char *kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void tell(outcome *o, const char *kind, const char *fmt, ...)
{
    if (!o->client)
        return;
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    bo_control_reply(o->client, kind, "%s", text);
}

static const char *where_of(const bo_app_info *info)
{
    if (info->mount)
        return info->mount[0] ? info->mount : "/";
    return info->host ? info->host : "?";
}

static void report_gone(outcome *o, const char *name)
{
    bo_log(BO_LOG_INFO, name, "unmounted: its folder is gone");
    tell(o, "out", "%s: unmounted", name);
}

/* Logs and tells the outcome of every entry and every app gone, in name
   order. */
static void report(outcome *o, entry *entries, unsigned n, char **gone, unsigned ngone, bool all)
{
    unsigned gi = 0;
    for (unsigned i = 0; i < n; i++) {
        entry *e = &entries[i];
        while (gi < ngone && strcmp(gone[gi], e->info->name) < 0)
            report_gone(o, gone[gi++]);
        const char *name = e->info->name;
        bo_metrics_app *row = o->metrics ? bo_metrics_app_row(o->metrics, name) : NULL;
        if (o->server && (e->error || e->loaded))
            note(o->server, e);
        if (e->error) {
            o->status = 1;
            bo_log(BO_LOG_ERROR, name, "%s", e->error);
            tell(o, "err", "%s", e->error);
            if (!row)
                continue;
            bo_counter_add(&row->reload_failures, 1);
            if (e->running) {
                bo_log(BO_LOG_WARN, name, "the new version was refused; generation %llu keeps serving",
                       (unsigned long long)e->running->generation);
                tell(o, "err", "%s: not %s; generation %llu keeps serving", name,
                     e->rollback ? "rolled back" : "reloaded", (unsigned long long)e->running->generation);
            } else {
                tell(o, "err", "%s: unavailable until it loads", name);
            }
        } else if (e->loaded && row) {
            unsigned long long g = (unsigned long long)e->info->generation;
            bo_counter_add(&row->reloads, 1);
            if (e->rolled_back) {
                bo_log(BO_LOG_INFO, name, "rolled back to generation %llu", g);
                tell(o, "out", "%s: rolled back to generation %llu", name, g);
            } else if (e->existed) {
                bo_log(BO_LOG_INFO, name, "reloaded: generation %llu (loaded in %.1f ms)", g, e->ms);
                tell(o, "out", "%s: reloaded (generation %llu)", name, g);
            } else {
                bo_log(BO_LOG_INFO, name, "mounted at %s: generation %llu (loaded in %.1f ms)",
                       where_of(e->info), g, e->ms);
                tell(o, "out", "%s: mounted at %s (generation %llu)", name, where_of(e->info), g);
            }
        } else if (e->unchanged && all && !e->info->platform) {
            tell(o, "out", "%s: unchanged (generation %llu)", name, (unsigned long long)e->info->generation);
        }
    }
    while (gi < ngone)
        report_gone(o, gone[gi++]);
}

static void publish(bo_server *s, bo_catalog *c)
{
    pthread_mutex_lock(&s->lock);
    bo_catalog *old = s->catalog;
    s->catalog = c;
    pthread_mutex_unlock(&s->lock);
    bo_catalog_unref(old);
    for (int i = 0; i < s->nworkers; i++)
        bo_worker_wake(&s->workers[i]);
}

/* Answers the client of a reload that every worker has taken: on
   PostgreSQL, a reload asked on the control socket goes on to the other
   nodes, which fleet.c answers for. */
static void end_reload(bo_server *s, bo_control_client *client, bool asked, const char *app, int status)
{
    if (client && !(asked && bo_fleet_ask(s->fleet, app, client, status)))
        bo_control_end(client, status);
}

/* Publishes next if it differs from the running catalog and answers the
   client once every worker has taken it (now, if nothing changed). */
static void finish_reload(bo_server *s, bo_catalog *next, outcome *o, uint64_t started)
{
    if (catalog_same(next, s->catalog)) {
        bo_catalog_unref(next);
        end_reload(s, o->client, o->asked, o->app, o->status);
        return;
    }
    bo_reload_wait *w = bo_calloc(1, sizeof *w);
    w->client = o->client;
    w->version = next->version;
    w->started_ns = started;
    w->status = o->status;
    w->asked = o->asked;
    w->app = o->app ? bo_strdup(o->app) : NULL;
    w->next = s->waits;
    s->waits = w;
    publish(s, next);
}

static bool valid_app_name(const char *name)
{
    return name[0] && name[0] != '.' && !strchr(name, '/') && strlen(name) < 256;
}

/* Loads the certificate again when its files changed; new connections
   get the new one, and each connection keeps the one it began with. A
   certificate that does not load leaves the running one serving. */
static void reload_cert(bo_server *s, outcome *o)
{
    const char *cert = s->cfg.tls_cert, *key = s->cfg.tls_key;
    /* Only this thread replaces s->cert: it reads it without the lock. */
    if (!cert || !bo_https_cert_changed(s->cert, cert, key))
        return;
    char err[512];
    bo_https_cert *fresh;
    if (bo_https_cert_load(&fresh, cert, key, err, sizeof err) < 0) {
        o->status = 1;
        bo_log(BO_LOG_ERROR, NULL, "%s; the running certificate keeps serving", err);
        tell(o, "err", "%s; the running certificate keeps serving", err);
        return;
    }
    pthread_mutex_lock(&s->lock);
    bo_https_cert *old = s->cert;
    s->cert = fresh;
    pthread_mutex_unlock(&s->lock);
    bo_https_cert_unref(old);
    bo_log(BO_LOG_INFO, NULL, "TLS: new connections get the certificate reloaded from %s", cert);
    tell(o, "out", "tls: certificate reloaded from %s", cert);
}

/* Reloads every app (app NULL: changed ones only, and the certificate if
   its files changed) or the one named. */
static void reload(bo_server *s, const char *app, bo_control_client *client)
{
    uint64_t started = uv_hrtime();
    outcome o = { client, &s->metrics, s, 0, client != NULL, app };
    if (!app)
        reload_cert(s, &o);
    bo_catalog *cur = s->catalog;
    char **dirs;
    char err[512];
    int ndirs = scan_dirs(&s->cfg, &dirs, err, sizeof err);
    if (ndirs < 0) {
        bo_log(BO_LOG_ERROR, NULL, "reload: %s", err);
        tell(&o, "err", "%s", err);
        if (client)
            bo_control_end(client, 1);
        return;
    }
    entry *entries;
    char **gone = NULL;
    unsigned ngone = 0;
    bool matched;
    unsigned n = plan(&entries, dirs, (unsigned)ndirs, cur, app, app != NULL, &s->paths, &gone, &ngone, &matched);
    for (int i = 0; i < ndirs; i++)
        free(dirs[i]);
    free(dirs);
    if (app && !matched) {
        tell(&o, "err", "borough: there is no app %s (no %s/%s/app.lua)", app, s->cfg.apps_dir, app);
        o.status = 1;
    }
    report(&o, entries, n, gone, ngone, app == NULL);
    bo_catalog *next = catalog_of(entries, n, cur->version + 1);
    for (unsigned i = 0; i < n; i++)
        entry_clear(&entries[i]);
    free(entries);
    for (unsigned i = 0; i < ngone; i++)
        free(gone[i]);
    free(gone);
    finish_reload(s, next, &o, started);
}

/* Puts the previous good version of app back into service. */
static void rollback(bo_server *s, const char *app, bo_control_client *client)
{
    uint64_t started = uv_hrtime();
    outcome o = { client, &s->metrics, s, 0, false, app };
    bo_catalog *cur = s->catalog;
    int at = find_app(cur, app);
    if (at < 0 || !cur->previous[at]) {
        if (at < 0)
            tell(&o, "err", "borough: there is no app %s", app);
        else
            tell(&o, "err", "%s: there is no earlier version to roll back to", app);
        bo_control_end(client, 1);
        return;
    }
    entry *entries = bo_calloc(cur->napps, sizeof *entries);
    for (unsigned i = 0; i < cur->napps; i++) {
        entry *e = &entries[i];
        e->info = bo_app_info_ref(cur->apps[i]);
        e->previous = cur->previous[i] ? bo_app_info_ref(cur->previous[i]) : NULL;
        e->existed = true;
    }
    entry *e = &entries[at];
    bo_app_info *target = cur->previous[at];
    e->rollback = true;
    e->running = cur->apps[at]->error ? NULL : cur->apps[at];
    /* Judged again: the database may have moved on since it last served. */
    char err[2048];
    bo_gen *g;
    uint64_t t0 = uv_hrtime();
    if (bo_gen_load(&g, target, &s->paths, true, false, err, sizeof err) == 0) {
        bo_gen_free(g);
        bo_app_info_unref(e->info);
        bo_app_info_unref(e->previous);
        e->info = bo_app_info_ref(target);
        e->previous = e->running ? bo_app_info_ref(e->running) : NULL;
        e->loaded = e->rolled_back = true;
        e->ms = (double)(uv_hrtime() - t0) / 1e6;
        check_mounts(entries, cur->napps);
    } else {
        e->error = bo_strdup(err);
    }
    report(&o, entries, cur->napps, NULL, 0, false);
    bo_catalog *next = catalog_of(entries, cur->napps, cur->version + 1);
    for (unsigned i = 0; i < cur->napps; i++)
        entry_clear(&entries[i]);
    free(entries);
    finish_reload(s, next, &o, started);
}

/* Answers the reloads every worker has now taken. */
static void check_waits(bo_server *s)
{
    uint64_t synced = UINT64_MAX, failed = 0;
    for (int i = 0; i < s->nworkers; i++) {
        uint64_t v = atomic_load(&s->workers[i].synced_version);
        uint64_t f = atomic_load(&s->workers[i].failed_version);
        if (v < synced)
            synced = v;
        if (f > failed)
            failed = f;
    }
    for (bo_reload_wait **p = &s->waits; *p;) {
        bo_reload_wait *w = *p;
        if (w->version > synced) {
            p = &w->next;
            continue;
        }
        *p = w->next;
        double ms = (double)(uv_hrtime() - w->started_ns) / 1e6;
        bo_log(BO_LOG_INFO, NULL, "reload: every worker serves the new catalog (%.1f ms)", ms);
        if (w->client) {
            if (failed >= w->version) {
                bo_control_reply(w->client, "err",
                                 "borough: a worker could not load a new version and kept the running one; "
                                 "see the server's log");
                w->status = 1;
            }
            end_reload(s, w->client, w->asked, w->app, w->status);
        }
        free(w->app);
        free(w);
    }
}

/* The server is stopping: answer every reload still waiting. */
static void drop_waits(bo_server *s)
{
    while (s->waits) {
        bo_reload_wait *w = s->waits;
        s->waits = w->next;
        if (w->client) {
            bo_control_reply(w->client, "err", "borough: the server is stopping");
            bo_control_end(w->client, 1);
        }
        free(w->app);
        free(w);
    }
}

/* A request line from the control socket (see control.h). */
static void on_control(void *ud, bo_control_client *cl, const char *line)
{
    bo_server *s = ud;
    char verb[16], app[256], extra[8];
    int n = sscanf(line, "%15s %255s %7s", verb, app, extra);
    if (atomic_load(&s->stopping)) {
        bo_control_reply(cl, "err", "borough: the server is stopping");
        bo_control_end(cl, 1);
        return;
    }
    if (n == 1 && strcmp(verb, "status") == 0) {
        bo_status st;
        bo_status_gather(s, &st);
        bo_buf text;
        bo_buf_init(&text);
        bo_status_text(&st, &text);
        bo_status_free(&st);
        for (size_t at = 0; at < text.len;) {
            const char *part = text.data + at;
            size_t len = (size_t)((const char *)memchr(part, '\n', text.len - at) - part);
            bo_control_reply(cl, "out", "%.*s", (int)len, part);
            at += len + 1;
        }
        bo_buf_free(&text);
        bo_control_end(cl, 0);
    } else if (n == 1 && strcmp(verb, "reload") == 0) {
        reload(s, NULL, cl);
    } else if (n == 2 && (strcmp(verb, "reload") == 0 || strcmp(verb, "rollback") == 0)) {
        if (!valid_app_name(app)) {
            bo_control_reply(cl, "err", "borough: %s is not an app name", app);
            bo_control_end(cl, 2);
        } else if (verb[1] == 'e') {
            reload(s, app, cl);
        } else {
            rollback(s, app, cl);
        }
    } else {
        bo_control_reply(cl, "err", "borough: unknown request (expected reload [APP], rollback APP or status)");
        bo_control_end(cl, 2);
    }
}

/* A reload asked on another node (fleet.h). */
static void fleet_reload(bo_server *s, const char *app)
{
    reload(s, app, NULL);
}

static void on_watch(void *ud)
{
    bo_server *s = ud;
    if (atomic_load(&s->stopping))
        return;
    reload(s, NULL, NULL);
    bo_watch_refresh(&s->watch);
}

/* Loads the first catalog (version 1); NULL if the apps folder cannot be read. */
static bo_catalog *first_catalog(const bo_config *cfg, const bo_paths *paths,
                                 void (*say)(const char *app, const char *msg), char *err, size_t errlen)
{
    char **dirs;
    int ndirs = scan_dirs(cfg, &dirs, err, errlen);
    if (ndirs < 0)
        return NULL;
    bo_catalog *none = catalog_new(0, 0);
    entry *entries;
    char **gone = NULL;
    unsigned ngone = 0;
    bool matched;
    unsigned n = plan(&entries, dirs, (unsigned)ndirs, none, NULL, true, paths, &gone, &ngone, &matched);
    for (int i = 0; i < ndirs; i++)
        free(dirs[i]);
    free(dirs);
    bo_catalog_unref(none);
    for (unsigned i = 0; i < n; i++)
        if (entries[i].error)
            say(entries[i].info->name, entries[i].error);
    bo_catalog *c = catalog_of(entries, n, 1);
    for (unsigned i = 0; i < n; i++)
        entry_clear(&entries[i]);
    free(entries);
    return c;
}

static void report_to_log(const char *app, const char *msg)
{
    bo_log(BO_LOG_ERROR, app, "%s", msg);
}

/* ---- /metrics ---- */

void bo_server_metrics(bo_server *s, bo_buf *out)
{
    bo_catalog *c = bo_server_catalog(s);
    bo_metrics_app_state *states = bo_calloc(c->napps ? c->napps : 1, sizeof *states);
    for (unsigned i = 0; i < c->napps; i++) {
        states[i].name = c->apps[i]->name;
        states[i].up = c->apps[i]->error == NULL;
        states[i].generation = c->apps[i]->generation;
    }
    bo_metrics **tables = bo_calloc((size_t)s->nworkers + 1, sizeof *tables);
    tables[0] = &s->metrics;
    for (int i = 0; i < s->nworkers; i++)
        tables[i + 1] = &s->workers[i].metrics;
    bo_metrics_render(out, tables, (unsigned)s->nworkers + 1, states, c->napps, atomic_load(&s->conns));
    free(tables);
    free(states);
    bo_catalog_unref(c);
}

/* ---- sockets ---- */

static int parse_addr(const char *host, int port, struct sockaddr_storage *addr)
{
    if (strchr(host, ':'))
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)addr);
    return uv_ip4_addr(host, port, (struct sockaddr_in *)addr);
}

/* Binds a listening socket; with reuse_port it joins the group the workers
   share. Returns the fd or -1 with errno set. */
static int bind_socket(const struct sockaddr_storage *addr, bool reuse_port)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (reuse_port)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
    socklen_t len = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (const struct sockaddr *)addr, len) < 0 || listen(fd, 511) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
        return -1;
    return ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                            : ((struct sockaddr_in *)&addr)->sin_port);
}

/* Opens one socket per worker on host:port (*bound gets the port, which
   port 0 leaves to the kernel). A first bind without SO_REUSEPORT makes sure
   no other server (an old borough, say) holds the port: with SO_REUSEPORT
   the kernel would otherwise share it silently. */
static int open_sockets(const char *host, int port, int n, int *fds, int *bound)
{
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    if (parse_addr(host, port, &addr) < 0) {
        bo_log(BO_LOG_ERROR, NULL, "cannot listen on %s:%d: not an IP address", host, port);
        return -1;
    }
    int probe = bind_socket(&addr, false);
    if (probe < 0) {
        bo_log(BO_LOG_ERROR, NULL, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        return -1;
    }
    *bound = bound_port(probe);
    close(probe);
    if (addr.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)*bound);
    else
        ((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)*bound);
    for (int i = 0; i < n; i++) {
        fds[i] = bind_socket(&addr, true);
        if (fds[i] < 0) {
            bo_log(BO_LOG_ERROR, NULL, "cannot listen on %s:%d: %s", host, *bound, strerror(errno));
            while (i-- > 0)
                close(fds[i]);
            return -1;
        }
    }
    return 0;
}

/* ---- the main loop ---- */

void bo_server_worker_ready(bo_server *s)
{
    atomic_fetch_add(&s->ready, 1);
    uv_async_send(&s->worker_event);
}

void bo_server_worker_synced(bo_server *s)
{
    uv_async_send(&s->worker_event);
}

void bo_server_worker_done(bo_server *s)
{
    atomic_fetch_add(&s->done, 1);
    uv_async_send(&s->worker_event);
}

void bo_server_stop(bo_server *s)
{
    atomic_store(&s->stopping, true);
    for (int i = 0; i < s->nworkers; i++)
        bo_worker_wake(&s->workers[i]);
}

/* Closes the main loop's handles, so that uv_run returns. */
static void close_main(bo_server *s)
{
    if (s->closed)
        return;
    s->closed = true;
    drop_waits(s);
    bo_control_close(&s->control);
    bo_watch_stop(&s->watch);
    bo_walkeeper_stop(&s->keeper);
    bo_notify_stop(s->notify);
    bo_fleet_stop(s->fleet);
    for (size_t i = 0; i < BO_COUNT(s->signals); i++)
        uv_close((uv_handle_t *)&s->signals[i], NULL);
    uv_close((uv_handle_t *)&s->worker_event, NULL);
}

static void on_worker_event(uv_async_t *a)
{
    bo_server *s = a->data;
    if (s->closed)
        return;
    if (!s->announced && atomic_load(&s->ready) == s->nworkers) {
        s->announced = true;
        const char *h = s->cfg.host;
        bool v6 = strchr(h, ':') != NULL;
        if (bo_db_url_shown())
            bo_log(BO_LOG_INFO, NULL, "database: %s", bo_db_url_shown());
        bo_log(BO_LOG_INFO, NULL, "listening on %s://%s%s%s:%d/ with %d worker%s", s->cert ? "https" : "http",
               v6 ? "[" : "", h, v6 ? "]" : "", s->port, s->nworkers, s->nworkers == 1 ? "" : "s");
        if (s->redirect_port) {
            h = s->cfg.redirect_host;
            v6 = strchr(h, ':') != NULL;
            bo_log(BO_LOG_INFO, NULL, "plain HTTP on http://%s%s%s:%d/ redirects to HTTPS", v6 ? "[" : "", h,
                   v6 ? "]" : "", s->redirect_port);
        }
        if (s->cfg.on_ready)
            s->cfg.on_ready(s, s->cfg.ready_ud);
    }
    check_waits(s);
    if (atomic_load(&s->done) == s->nworkers)
        close_main(s);
}

static void on_signal(uv_signal_t *h, int signum)
{
    bo_server *s = h->data;
    if (signum == SIGHUP) {
        if (!atomic_load(&s->stopping)) {
            bo_log(BO_LOG_INFO, NULL, "SIGHUP: reloading the apps that changed");
            reload(s, NULL, NULL);
        }
        return;
    }
    if (atomic_load(&s->stopping)) {
        bo_log(BO_LOG_WARN, NULL, "second %s: stopping now", strsignal(signum));
        _exit(1);
    }
    bo_log(BO_LOG_INFO, NULL, "%s: stopping; in-flight requests have %.1f s to finish", strsignal(signum),
           (double)s->cfg.drain_ms / 1000);
    bo_server_stop(s);
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST)
        return 0;
    bo_log(BO_LOG_ERROR, NULL, "cannot create the data folder %s: %s", dir, strerror(errno));
    return -1;
}

/* Creates data/borough.db or brings its schema up to date, so that a data
   folder the server cannot use stops it before it listens. */
static int open_platform_db(const char *data_dir)
{
    bo_db *db;
    char err[512];
    if (bo_platformdb_open(&db, data_dir, err, sizeof err) < 0) {
        bo_log(BO_LOG_ERROR, NULL, "%s", err);
        return -1;
    }
    bo_db_close(db);
    return 0;
}

/* Loads the data folder's keys (crypto.h), making data/keys at the first
   start, so a key file others can read stops the server before it listens
   rather than the first request that opens an encrypted field. */
static int load_keys(const char *data_dir)
{
    char err[512];
    if (!bo_keyring_shared(data_dir, err, sizeof err)) {
        bo_log(BO_LOG_ERROR, NULL, "%s", err);
        return -1;
    }
    return 0;
}

/* The site's address from outside, for absolute links (borough.url with
   absolute = true): --public-url, else site.conf's public_url, else the
   listen address. A malformed public_url in site.conf stops the start
   with one line. */
static int set_public_url(bo_server *s, int port)
{
    const bo_config *cfg = &s->cfg;
    char *url;
    if (cfg->public_url) {
        url = bo_strdup(cfg->public_url);
    } else {
        const bo_site *site = bo_site_get(cfg->data_dir);
        if (site->bad_public_url) {
            bo_log(BO_LOG_ERROR, NULL, "%s/%s", cfg->data_dir, site->error);
            return -1;
        }
        if (site->public_url) {
            url = bo_strdup(site->public_url);
        } else {
            const char *host = cfg->host;
            bool any = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || !*host;
            bool v6 = !any && strchr(host, ':') != NULL;
            url = bo_sprintf("%s://%s%s%s:%d", cfg->tls_cert ? "https" : "http", v6 ? "[" : "",
                             any ? "localhost" : host, v6 ? "]" : "", port);
        }
    }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        url[--n] = '\0';
    free(s->public_url);
    s->public_url = url;
    s->paths.public_url = url;
    return 0;
}

int bo_server_run(const bo_config *cfg)
{
    bo_server *s = bo_calloc(1, sizeof *s);
    int status = 1;
    s->cfg = *cfg;
    s->paths.data_dir = cfg->data_dir;
    s->paths.lib_dir = cfg->lib_dir;
    s->paths.libs = bo_platform_libs;
    s->paths.bus = bo_bus_new();
    s->nworkers = cfg->workers > 0 ? cfg->workers : 1;
    s->started_ms = bo_unix_ms();
    pthread_mutex_init(&s->lock, NULL);
    unsigned char rnd[3] = { 0 };
    if (getrandom(rnd, sizeof rnd, 0) < 0)
        memset(rnd, 0, sizeof rnd);
    snprintf(s->run_id, sizeof s->run_id, "%02x%02x%02x", rnd[0], rnd[1], rnd[2]);
    char node[BO_NODE_ID_LEN + 1];
    bo_nodes_id(cfg->data_dir, node);
    snprintf(s->claim_id, sizeof s->claim_id, "%s%s", node, s->run_id);
    signal(SIGPIPE, SIG_IGN);

    /* fds[i]: worker i's listening socket; fds[nworkers + i]: its socket
       of the redirect listener, or -1. */
    int *fds = bo_calloc((size_t)s->nworkers * 2, sizeof *fds);
    for (int i = 0; i < s->nworkers; i++)
        fds[s->nworkers + i] = -1;
    char err[512];
    if (cfg->tls_cert && bo_https_cert_load(&s->cert, cfg->tls_cert, cfg->tls_key, err, sizeof err) < 0) {
        bo_log(BO_LOG_ERROR, NULL, "%s", err);
        goto out;
    }
    if (make_dir(cfg->data_dir) < 0 || open_platform_db(cfg->data_dir) < 0 || load_keys(cfg->data_dir) < 0 ||
        set_public_url(s, cfg->port) < 0)
        goto out;
    s->catalog = first_catalog(cfg, &s->paths, report_to_log, err, sizeof err);
    if (!s->catalog) {
        bo_log(BO_LOG_ERROR, NULL, "%s", err);
        goto out;
    }
    if (open_sockets(cfg->host, cfg->port, s->nworkers, fds, &s->port) < 0)
        goto out;
    if (cfg->port == 0)
        set_public_url(s, s->port);       /* the port now known */
    if (cfg->redirect_host &&
        open_sockets(cfg->redirect_host, cfg->redirect_port, s->nworkers, fds + s->nworkers, &s->redirect_port) < 0) {
        for (int i = 0; i < s->nworkers; i++)
            close(fds[i]);
        goto out;
    }

    uv_loop_init(&s->loop);
    bo_metrics_init(&s->metrics);
    if (cfg->control) {
        /* Before any other thread runs: it sets the umask for a moment. */
        char *path = bo_sprintf("%s/%s", cfg->data_dir, BO_CONTROL_NAME);
        int rc = bo_control_open(&s->control, &s->loop, path, on_control, s, err, sizeof err);
        free(path);
        if (rc < 0) {
            bo_log(BO_LOG_ERROR, NULL, "%s", err);
            for (int i = 0; i < s->nworkers * 2; i++)
                if (fds[i] >= 0)
                    close(fds[i]);
            uv_run(&s->loop, UV_RUN_NOWAIT);
            uv_loop_close(&s->loop);
            goto out;
        }
    }
    bo_walkeeper_start(&s->keeper, &s->loop, s, WAL_CHECKPOINT_MS);
    bo_notify_start(&s->notify, &s->loop, s);
    bo_fleet_start(&s->fleet, s, fleet_reload);
    uv_async_init(&s->loop, &s->worker_event, on_worker_event);
    s->worker_event.data = s;
    static const int signums[] = { SIGINT, SIGTERM, SIGHUP };
    for (size_t i = 0; i < BO_COUNT(signums); i++) {
        uv_signal_init(&s->loop, &s->signals[i]);
        s->signals[i].data = s;
        uv_signal_start(&s->signals[i], on_signal, signums[i]);
    }
    s->workers = bo_calloc((size_t)s->nworkers, sizeof *s->workers);
    for (int i = 0; i < s->nworkers; i++) {
        if (bo_worker_init(&s->workers[i], s, i + 1, fds[i], fds[s->nworkers + i]) < 0 ||
            bo_worker_start(&s->workers[i]) < 0) {
            bo_log(BO_LOG_ERROR, NULL, "cannot start worker %d", i + 1);
            atomic_store(&s->stopping, true);
            for (int j = 0; j < i; j++)
                bo_worker_wake(&s->workers[j]);
            s->nworkers = i;   /* only those started will report done */
            break;
        }
    }
    if (s->nworkers == 0)
        close_main(s);
    else if (cfg->watch && bo_watch_start(&s->watch, &s->loop, cfg->only_app ? cfg->only_app : cfg->apps_dir,
                                          BO_WATCH_DEBOUNCE_MS, on_watch, s) == 0)
        bo_log(BO_LOG_INFO, NULL, "watching %s: changes reload the apps", cfg->only_app ? cfg->only_app : cfg->apps_dir);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < s->nworkers; i++)
        bo_worker_join(&s->workers[i]);
    for (int i = 0; i < s->nworkers; i++)
        bo_worker_free(&s->workers[i]);
    bo_metrics_free(&s->metrics);
    uv_loop_close(&s->loop);
    bo_lsso_cache_free();
    bo_httpc_tls_default_free();
    bo_notify_conf_forget();
    status = atomic_load(&s->stopping) && s->announced ? 0 : 1;
    bo_log(BO_LOG_INFO, NULL, "stopped");
out:
    bo_catalog_unref(s->catalog);
    bo_https_cert_unref(s->cert);
    free(s->public_url);
    free(s->workers);
    for (unsigned i = 0; i < s->nnotes; i++) {
        free(s->notes[i].app);
        free(s->notes[i].error);
    }
    free(s->notes);
    free(fds);
    bo_bus_free(s->paths.bus);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return status;
}

/* ---- check ---- */

static void report_to_stderr(const char *app, const char *msg)
{
    BO_UNUSED(app);
    fprintf(stderr, "%s\n", msg);
}

int bo_server_check(const char *path, const bo_paths *paths)
{
    char *single = bo_sprintf("%s/app.lua", path);
    struct stat st;
    bool is_app = stat(single, &st) == 0 && S_ISREG(st.st_mode);
    free(single);
    bo_config cfg;
    bo_config_defaults(&cfg);
    cfg.apps_dir = path;
    cfg.only_app = is_app ? path : NULL;
    cfg.site = false;
    char err[512];
    bo_catalog *c = first_catalog(&cfg, paths, report_to_stderr, err, sizeof err);
    if (!c) {
        fprintf(stderr, "borough check: %s\n", err);
        return -1;
    }
    if (c->napps == 0) {
        fprintf(stderr, "borough check: no apps in %s (an app is a folder with an app.lua)\n", path);
        bo_catalog_unref(c);
        return -1;
    }
    int broken = 0;
    for (unsigned i = 0; i < c->napps; i++) {
        if (c->apps[i]->error)
            broken++;
        else
            printf("ok %s (%s)\n", c->apps[i]->dir, where_of(c->apps[i]));
    }
    bo_catalog_unref(c);
    return broken;
}
