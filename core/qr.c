/*
 * qr.c - the QR code encoder (see qr.h).
 *
 * The steps are the standard's: the data as a bit stream (mode 0100, the
 * count, the bytes, a terminator, padding 0xEC 0x11), split into blocks,
 * each with its Reed-Solomon error correction codewords over GF(256)
 * (polynomial 0x11D), interleaved; then a matrix with the function patterns
 * (finders, separators, timing, alignment, the dark module, format and
 * version information), the codewords placed in the two-column zigzag, and
 * one of eight masks applied to the data modules. The mask chosen is the
 * one of least penalty: N1 (3, plus one per module over 5, per run of one
 * colour in a row or column), N2 (3 per 2x2 block of one colour), N3 (40
 * per dark-light-dark-light-dark run pattern in the ratio 1:1:3:1:1 with a
 * light run of four units on one side, where a light run reaching the edge
 * counts, the quiet zone continuing it) and N4 (10 per whole 5% the dark
 * share, rounded to a percent, is away from half). These are libqrencode's
 * readings of the rules too, and test_qr.c checks the symbols, the chosen
 * mask included, bit for bit against its qrencode.
 */
#include "qr.h"
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Error correction codewords per block and number of blocks, by level
   (L, M, Q, H) and version (ISO/IEC 18004 table 9). */
static const int8_t ecc_per_block[4][41] = {
    { -1, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
      28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30 },
    { -1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
      26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28 },
    { -1, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30,
      28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30 },
    { -1, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28,
      30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30 },
};
static const int8_t blocks_of[4][41] = {
    { -1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8,
      8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25 },
    { -1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
      17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49 },
    { -1, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20,
      23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68 },
    { -1, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25,
      25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81 },
};

/* The format information's two bits for each level. */
static const int ecl_bits[4] = { 1, 0, 3, 2 };

/* Modules left for codewords once the function patterns are drawn. */
static int raw_modules(int v)
{
    int n = (16 * v + 128) * v + 64;
    if (v >= 2) {
        int align = v / 7 + 2;
        n -= (25 * align - 10) * align - 55;
        if (v >= 7)
            n -= 36;
    }
    return n;
}

static int data_codewords(int v, bo_qr_ecl ecl)
{
    return raw_modules(v) / 8 - ecc_per_block[ecl][v] * blocks_of[ecl][v];
}

/* ---- Reed-Solomon ---- */

static uint8_t gf_mul(uint8_t x, uint8_t y)
{
    unsigned z = 0;
    for (int i = 7; i >= 0; i--) {
        z = (z << 1) ^ ((z >> 7) * 0x11D);
        z ^= ((y >> i) & 1u) * x;
    }
    return (uint8_t)z;
}

/* The generator polynomial of degree n (coefficients after the leading 1). */
static void rs_divisor(int n, uint8_t *div)
{
    memset(div, 0, (size_t)n);
    div[n - 1] = 1;
    uint8_t root = 1;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            div[j] = gf_mul(div[j], root);
            if (j + 1 < n)
                div[j] ^= div[j + 1];
        }
        root = gf_mul(root, 0x02);
    }
}

static void rs_remainder(const uint8_t *data, int len, const uint8_t *div, int n, uint8_t *out)
{
    memset(out, 0, (size_t)n);
    for (int i = 0; i < len; i++) {
        uint8_t factor = data[i] ^ out[0];
        memmove(out, out + 1, (size_t)n - 1);
        out[n - 1] = 0;
        for (int j = 0; j < n; j++)
            out[j] ^= gf_mul(div[j], factor);
    }
}

/* ---- the matrix ---- */

typedef struct grid {
    int size;
    uint8_t *dark;
    uint8_t *function;      /* modules the data may not use */
} grid;

static void set(grid *g, int x, int y, bool dark)
{
    g->dark[y * g->size + x] = dark;
    g->function[y * g->size + x] = 1;
}

