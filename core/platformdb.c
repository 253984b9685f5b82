/*
 * platformdb.c - data/borough.db and its built-in migrations (see
 * platformdb.h), and the hash chain of the platform audit log.
 *
 * The chain. Each row of platform_audit stores
 *     hash = hex(SHA-256(previous row's hash || the row's canonical form))
 * where the first row's previous hash is 64 zeros and the canonical form
 * is each of id, at, who, action, app, detail as "<length>:<bytes>" ("~"
 * for no value). A row is added inside BEGIN IMMEDIATE, which reads the
 * last hash and inserts after it while no other connection (worker or
 * process) can write, so the chain never forks. Triggers refuse UPDATE and
 * DELETE, so only someone editing the file by hand can change a row, and
 * bo_platformdb_verify finds the first row where the chain breaks.
 */
#include "platformdb.h"
#include "crypto.h"
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The platform schema, oldest first. Append; never edit one that shipped.
   SQL in the portable subset serves both engines (db_pg.c translates its
   spelling); where PostgreSQL needs other SQL (triggers), sql_pg has it. */
static const struct {
    const char *name;
    const char *sql;
    const char *sql_pg;
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
      "CREATE INDEX platform_audit_at ON platform_audit (at);\n", NULL },
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
      "CREATE INDEX sign_in_failures_key ON sign_in_failures (key, at_ms);\n", NULL },
    /* The audit log's hash chain. Rows made before it are chained by
       bo_platformdb_open, once, in the same transaction (the trigger lets
       a row without a hash get one). */
    { "020_platform_audit_chain",
      "ALTER TABLE platform_audit ADD COLUMN hash TEXT;\n"
      "CREATE TRIGGER platform_audit_no_update BEFORE UPDATE ON platform_audit\n"
      "WHEN OLD.hash IS NOT NULL\n"
      "BEGIN SELECT RAISE(ABORT, 'the platform audit log is append-only'); END;\n"
      "CREATE TRIGGER platform_audit_no_delete BEFORE DELETE ON platform_audit\n"
      "BEGIN SELECT RAISE(ABORT, 'the platform audit log is append-only'); END;\n",
      "ALTER TABLE platform_audit ADD COLUMN hash TEXT;\n"
      "CREATE FUNCTION platform_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$\n"
      "BEGIN\n"
      "  IF TG_OP = 'DELETE' OR OLD.hash IS NOT NULL THEN\n"
      "    RAISE EXCEPTION 'the platform audit log is append-only';\n"
      "  END IF;\n"
      "  RETURN NEW;\n"
      "END $$;\n"
      "CREATE TRIGGER platform_audit_no_change BEFORE UPDATE OR DELETE ON platform_audit\n"
      "FOR EACH ROW EXECUTE FUNCTION platform_audit_append_only();\n" },
    /* Single sign-on (sso.c) and two-factor codes (lauth.c). The settings
       of `borough sso set`; the operator's mapping from a value of the
       provider's groups (or roles) claim to a role in an app; accounts'
       identities at the provider (issuer, claim, value); sign-ins in flight
       (only the SHA-256 of the state and of the browser's cookie are kept);
       where a role came from (NULL: given by hand; "sso <value>": by the
       mapping, replaced at each sign-in); which sessions single sign-on
       started. A password account's TOTP secret (sealed with the keyring,
       bound to the account) and the last step used, its recovery codes
       (SHA-256 of 80 random bits each), and password sign-ins waiting for
       their second factor (by the SHA-256 of a cookie). An account made by
       single sign-on has the empty string for a password hash: no password
       opens it. */
    { "030_sign_in",
      "CREATE TABLE sign_in_settings (\n"
      "  key TEXT PRIMARY KEY,\n"
      "  value TEXT NOT NULL\n"
      ") WITHOUT ROWID;\n"
      "CREATE TABLE sso_role_map (\n"
      "  value TEXT NOT NULL,\n"
      "  app TEXT NOT NULL,\n"
      "  role TEXT NOT NULL,\n"
      "  PRIMARY KEY (value, app, role)\n"
      ") WITHOUT ROWID;\n"
      "CREATE TABLE sso_identities (\n"
      "  issuer TEXT NOT NULL,\n"
      "  claim TEXT NOT NULL,\n"
      "  subject TEXT NOT NULL,\n"
      "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n"
      "  created_ms INTEGER NOT NULL,\n"
      "  PRIMARY KEY (issuer, claim, subject)\n"
      ") WITHOUT ROWID;\n"
      "CREATE INDEX sso_identities_user ON sso_identities (user_id);\n"
      "CREATE TABLE sso_flows (\n"
      "  state_hash BLOB PRIMARY KEY,\n"
      "  browser_hash BLOB NOT NULL,\n"
      "  nonce TEXT NOT NULL,\n"
      "  verifier TEXT NOT NULL,\n"
      "  redirect_uri TEXT NOT NULL,\n"
      "  next TEXT,\n"
      "  client TEXT NOT NULL,\n"
      "  created_ms INTEGER NOT NULL\n"
      ");\n"
      "CREATE INDEX sso_flows_client ON sso_flows (client, created_ms);\n"
      "ALTER TABLE user_roles ADD COLUMN source TEXT;\n"
      "ALTER TABLE sessions ADD COLUMN sso INTEGER NOT NULL DEFAULT 0;\n"
      "ALTER TABLE users ADD COLUMN totp_secret TEXT;\n"
      "ALTER TABLE users ADD COLUMN totp_step INTEGER NOT NULL DEFAULT -1;\n"
      "CREATE TABLE recovery_codes (\n"
      "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n"
      "  code_hash BLOB NOT NULL,\n"
      "  used_ms INTEGER,\n"
      "  PRIMARY KEY (user_id, code_hash)\n"
      ") WITHOUT ROWID;\n"
      "CREATE TABLE two_factor_pending (\n"
      "  token_hash BLOB PRIMARY KEY,\n"
      "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n"
      "  created_ms INTEGER NOT NULL,\n"
      "  secret TEXT\n"
      ");\n", NULL },
    /* API tokens (apitoken.c): for an app's data feed, each acting as its
       own service account (a users row with no password, whose roles in
       the app the admin gives), scoped to entities (" a b "), with an
       expiry. Only the SHA-256 of a token is kept, and its first characters
       to recognise it by. Every use is counted (uses, used_ms, used_ip);
       audited_ms is when the last "token use" audit row was written (one an
       hour at most). Times are Unix milliseconds. */
    { "040_api_tokens",
      "CREATE TABLE api_tokens (\n"
      "  id INTEGER PRIMARY KEY,\n"
      "  token_hash BLOB NOT NULL UNIQUE,\n"
      "  prefix TEXT NOT NULL,\n"
      "  app TEXT NOT NULL,\n"
      "  name TEXT NOT NULL,\n"
      "  entities TEXT NOT NULL,\n"
      "  user_id INTEGER NOT NULL REFERENCES users (id),\n"
      "  created_ms INTEGER NOT NULL,\n"
      "  created_by TEXT NOT NULL,\n"
      "  expires_ms INTEGER NOT NULL,\n"
      "  revoked_ms INTEGER,\n"
      "  revoked_by TEXT,\n"
      "  used_ms INTEGER,\n"
      "  used_ip TEXT,\n"
      "  uses INTEGER NOT NULL DEFAULT 0,\n"
      "  audited_ms INTEGER NOT NULL DEFAULT 0\n"
      ");\n"
      "CREATE INDEX api_tokens_app ON api_tokens (app);\n", NULL },
    /* The nodes' shared window of each Notify API key (nodes.h): the
       times of its requests in the last minute. Used on PostgreSQL only,
       where several nodes send with one key. */
    { "041_notify_windows",
      "CREATE TABLE notify_windows (\n"
      "  key TEXT PRIMARY KEY,\n"
      "  times TEXT NOT NULL\n"
      ");\n",
      "CREATE TABLE notify_windows (\n"
      "  key TEXT PRIMARY KEY,\n"
      "  times BIGINT[] NOT NULL\n"
      ");\n" },
    /* The nodes, the versions of the apps each serves, and the reloads
       asked on one for all (nodes.h). Used on PostgreSQL only. */
    { "042_node_registry",
      "CREATE TABLE node_registry (\n"
      "  node TEXT PRIMARY KEY,\n"
      "  name TEXT NOT NULL,\n"
      "  seen_ms INTEGER NOT NULL,\n"
      "  done INTEGER NOT NULL\n"
      ");\n"
      "CREATE TABLE node_apps (\n"
      "  node TEXT NOT NULL,\n"
      "  app TEXT NOT NULL,\n"
      "  hash TEXT NOT NULL,\n"
      "  PRIMARY KEY (node, app)\n"
      ");\n"
      "CREATE TABLE node_reloads (\n"
      "  id INTEGER PRIMARY KEY,\n"
      "  app TEXT,\n"
      "  node TEXT NOT NULL,\n"
      "  at_ms INTEGER NOT NULL\n"
      ");\n", NULL },
    /* A failed sign-in gets a key of its own, so that a success forgives
       exactly the newest failure of its address on either engine
       (PostgreSQL has no rowid). */
    { "050_sign_in_failures_id",
      "CREATE TABLE sign_in_failures_new (\n"
      "  id INTEGER PRIMARY KEY,\n"
      "  key TEXT NOT NULL,\n"
      "  at_ms INTEGER NOT NULL\n"
      ");\n"
      "INSERT INTO sign_in_failures_new (key, at_ms) SELECT key, at_ms FROM sign_in_failures ORDER BY at_ms;\n"
      "DROP TABLE sign_in_failures;\n"
      "ALTER TABLE sign_in_failures_new RENAME TO sign_in_failures;\n"
      "CREATE INDEX sign_in_failures_key ON sign_in_failures (key, at_ms);\n", NULL },
};

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

