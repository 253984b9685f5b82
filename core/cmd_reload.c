/*
 * cmd_reload.c - `borough reload [APP] [--data DIR] [--rollback]`: asks the
 * server running with that data folder to reload (or roll back) over its
 * control socket (control.h), relays its answer lines to stdout and stderr
 * and exits with the status it gives. The server answers once every worker
 * serves the outcome, so when this returns every new request sees it.
 */
#include "cli.h"
#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* A reload judges the new version of every changed app on the server's main
   thread; this only guards against a server that stopped answering. */
#define ANSWER_TIMEOUT_S 300

static int connect_to(const bo_cli *cli, const char *data, int *out)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    int n = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/%s", data, BO_CONTROL_NAME);
    if (n < 0 || (size_t)n >= sizeof addr.sun_path)
        return bo_cli_fail(cli, "the data folder path %s is too long for its control socket", data);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return bo_cli_fail(cli, "cannot make a socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int e = errno;
        close(fd);
        if (e == ENOENT || e == ECONNREFUSED)
            return bo_cli_fail(cli, "no server is running with the data folder %s (%s: %s)", data,
                               addr.sun_path, strerror(e));
        return bo_cli_fail(cli, "cannot reach the server at %s: %s", addr.sun_path, strerror(e));
    }
    struct timeval tv = { ANSWER_TIMEOUT_S, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    *out = fd;
    return 0;
}

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

    int fd = -1;
    int rc = connect_to(cli, data, &fd);
    if (rc != 0)
        return rc;
    char line[BO_CONTROL_LINE_MAX];
    int n = app ? snprintf(line, sizeof line, "%s %s\n", rollback ? "rollback" : "reload", app)
                : snprintf(line, sizeof line, "reload\n");
    if (n < 0 || (size_t)n >= sizeof line) {
        close(fd);
        return bo_cli_usage(cli, "the app name is too long");
    }
    if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
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
    char *text = NULL;
    size_t cap = 0;
    ssize_t len;
    errno = 0;
    while ((len = getline(&text, &cap, in)) > 0) {
        if (text[len - 1] == '\n')
            text[--len] = '\0';
        if (strncmp(text, "out ", 4) == 0) {
            printf("%s\n", text + 4);
        } else if (strncmp(text, "err ", 4) == 0) {
            fflush(stdout);
            fprintf(stderr, "%s\n", text + 4);
        } else if (strncmp(text, "exit ", 5) == 0) {
            status = atoi(text + 5);
            break;
        }
    }
    int e = errno;
    free(text);
    fclose(in);
    fflush(stdout);
    if (status < 0) {
        if (e == EAGAIN || e == EWOULDBLOCK)
            return bo_cli_fail(cli, "the server did not answer within %d s", ANSWER_TIMEOUT_S);
        return bo_cli_fail(cli, "the server closed the connection without an answer");
    }
    return status;
}
