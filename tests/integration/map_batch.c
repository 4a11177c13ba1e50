/* SPDX-License-Identifier: MIT */
/*
 * map_batch: a backend-like mapper keeps persistent mappings made by one
 * grant_map_batch (contiguous, per-element status, a failed element
 * leaves a hole); the granter FORCE-revokes one of them while the mapper
 * is writing and reading it in a loop: the mapper goes on without a
 * fault, its writes land in a scratch page and never reach the granter,
 * the other mappings still reach the granter, and the mapper reads a
 * revoke event naming that mapping on grant_map_revoked_fd.  Then batch
 * unmap and batch revoke, per element.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/itest.h"

#define NG 4

/* Parses "ok N a b c..." into toks (the numbers after ok). */
static int parse(const char *buf, long long *toks, int cap)
{
    const char *p = buf + 2;
    int n = 0;

    while (n < cap && *p) {
        char *end;
        long long v = strtoll(p, &end, 0);

        if (end == p)
            break;
        toks[n++] = v;
        p = end;
        if (*p == '@') { /* MAP@OFFSET: the offset is the next token */
            p++;
        }
    }
    return n;
}

/* Domain 0 maps 100 pages of a in one call: more elements than one
 * hypercall carries (64 under xgrantd), one fd each. */
static void big_batch(grant_handle_t *dom0, struct itest_agent *a)
{
    static struct grant_map_req q[100];
    void *base, *addrs[100];
    int st[100], ok = 1, slot;

    slot = (int)itest_ok(a, "alloc 100");
    itest_ok(a, "fill %d 0 409600 5", slot);
    for (int i = 0; i < 100; i++)
        q[i] = (struct grant_map_req){
            .ref = (grant_ref_t)itest_ok(a, "grant 0 rwm %d %d 4096", slot,
                                         i * 4096),
            .len = 4096};
    ICHECK(grant_map_batch(dom0, a->domid, q, 100, &base) == 100,
           "100 grants mapped in one grant_map_batch");
    for (int i = 0; i < 100; i++) {
        uint64_t x = (uint64_t)i * 4096 + 9;

        ok &= q[i].status == 0 && q[i].addr == (uint8_t *)base + i * 4096 &&
              ((uint8_t *)q[i].addr)[9] == (uint8_t)(5 * 31 + x * 7 + (x >> 9));
        addrs[i] = q[i].addr;
    }
    ICHECK(ok, "each at base + 4096 * i, showing the granter's page");
    if (!ok)
        return;
    ((uint8_t *)q[99].addr)[0] = 0xab;
    itest_ok(a, "expect %d %d 1 171", slot, 99 * 4096);
    ICHECK(grant_unmap_batch(dom0, addrs, st, 100) == 100,
           "100 unmapped in one grant_unmap_batch");
}

