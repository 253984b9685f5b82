/*
 * httpc.h - the outbound HTTP/1.1 client, asynchronous on a uv loop: DNS
 * through libuv's resolver, TCP, TLS through the engine of tls.h (verifying
 * the certificate and host name), a request, and a response parsed by
 * http-parser with its size and the whole exchange's time bounded.
 * Redirects are followed up to a limit, each hop checked against the
 * caller's host policy; one from https to http is refused, and one that
 * leaves the origin (scheme, host, port) drops the Authorization, Cookie
 * and Proxy-Authorization headers from then on. The Lua binding
 * (http.request) and the Notify sender build on it.
 *
 * One exchange per connection (Connection: close): simple, and enough for
 * the rates an app sends at.
 */
#ifndef BO_HTTPC_H
#define BO_HTTPC_H

#include "bo.h"
#include "buf.h"
#include "tls.h"

#include <http_parser.h>
#include <uv.h>

typedef struct bo_httpc bo_httpc;

typedef struct bo_httpc_header {
    const char *name;
    const char *value;
} bo_httpc_header;

typedef struct bo_httpc_options {
    const char *method;          /* "GET" when NULL */
    const char *url;             /* http:// or https:// */
    const bo_httpc_header *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
    uint64_t timeout_ms;         /* the whole exchange, redirects included */
    size_t max_response;         /* body bytes */
    int max_redirects;
    bo_tls_config *tls;          /* client TLS configuration (https) */
    /* Decides whether a host may be reached (first and every redirect);
       NULL allows every host. */
    bool (*allow)(void *ud, const char *host, int port);
    /* Decides whether an address the host resolves to (or its literal
       address) may be connected to, at every hop; NULL allows every
       address. Each address is checked, and the exchange connects only to
       one that was allowed, that very address (no second look-up that DNS
       could answer differently); the Host header and TLS keep the name. */
    bool (*allow_address)(void *ud, int port, const struct sockaddr *addr);
    void *allow_ud;
} bo_httpc_options;

typedef struct bo_httpc_result {
    int error;                   /* 0, or a BO_E* code with message set (and
                                    then no status, headers or body) */
    const char *message;         /* why it failed, for people */
    int status;
    bo_buf headers;              /* "name\0value\0" pairs, names lower-case */
    size_t nheaders;
    bo_buf body;
    char *url;                   /* the final URL after redirects */
} bo_httpc_result;

/* The reading of one response, apart from the connection, so that tests can
   feed it bytes (tests/fuzz/httpc.c): http-parser underneath, and the
   client's own checks on top (a status in 100..599, token names, no control
   characters in values); interim 1xx responses are skipped, trailers are
   checked but not kept. */
typedef struct bo_httpc_reader {
    http_parser parser;
    bo_httpc_result *res;        /* borrowed: status, headers and body land here */
    size_t max_response;         /* body bytes */
    bool head;                   /* the answer to HEAD: no body follows */
    bool in_value;
    bool in_body;                /* past the head: fields now are trailers, not kept */
    bool interim;                /* the response being read is a 1xx */
    bool complete;
    int error;                   /* BO_EPARSE or BO_ELIMIT once refused */
    const char *why;             /* ... and why */
} bo_httpc_reader;

/* Starts reading a response into res (its status, headers and body are
   expected empty). */
void bo_httpc_reader_init(bo_httpc_reader *r, bo_httpc_result *res, bool head, size_t max_response);
/* Reads the next len bytes of the response; len 0 says the connection has
   closed. Returns 1 once the response is complete, 0 while more is needed,
   or BO_EPARSE (malformed) or BO_ELIMIT (a body over max_response) with
   r->why set; after that it takes nothing more. */
int bo_httpc_reader_feed(bo_httpc_reader *r, const char *data, size_t len);

/* The value of the first response header called name (lower case), or
   NULL. */
const char *bo_httpc_result_header(const bo_httpc_result *r, const char *name);

/* Called once when the exchange ends, successfully or not. The result is
   borrowed until the callback returns. */
typedef void (*bo_httpc_done)(bo_httpc *h, const bo_httpc_result *res, void *ud);

/* Starts an exchange. The options are copied. Returns 0 and *out, or
   BO_EINVAL with a message in err for a malformed URL or a host the policy
   refuses (the callback then never runs). */
int bo_httpc_start(bo_httpc **out, uv_loop_t *loop, const bo_httpc_options *opts, bo_httpc_done done,
                   void *ud, char *err, size_t errlen);
/* Abandons an exchange: the callback will not run; memory goes once its
   handles have closed. */
void bo_httpc_cancel(bo_httpc *h);

/* The client TLS configuration outbound exchanges share (http.request, the
   Notify sender): certificates are verified against the system CA store, or
   against the PEM bundle the environment variable SSL_CERT_FILE names (as
   OpenSSL's tools read it). Made on first use, by any thread. Returns NULL
   with the reason in err if it cannot be made (no CA bundle). */
bo_tls_config *bo_httpc_tls_default(char *err, size_t errlen);
/* Frees it, once no thread can use it any more (the server's end). */
void bo_httpc_tls_default_free(void);

#endif
