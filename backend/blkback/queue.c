/* SPDX-License-Identifier: MIT */
/*
 * queue.c: the thread serving one queue (ring + event channel) of a vbd.
 * It waits on four things at once: the stop eventfd, the queue's event
 * channel, the io_uring completion eventfd and the handle's revoke
 * events.  Nothing in it blocks on the disk: a block device's discard
 * runs in a worker (discard.c) and completes through the io_uring.  Each
 * pass: completed I/O answered, new requests taken (a pass is bounded by
 * the ring's size), the grant I/O of its READ and WRITE requests done in
 * one call, SQEs submitted in one go, responses pushed (the frontend
 * notified when it asked), then the ring re-armed before sleeping.  A
 * WRITE_BARRIER waits until the queue has no other request in flight; a
 * request that finds no copy buffer waits for completions.  A ring whose
 * indices jump halts: the main thread closes the device (xbe_fatal),
 * stopping this thread.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "private.h"

#define LOG_PER_SEC 10u

void bb_peer_log(struct bb_queue *q, const char *fmt, ...)
{
    struct timespec ts;
    char msg[256];
    va_list ap;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ts.tv_sec != q->log_sec) {
        if (q->log_dropped)
            fprintf(stderr,
                    "xgrant-blkback: %s queue %u: %u messages "
                    "dropped\n",
                    q->v->name, q->index, q->log_dropped);
        q->log_sec = ts.tv_sec;
        q->log_tokens = LOG_PER_SEC;
        q->log_dropped = 0;
    }
    if (!q->log_tokens) {
        q->log_dropped++;
        return;
    }
    q->log_tokens--;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "xgrant-blkback: %s queue %u: %s\n", q->v->name, q->index,
            msg);
}

/* Answers every request whose SQEs all completed. */
static void reap(struct bb_queue *q)
{
    struct io_uring_cqe *cqe;

    while (io_uring_peek_cqe(&q->ring, &cqe) == 0) {
        uint64_t data = io_uring_cqe_get_data64(cqe);
        struct bb_req *rq = &q->reqs[(uint32_t)data];
        int res = cqe->res;

        io_uring_cqe_seen(&q->ring, cqe);
        if (data & BB_CQE_DISCARD) {
            rq = res < 0 ? rq : bb_discard_done(q);
            if (!rq)
                continue;
        }
        if (res < 0 && !rq->err)
            rq->err = res;
        else if ((data & BB_CQE_RW) && (uint64_t)res != rq->bytes && !rq->err)
            rq->err = -EIO; /* short: never expected inside the disk */
        if (rq->pending && --rq->pending == 0)
            bb_req_finish(q, rq);
    }
}

/* Starts the next request (the held one first): 1 when one was handled,
 * 0 when none can be now. */
static int take_one(struct bb_queue *q)
{
    union blkif_sring_entry e;
    int rc;

    if (q->have_held) {
        e = q->held;
    } else {
        rc = xbe_ring_take(q->r, &e);
        if (rc < 0) {
            /* A dead frontend's ring reads as garbage (scratch pages): no
             * protocol error then, the store will say it is gone. */
            q->peer_gone = grant_evtchn_notify(q->h, q->port) == -ENOTCONN;
            clock_gettime(CLOCK_MONOTONIC, &q->halt_time);
            __atomic_store_n(&q->halted, 1, __ATOMIC_RELEASE);
            return 0;
        }
        if (rc == 0)
            return 0;
    }
    q->have_held = 0;
    if ((e.req.operation == BLKIF_OP_WRITE_BARRIER && q->inflight) ||
        !q->nr_free) {
        q->held = e; /* waits for the queue to drain */
        q->have_held = 1;
        return 0;
    }
    rc = bb_req_start(q, &e, q->free[--q->nr_free]);
    if (rc == -EAGAIN) {
        bb_stat_add(&q->v->st, BB_ST_OO, 1);
        q->held = e;
        q->have_held = 1;
        return 0;
    }
    return 1;
}

static void push(struct bb_queue *q)
{
    if (xbe_ring_push(q->r))
        grant_evtchn_notify_async(q->h, q->port);
}

/* One pass; 1 when more work is already there. */
static int pass(struct bb_queue *q)
{
    reap(q);
    bb_pgrant_revoked(q);
    while (!q->halted && take_one(q))
        ;
    bb_gio_flush(q);
    if (q->inflight) {
        io_uring_submit(&q->ring);
        reap(q); /* what completed inline (cached data) is answered now */
    }
    push(q);
    if (q->halted)
        return 0;
    if (q->have_held) /* it waits for completions, unless none is left */
        return q->inflight == 0;
    return xbe_ring_final_check(q->r) == 1;
}

static void drain(struct bb_queue *q)
{
    struct io_uring_cqe *cqe;

    bb_gio_flush(q);
    io_uring_submit(&q->ring);
    while (q->inflight && io_uring_wait_cqe(&q->ring, &cqe) == 0)
        reap(q);
    push(q);
}

