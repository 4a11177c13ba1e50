/* SPDX-License-Identifier: MIT */
/*
 * fuzz_blkback: libFuzzer over xgrant-blkback's request path
 * (backend/blkback/req.c and pgrant.c, on backend/common/ring.c), with
 * the frontend's side as the input: the negotiated mode, the disk's
 * size, one ring entry, and the memory its grants name (indirect pages
 * included).  libgrant is replaced by a model that checks every grant
 * access the way the hypervisor would (a ref names 4 KiB of the
 * frontend's memory, an extension grant up to 128 KiB, from byte 0); the
 * io_uring SQEs the request queues are not submitted but done here, on an
 * image in memory, checking each against the disk's end.  AddressSanitizer
 * checks every byte of blkback's own buffers.  `make fuzz-drivers`.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/blkback/private.h"

#define FE_BYTES   (256u << 10) /* the frontend's memory */
#define EXT_WINDOW (128u << 10)
#define IMG_MAX    8192u /* sectors: 4 MiB, more than the smallest budget */
#define RING_BYTES 4096u

static uint8_t fe_mem[FE_BYTES];
static uint8_t image[IMG_MAX * 512];
static uint64_t img_sectors;
static struct bb_opts opts;
static struct bb_vbd vbd;
static uint8_t ring_page[RING_BYTES];
static struct xbe_ring ring;
static int ext;

/* ---- The model of libgrant (and of the xbe bits req.c uses) ------------- */

unsigned xbe_dev_fe_id(const struct xbe_dev *d)
{
    (void)d;
    return 1;
}

void bb_peer_log(struct bb_queue *q, const char *fmt, ...)
{
    (void)q;
    (void)fmt;
}

const char *grant_strerror(int err)
{
    (void)err;
    return "error";
}

int grant_mem_alloc(grant_handle_t *h, size_t nr_pages, void **ptr)
{
    (void)h;
    *ptr = malloc(nr_pages * 4096);
    return *ptr ? 0 : -ENOMEM;
}

int grant_mem_free(grant_handle_t *h, void *ptr)
{
    (void)h;
    free(ptr);
    return 0;
}

/* The frontend bytes a grant names, or NULL (as the hypervisor refuses). */
static uint8_t *window(grant_domid_t fe, uint32_t ref, uint64_t off,
                       uint64_t len, int is_ext)
{
    uint64_t base = (uint64_t)ref * 4096, size = is_ext ? EXT_WINDOW : 4096;

    if (fe != 1 || off > size || len > size - off || base >= FE_BYTES ||
        base + off + len > FE_BYTES)
        return NULL;
    return fe_mem + base + off;
}

int grant_copy_from(grant_handle_t *h, void *dst, grant_domid_t granter,
                    grant_ref_t ref, uint64_t offset, uint64_t len)
{
    uint8_t *w = window(granter, ref, offset, len, 1);

    (void)h;
    if (!ext)
        __builtin_trap(); /* extension grants only with grant-ext */
    if (!w)
        return -EINVAL;
    memcpy(dst, w, len);
    return 0;
}

/* One copy segment of either kind: grant <-> blkback's memory (the
 * other end must be local), checked as the hypervisor does; 1 if done. */
static int copy_one(int to_grant, const struct grant_v1_ptr *g, uint64_t off,
                    void *local, uint64_t len, int is_ext, int *status)
{
    uint8_t *w = window(g->granter, g->ref, off, len, is_ext);

    if (!local || g->local)
        __builtin_trap(); /* blkback copies grant <-> its memory */
    *status = w ? 0 : -EINVAL;
    if (w)
        memcpy(to_grant ? w : (uint8_t *)local, to_grant ? local : (void *)w,
               len);
    return !!w;
}