static void finder(grid *g, int cx, int cy)
{
    for (int dy = -4; dy <= 4; dy++)
        for (int dx = -4; dx <= 4; dx++) {
            int x = cx + dx, y = cy + dy;
            int d = abs(dx) > abs(dy) ? abs(dx) : abs(dy);
            if (x >= 0 && x < g->size && y >= 0 && y < g->size)
                set(g, x, y, d != 2 && d != 4);
        }
}

static void alignment(grid *g, int cx, int cy)
{
    for (int dy = -2; dy <= 2; dy++)
        for (int dx = -2; dx <= 2; dx++)
            set(g, cx + dx, cy + dy, (abs(dx) > abs(dy) ? abs(dx) : abs(dy)) != 1);
}

static void format_bits(grid *g, bo_qr_ecl ecl, int mask)
{
    int data = ecl_bits[ecl] << 3 | mask, rem = data;
    for (int i = 0; i < 10; i++)
        rem = (rem << 1) ^ ((rem >> 9) * 0x537);
    int bits = (data << 10 | rem) ^ 0x5412, s = g->size;
    for (int i = 0; i <= 5; i++)
        set(g, 8, i, bits >> i & 1);
    set(g, 8, 7, bits >> 6 & 1);
    set(g, 8, 8, bits >> 7 & 1);
    set(g, 7, 8, bits >> 8 & 1);
    for (int i = 9; i < 15; i++)
        set(g, 14 - i, 8, bits >> i & 1);
    for (int i = 0; i < 8; i++)
        set(g, s - 1 - i, 8, bits >> i & 1);
    for (int i = 8; i < 15; i++)
        set(g, 8, s - 15 + i, bits >> i & 1);
    set(g, 8, s - 8, true);
}

static void function_patterns(grid *g, int v, bo_qr_ecl ecl)
{
    int s = g->size;
    for (int i = 0; i < s; i++) {
        set(g, 6, i, i % 2 == 0);
        set(g, i, 6, i % 2 == 0);
    }
    finder(g, 3, 3);
    finder(g, s - 4, 3);
    finder(g, 3, s - 4);
    if (v >= 2) {
        int n = v / 7 + 2, step = (v * 8 + n * 3 + 5) / (n * 4 - 4) * 2, pos[7];
        pos[0] = 6;
        for (int i = n - 1, p = s - 7; i >= 1; i--, p -= step)
            pos[i] = p;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (!((i == 0 && j == 0) || (i == 0 && j == n - 1) || (i == n - 1 && j == 0)))
                    alignment(g, pos[i], pos[j]);
    }
    format_bits(g, ecl, 0);    /* reserves the modules; drawn again per mask */
    if (v >= 7) {
        int rem = v;
        for (int i = 0; i < 12; i++)
            rem = (rem << 1) ^ ((rem >> 11) * 0x1F25);
        long bits = (long)v << 12 | rem;
        for (int i = 0; i < 18; i++) {
            bool bit = bits >> i & 1;
            int a = s - 11 + i % 3, b = i / 3;
            set(g, a, b, bit);
            set(g, b, a, bit);
        }
    }
}

static void place_codewords(grid *g, const uint8_t *cw, int n)
{
    int s = g->size, i = 0;
    for (int right = s - 1; right >= 1; right -= 2) {
        if (right == 6)
            right = 5;
        for (int vert = 0; vert < s; vert++)
            for (int j = 0; j < 2; j++) {
                int x = right - j;
                bool upward = ((right + 1) & 2) == 0;
                int y = upward ? s - 1 - vert : vert;
                if (!g->function[y * s + x] && i < n * 8) {
                    g->dark[y * s + x] = cw[i >> 3] >> (7 - (i & 7)) & 1;
                    i++;
                }
            }
    }
}

static bool mask_bit(int mask, int x, int y)
{
    switch (mask) {
    case 0: return (x + y) % 2 == 0;
    case 1: return y % 2 == 0;
    case 2: return x % 3 == 0;
    case 3: return (x + y) % 3 == 0;
    case 4: return (x / 3 + y / 2) % 2 == 0;
    case 5: return x * y % 2 + x * y % 3 == 0;
    case 6: return (x * y % 2 + x * y % 3) % 2 == 0;
    default: return ((x + y) % 2 + x * y % 3) % 2 == 0;
    }
}

