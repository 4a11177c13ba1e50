/* SPDX-License-Identifier: MIT */
/*
 * map.c: GNTX_OP_MAP / GNTX_OP_UNMAP and the bookkeeping FORCE revoke and
 * domain removal need.
 *
 * A mapping lives in its MAPPER's map table and names the chain it went
 * through as (domain, slot index) hops.  Every entry of that chain counts
 * it in `maps` and lists it (map_head, through the mapping's hop_prev and
 * hop_next of that hop), so an entry with maps > 0 is busy: it cannot be
 * revoked without FORCE, and while it is live its hops stay valid; a FORCE
 * revoke finds its mappings in its list, not by scanning map tables.
 */
#include "private.h"

static struct gc_map *mlink_map(const struct gcore *c, struct gc_mlink l)
{
    return gc_map_at(c->doms[l.dom], l.idx);
}

/* The entry of hop h of m (live while m is). */
static struct gc_entry *hop_entry(const struct gcore *c, const struct gc_map *m,
                                  unsigned h)
{
    struct gc_dom *d = gc_dom_get(c, m->hop_dom[h]);

    return d ? gc_entry_at(d, m->hop_idx[h]) : NULL;
}

/* Puts mapping `idx` of `mapper` at the head of each of its hops' lists. */
static void map_link(struct gcore *c, struct gc_dom *mapper, uint32_t idx)
{
    struct gc_map *m = gc_map_at(mapper, idx);

    for (unsigned h = 0; h < m->nhops; h++) {
        struct gc_entry *e = hop_entry(c, m, h);
        struct gc_mlink self = {mapper->id, (uint8_t)h, idx};

        m->hop_prev[h].idx = GC_NIL;
        m->hop_next[h] = e->map_head;
        if (e->map_head.idx != GC_NIL)
            mlink_map(c, e->map_head)->hop_prev[e->map_head.hop] = self;
        e->map_head = self;
        e->maps++;
    }
}

/* A PROTECT's downgrade cursor (protect.c) standing at `self`, the root
 * hop of a mapping of `root`'s memory that goes, moves on to `next`. */
static void dg_skip(struct gc_dom *root, struct gc_mlink self,
                    struct gc_mlink next)
{
    struct gc_prot *p = root ? root->prot : NULL;

    if (p && p->dg.live && p->dg.started && p->dg.node.idx == self.idx &&
        p->dg.node.dom == self.dom && p->dg.node.hop == self.hop)
        p->dg.node = next;
}

/* Takes mapping `idx` of `mapper` out of its hops' lists. */
static void map_unlink(struct gcore *c, struct gc_dom *mapper, uint32_t idx)
{
    struct gc_map *m = gc_map_at(mapper, idx);

    for (unsigned h = 0; h < m->nhops; h++) {
        struct gc_entry *e = hop_entry(c, m, h);
        struct gc_mlink prev = m->hop_prev[h], next = m->hop_next[h];

        if (!e)
            continue;
        if (h == m->nhops - 1u)
            dg_skip(gc_dom_get(c, m->hop_dom[h]),
                    (struct gc_mlink){mapper->id, (uint8_t)h, idx}, next);
        if (prev.idx != GC_NIL)
            mlink_map(c, prev)->hop_next[prev.hop] = next;
        else
            e->map_head = next;
        if (next.idx != GC_NIL)
            mlink_map(c, next)->hop_prev[next.hop] = prev;
        if (e->maps)
            e->maps--;
    }
}

/* Drops mapping `idx` of `mapper`, notifying the host when asked. */
void gc_map_drop(struct gcore *c, struct gc_dom *mapper, uint32_t idx,
                 bool notify)
{
    struct gc_map *m = gc_map_at(mapper, idx);
    uint32_t handle = gc_pool_name(&mapper->maps, idx);
    uint16_t root = m->root_dom;
    struct gc_dom *d;

    map_unlink(c, mapper, idx);
    m->nhops = 0;
    d = gc_dom_get(c, root);
    if (d && d->mapped_out)
        d->mapped_out--;
    gc_pool_free(&mapper->maps, idx);
    if (notify)
        gh_unmap_notify(mapper->cookie, root, handle);
}

/* FORCE: drops (and notifies) every mapping through entry idx of owner:
 * O(those mappings x their hops). */
void gc_map_drop_entry(struct gcore *c, struct gc_dom *owner, uint32_t idx)
{
    struct gc_entry *e = gc_entry_at(owner, idx);

    while (e->map_head.idx != GC_NIL)
        gc_map_drop(c, c->doms[e->map_head.dom], e->map_head.idx, true);
    e->maps = 0;
}

/* Argument checks that need no lookup. */
static int map_args(const struct gntx_map *v, uint64_t nr_aux)
{
    uint64_t end;

    if (v->flags & ~GNTX_MAP_RDONLY)
        return -GNTX_EINVAL;
    if (!v->length || ((v->offset | v->length) & GC_PAGE_MASK))
        return -GNTX_EINVAL;
    if (__builtin_add_overflow(v->frame_idx, v->length >> GNTX_PAGE_SHIFT,
                               &end) ||
        end > nr_aux)
        return -GNTX_EINVAL;
    return 0;
}

static void map_record(struct gc_map *m, const struct gc_res *res,
                       const struct gntx_map *v)
{
    uint64_t npages = v->length >> GNTX_PAGE_SHIFT;

    res->root->mapped_out++;
    m->rdonly = (v->flags & GNTX_MAP_RDONLY) != 0;
    m->nhops = (uint8_t)res->nhops;
    m->root_dom = res->root->id;
    m->first = res->start >> GNTX_PAGE_SHIFT;
    m->npages = npages;
    for (unsigned h = 0; h < res->nhops; h++) {
        m->hop_dom[h] = res->hop_dom[h];
        m->hop_idx[h] = res->hop_idx[h];
    }
}

