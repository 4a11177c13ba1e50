/* SPDX-License-Identifier: MIT */
/*
 * xlab_freed.c: a closed /dev/xgrant file's grants die with it (issue 12;
 * found by the in-guest fuzz: the module freed a closed file's pages while
 * a grant still named them, so the grantee read whatever the kernel put
 * there next).
 *
 *   freed_grant_live (dom0): the guest opens a handle of its own, grants
 *     dom0 a page of it (READ) holding a marker; dom0's copy through the
 *     ref brings the marker back;
 *   freed_grant_revoked (dom0): the guest closes that handle (the module's
 *     release); dom0's copy through the same ref now fails (the module
 *     FORCE-revoked the file's grants before freeing its pages).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "xlab.h"

#define FREED_MARK 0x5a

void xlab_freed_guest(void)
{
    grant_handle_t *h2 = NULL;
    grant_ref_t ref = 0;
    char done[16];
    void *page = NULL;
    int rc = grant_open(&h2, 0);

    if (rc == 0)
        rc = grant_mem_alloc(h2, 1, &page);
    if (rc == 0) {
        memset(page, FREED_MARK, GRANT_PAGE_SIZE);
        rc = grant_create_direct(h2, 0, GRANT_R_READ, page, GRANT_PAGE_SIZE,
                                 &ref);
    }
    xlab_xs_write("freedref", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? ref : (unsigned)rc);
    xlab_xs_wait("freedseen", done, sizeof(done));
    grant_close(h2); /* the file's release: its grants go first */
    xlab_xs_write("freedclosed", "1");
}

void xlab_freed_dom0(grant_handle_t *h, unsigned guest)
{
    uint8_t *buf = NULL; /* local ends of a copy: this handle's memory */
    uint32_t ref = 0;
    char done[16];
    int rc = xlab_xs_wait_u32("freedref", &ref), live = -1, after = 0;

    if (rc == 0)
        rc = grant_mem_alloc(h, 1, (void **)&buf);
    if (rc == 0) {
        memset(buf, 0, GRANT_PAGE_SIZE);
        live = grant_copy_from(h, buf, (grant_domid_t)guest, ref, 0,
                               GRANT_PAGE_SIZE);
    }
    xlab_report("freed_grant_live",
                rc == 0 && live == 0 && buf[0] == FREED_MARK &&
                    buf[GRANT_PAGE_SIZE - 1] == FREED_MARK,
                "dom0 copies the guest's granted page: ref %u, %s", ref,
                grant_strerror(rc < 0 ? rc : live));
    xlab_xs_write("freedseen", "1");
    if (xlab_xs_wait("freedclosed", done, sizeof(done)) == 0 && rc == 0)
        after = grant_copy_from(h, buf, (grant_domid_t)guest, ref, 0,
                                GRANT_PAGE_SIZE);
    xlab_report("freed_grant_revoked",
                rc == 0 && (after == -ESTALE || after == -ENOENT),
                "after the guest closed its handle, the copy through the "
                "ref: %s (want ESTALE or ENOENT: the grant went with the file)",
                grant_strerror(after));
    if (buf)
        grant_mem_free(h, buf);
}
