/*
 * lentity.c - the entity layer's private functions and the schema step of
 * an app load (see lentity.h).
 *
 * The platform's tables in an app database (all named _borough_*, which
 * the authorizer keeps app SQL from writing):
 *   _borough_audit       one row per write made through an entity
 *   _borough_entities    the declared entities, in import order
 *   _borough_fields      their fields (type, label, ...), read by export
 *   _borough_meta        the fingerprint of the schema last applied
 *   _borough_migrations  the migration files applied (migrate.c)
 */
#include "lentity.h"
#include "app.h"
#include "crypto.h"
#include "db.h"
#include "json.h"
#include "lapi.h"
#include "lcsv.h"
#include "lfields.h"
#include "log.h"
#include "migrate.h"
#include "platformdb.h"
#include "task.h"
#include "session.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>


/* Registry keys (their addresses). */
static const char platform_key = 0;     /* the private table, until taken */
static const char fingerprint_key = 0;  /* entity.lua's fingerprint() */
static const char sync_key = 0;         /* entity.lua's sync(fresh, migrated) */
static const char entities_key = 0;     /* entity.lua's registry: name -> entity */
static const char who_key = 0;          /* bo_lentity_set_actor */
static const char via_key = 0;
static const char loading_key = 0;      /* true while the schema step runs */
static const char scratch_key = 0;      /* two buffers for audit JSON */

static const char platform_tables[] =
    "CREATE TABLE IF NOT EXISTS _borough_audit (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  at TEXT NOT NULL,\n"
    "  who TEXT NOT NULL,\n"
    "  via TEXT,\n"
    "  entity TEXT NOT NULL,\n"
    "  record_id INTEGER NOT NULL,\n"
    "  action TEXT NOT NULL,\n"
    "  before TEXT,\n"
    "  after TEXT\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS _borough_audit_record ON _borough_audit (entity, record_id);\n"
    "CREATE TABLE IF NOT EXISTS _borough_entities (\n"
    "  name TEXT PRIMARY KEY,\n"
    "  position INTEGER NOT NULL,\n"
    "  label TEXT NOT NULL,\n"
    "  search TEXT,\n"
    "  declared INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS _borough_fields (\n"
    "  entity TEXT NOT NULL,\n"
    "  position INTEGER NOT NULL,\n"
    "  name TEXT NOT NULL,\n"
    "  type TEXT NOT NULL,\n"
    "  label TEXT NOT NULL,\n"
    "  required INTEGER NOT NULL,\n"
    "  is_unique INTEGER NOT NULL,\n"
    "  reference TEXT,\n"
    "  options TEXT,\n"
    "  PRIMARY KEY (entity, name)\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS _borough_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n";

typedef struct audit_scratch {
    bo_buf before;
    bo_buf after;
} audit_scratch;

static int scratch_gc(lua_State *L)
{
    audit_scratch *s = lua_touserdata(L, 1);
    bo_buf_free(&s->before);
    bo_buf_free(&s->after);
    return 0;
}

static audit_scratch *scratch(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &scratch_key);
    audit_scratch *s = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return s;
}

static bool loading(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &loading_key);
    bool on = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return on;
}

/* Work done in C during a load is not the app's: its time is given back
   to the load's wall-clock budget. */
static void give_back_time(lua_State *L, uint64_t since_ns)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    if (sb && sb->budget->deadline_ns)
        sb->budget->deadline_ns += uv_hrtime() - since_ns;
}

/* ---- the private functions ---- */

/* Binds the values at first..last (checked by check_values) to the
   statement's parameters from param on; allocates nothing in Lua, so
   cannot raise. */
