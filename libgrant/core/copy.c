/* SPDX-License-Identifier: MIT */
/*
 * copy.c: GNTX_OP_COPY and GNTX_OP_MEMSET, the always-safe byte path.
 *
 * Per element, every end is validated first (a grant end through
 * gc_resolve, a local end against the caller's memory), so a failing
 * element copies nothing.  Page protections are checked on the bytes the
 * call's budget lets move, just before they move: no call looks at more
 * pages than it may copy (an element longer than the budget may have
 * moved a prefix when a later part meets a protected page).  Then the
 * bytes move in ascending order, every
 * page reached through gh_frame; pages the host hands out back to back on
 * both sides (up to RUN_PAGES) go in one gh_memcpy, as a copy per page
 * costs several times the bytes' own cost (a libc's start-up per call).
 * Source and destination may overlap (the same domain's memory, or grants
 * over the same frames): then the chunks never cross a page boundary of
 * either side and each moves as memmove would, as the ABI says.
 */
#include "private.h"

/* Bytes of a domain's memory, saturated. */
static uint64_t mem_bytes(const struct gc_dom *d)
{
    if (d->nr_frames > (UINT64_MAX >> GNTX_PAGE_SHIFT))
        return UINT64_MAX;
    return d->nr_frames << GNTX_PAGE_SHIFT;
}

/* The owner's page protections allow the next len bytes of this end
 * (protect_check.c)? */
int gc_end_protect(struct gcore *c, struct gc_dom *who,
                   const struct gc_span *sp, uint64_t len, unsigned need)
{
    struct gc_access a = {
        .who = who,
        .owner = sp->owner,
        .frames = sp->frames,
        .pos = sp->pos,
        .len = len,
        .access = need == GNTX_R_READ ? GNTX_ACC_R : GNTX_ACC_W,
        .via = sp->frames ? GNTX_VIA_COPY : GNTX_VIA_SELF,
    };

    return gc_prot_check(c, &a);
}

/* Validates one end of a transfer and says where its bytes are. */
int gc_end_resolve(struct gcore *c, struct gc_dom *d, const struct gntx_ptr *p,
                   uint64_t len, unsigned need, struct gc_span *sp)
{
    struct gc_res res;
    int rc;

    switch (p->kind) {
    case GNTX_PTR_LOCAL:
        rc = gc_window(p->addr, len, mem_bytes(d));
        if (rc)
            return rc == -GNTX_ERANGE ? -GNTX_EFAULT : rc;
        sp->owner = d;
        sp->cookie = d->cookie;
        sp->frames = NULL;
        sp->pos = p->addr;
        return 0;
    case GNTX_PTR_GRANT:
        rc = gc_resolve(c, d, gc_domid(d->id, p->dom), p->ref, p->addr, len,
                        need, &res);
        if (rc)
            return rc;
        sp->owner = res.root;
        sp->cookie = res.root->cookie;
        sp->frames = gc_entry_frames(res.direct);
        sp->pos = res.start;
        return 0;
    default:
        return -GNTX_EINVAL;
    }
}

/*
 * gh_memcpy of n bytes that may overlap (a domain copying within its own
 * memory, or two grants over the same frames): memmove, in pieces no
 * longer than the distance, so no single gh_memcpy sees an overlap.
 */
static void chunk_move(char *t, const char *s, size_t n)
{
    uintptr_t ta = (uintptr_t)t, sa = (uintptr_t)s;
    size_t dist = ta > sa ? ta - sa : sa - ta, k;

    if (dist >= n) {
        gh_memcpy(t, s, n);
        return;
    }
    if (!dist)
        return;
    if (ta < sa) {
        for (size_t at = 0; at < n; at += k) {
            k = n - at < dist ? n - at : dist;
            gh_memcpy(t + at, s + at, k);
        }
        return;
    }
    for (size_t left = n; left; left -= k) {
        k = left < dist ? left : dist;
        gh_memcpy(t + left - k, s + left - k, k);
    }
}

/* Most pages one span holds at once: a run is copied by one gh_memcpy. */
#define RUN_PAGES 64u

/* Releases the `k` host-contiguous frames of a run starting at va. */
static void run_put(const struct gc_span *sp, char *va, uint64_t k)
{
    for (uint64_t i = 0; i < k; i++)
        gh_frame_put(sp->cookie, va + i * GNTX_PAGE_SIZE);
}

/*
 * Gets the frames of sp from its position on, up to `max` bytes and
 * RUN_PAGES pages, for as long as the host hands them out back to back:
 * *va is the first frame, *pages how many are held, and the result the
 * bytes reachable from sp->pos, or 0 when the first frame is not there.
 * A frame the host refuses after the first only ends the run.
 */
static uint64_t span_run(const struct gc_span *sp, uint64_t max, int write,
                         char **va, uint64_t *pages)
{
    struct gc_span at = *sp;
    uint64_t got = gc_page_left(at.pos);
    char *next;

    *va = gh_frame(sp->cookie, gc_span_gfn(sp), write);
    if (!*va)
        return 0;
    *pages = 1;
    while (got < max && *pages < RUN_PAGES) {
        at.pos = sp->pos + got;
        next = gh_frame(sp->cookie, gc_span_gfn(&at), write);
        if (next != *va + *pages * GNTX_PAGE_SIZE) {
            if (next)
                gh_frame_put(sp->cookie, next);
            break;
        }
        ++*pages;
        got += GNTX_PAGE_SIZE;
    }
    return got < max ? got : max;
}

