/*
 * lnotify.h - borough._notify: the C half of lua/borough/notify.lua (the
 * outbox writes, the callback token check, the settings the outbox page
 * shows). See notify.h for the outbox and its sender.
 */
#ifndef BO_LNOTIFY_H
#define BO_LNOTIFY_H

#include <lua.h>

/* Pushes borough._notify, the C half of lua/borough/notify.lua. */
int bo_lnotify_open(lua_State *L);

#endif
