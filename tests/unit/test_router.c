/*
 * test_router.c - unit tests for core/router.c: route matching (literal,
 * :param and splat segments, %-decoding into the caller's scratch, the
 * precedence rules, the trailing slash, HEAD answered by GET, 405 with the
 * allowed methods, malformed escapes, the segment limit), every pattern
 * error with its text, and app mounts (by host, by path prefix with its
 * boundary rule, the root fallback, clashes and the normal form of a mount).
 */
#include "unit.h"

#include "router.h"

#include <http_parser.h>
#include <stdlib.h>

static char result[8192];

/* Appends printf-style text to result. */
static void say(const char *fmt, const char *a, size_t alen)
{
    size_t used = strlen(result);
    snprintf(result + used, sizeof result - used, fmt, (int)alen, a);
}

/*
 * Matches path against rs with a scratch buffer of exactly 2 * len bytes (so
 * the sanitizers see any overrun) and describes the outcome: "#index" and
 * then " name=value" per param, "404", "400", or "405 " and the allowed
 * methods in bit order.
 */
static const char *match_n(const bo_routes *rs, int method, const char *path, size_t len)
{
    char *scratch = malloc(len ? 2 * len : 1);
    bo_route_match m;
    memset(&m, 0xa5, sizeof m);
    int rc = bo_routes_match(rs, method, path, len, scratch, &m);
    result[0] = '\0';
    if (rc == 0) {
        snprintf(result, sizeof result, "#%d", m.route->index);
        for (unsigned i = 0; i < m.nparams; i++) {
            say(" %.*s=", m.params[i].name.ptr, m.params[i].name.len);
            say("%.*s", m.params[i].value.ptr, m.params[i].value.len);
        }
    } else if (rc == BO_ENOENT) {
        snprintf(result, sizeof result, "404");
        CHECK_EQ_INT(m.allowed, 0);
    } else if (rc == BO_EINVAL) {
        snprintf(result, sizeof result, "400");
    } else if (rc == BO_EPERM) {
        snprintf(result, sizeof result, "405");
        for (int b = 0; b < 32; b++) {
            if (m.allowed & (1u << b)) {
                const char *name = http_method_str((enum http_method)b);
                say(" %.*s", name, strlen(name));
            }
        }
    } else {
        snprintf(result, sizeof result, "rc %d", rc);
    }
    free(scratch);
    return result;
}

static const char *match(const bo_routes *rs, int method, const char *path)
{
    return match_n(rs, method, path, strlen(path));
}

/* Adds a route that must be accepted. */
static void add(bo_routes *rs, int method, const char *pattern, int index)
{
    char err[256] = "";
    int rc = bo_routes_add(rs, method, pattern, index, err, sizeof err);
    if (rc != 0)
        printf("  bo_routes_add(\"%s\"): %s\n", pattern, err);
    CHECK_EQ_INT(rc, 0);
}

/* Adds a route that must be refused, and gives the error text. */
static const char *refuse(bo_routes *rs, int method, const char *pattern)
{
    unsigned before = rs->count;
    result[0] = '\0';
    CHECK_EQ_INT(bo_routes_add(rs, method, pattern, 99, result, sizeof result), BO_EINVAL);
    CHECK_EQ_INT(rs->count, before);
    return result;
}

/* "/" then n segments of seg, joined with '/'. */
static const char *repeat_path(const char *seg, unsigned n)
{
    static char path[4096];
    path[0] = '\0';
    for (unsigned i = 0; i < n; i++) {
        strcat(path, "/");
        strcat(path, seg);
    }
    return path;
}

/* "/:p0/:p1/..." with n params. */
static const char *param_path(unsigned n)
{
    static char path[4096];
    path[0] = '\0';
    for (unsigned i = 0; i < n; i++)
        snprintf(path + strlen(path), sizeof path - strlen(path), "/:p%u", i);
    return path;
}

/* ---- routes ---- */

TEST(literal_routes)
{
    bo_routes rs;
    bo_routes_init(&rs);
    add(&rs, HTTP_GET, "/", 0);
    add(&rs, HTTP_GET, "/about", 1);
    add(&rs, HTTP_GET, "/a/b/c", 2);
    add(&rs, HTTP_GET, "/hello world", 3);
    CHECK_EQ_INT(rs.count, 4);
    CHECK_STR(rs.items[2].pattern, "/a/b/c");
    CHECK_EQ_INT(rs.items[2].nsegments, 3);
    CHECK_EQ_INT(rs.items[0].nsegments, 0);
    CHECK_STR(match(&rs, HTTP_GET, "/"), "#0");
    CHECK_STR(match(&rs, HTTP_GET, "/about"), "#1");
    CHECK_STR(match(&rs, HTTP_GET, "/a/b/c"), "#2");
    CHECK_STR(match(&rs, HTTP_GET, "/hello%20world"), "#3");   /* literals compare decoded */
    CHECK_STR(match(&rs, HTTP_GET, "/%61bout"), "#1");
    CHECK_STR(match(&rs, HTTP_GET, "/About"), "404");          /* case matters */
    CHECK_STR(match(&rs, HTTP_GET, "/abou"), "404");
    CHECK_STR(match(&rs, HTTP_GET, "/abouts"), "404");
    CHECK_STR(match(&rs, HTTP_GET, "/about/x"), "404");
    CHECK_STR(match(&rs, HTTP_GET, "/a/b"), "404");
    CHECK_STR(match(&rs, HTTP_GET, "/a/b/c/d"), "404");
    CHECK_STR(match(&rs, HTTP_GET, "/a%2Fb/c"), "404");          /* %2F is not a separator */
    bo_routes_free(&rs);
    CHECK_EQ_INT(rs.count, 0);
    CHECK(rs.items == NULL);
}

