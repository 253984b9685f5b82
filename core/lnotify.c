/*
 * lnotify.c - borough._notify, the C half of lua/borough/notify.lua: the
 * outbox writes an app's code cannot make itself (the table is the
 * platform's; recipient and body sealed, see notify.h), opening messages
 * for the outbox page, the callback token check, and what the outbox page
 * shows about the settings. The sender that empties the outbox is notify.c.
 */
#include "lnotify.h"
#include "app.h"
#include "crypto.h"
#include "lapi.h"
#include "lentity.h"
#include "outbox.h"
#include "task.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static bo_gen *gen_of(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    if (!sb || !sb->owner)
        luaL_error(L, "notify is only available to apps");
    return sb->owner;
}

/* reference(): a reference no other message of the app has: the app's
   name and 16 random hex digits (no personal data, as Notify asks). */
static int p_reference(lua_State *L)
{
    bo_gen *g = gen_of(L);
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return luaL_error(L, "notify: no randomness for a reference");
    char hex[17];
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    lua_pushfstring(L, "%s-%s", g->info->name, hex);
    return 1;
}

/* Inserts one queued message; BO_DB_DONE, or the failing code. */
static int insert(bo_db *db, const char **v, const size_t *len, int64_t now, int *changes)
{
    static const char sql[] =
        "INSERT INTO _borough_outbox (kind, recipient, template_id, body, reference, state, next_at, created_at, "
        "created_ms) VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7, ?6) ON CONFLICT (reference) DO NOTHING";
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt)
        return BO_EDB;
    char at[32];
    bo_iso_time(now, at, sizeof at);
    for (int i = 0; i < 5; i++)
        bo_stmt_bind_text(stmt, i + 1, v[i], len[i]);
    bo_stmt_bind_int64(stmt, 6, now);
    bo_stmt_bind_text(stmt, 7, at, -1);
    int rc = bo_stmt_step(stmt);
    *changes = rc == BO_DB_DONE ? bo_db_changes(db) : 0;
    bo_stmt_reset(stmt);
    return rc;
}

/* add(kind, recipient, template_id, body_json, reference) -> id | nil, why:
   a queued message, in the caller's transaction if one is open (else in
   its own), its recipient and body sealed (notify.h). The outbox is made
   with the first message. */
static int p_add(lua_State *L)
{
    const char *v[5];
    size_t len[5];
    for (int i = 0; i < 5; i++)
        v[i] = luaL_checklstring(L, i + 1, &len[i]);
    bo_sandbox *sb = bo_sandbox_of(L);
    if (!bo_task_of(L))
        return luaL_error(L, "notify: messages can only be sent while a request or a job runs");
    bo_gen *g = gen_of(L);
    bo_db *db = bo_ldb_get(L);
    char err[512] = "";
    const bo_keyring *keys = bo_keyring_shared(g->paths->data_dir, err, sizeof err);
    if (!keys)
        return luaL_error(L, "notify: the message cannot be sealed: %s", err);
    /* No Lua call from here until both are freed. */
    char aad[300];
    bo_notify_aad(aad, sizeof aad, g->info->name, "recipient");
    char *recipient = bo_seal(keys, aad, v[1], len[1]);
    bo_notify_aad(aad, sizeof aad, g->info->name, "body");
    char *body = bo_seal(keys, aad, v[3], len[3]);
    v[1] = recipient;
    len[1] = strlen(recipient);
    v[3] = body;
    len[3] = strlen(body);
    int64_t now = bo_unix_ms();
    bool was = bo_db_set_platform(db, true);
    int changes = 0, rc = BO_EDB;
    bool open = bo_db_begin(db, err, sizeof err) == 0;
    if (open) {
        rc = insert(db, v, len, now, &changes);
        if (rc != BO_DB_DONE) {
            /* No outbox yet (or the transaction that made it rolled back).
               The failed insert is undone first: PostgreSQL refuses every
               statement after a failure until then. */
            bo_db_rollback(db);
            bool paused = bo_db_pause_progress(db, true);
            open = bo_db_begin(db, err, sizeof err) == 0;
            if (open && bo_db_exec_script(db, bo_notify_outbox_schema, err, sizeof err) == 0)
                rc = insert(db, v, len, now, &changes);
            bo_db_pause_progress(db, paused);
        }
        if (rc != BO_DB_DONE && !err[0])
            snprintf(err, sizeof err, "%s", bo_db_errmsg(db));
        if (open && rc == BO_DB_DONE && bo_db_commit(db, err, sizeof err) < 0)
            rc = BO_EDB;
        if (open && rc != BO_DB_DONE)
            bo_db_rollback(db);
    }
    bo_db_set_platform(db, was);
    free(recipient);
    free(body);
    if (rc != BO_DB_DONE) {
        if (sb->budget->spent)
            return luaL_error(L, "%s", sb->budget->spent);
        return luaL_error(L, "notify: the message could not be kept: %s", err);
    }
    if (changes == 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "a message with the reference %s is already in the outbox", v[4]);
        return 2;
    }
    lua_pushinteger(L, bo_db_last_insert_id(db));
    return 1;
}

