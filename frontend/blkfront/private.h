/* SPDX-License-Identifier: MIT */
/* private.h: libxgblkfront's internals (xgblkfront.h is the contract). */
#ifndef XGBF_PRIVATE_H
#define XGBF_PRIVATE_H

#include <pthread.h>
#include <stdint.h>

/* Xen's grant_table.h (included by blkif.h) has a grant_handle_t of its
 * own; libgrant's is the one this code means. */
#define grant_handle_t xen_grant_handle_t
#include <xen/io/blkif.h>
#undef grant_handle_t

#include "libgrant.h"
#include "libgrant_xenbus.h"
#include "xfe.h"
#include "xgblkfront.h"

#define XGBF_SECT 512u
/* Bytes of a byte-exact segment: blkif's most (last_sect 255). */
#define XGBF_EXT_SEG  (128u * 1024)
#define XGBF_MAX_IO   (1024u * 1024)
#define XGBF_MAX_SEGS 128u /* v1: 128 pages = 512 KiB */
#define XGBF_SEGS_PER_IND                                                      \
    (GRANT_PAGE_SIZE / sizeof(struct blkif_request_segment))
#define XGBF_POOL_CHUNK 32u /* pages per grant_v1_share */
/* Pages a pool may hold: a queue's v1 pool holds two requests of the
 * largest size (the backend maps each of them once per queue: Linux's
 * blkback keeps up to 1056 a queue). */
#define XGBF_POOL_MAX 288u

/* ---- pool.c: granted pages kept for reuse -------------------------------- */

enum xgbf_pool_kind {
    XGBF_POOL_V1,    /* grant_v1_share, read-write: v1 data pages */
    XGBF_POOL_V1_RO, /* grant_v1_share read-only: v1 indirect pages */
    /* (read-write with persistent grants: Linux's blkback then maps every
     * grant, indirect pages too, read-write, and fails a read-only one) */
    XGBF_POOL_EXT_RO /* one-page extension grants, READ: indirect pages */
};
struct xgbf_page {
    void *addr;
    uint32_t ref;
    int oneshot; /* shared for one request: ended, not reused (XSA-396) */
    /* The pool whose chunk holds it, where put gives it back: never the
     * pool the connection of the moment would pick (a reconnection may
     * have changed feature-persistent or feature-grant-ext meanwhile). */
    struct xgbf_pool *pool;
    struct xgbf_page *next;
};
struct xgbf_chunk {
    void *addr;
    struct xgbf_page pages[XGBF_POOL_CHUNK];
    struct xgbf_chunk *next;
};
struct xgbf_pool {
    enum xgbf_pool_kind kind;
    struct xgbf_page *free;
    struct xgbf_chunk *chunks;
    unsigned pages;
};
/* A page (growing the pool by a chunk when empty); NULL at the cap or on
 * a grant error.  Standard grants without feature-persistent: a page
 * shared for this request alone (oneshot), which put ends. */
struct xgbf_page *xgbf_pool_get(struct xgbf *d, struct xgbf_pool *p);
/* Gives pg back to its own pool (pg->pool), or ends a oneshot one. */
void xgbf_pool_put(struct xgbf *d, struct xgbf_page *pg);
/* Ends every grant of the pool and frees its pages. */
void xgbf_pool_destroy(struct xgbf *d, struct xgbf_pool *p);
/* The pool a new indirect page comes from, by what is negotiated now. */
struct xgbf_pool *xgbf_pool_ind(struct xgbf *d);

/* ---- The device ------------------------------------------------------- */

struct xgbf_wait; /* io.c: a synchronous caller's group of requests */

