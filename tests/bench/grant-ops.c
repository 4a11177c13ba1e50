/* SPDX-License-Identifier: MIT */
/*
 * grant-ops: the grant path's cost against peers measured in the same run.
 *   copy     grant_copy_from through xgrantd vs memcpy of the same bytes
 *            (the granter's pages, through a grant_map view of the same
 *            grant) into the same destination, on the consumer's CPU and
 *            by a thread on the other CPU, 64 KiB and 1 MiB, medians; the
 *            consumer reads the destination after every copy (xgrantd
 *            copies 64 KiB and more on the consumer's CPU: near.c);
 *   rtt      one hypercall round trip (grant_usage) vs a bare Unix-socket
 *            ping-pong between two processes (the floor of any socket
 *            transport) and vs a shared-memory ping-pong between two
 *            spinning processes (the floor of any shared-memory transport);
 *   hot      the allocation-free hot path: calls per second of a 4 KiB
 *            grant_copy_from, notify+consume of an event channel,
 *            create+revoke and map+unmap of a page through xgrantd, in a
 *            steady-state loop, and
 *            the heap allocations that loop made (malloc interposed:
 *            integration/common/alloc_count.h; aim 0);
 *   cpu      CPU time per call, this process (its service thread too) plus
 *            xgrantd (every thread), for a round trip, a notify+consume
 *            pair (grant_evtchn_notify and grant_evtchn_notify_async), and
 *            a round trip paced by 20 us of the caller's own work (what a
 *            pipeline stage does between calls: a daemon or client that
 *            spins through that work takes a CPU from the next stage);
 *            medians of 5 rounds, with the load average.  GRANT_OPS_LOAD=N
 *            runs N spinning processes meanwhile (a loaded machine);
 *            GRANT_OPS_ONLY=cpu runs only this part (and a round
 *            trip's median), GRANT_OPS_ONLY=rtt only that median;
 *   core     create+revoke of a 1-frame direct grant in the core itself
 *            (in-process, the test host), pairs per second.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../integration/common/alloc_count.h"
#include "../integration/common/itest.h"
#include "bench.h"
#include "../unit/testhost.h"
#include "gcore.h"
#include "libgrant/lib/sim/sim_spin.h"

/* The consumer reads what was copied: one load per cache line. */
static void consume(const uint8_t *p, size_t len)
{
    volatile uint8_t sink = 0;

    for (size_t i = 0; i < len; i += 64)
        sink ^= p[i];
    (void)sink;
}

/* A copier thread on another CPU: the cross-core memcpy peer. */
#define XCOPY_CHUNK ((size_t)256 << 10)
struct xcopier {
    pthread_t th;
    uint8_t *dst, *src;
    size_t len;
    atomic_int go, done, stop;
    double ns;
};

static void *xcopier_main(void *arg)
{
    struct xcopier *x = arg;
    int seen = 0;
    double t;

    for (;;) {
        while (atomic_load(&x->go) == seen && !atomic_load(&x->stop))
            ;
        if (atomic_load(&x->stop))
            return NULL;
        seen = atomic_load(&x->go);
        t = now_ns();
        /* In 256 KiB calls: a single call of 1 MiB or more falls off
         * glibc's rep-movsb path and would measure that instead. */
        for (size_t at = 0; at < x->len; at += XCOPY_CHUNK)
            memcpy(x->dst + at, x->src + at,
                   x->len - at < XCOPY_CHUNK ? x->len - at : XCOPY_CHUNK);
        x->ns = now_ns() - t;
        atomic_store(&x->done, seen);
    }
}

/* Pins the calling thread to `cpu`; 0 or -1 (one CPU only: no peer). */
static int pin(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) ? -1 : 0;
}

/*
 * Median ns of copying `len` bytes that the consumer then reads, three
 * ways, each `runs` times: through a grant (xgrantd copies), memcpy on the
 * consumer's CPU (the same bytes through a grant_map view of the same
 * grant, into the same destination), and memcpy by a thread on the other
 * CPU (what any copier outside the consumer's CPU pays on this machine).
 */
