/*
 * httpc.c - the outbound HTTP client (see httpc.h).
 *
 * One exchange moves through: resolve (uv_getaddrinfo) -> connect -> TLS
 * handshake (https) -> send the request -> parse the response -> done, or
 * back to resolve for a redirect. A single timer bounds the whole exchange.
 * Handles are closed before the struct is freed; a cancelled exchange
 * frees itself once they are closed, and its callback never runs.
 */
#include "httpc.h"
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct bo_httpc {
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_tcp_t tcp;
    uv_getaddrinfo_t dns;
    uv_connect_t connect;
    uv_write_t write;
    int open;                  /* handles not yet closed */
    bool tcp_open;
    bool dns_pending;
    bool connect_pending;
    bool write_active;
    bool cancelled;
    bool finished;

    /* copied options */
    char *method;
    bo_httpc_header *headers;
    size_t nheaders;
    char *body;
    size_t body_len;
    size_t max_response;
    int max_redirects;
    bo_tls_config *tls_config;
    bool (*allow)(void *, const char *, int);
    bool (*allow_address)(void *, int, const struct sockaddr *);
    void *allow_ud;
    bo_httpc_done done;
    void *ud;

    /* the current hop */
    char *url;
    char *host;
    char *port;
    char *path;                /* path and query */
    bool https;
    int redirects;
    bo_tls *tls;
    bo_buf out;                /* bytes to write */
    bo_buf writing;            /* bytes of the write in flight */
    bo_buf in;                 /* read buffer */
    bo_httpc_reader reader;    /* reader.res is NULL until connected */
    char *location;

    bo_httpc_result res;
    char message[300];
};

static void fail(bo_httpc *h, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void start_hop(bo_httpc *h);

/* ---- teardown ---- */

static void free_httpc(bo_httpc *h)
{
    free(h->method);
    for (size_t i = 0; i < h->nheaders; i++) {
        free((char *)h->headers[i].name);
        free((char *)h->headers[i].value);
    }
    free(h->headers);
    free(h->body);
    free(h->url);
    free(h->host);
    free(h->port);
    free(h->path);
    free(h->location);
    bo_tls_free(h->tls);
    bo_buf_free(&h->out);
    bo_buf_free(&h->writing);
    bo_buf_free(&h->in);
    bo_buf_free(&h->res.headers);
    bo_buf_free(&h->res.body);
    free(h->res.url);
    free(h);
}

static void on_closed(uv_handle_t *handle)
{
    bo_httpc *h = handle->data;
    if (handle == (uv_handle_t *)&h->tcp)
        h->tcp_open = false;
    if (--h->open == 0 && !h->dns_pending)
        free_httpc(h);
}

static void close_tcp(bo_httpc *h)
{
    if (h->tcp_open && !uv_is_closing((uv_handle_t *)&h->tcp))
        uv_close((uv_handle_t *)&h->tcp, on_closed);
}

/* Ends the exchange: the callback runs (unless cancelled), then everything
   closes. */
static void finish(bo_httpc *h)
{
    if (h->finished)
        return;
    h->finished = true;
    uv_timer_stop(&h->timer);
    if (h->dns_pending)
        uv_cancel((uv_req_t *)&h->dns);
    if (!h->cancelled && h->done) {
        h->res.url = h->url ? bo_strdup(h->url) : NULL;
        h->done(h, &h->res, h->ud);
    }
    close_tcp(h);
    if (!uv_is_closing((uv_handle_t *)&h->timer))
        uv_close((uv_handle_t *)&h->timer, on_closed);
}

static void fail(bo_httpc *h, int error, const char *fmt, ...)
{
    if (h->finished)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->message, sizeof h->message, fmt, ap);
    va_end(ap);
    /* Nothing of a response read in part: its header list may not even be
       terminated. */
    h->res.status = 0;
    h->res.nheaders = 0;
    h->res.headers.len = 0;
    h->res.body.len = 0;
    h->res.error = error;
    h->res.message = h->message;
    finish(h);
}

void bo_httpc_cancel(bo_httpc *h)
{
    h->cancelled = true;
    finish(h);
}

/* ---- URLs ---- */

