/* SPDX-License-Identifier: MIT */
/*
 * xgblkfront.h: a guest program's block device, on Xen's blkif protocol
 * (io/blkif.h), over libgrant.  The library behind the nbdkit plugin
 * (nbdkit-xgrant-plugin.so) and any program that wants its domain's disk.
 *
 * The model
 * ---------
 * The toolstack gives the domain a vbd: /local/domain/<self>/device/vbd/
 * <devid> linked to a backend (xgrant-blkback, or Linux's xen-blkback on
 * Xen).  xgbf_open attaches to it (frontend/common's xfe handshake): one
 * shared ring per queue (multi-queue and multi-page rings when the backend
 * offers them), an event channel per queue.  The program then submits
 * reads, writes, flushes and discards (xgbf_submit, asynchronous: as many
 * as the rings hold; xgbf_submitv, several in one go) and reaps their
 * completions (xgbf_reap), waiting on one pollable fd (xgbf_fd); or uses the
 * synchronous calls (xgbf_pread, xgbf_pwrite, xgbf_flush, xgbf_discard), which
 * split any size.
 *
 * How data moves
 * --------------
 *  - With feature-grant-ext (both ends xgrant): each segment of a request
 *    is ONE extension grant covering exactly its bytes (up to 128 KiB,
 *    the most a blkif segment describes: a 1 MiB request is 8 segments,
 *    a direct request with no indirect page to read; READ for a write,
 *    WRITE for a read), made straight over the caller's
 *    buffer when it lies in grantable memory of the device's handle (from
 *    xgbf_buf_alloc): no copy, and the backend sees nothing but those
 *    bytes (plus DELEGATE when the backend offers feature-grant-delegate,
 *    which the library answers: xgrant-blkback --io-helper passes each
 *    segment on, narrowed, to an I/O helper domain).  A buffer elsewhere
 *    is bounced through the library's own grantable memory (one copy); the
 *    grants over a bounce buffer are kept for the next request of the same
 *    size and direction (the buffer only ever holds data this backend
 *    moves anyway, as Linux keeps its bounce pages granted) and end when
 *    the rings go away.  Grants over the caller's buffer end before the
 *    completion is reported, so the backend never touches it afterwards.
 *  - Otherwise (standard grants, stock Linux backends): a pool of pages
 *    shared with grant_v1_share and kept granted (feature-persistent, as
 *    Linux's blkfront), each segment a page; data is copied in and out.
 *    Each queue has its own pool (a backend maps a page once per queue),
 *    up to 288 pages: requests wait for pages when it is used up.  A
 *    backend without feature-persistent gets each page for one request
 *    only: its grant ends when the request completes and the page is
 *    never reused (Linux's XSA-396 rule: on Xen a page the backend still
 *    maps stays with gntalloc, leaked; under xgrantd the mapping is
 *    force-revoked), so it never sees a later request's data.
 *  - Indirect segments (BLKIF_OP_INDIRECT) when the backend offers
 *    feature-max-indirect-segments and a request needs more than 11
 *    segments: with standard grants, up to 512 KiB a request (xgbf_info's
 *    max_io); extension grants carry 1 MiB (the most) in 8 direct
 *    segments.
 *
 * Faults
 * ------
 * A backend that closes, vanishes or restarts (its state leaves Connected)
 * is followed: the rings are torn down, the requests in flight are kept,
 * and once the backend offers the device again (InitWait) the library
 * reconnects and re-issues them (as Linux's blkif_recover), inside
 * xgbf_reap / the synchronous calls; a re-issued request larger than the
 * new connection's max_io (a backend come back without indirect segments
 * or extension grants) completes -EIO.  A backend that breaks the protocol
 * (a response id not in flight, an operation that does not match, a
 * response producer index beyond the requests) breaks the device: every
 * request in flight completes with -EIO after its grants ended, `error`
 * is written in the frontend directory, and later calls fail -EIO.  A
 * status other than OKAY/ERROR/EOPNOTSUPP completes that request -EIO.
 *
 * Conventions: 0 (or a count) or -errno; errno untouched.  Every call is
 * thread-safe (one lock per device); the synchronous calls may run from
 * many threads at once beside xgbf_submit/xgbf_reap.  Nothing is logged
 * but one line on stderr per protocol violation or reconnection.  Not
 * fork-safe (libgrant's rule).  Offsets and lengths are bytes, multiples
 * of the sector size.
 */
#ifndef XGBLKFRONT_H
#define XGBLKFRONT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xgbf;

enum xgbf_op {
    XGBF_READ = 0,
    XGBF_WRITE = 1,
    XGBF_FLUSH = 2,   /* FLUSH_DISKCACHE, else WRITE_BARRIER */
    XGBF_DISCARD = 3, /* feature-discard */
};

struct xgbf_info {
    uint64_t size;        /* bytes (the backend's `sectors` x 512) */
    unsigned sector_size; /* `sector-size`: the I/O alignment */
    unsigned physical_sector_size;
    unsigned info; /* VDISK_* bits (CDROM 1, REMOVABLE 2, RO 4) */
    int readonly;  /* VDISK_READONLY */
    int flush;     /* feature-flush-cache or feature-barrier */
    int discard;   /* feature-discard */
    unsigned discard_granularity, discard_alignment;
    int discard_secure;
    unsigned nr_queues;    /* queues in use */
    unsigned ring_size;    /* requests per queue */
    unsigned max_segments; /* per request (11, or the indirect count) */
    unsigned max_io;       /* bytes per request */
    int indirect;          /* BLKIF_OP_INDIRECT in use */
    int persistent;        /* persistent pool of standard grants */
    int grant_ext;         /* byte-exact extension grants */
    unsigned reconnects;   /* times the backend came back */
};

