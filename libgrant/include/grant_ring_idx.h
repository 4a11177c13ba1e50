/* SPDX-License-Identifier: MIT */
/*
 * grant_ring_idx.h: the index half of io/ring.h's protocol, shared by the
 * back half of a ring (backend/common/ring.c) and the front half
 * (frontend/common/ring.c).  Header only, nothing exported.
 *
 * A shared ring page opens with four free-running 32-bit indices: req_prod
 * and rsp_event (the frontend's), rsp_prod and req_event (the backend's).
 * Each side publishes its producer index and reads the peer's event index
 * to know whether to notify; before sleeping it arms its own event index
 * and looks at the peer's producer once more.  Every index the peer owns
 * is read once per use (the peer may change it at any time).
 */
#ifndef GRANT_RING_IDX_H
#define GRANT_RING_IDX_H

#include <stddef.h>

#include <xen/io/ring.h>

enum {
    GRANT_RING_REQ_PROD,
    GRANT_RING_REQ_EVENT,
    GRANT_RING_RSP_PROD,
    GRANT_RING_RSP_EVENT
};

/* Entries in a ring of `bytes` (indices header included) of `ent_size`
 * each: as many as fit, rounded down to a power of two (io/ring.h's
 * __RING_SIZE).  The caller checks that at least one fits. */
static inline unsigned grant_ring_entries(size_t bytes, size_t hdr,
                                          size_t ent_size)
{
    size_t n = (bytes - hdr) / ent_size;
    unsigned p = 1;

    while ((size_t)p * 2 <= n && p < (1u << 30))
        p *= 2;
    return p;
}

/* One read of index `which` of the shared page s. */
static inline RING_IDX grant_ring_peek(const volatile RING_IDX *s, int which)
{
    return __atomic_load_n(&s[which], __ATOMIC_RELAXED);
}

/*
 * Publishes `now` as our producer index s[prod] (the entries it covers
 * become visible first) and returns 1 when the peer asked to be notified:
 * its event index s[event] lies in (old, now].
 */
static inline int grant_ring_publish(volatile RING_IDX *s, int prod, int event,
                                     RING_IDX now)
{
    RING_IDX old = grant_ring_peek(s, prod), ev;

    /* The peer sees the entries before the index that covers them. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&s[prod], now, __ATOMIC_RELAXED);
    /* Our index is visible before we read the peer's event. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    ev = grant_ring_peek(s, event);
    return (RING_IDX)(now - ev) < (RING_IDX)(now - old);
}

/*
 * Before sleeping on the peer's producer s[prod], with everything up to
 * `cons` consumed: 1 when more is there already; else arms our event index
 * s[event] = cons + 1 and checks once more (the race closed by a full
 * barrier).
 */
static inline int grant_ring_arm(volatile RING_IDX *s, int prod, int event,
                                 RING_IDX cons)
{
    if (grant_ring_peek(s, prod) != cons)
        return 1;
    __atomic_store_n(&s[event], cons + 1, __ATOMIC_RELAXED);
    /* Our event index is visible before we look at the producer again. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return grant_ring_peek(s, prod) != cons;
}

#endif
