/* SPDX-License-Identifier: MIT */
/*
 * xlab_dirty.c: what the extension writes into a domain's memory shows in
 * its log-dirty bitmap (issue 12 finding 7, hv-patches 0013), as live
 * migration needs: a page written and left unmarked is never sent again.
 *
 * The guest grants dom0 three pages of its memory (READ, WRITE, MAP), each
 * written once before, and names their pseudo-physical frames (its
 * /proc/self/pagemap: the index of Xen's bitmap for a PV domain).  dom0
 * puts the guest in log-dirty mode (XEN_DOMCTL_shadow_op ENABLE_LOGDIRTY,
 * as a PV migration does), cleans the bitmap, then
 *   dirty_copy: COPYs 64 bytes into page 0 (the core writes the frame);
 *   dirty_map:  maps page 2 writable, writes a byte through it, unmaps
 *               (Xen takes the writable entry away);
 * and PEEKs: the bits of pages 0 and 2 must be set, page 1's (nobody wrote
 * it) clear, so a bitmap marked for any other reason does not pass.  The
 * log-dirty mode is turned off after (SHADOW_OP_OFF).  Without 0013's
 * paging_mark_dirty both bits stay clear.
 */
#define __XEN_TOOLS__ 1
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* Xen's grant_table.h (through domctl.h) has a grant_handle_t of its own. */
#define grant_handle_t xen_grant_handle_t
#define grant_ref_t    xen_grant_ref_t
#include <xen/domctl.h>
#undef grant_handle_t
#undef grant_ref_t
#include <xen/xen.h>
#include <xencall.h>

#include "xlab.h"

#define DIRTY_PAGES  3u
#define BITMAP_PAGES 32u /* 2^20 frames: past any lab guest's */

/* The pseudo-physical frame behind the present user page p, or 0. */
static uint64_t page_pfn(const void *p)
{
    uint64_t e = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    if (pread(fd, &e, sizeof(e),
              (off_t)((uintptr_t)p / GRANT_PAGE_SIZE * sizeof(e))) != sizeof(e))
        e = 0;
    close(fd);
    return e >> 63 ? e & ((1ull << 55) - 1) : 0;
}

void xlab_dirty_guest(grant_handle_t *h)
{
    uint64_t pfn[DIRTY_PAGES] = {0};
    grant_ref_t ref = 0;
    uint8_t *mem = NULL;
    char done[16];
    int rc = grant_mem_alloc(h, DIRTY_PAGES, (void **)&mem);

    for (unsigned i = 0; rc == 0 && i < DIRTY_PAGES; i++) {
        memset(mem + i * GRANT_PAGE_SIZE, 'd', GRANT_PAGE_SIZE);
        if (!(pfn[i] = page_pfn(mem + i * GRANT_PAGE_SIZE)))
            rc = -ENXIO;
    }
    if (rc == 0)
        rc = grant_create_direct(h, 0,
                                 GRANT_R_READ | GRANT_R_WRITE | GRANT_R_MAP,
                                 mem, DIRTY_PAGES * GRANT_PAGE_SIZE, &ref);
    if (rc == 0)
        xlab_xs_write("dirty", "%u %llx %llx %llx", ref,
                      (unsigned long long)pfn[0], (unsigned long long)pfn[1],
                      (unsigned long long)pfn[2]);
    else
        xlab_xs_write("dirty", "ERR%d", rc);
    /* Nothing here touches the pages until dom0 is done. */
    xlab_xs_wait("dirtydone", done, sizeof(done));
    if (rc == 0)
        grant_revoke(h, ref, GRANT_REVOKE_FORCE);
    if (mem)
        grant_mem_free(h, mem);
}

/* One XEN_DOMCTL_shadow_op on dom: 0 or -errno. */
static int shadow_op(xencall_handle *xc, unsigned dom, unsigned op,
                     uint8_t *bitmap)
{
    struct xen_domctl *d = xencall_alloc_buffer(xc, sizeof(*d));
    int rc;

    if (!d)
        return -ENOMEM;
    memset(d, 0, sizeof(*d));
    d->cmd = XEN_DOMCTL_shadow_op;
    d->interface_version = XEN_DOMCTL_INTERFACE_VERSION;
    d->domain = (domid_t)dom;
    d->u.shadow_op.op = op;
    if (bitmap) {
        set_xen_guest_handle(d->u.shadow_op.dirty_bitmap, bitmap);
        d->u.shadow_op.pages = BITMAP_PAGES * 4096 * 8;
    }
    rc = xencall1(xc, __HYPERVISOR_domctl, (uint64_t)(uintptr_t)d);
    rc = rc < 0 ? -errno : 0;
    xencall_free_buffer(xc, d);
    return rc;
}

