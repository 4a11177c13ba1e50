/* SPDX-License-Identifier: MIT */
/*
 * fuzz_protect.h: the page-protection part of fuzz_core.c (included there
 * once; uses its struct fz, u8, num, domsel, hcall and CHECK).
 *
 * Commands: PROTECT batches, FAULT_RING binds, FAULT_STATS.  Checks after
 * every command of the fuzzer:
 *   - PROTECT_QUERY lists ascending, non-overlapping ranges inside the
 *     domain whose pages add up to FAULT_STATS' prot_pages and count;
 *   - no command but PROTECT itself changes a byte of a page protected
 *     without W whose action is not LOG (copies, memsets and mappings
 *     through grants, and the owner's own copies, are all refused);
 *     fault-ring writes never land there (the ring page cannot be
 *     protected).
 */
#ifndef FUZZ_PROTECT_H
#define FUZZ_PROTECT_H

#define FZ_MAX_FRAMES 16u

/* A copy of every read-only (non-LOG) page, taken before a command. */
struct fz_snap {
    bool ro[NDOM][FZ_MAX_FRAMES];
    uint8_t bytes[NDOM][FZ_MAX_FRAMES][GNTX_PAGE_SIZE];
};
static struct fz_snap fz_snap;

/* Calls fn for every range of d's protections; checks the listing. */
static void prot_ranges(struct fz *z, gntx_domid_t d,
                        void (*fn)(gntx_domid_t,
                                   const struct gntx_prot_range *))
{
    struct gntx_protect_query q = {.dom = d};
    struct gntx_prot_range out[3];
    struct gntx_fault_stats s = {.dom = d};
    uint64_t pages = 0, next = 0, ranges = 0;
    int rc;

    do {
        rc = gcore_protect_query(z->c, d, &q, out, 3);
        CHECK(rc >= 0 && rc <= 3 && q.count == (uint32_t)rc);
        for (int i = 0; i < rc; i++) {
            CHECK(out[i].gfn >= next && out[i].nr >= 1);
            CHECK(out[i].gfn + out[i].nr <= dom_frames[d]);
            CHECK(out[i].access != GNTX_ACC_RWX);
            next = out[i].gfn + out[i].nr;
            pages += out[i].nr;
            ranges++;
            if (fn)
                fn(d, &out[i]);
        }
    } while (q.cursor);
    CHECK(gcore_fault_stats(z->c, d, &s) == 0);
    CHECK(s.prot_pages == pages && s.ranges == ranges);
    CHECK(s.suffered == s.denied + s.notified + s.killed + s.logged);
}

static void snap_range(gntx_domid_t d, const struct gntx_prot_range *r)
{
    if ((r->access & GNTX_ACC_W) || r->action == GNTX_ACT_LOG)
        return;
    for (uint64_t g = r->gfn; g < r->gfn + r->nr; g++)
        fz_snap.ro[d][g] = true;
}

static void prot_snap(struct fz *z)
{
    memset(fz_snap.ro, 0, sizeof(fz_snap.ro));
    for (gntx_domid_t d = 0; d < NDOM; d++) {
        if (!z->present[d])
            continue;
        prot_ranges(z, d, snap_range);
        for (uint64_t g = 0; g < dom_frames[d]; g++)
            if (fz_snap.ro[d][g])
                memcpy(fz_snap.bytes[d][g],
                       th_dom_mem(z->mem[d], g * GNTX_PAGE_SIZE),
                       GNTX_PAGE_SIZE);
    }
}

static void prot_verify(struct fz *z)
{
    for (gntx_domid_t d = 0; d < NDOM; d++) {
        for (uint64_t g = 0; g < dom_frames[d]; g++)
            if (fz_snap.ro[d][g])
                CHECK(!memcmp(fz_snap.bytes[d][g],
                              th_dom_mem(z->mem[d], g * GNTX_PAGE_SIZE),
                              GNTX_PAGE_SIZE));
        if (z->present[d])
            prot_ranges(z, d, NULL);
    }
}

static void cmd_protect(struct fz *z, gntx_domid_t caller)
{
    struct gntx_protect v[MAX_BAT];
    unsigned n = 1 + u8(z) % MAX_BAT;
    long rc;

    memset(v, 0, sizeof(v));
    for (unsigned i = 0; i < n; i++) {
        uint8_t b = u8(z);

        v[i].gfn = b & 0x80 ? num(z) : u8(z) % 18;
        v[i].nr = b & 0x40 ? num(z) : u8(z) % 6;
        v[i].access = u8(z) % 9;
        v[i].action = u8(z) % 5;
        v[i].flags = (b & 0x3f) == 0x3f;
        v[i].cookie = num(z);
        v[i].status = 0x7777;
    }
    rc = hcall(z, caller, GNTX_OP_PROTECT, v, n, NULL, 0);
    for (unsigned i = 0; rc >= 0 && i < n; i++)
        CHECK(v[i].status <= 0);
}

static void cmd_fault(struct fz *z, gntx_domid_t caller)
{
    uint8_t b = u8(z);

    if (b & 1) {
        struct gntx_fault_ring r = {.gfn = b & 2 ? GNTX_FAULT_RING_NONE
                                                 : u8(z) % 18,
                                    .port = u8(z) % 3,
                                    .flags = (b & 0x1c) == 0x1c};

        hcall(z, caller, GNTX_OP_FAULT_RING, &r, 1, NULL, 0);
    } else {
        struct gntx_fault_stats s = {.dom = domsel(z)};

        hcall(z, caller, GNTX_OP_FAULT_STATS, &s, 1, NULL, 0);
    }
}

#endif /* FUZZ_PROTECT_H */
