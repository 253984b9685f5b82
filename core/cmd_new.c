/*
 * cmd_new.c - `borough new NAME [--apps DIR]`: makes apps/NAME from the
 * scaffold in the platform library (lua/borough/scaffold/): an app.lua with
 * one route and its view, and a test, so that `borough check` and `borough
 * test` pass at once. In every file __NAME__ becomes the name and __TITLE__
 * a title made from it ("case-notes" gives "Case notes").
 */
#include "buf.h"
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_MAX_LEN 64
#define FILE_MAX (1024 * 1024)

/* A name is a URL path segment: a-z first, then a-z, 0-9, - and _. */
static bool valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_LEN || name[0] < 'a' || name[0] > 'z')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

static char *title_of(const char *name)
{
    char *t = bo_strdup(name);
    for (char *p = t; *p; p++)
        if (*p == '-' || *p == '_')
            *p = ' ';
    t[0] = (char)(t[0] - 'a' + 'A');
    return t;
}

/* Appends text with __NAME__ and __TITLE__ replaced. */
static void substitute(bo_buf *out, const char *text, size_t n, const char *name, const char *title)
{
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8 && memcmp(text + i, "__NAME__", 8) == 0) {
            bo_buf_puts(out, name);
            i += 8;
        } else if (n - i >= 9 && memcmp(text + i, "__TITLE__", 9) == 0) {
            bo_buf_puts(out, title);
            i += 9;
        } else {
            bo_buf_putc(out, text[i++]);
        }
    }
}

static int read_all(const char *path, bo_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    for (;;) {
        char *dst = bo_buf_reserve(out, 8192);
        ssize_t n = read(fd, dst, 8192);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || out->len + (size_t)n > FILE_MAX) {
            int e = n < 0 ? errno : EFBIG;
            close(fd);
            if (n == 0)
                return 0;
            errno = e;
            return -1;
        }
        out->len += (size_t)n;
    }
}

static int write_all(const char *path, const bo_buf *b)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < b->len) {
        ssize_t n = write(fd, b->data + done, b->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        done += (size_t)n;
    }
    return close(fd);
}

/* Copies the folder from into to (which must not exist), substituting.
   Returns 0, or -1 with *failed naming the path (new string) and errno. */
static int copy_tree(const char *from, const char *to, const char *name, const char *title, char **failed)
{
    if (mkdir(to, 0755) < 0) {
        *failed = bo_strdup(to);
        return -1;
    }
    DIR *d = opendir(from);
    if (!d) {
        *failed = bo_strdup(from);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *src = bo_sprintf("%s/%s", from, e->d_name);
        char *dst = bo_sprintf("%s/%s", to, e->d_name);
        struct stat st;
        if (stat(src, &st) < 0) {
            *failed = bo_strdup(src);
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            rc = copy_tree(src, dst, name, title, failed);
        } else if (S_ISREG(st.st_mode)) {
            bo_buf text, out;
            bo_buf_init(&text);
            bo_buf_init(&out);
            if (read_all(src, &text) < 0) {
                *failed = bo_strdup(src);
                rc = -1;
            } else {
                substitute(&out, text.data, text.len, name, title);
                if (write_all(dst, &out) < 0) {
                    *failed = bo_strdup(dst);
                    rc = -1;
                }
            }
            bo_buf_free(&text);
            bo_buf_free(&out);
        }
        free(src);
        free(dst);
    }
    int saved = errno;
    closedir(d);
    errno = saved;
    return rc;
}

int bo_cmd_new(int argc, char **argv, const bo_cli *cli)
{
    const char *name = NULL, *apps = "apps";
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--apps") == 0) {
            if (i + 1 >= argc)
                return bo_cli_usage(cli, "--apps needs a value");
            apps = argv[++i];
        } else if (argv[i][0] == '-') {
            return bo_cli_usage(cli, "unknown option %s", argv[i]);
        } else if (name) {
            return bo_cli_usage(cli, "takes one NAME, not %s", argv[i]);
        } else {
            name = argv[i];
        }
    }
    if (!name)
        return bo_cli_usage(cli, "needs the NAME of the new app");
    if (!valid_name(name))
        return bo_cli_usage(cli, "%s is not a good app name: use a-z first, then a-z, 0-9, - or _ "
                                 "(at most %d characters), as it becomes the app's web address",
                            name, NAME_MAX_LEN);
    if (!bo_cli_is_dir(apps))
        return bo_cli_fail(cli, "the apps folder %s does not exist", apps);
    char *dir = bo_sprintf("%s/%s", apps, name);
    struct stat st;
    if (lstat(dir, &st) == 0) {
        int rc = bo_cli_fail(cli, "%s already exists", dir);
        free(dir);
        return rc;
    }
    char *lib = bo_cli_lib(cli);
    if (!lib) {
        free(dir);
        return 1;
    }
    char *scaffold = bo_sprintf("%s/borough/scaffold", lib);
    char *title = title_of(name);
    char *failed = NULL;
    int status = 0;
    if (copy_tree(scaffold, dir, name, title, &failed) < 0) {
        status = bo_cli_fail(cli, "%s: %s", failed ? failed : dir, strerror(errno));
        if (bo_cli_is_dir(dir))
            bo_cli_remove_tree(dir);       /* nothing half made stays */
    } else {
        printf("made %s: app.lua, views/index.html, tests/app_test.lua\n", dir);
        printf("next: borough check %s && borough test %s, then open /%s/ on the running server\n", dir, dir,
               name);
    }
    free(failed);
    free(title);
    free(scaffold);
    free(lib);
    free(dir);
    return status;
}
