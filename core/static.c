/*
 * static.c - safe lookup of static files (see static.h).
 *
 * A request path is judged in two steps. First it is decoded and its shape
 * checked without touching the file system: every %XX escape must be valid,
 * no byte may be NUL or a backslash, an encoded slash is refused so that a
 * segment boundary is only ever a literal '/', and no decoded segment may be
 * empty or begin with '.' (which covers ".", ".." and dot files such as .git
 * or .env, however they were encoded). Only then is the file resolved:
 * root/decoded goes through realpath(), the result must lie strictly under
 * root and must not pass through a dot file either (a symlink may point
 * elsewhere inside the folder, but not outside it nor into .git), and it is
 * opened without following a final symlink. What is opened must be a regular
 * file; a directory is reported as missing.
 *
 * Nothing here keeps state between calls, so workers may call it at once.
 */
#include "static.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* The value of a hex digit, or -1. */
static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A decoded segment may not be empty (from "//", a leading or a trailing
   slash) and may not begin with '.' (".", ".." and dot files). */
static bool segment_ok(const char *seg, size_t n)
{
    return n > 0 && seg[0] != '.';
}

/* Decodes the request path into dst (cap bytes, NUL-terminated on success)
   and judges its shape. Returns 0 or BO_EPERM. */
static int decode_path(const char *path, size_t len, char *dst, size_t cap)
{
    size_t n = 0, seg = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c == '/') {
            if (!segment_ok(dst + seg, n - seg))
                return BO_EPERM;
            seg = n + 1;
        } else if (c == '%') {
            if (len - i < 3)
                return BO_EPERM;
            int hi = hex_value((unsigned char)path[i + 1]);
            int lo = hex_value((unsigned char)path[i + 2]);
            if (hi < 0 || lo < 0)
                return BO_EPERM;
            c = (unsigned char)(hi << 4 | lo);
            if (c == '/')
                return BO_EPERM;
            i += 2;
        }
        if (c == '\0' || c == '\\')
            return BO_EPERM;
        if (n + 1 >= cap)
            return BO_EPERM;
        dst[n++] = (char)c;
    }
    if (!segment_ok(dst + seg, n - seg))
        return BO_EPERM;
    dst[n] = '\0';
    return 0;
}

/* Translates the errno of realpath() or open(). A missing file, or a path
   through something that is not a directory, is BO_ENOENT; what the kernel
   refused (a symlink where none may be, a name too long, no permission) is
   BO_EPERM; anything else (EMFILE, EIO, ENOMEM) is a real failure. */
static int from_errno(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
    case ENXIO:         /* a socket or a device with nothing behind it */
        return BO_ENOENT;
    case ELOOP:
    case ENAMETOOLONG:
    case EACCES:
    case EPERM:
        return BO_EPERM;
    default:
        return BO_EIO;
    }
}

