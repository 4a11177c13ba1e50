/* SPDX-License-Identifier: MIT */
/*
 * test_protect.c: page protection (protect.c, protect_check.c,
 * protect_query.c): GNTX_OP_PROTECT, the checks copy/memset/map make, the
 * actions, the fault ring, PROTECT_QUERY and FAULT_STATS.
 */
#include "tests/unit/tutil.h"

#define RING_GFN  10u
#define RING_PORT 5u

static int prot(struct fx *f, gntx_domid_t caller, uint64_t gfn, uint64_t nr,
                uint8_t access, uint8_t action, uint64_t cookie)
{
    struct gntx_protect v = {.gfn = gfn,
                             .nr = nr,
                             .cookie = cookie,
                             .access = access,
                             .action = action,
                             .status = 1};
    int n = BAL(gcore_protect(f->c, caller, &v, 1));

    assert_int_equal(n, v.status == 0);
    return v.status;
}

static int ring(struct fx *f, gntx_domid_t caller, uint64_t gfn)
{
    struct gntx_fault_ring r = {.gfn = gfn, .port = RING_PORT};

    return BAL(gcore_fault_ring(f->c, caller, &r));
}

static struct gntx_fault_ring_page *ring_page(struct fx *f, gntx_domid_t d)
{
    return (void *)th_dom_mem(f->d[d], (uint64_t)RING_GFN * PG);
}

static struct gntx_fault_stats stats(struct fx *f, gntx_domid_t dom)
{
    struct gntx_fault_stats s = {.dom = dom};

    assert_int_equal(BAL(gcore_fault_stats(f->c, 0, &s)), 0);
    return s;
}

static void protect_args(void **state)
{
    struct fx *f = *state;
    struct gntx_protect v[3] = {
        {.gfn = 0, .nr = 1, .access = GNTX_ACC_R},
        {.gfn = 0, .nr = 1, .access = GNTX_ACC_W},
        {.gfn = 1, .nr = 1, .access = GNTX_ACC_NONE},
    };

    assert_int_equal(prot(f, 1, 0, 0, GNTX_ACC_R, 0, 0), -GNTX_EINVAL);
    assert_int_equal(prot(f, 1, 0, 1, GNTX_ACC_W, 0, 0), -GNTX_EINVAL);
    assert_int_equal(prot(f, 1, 0, 1, GNTX_ACC_X, 0, 0), -GNTX_EINVAL);
    assert_int_equal(prot(f, 1, 0, 1, 8, 0, 0), -GNTX_EINVAL);
    assert_int_equal(prot(f, 1, 0, 1, GNTX_ACC_R, GNTX_ACT_MAX + 1, 0),
                     -GNTX_EINVAL);
    assert_int_equal(prot(f, 1, UINT64_MAX, 2, GNTX_ACC_R, 0, 0),
                     -GNTX_EOVERFLOW);
    assert_int_equal(prot(f, 1, FX_FRAMES - 1, 2, GNTX_ACC_R, 0, 0),
                     -GNTX_EFAULT);
    assert_int_equal(prot(f, 1, FX_FRAMES, 1, GNTX_ACC_R, 0, 0), -GNTX_EFAULT);
    assert_int_equal(prot(f, 99, 0, 1, GNTX_ACC_R, 0, 0), -GNTX_ESRCH);
    /* Per element: the bad one fails alone. */
    assert_int_equal(BAL(gcore_protect(f->c, 1, v, 3)), 2);
    assert_int_equal(v[0].status, 0);
    assert_int_equal(v[1].status, -GNTX_EINVAL);
    assert_int_equal(v[2].status, 0);
    assert_int_equal(stats(f, 1).prot_pages, 2);
    assert_int_equal(stats(f, 1).ranges, 2);
    /* Flags must be 0; GNTX_DOMID_SELF is not a thing here: own only. */
    v[0].flags = 1;
    assert_int_equal(BAL(gcore_protect(f->c, 1, v, 1)), 0);
    assert_int_equal(v[0].status, -GNTX_EINVAL);
}

static void copy_readonly(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 3, 0, PG);
    uint8_t *page = th_dom_mem(f->d[1], 3 * PG);

    memset(page, 0x5a, PG);
    memset(th_dom_mem(f->d[2], 0), 0x11, PG);
    assert_int_equal(prot(f, 1, 3, 1, GNTX_ACC_R, GNTX_ACT_DENY, 7), 0);
    /* Whatever the grant says, a RO page is not written... */
    assert_int_equal(fx_copy(f, 2, P_LOCAL(0), P_GRANT(1, r, 10), 5),
                     -GNTX_EACCES);
    assert_int_equal(fx_memset(f, 2, P_GRANT(1, r, 0), PG, 0), -GNTX_EACCES);
    assert_int_equal(page[10], 0x5a);
    assert_int_equal(page[0], 0x5a);
    /* ...but it is read. */
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, r, 0), P_LOCAL(PG), 8), 0);
    assert_int_equal(*th_dom_mem(f->d[2], PG), 0x5a);
    /* NONE: no read either. */
    assert_int_equal(prot(f, 1, 3, 1, GNTX_ACC_NONE, GNTX_ACT_DENY, 7), 0);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, r, 0), P_LOCAL(PG), 8),
                     -GNTX_EACCES);
    /* A zero-length use touches no page. */
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, r, 0), P_LOCAL(PG), 0), 0);
    /* Lifted: everything again, and nothing listed. */
    assert_int_equal(prot(f, 1, 3, 1, GNTX_ACC_RWX, GNTX_ACT_DENY, 0), 0);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(0), P_GRANT(1, r, 10), 5), 0);
    assert_int_equal(page[10], 0x11);
    assert_int_equal(stats(f, 1).prot_pages, 0);
    assert_int_equal(stats(f, 1).denied, 3);
    assert_int_equal(stats(f, 2).caused, 3);
    assert_int_equal(stats(f, 2).suffered, 0);
    assert_int_equal(th_fault_notifies(), 0);
}

