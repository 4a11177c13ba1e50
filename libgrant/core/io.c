/* SPDX-License-Identifier: MIT */
/*
 * io.c: GNTX_OP_IO, grant I/O: the host moves bytes between a file and a
 * granted window, straight into or out of the granter's memory.
 *
 * The core does everything but the file I/O itself, which it cannot
 * (freestanding): per element, in this order,
 *   - dir and pad are known values                         (EINVAL)
 *   - file_off + len neither wraps nor passes the largest
 *     file offset                                          (EOVERFLOW)
 *   - the grant end is valid as a COPY end, the window whole
 *     (gc_end_resolve: the rights a READ needs are WRITE's, a
 *     WRITE's READ's)                                       (as COPY)
 *   - the host accepts the file for the direction          (the host's)
 *   - the granter's protections allow the bytes this call's
 *     budget lets move                                     (EACCES)
 * and then it hands the host those bytes as pieces of the granter's
 * memory (gh_frame), GCORE_IO_IOV pages at most per host call, pages the
 * host maps back to back joined into one piece.  A host that runs out of
 * time for the call (a slow file) says -GNTX_EAGAIN for a piece: the call
 * ends there as if its byte budget were spent.  All of it under the core
 * lock, as a copy: a revoke is never in between, and once it returns no
 * later call moves a byte through the grant.  The steps of an element are
 * shared with io_batch.c (gcore_io_batch: the pieces of many elements
 * handed to the host together).
 */
#include "private.h"

/* Pieces of sp from its position on, up to len bytes and GCORE_IO_IOV
 * pieces; their frames stay held (*held of them, from held[0]).  The bytes
 * gathered, 0 when the first frame is not there. */
uint64_t gc_io_gather(const struct gc_span *sp, uint64_t len, int write,
                      struct gcore_iov *iov, unsigned *n, void **held,
                      unsigned *nheld)
{
    struct gc_span at = *sp;
    uint64_t got = 0;

    *n = *nheld = 0;
    while (got < len && *nheld < GCORE_IO_IOV) {
        uint64_t k = gc_page_left(at.pos);
        char *va = gh_frame(at.cookie, gc_span_gfn(&at), write);

        if (!va)
            break;
        held[(*nheld)++] = va;
        k = k < len - got ? k : len - got;
        va += at.pos & GC_PAGE_MASK;
        if (*n && (char *)iov[*n - 1].base + iov[*n - 1].len == va)
            iov[*n - 1].len += (size_t)k;
        else
            iov[(*n)++] = (struct gcore_iov){va, (size_t)k};
        got += k;
        at.pos += k;
    }
    return got;
}

int gc_io_span(struct gc_io_call *x, const struct gntx_io *v,
               struct gc_span *sp, uint64_t len, uint64_t *moved)
{
    struct gcore_iov iov[GCORE_IO_IOV];
    void *held[GCORE_IO_IOV];
    unsigned n, nheld;

    *moved = 0;
    while (*moved < len) {
        uint64_t want = gc_io_gather(sp, len - *moved, v->dir == GNTX_IO_READ,
                                     iov, &n, held, &nheld);
        long got =
            want ? x->fn(x->ctx, v->file, v->dir, v->file_off + *moved, iov, n)
                 : -GNTX_EFAULT;

        for (unsigned i = 0; i < nheld; i++)
            gh_frame_put(sp->cookie, held[i]);
        if (got == -GNTX_EAGAIN && !x->moved && !*moved)
            return -GNTX_EFAULT; /* a host bug: the call could never end */
        if (got < 0)
            return (int)got;
        if ((uint64_t)got > want)
            return -GNTX_EFAULT; /* a host bug: never count it as moved */
        *moved += (uint64_t)got;
        sp->pos += (uint64_t)got;
        if ((uint64_t)got < want)
            return 0;
    }
    return 0;
}

/* The element's cursor moves past what moved. */
static void io_advance(struct gntx_io *v, uint64_t moved)
{
    v->offset += moved; /* cannot wrap: offset + len was validated */
    v->file_off += moved;
    v->len -= moved;
    v->done += moved;
}

static int io_check(const struct gntx_io *v)
{
    uint64_t end;

    if (v->dir > GNTX_IO_WRITE || v->pad)
        return -GNTX_EINVAL;
    if (__builtin_add_overflow(v->file_off, v->len, &end) ||
        end > GNTX_IO_FILE_OFF_MAX)
        return -GNTX_EOVERFLOW;
    return 0;
}

/* The rights the grant needs for the element's direction. */
static unsigned io_need(const struct gntx_io *v)
{
    return v->dir == GNTX_IO_READ ? GNTX_R_WRITE : GNTX_R_READ;
}

int gc_io_resolve(struct gcore *c, struct gc_dom *d, struct gc_io_call *x,
                  const struct gntx_io *v, struct gc_span *sp,
                  struct gc_locks *L)
{
    struct gntx_ptr p = {.kind = GNTX_PTR_GRANT,
                         .dom = v->dom,
                         .ref = v->ref,
                         .addr = v->offset};
    int rc = io_check(v);

    if (!rc)
        rc = gc_end_resolve(c, d, &p, v->len, io_need(v), sp, L);
    if (!rc)
        rc = (int)x->fn(x->ctx, v->file, v->dir, v->file_off, NULL, 0);
    return rc;
}

int gc_io_protect(struct gcore *c, struct gc_dom *d, struct gc_io_call *x,
                  const struct gntx_io *v, const struct gc_span *sp,
                  uint64_t *n)
{
    *n = gc_budget_take(&x->left, v->len);
    return gc_end_protect(c, d, sp, *n, io_need(v));
}

int gc_io_finish(struct gc_io_call *x, struct gntx_io *v, int rc, uint64_t n,
                 uint64_t moved)
{
    io_advance(v, moved);
    x->moved += moved;
    if (rc == -GNTX_EAGAIN) { /* the host's time budget: as the bytes' */
        x->left = 0;
        return v->len ? rc : 0;
    }
    if (rc || moved < n || !v->len)
        return rc;
    return -GNTX_EAGAIN;
}

static int io_one(struct gcore *c, struct gc_dom *d, void *elem, void *ctx,
                  struct gc_locks *L)
{
    struct gc_io_call *x = ctx;
    struct gntx_io *v = elem;
    struct gc_span sp;
    uint64_t n, moved = 0;
    int rc = gc_io_resolve(c, d, x, v, &sp, L);

    if (rc)
        return rc;
    rc = gc_io_protect(c, d, x, v, &sp, &n);
    if (!rc)
        rc = gc_io_span(x, v, &sp, n, &moved);
    return gc_io_finish(x, v, rc, n, moved);
}

int gcore_io(struct gcore *c, gntx_domid_t caller, struct gntx_io *v,
             unsigned n, gcore_io_fn *fn, void *ctx)
{
    struct gc_io_call x = {fn, ctx, 0, 0};

    if (n > GNTX_MAX_BATCH)
        return -GNTX_E2BIG;
    if (!fn)
        return -GNTX_EOPNOTSUPP;
    gh_lock(c);
    x.left = c->io_bytes;
    gh_unlock(c);
    return gc_batch(c, caller, v, n, sizeof(*v),
                    offsetof(struct gntx_io, status), io_one, &x, true);
}
