/*
 * control.c - the control socket (see control.h). The socket is made with
 * socket(2) and bind(2) here rather than uv_pipe_bind(), which in libuv
 * 1.44 cuts a long path short without saying so, and cannot set the mode
 * before the file appears.
 */
#include "control.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum { CL_READING, CL_HANDLED, CL_ENDING };

struct bo_control_client {
    uv_pipe_t pipe;                 /* first: the handle is the client */
    uv_timer_t timer;
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    bo_control *ctl;
    bo_control_client *prev, *next;
    int state;
    int open_handles;               /* freed when both have closed */
    bool closing;
    size_t len;
    char line[BO_CONTROL_LINE_MAX + 1];
    bo_buf out;
};

/* ---- clients ---- */

static void on_client_handle_closed(uv_handle_t *h)
{
    bo_control_client *cl = h->data;
    if (--cl->open_handles > 0)
        return;
    bo_buf_free(&cl->out);
    free(cl);
}

static void close_client(bo_control_client *cl)
{
    if (cl->closing)
        return;
    cl->closing = true;
    bo_control *c = cl->ctl;
    if (cl->prev)
        cl->prev->next = cl->next;
    else
        c->clients = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    c->nclients--;
    uv_close((uv_handle_t *)&cl->timer, on_client_handle_closed);
    uv_close((uv_handle_t *)&cl->pipe, on_client_handle_closed);
}

static void put_line(bo_control_client *cl, const char *kind, const char *text, size_t n)
{
    bo_buf_puts(&cl->out, kind);
    bo_buf_putc(&cl->out, ' ');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        bo_buf_putc(&cl->out, (ch < 0x20 && ch != '\t') || ch == 0x7f ? '?' : (char)ch);
    }
    bo_buf_putc(&cl->out, '\n');
}

void bo_control_reply(bo_control_client *cl, const char *kind, const char *fmt, ...)
{
    bo_buf text;
    bo_buf_init(&text);
    va_list ap;
    va_start(ap, fmt);
    bo_buf_vprintf(&text, fmt, ap);
    va_end(ap);
    /* One answer line per line of text. */
    const char *p = text.data, *end = text.data + text.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        put_line(cl, kind, p, n);
        p += n + (nl != NULL);
    }
    if (text.len == 0)
        put_line(cl, kind, "", 0);
    bo_buf_free(&text);
}

static void on_client_timeout(uv_timer_t *t);

/* After the answer: reads and drops whatever the client still sends until
   it closes (closing with unread bytes would reset the connection before
   the client has read the answer), for at most BO_CONTROL_TIMEOUT_MS. */
static void on_drop_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    BO_UNUSED(suggested);
    bo_control_client *cl = h->data;
    *buf = uv_buf_init(cl->line, BO_CONTROL_LINE_MAX);
}

static void on_drop_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    BO_UNUSED(buf);
    if (n < 0)
        close_client(s->data);
}

static void on_shut(uv_shutdown_t *req, int status)
{
    bo_control_client *cl = req->data;
    if (cl->closing)
        return;
    if (status < 0 || uv_read_start((uv_stream_t *)&cl->pipe, on_drop_alloc, on_drop_read) < 0) {
        close_client(cl);
        return;
    }
    uv_timer_start(&cl->timer, on_client_timeout, BO_CONTROL_TIMEOUT_MS, 0);
}

static void on_written(uv_write_t *req, int status)
{
    bo_control_client *cl = req->data;
    if (cl->closing)
        return;
    cl->shutdown_req.data = cl;
    if (status < 0 || uv_shutdown(&cl->shutdown_req, (uv_stream_t *)&cl->pipe, on_shut) < 0)
        close_client(cl);
}

void bo_control_end(bo_control_client *cl, int status)
{
    bo_buf_printf(&cl->out, "exit %d\n", status);
    cl->state = CL_ENDING;
    uv_timer_stop(&cl->timer);
    if (cl->closing)
        return;
    uv_buf_t b = uv_buf_init(cl->out.data, (unsigned)cl->out.len);
    cl->write_req.data = cl;
    if (uv_write(&cl->write_req, (uv_stream_t *)&cl->pipe, &b, 1, on_written) < 0)
        close_client(cl);
}

