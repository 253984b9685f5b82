/*
 * jws.c - JWK sets and JWS verification with RS256, PS256 and ES256 (see
 * jws.h).
 */
#include "jws.h"
#include "crypto.h"
#include "json.h"

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADER_CHARS 2048         /* base64url characters of a header */
#define MAX_KID 256
#define RSA_MAX_BYTES (BO_JWK_RSA_MAX_BITS / 8)
#define P256_BYTES 32

enum { KTY_RSA = 1, KTY_EC = 2 };

/* A kept key: its raw material, from which each verification builds the
   mbedTLS context it needs. */
typedef struct jwk {
    int kty;
    unsigned algs;          /* what it may verify: its "alg", or all its type allows */
    char *kid;              /* NULL without one */
    uint8_t *n;             /* RSA modulus, big-endian, no leading zero */
    size_t nlen;
    uint8_t e[4];
    size_t elen;
    uint8_t point[1 + 2 * P256_BYTES];   /* EC: 04 || x || y */
} jwk;

struct bo_jwks {
    jwk keys[BO_JWKS_MAX_KEYS];
    size_t count;
};

static const struct {
    const char *name;
    unsigned bit;
    int kty;
} algorithms[] = {
    { "RS256", BO_JWS_RS256, KTY_RSA },
    { "PS256", BO_JWS_PS256, KTY_RSA },
    { "ES256", BO_JWS_ES256, KTY_EC },
};

#define RSA_ALGS (BO_JWS_RS256 | BO_JWS_PS256)
#define EC_ALGS BO_JWS_ES256

unsigned bo_jws_alg(const char *name)
{
    for (size_t i = 0; i < BO_COUNT(algorithms); i++)
        if (strcmp(name, algorithms[i].name) == 0)
            return algorithms[i].bit;
    return 0;
}

const char *bo_jws_alg_name(unsigned alg)
{
    for (size_t i = 0; i < BO_COUNT(algorithms); i++)
        if (alg == algorithms[i].bit)
            return algorithms[i].name;
    return NULL;
}

/* ---- key sets ---- */

static void jwk_clear(jwk *k)
{
    free(k->kid);
    free(k->n);
    memset(k, 0, sizeof *k);
}

void bo_jwks_free(bo_jwks *keys)
{
    if (!keys)
        return;
    for (size_t i = 0; i < keys->count; i++)
        jwk_clear(&keys->keys[i]);
    free(keys);
}

size_t bo_jwks_count(const bo_jwks *keys)
{
    return keys ? keys->count : 0;
}

/* Decodes the base64url string member name of key into out (cap bytes).
   Returns the length, or -1 if it is missing or malformed. */
static long member_bytes(const bo_jval *key, const char *name, uint8_t *out, size_t cap)
{
    const bo_jval *v = bo_jval_get(key, name);
    if (!v || v->type != BO_JSON_STRING)
        return -1;
    return bo_base64url_decode(v->str, v->len, out, cap);
}

/* Whether the key may be used to verify signatures at all. */
static bool for_signing(const bo_jval *key)
{
    const bo_jval *use = bo_jval_get(key, "use");
    if (use && !(use->type == BO_JSON_STRING && strcmp(use->str, "sig") == 0))
        return false;
    const bo_jval *ops = bo_jval_get(key, "key_ops");
    if (ops) {
        if (ops->type != BO_JSON_ARRAY)
            return false;
        for (const bo_jval *op = ops->first; op; op = op->next)
            if (op->type == BO_JSON_STRING && strcmp(op->str, "verify") == 0)
                return true;
        return false;
    }
    return true;
}

static int rsa_key(jwk *k, const bo_jval *key, const char *name, char *err, size_t errlen)
{
    uint8_t *n = bo_malloc(RSA_MAX_BYTES + 1);
    long nlen = member_bytes(key, "n", n, RSA_MAX_BYTES + 1);
    uint8_t e[sizeof k->e + 1];
    long elen = member_bytes(key, "e", e, sizeof e);
    int rc = BO_EINVAL;
    if (nlen < 0 || (size_t)nlen > RSA_MAX_BYTES) {
        bo_fail(rc, err, errlen, "key %s: \"n\" is missing, not base64url or longer than %d bits",
                name, BO_JWK_RSA_MAX_BITS);
        goto out;
    }
    if (elen <= 0 || (size_t)elen > sizeof k->e) {
        bo_fail(rc, err, errlen, "key %s: \"e\" is missing, not base64url or longer than 4 bytes", name);
        goto out;
    }
    memcpy(k->e, e, (size_t)elen);
    if (n[0] == 0 || k->e[0] == 0) {
        bo_fail(rc, err, errlen, "key %s: \"n\" or \"e\" has a leading zero byte", name);
        goto out;
    }
    mbedtls_rsa_context rsa;
    mbedtls_rsa_init(&rsa, MBEDTLS_RSA_PKCS_V15, 0);
    size_t bits = 0;
    int ok = mbedtls_rsa_import_raw(&rsa, n, (size_t)nlen, NULL, 0, NULL, 0, NULL, 0, k->e, (size_t)elen) == 0 &&
             mbedtls_rsa_complete(&rsa) == 0 && mbedtls_rsa_check_pubkey(&rsa) == 0;
    if (ok)
        bits = mbedtls_mpi_bitlen(&rsa.N);
    mbedtls_rsa_free(&rsa);
    if (!ok) {
        bo_fail(rc, err, errlen, "key %s: not a valid RSA public key", name);
        goto out;
    }
    if (bits < BO_JWK_RSA_MIN_BITS) {
        bo_fail(rc, err, errlen, "key %s: RSA key of %zu bits (at least %d needed)", name, bits,
                BO_JWK_RSA_MIN_BITS);
        goto out;
    }
    k->n = n;
    k->nlen = (size_t)nlen;
    k->elen = (size_t)elen;
    return 0;
out:
    free(n);
    return rc;
}

