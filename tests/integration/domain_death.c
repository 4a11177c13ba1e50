/* SPDX-License-Identifier: MIT */
/*
 * domain_death: a granter destroyed while its grantee is mapping and
 * copying; a mapper that dies holding a mapping; a domain that exits on
 * its own.  Survivors keep working; nothing leaks in the quotas.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/itest.h"

int main(void)
{
    struct itest_agent a, b, c, d;
    struct grant_usage u;
    grant_handle_t *dom0;
    uint64_t ra, rc_, rd, m, mc;
    int i, status;

    itest_setup(&dom0);
    itest_spawn(dom0, &a, "victim", 256);
    itest_spawn(dom0, &b, "user", 256);
    itest_spawn(dom0, &c, "lender", 256);

    /* A grants B, B maps and delegates to C?  B maps A's page. */
    itest_ok(&a, "alloc 2");
    ra = itest_ok(&a, "grant %u rwm 0 0 8192", b.domid);
    itest_ok(&b, "alloc 2");
    m = itest_ok(&b, "map %u 0x%llx 0 8192", a.domid, (unsigned long long)ra);
    itest_ok(&b, "copyfrom %u 0x%llx 0 0 0 8192", a.domid,
             (unsigned long long)ra);

    /* Destroy A mid-use: B's mapping is torn down, its copies fail. */
    ICHECK(grant_ctl_domain_destroy(dom0, a.domid) == 0, "destroy victim");
    ICHECK(!itest_domain_listed(dom0, a.domid), "victim gone from the list");
    itest_ok(&b, "mwrite %llu 1 9", (unsigned long long)m);
    ICHECK(itest_ok(&b, "mread %llu 4096", (unsigned long long)m) == 0,
           "B's mapping is a scratch page now (reads zeros, takes writes)");
    {
        char buf[128];
        int rc = itest_cmd(&b, buf, sizeof(buf), "copyfrom %u 0x%llx 0 0 0 16",
                           a.domid, (unsigned long long)ra);
        ICHECK(rc == -ESRCH || rc == -ESTALE || rc == -ENOENT,
               "copy from a dead domain's grant fails (%s)", buf);
    }
    itest_ok(&b, "unmap %llu", (unsigned long long)m);
    ICHECK(grant_ctl_domain_destroy(dom0, a.domid) == -ESRCH,
           "destroying it again: ESRCH");

    /* C grants B, B maps, B dies: C may revoke without FORCE. */
    itest_ok(&c, "alloc 1");
    rc_ = itest_ok(&c, "grant %u rwm 0 0 4096", b.domid);
    mc = itest_ok(&b, "map %u 0x%llx 0 4096", c.domid, (unsigned long long)rc_);
    itest_ok(&b, "mwrite %llu 1 7", (unsigned long long)mc);
    itest_err(&c, -EBUSY, "revoke 0x%llx", (unsigned long long)rc_);
    itest_agent_close(&b); /* B's stdin closes: it exits (process death) */
    status = grant_ctl_domain_wait(dom0, b.domid);
    ICHECK(status >= 0, "waited for B's exit (status %d)", status);
    itest_ok(&c, "expect 0 1 1 7");
    itest_ok(&c, "revoke 0x%llx", (unsigned long long)rc_);
    ICHECK(grant_usage(dom0, c.domid, &u) == 0 && u.entries == 0 && u.maps == 0,
           "C's table is empty again (entries %u)", u.entries);

    /* A fresh domain gets a working id and memory; the daemon is intact. */
    itest_spawn(dom0, &d, "after", 64);
    itest_ok(&d, "alloc 1");
    rd = itest_ok(&d, "grant %u r 0 0 100", c.domid);
    itest_ok(&c, "copyfrom %u 0x%llx 0 0 0 100", d.domid,
             (unsigned long long)rd);
    itest_ok(&c, "expect 0 0 100 0");

    /* Many short-lived domains: no leak of ids or memory. */
    for (i = 0; i < 20; i++) {
        struct itest_agent t;
        char name[32];
        snprintf(name, sizeof(name), "short%d", i);
        itest_spawn(dom0, &t, name, 1024);
        itest_ok(&t, "alloc 512");
        itest_ok(&t, "grant %u rw 0 0 4096", c.domid);
        itest_agent_close(&t);
        grant_ctl_domain_wait(dom0, t.domid);
    }
    ICHECK(grant_ctl_domain_list(dom0, NULL, 0) == 3,
           "only dom0, lender and after remain");

    itest_agent_close(&c);
    itest_agent_close(&d);
    itest_teardown(dom0);
    return itest_done();
}
