/*
 * template.c - fuzzes the template compiler (lua/borough/view.lua) in a
 * sandbox set up as an app's is (core/app.c: the platform API, then
 * require "borough"), with borough._view_sources giving it the input as the
 * app's one view.
 *
 * For every input: the load of the view either refuses it with a message
 * of the form "apps/fuzz/views/page.html:LINE: why" (LINE within the
 * template; not an error inside the platform, nor Lua's "C stack overflow"
 * when the code made from it nests too deeply), or succeeds. The view is
 * then rendered with a context of hostile strings; a run-time error is the
 * template's business, but output made without `safe` or `html` anywhere
 * in the template never holds a context string unescaped, a context URL at
 * the start of an attribute value that is not http, https, mailto, tel or
 * relative, nor an attribute that came from a context value. (How the browser reads a URL attribute as a whole:
 * leading spaces, entities, text written before the output, is for the
 * template URL checks; see docs/security.md.)
 */
#include "fuzz.h"

#include "buf.h"
#include "lapi.h"
#include "linit.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <string.h>
#include <strings.h>

static bo_sandbox sb;
static int driver_ref;

/* Given the template's source, returns what happened ("compile", "runtime",
   "render") and the message or the output. */
static const char driver[] =
    "local view = require 'borough.view'\n"
    "local path = 'apps/fuzz/views/page.html'\n"
    "local source\n"
    "borough._view_sources = function(which)\n"
    "  if which ~= 'app' then return {} end\n"
    "  return { { name = 'page', path = path, source = source } }\n"
    "end\n"
    "local hostile = \"<zq x='1'>\\\"&\"\n"
    "local ctx = { name = hostile, items = { hostile, 'b', { a = hostile } }, n = 3, f = 1.5,\n"
    "  flag = true, obj = { a = hostile, b = { c = hostile } }, url = 'javascript:alert(1)',\n"
    "  word = 'img src=x onerror=alert(1)',\n"
    "  empty = {}, cases = { { id = 1, name = hostile }, { id = 2, name = 'b' } } }\n"
    "return function(src)\n"
    "  source = src\n"
    "  local ok, err = pcall(view.load_all)\n"
    "  if not ok then return 'compile', tostring(err) end\n"
    "  local out\n"
    "  ok, out = pcall(view.render, 'page', ctx)\n"
    "  if not ok then return 'runtime', tostring(out) end\n"
    "  return 'render', out\n"
    "end\n";

static int open_platform(lua_State *L)
{
    bo_lapi_open_libs(L, bo_platform_libs);
    lua_pushliteral(L, "fuzz");
    lua_setfield(L, LUA_REGISTRYINDEX, "bo.app_name");
    lua_getglobal(L, "require");
    lua_pushliteral(L, "borough");
    lua_call(L, 1, 0);
    if (bo_sandbox_load(L, driver, sizeof driver - 1, "=driver") != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, 1);
    return 1;
}

static bool bad_markup(const char *s, size_t n);

