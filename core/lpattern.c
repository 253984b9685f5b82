/*
 * lpattern.c - Lua's pattern matching (string.find, string.match,
 * string.gmatch and string.gsub), with its work metered (see lpattern.h).
 *
 * Results, argument handling and error messages are those of lstrlib.c in
 * Lua 5.4.4 (the manual's section 6.4.1), and the matcher is the same kind
 * of backtracking matcher: match() walks the pattern an item at a time,
 * looping where it can and recursing for captures, '?' and repetitions,
 * with the recursion bounded by MAX_DEPTH ("pattern too complex").
 *
 * What is new is the meter. Every unit of work adds a step to it: each entry
 * into match() and each turn of its loop, each character a repetition tests,
 * and a step per few bytes of a comparison, scan, set or replacement. Every
 * STEP_BATCH steps the meter charges what it holds to the sandbox budget with
 * bo_sandbox_charge(), which raises a Lua error once the budget is spent
 * (and does nothing for a state that is not a sandbox); what is left when a
 * call returns is charged then, so many small matches add up as well.
 *
 * All state is on the C stack or, for gmatch, in a userdata held by the
 * iterator, so states on different threads share nothing. Any lua_* call
 * and the meter may raise an error (a longjmp); nothing here owns memory
 * that such a jump could leak.
 */
#include "lpattern.h"

#include "sandbox.h"

#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <lauxlib.h>

#define MAX_CAPTURES 32     /* LUA_MAXCAPTURES */
#define MAX_DEPTH 200       /* MAXCCALLS: nesting of match() calls */
#define STEP_BATCH 256      /* steps held before they are charged */
#define SLICE 64            /* bytes compared or copied per step */
#define CHR_SLICE 256       /* bytes memchr() skips per step */
#define SCAN 8              /* bytes of a set or a %b scan per step */
#define ESC '%'
#define SPECIALS "^$*+?.([%-"

/* What a capture holds instead of a length while it is open, or when it is
   a position capture "()". */
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)

/* Steps counted but not yet charged, and the state to charge them to. */
typedef struct meter {
    lua_State *L;
    size_t steps;
} meter;

typedef struct matcher {
    meter m;
    const char *src;            /* the subject */
    const char *src_end;        /* its end; *src_end is the NUL Lua adds */
    const char *pat_end;        /* the end of the pattern (also a NUL) */
    int depth_left;             /* match() calls that may still nest */
    int level;                  /* captures started (closed or not) */
    struct {
        const char *init;
        ptrdiff_t len;          /* or CAP_UNFINISHED, CAP_POSITION */
    } capture[MAX_CAPTURES];
} matcher;

/* What a gmatch iterator keeps between calls (its third upvalue). */
typedef struct gmatch_state {
    const char *next;           /* where the next search starts */
    const char *pat;
    const char *last_end;       /* end of the last match, or NULL */
    matcher ms;
} gmatch_state;

static const char *match(matcher *ms, const char *s, const char *p);

/* ---- the meter ---- */

/* Charges every step held. The count drops before each charge, so a charge
   that raises an error leaves the meter consistent. */
static void meter_flush(meter *m)
{
    while (m->steps > 0) {
        unsigned n = m->steps > UINT_MAX ? UINT_MAX : (unsigned)m->steps;
        m->steps -= n;
        bo_sandbox_charge(m->L, n);
    }
}

static inline void meter_add(meter *m, size_t steps)
{
    m->steps += steps;
    if (m->steps >= STEP_BATCH)
        meter_flush(m);
}

/* memcmp() a slice at a time, a step per slice, so that long comparisons
   repeated by backtracking are charged for what they cost. */
static bool equal_metered(meter *m, const char *a, const char *b, size_t n)
{
    while (n > SLICE) {
        if (memcmp(a, b, SLICE) != 0)
            return false;
        a += SLICE;
        b += SLICE;
        n -= SLICE;
        meter_add(m, 1);
    }
    return memcmp(a, b, n) == 0;
}

/* Finds the first occurrence of p in s (string.find with plain set). */
static const char *find_plain(meter *m, const char *s, size_t ls, const char *p, size_t lp)
{
    if (lp == 0)
        return s;
    if (lp > ls)
        return NULL;
    const char *last = s + (ls - lp);   /* the last place p could start */
    while (s <= last) {
        const char *hit = memchr(s, p[0], (size_t)(last - s) + 1);
        if (!hit)
            return NULL;
        meter_add(m, 1 + (size_t)(hit - s) / CHR_SLICE);
        if (equal_metered(m, hit + 1, p + 1, lp - 1))
            return hit;
        s = hit + 1;
    }
    return NULL;
}

