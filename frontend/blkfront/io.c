/* SPDX-License-Identifier: MIT */
/*
 * io.c: the request path.  A request's id is its slot in its queue's
 * shadow array (never a pointer); a response is taken out of the ring
 * once, then checked against the shadow: id in flight, operation the
 * request's, status one blkif defines.  A request's grants end before it
 * completes.  Requests in flight when the rings go away move to the
 * recover list and are issued again on the new rings.
 */
#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "private.h"

/*
 * A thread waiting in wait_round: a synchronous caller's group of
 * requests (pending), a reaper (for the done list) or a caller waiting
 * for a ring slot (slot: any completion may give one).  Each sleeps on a
 * futex word of its own, outside the device lock, so a completion wakes
 * only the thread it is for (not every thread of an nbdkit pool at each
 * one), and a caller whose requests all completed returns without taking
 * the lock again.  Whoever holds the lock takes a sleeper off the list
 * (wake_later) and wakes it after unlocking (unlock): `word` is written
 * last, the waiter's frame may go right after.
 */
enum { WAKE_NONE, WAKE_DONE, WAKE_LOOK };
struct xgbf_wait {
    unsigned pending;
    int err;
    int reaper, slot;
    int final;              /* waits for its last completions: WAKE_DONE them */
    int asleep;             /* on d->sleepers */
    uint32_t why;           /* what wake_later decided, for unlock to publish */
    uint32_t word;          /* the futex: WAKE_NONE until woken */
    struct xgbf_wait *next; /* on d->sleepers, then on d->wake */
};

/* ---- Requests ------------------------------------------------------- */

static struct xgbf_req *req_get(struct xgbf *d)
{
    struct xgbf_req *r = d->free_reqs;

    if (r) {
        d->free_reqs = r->next;
        /* pg[] and ind are NULL again once released */
        memset(r, 0, offsetof(struct xgbf_req, pg));
        return r;
    }
    return calloc(1, sizeof(*r));
}

static void req_put(struct xgbf *d, struct xgbf_req *r)
{
    r->next = d->free_reqs;
    d->free_reqs = r;
}

static void list_add(struct xgbf_req ***tail, struct xgbf_req *r)
{
    r->next = NULL;
    **tail = r;
    *tail = &r->next;
}

static struct xgbf_bounce *bounce_get(struct xgbf *d)
{
    struct xgbf_bounce *b = d->bounces, **all;

    if (b) {
        d->bounces = b->next;
        return b;
    }
    all = realloc(d->bounce_all, (d->nr_bounce_all + 1) * sizeof(*all));
    if (!all)
        return NULL;
    d->bounce_all = all;
    b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    if (grant_mem_alloc(d->h, XGBF_MAX_IO / GRANT_PAGE_SIZE, &b->buf) < 0) {
        free(b);
        return NULL;
    }
    all[d->nr_bounce_all++] = b;
    return b;
}

static void bounce_put(struct xgbf *d, struct xgbf_bounce *b)
{
    b->next = d->bounces;
    d->bounces = b;
}

/* Ends the grants kept over every bounce buffer (the rings went away:
 * the next backend may be another domain). */
static void bounce_forget(struct xgbf *d)
{
    struct grant_revoke_req rv[2 * (XGBF_MAX_IO / XGBF_EXT_SEG)];
    unsigned i, k, m;

    for (i = 0; i < d->nr_bounce_all; i++) {
        struct xgbf_kept *kp = &d->bounce_all[i]->kept[0][0];

        for (k = m = 0; k < 2 * (XGBF_MAX_IO / XGBF_EXT_SEG); k++)
            if (kp[k].len) {
                rv[m++] =
                    (struct grant_revoke_req){kp[k].ref, GRANT_REVOKE_FORCE, 0};
                kp[k].len = 0;
            }
        if (m)
            grant_revoke_batch(d->h, rv, m);
    }
}

/* Ends a request's byte-exact grants: the backend cannot reach its
 * buffer from here on. */
static void end_grants(struct xgbf *d, struct xgbf_req *r)
{
    struct grant_revoke_req rv[XGBF_MAX_IO / XGBF_EXT_SEG];
    unsigned i;

    if (!r->ext_granted)
        return;
    for (i = 0; i < r->nseg; i++)
        rv[i] = (struct grant_revoke_req){r->ext_ref[i], GRANT_REVOKE_FORCE, 0};
    grant_revoke_batch(d->h, rv, r->nseg);
    r->ext_granted = 0;
}

/* Ends what a request holds on the backend's side, gives back its pages. */
static void release(struct xgbf *d, struct xgbf_req *r)
{
    unsigned i;

    end_grants(d, r);
    if (r->bounce)
        bounce_put(d, r->bounce);
    r->bounce = NULL;
    for (i = 0; i < r->nseg && r->pg[i]; i++) {
        xgbf_pool_put(d, r->pg[i]);
        r->pg[i] = NULL;
    }
    if (r->ind)
        xgbf_pool_put(d, r->ind);
    r->ind = NULL;
    r->nseg = 0;
}

