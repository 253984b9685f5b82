/*
 * conn.h - one client connection: reading and parsing requests, queueing
 * pipelined ones, writing responses in order, keep-alive, and the timeouts
 * that protect the worker from slow or silent clients.
 *
 * Reads land in the worker's shared buffer and are parsed in place; only the
 * bytes of an unfinished request are copied into the connection's own
 * buffer. Responses are assembled in `out` and handed to the kernel with one
 * write per batch (uv_try_write first, uv_write for the rest).
 *
 * A connection is freed only when its socket is closed AND no request is
 * running on it: a handler may still be running (or waiting) when the
 * client goes away; its response is then dropped.
 *
 * An event stream (stream.h) takes its connection over once the request
 * that opened it ends: the connection then reads no more requests (bytes
 * the client sends are dropped; pipelined requests after the stream's are
 * never answered), writes what the stream queues, and closes when the
 * stream ends or the client leaves.
 *
 * HTTPS: a connection accepted while the server has a certificate carries a
 * TLS engine (tls.h) and begins in a handshake phase with its own
 * deadline. What the socket reads goes through the engine before the
 * parser (decrypted into the worker's shared buffer, then parsed as plain
 * bytes are); responses are still assembled in plaintext in `out`, and a
 * flush encrypts them into the engine's output, which is what is written.
 * A plain connection pays one pointer test per read and per flush.
 */
#ifndef BO_CONN_H
#define BO_CONN_H

#include "buf.h"
#include "http.h"
#include "https.h"
#include "request.h"
#include "tls.h"

#include <uv.h>

struct bo_worker;

typedef struct bo_conn {
    uv_tcp_t tcp;                   /* first, so a handle is its conn */
    struct bo_worker *worker;
    struct bo_conn *prev, *next;    /* the worker's list */
    bo_buf in;                      /* unparsed bytes kept between reads */
    bo_buf out;                     /* response bytes not yet written */
    bo_buf writing;                 /* bytes of the uv_write in flight */
    uv_write_t write_req;
    bo_http_parser parser;
    bo_http_request http;
    bo_request req;
    bo_tls *tls;                    /* HTTPS: the TLS engine; NULL: plain HTTP */
    bo_https_cert *cert;            /* the certificate tls was made with (a reference) */
    bool to_https;                  /* accepted by the redirect listener */
    bool tls_fed;                   /* the engine has had the client's first bytes */
    int phase;
    uint64_t deadline;              /* loop time (ms) the phase must end by; 0 = none */
    uint64_t head_started;          /* loop time of the request's first byte */
    bool keep_alive;                /* of the response being written */
    bool write_active;
    bool reading;
    bool eof;
    bool in_process;
    bool close_after_write;
    bool closing;
    bool tcp_closed;
    /* the response being assembled */
    bool head_only;                 /* HEAD: no body bytes */
    unsigned set_headers;           /* which standard headers the app set */
    size_t response_start;          /* offset in out where it began */
    bool streaming;                 /* chunked (or close-delimited) body */
    struct bo_stream *stream;       /* an event stream that took the connection over
                                       (stream.h), or NULL */
    char ip[48];
} bo_conn;

/* Accepts a pending connection on the worker's listener. */
void bo_conn_accept(struct bo_worker *w, uv_stream_t *listener);
/* Closes now (unsent output is dropped). Safe to call twice. */
void bo_conn_close(bo_conn *c);
/* Graceful stop: an idle connection closes now, a busy one after its
   current response, an event stream's at once (its body ended). */
void bo_conn_drain(bo_conn *c);
/* Checks the phase deadline against the loop time. */
void bo_conn_sweep(bo_conn *c, uint64_t now);
/* Called by the request when it has finished (response queued or dropped). */
void bo_conn_request_done(bo_conn *c);
/* True while the client is still there to receive a response. */
bool bo_conn_alive(const bo_conn *c);
/* True when the connection is HTTPS (cookies then get Secure). */
bool bo_conn_secure(const bo_conn *c);

/* Response assembly, in this order: begin, any headers, then end (a whole
   body) or stream_begin/chunk/stream_end. The status line, Date, Server,
   framing, Connection and the security headers the app did not set itself
   are added here. */
void bo_conn_response_begin(bo_conn *c, int status);
/* Adds a header; returns BO_EINVAL (and adds nothing) for a name that is not
   a token or a value with CR, LF or NUL. Framing headers are ignored. */
int bo_conn_response_header(bo_conn *c, const char *name, size_t nlen, const char *value,
                            size_t vlen);
/* True once the response being assembled has a Content-Type. */
bool bo_conn_response_has_type(const bo_conn *c);
void bo_conn_response_end(bo_conn *c, const char *body, size_t len);
/* Ends the head with a body of len bytes the caller writes at the returned
   address (NULL when no body is sent: HEAD, 204, 304). */
char *bo_conn_response_end_reserve(bo_conn *c, size_t len);
void bo_conn_response_stream_begin(bo_conn *c);
void bo_conn_response_chunk(bo_conn *c, const char *data, size_t len);
void bo_conn_response_stream_end(bo_conn *c);
/* Bytes queued but not yet written: the streaming producer waits when this
   grows past BO_CONN_OUT_HIGH. */
size_t bo_conn_pending(const bo_conn *c);
/* Writes what is queued now. */
void bo_conn_flush(bo_conn *c);

#define BO_CONN_OUT_HIGH (1024 * 1024)

#endif