static int bind_values(lua_State *L, int first, int last, bo_stmt *stmt, int param)
{
    int rc = BO_OK;
    for (int i = first; rc == BO_OK && i <= last; i++, param++) {
        switch (lua_type(L, i)) {
        case LUA_TSTRING: {
            size_t slen;
            const char *s = lua_tolstring(L, i, &slen);
            rc = bo_stmt_bind_text_copy(stmt, param, s, slen);
            break;
        }
        case LUA_TNUMBER:
            rc = bo_stmt_bind_int64(stmt, param, lua_tointeger(L, i));
            break;
        case LUA_TBOOLEAN:
            rc = bo_stmt_bind_int64(stmt, param, lua_toboolean(L, i));
            break;
        default:
            rc = bo_stmt_bind_null(stmt, param);
            break;
        }
    }
    return rc;
}

/* Raises unless every argument from first on is a string, integer,
   boolean or nil. */
static void check_values(lua_State *L, int first)
{
    for (int i = first; i <= lua_gettop(L); i++) {
        int t = lua_type(L, i);
        if (!(t == LUA_TSTRING || t == LUA_TNIL || t == LUA_TBOOLEAN || (t == LUA_TNUMBER && lua_isinteger(L, i))))
            luaL_argerror(L, i, "a string, integer, boolean or nil");
    }
}

/* exec(sql, ...): one schema statement with the platform's rights, during
   the schema step only. Values: strings, integers, booleans, nil. */
static int p_exec(lua_State *L)
{
    size_t len;
    const char *sql = luaL_checklstring(L, 1, &len);
    if (!loading(L))
        return luaL_error(L, "the platform's schema functions run only while an app loads");
    check_values(L, 2);
    bo_db *db = bo_ldb_get(L);
    uint64_t start = uv_hrtime();
    bool was = bo_db_set_platform(db, true);
    bool paused = bo_db_pause_progress(db, true);
    /* Nothing below can raise until the statement is finalized: the values
       were checked above and reading them allocates nothing. */
    bo_stmt *stmt = NULL;
    int rc = bo_stmt_prepare(db, sql, (int)len, &stmt);
    if (rc == BO_OK)
        rc = bind_values(L, 2, lua_gettop(L), stmt, 1);
    if (rc == BO_OK) {
        while ((rc = bo_stmt_step(stmt)) == BO_DB_ROW)
            ;
        if (rc == BO_DB_DONE)
            rc = BO_OK;
    }
    char err[512];
    if (rc != BO_OK)
        snprintf(err, sizeof err, "%s", bo_db_errmsg(db));
    bo_stmt_finalize(stmt);
    bo_db_pause_progress(db, paused);
    bo_db_set_platform(db, was);
    give_back_time(L, start);
    if (rc != BO_OK)
        return luaL_error(L, "%s", err);
    return 0;
}

/* Who is writing now, and through what (see lentity.h). */
static void push_actor(lua_State *L)
{
    bo_task *t = bo_task_of(L);
    if (t) {
        lua_pushstring(L, t->who ? t->who : "public");
        lua_pushstring(L, t->via ? t->via : t->id);
        return;
    }
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &who_key) != LUA_TSTRING) {
        lua_pop(L, 1);
        lua_pushliteral(L, "system");
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &via_key);
}

/* Writes the time now, in UTC with milliseconds ("2024-04-01T09:30:00.123Z"),
   into out (at least 25 bytes). The date and time of day are worked out
   once a second. */
static void utc_now(char *out)
{
    static _Thread_local time_t second = -1;
    static _Thread_local char prefix[24];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != second) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(prefix, sizeof prefix, "%Y-%m-%dT%H:%M:%S", &tm);
        second = ts.tv_sec;
    }
    unsigned ms = (unsigned)(ts.tv_nsec / 1000000);
    memcpy(out, prefix, 19);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

/* Encodes the table (or nil) at idx into b; returns the bytes or NULL. */
static const char *encode_fields(lua_State *L, int idx, bo_buf *b, size_t *len)
{
    b->len = 0;
    if (lua_isnil(L, idx))
        return NULL;
    luaL_checktype(L, idx, LUA_TTABLE);
    char err[160];
    if (bo_json_encode(L, idx, b, err, sizeof err) < 0)
        luaL_error(L, "the audit trail cannot record these fields: %s", err);
    *len = b->len;
    return b->data ? b->data : "";
}

