/* SPDX-License-Identifier: MIT */
/*
 * near.c: large copies on the caller's CPU.
 *
 * Under Xen a grant copy runs on the vCPU that made the hypercall, so the
 * bytes it moves are in that CPU's cache when the caller reads them.  The
 * daemon's one thread runs wherever the scheduler put it, and a copy made
 * there leaves the destination in the wrong cache (on this kind of machine
 * a 1 MiB copy costs twice a memcpy on the caller's CPU).  So the daemon
 * keeps one worker thread per CPU, pinned there and started on first use,
 * and a call area request that moves at least XGW_CA_NEAR_BYTES is served
 * whole by the worker on the CPU the client posted from (its client_cpu
 * hint).  The client wakes that worker itself, on its own CPU, before it
 * sleeps (sim_wire.h, "Large copies"), so the CPU passes straight from the
 * client to the worker: no idle CPU has to be woken, which on a VM costs
 * tens of microseconds.
 *
 * Serialized, not concurrent: the main thread hands the request over and
 * waits until the worker has served it (xd_near_run), so the daemon runs
 * one request at a time exactly as before.  Whatever the worker does (the
 * core under its lock, the reply, epoll updates) is ordered with the main
 * thread's work by the hand-over's release/acquire pair, and nothing of
 * the daemon needs a lock.  In particular a revoke, which the main thread
 * serves, never overlaps a copy: once it returns, no copy through the
 * revoked grant moves a byte.  Idle workers hold no lock, so fork() (the
 * domain spawner) is as safe as in a single-threaded daemon.  The wait is
 * bounded: a job the worker has not taken in NEAR_TAKE_NS (its CPU kept
 * busy, say by a client that spins there) is taken back and served by
 * the main thread, so no client holds the daemon longer than before; and
 * that worker is then left alone for NEAR_BACKOFF_NS (its CPU is busy: a
 * client that keeps it so, or that names a busy CPU, stalls the daemon
 * once per back-off, not once per call).  A worker that cannot start is
 * tried again NEAR_RETRY_NS later (an affinity mask may widen).
 *
 * The near page is shared by every client, and any of them may wake any
 * worker: a wake that brings no job (spurious) buys no polling for the
 * next NEAR_QUIET_NS, so a client poking workers costs the daemon about
 * what the wakes cost the client.
 *
 * The worker runs the dispatch only: what must run on the main thread
 * (KILL protections' domain destroys) is queued and run by the caller
 * after xd_near_run returns (xd_near_on_worker).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "private.h"
#include "libgrant/lib/sim/sim_spin.h"

/* A worker woken polls `go` this long before it sleeps again. */
#define NEAR_POLL_NS 50000u
/* The main thread spins this long for a worker's job, then sleeps. */
#define NEAR_WAIT_NS 200000u
/* A job the worker has not taken this long after it was posted is taken
 * back and served by the main thread (a worker is normally there within a
 * few microseconds; a client spinning on its CPU could keep it out for a
 * whole time slice, and the daemon with it). */
#define NEAR_TAKE_NS 500000u
/* A worker whose job was taken back is skipped this long. */
#define NEAR_BACKOFF_NS 10000000u
/* A worker that could not start is tried again this much later. */
#define NEAR_RETRY_NS 200000000u
/* After a wake that brought no job, wakes do not poll for this long. */
#define NEAR_QUIET_NS 5000000u
/* Longest futex sleep of the main thread on a job the worker took. */
#define NEAR_DONE_WAIT_NS 10000000u

enum { NEAR_NONE, NEAR_RUNNING, NEAR_FAILED };
/* A job's life: the main thread posts it and may cancel it while it is
 * still posted; the worker takes it (or finds it cancelled) and marks it
 * done. */
enum { JOB_NONE, JOB_POSTED, JOB_TAKEN, JOB_DONE, JOB_CANCELLED };

struct near_worker {
    pthread_t th;
    int state;              /* NEAR_* */
    struct xgw_near_cpu *w; /* its words in the near page */
    uint32_t job;           /* JOB_*, a futex for the main thread */
    uint32_t main_waits;    /* 1: the main thread futex-waits on job */
    void (*fn)(void *);
    void *arg;
    uint32_t *wake;       /* a client's futex to wake once done is stored */
    uint64_t skip_until;  /* main thread: not used before (back-off) */
    uint64_t quiet_until; /* worker: wakes do not poll before */
};

static struct near_worker workers[XGW_NEAR_CPUS];
static __thread struct near_worker *self; /* on a worker: its own */
static struct xgw_near_cpu *page;         /* the near page, read-write */
static int page_fd = -1;

/* Shared futexes: `go` and the clients' rep_seq are in shared memory. */
static void futex_wait(uint32_t *word, uint32_t val, const struct timespec *ts)
{
    syscall(SYS_futex, word, FUTEX_WAIT, val, ts, NULL, 0);
}

