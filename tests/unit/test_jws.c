/*
 * test_jws.c - core/jws.c and core/oidc.c: RFC 7515's A.2 (RS256) and A.3
 * (ES256) examples, tokens made with our own keys for the three algorithms
 * (jws_vectors.h), every refusal with its code and message (format, none,
 * HS256 keyed with the RSA public key, algorithms not accepted, key type
 * confusion, unknown kid, bad signatures), key set parsing (weak, off-curve
 * and ignored keys), the ID token claim checks one by one, and PKCE
 * (RFC 7636 appendix B).
 */
#include "unit.h"

#include "crypto.h"
#include "jws.h"
#include "jws_vectors.h"
#include "oidc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char err[256];

/* RFC 7515 A.2: the RSA key's public half and the example token. */
#define A2_JWKS \
    "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx" \
    "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGz" \
    "jb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb" \
    "3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyu" \
    "XpoQ\",\"e\":\"AQAB\"}]}"
#define A_PAYLOAD "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
#define A2_TOKEN \
    "eyJhbGciOiJSUzI1NiJ9." A_PAYLOAD ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZm" \
    "h7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO7" \
    "5vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7" \
    "noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
/* RFC 7515 A.3: the P-256 key's public half and the example token. */
#define A3_JWKS \
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"," \
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}"
#define A3_TOKEN \
    "eyJhbGciOiJFUzI1NiJ9." A_PAYLOAD \
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
#define A_CLAIMS "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"

static bo_jwks *keyset(const char *text)
{
    bo_jwks *ks = NULL;
    int rc = bo_jwks_parse(text, strlen(text), &ks, err, sizeof err);
    if (rc)
        printf("  key set refused: %s\n", err);
    return ks;
}

/* Verifies token against the set text with algs; returns the code, err set. */
static int verify(const char *jwks, const char *token, unsigned algs)
{
    bo_jwks *ks = keyset(jwks);
    bo_jws t;
    err[0] = '\0';
    int rc = bo_jws_verify(token, strlen(token), ks, algs, &t, err, sizeof err);
    if (rc == 0)
        bo_jws_release(&t);
    else
        CHECK(t.payload == NULL && t.kid == NULL);
    bo_jwks_free(ks);
    return rc;
}

/* A token with the given header (JSON) over the fixtures' payload and signature. */
static char *with_header(const char *header, const char *token)
{
    char h[512];
    bo_base64url_encode((const uint8_t *)header, strlen(header), h);
    const char *rest = strchr(token, '.');
    return bo_sprintf("%s%s", h, rest);
}

TEST(rfc7515_a2_rs256)
{
    bo_jwks *ks = keyset(A2_JWKS);
    CHECK_EQ_INT(bo_jwks_count(ks), 1);
    bo_jws t;
    CHECK_EQ_INT(bo_jws_verify(A2_TOKEN, strlen(A2_TOKEN), ks, BO_JWS_RS256, &t, err, sizeof err), 0);
    CHECK_EQ_INT(t.alg, BO_JWS_RS256);
    CHECK(t.kid == NULL && t.typ == NULL);
    CHECK_MEM(t.payload, t.payload_len, A_CLAIMS);
    bo_jws_release(&t);
    CHECK(t.payload == NULL);
    /* The same signature does not pass as PS256, nor with RS256 not accepted. */
    char *ps = with_header("{\"alg\":\"PS256\"}", A2_TOKEN);
    CHECK_EQ_INT(bo_jws_verify(ps, strlen(ps), ks, BO_JWS_ALL, &t, err, sizeof err), BO_EVERIFY);
    CHECK_STR(err, "bad signature");
    free(ps);
    CHECK_EQ_INT(bo_jws_verify(A2_TOKEN, strlen(A2_TOKEN), ks, BO_JWS_PS256 | BO_JWS_ES256, &t, err,
                               sizeof err), BO_EPERM);
    CHECK_STR(err, "algorithm RS256 not accepted here");
    bo_jwks_free(ks);
}

