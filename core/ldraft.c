/*
 * ldraft.c - drafts of multi-page forms, kept server-side so that a form in
 * progress survives a reload of the page and a restart of the server
 * (lua/borough/form.lua is the only caller).
 *
 * _borough_drafts (made with the first draft) holds one row per browser
 * (the random id in its cookie) and flow: the answers as JSON and when the
 * draft expires. A draft of a flow whose entity has encrypted fields is
 * sealed whole (AES-256-GCM under the data folder's keys, associated data
 * "<app>/_borough_drafts/<flow>"), so app.db never holds those answers in
 * plain text; one that no longer opens is no draft. Every statement runs in the caller's transaction if one is
 * open, so a submitted form's record and the deletion of its draft commit
 * together. Expired drafts are deleted as new ones are saved.
 */
#include "ldraft.h"
#include "app.h"
#include "crypto.h"
#include "db.h"
#include "lapi.h"
#include "log.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char private_key = 0;    /* the private table, until taken */

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS _borough_drafts (\n"
    "  id TEXT NOT NULL,\n"
    "  flow TEXT NOT NULL,\n"
    "  data TEXT NOT NULL,\n"
    "  expires_at INTEGER NOT NULL,\n"
    "  updated_at TEXT NOT NULL,\n"
    "  PRIMARY KEY (id, flow)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX IF NOT EXISTS _borough_drafts_expiry ON _borough_drafts (expires_at);\n";

/* Runs one statement with the platform's rights, binding the texts and
   integers given (a NULL text binds an integer from ints); makes the table
   first if it is missing. For a SELECT, pushes the first column of the first
   row (or nil) and returns 1; otherwise returns 0. Raises on failure. */
static int run(lua_State *L, const char *sql, int ntext, const char **text, const size_t *len,
               int nint, const int64_t *ints, bool select)
{
    bo_db *db = bo_ldb_get(L);
    char err[256] = "";
    bool was = bo_db_set_platform(db, true);
    /* (SQLite's prepare fails on a missing table; PostgreSQL's only when
       the statement runs, too late inside a transaction: it is asked) */
    bo_stmt *stmt = bo_db_dialect() == BO_POSTGRES && !bo_db_has_table(db, "_borough_drafts")
                        ? NULL
                        : bo_db_prepare(db, sql, strlen(sql), err, sizeof err);
    if (!stmt && bo_db_exec_script(db, schema, err, sizeof err) == 0)
        stmt = bo_db_prepare(db, sql, strlen(sql), err, sizeof err);
    int rc = BO_EDB, pushed = 0;
    if (stmt) {
        for (int i = 0; i < ntext; i++)
            bo_stmt_bind_text(stmt, i + 1, text[i], len[i]);
        for (int i = 0; i < nint; i++)
            bo_stmt_bind_int64(stmt, ntext + i + 1, ints[i]);
        rc = bo_stmt_step(stmt);
        if (select && rc == BO_DB_ROW) {
            lua_pushlstring(L, (const char *)bo_stmt_column_text(stmt, 0), (size_t)bo_stmt_column_bytes(stmt, 0));
            pushed = 1;
            rc = BO_DB_DONE;
        }
        if (rc != BO_DB_DONE)
            snprintf(err, sizeof err, "%s", bo_db_errmsg(db));
        bo_stmt_reset(stmt);
        bo_stmt_clear(stmt);
    }
    bo_db_set_platform(db, was);
    if (rc != BO_DB_DONE) {
        if (pushed)
            lua_pop(L, 1);
        return luaL_error(L, "drafts: %s", err);
    }
    if (select && !pushed) {
        lua_pushnil(L);
        pushed = 1;
    }
    return select ? pushed : 0;
}

/* The keys of this app's data folder, and in aad where a draft of flow
   belongs; raises if there are no keys. */
static const bo_keyring *draft_keys(lua_State *L, const char *flow, char *aad, size_t cap)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_gen *g = sb ? sb->owner : NULL;
    if (!g)
        luaL_error(L, "drafts: only for apps");
    char err[512];
    const bo_keyring *k = bo_keyring_shared(g->paths->data_dir, err, sizeof err);
    if (!k)
        luaL_error(L, "drafts: %s", err);
    snprintf(aad, cap, "%s/_borough_drafts/%s", g->info->name, flow);
    return k;
}