/* Splits url into the hop's scheme, host, port and path. */
static int parse_url(bo_httpc *h, const char *url, char *err, size_t errlen)
{
    struct http_parser_url u;
    http_parser_url_init(&u);
    size_t n = strlen(url);
    if (http_parser_parse_url(url, n, 0, &u) != 0 || !(u.field_set & (1 << UF_SCHEMA)) ||
        !(u.field_set & (1 << UF_HOST))) {
        snprintf(err, errlen, "not an absolute http:// or https:// URL: %s", url);
        return BO_EINVAL;
    }
    if (u.field_set & (1 << UF_USERINFO)) {
        snprintf(err, errlen, "URLs with a user name or password are not allowed");
        return BO_EINVAL;
    }
    const char *scheme = url + u.field_data[UF_SCHEMA].off;
    size_t slen = u.field_data[UF_SCHEMA].len;
    bool https;
    if (slen == 5 && strncasecmp(scheme, "https", 5) == 0)
        https = true;
    else if (slen == 4 && strncasecmp(scheme, "http", 4) == 0)
        https = false;
    else {
        snprintf(err, errlen, "only http and https URLs can be requested, not %.*s", (int)slen, scheme);
        return BO_EINVAL;
    }
    free(h->host);
    free(h->port);
    free(h->path);
    free(h->url);
    h->https = https;
    h->host = bo_strndup(url + u.field_data[UF_HOST].off, u.field_data[UF_HOST].len);
    for (char *c = h->host; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    h->port = (u.field_set & (1 << UF_PORT)) ? bo_sprintf("%u", u.port) : bo_strdup(https ? "443" : "80");
    const char *path = (u.field_set & (1 << UF_PATH)) ? url + u.field_data[UF_PATH].off : "/";
    size_t plen = (u.field_set & (1 << UF_PATH)) ? u.field_data[UF_PATH].len : 1;
    if (u.field_set & (1 << UF_QUERY))
        h->path = bo_sprintf("%.*s?%.*s", (int)plen, path, (int)u.field_data[UF_QUERY].len,
                             url + u.field_data[UF_QUERY].off);
    else
        h->path = bo_strndup(path, plen);
    h->url = bo_strdup(url);
    if (h->allow && !h->allow(h->allow_ud, h->host, atoi(h->port))) {
        snprintf(err, errlen, "the app may not reach %s:%s (add it to the app's allowed hosts)", h->host,
                 h->port);
        return BO_EPERM;
    }
    return 0;
}

/* ---- writing ---- */

static void flush(bo_httpc *h);

static void on_write(uv_write_t *w, int status)
{
    bo_httpc *h = w->data;
    h->write_active = false;
    h->writing.len = 0;
    if (h->finished)
        return;
    if (status < 0) {
        fail(h, BO_EIO, "sending to %s failed: %s", h->host, uv_strerror(status));
        return;
    }
    flush(h);
}

static void flush(bo_httpc *h)
{
    if (h->tls) {
        bo_buf *t = bo_tls_output(h->tls);
        bo_buf_append(&h->out, t->data, t->len);
        t->len = 0;
    }
    if (h->write_active || h->out.len == 0 || h->finished)
        return;
    bo_buf tmp = h->writing;
    h->writing = h->out;
    h->out = tmp;
    h->out.len = 0;
    uv_buf_t b = uv_buf_init(h->writing.data, (unsigned)h->writing.len);
    h->write.data = h;
    int rc = uv_write(&h->write, (uv_stream_t *)&h->tcp, &b, 1, on_write);
    if (rc < 0) {
        fail(h, BO_EIO, "sending to %s failed: %s", h->host, uv_strerror(rc));
        return;
    }
    h->write_active = true;
}

static void send_request(bo_httpc *h)
{
    bo_buf req;
    bo_buf_init(&req);
    bool default_port = strcmp(h->port, h->https ? "443" : "80") == 0;
    bo_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s%s%s\r\n", h->method, h->path, h->host,
                  default_port ? "" : ":", default_port ? "" : h->port);
    bool has_agent = false;
    for (size_t i = 0; i < h->nheaders; i++) {
        bo_buf_printf(&req, "%s: %s\r\n", h->headers[i].name, h->headers[i].value);
        has_agent |= strcasecmp(h->headers[i].name, "user-agent") == 0;
    }
    if (!has_agent)
        bo_buf_puts(&req, "User-Agent: borough/" BO_VERSION "\r\n");
    bo_buf_puts(&req, "Connection: close\r\n");
    if (h->body_len || strcmp(h->method, "POST") == 0 || strcmp(h->method, "PUT") == 0 ||
        strcmp(h->method, "PATCH") == 0)
        bo_buf_printf(&req, "Content-Length: %zu\r\n", h->body_len);
    bo_buf_puts(&req, "\r\n");
    bo_buf_append(&req, h->body, h->body_len);
    if (h->tls) {
        if (bo_tls_write(h->tls, req.data, req.len) < 0) {
            bo_buf_free(&req);
            fail(h, BO_EIO, "TLS with %s: %s", h->host, bo_tls_error(h->tls));
            return;
        }
    } else {
        bo_buf_append(&h->out, req.data, req.len);
    }
    bo_buf_free(&req);
    flush(h);
}

