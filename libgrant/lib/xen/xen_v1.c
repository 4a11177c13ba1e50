/* SPDX-License-Identifier: MIT */
/*
 * xen_v1.c: standard grants on Xen (the xen transport's v1_* ops) through
 * Linux's gntdev (map, unmap, grant copy) and gntalloc (share, end), by
 * way of libxengnttab.  Each device is opened once with the handle; a
 * missing one (module not loaded, a kernel without it) only leaves its
 * GRANT_FEAT_V1_* bit out.  The v1 grant table is Xen's own: nothing here
 * needs the extension or /dev/xgrant's memory (but a copy's local side is
 * checked against it by v1.c, as under xgrantd).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Xen's headers have a grant_handle_t of their own (a map handle):
 * libgrant's is spelt struct grant_handle below. */
#define grant_handle_t lg_grant_handle_t
#include "../private.h"
#undef grant_handle_t
#include <xengnttab.h>

struct xen_v1 {
    xengnttab_handle *gt; /* /dev/xen/gntdev, NULL without */
    xengntshr_handle *gs; /* /dev/xen/gntalloc, NULL without */
};

void lg_xen_v1_open(struct grant_handle *h)
{
    struct xen_v1 *v = calloc(1, sizeof(*v));

    if (!v)
        return;
    /* A missing device is a feature bit, not an error to log. */
    if (access("/dev/xen/gntdev", R_OK | W_OK) == 0)
        v->gt = xengnttab_open(NULL, 0);
    if (access("/dev/xen/gntalloc", R_OK | W_OK) == 0)
        v->gs = xengntshr_open(NULL, 0);
    h->features |=
        (v->gt ? GRANT_FEAT_V1_MAP : 0) | (v->gs ? GRANT_FEAT_V1_SHARE : 0);
    h->v1tp = v;
}

void lg_xen_v1_close(struct grant_handle *h)
{
    struct xen_v1 *v = h->v1tp;

    if (!v)
        return;
    if (v->gt)
        xengnttab_close(v->gt);
    if (v->gs)
        xengntshr_close(v->gs);
    free(v);
    h->v1tp = NULL;
}

static int lg_xen_v1_map(struct grant_handle *h, grant_domid_t granter,
                         const grant_v1_ref_t *refs, unsigned count,
                         unsigned flags, void **addr)
{
    struct xen_v1 *v = h->v1tp;
    int prot = PROT_READ | ((flags & GRANT_V1_RDONLY) ? 0 : PROT_WRITE);
    void *p;

    /* libxengnttab takes the refs non-const; it only reads them. */
    p = xengnttab_map_domain_grant_refs(v->gt, count, granter, (uint32_t *)refs,
                                        prot);
    if (!p)
        return errno ? -errno : -EIO;
    *addr = p;
    return 0;
}

static int lg_xen_v1_unmap(struct grant_handle *h, void *addr, unsigned count)
{
    struct xen_v1 *v = h->v1tp;

    return xengnttab_unmap(v->gt, addr, count) < 0 ? -errno : 0;
}

/* GNTST_* (grant_table.h) as an errno. */
static int gntst_errno(int16_t st)
{
    switch (st) {
    case GNTST_okay:
        return 0;
    case GNTST_bad_domain:
        return -ESRCH;
    case GNTST_bad_gntref:
        return -ENOENT;
    case GNTST_permission_denied:
        return -EACCES;
    case GNTST_bad_copy_arg:
        return -EINVAL;
    case GNTST_bad_page:
        return -EFAULT;
    case GNTST_eagain:
        return -EAGAIN;
    default:
        return -EIO;
    }
}

/* One end of a segment in libxengnttab's terms; its GNTCOPY_* flag if a
 * ref. */
static uint16_t to_xen_ptr(const struct grant_v1_ptr *p,
                           union xengnttab_copy_ptr *x, uint16_t gref_flag)
{
    if (p->local) {
        x->virt = p->ptr;
        return 0;
    }
    x->foreign.ref = p->ref;
    x->foreign.offset = p->offset;
    x->foreign.domid = p->granter;
    return gref_flag;
}

static void to_xen_seg(const struct grant_v1_copy_seg *g,
                       xengnttab_grant_copy_segment_t *x)
{
    *x = (xengnttab_grant_copy_segment_t){.len = g->len};
    x->flags = to_xen_ptr(&g->src, &x->source, GNTCOPY_source_gref) |
               to_xen_ptr(&g->dst, &x->dest, GNTCOPY_dest_gref);
}

#define XEN_COPY_BATCH 64u /* v1.c sends at most this many */

static int lg_xen_v1_copy(struct grant_handle *h,
                          struct grant_v1_copy_seg *segs, unsigned n)
{
    struct xen_v1 *v = h->v1tp;
    xengnttab_grant_copy_segment_t x[XEN_COPY_BATCH];

    if (n > XEN_COPY_BATCH)
        return -E2BIG;
    for (unsigned i = 0; i < n; i++)
        to_xen_seg(&segs[i], &x[i]);
    if (xengnttab_grant_copy(v->gt, n, x) < 0)
        return errno ? -errno : -EIO;
    for (unsigned i = 0; i < n; i++)
        segs[i].status = gntst_errno(x[i].status);
    return 0;
}

static int lg_xen_v1_share(struct grant_handle *h, grant_domid_t grantee,
                           unsigned count, unsigned flags, grant_v1_ref_t *refs,
                           void **addr)
{
    struct xen_v1 *v = h->v1tp;
    void *p;

    p = xengntshr_share_pages(v->gs, grantee, (int)count, refs,
                              !(flags & GRANT_V1_RDONLY));
    if (!p)
        return errno ? -errno : -EIO;
    *addr = p;
    return 0;
}

/* gntalloc ends the grants when the last mapping of the pages goes (at
 * once, or when a grantee that still maps one unmaps it). */
static int lg_xen_v1_end(struct grant_handle *h, void *addr, unsigned count,
                         const grant_v1_ref_t *refs)
{
    struct xen_v1 *v = h->v1tp;

    (void)refs;
    return xengntshr_unshare(v->gs, addr, count) < 0 ? -errno : 0;
}

const struct grant_v1_ops lg_xen_v1_ops = {
    .map = lg_xen_v1_map,
    .unmap = lg_xen_v1_unmap,
    .copy = lg_xen_v1_copy,
    .share = lg_xen_v1_share,
    .end = lg_xen_v1_end,
};
