/*
 * cmd_reload.c - `borough reload [APP] [--data DIR] [--rollback]`: asks the
 * server running with that data folder to reload (or roll back) over its
 * control socket (control.h), relays its answer lines to stdout and stderr
 * and exits with the status it gives. The server answers once every worker
 * serves the outcome, so when this returns every new request sees it. The
 * platform audit log records the request and its outcome, as it does for
 * the admin console's Reload and Roll back buttons.
 */
#include "cli.h"
#include "control.h"
#include "platformdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bo_cmd_reload(int argc, char **argv, const bo_cli *cli)
{
    const char *data = "data", *app = NULL;
    bool rollback = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--rollback") == 0) {
            rollback = true;
        } else if (strcmp(argv[i], "--data") == 0) {
            if (i + 1 >= argc)
                return bo_cli_usage(cli, "--data needs a value");
            data = argv[++i];
        } else if (argv[i][0] == '-') {
            return bo_cli_usage(cli, "unknown option %s", argv[i]);
        } else if (app) {
            return bo_cli_usage(cli, "takes one APP, not %s", argv[i]);
        } else {
            app = argv[i];
        }
    }
    if (rollback && !app)
        return bo_cli_usage(cli, "--rollback needs the APP to roll back");
    if (app && (!app[0] || strpbrk(app, "/ \t\r\n") || app[0] == '.'))
        return bo_cli_usage(cli, "%s is not an app name (the name of a folder in the apps folder)", app);
    char line[BO_CONTROL_LINE_MAX];
    int n = app ? snprintf(line, sizeof line, "%s %s", rollback ? "rollback" : "reload", app)
                : snprintf(line, sizeof line, "reload");
    if (n < 0 || (size_t)n >= sizeof line)
        return bo_cli_usage(cli, "the app name is too long");
    bo_buf said;
    bo_buf_init(&said);
    int status = bo_cli_ask_server(cli, data, line, &said);
    if (said.len) {
        /* A server answered: the audit log keeps what it said, on one line. */
        bo_buf detail;
        bo_buf_init(&detail);
        for (size_t i = 0; i < said.len; i++) {
            if (said.data[i] != '\n')
                bo_buf_putc(&detail, said.data[i]);
            else if (i + 1 < said.len)
                bo_buf_puts(&detail, "; ");
        }
        bo_buf_putc(&detail, '\0');
        bo_db *db;
        char err[512];
        if (bo_platformdb_open(&db, data, err, sizeof err) < 0) {
            status = bo_cli_fail(cli, "%s", err);
        } else {
            if (bo_cli_audit(cli, db, rollback ? "app-rollback" : "app-reload", app, detail.data))
                status = 1;
            bo_db_close(db);
        }
        bo_buf_free(&detail);
    }
    bo_buf_free(&said);
    return status;
}
