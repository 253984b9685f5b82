/*
 * oidc.c - PKCE, state and nonce, and ID token claim checks (see oidc.h).
 */
#include "oidc.h"
#include "crypto.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int bo_oidc_random_token(char out[BO_OIDC_TOKEN_CHARS + 1])
{
    uint8_t raw[32];
    if (bo_random(raw, sizeof raw))
        return BO_EIO;
    bo_base64url_encode(raw, sizeof raw, out);
    return 0;
}

int bo_pkce_challenge(const char *verifier, char out[BO_PKCE_CHALLENGE_CHARS + 1])
{
    size_t n = strlen(verifier);
    if (n < 43 || n > 128)
        return BO_EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = verifier[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.' || c == '_' || c == '~'))
            return BO_EINVAL;
    }
    uint8_t hash[32];
    bo_sha256(verifier, n, hash);
    bo_base64url_encode(hash, sizeof hash, out);
    return 0;
}

/* A NumericDate claim: a JSON number of seconds, as whole seconds (a
   fraction is dropped). Returns 1 and *t if present, 0 if absent, -1 if
   not a number in range. */
static int date_claim(const bo_jval *claims, const char *name, int64_t *t)
{
    const bo_jval *v = bo_jval_get(claims, name);
    if (!v)
        return 0;
    if (v->type == BO_JSON_INTEGER) {
        *t = v->integer;
        return 1;
    }
    if (v->type == BO_JSON_FLOAT && v->number > -9e15 && v->number < 9e15) {
        *t = (int64_t)floor(v->number);
        return 1;
    }
    return -1;
}

static bool string_array(const bo_jval *v)
{
    if (v->type != BO_JSON_ARRAY)
        return false;
    for (const bo_jval *x = v->first; x; x = x->next)
        if (x->type != BO_JSON_STRING)
            return false;
    return true;
}

static bool equal_str(const char *claim, const char *want)
{
    return strcmp(claim, want) == 0;
}

/* Fills the borrowed fields; the type checks. */
static int read_claims(bo_oidc_claims *c, char *err, size_t errlen)
{
    static const char *const strings[] = { "iss", "sub", "azp", "nonce", "oid", "name", "email" };
    for (size_t i = 0; i < BO_COUNT(strings); i++) {
        const bo_jval *v = bo_jval_get(c->claims, strings[i]);
        if (v && v->type != BO_JSON_STRING)
            return bo_fail(BO_EPARSE, err, errlen, "claim \"%s\" is not a string", strings[i]);
    }
    c->groups = bo_jval_get(c->claims, "groups");
    c->roles = bo_jval_get(c->claims, "roles");
    if ((c->groups && !string_array(c->groups)) || (c->roles && !string_array(c->roles)))
        return bo_fail(BO_EPARSE, err, errlen, "claim \"groups\" or \"roles\" is not an array of strings");
    c->sub = bo_jval_string(c->claims, "sub");
    c->oid = bo_jval_string(c->claims, "oid");
    c->name = bo_jval_string(c->claims, "name");
    c->email = bo_jval_string(c->claims, "email");
    return 0;
}

