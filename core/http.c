/*
 * http.c - strict HTTP/1.1 request parsing over http-parser (see http.h).
 *
 * The head is handled in two passes. First a line scanner finds where the
 * head ends, refusing what http-parser 2.9 would accept but later parsers
 * reject: a bare LF or CR, obs-fold continuation lines, a head over 16 KiB or
 * over 100 header lines. Only then is the complete head given to http-parser
 * in one call, so no callback ever sees half a token; the callbacks copy the
 * target and headers into the request and check each header. At the end of
 * the head the framing is judged: Content-Length and Transfer-Encoding
 * together, twice, malformed, or an unknown coding are all 400.
 * The body then streams through http-parser with its size bounded by
 * max_body; chunk framing is checked strictly (CRLF line ends, CRLF after
 * each chunk's data) and bounded relative to the data it carries.
 */
#include "http.h"
#include "multipart.h"

#include <string.h>
#include <strings.h>

enum { PHASE_HEAD, PHASE_BODY, PHASE_DONE, PHASE_ERROR };
enum { CB_NONE, CB_FIELD, CB_VALUE };
/* Where check_chunk_framing() is: in a line, after its CR, or after chunk data. */
enum { CF_LINE_START, CF_LINE, CF_CR, CF_DATA_END, CF_DATA_END_CR };
/* What check_chunk_framing() knows of the line it is in (bits): past the
   last chunk, in a size line's digits, a digit seen, a digit not 0 seen,
   in a trailer's name. */
enum { CL_TRAILERS = 1, CL_DIGITS = 2, CL_SIZE = 4, CL_NONZERO = 8, CL_NAME = 16 };

/* Framing allowed around body data in a chunked body: a fixed allowance
   for sizes, extensions and trailers, plus a multiple of the data. */
#define FRAMING_BASE 4096
#define FRAMING_PER_BODY_BYTE 8

void bo_http_request_init(bo_http_request *r)
{
    memset(r, 0, sizeof *r);
    bo_buf_init(&r->raw);
    bo_buf_init(&r->body);
    r->host_header = -1;
    r->content_length = -1;
}

void bo_http_request_free(bo_http_request *r)
{
    bo_buf_free(&r->raw);
    bo_buf_free(&r->body);
    bo_multipart_free(r->multipart);
    r->multipart = NULL;
}

void bo_http_request_reset(bo_http_request *r)
{
    bo_buf raw = r->raw, body = r->body;
    bo_buf_reset(&raw, 64 * 1024);
    bo_buf_reset(&body, 256 * 1024);
    r->method = 0;
    r->method_name = NULL;
    r->http_major = r->http_minor = 0;
    r->target = r->target_len = r->path = r->path_len = r->query = r->query_len = 0;
    r->nheaders = 0;
    r->host_header = -1;
    r->content_length = -1;
    r->chunked = r->keep_alive = r->expect_continue = r->has_body = false;
    r->raw = raw;
    r->body = body;
    bo_multipart_free(r->multipart);   /* temporary files not kept go too */
    r->multipart = NULL;
}

static bo_http_parser *parser_of(http_parser *hp)
{
    return (bo_http_parser *)hp->data;
}

static int fail(bo_http_parser *p, int status, const char *why)
{
    if (p->phase != PHASE_ERROR) {
        p->phase = PHASE_ERROR;
        p->status = status;
        p->error = why;
    }
    return -1;
}

/* Appends a NUL-terminated copy to raw and returns its offset. */
static uint32_t keep(bo_http_request *r, const char *at, size_t n)
{
    uint32_t off = (uint32_t)r->raw.len;
    bo_buf_append(&r->raw, at, n);
    bo_buf_putc(&r->raw, '\0');
    return off;
}

/* Extends the item last kept (it ends at raw.len - 1) by n more bytes. */
static void extend(bo_http_request *r, const char *at, size_t n)
{
    r->raw.len--;   /* drop the NUL */
    bo_buf_append(&r->raw, at, n);
    bo_buf_putc(&r->raw, '\0');
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
    bo_http_parser *p = parser_of(hp);
    bo_http_request *r = p->req;
    if (r->target_len == 0) {
        r->target = keep(r, at, n);
        r->target_len = (uint32_t)n;
    } else {
        extend(r, at, n);
        r->target_len += (uint32_t)n;
    }
    return 0;
}

