// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * map.c: map windows (xgrant_uapi.h) and GNTX_OP_MAP through them.
 *
 * A window is a VM_MIXEDMAP area of /dev/xgrant backed by unpopulated
 * struct pages of its own (gnttab_alloc_pages, as gntdev's).  A MAP names
 * a whole window by its pages' user addresses; the module replaces them
 * with the machine addresses of the window's page-table entries
 * (allocating the tables) and Xen writes the entries itself (gntx_xen.h),
 * holding the page references a PTE holds.  The entries carry
 * _PAGE_SPECIAL; find_special_page gives get_user_pages the window's
 * struct page behind each (only while the entry still holds the granter's
 * frame: never a scratch page's), so O_DIRECT and io_uring can do I/O
 * straight into a mapping (issue 10 part 7).  For that the module then
 * (xg_win_bind) maps the same grant a second time at the pages' kernel
 * addresses (the kernel may read or write what get_user_pages handed out,
 * as through gntdev's kmap_ops), and points the pages' p2m entries at the
 * granter's frames (a device's DMA goes there).  The window's interval
 * notifier unbinds it before Linux zaps it (munmap, exit, any
 * invalidation): it waits up to about a second per page for I/O that
 * pinned the pages, UNMAPs both mappings (Xen clears the entries and
 * flushes) and forgets the p2m entries; the pages are freed at close, or
 * leaked (with a warning) while still pinned.  FORCE revoke and PROTECT
 * are done by Xen on the entries, both user and kernel (scratch page,
 * read-only); a write to a read-only entry is SIGBUS (page_mkwrite,
 * pfn_mkwrite), never an upgrade Xen would refuse.
 *
 * Not covered: Xen tells the guest nothing of a FORCE revoke, so I/O that
 * pinned a page before it keeps the p2m's granter frame and its DMA lands
 * in the granter's memory until it completes (new get_user_pages are
 * refused at once); a PROTECT that takes W away between get_user_pages and
 * a kernel write through the kernel mapping faults in the kernel.  Each
 * window holds two of Xen's mappings (its per-mapper page bound counts
 * both).  The p2m is written through xen_p2m_addr (Debian's 6.1 exports
 * no set_phys_to_machine).
 *
 * mmap_lock is held for reading across the hypercall, so no munmap can
 * free the tables Xen is writing.  The file's mutex is not taken here
 * (the ioctl holds it, and close runs under mmap_lock: taking it in close
 * would order the two locks both ways).
 */
#include <linux/bitmap.h>
#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <xen/grant_table.h>
#include <asm/xen/hypercall.h>
#include <asm/xen/page.h>

#include "grant_abi.h"
#include "gntx_xen.h"
#include "xgrant.h"
#include "xgrant_uapi.h"

struct xg_win {
    struct xg_file *f;
    u32 handle; /* the mapping bound to the window, 0: none */
    bool busy;  /* named by the MAP call in progress */
    /* struct pages behind the window (get_user_pages finds them): */
    u32 khandle; /* the same grant mapped at the pages' kernel addresses */
    unsigned long start, nr;
    struct page **pages; /* unpopulated pages, their p2m set while bound */
    u64 *frames;         /* the granter's frames Xen wrote, per page */
    bool bound;          /* frames and p2m valid: pages may be handed out */
    bool have_pages;     /* pages came from gnttab_alloc_pages */
    int base_ref;        /* a page's count with nobody using it */
    struct mmu_interval_notifier mn;
};

/* p2m[pfn] = val, allocating the p2m page first if it is a shared one. */
static void xg_p2m_set(unsigned long pfn, unsigned long val)
{
    if (xen_safe_write_ulong(xen_p2m_addr + pfn, val) == 0)
        return;
    if (xen_alloc_p2m_entry(pfn) == 0)
        xen_safe_write_ulong(xen_p2m_addr + pfn, val);
}

