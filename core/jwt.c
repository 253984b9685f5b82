/*
 * jwt.c - HS256 JSON Web Tokens and GOV.UK Notify API keys (see jwt.h).
 */
#include "jwt.h"
#include "crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *bo_jwt_hs256(const char *claims_json, const uint8_t *key, size_t keylen)
{
    static const char header[] = "{\"typ\":\"JWT\",\"alg\":\"HS256\"}";
    size_t clen = strlen(claims_json);
    size_t cap = (sizeof header * 4 + 2) / 3 + (clen * 4 + 2) / 3 + 64 + 4;
    char *t = bo_malloc(cap);
    size_t n = bo_base64url_encode((const uint8_t *)header, sizeof header - 1, t);
    t[n++] = '.';
    n += bo_base64url_encode((const uint8_t *)claims_json, clen, t + n);
    uint8_t mac[32];
    bo_hmac_sha256(key, keylen, t, n, mac);
    t[n++] = '.';
    bo_base64url_encode(mac, sizeof mac, t + n);
    return t;
}

static bool is_uuid(const char *s)
{
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

int bo_notify_key_parse(const char *api_key, char service_id[37], char secret[37])
{
    size_t n = strlen(api_key);
    if (n < 74)
        return BO_EINVAL;
    const char *sec = api_key + n - 36, *svc = api_key + n - 73;
    if (svc[36] != '-' || !is_uuid(sec) || !is_uuid(svc))
        return BO_EINVAL;
    memcpy(service_id, svc, 36);
    service_id[36] = '\0';
    memcpy(secret, sec, 36);
    secret[36] = '\0';
    return 0;
}

char *bo_notify_token(const char *service_id, const char *secret, time_t now)
{
    char claims[128];
    snprintf(claims, sizeof claims, "{\"iss\":\"%s\",\"iat\":%lld}", service_id, (long long)now);
    return bo_jwt_hs256(claims, (const uint8_t *)secret, strlen(secret));
}
