/* SPDX-License-Identifier: MIT */
/*
 * mem.c: a domain's guest memory and its frame allocator.
 *
 * Memory is one memfd, sealed against shrinking and growing (a client holds
 * it read-write; a shrink would turn the daemon's own accesses into SIGBUS),
 * mapped shared in the daemon for the core's copies.  MEM_ALLOC hands out
 * contiguous runs, first fit, from a bitmap; the frames are zeroed by
 * punching them out of the memfd (which also gives the memory back on
 * free).  Blocks belong to the connection that allocated them.
 *
 * A block goes back on MEM_FREE or when its connection closes, for
 * whatever reason (a client that crashes cannot revoke first).  Grants may
 * still name its frames, and other domains map or copy through them: every
 * direct grant over the block is FORCE-revoked then (gcore_revoke_frames:
 * delegations below die, mappings are torn down with unmap notices), and
 * the frames stay out of the allocator, quarantined, until every mapper
 * has acknowledged (or been killed): no grant or mapping ever reaches what
 * the frames hold for their next owner.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "private.h"

#define BITS 64u

int xd_mem_setup(struct xd_dom *d, uint64_t bytes)
{
    uint64_t words = (bytes / GNTX_PAGE_SIZE + BITS - 1) / BITS;
    int fd, err;
    void *p;

    fd = memfd_create(d->name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)bytes) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        goto err_close;
    p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        goto err_close;
    d->bitmap = calloc(words ? words : 1, sizeof(uint64_t));
    if (!d->bitmap) {
        munmap(p, bytes);
        errno = ENOMEM;
        goto err_close;
    }
    d->memfd = fd;
    d->mem = p;
    d->nr_frames = bytes / GNTX_PAGE_SIZE;
    return 0;

err_close:
    err = -errno;
    close(fd);
    return err;
}

/* Idempotent. */
void xd_mem_teardown(struct xd_dom *d)
{
    if (d->mem)
        munmap(d->mem, d->nr_frames * GNTX_PAGE_SIZE);
    d->mem = NULL;
    if (d->memfd >= 0)
        close(d->memfd);
    d->memfd = -1;
    free(d->bitmap);
    d->bitmap = NULL;
    /* Blocks waiting for unmaps: their records end with their groups. */
    for (struct xd_quar *q = d->quar; q; q = q->next)
        q->dom = NULL;
    d->quar = NULL;
}

/* ---- the bitmap --------------------------------------------------------- */

static bool bit_get(const uint64_t *bm, uint64_t i)
{
    return bm[i / BITS] >> (i % BITS) & 1u;
}

static void bits_set(uint64_t *bm, uint64_t first, uint64_t n, bool on)
{
    for (uint64_t i = first; i < first + n; i++) {
        if (on)
            bm[i / BITS] |= UINT64_C(1) << (i % BITS);
        else
            bm[i / BITS] &= ~(UINT64_C(1) << (i % BITS));
    }
}

/* First fit: whole free or full words are skipped 64 frames at a time. */
static int run_find(const uint64_t *bm, uint64_t nbits, uint64_t n,
                    uint64_t *first)
{
    uint64_t i = 0, start = 0, len = 0;

    while (i < nbits) {
        if (i % BITS == 0 && i + BITS <= nbits && bm[i / BITS] == ~0ull) {
            len = 0;
            i += BITS;
            continue;
        }
        if (i % BITS == 0 && i + BITS <= nbits && bm[i / BITS] == 0 &&
            len + BITS < n) {
            start = len ? start : i;
            len += BITS;
            i += BITS;
            continue;
        }
        if (bit_get(bm, i)) {
            len = 0;
        } else {
            start = len ? start : i;
            if (++len == n) {
                *first = start;
                return 0;
            }
        }
        i++;
    }
    return -ENOMEM;
}

/* Zeroes frames (and returns their memory to the kernel). */
static void frames_zero(struct xd_dom *d, uint64_t first, uint64_t n)
{
    off_t off = (off_t)(first * GNTX_PAGE_SIZE);
    off_t len = (off_t)(n * GNTX_PAGE_SIZE);

    if (fallocate(d->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
                  len) < 0)
        memset(d->mem + first * GNTX_PAGE_SIZE, 0, n * GNTX_PAGE_SIZE);
}

/* ---- MEM_ALLOC / MEM_FREE ------------------------------------------------ */

static int alloc_record(struct xd_conn *c, uint64_t first, uint64_t n)
{
    if (c->nallocs == c->allocs_cap) {
        size_t cap = c->allocs_cap ? c->allocs_cap * 2 : 8;
        struct xd_alloc *a = reallocarray(c->allocs, cap, sizeof(*a));

        if (!a)
            return -ENOMEM;
        c->allocs = a;
        c->allocs_cap = cap;
    }
    c->allocs[c->nallocs++] = (struct xd_alloc){first, n};
    return 0;
}

