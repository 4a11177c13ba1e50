/* SPDX-License-Identifier: MIT */
/*
 * xlab_hvmap.c: a hostile guest kernel against the hypervisor's mapping
 * code (issue 12), and a big MAP.  The guest side uses
 * tests/lab/hostile (xlabhv.ko: raw mmu_update and GNTTABOP_xgrant).
 *
 *   refs_until_flush (0008): dom0 grants the guest two pages of its own,
 *     F (read-only in dom0's direct map, so dom0 could make it a page
 *     table) and G (a flag page); the guest maps both writable into an
 *     area of xlabhv's, and on its one vCPU, events masked: writes F (its
 *     TLB holds the entry), clears F's entry itself with mmu_update and no
 *     flush, raises G's flag and keeps writing F.  dom0 (its vCPUs pinned
 *     to the other CPU) sees the flag, pins F as an L1 table at once, and
 *     reads F twice 300 ms apart: a write between the two landed in a page
 *     table through a TLB entry Xen let outlive the frame's type reference.
 *     PASS when no write landed after a pin that worked (with 0008 the
 *     clear flushed the guest's CPU first: its next write faults).
 *   slot_reuse (0013): the guest maps a page of dom0's into one xlabhv
 *     slot (record 1), clears the entry itself, maps the same page into
 *     the same slot again (record 2) and UNMAPs record 1: the entry must
 *     still map the page (record 2's), and only record 2's UNMAP clears it.
 *   l1_unpinned (0021): dom0 grants the guest a page F that dom0's own
 *     direct map keeps writable; the guest pins a page of its own as an L1
 *     table (in no page-table tree), MAPs F writable into its first entry
 *     through xlabhv, and unpins the table: the entry stays in memory but
 *     holds no reference any more.  dom0's PROTECT R of F must fail EBUSY
 *     (its own writable mapping is there); with the stale entry counted
 *     as a live xgrant mapping (0013's read: PGT_type_mask alone), the
 *     busy check took dom0's mapping for the guest's and the PROTECT
 *     succeeded.
 *   l1_ref_held (0021, with Xen's test knob xgrant_test_l1_hold=<ms>,
 *     which run.sh sets for the patched boots): the same, the table still
 *     pinned and F beginning with "XGL1HOLD", so Xen waits that long
 *     inside dom0's PROTECT between taking the guest's table and reading
 *     its entry.  The guest also maps G (writable, into an xlabhv area)
 *     and spins in its kernel on G's word 0, which dom0's module sets
 *     right before the PROTECT hypercall; then it sets word 2 (begun),
 *     unpins the table and gives the page back to Xen.  Xen logs
 *     "xgrant: test: L1 ... changed while read" when the table was no
 *     longer the guest's live L1 table once read (a read holding neither
 *     the page nor its type: old code).  PASS: the hold happened (the
 *     PROTECT took at least 90% of it), the guest had begun when the
 *     PROTECT returned, the page went back to Xen, and Xen logged
 *     nothing.  SKIP when the guest saw the go only once the hold was
 *     over (the time from writing its step, which dom0's PROTECT waits
 *     for, to the go, + 500 ms, is not less than the PROTECT's time):
 *     nothing was tested.
 *   map_big, map_big_write_seen, map_big_preempted (0018),
 *   unmap_big_preempted (0019): the guest
 *     grants dom0 a 256 MiB window made of its 16 pages repeated; dom0
 *     maps it with grant_map (two MAPs of 65536 pages: the window's and
 *     its kernel addresses'): every page must show its page's marker, a
 *     write must reach the guest's page.  Then, its two vCPUs pinned to
 *     one physical CPU (the guest's to the other), dom0 makes MAP
 *     hypercalls of the 65536 pages through xlabhv, each followed by an
 *     UNMAP of them, while a thread on its other vCPU notes every stretch
 *     it was kept off the CPU: a call that gives the CPU back lets it run
 *     during the call, one that keeps the CPU to the end keeps it off for
 *     the whole call (XLAB-BIGMAP: times and stretches).  Wall times alone
 * would not tell: under TCG on a loaded host a vCPU thread stalls for hundreds
 * of ms now and then anyway; nor would its progress counted across the call:
 * Xen runs the starved vCPU the moment a long call returns, before the caller
 *     reads its clock.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "xlab.h"
#include "../../../libgrant/abi/gntx_xen.h"
#include "../../../libgrant/kmod/xgrant_uapi.h"
#include "../hostile/xlabhv_uapi.h"

#define HV_DEV        "/dev/xlabhv"
#define SLOT_MARK     0x5c
#define BIG_PAGES     65536u /* 256 MiB */
#define BIG_DISTINCT  16u
#define BIG_MARK      0xb16a0000ull
#define BIG_WRITE_OFF 200u
/* MAP hypercalls timed with the bystander watching; a round shows the MAP
 * gave the CPU back when the bystander was kept off for less than this
 * share of the call at a stretch (a MAP that keeps the CPU keeps it off
 * all the call, bar the instants before and after). */
