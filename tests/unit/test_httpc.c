/*
 * test_httpc.c - the outbound HTTP client (core/httpc.c) against a small
 * scripted server written here on the same uv loop: plain and TLS (with
 * certificates made by openssl), chunked and close-delimited bodies,
 * redirects, limits, time-outs, refused hosts and cancellation.
 */
#include "httpc.h"
#include "tls.h"
#include "unit.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static char dir[] = "/tmp/borough-httpc-XXXXXX";
static uv_loop_t loop;
static uv_tcp_t listener;
static int port;
static bo_tls_config *server_tls;    /* non-NULL: the server speaks TLS */
static bo_tls_config *client_tls;

/* ---- the scripted server ---- */

typedef struct peer {
    uv_tcp_t tcp;
    bo_buf in;
    bo_tls *tls;
    bool answered;
} peer;

static void peer_closed(uv_handle_t *h)
{
    peer *p = (peer *)h;
    bo_buf_free(&p->in);
    bo_tls_free(p->tls);
    free(p);
}

static void written(uv_write_t *w, int status)
{
    BO_UNUSED(status);
    free(w->data);
    free(w);
}

static void send_raw(peer *p, const char *data, size_t len)
{
    uv_write_t *w = malloc(sizeof *w);
    char *copy = malloc(len ? len : 1);
    memcpy(copy, data, len);
    w->data = copy;
    uv_buf_t b = uv_buf_init(copy, (unsigned)len);
    uv_write(w, (uv_stream_t *)&p->tcp, &b, 1, written);
}

static void send_out(peer *p, const char *data, size_t len)
{
    if (!p->tls) {
        send_raw(p, data, len);
        return;
    }
    bo_tls_write(p->tls, data, len);
    bo_buf *o = bo_tls_output(p->tls);
    send_raw(p, o->data, o->len);
    o->len = 0;
}

static void sendf(peer *p, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    send_out(p, buf, (size_t)n);
}

static void close_peer(peer *p)
{
    if (!uv_is_closing((uv_handle_t *)&p->tcp))
        uv_close((uv_handle_t *)&p->tcp, peer_closed);
}

