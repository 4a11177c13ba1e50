/* SPDX-License-Identifier: MIT */
/*
 * test_domlock.c: the core's per-domain locks (libgrant/core/lock.c).
 *
 * Changes of state of unrelated domains run at once: two threads whose
 * calls touch disjoint sets of domains meet inside host hooks the core
 * calls under its locks (testhost.h, th_meet: causal, not timed).  With
 * the old single instance lock taken exclusive for every change, they
 * never did.  Calls whose lock sets share a domain never meet.
 *
 * A stress test runs delegation chains across four domains in every
 * order, from four threads at once, with writers through the chains:
 * creates, delegations, maps, copies, plain and FORCE revokes, PROTECTs.
 * No deadlock (an alarm), no byte lands in a granter's page after its
 * revoke or PROTECT returned, and every table is empty at the end.
 */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "tests/unit/tutil.h"

#define R_MAP   (GNTX_R_READ | GNTX_R_WRITE | GNTX_R_DELEGATE | GNTX_R_MAP)
#define MEET_MS 300u

static gntx_ref_t do_create(struct gcore *c, struct gntx_create *v,
                            gntx_domid_t caller, const uint64_t *fr,
                            uint32_t nr)
{
    return gcore_grant_create(c, caller, v, 1, fr, nr) == 0 && !v->status
               ? v->ref
               : GNTX_REF_INVALID;
}

/* A direct grant of frames gfn.. (3 frames: an allocation for them). */
static gntx_ref_t direct(struct gcore *c, gntx_domid_t granter,
                         gntx_domid_t grantee, uint64_t gfn, uint32_t nr)
{
    uint64_t fr[4] = {gfn, gfn + 1, gfn + 2, gfn + 3};
    struct gntx_create v = {.type = GNTX_CREATE_DIRECT,
                            .grantee = grantee,
                            .rights = R_MAP,
                            .nr_frames = nr,
                            .length = nr * PG};

    return do_create(c, &v, granter, fr, nr);
}

static gntx_ref_t delegate(struct gcore *c, gntx_domid_t caller,
                           gntx_domid_t pdom, gntx_ref_t pref,
                           gntx_domid_t grantee, uint64_t len)
{
    struct gntx_create v = {.type = GNTX_CREATE_INDIRECT,
                            .grantee = grantee,
                            .rights = R_MAP,
                            .parent_dom = pdom,
                            .parent_ref = pref,
                            .length = len};

    return do_create(c, &v, caller, NULL, 0);
}

static int do_revoke(struct gcore *c, gntx_domid_t caller, gntx_ref_t ref,
                     uint32_t flags)
{
    struct gntx_revoke v = {.ref = ref, .flags = flags};

    gcore_grant_revoke(c, caller, &v, 1);
    return v.status;
}

static int do_map(struct gcore *c, gntx_domid_t caller, gntx_domid_t dom,
                  gntx_ref_t ref, uint32_t *handle)
{
    struct gntx_map v = {.dom = dom, .ref = ref, .length = PG};
    uint64_t fr[1];

    gcore_map(c, caller, &v, 1, fr, 1);
    *handle = v.handle;
    return v.status;
}

static int do_unmap(struct gcore *c, gntx_domid_t caller, uint32_t handle)
{
    struct gntx_unmap v = {.handle = handle};

    gcore_unmap(c, caller, &v, 1);
    return v.status;
}

static int do_protect(struct gcore *c, gntx_domid_t caller, uint64_t gfn,
                      uint64_t nr, uint8_t access)
{
    struct gntx_protect v = {
        .gfn = gfn, .nr = nr, .access = access, .action = GNTX_ACT_DENY};

    gcore_protect(c, caller, &v, 1);
    return v.status;
}

/* ---- meeting under the locks ------------------------------------------ */

/* One thread's part: `me` and `peer` as the op wants them, and a grant
 * made beforehand (`ref` of `dom`). */
