/* SPDX-License-Identifier: MIT */
/*
 * tree.c: the delegation tree's links, so QUERY_TREE walks a tree in time
 * linear in its size instead of scanning every table for every node.
 *
 * Every entry has a list of its children (the indirect entries made from
 * it, oldest first: kid_head .. kid_tail, linked by prev/next) and is
 * linked into its parent's list while it lives.  Links name (domain,
 * index), never pointers, since tables move when they grow.
 *
 * An entry leaves its parent's list when it is freed (revoke, a failed
 * create batch, its domain's removal), so a list never names a freed
 * entry.  When a parent dies first, its children stay linked to one
 * another with nobody holding the list: their parent's slot may be reused
 * by another entry, which starts with no children, and a child updates
 * its parent's head or tail only while that parent is still the one it
 * was made from (same domain incarnation, same ref generation).  Each
 * operation is O(1).
 */
#include "private.h"

static const struct gc_link nil = {0, GC_NIL};

static bool link_is(struct gc_link l, uint16_t dom, uint32_t idx)
{
    return l.idx == idx && l.dom == dom;
}

void gc_tree_init(struct gc_entry *e)
{
    e->kid_head = nil;
    e->kid_tail = nil;
    e->prev = nil;
    e->next = nil;
}

/*
 * The live entry an indirect entry was made from (its parent), or NULL
 * when that is gone; *at names it.
 */
struct gc_entry *gc_tree_parent(const struct gcore *c, const struct gc_entry *e,
                                struct gc_link *at)
{
    struct gc_dom *pd;
    uint32_t idx;

    if (e->type != GNTX_CREATE_INDIRECT)
        return NULL;
    pd = gc_dom_get(c, e->parent_dom);
    if (!pd || pd->inc != e->parent_inc ||
        gc_pool_find(&pd->table, e->parent_ref, &idx))
        return NULL;
    at->dom = pd->id;
    at->idx = idx;
    return gc_entry_at(pd, idx);
}

/* A new indirect entry (d, idx), whose parent is live: last child. */
void gc_tree_link(struct gcore *c, struct gc_dom *d, uint32_t idx)
{
    struct gc_entry *e = gc_entry_at(d, idx), *pe, *tail;
    struct gc_link me = {d->id, idx}, pl;

    pe = gc_tree_parent(c, e, &pl);
    if (!pe)
        return;
    tail = pe->kid_tail.idx == GC_NIL ? NULL : gc_link_entry(c, pe->kid_tail);
    e->prev = tail ? pe->kid_tail : nil;
    e->next = nil;
    if (tail)
        tail->next = me;
    else
        pe->kid_head = me;
    pe->kid_tail = me;
}

/* (d, idx) is about to be freed: out of its parent's list. */
void gc_tree_unlink(struct gcore *c, struct gc_dom *d, uint32_t idx)
{
    struct gc_entry *e = gc_entry_at(d, idx), *pe, *x;
    struct gc_link pl;

    pe = gc_tree_parent(c, e, &pl);
    x = e->prev.idx == GC_NIL ? NULL : gc_link_entry(c, e->prev);
    if (x)
        x->next = e->next;
    else if (pe && link_is(pe->kid_head, d->id, idx))
        pe->kid_head = e->next;
    x = e->next.idx == GC_NIL ? NULL : gc_link_entry(c, e->next);
    if (x)
        x->prev = e->prev;
    else if (pe && link_is(pe->kid_tail, d->id, idx))
        pe->kid_tail = e->prev;
    gc_tree_init(e); /* its own children float, see above */
}
