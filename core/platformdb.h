/*
 * platformdb.h - the platform's own database, data/borough.db: staff
 * accounts, roles and sessions (sign-in adds them) and the platform audit
 * log (exports now; sign-ins and role changes later). Its schema is a list
 * of migrations built into the binary (platformdb.c), applied in order and
 * recorded like an app's, so a later version only appends to the list.
 *
 * The server opens it at start (creating it) so a broken data folder stops
 * the server before it listens; commands that record events open it too.
 */
#ifndef BO_PLATFORMDB_H
#define BO_PLATFORMDB_H

#include "db.h"

/* Opens data_dir/borough.db, creating it if missing, and applies the
   built-in migrations it lacks, all in one transaction. Returns 0 and *out
   (close with bo_db_close), or a BO_E* code with the reason in err. */
int bo_platformdb_open(bo_db **out, const char *data_dir, char *err, size_t errlen);

/* Adds an event to the platform audit log: who did what (action, e.g.
   "export"), to which app, with a line of detail. app and detail may be
   NULL. The row is chained to the one before it (platformdb.c) in its own
   BEGIN IMMEDIATE transaction (a savepoint if one is open). */
int bo_platformdb_audit(bo_db *db, const char *who, const char *action, const char *app,
                        const char *detail, char *err, size_t errlen);

/* Where the sealed two-factor secret of account user_id belongs (the AAD
   it is sealed with, so it opens for that account only): lauth.c seals
   and opens it, `borough keys` counts and seals it again. */
void bo_platformdb_totp_aad(char *out, size_t cap, int64_t user_id);

/* Recomputes the audit log's hash chain. Returns 0 with *bad = 0 if every
   row is in place, or *bad = the id of the first row that is not (edited,
   inserted by hand, or after a deleted row) with the reason in err; *rows
   counts the rows read and last receives the last good hash (hex). Returns
   BO_EDB if the log cannot be read. */
int bo_platformdb_verify(bo_db *db, long long *bad, long long *rows, char last[65], char *err, size_t errlen);

#endif