/* ---- single characters, classes and sets ---- */

/* Whether c is in the class %cl (a letter), or equals cl (anything else).
   An upper-case letter is the complement of its class. */
static bool class_has(int c, int cl)
{
    int in;
    switch (tolower(cl)) {
    case 'a': in = isalpha(c); break;
    case 'c': in = iscntrl(c); break;
    case 'd': in = isdigit(c); break;
    case 'g': in = isgraph(c); break;
    case 'l': in = islower(c); break;
    case 'p': in = ispunct(c); break;
    case 's': in = isspace(c); break;
    case 'u': in = isupper(c); break;
    case 'w': in = isalnum(c); break;
    case 'x': in = isxdigit(c); break;
    case 'z': in = (c == 0); break;     /* deprecated, still accepted */
    default: return cl == c;
    }
    return islower(cl) ? in != 0 : in == 0;
}

/* Whether c is in the set that starts at p (its '[') and ends at close
   (its ']'). item_end() has checked the set is well formed. */
static bool set_has(int c, const char *p, const char *close)
{
    bool found = true;
    if (p[1] == '^') {
        found = false;
        p++;
    }
    while (++p < close) {
        if (*p == ESC) {
            p++;
            if (class_has(c, (unsigned char)*p))
                return found;
        } else if (p[1] == '-' && p + 2 < close) {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2])
                return found;
            p += 2;
        } else if ((unsigned char)*p == c) {
            return found;
        }
    }
    return !found;
}

/* Returns the end of the single-character item at p: a character, '.', a
   %class or a [set]. Raises the "malformed pattern" errors. */
static const char *item_end(matcher *ms, const char *p)
{
    switch (*p++) {
    case ESC:
        if (p == ms->pat_end)
            luaL_error(ms->m.L, "malformed pattern (ends with '%%')");
        return p + 1;
    case '[': {
        const char *open = p;
        if (*p == '^')
            p++;
        do {
            if (p == ms->pat_end)
                luaL_error(ms->m.L, "malformed pattern (missing ']')");
            if (*p++ == ESC && p < ms->pat_end)
                p++;            /* an escaped character, '%]' for one */
        } while (*p != ']');
        meter_add(&ms->m, (size_t)(p - open) / SCAN);
        return p + 1;
    }
    default:
        return p;
    }
}

/* Whether the subject character at s matches the item p..ep. */
static bool item_matches(matcher *ms, const char *s, const char *p, const char *ep)
{
    if (s >= ms->src_end)
        return false;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.':
        return true;
    case ESC:
        return class_has(c, (unsigned char)p[1]);
    case '[':
        meter_add(&ms->m, (size_t)(ep - p) / SCAN);
        return set_has(c, p, ep - 1);
    default:
        return (unsigned char)*p == c;
    }
}

/* ---- the matcher ---- */

static void matcher_init(matcher *ms, lua_State *L, const char *s, size_t ls,
                         const char *p, size_t lp)
{
    ms->m.L = L;
    ms->m.steps = 0;
    ms->src = s;
    ms->src_end = s + ls;
    ms->pat_end = p + lp;
    ms->depth_left = MAX_DEPTH;
    ms->level = 0;
}

/* Readies the matcher for another attempt. The depth is reset too, since an
   error may have left it short (Lua's own matcher only asserts it). */
static void matcher_restart(matcher *ms)
{
    ms->level = 0;
    ms->depth_left = MAX_DEPTH;
}

/* %bxy at s, with p at x. */
static const char *match_balance(matcher *ms, const char *s, const char *p)
{
    if (p >= ms->pat_end - 1)
        luaL_error(ms->m.L, "malformed pattern (missing arguments to '%%b')");
    if (*s != p[0])
        return NULL;
    const char *start = s;
    int depth = 1;
    while (++s < ms->src_end) {
        if (*s == p[1]) {
            if (--depth == 0) {
                meter_add(&ms->m, (size_t)(s - start) / SCAN);
                return s + 1;
            }
        } else if (*s == p[0]) {
            depth++;
        }
    }
    meter_add(&ms->m, (size_t)(s - start) / SCAN);
    return NULL;
}

/* Checks the digit of a %0 to %9 in a pattern and returns the index of the
   closed capture it names, 0 to 8. */
