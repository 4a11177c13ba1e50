/* SPDX-License-Identifier: MIT */
/* test_dom.c: the instance and domain lifetime, removal cleanup. */
#include "tests/unit/tutil.h"

#define R_ALLM (GNTX_R_MAP | GNTX_R_READ | GNTX_R_WRITE | GNTX_R_DELEGATE)

static void instance_lifetime(void **state)
{
    struct gcore *c = NULL;

    (void)state;
    th_reset();
    gcore_destroy(NULL);
    th_fail_alloc_after(0);
    assert_int_equal(gcore_create(&c), -GNTX_ENOMEM);
    th_fail_alloc_after(1);
    assert_int_equal(gcore_create(&c), -GNTX_ENOMEM);
    assert_int_equal(th_allocs_live(), 0);
    assert_int_equal(gcore_create(&c), 0);
    gcore_destroy(c);
    assert_true(th_balanced());
    assert_int_equal(th_allocs_live(), 0);
}

static void add_remove(void **state)
{
    struct fx *f = *state;
    struct th_dom *x = th_dom_new(4);

    assert_int_equal(BAL(gcore_dom_add(f->c, 1, 4, x)), -GNTX_EEXIST);
    assert_int_equal(BAL(gcore_dom_add(f->c, GNTX_DOMID_MAX + 1, 4, x)),
                     -GNTX_EINVAL);
    assert_int_equal(BAL(gcore_dom_add(f->c, GNTX_DOMID_SELF, 4, x)),
                     -GNTX_EINVAL);
    assert_int_equal(BAL(gcore_dom_add(f->c, GNTX_DOMID_MAX, 4, x)), 0);
    assert_true(BAL(gcore_dom_exists(f->c, GNTX_DOMID_MAX)));
    assert_false(BAL(gcore_dom_exists(f->c, 9)));
    assert_false(BAL(gcore_dom_exists(f->c, GNTX_DOMID_SELF)));
    th_fail_alloc_after(0);
    assert_int_equal(BAL(gcore_dom_add(f->c, 9, 4, x)), -GNTX_ENOMEM);
    assert_false(BAL(gcore_dom_exists(f->c, 9)));
    gcore_dom_remove(f->c, 9); /* unknown: no-op */
    gcore_dom_remove(f->c, GNTX_DOMID_SELF);
    assert_true(th_balanced());
    gcore_dom_remove(f->c, GNTX_DOMID_MAX);
    assert_true(th_balanced());
    assert_false(BAL(gcore_dom_exists(f->c, GNTX_DOMID_MAX)));
    assert_int_equal(fx_usage(f, 1).mem_frames, FX_FRAMES);
    th_dom_free(x);
}

/*
 * Removing dom 1: its grants go (mappings of its memory, direct or through
 * delegation, are notified), the mappings it holds go (notified too),
 * delegations others made from its grants become orphans.
 */
static void remove_cleans_up(void **state)
{
    struct fx *f = *state;
    gntx_ref_t a = fx_direct_ok(f, 1, 2, R_ALLM, 0, 0, 2 * PG);
    gntx_ref_t b = fx_indirect_ok(f, 2, 3, R_ALLM, 1, a, PG, PG);
    gntx_ref_t g4 = fx_direct_ok(f, 4, 1, R_ALLM, 2, 0, PG);
    gntx_ref_t to1 = fx_direct_ok(f, 3, 1, R_RW, 0, 0, 10);
    gntx_ref_t keep = fx_direct_ok(f, 2, 3, R_ALLM, 0, 0, PG);
    uint64_t out[2];
    uint32_t h3, h2, h1, hk;

    assert_int_equal(fx_map(f, 3, 2, b, 0, PG, 0, out, 2, &h3, NULL), 0);
    assert_int_equal(fx_map(f, 2, 1, a, 0, 2 * PG, 0, out, 2, &h2, NULL), 0);
    assert_int_equal(fx_map(f, 1, 4, g4, 0, PG, 0, out, 2, &h1, NULL), 0);
    assert_int_equal(fx_map(f, 3, 2, keep, 0, PG, 0, out, 2, &hk, NULL), 0);
    assert_int_equal(fx_entry(f, 4, g4).maps, 1);

    gcore_dom_remove(f->c, 1);
    assert_true(th_balanced());
    assert_false(BAL(gcore_dom_exists(f->c, 1)));
    assert_int_equal(th_notify_count(), 3);
    assert_true(th_notified(f->d[3], h3));
    assert_true(th_notified(f->d[2], h2));
    assert_true(th_notified(f->d[1], h1));
    assert_false(th_notified(f->d[3], hk));
    for (size_t i = 0; i < th_notify_count(); i++)
        assert_int_equal(th_notify_at(i)->owner,
                         th_notify_at(i)->mapper_cookie == f->d[1] ? 4 : 1);
    /* Counters everywhere are back. */
    assert_int_equal(fx_usage(f, 2).maps, 0);
    assert_int_equal(fx_usage(f, 3).maps, 1);
    assert_int_equal(fx_entry(f, 4, g4).maps, 0);
    assert_int_equal(fx_entry(f, 2, b).maps, 0);
    assert_int_equal(fx_entry(f, 2, b).state, GNTX_STATE_ORPHAN);
    assert_int_equal(fx_copy(f, 3, P_GRANT(2, b, 0), P_LOCAL(0), 1),
                     -GNTX_ESTALE);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, a, 0), P_LOCAL(0), 1),
                     -GNTX_ESRCH);
    /* Grants to the removed domain stay until their granter revokes. */
    assert_int_equal(fx_revoke(f, 4, g4, 0), 0);
    assert_int_equal(fx_revoke(f, 3, to1, 0), 0);
    assert_int_equal(fx_revoke(f, 2, b, 0), 0);
    assert_int_equal(fx_unmap(f, 3, hk), 0);
    /* A removed domain's calls fail cleanly. */
    assert_int_equal(fx_direct(f, 1, 2, R_RW, 0, 0, 1, NULL), -GNTX_ESRCH);
}

/* Teardown with live state everywhere frees everything. */
static void destroy_with_state(void **state)
{
    struct fx *f = *state;
    gntx_ref_t a = fx_direct_ok(f, 1, 2, R_ALLM, 0, 0, 5 * PG);
    gntx_ref_t b = fx_indirect_ok(f, 2, 3, R_ALLM, 1, a, 0, 4 * PG);
    uint64_t out[4];

    assert_int_equal(fx_map(f, 3, 2, b, 0, 4 * PG, 0, out, 4, NULL, NULL), 0);
    for (int i = 0; i < 100; i++)
        fx_direct_ok(f, (gntx_domid_t)(i % 4 + 1), 0, R_RW, 0, 0, 3 * PG);
    /* fx_teardown destroys the core and checks for leaks. */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(instance_lifetime),
        FX_TEST(add_remove),
        FX_TEST(remove_cleans_up),
        FX_TEST(destroy_with_state),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