static int ec_key(jwk *k, const bo_jval *key, const char *name, char *err, size_t errlen)
{
    uint8_t *x = k->point + 1, *y = k->point + 1 + P256_BYTES;
    if (member_bytes(key, "x", x, P256_BYTES + 1) != P256_BYTES ||
        member_bytes(key, "y", y, P256_BYTES + 1) != P256_BYTES)
        return bo_fail(BO_EINVAL, err, errlen, "key %s: \"x\" and \"y\" must be 32 bytes of base64url", name);
    k->point[0] = 0x04;
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    int ok = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
             mbedtls_ecp_point_read_binary(&grp, &q, k->point, sizeof k->point) == 0 &&
             mbedtls_ecp_check_pubkey(&grp, &q) == 0;
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    if (!ok)
        return bo_fail(BO_EINVAL, err, errlen, "key %s: the point is not on the P-256 curve", name);
    return 0;
}

/* Reads the i-th key of a set into k. Returns 1 if kept, 0 if ignored, or
   a BO_E* code. */
static int read_key(jwk *k, const bo_jval *key, size_t i, char *err, size_t errlen)
{
    if (key->type != BO_JSON_OBJECT)
        return bo_fail(BO_EPARSE, err, errlen, "key %zu is not an object", i + 1);
    const char *kty = bo_jval_string(key, "kty");
    if (!kty)
        return bo_fail(BO_EPARSE, err, errlen, "key %zu has no \"kty\"", i + 1);
    const bo_jval *kid = bo_jval_get(key, "kid");
    if (kid && (kid->type != BO_JSON_STRING || kid->len == 0 || kid->len > MAX_KID ||
                strlen(kid->str) != kid->len))
        return bo_fail(BO_EPARSE, err, errlen, "key %zu: \"kid\" must be a string of 1 to %d bytes", i + 1,
                       MAX_KID);
    if (strcmp(kty, "RSA") == 0) {
        k->kty = KTY_RSA;
        k->algs = RSA_ALGS;
    } else if (strcmp(kty, "EC") == 0) {
        const char *crv = bo_jval_string(key, "crv");
        if (!crv || strcmp(crv, "P-256") != 0)
            return 0;
        k->kty = KTY_EC;
        k->algs = EC_ALGS;
    } else {
        return 0;
    }
    if (!for_signing(key))
        return 0;
    const bo_jval *alg = bo_jval_get(key, "alg");
    if (alg) {
        unsigned bit = alg->type == BO_JSON_STRING ? bo_jws_alg(alg->str) : 0;
        if (!(bit & k->algs))
            return 0;
        k->algs = bit;
    }
    char name[MAX_KID + 16];
    if (kid)
        snprintf(name, sizeof name, "\"%s\"", kid->str);
    else
        snprintf(name, sizeof name, "%zu", i + 1);
    int rc = k->kty == KTY_RSA ? rsa_key(k, key, name, err, errlen) : ec_key(k, key, name, err, errlen);
    if (rc)
        return rc;
    if (kid)
        k->kid = bo_strdup(kid->str);
    return 1;
}

