/* SPDX-License-Identifier: MIT */
/*
 * xlab_multi.c (issue 12, Locking): three guests in one boot.  The lab's
 * guest (G1, xlab-guest) and two small ones dom0-init.sh starts beside it
 * (G2 xlab-m2, one vCPU; G3 xlab-m3, two vCPUs; both run `xlab multi`).
 *
 * Phase A, concurrent and correct: G2 and G3 each grant the other 64 KiB
 * of a pattern (READ) and a 16 KiB window (READ, WRITE); for MULTI_A_S
 * seconds each copies the other's 64 KiB and checks every byte, writes a
 * new pattern into the other's window and reads it back, byte for byte,
 * while G1 keeps 16 KiB of its own protected R and toggles 16 KiB more
 * NONE / RWX every 10 ms (until dom0 says both copiers are done), both granted
 * to G2 and G3 (READ, WRITE): their writes into the R pages must all be EACCES
 * (and G1 finds those pages unchanged), their reads of them must bring G1's
 * bytes, and their reads of the toggled pages must bring G1's bytes or EACCES,
 * both seen (multi_copy_both_ways, multi_protect_enforced); each copier sees
 * the other's writes land in its window and G1's pages both open and closed
 * while it runs (multi_concurrent).
 * Phase R: G2 copies 4 KiB from dom0 with GNTTABOP_copy (a gntalloc page)
 * and with the extension's COPY (a grant of the same bytes), MULTI_PAIRS
 * pairs interleaved one by one, and the ratio of the medians must be at
 * most MULTI_RATIO_MAX in one of MULTI_RATIO_TRIES rounds (multi_ratio;
 * noise under TCG only ever makes one side slower at random).
 * Phase B, a bystander: for each load of the hostile G1 (none, 4 MiB
 * COPYs, 4 MiB PROTECTs, grant churn, FORCE revokes of 1 MiB grants dom0
 * has mapped: xlab_lock.c's loads and a mapper thread in dom0) and then
 * while G3 fuzzes (xlab_fuzz.c, dom0 revoking and protecting its fuzz
 * grants), G2 copies 4 KiB from dom0 MULTI_ROUNDS times, every byte
 * checked, and the median, 99th percentile, mean and worst go to the
 * host (XLAB-MULTI, case multi_bystander per load); G1's counts say the
 * load ran and every copy it made brought dom0's bytes (multi_hostile).
 * Last, G3 powers off and its teardown leaves nothing behind: no domain
 * (not even a dying one) in xl list or Xen's 'q' dump, and Xen's free
 * memory back by all of G3's pages (fuzz_teardown_domain).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xlab.h"
#include "xlab_v1.h"

#define MULTI_A_S         4
#define MULTI_PROT_MAX_S  300           /* the protector, at most */
#define MULTI_SRC         (16u * 4096u) /* each copier's pattern */
#define MULTI_WIN         (4u * 4096u)  /* each copier's window for the other */
#define MULTI_PROT        (4u * 4096u)  /* G1's R pages, and its toggled ones */
#define MULTI_ROUNDS      200
#define MULTI_PAIRS       300
#define MULTI_RATIO_MAX   1.10
#define MULTI_RATIO_TRIES 3
#define MULTI_FORCE_LEN   (1u << 20)
#define MULTI_UP_S        1500 /* the extras wait this long for dom0 */
#define MULTI_LOADS       (XLAB_LOAD_FORCE + 2) /* G1's loads, then the fuzz */

static uint8_t multi_byte(unsigned dom, uint64_t i)
{
    return (uint8_t)(i * 13u + dom * 41u + 7u);
}

static int64_t wall_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int pattern_ok(const uint8_t *p, unsigned dom, uint64_t from,
                      uint64_t len)
{
    for (uint64_t i = 0; i < len; i++)
        if (p[i] != multi_byte(dom, from + i))
            return 0;
    return 1;
}

/* ---- G1: the protector, then the hostile guest -------------------------- */

