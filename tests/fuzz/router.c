/*
 * router.c - fuzzes the router (core/router.c): route patterns, matching a
 * request path to a route with its parameters, %-decoding, app mounts.
 *
 * The input is lines: "R" + a method byte + a route pattern, "P" + a
 * method byte + a request path to match, "M" + a mount prefix, "H" + a
 * virtual host, "F" + host "|" path to find a mount for. Every match is
 * checked against a plain reference written here: the route found matches
 * the decoded path, no matching route of the method is more specific, the
 * parameters are the decoded segments (or the rest, for "*"); "no route"
 * and "other methods only" (with the allowed methods) agree with it too,
 * and a malformed escape is refused. A mount found is the longest prefix
 * at a segment boundary, or the host's.
 */
#include "fuzz.h"

#include "router.h"

#include <http_parser.h>
#include <string.h>
#include <strings.h>

static const int methods[] = { HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_HEAD, HTTP_PATCH };

/* The reference: the path's segments, decoded. */
typedef struct ref_path {
    size_t count;
    char *seg[4096];
    size_t len[4096];
    const char *raw[4096];    /* where each starts in the path */
    size_t raw_len[4096];
} ref_path;

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) into out (n bytes); -1 if an escape is malformed or a
   byte decodes to NUL. */
static long ref_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
                return -1;
            c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        if (c == '\0')
            return -1;
        out[o++] = c;
    }
    return (long)o;
}

/* Splits and decodes a path as router.h says: one trailing slash ignored,
   a leading slash starts the first segment. Returns -1 on a bad escape. */
static int ref_split(const char *path, size_t len, ref_path *rp, char *buf)
{
    rp->count = 0;
    if (len > 1 && path[len - 1] == '/')
        len--;
    size_t i = len > 0 && path[0] == '/' ? 1 : 0;
    if (i >= len)
        return 0;
    for (;;) {
        const char *slash = memchr(path + i, '/', len - i);
        size_t n = slash ? (size_t)(slash - path) - i : len - i;
        long d = ref_decode(path + i, n, buf + i);
        if (d < 0)
            return -1;
        rp->seg[rp->count] = buf + i;
        rp->len[rp->count] = (size_t)d;
        rp->raw[rp->count] = path + i;
        rp->raw_len[rp->count] = n;
        rp->count++;
        if (!slash)
            return 0;
        i += n + 1;
    }
}

static bool ref_matches(const bo_route *r, const ref_path *rp)
{
    unsigned n = r->nsegments;
    bool splat = n > 0 && r->segments[n - 1].kind == BO_SEG_SPLAT;
    if (splat ? rp->count < n - 1 : rp->count != n)
        return false;
    for (unsigned i = 0; i < n; i++) {
        const bo_route_segment *s = &r->segments[i];
        if (s->kind == BO_SEG_SPLAT)
            break;
        if (s->kind == BO_SEG_PARAM && rp->raw_len[i] == 0)
            return false;     /* a param is never empty */
        if (s->kind == BO_SEG_LITERAL && (s->len != rp->len[i] || memcmp(s->text, rp->seg[i], s->len) != 0))
            return false;
    }
    return true;
}

/* > 0 if a is more specific than b (literal over param over splat, segment
   by segment; a route that ends beats one that goes on). */
static int ref_specificity(const bo_route *a, const bo_route *b)
{
    unsigned n = a->nsegments > b->nsegments ? a->nsegments : b->nsegments;
    for (unsigned i = 0; i < n; i++) {
        int ka = i < a->nsegments ? (a->segments[i].kind == BO_SEG_LITERAL ? 2 : a->segments[i].kind == BO_SEG_PARAM ? 1 : 0) : 3;
        int kb = i < b->nsegments ? (b->segments[i].kind == BO_SEG_LITERAL ? 2 : b->segments[i].kind == BO_SEG_PARAM ? 1 : 0) : 3;
        if (ka != kb)
            return ka - kb;
    }
    return 0;
}

