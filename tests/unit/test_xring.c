/* SPDX-License-Identifier: MIT */
/*
 * test_xring: the two halves of a shared ring (backend/common/ring.c,
 * frontend/common/ring.c) against Xen's own io/ring.h macros on the other
 * side (so the layout and the index rules are the protocol's, not ours),
 * across the 32-bit index wrap, and against a peer that lies: a request
 * producer that jumps past a ring halts the back half, a response
 * producer beyond the requests in flight halts the front half, and a peer
 * that keeps producing cannot keep one pass going beyond a ring.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
/* io/ring.h's barriers, as a user-space program defines them. */
#define mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/blkif.h>
#include <xen/io/ring.h>

#include "xbe_ring.h"
#include "xfe_ring.h"

struct xt_req {
    uint64_t id;
    uint32_t val;
    uint8_t pad[20];
};
struct xt_rsp {
    uint64_t id;
    uint32_t val;
};
DEFINE_RING_TYPES(xt, struct xt_req, struct xt_rsp);

#define PAGE 4096u

static void *page_alloc(unsigned n)
{
    void *p = aligned_alloc(PAGE, (size_t)n * PAGE);

    assert_non_null(p);
    memset(p, 0xa5, (size_t)n * PAGE);
    return p;
}

/* Our entry counts are the protocol's, for blkif and a custom type, one
 * page and sixteen. */
static void layout_matches_xen(void **state)
{
    struct xfe_ring f;
    void *p = page_alloc(16);

    (void)state;
    assert_int_equal(offsetof(struct xt_sring, ring), XFE_SRING_HDR);
    assert_int_equal(offsetof(struct blkif_sring, ring), XBE_SRING_HDR);
    assert_int_equal(xfe_ring_init(&f, p, PAGE, sizeof(union xt_sring_entry)),
                     0);
    assert_int_equal(f.nr_ents, __RING_SIZE((struct xt_sring *)p, PAGE));
    assert_int_equal(
        xfe_ring_init(&f, p, 16 * PAGE, sizeof(union blkif_sring_entry)), 0);
    assert_int_equal(f.nr_ents, __CONST_RING_SIZE(blkif, 16 * PAGE));
    assert_int_equal(xfe_ring_init(&f, p, 60, 8), -EINVAL);
    free(p);
}

/* Our front half drives Xen's back macros, across the index wrap. */
static void front_with_xen_back(void **state)
{
    struct xt_sring *s = page_alloc(1);
    struct xt_back_ring b;
    struct xfe_ring f;
    unsigned i, sent = 0, got = 0;
    RING_IDX start = 0xfffffff0u;

    (void)state;
    assert_int_equal(xfe_ring_init(&f, s, PAGE, sizeof(union xt_sring_entry)),
                     0);
    /* Move every index near the wrap. */
    s->req_prod = s->rsp_prod = start;
    f.req_prod_pvt = f.rsp_cons = start;
    BACK_RING_ATTACH(&b, s, start, PAGE);
    while (got < 3 * f.nr_ents) {
        struct xt_req *slot;
        union xt_sring_entry e; /* a take copies a whole entry */
        int more;

        while (sent < 3 * f.nr_ents && (slot = xfe_ring_req_slot(&f))) {
            slot->id = sent;
            slot->val = sent * 3;
            xfe_ring_req_done(&f);
            sent++;
        }
        xfe_ring_push(&f);
        while (RING_HAS_UNCONSUMED_REQUESTS(&b)) {
            struct xt_req req;

            RING_COPY_REQUEST(&b, b.req_cons, &req);
            b.req_cons++;
            RING_GET_RESPONSE(&b, b.rsp_prod_pvt)->id = req.id;
            RING_GET_RESPONSE(&b, b.rsp_prod_pvt)->val = req.val + 1;
            b.rsp_prod_pvt++;
        }
        RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b, more);
        (void)more;
        while ((i = (unsigned)xfe_ring_take(&f, &e)) == 1) {
            assert_int_equal(e.rsp.id, got);
            assert_int_equal(e.rsp.val, got * 3 + 1);
            got++;
        }
        assert_int_equal(i, 0);
    }
    assert_true(f.req_prod_pvt < start); /* it wrapped */
    free(s);
}

/* Xen's front macros drive our back half, across the wrap. */
static void back_with_xen_front(void **state)
{
    struct xt_sring *s = page_alloc(1);
    struct xt_front_ring fr;
    struct xbe_ring b;
    unsigned sent = 0, got = 0, n;
    RING_IDX start = 0xffffffe0u;

    (void)state;
    SHARED_RING_INIT(s);
    s->req_prod = s->rsp_prod = start;
    FRONT_RING_ATTACH(&fr, s, start, PAGE);
    assert_int_equal(xbe_ring_attach(&b, s, PAGE, sizeof(union xt_sring_entry)),
                     0);
    n = b.nr_ents;
    assert_int_equal(n, RING_SIZE(&fr));
    while (got < 4 * n) {
        struct xt_req req;
        int notify;

        while (sent < 4 * n && !RING_FULL(&fr)) {
            RING_GET_REQUEST(&fr, fr.req_prod_pvt)->id = sent;
            RING_GET_REQUEST(&fr, fr.req_prod_pvt)->val = sent;
            fr.req_prod_pvt++;
            sent++;
        }
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&fr, notify);
        (void)notify;
        while (xbe_ring_take(&b, &req) == 1) {
            struct xt_rsp *rsp = xbe_ring_rsp_slot(&b);

            assert_non_null(rsp);
            rsp->id = req.id;
            rsp->val = req.val * 2;
            xbe_ring_rsp_done(&b);
        }
        assert_null(xbe_ring_rsp_slot(&b));
        xbe_ring_push(&b);
        while (RING_HAS_UNCONSUMED_RESPONSES(&fr)) {
            struct xt_rsp rsp;

            RING_COPY_RESPONSE(&fr, fr.rsp_cons, &rsp);
            fr.rsp_cons++;
            assert_int_equal(rsp.id, got);
            assert_int_equal(rsp.val, got * 2);
            got++;
        }
    }
    free(s);
}