int grant_copy(grant_handle_t *h, struct grant_copy_seg *s, unsigned n)
{
    unsigned i, ok = 0;

    (void)h;
    if (!ext)
        __builtin_trap();
    for (i = 0; i < n; i++) {
        int to = s[i].src.local;
        struct grant_ptr *g = to ? &s[i].dst : &s[i].src;
        struct grant_ptr *l = to ? &s[i].src : &s[i].dst;
        struct grant_v1_ptr g1 = {
            .local = g->local, .granter = g->granter, .ref = g->ref};

        ok += copy_one(to, &g1, g->offset, l->local ? (void *)l->ptr : NULL,
                       s[i].len, 1, &s[i].status);
    }
    return (int)ok;
}

int grant_v1_copy(grant_handle_t *h, struct grant_v1_copy_seg *s, unsigned n)
{
    unsigned i, ok = 0;

    (void)h;
    for (i = 0; i < n; i++) {
        int to = s[i].src.local;
        struct grant_v1_ptr *g = to ? &s[i].dst : &s[i].src;
        struct grant_v1_ptr *l = to ? &s[i].src : &s[i].dst;

        ok += copy_one(to, g, g->offset, l->local ? l->ptr : NULL, s[i].len, 0,
                       &s[i].status);
    }
    return (int)ok;
}

int grant_io(grant_handle_t *h, struct grant_io_seg *s, unsigned n)
{
    unsigned i;

    (void)h;
    for (i = 0; i < n; i++) {
        uint8_t *w = window(s[i].granter, s[i].ref, s[i].offset, s[i].len, 1);

        if (s[i].file_off > img_sectors * 512 ||
            s[i].len > img_sectors * 512 - s[i].file_off)
            __builtin_trap(); /* past the disk's end */
        s[i].status = w ? 0 : -EINVAL;
        s[i].done = w ? s[i].len : 0;
        if (w && (s[i].dir & 1))
            memcpy(image + s[i].file_off, w, s[i].len);
        else if (w)
            memcpy(w, image + s[i].file_off, s[i].len);
    }
    return (int)n;
}

/* Persistent mappings: the frontend's page itself. */
int grant_v1_map(grant_handle_t *h, grant_domid_t granter,
                 const grant_v1_ref_t *refs, unsigned count, unsigned flags,
                 void **addr)
{
    uint8_t *w = window(granter, refs[0], 0, 4096, 0);

    (void)h;
    (void)flags;
    if (count != 1)
        __builtin_trap();
    *addr = w;
    return w ? 0 : -EINVAL;
}

int grant_v1_unmap(grant_handle_t *h, void *addr)
{
    (void)h;
    (void)addr;
    return 0;
}

int grant_map_revoked_next(grant_handle_t *h, struct grant_map_event *ev)
{
    (void)h;
    (void)ev;
    return 0;
}

/* The I/O helper (iohelper.c) is not modelled: no queue has one. */
int bb_queue_helper(struct bb_queue *q)
{
    (void)q;
    return 0;
}

void bbh_lost(struct bbh *b, grant_handle_t *h, const char *who, int why)
{
    (void)b, (void)h, (void)who, (void)why;
    __builtin_trap();
}

int bbh_call(struct bbh *b, grant_handle_t *h, const char *who, int stop_fd)
{
    (void)b, (void)h, (void)who, (void)stop_fd;
    __builtin_trap();
}

/* Nor the discard worker (discard.c): the image is a file, never a block
 * device. */
void bb_discard_submit(struct bb_queue *q, unsigned slot,
                       struct io_uring_sqe *sqe)
{
    (void)q, (void)slot, (void)sqe;
    __builtin_trap();
}

grant_domid_t grant_domid(const grant_handle_t *h)
{
    (void)h;
    __builtin_trap();
}

int grant_create_batch(grant_handle_t *h, struct grant_create_req *r,
                       unsigned n)
{
    (void)h, (void)r, (void)n;
    __builtin_trap();
}

int grant_revoke_batch(grant_handle_t *h, struct grant_revoke_req *r,
                       unsigned n)
{
    (void)h, (void)r, (void)n;
    __builtin_trap();
}

/* ---- One request -------------------------------------------------------- */

/* Does the SQEs req.c queued, on the image in memory; their completions
 * go through the queue as reap() sends them. */