/*
 * The kernel-address entries of the window's pages that Xen left behind:
 * after a FORCE revoke (or the granter's death) they map the mapper's
 * scratch page and Xen has forgotten the mapping, so UNMAP answers ESTALE
 * and clears nothing.  Linux zaps the user entries; these are the
 * module's to clear (an xgrant entry holds references as any PTE, so the
 * guest may), or the pages would go back to the balloon still mapped and
 * the next window on them could not be mapped (Xen installs only into
 * empty entries: EBUSY).  Only entries Xen wrote (_PAGE_SPECIAL) go.
 */
static void xg_win_kclear(struct xg_win *w)
{
    unsigned long k, va;
    unsigned int level;
    pte_t *pte;

    for (k = 0; k < w->nr; k++) {
        va = (unsigned long)page_address(w->pages[k]);
        pte = lookup_address(va, &level);
        if (pte && level == PG_LEVEL_4K && pte_present(*pte) &&
            (native_pte_val(*pte) & _PAGE_SPECIAL))
            HYPERVISOR_update_va_mapping(va, native_make_pte(0),
                                         UVMF_INVLPG | UVMF_ALL);
    }
}

/* The window's binding goes: Xen clears the entries (UNMAP), the pages'
 * p2m forgets the granter's frames.  Waits (bounded) for I/O that pinned
 * the pages to finish first. */
static void xg_win_unbind(struct xg_win *w)
{
    struct gntx_unmap u[2] = {{.handle = w->handle}, {.handle = w->khandle}};
    unsigned long k;
    long rc;
    int tries;

    if (!w->handle)
        return;
    WRITE_ONCE(w->bound, false);
    for (k = 0; k < w->nr; k++)
        for (tries = 0; page_count(w->pages[k]) > w->base_ref && tries < 1000;
             tries++)
            msleep(1);
    /* Linux has not cleared the entries yet (this runs before its zap);
     * Xen does, and forgets the mapping.  A revoked one answers ESTALE. */
    rc = xg_hcall(GNTX_OP_UNMAP, u, w->khandle ? 2 : 1, NULL, 0);
    /* Revoked (or the kernel MAP failed, revoked while Xen wrote it): Xen
     * may have left them at its scratch page. */
    if (!w->khandle || rc < 0 || u[1].status)
        xg_win_kclear(w);
    w->handle = 0;
    w->khandle = 0;
    for (k = 0; k < w->nr; k++)
        xg_p2m_set(page_to_pfn(w->pages[k]), INVALID_P2M_ENTRY);
}

static bool xg_win_invalidate(struct mmu_interval_notifier *mn,
                              const struct mmu_notifier_range *range,
                              unsigned long cur_seq)
{
    struct xg_win *w = container_of(mn, struct xg_win, mn);

    if (!mmu_notifier_range_blockable(range))
        return false;
    mmu_interval_set_seq(mn, cur_seq);
    xg_win_unbind(w);
    return true;
}

static const struct mmu_interval_notifier_ops xg_win_mn_ops = {
    .invalidate = xg_win_invalidate,
};

/* The machine frame the entry at addr holds now, or 0. */
static u64 xg_pte_frame(struct mm_struct *mm, unsigned long addr)
{
    pgd_t *pgd = pgd_offset(mm, addr);
    p4d_t *p4d;
    pud_t *pud;
    pmd_t *pmd;
    pte_t *pte, v;

    if (pgd_none(*pgd))
        return 0;
    p4d = p4d_offset(pgd, addr);
    if (p4d_none(*p4d))
        return 0;
    pud = pud_offset(p4d, addr);
    if (pud_none(*pud))
        return 0;
    pmd = pmd_offset(pud, addr);
    if (pmd_none(*pmd))
        return 0;
    pte = pte_offset_map(pmd, addr);
    v = READ_ONCE(*pte);
    pte_unmap(pte);
    return pte_present(v) ? (pte_val_ma(v) & PTE_PFN_MASK) >> PAGE_SHIFT : 0;
}

/*
 * get_user_pages (and Linux's vm_normal_page) on an entry Xen wrote: the
 * page behind it, only while the entry still holds the granter's frame (a
 * FORCE revoke or PROTECT NONE points it at a scratch page: no page then).
 */