/* The root's page protections allow the mapping (protect_check.c)? */
static int map_protect(struct gcore *c, struct gc_dom *d,
                       const struct gc_res *res, const struct gntx_map *v)
{
    struct gc_access a = {
        .who = d,
        .owner = res->root,
        .frames = gc_entry_frames(res->direct),
        .pos = res->start,
        .len = v->length,
        .access = v->flags & GNTX_MAP_RDONLY ? GNTX_ACC_R : GNTX_ACC_RW,
        .via = GNTX_VIA_MAP,
    };

    return gc_prot_check(c, &a);
}

/* The aux array MAP writes frame numbers to. */
struct map_aux {
    uint64_t *frames;
    uint64_t nr;
};

/* The domains linking mapping m (of res's chain) into its hops' lists
 * writes: each hop's (resolve locked it) and the mapper of each list's
 * head. */
static int link_needs(struct gcore *c, const struct gc_res *res,
                      struct gc_locks *L)
{
    for (unsigned h = 0; h < res->nhops; h++) {
        const struct gc_entry *e =
            gc_entry_at(gc_dom_get(c, res->hop_dom[h]), res->hop_idx[h]);
        int rc =
            e->map_head.idx == GC_NIL ? 0 : gc_need(L, e->map_head.dom, true);

        if (rc)
            return rc;
    }
    return 0;
}

static int map_one(struct gcore *c, struct gc_dom *d, void *elem, void *ctx,
                   struct gc_locks *L)
{
    const struct map_aux *aux = ctx;
    struct gntx_map *v = elem;
    unsigned need = GNTX_R_MAP | GNTX_R_READ;
    uint64_t npages = v->length >> GNTX_PAGE_SHIFT;
    struct gc_res res;
    uint32_t idx;
    int rc;

    rc = map_args(v, aux->nr);
    if (rc)
        return rc;
    if (!(v->flags & GNTX_MAP_RDONLY))
        need |= GNTX_R_WRITE;
    rc = gc_resolve(c, d, gc_domid(d->id, v->dom), v->ref, v->offset, v->length,
                    need, &res, L, true);
    if (!rc)
        rc = link_needs(c, &res, L);
    if (rc)
        return rc;
    if (res.start & GC_PAGE_MASK)
        return -GNTX_EINVAL;
    rc = map_protect(c, d, &res, v);
    if (rc)
        return rc;
    rc = gc_pool_alloc(&d->maps, d->max_maps, &idx);
    if (rc)
        return rc;
    map_record(gc_map_at(d, idx), &res, v);
    map_link(c, d, idx);
    rc = gh_map_made(
        d->cookie, res.root->id, gc_pool_name(&d->maps, idx), v->frame_idx,
        gc_entry_frames(res.direct) + (res.start >> GNTX_PAGE_SHIFT), npages,
        (v->flags & GNTX_MAP_RDONLY) != 0);
    if (rc) {
        gc_map_drop(c, d, idx, false);
        return rc;
    }
    gh_memcpy(&aux->frames[v->frame_idx],
              gc_entry_frames(res.direct) + (res.start >> GNTX_PAGE_SHIFT),
              (size_t)npages * sizeof(*aux->frames));
    v->handle = gc_pool_name(&d->maps, idx);
    v->root_dom = res.root->id;
    return 0;
}

int gcore_map(struct gcore *c, gntx_domid_t caller, struct gntx_map *v,
              unsigned n, uint64_t *frames, uint64_t nr_frames)
{
    struct map_aux aux = {frames, frames ? nr_frames : 0};

    for (unsigned i = 0; v && i < n; i++) {
        v[i].handle = 0;
        v[i].root_dom = GNTX_DOMID_INVALID;
    }
    return gc_batch(c, caller, v, n, sizeof(*v),
                    offsetof(struct gntx_map, status), map_one, &aux, false);
}

/* The domains taking mapping m out of its hops' lists writes: each hop's
 * and the mappers of its neighbours there (the root's is the last hop's:
 * its count of mappings and a PROTECT's cursor). */
static int unlink_needs(const struct gc_map *m, struct gc_locks *L)
{
    int rc = 0;

    for (unsigned h = 0; h < m->nhops && !rc; h++) {
        rc = gc_need(L, m->hop_dom[h], true);
        if (!rc && m->hop_prev[h].idx != GC_NIL)
            rc = gc_need(L, m->hop_prev[h].dom, true);
        if (!rc && m->hop_next[h].idx != GC_NIL)
            rc = gc_need(L, m->hop_next[h].dom, true);
    }
    return rc ? rc : gc_need(L, m->root_dom, true);
}

static int unmap_one(struct gcore *c, struct gc_dom *d, void *elem, void *ctx,
                     struct gc_locks *L)
{
    const struct gntx_unmap *v = elem;
    uint32_t idx;
    int rc = gc_pool_find(&d->maps, v->handle, &idx);

    (void)ctx;
    if (!rc)
        rc = unlink_needs(gc_map_at(d, idx), L);
    if (!rc)
        gc_map_drop(c, d, idx, false);
    return rc;
}

int gcore_unmap(struct gcore *c, gntx_domid_t caller, struct gntx_unmap *v,
                unsigned n)
{
    return gc_batch(c, caller, v, n, sizeof(*v),
                    offsetof(struct gntx_unmap, status), unmap_one, NULL,
                    false);
}
