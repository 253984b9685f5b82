/*
 * cli.c - helpers shared by the commands (see cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

bool bo_cli_role_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return false;
    return true;
}

bool bo_cli_app_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255 || s[0] == '.')
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '-' || *p == '.'))
            return false;
    return true;
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
