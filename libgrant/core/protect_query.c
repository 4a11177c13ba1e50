/* SPDX-License-Identifier: MIT */
/*
 * protect_query.c: GNTX_OP_PROTECT_QUERY (the ranges `xgrant protections`
 * lists), GNTX_OP_FAULT_RING (binding the ring records go to) and
 * GNTX_OP_FAULT_STATS (the counters `xgrant list` shows).  Tool paths: a
 * query walks the page array.
 */
#include "private.h"

static void range_fill(const struct gc_prot *p, const struct gc_prot_ext *x,
                       uint64_t from, struct gntx_prot_range *o)
{
    const struct gc_prot_class *k = &p->cls[x->cls - 1];
    uint64_t g = x->start > from ? x->start : from;

    gh_memset(o, 0, sizeof(*o));
    o->gfn = g;
    o->nr = x->end - g;
    o->cookie = k->cookie;
    o->access = k->access;
    o->action = k->action;
}

static int query(const struct gc_dom *d, struct gntx_protect_query *q,
                 struct gntx_prot_range *out, uint64_t cap)
{
    const struct gc_prot *p = d->prot;
    uint32_t n = 0;
    uint32_t i = p ? gc_prot_lower(p, q->cursor) : 0;

    for (; p && i < p->next; i++) {
        if (n == cap) {
            q->count = n;
            q->cursor =
                p->ext[i].start > q->cursor ? p->ext[i].start : q->cursor;
            return n ? (int)n : -GNTX_ENOSPC;
        }
        range_fill(p, &p->ext[i], q->cursor, &out[n++]);
    }
    q->count = n;
    q->cursor = 0;
    return (int)n;
}

int gcore_protect_query(struct gcore *c, gntx_domid_t caller,
                        struct gntx_protect_query *q,
                        struct gntx_prot_range *out, uint64_t cap)
{
    struct gc_dom *d;
    int rc;

    if (!q || (cap && !out))
        return -GNTX_EINVAL;
    if (cap > GNTX_MAX_BATCH)
        cap = GNTX_MAX_BATCH;
    gh_lock(c);
    rc = gc_inspect(c, gc_dom_get(c, caller), q->dom, &d);
    if (!rc)
        rc = query(d, q, out, cap);
    gh_unlock(c);
    return rc;
}

/* Binds (or with GNTX_FAULT_RING_NONE unbinds) d's ring. */
static int ring_bind(struct gc_dom *d, const struct gntx_fault_ring *r)
{
    struct gntx_fault_ring_page *rp;

    if (r->flags || (r->gfn != GNTX_FAULT_RING_NONE && !r->port))
        return -GNTX_EINVAL;
    if (r->gfn == GNTX_FAULT_RING_NONE) {
        if (d->prot)
            d->prot->ring_gfn = GNTX_FAULT_RING_NONE;
        return 0;
    }
    if (r->gfn >= d->nr_frames)
        return -GNTX_EFAULT;
    if (d->prot && gc_prot_class_at(d->prot, r->gfn))
        return -GNTX_EBUSY;
    rp = gh_frame(d->cookie, r->gfn, 1);
    if (!rp)
        return -GNTX_EFAULT;
    gh_memset(rp, 0, sizeof(*rp));
    rp->slots = GNTX_FAULT_RING_SLOTS;
    gh_frame_put(d->cookie, rp);
    d->prot->ring_gfn = r->gfn;
    d->prot->ring_port = r->port;
    d->prot->ring_prod = 0;
    return 0;
}

int gcore_fault_ring(struct gcore *c, gntx_domid_t caller,
                     const struct gntx_fault_ring *r)
{
    struct gc_prot *p;
    struct gc_dom *d;
    int rc;

    if (!r)
        return -GNTX_EINVAL;
    gh_lock(c);
    d = gc_dom_get(c, caller);
    rc = d ? gc_prot_get(d, &p) : -GNTX_ESRCH;
    if (!rc)
        rc = ring_bind(d, r);
    gh_unlock(c);
    return rc;
}

/* The domain's own count of its CPU faults, from its ring page. */
static uint64_t own_faults(const struct gc_dom *d)
{
    const struct gntx_fault_ring_page *rp;
    uint32_t n;

    if (!d->prot || d->prot->ring_gfn == GNTX_FAULT_RING_NONE)
        return 0;
    rp = gh_frame(d->cookie, d->prot->ring_gfn, 0);
    if (!rp)
        return 0;
    n = __atomic_load_n(&rp->own_faults, __ATOMIC_RELAXED);
    gh_frame_put(d->cookie, (void *)rp);
    return n;
}

static void stats_fill(const struct gc_dom *d, struct gntx_fault_stats *s)
{
    const struct gc_faults *f = &d->faults;

    s->ranges = d->prot ? d->prot->next : 0;
    s->prot_pages = d->prot ? d->prot->prot_pages : 0;
    s->caused = f->caused;
    s->denied = f->by_action[GNTX_ACT_DENY];
    s->notified = f->by_action[GNTX_ACT_NOTIFY];
    s->killed = f->by_action[GNTX_ACT_KILL];
    s->logged = f->by_action[GNTX_ACT_LOG];
    s->suffered = s->denied + s->notified + s->killed + s->logged;
    s->dropped = f->dropped;
    s->own_reported = own_faults(d);
}

int gcore_fault_stats(struct gcore *c, gntx_domid_t caller,
                      struct gntx_fault_stats *s)
{
    struct gc_dom *d;
    int rc;

    if (!s)
        return -GNTX_EINVAL;
    gh_lock(c);
    rc = gc_inspect(c, gc_dom_get(c, caller), s->dom, &d);
    if (!rc)
        stats_fill(d, s);
    gh_unlock(c);
    return rc;
}
