/* SPDX-License-Identifier: MIT */
/*
 * v1_ext.c: standard grants over the extension, for xgrantd (the sim
 * transport's v1_* ops).  A v1 ref is an extension grant of one whole
 * page: share creates them (READ | MAP, and WRITE unless read-only) over
 * grant_mem_alloc pages, end revokes them, copy is grant_copy, and a map
 * of n refs is n one-page grant_maps moved into one reserved range.
 *
 * The move: each page is mapped by map.c (so a FORCE revoke's notice
 * still finds its record and replaces the page), then mremap'd into its
 * slot of the range and its record pointed there, both under map_lock, so
 * the notice thread never sees the record and the pages apart.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "private.h"

#define PAGE GRANT_PAGE_SIZE

/* Moves map.c's mapping of one page at `from` to `to` (a page of this
 * handle's reservation, replaced). */
static int move_mapping(grant_handle_t *h, void *from, void *to)
{
    struct grant_mapping *m;
    int rc = -EINVAL;

    pthread_mutex_lock(&h->map_lock);
    for (m = h->maps; m && m->addr != from; m = m->next)
        ;
    if (m && m->state == GRANT_MAPPING_GONE) {
        m->addr = to; /* nothing is mapped: the reserved page stays */
        rc = 0;
    } else if (m && mremap(from, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
                           to) != MAP_FAILED) {
        m->addr = to;
        rc = 0;
    } else if (m) {
        rc = -errno;
    }
    pthread_mutex_unlock(&h->map_lock);
    return rc;
}

/* Unmaps slots [0, n) of the range at base, then the rest of it. */
static void unmap_slots(grant_handle_t *h, uint8_t *base, unsigned n,
                        unsigned count)
{
    for (unsigned i = 0; i < n; i++)
        grant_unmap(h, base + (size_t)i * PAGE);
    if (count > n)
        munmap(base + (size_t)n * PAGE, (size_t)(count - n) * PAGE);
}

/* A dead ref reads as on Xen. */
static int v1_errno(int rc)
{
    return rc == -ESTALE ? -ENOENT : rc;
}

static int lg_v1_ext_map(grant_handle_t *h, grant_domid_t granter,
                         const grant_v1_ref_t *refs, unsigned count,
                         unsigned flags, void **addr)
{
    unsigned mflags = (flags & GRANT_V1_RDONLY) ? GRANT_MAP_RDONLY : 0, i;
    uint8_t *base;
    void *one;
    int rc = 0;

    base = mmap(NULL, (size_t)count * PAGE, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return -errno;
    for (i = 0; i < count && rc == 0; i++) {
        rc = grant_map(h, granter, refs[i], 0, PAGE, mflags, &one);
        if (rc < 0)
            break;
        rc = move_mapping(h, one, base + (size_t)i * PAGE);
        if (rc < 0)
            grant_unmap(h, one);
    }
    if (rc < 0) {
        unmap_slots(h, base, i, count);
        return v1_errno(rc);
    }
    *addr = base;
    return 0;
}

static int lg_v1_ext_unmap(grant_handle_t *h, void *addr, unsigned count)
{
    unmap_slots(h, addr, count, count);
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