#define BIG_ROUNDS    5u
#define BIG_OFF_SHARE 0.5

static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* An xl command, quiet: 0 or its status. */
static int xl(const char *fmt, ...)
{
    char cmd[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    strncat(cmd, " >/dev/null 2>&1", sizeof(cmd) - strlen(cmd) - 1);
    return system(cmd);
}

/* The calling thread on Linux's CPU cpu only (-1: CPUs 0 and 1). */
static void pin_self(int cpu)
{
    cpu_set_t s;

    CPU_ZERO(&s);
    CPU_SET(cpu < 0 ? 0 : cpu, &s);
    if (cpu < 0)
        CPU_SET(1, &s);
    sched_setaffinity(0, sizeof(s), &s);
}

/* Every vCPU of domain dom runs on physical CPU cpu now (xl vcpu-list's
 * CPU column): a vCPU moves to a new hard affinity only when it is next
 * descheduled, and one spinning alone on a CPU may not be for a while. */
static int vcpus_on(unsigned dom, int cpu)
{
    FILE *f = popen("xl vcpu-list 2>/dev/null", "r");
    char line[256];
    int vcpus = 0, off = 0, id, vcpu, at;

    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "%*s %d %d %d", &id, &vcpu, &at) == 3 &&
            id == (int)dom) {
            vcpus++;
            off += at != cpu;
        }
    if (f)
        pclose(f);
    return vcpus > 0 && off == 0;
}

/* dom0's vCPUs to physical CPU dom0_cpu, the guest's to the other; 0 once
 * they run there (within 5 s), else -EAGAIN. */
static int pin_apart(unsigned guest, int dom0_cpu)
{
    xl("xl vcpu-pin 0 all %d", dom0_cpu);
    xl("xl vcpu-pin %u all %d", guest, !dom0_cpu);
    for (int k = 0; k < 50; k++) {
        if (vcpus_on(0, dom0_cpu) && vcpus_on(guest, !dom0_cpu))
            return 0;
        usleep(100000); /* idle vCPUs block, and move */
    }
    return -EAGAIN;
}

static void unpin(unsigned guest)
{
    xl("xl vcpu-pin 0 all all");
    xl("xl vcpu-pin %u all all", guest);
}

/* ---- 0008: the owner's side ---------------------------------------- */

struct pin_job {
    int fd;
    struct xlabhv_pin a;
    int rc;
};

static void *pin_thread(void *arg)
{
    struct pin_job *j = arg;

    j->rc = ioctl(j->fd, XLABHV_PIN_RACE, &j->a) < 0 ? -errno : 0;
    return NULL;
}

static void race_dom0(int fd, unsigned guest)
{
    struct xlabhv_grant g = {.dom = guest};
    struct pin_job j = {.fd = fd, .a = {.wait_ms = 120000, .hold_ms = 300}};
    unsigned long long writes = 0, faulted = 0, last = 0;
    int rc = ioctl(fd, XLABHV_GRANT, &g) < 0 ? -errno : g.rc, crc = 1;
    pthread_t t;
    char v[96];

    xlab_xs_write("hvref", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? g.ref : (unsigned)rc);
    /* dom0 on CPU 0, the guest alone on CPU 1: nothing switches the
     * guest's vCPU out (a switch would flush its TLB) while it races. */
    if (rc == 0)
        rc = pin_apart(guest, 0);
    if (rc == 0 && pthread_create(&t, NULL, pin_thread, &j))
        rc = -ENOMEM;
    if (rc == 0) {
        usleep(200000);
        xlab_xs_write("hvgo", "1");
        pthread_join(t, NULL);
        rc = j.rc;
    } else if (g.ref) {
        xlab_xs_write("hvgo", "ERR%d", rc); /* the guest need not wait */
    }
    unpin(guest);
    if (xlab_xs_wait("hvrace", v, sizeof(v)) == 0)
        sscanf(v, "%d %llu %llu %llu", &crc, &writes, &faulted, &last);
    xlab_report(
        "refs_until_flush",
        rc == 0 && crc == 0 && j.a.seen &&
            (j.a.pin_rc != 0 || j.a.v_pin == j.a.v_after),
        "guest cleared its writable entry of dom0's page F itself (%d) "
        "and wrote on: %llu writes, %s; dom0's pin of F as an L1 table: "
        "%d (signal %s), F's word %#llx at the pin, %#llx 300 ms later "
        "(want no write after a pin that worked)",
        crc, writes,
        faulted ? "then a fault (its TLB was flushed)" : "no fault", j.a.pin_rc,
        j.a.seen ? "seen" : "never came", (unsigned long long)j.a.v_pin,
        (unsigned long long)j.a.v_after);
    xlab_xs_wait("hvunmapped", v, sizeof(v));
    ioctl(fd, XLABHV_UNGRANT);
}

/* ---- 0013: the slot, judged by the guest ----------------------------- */

