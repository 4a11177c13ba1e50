/* SPDX-License-Identifier: MIT */
/* test_hypercall.c: gcore_hypercall's call-wide checks and dispatch. */
#include "tests/unit/tutil.h"

static long hc(struct fx *f, gntx_domid_t caller, unsigned op, void *args,
               unsigned count, void *aux, uint64_t aux_count)
{
    return BAL(gcore_hypercall(f->c, caller, op, args, count, aux, aux_count));
}

static void call_checks(void **state)
{
    struct fx *f = *state;
    struct gntx_revoke r[GNTX_MAX_BATCH + 1];

    memset(r, 0, sizeof(r));
    assert_int_equal(hc(f, 1, GNTX_OP_VERSION, NULL, 0, NULL, 0),
                     GNTX_ABI_VERSION);
    assert_int_equal(hc(f, 1, GNTX_OP_VERSION, r, 1, NULL, 0), -GNTX_EINVAL);
    assert_int_equal(hc(f, 1, 0, NULL, 0, NULL, 0), -GNTX_ENOSYS);
    assert_int_equal(hc(f, 1, GNTX_OP__MAX, NULL, 0, NULL, 0), -GNTX_ENOSYS);
    assert_int_equal(hc(f, 1, 1000, r, 1, NULL, 0), -GNTX_ENOSYS);
    assert_int_equal(hc(f, 1, GNTX_OP_REVOKE, r, GNTX_MAX_BATCH + 1, NULL, 0),
                     -GNTX_E2BIG);
    assert_int_equal(hc(f, 1, GNTX_OP_REVOKE, r, GNTX_MAX_BATCH, NULL, 0), 0);
    assert_int_equal(r[GNTX_MAX_BATCH - 1].status, -GNTX_ENOENT);
    assert_int_equal(hc(f, 1, GNTX_OP_REVOKE, NULL, 1, NULL, 0), -GNTX_EINVAL);
    assert_int_equal(hc(f, 1, GNTX_OP_REVOKE, r, 1, NULL, 5), -GNTX_EINVAL);
    assert_int_equal(hc(f, 9, GNTX_OP_REVOKE, r, 1, NULL, 0), -GNTX_ESRCH);
    assert_int_equal(hc(f, 1, GNTX_OP_USAGE, r, 2, NULL, 0), -GNTX_EINVAL);
    assert_int_equal(hc(f, 1, GNTX_OP_QUERY_TABLE, r, 0, NULL, 0),
                     -GNTX_EINVAL);
}

/* CREATE: aux too short is an error of the whole call; nothing changes. */
static void create_aux(void **state)
{
    struct fx *f = *state;
    uint64_t fr[3] = {0, 1, 2};
    struct gntx_create v[2] = {{.type = GNTX_CREATE_DIRECT,
                                .grantee = 2,
                                .rights = R_RW,
                                .nr_frames = 1,
                                .frame_idx = 0,
                                .length = 10,
                                .status = 99},
                               {.type = GNTX_CREATE_DIRECT,
                                .grantee = 2,
                                .rights = R_RW,
                                .nr_frames = 2,
                                .frame_idx = 1,
                                .length = PG + 1,
                                .status = 99}};

    assert_int_equal(hc(f, 1, GNTX_OP_CREATE, v, 2, fr, 2), -GNTX_EINVAL);
    assert_int_equal(v[0].status, 99);
    assert_int_equal(hc(f, 1, GNTX_OP_CREATE, v, 2, NULL, 0), -GNTX_EINVAL);
    v[1].frame_idx = UINT64_MAX;
    assert_int_equal(hc(f, 1, GNTX_OP_CREATE, v, 2, fr, 3), -GNTX_EINVAL);
    assert_int_equal(fx_usage(f, 1).entries, 0);
    v[1].frame_idx = 1;
    assert_int_equal(hc(f, 1, GNTX_OP_CREATE, v, 2, fr, 3), 0);
    assert_int_equal(v[0].status, 0);
    assert_int_equal(v[1].status, 0);
    assert_int_equal(fx_usage(f, 1).frames, 3);
    /* Indirect elements need no aux; per-element errors stay per element. */
    struct gntx_create ind = {.type = GNTX_CREATE_INDIRECT,
                              .grantee = 3,
                              .rights = GNTX_R_READ,
                              .parent_dom = 1,
                              .parent_ref = v[0].ref,
                              .length = 1,
                              .frame_idx = UINT64_MAX,
                              .nr_frames = 9};
    assert_int_equal(hc(f, 2, GNTX_OP_CREATE, &ind, 1, NULL, 0), -GNTX_EPERM);
    assert_int_equal(ind.status, -GNTX_EPERM);
}

