/*
 * app.h - an app folder and its loaded generations.
 *
 * bo_app_info is what the server knows about one app folder after loading
 * it: name, folder, mount, host, title, limits, or the error that stopped it
 * loading. It is immutable and shared by every worker (reference counted).
 *
 * bo_gen is one loaded generation of an app inside one thread: its sandboxed
 * Lua state, compiled routes, handlers and database handle. Each worker holds
 * its own bo_gen per app; the main thread loads one too, to judge an app and
 * run its migrations before any worker takes it. A generation stays alive
 * while requests run on it, and is freed once it is retired and idle.
 */
#ifndef BO_APP_H
#define BO_APP_H

#include "bo.h"
#include "db.h"
#include "router.h"
#include "sandbox.h"
#include "snapshot.h"

#include <stdatomic.h>

struct sockaddr;

#define BO_DEFAULT_MAX_BODY (1024 * 1024)
/* Event streams an app may have open at once unless limits.streams says. */
#define BO_DEFAULT_MAX_STREAMS 1000
#define BO_MAX_STREAMS_MAX 100000

/* The platform's own app: its folder under the platform library, its name
   (reserved: an apps folder may not hold a folder of that name), the path
   prefix it always answers (the admin console), and the one it answers
   with "/" itself (sign-in) when no app holds the root. It sees whole
   paths, as if mounted at the root; no app may mount at either prefix. */
#define BO_SITE_APP "_site"
#define BO_SITE_DIR "borough/_site"
#define BO_SITE_ADMIN "/_admin"
#define BO_SITE_ACCOUNT "/_account"

typedef struct bo_app_info {
    atomic_int refs;
    char *name;            /* the folder name */
    char *dir;             /* the folder path as configured, e.g. "apps/grants" */
    char *mount;           /* normalised: "" for the root, "/grants"; NULL if host-only */
    char *host;            /* virtual host, or NULL */
    char *title;
    char *description;     /* the manifest's one line for the front door, or NULL */
    char *error;           /* why it did not load ("apps/x/app.lua:12: ..."), or NULL */
    bo_limits limits;
    size_t max_body;
    unsigned max_streams;  /* event streams open at once, all workers (limits.streams) */
    bool public_;
    bool open_start;       /* its start page (GET / under its mount) needs no sign-in */
    char **allow_hosts;    /* hosts http.request may reach: "host", "host:port",
                              "*.domain" (lower case) */
    unsigned nallow_hosts;
    uint64_t generation;   /* counts loads of this folder */
    int64_t loaded_ms;     /* when this version was judged (Unix ms), or 0 */
    bool platform;         /* the platform's own app (BO_SITE_APP): the front door and
                              /_admin, given the console's bindings (ladmin.h) */
    bo_snapshot *snapshot; /* the source every generation of it loads from (owned),
                              or NULL to read the folder itself */
    struct bo_loadcache *cache; /* left by the judging load for the others (owned) */
} bo_app_info;

/* Where things live; shared by every load. */
/* Where a load finds things, and what it opens into each new state. */
typedef struct bo_paths {
    const char *data_dir;  /* data/: app databases under data/<app>/ */
    const char *lib_dir;   /* lua/: the platform library */
    const char *public_url;  /* the site's address from outside, without a trailing
                                slash, for absolute links (borough.url); NULL when no
                                server runs (check, import) */
    const struct luaL_Reg *libs;  /* the platform's C libraries (linit.h) */
    struct bo_bus *bus;    /* live updates: the server's bus (bus.h), or NULL when no
                              server runs */
} bo_paths;

typedef struct bo_gen_route {
    int handler_ref;       /* the handler function, in the registry */
    bool public_;
    bool csrf;
    bool token;            /* for other systems with an API token (apitoken.h), not
                              people: Authorization: Bearer, never a cookie */
    char *role;
    size_t max_body;
    char *where;           /* "apps/x/app.lua:12:", the app's line that declared it */
} bo_gen_route;

