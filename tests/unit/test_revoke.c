/* SPDX-License-Identifier: MIT */
/* test_revoke.c: GNTX_OP_REVOKE, EBUSY and FORCE teardown of mappings. */
#include "tests/unit/tutil.h"

#define R_ALLM (GNTX_R_MAP | GNTX_R_READ | GNTX_R_WRITE | GNTX_R_DELEGATE)

static void revoke_basics(void **state)
{
    struct fx *f = *state;
    gntx_ref_t a = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 10);
    gntx_ref_t b = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 10);
    struct gntx_revoke v[3] = {
        {.ref = a}, {.ref = b, .flags = 0x2}, {.ref = a}};

    assert_int_equal(BAL(gcore_grant_revoke(f->c, 1, v, 3)), 1);
    assert_int_equal(v[0].status, 0);
    assert_int_equal(v[1].status, -GNTX_EINVAL);
    assert_int_equal(v[2].status, -GNTX_ESTALE);
    /* Only the granter's own table: dom 2 has no such entry. */
    assert_int_equal(fx_revoke(f, 2, b, 0), -GNTX_ENOENT);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, b, 0), P_LOCAL(0), 10), 0);
    assert_int_equal(fx_revoke(f, 1, b, GNTX_REVOKE_FORCE), 0);
    assert_int_equal(fx_usage(f, 1).entries, 0);
    assert_int_equal(fx_usage(f, 1).frames, 0);
    assert_int_equal(th_notify_count(), 0);
    assert_int_equal(BAL(gcore_grant_revoke(f->c, 1, NULL, 2)), -GNTX_EINVAL);
    assert_int_equal(BAL(gcore_grant_revoke(f->c, 9, v, 1)), 0);
    assert_int_equal(v[0].status, -GNTX_ESRCH);
}

/* A mapped grant is EBUSY and untouched; FORCE tears down and notifies. */
static void busy_then_force(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_ALLM, 0, 0, 2 * PG);
    gntx_ref_t other = fx_direct_ok(f, 1, 2, R_ALLM, 0, 0, PG);
    uint64_t out[2];
    uint32_t h1, h2, h3;

    assert_int_equal(fx_map(f, 2, 1, r, 0, PG, 0, out, 2, &h1, NULL), 0);
    assert_int_equal(fx_map(f, 2, 1, r, PG, PG, 0, out, 2, &h2, NULL), 0);
    assert_int_equal(fx_map(f, 2, 1, other, 0, PG, 0, out, 2, &h3, NULL), 0);
    assert_int_equal(fx_revoke(f, 1, r, 0), -GNTX_EBUSY);
    assert_int_equal(fx_entry(f, 1, r).maps, 2);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, r, 0), P_LOCAL(0), 10), 0);
    assert_int_equal(fx_usage(f, 1).entries, 2);
    assert_int_equal(th_notify_count(), 0);

    assert_int_equal(fx_revoke(f, 1, r, GNTX_REVOKE_FORCE), 0);
    assert_int_equal(th_notify_count(), 2);
    for (size_t i = 0; i < 2; i++) {
        const struct th_notify *n = th_notify_at(i);

        assert_ptr_equal(n->mapper_cookie, f->d[2]);
        assert_int_equal(n->owner, 1);
    }
    assert_true(th_notified(f->d[2], h1));
    assert_true(th_notified(f->d[2], h2));
    assert_false(th_notified(f->d[2], h3));
    assert_int_equal(fx_usage(f, 2).maps, 1);
    assert_int_equal(fx_usage(f, 1).entries, 1);
    assert_int_equal(fx_unmap(f, 2, h1), -GNTX_ESTALE);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, r, 0), P_LOCAL(0), 10),
                     -GNTX_ESTALE);
    assert_int_equal(fx_entry(f, 1, other).maps, 1);
    assert_int_equal(fx_unmap(f, 2, h3), 0);
    assert_int_equal(fx_usage(f, 2).maps, 0);
    assert_int_equal(fx_revoke(f, 1, other, 0), 0);
}