static void slot_dom0(grant_handle_t *h, unsigned guest)
{
    grant_ref_t ref = 0;
    uint8_t *page = NULL;
    char v[256];
    int rc = grant_mem_alloc(h, 1, (void **)&page);

    if (rc == 0) {
        memset(page, SLOT_MARK, GRANT_PAGE_SIZE);
        rc = grant_create_direct(h, (grant_domid_t)guest,
                                 GRANT_R_READ | GRANT_R_MAP, page,
                                 GRANT_PAGE_SIZE, &ref);
    }
    xlab_xs_write("hvslotref", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? ref : (unsigned)rc);
    rc = xlab_xs_wait("hvslot", v, sizeof(v));
    xlab_report("slot_reuse", rc == 0 && v[0] == '1', "%s",
                rc == 0 ? v + 2 : grant_strerror(rc));
    if (page) {
        grant_revoke(h, ref, GRANT_REVOKE_FORCE);
        grant_mem_free(h, page);
    }
}

/* ---- 0021: the mapper's own L1 table --------------------------------- */

/* Lines of Xen's log (xl dmesg) with the test knob's complaint. */
static int l1_log_lines(void)
{
    FILE *f = popen("xl dmesg 2>/dev/null", "r");
    char line[512];
    int n = 0;

    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, "xgrant: test: L1") != NULL;
    if (f)
        pclose(f);
    return f ? n : -1;
}

/* The guest's answer under key: its step's result first. */
static int l1_answer(const char *key, char *v, unsigned len)
{
    int rc = xlab_xs_wait(key, v, len), step = -EPROTO;

    if (rc)
        return rc;
    return sscanf(v, "%d", &step) == 1 ? step : -EPROTO;
}

/* dom0's side of an l1 case up to its PROTECT: the grant (g's flags), its
 * ref under refkey, the guest's table step under mapkey (into v), then
 * PROTECT p of F, lifted again if it took.  0 or the first error. */
static int l1_protect_round(int fd, struct xlabhv_grant *g, const char *refkey,
                            const char *mapkey, char *v, unsigned vlen,
                            struct xlabhv_protect *p)
{
    struct xlabhv_protect undo = {.access = GNTX_ACC_RWX};
    int rc = ioctl(fd, XLABHV_GRANT, g) < 0 ? -errno : g->rc;

    xlab_xs_write(refkey, rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? g->ref : (unsigned)rc);
    if (rc == 0)
        rc = l1_answer(mapkey, v, vlen);
    if (rc == 0 && ioctl(fd, XLABHV_PROTECT, p) < 0)
        rc = -errno;
    if (rc == 0 && p->rc >= 0)
        ioctl(fd, XLABHV_PROTECT, &undo);
    return rc;
}

static void l1_unpinned_dom0(int fd, unsigned guest)
{
    struct xlabhv_grant g = {.dom = guest, .flags = XLABHV_GRANT_F_RW};
    struct xlabhv_protect p = {.access = GNTX_ACC_R, .rc = 1};
    char v[192] = "", w[96] = "";
    int rc = l1_protect_round(fd, &g, "hvl1ref", "hvl1map", v, sizeof(v), &p);

    xlab_xs_write("hvl1prot", "1");
    if (g.rc == 0 && g.ref)
        l1_answer("hvl1freed", w, sizeof(w));
    ioctl(fd, XLABHV_UNGRANT);
    xlab_report("l1_unpinned", rc == 0 && p.rc == -EBUSY,
                "guest: %s; dom0's PROTECT R of F, which its direct map "
                "keeps writable: %d (want EBUSY: the guest's entry in its "
                "unpinned table holds no reference); guest: %s",
                v[0] ? v : grant_strerror(rc), p.rc, w);
}

static void l1_held_dom0(int fd, unsigned guest, unsigned hold_ms)
{
    struct xlabhv_grant g = {.dom = guest,
                             .flags = XLABHV_GRANT_F_RW | XLABHV_GRANT_F_HOLD |
                                      XLABHV_GRANT_G_FIRST};
    /* The go for the guest (word 0 of G) is set by the module right
     * before the hypercall: nothing of dom0's user space (xenstore) is
     * needed while Xen holds. */
    struct xlabhv_protect p = {.access = GNTX_ACC_R, .signal = 1, .rc = 1};
    char v[192] = "", w[192] = "", txt[640];
    double wait_ms = 0;
    const char *k;
    int before = l1_log_lines(), logged = -1,
        rc = l1_protect_round(fd, &g, "hvl1hold", "hvl1hmap", v, sizeof(v), &p);

    if (g.rc == 0 && g.ref && l1_answer("hvl1hfreed", w, sizeof(w)) != 0 &&
        rc == 0)
        rc = -EIO; /* the guest's wait, unpin or free failed */
    logged = l1_log_lines() - before;
    /* dom0's PROTECT began after the guest's step (hvl1hmap) was written:
     * the guest saw the go at most wait_ms into it, and unpinned at once. */
    if (!(k = strstr(w, "; go ")) || sscanf(k, "; go %lf", &wait_ms) != 1)
        wait_ms = 1e9;
    ioctl(fd, XLABHV_UNGRANT);
    snprintf(txt, sizeof(txt),
             "guest: %s; dom0's PROTECT %d, %.0f ms (Xen's hold %u ms), the "
             "guest saw the go %.0f ms at most into it; guest: %s; Xen's "
             "log: %d \"xgrant: test: L1 ... changed while read\" (want 0)",
             v[0] ? v : grant_strerror(rc), p.rc, p.ns / 1e6, hold_ms, wait_ms,
             w, logged);
    /* A go seen only once the hold was over (the guest's vCPU got no CPU
     * meanwhile: TCG under load) tests nothing either way. */
    if (rc == 0 && logged == 0 && p.ns >= (uint64_t)hold_ms * 900000ull &&
        wait_ms + 500 >= p.ns / 1e6)
        xlab_skip("l1_ref_held", txt);
    else
        xlab_report("l1_ref_held",
                    rc == 0 && before >= 0 && logged == 0 &&
                        p.ns >= (uint64_t)hold_ms * 900000ull && p.g_begun,
                    "%s", txt);
}

