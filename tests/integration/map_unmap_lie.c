/* SPDX-License-Identifier: MIT */
/*
 * map_unmap_lie: a mapper's UNMAP is believed only once the pages are gone
 * from it (issue 11, finding 6).  A hostile mapper keeps a copy of its
 * mapping of the granter's page (mremap with old size 0 makes a second
 * mapping of the same shared pages) and then unmaps through libgrant,
 * which sends UNMAP.  Before the fix the UNMAP was believed: the granter's
 * plain revoke succeeded and the mapper kept reading the granter's later
 * writes.  Now the UNMAP fails EBUSY, a plain revoke is refused, and a
 * FORCE revoke (whose notice the library acks, having put scratch pages
 * where the refused mapping was) destroys the mapper's domain because it
 * still maps the page through the copy.  A refused
 * mapping stays known to libgrant, as it stays counted by xgrantd: once
 * the copy is gone it can be unmapped again, and a FORCE revoke of it is
 * acked at once (before, libgrant forgot it on the refusal: the retry
 * failed EINVAL and no revoke event was reported).  An honest mapper that
 * maps the same grant twice and unmaps one is believed.
 * The punishment is logged even when the mapper spent its log budget
 * first (hostile review of xgrantd, finding 4).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/itest.h"
#include "common/raw.h"

#define BAD_OP 0x1ffu /* no such op: a logged "bad message" */

/* ---- the mapper (runs in a domain): one command per line ------------- */

static int role_mapper(void)
{
    grant_handle_t *h;
    void *a1 = NULL, *a2 = NULL;
    volatile uint8_t *copy = NULL;
    char line[128];
    unsigned g, r;
    int rc;

    if (grant_open(&h, 0) < 0)
        return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof(line), stdin)) {
        if (sscanf(line, "lie %u %x", &g, &r) == 2) {
            /* Map, keep a second mapping of the page, unmap the first. */
            rc = grant_map(h, (grant_domid_t)g, r, 0, 4096, 0, &a1);
            if (rc == 0) {
                void *p = mremap(a1, 0, 4096, MREMAP_MAYMOVE);

                rc = p == MAP_FAILED ? -errno : 0;
                copy = p == MAP_FAILED ? NULL : p;
            }
            if (rc == 0)
                rc = grant_unmap(h, a1);
        } else if (sscanf(line, "both %u %x", &g, &r) == 2) {
            /* Two mappings of the page, a copy of one, both unmapped in
             * one call: each must not count the other as its excuse. */
            void *as[2];
            int st[2] = {0, 0};

            rc = grant_map(h, (grant_domid_t)g, r, 0, 4096, 0, &as[0]);
            if (rc == 0)
                rc = grant_map(h, (grant_domid_t)g, r, 0, 4096, 0, &as[1]);
            if (rc == 0 && mremap(as[0], 0, 4096, MREMAP_MAYMOVE) == MAP_FAILED)
                rc = -errno;
            if (rc == 0)
                rc = grant_unmap_batch(h, as, st, 2);
            if (rc >= 0) {
                printf("ok %d %d %d\n", rc, st[0], st[1]);
                continue;
            }
        } else if (sscanf(line, "twice %u %x", &g, &r) == 2) {
            /* Honest: the same grant mapped twice, one unmapped. */
            rc = grant_map(h, (grant_domid_t)g, r, 0, 4096, 0, &a1);
            if (rc == 0)
                rc = grant_map(h, (grant_domid_t)g, r, 0, 4096, 0, &a2);
            if (rc == 0)
                rc = grant_unmap(h, a1);
            if (rc == 0 && ((volatile uint8_t *)a2)[0] != 'T')
                rc = -EILSEQ;
            if (rc == 0)
                rc = grant_unmap(h, a2);
        } else if (sscanf(line, "flood %u", &g) == 1) {
            /* Spends the domain's log budget on bad requests. */
            struct raw raw;

            rc = raw_hello(&raw);
            for (unsigned i = 0; rc >= 0 && i < g; i++)
                if (raw_call(&raw, BAD_OP, 0, 0, NULL, 0, NULL, 0) != -ENOSYS)
                    rc = -EPROTO;
            if (rc >= 0)
                close(raw.fd);
        } else if (!strncmp(line, "drop", 4) && copy) {
            rc = munmap((void *)copy, 4096) < 0 ? -errno : 0;
            copy = NULL;
        } else if (!strncmp(line, "unmap", 5)) {
            rc = grant_unmap(h, a1);
        } else if (!strncmp(line, "event", 5)) {
            struct grant_map_event ev;

            rc = grant_map_revoked_next(h, &ev);
            if (rc == 1 && ev.addr != a1)
                rc = -EFAULT;
        } else if (!strncmp(line, "read", 4) && copy) {
            rc = copy[0];
        } else {
            rc = -EINVAL;
        }
        printf(rc < 0 ? "err %d\n" : "ok %d\n", rc);
    }
    grant_close(h);
    return 0;
}