static void notify_record(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 3, 0, 2 * PG);
    struct gntx_fault_ring_page *rp = ring_page(f, 1);
    const struct gntx_fault_rec *rec = &rp->rec[0];

    assert_int_equal(ring(f, 1, RING_GFN), 0);
    assert_int_equal(rp->slots, GNTX_FAULT_RING_SLOTS);
    assert_int_equal(prot(f, 1, 4, 1, GNTX_ACC_R, GNTX_ACT_NOTIFY, 0xabc), 0);
    /* The element starts on page 3 (free) and runs into page 4. */
    assert_int_equal(fx_copy(f, 2, P_LOCAL(0), P_GRANT(1, r, PG - 4), 8),
                     -GNTX_EACCES);
    assert_int_equal(rp->prod, 1);
    assert_int_equal(rec->dom, 2);
    assert_int_equal(rec->access, GNTX_ACC_W);
    assert_int_equal(rec->action, GNTX_ACT_NOTIFY);
    assert_int_equal(rec->via, GNTX_VIA_COPY);
    assert_int_equal(rec->addr, 4 * PG);
    assert_int_equal(rec->cookie, 0xabc);
    assert_int_equal(rec->seq, 1);
    assert_int_equal(th_fault_notifies(), 1);
    assert_int_equal(th_fault_last_port(), RING_PORT);
    /* Starting inside the page: the byte address is exact. */
    assert_int_equal(fx_memset(f, 2, P_GRANT(1, r, PG + 100), 4, 0),
                     -GNTX_EACCES);
    assert_int_equal(rp->rec[1].addr, 4 * PG + 100);
    assert_int_equal(stats(f, 1).notified, 2);
}

static void ring_full(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 3, 0, PG);
    struct gntx_fault_ring_page *rp = ring_page(f, 1);

    /* No ring: counted as dropped, no signal. */
    assert_int_equal(prot(f, 1, 3, 1, GNTX_ACC_R, GNTX_ACT_LOG, 1), 0);
    assert_int_equal(fx_memset(f, 2, P_GRANT(1, r, 0), 1, 0), 0);
    assert_int_equal(stats(f, 1).dropped, 1);
    assert_int_equal(th_fault_notifies(), 0);
    assert_int_equal(ring(f, 1, RING_GFN), 0);
    for (unsigned i = 0; i < GNTX_FAULT_RING_SLOTS + 3; i++)
        assert_int_equal(fx_memset(f, 2, P_GRANT(1, r, 0), 1, 0), 0);
    assert_int_equal(rp->prod, GNTX_FAULT_RING_SLOTS);
    assert_int_equal(rp->dropped, 3);
    assert_int_equal(stats(f, 1).dropped, 4);
    assert_int_equal(stats(f, 1).logged, GNTX_FAULT_RING_SLOTS + 4);
    /* The consumer frees two slots: two more records go in. */
    rp->cons = 2;
    assert_int_equal(fx_memset(f, 2, P_GRANT(1, r, 0), 1, 0), 0);
    assert_int_equal(rp->prod, GNTX_FAULT_RING_SLOTS + 1);
    /* A hostile cons (ahead of prod) only reads as a full ring. */
    rp->cons = 12345;
    assert_int_equal(fx_memset(f, 2, P_GRANT(1, r, 0), 1, 0), 0);
    assert_int_equal(rp->prod, GNTX_FAULT_RING_SLOTS + 1);
}

