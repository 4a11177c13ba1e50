/* SPDX-License-Identifier: MIT */
/* test_create.c: GNTX_OP_CREATE, direct and indirect, batches. */
#include <time.h>

#include "tests/unit/tutil.h"

static int create1(struct fx *f, gntx_domid_t caller, struct gntx_create v,
                   const uint64_t *frames, uint64_t nr)
{
    int rc = BAL(gcore_grant_create(f->c, caller, &v, 1, frames, nr));

    assert_int_equal(v.status, rc);
    if (rc)
        assert_int_equal(v.ref, GNTX_REF_INVALID);
    return rc;
}

static struct gntx_create direct(gntx_domid_t grantee, uint16_t rights,
                                 uint32_t nr, uint64_t off, uint64_t len)
{
    return (struct gntx_create){.type = GNTX_CREATE_DIRECT,
                                .grantee = grantee,
                                .rights = rights,
                                .nr_frames = nr,
                                .offset = off,
                                .length = len};
}

static void direct_arguments(void **state)
{
    struct fx *f = *state;
    uint64_t fr[4] = {0, 1, 2, 3};
    struct gntx_create v = direct(2, R_RW, 1, 0, 10);

    assert_int_equal(create1(f, 1, v, fr, 4), 0);
    v.rights = 0;
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EINVAL);
    v.rights = 0x10;
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EINVAL);
    v = direct(2, R_RW, 1, 0, 0);
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EINVAL);
    v = direct(2, R_RW, 1, PG, 10);
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EINVAL);
    v = direct(1, R_RW, 1, 0, 10);
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EINVAL);
    v.grantee = GNTX_DOMID_SELF;
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EINVAL);
    v.grantee = GNTX_DOMID_INVALID;
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EINVAL);
    v.grantee = 9;
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_ESRCH);
    v = direct(2, R_RW, 1, 0, 10);
    v.type = 2;
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EINVAL);
    /* An unknown caller. */
    v = direct(2, R_RW, 1, 0, 10);
    assert_int_equal(create1(f, 7, v, fr, 4), -GNTX_ESRCH);
    assert_int_equal(fx_usage(f, 1).entries, 1);
    assert_int_equal(fx_usage(f, 1).frames, 1);
}

static void exact_frame_count(void **state)
{
    struct fx *f = *state;
    uint64_t fr[4] = {0, 1, 2, 3};

    assert_int_equal(create1(f, 1, direct(2, R_RW, 1, 4000, 200), fr, 4),
                     -GNTX_EINVAL);
    assert_int_equal(create1(f, 1, direct(2, R_RW, 3, 4000, 200), fr, 4),
                     -GNTX_EINVAL);
    assert_int_equal(create1(f, 1, direct(2, R_RW, 2, 4000, 200), fr, 4), 0);
    assert_int_equal(create1(f, 1, direct(2, R_RW, 1, 0, PG), fr, 4), 0);
    assert_int_equal(create1(f, 1, direct(2, R_RW, 1, 0, PG + 1), fr, 4),
                     -GNTX_EINVAL);
    assert_int_equal(create1(f, 1, direct(2, R_RW, 2, 0, PG + 1), fr, 4), 0);
    assert_int_equal(create1(f, 1, direct(2, R_RW, 1, PG - 1, 1), fr, 4), 0);
    assert_int_equal(create1(f, 1, direct(2, R_RW, 2, PG - 1, 2), fr, 4), 0);
    assert_int_equal(create1(f, 1, direct(2, R_RW, 0, 0, 1), fr, 4),
                     -GNTX_EINVAL);
    assert_int_equal(fx_usage(f, 1).frames, 2 + 1 + 2 + 1 + 2);
}

static void overflow_and_huge(void **state)
{
    struct fx *f = *state;
    uint64_t fr[4] = {0, 1, 2, 3};
    struct gntx_create v = direct(2, R_RW, 1, 100, UINT64_MAX);

    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EOVERFLOW);
    v = direct(2, R_RW, 1, 0, UINT64_MAX);
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EINVAL);
    v = direct(2, R_RW, 0, 0, 1ull << 44); /* 2^32 pages: u32 wraps to 0 */
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EINVAL);
    v = direct(2, R_RW, GNTX_MAX_GRANT_FRAMES + 1, 0,
               (uint64_t)(GNTX_MAX_GRANT_FRAMES + 1) * PG);
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EINVAL);
    assert_int_equal(fx_usage(f, 1).entries, 0);
}