/* Runs the audit statement bound so far (rc: how the binding went, or
   an error with err already set when stmt is NULL), puts the platform
   flag back to was, and raises if the row could not be written. */
static int write_audit(lua_State *L, bo_db *db, bo_stmt *stmt, int rc, bool was, char err[512])
{
    if (stmt) {
        if (rc == BO_OK)
            rc = bo_stmt_step(stmt);
        if (rc != BO_DB_DONE)
            snprintf(err, 512, "%s", bo_db_errmsg(db));
        bo_stmt_clear(stmt);
        bo_stmt_reset(stmt);
    }
    bo_db_set_platform(db, was);
    if (rc != BO_DB_DONE)
        return luaL_error(L, "the audit trail could not be written: %s", err);
    return 0;
}

/* audit(entity, record_id, action, before, after): one row of the audit
   trail, in the caller's transaction. before and after are tables of
   fields (json.null for a field that had or has no value) or nil. */
static int p_audit(lua_State *L)
{
    const char *entity = luaL_checkstring(L, 1);
    lua_Integer id = luaL_checkinteger(L, 2);
    const char *action = luaL_checkstring(L, 3);
    lua_settop(L, 5);
    audit_scratch *s = scratch(L);
    size_t blen = 0, alen = 0;
    const char *before = encode_fields(L, 4, &s->before, &blen);
    const char *after = encode_fields(L, 5, &s->after, &alen);
    push_actor(L);
    const char *who = lua_tostring(L, -2), *via = lua_tostring(L, -1);

    bo_db *db = bo_ldb_get(L);
    static const char sql[] =
        "INSERT INTO _borough_audit (at, who, via, entity, record_id, action, before, after) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    char at[32];
    utc_now(at);
    char err[512];
    bool was = bo_db_set_platform(db, true);
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    int rc = BO_EDB;
    if (stmt) {
        bo_stmt_bind_text_copy(stmt, 1, at, -1);
        bo_stmt_bind_text_copy(stmt, 2, who, -1);
        if (via)
            bo_stmt_bind_text_copy(stmt, 3, via, -1);
        bo_stmt_bind_text_copy(stmt, 4, entity, -1);
        bo_stmt_bind_int64(stmt, 5, id);
        bo_stmt_bind_text_copy(stmt, 6, action, -1);
        if (before)
            bo_stmt_bind_text_copy(stmt, 7, before, blen);
        if (after)
            bo_stmt_bind_text_copy(stmt, 8, after, alen);
        rc = BO_OK;
    }
    return write_audit(L, db, stmt, rc, was, err);
}

/* audit_rows(entity, action, select, ...): the audit rows of many records
   in one statement, in the caller's transaction: select (with the values
   after it for its parameters) gives each record's id and its fields
   after the action as JSON text (an import's records, from the stored
   rows: no round trip through Lua per record). Who, via and when are as
   audit() writes them, when the same for every row. */
static int p_audit_rows(lua_State *L)
{
    const char *entity = luaL_checkstring(L, 1);
    const char *action = luaL_checkstring(L, 2);
    const char *select = luaL_checkstring(L, 3);
    check_values(L, 4);
    int nvalues = lua_gettop(L);
    const char *sql = lua_pushfstring(L,
        "INSERT INTO _borough_audit (at, who, via, entity, record_id, action, after) "
        "SELECT ?1, ?2, ?3, ?4, s.id, ?5, s.after FROM (%s) AS s ORDER BY s.id", select);
    push_actor(L);
    const char *who = lua_tostring(L, -2), *via = lua_tostring(L, -1);
    /* (the text, who and via stay anchored on the stack until the end) */
    bo_db *db = bo_ldb_get(L);
    char at[32], err[512];
    utc_now(at);
    bool was = bo_db_set_platform(db, true);
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, sizeof err);
    int rc = BO_EDB;
    if (stmt) {
        bo_stmt_bind_text_copy(stmt, 1, at, -1);
        bo_stmt_bind_text(stmt, 2, who, -1);
        bo_stmt_bind_text(stmt, 3, via, -1);
        bo_stmt_bind_text(stmt, 4, entity, -1);
        bo_stmt_bind_text(stmt, 5, action, -1);
        rc = bind_values(L, 4, nvalues, stmt, 6);
    }
    return write_audit(L, db, stmt, rc, was, err);
}