static void ring_args(void **state)
{
    struct fx *f = *state;
    struct gntx_fault_ring r = {.gfn = 1, .port = 0};

    assert_int_equal(BAL(gcore_fault_ring(f->c, 1, &r)), -GNTX_EINVAL);
    r.port = 3;
    r.flags = 1;
    assert_int_equal(BAL(gcore_fault_ring(f->c, 1, &r)), -GNTX_EINVAL);
    assert_int_equal(ring(f, 1, FX_FRAMES), -GNTX_EFAULT);
    assert_int_equal(prot(f, 1, RING_GFN, 1, GNTX_ACC_R, 0, 0), 0);
    assert_int_equal(ring(f, 1, RING_GFN), -GNTX_EBUSY);
    assert_int_equal(prot(f, 1, RING_GFN, 1, GNTX_ACC_RWX, 0, 0), 0);
    assert_int_equal(ring(f, 1, RING_GFN), 0);
    /* The ring page cannot be protected while bound; lifting is fine. */
    assert_int_equal(prot(f, 1, RING_GFN - 1, 3, GNTX_ACC_R, 0, 0),
                     -GNTX_EBUSY);
    assert_int_equal(prot(f, 1, RING_GFN, 1, GNTX_ACC_RWX, 0, 0), 0);
    assert_int_equal(ring(f, 1, GNTX_FAULT_RING_NONE), 0);
    assert_int_equal(prot(f, 1, RING_GFN - 1, 3, GNTX_ACC_R, 0, 0), 0);
    assert_int_equal(ring(f, 99, RING_GFN), -GNTX_ESRCH);
}

static void kill_action(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r2 = fx_direct_ok(f, 1, 2, R_RW, 3, 0, PG);
    gntx_ref_t r0 = fx_direct_ok(f, 1, 0, R_RW, 3, 0, PG);

    assert_int_equal(ring(f, 1, RING_GFN), 0);
    assert_int_equal(prot(f, 1, 3, 1, GNTX_ACC_NONE, GNTX_ACT_KILL, 9), 0);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, r2, 0), P_LOCAL(0), 1),
                     -GNTX_EACCES);
    assert_int_equal(th_kills(), 1);
    assert_ptr_equal(th_kill_last(), f->d[2]);
    assert_int_equal(ring_page(f, 1)->rec[0].action, GNTX_ACT_KILL);
    assert_int_equal(ring_page(f, 1)->rec[0].access, GNTX_ACC_R);
    /* The control domain is never killed: denied and recorded. */
    assert_int_equal(fx_copy(f, 0, P_GRANT(1, r0, 0), P_LOCAL(0), 1),
                     -GNTX_EACCES);
    assert_int_equal(th_kills(), 1);
    assert_int_equal(ring_page(f, 1)->prod, 2);
    assert_int_equal(ring_page(f, 1)->rec[1].dom, 0);
    assert_int_equal(ring_page(f, 1)->rec[1].action, GNTX_ACT_NOTIFY);
    assert_int_equal(stats(f, 1).killed, 1);
    assert_int_equal(stats(f, 1).notified, 1);
}

/*
 * A domain that serves others is never destroyed by one granter's KILL: one
 * mapping a third domain's memory, or one the host calls privileged
 * (gh_dom_exempt).  It gets EACCES and the owner a NOTIFY record.
 */
static void kill_spares_servers(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r1 = fx_direct_ok(f, 1, 2, R_RW | GNTX_R_MAP, 3, 0, 2 * PG);
    gntx_ref_t r3 = fx_direct_ok(f, 3, 2, R_RW | GNTX_R_MAP, 5, 0, PG);
    gntx_ref_t r4 = fx_direct_ok(f, 1, 4, R_RW, 3, 0, PG);
    uint64_t out[2];
    uint32_t h1, h3;

    assert_int_equal(ring(f, 1, RING_GFN), 0);
    assert_int_equal(prot(f, 1, 3, 1, GNTX_ACC_NONE, GNTX_ACT_KILL, 9), 0);
    /* Domain 2 maps domain 3's page: it serves 3 as well as 1. */
    assert_int_equal(fx_map(f, 2, 3, r3, 0, PG, 0, out, 1, &h3, NULL), 0);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, r1, 0), P_LOCAL(0), 1),
                     -GNTX_EACCES);
    assert_int_equal(th_kills(), 0);
    assert_int_equal(ring_page(f, 1)->prod, 1);
    assert_int_equal(ring_page(f, 1)->rec[0].dom, 2);
    assert_int_equal(ring_page(f, 1)->rec[0].action, GNTX_ACT_NOTIFY);
    /* A mapping of the owner's own memory serves only the owner. */
    assert_int_equal(fx_unmap(f, 2, h3), 0);
    assert_int_equal(fx_map(f, 2, 1, r1, PG, PG, 0, out, 1, &h1, NULL), 0);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, r1, 0), P_LOCAL(0), 1),
                     -GNTX_EACCES);
    assert_int_equal(th_kills(), 1);
    assert_ptr_equal(th_kill_last(), f->d[2]);
    assert_int_equal(ring_page(f, 1)->rec[1].action, GNTX_ACT_KILL);
    /* The host's word: domain 4 is privileged or a backend. */
    th_set_exempt(f->d[4]);
    assert_int_equal(fx_copy(f, 4, P_GRANT(1, r4, 0), P_LOCAL(0), 1),
                     -GNTX_EACCES);
    assert_int_equal(th_kills(), 1);
    assert_int_equal(ring_page(f, 1)->rec[2].dom, 4);
    assert_int_equal(ring_page(f, 1)->rec[2].action, GNTX_ACT_NOTIFY);
    assert_int_equal(stats(f, 1).killed, 1);
    assert_int_equal(stats(f, 1).notified, 2);
}

