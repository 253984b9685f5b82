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

/* Which rows of the audit log to show; NULL (or "") fields do not filter.
   who matches any part of who made it (any case); since and until are a
   day ("2026-11-26") or a time ("2026-11-26T09:30"), until a day meaning
   to its end. */
typedef struct bo_audit_filter {
    const char *who;
    const char *app;
    const char *action;
    const char *since;
    const char *until;
} bo_audit_filter;

typedef struct bo_audit_row {
    int64_t id;
    const char *at;        /* "2026-11-26T09:30:00.123Z" */
    const char *who;
    const char *action;
    const char *app;       /* or NULL */
    const char *detail;    /* or NULL */
} bo_audit_row;

typedef int (*bo_audit_fn)(void *ud, const bo_audit_row *row);

/* Whether s is a day or time the filter takes. */
bool bo_platformdb_audit_date_ok(const char *s);

/* Calls fn for the rows that match f, newest first, skipping offset and
   at most limit; *total (if not NULL) gets how many match. Returns 0,
   fn's first non-zero, or BO_EDB with err. `borough audit` and the admin
   console's Audit page both read the log through this. */
int bo_platformdb_audit_list(bo_db *db, const bo_audit_filter *f, unsigned offset, unsigned limit,
                             bo_audit_fn fn, void *ud, unsigned *total, char *err, size_t errlen);

/* Calls fn(ud, name) for each action (or with apps set, each app) the log
   names, in order. */
int bo_platformdb_audit_names(bo_db *db, bool apps, int (*fn)(void *ud, const char *name), void *ud, char *err,
                              size_t errlen);

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
