/*
 * accounts.h - staff accounts and their roles as an operator manages them,
 * in data/borough.db: the one implementation of each action, behind two
 * front ends, `borough user` (cmd_user.c) and the admin console's People
 * pages (ladmin.c). Every change writes its platform audit row naming who
 * made it ("cli:<user>" from the command line, the admin's email address
 * from the console), and a change that takes a power away ends the
 * account's sessions at once: a new password, disabling the account, a
 * reset of its two-factor codes, and ending its sessions itself.
 *
 * Sign-in (lauth.c, lsso.c) and the sessions it starts (session.c) live
 * apart; single sign-on makes accounts and gives roles through the
 * operator's mapping (sso.c), and a role records where it came from.
 */
#ifndef BO_ACCOUNTS_H
#define BO_ACCOUNTS_H

#include "db.h"

#include <stdint.h>

#define BO_ACCOUNT_NAME_MAX 200

/* A role name: lower-case letters, digits, '_' and '-', starting with a
   letter, at most 64 (the rule init.lua applies to a route's role). */
bool bo_account_role_ok(const char *s);
/* An app's folder name: letters, digits, '.', '_' and '-', not starting
   with '.', at most 255. */
bool bo_account_app_ok(const char *s);

/* One account as the lists show it. Strings are borrowed for the call. */
typedef struct bo_account {
    int64_t id;
    const char *email;
    const char *name;
    bool disabled;
    bool password;         /* it has a password (one single sign-on made has none) */
    bool two_factor;       /* two-factor codes are set up */
    bool sso;              /* linked to an identity at the identity provider */
    int64_t created_ms;
    int64_t seen_ms;       /* the last use of any of its sessions (to the minute), or 0 */
    int sessions;          /* its sessions (ended ones that were never used again included) */
    const char *roles;     /* "app:role, ..." by app then role, or NULL */
} bo_account;

typedef int (*bo_account_fn)(void *ud, const bo_account *a);

/* Calls fn for the accounts whose email address or name contains search
   (any case; NULL or "": all) in email order, skipping offset and at most
   limit of them; *total (if not NULL) gets how many match. Returns 0,
   the first non-zero fn returned, or BO_EDB with err. */
int bo_accounts_list(bo_db *db, const char *search, unsigned offset, unsigned limit, bo_account_fn fn,
                     void *ud, unsigned *total, char *err, size_t errlen);

/* Calls fn (if not NULL) for the account of email. Returns 0, BO_ENOENT
   (err: "no account for EMAIL") or BO_EDB. */
int bo_account_get(bo_db *db, const char *email, bo_account_fn fn, void *ud, char *err, size_t errlen);

/* Calls fn for each role of account id, by app then role, with where it
   came from: source NULL (given by hand) or "sso <value>" (the single
   sign-on mapping of that group, replaced at each sign-in). */
typedef int (*bo_account_role_fn)(void *ud, const char *app, const char *role, const char *source);
int bo_account_roles(bo_db *db, int64_t id, bo_account_role_fn fn, void *ud, char *err, size_t errlen);

/* The actions, each writing its audit row as who. They return 0 or:
   BO_ENOENT (no account for email), BO_EINVAL (a bad address, name, app
   or role; err says which), BO_EEXIST (add: the address has an account
   already), BO_EDB; err says why in one line. */

/* A new account with a password hash (password.h) made by the caller. */
int bo_account_add(bo_db *db, const char *who, const char *email, const char *name, const char *hash,
                   char *err, size_t errlen);
/* A new password (its hash); the account's sessions end. */
int bo_account_set_password(bo_db *db, const char *who, const char *email, const char *hash, char *err,
                            size_t errlen);
/* Gives (or with remove, takes away) role in app; *changed is false when
   the account already had it (or did not). */
int bo_account_set_role(bo_db *db, const char *who, const char *email, const char *app, const char *role,
                        bool remove, bool *changed, char *err, size_t errlen);
/* Disables (its sessions end) or enables the account. */
int bo_account_set_disabled(bo_db *db, const char *who, const char *email, bool disabled, char *err,
                            size_t errlen);
/* Forgets the account's two-factor secret and recovery codes (a lost
   phone); it sets up new ones at its next sign-in if it must have them.
   Its sessions end. */
int bo_account_reset_two_factor(bo_db *db, const char *who, const char *email, char *err, size_t errlen);
/* Ends every session of the account (signs it out everywhere); *ended
   gets how many there were. */
int bo_account_end_sessions(bo_db *db, const char *who, const char *email, int *ended, char *err,
                            size_t errlen);

#endif
