/*
 * lview.c - the C half of templates (see lview.h): reading an app's views
 * folder (and the platform's) as text for lua/borough/view.lua to compile.
 *
 * borough._view_sources(which) returns an array of { name = "cases/show",
 * path = "apps/grants/views/cases/show.html", source = "..." }, one per
 * *.html file under the app's views/ folder (which = "app") or the
 * platform's lua/borough/views/ (which = "platform"), sorted by name.
 * Dot files, symlinks and anything but regular files and folders are
 * skipped; a view may be at most 1 MiB, a folder at most 8 levels deep and
 * there may be at most 2000 views.
 */
#include "lview.h"
#include "app.h"
#include "assets.h"
#include "buf.h"
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VIEW_MAX_BYTES (1024 * 1024)
#define VIEW_MAX_DEPTH 8
#define VIEW_MAX_COUNT 2000

/* A folder's entry names, NUL-separated, owned by a userdata so that a Lua
   error while they are turned into views cannot leak them. */
static int names_gc(lua_State *L)
{
    bo_buf_free(lua_touserdata(L, 1));
    return 0;
}

/* Pushes a userdata holding the names of dir's entries (NUL-separated), or
   nil if dir cannot be opened. */
static bo_buf *push_names(lua_State *L, const char *dir)
{
    bo_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
    bo_buf_init(b);
    if (luaL_newmetatable(L, "borough.view_names")) {
        lua_pushcfunction(L, names_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    DIR *d = opendir(dir);
    if (!d) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return NULL;
    }
    struct dirent *e;
    while ((e = readdir(d))) {     /* no Lua call while d is open */
        if (e->d_name[0] == '.')
            continue;
        bo_buf_append(b, e->d_name, strlen(e->d_name) + 1);
    }
    closedir(d);
    return b;
}

/* Reads the file at path into a new string on the stack; raises on error. */
static void push_file(lua_State *L, const char *path, const char *shown, off_t size)
{
    if (size > VIEW_MAX_BYTES)
        luaL_error(L, "%s: a view may be at most 1 MiB", shown);
    luaL_Buffer lb;
    char *dst = luaL_buffinitsize(L, &lb, (size_t)size + 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        luaL_error(L, "%s: cannot read: %s", shown, strerror(errno));
    size_t got = 0;
    while (got < (size_t)size) {             /* no Lua call while fd is open */
        ssize_t n = read(fd, dst + got, (size_t)size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    luaL_pushresultsize(&lb, got);
}

/* Adds the views under dir/rel to the array at index t. */
static void walk(lua_State *L, int t, const char *root, const char *shown_root, const char *rel,
                 int depth)
{
    if (depth > VIEW_MAX_DEPTH)
        luaL_error(L, "%s/%s: views are nested too deeply", shown_root, rel);
    const char *dir = rel[0] ? lua_pushfstring(L, "%s/%s", root, rel) : lua_pushstring(L, root);
    bo_buf *names = push_names(L, dir);
    if (!names) {
        lua_pop(L, 2);
        return;
    }
    int keep = lua_gettop(L);
    for (size_t off = 0; off < names->len;) {
        const char *name = names->data + off;
        off += strlen(name) + 1;
        const char *sub = rel[0] ? lua_pushfstring(L, "%s/%s", rel, name) : lua_pushstring(L, name);
        const char *full = lua_pushfstring(L, "%s/%s", root, sub);
        struct stat st;
        if (lstat(full, &st) != 0) {
            lua_settop(L, keep);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            walk(L, t, root, shown_root, sub, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            size_t n = strlen(sub);
            if (n > 5 && strcmp(sub + n - 5, ".html") == 0) {
                if (luaL_len(L, t) >= VIEW_MAX_COUNT)
                    luaL_error(L, "%s: more than %d views", shown_root, VIEW_MAX_COUNT);
                lua_createtable(L, 0, 3);
                lua_pushlstring(L, sub, n - 5);
                lua_setfield(L, -2, "name");
                const char *shown = lua_pushfstring(L, "%s/%s", shown_root, sub);
                lua_setfield(L, -2, "path");
                push_file(L, full, shown, st.st_size);
                lua_setfield(L, -2, "source");
                lua_rawseti(L, t, luaL_len(L, t) + 1);
            }
        }
        lua_settop(L, keep);
    }
    lua_pop(L, 2);    /* the names, the folder */
}

/* Adds the views of the app's source snapshot (see snapshot.h) to the array
   at index t: the version of the templates that goes with the code being
   loaded, even when the files on disk have changed since (rollback). */
static void from_snapshot(lua_State *L, int t, const bo_snapshot *snap, const char *shown_root)
{
    for (unsigned i = 0; i < snap->nfiles; i++) {
        const bo_snapshot_file *f = &snap->files[i];
        size_t n = strlen(f->path);
        if (n <= 11 || strncmp(f->path, "views/", 6) != 0 || strcmp(f->path + n - 5, ".html") != 0)
            continue;
        const char *sub = f->path + 6;
        if (f->len > VIEW_MAX_BYTES)
            luaL_error(L, "%s/%s: a view may be at most 1 MiB", shown_root, sub);
        if (luaL_len(L, t) >= VIEW_MAX_COUNT)
            luaL_error(L, "%s: more than %d views", shown_root, VIEW_MAX_COUNT);
        lua_createtable(L, 0, 3);
        lua_pushlstring(L, sub, n - 11);
        lua_setfield(L, -2, "name");
        lua_pushfstring(L, "%s/%s", shown_root, sub);
        lua_setfield(L, -2, "path");
        lua_pushlstring(L, f->data, f->len);
        lua_setfield(L, -2, "source");
        lua_rawseti(L, t, luaL_len(L, t) + 1);
    }
}

/* borough._view_sources("app" | "platform") */
static int l_view_sources(lua_State *L)
{
    static const char *const which[] = { "app", "platform", NULL };
    int w = luaL_checkoption(L, 1, NULL, which);
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_gen *g = sb ? sb->owner : NULL;
    lua_newtable(L);
    int t = lua_gettop(L);
    if (!g)
        return 1;
    if (w == 0 && sb->snapshot) {
        from_snapshot(L, t, sb->snapshot, lua_pushfstring(L, "%s/views", g->info->dir));
    } else if (w == 0) {
        const char *root = lua_pushfstring(L, "%s/views", sb->app_dir);
        const char *shown = lua_pushfstring(L, "%s/views", g->info->dir);
        walk(L, t, root, shown, "", 0);
    } else {
        const char *root = lua_pushfstring(L, "%s/borough/views", sb->lib_dir);
        walk(L, t, root, "lua/borough/views", "", 0);
    }
    lua_settop(L, t);
    return 1;
}

/* borough._site(): the deployment's look (site.conf) as a table:
   { name, url, logo (a URL or nil), assets ("/assets/<version>") }. */
static int l_site(lua_State *L)
{
    bo_sandbox *sb = bo_sandbox_of(L);
    bo_gen *g = sb ? sb->owner : NULL;
    lua_createtable(L, 0, 4);
    if (!g)
        return 1;
    const bo_site *site = bo_site_get(g->paths->data_dir);
    const bo_assets *a = bo_assets_get(sb->lib_dir);
    lua_pushstring(L, site->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, site->url);
    lua_setfield(L, -2, "url");
    if (site->logo) {
        lua_pushstring(L, site->logo);
        lua_setfield(L, -2, "logo");
    }
    lua_pushstring(L, a->prefix);
    lua_setfield(L, -2, "assets");
    return 1;
}

int bo_lview_open(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, l_site);
    lua_setfield(L, -2, "_site");
    lua_pushcfunction(L, l_view_sources);
    lua_setfield(L, -2, "_view_sources");
    return 1;
}