static void on_client_timeout(uv_timer_t *t)
{
    bo_control_client *cl = t->data;
    if (cl->state != CL_HANDLED)       /* the handler holds a client it has not ended */
        close_client(cl);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    BO_UNUSED(suggested);
    bo_control_client *cl = h->data;
    *buf = uv_buf_init(cl->line + cl->len, (unsigned)(BO_CONTROL_LINE_MAX - cl->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    BO_UNUSED(buf);
    bo_control_client *cl = s->data;
    if (cl->state != CL_READING)
        return;
    if (n < 0) {
        close_client(cl);
        return;
    }
    size_t start = cl->len;
    cl->len += (size_t)n;
    char *nl = memchr(cl->line + start, '\n', cl->len - start);
    if (!nl && cl->len < BO_CONTROL_LINE_MAX)
        return;
    uv_read_stop(s);
    cl->state = CL_HANDLED;
    if (!nl) {
        bo_control_reply(cl, "err", "borough: the request line is longer than %d bytes",
                         BO_CONTROL_LINE_MAX);
        bo_control_end(cl, 2);
        return;
    }
    if (memchr(cl->line, '\0', (size_t)(nl - cl->line))) {
        bo_control_reply(cl, "err", "borough: the request line holds a NUL byte");
        bo_control_end(cl, 2);
        return;
    }
    *nl = '\0';
    if (nl > cl->line && nl[-1] == '\r')
        nl[-1] = '\0';
    bo_control *c = cl->ctl;
    c->handler(c->ud, cl, cl->line);
}

/* Only the server's own user (or root) may give it orders. */
static bool peer_allowed(uv_pipe_t *p)
{
    uv_os_fd_t fd;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (uv_fileno((uv_handle_t *)p, &fd) < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return false;
    return cred.uid == geteuid() || cred.uid == 0;
}

static void on_connection(uv_stream_t *server, int status)
{
    bo_control *c = server->data;
    if (status < 0)
        return;
    bo_control_client *cl = bo_calloc(1, sizeof *cl);
    cl->ctl = c;
    bo_buf_init(&cl->out);
    uv_pipe_init(c->loop, &cl->pipe, 0);
    cl->pipe.data = cl;
    uv_timer_init(c->loop, &cl->timer);
    cl->timer.data = cl;
    cl->open_handles = 2;
    cl->next = c->clients;
    if (c->clients)
        c->clients->prev = cl;
    c->clients = cl;
    c->nclients++;
    if (uv_accept(server, (uv_stream_t *)&cl->pipe) < 0) {
        close_client(cl);
        return;
    }
    if (c->nclients > BO_CONTROL_CLIENTS_MAX) {
        close_client(cl);
        return;
    }
    if (!peer_allowed(&cl->pipe)) {
        cl->state = CL_HANDLED;
        bo_log(BO_LOG_WARN, NULL, "control socket: refused a client running as another user");
        bo_control_reply(cl, "err", "borough: permission denied (run as the server's user)");
        bo_control_end(cl, 1);
        return;
    }
    uv_timer_start(&cl->timer, on_client_timeout, BO_CONTROL_TIMEOUT_MS, 0);
    if (uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read) < 0)
        close_client(cl);
}

/* ---- the listening socket ---- */

/* Is a server listening at path? (A refused connection means a socket file
   left behind by one that died.) */
static bool someone_listens(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool live = connect(fd, (const struct sockaddr *)addr, sizeof *addr) == 0;
    close(fd);
    return live;
}

int bo_control_open(bo_control *c, uv_loop_t *loop, const char *path, bo_control_handler handler,
                    void *ud, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr.sun_path) {
        snprintf(err, errlen, "the control socket path %s is too long (at most %zu bytes): use a shorter --data",
                 path, sizeof addr.sun_path - 1);
        return BO_EINVAL;
    }
    strcpy(addr.sun_path, path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket", path);
            return BO_EEXIST;
        }
        if (someone_listens(&addr)) {
            snprintf(err, errlen, "another borough is running with this data folder (%s answers)", path);
            return BO_EEXIST;
        }
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot make the control socket: %s", strerror(errno));
        return BO_EIO;
    }
    /* Owner-only from the moment it exists (only the main thread runs yet). */
    mode_t old = umask(0177);
    int rc = bind(fd, (const struct sockaddr *)&addr, sizeof addr);
    umask(old);
    if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        if (rc == 0)
            unlink(path);
        return BO_EIO;
    }
    c->loop = loop;
    c->handler = handler;
    c->ud = ud;
    c->path = bo_strdup(path);
    uv_pipe_init(loop, &c->pipe, 0);
    c->pipe.data = c;
    /* A Unix socket whose backlog is full refuses a connect at once
       (EAGAIN) rather than queueing it: room for a burst of clients (a
       deploy script reloading every app, idle ones) while the loop is
       busy, so that `borough reload` is not refused. */
    if (uv_pipe_open(&c->pipe, fd) < 0 || uv_listen((uv_stream_t *)&c->pipe, SOMAXCONN, on_connection) < 0) {
        snprintf(err, errlen, "cannot listen on %s", path);
        uv_close((uv_handle_t *)&c->pipe, NULL);   /* closes fd; nothing else refers to c */
        unlink(path);
        free(c->path);
        c->path = NULL;
        return BO_EIO;
    }
    c->open = true;
    return 0;
}

void bo_control_close(bo_control *c)
{
    if (!c->open)
        return;
    c->open = false;
    unlink(c->path);
    free(c->path);
    c->path = NULL;
    uv_close((uv_handle_t *)&c->pipe, NULL);
    for (bo_control_client *cl = c->clients, *next; cl; cl = next) {
        next = cl->next;
        close_client(cl);
    }
}

/* ---- the client's side ---- */

int bo_control_connect(const char *data_dir, int *fd, char *err, size_t errlen)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    int n = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/%s", data_dir, BO_CONTROL_NAME);
    if (n < 0 || (size_t)n >= sizeof addr.sun_path) {
        snprintf(err, errlen, "the data folder path %s is too long for its control socket", data_dir);
        return BO_EINVAL;
    }
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(err, errlen, "cannot make a socket: %s", strerror(errno));
        return BO_EIO;
    }
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int e = errno;
        close(s);
        if (e == ENOENT || e == ECONNREFUSED) {
            snprintf(err, errlen, "no server is running with the data folder %s (%s: %s)", data_dir, addr.sun_path,
                     strerror(e));
            return BO_ENOENT;
        }
        snprintf(err, errlen, "cannot reach the server at %s: %s", addr.sun_path, strerror(e));
        return BO_EIO;
    }
    *fd = s;
    return 0;
}

const char *bo_control_parse(char *line, const char **kind)
{
    static const char *const kinds[] = { "out", "err", "exit" };
    for (size_t i = 0; i < BO_COUNT(kinds); i++) {
        size_t n = strlen(kinds[i]);
        if (strncmp(line, kinds[i], n) == 0 && line[n] == ' ') {
            *kind = kinds[i];
            return line + n + 1;
        }
    }
    *kind = NULL;
    return NULL;
}
