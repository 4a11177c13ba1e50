// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * call.c: XGRANT_IOC_CALL.  Copies the caller's argument and aux arrays into
 * kernel memory, rewrites the addresses of the caller's grant memory into
 * the frames Xen knows, issues HYPERVISOR_grant_table_op(GNTTABOP_xgrant)
 * and copies the results back.
 *
 * Translation: a CREATE frame is a page index into the file's grant memory
 * and becomes that page's Xen frame (a PV guest's machine frame); an index
 * outside it becomes a frame no domain owns, which Xen refuses (EFAULT).
 * A LOCAL COPY/MEMSET address is a byte offset into the grant memory.  The
 * pages are not contiguous in Xen's frame space, so an element is split into
 * pieces that never cross a page of a LOCAL side; the pieces' statuses are
 * merged back per element, and an element the hypervisor's byte budget (or
 * the piece limit) cut short comes back -EAGAIN with its addresses advanced
 * by what moved, as grant_abi.h's continuation rule says.
 */
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/xen/hypercall.h>
#include <xen/page.h>

#include "grant_abi.h"
#include "gntx_xen.h"
#include "xgrant.h"
#include "xgrant_uapi.h"

#define XG_MAX_AUX_BYTES GNTX_XEN_MAX_AUX_BYTES /* Xen's bound */
#define XG_MAX_PIECES    GNTX_MAX_BATCH
#define XG_BAD_FRAME     (~0ULL)
#define XG_FRAMES_CHUNK  64 /* XGRANT_IOC_FRAMES: frames per copy_to_user */

static u64 xg_frame(const struct xg_file *f, u64 idx)
{
    return idx < f->nr_pages ? xen_page_to_gfn(f->pages[idx]) : XG_BAD_FRAME;
}

static int xg_local(const struct xg_file *f, u64 addr, u64 *out)
{
    u64 idx = addr >> PAGE_SHIFT;

    if (idx >= f->nr_pages)
        return -EFAULT;
    *out = (xg_frame(f, idx) << PAGE_SHIFT) | (addr & ~PAGE_MASK);
    return 0;
}

long xg_frames(const struct xg_file *f, void __user *uarg)
{
    struct xgrant_ioc_frames a;
    u64 buf[XG_FRAMES_CHUNK], i, n, k;

    if (copy_from_user(&a, uarg, sizeof(a)))
        return -EFAULT;
    if (a.first > f->nr_pages || a.count > f->nr_pages - a.first)
        return -EINVAL;
    for (i = 0; i < a.count; i += n) {
        n = a.count - i < XG_FRAMES_CHUNK ? a.count - i : XG_FRAMES_CHUNK;
        for (k = 0; k < n; k++)
            buf[k] = xg_frame(f, a.first + i + k);
        if (copy_to_user(u64_to_user_ptr(a.frames + i * sizeof(u64)), buf,
                         n * sizeof(u64)))
            return -EFAULT;
    }
    return 0;
}

/* ---- Ops without LOCAL byte addresses --------------------------------- */

/* FAULT_RING names one frame of the caller's (or NONE: unbind). */
static void xg_ring_frames(const struct xg_file *f, struct gntx_fault_ring *r,
                           unsigned int count)
{
    unsigned int i;

    for (i = 0; i < count; i++)
        if (r[i].gfn != GNTX_FAULT_RING_NONE)
            r[i].gfn = xg_frame(f, r[i].gfn);
}

/* A zeroed kernel buffer of len bytes, filled from uaddr if copy_in. */
static void *xg_dup(u64 uaddr, size_t len, int copy_in)
{
    void *p = kvzalloc(len ? len : 1, GFP_KERNEL);

    if (p && copy_in && len && copy_from_user(p, u64_to_user_ptr(uaddr), len)) {
        kvfree(p);
        return ERR_PTR(-EFAULT);
    }
    return p ? p : ERR_PTR(-ENOMEM);
}

static long xg_plain(struct xg_file *f, const struct gntx_xen_call *c,
                     const struct gntx_op_shape *d)
{
    size_t args_len = (size_t)c->count * d->arg_size, aux_len = 0;
    void *args, *aux = NULL;
    u64 i, *frames;
    long rc;

    if (d->aux_dir != GNTX_AUX_NONE &&
        (c->aux_count > XG_MAX_AUX_BYTES / d->aux_size))
        return -E2BIG;
    if (d->aux_dir != GNTX_AUX_NONE)
        aux_len = c->aux_count * d->aux_size;
    args = xg_dup(c->args, args_len, 1);
    if (IS_ERR(args))
        return PTR_ERR(args);
    aux = xg_dup(c->aux, aux_len, d->aux_dir == GNTX_AUX_IN);
    if (IS_ERR(aux)) {
        rc = PTR_ERR(aux);
        goto free_args;
    }
    if (c->op == GNTX_OP_CREATE)
        for (i = 0, frames = aux; i < c->aux_count; i++)
            frames[i] = xg_frame(f, frames[i]);
    if (c->op == GNTX_OP_FAULT_RING)
        xg_ring_frames(f, args, c->count);
    rc = xg_hcall(c->op, args, c->count, aux_len ? aux : NULL,
                  d->aux_dir == GNTX_AUX_NONE ? 0 : c->aux_count);
    if (copy_to_user(u64_to_user_ptr(c->args), args, args_len))
        rc = -EFAULT;
    else if (rc >= 0 && d->aux_dir == GNTX_AUX_OUT &&
             copy_to_user(u64_to_user_ptr(c->aux), aux, aux_len))
        rc = -EFAULT;
    kvfree(aux);
free_args:
    kvfree(args);
    return rc;
}

