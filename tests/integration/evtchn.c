/* SPDX-License-Identifier: MIT */
/* evtchn: interdomain event channels with Xen's semantics. */
#include <errno.h>

#include "common/itest.h"

int main(void)
{
    struct itest_agent a, b, c;
    grant_handle_t *dom0;
    uint64_t pa, pb;

    itest_setup(&dom0);
    itest_spawn(dom0, &a, "front", 64);
    itest_spawn(dom0, &b, "back", 64);
    itest_spawn(dom0, &c, "other", 64);

    pa = itest_ok(&a, "evtalloc %u", b.domid);
    itest_err(&a, -ENOTCONN, "evtnotify %llu", (unsigned long long)pa);
    itest_err(&c, -EINVAL, "evtbind %u %llu", a.domid, (unsigned long long)pa);
    pb = itest_ok(&b, "evtbind %u %llu", a.domid, (unsigned long long)pa);
    ICHECK(itest_ok(&b, "evtwait %llu 0", (unsigned long long)pb) == 0,
           "nothing pending before a notify");
    itest_ok(&a, "evtnotify %llu", (unsigned long long)pa);
    itest_ok(&a, "evtnotify %llu", (unsigned long long)pa);
    ICHECK(itest_ok(&b, "evtwait %llu 1000", (unsigned long long)pb) == 2,
           "two notifies arrive as two signals");
    itest_ok(&b, "evtnotify %llu", (unsigned long long)pb);
    ICHECK(itest_ok(&a, "evtwait %llu 1000", (unsigned long long)pa) == 1,
           "the other direction works");
    itest_err(&a, -EINVAL, "evtnotify 999");

    itest_agent_close(&a);
    itest_agent_close(&b);
    itest_agent_close(&c);
    itest_teardown(dom0);
    return itest_done();
}
