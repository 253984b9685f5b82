/*
 * watch.h - `serve --watch`: notices changes under the apps folder and,
 * once the changes have paused for a moment (an editor saving several
 * files, a `git checkout`), calls back so the server can reload.
 *
 * It watches the apps folder and every folder inside it (inotify through
 * uv_fs_event, which is not recursive on Linux), except dot folders and
 * each app's static/ and tests/ (whose files a reload does not read).
 * After each reload the server calls bo_watch_refresh() so that folders
 * made since are watched too. Runs on the main thread's loop.
 */
#ifndef BO_WATCH_H
#define BO_WATCH_H

#include "bo.h"

#include <uv.h>

#define BO_WATCH_DEBOUNCE_MS 150

typedef struct bo_watch_dir bo_watch_dir;

typedef struct bo_watch {
    uv_loop_t *loop;
    uv_timer_t debounce;
    char *root;
    bo_watch_dir *dirs;
    void (*on_change)(void *ud);
    void *ud;
    uint64_t delay_ms;
    bool open;
} bo_watch;

/* Starts watching apps_dir; on_change(ud) runs delay_ms after the last of
   a burst of changes. Returns 0 or BO_EIO (nothing to stop then). */
int bo_watch_start(bo_watch *w, uv_loop_t *loop, const char *apps_dir, uint64_t delay_ms,
                   void (*on_change)(void *ud), void *ud);
/* Watches the folders as they are now (new ones in, removed ones out). */
void bo_watch_refresh(bo_watch *w);
/* Closes every handle (the memory goes in their close callbacks). */
void bo_watch_stop(bo_watch *w);

#endif
