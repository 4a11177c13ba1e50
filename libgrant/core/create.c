/* SPDX-License-Identifier: MIT */
/*
 * create.c: GNTX_OP_CREATE, direct and indirect grants, all-or-nothing.
 *
 * A batch creates its elements in order.  When one fails, the ones already
 * created are undone in reverse order (their refs were never published, so
 * their slots go back exactly as they were), the failing element gets its
 * error and every other element -GNTX_ECANCELED.
 *
 * The fast path (one direct grant of one or two frames) allocates nothing
 * once the caller's table has grown: the frames live inside the entry.
 */
#include "private.h"

/* Rights, length and grantee, common to both kinds. */
static int check_common(struct gcore *c, const struct gc_dom *d,
                        const struct gntx_create *v, struct gc_dom **grantee)
{
    gntx_domid_t gid = gc_domid(d->id, v->grantee);

    if (!v->rights || (v->rights & ~GNTX_R_ALL))
        return -GNTX_EINVAL;
    if (!v->length)
        return -GNTX_EINVAL;
    if (gid == d->id || gid > GNTX_DOMID_MAX)
        return -GNTX_EINVAL;
    *grantee = c->doms[gid];
    return *grantee ? 0 : -GNTX_ESRCH;
}

/* Offset, exact frame count, aux bounds, frames inside the caller. */
static int check_frames(const struct gc_dom *d, const struct gntx_create *v,
                        const uint64_t *frames, uint64_t nr_aux)
{
    uint64_t end, pages, last;

    if (v->offset >= GNTX_PAGE_SIZE)
        return -GNTX_EINVAL;
    if (__builtin_add_overflow(v->offset, v->length, &end))
        return -GNTX_EOVERFLOW;
    pages = (end >> GNTX_PAGE_SHIFT) + ((end & GC_PAGE_MASK) != 0);
    if (v->nr_frames != pages || v->nr_frames > GNTX_MAX_GRANT_FRAMES)
        return -GNTX_EINVAL;
    if (!frames || __builtin_add_overflow(v->frame_idx, v->nr_frames, &last) ||
        last > nr_aux)
        return -GNTX_EINVAL;
    for (uint32_t i = 0; i < v->nr_frames; i++)
        if (frames[v->frame_idx + i] >= d->nr_frames)
            return -GNTX_EFAULT;
    return 0;
}

static void entry_fill(struct gc_entry *e, const struct gntx_create *v,
                       const struct gc_dom *grantee)
{
    e->type = v->type;
    e->grantee = grantee->id;
    e->grantee_inc = grantee->inc;
    e->rights = v->rights;
    e->offset = v->offset;
    e->length = v->length;
    e->maps = 0;
    e->map_head.idx = GC_NIL;
    e->nr_frames = 0;
    e->parent_dom = 0;
    e->parent_ref = 0;
    e->parent_inc = 0;
    gc_tree_init(e);
}

static int create_direct(struct gcore *c, struct gc_dom *d,
                         const struct gntx_create *v, const uint64_t *frames,
                         uint64_t nr_aux, uint32_t *idx)
{
    struct gc_dom *g;
    struct gc_entry *e;
    uint64_t *dst;
    int rc;

    rc = check_common(c, d, v, &g);
    if (!rc)
        rc = check_frames(d, v, frames, nr_aux);
    if (rc)
        return rc;
    /* The quota may have been lowered below what is in use. */
    if (d->frames_used > d->max_frames ||
        v->nr_frames > d->max_frames - d->frames_used)
        return -GNTX_ENOSPC;
    rc = gc_pool_alloc(&d->table, d->max_entries, idx);
    if (rc)
        return rc;
    e = gc_entry_at(d, *idx);
    dst = e->fr.inl;
    if (v->nr_frames > GC_INLINE_FRAMES) {
        dst = gh_zalloc((size_t)v->nr_frames * sizeof(*dst));
        if (!dst) {
            gc_pool_unalloc(&d->table, *idx);
            return -GNTX_ENOMEM;
        }
        e->fr.ext = dst;
    }
    for (uint32_t i = 0; i < v->nr_frames; i++)
        dst[i] = frames[v->frame_idx + i];
    entry_fill(e, v, g);
    e->nr_frames = v->nr_frames;
    d->frames_used += v->nr_frames;
    return 0;
}

