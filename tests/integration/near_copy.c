/* SPDX-License-Identifier: MIT */
/*
 * near_copy: large copies run on the caller's CPU (tools/xgrantd/near.c),
 * and stay correct against a concurrent revoke.
 *   - 1 MiB copies from dom0 pinned to each CPU in turn arrive byte-exact,
 *     and xgrantd then has a worker thread ("xgd-near<cpu>") pinned to a
 *     CPU the copies came from (skipped on one CPU: there is no other);
 *   - a daemon whose affinity is CPU 0 only starts no worker on CPU 1 (a
 *     child process runs that case with a daemon of its own); once its
 *     affinity widens, a later copy from CPU 1 does start one (the failed
 *     start is retried after a back-off, not given up for good);
 *   - a thread keeps copying 1 MiB into a guest's grant, a new byte value
 *     each time, while the guest revokes it: once grant_revoke has
 *     returned, the granted bytes never change again (20 rounds).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/itest.h"

#define LEN    (1u << 20)
#define ROUNDS 20

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

static int pin(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Does xgrantd have a thread named xgd-near<cpu> for one of cpus[0..n)? */
static int near_thread(const int *cpus, int n)
{
    char path[320], comm[32], want[16];
    struct dirent *e;
    int found = 0;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)itest_daemon_pid());
    d = opendir(path);
    if (!d)
        return 0;
    while (!found && (e = readdir(d))) {
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/task/%s/comm",
                 (int)itest_daemon_pid(), e->d_name);
        f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(comm, sizeof(comm), f)) {
            comm[strcspn(comm, "\n")] = '\0';
            for (int i = 0; i < n; i++) {
                snprintf(want, sizeof(want), "xgd-near%d", cpus[i]);
                found |= strcmp(comm, want) == 0;
            }
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

/* Copies from every CPU; the near worker shows up. */
static void from_each_cpu(grant_handle_t *dom0, struct itest_agent *a,
                          uint64_t ref, uint8_t *dst, const uint8_t *view)
{
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN), cpus[2], n = 0, ok = 1;

    for (int cpu = 0; cpu < ncpu && cpu < 2; cpu++) {
        if (pin(cpu) != 0)
            continue;
        cpus[n++] = cpu;
        for (int i = 0; i < 20 && ok; i++) {
            int rc;

            memset(dst, 0, LEN);
            rc = grant_copy_from(dom0, dst, a->domid, (grant_ref_t)ref, 0, LEN);
            ok = rc == 0 && memcmp(dst, view, LEN) == 0;
            if (!ok)
                printf("# cpu %d copy %d: %s, byte 0 %u\n", cpu, i,
                       grant_strerror(rc), dst[0]);
        }
    }
    ICHECK(ok, "1 MiB copies from each CPU arrive byte-exact");
    if (n < 2) {
        printf("ok # skip near worker: one CPU only\n");
        return;
    }
    ICHECK(near_thread(cpus, n),
           "xgrantd served them on a worker pinned to the caller's CPU");
}

struct copier {
    grant_handle_t *h;
    grant_domid_t granter;
    grant_ref_t ref;
    uint8_t *src;
    atomic_int stop;
    unsigned copies; /* that succeeded */
};

static void *copier_main(void *arg)
{
    struct copier *c = arg;

    for (unsigned k = 1; !atomic_load(&c->stop); k++) {
        memset(c->src, (int)(k % 250) + 1, LEN);
        if (grant_copy_to(c->h, c->granter, c->ref, 0, c->src, LEN) == 0)
            c->copies++;
    }
    return NULL;
}

/* One round: copies race a revoke; no byte moves once it returned. */
static int revoke_round(grant_handle_t *dom0, struct itest_agent *a,
                        uint8_t *src, unsigned *copies)
{
    struct copier c = {.h = dom0, .granter = a->domid, .src = src};
    char before[64], after[64];
    pthread_t th;
    int same;

    c.ref = (grant_ref_t)itest_ok(a, "grant 0 rw 0 0 %u", LEN);
    if (pthread_create(&th, NULL, copier_main, &c) != 0)
        return 0;
    sleep_ms(1 + rand() % 4);
    itest_ok(a, "revoke %u", c.ref);
    itest_cmd(a, before, sizeof(before), "sum 0 0 %u", LEN);
    sleep_ms(10); /* the copier keeps trying meanwhile */
    itest_cmd(a, after, sizeof(after), "sum 0 0 %u", LEN);
    atomic_store(&c.stop, 1);
    pthread_join(th, NULL);
    *copies += c.copies;
    same = strcmp(before, after) == 0;
    if (!same)
        printf("# bytes moved after revoke: %s then %s\n", before, after);
    return same;
}