struct xgbf_req {
    enum xgbf_op op;
    uint64_t offset;
    void *buf;
    size_t len;
    uint64_t cookie;
    unsigned q;             /* the queue it was put on */
    struct xgbf_wait *wait; /* NULL: completes to the reap queue */
    int status;
    /* While on a ring: */
    unsigned nseg;
    uint8_t ring_op; /* the blkif operation (INDIRECT's inner op below) */
    uint8_t inner_op;
    grant_ref_t ext_ref[XGBF_MAX_IO / XGBF_EXT_SEG];
    int ext_granted;
    struct xgbf_bounce *bounce;          /* grant-ext bounce buffer */
    struct xgbf_page *pg[XGBF_MAX_SEGS]; /* v1 data pages */
    struct xgbf_page *ind;               /* indirect page */
    struct xgbf_req *next;               /* recover / done lists */
};

struct xgbf_shadow {
    struct xgbf_req **slot; /* [ring size]: the request of id i */
    unsigned nr;
};

/* A grant kept over one segment of a bounce buffer. */
struct xgbf_kept {
    grant_ref_t ref;
    uint32_t len; /* 0: none */
    unsigned rights;
};
/* A bounce buffer (XGBF_MAX_IO bytes of the handle's grantable memory)
 * for the callers' buffers elsewhere.  It only ever holds data of the
 * requests this backend moves, so the byte-exact grants over its
 * segments are kept for the next request of the same shape ([0]: READ,
 * for writes; [1]: WRITE, for reads), as Linux's blkfront keeps its
 * bounce pages granted; they end when the rings go away.  The bookkeeping
 * lives outside the granted memory. */
struct xgbf_bounce {
    void *buf;
    struct xgbf_kept kept[2][XGBF_MAX_IO / XGBF_EXT_SEG];
    struct xgbf_bounce *next; /* free list */
};

struct xgbf {
    pthread_mutex_t lock;
    int poller;                 /* a thread is in poll() for everyone */
    struct xgbf_wait *sleepers; /* threads asleep in io.c's wait_round */
    struct xgbf_wait *wake;     /* to wake once the lock is released */
    grant_handle_t *h;
    grant_xenbus_t *xb;
    struct xfe_dev *fe;
    struct xfe_ops ops;
    struct xgbf_opts opts;
    unsigned devid;
    int epfd;
    int broken; /* 0 or -EIO: the backend broke the protocol */
    int connected;
    int away;           /* 1: the backend left, 2: a reconnection failed */
    long long retry_at; /* ms (CLOCK_MONOTONIC): the next reconnection */
    uint8_t flush_op;   /* FLUSH_DISKCACHE or WRITE_BARRIER */
    int delegate;       /* feature-grant-delegate: segment grants DELEGATE */
    unsigned on_ring;   /* requests on a ring now */
    struct xgbf_info info;
    unsigned rr; /* round-robin queue choice */
    struct xgbf_shadow sh[XFE_MAX_QUEUES];
    unsigned inflight;                        /* submitted, not reaped */
    struct xgbf_req *recover, **recover_tail; /* to re-issue */
    struct xgbf_req *done, **done_tail;       /* to reap */
    struct xgbf_req *free_reqs;
    struct xgbf_pool pool_v1[XFE_MAX_QUEUES]; /* data pages, per queue */
    struct xgbf_pool pool_v1_ro, pool_ext_ro; /* indirect pages */
    struct xgbf_pool pool_v1_ind;             /* the same, persistent v1 */
    struct xgbf_bounce *bounces;
    struct xgbf_bounce **bounce_all; /* every bounce buffer, for close */
    unsigned nr_bounce_all;
};

/* ---- blkfront.c ------------------------------------------------------- */
void xgbf_log(struct xgbf *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- io.c ------------------------------------------------------------- */
/* The rings are going away: requests in flight move to the recover list
 * with their grants ended (xfe's disconnect callback). */
void xgbf_io_disconnect(struct xgbf *d);
/* The rings are new: shadows for them (xfe's connect callback). */
int xgbf_io_connect(struct xgbf *d);
/* Completes every request (in flight or to re-issue) with err. */
void xgbf_io_fail_all(struct xgbf *d, int err);
/* Follows the backend and takes responses; lock held. */
void xgbf_process(struct xgbf *d);
void xgbf_io_destroy(struct xgbf *d);

#endif