static int create_indirect(struct gcore *c, struct gc_dom *d,
                           const struct gntx_create *v, uint32_t *idx,
                           struct gc_locks *L)
{
    gntx_domid_t pid = gc_domid(d->id, v->parent_dom);
    struct gc_dom *g;
    struct gc_entry *e;
    struct gc_res res;
    uint16_t prights;
    int rc;

    rc = check_common(c, d, v, &g);
    if (!rc)
        rc = gc_resolve(c, d, pid, v->parent_ref, v->offset, v->length, 0, &res,
                        L, true);
    if (rc)
        return rc;
    prights = res.top->rights;
    if (!(prights & GNTX_R_DELEGATE) || (v->rights & ~prights))
        return -GNTX_EPERM;
    if (res.nhops + 1 > GNTX_MAX_DEPTH)
        return -GNTX_ELOOP;
    /* The parent's last child gets a sibling (tree.c). */
    if (res.top->kid_tail.idx != GC_NIL) {
        rc = gc_need(L, res.top->kid_tail.dom, true);
        if (rc)
            return rc;
    }
    rc = gc_pool_alloc(&d->table, d->max_entries, idx);
    if (rc)
        return rc;
    e = gc_entry_at(d, *idx);
    entry_fill(e, v, g);
    e->parent_dom = pid;
    e->parent_ref = v->parent_ref;
    e->parent_inc = c->doms[pid]->inc;
    gc_tree_link(c, d, *idx);
    return 0;
}

static int create_one(struct gcore *c, struct gc_dom *d,
                      const struct gntx_create *v, const uint64_t *frames,
                      uint64_t nr_aux, uint32_t *idx, struct gc_locks *L)
{
    switch (v->type) {
    case GNTX_CREATE_DIRECT:
        return create_direct(c, d, v, frames, nr_aux, idx);
    case GNTX_CREATE_INDIRECT:
        return create_indirect(c, d, v, idx, L);
    default:
        return -GNTX_EINVAL;
    }
}

/* Element `bad` failed with rc: every other element is cancelled. */
static int batch_fail(struct gntx_create *v, unsigned n, unsigned bad, int rc)
{
    for (unsigned i = 0; i < n; i++) {
        v[i].ref = GNTX_REF_INVALID;
        v[i].status = i == bad ? rc : -GNTX_ECANCELED;
    }
    return rc;
}

/* The batch under L; GC_RELOCK (everything undone, statuses untouched)
 * when an element needs a domain L does not hold yet. */
static int create_batch(struct gcore *c, struct gc_dom *d,
                        struct gntx_create *v, unsigned n,
                        const uint64_t *frames, uint64_t nr_aux,
                        struct gc_locks *L)
{
    unsigned i;
    uint32_t idx;
    int rc = 0;

    for (i = 0; i < n; i++) {
        rc = create_one(c, d, &v[i], frames, nr_aux, &idx, L);
        if (rc)
            break;
        v[i].ref = gc_pool_name(&d->table, idx);
        v[i].status = 0;
    }
    if (!rc)
        return 0;
    for (unsigned j = i; j-- > 0;)
        gc_entry_undo(c, d, gntx_ref_index(v[j].ref));
    return rc == GC_RELOCK ? rc : batch_fail(v, n, i, rc);
}

/*
 * The caller's domain locked exclusive, and each delegation's parent
 * domain from the start (the chains above them are found on the way: a
 * batch that finds a domain out of order is undone and made again with
 * it locked, lock.c).
 */
int gcore_grant_create(struct gcore *c, gntx_domid_t caller,
                       struct gntx_create *v, unsigned n,
                       const uint64_t *frames, uint64_t nr_frames)
{
    struct gc_locks L;
    struct gc_dom *d;
    int rc;

    if (!n)
        return 0;
    if (!v)
        return -GNTX_EINVAL;
    gc_locks_init(&L, c, false);
    gc_need(&L, caller, true);
    for (unsigned i = 0; i < n && i < GC_LOCKS_MAX / 2; i++)
        if (v[i].type == GNTX_CREATE_INDIRECT)
            gc_need(&L, gc_domid(caller, v[i].parent_dom), true);
    gc_locks_take(&L);
    for (;;) {
        d = gc_dom_get(c, caller);
        rc = d ? create_batch(c, d, v, n, frames, nr_frames, &L)
               : batch_fail(v, n, 0, -GNTX_ESRCH);
        if (rc != GC_RELOCK)
            break;
        gc_relock(&L);
    }
    gc_locks_drop(&L);
    return rc;
}
