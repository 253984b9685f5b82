/*
 * i18n.h - the platform's messages for pages the C core writes itself
 * (error pages, the home page), in the request's language.
 *
 * The messages are those of lua/borough/messages/<lang>.lua, the same
 * tables the Lua side uses: each file is run once per process in a bare Lua
 * state (no libraries; it only returns a table of strings) and its strings
 * are kept for the life of the process, shared by every worker.
 */
#ifndef BO_I18N_H
#define BO_I18N_H

#include "bo.h"

/* The message key in lang ("en" or "cy"; NULL is "en"), falling back to
   English, then to key itself. lib_dir is the platform's lua/ folder. The
   string lives as long as the process. */
const char *bo_i18n(const char *lib_dir, const char *lang, const char *key);

#endif
