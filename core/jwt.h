/*
 * jwt.h - JSON Web Tokens signed with HS256, as GOV.UK Notify's API wants
 * them: {"typ":"JWT","alg":"HS256"} over claims naming the service (iss)
 * and the time (iat), signed with the secret half of the service's API key.
 */
#ifndef BO_JWT_H
#define BO_JWT_H

#include "bo.h"

#include <stdint.h>
#include <time.h>

/* Signs claims (compact JSON) with key. Returns a new string; free(). */
char *bo_jwt_hs256(const char *claims_json, const uint8_t *key, size_t keylen);

/* Splits a Notify API key ("<name>-<service id>-<secret>", both ids UUIDs)
   into its service id and secret (each 36 characters and a NUL). Returns 0
   or BO_EINVAL. */
int bo_notify_key_parse(const char *api_key, char service_id[37], char secret[37]);

/* The bearer token for one Notify request made at time now. */
char *bo_notify_token(const char *service_id, const char *secret, time_t now);

#endif