/* open(rows): opens the sealed recipient and body of each outbox row in
   place (rows of the outbox page, which shows them to staff with the role
   admin) and records the reading in the platform audit log, as a read of
   encrypted fields is. A purged value ('') stays as it is; one that does
   not open reads "(cannot be opened: why)". */
static int p_open(lua_State *L)
{
    static const char *const columns[] = { "recipient", "body" };
    luaL_checktype(L, 1, LUA_TTABLE);
    bo_gen *g = gen_of(L);
    char err[512], aad[2][300];
    const bo_keyring *keys = bo_keyring_shared(g->paths->data_dir, err, sizeof err);
    if (!keys)
        return luaL_error(L, "notify: the outbox cannot be opened: %s", err);
    for (int c = 0; c < 2; c++)
        bo_notify_aad(aad[c], sizeof aad[c], g->info->name, columns[c]);
    size_t n = (size_t)luaL_len(L, 1), nids = 0;
    lua_Integer *ids = lua_newuserdatauv(L, (n ? n : 1) * sizeof *ids, 0);
    bo_buf *plain = bo_lentity_push_plain(L);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i + 1);                    /* the row */
        bool opened = false;
        for (int c = 0; c < 2; c++) {
            size_t len;
            lua_getfield(L, -1, columns[c]);
            const char *sealed = lua_tolstring(L, -1, &len);
            lua_pop(L, 1);                                        /* the row keeps the string */
            if (!sealed || len == 0)
                continue;
            plain->len = 0;
            if (bo_unseal(keys, aad[c], sealed, len, plain, err, sizeof err) == 0) {
                lua_pushlstring(L, plain->data ? plain->data : "", plain->len);
                opened = true;
            } else {
                lua_pushfstring(L, "(cannot be opened: %s)", err);
            }
            if (plain->data)
                memset(plain->data, 0, plain->len);
            lua_setfield(L, -2, columns[c]);
        }
        if (opened) {
            lua_getfield(L, -1, "id");
            ids[nids++] = lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    bo_lentity_log_reads(L, "_borough_outbox (recipient, body)", ids, nids);
    return 0;
}

/* callback_ok(authorization) -> true if it is "Bearer <callback_token>". */
static int p_callback_ok(lua_State *L)
{
    size_t n;
    const char *auth = luaL_optlstring(L, 1, "", &n);
    bo_gen *g = gen_of(L);
    bo_notify_conf *conf = bo_notify_conf_get(g->paths->data_dir);
    const bo_notify_app_conf *ac = bo_notify_conf_app(conf, g->info->name);
    bool ok = false;
    if (ac->callback_token && n > 7 && strncmp(auth, "Bearer ", 7) == 0) {
        const char *t = ac->callback_token;
        size_t tlen = strlen(t);
        unsigned diff = (unsigned)(n - 7 != tlen);
        for (size_t i = 0; i < n - 7; i++)          /* time independent of where they differ */
            diff |= (unsigned char)auth[7 + i] ^ (unsigned char)t[i < tlen ? i : 0];
        ok = diff == 0;
    }
    bo_notify_conf_unref(conf);
    lua_pushboolean(L, ok);
    return 1;
}