static void run_sqes(struct bb_queue *q)
{
    struct io_uring_sq *sq = &q->ring.sq;
    uint64_t end = img_sectors * 512;

    while (sq->sqe_head != sq->sqe_tail) {
        struct io_uring_sqe *e = &sq->sqes[sq->sqe_head & sq->ring_mask];
        uint64_t data = e->user_data, off = e->off, done = 0;
        struct bb_req *rq = &q->reqs[(uint32_t)data];
        const struct iovec *iov = (const void *)(uintptr_t)e->addr;
        int res = 0;
        unsigned i;

        sq->sqe_head++;
        switch (e->opcode) {
        case IORING_OP_READV:
        case IORING_OP_WRITEV:
            for (i = 0; i < e->len; i++) {
                if (off > end || iov[i].iov_len > end - off)
                    __builtin_trap(); /* past the disk's end */
                if (e->opcode == IORING_OP_READV)
                    memcpy(iov[i].iov_base, image + off, iov[i].iov_len);
                else
                    memcpy(image + off, iov[i].iov_base, iov[i].iov_len);
                off += iov[i].iov_len;
                done += iov[i].iov_len;
            }
            res = (int)done;
            break;
        case IORING_OP_FALLOCATE:
            if (off > end || e->addr > end - off)
                __builtin_trap();
            break;
        case IORING_OP_FSYNC:
            break;
        default:
            __builtin_trap();
        }
        if (res < 0 && !rq->err)
            rq->err = res;
        else if ((data & BB_CQE_RW) && (uint64_t)res != rq->bytes && !rq->err)
            rq->err = -EIO;
        if (rq->pending && --rq->pending == 0)
            bb_req_finish(q, rq);
    }
    /* Never submitted: the kernel's head follows, so the SQ never fills
     * (a full SQ would make req.c submit these stale entries). */
    __atomic_store_n(sq->khead, sq->sqe_tail, __ATOMIC_RELEASE);
}

static struct bb_queue *queue_new(void)
{
    static struct bb_queue q;
    static int up;
    unsigned i;

    if (!up) {
        if (io_uring_queue_init(64, &q.ring, 0) < 0)
            abort();
        up = 1;
    }
    q.v = &vbd;
    vbd.d = NULL;
    vbd.o = &opts;
    vbd.img.fd = 3;
    vbd.img.dfd = -1;
    vbd.img.bdev = 0;
    memset(ring_page, 0, sizeof(ring_page));
    if (xbe_ring_attach(&ring, ring_page, sizeof(ring_page),
                        sizeof(union blkif_sring_entry)) < 0)
        abort();
    q.r = &ring;
    q.reqs = calloc(ring.nr_ents, sizeof(*q.reqs));
    q.free = calloc(ring.nr_ents, sizeof(*q.free));
    q.v1c = calloc(BB_MAX_INDIRECT_SEGS, sizeof(*q.v1c));
    q.extc = calloc(BB_MAX_INDIRECT_SEGS, sizeof(*q.extc));
    q.gio = calloc(BB_MAX_INDIRECT_SEGS, sizeof(*q.gio));
    q.ind = malloc(4096);
    for (i = 0; i < ring.nr_ents; i++)
        q.free[i] = ring.nr_ents - 1 - i;
    q.nr_free = ring.nr_ents;
    q.inflight = 0;
    q.bounce_total = 0;
    return &q;
}

static void queue_free(struct bb_queue *q)
{
    unsigned i;

    for (i = 0; i < ring.nr_ents; i++)
        free(q->reqs[i].bounce);
    bb_pgrant_clear(q);
    free(q->reqs);
    free(q->free);
    free(q->v1c);
    free(q->extc);
    free(q->gio);
    free(q->ind);
}

/* Most inputs name a valid operation, a plausible segment count and a
 * sector near the disk's end, so the fuzzer gets past rules 1 to 3; the
 * top bit of each byte it reads keeps the raw value (any value still
 * comes). */