static int capture_index(matcher *ms, int digit)
{
    int i = digit - '1';
    if (i < 0 || i >= ms->level || ms->capture[i].len == CAP_UNFINISHED)
        return luaL_error(ms->m.L, "invalid capture index %%%d", i + 1);
    return i;
}

/* %1 to %9 at s: the text of an earlier capture again. */
static const char *match_capture(matcher *ms, const char *s, int digit)
{
    int i = capture_index(ms, digit);
    /* A position capture has a negative length, so it never matches. */
    size_t len = (size_t)ms->capture[i].len;
    if ((size_t)(ms->src_end - s) >= len && equal_metered(&ms->m, ms->capture[i].init, s, len))
        return s + len;
    return NULL;
}

/* item* and item+ (after its first): as many as possible, then fewer. */
static const char *max_expand(matcher *ms, const char *s, const char *p, const char *ep)
{
    ptrdiff_t n = 0;
    while (item_matches(ms, s + n, p, ep))
        n++;
    meter_add(&ms->m, (size_t)n + 1);
    for (; n >= 0; n--) {
        const char *res = match(ms, s + n, ep + 1);
        if (res)
            return res;
    }
    return NULL;
}

/* item-: as few as possible, then more. */
static const char *min_expand(matcher *ms, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *res = match(ms, s, ep + 1);
        if (res)
            return res;
        meter_add(&ms->m, 1);
        if (!item_matches(ms, s, p, ep))
            return NULL;
        s++;
    }
}

/* Opens a capture at s (what is CAP_UNFINISHED or CAP_POSITION) and
   matches the rest of the pattern at p; undoes the capture on failure. */
static const char *start_capture(matcher *ms, const char *s, const char *p, int what)
{
    if (ms->level >= MAX_CAPTURES)
        luaL_error(ms->m.L, "too many captures");
    ms->capture[ms->level].init = s;
    ms->capture[ms->level].len = what;
    ms->level++;
    const char *res = match(ms, s, p);
    if (!res)
        ms->level--;
    return res;
}

/* Closes the innermost open capture at s and matches the rest at p. */
static const char *end_capture(matcher *ms, const char *s, const char *p)
{
    int i = ms->level - 1;
    while (i >= 0 && ms->capture[i].len != CAP_UNFINISHED)
        i--;
    if (i < 0)
        luaL_error(ms->m.L, "invalid pattern capture");
    ms->capture[i].len = s - ms->capture[i].init;
    const char *res = match(ms, s, p);
    if (!res)
        ms->capture[i].len = CAP_UNFINISHED;
    return res;
}

/* %f[set] at s, with p at its '['. */
static bool at_frontier(matcher *ms, const char *s, const char *p, const char *ep)
{
    int before = s == ms->src ? 0 : (unsigned char)s[-1];
    meter_add(&ms->m, 2 * (size_t)(ep - p) / SCAN);
    /* At the end of the subject *s is the terminating NUL, as in Lua. */
    return !set_has(before, p, ep - 1) && set_has((unsigned char)*s, p, ep - 1);
}

/* Matches the pattern from p against the subject from s. Returns the end of
   the match, or NULL. Tail positions loop instead of recursing; each turn
   of the loop is a step on the meter. */
static const char *match(matcher *ms, const char *s, const char *p)
{
    if (ms->depth_left-- == 0)
        luaL_error(ms->m.L, "pattern too complex");
    for (;;) {
        meter_add(&ms->m, 1);
        if (p == ms->pat_end)
            break;
        if (*p == '(') {
            if (p[1] == ')')
                s = start_capture(ms, s, p + 2, CAP_POSITION);
            else
                s = start_capture(ms, s, p + 1, CAP_UNFINISHED);
            break;
        }
        if (*p == ')') {
            s = end_capture(ms, s, p + 1);
            break;
        }
        if (*p == '$' && p + 1 == ms->pat_end) {
            if (s != ms->src_end)
                s = NULL;
            break;
        }
        if (*p == ESC && p[1] == 'b') {
            s = match_balance(ms, s, p + 2);
            if (!s)
                break;
            p += 4;
            continue;
        }
        if (*p == ESC && p[1] == 'f') {
            p += 2;
            if (*p != '[')
                luaL_error(ms->m.L, "missing '[' after '%%f' in pattern");
            const char *ep = item_end(ms, p);
            if (!at_frontier(ms, s, p, ep)) {
                s = NULL;
                break;
            }
            p = ep;
            continue;
        }
        if (*p == ESC && isdigit((unsigned char)p[1])) {
            s = match_capture(ms, s, (unsigned char)p[1]);
            if (!s)
                break;
            p += 2;
            continue;
        }

        /* A single-character item and its optional suffix. */
        const char *ep = item_end(ms, p);
        if (!item_matches(ms, s, p, ep)) {
            if (*ep == '*' || *ep == '?' || *ep == '-') {
                p = ep + 1;     /* zero repetitions will do */
                continue;
            }
            s = NULL;           /* a plain item or '+' needs one */
            break;
        }
        if (*ep == '?') {
            const char *res = match(ms, s + 1, ep + 1);
            if (res) {
                s = res;
                break;
            }
            p = ep + 1;
            continue;
        }
        if (*ep == '+') {
            s = max_expand(ms, s + 1, p, ep);
            break;
        }
        if (*ep == '*') {
            s = max_expand(ms, s, p, ep);
            break;
        }
        if (*ep == '-') {
            s = min_expand(ms, s, p, ep);
            break;
        }
        s++;
        p = ep;
    }
    ms->depth_left++;
    return s;
}

