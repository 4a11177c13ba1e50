/* SPDX-License-Identifier: MIT */
/*
 * table.c: slot pools (grant tables and map tables) and grant entry
 * lifetime.
 *
 * A pool grows by doubling, up to the owner's quota (plus the slots it has
 * retired) and GNTX_MAX_ENTRIES.  Allocation and freeing are O(1) and,
 * once the pool has grown, allocation-free: this is the create/revoke fast
 * path.
 */
#include "private.h"

void gc_pool_init(struct gc_pool *p, size_t esz)
{
    p->base = NULL;
    p->esz = esz;
    p->cap = 0;
    p->live = 0;
    p->retired = 0;
    p->head = GC_NIL;
    p->tail = GC_NIL;
}

void gc_pool_fini(struct gc_pool *p)
{
    gh_free(p->base);
    gc_pool_init(p, p->esz);
}

static void pool_push_tail(struct gc_pool *p, uint32_t idx)
{
    struct gc_slot *s = gc_pool_at(p, idx);

    s->next = GC_NIL;
    if (p->tail == GC_NIL)
        p->head = idx;
    else
        ((struct gc_slot *)gc_pool_at(p, p->tail))->next = idx;
    p->tail = idx;
}

/* The capacity the next growth should reach, or 0 when it cannot grow. */
static uint32_t pool_next_cap(const struct gc_pool *p, uint32_t max_live)
{
    uint64_t limit = (uint64_t)max_live + p->retired;
    uint64_t want = p->cap ? (uint64_t)p->cap * 2 : GC_POOL_INIT;

    if (limit > GNTX_MAX_ENTRIES)
        limit = GNTX_MAX_ENTRIES;
    if (want > limit)
        want = limit;
    return want > p->cap ? (uint32_t)want : 0;
}

static int pool_grow(struct gc_pool *p, uint32_t max_live)
{
    uint32_t cap = pool_next_cap(p, max_live), old;
    char *base;

    if (!cap)
        return -GNTX_ENOSPC;
    base = gh_zalloc((size_t)cap * p->esz);
    if (!base)
        return -GNTX_ENOMEM;
    if (p->base)
        gh_memcpy(base, p->base, (size_t)p->cap * p->esz);
    gh_free(p->base);
    p->base = base;
    old = p->cap;
    p->cap = cap;
    for (uint32_t i = old; i < cap; i++) {
        ((struct gc_slot *)gc_pool_at(p, i))->gen = 1;
        pool_push_tail(p, i);
    }
    return 0;
}

/*
 * Takes a free slot: 0 and *idx, -GNTX_ENOSPC when `max_live` objects are
 * live or the pool is at GNTX_MAX_ENTRIES, -GNTX_ENOMEM.
 */
int gc_pool_alloc(struct gc_pool *p, uint32_t max_live, uint32_t *idx)
{
    struct gc_slot *s;
    int rc;

    if (p->live >= max_live)
        return -GNTX_ENOSPC;
    if (p->head == GC_NIL) {
        rc = pool_grow(p, max_live);
        if (rc)
            return rc;
    }
    *idx = p->head;
    s = gc_pool_at(p, *idx);
    p->head = s->next;
    if (p->head == GC_NIL)
        p->tail = GC_NIL;
    s->next = GC_NIL;
    s->live = 1;
    p->live++;
    return 0;
}

/*
 * Gives back a slot whose name was never published, as if gc_pool_alloc
 * had not happened: the generation stays, the slot goes back to the head.
 * Undoing several allocations in reverse order restores the queue exactly.
 */
void gc_pool_unalloc(struct gc_pool *p, uint32_t idx)
{
    struct gc_slot *s = gc_pool_at(p, idx);

    s->live = 0;
    s->next = p->head;
    p->head = idx;
    if (p->tail == GC_NIL)
        p->tail = idx;
    p->live--;
}

/* Frees a slot: its name goes stale; a slot out of generations retires. */
void gc_pool_free(struct gc_pool *p, uint32_t idx)
{
    struct gc_slot *s = gc_pool_at(p, idx);

    s->live = 0;
    s->gen++;
    p->live--;
    if (s->gen > GNTX_REF_GEN_MAX) {
        p->retired++;
        return;
    }
    pool_push_tail(p, idx);
}

/*
 * Looks a (gen << 18 | index) name up: 0 and *idx for a live object,
 * -GNTX_ESTALE when the name was issued and its object freed since,
 * -GNTX_ENOENT when it was never issued.
 */
int gc_pool_find(const struct gc_pool *p, uint32_t name, uint32_t *idx)
{
    uint32_t i = gntx_ref_index(name), gen = gntx_ref_gen(name);
    const struct gc_slot *s;

    if (i >= p->cap || gen == 0)
        return -GNTX_ENOENT;
    s = gc_pool_at(p, i);
    if (s->live && s->gen == gen) {
        *idx = i;
        return 0;
    }
    return gen < s->gen ? -GNTX_ESTALE : -GNTX_ENOENT;
}

uint32_t gc_pool_name(const struct gc_pool *p, uint32_t idx)
{
    const struct gc_slot *s = gc_pool_at(p, idx);

    return gntx_ref_make(idx, s->gen);
}

int gc_entry_find(struct gc_dom *d, gntx_ref_t ref, struct gc_entry **e)
{
    uint32_t idx;
    int rc = gc_pool_find(&d->table, ref, &idx);

    if (rc)
        return rc;
    *e = gc_entry_at(d, idx);
    return 0;
}

/* Drops what a live entry holds besides its slot. */
static void entry_clear(struct gc_dom *d, struct gc_entry *e)
{
    if (e->type == GNTX_CREATE_DIRECT) {
        if (e->nr_frames > GC_INLINE_FRAMES)
            gh_free(e->fr.ext);
        d->frames_used -= e->nr_frames;
    }
    e->fr.ext = NULL;
    e->fr.inl[1] = 0;
    e->nr_frames = 0;
    e->maps = 0;
}

/* Revoked: the slot's generation moves on.  Mappings are gone already. */
void gc_entry_release(struct gcore *c, struct gc_dom *d, uint32_t idx)
{
    gc_tree_unlink(c, d, idx);
    entry_clear(d, gc_entry_at(d, idx));
    gc_pool_free(&d->table, idx);
}

/* Never published (a failed create batch): as if never created. */
void gc_entry_undo(struct gcore *c, struct gc_dom *d, uint32_t idx)
{
    gc_tree_unlink(c, d, idx);
    entry_clear(d, gc_entry_at(d, idx));
    gc_pool_unalloc(&d->table, idx);
}

/*
 * True when some ancestor of `e` is dead: revoked, or its domain removed
 * (or replaced by a new incarnation).  Bounded by GNTX_MAX_DEPTH.
 */
bool gc_entry_orphan(const struct gcore *c, const struct gc_entry *e)
{
    for (unsigned hop = 1; e->type == GNTX_CREATE_INDIRECT; hop++) {
        struct gc_dom *pd = gc_dom_get(c, e->parent_dom);
        uint32_t idx;

        if (hop >= GNTX_MAX_DEPTH || !pd || pd->inc != e->parent_inc)
            return true;
        if (gc_pool_find(&pd->table, e->parent_ref, &idx))
            return true;
        e = gc_entry_at(pd, idx);
    }
    return false;
}
