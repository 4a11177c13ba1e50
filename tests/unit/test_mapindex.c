/* SPDX-License-Identifier: MIT */
/*
 * test_mapindex.c: a FORCE revoke finds the mappings through its entry in
 * the entry's own list, and a PROTECT's downgrade the mappings of its
 * domain's memory in its direct entries' lists (libgrant/core/map.c,
 * protect.c), not by scanning every domain's map table (issue 12, finding
 * 6: gc_map_drop_entry and maps_downgrade walked all map tables, so
 * revoking a mapped entry or tightening a mapped page cost O(every mapping
 * on the host), and a domain's death O(its entries x every mapping)).
 *
 * Eight bystanders hold 4096 mappings each of another domain's grants; a
 * victim mapper, which the old scan reached last, maps the granter's
 * grants.  The work below must take well under 10 ms of this thread's CPU
 * time (CPU time, so a loaded machine does not decide): the old scans
 * looked at ~70 million map slots for it (93-190 ms).
 */
#include <time.h>

#include "tests/unit/tutil.h"

#define BYSTANDERS 8u
#define PER_BY     4096u
#define VICTIMS    2048u
#define GRANTER    1u
#define VICTIM     2u
#define OTHER      3u /* grants the bystanders map */
#define FIRST_BY   4u
#define NDOM       (FIRST_BY + BYSTANDERS)

static double cpu_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Mappings by `mapper` of one page of each of the `n` grants of `granter`
 * in ref[]. */
static void map_many(struct gcore *c, gntx_domid_t mapper, gntx_domid_t granter,
                     const gntx_ref_t *ref, unsigned n)
{
    static struct gntx_map v[256];
    static uint64_t aux[256];

    for (unsigned done = 0; done < n; done += 256) {
        unsigned k = n - done < 256 ? n - done : 256;

        for (unsigned i = 0; i < k; i++)
            v[i] = (struct gntx_map){.dom = granter,
                                     .ref = ref[done + i],
                                     .length = PG,
                                     .flags = GNTX_MAP_RDONLY,
                                     .frame_idx = i};
        assert_int_equal(gcore_map(c, mapper, v, k, aux, k), (int)k);
    }
}

/* A grant of granter's frame 0 to grantee (READ, MAP). */
static gntx_ref_t grant(struct gcore *c, gntx_domid_t granter,
                        gntx_domid_t grantee)
{
    struct gntx_create v = {.type = GNTX_CREATE_DIRECT,
                            .grantee = grantee,
                            .rights = GNTX_R_MAP | GNTX_R_READ,
                            .nr_frames = 1,
                            .length = PG};
    uint64_t fr = 0;

    assert_int_equal(gcore_grant_create(c, granter, &v, 1, &fr, 1), 0);
    assert_int_equal(v.status, 0);
    return v.ref;
}

struct mi {
    struct gcore *c;
    struct th_dom *mem[NDOM];
    gntx_ref_t vref[VICTIMS]; /* GRANTER's, mapped once each by VICTIM */
};

static int mi_setup(void **state)
{
    struct mi *f = calloc(1, sizeof(*f));
    struct gntx_usage q = {.max_entries = GNTX_MAX_ENTRIES,
                           .max_maps = PER_BY,
                           .max_frames = 1u << 20};

    assert_non_null(f);
    th_reset();
    assert_int_equal(gcore_create(&f->c), 0);
    /* The victim first: c->list puts it last, where the old scans ended. */
    for (unsigned d = 0; d < NDOM; d++) {
        unsigned id = d == 0 ? VICTIM : d == VICTIM ? 0 : d;

        f->mem[id] = th_dom_new(1);
        assert_non_null(f->mem[id]);
        assert_int_equal(gcore_dom_add(f->c, id, 1, f->mem[id]), 0);
    }
    for (unsigned id = 1; id < NDOM; id++) {
        q.dom = (uint16_t)id;
        assert_int_equal(gcore_set_quota(f->c, 0, &q), 0);
    }
    for (unsigned i = 0; i < VICTIMS; i++)
        f->vref[i] = grant(f->c, GRANTER, VICTIM);
    map_many(f->c, VICTIM, GRANTER, f->vref, VICTIMS);
    *state = f;
    return 0;
}

/* The bystanders' 32768 mappings of OTHER's grants. */
static void bystanders_map(struct mi *f)
{
    static gntx_ref_t rep[PER_BY];

    for (unsigned b = 0; b < BYSTANDERS; b++) {
        rep[0] = grant(f->c, OTHER, FIRST_BY + b);
        for (unsigned i = 1; i < PER_BY; i++)
            rep[i] = rep[0];
        map_many(f->c, FIRST_BY + b, OTHER, rep, PER_BY);
    }
}

static int mi_teardown(void **state)
{
    struct mi *f = *state;

    gcore_destroy(f->c);
    assert_int_equal(th_allocs_live(), 0);
    for (unsigned d = 0; d < NDOM; d++)
        th_dom_free(f->mem[d]);
    free(f);
    th_reset();
    return 0;
}

static void force_revoke_indexed(void **state)
{
    static struct gntx_revoke v[VICTIMS];
    struct mi *f = *state;
    double ms;

    bystanders_map(f);
    for (unsigned i = 0; i < VICTIMS; i++)
        v[i] =
            (struct gntx_revoke){.ref = f->vref[i], .flags = GNTX_REVOKE_FORCE};
    ms = cpu_ms();
    assert_int_equal(gcore_grant_revoke(f->c, GRANTER, v, VICTIMS),
                     (int)VICTIMS);
    ms = cpu_ms() - ms;
    print_message("FORCE revoke of %u mapped grants beside %u other mappings: "
                  "%.2f ms CPU\n",
                  VICTIMS, BYSTANDERS * PER_BY, ms);
    assert_int_equal(th_notify_count(), VICTIMS);
    assert_true(ms < 10);
}

/* 100 PROTECT NONE and back of the page VICTIM maps 2048 times: each
 * tightening downgrades those mappings (CPU ms). */
static double protect_toggles(struct mi *f)
{
    struct gntx_protect p = {.gfn = 0, .nr = 1, .action = GNTX_ACT_DENY};
    size_t before = th_restrict_count();
    double ms = cpu_ms();

    for (unsigned i = 0; i < 200; i++) {
        p.access = i % 2 ? GNTX_ACC_RWX : GNTX_ACC_NONE;
        assert_int_equal(gcore_protect(f->c, GRANTER, &p, 1), 1);
    }
    ms = cpu_ms() - ms;
    assert_int_equal(th_restrict_count() - before, 100 * VICTIMS);
    return ms;
}

/* The downgrade costs the same with the bystanders' mappings there. */
static void protect_downgrade_indexed(void **state)
{
    struct mi *f = *state;
    double alone, beside;

    protect_toggles(f); /* warm */
    alone = protect_toggles(f);
    bystanders_map(f);
    beside = protect_toggles(f);
    print_message("100 PROTECT NONE+RWX of a page mapped %u times: %.2f ms "
                  "CPU, %.2f ms beside %u other mappings\n",
                  VICTIMS, alone, beside, BYSTANDERS * PER_BY);
    assert_true(beside < 2 * alone + 2);
}

#define MI_TEST(fn) cmocka_unit_test_setup_teardown(fn, mi_setup, mi_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        MI_TEST(force_revoke_indexed),
        MI_TEST(protect_downgrade_indexed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