static void own_copies(void **state)
{
    struct fx *f = *state;

    assert_int_equal(ring(f, 1, RING_GFN), 0);
    assert_int_equal(prot(f, 1, 2, 2, GNTX_ACC_R, GNTX_ACT_NOTIFY, 4), 0);
    /* The hypervisor's copies for the owner obey it too. */
    assert_int_equal(fx_copy(f, 1, P_LOCAL(0), P_LOCAL(3 * PG + 1), 1),
                     -GNTX_EACCES);
    assert_int_equal(ring_page(f, 1)->rec[0].dom, 1);
    assert_int_equal(ring_page(f, 1)->rec[0].via, GNTX_VIA_SELF);
    assert_int_equal(ring_page(f, 1)->rec[0].addr, 3 * PG + 1);
    assert_int_equal(fx_copy(f, 1, P_LOCAL(2 * PG), P_LOCAL(0), 2 * PG), 0);
    assert_int_equal(stats(f, 1).caused, 1);
    assert_int_equal(stats(f, 1).suffered, 1);
}

static void severity(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 3, 0, 3 * PG);

    assert_int_equal(ring(f, 1, RING_GFN), 0);
    assert_int_equal(prot(f, 1, 3, 1, GNTX_ACC_R, GNTX_ACT_LOG, 1), 0);
    assert_int_equal(prot(f, 1, 4, 1, GNTX_ACC_R, GNTX_ACT_DENY, 2), 0);
    assert_int_equal(prot(f, 1, 5, 1, GNTX_ACC_R, GNTX_ACT_NOTIFY, 3), 0);
    /* LOG alone: allowed and recorded. */
    assert_int_equal(fx_memset(f, 2, P_GRANT(1, r, 0), PG, 0x77), 0);
    assert_int_equal(*th_dom_mem(f->d[1], 3 * PG), 0x77);
    /* LOG + DENY: denied, not recorded. */
    assert_int_equal(fx_memset(f, 2, P_GRANT(1, r, 0), 2 * PG, 0),
                     -GNTX_EACCES);
    assert_int_equal(ring_page(f, 1)->prod, 1);
    /* All three: NOTIFY wins and names its page. */
    assert_int_equal(fx_memset(f, 2, P_GRANT(1, r, 0), 3 * PG, 0),
                     -GNTX_EACCES);
    assert_int_equal(ring_page(f, 1)->prod, 2);
    assert_int_equal(ring_page(f, 1)->rec[1].cookie, 3);
    assert_int_equal(ring_page(f, 1)->rec[1].addr, 5 * PG);
    assert_int_equal(*th_dom_mem(f->d[1], 3 * PG), 0x77);
}

static void map_checks(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW | GNTX_R_MAP, 3, 0, 2 * PG);
    const struct th_restrict *t;
    uint64_t out[2];
    uint32_t hw, hr;

    assert_int_equal(prot(f, 1, 4, 1, GNTX_ACC_R, GNTX_ACT_DENY, 0), 0);
    assert_int_equal(fx_map(f, 2, 1, r, 0, 2 * PG, 0, out, 2, NULL, NULL),
                     -GNTX_EACCES);
    assert_int_equal(
        fx_map(f, 2, 1, r, 0, 2 * PG, GNTX_MAP_RDONLY, out, 2, &hr, NULL), 0);
    assert_int_equal(prot(f, 1, 4, 1, GNTX_ACC_RWX, 0, 0), 0);
    assert_int_equal(fx_map(f, 2, 1, r, 0, 2 * PG, 0, out, 2, &hw, NULL), 0);
    assert_int_equal(th_restrict_count(), 0);
    /* Page 4 becomes RO: only the writable mapping is downgraded. */
    assert_int_equal(prot(f, 1, 4, 1, GNTX_ACC_R, GNTX_ACT_DENY, 0), 0);
    assert_int_equal(th_restrict_count(), 1);
    t = th_restrict_at(0);
    assert_ptr_equal(t->mapper_cookie, f->d[2]);
    assert_int_equal(t->owner, 1);
    assert_int_equal(t->handle, hw);
    assert_int_equal(t->first, 1);
    assert_int_equal(t->npages, 1);
    assert_int_equal(t->access, GNTX_ACC_R);
    /* Both pages become NONE: both mappings lose them. */
    assert_int_equal(prot(f, 1, 3, 2, GNTX_ACC_NONE, GNTX_ACT_DENY, 0), 0);
    assert_int_equal(th_restrict_count(), 3);
    for (size_t i = 1; i < 3; i++) {
        t = th_restrict_at(i);
        assert_int_equal(t->first, 0);
        assert_int_equal(t->npages, 2);
        assert_int_equal(t->access, GNTX_ACC_NONE);
        assert_true(t->handle == hw || t->handle == hr);
    }
    /* Loosening tells nobody; the mappings stay and unmap as usual. */
    assert_int_equal(prot(f, 1, 3, 2, GNTX_ACC_RWX, 0, 0), 0);
    assert_int_equal(th_restrict_count(), 3);
    assert_int_equal(fx_unmap(f, 2, hw), 0);
    assert_int_equal(fx_unmap(f, 2, hr), 0);
    assert_int_equal(prot(f, 1, 3, 2, GNTX_ACC_NONE, GNTX_ACT_DENY, 0), 0);
    assert_int_equal(th_restrict_count(), 3);
}

