/* SPDX-License-Identifier: MIT */
/*
 * resolve.c: the one validation walk.  Copy, memset, map and indirect
 * create all go through gc_resolve; nothing else decides whether a domain
 * may use a grant.
 *
 * For a use of (granter G, ref R) by caller C of the window [off, off+len)
 * with rights `need`, each hop checks, in this order:
 *   - R names a live entry of G's table   (ENOENT never issued, ESTALE dead)
 *   - the entry's grantee is C              (EPERM)
 *   - a parent hop carries DELEGATE          (EPERM)
 *   - `need` is within the entry's rights    (EACCES)
 *   - the window is inside the entry's       (EOVERFLOW wrap, ERANGE outside)
 * then an indirect entry moves the window into its parent's coordinates and
 * steps up: C := G, (G, R) := (parent_dom, parent_ref).  A parent whose
 * domain is gone or is a new incarnation is dead (ESTALE).  More than
 * GNTX_MAX_DEPTH entries fail with ELOOP, which also stops any cycle.
 * Last, the host's policy between C and the memory's owner (gh_may_use:
 * Xen's XSM) may refuse the use (EPERM).
 */
#include "private.h"

/* [off, off+len) inside [0, limit): 0, -GNTX_EOVERFLOW, -GNTX_ERANGE. */
int gc_window(uint64_t off, uint64_t len, uint64_t limit)
{
    uint64_t end;

    if (__builtin_add_overflow(off, len, &end))
        return -GNTX_EOVERFLOW;
    return end > limit ? -GNTX_ERANGE : 0;
}

struct hop {
    struct gc_dom *d; /* whose table */
    gntx_ref_t ref;
    const struct gc_dom *user; /* who uses the entry */
    bool parent;               /* reached from a child: needs DELEGATE */
};

static int hop_check(const struct hop *h, uint64_t off, uint64_t len,
                     unsigned need, struct gc_entry **out)
{
    struct gc_entry *e;
    int rc = gc_entry_find(h->d, h->ref, &e);

    if (rc)
        return rc;
    if (e->grantee != h->user->id || e->grantee_inc != h->user->inc)
        return -GNTX_EPERM;
    if (h->parent && !(e->rights & GNTX_R_DELEGATE))
        return -GNTX_EPERM;
    if (need & ~(unsigned)e->rights)
        return -GNTX_EACCES;
    rc = gc_window(off, len, e->length);
    if (rc)
        return rc;
    *out = e;
    return 0;
}

/* From an indirect entry to its parent; the window moves along. */
static int hop_up(struct gcore *c, struct hop *h, const struct gc_entry *e,
                  uint64_t *off)
{
    struct gc_dom *pd = gc_dom_get(c, e->parent_dom);

    if (!pd || pd->inc != e->parent_inc)
        return -GNTX_ESTALE;
    if (__builtin_add_overflow(*off, e->offset, off))
        return -GNTX_EOVERFLOW;
    h->user = h->d;
    h->d = pd;
    h->ref = e->parent_ref;
    h->parent = true;
    return 0;
}

/*
 * Validates a use and fills *res.  0, or the first failing check's -errno;
 * -GNTX_ESRCH when `granter` does not exist; GC_RELOCK when a domain of
 * the chain is not in L yet (it is now: relock, resolve again).
 */
int gc_resolve(struct gcore *c, struct gc_dom *caller, gntx_domid_t granter,
               gntx_ref_t ref, uint64_t off, uint64_t len, unsigned rights,
               struct gc_res *res, struct gc_locks *L, bool write)
{
    struct hop h = {gc_dom_get(c, granter), ref, caller, false};

    if (!h.d)
        return -GNTX_ESRCH;
    for (unsigned i = 0; i < GNTX_MAX_DEPTH; i++) {
        struct gc_entry *e;
        int rc = gc_need(L, h.d->id, write);

        if (!rc)
            rc = hop_check(&h, off, len, rights, &e);

        if (rc)
            return rc;
        res->hop_dom[i] = h.d->id;
        res->hop_idx[i] = gntx_ref_index(h.ref);
        if (i == 0)
            res->top = e;
        if (e->type == GNTX_CREATE_DIRECT) {
            res->root = h.d;
            res->direct = e;
            res->start = e->offset + off;
            res->nhops = i + 1;
            return h.d == caller
                       ? 0
                       : gh_may_use(caller->cookie, h.d->cookie, rights);
        }
        rc = hop_up(c, &h, e, &off);
        if (rc)
            return rc;
    }
    return -GNTX_ELOOP;
}
