/*
 * watch.c - change notification for `serve --watch` (see watch.h). A
 * refresh opens the new set of watches before closing the old one, so a
 * change made while it runs is not missed.
 */
#include "watch.h"
#include "log.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DEPTH 8
#define MAX_DIRS 4096

struct bo_watch_dir {
    uv_fs_event_t event;        /* first: the handle is the entry */
    bo_watch *watch;
    bo_watch_dir *next;
};

static void on_dir_closed(uv_handle_t *h)
{
    free(h);
}

static void on_debounce(uv_timer_t *t)
{
    bo_watch *w = t->data;
    if (w->open)
        w->on_change(w->ud);
}

static void on_event(uv_fs_event_t *e, const char *filename, int events, int status)
{
    BO_UNUSED(events);
    bo_watch_dir *d = (bo_watch_dir *)e;
    bo_watch *w = d->watch;
    if (!w->open || status < 0)
        return;
    /* Editors' swap and backup files change nothing a reload reads. */
    if (filename) {
        size_t n = strlen(filename);
        if (filename[0] == '.' || (n && filename[n - 1] == '~'))
            return;
    }
    uv_timer_start(&w->debounce, on_debounce, w->delay_ms, 0);
}

static void add_dir(bo_watch *w, bo_watch_dir **list, unsigned *count, const char *path, int depth)
{
    if (*count >= MAX_DIRS)
        return;
    bo_watch_dir *d = bo_calloc(1, sizeof *d);
    d->watch = w;
    uv_fs_event_init(w->loop, &d->event);
    if (uv_fs_event_start(&d->event, on_event, path, 0) < 0) {
        uv_close((uv_handle_t *)&d->event, on_dir_closed);
        return;
    }
    d->next = *list;
    *list = d;
    (*count)++;
    if (depth >= MAX_DEPTH)
        return;
    DIR *dir = opendir(path);
    if (!dir)
        return;
    char **subs = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        /* In an app folder (depth 1), static/ and tests/ are not source. */
        if (depth == 1 && (strcmp(e->d_name, "static") == 0 || strcmp(e->d_name, "tests") == 0))
            continue;
        char *sub = bo_sprintf("%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
            subs = bo_realloc(subs, sizeof *subs * (n + 1));
            subs[n++] = sub;
        } else {
            free(sub);
        }
    }
    closedir(dir);
    for (size_t i = 0; i < n; i++) {
        add_dir(w, list, count, subs[i], depth + 1);
        free(subs[i]);
    }
    free(subs);
}

static void close_dirs(bo_watch_dir *d)
{
    while (d) {
        bo_watch_dir *next = d->next;
        uv_close((uv_handle_t *)&d->event, on_dir_closed);
        d = next;
    }
}

void bo_watch_refresh(bo_watch *w)
{
    if (!w->open)
        return;
    bo_watch_dir *fresh = NULL;
    unsigned count = 0;
    add_dir(w, &fresh, &count, w->root, 0);
    close_dirs(w->dirs);
    w->dirs = fresh;
}

int bo_watch_start(bo_watch *w, uv_loop_t *loop, const char *apps_dir, uint64_t delay_ms,
                   void (*on_change)(void *ud), void *ud)
{
    memset(w, 0, sizeof *w);
    w->loop = loop;
    w->root = bo_strdup(apps_dir);
    w->on_change = on_change;
    w->ud = ud;
    w->delay_ms = delay_ms;
    w->open = true;
    uv_timer_init(loop, &w->debounce);
    w->debounce.data = w;
    bo_watch_refresh(w);
    if (!w->dirs) {
        bo_log(BO_LOG_ERROR, NULL, "--watch: cannot watch %s", apps_dir);
        bo_watch_stop(w);
        return BO_EIO;
    }
    return 0;
}

void bo_watch_stop(bo_watch *w)
{
    if (!w->open)
        return;
    w->open = false;
    close_dirs(w->dirs);
    w->dirs = NULL;
    uv_close((uv_handle_t *)&w->debounce, NULL);
    free(w->root);
    w->root = NULL;
}