/* Xen's xgrant_test_l1_hold (ms) from its command line; 0: not set. */
static unsigned l1_hold_ms(void)
{
    FILE *f = popen("xl info xen_commandline 2>/dev/null", "r");
    char line[1024] = "", *k;
    unsigned ms = 0;

    if (f && fgets(line, sizeof(line), f) &&
        (k = strstr(line, "xgrant_test_l1_hold=")))
        ms = (unsigned)strtoul(k + strlen("xgrant_test_l1_hold="), NULL, 0);
    if (f)
        pclose(f);
    return ms;
}

static void l1_dom0(int fd, unsigned guest)
{
    unsigned hold = l1_hold_ms();

    l1_unpinned_dom0(fd, guest);
    xlab_xs_write("hvl1hknob", "%u", hold);
    if (hold)
        l1_held_dom0(fd, guest, hold);
    else
        xlab_skip("l1_ref_held", "Xen booted without xgrant_test_l1_hold "
                                 "(hv-patches 0021's test knob; run.sh sets "
                                 "it for the patched boots)");
}

/* ---- the big MAP, dom0 maps --------------------------------- */

/* The other thread: on Linux's CPU 0 (dom0's vCPU 0, which shares the
 * mapping vCPU's physical CPU), reading the clock again and again and
 * noting every stretch of more than 1 ms between two readings (it was
 * not running). */
#define GAPS_MAX 8192
struct bystander {
    volatile int stop;
    unsigned n;
    uint64_t from[GAPS_MAX], to[GAPS_MAX];
};

static uint64_t now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void *bystander_thread(void *arg)
{
    struct bystander *b = arg;
    uint64_t prev, t;

    pin_self(0);
    prev = now_ns();
    while (!b->stop) {
        t = now_ns();
        if (t - prev > 1000000 && b->n < GAPS_MAX) {
            b->from[b->n] = prev;
            b->to[b->n++] = t;
        }
        prev = t;
    }
    return NULL;
}

/* The bystander's longest stretch off the CPU within [t0, t1]. */
static uint64_t longest_off(const struct bystander *b, uint64_t t0, uint64_t t1)
{
    uint64_t best = 0;

    for (unsigned i = 0; i < b->n; i++) {
        uint64_t s = b->from[i] > t0 ? b->from[i] : t0,
                 e = b->to[i] < t1 ? b->to[i] : t1;

        if (e > s && e - s > best)
            best = e - s;
    }
    return best;
}

/* One MAP hypercall of BIG_PAGES pages (xlabhv, into an area of its own),
 * then one UNMAP of them, while the bystander notes its stretches off the
 * CPU: 0 or -errno; ms[0], ms[1]: the MAP's and the UNMAP's time, off[0],
 * off[1]: the bystander's longest stretch off its CPU within each. */
static int big_raw_round(int fd, unsigned guest, uint32_t ref, double ms[2],
                         double off[2])
{
    size_t len = (size_t)BIG_PAGES * 4096;
    struct xlabhv_map m = {.npages = BIG_PAGES, .dom = guest, .ref = ref},
                      u = {0};
    struct bystander b = {0};
    void *va = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    pthread_t t;
    int rc = va == MAP_FAILED ? -errno : 0, th = -1, urc = -1;

    ms[0] = ms[1] = off[0] = off[1] = 0;
    if (rc == 0)
        th = pthread_create(&t, NULL, bystander_thread, &b);
    if (rc == 0) {
        usleep(200000);
        m.va = (uintptr_t)va;
        rc = ioctl(fd, XLABHV_MAP, &m) < 0 ? -errno
             : m.rc < 0                    ? m.rc
                                           : m.status;
        ms[0] = m.ns / 1e6;
    }
    if (m.handle) {
        u.handle = m.handle;
        urc = ioctl(fd, XLABHV_UNMAP, &u) < 0 ? -errno
              : u.rc < 0                      ? u.rc
              : u.rc != 1                     ? u.status
                                              : 0;
        ms[1] = u.ns / 1e6;
    }
    b.stop = 1;
    if (th == 0)
        pthread_join(t, NULL);
    if (rc == 0)
        off[0] = longest_off(&b, m.t0, m.t0 + m.ns) / 1e6;
    if (rc == 0 && urc == 0)
        off[1] = longest_off(&b, u.t0, u.t0 + u.ns) / 1e6;
    if (rc == 0 && urc != 0)
        rc = urc < 0 ? urc : -EIO;
    if (va != MAP_FAILED)
        munmap(va, len);
    return rc;
}