/* Applying a mask twice undoes it. */
static void apply_mask(grid *g, int mask)
{
    for (int y = 0; y < g->size; y++)
        for (int x = 0; x < g->size; x++)
            if (!g->function[y * g->size + x] && mask_bit(mask, x, y))
                g->dark[y * g->size + x] ^= 1;
}

/* N1 and N3 for one line of modules (step apart in the matrix). */
static long line_penalty(const uint8_t *m, int n, int step, int *runs)
{
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && m[i * step] == m[(i - 1) * step])
            runs[count - 1]++;
        else
            runs[count++] = 1;
    }
    long p = 0;
    bool first_dark = m[0] != 0;
    for (int k = 0; k < count; k++) {
        if (runs[k] >= 5)
            p += 3 + (runs[k] - 5);
        bool dark = (k % 2 == 0) == first_dark;
        if (!dark || k < 2 || k + 2 >= count || runs[k] % 3 != 0)
            continue;
        int u = runs[k] / 3;
        if (runs[k - 2] != u || runs[k - 1] != u || runs[k + 1] != u || runs[k + 2] != u)
            continue;
        /* A light run that reaches the edge goes on into the quiet zone. */
        if (k - 3 <= 0 || runs[k - 3] >= 4 * u || k + 3 >= count - 1 || runs[k + 3] >= 4 * u)
            p += 40;
    }
    return p;
}

static long penalty(const grid *g, int *runs)
{
    int s = g->size;
    const uint8_t *d = g->dark;
    long p = 0, dark = 0;
    for (int i = 0; i < s; i++) {
        p += line_penalty(d + i * s, s, 1, runs);
        p += line_penalty(d + i, s, s, runs);
    }
    for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++) {
            uint8_t c = d[y * s + x];
            dark += c;
            if (x > 0 && y > 0 && c == d[y * s + x - 1] && c == d[(y - 1) * s + x] &&
                c == d[(y - 1) * s + x - 1])
                p += 3;
        }
    long total = (long)s * s, share = (200 * dark + total) / total / 2;    /* rounded */
    p += 10 * (labs(share - 50) / 5);
    return p;
}

/* ---- encoding ---- */

static void put_bits(uint8_t *buf, int *len, unsigned value, int bits)
{
    for (int i = bits - 1; i >= 0; i--, (*len)++)
        if (value >> i & 1)
            buf[*len >> 3] |= (uint8_t)(0x80 >> (*len & 7));
}