TEST(rfc7515_a3_es256)
{
    CHECK_EQ_INT(verify(A3_JWKS, A3_TOKEN, BO_JWS_ES256), 0);
    /* An RSA set has no key for it: a rotation, as far as we can tell. */
    CHECK_EQ_INT(verify(A2_JWKS, A3_TOKEN, BO_JWS_ALL), BO_ENOENT);
    CHECK_STR(err, "no key in the key set for ES256");
    /* One bit of the signature flipped. */
    char *bad = bo_strdup(A3_TOKEN);
    bad[strlen(bad) - 3] = bad[strlen(bad) - 3] == 'N' ? 'M' : 'N';
    CHECK_EQ_INT(verify(A3_JWKS, bad, BO_JWS_ES256), BO_EVERIFY);
    CHECK_STR(err, "bad signature");
    free(bad);
}

TEST(our_three_algorithms)
{
    const char *tokens[] = { RS256, PS256, ES256, RS256_NOKID };
    const unsigned algs[] = { BO_JWS_RS256, BO_JWS_PS256, BO_JWS_ES256, BO_JWS_RS256 };
    bo_jwks *ks = keyset(JWKS);
    CHECK_EQ_INT(bo_jwks_count(ks), 2);
    for (size_t i = 0; i < BO_COUNT(tokens); i++) {
        bo_jws t;
        CHECK_EQ_INT(bo_jws_verify(tokens[i], strlen(tokens[i]), ks, algs[i], &t, err, sizeof err), 0);
        CHECK_EQ_INT(t.alg, algs[i]);
        CHECK(strstr(t.payload, "\"sub\":\"u-1001\"") != NULL);
        if (i == 0) {
            CHECK_STR(t.kid, "rsa1");
            CHECK_STR(t.typ, "JWT");
        }
        if (i == 3)
            CHECK(t.kid == NULL);
        bo_jws_release(&t);
    }
    bo_jwks_free(ks);
}

TEST(wrong_signatures)
{
    /* A PSS salt of 64 bytes (we require the hash length), a DER-encoded
       ECDSA signature (JWS wants r || s), PKCS#1 v1.5 under a PS256 header. */
    CHECK_EQ_INT(verify(JWKS, PS256_SALT64, BO_JWS_ALL), BO_EVERIFY);
    CHECK_EQ_INT(verify(JWKS, ES256_DER, BO_JWS_ALL), BO_EVERIFY);
    CHECK_EQ_INT(verify(JWKS, RS_AS_PS, BO_JWS_ALL), BO_EVERIFY);
    CHECK_STR(err, "bad signature");
    /* The payload changed: "u-1001" -> "u-1002" would need re-encoding; swap
       the payload for the A.2 example's instead. */
    const char *d1 = strchr(RS256, '.'), *d2 = strchr(d1 + 1, '.');
    char *swapped = bo_sprintf("%.*s." A_PAYLOAD "%s", (int)(d1 - RS256), RS256, d2);
    CHECK_EQ_INT(verify(JWKS, swapped, BO_JWS_ALL), BO_EVERIFY);
    free(swapped);
}

TEST(refused_algorithms)
{
    /* alg none, with and without a signature part. */
    char *none = with_header("{\"alg\":\"none\"}", RS256);
    CHECK_EQ_INT(verify(JWKS, none, BO_JWS_ALL), BO_EPERM);
    CHECK_STR(err, "unsigned token (alg \"none\") refused");
    *strrchr(none, '.') = '\0';
    char *bare = bo_sprintf("%s.", none);
    CHECK_EQ_INT(verify(JWKS, bare, BO_JWS_ALL), BO_EPERM);
    CHECK_STR(err, "unsigned token (alg \"none\") refused");
    free(bare);
    free(none);
    /* HS256 keyed with the RSA public key's PEM: the classic confusion. */
    CHECK_EQ_INT(verify(JWKS, HS256_PEM, BO_JWS_ALL), BO_EPERM);
    CHECK_STR(err, "shared-secret algorithm HS256 refused");
    char *hs512 = with_header("{\"alg\":\"HS512\",\"kid\":\"rsa1\"}", RS256);
    CHECK_EQ_INT(verify(JWKS, hs512, BO_JWS_ALL), BO_EPERM);
    CHECK_STR(err, "shared-secret algorithm HS512 refused");
    free(hs512);
    char *rs384 = with_header("{\"alg\":\"RS384\",\"kid\":\"rsa1\"}", RS256);
    CHECK_EQ_INT(verify(JWKS, rs384, BO_JWS_ALL), BO_EPERM);
    CHECK_STR(err, "algorithm \"RS384\" not supported");
    free(rs384);
    CHECK_EQ_INT(verify(JWKS, PS256, BO_JWS_RS256 | BO_JWS_ES256), BO_EPERM);
    CHECK_STR(err, "algorithm PS256 not accepted here");
    CHECK_EQ_INT(verify(JWKS, RS256, 0), BO_EPERM);
    char *crit = with_header("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[\"exp\"],\"exp\":1}", RS256);
    CHECK_EQ_INT(verify(JWKS, crit, BO_JWS_ALL), BO_EPERM);
    CHECK_STR(err, "header \"crit\" extensions are not supported");
    free(crit);
}

