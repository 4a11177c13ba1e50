/* SPDX-License-Identifier: MIT */
/*
 * revoke.c: GNTX_OP_REVOKE.  A domain revokes entries of its own table.
 *
 * Revoke is O(1): the slot's generation moves on and every descendant fails
 * its next resolution (the entry leaves its parent's list of children;
 * its own children stay linked to each other, unreachable, tree.c).  An entry
 * whose `maps` counter is non-zero is mapped somewhere, directly or through a
 * descendant: without GNTX_REVOKE_FORCE that is EBUSY and the entry stays; with
 * it every such mapping is dropped and its holder notified (gh_unmap_notify)
 * before the slot is freed.
 *
 * gcore_revoke_frames is the host's: memory it takes back from a domain
 * (xgrantd's MEM_FREE, a client's exit) takes every grant over it along.
 */
#include "private.h"

/* The domains an entry's release writes besides d's (tree.c): its
 * parent's and its siblings'. */
static int release_needs(struct gc_locks *L, const struct gc_entry *e)
{
    int rc = 0;

    if (e->type == GNTX_CREATE_INDIRECT)
        rc = gc_need(L, e->parent_dom, true);
    if (!rc && e->prev.idx != GC_NIL)
        rc = gc_need(L, e->prev.dom, true);
    if (!rc && e->next.idx != GC_NIL)
        rc = gc_need(L, e->next.dom, true);
    return rc;
}

/* A mapped entry's FORCE revoke reaches its mappers and every entry their
 * mappings go through: the instance lock exclusive (lock.c). */
int gc_revoke_one(struct gcore *c, struct gc_dom *d, gntx_ref_t ref,
                  uint32_t flags, struct gc_locks *L)
{
    struct gc_entry *e;
    uint32_t idx;
    int rc;

    if (flags & ~GNTX_REVOKE_FORCE)
        return -GNTX_EINVAL;
    rc = gc_pool_find(&d->table, ref, &idx);
    if (rc)
        return rc;
    e = gc_entry_at(d, idx);
    if (e->maps && !(flags & GNTX_REVOKE_FORCE))
        return -GNTX_EBUSY;
    rc = e->maps ? gc_need_wide(L) : release_needs(L, e);
    if (rc)
        return rc;
    if (e->maps)
        gc_map_drop_entry(c, d, idx);
    gc_entry_release(c, d, idx);
    return 0;
}

/* FORCE-revokes live entry idx of d's table. */
static void force_release(struct gcore *c, struct gc_dom *d, uint32_t idx)
{
    if (gc_entry_at(d, idx)->maps)
        gc_map_drop_entry(c, d, idx);
    gc_entry_release(c, d, idx);
}

/* Domain removal: FORCE-revokes every live entry of d's table. */
void gc_revoke_all(struct gcore *c, struct gc_dom *d)
{
    for (uint32_t i = 0; i < d->table.cap; i++)
        if (gc_entry_at(d, i)->s.live)
            force_release(c, d, i);
}

/* Is gfn in one of the n sorted, disjoint ranges r? */
static bool in_ranges(const struct gcore_range *r, size_t n, uint64_t gfn)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (gfn < r[mid].first)
            hi = mid;
        else if (gfn - r[mid].first >= r[mid].nr)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

/* Does direct entry e name a frame of the ranges? */
static bool names_frames(const struct gc_entry *e, const struct gcore_range *r,
                         size_t n)
{
    const uint64_t *fr = gc_entry_frames(e);

    for (uint32_t i = 0; i < e->nr_frames; i++)
        if (in_ranges(r, n, fr[i]))
            return true;
    return false;
}

int gcore_revoke_frames(struct gcore *c, gntx_domid_t dom,
                        const struct gcore_range *r, size_t nr)
{
    struct gc_dom *d;
    int n = 0;

    gh_lock(c);
    d = gc_dom_get(c, dom);
    if (d && !d->frames_used)
        d = NULL; /* no direct entry: nothing to scan */
    for (uint32_t i = 0; d && i < d->table.cap; i++) {
        struct gc_entry *e = gc_entry_at(d, i);

        if (e->s.live && e->type == GNTX_CREATE_DIRECT &&
            names_frames(e, r, nr)) {
            force_release(c, d, i);
            n++;
        }
    }
    gh_unlock(c);
    gc_copy_drain(c);
    return n;
}

static int revoke_elem(struct gcore *c, struct gc_dom *d, void *elem, void *ctx,
                       struct gc_locks *L)
{
    const struct gntx_revoke *v = elem;

    (void)ctx;
    return gc_revoke_one(c, d, v->ref, v->flags, L);
}

int gcore_grant_revoke(struct gcore *c, gntx_domid_t caller,
                       struct gntx_revoke *v, unsigned n)
{
    int ok = gc_batch(c, caller, v, n, sizeof(*v),
                      offsetof(struct gntx_revoke, status), revoke_elem, NULL,
                      false);

    gc_copy_drain(c); /* no byte moves through a revoked grant after this */
    return ok;
}
