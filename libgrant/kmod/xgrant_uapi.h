/* SPDX-License-Identifier: MIT */
/*
 * xgrant_uapi.h: the /dev/xgrant interface between the guest kernel module
 * (xgrant.c here) and libgrant's xen transport (libgrant/lib/xen/xen.c).
 *
 * The module owns the domain's "grant memory": XGRANT_IOC_SETUP allocates
 * nr_pages pages once per open file, mmap of the file at offset 0 shows
 * them, and every address libgrant passes to XGRANT_IOC_CALL is in that
 * model: a LOCAL byte address is an offset into the mapping and a CREATE
 * frame is a page index into it (exactly libgrant's guest-physical model
 * under xgrantd).  The module rewrites them into the frame numbers Xen
 * knows (a PV guest's machine frames), splitting LOCAL ranges at page
 * boundaries, and issues HYPERVISOR_grant_table_op(GNTTABOP_xgrant).
 * XGRANT_IOC_CALL returns the op's result (>= 0) or fails with its errno.
 */
#ifndef XGRANT_UAPI_H
#define XGRANT_UAPI_H

#ifdef __KERNEL__
#include <linux/ioctl.h>
#include <linux/types.h>
#else
#include <stdint.h>
#include <sys/ioctl.h>
#endif

#define XGRANT_DEVICE "/dev/xgrant"
/* Pages XGRANT_IOC_SETUP accepts at most (256 MiB). */
#define XGRANT_MAX_PAGES (1u << 16)

struct xgrant_ioc_setup {
    uint64_t nr_pages; /* in */
};

struct xgrant_ioc_info {
    uint16_t domid; /* out: the calling domain */
    uint16_t pad[3];
    uint64_t nr_pages; /* out: 0 before XGRANT_IOC_SETUP */
};

/*
 * Map windows.  mmap of /dev/xgrant at a file offset >= XGRANT_MAP_OFFSET
 * (MAP_SHARED, any length) makes an empty window: no pages, not split by a
 * partial munmap (EINVAL), not inherited by fork.  XGRANT_IOC_CALL with
 * op GNTX_OP_MAP takes in aux[frame_idx + i] the user address of page i of
 * each element instead of a frame: the element's pages must be a whole
 * window of this file, in order, with no mapping in it yet.  The module
 * hands Xen the window's page-table entries (gntx_xen.h) and, on success,
 * binds the window to the mapping: munmap of the window (or the process's
 * exit) unmaps it.  aux out holds the frames as usual.  A window opened
 * PROT_READ only takes GNTX_MAP_RDONLY mappings.
 */
#define XGRANT_MAP_OFFSET ((uint64_t)1 << 40)

#define XGRANT_IOC_MAGIC 'G'
#define XGRANT_IOC_SETUP _IOW(XGRANT_IOC_MAGIC, 1, struct xgrant_ioc_setup)
#define XGRANT_IOC_INFO  _IOR(XGRANT_IOC_MAGIC, 2, struct xgrant_ioc_info)
/* The argument is a struct gntx_xen_call (gntx_xen.h) whose args and aux
 * are user addresses. */
#define XGRANT_IOC_CALL _IOWR(XGRANT_IOC_MAGIC, 3, struct gntx_xen_call)

/*
 * The frames Xen knows for pages [first, first + count) of the file's grant
 * memory (a PV guest's machine frames; what CREATE, PROTECT and FAULT_RING
 * are rewritten into): frames[i] is page first + i's.  The way back from
 * what Xen names in PROTECT_QUERY ranges and fault records to offsets in
 * the grant memory (libgrant's xen transport reads them all at open; they
 * do not change while the file is open).  EINVAL past the grant memory,
 * ENXIO before XGRANT_IOC_SETUP.
 */
struct xgrant_ioc_frames {
    uint64_t first;  /* in: page index */
    uint64_t count;  /* in: entries of frames */
    uint64_t frames; /* in: user address of uint64_t[count], written */
};
#define XGRANT_IOC_FRAMES _IOW(XGRANT_IOC_MAGIC, 4, struct xgrant_ioc_frames)

#endif /* XGRANT_UAPI_H */