/* RFC 9110 token characters, the only ones allowed in a field name. */
static bool is_tchar(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr(extra, c));
}

/*
 * Refuses a Content-Length or Transfer-Encoding that clashes with one seen
 * before (index is the header just named). This runs as each name ends,
 * before http-parser reads the value, so the verdict is ours whatever the
 * parser underneath would make of it.
 */
static int check_framing_name(bo_http_parser *p, unsigned index)
{
    bo_http_request *r = p->req;
    const bo_http_header *h = &r->headers[index];
    bo_str name = { bo_http_str(r, h->name), h->name_len };
    bool length = bo_str_ieq(name, "content-length");
    if (!length && !bo_str_ieq(name, "transfer-encoding"))
        return 0;
    for (unsigned i = 0; i < index; i++) {
        const bo_http_header *o = &r->headers[i];
        bo_str other = { bo_http_str(r, o->name), o->name_len };
        if (bo_str_ieq(other, "content-length"))
            return fail(p, 400, length ? "more than one Content-Length"
                                       : "both Content-Length and Transfer-Encoding");
        if (bo_str_ieq(other, "transfer-encoding"))
            return fail(p, 400, length ? "both Content-Length and Transfer-Encoding"
                                       : "more than one Transfer-Encoding");
    }
    return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
    bo_http_parser *p = parser_of(hp);
    bo_http_request *r = p->req;
    if (p->phase == PHASE_BODY)
        return 0;   /* a trailer: not kept; check_chunk_framing() judges it in order */
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)at[i]))
            return fail(p, 400, "invalid character in a header name");
    if (p->last_callback == CB_FIELD) {
        bo_http_header *h = &r->headers[r->nheaders - 1];
        extend(r, at, n);
        h->name_len += (uint32_t)n;
        return check_framing_name(p, r->nheaders - 1);
    }
    if (r->nheaders == BO_HTTP_MAX_HEADERS)
        return fail(p, 431, "too many header fields");
    bo_http_header *h = &r->headers[r->nheaders++];
    h->name = keep(r, at, n);
    h->name_len = (uint32_t)n;
    h->value = h->value_len = 0;
    p->last_callback = CB_FIELD;
    return check_framing_name(p, r->nheaders - 1);
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
    bo_http_parser *p = parser_of(hp);
    bo_http_request *r = p->req;
    if (p->phase == PHASE_BODY)
        return 0;   /* a trailer: not kept; check_chunk_framing() judges it in order */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)at[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(p, 400, "invalid character in a header value");
    }
    bo_http_header *h = &r->headers[r->nheaders - 1];
    if (p->last_callback == CB_VALUE) {
        extend(r, at, n);
        h->value_len += (uint32_t)n;
    } else {
        h->value = keep(r, at, n);
        h->value_len = (uint32_t)n;
    }
    p->last_callback = CB_VALUE;
    return 0;
}

static bo_str trim(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return (bo_str){ s, n };
}

/* Content-Length must be 1*DIGIT, and small enough to be a real size. */
static int parse_length(bo_str v, int64_t *out)
{
    if (v.len == 0 || v.len > 15)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return -1;
        n = n * 10 + (v.ptr[i] - '0');
    }
    *out = n;
    return 0;
}

