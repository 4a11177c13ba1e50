/* SPDX-License-Identifier: MIT */
/*
 * mem.c: grantable memory.  The domain's whole memory is mapped at h->mem
 * (the transport did it); the hypervisor hands out runs of frames and this
 * file remembers them, so that local pointers given to create, copy and
 * memset can be checked against what this handle allocated.
 */
#include <errno.h>
#include <stdlib.h>

#include "private.h"

static uint8_t *alloc_start(const grant_handle_t *h,
                            const struct grant_alloc *a)
{
    return h->mem + a->gfn * GNTX_PAGE_SIZE;
}

int grant_mem_alloc(grant_handle_t *h, size_t nr_pages, void **ptr)
{
    struct grant_alloc *a;
    uint64_t end;
    int rc;

    if (!h || !ptr || nr_pages == 0)
        return lg_fail(h, "grant_mem_alloc", -EINVAL);
    if (!h->mem || nr_pages > h->mem_frames)
        return lg_fail(h, "grant_mem_alloc", -ENOMEM);
    a = calloc(1, sizeof(*a));
    if (!a)
        return lg_fail(h, "grant_mem_alloc", -ENOMEM);
    a->nr_frames = nr_pages;
    rc = h->ops->mem_alloc(h, nr_pages, &a->gfn);
    if (rc < 0)
        goto free_record;
    if (__builtin_add_overflow(a->gfn, a->nr_frames, &end) ||
        end > h->mem_frames) {
        h->ops->mem_free(h, a->gfn, a->nr_frames);
        rc = -EPROTO; /* the hypervisor gave frames we do not have */
        goto free_record;
    }
    a->next = h->allocs;
    h->allocs = a;
    *ptr = alloc_start(h, a);
    return 0;
free_record:
    free(a);
    return lg_fail(h, "grant_mem_alloc", rc);
}

int grant_mem_free(grant_handle_t *h, void *ptr)
{
    struct grant_alloc **pp, *a;
    int rc;

    if (!h || !ptr)
        return lg_fail(h, "grant_mem_free", -EINVAL);
    for (pp = &h->allocs; *pp; pp = &(*pp)->next)
        if (alloc_start(h, *pp) == ptr)
            break;
    a = *pp;
    if (!a)
        return lg_fail(h, "grant_mem_free", -EINVAL);
    rc = h->ops->mem_free(h, a->gfn, a->nr_frames);
    if (rc < 0)
        return lg_fail(h, "grant_mem_free", rc);
    *pp = a->next;
    free(a);
    return 0;
}

int grant_gpa(const grant_handle_t *h, const void *ptr, uint64_t *gpa)
{
    uintptr_t p = (uintptr_t)ptr, base;

    if (!h || !gpa)
        return lg_fail(h, "grant_gpa", -EINVAL);
    base = (uintptr_t)h->mem;
    if (!h->mem || p < base || p - base >= h->mem_frames * GNTX_PAGE_SIZE)
        return lg_fail(h, "grant_gpa", -EFAULT);
    *gpa = p - base;
    return 0;
}

int lg_local_gpa(const grant_handle_t *h, const void *ptr, uint64_t len,
                 uint64_t *gpa)
{
    const struct grant_alloc *a;
    uintptr_t p = (uintptr_t)ptr, start;
    uint64_t size;

    for (a = h->allocs; a; a = a->next) {
        start = (uintptr_t)alloc_start(h, a);
        size = a->nr_frames * GNTX_PAGE_SIZE;
        if (p < start || p - start > size || len > size - (p - start))
            continue;
        *gpa = a->gfn * GNTX_PAGE_SIZE + (p - start);
        return 0;
    }
    return -EFAULT;
}

void lg_mem_release(grant_handle_t *h)
{
    struct grant_alloc *a;

    while ((a = h->allocs)) {
        h->allocs = a->next;
        free(a);
    }
}
