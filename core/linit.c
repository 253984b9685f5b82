/*
 * linit.c - the platform's Lua libraries, opened into each new app state
 * from this one table, as Lua's own linit.c lists the standard ones.
 *
 * Each entry's function pushes one value, stored under the entry's name: a
 * global, or a field of the borough table ("borough._jobs"). Entries named
 * alike add their functions to one table: the borough table gathers the
 * functions of several modules. The table sits in the serve layer because
 * some libraries need a request (lreq, lauth, lhttp); the loads that make
 * app states (app.c, in the lua layer) receive it through bo_paths.
 */
#include "linit.h"
#include "ladmin.h"
#include "lapi.h"
#include "lauth.h"
#include "lcsv.h"
#include "ldraft.h"
#include "lentity.h"
#include "levents.h"
#include "lfields.h"
#include "lhttp.h"
#include "ljobs.h"
#include "lnotify.h"
#include "loadcache.h"
#include "lreq.h"
#include "lview.h"
#include "json.h"

const luaL_Reg bo_platform_libs[] = {
    { "borough", bo_lapi_open },              /* json, text, status, escape, sleep, ... */
    { "borough", bo_lreq_open },              /* user, csrf_token, file, redirect, url, ... */
    { "borough", bo_lview_open },             /* _site, _view_sources */
    { "borough", bo_loadcache_open },         /* _load_cache_get, _load_cache_put */
    { "borough._jobs", bo_ljobs_open },
    { "borough._notify", bo_lnotify_open },
    { "borough._drafts", bo_ldraft_open },
    { "borough._events", bo_levents_open },
    { "borough._platform", bo_lentity_open },
    { "borough._auth", bo_lauth_open },
    { "borough._admin", bo_ladmin_open },     /* the platform's own app only (nil for others) */
    { "borough._fields", bo_lfields_open },
    { "borough.csv", bo_lcsv_open },
    { "borough.csv", bo_lreq_csv_open },      /* upload */
    { "log", bo_lapi_log_open },
    { "json", bo_json_open },
    { "db", bo_ldb_open },
    { "http", bo_lhttp_open },
    { NULL, NULL },
};
