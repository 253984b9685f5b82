/*
 * request.h - one request's life after its head is parsed: choosing who
 * answers (built-in pages, an app's static files, an app route), where its
 * body goes, running the route's handler on the app's generation as a task
 * (task.h: the coroutine, its waits and its budget, shared with jobs), and
 * turning the handler's result into a response.
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
#include "task.h"

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

struct bo_user;
struct bo_apitoken;

/* Why the platform answers in place of a route's handler (the route's
   `public` and `role` options, judged once the head is read, before any
   byte of the body). */
typedef enum bo_refusal {
    BO_REFUSAL_NONE,
    BO_REFUSAL_SIGN_IN,    /* not signed in, the route is not public: 303 to sign in */
    BO_REFUSAL_ROLE,       /* signed in without a role the route needs: 403 page */
    BO_REFUSAL_TOKEN,      /* a route for API tokens without a live one: 401 */
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
    bo_task task;                   /* the handler's coroutine, its waits and budget (task.h);
                                       task.id is the request id */
    int handle_ref;                 /* the Lua handle that req tables point through */
    void *handle;
    struct bo_user *user;           /* who is signed in (session.h), or NULL; owned */
    struct bo_apitoken *token;      /* on a route for API tokens: the token (apitoken.h),
                                       whose service account is user; owned */
    int token_refusal;              /* BO_REFUSAL_TOKEN: why (bo_apitoken_refusal) */
    bo_refusal refusal;             /* BO_TARGET_ROUTE: the handler is not to run */
    bool streaming;                 /* the head is sent; the pump runs */
    uint64_t start_ns;
    int response_status;
    uint64_t response_bytes;
    bool active;
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

/* Where an app's sign-in page is, under its mount (lua/borough/auth.lua). */
#define BO_SIGN_IN_PATH "/_account/sign-in"

/* Response helpers used by the Lua bindings and the built-in pages. */
void bo_request_respond_page(bo_request *r, int status, const char *title, const char *text);
/* Answers that the resource has moved for good to loc (a buffer the call
   frees), with the request's query appended: 301 for GET and HEAD, 308
   (the method kept) for the others. */
void bo_request_moved(bo_request *r, bo_buf *loc);

#endif
