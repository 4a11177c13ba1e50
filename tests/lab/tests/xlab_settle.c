/* SPDX-License-Identifier: MIT */
/*
 * xlab_settle.c: a FORCE revoke's teardown inside Xen grows with the
 * mappings it tears down, not with their square (issue 12 finding 6,
 * hv-patches 0012).  Before 0012 every mapping record was on one global
 * list: each notice looked its record up from the head and each piece of
 * settle work rescanned from the head, so tearing down N mappings cost
 * ~N^2 list steps.
 *
 * For N in XLAB_SETTLE_N, dom0 grants the guest one page (READ, MAP), the
 * guest maps it N times read-only (grant_map_batch: N mappings, N records
 * in Xen), and dom0 times its FORCE revoke of the grant, which settles
 * all N before it returns; the guest then unmaps.  Three rounds per N,
 * the fastest counts.  dom0 prints the times
 * (XLAB-SETTLE) and case settle_linear checks that 4096 mappings cost at
 * most XLAB_SETTLE_SLACK_MS more than 4x what 1024 cost: linear growth
 * (before 0012 the excess was ~1.9 s; under TCG the work itself is a few
 * ms, so a ratio alone would compare scheduling noise).  dom0 raises the
 * guest's map quota for the case (the default is 1024 mappings) and puts it
 * back after.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "xlab.h"
#include "../../../libgrant/abi/gntx_xen.h"
#include "../../../libgrant/kmod/xgrant_uapi.h"

static const unsigned settle_n[] = {256, 1024, 4096};
#define NR_SIZES (sizeof(settle_n) / sizeof(settle_n[0]))
/* Rounds per N; the fastest counts: a TCG vCPU descheduled for a while
 * in one round must not decide the case. */
#define ROUNDS 3u
/* What the largest N may cost beyond 4x the next one (linear growth). */
#define XLAB_SETTLE_SLACK_MS 100.0
#define SETTLE_MAPS_QUOTA    32768u

void xlab_settle_guest(grant_handle_t *h)
{
    struct grant_map_req *r = calloc(4096, sizeof(*r));
    void **addrs = calloc(4096, sizeof(*addrs));
    int *st = calloc(4096, sizeof(*st));
    char key[32], v[16];

    for (unsigned k = 0; k < NR_SIZES * ROUNDS; k++) {
        unsigned n = settle_n[k / ROUNDS];
        uint32_t ref = 0;
        void *base = NULL;
        int rc, got = 0;

        snprintf(key, sizeof(key), "settleref%u", k);
        rc = xlab_xs_wait_u32(key, &ref);
        if (rc == 0 && (!r || !addrs || !st))
            rc = -ENOMEM;
        for (unsigned i = 0; rc == 0 && i < n; i++)
            r[i] = (struct grant_map_req){
                .ref = ref, .len = GRANT_PAGE_SIZE, .flags = GRANT_MAP_RDONLY};
        if (rc == 0)
            rc = got = grant_map_batch(h, 0, r, n, &base);
        snprintf(key, sizeof(key), "settlemapped%u", k);
        xlab_xs_write(key, "%d", rc < 0 ? rc : got);
        snprintf(key, sizeof(key), "settlerevoked%u", k);
        xlab_xs_wait(key, v, sizeof(v));
        got = 0;
        for (unsigned i = 0; rc >= 0 && i < n; i++)
            if (r[i].status == 0)
                addrs[got++] = r[i].addr;
        if (got)
            grant_unmap_batch(h, addrs, st, (unsigned)got);
        snprintf(key, sizeof(key), "settledone%u", k);
        xlab_xs_write(key, "1");
    }
    free(r);
    free(addrs);
    free(st);
}

/* dom's usage (set 0) or its quotas (set 1) straight through /dev/xgrant
 * (libgrant has no SET_QUOTA): 0 or -errno. */