struct xgbf_opts {
    unsigned max_queues;     /* 0: 4 */
    unsigned max_ring_order; /* 0: 4 (16-page rings) when offered */
    int no_grant_ext;        /* standard grants even when offered */
    int timeout_ms;          /* each handshake step; 0: 10000 */
};

/* A completion: the cookie given to xgbf_submit and 0 or -errno. */
struct xgbf_cqe {
    uint64_t cookie;
    int status;
};

/* The devid of a Linux-style vdev name ("xvda", "xvdb3" is refused,
 * "hda", "sdb"), or of a decimal devid.  -EINVAL when it is neither. */
int xgbf_vdev_devid(const char *vdev, unsigned *devid);

/*
 * Attaches to this domain's device/vbd/<devid>: opens its own libgrant
 * and store handles, does the handshake, reads the backend's keys
 * (`sectors`, `info`, `sector-size` are required: -EPROTO without them;
 * -EPROTO too for a key that is not plain decimal digits, "12abc", or a
 * sector-size larger than the biggest request the backend allows, e.g.
 * 65536 over 11 standard segments without indirect ones; the reason is
 * logged and written to the frontend's `error` node).
 * Blocks up to opts->timeout_ms per backend step.  Errors as xfe_attach's
 * (-ENOENT no such device, -ETIMEDOUT, -ENOTCONN, -EPROTO) or libgrant's.
 * opts may be NULL.
 */
int xgbf_open(struct xgbf **out, unsigned devid, const struct xgbf_opts *opts);
/* Detaches in Xen's order (requests in flight are cancelled: their
 * grants end first), ends every grant, frees.  NULL-safe.  No other call
 * on the device may run. */
void xgbf_close(struct xgbf *d);
/* The device as connected now. */
int xgbf_get_info(struct xgbf *d, struct xgbf_info *info);

/* Grantable memory of the device's handle (page-aligned, zeroed): a
 * buffer from here is granted byte-exactly with no copy.  -ENOMEM. */
int xgbf_buf_alloc(struct xgbf *d, size_t len, void **buf);
int xgbf_buf_free(struct xgbf *d, void *buf);

/*
 * Queues one request: `len` bytes at byte `offset` (READ, WRITE, DISCARD;
 * FLUSH takes neither), at most max_io for READ/WRITE.  buf stays the
 * caller's until the completion is reaped.  -EAGAIN (every ring slot is
 * taken: reap first), -EINVAL (alignment, size, op), -ERANGE (past the
 * end), -EROFS (write to a read-only disk), -EOPNOTSUPP (no flush or
 * discard), -EIO (the device is broken), -ENOMEM/-ENOSPC (no grantable
 * memory or grant entries, and nothing in flight to give some back).
 * While the backend is away the request is accepted and issued once it
 * is back.
 * Never blocks (but for a reconnection in progress).
 */
int xgbf_submit(struct xgbf *d, enum xgbf_op op, uint64_t offset, void *buf,
                size_t len, uint64_t cookie);
/* One request of xgbf_submitv: xgbf_submit's arguments. */
struct xgbf_sqe {
    enum xgbf_op op;
    uint64_t offset;
    void *buf;
    size_t len;
    uint64_t cookie;
};
/*
 * Queues n requests at once, as n xgbf_submit calls would, with fewer
 * hypercalls: the byte-exact grants of every READ and WRITE over
 * grantable memory are made in one call, and the backend is notified at
 * most once.  Returns how many were queued (each then completes through
 * xgbf_reap, a failure to put one on a ring as its status), stopping at
 * the first that xgbf_submit would refuse; that one's error when it is
 * the first.  Requests beyond the rings' free slots wait for slots in
 * order (no -EAGAIN).  Never blocks (but for a reconnection in progress).
 */
int xgbf_submitv(struct xgbf *d, const struct xgbf_sqe *sqes, unsigned n);
/* A file descriptor that polls readable when xgbf_reap has work (an
 * event channel signal or a store event).  Owned by the device. */
int xgbf_fd(struct xgbf *d);
/*
 * Handles what is pending (responses, the backend's state: reconnecting
 * when it came back, which may block up to the handshake timeout) and
 * takes up to max completions into cqes, waiting up to timeout_ms (-1
 * forever, 0 not at all) for the first.  Returns how many; -EIO once a
 * broken device has nothing more to report.
 */
int xgbf_reap(struct xgbf *d, struct xgbf_cqe *cqes, unsigned max,
              int timeout_ms);
/* Requests submitted and not yet reaped. */
unsigned xgbf_inflight(struct xgbf *d);

/* Synchronous I/O of any length (multiples of the sector size), split
 * into requests of max_io, as many in flight as the rings hold; safe from
 * many threads.  0 or the first request's error. */
int xgbf_pread(struct xgbf *d, void *buf, size_t len, uint64_t offset);
int xgbf_pwrite(struct xgbf *d, const void *buf, size_t len, uint64_t offset);
int xgbf_flush(struct xgbf *d);
int xgbf_discard(struct xgbf *d, uint64_t offset, uint64_t len);

#ifdef __cplusplus
}
#endif

#endif