static void protector(unsigned g2, unsigned g3)
{
    grant_handle_t *hp = NULL;
    grant_ref_t r[4] = {0};
    uint8_t *mem = NULL, *tog;
    unsigned long protects = 0, errs = 0;
    int64_t end;
    int rc, last = 0, intact = 0;
    char v[16];

    rc = xlab_open_pages(&hp, "16");
    if (rc == 0)
        rc = grant_mem_alloc(hp, 2 * MULTI_PROT / 4096, (void **)&mem);
    for (unsigned i = 0; rc == 0 && i < 2 * MULTI_PROT; i++)
        mem[i] = multi_byte(grant_domid(hp), i);
    tog = mem + MULTI_PROT;
    for (unsigned k = 0; rc == 0 && k < 4; k++)
        rc = grant_create_direct(hp, (grant_domid_t)(k < 2 ? g2 : g3),
                                 k % 2 ? GRANT_R_READ
                                       : GRANT_R_READ | GRANT_R_WRITE,
                                 k % 2 ? tog : mem, MULTI_PROT, &r[k]);
    if (rc == 0)
        rc = grant_protect(hp, mem, MULTI_PROT, GRANT_ACC_R, GRANT_ACT_DENY, 1);
    xlab_xs_write("m_prot", rc ? "ERR%d" : "%u %u %u %u", rc ? rc : (int)r[0],
                  r[1], r[2], r[3]);
    if (rc == 0)
        rc = xlab_xs_wait("m_a_go", v, sizeof(v));
    if (rc == 0) {
        /* Until dom0 says both copiers are done (bounded). */
        end = wall_ms() + MULTI_PROT_MAX_S * 1000;
        while (wall_ms() < end && xlab_xs_read("m_a_stop", v, sizeof(v))) {
            int a = grant_protect(hp, tog, MULTI_PROT, GRANT_ACC_NONE,
                                  GRANT_ACT_DENY, 2);
            usleep(10000);
            int b = grant_protect(hp, tog, MULTI_PROT, GRANT_ACC_RWX,
                                  GRANT_ACT_DENY, 0);
            usleep(10000);
            protects += 2;
            errs += (a != 0) + (b != 0);
            last = a ? a : b ? b : last;
        }
        grant_protect(hp, mem, MULTI_PROT, GRANT_ACC_RWX, GRANT_ACT_DENY, 0);
        intact = pattern_ok(mem, grant_domid(hp), 0, 2 * MULTI_PROT);
    }
    xlab_xs_write("m_a_res", "%d %lu %lu %d %d", rc, protects, errs, last,
                  intact);
    for (unsigned k = 0; k < 4; k++)
        if (r[k])
            grant_revoke(hp, r[k], GRANT_REVOKE_FORCE);
    if (hp)
        grant_close(hp);
}

/* One FORCE round: a 1 MiB grant to dom0, named in the control page
 * (ref at word 2, sequence at word 3), mapped by dom0's mapper (which
 * writes the sequence back at word 4), then FORCE-revoked. */
static void force_round(grant_handle_t *h, uint8_t *buf, volatile uint8_t *ctl,
                        uint32_t *seq, struct xlab_load_counts *c)
{
    volatile uint32_t *w = (volatile uint32_t *)ctl;
    grant_ref_t r;
    int rc, waited = 0;

    rc = grant_create_direct(h, 0, GRANT_R_READ | GRANT_R_MAP, buf,
                             MULTI_FORCE_LEN, &r);
    if (rc) {
        c->errs++;
        c->last_err = rc;
        usleep(2000);
        return;
    }
    w[2] = r;
    __atomic_store_n(&w[3], ++*seq, __ATOMIC_RELEASE);
    while (__atomic_load_n(&w[4], __ATOMIC_ACQUIRE) != *seq &&
           ctl[0] == XLAB_LOAD_FORCE && waited++ < 4000)
        usleep(500);
    /* dom0 did not map it in 2 s (a round the next load cut short is
     * not counted) */
    c->bad += __atomic_load_n(&w[4], __ATOMIC_ACQUIRE) != *seq &&
              ctl[0] == XLAB_LOAD_FORCE;
    rc = grant_revoke(h, r, GRANT_REVOKE_FORCE);
    c->ops++;
    if (rc) {
        c->errs++;
        c->last_err = rc;
    }
}

static void hostile(void)
{
    struct xlab_load_counts c[XLAB_LOAD_STOP] = {{0}};
    grant_handle_t *h = NULL;
    volatile uint8_t *ctl;
    uint8_t *mem = NULL;
    grant_ref_t ref = 0;
    uint32_t big = 0, seq = 0;
    int rc, load;

    rc = xlab_xs_wait_u32("m_big", &big);
    if (rc == 0)
        rc = xlab_open_pages(&h, "1100");
    if (rc == 0)
        rc = grant_mem_alloc(h, 1 + XLAB_LOCK_BIG / 4096, (void **)&mem);
    if (rc == 0) {
        memset(mem, 0, 4096);
        rc = grant_create_direct(h, 0, GRANT_R_READ | GRANT_R_WRITE, mem, 4096,
                                 &ref);
    }
    xlab_xs_write("m_ctl", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? ref : (unsigned)rc);
    if (rc) {
        if (h)
            grant_close(h);
        return;
    }
    ctl = mem;
    while ((load = __atomic_load_n(ctl, __ATOMIC_ACQUIRE)) != XLAB_LOAD_STOP) {
        if (load == XLAB_LOAD_FORCE)
            force_round(h, mem + 4096, ctl, &seq, &c[load]);
        else
            xlab_lock_load(h, load, big, mem + 4096,
                           &c[load < XLAB_LOAD_STOP ? load : 0]);
    }
    xlab_xs_write("m_g1", "%lu %lu %lu %d %lu %lu %d %lu %lu %d %lu %lu %lu %d",
                  c[XLAB_LOAD_COPY].ops, c[XLAB_LOAD_COPY].errs,
                  c[XLAB_LOAD_COPY].bad, c[XLAB_LOAD_COPY].last_err,
                  c[XLAB_LOAD_PROTECT].ops, c[XLAB_LOAD_PROTECT].errs,
                  c[XLAB_LOAD_PROTECT].last_err, c[XLAB_LOAD_CHURN].ops,
                  c[XLAB_LOAD_CHURN].errs, c[XLAB_LOAD_CHURN].last_err,
                  c[XLAB_LOAD_FORCE].ops, c[XLAB_LOAD_FORCE].errs,
                  c[XLAB_LOAD_FORCE].bad, c[XLAB_LOAD_FORCE].last_err);
    grant_revoke(h, ref, GRANT_REVOKE_FORCE);
    grant_close(h);
}

