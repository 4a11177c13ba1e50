/* SPDX-License-Identifier: MIT */
/*
 * xlab_harden.c: what a hostile domain may not do to others through the
 * extension inside Xen (issue 12).
 *
 *   scratch_no_retype (dom0, after the map cases): the guest's scratch page
 *     (Xen's page behind its FORCE-revoked mapping, on its extra page list)
 *     can never become a page table, so a pin of it can never outlive the
 *     guest.  dom0 finds the page in Xen's 'q' dump (ExtraPage lines of the
 *     guest's domain) and asks Xen to pin it as an L2 table on the guest's
 *     behalf (MMUEXT_PIN_L2_TABLE with the guest as foreigndom, through
 *     privcmd): refused.  A pin that works is undone at once.
 *   kill_spares_backend (both, last): a domain that serves others is never
 *     destroyed by one granter's KILL.  The guest becomes a backend (it maps
 *     a v1 grant of dom0's through gntdev); dom0 grants it a page with WRITE
 *     and protects the page R with KILL; the guest's copy into it is EACCES
 *     and dom0's counters say NOTIFY, not KILL; the guest lives on.
 */
#define __XEN_TOOLS__ 1
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xen/xen.h>
#include <xencall.h>

#include "xlab.h"
#include "xlab_v1.h"

#define KILL_COOKIE 0x6b696c6cu
#define SCRATCH_MAX 8

FILE *xlab_q_dump(void)
{
    FILE *f;

    if (system("xl debug-keys q >/dev/null 2>&1") != 0) {
        errno = EIO;
        return NULL;
    }
    f = popen("xl dmesg 2>/dev/null", "r");
    return f;
}

/* The guest's ExtraPage mfns from Xen's 'q' dump: how many (<= max). */
static int extra_pages(unsigned guest, unsigned long long *mfn, int max)
{
    char line[512], head[64];
    int n = 0, in = 0;
    FILE *f = xlab_q_dump();

    if (!f)
        return -errno;
    snprintf(head, sizeof(head), "Memory pages belonging to domain %u:", guest);
    while (fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, "ExtraPage ");

        if (strstr(line, head)) {
            in = 1;
            n = 0; /* the last dump counts */
        } else if (strstr(line, "Memory pages belonging to domain")) {
            in = 0;
        } else if (in && p && n < max) {
            mfn[n++] = strtoull(p + strlen("ExtraPage "), NULL, 16);
        }
    }
    pclose(f);
    return n;
}

/* One mmuext_op on `dom`'s page mfn: 0 or the hypercall's -errno. */
static int mmuext(xencall_handle *xc, unsigned cmd, unsigned long long mfn,
                  unsigned dom)
{
    struct mmuext_op *op = xencall_alloc_buffer(xc, sizeof(*op));
    int rc;

    if (!op)
        return -ENOMEM;
    memset(op, 0, sizeof(*op));
    op->cmd = cmd;
    op->arg1.mfn = mfn;
    rc = xencall4(xc, __HYPERVISOR_mmuext_op, (uint64_t)(uintptr_t)op, 1, 0,
                  dom);
    rc = rc < 0 ? -errno : 0;
    xencall_free_buffer(xc, op);
    return rc;
}

void xlab_scratch_dom0(unsigned guest)
{
    unsigned long long mfn[SCRATCH_MAX];
    xencall_handle *xc = xencall_open(NULL, 0);
    int n = extra_pages(guest, mfn, SCRATCH_MAX), pinned = 0, i;

    if (!xc || n <= 0) {
        xlab_report("scratch_no_retype", 0,
                    "no scratch page to try (%d extra pages, xencall %s)", n,
                    xc ? "open" : "failed");
        if (xc)
            xencall_close(xc);
        return;
    }
    for (i = 0; i < n; i++)
        if (mmuext(xc, MMUEXT_PIN_L2_TABLE, mfn[i], guest) == 0) {
            pinned++;
            mmuext(xc, MMUEXT_UNPIN_TABLE, mfn[i], guest);
        }
    xencall_close(xc);
    xlab_report("scratch_no_retype", pinned == 0,
                "%d of the guest's %d extra pages (its scratch page) pinned "
                "as an L2 table (want 0)",
                pinned, n);
}

