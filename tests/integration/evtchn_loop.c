/* SPDX-License-Identifier: MIT */
/*
 * evtchn_loop: event channels in an event loop (libgrant.h, "Event
 * channels").  Four ports on one handle, signalled from a second handle:
 *   - the handle's pending fd, inside an outer epoll set, is readable
 *     exactly while a port is pending;
 *   - grant_evtchn_pending hands out each pending port once with its
 *     count, then -EAGAIN; ports take turns; a closed port is never
 *     reported;
 *   - grant_evtchn_consume never blocks: -EAGAIN when nothing is pending;
 *   - a port's own fd polls the same way;
 *   - io_uring's POLL_ADD on the pending fd completes when a port is
 *     signalled, not before (skipped where io_uring is not available).
 */
#include <errno.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/itest.h"

#define NPORTS 4

static grant_handle_t *h, *peer;
static uint32_t port[NPORTS], peer_port[NPORTS];

static int readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static int signal_port(int i, int times)
{
    int rc = 0;

    while (times-- && rc == 0)
        rc = grant_evtchn_notify(peer, peer_port[i]);
    return rc;
}

/* The port index of `p`, or -1. */
static int index_of(uint32_t p)
{
    for (int i = 0; i < NPORTS; i++)
        if (port[i] == p)
            return i;
    return -1;
}

static void nothing_pending(int outer)
{
    struct epoll_event ev;
    uint32_t p;
    int ok = 1;

    ICHECK(epoll_wait(outer, &ev, 1, 0) == 0,
           "idle: the pending fd is not readable (outer epoll)");
    ICHECK(grant_evtchn_pending(h, &p) == -EAGAIN,
           "idle: grant_evtchn_pending -> EAGAIN");
    for (int i = 0; i < NPORTS; i++)
        ok &= grant_evtchn_consume(h, port[i]) == -EAGAIN;
    ICHECK(ok, "idle: grant_evtchn_consume of every port -> EAGAIN, at once");
}

static void pending_counts(int outer)
{
    struct epoll_event ev;
    int got[NPORTS] = {0}, rc, n = 0;
    uint32_t p;

    ICHECK(signal_port(1, 2) == 0 && signal_port(3, 1) == 0,
           "signal port 1 twice, port 3 once");
    ICHECK(epoll_wait(outer, &ev, 1, 2000) == 1,
           "the pending fd wakes the outer epoll");
    while ((rc = grant_evtchn_pending(h, &p)) > 0 && n++ < 10)
        if (index_of(p) >= 0)
            got[index_of(p)] += rc;
    ICHECK(rc == -EAGAIN && got[1] == 2 && got[3] == 1 && got[0] == 0 &&
               got[2] == 0,
           "pending: port 1 with 2 signals, port 3 with 1, then EAGAIN");
    ICHECK(epoll_wait(outer, &ev, 1, 0) == 0,
           "all consumed: the pending fd is quiet again");
}

static void turns(void)
{
    uint32_t first, second, third;
    int ok;

    signal_port(0, 1);
    signal_port(2, 1);
    ok = grant_evtchn_pending(h, &first) == 1;
    signal_port(index_of(first), 1); /* signalled again at once */
    ok &= grant_evtchn_pending(h, &second) == 1 && second != first;
    ok &= grant_evtchn_pending(h, &third) == 1 && third == first;
    ok &= grant_evtchn_pending(h, &first) == -EAGAIN;
    ICHECK(ok, "ports take turns: a port signalled again waits its turn");
}

static void port_fd(void)
{
    int fd = grant_evtchn_fd(h, port[2]);

    ICHECK(fd >= 0 && !readable(fd, 0), "port 2's own fd: quiet");
    signal_port(2, 1);
    ICHECK(readable(fd, 2000), "port 2's own fd: readable once signalled");
    ICHECK(grant_evtchn_consume(h, port[2]) == 1 && !readable(fd, 0),
           "consumed: one signal, and quiet again");
    ICHECK(grant_evtchn_consume(h, port[2]) == -EAGAIN, "then EAGAIN");
}

static void closed_port(int outer)
{
    struct epoll_event ev;
    uint32_t p;

    signal_port(3, 1);
    ICHECK(grant_evtchn_close(h, port[3]) == 0, "close port 3 while pending");
    ICHECK(grant_evtchn_pending(h, &p) == -EAGAIN &&
               epoll_wait(outer, &ev, 1, 0) == 0,
           "a closed port is never reported");
}

/* ---- io_uring, by its raw syscalls (no liburing here) -------------------
 */

struct ring {
    int fd;
    uint8_t *sq, *cq;
    struct io_uring_sqe *sqes;
    struct io_uring_params p;
};

