/* SPDX-License-Identifier: MIT */
/*
 * protect_own: a domain's own accesses to its protected pages under
 * xgrantd (libgrant's mprotect + SIGSEGV handler).  This program is
 * domain 0; a child domain running this binary in the "ownkill" role
 * covers KILL.
 *   - writing a read-only NOTIFY page runs the registered handler with the
 *     right address, and GRANT_FAULT_OPEN lets the write proceed;
 *   - LOG: the write proceeds, one record reaches grant_fault_dispatch;
 *   - DENY, and NOTIFY answered STOP: the process dies of SIGSEGV;
 *   - a fault outside domain memory goes to the handler that was there;
 *   - the domain's own hypervisor copies obey its protections;
 *   - KILL: the domain is destroyed.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/itest.h"

#define PG 4096

static volatile sig_atomic_t calls;
static struct grant_fault seen;
static int report_fd = -1;

static int on_fault(const struct grant_fault *f, void *arg)
{
    (void)arg;
    seen = *f;
    calls++;
    if (report_fd >= 0) /* async-signal-safe: tell the parent */
        (void)!write(report_fd, "h", 1);
    return f->cookie == 77 ? GRANT_FAULT_OPEN : GRANT_FAULT_STOP;
}

static sigjmp_buf prev_jmp;
static volatile sig_atomic_t prev_calls;

static void prev_handler(int sig)
{
    (void)sig;
    prev_calls++;
    siglongjmp(prev_jmp, 1);
}

/* Runs fn in a child; its wait status. */
static int in_child(void (*fn)(uint8_t *), uint8_t *p)
{
    pid_t pid = fork();
    int st = -1;

    if (pid == 0) {
        fn(p);
        _exit(0);
    }
    waitpid(pid, &st, 0);
    return st;
}

static void write_page2(uint8_t *p)
{
    p[2 * PG] = 1;
}

static void notify_case(grant_handle_t *h, uint8_t *p, uint64_t gpa)
{
    ICHECK(grant_protect(h, p, PG, GRANT_ACC_R, GRANT_ACT_NOTIFY, 77) == 0,
           "page 0 read-only, NOTIFY");
    ICHECK(p[5] == 0 && calls == 0, "reading it faults nothing");
    p[100] = 42;
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* the handler wrote `seen` */
    ICHECK(calls == 1, "writing it ran the handler once (%d)", (int)calls);
    ICHECK(seen.addr == p + 100 && seen.gpa == gpa + 100,
           "with the faulting address (%p, gpa 0x%llx)", seen.addr,
           (unsigned long long)seen.gpa);
    ICHECK(seen.access == GRANT_ACC_W && seen.cookie == 77 &&
               seen.via == GRANT_VIA_CPU && seen.dom == 0 &&
               seen.action == GRANT_ACT_NOTIFY,
           "a write, the cookie, CPU, NOTIFY (access %u cookie %llu via %u "
           "dom %u action %u)",
           seen.access, (unsigned long long)seen.cookie, seen.via, seen.dom,
           seen.action);
    ICHECK(p[100] == 42, "GRANT_FAULT_OPEN let the write proceed");
}

static void log_case(grant_handle_t *h, uint8_t *p, uint64_t gpa)
{
    int n;

    ICHECK(grant_protect(h, p + PG, PG, GRANT_ACC_R, GRANT_ACT_LOG, 88) == 0,
           "page 1 read-only, LOG");
    calls = 0;
    p[PG + 7] = 9;
    p[PG + 8] = 10;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    ICHECK(calls == 0 && p[PG + 7] == 9 && p[PG + 8] == 10,
           "LOG: the writes proceed, no handler in the signal");
    n = grant_fault_dispatch(h);
    ICHECK(n == 1 && calls == 1 && seen.action == GRANT_ACT_LOG &&
               seen.gpa == gpa + PG + 7 && seen.cookie == 88,
           "one record (the page opened at the first write) dispatched "
           "(n %d)",
           n);
}

static void deny_cases(grant_handle_t *h, uint8_t *p)
{
    int st, fds[2];
    char c = 0;

    ICHECK(grant_protect(h, p + 2 * PG, PG, GRANT_ACC_R, GRANT_ACT_DENY, 1) ==
               0,
           "page 2 read-only, DENY");
    st = in_child(write_page2, p);
    ICHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
           "DENY: a write dies of SIGSEGV (status 0x%x)", st);
    ICHECK(p[2 * PG] == 0, "and did not land");
    ICHECK(grant_protect(h, p + 2 * PG, PG, GRANT_ACC_R, GRANT_ACT_NOTIFY,
                         66) == 0,
           "page 2 read-only, NOTIFY (the handler says STOP)");
    ICHECK(pipe(fds) == 0, "pipe");
    report_fd = fds[1];
    st = in_child(write_page2, p);
    report_fd = -1;
    close(fds[1]);
    ICHECK(read(fds[0], &c, 1) == 1 && c == 'h',
           "the child's handler ran before it died");
    close(fds[0]);
    ICHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
           "STOP: the default SIGSEGV action (status 0x%x)", st);
}

