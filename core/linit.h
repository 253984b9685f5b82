/*
 * linit.h - the platform's Lua libraries, as one table (see linit.c).
 */
#ifndef BO_LINIT_H
#define BO_LINIT_H

#include <lauxlib.h>

/* Every library an app state gets, in the order they are opened, for
   bo_lapi_open_libs (lapi.h); ends with {NULL, NULL}. */
extern const luaL_Reg bo_platform_libs[];

#endif
