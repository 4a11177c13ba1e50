/* SPDX-License-Identifier: MIT */
/*
 * req.c: one blkif request, from its private copy (taken out of the ring
 * once by xbe_ring_take, XSA-155) to its answer, written field by field in
 * the response slot (XSA-216).
 *
 * The rules, in the order they are checked; the first broken one answers
 * the request (the device goes on):
 *  1. operation READ, WRITE, WRITE_BARRIER, FLUSH_DISKCACHE, DISCARD or
 *     INDIRECT, else EOPNOTSUPP; INDIRECT's indirect_op READ or WRITE
 *     (answered as that operation), else ERROR;
 *  2. a write (WRITE, WRITE_BARRIER, DISCARD, INDIRECT WRITE, a
 *     FLUSH_DISKCACHE carrying data) on a read-only disk: ERROR; DISCARD
 *     not offered: EOPNOTSUPP;
 *  3. segments: READ and WRITE 1..11, WRITE_BARRIER and FLUSH_DISKCACHE
 *     0..11, INDIRECT 1..256 read from ceil(n / 512) indirect pages (each
 *     copied once into our memory, then read from there; with persistent
 *     grants the page is mapped once like the data pages);
 *  4. each segment: standard grants first_sect <= last_sect <= 7;
 *     grant-ext first_sect == 0 and last_sect <= 255 (the grant covers
 *     exactly the segment's bytes, from its byte 0);
 *  5. the range (sector_number plus the segments' sectors, or DISCARD's
 *     nr_sectors) ends within the disk, with no overflow;
 *  6. every segment's grant maps (persistent) or copies; else ERROR.
 *
 * Data paths (bb_req.via):
 *  - BB_VIA_MAP: standard grants with feature-persistent: each ref mapped
 *    once per queue, I/O straight between the image and the mapping;
 *  - BB_VIA_V1COPY: standard grants otherwise (or the persistent pool
 *    full): grant_v1_copy between the frontend's pages and a copy buffer;
 *  - BB_VIA_GRANTIO: feature-grant-ext, when the host offers the grant-I/O
 *    call (xgrantd): the hypervisor moves each segment between the image
 *    and its byte-exact grant; no byte passes through our memory and no
 *    page of the frontend is mapped (READ and WRITE requests);
 *  - BB_VIA_HELPER: as BB_VIA_GRANTIO, with --io-helper and
 *    feature-grant-delegate negotiated: each segment grant delegated to
 *    the queue's I/O helper domain (narrowed to READ for a WRITE request,
 *    WRITE for a READ), which does the grant_io call; revoked after its
 *    answer.  Without a helper (it could not be started) BB_VIA_GRANTIO;
 *  - BB_VIA_EXTCOPY: feature-grant-ext otherwise (Xen, a flush or barrier
 *    carrying data): grant_copy between each segment grant and a copy
 *    buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "private.h"

static int is_write(uint8_t op)
{
    return op == BLKIF_OP_WRITE || op == BLKIF_OP_WRITE_BARRIER ||
           op == BLKIF_OP_DISCARD;
}

/* ---- Parsing and validation (rules 1-5) --------------------------------- */

/* Rule 3 for INDIRECT: copies the descriptors out of the indirect pages
 * into rq->seg.  0 or a BLKIF_RSP_*. */