/* Takes w off the sleepers (lock held). */
static void unlist(struct xgbf *d, struct xgbf_wait *w)
{
    struct xgbf_wait **p;

    for (p = &d->sleepers; *p != w; p = &(*p)->next)
        ;
    *p = w->next;
    w->asleep = 0;
}

/* Takes w off the sleepers (lock held), to be woken by unlock. */
static void wake_later(struct xgbf *d, struct xgbf_wait *w, uint32_t why)
{
    unlist(d, w);
    w->why = why;
    w->next = d->wake;
    d->wake = w;
}

/* Unlocks the device, then wakes whom wake_later chose. */
static void unlock(struct xgbf *d)
{
    struct xgbf_wait *w = d->wake, *next;

    d->wake = NULL;
    pthread_mutex_unlock(&d->lock);
    for (; w; w = next) {
        uint32_t *word = &w->word;

        next = w->next;
        /* Release: what deliver wrote is seen with the word; w may be
         * gone after the store (a stale wake is a spurious one). */
        __atomic_store_n(word, w->why, __ATOMIC_RELEASE);
        syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
}

/* Wakes the sleepers waiting for any completion. */
static void wake_any(struct xgbf *d)
{
    struct xgbf_wait *w = d->sleepers, *next;

    for (; w; w = next) {
        next = w->next;
        if (w->reaper || w->slot)
            wake_later(d, w, WAKE_LOOK);
    }
}

static void deliver(struct xgbf *d, struct xgbf_req *r, int status)
{
    struct xgbf_wait *w = r->wait;

    r->status = status;
    if (w) {
        if (status < 0 && w->err == 0)
            w->err = status;
        d->inflight--;
        req_put(d, r);
        if (--w->pending == 0 && w->asleep)
            wake_later(d, w, w->final ? WAKE_DONE : WAKE_LOOK);
    } else {
        list_add(&d->done_tail, r);
    }
    wake_any(d);
}

static size_t seg_bytes(const struct xgbf_req *r, unsigned i, size_t seg)
{
    size_t left = r->len - (size_t)i * seg;

    return left < seg ? left : seg;
}

/* The caller's buffer, or its bounce copy, as the data's source/sink. */
static void copy_out(struct xgbf_req *r)
{
    unsigned i;

    if (r->bounce) {
        memcpy(r->buf, r->bounce->buf, r->len);
        return;
    }
    for (i = 0; i < r->nseg && r->pg[i]; i++)
        memcpy((char *)r->buf + (size_t)i * GRANT_PAGE_SIZE, r->pg[i]->addr,
               seg_bytes(r, i, GRANT_PAGE_SIZE));
}

/* ---- Building a request --------------------------------------------- */

static int grant_segs(struct xgbf *d, struct xgbf_req *r, const char *base,
                      unsigned rights)
{
    struct grant_create_req c[XGBF_MAX_IO / XGBF_EXT_SEG];
    grant_domid_t be = (grant_domid_t)xfe_be_id(d->fe);
    unsigned i;
    int rc;

    for (i = 0; i < r->nseg; i++)
        c[i] = (struct grant_create_req){
            .grantee = be,
            .rights = rights,
            .ptr = base + (size_t)i * XGBF_EXT_SEG,
            .len = seg_bytes(r, i, XGBF_EXT_SEG),
        };
    rc = grant_create_batch(d->h, c, r->nseg);
    for (i = 0; rc == 0 && i < r->nseg; i++)
        r->ext_ref[i] = c[i].ref;
    return rc;
}

/* r's byte-exact grants over its bounce buffer: the kept ones where the
 * segment's length and rights match, new ones (the old ended) elsewhere. */
static int bounce_grants(struct xgbf *d, struct xgbf_req *r, unsigned rights)
{
    struct grant_create_req c[XGBF_MAX_IO / XGBF_EXT_SEG];
    struct grant_revoke_req rv[XGBF_MAX_IO / XGBF_EXT_SEG];
    struct xgbf_kept *k = r->bounce->kept[r->op == XGBF_READ];
    grant_domid_t be = (grant_domid_t)xfe_be_id(d->fe);
    unsigned i, n = 0, m = 0, idx[XGBF_MAX_IO / XGBF_EXT_SEG];
    int rc = 0;

    for (i = 0; i < r->nseg; i++) {
        size_t len = seg_bytes(r, i, XGBF_EXT_SEG);

        if (k[i].len == len && k[i].rights == rights) {
            r->ext_ref[i] = k[i].ref;
            continue;
        }
        if (k[i].len)
            rv[m++] =
                (struct grant_revoke_req){k[i].ref, GRANT_REVOKE_FORCE, 0};
        k[i].len = 0;
        c[n] = (struct grant_create_req){
            .grantee = be,
            .rights = rights,
            .ptr = (char *)r->bounce->buf + (size_t)i * XGBF_EXT_SEG,
            .len = len,
        };
        idx[n++] = i;
    }
    if (m)
        grant_revoke_batch(d->h, rv, m);
    if (n)
        rc = grant_create_batch(d->h, c, n);
    for (i = 0; rc == 0 && i < n; i++) {
        k[idx[i]] = (struct xgbf_kept){c[i].ref, (uint32_t)c[i].len, rights};
        r->ext_ref[idx[i]] = c[i].ref;
    }
    return rc;
}

static unsigned seg_rights(const struct xgbf *d, const struct xgbf_req *r)
{
    unsigned rights = r->op == XGBF_WRITE ? GRANT_R_READ : GRANT_R_WRITE;

    if (d->delegate) /* the backend's I/O helper moves the bytes */
        rights |= GRANT_R_DELEGATE;
    return rights;
}

/* Byte-exact segments straight over the caller's buffer when it is
 * grantable memory of our handle (ended at completion); over a bounce
 * buffer otherwise (kept). */
static int segs_ext(struct xgbf *d, struct xgbf_req *r,
                    struct blkif_request_segment *segs)
{
    unsigned i, rights = seg_rights(d, r);
    int rc = 0;

    if (r->ext_granted) /* xgbf_submitv granted it with others */
        goto fill;
    r->nseg = (unsigned)((r->len + XGBF_EXT_SEG - 1) / XGBF_EXT_SEG);
    rc = grant_segs(d, r, r->buf, rights);
    if (rc == 0) {
        r->ext_granted = 1;
    } else if (rc == -EFAULT) {
        r->bounce = bounce_get(d);
        if (!r->bounce)
            return -ENOMEM;
        if (r->op == XGBF_WRITE)
            memcpy(r->bounce->buf, r->buf, r->len);
        rc = bounce_grants(d, r, rights);
    }
    if (rc < 0)
        return rc;
fill:
    for (i = 0; i < r->nseg; i++)
        segs[i] = (struct blkif_request_segment){
            .gref = r->ext_ref[i],
            .first_sect = 0,
            .last_sect =
                (uint8_t)(seg_bytes(r, i, XGBF_EXT_SEG) / XGBF_SECT - 1),
        };
    return 0;
}

/* Standard grants: pages of the persistent pool, data copied in. */
static int segs_v1(struct xgbf *d, struct xgbf_req *r,
                   struct blkif_request_segment *segs)
{
    unsigned i,
        n = (unsigned)((r->len + GRANT_PAGE_SIZE - 1) / GRANT_PAGE_SIZE);

    for (i = 0; i < n; i++) {
        size_t b = seg_bytes(r, i, GRANT_PAGE_SIZE);

        r->pg[i] = xgbf_pool_get(d, &d->pool_v1[r->q]);
        r->nseg = r->pg[i] ? i + 1 : i;
        if (!r->pg[i])
            return -ENOMEM;
        if (r->op == XGBF_WRITE)
            memcpy(r->pg[i]->addr, (char *)r->buf + (size_t)i * GRANT_PAGE_SIZE,
                   b);
        segs[i] = (struct blkif_request_segment){
            .gref = r->pg[i]->ref,
            .first_sect = 0,
            .last_sect = (uint8_t)(b / XGBF_SECT - 1),
        };
    }
    return 0;
}

static int fill_rw(struct xgbf *d, struct xgbf_req *r, uint64_t id, void *slot)
{
    struct blkif_request_segment segs[XGBF_MAX_SEGS];
    int rc;

    if (r->len > d->info.max_io)
        return -EIO; /* the backend came back with smaller requests */
    rc = d->info.grant_ext ? segs_ext(d, r, segs) : segs_v1(d, r, segs);
    if (rc < 0)
        return rc;
    r->inner_op = r->op == XGBF_WRITE ? BLKIF_OP_WRITE : BLKIF_OP_READ;
    if (r->nseg <= BLKIF_MAX_SEGMENTS_PER_REQUEST) {
        struct blkif_request *q = slot;

        r->ring_op = r->inner_op;
        memset(q, 0, sizeof(*q));
        q->operation = r->ring_op;
        q->nr_segments = (uint8_t)r->nseg;
        q->handle = (blkif_vdev_t)d->devid;
        q->id = id;
        q->sector_number = r->offset / XGBF_SECT;
        memcpy(q->seg, segs, r->nseg * sizeof(segs[0]));
        return 0;
    }
    r->ind = xgbf_pool_get(d, xgbf_pool_ind(d));
    if (!r->ind)
        return -ENOMEM;
    memcpy(r->ind->addr, segs, r->nseg * sizeof(segs[0]));
    {
        struct blkif_request_indirect *q = slot;

        r->ring_op = BLKIF_OP_INDIRECT;
        memset(q, 0, sizeof(*q));
        q->operation = BLKIF_OP_INDIRECT;
        q->indirect_op = r->inner_op;
        q->nr_segments = (uint16_t)r->nseg;
        q->id = id;
        q->sector_number = r->offset / XGBF_SECT;
        q->handle = (blkif_vdev_t)d->devid;
        q->indirect_grefs[0] = r->ind->ref;
    }
    return 0;
}

static int fill(struct xgbf *d, struct xgbf_req *r, uint64_t id, void *slot)
{
    if (r->op == XGBF_READ || r->op == XGBF_WRITE)
        return fill_rw(d, r, id, slot);
    if (r->op == XGBF_DISCARD) {
        struct blkif_request_discard *q = slot;

        r->ring_op = r->inner_op = BLKIF_OP_DISCARD;
        memset(q, 0, sizeof(struct blkif_request));
        q->operation = BLKIF_OP_DISCARD;
        q->handle = (blkif_vdev_t)d->devid;
        q->id = id;
        q->sector_number = r->offset / XGBF_SECT;
        q->nr_sectors = r->len / XGBF_SECT;
        return 0;
    }
    {
        struct blkif_request *q = slot;

        r->ring_op = r->inner_op = d->flush_op;
        memset(q, 0, sizeof(*q));
        q->operation = d->flush_op;
        q->handle = (blkif_vdev_t)d->devid;
        q->id = id;
        return 0;
    }
}

/* A free id on a queue with a free ring slot; -EAGAIN when none. */
static int pick(struct xgbf *d, unsigned *qo, unsigned *ido)
{
    unsigned n = xfe_nr_queues(d->fe), k, i;

    for (k = 0; k < n; k++) {
        unsigned q = (d->rr + k) % n;
        struct xgbf_shadow *sh = &d->sh[q];

        if (!xfe_ring_free(&xfe_queue(d->fe, q)->ring[0]))
            continue;
        for (i = 0; i < sh->nr; i++) {
            if (!sh->slot[i]) {
                d->rr = q + 1;
                *qo = q;
                *ido = i;
                return 0;
            }
        }
    }
    return -EAGAIN;
}

/* Puts r on a ring: 0, -EAGAIN (full), or an error of r's own.  The
 * backend is notified when it asks, at once, or with notify NULL, by the
 * caller (*notify gets the queue's bit). */
static int issue_to(struct xgbf *d, struct xgbf_req *r, uint32_t *notify)
{
    struct xfe_queue *xq;
    unsigned q, id;
    int rc = pick(d, &q, &id);

    if (rc < 0)
        return rc;
    xq = xfe_queue(d->fe, q);
    r->q = q;
    rc = fill(d, r, id, xfe_ring_req_slot(&xq->ring[0]));
    if (rc < 0) {
        release(d, r);
        /* Out of granted memory or grant entries (the table's quota): wait
         * for requests in flight to give some back; with none in flight
         * they will not come. */
        return (rc == -ENOMEM || rc == -ENOSPC) && d->on_ring ? -EAGAIN : rc;
    }
    d->sh[q].slot[id] = r;
    d->on_ring++;
    xfe_ring_req_done(&xq->ring[0]);
    if (xfe_ring_push(&xq->ring[0])) {
        if (notify)
            *notify |= 1u << q;
        else
            xfe_kick(d->fe, q, 0);
    }
    return 0;
}

static int issue(struct xgbf *d, struct xgbf_req *r)
{
    return issue_to(d, r, NULL);
}

static void drain_recover(struct xgbf *d)
{
    struct xgbf_req *r;
    int rc;

    while ((r = d->recover) && d->connected && !d->broken) {
        rc = issue(d, r);
        if (rc == -EAGAIN)
            break;
        d->recover = r->next;
        if (!d->recover)
            d->recover_tail = &d->recover;
        if (rc < 0)
            deliver(d, r, rc);
    }
}

/* ---- Responses ------------------------------------------------------ */

static void broken(struct xgbf *d, const char *why, unsigned q,
                   unsigned long long v)
{
    char msg[160];

    snprintf(msg, sizeof(msg), "71 queue %u: %s (%llu)", q, why, v);
    xgbf_log(d, "backend broke the protocol: %s", msg + 3);
    grant_xenbus_write(d->xb, XBT_NULL, xfe_dir(d->fe), "error", msg);
    d->broken = -EIO;
    xgbf_io_fail_all(d, -EIO);
}

static int rsp_status(struct xgbf *d, int16_t st, unsigned q)
{
    if (st == BLKIF_RSP_OKAY)
        return 0;
    if (st == BLKIF_RSP_EOPNOTSUPP)
        return -EOPNOTSUPP;
    if (st != BLKIF_RSP_ERROR)
        xgbf_log(d, "queue %u: response status %d is not blkif's", q, st);
    return -EIO;
}

#define XGBF_BATCH 32u /* completions whose grants end in one call */

/* Completes n requests taken from the ring: their byte-exact grants end
 * in one call first (the backend cannot touch the data after), then the
 * data is copied out where it was bounced, and each is delivered. */
static void finish(struct xgbf *d, struct xgbf_req **rs, const int *st,
                   unsigned n)
{
    struct grant_revoke_req rv[XGBF_BATCH * (XGBF_MAX_IO / XGBF_EXT_SEG)];
    unsigned i, k, m = 0;

    for (i = 0; i < n; i++) {
        for (k = 0; rs[i]->ext_granted && k < rs[i]->nseg; k++)
            rv[m++] = (struct grant_revoke_req){rs[i]->ext_ref[k],
                                                GRANT_REVOKE_FORCE, 0};
        rs[i]->ext_granted = 0;
    }
    if (m)
        grant_revoke_batch(d->h, rv, m);
    for (i = 0; i < n; i++) {
        if (st[i] == 0 && rs[i]->op == XGBF_READ)
            copy_out(rs[i]);
        release(d, rs[i]);
        deliver(d, rs[i], st[i]);
    }
}

/* The response's request, checked (id in flight, operation its own), off
 * the ring's shadow; NULL with *why set otherwise. */
static struct xgbf_req *match(struct xgbf *d, unsigned q,
                              const struct blkif_response *rsp,
                              const char **why, unsigned long long *what)
{
    struct xgbf_shadow *sh = &d->sh[q];
    uint64_t id = rsp->id; /* the copy: read once */
    struct xgbf_req *r;

    if (id >= sh->nr || !(r = sh->slot[id])) {
        *why = "response id not in flight";
        *what = id;
        return NULL;
    }
    if (rsp->operation != r->ring_op && rsp->operation != r->inner_op) {
        *why = "response operation is not the request's";
        *what = rsp->operation;
        return NULL;
    }
    sh->slot[id] = NULL;
    d->on_ring--;
    return r;
}

/* Takes every response of queue q; 0, or -EIO when the device broke. */
static int take(struct xgbf *d, unsigned q)
{
    struct xfe_ring *ring = &xfe_queue(d->fe, q)->ring[0];
    struct xgbf_req *rs[XGBF_BATCH];
    const char *why = "response producer index beyond the requests";
    unsigned long long what = 0;
    int st[XGBF_BATCH], rc;
    union blkif_sring_entry e;
    unsigned n = 0;

    for (;;) {
        rc = xfe_ring_take(ring, &e);
        if (rc == 0 && xfe_ring_final_check(ring) > 0)
            continue;
        if (rc == 0)
            break;
        if (rc < 0) {
            what = ring->rsp_cons;
            break;
        }
        if (!(rs[n] = match(d, q, &e.rsp, &why, &what))) {
            rc = -EIO;
            break;
        }
        st[n] = rsp_status(d, e.rsp.status, q);
        if (++n == XGBF_BATCH) {
            finish(d, rs, st, n);
            n = 0;
        }
    }
    /* The ones taken complete before a broken device fails the rest. */
    finish(d, rs, st, n);
    if (rc < 0) {
        broken(d, why, q, what);
        return -EIO;
    }
    return 0;
}

/* ---- Connection ----------------------------------------------------- */

int xgbf_io_connect(struct xgbf *d)
{
    unsigned q, n = xfe_nr_queues(d->fe);

    for (q = 0; q < n; q++) {
        struct xgbf_shadow *sh = &d->sh[q];

        sh->nr = xfe_queue(d->fe, q)->ring[0].nr_ents;
        sh->slot = calloc(sh->nr, sizeof(*sh->slot));
        if (!sh->slot)
            return -ENOMEM;
    }
    return 0;
}

/* In-flight requests keep their order of ids, queue by queue. */
void xgbf_io_disconnect(struct xgbf *d)
{
    struct xgbf_req *keep = NULL, **tail = &keep;
    unsigned q, i;

    for (q = 0; q < XFE_MAX_QUEUES; q++) {
        struct xgbf_shadow *sh = &d->sh[q];

        for (i = 0; i < sh->nr; i++) {
            struct xgbf_req *r = sh->slot[i];

            if (!r)
                continue;
            release(d, r);
            list_add(&tail, r);
            d->on_ring--;
        }
        free(sh->slot);
        sh->slot = NULL;
        sh->nr = 0;
    }
    /* Requests waiting for a slot may hold grants to this backend. */
    for (struct xgbf_req *r = d->recover; r; r = r->next)
        release(d, r);
    bounce_forget(d);
    /* Re-issued before anything submitted since. */
    if (keep) {
        *tail = d->recover;
        if (!d->recover)
            d->recover_tail = tail;
        d->recover = keep;
    }
}

void xgbf_io_fail_all(struct xgbf *d, int err)
{
    struct xgbf_req *r;
    unsigned q, i;

    for (q = 0; q < XFE_MAX_QUEUES; q++) {
        struct xgbf_shadow *sh = &d->sh[q];

        for (i = 0; i < sh->nr; i++) {
            if (!(r = sh->slot[i]))
                continue;
            sh->slot[i] = NULL;
            d->on_ring--;
            release(d, r);
            deliver(d, r, err);
        }
    }
    while ((r = d->recover)) {
        d->recover = r->next;
        release(d, r);
        deliver(d, r, err);
    }
    d->recover_tail = &d->recover;
}

void xgbf_io_destroy(struct xgbf *d)
{
    struct xgbf_req *r;
    unsigned q, i;

    for (q = 0; q < XFE_MAX_QUEUES; q++)
        free(d->sh[q].slot);
    while ((r = d->done)) {
        d->done = r->next;
        free(r);
    }
    while ((r = d->free_reqs)) {
        d->free_reqs = r->next;
        free(r);
    }
    bounce_forget(d);
    for (i = 0; i < d->nr_bounce_all; i++) {
        grant_mem_free(d->h, d->bounce_all[i]->buf);
        free(d->bounce_all[i]);
    }
    free(d->bounce_all);
}

static long long now_ms(void);

static void follow_backend(struct xgbf *d)
{
    int rc, st, ev = 0;

    while (grant_xenbus_read_event(d->xb, 0, NULL, NULL) == 1)
        ev++;
    if (!ev && (d->connected || now_ms() < d->retry_at))
        return;
    st = xfe_update(d->fe);
    if (st == XenbusStateConnected) {
        unsigned long sectors;

        /* A capacity change is a re-write of Connected with `sectors`. */
        if (xfe_be_uint(d->fe, XBT_NULL, "sectors", UINT64_MAX >> 9,
                        &sectors) == 1)
            d->info.size = sectors * XGBF_SECT;
        return;
    }
    if (st != XenbusStateClosed || d->broken)
        return;
    if (!d->away) {
        xgbf_log(d, "backend left Connected; reconnecting");
        d->away = 1;
    }
    rc = xfe_reconnect(d->fe, d->opts.timeout_ms);
    if (rc < 0) {
        /* Its directory gone or unreadable fails at once: try again on
         * the next store event, or in 200 ms; say so once. */
        if (d->away == 1)
            xgbf_log(d, "reconnection failed (%d); retrying", rc);
        d->away = 2;
        d->retry_at = now_ms() + 200;
        return;
    }
    d->away = 0;
    d->info.reconnects++;
    xgbf_log(d, "reconnected; re-issuing the requests in flight");
}

void xgbf_process(struct xgbf *d)
{
    uint32_t port;
    unsigned q;

    follow_backend(d);
    while (grant_evtchn_pending(d->h, &port) > 0)
        ;
    for (q = 0; d->connected && !d->broken && q < xfe_nr_queues(d->fe); q++)
        if (take(d, q) < 0)
            break;
    drain_recover(d);
}

/* ---- Waiting -------------------------------------------------------- */

/* Whether w has what it waits for. */
static int satisfied(const struct xgbf *d, const struct xgbf_wait *w)
{
    if (w->reaper)
        return d->done != NULL || d->broken;
    return w->slot || w->pending == 0; /* a slot: tries again */
}

/* Sleeps up to ms on w's word (lock held, and on return but for
 * WAKE_DONE: 1 then, unlocked, its requests all completed). */
static int sleep_on(struct xgbf *d, struct xgbf_wait *w, int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    uint32_t why;

    w->word = WAKE_NONE;
    w->asleep = 1;
    w->next = d->sleepers;
    d->sleepers = w;
    unlock(d);
    syscall(SYS_futex, &w->word, FUTEX_WAIT_PRIVATE, WAKE_NONE, &ts, NULL, 0);
    why = __atomic_load_n(&w->word, __ATOMIC_ACQUIRE);
    if (why == WAKE_DONE)
        return 1;
    pthread_mutex_lock(&d->lock);
    if (w->asleep) { /* timed out (or a stale wake): still listed */
        unlist(d, w);
        return 0;
    }
    /* Taken off the list: its waker stores the word after unlocking;
     * wait for that store before w may go. */
    while ((why = __atomic_load_n(&w->word, __ATOMIC_ACQUIRE)) == WAKE_NONE)
        syscall(SYS_futex, &w->word, FUTEX_WAIT_PRIVATE, WAKE_NONE, NULL, NULL,
                0);
    return 0;
}

/* One round of waiting for progress (lock held; 1: returned unlocked,
 * see sleep_on): one thread polls the device's fd for everyone and
 * handles what came; the others sleep until their requests complete or
 * the poller, done with its own, hands the polling to one of them. */
static int wait_round(struct xgbf *d, struct xgbf_wait *w, int ms)
{
    if (d->poller)
        return sleep_on(d, w, ms);
    d->poller = 1;
    unlock(d);
    {
        struct pollfd pf = {.fd = d->epfd, .events = POLLIN};

        poll(&pf, 1, ms);
    }
    pthread_mutex_lock(&d->lock);
    d->poller = 0;
    xgbf_process(d);
    if (!satisfied(d, w)) /* polls again itself */
        return 0;
    for (struct xgbf_wait *s = d->sleepers; s; s = s->next)
        if (!satisfied(d, s)) {
            wake_later(d, s, WAKE_LOOK); /* the next poller */
            break;
        }
    return 0;
}

static void wait_init(struct xgbf_wait *w, int reaper)
{
    *w = (struct xgbf_wait){.reaper = reaper};
}

/* ---- The calls ------------------------------------------------------ */

static int check(struct xgbf *d, enum xgbf_op op, uint64_t off, size_t len)
{
    const struct xgbf_info *in = &d->info;
    uint64_t end;

    if (d->broken)
        return -EIO;
    if (op == XGBF_FLUSH)
        return in->flush ? 0 : -EOPNOTSUPP;
    if (op != XGBF_READ && op != XGBF_WRITE && op != XGBF_DISCARD)
        return -EINVAL;
    if (op == XGBF_DISCARD && !in->discard)
        return -EOPNOTSUPP;
    if (!len || off % in->sector_size || len % in->sector_size ||
        (op != XGBF_DISCARD && len > in->max_io))
        return -EINVAL;
    if (__builtin_add_overflow(off, (uint64_t)len, &end) || end > in->size)
        return -ERANGE;
    if (op != XGBF_READ && in->readonly)
        return -EROFS;
    return 0;
}

static int submit_locked(struct xgbf *d, enum xgbf_op op, uint64_t off,
                         void *buf, size_t len, uint64_t cookie,
                         struct xgbf_wait *w)
{
    struct xgbf_req *r;
    int rc = check(d, op, off, len);

    if (rc < 0)
        return rc;
    r = req_get(d);
    if (!r)
        return -ENOMEM;
    r->op = op;
    r->offset = op == XGBF_FLUSH ? 0 : off;
    r->buf = buf;
    r->len = op == XGBF_FLUSH ? 0 : len;
    r->cookie = cookie;
    r->wait = w;
    if (!d->connected || d->recover) {
        list_add(&d->recover_tail, r); /* issued once reconnected */
    } else if ((rc = issue(d, r)) < 0) {
        req_put(d, r);
        return rc;
    }
    d->inflight++;
    return 0;
}

int xgbf_submit(struct xgbf *d, enum xgbf_op op, uint64_t offset, void *buf,
                size_t len, uint64_t cookie)
{
    int rc;

    pthread_mutex_lock(&d->lock);
    rc = submit_locked(d, op, offset, buf, len, cookie, NULL);
    unlock(d);
    return rc;
}

#define XGBF_SUBMITV_SEGS 256u /* segments granted by one call */

/* The byte-exact grants of rs[0..n), READ and WRITE over grantable
 * memory, in as few calls as XGBF_SUBMITV_SEGS allows; a group that fails
 * (a buffer elsewhere: bounced) is left to issue. */
static void grant_many(struct xgbf *d, struct xgbf_req **rs, unsigned n)
{
    struct grant_create_req c[XGBF_SUBMITV_SEGS];
    grant_domid_t be = (grant_domid_t)xfe_be_id(d->fe);
    unsigned i = 0, first, k, m, s;

    while (i < n) {
        for (first = i, m = 0; i < n; i++) {
            struct xgbf_req *r = rs[i];
            unsigned ns =
                (unsigned)((r->len + XGBF_EXT_SEG - 1) / XGBF_EXT_SEG);

            if (r->op != XGBF_READ && r->op != XGBF_WRITE)
                continue;
            if (m + ns > XGBF_SUBMITV_SEGS)
                break;
            for (s = 0; s < ns; s++)
                c[m++] = (struct grant_create_req){
                    .grantee = be,
                    .rights = seg_rights(d, r),
                    .ptr = (char *)r->buf + (size_t)s * XGBF_EXT_SEG,
                    .len = seg_bytes(r, s, XGBF_EXT_SEG),
                };
        }
        if (!m || grant_create_batch(d->h, c, m) < 0)
            continue;
        for (k = first, m = 0; k < i; k++) {
            struct xgbf_req *r = rs[k];

            if (r->op != XGBF_READ && r->op != XGBF_WRITE)
                continue;
            r->nseg = (unsigned)((r->len + XGBF_EXT_SEG - 1) / XGBF_EXT_SEG);
            for (s = 0; s < r->nseg; s++)
                r->ext_ref[s] = c[m++].ref;
            r->ext_granted = 1;
        }
    }
}

/* Up to 64 of sqes as requests into rs: how many; *rc the error of the
 * first refused (0 when none was). */
static unsigned take_sqes(struct xgbf *d, const struct xgbf_sqe *sqes,
                          unsigned n, struct xgbf_req **rs, int *rc)
{
    unsigned k;

    for (k = 0; k < 64 && k < n; k++) {
        const struct xgbf_sqe *e = &sqes[k];

        if ((*rc = check(d, e->op, e->offset, e->len)) < 0)
            break;
        if (!(rs[k] = req_get(d))) {
            *rc = -ENOMEM;
            break;
        }
        *rs[k] =
            (struct xgbf_req){.op = e->op,
                              .offset = e->op == XGBF_FLUSH ? 0 : e->offset,
                              .buf = e->buf,
                              .len = e->op == XGBF_FLUSH ? 0 : e->len,
                              .cookie = e->cookie};
    }
    return k;
}

int xgbf_submitv(struct xgbf *d, const struct xgbf_sqe *sqes, unsigned n)
{
    struct xgbf_req *rs[64];
    uint32_t notify = 0;
    unsigned done = 0, k, i, q;
    int rc = 0;

    pthread_mutex_lock(&d->lock);
    while (rc == 0 && done < n) {
        k = take_sqes(d, sqes + done, n - done, rs, &rc);
        if (d->connected && !d->recover && d->info.grant_ext && !d->broken)
            grant_many(d, rs, k);
        for (i = 0; i < k; i++) {
            int st = d->connected && !d->recover ? issue_to(d, rs[i], &notify)
                                                 : -EAGAIN;

            d->inflight++;
            if (st == -EAGAIN) /* issued in order as slots free */
                list_add(&d->recover_tail, rs[i]);
            else if (st < 0)
                deliver(d, rs[i], st);
        }
        done += k;
    }
    for (q = 0; q < 32; q++)
        if (notify & (1u << q))
            xfe_kick(d->fe, q, 0);
    unlock(d);
    return done ? (int)done : rc;
}

static unsigned take_done(struct xgbf *d, struct xgbf_cqe *c, unsigned max)
{
    unsigned n = 0;
    struct xgbf_req *r;

    while (n < max && (r = d->done)) {
        d->done = r->next;
        if (!d->done)
            d->done_tail = &d->done;
        c[n].cookie = r->cookie;
        c[n].status = r->status;
        n++;
        d->inflight--;
        req_put(d, r);
    }
    return n;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

int xgbf_reap(struct xgbf *d, struct xgbf_cqe *cqes, unsigned max,
              int timeout_ms)
{
    long long end = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    struct xgbf_wait w;
    unsigned n;

    wait_init(&w, 1);
    pthread_mutex_lock(&d->lock);
    if (!d->poller)
        xgbf_process(d);
    for (;;) {
        long long left = end - now_ms();

        n = take_done(d, cqes, max);
        if (n || !max || d->broken || (timeout_ms >= 0 && left <= 0))
            break;
        wait_round(d, &w, timeout_ms < 0 || left > 100 ? 100 : (int)left);
    }
    unlock(d);
    return n || !d->broken ? (int)n : d->broken;
}

unsigned xgbf_inflight(struct xgbf *d)
{
    unsigned n;

    pthread_mutex_lock(&d->lock);
    n = d->inflight;
    unlock(d);
    return n;
}

static int sync_io(struct xgbf *d, enum xgbf_op op, void *buf, uint64_t len,
                   uint64_t off)
{
    struct xgbf_wait w;
    uint64_t done = 0;
    int rc = 0;

    wait_init(&w, 0);
    pthread_mutex_lock(&d->lock);
    do {
        uint64_t chunk = len - done;

        if (op != XGBF_DISCARD && op != XGBF_FLUSH && chunk > d->info.max_io)
            chunk = d->info.max_io;
        if (op == XGBF_DISCARD && chunk > (1ull << 30))
            chunk = 1ull << 30;
        rc = submit_locked(d, op, off + done, buf ? (char *)buf + done : NULL,
                           (size_t)chunk, 0, &w);
        if (rc == -EAGAIN) {
            w.slot = 1;
            wait_round(d, &w, 100); /* never WAKE_DONE: not final */
            w.slot = 0;
            continue;
        }
        if (rc < 0)
            break;
        w.pending++;
        done += chunk;
    } while (done < len);
    w.final = 1;
    while (w.pending)
        if (wait_round(d, &w, 100))
            return rc < 0 ? rc : w.err; /* WAKE_DONE: unlocked */
    unlock(d);
    return rc < 0 ? rc : w.err;
}

int xgbf_pread(struct xgbf *d, void *buf, size_t len, uint64_t offset)
{
    return sync_io(d, XGBF_READ, buf, len, offset);
}

int xgbf_pwrite(struct xgbf *d, const void *buf, size_t len, uint64_t offset)
{
    return sync_io(d, XGBF_WRITE, (void *)buf, len, offset);
}

int xgbf_flush(struct xgbf *d)
{
    return sync_io(d, XGBF_FLUSH, NULL, 0, 0);
}

int xgbf_discard(struct xgbf *d, uint64_t offset, uint64_t len)
{
    return sync_io(d, XGBF_DISCARD, NULL, len, offset);
}
