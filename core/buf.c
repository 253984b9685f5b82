/*
 * buf.c - the growable byte buffer of buf.h.
 */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bo_buf_init(bo_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void bo_buf_free(bo_buf *b)
{
    free(b->data);
    bo_buf_init(b);
}

char *bo_buf_reserve(bo_buf *b, size_t extra)
{
    if (b->cap - b->len < extra) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < extra)
            cap *= 2;
        b->data = bo_realloc(b->data, cap);
        b->cap = cap;
    }
    return b->data + b->len;
}

void bo_buf_append(bo_buf *b, const void *data, size_t n)
{
    if (n == 0)
        return;
    memcpy(bo_buf_reserve(b, n), data, n);
    b->len += n;
}

void bo_buf_puts(bo_buf *b, const char *s)
{
    bo_buf_append(b, s, strlen(s));
}

void bo_buf_vprintf(bo_buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(b->data ? b->data + b->len : NULL, b->cap - b->len, fmt, copy);
    va_end(copy);
    if (n < 0)
        return;
    if ((size_t)n >= b->cap - b->len) {
        bo_buf_reserve(b, (size_t)n + 1);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    }
    b->len += (size_t)n;
}

void bo_buf_printf(bo_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bo_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void bo_buf_consume(bo_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void bo_buf_put_int(bo_buf *b, long long v)
{
    char tmp[24];
    char *end = tmp + sizeof tmp, *p = end;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    bo_buf_append(b, p, (size_t)(end - p));
}

void bo_buf_put_escaped(bo_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            bo_buf_putc(b, (char)*p);
        } else {
            bo_buf_putc(b, '%');
            bo_buf_putc(b, hex[*p >> 4]);
            bo_buf_putc(b, hex[*p & 15]);
        }
    }
}

void bo_buf_reset(bo_buf *b, size_t keep)
{
    b->len = 0;
    if (b->cap > keep) {
        free(b->data);
        bo_buf_init(b);
    }
}