static struct page *xg_win_find_page(struct vm_area_struct *vma,
                                     unsigned long addr)
{
    struct xg_win *w = vma->vm_private_data;
    unsigned long k = (addr - w->start) >> PAGE_SHIFT;

    if (!READ_ONCE(w->bound) || k >= w->nr ||
        xg_pte_frame(vma->vm_mm, addr) != w->frames[k])
        return NULL;
    return w->pages[k];
}

static vm_fault_t xg_win_sigbus(struct vm_fault *vmf)
{
    return VM_FAULT_SIGBUS; /* no entry, or a read-only one written */
}

static int xg_win_no_split(struct vm_area_struct *vma, unsigned long addr)
{
    return -EINVAL;
}

static void xg_win_free(struct xg_win *w)
{
    unsigned long k;
    bool busy = false;

    for (k = 0; w->have_pages && k < w->nr; k++)
        busy |= page_count(w->pages[k]) > w->base_ref;
    if (w->have_pages && !busy)
        gnttab_free_pages((int)w->nr, w->pages);
    else if (busy) /* still pinned: never reuse them */
        pr_warn("xgrant: %lu window pages still in use, leaked\n", w->nr);
    kvfree(w->pages);
    kvfree(w->frames);
    kfree(w);
}

static void xg_win_close(struct vm_area_struct *vma)
{
    struct xg_win *w = vma->vm_private_data;

    /* The notifier unbound it before Linux's zap (munmap, exit). */
    mmu_interval_notifier_remove(&w->mn);
    xg_win_unbind(w);
    xg_win_free(w);
}

/* Xen would refuse Linux's own rewrite of a foreign entry (read-only or
 * back to writable): the window's protection is fixed. */
static int xg_win_no_mprotect(struct vm_area_struct *vma, unsigned long start,
                              unsigned long end, unsigned long newflags)
{
    return -EINVAL;
}

static const struct vm_operations_struct xg_win_ops = {
    .close = xg_win_close,
    .may_split = xg_win_no_split,
    .mprotect = xg_win_no_mprotect,
    .fault = xg_win_sigbus,
    .pfn_mkwrite = xg_win_sigbus,
    .page_mkwrite = xg_win_sigbus, /* entries with a page: never upgraded */
    .find_special_page = xg_win_find_page,
};

int xg_win_mmap(struct xg_file *f, struct vm_area_struct *vma)
{
    struct xg_win *w;

    if (!(vma->vm_flags & VM_SHARED))
        return -EINVAL;
    w = kzalloc(sizeof(*w), GFP_KERNEL);
    if (!w)
        return -ENOMEM;
    w->f = f;
    w->start = vma->vm_start;
    w->nr = vma_pages(vma);
    w->pages = kvcalloc(w->nr, sizeof(*w->pages), GFP_KERNEL);
    w->frames = kvcalloc(w->nr, sizeof(*w->frames), GFP_KERNEL);
    if (!w->pages || !w->frames ||
        gnttab_alloc_pages((int)w->nr, w->pages) < 0) {
        xg_win_free(w);
        return -ENOMEM;
    }
    w->have_pages = true;
    w->base_ref = page_count(w->pages[0]);
    if (mmu_interval_notifier_insert_locked(&w->mn, vma->vm_mm, w->start,
                                            w->nr << PAGE_SHIFT,
                                            &xg_win_mn_ops)) {
        xg_win_free(w);
        return -ENOMEM;
    }
    /* Mixed, not PFNMAP: get_user_pages may find the pages (O_DIRECT). */
    vma->vm_flags |= VM_MIXEDMAP | VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP;
    if (!(vma->vm_flags & VM_WRITE))
        vma->vm_flags &= ~VM_MAYWRITE; /* read-only for good */
    vma->vm_private_data = w;
    vma->vm_ops = &xg_win_ops;
    return 0;
}

struct xg_pte_walk {
    u64 *out;
};

