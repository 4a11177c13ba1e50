/* SPDX-License-Identifier: MIT */
/*
 * io_batch.c: GNTX_OP_IO in two phases (gcore_io_batch), for a host that
 * keeps many file I/Os in flight at once.
 *
 * Phase 1, per element as it comes: gcore_io's checks, in its order
 * (io.c: gc_io_resolve, gc_io_protect), then its bytes gathered into
 * pieces exactly as gcore_io would hand them to the host one at a time,
 * appended to the wave, their frames held.  Phase 2, when the wave is
 * full, when an element must not share it, before a relock and at the
 * end: the host moves every piece of the wave (`submit`), and each
 * element of it is completed in order from its pieces' results, what did
 * not move redone through `fn`; then its frames are put back.
 *
 * What may not share a wave (the order of the two would show):
 *   - two elements of which one writes memory (a READ) the other touches
 *     (by address: the host gives a frame one address while held);
 *   - an element that writes a file range another touches, on any file
 *     (a READ starting below a WRITE's end counts: the WRITE may extend
 *     the file under it);
 *   - an element whose owner has page protections: its check may write a
 *     fault record into memory the wave moves bytes to, so the wave before
 *     it completes first.
 * An element too large for an empty wave moves through `fn` alone (io.c's
 * gc_io_span), between waves.
 */
#include "private.h"

#define W_EL    64u /* elements a wave holds */
#define W_PIECE GCORE_IO_WAVE
#define W_IOV   512u /* memory pieces of all the pieces */
#define W_HELD  512u /* frames held */

/* An element in the wave. */
struct w_el {
    struct gntx_io *v;
    void *cookie;      /* its frames' domain */
    uint64_t n;        /* bytes its budget let move */
    uint64_t gathered; /* bytes in its pieces (< n: a frame is missing) */
    uint16_t p0, np;   /* its pieces */
    uint16_t iov0, niov;
    uint16_t h0, nh; /* its held frames */
};

struct wave {
    struct gc_io_call x;
    gcore_io_submit_fn *submit;
    int ok; /* elements completed with 0 since the batch last asked */
    unsigned ne, np, niov, nheld;
    struct w_el el[W_EL];
    struct gcore_io_piece p[W_PIECE];
    struct gcore_iov iov[W_IOV];
    void *held[W_HELD];
};

/* ---- phase 1: pieces into the wave -------------------------------------- */

/* Puts back the frames of the wave's last element and forgets it. */
static void wave_drop_last(struct wave *w)
{
    struct w_el *e = &w->el[w->ne];

    for (unsigned i = 0; i < e->nh; i++)
        gh_frame_put(e->cookie, w->held[e->h0 + i]);
    w->np = e->p0;
    w->niov = e->iov0;
    w->nheld = e->h0;
}

/* The element's n bytes from sp as pieces at the wave's end (its entry
 * el[ne], not yet counted in ne).  false, nothing kept, when they do not
 * fit. */
static bool wave_gather(struct wave *w, struct gntx_io *v, struct gc_span sp,
                        uint64_t n)
{
    struct w_el *e = &w->el[w->ne];

    if (w->ne == W_EL)
        return false;
    *e = (struct w_el){.v = v,
                       .cookie = sp.cookie,
                       .n = n,
                       .p0 = (uint16_t)w->np,
                       .iov0 = (uint16_t)w->niov,
                       .h0 = (uint16_t)w->nheld};
    while (e->gathered < n) {
        unsigned niov, nheld;
        uint64_t got;

        if (w->np == W_PIECE || W_IOV - w->niov < GCORE_IO_IOV ||
            W_HELD - w->nheld < GCORE_IO_IOV) {
            wave_drop_last(w);
            return false;
        }
        got = gc_io_gather(&sp, n - e->gathered, v->dir == GNTX_IO_READ,
                           &w->iov[w->niov], &niov, &w->held[w->nheld], &nheld);
        w->nheld += nheld;
        e->nh += (uint16_t)nheld;
        if (!got)
            break; /* a frame the host lacks: EFAULT after the pieces */
        w->p[w->np++] =
            (struct gcore_io_piece){.file = v->file,
                                    .dir = v->dir,
                                    .link = e->np > 0,
                                    .niov = (uint16_t)niov,
                                    .file_off = v->file_off + e->gathered,
                                    .iov = &w->iov[w->niov]};
        w->niov += niov;
        e->np++;
        e->niov += (uint16_t)niov;
        e->gathered += got;
        sp.pos += got;
    }
    return true;
}

