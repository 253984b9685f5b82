/*
 * ladmin.c - the admin console's C half (lua/borough/_site/): the
 * privileged functions only the platform's own app receives, given once as
 * the private table borough._admin() returns (nil to anyone asking after
 * it, and never installed in any other app's state).
 *
 * Each function is a second front end to an action the command line has:
 *
 *   catalog, reload, rollback     the app catalog (server.c) and `borough
 *                                 reload` over the control socket (control.h)
 *   people, person, add_person, set_password, set_role, set_disabled,
 *   reset_two_factor, end_sessions, hash_password
 *                                 `borough user` (accounts.h; lauth.c hashes)
 *   queue_counts, queue, retry, cancel
 *                                 `borough outbox` and `borough jobs` (queues.h)
 *   audit, audit_names, verify    `borough audit` (platformdb.h)
 *   status                        `borough status` (status.h)
 *   tokens, create_token, revoke_token
 *                                 `borough token` (apitoken.h)
 *
 * and every change writes its platform audit row naming the admin by email
 * address, as the command line's name the operating-system user. All but
 * catalog and my_apps (the front door's, for anyone) refuse to run unless
 * the request's signed-in person holds the role admin in the platform's
 * app: the routes say so too, and this holds even if a route forgot.
 *
 * A reload runs on the main thread, judged there before the new catalog is
 * published to every worker: the request does not block its worker while
 * that happens. reload writes its line to the control socket on the
 * worker's loop and waits (bo_task_wait_io), as http.request waits, for
 * the answer the command line would print; the worker serves others and
 * takes the new catalog meanwhile.
 *
 * C resources met while Lua values are made (a catalog reference, an app's
 * database connection, the status figures, the socket) are each held by a
 * userdata whose __gc lets go of them, so a Lua error cannot leak them.
 */
#include "ladmin.h"
#include "accounts.h"
#include "apitoken.h"
#include "app.h"
#include "conn.h"
#include "control.h"
#include "lauth.h"
#include "log.h"
#include "platformdb.h"
#include "queues.h"
#include "request.h"
#include "sandbox.h"
#include "task.h"
#include "server.h"
#include "session.h"
#include "status.h"
#include "worker.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIST_MAX 500                  /* rows one call returns at most */

static const char private_key = 0;
static const char box_mt_key = 0;
static const char call_mt_key = 0;

/* ---- helpers ---- */

static bo_request *current(lua_State *L, const char *fn)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_request *r = sb ? sb->current : NULL;
    if (!r || !r->conn)
        luaL_error(L, "%s: only while a request is being handled", fn);
    return r;
}

/* The request, if its signed-in person is the site's admin; raises if not. */
static bo_request *admin(lua_State *L, const char *fn)
{
    bo_request *r = current(L, fn);
    if (!r->user || !bo_user_has_role(r->user, "admin", 5))
        luaL_error(L, "%s: only the site's admin may do this", fn);
    return r;
}

static bo_db *platform(lua_State *L, bo_request *r)
{
    bo_db *db = bo_worker_platform_db(r->worker);
    if (!db)
        luaL_error(L, "the platform database is not available (see the log)");
    return db;
}