/* Judges the framing and fills the derived request fields. */
static int check_head(bo_http_parser *p)
{
    bo_http_request *r = p->req;
    http_parser *hp = &p->hp;
    int lengths = 0, codings = 0;

    r->method = hp->method;
    r->method_name = http_method_str(hp->method);
    r->http_major = (unsigned char)hp->http_major;
    r->http_minor = (unsigned char)hp->http_minor;
    if (hp->http_major != 1)
        return fail(p, 505, "unsupported HTTP version");

    for (unsigned i = 0; i < r->nheaders; i++) {
        bo_http_header *h = &r->headers[i];
        bo_str name = { bo_http_str(r, h->name), h->name_len };
        bo_str value = trim(bo_http_str(r, h->value), h->value_len);
        if (bo_str_ieq(name, "content-length")) {
            if (++lengths > 1)
                return fail(p, 400, "more than one Content-Length");
            if (parse_length(value, &r->content_length) < 0)
                return fail(p, 400, "invalid Content-Length");
        } else if (bo_str_ieq(name, "transfer-encoding")) {
            if (++codings > 1)
                return fail(p, 400, "more than one Transfer-Encoding");
            if (!bo_str_ieq(value, "chunked"))
                return fail(p, 400, "unsupported Transfer-Encoding");
            r->chunked = true;
        } else if (bo_str_ieq(name, "host")) {
            if (r->host_header >= 0)
                return fail(p, 400, "more than one Host");
            r->host_header = (int)i;
        } else if (bo_str_ieq(name, "expect")) {
            if (!bo_str_ieq(value, "100-continue"))
                return fail(p, 417, "unsupported Expect");
            r->expect_continue = true;
        }
    }
    if (lengths && codings)
        return fail(p, 400, "both Content-Length and Transfer-Encoding");
    if (codings && hp->http_minor == 0)
        return fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
    if (hp->http_minor >= 1 && r->host_header < 0)
        return fail(p, 400, "missing Host");
    if (hp->method == HTTP_CONNECT)
        return fail(p, 501, "CONNECT is not supported");
    if (r->expect_continue && hp->http_minor == 0)
        r->expect_continue = false;   /* RFC 9110: ignored from HTTP/1.0 */

    /* The target: origin-form, or absolute-form whose path we route. */
    const char *t = bo_http_str(r, r->target);
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (r->target_len == 0 || http_parser_parse_url(t, r->target_len, 0, &u) != 0)
        return fail(p, 400, "malformed request target");
    if (t[0] != '/' && !(u.field_set & (1 << UF_HOST)))
        return fail(p, 400, "malformed request target");
    if (u.field_set & (1 << UF_PATH)) {
        r->path = r->target + u.field_data[UF_PATH].off;
        r->path_len = u.field_data[UF_PATH].len;
    } else {
        /* "http://host" means "/": point at a literal slash kept for it. */
        r->path = keep(r, "/", 1);
        r->path_len = 1;
    }
    if (u.field_set & (1 << UF_QUERY)) {
        r->query = r->target + u.field_data[UF_QUERY].off;
        r->query_len = u.field_data[UF_QUERY].len;
    }
    r->keep_alive = http_should_keep_alive(hp) != 0;
    r->has_body = r->chunked || r->content_length > 0;
    return 0;
}

/* Drops the whitespace that ends each field value (RFC 9112 5: it is not
   part of the value); http-parser drops only the leading whitespace. */
static void trim_values(bo_http_request *r)
{
    for (unsigned i = 0; i < r->nheaders; i++) {
        bo_http_header *h = &r->headers[i];
        char *v = r->raw.data + h->value;
        while (h->value_len && (v[h->value_len - 1] == ' ' || v[h->value_len - 1] == '\t'))
            v[--h->value_len] = '\0';
    }
}

static int on_headers_complete(http_parser *hp)
{
    bo_http_parser *p = parser_of(hp);
    trim_values(p->req);
    if (check_head(p) < 0)
        return -1;
    p->last_callback = CB_NONE;
    p->phase = PHASE_BODY;
    return 0;
}

/*
 * Checks the framing of a chunked body between the pieces of chunk data:
 * size lines with their extensions, the CRLF after each chunk's data, the
 * trailers and the final CRLF. http-parser 2.9 takes these loosely unless
 * built strict (any two bytes after chunk data, a bare CR or LF in a size
 * line or a trailer, folded trailers, a space in a trailer's name), so here
 * every line must end in CRLF, may not start with whitespace and holds no
 * control character but HT, a trailer's name holds only token characters,
 * and chunk data must be followed by CRLF. The state carries over between
 * calls. Every check is made here, byte after byte, on bytes http-parser
 * has taken (none in its callbacks), so the first bad byte gives the
 * reason for a refusal however the bytes arrive.
 */
