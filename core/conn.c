/*
 * conn.c - client connections (see conn.h).
 *
 * Phases: HANDSHAKE (HTTPS only: the TLS handshake), IDLE (between
 * requests), HEAD (a request has begun), BODY (head done, body arriving),
 * RUNNING (the request is being answered), STREAM (an event stream holds
 * the connection: stream.h). Each phase may carry a deadline,
 * checked by the worker's sweep: a handshake that does not finish in time
 * and a silent keep-alive connection are closed quietly, a head or body
 * that arrives too slowly gets 408, and a client that stops reading its
 * responses is dropped.
 */
#include "conn.h"
#include "log.h"
#include "server.h"
#include "stream.h"
#include "worker.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { PH_IDLE, PH_HEAD, PH_BODY, PH_RUNNING, PH_HANDSHAKE, PH_STREAM };

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

/* The security headers every response carries unless the app set its own.
   The CSP names each kind of thing the GOV.UK pages load, all from the site
   itself (/assets/, an app's static/), and denies the rest: no inline script
   or style, no plugins, frames, other origins or <base>. */
#define CSP_LINE                                                                                   \
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "           \
    "img-src 'self'; font-src 'self'; connect-src 'self'; manifest-src 'self'; form-action 'self'; " \
    "base-uri 'none'; frame-ancestors 'none'\r\n"
#define FRAME_LINE "X-Frame-Options: DENY\r\n"
#define REFERRER_LINE "Referrer-Policy: same-origin\r\n"
#define NOSNIFF_LINE "X-Content-Type-Options: nosniff\r\n"
#define COOP_LINE "Cross-Origin-Opener-Policy: same-origin\r\n"
/* HTTPS only (browsers ignore it over plain HTTP), and the server's alone:
   an app cannot shorten or drop it for the whole host. */
#define HSTS_LINE "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n"

static const char security_block[] = CSP_LINE FRAME_LINE REFERRER_LINE NOSNIFF_LINE COOP_LINE;
static const char security_block_tls[] = CSP_LINE FRAME_LINE REFERRER_LINE NOSNIFF_LINE COOP_LINE HSTS_LINE;

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

/* Framing and hop-by-hop headers are the server's business, and so is
   HSTS. Names shorter than 32 bytes: reserved_lengths has a bit for each
   length, which rules most names an app sets out of the table at once. */
#define RESERVED(X)                                                                             \
    X("content-length") X("transfer-encoding") X("connection") X("keep-alive") X("date")        \
    X("server") X("upgrade") X("trailer") X("te") X("proxy-connection")                         \
    X("strict-transport-security")
#define RESERVED_ENTRY(s) { NAME(s) },
#define RESERVED_BIT(s) | (1u << (sizeof(s) - 1))

static const struct { const char *name; size_t len; } reserved[] = { RESERVED(RESERVED_ENTRY) };
static const uint32_t reserved_lengths = 0 RESERVED(RESERVED_BIT);

static bo_server *server_of(bo_conn *c)
{
    return c->worker->server;
}

/* An app route's answer to a signed-in person: never stored by the browser
   (Cache-Control: no-store, whatever the app sets), so a shared computer
   keeps no copy of a personal page or download after sign-out. An app
   route's answer to anyone else is not stored either unless the app sets
   its own Cache-Control. Public files (/assets/, an app's static/) are not
   routes: they keep their caching. */
static bool signed_in(const bo_conn *c)
{
    return c->req.target == BO_TARGET_ROUTE && c->req.user;
}

#define NO_STORE_LINE "Cache-Control: no-store\r\n"

static void on_tcp_closed(uv_handle_t *h);
static void start_reading(bo_conn *c);
static size_t parse_some(bo_conn *c, const char *data, size_t len);
static void parse_kept(bo_conn *c);

bool bo_conn_alive(const bo_conn *c)
{
    return !c->closing;
}

