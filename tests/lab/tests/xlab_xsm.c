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
 *
 * Then the sub-ops on the guest's own state (hv-patches 0020, class
 * xgrant): the lab's policy gives nocopy_domU_t each of create, protect,
 * fault_ring and query on itself through a boolean (xlab_xg_*), on by
 * default.  In five rounds dom0 turns one of them off (flask-set-bool),
 * the guest makes each sub-op once (a direct CREATE, a PROTECT R, a
 * FAULT_RING bind, a USAGE and a QUERY_TABLE of its own; each undone when
 * it worked) and dom0 turns it on again; the last round has all four on:
 *   xsm_create_refused, xsm_protect_refused, xsm_fault_ring_refused,
 *   xsm_query_refused: with its boolean off, that sub-op alone is EPERM,
 *                      the others work (the hook asks its own permission);
 *   xsm_own_allowed:   all on, every sub-op works;
 *   xsm_dom0_query_allowed: dom0 (manage_domain) reads the guest's usage
 *                      and table.
 * Without 0020 the sub-ops work whatever the booleans say: the four
 * *_refused cases FAIL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../../libgrant/kmod/xgrant_uapi.h"
#include "gntx_xen.h"
#include "xlab.h"

#define XSM_BYTE 0x5e

/* The own-state sub-ops of a round, in the order of the booleans. */
enum { OWN_CREATE, OWN_PROTECT, OWN_RING, OWN_USAGE, OWN_TABLE, OWN_N };
static const char *const own_bool[] = {"xlab_xg_create", "xlab_xg_protect",
                                       "xlab_xg_fault_ring", "xlab_xg_query"};
#define OWN_ROUNDS 5 /* one per boolean off, then all on */

/* FAULT_RING through /dev/xgrant itself (libgrant binds once per handle):
 * page 0 of fd's memory, or GNTX_FAULT_RING_NONE to unbind.  The port is
 * never signalled (no fault happens), so any nonzero one does. */
static int own_ring(int fd, uint64_t gfn)
{
    struct gntx_fault_ring r = {.gfn = gfn,
                                .port = gfn == GNTX_FAULT_RING_NONE ? 0 : 1};
    struct gntx_xen_call c = {
        .op = GNTX_OP_FAULT_RING, .count = 1, .args = (uintptr_t)&r};

    return ioctl(fd, XGRANT_IOC_CALL, &c) < 0 ? -errno : 0;
}

/* Each own-state sub-op once; what worked is undone (revoke, lift,
 * unbind: none of which the hooks refuse). */
static void own_ops(grant_handle_t *h, uint8_t *page, int ring_fd,
                    int rc[OWN_N])
{
    grant_domid_t self = grant_domid(h);
    struct grant_entry_info e;
    struct grant_usage u;
    grant_ref_t ref = 0;
    int n;

    rc[OWN_CREATE] =
        grant_create_direct(h, 0, GRANT_R_READ, page, GRANT_PAGE_SIZE, &ref);
    if (rc[OWN_CREATE] == 0)
        grant_revoke(h, ref, 0);
    rc[OWN_PROTECT] =
        grant_protect(h, page, GRANT_PAGE_SIZE, GRANT_ACC_R, GRANT_ACT_DENY, 0);
    if (rc[OWN_PROTECT] == 0)
        grant_protect(h, page, GRANT_PAGE_SIZE, GRANT_ACC_RWX, GRANT_ACT_DENY,
                      0);
    rc[OWN_RING] = ring_fd < 0 ? ring_fd : own_ring(ring_fd, 0);
    if (rc[OWN_RING] == 0)
        own_ring(ring_fd, GNTX_FAULT_RING_NONE);
    rc[OWN_USAGE] = grant_usage(h, self, &u);
    n = grant_query_table(h, self, &e, 1);
    rc[OWN_TABLE] = n < 0 ? n : 0;
}

static void xsm_own_guest(grant_handle_t *h)
{
    uint8_t *page = NULL, *ring = NULL;
    int ring_fd = xlab_dev_open(1, &ring), rc[OWN_N] = {0}, r, err;
    char key[16], v[8];

    err = grant_mem_alloc(h, 1, (void **)&page);
    for (r = 0; r < OWN_ROUNDS; r++) {
        snprintf(key, sizeof(key), "xsmown%d", r);
        if (xlab_xs_wait(key, v, sizeof(v)) != 0)
            return;
        if (err == 0)
            own_ops(h, page, ring_fd, rc);
        snprintf(key, sizeof(key), "xsmres%d", r);
        xlab_xs_write(key, "%d %d %d %d %d %d", err, rc[0], rc[1], rc[2], rc[3],
                      rc[4]);
    }
    if (ring)
        munmap(ring, 4096);
    if (ring_fd >= 0)
        close(ring_fd);
}

static int set_bool(const char *name, int on)
{
    char cmd[96];

    snprintf(cmd, sizeof(cmd), "flask-set-bool %s %d >/dev/null 2>&1", name,
             on);
    return system(cmd) == 0 ? 0 : -EIO;
}

static void xsm_own_dom0(grant_handle_t *h, unsigned guest)
{
    static const char *const name[] = {
        "xsm_create_refused", "xsm_protect_refused", "xsm_fault_ring_refused",
        "xsm_query_refused", "xsm_own_allowed"};
    static const char *const op[OWN_N] = {"CREATE", "PROTECT", "FAULT_RING",
                                          "USAGE", "QUERY_TABLE"};
    struct grant_entry_info e;
    struct grant_usage u;
    int r, i, n, urc;

    for (r = 0; r < OWN_ROUNDS; r++) {
        int off = r < 4 ? set_bool(own_bool[r], 0) : 0, rc[OWN_N], err = 0;
        int ok = off == 0;
        char key[16], v[96], got[160] = "";
        size_t len = 0;

        snprintf(key, sizeof(key), "xsmown%d", r);
        xlab_xs_write(key, "go");
        snprintf(key, sizeof(key), "xsmres%d", r);
        if (xlab_xs_wait(key, v, sizeof(v)) != 0 ||
            sscanf(v, "%d %d %d %d %d %d", &err, &rc[0], &rc[1], &rc[2], &rc[3],
                   &rc[4]) != 6)
            ok = 0, err = -EPROTO;
        if (r < 4 && set_bool(own_bool[r], 1) != 0)
            ok = 0;
        for (i = 0; err == 0 && i < OWN_N; i++) {
            /* Round r (< 4) refuses boolean r's sub-ops (the query
             * boolean both queries); round 4 none. */
            int want = r < 4 && (r == 3 ? i >= OWN_USAGE : i == r) ? -EPERM : 0;

            ok &= rc[i] == want;
            len += snprintf(got + len, sizeof(got) - len, "%s%s %s",
                            i ? ", " : "", op[i], grant_strerror(rc[i]));
        }
        xlab_report(name[r], ok && err == 0, "%s%s%s: %s%s",
                    r < 4 ? own_bool[r] : "all booleans",
                    r < 4 ? " off" : " on",
                    off ? " (flask-set-bool failed)" : "", got,
                    err ? grant_strerror(err) : "");
    }
    urc = grant_usage(h, (grant_domid_t)guest, &u);
    n = grant_query_table(h, (grant_domid_t)guest, &e, 1);
    xlab_report("xsm_dom0_query_allowed", urc == 0 && n >= 0,
                "dom0's USAGE of the guest %s, its QUERY_TABLE %s",
                grant_strerror(urc), grant_strerror(n < 0 ? n : 0));
}

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
    xsm_own_guest(h);
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
    xsm_own_dom0(h, guest);
}
