/*
 * httpc.c - fuzzes the outbound client's response parser (core/httpc.c,
 * bo_httpc_reader): what an upstream server answers to http.request and
 * to the Notify sender.
 *
 * The input is one byte of seed for the split points, one byte choosing
 * the request method (HEAD or not) and the body limit, then the bytes the
 * server sends before it closes the connection. They are read twice, all
 * at once and in random pieces: the outcome (the status, every header, the
 * body, or the refusal and its reason) must be the same. A response taken
 * has a final status (200..599), header names of lower-case token
 * characters and values without control characters, laid out so that the
 * "name\0value\0" list ends exactly where its buffer does (a NUL inside a
 * value shifted every later name and value), and a body within the limit.
 */
#include "fuzz.h"

#include "httpc.h"

#include <string.h>

static void put_bytes(bo_buf *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            bo_buf_putc(o, (char)c);
        else
            bo_buf_printf(o, "\\x%02x", c);
    }
}

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void run(const char *data, size_t len, unsigned config, unsigned seed, bo_buf *o)
{
    bo_httpc_result res;
    memset(&res, 0, sizeof res);
    bo_buf_init(&res.headers);
    bo_buf_init(&res.body);
    bo_httpc_reader r;
    size_t max = config & 2 ? 16 : 1 << 20;
    bo_httpc_reader_init(&r, &res, config & 1, max);
    fuzz_rng rng;
    fuzz_rng_seed(&rng, seed);
    int rc = 0;
    for (size_t at = 0; at < len && rc == 0;) {
        size_t n = seed ? fuzz_rng_piece(&rng, len - at) : len;
        char *copy = bo_malloc(n);
        memcpy(copy, data + at, n);
        rc = bo_httpc_reader_feed(&r, copy, n);
        free(copy);
        at += n;
    }
    if (rc == 0)
        rc = bo_httpc_reader_feed(&r, NULL, 0);      /* the server closes */
    if (rc < 0) {
        FUZZ_CHECK((rc == BO_EPARSE || rc == BO_ELIMIT) && r.why);
        FUZZ_CHECK(bo_httpc_reader_feed(&r, "x", 1) == rc);
        bo_buf_printf(o, "refused %d: %s\n", rc, r.why);
    } else if (rc == 0) {
        bo_buf_puts(o, "incomplete\n");
    } else {
        FUZZ_CHECK(res.status >= 200 && res.status <= 599);
        FUZZ_CHECK(res.body.len <= max);
        bo_buf_printf(o, "status %d, %zu headers\n", res.status, res.nheaders);
        const char *p = res.headers.data, *location = NULL;
        for (size_t i = 0; i < res.nheaders; i++) {
            size_t nl = strlen(p);
            const char *v = p + nl + 1;
            size_t vl = strlen(v);
            FUZZ_CHECK(nl > 0);
            for (size_t k = 0; k < nl; k++)
                FUZZ_CHECK(is_tchar((unsigned char)p[k]));
            for (size_t k = 0; k < vl; k++)
                FUZZ_CHECK((unsigned char)v[k] >= 0x20 || v[k] == '\t');
            if (!location && strcmp(p, "location") == 0)
                location = v;
            put_bytes(o, p, nl);
            bo_buf_puts(o, ": ");
            put_bytes(o, v, vl);
            bo_buf_putc(o, '\n');
            p = v + vl + 1;
        }
        /* The list ends exactly where its buffer does. */
        FUZZ_CHECK(res.nheaders == 0 || p == res.headers.data + res.headers.len);
        FUZZ_CHECK(bo_httpc_result_header(&res, "location") == location);
        bo_buf_puts(o, "body: ");
        put_bytes(o, res.body.data, res.body.len);
        bo_buf_putc(o, '\n');
    }
    bo_buf_free(&res.headers);
    bo_buf_free(&res.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned seed = fuzz_take_byte(&data, &size);
    unsigned config = fuzz_take_byte(&data, &size);
    bo_buf whole, pieces;
    bo_buf_init(&whole);
    bo_buf_init(&pieces);
    run((const char *)data, size, config, 0, &whole);
    run((const char *)data, size, config, seed + 1, &pieces);
    bo_buf_putc(&whole, '\0');
    bo_buf_putc(&pieces, '\0');
    if (getenv("FUZZ_SHOW"))
        fputs(whole.data, stderr);
    FUZZ_CHECK_SAME(whole.data, pieces.data);
    bo_buf_free(&whole);
    bo_buf_free(&pieces);
    return 0;
}
