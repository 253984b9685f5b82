/*
 * lview.h - the C half of templates: reading the views folders as text.
 *
 * Templates are compiled in Lua (lua/borough/view.lua) into Lua source and
 * loaded as text in the app's sandbox; C only lists and reads the files,
 * so that app code itself never gets file access.
 */
#ifndef BO_LVIEW_H
#define BO_LVIEW_H

#include <lua.h>

/* Pushes a table of borough._site and borough._view_sources. */
int bo_lview_open(lua_State *L);

#endif
