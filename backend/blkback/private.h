/* SPDX-License-Identifier: MIT */
/*
 * private.h: xgrant-blkback's internals.  One daemon serves every vbd of
 * its domain: the main thread drives the xenbus side (xbe), and each
 * queue of a connected vbd is served by a thread of its own, with its own
 * grant handle and io_uring.
 */
#ifndef BLKBACK_PRIVATE_H
#define BLKBACK_PRIVATE_H

#include <liburing.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

#include "iohelper.h"
#include "xbe.h"

/* Xen's grant_table.h (under blkif.h) has a grant_handle_t of its own. */
#define grant_handle_t xen_grant_handle_t
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#undef grant_handle_t

#define BB_MAX_INDIRECT_SEGS 256u /* feature-max-indirect-segments */
#define BB_SEGS_PER_IPAGE                                                      \
    (GRANT_PAGE_SIZE / sizeof(struct blkif_request_segment))
#define BB_MAX_EXT_SECTS 256u  /* a grant-ext segment: up to 128 KiB */
#define BB_MAX_PGRANTS   1056u /* persistent grants per queue (Linux's) */
#define BB_SECTOR        512u

/* ---- Options (main.c) --------------------------------------------------- */

struct bb_opts {
    unsigned max_queues;
    unsigned max_ring_order;
    int persistent; /* offer feature-persistent */
    int grant_ext;  /* offer feature-grant-ext */
    int direct;     /* O_DIRECT where the file and the alignment allow */
    int grant_io;   /* grant-ext data by the grant-I/O call when offered */
    int io_helper;  /* offer feature-grant-delegate: I/O by a helper domain */
    const char *io_helper_prog; /* the helper's program; NULL: this one */
    size_t bounce_budget;       /* bytes of copy buffers per queue */
    const char *log;
};

/* ---- The image (image.c) ------------------------------------------------ */

struct bb_image {
    int fd;             /* buffered */
    int dfd;            /* O_DIRECT, or -1 */
    unsigned dio_mem;   /* O_DIRECT memory alignment */
    unsigned dio_off;   /* O_DIRECT offset and length alignment */
    uint64_t sectors;   /* 512-byte sectors */
    int readonly;       /* mode=r, or opened read-only */
    int bdev;           /* a block device (BLKDISCARD) */
    unsigned info;      /* VDISK_* */
    unsigned phys_sect; /* physical-sector-size */
    unsigned discard;   /* 0: no discard */
    unsigned discard_gran;
    char path[256];
};

/* Opens `params` ("[aio:|raw:|file:]path") with `mode` ("r" or "w"):
 * 0 or -errno, with why in err. */
int bb_image_open(struct bb_image *img, const char *params, const char *mode,
                  int direct, int discard, char *err, size_t len);
/* NULL-safe, idempotent. */
void bb_image_close(struct bb_image *img);

/* ---- Counters (stats.c) ------------------------------------------------- */

enum {
    BB_ST_OO,
    BB_ST_RD,
    BB_ST_WR,
    BB_ST_F,
    BB_ST_DS,
    BB_ST_RD_SECT,
    BB_ST_WR_SECT,
    BB_ST_ERRORS,
    BB_NR_ST
};
extern const char *const bb_stat_names[BB_NR_ST];

struct bb_stats {
    uint64_t v[BB_NR_ST]; /* atomics: every queue thread adds */
    uint64_t shown[BB_NR_ST];
    int dirty_once; /* publish even if unchanged */
};
static inline void bb_stat_add(struct bb_stats *s, int which, uint64_t n)
{
    __atomic_fetch_add(&s->v[which], n, __ATOMIC_RELAXED);
}
/* Writes statistics/<name> of the changed counters under dir. */
void bb_stats_publish(struct bb_stats *s, grant_xenbus_t *xb, const char *dir);

/* ---- A queue (queue.c, req.c, pgrant.c) --------------------------------- */

struct bb_vbd;

/* A persistent grant: a v1 ref mapped once, kept for the device's life. */
struct bb_pgrant {
    grant_v1_ref_t ref;
    void *addr;
    unsigned users; /* requests in flight using it */
    int revoked;    /* the frontend force-revoked it: scratch page */
    int no_direct;  /* O_DIRECT into it failed (EFAULT): page cache */
    int used;       /* hash slot taken */
};

/* What a request moves its data through. */
enum {
    BB_VIA_MAP,
    BB_VIA_V1COPY,
    BB_VIA_EXTCOPY,
    BB_VIA_GRANTIO,
    BB_VIA_HELPER
};

/* A request in flight, in the slot its ring index names. */
struct bb_req {
    int busy;
    uint64_t id;
    uint8_t op;     /* the operation answered (INDIRECT: indirect_op) */
    uint8_t kind;   /* BLKIF_OP_* actually done */
    int16_t status; /* BLKIF_RSP_* */
    int write;
    uint64_t sector, bytes;
    unsigned nseg;
    unsigned pending; /* SQEs not completed */
    int err;          /* first error of an SQE */
    struct blkif_request_segment seg[BB_MAX_INDIRECT_SEGS];
    struct bb_pgrant *pg[BB_MAX_INDIRECT_SEGS]; /* BB_VIA_MAP */
    struct iovec iov[BB_MAX_INDIRECT_SEGS];
    unsigned gio_first; /* BB_VIA_GRANTIO: its first segment in q->gio */
    int via;
    int direct;   /* its data went with O_DIRECT */
    void *bounce; /* copy buffer (this queue's handle memory) */
    size_t bounce_len;
};