/* A mapping through a delegation makes every ancestor busy. */
static void busy_ancestors(void **state)
{
    struct fx *f = *state;
    gntx_ref_t a = fx_direct_ok(f, 1, 2, R_ALLM, 0, 0, 4 * PG);
    gntx_ref_t b = fx_indirect_ok(f, 2, 3, R_ALLM, 1, a, PG, 2 * PG);
    gntx_ref_t c = fx_indirect_ok(f, 3, 4, R_ALLM, 2, b, 0, PG);
    gntx_ref_t side = fx_indirect_ok(f, 2, 4, GNTX_R_READ, 1, a, 0, PG);
    uint64_t out[2];
    uint32_t h4, h3, h2;

    assert_int_equal(fx_map(f, 4, 3, c, 0, PG, 0, out, 2, &h4, NULL), 0);
    assert_int_equal(fx_map(f, 3, 2, b, PG, PG, 0, out, 2, &h3, NULL), 0);
    assert_int_equal(fx_map(f, 2, 1, a, 0, PG, 0, out, 2, &h2, NULL), 0);
    assert_int_equal(fx_revoke(f, 1, a, 0), -GNTX_EBUSY);
    assert_int_equal(fx_revoke(f, 2, b, 0), -GNTX_EBUSY);
    assert_int_equal(fx_revoke(f, 3, c, 0), -GNTX_EBUSY);
    assert_int_equal(fx_entry(f, 1, a).maps, 3);
    assert_int_equal(fx_entry(f, 2, b).maps, 2);
    assert_int_equal(fx_entry(f, 3, c).maps, 1);

    /* FORCE in the middle: the mappings through b go, a's own stays. */
    assert_int_equal(fx_revoke(f, 2, b, GNTX_REVOKE_FORCE), 0);
    assert_int_equal(th_notify_count(), 2);
    assert_true(th_notified(f->d[4], h4));
    assert_true(th_notified(f->d[3], h3));
    assert_false(th_notified(f->d[2], h2));
    assert_int_equal(th_notify_at(0)->owner, 1);
    assert_int_equal(th_notify_at(1)->owner, 1);
    assert_int_equal(fx_entry(f, 1, a).maps, 1);
    assert_int_equal(fx_entry(f, 3, c).maps, 0);
    assert_int_equal(fx_entry(f, 3, c).state, GNTX_STATE_ORPHAN);
    assert_int_equal(fx_usage(f, 4).maps, 0);
    assert_int_equal(fx_usage(f, 3).maps, 0);
    assert_int_equal(fx_usage(f, 2).maps, 1);
    assert_int_equal(fx_copy(f, 4, P_GRANT(2, side, 0), P_LOCAL(0), 1), 0);
    assert_int_equal(fx_revoke(f, 1, a, 0), -GNTX_EBUSY);
    /* The orphan is no longer busy. */
    assert_int_equal(fx_revoke(f, 3, c, 0), 0);
    th_notify_reset();
    assert_int_equal(fx_revoke(f, 1, a, GNTX_REVOKE_FORCE), 0);
    assert_int_equal(th_notify_count(), 1);
    assert_true(th_notified(f->d[2], h2));
    assert_int_equal(fx_usage(f, 2).maps, 0);
    assert_int_equal(fx_copy(f, 4, P_GRANT(2, side, 0), P_LOCAL(0), 1),
                     -GNTX_ESTALE);
}

/* The host takes frames back: every direct grant naming one of them is
 * force-revoked (its delegations die, its mappings are torn down), grants
 * of other frames stay. */
static void frames_taken_back(void **state)
{
    struct fx *f = *state;
    const uint64_t scat[2] = {9, 5};
    gntx_ref_t in = fx_direct_ok(f, 1, 2, R_ALLM, 4, 0, 2 * PG);
    gntx_ref_t edge = fx_scattered(f, 1, 3, R_RW, scat, 2, 0, 2 * PG);
    gntx_ref_t out = fx_direct_ok(f, 1, 2, R_ALLM, 6, 0, PG);
    gntx_ref_t below = fx_indirect_ok(f, 2, 3, R_RW, 1, in, 0, PG);
    const struct gcore_range none[3] = {{0, 4}, {7, 2}, {10, 6}};
    const struct gcore_range r5[2] = {{3, 1}, {5, 1}}, r6 = {6, 1};
    uint64_t fr[2];
    uint32_t h, hout;

    assert_int_equal(fx_map(f, 2, 1, in, 0, 2 * PG, 0, fr, 2, &h, NULL), 0);
    assert_int_equal(fx_map(f, 2, 1, out, 0, PG, 0, fr, 2, &hout, NULL), 0);

    assert_int_equal(gcore_revoke_frames(f->c, 1, none, 3), 0);
    assert_int_equal(gcore_revoke_frames(f->c, 1, r5, 2), 2);
    assert_int_equal(th_notify_count(), 1);
    assert_true(th_notified(f->d[2], h));
    assert_false(th_notified(f->d[2], hout));
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, in, 0), P_LOCAL(0), 1),
                     -GNTX_ESTALE);
    assert_int_equal(fx_copy(f, 3, P_GRANT(1, edge, 0), P_LOCAL(0), 1),
                     -GNTX_ESTALE);
    assert_int_equal(fx_copy(f, 3, P_GRANT(2, below, 0), P_LOCAL(0), 1),
                     -GNTX_ESTALE);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, out, 0), P_LOCAL(0), 1), 0);
    assert_int_equal(fx_usage(f, 1).entries, 1);
    assert_int_equal(fx_usage(f, 2).maps, 1);
    assert_int_equal(gcore_revoke_frames(f->c, 1, none, 1), 0);
    assert_int_equal(gcore_revoke_frames(f->c, 1, none, 0), 0);
    assert_int_equal(gcore_revoke_frames(f->c, 9, none, 3), 0);
    assert_int_equal(gcore_revoke_frames(f->c, 1, &r6, 1), 1);
    assert_true(th_notified(f->d[2], hout));
    assert_int_equal(fx_usage(f, 1).entries, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(revoke_basics),
        FX_TEST(busy_then_force),
        FX_TEST(busy_ancestors),
        FX_TEST(frames_taken_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
