/*
 * pool.c - per-state free lists for small blocks (see pool.h).
 */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define POOLING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOLING 0
#endif
#endif
#ifndef POOLING
#define POOLING 1
#endif

/* Class c holds blocks of (c + 1) * 16 bytes. */
static inline size_t class_of(size_t n)
{
    return (n - 1) >> 4;
}

void *bo_pool_alloc(bo_pool *p, size_t n)
{
    if (POOLING && n <= BO_POOL_MAX) {
        size_t c = class_of(n);
        void *b = p->free[c];
        if (b) {
            p->free[c] = *(void **)b;
            p->pooled -= (c + 1) << 4;
            return b;
        }
        return malloc((c + 1) << 4);
    }
    return malloc(n);
}

void bo_pool_free(bo_pool *p, void *block, size_t n)
{
    if (POOLING && n <= BO_POOL_MAX) {
        size_t c = class_of(n), size = (c + 1) << 4;
        if (p->pooled + size <= BO_POOL_KEEP) {
            *(void **)block = p->free[c];
            p->free[c] = block;
            p->pooled += size;
            return;
        }
    }
    free(block);
}

void *bo_pool_realloc(bo_pool *p, void *block, size_t osize, size_t nsize)
{
    if (!POOLING || (osize > BO_POOL_MAX && nsize > BO_POOL_MAX))
        return realloc(block, nsize);
    if (osize <= BO_POOL_MAX && nsize <= BO_POOL_MAX && class_of(osize) == class_of(nsize))
        return block;
    void *b = bo_pool_alloc(p, nsize);
    if (!b)
        return NULL;
    memcpy(b, block, osize < nsize ? osize : nsize);
    bo_pool_free(p, block, osize);
    return b;
}

void bo_pool_drain(bo_pool *p)
{
    for (size_t c = 0; c < BO_POOL_CLASSES; c++) {
        void *b = p->free[c];
        while (b) {
            void *next = *(void **)b;
            free(b);
            b = next;
        }
        p->free[c] = NULL;
    }
    p->pooled = 0;
}