/* save(id, flow, json, seconds [, seal]): keeps the draft (sealed if seal)
   for that many seconds more, and deletes drafts that have expired. */
static int p_save(lua_State *L)
{
    const char *text[4];
    size_t len[4];
    for (int i = 0; i < 3; i++)
        text[i] = luaL_checklstring(L, i + 1, &len[i]);
    lua_Integer ttl = luaL_checkinteger(L, 4);
    if (lua_toboolean(L, 5)) {
        char aad[256];
        const bo_keyring *k = draft_keys(L, text[1], aad, sizeof aad);
        char *sealed = bo_seal(k, aad, text[2], len[2]);
        lua_pushstring(L, sealed);       /* kept on the stack while it is bound */
        free(sealed);
        text[2] = lua_tolstring(L, -1, &len[2]);
    }
    int64_t now = bo_unix_ms() / 1000;
    char at[32];
    bo_iso_time(now * 1000, at, sizeof at);
    text[3] = at;
    len[3] = strlen(at);
    int64_t ints[1] = { now + ttl };
    run(L, "INSERT INTO _borough_drafts (id, flow, data, updated_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5) "
           "ON CONFLICT (id, flow) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at, "
           "expires_at = excluded.expires_at", 4, text, len, 1, ints, false);
    int64_t cut[1] = { now };
    run(L, "DELETE FROM _borough_drafts WHERE expires_at < ?1", 0, NULL, NULL, 1, cut, false);
    return 0;
}

/* load(id, flow) -> json | nil (none, expired, or sealed and no longer
   opening). */
static int p_load(lua_State *L)
{
    const char *text[2];
    size_t len[2];
    for (int i = 0; i < 2; i++)
        text[i] = luaL_checklstring(L, i + 1, &len[i]);
    int64_t now[1] = { bo_unix_ms() / 1000 };
    run(L, "SELECT data FROM _borough_drafts WHERE id = ?1 AND flow = ?2 AND expires_at >= ?3",
        2, text, len, 1, now, true);
    size_t n;
    const char *data = lua_tolstring(L, -1, &n);
    if (!data || n < 4 || memcmp(data, "bo1.", 4) != 0)
        return 1;
    char aad[256], err[256];
    const bo_keyring *k = draft_keys(L, text[1], aad, sizeof aad);
    bo_buf out;
    bo_buf_init(&out);
    if (bo_unseal(k, aad, data, n, &out, err, sizeof err) < 0) {
        bo_log(BO_LOG_WARN, NULL, "a draft of %s does not open (%s): it starts again", aad, err);
        lua_pushnil(L);
    } else {
        lua_pushlstring(L, out.data ? out.data : "", out.len);
    }
    if (out.data)
        memset(out.data, 0, out.len);
    bo_buf_free(&out);
    return 1;
}

/* delete(id, flow) */
static int p_delete(lua_State *L)
{
    const char *text[2];
    size_t len[2];
    for (int i = 0; i < 2; i++)
        text[i] = luaL_checklstring(L, i + 1, &len[i]);
    run(L, "DELETE FROM _borough_drafts WHERE id = ?1 AND flow = ?2", 2, text, len, 0, NULL, false);
    return 0;
}

/* random(n) -> n random bytes (1 to 64) as 2n hex digits, from the
   system's random source: draft ids and reference numbers. */
static int p_random(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1 && n <= 64, 1, "from 1 to 64 bytes");
    unsigned char raw[64];
    if (bo_random(raw, (size_t)n) < 0)
        return luaL_error(L, "drafts: no randomness");
    char hex[129];
    for (lua_Integer i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    lua_pushlstring(L, hex, (size_t)(2 * n));
    return 1;
}

/* borough._drafts(): the private table, once; nil after that. */
static int l_take(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &private_key);
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &private_key);
    return 1;
}

int bo_ldraft_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "save", p_save },
        { "load", p_load },
        { "delete", p_delete },
        { "random", p_random },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &private_key);
    lua_pushcfunction(L, l_take);
    return 1;
}
