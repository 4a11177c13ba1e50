/* SPDX-License-Identifier: MIT */
/*
 * v1_grants: Xen's standard grants (grant_v1_*) under xgrantd, where they
 * are whole-page extension grants: share and map (many refs into one
 * contiguous range, in the order given), read-only shares and maps, grant
 * copy with Xen's page rule, a FORCE revoke of one page of a multi-ref
 * map (that page alone becomes a scratch page), end while mapped, and
 * all-or-nothing maps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/itest.h"

#define SEED 5

/* "ok SLOT REF0 REF1 ..." of v1share: the slot, refs into r[]. */
static unsigned share(struct itest_agent *a, const char *args, uint64_t *r,
                      unsigned n)
{
    char buf[256], *p;
    unsigned slot;
    int rc = itest_cmd(a, buf, sizeof(buf), "v1share %s", args);

    ICHECK(rc == 0, "v1share %s: %s", args, buf);
    if (rc != 0)
        exit(itest_done());
    slot = (unsigned)strtoul(buf + 3, &p, 0);
    for (unsigned i = 0; i < n; i++)
        r[i] = strtoull(p, &p, 0);
    return slot;
}

/* B's byte at offset off of map m is A's pattern byte at A's offset want. */
static void map_byte(struct itest_agent *b, uint64_t m, unsigned off,
                     unsigned want, const char *what)
{
    char buf[64];
    unsigned v = (uint8_t)(SEED * 31 + want * 7 + (want >> 9));
    int rc = itest_cmd(b, buf, sizeof(buf), "mread %llu %u",
                       (unsigned long long)m, off);

    ICHECK(rc == 0 && strtoul(buf + 3, NULL, 0) == v, "%s (%s, want %u)", what,
           buf, v);
}

/* The argument checks, and copies of more segments than one batch, from
 * dom0's own handle (A shares two pages with dom0). */
static void direct_calls(grant_handle_t *h, struct itest_agent *a)
{
    struct grant_v1_copy_seg segs[100], bad[6];
    grant_v1_ref_t refs[2], big[GRANT_V1_MAX + 1] = {0};
    uint64_t r[2];
    uint8_t *buf = NULL, stack[64];
    unsigned slot = share(a, "0 2", r, 2), wrong = 0;
    void *p;
    int rc;

    refs[0] = (grant_v1_ref_t)r[0];
    refs[1] = (grant_v1_ref_t)r[1];
    itest_ok(a, "fill %u 0 8192 %d", slot, SEED);
    ICHECK(grant_v1_map(h, a->domid, refs, 0, 0, &p) == -EINVAL &&
               grant_v1_map(h, a->domid, big, GRANT_V1_MAX + 1, 0, &p) ==
                   -EINVAL &&
               grant_v1_map(h, a->domid, refs, 1, 0x2, &p) == -EINVAL &&
               grant_v1_map(h, a->domid, NULL, 1, 0, &p) == -EINVAL &&
               grant_v1_share(h, a->domid, 0, 0, refs, &p) == -EINVAL,
           "map and share refuse no refs, too many, unknown flags, NULL");
    ICHECK(grant_v1_unmap(h, stack) == -EINVAL &&
               grant_v1_end(h, stack) == -EINVAL,
           "unmap and end refuse an address they did not give");
    ICHECK(grant_v1_copy(h, NULL, 1) == -EINVAL &&
               grant_v1_copy(h, NULL, 0) == 0,
           "copy: NULL segments refused, none is 0");
    ICHECK(grant_mem_alloc(h, 2, (void **)&buf) == 0, "dom0 grant memory");
    for (unsigned i = 0; i < 100; i++)
        segs[i] = (struct grant_v1_copy_seg){
            .src = {.granter = a->domid,
                    .ref = refs[i % 2],
                    .offset = (uint16_t)(i * 40 % 4000)},
            .dst = {.local = 1, .ptr = buf + i * 40},
            .len = 40};
    rc = grant_v1_copy(h, segs, 100);
    for (unsigned i = 0; i < 100 * 40; i++) {
        unsigned seg = i / 40, at = (seg % 2) * 4096 + seg * 40 % 4000 + i % 40;
        wrong += buf[i] != (uint8_t)(SEED * 31 + at * 7 + (at >> 9));
    }
    ICHECK(rc == 100 && wrong == 0,
           "100 segments (more than one batch): %d done, %u wrong bytes", rc,
           wrong);
    for (unsigned i = 0; i < 6; i++)
        bad[i] = segs[i];
    bad[1].src = (struct grant_v1_ptr){.local = 1, .ptr = buf + 4096};
    bad[2].dst.ptr = stack;
    bad[3].src.offset = 4090;
    bad[4].src.local = 2;
    bad[5].src.ref = 0x7777777;
    rc = grant_v1_copy(h, bad, 6);
    ICHECK(rc == 1 && bad[0].status == 0 && bad[1].status == -EINVAL &&
               bad[2].status == -EFAULT && bad[3].status == -EINVAL &&
               bad[4].status == -EINVAL && bad[5].status == -ENOENT,
           "per segment: local to local, not grant memory, past the page, "
           "bad kind, bad ref (%d: %d %d %d %d %d %d)",
           rc, bad[0].status, bad[1].status, bad[2].status, bad[3].status,
           bad[4].status, bad[5].status);
    grant_mem_free(h, buf);
    itest_ok(a, "v1end %u", slot);
}