static int pquery(struct fx *f, gntx_domid_t caller, gntx_domid_t dom,
                  uint64_t *cursor, struct gntx_prot_range *out, uint64_t cap)
{
    struct gntx_protect_query q = {.dom = dom, .cursor = *cursor};
    int rc = BAL(gcore_protect_query(f->c, caller, &q, out, cap));

    if (rc >= 0)
        assert_int_equal(q.count, rc);
    *cursor = q.cursor;
    return rc;
}

static void query_ranges(void **state)
{
    struct fx *f = *state;
    struct gntx_prot_range out[4];
    uint64_t cur = 0;

    assert_int_equal(pquery(f, 1, GNTX_DOMID_SELF, &cur, out, 4), 0);
    assert_int_equal(prot(f, 1, 2, 4, GNTX_ACC_R, GNTX_ACT_LOG, 5), 0);
    assert_int_equal(prot(f, 1, 6, 2, GNTX_ACC_R, GNTX_ACT_LOG, 5), 0);
    assert_int_equal(prot(f, 1, 9, 1, GNTX_ACC_NONE, GNTX_ACT_KILL, 6), 0);
    assert_int_equal(prot(f, 1, 12, 4, GNTX_ACC_RX, GNTX_ACT_NOTIFY, 7), 0);
    assert_int_equal(prot(f, 1, 13, 1, GNTX_ACC_RWX, 0, 0), 0);
    /* Same triple side by side: one range.  Cursor paging. */
    assert_int_equal(pquery(f, 1, 1, &cur, out, 2), 2);
    assert_int_equal(out[0].gfn, 2);
    assert_int_equal(out[0].nr, 6);
    assert_int_equal(out[0].cookie, 5);
    assert_int_equal(out[1].gfn, 9);
    assert_int_equal(out[1].action, GNTX_ACT_KILL);
    assert_int_equal(cur, 12);
    assert_int_equal(pquery(f, 0, 1, &cur, out, 4), 2);
    assert_int_equal(out[0].gfn, 12);
    assert_int_equal(out[0].nr, 1);
    assert_int_equal(out[0].access, GNTX_ACC_RX);
    assert_int_equal(out[1].gfn, 14);
    assert_int_equal(out[1].nr, 2);
    assert_int_equal(cur, 0);
    assert_int_equal(stats(f, 1).ranges, 4);
    assert_int_equal(stats(f, 1).prot_pages, 10);
    /* No room at all; someone else's; nobody. */
    assert_int_equal(pquery(f, 1, 1, &cur, out, 0), -GNTX_ENOSPC);
    cur = 0;
    assert_int_equal(pquery(f, 2, 1, &cur, out, 4), -GNTX_EPERM);
    assert_int_equal(pquery(f, 0, 77, &cur, out, 4), -GNTX_ESRCH);
    struct gntx_fault_stats s = {.dom = 1};
    assert_int_equal(BAL(gcore_fault_stats(f->c, 2, &s)), -GNTX_EPERM);
}

static void classes_and_memory(void **state)
{
    struct fx *f = *state;
    struct th_dom *big = th_dom_new(GNTX_MAX_PROT_CLASSES + 2);
    uint64_t cur = 0;
    struct gntx_prot_range out[1];

    assert_non_null(big);
    assert_int_equal(
        BAL(gcore_dom_add(f->c, 5, GNTX_MAX_PROT_CLASSES + 2, big)), 0);
    for (uint64_t g = 0; g < GNTX_MAX_PROT_CLASSES; g++)
        assert_int_equal(prot(f, 5, g, 1, GNTX_ACC_R, 0, g), 0);
    assert_int_equal(
        prot(f, 5, GNTX_MAX_PROT_CLASSES, 1, GNTX_ACC_R, 0, 1u << 20),
        -GNTX_ENOSPC);
    /* A triple already in use costs nothing; a freed class is reused. */
    assert_int_equal(prot(f, 5, GNTX_MAX_PROT_CLASSES, 1, GNTX_ACC_R, 0, 7), 0);
    assert_int_equal(prot(f, 5, 3, 1, GNTX_ACC_RWX, 0, 0), 0);
    assert_int_equal(
        prot(f, 5, GNTX_MAX_PROT_CLASSES + 1, 1, GNTX_ACC_R, 0, 1u << 20), 0);
    assert_int_equal(pquery(f, 5, 5, &cur, out, 1), 1);
    gcore_dom_remove(f->c, 5);
    th_dom_free(big);
    /* Allocation failure: the element fails whole. */
    th_fail_alloc_after(0);
    assert_int_equal(prot(f, 3, 0, 4, GNTX_ACC_R, 0, 0), -GNTX_ENOSPC);
    th_fail_alloc_after(1);
    assert_int_equal(prot(f, 3, 0, 4, GNTX_ACC_R, 0, 0), -GNTX_ENOSPC);
    th_fail_alloc_after(-1);
    assert_int_equal(stats(f, 3).prot_pages, 0);
}

