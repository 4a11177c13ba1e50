/* SPDX-License-Identifier: MIT */
/*
 * protect.c: GNTX_OP_PROTECT, a domain's protections of its own pages.
 *
 * A domain's protections (struct gc_prot) are a sorted set of ranges of
 * frames, each with a class (protect_range.c), and a small table of
 * classes, the distinct (access, action, cookie) triples in use with a
 * page count each.  The check every copy and map makes is then a lookup
 * per run of frames touched, and a domain that never protected anything
 * pays a NULL test.  An element is validated and its class found or made
 * before a single page changes.
 *
 * Budget: one call does at most c->call_pages of work (grant_abi.h):
 * every page an element covers counts, and so does the bookkeeping it
 * causes (ranges covered or moved, mappings scanned for a downgrade).
 * An element applies in chunks of what the budget still allows; one the
 * budget cuts short comes back -GNTX_EAGAIN with gfn and nr moved past
 * what applied, and the elements after it -GNTX_EAGAIN unchanged.
 *
 * Tightening pages that others have mapped downgrades those mappings
 * (gh_map_restrict) before the chunk completes.
 */
#include "private.h"

/* Doubles the class table (up to GNTX_MAX_PROT_CLASSES). */
static int cls_grow(struct gc_prot *p)
{
    uint32_t n = p->ncls ? p->ncls * 2 : 16;
    struct gc_prot_class *t;

    if (p->ncls >= GNTX_MAX_PROT_CLASSES)
        return -GNTX_ENOSPC;
    if (n > GNTX_MAX_PROT_CLASSES)
        n = GNTX_MAX_PROT_CLASSES;
    if (gc_prot_charge(p, (uint64_t)(n - p->ncls) * sizeof(*t)))
        return -GNTX_ENOSPC;
    t = gh_zalloc((size_t)n * sizeof(*t));
    if (!t) {
        gc_prot_refund(p, (uint64_t)(n - p->ncls) * sizeof(*t));
        return -GNTX_ENOSPC;
    }
    if (p->ncls)
        gh_memcpy(t, p->cls, (size_t)p->ncls * sizeof(*t));
    gh_free(p->cls);
    p->cls = t;
    p->ncls = n;
    return 0;
}

/* The class of v's triple (made with no pages if new): 1 + its index. */
static int cls_find(struct gc_prot *p, const struct gntx_protect *v,
                    uint32_t *out)
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
            *out = i + 1;
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
    *out = free_at + 1;
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

/* What a mapping of a page with `access` may still do (GNTX_ACC_*). */
static unsigned map_limit(unsigned access, bool rdonly)
{
    if (!(access & GNTX_ACC_R))
        return GNTX_ACC_NONE;
    if (!(access & GNTX_ACC_W) && !rdonly)
        return GNTX_ACC_R;
    return GNTX_ACC_RW;
}

/* Downgrades the pages of mapping m (of mapper md) in [gfn, end); returns
 * the pages it looked at. */
static uint64_t map_clip(struct gcore *c, struct gc_dom *md, uint32_t idx,
                         uint64_t gfn, uint64_t end, unsigned limit)
{
    const struct gc_map *m = gc_map_at(md, idx);
    struct gc_dom *root = gc_dom_get(c, m->hop_dom[m->nhops - 1]);
    const struct gc_entry *e;
    const uint64_t *fr;
    uint64_t run = 0;

    if (!root)
        return 0;
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
    return m->npages;
}

/* Takes `work` from the budget (what is left of it saturates at 0). */
static void budget_charge(uint64_t *left, uint64_t work)
{
    *left = work < *left ? *left - work : 0;
}

/* The mapping p->dg.node names, and moves the cursor past it. */
static struct gc_map *dg_take(struct gcore *c, struct gc_prot *p,
                              struct gc_dom **md, uint32_t *idx)
{
    struct gc_mlink n = p->dg.node;
    struct gc_map *m;

    *md = c->doms[n.dom];
    *idx = n.idx;
    m = gc_map_at(*md, n.idx);
    p->dg.node = m->hop_next[n.hop];
    return m;
}

/*
 * Every mapping of d's frames [dg.gfn, dg.end) loses what dg.access
 * denies, from where p->dg stands while the budget lasts: true when done,
 * false with p->dg at the next mapping or table slot.  The mappings are
 * those in the map lists of d's direct entries (map.c): O(d's table and
 * the mappings of its memory), never other domains' map tables.  The
 * budget counts the table slots looked at (1 a block of 16) and the pages
 * of each mapping scanned; a call takes one block or mapping at least, so
 * each resubmission moves on, and goes past the budget by at most one
 * mapping's pages.
 */
