/*
 * static.c - fuzzes static file lookup (core/static.c) and the
 * If-None-Match check beside it.
 *
 * A small tree is made once under /tmp: files, a folder, dot files, a
 * symlink inside the root and symlinks out of it, and a file next to the
 * root. The input's first byte chooses what to test. A request path (the
 * rest of the input) may open only a regular file inside the root that no
 * dot segment leads to; a path whose decoded shape is refused (a bad
 * escape, an encoded slash, a NUL or backslash, an empty or dot segment)
 * must be refused whatever is on disk. An If-None-Match list matches an
 * etag exactly when a plain reference parser of the list says so.
 */
#include "fuzz.h"

#include "static.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[64], root[PATH_MAX];
static ino_t allowed[3];             /* a.txt, sub/b.css, sub/deep/c.js */

static void put(const char *rel, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    FILE *f = fopen(path, "w");
    FUZZ_CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void remove_tree(void)
{
    static const char *const files[] = { "root/a.txt", "root/sub/b.css", "root/sub/deep/c.js", "root/.secret",
                                         "root/sub/.git/config", "root/link-in", "root/link-out",
                                         "root/link-dir-out", "root/sub/link-up", "outside.txt" };
    static const char *const dirs[] = { "root/sub/.git", "root/sub/deep", "root/sub", "root/dir", "root", "" };
    char path[PATH_MAX];
    for (size_t i = 0; i < BO_COUNT(files); i++) {
        snprintf(path, sizeof path, "%s/%s", base, files[i]);
        unlink(path);
    }
    for (size_t i = 0; i < BO_COUNT(dirs); i++) {
        snprintf(path, sizeof path, "%s/%s", base, dirs[i]);
        rmdir(path);
    }
}

static void setup(void)
{
    snprintf(base, sizeof base, "/tmp/borough-fuzz-static-%d", (int)getpid());
    char path[PATH_MAX];
    static const char *const dirs[] = { "", "/root", "/root/sub", "/root/sub/deep", "/root/sub/.git", "/root/dir" };
    for (size_t i = 0; i < BO_COUNT(dirs); i++) {
        snprintf(path, sizeof path, "%s%s", base, dirs[i]);
        mkdir(path, 0700);
    }
    atexit(remove_tree);
    put("root/a.txt", "a");
    put("root/sub/b.css", "b");
    put("root/sub/deep/c.js", "c");
    put("root/.secret", "secret");
    put("root/sub/.git/config", "git");
    put("outside.txt", "outside");
    snprintf(path, sizeof path, "%s/root/link-in", base);
    FUZZ_CHECK(symlink("a.txt", path) == 0 || access(path, F_OK) == 0);
    snprintf(path, sizeof path, "%s/root/link-out", base);
    FUZZ_CHECK(symlink("../outside.txt", path) == 0 || access(path, F_OK) == 0);
    snprintf(path, sizeof path, "%s/root/link-dir-out", base);
    FUZZ_CHECK(symlink("..", path) == 0 || access(path, F_OK) == 0);
    snprintf(path, sizeof path, "%s/root/sub/link-up", base);
    FUZZ_CHECK(symlink("../.secret", path) == 0 || access(path, F_OK) == 0);
    snprintf(path, sizeof path, "%s/root", base);
    FUZZ_CHECK(realpath(path, root) != NULL);
    static const char *const good[] = { "a.txt", "sub/b.css", "sub/deep/c.js" };
    for (size_t i = 0; i < BO_COUNT(good); i++) {
        struct stat st;
        char file[PATH_MAX + 16];
        snprintf(file, sizeof file, "%s/%s", root, good[i]);
        FUZZ_CHECK(stat(file, &st) == 0);
        allowed[i] = st.st_ino;
    }
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* True if the decoded shape of the path is one static.h says is refused. */
static bool shape_refused(const char *p, size_t n)
{
    bool seg_start = true, empty = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '/') {
            if (empty)
                return true;
            seg_start = empty = true;
            continue;
        }
        if (c == '%') {
            if (n - i < 3)
                return true;
            int hi = hexval((unsigned char)p[i + 1]), lo = hexval((unsigned char)p[i + 2]);
            if (hi < 0 || lo < 0)
                return true;
            c = (unsigned char)(hi * 16 + lo);
            if (c == '/')
                return true;
            i += 2;
        }
        if (c == '\0' || c == '\\' || (seg_start && c == '.'))
            return true;
        seg_start = empty = false;
    }
    return empty;
}

static void check_open(const char *path, size_t n)
{
    bo_static_file f;
    int rc = bo_static_open(root, path, n, &f);
    FUZZ_CHECK(rc == 0 || rc == BO_ENOENT || rc == BO_EPERM);
    if (shape_refused(path, n))
        FUZZ_CHECK(rc == BO_EPERM);
    if (rc != 0) {
        FUZZ_CHECK(f.fd == -1);
        return;
    }
    struct stat st;
    FUZZ_CHECK(fstat(f.fd, &st) == 0 && S_ISREG(st.st_mode));
    FUZZ_CHECK(st.st_ino == allowed[0] || st.st_ino == allowed[1] || st.st_ino == allowed[2]);
    FUZZ_CHECK(f.size == (uint64_t)st.st_size && f.content_type && f.etag[0] == '"');
    FUZZ_CHECK(bo_static_etag_matches(f.etag, strlen(f.etag), f.etag));
    bo_static_close(&f);
    FUZZ_CHECK(f.fd == -1);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The reference: RFC 9110's If-None-Match = "*" / #entity-tag. */
static bool ref_etag_matches(const char *s, size_t n, const char *etag)
{
    if (strncmp(etag, "W/", 2) == 0)
        etag += 2;
    size_t a = 0, b = n;
    while (a < b && is_ows(s[a]))
        a++;
    while (b > a && is_ows(s[b - 1]))
        b--;
    if (b - a == 1 && s[a] == '*')
        return true;
    bool matched = false;
    size_t i = 0;
    while (i < n) {
        /* One element: OWS [ entity-tag ] OWS, then a comma or the end. */
        while (i < n && is_ows(s[i]))
            i++;
        if (i < n && s[i] != ',') {
            size_t t = i;
            if (n - t >= 2 && s[t] == 'W' && s[t + 1] == '/')
                t += 2;
            if (t >= n || s[t] != '"')
                return false;
            size_t q = t + 1;
            while (q < n && (s[q] == 0x21 || ((unsigned char)s[q] >= 0x23 && (unsigned char)s[q] != 0x7f)))
                q++;
            if (q >= n || s[q] != '"')
                return false;
            if (q + 1 - t == strlen(etag) && memcmp(s + t, etag, q + 1 - t) == 0)
                matched = true;
            i = q + 1;
            while (i < n && is_ows(s[i]))
                i++;
            if (i < n && s[i] != ',')
                return false;
        }
        i++;     /* past the comma */
    }
    return matched;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!root[0])
        setup();
    unsigned what = fuzz_take_byte(&data, &size);
    char *copy = bo_malloc(size ? size : 1);
    memcpy(copy, data, size);
    if (what % 3 == 0) {
        check_open(copy, size);
    } else if (what % 3 == 1) {
        static const char *const etags[] = { "\"1-2\"", "W/\"1-2\"", "\"abc\"", "\"\"" };
        const char *etag = etags[(what / 3) % BO_COUNT(etags)];
        FUZZ_CHECK(bo_static_etag_matches(copy, size, etag) == ref_etag_matches(copy, size, etag));
    } else {
        const char *type = bo_static_content_type(copy, size);
        FUZZ_CHECK(type && type[0]);
    }
    free(copy);
    return 0;
}