static int check_chunk_framing(bo_http_parser *p, const char *s, const char *end)
{
    for (; s < end; s++) {
        unsigned char c = (unsigned char)*s;
        switch (p->chunk_state) {
        case CF_DATA_END:
        case CF_DATA_END_CR:
            if (c != (p->chunk_state == CF_DATA_END ? '\r' : '\n'))
                return fail(p, 400, "chunk data not followed by CRLF");
            p->chunk_state = p->chunk_state == CF_DATA_END ? CF_DATA_END_CR : CF_LINE_START;
            break;
        case CF_CR:
            if (c != '\n')
                return fail(p, 400, "bare CR in chunked framing");
            /* After the last chunk's size line (all zeros) come the trailers. */
            if ((p->chunk_line & (CL_TRAILERS | CL_SIZE | CL_NONZERO)) == CL_SIZE)
                p->chunk_line = CL_TRAILERS;
            p->chunk_line &= CL_TRAILERS;
            p->chunk_state = CF_LINE_START;
            break;
        default:
            if (c == '\r') {
                p->chunk_state = CF_CR;
                break;
            }
            if (c == '\n')
                return fail(p, 400, "bare LF in chunked framing");
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return fail(p, 400, "invalid character in chunked framing");
            if (p->chunk_state == CF_LINE_START) {
                if (c == ' ' || c == '\t')
                    return fail(p, 400, "obsolete line folding");
                p->chunk_line = p->chunk_line & CL_TRAILERS ? CL_TRAILERS | CL_NAME : CL_DIGITS;
            }
            if (p->chunk_line & CL_NAME) {
                if (c == ':')
                    p->chunk_line &= ~CL_NAME;
                else if (!is_tchar(c))
                    return fail(p, 400, "invalid character in a header name");
            } else if (p->chunk_line & CL_DIGITS) {
                if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
                    p->chunk_line |= CL_SIZE | (c != '0' ? CL_NONZERO : 0);
                else
                    p->chunk_line &= ~CL_DIGITS;
            }
            p->chunk_state = CF_LINE;
            break;
        }
    }
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
    bo_http_parser *p = parser_of(hp);
    if (p->req->chunked) {
        if (check_chunk_framing(p, p->frame_from, at) < 0)
            return -1;
        p->frame_from = at + n;
        if (hp->content_length == 0)
            p->chunk_state = CF_DATA_END;   /* this chunk's data is complete */
    }
    /* The bytes within the limit go on first, so that what they hold (a
       malformed multipart part) decides the answer before the limit does,
       however the body arrives. */
    size_t take = n < p->max_body - p->body_bytes ? n : p->max_body - p->body_bytes;
    p->body_bytes += take;
    if (p->req->multipart && take) {
        int rc = bo_multipart_feed(p->req->multipart, at, take);
        if (rc < 0)
            return fail(p, rc == BO_ELIMIT ? 413 : rc == BO_EIO ? 500 : 400, bo_multipart_error(p->req->multipart));
    } else if (!p->req->multipart) {
        bo_buf_append(&p->req->body, at, take);
    }
    if (take < n)
        return fail(p, 413, "body over the limit");
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    bo_http_parser *p = parser_of(hp);
    p->message_complete = true;
    http_parser_pause(hp, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void bo_http_parser_init(bo_http_parser *p, bo_http_request *req)
{
    memset(p, 0, sizeof *p);
    p->req = req;
    bo_http_parser_reset(p);
}

void bo_http_parser_reset(bo_http_parser *p)
{
    http_parser_init(&p->hp, HTTP_REQUEST);
    p->hp.data = p;
    p->phase = PHASE_HEAD;
    p->scan = 0;
    p->head_lines = 0;
    p->last_callback = CB_NONE;
    p->max_body = 0;
    p->body_bytes = 0;
    p->framing_bytes = 0;
    p->chunk_state = CF_LINE_START;
    p->chunk_line = 0;
    p->frame_from = NULL;
    p->message_complete = false;
    p->status = 0;
    p->error = NULL;
}

/*
 * Checks a request line (without its CRLF) against RFC 9112 3: a method
 * token, one space, a target of visible characters, one space, and
 * "HTTP/" DIGIT "." DIGIT. http-parser 2.9 lets through extra spaces, and
 * (unless built strict) a version such as "HTTX/1.1".
 */
static bool request_line_ok(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)s[i]))
        i++;
    if (i == 0 || i == n || s[i] != ' ')
        return false;
    size_t target = ++i;
    while (i < n && (unsigned char)s[i] > ' ' && (unsigned char)s[i] != 0x7f)
        i++;
    if (i == target || n - i != 9 || s[i] != ' ')
        return false;
    const char *v = s + i + 1;
    return memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' && v[6] == '.' &&
           v[7] >= '0' && v[7] <= '9';
}

