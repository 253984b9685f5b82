/*
 * cmd_status.c - `borough status [--data DIR]`: what the server running
 * with that data folder says of itself (the control socket's "status",
 * status.h): requests, errors and latency, outbox and jobs, database
 * sizes, the TLS certificate's expiry, each app's version, in plain
 * English. The admin console's Health page shows the same figures.
 */
#include "cli.h"

#include <string.h>

int bo_cmd_status(int argc, char **argv, const bo_cli *cli)
{
    const char *data = "data";
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else
            return bo_cli_usage(cli, "unexpected %s", argv[i]);
    }
    return bo_cli_ask_server(cli, data, "status", NULL);
}