void xlab_multi_guest(grant_handle_t *h)
{
    unsigned g1, g2, g3;
    char v[64];

    (void)h;
    if (xlab_xs_wait("m_ids", v, sizeof(v)) ||
        sscanf(v, "%u %u %u", &g1, &g2, &g3) != 3)
        return; /* dom0 says why */
    protector(g2, g3);
    hostile();
}

/* ---- G2 and G3 ----------------------------------------------------------- */

struct copier {
    unsigned long copies, bad, errs, writes, wbad, ro_refused, ro_bad, ro_reads,
        tog_open, tog_closed, tog_bad;
    unsigned long peer_seen; /* new bytes from the peer in our window */
    uint8_t last_seen;
    int last_err;
};

static void copier_err(struct copier *c, int rc)
{
    c->errs++;
    c->last_err = rc;
}

static void copier_round(grant_handle_t *h, struct copier *c, unsigned peer,
                         const uint32_t pr[2], unsigned g1,
                         const uint32_t gr[2], uint8_t *buf, uint32_t seq,
                         const volatile uint8_t *own_win)
{
    uint8_t *wbuf = buf + MULTI_SRC;
    unsigned self = grant_domid(h);
    int rc;

    /* The peer writes our window, a new first byte each round of its:
     * seen changing while we run, it runs too. */
    if (own_win[0] != c->last_seen) {
        c->last_seen = own_win[0];
        c->peer_seen++;
    }
    rc = grant_copy_from(h, buf, (grant_domid_t)peer, pr[0], 0, MULTI_SRC);
    if (rc)
        copier_err(c, rc);
    else if (c->copies++, !pattern_ok(buf, peer, 0, MULTI_SRC))
        c->bad++;
    for (unsigned i = 0; i < MULTI_WIN; i++)
        wbuf[i] = (uint8_t)(i + seq * 29u + self);
    rc = grant_copy_to(h, (grant_domid_t)peer, pr[1], 0, wbuf, MULTI_WIN);
    if (rc == 0)
        rc = grant_copy_from(h, buf, (grant_domid_t)peer, pr[1], 0, MULTI_WIN);
    if (rc)
        copier_err(c, rc);
    else if (c->writes++, memcmp(buf, wbuf, MULTI_WIN))
        c->wbad++;
    /* G1's R pages: a write is refused, a read brings its bytes. */
    rc = grant_copy_to(h, (grant_domid_t)g1, gr[0], seq % 64 * 64, wbuf, 64);
    if (rc == -EACCES)
        c->ro_refused++;
    else
        c->ro_bad++;
    rc = grant_copy_from(h, buf, (grant_domid_t)g1, gr[0], 0, MULTI_PROT);
    if (rc == 0 && pattern_ok(buf, g1, 0, MULTI_PROT))
        c->ro_reads++;
    else
        c->ro_bad++;
    /* G1's toggled pages: its bytes, or EACCES while they are NONE. */
    rc = grant_copy_from(h, buf, (grant_domid_t)g1, gr[1], 0, MULTI_PROT);
    if (rc == -EACCES)
        c->tog_closed++;
    else if (rc == 0 && pattern_ok(buf, g1, MULTI_PROT, MULTI_PROT))
        c->tog_open++;
    else
        c->tog_bad++;
}

/* Phase A on G2 or G3: shares, then copies from and into the peer's. */
static void copier(grant_handle_t *h, unsigned peer, unsigned g1)
{
    struct copier c = {0};
    grant_ref_t s = 0, w = 0;
    uint32_t pr[2] = {0}, gr[2] = {0}, seq = 0;
    uint8_t *mem = NULL;
    int64_t end;
    char v[64];
    int rc;

    rc = grant_mem_alloc(h, (MULTI_SRC * 2 + MULTI_WIN * 2) / 4096,
                         (void **)&mem);
    for (unsigned i = 0; rc == 0 && i < MULTI_SRC; i++)
        mem[i] = multi_byte(grant_domid(h), i);
    if (rc == 0)
        rc = grant_create_direct(h, (grant_domid_t)peer, GRANT_R_READ, mem,
                                 MULTI_SRC, &s);
    if (rc == 0)
        rc = grant_create_direct(h, (grant_domid_t)peer,
                                 GRANT_R_READ | GRANT_R_WRITE, mem + MULTI_SRC,
                                 MULTI_WIN, &w);
    xlab_xs_write("m_share", rc ? "ERR%d" : "%u %u", rc ? rc : (int)s, w);
    if (rc == 0 && (rc = xlab_xs_wait("m_peer", v, sizeof(v))) == 0 &&
        sscanf(v, "%u %u", &pr[0], &pr[1]) != 2)
        rc = -EPROTO;
    if (rc == 0 && (rc = xlab_xs_wait("m_prot", v, sizeof(v))) == 0 &&
        sscanf(v, "%u %u", &gr[0], &gr[1]) != 2)
        rc = -EPROTO;
    if (rc == 0)
        rc = xlab_xs_wait("m_a_go", v, sizeof(v));
    if (rc == 0) {
        end = wall_ms() + MULTI_A_S * 1000;
        while (wall_ms() < end)
            copier_round(h, &c, peer, pr, g1, gr, mem + MULTI_SRC + MULTI_WIN,
                         seq++, mem + MULTI_SRC);
    }
    xlab_xs_write(
        "m_a_res", "%d %lu %lu %lu %d %lu %lu %lu %lu %lu %lu %lu %lu %lu", rc,
        c.copies, c.bad, c.errs, c.last_err, c.writes, c.wbad, c.ro_refused,
        c.ro_bad, c.ro_reads, c.tog_open, c.tog_closed, c.tog_bad, c.peer_seen);
}