/* ---- encrypted fields (see docs/security.md, "Data protection") ---- */

static bo_gen *gen_here(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    if (!sb || !sb->owner)
        luaL_error(L, "encrypted fields are only available to apps");
    return sb->owner;
}

static const bo_keyring *keys_here(lua_State *L, bo_gen *g)
{
    char err[512];
    const bo_keyring *k = bo_keyring_shared(g->paths->data_dir, err, sizeof err);
    if (!k)
        luaL_error(L, "encrypted fields: %s", err);
    return k;
}

/* "<app>/<entity>/<field>": where a sealed value belongs (its associated
   data) and the context of its blind index. */
static const char *place(lua_State *L, bo_gen *g)
{
    const char *entity = luaL_checkstring(L, 1), *field = luaL_checkstring(L, 2);
    return lua_pushfstring(L, "%s/%s/%s", g->info->name, entity, field);
}

/* A buffer holding opened text: wiped, then freed. */
static int plain_gc(lua_State *L)
{
    bo_buf *b = lua_touserdata(L, 1);
    if (b->data)
        memset(b->data, 0, b->len);
    bo_buf_free(b);
    return 0;
}

bo_buf *bo_lentity_push_plain(lua_State *L)
{
    bo_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
    bo_buf_init(b);
    if (luaL_newmetatable(L, "borough.plain")) {
        lua_pushcfunction(L, plain_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

/* seal(entity, field, text) -> the sealed value */
static int p_seal(lua_State *L)
{
    bo_gen *g = gen_here(L);
    size_t n;
    const char *plain = luaL_checklstring(L, 3, &n);
    const char *aad = place(L, g);
    const bo_keyring *k = keys_here(L, g);
    bo_buf *b = bo_lentity_push_plain(L);
    b->data = bo_seal(k, aad, plain, n);
    b->len = b->cap = strlen(b->data);
    lua_pushlstring(L, b->data, b->len);
    return 1;
}

/* unseal(entity, field, sealed) -> text | nil, why */
static int p_unseal(lua_State *L)
{
    bo_gen *g = gen_here(L);
    size_t n;
    const char *sealed = luaL_checklstring(L, 3, &n);
    const char *aad = place(L, g);
    const bo_keyring *k = keys_here(L, g);
    bo_buf *out = bo_lentity_push_plain(L);
    char err[256];
    if (bo_unseal(k, aad, sealed, n, out, err, sizeof err) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushlstring(L, out->data ? out->data : "", out->len);
    return 1;
}

/* blind(entity, field, text) -> the blind index of text there */
static int p_blind(lua_State *L)
{
    bo_gen *g = gen_here(L);
    size_t n;
    const char *plain = luaL_checklstring(L, 3, &n);
    const char *context = place(L, g);
    char out[BO_BLIND_INDEX_CHARS + 1];
    bo_blind_index(keys_here(L, g), context, plain, n, out);
    lua_pushstring(L, out);
    return 1;
}

/* key_id() -> the id of the current key (the one blind indexes use) */
static int p_key_id(lua_State *L)
{
    lua_pushinteger(L, bo_keyring_current(keys_here(L, gen_here(L))));
    return 1;
}

/* Raises unless the app database's blind indexes were made with the
   current key (they are recorded in _borough_meta as 'blind_key' when the
   first lookup field is made, and by `borough keys rotate`). */
static void check_blind_key(lua_State *L, bo_gen *g, bo_db *db)
{
    static const char sql[] = "SELECT value FROM _borough_meta WHERE key = 'blind_key'";
    bo_stmt *stmt = NULL;
    int made_with = 0;
    if (bo_stmt_prepare(db, sql, -1, &stmt) == BO_OK && bo_stmt_step(stmt) == BO_DB_ROW)
        made_with = bo_stmt_column_int64(stmt, 0);
    bo_stmt_finalize(stmt);
    if (made_with == 0)
        return;
    int current = bo_keyring_current(keys_here(L, g));
    if (made_with != current)
        luaL_error(L, "%s: the blind indexes of %s were made with key %d but the current key is %d: stop the server "
                      "and run `borough keys rotate --data %s`", g->info->dir, g->db_path, made_with, current,
                   g->paths->data_dir);
}

/* A row of the platform audit log (platformdb.h) by whoever is acting
   now, about this app, through the generation's connection to borough.db
   (opened on first use). Raises if it cannot be written:
   what must be audited does not happen unaudited. */
static void platform_log(lua_State *L, const char *action, const char *detail)
{
    bo_gen *g = gen_here(L);
    push_actor(L);
    const char *who = lua_tostring(L, -2);
    char err[512];
    bo_db *db = bo_gen_platform_db(g, err, sizeof err);
    if (!db)
        luaL_error(L, "the platform audit log: %s", err);
    int rc = bo_platformdb_audit(db, who, action, g->info->name, detail, err, sizeof err);
    if (rc < 0)
        luaL_error(L, "the platform audit log: %s", err);
    lua_pop(L, 2);
}

/* log(action, detail) */
static int p_log(lua_State *L)
{
    platform_log(L, luaL_checkstring(L, 1), luaL_optstring(L, 2, NULL));
    return 0;
}

static int compare_ids(const void *a, const void *b)
{
    lua_Integer x = *(const lua_Integer *)a, y = *(const lua_Integer *)b;
    return (x > y) - (x < y);
}

void bo_lentity_log_reads(lua_State *L, const char *what, lua_Integer *ids, size_t n)
{
    if (n == 0)
        return;
    qsort(ids, n, sizeof *ids, compare_ids);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, what);
    lua_pushfstring(L, " of %I record%s: ", (lua_Integer)n, n == 1 ? "" : "s");
    luaL_addvalue(&b);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && ids[j + 1] == ids[j] + 1)
            j++;
        if (j - i >= 2) {
            lua_pushfstring(L, "%s%I-%I", i ? ", " : "", ids[i], ids[j]);
            i = j + 1;
        } else {
            lua_pushfstring(L, "%s%I", i ? ", " : "", ids[i]);
            i++;
        }
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    platform_log(L, "read encrypted", lua_tostring(L, -1));
    lua_pop(L, 1);
}

/* log_reads(what, ids): the row of reads of encrypted fields (see
   lentity.h), before any value read is used. */
static int p_log_reads(lua_State *L)
{
    const char *what = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t n = (size_t)luaL_len(L, 2);
    lua_Integer *ids = lua_newuserdatauv(L, (n ? n : 1) * sizeof *ids, 0);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
        ids[i] = luaL_checkinteger(L, -1);
        lua_pop(L, 1);
    }
    bo_lentity_log_reads(L, what, ids, n);
    return 0;
}

/* ---- the export row of a download ---- */

struct bo_export {
    char *what;          /* "CSV download return.csv" */
    char *columns;       /* "Business, Account number" */
    bo_buf entities;     /* the entities whose records were read while it was sent: "a, b" */
    long long rows;
    bool complete;
};

static void export_free(bo_export *x)
{
    if (!x)
        return;
    free(x->what);
    free(x->columns);
    bo_buf_free(&x->entities);
    free(x);
}

/* The task a download's private function is called in, if it serves a
   request (a job sends no response). */
static bo_task *download_task(lua_State *L)
{
    bo_task *t = bo_task_of(L);
    return t && t->request ? t : NULL;
}

/* export_begin(what, columns): the request's response is a download (its
   first bytes are about to go); its export row is written when the request
   ends. Outside a request, nothing. */
static int p_export_begin(lua_State *L)
{
    const char *what = luaL_checkstring(L, 1), *columns = luaL_checkstring(L, 2);
    bo_task *r = download_task(L);
    if (!r)
        return 0;
    export_free(r->export);
    bo_export *x = bo_calloc(1, sizeof *x);
    x->what = bo_strdup(what);
    x->columns = bo_strdup(columns);
    bo_buf_init(&x->entities);
    r->export = x;
    return 0;
}

/* export_rows(n, done): n more rows of the download were made; done: it
   has made its last. */
static int p_export_rows(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    bool done = lua_toboolean(L, 2);
    bo_task *r = download_task(L);
    if (r && r->export) {
        r->export->rows += n;
        r->export->complete |= done;
    }
    return 0;
}

/* loaded(entity): records of entity were read; a download being sent names
   it in its export row. */
static int p_loaded(lua_State *L)
{
    size_t n;
    const char *name = luaL_checklstring(L, 1, &n);
    bo_task *r = download_task(L);
    if (!r || !r->export)
        return 0;
    bo_buf *b = &r->export->entities;
    for (const char *p = b->data, *end = b->len ? b->data + b->len : p; p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t len = comma ? (size_t)(comma - p) : (size_t)(end - p);
        if (len == n && memcmp(p, name, n) == 0)
            return 0;
        p = comma ? comma + 2 : end;
    }
    if (b->len)
        bo_buf_puts(b, ", ");
    bo_buf_append(b, name, n);
    return 0;
}

void bo_lentity_export_end(bo_task *r)
{
    bo_export *x = r->export;
    r->export = NULL;
    if (!x)
        return;
    const char *user = r->who;
    const char *app = r->gen ? r->gen->info->name : NULL;
    char *detail = bo_sprintf("%.*s%s%s of %lld row%s (%s)%s", (int)x->entities.len,
                              x->entities.len ? x->entities.data : "", x->entities.len ? ": " : "", x->what, x->rows,
                              x->rows == 1 ? "" : "s", x->columns, x->complete ? "" : ", cut short");
    char err[512];
    bo_db *db = r->gen ? bo_gen_platform_db(r->gen, err, sizeof err) : NULL;
    int rc = db ? bo_platformdb_audit(db, user ? user : "public", "export", app, detail, err, sizeof err) : BO_EDB;
    if (rc < 0)
        bo_log(BO_LOG_ERROR, app, "the platform audit log could not record a download (%s): %s", detail,
               db ? err : "borough.db cannot be opened");
    free(detail);
    export_free(x);
}

/* request() -> an id for the request running now, or nil outside one (a
   job, a command, the load). Row rules apply while it is not nil. */
static int p_request(lua_State *L)
{
    bo_task *t = bo_task_of(L);
    if (t && t->request)
        lua_pushstring(L, t->id);
    else
        lua_pushnil(L);
    return 1;
}

/* register(fingerprint, sync, entities) */
static int p_register(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &entities_key);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sync_key);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &fingerprint_key);
    return 0;
}