static void bigmap_dom0(grant_handle_t *h, unsigned guest)
{
    uint32_t ref = 0;
    uint8_t *win = NULL;
    unsigned bad = BIG_PAGES, k, j, moved[2] = {0, 0};
    double t0, t_map = 0, t_unmap = 0, ms[BIG_ROUNDS][2] = {{0}},
               off[BIG_ROUNDS][2] = {{0}};
    static const char *const what[2] = {"MAP", "UNMAP"};
    char v[16];
    int rc = xlab_xs_wait_u32("bigref", &ref), urc = -1, rrc = 0;
    int fd = open(HV_DEV, O_RDWR | O_CLOEXEC);

    /* Through xgrant.ko (grant_map: the window's MAP, then its kernel
     * addresses'), every page checked. */
    if (rc == 0) {
        t0 = now_ms();
        rc = grant_map(h, (grant_domid_t)guest, ref, 0,
                       (uint64_t)BIG_PAGES * GRANT_PAGE_SIZE, 0, (void **)&win);
        t_map = now_ms() - t0;
    }
    for (k = 0, bad = rc == 0 ? 0 : BIG_PAGES; rc == 0 && k < BIG_PAGES; k++) {
        uint64_t m;

        memcpy(&m, win + (size_t)k * GRANT_PAGE_SIZE, sizeof(m));
        bad += m != BIG_MARK + k % BIG_DISTINCT;
    }
    if (rc == 0) {
        win[(size_t)(BIG_PAGES - 1) * GRANT_PAGE_SIZE + BIG_WRITE_OFF] = 0xa5;
        t0 = now_ms();
        urc = grant_unmap(h, win);
        t_unmap = now_ms() - t0;
    }
    xlab_report("map_big", rc == 0 && bad == 0 && urc == 0,
                "256 MiB window of the guest's 16 pages repeated: map %s "
                "(%.1f ms), %u pages without their page's marker, unmap %s "
                "(%.1f ms)",
                grant_strerror(rc), t_map, bad, grant_strerror(urc), t_unmap);
    /* One MAP hypercall of the same 65536 pages and one UNMAP, dom0's two
     * vCPUs pinned to one physical CPU (the guest's to the other): the
     * second vCPU's thread runs only while the first is out of Xen. */
    if (rc == 0 && fd < 0)
        rrc = -errno;
    if (rc == 0 && fd >= 0) {
        pin_self(1);
        rrc = pin_apart(guest, 1);
        for (k = 0; rrc == 0 && k < BIG_ROUNDS; k++) {
            rrc = big_raw_round(fd, guest, ref, ms[k], off[k]);
            for (j = 0; j < 2; j++)
                moved[j] += rrc == 0 && off[k][j] < BIG_OFF_SHARE * ms[k][j];
        }
        unpin(guest);
        pin_self(-1);
    }
    if (fd >= 0)
        close(fd);
    xlab_xs_write("bigdone", "1");
    rc = rc == 0 ? xlab_xs_wait("bigseen", v, sizeof(v)) : rc;
    xlab_report("map_big_write_seen", rc == 0 && v[0] == '1',
                "a byte written through the window's last page: %s",
                rc            ? grant_strerror(rc)
                : v[0] == '1' ? "in the guest's page"
                              : "not in the guest's page");
    printf("XLAB-BIGMAP grant_map of %u pages (256 MiB) %.1f ms, unmap %.1f "
           "ms\n",
           BIG_PAGES, t_map, t_unmap);
    for (j = 0; j < 2; j++) {
        printf("XLAB-BIGMAP %u %s hypercalls of them, ms each, and the other "
               "vCPU's longest stretch off its CPU during it:",
               BIG_ROUNDS, what[j]);
        for (k = 0; k < BIG_ROUNDS; k++)
            printf(" %.1f/%.1f", ms[k][j], off[k][j]);
        printf("\n");
    }
    /* 0018 (MAP) and 0019 (UNMAP): a call that gives the CPU back lets the
     * other vCPU run during it; one that keeps it, only after. */
    for (j = 0; j < 2; j++)
        xlab_report(j ? "unmap_big_preempted" : "map_big_preempted",
                    rrc == 0 && moved[j] > 0,
                    "%s%s; in %u of %u %s hypercalls of 65536 pages, dom0's "
                    "other vCPU, on the same physical CPU, was kept off for "
                    "less than half the call at a stretch (want at least 1: "
                    "the %s gave the CPU back; XLAB-BIGMAP has the times)",
                    grant_strerror(rrc),
                    rrc == -EAGAIN ? " (the vCPUs never got to their CPUs)"
                                   : "",
                    moved[j], BIG_ROUNDS, what[j], what[j]);
}

