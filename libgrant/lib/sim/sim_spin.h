/* SPDX-License-Identifier: MIT */
/*
 * sim_spin.h: the two primitives both ends of the call area spin with
 * (libgrant/lib/sim/sim_fast.c, tools/xgrantd/callarea.c).
 */
#ifndef SIM_SPIN_H
#define SIM_SPIN_H

#include <stdint.h>
#include <time.h>

static inline uint64_t xgw_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A polite busy-wait step: lets the sibling hyperthread run. */
static inline void xgw_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#else
    __asm__ volatile("" ::: "memory");
#endif
}

#endif /* SIM_SPIN_H */
