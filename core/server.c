/*
 * server.c - the main thread (see server.h): loads the app catalog, binds
 * the listening sockets, runs the workers, and handles signals: SIGTERM and
 * SIGINT stop gracefully, SIGHUP reloads every app.
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* How often the WAL keeper checkpoints every app database. */
#define WAL_CHECKPOINT_MS 2000

void bo_config_defaults(bo_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->apps_dir = "apps";
    cfg->data_dir = "data";
    cfg->host = "127.0.0.1";
    cfg->port = 8080;
    cfg->workers = (int)uv_available_parallelism();
    cfg->max_conns = 10000;
    cfg->header_timeout_ms = 10000;
    cfg->body_timeout_ms = 10000;
    cfg->idle_timeout_ms = 15000;
    cfg->send_timeout_ms = 30000;
    cfg->drain_ms = 10000;
    cfg->access_log = true;
}

/* ---- the catalog ---- */

void bo_catalog_unref(bo_catalog *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    for (unsigned i = 0; i < c->napps; i++)
        bo_app_info_unref(c->apps[i]);
    free(c->apps);
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

/* Finds the info for dir in a catalog, or NULL. */
static bo_app_info *find_app(bo_catalog *c, const char *dir)
{
    for (unsigned i = 0; c && i < c->napps; i++)
        if (strcmp(c->apps[i]->dir, dir) == 0)
            return c->apps[i];
    return NULL;
}

/* Loads one app folder on this thread. A failure yields an info carrying
   the error (or, on reload, the previous good info). Reports to `report`
   (the log, or stderr for check). */
static bo_app_info *load_app(const char *dir, const bo_paths *paths, bo_catalog *previous,
                             void (*report)(const char *app, const char *msg))
{
    bo_app_info *info = bo_app_info_new(dir);
    bo_gen *g;
    char err[2048];
    if (bo_gen_load(&g, info, paths, true, true, err, sizeof err) == 0) {
        bo_gen_free(g);
        return info;
    }
    report(info->name, err);
    bo_app_info *old = find_app(previous, info->dir);
    if (old && !old->error) {
        bo_log(BO_LOG_WARN, info->name, "the new version did not load; the running version keeps serving");
        bo_app_info_unref(info);
        return bo_app_info_ref(old);
    }
    free(info->error);
    info->error = bo_strdup(err);
    return info;
}

/* Two apps may not share a mount or a host: the later one (by name) fails. */
static void check_mounts(bo_catalog *c, void (*report)(const char *app, const char *msg))
{
    bo_mounts seen;
    bo_mounts_init(&seen);
    for (unsigned i = 0; i < c->napps; i++) {
        bo_app_info *info = c->apps[i];
        if (info->error)
            continue;
        int rc = 0;
        const char *what = NULL;
        if (info->host && (rc = bo_mounts_add(&seen, info->host, NULL, (int)i)) < 0)
            what = info->host;
        else if (info->mount && (rc = bo_mounts_add(&seen, NULL, info->mount[0] ? info->mount : "/", (int)i)) < 0)
            what = info->mount[0] ? info->mount : "/";
        if (what) {
            char *msg = bo_sprintf("%s/app.lua: %s %s is already used by another app", info->dir,
                                   info->host && what == info->host ? "host" : "mount", what);
            report(info->name, msg);
            /* The info may be shared with a running catalog: make an error copy. */
            bo_app_info *broken = bo_app_info_new(info->dir);
            broken->error = msg;
            bo_app_info_unref(info);
            c->apps[i] = broken;
        }
    }
    bo_mounts_free(&seen);
}

static bo_catalog *load_catalog(const char *apps_dir, const bo_paths *paths, bo_catalog *previous,
                                void (*report)(const char *app, const char *msg), char *err,
                                size_t errlen)
{
    char **dirs;
    int n = bo_app_scan(apps_dir, &dirs, err, errlen);
    if (n < 0)
        return NULL;
    bo_catalog *c = bo_calloc(1, sizeof *c);
    atomic_init(&c->refs, 1);
    c->version = previous ? previous->version + 1 : 1;
    c->apps = bo_calloc((size_t)(n ? n : 1), sizeof *c->apps);
    for (int i = 0; i < n; i++) {
        c->apps[c->napps++] = load_app(dirs[i], paths, previous, report);
        free(dirs[i]);
    }
    free(dirs);
    check_mounts(c, report);
    return c;
}

static void report_to_log(const char *app, const char *msg)
{
    bo_log(BO_LOG_ERROR, app, "%s", msg);
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

static void reload_all(bo_server *s)
{
    bo_catalog *current = bo_server_catalog(s);
    char err[512];
    bo_catalog *next = load_catalog(s->cfg.apps_dir, &s->paths, current, report_to_log, err, sizeof err);
    bo_catalog_unref(current);
    if (!next) {
        bo_log(BO_LOG_ERROR, NULL, "reload: %s", err);
        return;
    }
    unsigned broken = 0;
    for (unsigned i = 0; i < next->napps; i++)
        broken += next->apps[i]->error != NULL;
    publish(s, next);
    bo_log(BO_LOG_INFO, NULL, "reloaded %u app%s (%u unavailable)", next->napps,
           next->napps == 1 ? "" : "s", broken);
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

/* Opens one socket per worker. A first bind without SO_REUSEPORT makes sure
   no other server (an old borough, say) holds the port: with SO_REUSEPORT
   the kernel would otherwise share it silently. */
static int open_sockets(bo_server *s, int *fds)
{
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    if (parse_addr(s->cfg.host, s->cfg.port, &addr) < 0) {
        bo_log(BO_LOG_ERROR, NULL, "cannot listen on %s:%d: not an IP address", s->cfg.host, s->cfg.port);
        return -1;
    }
    int probe = bind_socket(&addr, false);
    if (probe < 0) {
        bo_log(BO_LOG_ERROR, NULL, "cannot listen on %s:%d: %s", s->cfg.host, s->cfg.port, strerror(errno));
        return -1;
    }
    s->port = bound_port(probe);
    close(probe);
    if (addr.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)s->port);
    else
        ((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)s->port);
    for (int i = 0; i < s->nworkers; i++) {
        fds[i] = bind_socket(&addr, true);
        if (fds[i] < 0) {
            bo_log(BO_LOG_ERROR, NULL, "cannot listen on %s:%d: %s", s->cfg.host, s->port, strerror(errno));
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

void bo_server_worker_done(bo_server *s)
{
    atomic_fetch_add(&s->done, 1);
    uv_async_send(&s->worker_event);
}

static void on_worker_event(uv_async_t *a)
{
    bo_server *s = a->data;
    if (!s->announced && atomic_load(&s->ready) == s->nworkers) {
        s->announced = true;
        const char *h = s->cfg.host;
        bo_log(BO_LOG_INFO, NULL, "listening on http://%s%s%s:%d/ with %d worker%s", strchr(h, ':') ? "[" : "",
               h, strchr(h, ':') ? "]" : "", s->port, s->nworkers, s->nworkers == 1 ? "" : "s");
    }
    if (atomic_load(&s->done) == s->nworkers) {
        bo_walkeeper_stop(&s->keeper);
        for (size_t i = 0; i < BO_COUNT(s->signals); i++)
            uv_close((uv_handle_t *)&s->signals[i], NULL);
        uv_close((uv_handle_t *)&s->worker_event, NULL);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    bo_server *s = h->data;
    if (signum == SIGHUP) {
        if (!atomic_load(&s->stopping))
            reload_all(s);
        return;
    }
    if (atomic_load(&s->stopping)) {
        bo_log(BO_LOG_WARN, NULL, "second %s: stopping now", strsignal(signum));
        _exit(1);
    }
    bo_log(BO_LOG_INFO, NULL, "%s: stopping; in-flight requests have %.1f s to finish", strsignal(signum),
           (double)s->cfg.drain_ms / 1000);
    atomic_store(&s->stopping, true);
    for (int i = 0; i < s->nworkers; i++)
        bo_worker_wake(&s->workers[i]);
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST)
        return 0;
    bo_log(BO_LOG_ERROR, NULL, "cannot create the data folder %s: %s", dir, strerror(errno));
    return -1;
}

int bo_server_run(const bo_config *cfg)
{
    bo_server *s = bo_calloc(1, sizeof *s);
    int status = 1;
    s->cfg = *cfg;
    s->paths.data_dir = cfg->data_dir;
    s->paths.lib_dir = cfg->lib_dir;
    s->nworkers = cfg->workers > 0 ? cfg->workers : 1;
    pthread_mutex_init(&s->lock, NULL);
    unsigned char rnd[3] = { 0 };
    if (getrandom(rnd, sizeof rnd, 0) < 0)
        memset(rnd, 0, sizeof rnd);
    snprintf(s->run_id, sizeof s->run_id, "%02x%02x%02x", rnd[0], rnd[1], rnd[2]);
    signal(SIGPIPE, SIG_IGN);

    int *fds = bo_calloc((size_t)s->nworkers, sizeof *fds);
    char err[512];
    if (make_dir(cfg->data_dir) < 0)
        goto out;
    s->catalog = load_catalog(cfg->apps_dir, &s->paths, NULL, report_to_log, err, sizeof err);
    if (!s->catalog) {
        bo_log(BO_LOG_ERROR, NULL, "%s", err);
        goto out;
    }
    if (open_sockets(s, fds) < 0)
        goto out;

    uv_loop_init(&s->loop);
    bo_walkeeper_start(&s->keeper, &s->loop, s, WAL_CHECKPOINT_MS);
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
        if (bo_worker_init(&s->workers[i], s, i + 1, fds[i]) < 0 || bo_worker_start(&s->workers[i]) < 0) {
            bo_log(BO_LOG_ERROR, NULL, "cannot start worker %d", i + 1);
            atomic_store(&s->stopping, true);
            for (int j = 0; j < i; j++)
                bo_worker_wake(&s->workers[j]);
            s->nworkers = i;   /* only those started will report done */
            break;
        }
    }
    if (s->nworkers == 0) {
        bo_walkeeper_stop(&s->keeper);
        for (size_t i = 0; i < BO_COUNT(signums); i++)
            uv_close((uv_handle_t *)&s->signals[i], NULL);
        uv_close((uv_handle_t *)&s->worker_event, NULL);
    }
    uv_run(&s->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < s->nworkers; i++)
        bo_worker_join(&s->workers[i]);
    uv_loop_close(&s->loop);
    status = atomic_load(&s->stopping) && s->announced ? 0 : 1;
    bo_log(BO_LOG_INFO, NULL, "stopped");
out:
    bo_catalog_unref(s->catalog);
    free(s->workers);
    free(fds);
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
    bo_catalog *c;
    if (is_app) {
        c = bo_calloc(1, sizeof *c);
        atomic_init(&c->refs, 1);
        c->apps = bo_calloc(1, sizeof *c->apps);
        c->apps[c->napps++] = load_app(path, paths, NULL, report_to_stderr);
    } else {
        char err[512];
        c = load_catalog(path, paths, NULL, report_to_stderr, err, sizeof err);
        if (!c) {
            fprintf(stderr, "borough check: %s\n", err);
            return -1;
        }
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
            printf("ok %s (%s)\n", c->apps[i]->dir, c->apps[i]->mount ? (c->apps[i]->mount[0] ? c->apps[i]->mount : "/")
                                                                       : c->apps[i]->host);
    }
    bo_catalog_unref(c);
    return broken;
}
