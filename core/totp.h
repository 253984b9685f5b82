/*
 * totp.h - time-based one-time passwords (RFC 6238 over RFC 4226's HOTP,
 * HMAC-SHA-1), as authenticator apps make them: 30-second steps, 6 digits,
 * a secret shown as base32 (RFC 4648, no padding) and in an otpauth:// URI
 * for a QR code (qr.c). A code is accepted for the current step and one
 * step either side; the caller records the step that matched and passes
 * it back next time, so a code, once used, is never accepted again.
 */
#ifndef BO_TOTP_H
#define BO_TOTP_H

#include "bo.h"

#include <stdint.h>

#define BO_TOTP_PERIOD 30
#define BO_TOTP_DIGITS 6
#define BO_TOTP_SECRET_BYTES 20        /* 160 bits, as RFC 4226 recommends */
#define BO_TOTP_SECRET_CHARS 32        /* their base32 */

/* HOTP(key, counter) truncated to digits (6 to 8) decimal digits, written
   to out (digits + 1 bytes, leading zeros kept). */
void bo_hotp(const uint8_t *key, size_t keylen, uint64_t counter, int digits, char *out);

/* The TOTP step of a time: floor(t / BO_TOTP_PERIOD). */
int64_t bo_totp_step(int64_t t);

/* Checks a 6-digit code against the steps of now, now - 30 s and now + 30 s,
   accepting only steps after last_step (the step the account last used,
   or -1). Returns 0 and the matching step in *step, BO_EVERIFY if no step
   matches (or only one already used), or BO_EINVAL if code is not 6 digits. */
int bo_totp_check(const uint8_t *key, size_t keylen, const char *code, int64_t now, int64_t last_step,
                  int64_t *step);

/* A new random secret of BO_TOTP_SECRET_BYTES. Returns 0 or BO_EIO. */
int bo_totp_secret(uint8_t out[BO_TOTP_SECRET_BYTES]);

/* base32 (RFC 4648 alphabet, upper case) without padding: out needs
   (n * 8 + 4) / 5 + 1 bytes; returns the length written. */
size_t bo_base32_encode(const uint8_t *in, size_t n, char *out);
/* Decodes base32 without padding, either case, into out (cap bytes).
   Returns the length, or -1 if malformed (another character, '=', a length
   no encoding has, or non-zero leftover bits) or longer than cap. */
long bo_base32_decode(const char *in, size_t n, uint8_t *out, size_t cap);

/* The otpauth:// URI of a secret for authenticator apps:
   otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
   with issuer and account percent-encoded. Returns a new string; free(). */
char *bo_totp_uri(const char *issuer, const char *account, const uint8_t *key, size_t keylen);

#endif
