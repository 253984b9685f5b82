/*
 * test_static.c - unit tests for static.c: the shapes of request path that
 * are refused, symlinks inside and outside the folder, what a successful open
 * reports (size, mtime, etag, media type), the media-type table and the
 * If-None-Match matcher. The tests build a real folder under a temporary
 * directory and remove it at the end.
 */
#include "static.h"
#include "unit.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* base/ holds secret.txt (the target of "../" attempts) and static/ (the
   root); other/ is a second temporary directory outside both. */
static char base[PATH_MAX], other[PATH_MAX];
static char *root;

static void must(int ok, const char *what)
{
    if (!ok) {
        perror(what);
        exit(2);
    }
}

static void put(const char *dir, const char *name, const char *data)
{
    char *p = bo_sprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    must(f != NULL, p);
    fputs(data, f);
    must(fclose(f) == 0, p);
    free(p);
}

static void mkdir_in(const char *dir, const char *name)
{
    char *p = bo_sprintf("%s/%s", dir, name);
    must(mkdir(p, 0755) == 0, p);
    free(p);
}

static void link_in(const char *dir, const char *name, const char *target)
{
    char *p = bo_sprintf("%s/%s", dir, name);
    must(symlink(target, p) == 0, p);
    free(p);
}

static void set_mtime(const char *dir, const char *name, time_t sec, long nsec)
{
    char *p = bo_sprintf("%s/%s", dir, name);
    struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };
    must(utimensat(AT_FDCWD, p, ts, 0) == 0, p);
    free(p);
}

