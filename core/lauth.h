/*
 * lauth.h - the C half of staff sign-in for lua/borough/auth.lua: password
 * checks on the thread pool, sessions started and ended, password changes,
 * throttling of failed attempts (see lauth.c).
 */
#ifndef BO_LAUTH_H
#define BO_LAUTH_H

#include <lua.h>

/* Installs borough._auth (the private table, given once) in a new app
   state; called by bo_lreq_open. */
void bo_lauth_open(lua_State *L);

/* Installs borough._test_session for `borough test` (cmd_test.c): accounts
   and sessions made directly in data_dir/borough.db for app. */
void bo_lauth_test_open(lua_State *L, const char *data_dir, const char *app);

#endif