/* Xen's own figures (hv-patches 0019, debug key 'X'): per sub-op, the
 * longest stretch a GNTTABOP_xgrant call held its CPU without a
 * preemption check, since boot.  Printed, not judged: under TCG every
 * stretch is many times what it is on hardware. */
void xlab_held_dom0(void)
{
    char line[512], last[512] = "";
    FILE *f = NULL;

    if (system("xl debug-keys X >/dev/null 2>&1") == 0)
        f = popen("xl dmesg 2>/dev/null", "r");
    while (f && fgets(line, sizeof(line), f))
        if (strstr(line, "xgrant held:"))
            snprintf(last, sizeof(last), "%s", line);
    if (f)
        pclose(f);
    last[strcspn(last, "\n")] = 0;
    if (last[0])
        printf("XLAB-HELD %s\n", strstr(last, "xgrant held:"));
    xlab_report("held_report", last[0] != 0,
                "Xen's longest stretch per sub-op (debug key 'X'): %s",
                last[0] ? "read (XLAB-HELD)" : "no 'xgrant held' line");
}

void xlab_hvmap_dom0(grant_handle_t *h, unsigned guest)
{
    int fd = open(HV_DEV, O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        xlab_report("xlabhv", 0, "%s: %s (insmod xlabhv.ko)", HV_DEV,
                    strerror(errno));
        xlab_xs_write("hvref", "ERR%d", -EIO);
        xlab_xs_write("hvl1ref", "ERR%d", -EIO);
        xlab_xs_write("hvl1hknob", "0");
    } else {
        race_dom0(fd, guest);
    }
    slot_dom0(h, guest);
    if (fd >= 0) {
        l1_dom0(fd, guest);
        close(fd);
    }
    bigmap_dom0(h, guest);
}

/* ---- the guest ------------------------------------------------------- */

/* An xlabhv area of m->npages at *va, grant (m->dom, ref) MAPped into it:
 * 0 or -errno / the MAP's error. */
