/* SPDX-License-Identifier: MIT */
/*
 * hypercall.c: gcore_hypercall, the one entry point a host forwards guest
 * hypercalls to.  It checks what concerns the call as a whole (op, batch
 * size, argument and aux arrays) and dispatches to the typed entry points,
 * which take the lock.  GNTX_DOMID_SELF in dom fields is mapped to the
 * caller by the typed entry points themselves.
 */
#include "private.h"

/* Element `elem` under L, relocking as it asks (the elements it left
 * pending completed first: flush). */
static int batch_one(struct gcore *c, gntx_domid_t caller, void *elem,
                     gc_elem_fn fn, gc_flush_fn flush, void *ctx,
                     struct gc_locks *L, int *ok)
{
    for (L->rounds = 0;;) {
        struct gc_dom *d = gc_dom_get(c, caller);
        int st;

        if (!d)
            return -GNTX_ESRCH;
        st = gc_need(L, caller, true);
        if (!st)
            st = fn(c, d, elem, ctx, L);
        if (st != GC_RELOCK)
            return st;
        if (flush)
            *ok += flush(ctx);
        gc_relock(L);
    }
}

int gc_batch_flush(struct gcore *c, gntx_domid_t caller, void *v, unsigned n,
                   size_t esz, size_t status_off, gc_elem_fn fn,
                   gc_flush_fn flush, void *ctx, bool wide)
{
    struct gc_locks L;
    int ok = 0;

    if (n && !v)
        return -GNTX_EINVAL;
    gc_locks_init(&L, c, wide);
    gc_need(&L, caller, true);
    gc_locks_take(&L);
    for (unsigned i = 0; i < n; i++) {
        char *elem = (char *)v + (size_t)i * esz;
        int32_t st = batch_one(c, caller, elem, fn, flush, ctx, &L, &ok);

        if (st == GC_PENDING)
            continue;
        *(int32_t *)(void *)(elem + status_off) = st;
        ok += st == 0;
    }
    if (flush)
        ok += flush(ctx);
    gc_locks_drop(&L);
    return ok;
}

int gc_batch(struct gcore *c, gntx_domid_t caller, void *v, unsigned n,
             size_t esz, size_t status_off, gc_elem_fn fn, void *ctx, bool wide)
{
    return gc_batch_flush(c, caller, v, n, esz, status_off, fn, NULL, ctx,
                          wide);
}

/* Raises *need to idx + nr, the aux end an element names. */
static int aux_end(uint64_t idx, uint64_t nr, uint64_t *need)
{
    uint64_t end;

    if (__builtin_add_overflow(idx, nr, &end))
        return -GNTX_EINVAL;
    if (end > *need)
        *need = end;
    return 0;
}

/* Highest aux index + 1 that a CREATE or MAP batch names. */
static int aux_need(unsigned op, const void *args, unsigned n, uint64_t *need)
{
    const struct gntx_create *cv = args;
    const struct gntx_map *mv = args;
    int rc = 0;

    *need = 0;
    for (unsigned i = 0; i < n && !rc; i++) {
        if (op == GNTX_OP_MAP)
            rc =
                aux_end(mv[i].frame_idx, mv[i].length >> GNTX_PAGE_SHIFT, need);
        else if (cv[i].type == GNTX_CREATE_DIRECT)
            rc = aux_end(cv[i].frame_idx, cv[i].nr_frames, need);
    }
    return rc;
}

/* CREATE and MAP: aux (frame numbers) must hold what the batch names. */
static long do_frames(struct gcore *c, gntx_domid_t caller, unsigned op,
                      void *args, unsigned count, void *aux, uint64_t aux_count)
{
    uint64_t need;
    int rc = aux_need(op, args, count, &need);

    if (rc)
        return rc;
    if (need > aux_count)
        return -GNTX_EINVAL;
    if (op == GNTX_OP_MAP)
        return gcore_map(c, caller, args, count, aux, aux_count);
    return gcore_grant_create(c, caller, args, count, aux, aux_count);
}

/* The single-struct ops: exactly one element. */
static long do_single(struct gcore *c, gntx_domid_t caller, unsigned op,
                      void *args, unsigned count, void *aux, uint64_t aux_count)
{
    if (count != 1)
        return -GNTX_EINVAL;
    switch (op) {
    case GNTX_OP_QUERY_TABLE:
        return gcore_query_table(c, caller, args, aux, aux_count);
    case GNTX_OP_QUERY_TREE:
        return gcore_query_tree(c, caller, args, aux, aux_count);
    case GNTX_OP_USAGE:
        return gcore_usage(c, caller, args);
    case GNTX_OP_PROTECT_QUERY:
        return gcore_protect_query(c, caller, args, aux, aux_count);
    case GNTX_OP_FAULT_RING:
        return gcore_fault_ring(c, caller, args);
    case GNTX_OP_FAULT_STATS:
        return gcore_fault_stats(c, caller, args);
    default:
        return gcore_set_quota(c, caller, args);
    }
}

static long dispatch(struct gcore *c, gntx_domid_t caller, unsigned op,
                     void *args, unsigned count, void *aux, uint64_t aux_count)
{
    switch (op) {
    case GNTX_OP_CREATE:
    case GNTX_OP_MAP:
        return do_frames(c, caller, op, args, count, aux, aux_count);
    case GNTX_OP_REVOKE:
        return gcore_grant_revoke(c, caller, args, count);
    case GNTX_OP_COPY:
        return gcore_copy(c, caller, args, count);
    case GNTX_OP_MEMSET:
        return gcore_memset(c, caller, args, count);
    case GNTX_OP_UNMAP:
        return gcore_unmap(c, caller, args, count);
    case GNTX_OP_PROTECT:
        return gcore_protect(c, caller, args, count);
    case GNTX_OP_IO:
        return -GNTX_EOPNOTSUPP; /* file I/O needs the host: gcore_io */
    default:
        return do_single(c, caller, op, args, count, aux, aux_count);
    }
}

long gcore_hypercall(struct gcore *c, gntx_domid_t caller, unsigned op,
                     void *args, unsigned count, void *aux, uint64_t aux_count)
{
    if (op == GNTX_OP_VERSION)
        return count ? -GNTX_EINVAL : (long)GNTX_ABI_VERSION;
    if (op < GNTX_OP_CREATE || op >= GNTX_OP__MAX)
        return -GNTX_ENOSYS;
    if (count > GNTX_MAX_BATCH)
        return -GNTX_E2BIG;
    if ((count && !args) || (aux_count && !aux))
        return -GNTX_EINVAL;
    if (!gcore_dom_exists(c, caller))
        return -GNTX_ESRCH;
    return dispatch(c, caller, op, args, count, aux, aux_count);
}
