/*
 * crypto.h - the platform's cryptography, over mbedTLS: random tokens,
 * SHA-256 and HMAC-SHA-256, constant-time comparison, base64url, and the
 * deployment's keyring with the two things built on it: sealed values
 * (AES-256-GCM, for encrypted entity fields) and blind indexes (a keyed
 * hash that lets an app find equal encrypted values without decrypting).
 *
 * The keyring is the file `keys` in the data directory (owner-only,
 * created at first start) or the environment variable BOROUGH_KEYS with
 * the same content: one master key per line, "<id> <64 hex digits>", the
 * last line current. Purpose keys are derived from a master key with HKDF,
 * so one secret serves field encryption, indexes, CSRF and sessions without
 * any two sharing a key. Rotation appends a new master key: new values are
 * sealed with it, old ones still open with theirs. Blind indexes use the
 * current key too, so they cannot be compared across a rotation: `borough
 * keys rotate` (cmd_keys.c) recomputes them, with the server stopped, and
 * an app database records the key its indexes use (lentity.c refuses to
 * load one whose indexes were made with another).
 */
#ifndef BO_CRYPTO_H
#define BO_CRYPTO_H

#include "bo.h"
#include "buf.h"

#include <stdint.h>

#define BO_KEY_BYTES 32
#define BO_BLIND_INDEX_CHARS 22       /* base64url of 16 bytes, no padding */

/* Fills buf with n bytes from the kernel's CSPRNG. Returns 0 or BO_EIO. */
int bo_random(void *buf, size_t n);

void bo_sha256(const void *data, size_t n, uint8_t out[32]);
void bo_hmac_sha256(const uint8_t *key, size_t klen, const void *data, size_t n, uint8_t out[32]);
/* True if the n bytes at a and b are equal, in time that does not depend on
   where they differ. */
bool bo_equal_ct(const void *a, const void *b, size_t n);

/* base64url without padding: out needs (n * 4 + 2) / 3 + 1 bytes; returns
   the length written (NUL-terminated). */
size_t bo_base64url_encode(const uint8_t *in, size_t n, char *out);
/* Decodes into out (cap bytes); returns the length or -1 if malformed. */
long bo_base64url_decode(const char *in, size_t n, uint8_t *out, size_t cap);
/* Standard base64 with padding (RFC 4648 section 4), as HTTP Basic
   credentials want it: out needs (n + 2) / 3 * 4 + 1 bytes; returns the
   length written (NUL-terminated). */
size_t bo_base64_encode(const uint8_t *in, size_t n, char *out);
/* Lower-case hex: out needs 2n + 1 bytes. */
void bo_hex(const uint8_t *in, size_t n, char *out);

typedef struct bo_keyring bo_keyring;

/* Loads the keyring of data_dir (or $BOROUGH_KEYS). With create, a missing
   file is made with one new key (mode 0600). Returns 0 or a BO_E* code with
   the reason in err (a malformed line, a file others may read). */
int bo_keyring_load(bo_keyring **out, const char *data_dir, bool create, char *err, size_t errlen);
void bo_keyring_free(bo_keyring *k);
/* Appends a new master key to data_dir/keys; it becomes current. Returns 0
   or a BO_E* code with err; *id receives the new key's id. */
int bo_keyring_rotate(const char *data_dir, int *id, char *err, size_t errlen);
/* The id of the current key. */
int bo_keyring_current(const bo_keyring *k);
/* How many keys the ring holds, and the id of the i-th (0 is the first,
   the blind-index key). */
int bo_keyring_count(const bo_keyring *k);
int bo_keyring_id(const bo_keyring *k, int i);
/* The key id a sealed value names, or -1 if it is not a sealed value. */
int bo_sealed_key_id(const char *sealed, size_t len);

/* The keyring of data_dir shared by the threads of this process (app
   states seal and open entity fields with it): loaded, and made if
   missing, on first use; kept until the process ends. Returns it, or NULL
   with the reason in err. */
const bo_keyring *bo_keyring_shared(const char *data_dir, char *err, size_t errlen);

/* A purpose key ("csrf", "session", ...) derived from the current master. */
void bo_keyring_derive(const bo_keyring *k, const char *purpose, uint8_t out[BO_KEY_BYTES]);

/* Seals plain with AES-256-GCM under the current key; aad names where the
   value belongs ("grants/applications/account_number") so it cannot be
   moved elsewhere. Returns a new string "bo1.<key id>.<base64url(nonce,
   ciphertext, tag)>"; free with free(). */
char *bo_seal(const bo_keyring *k, const char *aad, const void *plain, size_t n);
/* Opens a sealed value into out (appended). Returns 0, or BO_EPERM (wrong
   key, wrong aad, tampered) / BO_EINVAL (not a sealed value), with err. */
int bo_unseal(const bo_keyring *k, const char *aad, const char *sealed, size_t len, bo_buf *out,
              char *err, size_t errlen);

/* The blind index of value in context (e.g. "grants/applications/account_number")
   under the current key: out receives BO_BLIND_INDEX_CHARS characters and a
   NUL. */
void bo_blind_index(const bo_keyring *k, const char *context, const void *value, size_t n,
                    char out[BO_BLIND_INDEX_CHARS + 1]);

#endif