/* The 4 KiB copies of the bystander: "rc n median p99 mean worst" (us). */
static void bystander(grant_handle_t *h, grant_ref_t xref, uint8_t *buf,
                      unsigned delay_ms, char *out, size_t len)
{
    static double us[MULTI_ROUNDS];
    double sum = 0;
    unsigned n = 0;
    int rc = 0;

    usleep(delay_ms * 1000u);
    for (; n < MULTI_ROUNDS && rc == 0; n++) {
        uint64_t t0 = xlab_now_ns();

        rc = grant_copy_from(h, buf, 0, xref, 0, 4096);
        us[n] = (double)(xlab_now_ns() - t0) / 1e3;
        sum += us[n];
        if (rc == 0 && !pattern_ok(buf, 0, 0, 4096))
            rc = -EILSEQ;
        usleep(5000);
    }
    qsort(us, n, sizeof(us[0]), xlab_cmp_double);
    snprintf(out, len, "%d %u %.0f %.0f %.0f %.0f", rc, n, us[n / 2],
             us[n * 99 / 100], sum / n, us[n - 1]);
}

/* Medians of MULTI_PAIRS interleaved 4 KiB copies from dom0, GNTTABOP_copy
 * and the extension's COPY, up to MULTI_RATIO_TRIES rounds until the ratio
 * is at most MULTI_RATIO_MAX: "rc v1_ns xgrant_ns rounds". */
static void ratio(grant_handle_t *h, grant_ref_t xref, uint32_t gref,
                  uint8_t *buf, char *out, size_t len)
{
    static double tv[MULTI_PAIRS], tx[MULTI_PAIRS];
    double v1 = 0, x = 0;
    int rc = 0, k = 0;

    while (rc == 0 && k++ < MULTI_RATIO_TRIES) {
        for (unsigned i = 0; i < MULTI_PAIRS && rc == 0; i++) {
            uint64_t t = 0, t0;

            rc = xlab_v1_copy_times(0, gref, buf, 1, &t);
            tv[i] = (double)t;
            t0 = xlab_now_ns();
            if (rc == 0)
                rc = grant_copy_from(h, buf, 0, xref, 0, 4096);
            tx[i] = (double)(xlab_now_ns() - t0);
        }
        qsort(tv, MULTI_PAIRS, sizeof(tv[0]), xlab_cmp_double);
        qsort(tx, MULTI_PAIRS, sizeof(tx[0]), xlab_cmp_double);
        v1 = tv[MULTI_PAIRS / 2];
        x = tx[MULTI_PAIRS / 2];
        if (v1 > 0 && x / v1 <= MULTI_RATIO_MAX)
            break;
    }
    snprintf(out, len, "%d %.0f %.0f %d", rc, v1, x,
             k > MULTI_RATIO_TRIES ? MULTI_RATIO_TRIES : k);
}

/* G2 after phase A: the ratio, then a bystander per load until m_end. */
static void g2_rest(grant_handle_t *h)
{
    uint32_t xref = 0, gref = 0;
    uint8_t *buf = NULL;
    char v[64], out[128], key[16];
    int rc;

    rc = xlab_xs_wait("m_src", v, sizeof(v));
    if (rc == 0 && sscanf(v, "%u %u", &xref, &gref) != 2)
        rc = -EPROTO;
    if (rc == 0)
        rc = grant_mem_alloc(h, 1, (void **)&buf);
    if (rc == 0)
        ratio(h, xref, gref, buf, out, sizeof(out));
    else
        snprintf(out, sizeof(out), "%d 0 0 0", rc);
    xlab_xs_write("m_ratio", "%s", out);
    for (int load = 0; rc == 0 && load < MULTI_LOADS; load++) {
        snprintf(key, sizeof(key), "m_b%d", load);
        if (xlab_xs_wait(key, v, sizeof(v)))
            return;
        bystander(h, xref, buf, (unsigned)atoi(v), out, sizeof(out));
        snprintf(key, sizeof(key), "m_b%dres", load);
        xlab_xs_write(key, "%s", out);
    }
    xlab_xs_wait("m_end", v, sizeof(v));
}

