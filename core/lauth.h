/*
 * lauth.h - the C half of staff sign-in for lua/borough/auth.lua: password
 * checks on the thread pool, two-factor codes, sessions started and ended,
 * password changes, throttling of failed attempts (see lauth.c). Single
 * sign-on (lsso.c) adds its functions to the same private table.
 */
#ifndef BO_LAUTH_H
#define BO_LAUTH_H

#include "db.h"

#include <lua.h>
#include <stdint.h>

struct bo_request;

/* Pushes borough._auth, the function that gives auth.lua its private
   table once. */
int bo_lauth_open(lua_State *L);

/* Starts a session for account id in the request r (running in L), ending
   the request's current one: a new token at every sign-in, and a new CSRF
   nonce. Pushes the Set-Cookie value and returns the session's row id.
   Raises if the session cannot be made. */
int64_t bo_lauth_push_session(lua_State *L, struct bo_request *r, bo_db *db, int64_t id);

/* hash_password(password [, email]) for the admin console (ladmin.c):
   the password's argon2id hash, made on the thread pool while the request
   waits; or nil and the policy's message (password.h) when it is refused. */
int bo_lauth_hash(lua_State *L);

/* Installs borough._test_session for `borough test` (cmd_test.c): accounts
   and sessions made directly in data_dir/borough.db for app. */
void bo_lauth_test_open(lua_State *L, const char *data_dir, const char *app);

#endif