static int ring_open(struct ring *r)
{
    size_t sq_len, cq_len;

    memset(r, 0, sizeof(*r));
    r->fd = (int)syscall(__NR_io_uring_setup, 4, &r->p);
    if (r->fd < 0)
        return -errno;
    sq_len = r->p.sq_off.array + r->p.sq_entries * sizeof(unsigned);
    cq_len = r->p.cq_off.cqes + r->p.cq_entries * sizeof(struct io_uring_cqe);
    if (r->p.features & IORING_FEAT_SINGLE_MMAP)
        sq_len = cq_len = sq_len > cq_len ? sq_len : cq_len;
    r->sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
                 IORING_OFF_SQ_RING);
    r->cq = r->p.features & IORING_FEAT_SINGLE_MMAP
                ? r->sq
                : mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
                       IORING_OFF_CQ_RING);
    r->sqes = mmap(NULL, r->p.sq_entries * sizeof(struct io_uring_sqe),
                   PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, IORING_OFF_SQES);
    if (r->sq == MAP_FAILED || r->cq == MAP_FAILED || r->sqes == MAP_FAILED)
        return -ENOMEM;
    return 0;
}

static int ring_poll_add(struct ring *r, int fd)
{
    unsigned *tail = (unsigned *)(r->sq + r->p.sq_off.tail);
    unsigned mask = *(unsigned *)(r->sq + r->p.sq_off.ring_mask);
    unsigned *array = (unsigned *)(r->sq + r->p.sq_off.array);
    unsigned t = *tail, i = t & mask;

    memset(&r->sqes[i], 0, sizeof(r->sqes[i]));
    r->sqes[i].opcode = IORING_OP_POLL_ADD;
    r->sqes[i].fd = fd;
    r->sqes[i].poll32_events = POLLIN;
    r->sqes[i].user_data = 42;
    array[i] = i;
    __atomic_store_n(tail, t + 1, __ATOMIC_RELEASE);
    return syscall(__NR_io_uring_enter, r->fd, 1, 0, 0, NULL, 0) == 1 ? 0
                                                                      : -errno;
}

/* The one completion's result, or -ETIMEDOUT. */
static int ring_reap(struct ring *r, int timeout_ms)
{
    unsigned *head = (unsigned *)(r->cq + r->p.cq_off.head);
    unsigned *tail = (unsigned *)(r->cq + r->p.cq_off.tail);
    unsigned mask = *(unsigned *)(r->cq + r->p.cq_off.ring_mask);
    struct io_uring_cqe *cqes = (void *)(r->cq + r->p.cq_off.cqes);
    int res;

    if (!readable(r->fd, timeout_ms) ||
        __atomic_load_n(tail, __ATOMIC_ACQUIRE) == *head)
        return -ETIMEDOUT;
    res = cqes[*head & mask].res;
    __atomic_store_n(head, *head + 1, __ATOMIC_RELEASE);
    return res;
}

static void uring(void)
{
    struct ring r;
    int rc = ring_open(&r);

    if (rc < 0) {
        printf("ok # skip io_uring: %s\n", grant_strerror(rc));
        return;
    }
    ICHECK(ring_poll_add(&r, grant_evtchn_pending_fd(h)) == 0,
           "io_uring: POLL_ADD on the pending fd submitted");
    ICHECK(ring_reap(&r, 50) == -ETIMEDOUT,
           "io_uring: no completion while nothing is pending");
    signal_port(1, 1);
    rc = ring_reap(&r, 2000);
    ICHECK(rc > 0 && (rc & POLLIN), "io_uring: completes with POLLIN (%d)", rc);
    ICHECK(grant_evtchn_consume(h, port[1]) == 1, "and the signal is there");
    close(r.fd);
}

int main(void)
{
    struct epoll_event ev = {.events = EPOLLIN};
    int outer, pfd, ok = 1;

    itest_setup(&h);
    ICHECK(grant_open(&peer, 0) == 0, "a second handle (the signaller)");
    pfd = grant_evtchn_pending_fd(h);
    ICHECK(pfd >= 0, "the pending fd exists before any port");
    for (int i = 0; i < NPORTS; i++)
        ok &= grant_evtchn_alloc_unbound(h, 0, &port[i]) == 0 &&
              grant_evtchn_bind(peer, 0, port[i], &peer_port[i]) == 0;
    ICHECK(ok, "%d ports on one handle, bound from the other", NPORTS);
    ICHECK(grant_evtchn_pending_fd(h) == pfd, "one pending fd per handle");
    outer = epoll_create1(EPOLL_CLOEXEC);
    ICHECK(outer >= 0 && epoll_ctl(outer, EPOLL_CTL_ADD, pfd, &ev) == 0,
           "the pending fd goes into an outer epoll set");
    nothing_pending(outer);
    pending_counts(outer);
    turns();
    port_fd();
    uring();
    closed_port(outer);
    close(outer);
    grant_close(peer);
    itest_teardown(h);
    return itest_done();
}
