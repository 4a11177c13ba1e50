/* SPDX-License-Identifier: MIT */
/*
 * xlab_lock.c (issue 12, Locking): copies move their bytes outside the
 * extension's lock (hv-patches 0014), so a hostile guest's load does not
 * stall a bystander.
 *
 * The guest grants dom0 two pages: page 0 is the control page (dom0 writes
 * the load the guest is to run into its first byte), page 1 a fixed
 * pattern.  dom0 grants the guest LOCK_BIG bytes of a pattern.  For each
 * load (none; the guest copying LOCK_BIG from dom0's grant in one call,
 * over and over; the guest protecting LOCK_BIG of its own memory R and
 * back; the guest creating and revoking grants), dom0 copies page 1 (4 KiB)
 * LOCK_ROUNDS times as the bystander, checks every byte and prints the
 * mean and worst time (`XLAB-LOCK`).  During the copy load a second dom0
 * thread protects dom0's big grant NONE and back and revokes and
 * re-creates a grant of its own meanwhile: two domains copy while a third
 * party protects and revokes (`lock_concurrent`: every copy the guest made
 * that succeeded brought dom0's bytes; every bystander copy brought the
 * guest's).  With no load, dom0 also times LOCK_PAIRS 4 KiB copies each
 * way from the guest, GNTTABOP_copy (a gntalloc page) and the extension's
 * COPY, interleaved one by one so a burst of load hits both alike, and
 * prints the ratio of their medians (`XLAB-LOCK ratio`).  Last, the
 * guest protects every other page of its 4 MiB (512 ranges) and dom0 finds
 * the guest's tot_pages (nr_pages in Xen's 'q' dump) grown by what the
 * ranges' bookkeeping takes (`protect_charged`, hv-patches 0015: the
 * domain pays for it; before, nothing).  The 4 MiB sides live
 * in handles of their own, opened with XGRANT_XEN_PAGES=LOCK_PAGES (the default
 * grant memory is 4 MiB in all); dom0's third party has that handle to itself
 * (a handle serves one thread), the bystander uses the program's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xlab.h"
#include "xlab_v1.h"

#define LOCK_BIG     XLAB_LOCK_BIG
#define LOCK_ROUNDS  60
#define LOCK_PAIRS   300 /* GNTTABOP_copy / COPY pairs for the ratio */
#define LOCK_PAGES   "1100"
#define LOAD_NONE    XLAB_LOAD_NONE
#define LOAD_COPY    XLAB_LOAD_COPY
#define LOAD_PROTECT XLAB_LOAD_PROTECT
#define LOAD_CHURN   XLAB_LOAD_CHURN
#define LOAD_STOP    XLAB_LOAD_STOP
/* The loads dom0's bystander sees here (the FORCE revokes need a mapper:
 * xlab_multi.c runs them). */
#define LOCK_LOADS XLAB_LOAD_FORCE
const char *const xlab_load_name[XLAB_LOAD_STOP] = {
    "none", "copy 4MiB", "protect 4MiB", "create+revoke",
    "FORCE revoke mapped"};
#define load_name xlab_load_name

static uint8_t lock_byte(uint64_t i)
{
    return (uint8_t)(i * 7 + 3);
}

int xlab_open_pages(grant_handle_t **out, const char *pages)
{
    int rc;

    setenv("XGRANT_XEN_PAGES", pages, 1);
    rc = grant_open(out, 0);
    unsetenv("XGRANT_XEN_PAGES");
    return rc;
}

/* A handle with LOCK_PAGES of grant memory: 0 or -errno. */
static int open_big(grant_handle_t **out)
{
    return xlab_open_pages(out, LOCK_PAGES);
}

/* ---- the guest ---------------------------------------------------------- */

#define guest_counts xlab_load_counts

/* Every 512th byte and the last of a copy of dom0's pattern. */
static int copied_right(const uint8_t *p)
{
    for (uint64_t i = 0; i < LOCK_BIG; i += 512)
        if (p[i] != xlab_pattern(i))
            return 0;
    return p[LOCK_BIG - 1] == xlab_pattern(LOCK_BIG - 1);
}

static void count(struct guest_counts *c, int rc)
{
    c->ops++;
    if (rc) {
        c->errs++;
        c->last_err = rc;
    }
}

void xlab_lock_load(grant_handle_t *h, int load, grant_ref_t big, uint8_t *buf,
                    struct xlab_load_counts *c)
{
    grant_ref_t r[16];
    int rc;

