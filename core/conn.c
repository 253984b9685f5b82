/*
 * conn.c - client connections (see conn.h).
 *
 * Phases: IDLE (between requests), HEAD (a request has begun), BODY (head
 * done, body arriving), RUNNING (the request is being answered). Each phase
 * may carry a deadline, checked by the worker's sweep: a silent keep-alive
 * connection is closed quietly, a head or body that arrives too slowly gets
 * 408, and a client that stops reading its responses is dropped.
 */
#include "conn.h"
#include "log.h"
#include "lreq.h"
#include "server.h"
#include "worker.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { PH_IDLE, PH_HEAD, PH_BODY, PH_RUNNING };

/* Headers the app may set in place of the server's defaults. */
enum {
    H_CONTENT_TYPE = 1 << 0,
    H_CSP = 1 << 1,
    H_FRAME = 1 << 2,
    H_REFERRER = 1 << 3,
    H_NOSNIFF = 1 << 4,
    H_CACHE = 1 << 5,
    H_COOP = 1 << 6,
};

#define H_SECURITY (H_CSP | H_FRAME | H_REFERRER | H_NOSNIFF | H_COOP)

/* The security headers every response carries unless the app set its own. */
#define CSP_LINE                                                                             \
    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; object-src 'none'; " \
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'\r\n"
#define FRAME_LINE "X-Frame-Options: DENY\r\n"
#define REFERRER_LINE "Referrer-Policy: same-origin\r\n"
#define NOSNIFF_LINE "X-Content-Type-Options: nosniff\r\n"
#define COOP_LINE "Cross-Origin-Opener-Policy: same-origin\r\n"

static const char security_block[] = CSP_LINE FRAME_LINE REFERRER_LINE NOSNIFF_LINE COOP_LINE;

#define NAME(s) s, sizeof(s) - 1

static const struct { const char *name; size_t len; unsigned flag; const char *line; } defaults[] = {
    { NAME("content-security-policy"), H_CSP, CSP_LINE },
    { NAME("x-frame-options"), H_FRAME, FRAME_LINE },
    { NAME("referrer-policy"), H_REFERRER, REFERRER_LINE },
    { NAME("x-content-type-options"), H_NOSNIFF, NOSNIFF_LINE },
    { NAME("cross-origin-opener-policy"), H_COOP, COOP_LINE },
    { NAME("cache-control"), H_CACHE, NULL },
    { NAME("content-type"), H_CONTENT_TYPE, NULL },
};

/* Framing and hop-by-hop headers are the server's business. */
static const struct { const char *name; size_t len; } reserved[] = {
    { NAME("content-length") }, { NAME("transfer-encoding") }, { NAME("connection") },
    { NAME("keep-alive") }, { NAME("date") }, { NAME("server") }, { NAME("upgrade") },
    { NAME("trailer") }, { NAME("te") }, { NAME("proxy-connection") },
};

static bo_server *server_of(bo_conn *c)
{
    return c->worker->server;
}

static void on_tcp_closed(uv_handle_t *h);
static void start_reading(bo_conn *c);
static size_t parse_some(bo_conn *c, const char *data, size_t len);
static void parse_kept(bo_conn *c);

bool bo_conn_alive(const bo_conn *c)
{
    return !c->closing;
}

size_t bo_conn_pending(const bo_conn *c)
{
    return c->out.len + c->writing.len;
}

/* ---- lifetime ---- */

static void on_request_timer_closed(uv_handle_t *h)
{
    bo_conn *c = (bo_conn *)((char *)h - offsetof(bo_conn, req.timer));
    bo_worker_forget(c->worker, c);
    bo_buf_free(&c->in);
    bo_buf_free(&c->out);
    bo_buf_free(&c->writing);
    bo_http_request_free(&c->http);
    free(c);
}

/* Frees the connection once the socket is closed and no request runs. */
static void maybe_free(bo_conn *c)
{
    if (c->tcp_closed && !c->req.active)
        bo_request_close(&c->req, on_request_timer_closed);
}

void bo_conn_close(bo_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->phase == PH_BODY)
        bo_request_abort(&c->req);
    if (c->req.active && c->req.wait == BO_WAIT_DRAIN)
        bo_request_drained(&c->req);   /* the pump learns the client is gone */
    uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
}

static void on_tcp_closed(uv_handle_t *h)
{
    bo_conn *c = (bo_conn *)h;
    c->tcp_closed = true;
    atomic_fetch_sub(&server_of(c)->conns, 1);
    maybe_free(c);
}

