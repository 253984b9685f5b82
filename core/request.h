/*
 * request.h - one request's life after its head is parsed: choosing who
 * answers (built-in pages, an app's static files, an app route), running the
 * route's handler as a Lua coroutine on the app's generation, waiting when
 * the handler waits (borough.sleep; outbound I/O later), enforcing the wall
 * clock while it waits, and turning the result into a response.
 *
 * A bo_request is embedded in its connection (one request at a time per
 * connection; pipelined requests queue in the connection's buffer). The
 * connection calls bo_request_route() at the end of the head, to learn the
 * body limit, and bo_request_run() once the body is complete. The request
 * ends by calling bo_conn_request_done().
 */
#ifndef BO_REQUEST_H
#define BO_REQUEST_H

#include "bo.h"
#include "buf.h"
#include "http.h"
#include "router.h"
#include "sandbox.h"

#include <lua.h>
#include <uv.h>

struct bo_conn;
struct bo_worker;
struct bo_gen;
struct bo_app_info;

typedef enum bo_target {
    BO_TARGET_NONE,
    BO_TARGET_ERROR,       /* answer `status` with a plain page */
    BO_TARGET_HEALTH,      /* GET /healthz */
    BO_TARGET_HOME,        /* GET / when no app mounts there */
    BO_TARGET_REDIRECT,    /* /mount -> /mount/ */
    BO_TARGET_STATIC,      /* <mount>/static/... */
    BO_TARGET_ROUTE,       /* an app route */
    BO_TARGET_OPTIONS,     /* OPTIONS on a path some route has */
    BO_TARGET_ASSETS,      /* /assets/...: GOV.UK Frontend and the site's look */
    BO_TARGET_METRICS,     /* GET /metrics (Prometheus), for allowed addresses */
    BO_TARGET_HTTPS,       /* the redirect listener: to the same URL over HTTPS */
} bo_target;

/* What the handler waits for while its coroutine is suspended. */
typedef enum bo_wait {
    BO_WAIT_NONE,
    BO_WAIT_SLEEP,
    BO_WAIT_DRAIN,         /* a streamed body waits for the client to read */
    BO_WAIT_IO,            /* an operation another module started (outbound HTTP) */
} bo_wait;

struct bo_job;
struct bo_user;

/* Why the platform answers in place of a route's handler (the route's
   `public` and `role` options, judged once the head is read, before any
   byte of the body). */
typedef enum bo_refusal {
    BO_REFUSAL_NONE,
    BO_REFUSAL_SIGN_IN,    /* not signed in, the route is not public: 303 to sign in */
    BO_REFUSAL_ROLE,       /* signed in without a role the route needs: 403 page */
} bo_refusal;

/* The most body bytes read (into memory, then dropped) for a refused
   request, so that the answer can go on a kept connection: a small form.
   A longer body, or a chunked one, is not read: the answer goes at once
   and the connection closes. */
#define BO_REFUSED_BODY_MAX (16 * 1024)

typedef struct bo_request {
    struct bo_conn *conn;
    struct bo_worker *worker;
    bo_http_request *http;          /* the parsed request, owned by the conn */
    bo_target target;
    int status;                     /* for BO_TARGET_ERROR */
    const char *error_detail;       /* static, shown on error pages */
    struct bo_app_info *app;        /* the app chosen, if any (borrowed from the worker: a
                                       catalog swap may free it before the request ends,
                                       unless gen holds it) */
    struct bo_metrics_app *metrics; /* the row counting it (its name outlives any swap) */
    struct bo_gen *gen;             /* its generation; inflight counted */
    uint32_t rest;                  /* in-app path: offset into the path */
    uint32_t rest_len;
    bo_route_match match;
    bo_buf scratch;                 /* decoded route params */
    lua_State *co;                  /* the handler's coroutine */
    int co_ref;
    int handle_ref;                 /* the Lua handle that req tables point through */
    void *handle;
    bo_budget budget;
    bo_wait wait;
    uint64_t wait_ms;
    void (*io_cancel)(void *ctx);   /* BO_WAIT_IO: abandons the operation waited for */
    void *io_ctx;
    struct bo_user *user;           /* who is signed in (session.h), or NULL; owned */
    struct bo_export *export;       /* a download being sent (lentity.h), or NULL; owned */
    bo_refusal refusal;             /* BO_TARGET_ROUTE: the handler is not to run */
    struct bo_job *job;             /* set for a background job's run: no connection
                                       (conn and http are NULL), results discarded */
    bool drained;
    bool streaming;                 /* the head is sent; the pump runs */
    uv_timer_t timer;               /* sleeps, and the wall clock while waiting */
    uint64_t start_ns;
    int response_status;
    uint64_t response_bytes;
    bool active;
    char id[32];
} bo_request;

