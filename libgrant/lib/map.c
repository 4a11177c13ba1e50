/* SPDX-License-Identifier: MIT */
/*
 * map.c: zero-copy mappings (GNTX_OP_MAP): grant_map, and grant_map_batch,
 * which maps many grants of one granter into one contiguous range.
 *
 * Every map first reserves the whole range (PROT_NONE), then fills each
 * element's part of it.  Two ways, by transport.  Sim (no map_window
 * hook): MAP returns the frames and one fd of the owner's memory per
 * mapped element, and each run of consecutive frames is mapped from it
 * over the reservation.  Xen (map_window): each element gets a window made
 * over its part of the reservation, MAP has the hypervisor fill the
 * windows, and releasing a window is its unmap.  An element that fails
 * gets its part reserved again: a hole that faults.
 *
 * Calls are cut into hypercalls of at most the transport's max_map_batch
 * elements and max_payload bytes (the elements and their frames).
 *
 * The race (sim): a revoke notice may arrive while a MAP reply is still on
 * its way.  Notices for unknown handles are recorded (early[]) while a map
 * is in flight; the elements are installed under map_lock and one whose
 * handle was recorded never maps its pages and fails -ESTALE.
 *
 * Unmapping is unmap.c's; a FORCE revoke's scratch pages and events are
 * map_revoked.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "private.h"

#define NO_STATUS 1

/* One hypercall's worth of a batch: some elements of reqs (those
 * check_req passed) as gntx_map elements.  Arrays of `cap` entries. */
struct chunk {
    unsigned k, cap;
    uint64_t pages; /* frames in aux */
    unsigned *idx;  /* v[j] is reqs[idx[j]] */
    struct gntx_map *v;
    int *fds;       /* sim: one per mapped element */
    uint32_t *undo; /* sim: handles to unmap again */
};

/* A whole map call. */
struct batch {
    grant_domid_t granter;
    struct grant_map_req *reqs;
    unsigned n;
    uint8_t *base;
    size_t len;
    struct grant_range *range; /* NULL for a single mapping */
    uint64_t *aux;             /* frames (in: window addresses) */
    unsigned mapped;
};

void *lg_map_reserve(void *addr, size_t len)
{
    void *p = mmap(addr, len, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
                       (addr ? MAP_FIXED : 0),
                   -1, 0);

    if (p == MAP_FAILED)
        return NULL;
    /* A child must not keep the granter's pages (nor the range). */
    (void)madvise(p, len, MADV_DONTFORK);
    return p;
}

static int req_prot(const struct grant_map_req *r)
{
    return PROT_READ | ((r->flags & GRANT_MAP_RDONLY) ? 0 : PROT_WRITE);
}

/* Maps each run of consecutive frames of fd over base. */
static int map_runs(uint8_t *base, const uint64_t *frames, uint64_t nr,
                    int prot, int fd)
{
    uint64_t i, j, fd_frames;
    struct stat st;

    if (fstat(fd, &st) < 0)
        return -errno;
    fd_frames = (uint64_t)st.st_size / GNTX_PAGE_SIZE;
    for (i = 0; i < nr; i = j) {
        for (j = i + 1; j < nr && frames[j] == frames[j - 1] + 1; j++)
            ;
        if (frames[i] >= fd_frames || frames[j - 1] >= fd_frames)
            return -EPROTO; /* frames outside the memory it sent */
        if (mmap(base + i * GNTX_PAGE_SIZE, (j - i) * GNTX_PAGE_SIZE, prot,
                 MAP_SHARED | MAP_FIXED, fd,
                 (off_t)(frames[i] * GNTX_PAGE_SIZE)) == MAP_FAILED)
            return -errno;
    }
    if (madvise(base, nr * GNTX_PAGE_SIZE, MADV_DONTFORK) < 0)
        return -errno;
    return 0;
}

static int early_has(const grant_handle_t *h, uint32_t handle)
{
    unsigned i;

    for (i = 0; i < h->nr_early; i++)
        if (h->early[i] == handle)
            return 1;
    return h->early_overflow;
}