struct part {
    struct gcore *c;
    gntx_domid_t me, peer, dom;
    gntx_ref_t ref;
    int (*op)(struct part *p);
    int bad; /* an op that should have worked did not */
};

/* me grants 3 frames to peer and revokes them: gh_zalloc, gh_free. */
static int op_create_revoke(struct part *p)
{
    gntx_ref_t r = direct(p->c, p->me, p->peer, 0, 3);

    return r == GNTX_REF_INVALID || do_revoke(p->c, p->me, r, 0);
}

/* me delegates dom's grant to peer and revokes that: gh_may_use. */
static int op_delegate(struct part *p)
{
    gntx_ref_t r = delegate(p->c, p->me, p->dom, p->ref, p->peer, PG);

    return r == GNTX_REF_INVALID || do_revoke(p->c, p->me, r, 0);
}

/* me maps dom's grant and unmaps it: gh_may_use. */
static int op_map(struct part *p)
{
    uint32_t h;

    return do_map(p->c, p->me, p->dom, p->ref, &h) || do_unmap(p->c, p->me, h);
}

/* me protects one of its pages and lifts it: gh_dom_charge. */
static int op_protect(struct part *p)
{
    return do_protect(p->c, p->me, 9, 1, GNTX_ACC_R) ||
           do_protect(p->c, p->me, 9, 1, GNTX_ACC_RWX);
}

/* Until the two threads met, one of them timed out, or 40 rounds. */
static void *part_run(void *arg)
{
    struct part *p = arg;

    th_meet_me(true);
    for (unsigned i = 0; i < 40 && th_met() < 2 && !th_meet_timeouts(); i++)
        p->bad += p->op(p);
    th_meet_me(false);
    return NULL;
}

