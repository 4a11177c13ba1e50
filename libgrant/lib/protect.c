/* SPDX-License-Identifier: MIT */
/*
 * protect.c: page protection (GNTX_OP_PROTECT, PROTECT_QUERY, FAULT_STATS)
 * and its local half: this handle's mapping of the domain memory is
 * mprotect'ed to the declared access, and a per-page table tells the
 * SIGSEGV handler (protect_fault.c) what a fault on a page means.
 *
 * Ordering against that handler: tightening writes the table first and
 * mprotects second; loosening mprotects first and clears the table second.
 * So a fault always finds the page's protection in the table.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "private.h"

/* What this handle's mapping allows when nothing is protected. */
#define DEFAULT_PROT (PROT_READ | PROT_WRITE)

int lg_prot_get(grant_handle_t *h, struct lg_prot **out)
{
    struct lg_prot *p = h->prot;
    size_t bytes;

    if (!p) {
        if (__builtin_mul_overflow((size_t)h->mem_frames, sizeof(*p->page),
                                   &bytes))
            return -ENOMEM;
        p = calloc(1, sizeof(*p));
        if (!p)
            return -ENOMEM;
        p->slot = -1;
        p->page_bytes = bytes ? bytes : 1;
        /* mmap: zeroed, and never moved (the signal handler reads it). */
        p->page = mmap(NULL, p->page_bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p->page == MAP_FAILED) {
            free(p);
            return -ENOMEM;
        }
        h->prot = p;
    }
    *out = p;
    return 0;
}

static int prot_of(unsigned access)
{
    if (access == GRANT_ACC_RWX)
        return DEFAULT_PROT;
    return (access & GRANT_ACC_R ? PROT_READ : 0) |
           (access & GRANT_ACC_W ? PROT_WRITE : 0) |
           (access & GRANT_ACC_X ? PROT_EXEC : 0);
}

/* The element's frames, checked as far as the library can (the
 * hypervisor checks again). */
static int req_frames(const grant_handle_t *h,
                      const struct grant_protect_req *r, uint64_t *gfn,
                      uint64_t *nr)
{
    uintptr_t a = (uintptr_t)r->ptr, base = (uintptr_t)h->mem;

    if (!r->len || ((a | r->len) & (GRANT_PAGE_SIZE - 1)))
        return -EINVAL;
    if (!h->mem || a < base)
        return -EFAULT;
    *gfn = (a - base) / GRANT_PAGE_SIZE;
    *nr = r->len / GRANT_PAGE_SIZE;
    return 0;
}

static void table_set(struct lg_prot *p, uint64_t gfn, uint64_t nr,
                      const struct gntx_protect *v)
{
    uint32_t meta = v->access == GNTX_ACC_RWX
                        ? 0
                        : LG_PROT_VALID | (uint32_t)v->action << 8 | v->access;

    for (uint64_t g = gfn; g < gfn + nr; g++) {
        __atomic_store_n(&p->page[g].cookie, v->cookie, __ATOMIC_RELAXED);
        /* Release: the cookie is there before the meta that covers it. */
        __atomic_store_n(&p->page[g].meta, meta, __ATOMIC_RELEASE);
    }
}

/* The local half of one element the hypervisor accepted. */
static int apply_local(grant_handle_t *h, const struct gntx_protect *v)
{
    struct lg_prot *p;
    uint8_t *at = h->mem + v->gfn * GRANT_PAGE_SIZE;
    size_t len = (size_t)v->nr * GRANT_PAGE_SIZE;
    int rc = lg_prot_get(h, &p);

    if (rc < 0)
        return rc;
    if (v->access != GNTX_ACC_RWX) {
        rc = lg_prot_sig_register(h);
        if (rc < 0)
            return rc;
        table_set(p, v->gfn, v->nr, v);
    }
    if (mprotect(at, len, prot_of(v->access)) < 0)
        return -errno;
    if (v->access == GNTX_ACC_RWX)
        table_set(p, v->gfn, v->nr, v);
    return 0;
}