/*
 * Finds the end of the head in data[0..len). Returns its length (through the
 * blank line), 0 if more bytes are needed, or -1 after fail(). Resumes at
 * p->scan so a slowly arriving head is not examined twice.
 */
static long scan_head(bo_http_parser *p, const char *data, size_t len)
{
    size_t pos = p->scan;
    for (;;) {
        const char *lf = memchr(data + pos, '\n', len - pos);
        size_t limit = len < BO_HTTP_MAX_HEAD ? len : BO_HTTP_MAX_HEAD;
        if (!lf || (size_t)(lf - data) >= limit) {
            if (len >= BO_HTTP_MAX_HEAD)
                return fail(p, p->head_lines == 0 ? 414 : 431,
                            p->head_lines == 0 ? "request line too long" : "header block too large");
            p->scan = pos;
            return 0;
        }
        size_t end = (size_t)(lf - data);     /* index of the LF */
        if (end == pos || data[end - 1] != '\r')
            return fail(p, 400, "bare LF in the head");
        const char *cr = memchr(data + pos, '\r', end - 1 - pos);
        if (cr)
            return fail(p, 400, "bare CR in the head");
        if (end - 1 == pos) {                  /* an empty line */
            if (p->head_lines > 0)
                return (long)(end + 1);
            return fail(p, 400, "empty request line");
        }
        if (data[pos] == ' ' || data[pos] == '\t')
            return fail(p, 400, p->head_lines ? "obsolete line folding" : "malformed request line");
        if (p->head_lines == 0 && !request_line_ok(data + pos, end - 1 - pos))
            return fail(p, 400, "malformed request line");
        if (++p->head_lines > BO_HTTP_MAX_HEADERS + 1)
            return fail(p, 431, "too many header fields");
        pos = end + 1;
    }
}

static bo_http_event error_event(bo_http_parser *p, const char *why)
{
    fail(p, 400, why);
    return BO_HTTP_ERROR;
}

/* The reason for an error http-parser found, in our words where the client
   may see it, so that the answer does not change with the parser. */
static const char *parser_error(enum http_errno e)
{
    switch (e) {
    case HPE_INVALID_CONTENT_LENGTH: return "invalid Content-Length";
    case HPE_UNEXPECTED_CONTENT_LENGTH: return "conflicting Content-Length";
    case HPE_INVALID_HEADER_TOKEN: return "invalid character in a header";
    case HPE_INVALID_METHOD: return "unknown method";
    case HPE_INVALID_URL: return "malformed request target";
    case HPE_INVALID_CHUNK_SIZE: return "invalid chunk size";
    case HPE_STRICT:
    case HPE_LF_EXPECTED: return "malformed chunk";
    default: return http_errno_description(e);
    }
}

