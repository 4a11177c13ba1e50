/* SPDX-License-Identifier: MIT */
/*
 * test_resolve.c: the validation walk, observed through copy (which uses
 * it for every grant end): lookup, grantee, rights, windows, chains,
 * cascade after revoke, dead parent domains.
 */
#include "tests/unit/tutil.h"

static int rd(struct fx *f, gntx_domid_t caller, gntx_domid_t dom,
              gntx_ref_t ref, uint64_t off, uint64_t len)
{
    return fx_copy(f, caller, P_GRANT(dom, ref, off), P_LOCAL(15 * PG), len);
}

static int wr(struct fx *f, gntx_domid_t caller, gntx_domid_t dom,
              gntx_ref_t ref, uint64_t off, uint64_t len)
{
    return fx_copy(f, caller, P_LOCAL(15 * PG), P_GRANT(dom, ref, off), len);
}

static void lookup_errors(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 100);

    assert_int_equal(rd(f, 2, 1, r, 0, 100), 0);
    assert_int_equal(rd(f, 2, 1, gntx_ref_make(gntx_ref_index(r), 2), 0, 1),
                     -GNTX_ENOENT);
    assert_int_equal(rd(f, 2, 1, gntx_ref_make(5000, 1), 0, 1), -GNTX_ENOENT);
    assert_int_equal(rd(f, 2, 1, 0, 0, 1), -GNTX_ENOENT);
    assert_int_equal(rd(f, 2, 9, r, 0, 1), -GNTX_ESRCH);
    assert_int_equal(rd(f, 2, GNTX_DOMID_INVALID, r, 0, 1), -GNTX_ESRCH);
    /* Non-grantees, the granter itself included. */
    assert_int_equal(rd(f, 3, 1, r, 0, 1), -GNTX_EPERM);
    assert_int_equal(rd(f, 1, GNTX_DOMID_SELF, r, 0, 1), -GNTX_EPERM);
    assert_int_equal(fx_revoke(f, 1, r, 0), 0);
    assert_int_equal(rd(f, 2, 1, r, 0, 1), -GNTX_ESTALE);
}

static void windows(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 0, 7, 100);

    assert_int_equal(rd(f, 2, 1, r, 99, 1), 0);
    assert_int_equal(rd(f, 2, 1, r, 100, 0), 0); /* len 0: no-op */
    assert_int_equal(rd(f, 2, 1, r, 99, 2), -GNTX_ERANGE);
    assert_int_equal(rd(f, 2, 1, r, 100, 1), -GNTX_ERANGE);
    assert_int_equal(rd(f, 2, 1, r, 0, 101), -GNTX_ERANGE);
    assert_int_equal(rd(f, 2, 1, r, UINT64_MAX, 2), -GNTX_EOVERFLOW);
    assert_int_equal(rd(f, 2, 1, r, 2, UINT64_MAX - 1), -GNTX_EOVERFLOW);
    assert_int_equal(rd(f, 2, 1, r, 0, UINT64_MAX), -GNTX_ERANGE);
}

static void rights(void **state)
{
    struct fx *f = *state;
    gntx_ref_t ro = fx_direct_ok(f, 1, 2, GNTX_R_READ, 0, 0, 100);
    gntx_ref_t wo = fx_direct_ok(f, 1, 2, GNTX_R_WRITE, 0, 0, 100);
    gntx_ref_t mo = fx_direct_ok(f, 1, 2, GNTX_R_MAP, 0, 0, 100);

    assert_int_equal(rd(f, 2, 1, ro, 0, 10), 0);
    assert_int_equal(wr(f, 2, 1, ro, 0, 10), -GNTX_EACCES);
    assert_int_equal(wr(f, 2, 1, wo, 0, 10), 0);
    assert_int_equal(rd(f, 2, 1, wo, 0, 10), -GNTX_EACCES);
    assert_int_equal(rd(f, 2, 1, mo, 0, 10), -GNTX_EACCES);
    assert_int_equal(wr(f, 2, 1, mo, 0, 10), -GNTX_EACCES);
}

/* Narrowing: windows compose along the chain, rights only shrink. */
static void chain_windows_and_rights(void **state)
{
    struct fx *f = *state;
    gntx_ref_t a = fx_direct_ok(f, 1, 2, R_RWD, 4, 1000, 6000);
    gntx_ref_t b = fx_indirect_ok(f, 2, 3, GNTX_R_READ | GNTX_R_DELEGATE, 1, a,
                                  3000, 2000);
    gntx_ref_t c = fx_indirect_ok(f, 3, 4, GNTX_R_READ, 2, b, 500, 700);
    uint8_t *src = th_dom_mem(f->d[1], 4 * PG + 1000 + 3000 + 500);

    fx_pattern(f, 1, 1);
    assert_int_equal(rd(f, 4, 3, c, 0, 700), 0);
    assert_memory_equal(th_dom_mem(f->d[4], 15 * PG), src, 700);
    assert_int_equal(rd(f, 4, 3, c, 1, 700), -GNTX_ERANGE);
    assert_int_equal(wr(f, 4, 3, c, 0, 1), -GNTX_EACCES);
    assert_int_equal(wr(f, 3, 2, b, 0, 1), -GNTX_EACCES);
    assert_int_equal(wr(f, 2, 1, a, 0, 1), 0);
    /* Each hop's grantee is checked against its user. */
    assert_int_equal(rd(f, 3, 3, c, 0, 1), -GNTX_EPERM);
    assert_int_equal(rd(f, 2, 2, b, 0, 1), -GNTX_EPERM);
    /* c lacks DELEGATE: its grantee cannot delegate further. */
    assert_int_equal(fx_indirect(f, 4, 1, GNTX_R_READ, 3, c, 0, 1, NULL),
                     -GNTX_EPERM);
}

