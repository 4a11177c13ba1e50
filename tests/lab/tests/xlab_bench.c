/* SPDX-License-Identifier: MIT */
/*
 * xlab_bench.c: Xen's own grant copy and map against the extension's, same
 * run.  The guest shares one page with dom0 twice: a v1 grant (gntalloc,
 * read-only) and an xgrant grant of the same 4 KiB (READ, MAP).  Copy: dom0
 * copies 4 KiB from each into its memory XLAB_BENCH_ITER times
 * (GNTTABOP_copy through xengnttab_grant_copy, GNTX_OP_COPY through
 * libgrant).  Map: dom0 maps the page read-only, reads a byte and unmaps
 * it XLAB_MAP_BENCH_ITER times each way (GNTTABOP_map_grant_ref through
 * xengnttab_map_grant_ref/xengnttab_unmap, GNTX_OP_MAP through
 * grant_map/grant_unmap).  Each runs in alternating blocks and prints
 * the means and their ratio.
 * Under TCG only the ratios mean anything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlab.h"
#include "xlab_v1.h"

static uint64_t times[XLAB_BENCH_ITER];

static int time_xgrant(grant_handle_t *h, unsigned guest, grant_ref_t ref,
                       uint8_t *dst, unsigned n)
{
    int rc = 0;

    for (unsigned i = 0; i < n && rc == 0; i++) {
        uint64_t t0 = xlab_now_ns();

        rc = grant_copy_from(h, dst, (grant_domid_t)guest, ref, 0, 4096);
        times[i] = xlab_now_ns() - t0;
    }
    return rc;
}

/* Sum of the first n entries of times[]. */
static uint64_t total(unsigned n)
{
    uint64_t t = 0;

    for (unsigned i = 0; i < n; i++)
        t += times[i];
    return t;
}

/*
 * Alternating blocks of XLAB_BENCH_BLOCK copies each way, the per-copy
 * times summed (dom0's clock was seen to advance in ~4 ms steps in some
 * TCG runs, coarser than one copy: medians read 0; the steps add up to
 * the elapsed time), and the means compared.
 */
void xlab_bench_dom0(grant_handle_t *h, unsigned guest)
{
    uint32_t gref = 0, xref = 0;
    uint64_t t_v1 = 0, t_x = 0;
    uint8_t *v1buf = NULL, *xbuf = NULL;
    unsigned n = 0;
    int rc1, rc2;

    rc1 = xlab_xs_wait_u32("gref", &gref);
    if (rc1 == 0)
        rc1 = grant_mem_alloc(h, 1, (void **)&v1buf);
    rc2 = xlab_xs_wait_u32("xref", &xref);
    if (rc2 == 0)
        rc2 = grant_mem_alloc(h, 1, (void **)&xbuf);
    while (rc1 == 0 && rc2 == 0 && n < XLAB_BENCH_ITER) {
        rc1 = xlab_v1_copy_times(guest, gref, v1buf, XLAB_BENCH_BLOCK, times);
        t_v1 += total(XLAB_BENCH_BLOCK);
        if (rc1 == 0)
            rc2 = time_xgrant(h, guest, xref, xbuf, XLAB_BENCH_BLOCK);
        t_x += total(XLAB_BENCH_BLOCK);
        n += XLAB_BENCH_BLOCK;
    }
    if (rc1 == 0 && rc2 == 0 && t_v1) {
        xlab_report("bench_same_bytes", !memcmp(v1buf, xbuf, 4096),
                    "both copies brought the guest's page");
        printf("XLAB-BENCH copy 4KiB x%u (alternating blocks of %u): "
               "GNTTABOP_copy mean %llu ns, xgrant COPY mean %llu ns, ratio "
               "xgrant/v1 %.2f\n",
               n, XLAB_BENCH_BLOCK, (unsigned long long)(t_v1 / n),
               (unsigned long long)(t_x / n), (double)t_x / (double)t_v1);
    } else {
        printf("XLAB-BENCH not measured: GNTTABOP_copy %s, xgrant COPY %s\n",
               grant_strerror(rc1), grant_strerror(rc2));
    }
    fflush(stdout);
}

/* map, read a byte, unmap, timed, n times; first (if set) gets the page
 * from one untimed round before. */
