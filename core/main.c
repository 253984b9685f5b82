/*
 * main.c - the borough command line (see DESIGN.md, "Command line"):
 * parses the command and its options and hands over to the server. Exit
 * status: 0 success, 1 a user error (one line saying what and where), 2 bad
 * usage.
 */
#include "bo.h"
#include "db.h"
#include "log.h"
#include "server.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: borough serve [APPS_DIR] [--listen HOST:PORT] [--data DIR] [--workers N]\n"
    "                     [--log-format text|json] [--no-access-log] [--max-conns N]\n"
    "                     [--header-timeout S] [--body-timeout S] [--idle-timeout S] [--drain S]\n"
    "       borough check [PATH]\n"
    "       borough version\n"
    "Options for every command: --lib DIR (the platform's lua/ folder).\n";

static int bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "borough: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return 2;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The platform library: --lib, $BOROUGH_LIB, beside the binary, or installed. */
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
                char *real = is_dir(p) ? realpath(p, NULL) : NULL;
                free(p);
                if (real)
                    return real;
            }
        }
    }
    return NULL;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int parse_seconds(const char *s, uint64_t *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < 0 || v > 86400)
        return -1;
    *ms = (uint64_t)(v * 1000 + 0.5);
    return 0;
}

/* HOST:PORT or [IPV6]:PORT; the host is copied into host (hostlen bytes). */
static int parse_listen(const char *s, bo_config *cfg, char *host, size_t hostlen)
{
    const char *colon = strrchr(s, ':');
    unsigned long port;
    if (!colon || parse_uint(colon + 1, 65535, &port) < 0)
        return -1;
    size_t n = (size_t)(colon - s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
        s++, n -= 2;
    if (n == 0 || n >= hostlen)
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    cfg->host = host;
    cfg->port = (int)port;
    return 0;
}

static int cmd_serve(int argc, char **argv, const char *lib_arg)
{
    bo_config cfg;
    char host[256];
    bo_config_defaults(&cfg);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long n;
        if (a[0] != '-') {
            cfg.apps_dir = a;
            continue;
        }
        if (strcmp(a, "--no-access-log") == 0) {
            cfg.access_log = false;
            continue;
        }
        if (!v)
            return bad_usage("%s needs a value", a);
        i++;
        if (strcmp(a, "--listen") == 0) {
            if (parse_listen(v, &cfg, host, sizeof host) < 0)
                return bad_usage("--listen wants HOST:PORT, not %s", v);
        } else if (strcmp(a, "--data") == 0) {
            cfg.data_dir = v;
        } else if (strcmp(a, "--workers") == 0) {
            if (parse_uint(v, 256, &n) < 0 || n == 0)
                return bad_usage("--workers wants a number from 1 to 256, not %s", v);
            cfg.workers = (int)n;
        } else if (strcmp(a, "--max-conns") == 0) {
            if (parse_uint(v, 1000000, &n) < 0 || n == 0)
                return bad_usage("--max-conns wants a positive number, not %s", v);
            cfg.max_conns = (unsigned)n;
        } else if (strcmp(a, "--log-format") == 0) {
            if (strcmp(v, "json") != 0 && strcmp(v, "text") != 0)
                return bad_usage("--log-format is text or json, not %s", v);
            bo_log_set_json(strcmp(v, "json") == 0);
        } else if (strcmp(a, "--header-timeout") == 0) {
            if (parse_seconds(v, &cfg.header_timeout_ms) < 0)
                return bad_usage("--header-timeout wants seconds, not %s", v);
        } else if (strcmp(a, "--body-timeout") == 0) {
            if (parse_seconds(v, &cfg.body_timeout_ms) < 0)
                return bad_usage("--body-timeout wants seconds, not %s", v);
        } else if (strcmp(a, "--idle-timeout") == 0) {
            if (parse_seconds(v, &cfg.idle_timeout_ms) < 0)
                return bad_usage("--idle-timeout wants seconds, not %s", v);
        } else if (strcmp(a, "--drain") == 0) {
            if (parse_seconds(v, &cfg.drain_ms) < 0)
                return bad_usage("--drain wants seconds, not %s", v);
        } else {
            return bad_usage("unknown option %s", a);
        }
    }
    if (!is_dir(cfg.apps_dir)) {
        fprintf(stderr, "borough: the apps folder %s does not exist\n", cfg.apps_dir);
        return 1;
    }
    char *lib = find_lib(lib_arg);
    if (!lib) {
        fprintf(stderr, "borough: cannot find the platform library (lua/); give it with --lib DIR\n");
        return 1;
    }
    cfg.lib_dir = lib;
    int status = bo_server_run(&cfg);
    free(lib);
    return status;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    BO_UNUSED(st);
    BO_UNUSED(flag);
    BO_UNUSED(ftw);
    return remove(path);
}

static int cmd_check(int argc, char **argv, const char *lib_arg)
{
    if (argc > 1)
        return bad_usage("check takes one PATH, not %s", argv[1]);
    const char *path = argc ? argv[0] : "apps";
    char *lib = find_lib(lib_arg);
    if (!lib) {
        fprintf(stderr, "borough: cannot find the platform library (lua/); give it with --lib DIR\n");
        return 1;
    }
    /* Loading must not touch real data: check uses a throwaway data folder. */
    char tmp[] = "/tmp/borough-check-XXXXXX";
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "borough check: cannot make a temporary folder: %s\n", strerror(errno));
        free(lib);
        return 1;
    }
    bo_paths paths = { tmp, lib };
    bo_log_set_level(BO_LOG_ERROR);
    int broken = bo_server_check(path, &paths);
    if (nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "borough check: could not remove %s\n", tmp);
    free(lib);
    return broken == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    /* --lib DIR may come anywhere after the command. */
    const char *lib = NULL;
    char **rest = bo_calloc((size_t)argc, sizeof *rest);
    int nrest = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--lib") == 0) {
            if (i + 1 >= argc) {
                free(rest);
                return bad_usage("%s needs a value", "--lib");
            }
            lib = argv[++i];
        } else {
            rest[nrest++] = argv[i];
        }
    }
    const char *cmd = argv[1];
    int status;
    bo_db_global_init();
    if (strcmp(cmd, "serve") == 0)
        status = cmd_serve(nrest, rest, lib);
    else if (strcmp(cmd, "check") == 0)
        status = cmd_check(nrest, rest, lib);
    else if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        status = (printf("borough %s (Lua %s.%s, SQLite %s, libuv %s)\n", BO_VERSION, LUA_VERSION_MAJOR,
                         LUA_VERSION_MINOR, sqlite3_libversion(), uv_version_string()), 0);
    else if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        status = (fputs(usage, stdout), 0);
    else
        status = bad_usage("unknown command %s", cmd);
    free(rest);
    return status;
}