TEST(key_decides_the_verifier)
{
    /* ES256 naming the RSA key: refused, not looked up elsewhere. */
    CHECK_EQ_INT(verify(JWKS, ES_KID_RSA, BO_JWS_ALL), BO_EPERM);
    CHECK_STR(err, "key \"rsa1\" cannot verify ES256");
    /* A key whose own "alg" is RS256 does not verify PS256. */
    CHECK(strstr(JWKS, "\"use\":\"sig\"") != NULL);
    const char *use = strstr(JWKS, "\"use\":\"sig\"");
    char *pinned = bo_sprintf("%.*s\"alg\":\"RS256\"%s", (int)(use - JWKS), JWKS, use + 11);
    CHECK_EQ_INT(verify(pinned, RS256, BO_JWS_ALL), 0);
    CHECK_EQ_INT(verify(pinned, PS256, BO_JWS_ALL), BO_EPERM);
    CHECK_STR(err, "key \"rsa1\" cannot verify PS256");
    free(pinned);
    CHECK_EQ_INT(verify(JWKS, UNKNOWN_KID, BO_JWS_ALL), BO_ENOENT);
    CHECK_STR(err, "no key \"rsa2\" in the key set");
    /* No key set at all (not fetched yet). */
    bo_jws t;
    CHECK_EQ_INT(bo_jws_verify(RS256, strlen(RS256), NULL, BO_JWS_ALL, &t, err, sizeof err), BO_ENOENT);
}

TEST(malformed_tokens)
{
    static const char *const bad[] = {
        "",
        "abc",
        "eyJhbGciOiJSUzI1NiJ9.e30",
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln.c2ln",
        ".e30.c2ln",
        "eyJhbGciOiJSUzI1NiJ9.e30=.c2ln",         /* padding */
        "eyJhbGciOiJSUzI1NiJ9.e3+.c2ln",          /* base64, not base64url */
        "eyJhbGciOiJSUzI1NiJ9 .e30.c2ln",
        "eyJhbGciOiJSUzI1NiJ8.e30.c2ln",          /* non-zero trailing bits */
        "eyJhbGciOiJSUzI1NiJ9.e30.",              /* no signature */
        "eyJhbGciOiJSUzI1NiJ9.e30.c",             /* a lone base64url character */
    };
    for (size_t i = 0; i < BO_COUNT(bad); i++) {
        int rc = verify(JWKS, bad[i], BO_JWS_ALL);
        if (rc != BO_EPARSE)
            printf("  token %zu: %d %s\n", i, rc, err);
        CHECK_EQ_INT(rc, BO_EPARSE);
    }
    static const char *const headers[] = {
        "[\"RS256\"]", "{}", "{\"alg\":256}", "{\"alg\":\"RS256\",\"alg\":\"none\"}",
        "{\"alg\":\"RS256\",\"kid\":7}", "{\"alg\":\"RS256\"", "not json",
    };
    static const char *const messages[] = {
        "header has no \"alg\"", "header has no \"alg\"", "header has no \"alg\"",
        "header is not JSON: duplicate member name at byte 16",
        "header \"kid\" or \"typ\" is not a string",
        "header is not JSON: unexpected end of input at byte 15",
        "header is not JSON: unexpected character 'o' at byte 2",
    };
    for (size_t i = 0; i < BO_COUNT(headers); i++) {
        char *t = with_header(headers[i], RS256);
        CHECK_EQ_INT(verify(JWKS, t, BO_JWS_ALL), BO_EPARSE);
        CHECK_STR(err, messages[i]);
        free(t);
    }
    /* Too long. */
    char *huge = bo_malloc(BO_JWS_MAX_TOKEN + 2);
    memset(huge, 'A', BO_JWS_MAX_TOKEN + 1);
    huge[BO_JWS_MAX_TOKEN + 1] = '\0';
    CHECK_EQ_INT(verify(JWKS, huge, BO_JWS_ALL), BO_EPARSE);
    CHECK_STR(err, "token longer than 16384 characters");
    free(huge);
}

