/* SPDX-License-Identifier: MIT */
/*
 * xlab_dom0.c: dom0's side of the cross-domain cases.  dom0 grants the
 * guest a byte range across pages (READ, WRITE, DELEGATE); the guest copies
 * it, writes a marker through it and delegates a narrower window back to
 * dom0; dom0 copies through the delegation, revokes its grant only after the
 * guest said it is done with it, and sees the delegation fail (ESTALE).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlab.h"

static int window_ok(const uint8_t *buf, uint64_t off, uint64_t len)
{
    for (uint64_t i = 0; i < len; i++)
        if (buf[i] != xlab_pattern(off + i))
            return 0;
    return 1;
}

void xlab_guest_results(const char *key)
{
    char buf[4096], name[64];
    int rc = xlab_xs_wait(key, buf, sizeof(buf));

    if (rc < 0) {
        snprintf(name, sizeof(name), "guest_%s", key);
        xlab_report(name, 0, "no %s from the guest: %s", key,
                    grant_strerror(rc));
        return;
    }
    /* The guest's lines, counted by the host like dom0's. */
    printf("%s", buf);
    fflush(stdout);
}

static void through_delegation(grant_handle_t *h, unsigned guest,
                               const uint8_t *mem, grant_ref_t ref)
{
    uint8_t *got = NULL; /* a local end must be grant memory */
    uint32_t deleg = 0;
    char done[16];
    int rc;

    rc = grant_mem_alloc(h, 1, (void **)&got);
    if (rc == 0)
        rc = xlab_xs_wait_u32("deleg", &deleg);
    if (rc == 0)
        rc = grant_copy_from(h, got, (grant_domid_t)guest, deleg, 0,
                             XLAB_DELEG_LEN);
    xlab_report("delegated_copy",
                rc == 0 && window_ok(got, XLAB_DELEG_OFF, XLAB_DELEG_LEN),
                "copy of the guest's %u-byte delegation: %s", XLAB_DELEG_LEN,
                grant_strerror(rc));
    rc = xlab_xs_wait("written", done, sizeof(done));
    xlab_report("guest_wrote",
                rc == 0 && !memcmp(mem + XLAB_GRANT_OFF + XLAB_MARK_OFF,
                                   XLAB_MARK, strlen(XLAB_MARK)),
                "marker at window offset %u: %s", XLAB_MARK_OFF,
                rc ? grant_strerror(rc) : "checked");
    /* The guest is done with the grant (it said so): now revoke. */
    rc = grant_revoke(h, ref, 0);
    xlab_report("revoke_root", rc == 0, "%s", grant_strerror(rc));
    xlab_xs_write("revoked", "1");
    rc =
        grant_copy_from(h, got, (grant_domid_t)guest, deleg, 0, XLAB_DELEG_LEN);
    xlab_report("delegate_stale", rc == -ESTALE,
                "copy through the delegation after revoke: %s (want ESTALE)",
                grant_strerror(rc));
}

/* The extension's cross-domain cases: dom0 grants, the guest delegates. */
static void ext_cross_dom0(grant_handle_t *h, unsigned guest)
{
    grant_ref_t ref = 0;
    uint8_t *mem;
    int rc;

    rc = grant_mem_alloc(h, 4, (void **)&mem);
    for (uint64_t i = 0; rc == 0 && i < XLAB_GRANT_LEN; i++)
        mem[XLAB_GRANT_OFF + i] = xlab_pattern(i);
    if (rc == 0)
        rc =
            grant_create_direct(h, (grant_domid_t)guest,
                                GRANT_R_READ | GRANT_R_WRITE | GRANT_R_DELEGATE,
                                mem + XLAB_GRANT_OFF, XLAB_GRANT_LEN, &ref);
    xlab_report("grant_to_guest", rc == 0, "%u bytes over 4 pages: %s",
                XLAB_GRANT_LEN, grant_strerror(rc));
    xlab_xs_write("ref", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? ref : (unsigned)rc);
    if (rc == 0)
        through_delegation(h, guest, mem, ref);
    xlab_prot_dom0(h, guest);
}

int xlab_dom0(grant_handle_t *h, unsigned guest)
{
    int rc, ext, only_hvmap;

    rc = xlab_xs_open(guest, 1);
    if (!xlab_report("xenstore", rc == 0, "folder for guest %u: %s", guest,
                     grant_strerror(rc)))
        return 1;
    /* Read by the guest after "xen": the XSM cases alone (xlab_xsm.c). */
    xlab_xs_write("xsm", "%s", getenv("XLAB_XSM") ? "1" : "0");
    /* LAB_ONLY=hvmap (run.sh): xlab_hvmap.c's cases alone. */
    only_hvmap = getenv("XLAB_ONLY") && !strcmp(getenv("XLAB_ONLY"), "hvmap");
    xlab_xs_write("only", "%s", only_hvmap ? "hvmap" : "");
    xlab_xs_write("xen", "%s", xlab_xen);
    if (getenv("XLAB_XSM")) {
        xlab_xsm_dom0(h, guest);
        xlab_xs_close();
        return 0;
    }
    if (only_hvmap) {
        if (xlab_features(h)) {
            xlab_hvmap_dom0(h, guest);
            xlab_held_dom0();
        }
        xlab_xs_close();
        return 0;
    }
    ext = xlab_features(h);
    if (ext) {
        xlab_local_cases(h, (grant_domid_t)guest);
        ext_cross_dom0(h, guest);
    } else {
        xlab_skip("extension", "absent (GNTTABOP_xgrant answered ENOSYS): "
                               "local, cross-domain, protection, map and "
                               "comparison cases not run");
    }
    xlab_guest_results("results");
    if (ext) {
        xlab_map_dom0(h, guest);
        xlab_scratch_dom0(guest);
    } else {
        xlab_guest_results("mapresults");
    }
    xlab_evtchn_dom0(h, guest);
    xlab_guest_results("evresults");
    xlab_std_dom0(h, guest);
    if (ext) {
        xlab_bench_dom0(h, guest);
        xlab_map_bench_dom0(h, guest);
    }
    xlab_kernel_clean(); /* after every map window came and went */
    xlab_xs_write("benchdone", "1");
    if (ext) {
        xlab_kill_dom0(h, guest);
        xlab_freed_dom0(h, guest);
        xlab_lock_dom0(h, guest);
        xlab_dirty_dom0(h, guest);
        xlab_offsets_dom0(h, guest);
        xlab_settle_dom0(guest);
        xlab_hvmap_dom0(h, guest);
        xlab_multi_dom0(h, guest); /* the fuzz too, in xlab-m3 */
        xlab_held_dom0();          /* after the fuzzer and the big cases */
    }
    xlab_xs_close();
    return 0;
}