struct bb_queue {
    struct bb_vbd *v;
    unsigned index;
    grant_handle_t *h; /* this thread's handle (ports bound with it) */
    pthread_t thread;
    int running;
    int stop_fd; /* eventfd: stop */
    int cq_fd;   /* eventfd: io_uring completions */
    struct io_uring ring;
    struct xbe_ring *r;
    uint32_t port;
    struct bb_req *reqs; /* r->nr_ents slots */
    unsigned *free;      /* free slot numbers, a stack */
    unsigned nr_free;
    unsigned inflight;
    void *ind;                     /* one page: 512 indirect descriptors */
    struct grant_v1_copy_seg *v1c; /* a request's copies, one call */
    struct grant_copy_seg *extc;
    struct grant_io_seg *gio; /* grant I/O batched for one call */
    unsigned gio_n;           /* segments in gio */
    unsigned *gio_slot;       /* the slots whose segments gio holds, */
    unsigned gio_nslot;       /* in order: one grant_io call a pass */
    int io_file;              /* the image registered for grant_io,
                                 or -1: grant copy */
    int draining;             /* a barrier waits for the queue to empty */
    int have_held;            /* a request taken but not yet started */
    union blkif_sring_entry held;
    struct bb_pgrant *pgrants; /* open-addressed hash, 2 * BB_MAX_PGRANTS */
    unsigned nr_pgrants;
    size_t bounce_total;
    unsigned log_tokens; /* peer-caused log lines left this second */
    long log_sec;
    unsigned log_dropped;
    int halted;
    int peer_gone; /* halted because the frontend's domain died */
    struct timespec halt_time;
    unsigned efaults;        /* requests retried buffered after an EFAULT */
    struct bb_discard *disc; /* BLKDISCARD's worker (block devices) */
    struct bbh helper; /* the I/O helper domain (--io-helper), sock -1: none */
};

/* An SQE's user data: the slot, and this bit for one that moves data. */
#define BB_CQE_RW (1ull << 32)
/* A read of the discard worker's eventfd: the oldest finished discard,
 * whatever the slot bits say (discard.c). */
#define BB_CQE_DISCARD (1ull << 33)

/* ---- A vbd (vbd.c) ------------------------------------------------------ */

struct bb_vbd {
    struct xbe_dev *d;
    const struct bb_opts *o;
    struct bb_image img;
    int persistent; /* negotiated */
    int ext;        /* feature-grant-ext negotiated */
    int delegate;   /* feature-grant-delegate negotiated: segment grants
                       carry DELEGATE, the I/O helper moves the bytes */
    int started;    /* queue threads running */
    unsigned nr_queues;
    struct bb_queue q[XBE_MAX_QUEUES];
    struct bb_stats st;
    char name[48]; /* "vbd <fe>/<devid>" for logs */
};

extern struct xbe_ops bb_xbe_ops; /* main fills the limits in */
/* main.c's eventfd: a queue thread halted, the main thread must look. */
extern int bb_wake_fd;
/* The main thread's periodic work: devices whose ring halted closed
 * (xbe_fatal), changed counters published (at most once a second). */
void bb_vbd_tick(struct xbe *bus, int publish);

/* queue.c */
int bb_queue_start(struct bb_queue *q, struct xbe_queue *xq);
void bb_queue_stop(struct bb_queue *q);
/* The queue's I/O helper, started when it has none (at most once a
 * second after a failure): 1 when there is one, 0 when not. */
int bb_queue_helper(struct bb_queue *q);
/* Logs a peer-caused problem, at most 10 lines a second per queue. */
void bb_peer_log(struct bb_queue *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* req.c: parse and validate one request copied out of the ring; start its
 * I/O or answer it.  -EAGAIN: no copy buffer now, retry after
 * completions. */
int bb_req_start(struct bb_queue *q, const union blkif_sring_entry *e,
                 unsigned slot);
/* Every SQE of slot completed: finish the data (copy out), answer. */
void bb_req_finish(struct bb_queue *q, struct bb_req *rq);
/* Does the grant I/O of the requests batched in q->gio in one call and
 * answers each of them.  Before any other I/O starts, and at the end of
 * a pass (a pass's READ and WRITE requests by grant I/O: one call). */
void bb_gio_flush(struct bb_queue *q);
/* Answers slot's request with status, in the ring slot (XSA-216). */
void bb_respond(struct bb_queue *q, uint64_t id, uint8_t op, int16_t status);

/* discard.c: BLKDISCARD in a worker thread per queue, its completions
 * through the queue's io_uring.  init: 0 or -errno (then discards run
 * inline); fini: after the queue drained.  submit: the discard of slot
 * handed over, sqe (BB_CQE_DISCARD) prepared to read its completion.
 * done: on such a CQE, the request whose discard finished (its err set),
 * NULL if none (our bug). */
struct bb_discard;
int bb_discard_init(struct bb_queue *q);
void bb_discard_fini(struct bb_queue *q);
void bb_discard_submit(struct bb_queue *q, unsigned slot,
                       struct io_uring_sqe *sqe);
struct bb_req *bb_discard_done(struct bb_queue *q);

/* pgrant.c */
struct bb_pgrant *bb_pgrant_get(struct bb_queue *q, grant_domid_t fe,
                                grant_v1_ref_t ref);
void bb_pgrant_put(struct bb_queue *q, struct bb_pgrant *pg);
/* Takes the handle's revoke events: the mappings named become revoked. */
void bb_pgrant_revoked(struct bb_queue *q);
/* Unmaps every persistent grant of the queue. */
void bb_pgrant_clear(struct bb_queue *q);

#endif
