/* SPDX-License-Identifier: MIT */
/*
 * map_double_revoke: an honest mapper holding several mappings of the same
 * frames survives their FORCE revoke and the MEM_FREE of the frames
 * (hostile review of xgrantd, finding 1).  The revoke notifies every
 * mapping at once; the library scratches and acks them one by one.
 * Before the fix xgrantd dropped all their records at once, so the first
 * ack, while the other mappings still showed in /proc/<pid>/maps, was
 * judged a lie and the mapper's domain destroyed (4 runs in 5).  Each
 * case is repeated: the race went the honest way now and then.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/itest.h"

#define NMAPS  8
#define ROUNDS 16

/* NMAPS mappings of one grant (or of NMAPS grants over the same page). */
static void map_all(struct itest_agent *a, struct itest_agent *b,
                    uint64_t *refs, int nrefs, uint64_t *m)
{
    for (int i = 0; i < NMAPS; i++)
        m[i] = itest_ok(b, "map %u 0x%llx 0 4096", a->domid,
                        (unsigned long long)refs[i % nrefs]);
}

/* The mapper is alive and its handle works. */
static bool mapper_alive(struct itest_agent *b, const char *what, int round)
{
    char buf[128];
    int rc = itest_cmd(b, buf, sizeof(buf), "domid");

    ICHECK(rc == 0, "round %d: the mapper survives %s (rc %d, %s)", round, what,
           rc, buf);
    return rc == 0;
}

static bool force_revoke_round(struct itest_agent *a, struct itest_agent *b,
                               int nrefs, int round)
{
    uint64_t refs[NMAPS], m[NMAPS];
    char buf[128];

    for (int i = 0; i < nrefs; i++)
        refs[i] = itest_ok(a, "grant %u rwm 0 0 4096", b->domid);
    map_all(a, b, refs, nrefs, m);
    for (int i = 0; i < nrefs; i++)
        itest_ok(a, "revoke 0x%llx force", (unsigned long long)refs[i]);
    if (!mapper_alive(b,
                      nrefs == 1 ? "a FORCE revoke of one grant mapped "
                                   "8 times"
                                 : "FORCE revokes of 8 grants of a page",
                      round))
        return false;
    /* Every mapping was revoked: its unmap is the library's business. */
    for (int i = 0; i < NMAPS; i++)
        itest_cmd(b, buf, sizeof(buf), "unmap %llu", (unsigned long long)m[i]);
    return true;
}

static bool mem_free_round(struct itest_agent *a, struct itest_agent *b,
                           int round)
{
    uint64_t ref, m[NMAPS], slot;
    char buf[128];

    slot = itest_ok(a, "alloc 1");
    ref = itest_ok(a, "grant %u rwm %llu 0 4096", b->domid,
                   (unsigned long long)slot);
    map_all(a, b, &ref, 1, m);
    itest_ok(a, "free %llu", (unsigned long long)slot);
    if (!mapper_alive(b, "MEM_FREE of a page it maps 8 times", round))
        return false;
    for (int i = 0; i < NMAPS; i++)
        itest_cmd(b, buf, sizeof(buf), "unmap %llu", (unsigned long long)m[i]);
    return true;
}

int main(void)
{
    struct itest_agent a, b;
    grant_handle_t *dom0;
    bool ok = true;

    itest_setup(&dom0);
    itest_spawn(dom0, &a, "granter", 256);
    itest_spawn(dom0, &b, "mapper", 256);
    itest_ok(&a, "alloc 4");
    itest_ok(&b, "alloc 1");
    for (int r = 0; ok && r < ROUNDS; r++)
        ok = force_revoke_round(&a, &b, 1, r);
    for (int r = 0; ok && r < ROUNDS; r++)
        ok = force_revoke_round(&a, &b, NMAPS, r);
    for (int r = 0; ok && r < ROUNDS; r++)
        ok = mem_free_round(&a, &b, r);
    itest_agent_close(&a);
    itest_agent_close(&b);
    itest_teardown(dom0);
    return itest_done();
}