/* Runs a and b at once; how many of them were inside the hooks at once. */
static long meet_pair(struct part *a, struct part *b)
{
    pthread_t ta, tb;
    long met;

    th_meet_arm(2, MEET_MS);
    assert_int_equal(pthread_create(&ta, NULL, part_run, a), 0);
    assert_int_equal(pthread_create(&tb, NULL, part_run, b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    met = th_met();
    th_meet_arm(0, 0);
    assert_int_equal(a->bad, 0);
    assert_int_equal(b->bad, 0);
    return met;
}

/* Domains 1 and 2 create and revoke grants at once (to 3 and 4). */
static void creates_revokes_overlap(void **state)
{
    struct fx *f = *state;
    struct part a = {f->c, 1, 3, 0, 0, op_create_revoke, 0};
    struct part b = {f->c, 2, 4, 0, 0, op_create_revoke, 0};

    assert_int_equal(meet_pair(&a, &b), 2);
}

/* 3 delegates 1's grant while 4 delegates 2's: chains {1,3} and {2,4}. */
static void delegations_overlap(void **state)
{
    struct fx *f = *state;
    struct part a = {f->c, 3, 4, 1, 0, op_delegate, 0};
    struct part b = {f->c, 4, 3, 2, 0, op_delegate, 0};

    a.ref = direct(f->c, 1, 3, 0, 1);
    b.ref = direct(f->c, 2, 4, 0, 1);
    assert_int_equal(meet_pair(&a, &b), 2);
}

/* 3 maps 1's grant while 4 maps 2's (through a delegation of 0's). */
static void maps_overlap(void **state)
{
    struct fx *f = *state;
    struct part a = {f->c, 3, 0, 1, 0, op_map, 0};
    struct part b = {f->c, 4, 0, 2, 0, op_map, 0};

    a.ref = direct(f->c, 1, 3, 0, 1);
    b.ref = delegate(f->c, 2, 0, direct(f->c, 0, 2, 0, 1), 4, PG);
    assert_int_equal(meet_pair(&a, &b), 2);
}

static void protects_overlap(void **state)
{
    struct fx *f = *state;
    struct part a = {f->c, 1, 0, 0, 0, op_protect, 0};
    struct part b = {f->c, 2, 0, 0, 0, op_protect, 0};

    assert_int_equal(meet_pair(&a, &b), 2);
}

/*
 * Calls that share a domain still exclude each other: 1's own creates
 * and revokes beside 3's delegations of 1's grant (lock sets {1} and
 * {1,3}), and two threads creating in 1's table.
 */
static void shared_domain_excludes(void **state)
{
    struct fx *f = *state;
    struct part a = {f->c, 3, 4, 1, 0, op_delegate, 0};
    struct part b = {f->c, 1, 2, 0, 0, op_create_revoke, 0};
    struct part c = {f->c, 1, 4, 0, 0, op_create_revoke, 0};

    a.ref = direct(f->c, 1, 3, 8, 1);
    assert_int_equal(meet_pair(&a, &b), 1);
    assert_int_equal(meet_pair(&b, &c), 1);
}

/* ---- stress: chains across domains -------------------------------------- */

#define NCHAIN   4u
#define ROUNDS   150u
#define CH_PAGES 2u /* a chain's window: two pages, past the one-page path */

/* One chain: root grants its pages [2k, 2k+2) to hop[1], which delegates
 * to hop[2], which delegates to hop[3], the user; the writer memsets
 * through the last delegation while the chain lives. */
struct chain {
    struct fx *f;
    unsigned k;
    gntx_domid_t hop[4];
    gntx_ref_t ref[3];
    /* published for the writer: ref[2] (0: none) */
    gntx_ref_t live;
    int stop;
    /* outcome */
    unsigned late;   /* bytes found after a revoke or PROTECT returned */
    unsigned errors; /* calls that should have worked and did not */
    unsigned writes; /* memsets that worked */
};

static void *writer(void *arg)
{
    struct chain *ch = arg;

    while (!__atomic_load_n(&ch->stop, __ATOMIC_ACQUIRE)) {
        gntx_ref_t r = __atomic_load_n(&ch->live, __ATOMIC_ACQUIRE);
        struct gntx_memset v = {.dst = P_GRANT(ch->hop[2], r, 0),
                                .len = CH_PAGES * PG,
                                .value = (uint8_t)(0x10 + ch->k)};

        if (r && gcore_memset(ch->f->c, ch->hop[3], &v, 1) == 1)
            __atomic_add_fetch(&ch->writes, 1, __ATOMIC_RELAXED);
        usleep(20);
    }
    return NULL;
}

/* The root's chain pages: all zero? */
static bool chain_zero(const struct chain *ch)
{
    const uint8_t *p = th_dom_mem(ch->f->d[ch->hop[0]], 2 * ch->k * PG);

    for (size_t i = 0; i < CH_PAGES * PG; i++)
        if (p[i])
            return false;
    return true;
}

/* Builds the chain; false (counted) when a step failed. */
static bool chain_build(struct chain *ch)
{
    struct gcore *c = ch->f->c;

    ch->ref[0] = direct(c, ch->hop[0], ch->hop[1], 2 * ch->k, CH_PAGES);
    ch->ref[1] = delegate(c, ch->hop[1], ch->hop[0], ch->ref[0], ch->hop[2],
                          CH_PAGES * PG);
    ch->ref[2] = delegate(c, ch->hop[2], ch->hop[1], ch->ref[1], ch->hop[3],
                          CH_PAGES * PG);
    if (ch->ref[2] != GNTX_REF_INVALID)
        return true;
    ch->errors++;
    return false;
}

/*
 * Takes the writer's access away (round-robin: the root's revoke, a
 * middle delegation's revoke, the root's PROTECT NONE, a FORCE revoke
 * of a mapped root), then zeroes the root's pages: nothing may land
 * there any more.  Then every entry goes.
 */
static void chain_take(struct chain *ch, unsigned round)
{
    struct gcore *c = ch->f->c;
    unsigned how = round % 4;
    uint32_t h = 0;

    if (how == 3 && do_map(c, ch->hop[3], ch->hop[2], ch->ref[2], &h))
        ch->errors++;
    if (how == 0 || how == 3)
        ch->errors += do_revoke(c, ch->hop[0], ch->ref[0],
                                how == 3 ? GNTX_REVOKE_FORCE : 0) != 0;
    else if (how == 1)
        ch->errors += do_revoke(c, ch->hop[1], ch->ref[1], 0) != 0;
    else
        ch->errors +=
            do_protect(c, ch->hop[0], 2 * ch->k, CH_PAGES, GNTX_ACC_NONE) != 0;
    memset(th_dom_mem(ch->f->d[ch->hop[0]], 2 * ch->k * PG), 0, CH_PAGES * PG);
    for (unsigned i = 0; i < 20; i++)
        usleep(20); /* the writer's tries meanwhile */
    ch->late += !chain_zero(ch);
    __atomic_store_n(&ch->live, 0, __ATOMIC_RELEASE);
    /* What is left of the chain: orphans revoke plainly. */
    for (unsigned i = 3; i-- > 0;)
        do_revoke(c, ch->hop[i], ch->ref[i], 0);
    if (how == 2)
        ch->errors +=
            do_protect(c, ch->hop[0], 2 * ch->k, CH_PAGES, GNTX_ACC_RWX) != 0;
}

static void *chain_run(void *arg)
{
    struct chain *ch = arg;
    pthread_t w;

    if (pthread_create(&w, NULL, writer, ch)) {
        ch->errors++;
        return NULL;
    }
    for (unsigned round = 0; round < ROUNDS; round++) {
        if (!chain_build(ch))
            continue;
        __atomic_store_n(&ch->live, ch->ref[2], __ATOMIC_RELEASE);
        usleep(50);
        chain_take(ch, round);
    }
    __atomic_store_n(&ch->stop, 1, __ATOMIC_RELEASE);
    pthread_join(w, NULL);
    return NULL;
}

static void chains_stress(void **state)
{
    struct fx *f = *state;
    /* Every chain's domains in another order: up, down, and across. */
    static const gntx_domid_t order[NCHAIN][4] = {
        {1, 2, 3, 4}, {4, 3, 2, 1}, {2, 4, 1, 3}, {3, 1, 4, 2}};
    struct chain ch[NCHAIN] = {0};
    pthread_t t[NCHAIN];
    unsigned writes = 0;

    alarm(60); /* a deadlock ends the test (SIGALRM) */
    for (unsigned k = 0; k < NCHAIN; k++) {
        ch[k].f = f;
        ch[k].k = k;
        memcpy(ch[k].hop, order[k], sizeof(order[k]));
        assert_int_equal(pthread_create(&t[k], NULL, chain_run, &ch[k]), 0);
    }
    for (unsigned k = 0; k < NCHAIN; k++)
        pthread_join(t[k], NULL);
    alarm(0);
    for (unsigned k = 0; k < NCHAIN; k++) {
        assert_int_equal(ch[k].errors, 0);
        assert_int_equal(ch[k].late, 0);
        writes += ch[k].writes;
    }
    for (gntx_domid_t d = 0; d < FX_NDOM; d++) {
        struct gntx_usage u = fx_usage(f, d);

        assert_int_equal(u.entries, 0);
        assert_int_equal(u.maps, 0);
    }
    print_message("%u chains x %u rounds: %u memsets through them, %u FORCE "
                  "notices\n",
                  NCHAIN, ROUNDS, writes, (unsigned)th_notify_count());
    assert_true(writes > 0);
    /* Every FORCE revoke of a mapped root told its mapper. */
    assert_int_equal(th_notify_count(), NCHAIN * (ROUNDS / 4));
    assert_true(th_balanced());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(creates_revokes_overlap),
        FX_TEST(delegations_overlap),
        FX_TEST(maps_overlap),
        FX_TEST(protects_overlap),
        FX_TEST(shared_domain_excludes),
        FX_TEST(chains_stress),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