static int usage_call(int fd, struct gntx_usage *u, int set)
{
    struct gntx_xen_call c = {.op = set ? GNTX_OP_SET_QUOTA : GNTX_OP_USAGE,
                              .count = 1,
                              .args = (uintptr_t)u};

    return ioctl(fd, XGRANT_IOC_CALL, &c) < 0 ? -errno : 0;
}

static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

void xlab_settle_dom0(unsigned guest)
{
    struct gntx_usage u0 = {.dom = (uint16_t)guest}, u;
    double ms[NR_SIZES] = {0}, excess;
    int fd = xlab_dev_open(1, NULL), rc = fd < 0 ? fd : 0, ok = 1;
    int mapped[NR_SIZES] = {0};
    grant_handle_t *h = NULL;
    uint8_t *page = NULL;
    char key[32], v[16];

    if (rc == 0)
        rc = usage_call(fd, &u0, 0);
    u = u0;
    u.max_maps = SETTLE_MAPS_QUOTA;
    if (rc == 0)
        rc = usage_call(fd, &u, 1);
    /* A handle of its own: dom0's first one may be spent by now. */
    setenv("XGRANT_XEN_PAGES", "4", 1);
    if (rc == 0)
        rc = grant_open(&h, 0);
    unsetenv("XGRANT_XEN_PAGES");
    if (rc == 0)
        rc = grant_mem_alloc(h, 1, (void **)&page);
    for (unsigned k = 0; k < NR_SIZES * ROUNDS; k++) {
        unsigned s = k / ROUNDS;
        grant_ref_t ref = 0;
        double t0, t;
        int c = rc, got = 0;

        if (c == 0)
            c = grant_create_direct(h, (grant_domid_t)guest,
                                    GRANT_R_READ | GRANT_R_MAP, page,
                                    GRANT_PAGE_SIZE, &ref);
        snprintf(key, sizeof(key), "settleref%u", k);
        xlab_xs_write(key, c == 0 ? "%u" : "ERR%d", c == 0 ? ref : (unsigned)c);
        snprintf(key, sizeof(key), "settlemapped%u", k);
        if (c == 0 && xlab_xs_wait(key, v, sizeof(v)) == 0)
            got = atoi(v);
        t0 = now_ms();
        if (c == 0)
            c = grant_revoke(h, ref, GRANT_REVOKE_FORCE);
        t = now_ms() - t0;
        if (k % ROUNDS == 0 || t < ms[s])
            ms[s] = t;
        if (k % ROUNDS == 0 || got != (int)settle_n[s])
            mapped[s] = got;
        ok &= c == 0 && got == (int)settle_n[s];
        snprintf(key, sizeof(key), "settlerevoked%u", k);
        xlab_xs_write(key, "1");
        snprintf(key, sizeof(key), "settledone%u", k);
        xlab_xs_wait(key, v, sizeof(v));
    }
    if (fd >= 0) {
        usage_call(fd, &u0, 1);
        close(fd);
    }
    if (h)
        grant_close(h);
    excess = ms[NR_SIZES - 1] - 4 * ms[NR_SIZES - 2];
    printf("XLAB-SETTLE FORCE revoke of 1 page mapped N times (fastest of %u): "
           "N=%u %.1f ms, "
           "N=%u %.1f ms, N=%u %.1f ms; beyond linear growth from %u: %.1f "
           "ms\n",
           ROUNDS, settle_n[0], ms[0], settle_n[1], ms[1], settle_n[2], ms[2],
           settle_n[NR_SIZES - 2], excess);
    xlab_report("settle_linear", rc == 0 && ok && excess < XLAB_SETTLE_SLACK_MS,
                "%s; mappings %d/%d/%d (want %u/%u/%u); %u mappings took "
                "%.1f ms beyond 4x the time of %u (want < %.0f)",
                grant_strerror(rc), mapped[0], mapped[1], mapped[2],
                settle_n[0], settle_n[1], settle_n[2], settle_n[2], excess,
                settle_n[1], XLAB_SETTLE_SLACK_MS);
}