static void put_part(bo_buf *b, const char *s, size_t n)
{
    if (!s) {
        bo_buf_putc(b, '~');
        return;
    }
    bo_buf_printf(b, "%zu:", n);
    bo_buf_append(b, s, n);
}

/* The hash of a row (hex, 65 bytes with the NUL) after the row with hash
   prev. The six columns of stmt from col on are id, at, who, action, app,
   detail. */
static void row_hash(bo_stmt *stmt, int col, const char *prev, char out[65])
{
    bo_buf b;
    bo_buf_init(&b);
    bo_buf_puts(&b, prev);
    for (int i = col; i < col + 6; i++) {
        const char *v = (const char *)bo_stmt_column_text(stmt, i);
        put_part(&b, v, (size_t)bo_stmt_column_bytes(stmt, i));
    }
    uint8_t digest[32];
    bo_sha256(b.data, b.len, digest);
    bo_hex(digest, sizeof digest, out);
    bo_buf_free(&b);
}

/* Gives every row without a hash (those logged before the chain existed)
   its place in the chain, in id order. Runs inside the open's transaction,
   right after the chain's migration; never later, so a row slipped into
   the file by hand stays unchained and `borough audit verify` names it. */
static int chain_old_rows(bo_db *db, char *err, size_t errlen)
{
    bo_db *s = db;
    bo_stmt *sel = NULL, *upd = NULL;
    int rc = bo_stmt_prepare(s, "SELECT id, id, at, who, action, app, detail FROM platform_audit ORDER BY id",
                                -1, &sel);
    if (rc == BO_OK)
        rc = bo_stmt_prepare(s, "UPDATE platform_audit SET hash = ? WHERE id = ?", -1, &upd);
    char prev[65] = ZERO_HASH;
    while (rc == BO_OK && (rc = bo_stmt_step(sel)) == BO_DB_ROW) {
        char hash[65];
        row_hash(sel, 1, prev, hash);
        bo_stmt_bind_text_copy(upd, 1, hash, -1);
        bo_stmt_bind_int64(upd, 2, bo_stmt_column_int64(sel, 0));
        rc = bo_stmt_step(upd) == BO_DB_DONE ? BO_OK : BO_EDB;
        bo_stmt_reset(upd);
        memcpy(prev, hash, sizeof prev);
    }
    if (rc == BO_DB_DONE)
        rc = BO_OK;
    if (rc != BO_OK)
        snprintf(err, errlen, "chaining the audit log: %s", bo_db_errmsg(s));
    bo_stmt_finalize(sel);
    bo_stmt_finalize(upd);
    return rc == BO_OK ? 0 : BO_EDB;
}

