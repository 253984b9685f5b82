/*
 * static.h - safe lookup of static files: an app's <app>/static/ folder and
 * the platform's front-end assets. A request path is decoded and judged
 * before anything is opened: "..", "." and empty segments, encoded slashes
 * or backslashes, NUL bytes and dot files are refused, and the resolved file
 * must still lie under the root (a symlink pointing outside is refused). The
 * caller serves what bo_static_open() opened.
 */
#ifndef BO_STATIC_H
#define BO_STATIC_H

#include "bo.h"

#include <stdint.h>

typedef struct bo_static_file {
    int fd;                     /* open for reading; close with bo_static_close */
    uint64_t size;
    int64_t mtime;              /* seconds since the epoch */
    char etag[48];              /* strong, quoted: size and mtime in ns, in hex */
    const char *content_type;   /* static string, charset included for text */
} bo_static_file;

/* Opens the regular file at the %-encoded path (relative to root, no leading
   slash) under root (an absolute, resolved directory). Returns 0, BO_ENOENT
   (nothing there, or a directory), BO_EPERM (a refused shape) or BO_EIO (the
   system failed us: out of descriptors, an I/O error). */
int bo_static_open(const char *root, const char *path, size_t len, bo_static_file *out);
void bo_static_close(bo_static_file *f);

/* The media type for a file name, from its extension; unknown types are
   application/octet-stream. */
const char *bo_static_content_type(const char *name, size_t len);

/* True if an If-None-Match header value (a list, W/ prefixes, or *) matches
   the strong etag. */
bool bo_static_etag_matches(const char *if_none_match, size_t len, const char *etag);

#endif
