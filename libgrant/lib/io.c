/* SPDX-License-Identifier: MIT */
/*
 * io.c: grant I/O (GNTX_OP_IO): the hypervisor moves bytes between a file
 * and a granted window.  Segments are checked here (direction, a
 * descriptor at all), translated to the ABI and sent in batches of up to
 * GNTX_MAX_BATCH elements naming at most XGW_MAX_IO_FDS distinct files,
 * the descriptors riding with the call.  Elements the per-call IO budget
 * cut short are resumed as they came back (grant_abi.h), so callers never
 * see -EAGAIN; `done` adds up over the resubmissions.  A registered file
 * (grant_io_register) is named by its id and sends no descriptor, so a
 * call on registered files only takes the transport's fast path.  Nothing is
 * allocated per call once the handle's buffers (lg_scratch) have grown.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>

#include "private.h"

#define NO_STATUS LG_NO_STATUS

/* A batch being built: its elements and the files they name. */
struct io_batch {
    struct gntx_io *v;
    unsigned *idx; /* v[i] is segment idx[i] */
    unsigned k, cap;
    int fds[XGW_MAX_IO_FDS];
    unsigned nfds;
};

/* Bytes still to move in v[0..k). */
static uint64_t pending_bytes(const struct gntx_io *v, unsigned k)
{
    return lg_pending_bytes(v, k, sizeof(*v), offsetof(struct gntx_io, len));
}

/* A segment's final state, from its element. */
static void seg_done(struct grant_io_seg *s, const struct gntx_io *v, int st)
{
    s->status = st;
    s->done = v->done;
}

/*
 * Sends the batch; resubmits what the budget cut short until nothing is
 * left (a round that moves nothing is a protocol error).  Returns how
 * many segments succeeded, or the call's error (every pending segment
 * holds it).
 */
static int send_batch(grant_handle_t *h, struct grant_io_seg *segs,
                      struct io_batch *b)
{
    struct gntx_io *v = b->v;
    unsigned k = b->k;
    int rc = 0, ok = 0;

    while (k) {
        struct grant_call gc = {.op = GNTX_OP_IO,
                                .args = v,
                                .elem_size = sizeof(*v),
                                .count = k,
                                .fds_in = b->fds,
                                .nfds_in = b->nfds};
        uint64_t before = pending_bytes(v, k);
        unsigned again = 0;

        rc = (int)h->ops->hypercall(h, &gc);
        if (rc == -ENOSYS)
            rc = -EOPNOTSUPP; /* a host from before grant I/O */
        for (unsigned i = 0; i < k; i++) {
            int st = lg_elem_status(rc, v[i].status);

            if (st == -EAGAIN) {
                v[again] = v[i];
                v[again].status = NO_STATUS;
                b->idx[again++] = b->idx[i];
                continue;
            }
            seg_done(&segs[b->idx[i]], &v[i], st);
            ok += st == 0;
        }
        if (rc >= 0 && again && pending_bytes(v, again) == before)
            rc = -EPROTO; /* no progress: never loop on a broken peer */
        k = again;
        if (rc < 0) {
            for (unsigned i = 0; i < k; i++)
                seg_done(&segs[b->idx[i]], &v[i], rc);
            return rc;
        }
    }
    return ok;
}

/* The index of fd among the batch's files, adding it; -1 when the batch
 * has no room for another file. */
static int batch_file(struct io_batch *b, int fd)
{
    for (unsigned i = 0; i < b->nfds; i++)
        if (b->fds[i] == fd)
            return (int)i;
    if (b->nfds == XGW_MAX_IO_FDS)
        return -1;
    b->fds[b->nfds] = fd;
    return (int)b->nfds++;
}

/* What the segment's element names its file by (a registered file's id
 * as it is); -1 when the batch has no room for another descriptor. */
static int seg_file(struct io_batch *b, const struct grant_io_seg *s)
{
    return s->dir & GRANT_IO_FIXED ? s->fd : batch_file(b, s->fd);
}