/* Sets up the embedded request of a new connection (its timer included). */
void bo_request_init(bo_request *r, struct bo_conn *c, struct bo_worker *w);
/* Closes the timer handle; calls done(c) once it is closed. */
void bo_request_close(bo_request *r, void (*done)(uv_handle_t *));

/* Chooses the target once the head is parsed and, for an app route, who
   is signed in and whether the route lets them in (r->refusal). Returns the
   body limit in bytes (0 when no body is accepted; at most
   BO_REFUSED_BODY_MAX for a refused request). */
size_t bo_request_route(bo_request *r);
/* Gives the request a new id (routing does; the connection's own answers
   to requests it could not route do too). */
void bo_request_new_id(bo_request *r);
/* Called once the head is routed, before any body byte: a multipart body
   to an app route that lets the request in is set to stream to a
   multipart parser with the route's upload rules (file parts to temporary
   files); any other body is gathered by the parser. Returns 0, or the
   status to refuse the body with. */
int bo_request_body_begin(bo_request *r, bo_http_parser *p);
/* Runs the request once its body is complete; may finish synchronously. */
void bo_request_run(bo_request *r);
/* Forgets a routed request whose body never arrived complete (parse error,
   timeout, closed connection). */
void bo_request_abort(bo_request *r);

/* Records what a suspending platform function waits for; for a sleep,
   ms is its length. The wall-clock cap still applies while it waits. */
void bo_request_wait(bo_request *r, bo_wait kind, uint64_t ms);

/* Records that the running coroutine waits for an operation another module
   has started (an outbound HTTP exchange). If the request must end first (its
   wall clock runs out, the server stops), cancel(ctx) is called to abandon
   the operation, so that its completion never comes, before the coroutine is
   resumed to fail where it waited. Otherwise the module calls
   bo_request_wake() when the operation completes; the platform function that
   waited pushes its results in its continuation (lua_yieldk), inside the
   coroutine, so a memory error there stays in protected mode. */
void bo_request_wait_io(bo_request *r, void (*cancel)(void *ctx), void *ctx);
/* The operation r waits for (bo_request_wait_io) has completed: resumes its
   coroutine. Call it from a loop callback, never from inside Lua code. */
void bo_request_wake(bo_request *r);

/* Runs a background job (jobs.c) on r, which has no connection: r->job is
   set, r->id names the run, and g is the generation it runs on (counted in
   its inflight until the run ends). main(co) is the coroutine's body; it
   finds r as a light userdata at index 1. Results are discarded; a failure
   is handed to bo_job_failed(), and bo_job_ended() runs when the run is
   over (possibly before this returns). */
void bo_request_run_job(bo_request *r, struct bo_gen *g, struct bo_metrics_app *metrics, lua_CFunction main);

/* Ends a waiting request at once (the server is stopping): its handler
   fails with why at the point where it waited. */
void bo_request_kill(bo_request *r, const char *why);

/* The connection has written enough for a waiting streamed body to go on. */
void bo_request_drained(bo_request *r);

/* Where an app's sign-in page is, under its mount (lua/borough/auth.lua). */
#define BO_SIGN_IN_PATH "/_account/sign-in"

/* Response helpers used by the Lua bindings and the built-in pages. */
void bo_request_respond_page(bo_request *r, int status, const char *title, const char *text);
/* Answers that the resource has moved for good to loc (a buffer the call
   frees), with the request's query appended: 301 for GET and HEAD, 308
   (the method kept) for the others. */
void bo_request_moved(bo_request *r, bo_buf *loc);

#endif
