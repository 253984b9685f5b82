/*
 * ldraft.h - borough._drafts(): the private functions lua/borough/form.lua
 * uses to keep forms in progress (drafts) in the app's own database, in the
 * platform's table _borough_drafts, which app SQL may read but not write.
 */
#ifndef BO_LDRAFT_H
#define BO_LDRAFT_H

#include <lua.h>

/* Pushes borough._drafts, a function that hands out the private table
   once. */
int bo_ldraft_open(lua_State *L);

#endif
