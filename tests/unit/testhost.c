/* SPDX-License-Identifier: MIT */
/*
 * testhost.c: gcore_host.h for user space tests and benchmarks.
 * See testhost.h.
 */
#include "tests/unit/testhost.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gcore_host.h"
#include "grant_abi.h"

static pthread_rwlock_t core_lock = PTHREAD_RWLOCK_INITIALIZER;
static __thread int lock_held;
static long lock_depth;
static unsigned long lock_calls, nested_locks;
static long frames_out, allocs_live, alloc_fail_in = -1;
static unsigned long bad_frames, overlaps;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct th_notify *log_v;
static size_t log_n, log_cap;

struct th_dom *th_dom_new(uint64_t nr_frames)
{
    struct th_dom *d = calloc(1, sizeof(*d));

    if (!d)
        return NULL;
    d->nr_frames = nr_frames;
    d->fail_gfn = TH_NO_FAIL;
    d->mem = calloc(nr_frames ? nr_frames : 1, GNTX_PAGE_SIZE);
    if (!d->mem) {
        free(d);
        return NULL;
    }
    return d;
}

void th_dom_free(struct th_dom *d)
{
    if (!d)
        return;
    free(d->mem);
    free(d);
}

uint8_t *th_dom_mem(struct th_dom *d, uint64_t addr)
{
    return d->mem + addr;
}

void th_fail_frame(struct th_dom *d, uint64_t gfn)
{
    d->fail_gfn = gfn;
}

/* th_meet (testhost.h): the threads that asked wait in the hooks below
 * until `meet_want` of them are inside at once, or meet_ms passed. */
static __thread bool meet_me;
static long meet_want, meet_now, meet_max;
static unsigned meet_ms;
static unsigned long meet_timeouts;

