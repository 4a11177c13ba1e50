/* SPDX-License-Identifier: MIT */
/*
 * test_inflight.c: COPY and MEMSET move their bytes outside the core lock
 * (libgrant/core/inflight.c), and a revoke or PROTECT that returns leaves
 * no byte moving under the old rules.
 *
 * The test host's gh_frame sleeps for the granter's frames
 * (frame_delay_us), so a 4 MiB call takes tens of milliseconds while
 * another thread works on the same core.  Before, the whole call held the
 * lock: a bystander's 4 KiB copy and the granter's revoke waited for all
 * of it.  How long something waited is counted in the big call's frames
 * (gh_frame calls) that went by meanwhile, not in time, so a loaded
 * machine does not change the verdict: the old lock lets ~950 of its 1024
 * frames go by, a chunk is 64.
 */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/tutil.h"

#define BIG_FRAMES 1100u
#define BIG        (4u << 20) /* one call's budget */
#define DELAY_US   40u

struct lk {
    struct gcore *c;
    struct th_dom *d[3]; /* 0: granter, 1: the big caller, 2: bystander */
    gntx_ref_t ref;      /* 0's grant of its first BIG bytes to 1 */
    int big_status;
    double big_ms; /* the big call's own time */
    int started, done;
};

static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int lk_setup(void **state)
{
    struct lk *k = calloc(1, sizeof(*k));
    struct gntx_create v = {.type = GNTX_CREATE_DIRECT,
                            .grantee = 1,
                            .rights = R_RW,
                            .nr_frames = BIG / PG,
                            .length = BIG};
    uint64_t *fr = calloc(BIG / PG, sizeof(*fr));

    assert_non_null(k);
    assert_non_null(fr);
    th_reset();
    assert_int_equal(gcore_create(&k->c), 0);
    for (unsigned i = 0; i < 3; i++) {
        k->d[i] = th_dom_new(BIG_FRAMES);
        assert_non_null(k->d[i]);
        assert_int_equal(gcore_dom_add(k->c, i, BIG_FRAMES, k->d[i]), 0);
    }
    for (uint64_t i = 0; i < BIG / PG; i++)
        fr[i] = i;
    gcore_grant_create(k->c, 0, &v, 1, fr, BIG / PG);
    assert_int_equal(v.status, 0);
    k->ref = v.ref;
    free(fr);
    *state = k;
    return 0;
}

static int lk_teardown(void **state)
{
    struct lk *k = *state;

    gcore_destroy(k->c);
    assert_int_equal(th_allocs_live(), 0);
    assert_int_equal(th_frames_out(), 0);
    for (unsigned i = 0; i < 3; i++)
        th_dom_free(k->d[i]);
    free(k);
    th_reset();
    return 0;
}

/* Domain 1 copies its grant's BIG bytes (slowly) into its own memory
 * (copy) or sets them through the grant (memset). */
