/* SPDX-License-Identifier: MIT */
/*
 * protect.c: GNTX_OP_PROTECT, a domain's protections of its own pages.
 *
 * A domain's protections (struct gc_prot) are a page array, one uint16_t
 * per frame of its memory (0: unprotected, else 1 + a class index), and a
 * small table of classes, the distinct (access, action, cookie) triples in
 * use with a page count each.  The check every copy and map makes is then a
 * load per page touched, and a domain that never protected anything pays a
 * NULL test.  An element is validated and its class found or made before a
 * single page changes, so it applies whole or not at all.
 *
 * Tightening pages that others have mapped downgrades those mappings
 * (gh_map_restrict) before the element completes.
 */
#include "private.h"

void gc_prot_free(struct gc_dom *d)
{
    if (!d->prot)
        return;
    gh_free(d->prot->page);
    gh_free(d->prot->cls);
    gh_free(d->prot);
    d->prot = NULL;
}

/* The domain's protection state, made on first use. */
int gc_prot_get(struct gc_dom *d, struct gc_prot **out)
{
    struct gc_prot *p = d->prot;

    if (!p) {
        if (d->nr_frames > SIZE_MAX / sizeof(*p->page))
            return -GNTX_ENOSPC;
        p = gh_zalloc(sizeof(*p));
        if (!p)
            return -GNTX_ENOSPC;
        p->page = gh_zalloc((size_t)d->nr_frames * sizeof(*p->page));
        if (!p->page && d->nr_frames) {
            gh_free(p);
            return -GNTX_ENOSPC;
        }
        p->ring_gfn = GNTX_FAULT_RING_NONE;
        d->prot = p;
    }
    *out = p;
    return 0;
}

/* Doubles the class table (up to GNTX_MAX_PROT_CLASSES). */
static int cls_grow(struct gc_prot *p)
{
    uint32_t n = p->ncls ? p->ncls * 2 : 16;
    struct gc_prot_class *t;

    if (p->ncls >= GNTX_MAX_PROT_CLASSES)
        return -GNTX_ENOSPC;
    if (n > GNTX_MAX_PROT_CLASSES)
        n = GNTX_MAX_PROT_CLASSES;
    t = gh_zalloc((size_t)n * sizeof(*t));
    if (!t)
        return -GNTX_ENOSPC;
    if (p->ncls)
        gh_memcpy(t, p->cls, (size_t)p->ncls * sizeof(*t));
    gh_free(p->cls);
    p->cls = t;
    p->ncls = n;
    return 0;
}

/* The class of v's triple (made with no pages if new): 1 + its index. */
static int cls_find(struct gc_prot *p, const struct gntx_protect *v,
                    uint16_t *out)
{
    uint32_t free_at = GC_NIL;
    int rc;

    for (uint32_t i = 0; i < p->ncls; i++) {
        const struct gc_prot_class *k = &p->cls[i];

        if (!k->pages) {
            free_at = free_at == GC_NIL ? i : free_at;
            continue;
        }
        if (k->access == v->access && k->action == v->action &&
            k->cookie == v->cookie) {
            *out = (uint16_t)(i + 1);
            return 0;
        }
    }
    if (free_at == GC_NIL) {
        free_at = p->ncls;
        rc = cls_grow(p);
        if (rc)
            return rc;
    }
    p->cls[free_at].access = v->access;
    p->cls[free_at].action = v->action;
    p->cls[free_at].cookie = v->cookie;
    *out = (uint16_t)(free_at + 1);
    return 0;
}

static bool access_ok(unsigned a)
{
    return a == GNTX_ACC_NONE || a == GNTX_ACC_R || a == GNTX_ACC_RW ||
           a == GNTX_ACC_RX || a == GNTX_ACC_RWX;
}

/* Checks that need no state but the caller's size and ring. */
static int protect_args(const struct gc_dom *d, const struct gntx_protect *v)
{
    uint64_t end, ring;

    if (!v->nr || v->flags || !access_ok(v->access) || v->action > GNTX_ACT_MAX)
        return -GNTX_EINVAL;
    if (__builtin_add_overflow(v->gfn, v->nr, &end))
        return -GNTX_EOVERFLOW;
    if (end > d->nr_frames)
        return -GNTX_EFAULT;
    ring = d->prot ? d->prot->ring_gfn : GNTX_FAULT_RING_NONE;
    if (v->access != GNTX_ACC_RWX && ring >= v->gfn && ring < end)
        return -GNTX_EBUSY;
    return 0;
}

