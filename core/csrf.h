/*
 * csrf.h - cross-site request forgery tokens: a signed double submit.
 *
 * A browser holds a random nonce in the borough_csrf cookie (HttpOnly,
 * SameSite=Lax, and Secure over HTTPS). A form carries a token made from it:
 *
 *     token = <unix time> "." hex(HMAC-SHA256(key, "borough-csrf" 0 nonce 0 binding 0 time))[0..32]
 *
 * where key is the deployment's secret (<data>/csrf.key, 32 random bytes,
 * made on first use, owner-only) and binding is what the token is tied to
 * besides the browser: nothing for anonymous public forms, else the session
 * (the SHA-256 of its token, which never repeats; see csrf_binding in
 * lreq.c). Sign-in and sign-out give the browser a new nonce. A
 * request with an unsafe method passes only with a token whose MAC matches
 * the cookie's nonce and binding, made within BO_CSRF_MAX_AGE seconds. A
 * forged page on another site can neither read the cookie nor make a token
 * for it, and a token stolen from one browser is useless with another's
 * cookie.
 */
#ifndef BO_CSRF_H
#define BO_CSRF_H

#include "bo.h"

#include <stdint.h>

#define BO_CSRF_KEY_BYTES 32
#define BO_CSRF_NONCE_LEN 32        /* hex characters */
#define BO_CSRF_TOKEN_MAX 64        /* with the NUL */
#define BO_CSRF_MAX_AGE (12 * 3600) /* seconds a token stays good */

/* The deployment's key from data_dir/csrf.key, made (owner-only) if there
   is none; read once per process. Returns NULL (and logs why) if the file
   cannot be made or is not safe: readable by others, or not 32 bytes. */
const unsigned char *bo_csrf_key(const char *data_dir);

/* Reads or makes the key file now (for tests and `borough check`).
   Returns 0 or BO_EIO / BO_EPERM with a reason in err. */
int bo_csrf_key_load(const char *path, unsigned char key[BO_CSRF_KEY_BYTES], char *err, size_t errlen);

/* Writes a new random nonce (BO_CSRF_NONCE_LEN hex digits and a NUL). */
void bo_csrf_nonce(char out[BO_CSRF_NONCE_LEN + 1]);
/* True if s[0..n) has the shape of a nonce. */
bool bo_csrf_nonce_ok(const char *s, size_t n);

/* Writes the token for nonce and binding made at time now into out. */
void bo_csrf_token(const unsigned char *key, const char *nonce, const char *binding, int64_t now,
                   char out[BO_CSRF_TOKEN_MAX]);

/* Checks token[0..n): 0 if good, BO_EINVAL if malformed or wrong,
   BO_ETIMEDOUT if older than BO_CSRF_MAX_AGE (or from the future). */
int bo_csrf_check(const unsigned char *key, const char *nonce, const char *binding, const char *token,
                  size_t n, int64_t now);

#endif