static void frames_and_aux(void **state)
{
    struct fx *f = *state;
    uint64_t fr[4] = {FX_FRAMES - 1, FX_FRAMES, UINT64_MAX, 2};
    struct gntx_create v = direct(2, R_RW, 1, 0, 10);

    assert_int_equal(create1(f, 1, v, fr, 4), 0);
    v.frame_idx = 1;
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EFAULT);
    v.frame_idx = 2;
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EFAULT);
    v = direct(2, R_RW, 2, PG - 5, 10); /* fr[0] ok, fr[1] outside */
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EFAULT);
    v = direct(2, R_RW, 1, 0, 10);
    v.frame_idx = 4;
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EINVAL);
    v.frame_idx = UINT64_MAX;
    assert_int_equal(create1(f, 1, v, fr, 4), -GNTX_EINVAL);
    v.frame_idx = 3;
    assert_int_equal(create1(f, 1, v, NULL, 0), -GNTX_EINVAL);
    assert_int_equal(create1(f, 1, v, fr, 3), -GNTX_EINVAL);
    assert_int_equal(create1(f, 1, v, fr, 4), 0);
    assert_int_equal(fx_usage(f, 1).entries, 2);
}

static void frames_quota(void **state)
{
    struct fx *f = *state;
    gntx_ref_t a, b;

    fx_quota(f, 1, 100, 100, 4);
    a = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 3 * PG);
    assert_int_equal(fx_direct(f, 1, 2, R_RW, 0, 0, 2 * PG, NULL),
                     -GNTX_ENOSPC);
    b = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 1);
    assert_int_equal(fx_usage(f, 1).frames, 4);
    assert_int_equal(fx_usage(f, 1).max_frames, 4);
    assert_int_equal(fx_direct(f, 1, 2, R_RW, 0, 0, 1, NULL), -GNTX_ENOSPC);
    /* Indirect entries name no frames of their own. */
    fx_indirect_ok(f, 1, 3, GNTX_R_READ, 2,
                   fx_direct_ok(f, 2, 1, R_RWD, 0, 0, 100), 0, 10);
    assert_int_equal(fx_revoke(f, 1, a, 0), 0);
    assert_int_equal(fx_usage(f, 1).frames, 1);
    assert_int_equal(fx_revoke(f, 1, b, 0), 0);
    assert_int_equal(fx_usage(f, 1).frames, 0);
    assert_int_equal(fx_usage(f, 1).entries, 1);
}

static void table_snapshot(struct fx *f, gntx_domid_t dom,
                           struct gntx_entry_info *out, int *n)
{
    struct gntx_query q = {.dom = dom};

    *n = BAL(gcore_query_table(f->c, GNTX_DOMID_CONTROL, &q, out, 32));
    assert_true(*n >= 0);
    assert_int_equal(q.cursor, 0);
}