static int16_t read_indirect(struct bb_queue *q, struct bb_req *rq,
                             const struct blkif_request_indirect *in)
{
    grant_domid_t fe = (grant_domid_t)xbe_dev_fe_id(q->v->d);
    unsigned n = in->nr_segments, pages, i;
    size_t bytes = (size_t)n * sizeof(struct blkif_request_segment);
    struct bb_pgrant *pg;

    if (n < 1 || n > BB_MAX_INDIRECT_SEGS)
        return BLKIF_RSP_ERROR;
    pages = (n + BB_SEGS_PER_IPAGE - 1) / BB_SEGS_PER_IPAGE;
    for (i = 0; i < pages; i++) {
        size_t off = (size_t)i * GRANT_PAGE_SIZE;
        size_t len =
            bytes - off < GRANT_PAGE_SIZE ? bytes - off : GRANT_PAGE_SIZE;
        char *dst = (char *)q->ind + off;
        int rc;

        if (q->v->ext) {
            rc = grant_copy_from(q->h, dst, fe, in->indirect_grefs[i], 0, len);
        } else if (q->v->persistent &&
                   (pg = bb_pgrant_get(q, fe, in->indirect_grefs[i]))) {
            /* Mapped once like the data pages; copied out here once. */
            memcpy(dst, pg->addr, len);
            bb_pgrant_put(q, pg);
            rc = 0;
        } else {
            struct grant_v1_copy_seg c = {
                .src = {.granter = fe, .ref = in->indirect_grefs[i]},
                .dst = {.local = 1, .ptr = dst},
                .len = (uint16_t)len};

            rc = grant_v1_copy(q->h, &c, 1);
            rc = rc == 1 ? 0 : (rc < 0 ? rc : c.status);
        }
        if (rc < 0) {
            bb_peer_log(q, "indirect page %u (gref %u): %s", i,
                        in->indirect_grefs[i], grant_strerror(rc));
            return BLKIF_RSP_ERROR;
        }
    }
    memcpy(rq->seg, q->ind, bytes);
    rq->nseg = n;
    return BLKIF_RSP_OKAY;
}

/* Rules 4 and 5: the segments and the range; sets rq->bytes. */
static int16_t check_range(struct bb_queue *q, struct bb_req *rq)
{
    uint64_t sects = 0, end;
    unsigned i;

    for (i = 0; i < rq->nseg; i++) {
        const struct blkif_request_segment *s = &rq->seg[i];
        unsigned max =
            q->v->ext ? BB_MAX_EXT_SECTS - 1 : GRANT_PAGE_SIZE / BB_SECTOR - 1;

        if (s->first_sect > s->last_sect || s->last_sect > max ||
            (q->v->ext && s->first_sect != 0)) {
            bb_peer_log(q, "segment %u: sectors %u..%u out of bounds", i,
                        s->first_sect, s->last_sect);
            return BLKIF_RSP_ERROR;
        }
        sects += (uint64_t)s->last_sect - s->first_sect + 1;
    }
    /* No sector moves (an empty flush or barrier): its sector_number is
     * whatever the frontend's block layer had (Linux's blkfront sends ~0)
     * and is not checked, as Linux's blkback does. */
    if (sects && (__builtin_add_overflow(rq->sector, sects, &end) ||
                  end > q->v->img.sectors)) {
        bb_peer_log(q, "sectors %llu+%llu past the end (%llu)",
                    (unsigned long long)rq->sector, (unsigned long long)sects,
                    (unsigned long long)q->v->img.sectors);
        return BLKIF_RSP_ERROR;
    }
    rq->bytes = sects * BB_SECTOR;
    return BLKIF_RSP_OKAY;
}

/* Rules 1 to 5 on the private copy e; fills rq. */
static int16_t parse(struct bb_queue *q, const union blkif_sring_entry *e,
                     struct bb_req *rq)
{
    const struct blkif_request *r = &e->req;
    uint8_t op = r->operation;
    unsigned max = BLKIF_MAX_SEGMENTS_PER_REQUEST, min = 1;
    int16_t st;

