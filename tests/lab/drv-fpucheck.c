/* SPDX-License-Identifier: MIT */
/*
 * drv-fpucheck.c: a process's vector registers must survive every context
 * switch (in dom0 and in the guest, drv-dom0.sh).  Several of these running
 * at once on the lab's vCPUs make Linux and Xen switch the FPU state back
 * and forth; a register that comes back with another process's or another
 * vCPU's bits is the corruption that killed the shells of the driver cases
 * (tests/lab/README.md: Xen's lazy FPU switching under QEMU 7.2's TCG).
 *
 *   drv-fpucheck SECONDS
 *
 * Each round loads a pattern of its own (pid, round) into xmm0-xmm7 with
 * legacy SSE moves and, when the CPU has AVX, into ymm8-ymm15 with VEX
 * moves, spins a while in the same asm block without touching them (a
 * switch may come), stores
 * them back and compares.  Prints "drv-fpucheck: N rounds, S SSE
 * mismatches, A AVX mismatches (avx yes|no)" and exits 0 when none, 1
 * otherwise, after SECONDS (at most 3600) or at SIGTERM or SIGINT.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

static void pattern(uint64_t *v, size_t n, uint64_t seed)
{
    size_t i;

    for (i = 0; i < n; i++) {
        uint64_t x = (seed + i) * 0x9e3779b97f4a7c15ull;

        v[i] = x ^ (x >> 29);
    }
}

/* xmm0-7 through legacy SSE encodings: 8 x 16 bytes. */
static int sse_round(uint64_t seed, unsigned long work)
{
    uint64_t in[16] __attribute__((aligned(16)));
    uint64_t out[16] __attribute__((aligned(16)));

    pattern(in, 16, seed);
    __asm__ volatile("movdqu 0(%2), %%xmm0\n\tmovdqu 16(%2), %%xmm1\n\t"
                     "movdqu 32(%2), %%xmm2\n\tmovdqu 48(%2), %%xmm3\n\t"
                     "movdqu 64(%2), %%xmm4\n\tmovdqu 80(%2), %%xmm5\n\t"
                     "movdqu 96(%2), %%xmm6\n\tmovdqu 112(%2), %%xmm7\n\t"
                     "1:\n\tdec %0\n\tjnz 1b\n\t"
                     "movdqu %%xmm0, 0(%1)\n\tmovdqu %%xmm1, 16(%1)\n\t"
                     "movdqu %%xmm2, 32(%1)\n\tmovdqu %%xmm3, 48(%1)\n\t"
                     "movdqu %%xmm4, 64(%1)\n\tmovdqu %%xmm5, 80(%1)\n\t"
                     "movdqu %%xmm6, 96(%1)\n\tmovdqu %%xmm7, 112(%1)\n\t"
                     : "+r"(work)
                     : "r"(out), "r"(in)
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                       "xmm7", "memory");
    return memcmp(in, out, sizeof(in)) != 0;
}

/* ymm8-15 through VEX encodings: 8 x 32 bytes. */
static int avx_round(uint64_t seed, unsigned long work)
{
    uint64_t in[32] __attribute__((aligned(32)));
    uint64_t out[32] __attribute__((aligned(32)));

    pattern(in, 32, seed);
    __asm__ volatile("vmovdqu 0(%2), %%ymm8\n\tvmovdqu 32(%2), %%ymm9\n\t"
                     "vmovdqu 64(%2), %%ymm10\n\tvmovdqu 96(%2), %%ymm11\n\t"
                     "vmovdqu 128(%2), %%ymm12\n\tvmovdqu 160(%2), %%ymm13\n\t"
                     "vmovdqu 192(%2), %%ymm14\n\tvmovdqu 224(%2), %%ymm15\n\t"
                     "1:\n\tdec %0\n\tjnz 1b\n\t"
                     "vmovdqu %%ymm8, 0(%1)\n\tvmovdqu %%ymm9, 32(%1)\n\t"
                     "vmovdqu %%ymm10, 64(%1)\n\tvmovdqu %%ymm11, 96(%1)\n\t"
                     "vmovdqu %%ymm12, 128(%1)\n\tvmovdqu %%ymm13, 160(%1)\n\t"
                     "vmovdqu %%ymm14, 192(%1)\n\tvmovdqu %%ymm15, 224(%1)\n\t"
                     "vzeroupper\n\t"
                     : "+r"(work)
                     : "r"(out), "r"(in)
                     : "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
                       "xmm14", "xmm15", "memory");
    return memcmp(in, out, sizeof(in)) != 0;
}

int main(int argc, char **argv)
{
    long secs = argc == 2 ? strtol(argv[1], NULL, 10) : 0;
    unsigned long rounds = 0, sse_bad = 0, avx_bad = 0;
    uint64_t seed = (uint64_t)getpid() << 32;
    int avx;
    time_t end;

    if (secs < 1 || secs > 3600) {
        fprintf(stderr, "usage: drv-fpucheck SECONDS(1..3600)\n");
        return 2;
    }
    __builtin_cpu_init();
    avx = __builtin_cpu_supports("avx");
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    end = time(NULL) + secs;
    while (!stop && time(NULL) < end) {
        unsigned long work = 20000 + (rounds % 7) * 10000;

        unsigned long was = sse_bad + avx_bad;

        sse_bad += sse_round(seed + rounds * 64, work);
        if (avx)
            avx_bad += avx_round(seed + rounds * 64 + 32, work);
        if (!was && sse_bad + avx_bad)
            fprintf(
                stderr,
                "drv-fpucheck: first mismatch after %ld s (round %lu, %s)\n",
                secs - (long)(end - time(NULL)), rounds,
                sse_bad ? "SSE" : "AVX");
        rounds++;
        if (rounds % 16 == 0)
            usleep(1000); /* give the vCPU away now and then */
    }
    printf("drv-fpucheck: %lu rounds, %lu SSE mismatches, %lu AVX mismatches "
           "(avx %s)\n",
           rounds, sse_bad, avx_bad, avx ? "yes" : "no");
    return sse_bad || avx_bad ? 1 : 0;
}
