/*
 * pool.h - free lists for the small blocks of one Lua state.
 *
 * A Lua state allocates and frees many small objects per request (tables,
 * strings, closures); glibc's per-thread cache holds only a few of each size,
 * so most of them went through malloc's slower paths. A pool keeps freed
 * blocks of up to BO_POOL_MAX bytes on one list per 16-byte size class and
 * hands them out again, so a steady request mix stops calling malloc. Lua
 * always says how big a block is when it frees or resizes it, so blocks
 * need no header. At most BO_POOL_KEEP bytes stay pooled; beyond that,
 * freed blocks go back to malloc.
 *
 * A pool belongs to one state, so to one thread at a time: no locks. Under
 * AddressSanitizer the pool passes everything straight to malloc, so
 * use-after-free inside Lua stays visible.
 */
#ifndef BO_POOL_H
#define BO_POOL_H

#include <stddef.h>

#define BO_POOL_MAX 512
#define BO_POOL_CLASSES (BO_POOL_MAX / 16)
#define BO_POOL_KEEP (2 * 1024 * 1024)

typedef struct bo_pool {
    void *free[BO_POOL_CLASSES];
    size_t pooled;              /* bytes on the free lists */
} bo_pool;

/* Returns a block of n > 0 bytes, or NULL if malloc fails. */
void *bo_pool_alloc(bo_pool *p, size_t n);
/* Takes back a block of n bytes (the size it was asked for). */
void bo_pool_free(bo_pool *p, void *block, size_t n);
/* Resizes a block of osize bytes to nsize > 0; NULL (block untouched) if
   malloc fails. */
void *bo_pool_realloc(bo_pool *p, void *block, size_t osize, size_t nsize);
/* Gives every pooled block back to malloc. */
void bo_pool_drain(bo_pool *p);

#endif
