/* SPDX-License-Identifier: MIT */
/*
 * evtchn_reuse: event channels and a reused domain id.  A holds an unbound
 * port for B and an interdomain channel with B; B is destroyed and its id
 * handed to a newcomer (ids are reused once 64 later domains have exited,
 * tools/xgrantd/domain.c).  The newcomer binds neither port, A's end of the
 * channel with the dead B stays closed for good, and a port A allocates
 * for the newcomer works as usual.
 */
#include <errno.h>
#include <string.h>

#include "common/itest.h"

#define EXITED_SLOTS 64 /* tools/xgrantd/domain.c */

/* Creates and destroys n short-lived domains (each takes a fresh id). */
static void burn_ids(grant_handle_t *dom0, unsigned n)
{
    char *argv[] = {"sleep", "60", NULL};
    struct grant_domain_config cfg = {
        .name = "burner", .memory_bytes = GRANT_PAGE_SIZE, .argv = argv};
    unsigned ok = 0;
    grant_domid_t id;

    cfg.stdio[0] = cfg.stdio[1] = cfg.stdio[2] = -1;
    for (unsigned i = 0; i < n; i++)
        if (grant_ctl_domain_create(dom0, &cfg, &id) == 0 &&
            grant_ctl_domain_destroy(dom0, id) == 0)
            ok++;
    ICHECK(ok == n, "%u of %u short-lived domains created and destroyed", ok,
           n);
}

int main(void)
{
    struct itest_agent a, b, nb;
    grant_handle_t *dom0;
    unsigned long long unbound, chan, bchan, fresh, nbp;

    itest_setup(&dom0);
    itest_spawn(dom0, &a, "a", 16);
    itest_spawn(dom0, &b, "b", 16);

    unbound = itest_ok(&a, "evtalloc %u", b.domid);
    chan = itest_ok(&a, "evtalloc %u", b.domid);
    bchan = itest_ok(&b, "evtbind %u %llu", a.domid, chan);
    itest_ok(&b, "evtnotify %llu", bchan);
    ICHECK(itest_ok(&a, "evtwait %llu 1000", chan) == 1, "the channel works");

    ICHECK(grant_ctl_domain_destroy(dom0, b.domid) == 0, "b destroyed");
    itest_agent_close(&b);
    itest_err(&a, -ENOTCONN, "evtnotify %llu", chan);

    burn_ids(dom0, EXITED_SLOTS);
    itest_spawn(dom0, &nb, "newcomer", 16);
    ICHECK(nb.domid == b.domid, "the newcomer has b's id %u (got %u)", b.domid,
           nb.domid);

    itest_err(&nb, -EINVAL, "evtbind %u %llu", a.domid, unbound);
    itest_err(&nb, -EINVAL, "evtbind %u %llu", a.domid, chan);
    itest_err(&a, -ENOTCONN, "evtnotify %llu", chan);
    ICHECK(itest_ok(&a, "evtwait %llu 0", chan) == 0 &&
               itest_ok(&a, "evtwait %llu 0", unbound) == 0,
           "nothing reached a from the newcomer");

    /* The newcomer's own channels work. */
    fresh = itest_ok(&a, "evtalloc %u", nb.domid);
    nbp = itest_ok(&nb, "evtbind %u %llu", a.domid, fresh);
    itest_ok(&nb, "evtnotify %llu", nbp);
    ICHECK(itest_ok(&a, "evtwait %llu 1000", fresh) == 1,
           "a port allocated for the newcomer works");

    itest_agent_close(&a);
    itest_agent_close(&nb);
    itest_teardown(dom0);
    return itest_done();
}