static int parse_set(const char *text)
{
    bo_jwks *ks = NULL;
    int rc = bo_jwks_parse(text, strlen(text), &ks, err, sizeof err);
    CHECK(rc == 0 ? ks != NULL : ks == NULL);
    bo_jwks_free(ks);
    return rc;
}

TEST(key_sets)
{
    CHECK_EQ_INT(parse_set(WEAK_JWKS), BO_EINVAL);
    CHECK_STR(err, "key \"weak\": RSA key of 1024 bits (at least 2048 needed)");
    /* A.3's point with y changed: off the curve. */
    CHECK_EQ_INT(parse_set("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"e\","
                           "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                           "\"y\":\"x_FEzRu9m37HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}"), BO_EINVAL);
    CHECK_STR(err, "key \"e\": the point is not on the P-256 curve");
    CHECK_EQ_INT(parse_set("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                           "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE\","
                           "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}"), BO_EINVAL);
    CHECK_STR(err, "key 1: \"x\" and \"y\" must be 32 bytes of base64url");
    CHECK_EQ_INT(parse_set("{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}"), BO_EINVAL);
    CHECK_EQ_INT(parse_set("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AAAA\",\"e\":\"AQAB\"}]}"), BO_EINVAL);
    CHECK_STR(err, "key 1: \"n\" or \"e\" has a leading zero byte");
    CHECK_EQ_INT(parse_set("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQABAQAB\"}]}"), BO_EINVAL);
    CHECK_STR(err, "key 1: \"e\" is missing, not base64url or longer than 4 bytes");
    CHECK_EQ_INT(parse_set("not json"), BO_EPARSE);
    CHECK_STR(err, "key set is not JSON: unexpected character 'o' at byte 2");
    CHECK_EQ_INT(parse_set("{\"keys\":{}}"), BO_EPARSE);
    CHECK_STR(err, "not a key set (no \"keys\" array)");
    CHECK_EQ_INT(parse_set("{\"keys\":[1]}"), BO_EPARSE);
    CHECK_STR(err, "key 1 is not an object");
    CHECK_EQ_INT(parse_set("{\"keys\":[{\"n\":\"x\"}]}"), BO_EPARSE);
    CHECK_STR(err, "key 1 has no \"kty\"");
    CHECK_EQ_INT(parse_set("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"\"}]}"), BO_EPARSE);

    /* Ignored, whatever their material: other types, curves and uses, and
       algorithms that do not fit the type. */
    bo_jwks *ks;
    const char *ignored = "{\"keys\":["
        "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},"
        "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"\",\"y\":\"\"},"
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"\"},"
        "{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"\",\"e\":\"\"},"
        "{\"kty\":\"RSA\",\"key_ops\":[\"encrypt\"],\"n\":\"\",\"e\":\"\"},"
        "{\"kty\":\"RSA\",\"alg\":\"RSA-OAEP\",\"n\":\"\",\"e\":\"\"},"
        "{\"kty\":\"RSA\",\"alg\":\"HS256\",\"n\":\"\",\"e\":\"\"},"
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"RS256\",\"x\":\"\",\"y\":\"\"}]}";
    CHECK_EQ_INT(bo_jwks_parse(ignored, strlen(ignored), &ks, err, sizeof err), 0);
    CHECK_EQ_INT(bo_jwks_count(ks), 0);
    bo_jwks_free(ks);

    /* 33 usable keys. */
    bo_buf b;
    bo_buf_init(&b);
    bo_buf_puts(&b, "{\"keys\":[");
    for (int i = 0; i <= BO_JWKS_MAX_KEYS; i++)
        bo_buf_printf(&b, "%s{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k%d\","
                          "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                          "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}", i ? "," : "", i);
    bo_buf_puts(&b, "]}");
    CHECK_EQ_INT(bo_jwks_parse(b.data, b.len, &ks, err, sizeof err), BO_ELIMIT);
    CHECK_STR(err, "more than 32 keys");
    bo_buf_free(&b);
}

/* ---- ID token claims ---- */

static const bo_oidc_expect expect = {
    "https://idp.example", "borough", "n-0S6_WzA2Mj", 2000000100, 60,
};

