/* SPDX-License-Identifier: MIT */
/*
 * guard.c: accesses to memory that may fault under us.
 * A frontend may protect the pages we map at any moment: a load or store
 * then faults.  nb_peek runs its copy (nb_writable its stores) with a
 * SIGSEGV/SIGBUS handler
 * that jumps back out of a fault inside the range it guards (SA_NODEFER
 * and no saved mask: no system call on the way); any other fault goes to
 * the handler that was there before, or kills us as it would have.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "private.h"

static __thread sigjmp_buf *guard_jb; /* the faulting thread's own */
static __thread const uint8_t *guard_lo, *guard_hi;
static struct sigaction old_segv, old_bus;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static int guard_err; /* the install's result, once it ran */

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    const uint8_t *a = si->si_addr;
    struct sigaction *old = sig == SIGBUS ? &old_bus : &old_segv;

    if (guard_jb && a >= guard_lo && a < guard_hi)
        siglongjmp(*guard_jb, 1);
    if (old->sa_flags & SA_SIGINFO) {
        old->sa_sigaction(sig, si, uc);
    } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
    } else {
        struct sigaction dfl = {.sa_handler = SIG_DFL};

        sigaction(sig, &dfl, NULL); /* the access runs again and kills us */
    }
}

/* Once per process, whichever thread guards first: two installs at once
 * would have the second save our own handler as the one "before" (a fault
 * outside every guard then calls on_fault from on_fault, for ever), and a
 * plain flag set after the install can be seen set before old_segv and
 * old_bus are written. */
static void guard_install_once(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv) < 0 ||
        sigaction(SIGBUS, &sa, &old_bus) < 0)
        guard_err = -errno;
}

static int guard_install(void)
{
    pthread_once(&guard_once, guard_install_once);
    return guard_err;
}

struct peek {
    void *dst;
    const void *src;
    size_t len;
};

static void peek_op(void *arg)
{
    const struct peek *k = arg;

    memcpy(k->dst, k->src, k->len);
}

/* Stores the first byte of each page of [p, p + len) back into it. */
static void poke_op(void *arg)
{
    const struct peek *k = arg;
    volatile uint8_t *p = k->dst, *end = p + k->len;

    while (p < end) {
        *p = *p;
        p = (volatile uint8_t *)(((uintptr_t)p | (NB_PAGE - 1)) + 1);
    }
}

/* Runs op(arg) with faults in [lo, lo + len) caught: 0 or -EFAULT. */
static int guarded(const void *lo, size_t len, void (*op)(void *), void *arg)
{
    sigjmp_buf jb;

    if (guard_install() < 0)
        return -EFAULT;
    if (sigsetjmp(jb, 0)) {
        guard_jb = NULL;
        return -EFAULT;
    }
    guard_lo = lo;
    guard_hi = (const uint8_t *)lo + len;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    guard_jb = &jb;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    op(arg);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    guard_jb = NULL;
    return 0;
}

int nb_peek(void *dst, const void *src, size_t len)
{
    struct peek k = {dst, src, len};

    return guarded(src, len, peek_op, &k);
}

int nb_writable(void *p, size_t len)
{
    struct peek k = {p, p, len};

    return guarded(p, len, poke_op, &k);
}
