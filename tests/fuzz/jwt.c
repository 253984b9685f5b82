/*
 * jwt.c - fuzzes the JSON Web Tokens and Notify API keys of core/jwt.c and
 * the base64url coder under them (core/crypto.c).
 *
 * The first byte chooses: sign claims with a key (both from the input)
 * and read the token back: three base64url parts without padding, the
 * fixed header, the claims as given, and an HMAC-SHA256 of the first two
 * parts; parse a Notify API key, which must succeed exactly when a plain
 * reference says it has the shape "<name>-<uuid>-<uuid>" and give its two
 * UUIDs; or decode base64url text, which when it succeeds must encode back
 * to the same text (one encoding per value), and encode bytes, which must
 * decode back to them.
 */
#include "fuzz.h"

#include "crypto.h"
#include "jwt.h"

#include <string.h>

static char *take_string(const uint8_t *data, size_t size)
{
    char *s = bo_malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Decodes one part of a token; returns the bytes (free) and their length. */
static uint8_t *part(const char *s, size_t n, size_t *len)
{
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(b64url_char(s[i]));
    uint8_t *out = bo_malloc(n + 1);
    long d = bo_base64url_decode(s, n, out, n + 1);
    FUZZ_CHECK(d >= 0);
    *len = (size_t)d;
    return out;
}

static void check_sign(const uint8_t *data, size_t size)
{
    size_t keylen = size ? data[0] % 65 : 0;
    if (size)
        data++, size--;
    if (keylen > size)
        keylen = size;
    const uint8_t *key = data;
    char *claims = take_string(data + keylen, size - keylen);
    char *t = bo_jwt_hs256(claims, key, keylen);
    const char *d1 = strchr(t, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    FUZZ_CHECK(d1 && d2 && !strchr(d2 + 1, '.'));
    size_t hl, cl, ml;
    uint8_t *h = part(t, (size_t)(d1 - t), &hl);
    uint8_t *c = part(d1 + 1, (size_t)(d2 - d1 - 1), &cl);
    uint8_t *m = part(d2 + 1, strlen(d2 + 1), &ml);
    static const char header[] = "{\"typ\":\"JWT\",\"alg\":\"HS256\"}";
    FUZZ_CHECK(hl == sizeof header - 1 && memcmp(h, header, hl) == 0);
    FUZZ_CHECK(cl == strlen(claims) && memcmp(c, claims, cl) == 0);
    uint8_t mac[32];
    bo_hmac_sha256(key, keylen, t, (size_t)(d2 - t), mac);
    FUZZ_CHECK(ml == 32 && memcmp(m, mac, 32) == 0);
    free(h);
    free(c);
    free(m);
    free(t);
    free(claims);
}

static bool ref_uuid(const char *s)
{
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? c != '-' : !hex)
            return false;
    }
    return true;
}

static void check_key(const uint8_t *data, size_t size)
{
    char *key = take_string(data, size);
    size_t n = strlen(key);
    char svc[37], secret[37];
    memset(svc, 'x', sizeof svc);
    memset(secret, 'x', sizeof secret);
    int rc = bo_notify_key_parse(key, svc, secret);
    bool ok = n >= 74 && key[n - 37] == '-' && ref_uuid(key + n - 73) && ref_uuid(key + n - 36);
    FUZZ_CHECK((rc == 0) == ok);
    FUZZ_CHECK(rc == 0 || rc == BO_EINVAL);
    if (ok) {
        FUZZ_CHECK(svc[36] == '\0' && memcmp(svc, key + n - 73, 36) == 0);
        FUZZ_CHECK(secret[36] == '\0' && memcmp(secret, key + n - 36, 36) == 0);
        char *token = bo_notify_token(svc, secret, (time_t)n * 1000003);
        FUZZ_CHECK(strlen(token) > 80);
        free(token);
    }
    free(key);
}

static void check_base64(const uint8_t *data, size_t size)
{
    uint8_t *out = bo_malloc(size + 1);
    long d = bo_base64url_decode((const char *)data, size, out, size + 1);
    if (d >= 0) {
        FUZZ_CHECK((size_t)d <= size * 3 / 4);
        char *again = bo_malloc(((size_t)d * 4 + 2) / 3 + 1);
        size_t n = bo_base64url_encode(out, (size_t)d, again);
        FUZZ_CHECK(n == size && memcmp(again, data, size) == 0 && again[n] == '\0');
        free(again);
    }
    /* And the input as bytes, encoded and decoded. */
    char *text = bo_malloc((size * 4 + 2) / 3 + 1);
    size_t n = bo_base64url_encode(data, size, text);
    FUZZ_CHECK(n == (size * 4 + 2) / 3 && text[n] == '\0');
    long back = bo_base64url_decode(text, n, out, size + 1);
    FUZZ_CHECK(back == (long)size && memcmp(out, data, size) == 0);
    /* Too little room is refused, never overrun. */
    if (size > 0)
        FUZZ_CHECK(bo_base64url_decode(text, n, out, size - 1) == -1);
    free(text);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned what = fuzz_take_byte(&data, &size) % 3;
    if (what == 0)
        check_sign(data, size);
    else if (what == 1)
        check_key(data, size);
    else
        check_base64(data, size);
    return 0;
}