static int area_map(int fd, uint32_t ref, struct xlabhv_map *m, uint8_t **va)
{
    *va =
        mmap(NULL, m->npages * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (*va == MAP_FAILED)
        return -errno;
    m->va = (uintptr_t)*va;
    m->ref = ref;
    return ioctl(fd, XLABHV_MAP, m) < 0 ? -errno
           : m->rc < 0                  ? m->rc
                                        : m->status;
}

static void race_guest(int fd)
{
    struct xlabhv_map m = {.npages = 2, .dom = 0};
    struct xlabhv_race r = {.max_ms = 5000};
    uint32_t ref = 0;
    uint8_t *va = MAP_FAILED;
    char v[16];
    int rc = xlab_xs_wait_u32("hvref", &ref);

    if (rc == 0)
        rc = area_map(fd, ref, &m, &va);
    if (rc == 0)
        rc = xlab_xs_wait("hvgo", v, sizeof(v));
    if (rc == 0 && strcmp(v, "1"))
        rc = -ECANCELED; /* dom0 could not set the race up */
    if (rc == 0) {
        r.va_f = (uintptr_t)va;
        r.va_g = (uintptr_t)va + 4096;
        rc = ioctl(fd, XLABHV_RACE, &r) < 0 ? -errno : r.rc;
    }
    xlab_xs_write("hvrace", "%d %llu %llu %llu", rc,
                  (unsigned long long)r.writes, (unsigned long long)r.faulted,
                  (unsigned long long)r.last);
    if (m.handle)
        ioctl(fd, XLABHV_UNMAP, &m);
    if (va != MAP_FAILED)
        munmap(va, 2 * 4096);
    xlab_xs_write("hvunmapped", "1");
}

#define PTE_FRAME(v) ((v)&0x000ffffffffff000ull)

static void slot_guest(int fd)
{
    struct xlabhv_map m1 = {.npages = 1, .flags = GNTX_MAP_RDONLY}, m2, u;
    struct xlabhv_pte p0 = {0}, p1 = {0}, p2 = {0}, p3 = {0};
    uint32_t ref = 0;
    uint8_t *va = MAP_FAILED, got = 0;
    int rc = xlab_xs_wait_u32("hvslotref", &ref), read_ok = 0;

    if (rc == 0) {
        va = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        rc = va == MAP_FAILED ? -errno : 0;
    }
    m1.va = (uintptr_t)va;
    m1.ref = ref;
    m2 = m1;
    /* Record 1 in the slot, the slot emptied behind Xen's back, record 2
     * in the same slot, then record 1's UNMAP. */
    if (rc == 0)
        rc = ioctl(fd, XLABHV_MAP, &m1) < 0 ? -errno : m1.status;
    p0.va = m1.va;
    if (rc == 0)
        rc = ioctl(fd, XLABHV_PTE, &p0) < 0 ? -errno : 0;
    p1.va = m1.va;
    if (rc == 0)
        rc = ioctl(fd, XLABHV_PTE_CLEAR, &p1) < 0 ? -errno : p1.rc;
    if (rc == 0)
        rc = ioctl(fd, XLABHV_MAP, &m2) < 0 ? -errno : m2.status;
    u = m1;
    if (rc == 0)
        rc = ioctl(fd, XLABHV_UNMAP, &u) < 0 ? -errno : 0;
    p2.va = m1.va;
    if (rc == 0)
        rc = ioctl(fd, XLABHV_PTE, &p2) < 0 ? -errno : 0;
    if (rc == 0)
        read_ok = xlab_try_read(va, &got, 1) && got == SLOT_MARK;
    u = m2;
    if (rc == 0 && m2.handle)
        ioctl(fd, XLABHV_UNMAP, &u);
    p3.va = m1.va;
    if (rc == 0)
        rc = ioctl(fd, XLABHV_PTE, &p3) < 0 ? -errno : 0;
    xlab_xs_write(
        "hvslot",
        "%d %s; entry %#llx; after record 1's UNMAP (status %d) "
        "%#llx, read %s; after record 2's %#llx (want the page, "
        "then empty)",
        rc == 0 && (p2.val & 1) && PTE_FRAME(p2.val) == PTE_FRAME(p0.val) &&
            read_ok && !(p3.val & 1),
        grant_strerror(rc), (unsigned long long)p0.val, u.status,
        (unsigned long long)p2.val, read_ok ? "dom0's byte" : "failed",
        (unsigned long long)p3.val);
    if (va != MAP_FAILED)
        munmap(va, 4096);
}

/* ---- 0021: the guest's L1 table ------------------------------------ */

/* XLABHV_L1_MAP of dom0's ref (F: the grant's page at offset): 0 when the
 * table was pinned, F mapped into it and (unpin) the table unpinned; the
 * step's text in txt. */
static int l1_map_guest(int fd, uint32_t ref, uint64_t offset, int unpin,
                        struct xlabhv_l1 *l, char *txt, size_t len)
{
    int rc;

    *l = (struct xlabhv_l1){
        .dom = 0, .ref = ref, .unpin = (uint32_t)unpin, .offset = offset};
    rc = ioctl(fd, XLABHV_L1_MAP, l) < 0 ? -errno
         : l->pin_rc                     ? l->pin_rc
         : l->rc < 0                     ? l->rc
         : l->status                     ? l->status
                                         : l->unpin_rc;
    snprintf(txt, len,
             "%d table %#llx pinned (%d), F mapped in it (MAP %d, status "
             "%d), unpinned (%d)",
             rc, (unsigned long long)l->maddr, l->pin_rc, l->rc, l->status,
             l->unpin_rc);
    return rc;
}

/* XLABHV_L1_FREE: 0 when the unpin worked and the page went back (and,
 * with l->va_g, the go came). */
static int l1_free_guest(int fd, struct xlabhv_l1 *l, char *txt, size_t len)
{
    int rc = ioctl(fd, XLABHV_L1_FREE, l) < 0 ? -errno
             : l->va_g && l->go != 1          ? (l->go < 0 ? l->go : -ETIMEDOUT)
             : l->unpin_rc                    ? l->unpin_rc
             : l->free_rc != 1                ? -EIO
                                              : 0;

    snprintf(txt, len,
             "%d go %d after %.1f ms, unpin %d (%.1f ms), page back to Xen "
             "%d (%.1f ms), UNMAP %d",
             rc, l->go, l->wait_ns / 1e6, l->unpin_rc, l->unpin_ns / 1e6,
             l->free_rc, l->free_ns / 1e6, l->unmap_rc);
    return rc;
}

static void l1_guest(int fd)
{
    struct xlabhv_map m = {.npages = 1, .dom = 0};
    struct xlabhv_l1 l = {0};
    uint8_t *va = MAP_FAILED;
    uint64_t t_step;
    uint32_t ref = 0;
    size_t len;
    char txt[192], v[32];
    int rc = xlab_xs_wait_u32("hvl1ref", &ref);

    /* l1_unpinned */
    if (rc == 0)
        rc = l1_map_guest(fd, ref, 0, 1, &l, txt, sizeof(txt));
    else
        snprintf(txt, sizeof(txt), "%d no grant", rc);
    xlab_xs_write("hvl1map", "%s", txt);
    if (ref) {
        xlab_xs_wait("hvl1prot", v, sizeof(v));
        if (l.maddr && !l.pin_rc)
            l1_free_guest(fd, &l, txt, sizeof(txt));
        else
            snprintf(txt, sizeof(txt), "0 nothing to free");
        xlab_xs_write("hvl1freed", "%s", txt);
    }
    /* l1_ref_held, when Xen has the knob: F and G mapped into an area
     * (G: the go), F into the table too, which stays pinned. */
    if (xlab_xs_wait("hvl1hknob", v, sizeof(v)) || !strtoul(v, NULL, 0))
        return;
    ref = 0;
    l = (struct xlabhv_l1){0};
    rc = xlab_xs_wait_u32("hvl1hold", &ref);
    if (rc == 0) /* G alone, page 0 (F must be in the table only) */
        rc = area_map(fd, ref, &m, &va);
    if (rc == 0)
        rc = l1_map_guest(fd, ref, 4096, 0, &l, txt, sizeof(txt));
    else
        snprintf(txt, sizeof(txt), "%d no grant or no G", rc);
    xlab_xs_write("hvl1hmap", "%s", txt);
    t_step = now_ns(); /* dom0's PROTECT begins after this */
    if (l.maddr && !l.pin_rc) {
        l.va_g = rc == 0 ? (uintptr_t)va : 0;
        l.max_ms = 120000;
        if (l1_free_guest(fd, &l, txt, sizeof(txt)) == 0 && rc)
            txt[0] = '-'; /* no go to wait for: a failure to dom0 */
        /* How far into dom0's PROTECT the go came, at most. */
        len = strlen(txt);
        snprintf(txt + len, sizeof(txt) - len, "; go %.1f ms after the step",
                 l.go > 0 ? (l.go_t - t_step) / 1e6 : 1e9);
    } else {
        snprintf(txt, sizeof(txt), "-1 nothing to free");
    }
    if (m.handle)
        ioctl(fd, XLABHV_UNMAP, &m);
    if (va != MAP_FAILED)
        munmap(va, 4096);
    if (ref)
        xlab_xs_write("hvl1hfreed", "%s", txt);
}

static void bigmap_guest(void)
{
    struct gntx_create c = {
        .type = GNTX_CREATE_DIRECT,
        .grantee = 0,
        .rights = GNTX_R_READ | GNTX_R_WRITE | GNTX_R_MAP,
        .nr_frames = BIG_PAGES,
        .length = (uint64_t)BIG_PAGES * 4096,
    };
    uint64_t *idx = calloc(BIG_PAGES, sizeof(*idx));
    struct gntx_xen_call call = {.op = GNTX_OP_CREATE,
                                 .count = 1,
                                 .args = (uintptr_t)&c,
                                 .aux = (uintptr_t)idx,
                                 .aux_count = BIG_PAGES};
    uint8_t *mem = NULL;
    char v[16];
    int fd = xlab_dev_open(BIG_DISTINCT, &mem), rc = fd < 0 ? fd : 0;

    for (unsigned k = 0; rc == 0 && k < BIG_DISTINCT; k++) {
        uint64_t m = BIG_MARK + k;

        memset(mem + (size_t)k * 4096, 0, 4096);
        memcpy(mem + (size_t)k * 4096, &m, sizeof(m));
    }
    if (rc == 0 && !idx)
        rc = -ENOMEM;
    for (unsigned k = 0; rc == 0 && k < BIG_PAGES; k++)
        idx[k] = k % BIG_DISTINCT; /* the file's pages, repeated */
    if (rc == 0 && ioctl(fd, XGRANT_IOC_CALL, &call) < 0)
        rc = -errno;
    if (rc == 0)
        rc = c.status;
    xlab_xs_write("bigref", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? c.ref : (unsigned)rc);
    if (rc == 0 && xlab_xs_wait("bigdone", v, sizeof(v)) == 0)
        xlab_xs_write("bigseen", "%d",
                      mem[(size_t)((BIG_PAGES - 1) % BIG_DISTINCT) * 4096 +
                          BIG_WRITE_OFF] == 0xa5);
    if (fd >= 0)
        close(fd); /* the module revokes the file's grants */
    free(idx);
}

void xlab_hvmap_guest(grant_handle_t *h)
{
    int fd = open(HV_DEV, O_RDWR | O_CLOEXEC);

    (void)h;
    if (fd < 0) {
        xlab_xs_write("hvrace", "%d 0 0 0", -errno);
        xlab_xs_write("hvunmapped", "1");
        xlab_xs_write("hvslot", "0 %s: %s", HV_DEV, strerror(errno));
        xlab_xs_write("hvl1map", "-19 no %s", HV_DEV);
        xlab_xs_write("hvl1freed", "-19 no %s", HV_DEV);
        xlab_xs_write("hvl1hmap", "-19 no %s", HV_DEV);
        xlab_xs_write("hvl1hfreed", "-19 no %s", HV_DEV);
    } else {
        race_guest(fd);
        slot_guest(fd);
        l1_guest(fd);
        close(fd);
    }
    bigmap_guest();
}
