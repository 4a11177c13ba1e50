/* SPDX-License-Identifier: MIT */
/*
 * testhost.h: a user-space host for libgrant/core (gcore_host.h), for the
 * unit tests and for benchmarks that drive the core directly.
 *
 * A domain's memory is a calloc'd buffer; its gcore_dom_add cookie is the
 * struct th_dom below.  The host records every gh_unmap_notify, counts lock
 * and frame get/put balance and live allocations, and can make gh_frame or
 * gh_zalloc fail on demand.  The lock is one real rwlock for every instance
 * in the process, so several threads may share a core; nested locking is
 * detected (and not deadlocked on).  Counters are process-wide too;
 * th_reset() clears them.
 */
#ifndef TESTHOST_H
#define TESTHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TH_NO_FAIL UINT64_MAX

/* A domain's memory: the cookie to pass to gcore_dom_add. */
struct th_dom {
    uint64_t nr_frames;
    uint8_t *mem;      /* nr_frames * GNTX_PAGE_SIZE bytes, zeroed */
    uint64_t fail_gfn; /* gh_frame of this gfn returns NULL; TH_NO_FAIL */
    /* gh_frame sleeps this long first (a slow copy), and counts. */
    unsigned frame_delay_us;
    unsigned long frames_got;
    /* Host memory the core charged to it (gh_dom_charge), refused past
     * charge_limit (0: no limit); a charge that does not start from
     * `charged` counts as a bad frame (th_balanced fails). */
    uint64_t charged, charge_limit;
};

/* NULL on allocation failure.  th_dom_free is NULL-safe. */
struct th_dom *th_dom_new(uint64_t nr_frames);
void th_dom_free(struct th_dom *d);
/* Byte `addr` of the domain's guest-physical memory. */
uint8_t *th_dom_mem(struct th_dom *d, uint64_t addr);
/* gh_frame(d, gfn) fails from now on (TH_NO_FAIL: never). */
void th_fail_frame(struct th_dom *d, uint64_t gfn);

/* gh_map_made calls so far; the (n+1)th from now answers -GNTX_ENOMEM
 * (n < 0: none). */
unsigned long th_map_made(void);
long th_map_made_depth(void); /* 1: the core lock (either mode) was held at
                                the last call */
/* What the last gh_map_made was told: first and last frame, pages, rdonly. */
void th_map_made_last(uint64_t *first, uint64_t *last, uint64_t *npages,
                      int *rdonly);
void th_fail_map_made(long n);

/* gh_unmap_notify log, in call order. */
struct th_notify {
    void *mapper_cookie;
    uint16_t owner;
    uint32_t handle;
};
size_t th_notify_count(void);
const struct th_notify *th_notify_at(size_t i);
/* Whether (mapper, handle) was notified. */
bool th_notified(void *mapper_cookie, uint32_t handle);
void th_notify_reset(void);

/* Page-protection hooks: gh_map_restrict calls (the last TH_RESTRICT_LOG
 * kept, all counted), gh_fault_notify and gh_dom_kill calls. */
#define TH_RESTRICT_LOG 256
struct th_restrict {
    void *mapper_cookie;
    uint16_t owner;
    uint32_t handle;
    uint64_t first, npages;
    unsigned access;
};
size_t th_restrict_count(void);
const struct th_restrict *th_restrict_at(size_t i); /* NULL past the log */
unsigned long th_fault_notifies(void);
uint32_t th_fault_last_port(void);
unsigned long th_kills(void);
void *th_kill_last(void);
/* gh_dom_exempt answers 1 for this domain cookie only (NULL: none). */
void th_set_exempt(void *cookie);
/* gh_may_use refuses who's uses of owner's memory (NULL, NULL: none);
 * th_denied_rights: the rights of the last refused use. */
void th_deny_use(void *who, void *owner);
unsigned th_denied_rights(void);
/* gh_may_use sleeps `us` (0: not), then, until a second call has been in it
 * at once, waits for one (3 s in all since th_use_delay, so a thread the
 * scheduler runs late still meets the other); th_use_overlap says how many
 * calls were in it at once at most since (the core's validation under the
 * lock held shared overlaps on several threads). */
void th_use_delay(unsigned us);
long th_use_overlap(void);

/* Balance: 0 locks held, no frame outstanding, no nested lock, no
 * gh_frame of a frame outside the domain, no gh_memcpy of overlapping
 * ranges. */
bool th_balanced(void);
long th_lock_depth(void);
unsigned long th_lock_calls(void);
unsigned long th_nested_locks(void);
long th_frames_out(void);
unsigned long th_bad_frames(void);
unsigned long th_overlaps(void);

/* Allocations made through gh_zalloc and not yet freed. */
long th_allocs_live(void);
/* The (n+1)th gh_zalloc from now fails, and only it; n < 0: none. */
void th_fail_alloc_after(long n);

/* Clears the notify log and every counter but th_allocs_live. */
void th_reset(void);

/*
 * Meeting under the core's locks: once armed, a thread that called
 * th_meet_me(true) waits in gh_zalloc, gh_free, gh_may_use and
 * gh_dom_charge (hooks the core calls with the locks of the domains it
 * works on held) until `want` such threads are inside one of them at
 * once, or timeout_ms passed (counted in th_meet_timeouts).  th_met: the
 * most that were inside at once.  Causal, not timed: threads that hold
 * one lock between them never meet, whatever the machine's load.
 * th_meet_arm(0, 0) disarms (th_reset does).
 */
void th_meet_arm(long want, unsigned timeout_ms);
void th_meet_me(bool on);
long th_met(void);
unsigned long th_meet_timeouts(void);

#endif /* TESTHOST_H */