TEST(param_routes)
{
    bo_routes rs;
    bo_routes_init(&rs);
    add(&rs, HTTP_GET, "/users/:id", 0);
    add(&rs, HTTP_GET, "/users/:id/posts/:post", 1);
    add(&rs, HTTP_GET, "/:lang/docs", 2);
    CHECK_EQ_INT(rs.items[1].segments[1].kind, BO_SEG_PARAM);
    CHECK_STR(rs.items[1].segments[1].text, "id");
    CHECK_STR(match(&rs, HTTP_GET, "/users/42"), "#0 id=42");
    CHECK_STR(match(&rs, HTTP_GET, "/users/42/posts/7"), "#1 id=42 post=7");
    CHECK_STR(match(&rs, HTTP_GET, "/en/docs"), "#2 lang=en");
    CHECK_STR(match(&rs, HTTP_GET, "/users"), "404");
    CHECK_STR(match(&rs, HTTP_GET, "/users/42/posts"), "404");
    CHECK_STR(match(&rs, HTTP_GET, "/users/42/x"), "404");
    CHECK_STR(match(&rs, HTTP_GET, "/users/42/posts/7/8"), "404");
    /* A param is one non-empty segment. */
    CHECK_STR(match(&rs, HTTP_GET, "//docs"), "404");
    CHECK_STR(match(&rs, HTTP_GET, "/users//posts/7"), "404");
    bo_routes_free(&rs);
}

TEST(params_are_percent_decoded)
{
    bo_routes rs;
    bo_routes_init(&rs);
    add(&rs, HTTP_GET, "/files/:name", 0);
    add(&rs, HTTP_GET, "/users/:id/edit", 1);
    add(&rs, HTTP_GET, "/:a/:b/:c", 2);
    CHECK_STR(match(&rs, HTTP_GET, "/files/a%20b"), "#0 name=a b");
    CHECK_STR(match(&rs, HTTP_GET, "/files/a+b"), "#0 name=a+b");        /* '+' is kept */
    CHECK_STR(match(&rs, HTTP_GET, "/files/caf%C3%a9"), "#0 name=caf\xc3\xa9");
    CHECK_STR(match(&rs, HTTP_GET, "/files/%25"), "#0 name=%");
    CHECK_STR(match(&rs, HTTP_GET, "/files/%2525"), "#0 name=%25");      /* decoded once */
    /* An encoded slash stays inside its param and does not split the path. */
    CHECK_STR(match(&rs, HTTP_GET, "/files/a%2Fb"), "#0 name=a/b");
    CHECK_STR(match(&rs, HTTP_GET, "/users/a%2fb/edit"), "#1 id=a/b");
    CHECK_STR(match(&rs, HTTP_GET, "/files/..%2F..%2Fetc"), "#0 name=../../etc");
    CHECK_STR(match(&rs, HTTP_GET, "/x%2Fy/%2F/z"), "#2 a=x/y b=/ c=z");
    CHECK_STR(match(&rs, HTTP_GET, "/%41/%42%43/%44%45%46"), "#2 a=A b=BC c=DEF");
    bo_routes_free(&rs);
}

TEST(splat_takes_the_rest)
{
    bo_routes rs;
    bo_routes_init(&rs);
    add(&rs, HTTP_GET, "/static/*", 0);
    add(&rs, HTTP_GET, "/u/:id/*", 1);
    CHECK_EQ_INT(rs.items[0].segments[1].kind, BO_SEG_SPLAT);
    CHECK_STR(match(&rs, HTTP_GET, "/static/css/site.css"), "#0 splat=css/site.css");
    CHECK_STR(match(&rs, HTTP_GET, "/static/a"), "#0 splat=a");
    CHECK_STR(match(&rs, HTTP_GET, "/static/a/b/"), "#0 splat=a/b");     /* one trailing slash dropped */
    CHECK_STR(match(&rs, HTTP_GET, "/static/"), "#0 splat=");
    CHECK_STR(match(&rs, HTTP_GET, "/static"), "#0 splat=");
    CHECK_STR(match(&rs, HTTP_GET, "/static/a%20b/c%2Fd"), "#0 splat=a b/c/d");
    CHECK_STR(match(&rs, HTTP_GET, "/static/a//b"), "#0 splat=a//b");
    CHECK_STR(match(&rs, HTTP_GET, "/u/7/x/y"), "#1 id=7 splat=x/y");
    CHECK_STR(match(&rs, HTTP_GET, "/u/7"), "#1 id=7 splat=");
    CHECK_STR(match(&rs, HTTP_GET, "/u"), "404");
    CHECK_STR(match(&rs, HTTP_GET, "/staticx/a"), "404");
    /* A bad escape in the splat's part of the path is refused too. */
    CHECK_STR(match(&rs, HTTP_GET, "/static/a/%zz"), "400");
    bo_routes_free(&rs);
}

