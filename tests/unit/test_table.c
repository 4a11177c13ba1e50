/* SPDX-License-Identifier: MIT */
/* test_table.c: slots, references, generations, growth, entry quotas. */
#include "tests/unit/tutil.h"

static void ref_layout(void **state)
{
    struct fx *f = *state;
    gntx_ref_t a = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 10);
    gntx_ref_t b = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 10);

    assert_int_equal(gntx_ref_gen(a), 1);
    assert_int_equal(gntx_ref_index(a), 0);
    assert_int_equal(a, 1u << GNTX_REF_INDEX_BITS);
    assert_int_equal(gntx_ref_gen(b), 1);
    assert_int_equal(gntx_ref_index(b), 1);
    /* Tables are per domain: dom 2's first ref has the same shape. */
    assert_int_equal(fx_direct_ok(f, 2, 1, R_RW, 0, 0, 10), a);
}

static void stale_and_never_issued(void **state)
{
    struct fx *f = *state;
    gntx_ref_t a = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 10);
    uint32_t idx = gntx_ref_index(a);

    assert_int_equal(fx_revoke(f, 1, a, 0), 0);
    assert_int_equal(fx_revoke(f, 1, a, 0), -GNTX_ESTALE);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, a, 0), P_LOCAL(0), 1),
                     -GNTX_ESTALE);
    /* Generation not issued yet, generation 0, index beyond the table. */
    assert_int_equal(fx_revoke(f, 1, gntx_ref_make(idx, 7), 0), -GNTX_ENOENT);
    assert_int_equal(fx_revoke(f, 1, gntx_ref_make(idx, 0), 0), -GNTX_ENOENT);
    assert_int_equal(fx_revoke(f, 1, GNTX_REF_INVALID, 0), -GNTX_ENOENT);
    assert_int_equal(fx_revoke(f, 1, gntx_ref_make(GNTX_REF_INDEX_MASK, 1), 0),
                     -GNTX_ENOENT);
    /* A free slot that was never used. */
    assert_int_equal(fx_revoke(f, 1, gntx_ref_make(idx + 5, 1), 0),
                     -GNTX_ENOENT);
}

/* The slot comes back with a new generation; the old ref never reaches it. */
static void reused_slot_not_reachable(void **state)
{
    struct fx *f = *state;
    gntx_ref_t old = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 10), cur = 0;
    int i;

    assert_int_equal(fx_revoke(f, 1, old, 0), 0);
    for (i = 0; i < 1000; i++) {
        cur = fx_direct_ok(f, 1, 2, R_RW, 1, 0, 10);
        if (gntx_ref_index(cur) == gntx_ref_index(old))
            break;
        assert_int_equal(fx_revoke(f, 1, cur, 0), 0);
    }
    assert_true(i < 1000);
    assert_int_equal(gntx_ref_gen(cur), gntx_ref_gen(old) + 1);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, old, 0), P_LOCAL(0), 1),
                     -GNTX_ESTALE);
    assert_int_equal(fx_revoke(f, 1, old, 0), -GNTX_ESTALE);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, cur, 0), P_LOCAL(0), 1), 0);
    assert_int_equal(fx_usage(f, 1).entries, 1);
}

/* A slot whose generation would pass GNTX_REF_GEN_MAX is never reused. */
static void generation_retired(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = 0, last = 0;

    fx_quota(f, 1, 1, 8, 100);
    for (uint32_t gen = 1; gen <= GNTX_REF_GEN_MAX; gen++) {
        r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 10);
        assert_int_equal(gntx_ref_index(r), 0);
        assert_int_equal(gntx_ref_gen(r), gen);
        assert_int_equal(fx_revoke(f, 1, r, 0), 0);
        last = r;
    }
    assert_int_equal(gntx_ref_gen(last), GNTX_REF_GEN_MAX);
    for (int i = 0; i < 100; i++) {
        r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 10);
        assert_int_not_equal(gntx_ref_index(r), 0);
        assert_int_equal(fx_usage(f, 1).entries, 1);
        assert_int_equal(fx_revoke(f, 1, r, 0), 0);
    }
    assert_int_equal(fx_revoke(f, 1, last, 0), -GNTX_ESTALE);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, last, 0), P_LOCAL(0), 1),
                     -GNTX_ESTALE);
    assert_int_equal(fx_usage(f, 1).entries, 0);
}