/* ---- writing ---- */

/* True when `in` holds requests not yet parsed because the client was
   behind on reading (parse_some stops only between requests for that):
   after the client's EOF they are still to be answered. */
static bool held_back(const bo_conn *c)
{
    return c->phase == PH_IDLE && c->in.len > 0;
}

static void after_output(bo_conn *c)
{
    if (c->closing)
        return;
    if (c->req.active && c->req.wait == BO_WAIT_DRAIN && bo_conn_pending(c) < BO_CONN_OUT_HIGH / 2)
        bo_request_drained(&c->req);
    if (bo_conn_pending(c) == 0 && !c->req.active &&
        (c->close_after_write || (c->eof && !held_back(c))))
        bo_conn_close(c);
}

/*
 * Goes on with pipelined requests that parse_some() held back because the
 * client was behind on reading its answers (BO_CONN_OUT_HIGH), now that a
 * write has completed. Nothing else would: the client may have sent them
 * all already and be waiting. Runs from the write callback only.
 */
static void resume_pipeline(bo_conn *c)
{
    while (!c->closing && !c->req.active && !c->close_after_write && !c->write_active &&
           c->in.len > 0) {
        size_t before = c->in.len;
        parse_kept(c);
        bo_conn_flush(c);
        if (c->in.len == before)
            break;      /* the rest is an unfinished request */
    }
    if (c->closing || c->req.active || c->close_after_write)
        return;
    if (c->eof && bo_conn_pending(c) == 0) {
        bo_conn_close(c);   /* what is left can never become a whole request */
        return;
    }
    if (c->in.len <= 64 * 1024)
        start_reading(c);
}

static void on_write(uv_write_t *wr, int status)
{
    bo_conn *c = wr->data;
    c->write_active = false;
    c->writing.len = 0;
    if (c->writing.cap > 256 * 1024)
        bo_buf_reset(&c->writing, 0);
    if (status < 0) {
        bo_conn_close(c);
        return;
    }
    if (c->out.len)
        bo_conn_flush(c);
    else
        after_output(c);
    resume_pipeline(c);
}

void bo_conn_flush(bo_conn *c)
{
    if (c->closing || c->write_active)
        return;
    if (c->out.len == 0) {
        after_output(c);
        return;
    }
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == UV_EAGAIN)
        n = 0;
    if (n < 0) {
        bo_conn_close(c);
        return;
    }
    if ((size_t)n == c->out.len) {
        c->out.len = 0;
        if (c->out.cap > 256 * 1024)
            bo_buf_reset(&c->out, 0);
        after_output(c);
        return;
    }
    /* The rest goes out through uv_write from the other buffer. */
    bo_buf t = c->writing;
    c->writing = c->out;
    c->out = t;
    c->out.len = 0;
    b = uv_buf_init(c->writing.data + n, (unsigned)(c->writing.len - (size_t)n));
    c->write_req.data = c;
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        bo_conn_close(c);
        return;
    }
    c->write_active = true;
    /* A client that stops reading is dropped after the send timeout. */
    c->deadline = c->phase == PH_IDLE || c->phase == PH_RUNNING
                      ? uv_now(&c->worker->loop) + server_of(c)->cfg.send_timeout_ms
                      : c->deadline;
}

/* ---- responses ---- */

void bo_conn_response_begin(bo_conn *c, int status)
{
    c->response_start = c->out.len;
    c->set_headers = 0;
    c->streaming = false;
    c->head_only = c->http.method == HTTP_HEAD;
    c->req.response_status = status;
    if (status == 200) {
        bo_buf_append(&c->out, "HTTP/1.1 200 OK\r\n", 17);
    } else {
        bo_buf_printf(&c->out, "HTTP/1.1 %d %s\r\n", status, bo_http_reason(status));
    }
    bo_buf_puts(&c->out, bo_worker_date(c->worker));
    bo_buf_append(&c->out, "Server: borough\r\n", 17);
}

static bool token_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

