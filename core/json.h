/*
 * json.h - JSON text <-> Lua values, in C (the `json` global of DESIGN.md and
 * the encoder behind borough.json()).
 *
 * Encoding: nil and json.null -> null; booleans; integers as integers; floats
 * in the shortest form that reads back to the same double (NaN and infinities
 * are errors); strings must be valid UTF-8 and are escaped as JSON requires
 * and no more (non-ASCII, '<', '&', '/' stay literal). A table is an array when
 * its keys are exactly 1..n, otherwise an object with keys in byte order; an
 * empty table is {} unless marked with json.array(). A table whose metatable
 * has __columns (an array of key names, as db rows have) is an object with
 * those keys in that order, absent ones as null. Tables nest at most
 * BO_JSON_MAX_DEPTH deep (which also stops cycles).
 *
 * Decoding: RFC 8259, strictly; numbers without fraction or exponent that fit
 * in 64 bits become integers; null becomes json.null; arrays come back marked
 * with json.array() so they re-encode as arrays even when empty. An error
 * names the 1-based byte position: "unexpected character 'x' at byte 17".
 */
#ifndef BO_JSON_H
#define BO_JSON_H

#include "bo.h"
#include "buf.h"

#include <lua.h>

#define BO_JSON_MAX_DEPTH 128
#define BO_JSON_MAX_MEMBERS 1024

typedef enum bo_jtype {
    BO_JSON_NULL,
    BO_JSON_FALSE,
    BO_JSON_TRUE,
    BO_JSON_INTEGER,    /* no fraction or exponent, fits in 64 bits */
    BO_JSON_FLOAT,
    BO_JSON_STRING,
    BO_JSON_ARRAY,
    BO_JSON_OBJECT,
} bo_jtype;

/* A value of a parsed tree. An array's elements and an object's members are
   the list first -> next; a member's name is its key. */
typedef struct bo_jval {
    bo_jtype type;
    long long integer;      /* BO_JSON_INTEGER */
    double number;          /* BO_JSON_INTEGER and BO_JSON_FLOAT */
    char *str;              /* BO_JSON_STRING: the bytes, NUL-terminated (may hold NULs) */
    size_t len;
    char *key;              /* a member's name (NULL in an array) */
    size_t keylen;
    struct bo_jval *first;  /* BO_JSON_ARRAY, BO_JSON_OBJECT */
    struct bo_jval *next;
    size_t count;           /* elements or members */
} bo_jval;

/* Appends the JSON text of the value at idx to out. Returns 0, or BO_EINVAL
   with a message in err (NUL-terminated, truncated to errlen). May raise a
   Lua error only for out-of-memory inside the Lua state, or in a metered
   state when the run's budget is spent (the work is charged to it). */
int bo_json_encode(lua_State *L, int idx, bo_buf *out, char *err, size_t errlen);

/* Decodes text and pushes the value. Returns 0, or BO_EPARSE with a message
   naming the byte position in err (nothing pushed). In a metered state (meter.h)
   the work is charged to the run's budget, which raises when it is spent. */
int bo_json_decode(lua_State *L, const char *text, size_t len, char *err, size_t errlen);

/* Parses text into a new tree in *out (free with bo_jval_free). Returns 0,
   or BO_EPARSE with a message naming the byte position in err (*out NULL). */
int bo_json_parse(const char *text, size_t len, bo_jval **out, char *err, size_t errlen);
void bo_jval_free(bo_jval *v);
/* The member key of obj (NULL if obj is not an object or has no such member). */
const bo_jval *bo_jval_get(const bo_jval *obj, const char *key);
/* The member key of obj if it is a string, else NULL. */
const char *bo_jval_string(const bo_jval *obj, const char *key);

/* The value at path under v: each step a member's name, or "#n" for the
   n-th (0-based) element of an array; NULL if there is none. */
const bo_jval *bo_jval_at(const bo_jval *v, const char *const *path);
/* Copies the string v into out (NUL-terminated); false if v is not a
   string, holds a NUL byte, or does not fit in cap bytes. */
bool bo_jval_copy_string(const bo_jval *v, char *out, size_t cap);
/* Pushes json.null (a light userdata shared by every state). */
void bo_json_push_null(lua_State *L);

/* Marks the table at idx as a JSON array (as json.array does). */
void bo_json_mark_array(lua_State *L, int idx);

/* The `json` library: encode(v [, {indent = n}]) -> string (raises on values
   JSON cannot hold), decode(s) -> value | nil, message, null, array(t) and
   object(t) (mark t and return it). */
int bo_json_open(lua_State *L);

#endif
