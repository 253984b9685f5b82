/*
 * session.h - staff sessions and sign-in throttling, kept in the platform
 * database (data/borough.db, platformdb.c).
 *
 * A session is a random 256-bit token (bo_random, the kernel's CSPRNG)
 * sent to the browser in the cookie `borough_session` (HttpOnly,
 * SameSite=Lax, Path=/, Secure under TLS); the database keeps only its
 * SHA-256, so a copy of borough.db signs nobody in. Sign-in always makes a
 * new token (no fixation). A session ends when it has not been used for
 * the idle time (sliding: last use is written at most once a minute, so a
 * page view is one indexed read) or when it reaches its absolute age,
 * whichever comes first; sign-out, a password change and disabling the
 * account end sessions at once (their rows are deleted).
 *
 * Each worker reads sessions through its own connection to borough.db
 * (bo_worker_platform_db), once per request that carries the cookie; requests
 * without it cost nothing.
 *
 * Throttling counts failed sign-ins per key ("account:<email>",
 * "address:<ip>") within a window, whether or not the account exists.
 */
#ifndef BO_SESSION_H
#define BO_SESSION_H

#include "bo.h"
#include "config.h"
#include "db.h"

#include <stdint.h>

#define BO_SESSION_COOKIE "borough_session"
#define BO_SESSION_TOKEN_CHARS 43           /* base64url of 32 bytes */

/* The member of staff signed in to a request, with their roles in the app
   the request is for. One allocation; free with free(). */
typedef struct bo_user {
    int64_t id;
    int64_t session;       /* the session row (to end it); SQLite may give a later session the same id */
    uint8_t session_hash[32];   /* SHA-256 of the session's token: never repeats (binds CSRF tokens) */
    const char *email;
    const char *name;
    const char *roles;     /* " assessor admin ": each role with a space either side */
} bo_user;

/* True if u has role (len bytes) in the app. */
bool bo_user_has_role(const bo_user *u, const char *role, size_t len);
/* True if u has any of the space-separated roles in list. */
bool bo_user_has_any_role(const bo_user *u, const char *list);

/* Finds the session of token (the cookie's value, len bytes) and its user,
   with the user's roles in app. Ends an expired session; slides the idle
   time. Returns a new bo_user, or NULL (no such session, expired, a
   disabled account, or a database error, which is logged). */
bo_user *bo_session_lookup(bo_db *db, const char *token, size_t len, const char *app,
                           const bo_session_limits *lim);

/* Whether session id, whose token hashes to hash, still stands: not ended,
   within its idle and absolute times, its account enabled and, when roles
   (space-separated) is not NULL, still holding one of them in app. Only
   reads: a long-lived event stream checks its session this way without
   keeping it alive. Returns 1 or 0, or a negative BO_E* code when the
   database cannot say. */
int bo_session_valid(bo_db *db, int64_t id, const uint8_t hash[32], const char *app, const char *roles,
                     const bo_session_limits *lim);

/* Starts a session for user_id from address ip (may be NULL): writes the new
   token (BO_SESSION_TOKEN_CHARS + NUL) into token and its row id into *id.
   Also removes sessions that have expired. Returns 0 or a BO_E* code with
   err. */
int bo_session_create(bo_db *db, int64_t user_id, const char *ip, const bo_session_limits *lim,
                      char token[BO_SESSION_TOKEN_CHARS + 1], int64_t *id, char *err, size_t errlen);
/* Ends one session (sign-out). */
int bo_session_end(bo_db *db, int64_t id);
/* Ends every session of a user (password change, disable). */
int bo_session_end_user(bo_db *db, int64_t user_id);

/* Writes the Set-Cookie value for token into out (cap bytes; 160 is
   enough); token NULL writes one that removes the cookie. Returns the
   length. */
size_t bo_session_cookie(char *out, size_t cap, const char *token, bool secure);

/* Throttling: the failures recorded for key since now - window_ms, and the
   time the oldest of them leaves the window (*free_at_ms, 0 if none). */
int bo_session_failures(bo_db *db, const char *key, int64_t window_ms, int64_t *free_at_ms);
/* Records a failure for key (and forgets failures older than window_ms). */
int bo_session_fail(bo_db *db, const char *key, int64_t window_ms);
/* Forgets the failures of key (a successful sign-in of the account), or
   with all false only the newest one (an attempt counted when it began). */
int bo_session_forgive(bo_db *db, const char *key, bool all);

#endif