static void bench_copy(grant_handle_t *h, grant_domid_t granter,
                       grant_ref_t ref, uint8_t *dst, uint8_t *src, size_t len,
                       int runs, double aim)
{
    double *g = calloc(runs, sizeof(double)), *m = calloc(runs, sizeof(double));
    double *x = calloc(runs, sizeof(double)), gm, mm, xm = 0, t;
    struct xcopier xc = {.dst = dst, .src = src, .len = len};
    int i, rc, ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);

    for (i = 0; i < runs; i++) {
        t = now_ns();
        rc = grant_copy_from(h, dst, granter, ref, 0, len);
        g[i] = now_ns() - t;
        if (rc < 0) {
            fprintf(stderr, "grant-ops: copy: %s\n", grant_strerror(rc));
            exit(1);
        }
        consume(dst, len);
    }
    for (i = 0; i < runs; i++) {
        t = now_ns();
        memcpy(dst, src, len);
        __asm__ volatile("" : : "r"(dst) : "memory");
        m[i] = now_ns() - t;
        consume(dst, len);
    }
    gm = median(g, runs);
    mm = median(m, runs);
    printf("copy %7zu B: grant_copy %7.1f us (%5.2f GB/s) | memcpy same CPU "
           "%7.1f us: ratio %.2fx",
           len, gm / 1e3, len / gm, mm / 1e3, mm / gm);
    if (ncpu > 1 && pin(0) == 0 &&
        pthread_create(&xc.th, NULL, xcopier_main, &xc) == 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(1, &set);
        pthread_setaffinity_np(xc.th, sizeof(set), &set);
        for (i = 0; i < runs; i++) {
            atomic_store(&xc.go, i + 1);
            while (atomic_load(&xc.done) != i + 1)
                ;
            x[i] = xc.ns;
            consume(dst, len);
        }
        atomic_store(&xc.stop, 1);
        pthread_join(xc.th, NULL);
        xm = median(x, runs);
        CPU_ZERO(&set);
        for (i = 0; i < ncpu; i++)
            CPU_SET(i, &set);
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
        printf(" | memcpy other CPU %7.1f us: ratio %.2fx", xm / 1e3, xm / gm);
    }
    printf("\ncopy %7zu B: same-CPU ratio %.2fx, aim >= %.2fx: %s\n", len,
           mm / gm, aim, mm / gm >= aim ? "met" : "NOT met");
    free(g);
    free(m);
    free(x);
}

static double bench_rtt(grant_handle_t *h, int runs)
{
    double *v = calloc(runs, sizeof(double)), t, r;
    struct grant_usage u;
    int i;

    for (i = 0; i < runs; i++) {
        t = now_ns();
        if (grant_usage(h, GRANT_DOMID_SELF, &u) < 0)
            exit(1);
        v[i] = now_ns() - t;
    }
    r = median(v, runs);
    free(v);
    return r;
}

/* The peer: a 40-byte request and reply over a Unix stream socket between
 * two processes, the same message size as a hypercall header. */
static double bench_socket_pingpong(int runs)
{
    double *v = calloc(runs, sizeof(double)), t, r;
    char msg[40] = {0};
    int sv[2], i;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        exit(1);
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        while (read(sv[1], msg, sizeof(msg)) == sizeof(msg))
            if (write(sv[1], msg, sizeof(msg)) != sizeof(msg))
                break;
        _exit(0);
    }
    close(sv[1]);
    for (i = 0; i < runs; i++) {
        t = now_ns();
        if (write(sv[0], msg, sizeof(msg)) != sizeof(msg) ||
            read(sv[0], msg, sizeof(msg)) != sizeof(msg))
            exit(1);
        v[i] = now_ns() - t;
    }
    close(sv[0]);
    waitpid(pid, NULL, 0);
    r = median(v, runs);
    free(v);
    return r;
}

/* The other peer: a request/response flag pair in shared memory between
 * two processes that spin (the child gives up after a second of silence). */
