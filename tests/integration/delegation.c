/* SPDX-License-Identifier: MIT */
/*
 * delegation: A grants B a byte range across pages; B delegates a narrower
 * window to C; C copies exactly its window; A revokes; every use below
 * fails at once while A's other grants keep working.  Real processes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/itest.h"

int main(void)
{
    struct itest_agent a, b, c;
    struct grant_entry_info tree[8];
    grant_handle_t *dom0;
    uint64_t ra, rb, rother;
    int n;

    itest_setup(&dom0);
    itest_spawn(dom0, &a, "alice", 256);
    itest_spawn(dom0, &b, "bob", 256);
    itest_spawn(dom0, &c, "carol", 256);

    /* A: 3 pages of patterned data, grant B 9000 bytes from offset 100. */
    itest_ok(&a, "alloc 3");
    itest_ok(&a, "fill 0 0 12288 5");
    ra = itest_ok(&a, "grant %u rwd 0 100 9000", b.domid);
    rother = itest_ok(&a, "grant %u r 0 0 64", b.domid);

    /* B reads all of it across two page boundaries. */
    itest_ok(&b, "alloc 3");
    itest_ok(&b, "copyfrom %u 0x%llx 0 0 0 9000", a.domid,
             (unsigned long long)ra);
    itest_err(&b, -ERANGE, "copyfrom %u 0x%llx 8999 0 0 2", a.domid,
              (unsigned long long)ra);

    /* B delegates [4000, 4000+5000) read-only to C; wider or more rights fail.
     */
    itest_err(&b, -ERANGE, "delegate %u r %u 0x%llx 4000 5001", c.domid,
              a.domid, (unsigned long long)ra);
    itest_err(&b, -EPERM, "delegate %u rm %u 0x%llx 0 16", c.domid, a.domid,
              (unsigned long long)ra);
    itest_err(&b, -EPERM, "delegate %u r %u 0x%llx 0 16", c.domid, a.domid,
              (unsigned long long)rother);
    rb = itest_ok(&b, "delegate %u r %u 0x%llx 4000 5000", c.domid, a.domid,
                  (unsigned long long)ra);

    /* C copies its whole window; bytes are A's bytes 4100.. (pattern 5). */
    itest_ok(&c, "alloc 2");
    itest_ok(&c, "copyfrom %u 0x%llx 0 0 0 5000", b.domid,
             (unsigned long long)rb);
    /* Compare: A's bytes [4100, 9100) hashed in A vs C's copy. */
    {
        char ba[128], bc[128];
        ICHECK(itest_cmd(&a, ba, sizeof(ba), "sum 0 4100 5000") == 0 &&
                   itest_cmd(&c, bc, sizeof(bc), "sum 0 0 5000") == 0 &&
                   strcmp(ba, bc) == 0,
               "C's 5000 bytes equal A's bytes [4100,9100) (%s / %s)", ba, bc);
    }
    /* C cannot write, cannot read past its window, cannot use A's grant to B.
     */
    itest_err(&c, -EACCES, "copyto %u 0x%llx 0 0 0 16", b.domid,
              (unsigned long long)rb);
    itest_err(&c, -ERANGE, "copyfrom %u 0x%llx 4990 0 0 11", b.domid,
              (unsigned long long)rb);
    itest_err(&c, -EPERM, "copyfrom %u 0x%llx 0 0 0 16", a.domid,
              (unsigned long long)ra);

    /* B writes through its grant; A sees it. */
    itest_ok(&b, "memset %u 0x%llx 10 171 20", a.domid, (unsigned long long)ra);
    itest_ok(&a, "expect 0 110 20 171");
    itest_ok(&a, "check 0 130 100 5"); /* pattern continues after the memset */
    itest_err(&a, -84, "check 0 100 20 5");
    itest_ok(&b, "copyfrom %u 0x%llx 10 0 9000 20", a.domid,
             (unsigned long long)ra);
    itest_ok(&b, "expect 0 9000 20 171");

    /* The control domain sees the tree: A's grant, B's delegation below it. */
    n = grant_query_tree(dom0, a.domid, (grant_ref_t)ra, tree, 8);
    ICHECK(n == 2 && tree[0].depth == 0 && tree[1].depth == 1 &&
               tree[1].dom == b.domid && tree[1].grantee == c.domid &&
               tree[1].offset == 4000 && tree[1].length == 5000 &&
               !tree[1].orphan,
           "tree below A's grant: root + B's delegation to C (n=%d)", n);

    /* A revokes: B and C fail at once; A's other grant still works. */
    itest_ok(&a, "revoke 0x%llx", (unsigned long long)ra);
    itest_err(&c, -ESTALE, "copyfrom %u 0x%llx 0 0 0 16", b.domid,
              (unsigned long long)rb);
    itest_err(&b, -ESTALE, "copyfrom %u 0x%llx 0 0 0 16", a.domid,
              (unsigned long long)ra);
    itest_err(&b, -ESTALE, "delegate %u r %u 0x%llx 0 16", c.domid, a.domid,
              (unsigned long long)ra);
    itest_ok(&b, "copyfrom %u 0x%llx 0 0 0 64", a.domid,
             (unsigned long long)rother);
    n = grant_query_table(dom0, b.domid, tree, 8);
    ICHECK(n == 1 && tree[0].orphan, "B's delegation is listed as an orphan");
    /* A new grant reusing the slot is not reachable through the old ref. */
    itest_ok(&a, "grant %u rw 0 0 10", c.domid);
    itest_err(&b, -ESTALE, "copyfrom %u 0x%llx 0 0 0 1", a.domid,
              (unsigned long long)ra);
    itest_ok(&b, "revoke 0x%llx", (unsigned long long)rb);

    itest_agent_close(&a);
    itest_agent_close(&b);
    itest_agent_close(&c);
    itest_teardown(dom0);
    return itest_done();
}