static void set_string(lua_State *L, const char *k, const char *v)
{
    if (!v)
        return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void set_integer(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void set_boolean(lua_State *L, const char *k, bool v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

/* An action's answer: true; or nil, a word the page turns into a message
   ("missing", "invalid", "exists") and the line saying why. A database
   error raises (the page is a 500: the server's log says why). */
static int answer(lua_State *L, int rc, const char *err)
{
    if (rc >= 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (rc != BO_ENOENT && rc != BO_EINVAL && rc != BO_EEXIST)
        return luaL_error(L, "%s", err);
    luaL_pushfail(L);
    lua_pushstring(L, rc == BO_ENOENT ? "missing" : rc == BO_EEXIST ? "exists" : "invalid");
    lua_pushstring(L, err);
    return 3;
}

/* The optional offset and limit of a list. */
static unsigned opt_offset(lua_State *L, int arg)
{
    lua_Integer n = luaL_optinteger(L, arg, 0);
    luaL_argcheck(L, n >= 0 && n <= INT32_MAX, arg, "out of range");
    return (unsigned)n;
}

static unsigned opt_limit(lua_State *L, int arg)
{
    lua_Integer n = luaL_optinteger(L, arg, 50);
    luaL_argcheck(L, n >= 0 && n <= LIST_MAX, arg, "out of range");
    return (unsigned)n;
}

/* ---- resources held by userdata ---- */

enum { BOX_CATALOG, BOX_DB, BOX_STATUS };

typedef struct res_box {
    int kind;
    void *p;
} res_box;

static void box_release(res_box *b)
{
    if (!b->p)
        return;
    if (b->kind == BOX_CATALOG) {
        bo_catalog_unref(b->p);
    } else if (b->kind == BOX_DB) {
        bo_db_close(b->p);
    } else {
        bo_status_free(b->p);
        free(b->p);
    }
    b->p = NULL;
}

static int box_gc(lua_State *L)
{
    box_release(lua_touserdata(L, 1));
    return 0;
}

/* Pushes an empty box of kind; the caller puts its resource in it at once. */
static res_box *box_push(lua_State *L, int kind)
{
    res_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->kind = kind;
    b->p = NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &box_mt_key);
    lua_setmetatable(L, -2);
    return b;
}

/* ---- the catalog and the front door ---- */

/* catalog(): a list of the apps of the server's catalog, each { name,
   title, description, mount, host, public, open_start, platform, serving, error,
   generation, version, loaded_ms, previous_generation, previous_version,
   last = { at_ms, ok, rollback, generation, error } }, and the catalog's
   version number. For anyone: the front door lists apps from it. */
static int a_catalog(lua_State *L)
{
    bo_request *r = current(L, "catalog");
    bo_server *s = r->worker->server;
    res_box *b = box_push(L, BOX_CATALOG);
    bo_catalog *c = bo_server_catalog(s);
    b->p = c;
    lua_createtable(L, (int)c->napps, 0);
    for (unsigned i = 0; i < c->napps; i++) {
        const bo_app_info *info = c->apps[i], *prev = c->previous[i];
        lua_createtable(L, 0, 16);
        set_string(L, "name", info->name);
        set_string(L, "title", info->title);
        set_string(L, "description", info->description);
        set_string(L, "mount", info->mount ? (info->mount[0] ? info->mount : "/") : NULL);
        set_string(L, "host", info->host);
        set_boolean(L, "public", info->public_);
        set_boolean(L, "open_start", info->open_start);
        set_boolean(L, "platform", info->platform);
        set_boolean(L, "serving", info->error == NULL);
        set_string(L, "error", info->error);
        set_integer(L, "generation", (lua_Integer)info->generation);
        set_string(L, "version", info->snapshot ? info->snapshot->hash : NULL);
        set_integer(L, "loaded_ms", info->loaded_ms);
        if (prev) {
            set_integer(L, "previous_generation", (lua_Integer)prev->generation);
            set_string(L, "previous_version", prev->snapshot ? prev->snapshot->hash : NULL);
        }
        bo_reload_note note;
        char error[2048];
        if (bo_server_reload_note(s, info->name, &note, error, sizeof error)) {
            lua_createtable(L, 0, 5);
            set_integer(L, "at_ms", note.at_ms);
            set_boolean(L, "ok", note.ok);
            set_boolean(L, "rollback", note.rollback);
            set_integer(L, "generation", (lua_Integer)note.generation);
            set_string(L, "error", note.error);
            lua_setfield(L, -2, "last");
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_pushinteger(L, (lua_Integer)c->version);
    box_release(b);
    return 2;
}

/* catalog_version(): the version number of the server's catalog, which
   changes whenever the server publishes a new one. */
static int a_catalog_version(lua_State *L)
{
    bo_request *r = current(L, "catalog_version");
    bo_catalog *c = bo_server_catalog(r->worker->server);
    lua_Integer v = (lua_Integer)c->version;
    bo_catalog_unref(c);
    lua_pushinteger(L, v);
    return 1;
}

static int put_app(void *ud, const char *app, const char *role, const char *source)
{
    BO_UNUSED(role);
    BO_UNUSED(source);
    lua_State *L = ud;
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, app);
    return 0;
}

/* my_apps(): the set of apps the signed-in person holds a role in ({}
   when nobody is signed in). For the front door. */
static int a_my_apps(lua_State *L)
{
    bo_request *r = current(L, "my_apps");
    lua_newtable(L);
    if (!r->user)
        return 1;
    char err[256];
    if (bo_account_roles(platform(L, r), r->user->id, put_app, L, err, sizeof err) < 0)
        return luaL_error(L, "%s", err);
    return 1;
}

/* ---- people ---- */

static void push_account(lua_State *L, const bo_account *a)
{
    lua_createtable(L, 0, 12);
    set_integer(L, "id", a->id);
    set_string(L, "email", a->email);
    set_string(L, "name", a->name);
    set_boolean(L, "disabled", a->disabled);
    set_boolean(L, "password", a->password);
    set_boolean(L, "two_factor", a->two_factor);
    set_boolean(L, "sso", a->sso);
    set_integer(L, "created_ms", a->created_ms);
    set_integer(L, "seen_ms", a->seen_ms);
    set_integer(L, "sessions", a->sessions);
    set_string(L, "roles", a->roles);
}

static int list_account(void *ud, const bo_account *a)
{
    lua_State *L = ud;
    push_account(L, a);
    lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
    return 0;
}

/* people(search, offset, limit): a list of accounts and how many match. */
static int a_people(lua_State *L)
{
    bo_request *r = admin(L, "people");
    const char *search = luaL_optstring(L, 1, NULL);
    unsigned offset = opt_offset(L, 2), limit = opt_limit(L, 3);
    bo_db *db = platform(L, r);
    lua_newtable(L);
    unsigned total = 0;
    char err[512];
    if (bo_accounts_list(db, search, offset, limit, list_account, L, &total, err, sizeof err) < 0)
        return luaL_error(L, "%s", err);
    lua_pushinteger(L, total);
    return 2;
}

static int one_account(void *ud, const bo_account *a)
{
    push_account(ud, a);
    return 0;
}

static int list_role(void *ud, const char *app, const char *role, const char *source)
{
    lua_State *L = ud;
    lua_createtable(L, 0, 3);
    set_string(L, "app", app);
    set_string(L, "role", role);
    set_string(L, "source", source);
    lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
    return 0;
}

/* person(email): the account with its roles ({ app, role, source }), or nil. */
static int a_person(lua_State *L)
{
    bo_request *r = admin(L, "person");
    const char *email = luaL_checkstring(L, 1);
    bo_db *db = platform(L, r);
    char err[512];
    int rc = bo_account_get(db, email, one_account, L, err, sizeof err);
    if (rc == BO_ENOENT)
        return 0;
    if (rc < 0)
        return luaL_error(L, "%s", err);
    lua_getfield(L, -1, "id");
    int64_t id = lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_newtable(L);
    if (bo_account_roles(db, id, list_role, L, err, sizeof err) < 0)
        return luaL_error(L, "%s", err);
    lua_setfield(L, -2, "role_list");
    return 1;
}

/* add_person(email, name, hash) */
static int a_add_person(lua_State *L)
{
    bo_request *r = admin(L, "add_person");
    const char *email = luaL_checkstring(L, 1), *name = luaL_checkstring(L, 2), *hash = luaL_checkstring(L, 3);
    char err[512];
    return answer(L, bo_account_add(platform(L, r), r->user->email, email, name, hash, err, sizeof err), err);
}

/* set_password(email, hash) */
static int a_set_password(lua_State *L)
{
    bo_request *r = admin(L, "set_password");
    const char *email = luaL_checkstring(L, 1), *hash = luaL_checkstring(L, 2);
    char err[512];
    return answer(L, bo_account_set_password(platform(L, r), r->user->email, email, hash, err, sizeof err), err);
}

/* set_role(email, app, role, remove): true and whether it changed. */
static int a_set_role(lua_State *L)
{
    bo_request *r = admin(L, "set_role");
    const char *email = luaL_checkstring(L, 1), *app = luaL_checkstring(L, 2), *role = luaL_checkstring(L, 3);
    bool remove = lua_toboolean(L, 4);
    char err[512];
    bool changed;
    int rc = bo_account_set_role(platform(L, r), r->user->email, email, app, role, remove, &changed, err,
                                 sizeof err);
    int n = answer(L, rc, err);
    if (rc >= 0) {
        lua_pushboolean(L, changed);
        n++;
    }
    return n;
}

/* set_disabled(email, disabled) */
static int a_set_disabled(lua_State *L)
{
    bo_request *r = admin(L, "set_disabled");
    const char *email = luaL_checkstring(L, 1);
    bool disabled = lua_toboolean(L, 2);
    char err[512];
    return answer(L, bo_account_set_disabled(platform(L, r), r->user->email, email, disabled, err, sizeof err), err);
}

/* reset_two_factor(email) */
static int a_reset_two_factor(lua_State *L)
{
    bo_request *r = admin(L, "reset_two_factor");
    const char *email = luaL_checkstring(L, 1);
    char err[512];
    return answer(L, bo_account_reset_two_factor(platform(L, r), r->user->email, email, err, sizeof err), err);
}

/* end_sessions(email): true and how many ended. */
static int a_end_sessions(lua_State *L)
{
    bo_request *r = admin(L, "end_sessions");
    const char *email = luaL_checkstring(L, 1);
    char err[512];
    int ended = 0;
    int rc = bo_account_end_sessions(platform(L, r), r->user->email, email, &ended, err, sizeof err);
    int n = answer(L, rc, err);
    if (rc >= 0) {
        lua_pushinteger(L, ended);
        n++;
    }
    return n;
}

/* hash_password(password, email): lauth.c's, for the admin only. */
static int a_hash_password(lua_State *L)
{
    admin(L, "hash_password");
    return bo_lauth_hash(L);
}

/* ---- the audit log ---- */

static int list_audit(void *ud, const bo_audit_row *row)
{
    lua_State *L = ud;
    lua_createtable(L, 0, 6);
    set_integer(L, "id", row->id);
    set_string(L, "at", row->at);
    set_string(L, "who", row->who);
    set_string(L, "action", row->action);
    set_string(L, "app", row->app);
    set_string(L, "detail", row->detail);
    lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
    return 0;
}

static const char *filter_field(lua_State *L, const char *k)
{
    lua_getfield(L, 1, k);
    const char *v = lua_tostring(L, -1);     /* stays on the stack, so it lives */
    return v && *v ? v : NULL;
}

/* audit({ who, app, action, since, until }, offset, limit): the rows that
   match, newest first, and how many do; nil and a message for a date it
   does not take. */
static int a_audit(lua_State *L)
{
    bo_request *r = admin(L, "audit");
    luaL_checktype(L, 1, LUA_TTABLE);
    unsigned offset = opt_offset(L, 2), limit = opt_limit(L, 3);
    lua_settop(L, 1);
    bo_audit_filter f = { filter_field(L, "who"), filter_field(L, "app"), filter_field(L, "action"),
                          filter_field(L, "since"), filter_field(L, "until") };
    if ((f.since && !bo_platformdb_audit_date_ok(f.since)) || (f.until && !bo_platformdb_audit_date_ok(f.until))) {
        luaL_pushfail(L);
        lua_pushliteral(L, "date");
        return 2;
    }
    lua_newtable(L);
    unsigned total = 0;
    char err[512];
    if (bo_platformdb_audit_list(platform(L, r), &f, offset, limit, list_audit, L, &total, err, sizeof err) < 0)
        return luaL_error(L, "%s", err);
    lua_pushinteger(L, total);
    return 2;
}

static int list_name(void *ud, const char *name)
{
    lua_State *L = ud;
    lua_pushstring(L, name);
    lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
    return 0;
}

/* audit_names(): the actions the log names, and the apps. */
static int a_audit_names(lua_State *L)
{
    bo_request *r = admin(L, "audit_names");
    bo_db *db = platform(L, r);
    char err[512];
    lua_newtable(L);
    if (bo_platformdb_audit_names(db, false, list_name, L, err, sizeof err) < 0)
        return luaL_error(L, "%s", err);
    lua_newtable(L);
    if (bo_platformdb_audit_names(db, true, list_name, L, err, sizeof err) < 0)
        return luaL_error(L, "%s", err);
    return 2;
}

/* verify(): { ok, rows, last (the last good hash), bad (the first row
   that is not as written), message }, as `borough audit verify` finds. */
static int a_verify(lua_State *L)
{
    bo_request *r = admin(L, "verify");
    bo_db *db = platform(L, r);
    long long bad, rows;
    char last[65], err[512], detail[600], why[400];
    if (bo_platformdb_verify(db, &bad, &rows, last, err, sizeof err) < 0)
        return luaL_error(L, "%s", err);
    if (bad)
        snprintf(detail, sizeof detail, "tampered with: %s", err);
    else
        snprintf(detail, sizeof detail, "intact: %lld rows", rows);
    if (bo_platformdb_audit(db, r->user->email, "audit-verify", NULL, detail, why, sizeof why) < 0)
        return luaL_error(L, "the platform audit log: %s", why);
    lua_createtable(L, 0, 5);
    set_boolean(L, "ok", bad == 0);
    set_integer(L, "rows", rows);
    set_string(L, "last", last);
    if (bad) {
        set_integer(L, "bad", bad);
        set_string(L, "message", err);
    }
    return 1;
}

/* ---- outbox and jobs ---- */

static bo_queue check_queue(lua_State *L, int arg)
{
    static const char *const names[] = { "outbox", "jobs", NULL };
    return (bo_queue)luaL_checkoption(L, arg, NULL, names);
}

/* Opens app's database in a box at the top of the stack; NULL (nothing
   pushed) when it has none yet. */
static bo_db *open_app_db(lua_State *L, bo_request *r, const char *app)
{
    luaL_argcheck(L, bo_account_app_ok(app), 2, "not an app name");
    res_box *b = box_push(L, BOX_DB);
    char err[512];
    bo_db *db;
    int rc = bo_queue_open(&db, r->worker->server->cfg.data_dir, app, err, sizeof err);
    if (rc == BO_ENOENT) {
        lua_pop(L, 1);
        return NULL;
    }
    if (rc < 0)
        luaL_error(L, "%s", err);
    b->p = db;
    return db;
}

/* queue_counts(kind, app): { queued, active, done, failed, stuck }, or nil
   when the app has no database yet. */
static int a_queue_counts(lua_State *L)
{
    bo_request *r = admin(L, "queue_counts");
    bo_queue q = check_queue(L, 1);
    bo_db *db = open_app_db(L, r, luaL_checkstring(L, 2));
    if (!db)
        return 0;
    bo_queue_counts n;
    char err[512];
    int rc = bo_queue_count(db, q, &n, err, sizeof err);
    box_release(lua_touserdata(L, -1));
    if (rc < 0)
        return luaL_error(L, "%s", err);
    lua_createtable(L, 0, 5);
    set_integer(L, "queued", n.queued);
    set_integer(L, "active", n.active);
    set_integer(L, "done", n.done);
    set_integer(L, "failed", n.failed);
    set_integer(L, "stuck", n.stuck);
    return 1;
}

static int list_item(void *ud, const bo_queue_item *it)
{
    lua_State *L = ud;
    lua_createtable(L, 0, 15);
    set_integer(L, "id", it->id);
    set_string(L, "state", it->state);
    set_boolean(L, "stuck", it->stuck);
    set_string(L, "name", it->name);
    set_string(L, "detail", it->detail);
    set_string(L, "reference", it->reference);
    set_integer(L, "attempts", it->attempts);
    set_integer(L, "max_attempts", it->max_attempts);
    set_integer(L, "made_ms", it->made_ms);
    set_integer(L, "next_ms", it->next_ms);
    set_integer(L, "last_ms", it->last_ms);
    set_string(L, "status", it->status);
    set_string(L, "status_at", it->status_at);
    set_string(L, "error", it->error);
    set_boolean(L, "purged", it->purged);
    lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
    return 0;
}

/* queue(kind, app, filter, offset, limit): the items, newest first
   (filter: nil, a state, or "stuck"). */
static int a_queue(lua_State *L)
{
    bo_request *r = admin(L, "queue");
    bo_queue q = check_queue(L, 1);
    const char *filter = luaL_optstring(L, 3, NULL);
    unsigned offset = opt_offset(L, 4), limit = opt_limit(L, 5);
    bo_db *db = open_app_db(L, r, luaL_checkstring(L, 2));
    lua_newtable(L);
    if (!db)
        return 1;
    char err[512];
    if (bo_queue_list(db, q, filter, offset, limit, list_item, L, err, sizeof err) < 0)
        return luaL_error(L, "%s", err);
    box_release(lua_touserdata(L, -2));
    return 1;
}

static int queue_change(lua_State *L, bool retry)
{
    bo_request *r = admin(L, retry ? "retry" : "cancel");
    bo_queue q = check_queue(L, 1);
    const char *app = luaL_checkstring(L, 2);
    lua_Integer id = luaL_checkinteger(L, 3);
    bo_db *db = open_app_db(L, r, app);
    char err[512];
    if (!db) {
        snprintf(err, sizeof err, "the app %s has no database yet", app);
        return answer(L, BO_ENOENT, err);
    }
    bo_db *pdb = platform(L, r);
    int rc = retry ? bo_queue_retry(db, pdb, r->user->email, q, app, id, err, sizeof err)
                   : bo_queue_cancel(db, pdb, r->user->email, q, app, id, err, sizeof err);
    box_release(lua_touserdata(L, -1));
    return answer(L, rc, err);
}

/* retry(kind, app, id), cancel(kind, app, id) */
static int a_retry(lua_State *L)
{
    return queue_change(L, true);
}

static int a_cancel(lua_State *L)
{
    return queue_change(L, false);
}

/* ---- API tokens ---- */

static int list_token(void *ud, const bo_apitoken_row *t)
{
    lua_State *L = ud;
    lua_createtable(L, 0, 14);
    set_integer(L, "id", t->id);
    set_string(L, "app", t->app);
    set_string(L, "name", t->name);
    set_string(L, "prefix", t->prefix);
    set_string(L, "entities", t->entities);
    set_string(L, "email", t->email);
    set_string(L, "roles", t->roles);
    set_integer(L, "created_ms", t->created_ms);
    set_string(L, "created_by", t->created_by);
    set_integer(L, "expires_ms", t->expires_ms);
    set_integer(L, "revoked_ms", t->revoked_ms);
    set_integer(L, "used_ms", t->used_ms);
    set_integer(L, "uses", t->uses);
    lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
    return 0;
}

/* tokens([app]): every token (or app's), newest first, as `borough token
   list` shows them: { id, app, name, prefix (its first characters),
   entities (" a b "), email, roles, created_ms, created_by, expires_ms,
   revoked_ms, used_ms, uses } (0 for a time that has not come). Never the
   token: only its SHA-256 is kept. */
static int a_tokens(lua_State *L)
{
    bo_request *r = admin(L, "tokens");
    const char *app = luaL_optstring(L, 1, NULL);
    lua_newtable(L);
    char err[512];
    if (bo_apitoken_list(platform(L, r), app, list_token, L, err, sizeof err) < 0)
        return luaL_error(L, "%s", err);
    return 1;
}

/* create_token(app, name, entities, roles, days): true, the token (shown
   this once), its id and its account's email; or nil, "invalid" and why. */
static int a_create_token(lua_State *L)
{
    bo_request *r = admin(L, "create_token");
    const char *app = luaL_checkstring(L, 1), *name = luaL_checkstring(L, 2), *entities = luaL_checkstring(L, 3);
    const char *roles = luaL_optstring(L, 4, NULL);
    lua_Integer days = luaL_checkinteger(L, 5);
    char err[512], token[BO_APITOKEN_CHARS + 1], email[300];
    int64_t id = 0;
    /* Out of range (bo_apitoken_create says which range) without overflowing. */
    int64_t ms = days < 1 || days > BO_APITOKEN_MAX_DAYS + 1 ? 0 : (int64_t)days * 24 * 3600 * 1000;
    int rc = bo_apitoken_create(platform(L, r), r->user->email, app, name, entities, roles, ms, token, &id, email,
                                sizeof email, err, sizeof err);
    int n = answer(L, rc, err);
    if (rc >= 0) {
        lua_pushstring(L, token);
        lua_pushinteger(L, id);
        lua_pushstring(L, email);
        n += 3;
    }
    return n;
}

/* revoke_token(id) */
static int a_revoke_token(lua_State *L)
{
    bo_request *r = admin(L, "revoke_token");
    lua_Integer id = luaL_checkinteger(L, 1);
    char err[512];
    return answer(L, bo_apitoken_revoke(platform(L, r), r->user->email, id, err, sizeof err), err);
}

/* ---- health ---- */

static void push_figures(lua_State *L, const bo_metrics_summary *m)
{
    lua_createtable(L, 0, 16);
    set_integer(L, "requests", (lua_Integer)m->requests);
    set_integer(L, "client_errors", (lua_Integer)m->client_errors);
    set_integer(L, "server_errors", (lua_Integer)m->server_errors);
    set_integer(L, "handler_errors", (lua_Integer)m->lua_errors);
    set_integer(L, "reloads", (lua_Integer)m->reloads);
    set_integer(L, "reload_failures", (lua_Integer)m->reload_failures);
    set_integer(L, "outbox_waiting", (lua_Integer)m->outbox_depth);
    set_integer(L, "outbox_failed", (lua_Integer)m->outbox_failed);
    set_integer(L, "jobs_waiting", (lua_Integer)m->jobs_waiting);
    set_integer(L, "jobs_failed", (lua_Integer)m->jobs_dead);
    set_integer(L, "jobs_done", (lua_Integer)m->jobs_done);
    set_integer(L, "notify_sent", (lua_Integer)m->notify_sent);
    static const struct { const char *name; double q; } quantiles[] = { { "p50", 0.5 }, { "p95", 0.95 }, { "p99", 0.99 } };
    for (size_t i = 0; i < BO_COUNT(quantiles) && m->requests; i++) {
        double v = bo_metrics_quantile(m, quantiles[i].q);
        lua_pushnumber(L, isinf(v) ? -1 : v * 1000);    /* ms; -1: past the last bound */
        lua_setfield(L, -2, quantiles[i].name);
    }
}

/* status(): what /healthz and /metrics say: { started_ms, now_ms, workers,
   open_connections, cert_expires (Unix s, or nil), platform_db_bytes,
   all = figures, apps = { { name, title, serving, error, generation,
   version, db_bytes, figures } } }, figures being { requests,
   client_errors, server_errors, handler_errors, p50, p95, p99 (ms),
   outbox_waiting, outbox_failed, jobs_waiting, jobs_failed, ... }. */
static int a_status(lua_State *L)
{
    bo_request *r = admin(L, "status");
    res_box *b = box_push(L, BOX_STATUS);
    bo_status *st = bo_calloc(1, sizeof *st);
    b->p = st;
    bo_status_gather(r->worker->server, st);
    lua_createtable(L, 0, 8);
    set_integer(L, "started_ms", st->started_ms);
    set_integer(L, "now_ms", st->now_ms);
    set_integer(L, "workers", st->workers);
    set_integer(L, "open_connections", st->open_conns);
    if (st->cert_expires)
        set_integer(L, "cert_expires", st->cert_expires);
    set_integer(L, "platform_db_bytes", st->platform_db_bytes);
    push_figures(L, &st->all);
    lua_setfield(L, -2, "all");
    lua_createtable(L, (int)st->napps, 0);
    for (unsigned i = 0; i < st->napps; i++) {
        const bo_status_app *a = &st->apps[i];
        static const bo_metrics_summary none;
        push_figures(L, a->m ? a->m : &none);
        set_string(L, "name", a->info->name);
        set_string(L, "title", a->info->title);
        set_boolean(L, "platform", a->info->platform);
        set_boolean(L, "serving", a->info->error == NULL);
        set_string(L, "error", a->info->error);
        set_integer(L, "generation", (lua_Integer)a->info->generation);
        set_string(L, "version", a->info->snapshot ? a->info->snapshot->hash : NULL);
        set_integer(L, "db_bytes", a->db_bytes);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "apps");
    box_release(b);
    return 1;
}

/* ---- reload and rollback, over the control socket ---- */

/* One request to the control socket, from connect to the continuation
   that reads the answer. Two owners: the Lua box, and the pipe until its
   close callback; whichever lets go last frees it. */
typedef struct control_call {
    uv_pipe_t pipe;
    uv_write_t write;
    bo_task *task;             /* the request's, waiting for the answer; NULL once it gave up */
    int refs;
    bool open;                 /* the pipe is initialised and not yet closing */
    bool done;                 /* the answer (or the failure) is in */
    bo_buf in;
    char line[BO_CONTROL_LINE_MAX + 2];
    char error[400];           /* why there is no answer, or "" */
} control_call;

typedef struct call_box {
    control_call *c;
} call_box;

static void call_unref(control_call *c)
{
    if (--c->refs > 0)
        return;
    bo_buf_free(&c->in);
    free(c);
}

static void on_call_closed(uv_handle_t *h)
{
    call_unref(h->data);
}

static void call_close(control_call *c)
{
    if (!c->open)
        return;
    c->open = false;
    uv_close((uv_handle_t *)&c->pipe, on_call_closed);
}

/* The answer is in (or will never come): close, and wake the request. */
static void call_done(control_call *c, const char *why)
{
    if (c->done)
        return;
    c->done = true;
    if (why)
        snprintf(c->error, sizeof c->error, "%s", why);
    call_close(c);
    if (c->task)
        bo_task_wake(c->task);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    BO_UNUSED(suggested);
    control_call *c = h->data;
    bo_buf_reserve(&c->in, 4096);
    buf->base = c->in.data + c->in.len;
    buf->len = c->in.cap - c->in.len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    BO_UNUSED(buf);
    control_call *c = s->data;
    if (n > 0) {
        c->in.len += (size_t)n;
        if (c->in.len > 1024 * 1024)
            call_done(c, "the server's answer is too long");
    } else if (n == UV_EOF) {
        call_done(c, NULL);
    } else if (n < 0) {
        call_done(c, uv_strerror((int)n));
    }
}

static void on_written(uv_write_t *w, int status)
{
    control_call *c = w->data;
    if (status < 0)
        call_done(c, uv_strerror(status));
    else if (c->open)
        uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
    call_unref(c);                    /* the write's hold */
}

/* bo_task_wait_io's cancel: the request ends first (its time is up, or
   the server stops). The reload itself goes on. */
static void call_cancel(void *ctx)
{
    control_call *c = ctx;
    c->task = NULL;
    call_close(c);
}

static int call_gc(lua_State *L)
{
    call_box *b = lua_touserdata(L, 1);
    if (b->c) {
        b->c->task = NULL;
        call_close(b->c);
        call_unref(b->c);
        b->c = NULL;
    }
    return 0;
}

/* The continuation: { status = n, lines = { { kind = "out"|"err", text } } },
   or nil and why there is no answer; the audit row either way. */
static int reload_done(lua_State *L, int status, lua_KContext ctx)
{
    BO_UNUSED(status);
    bo_request *r = admin(L, "reload");
    call_box *b = lua_touserdata(L, (int)ctx);
    control_call *c = b->c;
    if (!c || !c->done)
        return luaL_error(L, "reload: the request ended before the server answered");
    const char *app = lua_tostring(L, 1);
    bool rollback = lua_toboolean(L, 2);
    int exit_status = -1;
    lua_createtable(L, 0, 2);               /* the result */
    lua_newtable(L);                        /* its lines */
    int lines = lua_gettop(L);
    lua_Integer n = 0;
    for (size_t at = 0; at < c->in.len && exit_status < 0;) {
        char *line = c->in.data + at;
        char *nl = memchr(line, '\n', c->in.len - at);
        if (!nl)
            break;
        *nl = '\0';
        at = (size_t)(nl - c->in.data) + 1;
        const char *kind;
        const char *text = bo_control_parse(line, &kind);
        if (!text)
            continue;
        if (strcmp(kind, "exit") == 0) {
            exit_status = atoi(text);
            continue;
        }
        lua_createtable(L, 0, 2);
        set_string(L, "kind", kind);
        set_string(L, "text", text);
        lua_rawseti(L, lines, ++n);
    }
    if (exit_status < 0) {
        const char *why = c->error[0] ? c->error : "the server closed the connection without an answer";
        lua_pushnil(L);
        lua_pushstring(L, why);
        call_unref(c);
        b->c = NULL;
        return 2;
    }
    call_unref(c);
    b->c = NULL;
    /* The audit row's detail: what the server said, on one line. */
    luaL_Buffer detail;
    luaL_buffinit(L, &detail);
    for (lua_Integer i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addstring(&detail, "; ");
        lua_rawgeti(L, lines, i);
        lua_getfield(L, -1, "text");
        lua_remove(L, -2);
        luaL_addvalue(&detail);
    }
    luaL_pushresult(&detail);
    char err[400];
    if (bo_platformdb_audit(platform(L, r), r->user->email, rollback ? "app-rollback" : "app-reload", app,
                            lua_tostring(L, -1), err, sizeof err) < 0)
        return luaL_error(L, "the platform audit log: %s", err);
    lua_pop(L, 1);
    lua_setfield(L, -2, "lines");
    set_integer(L, "status", exit_status);
    return 1;
}

/* reload(app [, rollback]): asks the server, as `borough reload APP
   [--rollback]` does, and waits for its answer. */
static int a_reload(lua_State *L)
{
    bo_request *r = admin(L, "reload");
    const char *app = luaL_checkstring(L, 1);
    bool rollback = lua_toboolean(L, 2);
    luaL_argcheck(L, bo_account_app_ok(app), 1, "not an app name");
    lua_settop(L, 2);
    call_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->c = NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &call_mt_key);
    lua_setmetatable(L, -2);
    int box = lua_gettop(L);
    control_call *c = bo_calloc(1, sizeof *c);
    c->refs = 1;
    c->task = &r->task;
    bo_buf_init(&c->in);
    b->c = c;
    int fd;
    char err[400];
    if (bo_control_connect(r->worker->server->cfg.data_dir, &fd, err, sizeof err) < 0) {
        c->done = true;
        snprintf(c->error, sizeof c->error, "%s", err);
        return reload_done(L, LUA_OK, box);
    }
    uv_pipe_init(&r->worker->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->refs++;                        /* the pipe's, until it is closed */
    c->open = true;
    if (uv_pipe_open(&c->pipe, fd) < 0) {
        close(fd);
        c->task = NULL;               /* nothing to wake: it has not waited */
        call_done(c, "cannot use the control socket");
        return reload_done(L, LUA_OK, box);
    }
    int n = snprintf(c->line, sizeof c->line, "%s %s\n", rollback ? "rollback" : "reload", app);
    uv_buf_t buf = uv_buf_init(c->line, (unsigned)n);
    c->write.data = c;
    c->refs++;                        /* the write's, until on_written */
    if (uv_write(&c->write, (uv_stream_t *)&c->pipe, &buf, 1, on_written) < 0) {
        c->refs--;
        c->task = NULL;
        call_done(c, "cannot write to the control socket");
        return reload_done(L, LUA_OK, box);
    }
    bo_task_wait_io(&r->task, call_cancel, c);
    bo_sandbox_push_sentinel(L);
    return lua_yieldk(L, 1, box, reload_done);
}

/* ---- installing ---- */

/* borough._admin(): the private table, once; nil after that. */
static int l_admin(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &private_key);
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &private_key);
    return 1;
}

int bo_ladmin_open(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_gen *g = sb ? sb->owner : NULL;
    if (!g || !g->info->platform) {
        lua_pushnil(L);
        return 1;
    }
    static const luaL_Reg private_fns[] = {
        { "catalog", a_catalog },
        { "catalog_version", a_catalog_version },
        { "my_apps", a_my_apps },
        { "reload", a_reload },
        { "people", a_people },
        { "person", a_person },
        { "add_person", a_add_person },
        { "set_password", a_set_password },
        { "set_role", a_set_role },
        { "set_disabled", a_set_disabled },
        { "reset_two_factor", a_reset_two_factor },
        { "end_sessions", a_end_sessions },
        { "hash_password", a_hash_password },
        { "audit", a_audit },
        { "audit_names", a_audit_names },
        { "verify", a_verify },
        { "queue_counts", a_queue_counts },
        { "queue", a_queue },
        { "retry", a_retry },
        { "cancel", a_cancel },
        { "status", a_status },
        { "tokens", a_tokens },
        { "create_token", a_create_token },
        { "revoke_token", a_revoke_token },
        { NULL, NULL },
    };
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "borough.admin_resource");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &box_mt_key);
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, call_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "borough.admin_call");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &call_mt_key);
    luaL_newlib(L, private_fns);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &private_key);
    lua_pushcfunction(L, l_admin);
    return 1;
}