bo_http_event bo_http_parse(bo_http_parser *p, const char *data, size_t len, size_t *used)
{
    *used = 0;
    switch (p->phase) {
    case PHASE_ERROR:
        return BO_HTTP_ERROR;
    case PHASE_DONE:
        return BO_HTTP_DONE;
    case PHASE_HEAD: {
        /* Empty lines before a request line are ignored (RFC 9112 2.2). */
        size_t skip = 0;
        if (p->scan == 0) {
            while (skip + 1 < len && data[skip] == '\r' && data[skip + 1] == '\n')
                skip += 2;
            if (skip == len || (skip + 1 == len && data[skip] == '\r')) {
                *used = skip;
                return BO_HTTP_AGAIN;
            }
        }
        long head = scan_head(p, data + skip, len - skip);
        if (head < 0)
            return BO_HTTP_ERROR;
        if (head == 0) {
            /* Keep what was scanned relative to the unskipped bytes. */
            if (skip) {
                *used = skip;
                p->scan = p->scan > 0 ? p->scan : 0;
            }
            return BO_HTTP_AGAIN;
        }
        size_t n = http_parser_execute(&p->hp, &settings, data + skip, (size_t)head);
        if (p->phase == PHASE_ERROR)
            return BO_HTTP_ERROR;
        enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
        if ((e != HPE_OK && e != HPE_PAUSED) || p->phase != PHASE_BODY)
            return error_event(p, parser_error(e));
        if (n != (size_t)head && !p->message_complete)
            return error_event(p, "malformed head");
        *used = skip + (size_t)head;
        if (p->message_complete)
            p->phase = PHASE_DONE;
        return BO_HTTP_HEAD;
    }
    case PHASE_BODY: {
        if (len == 0)
            return BO_HTTP_AGAIN;
        size_t before = p->body_bytes;
        p->frame_from = data;
        size_t n = http_parser_execute(&p->hp, &settings, data, len);
        if (p->phase == PHASE_ERROR)
            return BO_HTTP_ERROR;
        enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
        if (e != HPE_OK && e != HPE_PAUSED) {
            /* Framing before the error gives the reason, however the bytes
               arrived; in a trailer that includes the byte http-parser
               stopped at (a separator in a name, a control character). */
            bool at_header = e == HPE_INVALID_HEADER_TOKEN && n < len;
            if (p->req->chunked && check_chunk_framing(p, p->frame_from, data + n + at_header) < 0)
                return BO_HTTP_ERROR;
            /* http-parser reports a chunk size that overflows as a bad length. */
            if (e == HPE_INVALID_CONTENT_LENGTH && p->req->chunked)
                return error_event(p, "invalid chunk size");
            return error_event(p, parser_error(e));
        }
        *used = n;
        if (p->req->chunked) {
            if (check_chunk_framing(p, p->frame_from, data + n) < 0)
                return BO_HTTP_ERROR;
            p->framing_bytes += n - (p->body_bytes - before);
            if (p->framing_bytes > FRAMING_BASE + FRAMING_PER_BODY_BYTE * p->body_bytes)
                return error_event(p, "chunk framing too large");
        }
        if (p->message_complete) {
            p->phase = PHASE_DONE;
            return BO_HTTP_DONE;
        }
        return BO_HTTP_AGAIN;
    }
    }
    return BO_HTTP_ERROR;
}

void bo_http_stream_multipart(bo_http_parser *p, struct bo_multipart *m)
{
    bo_multipart_free(p->req->multipart);
    p->req->multipart = m;
}

const char *bo_http_header_get(const bo_http_request *r, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (unsigned i = 0; i < r->nheaders; i++) {
        const bo_http_header *h = &r->headers[i];
        if (h->name_len == n && strncasecmp(bo_http_str(r, h->name), name, n) == 0) {
            if (len)
                *len = h->value_len;
            return bo_http_str(r, h->value);
        }
    }
    return NULL;
}

const char *bo_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

size_t bo_http_host_name_length(const char *v, size_t len)
{
    size_t i = 0;
    if (len > 0 && v[0] == '[') {
        for (i = 1; i < len && v[i] != ']'; i++)
            if (!strchr("0123456789abcdefABCDEF:.", v[i]))
                return 0;
        if (i == len || i == 1)
            return 0;
        i++;
    } else {
        for (; i < len && v[i] != ':'; i++) {
            char ch = v[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                  ch == '.'))
                return 0;
        }
        if (i == 0)
            return 0;
    }
    if (i < len) {
        if (v[i] != ':' || i + 1 == len)
            return 0;
        for (size_t j = i + 1; j < len; j++)
            if (v[j] < '0' || v[j] > '9')
                return 0;
    }
    return i <= 255 ? i : 0;
}