/* A batch whose 3rd create fails leaves nothing behind. */
static void batch_all_or_nothing(void **state)
{
    struct fx *f = *state;
    uint64_t fr[8] = {0, 1, 2, 3, 4, 5, FX_FRAMES + 3, 7};
    struct gntx_create v[5] = {
        direct(2, R_RW, 1, 0, 10), direct(3, R_RW, 3, 0, 3 * PG),
        direct(2, R_RW, 1, 0, 10), direct(2, R_RW, 1, 0, 10),
        direct(4, GNTX_R_READ, 1, 5, 5)};
    struct gntx_entry_info before[32], after[32];
    struct gntx_usage u0, u1;
    long live;
    int nb, na;

    fx_direct_ok(f, 1, 2, R_RW, 9, 0, 5);
    table_snapshot(f, 1, before, &nb);
    u0 = fx_usage(f, 1);
    live = th_allocs_live();
    v[1].frame_idx = 1;
    v[2].frame_idx = 6; /* outside dom 1's memory */
    assert_int_equal(BAL(gcore_grant_create(f->c, 1, v, 5, fr, 8)),
                     -GNTX_EFAULT);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(v[i].status, i == 2 ? -GNTX_EFAULT : -GNTX_ECANCELED);
        assert_int_equal(v[i].ref, GNTX_REF_INVALID);
    }
    assert_int_equal(th_allocs_live(), live);
    u1 = fx_usage(f, 1);
    assert_memory_equal(&u1, &u0, sizeof(u0));
    table_snapshot(f, 1, after, &na);
    assert_int_equal(na, nb);
    assert_memory_equal(after, before, sizeof(before[0]) * (size_t)nb);
    /* Fixed, the same batch succeeds and every ref works. */
    v[2].frame_idx = 2;
    assert_int_equal(BAL(gcore_grant_create(f->c, 1, v, 5, fr, 8)), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(v[i].status, 0);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(v[i].ref, v[j].ref);
        assert_int_equal(
            fx_copy(f, v[i].grantee, P_GRANT(1, v[i].ref, 0), P_LOCAL(0), 5),
            0);
    }
    assert_int_equal(fx_usage(f, 1).entries, u0.entries + 5);
    assert_int_equal(fx_usage(f, 1).frames, u0.frames + 7);
}

static void batch_quota_midway(void **state)
{
    struct fx *f = *state;
    uint64_t fr[1] = {0};
    struct gntx_create v[3] = {direct(2, R_RW, 1, 0, 10),
                               direct(2, R_RW, 1, 0, 10),
                               direct(2, R_RW, 1, 0, 10)};

    fx_quota(f, 1, 2, 10, 100);
    assert_int_equal(BAL(gcore_grant_create(f->c, 1, v, 3, fr, 1)),
                     -GNTX_ENOSPC);
    assert_int_equal(v[0].status, -GNTX_ECANCELED);
    assert_int_equal(v[1].status, -GNTX_ECANCELED);
    assert_int_equal(v[2].status, -GNTX_ENOSPC);
    assert_int_equal(fx_usage(f, 1).entries, 0);
    assert_int_equal(fx_usage(f, 1).frames, 0);
    /* The undone slots were never published: the next ref is the first. */
    assert_int_equal(fx_direct_ok(f, 1, 2, R_RW, 0, 0, 1), gntx_ref_make(0, 1));
    assert_int_equal(BAL(gcore_grant_create(f->c, 1, v, 0, fr, 1)), 0);
    assert_int_equal(BAL(gcore_grant_create(f->c, 1, NULL, 1, fr, 1)),
                     -GNTX_EINVAL);
}

static void indirect_rules(void **state)
{
    struct fx *f = *state;
    gntx_ref_t p = fx_direct_ok(f, 1, 2, R_RWD, 0, 100, 1000);
    gntx_ref_t nod = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 1000);
    gntx_ref_t dead = fx_direct_ok(f, 1, 2, R_RWD, 0, 0, 1000);

    assert_int_equal(fx_revoke(f, 1, dead, 0), 0);
    fx_indirect_ok(f, 2, 3, GNTX_R_READ, 1, p, 0, 1000);
    fx_indirect_ok(f, 2, 3, R_RWD, 1, p, 999, 1);
    /* Not the parent's grantee. */
    assert_int_equal(fx_indirect(f, 3, 4, GNTX_R_READ, 1, p, 0, 10, NULL),
                     -GNTX_EPERM);
    /* Parent without DELEGATE; rights not a subset. */
    assert_int_equal(fx_indirect(f, 2, 3, GNTX_R_READ, 1, nod, 0, 10, NULL),
                     -GNTX_EPERM);
    assert_int_equal(fx_indirect(f, 2, 3, GNTX_R_MAP, 1, p, 0, 10, NULL),
                     -GNTX_EPERM);
    /* Window. */
    assert_int_equal(fx_indirect(f, 2, 3, GNTX_R_READ, 1, p, 1, 1000, NULL),
                     -GNTX_ERANGE);
    assert_int_equal(fx_indirect(f, 2, 3, GNTX_R_READ, 1, p, 1000, 1, NULL),
                     -GNTX_ERANGE);
    assert_int_equal(
        fx_indirect(f, 2, 3, GNTX_R_READ, 1, p, 10, UINT64_MAX - 5, NULL),
        -GNTX_EOVERFLOW);
    assert_int_equal(fx_indirect(f, 2, 3, GNTX_R_READ, 1, p, 0, 0, NULL),
                     -GNTX_EINVAL);
    /* Dead, never issued, missing domain, own table, bad grantee. */
    assert_int_equal(fx_indirect(f, 2, 3, GNTX_R_READ, 1, dead, 0, 1, NULL),
                     -GNTX_ESTALE);
    assert_int_equal(
        fx_indirect(f, 2, 3, GNTX_R_READ, 1, gntx_ref_make(40, 1), 0, 1, NULL),
        -GNTX_ENOENT);
    assert_int_equal(fx_indirect(f, 2, 3, GNTX_R_READ, 9, p, 0, 1, NULL),
                     -GNTX_ESRCH);
    assert_int_equal(
        fx_indirect(f, 1, 3, GNTX_R_READ, GNTX_DOMID_SELF, p, 0, 1, NULL),
        -GNTX_EPERM);
    assert_int_equal(fx_indirect(f, 2, 2, GNTX_R_READ, 1, p, 0, 1, NULL),
                     -GNTX_EINVAL);
    assert_int_equal(fx_indirect(f, 2, 8, GNTX_R_READ, 1, p, 0, 1, NULL),
                     -GNTX_ESRCH);
    assert_int_equal(fx_usage(f, 2).entries, 2);
    assert_int_equal(fx_usage(f, 2).frames, 0);
}

