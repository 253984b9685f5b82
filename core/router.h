/*
 * router.h - which app answers a request, and which of its routes.
 *
 * bo_mounts maps a request to an app: first by virtual host (an app declared
 * with host = "grants.example.gov.uk"), then by the longest path prefix
 * ("/grants" matches "/grants" and "/grants/...", never "/grantsx"), with a
 * root mount ("/") as the fallback.
 *
 * bo_routes maps a method and an in-app path to a route. Patterns are split
 * on '/': a literal segment, ":name" (one non-empty segment, %-decoded into
 * params) or a final "*" (the rest of the path, perhaps empty, as param
 * "splat"). When several routes
 * match, the most specific wins, segment by segment (literal over :param
 * over *), then the one declared first. One trailing slash on the request
 * path is ignored. HEAD is answered by GET routes. A path that matches only
 * with other methods is a 405 and the match says which methods are allowed.
 *
 * Neither knows about Lua: a route carries an opaque index for its owner.
 */
#ifndef BO_ROUTER_H
#define BO_ROUTER_H

#include "bo.h"

#define BO_ROUTE_MAX_SEGMENTS 32
#define BO_ROUTE_MAX_PARAMS 16

typedef struct bo_route_segment {
    char *text;          /* literal text, or the param name without ':' */
    uint32_t len;
    uint8_t kind;        /* BO_SEG_LITERAL, BO_SEG_PARAM, BO_SEG_SPLAT */
} bo_route_segment;

enum { BO_SEG_LITERAL, BO_SEG_PARAM, BO_SEG_SPLAT };

typedef struct bo_route {
    int method;                 /* enum http_method */
    char *pattern;              /* as declared */
    bo_route_segment *segments;
    unsigned nsegments;
    int index;                  /* the owner's handle for this route */
} bo_route;

typedef struct bo_routes {
    bo_route *items;
    unsigned count;
} bo_routes;

typedef struct bo_route_param {
    bo_str name;                /* borrowed from the route */
    bo_str value;               /* decoded, in the caller's scratch buffer */
} bo_route_param;

typedef struct bo_route_match {
    const bo_route *route;
    unsigned nparams;
    bo_route_param params[BO_ROUTE_MAX_PARAMS];
    uint32_t allowed;           /* with BO_EPERM: bit (1 << method) per allowed method */
} bo_route_match;

void bo_routes_init(bo_routes *rs);
void bo_routes_free(bo_routes *rs);

/* Adds a route. Returns 0, or BO_EINVAL with a reason in err for a malformed
   pattern (not starting with '/', empty ":" name, '*' not last, too many
   segments or params, a duplicate of an earlier method and pattern). */
int bo_routes_add(bo_routes *rs, int method, const char *pattern, int index, char *err,
                  size_t errlen);

/* Matches a %-encoded path (no query). scratch must hold 2 * len bytes;
   param values are decoded into it. Returns 0 with m filled, BO_ENOENT when
   no route has this path, BO_EPERM (a 405) when only other methods do, or
   BO_EINVAL for a path whose %-escapes are malformed or decode to NUL. */
int bo_routes_match(const bo_routes *rs, int method, const char *path, size_t len,
                    char *scratch, bo_route_match *m);

/* Decodes %XX escapes of src into dst (at least len bytes); '+' is kept.
   Returns the decoded length, or -1 for a malformed escape or a NUL. */
long bo_url_decode_path(const char *src, size_t len, char *dst);

typedef struct bo_mount {
    char *host;                 /* lower-case, no port; NULL when by path */
    char *prefix;               /* "" for the root, else "/name" without a trailing slash */
    size_t prefix_len;
    int index;                  /* the owner's handle for this app */
    bool whole;                 /* the app sees the whole path (its own mount is the root) */
} bo_mount;

typedef struct bo_mounts {
    bo_mount *items;
    unsigned count;
} bo_mounts;

void bo_mounts_init(bo_mounts *ms);
void bo_mounts_free(bo_mounts *ms);
/* Adds a mount by host (when host is not NULL) or by path prefix. Returns 0,
   BO_EEXIST if that host or prefix is taken, BO_EINVAL for a bad prefix. */
int bo_mounts_add(bo_mounts *ms, const char *host, const char *prefix, int index);
/* Adds a path prefix whose app answers as if mounted at the root: a
   request under it goes to that app with the whole path (the platform's
   /_admin, while another app holds "/"). Returns as bo_mounts_add. */
int bo_mounts_add_whole(bo_mounts *ms, const char *prefix, int index);
/* Finds the mount for a request. host may be NULL or carry a port. Returns
   the mount or NULL; *rest_off is where the in-app path starts in path
   (0 under a whole mount). */
const bo_mount *bo_mounts_find(const bo_mounts *ms, const char *host, size_t host_len,
                               const char *path, size_t path_len, size_t *rest_off);
/* Normalises a declared mount to the stored form ("/hello/" -> "/hello",
   "/" -> ""); returns a new string, or NULL if it is not a plain absolute
   path (no leading '/', an empty, "." or ".." segment, a space or another
   character outside [A-Za-z0-9-._~/]). */
char *bo_mount_normalise(const char *mount);

#endif
