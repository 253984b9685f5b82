/*
 * sso.h - what single sign-on keeps in the platform database
 * (data/borough.db): the site's sign-in settings, the operator's mapping
 * from the provider's groups (or app roles) to roles in apps, sign-ins in
 * flight, and accounts found by their identity at the provider.
 *
 * Settings are rows of sign_in_settings, written by `borough sso set`
 * (cmd_sso.c) and read afresh at every sign-in, so a change takes effect
 * at the next one without a restart; the mapping lives beside them for the
 * same reason. The client secret itself is never stored: the settings name
 * a file holding it, or an environment variable of the server's.
 *
 * A sign-in in flight (state, nonce, PKCE verifier, where to go after) is
 * a row keyed by the SHA-256 of its state and bound to the browser that
 * began it by the SHA-256 of a random cookie; taking it deletes it, so a
 * callback works once, in that browser, within ten minutes.
 *
 * An account is found by the provider's stable identity (issuer, and its
 * "sub" or Microsoft Entra's "oid"), never by email address: a provider
 * may let people choose their own address. The first sign-in makes the
 * account; each sign-in refreshes its name and email and replaces the
 * roles the mapping gave (user_roles rows whose source is "sso <value>"),
 * leaving roles given by hand alone. The data flow: lsso.c runs the
 * exchange with the provider and calls these with the verified claims.
 */
#ifndef BO_SSO_H
#define BO_SSO_H

#include "db.h"
#include "oidc.h"

#include <stdint.h>

#define BO_SSO_FLOW_MS (10 * 60 * 1000)   /* a sign-in in flight lasts ten minutes */
#define BO_SSO_COOKIE "borough_sso"       /* binds a sign-in in flight to its browser */
#define BO_SSO_NAME_MAX 200
#define BO_SSO_FLOWS_PER_CLIENT 300       /* sign-ins in flight from one client address */

/* The site's sign-in settings, with their defaults. Strings are new (free
   with bo_sso_settings_free); issuer NULL means single sign-on is off. */
typedef struct bo_sso_settings {
    char *issuer;           /* the provider's issuer URL (https) */
    char *client_id;
    char *secret_file;      /* a file whose first line is the client secret, */
    char *secret_env;       /* or the name of an environment variable holding it */
    char *scopes;           /* "openid profile email" */
    char *roles_claim;      /* "groups" (default) or "roles" */
    char *subject_claim;    /* "sub" (default) or "oid" */
    char *provider_name;    /* shown as "Sign in with <name>", or NULL */
    unsigned algs;          /* BO_JWS_* bits accepted; RS256 by default */
    bool secret_post;       /* token_auth = client_secret_post (else _basic) */
    bool passwords;         /* the sign-in page shows the password form (on) */
    bool two_factor_all;    /* two_factor = all: every password account (else admin) */
} bo_sso_settings;

/* Reads the settings (defaults for those unset). Returns 0 or BO_EDB with
   err. */
int bo_sso_settings_load(bo_db *db, bo_sso_settings *s, char *err, size_t errlen);
void bo_sso_settings_free(bo_sso_settings *s);
/* True when issuer, client id and a source of the secret are all set. */
bool bo_sso_settings_on(const bo_sso_settings *s);

/* The names of the settings, in the order `borough sso show` lists them. */
extern const char *const bo_sso_setting_names[];

/* Checks value for the setting key. Returns 0, or BO_ENOENT (no such
   setting) / BO_EINVAL (a bad value) with err saying what is wanted. */
int bo_sso_setting_check(const char *key, const char *value, char *err, size_t errlen);
/* Stores (value NULL: removes) a checked setting. Setting one source of
   the secret removes the other. Returns 0 or BO_EDB with err. */
int bo_sso_setting_store(bo_db *db, const char *key, const char *value, char *err, size_t errlen);
/* The stored value of key (new; free()), or NULL if unset. */
char *bo_sso_setting_get(bo_db *db, const char *key);

/* Reads the client secret from the file or environment variable the
   settings name, into out (cap bytes, NUL-terminated). Returns 0, or
   BO_ENOENT / BO_EIO / BO_EPERM (a file others may read) / BO_EINVAL
   (empty, or longer than cap) with err. The secret is never logged. */
int bo_sso_client_secret(const bo_sso_settings *s, char *out, size_t cap, char *err, size_t errlen);

/* A sign-in in flight. */
typedef struct bo_sso_flow {
    char nonce[BO_OIDC_TOKEN_CHARS + 1];
    char verifier[BO_OIDC_TOKEN_CHARS + 1];
    char *redirect_uri;     /* new */
    char *next;             /* new, or NULL */
    int64_t created_ms;
} bo_sso_flow;

/* Saves a new flow under state, for the browser holding the cookie value
   browser (both BO_OIDC_TOKEN_CHARS), begun from client (the client's
   address as the throttle counts it); forgets flows past their ten
   minutes. Returns 0, BO_ELIMIT when the client already has
   BO_SSO_FLOWS_PER_CLIENT in flight (so nobody can fill the database with
   sign-ins never finished), or BO_EDB, with err. */
int bo_sso_flow_save(bo_db *db, const char *state, const char *browser, const char *client, const bo_sso_flow *f,
                     char *err, size_t errlen);
/* Takes (deletes) the flow of state and fills *out (release with
   bo_sso_flow_release). Returns 0; BO_ENOENT (no such flow: never made,
   already used), BO_EPERM (begun in another browser: browser is the
   cookie's value, or NULL if the request has none), BO_ETIMEDOUT (older
   than ten minutes) or BO_EDB, with err. */
int bo_sso_flow_take(bo_db *db, const char *state, const char *browser, bo_sso_flow *out, char *err,
                     size_t errlen);
void bo_sso_flow_release(bo_sso_flow *f);

/* What a sign-in did to its account. */
typedef struct bo_sso_account {
    int64_t user_id;
    bool created;
    char email[256];
    char subject[160];      /* "claim value", for the audit log */
    char *roles;            /* "app:role, ..." the mapping gives now (new), or NULL */
    bool roles_changed;
} bo_sso_account;

/* Finds (or makes) the account of the verified claims c from issuer, in
   one transaction: the identity under s->subject_claim, the name and email
   refreshed, the mapped roles replaced. Returns 0 and fills *out (release
   with bo_sso_account_release); otherwise nothing is written and err says
   why: BO_EPERM (the account is disabled), BO_EEXIST (a new identity whose
   email belongs to another account: an operator links them with `borough
   sso link`), BO_EINVAL (no subject under the claim, or no email address),
   BO_ELIMIT (the provider left the groups out: too many to fit in a
   token), BO_EDB. */
int bo_sso_account_sign_in(bo_db *db, const bo_sso_settings *s, const char *issuer, const bo_oidc_claims *c,
                           bo_sso_account *out, char *err, size_t errlen);
void bo_sso_account_release(bo_sso_account *a);

/* Records that session id was started by single sign-on, and asks whether
   one was (sign-out then signs out at the provider too). */
int bo_sso_session_mark(bo_db *db, int64_t id);
bool bo_sso_session_is(bo_db *db, int64_t id);

/* An email address as staff accounts have them: one '@' with text either
   side, at most 254 bytes, no spaces or control characters. */
bool bo_account_email_valid(const char *s);

#endif
