// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * xlabhv.c: the lab's hostile test module (tests/lab/README.md, issue 12).
 * A PV guest kernel is not bound to its xgrant module: it may write its
 * own page tables with mmu_update and issue GNTTABOP_xgrant with whatever
 * entry addresses it likes.  This module does so on purpose, for the
 * lab's cases of hv-patches 0008 (references held until the TLB flush),
 * 0013 (re-used slots) and 0021 (an L1 table of its own, unpinned or
 * given back to Xen under a MAP), and gives dom0 the owner's side of the
 * races (a page it can pin as an L1 table, or protect).  xlabhv_uapi.h says
 * what each ioctl does.  Loaded in dom0 and in the guest; never used outside
 * the lab.
 */
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/xen/hypercall.h>
#include <asm/xen/page.h>
#include <xen/xen.h>
#include <xen/interface/memory.h>
#include <xen/interface/xen.h>

#include "grant_abi.h"
#include "gntx_xen.h"
#include "hcall.h" /* libgrant/kmod's, copied beside (kmod-build.sh) */
#include "xlabhv_uapi.h"

/* dom0's pages for the owner's side (one pair at a time, under xh_lock). */
static DEFINE_MUTEX(xh_lock);
static struct page *xh_f, *xh_g;
static u32 xh_ref;
static bool xh_granted;
/* The guest's own L1 table (XLABHV_L1_*; under xh_lock). */
static struct page *xh_l1;
static bool xh_l1_pinned, xh_l1_mapped;
static u32 xh_l1_handle;

static vm_fault_t xh_sigbus(struct vm_fault *vmf)
{
    return VM_FAULT_SIGBUS;
}

static int xh_no_split(struct vm_area_struct *vma, unsigned long addr)
{
    return -EINVAL;
}

static const struct vm_operations_struct xh_vm_ops = {
    .fault = xh_sigbus,
    .may_split = xh_no_split,
};

static int xh_mmap(struct file *file, struct vm_area_struct *vma)
{
    if (!(vma->vm_flags & VM_SHARED))
        return -EINVAL;
    vma->vm_flags |=
        VM_PFNMAP | VM_IO | VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP;
    vma->vm_ops = &xh_vm_ops;
    return 0;
}

/* The L1 entry of va in mm (mmap_lock held), or NULL: no table. */
static pte_t *xh_pte(struct mm_struct *mm, unsigned long va)
{
    pgd_t *pgd = pgd_offset(mm, va);
    p4d_t *p4d;
    pud_t *pud;
    pmd_t *pmd;

    if (pgd_none(*pgd))
        return NULL;
    p4d = p4d_offset(pgd, va);
    if (p4d_none(*p4d))
        return NULL;
    pud = pud_offset(p4d, va);
    if (pud_none(*pud))
        return NULL;
    pmd = pmd_offset(pud, va);
    if (pmd_none(*pmd))
        return NULL;
    return pte_offset_map(pmd, va);
}

struct xh_walk {
    u64 *out;
};

static int xh_pte_addr(pte_t *pte, unsigned long addr, void *data)
{
    struct xh_walk *w = data;

    *w->out++ = arbitrary_virt_to_machine(pte).maddr;
    return 0;
}

/* An area of ours covering [va, va + len), mmap_lock held. */
static bool xh_area(struct mm_struct *mm, u64 va, u64 len)
{
    struct vm_area_struct *vma = vma_lookup(mm, va);

    return vma && vma->vm_ops == &xh_vm_ops && !(va & ~PAGE_MASK) && len &&
           len <= vma->vm_end - va;
}

