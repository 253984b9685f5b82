/*
 * lreq.h - requests and responses as Lua sees them.
 *
 * The req table a handler receives is filled lazily: each field (method,
 * path, params, query, form, headers, body, cookies, ...) is computed on
 * first access from the parsed request and then cached in the table, so a
 * handler pays only for what it reads. The table reaches the C request
 * through a small handle that is cut when the request ends, so a req kept
 * past its request reads as empty instead of touching freed memory.
 *
 * What a handler returns becomes the response: a string (200, text/html), a
 * table {status=, headers=, body=} as made by borough.json/redirect/status,
 * or nothing (204). A body may be a function returning the next chunk of
 * text each call (nil at the end): the response is then streamed.
 */
#ifndef BO_LREQ_H
#define BO_LREQ_H

#include "http.h"

#include <lua.h>

struct bo_gen;
struct bo_upload_rule;

struct bo_request;

/* Prepares a new app state (metatables, the stream pump) and pushes the
   borough functions that need the request (borough.user, csrf_token, file,
   redirect, url, ...); and borough.csv's upload (a reader over one of the
   request's own uploads). */
int bo_lreq_open(lua_State *L);
int bo_lreq_csv_open(lua_State *L);

/* The function a request's coroutine starts with: its argument is the
   request (light userdata); it builds req and calls the route's handler. */
int bo_lreq_main(lua_State *co);

/* Turns the handler's results (above index base on co) into a response on
   the request's connection; run in protected mode with the request as its
   first argument. Returns 1 with the body function on top when the body is
   to be streamed, else 0. */
int bo_lreq_respond(lua_State *co);

/* Pushes the pump that streams a body function: call it with the function. */
void bo_lreq_push_pump(lua_State *co);

/* The language a request asks for: ?lang=, else the borough_lang cookie,
   else the first supported one in Accept-Language; NULL if none ("en" and
   "cy" are supported). bo_lreq_lang_asked() looks at ?lang= only. */
const char *bo_lreq_lang(const bo_http_request *h);
/* The value of the request's cookie name (len bytes, not NUL-terminated),
   or NULL. */
const char *bo_lreq_cookie(const bo_http_request *h, const char *name, size_t *len);
const char *bo_lreq_lang_asked(const bo_http_request *h);

/* Copies the upload rules the app declared for route (its index in g) into
   rules (at most cap). Returns how many, or -1 if they could not be read. */
int bo_lreq_upload_rules(struct bo_gen *g, unsigned route, struct bo_upload_rule *rules, unsigned cap);

/* Gives the browser a new CSRF nonce (the response sets the cookie; tokens
   made later in the request use it): sign-in and sign-out call it, so no
   token made before either passes after it. Runs in the request's own
   coroutine L; may raise (memory). */
void bo_lreq_csrf_rotate(lua_State *L, struct bo_request *r);

/* Cuts the req handle of a finished request. */
void bo_lreq_release(struct bo_request *r);


#endif
