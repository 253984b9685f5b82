/*
 * meter.c - where a state keeps its meter (see meter.h): a light userdata
 * in its registry, which every thread of the state shares.
 */
#include "meter.h"

static const char meter_key = 0;

void bo_meter_install(lua_State *L, bo_meter *m)
{
    lua_pushlightuserdata(L, m);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &meter_key);
}

bo_meter *bo_meter_of(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &meter_key);
    bo_meter *m = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return m;
}