/* Chains: 8 entries (the direct one included) are fine, 9 are ELOOP. */
static void depth_limit(void **state)
{
    struct fx *f = *state;
    gntx_domid_t owner = 1, holder = 2;
    gntx_ref_t ref = fx_direct_ok(f, 1, 2, R_RWD, 0, 0, 4000);

    fx_pattern(f, 1, 9);
    for (unsigned depth = 2; depth <= GNTX_MAX_DEPTH; depth++) {
        gntx_domid_t next = (gntx_domid_t)(holder % 4 + 1);

        ref =
            fx_indirect_ok(f, holder, next, R_RWD, owner, ref, 1, 4000 - depth);
        owner = holder;
        holder = next;
    }
    assert_int_equal(fx_indirect(f, holder, (gntx_domid_t)(holder % 4 + 1),
                                 GNTX_R_READ, owner, ref, 0, 1, NULL),
                     -GNTX_ELOOP);
    /* The depth-8 leaf works; each hop moved the window by one byte. */
    assert_int_equal(
        fx_copy(f, holder, P_GRANT(owner, ref, 0), P_LOCAL(8 * PG), 9), 0);
    assert_memory_equal(th_dom_mem(f->d[holder], 8 * PG),
                        th_dom_mem(f->d[1], GNTX_MAX_DEPTH - 1), 9);
}

/* Not a benchmark: prints the create+revoke rate as a sanity check. */
static void create_revoke_rate(void **state)
{
    struct fx *f = *state;
    uint64_t fr[1] = {3};
    struct gntx_create v = direct(2, R_RW, 1, 100, 512);
    struct gntx_revoke r = {0};
    struct timespec t0, t1;
    const long n = 2000000;
    double s;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        if (gcore_grant_create(f->c, 1, &v, 1, fr, 1))
            fail();
        r.ref = v.ref;
        if (gcore_grant_revoke(f->c, 1, &r, 1) != 1)
            fail();
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    s = (double)(t1.tv_sec - t0.tv_sec) +
        (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("create+revoke: %.1f M pairs/s (%.1f ns/pair)\n",
                  (double)n / s / 1e6, s * 1e9 / (double)n);
    assert_true(th_balanced());
    assert_int_equal(fx_usage(f, 1).entries, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(direct_arguments),   FX_TEST(exact_frame_count),
        FX_TEST(overflow_and_huge),  FX_TEST(frames_and_aux),
        FX_TEST(frames_quota),       FX_TEST(batch_all_or_nothing),
        FX_TEST(batch_quota_midway), FX_TEST(indirect_rules),
        FX_TEST(depth_limit),        FX_TEST(create_revoke_rate),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
