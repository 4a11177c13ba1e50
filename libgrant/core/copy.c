/* SPDX-License-Identifier: MIT */
/*
 * copy.c: GNTX_OP_COPY and GNTX_OP_MEMSET, the always-safe byte path.
 *
 * Per element, every end is validated first (a grant end through
 * gc_resolve, a local end against the caller's memory), so a failing
 * element copies nothing.  The bytes move without the core lock, a chunk
 * of at most GC_CHUNK_PAGES pages per end at a time: each chunk is
 * validated again and its frame numbers copied out under the lock, and
 * holds an in-flight slot while it moves (inflight.c), so a revoke or
 * PROTECT stops a long element at a chunk boundary and waits for the
 * chunk under way.  Page protections are checked on the bytes the
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
static int end_protect(struct gcore *c, struct gc_dom *who,
                       const struct gc_span *sp, uint64_t len, unsigned need,
                       bool dry)
{
    struct gc_access a = {
        .who = who,
        .owner = sp->owner,
        .frames = sp->frames,
        .pos = sp->pos,
        .len = len,
        .access = need == GNTX_R_READ ? GNTX_ACC_R : GNTX_ACC_W,
        .via = sp->frames ? GNTX_VIA_COPY : GNTX_VIA_SELF,
        .dry = dry,
    };

    return gc_prot_check(c, &a);
}

int gc_end_protect(struct gcore *c, struct gc_dom *who,
                   const struct gc_span *sp, uint64_t len, unsigned need)
{
    return end_protect(c, who, sp, len, need, false);
}

/* Validates one end of a transfer and says where its bytes are. */
int gc_end_resolve(struct gcore *c, struct gc_dom *d, const struct gntx_ptr *p,
                   uint64_t len, unsigned need, struct gc_span *sp,
                   struct gc_locks *L)
{
    struct gc_res res;
    int rc;

    switch (p->kind) {
    case GNTX_PTR_LOCAL:
        rc = gc_need(L, d->id, false); /* its protections */
        if (rc)
            return rc;
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
                        need, &res, L, false);
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

/* Most bytes one chunk moves: its frames fit a gc_pin. */
#define CHUNK_BYTES ((uint64_t)GC_CHUNK_PAGES * GNTX_PAGE_SIZE)

/*
 * The part of an end one chunk moves, as it moves without the lock: the
 * domain's cookie, and the frame numbers copied out of the entry (which a
 * revoke may free meanwhile).  Never the struct gc_dom.
 */
struct gc_pin {
    struct gc_span sp;
    uint64_t fr[GC_CHUNK_PAGES + 1];
};

static void pin_span(struct gc_pin *p, const struct gc_span *sp, uint64_t n)
{
    p->sp = *sp;
    p->sp.owner = NULL;
    if (!sp->frames || !n)
        return;
    for (uint64_t i = sp->pos >> GNTX_PAGE_SHIFT, k = 0;
         i <= (sp->pos + n - 1) >> GNTX_PAGE_SHIFT; i++)
        p->fr[k++] = sp->frames[i];
    p->sp.frames = p->fr;
    p->sp.pos = sp->pos & GC_PAGE_MASK;
}

/*
 * One COPY or MEMSET element while it runs: src is NULL for a MEMSET.
 * `left` is the call's budget; once the element is valid it takes its
 * `share` of it (even if it then fails), of which `done` bytes moved.
 */
struct xfer {
    gntx_domid_t caller;
    const struct gntx_ptr *src, *dst;
    uint64_t len;
    uint8_t value;
    bool taken;
    uint64_t share, done;
    uint64_t *left;
    bool shared;       /* the lock is held shared (xfer_run) */
    struct gc_locks L; /* its chunks' lock set, grown as chains are found */
};

/* An end of the element from its `done`th byte on. */
static struct gntx_ptr ptr_at(const struct gntx_ptr *p, uint64_t done)
{
    struct gntx_ptr q = *p;

