/* SPDX-License-Identifier: MIT */
/*
 * alloc_free: the hot path allocates nothing (libgrant.h, "Threads").
 * After one warm-up round, 200 rounds of grant_copy_from, grant_copy_to, a
 * 16-segment grant_copy, grant_memset, grant_create_direct + grant_revoke,
 * grant_map + grant_unmap (2 pages), grant_evtchn_notify(_async),
 * grant_evtchn_consume and grant_evtchn_pending make
 * no heap allocation on the calling thread (malloc interposed:
 * common/alloc_count.h), and every call succeeded.
 */
#include <errno.h>
#include <string.h>

#include "common/alloc_count.h"
#include "common/itest.h"

#define ROUNDS 200
#define SEGS   16

struct ctx {
    grant_handle_t *h, *peer;
    grant_domid_t granter;
    grant_ref_t ref;
    uint8_t *buf;
    uint32_t port, peer_port;
};

/* One round of every hot call; how many failed. */
static int round_trip(struct ctx *c)
{
    struct grant_copy_seg segs[SEGS];
    grant_ref_t mine;
    uint32_t port;
    void *view;
    int bad = 0;

    bad += grant_copy_from(c->h, c->buf, c->granter, c->ref, 0, 4096) != 0;
    bad += grant_copy_to(c->h, c->granter, c->ref, 0, c->buf, 4096) != 0;
    for (int i = 0; i < SEGS; i++)
        segs[i] = (struct grant_copy_seg){
            .src = {.granter = c->granter, .ref = c->ref, .offset = i * 256u},
            .dst = {.local = 1, .ptr = c->buf + 4096 + i * 256},
            .len = 256};
    bad += grant_copy(c->h, segs, SEGS) != SEGS;
    bad += grant_memset(c->h, c->granter, c->ref, 0, 7, 512) != 0;
    bad += grant_create_direct(c->h, c->granter, GRANT_R_READ, c->buf + 100,
                               5000, &mine) != 0 ||
           grant_revoke(c->h, mine, 0) != 0;
    bad += grant_map(c->h, c->granter, c->ref, 4096, 8192, 0, &view) != 0 ||
           grant_unmap(c->h, view) != 0;
    bad += grant_evtchn_notify(c->peer, c->peer_port) != 0;
    bad += grant_evtchn_consume(c->h, c->port) != 1;
    bad += grant_evtchn_consume(c->h, c->port) != -EAGAIN;
    bad += grant_evtchn_notify(c->peer, c->peer_port) != 0;
    bad += grant_evtchn_pending(c->h, &port) != 1 || port != c->port;
    bad += grant_evtchn_pending(c->h, &port) != -EAGAIN;
    bad += grant_evtchn_notify_async(c->peer, c->peer_port) != 0;
    bad += grant_evtchn_wait(c->h, c->port, 5000) != 1;
    return bad;
}

int main(void)
{
    struct itest_agent a;
    struct ctx c = {0};
    unsigned long n;
    void *p;
    int bad;

    if (!ALLOC_COUNT_WORKS) {
        printf("skip: allocations cannot be counted under ASan\n");
        return ITEST_SKIP;
    }
    itest_setup(&c.h);
    itest_spawn(c.h, &a, "alloc-granter", 64);
    itest_ok(&a, "alloc 4");
    c.granter = a.domid;
    c.ref = (grant_ref_t)itest_ok(&a, "grant 0 rwm 0 0 16384");
    ICHECK(grant_open(&c.peer, 0) == 0, "a second handle (the peer)");
    ICHECK(grant_mem_alloc(c.h, 4, &p) == 0, "local memory");
    c.buf = p;
    ICHECK(grant_evtchn_alloc_unbound(c.h, 0, &c.port) == 0 &&
               grant_evtchn_bind(c.peer, 0, c.port, &c.peer_port) == 0,
           "a loopback event channel between the two handles");
    ICHECK(round_trip(&c) == 0, "warm-up round: every call succeeds");
    alloc_count_start();
    bad = 0;
    for (int i = 0; i < ROUNDS; i++)
        bad += round_trip(&c);
    n = alloc_count_stop();
    ICHECK(bad == 0, "%d rounds: every call succeeds (%d failed)", ROUNDS, bad);
    ICHECK(n == 0,
           "%d rounds of copy, memset, create+revoke, map+unmap, notify, "
           "consume, pending: %lu allocations (want 0)",
           ROUNDS, n);
    grant_close(c.peer);
    itest_agent_close(&a);
    itest_teardown(c.h);
    return itest_done();
}