/* borough._platform(): the private table, once; nil after that. */
static int l_platform(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &platform_key);
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &platform_key);
    return 1;
}

int bo_lentity_open(lua_State *L)
{
    static const luaL_Reg private_fns[] = {
        { "exec", p_exec },
        { "audit", p_audit },
        { "audit_rows", p_audit_rows },
        { "register", p_register },
        { "seal", p_seal },
        { "unseal", p_unseal },
        { "blind", p_blind },
        { "log", p_log },
        { "log_reads", p_log_reads },
        { "request", p_request },
        { "key_id", p_key_id },
        { "export_begin", p_export_begin },
        { "export_rows", p_export_rows },
        { "loaded", p_loaded },
        { NULL, NULL },
    };
    audit_scratch *s = lua_newuserdatauv(L, sizeof *s, 0);
    bo_buf_init(&s->before);
    bo_buf_init(&s->after);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, scratch_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &scratch_key);

    luaL_newlib(L, private_fns);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &platform_key);

    lua_pushcfunction(L, l_platform);
    return 1;
}

void bo_lentity_set_actor(lua_State *L, const char *who, const char *via)
{
    lua_pushstring(L, who);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &who_key);
    lua_pushstring(L, via);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &via_key);
}

int bo_lentity_push(lua_State *L, const char *name)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &entities_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return LUA_TNIL;
    }
    int t = lua_getfield(L, -1, name);
    lua_remove(L, -2);
    return t;
}