    rq->id = r->id;
    rq->op = rq->kind = op;
    switch (op) {
    case BLKIF_OP_READ:
    case BLKIF_OP_WRITE:
        break;
    case BLKIF_OP_WRITE_BARRIER:
    case BLKIF_OP_FLUSH_DISKCACHE:
        min = 0;
        break;
    case BLKIF_OP_DISCARD:
        break;
    case BLKIF_OP_INDIRECT:
        rq->op = rq->kind =
            ((const struct blkif_request_indirect *)r)->indirect_op;
        if (rq->op != BLKIF_OP_READ && rq->op != BLKIF_OP_WRITE) {
            bb_peer_log(q, "indirect operation %u", rq->op);
            return BLKIF_RSP_ERROR;
        }
        break;
    default:
        bb_peer_log(q, "unknown operation %u", op);
        return BLKIF_RSP_EOPNOTSUPP;
    }
    rq->write = is_write(rq->kind);
    if (rq->write && q->v->img.readonly) {
        bb_peer_log(q, "write to a read-only disk");
        return BLKIF_RSP_ERROR;
    }
    if (op == BLKIF_OP_DISCARD) {
        const struct blkif_request_discard *d = (const void *)r;
        uint64_t end;

        if (!q->v->img.discard)
            return BLKIF_RSP_EOPNOTSUPP;
        rq->sector = d->sector_number;
        rq->bytes = d->nr_sectors * BB_SECTOR;
        if (d->nr_sectors > UINT64_MAX / BB_SECTOR ||
            __builtin_add_overflow(d->sector_number, d->nr_sectors, &end) ||
            end > q->v->img.sectors) {
            bb_peer_log(q, "discard past the end");
            return BLKIF_RSP_ERROR;
        }
        return BLKIF_RSP_OKAY;
    }
    if (op == BLKIF_OP_INDIRECT) {
        const struct blkif_request_indirect *in = (const void *)r;

        rq->sector = in->sector_number;
        st = read_indirect(q, rq, in);
        if (st != BLKIF_RSP_OKAY) {
            if (in->nr_segments < 1 || in->nr_segments > BB_MAX_INDIRECT_SEGS)
                bb_peer_log(q, "%u indirect segments (1..%u)", in->nr_segments,
                            BB_MAX_INDIRECT_SEGS);
            return st;
        }
        return check_range(q, rq);
    }
    if (r->nr_segments < min || r->nr_segments > max) {
        bb_peer_log(q, "%u segments for operation %u", r->nr_segments, op);
        return BLKIF_RSP_ERROR;
    }
    rq->sector = r->sector_number;
    rq->nseg = r->nr_segments;
    memcpy(rq->seg, r->seg, rq->nseg * sizeof(rq->seg[0]));
    if (op == BLKIF_OP_FLUSH_DISKCACHE && rq->nseg) {
        rq->write = 1; /* data with a flush: written, then flushed */
        if (q->v->img.readonly) {
            bb_peer_log(q, "write to a read-only disk");
            return BLKIF_RSP_ERROR;
        }
    }
    return check_range(q, rq);
}

/* ---- The data (rule 6) -------------------------------------------------- */

/* A copy buffer of at least rq->bytes: kept per slot, within the queue's
 * budget.  -EAGAIN: not now (other requests in flight will free some);
 * -E2BIG: larger than the whole budget (waiting would never help). */
static int bounce_get(struct bb_queue *q, struct bb_req *rq)
{
    size_t need = (rq->bytes + GRANT_PAGE_SIZE - 1) & ~(size_t)4095;
    unsigned i;
    int rc;

    if (rq->bounce_len >= need)
        return 0;
    if (need > q->v->o->bounce_budget) {
        bb_peer_log(q, "request of %llu bytes: over the copy budget (%zu)",
                    (unsigned long long)rq->bytes, q->v->o->bounce_budget);
        return -E2BIG;
    }
    if (rq->bounce) {
        grant_mem_free(q->h, rq->bounce);
        q->bounce_total -= rq->bounce_len;
        rq->bounce = NULL;
        rq->bounce_len = 0;
    }
    /* Over budget: give back the idle slots' buffers first. */
    for (i = 0;
         q->bounce_total + need > q->v->o->bounce_budget && i < q->r->nr_ents;
         i++) {
        struct bb_req *o = &q->reqs[i];

        if (!o->busy && o->bounce) {
            grant_mem_free(q->h, o->bounce);
            q->bounce_total -= o->bounce_len;
            o->bounce = NULL;
            o->bounce_len = 0;
        }
    }
    rc = q->bounce_total + need > q->v->o->bounce_budget
             ? -ENOMEM
             : grant_mem_alloc(q->h, need / GRANT_PAGE_SIZE, &rq->bounce);
    if (rc < 0) /* q->inflight counts this request too */
        return q->inflight > 1 ? -EAGAIN : rc;
    rq->bounce_len = need;
    q->bounce_total += need;
    return 0;
}

