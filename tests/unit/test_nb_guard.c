/* SPDX-License-Identifier: MIT */
/*
 * test_nb_guard: netback's guarded copy (backend/netback/guard.c), what it
 * reads a frontend's mapped rx buffer with: from a page made inaccessible
 * (as a frontend's grant_protect makes it under netback) it returns
 * -EFAULT instead of the process dying, again and again; readable bytes
 * copy; a fault outside the guarded range still kills (in a child).
 * cmocka puts its own SIGSEGV handler back around each test, over the
 * one guard.c installs once: the guarded copies run in one test, after
 * the child's.
 */
#include <errno.h>
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
        cmocka_unit_test(test_guarded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
