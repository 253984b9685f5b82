/*
 * router.c - app mounts and route patterns (see router.h). Both tables are
 * small (tens of entries) and built once per app generation, so matching is
 * a linear scan that keeps the most specific candidate.
 */
#include "router.h"

#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long bo_url_decode_path(const char *src, size_t len, char *dst)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len || (hi = hex_value(src[i + 1])) < 0 || (lo = hex_value(src[i + 2])) < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0')
            return -1;
        dst[o++] = c;
    }
    return (long)o;
}

/* ---- routes ---- */

void bo_routes_init(bo_routes *rs)
{
    rs->items = NULL;
    rs->count = 0;
}

static void route_free(bo_route *r)
{
    for (unsigned i = 0; i < r->nsegments; i++)
        free(r->segments[i].text);
    free(r->segments);
    free(r->pattern);
}

void bo_routes_free(bo_routes *rs)
{
    for (unsigned i = 0; i < rs->count; i++)
        route_free(&rs->items[i]);
    free(rs->items);
    bo_routes_init(rs);
}

static int bad_pattern(char *err, size_t errlen, const char *pattern, const char *why)
{
    snprintf(err, errlen, "invalid route pattern \"%s\": %s", pattern, why);
    return BO_EINVAL;
}

int bo_routes_add(bo_routes *rs, int method, const char *pattern, int index, char *err,
                  size_t errlen)
{
    if (pattern[0] != '/')
        return bad_pattern(err, errlen, pattern, "it must start with '/'");
    bo_route r = { .method = method, .index = index };
    bo_route_segment segs[BO_ROUTE_MAX_SEGMENTS];
    unsigned nsegs = 0, nparams = 0;
    const char *p = pattern + 1;
    size_t total = strlen(pattern);
    if (total > 1 && pattern[total - 1] == '/') {
        total--;   /* one trailing slash is not significant */
        if (pattern[total - 1] == '/')
            goto bad_empty;   /* "//" or "/a//": an empty last segment */
    }
    const char *end = pattern + total;
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *seg_end = slash ? slash : end;
        size_t n = (size_t)(seg_end - p);
        if (n == 0)
            goto bad_empty;
        if (nsegs == BO_ROUTE_MAX_SEGMENTS)
            goto bad_long;
        bo_route_segment *s = &segs[nsegs];
        if (p[0] == ':') {
            if (n == 1)
                goto bad_name;
            if (++nparams > BO_ROUTE_MAX_PARAMS)
                goto bad_params;
            s->kind = BO_SEG_PARAM;
            s->text = bo_strndup(p + 1, n - 1);
            s->len = (uint32_t)(n - 1);
        } else if (n == 1 && p[0] == '*') {
            if (seg_end != end)
                goto bad_splat;
            if (++nparams > BO_ROUTE_MAX_PARAMS)
                goto bad_params;
            s->kind = BO_SEG_SPLAT;
            s->text = bo_strdup("splat");
            s->len = 5;
        } else {
            s->kind = BO_SEG_LITERAL;
            s->text = bo_strndup(p, n);
            s->len = (uint32_t)n;
        }
        nsegs++;
        p = seg_end + (slash ? 1 : 0);
    }
    for (unsigned i = 0; i < rs->count; i++) {
        const bo_route *o = &rs->items[i];
        if (o->method != method || o->nsegments != nsegs)
            continue;
        bool same = true;
        for (unsigned j = 0; j < nsegs && same; j++) {
            const bo_route_segment *a = &o->segments[j], *b = &segs[j];
            same = a->kind == b->kind &&
                   (a->kind != BO_SEG_LITERAL || (a->len == b->len && memcmp(a->text, b->text, a->len) == 0));
        }
        if (same) {
            snprintf(err, errlen, "route %s %s is declared twice (first as %s)",
                     http_method_str((enum http_method)method), pattern, o->pattern);
            goto fail;
        }
    }
    r.pattern = bo_strdup(pattern);
    r.nsegments = nsegs;
    r.segments = bo_malloc(sizeof *r.segments * (nsegs ? nsegs : 1));
    memcpy(r.segments, segs, sizeof *segs * nsegs);
    rs->items = bo_realloc(rs->items, sizeof *rs->items * (rs->count + 1));
    rs->items[rs->count++] = r;
    return 0;

bad_empty:
    bad_pattern(err, errlen, pattern, "empty segment ('//')");
    goto fail;
bad_long:
    bad_pattern(err, errlen, pattern, "too many segments");
    goto fail;
bad_name:
    bad_pattern(err, errlen, pattern, "':' must be followed by a name");
    goto fail;