bool bo_conn_secure(const bo_conn *c)
{
    return c->tls != NULL;
}

size_t bo_conn_pending(const bo_conn *c)
{
    return c->out.len + c->writing.len;
}

/* ---- lifetime ---- */

static void on_request_timer_closed(uv_handle_t *h)
{
    bo_conn *c = (bo_conn *)((char *)h - offsetof(bo_conn, req.task.timer));
    bo_worker_forget(c->worker, c);
    bo_buf_free(&c->in);
    bo_buf_free(&c->out);
    bo_buf_free(&c->writing);
    bo_http_request_free(&c->http);
    bo_tls_free(c->tls);
    bo_https_cert_unref(c->cert);
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
    if (c->stream) {
        bo_stream_closed(c->stream);
        c->stream = NULL;
    }
    if (c->phase == PH_BODY)
        bo_request_abort(&c->req);
    if (c->req.active && c->req.task.wait == BO_WAIT_DRAIN)
        bo_task_drained(&c->req.task);   /* the pump learns the client is gone */
    if (c->tls && !c->write_active && bo_tls_established(c->tls)) {
        /* close_notify, if the socket takes it now: the client learns the
           session ended here, not that it was cut. */
        bo_tls_close(c->tls);
        bo_buf *o = bo_tls_output(c->tls);
        uv_buf_t b = uv_buf_init(o->data, (unsigned)o->len);
        uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        o->len = 0;
    }
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
    if (c->req.active && c->req.task.wait == BO_WAIT_DRAIN && bo_conn_pending(c) < BO_CONN_OUT_HIGH / 2)
        bo_task_drained(&c->req.task);
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
    bo_conn_flush(c);
    resume_pipeline(c);
}

/* HTTPS: encrypts the plaintext queued in out into the engine's output
   (after any handshake message or alert waiting there), then trades
   buffers with the engine so that out holds the ciphertext to write.
   Out holds plaintext again as soon as the flush that called this returns:
   all of it written, or the rest moved to writing. */
static int tls_seal(bo_conn *c)
{
    bo_buf *sealed = bo_tls_output(c->tls);
    if (c->out.len) {
        assert(bo_tls_established(c->tls));
        if (bo_tls_write(c->tls, c->out.data, c->out.len) < 0) {
            bo_log(BO_LOG_INFO, NULL, "%s: closed: %s", c->ip, bo_tls_error(c->tls));
            return BO_EIO;
        }
        c->out.len = 0;
    }
    if (sealed->len) {
        bo_buf t = c->out;
        c->out = *sealed;
        *sealed = t;
    }
    return 0;
}

