/* SPDX-License-Identifier: MIT */
/*
 * drv-forkstress.c: copy-on-write checked across fork, in dom0 and in the
 * guest (drv-dom0.sh).  A lost TLB flush or a page-table entry written
 * without its flush shows as a child that sees its parent's memory change
 * after the fork, or a parent whose writes after the fork land in a page
 * its child still reads (the corruption the shells of the driver cases
 * died of: tests/lab/README.md).
 *
 *   drv-forkstress SECONDS [MIB]
 *
 * Each round the parent writes a new generation into every page of MIB MiB
 * (default 4), forks, and at once writes the next generation into every
 * page while the child checks that it sees exactly the generation of the
 * fork in every page and an untouched page pattern (then mallocs, fills
 * and frees a little, and exits 1 on a mismatch).  The parent then checks
 * its own pages hold what it wrote.  Prints "drv-forkstress: N forks, B
 * bad children, C children killed by a signal, P parent mismatches" and
 * exits 0 when all are 0, 1 otherwise, after SECONDS (at most 3600) or at
 * SIGTERM or SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORDS_PER_PAGE 512
#define CHECKED        8 /* words checked/written per page (spread over it) */

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t val(uint64_t gen, size_t page, unsigned k)
{
    uint64_t x = (gen << 32) ^ ((uint64_t)page << 8) ^ k;

    x *= 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 31);
}

static void fill(uint64_t *m, size_t pages, uint64_t gen)
{
    size_t p;
    unsigned k;

    for (p = 0; p < pages; p++)
        for (k = 0; k < CHECKED; k++)
            m[p * WORDS_PER_PAGE + k * (WORDS_PER_PAGE / CHECKED)] =
                val(gen, p, k);
}

/* The number of pages whose words are not generation GEN's. */
static size_t diff(const uint64_t *m, size_t pages, uint64_t gen,
                   const char *who)
{
    size_t p, bad = 0;
    unsigned k;

    for (p = 0; p < pages; p++)
        for (k = 0; k < CHECKED; k++) {
            uint64_t got =
                m[p * WORDS_PER_PAGE + k * (WORDS_PER_PAGE / CHECKED)];

            if (got == val(gen, p, k))
                continue;
            if (bad++ < 4)
                fprintf(stderr,
                        "drv-forkstress: %s: page %zu word %u: 0x%016llx, "
                        "want generation %llu (0x%016llx; next 0x%016llx)\n",
                        who, p, k, (unsigned long long)got,
                        (unsigned long long)gen,
                        (unsigned long long)val(gen, p, k),
                        (unsigned long long)val(gen + 1, p, k));
            break;
        }
    return bad;
}

static int child(const uint64_t *m, const uint64_t *still, size_t pages,
                 uint64_t gen)
{
    size_t bad = diff(m, pages, gen, "child") + diff(still, 16, 0, "child");
    unsigned i;

    for (i = 0; i < 32; i++) {
        size_t n = 64 + (size_t)(i * 977 % 20000);
        char *p = malloc(n);

        if (!p)
            return 1;
        memset(p, (int)i, n);
        if (p[n - 1] != (char)i)
            bad++;
        free(p);
    }
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    long secs = argc >= 2 ? strtol(argv[1], NULL, 10) : 0;
    long mib = argc >= 3 ? strtol(argv[2], NULL, 10) : 4;
    unsigned long forks = 0, bad = 0, killed = 0, mismatch = 0;
    uint64_t *m, *still, gen = 1;
    size_t pages;
    time_t end;

    if (secs < 1 || secs > 3600 || mib < 1 || mib > 256) {
        fprintf(stderr,
                "usage: drv-forkstress SECONDS(1..3600) [MIB(1..256)]\n");
        return 2;
    }
    pages = (size_t)mib * 256;
    m = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    still = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || still == MAP_FAILED) {
        perror("drv-forkstress: mmap");
        return 1;
    }
    fill(still, 16, 0);
    fill(m, pages, gen);
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    end = time(NULL) + secs;
    while (!stop && time(NULL) < end) {
        int st;
        pid_t pid = fork();

        if (pid < 0) {
            perror("drv-forkstress: fork");
            sleep(1);
            continue;
        }
        if (pid == 0) {
            signal(SIGTERM, SIG_DFL);
            _exit(child(m, still, pages, gen));
        }
        forks++;
        fill(m, pages, gen + 1); /* copy-on-write while the child reads */
        while (waitpid(pid, &st, 0) != pid) {
            if (errno == EINTR)
                continue; /* SIGTERM: the child still ends */
            perror("drv-forkstress: waitpid");
            return 1;
        }
        if (WIFSIGNALED(st)) {
            killed++;
            fprintf(stderr, "drv-forkstress: child killed by signal %d\n",
                    WTERMSIG(st));
        } else if (WEXITSTATUS(st) != 0) {
            bad++;
        }
        gen++;
        if (diff(m, pages, gen, "parent") || diff(still, 16, 0, "parent")) {
            mismatch++;
            fill(still, 16, 0);
            fill(m, pages, gen);
        }
    }
    printf("drv-forkstress: %lu forks, %lu bad children, %lu children killed "
           "by a signal, %lu parent mismatches\n",
           forks, bad, killed, mismatch);
    return bad || killed || mismatch ? 1 : 0;
}
