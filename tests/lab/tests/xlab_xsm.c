/* SPDX-License-Identifier: MIT */
/*
 * xlab_xsm.c: the extension obeys Xen's XSM policy (issue 12 finding 5,
 * hv-patches 0011), on a FLASK hypervisor only (HV_DIR=build-hv-flask,
 * tests/lab/README.md): dom0-init.sh then labels the guest
 * nocopy_domU_t, a type the lab's policy module lets share with dom0
 * through grant maps but never through grant copies, and xlab runs these
 * cases alone ($XLAB_XSM=1; the guest learns it under "xsm").
 *
 * dom0 grants the guest a page (READ, WRITE, MAP) holding a pattern;
 *   xsm_copy_refused:  the guest's COPY from it and its MEMSET into it are
 *                      EPERM (xsm_grant_copy says no);
 *   xsm_map_allowed:   its read-only MAP of the same page works and reads
 *                      dom0's bytes (xsm_grant_mapref says yes: the
 *                      refusal is the policy's, not the grant's);
 *   xsm_dom0_copy_refused: dom0's own COPY from a page the guest granted
 *                      it is EPERM too (the policy holds both ways).
 * Without 0011's hooks the copies work and the XSM cases FAIL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlab.h"

#define XSM_BYTE 0x5e

void xlab_xsm_guest(grant_handle_t *h)
{
    uint8_t *buf = NULL, *map = NULL, got = 0;
    grant_ref_t own = 0;
    uint32_t ref = 0;
    int rc, copy = -1, set = -1, mapped = -1, read = 0;

    rc = xlab_xs_wait_u32("xsmref", &ref);
    if (rc == 0)
        rc = grant_mem_alloc(h, 2, (void **)&buf);
    if (rc == 0) {
        copy = grant_copy_from(h, buf, 0, ref, 0, 64);
        set = grant_memset(h, 0, ref, 0, 0, 64);
        mapped = grant_map(h, 0, ref, 0, GRANT_PAGE_SIZE, GRANT_MAP_RDONLY,
                           (void **)&map);
    }
    if (mapped == 0) {
        read = xlab_try_read(map + 7, &got, 1) && got == XSM_BYTE;
        grant_unmap(h, map);
    }
    if (rc == 0) {
        memset(buf + GRANT_PAGE_SIZE, XSM_BYTE, GRANT_PAGE_SIZE);
        rc = grant_create_direct(h, 0, GRANT_R_READ, buf + GRANT_PAGE_SIZE,
                                 GRANT_PAGE_SIZE, &own);
    }
    xlab_xs_write("xsmguest", "%d %d %d %d %d %u", rc, copy, set, mapped, read,
                  own);
    xlab_xs_wait("xsmdone", (char[8]){0}, 8);
}

void xlab_xsm_dom0(grant_handle_t *h, unsigned guest)
{
    int rc, grc = -1, copy = -1, set = -1, mapped = -1, read = 0, dcopy = -1;
    uint8_t *page = NULL;
    grant_ref_t ref = 0;
    unsigned own = 0;
    char v[128];

    rc = grant_mem_alloc(h, 2, (void **)&page);
    if (rc == 0) {
        memset(page, XSM_BYTE, GRANT_PAGE_SIZE);
        rc = grant_create_direct(h, (grant_domid_t)guest,
                                 GRANT_R_READ | GRANT_R_WRITE | GRANT_R_MAP,
                                 page, GRANT_PAGE_SIZE, &ref);
    }
    xlab_xs_write("xsmref", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? ref : (unsigned)rc);
    if (rc == 0)
        rc = xlab_xs_wait("xsmguest", v, sizeof(v));
    if (rc == 0 && sscanf(v, "%d %d %d %d %d %u", &grc, &copy, &set, &mapped,
                          &read, &own) != 6)
        rc = -EPROTO;
    if (rc == 0 && grc == 0)
        dcopy = grant_copy_from(h, page + GRANT_PAGE_SIZE, (grant_domid_t)guest,
                                own, 0, 64);
    xlab_xs_write("xsmdone", "1");
    xlab_report("xsm_copy_refused",
                rc == 0 && grc == 0 && copy == -EPERM && set == -EPERM,
                "policy nocopy_domU_t: the guest's COPY from dom0's grant %s, "
                "its MEMSET %s (want EPERM, EPERM)",
                grant_strerror(copy), grant_strerror(set));
    xlab_report("xsm_map_allowed", rc == 0 && mapped == 0 && read,
                "the guest's read-only MAP of the same page: %s, dom0's byte "
                "read: %s",
                grant_strerror(mapped), read ? "yes" : "no");
    xlab_report("xsm_dom0_copy_refused", rc == 0 && grc == 0 && dcopy == -EPERM,
                "dom0's COPY from the guest's grant: %s (want EPERM)%s%s",
                grant_strerror(dcopy), rc ? "; " : "",
                rc ? grant_strerror(rc) : "");
}
