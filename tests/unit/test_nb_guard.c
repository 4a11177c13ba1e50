/* SPDX-License-Identifier: MIT */
/*
 * test_nb_guard: netback's guarded copy (backend/netback/guard.c), what it
 * reads a frontend's mapped rx buffer with: from a page made inaccessible
 * (as a frontend's grant_protect makes it under netback) it returns
 * -EFAULT instead of the process dying, again and again; readable bytes
 * copy; a fault outside the guarded range still kills (in a child), and
 * still reaches the handler that was there before when the first guarded
 * copies of several threads race to install the guard (children again).
 * cmocka puts its own SIGSEGV handler back around each test, over the
 * one guard.c installs once: the guarded copies run in one test, after
 * the child's.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/netback/private.h"

static uint8_t *two_pages(void)
{
    uint8_t *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    assert_true(p != MAP_FAILED);
    memset(p, 0xab, 8192);
    return p;
}

static void test_other_fault_kills(void **state)
{
    int st;
    pid_t pid;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t *p = two_pages(), out[16];
        volatile uint8_t *q = p + 4096;

        signal(SIGSEGV, SIG_DFL);     /* as in netback, not cmocka's */
        nb_peek(out, p, sizeof(out)); /* the guard's handler in place */
        mprotect(p + 4096, 4096, PROT_NONE);
        (void)*q; /* not guarded: dies of SIGSEGV */
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
}

static pthread_barrier_t race_start;
static uint8_t *race_page;
static int race_slow;

/* guard.c's sigaction (linked with -Wl,--wrap=sigaction): slow while the
 * race runs, so the threads' installs overlap every time if they can. */
int __real_sigaction(int sig, const struct sigaction *sa,
                     struct sigaction *old);
int __wrap_sigaction(int sig, const struct sigaction *sa,
                     struct sigaction *old);
int __wrap_sigaction(int sig, const struct sigaction *sa, struct sigaction *old)
{
    if (race_slow)
        usleep(1000);
    return __real_sigaction(sig, sa, old);
}

static void *race_peek(void *arg)
{
    uint8_t out[16];

    (void)arg;
    pthread_barrier_wait(&race_start);
    nb_peek(out, race_page, sizeof(out)); /* each thread's first: installs */
    return NULL;
}

static void before_handler(int sig)
{
    (void)sig;
    _exit(42);
}

/* RACE_THREADS threads make their first guarded copy at once; then a
 * fault outside any guard must reach the handler installed before (exit
 * 42).  An install that ran twice saved guard.c's own handler as the one
 * before, which then called itself for ever (a tail call: it spins; the
 * child's alarm ends it). */
#define RACE_THREADS 8
#define RACE_ROUNDS  20
static void test_install_race(void **state)
{
    int r, st, bad = 0;

    (void)state;
    for (r = 0; r < RACE_ROUNDS; r++) {
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
            pthread_t t[RACE_THREADS];
            volatile uint8_t *q;
            int i;

            alarm(5);
            signal(SIGSEGV, before_handler);
            race_slow = 1;
            race_page = two_pages();
            pthread_barrier_init(&race_start, NULL, RACE_THREADS);
            for (i = 0; i < RACE_THREADS; i++)
                pthread_create(&t[i], NULL, race_peek, NULL);
            for (i = 0; i < RACE_THREADS; i++)
                pthread_join(t[i], NULL);
            mprotect(race_page + 4096, 4096, PROT_NONE);
            q = race_page + 4096;
            (void)*q;
            _exit(0);
        }
        assert_int_equal(waitpid(pid, &st, 0), pid);
        bad += !(WIFEXITED(st) && WEXITSTATUS(st) == 42);
    }
    assert_int_equal(bad, 0);
}

static void test_guarded(void **state)
{
    uint8_t *p = two_pages(), out[256];
    int i;

    (void)state;
    memset(out, 0, sizeof(out));
    assert_int_equal(nb_peek(out, p + 4000, sizeof(out)), 0);
    assert_int_equal(out[0], 0xab);
    assert_int_equal(out[255], 0xab);
    /* The second page protected: a copy reaching into it faults. */
    assert_int_equal(mprotect(p + 4096, 4096, PROT_NONE), 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(nb_peek(out, p + 4000, sizeof(out)), -EFAULT);
    assert_int_equal(nb_peek(out, p + 3000, 64), 0);
    /* Still caught after a good one. */
    assert_int_equal(nb_peek(out, p + 4096, 16), -EFAULT);
    munmap(p, 8192);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_other_fault_kills),
        cmocka_unit_test(test_install_race),
        cmocka_unit_test(test_guarded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
