/*
 * ldraft.h - borough._drafts(): the private functions lua/borough/form.lua
 * uses to keep forms in progress (drafts) in the app's own database, in the
 * platform's table _borough_drafts, which app SQL may read but not write.
 */
#ifndef BO_LDRAFT_H
#define BO_LDRAFT_H

#include <lua.h>

/* Puts borough._drafts (a function that hands out the private table once)
   into the borough table at the top of the stack. */
void bo_ldraft_open(lua_State *L);

#endif
