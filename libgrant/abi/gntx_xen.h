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
 * returns the op's result (>= 0 or -errno, Xen's errno values).  COPY and
 * MEMSET batches longer than the core's per-call byte budget are finished
 * inside Xen (it resubmits the cut-short elements itself and, when it must
 * give the CPU back, makes a hypercall continuation with the batch's
 * progress in the command's bits above 12): no element comes back
 * -GNTX_EAGAIN from Xen, though a caller written for grant_abi.h's rule
 * (resubmit what comes back -GNTX_EAGAIN) works unchanged.
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

/*
 * Bounds Xen puts on one call: an aux array of at most this many bytes
 * (an input aux beyond it is -E2BIG, an output aux is clamped and the
 * caller goes on from its cursor).  Guest modules use the same bound.
 */
#define GNTX_XEN_MAX_AUX_BYTES (1u << 20)

/*
 * GNTX_OP_MAP on Xen (PV callers).  Xen, not the guest, writes the page
 * table entries, as GNTTABOP_map_grant_ref does with GNTMAP_contains_pte:
 *
 * - aux is in AND out.  In: aux[frame_idx + i] is the machine address of
 *   the caller's L1 page-table entry that is to map page i of the element
 *   (8-byte aligned, in a page that is one of the caller's L1 page tables;
 *   the entry is normally empty).  Out: the frames, as grant_abi.h says.
 * - Each entry is written present, user, accessed, no-execute, RW and
 *   dirty unless GNTX_MAP_RDONLY, with guest-available bit 9 set (Linux's
 *   _PAGE_SPECIAL: no struct page behind it).  Xen takes the page
 *   references any PTE holds (get_page_from_l1e), so an entry the guest
 *   kernel clears itself (munmap, exit) gives them back, and the mapping
 *   stays in the core until UNMAP or the mapper's death.
 * - UNMAP clears the entries that still map the mapping's frames and
 *   flushes the caller's TLBs.  FORCE revoke, the owner's death, and a
 *   PROTECT of the owner that takes all access away replace them with a
 *   scratch page of the mapper's own (one per domain, never the owner's
 *   data) and flush the mapper's TLBs before the revoking call returns; a
 *   PROTECT that takes write away rewrites them read-only.
 * - An element whose entries cannot all be written fails (-EINVAL for a
 *   bad entry address, or the error of the page reference) and leaves no
 *   mapping behind.  Two elements of one call may not name the same aux
 *   slot (-EINVAL for the call).  A domain holds at most 2^18 pages (1 GiB)
 *   of such mappings at a time (-ENOSPC past it).
 */

#endif /* GNTX_XEN_H */