static double bench_shm_pingpong(int runs)
{
    volatile uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    double *v = calloc(runs, sizeof(double)), t, r;
    pid_t pid;
    int i;

    if (w == MAP_FAILED || !v)
        exit(1);
    pid = fork();
    if (pid == 0) {
        uint32_t seen = 0;
        double idle = now_ns();

        while (now_ns() - idle < 1e9) {
            uint32_t x = __atomic_load_n(&w[0], __ATOMIC_ACQUIRE);

            if (x == seen) {
                xgw_cpu_relax();
                continue;
            }
            seen = x;
            __atomic_store_n(&w[16], x, __ATOMIC_RELEASE);
            idle = now_ns();
        }
        _exit(0);
    }
    for (i = 0; i < runs; i++) {
        t = now_ns();
        __atomic_store_n(&w[0], (uint32_t)i + 1, __ATOMIC_RELEASE);
        while (__atomic_load_n(&w[16], __ATOMIC_ACQUIRE) != (uint32_t)i + 1)
            xgw_cpu_relax();
        v[i] = now_ns() - t;
    }
    waitpid(pid, NULL, 0);
    munmap((void *)w, 4096);
    r = median(v, runs);
    free(v);
    return r;
}

/* The steady-state loop of the hot calls: calls per second of each kind
 * and the allocations all of them made (after one warm-up round). */
#define HOT_CALLS 20000
#define HOT_MAPS  2000 /* map+unmap: a socket round trip and mmaps each */
static void bench_hot(grant_handle_t *h, grant_domid_t granter, grant_ref_t ref,
                      uint8_t *buf)
{
    double t, rate[4];
    unsigned long allocs = 0;
    grant_handle_t *peer;
    uint32_t port, peer_port;
    grant_ref_t mine;
    void *view;
    int bad = 0;

    if (grant_open(&peer, 0) < 0 ||
        grant_evtchn_alloc_unbound(h, 0, &port) < 0 ||
        grant_evtchn_bind(peer, 0, port, &peer_port) < 0)
        exit(1);
    for (int round = 0; round < 2; round++) {
        if (round)
            alloc_count_start();
        t = now_ns();
        for (int i = 0; i < HOT_CALLS; i++)
            bad += grant_copy_from(h, buf, granter, ref, 0, 4096) != 0;
        rate[0] = HOT_CALLS / ((now_ns() - t) / 1e9);
        t = now_ns();
        for (int i = 0; i < HOT_CALLS; i++)
            bad += grant_evtchn_notify(peer, peer_port) != 0 ||
                   grant_evtchn_consume(h, port) != 1;
        rate[1] = HOT_CALLS / ((now_ns() - t) / 1e9);
        t = now_ns();
        for (int i = 0; i < HOT_CALLS; i++)
            bad += grant_create_direct(h, granter, GRANT_R_READ, buf, 4096,
                                       &mine) != 0 ||
                   grant_revoke(h, mine, 0) != 0;
        rate[2] = HOT_CALLS / ((now_ns() - t) / 1e9);
        t = now_ns();
        for (int i = 0; i < HOT_MAPS; i++)
            bad += grant_map(h, granter, ref, 0, 4096, GRANT_MAP_RDONLY,
                             &view) != 0 ||
                   grant_unmap(h, view) != 0;
        rate[3] = HOT_MAPS / ((now_ns() - t) / 1e9);
        if (round)
            allocs = alloc_count_stop();
    }
    printf("hot: copy 4 KiB %.0f k calls/s | notify+consume %.0f k pairs/s | "
           "create+revoke %.0f k pairs/s | map+unmap %.0f k pairs/s%s\n",
           rate[0] / 1e3, rate[1] / 1e3, rate[2] / 1e3, rate[3] / 1e3,
           bad ? " (SOME CALLS FAILED)" : "");
    if (ALLOC_COUNT_WORKS)
        printf("hot: heap allocations in %d steady-state calls: %lu (aim 0: "
               "%s)\n",
               6 * HOT_CALLS + 2 * HOT_MAPS, allocs,
               allocs == 0 ? "met" : "NOT met");
    else
        printf("hot: heap allocations not counted (ASan build)\n");
    grant_close(peer);
}

/* CPU ns all threads of process `pid` ran so far (schedstat's first
 * field, per thread); 0 where /proc says nothing. */
static double proc_cpu_ns(pid_t pid)
{
    char path[64], line[128];
    struct dirent *e;
    double sum = 0;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    d = opendir(path);
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        FILE *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", (int)pid,
                 e->d_name);
        f = fopen(path, "r");
        if (f && fgets(line, sizeof(line), f))
            sum += strtod(line, NULL);
        if (f)
            fclose(f);
    }
    closedir(d);
    return sum;
}

