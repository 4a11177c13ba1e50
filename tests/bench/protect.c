/* SPDX-License-Identifier: MIT */
/*
 * protect: the cost of page protection, against mprotect of the same range
 * measured in the same run (the ceiling: a protect that does no more than
 * the kernel's own page-table change).  For 1, 64 and 4096 pages per call:
 *   libgrant  grant_protect(R) + grant_protect(RWX) through xgrantd (one
 *             hypercall each, plus libgrant's own mprotect of the range);
 *   core      the same pair in the core alone (in-process, the test host);
 *   mprotect  mprotect(PROT_READ) + mprotect(PROT_READ|PROT_WRITE) of the
 *             same, touched, pages.
 * And the price of the per-access check: a 64-page MEMSET in the core with
 * the pages unprotected and protected (allowed) RW.
 * Pairs per second and ns per page (per pair), medians of RUNS samples;
 * the ratio is libgrant's time over mprotect's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "../integration/common/itest.h"
#include "bench.h"
#include "../unit/testhost.h"
#include "gcore.h"

#define RUNS      9
#define MAX_PAGES 4096u
#define PG        4096u

/* One way of doing a protect + unprotect pair of n pages; 0 or -errno. */
struct way {
    const char *name;
    int (*pair)(void *ctx, unsigned n);
    void *ctx;
};

/* Median ns per pair: each sample runs pairs for about 20 ms. */
static double measure(const struct way *w, unsigned n, int *err)
{
    double v[RUNS];
    long iters = 1;

    /* Calibrate: double until a sample takes 20 ms (or 4096 pairs). */
    for (;;) {
        double t = now_ns();

        for (long i = 0; i < iters; i++)
            *err |= w->pair(w->ctx, n);
        t = now_ns() - t;
        if (t > 20e6 || iters >= 4096)
            break;
        iters *= 2;
    }
    for (int r = 0; r < RUNS; r++) {
        double t = now_ns();

        for (long i = 0; i < iters; i++)
            *err |= w->pair(w->ctx, n);
        v[r] = (now_ns() - t) / iters;
    }
    return median(v, RUNS);
}

static int lib_pair(void *ctx, unsigned n)
{
    void **a = ctx;
    int rc = grant_protect(a[0], a[1], (size_t)n * PG, GRANT_ACC_R,
                           GRANT_ACT_DENY, 1);

    if (rc == 0)
        rc = grant_protect(a[0], a[1], (size_t)n * PG, GRANT_ACC_RWX, 0, 0);
    return rc;
}

static int mprotect_pair(void *ctx, unsigned n)
{
    if (mprotect(ctx, (size_t)n * PG, PROT_READ) < 0 ||
        mprotect(ctx, (size_t)n * PG, PROT_READ | PROT_WRITE) < 0)
        return -errno;
    return 0;
}

static int core_pair(void *ctx, unsigned n)
{
    struct gntx_protect v = {.gfn = 0, .nr = n, .access = GNTX_ACC_R};

    if (gcore_protect(ctx, 1, &v, 1) != 1)
        return -EIO;
    v.access = GNTX_ACC_RWX;
    return gcore_protect(ctx, 1, &v, 1) == 1 ? 0 : -EIO;
}

/* The per-access check: a 64-page MEMSET of the domain's own memory in
 * the core, with the pages unprotected or protected RW (checked, allowed). */
static int core_memset(void *ctx, unsigned n)
{
    struct gntx_memset v = {.dst = {.kind = GNTX_PTR_LOCAL},
                            .len = (uint64_t)n * PG};

    return gcore_memset(ctx, 1, &v, 1) == 1 ? 0 : -EIO;
}

/* ns per call of fn over iters calls. */
static double sample(const struct way *w, unsigned n, long iters, int *err)
{
    double t = now_ns();

    for (long i = 0; i < iters; i++)
        *err |= w->pair(w->ctx, n);
    return (now_ns() - t) / iters;
}

/* Samples alternate between unprotected and protected, so drift in the
 * machine's load hits both alike. */
static void bench_check(struct gcore *core, int *err)
{
    struct way w = {"memset", core_memset, core};
    struct gntx_protect v = {.gfn = 0, .nr = 64};
    double off[RUNS * 3], on[RUNS * 3], mo, mn;

    for (int r = 0; r < RUNS * 3; r++) {
        v.access = GNTX_ACC_RWX;
        *err |= gcore_protect(core, 1, &v, 1) == 1 ? 0 : -EIO;
        off[r] = sample(&w, 64, 200, err);
        v.access = GNTX_ACC_RW;
        *err |= gcore_protect(core, 1, &v, 1) == 1 ? 0 : -EIO;
        on[r] = sample(&w, 64, 200, err);
    }
    mo = median(off, RUNS * 3);
    mn = median(on, RUNS * 3);
    printf("check     64-page memset in the core: %.0f ns unprotected, "
           "%.0f ns protected rw (%+.2f ns/page for the check)\n",
           mo, mn, (mn - mo) / 64);
}

static void row(const char *name, unsigned n, double ns, double peer)
{
    printf("%-9s %5u pages: %10.0f pairs/s %9.1f ns/page", name, n, 1e9 / ns,
           ns / n);
    if (peer > 0)
        printf("   x%.3g of mprotect", ns / peer);
    printf("\n");
}

int main(void)
{
    static const unsigned sizes[] = {1, 64, MAX_PAGES};
    struct th_dom *td = th_dom_new(MAX_PAGES);
    struct gcore *core = NULL;
    grant_handle_t *dom0;
    void *mem, *lib_ctx[2];
    int err = 0;

    itest_setup(&dom0);
    if (grant_mem_alloc(dom0, MAX_PAGES, &mem) < 0 || !td ||
        gcore_create(&core) < 0 || gcore_dom_add(core, 1, MAX_PAGES, td) < 0) {
        printf("protect: setup failed\n");
        return 1;
    }
    memset(mem, 1, (size_t)MAX_PAGES * PG); /* touched, as a program's */
    lib_ctx[0] = dom0;
    lib_ctx[1] = mem;
    struct way lib = {"libgrant", lib_pair, lib_ctx};
    struct way mp = {"mprotect", mprotect_pair, mem};
    struct way cw = {"core", core_pair, core};

    printf("# protect: protect+unprotect pairs, medians of %d samples; "
           "mprotect of the same pages in this run\n",
           RUNS);
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        double m = measure(&mp, sizes[i], &err);
        double l = measure(&lib, sizes[i], &err);
        double c = measure(&cw, sizes[i], &err);

        row("mprotect", sizes[i], m, 0);
        row("libgrant", sizes[i], l, m);
        row("core", sizes[i], c, m);
    }
    bench_check(core, &err);
    gcore_destroy(core);
    th_dom_free(td);
    itest_teardown(dom0);
    if (err)
        printf("protect: a call failed (%d)\n", err);
    return itest_done() || err ? 1 : 0;
}