static void steer(uint8_t *slot)
{
    static const uint8_t ops[] = {
        BLKIF_OP_READ,     BLKIF_OP_WRITE,   BLKIF_OP_WRITE_BARRIER,
        BLKIF_OP_INDIRECT, BLKIF_OP_DISCARD, BLKIF_OP_FLUSH_DISKCACHE,
        BLKIF_OP_INDIRECT};
    struct blkif_request *r = (void *)slot;
    struct blkif_request_indirect *in = (void *)slot;
    uint8_t raw = r->operation;

    if (raw & 0x80)
        return;
    r->operation = ops[raw % sizeof(ops)];
    if (r->operation == BLKIF_OP_INDIRECT) {
        in->indirect_op = raw & 0x40 ? BLKIF_OP_WRITE : BLKIF_OP_READ;
        in->nr_segments %= BB_MAX_INDIRECT_SEGS + 2;
        if (!(raw & 0x20))
            in->sector_number %= img_sectors + 16;
    } else if (r->operation == BLKIF_OP_DISCARD) {
        struct blkif_request_discard *d = (void *)slot;

        if (!(raw & 0x20)) {
            d->sector_number %= img_sectors + 16;
            d->nr_sectors %= img_sectors + 16;
        }
    } else {
        r->nr_segments %= BLKIF_MAX_SEGMENTS_PER_REQUEST + 2;
        if (!(raw & 0x20))
            r->sector_number %= img_sectors + 16;
    }
}

/*
 * Input: flags (bit 0 grant-ext, 1 persistent, 2 read-only, 3 discard,
 * 4 grant-I/O, 5-6 copy budget 1/2/4/16 MiB), the disk's size in sectors
 * (2 bytes), then up to 4 ring entries of 112 bytes and the frontend's
 * memory.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned budget_mb[4] = {1, 2, 4, 16};
    size_t ent = sizeof(union blkif_sring_entry), n, k;
    struct bb_queue *q;
    uint8_t fl;

    if (size < 3 + ent)
        return 0;
    fl = data[0];
    img_sectors = (data[1] | (unsigned)data[2] << 8) % (IMG_MAX + 1);
    ext = fl & 1;
    vbd.ext = ext;
    vbd.persistent = !ext && (fl & 2);
    vbd.img.readonly = !!(fl & 4);
    vbd.img.discard = !!(fl & 8);
    vbd.img.sectors = img_sectors;
    opts.bounce_budget = (size_t)budget_mb[(fl >> 5) & 3] << 20;
    n = (size - 3) / ent;
    n = n > 4 ? 4 : n;
    memset(fe_mem, 0, sizeof(fe_mem));
    k = size - 3 - n * ent;
    for (size_t off = 0; k && off < FE_BYTES; off += k)
        memcpy(fe_mem + off, data + 3 + n * ent,
               k < FE_BYTES - off ? k : FE_BYTES - off);
    q = queue_new();
    q->io_file = (ext && (fl & 16)) ? 0 : -1;
    for (size_t i = 0; i < n; i++) {
        union blkif_sring_entry e;
        RING_IDX *prod = (RING_IDX *)ring_page;
        uint8_t *slot = ring.ents + (ring.req_cons & (ring.nr_ents - 1)) * ent;

        memcpy(slot, data + 3 + i * ent, ent);
        steer(slot);
        *prod = ring.req_cons + 1;
        if (xbe_ring_take(&ring, &e) != 1)
            __builtin_trap();
        /* No copy buffer now: held until the others complete (as the
         * queue thread does), then it must not wait again. */
        if (bb_req_start(q, &e, q->free[--q->nr_free]) == -EAGAIN) {
            run_sqes(q);
            if (bb_req_start(q, &e, q->free[--q->nr_free]) == -EAGAIN)
                __builtin_trap();
        }
    }
    run_sqes(q);
    /* Every request taken was answered (none left pending). */
    if (q->inflight || ring.rsp_prod_pvt != ring.req_cons)
        __builtin_trap();
    queue_free(q);
    return 0;
}
