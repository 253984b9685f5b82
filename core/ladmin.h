/*
 * ladmin.h - the admin console's C half: the privileged functions only the
 * platform's own app (lua/borough/_site, BO_SITE_APP) receives, as the
 * private table borough._admin() returns once (see ladmin.c).
 */
#ifndef BO_LADMIN_H
#define BO_LADMIN_H

#include <lua.h>

/* borough._admin, for the table of platform libraries (linit.c): pushes
   the function that gives the private table once if the app being loaded
   is the platform's own, else nil. */
int bo_ladmin_open(lua_State *L);

#endif
