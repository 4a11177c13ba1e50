/* SPDX-License-Identifier: MIT */
/*
 * The few kernel definitions libgrant/kmod/call.c and release.c use, for
 * compiling them unchanged in user space (tests/lab/unit/test_kmod_*.c),
 * the way Xen's tools/tests/vpci compiles hypervisor code.
 */
#ifndef KSHIM_KERNEL_H
#define KSHIM_KERNEL_H
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;

#define __user
#define GFP_KERNEL                  0
#define PAGE_SHIFT                  12
#define PAGE_SIZE                   (1UL << PAGE_SHIFT)
#define PAGE_MASK                   (~(PAGE_SIZE - 1))
#define min(a, b)                   ((a) < (b) ? (a) : (b))
#define min_t(t, a, b)              min((t)(a), (t)(b))
#define check_add_overflow(a, b, d) __builtin_add_overflow(a, b, d)
#define u64_to_user_ptr(x)          ((void *)(uintptr_t)(x))

#define ERR_PTR(e) ((void *)(intptr_t)(e))
#define PTR_ERR(p) ((long)(intptr_t)(p))
#define IS_ERR(p)  ((uintptr_t)(p) >= (uintptr_t)-4095)

static inline void *kvcalloc(size_t n, size_t s, int gfp)
{
    (void)gfp;
    return calloc(n, s);
}
static inline void *kvzalloc(size_t s, int gfp)
{
    (void)gfp;
    return calloc(1, s);
}
static inline void *kvmalloc_array(size_t n, size_t s, int gfp)
{
    (void)gfp;
    return calloc(n, s);
}
static inline void *kzalloc(size_t s, int gfp)
{
    (void)gfp;
    return calloc(1, s);
}
static inline void kfree(const void *p)
{
    free((void *)p);
}
static inline void cond_resched(void)
{
}
static inline void kvfree(const void *p)
{
    free((void *)p);
}
static inline unsigned long copy_from_user(void *d, const void *s, size_t n)
{
    memcpy(d, s, n);
    return 0;
}
static inline unsigned long copy_to_user(void *d, const void *s, size_t n)
{
    memcpy(d, s, n);
    return 0;
}
#endif