bad_params:
    bad_pattern(err, errlen, pattern, "too many parameters");
    goto fail;
bad_splat:
    bad_pattern(err, errlen, pattern, "'*' must be the last segment");
fail:
    for (unsigned i = 0; i < nsegs; i++)
        free(segs[i].text);
    return BO_EINVAL;
}

typedef struct split_path {
    unsigned count;
    bool too_many;
    struct { const char *raw; uint32_t raw_len; const char *dec; uint32_t dec_len; } seg[BO_ROUTE_MAX_SEGMENTS];
} split_path;

/* Splits and decodes the path; each decoded segment fits in its raw slot. */
static int split(const char *path, size_t len, char *scratch, split_path *sp)
{
    sp->count = 0;
    sp->too_many = false;
    if (len > 1 && path[len - 1] == '/')
        len--;
    size_t i = (len > 0 && path[0] == '/') ? 1 : 0;
    bool more = i < len;   /* each further '/' starts a segment, perhaps empty */
    while (more) {
        const char *slash = memchr(path + i, '/', len - i);
        size_t n = slash ? (size_t)(slash - (path + i)) : len - i;
        if (sp->count == BO_ROUTE_MAX_SEGMENTS) {
            sp->too_many = true;
            return 0;
        }
        long d = bo_url_decode_path(path + i, n, scratch + i);
        if (d < 0)
            return BO_EINVAL;
        sp->seg[sp->count].raw = path + i;
        sp->seg[sp->count].raw_len = (uint32_t)n;
        sp->seg[sp->count].dec = scratch + i;
        sp->seg[sp->count].dec_len = (uint32_t)d;
        sp->count++;
        more = slash != NULL;
        i += n + 1;
    }
    return 0;
}

/* Compares how specific two matching routes are; > 0 if a is more specific.
   Segment by segment, a literal beats a parameter beats a splat. Where one
   route has ended, the other (matching the same path) can only go on with a
   splat that matches nothing: the route that ended is the exact match and
   wins: for the path "/files", the route "/files" beats "/files" + splat. */
static int specificity(const bo_route *a, const bo_route *b)
{
    unsigned n = a->nsegments > b->nsegments ? a->nsegments : b->nsegments;
    for (unsigned i = 0; i < n; i++) {
        int ka = i < a->nsegments ? 2 - a->segments[i].kind : 3;
        int kb = i < b->nsegments ? 2 - b->segments[i].kind : 3;
        if (ka != kb)
            return ka - kb;
    }
    return 0;
}

static bool route_matches(const bo_route *r, const split_path *sp)
{
    unsigned n = r->nsegments;
    bool splat = n > 0 && r->segments[n - 1].kind == BO_SEG_SPLAT;
    if (splat ? sp->count < n - 1 : (sp->count != n || sp->too_many))
        return false;
    for (unsigned i = 0; i < n; i++) {
        const bo_route_segment *s = &r->segments[i];
        if (s->kind == BO_SEG_SPLAT)
            break;
        if (s->kind == BO_SEG_PARAM && sp->seg[i].raw_len == 0)
            return false;   /* a param is never empty */
        if (s->kind == BO_SEG_LITERAL &&
            (s->len != sp->seg[i].dec_len || memcmp(s->text, sp->seg[i].dec, s->len) != 0))
            return false;
    }
    return true;
}

int bo_routes_match(const bo_routes *rs, int method, const char *path, size_t len,
                    char *scratch, bo_route_match *m)
{
    split_path sp;
    if (split(path, len, scratch, &sp) < 0)
        return BO_EINVAL;
    const bo_route *best = NULL;
    m->allowed = 0;
    int wanted = method == HTTP_HEAD ? HTTP_GET : method;
    for (unsigned pass = 0; pass < 2 && !best; pass++) {
        /* HEAD tries its own routes first, then GET's. */
        int want = pass == 0 ? method : wanted;
        if (pass == 1 && want == method)
            break;
        for (unsigned i = 0; i < rs->count; i++) {
            const bo_route *r = &rs->items[i];
            if (!route_matches(r, &sp))
                continue;
            if (pass == 0)
                m->allowed |= 1u << r->method;
            if (r->method == want && (!best || specificity(r, best) > 0))
                best = r;
        }
    }
    if (!best) {
        if (m->allowed & (1u << HTTP_GET))
            m->allowed |= 1u << HTTP_HEAD;
        return m->allowed ? BO_EPERM : BO_ENOENT;
    }
    m->route = best;
    m->nparams = 0;
    for (unsigned i = 0; i < best->nsegments; i++) {
        const bo_route_segment *s = &best->segments[i];
        if (s->kind == BO_SEG_LITERAL)
            continue;
        bo_route_param *p = &m->params[m->nparams++];
        p->name = (bo_str){ s->text, s->len };
        if (s->kind == BO_SEG_PARAM) {
            p->value = (bo_str){ sp.seg[i].dec, sp.seg[i].dec_len };
        } else if (i < sp.count) {
            /* The rest of the path, decoded into the second half of scratch. */
            const char *from = sp.seg[i].raw;
            size_t rest = (size_t)((path + len) - from);
            if (rest > 0 && from[rest - 1] == '/')
                rest--;
            long d = bo_url_decode_path(from, rest, scratch + len);
            if (d < 0)
                return BO_EINVAL;
            p->value = (bo_str){ scratch + len, (size_t)d };
        } else {
            p->value = (bo_str){ "", 0 };
        }
    }
    return 0;
}

