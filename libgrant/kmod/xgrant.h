/* SPDX-License-Identifier: MIT */
/*
 * xgrant.h: the module's internals, shared by main.c (the device, the
 * grant memory, mmap) and call.c (XGRANT_IOC_CALL).
 */
#ifndef XGRANT_KMOD_H
#define XGRANT_KMOD_H

#include <linux/mm_types.h>
#include <linux/mutex.h>

#include "hcall.h"

/* One open /dev/xgrant: its grant memory. */
struct xg_file {
    struct mutex lock; /* guards everything below */
    struct page **pages;
    unsigned long nr_pages;
    void *scratch;        /* call.c's split buffers, NULL until the first use */
    struct xg_prot *prot; /* prot.c's state, with the pages */
};

/* map.c: map windows (xgrant_uapi.h) and GNTX_OP_MAP through them. */
struct gntx_xen_call;
long xg_map(struct xg_file *f, const struct gntx_xen_call *c);
#ifdef __KERNEL__
struct vm_area_struct;
int xg_win_mmap(struct xg_file *f, struct vm_area_struct *vma);
#endif

/*
 * release.c: frees f's pages and prot state.  granted (the file may have
 * made grants): FORCE-revokes the domain's direct grants on those pages
 * first, and keeps (leaks) every page when it cannot establish that they
 * are all gone (QUERY_TABLE or a revoke refused).
 */
void xg_pages_free(struct xg_file *f, bool granted);

/* call.c */
long xg_call(struct xg_file *f, void __user *uarg);
/* XGRANT_IOC_FRAMES (xgrant_uapi.h) */
long xg_frames(const struct xg_file *f, void __user *uarg);
/* xg_hcall: hcall.h */

/*
 * prot.c: a PV guest's own writable mappings of page idx, which Xen
 * refuses once the page is protected against writes (hv-patches 0005).
 * xg_prot_drop zaps the user PTEs and makes the direct-map PTE read-only
 * before a PROTECT takes W away: 1 (dropped now), 0 (already, or not PV),
 * -errno.  xg_prot_restore makes the direct map writable again if Xen
 * allows it: 0, or Xen's refusal (the page is still protected).
 */
int xg_prot_drop(struct xg_file *f, unsigned long idx);
int xg_prot_restore(struct xg_file *f, unsigned long idx);
#ifdef __KERNEL__
struct address_space;
int xg_prot_init(struct xg_file *f, struct address_space *mapping);
#endif
bool xg_prot_release(struct xg_file *f, unsigned long idx);
void xg_prot_free(struct xg_file *f);

#endif /* XGRANT_KMOD_H */
