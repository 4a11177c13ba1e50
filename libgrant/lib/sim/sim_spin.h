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

/*
 * How long to wait busily: the client's spin for an answer (sim_fast.c)
 * and the daemon's poll of the call areas (callarea.c), sim_wire.h's "How
 * long to spin and poll".  A pure policy, so that it can be tested on its
 * own (tests/unit/test_spin.c): the callers measure, this decides.
 *
 * `cur_ns` is the client's budget learned so far, in [min_ns, max_ns].
 * After each wait the client says how long the answer took after the wait
 * began and how long it was willing to spin: an answer caught by the spin
 * changes nothing; one that came after the spin gave up but within max_ns
 * doubles the budget (from min_ns): a longer spin would have saved a sleep
 * and a wake-up; one that came later than max_ns halves it: the other side
 * was not running, and the spin only took a CPU from someone else.  (KVM's
 * halt polling adapts its window the same way.)  But only when the spin
 * caught nothing since the last such lesson: in a stream of calls that
 * spinning serves well, one that comes late because the
 * other side was preempted says nothing about the next ones, and a budget
 * halved at every preemption would leave a loaded machine's streams
 * sleeping (and woken onto one CPU, two context switches a call).
 */
#define XGW_SPIN_MIN_NS 2000u /* a round trip is ~0.5 us */
/* With no free CPU a spin takes the CPU from a task that wants it: then
 * nobody spins longer than a sleep and a wake-up cost (the classic
 * spin-then-block bound), a few microseconds. */
#define XGW_SPIN_BUSY_NS 3000u

struct xgw_spin {
    uint32_t cur_ns, min_ns, max_ns;
    uint32_t hits; /* answers the spin caught since the last lesson */
};

static inline void xgw_spin_init(struct xgw_spin *s, uint32_t max_ns)
{
    s->max_ns = max_ns;
    s->min_ns = XGW_SPIN_MIN_NS < max_ns ? XGW_SPIN_MIN_NS : max_ns;
    s->cur_ns = max_ns;
    s->hits = 0;
}

/* The spin (poll) caught an answer (a request). */
static inline void xgw_spin_hit(struct xgw_spin *s)
{
    if (s->hits < UINT32_MAX)
        s->hits++;
}

/*
 * The client's spin budget for one answer.  `asleep`: the daemon sleeps
 * (the client rang the doorbell), so the answer needs a wake-up first;
 * `busy`: no CPU is free.  Both: no spin at all (the woken daemon needs a
 * CPU, maybe this one).  An awake daemon's answer comes within a
 * microsecond unless it was preempted, and then the learned budget is
 * what bounds the waste (a shorter cap would put the client to sleep at
 * every hiccup of a stream, and the wake-up onto the daemon's CPU, where
 * each call then costs two context switches).
 */
static inline uint32_t xgw_spin_budget(const struct xgw_spin *s, int asleep,
                                       int busy)
{
    return asleep && busy ? 0 : s->cur_ns;
}

/*
 * The daemon's poll window after a request: `max_ns` (--poll-us), but
 * XGW_SPIN_BUSY_NS while no CPU is free, unless the request came while it
 * polled (`streaming`: the next one is likely as close).  A request that
 * came after a sleep, on a busy machine, is sparse traffic, and polling
 * for it would take a CPU from a task that wants it.
 */
static inline uint32_t xgw_poll_window(uint32_t max_ns, int busy, int streaming)
{
    return busy && !streaming && max_ns > XGW_SPIN_BUSY_NS ? XGW_SPIN_BUSY_NS
                                                           : max_ns;
}

/* After a wait that spun up to `budget_ns` (what xgw_spin_budget gave):
 * the answer came `waited_ns` after the wait began. */
static inline void xgw_spin_learn(struct xgw_spin *s, uint64_t waited_ns,
                                  uint32_t budget_ns)
{
    uint64_t more = 2ull * s->cur_ns;
    uint32_t hits = s->hits;

    if (waited_ns <= budget_ns) {
        xgw_spin_hit(s);
        return;
    }
    if (!budget_ns)
        return; /* a wait that did not try to spin */
    s->hits = 0;
    if (waited_ns <= s->max_ns) {
        more = more > s->min_ns ? more : s->min_ns;
        s->cur_ns = (uint32_t)(more < s->max_ns ? more : s->max_ns);
    } else if (!hits) {
        s->cur_ns /= 2;
        if (s->cur_ns < s->min_ns)
            s->cur_ns = s->min_ns;
    }
}

#endif /* SIM_SPIN_H */
