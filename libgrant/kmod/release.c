// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * release.c: a file's grants go before its pages do.
 *
 * The grant memory of a /dev/xgrant file is ordinary guest pages; at
 * release they go back to the kernel, which hands them to anyone.  A
 * direct grant the program made over them (and did not revoke: it may have
 * crashed) would still name those frames, so its grantee could read and
 * write whatever the kernel puts there next.  grant_abi.h's "Memory taken
 * back" rule says the host revokes such grants; under Xen the host is this
 * module.  So before the pages are freed, every live direct entry of this
 * domain's table whose first frame is one of the file's pages is revoked
 * with FORCE (mappings of it torn down by Xen, delegations below it dead).
 * An entry's frames all come from one file (call.c translates a CREATE's
 * page indexes through the calling file only), so its first frame decides.
 *
 * When the module cannot establish that those grants are gone (QUERY_TABLE
 * refused, e.g. by a FLASK policy that took `query` away after the grants
 * were made (hv-patches 0020); a revoke refused; no memory for the walk),
 * none of the file's pages goes back: they are leaked, with a rate-limited
 * warning, as prot.c leaks a page Xen keeps protected.
 */
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/printk.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <xen/page.h>

#include "grant_abi.h"
#include "gntx_xen.h"
#include "xgrant.h"

#define XG_QUERY_CHUNK 64u

static int cmp_u64(const void *a, const void *b)
{
    u64 x = *(const u64 *)a, y = *(const u64 *)b;

    return x < y ? -1 : x > y;
}

static bool has_frame(const u64 *fr, unsigned long n, u64 frame)
{
    unsigned long lo = 0, hi = n;

    while (lo < hi) {
        unsigned long mid = lo + (hi - lo) / 2;

        if (fr[mid] == frame)
            return true;
        if (fr[mid] < frame)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Revokes (FORCE) the entries of info[0..n) that name the file's frames:
 * false if one of them may still be live. */
static bool revoke_ours(const struct gntx_entry_info *info, unsigned int n,
                        const u64 *fr, unsigned long nr, struct gntx_revoke *v)
{
    bool gone = true;
    unsigned int i;

    for (i = 0; i < n; i++) {
        if (info[i].type != GNTX_CREATE_DIRECT || !info[i].nr_frames ||
            !has_frame(fr, nr, info[i].first_frame))
            continue;
        *v = (struct gntx_revoke){.ref = info[i].ref,
                                  .flags = GNTX_REVOKE_FORCE};
        /* ENOENT: revoked meanwhile (by another file of this domain) */
        if (xg_hcall(GNTX_OP_REVOKE, v, 1, NULL, 0) != 1 &&
            v->status != -GNTX_ENOENT)
            gone = false;
    }
    return gone;
}

/* true once no direct grant of this domain names one of f's pages. */
static bool xg_revoke_own(struct xg_file *f)
{
    /* Hypercall arguments in kmalloc memory, as call.c's: never a
     * (possibly vmalloc'ed) stack. */
    struct xg_rel {
        struct gntx_query q;
        struct gntx_revoke v;
        struct gntx_entry_info info[XG_QUERY_CHUNK];
    } * b;
    unsigned long i, rounds = 0;
    bool gone = false;
    u64 *fr;

    fr = kvmalloc_array(f->nr_pages, sizeof(*fr), GFP_KERNEL);
    b = kzalloc(sizeof(*b), GFP_KERNEL);
    if (!fr || !b)
        goto out;
    b->q.dom = GNTX_DOMID_SELF;
    for (i = 0; i < f->nr_pages; i++)
        fr[i] = xen_page_to_gfn(f->pages[i]);
    sort(fr, f->nr_pages, sizeof(*fr), cmp_u64, NULL);
    /* A revoke frees a slot but never moves an entry: the cursor stays
     * valid.  The table is bounded by the domain's quota; so is this. */
    gone = true;
    do {
        b->q.count = 0;
        if (xg_hcall(GNTX_OP_QUERY_TABLE, &b->q, 1, b->info, XG_QUERY_CHUNK) <
            0) {
            gone = false;
            break;
        }
        if (!revoke_ours(b->info, min_t(u32, b->q.count, XG_QUERY_CHUNK), fr,
                         f->nr_pages, &b->v))
            gone = false;
        cond_resched();
    } while (b->q.cursor && ++rounds < (1ul << 20));
    if (b->q.cursor)
        gone = false; /* the walk stopped short */
out:
    kfree(b);
    kvfree(fr);
    return gone;
}

void xg_pages_free(struct xg_file *f, bool granted)
{
    bool keep = granted && f->nr_pages && !xg_revoke_own(f);
    unsigned long i;

    if (keep)
        pr_warn_ratelimited(
            "xgrant: cannot list or revoke this domain's direct grants "
            "(query refused?): %lu pages kept, never freed\n",
            f->nr_pages);
    for (i = 0; i < f->nr_pages && !keep; i++)
        if (xg_prot_release(f, i))
            __free_page(f->pages[i]);
    xg_prot_free(f);
    kvfree(f->pages);
    f->pages = NULL;
    f->nr_pages = 0;
}