/* ---- the response ---- */

static bo_httpc_reader *of_parser(http_parser *p)
{
    return p->data;
}

static int refuse(bo_httpc_reader *r, int error, const char *why)
{
    if (!r->error) {
        r->error = error;
        r->why = why;
    }
    return -1;
}

/* A name or value with a byte http-parser lets through (a space in a name,
   a control character first in a value): refused in http-parser's own
   words, so that the reason is the same whichever of the two sees it first
   (which depends on how the bytes arrive). */
static int bad_header(bo_httpc_reader *r)
{
    return refuse(r, BO_EPARSE, http_errno_description(HPE_INVALID_HEADER_TOKEN));
}

/* RFC 9110 token characters, the only ones allowed in a field name. */
static bool is_tchar(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr(extra, c));
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    bo_httpc_reader *r = of_parser(p);
    bo_buf *b = &r->res->headers;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)at[i]))
            return bad_header(r);
    if (r->in_body)
        return 0;                            /* a trailer */
    if (r->in_value || r->res->nheaders == 0) {
        if (r->res->nheaders > 0)
            bo_buf_putc(b, '\0');            /* end of the previous value */
        r->res->nheaders++;
        r->in_value = false;
    } else {
        b->len--;                            /* continue the name: drop its NUL */
    }
    for (size_t i = 0; i < n; i++)
        bo_buf_putc(b, (char)((at[i] >= 'A' && at[i] <= 'Z') ? at[i] - 'A' + 'a' : at[i]));
    bo_buf_putc(b, '\0');
    return 0;
}

/* A value holds no control character but HT: a NUL would end it early in
   the "name\0value\0" list, and every later name and value would shift. */
static int on_header_value(http_parser *p, const char *at, size_t n)
{
    bo_httpc_reader *r = of_parser(p);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)at[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return bad_header(r);
    }
    if (r->in_body)
        return 0;                            /* a trailer */
    r->in_value = true;
    bo_buf_append(&r->res->headers, at, n);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    bo_httpc_reader *r = of_parser(p);
    if (p->status_code < 100 || p->status_code > 599)
        return refuse(r, BO_EPARSE, "a status code outside 100..599");
    if (p->status_code == 101)
        return refuse(r, BO_EPARSE, "101 Switching Protocols, which was not asked for");
    if (r->res->nheaders > 0)
        bo_buf_putc(&r->res->headers, '\0');
    r->res->status = p->status_code;
    r->interim = p->status_code < 200;
    r->in_body = true;
    return r->head && !r->interim ? 1 : 0;   /* 1: no body follows */
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    bo_httpc_reader *r = of_parser(p);
    if (r->res->body.len + n > r->max_response)
        return refuse(r, BO_ELIMIT, "over the limit");
    bo_buf_append(&r->res->body, at, n);
    return 0;
}

/* An interim response (100 Continue, 103 Early Hints) is forgotten; the
   final one follows on the same connection. */
static int on_message_complete(http_parser *p)
{
    bo_httpc_reader *r = of_parser(p);
    if (r->interim) {
        r->res->status = 0;
        r->res->nheaders = 0;
        r->res->headers.len = 0;
        r->in_value = false;
        r->in_body = false;
        r->interim = false;
        return 0;
    }
    r->complete = true;
    http_parser_pause(p, 1);    /* what follows the response is not read */
    return 0;
}

static const http_parser_settings response_settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void bo_httpc_reader_init(bo_httpc_reader *r, bo_httpc_result *res, bool head, size_t max_response)
{
    memset(r, 0, sizeof *r);
    http_parser_init(&r->parser, HTTP_RESPONSE);
    r->parser.data = r;
    r->res = res;
    r->head = head;
    r->max_response = max_response;
}

int bo_httpc_reader_feed(bo_httpc_reader *r, const char *data, size_t len)
{
    if (r->error)
        return r->error;
    if (r->complete)
        return 1;
    http_parser_execute(&r->parser, &response_settings, data, len);
    if (r->error)
        return r->error;
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (r->complete)
        return 1;
    if (e != HPE_OK) {
        refuse(r, BO_EPARSE, http_errno_description(e));
        return r->error;
    }
    return 0;
}

