/*
 * meter.h - charging the work C code does for Lua code to the run that
 * asked for it.
 *
 * Lua's count hook meters instructions but never fires inside a C
 * function, so C code whose work grows with its input (the JSON coder,
 * pattern matching, the CSV reader) charges that work itself. A metered
 * state carries a bo_meter, installed by whoever made the state (the
 * sandbox does, for every app state); C code finds it with bo_meter_of and
 * charges steps to it. A state without one is not metered. This keeps the
 * base layer's C code (json.c) free of any knowledge of the sandbox.
 */
#ifndef BO_METER_H
#define BO_METER_H

#include "bo.h"

#include <lua.h>

typedef struct bo_meter {
    /* Charges steps without raising; returns why the run's budget is spent
       (a static string), or NULL while it lasts. */
    const char *(*charge)(struct bo_meter *m, unsigned steps);
    /* Charges steps and raises the budget's error in L when it is spent. */
    void (*charge_or_raise)(lua_State *L, unsigned steps);
} bo_meter;

/* Makes m the meter of L and of every thread of L (m outlives L). May
   raise (memory); call it in protected mode. */
void bo_meter_install(lua_State *L, bo_meter *m);
/* The meter of L, or NULL when L is not metered. Never raises. */
bo_meter *bo_meter_of(lua_State *L);

#endif
