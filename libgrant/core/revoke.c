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
 */
#include "private.h"

int gc_revoke_one(struct gcore *c, struct gc_dom *d, gntx_ref_t ref,
                  uint32_t flags)
{
    uint32_t idx;
    int rc;

    if (flags & ~GNTX_REVOKE_FORCE)
        return -GNTX_EINVAL;
    rc = gc_pool_find(&d->table, ref, &idx);
    if (rc)
        return rc;
    if (gc_entry_at(d, idx)->maps) {
        if (!(flags & GNTX_REVOKE_FORCE))
            return -GNTX_EBUSY;
        gc_map_drop_entry(c, d, idx);
    }
    gc_entry_release(c, d, idx);
    return 0;
}

/* Domain removal: FORCE-revokes every live entry of d's table. */
void gc_revoke_all(struct gcore *c, struct gc_dom *d)
{
    for (uint32_t i = 0; i < d->table.cap; i++) {
        struct gc_entry *e = gc_entry_at(d, i);

        if (!e->s.live)
            continue;
        if (e->maps)
            gc_map_drop_entry(c, d, i);
        gc_entry_release(c, d, i);
    }
}

static int revoke_elem(struct gcore *c, struct gc_dom *d, void *elem, void *ctx)
{
    const struct gntx_revoke *v = elem;

    (void)ctx;
    return gc_revoke_one(c, d, v->ref, v->flags);
}

int gcore_grant_revoke(struct gcore *c, gntx_domid_t caller,
                       struct gntx_revoke *v, unsigned n)
{
    return gc_batch(c, caller, v, n, sizeof(*v),
                    offsetof(struct gntx_revoke, status), revoke_elem, NULL);
}
