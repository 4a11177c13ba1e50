/* SPDX-License-Identifier: MIT */
/*
 * protect_check.c: the per-access check every COPY, MEMSET and MAP makes
 * against the page protections of the domain whose memory it touches, and
 * what a violation does: EACCES, a record on the owner's fault ring (and
 * its port raised), the offender's destruction (KILL), or only the record
 * (LOG).  grant_abi.h documents the semantics.
 *
 * The fault ring lives in the owner's memory, so the owner may scribble on
 * it at any time: the producer index is ours (never read back), `cons` is
 * read once per record and only used to decide whether the ring is full.
 */
#include "private.h"

/* KILL > NOTIFY > DENY > LOG. */
static unsigned severity(unsigned action)
{
    static const uint8_t sev[GNTX_ACT_MAX + 1] = {
        [GNTX_ACT_LOG] = 0,
        [GNTX_ACT_DENY] = 1,
        [GNTX_ACT_NOTIFY] = 2,
        [GNTX_ACT_KILL] = 3,
    };

    return sev[action];
}

/* The worst violation of one use. */
struct violation {
    const struct gc_prot_class *cls;
    uint64_t addr;   /* first byte of it in the owner's memory */
    unsigned access; /* GNTX_ACC_R, _W or _X: what was missing */
};

static unsigned missing_bit(unsigned need, unsigned allowed)
{
    unsigned miss = need & ~allowed;

    if (miss & GNTX_ACC_R)
        return GNTX_ACC_R;
    return miss & GNTX_ACC_W ? GNTX_ACC_W : GNTX_ACC_X;
}

/*
 * Scans the pages a use touches; true when one of them is violated.  A
 * lookup finds the run of frames with one class around a frame; the scan
 * looks again only when a frame leaves it, and jumps over a run of its own
 * memory (identity frames) at once.
 */
static bool scan(const struct gc_access *a, struct violation *v)
{
    const struct gc_prot *p = a->owner->prot;
    uint64_t first = a->pos >> GNTX_PAGE_SHIFT;
    uint64_t last = (a->pos + a->len - 1) >> GNTX_PAGE_SHIFT;
    struct gc_prot_run run = {1, 0, 0}; /* empty: the first frame looks */

    v->cls = NULL;
    for (uint64_t i = first; i <= last; i++) {
        uint64_t at = i, gfn = a->frames ? a->frames[i] : i;
        const struct gc_prot_class *cls;

        if (gfn < run.lo || gfn >= run.hi)
            gc_prot_run_at(p, gfn, &run);
        if (!a->frames && run.hi - 1 > i)
            i = run.hi - 1 < last ? run.hi - 1 : last; /* same class */
        if (!run.cls)
            continue;
        cls = &p->cls[run.cls - 1];
        if (!(a->access & ~(unsigned)cls->access))
            continue;
        if (v->cls && severity(cls->action) <= severity(v->cls->action))
            continue;
        v->cls = cls;
        v->access = missing_bit(a->access, cls->access);
        v->addr = gfn << GNTX_PAGE_SHIFT;
        if (at == first)
            v->addr |= a->pos & GC_PAGE_MASK;
    }
    return v->cls != NULL;
}

/* Puts one record on owner's ring; false when it was dropped. */
static bool ring_put(struct gc_prot *p, void *cookie,
                     const struct gntx_fault_rec *r)
{
    struct gntx_fault_ring_page *rp;
    uint32_t cons;
    bool ok;

    if (p->ring_gfn == GNTX_FAULT_RING_NONE)
        return false;
    rp = gh_frame(cookie, p->ring_gfn, 1);
    if (!rp)
        return false;
    /* Acquire: the consumer's reads of the slots happen before its cons. */
    cons = __atomic_load_n(&rp->cons, __ATOMIC_ACQUIRE);
    ok = p->ring_prod - cons < GNTX_FAULT_RING_SLOTS;
    if (ok) {
        gh_memcpy(&rp->rec[p->ring_prod % GNTX_FAULT_RING_SLOTS], r,
                  sizeof(*r));
        p->ring_prod++;
        /* Release: the record is visible before the index that covers it. */
        __atomic_store_n(&rp->prod, p->ring_prod, __ATOMIC_RELEASE);
    } else {
        __atomic_store_n(&rp->dropped, rp->dropped + 1, __ATOMIC_RELAXED);
    }
    gh_frame_put(cookie, rp);
    return ok;
}