/* ---- mounts ---- */

void bo_mounts_init(bo_mounts *ms)
{
    ms->items = NULL;
    ms->count = 0;
}

void bo_mounts_free(bo_mounts *ms)
{
    for (unsigned i = 0; i < ms->count; i++) {
        free(ms->items[i].host);
        free(ms->items[i].prefix);
    }
    free(ms->items);
    bo_mounts_init(ms);
}

char *bo_mount_normalise(const char *mount)
{
    size_t n = strlen(mount);
    if (n == 0 || mount[0] != '/')
        return NULL;
    while (n > 0 && mount[n - 1] == '/')
        n--;
    for (size_t i = 0; i < n; i++) {
        char c = mount[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == '~' || c == '/';
        if (!ok || (c == '/' && i + 1 < n && mount[i + 1] == '/'))
            return NULL;
        if (c == '.' && (i == 0 || mount[i - 1] == '/') && (i + 1 == n || mount[i + 1] == '/' ||
                                                              (mount[i + 1] == '.' && (i + 2 == n || mount[i + 2] == '/'))))
            return NULL;
    }
    return bo_strndup(mount, n);
}

int bo_mounts_add(bo_mounts *ms, const char *host, const char *prefix, int index)
{
    char *h = NULL, *p = NULL;
    if (host) {
        h = bo_strdup(host);
        for (char *c = h; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        p = bo_strdup("");
    } else {
        p = bo_mount_normalise(prefix);
        if (!p)
            return BO_EINVAL;
    }
    for (unsigned i = 0; i < ms->count; i++) {
        const bo_mount *m = &ms->items[i];
        bool clash = h ? (m->host && strcmp(m->host, h) == 0)
                       : (!m->host && strcmp(m->prefix, p) == 0);
        if (clash) {
            free(h);
            free(p);
            return BO_EEXIST;
        }
    }
    ms->items = bo_realloc(ms->items, sizeof *ms->items * (ms->count + 1));
    ms->items[ms->count++] = (bo_mount){ h, p, strlen(p), index, false };
    return 0;
}

int bo_mounts_add_whole(bo_mounts *ms, const char *prefix, int index)
{
    int rc = bo_mounts_add(ms, NULL, prefix, index);
    if (rc == 0)
        ms->items[ms->count - 1].whole = true;
    return rc;
}

const bo_mount *bo_mounts_find(const bo_mounts *ms, const char *host, size_t host_len,
                               const char *path, size_t path_len, size_t *rest_off)
{
    if (host && host_len) {
        /* Drop a port: "name:8080" or "[::1]:8080". */
        const char *colon = memrchr(host, ':', host_len);
        const char *bracket = memrchr(host, ']', host_len);
        if (colon && (!bracket || colon > bracket) && (host[0] == '[' || memchr(host, ':', host_len) == colon))
            host_len = (size_t)(colon - host);
        for (unsigned i = 0; i < ms->count; i++) {
            const bo_mount *m = &ms->items[i];
            if (m->host && strlen(m->host) == host_len && strncasecmp(m->host, host, host_len) == 0) {
                *rest_off = 0;
                return m;
            }
        }
    }
    const bo_mount *best = NULL;
    for (unsigned i = 0; i < ms->count; i++) {
        const bo_mount *m = &ms->items[i];
        if (m->host || m->prefix_len > path_len || memcmp(path, m->prefix, m->prefix_len) != 0)
            continue;
        bool boundary = m->prefix_len == 0 || m->prefix_len == path_len || path[m->prefix_len] == '/';
        if (boundary && (!best || m->prefix_len > best->prefix_len))
            best = m;
    }
    if (best)
        *rest_off = best->whole ? 0 : best->prefix_len;
    return best;
}