int bo_static_open(const char *root, const char *path, size_t len, bo_static_file *out)
{
    char joined[PATH_MAX], resolved[PATH_MAX];
    struct stat st;

    assert(root && root[0] == '/');
    memset(out, 0, sizeof *out);
    out->fd = -1;

    if (len > PATH_MAX)
        return BO_EPERM;
    size_t rootlen = strlen(root);
    while (rootlen > 0 && root[rootlen - 1] == '/')     /* "/srv/app/" or "/" */
        rootlen--;
    if (rootlen + 1 >= sizeof joined)
        return BO_EPERM;
    memcpy(joined, root, rootlen);
    joined[rootlen] = '/';
    const char *rel = joined + rootlen + 1;
    int rc = decode_path(path, len, joined + rootlen + 1, sizeof joined - rootlen - 1);
    if (rc < 0)
        return rc;

    if (!realpath(joined, resolved))
        return from_errno(errno);
    if (strncmp(resolved, root, rootlen) != 0 || resolved[rootlen] != '/')
        return BO_EPERM;
    if (strstr(resolved + rootlen, "/."))   /* canonical, so this is a dot file */
        return BO_EPERM;

    /* O_NONBLOCK keeps a FIFO from blocking the open; it is cleared again
       once the file is known to be a regular file. */
    int fd = open(resolved, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return from_errno(errno);
    if (fstat(fd, &st) != 0) {
        rc = BO_EIO;
        goto err;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = BO_ENOENT;
        goto err;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        rc = BO_EIO;
        goto err;
    }

    /* Unsigned arithmetic: a file dated before 1970 wraps instead of
       overflowing, and still yields a stable tag. */
    uint64_t mtime_ns = (uint64_t)st.st_mtim.tv_sec * UINT64_C(1000000000) +
                        (uint64_t)st.st_mtim.tv_nsec;
    out->fd = fd;
    out->size = (uint64_t)st.st_size;
    out->mtime = (int64_t)st.st_mtim.tv_sec;
    snprintf(out->etag, sizeof out->etag, "\"%" PRIx64 "-%" PRIx64 "\"", out->size, mtime_ns);
    out->content_type = bo_static_content_type(rel, strlen(rel));
    return 0;

err:
    close(fd);
    return rc;
}

void bo_static_close(bo_static_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

static const struct {
    const char *ext;
    const char *type;
} media_types[] = {
    { "html", "text/html; charset=utf-8" },
    { "htm", "text/html; charset=utf-8" },
    { "css", "text/css; charset=utf-8" },
    { "js", "text/javascript; charset=utf-8" },
    { "mjs", "text/javascript; charset=utf-8" },
    { "json", "application/json; charset=utf-8" },
    { "map", "application/json; charset=utf-8" },
    { "webmanifest", "application/manifest+json; charset=utf-8" },
    { "txt", "text/plain; charset=utf-8" },
    { "md", "text/markdown; charset=utf-8" },
    { "csv", "text/csv; charset=utf-8" },
    { "xml", "application/xml; charset=utf-8" },
    { "svg", "image/svg+xml; charset=utf-8" },
    { "png", "image/png" },
    { "jpg", "image/jpeg" },
    { "jpeg", "image/jpeg" },
    { "gif", "image/gif" },
    { "webp", "image/webp" },
    { "avif", "image/avif" },
    { "ico", "image/x-icon" },
    { "woff", "font/woff" },
    { "woff2", "font/woff2" },
    { "ttf", "font/ttf" },
    { "otf", "font/otf" },
    { "pdf", "application/pdf" },
    { "wasm", "application/wasm" },
    { "mp4", "video/mp4" },
    { "webm", "video/webm" },
    { "mp3", "audio/mpeg" },
    { "ogg", "audio/ogg" },
    { "wav", "audio/wav" },
    { "zip", "application/zip" },
};

const char *bo_static_content_type(const char *name, size_t len)
{
    /* The extension is what follows the last '.' of the last segment. */
    size_t dot = len;
    for (size_t i = len; i > 0; i--) {
        if (name[i - 1] == '/')
            break;
        if (name[i - 1] == '.') {
            dot = i - 1;
            break;
        }
    }
    if (dot < len) {
        bo_str ext = { name + dot + 1, len - dot - 1 };
        for (size_t i = 0; i < BO_COUNT(media_types); i++)
            if (bo_str_ieq(ext, media_types[i].ext))
                return media_types[i].type;
    }
    return "application/octet-stream";
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 etagc: any visible character but DQUOTE, and obs-text. */
static bool is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

/* Parses one entity-tag at s[*i] (W/ optional) and returns its opaque tag,
   quotes included, or a slice with ptr NULL if it is malformed. */
static bo_str parse_etag(const char *s, size_t len, size_t *i)
{
    size_t p = *i;
    if (len - p >= 2 && s[p] == 'W' && s[p + 1] == '/')
        p += 2;
    if (p >= len || s[p] != '"')
        return (bo_str){ NULL, 0 };
    size_t start = p++;
    while (p < len && is_etagc((unsigned char)s[p]))
        p++;
    if (p >= len || s[p] != '"')
        return (bo_str){ NULL, 0 };
    p++;
    *i = p;
    return (bo_str){ s + start, p - start };
}

bool bo_static_etag_matches(const char *if_none_match, size_t len, const char *etag)
{
    const char *s = if_none_match;
    size_t i = 0;
    bool matched = false;

    assert(etag);
    if (strncmp(etag, "W/", 2) == 0)    /* weak comparison ignores W/ on both sides */
        etag += 2;

    /* "*" only ever stands alone. */
    size_t a = 0, b = len;
    while (a < b && is_ows(s[a]))
        a++;
    while (b > a && is_ows(s[b - 1]))
        b--;
    if (b - a == 1 && s[a] == '*')
        return true;

    /* #entity-tag: elements separated by commas with optional whitespace;
       empty elements are allowed. The whole list must parse, or nothing
       matches. */
    for (;;) {
        while (i < len && (is_ows(s[i]) || s[i] == ','))
            i++;
        if (i == len)
            break;
        bo_str tag = parse_etag(s, len, &i);
        if (!tag.ptr)
            return false;
        if (!matched && bo_str_eq(tag, etag))
            matched = true;
        while (i < len && is_ows(s[i]))
            i++;
        if (i < len && s[i] != ',')
            return false;
    }
    return matched;
}
