/* SPDX-License-Identifier: MIT */
/* test_map.c: GNTX_OP_MAP / GNTX_OP_UNMAP and their bookkeeping. */
#include "tests/unit/tutil.h"

#define R_MAPRW (GNTX_R_MAP | GNTX_R_READ | GNTX_R_WRITE)

static void map_basic(void **state)
{
    struct fx *f = *state;
    const uint64_t fr[4] = {9, 3, 14, 0};
    gntx_ref_t r = fx_scattered(f, 1, 2, R_MAPRW, fr, 4, 0, 4 * PG);
    uint64_t out[8] = {0};
    uint32_t h, h2;
    uint16_t root = 0;
    struct gntx_map v = {
        .dom = 1, .ref = r, .offset = PG, .length = 2 * PG, .frame_idx = 5};

    assert_int_equal(fx_map(f, 2, 1, r, 0, 4 * PG, 0, out, 8, &h, &root), 0);
    assert_int_equal(root, 1);
    assert_memory_equal(out, fr, sizeof(fr));
    assert_int_equal(fx_usage(f, 2).maps, 1);
    assert_int_equal(fx_entry(f, 1, r).maps, 1);
    /* A window of the grant, into aux at frame_idx. */
    assert_int_equal(BAL(gcore_map(f->c, 2, &v, 1, out, 8)), 1);
    assert_int_equal(out[5], 3);
    assert_int_equal(out[6], 14);
    h2 = v.handle;
    assert_int_not_equal(h, h2);
    assert_int_equal(fx_entry(f, 1, r).maps, 2);
    assert_int_equal(fx_unmap(f, 2, h), 0);
    assert_int_equal(fx_unmap(f, 2, h), -GNTX_ESTALE);
    assert_int_equal(fx_unmap(f, 2, 0), -GNTX_ENOENT);
    assert_int_equal(fx_unmap(f, 2, gntx_ref_make(100, 1)), -GNTX_ENOENT);
    /* Only the mapper's own table holds its handles. */
    assert_int_equal(fx_unmap(f, 3, h2), -GNTX_ENOENT);
    assert_int_equal(fx_entry(f, 1, r).maps, 1);
    assert_int_equal(fx_unmap(f, 2, h2), 0);
    assert_int_equal(fx_entry(f, 1, r).maps, 0);
    assert_int_equal(fx_usage(f, 2).maps, 0);
    assert_int_equal(fx_revoke(f, 1, r, 0), 0);
}

static void map_rights(void **state)
{
    struct fx *f = *state;
    gntx_ref_t rw = fx_direct_ok(f, 1, 2, R_RW, 0, 0, PG);
    gntx_ref_t mr = fx_direct_ok(f, 1, 2, GNTX_R_MAP | GNTX_R_READ, 0, 0, PG);
    gntx_ref_t mw = fx_direct_ok(f, 1, 2, GNTX_R_MAP | GNTX_R_WRITE, 0, 0, PG);
    uint64_t out[1];

    assert_int_equal(fx_map(f, 2, 1, rw, 0, PG, 0, out, 1, NULL, NULL),
                     -GNTX_EACCES);
    assert_int_equal(fx_map(f, 2, 1, mr, 0, PG, 0, out, 1, NULL, NULL),
                     -GNTX_EACCES);
    assert_int_equal(
        fx_map(f, 2, 1, mr, 0, PG, GNTX_MAP_RDONLY, out, 1, NULL, NULL), 0);
    assert_int_equal(
        fx_map(f, 2, 1, mw, 0, PG, GNTX_MAP_RDONLY, out, 1, NULL, NULL),
        -GNTX_EACCES);
    assert_int_equal(
        fx_map(f, 3, 1, mr, 0, PG, GNTX_MAP_RDONLY, out, 1, NULL, NULL),
        -GNTX_EPERM);
    assert_int_equal(fx_usage(f, 2).maps, 1);
    assert_int_equal(fx_usage(f, 3).maps, 0);
}

/* Only whole, page-aligned pages can be mapped; the rest is copy-only. */
static void map_alignment(void **state)
{
    struct fx *f = *state;
    gntx_ref_t ok = fx_direct_ok(f, 1, 2, R_MAPRW, 0, 0, 2 * PG);
    gntx_ref_t odd = fx_direct_ok(f, 1, 2, R_MAPRW, 0, 100, 2 * PG);
    uint64_t out[4];

    assert_int_equal(fx_map(f, 2, 1, ok, 1, PG, 0, out, 4, NULL, NULL),
                     -GNTX_EINVAL);
    assert_int_equal(fx_map(f, 2, 1, ok, 0, PG + 1, 0, out, 4, NULL, NULL),
                     -GNTX_EINVAL);
    assert_int_equal(fx_map(f, 2, 1, ok, 0, 0, 0, out, 4, NULL, NULL),
                     -GNTX_EINVAL);
    assert_int_equal(fx_map(f, 2, 1, ok, 0, PG, 0x8, out, 4, NULL, NULL),
                     -GNTX_EINVAL);
    assert_int_equal(fx_map(f, 2, 1, odd, 0, PG, 0, out, 4, NULL, NULL),
                     -GNTX_EINVAL);
    assert_int_equal(fx_map(f, 2, 1, ok, PG, 2 * PG, 0, out, 4, NULL, NULL),
                     -GNTX_ERANGE);
    assert_int_equal(
        fx_map(f, 2, 1, ok, PG, UINT64_MAX - PG + 1, 0, out, 4, NULL, NULL),
        -GNTX_EINVAL); /* aux too short for that many pages */
    assert_int_equal(fx_usage(f, 2).maps, 0);
}

