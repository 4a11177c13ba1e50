/* SPDX-License-Identifier: MIT */
/*
 * test_bound.c: no single core call of one domain holds the core for long
 * (issue 11 "Bound", issue 12 finding 2).  A hostile domain runs each load
 * below while a bystander thread copies 4 KiB within its own memory in a
 * loop (the same core, so it waits for the core's lock):
 *   protect  PROTECT batches of 4096 elements, each the hostile domain's
 *            whole memory, alternating R and RWX, resubmitted as cut;
 *   copy     after a PROTECT of its last page, COPY batches of 4096
 *            elements, each the rest of its memory onto itself;
 *   query    QUERY_TREE of a grant a colluding domain delegated from
 *            16384 times, cursor after cursor.
 * The check is the CPU time of the hostile domain's longest single call
 * (how long it holds the lock, whatever else the machine runs), which must
 * stay under BOUND_MS; the bystander's worst wall-clock wait is printed
 * beside it.  XGRANT_BOUND_LONG=1: 1 GiB, 32768 delegations, 3 s a load.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "tests/unit/tutil.h"

#define BOUND_MS 100 /* generous: the goal is ~10 ms */
#define BATCH    GNTX_MAX_BATCH
#define EVIL     5u /* the hostile domain, ids 0..4 are the fixture's */
#define PEER     6u /* its colluder */

static struct {
    uint64_t pages, kids, ms;
} cfg;

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The bystander: domain 1 copies 4 KiB of its memory until told to stop. */
struct bystander {
    struct gcore *c;
    volatile int stop;
    uint64_t worst_ns, copies;
    int bad;
};

static void *bystander_run(void *arg)
{
    struct bystander *b = arg;

    while (!b->stop) {
        struct gntx_copy v = {
            .src = P_LOCAL(0), .dst = P_LOCAL(2 * PG), .len = PG};
        uint64_t t0 = clock_ns(CLOCK_MONOTONIC), dt;

        b->bad |= gcore_copy(b->c, 1, &v, 1) != 1;
        dt = clock_ns(CLOCK_MONOTONIC) - t0;
        b->worst_ns = dt > b->worst_ns ? dt : b->worst_ns;
        b->copies++;
    }
    return NULL;
}

/* The hostile side of a load: one call, and how long it held the core. */
struct load {
    const char *name;
    struct fx *f;
    uint64_t longest_ns, calls, end_ns;
    uint32_t root;
};

static long timed(struct load *l, unsigned op, void *args, unsigned n,
                  void *aux, uint64_t naux)
{
    uint64_t t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), dt;
    long rc = gcore_hypercall(l->f->c, EVIL, op, args, n, aux, naux);

    dt = clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
    l->longest_ns = dt > l->longest_ns ? dt : l->longest_ns;
    l->calls++;
    return rc;
}

static bool time_left(const struct load *l)
{
    return clock_ns(CLOCK_MONOTONIC) < l->end_ns;
}

/* Sends v[0..n) and resubmits the -EAGAIN elements, as libgrant does. */
static void send_all(struct load *l, unsigned op, void *v, unsigned n,
                     size_t esz, size_t status_off)
{
    while (n && time_left(l)) {
        unsigned k = 0;

        assert_true(timed(l, op, v, n, NULL, 0) >= 0);
        for (unsigned i = 0; i < n; i++) {
            char *e = (char *)v + i * esz;

            if (*(int32_t *)(void *)(e + status_off) == -GNTX_EAGAIN)
                memmove((char *)v + k++ * esz, e, esz);
        }
        n = k;
    }
}

static void load_protect(struct load *l)
{
    static struct gntx_protect v[BATCH];

    for (unsigned i = 0; i < BATCH; i++)
        v[i] =
            (struct gntx_protect){.nr = cfg.pages,
                                  .access = i % 2 ? GNTX_ACC_RWX : GNTX_ACC_R,
                                  .action = GNTX_ACT_LOG};
    send_all(l, GNTX_OP_PROTECT, v, BATCH, sizeof(v[0]),
             offsetof(struct gntx_protect, status));
}

static void load_copy(struct load *l)
{
    static struct gntx_copy v[BATCH];

    for (unsigned i = 0; i < BATCH; i++)
        v[i] = (struct gntx_copy){
            .src = P_LOCAL(0), .dst = P_LOCAL(0), .len = (cfg.pages - 1) * PG};
    send_all(l, GNTX_OP_COPY, v, BATCH, sizeof(v[0]),
             offsetof(struct gntx_copy, status));
}

