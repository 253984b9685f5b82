/*
 * ltest.h - the C half of lua/borough/test.lua: a small blocking HTTP/1.1
 * client that `borough test` gives the test state, to speak to the server
 * it runs in-process.
 */
#ifndef BO_LTEST_H
#define BO_LTEST_H

#include <lua.h>

/* Sets borough._test_http (requests go to 127.0.0.1:port) and
   borough._test_mount (mount: the app's path prefix, "" at the root) in a
   state whose `borough` global exists. Raises on a memory error. */
void bo_ltest_open(lua_State *L, int port, const char *mount);

#endif