int bo_conn_response_header(bo_conn *c, const char *name, size_t nlen, const char *value,
                            size_t vlen)
{
    if (nlen == 0)
        return BO_EINVAL;
    for (size_t i = 0; i < nlen; i++)
        if (!token_char((unsigned char)name[i]))
            return BO_EINVAL;
    for (size_t i = 0; i < vlen; i++)
        if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0')
            return BO_EINVAL;
    char first = (char)(name[0] | 0x20);
    for (size_t i = 0; i < BO_COUNT(reserved); i++)
        if (reserved[i].len == nlen && reserved[i].name[0] == first &&
            strncasecmp(reserved[i].name, name, nlen) == 0)
            return 0;
    for (size_t i = 0; i < BO_COUNT(defaults); i++)
        if (defaults[i].len == nlen && defaults[i].name[0] == first &&
            strncasecmp(defaults[i].name, name, nlen) == 0)
            c->set_headers |= defaults[i].flag;
    char *p = bo_buf_reserve(&c->out, nlen + vlen + 4);
    memcpy(p, name, nlen);
    p[nlen] = ':';
    p[nlen + 1] = ' ';
    memcpy(p + nlen + 2, value, vlen);
    p[nlen + 2 + vlen] = '\r';
    p[nlen + 3 + vlen] = '\n';
    c->out.len += nlen + vlen + 4;
    return 0;
}

bool bo_conn_response_has_type(const bo_conn *c)
{
    return (c->set_headers & H_CONTENT_TYPE) != 0;
}

/* Adds the defaults the app did not set, and the Connection header. */
static void finish_head_common(bo_conn *c)
{
    if (!(c->set_headers & H_SECURITY)) {
        /* The usual case: every default, in one copy. */
        bo_buf_append(&c->out, security_block, sizeof security_block - 1);
    } else {
        for (size_t i = 0; i < BO_COUNT(defaults); i++)
            if (defaults[i].line && !(c->set_headers & defaults[i].flag))
                bo_buf_puts(&c->out, defaults[i].line);
    }
    c->keep_alive = c->http.keep_alive && !(c->eof && c->in.len == 0) && !c->close_after_write &&
                    !c->worker->stopping;
    if (!c->keep_alive)
        bo_buf_append(&c->out, "Connection: close\r\n", 19);
    else if (c->http.http_minor == 0)
        bo_buf_append(&c->out, "Connection: keep-alive\r\n", 24);
}

static bool status_has_body(int status)
{
    return !(status < 200 || status == 204 || status == 304);
}

char *bo_conn_response_end_reserve(bo_conn *c, size_t len)
{
    int status = c->req.response_status;
    char *body = NULL;
    finish_head_common(c);
    if (status_has_body(status)) {
        bo_buf_append(&c->out, "Content-Length: ", 16);
        bo_buf_put_int(&c->out, (long long)len);
        bo_buf_append(&c->out, "\r\n\r\n", 4);
        if (!c->head_only) {
            body = bo_buf_reserve(&c->out, len);
            c->out.len += len;
        }
    } else {
        bo_buf_append(&c->out, "\r\n", 2);
    }
    c->req.response_bytes = c->out.len - c->response_start;
    return body;
}

void bo_conn_response_end(bo_conn *c, const char *body, size_t len)
{
    char *p = bo_conn_response_end_reserve(c, len);
    if (p && len)
        memcpy(p, body, len);
}

void bo_conn_response_stream_begin(bo_conn *c)
{
    c->streaming = true;
    if (c->http.http_minor == 0)
        c->close_after_write = true;   /* HTTP/1.0: the body ends at close */
    finish_head_common(c);
    if (c->http.http_minor >= 1)
        bo_buf_append(&c->out, "Transfer-Encoding: chunked\r\n", 28);
    bo_buf_append(&c->out, "\r\n", 2);
    c->req.response_bytes = c->out.len - c->response_start;
}

void bo_conn_response_chunk(bo_conn *c, const char *data, size_t len)
{
    if (len == 0 || c->head_only)
        return;
    size_t before = c->out.len;
    if (c->http.http_minor >= 1)
        bo_buf_printf(&c->out, "%zx\r\n", len);
    bo_buf_append(&c->out, data, len);
    if (c->http.http_minor >= 1)
        bo_buf_append(&c->out, "\r\n", 2);
    c->req.response_bytes += c->out.len - before;
}

void bo_conn_response_stream_end(bo_conn *c)
{
    if (c->http.http_minor >= 1 && !c->head_only) {
        bo_buf_append(&c->out, "0\r\n\r\n", 5);
        c->req.response_bytes += 5;
    }
    c->streaming = false;
}

