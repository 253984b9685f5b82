/*
 * platformdb.c - data/borough.db and its built-in migrations (see
 * platformdb.h).
 */
#include "platformdb.h"
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The platform schema, oldest first. Append; never edit one that shipped. */
static const struct {
    const char *name;
    const char *sql;
} platform_migrations[] = {
    { "001_platform_audit",
      "CREATE TABLE platform_audit (\n"
      "  id INTEGER PRIMARY KEY,\n"
      "  at TEXT NOT NULL,\n"
      "  who TEXT NOT NULL,\n"
      "  action TEXT NOT NULL,\n"
      "  app TEXT,\n"
      "  detail TEXT\n"
      ");\n"
      "CREATE INDEX platform_audit_at ON platform_audit (at);\n" },
    /* Staff accounts (cmd_user.c), their roles in each app, sessions
       (session.c: only the SHA-256 of a token is kept) and failed sign-ins
       (for throttling). Times are Unix milliseconds. */
    { "010_accounts",
      "CREATE TABLE users (\n"
      "  id INTEGER PRIMARY KEY,\n"
      "  email TEXT NOT NULL UNIQUE COLLATE NOCASE,\n"
      "  name TEXT NOT NULL,\n"
      "  password_hash TEXT NOT NULL,\n"
      "  disabled INTEGER NOT NULL DEFAULT 0,\n"
      "  created_ms INTEGER NOT NULL,\n"
      "  password_ms INTEGER NOT NULL\n"
      ");\n"
      "CREATE TABLE user_roles (\n"
      "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n"
      "  app TEXT NOT NULL,\n"
      "  role TEXT NOT NULL,\n"
      "  PRIMARY KEY (user_id, app, role)\n"
      ") WITHOUT ROWID;\n"
      "CREATE TABLE sessions (\n"
      "  id INTEGER PRIMARY KEY,\n"
      "  token_hash BLOB NOT NULL UNIQUE,\n"
      "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n"
      "  created_ms INTEGER NOT NULL,\n"
      "  seen_ms INTEGER NOT NULL,\n"
      "  ip TEXT\n"
      ");\n"
      "CREATE INDEX sessions_user ON sessions (user_id);\n"
      "CREATE TABLE sign_in_failures (\n"
      "  key TEXT NOT NULL,\n"
      "  at_ms INTEGER NOT NULL\n"
      ");\n"
      "CREATE INDEX sign_in_failures_key ON sign_in_failures (key, at_ms);\n" },
};

int bo_platformdb_open(bo_db **out, const char *data_dir, char *err, size_t errlen)
{
    *out = NULL;
    char *path = bo_sprintf("%s/borough.db", data_dir);
    bo_db *db;
    int rc = bo_db_open(&db, path, BO_DB_CREATE, err, errlen);
    free(path);
    if (rc < 0)
        return rc;
    bo_migrations m = { 0 };
    m.n = BO_COUNT(platform_migrations);
    m.list = bo_calloc(m.n, sizeof *m.list);
    for (size_t i = 0; i < m.n; i++) {
        m.list[i].name = bo_strdup(platform_migrations[i].name);
        m.list[i].sql = bo_strdup(platform_migrations[i].sql);
        m.list[i].len = strlen(m.list[i].sql);
    }
    unsigned applied;
    if ((rc = bo_db_begin(db, err, errlen)) == 0) {
        if ((rc = bo_migrate_prepare(db, err, errlen)) == 0 &&
            (rc = bo_migrate_apply(db, &m, false, &applied, err, errlen)) == 0)
            rc = bo_db_commit(db, err, errlen);
        if (rc < 0)
            bo_db_rollback(db);
    }
    bo_migrations_free(&m);
    if (rc < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errlen, "%s/borough.db: %s", data_dir, why);
        bo_db_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

int bo_platformdb_audit(bo_db *db, const char *who, const char *action, const char *app,
                        const char *detail, char *err, size_t errlen)
{
    static const char sql[] = "INSERT INTO platform_audit (at, who, action, app, detail) "
                              "VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?, ?, ?, ?)";
    sqlite3_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    const char *values[] = { who, action, app, detail };
    for (int i = 0; i < 4; i++)
        sqlite3_bind_text(stmt, i + 1, values[i], -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE)
        snprintf(err, errlen, "%s", sqlite3_errmsg(bo_db_sqlite(db)));
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : bo_db_error(rc);
}
