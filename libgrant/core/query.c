/* SPDX-License-Identifier: MIT */
/*
 * query.c: GNTX_OP_QUERY_TABLE, GNTX_OP_QUERY_TREE, GNTX_OP_USAGE and
 * GNTX_OP_SET_QUOTA: what `xgrant grants DOM` and the quota tools see.
 *
 * QUERY_TREE follows the delegation tree's links (tree.c): each node is
 * O(1) to reach, and one call lists at most GNTX_MAX_BATCH nodes and says
 * where to continue (a cursor naming the next node).
 */
#include "private.h"

/*
 * The domain `dom` names (GNTX_DOMID_SELF: the caller), if the caller may
 * look at it: a domain may look at itself, the control domain at anyone.
 */
int gc_inspect(struct gcore *c, const struct gc_dom *caller, gntx_domid_t dom,
               struct gc_dom **out)
{
    gntx_domid_t id;

    if (!caller)
        return -GNTX_ESRCH;
    id = gc_domid(caller->id, dom);
    if (caller->id != id && caller->id != GNTX_DOMID_CONTROL)
        return -GNTX_EPERM;
    *out = gc_dom_get(c, id);
    return *out ? 0 : -GNTX_ESRCH;
}

static void info_fill(const struct gcore *c, const struct gc_dom *d,
                      uint32_t idx, uint16_t depth, struct gntx_entry_info *o)
{
    const struct gc_entry *e = gc_entry_at(d, idx);
    bool direct = e->type == GNTX_CREATE_DIRECT;

    gh_memset(o, 0, sizeof(*o));
    o->dom = d->id;
    o->grantee = e->grantee;
    o->ref = gc_pool_name(&d->table, idx);
    o->rights = e->rights;
    o->type = e->type;
    o->state = gc_entry_orphan(c, e) ? GNTX_STATE_ORPHAN : GNTX_STATE_LIVE;
    o->depth = depth;
    o->parent_dom = direct ? 0 : e->parent_dom;
    o->parent_ref = direct ? 0 : e->parent_ref;
    o->maps = e->maps;
    o->offset = e->offset;
    o->length = e->length;
    o->first_frame = direct ? gc_entry_frames(e)[0] : 0;
    o->nr_frames = direct ? e->nr_frames : 0;
}

static int query_table(struct gcore *c, const struct gc_dom *caller,
                       struct gntx_query *q, struct gntx_entry_info *out,
                       uint64_t cap)
{
    struct gc_dom *d;
    uint32_t n = 0;
    int rc = gc_inspect(c, caller, q->dom, &d);

    if (rc)
        return rc;
    if (cap > GNTX_MAX_ENTRIES)
        cap = GNTX_MAX_ENTRIES;
    for (uint32_t i = q->cursor; i < d->table.cap; i++) {
        if (!gc_entry_at(d, i)->s.live)
            continue;
        if (n == cap) {
            /* Cursor 0 means done: with no room at all, say ENOSPC. */
            q->count = n;
            q->cursor = i;
            return n ? (int)n : -GNTX_ENOSPC;
        }
        info_fill(c, d, i, 0, &out[n++]);
    }
    q->count = n;
    q->cursor = 0;
    return (int)n;
}

/* The node after `at` (at depth *depth) in the depth-first order of the
 * tree below root; false when the walk is over. */
static bool walk_next(const struct gcore *c, struct gc_link root,
                      struct gc_link *at, unsigned *depth)
{
    const struct gc_entry *e = gc_link_entry(c, *at);

    if (*depth + 1 < GNTX_MAX_DEPTH && e->kid_head.idx != GC_NIL) {
        *at = e->kid_head;
        ++*depth;
        return true;
    }
    while (e && *depth > 0 && !(at->dom == root.dom && at->idx == root.idx)) {
        if (e->next.idx != GC_NIL) {
            *at = e->next;
            return true;
        }
        e = gc_tree_parent(c, e, at);
        --*depth;
    }
    return false;
}

/* Where a cursor (the next node to list) stands below root: 0 with *at and
 * *depth, or -GNTX_EAGAIN when it names no node of the tree any more. */
static int walk_resume(const struct gcore *c, const struct gntx_query *q,
                       struct gc_link root, struct gc_link *at, unsigned *depth)
{
    struct gc_dom *d = gc_dom_get(c, q->cursor_dom);
    const struct gc_entry *e;
    struct gc_link up;

    if (!d || gc_pool_find(&d->table, q->cursor, &at->idx))
        return -GNTX_EAGAIN;
    at->dom = d->id;
    e = gc_entry_at(d, at->idx);
    up = *at;
    for (*depth = 0; *depth < GNTX_MAX_DEPTH; ++*depth) {
        if (up.dom == root.dom && up.idx == root.idx)
            return *depth ? 0 : -GNTX_EAGAIN;
        e = gc_tree_parent(c, e, &up);
        if (!e)
            break;
    }
    return -GNTX_EAGAIN;
}