static void *big_copy(void *arg)
{
    struct lk *k = arg;
    struct gntx_copy v = {
        .src = P_GRANT(0, k->ref, 0), .dst = P_LOCAL(0), .len = BIG};
    double t0 = now_ms();

    __atomic_store_n(&k->started, 1, __ATOMIC_RELEASE);
    gcore_copy(k->c, 1, &v, 1);
    k->big_ms = now_ms() - t0;
    k->big_status = v.status;
    __atomic_store_n(&k->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *big_memset(void *arg)
{
    struct lk *k = arg;
    struct gntx_memset v = {
        .dst = P_GRANT(0, k->ref, 0), .len = BIG, .value = 0xab};
    double t0 = now_ms();

    __atomic_store_n(&k->started, 1, __ATOMIC_RELEASE);
    gcore_memset(k->c, 1, &v, 1);
    k->big_ms = now_ms() - t0;
    k->big_status = v.status;
    __atomic_store_n(&k->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Waits until the big call has pinned and is moving some pages. */
static void wait_moving(struct lk *k, struct th_dom *slow)
{
    while (!__atomic_load_n(&k->started, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&slow->frames_got, __ATOMIC_RELAXED) < 70)
        usleep(200);
}

static unsigned long got(const struct th_dom *d)
{
    return __atomic_load_n(&d->frames_got, __ATOMIC_RELAXED);
}

/* A bystander's 4 KiB copies of its own memory while domain 1 copies
 * 4 MiB: none waits for the big copy. */
static void bystander_not_stalled(void **state)
{
    struct lk *k = *state;
    pthread_t t;
    double worst = 0;
    unsigned long most = 0;
    unsigned n = 0;

    k->d[0]->frame_delay_us = DELAY_US;
    assert_int_equal(pthread_create(&t, NULL, big_copy, k), 0);
    wait_moving(k, k->d[0]);
    while (!__atomic_load_n(&k->done, __ATOMIC_ACQUIRE)) {
        struct gntx_copy v = {.src = P_LOCAL(0), .dst = P_LOCAL(PG), .len = PG};
        double t0 = now_ms(), ms;
        unsigned long g0 = got(k->d[0]);

        assert_int_equal(gcore_copy(k->c, 2, &v, 1), 1);
        ms = now_ms() - t0;
        worst = ms > worst ? ms : worst;
        most = got(k->d[0]) - g0 > most ? got(k->d[0]) - g0 : most;
        n++;
        usleep(500);
    }
    pthread_join(t, NULL);
    assert_int_equal(k->big_status, 0);
    assert_memory_equal(k->d[1]->mem, k->d[0]->mem, BIG);
    print_message("big copy %.1f ms; bystander %u copies, worst %.2f ms "
                  "(%lu of its frames meanwhile)\n",
                  k->big_ms, n, worst, most);
    assert_true(n >= 2);
    assert_true(most < 256);
}

/* Domain `id`'s 4 KiB copies through the granter's grant (caller 1:
 * domain 1's own grant; 2: the bystander's, below). */
struct small {
    struct lk *k;
    gntx_domid_t id;
    gntx_ref_t ref;
    int ok;
};

static void *small_copies(void *arg)
{
    struct small *s = arg;

    for (unsigned i = 0; i < 40; i++) {
        struct gntx_copy v = {
            .src = P_GRANT(0, s->ref, i * PG), .dst = P_LOCAL(0), .len = PG};

        s->ok += gcore_copy(s->k->c, s->id, &v, 1);
    }
    return NULL;
}

/*
 * Two domains copy through grants at once: their chunks validate under the
 * lock held shared, so their validations overlap (the host's gh_may_use,
 * which validation calls, sleeps and sees two callers at once).  Before,
 * the whole call held one exclusive lock: never more than one.
 */
static void validation_shared(void **state)
{
    struct lk *k = *state;
    struct gntx_create v = {.type = GNTX_CREATE_DIRECT,
                            .grantee = 2,
                            .rights = GNTX_R_READ,
                            .nr_frames = 64,
                            .length = 64 * PG};
    uint64_t fr[64];
    struct small a = {k, 1, k->ref, 0}, b = {k, 2, 0, 0};
    pthread_t ta, tb;

    for (unsigned i = 0; i < 64; i++)
        fr[i] = i;
    gcore_grant_create(k->c, 0, &v, 1, fr, 64);
    assert_int_equal(v.status, 0);
    b.ref = v.ref;
    th_use_delay(500);
    assert_int_equal(pthread_create(&ta, NULL, small_copies, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, small_copies, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    print_message("validations at once: %ld\n", th_use_overlap());
    assert_int_equal(a.ok, 40);
    assert_int_equal(b.ok, 40);
    assert_int_equal(th_use_overlap(), 2);
}

/* All zero? */
static bool zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* The granter's change that takes domain 1's access away: 1 element. */
typedef int (*take_fn)(struct lk *k);

/*
 * The granter takes access away while domain 1 memsets through its
 * grant: the change returns within about one chunk (not the rest of the
 * call), the memset stops with `status` (a prefix set), and no byte lands
 * after the change returned: the granter zeroes its pages then and finds
 * them zero once the memset is over.
 */
static void stops_bytes(struct lk *k, take_fn take, int status,
                        const char *what)
{
    pthread_t t;
    unsigned long g0, g1;
    double t0, ms;

    k->d[0]->frame_delay_us = DELAY_US;
    assert_int_equal(pthread_create(&t, NULL, big_memset, k), 0);
    wait_moving(k, k->d[0]);
    t0 = now_ms();
    g0 = got(k->d[0]);
    assert_int_equal(take(k), 1);
    g1 = got(k->d[0]);
    ms = now_ms() - t0;
    memset(k->d[0]->mem, 0, BIG);
    pthread_join(t, NULL);
    print_message("memset %.1f ms, %s waited %.2f ms (%lu frames)\n", k->big_ms,
                  what, ms, g1 - g0);
    assert_int_equal(k->big_status, status);
    assert_true(zero(k->d[0]->mem, BIG));
    assert_true(g1 - g0 < 256);
}

static int take_revoke(struct lk *k)
{
    struct gntx_revoke r = {.ref = k->ref};

    return gcore_grant_revoke(k->c, 0, &r, 1);
}

static int take_protect(struct lk *k)
{
    struct gntx_protect p = {.gfn = 0,
                             .nr = BIG / PG,
                             .access = GNTX_ACC_NONE,
                             .action = GNTX_ACT_DENY};

    return gcore_protect(k->c, 0, &p, 1);
}

static void revoke_stops_bytes(void **state)
{
    stops_bytes(*state, take_revoke, -GNTX_ESTALE, "revoke");
}

/* The same with PROTECT NONE over the granted pages. */
static void protect_stops_bytes(void **state)
{
    stops_bytes(*state, take_protect, -GNTX_EACCES, "protect");
}

#define LK_TEST(fn) cmocka_unit_test_setup_teardown(fn, lk_setup, lk_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        LK_TEST(bystander_not_stalled),
        LK_TEST(revoke_stops_bytes),
        LK_TEST(protect_stops_bytes),
        LK_TEST(validation_shared),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