TEST(precedence_literal_then_param_then_splat)
{
    /* The same routes declared in two orders give the same answers. */
    for (int order = 0; order < 2; order++) {
        static const char *const patterns[] = { "/users/*", "/users/:id", "/users/new", "/users/new/*" };
        bo_routes rs;
        bo_routes_init(&rs);
        for (int i = 0; i < 4; i++) {
            int k = order ? 3 - i : i;
            add(&rs, HTTP_GET, patterns[k], k);
        }
        CHECK_STR(match(&rs, HTTP_GET, "/users/new"), "#2");
        CHECK_STR(match(&rs, HTTP_GET, "/users/old"), "#1 id=old");
        CHECK_STR(match(&rs, HTTP_GET, "/users/new/x"), "#3 splat=x");
        CHECK_STR(match(&rs, HTTP_GET, "/users/old/x"), "#0 splat=old/x");
        CHECK_STR(match(&rs, HTTP_GET, "/users"), "#0 splat=");
        bo_routes_free(&rs);
    }
}

TEST(precedence_is_segment_by_segment)
{
    for (int order = 0; order < 2; order++) {
        bo_routes rs;
        bo_routes_init(&rs);
        if (order) {
            add(&rs, HTTP_GET, "/a/:y", 1);
            add(&rs, HTTP_GET, "/:x/b", 0);
        } else {
            add(&rs, HTTP_GET, "/:x/b", 0);
            add(&rs, HTTP_GET, "/a/:y", 1);
        }
        /* Both match; the first segment decides, and a literal wins it. */
        CHECK_STR(match(&rs, HTTP_GET, "/a/b"), "#1 y=b");
        CHECK_STR(match(&rs, HTTP_GET, "/z/b"), "#0 x=z");
        CHECK_STR(match(&rs, HTTP_GET, "/a/z"), "#1 y=z");
        CHECK_STR(match(&rs, HTTP_GET, "/z/z"), "404");
        bo_routes_free(&rs);
    }
}

TEST(exact_route_beats_a_splat_that_matches_nothing)
{
    for (int order = 0; order < 2; order++) {
        bo_routes rs;
        bo_routes_init(&rs);
        if (order) {
            add(&rs, HTTP_GET, "/docs/*", 1);
            add(&rs, HTTP_GET, "/docs", 0);
            add(&rs, HTTP_GET, "/*", 3);
            add(&rs, HTTP_GET, "/", 2);
        } else {
            add(&rs, HTTP_GET, "/docs", 0);
            add(&rs, HTTP_GET, "/docs/*", 1);
            add(&rs, HTTP_GET, "/", 2);
            add(&rs, HTTP_GET, "/*", 3);
        }
        CHECK_STR(match(&rs, HTTP_GET, "/docs"), "#0");
        CHECK_STR(match(&rs, HTTP_GET, "/docs/"), "#0");
        CHECK_STR(match(&rs, HTTP_GET, "/docs/intro"), "#1 splat=intro");
        CHECK_STR(match(&rs, HTTP_GET, "/"), "#2");
        CHECK_STR(match(&rs, HTTP_GET, "/x/y"), "#3 splat=x/y");
        bo_routes_free(&rs);
    }
}

TEST(trailing_slash)
{
    bo_routes rs;
    bo_routes_init(&rs);
    add(&rs, HTTP_GET, "/about", 0);
    add(&rs, HTTP_GET, "/team/", 1);          /* declared with a slash */
    add(&rs, HTTP_GET, "/users/:id", 2);
    CHECK_EQ_INT(rs.items[1].nsegments, 1);
    CHECK_STR(rs.items[1].pattern, "/team/");
    CHECK_STR(match(&rs, HTTP_GET, "/about"), "#0");
    CHECK_STR(match(&rs, HTTP_GET, "/about/"), "#0");
    CHECK_STR(match(&rs, HTTP_GET, "/team"), "#1");
    CHECK_STR(match(&rs, HTTP_GET, "/team/"), "#1");
    CHECK_STR(match(&rs, HTTP_GET, "/users/5/"), "#2 id=5");
    /* Only one slash is ignored. */
    CHECK_STR(match(&rs, HTTP_GET, "/about//"), "404");
    CHECK_STR(match(&rs, HTTP_GET, "/users/5//"), "404");
    CHECK_STR(match(&rs, HTTP_GET, "/"), "404");
    bo_routes_free(&rs);
}