static void check_match(const bo_routes *rs, int method, const char *path, size_t len)
{
    char *scratch = bo_malloc(2 * len + 1);
    char *buf = bo_malloc(len + 1);
    static ref_path rp;
    bo_route_match m;
    int rc = bo_routes_match(rs, method, path, len, scratch, &m);
    int ref = ref_split(path, len, &rp, buf);
    if (ref < 0) {
        /* Past 32 segments only a splat decodes the rest. */
        FUZZ_CHECK(rc == BO_EINVAL || rc == BO_ENOENT || rc == BO_EPERM);
        goto out;
    }
    FUZZ_CHECK(rc != BO_EINVAL);
    uint32_t allowed = 0;
    for (unsigned i = 0; i < rs->count; i++)
        if (ref_matches(&rs->items[i], &rp))
            allowed |= 1u << rs->items[i].method;
    int want = method == HTTP_HEAD && !(allowed & (1u << HTTP_HEAD)) ? HTTP_GET : method;
    if (!(allowed & (1u << want))) {
        if (allowed & (1u << HTTP_GET))
            allowed |= 1u << HTTP_HEAD;
        FUZZ_CHECK(rc == (allowed ? BO_EPERM : BO_ENOENT));
        FUZZ_CHECK(!allowed || m.allowed == allowed);
        goto out;
    }
    FUZZ_CHECK(rc == 0);
    const bo_route *r = m.route;
    FUZZ_CHECK(r->method == want && ref_matches(r, &rp));
    for (unsigned i = 0; i < rs->count; i++) {
        const bo_route *o = &rs->items[i];
        if (o->method == want && ref_matches(o, &rp)) {
            int sp = ref_specificity(o, r);
            FUZZ_CHECK(sp <= 0);
            if (sp == 0)
                FUZZ_CHECK(o >= r);     /* among equals, the first declared */
        }
    }
    unsigned np = 0;
    for (unsigned i = 0; i < r->nsegments; i++) {
        const bo_route_segment *s = &r->segments[i];
        if (s->kind == BO_SEG_LITERAL)
            continue;
        const bo_route_param *p = &m.params[np++];
        FUZZ_CHECK(p->name.len == s->len && memcmp(p->name.ptr, s->text, s->len) == 0);
        if (s->kind == BO_SEG_PARAM) {
            FUZZ_CHECK(p->value.len == rp.len[i] && memcmp(p->value.ptr, rp.seg[i], rp.len[i]) == 0);
        } else {
            /* The rest of the path from this segment, decoded. */
            size_t rest = i < rp.count ? (size_t)((path + len) - rp.raw[i]) : 0;
            if (rest > 0 && rp.raw[i][rest - 1] == '/')
                rest--;
            char *want_rest = bo_malloc(rest + 1);
            long d = rest ? ref_decode(rp.raw[i], rest, want_rest) : 0;
            FUZZ_CHECK(d >= 0 && p->value.len == (size_t)d && memcmp(p->value.ptr, want_rest, (size_t)d) == 0);
            free(want_rest);
        }
    }
    FUZZ_CHECK(m.nparams == np);
out:
    free(scratch);
    free(buf);
}

static void check_mount(const bo_mounts *ms, const char *line, size_t n)
{
    const char *bar = memchr(line, '|', n);
    const char *host = bar ? line : NULL;
    size_t host_len = bar ? (size_t)(bar - line) : 0;
    const char *path = bar ? bar + 1 : line;
    size_t path_len = bar ? n - host_len - 1 : n;
    size_t rest = (size_t)-1;
    const bo_mount *m = bo_mounts_find(ms, host, host_len, path, path_len, &rest);
    if (m && m->host) {
        FUZZ_CHECK(rest == 0 && host_len >= strlen(m->host) && strncasecmp(host, m->host, strlen(m->host)) == 0);
        return;
    }
    /* The longest prefix mount at a boundary. */
    const bo_mount *best = NULL;
    for (unsigned i = 0; i < ms->count; i++) {
        const bo_mount *o = &ms->items[i];
        if (o->host || o->prefix_len > path_len || memcmp(path, o->prefix, o->prefix_len) != 0)
            continue;
        if (o->prefix_len && o->prefix_len < path_len && path[o->prefix_len] != '/')
            continue;
        if (!best || o->prefix_len > best->prefix_len)
            best = o;
    }
    FUZZ_CHECK(m == best);
    if (m)
        FUZZ_CHECK(rest == m->prefix_len);
}

static void check_normalise(const char *prefix)
{
    char *n = bo_mount_normalise(prefix);
    if (!n)
        return;
    size_t len = strlen(n);
    FUZZ_CHECK(len == 0 || (n[0] == '/' && n[len - 1] != '/'));
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   strchr("-_.~/", c));
        if (c == '/') {
            FUZZ_CHECK(i + 1 < len && n[i + 1] != '/');
            FUZZ_CHECK(!(n[i + 1] == '.' && (i + 2 == len || n[i + 2] == '/')));
            FUZZ_CHECK(!(n[i + 1] == '.' && i + 2 < len && n[i + 2] == '.' && (i + 3 == len || n[i + 3] == '/')));
        }
    }
    free(n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bo_routes rs;
    bo_mounts ms;
    bo_routes_init(&rs);
    bo_mounts_init(&ms);
    const char *s = (const char *)data, *end = s + size;
    int index = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        const char *next = nl ? nl + 1 : end;
        if (n >= 1) {
            char kind = s[0];
            if ((kind == 'R' || kind == 'P') && n >= 2) {
                int method = methods[(unsigned char)s[1] % BO_COUNT(methods)];
                if (kind == 'R' && rs.count < 64 && !memchr(s + 2, '\0', n - 2)) {
                    char *pattern = bo_strndup(s + 2, n - 2);
                    char err[256];
                    int rc = bo_routes_add(&rs, method, pattern, index++, err, sizeof err);
                    FUZZ_CHECK(rc == 0 || (rc == BO_EINVAL && strstr(err, "route")));
                    free(pattern);
                } else if (kind == 'P') {
                    char *copy = bo_malloc(n - 1);
                    memcpy(copy, s + 2, n - 2);
                    check_match(&rs, method, copy, n - 2);
                    free(copy);
                }
            } else if ((kind == 'M' || kind == 'H') && !memchr(s + 1, '\0', n - 1)) {
                char *v = bo_strndup(s + 1, n - 1);
                check_normalise(v);
                int rc = bo_mounts_add(&ms, kind == 'H' ? v : NULL, v, index++);
                FUZZ_CHECK(rc == 0 || rc == BO_EEXIST || rc == BO_EINVAL);
                free(v);
            } else if (kind == 'F') {
                char *copy = bo_malloc(n);
                memcpy(copy, s + 1, n - 1);
                check_mount(&ms, copy, n - 1);
                free(copy);
            }
        }
        s = next;
    }
    bo_routes_free(&rs);
    bo_mounts_free(&ms);
    return 0;
}
