/* SPDX-License-Identifier: MIT */
/*
 * self.c: the caller's pid without a system call on every libgrant call.
 *
 * Every call checks that it runs in the process that opened the handle
 * (lg_forked: after fork() the child's calls answer -EBADF).  Asking the
 * kernel each time cost a getpid per call, several per block I/O.  The pid
 * is read once and kept in a page of its own marked MADV_WIPEONFORK: the
 * kernel hands a forked child that page zeroed, whatever made the child
 * (fork, _Fork, a raw clone without CLONE_VM: none escapes), and the next
 * call there reads the child's pid afresh.  A pthread_atfork child handler
 * clears it too, for a kernel without MADV_WIPEONFORK (before Linux 4.14),
 * where then only children made by fork() are seen.  Without the page
 * (mmap failed) every call asks the kernel, as before.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "private.h"

static pid_t *self_pid; /* in the wipe-on-fork page; NULL: ask each time */
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_forget(void)
{
    if (self_pid)
        __atomic_store_n(self_pid, 0, __ATOMIC_RELAXED);
}

static void self_setup(void)
{
    long page = sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int wiped, hooked;

    if (p == MAP_FAILED)
        return;
    wiped = madvise(p, (size_t)page, MADV_WIPEONFORK) == 0;
    hooked = pthread_atfork(NULL, NULL, self_forget) == 0;
    if (!wiped && !hooked) {
        munmap(p, (size_t)page);
        return;
    }
    self_pid = p;
}

pid_t lg_self_pid(void)
{
    pid_t pid;

    pthread_once(&self_once, self_setup);
    if (!self_pid)
        return getpid();
    pid = __atomic_load_n(self_pid, __ATOMIC_RELAXED);
    if (!pid) {
        pid = getpid();
        __atomic_store_n(self_pid, pid, __ATOMIC_RELAXED);
    }
    return pid;
}