    switch (load) {
    case LOAD_COPY:
        rc = grant_copy_from(h, buf, 0, big, 0, LOCK_BIG);
        count(c, rc);
        if (rc == 0 && !copied_right(buf))
            c->bad++;
        break;
    case LOAD_PROTECT:
        count(c,
              grant_protect(h, buf, LOCK_BIG, GRANT_ACC_R, GRANT_ACT_DENY, 1));
        count(c, grant_protect(h, buf, LOCK_BIG, GRANT_ACC_RWX, GRANT_ACT_DENY,
                               0));
        break;
    case LOAD_CHURN:
        for (unsigned i = 0; i < 16; i++) {
            rc = grant_create_direct(h, 0, GRANT_R_READ, buf + i * 4096, 4096,
                                     &r[i]);
            count(c, rc);
            if (rc == 0)
                count(c, grant_revoke(h, r[i], 0));
        }
        break;
    default:
        usleep(2000);
    }
}

void xlab_lock_guest(void)
{
    struct guest_counts c[LOAD_STOP] = {{0}};
    char res[32];
    grant_handle_t *h = NULL;
    volatile uint8_t *ctl;
    uint8_t *mem = NULL;
    grant_ref_t ref = 0;
    uint32_t big = 0;
    int rc, load;

    rc = open_big(&h);
    if (rc == 0)
        rc = grant_mem_alloc(h, 2 + LOCK_BIG / 4096, (void **)&mem);
    if (rc == 0) {
        memset(mem, 0, 4096);
        for (unsigned i = 0; i < 4096; i++)
            mem[4096 + i] = lock_byte(i);
        rc = grant_create_direct(h, 0, GRANT_R_READ | GRANT_R_WRITE, mem,
                                 2 * 4096, &ref);
    }
    xlab_xs_write("lockctl", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? ref : (unsigned)rc);
    if (rc == 0) {
        uint8_t *v1 = NULL;
        uint32_t gref = 0;
        int r1 = xlab_v1_share(0, (void **)&v1, &gref);

        for (unsigned i = 0; r1 == 0 && i < 4096; i++)
            v1[i] = lock_byte(i);
        xlab_xs_write("lockv1", r1 == 0 ? "%u" : "ERR%d",
                      r1 == 0 ? gref : (unsigned)r1);
    }
    if (rc == 0)
        rc = xlab_xs_wait_u32("lockbig", &big);
    if (rc) {
        xlab_report("lock_guest", 0, "setup: %s", grant_strerror(rc));
        grant_close(h);
        return;
    }
    ctl = mem;
    while ((load = __atomic_load_n(ctl, __ATOMIC_ACQUIRE)) != LOAD_STOP)
        xlab_lock_load(h, load, big, mem + 2 * 4096,
                       &c[load < LOAD_STOP ? load : LOAD_NONE]);
    rc = xlab_xs_write(
        "lockguest",
        "copies %lu (%lu failed, last %d, %lu wrong bytes) "
        "protects %lu (%lu failed) grants+revokes %lu (%lu failed)",
        c[LOAD_COPY].ops, c[LOAD_COPY].errs, c[LOAD_COPY].last_err,
        c[LOAD_COPY].bad, c[LOAD_PROTECT].ops, c[LOAD_PROTECT].errs,
        c[LOAD_CHURN].ops, c[LOAD_CHURN].errs);
    xlab_report("lock_guest", rc == 0, "loads done (%lu copies), told dom0: %s",
                c[LOAD_COPY].ops, grant_strerror(rc));
    if (xlab_xs_wait("chargego", res, sizeof(res)) == 0) {
        uint8_t *buf = mem + 2 * 4096;

        rc = 0;
        for (unsigned i = 0; i < LOCK_BIG / 4096 && rc == 0; i += 2)
            rc = grant_protect(h, buf + i * 4096, 4096, GRANT_ACC_R,
                               GRANT_ACT_DENY, 3);
        xlab_xs_write("chargedone", "%d", rc);
        xlab_xs_wait("chargeseen", res, sizeof(res));
        grant_protect(h, buf, LOCK_BIG, GRANT_ACC_RWX, GRANT_ACT_DENY, 0);
    }
    xlab_v1_unshare();
    grant_revoke(h, ref, GRANT_REVOKE_FORCE);
    grant_close(h);
}

/* ---- dom0 --------------------------------------------------------------- */

struct third {
    grant_handle_t *h;
    uint8_t *big;
    unsigned guest;
    int stop;
    unsigned long protects, revokes, errs;
};

/* The third party: protects the guest's source NONE and back, and
 * revokes and re-creates a grant of its own, while both domains copy. */