typedef struct bo_gen {
    bo_app_info *info;     /* a reference */
    bo_sandbox sb;
    bo_routes routes;
    bo_gen_route *route_opts;   /* indexed by bo_route.index */
    unsigned nroutes;
    const bo_paths *paths;
    char *db_path;
    bo_db *db;             /* opened on first use */
    bo_db *platform_db;    /* data/borough.db for the platform audit rows app code
                              causes (reads of sealed fields, downloads), opened
                              on first use */
    unsigned inflight;     /* requests running on this generation */
    bool retired;          /* replaced; freed when inflight drops to 0 */
    bool primary;          /* the main thread's load: may migrate */
    bool judging;          /* while the load that judges a new version runs: it
                              may fill info->cache */
    bool poisoned;         /* its state is near the memory cap: replace it */
    bool events_pending;   /* events published in a transaction not yet committed
                              (levents.c announces them when it commits) */
    bool events_table;     /* PostgreSQL: its events table was seen (levents.c) */
    bool events_made_tx;   /* ... made in a transaction not known to have committed */
    char *static_root;     /* resolved <app>/static, or NULL */
    struct bo_gen_jobs *jobs;   /* handlers and schedules it declares (jobs.c) */
    lua_State **pool;      /* finished request threads, ready for reuse */
    int *pool_refs;
    unsigned npool;
} bo_gen;

/* Creates an info for the app folder dir (named by its last component),
   with defaults and no load yet. Returns a new reference. */
bo_app_info *bo_app_info_new(const char *dir);
bo_app_info *bo_app_info_ref(bo_app_info *info);
void bo_app_info_unref(bo_app_info *info);
/* True if the manifest's allow_hosts lets the app reach host (lower case)
   on port: an entry "host" allows any port, "host:port" that port, and
   "*.domain" any host under domain (not domain itself). */
bool bo_app_allows_host(const bo_app_info *info, const char *host, int port);
/* Whether the app may connect to addr (a name's resolved address, or a
   literal one) at port: any address that is not internal (netaddr.h), and
   an internal one only when an allow_hosts entry is that very address
   ("127.0.0.1", "127.0.0.1:8443" at that port), never through a name. */
bool bo_app_allows_address(const bo_app_info *info, int port, const struct sockaddr *addr);

/* Loads the app folder of info into a new generation: runs app.lua in a new
   sandbox and compiles its routes. The app's own files come from
   info->snapshot when it has one. On success returns 0 and *out; if
   fill_info is set, the manifest (title, mount, host, limits) is written
   into info (only while info is not yet shared). On failure returns a BO_E*
   code with a one-line reason in err ("apps/x/app.lua:12: ..."). */
int bo_gen_load(bo_gen **out, bo_app_info *info, const bo_paths *paths, bool primary,
                bool fill_info, char *err, size_t errlen);
void bo_gen_free(bo_gen *g);

/* Opens the app database on first use; returns NULL with err set on failure. */
bo_db *bo_gen_db(bo_gen *g, char *err, size_t errlen);
/* Opens data/borough.db (created and migrated if missing) on first use;
   returns NULL with err set on failure. */
bo_db *bo_gen_platform_db(bo_gen *g, char *err, size_t errlen);

/* A thread to run a request on (from the pool or new), referenced in the
   registry; *ref receives the reference. */
lua_State *bo_gen_thread(bo_gen *g, int *ref);
/* Gives a thread back: pooled if it finished cleanly, else released. */
void bo_gen_thread_release(bo_gen *g, lua_State *co, int ref, bool clean);

/* The folder of the platform's own app under the library lib_dir (new). */
char *bo_app_site_dir(const char *lib_dir);

/* Lists the app folders under apps_dir (those holding app.lua), sorted by
   name. Returns the count and a new array of new strings, or -1 with err. */
int bo_app_scan(const char *apps_dir, char ***dirs, char *err, size_t errlen);

#endif