static double meet_clock_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void meet(void)
{
    long now, max;
    double until;

    if (!meet_me || !__atomic_load_n(&meet_want, __ATOMIC_RELAXED))
        return;
    now = __atomic_add_fetch(&meet_now, 1, __ATOMIC_SEQ_CST);
    max = __atomic_load_n(&meet_max, __ATOMIC_SEQ_CST);
    while (now > max &&
           !__atomic_compare_exchange_n(&meet_max, &max, now, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        ;
    until = meet_clock_ms() + meet_ms;
    while (__atomic_load_n(&meet_max, __ATOMIC_SEQ_CST) < meet_want) {
        if (meet_clock_ms() > until) {
            __atomic_add_fetch(&meet_timeouts, 1, __ATOMIC_RELAXED);
            break;
        }
        usleep(100);
    }
    __atomic_sub_fetch(&meet_now, 1, __ATOMIC_SEQ_CST);
}

void th_meet_arm(long want, unsigned timeout_ms)
{
    meet_ms = timeout_ms;
    __atomic_store_n(&meet_now, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&meet_max, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&meet_timeouts, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&meet_want, want, __ATOMIC_SEQ_CST);
}

void th_meet_me(bool on)
{
    meet_me = on;
}

long th_met(void)
{
    return __atomic_load_n(&meet_max, __ATOMIC_SEQ_CST);
}

unsigned long th_meet_timeouts(void)
{
    return __atomic_load_n(&meet_timeouts, __ATOMIC_RELAXED);
}

void *gh_zalloc(size_t size)
{
    void *p;

    meet();
    if (__atomic_load_n(&alloc_fail_in, __ATOMIC_RELAXED) >= 0 &&
        __atomic_fetch_sub(&alloc_fail_in, 1, __ATOMIC_RELAXED) == 0)
        return NULL;
    p = calloc(1, size ? size : 1);
    if (p)
        __atomic_add_fetch(&allocs_live, 1, __ATOMIC_RELAXED);
    return p;
}

void gh_free(void *p)
{
    if (!p)
        return;
    meet();
    __atomic_sub_fetch(&allocs_live, 1, __ATOMIC_RELAXED);
    free(p);
}

void gh_memcpy(void *dst, const void *src, size_t n)
{
    uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;

    /* memcpy's contract: an overlap is the core's bug (UB in any host). */
    if (n && (d < s ? s - d : d - s) < n) {
        __atomic_add_fetch(&overlaps, 1, __ATOMIC_RELAXED);
        memmove(dst, src, n);
        return;
    }
    memcpy(dst, src, n);
}

void gh_memset(void *dst, int c, size_t n)
{
    memset(dst, c, n);
}

void gh_lock(struct gcore *core)
{
    (void)core;
    if (lock_held) {
        __atomic_add_fetch(&nested_locks, 1, __ATOMIC_RELAXED);
        return;
    }
    pthread_rwlock_wrlock(&core_lock);
    lock_held = 1;
    lock_depth++;
    lock_calls++;
}

void gh_unlock(struct gcore *core)
{
    (void)core;
    if (lock_held != 1) {
        __atomic_add_fetch(&nested_locks, 1, __ATOMIC_RELAXED);
        return;
    }
    lock_depth--;
    lock_held = 0;
    pthread_rwlock_unlock(&core_lock);
}

/* Shared holders are not counted in lock_depth (several at once). */
void gh_lock_shared(struct gcore *core)
{
    (void)core;
    if (lock_held) {
        __atomic_add_fetch(&nested_locks, 1, __ATOMIC_RELAXED);
        return;
    }
    pthread_rwlock_rdlock(&core_lock);
    lock_held = 2;
}

void gh_unlock_shared(struct gcore *core)
{
    (void)core;
    if (lock_held != 2) {
        __atomic_add_fetch(&nested_locks, 1, __ATOMIC_RELAXED);
        return;
    }
    lock_held = 0;
    pthread_rwlock_unlock(&core_lock);
}

void gh_relax(void)
{
    sched_yield();
}

void *gh_frame(void *cookie, uint64_t gfn, int write)
{
    struct th_dom *d = cookie;

    (void)write;
    if (!d || gfn >= d->nr_frames) {
        __atomic_add_fetch(&bad_frames, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    if (gfn == d->fail_gfn)
        return NULL;
    if (d->frame_delay_us)
        usleep(d->frame_delay_us);
    __atomic_add_fetch(&d->frames_got, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&frames_out, 1, __ATOMIC_RELAXED);
    return d->mem + gfn * GNTX_PAGE_SIZE;
}

void gh_frame_put(void *cookie, void *va)
{
    (void)cookie;
    if (va)
        __atomic_sub_fetch(&frames_out, 1, __ATOMIC_RELAXED);
}

static unsigned long map_made;
static long map_made_fail = -1, map_made_depth;
static uint64_t map_made_first, map_made_last, map_made_npages;
static int map_made_rdonly;

int gh_map_made(void *mapper_cookie, uint16_t owner, uint32_t handle,
                uint64_t frame_idx, const uint64_t *frames, uint64_t npages,
                int rdonly)
{
    int rc = 0;

    (void)mapper_cookie, (void)owner, (void)handle, (void)frame_idx;
    /* Domains' MAPs run at once (libgrant/core/lock.c). */
    pthread_mutex_lock(&log_lock);
    map_made_depth = lock_held != 0; /* the core lock, either mode */
    map_made_first = npages ? frames[0] : ~0ull;
    map_made_last = npages ? frames[npages - 1] : ~0ull;
    map_made_npages = npages;
    map_made_rdonly = rdonly;
    map_made++;
    if (map_made_fail >= 0 && map_made_fail-- == 0)
        rc = -GNTX_ENOMEM;
    pthread_mutex_unlock(&log_lock);
    return rc;
}

unsigned long th_map_made(void)
{
    return map_made;
}

long th_map_made_depth(void)
{
    return map_made_depth;
}

void th_map_made_last(uint64_t *first, uint64_t *last, uint64_t *npages,
                      int *rdonly)
{
    *first = map_made_first;
    *last = map_made_last;
    *npages = map_made_npages;
    *rdonly = map_made_rdonly;
}

void th_fail_map_made(long n)
{
    map_made_fail = n;
}

void gh_unmap_notify(void *mapper_cookie, uint16_t owner, uint32_t handle)
{
    pthread_mutex_lock(&log_lock);
    if (log_n == log_cap) {
        size_t cap = log_cap ? log_cap * 2 : 64;
        struct th_notify *v = realloc(log_v, cap * sizeof(*v));

        if (!v)
            abort(); /* a test host out of memory cannot report */
        log_v = v;
        log_cap = cap;
    }
    log_v[log_n++] = (struct th_notify){mapper_cookie, owner, handle};
    pthread_mutex_unlock(&log_lock);
}

static struct th_restrict restrict_v[TH_RESTRICT_LOG];
static size_t restrict_n;
static unsigned long fault_notifies, kills;
static uint32_t fault_port;
static void *kill_last;
static void *exempt_cookie;
static void *deny_who, *deny_owner; /* gh_may_use refuses this pair */
static unsigned deny_rights;

void gh_map_restrict(void *mapper_cookie, uint16_t owner, uint32_t handle,
                     uint64_t first, uint64_t npages, unsigned access)
{
    pthread_mutex_lock(&log_lock);
    if (restrict_n < TH_RESTRICT_LOG)
        restrict_v[restrict_n] = (struct th_restrict){
            mapper_cookie, owner, handle, first, npages, access};
    restrict_n++;
    pthread_mutex_unlock(&log_lock);
}

size_t th_restrict_count(void)
{
    return restrict_n;
}

const struct th_restrict *th_restrict_at(size_t i)
{
    return i < restrict_n && i < TH_RESTRICT_LOG ? &restrict_v[i] : NULL;
}

void gh_fault_notify(void *cookie, uint32_t port)
{
    (void)cookie;
    __atomic_add_fetch(&fault_notifies, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&fault_port, port, __ATOMIC_RELAXED);
}

unsigned long th_fault_notifies(void)
{
    return fault_notifies;
}

uint32_t th_fault_last_port(void)
{
    return fault_port;
}

void gh_dom_kill(void *cookie)
{
    __atomic_add_fetch(&kills, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&kill_last, cookie, __ATOMIC_RELAXED);
}

int gh_dom_exempt(void *cookie)
{
    return cookie &&
           cookie == __atomic_load_n(&exempt_cookie, __ATOMIC_RELAXED);
}

/* A domain's charge (th_dom.charged), refused past its charge_limit. */
int gh_dom_charge(void *cookie, uint64_t before, uint64_t now)
{
    struct th_dom *d = cookie;

    meet();
    if (!d || d->charged != before) {
        __atomic_add_fetch(&bad_frames, 1, __ATOMIC_RELAXED); /* unbalanced */
        return -1;
    }
    if (now > before && d->charge_limit && now > d->charge_limit)
        return -1;
    d->charged = now;
    return 0;
}

void th_set_exempt(void *cookie)
{
    __atomic_store_n(&exempt_cookie, cookie, __ATOMIC_RELAXED);
}

static unsigned use_delay_us;
static long use_now, use_max;
/* How long, in all, callers may wait for a second caller to come in (so a
 * loaded machine that runs one thread late does not pass for a lock held
 * exclusive; a lock that is exclusive makes them wait it all, once). */
static long use_wait_left_us;

int gh_may_use(void *who, void *owner, unsigned rights)
{
    meet();
    if (use_delay_us) {
        long now = __atomic_add_fetch(&use_now, 1, __ATOMIC_RELAXED);
        long max = __atomic_load_n(&use_max, __ATOMIC_RELAXED);

        while (now > max &&
               !__atomic_compare_exchange_n(&use_max, &max, now, false,
                                            __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            ;
        usleep(use_delay_us);
        while (__atomic_load_n(&use_max, __ATOMIC_RELAXED) < 2 &&
               __atomic_sub_fetch(&use_wait_left_us, 1000, __ATOMIC_RELAXED) >
                   0)
            usleep(1000);
        __atomic_sub_fetch(&use_now, 1, __ATOMIC_RELAXED);
    }
    if (who == deny_who && owner == deny_owner) {
        deny_rights = rights;
        return -GNTX_EPERM;
    }
    return 0;
}

void th_use_delay(unsigned us)
{
    use_delay_us = us;
    __atomic_store_n(&use_max, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&use_wait_left_us, 3000000, __ATOMIC_RELAXED);
}

long th_use_overlap(void)
{
    return __atomic_load_n(&use_max, __ATOMIC_RELAXED);
}

void th_deny_use(void *who, void *owner)
{
    deny_who = who;
    deny_owner = owner;
}

unsigned th_denied_rights(void)
{
    return deny_rights;
}

unsigned long th_kills(void)
{
    return kills;
}

void *th_kill_last(void)
{
    return kill_last;
}

size_t th_notify_count(void)
{
    return log_n;
}

const struct th_notify *th_notify_at(size_t i)
{
    return i < log_n ? &log_v[i] : NULL;
}

bool th_notified(void *mapper_cookie, uint32_t handle)
{
    for (size_t i = 0; i < log_n; i++)
        if (log_v[i].mapper_cookie == mapper_cookie &&
            log_v[i].handle == handle)
            return true;
    return false;
}

void th_notify_reset(void)
{
    pthread_mutex_lock(&log_lock);
    free(log_v);
    log_v = NULL;
    log_n = log_cap = 0;
    pthread_mutex_unlock(&log_lock);
}

bool th_balanced(void)
{
    return lock_depth == 0 && !lock_held && th_frames_out() == 0 &&
           th_nested_locks() == 0 && th_bad_frames() == 0 && th_overlaps() == 0;
}

long th_lock_depth(void)
{
    return lock_depth;
}

unsigned long th_lock_calls(void)
{
    return lock_calls;
}

unsigned long th_nested_locks(void)
{
    return __atomic_load_n(&nested_locks, __ATOMIC_RELAXED);
}

long th_frames_out(void)
{
    return __atomic_load_n(&frames_out, __ATOMIC_RELAXED);
}

unsigned long th_bad_frames(void)
{
    return __atomic_load_n(&bad_frames, __ATOMIC_RELAXED);
}

unsigned long th_overlaps(void)
{
    return __atomic_load_n(&overlaps, __ATOMIC_RELAXED);
}

long th_allocs_live(void)
{
    return __atomic_load_n(&allocs_live, __ATOMIC_RELAXED);
}

void th_fail_alloc_after(long n)
{
    __atomic_store_n(&alloc_fail_in, n, __ATOMIC_RELAXED);
}

void th_reset(void)
{
    th_notify_reset();
    restrict_n = 0;
    fault_notifies = 0;
    kills = 0;
    kill_last = NULL;
    exempt_cookie = NULL;
    deny_who = deny_owner = NULL;
    deny_rights = 0;
    th_use_delay(0);
    th_meet_arm(0, 0);
    lock_calls = 0;
    __atomic_store_n(&nested_locks, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&frames_out, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&bad_frames, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&overlaps, 0, __ATOMIC_RELAXED);
    th_fail_alloc_after(-1);
}