static void inflight_set(grant_handle_t *h, int on)
{
    pthread_mutex_lock(&h->map_lock);
    h->map_inflight = on;
    h->nr_early = 0;
    h->early_overflow = 0;
    pthread_mutex_unlock(&h->map_lock);
}

/* Records element r's mapping (in a spare record when there is one: see
 * lg_mapping_put); map_lock held. */
static int record(grant_handle_t *h, struct batch *b,
                  const struct grant_map_req *r, const struct gntx_map *v)
{
    struct grant_mapping *m = h->spare_maps;

    if (m)
        h->spare_maps = m->next;
    else if (!(m = malloc(sizeof(*m))))
        return -ENOMEM;
    *m = (struct grant_mapping){.next = h->maps,
                                .addr = r->addr,
                                .len = (size_t)r->len,
                                .handle = v->handle,
                                .granter = b->granter,
                                .owner = v->root_dom,
                                .ref = r->ref,
                                .offset = r->offset,
                                .prot = req_prot(r),
                                .range = b->range};
    h->maps = m;
    if (b->range)
        b->range->live++;
    b->mapped++;
    return 0;
}

/* The MAP hypercall for c: its count of successes or -errno.  Statuses
 * that are not errnos, or fds/frames missing for the successes, are
 * -EPROTO; with fds (sim) the elements that did map are undone then. */
static int map_call(grant_handle_t *h, struct batch *b, struct chunk *c,
                    int *fds)
{
    struct grant_call gc = {.op = GNTX_OP_MAP,
                            .args = c->v,
                            .elem_size = sizeof(c->v[0]),
                            .count = c->k,
                            .aux_in = fds ? NULL : b->aux,
                            .aux_in_count = fds ? 0 : c->pages,
                            .aux_out = b->aux,
                            .aux_out_cap = c->pages,
                            .aux_elem_size = sizeof(uint64_t),
                            .fds = fds,
                            .max_fds = fds ? c->k : 0};
    unsigned j, ok = 0;
    int rc;

    rc = (int)h->ops->hypercall(h, &gc);
    if (rc < 0)
        return rc;
    for (j = 0; j < c->k; j++) {
        if (c->v[j].status == NO_STATUS || c->v[j].status > 0)
            rc = -EPROTO;
        ok += c->v[j].status == 0;
    }
    if (rc >= 0 && ((int)ok != rc || gc.nr_fds != (fds ? ok : 0u) ||
                    gc.aux_out_count < c->pages))
        rc = -EPROTO;
    if (rc >= 0)
        return rc;
    while (gc.nr_fds > 0)
        close(fds[--gc.nr_fds]);
    for (j = 0; fds && j < c->k; j++)
        if (c->v[j].status == 0)
            lg_unmap_send(h, c->v[j].handle); /* it was mapped: undo */
    return rc;
}

/* Installs the mapped elements of c (sim), under map_lock against
 * notices; what could not be installed is undone. */
static void install_sim(grant_handle_t *h, struct batch *b, struct chunk *c,
                        const int *fds)
{
    unsigned j, f = 0, nundo = 0;

    pthread_mutex_lock(&h->map_lock);
    for (j = 0; j < c->k; j++) {
        struct grant_map_req *r = &b->reqs[c->idx[j]];
        int rc = c->v[j].status;

        if (rc < 0) {
            r->status = rc;
            continue;
        }
        rc = early_has(h, c->v[j].handle) ? -ESTALE : 0;
        if (rc == 0)
            rc = map_runs(r->addr, b->aux + c->v[j].frame_idx,
                          r->len / GNTX_PAGE_SIZE, req_prot(r), fds[f]);
        if (rc == 0)
            rc = record(h, b, r, &c->v[j]);
        close(fds[f++]);
        /* Undone even when a revoke may have taken it (-ESTALE: early[]
         * may have overflowed): UNMAP of a dead handle only fails. */
        if (rc < 0) {
            (void)lg_map_reserve(r->addr, (size_t)r->len);
            c->undo[nundo++] = c->v[j].handle;
        }
        r->status = rc;
    }
    h->map_inflight = 0;
    h->nr_early = 0;
    h->early_overflow = 0;
    pthread_mutex_unlock(&h->map_lock);
    for (j = 0; j < nundo; j++)
        lg_unmap_send(h, c->undo[j]);
}

