/* SPDX-License-Identifier: MIT */
/*
 * xlab_guest.c: the guest's side.  Its case lines go to its console and,
 * collected, to xenstore ("results"), which dom0 prints for the host.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "xlab.h"

static char results[4096];
static size_t used;

/* Everything printed from here on is also kept for "results". */
static void capture_start(FILE **saved)
{
    fflush(stdout);
    *saved = fmemopen(results, sizeof(results) - 1, "w");
    if (*saved) {
        FILE *tmp = stdout;

        stdout = *saved;
        *saved = tmp;
    }
}

static void capture_end(FILE *saved)
{
    if (!saved)
        return;
    fflush(stdout);
    used = (size_t)ftell(stdout);
    fclose(stdout);
    stdout = saved;
    results[used] = 0;
    fputs(results, stdout);
    fflush(stdout);
}

static int copy_checked(grant_handle_t *h, grant_ref_t ref, uint8_t *buf)
{
    int rc = grant_copy_from(h, buf, 0, ref, 0, XLAB_GRANT_LEN);

    for (uint64_t i = 0; rc == 0 && i < XLAB_GRANT_LEN; i++)
        if (buf[i] != xlab_pattern(i))
            rc = -EILSEQ;
    return rc;
}

static void cross_cases(grant_handle_t *h)
{
    grant_ref_t ref = 0, deleg = 0;
    char done[16];
    uint8_t *buf;
    int rc;

    rc = xlab_xs_wait_u32("ref", &ref);
    if (!xlab_report("got_ref", rc == 0, "dom0's grant: %s",
                     grant_strerror(rc)))
        return;
    rc = grant_mem_alloc(h, 4, (void **)&buf);
    if (rc == 0)
        rc = copy_checked(h, ref, buf);
    xlab_report("copy_range", rc == 0, "%u bytes across pages from dom0: %s",
                XLAB_GRANT_LEN, grant_strerror(rc));
    rc = grant_create_indirect(h, 0, GRANT_R_READ, 0, ref, XLAB_DELEG_OFF,
                               XLAB_DELEG_LEN, &deleg);
    xlab_report("delegate", rc == 0, "window [%u,+%u) to dom0: %s",
                XLAB_DELEG_OFF, XLAB_DELEG_LEN, grant_strerror(rc));
    xlab_xs_write("deleg", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? deleg : (unsigned)rc);
    memcpy(buf, XLAB_MARK, strlen(XLAB_MARK));
    rc = grant_copy_to(h, 0, ref, XLAB_MARK_OFF, buf, strlen(XLAB_MARK));
    xlab_report("copy_to", rc == 0, "marker across a page boundary: %s",
                grant_strerror(rc));
    xlab_xs_write("written", "1");
    rc = xlab_xs_wait("revoked", done, sizeof(done));
    if (rc == 0)
        rc = grant_copy_from(h, buf, 0, ref, 0, 16);
    xlab_report("revoked_stale", rc == -ESTALE,
                "copy after dom0's revoke: %s (want ESTALE)",
                grant_strerror(rc));
}

int xlab_guest(grant_handle_t *h)
{
    static char xen[16];
    char done[16];
    FILE *saved = NULL;
    int rc, ext;

    rc = xlab_xs_open(0, 0);
    if (!xlab_report("xenstore", rc == 0, "%s", grant_strerror(rc)))
        return 1;
    if (xlab_xs_wait("xen", xen, sizeof(xen)) == 0)
        xlab_xen = xen;
    if (xlab_xs_wait("xsm", done, sizeof(done)) == 0 && !strcmp(done, "1")) {
        xlab_xsm_guest(h);
        xlab_xs_close();
        return 0;
    }
    if (xlab_xs_wait("only", done, sizeof(done)) == 0 &&
        !strcmp(done, "hvmap")) {
        xlab_hvmap_guest(h);
        xlab_xs_close();
        return 0;
    }
    capture_start(&saved);
    ext = xlab_features(h);
    if (ext) {
        xlab_local_cases(h, 0);
        cross_cases(h);
        xlab_prot_guest(h);
        rc = xlab_bench_guest_share(h);
        xlab_report("bench_share", rc == 0, "one page each way: %s",
                    grant_strerror(rc));
    } else {
        xlab_skip("extension", "absent (GNTTABOP_xgrant answered ENOSYS): "
                               "local, cross-domain, protection and map "
                               "cases not run");
    }
    capture_end(saved);
    xlab_xs_write("results", "%s", results);
    capture_start(&saved);
    if (ext)
        xlab_map_guest(h);
    capture_end(saved);
    xlab_xs_write("mapresults", "%s", results);
    capture_start(&saved);
    xlab_evtchn_guest(h);
    capture_end(saved);
    xlab_xs_write("evresults", "%s", results);
    capture_start(&saved);
    xlab_std_guest(h);
    xlab_kernel_clean(); /* after the map windows came and went */
    capture_end(saved);
    xlab_xs_write("v1results", "%s", results);
    xlab_xs_wait("benchdone", done, sizeof(done));
    if (ext) {
        xlab_bench_guest_end();
        xlab_kill_guest(h);
        xlab_freed_guest();
        xlab_lock_guest();
        xlab_dirty_guest(h);
        xlab_offsets_guest();
        xlab_settle_guest(h);
        xlab_hvmap_guest(h);
        xlab_multi_guest(h);
    }
    xlab_xs_close();
    return 0;
}
