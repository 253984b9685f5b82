/*
 * cmd_check.c - `borough check [PATH]`: loads every app of an apps folder
 * (or one app folder) as the server would and reports each failure as one
 * "file:line: message" line; exit 1 if any app is broken.
 */
#include "cli.h"
#include "linit.h"
#include "log.h"
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bo_cmd_check(int argc, char **argv, const bo_cli *cli)
{
    if (argc > 1)
        return bo_cli_usage(cli, "takes one PATH, not %s", argv[1]);
    const char *path = argc ? argv[0] : "apps";
    char *lib = bo_cli_lib(cli);
    if (!lib)
        return 1;
    /* Loading must not touch real data: check uses a throwaway data folder. */
    char tmp[] = "/tmp/borough-check-XXXXXX";
    if (!mkdtemp(tmp)) {
        free(lib);
        return bo_cli_fail(cli, "cannot make a temporary folder: %s", strerror(errno));
    }
    bo_paths paths = { tmp, lib, NULL, bo_platform_libs, NULL };
    bo_log_set_level(BO_LOG_ERROR);
    int broken = bo_server_check(path, &paths);
    if (bo_cli_remove_tree(tmp) != 0)
        fprintf(stderr, "borough check: could not remove %s\n", tmp);
    free(lib);
    return broken == 0 ? 0 : 1;
}