    q.addr += done; /* cannot wrap: addr + len is validated first */
    return q;
}

/*
 * Lock held: validates what is left of the element and pins its next
 * chunk (*n bytes, 0 when the budget is spent).  The first chunk checks
 * the protections of every byte the call's budget lets the element move,
 * so an element that fails on them moves nothing; a later chunk checks
 * its own bytes again (a PROTECT may have come in between).
 */
static int xfer_pin(struct gcore *c, struct xfer *x, struct gc_pin *ps,
                    struct gc_pin *pd, uint64_t *n)
{
    struct gc_dom *d = gc_dom_get(c, x->caller);
    uint64_t rest = x->len - x->done, call;
    struct gntx_ptr src, dst = ptr_at(x->dst, x->done);
    struct gc_span s, t;
    int rc;

    if (!d)
        return -GNTX_ESRCH;
    if (x->src) {
        src = ptr_at(x->src, x->done);
        rc = gc_end_resolve(c, d, &src, rest, GNTX_R_READ, &s, &x->L);
        if (rc)
            return rc;
    }
    rc = gc_end_resolve(c, d, &dst, rest, GNTX_R_WRITE, &t, &x->L);
    if (rc)
        return rc;
    if (!x->taken) {
        x->share = rest < *x->left ? rest : *x->left;
        *x->left -= x->share;
        x->taken = true;
    }
    *n = x->share - x->done < CHUNK_BYTES ? x->share - x->done : CHUNK_BYTES;
    call = x->done ? *n : x->share;
    if (x->src)
        rc = end_protect(c, d, &s, call, GNTX_R_READ, x->shared);
    if (!rc)
        rc = end_protect(c, d, &t, call, GNTX_R_WRITE, x->shared);
    if (rc)
        return rc;
    if (x->src)
        pin_span(ps, &s, *n);
    pin_span(pd, &t, *n);
    return 0;
}

static int xfer_move(const struct xfer *x, struct gc_pin *ps, struct gc_pin *pd,
                     uint64_t n)
{
    if (x->src)
        return copy_spans(&ps->sp, &pd->sp, n);
    return set_span(&pd->sp, n, x->value);
}

/*
 * Validates and pins the element's next chunk under its lock set (the
 * domains of both ends held shared, lock.c); a protection violation (its
 * action changes state) has it done again with the instance lock
 * exclusive.  Then takes an in-flight slot for the chunk, or moves its
 * bytes before the locks go: a chunk of a page or less (a writer waits no
 * longer for it than for a slot's wait, and the common small copy takes
 * no slot), or any when all slots are taken.  The locks are dropped on
 * return; *slot is -1 when the bytes have moved (or not: rc).
 */
static int xfer_chunk(struct gcore *c, struct xfer *x, struct gc_pin *ps,
                      struct gc_pin *pd, uint64_t *n, int *slot)
{
    int rc;