static long xh_map(struct xlabhv_map *a)
{
    struct mm_struct *mm = current->mm;
    struct gntx_map v = {
        .dom = (u16)a->dom,
        .flags = (u16)a->flags,
        .ref = a->ref,
        .length = a->npages << PAGE_SHIFT,
    };
    struct xh_walk w;
    u64 *aux;
    long rc;

    if (!a->npages || a->npages > GNTX_XEN_MAX_AUX_BYTES / sizeof(u64))
        return -EINVAL;
    aux = kvcalloc(a->npages, sizeof(*aux), GFP_KERNEL);
    if (!aux)
        return -ENOMEM;
    w.out = aux;
    mmap_read_lock(mm);
    rc = xh_area(mm, a->va, v.length) ? 0 : -EINVAL;
    if (!rc)
        rc = apply_to_page_range(mm, a->va, v.length, xh_pte_addr, &w);
    if (!rc) {
        u64 t0 = ktime_get_ns();

        a->t0 = t0;
        rc = xg_hcall(GNTX_OP_MAP, &v, 1, aux, a->npages);
        a->ns = ktime_get_ns() - t0;
    }
    mmap_read_unlock(mm);
    kvfree(aux);
    a->rc = (s32)rc;
    a->handle = v.handle;
    a->status = v.status;
    return 0;
}

static long xh_unmap(struct xlabhv_map *a)
{
    struct gntx_unmap u = {.handle = a->handle};
    u64 t0 = ktime_get_ns();

    a->t0 = t0;
    a->rc = (s32)xg_hcall(GNTX_OP_UNMAP, &u, 1, NULL, 0);
    a->ns = ktime_get_ns() - t0;
    a->status = u.status;
    return 0;
}

static long xh_pte_op(struct xlabhv_pte *a, bool clear)
{
    struct mm_struct *mm = current->mm;
    struct mmu_update u;
    pte_t *pte;

    a->maddr = 0;
    a->val = 0;
    a->rc = 0;
    mmap_read_lock(mm);
    pte = xh_pte(mm, a->va);
    if (pte) {
        a->maddr = arbitrary_virt_to_machine(pte).maddr;
        a->val = pte_val_ma(READ_ONCE(*pte));
        pte_unmap(pte);
    }
    if (pte && clear) {
        u.ptr = a->maddr | MMU_NORMAL_PT_UPDATE;
        u.val = 0;
        a->rc = HYPERVISOR_mmu_update(&u, 1, NULL, DOMID_SELF);
    }
    mmap_read_unlock(mm);
    return pte || !clear ? 0 : -ENOENT;
}

/* The mapper's race (xlabhv_uapi.h): events masked, page faults not
 * handled (a write through a gone entry is -EFAULT at once). */
static long xh_race(struct xlabhv_race *a)
{
    struct mm_struct *mm = current->mm;
    u64 __user *f = (u64 __user *)(uintptr_t)a->va_f + 8;
    u64 __user *g = (u64 __user *)(uintptr_t)a->va_g;
    u64 seq = 2, stop = 0, end;
    struct mmu_update u;
    unsigned long flags;
    pte_t *pte;

    if (a->max_ms > 10000)
        return -EINVAL;
    a->writes = 0;
    a->faulted = 0;
    mmap_read_lock(mm);
    pte = xh_area(mm, a->va_f, PAGE_SIZE) ? xh_pte(mm, a->va_f) : NULL;
    if (!pte) {
        mmap_read_unlock(mm);
        return -EINVAL;
    }
    u.ptr = arbitrary_virt_to_machine(pte).maddr | MMU_NORMAL_PT_UPDATE;
    u.val = 0;
    pte_unmap(pte);
    local_irq_save(flags);
    pagefault_disable();
    end = ktime_get_ns() + a->max_ms * NSEC_PER_MSEC;
    if (__put_user(seq, f)) {
        a->faulted = 1; /* not even the first write: no entry */
        a->rc = -ENOENT;
        goto out;
    }
    /* The entry goes, its TLB entry stays unless Xen flushes. */
    a->rc = HYPERVISOR_mmu_update(&u, 1, NULL, DOMID_SELF);
    if (__put_user(1, g))
        goto out;
    while (!stop && ktime_get_ns() < end) {
        seq += 2;
        if (__put_user(seq, f)) {
            a->faulted = 1;
            break;
        }
        a->writes++;
        a->last = seq;
        if (__get_user(stop, g + 1))
            break;
    }
out:
    pagefault_enable();
    local_irq_restore(flags);
    mmap_read_unlock(mm);
    return 0;
}

/* dom0: F read-only (ro) or writable again in its direct map. */
static int xh_direct_map(struct page *pg, bool ro)
{
    unsigned long mfn = pfn_to_mfn(page_to_pfn(pg));

    return HYPERVISOR_update_va_mapping(
        (unsigned long)page_address(pg),
        mfn_pte(mfn, ro ? PAGE_KERNEL_RO : PAGE_KERNEL),
        UVMF_INVLPG | UVMF_ALL);
}

