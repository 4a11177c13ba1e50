/* SPDX-License-Identifier: MIT */
/*
 * query.c: GNTX_OP_QUERY_TABLE, GNTX_OP_QUERY_TREE, GNTX_OP_USAGE and
 * GNTX_OP_SET_QUOTA: what `xgrant grants DOM` and the quota tools see.
 *
 * These are tool paths: the delegation tree is found by scanning every
 * domain's table for entries whose parent is the node (there are no child
 * lists; revoke stays O(1)).
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

struct tree_walk {
    struct gcore *c;
    struct gntx_entry_info *out;
    uint64_t cap;
    uint64_t count; /* nodes seen, written or not */
};

static bool is_child(const struct gc_entry *e, const struct gc_dom *pd,
                     gntx_ref_t pref)
{
    return e->s.live && e->type == GNTX_CREATE_INDIRECT &&
           e->parent_dom == pd->id && e->parent_inc == pd->inc &&
           e->parent_ref == pref;
}

/* Depth-first, node first; depth is bounded by GNTX_MAX_DEPTH. */
static void tree_visit(struct tree_walk *w, const struct gc_dom *d,
                       uint32_t idx, uint16_t depth)
{
    gntx_ref_t ref = gc_pool_name(&d->table, idx);

    if (w->count < w->cap)
        info_fill(w->c, d, idx, depth, &w->out[w->count]);
    w->count++;
    if (depth + 1u >= GNTX_MAX_DEPTH)
        return;
    for (const struct gc_dom *cd = w->c->list; cd; cd = cd->next)
        for (uint32_t i = 0; i < cd->table.cap; i++)
            if (is_child(gc_entry_at(cd, i), d, ref))
                tree_visit(w, cd, i, depth + 1);
}

static int query_tree(struct gcore *c, const struct gc_dom *caller,
                      struct gntx_query *q, struct gntx_entry_info *out,
                      uint64_t cap)
{
    struct tree_walk w = {c, out, cap, 0};
    struct gc_dom *d;
    uint32_t idx;
    int rc = gc_inspect(c, caller, q->dom, &d);

    if (rc)
        return rc;
    rc = gc_pool_find(&d->table, q->ref, &idx);
    if (rc)
        return rc;
    tree_visit(&w, d, idx, 0);
    q->count = (uint32_t)w.count;
    return w.count > cap ? -GNTX_ENOSPC : (int)w.count;
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
