/* SPDX-License-Identifier: MIT */
/* test_copy.c: GNTX_OP_COPY and GNTX_OP_MEMSET. */
#include "tests/unit/tutil.h"

/* Local -> grant over non-contiguous frames, odd offsets on both sides. */
static void local_to_grant_across_pages(void **state)
{
    struct fx *f = *state;
    const uint64_t fr[3] = {5, 2, 9};
    gntx_ref_t r = fx_scattered(f, 1, 2, R_RW, fr, 3, 4000, 5000);
    struct th_dom *d1 = f->d[1];
    uint8_t *copy = malloc(d1->nr_frames * PG);

    fx_pattern(f, 2, 77);
    memcpy(copy, d1->mem, d1->nr_frames * PG);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(4090), P_GRANT(1, r, 1234), 3000),
                     0);
    for (uint64_t i = 0; i < 3000; i++)
        assert_int_equal(*fx_gbyte(f, 1, fr, 4000, 1234 + i),
                         *th_dom_mem(f->d[2], 4090 + i));
    /* Nothing outside the target bytes changed. */
    for (uint64_t i = 0; i < 3000; i++)
        *fx_gbyte(f, 1, fr, 4000, 1234 + i) =
            copy[fr[(4000 + 1234 + i) / PG] * PG + (4000 + 1234 + i) % PG];
    assert_memory_equal(copy, d1->mem, d1->nr_frames * PG);
    free(copy);
}

static void grant_to_local(void **state)
{
    struct fx *f = *state;
    const uint64_t fr[3] = {7, 3, 11};
    gntx_ref_t r = fx_scattered(f, 1, 2, GNTX_R_READ, fr, 3, 17, 2 * PG + 100);

    fx_pattern(f, 1, 5);
    assert_int_equal(
        fx_copy(f, 2, P_GRANT(1, r, 1), P_LOCAL(3 * PG - 3), 2 * PG + 99), 0);
    for (uint64_t i = 0; i < 2 * PG + 99; i++)
        assert_int_equal(*th_dom_mem(f->d[2], 3 * PG - 3 + i),
                         *fx_gbyte(f, 1, fr, 17, 1 + i));
    assert_int_equal(*th_dom_mem(f->d[2], 3 * PG - 4), 0);
    assert_int_equal(*th_dom_mem(f->d[2], 5 * PG + 96), 0);
}

/* Both ends are grants, from two different domains. */
static void grant_to_grant(void **state)
{
    struct fx *f = *state;
    const uint64_t fs[2] = {1, 0}, fd[3] = {8, 6, 4};
    gntx_ref_t s = fx_scattered(f, 1, 2, GNTX_R_READ, fs, 2, 3000, 2000);
    gntx_ref_t d = fx_scattered(f, 3, 2, GNTX_R_WRITE, fd, 3, 4095, 4098);

    fx_pattern(f, 1, 33);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, s, 7), P_GRANT(3, d, 3), 1990),
                     0);
    for (uint64_t i = 0; i < 1990; i++)
        assert_int_equal(*fx_gbyte(f, 3, fd, 4095, 3 + i),
                         *fx_gbyte(f, 1, fs, 3000, 7 + i));
    assert_int_equal(*fx_gbyte(f, 3, fd, 4095, 2), 0);
    assert_int_equal(*fx_gbyte(f, 3, fd, 4095, 1993), 0);
    /* Through a delegation on one side. */
    gntx_ref_t a = fx_direct_ok(f, 4, 2, R_RWD, 0, 0, 3 * PG);
    gntx_ref_t b = fx_indirect_ok(f, 2, 3, GNTX_R_READ, 4, a, PG - 10, 100);
    fx_pattern(f, 4, 91);
    assert_int_equal(fx_copy(f, 3, P_GRANT(2, b, 0), P_LOCAL(10), 100), 0);
    assert_memory_equal(th_dom_mem(f->d[3], 10), th_dom_mem(f->d[4], PG - 10),
                        100);
}