int bo_platformdb_open(bo_db **out, const char *data_dir, char *err, size_t errlen)
{
    *out = NULL;
    bo_db *db;
    int rc = bo_db_open_platform(&db, data_dir, BO_DB_CREATE, err, errlen);
    if (rc < 0)
        return rc;
    bo_migrations m = { 0 };
    m.n = BO_COUNT(platform_migrations);
    m.list = bo_calloc(m.n, sizeof *m.list);
    for (size_t i = 0; i < m.n; i++) {
        m.list[i].name = bo_strdup(platform_migrations[i].name);
        const char *sql = platform_migrations[i].sql;
        if (bo_db_dialect() == BO_POSTGRES && platform_migrations[i].sql_pg)
            sql = platform_migrations[i].sql_pg;
        m.list[i].sql = bo_strdup(sql);
        m.list[i].len = strlen(m.list[i].sql);
    }
    unsigned applied;
    if ((rc = bo_db_begin(db, err, errlen)) == 0) {
        bool chained = bo_db_has_column(db, "platform_audit", "hash");
        if ((rc = bo_migrate_prepare(db, err, errlen)) == 0 &&
            (rc = bo_migrate_apply(db, &m, false, &applied, err, errlen)) == 0 &&
            (chained || (rc = chain_old_rows(db, err, errlen)) == 0))
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
    static const char last_sql[] = "SELECT id, hash FROM platform_audit ORDER BY id DESC LIMIT 1";
    static const char now_sql[] = "SELECT CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS TEXT), "
                                  "CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT)";
    static const char insert_sql[] = "INSERT INTO platform_audit (id, at, who, action, app, detail, hash) "
                                     "VALUES (?, ?, ?, ?, ?, ?, ?)";
    int rc = bo_db_begin(db, err, errlen);
    if (rc < 0)
        return rc;
    bo_stmt *last = bo_db_prepare(db, last_sql, sizeof last_sql - 1, err, errlen);
    bo_stmt *now = last ? bo_db_prepare(db, now_sql, sizeof now_sql - 1, err, errlen) : NULL;
    bo_stmt *ins = now ? bo_db_prepare(db, insert_sql, sizeof insert_sql - 1, err, errlen) : NULL;
    if (!ins) {
        bo_db_rollback(db);
        return BO_EDB;
    }
    /* The row as it will be stored, made by one SELECT so its canonical
       form is read back exactly as verify will read it. */
    int64_t id = 1;
    char prev[65] = ZERO_HASH;
    int step = bo_stmt_step(last);
    if (step == BO_DB_ROW) {
        id = bo_stmt_column_int64(last, 0) + 1;
        const char *h = (const char *)bo_stmt_column_text(last, 1);
        snprintf(prev, sizeof prev, "%s", h ? h : "");
    }
    bo_stmt_reset(last);
    bo_stmt_bind_int64(now, 1, id);
    char at[32];
    bo_iso_time(bo_unix_ms(), at, sizeof at);
    const char *values[] = { at, who, action, app, detail };
    for (int i = 0; i < 5; i++)
        bo_stmt_bind_text_copy(now, i + 2, values[i], -1);
    step = bo_stmt_step(now);
    if (step == BO_DB_ROW) {
        char hash[65];
        row_hash(now, 0, prev, hash);
        bo_stmt_bind_int64(ins, 1, id);
        for (int i = 1; i < 6; i++)
            bo_stmt_bind_column(ins, i + 1, now, i);
        bo_stmt_bind_text_copy(ins, 7, hash, -1);
        step = bo_stmt_step(ins);
    }
    if (step != BO_DB_DONE)
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
    bo_stmt_reset(ins);
    bo_stmt_reset(now);
    if (step != BO_DB_DONE) {
        bo_db_rollback(db);
        return (step);
    }
    return bo_db_commit(db, err, errlen);
}

void bo_platformdb_totp_aad(char *out, size_t cap, int64_t user_id)
{
    snprintf(out, cap, "borough/users/%lld/totp", (long long)user_id);
}

int bo_platformdb_verify(bo_db *db, long long *bad, long long *rows, char last[65], char *err, size_t errlen)
{
    static const char sql[] = "SELECT id, hash, id, at, who, action, app, detail FROM platform_audit ORDER BY id";
    *bad = 0;
    *rows = 0;
    bo_stmt *stmt = NULL;
    if (bo_stmt_prepare(db, sql, -1, &stmt) != BO_OK) {
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
        return BO_EDB;
    }
    char prev[65] = ZERO_HASH;
    int64_t expect = 1;
    int rc;
    while ((rc = bo_stmt_step(stmt)) == BO_DB_ROW) {
        int64_t id = bo_stmt_column_int64(stmt, 0);
        const char *stored = (const char *)bo_stmt_column_text(stmt, 1);
        char hash[65];
        row_hash(stmt, 2, prev, hash);
        (*rows)++;
        if (id != expect) {
            *bad = id;
            snprintf(err, errlen, "row %lld follows row %lld: %s missing", (long long)id, (long long)expect - 1,
                     id - expect == 1 ? "a row is" : "rows are");
            break;
        }
        if (!stored || strcmp(stored, hash) != 0) {
            *bad = id;
            snprintf(err, errlen, "row %lld does not match its hash (edited, or inserted by hand)", (long long)id);
            break;
        }
        memcpy(prev, hash, sizeof prev);
        expect = id + 1;
    }
    if (rc != BO_DB_ROW && rc != BO_DB_DONE) {
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
        bo_stmt_finalize(stmt);
        return BO_EDB;
    }
    bo_stmt_finalize(stmt);
    memcpy(last, prev, 65);
    return 0;
}

/* ---- reading the log ---- */

bool bo_platformdb_audit_date_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 10 || n > 24 || s[4] != '-' || s[7] != '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789-:T.Z", s[i]))
            return false;
    return true;
}