static void futex_wake(uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* ---- the near page -------------------------------------------------------
 */

/* Creates it on first use: read-write here, sealed so that every later
 * mapping (the clients') is read-only. */
static int page_open(void)
{
    void *p;
    int fd, r;

    if (page)
        return 0;
    fd = memfd_create("xgrant-near", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, XGW_NEAR_SIZE) < 0)
        goto err_close;
    p = mmap(NULL, XGW_NEAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        goto err_close;
    if (fcntl(fd, F_ADD_SEALS,
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) <
        0) {
        munmap(p, XGW_NEAR_SIZE);
        goto err_close;
    }
    page = p;
    page_fd = fd;
    return 0;

err_close:
    r = -errno;
    close(fd);
    return r;
}

int xd_near_fd(void)
{
    int r = page_open(), fd;

    if (r < 0)
        return r;
    fd = fcntl(page_fd, F_DUPFD_CLOEXEC, 3);
    return fd < 0 ? -errno : fd;
}

/* ---- workers ------------------------------------------------------------- */

void xd_near_wake(uint32_t *word)
{
    if (self)
        self->wake = word;
    else
        futex_wake(word);
}

/* Polls `go` for NEAR_POLL_NS, yielding to anyone else on this CPU (the
 * main thread may run here): the new go, or `seen` when it did not move. */
static uint32_t worker_poll(struct xgw_near_cpu *w, uint32_t seen)
{
    uint64_t start = xgw_now_ns();
    uint32_t go;

    for (unsigned i = 1;; i++) {
        /* Acquire: pairs with xd_near_run's release store of go, so the
         * job and everything the main thread did before are visible. */
        go = __atomic_load_n(&w->go, __ATOMIC_ACQUIRE);
        if (go != seen || (i % 32 == 0 && xgw_now_ns() - start > NEAR_POLL_NS))
            return go;
        if (i % 32 == 0)
            sched_yield();
        xgw_cpu_relax();
    }
}

/*
 * Until `go` moves past `seen`: sleeps until the main thread or a client
 * wakes it, then polls for a while (a client's wake comes before the main
 * thread has seen its request); nothing yet: sleeps again.  Sleeping first
 * matters: after a job the client woken on this CPU must get it at once.
 * A wake that found nothing makes the next ones not poll for a while
 * (anyone may wake us).  The new go.
 */
static uint32_t worker_wait(struct near_worker *nw, uint32_t seen)
{
    struct xgw_near_cpu *w = nw->w;
    uint32_t go;

    for (;;) {
        __atomic_store_n(&w->sleeping, 1, __ATOMIC_RELAXED);
        /* Orders the sleeping store before the go load (Dekker with
         * xd_near_run's "store go; fence; load sleeping"). */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&w->go, __ATOMIC_RELAXED) == seen)
            futex_wait(&w->go, seen, NULL);
        __atomic_store_n(&w->sleeping, 0, __ATOMIC_RELAXED);
        /* Acquire: as worker_poll's. */
        go = __atomic_load_n(&w->go, __ATOMIC_ACQUIRE);
        if (go == seen && xgw_now_ns() >= nw->quiet_until)
            go = worker_poll(w, seen);
        if (go != seen)
            return go;
        nw->quiet_until = xgw_now_ns() + NEAR_QUIET_NS; /* spurious */
    }
}

/* After a store to job: wakes the main thread if it sleeps on it. */
static void wake_main(struct near_worker *nw)
{
    /* Orders the job store before the main_waits load (Dekker with
     * wait_job's "store main_waits; fence; load job"). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&nw->main_waits, __ATOMIC_RELAXED))
        syscall(SYS_futex, &nw->job, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *worker_main(void *arg)
{
    struct near_worker *nw = arg;
    uint32_t seen = 0, *wake;

    self = nw;
    for (;;) {
        uint32_t posted = JOB_POSTED;

        seen = worker_wait(nw, seen);
        /* Acquire: pairs with the release store of JOB_POSTED, so fn and
         * arg are this job's.  Fails for a cancelled job (or a go seen
         * after its job was taken already): nothing to do. */
        if (!__atomic_compare_exchange_n(&nw->job, &posted, JOB_TAKEN, false,
                                         __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            continue;
        /* A main thread asleep until the take-back deadline: taken. */
        wake_main(nw);
        nw->fn(nw->arg);
        /* Release: the job's effects are visible before JOB_DONE. */
        __atomic_store_n(&nw->job, JOB_DONE, __ATOMIC_RELEASE);
        wake_main(nw);
        /* The client last: woken here, on its CPU, it may well preempt
         * us, and the main thread must not wait for that to end.  Its
         * area may be gone by now: a wake of a stale word is harmless
         * (EFAULT, or a spurious wake that every futex waiter allows). */
        wake = nw->wake;
        nw->wake = NULL;
        if (wake)
            futex_wake(wake);
    }
    return NULL;
}

/* Starts the worker of `cpu`, pinned there; false when it cannot be. */
static bool worker_start(int cpu)
{
    struct near_worker *nw = &workers[cpu];
    pthread_attr_t attr;
    cpu_set_t set;
    char name[16];
    int r;

    /* Only where the daemon may run: its affinity mask (taskset, say) is
     * the main thread's, restored by every move_away of callarea.c. */
    if (sched_getaffinity(0, sizeof(set), &set) < 0 || !CPU_ISSET(cpu, &set)) {
        xd_dbg("near copies: cpu %d is outside the daemon's affinity", cpu);
        nw->state = NEAR_FAILED;
        return false;
    }
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_attr_init(&attr) != 0)
        return false;
    nw->w = &page[cpu];
    /* Pinned from its first instruction: it never runs anywhere else.
     * Signals stay blocked: it inherits the main thread's mask, which
     * leaves them all to the signalfd. */
    r = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
    if (r == 0)
        r = pthread_create(&nw->th, &attr, worker_main, nw);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        xd_log("near copies: no worker on cpu %d: %s", cpu, strerror(r));
        nw->state = NEAR_FAILED;
        return false;
    }
    snprintf(name, sizeof(name), "xgd-near%d", cpu);
    pthread_setname_np(nw->th, name);
    nw->state = NEAR_RUNNING;
    xd_dbg("near copies: worker started on cpu %d", cpu);
    return true;
}