/* ---- COPY and MEMSET: split at the LOCAL sides' page boundaries ------- */

struct xg_seg {
    struct gntx_ptr *p[2];
    unsigned int np;
    u64 *len;
    s32 *status;
};

static void xg_seg_of(unsigned int op, void *elem, struct xg_seg *s)
{
    if (op == GNTX_OP_COPY) {
        struct gntx_copy *e = elem;

        *s = (struct xg_seg){{&e->src, &e->dst}, 2, &e->len, &e->status};
    } else {
        struct gntx_memset *e = elem;

        *s = (struct xg_seg){{&e->dst, NULL}, 1, &e->len, &e->status};
    }
}

struct xg_split {
    unsigned int op;
    size_t elem;
    u8 *pieces;                /* XG_MAX_PIECES elements */
    u64 *plen;                 /* each piece's length as submitted */
    unsigned int np;           /* pieces used */
    unsigned int *first, *cnt; /* per element */
    s32 *pre;                  /* per element: failed before submission */
    u8 *cut;                   /* per element: not all pieces submitted */
    unsigned int sent;         /* elements (partly) submitted */
};

/* The largest chunk at `done` that crosses no LOCAL page boundary. */
static u64 xg_chunk(const struct xg_seg *s, u64 done)
{
    u64 chunk = *s->len - done, room;
    unsigned int k;

    for (k = 0; k < s->np; k++) {
        if (s->p[k]->kind != GNTX_PTR_LOCAL)
            continue;
        room = PAGE_SIZE - ((s->p[k]->addr + done) & ~PAGE_MASK);
        chunk = min(chunk, room);
    }
    return chunk;
}

static int xg_piece(struct xg_file *f, struct xg_split *sp, void *elem,
                    u64 done)
{
    void *piece = sp->pieces + (size_t)sp->np * sp->elem;
    struct xg_seg s, ps;
    unsigned int k;
    int rc;

    xg_seg_of(sp->op, elem, &s);
    memcpy(piece, elem, sp->elem);
    xg_seg_of(sp->op, piece, &ps);
    *ps.len = xg_chunk(&s, done);
    for (k = 0; k < s.np; k++) {
        ps.p[k]->addr = s.p[k]->addr + done; /* checked: no overflow */
        if (s.p[k]->kind != GNTX_PTR_LOCAL)
            continue;
        rc = xg_local(f, ps.p[k]->addr, &ps.p[k]->addr);
        if (rc < 0)
            return rc;
    }
    sp->plen[sp->np++] = *ps.len;
    return 0;
}

/* Splits element i; 0 when done, 1 when the piece limit stopped it. */
static int xg_split_elem(struct xg_file *f, struct xg_split *sp, void *elem,
                         unsigned int i)
{
    struct xg_seg s;
    u64 done = 0, end;
    unsigned int k;
    int rc;

    xg_seg_of(sp->op, elem, &s);
    sp->first[i] = sp->np;
    for (k = 0; k < s.np; k++)
        if (check_add_overflow(s.p[k]->addr, *s.len, &end)) {
            sp->pre[i] = -GNTX_EOVERFLOW;
            return 0;
        }
    do {
        if (sp->np == XG_MAX_PIECES) {
            sp->cut[i] = 1;
            return 1;
        }
        rc = xg_piece(f, sp, elem, done);
        if (rc < 0) {
            sp->np = sp->first[i];
            sp->cnt[i] = 0;
            sp->pre[i] = rc;
            return 0;
        }
        done += sp->plen[sp->np - 1];
        sp->cnt[i]++;
    } while (done < *s.len);
    return 0;
}