static int check(const char *claims, const bo_oidc_expect *e)
{
    bo_oidc_claims c;
    int rc = bo_oidc_check(claims, strlen(claims), e, &c, err, sizeof err);
    CHECK(rc == 0 ? c.claims != NULL : c.claims == NULL);
    bo_oidc_claims_release(&c);
    return rc;
}

#define BASE "\"iss\":\"https://idp.example\",\"sub\":\"u-1\",\"exp\":2000000600,\"iat\":2000000000," \
             "\"nonce\":\"n-0S6_WzA2Mj\""

TEST(id_token_verified_end_to_end)
{
    bo_jwks *ks = keyset(JWKS);
    bo_oidc_claims c;
    CHECK_EQ_INT(bo_oidc_verify_id_token(ES256, strlen(ES256), ks, BO_JWS_ALL, &expect, &c, err, sizeof err), 0);
    CHECK_STR(c.sub, "u-1001");
    CHECK_STR(c.name, "Ada Example");
    CHECK_STR(c.email, "ada@example.org");
    CHECK(c.oid == NULL && c.roles == NULL);
    CHECK(c.groups && c.groups->count == 2);
    CHECK_STR(c.groups->first->str, "planning");
    CHECK_STR(c.groups->first->next->str, "housing");
    CHECK_EQ_INT(c.exp, 2000000600);
    CHECK_EQ_INT(c.iat, 2000000000);
    bo_oidc_claims_release(&c);
    CHECK_EQ_INT(bo_oidc_verify_id_token(HS256_PEM, strlen(HS256_PEM), ks, BO_JWS_ALL, &expect, &c, err,
                                         sizeof err), BO_EPERM);
    CHECK(c.claims == NULL);
    bo_jwks_free(ks);
}

TEST(claims_accepted)
{
    CHECK_EQ_INT(check("{" BASE ",\"aud\":\"borough\"}", &expect), 0);
    CHECK_EQ_INT(check("{" BASE ",\"aud\":[\"borough\"]}", &expect), 0);
    CHECK_EQ_INT(check("{" BASE ",\"aud\":[\"other\",\"borough\"],\"azp\":\"borough\"}", &expect), 0);
    CHECK_EQ_INT(check("{" BASE ",\"aud\":\"borough\",\"azp\":\"borough\",\"nbf\":2000000150}", &expect), 0);
    /* Within the skew on each side: expired 59 s ago, issued 60 s ahead. */
    bo_oidc_expect late = expect;
    late.now = 2000000600 + 59;
    CHECK_EQ_INT(check("{" BASE ",\"aud\":\"borough\"}", &late), 0);
    bo_oidc_expect early = expect;
    early.now = 2000000000 - 60;
    CHECK_EQ_INT(check("{" BASE ",\"aud\":\"borough\"}", &early), 0);
    /* A fractional NumericDate. */
    CHECK_EQ_INT(check("{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":\"borough\",\"exp\":2000000600.5,"
                       "\"iat\":2000000000.25,\"nonce\":\"n-0S6_WzA2Mj\"}", &expect), 0);
}