int xlab_multi_extra(grant_handle_t *h)
{
    unsigned g1, g2, g3, self = grant_domid(h);
    char v[64];
    int rc = xlab_xs_open(0, 0);

    if (rc == 0)
        rc = xlab_xs_wait_s("m_ids", v, sizeof(v), MULTI_UP_S);
    if (rc == 0 && sscanf(v, "%u %u %u", &g1, &g2, &g3) != 3)
        rc = -EPROTO;
    if (rc == 0 && self != g2 && self != g3)
        rc = -ESRCH;
    if (rc) {
        printf("xlab multi: domain %u: %s (%s)\n", self, grant_strerror(rc), v);
        return 1;
    }
    copier(h, self == g2 ? g3 : g2, g1);
    if (self == g2)
        g2_rest(h);
    else
        xlab_fuzz_guest(h);
    xlab_xs_close();
    return 0;
}

/* ---- dom0 --------------------------------------------------------------- */

/* The domain id of guest `name`, waiting for it up to `seconds`; 0 if
 * none. */
static unsigned domid_of(const char *name, int seconds)
{
    char cmd[64], line[32];
    unsigned id = 0;

    snprintf(cmd, sizeof(cmd), "xl domid %s 2>/dev/null", name);
    for (int i = 0;; i++) {
        FILE *f = popen(cmd, "r");

        if (f && fgets(line, sizeof(line), f))
            id = (unsigned)strtoul(line, NULL, 10);
        if (f)
            pclose(f);
        if (id || i >= seconds)
            return id;
        sleep(1);
    }
}

static int put(unsigned dom, const char *key, const char *val)
{
    xlab_xs_folder(dom, 0);
    return xlab_xs_write(key, "%s", val);
}

static int get(unsigned dom, const char *key, char *buf, unsigned len)
{
    xlab_xs_folder(dom, 0);
    return xlab_xs_wait(key, buf, len);
}

/* Phase A: relays the refs, starts the three, checks what they saw. */
static void phase_a(const unsigned g[3])
{
    unsigned long c[2][12] = {{0}}, prot = 0, perr = 0;
    char v[256] = "ERR-71", a[64];
    uint32_t r[4] = {0};
    int rc = 0, crc[2] = {-1, -1}, cerr[2] = {0}, prc = -1, plast = 0,
        intact = 0;

    if (get(g[0], "m_prot", v, sizeof(v)) ||
        sscanf(v, "%u %u %u %u", &r[0], &r[1], &r[2], &r[3]) != 4)
        rc = -EPROTO;
    snprintf(a, sizeof(a), "%u %u", r[0], r[1]);
    put(g[1], "m_prot", rc ? "ERR-71" : a);
    snprintf(a, sizeof(a), "%u %u", r[2], r[3]);
    put(g[2], "m_prot", rc ? "ERR-71" : a);
    for (int k = 0; k < 2; k++) { /* G2's shares to G3, and back */
        if (get(g[1 + k], "m_share", v, sizeof(v)))
            rc = -EPROTO;
        put(g[2 - k], "m_peer", v);
    }
    for (int k = 0; k < 3; k++)
        put(g[k], "m_a_go", "1");
    for (int k = 0; k < 2; k++)
        if (get(g[1 + k], "m_a_res", v, sizeof(v)) == 0)
            sscanf(v, "%d %lu %lu %lu %d %lu %lu %lu %lu %lu %lu %lu %lu %lu",
                   &crc[k], &c[k][0], &c[k][1], &c[k][2], &cerr[k], &c[k][3],
                   &c[k][4], &c[k][5], &c[k][6], &c[k][7], &c[k][8], &c[k][9],
                   &c[k][10], &c[k][11]);
    put(g[0], "m_a_stop", "1"); /* the protector keeps on until now */
    if (get(g[0], "m_a_res", v, sizeof(v)) == 0)
        sscanf(v, "%d %lu %lu %d %d", &prc, &prot, &perr, &plast, &intact);
    for (int k = 0; k < 2; k++)
        xlab_report("multi_copy_both_ways",
                    rc == 0 && crc[k] == 0 && c[k][0] && !c[k][1] && !c[k][2] &&
                        c[k][3] && !c[k][4],
                    "domain %u with %u for %d s: %lu copies of 64 KiB (%lu "
                    "wrong, %lu failed, last %s), %lu 16 KiB writes read "
                    "back (%lu wrong)",
                    g[1 + k], g[2 - k], MULTI_A_S, c[k][0], c[k][1], c[k][2],
                    grant_strerror(cerr[k]), c[k][3], c[k][4]);
    for (int k = 0; k < 2; k++)
        xlab_report("multi_protect_enforced",
                    crc[k] == 0 && c[k][5] && !c[k][6] && c[k][7] && c[k][8] &&
                        c[k][9] && !c[k][10],
                    "domain %u: writes into %u's R pages %lu refused (EACCES), "
                    "%lu wrong; reads of them %lu right; reads of its toggled "
                    "pages %lu open, %lu EACCES, %lu wrong",
                    g[1 + k], g[0], c[k][5], c[k][6], c[k][7], c[k][8], c[k][9],
                    c[k][10]);
    xlab_report("multi_protector", prc == 0 && prot && !perr && intact,
                "domain %u: %lu PROTECTs NONE/RWX (%lu failed, last %s), its "
                "pages intact: %s",
                g[0], prot, perr, grant_strerror(plast), intact ? "yes" : "no");
    /* Seen from inside: each copier found its window rewritten by the
     * other (twice at least) and the toggled pages both open and closed
     * while it ran. */
    xlab_report("multi_concurrent",
                c[0][11] >= 2 && c[1][11] >= 2 && c[0][8] && c[0][9] &&
                    c[1][8] && c[1][9],
                "while domain %u ran it saw %lu new writes of %u into its "
                "window and %u's pages open and closed (%lu/%lu); domain %u "
                "saw %lu of %u's, and %lu/%lu (want 2 writes at least, both "
                "states)",
                g[1], c[0][11], g[2], g[0], c[0][8], c[0][9], g[2], c[1][11],
                g[1], c[1][8], c[1][9]);
}

