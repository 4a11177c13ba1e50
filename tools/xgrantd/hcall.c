/* SPDX-License-Identifier: MIT */
/*
 * hcall.c: hypercall ops (op < XGW_OP_SIM_BASE) over the wire.
 *
 * The request's payload is the daemon's own copy: args are copied once into
 * the response buffer, the core works on that copy, and the response goes
 * out as is.  Lengths are computed from the op's element sizes with
 * overflow checks and must match `len` exactly; nothing the client says
 * about sizes is trusted.  MAP hands out one fd per mapped element and
 * records which connection holds the handle; IO takes the request's fds
 * (io.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "private.h"

/* A checked plan of the request: sizes of args and aux, both ways. */
struct plan {
    struct gntx_op_shape d; /* grant_abi.h's gntx_op_shape */
    size_t args_len;
    size_t aux_in_len;  /* bytes of aux in the request */
    size_t aux_out_cap; /* bytes of aux capacity in the response */
};

static int plan_request(const struct xgw_msg *h, struct plan *p)
{
    size_t aux_len, total;

    if (gntx_op_shape(h->op, &p->d) < 0)
        return -ENOSYS;
    if (h->count > GNTX_MAX_BATCH)
        return -E2BIG;
    if (h->op == GNTX_OP_MAP && h->count > XGW_MAX_MAP_BATCH)
        return -E2BIG;
    p->args_len = (size_t)h->count * p->d.arg_size; /* <= 4096 * 48 */
    if (p->d.aux_dir == GNTX_AUX_NONE && h->aux_count != 0)
        return -EINVAL;
    if (p->d.aux_dir != GNTX_AUX_NONE &&
        (h->aux_count > SIZE_MAX ||
         __builtin_mul_overflow((size_t)h->aux_count, p->d.aux_size,
                                &aux_len) ||
         __builtin_add_overflow(p->args_len, aux_len, &total) ||
         total > XGW_MAX_PAYLOAD))
        return -E2BIG;
    p->aux_in_len = p->d.aux_dir == GNTX_AUX_IN ? aux_len : 0;
    p->aux_out_cap = p->d.aux_dir == GNTX_AUX_OUT ? aux_len : 0;
    if (h->len != p->args_len + p->aux_in_len)
        return -EINVAL;
    return 0;
}

/* The payload h may carry: exactly what its counts call for; 0 when the
 * request is refused anyway. */
size_t xd_hcall_max_len(const struct xgw_msg *h)
{
    struct plan p;

    return plan_request(h, &p) == 0 ? p.args_len + p.aux_in_len : 0;
}

/* The fd a mapper gets for root's memory, a file description of its own
 * (never the daemon's): read-only when asked. */