/* Copies every segment between the frontend and the copy buffer (to the
 * buffer for a write, from it after a read), all in one call.  0 or
 * -errno (the first failed segment is logged). */
static int copy_segs(struct bb_queue *q, struct bb_req *rq, int to_buf)
{
    grant_domid_t fe = (grant_domid_t)xbe_dev_fe_id(q->v->d);
    size_t off = 0;
    unsigned i;
    int rc;

    for (i = 0; i < rq->nseg; i++) {
        const struct blkif_request_segment *s = &rq->seg[i];
        size_t len = ((size_t)s->last_sect - s->first_sect + 1) * BB_SECTOR;
        char *buf = (char *)rq->bounce + off;

        if (rq->via == BB_VIA_EXTCOPY) {
            struct grant_ptr g = {.granter = fe, .ref = s->gref};
            struct grant_ptr l = {.local = 1, .ptr = buf};

            q->extc[i] = (struct grant_copy_seg){
                .src = to_buf ? g : l, .dst = to_buf ? l : g, .len = len};
        } else {
            struct grant_v1_ptr g = {.granter = fe,
                                     .ref = s->gref,
                                     .offset =
                                         (uint16_t)(s->first_sect * BB_SECTOR)};
            struct grant_v1_ptr l = {.local = 1, .ptr = buf};

            q->v1c[i] = (struct grant_v1_copy_seg){.src = to_buf ? g : l,
                                                   .dst = to_buf ? l : g,
                                                   .len = (uint16_t)len};
        }
        off += len;
    }
    rc = rq->via == BB_VIA_EXTCOPY ? grant_copy(q->h, q->extc, rq->nseg)
                                   : grant_v1_copy(q->h, q->v1c, rq->nseg);
    if (rc == (int)rq->nseg)
        return 0;
    for (i = 0; rc >= 0 && i < rq->nseg; i++) {
        int st =
            rq->via == BB_VIA_EXTCOPY ? q->extc[i].status : q->v1c[i].status;

        if (st < 0) {
            rc = st;
            bb_peer_log(q, "segment %u (gref %u): copy %s", i, rq->seg[i].gref,
                        grant_strerror(st));
            break;
        }
    }
    return rc < 0 ? rc : -EIO;
}

static void put_pgrants(struct bb_queue *q, struct bb_req *rq)
{
    unsigned i;

    for (i = 0; rq->via == BB_VIA_MAP && i < rq->nseg; i++)
        if (rq->pg[i])
            bb_pgrant_put(q, rq->pg[i]);
    memset(rq->pg, 0, rq->nseg * sizeof(rq->pg[0]));
}

/* Persistent mappings for every segment: 1 when all mapped, 0 when the
 * pool cannot hold them (the request copies instead), -errno. */
static int map_segs(struct bb_queue *q, struct bb_req *rq)
{
    grant_domid_t fe = (grant_domid_t)xbe_dev_fe_id(q->v->d);
    unsigned i;

    rq->via = BB_VIA_MAP;
    for (i = 0; i < rq->nseg; i++) {
        const struct blkif_request_segment *s = &rq->seg[i];

        rq->pg[i] = bb_pgrant_get(q, fe, s->gref);
        if (!rq->pg[i]) {
            put_pgrants(q, rq);
            return q->nr_pgrants >= BB_MAX_PGRANTS ? 0 : -EIO;
        }
        rq->iov[i].iov_base =
            (char *)rq->pg[i]->addr + (size_t)s->first_sect * BB_SECTOR;
        rq->iov[i].iov_len =
            ((size_t)s->last_sect - s->first_sect + 1) * BB_SECTOR;
    }
    return 1;
}

/* Rule 6: the data in place for the I/O.  0, -EAGAIN (retry later),
 * -errno (answer ERROR). */
