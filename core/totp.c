/*
 * totp.c - HOTP, TOTP, base32 and otpauth URIs (see totp.h).
 */
#include "totp.h"
#include "buf.h"
#include "crypto.h"

#include <mbedtls/md.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bo_hotp(const uint8_t *key, size_t keylen, uint64_t counter, int digits, char *out)
{
    uint8_t msg[8], mac[20];
    for (int i = 7; i >= 0; i--, counter >>= 8)
        msg[i] = (uint8_t)(counter & 0xff);
    mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA1), key, keylen, msg, sizeof msg, mac);
    int off = mac[19] & 0x0f;
    uint32_t bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
                   (uint32_t)mac[off + 2] << 8 | mac[off + 3];
    uint32_t mod = 1;
    for (int i = 0; i < digits; i++)
        mod *= 10;
    snprintf(out, (size_t)digits + 1, "%0*u", digits, (unsigned)(bin % mod));
}

int64_t bo_totp_step(int64_t t)
{
    return t >= 0 ? t / BO_TOTP_PERIOD : -((-t + BO_TOTP_PERIOD - 1) / BO_TOTP_PERIOD);
}

int bo_totp_check(const uint8_t *key, size_t keylen, const char *code, int64_t now, int64_t last_step,
                  int64_t *step)
{
    if (strlen(code) != BO_TOTP_DIGITS)
        return BO_EINVAL;
    for (int i = 0; i < BO_TOTP_DIGITS; i++)
        if (code[i] < '0' || code[i] > '9')
            return BO_EINVAL;
    /* Every candidate is computed and compared, so the time taken does not
       say which step matched. */
    int64_t base = bo_totp_step(now), found = -1;
    for (int d = -1; d <= 1; d++) {
        int64_t s = base + d;
        char want[BO_TOTP_DIGITS + 1];
        bo_hotp(key, keylen, (uint64_t)s, BO_TOTP_DIGITS, want);
        if (bo_equal_ct(want, code, BO_TOTP_DIGITS) && s > last_step && found < 0)
            found = s;
    }
    if (found < 0)
        return BO_EVERIFY;
    *step = found;
    return 0;
}

int bo_totp_secret(uint8_t out[BO_TOTP_SECRET_BYTES])
{
    return bo_random(out, BO_TOTP_SECRET_BYTES);
}

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

size_t bo_base32_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = acc << 8 | in[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = b32[acc >> bits & 31];
        }
    }
    if (bits > 0)
        out[o++] = b32[acc << (5 - bits) & 31];
    out[o] = '\0';
    return o;
}

long bo_base32_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
    /* Lengths mod 8 that some byte count encodes to: 0, 2, 4, 5, 7. */
    size_t r = n % 8;
    if (r == 1 || r == 3 || r == 6)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a';
        else if (c >= '2' && c <= '7')
            v = c - '2' + 26;
        else
            return -1;
        acc = (acc << 5 | (uint32_t)v) & 0xfff;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return -1;
    return (long)o;
}

char *bo_totp_uri(const char *issuer, const char *account, const uint8_t *key, size_t keylen)
{
    bo_buf b;
    bo_buf_init(&b);
    char *secret = bo_malloc(keylen * 8 / 5 + 2);
    bo_base32_encode(key, keylen, secret);
    bo_buf_puts(&b, "otpauth://totp/");
    bo_buf_put_escaped(&b, issuer);
    bo_buf_putc(&b, ':');
    bo_buf_put_escaped(&b, account);
    bo_buf_printf(&b, "?secret=%s&issuer=", secret);
    bo_buf_put_escaped(&b, issuer);
    bo_buf_printf(&b, "&algorithm=SHA1&digits=%d&period=%d", BO_TOTP_DIGITS, BO_TOTP_PERIOD);
    bo_buf_putc(&b, '\0');
    free(secret);
    return b.data;
}