static int xg_pte_addr(pte_t *pte, unsigned long addr, void *data)
{
    struct xg_pte_walk *w = data;

    *w->out++ = arbitrary_virt_to_machine(pte).maddr;
    return 0;
}

/* The window element v names (aux holds its pages' addresses), or NULL. */
static struct xg_win *xg_win_of(struct xg_file *f, struct mm_struct *mm,
                                const struct gntx_map *v, const u64 *aux,
                                u64 aux_count)
{
    u64 npages = v->length >> PAGE_SHIFT, k, va;
    struct vm_area_struct *vma;
    struct xg_win *w;

    if (!v->length || (v->length & ~PAGE_MASK) || v->frame_idx > aux_count ||
        npages > aux_count - v->frame_idx)
        return NULL;
    va = aux[v->frame_idx];
    vma = vma_lookup(mm, va);
    if (!vma || vma->vm_ops != &xg_win_ops || va != vma->vm_start ||
        npages != vma_pages(vma))
        return NULL;
    w = vma->vm_private_data;
    if (w->f != f || w->handle || w->busy)
        return NULL;
    /* A writable entry only where the window may be written. */
    if (!(v->flags & GNTX_MAP_RDONLY) && !(vma->vm_flags & VM_WRITE))
        return NULL;
    for (k = 1; k < npages; k++)
        if (aux[v->frame_idx + k] != va + k * PAGE_SIZE)
            return NULL;
    return w;
}

/*
 * Checks every element against the page addresses the caller gave (no two
 * may share an aux slot or a window), then rewrites them into the
 * windows' entry addresses.
 */
static long xg_map_prepare(struct xg_file *f, struct mm_struct *mm,
                           struct gntx_map *v, unsigned int n, u64 *aux,
                           u64 aux_count, struct xg_win **wins)
{
    unsigned long *seen = bitmap_zalloc(aux_count, GFP_KERNEL);
    unsigned int i;
    long rc = 0;
    u64 k;

    if (!seen)
        return -ENOMEM;
    for (i = 0; i < n && !rc; i++) {
        wins[i] = xg_win_of(f, mm, &v[i], aux, aux_count);
        if (!wins[i]) {
            rc = -EINVAL;
            break;
        }
        wins[i]->busy = true;
        for (k = 0; k < v[i].length >> PAGE_SHIFT; k++)
            if (__test_and_set_bit(v[i].frame_idx + k, seen))
                rc = -EINVAL;
    }
    bitmap_free(seen);
    for (i = 0; i < n && !rc; i++) {
        struct xg_pte_walk walk = {.out = aux + v[i].frame_idx};

        rc = apply_to_page_range(mm, aux[v[i].frame_idx], v[i].length,
                                 xg_pte_addr, &walk);
    }
    return rc;
}

/* What goes back in aux: the frames of the elements that mapped, zeros
 * elsewhere (never the page-table addresses the module put there). */
static void xg_map_aux_out(const struct gntx_map *v, unsigned int n, long rc,
                           u64 *aux, u64 aux_count)
{
    unsigned long *keep = bitmap_zalloc(aux_count, GFP_KERNEL);
    unsigned int i;
    u64 k;

    for (i = 0; keep && rc >= 0 && i < n; i++)
        if (v[i].status == 0)
            bitmap_set(keep, v[i].frame_idx, v[i].length >> PAGE_SHIFT);
    for (k = 0; k < aux_count; k++)
        if (!keep || !test_bit(k, keep))
            aux[k] = 0;
    bitmap_free(keep);
}

/* The machine addresses of the direct-map entries of the window's pages
 * (present or not: 4 KiB entries in a PV kernel); 0 or -errno. */
static int xg_win_kptes(struct xg_win *w, u64 *kaux)
{
    unsigned long k;
    unsigned int level;
    pte_t *pte;

    for (k = 0; k < w->nr; k++) {
        pte = lookup_address((unsigned long)page_address(w->pages[k]), &level);
        if (!pte || level != PG_LEVEL_4K)
            return -EOPNOTSUPP;
        kaux[k] = arbitrary_virt_to_machine(pte).maddr;
    }
    return 0;
}

