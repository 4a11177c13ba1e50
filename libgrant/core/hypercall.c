/* SPDX-License-Identifier: MIT */
/*
 * hypercall.c: gcore_hypercall, the one entry point a host forwards guest
 * hypercalls to.  It checks what concerns the call as a whole (op, batch
 * size, argument and aux arrays) and dispatches to the typed entry points,
 * which take the lock.  GNTX_DOMID_SELF in dom fields is mapped to the
 * caller by the typed entry points themselves.
 */
#include "private.h"

/* Highest aux index + 1 that a CREATE batch's direct elements name. */
static int create_aux_need(const struct gntx_create *v, unsigned n,
                           uint64_t *need)
{
    *need = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t end;

        if (v[i].type != GNTX_CREATE_DIRECT)
            continue;
        if (__builtin_add_overflow(v[i].frame_idx, v[i].nr_frames, &end))
            return -GNTX_EINVAL;
        if (end > *need)
            *need = end;
    }
    return 0;
}

static int map_aux_need(const struct gntx_map *v, unsigned n, uint64_t *need)
{
    *need = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t end;

        if (__builtin_add_overflow(v[i].frame_idx,
                                   v[i].length >> GNTX_PAGE_SHIFT, &end))
            return -GNTX_EINVAL;
        if (end > *need)
            *need = end;
    }
    return 0;
}

static long do_create(struct gcore *c, gntx_domid_t caller, void *args,
                      unsigned count, void *aux, uint64_t aux_count)
{
    uint64_t need;
    int rc = create_aux_need(args, count, &need);

    if (rc)
        return rc;
    if (need > aux_count)
        return -GNTX_EINVAL;
    return gcore_grant_create(c, caller, args, count, aux, aux_count);
}

static long do_map(struct gcore *c, gntx_domid_t caller, void *args,
                   unsigned count, void *aux, uint64_t aux_count)
{
    uint64_t need;
    int rc = map_aux_need(args, count, &need);

    if (rc)
        return rc;
    if (need > aux_count)
        return -GNTX_EINVAL;
    return gcore_map(c, caller, args, count, aux, aux_count);
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
    default:
        return gcore_set_quota(c, caller, args);
    }
}

static long dispatch(struct gcore *c, gntx_domid_t caller, unsigned op,
                     void *args, unsigned count, void *aux, uint64_t aux_count)
{
    switch (op) {
    case GNTX_OP_CREATE:
        return do_create(c, caller, args, count, aux, aux_count);
    case GNTX_OP_REVOKE:
        return gcore_grant_revoke(c, caller, args, count);
    case GNTX_OP_COPY:
        return gcore_copy(c, caller, args, count);
    case GNTX_OP_MEMSET:
        return gcore_memset(c, caller, args, count);
    case GNTX_OP_MAP:
        return do_map(c, caller, args, count, aux, aux_count);
    case GNTX_OP_UNMAP:
        return gcore_unmap(c, caller, args, count);
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