static int protect_call(grant_handle_t *h, struct gntx_protect *v, unsigned n)
{
    struct grant_call gc = {
        .op = GNTX_OP_PROTECT, .args = v, .elem_size = sizeof(*v), .count = n};

    return (int)h->ops->hypercall(h, &gc);
}

/* Frames the elements w[0..k) still have to cover. */
static uint64_t pending_frames(const struct gntx_protect *w, unsigned k)
{
    uint64_t sum = 0;

    for (unsigned i = 0; i < k; i++)
        sum += w[i].nr;
    return sum;
}

/* Rounds in a row that may leave every frame pending: the hypervisor may
 * spend whole budgets downgrading mappings of one chunk (grant_abi.h),
 * progress we cannot see; past this many it is a broken peer. */
#define PROTECT_STALL_ROUNDS 4096u

/*
 * Sends v[0..n) and resubmits the elements the hypervisor's per-call page
 * budget cut short (grant_abi.h's continuation rule) until none is left;
 * PROTECT_STALL_ROUNDS rounds in a row without progress are a protocol
 * error.  Each v[i] keeps its range and gets its final status.  0, or the
 * call's -errno.
 */
static int protect_send(grant_handle_t *h, struct gntx_protect *v, unsigned n)
{
    struct gntx_protect w[n];
    unsigned at[n], k = n, stalled = 0;

    for (unsigned i = 0; i < n; i++) {
        w[i] = v[i];
        at[i] = i;
    }
    while (k) {
        uint64_t before = pending_frames(w, k);
        unsigned again = 0;
        int rc = protect_call(h, w, k);

        if (rc < 0)
            return rc;
        for (unsigned j = 0; j < k; j++) {
            if (w[j].status != -EAGAIN) {
                v[at[j]].status = w[j].status;
                continue;
            }
            w[again] = w[j];
            w[again].status = 1;
            at[again++] = at[j];
        }
        stalled =
            again == k && pending_frames(w, k) >= before ? stalled + 1 : 0;
        if (stalled > PROTECT_STALL_ROUNDS)
            return -EPROTO; /* never loop on a broken peer */
        k = again;
    }
    return 0;
}

/* Up to GNTX_MAX_BATCH elements; the count that succeeded or -errno. */
static int protect_chunk(grant_handle_t *h, struct grant_protect_req *r,
                         unsigned n)
{
    struct gntx_protect v[n];
    unsigned idx[n], k = 0;
    int rc, ok = 0;

    for (unsigned i = 0; i < n; i++) {
        uint64_t gfn, nr;

        r[i].status = req_frames(h, &r[i], &gfn, &nr);
        if (r[i].access > 0xff || r[i].action > 0xff)
            r[i].status = -EINVAL;
        if (r[i].status < 0)
            continue;
        v[k] = (struct gntx_protect){.gfn = gfn,
                                     .nr = nr,
                                     .cookie = r[i].cookie,
                                     .access = (uint8_t)r[i].access,
                                     .action = (uint8_t)r[i].action,
                                     .status = 1};
        idx[k++] = i;
    }
    rc = k ? protect_send(h, v, k) : 0;
    if (rc < 0)
        return rc;
    for (unsigned j = 0; j < k; j++) {
        int st = v[j].status;

        if (st == 0 && h->mem)
            st = apply_local(h, &v[j]);
        r[idx[j]].status = st;
        ok += st == 0;
    }
    return ok;
}

int grant_protect_batch(grant_handle_t *h, struct grant_protect_req *reqs,
                        unsigned n)
{
    int ok = 0;

    if (!h || (n && !reqs))
        return lg_fail(h, "grant_protect", -EINVAL);
    if (lg_forked(h))
        return -EBADF;
    for (unsigned at = 0; at < n;) {
        unsigned k = n - at < 256 ? n - at : 256;
        int rc = protect_chunk(h, reqs + at, k);

        if (rc < 0)
            return lg_fail(h, "grant_protect", rc);
        ok += rc;
        at += k;
    }
    return ok;
}

