/* SPDX-License-Identifier: MIT */
/*
 * mem-free: what xgrantd's MEM_FREE costs in the core (gcore_revoke_frames:
 * every direct entry of the domain's table checked against the freed
 * frames), with a full table (4096 entries) of small and of large grants
 * (256 frames each: the default frame quota, 1 << 20, used up), freeing
 * one page no entry names, or 64 such pages apart (a client's exit gives
 * back all its blocks in one call); medians of 200 calls.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../unit/testhost.h"
#include "bench.h"
#include "gcore.h"

#define ENTRIES 4096u
#define CALLS   200

/* Median ns of gcore_revoke_frames of nfree unnamed pages, with ENTRIES
 * entries of `span` frames each. */
static double bench_free(uint64_t span, unsigned nfree)
{
    struct gntx_create c = {.type = GNTX_CREATE_DIRECT,
                            .grantee = 2,
                            .rights = GNTX_R_READ,
                            .nr_frames = span,
                            .offset = 0,
                            .length = span * GNTX_PAGE_SIZE};
    struct gcore_range free_r[64];
    struct th_dom *d1 = th_dom_new(span + 130), *d2 = th_dom_new(16);
    uint64_t *frames = calloc(span, sizeof(*frames));
    double v[CALLS];
    struct gcore *core;

    if (!frames || gcore_create(&core) < 0 ||
        gcore_dom_add(core, 1, span + 130, d1) < 0 ||
        gcore_dom_add(core, 2, 16, d2) < 0)
        exit(1);
    for (uint64_t i = 0; i < span; i++)
        frames[i] = i;
    for (unsigned i = 0; i < nfree; i++)
        free_r[i] = (struct gcore_range){span + 1 + 2 * i, 1};
    for (unsigned i = 0; i < ENTRIES; i++)
        if (gcore_grant_create(core, 1, &c, 1, frames, span) < 0)
            exit(1);
    for (int i = 0; i < CALLS; i++) {
        double t = now_ns();

        if (gcore_revoke_frames(core, 1, free_r, nfree) != 0)
            exit(1);
        v[i] = now_ns() - t;
    }
    gcore_destroy(core);
    th_dom_free(d1);
    th_dom_free(d2);
    free(frames);
    return median(v, CALLS);
}

int main(void)
{
    static const uint64_t spans[] = {1, 16, 256};

    for (unsigned i = 0; i < sizeof(spans) / sizeof(spans[0]); i++)
        printf("mem-free: %u entries of %llu frames, MEM_FREE of one page "
               "none names: %.3f ms (median of %d)\n",
               ENTRIES, (unsigned long long)spans[i],
               bench_free(spans[i], 1) / 1e6, CALLS);
    printf("mem-free: %u entries of 256 frames, 64 pages given back at "
           "once: %.3f ms (median of %d)\n",
           ENTRIES, bench_free(256, 64) / 1e6, CALLS);
    return 0;
}