int bo_qr_encode(const void *data, size_t n, bo_qr_ecl ecl, int min_version, int max_version, int mask,
                 bo_qr *out)
{
    memset(out, 0, sizeof *out);
    if (ecl < BO_QR_LOW || ecl > BO_QR_HIGH || min_version < 1 || max_version > 40 || min_version > max_version ||
        mask < -1 || mask > 7)
        return BO_EINVAL;
    int v = min_version, cap;
    for (;; v++) {
        if (v > max_version)
            return BO_ELIMIT;
        cap = data_codewords(v, ecl);
        int count_bits = v <= 9 ? 8 : 16;
        if (n < (1u << count_bits) && 4 + count_bits + 8 * (long)n <= 8L * cap)
            break;
    }

    /* The bit stream, padded to cap codewords. */
    uint8_t *cw = bo_calloc((size_t)cap, 1);
    int len = 0;
    put_bits(cw, &len, 4, 4);
    put_bits(cw, &len, (unsigned)n, v <= 9 ? 8 : 16);
    for (size_t i = 0; i < n; i++)
        put_bits(cw, &len, ((const uint8_t *)data)[i], 8);
    int term = 8 * cap - len < 4 ? 8 * cap - len : 4;
    len += term;
    len = (len + 7) / 8 * 8;
    for (uint8_t pad = 0xEC; len < 8 * cap; pad ^= 0xEC ^ 0x11)
        put_bits(cw, &len, pad, 8);

    /* Blocks and their error correction, interleaved. */
    int nblocks = blocks_of[ecl][v], ecc = ecc_per_block[ecl][v], raw = raw_modules(v) / 8;
    int nshort = nblocks - raw % nblocks, short_len = raw / nblocks;
    uint8_t *all = bo_malloc((size_t)raw), *rem = bo_malloc((size_t)nblocks * (size_t)ecc), div[30];
    rs_divisor(ecc, div);
    for (int b = 0, k = 0; b < nblocks; b++) {
        int dlen = short_len - ecc + (b < nshort ? 0 : 1);
        rs_remainder(cw + k, dlen, div, ecc, rem + b * ecc);
        k += dlen;
    }
    int o = 0;
    for (int i = 0; i < short_len - ecc + 1; i++)
        for (int b = 0; b < nblocks; b++) {
            if (i == short_len - ecc && b < nshort)
                continue;
            int start = b * (short_len - ecc) + (b > nshort ? b - nshort : 0);
            all[o++] = cw[start + i];
        }
    for (int i = 0; i < ecc; i++)
        for (int b = 0; b < nblocks; b++)
            all[o++] = rem[b * ecc + i];
    free(cw);
    free(rem);

    grid g = { 17 + 4 * v, NULL, NULL };
    size_t cells = (size_t)g.size * (size_t)g.size;
    g.dark = bo_calloc(cells, 1);
    g.function = bo_calloc(cells, 1);
    function_patterns(&g, v, ecl);
    place_codewords(&g, all, raw);
    free(all);

    if (mask < 0) {
        int *runs = bo_malloc((size_t)g.size * sizeof *runs);
        long best = -1;
        for (int m = 0; m < 8; m++) {
            apply_mask(&g, m);
            format_bits(&g, ecl, m);
            long p = penalty(&g, runs);
            if (best < 0 || p < best) {
                best = p;
                mask = m;
            }
            apply_mask(&g, m);
        }
        free(runs);
    }
    apply_mask(&g, mask);
    format_bits(&g, ecl, mask);
    free(g.function);

    out->version = v;
    out->size = g.size;
    out->mask = mask;
    out->ecl = ecl;
    out->modules = g.dark;
    return 0;
}

void bo_qr_release(bo_qr *q)
{
    free(q->modules);
    memset(q, 0, sizeof *q);
}

bool bo_qr_dark(const bo_qr *q, int x, int y)
{
    return x >= 0 && y >= 0 && x < q->size && y < q->size && q->modules[y * q->size + x];
}

static void put_text(bo_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': bo_buf_puts(b, "&amp;"); break;
        case '<': bo_buf_puts(b, "&lt;"); break;
        case '>': bo_buf_puts(b, "&gt;"); break;
        case '"': bo_buf_puts(b, "&quot;"); break;
        case '\'': bo_buf_puts(b, "&#39;"); break;
        default: bo_buf_putc(b, *s);
        }
    }
}

char *bo_qr_svg(const bo_qr *q, const char *title, int px)
{
    int w = q->size + 2 * BO_QR_QUIET;
    bo_buf b;
    bo_buf_init(&b);
    bo_buf_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                      "shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"", w, w, w * px, w * px);
    put_text(&b, title);
    bo_buf_puts(&b, "\"><title>");
    put_text(&b, title);
    bo_buf_puts(&b, "</title><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path fill=\"#000\" d=\"");
    /* One subpath per horizontal run of dark modules. */
    for (int y = 0; y < q->size; y++)
        for (int x = 0; x < q->size;) {
            if (!bo_qr_dark(q, x, y)) {
                x++;
                continue;
            }
            int run = 1;
            while (bo_qr_dark(q, x + run, y))
                run++;
            bo_buf_printf(&b, "M%d %dh%dv1h-%dz", x + BO_QR_QUIET, y + BO_QR_QUIET, run, run);
            x += run;
        }
    bo_buf_puts(&b, "\"/></svg>");
    bo_buf_putc(&b, '\0');
    return b.data;
}
