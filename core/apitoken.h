/*
 * apitoken.h - API tokens for an app's data feed (lua/borough/feed.lua), in
 * data/borough.db: made and revoked by an operator (`borough token`),
 * checked on every feed request.
 *
 * A token is "borough_" and 43 characters of base64url (256 bits from the
 * system's random source), shown once when it is made; the database keeps
 * its SHA-256 and its first characters, to recognise it in a list. It is
 * for one app and for the entities named (its scope), until it expires or
 * is revoked. It acts as its own service account: a row of users with no
 * password (no one can sign in as it) whose roles in the app the operator
 * gives, so routes' roles and entities' row rules treat it as any member
 * of staff; disabling the account stops its token too.
 *
 * Every use is counted on the token's row (uses, the time and address of
 * the last), and the first use in each hour also writes a "token use" row
 * to the platform audit log (a row per request would flood the log that
 * people read: the access log has every request).
 */
#ifndef BO_APITOKEN_H
#define BO_APITOKEN_H

#include "bo.h"
#include "db.h"
#include "session.h"

#define BO_APITOKEN_PREFIX "borough_"
#define BO_APITOKEN_CHARS (8 + 43)          /* "borough_" and base64url of 32 bytes */
#define BO_APITOKEN_MAX_DAYS 366

/* Service accounts are named "...@APP.token.invalid" (a reserved domain, so
   no one's mail): true when email is such a name. accounts.c refuses them a
   password, and refuses to make a person's account that looks like one. */
bool bo_apitoken_is_account(const char *email);

/* The token behind a request: its id, its name and the entities it is for
   (" a b ", each with a space either side). One allocation; free with
   free(). */
typedef struct bo_apitoken {
    int64_t id;
    const char *name;
    const char *entities;
} bo_apitoken;

/* Makes a token for app: its service account (named after name, with
   roles, a comma- or space-separated list, in app), then the token, which
   expires after ms; who made it goes in the audit log. Writes the token
   (BO_APITOKEN_CHARS + NUL) into token, its id into *id and the account's
   email into email (cap bytes). Returns 0, or BO_EINVAL (a bad app, name,
   entity, role or expiry: err says which) or BO_EDB. */
int bo_apitoken_create(bo_db *db, const char *who, const char *app, const char *name, const char *entities,
                       const char *roles, int64_t expires_in_ms, char token[BO_APITOKEN_CHARS + 1], int64_t *id,
                       char *email, size_t cap, char *err, size_t errlen);

/* Revokes token id (its account is disabled too). Returns 0, BO_ENOENT,
   BO_EEXIST (revoked already) or BO_EDB. */
int bo_apitoken_revoke(bo_db *db, const char *who, int64_t id, char *err, size_t errlen);

/* One token as `borough token list` shows it; strings borrowed for the call. */
typedef struct bo_apitoken_row {
    int64_t id;
    const char *app, *name, *prefix, *entities, *email, *roles;
    int64_t created_ms, expires_ms, revoked_ms, used_ms, uses;
    const char *created_by;
} bo_apitoken_row;

/* Calls fn for each token (of app, or every app when NULL), newest first.
   Returns 0, fn's first non-zero, or BO_EDB. */
int bo_apitoken_list(bo_db *db, const char *app, int (*fn)(void *ud, const bo_apitoken_row *row), void *ud,
                     char *err, size_t errlen);

/* Why a request's token was not taken (the text of a 401). */
typedef enum bo_apitoken_refusal {
    BO_APITOKEN_OK,
    BO_APITOKEN_MISSING,       /* no Authorization: Bearer */
    BO_APITOKEN_UNKNOWN,       /* no such token for this app */
    BO_APITOKEN_EXPIRED,
    BO_APITOKEN_REVOKED,       /* revoked, or its account disabled */
} bo_apitoken_refusal;

/* A request's Authorization value (len bytes, or NULL) for app from ip:
   when it is a live token of the app, counts the use (and audits the first
   in the hour, naming what) and returns BO_APITOKEN_OK with *user (the
   service account with its roles in app) and *token, both new; else the
   refusal. A database error is logged and refuses as unknown. */
bo_apitoken_refusal bo_apitoken_admit(bo_db *db, const char *app, const char *authorization, size_t len,
                                      const char *ip, const char *what, bo_user **user, bo_apitoken **token);

/* The sentence for a refusal ("the token has expired"). */
const char *bo_apitoken_refusal_text(bo_apitoken_refusal why);

#endif
