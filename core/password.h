/*
 * password.h - staff passwords: argon2id hashes (Debian's libargon2), a
 * constant-time check, a note when a stored hash uses weaker parameters than
 * today's, and the password policy.
 *
 * Parameters: argon2id, 19 MiB of memory, 2 passes, 1 lane, a 16-byte
 * random salt and a 32-byte hash: the first configuration of OWASP's
 * Password Storage Cheat Sheet (2023-). It costs about 30-60 ms of one core
 * here and 19 MiB per sign-in in progress, which keeps a burst of sign-ins
 * on a 2-core council server within reach while making each guess of a
 * stolen hash as expensive. Hashing runs off the event loop (the callers
 * use libuv's thread pool).
 *
 * Policy (NCSC and NIST SP 800-63B): at least 10 characters, at most 256
 * bytes, any characters; not a common password or a common word with
 * digits or symbols around it, not one character repeated, not the
 * account's email address. No composition rules.
 */
#ifndef BO_PASSWORD_H
#define BO_PASSWORD_H

#include "bo.h"

#define BO_PASSWORD_MIN 10
#define BO_PASSWORD_MAX 256

/* Hashes password; returns a new encoded string ("$argon2id$v=19$m=...")
   or NULL (an argon2 failure, with err). */
char *bo_password_hash(const char *password, size_t len, char *err, size_t errlen);
/* Returns 0 if password matches encoded, BO_EPERM if not, BO_EINVAL if
   encoded is not an argon2id hash. */
int bo_password_verify(const char *encoded, const char *password, size_t len);
/* True if encoded was made with other parameters than today's. */
bool bo_password_needs_rehash(const char *encoded);
/* Judges a new password: NULL if acceptable, else a message for the person
   choosing it ("Enter a password that is 10 characters or more"). email
   may be NULL. */
const char *bo_password_problem(const char *password, size_t len, const char *email);

#endif