int main(void)
{
    struct itest_agent a, b;
    grant_domid_t A, B;
    grant_handle_t *dom0;
    uint64_t r[3], ro[1], sa, sro, sb, m, mro;
    char buf[128];

    itest_setup(&dom0);
    ICHECK(grant_features(dom0) == (GRANT_FEAT_EXT | GRANT_FEAT_V1_MAP |
                                    GRANT_FEAT_V1_SHARE | GRANT_FEAT_IO),
           "xgrantd offers the extension, standard grants and grant I/O (%u)",
           grant_features(dom0));
    ICHECK(grant_features(NULL) == 0, "no handle, no features");
    itest_spawn(dom0, &a, "front", 64);
    itest_spawn(dom0, &b, "back", 64);
    A = a.domid;
    B = b.domid;

    sa = share(&a, "0 3", r, 3); /* to dom0: not B */
    itest_ok(&a, "v1end %llu", (unsigned long long)sa);
    itest_err(&b, -ENOENT, "v1map %u rw 0x%llx", A, (unsigned long long)r[0]);
    itest_err(&a, -EINVAL, "v1share %u 0", B);
    sa = share(&a, (snprintf(buf, sizeof(buf), "%u 3", B), buf), r, 3);
    itest_ok(&a, "fill %llu 0 12288 %d", (unsigned long long)sa, SEED);

    /* Three refs, mapped in reverse order: page i shows refs[i]. */
    m = itest_ok(&b, "v1map %u rw 0x%llx 0x%llx 0x%llx", A,
                 (unsigned long long)r[2], (unsigned long long)r[1],
                 (unsigned long long)r[0]);
    map_byte(&b, m, 5, 8192 + 5, "page 0 of the map is A's page 2");
    map_byte(&b, m, 4096 + 4095, 4096 + 4095, "page 1 is A's page 1");
    map_byte(&b, m, 8192, 0, "page 2 is A's page 0");
    itest_ok(&b, "mwrite %llu 4106 77", (unsigned long long)m);
    itest_ok(&a, "expect %llu 4106 1 77", (unsigned long long)sa);

    /* Grant copy: Xen's rule (a ref side ends in its page), both ways. */
    sb = itest_ok(&b, "alloc 2");
    itest_ok(&b, "v1copyfrom %u 0x%llx 100 %llu 4196 3000", A,
             (unsigned long long)r[1], (unsigned long long)sb);
    itest_ok(&b, "check %llu 4196 3000 %d", (unsigned long long)sb, SEED);
    itest_err(&b, -EINVAL, "v1copyfrom %u 0x%llx 4000 %llu 0 200", A,
              (unsigned long long)r[1], (unsigned long long)sb);
    itest_ok(&b, "v1copyfrom %u 0x%llx 4000 %llu 4000 96", A,
             (unsigned long long)r[0], (unsigned long long)sb);
    itest_ok(&b, "write %llu 0 v1-marker", (unsigned long long)sb);
    itest_ok(&b, "v1copyto %u 0x%llx 10 %llu 0 9", A, (unsigned long long)r[2],
             (unsigned long long)sb);
    ICHECK(itest_cmd(&a, buf, sizeof(buf), "print %llu 8202 9",
                     (unsigned long long)sa) == 0 &&
               !strcmp(buf, "ok v1-marker"),
           "B's copy landed in A's page 2 (%s)", buf);
    itest_ok(&b, "v1g2g %u 0x%llx 0 %u 0x%llx 0 1", A, (unsigned long long)r[0],
             A, (unsigned long long)r[2]);
    itest_err(&b, -ENOENT, "v1copyfrom %u 0x7777777 0 %llu 0 1", A,
              (unsigned long long)sb);

    /* Read-only: no write through a copy or a writable map. */
    sro = share(&a, (snprintf(buf, sizeof(buf), "%u 1 ro", B), buf), ro, 1);
    itest_err(&b, -EACCES, "v1copyto %u 0x%llx 0 %llu 0 1", A,
              (unsigned long long)ro[0], (unsigned long long)sb);
    itest_err(&b, -EACCES, "v1map %u rw 0x%llx", A, (unsigned long long)ro[0]);
    mro = itest_ok(&b, "v1map %u ro 0x%llx", A, (unsigned long long)ro[0]);
    itest_ok(&b, "mread %llu 0", (unsigned long long)mro);
    itest_err(&b, -EFAULT, "mwrite %llu 0 1", (unsigned long long)mro);

    /* All or nothing: a bad ref anywhere leaves nothing mapped. */
    ICHECK(itest_cmd(&b, buf, sizeof(buf), "usage") == 0 &&
               !strncmp(buf, "ok 0 4 ", 7),
           "B maps 4 pages (%s)", buf);
    itest_err(&b, -ENOENT, "v1map %u rw 0x%llx 0x7777777", A,
              (unsigned long long)r[0]);
    ICHECK(itest_cmd(&b, buf, sizeof(buf), "usage") == 0 &&
               !strncmp(buf, "ok 0 4 ", 7),
           "a failed map left nothing behind (%s)", buf);

    /* A revoke of the middle page reaches exactly that page of the range
     * (its record moved with it). */
    itest_ok(&a, "revoke 0x%llx force", (unsigned long long)r[1]);
    ICHECK(itest_ok(&b, "mread %llu 4096", (unsigned long long)m) == 0,
           "page 1 of the map is B's scratch page now (zeros)");
    itest_ok(&b, "mwrite %llu 4116 99", (unsigned long long)m);
    itest_ok(&a, "expect %llu 4116 1 %u", (unsigned long long)sa,
             (uint8_t)(SEED * 31 + 4116 * 7 + (4116 >> 9)));
    map_byte(&b, m, 1, 8193, "page 0 still maps A's page 2");
    map_byte(&b, m, 8192 + 7, 7, "page 2 still maps A's page 0");

    /* End while mapped: the grantee's pages become scratch, the refs die. */
    itest_ok(&a, "v1end %llu", (unsigned long long)sa);
    ICHECK(itest_ok(&b, "mread %llu 1", (unsigned long long)m) == 0,
           "after end, page 0 of the map is B's scratch page (zeros)");
    itest_err(&b, -ENOENT, "v1copyfrom %u 0x%llx 0 %llu 0 1", A,
              (unsigned long long)r[0], (unsigned long long)sb);
    itest_ok(&b, "v1unmap %llu", (unsigned long long)m);
    itest_ok(&b, "v1unmap %llu", (unsigned long long)mro);
    itest_ok(&a, "v1end %llu", (unsigned long long)sro);
    ICHECK(itest_cmd(&b, buf, sizeof(buf), "usage") == 0 &&
               !strncmp(buf, "ok 0 0 ", 7),
           "B maps nothing any more (%s)", buf);
    ICHECK(itest_cmd(&a, buf, sizeof(buf), "usage") == 0 &&
               !strncmp(buf, "ok 0 ", 5),
           "A's table is empty: every ref ended (%s)", buf);
    itest_err(&a, -EINVAL, "v1end %llu", (unsigned long long)sro);

    direct_calls(dom0, &a);

    itest_agent_close(&a);
    itest_agent_close(&b);
    itest_teardown(dom0);
    return itest_done();
}
