/*
 * snapshot.h - an app folder's source, read into memory once per load.
 *
 * When the main thread loads an app folder it first reads every source file
 * of it (Lua modules, templates, migrations) into a snapshot. The generation
 * the main thread judges and the generations every worker builds afterwards
 * all load from that snapshot, never from the disk again, so:
 *  - every worker runs exactly the code that was judged, even when an editor
 *    is halfway through saving the folder while the workers load it;
 *  - the last good version of an app can be loaded again (rollback) after
 *    its files on disk have changed;
 *  - a reload of all apps can tell an unchanged app (same snapshot) from a
 *    changed one, and leave the unchanged ones alone.
 *
 * What a snapshot holds: the regular files whose names end in .lua, .html
 * or .sql anywhere in the app folder, except under static/ (served from the
 * disk as they are) and tests/ (run by `borough test` from the disk), and
 * except dot files and symbolic links. Limits: BO_SNAPSHOT_MAX_FILE bytes a
 * file, BO_SNAPSHOT_MAX_BYTES in all, BO_SNAPSHOT_MAX_FILES files, folders
 * BO_SNAPSHOT_MAX_DEPTH deep.
 *
 * A snapshot is immutable once read and is shared read-only by every thread
 * (its owner, a bo_app_info, outlives every generation loaded from it).
 */
#ifndef BO_SNAPSHOT_H
#define BO_SNAPSHOT_H

#include "bo.h"

#define BO_SNAPSHOT_MAX_FILE (16 * 1024 * 1024)
#define BO_SNAPSHOT_MAX_BYTES (64 * 1024 * 1024)
#define BO_SNAPSHOT_MAX_FILES 5000
#define BO_SNAPSHOT_MAX_DEPTH 8

typedef struct bo_snapshot_file {
    char *path;             /* relative to the app folder: "app.lua", "lib/money.lua" */
    char *data;             /* the bytes, NUL-terminated (len excludes the NUL) */
    size_t len;
} bo_snapshot_file;

typedef struct bo_snapshot {
    bo_snapshot_file *files;    /* sorted by path (strcmp) */
    unsigned nfiles;
    size_t bytes;               /* the sum of the files' lengths */
    char hash[65];              /* the version: hex SHA-256 of the SHA-256 of each file's
                                   path (with its NUL) and of its bytes, in path order */
} bo_snapshot;

/* Reads the source files of the app folder dir. Returns 0 and a new
   snapshot in *out (free with bo_snapshot_free), or BO_EIO / BO_ELIMIT with
   a one-line reason in err ("apps/grants/views: Permission denied"). */
int bo_snapshot_read(bo_snapshot **out, const char *dir, char *err, size_t errlen);
void bo_snapshot_free(bo_snapshot *s);

/* Returns the file at the relative path, or NULL. */
const bo_snapshot_file *bo_snapshot_find(const bo_snapshot *s, const char *path);

/* True when both hold the same files with the same bytes. */
bool bo_snapshot_equal(const bo_snapshot *a, const bo_snapshot *b);

#endif