/* ---- captures as Lua values ---- */

/* Finds capture i of a match s..e. With no captures, capture 0 is the whole
   match. Returns a string capture's length and start (in *text); for a
   position capture pushes the position and returns CAP_POSITION. */
static ptrdiff_t get_capture(matcher *ms, int i, const char *s, const char *e,
                             const char **text)
{
    if (i >= ms->level) {
        if (i != 0)
            luaL_error(ms->m.L, "invalid capture index %%%d", i + 1);
        *text = s;
        return e - s;
    }
    ptrdiff_t len = ms->capture[i].len;
    *text = ms->capture[i].init;
    if (len == CAP_UNFINISHED)
        luaL_error(ms->m.L, "unfinished capture");
    else if (len == CAP_POSITION)
        lua_pushinteger(ms->m.L, (ms->capture[i].init - ms->src) + 1);
    return len;
}

static void push_capture(matcher *ms, int i, const char *s, const char *e)
{
    const char *text;
    ptrdiff_t len = get_capture(ms, i, s, e, &text);
    if (len != CAP_POSITION)
        lua_pushlstring(ms->m.L, text, (size_t)len);
}

/* Pushes every capture, or the whole match s..e when there are none and s
   is not NULL. Returns how many values were pushed. */
static int push_captures(matcher *ms, const char *s, const char *e)
{
    int n = (ms->level == 0 && s) ? 1 : ms->level;
    luaL_checkstack(ms->m.L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_capture(ms, i, s, e);
    return n;
}

/* ---- the library functions ---- */

/* Turns string.find's init into an offset from 1: negative counts from the
   end, and anything before the start means the start. */
static size_t init_position(lua_Integer pos, size_t len)
{
    if (pos > 0)
        return (size_t)pos;
    if (pos == 0 || pos < -(lua_Integer)len)
        return 1;
    return len + (size_t)pos + 1;
}

/* Whether a pattern (which may hold NULs) has no special character. */
static bool is_plain(const char *p, size_t lp)
{
    size_t at = 0;
    do {
        if (strpbrk(p + at, SPECIALS))
            return false;
        at += strlen(p + at) + 1;
    } while (at <= lp);
    return true;
}

/* string.find (find set) and string.match. */
static int find_or_match(lua_State *L, bool find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = init_position(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || is_plain(p, lp))) {
        meter m = { L, 0 };
        const char *at = find_plain(&m, s + init, ls - init, p, lp);
        meter_flush(&m);
        if (at) {
            lua_pushinteger(L, (at - s) + 1);
            lua_pushinteger(L, (lua_Integer)((size_t)(at - s) + lp));
            return 2;
        }
        luaL_pushfail(L);
        return 1;
    }

    matcher ms;
    const char *start = s + init;
    bool anchored = *p == '^';
    if (anchored) {
        p++;
        lp--;
    }
    matcher_init(&ms, L, s, ls, p, lp);
    do {
        matcher_restart(&ms);
        const char *end = match(&ms, start, p);
        if (end) {
            meter_flush(&ms.m);
            if (!find)
                return push_captures(&ms, start, end);
            lua_pushinteger(L, (start - s) + 1);
            lua_pushinteger(L, end - s);
            return push_captures(&ms, NULL, NULL) + 2;
        }
    } while (start++ < ms.src_end && !anchored);
    meter_flush(&ms.m);
    luaL_pushfail(L);
    return 1;
}

static int str_find(lua_State *L)
{
    return find_or_match(L, true);
}

static int str_match(lua_State *L)
{
    return find_or_match(L, false);
}