static int prepare(struct bb_queue *q, struct bb_req *rq)
{
    int rc = 0;

    if (!rq->nseg)
        return 0;
    if (!q->v->ext && q->v->persistent) {
        rc = map_segs(q, rq);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    if (q->v->ext && q->io_file >= 0 &&
        (rq->kind == BLKIF_OP_READ || rq->kind == BLKIF_OP_WRITE)) {
        rq->via = q->v->delegate && bb_queue_helper(q) ? BB_VIA_HELPER
                                                       : BB_VIA_GRANTIO;
        return 0;
    }
    rq->via = q->v->ext ? BB_VIA_EXTCOPY : BB_VIA_V1COPY;
    rc = bounce_get(q, rq);
    if (rc < 0)
        return rc;
    rq->iov[0].iov_base = rq->bounce;
    rq->iov[0].iov_len = rq->bytes;
    return rq->write ? copy_segs(q, rq, 1) : 0;
}

/* ---- The I/O ------------------------------------------------------------ */

static unsigned nr_iov(const struct bb_req *rq)
{
    return rq->via == BB_VIA_MAP ? rq->nseg : 1;
}

/* The O_DIRECT descriptor when every buffer and the offset meet its
 * alignment, else the buffered one. */
static int pick_fd(const struct bb_queue *q, const struct bb_req *rq)
{
    const struct bb_image *img = &q->v->img;
    unsigned i;

    if (img->dfd < 0 || (rq->sector * BB_SECTOR) % img->dio_off)
        return img->fd;
    for (i = 0; i < nr_iov(rq); i++)
        if ((uintptr_t)rq->iov[i].iov_base % img->dio_mem ||
            rq->iov[i].iov_len % img->dio_off ||
            (rq->via == BB_VIA_MAP && rq->pg[i]->no_direct))
            return img->fd;
    return img->dfd;
}

/* An SQE for slot's request; its user data says the slot and whether it
 * moves data (BB_CQE_RW: the result must be the request's length).  The
 * ring holds every SQE the slots can have queued, so NULL is our bug. */
static struct io_uring_sqe *sqe_get(struct bb_queue *q, unsigned slot,
                                    uint64_t type)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

    if (!sqe) {
        io_uring_submit(&q->ring);
        sqe = io_uring_get_sqe(&q->ring);
    }
    if (!sqe) {
        q->reqs[slot].err = -EBUSY;
        return NULL;
    }
    io_uring_sqe_set_data64(sqe, slot | type);
    q->reqs[slot].pending++;
    return sqe;
}

static void sqe_fsync(struct bb_queue *q, unsigned slot, int link)
{
    struct io_uring_sqe *sqe = sqe_get(q, slot, 0);

    if (!sqe)
        return;
    io_uring_prep_fsync(sqe, q->v->img.fd, IORING_FSYNC_DATASYNC);
    if (link)
        sqe->flags |= IOSQE_IO_LINK;
}

static void sqe_rw(struct bb_queue *q, unsigned slot, int link)
{
    struct bb_req *rq = &q->reqs[slot];
    struct io_uring_sqe *sqe = sqe_get(q, slot, BB_CQE_RW);
    int fd = pick_fd(q, rq);

    if (!sqe)
        return;
    rq->direct = fd != q->v->img.fd;
    if (rq->write)
        io_uring_prep_writev(sqe, fd, rq->iov, nr_iov(rq),
                             rq->sector * BB_SECTOR);
    else
        io_uring_prep_readv(sqe, fd, rq->iov, nr_iov(rq),
                            rq->sector * BB_SECTOR);
    if (link)
        sqe->flags |= IOSQE_IO_LINK;
}

/* A discard: a hole punched in a file (io_uring), BLKDISCARD on a block
 * device (by the queue's discard worker; here, synchronously, when it
 * could not be started).  1 when queued, else done with rq->err. */