struct mapper {
    grant_handle_t *h;
    unsigned g1;
    grant_ref_t ctl;
    int stop;
    unsigned long maps, errs;
    int last_err;
};

/* dom0 maps each 1 MiB grant G1 names in its control page (read-only,
 * touching its last byte) and says so; the previous one, FORCE-revoked
 * meanwhile, is unmapped first. */
static void *mapper(void *arg)
{
    struct mapper *m = arg;
    uint32_t *w = NULL, last = 0;
    uint8_t *p = NULL, b;
    int rc = grant_mem_alloc(m->h, 1, (void **)&w);

    while (rc == 0 && !__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
        int c = grant_copy_from(m->h, w, (grant_domid_t)m->g1, m->ctl, 8, 8);

        if (c == 0 && w[1] == last) {
            usleep(500);
            continue;
        }
        if (p)
            grant_unmap(m->h, p);
        p = NULL;
        if (c == 0)
            c = grant_map(m->h, (grant_domid_t)m->g1, w[0], 0, MULTI_FORCE_LEN,
                          GRANT_MAP_RDONLY, (void **)&p);
        if (c == 0 && !xlab_try_read(p + MULTI_FORCE_LEN - 1, &b, 1))
            c = -EFAULT;
        if (c == 0) {
            m->maps++;
            last = w[2] = w[1];
            c = grant_copy_to(m->h, (grant_domid_t)m->g1, m->ctl, 16, &w[2], 4);
        }
        if (c) {
            m->errs++;
            m->last_err = c;
            usleep(1000);
        }
    }
    if (p)
        grant_unmap(m->h, p);
    return NULL;
}

/* G1's load: the first byte of its control page. */
static int set_load(grant_handle_t *h, unsigned g1, grant_ref_t ctl,
                    uint8_t *byte, int load)
{
    *byte = (uint8_t)load;
    return grant_copy_to(h, (grant_domid_t)g1, ctl, 0, byte, 1);
}

/* One load's bystander line from G2 (key m_b<load>, delay in ms). */
static void measure(unsigned g2, int load, unsigned delay_ms, const char *what)
{
    char key[16], v[128], d[16];
    double med = 0, p99 = 0, mean = 0, worst = 0;
    int rc = -EPROTO;
    unsigned n = 0;

    snprintf(key, sizeof(key), "m_b%d", load);
    snprintf(d, sizeof(d), "%u", delay_ms);
    put(g2, key, d);
    snprintf(key, sizeof(key), "m_b%dres", load);
    if (get(g2, key, v, sizeof(v)) == 0)
        sscanf(v, "%d %u %lf %lf %lf %lf", &rc, &n, &med, &p99, &mean, &worst);
    if (xlab_report("multi_bystander", rc == 0 && n == MULTI_ROUNDS,
                    "domain %u's %u 4 KiB copies from dom0 under '%s': %s", g2,
                    n, what, grant_strerror(rc)))
        printf("XLAB-MULTI bystander 4KiB copy x%u (domain %u) under '%s': "
               "median %.0f us, p99 %.0f, mean %.0f, worst %.0f\n",
               n, g2, what, med, p99, mean, worst);
    fflush(stdout);
}

/* Xen's free memory in MiB (xl info), or -1. */
static long free_mib(void)
{
    char line[128];
    long mib = -1;
    FILE *f = popen("xl info 2>/dev/null", "r");

    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "free_memory", 11))
            mib = strtol(strchr(line, ':') ? strchr(line, ':') + 1 : line, NULL,
                         10);
    if (f)
        pclose(f);
    return mib;
}

/* Whether domain id is in xl list (a dying one too) or in Xen's 'q'
 * dump: 1 in either, 0 in neither, -1 unreadable. */
static int domain_left(unsigned id, int *in_list, int *in_q)
{
    char line[512], head[64];
    FILE *f = popen("xl list 2>/dev/null", "r");

    *in_list = *in_q = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        char name[128];
        unsigned d;

        if (sscanf(line, "%127s %u", name, &d) == 2 && d == id)
            *in_list = 1;
    }
    pclose(f);
    if (system("xl dmesg -c >/dev/null 2>&1") != 0 || !(f = xlab_q_dump()))
        return -1;
    snprintf(head, sizeof(head), "General information for domain %u:", id);
    while (fgets(line, sizeof(line), f))
        *in_q |= strstr(line, head) != NULL;
    pclose(f);
    return *in_list || *in_q;
}

