/* SPDX-License-Identifier: MIT */
/*
 * map_revoke: zero-copy mapping of whole granted pages, the EBUSY rule,
 * and FORCE revoke tearing the grantee's mapping down before it returns
 * (also through a delegation).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/itest.h"

int main(void)
{
    struct itest_agent a, b, c;
    grant_handle_t *dom0;
    uint64_t rmap, rro, rsub, rdel, m, mro, mc;

    itest_setup(&dom0);
    itest_spawn(dom0, &a, "granter", 256);
    itest_spawn(dom0, &b, "mapper", 256);
    itest_spawn(dom0, &c, "second", 256);

    itest_ok(&a, "alloc 4");
    itest_ok(&a, "fill 0 0 16384 9");
    rmap = itest_ok(&a, "grant %u rwmd 0 4096 8192", b.domid);
    rro = itest_ok(&a, "grant %u rm 0 0 4096", b.domid);
    rsub = itest_ok(&a, "grant %u rwm 0 100 4096", b.domid);
    itest_ok(&b, "alloc 1");

    /* Rules: whole pages only, MAP needed, window must start on a page. */
    itest_err(&b, -EINVAL, "map %u 0x%llx 0 4095", a.domid,
              (unsigned long long)rmap);
    itest_err(&b, -EINVAL, "map %u 0x%llx 0 4096", a.domid,
              (unsigned long long)rsub);
    itest_err(&b, -EACCES, "map %u 0x%llx 0 4096", a.domid,
              (unsigned long long)rro);

    /* Map 2 pages rw: reads see A's bytes, writes land in A's memory. */
    m = itest_ok(&b, "map %u 0x%llx 0 8192", a.domid, (unsigned long long)rmap);
    {
        char buf[64];
        int rc = itest_cmd(&b, buf, sizeof(buf), "mread %llu 5000",
                           (unsigned long long)m);
        /* pattern 9 at A's slot offset 4096+5000 */
        uint64_t x = 4096 + 5000;
        unsigned want = (uint8_t)(9 * 31 + x * 7 + (x >> 9));
        ICHECK(rc == 0 && strtoul(buf + 3, NULL, 0) == want,
               "B reads A's byte through the mapping (%s, want %u)", buf, want);
    }
    itest_ok(&b, "mwrite %llu 8191 66", (unsigned long long)m);
    itest_ok(&a, "expect 0 12287 1 66");
    mro = itest_ok(&b, "map %u 0x%llx 0 4096 ro", a.domid,
                   (unsigned long long)rro);
    itest_ok(&b, "mread %llu 0", (unsigned long long)mro);
    itest_err(&b, -EFAULT, "mwrite %llu 0 1", (unsigned long long)mro);

    /* Mapped: plain revoke is refused, the grant keeps working. */
    itest_err(&a, -EBUSY, "revoke 0x%llx", (unsigned long long)rmap);
    itest_ok(&b, "mread %llu 0", (unsigned long long)m);

    /* Delegated mapping: B gives C one page with MAP; C maps it. */
    rdel = itest_ok(&b, "delegate %u rm %u 0x%llx 4096 4096", c.domid, a.domid,
                    (unsigned long long)rmap);
    mc = itest_ok(&c, "map %u 0x%llx 0 4096 ro", b.domid,
                  (unsigned long long)rdel);
    itest_ok(&c, "mread %llu 4095", (unsigned long long)mc);
    itest_err(&b, -EBUSY, "revoke 0x%llx", (unsigned long long)rdel);

    /* FORCE: when revoke returns, neither B nor C can touch the pages:
     * theirs are scratch pages now (zeros), and writes stay there. */
    itest_ok(&a, "revoke 0x%llx force", (unsigned long long)rmap);
    ICHECK(itest_ok(&b, "mread %llu 8191", (unsigned long long)m) == 0,
           "B reads a zero scratch page where A's 66 was");
    ICHECK(itest_ok(&c, "mread %llu 4095", (unsigned long long)mc) == 0,
           "C reads a zero scratch page");
    ICHECK(itest_ok(&b, "mwrite %llu 8191 55", (unsigned long long)m) == 55,
           "B writes its scratch page and reads it back");
    itest_ok(&a, "expect 0 12287 1 66"); /* B's write did not reach A */
    itest_err(&c, -EFAULT, "mwrite %llu 0 1", (unsigned long long)mc);
    itest_err(&b, -ESTALE, "copyfrom %u 0x%llx 0 0 0 1", a.domid,
              (unsigned long long)rmap);
    itest_ok(&b, "unmap %llu", (unsigned long long)m);
    itest_ok(&c, "unmap %llu", (unsigned long long)mc);
    /* The read-only mapping of the other grant is untouched. */
    itest_ok(&b, "mread %llu 0", (unsigned long long)mro);
    itest_ok(&b, "unmap %llu", (unsigned long long)mro);
    itest_ok(&a, "revoke 0x%llx", (unsigned long long)rro);
    {
        char buf[64];
        ICHECK(itest_cmd(&b, buf, sizeof(buf), "usage") == 0 &&
                   strncmp(buf, "ok 1 0 ", 7) == 0,
               "B holds no mappings any more and one (orphan) entry (%s)", buf);
    }

    itest_agent_close(&a);
    itest_agent_close(&b);
    itest_agent_close(&c);
    itest_teardown(dom0);
    return itest_done();
}