static void memset_paths(void **state)
{
    struct fx *f = *state;
    const uint64_t fr[3] = {3, 12, 1};
    gntx_ref_t r = fx_scattered(f, 1, 2, GNTX_R_WRITE, fr, 3, 2000, 7000);
    gntx_ref_t ro = fx_direct_ok(f, 1, 2, GNTX_R_READ, 0, 0, 10);

    assert_int_equal(fx_memset(f, 2, P_GRANT(1, r, 100), 6000, 0xa5), 0);
    for (uint64_t i = 0; i < 7000; i++)
        assert_int_equal(*fx_gbyte(f, 1, fr, 2000, i),
                         i >= 100 && i < 6100 ? 0xa5 : 0);
    assert_int_equal(fx_memset(f, 2, P_GRANT(1, r, 100), 6901, 1),
                     -GNTX_ERANGE);
    assert_int_equal(fx_memset(f, 2, P_GRANT(1, ro, 0), 1, 1), -GNTX_EACCES);
    assert_int_equal(fx_memset(f, 3, P_GRANT(1, r, 0), 1, 1), -GNTX_EPERM);
    assert_int_equal(fx_memset(f, 2, P_LOCAL(PG - 1), PG + 2, 0x5a), 0);
    assert_int_equal(*th_dom_mem(f->d[2], PG - 2), 0);
    assert_int_equal(*th_dom_mem(f->d[2], PG - 1), 0x5a);
    assert_int_equal(*th_dom_mem(f->d[2], 2 * PG), 0x5a);
    assert_int_equal(*th_dom_mem(f->d[2], 2 * PG + 1), 0);
    assert_int_equal(fx_memset(f, 2, P_LOCAL(FX_FRAMES * PG - 1), 2, 1),
                     -GNTX_EFAULT);
    assert_int_equal(fx_memset(f, 2, P_LOCAL(5), 0, 1), 0);
    struct gntx_ptr bad = {.kind = 9};
    assert_int_equal(fx_memset(f, 2, bad, 1, 1), -GNTX_EINVAL);
    assert_int_equal(fx_memset(f, 2, P_GRANT(1, r, 0), 0, 1), 0);
}

/* Rights, grantee, bounds: each failure copies nothing. */
static void refusals_copy_nothing(void **state)
{
    struct fx *f = *state;
    gntx_ref_t ro = fx_direct_ok(f, 1, 2, GNTX_R_READ, 0, 0, 100);
    gntx_ref_t wo = fx_direct_ok(f, 1, 2, GNTX_R_WRITE, 1, 0, 100);
    gntx_ref_t rw = fx_direct_ok(f, 1, 2, R_RW, 2, 0, 100);
    gntx_ref_t dead = fx_direct_ok(f, 1, 2, R_RW, 3, 0, 100);
    struct gntx_ptr badk = {.kind = 2};

    fx_pattern(f, 2, 1);
    assert_int_equal(fx_revoke(f, 1, dead, 0), 0);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(0), P_GRANT(1, ro, 0), 10),
                     -GNTX_EACCES);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, wo, 0), P_LOCAL(0), 10),
                     -GNTX_EACCES);
    assert_int_equal(fx_copy(f, 3, P_LOCAL(0), P_GRANT(1, rw, 0), 10),
                     -GNTX_EPERM);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(0), P_GRANT(1, dead, 0), 10),
                     -GNTX_ESTALE);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(0), P_GRANT(1, rw, 95), 10),
                     -GNTX_ERANGE);
    assert_int_equal(
        fx_copy(f, 2, P_LOCAL(FX_FRAMES * PG - 5), P_GRANT(1, rw, 0), 10),
        -GNTX_EFAULT);
    assert_int_equal(
        fx_copy(f, 2, P_LOCAL(UINT64_MAX - 2), P_GRANT(1, rw, 0), 10),
        -GNTX_EOVERFLOW);
    /* The source is fine but the destination is not: nothing moves. */
    assert_int_equal(
        fx_copy(f, 2, P_GRANT(1, ro, 0), P_LOCAL(FX_FRAMES * PG), 1),
        -GNTX_EFAULT);
    assert_int_equal(fx_copy(f, 2, badk, P_GRANT(1, rw, 0), 1), -GNTX_EINVAL);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(0), badk, 1), -GNTX_EINVAL);
    for (uint64_t i = 0; i < 4 * PG; i++)
        assert_int_equal(f->d[1]->mem[i], 0);
    /* len 0 moves nothing but is still a use: a dead grant fails. */
    assert_int_equal(fx_copy(f, 2, P_LOCAL(0), P_GRANT(1, dead, 0), 0),
                     -GNTX_ESTALE);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(0), P_GRANT(1, rw, 100), 0), 0);
}

