/* SPDX-License-Identifier: MIT */
/*
 * protect.c: xgrantd's side of page protection (grant_abi.h,
 * GNTX_OP_PROTECT): the two host hooks that are not about mappings
 * (gh_map_restrict lives with the unmap notices in hostif.c).
 *
 *   gh_fault_notify  signals the eventfd of the owner's own port;
 *   gh_dom_kill      SIGKILLs the offender at once (signals only: safe
 *                    while the core runs) and queues its destruction,
 *                    which xd_prot_kills_run does once the core call is
 *                    over (the existing xd_dom_destroy path: its mappings,
 *                    grants, ports and store nodes go, others keep
 *                    running);
 *   gh_dom_exempt    no domain is privileged here but domain 0, which the
 *                    core spares itself, as it spares a domain that maps a
 *                    third domain's memory (it serves others);
 *   gh_may_use       no sharing policy but the grants (Xen has XSM).
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "gcore_host.h"
#include "private.h"

static uint16_t kill_q[64];
static unsigned kill_n;
static bool kill_lost; /* more than fit: every marked domain is scanned */
static bool kill_mark[GNTX_DOMID_MAX + 1];

void gh_fault_notify(void *cookie, uint32_t port)
{
    struct xd_dom *d = cookie;
    struct xd_port *p;

    if (!d || !d->ports || port == 0 || port >= XD_MAX_PORTS)
        return;
    p = &d->ports[port];
    if (p->state != XD_PORT_FREE)
        xd_evtchn_signal(p);
}

void gh_dom_kill(void *cookie)
{
    struct xd_dom *d = cookie;

    if (!d || d->id == GNTX_DOMID_CONTROL || kill_mark[d->id])
        return;
    xd_dom_kill(d);
    kill_mark[d->id] = true;
    if (kill_n < sizeof(kill_q) / sizeof(kill_q[0]))
        kill_q[kill_n++] = d->id;
    else
        kill_lost = true;
}

int gh_dom_exempt(void *cookie)
{
    (void)cookie;
    return 0;
}

/* A domain's protection state is bounded by the core (ranges, classes);
 * xgrantd's memory is its own, and nothing is charged. */
int gh_dom_charge(void *cookie, uint64_t before, uint64_t now)
{
    (void)cookie;
    (void)before;
    (void)now;
    return 0;
}

/* No policy beyond the grants themselves. */
int gh_may_use(void *who, void *owner, unsigned rights)
{
    (void)who;
    (void)owner;
    (void)rights;
    return 0;
}

static void kill_one(unsigned id)
{
    struct xd_dom *d = xd_dom_get(id);

    kill_mark[id] = false;
    if (d)
        xd_dom_destroy(d, "violated a KILL page protection");
}

/* Destroys the domains gh_dom_kill marked during the last core call. */
void xd_prot_kills_run(void)
{
    /* A domain destroy is the main thread's: callarea.c runs the queue
     * again once the worker's job is over. */
    if (xd_near_on_worker())
        return;
    while (kill_n)
        kill_one(kill_q[--kill_n]);
    if (!kill_lost)
        return;
    kill_lost = false;
    for (unsigned id = 1; id <= GNTX_DOMID_MAX; id++)
        if (kill_mark[id])
            kill_one(id);
}
