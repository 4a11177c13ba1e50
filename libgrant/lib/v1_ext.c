/* SPDX-License-Identifier: MIT */
/*
 * v1_ext.c: standard grants over the extension, for xgrantd (the sim
 * transport's grant_v1_ops).  A v1 ref is an extension grant of one whole
 * page: share creates them (READ | MAP, and WRITE unless read-only) over
 * grant_mem_alloc pages, end revokes them, copy is grant_copy, and a map
 * of n refs is one grant_map_batch of n one-page elements (laid out in
 * order in one range), undone whole if any element fails.  A revoke then
 * acts on each page as on any mapping (a scratch page, a revoke event).
 */
#include <errno.h>
#include <stdlib.h>

#include "private.h"

#define PAGE GRANT_PAGE_SIZE

/* A dead ref reads as on Xen. */
static int v1_errno(int rc)
{
    return rc == -ESTALE ? -ENOENT : rc;
}

/* Unmaps the pages at addrs[0 .. n). */
static void unmap_pages(grant_handle_t *h, void **addrs, unsigned n)
{
    int *st = calloc(n ? n : 1, sizeof(*st));

    if (st)
        grant_unmap_batch(h, (void *const *)addrs, st, n);
    free(st);
}

/* The batch's outcome: 0 when every element mapped, else the call's or
 * the first element's error. */
static int batch_rc(int rc, const struct grant_map_req *r, unsigned count)
{
    if (rc < 0 || rc == (int)count)
        return rc < 0 ? rc : 0;
    for (unsigned i = 0; i < count; i++)
        if (r[i].status < 0)
            return r[i].status;
    return -EPROTO; /* fewer mapped, none said why */
}

static int lg_v1_ext_map(grant_handle_t *h, grant_domid_t granter,
                         const grant_v1_ref_t *refs, unsigned count,
                         unsigned flags, void **addr)
{
    struct grant_map_req *r = calloc(count, sizeof(*r));
    void **addrs = calloc(count, sizeof(*addrs)), *base = NULL;
    unsigned mapped = 0;
    int rc = r && addrs ? 0 : -ENOMEM;

    for (unsigned i = 0; rc == 0 && i < count; i++)
        r[i] = (struct grant_map_req){
            .ref = refs[i],
            .len = PAGE,
            .flags = (flags & GRANT_V1_RDONLY) ? GRANT_MAP_RDONLY : 0};
    if (rc == 0)
        rc = batch_rc(grant_map_batch(h, granter, r, count, &base), r, count);
    if (rc == 0) {
        *addr = base;
    } else {
        for (unsigned i = 0; r && i < count; i++)
            if (r[i].status == 0 && r[i].addr)
                addrs[mapped++] = r[i].addr;
        if (mapped)
            unmap_pages(h, addrs, mapped); /* all or nothing */
    }
    free(addrs);
    free(r);
    return v1_errno(rc);
}

static int lg_v1_ext_unmap(grant_handle_t *h, void *addr, unsigned count)
{
    void **addrs = calloc(count, sizeof(*addrs));

    if (!addrs)
        return -ENOMEM;
    for (unsigned i = 0; i < count; i++)
        addrs[i] = (uint8_t *)addr + (size_t)i * PAGE;
    unmap_pages(h, addrs, count);
    free(addrs);
    return 0;
}

static struct grant_ptr ext_ptr(const struct grant_v1_ptr *p)
{
    if (p->local)
        return (struct grant_ptr){.local = 1, .ptr = p->ptr};
    return (struct grant_ptr){
        .granter = p->granter, .ref = p->ref, .offset = p->offset};
}

static int lg_v1_ext_copy(grant_handle_t *h, struct grant_v1_copy_seg *segs,
                          unsigned n)
{
    struct grant_copy_seg s;
    int rc;

    for (unsigned i = 0; i < n; i++) {
        s = (struct grant_copy_seg){.src = ext_ptr(&segs[i].src),
                                    .dst = ext_ptr(&segs[i].dst),
                                    .len = segs[i].len};
        rc = grant_copy(h, &s, 1);
        if (rc < 0)
            return rc;
        segs[i].status = v1_errno(s.status);
    }
    return 0;
}

/* Revokes refs[0..n): plainly, or by force while a grantee maps one;
 * the first error, after trying them all. */
static int revoke_refs(grant_handle_t *h, const grant_v1_ref_t *refs,
                       unsigned n)
{
    int rc, first = 0;

    for (unsigned i = 0; i < n; i++) {
        rc = grant_revoke(h, refs[i], 0);
        if (rc == -EBUSY)
            rc = grant_revoke(h, refs[i], GRANT_REVOKE_FORCE);
        if (rc == -ESTALE || rc == -ENOENT)
            rc = 0; /* revoked already (grant_revoke on the ref itself) */
        if (rc < 0 && !first)
            first = rc;
    }
    return first;
}

static int lg_v1_ext_share(grant_handle_t *h, grant_domid_t grantee,
                           unsigned count, unsigned flags, grant_v1_ref_t *refs,
                           void **addr)
{
    unsigned rights = GRANT_R_READ | GRANT_R_MAP |
                      ((flags & GRANT_V1_RDONLY) ? 0 : GRANT_R_WRITE);
    struct grant_create_req *q = calloc(count, sizeof(*q));
    uint8_t *mem = NULL;
    int rc = q ? grant_mem_alloc(h, count, (void **)&mem) : -ENOMEM;

    for (unsigned i = 0; rc == 0 && i < count; i++)
        q[i] = (struct grant_create_req){.grantee = grantee,
                                         .rights = rights,
                                         .ptr = mem + (size_t)i * PAGE,
                                         .len = PAGE};
    if (rc == 0)
        rc = grant_create_batch(h, q, count); /* all or nothing */
    for (unsigned i = 0; rc == 0 && i < count; i++)
        refs[i] = q[i].ref;
    if (rc < 0 && mem)
        grant_mem_free(h, mem);
    if (rc == 0)
        *addr = mem;
    free(q);
    return rc;
}

static int lg_v1_ext_end(grant_handle_t *h, void *addr, unsigned count,
                         const grant_v1_ref_t *refs)
{
    int rc = revoke_refs(h, refs, count);

    /* A ref that did not die keeps its page: never hand it out again. */
    return rc < 0 ? rc : grant_mem_free(h, addr);
}

const struct grant_v1_ops lg_v1_ext_ops = {
    .map = lg_v1_ext_map,
    .unmap = lg_v1_ext_unmap,
    .copy = lg_v1_ext_copy,
    .share = lg_v1_ext_share,
    .end = lg_v1_ext_end,
};
