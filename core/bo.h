/*
 * bo.h - what every module of the borough core shares: the error codes and
 * bo_strerror(), the allocation wrappers, a borrowed string slice and a few
 * small helpers.
 *
 * Conventions (see docs/architecture.md):
 *  - functions that can fail return int: 0 on success, a negative BO_E* code
 *    on failure; SQLite, mbedTLS and libuv codes are translated where the core
 *    wraps them.
 *  - out of memory in the core is not recoverable: bo_malloc() and friends log
 *    and abort, so callers never see NULL. Lua states use their own counting
 *    allocator (sandbox.c), where running out is an ordinary Lua error.
 *  - public symbols carry the bo_ prefix; internal non-static helpers bo__.
 */
#ifndef BO_H
#define BO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BO_VERSION "0.1.0"

enum {
    BO_OK = 0,
    BO_ENOMEM = -1,    /* allocation refused (by a cap, not the system) */
    BO_EIO = -2,       /* a system call failed; errno says more */
    BO_EINVAL = -3,    /* bad argument or malformed input */
    BO_ENOENT = -4,    /* no such file, app, route or row */
    BO_ELIMIT = -5,    /* a configured limit was reached */
    BO_EPARSE = -6,    /* input could not be parsed */
    BO_EDB = -7,       /* the database reported an error */
    BO_ELUA = -8,      /* Lua code raised an error */
    BO_EBUSY = -9,     /* resource busy; try again */
    BO_ETIMEDOUT = -10,
    BO_EEXIST = -11,
    BO_EPERM = -12,    /* refused by policy (sandbox, authorizer) */
    BO_ECLOSED = -13,  /* the peer or the object is gone */
    BO_EVERIFY = -14,  /* a signature, token or code did not verify */
    BO_ECONSTRAINT = -15, /* a database constraint refused the change */
    BO_ERROR_COUNT = 16
};

/* Returns a static English description of a BO_E* code. */
const char *bo_strerror(int err);

/* Allocation: never return NULL; on exhaustion they log and abort. */
void *bo_malloc(size_t n);
void *bo_calloc(size_t count, size_t size);
void *bo_realloc(void *p, size_t n);
char *bo_strdup(const char *s);
char *bo_strndup(const char *s, size_t n);
/* Returns a new string made with printf formatting; free with free(). */
char *bo_sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes the message into err (when err has room) and returns code: for
   `return bo_fail(BO_EINVAL, err, errlen, "...", ...);`. */
int bo_fail(int code, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The 64-bit FNV-1a hash of n bytes (caches and ETags; not for secrets). */
uint64_t bo_fnv1a(const char *s, size_t n);

/* A borrowed slice of bytes: never owns its memory. */
typedef struct bo_str {
    const char *ptr;
    size_t len;
} bo_str;

#define BO_STR(lit) ((bo_str){ (lit), sizeof(lit) - 1 })
#define BO_COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define BO_UNUSED(x) ((void)(x))

/* Case-insensitive ASCII comparison of a slice with a NUL-terminated string. */
bool bo_str_ieq(bo_str s, const char *lit);
bool bo_str_eq(bo_str s, const char *lit);

/* Monotonic milliseconds, for deadlines outside a uv loop. */
uint64_t bo_now_ms(void);

/* Unix time in milliseconds, and as the platform's tables write it:
   "2024-04-01T09:30:00.123Z" (out holds at least 25 bytes). */
int64_t bo_unix_ms(void);
void bo_iso_time(int64_t ms, char *out, size_t cap);
/* The Unix milliseconds of such a time (the fraction and the Z optional);
   0 for NULL or anything else. */
int64_t bo_iso_ms(const char *iso);

#endif
