/*
 * cli.c - helpers shared by the commands (see cli.h).
 */
#include "cli.h"
#include "control.h"
#include "platformdb.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

int bo_cli_usage(const bo_cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "borough %s: ", cli->name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", cli->usage);
    return 2;
}

int bo_cli_fail(const bo_cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "borough %s: ", cli->name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

bool bo_cli_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *bo_cli_who(char *buf, size_t cap)
{
    struct passwd *pw = getpwuid(getuid());
    snprintf(buf, cap, "cli:%s", pw ? pw->pw_name : "unknown");
    return buf;
}

int bo_cli_audit(const bo_cli *cli, bo_db *db, const char *action, const char *app, const char *detail)
{
    char who[80], err[512];
    if (bo_platformdb_audit(db, bo_cli_who(who, sizeof who), action, app, detail, err, sizeof err) < 0)
        return bo_cli_fail(cli, "the platform audit log: %s", err);
    return 0;
}

/* A reload judges the new version of every changed app on the server's main
   thread; this only guards against a server that stopped answering. */
#define ANSWER_TIMEOUT_S 300

int bo_cli_ask_server(const bo_cli *cli, const char *data, const char *request, bo_buf *said)
{
    int fd = -1;
    char err[512];
    if (bo_control_connect(data, &fd, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    struct timeval tv = { ANSWER_TIMEOUT_S, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    size_t n = strlen(request);
    if (send(fd, request, n, MSG_NOSIGNAL) != (ssize_t)n || send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
        int e = errno;
        close(fd);
        return bo_cli_fail(cli, "cannot talk to the server: %s", strerror(e));
    }
    FILE *in = fdopen(fd, "r");
    if (!in) {
        close(fd);
        return bo_cli_fail(cli, "cannot read the server's answer: %s", strerror(errno));
    }
    int status = -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    errno = 0;
    while ((len = getline(&line, &cap, in)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        const char *kind;
        const char *text = bo_control_parse(line, &kind);
        if (!text)
            continue;
        if (strcmp(kind, "exit") == 0) {
            status = atoi(text);
            break;
        }
        if (kind[0] == 'o') {
            printf("%s\n", text);
        } else {
            fflush(stdout);
            fprintf(stderr, "%s\n", text);
        }
        if (said) {
            bo_buf_puts(said, text);
            bo_buf_putc(said, '\n');
        }
    }
    int e = errno;
    free(line);
    fclose(in);
    fflush(stdout);
    if (status < 0) {
        if (e == EAGAIN || e == EWOULDBLOCK)
            return bo_cli_fail(cli, "the server did not answer within %d s", ANSWER_TIMEOUT_S);
        return bo_cli_fail(cli, "the server closed the connection without an answer");
    }
    return status;
}

static char *find_lib(const char *given)
{
    if (given)
        return realpath(given, NULL);
    const char *env = getenv("BOROUGH_LIB");
    if (env && *env)
        return realpath(env, NULL);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            static const char *const tries[] = { "%s/lua", "%s/../lua", "%s/../share/borough/lua" };
            for (size_t i = 0; i < BO_COUNT(tries); i++) {
                char *p = bo_sprintf(tries[i], exe);
                char *real = bo_cli_is_dir(p) ? realpath(p, NULL) : NULL;
                free(p);
                if (real)
                    return real;
            }
        }
    }
    return NULL;
}


char *bo_cli_lib(const bo_cli *cli)
{
    char *lib = find_lib(cli->lib_arg);
    if (!lib)
        bo_cli_fail(cli, "cannot find the platform library (lua/); give it with --lib DIR");
    return lib;
}

int bo_cli_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

int bo_cli_parse_seconds(const char *s, uint64_t *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < 0 || v > 86400)
        return -1;
    *ms = (uint64_t)(v * 1000 + 0.5);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    BO_UNUSED(st);
    BO_UNUSED(flag);
    BO_UNUSED(ftw);
    return remove(path);
}

int bo_cli_remove_tree(const char *path)
{
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
