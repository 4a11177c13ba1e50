/* SPDX-License-Identifier: MIT */
/*
 * alloc_count.h: counts the calling thread's heap allocations, by
 * interposing malloc, calloc, realloc and the aligned allocators over
 * glibc's (libgrant.so's calls bind to these: the executable comes first).
 * DEFINES those functions: include it in exactly one file of a program.
 *   alloc_count_start()  starts counting this thread's allocations at 0;
 *   alloc_count_stop()   stops, returns how many there were.
 * Under ASan (SANITIZE=1) nothing is counted: ALLOC_COUNT_WORKS is 0.
 */
#ifndef ALLOC_COUNT_H
#define ALLOC_COUNT_H

#include <errno.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
/* ASan owns malloc: nothing to interpose, nothing counted. */
#define ALLOC_COUNT_WORKS 0
static inline void alloc_count_start(void)
{
}
static inline unsigned long alloc_count_stop(void)
{
    return 0;
}
#else
#define ALLOC_COUNT_WORKS 1

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);

static __thread int alloc_counting;
static __thread unsigned long alloc_count;

static inline void alloc_note(void)
{
    if (alloc_counting)
        alloc_count++;
}

void *malloc(size_t n)
{
    alloc_note();
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    alloc_note();
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    alloc_note();
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    alloc_note();
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p;

    alloc_note();
    p = __libc_memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

static inline void alloc_count_start(void)
{
    alloc_count = 0;
    alloc_counting = 1;
}

static inline unsigned long alloc_count_stop(void)
{
    alloc_counting = 0;
    return alloc_count;
}

#endif /* __SANITIZE_ADDRESS__ */
#endif /* ALLOC_COUNT_H */