/* (portable SQL: the day after an --until date is worked out here) */
#define AUDIT_WHERE                                                                                         \
    "(CAST(?1 AS TEXT) IS NULL OR instr(lower(who), lower(?1)) > 0) AND "                                    \
    "(CAST(?2 AS TEXT) IS NULL OR app = ?2) AND (CAST(?3 AS TEXT) IS NULL OR action = ?3) AND "              \
    "(CAST(?4 AS TEXT) IS NULL OR at >= ?4) AND (CAST(?5 AS TEXT) IS NULL OR at < ?5)"

static void bind_filter(bo_stmt *stmt, const bo_audit_filter *f)
{
    const char *v[] = { f->who, f->app, f->action, f->since, f->until };
    char next_day[16];
    struct tm tm = { 0 };
    /* --until 2026-11-26 takes in the whole of that day */
    if (v[4] && strlen(v[4]) == 10 && sscanf(v[4], "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) == 3) {
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        tm.tm_mday += 1;
        time_t t = timegm(&tm);
        struct tm day;
        if (gmtime_r(&t, &day) && strftime(next_day, sizeof next_day, "%Y-%m-%d", &day) == 10)
            v[4] = next_day;
    }
    for (int i = 0; i < 5; i++)
        bo_stmt_bind_text_copy(stmt, i + 1, v[i] && *v[i] ? v[i] : NULL, -1);
}

int bo_platformdb_audit_list(bo_db *db, const bo_audit_filter *f, unsigned offset, unsigned limit,
                             bo_audit_fn fn, void *ud, unsigned *total, char *err, size_t errlen)
{
    static const char list_sql[] = "SELECT id, at, who, action, app, detail FROM platform_audit WHERE " AUDIT_WHERE
                                   " ORDER BY id DESC LIMIT ?6 OFFSET ?7";
    static const char count_sql[] = "SELECT count(*) FROM platform_audit WHERE " AUDIT_WHERE;
    static const bo_audit_filter none = { 0 };
    if (!f)
        f = &none;
    if (total) {
        bo_stmt *stmt = bo_db_prepare(db, count_sql, sizeof count_sql - 1, err, errlen);
        if (!stmt)
            return BO_EDB;
        bind_filter(stmt, f);
        *total = bo_stmt_step(stmt) == BO_DB_ROW ? (unsigned)bo_stmt_column_int64(stmt, 0) : 0;
        bo_stmt_reset(stmt);
        bo_stmt_clear(stmt);
    }
    bo_stmt *stmt = bo_db_prepare(db, list_sql, sizeof list_sql - 1, err, errlen);
    if (!stmt)
        return BO_EDB;
    bind_filter(stmt, f);
    bo_stmt_bind_int64(stmt, 6, limit);
    bo_stmt_bind_int64(stmt, 7, offset);
    int rc, stop = 0;
    while (!stop && (rc = bo_stmt_step(stmt)) == BO_DB_ROW) {
        bo_audit_row row = {
            bo_stmt_column_int64(stmt, 0), bo_stmt_column_text(stmt, 1),
            bo_stmt_column_text(stmt, 2), bo_stmt_column_text(stmt, 3),
            bo_stmt_column_text(stmt, 4), bo_stmt_column_text(stmt, 5),
        };
        stop = fn(ud, &row);
    }
    if (!stop && rc != BO_DB_DONE) {
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
        stop = BO_EDB;
    }
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return stop;
}

int bo_platformdb_audit_names(bo_db *db, bool apps, int (*fn)(void *ud, const char *name), void *ud, char *err,
                              size_t errlen)
{
    static const char actions_sql[] = "SELECT DISTINCT action FROM platform_audit ORDER BY action";
    static const char apps_sql[] = "SELECT DISTINCT app FROM platform_audit WHERE app IS NOT NULL ORDER BY app";
    const char *sql = apps ? apps_sql : actions_sql;
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, errlen);
    if (!stmt)
        return BO_EDB;
    int rc, stop = 0;
    while (!stop && (rc = bo_stmt_step(stmt)) == BO_DB_ROW)
        stop = fn(ud, bo_stmt_column_text(stmt, 0));
    if (!stop && rc != BO_DB_DONE) {
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
        stop = BO_EDB;
    }
    bo_stmt_reset(stmt);
    return stop;
}