static void record(const struct gc_access *a, const struct violation *v,
                   unsigned action)
{
    struct gc_prot *p = a->owner->prot;
    struct gntx_fault_rec r = {
        .dom = a->who->id,
        .access = (uint8_t)v->access,
        .action = (uint8_t)action,
        .via = a->via,
        .addr = v->addr,
        .cookie = v->cls->cookie,
        .seq = ++p->ring_seq,
    };

    if (!ring_put(p, a->owner->cookie, &r)) {
        a->owner->faults.dropped++;
        return;
    }
    gh_fault_notify(a->owner->cookie, p->ring_port);
}

/*
 * Whether the accessor may be destroyed for violating the owner's KILL
 * protection.  Never the control domain, nor a domain the host says is
 * privileged or serves others (gh_dom_exempt), nor one that maps memory of
 * a third domain (it serves that domain too): one granter must not take
 * down what other domains depend on.  O(the accessor's map table), on a
 * KILL violation only.
 */
static bool killable(const struct gc_access *a)
{
    const struct gc_dom *who = a->who;

    if (who->id == GNTX_DOMID_CONTROL || gh_dom_exempt(who->cookie))
        return false;
    for (uint32_t i = 0; i < who->maps.cap; i++) {
        const struct gc_map *m = gc_map_at(who, i);

        if (m->s.live && m->root_dom != a->owner->id && m->root_dom != who->id)
            return false;
    }
    return true;
}

int gc_prot_check(struct gcore *c, const struct gc_access *a)
{
    struct violation v;
    unsigned action;

    (void)c;
    if (!a->len || !gc_prot_any(a->owner) || !scan(a, &v))
        return 0;
    if (a->dry)
        return GC_CHECK_AGAIN;
    action = v.cls->action;
    if (action == GNTX_ACT_KILL && !killable(a))
        action = GNTX_ACT_NOTIFY; /* denied and recorded, never destroyed */
    a->who->faults.caused++;
    a->owner->faults.by_action[action]++;
    if (action != GNTX_ACT_DENY)
        record(a, &v, action);
    if (action == GNTX_ACT_KILL)
        gh_dom_kill(a->who->cookie);
    return action == GNTX_ACT_LOG ? 0 : -GNTX_EACCES;
}

int gcore_prot_cpu_check(struct gcore *c, gntx_domid_t who, gntx_domid_t owner,
                         uint64_t gfn, unsigned access)
{
    struct gc_access a = {
        .len = GNTX_PAGE_SIZE, .access = access, .via = GNTX_VIA_CPU};
    struct gc_locks L;
    int rc = 0;

    /* Both domains' locks, exclusive: a violation's action changes both
     * (counters, the owner's ring), and `killable` reads who's maps. */
    gc_locks_init(&L, c, false);
    gc_need(&L, who, true);
    gc_need(&L, owner, true);
    gc_locks_take(&L);
    a.owner = gc_dom_get(c, owner);
    a.who = gc_dom_get(c, who);
    if (a.owner && gfn < a.owner->nr_frames && gc_prot_any(a.owner)) {
        unsigned k = gc_prot_class_at(a.owner->prot, gfn);

        a.pos = gfn << GNTX_PAGE_SHIFT;

        if (a.who)
            rc = gc_prot_check(c, &a);
        else if (k && (access & ~(unsigned)a.owner->prot->cls[k - 1].access))
            rc = -GNTX_EACCES; /* nobody to charge: refused, not recorded */
    }
    gc_locks_drop(&L);
    return rc;
}