static int discard(struct bb_queue *q, unsigned slot)
{
    struct bb_req *rq = &q->reqs[slot];
    struct io_uring_sqe *sqe;
    uint64_t range[2] = {rq->sector * BB_SECTOR, rq->bytes};

    if (!rq->bytes)
        return 0;
    if (q->v->img.bdev && !q->disc) {
        if (ioctl(q->v->img.fd, BLKDISCARD, range) < 0)
            rq->err = -errno;
        return 0;
    }
    sqe = sqe_get(q, slot, q->disc ? BB_CQE_DISCARD : 0);
    if (!sqe)
        return 0;
    if (q->disc) {
        bb_discard_submit(q, slot, sqe);
        return 1;
    }
    io_uring_prep_fallocate(sqe, q->v->img.fd,
                            FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                            range[0], range[1]);
    return 1;
}

/* Each segment's grant delegated to the helper, narrowed to the one right
 * the I/O needs (all or nothing). */
static int delegate_segs(struct bb_queue *q, struct bb_req *rq)
{
    struct bbh *b = &q->helper;
    unsigned i;

    for (i = 0; i < rq->nseg; i++)
        b->cr[i] = (struct grant_create_req){
            .indirect = 1,
            .grantee = b->domid,
            .rights = rq->write ? GRANT_R_READ : GRANT_R_WRITE,
            .granter = q->gio[i].granter,
            .parent = q->gio[i].ref,
            .len = q->gio[i].len};
    return grant_create_batch(q->h, b->cr, rq->nseg);
}

/* BB_VIA_HELPER: q->gio's segments delegated to the helper domain, its
 * grant_io done there, the delegations revoked.  grant_io's return, with
 * q->gio's statuses set from the helper's answer; or -errno. */
static int helper_io(struct bb_queue *q, struct bb_req *rq)
{
    struct bbh *b = &q->helper;
    unsigned i, n = rq->nseg;
    int rc = delegate_segs(q, rq);

    if (rc == -ESRCH) { /* the helper domain died since its last answer */
        bbh_lost(b, q->h, q->v->name, rc);
        rc = bb_queue_helper(q) ? delegate_segs(q, rq) : rc;
    }
    if (rc < 0) {
        for (i = 0; i < n && b->cr[i].status != rc; i++)
            ;
        bb_peer_log(q, "segment %u (gref %u): delegating to the I/O helper: %s",
                    i, i < n ? rq->seg[i].gref : 0, grant_strerror(rc));
        return rc;
    }
    for (i = 0; i < n; i++)
        b->msg.seg[i] = (struct bbh_seg){.dir = q->gio[i].dir & ~GRANT_IO_FIXED,
                                         .granter = grant_domid(q->h),
                                         .ref = b->cr[i].ref,
                                         .file_off = q->gio[i].file_off,
                                         .len = q->gio[i].len};
    b->msg.nseg = n;
    rc = bbh_call(b, q->h, q->v->name, q->stop_fd); /* a stop ends it */
    for (i = 0; i < n; i++)
        b->rv[i] = (struct grant_revoke_req){.ref = b->cr[i].ref};
    grant_revoke_batch(q->h, b->rv, n); /* dead already if the root died */
    for (i = 0; rc == 0 && i < n; i++) {
        q->gio[i].status = b->rsp.seg[i].status;
        q->gio[i].done = b->rsp.seg[i].done;
    }
    return rc < 0 ? rc : b->rsp.status;
}

/* A request's grant-I/O segments, from q->gio[first], between the image
 * and each grant. */
static void gio_fill(struct bb_queue *q, struct bb_req *rq, unsigned first)
{
    grant_domid_t fe = (grant_domid_t)xbe_dev_fe_id(q->v->d);
    uint64_t off = rq->sector * BB_SECTOR;
    unsigned i;

    rq->gio_first = first;
    for (i = 0; i < rq->nseg; i++) {
        uint64_t len = ((uint64_t)rq->seg[i].last_sect + 1) * BB_SECTOR;

        q->gio[first + i] = (struct grant_io_seg){
            .fd = q->io_file,
            .dir =
                (rq->write ? GRANT_IO_WRITE : GRANT_IO_READ) | GRANT_IO_FIXED,
            .granter = fe,
            .ref = rq->seg[i].gref,
            .file_off = off,
            .len = len};
        off += len;
    }
}

