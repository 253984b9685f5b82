/*
 * http.c - fuzzes HTTP/1.1 request parsing (core/http.c) the way a
 * connection drives it (core/conn.c): heads, framing, bodies with their
 * limit, chunked bodies, pipelined requests, and multipart bodies streamed
 * to core/multipart.c.
 *
 * The input is one byte of seed for the split points, one byte choosing the
 * body limit, then the bytes a client sends. They are parsed twice: all at
 * once, and arriving in random pieces (each call sees a fresh copy of
 * exactly the bytes offered, unconsumed ones offered again with the new, as
 * conn.c does). Everything the parser reports (each request's head, body
 * and multipart parts, or the status and reason of the error that ends the
 * connection) must be the same however the bytes arrive.
 */
#include "fuzz.h"

#include "http.h"
#include "multipart.h"

#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const size_t limits[] = { 0, 1, 16, 100, 1000, 65536, 1 << 20 };

static char tmp_dir[64];

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

static void put_head(bo_buf *o, const bo_http_request *r)
{
    bo_buf_printf(o, "HEAD %s %u.%u target=", r->method_name, r->http_major, r->http_minor);
    put_bytes(o, bo_http_str(r, r->target), r->target_len);
    bo_buf_puts(o, " path=");
    put_bytes(o, bo_http_str(r, r->path), r->path_len);
    bo_buf_puts(o, " query=");
    put_bytes(o, bo_http_str(r, r->query), r->query_len);
    bo_buf_printf(o, " cl=%lld chunked=%d keep=%d expect=%d body=%d host=%d\n", (long long)r->content_length,
                  r->chunked, r->keep_alive, r->expect_continue, r->has_body, r->host_header);
    for (unsigned i = 0; i < r->nheaders; i++) {
        const bo_http_header *h = &r->headers[i];
        FUZZ_CHECK(h->name + h->name_len < r->raw.len && h->value + h->value_len < r->raw.len);
        FUZZ_CHECK(bo_http_str(r, h->name)[h->name_len] == '\0');
        FUZZ_CHECK(bo_http_str(r, h->value)[h->value_len] == '\0');
        bo_buf_puts(o, "  ");
        put_bytes(o, bo_http_str(r, h->name), h->name_len);
        bo_buf_puts(o, ": ");
        put_bytes(o, bo_http_str(r, h->value), h->value_len);
        bo_buf_putc(o, '\n');
    }
}

static void put_multipart(bo_buf *o, bo_multipart *m)
{
    bo_buf_printf(o, "  multipart done=%d\n", bo_multipart_done(m));
    for (unsigned i = 0; i < bo_multipart_nfields(m); i++) {
        const char *name, *value;
        size_t nlen, vlen;
        bo_multipart_field_at(m, i, &name, &nlen, &value, &vlen);
        bo_buf_puts(o, "  field ");
        put_bytes(o, name, nlen);
        bo_buf_putc(o, '=');
        put_bytes(o, value, vlen);
        bo_buf_putc(o, '\n');
    }
    for (unsigned i = 0; i < bo_multipart_nfiles(m); i++) {
        const bo_upload *f = bo_multipart_file(m, i);
        bo_buf_printf(o, "  file %s name=%s size=%llu type=%u error=%d\n", f->field, f->name,
                      (unsigned long long)f->size, f->type, f->error);
    }
}

/*
 * Parses data[0..len) as one connection, the bytes arriving all at once
 * (seed 0) or in pieces from seed, and writes what happened to o.
 */
