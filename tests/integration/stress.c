/* SPDX-License-Identifier: MIT */
/*
 * stress: several domains hammer xgrantd at once, each checking its own
 * results: two copiers verify every byte they copy, a churner creates and
 * revokes grants (single and batched), a mapper maps, reads and unmaps,
 * and the driver meanwhile creates and destroys short-lived domains that
 * hold grants and mappings.  Bounded by iteration counts; at the end every
 * role reports success, every counter is back to zero and xgrantd is
 * still serving.
 *   stress [ITERATIONS]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/itest.h"

#define BUF (256u << 10)

static unsigned iters = 3000;

static uint8_t pat(unsigned seed, size_t i)
{
    return (uint8_t)(seed * 13 + i * 5 + (i >> 11));
}

/* A role's verdict on stdout: "ok DETAIL" or "err N DETAIL". */
static int verdict(grant_handle_t *h, int rc, const char *what, unsigned i)
{
    if (rc < 0)
        printf("err %d %s failed at iteration %u: %s\n", rc, what, i,
               grant_strerror(rc));
    else
        printf("ok %s x%u\n", what, i);
    fflush(stdout);
    grant_close(h);
    return rc < 0;
}

/* Shares BUF bytes with `peer` (read + map), answers the ref, then waits. */
static int role_source(grant_handle_t *h, grant_domid_t peer)
{
    grant_ref_t ref;
    uint8_t *p;
    int rc;

    rc = grant_mem_alloc(h, BUF / 4096, (void **)&p);
    for (size_t i = 0; rc == 0 && i < BUF; i++)
        p[i] = pat(grant_domid(h), i);
    if (rc == 0)
        rc = grant_create_direct(h, peer, GRANT_R_READ | GRANT_R_MAP, p, BUF,
                                 &ref);
    if (rc < 0)
        return verdict(h, rc, "source", 0);
    printf("ok %u\n", ref);
    fflush(stdout);
    getchar(); /* until the driver closes our stdin */
    grant_close(h);
    return 0;
}

/* Readers learn their source from one stdin line: "DOMID REF". */
static int read_source(grant_domid_t *src, grant_ref_t *ref)
{
    unsigned d, r;

    if (scanf("%u %u", &d, &r) != 2)
        return -EINVAL;
    *src = (grant_domid_t)d;
    *ref = r;
    return 0;
}

static int role_copier(grant_handle_t *h)
{
    grant_domid_t src = 0;
    grant_ref_t ref = 0;
    uint8_t *p;
    unsigned i = 0;
    int rc = read_source(&src, &ref);

    if (rc == 0)
        rc = grant_mem_alloc(h, BUF / 4096, (void **)&p);

    for (i = 0; rc == 0 && i < iters; i++) {
        size_t off = (i * 4099u) % (BUF - 9000), len = 1 + (i * 7919u) % 9000;

        rc = grant_copy_from(h, p, src, ref, off, len);
        for (size_t k = 0; rc == 0 && k < len; k++)
            if (p[k] != pat(src, off + k))
                rc = -EILSEQ;
    }
    return verdict(h, rc, "copy+verify", i);
}

static int role_churner(grant_handle_t *h, grant_domid_t peer)
{
    struct grant_create_req reqs[16];
    struct grant_usage u;
    uint8_t *p;
    unsigned i, k;
    int rc = grant_mem_alloc(h, 4, (void **)&p);

    for (i = 0; rc == 0 && i < iters; i++) {
        for (k = 0; k < 16; k++)
            reqs[k] = (struct grant_create_req){.grantee = peer,
                                                .rights = GRANT_R_READ,
                                                .ptr = p + k * 100,
                                                .len = 1 + k * 900};
        rc = grant_create_batch(h, reqs, 16);
        for (k = 0; rc == 0 && k < 16; k++)
            rc = grant_revoke(h, reqs[k].ref, 0);
    }
    if (rc == 0)
        rc = grant_usage(h, GRANT_DOMID_SELF, &u);
    if (rc == 0 && u.entries != 0)
        rc = -EUCLEAN;
    return verdict(h, rc, "create+revoke x16", i);
}

static int role_mapper(grant_handle_t *h)
{
    grant_domid_t src = 0;
    grant_ref_t ref = 0;
    unsigned i = 0;
    int rc = read_source(&src, &ref);

    for (i = 0; rc == 0 && i < iters / 4; i++) {
        size_t page = i % (BUF / 4096);
        uint8_t *m;

        rc = grant_map(h, src, ref, page * 4096, 4096, GRANT_MAP_RDONLY,
                       (void **)&m);
        if (rc == 0 && m[i % 4096] != pat(src, page * 4096 + i % 4096))
            rc = -EILSEQ;
        if (rc == 0)
            rc = grant_unmap(h, m);
    }
    return verdict(h, rc, "map+read+unmap", i);
}

