/* SPDX-License-Identifier: MIT */
/*
 * protect_range.c: a domain's protections as a sorted set of ranges.
 *
 * struct gc_prot keeps an array of disjoint ranges of frames, sorted by
 * their first frame, each with a class (1 + an index in the class table);
 * neighbours that touch never share a class (they are merged), so each
 * range is exactly one range PROTECT_QUERY lists.  A frame in no range is
 * unprotected.  The array grows by doubling from a few slots, up to
 * GNTX_MAX_PROT_RANGES, so what a domain costs follows what it protected,
 * never the size of its memory, and the domain pays for it: every byte of
 * this state is charged to it through gh_dom_charge (Xen: its own page
 * allowance), which may refuse (ENOSPC).
 *
 *   lookup     a binary search, O(log ranges); a caller scanning frames
 *              keeps the run it found (struct gc_prot_run) and asks again
 *              only when a frame leaves it;
 *   set        O(log ranges + ranges it covers), plus one memmove of the
 *              ranges behind it when the count changes; it reports that
 *              work so PROTECT can charge it to the call's budget.
 */
#include "private.h"

#define EXT_INIT 8u /* first capacity of the range array */

int gc_prot_charge(struct gc_prot *p, uint64_t more)
{
    int rc = gh_dom_charge(p->cookie, p->charged, p->charged + more);

    if (!rc)
        p->charged += more;
    return rc ? -GNTX_ENOSPC : 0;
}

void gc_prot_refund(struct gc_prot *p, uint64_t less)
{
    gh_dom_charge(p->cookie, p->charged, p->charged - less);
    p->charged -= less;
}

void gc_prot_free(struct gc_dom *d)
{
    if (!d->prot)
        return;
    gc_prot_refund(d->prot, d->prot->charged);
    gh_free(d->prot->ext);
    gh_free(d->prot->cls);
    gh_free(d->prot);
    d->prot = NULL;
}

/* The domain's protection state, made on first use (no range yet). */
int gc_prot_get(struct gc_dom *d, struct gc_prot **out)
{
    struct gc_prot *p = d->prot;

    if (!p) {
        p = gh_zalloc(sizeof(*p));
        if (!p)
            return -GNTX_ENOSPC;
        p->cookie = d->cookie;
        if (gc_prot_charge(p, sizeof(*p))) {
            gh_free(p);
            return -GNTX_ENOSPC;
        }
        p->ring_gfn = GNTX_FAULT_RING_NONE;
        d->prot = p;
    }
    *out = p;
    return 0;
}

