/*
 * control.h - the control socket: how `borough reload` talks to the running
 * server.
 *
 * A Unix stream socket in the data folder (BO_CONTROL_NAME), created when
 * the server starts (mode 0600, and a peer must run as the server's user or
 * as root), removed when it stops. It runs on the main thread's loop.
 *
 * The protocol is lines of text. The client sends one request line:
 *
 *     reload            every app: changed ones reload, new ones mount,
 *                       removed ones unmount
 *     reload APP        that app only, even if unchanged
 *     rollback APP      back to the version that served before this one
 *     status            what /healthz and /metrics say, in words (status.h)
 *
 * and the server answers with lines "out TEXT" (for the client's standard
 * output) and "err TEXT" (for its standard error), then "exit N" (the
 * client's exit status), and closes. A request that does not parse gets an
 * "err" line and "exit 2". A client that sends nothing for
 * BO_CONTROL_TIMEOUT_MS is closed.
 */
#ifndef BO_CONTROL_H
#define BO_CONTROL_H

#include "buf.h"

#include <stdarg.h>
#include <uv.h>

#define BO_CONTROL_NAME "control.sock"
#define BO_CONTROL_LINE_MAX 1024
#define BO_CONTROL_TIMEOUT_MS 5000
#define BO_CONTROL_CLIENTS_MAX 64

typedef struct bo_control bo_control;
typedef struct bo_control_client bo_control_client;

/* Called with each request line (without its newline). The handler answers
   with bo_control_reply() and ends with bo_control_end(), now or later
   (the client stays until then). */
typedef void (*bo_control_handler)(void *ud, bo_control_client *cl, const char *line);

struct bo_control {
    uv_pipe_t pipe;
    uv_loop_t *loop;
    char *path;
    bo_control_handler handler;
    void *ud;
    bo_control_client *clients;
    unsigned nclients;
    bool open;
};

/* Creates the socket at path and listens on loop. A socket left there by a
   server that died is replaced; one a live server answers on is not.
   Returns 0, or BO_EEXIST / BO_EIO / BO_EINVAL with a one-line reason in
   err (and nothing to close). */
int bo_control_open(bo_control *c, uv_loop_t *loop, const char *path, bo_control_handler handler,
                    void *ud, char *err, size_t errlen);
/* Stops listening, removes the socket file and closes every client that has
   not been ended (the handler must have ended those it holds). */
void bo_control_close(bo_control *c);

/* The client's side: connects to the control socket of the server using
   data_dir (blocking; a Unix socket answers at once). Returns 0 and the
   connected socket in *fd (close-on-exec), or BO_ENOENT (no server runs
   with that data folder) / BO_EIO / BO_EINVAL (the path is too long for a
   socket) with one line in err. `borough reload` and `borough status`
   wait for the answer on it; the admin console reads it on its loop. */
int bo_control_connect(const char *data_dir, int *fd, char *err, size_t errlen);

/* Reads one answer line (without its newline): sets *kind to "out",
   "err" or "exit" and returns its text (inside line), or NULL for a line
   of no kind. */
const char *bo_control_parse(char *line, const char **kind);

/* Queues one answer line; kind is "out" or "err". */
void bo_control_reply(bo_control_client *cl, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Queues "exit status", sends everything and closes the client; the client
   must not be used afterwards. */
void bo_control_end(bo_control_client *cl, int status);

#endif
