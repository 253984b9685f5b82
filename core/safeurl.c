/*
 * safeurl.c - the scheme check for URLs in HTML attributes (see safeurl.h).
 *
 * The value is read through a cursor over its pieces, one character at a
 * time as the browser would see it, only as far as the scheme reaches: a
 * usual URL ("/cases/12", "https://...") is decided at its first few bytes.
 */
#include "safeurl.h"

#include <string.h>

typedef struct cursor {
    const bo_str *p;
    size_t n;          /* pieces */
    size_t i;          /* the current piece */
    size_t off;        /* the next byte in it */
} cursor;

/* The byte k ahead of the cursor, or -1 past the end. */
static int peek(const cursor *c, size_t k)
{
    size_t i = c->i, off = c->off + k;
    while (i < c->n && off >= c->p[i].len) {
        off -= c->p[i].len;
        i++;
    }
    return i < c->n ? (unsigned char)c->p[i].ptr[off] : -1;
}

static void skip(cursor *c, size_t k)
{
    c->off += k;
    while (c->i < c->n && c->off >= c->p[c->i].len) {
        c->off -= c->p[c->i].len;
        c->i++;
    }
}

enum {
    END = -1,
    NON_ASCII = 0x100,     /* a character no scheme holds */
    UNKNOWN = 0x101,       /* a named reference not in the table below */
};

/* Named character references whose character matters here: the ones that
   are a scheme's characters, a separator, white space, or common in URLs.
   Every other name, where a scheme could be, refuses the URL. */
static const struct { const char *name; int ch; } named[] = {
    { "colon", ':' }, { "Tab", '\t' }, { "NewLine", '\n' }, { "sol", '/' }, { "quest", '?' },
    { "num", '#' }, { "period", '.' }, { "plus", '+' }, { "amp", '&' }, { "AMP", '&' },
    { "lt", '<' }, { "LT", '<' }, { "gt", '>' }, { "GT", '>' }, { "quot", '"' },
    { "QUOT", '"' }, { "apos", '\'' }, { "nbsp", NON_ASCII },
};

static int digit(int b, bool hex)
{
    if (b >= '0' && b <= '9')
        return b - '0';
    if (hex && b >= 'a' && b <= 'f')
        return b - 'a' + 10;
    if (hex && b >= 'A' && b <= 'F')
        return b - 'A' + 10;
    return -1;
}

static bool alnum(int b)
{
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
}

/* The character a character reference at the cursor ('&') stands for, and
   skips it; '&' alone when it starts none. */
static int reference(cursor *c)
{
    if (peek(c, 1) == '#') {
        bool hex = (peek(c, 2) | 0x20) == 'x';
        size_t k = hex ? 3 : 2, digits = 0;
        unsigned long v = 0;
        for (int d; (d = digit(peek(c, k), hex)) >= 0; k++, digits++)
            if (v < 0x110000)
                v = v * (hex ? 16 : 10) + (unsigned long)d;
        if (digits == 0) {
            skip(c, 1);
            return '&';
        }
        if (peek(c, k) == ';')       /* optional after a number */
            k++;
        skip(c, k);
        return v > 0 && v < 0x80 ? (int)v : NON_ASCII;
    }
    char name[16];
    size_t len = 0, k = 1;
    for (int b; alnum(b = peek(c, k)); k++)
        if (len < sizeof name - 1)
            name[len++] = (char)b;
    name[len] = '\0';
    /* Without ';' only the legacy names (amp, lt, nbsp, ...) are read, and
       none of them is a letter, a colon or a separator: '&' stands. */
    if (len == 0 || peek(c, k) != ';') {
        skip(c, 1);
        return '&';
    }
    skip(c, k + 1);
    if (len < sizeof name - 1)
        for (size_t i = 0; i < BO_COUNT(named); i++)
            if (strcmp(named[i].name, name) == 0)
                return named[i].ch;
    return UNKNOWN;
}

/* The next character of the value as the browser reads it, or END. A
   prefix ends at a reference: what follows it may change what it is. */
static int next_char(cursor *c, bool html, bool prefix)
{
    int b = peek(c, 0);
    if (b < 0)
        return END;
    if (html && b == '&')
        return prefix ? UNKNOWN : reference(c);
    skip(c, 1);
    return b >= 0x80 ? NON_ASCII : b;
}

/* 1 allowed, 0 refused, -1 not known yet (prefix: the text ended first). */
static int decide(cursor *c, bool html, bool prefix)
{
    static const char *const allowed[] = { "http", "https", "mailto", "tel" };
    skip(c, 0);                      /* past empty pieces */
    int ch;
    do                               /* leading spaces and control characters */
        ch = next_char(c, html, prefix);
    while (ch >= 0 && ch <= 0x20);
    char scheme[8];
    size_t len = 0;                  /* sizeof scheme + 1: longer than any allowed */
    for (;; ch = next_char(c, html, prefix)) {
        if (ch == END)
            return prefix ? -1 : 1;  /* no scheme: a relative URL */
        if (ch == '/' || ch == '?' || ch == '#')
            return 1;
        if (ch == UNKNOWN)
            return prefix ? -1 : 0;
        if (ch == ':')
            break;
        if (ch == '\t' || ch == '\n' || ch == '\r')
            continue;                /* ignored anywhere ("java\tscript:") */
        if (len < sizeof scheme)
            scheme[len] = ch < 0x80 ? (char)(ch | (ch >= 'A' && ch <= 'Z' ? 0x20 : 0)) : '\x80';
        if (len <= sizeof scheme)
            len++;
    }
    for (size_t i = 0; i < BO_COUNT(allowed); i++)
        if (strlen(allowed[i]) == len && memcmp(allowed[i], scheme, len) == 0)
            return 1;
    return 0;
}

bool bo_safeurl_allowed(const bo_str *pieces, size_t n, bool html)
{
    cursor c = { pieces, n, 0, 0 };
    return decide(&c, html, false) != 0;
}

int bo_safeurl_prefix(const char *s, size_t len, bool html)
{
    bo_str piece = { s, len };
    cursor c = { &piece, 1, 0, 0 };
    return decide(&c, html, true);
}
