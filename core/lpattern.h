/*
 * lpattern.h - string.find, string.match, string.gmatch and string.gsub with
 * Lua 5.4's exact semantics, but metered. Lua's own matcher backtracks inside
 * C, where the count hook never fires, so a pattern like ("a?"):rep(50) ..
 * ("a"):rep(50) against ("a"):rep(50) would run for ever. This matcher charges
 * its steps to the sandbox budget (bo_sandbox_charge), so such a call ends
 * with an ordinary Lua error when the request's budget is spent.
 */
#ifndef BO_LPATTERN_H
#define BO_LPATTERN_H

#include <lua.h>

/* Replaces find, match, gmatch and gsub in the string table at the top of
   the stack. */
void bo_lpattern_install(lua_State *L);

#endif