/* rq->err from its segments' results (rc: the call's return). */
static void gio_result(struct bb_queue *q, struct bb_req *rq, int rc)
{
    const struct grant_io_seg *g = &q->gio[rq->gio_first];
    unsigned i;

    for (i = 0; rc >= 0 && i < rq->nseg; i++) {
        rc = g[i].status ? g[i].status : g[i].done != g[i].len ? -EIO : 0;
        if (rc < 0)
            bb_peer_log(q, "segment %u (gref %u): grant I/O %s", i,
                        rq->seg[i].gref, grant_strerror(rc));
    }
    rq->err = rc < 0 ? rc : 0;
}

void bb_gio_flush(struct bb_queue *q)
{
    unsigned i;
    int rc;

    if (!q->gio_nslot)
        return;
    rc = grant_io(q->h, q->gio, q->gio_n);
    for (i = 0; i < q->gio_nslot; i++) {
        struct bb_req *rq = &q->reqs[q->gio_slot[i]];

        gio_result(q, rq, rc);
        rq->pending = 0;
        bb_req_finish(q, rq);
    }
    q->gio_n = q->gio_nslot = 0;
}

/* BB_VIA_GRANTIO: the request's segments join the queue's batch, done by
 * one grant_io call for the pass (the hypervisor does the file I/O).
 * BB_VIA_HELPER: every segment in one grant_io call of the I/O helper. */
static void grant_io_segs(struct bb_queue *q, unsigned slot)
{
    struct bb_req *rq = &q->reqs[slot];

    if (rq->via == BB_VIA_HELPER) {
        gio_fill(q, rq, 0);
        gio_result(q, rq, helper_io(q, rq));
        return;
    }
    if (q->gio_n + rq->nseg > BB_MAX_INDIRECT_SEGS)
        bb_gio_flush(q);
    gio_fill(q, rq, q->gio_n);
    q->gio_n += rq->nseg;
    q->gio_slot[q->gio_nslot++] = slot;
    rq->pending = 1; /* answered by bb_gio_flush */
}

/* Queues the request's SQEs (linked where order matters). */
static void submit(struct bb_queue *q, unsigned slot)
{
    struct bb_req *rq = &q->reqs[slot];

    if (rq->via != BB_VIA_GRANTIO)
        bb_gio_flush(q); /* the batch's I/O is done before anything else */
    switch (rq->kind) {
    case BLKIF_OP_WRITE_BARRIER: /* the queue was drained first */
        sqe_fsync(q, slot, 1);
        if (rq->nseg)
            sqe_rw(q, slot, 1);
        sqe_fsync(q, slot, 0);
        break;
    case BLKIF_OP_FLUSH_DISKCACHE:
        if (rq->nseg)
            sqe_rw(q, slot, 1);
        sqe_fsync(q, slot, 0);
        break;
    case BLKIF_OP_DISCARD:
        discard(q, slot);
        break;
    default:
        if (rq->via == BB_VIA_GRANTIO || rq->via == BB_VIA_HELPER)
            grant_io_segs(q, slot);
        else
            sqe_rw(q, slot, 0);
    }
}

/* ---- Answers ------------------------------------------------------------ */

void bb_respond(struct bb_queue *q, uint64_t id, uint8_t op, int16_t status)
{
    struct blkif_response *rsp = xbe_ring_rsp_slot(q->r);

    if (!rsp)
        return;   /* every request taken is answered: our bug, not theirs */
    rsp->id = id; /* field by field in the slot: no padding leaks */
    rsp->operation = op;
    rsp->status = status;
    xbe_ring_rsp_done(q->r);
    if (status != BLKIF_RSP_OKAY)
        bb_stat_add(&q->v->st, BB_ST_ERRORS, 1);
}