static void growth_keeps_entries(void **state)
{
    struct fx *f = *state;
    gntx_ref_t refs[300];

    fx_pattern(f, 1, 3);
    for (int i = 0; i < 300; i++)
        refs[i] = fx_direct_ok(f, 1, 2, GNTX_R_READ, (uint64_t)i % FX_FRAMES,
                               (uint64_t)i % 100, 1);
    assert_int_equal(fx_usage(f, 1).entries, 300);
    for (int i = 0; i < 300; i++) {
        uint8_t b = 0xee;
        uint64_t src = (uint64_t)(i % FX_FRAMES) * PG + (uint64_t)i % 100;

        assert_int_equal(fx_copy(f, 2, P_GRANT(1, refs[i], 0), P_LOCAL(0), 1),
                         0);
        memcpy(&b, th_dom_mem(f->d[2], 0), 1);
        assert_int_equal(b, *th_dom_mem(f->d[1], src));
    }
    for (int i = 0; i < 300; i++)
        assert_int_equal(fx_revoke(f, 1, refs[i], 0), 0);
    assert_int_equal(fx_usage(f, 1).entries, 0);
    assert_int_equal(fx_usage(f, 1).frames, 0);
}

static void entry_quota(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r[3];

    fx_quota(f, 1, 3, 8, 100);
    for (int i = 0; i < 3; i++)
        r[i] = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 10);
    assert_int_equal(fx_direct(f, 1, 2, R_RW, 0, 0, 10, NULL), -GNTX_ENOSPC);
    assert_int_equal(fx_indirect(f, 1, 3, GNTX_R_READ, 2,
                                 fx_direct_ok(f, 2, 1, R_RWD, 0, 0, 10), 0, 5,
                                 NULL),
                     -GNTX_ENOSPC);
    assert_int_equal(fx_usage(f, 1).entries, 3);
    assert_int_equal(fx_usage(f, 1).max_entries, 3);
    assert_int_equal(fx_revoke(f, 1, r[1], 0), 0);
    assert_int_equal(fx_usage(f, 1).entries, 2);
    fx_direct_ok(f, 1, 2, R_RW, 0, 0, 10);
    /* A quota below usage blocks creation but keeps what exists. */
    fx_quota(f, 1, 1, 8, 100);
    assert_int_equal(fx_direct(f, 1, 2, R_RW, 0, 0, 10, NULL), -GNTX_ENOSPC);
    assert_int_equal(fx_usage(f, 1).entries, 3);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, r[0], 0), P_LOCAL(0), 10), 0);
}

static void table_grow_enomem(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r;

    th_fail_alloc_after(0);
    assert_int_equal(fx_direct(f, 1, 2, R_RW, 0, 0, 10, &r), -GNTX_ENOMEM);
    assert_int_equal(r, GNTX_REF_INVALID);
    assert_int_equal(fx_usage(f, 1).entries, 0);
    r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 10);
    assert_int_equal(r, gntx_ref_make(0, 1));
}

/* Frames beyond the inline ones are allocated; a failure leaves no trace. */
static void frames_alloc_enomem(void **state)
{
    struct fx *f = *state;
    gntx_ref_t first = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 10), r;
    long live = th_allocs_live();

    th_fail_alloc_after(0);
    assert_int_equal(fx_direct(f, 1, 2, R_RW, 0, 0, 3 * PG, &r), -GNTX_ENOMEM);
    assert_int_equal(th_allocs_live(), live);
    assert_int_equal(fx_usage(f, 1).entries, 1);
    assert_int_equal(fx_usage(f, 1).frames, 1);
    r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 3 * PG);
    assert_int_equal(gntx_ref_index(r), gntx_ref_index(first) + 1);
    assert_int_equal(gntx_ref_gen(r), 1);
    assert_int_equal(fx_usage(f, 1).frames, 4);
}

/* One- and two-frame grants are stored inline: no allocation. */
static void small_grants_allocation_free(void **state)
{
    struct fx *f = *state;
    long live;
    gntx_ref_t r;

    fx_revoke(f, 1, fx_direct_ok(f, 1, 2, R_RW, 0, 0, 1), 0);
    live = th_allocs_live();
    for (int i = 0; i < 1000; i++) {
        r = fx_direct_ok(f, 1, 2, R_RW, 3, 4000, 200); /* 2 frames */
        assert_int_equal(th_allocs_live(), live);
        assert_int_equal(fx_revoke(f, 1, r, 0), 0);
    }
    r = fx_direct_ok(f, 1, 2, R_RW, 3, 4000, 5000); /* 3 frames */
    assert_int_equal(th_allocs_live(), live + 1);
    assert_int_equal(fx_revoke(f, 1, r, 0), 0);
    assert_int_equal(th_allocs_live(), live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(ref_layout),
        FX_TEST(stale_and_never_issued),
        FX_TEST(reused_slot_not_reachable),
        FX_TEST(generation_retired),
        FX_TEST(growth_keeps_entries),
        FX_TEST(entry_quota),
        FX_TEST(table_grow_enomem),
        FX_TEST(frames_alloc_enomem),
        FX_TEST(small_grants_allocation_free),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