/* Element i's status and progress from its pieces. */
static s32 xg_merge_elem(struct xg_split *sp, unsigned int i, u64 *moved)
{
    unsigned int j;
    struct xg_seg ps;

    *moved = 0;
    if (sp->pre[i])
        return sp->pre[i];
    for (j = sp->first[i]; j < sp->first[i] + sp->cnt[i]; j++) {
        xg_seg_of(sp->op, sp->pieces + (size_t)j * sp->elem, &ps);
        if (*ps.status == 0) {
            *moved += sp->plen[j];
            continue;
        }
        if (*ps.status == -GNTX_EAGAIN) {
            if (*ps.len > sp->plen[j])
                return -EIO; /* the hypervisor grew a piece */
            *moved += sp->plen[j] - *ps.len;
        }
        return *ps.status;
    }
    return sp->cut[i] ? -GNTX_EAGAIN : 0;
}

static long xg_merge(struct xg_split *sp, u8 *elems, unsigned int count)
{
    struct xg_seg s;
    unsigned int i, k;
    long ok = 0;
    u64 moved;

    for (i = 0; i < count; i++) {
        xg_seg_of(sp->op, elems + (size_t)i * sp->elem, &s);
        if (i >= sp->sent) {
            *s.status = -GNTX_EAGAIN; /* not submitted: unchanged */
            continue;
        }
        *s.status = xg_merge_elem(sp, i, &moved);
        ok += *s.status == 0;
        if (*s.status != -GNTX_EAGAIN)
            continue;
        for (k = 0; k < s.np; k++)
            s.p[k]->addr += moved;
        *s.len -= moved;
    }
    return ok;
}

/* The split buffers, sized for the largest call (GNTX_MAX_BATCH elements
 * of the largest element, XG_MAX_PIECES pieces): one block per open file,
 * allocated at its first COPY/MEMSET and kept (a vmalloc per call costs a
 * PV guest page-table hypercalls and TLB flushes). */
#define XG_SCRATCH_PIECES (XG_MAX_PIECES * sizeof(struct gntx_copy))
#define XG_SCRATCH_PLEN   (XG_MAX_PIECES * sizeof(u64))
#define XG_SCRATCH_ELEMS                                                       \
    (GNTX_MAX_BATCH * (2 * sizeof(unsigned int) + sizeof(s32) + 1))

static int xg_split_init(struct xg_file *f, struct xg_split *sp,
                         unsigned int count)
{
    u8 *p;

    if (!f->scratch)
        f->scratch = kvzalloc(
            XG_SCRATCH_PIECES + XG_SCRATCH_PLEN + XG_SCRATCH_ELEMS, GFP_KERNEL);
    if (!f->scratch)
        return -ENOMEM;
    p = f->scratch;
    sp->pieces = p;
    sp->plen = (u64 *)(p + XG_SCRATCH_PIECES);
    sp->first = (unsigned int *)(p + XG_SCRATCH_PIECES + XG_SCRATCH_PLEN);
    sp->cnt = sp->first + GNTX_MAX_BATCH;
    sp->pre = (s32 *)(sp->cnt + GNTX_MAX_BATCH);
    sp->cut = (u8 *)(sp->pre + GNTX_MAX_BATCH);
    memset(sp->first, 0, count * sizeof(*sp->first));
    memset(sp->cnt, 0, count * sizeof(*sp->cnt));
    memset(sp->pre, 0, count * sizeof(*sp->pre));
    memset(sp->cut, 0, count);
    return 0;
}

static long xg_split_call(struct xg_file *f, const struct gntx_xen_call *c,
                          const struct gntx_op_shape *d)
{
    struct xg_split sp = {.op = c->op, .elem = d->arg_size};
    size_t args_len = (size_t)c->count * d->arg_size;
    u8 *elems;
    long rc;

    elems = xg_dup(c->args, args_len, 1);
    if (IS_ERR(elems))
        return PTR_ERR(elems);
    rc = xg_split_init(f, &sp, c->count);
    if (rc < 0)
        goto free_elems;
    for (sp.sent = 0; sp.sent < c->count; sp.sent++)
        if (sp.np == XG_MAX_PIECES ||
            xg_split_elem(f, &sp, elems + (size_t)sp.sent * d->arg_size,
                          sp.sent)) {
            sp.sent += sp.cut[sp.sent];
            break;
        }
    rc = sp.np ? xg_hcall(c->op, sp.pieces, sp.np, NULL, 0) : 0;
    if (rc >= 0) {
        rc = xg_merge(&sp, elems, c->count);
        if (copy_to_user(u64_to_user_ptr(c->args), elems, args_len))
            rc = -EFAULT;
    }
free_elems:
    kvfree(elems);
    return rc;
}

/* ---- PROTECT: one element per page (the frames are not contiguous) ---- */

/*
 * Before a PROTECT takes W away, the pages lose their writable mappings
 * (prot.c; Xen refuses it EBUSY otherwise).  sp->plen[j] notes piece j's
 * page index, with XG_FRESH when it was dropped for this call.
 */
#define XG_FRESH (1ULL << 63)