/* Revoking the middle link: everything below fails, above still works. */
static void cascade(void **state)
{
    struct fx *f = *state;
    gntx_ref_t a = fx_direct_ok(f, 1, 2, R_RWD, 0, 0, 5000);
    gntx_ref_t b = fx_indirect_ok(f, 2, 3, R_RWD, 1, a, 0, 4000);
    gntx_ref_t c = fx_indirect_ok(f, 3, 4, R_RWD, 2, b, 0, 3000);
    gntx_ref_t d = fx_indirect_ok(f, 4, 1, GNTX_R_READ, 3, c, 0, 2000);
    struct gntx_entry_info e;

    assert_int_equal(rd(f, 1, 4, d, 0, 10), 0);
    assert_int_equal(fx_revoke(f, 2, b, 0), 0);
    assert_int_equal(rd(f, 3, 2, b, 0, 10), -GNTX_ESTALE);
    assert_int_equal(rd(f, 4, 3, c, 0, 10), -GNTX_ESTALE);
    assert_int_equal(rd(f, 1, 4, d, 0, 10), -GNTX_ESTALE);
    assert_int_equal(fx_indirect(f, 4, 2, GNTX_R_READ, 3, c, 0, 1, NULL),
                     -GNTX_ESTALE);
    assert_int_equal(rd(f, 2, 1, a, 0, 10), 0);
    e = fx_entry(f, 3, c);
    assert_int_equal(e.state, GNTX_STATE_ORPHAN);
    e = fx_entry(f, 4, d);
    assert_int_equal(e.state, GNTX_STATE_ORPHAN);
    e = fx_entry(f, 1, a);
    assert_int_equal(e.state, GNTX_STATE_LIVE);
    /* Orphans can still be revoked by their granters. */
    assert_int_equal(fx_revoke(f, 4, d, 0), 0);
    assert_int_equal(fx_revoke(f, 3, c, 0), 0);
    assert_int_equal(fx_usage(f, 3).entries, 0);
}

/* A removed (or re-added) parent domain kills the delegations below. */
static void dead_parent_domain(void **state)
{
    struct fx *f = *state;
    gntx_ref_t a = fx_direct_ok(f, 1, 2, R_RWD, 0, 0, 100);
    gntx_ref_t b = fx_indirect_ok(f, 2, 3, GNTX_R_READ, 1, a, 0, 50);
    gntx_ref_t a2;

    gcore_dom_remove(f->c, 1);
    assert_true(th_balanced());
    assert_int_equal(rd(f, 3, 2, b, 0, 1), -GNTX_ESTALE);
    assert_int_equal(BAL(gcore_dom_add(f->c, 1, FX_FRAMES, f->d[1])), 0);
    a2 = fx_direct_ok(f, 1, 2, R_RWD, 0, 0, 100);
    assert_int_equal(a2, a); /* the same ref names a new grant ... */
    assert_int_equal(rd(f, 3, 2, b, 0, 1), -GNTX_ESTALE); /* ... not b's */
    assert_int_equal(fx_entry(f, 2, b).state, GNTX_STATE_ORPHAN);
}

/* A grantee that was removed and re-added is a different domain. */
static void grantee_reincarnated(void **state)
{
    struct fx *f = *state;
    gntx_ref_t a = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 100);

    gcore_dom_remove(f->c, 2);
    assert_int_equal(BAL(gcore_dom_add(f->c, 2, FX_FRAMES, f->d[2])), 0);
    assert_int_equal(rd(f, 2, 1, a, 0, 1), -GNTX_EPERM);
    assert_int_equal(fx_revoke(f, 1, a, 0), 0);
}

/* The host's policy (Xen: XSM) between the user and the memory's owner,
 * whoever delegated it. */
static void host_policy(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r =
        fx_direct_ok(f, 1, 2, R_RW | GNTX_R_DELEGATE | GNTX_R_MAP, 0, 0, PG);
    gntx_ref_t d;
    uint64_t out[1];

    th_deny_use(f->d[3], f->d[1]);
    d = fx_indirect_ok(f, 2, 3, GNTX_R_READ, 1, r, 0, 100);
    assert_int_equal(rd(f, 2, 1, r, 0, 1), 0);
    assert_int_equal(rd(f, 3, 2, d, 0, 1), -GNTX_EPERM);
    assert_int_equal(th_denied_rights(), GNTX_R_READ);
    th_deny_use(f->d[2], f->d[1]);
    assert_int_equal(rd(f, 3, 2, d, 0, 1), 0);
    assert_int_equal(wr(f, 2, 1, r, 0, 1), -GNTX_EPERM);
    assert_int_equal(th_denied_rights(), GNTX_R_WRITE);
    assert_int_equal(fx_map(f, 2, 1, r, 0, PG, 0, out, 1, NULL, NULL),
                     -GNTX_EPERM);
    assert_int_equal(th_denied_rights(),
                     GNTX_R_MAP | GNTX_R_READ | GNTX_R_WRITE);
    assert_int_equal(fx_indirect(f, 2, 3, GNTX_R_READ, 1, r, 0, 10, &d),
                     -GNTX_EPERM);
    th_deny_use(NULL, NULL);
    assert_int_equal(rd(f, 2, 1, r, 0, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(lookup_errors),
        FX_TEST(windows),
        FX_TEST(rights),
        FX_TEST(chain_windows_and_rights),
        FX_TEST(cascade),
        FX_TEST(dead_parent_domain),
        FX_TEST(grantee_reincarnated),
        FX_TEST(host_policy),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