static void xh_pages_free(void)
{
    struct gntx_revoke r = {.ref = xh_ref, .flags = GNTX_REVOKE_FORCE};

    if (xh_granted)
        xg_hcall(GNTX_OP_REVOKE, &r, 1, NULL, 0);
    xh_granted = false;
    /* A page Xen will not give back as writable stays ours for good. */
    if (xh_f && xh_direct_map(xh_f, false) == 0)
        __free_page(xh_f);
    else if (xh_f)
        pr_warn("xlabhv: F still typed, leaked\n");
    if (xh_g)
        __free_page(xh_g);
    xh_f = NULL;
    xh_g = NULL;
}

static long xh_grant(struct xlabhv_grant *a)
{
    bool ro = !(a->flags & XLABHV_GRANT_F_RW);
    struct gntx_create c = {
        .type = GNTX_CREATE_DIRECT,
        .grantee = (u16)a->dom,
        .rights = GNTX_R_READ | GNTX_R_WRITE | GNTX_R_MAP,
        .nr_frames = 2,
        .length = 2 * PAGE_SIZE,
    };
    u64 frames[2];
    long rc;

    if (xh_f)
        return -EBUSY;
    xh_f = alloc_page(GFP_KERNEL | __GFP_ZERO);
    xh_g = alloc_page(GFP_KERNEL | __GFP_ZERO);
    if (xh_f && (a->flags & XLABHV_GRANT_F_HOLD))
        memcpy(page_address(xh_f), "XGL1HOLD", 8);
    rc = !xh_f || !xh_g ? -ENOMEM : ro ? xh_direct_map(xh_f, true) : 0;
    if (rc) {
        xh_pages_free();
        return rc;
    }
    frames[0] = pfn_to_mfn(page_to_pfn(xh_f));
    frames[1] = pfn_to_mfn(page_to_pfn(xh_g));
    if (a->flags & XLABHV_GRANT_G_FIRST)
        swap(frames[0], frames[1]);
    rc = xg_hcall(GNTX_OP_CREATE, &c, 1, frames, 2);
    a->rc = (s32)(rc < 0 ? rc : c.status);
    a->ref = c.ref;
    a->mfn_f = pfn_to_mfn(page_to_pfn(xh_f));
    if (rc < 0 || c.status) {
        xh_pages_free();
        return 0;
    }
    xh_ref = c.ref;
    xh_granted = true;
    return 0;
}

static int xh_mmuext(unsigned int cmd, unsigned long mfn)
{
    struct mmuext_op op = {.cmd = cmd, .arg1.mfn = mfn};

    return HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF);
}

static long xh_pin_race(struct xlabhv_pin *a)
{
    u64 *f, *g, end;
    unsigned long mfn, n = 0;

    if (!xh_f || a->hold_ms > 5000 || a->wait_ms > 600000)
        return -EINVAL;
    f = page_address(xh_f);
    g = page_address(xh_g);
    mfn = pfn_to_mfn(page_to_pfn(xh_f));
    a->seen = 0;
    a->pin_rc = -EAGAIN;
    a->unpin_rc = 0;
    end = ktime_get_ns() + a->wait_ms * NSEC_PER_MSEC;
    while (!READ_ONCE(g[0]) && ktime_get_ns() < end) {
        cpu_relax();
        if (!(++n & 0xffff))
            cond_resched();
    }
    if (!READ_ONCE(g[0])) {
        WRITE_ONCE(g[1], 1);
        return 0;
    }
    a->seen = 1;
    a->pin_rc = xh_mmuext(MMUEXT_PIN_L1_TABLE, mfn);
    a->v_pin = READ_ONCE(f[8]);
    mdelay(a->hold_ms);
    a->v_after = READ_ONCE(f[8]);
    WRITE_ONCE(g[1], 1);
    if (!a->pin_rc)
        a->unpin_rc = xh_mmuext(MMUEXT_UNPIN_TABLE, mfn);
    return 0;
}