/* record_status(notify_id, reference|nil, status, at|nil) -> rows changed:
   what a callback says of a message. A final status is never replaced, and
   a message the sender had not yet seen accepted is marked sent, so it is
   not posted again. */
static int p_record_status(lua_State *L)
{
    const char *id = luaL_checkstring(L, 1);
    const char *ref = luaL_optstring(L, 2, NULL);
    const char *status = luaL_checkstring(L, 3);
    const char *at = luaL_optstring(L, 4, NULL);
    static const char sql[] =
        "UPDATE _borough_outbox SET status = ?3, status_at = coalesce(?4, status_at), "
        "notify_id = coalesce(notify_id, ?1), poll_at = NULL, sent_at = coalesce(sent_at, ?4), "
        "claimed_by = CASE WHEN state IN ('queued', 'sending') THEN NULL ELSE claimed_by END, "
        "state = CASE WHEN state IN ('queued', 'sending') THEN 'sent' ELSE state END "
        "WHERE (notify_id = ?1 OR (notify_id IS NULL AND reference = ?2)) "
        "AND (status IS NULL OR status NOT IN ('delivered', 'permanent-failure', 'temporary-failure', "
        "'technical-failure', 'received', 'cancelled', 'validation-failed', 'virus-scan-failed', 'returned-letter'))";
    bo_db *db = bo_ldb_get(L);
    char err[256];
    bool was = bo_db_set_platform(db, true);
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    int rc = BO_EDB, changes = 0;
    if (stmt) {
        bo_stmt_bind_text(stmt, 1, id, -1);
        if (ref)
            bo_stmt_bind_text(stmt, 2, ref, -1);
        bo_stmt_bind_text(stmt, 3, status, -1);
        if (at)
            bo_stmt_bind_text(stmt, 4, at, -1);
        rc = bo_stmt_step(stmt);
        changes = rc == BO_DB_DONE ? bo_db_changes(db) : 0;
        bo_stmt_reset(stmt);
    }
    bo_db_set_platform(db, was);
    lua_pushinteger(L, changes);   /* no outbox yet: nothing of ours */
    return 1;
}

/* settings() -> { api_key = bool, callbacks = bool, polling = bool, error = string|nil }:
   what the outbox page tells staff (never the key itself). */
static int p_settings(lua_State *L)
{
    bo_gen *g = gen_of(L);
    bo_notify_conf *conf = bo_notify_conf_get(g->paths->data_dir);
    const bo_notify_app_conf *ac = bo_notify_conf_app(conf, g->info->name);
    bool key = ac->api_key != NULL && !conf->error, callbacks = ac->callback_token != NULL;
    bool polling = key && !callbacks && ac->poll_s > 0;
    char error[512];
    snprintf(error, sizeof error, "%s", conf->error ? conf->error : "");
    bo_notify_conf_unref(conf);
    lua_createtable(L, 0, 4);
    lua_pushboolean(L, key);
    lua_setfield(L, -2, "api_key");
    lua_pushboolean(L, callbacks);
    lua_setfield(L, -2, "callbacks");
    lua_pushboolean(L, polling);
    lua_setfield(L, -2, "polling");
    if (error[0]) {
        lua_pushstring(L, error);
        lua_setfield(L, -2, "error");
    }
    return 1;
}

int bo_lnotify_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "reference", p_reference },
        { "add", p_add },
        { "open", p_open },
        { "callback_ok", p_callback_ok },
        { "record_status", p_record_status },
        { "settings", p_settings },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
    return 1;
}
