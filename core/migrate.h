/*
 * migrate.h - schema migrations: numbered SQL scripts applied once each, in
 * order, and recorded in the database's _borough_migrations table.
 *
 * Two kinds of database use them: an app's (scripts are the files
 * apps/<app>/migrations/NNN_name.sql, for the changes its entity
 * declarations cannot make by themselves) and the platform's data/borough.db
 * (scripts built into the binary, see platformdb.c). The caller holds the
 * transaction, so a failing script leaves nothing behind, and decides when
 * migrating is allowed (only the main thread's load of an app migrates).
 */
#ifndef BO_MIGRATE_H
#define BO_MIGRATE_H

#include "db.h"
#include "snapshot.h"

typedef struct bo_migration {
    char *name;                /* "002_rename_phone" (the file name without .sql) */
    char *sql;
    size_t len;
} bo_migration;

typedef struct bo_migrations {
    bo_migration *list;        /* in order of their numbers */
    size_t n;
    char *dir;                 /* where the files are, for messages; NULL if built in */
} bo_migrations;

/* Reads the migration files of an app folder: the .sql files in
   app_dir/migrations, from the app's snapshot when it has one (snap), else
   from the disk. A missing folder is no migrations. A .sql file not named
   NNN_name.sql, two files with one number, or a file that cannot be read
   is an error naming the file. On success fills *m (free with
   bo_migrations_free). */
int bo_migrations_read(bo_migrations *m, const char *app_dir, const bo_snapshot *snap, char *err,
                       size_t errlen);
void bo_migrations_free(bo_migrations *m);

/* Creates the record table if it is missing. Call inside a transaction. */
int bo_migrate_prepare(bo_db *db, char *err, size_t errlen);

/* Applies, in order, each migration of m not yet recorded, and records it.
   With baseline, records them without running them (a new database is made
   from the current declarations, which already include their effect).
   Call inside the caller's transaction, after bo_migrate_prepare. On
   failure err reads "<dir>/<name>.sql:<line>: <reason>". *applied counts the
   scripts run. */
int bo_migrate_apply(bo_db *db, const bo_migrations *m, bool baseline, unsigned *applied, char *err,
                     size_t errlen);

#endif