    *slot = -1;
    x->L.rounds = 0;
    gc_locks_take(&x->L);
    for (;;) {
        x->shared = !x->L.wide;
        rc = xfer_pin(c, x, ps, pd, n);
        if (rc == GC_CHECK_AGAIN)
            rc = gc_need_wide(&x->L);
        if (rc != GC_RELOCK)
            break;
        gc_relock(&x->L);
    }
    if (!rc && *n && (*n <= GNTX_PAGE_SIZE || (*slot = gc_copy_enter(c)) < 0))
        rc = xfer_move(x, ps, pd, *n);
    gc_locks_drop(&x->L);
    x->L.wide = false; /* the next chunk starts shared again */
    return rc;
}

/* The domains an end names before anything is read: its owner's lock
 * set starts with them (a chain's further domains are found on the way). */
static void xfer_wish(struct xfer *x, const struct gntx_ptr *p)
{
    if (p->kind == GNTX_PTR_LOCAL)
        gc_need(&x->L, x->caller, false);
    else
        gc_need(&x->L, gc_domid(x->caller, p->dom), false);
}

/*
 * Runs one element chunk by chunk: each is validated and pinned under the
 * lock (xfer_chunk), and its bytes move without it (inflight.c; under it
 * when every slot is taken).  0, -GNTX_EAGAIN when the budget ran out first
 * (*adv: the bytes that moved), or the first error: a revoke or PROTECT that
 * comes while a long element moves stops it at a chunk boundary.
 */
static int xfer_run(struct gcore *c, struct xfer *x, uint64_t *adv)
{
    struct gc_pin ps, pd;

    gc_locks_init(&x->L, c, false);
    if (x->src)
        xfer_wish(x, x->src);
    xfer_wish(x, x->dst);
    for (;;) {
        uint64_t n = 0;
        int slot, rc = xfer_chunk(c, x, &ps, &pd, &n, &slot);

        if (slot >= 0) {
            rc = xfer_move(x, &ps, &pd, n);
            gc_copy_leave(c, slot);
        }
        if (rc)
            return rc;
        x->done += n;
        if (x->done == x->len)
            return 0;
        if (x->done == x->share) {
            *adv = x->done;
            return -GNTX_EAGAIN;
        }
    }
}

static int copy_one(struct gcore *c, gntx_domid_t caller, void *elem,
                    uint64_t *left)
{
    struct gntx_copy *v = elem;
    struct xfer x = {caller, &v->src, &v->dst, v->len, 0, false, 0, 0, left};
    uint64_t adv = 0;
    int rc;

    if (!kind_ok(v->src.kind) || !kind_ok(v->dst.kind))
        return -GNTX_EINVAL;
    /* len 0 moves nothing but is still a use: both ends are validated. */
    rc = xfer_run(c, &x, &adv);
    if (rc == -GNTX_EAGAIN) {
        v->src = ptr_at(&v->src, adv);
        v->dst = ptr_at(&v->dst, adv);
        v->len -= adv;
    }
    return rc;
}

static int memset_one(struct gcore *c, gntx_domid_t caller, void *elem,
                      uint64_t *left)
{
    struct gntx_memset *v = elem;
    struct xfer x = {caller, NULL, &v->dst, v->len, v->value,
                     false,  0,    0,       left};
    uint64_t adv = 0;
    int rc;

    if (!kind_ok(v->dst.kind))
        return -GNTX_EINVAL;
    rc = xfer_run(c, &x, &adv);
    if (rc == -GNTX_EAGAIN) {
        v->dst = ptr_at(&v->dst, adv);
        v->len -= adv;
    }
    return rc;
}

/*
 * A COPY or MEMSET batch: as gc_batch, but each element takes the lock
 * itself, chunk by chunk (xfer_run), under the call's byte budget.
 */
static int xfer_batch(struct gcore *c, gntx_domid_t caller, void *v, unsigned n,
                      size_t esz, size_t status_off,
                      int (*one)(struct gcore *, gntx_domid_t, void *,
                                 uint64_t *))
{
    uint64_t left;
    int ok = 0;

    if (n && !v)
        return -GNTX_EINVAL;
    left = __atomic_load_n(&c->call_bytes, __ATOMIC_RELAXED); /* a word */
    for (unsigned i = 0; i < n; i++) {
        char *elem = (char *)v + (size_t)i * esz;
        int32_t st = one(c, caller, elem, &left);

        *(int32_t *)(void *)(elem + status_off) = st;
        ok += st == 0;
    }
    return ok;
}

int gcore_copy(struct gcore *c, gntx_domid_t caller, struct gntx_copy *v,
               unsigned n)
{
    return xfer_batch(c, caller, v, n, sizeof(*v),
                      offsetof(struct gntx_copy, status), copy_one);
}

int gcore_memset(struct gcore *c, gntx_domid_t caller, struct gntx_memset *v,
                 unsigned n)
{
    return xfer_batch(c, caller, v, n, sizeof(*v),
                      offsetof(struct gntx_memset, status), memset_one);
}