/* Sets pages [gfn, gfn+nr) to class k (0: unprotected). */
static void pages_set(struct gc_prot *p, uint64_t gfn, uint64_t nr, uint16_t k)
{
    for (uint64_t g = gfn; g < gfn + nr; g++) {
        uint16_t old = p->page[g];

        if (old == k)
            continue;
        if (old)
            p->cls[old - 1].pages--;
        else
            p->prot_pages++;
        if (k)
            p->cls[k - 1].pages++;
        else
            p->prot_pages--;
        p->page[g] = k;
    }
}

/* What a mapping of a page with `access` may still do (GNTX_ACC_*). */
static unsigned map_limit(unsigned access, bool rdonly)
{
    if (!(access & GNTX_ACC_R))
        return GNTX_ACC_NONE;
    if (!(access & GNTX_ACC_W) && !rdonly)
        return GNTX_ACC_R;
    return GNTX_ACC_RW;
}

/* Downgrades the pages of mapping m (of mapper md) in [gfn, end). */
static void map_clip(struct gcore *c, struct gc_dom *md, uint32_t idx,
                     uint64_t gfn, uint64_t end, unsigned limit)
{
    const struct gc_map *m = gc_map_at(md, idx);
    struct gc_dom *root = gc_dom_get(c, m->hop_dom[m->nhops - 1]);
    const struct gc_entry *e;
    const uint64_t *fr;
    uint64_t run = 0;

    if (!root)
        return;
    e = gc_entry_at(root, m->hop_idx[m->nhops - 1]);
    fr = gc_entry_frames(e) + m->first;
    for (uint64_t j = 0; j <= m->npages; j++) {
        bool in = j < m->npages && fr[j] >= gfn && fr[j] < end;

        if (in) {
            run++;
            continue;
        }
        if (run)
            gh_map_restrict(md->cookie, root->id, gc_pool_name(&md->maps, idx),
                            j - run, run, limit);
        run = 0;
    }
}

/* Every mapping of d's frames [gfn, gfn+nr) loses what `access` denies. */
static void maps_downgrade(struct gcore *c, struct gc_dom *d, uint64_t gfn,
                           uint64_t nr, unsigned access)
{
    for (struct gc_dom *md = c->list; md && d->mapped_out; md = md->next) {
        for (uint32_t i = 0; i < md->maps.cap; i++) {
            const struct gc_map *m = gc_map_at(md, i);
            unsigned limit;

            if (!m->s.live || !m->nhops || m->root_dom != d->id)
                continue;
            limit = map_limit(access, m->rdonly);
            if (limit != GNTX_ACC_RW)
                map_clip(c, md, i, gfn, gfn + nr, limit);
        }
    }
}

static int protect_one(struct gcore *c, struct gc_dom *d, void *elem, void *ctx)
{
    const struct gntx_protect *v = elem;
    struct gc_prot *p;
    uint16_t k = 0;
    int rc;

    (void)ctx;
    rc = protect_args(d, v);
    if (rc)
        return rc;
    if (v->access == GNTX_ACC_RWX && !gc_prot_any(d))
        return 0; /* nothing protected, nothing to lift */
    rc = gc_prot_get(d, &p);
    if (!rc && v->access != GNTX_ACC_RWX)
        rc = cls_find(p, v, &k);
    if (rc)
        return rc;
    pages_set(p, v->gfn, v->nr, k);
    if (d->mapped_out && map_limit(v->access, false) != GNTX_ACC_RW)
        maps_downgrade(c, d, v->gfn, v->nr, v->access);
    return 0;
}

int gcore_protect(struct gcore *c, gntx_domid_t caller, struct gntx_protect *v,
                  unsigned n)
{
    return gc_batch(c, caller, v, n, sizeof(*v),
                    offsetof(struct gntx_protect, status), protect_one, NULL);
}