const char *bo_httpc_result_header(const bo_httpc_result *r, const char *name)
{
    const char *p = r->headers.data;
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *value = p + strlen(p) + 1;
        if (strcmp(p, name) == 0)
            return value;
        p = value + strlen(value) + 1;
    }
    return NULL;
}

/* Builds the absolute URL a Location header names. */
static char *resolve(bo_httpc *h, const char *location)
{
    if (strncasecmp(location, "http://", 7) == 0 || strncasecmp(location, "https://", 8) == 0)
        return bo_strdup(location);
    const char *scheme = h->https ? "https" : "http";
    if (location[0] == '/' && location[1] == '/')
        return bo_sprintf("%s:%s", scheme, location);
    if (location[0] == '/')
        return bo_sprintf("%s://%s:%s%s", scheme, h->host, h->port, location);
    const char *slash = strrchr(h->path, '/');
    int keep = slash ? (int)(slash - h->path) + 1 : 1;
    return bo_sprintf("%s://%s:%s%.*s%s", scheme, h->host, h->port, keep, slash ? h->path : "/", location);
}

static void on_hop_closed(uv_handle_t *handle);

/* The response is complete: done, or follow a redirect. */
static void response_complete(bo_httpc *h)
{
    int s = h->res.status;
    const char *location = bo_httpc_result_header(&h->res, "location");
    if ((s == 301 || s == 302 || s == 303 || s == 307 || s == 308) && location && h->max_redirects > 0) {
        if (h->redirects >= h->max_redirects) {
            fail(h, BO_ELIMIT, "too many redirects (more than %d) from %s", h->max_redirects, h->url);
            return;
        }
        h->redirects++;
        free(h->location);
        h->location = resolve(h, location);
        if (s == 303 || ((s == 301 || s == 302) && strcmp(h->method, "POST") == 0)) {
            free(h->method);
            h->method = bo_strdup("GET");
            free(h->body);
            h->body = NULL;
            h->body_len = 0;
        }
        /* The next hop starts once this connection has closed. */
        h->tcp.data = h;
        uv_close((uv_handle_t *)&h->tcp, on_hop_closed);
        return;
    }
    finish(h);
}

static void parse(bo_httpc *h, const char *data, size_t len)
{
    int rc = bo_httpc_reader_feed(&h->reader, data, len);
    if (rc == BO_ELIMIT)
        fail(h, BO_ELIMIT, "the response from %s is over %zu bytes", h->host, h->max_response);
    else if (rc < 0)
        fail(h, rc, "a malformed response from %s: %s", h->host, h->reader.why);
    else if (rc == 1)
        response_complete(h);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    BO_UNUSED(suggested);
    bo_httpc *h = handle->data;
    buf->base = bo_buf_reserve(&h->in, 16384);
    buf->len = 16384;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    bo_httpc *h = s->data;
    if (h->finished)
        return;
    if (nread < 0) {
        if (nread == UV_EOF && h->reader.res) {
            parse(h, NULL, 0);               /* a body that ends at close */
            if (!h->finished && !h->reader.complete)
                fail(h, BO_EIO, "%s closed the connection before the response was complete", h->host);
            return;
        }
        fail(h, BO_EIO, "reading from %s failed: %s", h->host, uv_strerror((int)nread));
        return;
    }
    if (nread == 0)
        return;
    if (!h->tls) {
        parse(h, buf->base, (size_t)nread);
        return;
    }
    bo_tls_feed(h->tls, buf->base, (size_t)nread);
    if (!bo_tls_established(h->tls)) {
        int rc = bo_tls_handshake(h->tls);
        flush(h);
        if (rc < 0) {
            fail(h, rc, "TLS with %s: %s", h->host, bo_tls_error(h->tls));
            return;
        }
        if (rc == 0)
            return;
        send_request(h);
    }
    char plain[16384];
    for (;;) {
        long n = bo_tls_read(h->tls, plain, sizeof plain);
        if (n == 0)
            break;
        if (n == BO_ECLOSED) {
            parse(h, NULL, 0);
            if (!h->finished && !h->reader.complete)
                fail(h, BO_EIO, "%s closed the connection before the response was complete", h->host);
            return;
        }
        if (n < 0) {
            fail(h, (int)n, "TLS with %s: %s", h->host, bo_tls_error(h->tls));
            return;
        }
        parse(h, plain, (size_t)n);
        if (h->finished || h->reader.complete)
            return;
    }
}