int bo_jwks_parse(const char *text, size_t len, bo_jwks **out, char *err, size_t errlen)
{
    *out = NULL;
    if (len > BO_JWKS_MAX_TEXT)
        return bo_fail(BO_EPARSE, err, errlen, "key set larger than %d bytes", BO_JWKS_MAX_TEXT);
    bo_jval *doc;
    char jerr[96];
    if (bo_json_parse(text, len, &doc, jerr, sizeof jerr))
        return bo_fail(BO_EPARSE, err, errlen, "key set is not JSON: %s", jerr);
    const bo_jval *list = bo_jval_get(doc, "keys");
    if (!list || list->type != BO_JSON_ARRAY) {
        bo_jval_free(doc);
        return bo_fail(BO_EPARSE, err, errlen, "not a key set (no \"keys\" array)");
    }
    bo_jwks *ks = bo_calloc(1, sizeof *ks);
    size_t i = 0;
    int rc = 0;
    for (const bo_jval *key = list->first; key; key = key->next, i++) {
        jwk k = { 0 };
        rc = read_key(&k, key, i, err, errlen);
        if (rc < 0) {
            jwk_clear(&k);
            break;
        }
        if (rc == 0)
            continue;
        if (ks->count == BO_JWKS_MAX_KEYS) {
            jwk_clear(&k);
            rc = bo_fail(BO_ELIMIT, err, errlen, "more than %d keys", BO_JWKS_MAX_KEYS);
            break;
        }
        ks->keys[ks->count++] = k;
        rc = 0;
    }
    bo_jval_free(doc);
    if (rc < 0) {
        bo_jwks_free(ks);
        return rc;
    }
    *out = ks;
    return 0;
}

/* ---- verification ---- */

static int verify_rsa(const jwk *k, unsigned alg, const uint8_t hash[32], const uint8_t *sig, size_t siglen)
{
    mbedtls_rsa_context rsa;
    mbedtls_rsa_init(&rsa, MBEDTLS_RSA_PKCS_V15, 0);
    int rc = BO_EVERIFY;
    if (mbedtls_rsa_import_raw(&rsa, k->n, k->nlen, NULL, 0, NULL, 0, NULL, 0, k->e, k->elen) ||
        mbedtls_rsa_complete(&rsa) || siglen != mbedtls_rsa_get_len(&rsa))
        goto out;
    int r;
    if (alg == BO_JWS_RS256) {
        r = mbedtls_rsa_rsassa_pkcs1_v15_verify(&rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC, MBEDTLS_MD_SHA256,
                                                32, hash, sig);
    } else {
        mbedtls_rsa_set_padding(&rsa, MBEDTLS_RSA_PKCS_V21, MBEDTLS_MD_SHA256);
        r = mbedtls_rsa_rsassa_pss_verify_ext(&rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC, MBEDTLS_MD_SHA256, 32,
                                              hash, MBEDTLS_MD_SHA256, 32, sig);
    }
    if (r == 0)
        rc = 0;
out:
    mbedtls_rsa_free(&rsa);
    return rc;
}

static int verify_ec(const jwk *k, const uint8_t hash[32], const uint8_t *sig, size_t siglen)
{
    if (siglen != 2 * P256_BYTES)
        return BO_EVERIFY;
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi r, s;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    int rc = BO_EVERIFY;
    if (mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
        mbedtls_ecp_point_read_binary(&grp, &q, k->point, sizeof k->point) == 0 &&
        mbedtls_mpi_read_binary(&r, sig, P256_BYTES) == 0 &&
        mbedtls_mpi_read_binary(&s, sig + P256_BYTES, P256_BYTES) == 0)
        rc = mbedtls_ecdsa_verify(&grp, hash, 32, &q, &r, &s) == 0 ? 0 : BO_EVERIFY;
    mbedtls_mpi_free(&s);
    mbedtls_mpi_free(&r);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return rc;
}

static int verify_with(const jwk *k, unsigned alg, const uint8_t hash[32], const uint8_t *sig, size_t siglen)
{
    return k->kty == KTY_RSA ? verify_rsa(k, alg, hash, sig, siglen) : verify_ec(k, hash, sig, siglen);
}

static bool base64url_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_'))
            return false;
    }
    return true;
}

/* Decodes a base64url part into a new NUL-terminated buffer. */
static uint8_t *decode_part(const char *s, size_t n, size_t *outlen)
{
    uint8_t *b = bo_malloc(n * 3 / 4 + 1);
    long got = bo_base64url_decode(s, n, b, n * 3 / 4 + 1);
    if (got < 0) {
        free(b);
        return NULL;
    }
    b[got] = '\0';
    *outlen = (size_t)got;
    return b;
}

/* Reads the header's fields into out; refuses algorithms before anything
   else is looked at. */