static void run(const char *data, size_t len, size_t max_body, unsigned seed, bo_buf *o)
{
    bo_http_request req;
    bo_http_parser p;
    bo_http_request_init(&req);
    bo_http_parser_init(&p, &req);
    fuzz_rng rng;
    fuzz_rng_seed(&rng, seed);
    size_t consumed = 0, avail = 0;
    bool over = false;
    while (!over && avail < len) {
        avail += seed ? fuzz_rng_piece(&rng, len - avail) : len;
        for (;;) {
            size_t n = avail - consumed, used = (size_t)-1;
            char *copy = bo_malloc(n ? n : 1);
            memcpy(copy, data + consumed, n);
            bo_http_event ev = bo_http_parse(&p, copy, n, &used);
            free(copy);
            FUZZ_CHECK(used <= n);
            consumed += used;
            if (ev == BO_HTTP_AGAIN) {
                /* All taken, but a head waits whole for its end (phase 0: http.c's PHASE_HEAD). */
                FUZZ_CHECK(used == n || p.phase == 0);
                break;
            }
            if (ev == BO_HTTP_ERROR) {
                FUZZ_CHECK(p.status >= 400 && p.status < 600 && p.error);
                bo_buf_printf(o, "ERROR %d %s\n", p.status, p.error);
                over = true;
                break;
            }
            if (ev == BO_HTTP_HEAD) {
                put_head(o, &req);
                if (req.content_length > 0 && (uint64_t)req.content_length > max_body) {
                    bo_buf_puts(o, "ERROR 413 body over the limit (declared)\n");
                    over = true;
                    break;
                }
                p.max_body = max_body;
                size_t ct_len;
                const char *ct = bo_http_header_get(&req, "content-type", &ct_len);
                if (req.has_body && ct && ct_len >= 19 && strncasecmp(ct, "multipart/form-data", 19) == 0) {
                    static const bo_upload_rule rules[] = { { "small", 4, BO_FILE_TXT | BO_FILE_CSV } };
                    bo_multipart *m;
                    if (bo_multipart_new(&m, ct, ct_len, tmp_dir, rules, 1, 64, BO_FILE_ALL) < 0) {
                        bo_buf_puts(o, "ERROR 400 a multipart body without a boundary\n");
                        over = true;
                        break;
                    }
                    bo_http_stream_multipart(&p, m);
                }
                continue;
            }
            FUZZ_CHECK(ev == BO_HTTP_DONE);
            FUZZ_CHECK(req.multipart || req.body.len == p.body_bytes);
            bo_buf_printf(o, "DONE %zu bytes: ", p.body_bytes);
            put_bytes(o, req.body.data, req.body.len);
            bo_buf_putc(o, '\n');
            if (req.multipart)
                put_multipart(o, req.multipart);
            if (!req.keep_alive) {
                over = true;
                break;
            }
            bo_http_request_reset(&req);
            bo_http_parser_reset(&p);
        }
    }
    if (!over)
        bo_buf_printf(o, "WAITING after %zu bytes\n", consumed);
    bo_http_request_free(&req);
}

/* The temporary folders multipart made (its files are gone with it). */
static void remove_tmp(void)
{
    char path[64];
    snprintf(path, sizeof path, "%s", tmp_dir);
    for (int i = 0; i < 3; i++) {
        rmdir(path);
        char *slash = strrchr(path, '/');
        if (slash)
            *slash = '\0';
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/borough-fuzz-http-%d", (int)getpid());
        mkdir(tmp_dir, 0700);     /* multipart makes files/ and files/tmp/ under it */
        strcat(tmp_dir, "/files/tmp");
        atexit(remove_tmp);
    }
    unsigned seed = fuzz_take_byte(&data, &size);
    size_t max_body = limits[fuzz_take_byte(&data, &size) % BO_COUNT(limits)];
    bo_buf whole, pieces;
    bo_buf_init(&whole);
    bo_buf_init(&pieces);
    run((const char *)data, size, max_body, 0, &whole);
    run((const char *)data, size, max_body, seed + 1, &pieces);
    bo_buf_putc(&whole, '\0');
    bo_buf_putc(&pieces, '\0');
    if (getenv("FUZZ_SHOW"))      /* FUZZ_SHOW=1 build/test_fuzz_http FILE shows what was parsed */
        fputs(whole.data, stderr);
    FUZZ_CHECK_SAME(whole.data, pieces.data);
    bo_buf_free(&whole);
    bo_buf_free(&pieces);
    return 0;
}