static void map_aux_bounds(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_MAPRW, 0, 0, 3 * PG);
    uint64_t out[4] = {0};
    struct gntx_map v = {.dom = 1, .ref = r, .length = 3 * PG, .frame_idx = 2};

    assert_int_equal(BAL(gcore_map(f->c, 2, &v, 1, out, 4)), 0);
    assert_int_equal(v.status, -GNTX_EINVAL);
    v.frame_idx = UINT64_MAX;
    assert_int_equal(BAL(gcore_map(f->c, 2, &v, 1, out, 4)), 0);
    assert_int_equal(v.status, -GNTX_EINVAL);
    v.frame_idx = 1;
    assert_int_equal(BAL(gcore_map(f->c, 2, &v, 1, NULL, 4)), 0);
    assert_int_equal(v.status, -GNTX_EINVAL);
    assert_int_equal(BAL(gcore_map(f->c, 2, &v, 1, out, 4)), 1);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 0);
    assert_int_equal(out[2], 1);
    assert_int_equal(out[3], 2);
}

static void map_quota(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_MAPRW, 0, 0, PG);
    uint64_t out[1];
    uint32_t h;

    fx_quota(f, 2, 100, 2, 100);
    assert_int_equal(fx_map(f, 2, 1, r, 0, PG, 0, out, 1, &h, NULL), 0);
    assert_int_equal(fx_map(f, 2, 1, r, 0, PG, 0, out, 1, NULL, NULL), 0);
    assert_int_equal(fx_map(f, 2, 1, r, 0, PG, 0, out, 1, NULL, NULL),
                     -GNTX_ENOSPC);
    assert_int_equal(fx_usage(f, 2).maps, 2);
    assert_int_equal(fx_usage(f, 2).max_maps, 2);
    assert_int_equal(fx_entry(f, 1, r).maps, 2);
    assert_int_equal(fx_unmap(f, 2, h), 0);
    assert_int_equal(fx_map(f, 2, 1, r, 0, PG, 0, out, 1, NULL, NULL), 0);
    assert_int_equal(fx_entry(f, 1, r).maps, 2);
}

/* Through a delegation: the root's frames, a count on every hop. */
static void map_through_chain(void **state)
{
    struct fx *f = *state;
    const uint64_t fr[3] = {4, 8, 12};
    gntx_ref_t a =
        fx_scattered(f, 1, 2, R_MAPRW | GNTX_R_DELEGATE, fr, 3, 0, 3 * PG);
    gntx_ref_t b =
        fx_indirect_ok(f, 2, 3, R_MAPRW | GNTX_R_DELEGATE, 1, a, PG, 2 * PG);
    gntx_ref_t c =
        fx_indirect_ok(f, 3, 4, GNTX_R_MAP | GNTX_R_READ, 2, b, PG, PG);
    gntx_ref_t nomap = fx_indirect_ok(f, 2, 4, GNTX_R_READ, 1, a, 0, PG);
    uint64_t out[2] = {0};
    uint32_t h;
    uint16_t root;

    assert_int_equal(
        fx_map(f, 4, 3, c, 0, PG, GNTX_MAP_RDONLY, out, 2, &h, &root), 0);
    assert_int_equal(root, 1);
    assert_int_equal(out[0], 12);
    assert_int_equal(fx_entry(f, 1, a).maps, 1);
    assert_int_equal(fx_entry(f, 2, b).maps, 1);
    assert_int_equal(fx_entry(f, 3, c).maps, 1);
    assert_int_equal(fx_map(f, 4, 3, c, 0, PG, 0, out, 2, NULL, NULL),
                     -GNTX_EACCES);
    assert_int_equal(
        fx_map(f, 4, 2, nomap, 0, PG, GNTX_MAP_RDONLY, out, 2, NULL, NULL),
        -GNTX_EACCES);
    assert_int_equal(fx_map(f, 3, 2, b, 0, 2 * PG, 0, out, 2, NULL, &root), 0);
    assert_int_equal(out[0], 8);
    assert_int_equal(out[1], 12);
    assert_int_equal(fx_entry(f, 1, a).maps, 2);
    assert_int_equal(fx_entry(f, 2, b).maps, 2);
    assert_int_equal(fx_unmap(f, 4, h), 0);
    assert_int_equal(fx_entry(f, 1, a).maps, 1);
    assert_int_equal(fx_entry(f, 2, b).maps, 1);
    assert_int_equal(fx_entry(f, 3, c).maps, 0);
    assert_int_equal(fx_usage(f, 4).maps, 0);
    assert_int_equal(fx_usage(f, 3).maps, 1);
}

