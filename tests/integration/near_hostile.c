/* SPDX-License-Identifier: MIT */
/*
 * near_hostile: the near page (sim_wire.h, "Large copies") is mapped by
 * every client, and any of them may FUTEX_WAKE any CPU's worker.  A client
 * that does so for 1 s, without ever posting a copy, must not make the
 * daemon burn much more CPU than it spends itself (each wake used to buy a
 * 50 us polling loop on the worker).
 */
#include <linux/futex.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/itest.h"
#include "libgrant/abi/sim_wire.h"

/* CPU seconds (user + system) of process pid. */
static double cpu_of(pid_t pid)
{
    char path[64], buf[1024], *s;
    unsigned long ut = 0, st = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(buf, sizeof(buf), f))
        buf[0] = 0;
    fclose(f);
    s = strrchr(buf, ')');
    if (!s ||
        sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double clock_s(clockid_t id)
{
    struct timespec t;

    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Starts the workers the honest way: a large local copy from each CPU. */
static void start_workers(grant_handle_t *h, int ncpu)
{
    void *buf;

    ICHECK(grant_mem_alloc(h, 512, &buf) == 0, "alloc");
    for (int c = 0; c < ncpu; c++) {
        cpu_set_t s;

        CPU_ZERO(&s);
        CPU_SET(c, &s);
        sched_setaffinity(0, sizeof(s), &s);
        for (int i = 0; i < 5; i++) {
            struct grant_copy_seg g = {
                .src = {.local = 1, .ptr = buf},
                .dst = {.local = 1, .ptr = (char *)buf + (1u << 20)},
                .len = 1u << 20};

            grant_copy(h, &g, 1);
        }
    }
}

static struct xgw_near_cpu *near_page(void)
{
    struct xgw_near_cpu *near = NULL;
    char line[512];
    FILE *m = fopen("/proc/self/maps", "r");

    while (m && fgets(line, sizeof(line), m))
        if (strstr(line, "xgrant-near"))
            near = (struct xgw_near_cpu *)strtoul(line, NULL, 16);
    if (m)
        fclose(m);
    return near;
}

int main(void)
{
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    struct xgw_near_cpu *near;
    grant_handle_t *dom0;
    double d0, s0, t0, d, s;
    unsigned long wakes = 0;

    if (ncpu < 2 || ncpu > (int)XGW_NEAR_CPUS) {
        printf("one CPU: no near workers to poke\n");
        return ITEST_SKIP;
    }
    itest_setup(&dom0);
    start_workers(dom0, ncpu);
    near = near_page();
    ICHECK(near != NULL, "the near page is mapped (read-only) here");
    if (!near)
        return itest_done();
    usleep(200000); /* the daemon's poll budget after the copies */
    d0 = cpu_of(itest_daemon_pid());
    s0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    t0 = clock_s(CLOCK_MONOTONIC);
    while (clock_s(CLOCK_MONOTONIC) - t0 < 1.0) {
        for (int c = 0; c < ncpu; c++)
            if (__atomic_load_n(&near[c].sleeping, __ATOMIC_RELAXED)) {
                syscall(SYS_futex, &near[c].go, FUTEX_WAKE, 1, NULL, NULL, 0);
                wakes++;
            }
        usleep(40);
    }
    d = cpu_of(itest_daemon_pid()) - d0;
    s = clock_s(CLOCK_PROCESS_CPUTIME_ID) - s0;
    printf("# 1 s: %lu wakes; the poker's CPU %.3f s, the daemon's %.3f s\n",
           wakes, s, d);
    /* A wake costs the daemon a context switch or two, as it costs the
     * poker; it used to buy 50 us of polling on top (the
     * daemon then spent 2-3x the poker's CPU). */
    ICHECK(d <= 1.2 * s + 0.02,
           "the daemon spends about the CPU of the client poking its workers");
    itest_teardown(dom0);
    return itest_done();
}