static void batch_per_element(void **state)
{
    struct fx *f = *state;
    gntx_ref_t rw = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 100);
    struct gntx_copy v[3] = {
        {.src = P_LOCAL(0), .dst = P_GRANT(1, rw, 0), .len = 10},
        {.src = P_LOCAL(0), .dst = P_GRANT(1, rw, 95), .len = 10},
        {.src = P_LOCAL(20), .dst = P_GRANT(1, rw, 50), .len = 10}};

    fx_pattern(f, 2, 4);
    assert_int_equal(BAL(gcore_copy(f->c, 2, v, 3)), 2);
    assert_int_equal(v[0].status, 0);
    assert_int_equal(v[1].status, -GNTX_ERANGE);
    assert_int_equal(v[2].status, 0);
    assert_memory_equal(th_dom_mem(f->d[1], 0), th_dom_mem(f->d[2], 0), 10);
    assert_memory_equal(th_dom_mem(f->d[1], 50), th_dom_mem(f->d[2], 20), 10);
    assert_int_equal(*th_dom_mem(f->d[1], 95), 0);
    assert_int_equal(BAL(gcore_copy(f->c, 2, NULL, 1)), -GNTX_EINVAL);
    assert_int_equal(BAL(gcore_copy(f->c, 2, v, 0)), 0);
    assert_int_equal(BAL(gcore_copy(f->c, 9, v, 1)), 0);
    assert_int_equal(v[0].status, -GNTX_ESRCH);
}

/* The host cannot provide a frame: EFAULT, every frame put back. */
static void host_frame_failure(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 4, 0, 3 * PG);

    th_fail_frame(f->d[1], 6);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(0), P_GRANT(1, r, 0), 3 * PG),
                     -GNTX_EFAULT);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, r, 0), P_LOCAL(0), 3 * PG),
                     -GNTX_EFAULT);
    assert_int_equal(fx_memset(f, 2, P_GRANT(1, r, 0), 3 * PG, 1),
                     -GNTX_EFAULT);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(0), P_GRANT(1, r, 0), 2 * PG), 0);
    th_fail_frame(f->d[1], TH_NO_FAIL);
    th_fail_frame(f->d[2], 0);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(0), P_GRANT(1, r, 0), 1),
                     -GNTX_EFAULT);
    assert_int_equal(fx_copy(f, 2, P_GRANT(1, r, 0), P_LOCAL(0), 1),
                     -GNTX_EFAULT);
    th_fail_frame(f->d[2], TH_NO_FAIL);
}

static void local_to_local(void **state)
{
    struct fx *f = *state;

    fx_pattern(f, 2, 8);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(100), P_LOCAL(5 * PG + 7), 9000), 0);
    assert_memory_equal(th_dom_mem(f->d[2], 5 * PG + 7),
                        th_dom_mem(f->d[2], 100), 9000);
}

/*
 * Regression (found by fuzz_core): overlapping ends reached gh_memcpy as
 * one overlapping memcpy, undefined behaviour in every host.  Each chunk
 * must move as memmove would.
 */