static bool iov_overlap(const struct gcore_iov *a, const struct gcore_iov *b)
{
    uintptr_t a0 = (uintptr_t)a->base, b0 = (uintptr_t)b->base;

    return a0 < b0 + b->len && b0 < a0 + a->len;
}

static bool mem_overlap(const struct wave *w, const struct w_el *a,
                        const struct w_el *b)
{
    for (unsigned i = 0; i < a->niov; i++)
        for (unsigned j = 0; j < b->niov; j++)
            if (iov_overlap(&w->iov[a->iov0 + i], &w->iov[b->iov0 + j]))
                return true;
    return false;
}

/* Would the order of a and b show (the rules at the top)? */
static bool el_conflict(const struct wave *w, const struct w_el *a,
                        const struct w_el *b)
{
    bool aw = a->v->dir == GNTX_IO_WRITE, bw = b->v->dir == GNTX_IO_WRITE;
    uint64_t a0 = a->v->file_off, b0 = b->v->file_off;
    uint64_t a1 = a0 + a->gathered, b1 = b0 + b->gathered;

    if (aw && bw && a0 < b1 && b0 < a1)
        return true;
    if (aw != bw && (aw ? b0 < a1 : a0 < b1))
        return true;
    return (!aw || !bw) && mem_overlap(w, a, b);
}

/* Does the wave's last element (el[ne]) conflict with one before it? */
static bool wave_conflict(const struct wave *w)
{
    for (unsigned i = 0; i < w->ne; i++)
        if (el_conflict(w, &w->el[i], &w->el[w->ne]))
            return true;
    return false;
}

/* ---- phase 2: the wave moves, its elements complete --------------------- */

static uint64_t piece_len(const struct gcore_io_piece *p)
{
    uint64_t len = 0;

    for (unsigned i = 0; i < p->niov; i++)
        len += p->iov[i].len;
    return len;
}

/* What of a piece did not move, through fn: the bytes the piece moved in
 * all (as io.c's one call of fn would say), or -GNTX_E*. */
static long piece_redo(struct gc_io_call *x, const struct gcore_io_piece *p,
                       uint64_t want)
{
    struct gcore_iov iov[GCORE_IO_IOV];
    uint64_t off = p->res > 0 ? (uint64_t)p->res : 0, skip = off;
    unsigned n = 0;
    long more;

    for (unsigned i = 0; i < p->niov; i++) {
        if (skip >= p->iov[i].len) {
            skip -= p->iov[i].len;
            continue;
        }
        iov[n++] = (struct gcore_iov){(char *)p->iov[i].base + skip,
                                      p->iov[i].len - (size_t)skip};
        skip = 0;
    }
    more = x->fn(x->ctx, p->file, p->dir, p->file_off + off, iov, n);
    if (more == -GNTX_EAGAIN || (more > 0 && (uint64_t)more > want - off))
        more = -GNTX_EFAULT; /* a host bug (gcore.h) */
    if (more < 0)
        return off ? (long)off : more; /* an error after bytes: those */
    return (long)(off + (uint64_t)more);
}

/* A piece's outcome: all moved, 0 (the end of the file), or the rest
 * redone. */
static long piece_result(struct gc_io_call *x, const struct gcore_io_piece *p)
{
    uint64_t want = piece_len(p);

    if (p->res == 0 || (p->res > 0 && (uint64_t)p->res == want))
        return p->res;
    if (p->res > 0 && (uint64_t)p->res > want)
        return -GNTX_EFAULT; /* a host bug: never count it as moved */
    return piece_redo(x, p, want);
}