TEST(claims_refused)
{
    static const struct { const char *claims; int rc; const char *err; } cases[] = {
        { "{" BASE "}", BO_EVERIFY, "audience (\"aud\") does not include this client" },
        { "{" BASE ",\"aud\":\"other\"}", BO_EVERIFY, "audience (\"aud\") does not include this client" },
        { "{" BASE ",\"aud\":[]}", BO_EVERIFY, "audience (\"aud\") does not include this client" },
        { "{" BASE ",\"aud\":\"Borough\"}", BO_EVERIFY, "audience (\"aud\") does not include this client" },
        { "{" BASE ",\"aud\":[\"borough\",7]}", BO_EPARSE, "claim \"aud\" is not a string or an array of strings" },
        { "{" BASE ",\"aud\":{\"borough\":1}}", BO_EPARSE, "claim \"aud\" is not a string or an array of strings" },
        { "{" BASE ",\"aud\":[\"other\",\"borough\"]}", BO_EVERIFY,
          "several audiences and no authorized party (\"azp\")" },
        { "{" BASE ",\"aud\":\"borough\",\"azp\":\"other\"}", BO_EVERIFY,
          "authorized party (\"azp\") is another client" },
        { "{\"iss\":\"https://idp.example/\",\"sub\":\"u\",\"aud\":\"borough\",\"exp\":2000000600,\"iat\":1,"
          "\"nonce\":\"n-0S6_WzA2Mj\"}", BO_EVERIFY, "issuer (\"iss\") is not https://idp.example" },
        { "{\"sub\":\"u\",\"aud\":\"borough\",\"exp\":2000000600,\"iat\":1,\"nonce\":\"n-0S6_WzA2Mj\"}",
          BO_EVERIFY, "issuer (\"iss\") is not https://idp.example" },
        { "{\"iss\":\"https://idp.example\",\"sub\":\"\",\"aud\":\"borough\",\"exp\":2000000600,\"iat\":1,"
          "\"nonce\":\"n-0S6_WzA2Mj\"}", BO_EVERIFY, "no subject (\"sub\")" },
        { "{\"iss\":\"https://idp.example\",\"sub\":7,\"aud\":\"borough\"}", BO_EPARSE,
          "claim \"sub\" is not a string" },
        { "{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":\"borough\",\"exp\":2000000039,\"iat\":1,"
          "\"nonce\":\"n-0S6_WzA2Mj\"}", BO_EVERIFY, "expired at 2000000039 (now 2000000100)" },
        { "{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":\"borough\",\"exp\":\"2000000600\",\"iat\":1,"
          "\"nonce\":\"n-0S6_WzA2Mj\"}", BO_EPARSE, "claim \"exp\", \"iat\" or \"nbf\" is not a number" },
        { "{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":\"borough\",\"iat\":1,"
          "\"nonce\":\"n-0S6_WzA2Mj\"}", BO_EVERIFY, "no expiry (\"exp\") or issue time (\"iat\")" },
        { "{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":\"borough\",\"exp\":2000000600,"
          "\"nonce\":\"n-0S6_WzA2Mj\"}", BO_EVERIFY, "no expiry (\"exp\") or issue time (\"iat\")" },
        { "{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":\"borough\",\"exp\":2000000600,"
          "\"iat\":2000000161,\"nonce\":\"n-0S6_WzA2Mj\"}", BO_EVERIFY, "issued for later (\"iat\" after 2000000100)" },
        { "{" BASE ",\"aud\":\"borough\",\"nbf\":2000000161}", BO_EVERIFY,
          "issued for later (\"nbf\" after 2000000100)" },
        { "{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":\"borough\",\"exp\":2000000600,\"iat\":1}",
          BO_EVERIFY, "nonce does not match this sign-in" },
        { "{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":\"borough\",\"exp\":2000000600,\"iat\":1,"
          "\"nonce\":\"n-0S6_WzA2Mk\"}", BO_EVERIFY, "nonce does not match this sign-in" },
        { "{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":\"borough\",\"exp\":2000000600,\"iat\":1,"
          "\"nonce\":\"n-0S6_WzA2Mj2\"}", BO_EVERIFY, "nonce does not match this sign-in" },
        { "{" BASE ",\"aud\":\"borough\",\"groups\":\"planning\"}", BO_EPARSE,
          "claim \"groups\" or \"roles\" is not an array of strings" },
        { "{" BASE ",\"aud\":\"borough\",\"roles\":[1]}", BO_EPARSE,
          "claim \"groups\" or \"roles\" is not an array of strings" },
        { "{" BASE ",\"aud\":\"borough\",\"email\":null}", BO_EPARSE, "claim \"email\" is not a string" },
        { "{" BASE ",\"aud\":\"borough\",\"aud\":\"other\"}", BO_EPARSE,
          "claims are not JSON: duplicate member name at byte 115" },
        { "[]", BO_EPARSE, "claims are not a JSON object" },
    };
    for (size_t i = 0; i < BO_COUNT(cases); i++) {
        int rc = check(cases[i].claims, &expect);
        if (rc != cases[i].rc || strcmp(err, cases[i].err) != 0)
            printf("  case %zu: %d \"%s\"\n", i, rc, err);
        CHECK_EQ_INT(rc, cases[i].rc);
        CHECK_STR(err, cases[i].err);
    }
    bo_oidc_expect no_nonce = expect;
    no_nonce.nonce = NULL;
    CHECK_EQ_INT(check("{" BASE ",\"aud\":\"borough\"}", &no_nonce), BO_EINVAL);
}