static void overlapping_ends(void **state)
{
    struct fx *f = *state;
    uint8_t want[PG];
    gntx_ref_t a = fx_direct_ok(f, 1, 2, R_RW, 3, 0, PG);
    gntx_ref_t b = fx_direct_ok(f, 1, 2, R_RW, 3, 0, PG);

    fx_pattern(f, 2, 3);
    memcpy(want, th_dom_mem(f->d[2], 0), PG);
    memmove(want + 10, want, 1000);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(0), P_LOCAL(10), 1000), 0);
    assert_memory_equal(th_dom_mem(f->d[2], 0), want, PG);
    memmove(want, want + 1, 3000);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(1), P_LOCAL(0), 3000), 0);
    assert_memory_equal(th_dom_mem(f->d[2], 0), want, PG);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(77), P_LOCAL(77), 500), 0);
    assert_memory_equal(th_dom_mem(f->d[2], 0), want, PG);
    /* Two grants over the same frame. */
    fx_pattern(f, 1, 9);
    memcpy(want, th_dom_mem(f->d[1], 3 * PG), PG);
    memmove(want + 4000, want + 3900, 96);
    assert_int_equal(
        fx_copy(f, 2, P_GRANT(1, a, 3900), P_GRANT(1, b, 4000), 96), 0);
    assert_memory_equal(th_dom_mem(f->d[1], 3 * PG), want, PG);
}

/* The ABI's rule for overlapping ends, as a model: chunks that end at
 * every page boundary of either side, ascending, each moved as memmove. */
static void model_chunked_move(uint8_t *mem, uint64_t src, uint64_t dst,
                               uint64_t len)
{
    while (len) {
        uint64_t k = PG - (src % PG);

        if (PG - (dst % PG) < k)
            k = PG - (dst % PG);
        if (len < k)
            k = len;
        memmove(mem + dst, mem + src, k);
        src += k;
        dst += k;
        len -= k;
    }
}

/* Overlapping ends over several pages: backwards (dst < src) is exactly
 * memmove; forwards follows the page-bounded chunk rule; no single host
 * memcpy ever sees overlapping ranges (th_balanced checks). */
static void overlapping_multi_page(void **state)
{
    struct fx *f = *state;
    static uint8_t want[4 * PG];

    fx_pattern(f, 2, 5);
    memcpy(want, th_dom_mem(f->d[2], 0), sizeof(want));
    memmove(want, want + 10, 9000);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(10), P_LOCAL(0), 9000), 0);
    assert_memory_equal(th_dom_mem(f->d[2], 0), want, sizeof(want));

    model_chunked_move(want, 100, 4200, 9000);
    assert_int_equal(fx_copy(f, 2, P_LOCAL(100), P_LOCAL(4200), 9000), 0);
    assert_memory_equal(th_dom_mem(f->d[2], 0), want, sizeof(want));
}

/* The per-call byte budget: an element cut short comes back -EAGAIN with
 * its addresses advanced; those after it come back -EAGAIN untouched;
 * resubmitting continues exactly where it stopped. */