static void make_tree(void)
{
    char tmpl[] = "/tmp/bo-static-XXXXXX", tmpl2[] = "/tmp/bo-static-other-XXXXXX";
    must(mkdtemp(tmpl) != NULL, "mkdtemp");
    must(mkdtemp(tmpl2) != NULL, "mkdtemp");
    /* The root must be resolved, as the server passes it. */
    must(realpath(tmpl, base) != NULL, tmpl);
    must(realpath(tmpl2, other) != NULL, tmpl2);
    root = bo_sprintf("%s/static", base);

    put(base, "secret.txt", "outside the root\n");
    put(other, "secret.txt", "in another directory\n");
    mkdir_in(base, "static");
    mkdir_in(base, "stat");
    link_in(base, "stat/s", "../static/index.html");

    put(root, "index.html", "<h1>hi</h1>\n");
    set_mtime(root, "index.html", 1700000000, 123456789);
    put(root, "app.JS", "let x = 1;\n");
    put(root, "a b.txt", "space\n");
    put(root, "caf\xc3\xa9.txt", "utf-8\n");
    put(root, "empty.txt", "");
    set_mtime(root, "empty.txt", 1600000000, 0);
    put(root, "old.txt", "old\n");
    set_mtime(root, "old.txt", -1, 0);
    put(root, "a\\b", "a file with a backslash in its name\n");
    put(root, ".hidden", "dot file\n");
    mkdir_in(root, ".git");
    put(root, ".git/config", "[core]\n");
    mkdir_in(root, "sub");
    put(root, "sub/page.txt", "page\n");
    set_mtime(root, "sub/page.txt", 1600000000, 0);
    mkdir_in(root, "sub/deeper");
    put(root, "sub/deeper/data.json", "{}\n");
    mkdir_in(root, "a");
    put(root, "a/b", "a/b\n");
    mkdir_in(root, "a/.git");
    put(root, "a/.git/config", "[core]\n");
    mkdir_in(root, "emptydir");

    link_in(root, "in.txt", "sub/page.txt");
    link_in(root, "dirlink", "sub");
    link_in(root, "selflink", ".");
    char *p = bo_sprintf("%s/secret.txt", other);
    link_in(root, "out.txt", p);
    free(p);
    link_in(root, "outdir", other);
    link_in(root, "up.txt", "../secret.txt");
    link_in(root, "dotlink", ".git/config");
    link_in(root, "dangling", "nope.txt");
    link_in(root, "loop", "loop");
    p = bo_sprintf("%s/fifo", root);
    must(mkfifo(p, 0644) == 0, p);
    free(p);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void remove_tree(void)
{
    nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    nftw(other, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    free(root);
}

/* Opens path under the root and closes what was opened; a failed open must
   leave no descriptor behind. The path is passed as an exact-size copy with
   no terminator, so that a read past len shows under AddressSanitizer. */
static int try_open(const char *path)
{
    bo_static_file f;
    size_t n = strlen(path);
    char *copy = bo_malloc(n);
    memcpy(copy, path, n);
    int rc = bo_static_open(root, copy, n, &f);
    if (rc != 0)
        CHECK_EQ_INT(f.fd, -1);
    bo_static_close(&f);
    free(copy);
    return rc;
}

/* Calls the matcher on an exact-size copy with no terminator, so that a read
   past the end shows under AddressSanitizer. */
static bool inm(const char *header, const char *etag)
{
    size_t n = strlen(header);
    char *copy = bo_malloc(n);
    memcpy(copy, header, n);
    bool r = bo_static_etag_matches(copy, n, etag);
    free(copy);
    return r;
}

TEST(refuses_dot_dot)
{
    CHECK_EQ_INT(try_open("../secret.txt"), BO_EPERM);
    CHECK_EQ_INT(try_open("a/../../secret.txt"), BO_EPERM);
    CHECK_EQ_INT(try_open("sub/../index.html"), BO_EPERM);
    CHECK_EQ_INT(try_open(".."), BO_EPERM);
    CHECK_EQ_INT(try_open("sub/.."), BO_EPERM);
}

TEST(refuses_encoded_dot_dot)
{
    CHECK_EQ_INT(try_open("%2e%2e/secret.txt"), BO_EPERM);
    CHECK_EQ_INT(try_open("%2E%2E/secret.txt"), BO_EPERM);
    CHECK_EQ_INT(try_open(".%2e/secret.txt"), BO_EPERM);
    CHECK_EQ_INT(try_open("%2e./secret.txt"), BO_EPERM);
    CHECK_EQ_INT(try_open("a/%2e%2e/%2e%2e/secret.txt"), BO_EPERM);
    CHECK_EQ_INT(try_open("sub/%2e"), BO_EPERM);
}

TEST(refuses_dot_segments)
{
    CHECK_EQ_INT(try_open("./index.html"), BO_EPERM);
    CHECK_EQ_INT(try_open("a/./b"), BO_EPERM);
    CHECK_EQ_INT(try_open("."), BO_EPERM);
    CHECK_EQ_INT(try_open("%2e/index.html"), BO_EPERM);
}

TEST(refuses_encoded_slash_and_backslash)
{
    CHECK_EQ_INT(try_open("a%2fb"), BO_EPERM);
    CHECK_EQ_INT(try_open("a%2Fb"), BO_EPERM);
    CHECK_EQ_INT(try_open("a%5cb"), BO_EPERM);
    CHECK_EQ_INT(try_open("a%5Cb"), BO_EPERM);
    CHECK_EQ_INT(try_open("a\\b"), BO_EPERM);      /* the file exists */
    CHECK_EQ_INT(try_open("..\\secret.txt"), BO_EPERM);
}

TEST(refuses_nul)
{
    bo_static_file f;
    CHECK_EQ_INT(try_open("a%00b"), BO_EPERM);
    CHECK_EQ_INT(try_open("index.html%00.png"), BO_EPERM);
    /* A raw NUL inside the slice: the bytes after it must not be ignored. */
    CHECK_EQ_INT(bo_static_open(root, "index.html\0x", 12, &f), BO_EPERM);
    CHECK_EQ_INT(f.fd, -1);
}

TEST(refuses_empty_segments)
{
    bo_static_file f;
    CHECK_EQ_INT(try_open("a//b"), BO_EPERM);
    CHECK_EQ_INT(try_open("/index.html"), BO_EPERM);
    CHECK_EQ_INT(try_open("//index.html"), BO_EPERM);
    CHECK_EQ_INT(try_open(""), BO_EPERM);
    CHECK_EQ_INT(bo_static_open(root, NULL, 0, &f), BO_EPERM);
}

TEST(refuses_trailing_slash)
{
    CHECK_EQ_INT(try_open("sub/"), BO_EPERM);
    CHECK_EQ_INT(try_open("sub//"), BO_EPERM);
    CHECK_EQ_INT(try_open("emptydir/"), BO_EPERM);
    CHECK_EQ_INT(try_open("index.html/"), BO_EPERM);
    CHECK_EQ_INT(try_open("a/b/"), BO_EPERM);
    CHECK_EQ_INT(try_open("/"), BO_EPERM);
}

TEST(refuses_dot_files)
{
    CHECK_EQ_INT(try_open(".hidden"), BO_EPERM);
    CHECK_EQ_INT(try_open("%2ehidden"), BO_EPERM);
    CHECK_EQ_INT(try_open(".git/config"), BO_EPERM);
    CHECK_EQ_INT(try_open("a/.git/config"), BO_EPERM);
    CHECK_EQ_INT(try_open("a/%2Egit/config"), BO_EPERM);
    CHECK_EQ_INT(try_open(".nope"), BO_EPERM);     /* refused before the lookup */
}

TEST(refuses_bad_escapes)
{
    CHECK_EQ_INT(try_open("%zz"), BO_EPERM);
    CHECK_EQ_INT(try_open("%g0"), BO_EPERM);
    CHECK_EQ_INT(try_open("%0g"), BO_EPERM);
    CHECK_EQ_INT(try_open("%"), BO_EPERM);
    CHECK_EQ_INT(try_open("%4"), BO_EPERM);
    CHECK_EQ_INT(try_open("index.html%"), BO_EPERM);
    CHECK_EQ_INT(try_open("index.html%2"), BO_EPERM);
    CHECK_EQ_INT(try_open("%%32%65"), BO_EPERM);
    CHECK_EQ_INT(try_open("% 2e"), BO_EPERM);
}

TEST(refuses_long_paths)
{
    char *p = bo_malloc(PATH_MAX + 2);
    memset(p, 'a', PATH_MAX + 1);
    p[PATH_MAX + 1] = '\0';
    CHECK_EQ_INT(try_open(p), BO_EPERM);            /* longer than PATH_MAX */
    p[PATH_MAX - 8] = '\0';
    CHECK_EQ_INT(try_open(p), BO_EPERM);            /* fits, but not after the root */
    p[300] = '\0';
    CHECK_EQ_INT(try_open(p), BO_EPERM);            /* a name over NAME_MAX */
    free(p);
}

TEST(refuses_symlinks_out)
{
    CHECK_EQ_INT(try_open("out.txt"), BO_EPERM);
    CHECK_EQ_INT(try_open("outdir/secret.txt"), BO_EPERM);
    CHECK_EQ_INT(try_open("up.txt"), BO_EPERM);
    CHECK_EQ_INT(try_open("selflink"), BO_EPERM);   /* the root itself */
    CHECK_EQ_INT(try_open("dotlink"), BO_EPERM);    /* into .git */
    CHECK_EQ_INT(try_open("loop"), BO_EPERM);
}

TEST(reports_missing_and_non_regular)
{
    CHECK_EQ_INT(try_open("nope.txt"), BO_ENOENT);
    CHECK_EQ_INT(try_open("sub/nope/x"), BO_ENOENT);
    CHECK_EQ_INT(try_open("index.html/x"), BO_ENOENT);
    CHECK_EQ_INT(try_open("dangling"), BO_ENOENT);
    CHECK_EQ_INT(try_open("sub"), BO_ENOENT);
    CHECK_EQ_INT(try_open("emptydir"), BO_ENOENT);
    CHECK_EQ_INT(try_open("dirlink"), BO_ENOENT);
    CHECK_EQ_INT(try_open("fifo"), BO_ENOENT);      /* and the open does not block */
}

TEST(opens_a_file)
{
    bo_static_file f;
    char data[64];
    CHECK_EQ_INT(bo_static_open(root, "index.html", 10, &f), 0);
    CHECK(f.fd >= 0);
    CHECK_EQ_INT(f.size, 12);
    CHECK_EQ_INT(f.mtime, 1700000000);
    CHECK_STR(f.etag, "\"c-17979cfe3d85cd15\"");
    CHECK_STR(f.content_type, "text/html; charset=utf-8");
    ssize_t n = read(f.fd, data, sizeof data);
    CHECK_MEM(data, n > 0 ? (size_t)n : 0, "<h1>hi</h1>\n");
    CHECK(fcntl(f.fd, F_GETFD) & FD_CLOEXEC);
    CHECK(!(fcntl(f.fd, F_GETFL) & O_NONBLOCK));
    bo_static_close(&f);
    CHECK_EQ_INT(f.fd, -1);
    bo_static_close(&f);                        /* closing twice is harmless */
}

TEST(opens_within_len)
{
    bo_static_file f;
    CHECK_EQ_INT(bo_static_open(root, "index.html../x", 10, &f), 0);
    CHECK_STR(f.etag, "\"c-17979cfe3d85cd15\"");
    bo_static_close(&f);
}

TEST(opens_decoded_names)
{
    bo_static_file f;
    CHECK_EQ_INT(try_open("a%20b.txt"), 0);
    CHECK_EQ_INT(try_open("caf%C3%A9.txt"), 0);
    CHECK_EQ_INT(try_open("caf%c3%a9.txt"), 0);
    CHECK_EQ_INT(try_open("sub/p%61ge.txt"), 0);
    CHECK_EQ_INT(try_open("%69ndex.html"), 0);
    CHECK_EQ_INT(bo_static_open(root, "sub/deeper/data.json", 20, &f), 0);
    CHECK_EQ_INT(f.size, 3);
    CHECK_STR(f.content_type, "application/json; charset=utf-8");
    bo_static_close(&f);
    CHECK_EQ_INT(bo_static_open(root, "app.JS", 6, &f), 0);
    CHECK_STR(f.content_type, "text/javascript; charset=utf-8");
    bo_static_close(&f);
}

TEST(opens_symlinks_inside)
{
    bo_static_file f, g;
    CHECK_EQ_INT(bo_static_open(root, "sub/page.txt", 12, &f), 0);
    CHECK_EQ_INT(bo_static_open(root, "in.txt", 6, &g), 0);
    CHECK_EQ_INT(g.size, 5);
    CHECK_EQ_INT(g.mtime, 1600000000);
    CHECK_STR(f.etag, "\"5-16345785d8a00000\"");
    CHECK_STR(g.etag, f.etag);
    CHECK_STR(g.content_type, "text/plain; charset=utf-8");
    bo_static_close(&f);
    bo_static_close(&g);
    CHECK_EQ_INT(try_open("dirlink/page.txt"), 0);
    CHECK_EQ_INT(try_open("selflink/index.html"), 0);
}

TEST(etag_edges)
{
    bo_static_file f;
    CHECK_EQ_INT(bo_static_open(root, "empty.txt", 9, &f), 0);
    CHECK_EQ_INT(f.size, 0);
    CHECK_STR(f.etag, "\"0-16345785d8a00000\"");
    bo_static_close(&f);
    /* Before 1970 the nanoseconds wrap as unsigned; the tag stays stable. */
    CHECK_EQ_INT(bo_static_open(root, "old.txt", 7, &f), 0);
    CHECK_EQ_INT(f.mtime, -1);
    CHECK_STR(f.etag, "\"4-ffffffffc4653600\"");
    bo_static_close(&f);
}

TEST(root_forms)
{
    bo_static_file f;
    char *slashed = bo_sprintf("%s/", root);
    CHECK_EQ_INT(bo_static_open(slashed, "index.html", 10, &f), 0);
    bo_static_close(&f);
    CHECK_EQ_INT(bo_static_open(slashed, "../secret.txt", 13, &f), BO_EPERM);
    free(slashed);
    /* The root "/" itself: everything is under it except dot files. */
    char *rel = bo_sprintf("%s/index.html", root + 1);
    CHECK_EQ_INT(bo_static_open("/", rel, strlen(rel), &f), 0);
    bo_static_close(&f);
    free(rel);
    /* base/static/index.html starts with the root base/stat, but is not
       under it. */
    char *prefix = bo_sprintf("%s/stat", base);
    CHECK_EQ_INT(bo_static_open(prefix, "s", 1, &f), BO_EPERM);
    free(prefix);
}

TEST(content_types)
{
    static const struct { const char *name, *type; } cases[] = {
        { "a.html", "text/html; charset=utf-8" },
        { "a.htm", "text/html; charset=utf-8" },
        { "a.css", "text/css; charset=utf-8" },
        { "a.js", "text/javascript; charset=utf-8" },
        { "a.mjs", "text/javascript; charset=utf-8" },
        { "a.json", "application/json; charset=utf-8" },
        { "a.js.map", "application/json; charset=utf-8" },
        { "a.txt", "text/plain; charset=utf-8" },
        { "a.csv", "text/csv; charset=utf-8" },
        { "a.xml", "application/xml; charset=utf-8" },
        { "a.svg", "image/svg+xml; charset=utf-8" },
        { "a.png", "image/png" },
        { "a.jpg", "image/jpeg" },
        { "a.jpeg", "image/jpeg" },
        { "a.gif", "image/gif" },
        { "a.webp", "image/webp" },
        { "a.avif", "image/avif" },
        { "favicon.ico", "image/x-icon" },
        { "a.woff", "font/woff" },
        { "a.woff2", "font/woff2" },
        { "a.ttf", "font/ttf" },
        { "a.otf", "font/otf" },
        { "a.pdf", "application/pdf" },
        { "a.wasm", "application/wasm" },
        { "site.webmanifest", "application/manifest+json; charset=utf-8" },
        { "a.mp4", "video/mp4" },
        { "a.webm", "video/webm" },
        { "a.mp3", "audio/mpeg" },
        { "a.zip", "application/zip" },
        { "INDEX.HTML", "text/html; charset=utf-8" },
        { "Photo.JpEg", "image/jpeg" },
        { "dir/sub/a.css", "text/css; charset=utf-8" },
        { "Makefile", "application/octet-stream" },
        { "a.", "application/octet-stream" },
        { "a.exe", "application/octet-stream" },
        { "a.htmlx", "application/octet-stream" },
        { "a.tar.gz", "application/octet-stream" },
        { "v1.2/README", "application/octet-stream" },
        { "", "application/octet-stream" },
    };
    for (size_t i = 0; i < BO_COUNT(cases); i++)
        CHECK_STR(bo_static_content_type(cases[i].name, strlen(cases[i].name)), cases[i].type);
    /* Only len bytes count. */
    CHECK_STR(bo_static_content_type("a.jsonp", 6), "application/json; charset=utf-8");
    CHECK_STR(bo_static_content_type("a.json", 5), "application/octet-stream");
}

TEST(etag_matches)
{
    const char *e = "\"1f-abc\"";
    CHECK(inm("\"1f-abc\"", e));
    CHECK(inm("W/\"1f-abc\"", e));
    CHECK(inm("\"x\", \"1f-abc\"", e));
    CHECK(inm("\"x\" ,\t W/\"1f-abc\"  ", e));
    CHECK(inm("\"1f-abc\", \"x\"", e));
    CHECK(inm(",, \"1f-abc\" ,", e));            /* empty list elements are allowed */
    CHECK(inm("*", e));
    CHECK(inm("  *\t", e));
    CHECK(inm("\"1f-abc\"", "W/\"1f-abc\""));
    CHECK(inm("\"\x80\"", "\"\x80\""));          /* obs-text */
    CHECK(inm("\"\"", "\"\""));
}

TEST(etag_does_not_match)
{
    const char *e = "\"1f-abc\"";
    CHECK(!inm("", e));
    CHECK(!inm("   ", e));
    CHECK(!inm(",", e));
    CHECK(!inm("\"x\"", e));
    CHECK(!inm("\"1f-ab\"", e));
    CHECK(!inm("\"1f-abcd\"", e));
    CHECK(!inm("\"1F-ABC\"", e));                /* opaque tags are case-sensitive */
    CHECK(!inm("\"x\", \"y\"", e));
}

TEST(etag_malformed_never_matches)
{
    const char *e = "\"1f-abc\"";
    CHECK(!inm("1f-abc", e));                    /* unquoted */
    CHECK(!inm("\"1f-abc", e));                  /* unterminated */
    CHECK(!inm("1f-abc\"", e));
    CHECK(!inm("w/\"1f-abc\"", e));              /* W/ is case-sensitive */
    CHECK(!inm("W /\"1f-abc\"", e));
    CHECK(!inm("W/ \"1f-abc\"", e));
    CHECK(!inm("W/", e));
    CHECK(!inm("W", e));
    CHECK(!inm("\"", e));
    CHECK(!inm("\"1f-abc\"x", e));               /* junk after the tag */
    CHECK(!inm("\"1f-abc\" \"x\"", e));          /* a missing comma */
    CHECK(!inm("\"1f-abc\", junk", e));          /* the whole list must parse */
    CHECK(!inm("junk, \"1f-abc\"", e));
    CHECK(!inm("*, \"1f-abc\"", e));             /* "*" stands alone */
    CHECK(!inm("\"1f-abc\", *", e));
    CHECK(!inm("**", e));
    CHECK(!inm("\"1f abc\"", "\"1f abc\""));     /* a space is not etagc */
    CHECK(!inm("\"1f-\"abc\"", e));
    CHECK(!inm("\"a\x7f\"", "\"a\x7f\""));       /* nor is DEL */
    /* A header cut short by len is not read beyond it. */
    CHECK(!bo_static_etag_matches("\"1f-abc\"", 7, e));
    CHECK(!bo_static_etag_matches("W/\"1f-abc\"", 1, e));
    CHECK(!bo_static_etag_matches("\"1f-abc\"\0, \"x\"", 14, e));
    CHECK(!bo_static_etag_matches(NULL, 0, e));
}

static const unit_case cases[] = {
    UNIT_CASE(refuses_dot_dot)
    UNIT_CASE(refuses_encoded_dot_dot)
    UNIT_CASE(refuses_dot_segments)
    UNIT_CASE(refuses_encoded_slash_and_backslash)
    UNIT_CASE(refuses_nul)
    UNIT_CASE(refuses_empty_segments)
    UNIT_CASE(refuses_trailing_slash)
    UNIT_CASE(refuses_dot_files)
    UNIT_CASE(refuses_bad_escapes)
    UNIT_CASE(refuses_long_paths)
    UNIT_CASE(refuses_symlinks_out)
    UNIT_CASE(reports_missing_and_non_regular)
    UNIT_CASE(opens_a_file)
    UNIT_CASE(opens_within_len)
    UNIT_CASE(opens_decoded_names)
    UNIT_CASE(opens_symlinks_inside)
    UNIT_CASE(etag_edges)
    UNIT_CASE(root_forms)
    UNIT_CASE(content_types)
    UNIT_CASE(etag_matches)
    UNIT_CASE(etag_does_not_match)
    UNIT_CASE(etag_malformed_never_matches)
};

int main(void)
{
    alarm(30);      /* an open that blocks (the FIFO) fails the suite */
    make_tree();
    int rc = UNIT_RUN("static", cases);
    remove_tree();
    return rc;
}