static void setup(void)
{
    /* The oracle itself: a URL attribute, not text or another value. */
    static const char yes[] = "<p><a class='x' href = \"JavaScript:x\">", no[] = "<a title='href=\"javascript:x'>";
    static const char tag[] = "<img src=x onerror=alert(1)>", text[] = "<p>img src=x onerror=alert(1)</p>";
    FUZZ_CHECK(bad_markup(yes, sizeof yes - 1) && !bad_markup(no, sizeof no - 1));
    FUZZ_CHECK(bad_markup(tag, sizeof tag - 1) && !bad_markup(text, sizeof text - 1));
    bo_limits limits = bo_limits_default;
    limits.wall_ms = 0;
    FUZZ_CHECK(bo_sandbox_open(&sb, &limits, FUZZ_ROOT "/tests/fuzz", FUZZ_ROOT "/lua") == 0);
    bo_budget budget;
    bo_limits load = limits;
    load.instructions *= 100;
    bo_budget_start(&budget, &load);
    bo_budget *previous = bo_sandbox_enter(&sb, &budget);
    lua_pushcfunction(sb.L, open_platform);
    if (lua_pcall(sb.L, 0, 1, 0) != LUA_OK)
        fprintf(stderr, "template harness: %s\n", lua_tostring(sb.L, -1));
    FUZZ_CHECK(lua_isfunction(sb.L, -1));
    driver_ref = luaL_ref(sb.L, LUA_REGISTRYINDEX);
    bo_sandbox_leave(&sb, previous);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_url_attr(const char *name, size_t n)
{
    static const char *const url_attrs[] = { "href", "src", "action", "formaction", "poster", "cite", "data",
                                             "srcset", "background", "icon", "longdesc", "manifest", "ping",
                                             "usemap", "codebase", "xlink:href" };
    for (size_t k = 0; k < BO_COUNT(url_attrs); k++)
        if (strlen(url_attrs[k]) == n && strncasecmp(name, url_attrs[k], n) == 0)
            return true;
    return false;
}

/* True if, read as a browser tokenizes HTML (simplified: tags, attributes
   quoted or not, comments, elements whose content is not markup), s[0..n)
   has a URL attribute whose value starts with javascript:, or an onerror
   attribute (which only a context value can have brought). */
static bool bad_markup(const char *s, size_t n)
{
    static const char *const raw[] = { "script", "style", "textarea", "title", "xmp", "iframe", "noembed",
                                       "noframes", "noscript" };
    size_t i = 0;
    while (i < n) {
        if (s[i] != '<') {
            i++;
            continue;
        }
        if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {          /* a comment */
            const char *end = memmem(s + i + 4, n - i - 4, "-->", 3);
            i = end ? (size_t)(end - s) + 3 : n;
            continue;
        }
        bool closing = i + 1 < n && s[i + 1] == '/';
        size_t name = i + 1 + closing;
        if (name >= n || !is_letter(s[name])) {
            if (i + 1 < n && (s[i + 1] == '!' || s[i + 1] == '?' || closing)) {   /* a bogus comment */
                const char *end = memchr(s + i, '>', n - i);
                i = end ? (size_t)(end - s) + 1 : n;
            } else {
                i++;
            }
            continue;
        }
        size_t p = name;
        while (p < n && !is_space(s[p]) && s[p] != '/' && s[p] != '>')
            p++;
        size_t name_len = p - name;
        /* The attributes. */
        for (;;) {
            while (p < n && (is_space(s[p]) || s[p] == '/'))
                p++;
            if (p >= n || s[p] == '>')
                break;
            size_t a = p++;
            while (p < n && !is_space(s[p]) && s[p] != '/' && s[p] != '>' && s[p] != '=')
                p++;
            size_t a_len = p - a;
            if (!closing && a_len == 7 && strncasecmp(s + a, "onerror", 7) == 0)
                return true;
            while (p < n && is_space(s[p]))
                p++;
            if (p >= n || s[p] != '=')
                continue;
            p++;
            while (p < n && is_space(s[p]))
                p++;
            size_t v = p, v_end;
            if (p < n && (s[p] == '"' || s[p] == '\'')) {
                const char *q = memchr(s + p + 1, s[p], n - p - 1);
                v = p + 1;
                v_end = q ? (size_t)(q - s) : n;
                p = q ? v_end + 1 : n;
            } else {
                while (p < n && !is_space(s[p]) && s[p] != '>')
                    p++;
                v_end = p;
            }
            if (!closing && is_url_attr(s + a, a_len) && v_end - v >= 11 && strncasecmp(s + v, "javascript:", 11) == 0)
                return true;
        }
        i = p < n ? p + 1 : n;
        /* Elements whose content is not markup run to their end tag. */
        for (size_t k = 0; k < BO_COUNT(raw) && !closing; k++) {
            if (strlen(raw[k]) != name_len || strncasecmp(s + name, raw[k], name_len) != 0)
                continue;
            while (i < n && !(s[i] == '<' && i + 1 < n && s[i + 1] == '/' && n - i - 2 >= name_len &&
                              strncasecmp(s + i + 2, raw[k], name_len) == 0))
                i++;
            break;
        }
    }
    return false;
}

/* True if s[0..n) holds what, in any case (filters may change it). */
static bool contains(const char *s, size_t n, const char *what)
{
    size_t w = strlen(what);
    for (size_t i = 0; i + w <= n; i++)
        if (strncasecmp(s + i, what, w) == 0)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sb.L)
        setup();
    lua_State *L = sb.L;
    const char *src = (const char *)data;
    bo_budget budget;
    bo_budget_start(&budget, &sb.limits);
    bo_budget *previous = bo_sandbox_enter(&sb, &budget);
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, driver_ref);
    lua_pushlstring(L, src, size);
    int rc = lua_pcall(L, 1, 2, 0);
    bool spent = budget.spent != NULL;
    bo_sandbox_leave(&sb, previous);
    if (rc != LUA_OK) {
        /* Only the budget or the memory cap may stop the driver itself. */
        FUZZ_CHECK(spent || rc == LUA_ERRMEM);
        lua_settop(L, 0);
        return 0;
    }
    const char *what = lua_tostring(L, 1);
    size_t n;
    const char *text = lua_tolstring(L, 2, &n);
    FUZZ_CHECK(what && text);
    if (getenv("FUZZ_SHOW")) {
        fprintf(stderr, "%s: ", what);
        fwrite(text, 1, n, stderr);
        fputc('\n', stderr);
    }
    if (strcmp(what, "compile") == 0 && !spent && !contains(text, n, "not enough memory")) {
        /* "apps/fuzz/views/page.html:LINE: why", LINE within the source. */
        static const char prefix[] = "apps/fuzz/views/page.html:";
        if (strncmp(text, prefix, sizeof prefix - 1) != 0)
            fprintf(stderr, "a compile error without its place: %s\n", text);
        FUZZ_CHECK(strncmp(text, prefix, sizeof prefix - 1) == 0);
        char *end;
        long line = strtol(text + sizeof prefix - 1, &end, 10);
        long lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += src[i] == '\n';
        FUZZ_CHECK(line >= 1 && line <= lines && end[0] == ':' && end[1] == ' ');
    } else if (strcmp(what, "render") == 0 && !contains(src, size, "safe") && !contains(src, size, "html") &&
               !contains(src, size, "zq") && !contains(src, size, "javascript") &&
               !contains(src, size, "onerror")) {
        if (contains(text, n, "<zq") || bad_markup(text, n))
            fprintf(stderr, "unescaped output (FUZZ_SHOW=1 shows all of it)\n");
        FUZZ_CHECK(!contains(text, n, "<zq") && !bad_markup(text, n));
    }
    lua_settop(L, 0);
    return 0;
}