static bool maps_downgrade(struct gcore *c, struct gc_dom *d, struct gc_prot *p,
                           uint64_t *left)
{
    bool moved = false;

    for (; p->dg.entry < d->table.cap && d->mapped_out;
         p->dg.entry++, p->dg.started = false) {
        const struct gc_entry *e = gc_entry_at(d, p->dg.entry);

        if (!p->dg.started) { /* the slot's first look */
            bool block = !(p->dg.entry % 16);

            if (block && !*left && moved)
                return false;
            if (block)
                budget_charge(left, 1);
            moved |= block;
            if (!e->s.live || e->type != GNTX_CREATE_DIRECT || !e->maps)
                continue;
            p->dg.node = e->map_head;
            p->dg.started = true;
        }
        while (p->dg.node.idx != GC_NIL) {
            struct gc_dom *md;
            uint32_t idx;
            const struct gc_map *m;
            unsigned limit;

            if (!*left && moved)
                return false;
            m = dg_take(c, p, &md, &idx);
            limit = map_limit(p->dg.access, m->rdonly);
            if (limit != GNTX_ACC_RW)
                budget_charge(
                    left, map_clip(c, md, idx, p->dg.gfn, p->dg.end, limit));
            moved = true;
        }
    }
    return true;
}

/* Whether v's chunk from gfn is the one whose downgrade a call cut short. */
static bool dg_resumes(const struct gc_prot *p, uint64_t gfn, uint64_t nr,
                       unsigned access)
{
    return p->dg.live && p->dg.gfn == gfn && p->dg.end - gfn <= nr &&
           p->dg.access == access;
}

/* Starts the downgrade of frames [gfn, end) to `access`, at table slot 0. */
static void dg_start(struct gc_prot *p, uint64_t gfn, uint64_t end,
                     unsigned access)
{
    p->dg.live = true;
    p->dg.access = (uint8_t)access;
    p->dg.entry = 0;
    p->dg.started = false;
    p->dg.gfn = gfn;
    p->dg.end = end;
}

/*
 * Applies v from its start while the budget lasts: 0 when all of it
 * applied (v as it came), -GNTX_EAGAIN with v moved past what did.  A
 * chunk is done once its mappings are downgraded: one whose downgrade the
 * budget cuts short stays in p->dg (its frames already protected), v stops
 * at its start, and the resubmission takes the same chunk on from there.
 * A chunk after an element's first never fails: its frames follow a run of
 * class k (or of none, for k 0), so it merges or drops ranges and never
 * needs more than the range array the first chunk made room for; an
 * element's -GNTX_ENOSPC thus comes with nothing of this call applied.
 */
static int protect_chunks(struct gcore *c, struct gc_dom *d,
                          struct gntx_protect *v, uint32_t k, uint64_t *left)
{
    struct gc_prot *p = d->prot;
    bool down = map_limit(v->access, false) != GNTX_ACC_RW;
    uint64_t gfn = v->gfn, nr = v->nr;

    while (nr) {
        bool again = dg_resumes(p, gfn, nr, v->access);
        uint64_t n = again ? p->dg.end - gfn : nr < *left ? nr : *left;
        uint64_t work;
        int rc;

        if (!n) {
            v->gfn = gfn;
            v->nr = nr;
            return -GNTX_EAGAIN;
        }
        rc = gc_prot_range_set(p, gfn, gfn + n, k, &work);
        if (rc)
            return rc;
        budget_charge(left, again ? work : n + work);
        if (!again)
            dg_start(p, gfn, gfn + n, v->access);
        if (d->mapped_out && down && !maps_downgrade(c, d, p, left)) {
            v->gfn = gfn;
            v->nr = nr;
            return -GNTX_EAGAIN;
        }
        p->dg.live = false;
        gfn += n;
        nr -= n;
    }
    return 0;
}

static int protect_one(struct gcore *c, struct gc_dom *d, void *elem, void *ctx,
                       struct gc_locks *L)
{
    struct gntx_protect *v = elem;
    struct gc_prot *p;
    uint32_t k = 0;
    int rc;

    rc = protect_args(d, v);
    if (rc)
        return rc;
    /* Downgrading others' mappings of d's memory reaches their mappers'
     * tables: the instance lock exclusive (lock.c); else d's own lock. */
    if (d->mapped_out && map_limit(v->access, false) != GNTX_ACC_RW) {
        rc = gc_need_wide(L);
        if (rc)
            return rc;
    }
    if (v->access == GNTX_ACC_RWX && !gc_prot_any(d))
        return 0; /* nothing protected, nothing to lift */
    if (!*(uint64_t *)ctx)
        return -GNTX_EAGAIN; /* the budget is spent: as it came */
    rc = gc_prot_get(d, &p);
    if (!rc && v->access != GNTX_ACC_RWX)
        rc = cls_find(p, v, &k);
    if (rc)
        return rc;
    rc = protect_chunks(c, d, v, k, ctx);
    budget_charge(ctx, p->ncls / 16); /* the class lookup */
    return rc;
}

int gcore_protect(struct gcore *c, gntx_domid_t caller, struct gntx_protect *v,
                  unsigned n)
{
    uint64_t left = c->call_pages;
    int ok = gc_batch(c, caller, v, n, sizeof(*v),
                      offsetof(struct gntx_protect, status), protect_one, &left,
                      false);

    gc_copy_drain(c); /* copies validated before it are over */
    return ok;
}