static double self_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The caller's own work between two paced calls: ns of spinning. */
static void work_ns(double ns)
{
    double end = now_ns() + ns;

    while (now_ns() < end)
        xgw_cpu_relax();
}

enum cpu_kind { CPU_RTT, CPU_NOTIFY, CPU_NOTIFY_ASYNC, CPU_PACED, CPU_KINDS };
#define CPU_CALLS  5000
#define CPU_ROUNDS 5
#define PACE_NS    20000.0

/* One round of `kind`: fills wall and CPU ns per call (client, daemon). */
static void cpu_round(enum cpu_kind kind, grant_handle_t *h,
                      grant_handle_t *peer, uint32_t port, uint32_t peer_port,
                      double out[3])
{
    pid_t dpid = itest_daemon_pid();
    double t = now_ns(), c = self_cpu_ns(), d = proc_cpu_ns(dpid);
    struct grant_usage u;
    int bad = 0;

    for (int i = 0; i < CPU_CALLS; i++) {
        switch (kind) {
        case CPU_RTT:
            bad |= grant_usage(h, GRANT_DOMID_SELF, &u) < 0;
            break;
        case CPU_NOTIFY:
            bad |= grant_evtchn_notify(peer, peer_port) != 0 ||
                   grant_evtchn_wait(h, port, 1000) < 1;
            break;
        case CPU_NOTIFY_ASYNC:
            bad |= grant_evtchn_notify_async(peer, peer_port) != 0 ||
                   grant_evtchn_wait(h, port, 1000) < 1;
            break;
        default:
            bad |= grant_usage(h, GRANT_DOMID_SELF, &u) < 0;
            work_ns(PACE_NS);
            break;
        }
    }
    if (bad)
        exit(1);
    out[0] = (now_ns() - t) / CPU_CALLS;
    out[1] = (self_cpu_ns() - c) / CPU_CALLS;
    out[2] = (proc_cpu_ns(dpid) - d) / CPU_CALLS;
    if (kind == CPU_PACED) { /* the caller's own work is not the call's */
        out[0] -= PACE_NS;
        out[1] -= PACE_NS;
    }
}

/* GRANT_OPS_LOAD spinning children (killed by the caller), or none. */
static int load_start(pid_t *pids, int max)
{
    const char *e = getenv("GRANT_OPS_LOAD");
    int n = e ? atoi(e) : 0;

    n = n < 0 ? 0 : n > max ? max : n;
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            double end = now_ns() + 600e9; /* bounded, whatever happens */

            while (now_ns() < end)
                ;
            _exit(0);
        }
    }
    return n;
}

static void bench_cpu(grant_handle_t *h)
{
    static const char *const name[CPU_KINDS] = {
        "round trip", "notify+wait", "notify_async+wait", "paced call"};
    double v[CPU_KINDS][3][CPU_ROUNDS], r[3], la[3] = {0};
    grant_handle_t *peer;
    uint32_t port, peer_port;
    pid_t pids[16];
    int nload;

    if (grant_open(&peer, 0) < 0 ||
        grant_evtchn_alloc_unbound(h, 0, &port) < 0 ||
        grant_evtchn_bind(peer, 0, port, &peer_port) < 0)
        exit(1);
    nload = load_start(pids, 16);
    for (int round = 0; round < CPU_ROUNDS; round++)
        for (int k = 0; k < CPU_KINDS; k++) {
            cpu_round(k, h, peer, port, peer_port, r);
            for (int j = 0; j < 3; j++)
                v[k][j][round] = r[j];
        }
    getloadavg(la, 3);
    for (int i = 0; i < nload; i++) {
        kill(pids[i], SIGKILL);
        waitpid(pids[i], NULL, 0);
    }
    for (int k = 0; k < CPU_KINDS; k++)
        printf("cpu: %-18s %7.2f us wall, CPU %6.2f us client + %6.2f us "
               "xgrantd per call (load %.2f, %d spinners)\n",
               name[k], median(v[k][0], CPU_ROUNDS) / 1e3,
               median(v[k][1], CPU_ROUNDS) / 1e3,
               median(v[k][2], CPU_ROUNDS) / 1e3, la[0], nload);
    grant_close(peer);
}