/* ---- the test -------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Does xgrantd's log hold a line of domain dom's that says what? */
static bool logged(unsigned dom, const char *what)
{
    char tag[32], buf[1024];
    bool found = false;
    FILE *f;

    snprintf(tag, sizeof(tag), "dom %u (", dom);
    f = itest_log_open();
    if (!f)
        return false;
    while (!found && fgets(buf, sizeof(buf), f))
        found = strstr(buf, tag) && strstr(buf, what);
    fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    struct itest_agent a, b;
    grant_handle_t *dom0;
    char *role[] = {itest_self(), "--role", "mapper", NULL};
    uint64_t r, r2, r3;
    double t;

    if (argc == 3 && !strcmp(argv[1], "--role"))
        return role_mapper();
    itest_setup(&dom0);
    itest_spawn(dom0, &a, "granter", 64);
    itest_spawn_argv(dom0, &b, "mapper", 64, role);

    itest_ok(&a, "alloc 1");
    itest_ok(&a, "alloc 1");
    itest_ok(&a, "write 0 0 T");
    itest_ok(&a, "write 1 0 X");
    r2 = itest_ok(&a, "grant %u rwm 0 0 4096", b.domid);
    r = itest_ok(&a, "grant %u rwm 1 0 4096", b.domid);

    /* Honest: a second mapping of the same frames is no lie. */
    itest_ok(&b, "twice %u 0x%llx", a.domid, (unsigned long long)r2);

    /* Two mappings unmapped in one call while a copy of one stays. */
    {
        char buf[64];

        ICHECK(itest_cmd(&b, buf, sizeof(buf), "both %u 0x%llx", a.domid,
                         (unsigned long long)r2) == 0 &&
                   strcmp(buf, "ok 0 -16 -16") == 0,
               "both refused: EBUSY (%s)", buf);
        itest_err(&a, -EBUSY, "revoke 0x%llx", (unsigned long long)r2);
    }

    /* Refused, libgrant keeps the mapping (xgrantd counts it): it can be
     * unmapped again once the copy is gone, and then revoked. */
    r3 = itest_ok(&a, "grant %u rwm 1 0 4096", b.domid);
    itest_err(&b, -EBUSY, "lie %u 0x%llx", a.domid, (unsigned long long)r3);
    itest_ok(&b, "drop");
    ICHECK(itest_ok(&b, "unmap") == 0, "a refused mapping unmaps later");
    itest_ok(&a, "revoke 0x%llx", (unsigned long long)r3);

    /* Refused, copy gone, FORCE-revoked: handled as any mapping's notice
     * (acked at once, well under xgrantd's 2 s, reported as an event). */
    r3 = itest_ok(&a, "grant %u rwm 1 0 4096", b.domid);
    itest_err(&b, -EBUSY, "lie %u 0x%llx", a.domid, (unsigned long long)r3);
    itest_ok(&b, "drop");
    t = now();
    itest_ok(&a, "revoke 0x%llx force", (unsigned long long)r3);
    t = now() - t;
    ICHECK(t < 1.0, "FORCE revoke of a refused mapping acked (%.3f s)", t);
    ICHECK(itest_domain_listed(dom0, b.domid), "its mapper's domain lives");
    ICHECK(itest_ok(&b, "event") == 1, "the revoke is reported");
    ICHECK(itest_ok(&b, "unmap") == 0, "then the mapping unmaps");

    /* The lie: UNMAP while a copy of the mapping stays. */
    itest_err(&b, -EBUSY, "lie %u 0x%llx", a.domid, (unsigned long long)r);
    itest_err(&a, -EBUSY, "revoke 0x%llx", (unsigned long long)r);
    itest_ok(&a, "write 1 0 Y");
    ICHECK(itest_ok(&b, "read") == 'Y', "(the copy is the granter's page)");

    /* FORCE: the library acks (scratch pages at a1); the copy is still
     * there, so the mapper's domain goes before the revoke returns, and
     * says why in the log although it used up its budget just before. */
    itest_ok(&b, "flood 100");
    itest_ok(&a, "revoke 0x%llx force", (unsigned long long)r);
    ICHECK(!itest_domain_listed(dom0, b.domid),
           "the lying mapper's domain is destroyed by the FORCE revoke");
    itest_ok(&a, "write 1 0 Z");
    itest_err(&b, -EPIPE, "read");
    ICHECK(logged(b.domid, "acknowledged the unmap of handle"),
           "the false ack is logged, the domain's log budget spent or not");
    ICHECK(logged(b.domid, "UNMAP NOT ACKNOWLEDGED"),
           "its punishment is logged, the domain's log budget spent or not");

    itest_agent_close(&a);
    itest_agent_close(&b);
    itest_teardown(dom0);
    return itest_done();
}
