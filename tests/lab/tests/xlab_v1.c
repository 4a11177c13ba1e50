/* SPDX-License-Identifier: MIT */
/*
 * xlab_v1.c: Xen's own grant copy and sharing (libxengnttab), the peer the
 * extension's copy is compared with (xlab_bench.c).
 */
#include <errno.h>
#include <stdint.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#include "xlab_v1.h"

static xengntshr_handle *shr;
static xenevtchn_handle *xce;
static void *shared;

uint64_t xlab_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int xlab_v1_copy_times(unsigned guest, uint32_t gref, void *dst, unsigned iters,
                       uint64_t *t_ns)
{
    xengnttab_handle *xgt = xengnttab_open(NULL, 0);
    xengnttab_grant_copy_segment_t seg;
    int rc = 0;

    if (!xgt)
        return -errno;
    for (unsigned i = 0; i < iters && rc == 0; i++) {
        uint64_t t0 = xlab_now_ns();

        seg = (xengnttab_grant_copy_segment_t){
            .source.foreign = {.ref = gref, .offset = 0, .domid = guest},
            .dest.virt = dst,
            .len = 4096,
            .flags = GNTCOPY_source_gref};
        if (xengnttab_grant_copy(xgt, 1, &seg) < 0)
            rc = -errno;
        else if (seg.status != GNTST_okay)
            rc = -EIO;
        t_ns[i] = xlab_now_ns() - t0;
    }
    xengnttab_close(xgt);
    return rc;
}

/* One map+read+unmap round: 0 or -errno; first, if set, gets the page. */
static int map_round(xengnttab_handle *xgt, unsigned guest, uint32_t gref,
                     void *first)
{
    volatile const uint8_t *p;

    p = xengnttab_map_grant_ref(xgt, guest, gref, PROT_READ);
    if (!p)
        return -errno;
    if (first)
        memcpy(first, (const void *)p, 4096);
    else
        (void)p[0];
    return xengnttab_unmap(xgt, (void *)p, 1) < 0 ? -errno : 0;
}

int xlab_v1_map_times(unsigned guest, uint32_t gref, void *first,
                      unsigned iters, uint64_t *t_ns)
{
    xengnttab_handle *xgt = xengnttab_open(NULL, 0);
    int rc;

    if (!xgt)
        return -errno;
    rc = map_round(xgt, guest, gref, first);
    for (unsigned i = 0; i < iters && rc == 0; i++) {
        uint64_t t0 = xlab_now_ns();

        rc = map_round(xgt, guest, gref, NULL);
        t_ns[i] = xlab_now_ns() - t0;
    }
    xengnttab_close(xgt);
    return rc;
}

int xlab_v1_share(unsigned dom, void **page, uint32_t *gref)
{
    shr = xengntshr_open(NULL, 0);
    if (!shr)
        return -errno;
    shared = xengntshr_share_pages(shr, dom, 1, gref, 0);
    if (!shared)
        return -errno;
    *page = shared;
    return 0;
}

void xlab_v1_unshare(void)
{
    if (shared)
        xengntshr_unshare(shr, shared, 1);
    if (shr)
        xengntshr_close(shr);
    shared = NULL;
    shr = NULL;
}

int xlab_v1_self_port(unsigned self, uint32_t *port)
{
    xenevtchn_port_or_error_t p;

    xce = xenevtchn_open(NULL, 0);
    if (!xce)
        return -errno;
    p = xenevtchn_bind_unbound_port(xce, self);
    if (p < 0)
        return -errno;
    *port = (uint32_t)p;
    return 0;
}

int xlab_v1_port_wait(uint32_t port, int timeout_ms)
{
    struct pollfd pfd = {.fd = xce ? xenevtchn_fd(xce) : -1, .events = POLLIN};
    xenevtchn_port_or_error_t p;

    if (!xce)
        return -EBADF;
    if (poll(&pfd, 1, timeout_ms) <= 0)
        return 0;
    p = xenevtchn_pending(xce);
    if (p < 0)
        return -errno;
    xenevtchn_unmask(xce, (evtchn_port_t)p);
    return (uint32_t)p == port;
}

void xlab_v1_port_close(void)
{
    if (xce)
        xenevtchn_close(xce);
    xce = NULL;
}