/* A futex sleep of the main thread on job (still v), at most ns. */
static void main_sleep(struct near_worker *nw, uint32_t v, uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};

    __atomic_store_n(&nw->main_waits, 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    syscall(SYS_futex, &nw->job, FUTEX_WAIT_PRIVATE, v, &ts, NULL, 0);
    __atomic_store_n(&nw->main_waits, 0, __ATOMIC_RELAXED);
}

/*
 * Until the worker has served the posted job: spins, then sleeps (until
 * the take-back deadline while the job is not taken: the worker wakes us
 * when it takes it, and when it is done).  true once it is done; false if
 * the worker had not taken it NEAR_TAKE_NS after it was posted: then it is
 * cancelled (the worker will not touch it) and the caller serves it.
 */
static bool wait_job(struct near_worker *nw)
{
    uint64_t start = xgw_now_ns(), spent = 0;
    uint32_t v, posted = JOB_POSTED;

    for (unsigned i = 1;; i++) {
        /* Acquire: pairs with the worker's release store of JOB_DONE. */
        v = __atomic_load_n(&nw->job, __ATOMIC_ACQUIRE);
        if (v == JOB_DONE)
            return true;
        if (i % 64) {
            xgw_cpu_relax();
            continue;
        }
        spent = xgw_now_ns() - start;
        if (v == JOB_POSTED && spent >= NEAR_TAKE_NS &&
            __atomic_compare_exchange_n(&nw->job, &posted, JOB_CANCELLED, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return false;
        if (spent > NEAR_WAIT_NS)
            main_sleep(nw, v,
                       v == JOB_POSTED && spent < NEAR_TAKE_NS
                           ? NEAR_TAKE_NS - spent
                           : NEAR_DONE_WAIT_NS);
        else
            xgw_cpu_relax();
    }
}

/* May the worker of cpu take a job now?  Starts it, or retries a start
 * that failed, once its back-off is over. */
static bool worker_ready(int cpu)
{
    struct near_worker *nw = &workers[cpu];

    if (nw->skip_until && xgw_now_ns() < nw->skip_until)
        return false;
    nw->skip_until = 0;
    if (nw->state == NEAR_RUNNING)
        return true;
    if (worker_start(cpu))
        return true;
    nw->state = NEAR_FAILED;
    nw->skip_until = xgw_now_ns() + NEAR_RETRY_NS;
    return false;
}

bool xd_near_on_worker(void)
{
    return self != NULL;
}

bool xd_near_run(int cpu, void (*fn)(void *), void *arg)
{
    struct near_worker *nw;

    if (!page || cpu < 0 || cpu >= (int)XGW_NEAR_CPUS || cpu == sched_getcpu())
        return false;
    if (!worker_ready(cpu))
        return false;
    nw = &workers[cpu];
    nw->fn = fn;
    nw->arg = arg;
    /* Release: the job (and the daemon's state) before JOB_POSTED. */
    __atomic_store_n(&nw->job, JOB_POSTED, __ATOMIC_RELEASE);
    __atomic_store_n(&nw->w->go, nw->w->go + 1, __ATOMIC_RELEASE);
    /* Orders the go store before the sleeping load (see worker_wait). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&nw->w->sleeping, __ATOMIC_RELAXED))
        futex_wake(&nw->w->go);
    if (wait_job(nw))
        return true;
    nw->skip_until = xgw_now_ns() + NEAR_BACKOFF_NS;
    xd_dbg("near copies: cpu %d busy, its worker skipped for a while", cpu);
    return false;
}