/* ---- connecting ---- */

static void on_connect(uv_connect_t *c, int status)
{
    bo_httpc *h = c->data;
    h->connect_pending = false;
    if (h->finished)
        return;
    if (status < 0) {
        fail(h, BO_EIO, "cannot connect to %s:%s: %s", h->host, h->port, uv_strerror(status));
        return;
    }
    bo_httpc_reader_init(&h->reader, &h->res, strcmp(h->method, "HEAD") == 0, h->max_response);
    uv_read_start((uv_stream_t *)&h->tcp, on_alloc, on_read);
    if (h->https) {
        char err[200];
        h->tls = bo_tls_new(h->tls_config, h->host, err, sizeof err);
        if (!h->tls) {
            fail(h, BO_EIO, "%s", err);
            return;
        }
        int rc = bo_tls_handshake(h->tls);   /* the ClientHello */
        flush(h);
        if (rc < 0)
            fail(h, rc, "TLS with %s: %s", h->host, bo_tls_error(h->tls));
        return;
    }
    send_request(h);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    bo_httpc *h = req->data;
    h->dns_pending = false;
    if (h->finished) {
        uv_freeaddrinfo(res);
        if (h->open == 0)
            free_httpc(h);
        return;
    }
    if (status < 0 || !res) {
        uv_freeaddrinfo(res);
        fail(h, BO_ENOENT, "cannot find %s: %s", h->host, uv_strerror(status));
        return;
    }
    /* Every address is checked; the first allowed one is connected to. */
    const struct addrinfo *use = NULL, *refused = NULL;
    int port = atoi(h->port);
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        if (!h->allow_address || h->allow_address(h->allow_ud, port, ai->ai_addr)) {
            if (!use)
                use = ai;
        } else if (!refused) {
            refused = ai;
        }
    }
    if (!use) {
        char addr[64] = "no address";
        if (refused && refused->ai_family == AF_INET)
            uv_ip4_name((const struct sockaddr_in *)refused->ai_addr, addr, sizeof addr);
        else if (refused)
            uv_ip6_name((const struct sockaddr_in6 *)refused->ai_addr, addr, sizeof addr);
        uv_freeaddrinfo(res);
        if (!refused)
            fail(h, BO_ENOENT, "cannot find %s: no IP address", h->host);
        else
            fail(h, BO_EPERM, "%sthe app may not reach %s:%s: it is %s, a loopback, private or link-local "
                 "address (name that address in the app's allowed hosts to allow it)",
                 h->redirects ? "redirect refused: " : "", h->host, h->port, addr);
        return;
    }
    uv_tcp_init(h->loop, &h->tcp);
    h->tcp.data = h;
    h->tcp_open = true;
    h->open++;
    h->connect.data = h;
    int rc = uv_tcp_connect(&h->connect, &h->tcp, use->ai_addr, on_connect);
    uv_freeaddrinfo(res);
    if (rc < 0) {
        fail(h, BO_EIO, "cannot connect to %s:%s: %s", h->host, h->port, uv_strerror(rc));
        return;
    }
    h->connect_pending = true;
}

