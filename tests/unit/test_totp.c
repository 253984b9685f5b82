/*
 * test_totp.c - core/totp.c: RFC 4226 appendix D (HOTP), RFC 6238 appendix
 * B (TOTP, SHA-1 rows), RFC 4648 section 10 (base32), the drift window, the
 * refusal of a step already used, and the otpauth URI.
 */
#include "unit.h"

#include "totp.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t *rfc_key = (const uint8_t *)"12345678901234567890";

TEST(rfc4226_hotp)
{
    static const char *const codes[] = {
        "755224", "287082", "359152", "969429", "338314",
        "254676", "287922", "162583", "399871", "520489",
    };
    char out[9];
    for (uint64_t c = 0; c < 10; c++) {
        bo_hotp(rfc_key, 20, c, 6, out);
        CHECK_STR(out, codes[c]);
    }
}

TEST(rfc6238_totp)
{
    static const struct { int64_t t; const char *code; } rows[] = {
        { 59, "94287082" }, { 1111111109, "07081804" }, { 1111111111, "14050471" },
        { 1234567890, "89005924" }, { 2000000000, "69279037" }, { 20000000000LL, "65353130" },
    };
    char out[9];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bo_hotp(rfc_key, 20, (uint64_t)bo_totp_step(rows[i].t), 8, out);
        CHECK_STR(out, rows[i].code);
    }
    CHECK_EQ_INT(bo_totp_step(59), 1);
    CHECK_EQ_INT(bo_totp_step(60), 2);
}

TEST(check_window_and_reuse)
{
    /* At t = 1111111109 (step 37037036) the 6-digit codes of the steps
       around it: */
    char before[7], now[7], after[7], later[7];
    bo_hotp(rfc_key, 20, 37037035, 6, before);
    bo_hotp(rfc_key, 20, 37037036, 6, now);
    bo_hotp(rfc_key, 20, 37037037, 6, after);
    bo_hotp(rfc_key, 20, 37037038, 6, later);
    CHECK_STR(now, "081804");
    int64_t step = 0;
    const int64_t t = 1111111109;
    CHECK_EQ_INT(bo_totp_check(rfc_key, 20, now, t, -1, &step), 0);
    CHECK_EQ_INT(step, 37037036);
    CHECK_EQ_INT(bo_totp_check(rfc_key, 20, before, t, -1, &step), 0);
    CHECK_EQ_INT(step, 37037035);
    CHECK_EQ_INT(bo_totp_check(rfc_key, 20, after, t, -1, &step), 0);
    CHECK_EQ_INT(step, 37037037);
    step = 0;
    CHECK_EQ_INT(bo_totp_check(rfc_key, 20, later, t, -1, &step), BO_EVERIFY);
    CHECK_EQ_INT(step, 0);
    /* Used once: the same code, and any earlier one, is refused. */
    CHECK_EQ_INT(bo_totp_check(rfc_key, 20, now, t, 37037036, &step), BO_EVERIFY);
    CHECK_EQ_INT(bo_totp_check(rfc_key, 20, before, t, 37037036, &step), BO_EVERIFY);
    CHECK_EQ_INT(bo_totp_check(rfc_key, 20, after, t, 37037036, &step), 0);
    CHECK_EQ_INT(step, 37037037);
    /* Not six digits. */
    CHECK_EQ_INT(bo_totp_check(rfc_key, 20, "08180", t, -1, &step), BO_EINVAL);
    CHECK_EQ_INT(bo_totp_check(rfc_key, 20, "0818044", t, -1, &step), BO_EINVAL);
    CHECK_EQ_INT(bo_totp_check(rfc_key, 20, "08180a", t, -1, &step), BO_EINVAL);
    CHECK_EQ_INT(bo_totp_check(rfc_key, 20, " 81804", t, -1, &step), BO_EINVAL);
}

TEST(base32_rfc4648)
{
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const coded[] = { "", "MY", "MZXQ", "MZXW6", "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI" };
    char out[40];
    uint8_t back[32];
    for (size_t i = 0; i < 7; i++) {
        CHECK_EQ_INT(bo_base32_encode((const uint8_t *)plain[i], strlen(plain[i]), out), strlen(coded[i]));
        CHECK_STR(out, coded[i]);
        long n = bo_base32_decode(coded[i], strlen(coded[i]), back, sizeof back);
        CHECK_EQ_INT(n, strlen(plain[i]));
        CHECK_MEM((const char *)back, (size_t)n, plain[i]);
    }
    CHECK_EQ_INT(bo_base32_decode("mzxw6ytboi", 10, back, sizeof back), 6);
    CHECK_EQ_INT(bo_base32_decode("MZXW6YQ=", 8, back, sizeof back), -1);     /* padding */
    CHECK_EQ_INT(bo_base32_decode("MZXW6Y", 6, back, sizeof back), -1);       /* no such length */
    CHECK_EQ_INT(bo_base32_decode("M", 1, back, sizeof back), -1);
    CHECK_EQ_INT(bo_base32_decode("MZ", 2, back, sizeof back), -1);           /* leftover bits set */
    CHECK_EQ_INT(bo_base32_decode("MZXW 6YQ", 8, back, sizeof back), -1);
    CHECK_EQ_INT(bo_base32_decode("MZXW1YQ", 7, back, sizeof back), -1);
    CHECK_EQ_INT(bo_base32_decode("MZXW6YTBOI", 10, back, 5), -1);             /* too long for out */
    /* The RFC 6238 key, as apps show it. */
    CHECK_EQ_INT(bo_base32_encode(rfc_key, 20, out), BO_TOTP_SECRET_CHARS);
    CHECK_STR(out, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

TEST(secret_and_uri)
{
    uint8_t a[BO_TOTP_SECRET_BYTES], b[BO_TOTP_SECRET_BYTES];
    CHECK_EQ_INT(bo_totp_secret(a), 0);
    CHECK_EQ_INT(bo_totp_secret(b), 0);
    CHECK(memcmp(a, b, sizeof a) != 0);
    char *uri = bo_totp_uri("Camden Council", "ada.lovelace+test@example.org", rfc_key, 20);
    CHECK_STR(uri, "otpauth://totp/Camden%20Council:ada.lovelace%2Btest%40example.org"
                   "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Camden%20Council"
                   "&algorithm=SHA1&digits=6&period=30");
    free(uri);
    uri = bo_totp_uri("Ynys Môn: staff", "a&b=c?d", rfc_key, 20);
    CHECK_STR(uri, "otpauth://totp/Ynys%20M%C3%B4n%3A%20staff:a%26b%3Dc%3Fd"
                   "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Ynys%20M%C3%B4n%3A%20staff"
                   "&algorithm=SHA1&digits=6&period=30");
    free(uri);
}

static const unit_case cases[] = {
    UNIT_CASE(rfc4226_hotp)
    UNIT_CASE(rfc6238_totp)
    UNIT_CASE(check_window_and_reuse)
    UNIT_CASE(base32_rfc4648)
    UNIT_CASE(secret_and_uri)
};

int main(void)
{
    return UNIT_RUN("totp", cases);
}