static int read_header(const char *text, size_t len, unsigned algs, bo_jws *out, char *err, size_t errlen)
{
    bo_jval *h;
    char jerr[96];
    if (bo_json_parse(text, len, &h, jerr, sizeof jerr))
        return bo_fail(BO_EPARSE, err, errlen, "header is not JSON: %s", jerr);
    int rc = 0;
    const bo_jval *alg = bo_jval_get(h, "alg"), *kid = bo_jval_get(h, "kid"), *typ = bo_jval_get(h, "typ");
    if (h->type != BO_JSON_OBJECT || !alg || alg->type != BO_JSON_STRING) {
        rc = bo_fail(BO_EPARSE, err, errlen, "header has no \"alg\"");
    } else if ((kid && (kid->type != BO_JSON_STRING || kid->len > MAX_KID || strlen(kid->str) != kid->len)) ||
               (typ && typ->type != BO_JSON_STRING)) {
        rc = bo_fail(BO_EPARSE, err, errlen, "header \"kid\" or \"typ\" is not a string");
    } else if (strcmp(alg->str, "none") == 0) {
        rc = bo_fail(BO_EPERM, err, errlen, "unsigned token (alg \"none\") refused");
    } else if (strncmp(alg->str, "HS", 2) == 0) {
        rc = bo_fail(BO_EPERM, err, errlen, "shared-secret algorithm %.16s refused", alg->str);
    } else if (!bo_jws_alg(alg->str)) {
        rc = bo_fail(BO_EPERM, err, errlen, "algorithm \"%.16s\" not supported", alg->str);
    } else if (!(bo_jws_alg(alg->str) & algs)) {
        rc = bo_fail(BO_EPERM, err, errlen, "algorithm %s not accepted here", alg->str);
    } else if (bo_jval_get(h, "crit")) {
        rc = bo_fail(BO_EPERM, err, errlen, "header \"crit\" extensions are not supported");
    } else {
        out->alg = bo_jws_alg(alg->str);
        out->kid = kid ? bo_strdup(kid->str) : NULL;
        out->typ = typ ? bo_strndup(typ->str, typ->len) : NULL;
    }
    bo_jval_free(h);
    return rc;
}

int bo_jws_verify(const char *token, size_t len, const bo_jwks *keys, unsigned algs, bo_jws *out,
                  char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len > BO_JWS_MAX_TOKEN)
        return bo_fail(BO_EPARSE, err, errlen, "token longer than %d characters", BO_JWS_MAX_TOKEN);
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return bo_fail(BO_EPARSE, err, errlen, "not a compact JWS (three parts separated by dots)");
    size_t hlen = (size_t)(dot1 - token), plen = (size_t)(dot2 - dot1 - 1);
    size_t slen = len - (size_t)(dot2 + 1 - token);
    if (hlen == 0 || hlen > MAX_HEADER_CHARS || !base64url_chars(token, hlen) ||
        !base64url_chars(dot1 + 1, plen) || !base64url_chars(dot2 + 1, slen))
        return bo_fail(BO_EPARSE, err, errlen, "a part is empty, too long or not base64url");

    size_t n;
    uint8_t *header = decode_part(token, hlen, &n);
    if (!header)
        return bo_fail(BO_EPARSE, err, errlen, "header is not base64url");
    int rc = read_header((const char *)header, n, algs, out, err, errlen);
    free(header);
    if (rc)
        goto fail;

    size_t siglen;
    uint8_t *sig = decode_part(dot2 + 1, slen, &siglen);
    if (!sig || siglen == 0) {
        free(sig);
        rc = bo_fail(BO_EPARSE, err, errlen, "signature is missing or not base64url");
        goto fail;
    }
    uint8_t hash[32];
    bo_sha256(token, (size_t)(dot2 - token), hash);

    /* The kid names the key; without one, any key that fits may have
       signed. A kid whose keys are all of another type or algorithm is a
       confusion attempt, not a rotation. */
    int kid_keys = 0;
    const jwk *tried = NULL;
    rc = BO_ENOENT;
    for (size_t i = 0; keys && i < keys->count && rc != 0; i++) {
        const jwk *k = &keys->keys[i];
        if (out->kid && !(k->kid && strcmp(k->kid, out->kid) == 0))
            continue;
        kid_keys++;
        if (!(k->algs & out->alg))
            continue;
        tried = k;
        rc = verify_with(k, out->alg, hash, sig, siglen);
    }
    free(sig);
    if (rc == 0) {
        out->payload = (char *)decode_part(dot1 + 1, plen, &out->payload_len);
        if (!out->payload) {
            rc = bo_fail(BO_EPARSE, err, errlen, "payload is not base64url");
            goto fail;
        }
        return 0;
    }
    if (tried)
        rc = bo_fail(BO_EVERIFY, err, errlen, "bad signature");
    else if (out->kid && kid_keys)
        rc = bo_fail(BO_EPERM, err, errlen, "key \"%s\" cannot verify %s", out->kid, bo_jws_alg_name(out->alg));
    else if (out->kid)
        rc = bo_fail(BO_ENOENT, err, errlen, "no key \"%s\" in the key set", out->kid);
    else
        rc = bo_fail(BO_ENOENT, err, errlen, "no key in the key set for %s", bo_jws_alg_name(out->alg));
fail:
    bo_jws_release(out);
    return rc;
}

void bo_jws_release(bo_jws *t)
{
    free(t->kid);
    free(t->typ);
    free(t->payload);
    memset(t, 0, sizeof *t);
}