static void *third_party(void *arg)
{
    struct third *t = arg;

    while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
        grant_ref_t r;
        int rc = grant_protect(t->h, t->big, LOCK_BIG, GRANT_ACC_NONE,
                               GRANT_ACT_DENY, 2);

        usleep(3000);
        rc |= grant_protect(t->h, t->big, LOCK_BIG, GRANT_ACC_RWX,
                            GRANT_ACT_DENY, 0);
        t->protects += 2;
        if (!rc)
            rc = grant_create_direct(t->h, (grant_domid_t)t->guest,
                                     GRANT_R_READ, t->big, 4096, &r);
        if (!rc) {
            rc = grant_revoke(t->h, r, 0);
            t->revokes++;
        }
        t->errs += rc != 0;
        usleep(10000);
    }
    return NULL;
}

/* byte: one of dom0's grant memory */
static int set_load(grant_handle_t *h, unsigned guest, grant_ref_t ctl,
                    uint8_t *byte, uint8_t load)
{
    *byte = load;
    return grant_copy_to(h, (grant_domid_t)guest, ctl, 0, byte, 1);
}

int xlab_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* LOCK_ROUNDS 4 KiB copies of the guest's page 1, each checked; times in
 * microseconds: t[0] median, t[1] mean, t[2] 90th percentile, t[3] worst.
 * 0 or the first error (-EIO for a wrong byte). */
static int bystander(grant_handle_t *h, unsigned guest, grant_ref_t ctl,
                     uint8_t *buf, double t[4])
{
    static double us[LOCK_ROUNDS];
    double sum = 0;
    int rc = 0;

    for (unsigned i = 0; i < LOCK_ROUNDS && rc == 0; i++) {
        uint64_t t0 = xlab_now_ns();

        rc = grant_copy_from(h, buf, (grant_domid_t)guest, ctl, 4096, 4096);
        us[i] = (double)(xlab_now_ns() - t0) / 1e3;
        sum += us[i];
        for (unsigned k = 0; rc == 0 && k < 4096; k++)
            if (buf[k] != lock_byte(k))
                rc = -EIO;
        usleep(5000);
    }
    qsort(us, LOCK_ROUNDS, sizeof(us[0]), xlab_cmp_double);
    t[0] = us[LOCK_ROUNDS / 2];
    t[1] = sum / LOCK_ROUNDS;
    t[2] = us[LOCK_ROUNDS * 9 / 10];
    t[3] = us[LOCK_ROUNDS - 1];
    return rc;
}

/* Medians of LOCK_PAIRS interleaved 4 KiB copies from the guest,
 * GNTTABOP_copy of its gntalloc page and the extension's COPY of its
 * pattern page (ns); 0 or the first error. */
static int copy_ratio(grant_handle_t *h, unsigned guest, grant_ref_t ctl,
                      uint32_t gref, uint8_t *buf, double *v1, double *x)
{
    static double tv[LOCK_PAIRS], tx[LOCK_PAIRS];
    int rc = 0;

    for (unsigned i = 0; i < LOCK_PAIRS && rc == 0; i++) {
        uint64_t t = 0, t0;

        rc = xlab_v1_copy_times(guest, gref, buf, 1, &t);
        tv[i] = (double)t;
        t0 = xlab_now_ns();
        if (rc == 0)
            rc = grant_copy_from(h, buf, (grant_domid_t)guest, ctl, 4096, 4096);
        tx[i] = (double)(xlab_now_ns() - t0);
    }
    qsort(tv, LOCK_PAIRS, sizeof(tv[0]), xlab_cmp_double);
    qsort(tx, LOCK_PAIRS, sizeof(tx[0]), xlab_cmp_double);
    *v1 = tv[LOCK_PAIRS / 2];
    *x = tx[LOCK_PAIRS / 2];
    return rc;
}

/* The guest's tot_pages from Xen's 'q' dump (nr_pages=), or -errno. */
static long guest_pages(unsigned guest)
{
    char line[512], head[64];
    long pages = -ENOENT;
    int in = 0;
    FILE *f = xlab_q_dump();

    if (!f)
        return -errno;
    snprintf(head, sizeof(head), "General information for domain %u:", guest);
    while (fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, "nr_pages=");

        if (strstr(line, "General information for domain"))
            in = strstr(line, head) != NULL;
        else if (in && p)
            pages = strtol(p + strlen("nr_pages="), NULL, 10); /* the last */
    }
    pclose(f);
    return pages;
}