static void chunk_sim(grant_handle_t *h, struct batch *b, struct chunk *c)
{
    unsigned j;
    int rc;

    inflight_set(h, 1);
    rc = map_call(h, b, c, c->fds);
    if (rc >= 0) {
        install_sim(h, b, c, c->fds); /* ends the flight */
        return;
    }
    inflight_set(h, 0);
    for (j = 0; j < c->k; j++)
        b->reqs[c->idx[j]].status = rc;
}

/* Xen: a window per element over its part of the range, then one MAP. */
static void chunk_window(grant_handle_t *h, struct batch *b, struct chunk *c)
{
    unsigned j, k = 0;
    int rc;

    for (j = 0; j < c->k; j++) {
        struct grant_map_req *r = &b->reqs[c->idx[j]];
        void *win = r->addr;

        rc = h->ops->map_window(h, (size_t)r->len, r->flags, &win,
                                b->aux + c->v[j].frame_idx);
        if (rc < 0) {
            r->status = rc;
            continue;
        }
        c->idx[k] = c->idx[j];
        c->v[k++] = c->v[j];
    }
    c->k = k;
    rc = k ? map_call(h, b, c, NULL) : 0;
    pthread_mutex_lock(&h->map_lock);
    for (j = 0; j < c->k; j++) {
        struct grant_map_req *r = &b->reqs[c->idx[j]];

        r->status = rc < 0 ? rc : c->v[j].status;
        if (r->status == 0)
            r->status = record(h, b, r, &c->v[j]);
        /* A window made over again is released (unmapped if bound). */
        if (r->status < 0)
            (void)lg_map_reserve(r->addr, (size_t)r->len);
    }
    pthread_mutex_unlock(&h->map_lock);
}

/* Fills c with the next elements from *next on that fit one call. */
static void chunk_fill(grant_handle_t *h, struct batch *b, unsigned *next,
                       struct chunk *c)
{
    uint64_t bytes = 0, need;

    c->k = 0;
    c->pages = 0;
    for (; *next < b->n && c->k < c->cap; (*next)++) {
        struct grant_map_req *r = &b->reqs[*next];
        uint64_t pages = r->len / GNTX_PAGE_SIZE;

        if (r->status != NO_STATUS)
            continue; /* refused by check_req */
        need = sizeof(c->v[0]) + pages * sizeof(uint64_t);
        if (bytes + need > h->ops->max_payload)
            break;
        bytes += need;
        c->idx[c->k] = *next;
        c->v[c->k++] = (struct gntx_map){.dom = b->granter,
                                         .flags = (uint16_t)r->flags,
                                         .ref = r->ref,
                                         .offset = r->offset,
                                         .length = r->len,
                                         .frame_idx = c->pages,
                                         .status = NO_STATUS};
        c->pages += pages;
    }
}

/* Element checks; NO_STATUS when it goes to the hypervisor. */
static int check_req(const grant_handle_t *h, struct grant_map_req *r)
{
    r->addr = NULL;
    if ((r->flags & ~GRANT_MAP_RDONLY) || r->len == 0 ||
        r->offset % GNTX_PAGE_SIZE || r->len % GNTX_PAGE_SIZE)
        return -EINVAL;
    if (r->len > SIZE_MAX ||
        r->len / GNTX_PAGE_SIZE >
            (h->ops->max_payload - sizeof(struct gntx_map)) / sizeof(uint64_t))
        return -E2BIG;
    return NO_STATUS;
}

/* Checks the elements and reserves the range with what the call needs:
 * 0 or -errno for the call (then nothing is held).  b->len 0: no element
 * passed the checks. */