static void via_hypercall(void **state)
{
    struct fx *f = *state;
    struct gntx_protect v = {.gfn = 1, .nr = 2, .access = GNTX_ACC_R};
    struct gntx_protect_query q = {.dom = GNTX_DOMID_SELF};
    struct gntx_prot_range out[2];
    struct gntx_fault_stats s = {.dom = GNTX_DOMID_SELF};
    struct gntx_fault_ring r = {.gfn = RING_GFN, .port = 1};

    assert_int_equal(
        BAL(gcore_hypercall(f->c, 1, GNTX_OP_PROTECT, &v, 1, NULL, 0)), 1);
    assert_int_equal(
        BAL(gcore_hypercall(f->c, 1, GNTX_OP_PROTECT_QUERY, &q, 1, out, 2)), 1);
    assert_int_equal(out[0].nr, 2);
    assert_int_equal(
        BAL(gcore_hypercall(f->c, 1, GNTX_OP_FAULT_RING, &r, 1, NULL, 0)), 0);
    assert_int_equal(
        BAL(gcore_hypercall(f->c, 1, GNTX_OP_FAULT_STATS, &s, 1, NULL, 0)), 0);
    assert_int_equal(s.prot_pages, 2);
    assert_int_equal(
        BAL(gcore_hypercall(f->c, 1, GNTX_OP_FAULT_STATS, &s, 2, NULL, 0)),
        -GNTX_EINVAL);
}

static int cpu(struct fx *f, gntx_domid_t who, gntx_domid_t owner, uint64_t gfn,
               unsigned access)
{
    return BAL(gcore_prot_cpu_check(f->c, who, owner, gfn, access));
}

/* gcore_prot_cpu_check: a host's CPU mapping (Xen's PV PTE check). */
static void cpu_check(void **state)
{
    struct fx *f = *state;
    struct gntx_fault_ring_page *rp = ring_page(f, 1);

    /* Nothing protected yet: every access passes. */
    assert_int_equal(cpu(f, 1, 1, 4, GNTX_ACC_W), 0);
    assert_int_equal(ring(f, 1, RING_GFN), 0);
    assert_int_equal(prot(f, 1, 4, 1, GNTX_ACC_R, GNTX_ACT_NOTIFY, 0x77), 0);
    assert_int_equal(prot(f, 1, 6, 1, GNTX_ACC_R, GNTX_ACT_DENY, 0), 0);
    assert_int_equal(cpu(f, 1, 1, 4, GNTX_ACC_W), -GNTX_EACCES);
    assert_int_equal(rp->prod, 1);
    assert_int_equal(rp->rec[0].dom, 1);
    assert_int_equal(rp->rec[0].access, GNTX_ACC_W);
    assert_int_equal(rp->rec[0].via, GNTX_VIA_CPU);
    assert_int_equal(rp->rec[0].addr, 4 * PG);
    assert_int_equal(rp->rec[0].cookie, 0x77);
    assert_int_equal(th_fault_notifies(), 1);
    /* Another domain's writable mapping of it (a PV foreign map). */
    assert_int_equal(cpu(f, 2, 1, 4, GNTX_ACC_W), -GNTX_EACCES);
    assert_int_equal(rp->rec[1].dom, 2);
    /* Reads, other pages, other owners and foreign frames pass. */
    assert_int_equal(cpu(f, 1, 1, 4, GNTX_ACC_R), 0);
    assert_int_equal(cpu(f, 1, 1, 5, GNTX_ACC_W), 0);
    assert_int_equal(cpu(f, 1, 2, 4, GNTX_ACC_W), 0);
    assert_int_equal(cpu(f, 1, 1, FX_FRAMES, GNTX_ACC_W), 0);
    assert_int_equal(cpu(f, 1, 99, 4, GNTX_ACC_W), 0);
    /* DENY refuses without a record; an unknown accessor too. */
    assert_int_equal(cpu(f, 1, 1, 6, GNTX_ACC_W), -GNTX_EACCES);
    assert_int_equal(cpu(f, 99, 1, 4, GNTX_ACC_W), -GNTX_EACCES);
    assert_int_equal(cpu(f, 99, 1, 4, GNTX_ACC_R), 0);
    assert_int_equal(rp->prod, 2);
    assert_int_equal(stats(f, 1).caused, 2);
    assert_int_equal(stats(f, 1).notified, 2);
    assert_int_equal(stats(f, 1).denied, 1);
    /* Lifted: the writable mapping is allowed again. */
    assert_int_equal(prot(f, 1, 4, 1, GNTX_ACC_RWX, GNTX_ACT_DENY, 0), 0);
    assert_int_equal(cpu(f, 1, 1, 4, GNTX_ACC_W), 0);
}

/* A domain with memory the host does not back (only PROTECT touches it). */
#define BIG_DOM 6u
static void big_dom(struct fx *f, uint64_t nr_frames)
{
    assert_int_equal(BAL(gcore_dom_add(f->c, BIG_DOM, nr_frames, f->d[4])), 0);
}