static void map_aux(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, GNTX_R_MAP | R_RW, 0, 0, 2 * PG);
    uint64_t out[2];
    struct gntx_map m = {
        .dom = 1, .ref = r, .length = 2 * PG, .frame_idx = 1, .status = 99};
    struct gntx_unmap u;

    assert_int_equal(hc(f, 2, GNTX_OP_MAP, &m, 1, out, 2), -GNTX_EINVAL);
    assert_int_equal(m.status, 99);
    m.frame_idx = 0;
    assert_int_equal(hc(f, 2, GNTX_OP_MAP, &m, 1, out, 2), 1);
    assert_int_equal(out[1], 1);
    u.handle = m.handle;
    assert_int_equal(hc(f, 2, GNTX_OP_UNMAP, &u, 1, NULL, 0), 1);
    assert_int_equal(u.status, 0);
}

/* Every op reaches its typed entry point; DOMID_SELF names the caller. */
static void dispatch_and_self(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 100);
    struct gntx_copy c = {.src = P_LOCAL(0), .dst = P_GRANT(1, r, 0), .len = 4};
    struct gntx_memset ms = {.dst = P_GRANT(1, r, 10), .len = 5, .value = 7};
    struct gntx_usage u = {.dom = GNTX_DOMID_SELF};
    struct gntx_query q = {.dom = GNTX_DOMID_SELF};
    struct gntx_entry_info info[2];
    struct gntx_revoke rv = {.ref = r};

    memcpy(th_dom_mem(f->d[2], 0), "abcd", 4);
    assert_int_equal(hc(f, 2, GNTX_OP_COPY, &c, 1, NULL, 0), 1);
    assert_memory_equal(th_dom_mem(f->d[1], 0), "abcd", 4);
    assert_int_equal(hc(f, 2, GNTX_OP_MEMSET, &ms, 1, NULL, 0), 1);
    assert_int_equal(*th_dom_mem(f->d[1], 14), 7);
    assert_int_equal(*th_dom_mem(f->d[1], 15), 0);
    assert_int_equal(hc(f, 1, GNTX_OP_USAGE, &u, 1, NULL, 0), 0);
    assert_int_equal(u.entries, 1);
    assert_int_equal(hc(f, 1, GNTX_OP_QUERY_TABLE, &q, 1, info, 2), 1);
    assert_int_equal(info[0].ref, r);
    q = (struct gntx_query){.dom = GNTX_DOMID_SELF, .ref = r};
    assert_int_equal(hc(f, 1, GNTX_OP_QUERY_TREE, &q, 1, info, 2), 1);
    u = (struct gntx_usage){
        .dom = 1, .max_entries = 5, .max_maps = 5, .max_frames = 5};
    assert_int_equal(hc(f, 1, GNTX_OP_SET_QUOTA, &u, 1, NULL, 0), -GNTX_EPERM);
    assert_int_equal(hc(f, 0, GNTX_OP_SET_QUOTA, &u, 1, NULL, 0), 0);
    assert_int_equal(fx_usage(f, 1).max_entries, 5);
    /* A grant "from SELF" is the caller's own table: not its grantee. */
    c.dst = P_GRANT(GNTX_DOMID_SELF, r, 0);
    assert_int_equal(hc(f, 1, GNTX_OP_COPY, &c, 1, NULL, 0), 0);
    assert_int_equal(c.status, -GNTX_EPERM);
    assert_int_equal(hc(f, 1, GNTX_OP_REVOKE, &rv, 1, NULL, 0), 1);
    assert_int_equal(fx_usage(f, 1).entries, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(call_checks),
        FX_TEST(create_aux),
        FX_TEST(map_aux),
        FX_TEST(dispatch_and_self),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