/* The iterator gmatch returns; its upvalues are the subject, the pattern
   (kept so they stay alive) and the gmatch_state. */
static int gmatch_next(lua_State *L)
{
    gmatch_state *gm = lua_touserdata(L, lua_upvalueindex(3));
    gm->ms.m.L = L;     /* the iterator may run on any thread of the state */
    gm->ms.m.steps = 0;
    for (const char *s = gm->next; s <= gm->ms.src_end; s++) {
        matcher_restart(&gm->ms);
        const char *end = match(&gm->ms, s, gm->pat);
        if (end && end != gm->last_end) {
            gm->next = gm->last_end = end;
            meter_flush(&gm->ms.m);
            return push_captures(&gm->ms, s, end);
        }
    }
    gm->next = gm->ms.src_end + 1;      /* later calls end at once */
    meter_flush(&gm->ms.m);
    return 0;
}

static int str_gmatch(lua_State *L)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = init_position(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2);
    gmatch_state *gm = lua_newuserdatauv(L, sizeof *gm, 0);
    if (init > ls)
        init = ls + 1;  /* past the end: nothing to find, and no overflow */
    matcher_init(&gm->ms, L, s, ls, p, lp);
    gm->next = s + init;
    gm->pat = p;
    gm->last_end = NULL;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

/* Appends the replacement string (argument 3) for the match s..e, with its
   %0 to %9 and %% escapes expanded. */
static void add_string(matcher *ms, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = ms->m.L;
    size_t l;
    const char *r = lua_tolstring(L, 3, &l);
    const char *esc;
    meter_add(&ms->m, 1 + l / SLICE);
    while ((esc = memchr(r, ESC, l)) != NULL) {
        meter_add(&ms->m, 2);
        luaL_addlstring(b, r, (size_t)(esc - r));
        esc++;          /* at the character after '%' (maybe the NUL) */
        if (*esc == ESC) {
            luaL_addchar(b, ESC);
        } else if (*esc == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit((unsigned char)*esc)) {
            const char *text;
            ptrdiff_t len = get_capture(ms, *esc - '1', s, e, &text);
            if (len == CAP_POSITION) {
                luaL_addvalue(b);       /* the position get_capture pushed */
                meter_add(&ms->m, 12);  /* formatting it costs more */
            } else {
                luaL_addlstring(b, text, (size_t)len);
            }
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", ESC);
        }
        l -= (size_t)(esc + 1 - r);
        r = esc + 1;
    }
    luaL_addlstring(b, r, l);
}

/* Appends the replacement for the match s..e, of Lua type kind. Returns
   whether the subject changed: a function or table giving nil or false
   keeps the match as it was. */
static bool add_replacement(matcher *ms, luaL_Buffer *b, const char *s, const char *e,
                            int kind)
{
    lua_State *L = ms->m.L;
    if (kind == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(ms, s, e);
        lua_call(L, n, 1);
    } else if (kind == LUA_TTABLE) {
        push_capture(ms, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_string(ms, b, s, e);
        return true;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return false;
    }
    if (!lua_isstring(L, -1))
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return true;
}

static int str_gsub(lua_State *L)
{
    size_t ls, lp;
    const char *src = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *last_end = NULL;
    int kind = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    bool anchored = *p == '^';
    lua_Integer n = 0;
    bool changed = false;
    matcher ms;
    luaL_Buffer b;
    luaL_argexpected(L, kind == LUA_TNUMBER || kind == LUA_TSTRING ||
                     kind == LUA_TFUNCTION || kind == LUA_TTABLE, 3,
                     "string/function/table");
    luaL_buffinit(L, &b);
    if (anchored) {
        p++;
        lp--;
    }
    matcher_init(&ms, L, src, ls, p, lp);
    while (n < max) {
        matcher_restart(&ms);
        const char *end = match(&ms, src, p);
        if (end && end != last_end) {
            n++;
            if (add_replacement(&ms, &b, src, end, kind))
                changed = true;
            src = last_end = end;
        } else if (src < ms.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchored)
            break;
    }
    meter_flush(&ms.m);
    if (changed) {
        luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
        luaL_pushresult(&b);
    } else {
        lua_pushvalue(L, 1);    /* the subject itself, not a copy */
    }
    lua_pushinteger(L, n);
    return 2;
}

void bo_lpattern_install(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        { "find", str_find },
        { "match", str_match },
        { "gmatch", str_gmatch },
        { "gsub", str_gsub },
        { NULL, NULL }
    };
    luaL_setfuncs(L, funcs, 0);
}
