/*
 * lhttp.h - the `http` global of app code: http.request{...}, an outbound
 * HTTP or HTTPS exchange on the worker's event loop while the calling
 * request (or job) waits (see lhttp.c).
 */
#ifndef BO_LHTTP_H
#define BO_LHTTP_H

#include <lua.h>

/* Pushes the http table (and registers what it needs in the state). */
int bo_lhttp_open(lua_State *L);

#endif