/* Answers by path once the whole request has arrived. */
static void answer(peer *p)
{
    char *end = strstr(p->in.data, "\r\n\r\n");
    if (!end || p->answered)
        return;
    const char *cl = strcasestr(p->in.data, "content-length: ");
    size_t body = cl ? (size_t)atoi(cl + 16) : 0;
    if ((size_t)(end + 4 - p->in.data) + body > p->in.len)
        return;
    p->answered = true;
    char method[16], path[256];
    sscanf(p->in.data, "%15s %255s", method, path);
    if (strcmp(path, "/ok") == 0) {
        sendf(p, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Twice: a\r\nX-Twice: b\r\n"
                 "Content-Length: 5\r\n\r\nhello");
    } else if (strcmp(path, "/echo") == 0) {
        sendf(p, "HTTP/1.1 201 Created\r\nContent-Length: %zu\r\n\r\n%s %.*s", strlen(method) + 1 + body,
              method, (int)body, end + 4);
    } else if (strcmp(path, "/headers") == 0) {
        size_t n = (size_t)(end - p->in.data);
        sendf(p, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%.*s", n, (int)n, p->in.data);
    } else if (strcmp(path, "/chunked") == 0) {
        sendf(p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
    } else if (strcmp(path, "/close") == 0) {
        sendf(p, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
        if (p->tls) {
            bo_tls_close(p->tls);
            bo_buf *o = bo_tls_output(p->tls);
            send_raw(p, o->data, o->len);
            o->len = 0;
        }
        close_peer(p);
        return;
    } else if (strcmp(path, "/redirect") == 0) {
        sendf(p, "HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/see-other") == 0) {
        sendf(p, "HTTP/1.1 303 See Other\r\nLocation: /echo\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/loop") == 0) {
        sendf(p, "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/away") == 0) {
        sendf(p, "HTTP/1.1 302 Found\r\nLocation: http://elsewhere.test/\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/big") == 0) {
        size_t n = 64 * 1024;
        char *big = malloc(n);
        memset(big, 'x', n);
        sendf(p, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
        send_out(p, big, n);
        free(big);
    } else if (strcmp(path, "/garbage") == 0) {
        sendf(p, "HTTQ/9 what\r\n\r\n");
    } else if (strcmp(path, "/nul-header") == 0) {
        /* A value starting with NUL: the "name\0value\0" list would shift. */
        static const char r[] = "HTTP/1.1 302 Found\r\nX-A: \0/evil\r\nX-B: /ok\r\nLocation: /ok\r\n"
                                "Content-Length: 0\r\n\r\n";
        send_out(p, r, sizeof r - 1);
    } else if (strcmp(path, "/ctl-header") == 0) {
        sendf(p, "HTTP/1.1 200 OK\r\nX-A: a\001b\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/space-name") == 0) {
        sendf(p, "HTTP/1.1 302 Found\r\nLocation : /ok\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/status-99") == 0) {
        sendf(p, "HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nok");
    } else if (strcmp(path, "/status-600") == 0) {
        sendf(p, "HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok");
    } else if (strcmp(path, "/interim") == 0) {
        sendf(p, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    } else if (strcmp(path, "/trailer") == 0) {
        sendf(p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Twice: a\r\n\r\n"
                 "3\r\nabc\r\n0\r\nX-Twice: t\r\nX-Other: o\r\n\r\n");
    } else if (strcmp(path, "/hang-in-head") == 0) {
        sendf(p, "HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: 2");
        return;   /* and no more */
    } else if (strcmp(path, "/hang") == 0) {
        return;   /* never answers */
    } else {
        sendf(p, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
}

static void peer_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    BO_UNUSED(h);
    b->base = malloc(s);
    b->len = s;
}

static void peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    peer *p = (peer *)s;
    if (n < 0) {
        free(b->base);
        close_peer(p);
        return;
    }
    if (p->tls) {
        bo_tls_feed(p->tls, b->base, (size_t)n);
        if (!bo_tls_established(p->tls)) {
            int rc = bo_tls_handshake(p->tls);
            bo_buf *o = bo_tls_output(p->tls);
            if (o->len)
                send_raw(p, o->data, o->len);
            o->len = 0;
            if (rc < 0)
                close_peer(p);
        }
        char plain[8192];
        long got;
        while (bo_tls_established(p->tls) && (got = bo_tls_read(p->tls, plain, sizeof plain)) > 0)
            bo_buf_append(&p->in, plain, (size_t)got);
    } else {
        bo_buf_append(&p->in, b->base, (size_t)n);
    }
    free(b->base);
    bo_buf_putc(&p->in, '\0');
    p->in.len--;
    answer(p);
}

static void on_peer(uv_stream_t *l, int status)
{
    BO_UNUSED(status);
    peer *p = calloc(1, sizeof *p);
    uv_tcp_init(&loop, &p->tcp);
    uv_accept(l, (uv_stream_t *)&p->tcp);
    bo_buf_init(&p->in);
    if (server_tls) {
        char err[200];
        p->tls = bo_tls_new(server_tls, NULL, err, sizeof err);
    }
    uv_read_start((uv_stream_t *)&p->tcp, peer_alloc, peer_read);
}

/* ---- running exchanges ---- */

typedef struct outcome {
    bool done;
    int error;
    char message[300];
    int status;
    char body[128 * 1024];
    size_t body_len;
    char header_twice[64];
    bool headers_laid_out;     /* the "name\0value\0" list ends where its buffer does */
    size_t nheaders;
    char url[256];
} outcome;

static void on_done(bo_httpc *h, const bo_httpc_result *r, void *ud)
{
    BO_UNUSED(h);
    outcome *o = ud;
    o->done = true;
    o->error = r->error;
    snprintf(o->message, sizeof o->message, "%s", r->message ? r->message : "");
    o->status = r->status;
    o->nheaders = r->nheaders;
    o->body_len = r->body.len < sizeof o->body ? r->body.len : sizeof o->body;
    memcpy(o->body, r->body.data ? r->body.data : "", o->body_len);
    snprintf(o->url, sizeof o->url, "%s", r->url ? r->url : "");
    const char *p = r->headers.data;
    o->header_twice[0] = '\0';
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *v = p + strlen(p) + 1;
        if (strcmp(p, "x-twice") == 0) {
            strncat(o->header_twice, v, sizeof o->header_twice - strlen(o->header_twice) - 2);
            strcat(o->header_twice, ";");
        }
        p = v + strlen(v) + 1;
    }
    o->headers_laid_out = r->nheaders == 0 || p == r->headers.data + r->headers.len;
}

static bool allow_local(void *ud, const char *host, int p)
{
    BO_UNUSED(ud);
    BO_UNUSED(p);
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0;
}

static outcome result;

static int fetch(const char *method, const char *path, const char *body, uint64_t timeout, size_t max,
                 const char *host)
{
    char url[256];
    snprintf(url, sizeof url, "%s://%s:%d%s", server_tls ? "https" : "http", host ? host : "127.0.0.1",
             port, path);
    bo_httpc_header hdr = { "X-Test", "yes" };
    bo_httpc_options o = {
        .method = method, .url = url, .headers = &hdr, .nheaders = 1,
        .body = body, .body_len = body ? strlen(body) : 0,
        .timeout_ms = timeout ? timeout : 5000, .max_response = max, .max_redirects = 3,
        .tls = client_tls, .allow = allow_local,
    };
    memset(&result, 0, sizeof result);
    bo_httpc *h;
    char err[300];
    int rc = bo_httpc_start(&h, &loop, &o, on_done, &result, err, sizeof err);
    if (rc < 0) {
        snprintf(result.message, sizeof result.message, "%s", err);
        return rc;
    }
    while (!result.done)
        uv_run(&loop, UV_RUN_ONCE);
    return 0;
}

TEST(get_and_headers)
{
    CHECK_EQ_INT(fetch("GET", "/ok", NULL, 0, 0, NULL), 0);
    CHECK_EQ_INT(result.error, 0);
    CHECK_EQ_INT(result.status, 200);
    CHECK_MEM(result.body, result.body_len, "hello");
    CHECK_STR(result.header_twice, "a;b;");
    CHECK(result.headers_laid_out);
}

TEST(post_sends_the_body)
{
    CHECK_EQ_INT(fetch("POST", "/echo", "name=Ada", 0, 0, NULL), 0);
    CHECK_EQ_INT(result.status, 201);
    CHECK_MEM(result.body, result.body_len, "POST name=Ada");
}

TEST(request_head_is_well_formed)
{
    CHECK_EQ_INT(fetch("GET", "/headers", NULL, 0, 0, NULL), 0);
    result.body[result.body_len] = '\0';
    char want[128];
    snprintf(want, sizeof want, "GET /headers HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", port);
    CHECK(strncmp(result.body, want, strlen(want)) == 0);
    CHECK(strstr(result.body, "\r\nX-Test: yes\r\n") != NULL);
    CHECK(strstr(result.body, "\r\nUser-Agent: borough/") != NULL);
    CHECK(strstr(result.body, "\r\nConnection: close") != NULL);
}

TEST(chunked_and_close_delimited)
{
    fetch("GET", "/chunked", NULL, 0, 0, NULL);
    CHECK_EQ_INT(result.error, 0);
    CHECK_MEM(result.body, result.body_len, "abcdefg");
    fetch("GET", "/close", NULL, 0, 0, NULL);
    CHECK_EQ_INT(result.error, 0);
    CHECK_MEM(result.body, result.body_len, "until the end");
    /* Trailers are not headers: they were added to the list after its end,
       misaligning it (found by tests/fuzz/httpc.c). */
    fetch("GET", "/trailer", NULL, 0, 0, NULL);
    CHECK_EQ_INT(result.error, 0);
    CHECK_MEM(result.body, result.body_len, "abc");
    CHECK_STR(result.header_twice, "a;");
    CHECK(result.headers_laid_out);
}

TEST(redirects_are_followed_and_bounded)
{
    fetch("GET", "/redirect", NULL, 0, 0, NULL);
    CHECK_EQ_INT(result.status, 200);
    CHECK_MEM(result.body, result.body_len, "hello");
    CHECK(strstr(result.url, "/ok") != NULL);
    fetch("POST", "/see-other", "x=1", 0, 0, NULL);     /* 303: GET, no body */
    CHECK_EQ_INT(result.status, 201);
    CHECK_MEM(result.body, result.body_len, "GET ");
    fetch("GET", "/loop", NULL, 0, 0, NULL);
    CHECK_EQ_INT(result.error, BO_ELIMIT);
    CHECK(strstr(result.message, "too many redirects") != NULL);
    fetch("GET", "/away", NULL, 0, 0, NULL);            /* to a host the policy refuses */
    CHECK_EQ_INT(result.error, BO_EPERM);
    CHECK(strstr(result.message, "may not reach elsewhere.test") != NULL);
}

TEST(limits_and_timeouts)
{
    fetch("GET", "/big", NULL, 0, 1000, NULL);
    CHECK_EQ_INT(result.error, BO_ELIMIT);
    CHECK(strstr(result.message, "over 1000 bytes") != NULL);
    fetch("GET", "/big", NULL, 0, 0, NULL);
    CHECK_EQ_INT(result.error, 0);
    CHECK_EQ_INT(result.body_len, 64 * 1024);
    fetch("GET", "/hang", NULL, 300, 0, NULL);
    CHECK_EQ_INT(result.error, BO_ETIMEDOUT);
    CHECK(strstr(result.message, "within 0.3 s") != NULL);
    fetch("GET", "/garbage", NULL, 0, 0, NULL);
    CHECK_EQ_INT(result.error, BO_EPARSE);
}

/* What the response parser refuses (found by tests/fuzz/httpc.c): a header
   value with a control character (one starting with NUL shifted every later
   name and value, so that location could read as another header's value),
   a space before the colon, a status outside 100..599; interim 1xx
   responses are skipped for the final one. */
TEST(malformed_responses_are_refused)
{
    static const char *const bad[] = { "/nul-header", "/ctl-header", "/space-name", "/status-99", "/status-600" };
    for (size_t i = 0; i < BO_COUNT(bad); i++) {
        fetch("GET", bad[i], NULL, 0, 0, NULL);
        if (result.error != BO_EPARSE)
            printf("  %s: error %d status %d url %s\n", bad[i], result.error, result.status, result.url);
        CHECK_EQ_INT(result.error, BO_EPARSE);
        CHECK(strstr(result.message, "a malformed response from 127.0.0.1") != NULL);
        CHECK_EQ_INT(result.status, 0);      /* nothing half read */
        CHECK_EQ_INT(result.nheaders, 0);
    }
    /* A response cut short in its head: nothing of it (the header list was
       left unterminated). */
    fetch("GET", "/hang-in-head", NULL, 300, 0, NULL);
    CHECK_EQ_INT(result.error, BO_ETIMEDOUT);
    CHECK_EQ_INT(result.nheaders, 0);
    CHECK_EQ_INT(result.body_len, 0);
    fetch("GET", "/interim", NULL, 0, 0, NULL);
    CHECK_EQ_INT(result.error, 0);
    CHECK_EQ_INT(result.status, 200);
    CHECK_MEM(result.body, result.body_len, "hello");
}

TEST(refusals_before_anything_is_sent)
{
    CHECK_EQ_INT(fetch("GET", "/ok", NULL, 0, 0, "example.org"), BO_EPERM);
    CHECK(strstr(result.message, "may not reach example.org") != NULL);
    bo_httpc *h;
    char err[300];
    bo_httpc_options o = { .url = "ftp://127.0.0.1/x" };
    CHECK_EQ_INT(bo_httpc_start(&h, &loop, &o, on_done, &result, err, sizeof err), BO_EINVAL);
    CHECK(strstr(err, "only http and https") != NULL);
    o.url = "http://user:pw@127.0.0.1/";
    CHECK_EQ_INT(bo_httpc_start(&h, &loop, &o, on_done, &result, err, sizeof err), BO_EINVAL);
    o.url = "/relative";
    CHECK_EQ_INT(bo_httpc_start(&h, &loop, &o, on_done, &result, err, sizeof err), BO_EINVAL);
}

TEST(connection_refused)
{
    bo_httpc_options o = { .url = "http://127.0.0.1:1/", .timeout_ms = 2000 };
    memset(&result, 0, sizeof result);
    bo_httpc *h;
    char err[300];
    CHECK_EQ_INT(bo_httpc_start(&h, &loop, &o, on_done, &result, err, sizeof err), 0);
    while (!result.done)
        uv_run(&loop, UV_RUN_ONCE);
    CHECK_EQ_INT(result.error, BO_EIO);
    CHECK(strstr(result.message, "cannot connect") != NULL);
}

TEST(cancel_runs_no_callback)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hang", port);
    bo_httpc_options o = { .url = url, .timeout_ms = 5000 };
    memset(&result, 0, sizeof result);
    bo_httpc *h;
    char err[300];
    CHECK_EQ_INT(bo_httpc_start(&h, &loop, &o, on_done, &result, err, sizeof err), 0);
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    bo_httpc_cancel(h);
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(!result.done);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

TEST(https_with_a_test_ca)
{
    char cert[300], key[300], ca[300], err[300];
    snprintf(cert, sizeof cert, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    CHECK_EQ_INT(bo_tls_config_server(&server_tls, cert, key, err, sizeof err), 0);
    CHECK_EQ_INT(bo_tls_config_client(&client_tls, ca, err, sizeof err), 0);
    fetch("GET", "/ok", NULL, 0, 0, "localhost");
    CHECK_EQ_INT(result.error, 0);
    CHECK_MEM(result.body, result.body_len, "hello");
    fetch("POST", "/echo", "over tls", 0, 0, "localhost");
    CHECK_MEM(result.body, result.body_len, "POST over tls");
    fetch("GET", "/close", NULL, 0, 0, "localhost");
    CHECK_MEM(result.body, result.body_len, "until the end");
    /* The certificate is for localhost, not 127.0.0.1. */
    fetch("GET", "/ok", NULL, 0, 0, "127.0.0.1");
    CHECK_EQ_INT(result.error, BO_EPERM);
    CHECK(strstr(result.message, "certificate verification failed") != NULL);
    /* The system store does not know the test CA. */
    bo_tls_config *system_store;
    CHECK_EQ_INT(bo_tls_config_client(&system_store, NULL, err, sizeof err), 0);
    bo_tls_config *mine = client_tls;
    client_tls = system_store;
    fetch("GET", "/ok", NULL, 0, 0, "localhost");
    CHECK_EQ_INT(result.error, BO_EPERM);
    CHECK(strstr(result.message, "not correctly signed") != NULL);
    client_tls = mine;
    bo_tls_config_free(system_store);
    bo_tls_config_free(server_tls);
    bo_tls_config_free(client_tls);
    server_tls = client_tls = NULL;
}

static const unit_case cases[] = {
    UNIT_CASE(get_and_headers)
    UNIT_CASE(post_sends_the_body)
    UNIT_CASE(request_head_is_well_formed)
    UNIT_CASE(chunked_and_close_delimited)
    UNIT_CASE(redirects_are_followed_and_bounded)
    UNIT_CASE(limits_and_timeouts)
    UNIT_CASE(malformed_responses_are_refused)
    UNIT_CASE(refusals_before_anything_is_sent)
    UNIT_CASE(connection_refused)
    UNIT_CASE(cancel_runs_no_callback)
    UNIT_CASE(https_with_a_test_ca)
};

static void walk_close(uv_handle_t *h, void *arg)
{
    BO_UNUSED(arg);
    if (!uv_is_closing(h))
        uv_close(h, h == (uv_handle_t *)&listener ? NULL : peer_closed);
}

int main(void)
{
    if (!mkdtemp(dir) ||
        sh("cd %s && "
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
           "  -subj /CN=test-ca -keyout ca.key -out ca.pem 2>/dev/null && "
           "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost "
           "  -keyout server.key -out server.csr 2>/dev/null && "
           "printf 'subjectAltName=DNS:localhost\\n' > ext.cnf && "
           "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
           "  -extfile ext.cnf -out server.pem 2>/dev/null",
           dir) != 0) {
        printf("cannot make test certificates with openssl\n0 passed, 1 failed\n");
        return 1;
    }
    uv_loop_init(&loop);
    uv_tcp_init(&loop, &listener);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_bind(&listener, (struct sockaddr *)&addr, 0);
    uv_listen((uv_stream_t *)&listener, 64, on_peer);
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&listener, (struct sockaddr *)&bound, &len);
    port = ntohs(((struct sockaddr_in *)&bound)->sin_port);

    int rc = UNIT_RUN("httpc", cases);

    uv_walk(&loop, walk_close, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    sh("rm -rf %s", dir);
    return rc;
}
