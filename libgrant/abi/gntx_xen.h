/* SPDX-License-Identifier: MIT */
/*
 * gntx_xen.h: how a guest reaches the xgrant core inside Xen (hv-patches/).
 *
 * Self-contained C99 like grant_abi.h; included by the Xen patch, by the
 * guest kernel module (tests/lab) and by libgrant's xen transport.
 *
 * One new grant-table sub-op past GNTTABOP_cache_flush (12):
 *
 *   HYPERVISOR_grant_table_op(GNTTABOP_xgrant, &call, 1)
 *
 * `call` is one struct gntx_xen_call in the caller's memory.  Xen copies the
 * `count` argument elements and the `aux_count` aux elements in from the
 * guest addresses given (guest virtual addresses, as for every grant-table
 * sub-op), runs gntx_op(op, args, count, aux, aux_count) of grant_abi.h with
 * the calling domain as the caller, copies the elements' out fields back and
 * returns the op's result (>= 0 or -errno, Xen's errno values).  Long COPY
 * and MEMSET batches end early with per-element -GNTX_EAGAIN exactly as
 * grant_abi.h describes; the caller resubmits.
 *
 * A sub-op of the grant-table hypercall rather than a new hypercall: the
 * extension is a grant-table feature, the guest kernels already route
 * grant_table_op, XSM's grant hooks and the compat layer have a place for it,
 * and a hypervisor without the patch answers -ENOSYS for an unknown sub-op,
 * which is how a guest detects the extension (GNTX_OP_VERSION).
 */
#ifndef GNTX_XEN_H
#define GNTX_XEN_H

#include <stdint.h>

#define GNTTABOP_xgrant 13

struct gntx_xen_call {
    uint32_t op;        /* in: enum gntx_op */
    uint32_t count;     /* in: elements at args */
    uint64_t args;      /* in: guest address of the argument array */
    uint64_t aux;       /* in: guest address of the aux array (0 if none) */
    uint64_t aux_count; /* in: elements at aux */
};

_Static_assert(sizeof(struct gntx_xen_call) == 32, "gntx_xen_call");

#endif /* GNTX_XEN_H */