/* An element's status from its pieces, in order (io.c's gc_io_span). */
static int el_complete(struct wave *w, const struct w_el *e)
{
    uint64_t moved = 0;
    int rc = e->gathered < e->n ? -GNTX_EFAULT : 0;

    for (unsigned k = 0; k < e->np; k++) {
        const struct gcore_io_piece *p = &w->p[e->p0 + k];
        long got = piece_result(&w->x, p);

        if (got < 0) {
            rc = (int)got;
            break;
        }
        moved += (uint64_t)got;
        if ((uint64_t)got < piece_len(p)) {
            rc = 0; /* the end of the file: the element is over */
            break;
        }
    }
    return gc_io_finish(&w->x, e->v, rc, e->n, moved);
}

/* Moves the wave and completes its elements (gc_flush_fn's work). */
static void wave_run(struct wave *w)
{
    int rc = w->np ? w->submit(w->x.ctx, w->p, w->np) : 0;

    if (rc == -GNTX_EAGAIN && !w->x.moved)
        rc = -GNTX_EFAULT; /* not believed: the call could never end */
    if (rc && rc != -GNTX_EAGAIN)
        for (unsigned i = 0; i < w->np; i++)
            w->p[i].res = -GNTX_ECANCELED; /* all of it through fn */
    for (unsigned i = 0; i < w->ne; i++) {
        struct w_el *e = &w->el[i];
        int st = rc == -GNTX_EAGAIN
                     ? gc_io_finish(&w->x, e->v, rc, e->n, 0) /* cut */
                     : el_complete(w, e);

        e->v->status = st;
        w->ok += st == 0;
        for (unsigned h = 0; h < e->nh; h++)
            gh_frame_put(e->cookie, w->held[e->h0 + h]);
    }
    w->ne = w->np = w->niov = w->nheld = 0;
}

static int wave_flush(void *ctx)
{
    struct wave *w = ctx;
    int ok;

    wave_run(w);
    ok = w->ok;
    w->ok = 0;
    return ok;
}

/* ---- the batch ---------------------------------------------------------- */

/* Element v's n bytes from sp into the wave (GC_PENDING), or moved alone
 * when no wave can hold them (its status). */
static int wave_add(struct wave *w, struct gntx_io *v, struct gc_span *sp,
                    uint64_t n)
{
    uint64_t moved = 0;
    bool fit = wave_gather(w, v, *sp, n);
    int rc;

    if (fit && !wave_conflict(w)) {
        w->ne++;
        return GC_PENDING;
    }
    if (fit)
        wave_drop_last(w); /* the wave before it moves first */
    wave_run(w);
    if (wave_gather(w, v, *sp, n)) {
        w->ne++;
        return GC_PENDING;
    }
    rc = gc_io_span(&w->x, v, sp, n, &moved);
    return gc_io_finish(&w->x, v, rc, n, moved);
}

static int batch_one(struct gcore *c, struct gc_dom *d, void *elem, void *ctx,
                     struct gc_locks *L)
{
    struct wave *w = ctx;
    struct gntx_io *v = elem;
    struct gc_span sp;
    uint64_t n;
    int rc = gc_io_resolve(c, d, &w->x, v, &sp, L);

    if (rc)
        return rc;
    if (gc_prot_any(sp.owner))
        wave_run(w); /* its check may write a fault record */
    rc = gc_io_protect(c, d, &w->x, v, &sp, &n);
    if (rc || !n)
        return gc_io_finish(&w->x, v, rc, n, 0);
    return wave_add(w, v, &sp, n);
}

int gcore_io_batch(struct gcore *c, gntx_domid_t caller, struct gntx_io *v,
                   unsigned n, gcore_io_fn *fn, gcore_io_submit_fn *submit,
                   void *ctx)
{
    struct wave *w;
    int ok;

    if (n > GNTX_MAX_BATCH)
        return -GNTX_E2BIG;
    if (!fn || !submit)
        return -GNTX_EOPNOTSUPP;
    w = gh_zalloc(sizeof(*w));
    if (!w) /* no room for a wave: one piece at a time */
        return gcore_io(c, caller, v, n, fn, ctx);
    w->x = (struct gc_io_call){fn, ctx, 0, 0};
    w->submit = submit;
    gh_lock(c);
    w->x.left = c->io_bytes;
    gh_unlock(c);
    ok = gc_batch_flush(c, caller, v, n, sizeof(*v),
                        offsetof(struct gntx_io, status), batch_one, wave_flush,
                        w, true);
    gh_free(w);
    return ok;
}