/* The owner: PROTECT of F (xlabhv_uapi.h). */
static long xh_protect(struct xlabhv_protect *a)
{
    struct gntx_protect v = {
        .nr = 1,
        .access = (u8)a->access,
        .action = GNTX_ACT_DENY,
    };
    u64 t0;

    u64 *g;

    if (!xh_f)
        return -EINVAL;
    g = page_address(xh_g);
    v.gfn = pfn_to_mfn(page_to_pfn(xh_f));
    if (a->signal)
        WRITE_ONCE(g[0], 1);
    t0 = ktime_get_ns();
    a->rc = (s32)xg_hcall(GNTX_OP_PROTECT, &v, 1, NULL, 0);
    a->ns = ktime_get_ns() - t0;
    a->g_begun = READ_ONCE(g[2]);
    a->status = v.status;
    return 0;
}

/* The mapper: an L1 table of its own with an xgrant entry (xlabhv_uapi.h). */
static long xh_l1_map(struct xlabhv_l1 *a)
{
    struct gntx_map v = {
        .dom = (u16)a->dom,
        .ref = a->ref,
        .offset = a->offset,
        .length = PAGE_SIZE,
    };
    unsigned long mfn;
    u64 pte, t0;

    if (xh_l1)
        return -EBUSY;
    xh_l1 = alloc_page(GFP_KERNEL | __GFP_ZERO);
    if (!xh_l1)
        return -ENOMEM;
    mfn = pfn_to_mfn(page_to_pfn(xh_l1));
    a->maddr = (u64)mfn << PAGE_SHIFT;
    a->pin_rc = xh_direct_map(xh_l1, true);
    if (!a->pin_rc)
        a->pin_rc = xh_mmuext(MMUEXT_PIN_L1_TABLE, mfn);
    if (a->pin_rc) {
        if (xh_direct_map(xh_l1, false) == 0)
            __free_page(xh_l1);
        xh_l1 = NULL;
        return 0;
    }
    xh_l1_pinned = true;
    pte = a->maddr; /* its first entry */
    a->rc = (s32)xg_hcall(GNTX_OP_MAP, &v, 1, &pte, 1);
    a->status = v.status;
    a->handle = v.handle;
    xh_l1_mapped = a->rc >= 0 && !v.status;
    xh_l1_handle = v.handle;
    if (a->unpin) {
        t0 = ktime_get_ns();
        a->unpin_rc = xh_mmuext(MMUEXT_UNPIN_TABLE, mfn);
        a->unpin_ns = ktime_get_ns() - t0;
        xh_l1_pinned = a->unpin_rc != 0;
    }
    return 0;
}

/* The owner's go: word 0 at va_g (user memory, G through xlabhv), then
 * "begun" in word 2.  1, 0 (max_ms passed) or -EFAULT. */
static int xh_wait_go(struct xlabhv_l1 *a)
{
    u64 __user *g = (u64 __user *)(uintptr_t)a->va_g;
    u64 t0 = ktime_get_ns(),
        end = t0 + min_t(u64, a->max_ms, 600000) * NSEC_PER_MSEC, v = 0;
    unsigned long n = 0;

    while (!v && ktime_get_ns() < end) {
        if (get_user(v, g))
            return -EFAULT;
        cpu_relax();
        if (!(++n & 0xfff))
            cond_resched();
    }
    a->go_t = ktime_get_ns();
    a->wait_ns = a->go_t - t0;
    if (v && put_user(1ull, g + 2))
        return -EFAULT;
    return v != 0;
}

/* Unpinned if need be, then given back to Xen, then UNMAPped; a page that
 * cannot go back stays out of Linux's hands for good (lab only). */
