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
 * direct grant over the block is FORCE-revoked then (gcore_revoke_frames,
 * one pass over the table for all of a closing connection's blocks:
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
    struct gcore_range *a =
        xd_grow(c->allocs, &c->allocs_cap, c->nallocs + 1, sizeof(*a), 8);

    if (!a)
        return -ENOMEM;
    c->allocs = a;
    c->allocs[c->nallocs++] = (struct gcore_range){first, n};
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

/* ---- taking blocks back ------------------------------------------------ */

/* Every mapping of q's frames is gone: they may be handed out again. */
static void quar_end(void *arg)
{
    struct xd_quar *q = arg, **p;
    struct xd_dom *d = q->dom;

    if (d) {
        for (p = &d->quar; *p != q; p = &(*p)->next)
            ;
        *p = q->next;
        for (size_t i = 0; i < q->n; i++)
            bits_set(d->bitmap, q->r[i].first, q->r[i].nr, false);
        xd_dbg("dom %u (%s): %zu blocks free again", d->id, d->name, q->n);
    }
    free(q->r);
    free(q);
}

static int range_cmp(const void *a, const void *b)
{
    const struct gcore_range *x = a, *y = b;

    return x->first < y->first ? -1 : x->first > y->first;
}

/* Sorts r and merges adjacent ranges; the new count. */
static size_t ranges_merge(struct gcore_range *r, size_t n)
{
    size_t k = 0;

    qsort(r, n, sizeof(*r), range_cmp);
    for (size_t i = 1; i < n; i++) {
        if (r[k].first + r[k].nr == r[i].first)
            r[k].nr += r[i].nr;
        else
            r[++k] = r[i];
    }
    return n ? k + 1 : 0;
}

/*
 * The n blocks r (malloc'd, ours now) of d come back: the grants over them
 * are FORCE-revoked in one pass over d's table, the frames zeroed, and
 * they return to the allocator once the unmaps are acknowledged.  Out of
 * memory for the bookkeeping, they stay allocated for good (a leak, never
 * a reuse).
 */
static void blocks_reclaim(struct xd_dom *d, struct gcore_range *r, size_t n)
{
    struct xd_quar *q = calloc(1, sizeof(*q));
    struct xd_group *g = q ? xd_group_new() : NULL;
    struct xd_group *saved = xd.cur;

    n = ranges_merge(r, n);
    if (g) {
        *q = (struct xd_quar){d->quar, d, r, n};
        d->quar = q;
        g->done = quar_end;
        g->done_arg = q;
    } else {
        free(q);
        xd_log_dom(d, "out of memory: %zu blocks stay out of use", n);
    }
    xd.cur = g; /* the unmap acks hold g, hence the frames */
    if (d->in_core)
        gcore_revoke_frames(xd.core, d->id, r, n);
    xd.cur = saved;
    if (g)
        xd_dying_hold(d->id, g); /* and dying mappers, until reaped */
    for (size_t i = 0; i < n; i++)
        frames_zero(d, r[i].first, r[i].nr);
    if (g)
        xd_group_put(g); /* quar_end now, unless a mapper owes an ack */
    else
        free(r);
}

/* Gives c's blocks [i, nallocs) back (they end c's array). */
static void blocks_release(struct xd_conn *c, size_t i)
{
    struct xd_dom *d = c->dom;
    size_t n = c->nallocs - i;
    struct gcore_range *r = malloc(n * sizeof(*r));
    struct xd_group *saved;

    if (r)
        memcpy(r, c->allocs + i, n * sizeof(*r));
    c->nallocs = i;
    if (d->state != XGW_DOM_RUNNING || !d->bitmap) {
        free(r); /* the whole memory goes with the domain */
        return;
    }
    if (r) {
        blocks_reclaim(d, r, n);
        return;
    }
    /* No memory to sort them: revoke block by block, never reuse them. */
    xd_log_dom(d, "out of memory: %zu blocks stay out of use", n);
    saved = xd.cur;
    xd.cur = NULL;
    for (size_t k = i; d->in_core && k < i + n; k++)
        gcore_revoke_frames(xd.core, d->id, &c->allocs[k], 1);
    xd.cur = saved;
}

void xd_mem_free(struct xd_conn *c, struct xd_rx *rx)
{
    struct xgw_mem req;

    if (!mem_req(c, rx, &req))
        return;
    for (size_t i = 0; i < c->nallocs; i++) {
        if (c->allocs[i].first == req.first_gfn &&
            c->allocs[i].nr == req.nr_frames) {
            struct gcore_range a = c->allocs[i];

            c->allocs[i] = c->allocs[c->nallocs - 1];
            c->allocs[c->nallocs - 1] = a;
            blocks_release(c, c->nallocs - 1);
            mem_reply(c, &rx->hdr, &req);
            return;
        }
    }
    xd_reply_err(c, &rx->hdr, -EINVAL);
}

void xd_mem_release_conn(struct xd_conn *c)
{
    if (c->nallocs)
        blocks_release(c, 0);
}
