/*
 * buf.h - a growable byte buffer. Connections read into one, responses are
 * assembled in one, and the JSON and HTML encoders write into one.
 * An embedded bo_buf is set up with bo_buf_init() and released with
 * bo_buf_free(); growth goes through bo_realloc(), so appends cannot fail.
 */
#ifndef BO_BUF_H
#define BO_BUF_H

#include "bo.h"

#include <stdarg.h>

typedef struct bo_buf {
    char *data;
    size_t len;
    size_t cap;
} bo_buf;

void bo_buf_init(bo_buf *b);
void bo_buf_free(bo_buf *b);
/* Makes room for at least extra more bytes and returns where they start. */
char *bo_buf_reserve(bo_buf *b, size_t extra);
void bo_buf_append(bo_buf *b, const void *data, size_t n);
void bo_buf_puts(bo_buf *b, const char *s);
void bo_buf_printf(bo_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bo_buf_vprintf(bo_buf *b, const char *fmt, va_list ap);
/* Drops the first n bytes, moving the rest to the front. */
void bo_buf_consume(bo_buf *b, size_t n);
/* Appends a decimal integer. */
void bo_buf_put_int(bo_buf *b, long long v);
/* Appends s percent-encoded (RFC 3986): every byte but the unreserved
   characters A-Z a-z 0-9 - . _ ~ as %XX, for a query value or a form body. */
void bo_buf_put_escaped(bo_buf *b, const char *s);
/* Keeps the allocation but forgets the contents; shrinks a buffer that grew
   beyond keep bytes so one large request does not pin memory for ever. */
void bo_buf_reset(bo_buf *b, size_t keep);

static inline void bo_buf_putc(bo_buf *b, char c)
{
    if (b->len + 1 > b->cap)
        bo_buf_reserve(b, 1);
    b->data[b->len++] = c;
}

#endif