/* dom0: the stats of its own pages, 0 or -errno. */
static int own_stats(grant_handle_t *h, struct grant_fault_stats *s)
{
    return grant_fault_stats(h, 0, s);
}

void xlab_kill_dom0(grant_handle_t *h, unsigned guest)
{
    struct grant_fault_stats s0 = {0}, s = {0};
    grant_ref_t ref = 0;
    uint32_t gref = 0;
    uint8_t *page = NULL;
    void *v1 = NULL;
    char v[64];
    int rc, waited = 0;

    rc = xlab_v1_share(guest, &v1, &gref);
    xlab_xs_write("kv1ref", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? gref : (unsigned)rc);
    if (rc == 0)
        rc = xlab_xs_wait("kbackend", v, sizeof(v));
    if (rc == 0 && strcmp(v, "0") != 0)
        rc = -EIO;
    if (rc == 0)
        rc = grant_mem_alloc(h, 1, (void **)&page);
    if (rc == 0)
        rc =
            grant_create_direct(h, (grant_domid_t)guest,
                                GRANT_R_READ | GRANT_R_WRITE, page, 4096, &ref);
    if (rc == 0)
        rc = own_stats(h, &s0);
    if (rc == 0)
        rc = grant_protect(h, page, 4096, GRANT_ACC_R, GRANT_ACT_KILL,
                           KILL_COOKIE);
    xlab_xs_write("kref", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? ref : (unsigned)rc);
    /* The violation is counted before any kill: wait for it here, so a
     * killed guest is a FAIL now, not a wait for its answer. */
    while (rc == 0 && waited++ < 600 && (rc = own_stats(h, &s)) == 0 &&
           s.notified + s.killed == s0.notified + s0.killed)
        usleep(100000);
    xlab_report("kill_spares_backend",
                rc == 0 && s.killed == s0.killed &&
                    s.notified == s0.notified + 1,
                "the guest (a v1 backend) wrote dom0's KILL page: %s; "
                "killed +%llu, notified +%llu (want +0, +1)",
                grant_strerror(rc), (unsigned long long)(s.killed - s0.killed),
                (unsigned long long)(s.notified - s0.notified));
    if (rc == 0 && s.killed == s0.killed)
        rc = xlab_xs_wait("kdone", v, sizeof(v));
    xlab_report("kill_spared_alive", rc == 0 && strcmp(v, "EACCES") == 0,
                "the guest after its refused write: %s",
                rc == 0 ? v : grant_strerror(rc));
    if (page) {
        grant_protect(h, page, 4096, GRANT_ACC_RWX, GRANT_ACT_DENY, 0);
        grant_revoke(h, ref, GRANT_REVOKE_FORCE);
    }
    xlab_v1_unshare();
}

void xlab_kill_guest(grant_handle_t *h)
{
    uint8_t first[4096], *buf = NULL;
    uint32_t gref = 0, ref = 0;
    int rc;

    rc = xlab_xs_wait_u32("kv1ref", &gref);
    /* One map of dom0's v1 grant makes this domain a backend for Xen. */
    if (rc == 0)
        rc = xlab_v1_map_times(0, gref, first, 0, NULL);
    xlab_xs_write("kbackend", "%d", rc);
    if (rc == 0)
        rc = xlab_xs_wait_u32("kref", &ref);
    if (rc == 0)
        rc = grant_mem_alloc(h, 1, (void **)&buf);
    if (rc == 0) {
        memset(buf, 'k', 16);
        rc = grant_copy_to(h, 0, ref, 0, buf, 16);
    }
    xlab_xs_write("kdone", "%s", grant_strerror(rc));
}