static void map_batch(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_MAPRW, 0, 0, 2 * PG);
    uint64_t out[4];
    struct gntx_map v[3] = {
        {.dom = 1, .ref = r, .length = PG, .frame_idx = 0},
        {.dom = 1, .ref = r + 1, .length = PG, .frame_idx = 1},
        {.dom = 1, .ref = r, .offset = PG, .length = PG, .frame_idx = 2}};
    struct gntx_unmap u[3];

    assert_int_equal(BAL(gcore_map(f->c, 2, v, 3, out, 4)), 2);
    assert_int_equal(v[0].status, 0);
    assert_int_equal(v[1].status, -GNTX_ENOENT);
    assert_int_equal(v[1].handle, 0);
    assert_int_equal(v[2].status, 0);
    assert_int_equal(out[2], 1);
    u[0].handle = v[0].handle;
    u[1].handle = v[0].handle;
    u[2].handle = v[2].handle;
    assert_int_equal(BAL(gcore_unmap(f->c, 2, u, 3)), 2);
    assert_int_equal(u[1].status, -GNTX_ESTALE);
    assert_int_equal(fx_usage(f, 2).maps, 0);
    assert_int_equal(BAL(gcore_unmap(f->c, 2, NULL, 1)), -GNTX_EINVAL);
    assert_int_equal(BAL(gcore_map(f->c, 2, NULL, 1, out, 4)), -GNTX_EINVAL);
}

/* Map table growth failure and many mappings. */
static void map_table_growth(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_MAPRW, 0, 0, PG);
    uint64_t out[1];
    uint32_t h[200];

    th_fail_alloc_after(0);
    assert_int_equal(fx_map(f, 2, 1, r, 0, PG, 0, out, 1, NULL, NULL),
                     -GNTX_ENOMEM);
    assert_int_equal(fx_entry(f, 1, r).maps, 0);
    for (int i = 0; i < 200; i++)
        assert_int_equal(fx_map(f, 2, 1, r, 0, PG, 0, out, 1, &h[i], NULL), 0);
    assert_int_equal(fx_entry(f, 1, r).maps, 200);
    for (int i = 0; i < 200; i++)
        assert_int_equal(fx_unmap(f, 2, h[i]), 0);
    assert_int_equal(fx_entry(f, 1, r).maps, 0);
}

/* The host hears of every mapping, under the lock, before anyone can name
 * it; a host that cannot record it fails the element and nothing is left. */
static void map_host_record(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_MAPRW, 0, 0, 2 * PG);
    const uint64_t fr[4] = {9, 3, 14, 6};
    gntx_ref_t sc = fx_scattered(f, 1, 2, R_MAPRW, fr, 4, 0, 4 * PG);
    unsigned long made = th_map_made();
    uint64_t out[4], first, last, npages;
    int rdonly;
    uint32_t h;

    assert_int_equal(fx_map(f, 2, 1, r, 0, 2 * PG, 0, out, 2, &h, NULL), 0);
    assert_int_equal(th_map_made(), made + 1);
    assert_int_equal(th_map_made_depth(), 1);
    assert_int_equal(fx_unmap(f, 2, h), 0);
    /* The frames and rights the core decided, not the caller's aux. */
    assert_int_equal(
        fx_map(f, 2, 1, sc, PG, 2 * PG, GNTX_MAP_RDONLY, out, 4, &h, NULL), 0);
    th_map_made_last(&first, &last, &npages, &rdonly);
    assert_int_equal(first, 3);
    assert_int_equal(last, 14);
    assert_int_equal(npages, 2);
    assert_int_equal(rdonly, 1);
    assert_int_equal(fx_unmap(f, 2, h), 0);

    th_fail_map_made(0);
    th_notify_reset();
    assert_int_equal(fx_map(f, 2, 1, r, 0, 2 * PG, 0, out, 2, &h, NULL),
                     -GNTX_ENOMEM);
    th_fail_map_made(-1);
    assert_int_equal(fx_usage(f, 2).maps, 0);
    assert_int_equal(fx_entry(f, 1, r).maps, 0);
    assert_int_equal(th_notify_count(), 0);
    /* Not busy: a plain revoke goes through. */
    assert_int_equal(fx_revoke(f, 1, r, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(map_basic),       FX_TEST(map_rights),
        FX_TEST(map_alignment),   FX_TEST(map_aux_bounds),
        FX_TEST(map_quota),       FX_TEST(map_through_chain),
        FX_TEST(map_batch),       FX_TEST(map_table_growth),
        FX_TEST(map_host_record),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