TEST(pkce_state_nonce)
{
    char out[BO_PKCE_CHALLENGE_CHARS + 1];
    /* RFC 7636 appendix B. */
    CHECK_EQ_INT(bo_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", out), 0);
    CHECK_STR(out, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    CHECK_EQ_INT(bo_pkce_challenge("too-short", out), BO_EINVAL);
    CHECK_EQ_INT(bo_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX+", out), BO_EINVAL);
    char a[BO_OIDC_TOKEN_CHARS + 1], b[BO_OIDC_TOKEN_CHARS + 1];
    CHECK_EQ_INT(bo_oidc_random_token(a), 0);
    CHECK_EQ_INT(bo_oidc_random_token(b), 0);
    CHECK_EQ_INT(strlen(a), 43);
    CHECK(strcmp(a, b) != 0);
    CHECK_EQ_INT(bo_pkce_challenge(a, out), 0);
    char longest[129];
    memset(longest, '~', 128);
    longest[128] = '\0';
    CHECK_EQ_INT(bo_pkce_challenge(longest, out), 0);
    longest[127] = '\0';
    CHECK_EQ_INT(bo_pkce_challenge(longest, out), 0);
    char *too_long = bo_sprintf("%s~~", longest);
    CHECK_EQ_INT(bo_pkce_challenge(too_long, out), BO_EINVAL);
    free(too_long);
}

/* Verifies files given on the command line (tests/e2e/test_oidc.py):
   test_jws verify JWKS_FILE TOKEN_FILE ISSUER CLIENT_ID NONCE [ALGS]
   prints "ok <sub>" or "<code name>: <message>". */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    bo_buf b;
    bo_buf_init(&b);
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        bo_buf_append(&b, chunk, got);
    fclose(f);
    while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
        b.len--;
    bo_buf_putc(&b, '\0');
    *n = b.len - 1;
    return b.data;
}

static int verify_files(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: test_jws verify JWKS_FILE TOKEN_FILE ISSUER CLIENT_ID NONCE [ALG,...]\n");
        return 2;
    }
    unsigned algs = BO_JWS_ALL;
    if (argc > 7) {
        algs = 0;
        char *list = bo_strdup(argv[7]), *save = NULL;
        for (char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save))
            algs |= bo_jws_alg(a);
        free(list);
    }
    size_t jlen, tlen;
    char *jwks = slurp(argv[2], &jlen), *token = slurp(argv[3], &tlen);
    if (!jwks || !token) {
        fprintf(stderr, "test_jws: cannot read %s or %s\n", argv[2], argv[3]);
        free(jwks);
        free(token);
        return 2;
    }
    bo_jwks *ks;
    int rc = bo_jwks_parse(jwks, jlen, &ks, err, sizeof err);
    if (rc == 0) {
        bo_oidc_expect e = { argv[4], argv[5], argv[6], (int64_t)time(NULL), 60 };
        bo_oidc_claims c;
        rc = bo_oidc_verify_id_token(token, tlen, ks, algs, &e, &c, err, sizeof err);
        if (rc == 0)
            printf("ok %s\n", c.sub);
        bo_oidc_claims_release(&c);
        bo_jwks_free(ks);
    }
    if (rc)
        printf("%s: %s\n", rc == BO_EPARSE ? "EPARSE" : rc == BO_EPERM ? "EPERM" : rc == BO_ENOENT ? "ENOENT"
                           : rc == BO_EVERIFY ? "EVERIFY" : rc == BO_EINVAL ? "EINVAL" : "ERROR", err);
    free(jwks);
    free(token);
    return 0;
}

static const unit_case cases[] = {
    UNIT_CASE(rfc7515_a2_rs256)
    UNIT_CASE(rfc7515_a3_es256)
    UNIT_CASE(our_three_algorithms)
    UNIT_CASE(wrong_signatures)
    UNIT_CASE(refused_algorithms)
    UNIT_CASE(key_decides_the_verifier)
    UNIT_CASE(malformed_tokens)
    UNIT_CASE(key_sets)
    UNIT_CASE(id_token_verified_end_to_end)
    UNIT_CASE(claims_accepted)
    UNIT_CASE(claims_refused)
    UNIT_CASE(pkce_state_nonce)
};

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "verify") == 0)
        return verify_files(argc, argv);
    return UNIT_RUN("jws", cases);
}