static int role(int argc, char **argv)
{
    grant_handle_t *h;
    unsigned a = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 0) : 0;
    int rc = grant_open(&h, 0);

    if (argc > 5)
        iters = (unsigned)strtoul(argv[5], NULL, 0);
    if (rc < 0) {
        printf("err %d grant_open\n", rc);
        return 1;
    }
    if (!strcmp(argv[2], "source"))
        return role_source(h, (grant_domid_t)a);
    if (!strcmp(argv[2], "copier"))
        return role_copier(h);
    if (!strcmp(argv[2], "churner"))
        return role_churner(h, (grant_domid_t)a);
    if (!strcmp(argv[2], "mapper"))
        return role_mapper(h);
    printf("err -22 unknown role\n");
    return 1;
}

static void spawn_role(grant_handle_t *dom0, struct itest_agent *ag,
                       const char *name, const char *what, unsigned a)
{
    char sa[16], si[16];
    char *argv[] = {itest_self(), "--role", (char *)what, sa, "0", si, NULL};

    snprintf(sa, sizeof(sa), "%u", a);
    snprintf(si, sizeof(si), "%u", iters);
    itest_spawn_argv(dom0, ag, name, 1024, argv);
}

static void expect_ok(struct itest_agent *ag, uint64_t *val)
{
    char line[256] = "";
    int got = fgets(line, sizeof(line), ag->in) != NULL;

    line[strcspn(line, "\n")] = '\0';
    ICHECK(got && strncmp(line, "ok", 2) == 0, "%s: %s", ag->name,
           got ? line : "(no answer)");
    if (val)
        *val = strtoull(line + 2, NULL, 0);
}

/* Tells a reader its source and ref. */
static void start_reader(struct itest_agent *reader, struct itest_agent *src,
                         uint64_t ref)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "%u %llu\n", src->domid,
                     (unsigned long long)ref);

    ICHECK(write(reader->to, line, n) == n, "start %s", reader->name);
}

/* Meanwhile: short-lived domains grant the sink, which copies and maps,
 * and die under it. */
static void churn_domains(grant_handle_t *dom0, struct itest_agent *sink)
{
    for (int i = 0; i < 8; i++) {
        struct itest_agent t;
        char name[32];
        uint64_t r, m;

        snprintf(name, sizeof(name), "brief%d", i);
        itest_spawn(dom0, &t, name, 64);
        itest_ok(&t, "alloc 2");
        itest_ok(&t, "fill 0 0 8192 %d", i);
        r = itest_ok(&t, "grant %u rm 0 0 8192", sink->domid);
        itest_ok(sink, "copyfrom %u 0x%llx 0 0 0 8192", t.domid,
                 (unsigned long long)r);
        itest_ok(sink, "check 0 0 8192 %d", i);
        m = itest_ok(sink, "map %u 0x%llx 0 8192 ro", t.domid,
                     (unsigned long long)r);
        ICHECK(grant_ctl_domain_destroy(dom0, t.domid) == 0, "destroy %s",
               name);
        ICHECK(itest_ok(sink, "mread %llu 1", (unsigned long long)m) == 0,
               "%s died: the sink's mapping reads a scratch page", name);
        itest_err(sink, -EFAULT, "mwrite %llu 1 1", (unsigned long long)m);
        itest_ok(sink, "unmap %llu", (unsigned long long)m);
        itest_agent_close(&t);
    }
}

int main(int argc, char **argv)
{
    struct itest_agent sink, s[3], rd[3], churn;
    static const char *const rnames[3] = {"copier1", "copier2", "mapper"};
    grant_handle_t *dom0;
    struct grant_usage u;
    uint64_t ref[3];
    int i;

    if (argc > 2 && !strcmp(argv[1], "--role"))
        return role(argc, argv);
    if (argc > 1)
        iters = (unsigned)strtoul(argv[1], NULL, 0);
    itest_setup(&dom0);
    itest_spawn(dom0, &sink, "sink", 64);
    itest_ok(&sink, "alloc 2");
    for (i = 0; i < 3; i++)
        spawn_role(dom0, &rd[i], rnames[i], i < 2 ? "copier" : "mapper", 0);
    for (i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "source%d", i);
        spawn_role(dom0, &s[i], name, "source", rd[i].domid);
        expect_ok(&s[i], &ref[i]);
    }
    spawn_role(dom0, &churn, "churner", "churner", sink.domid);
    for (i = 0; i < 3; i++)
        start_reader(&rd[i], &s[i], ref[i]);
    churn_domains(dom0, &sink);
    for (i = 0; i < 3; i++)
        expect_ok(&rd[i], NULL);
    expect_ok(&churn, NULL);
    for (i = 0; i < 3; i++) {
        struct grant_entry_info e;

        ICHECK(grant_query_table(dom0, s[i].domid, &e, 1) == 1 && e.maps == 0 &&
                   e.ref == ref[i],
               "source%d's grant is live and mapped nowhere", i);
        itest_agent_close(&rd[i]);
        itest_agent_close(&s[i]);
    }
    ICHECK(grant_usage(dom0, sink.domid, &u) == 0 && u.maps == 0 &&
               u.entries == 0,
           "the sink's counters are back to zero");
    itest_agent_close(&churn);
    itest_agent_close(&sink);
    itest_teardown(dom0);
    return itest_done();
}