/* ---- the schema step ---- */

static int migrations_gc(lua_State *L)
{
    bo_migrations_free(lua_touserdata(L, 1));
    return 0;
}

/* Pushes the stored fingerprint, or nil. The statement is the cache's, so
   a memory error while pushing leaks nothing. */
static void push_stored_fingerprint(lua_State *L, bo_db *db)
{
    static const char sql[] = "SELECT value FROM _borough_meta WHERE key = 'schema'";
    char err[256];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (stmt && bo_stmt_step(stmt) == BO_DB_ROW)
        lua_pushlstring(L, (const char *)bo_stmt_column_text(stmt, 0), (size_t)bo_stmt_column_bytes(stmt, 0));
    else
        lua_pushnil(L);
    if (stmt)
        bo_stmt_reset(stmt);
}

/* Runs script (the platform's) with its rights; raises on failure after
   rolling back. */
static void platform_script(lua_State *L, bo_db *db, const char *sql, const char *what)
{
    char err[512];
    bool was = bo_db_set_platform(db, true);
    int rc = bo_db_exec_script(db, sql, err, sizeof err);
    bo_db_set_platform(db, was);
    if (rc < 0) {
        bo_db_rollback(db);
        luaL_error(L, "%s: %s", what, err);
    }
}

/* True if the database holds no table of the app's own yet. */
static bool database_is_new(bo_db *db)
{
    bo_stmt *stmt = NULL;
    const char *sql = bo_db_dialect() == BO_POSTGRES
                          ? "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
                            "AND tablename NOT LIKE '\\_borough\\_%' ESCAPE '\\'"
                          : "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                            "AND name NOT LIKE '\\_borough\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";
    bool fresh = false;
    if (bo_stmt_prepare(db, sql, -1, &stmt) == BO_OK &&
        bo_stmt_step(stmt) == BO_DB_ROW)
        fresh = bo_stmt_column_int64(stmt, 0) == 0;
    bo_stmt_finalize(stmt);
    return fresh;
}