/*
 * MAP filled the window (element v): the same grant is mapped a second
 * time at the pages' kernel addresses, so the kernel can reach what
 * get_user_pages hands out (as gntdev's kmap_ops); the pages' p2m names
 * the granter's frames (for DMA); then get_user_pages may hand them out.
 * 0, or -errno with the window unbound (Xen cleared what it wrote).
 */
static int xg_win_bind(struct xg_win *w, const struct gntx_map *v,
                       const u64 *frames)
{
    struct gntx_map kv = *v;
    u64 *kaux = kvcalloc(w->nr, sizeof(*kaux), GFP_KERNEL);
    unsigned long k;
    long rc = kaux ? xg_win_kptes(w, kaux) : -ENOMEM;

    w->handle = v->handle;
    kv.frame_idx = 0;
    kv.status = 0;
    /* MAP answers how many elements succeeded (1 here), the element's
     * error in its status otherwise. */
    if (!rc) {
        rc = xg_hcall(GNTX_OP_MAP, &kv, 1, kaux, w->nr);
        if (rc >= 0)
            rc = rc == 1 ? 0 : kv.status ? kv.status : -EIO;
    }
    if (!rc)
        w->khandle = kv.handle;
    for (k = 0; !rc && k < w->nr; k++)
        if (kaux[k] != frames[k])
            rc = -EPROTO; /* not the frames of the window */
    kvfree(kaux);
    if (rc < 0) {
        xg_win_unbind(w);
        return (int)rc;
    }
    for (k = 0; k < w->nr; k++) {
        w->frames[k] = frames[k];
        xg_p2m_set(page_to_pfn(w->pages[k]), FOREIGN_FRAME(frames[k]));
    }
    smp_wmb(); /* frames and p2m before bound */
    WRITE_ONCE(w->bound, true);
    return 0;
}

long xg_map(struct xg_file *f, const struct gntx_xen_call *c)
{
    struct mm_struct *mm = current->mm;
    size_t args_len = (size_t)c->count * sizeof(struct gntx_map);
    size_t aux_len = (size_t)c->aux_count * sizeof(u64);
    struct xg_win **wins = NULL;
    struct gntx_map *v;
    unsigned int i;
    u64 *aux = NULL;
    long rc;

    if (!c->count || c->aux_count > GNTX_XEN_MAX_AUX_BYTES / sizeof(u64))
        return c->count ? -E2BIG : 0;
    v = vmemdup_user(u64_to_user_ptr(c->args), args_len);
    if (IS_ERR(v))
        return PTR_ERR(v);
    aux = vmemdup_user(u64_to_user_ptr(c->aux), aux_len);
    if (IS_ERR(aux)) {
        rc = PTR_ERR(aux);
        aux = NULL;
        goto out;
    }
    wins = kvcalloc(c->count, sizeof(*wins), GFP_KERNEL);
    rc = -ENOMEM;
    if (!wins)
        goto out;
    mmap_read_lock(mm);
    rc = xg_map_prepare(f, mm, v, c->count, aux, c->aux_count, wins);
    if (!rc)
        rc = xg_hcall(GNTX_OP_MAP, v, c->count, aux, c->aux_count);
    for (i = 0; i < c->count && wins[i]; i++) {
        wins[i]->busy = false;
        if (rc >= 0 && v[i].status == 0)
            v[i].status = xg_win_bind(wins[i], &v[i], aux + v[i].frame_idx);
    }
    mmap_read_unlock(mm);
    xg_map_aux_out(v, c->count, rc, aux, c->aux_count);
    if (rc >= 0 && (copy_to_user(u64_to_user_ptr(c->args), v, args_len) ||
                    copy_to_user(u64_to_user_ptr(c->aux), aux, aux_len)))
        rc = -EFAULT; /* the windows stay bound: munmap undoes them */
out:
    kvfree(wins);
    kvfree(aux);
    kvfree(v);
    return rc;
}