/* The guest protects 512 separate pages: its tot_pages pays for them. */
static void charge_dom0(unsigned guest)
{
    long before = guest_pages(guest), after = -1;
    char res[32] = "";
    int rc = before < 0 ? (int)before : 0;

    if (rc == 0)
        rc = xlab_xs_write("chargego", "1");
    if (rc == 0)
        rc = xlab_xs_wait("chargedone", res, sizeof(res));
    if (rc == 0)
        rc = atoi(res);
    if (rc == 0)
        after = guest_pages(guest);
    xlab_xs_write("chargeseen", "1");
    xlab_report("protect_charged", rc == 0 && after >= before + 2,
                "the guest's tot_pages %ld -> %ld after it protected 512 "
                "separate pages (want +2 at least: the ranges' bookkeeping): "
                "%s",
                before, after, grant_strerror(rc));
}

void xlab_lock_dom0(grant_handle_t *h, unsigned guest)
{
    struct third t = {.guest = guest};
    uint8_t *big = NULL, *buf = NULL;
    char res[256] = "";
    uint32_t ctl = 0;
    grant_ref_t bref = 0;
    pthread_t th;
    int rc, ok = 1, third = 0;

    rc = open_big(&t.h);
    if (rc == 0)
        rc = grant_mem_alloc(t.h, LOCK_BIG / 4096, (void **)&big);
    if (rc == 0)
        rc = grant_mem_alloc(h, 2, (void **)&buf);
    if (rc == 0) {
        for (uint64_t i = 0; i < LOCK_BIG; i++)
            big[i] = xlab_pattern(i);
        rc = grant_create_direct(t.h, (grant_domid_t)guest, GRANT_R_READ, big,
                                 LOCK_BIG, &bref);
    }
    xlab_xs_write("lockbig", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? bref : (unsigned)rc);
    if (rc == 0)
        rc = xlab_xs_wait_u32("lockctl", &ctl);
    if (!xlab_report("lock_setup", rc == 0, "4 MiB each way: %s",
                     grant_strerror(rc))) {
        grant_close(t.h);
        return;
    }
    t.big = big;
    for (int load = LOAD_NONE; load < LOCK_LOADS && ok; load++) {
        double t4[4] = {0};

        rc = set_load(h, guest, ctl, buf + 4096, (uint8_t)load);
        if (rc == 0 && load == LOAD_COPY)
            third = pthread_create(&th, NULL, third_party, &t) == 0;
        usleep(300000); /* the guest is at it */
        if (rc == 0)
            rc = bystander(h, guest, ctl, buf, t4);
        if (third) {
            __atomic_store_n(&t.stop, 1, __ATOMIC_RELEASE);
            pthread_join(th, NULL);
            third = 0;
        }
        ok = xlab_report("lock_bystander", rc == 0,
                         "4 KiB copies under load '%s': %s", load_name[load],
                         grant_strerror(rc));
        if (ok && load == LOAD_NONE) {
            uint32_t gref = 0;
            double v1 = 0, x = 0;

            rc = xlab_xs_wait_u32("lockv1", &gref);
            if (rc == 0)
                rc = copy_ratio(h, guest, ctl, gref, buf, &v1, &x);
            if (xlab_report("lock_ratio", rc == 0, "4 KiB copies each way: %s",
                            grant_strerror(rc)))
                printf("XLAB-LOCK ratio 4KiB copy x%u interleaved: "
                       "GNTTABOP_copy median %.0f ns, xgrant COPY median "
                       "%.0f ns, ratio xgrant/v1 %.2f%s\n",
                       LOCK_PAIRS, v1, x, v1 > 0 ? x / v1 : 0,
                       v1 > 0 ? "" : " (the clock is too coarse)");
        }
        if (ok)
            printf("XLAB-LOCK bystander 4KiB copy x%u under '%s': median "
                   "%.0f us, mean %.0f, p90 %.0f, worst %.0f\n",
                   LOCK_ROUNDS, load_name[load], t4[0], t4[1], t4[2], t4[3]);
    }
    rc = set_load(h, guest, ctl, buf + 4096, LOAD_STOP);
    if (rc == 0)
        rc = xlab_xs_wait("lockguest", res, sizeof(res));
    xlab_report(
        "lock_concurrent",
        ok && rc == 0 && strstr(res, " 0 wrong bytes") && t.protects && !t.errs,
        "guest: %s; dom0's third party: %lu protects, %lu revokes, "
        "%lu failed",
        rc == 0 ? res : grant_strerror(rc), t.protects, t.revokes, t.errs);
    if (rc == 0)
        charge_dom0(guest);
    grant_revoke(t.h, bref, GRANT_REVOKE_FORCE);
    grant_close(t.h);
    grant_mem_free(h, buf);
}