static int batch_setup(grant_handle_t *h, struct batch *b, struct chunk *c)
{
    uint64_t aux_max = h->ops->max_payload / sizeof(uint64_t);
    unsigned i, valid = 0;
    size_t off = 0;

    for (i = 0; i < b->n; i++) {
        struct grant_map_req *r = &b->reqs[i];

        r->status = check_req(h, r);
        if (r->status == NO_STATUS &&
            __builtin_add_overflow(b->len, (size_t)r->len, &b->len))
            return -E2BIG;
        valid += r->status == NO_STATUS;
    }
    if (!valid)
        return 0;
    /* The per-call arrays are the handle's (lg_scratch): nothing is
     * allocated once a map of this size has run. */
    c->cap = valid < h->ops->max_map_batch ? valid : h->ops->max_map_batch;
    c->idx = lg_scratch(h, LG_SCRATCH_MAP_IDX, c->cap * sizeof(*c->idx));
    c->v = lg_scratch(h, LG_SCRATCH_MAP, c->cap * sizeof(*c->v));
    c->fds = lg_scratch(h, LG_SCRATCH_MAP_FDS, c->cap * sizeof(*c->fds));
    c->undo = lg_scratch(h, LG_SCRATCH_MAP_UNDO, c->cap * sizeof(*c->undo));
    b->aux = lg_scratch(h, LG_SCRATCH_MAP_AUX,
                        (aux_max < b->len / GNTX_PAGE_SIZE
                             ? aux_max
                             : b->len / GNTX_PAGE_SIZE) *
                            sizeof(uint64_t));
    /* A batch's range lives as long as its mappings. */
    if (valid > 1)
        b->range = calloc(1, sizeof(*b->range));
    if (!c->idx || !c->v || !c->fds || !c->undo || !b->aux ||
        (valid > 1 && !b->range) || !(b->base = lg_map_reserve(NULL, b->len)))
        return -ENOMEM;
    if (b->range)
        *b->range = (struct grant_range){.base = b->base, .len = b->len};
    for (i = 0; i < b->n; i++) {
        if (b->reqs[i].status != NO_STATUS)
            continue;
        b->reqs[i].addr = b->base + off;
        off += (size_t)b->reqs[i].len;
    }
    return 0;
}

static void batch_free(struct batch *b)
{
    if (b->mapped == 0) {
        if (b->base)
            munmap(b->base, b->len);
        free(b->range);
    }
}

static int map_batch(grant_handle_t *h, struct batch *b)
{
    struct chunk c = {0};
    unsigned next = 0, i;
    int rc;

    rc = batch_setup(h, b, &c);
    while (rc == 0 && b->len && next < b->n) {
        chunk_fill(h, b, &next, &c);
        if (c.k == 0)
            break;
        if (h->ops->map_window)
            chunk_window(h, b, &c);
        else
            chunk_sim(h, b, &c);
    }
    batch_free(b);
    if (rc < 0)
        return rc;
    for (i = 0; i < b->n; i++)
        if (b->reqs[i].status == NO_STATUS) /* left out: did not fit */
            b->reqs[i].status = -E2BIG;
    return (int)b->mapped;
}

int grant_map_batch(grant_handle_t *h, grant_domid_t granter,
                    struct grant_map_req *reqs, unsigned n, void **base)
{
    struct batch b = {.granter = granter, .reqs = reqs, .n = n};
    int rc;

    if (!h || !reqs || !base || n == 0)
        return lg_fail(h, "grant_map_batch", -EINVAL);
    if (lg_forked(h))
        return lg_fail(h, "grant_map_batch", -EBADF);
    rc = map_batch(h, &b);
    if (rc >= 0)
        *base = b.mapped ? b.base : NULL;
    return lg_fail(h, "grant_map_batch", rc);
}

int grant_map(grant_handle_t *h, grant_domid_t granter, grant_ref_t ref,
              uint64_t offset, uint64_t len, unsigned flags, void **addr)
{
    struct grant_map_req r = {
        .ref = ref, .offset = offset, .len = len, .flags = flags};
    struct batch b = {.granter = granter, .reqs = &r, .n = 1};
    int rc;

    if (!h || !addr)
        return lg_fail(h, "grant_map", -EINVAL);
    if (lg_forked(h))
        return lg_fail(h, "grant_map", -EBADF);
    rc = map_batch(h, &b);
    if (rc > 0)
        *addr = r.addr;
    return lg_fail(h, "grant_map", rc < 0 ? rc : r.status);
}
