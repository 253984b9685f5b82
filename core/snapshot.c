/*
 * snapshot.c - reading an app folder's source files into memory (see
 * snapshot.h). The walk collects names first and reads files after closing
 * each folder, so at most one folder and one file are open at a time.
 */
#include "snapshot.h"
#include "crypto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct walk {
    bo_snapshot *snap;
    unsigned cap;
    const char *root;
    char *err;
    size_t errlen;
} walk;

static bool is_source(const char *name)
{
    static const char *const exts[] = { ".lua", ".html", ".sql" };
    size_t n = strlen(name);
    for (size_t i = 0; i < BO_COUNT(exts); i++) {
        size_t e = strlen(exts[i]);
        if (n > e && strcmp(name + n - e, exts[i]) == 0)
            return true;
    }
    return false;
}

/* Reads root/rel into a new file entry. */
static int add_file(walk *w, const char *rel)
{
    bo_snapshot *s = w->snap;
    if (s->nfiles >= BO_SNAPSHOT_MAX_FILES) {
        snprintf(w->err, w->errlen, "%s: more than %d source files", w->root, BO_SNAPSHOT_MAX_FILES);
        return BO_ELIMIT;
    }
    char *path = bo_sprintf("%s/%s", w->root, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(w->err, w->errlen, "cannot read %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(path);
        return BO_EIO;
    }
    /* Reads at most the size seen now: a file still growing is cut there
       (the next reload reads it whole). */
    size_t cap = (size_t)st.st_size;
    if (cap > BO_SNAPSHOT_MAX_FILE || s->bytes + cap > BO_SNAPSHOT_MAX_BYTES) {
        snprintf(w->err, w->errlen, "%s: over %d MiB of source (a file may have %d MiB)", path,
                 BO_SNAPSHOT_MAX_BYTES >> 20, BO_SNAPSHOT_MAX_FILE >> 20);
        close(fd);
        free(path);
        return BO_ELIMIT;
    }
    char *data = bo_malloc(cap + 1);
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, data + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(w->err, w->errlen, "cannot read %s: %s", path, strerror(errno));
            close(fd);
            free(path);
            free(data);
            return BO_EIO;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    free(path);
    data[got] = '\0';
    if (s->nfiles == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 16;
        s->files = bo_realloc(s->files, sizeof *s->files * w->cap);
    }
    s->files[s->nfiles++] = (bo_snapshot_file){ bo_strdup(rel), data, got };
    s->bytes += got;
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walks root/rel (rel "" for the root itself). */
static int walk_dir(walk *w, const char *rel, int depth)
{
    char *dir = rel[0] ? bo_sprintf("%s/%s", w->root, rel) : bo_strdup(w->root);
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(w->err, w->errlen, "cannot read %s: %s", dir, strerror(errno));
        free(dir);
        return BO_EIO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (!rel[0] && (strcmp(e->d_name, "static") == 0 || strcmp(e->d_name, "tests") == 0))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            names = bo_realloc(names, sizeof *names * cap);
        }
        names[n++] = bo_strdup(e->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, compare_names);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            char *sub = rel[0] ? bo_sprintf("%s/%s", rel, names[i]) : bo_strdup(names[i]);
            char *full = bo_sprintf("%s/%s", dir, names[i]);
            struct stat st;
            if (lstat(full, &st) == 0) {
                if (S_ISDIR(st.st_mode) && depth < BO_SNAPSHOT_MAX_DEPTH)
                    rc = walk_dir(w, sub, depth + 1);
                else if (S_ISREG(st.st_mode) && is_source(names[i]))
                    rc = add_file(w, sub);
            }
            free(full);
            free(sub);
        }
        free(names[i]);
    }
    free(names);
    free(dir);
    return rc;
}

static int compare_files(const void *a, const void *b)
{
    return strcmp(((const bo_snapshot_file *)a)->path, ((const bo_snapshot_file *)b)->path);
}

int bo_snapshot_read(bo_snapshot **out, const char *dir, char *err, size_t errlen)
{
    *out = NULL;
    bo_snapshot *s = bo_calloc(1, sizeof *s);
    walk w = { s, 0, dir, err, errlen };
    int rc = walk_dir(&w, "", 0);
    if (rc < 0) {
        bo_snapshot_free(s);
        return rc;
    }
    /* Folder by folder in name order is not strcmp order of whole paths
       ("a/b" against "a-c"): sort once more for the binary search. */
    if (s->nfiles > 1)
        qsort(s->files, s->nfiles, sizeof *s->files, compare_files);
    /* The version the admin console and `borough status` show. */
    uint8_t *list = bo_malloc((size_t)s->nfiles * 64 + 1);
    for (unsigned i = 0; i < s->nfiles; i++) {
        bo_sha256(s->files[i].path, strlen(s->files[i].path) + 1, list + 64 * (size_t)i);  /* with its NUL */
        bo_sha256(s->files[i].data, s->files[i].len, list + 64 * (size_t)i + 32);
    }
    uint8_t digest[32];
    bo_sha256(list, (size_t)s->nfiles * 64, digest);
    bo_hex(digest, sizeof digest, s->hash);
    free(list);
    *out = s;
    return 0;
}

void bo_snapshot_free(bo_snapshot *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < s->nfiles; i++) {
        free(s->files[i].path);
        free(s->files[i].data);
    }
    free(s->files);
    free(s);
}

const bo_snapshot_file *bo_snapshot_find(const bo_snapshot *s, const char *path)
{
    unsigned lo = 0, hi = s->nfiles;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        int c = strcmp(path, s->files[mid].path);
        if (c == 0)
            return &s->files[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

bool bo_snapshot_equal(const bo_snapshot *a, const bo_snapshot *b)
{
    if (!a || !b)
        return a == b;
    if (a->nfiles != b->nfiles || a->bytes != b->bytes)
        return false;
    for (unsigned i = 0; i < a->nfiles; i++) {
        const bo_snapshot_file *x = &a->files[i], *y = &b->files[i];
        if (x->len != y->len || strcmp(x->path, y->path) != 0 || memcmp(x->data, y->data, x->len) != 0)
            return false;
    }
    return true;
}
