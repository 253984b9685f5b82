/*
 * http.h - HTTP/1.1 request parsing: http-parser underneath, and every
 * strictness check DESIGN.md asks for on top (request smuggling shapes,
 * obs-fold, bare CR/LF, whitespace before the colon, chunk framing abuse,
 * the 16 KiB head limit). The rest of the core sees only this interface, so
 * llhttp could replace http-parser here without touching conn.c.
 *
 * The connection feeds bytes with bo_http_parse() and gets events back:
 * BO_HTTP_HEAD once the head is complete (the owner then routes the request
 * and sets max_body), BO_HTTP_DONE when the message is complete, BO_HTTP_AGAIN
 * when more bytes are needed, BO_HTTP_ERROR with the status to answer.
 */
#ifndef BO_HTTP_H
#define BO_HTTP_H

#include "bo.h"
#include "buf.h"

#include <http_parser.h>

#define BO_HTTP_MAX_HEAD (16 * 1024)
#define BO_HTTP_MAX_HEADERS 100

/* Offsets into bo_http_request.raw; each item is NUL-terminated there. */
typedef struct bo_http_header {
    uint32_t name, name_len;
    uint32_t value, value_len;
} bo_http_header;

typedef struct bo_http_request {
    bo_buf raw;                 /* copies of the target and the headers */
    int method;                 /* enum http_method */
    const char *method_name;    /* static, e.g. "GET" */
    unsigned char http_major, http_minor;
    uint32_t target, target_len;    /* the request target as sent */
    uint32_t path, path_len;        /* its path (still %-encoded) */
    uint32_t query, query_len;      /* its query without '?', or 0/0 */
    bo_http_header headers[BO_HTTP_MAX_HEADERS];
    unsigned nheaders;
    int host_header;            /* index into headers, or -1 */
    int64_t content_length;     /* -1 when absent */
    bool chunked;
    bool keep_alive;
    bool expect_continue;
    bool has_body;              /* a body follows the head */
    bo_buf body;                /* the body, unless it streams to multipart */
    struct bo_multipart *multipart;  /* a multipart body's parser (owned), or NULL */
} bo_http_request;

typedef enum bo_http_event {
    BO_HTTP_AGAIN,
    BO_HTTP_HEAD,
    BO_HTTP_DONE,
    BO_HTTP_ERROR
} bo_http_event;

struct bo_multipart;

typedef struct bo_http_parser {
    http_parser hp;
    bo_http_request *req;       /* borrowed: filled in by the parser */
    int phase;
    size_t scan;                /* bytes of the head examined so far */
    unsigned head_lines;
    int last_callback;          /* detects a header split over callbacks */
    size_t max_body;            /* set by the owner after BO_HTTP_HEAD */
    size_t body_bytes;
    size_t framing_bytes;       /* chunk sizes, extensions and trailers */
    int chunk_state;            /* where the strict check of chunked framing is */
    int chunk_line;             /* ... and what it knows of the line it is in */
    const char *frame_from;     /* during a parse: framing not yet checked */
    bool message_complete;
    int status;                 /* with BO_HTTP_ERROR: 400, 413, 414, 417, 431, 501, 505 */
    const char *error;          /* with BO_HTTP_ERROR: a short reason for the log */
} bo_http_parser;

void bo_http_request_init(bo_http_request *r);
void bo_http_request_free(bo_http_request *r);
/* Forgets one request so the struct can take the next. */
void bo_http_request_reset(bo_http_request *r);

/* Prepares p to parse into req (borrowed, must outlive p's use). */
void bo_http_parser_init(bo_http_parser *p, bo_http_request *req);
/* Makes p ready for the next request on the same connection. */
void bo_http_parser_reset(bo_http_parser *p);

/* Parses from data; *used is set to the bytes consumed, which the caller
   drops from its buffer. Unconsumed bytes must be offered again, with more
   appended, on the next call. */
bo_http_event bo_http_parse(bo_http_parser *p, const char *data, size_t len, size_t *used);

/* Streams the body of the request being parsed to a multipart parser
   (which the request then owns) instead of keeping it in body: set by the
   owner after BO_HTTP_HEAD. */
void bo_http_stream_multipart(bo_http_parser *p, struct bo_multipart *m);

/* Looks up a request header by case-insensitive name; NULL if absent. */
const char *bo_http_header_get(const bo_http_request *r, const char *name, size_t *len);

static inline const char *bo_http_str(const bo_http_request *r, uint32_t off)
{
    return r->raw.data + off;
}

/* The standard reason phrase for a status code ("Not Found"). */
const char *bo_http_reason(int status);

/* The length of the host name in a Host header value (without its port),
   or 0 when it is not a DNS name, an IPv4 address or a bracketed IPv6
   address, optionally followed by ":digits". */
size_t bo_http_host_name_length(const char *v, size_t len);

#endif
