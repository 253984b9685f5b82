/*
 * jws.h - verifying JSON Web Signatures (RFC 7515) made with an identity
 * provider's public keys: the ID tokens of OpenID Connect. The provider
 * publishes its keys as a JWK set (RFC 7517); bo_jwks_parse reads one, and
 * bo_jws_verify checks a token in compact form against it. The claims of
 * an ID token are judged apart, by oidc.c.
 *
 * Three algorithms are verified: RS256 (RSASSA-PKCS1-v1_5), PS256
 * (RSASSA-PSS, MGF1 with SHA-256, salt as long as the hash) and ES256
 * (ECDSA on P-256, the signature r || s in 64 bytes), all over SHA-256.
 * The caller says which of them it accepts (the deployment's setting).
 * Everything else is refused before any key is looked at: "none", every
 * HS* (a shared-secret MAC: with public keys it could be forged by anyone
 * who has the key set), and names we do not know.
 *
 * The key decides the verifier: a key set holds RSA and EC P-256 public
 * keys, never secrets, and a token is checked only with a key whose type
 * fits the token's algorithm (and whose own "alg", when the set gives one,
 * is that algorithm). So no header can make a public key serve as an HMAC
 * secret, or an EC key as an RSA one.
 *
 * A parsed key set is immutable: verification builds its mbedTLS contexts
 * from the stored key material on the stack, so one set may be used by
 * several threads at once.
 */
#ifndef BO_JWS_H
#define BO_JWS_H

#include "bo.h"

#include <stddef.h>
#include <stdint.h>

/* The algorithms verified, as bits of an accepted set. */
enum {
    BO_JWS_RS256 = 1 << 0,
    BO_JWS_PS256 = 1 << 1,
    BO_JWS_ES256 = 1 << 2,
    BO_JWS_ALL = BO_JWS_RS256 | BO_JWS_PS256 | BO_JWS_ES256,
};

#define BO_JWS_MAX_TOKEN 16384      /* characters of a compact token */
#define BO_JWKS_MAX_TEXT 65536      /* bytes of a key set document */
#define BO_JWKS_MAX_KEYS 32         /* keys kept from one set */
#define BO_JWK_RSA_MIN_BITS 2048
#define BO_JWK_RSA_MAX_BITS 8192

/* The bit of an algorithm's name ("RS256"), or 0 if it is not one of ours. */
unsigned bo_jws_alg(const char *name);
/* The name of one algorithm bit ("RS256"), or NULL. */
const char *bo_jws_alg_name(unsigned alg);

typedef struct bo_jwks bo_jwks;

/* Parses a JWK set ({"keys": [...]}, at most BO_JWKS_MAX_TEXT bytes) into a
   new *out (free with bo_jwks_free). Kept: RSA keys (n of 2048 to 8192
   bits, e of at most 4 bytes) and EC keys on P-256 (x and y of 32 bytes
   each, the point checked on the curve), with or without a kid. Ignored:
   keys of other types or curves, keys whose "use" is not "sig", whose
   "key_ops" lack "verify", or whose "alg" is not one we verify for their
   type. Returns 0; BO_EPARSE for a document that is not a key set; BO_EINVAL
   for a key we would keep whose material is malformed or weak (the set is
   refused whole: a provider publishing it is misconfigured); BO_ELIMIT for
   more than BO_JWKS_MAX_KEYS keys kept. err names the problem (and the key:
   its kid, or its position). */
int bo_jwks_parse(const char *text, size_t len, bo_jwks **out, char *err, size_t errlen);
void bo_jwks_free(bo_jwks *keys);
/* How many keys the set kept. */
size_t bo_jwks_count(const bo_jwks *keys);

/* A verified token: its header's fields and its payload. */
typedef struct bo_jws {
    unsigned alg;        /* one BO_JWS_* bit */
    char *kid;           /* NULL if the header names none */
    char *typ;           /* NULL if the header has none */
    char *payload;       /* the decoded payload, NUL-terminated */
    size_t payload_len;
} bo_jws;

/* Verifies the compact token (len characters) with keys, accepting the
   algorithms in algs. On success fills *out (release with bo_jws_release)
   and returns 0. Otherwise *out is left empty, err says why, and the code
   says what the caller can do:
     BO_EPARSE   not a well-formed compact JWS (three base64url parts
                 without padding, a JSON object header with a string
                 "alg", at most BO_JWS_MAX_TOKEN characters)
     BO_EPERM    the algorithm is refused: none, HS*, unknown, not in algs,
                 a "crit" header, or the key the kid names is of another
                 type or algorithm
     BO_ENOENT   no key in the set has the token's kid (without a kid: no
                 key fits its algorithm): the provider may have rotated its
                 keys, so fetch the set again once and retry
     BO_EVERIFY  the signature does not verify */
int bo_jws_verify(const char *token, size_t len, const bo_jwks *keys, unsigned algs, bo_jws *out,
                  char *err, size_t errlen);
/* Frees what bo_jws_verify put in t and empties it. */
void bo_jws_release(bo_jws *t);

#endif
