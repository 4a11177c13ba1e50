/* SPDX-License-Identifier: MIT */
/*
 * discard.c: BLKDISCARD on a block device, off the queue thread.  The
 * ioctl blocks until the device has discarded the range (seconds for a
 * big range), and io_uring has no discard operation on the kernels this
 * runs on; done inline it would stall the whole ring.  So each queue of a
 * block device with discard has a worker thread: the queue thread hands
 * it the slot (a FIFO) and queues an io_uring read of the worker's
 * eventfd (a semaphore: each read takes one count); the worker does the
 * ioctl, puts (slot, result) on the done FIFO and adds one count.  The
 * read's completion arrives with every other CQE; its user data says
 * BB_CQE_DISCARD, and bb_discard_done takes the oldest finished discard.
 * The queue's drain waits for those reads like for any I/O.
 */
#include <errno.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "private.h"

struct bb_disc_job {
    unsigned slot;
    int err;
    uint64_t range[2]; /* offset, length in bytes */
};

struct bb_discard {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int fd;   /* eventfd, EFD_SEMAPHORE: one count per finished discard */
    int bdev; /* the image's descriptor */
    int stop;
    unsigned cap; /* the ring's entries: no more can be in flight */
    unsigned todo_head, nr_todo, done_head, nr_done;
    struct bb_disc_job *todo, *done; /* FIFOs of cap entries */
    uint64_t sink;                   /* the reads' destination (ignored) */
};

static void fifo_put(struct bb_disc_job *f, unsigned cap, unsigned head,
                     unsigned *n, const struct bb_disc_job *j)
{
    f[(head + (*n)++) % cap] = *j;
}

static struct bb_disc_job fifo_take(struct bb_disc_job *f, unsigned cap,
                                    unsigned *head, unsigned *n)
{
    struct bb_disc_job j = f[*head];

    *head = (*head + 1) % cap;
    (*n)--;
    return j;
}

static void *worker(void *arg)
{
    struct bb_discard *w = arg;
    uint64_t one = 1;

    pthread_mutex_lock(&w->lock);
    for (;;) {
        struct bb_disc_job j;

        while (!w->nr_todo && !w->stop)
            pthread_cond_wait(&w->cv, &w->lock);
        if (!w->nr_todo)
            break;
        j = fifo_take(w->todo, w->cap, &w->todo_head, &w->nr_todo);
        pthread_mutex_unlock(&w->lock);
        j.err = ioctl(w->bdev, BLKDISCARD, j.range) < 0 ? -errno : 0;
        pthread_mutex_lock(&w->lock);
        fifo_put(w->done, w->cap, w->done_head, &w->nr_done, &j);
        /* Counted after the entry is there: a read that sees the count
         * finds it.  The counter stays far below its limit. */
        if (write(w->fd, &one, sizeof(one)) < 0)
            j.err = -errno;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void discard_free(struct bb_discard *w)
{
    if (w->fd >= 0)
        close(w->fd);
    free(w->todo);
    free(w->done);
    free(w);
}

int bb_discard_init(struct bb_queue *q)
{
    struct bb_discard *w = calloc(1, sizeof(*w));
    int rc;

    if (!w)
        return -ENOMEM;
    w->cap = q->r->nr_ents;
    w->bdev = q->v->img.fd;
    w->todo = calloc(w->cap, sizeof(*w->todo));
    w->done = calloc(w->cap, sizeof(*w->done));
    w->fd = eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE);
    if (!w->todo || !w->done || w->fd < 0) {
        rc = w->fd < 0 ? -errno : -ENOMEM;
        discard_free(w);
        return rc;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cv, NULL);
    rc = -pthread_create(&w->thread, NULL, worker, w);
    if (rc < 0) {
        discard_free(w);
        return rc;
    }
    q->disc = w;
    return 0;
}

void bb_discard_fini(struct bb_queue *q)
{
    struct bb_discard *w = q->disc;

    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cv);
    discard_free(w);
    q->disc = NULL;
}

void bb_discard_submit(struct bb_queue *q, unsigned slot,
                       struct io_uring_sqe *sqe)
{
    struct bb_discard *w = q->disc;
    struct bb_req *rq = &q->reqs[slot];
    struct bb_disc_job j = {.slot = slot,
                            .range = {rq->sector * BB_SECTOR, rq->bytes}};

    io_uring_prep_read(sqe, w->fd, &w->sink, sizeof(w->sink), 0);
    pthread_mutex_lock(&w->lock);
    fifo_put(w->todo, w->cap, w->todo_head, &w->nr_todo, &j);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->lock);
}

struct bb_req *bb_discard_done(struct bb_queue *q)
{
    struct bb_discard *w = q->disc;
    struct bb_disc_job j;
    struct bb_req *rq;

    pthread_mutex_lock(&w->lock);
    if (!w->nr_done) { /* cannot happen: the count follows the entry */
        pthread_mutex_unlock(&w->lock);
        return NULL;
    }
    j = fifo_take(w->done, w->cap, &w->done_head, &w->nr_done);
    pthread_mutex_unlock(&w->lock);
    rq = &q->reqs[j.slot];
    if (j.err && !rq->err)
        rq->err = j.err;
    return rq;
}