/* A request producer more than a ring ahead of our responses halts the
 * ring for good; one exactly a ring ahead is legal. */
static void back_halts_on_jump(void **state)
{
    struct xt_sring *s = page_alloc(1);
    struct xbe_ring b;
    struct xt_req req;
    unsigned i;

    (void)state;
    SHARED_RING_INIT(s);
    assert_int_equal(xbe_ring_attach(&b, s, PAGE, sizeof(union xt_sring_entry)),
                     0);
    s->req_prod = b.nr_ents; /* a full ring: legal */
    for (i = 0; i < b.nr_ents; i++)
        assert_int_equal(xbe_ring_take(&b, &req), 1);
    /* No response slot left to answer another: nothing more is taken. */
    assert_int_equal(xbe_ring_take(&b, &req), 0);
    assert_int_equal(xbe_ring_final_check(&b), 0);
    s->req_prod = b.nr_ents + 1; /* one beyond what a frontend may do */
    assert_int_equal(xbe_ring_take(&b, &req), -EPROTO);
    s->req_prod = b.nr_ents; /* too late to take it back */
    assert_int_equal(xbe_ring_take(&b, &req), -EPROTO);
    assert_int_equal(xbe_ring_final_check(&b), -EPROTO);
    free(s);
}

/* A frontend that refills as fast as we answer cannot keep one pass
 * going: after a ring of takes the pass ends until push. */
static void back_pass_is_bounded(void **state)
{
    struct xt_sring *s = page_alloc(1);
    struct xbe_ring b;
    struct xt_req req;
    unsigned taken = 0;

    (void)state;
    SHARED_RING_INIT(s);
    assert_int_equal(xbe_ring_attach(&b, s, PAGE, sizeof(union xt_sring_entry)),
                     0);
    for (;;) {
        s->req_prod = b.req_cons + 1; /* the peer always has one more */
        if (xbe_ring_take(&b, &req) != 1)
            break;
        xbe_ring_rsp_slot(&b);
        xbe_ring_rsp_done(&b);
        assert_true(++taken <= b.nr_ents);
    }
    assert_int_equal(taken, b.nr_ents);
    xbe_ring_push(&b);
    assert_int_equal(xbe_ring_take(&b, &req), 1);
    free(s);
}

/* Responses beyond the requests in flight halt the front half. */
static void front_halts_on_excess_responses(void **state)
{
    struct xt_sring *s = page_alloc(1);
    struct xfe_ring f;
    union xt_sring_entry rsp;

    (void)state;
    assert_int_equal(xfe_ring_init(&f, s, PAGE, sizeof(union xt_sring_entry)),
                     0);
    xfe_ring_req_slot(&f);
    xfe_ring_req_done(&f);
    xfe_ring_push(&f);
    s->rsp_prod = 1;
    assert_int_equal(xfe_ring_take(&f, &rsp), 1);
    s->rsp_prod = 3; /* two responses to no request */
    assert_int_equal(xfe_ring_take(&f, &rsp), -EPROTO);
    assert_null(xfe_ring_req_slot(&f));
    assert_int_equal(xfe_ring_final_check(&f), -EPROTO);
    free(s);
}

/* Notifications follow the event indices as io/ring.h defines them. */
static void notify_follows_events(void **state)
{
    struct xt_sring *s = page_alloc(1);
    struct xfe_ring f;
    struct xbe_ring b;
    struct xt_req req;

    (void)state;
    assert_int_equal(xfe_ring_init(&f, s, PAGE, sizeof(union xt_sring_entry)),
                     0);
    assert_int_equal(xbe_ring_attach(&b, s, PAGE, sizeof(union xt_sring_entry)),
                     0);
    xfe_ring_req_slot(&f);
    xfe_ring_req_done(&f);
    assert_int_equal(xfe_ring_push(&f), 1); /* req_event starts at 1 */
    xfe_ring_req_slot(&f);
    xfe_ring_req_done(&f);
    assert_int_equal(xfe_ring_push(&f), 0); /* backend did not re-arm */
    assert_int_equal(xbe_ring_take(&b, &req), 1);
    assert_int_equal(xbe_ring_take(&b, &req), 1);
    assert_int_equal(xbe_ring_final_check(&b), 0); /* arms req_event */
    xfe_ring_req_slot(&f);
    xfe_ring_req_done(&f);
    assert_int_equal(xfe_ring_push(&f), 1);
    /* Responses: the frontend armed rsp_event = 1 at init. */
    xbe_ring_rsp_slot(&b);
    xbe_ring_rsp_done(&b);
    assert_int_equal(xbe_ring_push(&b), 1);
    xbe_ring_rsp_slot(&b);
    xbe_ring_rsp_done(&b);
    assert_int_equal(xbe_ring_push(&b), 0);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_matches_xen),
        cmocka_unit_test(front_with_xen_back),
        cmocka_unit_test(back_with_xen_front),
        cmocka_unit_test(back_halts_on_jump),
        cmocka_unit_test(back_pass_is_bounded),
        cmocka_unit_test(front_halts_on_excess_responses),
        cmocka_unit_test(notify_follows_events),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