static int time_xgrant_map(grant_handle_t *h, unsigned guest, grant_ref_t ref,
                           uint8_t *first, unsigned n)
{
    void *p;
    int rc = 0;

    if (first) {
        rc = grant_map(h, (grant_domid_t)guest, ref, 0, 4096, GRANT_MAP_RDONLY,
                       &p);
        if (rc < 0)
            return rc;
        rc = xlab_try_read(p, first, 4096) ? 0 : -EFAULT;
        if (grant_unmap(h, p) < 0 && rc == 0)
            rc = -EIO;
    }
    for (unsigned i = 0; i < n && rc == 0; i++) {
        uint64_t t0 = xlab_now_ns();

        rc = grant_map(h, (grant_domid_t)guest, ref, 0, 4096, GRANT_MAP_RDONLY,
                       &p);
        if (rc == 0) {
            (void)*(volatile const uint8_t *)p;
            rc = grant_unmap(h, p);
        }
        times[i] = xlab_now_ns() - t0;
    }
    return rc;
}

/*
 * Alternating blocks of XLAB_MAP_BENCH_BLOCK rounds each way, so drift
 * hits both alike.  dom0's clock was seen to advance in ~4 ms steps late
 * in the lab run (TCG), coarser than one map: the per-round times are
 * summed (the steps add up to the elapsed time) and the means compared.
 */
void xlab_map_bench_dom0(grant_handle_t *h, unsigned guest)
{
    static uint8_t v1page[4096], xpage[4096];
    uint32_t gref = 0, xref = 0;
    uint64_t t_v1 = 0, t_x = 0;
    unsigned n = 0;
    int rc1, rc2;

    rc1 = xlab_xs_wait_u32("gref", &gref);
    rc2 = xlab_xs_wait_u32("xref", &xref);
    while (rc1 == 0 && rc2 == 0 && n < XLAB_MAP_BENCH_ITER) {
        rc1 = xlab_v1_map_times(guest, gref, n ? NULL : v1page,
                                XLAB_MAP_BENCH_BLOCK, times);
        t_v1 += total(XLAB_MAP_BENCH_BLOCK);
        if (rc1 == 0)
            rc2 = time_xgrant_map(h, guest, xref, n ? NULL : xpage,
                                  XLAB_MAP_BENCH_BLOCK);
        t_x += total(XLAB_MAP_BENCH_BLOCK);
        n += XLAB_MAP_BENCH_BLOCK;
    }
    xlab_report("map_bench",
                rc1 == 0 && rc2 == 0 && !memcmp(v1page, xpage, 4096),
                "both maps showed the guest's page: GNTTABOP_map_grant_ref "
                "%s, xgrant MAP %s",
                grant_strerror(rc1), grant_strerror(rc2));
    if (rc1 == 0 && rc2 == 0 && t_v1)
        printf("XLAB-BENCH map+touch+unmap 1 page x%u (alternating blocks of "
               "%u): GNTTABOP_map_grant_ref mean %llu ns, xgrant MAP mean "
               "%llu ns, ratio xgrant/v1 %.2f\n",
               n, XLAB_MAP_BENCH_BLOCK, (unsigned long long)(t_v1 / n),
               (unsigned long long)(t_x / n), (double)t_x / (double)t_v1);
    else
        printf("XLAB-BENCH map not measured: GNTTABOP_map_grant_ref %s, "
               "xgrant MAP %s\n",
               grant_strerror(rc1), grant_strerror(rc2));
    fflush(stdout);
}

/* Both grants of the same bytes; dom0 is told either way ("ERR..."). */
int xlab_bench_guest_share(grant_handle_t *h)
{
    grant_ref_t xref = 0;
    uint32_t gref = 0;
    uint8_t *page, *shared = NULL;
    int rc, rc_v1;

    rc_v1 = xlab_v1_share(0, (void **)&shared, &gref);
    rc = grant_mem_alloc(h, 1, (void **)&page);
    for (unsigned i = 0; rc == 0 && i < 4096; i++) {
        page[i] = xlab_pattern(i * 13u);
        if (rc_v1 == 0)
            shared[i] = page[i];
    }
    xlab_xs_write("gref", rc_v1 == 0 ? "%u" : "ERR%d",
                  rc_v1 == 0 ? gref : (unsigned)rc_v1);
    if (rc == 0)
        rc = grant_create_direct(h, 0, GRANT_R_READ | GRANT_R_MAP, page, 4096,
                                 &xref);
    xlab_xs_write("xref", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? xref : (unsigned)rc);
    return rc_v1 ? rc_v1 : rc;
}

void xlab_bench_guest_end(void)
{
    xlab_v1_unshare();
}
