/* SPDX-License-Identifier: MIT */
/*
 * map_dying_mapper: memory a dying mapper maps is not handed out again
 * before its processes are reaped (hostile review of xgrantd, finding 3).
 * A domain being destroyed loses its mappings at once, but its SIGKILLed
 * processes map the pages until they are gone.  Before the fix the
 * owner's MEM_FREE of those pages ended its quarantine at once and a
 * MEM_ALLOC got the same frames back while the mapper still lived.  Now the
 * frames come back only after the mapper's reap, which the DOMAIN_DESTROY
 * reply announces: an allocation that gets them must find that reply sent.
 */
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/itest.h"
#include "common/raw.h"
#include "libgrant/abi/sim_wire.h"

#define ROUNDS 5
#define PAGES  4 /* the granter's memory: one block of all of it */

static bool reply_in(struct raw *r)
{
    struct pollfd p = {r->fd, POLLIN, 0};

    return poll(&p, 1, 0) == 1;
}

/* The whole memory again: how many tries it took (0: never, in 3 s). */
static int realloc_all(struct itest_agent *a, struct raw *r, bool *reaped)
{
    char buf[128];

    for (int i = 1; i <= 3000; i++) {
        if (itest_cmd(a, buf, sizeof(buf), "alloc %d", PAGES) == 0) {
            *reaped = reply_in(r);
            return i;
        }
        usleep(1000);
    }
    return 0;
}

static void round_once(grant_handle_t *dom0, struct itest_agent *a,
                       struct raw *r, int round)
{
    struct xgw_domid id = {0};
    struct itest_agent b;
    struct xgw_msg m;
    bool reaped = false;
    uint64_t ref;
    int tries;

    itest_spawn(dom0, &b, "mapper", 16);
    ref = itest_ok(a, "grant %u rwm 0 0 4096", b.domid);
    itest_ok(&b, "map %u 0x%llx 0 4096", a->domid, (unsigned long long)ref);
    /* Destroy the mapper without waiting, and free the page at once. */
    id.domid = b.domid;
    ICHECK(raw_send(r, XGW_OP_DOMAIN_DESTROY, 0, 0, &id, sizeof(id),
                    sizeof(id)) == 0,
           "round %d: DOMAIN_DESTROY sent", round);
    itest_ok(a, "free 0");
    tries = realloc_all(a, r, &reaped);
    ICHECK(tries > 0, "round %d: the memory comes back (%d tries)", round,
           tries);
    ICHECK(reaped,
           "round %d: not before the mapper is reaped (alloc at try %d)", round,
           tries);
    ICHECK(raw_recv(r, &m, NULL, 0) >= 0 && m.ret == 0,
           "round %d: DOMAIN_DESTROY answered", round);
    itest_agent_close(&b);
}

int main(void)
{
    struct itest_agent a;
    grant_handle_t *dom0;
    struct raw r;

    itest_setup(&dom0);
    ICHECK(raw_hello(&r) == 0, "a raw connection of domain 0");
    itest_spawn(dom0, &a, "granter", PAGES);
    itest_ok(&a, "alloc %d", PAGES);
    for (int i = 0; i < ROUNDS; i++)
        round_once(dom0, &a, &r, i);
    close(r.fd);
    itest_agent_close(&a);
    itest_teardown(dom0);
    return itest_done();
}