TEST(head_is_answered_by_get)
{
    bo_routes rs;
    bo_routes_init(&rs);
    add(&rs, HTTP_GET, "/page", 0);
    add(&rs, HTTP_GET, "/both", 1);
    add(&rs, HTTP_HEAD, "/both", 2);
    add(&rs, HTTP_POST, "/form", 3);
    add(&rs, HTTP_GET, "/p/:id", 4);
    CHECK_STR(match(&rs, HTTP_HEAD, "/page"), "#0");
    CHECK_STR(match(&rs, HTTP_HEAD, "/p/9"), "#4 id=9");
    CHECK_STR(match(&rs, HTTP_HEAD, "/both"), "#2");    /* its own route first */
    CHECK_STR(match(&rs, HTTP_GET, "/both"), "#1");
    CHECK_STR(match(&rs, HTTP_HEAD, "/form"), "405 POST");
    CHECK_STR(match(&rs, HTTP_HEAD, "/none"), "404");
    /* GET is never answered by a HEAD route. */
    bo_routes_free(&rs);
    bo_routes_init(&rs);
    add(&rs, HTTP_HEAD, "/h", 0);
    CHECK_STR(match(&rs, HTTP_GET, "/h"), "405 HEAD");
    bo_routes_free(&rs);
}

TEST(method_not_allowed_says_which_are)
{
    bo_routes rs;
    bo_routes_init(&rs);
    add(&rs, HTTP_GET, "/items", 0);
    add(&rs, HTTP_POST, "/items", 1);
    add(&rs, HTTP_PUT, "/items/:id", 2);
    add(&rs, HTTP_DELETE, "/items/:id", 3);
    add(&rs, HTTP_PATCH, "/items/:id", 4);
    add(&rs, HTTP_OPTIONS, "/opt", 5);
    add(&rs, HTTP_GET, "/x/*", 6);
    add(&rs, HTTP_POST, "/x/:id", 7);

    CHECK_STR(match(&rs, HTTP_PUT, "/items"), "405 GET HEAD POST");
    CHECK_STR(match(&rs, HTTP_DELETE, "/items/"), "405 GET HEAD POST");
    CHECK_STR(match(&rs, HTTP_GET, "/items/3"), "405 DELETE PUT PATCH");
    CHECK_STR(match(&rs, HTTP_HEAD, "/items/3"), "405 DELETE PUT PATCH");
    CHECK_STR(match(&rs, HTTP_GET, "/opt"), "405 OPTIONS");
    /* Every route that matches the path counts, whatever its kind. */
    CHECK_STR(match(&rs, HTTP_PUT, "/x/1"), "405 GET HEAD POST");
    CHECK_STR(match(&rs, HTTP_PUT, "/x/1/2"), "405 GET HEAD");

    /* The exact mask. */
    char scratch[32];
    bo_route_match m;
    CHECK_EQ_INT(bo_routes_match(&rs, HTTP_PUT, "/items", 6, scratch, &m), BO_EPERM);
    CHECK_EQ_INT(m.allowed, (1u << HTTP_GET) | (1u << HTTP_HEAD) | (1u << HTTP_POST));
    CHECK_EQ_INT(bo_routes_match(&rs, HTTP_POST, "/items/7", 8, scratch, &m), BO_EPERM);
    CHECK_EQ_INT(m.allowed, (1u << HTTP_PUT) | (1u << HTTP_DELETE) | (1u << HTTP_PATCH));
    CHECK_EQ_INT(bo_routes_match(&rs, HTTP_POST, "/nothing", 8, scratch, &m), BO_ENOENT);
    CHECK_EQ_INT(m.allowed, 0);
    /* Methods the router never saw are a 405 too, not a 404. */
    CHECK_STR(match(&rs, HTTP_PROPFIND, "/items"), "405 GET HEAD POST");
    CHECK_STR(match(&rs, HTTP_UNLINK, "/items"), "405 GET HEAD POST");
    bo_routes_free(&rs);
}

TEST(malformed_escapes_are_einval)
{
    bo_routes rs;
    bo_routes_init(&rs);
    add(&rs, HTTP_GET, "/:p", 0);
    add(&rs, HTTP_GET, "/*", 1);
    static const char *const bad[] = {
        "/%", "/a%", "/a%2", "/a%zz", "/a%2G", "/a%G2", "/%%41", "/%00", "/a%00b",
        "/ok/%0", "/ok/%00/more", "/%2", "/%-1",
    };
    for (size_t i = 0; i < BO_COUNT(bad); i++) {
        const char *r = match(&rs, HTTP_GET, bad[i]);
        if (strcmp(r, "400") != 0)
            printf("  path \"%s\" gave %s\n", bad[i], r);
        CHECK_STR(r, "400");
    }
    /* Even when no route could match. */
    bo_routes_free(&rs);
    bo_routes_init(&rs);
    CHECK_STR(match(&rs, HTTP_GET, "/%zz"), "400");
    CHECK_STR(match(&rs, HTTP_GET, "/%zy"), "400");
    /* The length is respected: an escape cut by len is malformed. */
    add(&rs, HTTP_GET, "/:p", 0);
    CHECK_STR(match_n(&rs, HTTP_GET, "/a%41", 4), "400");
    CHECK_STR(match_n(&rs, HTTP_GET, "/a%41", 5), "#0 p=aA");
    CHECK_STR(match_n(&rs, HTTP_GET, "/ab/cd", 3), "#0 p=ab");
    bo_routes_free(&rs);
}