static bool mem_req(struct xd_conn *c, struct xd_rx *rx, struct xgw_mem *req)
{
    if (rx->hdr.len != sizeof(*req)) {
        xd_log_conn(c, "bad message: op 0x%x len %u", rx->hdr.op, rx->hdr.len);
        xd_reply_err(c, &rx->hdr, -EINVAL);
        return false;
    }
    memcpy(req, rx->pay, sizeof(*req));
    return true;
}

static void mem_reply(struct xd_conn *c, const struct xgw_msg *h,
                      const struct xgw_mem *rep)
{
    struct xd_out *m = xd_out_new(h->op, h->seq, 0, sizeof(*rep));

    if (!m) {
        xd_conn_close(c, "out of memory for a reply");
        return;
    }
    memcpy(xd_out_payload(m), rep, sizeof(*rep));
    xd_reply(c, m);
}

void xd_mem_alloc(struct xd_conn *c, struct xd_rx *rx)
{
    struct xd_dom *d = c->dom;
    struct xgw_mem req;
    uint64_t first;

    if (!mem_req(c, rx, &req))
        return;
    if (req.nr_frames == 0) {
        xd_reply_err(c, &rx->hdr, -EINVAL);
        return;
    }
    if (req.nr_frames > d->nr_frames ||
        run_find(d->bitmap, d->nr_frames, req.nr_frames, &first) < 0) {
        xd_reply_err(c, &rx->hdr, -ENOMEM);
        return;
    }
    if (alloc_record(c, first, req.nr_frames) < 0) {
        xd_reply_err(c, &rx->hdr, -ENOMEM);
        return;
    }
    bits_set(d->bitmap, first, req.nr_frames, true);
    frames_zero(d, first, req.nr_frames);
    req.first_gfn = first;
    xd_dbg("dom %u (%s): pid %d allocated frames %" PRIu64 "+%" PRIu64, d->id,
           d->name, (int)c->pid, first, req.nr_frames);
    mem_reply(c, &rx->hdr, &req);
}

/* ---- taking a block back ------------------------------------------------ */

/* Every mapping of q's frames is gone: they may be handed out again. */
static void quar_end(void *arg)
{
    struct xd_quar *q = arg, **p;
    struct xd_dom *d = q->dom;

    if (d) {
        for (p = &d->quar; *p != q; p = &(*p)->next)
            ;
        *p = q->next;
        bits_set(d->bitmap, q->first, q->nr, false);
        xd_dbg("dom %u (%s): frames %" PRIu64 "+%" PRIu64 " free again", d->id,
               d->name, q->first, q->nr);
    }
    free(q);
}

/*
 * Frames [first, first + nr) of d come back: the grants over them are
 * FORCE-revoked, the frames zeroed, and they return to the allocator once
 * the unmaps are acknowledged.  Out of memory for the bookkeeping, they
 * stay allocated for good (a leak, never a reuse).
 */
static void frames_reclaim(struct xd_dom *d, uint64_t first, uint64_t nr)
{
    struct xd_quar *q = calloc(1, sizeof(*q));
    struct xd_group *g = q ? xd_group_new() : NULL;
    struct xd_group *saved = xd.cur;

    if (g) {
        *q = (struct xd_quar){d->quar, d, first, nr};
        d->quar = q;
        g->done = quar_end;
        g->done_arg = q;
    } else {
        free(q);
        xd_log_dom(
            d, "out of memory: frames %" PRIu64 "+%" PRIu64 " stay out of use",
            first, nr);
    }
    xd.cur = g; /* the unmap acks hold g, hence the frames */
    if (d->in_core)
        gcore_revoke_frames(xd.core, d->id, first, nr);
    xd.cur = saved;
    frames_zero(d, first, nr);
    if (g)
        xd_group_put(g); /* quar_end now, unless a mapper owes an ack */
}

static void block_release(struct xd_conn *c, size_t i)
{
    struct xd_dom *d = c->dom;
    struct xd_alloc a = c->allocs[i];

    c->allocs[i] = c->allocs[--c->nallocs];
    if (d->state != XGW_DOM_RUNNING || !d->bitmap)
        return; /* the whole memory goes with the domain */
    frames_reclaim(d, a.first, a.nr);
}

void xd_mem_free(struct xd_conn *c, struct xd_rx *rx)
{
    struct xgw_mem req;

    if (!mem_req(c, rx, &req))
        return;
    for (size_t i = 0; i < c->nallocs; i++) {
        if (c->allocs[i].first == req.first_gfn &&
            c->allocs[i].nr == req.nr_frames) {
            block_release(c, i);
            mem_reply(c, &rx->hdr, &req);
            return;
        }
    }
    xd_reply_err(c, &rx->hdr, -EINVAL);
}

void xd_mem_release_conn(struct xd_conn *c)
{
    while (c->nallocs)
        block_release(c, c->nallocs - 1);
}