/* Raises if any row refers to a record that does not exist (after the
   migrations ran with the check deferred). PostgreSQL checks each
   reference as it is written, so there is nothing left to check. */
static void check_references(lua_State *L, bo_db *db, const char *where)
{
    if (bo_db_dialect() == BO_POSTGRES)
        return;
    bo_stmt *stmt = NULL;
    if (bo_stmt_prepare(db, "PRAGMA foreign_key_check", -1, &stmt) != BO_OK) {
        bo_stmt_finalize(stmt);
        return;
    }
    char msg[512] = "";
    if (bo_stmt_step(stmt) == BO_DB_ROW)
        snprintf(msg, sizeof msg, "%s: after the migrations, row %lld of %s refers to a missing record of %s",
                 where, (long long)bo_stmt_column_int64(stmt, 1), (const char *)bo_stmt_column_text(stmt, 0),
                 (const char *)bo_stmt_column_text(stmt, 2));
    bo_stmt_finalize(stmt);
    if (msg[0]) {
        bo_db_rollback(db);
        luaL_error(L, "%s", msg);
    }
}

/* Calls the function at the top with nargs arguments below it, in protected
   mode; on failure rolls back and raises the same error. */
static void call_or_rollback(lua_State *L, bo_db *db, int nargs, int nresults)
{
    if (lua_pcall(L, nargs, nresults, 0) != LUA_OK) {
        bo_db_rollback(db);
        lua_error(L);
    }
}