TEST(too_many_segments)
{
    bo_routes rs;
    bo_routes_init(&rs);
    char pattern[256];
    snprintf(pattern, sizeof pattern, "%s", repeat_path("a", BO_ROUTE_MAX_SEGMENTS));
    add(&rs, HTTP_GET, pattern, 0);
    CHECK_EQ_INT(rs.items[0].nsegments, 32);
    CHECK_STR(match(&rs, HTTP_GET, repeat_path("a", 32)), "#0");
    CHECK_STR(match(&rs, HTTP_GET, repeat_path("a", 33)), "404");
    CHECK_STR(match(&rs, HTTP_GET, repeat_path("a", 200)), "404");
    CHECK_STR(match(&rs, HTTP_GET, repeat_path("a", 31)), "404");

    /* A splat still takes a long path whole, and decodes all of it. */
    add(&rs, HTTP_GET, "/a/*", 1);
    const char *r = match(&rs, HTTP_GET, repeat_path("a", 40));
    CHECK_EQ_INT(strncmp(r, "#1 splat=a/a/", 13), 0);
    CHECK_EQ_INT(strlen(r), strlen("#1 splat=") + 39 * 2 - 1);
    char path[1024];
    snprintf(path, sizeof path, "%s/%%41%%42", repeat_path("a", 35));
    r = match(&rs, HTTP_GET, path);
    CHECK_EQ_INT(strlen(r), strlen("#1 splat=") + 34 * 2 + 2);
    CHECK_STR(r + strlen(r) - 4, "a/AB");
    snprintf(path, sizeof path, "%s/%%4", repeat_path("a", 35));
    CHECK_STR(match(&rs, HTTP_GET, path), "400");
    snprintf(path, sizeof path, "%s/%%00", repeat_path("a", 35));
    CHECK_STR(match(&rs, HTTP_GET, path), "400");
    bo_routes_free(&rs);
}

TEST(pattern_errors)
{
    bo_routes rs;
    bo_routes_init(&rs);
    CHECK_STR(refuse(&rs, HTTP_GET, "users"), "invalid route pattern \"users\": it must start with '/'");
    CHECK_STR(refuse(&rs, HTTP_GET, ""), "invalid route pattern \"\": it must start with '/'");
    CHECK_STR(refuse(&rs, HTTP_GET, "*"), "invalid route pattern \"*\": it must start with '/'");
    CHECK_STR(refuse(&rs, HTTP_GET, "/a//b"), "invalid route pattern \"/a//b\": empty segment ('//')");
    CHECK_STR(refuse(&rs, HTTP_GET, "//a"), "invalid route pattern \"//a\": empty segment ('//')");
    CHECK_STR(refuse(&rs, HTTP_GET, "/a//"), "invalid route pattern \"/a//\": empty segment ('//')");
    CHECK_STR(refuse(&rs, HTTP_GET, "//"), "invalid route pattern \"//\": empty segment ('//')");
    CHECK_STR(refuse(&rs, HTTP_GET, "/users/:"), "invalid route pattern \"/users/:\": ':' must be followed by a name");
    CHECK_STR(refuse(&rs, HTTP_GET, "/:/x"), "invalid route pattern \"/:/x\": ':' must be followed by a name");
    CHECK_STR(refuse(&rs, HTTP_GET, "/:/"), "invalid route pattern \"/:/\": ':' must be followed by a name");
    CHECK_STR(refuse(&rs, HTTP_GET, "/*/x"), "invalid route pattern \"/*/x\": '*' must be the last segment");
    CHECK_STR(refuse(&rs, HTTP_GET, "/a/*/:id"), "invalid route pattern \"/a/*/:id\": '*' must be the last segment");

    char pattern[512], expect[640];
    snprintf(pattern, sizeof pattern, "%s", repeat_path("s", 33));
    snprintf(expect, sizeof expect, "invalid route pattern \"%s\": too many segments", pattern);
    CHECK_STR(refuse(&rs, HTTP_GET, pattern), expect);
    snprintf(pattern, sizeof pattern, "%s", param_path(17));
    snprintf(expect, sizeof expect, "invalid route pattern \"%s\": too many parameters", pattern);
    CHECK_STR(refuse(&rs, HTTP_GET, pattern), expect);
    snprintf(pattern, sizeof pattern, "%s/*", param_path(16));
    snprintf(expect, sizeof expect, "invalid route pattern \"%s\": too many parameters", pattern);
    CHECK_STR(refuse(&rs, HTTP_GET, pattern), expect);
    snprintf(pattern, sizeof pattern, "%s", param_path(16));
    add(&rs, HTTP_GET, pattern, 0);
    CHECK_EQ_INT(rs.count, 1);

    /* A '*' or ':' inside a segment is literal text. */
    add(&rs, HTTP_GET, "/a*", 1);
    add(&rs, HTTP_GET, "/x:y", 2);
    CHECK_STR(match(&rs, HTTP_GET, "/a*"), "#1");
    CHECK_STR(match(&rs, HTTP_GET, "/x:y"), "#2");
    CHECK_STR(match(&rs, HTTP_GET, "/ab"), "404");

    /* An error message is cut to fit the buffer, never overrun. */
    char small[16];
    memset(small, 'x', sizeof small);
    CHECK_EQ_INT(bo_routes_add(&rs, HTTP_GET, "nope", 0, small, 8), BO_EINVAL);
    CHECK_STR(small, "invalid");
    CHECK_EQ_INT(small[8], 'x');
    bo_routes_free(&rs);
}