static int query_tree(struct gcore *c, const struct gc_dom *caller,
                      struct gntx_query *q, struct gntx_entry_info *out,
                      uint64_t cap)
{
    struct gc_link root, at;
    unsigned depth = 0;
    uint32_t n = 0;
    struct gc_dom *d;
    int rc = gc_inspect(c, caller, q->dom, &d);

    if (!rc)
        rc = gc_pool_find(&d->table, q->ref, &root.idx);
    if (rc)
        return rc;
    root.dom = d->id;
    at = root;
    if (q->cursor)
        rc = walk_resume(c, q, root, &at, &depth);
    if (rc)
        return rc;
    if (cap > GNTX_MAX_BATCH)
        cap = GNTX_MAX_BATCH;
    do {
        struct gc_dom *ad = gc_dom_get(c, at.dom);

        if (n == cap) {
            q->count = n;
            q->cursor_dom = at.dom;
            q->cursor = gc_pool_name(&ad->table, at.idx);
            return n ? (int)n : -GNTX_ENOSPC;
        }
        info_fill(c, ad, at.idx, (uint16_t)depth, &out[n++]);
    } while (walk_next(c, root, &at, &depth));
    q->count = n;
    q->cursor_dom = 0;
    q->cursor = 0;
    return (int)n;
}

static int usage_get(struct gcore *c, const struct gc_dom *caller,
                     struct gntx_usage *u)
{
    struct gc_dom *d;
    int rc = gc_inspect(c, caller, u->dom, &d);

    if (rc)
        return rc;
    u->entries = d->table.live;
    u->max_entries = d->max_entries;
    u->maps = d->maps.live;
    u->max_maps = d->max_maps;
    u->frames = d->frames_used;
    u->max_frames = d->max_frames;
    u->mem_frames = d->nr_frames;
    return 0;
}

static int quota_set(struct gcore *c, const struct gc_dom *caller,
                     const struct gntx_usage *u)
{
    struct gc_dom *d;

    if (!caller)
        return -GNTX_ESRCH;
    if (caller->id != GNTX_DOMID_CONTROL)
        return -GNTX_EPERM;
    d = gc_dom_get(c, gc_domid(caller->id, u->dom));
    if (!d)
        return -GNTX_ESRCH;
    if (u->max_entries > GNTX_MAX_ENTRIES || u->max_maps > GNTX_MAX_ENTRIES)
        return -GNTX_EINVAL;
    d->max_entries = u->max_entries;
    d->max_maps = u->max_maps;
    d->max_frames = u->max_frames;
    return 0;
}

typedef int (*query_fn)(struct gcore *c, const struct gc_dom *caller,
                        struct gntx_query *q, struct gntx_entry_info *out,
                        uint64_t cap);

static int query_locked(struct gcore *c, gntx_domid_t caller,
                        struct gntx_query *q, struct gntx_entry_info *out,
                        uint64_t cap, query_fn fn)
{
    int rc;

    if (!q || (cap && !out))
        return -GNTX_EINVAL;
    gh_lock(c);
    rc = fn(c, gc_dom_get(c, caller), q, out, cap);
    gh_unlock(c);
    return rc;
}

int gcore_query_table(struct gcore *c, gntx_domid_t caller,
                      struct gntx_query *q, struct gntx_entry_info *out,
                      uint64_t cap)
{
    return query_locked(c, caller, q, out, cap, query_table);
}

int gcore_query_tree(struct gcore *c, gntx_domid_t caller, struct gntx_query *q,
                     struct gntx_entry_info *out, uint64_t cap)
{
    return query_locked(c, caller, q, out, cap, query_tree);
}

/* USAGE when `out` is set (in == out), else SET_QUOTA from `in`. */
static int usage_locked(struct gcore *c, gntx_domid_t caller,
                        const struct gntx_usage *in, struct gntx_usage *out)
{
    struct gc_dom *d;
    int rc;

    if (!in)
        return -GNTX_EINVAL;
    gh_lock(c);
    d = gc_dom_get(c, caller);
    rc = out ? usage_get(c, d, out) : quota_set(c, d, in);
    gh_unlock(c);
    return rc;
}

int gcore_usage(struct gcore *c, gntx_domid_t caller, struct gntx_usage *u)
{
    return usage_locked(c, caller, u, u);
}

int gcore_set_quota(struct gcore *c, gntx_domid_t caller,
                    const struct gntx_usage *u)
{
    return usage_locked(c, caller, u, NULL);
}