static long xh_l1_free(struct xlabhv_l1 *a)
{
    struct xen_memory_reservation r = {
        .nr_extents = 1,
        .extent_order = 0,
        .domid = DOMID_SELF,
    };
    struct gntx_unmap u = {.handle = xh_l1_handle};
    xen_pfn_t frame;
    u64 t0;

    if (!xh_l1)
        return -EINVAL;
    frame = pfn_to_mfn(page_to_pfn(xh_l1));
    a->go = a->va_g ? xh_wait_go(a) : 0;
    t0 = ktime_get_ns();
    a->unpin_rc = xh_l1_pinned ? xh_mmuext(MMUEXT_UNPIN_TABLE, frame) : 0;
    a->unpin_ns = ktime_get_ns() - t0;
    xh_l1_pinned = xh_l1_pinned && a->unpin_rc;
    t0 = ktime_get_ns();
    a->free_rc = -EBUSY;
    if (!xh_l1_pinned)
        a->free_rc =
            HYPERVISOR_update_va_mapping((unsigned long)page_address(xh_l1),
                                         __pte_ma(0), UVMF_INVLPG | UVMF_ALL);
    if (!xh_l1_pinned && !a->free_rc) {
        set_xen_guest_handle(r.extent_start, &frame);
        a->free_rc = HYPERVISOR_memory_op(XENMEM_decrease_reservation, &r);
    }
    a->free_ns = ktime_get_ns() - t0;
    a->unmap_rc = 0;
    if (xh_l1_mapped) {
        xg_hcall(GNTX_OP_UNMAP, &u, 1, NULL, 0);
        a->unmap_rc = u.status;
    }
    if (a->free_rc != 1)
        pr_warn("xlabhv: L1 page not given back (%d), leaked\n", a->free_rc);
    xh_l1 = NULL;
    xh_l1_mapped = false;
    return 0;
}

static long xh_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
    void __user *p = (void __user *)arg;
    union {
        struct xlabhv_map m;
        struct xlabhv_pte t;
        struct xlabhv_race r;
        struct xlabhv_grant g;
        struct xlabhv_pin n;
        struct xlabhv_protect r2;
        struct xlabhv_l1 l;
    } a;
    size_t len = _IOC_SIZE(cmd);
    long rc;

    if (!xen_pv_domain())
        return -ENODEV;
    if (len > sizeof(a) || copy_from_user(&a, p, len))
        return -EFAULT;
    mutex_lock(&xh_lock);
    switch (cmd) {
    case XLABHV_MAP:
        rc = xh_map(&a.m);
        break;
    case XLABHV_UNMAP:
        rc = xh_unmap(&a.m);
        break;
    case XLABHV_PTE:
    case XLABHV_PTE_CLEAR:
        rc = xh_pte_op(&a.t, cmd == XLABHV_PTE_CLEAR);
        break;
    case XLABHV_RACE:
        rc = xh_race(&a.r);
        break;
    case XLABHV_GRANT:
        rc = xh_grant(&a.g);
        break;
    case XLABHV_PIN_RACE:
        rc = xh_pin_race(&a.n);
        break;
    case XLABHV_UNGRANT:
        xh_pages_free();
        rc = 0;
        break;
    case XLABHV_PROTECT:
        rc = xh_protect(&a.r2);
        break;
    case XLABHV_L1_MAP:
        rc = xh_l1_map(&a.l);
        break;
    case XLABHV_L1_FREE:
        rc = xh_l1_free(&a.l);
        break;
    default:
        rc = -ENOTTY;
    }
    mutex_unlock(&xh_lock);
    if (!rc && len && copy_to_user(p, &a, len))
        rc = -EFAULT;
    return rc;
}

static const struct file_operations xh_fops = {
    .owner = THIS_MODULE,
    .unlocked_ioctl = xh_ioctl,
    .mmap = xh_mmap,
};

static struct miscdevice xh_dev = {
    .minor = MISC_DYNAMIC_MINOR,
    .name = "xlabhv",
    .fops = &xh_fops,
    .mode = 0600,
};

static int __init xh_init(void)
{
    return xen_pv_domain() ? misc_register(&xh_dev) : -ENODEV;
}

static void __exit xh_exit(void)
{
    misc_deregister(&xh_dev);
    mutex_lock(&xh_lock);
    xh_pages_free();
    if (xh_l1) {
        struct xlabhv_l1 a = {0};

        xh_l1_free(&a);
    }
    mutex_unlock(&xh_lock);
}

module_init(xh_init);
module_exit(xh_exit);
MODULE_DESCRIPTION("xlab: a hostile PV guest kernel's page-table and xgrant "
                   "calls, for the lab's tests of Xen (never outside it)");
MODULE_LICENSE("Dual MIT/GPL");