TEST(duplicate_routes)
{
    bo_routes rs;
    bo_routes_init(&rs);
    add(&rs, HTTP_GET, "/users/:id", 0);
    add(&rs, HTTP_GET, "/about", 1);
    add(&rs, HTTP_GET, "/files/*", 2);
    add(&rs, HTTP_POST, "/users/:id", 3);          /* another method is not a duplicate */
    add(&rs, HTTP_GET, "/users/:id/x", 4);
    add(&rs, HTTP_GET, "/users/new", 5);
    CHECK_STR(refuse(&rs, HTTP_GET, "/users/:id"), "route GET /users/:id is declared twice (first as /users/:id)");
    /* Param names do not make two routes different. */
    CHECK_STR(refuse(&rs, HTTP_GET, "/users/:name"), "route GET /users/:name is declared twice (first as /users/:id)");
    CHECK_STR(refuse(&rs, HTTP_GET, "/about/"), "route GET /about/ is declared twice (first as /about)");
    CHECK_STR(refuse(&rs, HTTP_GET, "/files/*/"), "route GET /files/*/ is declared twice (first as /files/*)");
    CHECK_STR(refuse(&rs, HTTP_POST, "/users/:x/"), "route POST /users/:x/ is declared twice (first as /users/:id)");
    CHECK_EQ_INT(rs.count, 6);
    bo_routes_free(&rs);
}

/* ---- bo_url_decode_path ---- */

static const char *decode(const char *src, size_t len)
{
    char *dst = malloc(len ? len : 1);
    long n = bo_url_decode_path(src, len, dst);
    if (n < 0)
        snprintf(result, sizeof result, "-1");
    else
        snprintf(result, sizeof result, "%ld:%.*s", n, (int)n, dst);
    free(dst);
    return result;
}

TEST(url_decode_path)
{
    CHECK_STR(decode("", 0), "0:");
    CHECK_STR(decode("abc", 3), "3:abc");
    CHECK_STR(decode("a%20b", 5), "3:a b");
    CHECK_STR(decode("a+b", 3), "3:a+b");
    CHECK_STR(decode("%41%42%43", 9), "3:ABC");
    CHECK_STR(decode("%e9%C3%a9", 9), "3:\xe9\xc3\xa9");
    CHECK_STR(decode("%2F%2f", 6), "2://");
    CHECK_STR(decode("%25", 3), "1:%");
    CHECK_STR(decode("%41xyz", 3), "1:A");        /* stops at len */
    CHECK_STR(decode("%", 1), "-1");
    CHECK_STR(decode("%4", 2), "-1");
    CHECK_STR(decode("ab%41", 4), "-1");          /* the escape is cut by len */
    CHECK_STR(decode("%4g", 3), "-1");
    CHECK_STR(decode("%g4", 3), "-1");
    CHECK_STR(decode("% 4", 3), "-1");
    CHECK_STR(decode("%00", 3), "-1");
    CHECK_STR(decode("a\0b", 3), "-1");           /* a raw NUL too */
    CHECK_STR(decode("%%", 2), "-1");
}

/* ---- mounts ---- */

static const char *normalise(const char *mount)
{
    char *s = bo_mount_normalise(mount);
    if (!s)
        return "NULL";
    snprintf(result, sizeof result, "\"%s\"", s);
    free(s);
    return result;
}

TEST(mount_normalise)
{
    CHECK_STR(normalise("/x"), "\"/x\"");
    CHECK_STR(normalise("/x/"), "\"/x\"");
    CHECK_STR(normalise("/"), "\"\"");
    CHECK_STR(normalise("/a/b"), "\"/a/b\"");
    CHECK_STR(normalise("/a/b/"), "\"/a/b\"");
    CHECK_STR(normalise("/Grants-2_x.y~z"), "\"/Grants-2_x.y~z\"");
    CHECK_STR(normalise("/.well-known"), "\"/.well-known\"");
    CHECK_STR(normalise("/a..b"), "\"/a..b\"");
    CHECK_STR(normalise("/..."), "\"/...\"");

    CHECK_STR(normalise(""), "NULL");
    CHECK_STR(normalise("x"), "NULL");
    CHECK_STR(normalise("hello/"), "NULL");
    CHECK_STR(normalise("/a//b"), "NULL");
    CHECK_STR(normalise("/./x"), "NULL");
    CHECK_STR(normalise("/../x"), "NULL");
    CHECK_STR(normalise("/a/.."), "NULL");
    CHECK_STR(normalise("/a/../b"), "NULL");
    CHECK_STR(normalise("/a/."), "NULL");
    CHECK_STR(normalise("/."), "NULL");
    CHECK_STR(normalise("/.."), "NULL");
    CHECK_STR(normalise("/../"), "NULL");
    CHECK_STR(normalise("/a b"), "NULL");
    CHECK_STR(normalise(" /a"), "NULL");
    CHECK_STR(normalise("/a "), "NULL");
    CHECK_STR(normalise("/a\tb"), "NULL");
    CHECK_STR(normalise("/a%20b"), "NULL");
    CHECK_STR(normalise("/a?b"), "NULL");
    CHECK_STR(normalise("/a#b"), "NULL");
    CHECK_STR(normalise("/a\\b"), "NULL");
    CHECK_STR(normalise("/caf\xc3\xa9"), "NULL");
}