int grant_protect(grant_handle_t *h, void *ptr, size_t len, unsigned access,
                  unsigned action, uint64_t cookie)
{
    struct grant_protect_req r = {ptr, len, access, action, cookie, 0};
    int rc = grant_protect_batch(h, &r, 1);

    return rc < 0 ? rc : r.status;
}

#define QUERY_CHUNK 64u

int grant_protect_query(grant_handle_t *h, grant_domid_t dom,
                        struct grant_prot_range *out, unsigned cap)
{
    struct gntx_protect_query q = {.dom = dom};
    struct gntx_prot_range *all = NULL, *more;
    struct grant_call gc = {.op = GNTX_OP_PROTECT_QUERY,
                            .args = &q,
                            .elem_size = sizeof(q),
                            .count = 1,
                            .aux_out_cap = QUERY_CHUNK,
                            .aux_elem_size = sizeof(all[0])};
    unsigned n = 0;
    int rc;

    if (!h || (cap && !out))
        return lg_fail(h, "grant_protect_query", -EINVAL);
    /* All of them first: on Xen they name frames, which become the
     * handle's pages in another order (lg_frames_ranges). */
    do {
        more = realloc(all, (n + QUERY_CHUNK) * sizeof(all[0]));
        if (!more) {
            rc = -ENOMEM;
            break;
        }
        all = more;
        gc.aux_out = all + n;
        rc = (int)h->ops->hypercall(h, &gc);
        if (rc < 0)
            break;
        n += q.count < QUERY_CHUNK ? q.count : QUERY_CHUNK;
    } while (q.cursor != 0 && n <= GNTX_MAX_PROT_RANGES);
    if (rc >= 0)
        rc = lg_frames_ranges(h, dom, all, n, out, cap);
    free(all);
    return rc < 0 ? lg_fail(h, "grant_protect_query", rc) : rc;
}

int grant_fault_stats(grant_handle_t *h, grant_domid_t dom,
                      struct grant_fault_stats *s)
{
    struct gntx_fault_stats v = {.dom = dom};
    struct grant_call gc = {.op = GNTX_OP_FAULT_STATS,
                            .args = &v,
                            .elem_size = sizeof(v),
                            .count = 1};
    int rc;

    if (!h || !s)
        return lg_fail(h, "grant_fault_stats", -EINVAL);
    rc = (int)h->ops->hypercall(h, &gc);
    if (rc < 0)
        return lg_fail(h, "grant_fault_stats", rc);
    *s = (struct grant_fault_stats){.ranges = v.ranges,
                                    .prot_pages = v.prot_pages,
                                    .caused = v.caused,
                                    .suffered = v.suffered,
                                    .denied = v.denied,
                                    .notified = v.notified,
                                    .killed = v.killed,
                                    .logged = v.logged,
                                    .dropped = v.dropped,
                                    .own_reported = v.own_reported};
    return 0;
}

/* grant_close: the handler forgets h; the table goes with the memory. */
void lg_prot_release(grant_handle_t *h, int forked)
{
    struct lg_prot *p = h->prot;

    if (!p)
        return;
    lg_prot_sig_unregister(h);
    if (!forked && p->ring_mem) {
        /* Unbound first: the hypervisor must not write a freed page. */
        struct gntx_fault_ring r = {.gfn = GNTX_FAULT_RING_NONE};
        struct grant_call gc = {.op = GNTX_OP_FAULT_RING,
                                .args = &r,
                                .elem_size = sizeof(r),
                                .count = 1};

        if (h->ops->hypercall(h, &gc) == 0)
            grant_mem_free(h, p->ring_mem);
    }
    munmap(p->page, p->page_bytes);
    free(p);
    h->prot = NULL;
}
