/* SPDX-License-Identifier: MIT */
/*
 * test_charge.c: a domain pays for the host memory its protections take
 * (gh_dom_charge; issue 12, finding 3): the charge follows the range and
 * class arrays as they grow, a host that refuses it makes the PROTECT
 * fail ENOSPC with nothing of it applied, and everything is given back
 * when the domain goes.  Before, the core charged nothing.
 */
#include "tests/unit/tutil.h"

#define PDOM  1u
#define PAGES 4096u

static int ch_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    th_reset();
    assert_int_equal(gcore_create(&f->c), 0);
    f->d[PDOM] = th_dom_new(PAGES);
    assert_non_null(f->d[PDOM]);
    assert_int_equal(gcore_dom_add(f->c, PDOM, PAGES, f->d[PDOM]), 0);
    *state = f;
    return 0;
}

static int ch_teardown(void **state)
{
    struct fx *f = *state;

    gcore_destroy(f->c);
    assert_int_equal(f->d[PDOM]->charged, 0);
    assert_true(th_balanced());
    th_dom_free(f->d[PDOM]);
    free(f);
    th_reset();
    return 0;
}

/* PROTECT R of page `gfn` alone, cookie `cookie`: the element's status. */
static int protect_page(struct fx *f, uint64_t gfn, uint64_t cookie)
{
    struct gntx_protect v = {.gfn = gfn,
                             .nr = 1,
                             .cookie = cookie,
                             .access = GNTX_ACC_R,
                             .action = GNTX_ACT_DENY};

    gcore_protect(f->c, PDOM, &v, 1);
    return v.status;
}

/* Disjoint pages make a range each: the charge grows with them (24 bytes
 * a range at least), and the domain's removal gives it all back. */
static void charge_follows_ranges(void **state)
{
    struct fx *f = *state;
    uint64_t first;

    assert_int_equal(f->d[PDOM]->charged, 0);
    assert_int_equal(protect_page(f, 0, 0), 0);
    first = f->d[PDOM]->charged;
    assert_true(first > 0);
    for (uint64_t g = 2; g < 2 * 1000; g += 2)
        assert_int_equal(protect_page(f, g, 0), 0);
    assert_true(f->d[PDOM]->charged >= first + 999 * 24);
    for (uint64_t c = 1; c < 100; c++) /* classes cost too */
        assert_int_equal(protect_page(f, 2 * 1000 + 2 * c, c), 0);
    print_message("charged %llu bytes for 1099 ranges and 100 classes\n",
                  (unsigned long long)f->d[PDOM]->charged);
    gcore_dom_remove(f->c, PDOM);
    assert_int_equal(f->d[PDOM]->charged, 0);
}

/* A host that will not charge more: ENOSPC, the range not made, the
 * charge within the limit, the earlier protections still there. */
static void charge_refused(void **state)
{
    struct fx *f = *state;
    struct gntx_fault_stats st = {0};
    uint64_t g;
    int rc = 0;

    f->d[PDOM]->charge_limit = 8192;
    for (g = 0; g < PAGES && rc == 0; g += 2)
        rc = protect_page(f, g, 0);
    assert_int_equal(rc, -GNTX_ENOSPC);
    assert_true(f->d[PDOM]->charged <= 8192);
    assert_true(g > 2 * 64); /* some hundreds of ranges fit in 8 KiB */
    st.dom = PDOM;
    assert_int_equal(gcore_fault_stats(f->c, PDOM, &st), 0);
    assert_int_equal(st.ranges, (g - 2) / 2);
    assert_int_equal(st.prot_pages, (g - 2) / 2);
}

#define CH_TEST(fn) cmocka_unit_test_setup_teardown(fn, ch_setup, ch_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        CH_TEST(charge_follows_ranges),
        CH_TEST(charge_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
