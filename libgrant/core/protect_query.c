/* SPDX-License-Identifier: MIT */
/*
 * protect_query.c: GNTX_OP_PROTECT_QUERY (the ranges `xgrant protections`
 * lists), GNTX_OP_FAULT_RING (binding the ring records go to) and
 * GNTX_OP_FAULT_STATS (the counters `xgrant list` shows).  Tool paths: a
 * query walks the page array.
 */
#include "private.h"

/* The end of the run of pages with class page[g] from g on. */
static uint64_t run_end(const struct gc_dom *d, uint64_t g)
{
    const uint16_t *page = d->prot->page;
    uint64_t e = g + 1;

    while (e < d->nr_frames && page[e] == page[g])
        e++;
    return e;
}

static void range_fill(const struct gc_prot *p, uint64_t g, uint64_t end,
                       struct gntx_prot_range *o)
{
    const struct gc_prot_class *k = &p->cls[p->page[g] - 1];

    gh_memset(o, 0, sizeof(*o));
    o->gfn = g;
    o->nr = end - g;
    o->cookie = k->cookie;
    o->access = k->access;
    o->action = k->action;
}

static int query(const struct gc_dom *d, struct gntx_protect_query *q,
                 struct gntx_prot_range *out, uint64_t cap)
{
    uint32_t n = 0;
    uint64_t g = q->cursor;

    while (d->prot && g < d->nr_frames) {
        uint64_t end = run_end(d, g);

        if (d->prot->page[g]) {
            if (n == cap) {
                q->count = n;
                q->cursor = g;
                return n ? (int)n : -GNTX_ENOSPC;
            }
            range_fill(d->prot, g, end, &out[n++]);
        }
        g = end;
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
    if (d->prot && d->prot->page[r->gfn])
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

static uint32_t ranges(const struct gc_dom *d)
{
    uint32_t n = 0;

    for (uint64_t g = 0; d->prot && d->prot->page && g < d->nr_frames;
         g = run_end(d, g))
        n += d->prot->page[g] != 0;
    return n;
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

    s->ranges = ranges(d);
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
