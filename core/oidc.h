/*
 * oidc.h - the parts of OpenID Connect's authorization code flow that are
 * plain computation: PKCE (RFC 7636), the random state and nonce, and the
 * checks of an ID token's claims once jws.c has verified its signature.
 * The flow itself (discovery, redirects, the token request, sessions) is
 * built on these by the layers above.
 */
#ifndef BO_OIDC_H
#define BO_OIDC_H

#include "bo.h"
#include "json.h"
#include "jws.h"

#include <stdint.h>

/* State, nonce and PKCE verifier: 32 random bytes in base64url. */
#define BO_OIDC_TOKEN_CHARS 43
/* A PKCE S256 challenge: base64url of a SHA-256 hash. */
#define BO_PKCE_CHALLENGE_CHARS 43

/* Fills out with a new random token (state, nonce or code verifier).
   Returns 0 or BO_EIO. */
int bo_oidc_random_token(char out[BO_OIDC_TOKEN_CHARS + 1]);

/* The S256 code challenge of verifier: BASE64URL(SHA256(verifier)).
   Returns 0, or BO_EINVAL if verifier is not 43 to 128 characters of
   RFC 7636's unreserved set. */
int bo_pkce_challenge(const char *verifier, char out[BO_PKCE_CHALLENGE_CHARS + 1]);

/* What an ID token must say for this sign-in. */
typedef struct bo_oidc_expect {
    const char *issuer;      /* exactly the discovery document's issuer */
    const char *client_id;
    const char *nonce;       /* the one sent with this sign-in (required) */
    int64_t now;             /* seconds since the epoch */
    int skew;                /* seconds of clock difference tolerated */
} bo_oidc_expect;

/* The claims of an ID token that passed its checks. The pointers borrow
   claims; each is NULL when the claim is absent. */
typedef struct bo_oidc_claims {
    bo_jval *claims;          /* the whole payload (owned) */
    const char *sub;          /* never NULL after a successful check */
    const char *oid;          /* Microsoft Entra's object id */
    const char *name;
    const char *email;
    const bo_jval *groups;    /* arrays of strings */
    const bo_jval *roles;
    int64_t exp, iat;
} bo_oidc_claims;

/* Checks the claims (payload, a JSON object) of a verified ID token:
   "iss" equals e->issuer; "sub" is a non-empty string; "aud" (a string or
   an array of strings) contains e->client_id; "azp", required when "aud"
   has more than one value, equals e->client_id; "exp" is after now - skew;
   "iat" (required) and "nbf" (if present) are not after now + skew; "nonce"
   equals e->nonce (compared in constant time); "groups" and "roles", when
   present, are arrays of strings and "oid", "name" and "email" strings.
   Returns 0 and fills *out (release with bo_oidc_claims_release), or
   BO_EPARSE (not a JSON object, a claim of the wrong type) or BO_EVERIFY
   (a check failed), with err naming the claim. */
int bo_oidc_check(const char *payload, size_t len, const bo_oidc_expect *e, bo_oidc_claims *out,
                  char *err, size_t errlen);

/* Both steps for an ID token: bo_jws_verify with keys and algs, then
   bo_oidc_check. Returns either's code (BO_ENOENT: fetch the key set again
   once and retry). */
int bo_oidc_verify_id_token(const char *token, size_t len, const bo_jwks *keys, unsigned algs,
                            const bo_oidc_expect *e, bo_oidc_claims *out, char *err, size_t errlen);

void bo_oidc_claims_release(bo_oidc_claims *c);

#endif