/* Room for the whole tree: the core bounds a call, not the caller. */
static void load_query(struct load *l)
{
    static struct gntx_entry_info out[(1u << 15) + 1];
    struct gntx_query q = {.dom = EVIL, .ref = l->root};

    do
        assert_true(timed(l, GNTX_OP_QUERY_TREE, &q, 1, out, cfg.kids + 1) > 0);
    while (q.cursor && time_left(l));
}

/* Runs `fn` again and again for cfg.ms beside the bystander. */
static void under_load(struct load *l, void (*fn)(struct load *))
{
    struct bystander b = {.c = l->f->c};
    pthread_t t;

    l->end_ns = clock_ns(CLOCK_MONOTONIC) + cfg.ms * 1000000u;
    assert_int_equal(pthread_create(&t, NULL, bystander_run, &b), 0);
    while (time_left(l))
        fn(l);
    b.stop = 1;
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_false(b.bad);
    printf("bound(core): %-7s longest hostile call %7.2f ms CPU (%llu "
           "calls); bystander worst 4 KiB copy wait %7.2f ms (%llu copies)\n",
           l->name, l->longest_ns / 1e6, (unsigned long long)l->calls,
           b.worst_ns / 1e6, (unsigned long long)b.copies);
    assert_true(l->longest_ns < BOUND_MS * 1000000ull);
}

static int bound_setup(void **state)
{
    const char *big = getenv("XGRANT_BOUND_LONG");

    cfg.pages = big ? 1u << 18 : 1u << 16;
    cfg.kids = big ? 1u << 15 : 1u << 14;
    cfg.ms = big ? 3000 : 150;
    return fx_setup(state);
}

/* The hostile domain's memory is calloc'd but never touched: PROTECT
 * names frames only, and a copy onto itself moves no byte. */
static void protect_load(void **state)
{
    struct fx *f = *state;
    struct th_dom *m = th_dom_new(cfg.pages);
    struct load l = {"protect", f};

    assert_non_null(m);
    assert_int_equal(gcore_dom_add(f->c, EVIL, cfg.pages, m), 0);
    under_load(&l, load_protect);
    gcore_dom_remove(f->c, EVIL);
    th_dom_free(m);
}

static void copy_load(void **state)
{
    struct fx *f = *state;
    struct th_dom *m = th_dom_new(cfg.pages);
    struct gntx_protect last = {.gfn = cfg.pages - 1, .nr = 1};
    struct load l = {"copy", f};

    assert_non_null(m);
    assert_int_equal(gcore_dom_add(f->c, EVIL, cfg.pages, m), 0);
    assert_int_equal(gcore_protect(f->c, EVIL, &last, 1), 1);
    under_load(&l, load_copy);
    gcore_dom_remove(f->c, EVIL);
    th_dom_free(m);
}

static void query_load(void **state)
{
    struct fx *f = *state;
    static struct gntx_create v[BATCH];
    struct load l = {"query", f};
    uint64_t frame = 0;

    assert_int_equal(gcore_dom_add(f->c, EVIL, FX_FRAMES, f->d[3]), 0);
    assert_int_equal(gcore_dom_add(f->c, PEER, FX_FRAMES, f->d[4]), 0);
    fx_quota(f, PEER, (uint32_t)cfg.kids + 64, 1, 1);
    v[0] = (struct gntx_create){.type = GNTX_CREATE_DIRECT,
                                .grantee = PEER,
                                .rights = GNTX_R_READ | GNTX_R_DELEGATE,
                                .nr_frames = 1,
                                .length = 1};
    assert_int_equal(gcore_grant_create(f->c, EVIL, v, 1, &frame, 1), 0);
    l.root = v[0].ref;
    for (uint64_t at = 0; at < cfg.kids; at += BATCH) {
        for (unsigned i = 0; i < BATCH; i++)
            v[i] = (struct gntx_create){.type = GNTX_CREATE_INDIRECT,
                                        .grantee = EVIL,
                                        .rights = GNTX_R_READ,
                                        .parent_dom = EVIL,
                                        .parent_ref = l.root,
                                        .length = 1};
        assert_int_equal(gcore_grant_create(f->c, PEER, v, BATCH, NULL, 0), 0);
    }
    under_load(&l, load_query);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(protect_load, bound_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(copy_load, bound_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(query_load, bound_setup, fx_teardown),
    };

    setvbuf(stdout, NULL, _IOLBF, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
