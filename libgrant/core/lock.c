/* SPDX-License-Identifier: MIT */
/*
 * lock.c: the core's locks.  Two levels, always taken in this order:
 *
 *   1. the instance lock (gh_lock / gh_lock_shared, the host's rwlock);
 *   2. per-domain locks (struct gc_dom.lk, readers-writer, below), in
 *      ascending domain id, and only while the instance lock is held
 *      shared.
 *
 * The instance lock held exclusive ("wide") covers every domain: a
 * domain's addition or removal, gcore_revoke_frames, FORCE revokes of
 * mapped entries and PROTECTs that downgrade mappings (their work reaches
 * mappings of any number of domains), the queries, IO, and a protection
 * violation's action.  Everything else holds it shared and locks the
 * domains it touches: its "lock set".  A domain's table, map table,
 * protections and counters are read under its lock held shared (a copy's
 * validation) and changed under it held exclusive; a mapping's links in
 * the map list of an entry (map.c) are changed only with both the
 * entry's domain and the mapping's mapper locked exclusive, and a tree
 * link (tree.c) with both ends' domains locked exclusive.
 *
 * An operation does not know its whole set at first: a delegation chain
 * names its next domain only once its entry has been read under its
 * domain's lock.  gc_need adds a domain to the set as it is found: locked
 * at once when its id is above every id held (the order holds), else the
 * operation must give up everything (GC_RELOCK, before it changed
 * anything), and gc_relock takes the grown set again in order.  After
 * GC_RELOCK_MAX such rounds for one element, or past GC_LOCKS_MAX
 * domains, the operation takes the instance lock exclusive, so it always
 * finishes.  Nothing waits for anything while it holds a domain lock but
 * for a higher domain's lock: no deadlock, whatever the chains.
 *
 * A domain lock is a word: GC_LK_W while a writer holds it, GC_LK_P while
 * one waits (new readers then wait too: a stream of copies cannot starve
 * a revoke), readers counted below.  Held for bounded work only; waiters
 * spin with gh_relax.
 */
#include "private.h"

#define GC_LK_W       0x80000000u
#define GC_LK_P       0x40000000u
#define GC_RELOCK_MAX 4u

static void dlock_rd(struct gc_dom *d)
{
    for (;;) {
        uint32_t s = __atomic_load_n(&d->lk, __ATOMIC_RELAXED);

        if (!(s & (GC_LK_W | GC_LK_P)) &&
            __atomic_compare_exchange_n(&d->lk, &s, s + 1, false,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
        gh_relax();
    }
}

static void dlock_wr(struct gc_dom *d)
{
    for (;;) {
        uint32_t s = __atomic_load_n(&d->lk, __ATOMIC_RELAXED);

        /* Free but for another writer's wish: ours (it asks again). */
        if (!(s & ~GC_LK_P) &&
            __atomic_compare_exchange_n(&d->lk, &s, GC_LK_W, false,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
        if (!(s & GC_LK_P))
            __atomic_fetch_or(&d->lk, GC_LK_P, __ATOMIC_RELAXED);
        gh_relax();
    }
}

static void dlock_put(struct gc_dom *d, uint8_t mode)
{
    if (mode == GC_LK_WRITE) /* keeps a waiting writer's GC_LK_P */
        __atomic_fetch_and(&d->lk, ~GC_LK_W, __ATOMIC_RELEASE);
    else
        __atomic_fetch_sub(&d->lk, 1, __ATOMIC_RELEASE);
}

static void dlock_get(struct gc_dom *d, uint8_t mode)
{
    if (mode == GC_LK_WRITE)
        dlock_wr(d);
    else
        dlock_rd(d);
}

void gc_locks_init(struct gc_locks *L, struct gcore *c, bool wide)
{
    L->c = c;
    L->wide = wide;
    L->held = GC_HELD_NONE;
    L->rounds = 0;
    L->n = 0;
}

void gc_locks_take(struct gc_locks *L)
{
    if (L->wide) {
        gh_lock(L->c);
        L->held = GC_HELD_WIDE;
        return;
    }
    gh_lock_shared(L->c);
    for (unsigned i = 0; i < L->n; i++) {
        L->d[i] = gc_dom_get(L->c, L->id[i]);
        if (L->d[i])
            dlock_get(L->d[i], L->mode[i]);
    }
    L->held = GC_HELD_SHARED;
}

void gc_locks_drop(struct gc_locks *L)
{
    uint8_t held = L->held;

    L->held = GC_HELD_NONE;
    if (held == GC_HELD_NONE)
        return;
    if (held == GC_HELD_WIDE) {
        gh_unlock(L->c);
        return;
    }
    for (unsigned i = L->n; i-- > 0;)
        if (L->d[i])
            dlock_put(L->d[i], L->mode[i]);
    gh_unlock_shared(L->c);
}

void gc_relock(struct gc_locks *L)
{
    gc_locks_drop(L);
    if (++L->rounds > GC_RELOCK_MAX)
        L->wide = true;
    gc_locks_take(L);
}

int gc_need_wide(struct gc_locks *L)
{
    if (!L || L->wide)
        return 0;
    L->wide = true;
    return L->held ? GC_RELOCK : 0;
}

/* Inserts id at i of the set (sorted), not held yet. */
static void set_insert(struct gc_locks *L, unsigned i, uint16_t id,
                       uint8_t mode)
{
    for (unsigned j = L->n; j > i; j--) {
        L->id[j] = L->id[j - 1];
        L->mode[j] = L->mode[j - 1];
        L->d[j] = L->d[j - 1];
    }
    L->id[i] = id;
    L->mode[i] = mode;
    L->d[i] = NULL;
    L->n++;
}

int gc_need(struct gc_locks *L, uint32_t id, bool write)
{
    uint8_t mode = write ? GC_LK_WRITE : GC_LK_READ;
    unsigned i = 0;

    if (!L || L->wide || id > GNTX_DOMID_MAX)
        return 0;
    if (L->held && !gc_dom_get(L->c, id))
        return 0; /* no such domain: nothing of it to read or change */
    while (i < L->n && L->id[i] < id)
        i++;
    if (i < L->n && L->id[i] == id) {
        if (L->mode[i] >= mode)
            return 0;
        L->mode[i] = mode; /* no upgrade in place: both could wait */
        return L->held ? GC_RELOCK : 0;
    }
    if (L->n == GC_LOCKS_MAX)
        return gc_need_wide(L);
    set_insert(L, i, (uint16_t)id, mode);
    if (!L->held)
        return 0; /* a wish before gc_locks_take */
    if (i + 1 < L->n)
        return GC_RELOCK; /* below a lock held: out of order */
    L->d[i] = gc_dom_get(L->c, id);
    dlock_get(L->d[i], mode);
    return 0;
}
