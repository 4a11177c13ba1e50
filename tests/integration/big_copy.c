/* SPDX-License-Identifier: MIT */
/*
 * big_copy: copies and memsets larger than one call's byte budget
 * (GNTX_DEFAULT_CALL_BYTES) go through whole: libgrant resumes the
 * elements the hypervisor cut short, byte-exact, and the caller never
 * sees -EAGAIN.
 */
#include <errno.h>
#include <string.h>

#include "common/itest.h"
#include "grant_abi.h"

#define BIG (10u << 20) /* 2.5 budgets */

int main(void)
{
    struct itest_agent a, b;
    grant_handle_t *dom0;
    uint64_t ref;

    itest_setup(&dom0);
    itest_spawn(dom0, &a, "big-granter", 4096);
    itest_spawn(dom0, &b, "big-reader", 4096);
    ICHECK(BIG > 2 * GNTX_DEFAULT_CALL_BYTES, "the copy spans three calls");
    itest_ok(&a, "alloc %u", BIG / 4096 + 1);
    itest_ok(&a, "fill 0 0 %u 42", BIG + 4096);
    ref = itest_ok(&a, "grant %u rw 0 123 %u", b.domid, BIG);
    itest_ok(&b, "alloc %u", BIG / 4096 + 1);
    itest_ok(&b, "copyfrom %u 0x%llx 0 0 7 %u", a.domid,
             (unsigned long long)ref, BIG);
    {
        char ba[64], bb[64];
        ICHECK(itest_cmd(&a, ba, sizeof(ba), "sum 0 123 %u", BIG) == 0 &&
                   itest_cmd(&b, bb, sizeof(bb), "sum 0 7 %u", BIG) == 0 &&
                   strcmp(ba, bb) == 0,
               "10 MiB arrived byte-exact (%s / %s)", ba, bb);
    }
    itest_ok(&b, "memset %u 0x%llx 0 9 %u", a.domid, (unsigned long long)ref,
             BIG);
    itest_ok(&a, "expect 0 123 %u 9", BIG);
    itest_ok(&a, "check 0 %u 100 42", BIG + 123); /* just past: untouched */
    itest_agent_close(&a);
    itest_agent_close(&b);
    itest_teardown(dom0);
    return itest_done();
}
