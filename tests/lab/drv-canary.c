/* SPDX-License-Identifier: MIT */
/*
 * drv-canary.c: memory nobody may write, watched while the driver cases
 * run (drv-dom0.sh, in dom0 and in the guest).  A backend or frontend
 * that writes through a stale or wrong frame lands in some other page of
 * its domain; this program holds MIB MiB of locked pages of a known
 * pattern and checks them every SECONDS.
 *
 *   drv-canary MIB SECONDS
 *
 * Each changed 8-byte word is reported (at most 8 lines a check) with its
 * page's frame number (/proc/self/pagemap) and 32 bytes from the start of
 * the change, then put back.  On SIGTERM or SIGINT it prints
 * "drv-canary: N MiB, K checks, W words changed" and exits 0 when none
 * changed, 1 otherwise.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t want(size_t i)
{
    uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ull;

    return x ^ (x >> 29) ^ 0x5a5a000000000000ull;
}

static uint64_t frame_of(const void *p)
{
    uint64_t e = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY);

    if (fd >= 0) {
        if (pread(fd, &e, 8, (off_t)((uintptr_t)p / 4096 * 8)) != 8)
            e = 0;
        close(fd);
    }
    return e & ((1ull << 55) - 1);
}

static unsigned long check(uint64_t *m, size_t n)
{
    unsigned long bad = 0;
    size_t i, j;

    for (i = 0; i < n; i++) {
        if (m[i] == want(i))
            continue;
        if (bad++ < 8) {
            const uint8_t *b = (const uint8_t *)&m[i];

            fprintf(
                stderr,
                "drv-canary: changed at byte %zu (page %zu, frame 0x%llx): ",
                i * 8, i * 8 / 4096, (unsigned long long)frame_of(&m[i]));
            for (j = 0; j < 32 && i * 8 + j < n * 8; j++)
                fprintf(stderr, "%02x", b[j]);
            fprintf(stderr, "\n");
        }
        m[i] = want(i);
    }
    return bad;
}

int main(int argc, char **argv)
{
    unsigned long mib = argc == 3 ? strtoul(argv[1], NULL, 10) : 0;
    unsigned secs = argc == 3 ? (unsigned)strtoul(argv[2], NULL, 10) : 0;
    unsigned long checks = 0, bad = 0;
    size_t n, i;
    uint64_t *m;

    if (mib < 1 || mib > 1024 || secs < 1) {
        fprintf(stderr, "usage: drv-canary MIB(1..1024) SECONDS\n");
        return 2;
    }
    n = (size_t)mib << 17; /* 8-byte words */
    m = mmap(NULL, n * 8, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (m == MAP_FAILED) {
        perror("drv-canary: mmap");
        return 1;
    }
    mlock(m, n * 8);
    for (i = 0; i < n; i++)
        m[i] = want(i);
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    while (!stop) {
        sleep(secs);
        bad += check(m, n);
        checks++;
    }
    bad += check(m, n);
    checks++;
    printf("drv-canary: %lu MiB, %lu checks, %lu words changed\n", mib, checks,
           bad);
    return bad ? 1 : 0;
}