/* The bookkeeping follows the ranges, never the size of the memory: two
 * ranges at both ends of 2^40 frames cost a few small allocations (the old
 * page array wanted 2 TiB and answered ENOSPC). */
static void sparse_bookkeeping(void **state)
{
    struct fx *f = *state;
    const uint64_t top = 1ull << 40;
    struct gntx_prot_range out[3];
    uint64_t cur = 0;
    long before;

    big_dom(f, top);
    before = th_allocs_live();
    assert_int_equal(prot(f, BIG_DOM, 5, 1, GNTX_ACC_R, 0, 1), 0);
    assert_int_equal(prot(f, BIG_DOM, top - 1, 1, GNTX_ACC_NONE, 0, 2), 0);
    assert_true(th_allocs_live() - before <= 3); /* state, classes, ranges */
    assert_int_equal(pquery(f, 0, BIG_DOM, &cur, out, 3), 2);
    assert_int_equal(out[1].gfn, top - 1);
    assert_int_equal(stats(f, BIG_DOM).prot_pages, 2);
    assert_int_equal(cpu(f, 0, BIG_DOM, top - 1, GNTX_ACC_R), -GNTX_EACCES);
    assert_int_equal(cpu(f, 0, BIG_DOM, top - 2, GNTX_ACC_R), 0);
}

/* One call does at most GNTX_DEFAULT_CALL_PAGES of work: an element past
 * it comes back -EAGAIN moved past what applied, the next one unchanged;
 * resubmitting finishes it. */
static void budget_continuation(void **state)
{
    struct fx *f = *state;
    const uint64_t all = 4ull * GNTX_DEFAULT_CALL_PAGES;
    struct gntx_protect v[2] = {
        {.gfn = 0, .nr = all, .access = GNTX_ACC_NONE, .cookie = 3},
        {.gfn = 7, .nr = 1, .access = GNTX_ACC_R, .cookie = 4}};
    struct gntx_prot_range out[2];
    uint64_t cur = 0;
    int rounds = 1;

    big_dom(f, all);
    assert_int_equal(BAL(gcore_protect(f->c, BIG_DOM, v, 2)), 0);
    assert_int_equal(v[0].status, -GNTX_EAGAIN);
    assert_int_equal(v[0].gfn, GNTX_DEFAULT_CALL_PAGES);
    assert_int_equal(v[0].nr, all - GNTX_DEFAULT_CALL_PAGES);
    assert_int_equal(v[1].status, -GNTX_EAGAIN);
    assert_int_equal(v[1].gfn, 7);
    assert_int_equal(stats(f, BIG_DOM).prot_pages, GNTX_DEFAULT_CALL_PAGES);
    while (v[1].status == -GNTX_EAGAIN && rounds++ < 10) {
        struct gntx_protect *at = v[0].status ? v : v + 1;

        BAL(gcore_protect(f->c, BIG_DOM, at, v[0].status ? 2 : 1));
    }
    assert_int_equal(rounds, 5);
    assert_int_equal(v[0].status, 0);
    assert_int_equal(v[1].status, 0);
    assert_int_equal(pquery(f, 0, BIG_DOM, &cur, out, 2), 2);
    assert_int_equal(out[0].gfn, 0);
    assert_int_equal(out[0].nr, 7);
    assert_int_equal(out[1].gfn, 7);
    assert_int_equal(out[1].nr, 1);
    assert_int_equal(cur, 8);
    assert_int_equal(stats(f, BIG_DOM).ranges, 3);
}

/* A host budget: every chunk downgrades the mappings it covers before the
 * call returns; the budget counts that work. */
static void budget_chunks_downgrade(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, GNTX_R_ALL, 0, 0, 8 * PG);
    struct gntx_protect v = {.gfn = 0, .nr = 8, .access = GNTX_ACC_R};
    uint64_t out[8];
    uint32_t h;
    int calls = 0;

    assert_int_equal(fx_map(f, 2, 1, r, 0, 8 * PG, 0, out, 8, &h, NULL), 0);
    gcore_set_call_pages(f->c, 3);
    do {
        BAL(gcore_protect(f->c, 1, &v, 1));
        calls++;
    } while (v.status == -GNTX_EAGAIN && calls < 20);
    assert_int_equal(v.status, 0);
    assert_int_equal(calls, 3); /* 3 pages a call at most */
    assert_int_equal(th_restrict_count(), (size_t)calls);
    for (size_t i = 0, at = 0; i < th_restrict_count(); i++) {
        assert_int_equal(th_restrict_at(i)->first, at);
        assert_int_equal(th_restrict_at(i)->access, GNTX_ACC_R);
        at += th_restrict_at(i)->npages;
        if (i + 1 == th_restrict_count())
            assert_int_equal(at, 8);
    }
    gcore_set_call_pages(f->c, 0);
    assert_int_equal(fx_unmap(f, 2, h), 0);
}