/* G3 powered off after the fuzz: gone, its memory back. */
static void teardown(unsigned g3, long before, long g3_mib)
{
    long after = -1;
    int left = 1, in_list = 1, in_q = 1, s;

    for (s = 0; s < 60 && domid_of("xlab-m3", 0) == g3; s++)
        sleep(1);
    /* Its memory comes back as the domain goes (relinquish, then the
     * last reference): a few seconds under TCG at most. */
    for (int i = 0; i < 10; i++) {
        left = domain_left(g3, &in_list, &in_q);
        after = free_mib();
        if (left == 0 && after - before >= g3_mib - 1)
            break;
        sleep(1);
    }
    xlab_report("fuzz_teardown_domain",
                left == 0 && before > 0 && after - before >= g3_mib - 1,
                "domain %u after it powered off (%d s): in xl list %s, in "
                "Xen's 'q' dump %s; Xen's free memory %ld -> %ld MiB (want "
                "+%ld: all its pages back)",
                g3, s, in_list ? "yes" : "no", in_q ? "yes" : "no", before,
                after, g3_mib);
}

/* The guest's memory in MiB from xl list, or 0. */
static long list_mib(unsigned id)
{
    char line[256], name[128];
    unsigned d;
    long mib = 0, m;
    FILE *f = popen("xl list 2>/dev/null", "r");

    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "%127s %u %ld", name, &d, &m) == 3 && d == id)
            mib = m;
    if (f)
        pclose(f);
    return mib;
}

/* Phase B; h: dom0's handle with a page to spare (G1's load byte). */
static void phase_b(grant_handle_t *h, const unsigned g[3], grant_ref_t bref)
{
    struct mapper m = {.g1 = g[0]};
    grant_handle_t *hf = NULL;
    unsigned long c[14] = {0};
    uint32_t ctl = 0;
    uint8_t *byte = NULL;
    pthread_t th;
    long before, g3_mib;
    int rc, l[4] = {0}, g1rc = -1;
    char v[256];

    snprintf(v, sizeof(v), "%u", bref);
    put(g[0], "m_big", v);
    xlab_xs_folder(g[0], 0);
    rc = xlab_xs_wait_u32("m_ctl", &ctl);
    if (rc == 0)
        rc = grant_mem_alloc(h, 1, (void **)&byte);
    if (rc == 0)
        rc = xlab_open_pages(&m.h, "4");
    if (!xlab_report("multi_hostile_setup", rc == 0,
                     "domain %u's control page: %s", g[0], grant_strerror(rc)))
        return;
    m.ctl = ctl;
    for (int load = XLAB_LOAD_NONE; load <= XLAB_LOAD_FORCE; load++) {
        int mt = 0;

        rc = set_load(h, g[0], ctl, byte, load);
        if (rc == 0 && load == XLAB_LOAD_FORCE)
            mt = pthread_create(&th, NULL, mapper, &m) == 0;
        measure(g[1], load, 300, xlab_load_name[load]);
        if (mt) {
            __atomic_store_n(&m.stop, 1, __ATOMIC_RELEASE);
            pthread_join(th, NULL);
        }
    }
    set_load(h, g[0], ctl, byte, XLAB_LOAD_NONE);
    /* The fuzz: G3 fuzzes, dom0 churns its fuzz grants, G2 copies. */
    g3_mib = list_mib(g[2]);
    before = free_mib();
    put(g[1], "m_b5", "3000");
    rc = xlab_open_pages(&hf, "16");
    xlab_xs_folder(g[2], 0);
    if (rc == 0)
        xlab_fuzz_dom0(hf, g[2]);
    else
        xlab_report("fuzz_setup", 0, "dom0's handle: %s", grant_strerror(rc));
    measure(g[1], XLAB_LOAD_FORCE + 1, 0, "the fuzzer in xlab-m3");
    set_load(h, g[0], ctl, byte, XLAB_LOAD_STOP);
    if (get(g[0], "m_g1", v, sizeof(v)) == 0)
        g1rc = sscanf(v, "%lu %lu %lu %d %lu %lu %d %lu %lu %d %lu %lu %lu %d",
                      &c[0], &c[1], &c[2], &l[0], &c[3], &c[4], &l[1], &c[5],
                      &c[6], &l[2], &c[7], &c[8], &c[9], &l[3]) == 14
                   ? 0
                   : -EPROTO;
    teardown(g[2], before, g3_mib); /* before G2 goes: its pages count */
    xlab_report("multi_hostile",
                g1rc == 0 && c[0] && !c[1] && !c[2] && c[3] && !c[4] && c[5] &&
                    !c[6] && c[7] && !c[8] && !c[9] && m.maps && !m.errs,
                "domain %u: %lu 4 MiB copies (%lu failed, last %s; %lu "
                "wrong), %lu PROTECTs (%lu failed), %lu creates+revokes (%lu "
                "failed), %lu FORCE revokes of grants dom0 mapped (%lu "
                "failed, last %s; %lu not mapped in time); dom0 mapped %lu "
                "(%lu failed, last %s)",
                g[0], c[0], c[1], grant_strerror(l[0]), c[2], c[3], c[4], c[5],
                c[6], c[7], c[8], grant_strerror(l[3]), c[9], m.maps, m.errs,
                grant_strerror(m.last_err));
    if (hf)
        grant_close(hf);
    grant_close(m.h);
}

