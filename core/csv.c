/*
 * csv.c - RFC 4180 CSV reading and writing (see csv.h).
 *
 * The reader walks the text once. Every field is copied into the reader's
 * buffer (quotes undone on the way), so a record's fields are slices of one
 * buffer that is reused from record to record: reading allocates nothing in
 * steady state.
 */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

void bo_csv_init(bo_csv *c, const char *text, size_t len)
{
    memset(c, 0, sizeof *c);
    c->data = text ? text : "";
    c->len = text ? len : 0;
    c->line = 1;
    bo_buf_init(&c->buf);
    if (c->len >= 3 && memcmp(c->data, "\xEF\xBB\xBF", 3) == 0)
        c->pos = 3;
}

void bo_csv_free(bo_csv *c)
{
    bo_buf_free(&c->buf);
    free(c->fields);
    c->fields = NULL;
    c->nfields = c->capfields = 0;
}

/* The length of the well-formed UTF-8 sequence at p (first byte >= 0x80),
   or 0: no overlongs, surrogates or code points past U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, min = 0x10000;
    else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    unsigned cp = c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

bool bo_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        if (*p == 0)
            return false;
        if (*p < 0x80) {
            p++;
            continue;
        }
        size_t n = utf8_seq(p, end);
        if (!n)
            return false;
        p += n;
    }
    return true;
}

static void add_field(bo_csv *c, size_t off)
{
    if (c->nfields == c->capfields) {
        c->capfields = c->capfields ? c->capfields * 2 : 16;
        c->fields = bo_realloc(c->fields, c->capfields * sizeof *c->fields);
    }
    c->fields[c->nfields].off = off;
    c->fields[c->nfields].len = c->buf.len - off;
    c->nfields++;
}

/* Consumes one line break at pos, if there is one (CRLF, LF or CR). */
static void eat_break(bo_csv *c)
{
    if (c->pos < c->len && c->data[c->pos] == '\r') {
        c->pos++;
        if (c->pos < c->len && c->data[c->pos] == '\n')
            c->pos++;
        c->line++;
    } else if (c->pos < c->len && c->data[c->pos] == '\n') {
        c->pos++;
        c->line++;
    }
}

/* After a bad record: skips to the start of the next line. */
static void skip_line(bo_csv *c)
{
    while (c->pos < c->len && c->data[c->pos] != '\n' && c->data[c->pos] != '\r')
        c->pos++;
    eat_break(c);
}

/* Reads a quoted field (pos at the opening quote) into buf. Returns NULL or
   why it failed. Line breaks inside count towards c->line. */
static const char *read_quoted(bo_csv *c)
{
    const char *d = c->data;
    size_t i = c->pos + 1, run = i;
    for (;;) {
        if (i >= c->len) {
            bo_buf_append(&c->buf, d + run, i - run);
            c->pos = i;
            return "a quoted field is not closed (a \" is missing)";
        }
        char ch = d[i];
        if (ch == '"') {
            bo_buf_append(&c->buf, d + run, i - run);
            if (i + 1 < c->len && d[i + 1] == '"') {
                bo_buf_putc(&c->buf, '"');
                i += 2;
                run = i;
                continue;
            }
            c->pos = i + 1;
            return NULL;
        }
        if (ch == '\n' || (ch == '\r' && !(i + 1 < c->len && d[i + 1] == '\n')))
            c->line++;
        i++;
    }
}

int bo_csv_next(bo_csv *c, bo_csv_record *rec)
{
    const char *d = c->data;
    /* Empty lines are not records. */
    while (c->pos < c->len && (d[c->pos] == '\n' || d[c->pos] == '\r'))
        eat_break(c);
    rec->line = c->line;
    rec->error = NULL;
    rec->column = 0;
    if (c->pos >= c->len)
        return BO_CSV_END;
    c->buf.len = 0;
    bo_buf_reserve(&c->buf, 1);   /* fields point into it even when all are empty */
    c->nfields = 0;
    for (;;) {
        size_t off = c->buf.len;
        if (c->pos < c->len && d[c->pos] == '"') {
            const char *why = read_quoted(c);
            if (why) {
                rec->error = why;
                rec->column = c->nfields + 1;
                return BO_CSV_BAD;
            }
            if (c->pos < c->len && d[c->pos] != ',' && d[c->pos] != '\r' && d[c->pos] != '\n') {
                rec->error = "unexpected text after a closing quote";
                rec->column = c->nfields + 1;
                skip_line(c);
                return BO_CSV_BAD;
            }
        } else {
            size_t i = c->pos;
            while (i < c->len && d[i] != ',' && d[i] != '\n' && d[i] != '\r')
                i++;
            bo_buf_append(&c->buf, d + c->pos, i - c->pos);
            c->pos = i;
        }
        add_field(c, off);
        if (c->nfields > BO_CSV_MAX_FIELDS || c->buf.len > BO_CSV_MAX_RECORD) {
            rec->error = c->nfields > BO_CSV_MAX_FIELDS ? "the row has too many fields"
                                                        : "the row is too long";
            rec->column = c->nfields;
            skip_line(c);
            return BO_CSV_BAD;
        }
        if (c->pos < c->len && d[c->pos] == ',') {
            c->pos++;
            continue;
        }
        eat_break(c);
        break;
    }
    for (size_t i = 0; i < c->nfields; i++) {
        if (!bo_utf8_valid(bo_csv_field_ptr(c, i), c->fields[i].len)) {
            bool nul = memchr(bo_csv_field_ptr(c, i), '\0', c->fields[i].len) != NULL;
            rec->error = nul ? "the text holds a NUL character"
                             : "the text is not UTF-8 (save the file as \"CSV UTF-8\")";
            rec->column = i + 1;
            return BO_CSV_BAD;
        }
    }
    return BO_CSV_ROW;
}

void bo_csv_put_field(bo_buf *out, const char *s, size_t len)
{
    /* A leading byte order mark is quoted too: at the start of a file a
       reader would take it for the mark and drop it. */
    bool quote = len > 0 && (s[0] == ' ' || s[len - 1] == ' ' ||
                             (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0));
    for (size_t i = 0; i < len && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        bo_buf_append(out, s, len);
        return;
    }
    bo_buf_putc(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') {
            bo_buf_append(out, s + run, i + 1 - run);
            bo_buf_putc(out, '"');
            run = i + 1;
        }
    }
    bo_buf_append(out, s + run, len - run);
    bo_buf_putc(out, '"');
}

void bo_csv_end_record(bo_buf *out, size_t start)
{
    if (out->len == start)
        bo_buf_append(out, "\"\"", 2);
    bo_buf_append(out, "\r\n", 2);
}
