// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * map.c: map windows (xgrant_uapi.h) and GNTX_OP_MAP through them.
 *
 * A window is a VM_PFNMAP area of /dev/xgrant with no pages of its own.  A
 * MAP names a whole window by its pages' user addresses; the module
 * replaces them with the machine addresses of the window's page-table
 * entries (allocating the tables) and Xen writes the entries itself
 * (gntx_xen.h), holding the page references a PTE holds.  The entries
 * carry _PAGE_SPECIAL, so Linux treats them as raw frames: its own zap at
 * munmap or exit clears them (Xen puts the references back), and the
 * window's close then tells Xen the mapping is gone (UNMAP), so the
 * granter's entry is no longer busy.  FORCE revoke and PROTECT are done by
 * Xen on the entries (scratch page, read-only); a write to a read-only
 * entry is SIGBUS (pfn_mkwrite), never an upgrade Xen would refuse.
 *
 * mmap_lock is held for reading across the hypercall, so no munmap can
 * free the tables Xen is writing.  The file's mutex is not taken here
 * (the ioctl holds it, and close runs under mmap_lock: taking it in close
 * would order the two locks both ways).
 *
 * Not yet: the window has no struct pages, so get_user_pages refuses it
 * (VM_PFNMAP) and O_DIRECT or io_uring I/O into a mapping fails EFAULT
 * (the lab notes it); gntdev's v1 mappings allow it.  Issue 10 part 7.
 */
#include <linux/bitmap.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/xen/page.h>

#include "grant_abi.h"
#include "gntx_xen.h"
#include "xgrant.h"
#include "xgrant_uapi.h"

struct xg_win {
    struct xg_file *f;
    u32 handle; /* the mapping bound to the window, 0: none */
    bool busy;  /* named by the MAP call in progress */
};

static vm_fault_t xg_win_sigbus(struct vm_fault *vmf)
{
    return VM_FAULT_SIGBUS; /* no entry, or a read-only one written */
}

static int xg_win_no_split(struct vm_area_struct *vma, unsigned long addr)
{
    return -EINVAL;
}

static void xg_win_close(struct vm_area_struct *vma)
{
    struct xg_win *w = vma->vm_private_data;
    struct gntx_unmap u = {.handle = w->handle};

    /* Linux cleared the entries already; Xen forgets the mapping.  A
     * revoked one answers ESTALE, which is fine. */
    if (w->handle)
        xg_hcall(GNTX_OP_UNMAP, &u, 1, NULL, 0);
    kfree(w);
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
    vma->vm_flags |=
        VM_IO | VM_PFNMAP | VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP;
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
            wins[i]->handle = v[i].handle;
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