/* Index of the first range that ends after gfn (p->next when none). */
uint32_t gc_prot_lower(const struct gc_prot *p, uint64_t gfn)
{
    uint32_t lo = 0, hi = p->next;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;

        if (p->ext[mid].end <= gfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void gc_prot_run_at(const struct gc_prot *p, uint64_t gfn,
                    struct gc_prot_run *run)
{
    uint32_t i = gc_prot_lower(p, gfn);

    if (i < p->next && p->ext[i].start <= gfn) {
        run->lo = p->ext[i].start;
        run->hi = p->ext[i].end;
        run->cls = p->ext[i].cls;
        return;
    }
    run->lo = i ? p->ext[i - 1].end : 0;
    run->hi = i < p->next ? p->ext[i].start : UINT64_MAX;
    run->cls = 0;
}

unsigned gc_prot_class_at(const struct gc_prot *p, uint64_t gfn)
{
    struct gc_prot_run run;

    gc_prot_run_at(p, gfn, &run);
    return run.cls;
}

/* Room for `more` ranges past p->next: 0 or -GNTX_ENOSPC. */
static int ext_reserve(struct gc_prot *p, uint32_t more)
{
    uint64_t need = (uint64_t)p->next + more;
    uint32_t cap = p->cap ? p->cap : EXT_INIT;
    struct gc_prot_ext *t;

    if (need <= p->cap)
        return 0;
    if (need > GNTX_MAX_PROT_RANGES)
        return -GNTX_ENOSPC;
    while (cap < need)
        cap *= 2;
    if (cap > GNTX_MAX_PROT_RANGES)
        cap = GNTX_MAX_PROT_RANGES;
    if (gc_prot_charge(p, (uint64_t)(cap - p->cap) * sizeof(*t)))
        return -GNTX_ENOSPC;
    t = gh_zalloc((size_t)cap * sizeof(*t));
    if (!t) {
        gc_prot_refund(p, (uint64_t)(cap - p->cap) * sizeof(*t));
        return -GNTX_ENOSPC;
    }
    if (p->next)
        gh_memcpy(t, p->ext, (size_t)p->next * sizeof(*t));
    gh_free(p->ext);
    p->ext = t;
    p->cap = cap;
    return 0;
}

/* The ranges that replace [lo, hi) when [g, e) becomes class k. */
struct ext_edit {
    uint32_t lo, hi;          /* old ranges replaced (neighbours included) */
    struct gc_prot_ext pc[5]; /* their replacement, sorted and merged */
    uint32_t npc;
};

static void edit_push(struct ext_edit *ed, uint64_t s, uint64_t e, uint32_t k)
{
    struct gc_prot_ext *last = ed->npc ? &ed->pc[ed->npc - 1] : NULL;

    if (s >= e || !k)
        return;
    if (last && last->end == s && last->cls == k) {
        last->end = e;
        return;
    }
    ed->pc[ed->npc].start = s;
    ed->pc[ed->npc].end = e;
    ed->pc[ed->npc].cls = k;
    ed->npc++;
}

/* Plans the edit; *covered: ranges that overlap [g, e). */
static void edit_plan(const struct gc_prot *p, uint64_t g, uint64_t e,
                      uint32_t k, struct ext_edit *ed, uint32_t *covered)
{
    uint32_t i = gc_prot_lower(p, g), j = i;
    const struct gc_prot_ext *x = p->ext;

    while (j < p->next && x[j].start < e)
        j++;
    *covered = j - i;
    ed->lo = i && x[i - 1].end == g ? i - 1 : i; /* may merge on the left */
    ed->hi = j < p->next && x[j].start == e ? j + 1 : j; /* or the right */
    ed->npc = 0;
    if (ed->lo < i)
        edit_push(ed, x[i - 1].start, x[i - 1].end, x[i - 1].cls);
    if (i < j && x[i].start < g)
        edit_push(ed, x[i].start, g, x[i].cls);
    edit_push(ed, g, e, k);
    if (i < j && x[j - 1].end > e)
        edit_push(ed, e, x[j - 1].end, x[j - 1].cls);
    if (ed->hi > j)
        edit_push(ed, x[j].start, x[j].end, x[j].cls);
}

/* Page counts of the classes [g, e) leaves and joins. */
static void edit_count(struct gc_prot *p, uint64_t g, uint64_t e, uint32_t k,
                       uint32_t from, uint32_t covered)
{
    for (uint32_t i = from; i < from + covered; i++) {
        const struct gc_prot_ext *x = &p->ext[i];
        uint64_t s = x->start > g ? x->start : g;
        uint64_t t = x->end < e ? x->end : e;

        p->cls[x->cls - 1].pages -= t - s;
        p->prot_pages -= t - s;
    }
    if (k) {
        p->cls[k - 1].pages += e - g;
        p->prot_pages += e - g;
    }
}

/*
 * Sets frames [g, e) to class k (0: unprotected).  All or nothing: 0, or
 * -GNTX_ENOSPC (GNTX_MAX_PROT_RANGES, or no memory) with nothing changed.
 * *work: ranges covered plus ranges moved / 16, for the caller's budget.
 */
int gc_prot_range_set(struct gc_prot *p, uint64_t g, uint64_t e, uint32_t k,
                      uint64_t *work)
{
    struct ext_edit ed;
    uint32_t covered, old, tail;
    int rc;

    edit_plan(p, g, e, k, &ed, &covered);
    old = ed.hi - ed.lo;
    if (ed.npc > old) {
        rc = ext_reserve(p, ed.npc - old);
        if (rc)
            return rc;
    }
    edit_count(p, g, e, k, gc_prot_lower(p, g), covered);
    tail = p->next - ed.hi;
    if (ed.npc != old && tail)
        __builtin_memmove(&p->ext[ed.lo + ed.npc], &p->ext[ed.hi],
                          (size_t)tail * sizeof(*p->ext));
    if (ed.npc)
        gh_memcpy(&p->ext[ed.lo], ed.pc, (size_t)ed.npc * sizeof(*p->ext));
    p->next = p->next - old + ed.npc;
    *work = 1 + covered + (ed.npc != old ? tail / 16 : 0);
    return 0;
}