/* Pairs per second of create+revoke in the core, best of 5 rounds. */
static double bench_core(long pairs)
{
    struct gntx_create c = {.type = GNTX_CREATE_DIRECT,
                            .grantee = 2,
                            .rights = GNTX_R_READ | GNTX_R_WRITE,
                            .nr_frames = 1,
                            .offset = 16,
                            .length = 1000};
    struct gntx_revoke r = {0};
    struct th_dom *d1 = th_dom_new(16), *d2 = th_dom_new(16);
    uint64_t frame = 3;
    struct gcore *core;
    double best = 0, t, rate;
    long i;
    int round;

    if (gcore_create(&core) < 0 || gcore_dom_add(core, 1, 16, d1) < 0 ||
        gcore_dom_add(core, 2, 16, d2) < 0)
        exit(1);
    for (round = 0; round < 5; round++) {
        t = now_ns();
        for (i = 0; i < pairs; i++) {
            if (gcore_grant_create(core, 1, &c, 1, &frame, 1) < 0)
                exit(1);
            r.ref = c.ref;
            if (gcore_grant_revoke(core, 1, &r, 1) != 1)
                exit(1);
        }
        rate = pairs / ((now_ns() - t) / 1e9);
        best = rate > best ? rate : best;
    }
    gcore_destroy(core);
    th_dom_free(d1);
    th_dom_free(d2);
    return best;
}

int main(void)
{
    struct itest_agent a;
    grant_handle_t *dom0;
    grant_ref_t ref;
    uint8_t *dst, *src;
    double rtt, peer, shm, core;
    void *p, *view;
    const char *only = getenv("GRANT_OPS_ONLY");

    printf("# grant-ops: medians; ratios against peers measured in this run\n");
    itest_setup(&dom0);
    /* A guest grants dom0 1 MiB; dom0 copies from it into its own memory. */
    if (only && (!strcmp(only, "cpu") || !strcmp(only, "rtt"))) {
        printf("rtt: hypercall round trip %.2f us (median)\n",
               bench_rtt(dom0, 20000) / 1e3);
        if (!strcmp(only, "cpu"))
            bench_cpu(dom0);
        itest_teardown(dom0);
        return 0;
    }
    itest_spawn(dom0, &a, "bench-granter", 1024);
    itest_ok(&a, "alloc 256");
    itest_ok(&a, "fill 0 0 1048576 1");
    ref = (grant_ref_t)itest_ok(&a, "grant 0 rwm 0 0 1048576");
    if (grant_mem_alloc(dom0, 256, &p) < 0 ||
        grant_map(dom0, a.domid, ref, 0, 1 << 20, GRANT_MAP_RDONLY, &view) < 0)
        return 1;
    dst = p;
    src = view;
    /* Aims (issue 10): 64 KiB no slower than before large copies ran on
     * the caller's CPU (0.14x), 1 MiB at least 0.8x. */
    bench_copy(dom0, a.domid, ref, dst, src, 64 << 10, 2000, 0.14);
    bench_copy(dom0, a.domid, ref, dst, src, 1 << 20, 300, 0.8);
    bench_hot(dom0, a.domid, ref, dst);
    rtt = bench_rtt(dom0, 20000);
    peer = bench_socket_pingpong(20000);
    shm = bench_shm_pingpong(20000);
    printf("rtt: hypercall round trip %.2f us   unix-socket ping-pong %.2f us  "
           " ratio %.2fx (aim <= 5 us: %s)\n",
           rtt / 1e3, peer / 1e3, rtt / peer, rtt <= 5000 ? "met" : "NOT met");
    printf("rtt: hypercall round trip %.2f us   shared-memory ping-pong %.2f "
           "us   ratio %.2fx\n",
           rtt / 1e3, shm / 1e3, rtt / shm);
    bench_cpu(dom0);
    grant_unmap(dom0, view);
    itest_agent_close(&a);
    itest_teardown(dom0);
    core = bench_core(2000000);
    printf("core: create+revoke %.2f M pairs/s (%.0f ns per pair)   ratio "
           "%.2fx the 10 M/s aim\n",
           core / 1e6, 1e9 / core, core / 1e7);
    return 0;
}