static int map_fd(const struct xd_dom *root, unsigned flags)
{
    char path[64];
    int fd;

    snprintf(path, sizeof(path), "/proc/self/fd/%d", root->memfd);
    fd = open(path, (flags & GNTX_MAP_RDONLY ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Hands out the fd of one mapped element and records its handle and
 * frames (aux: the MAP's frames as the core wrote them). */
static int map_attach(struct xd_conn *c, struct xd_out *m,
                      const struct gntx_map *v, const uint64_t *aux)
{
    struct xd_dom *root = xd_dom_get(v->root_dom);
    int fd, r;

    if (!root || root->memfd < 0)
        return -EFAULT;
    fd = map_fd(root, v->flags);
    if (fd < 0)
        return -ENOMEM;
    r = xd_map_add(c, v->handle, v->root_dom, aux + v->frame_idx,
                   v->length / GNTX_PAGE_SIZE);
    if (r < 0) {
        close(fd);
        return r;
    }
    r = xd_out_add_fd(m, fd);
    if (r < 0) {
        xd_map_remove(c->dom, v->handle);
        return r;
    }
    return 0;
}

static long map_post(struct xd_conn *c, struct xd_out *m, struct gntx_map *v,
                     const uint64_t *aux, unsigned n, long ret)
{
    for (unsigned i = 0; i < n && ret >= 0; i++) {
        struct gntx_unmap u;
        int r;

        if (v[i].status != 0)
            continue;
        r = map_attach(c, m, &v[i], aux);
        if (r == 0)
            continue;
        /* No fd for it: the mapping must not exist either. */
        u = (struct gntx_unmap){v[i].handle, 0};
        gcore_unmap(xd.core, c->dom->id, &u, 1);
        xd_log_conn(c, "map: cannot hand out handle %u: %s", v[i].handle,
                    strerror(-r));
        v[i].status = -GNTX_ENOMEM;
        v[i].handle = 0;
        ret--;
    }
    return ret;
}

/* The processes an UNMAP call's elements name, each one's maps read once
 * (at its first element) for every owner. */
struct pmcache {
    struct xd_conn **conn;
    struct xd_procmaps *pm;
    unsigned n, cap; /* cap: the call's elements, or 0 (out of memory) */
};

static void pmcache_init(struct pmcache *pc, unsigned n)
{
    *pc = (struct pmcache){calloc(n, sizeof(*pc->conn)),
                           calloc(n, sizeof(*pc->pm)), 0, n};
    if (!pc->conn || !pc->pm)
        pc->cap = 0;
}

static void pmcache_free(struct pmcache *pc)
{
    for (unsigned i = 0; i < pc->n; i++)
        xd_procmaps_free(&pc->pm[i]);
    free(pc->conn);
    free(pc->pm);
}

/* The maps of rec's process, NULL out of memory. */
static struct xd_procmaps *pmcache_get(struct pmcache *pc,
                                       const struct xd_map *rec)
{
    unsigned i;

    for (i = 0; i < pc->n && pc->conn[i] != rec->conn; i++)
        ;
    if (i == pc->cap)
        return NULL;
    if (i == pc->n) {
        pc->n++;
        pc->conn[i] = rec->conn;
    }
    /* Not read yet, or not read because that owner's memory was gone. */
    if (!pc->pm[i].read)
        (void)xd_procmaps_read(rec->conn, xd_dom_get(rec->owner), &pc->pm[i]);
    return &pc->pm[i];
}

/* Does the mapper of rec still map its pages? */
static bool unmap_lies(struct xd_conn *c, const struct xd_map *rec,
                       struct pmcache *pc)
{
    struct xd_procmaps *pm = pmcache_get(pc, rec);
    struct xd_vmas vm = {0};
    bool lies;

    if (!pm || pm->rc < 0)
        return true;
    lies = xd_procmaps_owner(pm, xd_dom_get(rec->owner), &vm) < 0 ||
           xd_map_lingers(&vm, c->dom, rec, NULL);
    xd_vmas_free(&vm);
    return lies;
}

/* Marks (or unmarks) the records the call unmaps. */
static void unmap_mark(struct xd_conn *c, const struct gntx_unmap *v,
                       unsigned n, bool on)
{
    for (unsigned i = 0; i < n; i++) {
        struct xd_map *rec = xd_map_find(c->dom, v[i].handle);

        if (rec)
            rec->checking = on;
    }
}

/*
 * UNMAP, believed only where the mapping is gone from its mapper
 * (mapcheck.c): an element whose mapper still maps the pages fails EBUSY
 * and the mapping stays, as a lingering mapper's does (a plain revoke is
 * refused, a FORCE revoke's notice must be acked for real).  Returns the
 * core's count of successes.
 */
static long unmap_checked(struct xd_conn *c, struct gntx_unmap *v, unsigned n)
{
    static struct xd_ratelimit rl;
    struct pmcache pc;
    unsigned i, refused = 0;
    long ret = 0;

    pmcache_init(&pc, n);
    unmap_mark(c, v, n, true);
    for (i = 0; i < n; i++) {
        struct xd_map *rec = xd_map_find(c->dom, v[i].handle);

        v[i].status = 0;
        if (!rec || !rec->conn || !unmap_lies(c, rec, &pc))
            continue;
        v[i].status = -GNTX_EBUSY;
        refused++;
        xd_log_rl(&rl,
                  "dom %u: UNMAP of handle %u refused: pid %d still maps "
                  "dom %u's pages",
                  c->dom->id, v[i].handle, (int)rec->conn->pid, rec->owner);
    }
    unmap_mark(c, v, n, false);
    pmcache_free(&pc);
    if (!refused)
        return gcore_hypercall(xd.core, c->dom->id, GNTX_OP_UNMAP, v, n, NULL,
                               0);
    for (i = 0; i < n; i++) {
        long r = v[i].status
                     ? 0
                     : gcore_hypercall(xd.core, c->dom->id, GNTX_OP_UNMAP,
                                       &v[i], 1, NULL, 0);

        ret += r > 0 ? r : 0;
    }
    return ret;
}

static void unmap_post(struct xd_conn *c, const struct gntx_unmap *v,
                       unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (v[i].status == 0)
            xd_map_remove(c->dom, v[i].handle);
}

/* QUERY_*: how many entries the core wrote into aux. */
static uint64_t query_written(unsigned op, const void *args, unsigned count,
                              long ret, uint64_t cap)
{
    const struct gntx_query *q = args;
    const struct gntx_protect_query *pq = args;
    uint64_t n;

    if (ret < 0 || count < 1)
        return 0;
    n = op == GNTX_OP_PROTECT_QUERY ? pq->count : q->count;
    return n < cap ? n : cap;
}

/* Runs the core on the copy-in and fixes the response up. */
static void run(struct xd_conn *c, struct xd_rx *rx, const struct plan *p,
                struct xd_out *m)
{
    const struct xgw_msg *h = &rx->hdr;
    uint8_t *args = xd_out_payload(m);
    uint8_t *aux = p->d.aux_dir == GNTX_AUX_IN ? rx->pay + p->args_len
                                               : args + p->args_len;
    struct xd_group *g = xd_group_new();
    uint64_t aux_sent = 0;
    long ret;

    if (!g) {
        xd_out_free(m);
        xd_reply_err(c, h, -ENOMEM);
        return;
    }
    if (p->args_len)
        memcpy(args, rx->pay, p->args_len);
    xd.cur = g;
    if (h->op == GNTX_OP_UNMAP)
        ret = unmap_checked(c, (struct gntx_unmap *)args, h->count);
    else if (h->op == GNTX_OP_IO)
        ret = xd_io_run(c, rx, (struct gntx_io *)args, h->count);
    else
        ret = gcore_hypercall(xd.core, c->dom->id, h->op, args, h->count, aux,
                              p->d.aux_dir == GNTX_AUX_NONE ? 0 : h->aux_count);
    xd.cur = NULL;
    if (h->op == GNTX_OP_MAP) {
        ret = map_post(c, m, (struct gntx_map *)args, (const uint64_t *)aux,
                       h->count, ret);
        aux_sent = h->aux_count;
    } else if (h->op == GNTX_OP_UNMAP) {
        unmap_post(c, (const struct gntx_unmap *)args, h->count);
    } else if (p->d.aux_dir == GNTX_AUX_OUT) {
        aux_sent = query_written(h->op, args, h->count, ret, h->aux_count);
    }
    xd_out_truncate(m, p->args_len + aux_sent * p->d.aux_size);
    xd_out_hdr(m)->ret = ret;
    xd_out_hdr(m)->count = h->count;
    xd_out_hdr(m)->aux_count = aux_sent;
    xd_group_finish(g, c, m);
    xd_prot_kills_run(); /* KILL protections: after the reply is queued */
}

void xd_hypercall(struct xd_conn *c, struct xd_rx *rx)
{
    const struct xgw_msg *h = &rx->hdr;
    struct plan p;
    struct xd_out *m;
    int r = plan_request(h, &p);

    if (r < 0) {
        xd_log_conn(c,
                    "bad message: op %u count %u aux_count %llu len %u: "
                    "%s",
                    h->op, h->count, (unsigned long long)h->aux_count, h->len,
                    r == -ENOSYS  ? "unknown op"
                    : r == -E2BIG ? "too big"
                                  : "length does not match the op");
        xd_reply_err(c, h, r);
        return;
    }
    m = xd_out_new(h->op, h->seq, 0, p.args_len + p.aux_out_cap);
    if (!m) {
        xd_reply_err(c, h, -ENOMEM);
        return;
    }
    run(c, rx, &p, m);
}