/* A SIGSEGV that the kernel did not raise for a fault (sigqueue'd, with
 * si_addr forged to a LOG page) is not a protection fault: it goes to the
 * earlier handler and logs nothing (a LOG fault would open the page). */
static void forged_case(grant_handle_t *h, uint8_t *p)
{
    uint8_t *page = p + 3 * PG;
    siginfo_t si;

    ICHECK(grant_protect(h, page, PG, GRANT_ACC_R, GRANT_ACT_LOG, 55) == 0,
           "page 3 read-only, LOG");
    memset(&si, 0, sizeof(si));
    si.si_signo = SIGSEGV;
    si.si_code = SI_QUEUE;
    si.si_addr = page + 8;
    prev_calls = 0;
    calls = 0;
    if (sigsetjmp(prev_jmp, 1) == 0)
        syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid),
                SIGSEGV, &si);
    ICHECK(prev_calls == 1, "a sigqueue'd SIGSEGV reached the earlier handler");
    ICHECK(grant_fault_dispatch(h) == 0 && calls == 0,
           "and was not taken for a fault on the page");
    ICHECK(grant_protect(h, page, PG, GRANT_ACC_RWX, GRANT_ACT_DENY, 0) == 0,
           "page 3 unprotected");
}

static void chain_case(void)
{
    uint8_t *q = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    prev_calls = 0;
    if (sigsetjmp(prev_jmp, 1) == 0)
        q[0] = 1;
    ICHECK(prev_calls == 1,
           "a fault outside domain memory reached the earlier handler");
    munmap(q, PG);
}

static void copy_case(grant_handle_t *h, uint8_t *p)
{
    struct grant_copy_seg seg = {.src = {.local = 1, .ptr = p + 3 * PG},
                                 .dst = {.local = 1, .ptr = p + 2 * PG},
                                 .len = 16};
    struct grant_fault_stats s;
    int n = grant_copy(h, &seg, 1), rc;

    ICHECK(n == 0 && seg.status == -EACCES,
           "the hypervisor's own copy into a read-only page: EACCES "
           "(n %d status %d)",
           n, seg.status);
    rc = grant_fault_stats(h, 0, &s);
    ICHECK(rc == 0 && s.own_reported >= 3 && s.caused >= 1,
           "own faults counted (rc %d own %llu caused %llu)", rc,
           (unsigned long long)s.own_reported, (unsigned long long)s.caused);
}

static void kill_case(grant_handle_t *dom0)
{
    char *argv[] = {itest_self(), "ownkill", NULL};
    struct itest_agent a;
    int st;

    itest_spawn_argv(dom0, &a, "ownkill", 16, argv);
    st = grant_ctl_domain_wait(dom0, a.domid);
    ICHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
           "KILL: the domain that wrote its KILL page is gone (status 0x%x)",
           st);
    itest_agent_close(&a);
}

/* The "ownkill" role, inside a domain. */
static int ownkill(void)
{
    grant_handle_t *h;
    void *p;

    if (grant_open(&h, 0) < 0 || grant_mem_alloc(h, 1, &p) < 0 ||
        grant_protect(h, p, PG, GRANT_ACC_R, GRANT_ACT_KILL, 3) < 0)
        return 2;
    ((volatile uint8_t *)p)[0] = 1;
    return 3; /* not reached */
}

int main(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = prev_handler};
    grant_handle_t *dom0;
    uint64_t gpa;
    void *mem;
    int fd;

    if (argc == 2 && !strcmp(argv[1], "ownkill"))
        return ownkill();
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    itest_setup(&dom0);
    ICHECK(grant_mem_alloc(dom0, 4, &mem) == 0 &&
               grant_gpa(dom0, mem, &gpa) == 0,
           "own memory");
    ICHECK(grant_fault_ring_bind(dom0, &fd) == 0, "fault ring bound");
    grant_fault_set_handler(dom0, on_fault, NULL);
    notify_case(dom0, mem, gpa);
    log_case(dom0, mem, gpa);
    deny_cases(dom0, mem);
    chain_case();
    forged_case(dom0, mem);
    copy_case(dom0, mem);
    kill_case(dom0);
    itest_teardown(dom0);
    return itest_done();
}