static void budget_continuation(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 3 * PG);
    struct gntx_copy v[2] = {
        {.src = P_LOCAL(100), .dst = P_GRANT(1, r, 10), .len = 9000},
        {.src = P_LOCAL(0), .dst = P_GRANT(1, r, 0), .len = 1}};
    struct gntx_memset m = {
        .dst = P_GRANT(1, r, 0), .len = 3 * PG, .value = 0xee};
    int rounds = 0;

    gcore_set_call_bytes(f->c, 4000);
    fx_pattern(f, 2, 6);
    assert_int_equal(BAL(gcore_copy(f->c, 2, v, 2)), 0);
    assert_int_equal(v[0].status, -GNTX_EAGAIN);
    assert_int_equal(v[0].len, 5000);
    assert_int_equal(v[0].src.addr, 4100);
    assert_int_equal(v[0].dst.addr, 4010);
    assert_int_equal(v[1].status, -GNTX_EAGAIN);
    assert_int_equal(v[1].len, 1);
    /* Only the first 4000 bytes moved. */
    assert_memory_equal(th_dom_mem(f->d[1], 10), th_dom_mem(f->d[2], 100),
                        4000);
    assert_memory_not_equal(th_dom_mem(f->d[1], 4010),
                            th_dom_mem(f->d[2], 4100), 16);
    while (v[0].status == -GNTX_EAGAIN && rounds++ < 10)
        BAL(gcore_copy(f->c, 2, v, 2));
    assert_int_equal(rounds, 2);
    assert_int_equal(v[0].status, 0);
    assert_int_equal(v[1].status, 0);
    assert_memory_equal(th_dom_mem(f->d[1], 0), th_dom_mem(f->d[2], 0), 1);
    assert_memory_equal(th_dom_mem(f->d[1], 10), th_dom_mem(f->d[2], 100),
                        9000);
    /* A revoke between rounds stops the rest. */
    assert_int_equal(BAL(gcore_memset(f->c, 2, &m, 1)), 0);
    assert_int_equal(m.status, -GNTX_EAGAIN);
    assert_int_equal(fx_revoke(f, 1, r, 0), 0);
    assert_int_equal(BAL(gcore_memset(f->c, 2, &m, 1)), 0);
    assert_int_equal(m.status, -GNTX_ESTALE);
    assert_int_equal(*th_dom_mem(f->d[1], 3999), 0xee);
    assert_int_not_equal(*th_dom_mem(f->d[1], 4000), 0xee);
    gcore_set_call_bytes(f->c, 0);
}

/* Protections are checked on the bytes each call moves, never on the rest
 * of the element: a LOG page at the end of an element three budgets long
 * is logged once (checking the whole rest on every pass logged it three
 * times, and cost each pass the whole element's pages). */
static void protect_per_chunk(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 3 * PG);
    struct gntx_protect p = {
        .gfn = 2, .nr = 1, .access = GNTX_ACC_NONE, .action = GNTX_ACT_LOG};
    struct gntx_copy v = {
        .src = P_GRANT(1, r, 0), .dst = P_LOCAL(0), .len = 3 * PG};
    struct gntx_fault_stats s = {.dom = 1};
    int rounds = 0;

    assert_int_equal(BAL(gcore_protect(f->c, 1, &p, 1)), 1);
    gcore_set_call_bytes(f->c, PG);
    do
        BAL(gcore_copy(f->c, 2, &v, 1));
    while (v.status == -GNTX_EAGAIN && ++rounds < 10);
    assert_int_equal(v.status, 0);
    assert_int_equal(rounds, 2);
    assert_int_equal(BAL(gcore_fault_stats(f->c, 0, &s)), 0);
    assert_int_equal(s.logged, 1);
    /* A DENY page stops the element when its chunk comes: a prefix moved. */
    p.action = GNTX_ACT_DENY;
    assert_int_equal(BAL(gcore_protect(f->c, 1, &p, 1)), 1);
    v = (struct gntx_copy){
        .src = P_GRANT(1, r, 0), .dst = P_LOCAL(0), .len = 3 * PG};
    fx_pattern(f, 1, 3);
    BAL(gcore_copy(f->c, 2, &v, 1));
    assert_int_equal(v.status, -GNTX_EAGAIN);
    BAL(gcore_copy(f->c, 2, &v, 1));
    assert_int_equal(v.status, -GNTX_EAGAIN);
    BAL(gcore_copy(f->c, 2, &v, 1));
    assert_int_equal(v.status, -GNTX_EACCES);
    assert_memory_equal(th_dom_mem(f->d[2], 0), th_dom_mem(f->d[1], 0), 2 * PG);
    gcore_set_call_bytes(f->c, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(local_to_grant_across_pages),
        FX_TEST(grant_to_local),
        FX_TEST(grant_to_grant),
        FX_TEST(memset_paths),
        FX_TEST(refusals_copy_nothing),
        FX_TEST(batch_per_element),
        FX_TEST(host_frame_failure),
        FX_TEST(local_to_local),
        FX_TEST(overlapping_ends),
        FX_TEST(overlapping_multi_page),
        FX_TEST(budget_continuation),
        FX_TEST(protect_per_chunk),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