static void count(struct bb_queue *q, const struct bb_req *rq)
{
    struct bb_stats *st = &q->v->st;

    switch (rq->kind) {
    case BLKIF_OP_READ:
        bb_stat_add(st, BB_ST_RD, 1);
        bb_stat_add(st, BB_ST_RD_SECT, rq->bytes / BB_SECTOR);
        break;
    case BLKIF_OP_WRITE:
        bb_stat_add(st, BB_ST_WR, 1);
        bb_stat_add(st, BB_ST_WR_SECT, rq->bytes / BB_SECTOR);
        break;
    case BLKIF_OP_DISCARD:
        bb_stat_add(st, BB_ST_DS, 1);
        break;
    default:
        bb_stat_add(st, BB_ST_F, 1);
        if (rq->nseg)
            bb_stat_add(st, BB_ST_WR_SECT, rq->bytes / BB_SECTOR);
    }
}

static void release(struct bb_queue *q, unsigned slot)
{
    struct bb_req *rq = &q->reqs[slot];

    put_pgrants(q, rq);
    rq->busy = 0;
    q->free[q->nr_free++] = slot;
    q->inflight--;
}

void bb_req_finish(struct bb_queue *q, struct bb_req *rq)
{
    unsigned slot = (unsigned)(rq - q->reqs), i;
    int16_t st = BLKIF_RSP_OKAY;

    /* O_DIRECT cannot pin some mappings (gntdev's on a PV dom0: EFAULT):
     * this request again through the page cache, and its mappings from
     * now (others, and this queue's later mappings, still try O_DIRECT). */
    if (rq->err == -EFAULT && rq->via == BB_VIA_MAP && rq->direct) {
        for (i = 0; i < rq->nseg; i++)
            rq->pg[i]->no_direct = 1;
        if (q->efaults++ == 0)
            fprintf(stderr,
                    "xgrant-blkback: %s queue %u: O_DIRECT into grant "
                    "mappings fails (EFAULT): those go through the page "
                    "cache\n",
                    q->v->name, q->index);
        rq->err = 0;
        submit(q, slot);
        io_uring_submit(&q->ring);
        if (rq->pending)
            return;
    }

    /* A mapping the frontend revoked meanwhile held scratch pages (only
     * a mapped request asks: each pass takes the events anyway). */
    if (rq->via == BB_VIA_MAP)
        bb_pgrant_revoked(q);
    for (i = 0; rq->via == BB_VIA_MAP && i < rq->nseg; i++)
        if (rq->pg[i] && rq->pg[i]->revoked)
            rq->err = -ESTALE;
    if (rq->err == 0 && rq->nseg && !rq->write &&
        (rq->via == BB_VIA_V1COPY || rq->via == BB_VIA_EXTCOPY))
        rq->err = copy_segs(q, rq, 0);
    if (rq->err) {
        bb_peer_log(q, "request %llu (op %u, sector %llu): %s",
                    (unsigned long long)rq->id, rq->kind,
                    (unsigned long long)rq->sector, strerror(-rq->err));
        st = rq->err == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR;
    } else {
        count(q, rq);
    }
    bb_respond(q, rq->id, rq->op, st);
    release(q, slot);
}

int bb_req_start(struct bb_queue *q, const union blkif_sring_entry *e,
                 unsigned slot)
{
    struct bb_req *rq = &q->reqs[slot];
    int16_t st;
    int rc;

    rq->busy = 1;
    rq->pending = 0;
    rq->err = 0;
    rq->nseg = 0;
    rq->bytes = 0;
    rq->direct = 0;
    rq->via = BB_VIA_V1COPY;
    q->inflight++;
    st = parse(q, e, rq);
    if (st != BLKIF_RSP_OKAY) {
        bb_respond(q, rq->id, rq->op, st);
        release(q, slot);
        return 0;
    }
    rc = prepare(q, rq);
    if (rc == -EAGAIN) {
        release(q, slot);
        return rc; /* the caller keeps the request for later */
    }
    if (rc < 0) {
        rq->err = rc;
        bb_req_finish(q, rq);
        return 0;
    }
    submit(q, slot);
    if (rq->pending == 0)
        bb_req_finish(q, rq); /* nothing queued: answered now */
    return 0;
}