/* G2 is told to end; both extras power off (or are destroyed): the
 * driver cases find the lab's guest alone. */
static void multi_end(const unsigned g[3])
{
    static const char *const name[] = {"xlab-m2", "xlab-m3"};
    char cmd[64];

    if (g[1])
        put(g[1], "m_end", "1");
    for (int k = 0; k < 2; k++) {
        for (int s = 0; s < 30 && g[1 + k] && domid_of(name[k], 0) == g[1 + k];
             s++)
            sleep(1);
        if (g[1 + k] && domid_of(name[k], 0) == g[1 + k]) {
            printf("XLAB-NOTE multi: %s still up after 30 s: destroyed\n",
                   name[k]);
            snprintf(cmd, sizeof(cmd), "xl destroy %s 2>/dev/null", name[k]);
            if (system(cmd) != 0)
                printf("XLAB-NOTE multi: %s failed\n", cmd);
        }
    }
    xlab_xs_folder(g[0], 0);
}

void xlab_multi_dom0(grant_handle_t *h, unsigned guest)
{
    /* dom0-init.sh created them before the cases began. */
    unsigned g[3] = {guest, domid_of("xlab-m2", 5), domid_of("xlab-m3", 5)};
    grant_handle_t *hb = NULL;
    grant_ref_t bref = 0, xref = 0;
    uint32_t gref = 0;
    uint8_t *big = NULL, *v1 = NULL;
    double v1ns = 0, xns = 0;
    int rc, rrc = -EPROTO, tries = 0;
    char v[128];

    (void)h; /* dom0's first handle may be spent by now: its own below */
    snprintf(v, sizeof(v), "%u %u %u", g[0], g[1], g[2]);
    rc = g[1] && g[2] ? 0 : -ESRCH;
    for (int k = 0; k < 3; k++)
        if (g[k] && xlab_xs_folder(g[k], k > 0) == 0)
            xlab_xs_write("m_ids", "%s", rc ? "ERR" : v);
    if (!xlab_report("multi_guests_up", rc == 0,
                     "domains %s (xlab-guest, xlab-m2, xlab-m3)", v)) {
        multi_end(g);
        return;
    }
    phase_a(g);
    /* dom0's 4 MiB for G1's copies, 4 KiB for G2 both ways. */
    rc = xlab_open_pages(&hb, "1100");
    if (rc == 0)
        rc = grant_mem_alloc(hb, 1 + XLAB_LOCK_BIG / 4096, (void **)&big);
    for (uint64_t i = 0; rc == 0 && i < XLAB_LOCK_BIG + 4096; i++)
        big[i] = i < XLAB_LOCK_BIG ? xlab_pattern(i)
                                   : multi_byte(0, i - XLAB_LOCK_BIG);
    if (rc == 0)
        rc = grant_create_direct(hb, (grant_domid_t)g[0], GRANT_R_READ, big,
                                 XLAB_LOCK_BIG, &bref);
    if (rc == 0)
        rc = grant_create_direct(hb, (grant_domid_t)g[1], GRANT_R_READ,
                                 big + XLAB_LOCK_BIG, 4096, &xref);
    if (rc == 0)
        rc = xlab_v1_share(g[1], (void **)&v1, &gref);
    if (rc == 0)
        memcpy(v1, big + XLAB_LOCK_BIG, 4096);
    snprintf(v, sizeof(v), "%u %u", xref, gref);
    put(g[1], "m_src", rc ? "ERR" : v);
    if (rc == 0 && get(g[1], "m_ratio", v, sizeof(v)) == 0 &&
        sscanf(v, "%d %lf %lf %d", &rrc, &v1ns, &xns, &tries) != 4)
        rrc = -EPROTO;
    if (xlab_report("multi_ratio",
                    rc == 0 && rrc == 0 && v1ns > 0 &&
                        xns / v1ns <= MULTI_RATIO_MAX,
                    "domain %u's 4 KiB copies from dom0, xgrant COPY / "
                    "GNTTABOP_copy medians %.2f in round %d of at most %d "
                    "(want <= %.2f): %s",
                    g[1], v1ns > 0 ? xns / v1ns : 0, tries, MULTI_RATIO_TRIES,
                    MULTI_RATIO_MAX, grant_strerror(rc ? rc : rrc)) ||
        rrc == 0)
        printf("XLAB-MULTI ratio 4KiB copy x%u interleaved (domain %u from "
               "dom0): GNTTABOP_copy median %.0f ns, xgrant COPY median %.0f "
               "ns, ratio xgrant/v1 %.2f (round %d)\n",
               MULTI_PAIRS, g[1], v1ns, xns, v1ns > 0 ? xns / v1ns : 0, tries);
    if (rc == 0)
        phase_b(hb, g, bref);
    xlab_v1_unshare();
    if (hb)
        grant_close(hb);
    multi_end(g);
}