/* Host addresses of both ends of a chunk that overlap? */
static bool chunk_overlaps(const char *t, const char *s, uint64_t n)
{
    uintptr_t ta = (uintptr_t)t, sa = (uintptr_t)s;

    return (ta > sa ? ta - sa : sa - ta) < n;
}

/*
 * One step of a copy: up to `len` bytes over the pages of both ends that
 * the host maps back to back, in one gh_memcpy.  Ends that overlap move
 * one page-bounded chunk at a time, as the ABI says.  Bytes moved, or 0
 * when a frame is missing.
 */
static uint64_t copy_step(struct gc_span *src, struct gc_span *dst,
                          uint64_t len)
{
    uint64_t n, sn, tn, sk, tk;
    char *sv, *tv, *s, *t;

    sn = span_run(src, len, 0, &sv, &sk);
    if (!sn)
        return 0;
    tn = span_run(dst, sn, 1, &tv, &tk);
    if (!tn) {
        run_put(src, sv, sk);
        return 0;
    }
    n = tn;
    s = sv + (src->pos & GC_PAGE_MASK);
    t = tv + (dst->pos & GC_PAGE_MASK);
    if (chunk_overlaps(t, s, n)) {
        n = gc_page_left(src->pos) < gc_page_left(dst->pos)
                ? gc_page_left(src->pos)
                : gc_page_left(dst->pos);
        n = n < len ? n : len;
    }
    chunk_move(t, s, (size_t)n);
    run_put(dst, tv, tk);
    run_put(src, sv, sk);
    src->pos += n;
    dst->pos += n;
    return n;
}

static int copy_spans(struct gc_span *src, struct gc_span *dst, uint64_t len)
{
    while (len) {
        uint64_t n = copy_step(src, dst, len);

        if (!n)
            return -GNTX_EFAULT;
        len -= n;
    }
    return 0;
}

static int set_span(struct gc_span *dst, uint64_t len, uint8_t value)
{
    while (len) {
        uint64_t n =
            len < gc_page_left(dst->pos) ? len : gc_page_left(dst->pos);
        char *t = gh_frame(dst->cookie, gc_span_gfn(dst), 1);

        if (!t)
            return -GNTX_EFAULT;
        gh_memset(t + (dst->pos & GC_PAGE_MASK), value, (size_t)n);
        gh_frame_put(dst->cookie, t);
        dst->pos += n;
        len -= n;
    }
    return 0;
}

static bool kind_ok(uint8_t kind)
{
    return kind == GNTX_PTR_LOCAL || kind == GNTX_PTR_GRANT;
}

/* An element the budget cut after `done` bytes: it resumes from there. */
static void advance(struct gntx_ptr *p, uint64_t done)
{
    p->addr += done; /* cannot wrap: addr + len was validated */
}

static int copy_one(struct gcore *c, struct gc_dom *d, void *elem, void *ctx)
{
    struct gntx_copy *v = elem;
    struct gc_span src, dst;
    uint64_t n;
    int rc;

    if (!kind_ok(v->src.kind) || !kind_ok(v->dst.kind))
        return -GNTX_EINVAL;
    /* len 0 moves nothing but is still a use: both ends are validated. */
    rc = gc_end_resolve(c, d, &v->src, v->len, GNTX_R_READ, &src);
    if (!rc)
        rc = gc_end_resolve(c, d, &v->dst, v->len, GNTX_R_WRITE, &dst);
    if (rc)
        return rc;
    n = gc_budget_take(ctx, v->len);
    rc = gc_end_protect(c, d, &src, n, GNTX_R_READ);
    if (!rc)
        rc = gc_end_protect(c, d, &dst, n, GNTX_R_WRITE);
    if (!rc)
        rc = copy_spans(&src, &dst, n);
    if (rc || n == v->len)
        return rc;
    advance(&v->src, n);
    advance(&v->dst, n);
    v->len -= n;
    return -GNTX_EAGAIN;
}

static int memset_one(struct gcore *c, struct gc_dom *d, void *elem, void *ctx)
{
    struct gntx_memset *v = elem;
    struct gc_span dst;
    uint64_t n;
    int rc;

    if (!kind_ok(v->dst.kind))
        return -GNTX_EINVAL;
    rc = gc_end_resolve(c, d, &v->dst, v->len, GNTX_R_WRITE, &dst);
    if (rc)
        return rc;
    n = gc_budget_take(ctx, v->len);
    rc = gc_end_protect(c, d, &dst, n, GNTX_R_WRITE);
    if (!rc)
        rc = set_span(&dst, n, v->value);
    if (rc || n == v->len)
        return rc;
    advance(&v->dst, n);
    v->len -= n;
    return -GNTX_EAGAIN;
}

int gcore_copy(struct gcore *c, gntx_domid_t caller, struct gntx_copy *v,
               unsigned n)
{
    uint64_t left = c->call_bytes;

    return gc_batch(c, caller, v, n, sizeof(*v),
                    offsetof(struct gntx_copy, status), copy_one, &left);
}

int gcore_memset(struct gcore *c, gntx_domid_t caller, struct gntx_memset *v,
                 unsigned n)
{
    uint64_t left = c->call_bytes;

    return gc_batch(c, caller, v, n, sizeof(*v),
                    offsetof(struct gntx_memset, status), memset_one, &left);
}