void bo_conn_flush(bo_conn *c)
{
    if (c->closing || c->write_active)
        return;
    if (c->tls && tls_seal(c) < 0) {
        bo_conn_close(c);
        return;
    }
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
    c->deadline = c->phase == PH_IDLE || c->phase == PH_RUNNING || c->phase == PH_STREAM
                      ? uv_now(&c->worker->loop) + c->worker->cfg->send_timeout_ms
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
    if (nlen == 13 && first == 'c' && signed_in(c) && strncasecmp(name, "cache-control", 13) == 0)
        return 0;                      /* the server's no-store stands (signed_in) */
    if (nlen < 32 && (reserved_lengths >> nlen & 1))
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
    if (c->req.target == BO_TARGET_ROUTE && (c->req.user || !(c->set_headers & H_CACHE)))
        bo_buf_append(&c->out, NO_STORE_LINE, sizeof NO_STORE_LINE - 1);
    if (!(c->set_headers & H_SECURITY)) {
        /* The usual case: every default, in one copy. */
        if (!c->tls)
            bo_buf_append(&c->out, security_block, sizeof security_block - 1);
        else
            bo_buf_append(&c->out, security_block_tls, sizeof security_block_tls - 1);
    } else {
        for (size_t i = 0; i < BO_COUNT(defaults); i++)
            if (defaults[i].line && !(c->set_headers & defaults[i].flag))
                bo_buf_puts(&c->out, defaults[i].line);
        if (c->tls)
            bo_buf_append(&c->out, HSTS_LINE, sizeof HSTS_LINE - 1);
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

/* An answer the connection gives itself (bad request, timeout), closing
   after. routed: the request has its id already (its head was routed);
   otherwise it gets one now, for its log line. */
static void respond_and_close(bo_conn *c, int status, const char *why, bool routed)
{
    if (!routed)
        bo_request_new_id(&c->req);
    c->close_after_write = true;
    bo_http_request_reset(&c->http);   /* nothing of the bad request is used */
    c->http.keep_alive = false;
    bo_conn_response_begin(c, status);
    bo_conn_response_header(c, "Content-Type", 12, "text/plain; charset=utf-8", 25);
    char body[160];
    int n = snprintf(body, sizeof body, "%d %s: %s\n", status, bo_http_reason(status), why);
    bo_conn_response_end(c, body, (size_t)n);
    bo_log_set_request(c->req.task.id);
    bo_log(BO_LOG_INFO, NULL, "%s: %d %s (%s)", c->ip, status, bo_http_reason(status), why);
    bo_log_set_request(NULL);
    bo_conn_flush(c);
}

/* ---- reading and parsing ---- */

static void next_request(bo_conn *c)
{
    bo_http_request_reset(&c->http);
    bo_http_parser_reset(&c->parser);
    c->phase = PH_IDLE;
    c->deadline = uv_now(&c->worker->loop) + c->worker->cfg->idle_timeout_ms;
}

/* Parses and runs as many requests as data holds; returns bytes consumed. */
static size_t parse_some(bo_conn *c, const char *data, size_t len)
{
    const bo_config *cfg = c->worker->cfg;
    size_t total = 0;
    c->in_process = true;
    while (!c->closing && !c->req.active && !c->close_after_write && !c->stream) {
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
                c->deadline = now + cfg->header_timeout_ms;
            } else if (c->phase == PH_BODY && used > 0) {
                c->deadline = now + cfg->body_timeout_ms;
            }
            break;
        }
        if (ev == BO_HTTP_ERROR) {
            bool routed = c->phase == PH_BODY;
            if (routed)
                bo_request_abort(&c->req);
            c->phase = PH_IDLE;
            respond_and_close(c, c->parser.status, c->parser.error, routed);
            break;
        }
        if (ev == BO_HTTP_HEAD) {
            c->phase = PH_BODY;
            size_t limit = bo_request_route(&c->req);
            if (c->req.refusal && c->http.has_body &&
                (c->http.chunked || (uint64_t)c->http.content_length > limit)) {
                /* Not signed in, or without the route's role: the body is
                   not read (nor stored), the answer goes now, and the
                   connection closes after it. */
                c->close_after_write = true;
                c->http.keep_alive = false;
                c->phase = PH_RUNNING;
                c->deadline = 0;
                bo_request_run(&c->req);
                break;
            }
            if (c->http.content_length > 0 && (uint64_t)c->http.content_length > limit) {
                bo_request_abort(&c->req);
                c->phase = PH_IDLE;
                respond_and_close(c, 413, "body over the limit", true);
                break;
            }
            c->parser.max_body = limit;
            int refuse = bo_request_body_begin(&c->req, &c->parser);
            if (refuse) {
                bo_request_abort(&c->req);
                c->phase = PH_IDLE;
                respond_and_close(c, refuse, "a multipart body without a boundary", true);
                break;
            }
            if (c->http.has_body && c->http.expect_continue && c->http.http_minor >= 1)
                bo_buf_append(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
            c->deadline = now + cfg->body_timeout_ms;
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

/* The client has finished sending (EOF, or its TLS close_notify): answer
   what is running and what it pipelined before, then close. In the middle
   of a handshake, head or body, close now. */
static void peer_finished(bo_conn *c)
{
    if (c->phase == PH_HEAD || c->phase == PH_BODY || c->phase == PH_HANDSHAKE || c->phase == PH_STREAM) {
        bo_conn_close(c);
        return;
    }
    c->eof = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    if (!c->req.active && bo_conn_pending(c) == 0)
        bo_conn_close(c);
}

/* Request bytes: parsed where they lie when nothing is kept from before,
   and what is left (an unfinished or held-back request) kept in `in`. */
static inline void take_input(bo_conn *c, const char *data, size_t len)
{
    /* After an answer that closes the connection nothing more is parsed:
       what still comes (the unread body of a refused request) is dropped. */
    if (c->close_after_write && !c->req.active)
        return;
    if (c->stream)
        return;                        /* the stream's connection reads no requests */
    if (c->in.len == 0) {
        size_t used = parse_some(c, data, len);
        if (used < len && !c->closing && !c->stream && !(c->close_after_write && !c->req.active))
            bo_buf_append(&c->in, data + used, len - used);
    } else {
        bo_buf_append(&c->in, data, len);
        parse_kept(c);
    }
}

/* ---- HTTPS ---- */

/* What a client that speaks plain HTTP to the HTTPS port reads. */
static const char plain_to_tls[] =
    "HTTP/1.1 400 Bad Request\r\nServer: borough\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Connection: close\r\nContent-Length: 45\r\n\r\n"
    "This port speaks HTTPS: use an https:// URL.\n";

/* Advances the handshake with what the engine was fed; true once it is
   complete. Its messages (or a failure's alert) wait in the engine's
   output for the next flush; a failure closes after it. */
static bool tls_handshake(bo_conn *c)
{
    int rc = bo_tls_handshake(c->tls);
    if (rc == 0)
        return false;
    if (rc < 0) {
        bo_log(BO_LOG_INFO, NULL, "%s: TLS handshake refused: %s", c->ip, bo_tls_error(c->tls));
        c->close_after_write = true;
        return false;
    }
    c->phase = PH_IDLE;
    c->deadline = uv_now(&c->worker->loop) + c->worker->cfg->header_timeout_ms;
    return true;
}

/* Ciphertext read from the socket: fed to the engine (which copies it),
   through the handshake, then decrypted into the worker's read buffer, free
   again, and taken as plain request bytes. */
__attribute__((noinline)) static void tls_input(bo_conn *c, const char *data, size_t len)
{
    if (c->phase == PH_HANDSHAKE && c->close_after_write)
        return;                        /* a refused handshake: only its alert is left to send */
    if (c->phase == PH_HANDSHAKE && !c->tls_fed && data[0] >= 'A' && data[0] <= 'Z') {
        /* A request line, not a TLS record (whose first byte is 20 to 23):
           say so in words the client can read. */
        uv_buf_t b = uv_buf_init((char *)plain_to_tls, sizeof plain_to_tls - 1);
        uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        bo_log(BO_LOG_INFO, NULL, "%s: plain HTTP sent to the HTTPS port", c->ip);
        bo_conn_close(c);
        return;
    }
    c->tls_fed = true;
    bo_tls_feed(c->tls, data, len);
    if (c->phase == PH_HANDSHAKE && !tls_handshake(c))
        return;
    char *plain = c->worker->read_buf;
    size_t got = 0;
    for (;;) {
        long n = bo_tls_read(c->tls, plain + got, BO_READ_BUF_SIZE - got);
        if (n > 0) {
            got += (size_t)n;
            if (got < BO_READ_BUF_SIZE)
                continue;
        }
        if (got) {
            take_input(c, plain, got);
            got = 0;
            if (c->closing)
                return;
        }
        if (n > 0)
            continue;
        if (n == BO_ECLOSED) {
            peer_finished(c);
        } else if (n < 0) {
            bo_log(BO_LOG_INFO, NULL, "%s: closed: %s", c->ip, bo_tls_error(c->tls));
            bo_conn_close(c);
        }
        return;
    }
}

/* ---- reading ---- */

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    bo_conn *c = (bo_conn *)stream;
    if (nread == 0)
        return;
    if (nread < 0) {
        if (nread == UV_EOF)
            peer_finished(c);
        else
            bo_conn_close(c);
        return;
    }
    if (!c->tls)
        take_input(c, buf->base, (size_t)nread);
    else
        tls_input(c, buf->base, (size_t)nread);
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
    if (c->stream) {
        /* The request opened an event stream: the stream has the
           connection now. What the client pipelined after it is dropped. */
        c->phase = PH_STREAM;
        c->deadline = 0;
        c->in.len = 0;
        bo_conn_flush(c);
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
    if (c->stream && c->phase == PH_STREAM) {
        bo_stream_end(c->stream, "the server is stopping");
        return;
    }
    if ((c->phase == PH_IDLE || c->phase == PH_HANDSHAKE) && !c->req.active && bo_conn_pending(c) == 0)
        bo_conn_close(c);
}

void bo_conn_sweep(bo_conn *c, uint64_t now)
{
    if (c->closing || !c->deadline || now < c->deadline)
        return;
    if (c->write_active) {
        bo_log_set_request(c->req.task.id[0] ? c->req.task.id : NULL);
        bo_log(BO_LOG_INFO, NULL, "%s: closed, the client stopped reading", c->ip);
        bo_log_set_request(NULL);
        bo_conn_close(c);
        return;
    }
    switch (c->phase) {
    case PH_IDLE:
        bo_conn_close(c);
        break;
    case PH_HANDSHAKE:
        bo_log(BO_LOG_INFO, NULL, "%s: closed: the TLS handshake took longer than %.1f s", c->ip,
               (double)c->worker->cfg->handshake_timeout_ms / 1000);
        bo_conn_close(c);
        break;
    case PH_HEAD:
    case PH_BODY: {
        bool body = c->phase == PH_BODY;
        if (body)
            bo_request_abort(&c->req);
        c->phase = PH_IDLE;
        respond_and_close(c, 408, body ? "the body arrived too slowly" : "the head arrived too slowly", body);
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
    const bo_config *cfg = w->cfg;
    bo_conn *c = bo_calloc(1, sizeof *c);
    uv_tcp_init(&w->loop, &c->tcp);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_shed_closed);
        return;
    }
    bool to_https = listener == (uv_stream_t *)&w->redirect;
    bool tls = cfg->tls_cert && !to_https;
    unsigned open = atomic_fetch_add(&s->conns, 1) + 1;
    if (open > cfg->max_conns || w->stopping) {
        /* Shed the newest politely: a 503 it can read (over HTTPS, where
           it could not read one before a handshake, just the close). */
        static const char busy[] =
            "HTTP/1.1 503 Service Unavailable\r\nServer: borough\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\nCache-Control: no-store\r\n"
            CSP_LINE FRAME_LINE REFERRER_LINE NOSNIFF_LINE COOP_LINE
            "Connection: close\r\nContent-Length: 37\r\n\r\n"
            "The server is busy. Try again soon.\r\n";
        uv_buf_t b = uv_buf_init((char *)busy, sizeof busy - 1);
        if (!tls)
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
    c->deadline = uv_now(&w->loop) + cfg->header_timeout_ms;
    c->to_https = to_https;
    if (tls) {
        char err[200];
        c->cert = bo_server_cert(s);
        c->tls = bo_tls_new(c->cert->tls, NULL, err, sizeof err);
        if (!c->tls) {
            bo_log(BO_LOG_ERROR, NULL, "%s: %s", c->ip, err);
            bo_conn_close(c);
            return;
        }
        c->phase = PH_HANDSHAKE;
        c->deadline = uv_now(&w->loop) + cfg->handshake_timeout_ms;
    }
    start_reading(c);
}