int main(void)
{
    struct itest_agent a, b;
    grant_handle_t *dom0;
    uint64_t r[NG], dead;
    long long t[16];
    int id[NG], n;
    char buf[256];

    itest_setup(&dom0);
    itest_spawn(dom0, &a, "frontend", 256);
    itest_spawn(dom0, &b, "backend", 256);

    itest_ok(&a, "alloc 4");
    itest_ok(&a, "fill 0 0 16384 3");
    for (int i = 0; i < NG; i++)
        r[i] = itest_ok(&a, "grant %u rwm 0 %d 4096", b.domid, i * 4096);
    dead = itest_ok(&a, "grant %u rwm 0 0 4096", b.domid);
    itest_ok(&a, "revoke 0x%llx", (unsigned long long)dead);

    /* One batch: 4 good grants and a dead one in the middle. */
    ICHECK(itest_cmd(&b, buf, sizeof(buf),
                     "mapb %u 4096 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx", a.domid,
                     (unsigned long long)r[0], (unsigned long long)r[1],
                     (unsigned long long)dead, (unsigned long long)r[2],
                     (unsigned long long)r[3]) == 0,
           "batch map: %s", buf);
    n = parse(buf, t, 16);
    /* ok 4 id0 0 id1 4096 -ESTALE id2 12288 id3 16384 */
    ICHECK(n == 10 && t[0] == 4 && t[2] == 0 && t[4] == 4096 &&
               t[5] == -ESTALE && t[7] == 12288 && t[9] == 16384,
           "4 of 5 mapped, in order, contiguous, the dead one a hole (%s)",
           buf);
    if (n != 10)
        return itest_done();
    id[0] = (int)t[1], id[1] = (int)t[3], id[2] = (int)t[6], id[3] = (int)t[8];
    for (int i = 0; i < NG; i++) {
        unsigned want =
            (uint8_t)(3 * 31 + (i * 4096 + 7) * 7 + ((i * 4096 + 7) >> 9));
        ICHECK(itest_ok(&b, "mread %d 7", id[i]) == want,
               "element %d reads the granter's page %d", i, i);
    }
    ICHECK(itest_cmd(&b, buf, sizeof(buf), "usage") == 0 &&
               strncmp(buf, "ok 0 4 ", 7) == 0,
           "4 mappings held (%s)", buf);
    itest_err(&a, -EBUSY, "revoke 0x%llx", (unsigned long long)r[1]);
    itest_err(&b, -EAGAIN, "mrevoked");

    /* FORCE revoke of element 1 while a thread hammers it. */
    itest_ok(&b, "mbusy %d", id[1]);
    usleep(20000);
    itest_ok(&a, "revoke 0x%llx force", (unsigned long long)r[1]);
    itest_ok(&a, "fill 0 4096 4096 8");
    usleep(50000);
    itest_ok(&a, "check 0 4096 4096 8"); /* no write of B's reached A */
    ICHECK(itest_cmd(&b, buf, sizeof(buf), "mstop") == 0 &&
               /* at most one write-then-read straddles the swap */
               parse(buf, t, 2) == 2 && t[0] > 0 && t[1] <= 1,
           "the backend's loop ran on without a fault (%s)", buf);
    n = (int)itest_ok(&b, "mread %d 0", id[1]);
    ICHECK(n == 0x5a || n == 0x5b,
           "its last writes are in the scratch page (%d)", n);
    itest_ok(&a, "check 0 4096 4096 8");
    ICHECK(itest_cmd(&b, buf, sizeof(buf), "mrevoked") == 0 &&
               parse(buf, t, 5) == 5 && t[0] == id[1] && t[1] == 1 &&
               t[2] == 4096 && t[3] == a.domid && (uint64_t)t[4] == r[1],
           "the event names the revoked mapping, fd was readable (%s)", buf);
    itest_err(&b, -EAGAIN, "mrevoked");

    /* The other persistent mappings still reach the granter. */
    itest_ok(&b, "mwrite %d 5 77", id[0]);
    itest_ok(&a, "expect 0 5 1 77");
    itest_ok(&b, "mwrite %d 5 78", id[3]);
    itest_ok(&a, "expect 0 12293 1 78");

    /* An event goes with its mapping when that is unmapped first. */
    itest_ok(&a, "revoke 0x%llx force", (unsigned long long)r[2]);
    itest_ok(&b, "unmap %d", id[2]);
    itest_err(&b, -EAGAIN, "mrevoked");

    /* Batch unmap, per element: the revoked one too; a stale id fails. */
    ICHECK(itest_cmd(&b, buf, sizeof(buf), "unmapb %d %d %d %d", id[0], id[1],
                     id[3], id[2]) == 0 &&
               strcmp(buf, "ok 3 0 0 0 -22") == 0,
           "batch unmap: three, the one unmapped before refused (%s)", buf);
    ICHECK(itest_cmd(&b, buf, sizeof(buf), "usage") == 0 &&
               strncmp(buf, "ok 0 0 ", 7) == 0,
           "no mapping held (%s)", buf);

    /* Batch revoke, per element: the dead ones fail, the others go. */
    ICHECK(itest_cmd(&a, buf, sizeof(buf), "revokeb 0 0x%llx 0x%llx 0x%llx",
                     (unsigned long long)r[0], (unsigned long long)r[1],
                     (unsigned long long)r[3]) == 0 &&
               strcmp(buf, "ok 2 0 -116 0") == 0,
           "batch revoke: two, the force-revoked one ESTALE (%s)", buf);
    ICHECK(itest_cmd(&a, buf, sizeof(buf), "usage") == 0 &&
               strncmp(buf, "ok 0 ", 5) == 0,
           "the granter holds no grant (%s)", buf);

    big_batch(dom0, &a);

    itest_agent_close(&a);
    itest_agent_close(&b);
    itest_teardown(dom0);
    return itest_done();
}