static void *run(void *arg)
{
    struct bb_queue *q = arg;
    struct pollfd p[4] = {
        {.fd = q->stop_fd, .events = POLLIN},
        {.fd = grant_evtchn_fd(q->h, q->port), .events = POLLIN},
        {.fd = q->cq_fd, .events = POLLIN},
        {.fd = grant_map_revoked_fd(q->h), .events = POLLIN},
    };
    uint64_t v, one = 1;
    int more = 1;

    for (;;) {
        if (poll(p, 4, more ? 0 : -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        if (p[2].revents && read(q->cq_fd, &v, sizeof(v)) < 0)
            v = 0;
        if (p[1].revents)
            grant_evtchn_consume(q->h, q->port);
        if (q->halted)
            continue;
        more = pass(q);
        if (q->halted) { /* the main thread closes the device */
            p[1].fd = p[3].fd = -1;
            if (write(bb_wake_fd, &one, sizeof(one)) < 0)
                more = 0;
        }
    }
    drain(q);
    bb_pgrant_clear(q);
    return NULL;
}

int bb_queue_helper(struct bb_queue *q)
{
    char who[80];

    if (q->helper.sock >= 0)
        return 1;
    snprintf(who, sizeof(who), "%s queue %u", q->v->name, q->index);
    return bbh_spawn(&q->helper, q->h, q->v->o->io_helper_prog,
                     q->v->img.dfd >= 0 ? q->v->img.dfd : q->v->img.fd,
                     who) == 0;
}

static void free_bufs(struct bb_queue *q)
{
    unsigned i;

    for (i = 0; q->reqs && q->r && i < q->r->nr_ents; i++)
        if (q->reqs[i].bounce)
            grant_mem_free(q->h, q->reqs[i].bounce);
    if (q->ind)
        grant_mem_free(q->h, q->ind);
    free(q->reqs);
    free(q->free);
    free(q->v1c);
    free(q->extc);
    free(q->gio);
    free(q->gio_slot);
    if (q->io_file >= 0)
        grant_io_unregister(q->h, q->io_file);
    bbh_destroy(&q->helper, q->h);
    q->io_file = -1;
    q->gio = NULL;
    q->gio_slot = NULL;
    q->gio_n = q->gio_nslot = 0;
    q->reqs = NULL;
    q->free = NULL;
    q->v1c = NULL;
    q->extc = NULL;
    q->ind = NULL;
    q->bounce_total = 0;
}

static int setup(struct bb_queue *q)
{
    unsigned n = q->r->nr_ents, i, entries = 1;
    int rc;

    q->reqs = calloc(n, sizeof(*q->reqs));
    q->free = calloc(n, sizeof(*q->free));
    q->v1c = calloc(BB_MAX_INDIRECT_SEGS, sizeof(*q->v1c));
    q->extc = calloc(BB_MAX_INDIRECT_SEGS, sizeof(*q->extc));
    q->gio = calloc(BB_MAX_INDIRECT_SEGS, sizeof(*q->gio));
    q->gio_slot = calloc(n, sizeof(*q->gio_slot));
    if (!q->reqs || !q->free || !q->v1c || !q->extc || !q->gio || !q->gio_slot)
        return -ENOMEM;
    /* Byte-exact grants: the image straight to and from the grants. */
    if (q->v->ext && q->v->o->grant_io &&
        (grant_features(q->h) & GRANT_FEAT_IO))
        q->io_file = grant_io_register(q->h, q->v->img.dfd >= 0 ? q->v->img.dfd
                                                                : q->v->img.fd);
    if (q->io_file >= 0 && q->v->delegate)
        bb_queue_helper(q); /* else at the first request */
    for (i = 0; i < n; i++)
        q->free[i] = n - 1 - i;
    q->nr_free = n;
    rc = grant_mem_alloc(q->h, 1, &q->ind); /* 512 descriptors a page */
    if (rc < 0)
        return rc;
    /* Every SQE the slots can have queued at once: 3 for a barrier. */
    while (entries < 3 * n)
        entries *= 2;
    rc = io_uring_queue_init(entries, &q->ring, 0);
    if (rc < 0)
        return rc;
    q->cq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    q->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (q->cq_fd < 0 || q->stop_fd < 0)
        return -errno;
    /* Without its worker a discard blocks this thread: said once. */
    if (q->v->img.bdev && q->v->img.discard && bb_discard_init(q) < 0)
        fprintf(stderr,
                "xgrant-blkback: %s queue %u: no discard worker: "
                "BLKDISCARD in the queue's thread\n",
                q->v->name, q->index);
    return io_uring_register_eventfd(&q->ring, q->cq_fd);
}

static void teardown(struct bb_queue *q, int ring_up)
{
    bb_discard_fini(q); /* idle: the queue drained */
    if (ring_up)
        io_uring_queue_exit(&q->ring);
    if (q->cq_fd >= 0)
        close(q->cq_fd);
    if (q->stop_fd >= 0)
        close(q->stop_fd);
    q->cq_fd = q->stop_fd = -1;
    free_bufs(q);
}

int bb_queue_start(struct bb_queue *q, struct xbe_queue *xq)
{
    int rc;

    q->r = &xq->ring[0];
    q->port = xq->port[0];
    q->cq_fd = q->stop_fd = -1;
    q->io_file = -1;
    q->inflight = 0;
    q->have_held = 0;
    q->halted = 0;
    q->peer_gone = 0;
    q->efaults = 0;
    q->disc = NULL;
    memset(&q->ring, 0, sizeof(q->ring));
    rc = setup(q);
    if (rc < 0) {
        teardown(q, q->ring.ring_fd > 0);
        return rc;
    }
    rc = -pthread_create(&q->thread, NULL, run, q);
    if (rc < 0) {
        teardown(q, 1);
        return rc;
    }
    q->running = 1;
    return 0;
}

void bb_queue_stop(struct bb_queue *q)
{
    uint64_t one = 1;

    if (!q->running)
        return;
    if (write(q->stop_fd, &one, sizeof(one)) < 0)
        fprintf(stderr, "xgrant-blkback: stop queue: %s\n", strerror(errno));
    pthread_join(q->thread, NULL);
    q->running = 0;
    teardown(q, 1);
}