/* An answer the connection gives itself (bad request, timeout), closing after. */
static void respond_and_close(bo_conn *c, int status, const char *why)
{
    c->close_after_write = true;
    bo_http_request_reset(&c->http);   /* nothing of the bad request is used */
    c->http.keep_alive = false;
    bo_conn_response_begin(c, status);
    bo_conn_response_header(c, "Content-Type", 12, "text/plain; charset=utf-8", 25);
    char body[160];
    int n = snprintf(body, sizeof body, "%d %s: %s\n", status, bo_http_reason(status), why);
    bo_conn_response_end(c, body, (size_t)n);
    bo_log(BO_LOG_INFO, NULL, "%s: %d %s (%s)", c->ip, status, bo_http_reason(status), why);
    bo_conn_flush(c);
}

/* ---- reading and parsing ---- */

static void next_request(bo_conn *c)
{
    bo_http_request_reset(&c->http);
    bo_http_parser_reset(&c->parser);
    c->phase = PH_IDLE;
    c->deadline = uv_now(&c->worker->loop) + server_of(c)->cfg.idle_timeout_ms;
}

/* Parses and runs as many requests as data holds; returns bytes consumed. */
static size_t parse_some(bo_conn *c, const char *data, size_t len)
{
    bo_server *s = server_of(c);
    size_t total = 0;
    c->in_process = true;
    while (!c->closing && !c->req.active && !c->close_after_write) {
        /* A client behind on reading its answers: before a new request,
           hand what is queued to the kernel, and stop if it will not take it
           all. A write is then in flight, and its callback goes on
           (resume_pipeline). */
        if (c->phase == PH_IDLE && bo_conn_pending(c) >= BO_CONN_OUT_HIGH) {
            bo_conn_flush(c);
            if (c->closing || bo_conn_pending(c) >= BO_CONN_OUT_HIGH)
                break;
        }
        size_t used = 0;
        bo_http_event ev = bo_http_parse(&c->parser, data + total, len - total, &used);
        total += used;
        uint64_t now = uv_now(&c->worker->loop);
        if (ev == BO_HTTP_AGAIN) {
            if (c->phase == PH_IDLE && total < len) {
                c->phase = PH_HEAD;
                c->deadline = now + s->cfg.header_timeout_ms;
            } else if (c->phase == PH_BODY && used > 0) {
                c->deadline = now + s->cfg.body_timeout_ms;
            }
            break;
        }
        if (ev == BO_HTTP_ERROR) {
            if (c->phase == PH_BODY)
                bo_request_abort(&c->req);
            c->phase = PH_IDLE;
            respond_and_close(c, c->parser.status, c->parser.error);
            break;
        }
        if (ev == BO_HTTP_HEAD) {
            c->phase = PH_BODY;
            size_t limit = bo_request_route(&c->req);
            if (c->http.content_length > 0 && (uint64_t)c->http.content_length > limit) {
                bo_request_abort(&c->req);
                c->phase = PH_IDLE;
                respond_and_close(c, 413, "body over the limit");
                break;
            }
            c->parser.max_body = limit;
            int refuse = bo_lreq_body_begin(&c->req, &c->parser);
            if (refuse) {
                bo_request_abort(&c->req);
                c->phase = PH_IDLE;
                respond_and_close(c, refuse, "a multipart body without a boundary");
                break;
            }
            if (c->http.has_body && c->http.expect_continue && c->http.http_minor >= 1)
                bo_buf_append(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
            c->deadline = now + s->cfg.body_timeout_ms;
            continue;
        }
        /* BO_HTTP_DONE */
        c->phase = PH_RUNNING;
        c->deadline = 0;
        bo_request_run(&c->req);
    }
    c->in_process = false;
    return total;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    BO_UNUSED(suggested);
    bo_conn *c = (bo_conn *)h;
    buf->base = c->worker->read_buf;
    buf->len = BO_READ_BUF_SIZE;
}

/* Parses bytes kept in c->in (pipelined requests left over). */
static void parse_kept(bo_conn *c)
{
    if (c->in.len == 0)
        return;
    size_t used = parse_some(c, c->in.data, c->in.len);
    bo_buf_consume(&c->in, used);
    if (c->in.len == 0 && c->in.cap > 64 * 1024)
        bo_buf_reset(&c->in, 0);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    bo_conn *c = (bo_conn *)stream;
    if (nread == 0)
        return;
    if (nread < 0) {
        if (nread != UV_EOF || c->phase == PH_HEAD || c->phase == PH_BODY) {
            bo_conn_close(c);
            return;
        }
        /* The client has finished sending: answer what is running and what
           it pipelined before, then close. */
        c->eof = true;
        uv_read_stop(stream);
        c->reading = false;
        if (!c->req.active && bo_conn_pending(c) == 0)
            bo_conn_close(c);
        return;
    }
    if (c->in.len == 0) {
        size_t used = parse_some(c, buf->base, (size_t)nread);
        if (used < (size_t)nread && !c->closing)
            bo_buf_append(&c->in, buf->base + used, (size_t)nread - used);
    } else {
        bo_buf_append(&c->in, buf->base, (size_t)nread);
        parse_kept(c);
    }
    /* While a request runs, or the client is behind on reading its answers,
       pipelined bytes wait in the kernel beyond 64 KiB. */
    if (!c->closing && (c->req.active || bo_conn_pending(c) >= BO_CONN_OUT_HIGH) &&
        c->in.len > 64 * 1024) {
        uv_read_stop(stream);
        c->reading = false;
    }
    bo_conn_flush(c);
}

static void start_reading(bo_conn *c)
{
    if (!c->reading && !c->closing && !c->eof) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = true;
    }
}

