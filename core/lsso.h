/*
 * lsso.h - single sign-on with OpenID Connect for lua/borough/auth.lua:
 * the exchanges with the provider (discovery, the token request, its key
 * set) on the worker's loop while the sign-in's request waits, the ID
 * token verified in C, and the account and session that follow (see
 * lsso.c). The functions join auth.lua's private table (lauth.c).
 */
#ifndef BO_LSSO_H
#define BO_LSSO_H

#include <lua.h>

/* Adds the single sign-on functions to the table on top of L's stack (the
   private table of lauth.c) and registers what they need; called by
   bo_lauth_open. */
void bo_lsso_open(lua_State *L);

/* Frees what the process keeps of the provider (its discovery document
   and key set), once no thread can use it any more (the server's end). */
void bo_lsso_cache_free(void);

#endif