/* A segment the library refuses without asking the hypervisor. */
static int seg_check(const struct grant_io_seg *s)
{
    unsigned d = s->dir & ~GRANT_IO_FIXED;

    if (d != GRANT_IO_READ && d != GRANT_IO_WRITE)
        return -EINVAL;
    if (s->fd < 0)
        return -EBADF;
    if (!(s->dir & GRANT_IO_FIXED) && fcntl(s->fd, F_GETFD) < 0)
        return -EBADF; /* sendmsg would refuse the whole call */
    return 0;
}

static void seg_add(struct io_batch *b, const struct grant_io_seg *s,
                    uint32_t file, unsigned i)
{
    b->v[b->k] = (struct gntx_io){
        .dom = s->granter,
        .dir = (s->dir & ~GRANT_IO_FIXED) == GRANT_IO_READ ? GNTX_IO_READ
                                                           : GNTX_IO_WRITE,
        .ref = s->ref,
        .offset = s->offset,
        .len = s->len,
        .file_off = s->file_off,
        .file = file,
        .status = NO_STATUS};
    b->idx[b->k++] = i;
}

/* Flushes the batch: its result is added to *ok; -errno ends the call. */
static int batch_flush(grant_handle_t *h, struct grant_io_seg *segs,
                       struct io_batch *b, int *ok)
{
    int rc = b->k ? send_batch(h, segs, b) : 0;

    b->k = b->nfds = 0;
    if (rc < 0)
        return rc;
    *ok += rc;
    return 0;
}

static int io_run(grant_handle_t *h, struct grant_io_seg *segs, unsigned n)
{
    unsigned cap = n < GNTX_MAX_BATCH ? n : GNTX_MAX_BATCH;
    struct io_batch b = {
        .v = lg_scratch(h, LG_SCRATCH_IO, (cap ? cap : 1) * sizeof(*b.v)),
        .idx = lg_scratch(h, LG_SCRATCH_IO_IDX, (cap ? cap : 1) * sizeof(int)),
        .cap = cap};
    int ok = 0, rc = 0, file;
    unsigned i;

    if (!b.v || !b.idx)
        return -ENOMEM;
    for (i = 0; i < n; i++) {
        segs[i].done = 0;
        segs[i].status = seg_check(&segs[i]);
        if (segs[i].status)
            continue;
        file = seg_file(&b, &segs[i]);
        if (file < 0 || b.k == b.cap) {
            rc = batch_flush(h, segs, &b, &ok);
            if (rc < 0)
                break;
            file = seg_file(&b, &segs[i]);
        }
        seg_add(&b, &segs[i], (uint32_t)file, i);
    }
    if (rc == 0)
        rc = batch_flush(h, segs, &b, &ok);
    for (; rc < 0 && i < n; i++)
        segs[i].status = rc;
    return rc < 0 ? rc : ok;
}

int grant_io_register(grant_handle_t *h, int fd)
{
    uint32_t file;
    int rc;

    if (!h || fd < 0)
        return lg_fail(h, "grant_io_register", -EBADF);
    if (!h->ops->io_file_register)
        return lg_fail(h, "grant_io_register", -EOPNOTSUPP);
    rc = h->ops->io_file_register(h, fd, &file);
    if (rc == 0 && file > INT_MAX)
        rc = -EPROTO;
    return rc < 0 ? lg_fail(h, "grant_io_register", rc) : (int)file;
}

int grant_io_unregister(grant_handle_t *h, int file)
{
    if (!h || file < 0)
        return lg_fail(h, "grant_io_unregister", -EBADF);
    if (!h->ops->io_file_unregister)
        return lg_fail(h, "grant_io_unregister", -EOPNOTSUPP);
    return lg_fail(h, "grant_io_unregister",
                   h->ops->io_file_unregister(h, (uint32_t)file));
}

int grant_io(grant_handle_t *h, struct grant_io_seg *segs, unsigned n)
{
    if (!h || (!segs && n))
        return lg_fail(h, "grant_io", -EINVAL);
    if (!(h->features & GRANT_FEAT_IO))
        return lg_fail(h, "grant_io", -EOPNOTSUPP);
    return lg_fail(h, "grant_io", io_run(h, segs, n));
}