static int bit(const uint8_t *bitmap, uint64_t pfn)
{
    return pfn < BITMAP_PAGES * 4096ull * 8 && (bitmap[pfn / 8] >> pfn % 8) & 1;
}

/* dom0's two writes into the guest's pages 0 (COPY) and 2 (a mapping). */
static void dirty_writes(grant_handle_t *h, unsigned guest, grant_ref_t ref,
                         int *copy_rc, int *map_rc)
{
    uint8_t *src = NULL, *map = NULL;

    *copy_rc = grant_mem_alloc(h, 1, (void **)&src);
    if (*copy_rc == 0) {
        memset(src, 'C', 64);
        *copy_rc = grant_copy_to(h, (grant_domid_t)guest, ref, 0, src, 64);
        grant_mem_free(h, src);
    }
    *map_rc = grant_map(h, (grant_domid_t)guest, ref, 2 * GRANT_PAGE_SIZE,
                        GRANT_PAGE_SIZE, 0, (void **)&map);
    if (*map_rc == 0) {
        if (!xlab_try_write(map + 100, 'M'))
            *map_rc = -EFAULT;
        grant_unmap(h, map);
    }
}

void xlab_dirty_dom0(grant_handle_t *h, unsigned guest)
{
    unsigned long long pfn[DIRTY_PAGES] = {0};
    xencall_handle *xc = NULL;
    uint8_t *bitmap = NULL;
    int rc, copy_rc = -1, map_rc = -1, on = 0, before = 0, ok1;
    unsigned ref = 0;
    char v[128];

    rc = xlab_xs_wait("dirty", v, sizeof(v));
    if (rc == 0 &&
        sscanf(v, "%u %llx %llx %llx", &ref, &pfn[0], &pfn[1], &pfn[2]) != 4)
        rc = strncmp(v, "ERR", 3) ? -EINVAL : (int)strtol(v + 3, NULL, 10);
    if (rc == 0 && !(xc = xencall_open(NULL, 0)))
        rc = -errno;
    if (rc == 0 && !(bitmap = xencall_alloc_buffer_pages(xc, BITMAP_PAGES)))
        rc = -ENOMEM;
    if (rc == 0)
        rc = shadow_op(xc, guest, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, NULL);
    on = rc == 0;
    if (rc == 0)
        rc = shadow_op(xc, guest, XEN_DOMCTL_SHADOW_OP_CLEAN, bitmap);
    if (rc == 0) {
        memset(bitmap, 0, BITMAP_PAGES * 4096);
        rc = shadow_op(xc, guest, XEN_DOMCTL_SHADOW_OP_PEEK, bitmap);
        for (unsigned i = 0; rc == 0 && i < DIRTY_PAGES; i++)
            before += bit(bitmap, pfn[i]);
    }
    if (rc == 0)
        dirty_writes(h, guest, ref, &copy_rc, &map_rc);
    if (rc == 0) {
        memset(bitmap, 0, BITMAP_PAGES * 4096);
        rc = shadow_op(xc, guest, XEN_DOMCTL_SHADOW_OP_PEEK, bitmap);
    }
    if (on)
        shadow_op(xc, guest, XEN_DOMCTL_SHADOW_OP_OFF, NULL);
    ok1 = rc == 0 && before == 0 && !bit(bitmap, pfn[1]);
    xlab_report("dirty_copy", ok1 && copy_rc == 0 && bit(bitmap, pfn[0]),
                "log-dirty %s; COPY into the guest's page (pfn %#llx): %s, "
                "its bit %d (want 1); untouched page's bit %d, bits set "
                "after CLEAN %d (want 0)",
                grant_strerror(rc), pfn[0], grant_strerror(copy_rc),
                rc == 0 && bit(bitmap, pfn[0]), rc == 0 && bit(bitmap, pfn[1]),
                before);
    xlab_report("dirty_map", ok1 && map_rc == 0 && bit(bitmap, pfn[2]),
                "write through a writable map of the guest's page (pfn "
                "%#llx), then unmap: %s, its bit %d (want 1)",
                pfn[2], grant_strerror(map_rc), rc == 0 && bit(bitmap, pfn[2]));
    xlab_xs_write("dirtydone", "1");
    if (bitmap)
        xencall_free_buffer_pages(xc, bitmap, BITMAP_PAGES);
    if (xc)
        xencall_close(xc);
}