/* Describes bo_mounts_find: "#index+rest_off", or "none". */
static const char *find(const bo_mounts *ms, const char *host, const char *path)
{
    size_t rest = 12345;
    const bo_mount *m = bo_mounts_find(ms, host, host ? strlen(host) : 0, path, strlen(path), &rest);
    if (!m)
        return "none";
    snprintf(result, sizeof result, "#%d+%zu", m->index, rest);
    return result;
}

TEST(mounts_by_prefix)
{
    bo_mounts ms;
    bo_mounts_init(&ms);
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "/grants", 0), 0);
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "/grants/admin/", 1), 0);
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "/hello", 3), 0);
    CHECK_STR(ms.items[1].prefix, "/grants/admin");
    CHECK_EQ_INT(ms.items[1].prefix_len, 13);
    CHECK(ms.items[1].host == NULL);

    CHECK_STR(find(&ms, NULL, "/grants"), "#0+7");
    CHECK_STR(find(&ms, NULL, "/grants/"), "#0+7");
    CHECK_STR(find(&ms, NULL, "/grants/x/y"), "#0+7");
    CHECK_STR(find(&ms, NULL, "/grantsx"), "none");     /* the boundary rule */
    CHECK_STR(find(&ms, NULL, "/grants.x"), "none");
    CHECK_STR(find(&ms, NULL, "/grant"), "none");
    CHECK_STR(find(&ms, NULL, "/Grants"), "none");
    CHECK_STR(find(&ms, NULL, "/grants/admin"), "#1+13");  /* the longest prefix */
    CHECK_STR(find(&ms, NULL, "/grants/admin/u/1"), "#1+13");
    CHECK_STR(find(&ms, NULL, "/grants/administrator"), "#0+7");
    CHECK_STR(find(&ms, NULL, "/hello/"), "#3+6");
    CHECK_STR(find(&ms, NULL, "/"), "none");
    CHECK_STR(find(&ms, NULL, ""), "none");
    CHECK_STR(find(&ms, "unknown.example", "/hello"), "#3+6");

    /* The root mount takes whatever no other mount does. */
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "/", 2), 0);
    CHECK_STR(ms.items[3].prefix, "");
    CHECK_EQ_INT(ms.items[3].prefix_len, 0);
    CHECK_STR(find(&ms, NULL, "/grantsx"), "#2+0");
    CHECK_STR(find(&ms, NULL, "/"), "#2+0");
    CHECK_STR(find(&ms, NULL, "/other/page"), "#2+0");
    CHECK_STR(find(&ms, NULL, "/grants/x"), "#0+7");
    CHECK_STR(find(&ms, "unknown.example", "/x"), "#2+0");

    /* The same again, declared in the other order. */
    bo_mounts ms2;
    bo_mounts_init(&ms2);
    CHECK_EQ_INT(bo_mounts_add(&ms2, NULL, "/", 2), 0);
    CHECK_EQ_INT(bo_mounts_add(&ms2, NULL, "/grants/admin", 1), 0);
    CHECK_EQ_INT(bo_mounts_add(&ms2, NULL, "/grants", 0), 0);
    CHECK_STR(find(&ms2, NULL, "/grants/admin/u"), "#1+13");
    CHECK_STR(find(&ms2, NULL, "/grants/adminx"), "#0+7");
    CHECK_STR(find(&ms2, NULL, "/grantsx"), "#2+0");
    bo_mounts_free(&ms2);
    bo_mounts_free(&ms);
    CHECK_EQ_INT(ms.count, 0);
}

/* A whole mount (the platform's /_admin beside an app at the root): its
   app sees the whole path, and the longest prefix still wins. */
TEST(mounts_whole)
{
    bo_mounts ms;
    bo_mounts_init(&ms);
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "/", 0), 0);
    CHECK_EQ_INT(bo_mounts_add_whole(&ms, "/_admin", 1), 0);
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "/grants", 2), 0);
    CHECK(ms.items[1].whole && !ms.items[0].whole && !ms.items[2].whole);
    CHECK_STR(find(&ms, NULL, "/_admin"), "#1+0");
    CHECK_STR(find(&ms, NULL, "/_admin/apps/x"), "#1+0");
    CHECK_STR(find(&ms, NULL, "/_adminx"), "#0+0");
    CHECK_STR(find(&ms, NULL, "/grants/a"), "#2+7");
    CHECK_STR(find(&ms, NULL, "/"), "#0+0");
    CHECK_EQ_INT(bo_mounts_add_whole(&ms, "/_admin/", 3), BO_EEXIST);
    CHECK_EQ_INT(bo_mounts_add_whole(&ms, "_admin", 3), BO_EINVAL);
    CHECK_EQ_INT(ms.count, 3);
    bo_mounts_free(&ms);
}