int bo_oidc_check(const char *payload, size_t len, const bo_oidc_expect *e, bo_oidc_claims *out,
                  char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!e->issuer || !e->client_id || !e->nonce || e->skew < 0)
        return bo_fail(BO_EINVAL, err, errlen, "issuer, client id and nonce are required");
    char jerr[96];
    if (bo_json_parse(payload, len, &out->claims, jerr, sizeof jerr))
        return bo_fail(BO_EPARSE, err, errlen, "claims are not JSON: %s", jerr);
    const bo_jval *claims = out->claims;
    int rc;
    if (claims->type != BO_JSON_OBJECT) {
        rc = bo_fail(BO_EPARSE, err, errlen, "claims are not a JSON object");
        goto fail;
    }
    if ((rc = read_claims(out, err, errlen)))
        goto fail;

    const char *iss = bo_jval_string(claims, "iss");
    if (!iss || !equal_str(iss, e->issuer)) {
        rc = bo_fail(BO_EVERIFY, err, errlen, "issuer (\"iss\") is not %s", e->issuer);
        goto fail;
    }
    if (!out->sub || out->sub[0] == '\0') {
        rc = bo_fail(BO_EVERIFY, err, errlen, "no subject (\"sub\")");
        goto fail;
    }

    const bo_jval *aud = bo_jval_get(claims, "aud");
    size_t audiences = 0;
    bool ours = false;
    if (aud && aud->type == BO_JSON_STRING) {
        audiences = 1;
        ours = equal_str(aud->str, e->client_id);
    } else if (aud && aud->type == BO_JSON_ARRAY) {
        for (const bo_jval *a = aud->first; a; a = a->next) {
            if (a->type != BO_JSON_STRING) {
                rc = bo_fail(BO_EPARSE, err, errlen, "claim \"aud\" is not a string or an array of strings");
                goto fail;
            }
            audiences++;
            ours = ours || equal_str(a->str, e->client_id);
        }
    } else if (aud) {
        rc = bo_fail(BO_EPARSE, err, errlen, "claim \"aud\" is not a string or an array of strings");
        goto fail;
    }
    if (!ours) {
        rc = bo_fail(BO_EVERIFY, err, errlen, "audience (\"aud\") does not include this client");
        goto fail;
    }
    const char *azp = bo_jval_string(claims, "azp");
    if (azp ? !equal_str(azp, e->client_id) : audiences > 1) {
        rc = bo_fail(BO_EVERIFY, err, errlen, azp ? "authorized party (\"azp\") is another client"
                                               : "several audiences and no authorized party (\"azp\")");
        goto fail;
    }

    int64_t exp, iat, nbf;
    int has_exp = date_claim(claims, "exp", &exp), has_iat = date_claim(claims, "iat", &iat);
    int has_nbf = date_claim(claims, "nbf", &nbf);
    if (has_exp < 0 || has_iat < 0 || has_nbf < 0) {
        rc = bo_fail(BO_EPARSE, err, errlen, "claim \"exp\", \"iat\" or \"nbf\" is not a number");
        goto fail;
    }
    if (!has_exp || !has_iat) {
        rc = bo_fail(BO_EVERIFY, err, errlen, "no expiry (\"exp\") or issue time (\"iat\")");
        goto fail;
    }
    if (e->now - e->skew >= exp) {
        rc = bo_fail(BO_EVERIFY, err, errlen, "expired at %lld (now %lld)", (long long)exp, (long long)e->now);
        goto fail;
    }
    if (iat > e->now + e->skew || (has_nbf && nbf > e->now + e->skew)) {
        rc = bo_fail(BO_EVERIFY, err, errlen, "issued for later (\"%s\" after %lld)", iat > e->now + e->skew ? "iat" : "nbf",
                     (long long)e->now);
        goto fail;
    }

    const char *nonce = bo_jval_string(claims, "nonce");
    size_t want = strlen(e->nonce);
    if (!nonce || strlen(nonce) != want || !bo_equal_ct(nonce, e->nonce, want)) {
        rc = bo_fail(BO_EVERIFY, err, errlen, "nonce does not match this sign-in");
        goto fail;
    }
    out->exp = exp;
    out->iat = iat;
    return 0;
fail:
    bo_oidc_claims_release(out);
    return rc;
}

int bo_oidc_verify_id_token(const char *token, size_t len, const bo_jwks *keys, unsigned algs,
                            const bo_oidc_expect *e, bo_oidc_claims *out, char *err, size_t errlen)
{
    bo_jws t;
    memset(out, 0, sizeof *out);
    int rc = bo_jws_verify(token, len, keys, algs, &t, err, errlen);
    if (rc)
        return rc;
    rc = bo_oidc_check(t.payload, t.payload_len, e, out, err, errlen);
    bo_jws_release(&t);
    return rc;
}

void bo_oidc_claims_release(bo_oidc_claims *c)
{
    bo_jval_free(c->claims);
    memset(c, 0, sizeof *c);
}