static void pin_all(void)
{
    cpu_set_t all;

    CPU_ZERO(&all);
    for (int i = 0; i < CPU_SETSIZE; i++)
        CPU_SET(i, &all);
    pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
}

/* A granter agent with LEN bytes granted to dom0 (rwm); *view maps them,
 * *p is 2 * LEN bytes of dom0's memory.  The grant's ref. */
static uint64_t granted(grant_handle_t *dom0, struct itest_agent *a, void **p,
                        void **view)
{
    uint64_t ref;

    itest_spawn(dom0, a, "near-granter", 1024);
    itest_ok(a, "alloc 256");
    itest_ok(a, "fill 0 0 %u 42", LEN);
    ref = itest_ok(a, "grant 0 rwm 0 0 %u", LEN);
    if (grant_mem_alloc(dom0, 2 * LEN / 4096, p) < 0 ||
        grant_map(dom0, a->domid, (grant_ref_t)ref, 0, LEN, GRANT_MAP_RDONLY,
                  view) < 0) {
        printf("not ok no dom0 memory or mapping\n");
        exit(1);
    }
    return ref;
}

/*
 * In a child, before any daemon: a daemon started with CPU 0 as its whole
 * affinity (taskset, say) starts no worker on CPU 1 when copies come from
 * there, and still copies right.  The child's exit status.
 */
static int confined_daemon(void)
{
    struct itest_agent a;
    grant_handle_t *dom0;
    int ok = 1, one = 1;
    cpu_set_t all;
    uint64_t ref;
    void *p, *view;

    if (pin(0) != 0) /* the daemon inherits it */
        return ITEST_SKIP;
    itest_setup(&dom0);
    ref = granted(dom0, &a, &p, &view);
    pin_all();
    ICHECK(pin(1) == 0, "the copier moves to CPU 1");
    for (int i = 0; i < 20 && ok; i++)
        ok = grant_copy_from(dom0, p, a.domid, (grant_ref_t)ref, 0, LEN) == 0 &&
             memcmp(p, view, LEN) == 0;
    ICHECK(ok, "copies from CPU 1 to a daemon kept on CPU 0 arrive");
    ICHECK(!near_thread(&one, 1),
           "and it started no worker outside its affinity");
    CPU_ZERO(&all);
    for (int i = 0; i < 2; i++)
        CPU_SET(i, &all);
    ICHECK(sched_setaffinity(itest_daemon_pid(), sizeof(all), &all) == 0,
           "the daemon's affinity widens to CPUs 0-1");
    sleep_ms(300); /* past the retry back-off */
    /* The daemon may now run on CPU 1 itself: it moves away after a few
     * calls from its own CPU, and then a worker serves them. */
    for (int i = 0; i < 400 && !near_thread(&one, 1); i++)
        (void)grant_copy_from(dom0, p, a.domid, (grant_ref_t)ref, 0, LEN);
    ICHECK(near_thread(&one, 1), "a later copy from CPU 1 starts its worker");
    grant_unmap(dom0, view);
    itest_agent_close(&a);
    itest_teardown(dom0);
    return itest_done();
}

int main(void)
{
    struct itest_agent a;
    grant_handle_t *dom0;
    unsigned copies = 0;
    uint64_t ref;
    void *p, *view;
    int ok = 1, status = -1;
    pid_t child;

    if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
        fflush(stdout);
        child = fork();
        if (child == 0)
            exit(confined_daemon());
        waitpid(child, &status, 0);
        ICHECK(WIFEXITED(status) &&
                   (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 77),
               "a daemon kept on CPU 0 (status 0x%x)", status);
    }
    itest_setup(&dom0);
    ref = granted(dom0, &a, &p, &view);
    /* The mapping shows the granter's bytes: the copies must match it. */
    from_each_cpu(dom0, &a, ref, p, view);
    grant_unmap(dom0, view);
    pin_all();
    srand(7);
    for (int r = 0; r < ROUNDS && ok; r++)
        ok = revoke_round(dom0, &a, (uint8_t *)p + LEN, &copies);
    ICHECK(ok, "no byte moved after grant_revoke returned (%d rounds)", ROUNDS);
    ICHECK(copies > 0, "copies went through before the revokes (%u)", copies);
    itest_agent_close(&a);
    itest_teardown(dom0);
    return itest_done();
}