/* At most GNTX_MAX_PROT_RANGES ranges: ENOSPC past it, with nothing
 * changed; an element that merges ranges still applies. */
static void range_limit(void **state)
{
    struct fx *f = *state;
    static struct gntx_protect v[GNTX_MAX_BATCH];
    const uint64_t n = GNTX_MAX_PROT_RANGES;

    big_dom(f, 2 * n + 2);
    for (uint64_t at = 0; at < n; at += GNTX_MAX_BATCH) {
        for (unsigned i = 0; i < GNTX_MAX_BATCH; i++)
            v[i] = (struct gntx_protect){.gfn = 2 * (at + i), .nr = 1};
        assert_int_equal(BAL(gcore_protect(f->c, BIG_DOM, v, GNTX_MAX_BATCH)),
                         GNTX_MAX_BATCH);
    }
    assert_int_equal(stats(f, BIG_DOM).ranges, n);
    assert_int_equal(prot(f, BIG_DOM, 2 * n, 1, GNTX_ACC_NONE, 0, 0),
                     -GNTX_ENOSPC);
    assert_int_equal(prot(f, BIG_DOM, 2 * n, 1, GNTX_ACC_R, 0, 9),
                     -GNTX_ENOSPC);
    assert_int_equal(stats(f, BIG_DOM).prot_pages, n);
    /* Filling a gap joins two ranges; splitting one needs a new range. */
    assert_int_equal(prot(f, BIG_DOM, 1, 1, GNTX_ACC_NONE, 0, 0), 0);
    assert_int_equal(stats(f, BIG_DOM).ranges, n - 1);
    assert_int_equal(prot(f, BIG_DOM, 2 * n, 1, GNTX_ACC_NONE, 0, 0), 0);
    assert_int_equal(prot(f, BIG_DOM, 1, 1, GNTX_ACC_RWX, 0, 0), -GNTX_ENOSPC);
    assert_int_equal(prot(f, BIG_DOM, 0, 3, GNTX_ACC_RWX, 0, 0), 0);
    assert_int_equal(stats(f, BIG_DOM).ranges, n - 1);
}

/* Random PROTECTs against a page array: the ranges QUERY lists are the
 * page array's maximal runs, and the counters follow. */
#define MODEL_FRAMES 96u
static void model_runs(void **state)
{
    struct fx *f = *state;
    static const uint8_t acc[] = {GNTX_ACC_NONE, GNTX_ACC_R, GNTX_ACC_RX,
                                  GNTX_ACC_RWX};
    uint32_t page[MODEL_FRAMES] = {0}; /* 0, or access + 1 | cookie << 4 */
    struct gntx_prot_range out[MODEL_FRAMES];
    uint64_t seed = 88172645463325252ull;

    big_dom(f, MODEL_FRAMES);
    for (int op = 0; op < 3000; op++) {
        uint64_t g, nr, cur = 0, pages = 0;
        uint32_t runs = 0, k, cookie;
        uint8_t a;
        int n;

        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        g = seed % MODEL_FRAMES;
        nr = 1 + (seed >> 8) % (op % 7 ? 4 : MODEL_FRAMES - g);
        nr = g + nr > MODEL_FRAMES ? MODEL_FRAMES - g : nr;
        a = acc[(seed >> 20) % 4];
        cookie = (uint32_t)(seed >> 24) % 3;
        assert_int_equal(prot(f, BIG_DOM, g, nr, a, 0, cookie), 0);
        for (uint64_t i = g; i < g + nr; i++)
            page[i] = a == GNTX_ACC_RWX ? 0 : (a + 1u) | cookie << 4;
        n = pquery(f, 0, BIG_DOM, &cur, out, MODEL_FRAMES);
        for (uint64_t i = 0; i < MODEL_FRAMES; i++) {
            if (!page[i])
                continue;
            pages++;
            if (i && page[i - 1] == page[i])
                continue;
            k = runs++;
            assert_true(k < (uint32_t)n);
            assert_int_equal(out[k].gfn, i);
            assert_int_equal((out[k].access + 1u) | out[k].cookie << 4,
                             page[i]);
            assert_true(out[k].gfn + out[k].nr <= MODEL_FRAMES);
            for (uint64_t j = i; j < out[k].gfn + out[k].nr; j++)
                assert_int_equal(page[j], page[i]);
        }
        assert_int_equal(n, runs);
        assert_int_equal(stats(f, BIG_DOM).prot_pages, pages);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(protect_args),        FX_TEST(copy_readonly),
        FX_TEST(notify_record),       FX_TEST(ring_full),
        FX_TEST(ring_args),           FX_TEST(kill_action),
        FX_TEST(own_copies),          FX_TEST(severity),
        FX_TEST(map_checks),          FX_TEST(query_ranges),
        FX_TEST(classes_and_memory),  FX_TEST(via_hypercall),
        FX_TEST(cpu_check),           FX_TEST(sparse_bookkeeping),
        FX_TEST(budget_continuation), FX_TEST(budget_chunks_downgrade),
        FX_TEST(range_limit),         FX_TEST(model_runs),
        FX_TEST(kill_spares_servers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