/* After the call (or its failure): a page whose protection now allows W
 * gets its direct map back; a page dropped for a piece that failed too. */
static void xg_protect_settle(struct xg_file *f,
                              const struct gntx_protect *pieces,
                              const struct xg_split *sp, unsigned int np,
                              int failed)
{
    unsigned int j;

    for (j = 0; j < np; j++) {
        int ok = !failed && pieces[j].status == 0;

        if (ok ? pieces[j].access & GNTX_ACC_W : sp->plen[j] & XG_FRESH)
            xg_prot_restore(f, sp->plen[j] & ~XG_FRESH);
    }
}

/* Element e as single-frame pieces at pieces[*np...]; 0 or its error. */
static s32 xg_protect_split(const struct xg_file *f,
                            const struct gntx_protect *e,
                            struct gntx_protect *pieces, unsigned int *np)
{
    u64 end, k;

    if (e->nr == 0)
        return -GNTX_EINVAL;
    if (check_add_overflow(e->gfn, e->nr, &end))
        return -GNTX_EOVERFLOW;
    if (end > f->nr_pages)
        return -GNTX_EFAULT;
    if (e->nr > XG_MAX_PIECES - *np)
        return -GNTX_E2BIG;
    for (k = 0; k < e->nr; k++) {
        pieces[*np] = *e;
        pieces[*np].gfn = xg_frame(f, e->gfn + k);
        pieces[(*np)++].nr = 1;
    }
    return 0;
}

static int xg_protect_drop(struct xg_file *f, const struct gntx_protect *e,
                           struct xg_split *sp, unsigned int first)
{
    u64 k;
    int rc;

    for (k = 0; k < e->nr; k++) {
        rc = e->access & GNTX_ACC_W ? 0 : xg_prot_drop(f, e->gfn + k);
        if (rc < 0) {
            xg_protect_settle(f, NULL, sp, first + k, 1);
            return rc;
        }
        sp->plen[first + k] = (e->gfn + k) | (rc ? XG_FRESH : 0);
    }
    return 0;
}

static long xg_protect(struct xg_file *f, const struct gntx_xen_call *c,
                       const struct gntx_op_shape *d)
{
    struct xg_split sp;
    struct gntx_protect *e, *pieces;
    unsigned int i, j, np = 0;
    long rc, ok = 0;

    e = xg_dup(c->args, (size_t)c->count * d->arg_size, 1);
    if (IS_ERR(e))
        return PTR_ERR(e);
    rc = xg_split_init(f, &sp, c->count);
    if (rc < 0)
        goto free_elems;
    pieces = (struct gntx_protect *)sp.pieces;
    for (i = 0; i < c->count; i++) {
        sp.first[i] = np;
        sp.pre[i] = xg_protect_split(f, &e[i], pieces, &np);
        sp.cnt[i] = np - sp.first[i];
        rc = sp.pre[i] ? 0 : xg_protect_drop(f, &e[i], &sp, sp.first[i]);
        if (rc < 0) /* the pages dropped so far are restored */
            goto free_elems;
    }
    rc = np ? xg_hcall(c->op, pieces, np, NULL, 0) : 0;
    xg_protect_settle(f, pieces, &sp, np, rc < 0);
    if (rc < 0)
        goto free_elems;
    for (i = 0; i < c->count; i++) {
        e[i].status = sp.pre[i];
        for (j = sp.first[i]; j < sp.first[i] + sp.cnt[i]; j++)
            if (!e[i].status)
                e[i].status = pieces[j].status;
        ok += e[i].status == 0;
    }
    rc = copy_to_user(u64_to_user_ptr(c->args), e,
                      (size_t)c->count * d->arg_size)
             ? -EFAULT
             : ok;
free_elems:
    kvfree(e);
    return rc;
}

long xg_call(struct xg_file *f, void __user *uarg)
{
    struct gntx_xen_call c;
    struct gntx_op_shape d;

    if (copy_from_user(&c, uarg, sizeof(c)))
        return -EFAULT;
    if (c.count > GNTX_MAX_BATCH)
        return -E2BIG;
    if (gntx_op_shape(c.op, &d) < 0) /* grant_abi.h's table */
        return -EOPNOTSUPP;          /* unknown to this module: sizes unknown */
    if (c.op == GNTX_OP_IO)
        return -EOPNOTSUPP; /* grant I/O: Xen's hypervisor has no files */
    if (c.op == GNTX_OP_COPY || c.op == GNTX_OP_MEMSET)
        return xg_split_call(f, &c, &d);
    if (c.op == GNTX_OP_PROTECT)
        return xg_protect(f, &c, &d);
    if (c.op == GNTX_OP_MAP)
        return xg_map(f, &c); /* map.c: page addresses, not frames */
    return xg_plain(f, &c, &d);
}