static void set_loading(lua_State *L, bool on)
{
    lua_pushboolean(L, on);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &loading_key);
}

void bo_lentity_load(lua_State *L, bo_gen *g)
{
    const char *dir = g->info->dir;
    char err[1024];
    bo_migrations *m = lua_newuserdatauv(L, sizeof *m, 0);
    memset(m, 0, sizeof *m);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, migrations_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    if (bo_migrations_read(m, dir, g->info->snapshot, err, sizeof err) < 0)
        luaL_error(L, "%s", err);

    /* The fingerprint of what the app declares: its entities and its
       migration files. No entities and no migrations: nothing to do. */
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &fingerprint_key) != LUA_TFUNCTION) {
        lua_pop(L, 1);
        lua_pushnil(L);
    } else {
        lua_call(L, 0, 1);
    }
    if (lua_isnil(L, -1) && m->n == 0)
        return;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "entities: ");
    if (lua_isstring(L, -2)) {
        lua_pushvalue(L, -2);
        luaL_addvalue(&b);
    }
    luaL_addstring(&b, "\nmigrations:");
    for (size_t i = 0; i < m->n; i++) {
        luaL_addchar(&b, ' ');
        luaL_addstring(&b, m->list[i].name);
    }
    luaL_pushresult(&b);
    int fingerprint = lua_gettop(L);

    bo_db *db = bo_ldb_get(L);
    check_blind_key(L, g, db);
    push_stored_fingerprint(L, db);
    if (!g->primary) {
        if (!lua_rawequal(L, -1, fingerprint))
            luaL_error(L, "%s: the database is not up to date with the app's entities and migrations "
                          "(the server's main load updates it)", dir);
        return;
    }
    lua_pop(L, 1);

    const char *models = lua_pushfstring(L, "%s/models.lua", dir);
    uint64_t start = uv_hrtime();
    if (bo_db_begin(db, err, sizeof err) < 0)
        luaL_error(L, "%s: cannot start the schema transaction: %s", dir, err);
    bool fresh = database_is_new(db);
    platform_script(L, db, platform_tables, models);
    if (bo_db_dialect() == BO_SQLITE)
        platform_script(L, db, "PRAGMA defer_foreign_keys = ON", models);
    bool paused = bo_db_pause_progress(db, true);
    unsigned applied = 0;
    int rc = bo_migrate_prepare(db, err, sizeof err);
    if (rc == 0)
        rc = bo_migrate_apply(db, m, fresh, &applied, err, sizeof err);
    bo_db_pause_progress(db, paused);
    give_back_time(L, start);
    if (rc < 0) {
        bo_db_rollback(db);
        luaL_error(L, "%s", err);
    }
    push_stored_fingerprint(L, db);
    bool changed = !lua_rawequal(L, -1, fingerprint);
    lua_pop(L, 1);
    if (changed || applied > 0) {
        if (lua_rawgetp(L, LUA_REGISTRYINDEX, &sync_key) == LUA_TFUNCTION) {
            lua_pushboolean(L, fresh);
            lua_pushboolean(L, applied > 0);
            set_loading(L, true);
            int status = lua_pcall(L, 2, 0, 0);
            set_loading(L, false);
            if (status != LUA_OK) {
                bo_db_rollback(db);
                lua_error(L);
            }
        } else {
            lua_pop(L, 1);
        }
        check_references(L, db, models);
        lua_pushcfunction(L, p_exec);
        lua_pushliteral(L, "INSERT INTO _borough_meta (key, value) VALUES ('schema', ?) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
        lua_pushvalue(L, fingerprint);
        set_loading(L, true);
        call_or_rollback(L, db, 2, 0);
        set_loading(L, false);
    }
    if (bo_db_commit(db, err, sizeof err) < 0) {
        bo_db_rollback(db);
        luaL_error(L, "%s: cannot commit the schema: %s", dir, err);
    }
    if (applied > 0)
        bo_log(BO_LOG_INFO, g->info->name, "applied %u migration%s", applied, applied == 1 ? "" : "s");
}