TEST(mounts_by_host)
{
    bo_mounts ms;
    bo_mounts_init(&ms);
    CHECK_EQ_INT(bo_mounts_add(&ms, "Grants.Example.GOV.uk", NULL, 4), 0);
    CHECK_EQ_INT(bo_mounts_add(&ms, "[::1]", NULL, 5), 0);
    CHECK_EQ_INT(bo_mounts_add(&ms, "localhost", NULL, 6), 0);
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "/grants", 0), 0);
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "/", 2), 0);
    CHECK_STR(ms.items[0].host, "grants.example.gov.uk");
    CHECK_STR(ms.items[0].prefix, "");

    CHECK_STR(find(&ms, "grants.example.gov.uk", "/x"), "#4+0");
    CHECK_STR(find(&ms, "GRANTS.EXAMPLE.GOV.UK", "/x"), "#4+0");
    CHECK_STR(find(&ms, "grants.example.gov.uk:8443", "/grants/x"), "#4+0");  /* the host comes first */
    CHECK_STR(find(&ms, "localhost:8080", "/"), "#6+0");
    CHECK_STR(find(&ms, "LocalHost", "/"), "#6+0");
    CHECK_STR(find(&ms, "[::1]:8080", "/a"), "#5+0");
    CHECK_STR(find(&ms, "[::1]", "/a"), "#5+0");
    CHECK_STR(find(&ms, "[::2]:8080", "/a"), "#2+0");
    CHECK_STR(find(&ms, "::1", "/a"), "#2+0");
    /* No partial or suffix matches. */
    CHECK_STR(find(&ms, "grants.example.gov", "/x"), "#2+0");
    CHECK_STR(find(&ms, "grants.example.gov.uk.evil", "/x"), "#2+0");
    CHECK_STR(find(&ms, "xgrants.example.gov.uk", "/grants"), "#0+7");
    CHECK_STR(find(&ms, "localhost:", "/"), "#6+0");
    CHECK_STR(find(&ms, "", "/grants"), "#0+7");
    CHECK_STR(find(&ms, NULL, "/grants"), "#0+7");
    /* host_len is respected; the host need not be NUL-terminated. */
    size_t rest = 99;
    const bo_mount *m = bo_mounts_find(&ms, "localhostXYZ", 9, "/", 1, &rest);
    CHECK(m != NULL && m->index == 6);
    CHECK_EQ_INT(rest, 0);
    bo_mounts_free(&ms);
}

TEST(mount_clashes)
{
    bo_mounts ms;
    bo_mounts_init(&ms);
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "/grants", 0), 0);
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "/grants/", 1), BO_EEXIST);
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "/grants", 1), BO_EEXIST);
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "/", 2), 0);
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "/", 3), BO_EEXIST);
    CHECK_EQ_INT(bo_mounts_add(&ms, "a.example", NULL, 4), 0);
    CHECK_EQ_INT(bo_mounts_add(&ms, "A.Example", NULL, 5), BO_EEXIST);
    CHECK_EQ_INT(bo_mounts_add(&ms, "b.example", NULL, 6), 0);
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "grants", 7), BO_EINVAL);
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "/a/../b", 7), BO_EINVAL);
    CHECK_EQ_INT(bo_mounts_add(&ms, NULL, "", 7), BO_EINVAL);
    CHECK_EQ_INT(ms.count, 4);
    CHECK_STR(find(&ms, "a.example", "/grants"), "#4+0");
    CHECK_STR(find(&ms, NULL, "/grants"), "#0+7");
    bo_mounts_free(&ms);
}

static const unit_case cases[] = {
    UNIT_CASE(literal_routes)
    UNIT_CASE(param_routes)
    UNIT_CASE(params_are_percent_decoded)
    UNIT_CASE(splat_takes_the_rest)
    UNIT_CASE(precedence_literal_then_param_then_splat)
    UNIT_CASE(precedence_is_segment_by_segment)
    UNIT_CASE(exact_route_beats_a_splat_that_matches_nothing)
    UNIT_CASE(trailing_slash)
    UNIT_CASE(head_is_answered_by_get)
    UNIT_CASE(method_not_allowed_says_which_are)
    UNIT_CASE(malformed_escapes_are_einval)
    UNIT_CASE(too_many_segments)
    UNIT_CASE(pattern_errors)
    UNIT_CASE(duplicate_routes)
    UNIT_CASE(url_decode_path)
    UNIT_CASE(mount_normalise)
    UNIT_CASE(mounts_by_prefix)
    UNIT_CASE(mounts_whole)
    UNIT_CASE(mounts_by_host)
    UNIT_CASE(mount_clashes)
};

int main(void)
{
    return UNIT_RUN("router", cases);
}