void bo_conn_request_done(bo_conn *c)
{
    if (c->closing) {
        maybe_free(c);
        return;
    }
    if (!c->keep_alive)
        c->close_after_write = true;
    next_request(c);
    if (!c->in_process && !c->close_after_write) {
        parse_kept(c);
        start_reading(c);
    }
    if (!c->in_process)
        bo_conn_flush(c);
}

void bo_conn_drain(bo_conn *c)
{
    if (c->closing)
        return;
    if (c->phase == PH_IDLE && !c->req.active && bo_conn_pending(c) == 0)
        bo_conn_close(c);
}

void bo_conn_sweep(bo_conn *c, uint64_t now)
{
    if (c->closing || !c->deadline || now < c->deadline)
        return;
    if (c->write_active) {
        bo_log(BO_LOG_INFO, NULL, "%s: closed, the client stopped reading", c->ip);
        bo_conn_close(c);
        return;
    }
    switch (c->phase) {
    case PH_IDLE:
        bo_conn_close(c);
        break;
    case PH_HEAD:
    case PH_BODY: {
        bool body = c->phase == PH_BODY;
        if (body)
            bo_request_abort(&c->req);
        c->phase = PH_IDLE;
        respond_and_close(c, 408, body ? "the body arrived too slowly" : "the head arrived too slowly");
        break;
    }
    default:
        break;
    }
}

/* ---- accepting ---- */

static void on_shed_closed(uv_handle_t *h)
{
    free(h);
}

void bo_conn_accept(bo_worker *w, uv_stream_t *listener)
{
    bo_server *s = w->server;
    bo_conn *c = bo_calloc(1, sizeof *c);
    uv_tcp_init(&w->loop, &c->tcp);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_shed_closed);
        return;
    }
    unsigned open = atomic_fetch_add(&s->conns, 1) + 1;
    if (open > s->cfg.max_conns || w->stopping) {
        /* Shed the newest politely: a 503 it can read, then close. */
        static const char busy[] =
            "HTTP/1.1 503 Service Unavailable\r\nServer: borough\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\nCache-Control: no-store\r\n"
            CSP_LINE FRAME_LINE REFERRER_LINE NOSNIFF_LINE COOP_LINE
            "Connection: close\r\nContent-Length: 37\r\n\r\n"
            "The server is busy. Try again soon.\r\n";
        uv_buf_t b = uv_buf_init((char *)busy, sizeof busy - 1);
        uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        atomic_fetch_sub(&s->conns, 1);
        uv_close((uv_handle_t *)&c->tcp, on_shed_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->worker = w;
    struct sockaddr_storage addr;
    int alen = sizeof addr;
    strcpy(c->ip, "-");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&addr, &alen) == 0) {
        if (addr.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&addr, c->ip, sizeof c->ip);
        else
            uv_ip4_name((struct sockaddr_in *)&addr, c->ip, sizeof c->ip);
    }
    bo_buf_init(&c->in);
    bo_buf_init(&c->out);
    bo_buf_init(&c->writing);
    bo_http_request_init(&c->http);
    bo_http_parser_init(&c->parser, &c->http);
    bo_request_init(&c->req, c, w);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    c->phase = PH_IDLE;
    c->deadline = uv_now(&w->loop) + s->cfg.header_timeout_ms;
    start_reading(c);
}
