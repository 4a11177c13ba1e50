// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * prot.c: a PV guest's own writable mappings of its grant pages.
 *
 * Xen (hv-patches 0005) refuses a PROTECT that takes W away from a frame
 * that still has writable mappings (EBUSY), and refuses every new writable
 * PTE to a frame protected against writes (EACCES, with the fault record
 * on the owner's ring).  A PV kernel maps all its RAM writable in the
 * direct map and the process maps /dev/xgrant writable, so before such a
 * PROTECT each page is dropped: its direct-map PTE is made read-only
 * (update_va_mapping) and its user PTEs are zapped.  A later write fault
 * on the page (xg_prot_mkwrite in main.c) asks Xen for the writable
 * direct map back: while the page is protected Xen refuses (and records
 * the fault) and the writer gets SIGBUS; once the protection allows W, the
 * page is writable again.  The kernel itself never writes a dropped page.
 *
 * Not PV (HVM, PVH): nothing is dropped (Xen checks PV domains only).
 */
#include <linux/bitmap.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/printk.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <asm/pgtable.h>
#include <asm/xen/hypercall.h>
#include <xen/interface/xen.h>
#include <xen/page.h>
#include <xen/xen.h>

#include "grant_abi.h"
#include "gntx_xen.h"
#include "xgrant.h"

struct xg_prot {
    spinlock_t lock; /* ro and the direct-map PTEs of the pages */
    struct address_space *mapping;
    unsigned long ro[]; /* pages dropped (direct map read-only) */
};

int xg_prot_init(struct xg_file *f, struct address_space *mapping)
{
    f->prot = kzalloc(struct_size(f->prot, ro, BITS_TO_LONGS(f->nr_pages)),
                      GFP_KERNEL);
    if (!f->prot)
        return -ENOMEM;
    spin_lock_init(&f->prot->lock);
    f->prot->mapping = mapping;
    return 0;
}

/* The direct-map PTE of pg, writable or not: 0 or Xen's refusal. */
static int xg_direct_map(struct page *pg, bool write)
{
    unsigned long va = (unsigned long)page_address(pg);
    unsigned int level;
    pte_t *ptep = lookup_address(va, &level);
    pteval_t v;

    if (!ptep || level != PG_LEVEL_4K)
        return -EOPNOTSUPP;
    v = native_pte_val(*ptep); /* machine format, as PV PTEs are */
    v = write ? v | _PAGE_RW : v & ~(pteval_t)_PAGE_RW;
    return HYPERVISOR_update_va_mapping(va, native_make_pte(v),
                                        UVMF_INVLPG | UVMF_ALL);
}

/* Page idx's direct map made read-only (ro) or writable again: 1 when it
 * changed, 0 when it already was so (or not PV), or Xen's refusal. */
static int xg_flip(struct xg_file *f, unsigned long idx, bool ro)
{
    struct xg_prot *p = f->prot;
    int rc = 0;

    if (!xen_pv_domain() || !p)
        return 0;
    spin_lock(&p->lock);
    if (test_bit(idx, p->ro) != ro) {
        rc = xg_direct_map(f->pages[idx], !ro);
        if (!rc) {
            assign_bit(idx, p->ro, ro);
            rc = 1;
        }
    }
    spin_unlock(&p->lock);
    return rc;
}

int xg_prot_drop(struct xg_file *f, unsigned long idx)
{
    int rc = xg_flip(f, idx, true);

    /* After ro is set: a write fault from now on goes to Xen. */
    if (rc == 1)
        unmap_mapping_range(f->prot->mapping, (loff_t)idx << PAGE_SHIFT,
                            PAGE_SIZE, 1);
    return rc;
}

int xg_prot_restore(struct xg_file *f, unsigned long idx)
{
    int rc = xg_flip(f, idx, false);

    return rc < 0 ? rc : 0;
}

/*
 * The file is going: a dropped page gets its protection lifted and its
 * direct map back before it returns to the kernel.  false: Xen still
 * refuses, and the page must not be freed (it is leaked).
 */
bool xg_prot_release(struct xg_file *f, unsigned long idx)
{
    struct gntx_protect lift = {
        .nr = 1, .access = GNTX_ACC_RWX, .action = GNTX_ACT_DENY};

    if (!xg_prot_restore(f, idx))
        return true;
    lift.gfn = xen_page_to_gfn(f->pages[idx]);
    xg_hcall(GNTX_OP_PROTECT, &lift, 1, NULL, 0);
    if (!xg_prot_restore(f, idx))
        return true;
    pr_warn("xgrant: page %lu stays protected: not freed\n", idx);
    return false;
}

void xg_prot_free(struct xg_file *f)
{
    kfree(f->prot);
    f->prot = NULL;
}