static void start_hop(bo_httpc *h)
{
    /* Reset what one hop leaves behind. */
    bo_tls_free(h->tls);
    h->tls = NULL;
    h->out.len = 0;
    h->in.len = 0;
    h->reader.res = NULL;
    h->reader.complete = false;
    h->res.status = 0;
    h->res.nheaders = 0;
    h->res.headers.len = 0;
    h->res.body.len = 0;
    if (h->https && !h->tls_config) {
        fail(h, BO_EINVAL, "https is not available here (no TLS configuration)");
        return;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    h->dns.data = h;
    int rc = uv_getaddrinfo(h->loop, &h->dns, on_resolved, h->host, h->port, &hints);
    if (rc < 0) {
        fail(h, BO_ENOENT, "cannot find %s: %s", h->host, uv_strerror(rc));
        return;
    }
    h->dns_pending = true;
}

/* A redirect left the origin (scheme, host or port) the caller addressed:
   the headers that carry credentials stay behind, for this hop and every
   later one (as browsers and curl do). */
static void drop_credentials(bo_httpc *h)
{
    size_t kept = 0;
    for (size_t i = 0; i < h->nheaders; i++) {
        const char *name = h->headers[i].name;
        if (strcasecmp(name, "authorization") == 0 || strcasecmp(name, "proxy-authorization") == 0 ||
            strcasecmp(name, "cookie") == 0) {
            free((char *)h->headers[i].name);
            free((char *)h->headers[i].value);
        } else {
            h->headers[kept++] = h->headers[i];
        }
    }
    h->nheaders = kept;
}

static void on_hop_closed(uv_handle_t *handle)
{
    bo_httpc *h = handle->data;
    h->tcp_open = false;
    h->open--;
    if (h->finished) {
        if (h->open == 0 && !h->dns_pending)
            free_httpc(h);
        return;
    }
    char err[300];
    bool was_https = h->https;
    char *was_host = bo_strdup(h->host), *was_port = bo_strdup(h->port);
    int rc = parse_url(h, h->location, err, sizeof err);
    if (rc == 0 && was_https && !h->https) {
        snprintf(err, sizeof err, "from https to http (%s)", h->location);
        rc = BO_EPERM;
    }
    /* parse_url lower-cased the host and wrote the scheme's default port
       out, so equal origins compare equal as strings. */
    if (rc == 0 && (strcmp(was_host, h->host) != 0 || strcmp(was_port, h->port) != 0 || was_https != h->https))
        drop_credentials(h);
    free(was_host);
    free(was_port);
    if (rc < 0) {
        fail(h, rc, "redirect refused: %s", err);
        return;
    }
    start_hop(h);
}

static void on_timeout(uv_timer_t *t)
{
    bo_httpc *h = t->data;
    fail(h, BO_ETIMEDOUT, "no complete response from %s within %.1f s", h->host ? h->host : "the server",
         (double)uv_timer_get_repeat(t) / 1000.0);
}

int bo_httpc_start(bo_httpc **out, uv_loop_t *loop, const bo_httpc_options *o, bo_httpc_done done,
                   void *ud, char *err, size_t errlen)
{
    *out = NULL;
    bo_httpc *h = bo_calloc(1, sizeof *h);
    h->loop = loop;
    h->method = bo_strdup(o->method ? o->method : "GET");
    h->nheaders = o->nheaders;
    h->headers = bo_calloc(o->nheaders ? o->nheaders : 1, sizeof *h->headers);
    for (size_t i = 0; i < o->nheaders; i++) {
        h->headers[i].name = bo_strdup(o->headers[i].name);
        h->headers[i].value = bo_strdup(o->headers[i].value);
    }
    if (o->body_len) {
        h->body = bo_malloc(o->body_len);
        memcpy(h->body, o->body, o->body_len);
        h->body_len = o->body_len;
    }
    h->max_response = o->max_response ? o->max_response : 10 * 1024 * 1024;
    h->max_redirects = o->max_redirects;
    h->tls_config = o->tls;
    h->allow = o->allow;
    h->allow_address = o->allow_address;
    h->allow_ud = o->allow_ud;
    h->done = done;
    h->ud = ud;
    bo_buf_init(&h->out);
    bo_buf_init(&h->writing);
    bo_buf_init(&h->in);
    bo_buf_init(&h->res.headers);
    bo_buf_init(&h->res.body);
    int rc = parse_url(h, o->url, err, errlen);
    if (rc < 0) {
        free_httpc(h);
        return rc;
    }
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    h->open = 1;
    uint64_t timeout = o->timeout_ms ? o->timeout_ms : 30000;
    uv_timer_start(&h->timer, on_timeout, timeout, timeout);
    *out = h;
    start_hop(h);
    return 0;
}

/* ---- the shared client configuration ---- */

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static bo_tls_config *default_tls;
static char default_error[256];
static bool default_tried;

bo_tls_config *bo_httpc_tls_default(char *err, size_t errlen)
{
    pthread_mutex_lock(&default_lock);
    if (!default_tried) {
        default_tried = true;
        const char *file = getenv("SSL_CERT_FILE");
        char why[200];
        if (bo_tls_config_client(&default_tls, file && file[0] ? file : NULL, why, sizeof why) < 0)
            snprintf(default_error, sizeof default_error, "https is not available: %s", why);
    }
    bo_tls_config *c = default_tls;
    if (!c)
        snprintf(err, errlen, "%s", default_error);
    pthread_mutex_unlock(&default_lock);
    return c;
}

void bo_httpc_tls_default_free(void)
{
    pthread_mutex_lock(&default_lock);
    bo_tls_config_free(default_tls);
    default_tls = NULL;
    default_tried = false;
    pthread_mutex_unlock(&default_lock);
}
